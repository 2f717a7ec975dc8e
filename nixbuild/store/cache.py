"""``nixbuild cache push``: fill a Nix binary cache with everything an app's images need.

What goes: the build closure of each image's derivation with the outputs this store has
(``nix-store --query --requisites --include-outputs``), less the ``.drv`` files: the image,
its layers, every intermediate output (bootstrap toolchain, unpacked roots) and every
fixed-output input (the .debs, wheels and sdists, the busybox seed, the local file trees).
A machine that trusts the cache then builds the same lock with no download and no build:
Nix substitutes fixed-output paths by their hash whatever URL the lock names. ``nix copy
--to DEST`` does the copy (``file://``, ``http(s)://``, ``s3://``, ``ssh://`` as Nix
supports); with a signing key (``nix-store --generate-binary-cache-key``) each path is signed
on the way (the store parameter ``secret-key``), and consumers trust its public key through
``NIXBUILD_TRUSTED_PUBLIC_KEYS``. NARs are zstd-compressed unless DEST says otherwise
(``?compression=...``): xz, Nix's default, costs minutes on layers that are gzip already.
"""

from __future__ import annotations

import subprocess
import urllib.parse
from pathlib import Path

from pydantic import BaseModel

from nixbuild import plan
from nixbuild.build import Progress, Project
from nixbuild.errors import BuildError, InvalidError
from nixbuild.tools import nixcmd

SCHEMES = ("file", "http", "https", "s3", "ssh", "ssh-ng")


class CachePush(BaseModel):
    """What ``cache push`` copied (``--json``)."""

    destination: str  # as given, without the signing key
    images: dict[str, str]  # image name -> manifest digest
    paths: int
    signed: bool


def destination_url(dest: str, sign_key: Path | None) -> str:
    """DEST with the signing key and zstd compression as store parameters (bad DEST: one error)."""
    parsed = urllib.parse.urlsplit(dest)
    if parsed.scheme not in SCHEMES:
        raise InvalidError(f"{dest!r} is not a binary cache URL nixbuild can push to",
                            fix="give file:///DIR, http(s)://HOST/PATH, s3://BUCKET or ssh://HOST")
    params = urllib.parse.parse_qsl(parsed.query)
    names = {k for k, _v in params}
    if "secret-key" in names:
        raise InvalidError("DEST names a secret-key itself", fix="give the key file with --sign-key FILE")
    if sign_key is not None:
        if not sign_key.is_file():
            raise InvalidError(f"signing key {sign_key} is not a file",
                                fix="make one with `nix-store --generate-binary-cache-key NAME SECRET PUBLIC`")
        params.append(("secret-key", str(sign_key.resolve())))
    if "compression" not in names:
        params.append(("compression", "zstd"))
    return urllib.parse.urlunsplit(parsed._replace(query=urllib.parse.urlencode(params, safe="/:")))


def needed_paths(derivations: list[str], store: str | None = None) -> list[str]:
    """The outputs and sources in the build closure of ``derivations`` that the store has."""
    where = ["--store", store] if store else []
    proc = subprocess.run([nixcmd.require("nix-store", "nix-bin"), *where, "--query", "--requisites",
                           "--include-outputs", *derivations], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"listing the build closure failed: {proc.stderr.strip()}")
    return [p for p in proc.stdout.split() if not p.endswith(".drv")]


def copy(paths: list[str], url: str, store: str | None = None) -> None:
    """``nix copy --to URL PATHS`` (from ``store``, else the default store)."""
    cmd = [nixcmd.require("nix", "nix-bin"), "--extra-experimental-features", "nix-command", "copy",
           "--to", url, *(["--from", store] if store else []), *paths]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        shown = urllib.parse.urlsplit(url)._replace(query="").geturl()
        raise BuildError(f"nix copy to {shown} failed:\n{proc.stderr.strip()[-3000:]}",
                         fix="check that the cache is reachable and writable (and the key file readable)")


def push(project: Project, dest: str, sign_key: Path | None = None,
         progress: Progress = lambda _m: None) -> CachePush:
    """Build the app's images from its lock (frozen) and copy everything they need to DEST."""
    url = destination_url(dest, sign_key)
    built = project.build(frozen=True, progress=progress)
    lock = project.lock(frozen=True)
    derivations = [nixcmd.instantiate(plan.write_spec(project.spec(item.name, lock), project.settings),
                                      project.store) for item in built]
    paths = needed_paths(derivations, project.store)
    progress(f"copying {len(paths)} store paths to {urllib.parse.urlsplit(dest)._replace(query='').geturl()}")
    copy(paths, url, project.store)
    return CachePush(destination=dest, images={b.name: b.manifest_digest for b in built}, paths=len(paths),
                     signed=sign_key is not None)
