"""Builder: an image layer made by running shell commands in the image built so far
(run_commands).

Passes:
1. Unpack the lower layers (a deb layer's tar written again from its tree: layer_tar), in
   order and honouring OCI whiteouts, into a scratch folder
   (/dev/shm in Nix's sandbox when it has room, else ``$TMPDIR/root``: :func:`scratch`),
   keeping an index of what each path was (type, owner, mode, size, link target). The
   sandbox user cannot own files as other users or set setuid bits, so owners and special
   bits live only in the index; every unpacked file gets mtime SOURCE_DATE_EPOCH.
   A command or Python step gets its lower layers as trees unpacked once (``trees``,
   layer_tree.py) and stacks them with overlayfs instead, where they allow it (overlay.py: a
   layer that deletes from the layers below it cannot be a lower folder).
2. Run each command as ``<shell> <command>`` (``/bin/sh -c`` by default) as fake root in a
   user-namespace chroot of that tree (busybox ``unshare -r -m``), with the host's /dev and
   /proc bound in and a fresh tmpfs on /tmp, the image's environment plus the step's, and
   the working directory of the chain. The Nix sandbox around it has no network.
3. The layer is the difference: paths that are new, or whose type, mode, size, mtime, inode or
   link target changed, with their unchanged owners and special bits taken back from the
   index; ``.wh.<name>`` whiteouts for paths that are gone (the topmost one only). Stacked,
   the overlay's upper directory is that difference (overlay.diff).

Input: ``$layerSpecPath`` (JSON: lower, trees (optional), busybox, commands, env, workdir,
shell, createdBy, epoch). Output in ``$out``: ``layer.tar.gz`` and ``layer.json`` (a Python
step: its tree instead, run_tree.py).
"""

from __future__ import annotations

import atexit
import gzip
import json
import os
import posixpath
import shlex
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass

import overlay
from layertar import PACKED, Entry, directory, members, run_builder, symlink, write_layer_dir, write_tar

# rootfs.py (nixbuild/oci/rootfs.py, shared with the CLI) comes as an input of its own; the
# unit tests put its folder on sys.path themselves.
if os.environ.get("sharedModules"):
    sys.path.insert(0, os.environ["sharedModules"])
import rootfs  # noqa: E402
from rootfs import WHITEOUT  # noqa: E402

# Mount points of the command's chroot: their contents never belong in a layer. /nix/store
# is bound in (read-only) only for steps that install store inputs, such as wheels.
MOUNTS = ("dev", "proc", "tmp", "nix")
# What the sandbox user may set (no setuid/setgid: seccomp refuses them).
SETTABLE = overlay.SETTABLE
# Name resolution files of a fixed-output (network) build's sandbox.
NETWORK_FILES = ("etc/resolv.conf", "etc/hosts")
# What a GPU builder's pre-build hook (nix/gpu-hook.sh, NixOS's nix-required-mounts) binds into
# the sandbox of a derivation requiring cuda/gpu besides /dev/nvidia* (which come with /dev):
# the driver's libraries, and the store paths they may link to. A gpu= step's commands get
# those present in the sandbox at the same paths in their chroot; other steps never do.
GPU_FEATURES = ("cuda", "gpu")
GPU_PATHS = ("/run/opengl-driver", "/nix/store")


@dataclass
class Was:
    """A path as the lower layers left it, and how it looks on disk after unpacking."""

    info: tarfile.TarInfo
    fingerprint: tuple


def fingerprint(path: str) -> tuple:
    st = os.lstat(path)
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return (stat.S_IFMT(st.st_mode), st.st_mode & 0o7777, st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
            st.st_mtime_ns, st.st_ino, link)


def _forget(index: dict[str, Was], path: str) -> None:
    prefix = path + "/"
    for key in [k for k in index if k == path or k.startswith(prefix)]:
        del index[key]


def _piped(write):
    """A stream of what ``write(sink)`` writes, written by a thread while the caller reads
    (zlib and file writes release the GIL), so that making the tar overlaps unpacking it and
    the tar never lands on disk."""
    read_fd, write_fd = os.pipe()
    thread = threading.Thread(daemon=True)
    thread.error = None  # what stopped ``write``: the reader raises it (a cut tar may read as whole)

    def pump() -> None:
        with os.fdopen(write_fd, "wb") as sink:
            try:
                write(sink)
            except BrokenPipeError:
                pass  # the reader stopped early (it failed): its error is the one to see
            except BaseException as error:
                thread.error = error

    thread.run = pump
    thread.start()
    return os.fdopen(read_fd, "rb", buffering=1 << 20), thread


def _gunzip(layer_tar: str):
    """A writer of the tar inside ``layer_tar`` (a .tar.gz), for :func:`_piped`."""
    def write(sink) -> None:
        with gzip.open(layer_tar, "rb") as gz:
            while chunk := gz.read(1 << 20):
                sink.write(chunk)
    return write


def unpack(layer_tar: str | Callable, root: str, index: dict[str, tarfile.TarInfo], epoch: int,
           whiteouts: list[str] | None = None) -> None:
    """Apply one layer (``.tar.gz``, a plain ``.tar``, or ``write(sink)`` writing the tar)
    onto ``root``, updating ``index`` (path -> tar header). With ``whiteouts`` given,
    whiteout members are listed there instead of applied (layer_tree.py: a layer's own tree,
    which cannot delete from the layers below).

    Every member is resolved inside the root (rootfs.resolve_in_root: the image's symlinks
    followed as a chroot would, ``..`` stopping at the root), and ``index`` is keyed by where
    it landed, which is what ``diff`` walks: through the base's ``var/run -> /run``, a member
    ``var/run/x`` is the file ``run/x``.
    """
    if callable(layer_tar):
        stream, thread = _piped(layer_tar)
    elif layer_tar.endswith(".gz"):
        stream, thread = _piped(_gunzip(layer_tar))
    else:
        stream, thread = open(layer_tar, "rb", buffering=1 << 20), None
    umask = os.umask(0)  # os.open below creates files with the layer's permission bits
    try:
        made_dirs: set[str] = set()  # parents known to exist: no mkdir call per entry
        # Where each member's folder resolved to (member folder -> host folder): members come
        # folder by folder, and resolving each path again took an lstat per component. Valid
        # until something is removed or a symlink made (either may change a resolution).
        resolved: dict[str, str] = {}
        with stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in tar:
                if whiteouts is not None and rootfs.whiteout(info.name) is not None:
                    whiteouts.append(info.name)
                    continue
                removed = rootfs.apply_whiteout(root, info.name)
                if removed is not None:
                    for gone in removed:
                        _forget(index, gone)
                    made_dirs.clear()
                    resolved.clear()
                    continue
                folder, base = posixpath.split(info.name)
                if base not in ("", ".", "..") and folder in resolved:
                    path = os.path.join(resolved[folder], base)
                else:
                    path = rootfs.resolve_in_root(root, info.name, follow=False)
                    if base not in ("", ".", ".."):
                        resolved[folder] = os.path.dirname(path)
                name = rootfs.relative(root, path)
                if not name:
                    continue  # the root itself
                parent = posixpath.dirname(name)
                if parent not in made_dirs:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    made_dirs.add(parent)
                exists = name in index or os.path.lexists(path)
                if info.isdir():
                    if exists and not (os.path.isdir(path) and not os.path.islink(path)):
                        rootfs.remove(path)
                        resolved.clear()
                    os.makedirs(path, exist_ok=True)
                    os.chmod(path, (info.mode & SETTABLE) | 0o700)  # we must be able to write into it
                    made_dirs.add(name)
                else:
                    if exists:
                        rootfs.remove(path)
                        _forget(index, name)
                        made_dirs.clear()
                        resolved.clear()
                    if info.issym():
                        os.symlink(info.linkname, path)
                        resolved.clear()
                    elif info.islnk():
                        os.link(rootfs.resolve_in_root(root, info.linkname, follow=False), path,
                                follow_symlinks=False)
                    elif info.isreg():
                        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                                     (info.mode & SETTABLE) | 0o600)
                        with open(fd, "wb", closefd=True) as f:
                            shutil.copyfileobj(tar.extractfile(info), f, 1 << 20)
                        if info.mode & 0o1000:  # a sticky bit is only set by chmod
                            os.chmod(path, (info.mode & SETTABLE) | 0o600)
                    else:
                        continue  # device nodes cannot be made here; /dev is bound in
                if not info.islnk():
                    os.utime(path, (epoch, epoch), follow_symlinks=False)
                index[name] = info
            # tarfile stops at the end-of-archive block; the writer of a piped tar still pads
            # it out, and must get to the end (a tar cut short by the reader would look failed).
            while stream.read(1 << 16):
                pass
    finally:
        os.umask(umask)
    if thread is not None:
        thread.join()
        if thread.error is not None:
            raise thread.error


def placeable(entries: dict[str, Entry], root: str) -> bool:
    """Whether :func:`place` gives what :func:`unpack` of the tar of ``entries`` gives on
    ``root``: ``root`` is empty, and every member :func:`lands` at the path it names."""
    return lands(entries) and not os.listdir(root)


def lands(entries: dict[str, Entry]) -> bool:
    """Whether every member of ``entries`` lands at the path it names (no folder on its way is
    a symlink or a file of ``entries``), and none is a whiteout or a device."""
    folders: set[str] = {""}  # folders every member below which lands at its own path
    for path, entry in entries.items():
        folder = posixpath.dirname(path)
        while folder not in folders:
            above = entries.get(folder)
            if above is not None and not above.info.isdir():
                return False
            folders.add(folder)
            folder = posixpath.dirname(folder)
        info = entry.info
        if not path or rootfs.whiteout(path) is not None or not (
                info.isdir() or info.isfile() or info.issym() or info.islnk()):
            return False
    return True


def place(entries: dict[str, Entry], root: str, index: dict[str, tarfile.TarInfo], epoch: int) -> None:
    """:func:`unpack` of the tar of ``entries`` (layertar.members) onto ``root``, where
    :func:`placeable`, without writing and parsing that tar: each member is made from its
    entry, as unpack makes it, and ``index`` gets its header as unpack would read it. On
    debian_slim's base (20,000 members) the tar's writing and parsing were about half of each
    of the base's two unpacks."""
    umask = os.umask(0)  # modes as unpack gives them
    try:
        made: set[str] = {""}
        for info, content in members(entries, epoch):
            place_member(root, info, content, epoch, made)
            index[info.name] = parsed(info)
    finally:
        os.umask(umask)


def place_member(root: str, info: tarfile.TarInfo, content: Entry | None, epoch: int, made: set[str]) -> None:
    """One member of :func:`place` (its header and the entry with its bytes), made at its path
    in ``root`` where nothing is; ``made``: the folders known to be there, which it adds to.
    The caller sets the umask to 0."""
    name = info.name
    path = os.path.join(root, name)
    parent = posixpath.dirname(name)
    if parent not in made:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        made.add(parent)
    if info.isdir():
        os.makedirs(path, exist_ok=True)
        os.chmod(path, (info.mode & SETTABLE) | 0o700)
        made.add(name)
    elif info.issym():
        os.symlink(info.linkname, path)
    elif info.islnk():
        os.link(os.path.join(root, info.linkname), path, follow_symlinks=False)
    else:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, (info.mode & SETTABLE) | 0o600)
        with open(fd, "wb", closefd=True) as f:
            if content.data is not None:
                f.write(content.data)
            elif content.source is not None:
                with open(content.source, "rb") as source:
                    shutil.copyfileobj(source, f, 1 << 20)
        if info.mode & 0o1000:  # a sticky bit is only set by chmod
            os.chmod(path, (info.mode & SETTABLE) | 0o600)
    if not info.islnk():
        os.utime(path, (epoch, epoch), follow_symlinks=False)


def parsed(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """``info`` as reading it back from the tar gives it (only the mode's low 12 bits are written)."""
    info.mode &= 0o7777
    return info


# A root unpacked on the sandbox's /dev/shm (overlay.SHM) never reaches the disk, where
# deleting an unpacked debian_slim with the build folder made the next builder's file writes
# take twice as long (the tree of the base layer: 13 s instead of 7; why:
# layer_tree.make_tree_folder).
SHM = overlay.SHM


def scratch(room: int) -> str:
    """A new folder for ``room`` bytes of unpacked layers: on /dev/shm in a Nix build when it
    has twice that free (removed when the builder exits, as it is not in the build folder
    Nix removes when the sandbox is off), else ``$TMPDIR/root``."""
    try:
        usage = os.statvfs(SHM)
        fits = usage.f_bavail * usage.f_frsize >= 2 * room
    except OSError:
        fits = False
    if "NIX_BUILD_TOP" in os.environ and fits and os.access(SHM, os.W_OK):
        folder = tempfile.mkdtemp(prefix="root-", dir=SHM)
        atexit.register(rootfs.remove, folder)
        return folder
    folder = os.path.join(os.environ.get("TMPDIR", "/tmp"), "root")
    os.makedirs(folder)
    return folder


def unpacked_size(layer: str) -> int:
    """The uncompressed size of a layer (its output folder, or a deb layer's tree), from its
    layer.json (packed.json); unknown counts as too large for memory."""
    for name in ("layer.json", PACKED):
        try:
            with open(os.path.join(layer, name)) as f:
                return int(json.load(f)["uncompressedSize"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return 1 << 62


def layer_tar(layer: str, epoch: int):
    """What :func:`unpack` takes for a lower layer: its ``layer.tar.gz``, or for a deb layer's
    tree without one (deb_layer.py, tree_layer.py), its tar written again from the tree."""
    packed = os.path.join(layer, "layer.tar.gz")
    if os.path.exists(packed):
        return packed
    tree = overlay.tree(layer)
    if isinstance(tree, str):
        raise SystemExit(f"nixbuild: the lower layer {layer} has neither a layer.tar.gz nor a tree: {tree}")

    def write(sink) -> None:
        write_tar(overlay.layer_entries(tree), sink, epoch=epoch)
    return write


def unpacked(lower: list[str], epoch: int, more: int = 0) -> tuple[str, dict[str, tarfile.TarInfo]]:
    """The layers ``lower`` (output folders or deb layers' trees, bottom first) unpacked into
    a :func:`scratch` folder with ``more`` bytes to spare, and the tar header of every path
    in it (see :func:`unpack`)."""
    root = scratch(sum(map(unpacked_size, lower)) + more)
    headers: dict[str, tarfile.TarInfo] = {}
    for layer in lower:
        unpack(layer_tar(layer, epoch), root, headers, epoch)
    return root, headers


def gpu_binds(root: str, features: str, paths: tuple[str, ...] = GPU_PATHS) -> tuple[list[tuple[str, str]], list]:
    """For a derivation requiring a GPU feature (``features``: Nix's ``requiredSystemFeatures``,
    space-separated): (source, target) binds of the ``paths`` present in the sandbox, and what
    was made under ``root`` for them (see :func:`unmake`)."""
    if not set(features.split()) & set(GPU_FEATURES):
        return [], []
    binds, made = [], []
    for source in paths:
        if not os.path.isdir(source):
            continue
        target = rootfs.resolve_in_root(root, source.lstrip("/"))
        missing, parent = [], target
        while not os.path.lexists(parent):
            missing.insert(0, parent)
            parent = os.path.dirname(parent)
        if missing:
            times = os.lstat(parent)
            made.append((missing, parent, (times.st_atime_ns, times.st_mtime_ns)))
            os.makedirs(target)
        binds.append((source, target))
    return binds, made


def unmake(made: list) -> None:
    """Remove the mount point directories :func:`gpu_binds` made (empty again once the
    commands' namespace is gone) and give their parent back its times, so the layer does not
    record them. One the commands filled stays: it belongs to the layer."""
    for missing, parent, times in reversed(made):
        try:
            for path in reversed(missing):
                os.rmdir(path)
        except OSError:
            continue
        os.utime(parent, ns=times, follow_symlinks=False)


def run(root: str, spec: dict, stack: overlay.Stack | None = None) -> None:
    """Run the step's commands in a chroot of ``root``; with ``stack``, ``root`` is where each
    command's namespace first mounts the overlay of the lower layers, and mount points are
    made in its skeleton (they show through)."""
    busybox = os.path.join(spec["busybox"], "bin", "busybox")
    view = stack.skeleton if stack else root  # where image paths are resolved and made

    def inside(path: str) -> str:
        return os.path.join(root, rootfs.relative(view, path))

    # Mount points and the working directory are image paths: resolved inside the root, so a
    # symlink of the image never makes a mount land outside it.
    binds: list[tuple[str, str]] = []  # (source in the sandbox, target below view)
    for mount in ("dev", "proc"):
        target = rootfs.resolve_in_root(view, mount)
        os.makedirs(target, exist_ok=True)
        binds.append(("/" + mount, target))
    tmp = rootfs.resolve_in_root(view, "tmp")
    os.makedirs(tmp, exist_ok=True)
    workdir = spec.get("workdir") or "/"
    os.makedirs(rootfs.resolve_in_root(view, workdir), exist_ok=True)
    if spec.get("storeMount"):
        store = rootfs.resolve_in_root(view, "nix/store")
        os.makedirs(store, exist_ok=True)
        binds.append(("/nix/store", store))
    gpu, made = gpu_binds(view, os.environ.get("requiredSystemFeatures", ""))
    binds += [bind for bind in gpu if bind[0] != "/nix/store" or not spec.get("storeMount")]
    created = []
    if spec.get("network"):
        # A fixed-output build may reach the network: give the commands the sandbox's name
        # resolution, mounted over (never written into) the image's files.
        for name in NETWORK_FILES:
            source, target = "/" + name, rootfs.resolve_in_root(view, name)
            if os.path.exists(source):
                if not os.path.lexists(target):
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    open(target, "w").close()
                    created.append(target)
                binds.append((source, target))
    # Runs as fake root inside the new namespaces: mount the lower layers (stacked), bind what
    # the commands need, give them their own /tmp, enter the chroot and the working directory,
    # run the command.
    steps = ['"$bb" ' + shlex.join(stack.mount_args)] if stack else []
    steps += [f'"$bb" mount --rbind {shlex.quote(source)} {shlex.quote(inside(target))}'
              for source, target in binds]
    steps.append(f'"$bb" mount -t tmpfs tmpfs {shlex.quote(inside(tmp))}')
    enter = ('bb=$1 root=$2 workdir=$3; shift 3; ' + " && ".join(steps) + ' && '
             'exec "$bb" chroot "$root" /bin/sh -c \'cd "$0" && exec "$@"\' "$workdir" "$@"')
    env = dict(item.split("=", 1) for item in spec["env"])
    env.setdefault("HOME", "/root")
    if spec.get("secretVar"):
        carried = os.environ.get(spec["secretVar"])
        if not carried:  # unset, or empty as a Nix daemon gives an impure variable it lacks
            sys.exit(f"nixbuild: this step uses secrets, and none were given to the build "
                     f"(${spec['secretVar']}): build it with `nixbuild build`")
        env.update(json.loads(carried))  # never printed: the log is kept in the store's log dir
    try:
        for number, command in enumerate(spec["commands"], 1):
            shown = command if len(command) <= 200 else command[:200] + "..."
            print(f"nixbuild: RUN [{number}/{len(spec['commands'])}] {shown}", flush=True)
            proc = subprocess.run([busybox, "unshare", "-r", "-m", "--", busybox, "sh", "-c", enter, "enter",
                                   busybox, root, workdir, *spec["shell"], command], env=env)
            if proc.returncode != 0:
                print(f"nixbuild: command {number} failed with exit code {proc.returncode}: {shown}",
                      file=sys.stderr, flush=True)
                sys.exit(1)
    finally:
        unmake(made)
        for target in created:
            if os.path.isfile(target) and not os.path.islink(target) and os.path.getsize(target) == 0:
                os.unlink(target)


def diff(root: str, before: dict[str, Was]) -> dict[str, Entry]:
    """The layer: what changed under ``root`` since ``before``."""
    entries: dict[str, Entry] = {}
    seen: set[str] = set()
    inodes: dict[tuple[int, int], str] = {}
    for top, dirs, files in os.walk(root):
        rel_top = os.path.relpath(top, root)
        rel_top = "" if rel_top == "." else rel_top
        names = sorted(dirs) + sorted(files)
        if not rel_top:
            # Never descend into the mount points; the directories themselves count as usual
            # when the lower layers had them.
            dirs[:] = [d for d in dirs if d not in MOUNTS]
            names = [n for n in names if n not in MOUNTS or n in before]
        dirs.sort()
        for name in names:
            path = posixpath.join(rel_top, name)
            full = os.path.join(root, path)
            seen.add(path)
            was = before.get(path)
            now = fingerprint(full)
            if was is not None and was.fingerprint == now:
                continue
            st = os.lstat(full)
            uid, gid, mode = 0, 0, st.st_mode & 0o7777
            if was is not None and stat.S_IFMT(st.st_mode) == _tar_type(was.info):
                uid, gid = was.info.uid, was.info.gid
                if mode == (was.info.mode & SETTABLE) | (0o700 if stat.S_ISDIR(st.st_mode) else 0o600):
                    mode = was.info.mode  # unchanged by the command: the unpacker's bits, not its
            if stat.S_ISDIR(st.st_mode):
                entries[path] = directory(path, mode, uid, gid)
            elif stat.S_ISLNK(st.st_mode):
                entries[path] = symlink(path, os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                entries[path] = overlay.file_entry(path, full, st, mode, uid, gid, inodes)
    for path in before:
        parent = posixpath.dirname(path)
        if path.split("/", 1)[0] in MOUNTS and "/" in path:
            continue  # below a mount point: not walked, not changed
        if path not in seen and (not parent or (parent in seen and os.path.isdir(os.path.join(root, parent))
                                                and not os.path.islink(os.path.join(root, parent)))):
            whiteout = posixpath.join(parent, WHITEOUT + posixpath.basename(path))
            entries[whiteout] = Entry(tarfile.TarInfo(whiteout))
    # Parents of changed paths, with the owners and modes the lower layers gave them.
    overlay.with_parents(entries, lambda path: before[path].info if path in before else None)
    return entries


def _tar_type(info: tarfile.TarInfo) -> int:
    if info.isdir():
        return stat.S_IFDIR
    if info.issym():
        return stat.S_IFLNK
    return stat.S_IFREG


def build(spec: dict, out: str) -> None:
    write_layer_dir(made(spec), out, spec)


def made(spec: dict) -> dict[str, Entry]:
    """The layer's entries: what the commands changed in the image so far (passes 1-3)."""
    stack = None
    if spec.get("trees"):  # its lower layers come as trees too (layer_tree.py)
        busybox = os.path.join(spec["busybox"], "bin", "busybox")
        stack = overlay.stacked(overlay.trees(spec["trees"]), busybox, spec["epoch"])
    if stack is not None:
        run(stack.root, spec, stack)
        entries = overlay.diff(stack, MOUNTS)
    else:
        root, headers = unpacked(spec["lower"], spec["epoch"])
        before = {path: Was(info, fingerprint(os.path.join(root, path)))
                  for path, info in headers.items() if os.path.lexists(os.path.join(root, path))}
        run(root, spec)
        entries = diff(root, before)
    return entries


if __name__ == "__main__":
    run_builder(build)
