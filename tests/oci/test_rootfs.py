"""nixbuild.oci.rootfs and the unpacker of `nixbuild run`: image paths resolve inside the root."""

from __future__ import annotations

import errno
import os
import tarfile

import pytest

from nixbuild.oci.rootfs import apply_whiteout, relative, resolve_in_root
from nixbuild.oci.runner import apply_layer

from .hostile import check, write_layers


def test_resolution_follows_the_images_links_from_its_own_root(tmp_path):
    root = tmp_path / "root"
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "var").mkdir()
    os.symlink("/run", root / "var" / "run")
    os.symlink("usr/lib", root / "lib")
    os.symlink("../../../../..", root / "usr" / "up")
    os.symlink("/etc", root / "etcl")
    assert resolve_in_root(root, "/var/run/x.cfg") == str(root / "run" / "x.cfg")
    assert resolve_in_root(root, "var/run", follow=False) == str(root / "var" / "run")
    assert resolve_in_root(root, "var/run") == str(root / "run")
    assert resolve_in_root(root, "lib/../x") == str(root / "usr" / "x")  # `..` after a link: its target's parent
    assert resolve_in_root(root, "usr/up/etc/passwd") == str(root / "etc" / "passwd")
    assert resolve_in_root(root, "../../../etc/shadow") == str(root / "etc" / "shadow")
    assert resolve_in_root(root, "etcl/shadow") == str(root / "etc" / "shadow")
    assert resolve_in_root(root, "/") == str(root) and relative(root, str(root)) == ""


def test_a_symlink_loop_is_an_error_not_a_hang(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("/a", tmp_path / "b")
    with pytest.raises(OSError) as err:
        resolve_in_root(tmp_path, "a/x")
    assert err.value.errno == errno.ELOOP


def test_a_whiteout_never_removes_through_a_link_to_the_host(tmp_path):
    host, root = tmp_path / "host", tmp_path / "root"
    host.mkdir()
    root.mkdir()
    (host / "keep").write_text("x")
    os.symlink(str(host), root / "l")
    (root / "l2").mkdir()
    (root / "l2" / "gone").write_text("y")
    assert apply_whiteout(root, "l/.wh.keep") == []
    assert apply_whiteout(root, "l/.wh..wh..opq") == []
    assert apply_whiteout(root, "l2/.wh.gone") == ["l2/gone"] and not (root / "l2" / "gone").exists()
    assert apply_whiteout(root, "l2/file") is None  # not a whiteout: the caller unpacks it
    assert (host / "keep").read_text() == "x"


def test_run_unpacks_hostile_layers_inside_the_root(tmp_path):
    root, host, layers = write_layers(tmp_path)
    for layer in layers:
        with tarfile.open(layer, "r:gz") as tar:
            apply_layer(root, ((info, tar.extractfile(info) if info.isreg() else None) for info in tar))
    check(root, host)
