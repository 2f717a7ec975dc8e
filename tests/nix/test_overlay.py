"""Lower layers stacked with overlayfs (overlay.py, layer_tree.py) against unpacked
(run_layer.unpack + run_layer.diff): the same changes made on both give the same layer.

The oracle is run_layer's unpack-and-compare diff, our own code, which every other kind of
step still uses (tests/nix/test_run_layer.py checks it on its own). The overlay is a real one,
mounted as the builder mounts it (fake root in ``unshare -r -m``, ``userxattr``); the trees
get the modes and mtime the Nix store gives an output.
"""

import os
import stat
import subprocess

import pytest

import layer_tree
import layertar
import overlay
import run_layer
from test_run_layer import base_entries

EPOCH = 1

# What a step does: every kind of change the diff must see (or not see).
CHANGES = """
set -e
echo new > etc/new
rm etc/motd
rm -rf opt/gone
rm -rf var/mail && mkdir var/mail && echo x > var/mail/new
rm usr/bin/su && printf patched > usr/bin/su
: >> etc/untouched
echo appended >> etc/appended
chmod 600 etc/chmodded
mkdir -p srv/a/b && echo 1 > srv/a/f && ln srv/a/f srv/a/g && ln -s /srv/a/f srv/c
ln -sf /etc/new etc/link
echo more > srv/data/more
rm -rf media/gone
"""


def layer(tmp_path, name, entries):
    out = tmp_path / name
    layertar.write_layer_dir(entries, str(out), {"epoch": EPOCH, "createdBy": name})
    return out


def layers(tmp_path):
    base = layer(tmp_path, "base", {
        **base_entries(),
        "etc/untouched": layertar.regular("etc/untouched", b"same\n"),
        "etc/chmodded": layertar.regular("etc/chmodded", b"c\n"),
        "etc/appended": layertar.regular("etc/appended", b"first\n", mode=0o640, gid=42),
        "etc/link": layertar.symlink("etc/link", "motd"),
    })
    upper = layer(tmp_path, "upper", {
        "etc": layertar.directory("etc"),
        "etc/extra": layertar.regular("etc/extra", b"from the upper layer\n", mode=0o600, uid=7),
        # No entries for their folders (python-build-standalone's archive has none): the
        # unpacker makes them as parents.
        "srv/data/file": layertar.regular("srv/data/file", b"d"),
        "home/x/y/file": layertar.regular("home/x/y/file", b"y"),
        "media/gone/file": layertar.regular("media/gone/file", b"g"),
    })
    return [base, upper]


def tree(tmp_path, layer_dir):
    """layer_tree.py's output for one layer, then made as the store makes outputs."""
    out = tmp_path / (layer_dir.name + "-tree")
    layer_tree.build({"layer": str(layer_dir), "epoch": EPOCH}, str(out))
    for top, dirs, files in os.walk(out, topdown=False):
        for name in files + dirs:
            path = os.path.join(top, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(path, 0o555 if st.st_mode & 0o111 or stat.S_ISDIR(st.st_mode) else 0o444)
            os.utime(path, (EPOCH, EPOCH), follow_symlinks=False)
    return str(out)


@pytest.fixture
def shim(tmp_path):
    """Stands in for the sandbox's busybox: runs its arguments with the host's tools."""
    path = tmp_path / "busybox"
    path.write_text('#!/bin/sh\nexec "$@"\n')
    path.chmod(0o755)
    return str(path)


def summary(entries):
    return {path: (e.info.type, e.info.mode, e.info.uid, e.info.gid, e.info.linkname,
                   e.open().read() if e.info.isreg() and e.open() else None)
            for path, e in entries.items()}


def test_a_stacked_step_gives_the_layer_an_unpacked_one_gives(tmp_path, shim, monkeypatch):
    lower = layers(tmp_path)
    trees = [tree(tmp_path, d) for d in lower]

    # Unpacked: run_layer's own passes, the changes made in the root.
    unpacked = tmp_path / "unpacked"
    monkeypatch.setenv("TMPDIR", str(unpacked))
    unpacked.mkdir()
    root, headers = run_layer.unpacked([str(d) for d in lower], EPOCH)
    before = {p: run_layer.Was(info, run_layer.fingerprint(os.path.join(root, p))) for p, info in headers.items()}
    subprocess.run(["sh", "-c", CHANGES], cwd=root, check=True)
    expected = summary(run_layer.diff(root, before))

    # Stacked: the same changes made through the overlay, as fake root in a namespace.
    work = tmp_path / "stacked"
    work.mkdir()
    monkeypatch.setenv("TMPDIR", str(work))
    stack = overlay.prepare(overlay.trees(trees), shim, EPOCH)
    assert isinstance(stack, overlay.Stack), stack
    script = f"{' '.join(stack.mount_args)} && cd {stack.root} && {CHANGES}"
    subprocess.run(["unshare", "-r", "-m", "--", "sh", "-c", script], check=True)
    got = summary(overlay.diff(stack, run_layer.MOUNTS))

    assert got == expected
    # What the oracle must have seen, so that agreeing means something.
    assert {"etc/.wh.motd", "opt/.wh.gone", "var/mail/.wh.old", "usr/bin/su", "srv/a/g", "etc/chmodded"} <= set(got)
    assert "etc/untouched" not in got and "etc/extra" not in got
    assert {"srv/data/more", "home/x/y"} <= set(got)  # implicit folders: in every layer, as unpacked
    assert got["var/mail"][2:4] == (0, 8)  # made anew: the lower layer's owner stays
    assert got["etc/appended"][1:] == (0o640, 0, 42, "", b"first\nappended\n")  # edited in place


def test_layers_that_cannot_be_stacked_say_why(tmp_path, shim, monkeypatch):
    def prepare(*layer_dirs):
        work = tmp_path / ("work-" + layer_dirs[-1].name)
        work.mkdir()
        monkeypatch.setenv("TMPDIR", str(work))
        return overlay.prepare(overlay.trees([tree(tmp_path / work.name, d) for d in layer_dirs]), shim, EPOCH)

    base = layer(tmp_path, "base", {"etc": layertar.directory("etc"),
                                    "etc/a": layertar.regular("etc/a", b"a")})
    deletes = layer(tmp_path, "deletes", {"etc": layertar.directory("etc"),
                                          "etc/.wh.a": layertar.regular("etc/.wh.a", b"")})
    assert prepare(base, deletes) == "deletes-tree: it deletes from the layers below (etc/.wh.a)"
    folder = layer(tmp_path, "folder", {"etc": layertar.directory("etc"),
                                        "etc/a": layertar.directory("etc/a")})
    assert prepare(base, folder) == "etc/a is a directory in one layer and not in another"
    assert isinstance(prepare(base), overlay.Stack)
