"""Builder: an image layer recompressed with zstd (``--compression zstd``).

Its input is a finished layer (any kind's output: ``layer.tar.gz`` and ``layer.json``), so the
layers a later step builds on stay gzip and are shared with the gzip image; only the image
assembly takes these. The tar is gunzipped, checked against the layer's diff_id (the same tar,
so the image config's diff_ids do not change), and compressed by Debian's zstd from the lock
(zstdtool.py: deterministic, and the same bytes whatever the number of threads).

Input: ``$layerSpecPath`` (JSON: layer (the gzip layer's output), tools (the zstd .debs),
level). Output in ``$out``: ``layer.tar.zst`` and ``layer.json`` (the layer's, with the zstd
blob's digest and size, ``mediaType`` and ``blob``, which oci_image.py reads).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys

from layertar import write_json
from pgzip import threads
from zstdtool import Zstd

BLOB = "layer.tar.zst"
MEDIA_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def build(spec: dict, out: str) -> None:
    with open(os.path.join(spec["layer"], "layer.json")) as f:
        meta = json.load(f)
    zstd = Zstd.from_debs(spec["tools"], os.path.join(os.environ.get("TMPDIR", "/tmp"), "zstd"))
    os.makedirs(out)
    blob = os.path.join(out, BLOB)
    diff_id = hashlib.sha256()
    with open(blob, "wb") as sink:
        proc = zstd.compressor(sink, level=spec["level"], threads=threads())
        with proc.stdin, gzip.open(os.path.join(spec["layer"], "layer.tar.gz"), "rb") as tar:
            while chunk := tar.read(1 << 20):
                diff_id.update(chunk)
                proc.stdin.write(chunk)
        if proc.wait() != 0:
            sys.exit(f"nixbuild: zstd failed (exit code {proc.returncode})")
    if "sha256:" + diff_id.hexdigest() != meta["diffId"]:
        sys.exit(f"nixbuild: {spec['layer']}: the tar does not match its diff_id {meta['diffId']}")
    digest = hashlib.sha256()
    with open(blob, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    meta.update(digest="sha256:" + digest.hexdigest(), size=os.path.getsize(blob), mediaType=MEDIA_LAYER_ZSTD,
                blob=BLOB)
    write_json(os.path.join(out, "layer.json"), meta)


if __name__ == "__main__":
    with open(os.environ["layerSpecPath"]) as f:
        build(json.load(f), os.environ["out"])
