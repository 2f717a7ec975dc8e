"""Run a command inside a built image, with no Docker daemon.

The image is unpacked once per manifest digest into the cache (layers applied in order, OCI
whiteouts honoured, owners kept when we are root). A command runs in a bubblewrap sandbox whose
root is that tree, mounted read-only so that no run changes what the next one sees (like
``docker run --read-only``): writable tmpfs on /tmp, /run and /var/tmp, its own PID namespace,
fresh /proc and /dev, the host's network and DNS configuration, and the image's Env, WorkingDir
and Entrypoint. ``writable=True`` gives the command a private read-write copy of the tree
instead, thrown away afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from nixbuild.errors import NixbuildError
from nixbuild.tools.nixcmd import require
from nixbuild.oci.layout import OciLayout

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _inside(root: Path, name: str) -> Path:
    if ".." in Path(name).parts:
        raise NixbuildError(f"layer member {name!r} escapes the image root")
    return root / name.lstrip("/")


def apply_layer(root: Path, members) -> None:
    """Apply one layer's tar members onto ``root``."""
    as_root = os.geteuid() == 0
    directories: list[tuple[Path, tarfile.TarInfo]] = []
    for info, content in members:
        path = _inside(root, info.name)
        base = path.name
        if base == OPAQUE:
            for child in path.parent.iterdir():
                _remove(child)
            continue
        if base.startswith(WHITEOUT):
            _remove(path.with_name(base[len(WHITEOUT):]))
            continue
        if info.isdir():
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                _remove(path)
            path.mkdir(parents=True, exist_ok=True)
            directories.append((path, info))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove(path)
        if info.issym():
            os.symlink(info.linkname, path)
        elif info.islnk():
            os.link(_inside(root, info.linkname), path)
        elif info.isreg():
            with open(path, "wb") as f:
                shutil.copyfileobj(content, f)
        else:
            continue  # devices and fifos: bubblewrap provides /dev
        if as_root:
            os.lchown(path, info.uid, info.gid)
        if not info.issym():
            os.chmod(path, info.mode)
    # Directory modes last: a read-only directory would refuse its own children.
    for path, info in directories:
        if as_root:
            os.lchown(path, info.uid, info.gid)
        os.chmod(path, info.mode)


def unpack(layout: OciLayout, cache: Path) -> Path:
    """The image's root filesystem, unpacked once per manifest digest (atomically)."""
    descriptor = layout.manifest_descriptor()
    target = cache / "rootfs" / descriptor.digest.replace(":", "-")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        manifest = layout.manifest(descriptor)
        for layer, diff_id in layout.layers(manifest):
            apply_layer(tmp, layout.iter_layer(layer, diff_id))
        tmp.chmod(0o755)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def command_line(layout: OciLayout, root: Path, argv: list[str], *, writable: bool = False) -> list[str]:
    """The bubblewrap command that runs ``argv`` (or the image's default) in ``root``."""
    config = layout.config(layout.manifest()).config
    entrypoint = list(config.entrypoint or []) if config else []
    cmd = argv or (list(config.cmd or []) if config else [])
    program = entrypoint + cmd
    if not program:
        raise NixbuildError("the image has no Entrypoint or Cmd and no command was given",
                            fix="pass a command: nixbuild run APP -- CMD ...")
    bwrap = [require("bwrap", "bubblewrap"), "--bind" if writable else "--ro-bind", str(root), "/",
             "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
             "--die-with-parent", "--clearenv"]
    for scratch in ("/tmp", "/run", "/var/tmp"):
        bwrap += ["--tmpfs", scratch]
    if os.geteuid() != 0:
        bwrap += ["--unshare-user", "--uid", "0", "--gid", "0"]
    for host_file in ("/etc/resolv.conf", "/etc/hosts"):
        # A read-only root cannot grow the mount point, so only files the image has are replaced.
        if os.path.exists(host_file) and (writable or (root / host_file.lstrip("/")).exists()):
            bwrap += ["--ro-bind", host_file, host_file]
    for item in (config.env if config else None) or []:
        key, _, value = item.partition("=")
        bwrap += ["--setenv", key, value]
    bwrap += ["--setenv", "HOME", "/root", "--chdir", (config.working_dir if config else None) or "/"]
    return bwrap + ["--"] + program


def run(layout: OciLayout, argv: list[str], cache: Path, *, writable: bool = False) -> int:
    root = unpack(layout, cache)
    config = layout.config(layout.manifest()).config
    workdir = config.working_dir if config else None
    if workdir:
        # As runc does at container start: a WorkingDir the image lacks is created.
        (root / workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
    if not writable:
        return subprocess.call(command_line(layout, root, argv))
    with tempfile.TemporaryDirectory(prefix="run-", dir=cache) as scratch:
        copy = Path(scratch) / "root"
        shutil.copytree(root, copy, symlinks=True)
        return subprocess.call(command_line(layout, copy, argv, writable=True))
