"""tests/ocischema.py: the oracle accepts good layouts and names what is wrong in bad ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from ocischema import validate_json, validate_layout

from .layouts import APP, BASE, sha256, write_layout


def test_accepts_good_layouts(tmp_path: Path) -> None:
    validate_layout(write_layout(tmp_path / "gzip", [BASE, APP]))
    validate_layout(write_layout(tmp_path / "plain", [BASE], compression="none"))
    validate_layout(write_layout(tmp_path / "linked", [BASE, APP], blob_store=tmp_path / "store"))


def _drop(*keys: str) -> Callable[[dict], None]:
    def hook(document: dict) -> None:
        for key in keys:
            document.pop(key)

    return hook


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"manifest_hook": _drop("layers")}, "'layers' is a required property"),
        (
            {"manifest_hook": _drop("mediaType")},
            "mediaType must be application/vnd.oci.image.manifest.v1",
        ),
        (
            {"config_hook": _drop("architecture")},
            "config-schema.json:\n  at \\$: 'architecture' is a required",
        ),
        (
            {"config_hook": lambda c: c.update(created="yesterday")},
            "at \\$.created: 'yesterday' is not a 'date-time'",
        ),
        (
            {"config_hook": lambda c: c["config"].update(Env="A=1")},
            "at \\$.config.Env: 'A=1' is not of type 'array'",
        ),
        ({"config_hook": lambda c: c["rootfs"]["diff_ids"].pop()}, "2 layers but 1 diff_ids"),
        (
            {"config_hook": lambda c: c["rootfs"]["diff_ids"].__setitem__(1, sha256(b""))},
            "config diff_ids\\[1\\] says",
        ),
        (
            {"manifest_hook": lambda m: m["layers"][0].update(size=1)},
            "is \\d+ bytes, descriptor says 1",
        ),
        (
            {"manifest_hook": lambda m: m["layers"][1].update(digest="sha256:" + "0" * 64)},
            "blob sha256:0{64} is missing",
        ),
        (
            {"manifest_hook": lambda m: m["config"].update(digest="sha256:ABC")},
            "is not sha256:<64 lowercase hex>",
        ),
        (
            {"manifest_hook": lambda m: m["layers"][0].update(mediaType="application/x-tar")},
            "mediaType 'application/x-tar' is not an OCI layer type",
        ),
    ],
)
def test_rejects_bad_layouts(tmp_path: Path, options: dict, message: str) -> None:
    root = write_layout(tmp_path / "bad", [BASE, APP], **options)
    with pytest.raises(AssertionError, match=message):
        validate_layout(root)


def test_rejects_a_blob_whose_content_does_not_match_its_digest(tmp_path: Path) -> None:
    root = write_layout(tmp_path / "bad", [BASE, APP])
    manifest = json.loads(
        (
            root
            / "blobs"
            / "sha256"
            / json.loads((root / "index.json").read_text())["manifests"][0]["digest"][7:]
        ).read_text()
    )
    layer = root / "blobs" / "sha256" / manifest["layers"][1]["digest"][7:]
    data = bytearray(layer.read_bytes())
    data[20] ^= 1
    layer.write_bytes(bytes(data))
    with pytest.raises(
        AssertionError,
        match=f"layers\\[1\\] {manifest['layers'][1]['digest']}: blob .* has sha256:",
    ):
        validate_layout(root)


def test_rejects_bad_index_and_marker(tmp_path: Path) -> None:
    root = write_layout(tmp_path / "bad", [BASE])
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.1"}')
    with pytest.raises(AssertionError, match="oci-layout does not match image-layout-schema.json"):
        validate_layout(root)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = json.loads((root / "index.json").read_text())
    index["schemaVersion"] = 1
    (root / "index.json").write_text(json.dumps(index))
    with pytest.raises(AssertionError, match="schemaVersion: 1 is less than the minimum of 2"):
        validate_layout(root)


def test_cross_file_refs_resolve() -> None:
    # content-descriptor.json -> defs-descriptor.json -> defs.json, by relative file name.
    descriptor = {
        "mediaType": "a/b",
        "digest": "sha256:" + "0" * 64,
        "size": 1,
        "annotations": {"k": 1},
    }
    with pytest.raises(AssertionError, match="at \\$.annotations.k: 1 is not of type 'string'"):
        validate_json(descriptor, "content-descriptor.json", "descriptor")
    descriptor["annotations"] = {"k": "v"}
    validate_json(descriptor, "content-descriptor.json", "descriptor")
