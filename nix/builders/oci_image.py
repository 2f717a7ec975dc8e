"""Builder: assemble an OCI image layout from finished layers.

Layer blobs are not copied: ``blobs/sha256/<digest>`` is a symlink to the layer's own store
path, so images that share steps share layer files, and an image costs only its JSON.
Every JSON document is written with sorted keys and no whitespace, so its digest depends
only on its content.

Input: ``$imageSpecPath`` (JSON: layers = store paths of layer outputs (gzip, or zstd ones
whose layer.json names ``mediaType`` and ``blob``), config, ref, created, architecture).
Output: the OCI layout in ``$out``.
"""

from __future__ import annotations

import hashlib
import json
import os

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Blobs:
    def __init__(self, root: str):
        self.dir = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.dir)

    def write(self, media_type: str, data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.dir, digest), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

    def link(self, media_type: str, meta: dict, target: str) -> dict:
        name = meta["digest"].removeprefix("sha256:")
        path = os.path.join(self.dir, name)
        if not os.path.lexists(path):  # two steps can produce byte-identical layers
            os.symlink(target, path)
        return {"mediaType": media_type, "digest": meta["digest"], "size": meta["size"]}


def build(spec: dict, out: str) -> None:
    metas = []
    for layer_dir in spec["layers"]:
        with open(os.path.join(layer_dir, "layer.json")) as f:
            metas.append(json.load(f))
    assemble(spec, metas, out)


def assemble(spec: dict, metas: list[dict], out: str) -> None:
    """The layout of ``spec`` whose layers (store paths) hold ``metas`` (their layer.json).
    The CLI's one-file edit (nixbuild/local/edit.py) calls it too, with a layer it made and
    has not imported yet."""
    blobs = Blobs(out)
    layers, diff_ids, history = [], [], []
    for layer_dir, meta in zip(spec["layers"], metas, strict=True):
        # A zstd layer (zstd_layer.py) names its blob and media type; every other is gzip.
        layers.append(blobs.link(meta.get("mediaType", MEDIA_LAYER_GZIP), meta,
                                 os.path.join(layer_dir, meta.get("blob", "layer.tar.gz"))))
        diff_ids.append(meta["diffId"])
        history.append({"created": spec["created"], "created_by": meta["createdBy"]})
    config = {
        "architecture": spec["architecture"],
        "os": "linux",
        "created": spec["created"],
        "config": spec["config"],
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_desc = blobs.write(MEDIA_CONFIG, canonical(config))
    manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": config_desc, "layers": layers}
    manifest_desc = blobs.write(MEDIA_MANIFEST, canonical(manifest))
    manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": spec["ref"]}
    manifest_desc["platform"] = {"architecture": spec["architecture"], "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [manifest_desc]}
    with open(os.path.join(out, "index.json"), "wb") as f:
        f.write(canonical(index))
    with open(os.path.join(out, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))


if __name__ == "__main__":
    with open(os.environ["imageSpecPath"]) as f:
        build(json.load(f), os.environ["out"])
