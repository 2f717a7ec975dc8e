"""What of a local directory may enter an image: the rules every build context shares.

``add_local_dir``, ``add_local_python_source`` (a package's directory) and the ``COPY``/``ADD``
lines of ``dockerfile_commands`` take files from a directory of the host. Two things never come
along, whatever the ignore rules say:

* ``.nixbuild/``, at any depth: nixbuild's outputs and its default secrets folder
  (``Secret.from_name`` files), so a secret can never be copied into a layer by ``add_local_dir(".")``;
* whatever a symlink reaches outside the directory. A link to a file inside it is followed (as
  Modal does for ``add_local_dir``; Docker scopes ``COPY`` sources to the context the same
  way); a link that leads out is refused, naming it, so ``ln -s ~/.ssh/id_rsa key`` next to
  the app can never put a host file into an image.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from nixbuild.api.secret import NIXBUILD_DIR
from nixbuild.errors import InvalidError


def is_private(rel: str | PurePosixPath) -> bool:
    """Whether a path relative to a context lies in (or is) a ``.nixbuild`` folder."""
    return NIXBUILD_DIR in PurePosixPath(rel).parts


def real_relative(path: str | os.PathLike[str], top: str | os.PathLike[str]) -> str | None:
    """Where ``path`` really is (every link followed), relative to ``top``'s real location;
    ``None`` when that is outside ``top``."""
    real, root = os.path.realpath(path), os.path.realpath(top)
    if real == root:
        return "."
    prefix = root.rstrip("/") + "/"
    return real[len(prefix):] if real.startswith(prefix) else None


def link_outside(rel: str, top: str | os.PathLike[str]) -> InvalidError:
    """The refusal of ``rel`` (relative to ``top``), which a symlink on its way leads out of ``top``."""
    link, parts = rel, PurePosixPath(rel).parts
    for depth in range(1, len(parts) + 1):  # the first component that is a link is the culprit
        if os.path.islink(os.path.join(top, *parts[:depth])):
            link = "/".join(parts[:depth])
            break
    full = os.path.join(top, link)
    target = os.readlink(full) if os.path.islink(full) else "?"
    return InvalidError(
        f"symlink {link!r} in {str(top)!r} points outside it (to {target!r}, that is {os.path.realpath(full)!r});"
        " nixbuild never follows a link out of a build context",
        fix=f"replace {link} with a copy of what it points to, ignore it (ignore= / .dockerignore), "
            "or add the directory it points into instead")


def private_path(path: str | os.PathLike[str]) -> InvalidError:
    return InvalidError(
        f"local path {str(path)!r} is inside a {NIXBUILD_DIR}/ folder (nixbuild's outputs and secrets), "
        "which never enters an image",
        fix=f"keep the files for the image outside {NIXBUILD_DIR}/; pass secrets with secrets= instead")
