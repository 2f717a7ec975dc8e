"""Builder: a layer made from its tree (deb_layer.py's or run_tree.py's output).

A deb layer's packages are unpacked and configured into a tree first, and a Python step's
installed into one, the tree the steps above stack (overlay.py); this derivation writes the
layer from it. The steps above depend on the tree, not on this, so the layer's compression
(~8 s for debian_slim's 497 MiB on two cores) runs beside them instead of before them.

The tree holds each file's bytes and ``index.json`` each path's tar header, so the entries
rebuilt from them (overlay.layer_entries) give the tar the tree was unpacked from, byte for
byte, when every member landed at the path it names (``exact`` in ``packed.json``); its
diffId is checked against the one recorded there, and a difference fails the build. A tree
that is not exact carries the layer itself, which is copied.

Input: ``$layerSpecPath`` (JSON: tree, createdBy, epoch). Output in ``$out``:
``layer.tar.gz``, ``layer.json`` (digests, sizes), ``dpkg-status`` (a deb layer's tree's).
"""

from __future__ import annotations

import json
import os
import shutil

import overlay
from layertar import PACKED, run_builder, write_json, write_layer


def build(spec: dict, out: str) -> None:
    tree = spec["tree"]
    with open(os.path.join(tree, PACKED)) as f:
        packed = json.load(f)
    os.makedirs(out)
    if packed["exact"]:
        lower = overlay.tree(tree)
        if isinstance(lower, str):
            raise SystemExit(f"nixbuild: the tree of {tree} cannot give its layer back: {lower}")
        meta = write_layer(overlay.layer_entries(lower), out, epoch=spec["epoch"])
        if (meta["diffId"], meta["uncompressedSize"]) != (packed["diffId"], packed["uncompressedSize"]):
            raise SystemExit(f"nixbuild: the layer written from the tree {tree} is not the tar it was unpacked "
                             f"from ({meta['diffId']}, {meta['uncompressedSize']} bytes; recorded: "
                             f"{packed['diffId']}, {packed['uncompressedSize']} bytes)")
    else:
        shutil.copyfile(os.path.join(tree, "layer.tar.gz"), os.path.join(out, "layer.tar.gz"))
        meta = packed["layer"]
    meta["createdBy"] = spec["createdBy"]
    write_json(os.path.join(out, "layer.json"), meta)
    if os.path.exists(os.path.join(tree, "dpkg-status")):  # a deb layer's
        shutil.copyfile(os.path.join(tree, "dpkg-status"), os.path.join(out, "dpkg-status"))


if __name__ == "__main__":
    run_builder(build)
