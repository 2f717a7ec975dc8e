"""Builder: one layer unpacked once, as a tree the steps above it stack (overlay.py).

A Python step used to gunzip and unpack every layer below it before installing anything: on
debian_slim that was most of the step, paid again by each step and each rebuild. This
derivation unpacks one layer's ``layer.tar.gz`` into ``$out/tree``, once; a step that stacks
the trees mounts them read-only as overlayfs lower directories instead.

The store keeps contents and link targets only (Nix makes every file 0444 or 0555, owned by
root, mtime 1), so ``$out/index.json`` keeps what the tar said of each path: its header, as
run_layer.unpack indexes it (keyed by where the member landed inside this tree). What a tree
cannot hold makes the layer unstackable, and a step on top of it unpacks the layers as before:
- a whiteout (it deletes from the layers below, which a lower directory cannot express);
- a member a single layer cannot unpack alone (a hard link to a file of a lower layer).

A deb layer, and a Python step's, is made as its tree from its entries (:func:`write_tree`,
called by deb_layer.py and run_tree.py), and the layer is made from the tree (tree_layer.py):
such a layer has no derivation of this kind.

Input: ``$layerSpecPath`` (JSON: layer (its output folder), epoch). Output in ``$out``:
``tree/`` and ``index.json``: {stackable, why (when not), entries: [[path, type, mode, uid,
gid, size, linkname]]} (type: the tar type flag).
"""

from __future__ import annotations

import array
import fcntl
import json
import os
import stat
import tarfile

from layertar import INDEX, PACKED, Entry, HashingWriter, members, run_builder, write_json, write_layer, write_tar
from run_layer import parsed, lands, place, place_member, placeable, rootfs, unpack


def build(spec: dict, out: str) -> None:
    unpack_tree(os.path.join(spec["layer"], "layer.tar.gz"), out, spec["epoch"])


# ext4's "top of a directory hierarchy" inode flag (FS_TOPDIR_FL, chattr +T), and the ioctls
# that read and set a file's flags.
TOPDIR, GETFLAGS, SETFLAGS = 0x00020000, 0x80086601, 0x40086602


def make_tree_folder(tree: str) -> None:
    """Create ``tree`` and mark it as the top of a directory hierarchy, so that ext4 spreads
    its folders over the block groups with the most free inodes instead of packing them near
    the store folder. There, another tool's or the last build's deleted files are: ext4 without
    a journal (this kind of machine) passes over an inode deleted in the last five minutes each
    time it looks for a free one, and making a file took 300 us instead of 40 (debian_slim's
    base tree: 12,500 of them). Best effort: other filesystems have no such flag."""
    os.makedirs(tree)
    try:
        fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, GETFLAGS, flags, True)
        flags[0] |= TOPDIR
        fcntl.ioctl(fd, SETFLAGS, flags, True)
    except OSError:
        pass
    finally:
        os.close(fd)


def unpack_tree(source, out: str, epoch: int) -> dict[str, tarfile.TarInfo]:
    """Unpack a layer's tar (``source``, as run_layer.unpack takes it) into ``out/tree`` and
    write ``out/index.json``; the headers by path, or {} when the layer is not stackable."""
    tree = os.path.join(out, "tree")
    make_tree_folder(tree)
    headers: dict[str, tarfile.TarInfo] = {}
    whiteouts: list[str] = []
    why = None
    try:
        unpack(source, tree, headers, epoch, whiteouts)
    except OSError as error:
        why = f"it cannot be unpacked on its own ({error})"
    if why is None and whiteouts:
        why = f"it deletes from the layers below ({whiteouts[0]})"
    if why is not None:
        # Nothing of a partial tree is kept: a step never stacks it.
        rootfs.remove(tree)
        os.makedirs(tree)
        headers = {}
    _write_index(out, headers, why)
    return headers


def _write_index(out: str, headers: dict[str, tarfile.TarInfo], why: str | None) -> None:
    # The tree's own modes go: the store makes them 0444/0555 (directories writable until then).
    entries = [[path, info.type.decode(), info.mode, info.uid, info.gid, info.size, info.linkname]
               for path, info in sorted(headers.items())]
    with open(os.path.join(out, INDEX), "w") as f:
        json.dump({"stackable": why is None, "why": why, "entries": entries}, f,
                  sort_keys=True, separators=(",", ":"))


def write_tree(entries: dict[str, Entry], out: str, epoch: int, early: Early | None = None) -> None:
    """The layer as its tree (layer_tree.py's ``tree/`` and ``index.json``), and
    ``packed.json``: the tar's diffId and size, and whether the tree gives that tar back
    (``exact``: every member landed at the path it names), from which tree_layer.py makes the
    layer; where it would not, the layer itself as well (``layer.tar.gz``, its descriptor
    fields in ``packed.json``'s ``layer``).

    The tree is made from the entries (run_layer.place) while a forked process writes their
    tar only to hash it (``_Forked``); where place cannot, it is unpacked from that tar as the
    tar is written. ``early``: the tree of the entries as they were before the layer's
    configure commands changed some of them, already begun (:class:`Early`)."""
    packed: dict = {"entries": len(entries)}

    def write(sink) -> None:
        tar = HashingWriter(sink)
        write_tar(entries, tar, epoch=epoch)
        packed.update(diffId="sha256:" + tar.sha256.hexdigest(), uncompressedSize=tar.size)

    tree = os.path.join(out, "tree")
    # With an early tree, its last changes are made while the final entries' tar is hashed.
    hashing = _Forked(lambda: _tar_digest(entries, epoch)) if early is not None else None
    headers = early.finish(entries, epoch) if early is not None else None
    if headers is not None:
        _write_index(out, headers, None)
    else:
        os.makedirs(out, exist_ok=True)
        make_tree_folder(tree)
        headers = {}
        if placeable(entries, tree):
            hashing = hashing or _Forked(lambda: _tar_digest(entries, epoch))
            place(entries, tree, headers, epoch)
            _write_index(out, headers, None)
        else:
            os.rmdir(tree)
            headers = unpack_tree(write, out, epoch)
    if hashing is not None:
        diff_id, size = hashing.result()
        packed.setdefault("diffId", diff_id)
        packed.setdefault("uncompressedSize", size)
    if "diffId" not in packed:
        raise SystemExit("nixbuild: the layer's tar was not written to its end")
    packed["exact"] = headers.keys() == entries.keys()
    if not packed["exact"]:
        packed["layer"] = write_layer(entries, out, epoch=epoch)
    write_json(os.path.join(out, PACKED), packed)


class Early:
    """:func:`write_tree` begun before a deb layer's configure commands run (deb_layer.py):
    a forked process places the entries as they are into the tree on the disk while the
    commands run in their own root on /dev/shm; :meth:`finish` then replaces only what the
    commands changed (on debian_slim's base, 1,297 of 12,555 members: the compiled Python
    modules, ldconfig's cache and links, /etc). Where a change is not one it can make as place
    would have made it (a path removed, a folder that became something else, a hard link
    involved), the early tree is removed and the tree is made anew."""

    def __init__(self, entries: dict[str, Entry], out: str, epoch: int):
        self.tree = os.path.join(out, "tree")
        os.makedirs(out)
        make_tree_folder(self.tree)
        # What each entry was: a change replaces the Entry, or edits its header in place.
        self.before = {path: (entry, entry.data, entry.source, _fields(entry.info)) for path, entry in entries.items()}
        self.placing = _Forked(lambda: place(entries, self.tree, {}, epoch)) if placeable(entries, self.tree) else None

    def finish(self, entries: dict[str, Entry], epoch: int) -> dict[str, tarfile.TarInfo] | None:
        """The tree of ``entries`` and their index headers; None after removing the early tree
        (``out`` stays, empty) when it cannot be brought to ``entries``."""
        if self.placing is None:
            os.rmdir(self.tree)
            return None
        self.placing.result()
        changed = {path for path, entry in entries.items() if self.before.get(path) != (
            entry, entry.data, entry.source, _fields(entry.info))}
        final = list(members(entries, epoch))
        todo = [(info, content, _lstat(os.path.join(self.tree, info.name))) for info, content in final
                if info.name in changed]
        why = ("a path was removed" if self.before.keys() - entries.keys() else
               "a member no longer lands at its own path" if not lands(entries) else
               "a hard link is changed" if any(info.islnk() and (info.name in changed or info.linkname in changed)
                                              for info, _ in final) else
               "a folder became a file or a link" if any(was is not None and stat.S_ISDIR(was.st_mode)
                                                         and not info.isdir() for info, _, was in todo) else None)
        if why is not None:
            print(f"nixbuild: the layer's tree is made anew after its configure commands: {why}", flush=True)
            rootfs.remove(self.tree)
            return None
        print(f"nixbuild: {len(todo)} of the layer's {len(final)} members made again after its configure commands",
              flush=True)
        umask = os.umask(0)  # modes as unpack gives them
        try:
            made: set[str] = {""}
            for info, content, was in todo:
                if was is not None and not stat.S_ISDIR(was.st_mode):
                    os.unlink(os.path.join(self.tree, info.name))
                place_member(self.tree, info, content, epoch, made)
        finally:
            os.umask(umask)
        return {info.name: parsed(info) for info, _ in final}


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _fields(info: tarfile.TarInfo) -> tuple:
    """What of an entry's header its member is made from (layertar.members normalises the rest)."""
    return (info.type, info.mode, info.uid, info.gid, info.size, info.linkname, info.uname, info.gname,
            info.mtime, tuple(sorted(info.pax_headers.items())))


def _tar_digest(entries: dict[str, Entry], epoch: int) -> tuple[str, int]:
    """The diffId and size of the entries' tar, written only to be hashed."""
    tar = HashingWriter(None)
    write_tar(entries, tar, epoch=epoch)
    return "sha256:" + tar.sha256.hexdigest(), tar.size


class _Forked:
    """``work()`` (its result JSON-able) run in a forked process, which reads this one's memory
    as it was at the fork. Not a thread: placing a tree is thousands of short system calls,
    and after each one a thread busy hashing held the interpreter's lock for up to a switch
    interval; on two cores, debian_slim's base tree took 3.1 s to write beside a hashing thread
    and 1.9 s alone. :meth:`result` waits for the child and raises what it raised."""

    def __init__(self, work):
        self.reading, writing = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: only work, its outcome on the pipe, and out
            os.close(self.reading)
            try:
                outcome, code = {"value": work()}, 0
            except BaseException as error:  # noqa: BLE001 -- handed to the parent
                outcome, code = {"error": f"{type(error).__name__}: {error}"}, 1
            with os.fdopen(writing, "w") as f:
                json.dump(outcome, f)
            os._exit(code)
        os.close(writing)

    def result(self):
        with os.fdopen(self.reading) as f:
            text = f.read()
        _, status = os.waitpid(self.pid, 0)
        outcome = json.loads(text) if text else {"error": f"it ended with wait status {status}"}
        if "error" in outcome:
            raise SystemExit(f"nixbuild: hashing the layer's tar failed: {outcome['error']}")
        return outcome["value"]


if __name__ == "__main__":
    run_builder(build)
