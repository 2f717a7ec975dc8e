"""run_layer.py's passes without a sandbox: unpack lower layers, then diff a changed tree."""

import os
import tarfile

import pytest

import layertar
import run_layer

EPOCH = 1


def lower_layer(tmp_path, name, entries):
    out = tmp_path / name
    layertar.write_layer_dir(entries, str(out), {"epoch": EPOCH, "createdBy": name})
    return str(out / "layer.tar.gz")


def base_entries():
    """A lower layer with what a step's diff must keep: special bits, owners, folders to empty."""
    return {
        "etc": layertar.directory("etc"),
        "etc/motd": layertar.regular("etc/motd", b"hi\n"),
        "etc/keep": layertar.regular("etc/keep", b"same\n"),
        "usr": layertar.directory("usr"),
        "usr/bin": layertar.directory("usr/bin"),
        "usr/bin/su": layertar.regular("usr/bin/su", b"elf", mode=0o4755),
        "var": layertar.directory("var"),
        "var/mail": layertar.directory("var/mail", mode=0o2775, gid=8),
        "var/mail/old": layertar.regular("var/mail/old", b"x"),
        "opt": layertar.directory("opt"),
        "opt/gone": layertar.directory("opt/gone"),
        "opt/gone/a": layertar.regular("opt/gone/a", b"a"),
    }


def unpacked(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    headers = {}
    base = lower_layer(tmp_path, "base", base_entries())
    upper = lower_layer(tmp_path, "upper", {
        "etc": layertar.directory("etc"),
        "etc/.wh.keep": layertar.regular("etc/.wh.keep", b""),
        "etc/new": layertar.regular("etc/new", b"from the upper layer\n"),
    })
    for layer in (base, upper):
        run_layer.unpack(layer, str(root), headers, EPOCH)
    before = {p: run_layer.Was(info, run_layer.fingerprint(str(root / p)))
              for p, info in headers.items() if os.path.lexists(root / p)}
    return root, headers, before


def test_unpack_applies_whiteouts_and_keeps_special_bits_in_the_index(tmp_path):
    root, headers, _ = unpacked(tmp_path)
    assert not (root / "etc" / "keep").exists() and "etc/keep" not in headers
    assert (root / "etc" / "new").read_bytes() == b"from the upper layer\n"
    assert headers["usr/bin/su"].mode == 0o4755  # the file itself cannot carry setuid here
    assert os.stat(root / "usr" / "bin" / "su").st_mode & 0o4000 == 0


def test_diff_is_new_changed_and_removed_paths_with_lower_metadata(tmp_path):
    root, _, before = unpacked(tmp_path)
    (root / "etc" / "motd").unlink()
    (root / "var" / "mail" / "new").write_bytes(b"mail")
    (root / "usr" / "bin" / "su").write_bytes(b"patched elf")
    for child in (root / "opt" / "gone").iterdir():
        child.unlink()
    (root / "opt" / "gone").rmdir()
    (root / "srv").mkdir()
    (root / "srv" / "a").write_bytes(b"1")
    os.link(root / "srv" / "a", root / "srv" / "b")
    os.symlink("/srv/a", root / "srv" / "c")

    entries = run_layer.diff(str(root), before)
    kinds = {p: (e.info.type, e.info.mode, e.info.uid, e.info.gid) for p, e in entries.items()}
    assert set(kinds) == {"etc", "etc/.wh.motd", "var", "var/mail", "var/mail/new", "usr", "usr/bin",
                          "usr/bin/su", "opt", "opt/.wh.gone", "srv", "srv/a", "srv/b", "srv/c"}
    assert kinds["var/mail"][1:] == (0o2775, 0, 8)  # owner and setgid bit from the lower layer
    assert kinds["usr/bin/su"][1] == 0o4755  # content changed, special bits kept
    assert kinds["srv/b"][0] == tarfile.LNKTYPE and entries["srv/b"].info.linkname == "srv/a"
    assert kinds["srv/c"][0] == tarfile.SYMTYPE
    assert "etc/keep" not in kinds  # whited out below: nothing to say again


def test_an_unchanged_tree_is_an_empty_layer(tmp_path):
    root, _, before = unpacked(tmp_path)
    assert run_layer.diff(str(root), before) == {}


def test_unpack_keeps_hostile_layers_inside_the_root_and_indexes_where_they_landed(tmp_path):
    from oci.hostile import check, write_layers

    root, host, layers = write_layers(tmp_path)
    headers = {}
    for layer in layers:
        run_layer.unpack(layer, str(root), headers, EPOCH)
    check(root, host)
    # The index is keyed by where a member landed, which is what diff walks.
    assert "run/x.cfg" in headers and "var/run/x.cfg" not in headers
    before = {p: run_layer.Was(info, run_layer.fingerprint(str(root / p)))
              for p, info in headers.items() if os.path.lexists(root / p)}
    assert "run/x.cfg" not in run_layer.diff(str(root), before)


def test_a_gpu_step_gets_the_driver_directory_bound_and_the_layer_does_not_record_the_mount_point(tmp_path):
    root, _, before = unpacked(tmp_path)
    driver = tmp_path / "sandbox" / "run" / "opengl-driver"
    (driver / "lib").mkdir(parents=True)
    absent = str(tmp_path / "sandbox" / "absent")

    # Not a gpu= step: nothing bound, nothing made.
    assert run_layer.gpu_binds(str(root), "", (str(driver), absent)) == ([], [])
    assert run_layer.gpu_binds(str(root), "big-parallel", (str(driver),)) == ([], [])

    binds, made = run_layer.gpu_binds(str(root), "cuda gpu-t4", (str(driver), absent))
    target = str(root) + str(driver)  # the same path inside the chroot; absent paths are skipped
    assert binds == [(str(driver), target)]
    assert os.path.isdir(target)
    run_layer.unmake(made)
    assert not os.path.lexists(str(root) + str(tmp_path))
    assert run_layer.diff(str(root), before) == {}

    # What the commands put below the mount point's parents stays in the layer.
    binds, made = run_layer.gpu_binds(str(root), "gpu", (str(driver),))
    (root / str(driver.parent).lstrip("/") / "kept").write_text("x")
    run_layer.unmake(made)
    assert os.path.isdir(target) is False and os.path.exists(str(root) + str(driver.parent / "kept"))


def test_a_root_is_unpacked_in_memory_in_a_nix_build_with_room_there(tmp_path, monkeypatch):
    shm, work = tmp_path / "shm", tmp_path / "build"
    shm.mkdir()
    work.mkdir()
    monkeypatch.setattr(run_layer, "SHM", str(shm))
    monkeypatch.setenv("TMPDIR", str(work))
    lower = str(tmp_path / "lower")
    layertar.write_layer_dir(base_entries(), lower, {"epoch": EPOCH, "createdBy": "lower"})

    monkeypatch.delenv("NIX_BUILD_TOP", raising=False)  # not a Nix build: the build folder
    root, headers = run_layer.unpacked([lower], EPOCH)
    assert root == str(work / "root") and "usr/bin/su" in headers

    monkeypatch.setenv("NIX_BUILD_TOP", str(work))
    root, headers = run_layer.unpacked([lower], EPOCH)
    assert os.path.dirname(root) == str(shm) and (shm / os.path.basename(root) / "etc" / "motd").read_bytes() == b"hi\n"

    # Not twice the room the layers take (their layer.json's uncompressedSize): the build folder.
    (tmp_path / "build2").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "build2"))
    free = os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize
    root, _ = run_layer.unpacked([lower], EPOCH, more=free)
    assert root == str(tmp_path / "build2" / "root")


def test_a_tar_that_fails_while_it_is_written_fails_the_unpack(tmp_path):
    entries = base_entries()
    entries["etc/link"] = layertar.Entry(tarfile.TarInfo("etc/link"))
    entries["etc/link"].info.type, entries["etc/link"].info.linkname = tarfile.LNKTYPE, "etc/missing"

    def write(sink):
        layertar.write_tar(entries, sink, epoch=EPOCH)

    root = tmp_path / "root"
    root.mkdir()
    # Without the writer's error, the tar would end cleanly before etc/link and read as whole.
    with pytest.raises(ValueError, match="etc/missing"):
        run_layer.unpack(write, str(root), {}, EPOCH)
