"""A deb layer (or a Python step's) is unpacked into its tree as its tar is written
(layer_tree.write_tree), and the layer is written from that tree (tree_layer.py). The oracle
for the bytes is the tar of the same entries written directly (layertar.write_tar, our own
writer: what the layer was before the tree came first), and Python's tarfile reading both."""

import gzip
import io
import json
import os
import stat
import subprocess
import sys
import tarfile

import pytest

import layer_tree
import layertar
import run_layer
import tree_layer
from test_run_layer import base_entries

EPOCH = 1


def entries_with_links():
    entries = base_entries()
    # A hard link that sorts before its target: write_tar swaps which of the two holds the data.
    entries["etc/a-link"] = layertar.Entry(tarfile.TarInfo("etc/a-link"))
    entries["etc/a-link"].info.type, entries["etc/a-link"].info.linkname = tarfile.LNKTYPE, "etc/motd"
    entries["etc/alternatives"] = layertar.directory("etc/alternatives")
    entries["etc/alternatives/pager"] = layertar.symlink("etc/alternatives/pager", "/usr/bin/more")
    long = "usr/share/" + "a-rather-long-folder-name/" * 5 + "file.txt"  # a PAX header
    for parent in ("usr/share", *("usr/share/" + "a-rather-long-folder-name/" * n for n in range(1, 6))):
        entries[parent.rstrip("/")] = layertar.directory(parent.rstrip("/"))
    entries[long] = layertar.regular(long, b"long\n", mode=0o600, uid=7, gid=8)
    return entries


def tar_of(entries) -> bytes:
    sink = io.BytesIO()
    layertar.write_tar(entries, sink, epoch=EPOCH)
    return sink.getvalue()


def test_the_layer_written_from_the_tree_is_the_tar_it_was_unpacked_from(tmp_path, monkeypatch):
    entries = entries_with_links()
    tree, out = str(tmp_path / "tree"), str(tmp_path / "layer")
    layer_tree.write_tree(entries, tree, EPOCH)
    (tmp_path / "tree" / "dpkg-status").write_text("Package: x\n")
    packed = json.loads((tmp_path / "tree" / "packed.json").read_text())
    assert packed["exact"] and not (tmp_path / "tree" / "layer.tar.gz").exists()
    assert (tmp_path / "tree" / "tree" / "etc" / "motd").read_bytes() == b"hi\n"

    tree_layer.build({"tree": tree, "createdBy": "apt_install", "epoch": EPOCH}, out)
    expected = tar_of(entries)
    with gzip.open(os.path.join(out, "layer.tar.gz")) as f:
        assert f.read() == expected
    meta = json.loads((tmp_path / "layer" / "layer.json").read_text())
    assert (meta["diffId"], meta["uncompressedSize"]) == (packed["diffId"], len(expected))
    assert meta["createdBy"] == "apt_install" and meta["entries"] == len(entries)
    assert (tmp_path / "layer" / "dpkg-status").read_text() == "Package: x\n"
    with tarfile.open(os.path.join(out, "layer.tar.gz")) as tar:
        members = {m.name: m for m in tar}
    assert members["usr/bin/su"].mode == 0o4755 and members["var/mail"].gid == 8
    assert members["etc/a-link"].isfile() and members["etc/motd"].islnk()  # the data goes first

    # A step above that cannot stack the trees unpacks the tar written again from the tree.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("NIX_BUILD_TOP", raising=False)
    root_a, headers_a = run_layer.unpacked([tree], EPOCH)
    assert set(headers_a) == set(entries) and os.path.samefile(
        os.path.join(root_a, "etc/motd"), os.path.join(root_a, "etc/a-link"))


def test_a_tree_that_cannot_give_its_tar_back_carries_the_layer(tmp_path):
    entries = base_entries()
    # A member below a symlink of the same layer lands where the link points, not at its name.
    entries["srv"] = layertar.symlink("srv", "opt")
    entries["srv/data"] = layertar.regular("srv/data", b"through the link\n")
    tree, out = str(tmp_path / "tree"), str(tmp_path / "layer")
    layer_tree.write_tree(entries, tree, EPOCH)
    (tmp_path / "tree" / "dpkg-status").write_text("")
    packed = json.loads((tmp_path / "tree" / "packed.json").read_text())
    assert not packed["exact"] and (tmp_path / "tree" / "tree" / "opt" / "data").exists()

    tree_layer.build({"tree": tree, "createdBy": "x", "epoch": EPOCH}, out)
    with gzip.open(os.path.join(out, "layer.tar.gz")) as f:
        assert f.read() == tar_of(entries)
    assert json.loads((tmp_path / "layer" / "layer.json").read_text())["diffId"] == packed["diffId"]


def test_a_tree_that_no_longer_gives_its_tar_fails_the_layer(tmp_path):
    tree, out = str(tmp_path / "tree"), str(tmp_path / "layer")
    layer_tree.write_tree(base_entries(), tree, EPOCH)
    (tmp_path / "tree" / "dpkg-status").write_text("")
    (tmp_path / "tree" / "tree" / "etc" / "motd").write_bytes(b"ho\n")  # same size, other bytes
    with pytest.raises(SystemExit, match="is not the tar it was unpacked from"):
        tree_layer.build({"tree": tree, "createdBy": "x", "epoch": EPOCH}, out)


def test_the_writer_of_a_piped_tar_gets_to_its_end(tmp_path):
    # tarfile stops reading at the end-of-archive block; what the writer writes after it
    # (tarfile's padding; here more than a pipe holds) must still be read, or the writer dies
    # of a broken pipe before it notes its result (layer_tree.write_tree's diffId).
    done = []

    def write(sink):
        layertar.write_tar(base_entries(), sink, epoch=EPOCH)
        sink.write(bytes(1 << 20))
        done.append(True)

    run_layer.unpack(write, str(tmp_path), {}, EPOCH)
    assert done == [True]


def _snapshot(root: str) -> dict:
    """What a tree holds, path by path: type, permission bits, mtime, bytes or link target,
    and which paths share an inode (hard links)."""
    seen, out = {}, {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            kind = stat.S_IFMT(st.st_mode)
            body = os.readlink(path) if stat.S_ISLNK(st.st_mode) else (
                open(path, "rb").read() if stat.S_ISREG(st.st_mode) else None)
            mtime = None if stat.S_ISDIR(st.st_mode) else st.st_mtime  # a folder's changes with its children
            out[os.path.relpath(path, root)] = (kind, st.st_mode & 0o7777, mtime, body,
                                                seen.setdefault(st.st_ino, os.path.relpath(path, root)))
    return out


def test_place_makes_what_unpacking_the_tar_makes(tmp_path):
    # The oracle: run_layer.unpack reading the tar of the same entries (Python's tarfile).
    entries = entries_with_links()
    entries["tmp"] = layertar.directory("tmp", mode=0o1777)
    entries["usr/bin/sticky"] = layertar.regular("usr/bin/sticky", b"s", mode=0o1755)
    (tmp_path / "big").write_bytes(bytes(range(256)) * 8192)  # streamed from a file
    entries["opt/big"] = layertar.from_file("opt/big", str(tmp_path / "big"), 0o640, uid=3)
    entries["srv/deep/file"] = layertar.regular("srv/deep/file", b"no folder entries\n")
    placed, unpacked = tmp_path / "placed", tmp_path / "unpacked"
    placed.mkdir()
    unpacked.mkdir()
    assert run_layer.placeable(entries, str(placed))
    headers_placed, headers_unpacked = {}, {}
    run_layer.place(entries, str(placed), headers_placed, EPOCH)
    run_layer.unpack(lambda sink: layertar.write_tar(entries, sink, epoch=EPOCH), str(unpacked),
                     headers_unpacked, EPOCH)
    row = lambda i: (i.type, i.mode, i.uid, i.gid, i.size, i.linkname, i.mtime)  # noqa: E731
    assert {p: row(i) for p, i in headers_placed.items()} == {p: row(i) for p, i in headers_unpacked.items()}
    assert headers_placed["usr/bin/su"].mode == 0o4755 and headers_placed["etc/motd"].islnk()
    assert _snapshot(str(placed)) == _snapshot(str(unpacked))
    assert os.path.samefile(placed / "etc/motd", placed / "etc/a-link")


@pytest.mark.parametrize("extra", [
    {"srv": layertar.symlink("srv", "opt"), "srv/data": layertar.regular("srv/data", b"x")},
    {"etc/.wh.motd": layertar.regular("etc/.wh.motd", b"")},
    {"etc/motd/x": layertar.regular("etc/motd/x", b"below a file")},
])
def test_place_refuses_what_it_would_not_make_as_unpack_does(tmp_path, extra):
    entries = {**base_entries(), **extra}
    assert not run_layer.placeable(entries, str(tmp_path))
    assert run_layer.placeable(base_entries(), str(tmp_path))
    device = tarfile.TarInfo("dev/null")
    device.type = tarfile.CHRTYPE
    assert not run_layer.placeable({"dev/null": layertar.Entry(device)}, str(tmp_path))
    (tmp_path / "something").write_text("")  # a root that is not empty
    assert not run_layer.placeable(base_entries(), str(tmp_path))


def test_the_layer_from_a_tree_runs_at_the_lowest_priority():
    # In a session of its own, as Nix starts a builder: its autogroup is its own to lower.
    probe = ("import os, tree_layer; tree_layer._yield_cpu(); "
             "print(os.nice(0)); print(open('/proc/self/autogroup').read())")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                          start_new_session=True, check=True)
    niceness, autogroup = done.stdout.splitlines()[:2]
    assert int(niceness) == tree_layer.NICENESS
    assert autogroup.endswith(f"nice {tree_layer.NICENESS}")


def test_a_tree_folder_is_the_top_of_a_hierarchy_for_ext4(tmp_path):
    layer_tree.write_tree(base_entries(), str(tmp_path / "out"), EPOCH)
    assert (tmp_path / "out" / "tree" / "etc" / "motd").read_bytes() == b"hi\n"
    filesystem = subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True,
                                text=True, check=True).stdout.strip()
    if filesystem == "ext2/ext3":  # ext4 too (the CI machines' /tmp); elsewhere: made all the same
        attributes = subprocess.run(["lsattr", "-d", str(tmp_path / "out" / "tree")], capture_output=True,
                                    text=True, check=True).stdout.split()[0]
        assert "T" in attributes


def test_the_forked_hashing_hands_back_its_value_or_its_error():
    assert layer_tree._Forked(lambda: ["sha256:x", 3]).result() == ["sha256:x", 3]

    def fails():
        raise ValueError("no tar")

    with pytest.raises(SystemExit, match="hashing the layer's tar failed: ValueError: no tar"):
        layer_tree._Forked(fails).result()


def _configure_like(entries, case):
    """Changes of the kinds a layer's configure commands make (deb_layer.configure's result,
    then maintainer.set_group_modes, which edits headers in place)."""
    if case == "files":
        entries["etc/keep"] = layertar.regular("etc/keep", b"compiled\n")  # replaced
        entries["usr/lib/new.pyc"] = layertar.regular("usr/lib/new.pyc", b"\x00pyc", mode=0o644)  # new
        entries["etc/cache"] = layertar.directory("etc/cache", mode=0o700)  # a new folder
        entries["etc/cache/ld.so.cache"] = layertar.regular("etc/cache/ld.so.cache", b"cache")
        entries["etc/alternatives/pager"] = layertar.symlink("etc/alternatives/pager", "/bin/less")  # relinked
        entries["etc/alternatives"].info.mode = 0o750  # a folder's mode edited in place
        entries["var/mail/old"].info.gid = 42  # a header edited in place
    elif case == "a folder becomes a link":
        entries["etc/alternatives"] = layertar.symlink("etc/alternatives", "/var/lib/alternatives")
        del entries["etc/alternatives/pager"]
    elif case == "a hard link's target changes":  # etc/a-link is one of etc/motd
        entries["etc/motd"] = layertar.regular("etc/motd", b"other bytes\n")


@pytest.mark.parametrize("case, kept", [("files", True), ("a folder becomes a link", False),
                                        ("a hard link's target changes", False)])
def test_a_tree_begun_before_configure_ends_as_the_tree_of_the_final_entries(tmp_path, monkeypatch, case, kept):
    # Oracle: write_tree of the final entries alone, the tree as it is made without Early.
    entries = entries_with_links()
    early_out = str(tmp_path / "early")
    early = layer_tree.Early(entries, early_out, EPOCH)
    _configure_like(entries, case)
    finished = []
    finish = layer_tree.Early.finish
    monkeypatch.setattr(layer_tree.Early, "finish", lambda self, *a: finished.append(finish(self, *a)) or finished[0])
    layer_tree.write_tree(entries, early_out, EPOCH, early)
    assert (finished[0] is not None) == kept  # the early tree finished, or made anew
    plain_out = str(tmp_path / "plain")
    layer_tree.write_tree(entries, plain_out, EPOCH)
    for name in ("index.json", "packed.json"):
        assert (tmp_path / "early" / name).read_text() == (tmp_path / "plain" / name).read_text()
    assert _snapshot(os.path.join(early_out, "tree")) == _snapshot(os.path.join(plain_out, "tree"))
    index = json.loads((tmp_path / "early" / "index.json").read_text())
    assert len(index["entries"]) == len(entries) and index["stackable"]
