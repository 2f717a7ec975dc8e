"""Run a command inside a built image, with no Docker daemon.

The image is unpacked once per manifest digest into the cache (layers applied in order, OCI
whiteouts honoured, owners kept when we are root). A command runs in a bubblewrap sandbox whose
root is that tree, mounted read-only so that no run changes what the next one sees (like
``docker run --read-only``): writable tmpfs on /tmp, /run and /var/tmp, fresh /proc and /dev,
and the image's Env, WorkingDir and Entrypoint. It is a container, not a root shell: always a
user namespace (uid 0 inside, no capability over the host even when nixbuild runs as root),
its own PID, IPC, UTS and network namespaces (no network but loopback unless
``network="host"``, Docker's word, which also brings the host's DNS configuration), a new
session, and it dies with nixbuild. ``writable=True`` gives the command a private read-write
copy of the tree instead, thrown away afterwards (the image's own /tmp and /run, as a plain
``docker run``).

Every path of the image is resolved inside the unpacked root (``rootfs``), never through the
host's view of the image's symlinks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from nixbuild.errors import InvalidError
from nixbuild.tools.nixcmd import require
from nixbuild.oci.layout import OciLayout
from nixbuild.oci.rootfs import apply_whiteout, discard, relative, remove, resolve_in_root


def apply_layer(root: Path, members) -> None:
    """Apply one layer's tar members onto ``root``, every path resolved inside it (rootfs)."""
    as_root = os.geteuid() == 0
    directories: list[tuple[str, tarfile.TarInfo]] = []
    for info, content in members:
        if apply_whiteout(root, info.name) is not None:
            continue
        path = resolve_in_root(root, info.name, follow=False)
        if not relative(root, path):
            continue  # the root itself: its mode is set once unpacked
        if info.isdir():
            if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
                remove(path)
            os.makedirs(path, exist_ok=True)
            directories.append((path, info))
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        remove(path)
        if info.issym():
            os.symlink(info.linkname, path)
        elif info.islnk():
            os.link(resolve_in_root(root, info.linkname, follow=False), path, follow_symlinks=False)
        elif info.isreg():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with open(fd, "wb") as f:
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


# Unpacked images are a cache of what the store holds, each a whole image tree: beyond the most
# recently used ROOTFS_KEPT, one unused for RECENT_S (no container can still be starting from
# it) is removed when another image is unpacked, so repeated builds do not fill the disk.
ROOTFS_KEPT = 8
RECENT_S = 600


def evict(folder: Path, keep: Path, now: float | None = None) -> list[Path]:
    """Remove the unpacked images of ``folder`` the rule above lets go (never ``keep``)."""
    now = time.time() if now is None else now
    entries = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    gone = [p for p in entries[ROOTFS_KEPT:] if p != keep and now - p.stat().st_mtime > RECENT_S]
    for path in gone:
        discard(path)
    return gone


def unpack(layout: OciLayout, cache: Path) -> Path:
    """The image's root filesystem, unpacked once per manifest digest (atomically); its
    mtime says when it was last used (see :func:`evict`)."""
    descriptor = layout.manifest_descriptor()
    target = cache / "rootfs" / descriptor.digest.replace(":", "-")
    if target.exists():
        os.utime(target)
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
    evict(target.parent, target)
    return target


NETWORKS = ("none", "host")
# The image's own /etc/hosts is hidden by this one when there is no network (as Docker writes
# one): localhost resolves, and nothing of the host's names shows.
LOOPBACK_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def _in_image(root: Path, path: str) -> str:
    """``path`` as the image sees it, its symlinks followed inside the image (bubblewrap
    would follow them on the host while it sets up the mounts)."""
    return "/" + relative(root, resolve_in_root(root, path))


def _loopback_hosts(cache: Path) -> Path:
    path = cache / "run" / "hosts"
    if not path.exists() or path.read_text() != LOOPBACK_HOSTS:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as f:
            f.write(LOOPBACK_HOSTS)
        os.chmod(f.name, 0o644)
        os.replace(f.name, path)
    return path


def command_line(layout: OciLayout, root: Path, argv: list[str], cache: Path, *, writable: bool = False,
                 network: str = "none") -> list[str]:
    """The bubblewrap command that runs ``argv`` (or the image's default) in ``root``.

    Always a user namespace (uid 0 inside, no capability over the host, also when nixbuild
    runs as root), new PID, IPC, UTS and network namespaces (``network="host"`` keeps the
    host's network), a new session (no access to the terminal's job control) and a child
    that dies with nixbuild.
    """
    if network not in NETWORKS:
        raise InvalidError(f"unknown network {network!r}", fix="use --network none (the default) or --network host")
    config = layout.config(layout.manifest()).config
    entrypoint = list(config.entrypoint or []) if config else []
    cmd = argv or (list(config.cmd or []) if config else [])
    program = entrypoint + cmd
    if not program:
        raise InvalidError("the image has no Entrypoint or Cmd and no command was given",
                            fix="pass a command: nixbuild run APP -- CMD ...")
    bwrap = [require("bwrap", "bubblewrap"), "--bind" if writable else "--ro-bind", str(root), "/",
             "--dev", "/dev", "--proc", "/proc", "--unshare-user", "--uid", "0", "--gid", "0",
             "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--new-session", "--die-with-parent",
             "--clearenv"]
    if network == "none":
        bwrap.append("--unshare-net")
    if not writable:
        # A read-only root: scratch space where programs expect to write (as podman --read-only).
        for scratch in ("/tmp", "/run", "/var/tmp"):
            if (root / _in_image(root, scratch).lstrip("/")).is_dir():
                bwrap += ["--tmpfs", _in_image(root, scratch)]
    name_files = {"/etc/resolv.conf": Path("/etc/resolv.conf"), "/etc/hosts": Path("/etc/hosts")} \
        if network == "host" else {"/etc/hosts": _loopback_hosts(cache)}
    for dest, source in name_files.items():
        target = _in_image(root, dest)
        # A read-only root cannot grow the mount point, so only files the image has are replaced.
        if source.exists() and (writable or (root / target.lstrip("/")).is_file()):
            bwrap += ["--ro-bind", str(source), target]
    for item in (config.env if config else None) or []:
        key, _, value = item.partition("=")
        bwrap += ["--setenv", key, value]
    bwrap += ["--setenv", "HOME", "/root", "--chdir", (config.working_dir if config else None) or "/"]
    return bwrap + ["--"] + program


def run(layout: OciLayout, argv: list[str], cache: Path, *, writable: bool = False, network: str = "none") -> int:
    root = unpack(layout, cache)
    config = layout.config(layout.manifest()).config
    workdir = config.working_dir if config else None
    if workdir:
        # As runc does at container start: a WorkingDir the image lacks is created (inside it).
        os.makedirs(resolve_in_root(root, workdir), exist_ok=True)
    if not writable:
        return subprocess.call(command_line(layout, root, argv, cache, network=network))
    with tempfile.TemporaryDirectory(prefix="run-", dir=cache) as scratch:
        copy = Path(scratch) / "root"
        shutil.copytree(root, copy, symlinks=True)
        return subprocess.call(command_line(layout, copy, argv, cache, writable=True, network=network))
