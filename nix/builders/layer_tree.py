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
import tarfile

from layertar import INDEX, PACKED, Entry, HashingWriter, run_builder, write_json, write_layer, write_tar
from run_layer import place, placeable, rootfs, unpack


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


def write_tree(entries: dict[str, Entry], out: str, epoch: int) -> None:
    """The layer as its tree (layer_tree.py's ``tree/`` and ``index.json``), and
    ``packed.json``: the tar's diffId and size, and whether the tree gives that tar back
    (``exact``: every member landed at the path it names), from which tree_layer.py makes the
    layer; where it would not, the layer itself as well (``layer.tar.gz``, its descriptor
    fields in ``packed.json``'s ``layer``).

    The tree is made from the entries (run_layer.place) while a forked process writes their
    tar only to hash it (``_Forked``); where place cannot, it is unpacked from that tar as the
    tar is written."""
    os.makedirs(out)
    packed: dict = {"entries": len(entries)}

    def write(sink) -> None:
        tar = HashingWriter(sink)
        write_tar(entries, tar, epoch=epoch)
        packed.update(diffId="sha256:" + tar.sha256.hexdigest(), uncompressedSize=tar.size)

    tree = os.path.join(out, "tree")
    make_tree_folder(tree)
    headers: dict[str, tarfile.TarInfo] = {}
    if placeable(entries, tree):
        hashing = _Forked(lambda: _tar_digest(entries, epoch))
        place(entries, tree, headers, epoch)
        _write_index(out, headers, None)
        packed["diffId"], packed["uncompressedSize"] = hashing.result()
    else:
        os.rmdir(tree)
        headers = unpack_tree(write, out, epoch)
    if "diffId" not in packed:
        raise SystemExit("nixbuild: the layer's tar was not written to its end")
    packed["exact"] = headers.keys() == entries.keys()
    if not packed["exact"]:
        packed["layer"] = write_layer(entries, out, epoch=epoch)
    write_json(os.path.join(out, PACKED), packed)


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
