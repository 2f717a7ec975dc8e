"""nixbuild.oci.diff: two layouts compared, every difference named by file and field."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from nixbuild.oci.diff import LayerDiff, Report, compare
from nixbuild.errors import CheckError
from nixbuild.oci.layout import OciLayout

from .layouts import APP, BASE, Entry, app_with, directory, write_layout


def _compare(tmp_path: Path, a: dict[str, Any], b: dict[str, Any]) -> Report:
    """Compare an image built with options ``a`` with one built with options ``b``."""
    defaults: dict[str, Any] = {"layers": [BASE, APP]}
    root_a = write_layout(tmp_path / "a", **{**defaults, **a})
    root_b = write_layout(tmp_path / "b", **{**defaults, **b})
    return compare(OciLayout(root_a), OciLayout(root_b))


def _only_layer(report: Report) -> LayerDiff:
    [image] = report.images
    [layer] = image.layers
    return layer


def _changes(layer: LayerDiff) -> dict[str, dict[str, tuple[Any, Any]]]:
    return {
        f.path: {c.field: (c.a, c.b) for c in f.fields}
        for f in layer.files
        if f.change == "changed"
    }


def test_identical_layouts(tmp_path: Path) -> None:
    report = _compare(
        tmp_path, {}, {"blob_store": tmp_path / "store"}
    )  # symlinked blobs, same bytes
    assert report.identical
    assert report.render().startswith("OCI image layouts are identical")
    report.raise_if_different("image 'web'")  # does not raise


def test_changed_file_content(tmp_path: Path) -> None:
    report = _compare(
        tmp_path, {}, {"layers": [BASE, app_with(Entry("app/data.txt", b"some DATA\n"))]}
    )
    assert not report.identical
    layer = _only_layer(report)
    assert layer.index == 1 and layer.created_by == "nixbuild step 2"
    assert not layer.compression_only
    [(path, fields)] = _changes(layer).items()
    assert path == "app/data.txt" and list(fields) == ["content"]
    text = report.render()
    assert "layer 2 of 2 ('nixbuild step 2')" in text
    assert "~ app/data.txt: content sha256:" in text
    assert "note: the image config differs only in the diff_ids of the layers below" in text


def test_changed_mtime(tmp_path: Path) -> None:
    report = _compare(
        tmp_path,
        {},
        {"layers": [BASE, app_with(Entry("app/main.py", b"print('hello')\n", mtime=1700000000))]},
    )
    assert _changes(_only_layer(report)) == {"app/main.py": {"mtime": (0, 1700000000)}}
    assert (
        "~ app/main.py: mtime 0 (1970-01-01T00:00:00Z) != 1700000000 (2023-11-14T22:13:20Z)"
        in report.render()
    )


def test_changed_mode(tmp_path: Path) -> None:
    report = _compare(
        tmp_path,
        {},
        {"layers": [BASE, app_with(Entry("app/main.py", b"print('hello')\n", mode=0o600))]},
    )
    assert _changes(_only_layer(report)) == {"app/main.py": {"mode": (0o644, 0o600)}}
    assert "~ app/main.py: mode 0o644 != 0o600" in report.render()


def test_changed_owner_and_xattr(tmp_path: Path) -> None:
    changed = Entry(
        "app/main.py",
        b"print('hello')\n",
        uid=1000,
        uname="builder",
        pax={"SCHILY.xattr.user.origin": "x"},
    )
    report = _compare(tmp_path, {}, {"layers": [BASE, app_with(changed)]})
    assert _changes(_only_layer(report)) == {
        "app/main.py": {
            "uid": (0, 1000),
            "uname": ("root", "builder"),
            "xattr[user.origin]": (None, "x"),
        }
    }
    assert "xattr[user.origin] (absent) != 'x'" in report.render()


def test_added_and_removed_files(tmp_path: Path) -> None:
    changed = app_with(Entry("app/new.txt", b"new\n"), drop=["app/data.txt"])
    report = _compare(tmp_path, {}, {"layers": [BASE, changed]})
    layer = _only_layer(report)
    assert [(f.change, f.path) for f in layer.files] == [
        ("removed", "app/data.txt"),
        ("added", "app/new.txt"),
    ]
    assert layer.order is None
    text = report.render()
    assert "- app/data.txt (removed: file, 10 bytes)" in text
    assert "+ app/new.txt (added: file, 4 bytes)" in text


def test_reordered_tar(tmp_path: Path) -> None:
    directory_entry, main, data = APP
    report = _compare(tmp_path, {}, {"layers": [BASE, [directory_entry, data, main]]})
    layer = _only_layer(report)
    assert layer.files == []
    assert (
        layer.order is not None
        and "'app/main.py'" in layer.order
        and "'app/data.txt'" in layer.order
    )
    assert (
        "same entries, only entry order differs from entry 2 (of those in both) on: "
        "a has 'app/main.py' there, b has 'app/data.txt'"
    ) in report.render()


def test_config_env_change(tmp_path: Path) -> None:
    report = _compare(tmp_path, {"env": ["PATH=/bin", "A=1"]}, {"env": ["PATH=/bin", "A=2"]})
    [image] = report.images
    assert image.layers == [] and image.manifest == []
    assert [(d.path, d.a, d.b) for d in image.config] == [("config.Env[1]", "A=1", "A=2")]
    assert "config.Env[1]: 'A=1' != 'A=2'" in report.render()


def test_created_and_history(tmp_path: Path) -> None:
    report = _compare(tmp_path, {}, {"created": "2024-05-01T10:00:00Z"})
    [image] = report.images
    assert [d.path for d in image.config] == ["created", "history[0].created", "history[1].created"]
    with pytest.raises(
        CheckError, match="created: '1970-01-01T00:00:01Z' != '2024-05-01T10:00:00Z'"
    ) as error:
        report.raise_if_different("image 'web'")
    assert "`created` time comes from the clock" in str(error.value.fix)


def test_gzip_only_difference(tmp_path: Path) -> None:
    report = _compare(tmp_path, {"layers": [BASE]}, {"layers": [BASE], "gzip_mtime": 1700000000})
    layer = _only_layer(report)
    assert layer.compression_only and layer.files == []
    assert layer.diff_id_a == layer.diff_id_b
    assert layer.notes == ["gzip header mtime: 0 != 1700000000"]
    [image] = report.images
    assert image.config == [] and image.manifest == []  # same config: the diff_ids are equal
    text = report.render()
    assert "compression differs only (same tar, diff_id sha256:" in text
    assert "gzip header mtime: 0 != 1700000000" in text


def test_tar_encoding_only_difference(tmp_path: Path) -> None:
    report = _compare(
        tmp_path, {"layers": [BASE]}, {"layers": [BASE], "tar_format": tarfile.GNU_FORMAT}
    )
    layer = _only_layer(report)
    assert not layer.compression_only and layer.files == [] and layer.order is None
    assert "the tar encoding differs" in layer.notes[0]


def test_layer_count_difference(tmp_path: Path) -> None:
    report = _compare(tmp_path, {}, {"layers": [BASE, APP, [Entry("extra", b"x")]]})
    [image] = report.images
    [layer] = image.layers
    assert (layer.index, layer.digest_a, layer.created_by) == (2, None, "nixbuild step 3")
    text = report.render()
    assert "layer count: 2 != 3" in text
    assert "layer 3 ('nixbuild step 3'): only in b, sha256:" in text
    assert "rootfs.diff_ids[2]" not in text  # explained by the layer line


def test_listed_files_are_capped(tmp_path: Path) -> None:
    many = [directory("many")] + [Entry(f"many/{i:03}", b"x") for i in range(60)]
    report = _compare(tmp_path, {"layers": [BASE, [directory("many")]]}, {"layers": [BASE, many]})
    layer = _only_layer(report)
    assert len(layer.files) == 50 and layer.files_omitted == 10
    assert "+ many/049" in report.render() and "... and 10 more" in report.render()


def test_duplicate_paths_are_kept_apart(tmp_path: Path) -> None:
    twice = [*APP, Entry("app/data.txt", b"later\n")]
    layer = _only_layer(_compare(tmp_path, {}, {"layers": [BASE, twice]}))
    assert [(f.change, f.path) for f in layer.files] == [("added", "app/data.txt (occurrence 2)")]


def test_index_only_difference(tmp_path: Path) -> None:
    report = _compare(tmp_path, {}, {"ref": "v2"})
    assert report.images == []
    [diff] = report.index
    assert diff.path == 'manifests[0].annotations["org.opencontainers.image.ref.name"]'
    assert (diff.a, diff.b) == ("latest", "v2")


def test_same_json_other_bytes(tmp_path: Path) -> None:
    root_a = write_layout(tmp_path / "a", [BASE])
    root_b = write_layout(tmp_path / "b", [BASE])
    index = root_b / "index.json"
    index.write_text(json.dumps(json.loads(index.read_text()), indent=2))
    report = compare(OciLayout(root_a), OciLayout(root_b))
    assert not report.identical
    assert report.notes == [
        "index.json has the same JSON values but different bytes "
        "(key order, whitespace or number spelling)"
    ]


def test_check_error_carries_the_report(tmp_path: Path) -> None:
    changed = app_with(Entry("app/main.py", b"print('hello')\n", mtime=5))
    report = _compare(tmp_path, {}, {"layers": [BASE, changed]})
    with pytest.raises(CheckError) as error:
        report.raise_if_different("image 'web'")
    assert error.value.message == report.render()
    assert error.value.where == "image 'web'"
    assert "clamp them (SOURCE_DATE_EPOCH)" in str(error.value.fix)
    assert error.value.exit_code == 7
