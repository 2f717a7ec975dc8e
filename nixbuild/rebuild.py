"""Which rebuild the user asked for, from Modal's variables (and nixbuild's aliases).

Modal's reference names two: ``MODAL_FORCE_BUILD=1`` rebuilds every image, and
``MODAL_IGNORE_CACHE=1`` rebuilds without touching the cache. CI scripts written for Modal set
those names, so they are read here; ``NIXBUILD_FORCE_BUILD`` / ``NIXBUILD_IGNORE_CACHE`` are
aliases. A value must be a plain boolean: a typo (``MODAL_FORCE_BUILD=ture``) is an error that
names the variable, raised when the settings are read, before anything is locked or built.

A rebuild's fresh result is compared with the kept one here too: a re-run network step whose
output differs from its pin, and an IGNORE_CACHE image that differs from the cached one, are
explained file by file, as ``nixbuild check`` does.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nixbuild.errors import InvalidError
from nixbuild.oci.layout import OciLayout
from nixbuild.tools import nixcmd

TRUE = ("1", "true", "yes")
FALSE = ("0", "false", "no")
# Each setting and the variables that set it, Modal's name first.
FORCE_BUILD = ("MODAL_FORCE_BUILD", "NIXBUILD_FORCE_BUILD")
IGNORE_CACHE = ("MODAL_IGNORE_CACHE", "NIXBUILD_IGNORE_CACHE")


class Rebuild(BaseModel):
    """``force_build``: every step runs again and its fresh result is the one kept.
    ``ignore_cache``: every step runs again, but nothing kept is replaced."""

    model_config = ConfigDict(frozen=True)

    force_build: bool = False
    ignore_cache: bool = False


def flag(name: str, value: str) -> bool:
    """A boolean variable's value (``1/0/true/false/yes/no``, any case; empty is false)."""
    text = value.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE or text == "":
        return False
    raise InvalidError(f"{name}={value!r} is neither true nor false",
                       fix=f"set {name} to 1 (or true/yes) or 0 (or false/no), or unset it")


def _any(names: tuple[str, ...], environ: Mapping[str, str]) -> bool:
    # Every set variable is parsed, so a bad alias is reported even when the other is set.
    values = [flag(name, environ[name]) for name in names if name in environ]
    return any(values)


def from_env(environ: Mapping[str, str] | None = None) -> Rebuild:
    environ = os.environ if environ is None else environ
    return Rebuild(force_build=_any(FORCE_BUILD, environ), ignore_cache=_any(IGNORE_CACHE, environ))


def fresh_differs(cached_link: Path, fresh: Path) -> str | None:
    """How a fresh image differs from the one ``cached_link`` points at (None: the same, or
    nothing cached)."""
    if not cached_link.exists() or cached_link.resolve() == fresh:
        return None
    from nixbuild.oci.diff import compare  # only under MODAL_IGNORE_CACHE: not on every start-up

    report = compare(OciLayout(cached_link.resolve()), OciLayout(fresh))
    if report.identical:
        return None
    return f"the fresh image differs from the cached one ({cached_link}):\n" + report.render()


def changed_files(drv: str, got: str, index: int, previous_image: Path) -> str:
    """The files in which a re-run network step's output (registered by Nix under the hash it
    got, though it did not match the pin) differs from the pinned output that the previous
    image at ``previous_image`` holds; empty when either is not in this store."""
    name = Path(drv).name[33:].removesuffix(".drv")
    store = nixcmd.require("nix-store", "nix-bin")
    fresh = subprocess.run([store, "--print-fixed-path", "--recursive", "sha256", got, name],
                           capture_output=True, text=True).stdout.strip()
    layer = re.compile(rf"-layer-\d+-{index}-[a-z_]+(?:-forced-[0-9a-f]+)?$")
    pinned = []
    if previous_image.exists():
        pinned = [p for p in subprocess.run([store, "--query", "--references", str(previous_image.resolve())],
                                            capture_output=True, text=True).stdout.split() if layer.search(p)]
    if not fresh or not pinned or not nixcmd.is_valid(fresh):
        return ""
    from nixbuild.oci.diff import compare_tars, file_lines  # only on a changed network output

    files = compare_tars(Path(pinned[0]) / "layer.tar.gz", Path(fresh) / "layer.tar.gz")
    if not files:
        return ""
    return "\nfiles that differ from the pinned output (- pinned, + fresh):\n" + "\n".join(file_lines(files, "  "))
