"""An image's root filesystem on disk: paths resolved inside the root, OCI whiteouts, removal.

A path of an image means what it means inside the container, as a chroot sees it: every
component is looked up under the root, a symlink of the image is followed there (an absolute
target counts from the root, a relative one from the link's directory) and ``..`` at the root
stays at the root. Joining the name onto the root instead (``os.path.join(root, name)``) lets
the host's kernel follow the image's links: with the base's ``var/run -> /run``, a layer file
``var/run/x.cfg`` would be written to the host's own ``/run/x.cfg``.

Both sides that write an image's files use this one module: the CLI (``nixbuild run``
unpacks images, ``nixbuild/oci/runner.py``) and the builder scripts in the Nix sandbox
(``nix/builders/run_layer.py``), which run on the bootstrap Python and cannot import
``nixbuild``: their derivations get this file as an input (``nix/bootstrap.nix``) and import
it as ``rootfs``. Hence: the standard library only, Python 3.11 (tests/layout checks it).
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil

WHITEOUT = ".wh."  # OCI: a member ``dir/.wh.name`` deletes ``dir/name`` of the layers below
OPAQUE = ".wh..wh..opq"  # OCI: a member ``dir/.wh..wh..opq`` empties ``dir`` of the layers below
MAX_LINKS = 40  # symlinks followed for one path before giving up, as Linux's ELOOP limit


def resolve_in_root(root: str | os.PathLike, name: str, *, follow: bool = True) -> str:
    """The host path of the image path ``name`` (absolute or not) inside ``root``.

    Every component that is a symlink on disk is followed inside the root; the last one only
    when ``follow`` (a tar member or a whiteout names the entry itself, not where it points).
    The result is always ``root`` or below it, and none of its components below ``root`` is a
    symlink except, with ``follow=False``, the last. Components that do not exist (yet) are
    taken as they are.
    """
    root = os.path.abspath(root)
    parts: list[str] = []  # resolved components below root
    todo = [p for p in name.split("/") if p][::-1]  # a stack: the next component last
    links = 0
    while todo:
        part = todo.pop()
        if part == ".":
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        path = os.path.join(root, *parts, part)
        if (todo or follow) and os.path.islink(path):
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, f"too many levels of symbolic links in the image path {name!r}")
            target = os.readlink(path)
            if target.startswith("/"):
                parts = []
            todo.extend(p for p in reversed(target.split("/")) if p)
            continue
        parts.append(part)
    return os.path.join(root, *parts)


def relative(root: str | os.PathLike, path: str) -> str:
    """``path`` (a result of :func:`resolve_in_root`) as an image path without a leading
    slash; ``""`` for the root itself."""
    rel = os.path.relpath(path, os.path.abspath(root))
    return "" if rel == "." else rel


def whiteout(name: str) -> tuple[str, str | None] | None:
    """For an OCI whiteout member: (its directory, the name it deletes there), the name None
    for an opaque whiteout (everything in the directory). None for any other member."""
    parent, base = posixpath.split(name.rstrip("/"))
    if base == OPAQUE:
        return parent, None
    if base.startswith(WHITEOUT):
        return parent, base[len(WHITEOUT):]
    return None


def remove(path: str) -> None:
    """Delete what is at ``path`` (never through a symlink); a tree even with read-only
    directories in it (an unprivileged unpacker could not delete their children)."""
    if os.path.isdir(path) and not os.path.islink(path):
        for top, dirs, _files in os.walk(path):
            for d in dirs:
                full = os.path.join(top, d)
                if not os.path.islink(full):
                    os.chmod(full, 0o700)
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def discard(path: str | os.PathLike) -> None:
    """Remove a scratch tree (see :func:`remove`) in a cleanup: what cannot be removed stays,
    and never hides the error the cleanup follows."""
    try:
        remove(os.fspath(path))
    except OSError:
        pass


def apply_whiteout(root: str | os.PathLike, name: str) -> list[str] | None:
    """Apply the member ``name`` when it is a whiteout: the image paths it removed (relative,
    as :func:`relative` gives them; the directory's former children for an opaque one). None
    when ``name`` is not a whiteout: the caller unpacks it."""
    found = whiteout(name)
    if found is None:
        return None
    parent, gone = found
    directory = resolve_in_root(root, parent)
    if gone is None:
        names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    else:
        names = [gone] if os.path.lexists(os.path.join(directory, gone)) else []
    removed = []
    for child in names:
        path = os.path.join(directory, child)
        remove(path)
        removed.append(relative(root, path))
    return removed
