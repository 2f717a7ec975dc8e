"""builders/copy_layer.py (COPY --from): what lands in the layer, by Docker's COPY rules
(expected entries written by hand)."""

import gzip
import tarfile

import pytest

import copy_layer
import layertar


def lower(tmp_path, name: str, entries: list[layertar.Entry]) -> str:
    out = tmp_path / name
    layertar.write_layer_dir({e.info.name: e for e in entries}, str(out), {"epoch": 1, "createdBy": name})
    return str(out)


def copied(tmp_path, monkeypatch, layers: list[str], sources: list[str], dest: str, into_dir: bool) -> dict:
    run = len(list(tmp_path.glob("work*")))  # a fresh sandbox folder and output per build
    monkeypatch.setenv("TMPDIR", str(tmp_path / f"work{run}"))
    (tmp_path / f"work{run}").mkdir()
    out = tmp_path / f"out{run}"
    copy_layer.build({"lower": layers, "sources": sources, "dest": dest, "intoDir": into_dir, "epoch": 1,
                      "createdBy": "COPY --from"}, str(out))
    with gzip.open(out / "layer.tar.gz") as stream, tarfile.open(fileobj=stream) as tar:
        return {m.name: (m.type, m.mode, m.uid, m.linkname, tar.extractfile(m).read() if m.isfile() else None)
                for m in tar.getmembers()}


@pytest.fixture
def stage(tmp_path):
    first = lower(tmp_path, "l0", [
        layertar.directory("out", 0o755), layertar.directory("out/bin", 0o750, uid=1000),
        layertar.regular("out/bin/tool", b"#!/bin/sh\n", 0o4755, uid=1000),
        layertar.symlink("out/bin/t", "tool"), layertar.regular("out/gone", b"x"),
        layertar.symlink("link-to-out", "/out"),
    ])
    second = lower(tmp_path, "l1", [layertar.regular("out/.wh.gone", b""),
                                    layertar.regular("out/VERSION", b"1.0\n", 0o600)])
    return [first, second]


def test_a_directory_s_contents_go_into_dest_as_root_with_their_modes(tmp_path, monkeypatch, stage):
    got = copied(tmp_path, monkeypatch, stage, ["/out"], "/srv/app", False)
    assert got == {
        "srv/app": (tarfile.DIRTYPE, 0o755, 0, "", None),
        "srv/app/VERSION": (tarfile.REGTYPE, 0o600, 0, "", b"1.0\n"),
        "srv/app/bin": (tarfile.DIRTYPE, 0o750, 0, "", None),
        "srv/app/bin/t": (tarfile.SYMTYPE, 0o777, 0, "tool", None),
        "srv/app/bin/tool": (tarfile.REGTYPE, 0o4755, 0, "", b"#!/bin/sh\n"),
    }  # the whited-out file is not there; owners are root whatever they were


def test_a_file_through_a_symlink_into_a_directory_and_as_a_name(tmp_path, monkeypatch, stage):
    got = copied(tmp_path, monkeypatch, stage, ["/link-to-out/VERSION"], "/etc/", True)
    assert got == {"etc/VERSION": (tarfile.REGTYPE, 0o600, 0, "", b"1.0\n")}
    got = copied(tmp_path, monkeypatch, stage, ["/out/VERSION"], "/etc/app-version", False)
    assert list(got) == ["etc/app-version"]


def test_a_missing_source_names_itself(tmp_path, monkeypatch, stage):
    with pytest.raises(SystemExit, match="/out/gone does not exist"):
        copied(tmp_path, monkeypatch, stage, ["/out/gone"], "/x", False)
