"""skopeo, through subprocess: push an OCI layout, export a docker-archive, inspect."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

from pydantic import BaseModel

from nixbuild.errors import BuildError, InvalidError, NixbuildError, RegistryError
from nixbuild.tools.nixcmd import require


class PushResult(BaseModel):
    destination: str
    digest: str
    uploaded: list[str]
    skipped: list[str]


def _skopeo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([require("skopeo", "skopeo"), *args], capture_output=True, text=True)


def _fail(what: str, proc: subprocess.CompletedProcess, fix: str,
          kind: type[NixbuildError] = RegistryError) -> NixbuildError:
    return kind(f"{what} failed: {proc.stderr.strip() or proc.stdout.strip()}", fix=fix)


def is_local(destination: str) -> bool:
    host = destination.removeprefix("docker://").split("/", 1)[0]
    return host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")


def push(layout: Path, ref: str, destination: str, *, tls_verify: bool | None = None) -> PushResult:
    """Copy ``oci:layout:ref`` to ``destination`` (``docker://HOST/REPO:TAG``).

    TLS verification is on except for registries on the loopback address, unless told.
    """
    if not destination.startswith("docker://"):
        raise InvalidError(f"unsupported destination {destination!r}", fix="use docker://HOST/REPO:TAG")
    verify = (not is_local(destination)) if tls_verify is None else tls_verify
    with tempfile.TemporaryDirectory() as tmp:
        digest_file = Path(tmp) / "digest"
        # --debug is the only output that says which blobs the registry already had.
        # --preserve-digests: without it skopeo may push, in place of a layer, another blob of
        # the same tar that the registry already has (a gzip one for a zstd one: its blob info
        # cache knows both), rewriting the manifest, so the pushed digest is not the built one.
        proc = _skopeo("--debug", "copy", "--preserve-digests", "--digestfile", str(digest_file),
                       f"--dest-tls-verify={str(verify).lower()}", f"oci:{layout}:{ref}", destination)
        if proc.returncode != 0:
            raise _fail(f"push to {destination}", proc,
                        "check that the registry is running and reachable; for a local registry without "
                        "TLS, pass --no-tls-verify")
        digest = digest_file.read_text().strip()
    log = proc.stdout + proc.stderr
    skipped = re.findall(r"Skipping blob (sha256:[0-9a-f]+) \(already present\)", log)
    uploaded = [d for d in dict.fromkeys(re.findall(r"Copying blob (sha256:[0-9a-f]+)", log)) if d not in skipped]
    return PushResult(destination=destination, digest=digest, uploaded=uploaded, skipped=skipped)


def inspect_remote(reference: str, *, tls_verify: bool | None = None) -> dict:
    verify = (not is_local(reference)) if tls_verify is None else tls_verify
    proc = _skopeo("inspect", f"--tls-verify={str(verify).lower()}", reference)
    if proc.returncode != 0:
        raise _fail(f"skopeo inspect {reference}", proc, "check the reference and that the registry is up")
    return json.loads(proc.stdout)


def export_docker_archive(layout: Path, ref: str, dest: Path, tag: str) -> Path:
    """Write a docker-archive (for ``docker load``) atomically at ``dest``, its image tagged
    ``tag`` (``NAME:TAG``)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.unlink(missing_ok=True)
    proc = _skopeo("copy", f"oci:{layout}:{ref}", f"docker-archive:{tmp}:{tag}")
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise _fail("docker-archive export", proc, "check free disk space", BuildError)
    tmp.replace(dest)
    return dest
