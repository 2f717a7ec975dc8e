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


# Nothing but the image waits for this derivation, while the steps above the tree (the build's
# critical path) run beside it on the same cores: it takes only what they leave. On debian_slim
# the base layer's compression slowed its Python step from 4.0 to 6.2 s.
NICENESS = 19


def _yield_cpu() -> None:
    """Run at the lowest priority: niceness for this thread and the threads it starts (pgzip's;
    Linux keeps one per thread), and for its autogroup, which is what the kernel weighs against
    the other builders (Nix starts each in a session of its own, and a session is an autogroup
    where the kernel has them: a niceness alone counts only inside it)."""
    os.nice(NICENESS)
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(NICENESS))
    except OSError:
        pass  # no autogroups here: the niceness is what counts


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
    _yield_cpu()  # as a builder only: not in the tests, which call build()
    run_builder(build)
