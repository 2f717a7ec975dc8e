"""Builder: one layer of a registry base (from_registry), reused byte for byte.

``layer.tar.gz`` is a symlink to the pinned blob's store path (a fixed-output path the CLI
seeded, named by the blob's sha256), so the image's blob is the registry's, never re-tarred
or re-compressed, and the store holds it once. The blob is read once here, gunzipped, to check
that its uncompressed tar has the diff ID the base's config gives: the config is what the
image's ``rootfs.diff_ids`` repeats, and a runtime checks a layer against it.

With ``dpkgStatus`` the layer holds the base's ``var/lib/dpkg/status``: it is copied out to
``$out/dpkg-status``, where an apt step's layer above reads the packages installed before it.

Input: ``$layerSpecPath`` (JSON: blob (store path), digest, size, diffId, dpkgStatus,
createdBy). Output in ``$out``: ``layer.tar.gz`` (the link), ``layer.json`` and, with
``dpkgStatus``, ``dpkg-status``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile

from layertar import run_builder, write_json

STATUS = "var/lib/dpkg/status"


def build(spec: dict, out: str) -> None:
    digest, size = hashlib.sha256(), 0
    with gzip.open(spec["blob"], "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    if "sha256:" + digest.hexdigest() != spec["diffId"]:
        raise SystemExit(f"layer {spec['digest']}: its tar has diff ID sha256:{digest.hexdigest()}, the base's "
                         f"config says {spec['diffId']}")
    os.makedirs(out)
    if spec.get("dpkgStatus"):
        with tarfile.open(spec["blob"], "r:gz") as tar:
            member = next(m for m in tar if m.isreg() and m.name.lstrip("./") == STATUS)
            with open(os.path.join(out, "dpkg-status"), "wb") as f:
                f.write(tar.extractfile(member).read())
    os.symlink(spec["blob"], os.path.join(out, "layer.tar.gz"))
    write_json(os.path.join(out, "layer.json"), {"digest": spec["digest"], "size": spec["size"],
                                                 "diffId": spec["diffId"], "uncompressedSize": size,
                                                 "createdBy": spec["createdBy"]})


if __name__ == "__main__":
    run_builder(build)
