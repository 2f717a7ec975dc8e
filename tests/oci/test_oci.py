"""nixbuild.oci.layout: reading layouts, verifying blobs, streaming layers, summaries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nixbuild.errors import NixbuildError
from nixbuild.oci.layout import Manifest, OciLayout, summarize

from .layouts import APP, BASE, Entry, sha256, tar_bytes, write_layout


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return write_layout(tmp_path / "image", [BASE, APP])


def _index_entry(root: Path) -> dict:
    return json.loads((root / "index.json").read_text())["manifests"][0]


def test_summarize(image: Path) -> None:
    summary = summarize(OciLayout(image))
    manifest = OciLayout(image).manifest()
    assert summary.ref == "latest"
    assert summary.manifest_digest == _index_entry(image)["digest"]
    assert summary.config_digest == manifest.config.digest
    assert (summary.architecture, summary.os, summary.created) == (
        "amd64",
        "linux",
        "1970-01-01T00:00:01Z",
    )
    assert [layer.entries for layer in summary.layers] == [len(BASE), len(APP)]
    assert [layer.diff_id for layer in summary.layers] == [
        sha256(tar_bytes(BASE)),
        sha256(tar_bytes(APP)),
    ]
    assert [layer.uncompressed_size for layer in summary.layers] == [
        len(tar_bytes(BASE)),
        len(tar_bytes(APP)),
    ]
    assert [layer.compressed_size for layer in summary.layers] == [d.size for d in manifest.layers]
    assert [layer.digest for layer in summary.layers] == [d.digest for d in manifest.layers]
    assert summary.total_compressed_size == sum(d.size for d in manifest.layers)
    assert [layer.created_by for layer in summary.layers] == ["nixbuild step 1", "nixbuild step 2"]


def test_models(image: Path) -> None:
    layout = OciLayout(image)
    [entry] = layout.manifests()
    assert entry.ref_name == "latest"
    manifest = layout.manifest("latest")
    assert manifest == layout.manifest() == layout.manifest(entry.digest) == layout.manifest(entry)
    config = layout.config(manifest)
    assert config.config is not None
    assert config.config.env == ["PATH=/usr/bin:/bin"]
    assert config.config.cmd == ["/bin/sh"]
    assert [h.created_by for h in config.layer_history() if h] == [
        "nixbuild step 1",
        "nixbuild step 2",
    ]
    assert [diff_id for _, diff_id in layout.layers(manifest)] == config.rootfs.diff_ids
    # A document read and dumped again is the same JSON (unknown fields included).
    raw = json.loads(layout.read_blob(entry))
    raw["x-extra"] = {"kept": True}
    assert Manifest.model_validate(raw).to_json() == raw


def test_unknown_ref_names_the_refs(image: Path) -> None:
    with pytest.raises(NixbuildError, match="no image 'nope'.*'latest'"):
        OciLayout(image).manifest("nope")


def test_iter_layer_streams_members_and_checks_digests(image: Path) -> None:
    layout = OciLayout(image)
    (base, base_id), _ = layout.layers(layout.manifest())
    stream = layout.iter_layer(base, base_id)
    seen = {info.name: (content.read() if content else None) for info, content in stream}
    assert seen["etc/os-release"] == b"ID=test\n"
    assert seen["bin"] is None
    assert list(seen) == [e.path for e in BASE]
    assert stream.uncompressed_digest == base_id
    assert stream.uncompressed_size == len(tar_bytes(BASE))
    entries = {e.path: e for e in layout.iter_layer(base).entries()}
    assert entries["usr/bin/tool"].mode == 0o755
    assert entries["usr/bin/tool"].sha256 == sha256(b"#!/bin/sh\necho tool\n")
    assert entries["bin"].type == "symlink" and entries["bin"].linkname == "usr/bin"
    assert entries["usr"].type == "directory" and entries["usr"].sha256 is None


def test_uncompressed_layers(tmp_path: Path) -> None:
    root = write_layout(tmp_path / "plain", [BASE], compression="none")
    [layer] = summarize(OciLayout(root)).layers
    assert layer.compressed_size == layer.uncompressed_size == len(tar_bytes(BASE))
    assert layer.entries == len(BASE)


def test_blob_symlinks_are_followed(tmp_path: Path) -> None:
    root = write_layout(tmp_path / "linked", [BASE, APP], blob_store=tmp_path / "store")
    layout = OciLayout(root)
    assert layout.blob_path(layout.manifests()[0].digest).is_symlink()
    assert [layer.entries for layer in summarize(layout).layers] == [len(BASE), len(APP)]


def test_wrong_digest_names_the_blob(image: Path) -> None:
    layout = OciLayout(image)
    manifest = layout.manifest()
    path = layout.blob_path(manifest.config.digest)
    data = bytearray(path.read_bytes())
    data[-2] ^= 1  # same size, other bytes
    path.write_bytes(bytes(data))
    with pytest.raises(
        NixbuildError, match=f"blob {manifest.config.digest} has digest sha256:"
    ) as error:
        layout.config(manifest)
    assert error.value.where == str(path)
    assert layout.read_blob(manifest.config, verify=False) == bytes(data)


def test_wrong_size_names_the_blob(image: Path) -> None:
    layout = OciLayout(image)
    config = layout.manifest().config
    wrong = config.model_copy(update={"size": config.size + 1})
    with pytest.raises(
        NixbuildError, match=f"blob {config.digest} is {config.size} bytes, its descriptor says"
    ):
        layout.read_blob(wrong)


def test_corrupt_layer_is_found_when_the_stream_ends(image: Path) -> None:
    layout = OciLayout(image)
    (layer, diff_id), _ = layout.layers(layout.manifest())
    path = layout.blob_path(layer.digest)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # inside the gzip trailer (CRC/size): the tar itself still reads
    path.write_bytes(bytes(data))
    with pytest.raises(NixbuildError, match=layer.digest):
        list(layout.iter_layer(layer, diff_id))


def test_wrong_diff_id(tmp_path: Path) -> None:
    def lie(config: dict) -> None:
        config["rootfs"]["diff_ids"][0] = sha256(b"something else")

    layout = OciLayout(write_layout(tmp_path / "lie", [BASE], config_hook=lie))
    [(layer, diff_id)] = layout.layers(layout.manifest())
    with pytest.raises(NixbuildError, match="unpacks to sha256:.*but the image config names it"):
        list(layout.iter_layer(layer, diff_id))


def test_missing_and_dangling_blobs(tmp_path: Path) -> None:
    root = write_layout(tmp_path / "linked", [BASE], blob_store=tmp_path / "store")
    layout = OciLayout(root)
    config = layout.manifest().config
    (tmp_path / "store" / config.digest.split(":")[1]).unlink()
    with pytest.raises(NixbuildError, match="dangling symlink"):
        layout.config(layout.manifest())
    (root / "blobs" / "sha256" / config.digest.split(":")[1]).unlink()
    with pytest.raises(NixbuildError, match=f"blob {config.digest} is missing"):
        layout.config(layout.manifest())


def test_malformed_digest_cannot_escape_blobs(image: Path) -> None:
    with pytest.raises(NixbuildError, match="malformed or unsupported digest"):
        OciLayout(image).blob_path("sha256:../../index.json")


def test_not_a_layout(tmp_path: Path) -> None:
    with pytest.raises(NixbuildError, match="not a directory"):
        OciLayout(tmp_path / "nothing")
    with pytest.raises(NixbuildError, match="no oci-layout file"):
        OciLayout(tmp_path)
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')
    with pytest.raises(NixbuildError, match="imageLayoutVersion"):
        OciLayout(tmp_path)
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (tmp_path / "index.json").write_text('{"schemaVersion": 2}')
    with pytest.raises(NixbuildError, match="index.json is not a valid Index: manifests"):
        OciLayout(tmp_path)


def test_zstd_without_a_decompressor_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail, as if the module were not installed.
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "compression", None)
    layout = OciLayout(write_layout(tmp_path / "zstd", [[Entry("a", b"a")]], compression="zstd"))
    [(layer, diff_id)] = layout.layers(layout.manifest())
    with pytest.raises(NixbuildError, match="zstd-compressed") as error:
        list(layout.iter_layer(layer, diff_id))
    assert "zstandard" in str(error.value.fix)
    assert layer.digest in str(error.value.where)


def test_several_images_and_nested_indexes(image: Path) -> None:
    index_path = image / "index.json"
    index = json.loads(index_path.read_text())
    nested = {**index["manifests"][0], "mediaType": "application/vnd.oci.image.index.v1+json"}
    nested["annotations"] = {"org.opencontainers.image.ref.name": "multi"}
    index["manifests"].append(nested)
    index_path.write_text(json.dumps(index))
    layout = OciLayout(image)
    with pytest.raises(NixbuildError, match="holds 2 images \\('latest', 'multi'\\); say which"):
        layout.manifest()
    assert layout.manifest("latest").layers
    with pytest.raises(NixbuildError, match="image 'multi' is a multi-platform index"):
        layout.manifest("multi")
