"""The layers below a step stacked with overlayfs, instead of unpacked: run_layer.py's root for
Python steps, whose lower layers come as trees unpacked once (layer_tree.py).

What the Nix sandbox allows (../shared/reference/nix-sandbox-recipes.md, checked there):
overlayfs mounts with ``userxattr`` as fake root in ``unshare -r -m``, with store paths as
lower directories. Store files are owned by a uid the namespace does not map and are
read-only, so the commands can read and run them but neither write into a store directory nor
edit a store file in place (other than the copies in the skeleton). Hence the stack, top first:

    upper      $TMPDIR/upper: what the step writes; it is the layer (diff below)
    skeleton   every directory and symlink of the image so far, and copies of its files under
               /etc, made by the sandbox user with the unpacker's modes, so that they are
               writable and look as run_layer.unpack leaves them (owners and special bits live
               in the index); on the sandbox's /dev/shm (else $TMPDIR/skeleton)
    trees      the lower layers' trees, topmost first

A Python step only creates, replaces and deletes files (pypa installer, uv, compilers), which
this allows; run_commands may edit files in place, so those steps still unpack (run_layer).

Stacking gives the image tar semantics only when no layer deletes from the ones below and no
path is a directory in one tree and something else in another (overlayfs would hide a lower
folder's contents where the tar merged them, or the reverse); otherwise, or when the mount
fails (a kernel without userxattr, < 5.11), :func:`prepare` says why and the step unpacks.

The diff reads the upper directory, where overlayfs records a deletion as a 0/0 character
device and a folder made anew as ``user.overlay.opaque=y``; it gives the layer run_layer.diff
gives for the same changes: new and changed paths with the lower layers' owners and special
bits, a whiteout for the topmost path gone.
"""

from __future__ import annotations

import atexit
import filecmp
import json
import os
import posixpath
import shutil
import stat
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field

from layertar import INDEX, Entry, directory, from_file, symlink

SETTABLE = 0o1777  # what the sandbox user may set (no setuid/setgid: seccomp refuses them)
OPAQUE_XATTR = "user.overlay.opaque"
# Files edited in place (shadow's groupadd opens /etc/group read-write, `>> /etc/profile`):
# a store file cannot be, so the skeleton holds writable copies of these (small) ones.
COPIED = ("etc/",)
WHITEOUT = ".wh."  # rootfs.WHITEOUT: this module is imported before rootfs.py's folder is on sys.path


def header(row: list) -> tarfile.TarInfo:
    """A tar header from a row of a tree's index.json (layer_tree.py)."""
    path, kind, mode, uid, gid, size, linkname = row
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.uid, info.gid, info.size, info.linkname = kind.encode(), mode, uid, gid, size, linkname
    return info


@dataclass
class Lower:
    """A lower directory of the stack: its files, and the tar header of each path in it."""

    files: str
    headers: dict[str, tarfile.TarInfo]


def tree(folder: str) -> Lower | str:
    """A layer's tree (layer_tree.py's output), or why it cannot be stacked."""
    with open(os.path.join(folder, INDEX)) as f:
        index = json.load(f)
    if not index["stackable"]:
        return f"{os.path.basename(folder)}: {index['why']}"
    return Lower(os.path.join(folder, "tree"), {row[0]: header(row) for row in index["entries"]})


def layer_entries(lower: Lower) -> dict[str, Entry]:
    """The layer a tree was unpacked from, as entries for layertar.write_tar: each path with
    its header from the index and a regular file's bytes from the tree. Where every member
    landed at the path it names (deb_layer.py's trees), write_tar gives that layer's tar again
    byte for byte."""
    return {path: Entry(info, source=os.path.join(lower.files, path) if info.isreg() else None)
            for path, info in lower.headers.items()}


def trees(folders: list[str]) -> list[Lower] | str:
    """The trees of ``folders`` (bottom first), or why one cannot be stacked."""
    lowers = []
    for folder in folders:
        lower = tree(folder)
        if isinstance(lower, str):
            return lower
        lowers.append(lower)
    return lowers


@dataclass
class Stack:
    """The lower layers as one overlay, once :func:`prepare` made it ready to mount."""

    work: str  # $TMPDIR
    lowers: list[Lower]  # bottom first
    epoch: int
    headers: dict[str, tarfile.TarInfo] = field(default_factory=dict)  # path -> topmost header
    sources: dict[str, str] = field(default_factory=dict)  # file path -> the files folder holding it
    implicit: set[str] = field(default_factory=set)  # folders only made as parents (merge)
    home: str = ""  # where the skeleton is made (prepare): /dev/shm in a Nix build, else work

    @property
    def root(self) -> str:
        return os.path.join(self.work, "stacked")  # not "root": where run_layer unpacks

    @property
    def upper(self) -> str:
        return os.path.join(self.work, "upper")

    @property
    def skeleton(self) -> str:
        return os.path.join(self.home or self.work, "skeleton")

    @property
    def options(self) -> str:
        lower = ":".join([self.skeleton] + [lower.files for lower in reversed(self.lowers)])
        return f"lowerdir={lower},upperdir={self.upper},workdir={os.path.join(self.work, 'ovl-work')},userxattr"

    @property
    def mount_args(self) -> list[str]:
        """busybox's arguments that mount the stack on :attr:`root`."""
        return ["mount", "-t", "overlay", "overlay", "-o", self.options, self.root]

    def file(self, path: str) -> str | None:
        """Where the image file ``path`` is on disk after the commands (None: gone)."""
        for folder in [self.upper, *(lower.files for lower in reversed(self.lowers))]:
            full = os.path.join(folder, path)
            if os.path.lexists(full):
                st = os.lstat(full)
                return None if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 else full
        return None


def merge(lowers: list[Lower]) -> tuple[dict[str, tarfile.TarInfo], dict[str, str], set[str]] | str:
    """The image the lowers make (path -> header of the topmost one holding it, and for files
    its folder; and the folders no layer has an entry for, which the unpacker makes as parents,
    mode 0777), or why they cannot be stacked."""
    headers: dict[str, tarfile.TarInfo] = {}
    sources: dict[str, str] = {}
    implicit: set[str] = set()
    for lower in lowers:
        for path, info in lower.headers.items():
            was = headers.get(path)
            if (was is not None and was.isdir() != info.isdir()) or (path in implicit and not info.isdir()):
                return f"{path} is a directory in one layer and not in another"
            headers[path] = info
            if not info.isdir():
                sources[path] = lower.files
        for path in lower.headers:
            parent = posixpath.dirname(path)
            while parent and parent not in lower.headers and parent not in implicit:
                was = headers.get(parent)
                if was is not None and not was.isdir():
                    return f"{parent} is a directory in one layer and not in another"
                implicit.add(parent)
                parent = posixpath.dirname(parent)
    return headers, sources, implicit - set(headers)


def prepare(lowers: list[Lower] | str, busybox: str, epoch: int) -> Stack | str:
    """A stack of ``lowers`` (bottom first), its skeleton made and its mount tried; or why not
    (also when ``lowers`` is already a reason)."""
    if isinstance(lowers, str):
        return lowers
    work = os.environ.get("TMPDIR", "/tmp")
    if any(c in path for path in [work, *(lower.files for lower in lowers)] for c in ",:"):
        return "a path has a ',' or ':' (overlayfs options)"
    merged = merge(lowers)
    if isinstance(merged, str):
        return merged
    stack = Stack(work, lowers, epoch, *merged, home=_skeleton_home())
    for folder in (stack.root, stack.upper, stack.skeleton, os.path.join(work, "ovl-work")):
        os.makedirs(folder)
    _skeleton(stack)
    probe = subprocess.run([busybox, "unshare", "-r", "-m", "--", busybox, *stack.mount_args],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"overlayfs does not mount here ({probe.stderr.strip() or probe.returncode})"
    return stack


# Nix's sandbox gives each build a tmpfs of its own on /dev/shm (half the RAM unless
# sandbox-dev-shm-size says otherwise); run_layer.scratch unpacks roots there too.
SHM = "/dev/shm"


def _skeleton_home() -> str:
    """Where the skeleton is made: a folder of its own on /dev/shm in a Nix build, else "" (the
    work folder). It is every folder and symlink of the image, debian_slim's 4,000, made and
    deleted by each step that stacks: on the disk (an ext4 without a journal here) that made
    the step's files slower to create, and the next builder's, which ext4 passes over the
    inodes deleted in the last minutes for (layer_tree.make_tree_folder). The upper folder
    stays in the work folder: what a step installs may not fit in memory."""
    if "NIX_BUILD_TOP" not in os.environ or not os.access(SHM, os.W_OK):
        return ""
    home = tempfile.mkdtemp(prefix="stack-", dir=SHM)
    atexit.register(shutil.rmtree, home, True)  # the sandbox's /dev/shm goes with it; the host's does not
    return home


def stacked(lowers: list[Lower] | str, busybox: str, epoch: int) -> Stack | None:
    """:func:`prepare`, or None after saying in the build log why the layers are unpacked."""
    stack = prepare(lowers, busybox, epoch)
    if isinstance(stack, str):
        print(f"nixbuild: the lower layers are unpacked, not stacked: {stack}", flush=True)
        return None
    return stack


def _skeleton(stack: Stack) -> None:
    """Every directory (writable, the unpacker's modes) and symlink of the merged image, and
    writable copies of its files under :data:`COPIED`."""
    dirs = []
    umask = os.umask(0)
    try:
        for path in sorted(stack.implicit):  # as the unpacker makes parents: 0777
            full = os.path.join(stack.skeleton, path)
            os.makedirs(full, mode=0o777, exist_ok=True)
            dirs.append(full)
    finally:
        os.umask(umask)
    for path in sorted(stack.headers):
        info = stack.headers[path]
        full = os.path.join(stack.skeleton, path)
        if info.isdir():
            os.makedirs(full, exist_ok=True)
            os.chmod(full, (info.mode & SETTABLE) | 0o700)
            dirs.append(full)
        elif info.issym():
            os.makedirs(os.path.dirname(full), exist_ok=True)
            os.symlink(info.linkname, full)
            os.utime(full, (stack.epoch, stack.epoch), follow_symlinks=False)
        elif path.startswith(COPIED):
            os.makedirs(os.path.dirname(full), exist_ok=True)
            shutil.copyfile(os.path.join(stack.sources[path], path), full)
            os.chmod(full, (info.mode & SETTABLE) | 0o600)
            os.utime(full, (stack.epoch, stack.epoch))
            stack.sources[path] = stack.skeleton
    for full in reversed(dirs):  # children first: making a child touches its parent's mtime
        os.utime(full, (stack.epoch, stack.epoch))
    os.utime(stack.skeleton, (stack.epoch, stack.epoch))


def _same_file(full: str, st: os.stat_result, lower: str, low: os.stat_result, epoch: int) -> bool:
    """Whether the upper file ``full`` is the lower one (``low``: its stat) copied up untouched
    (opened for writing, nothing written)."""
    if st.st_size != low.st_size or st.st_mtime_ns != epoch * 10**9 or stat.S_IMODE(st.st_mode) != stat.S_IMODE(low.st_mode):
        return False
    return filecmp.cmp(full, lower, shallow=False)


def diff(stack: Stack, skip: tuple[str, ...]) -> dict[str, Entry]:
    """The layer: what the upper directory holds, as run_layer.diff would give it. ``skip``:
    top-level mount points, never descended into."""
    entries: dict[str, Entry] = {}
    inodes: dict[tuple[int, int], str] = {}
    children: dict[str, list[str]] | None = None
    epoch_ns = stack.epoch * 10**9

    def gone_below(path: str, present: set[str]) -> None:
        # An opaque folder hides everything the lower layers had in it: a whiteout for each
        # child not there again (the topmost path gone, as run_layer.diff).
        nonlocal children
        if children is None:
            children = {}
            for p in stack.headers:
                children.setdefault(posixpath.dirname(p), []).append(posixpath.basename(p))
        for name in children.get(path, []):
            if name not in present:
                whiteout = posixpath.join(path, WHITEOUT + name)
                entries[whiteout] = Entry(tarfile.TarInfo(whiteout))

    def walk(rel: str, hidden: bool) -> None:
        top = os.path.join(stack.upper, rel)
        names = sorted(os.listdir(top))
        if not rel:
            names = [n for n in names if n not in skip or n in stack.headers]
        if hidden:
            gone_below(rel, set(names))
        for name in names:
            path = posixpath.join(rel, name) if rel else name
            full = os.path.join(top, name)
            st = os.lstat(full)
            was = None if hidden else stack.headers.get(path)
            mode, uid, gid = stat.S_IMODE(st.st_mode), 0, 0
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                if was is not None:
                    whiteout = posixpath.join(rel, WHITEOUT + name)
                    entries[whiteout] = Entry(tarfile.TarInfo(whiteout))
            elif stat.S_ISDIR(st.st_mode):
                opaque = _opaque(full)
                if was is None or not was.isdir():
                    entries[path] = directory(path, mode)
                elif opaque or st.st_mtime_ns != epoch_ns or mode != (was.mode & SETTABLE) | 0o700:
                    kept = mode == (was.mode & SETTABLE) | 0o700  # the unpacker's bits: the layer's
                    entries[path] = directory(path, was.mode if kept else mode, was.uid, was.gid)
                # else copied up only for a path below it: added as a parent, if at all
                if not (rel == "" and name in skip):
                    walk(path, hidden or opaque)
            elif stat.S_ISLNK(st.st_mode):
                if not (was is not None and was.issym() and was.linkname == os.readlink(full)):
                    entries[path] = symlink(path, os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                if was is not None and (was.isreg() or was.islnk()):
                    lower = os.path.join(stack.sources[path], path)
                    low = os.lstat(lower)
                    if _same_file(full, st, lower, low, stack.epoch):
                        continue
                    uid, gid = was.uid, was.gid
                    if mode == stat.S_IMODE(low.st_mode):
                        mode = was.mode  # copied up, not chmod-ed: the layer's bits
                entries[path] = file_entry(path, full, st, mode, uid, gid, inodes)

    walk("", False)
    # A folder no layer has an entry for is in every layer of run_layer.diff (it is not in the
    # index, so never "unchanged"): the same here, with the unpacker's mode.
    for path in stack.implicit:
        if path not in entries and path.split("/", 1)[0] not in skip and not _gone(stack.upper, path):
            entries[path] = directory(path, 0o777)
    with_parents(entries, stack.headers.get)
    return entries


def file_entry(path: str, full: str, st: os.stat_result, mode: int, uid: int, gid: int,
               inodes: dict[tuple[int, int], str]) -> Entry:
    """The entry of the regular file ``full``: a hard link to the first path of its inode seen
    (``inodes``), else the file."""
    key = (st.st_dev, st.st_ino)
    if st.st_nlink > 1 and key in inodes:
        link = tarfile.TarInfo(path)
        link.type, link.linkname = tarfile.LNKTYPE, inodes[key]
        return Entry(link)
    inodes[key] = path
    return from_file(path, full, mode, uid, gid)


def _gone(upper: str, path: str) -> bool:
    """Whether the commands removed the lower folder ``path`` (or replaced it, or one of its
    parents), as the upper folder records it."""
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        full = os.path.join(upper, *parts[:depth])
        if not os.path.lexists(full):
            return False
        st = os.lstat(full)
        if not stat.S_ISDIR(st.st_mode) or (depth < len(parts) and _opaque(full)):
            return True
    return False


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def with_parents(entries: dict[str, Entry], lower) -> None:
    """Add the parents of every entry that are not entries themselves, with the owner and mode
    ``lower(path)`` (a tar header, or None for a new folder) gives them."""
    for path in list(entries):
        parent = posixpath.dirname(path)
        while parent and parent not in entries:
            was = lower(parent)
            entries[parent] = directory(parent, was.mode, was.uid, was.gid) if was else directory(parent)
            parent = posixpath.dirname(parent)
