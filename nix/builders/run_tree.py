"""Builder: a Python step's layer made as its tree (run_layer.py's passes, then
layer_tree.write_tree).

The steps above a Python step stack its tree (overlay.py). Made as a layer first, its
compression and then a second derivation unpacking it again (layer_tree.py) stood between
the step and the next one; written as its tree, the next step starts as soon as the
packages are installed, and tree_layer.py compresses the layer beside it, as for a deb layer.

Input: ``$layerSpecPath`` (run_layer.py's). Output in ``$out``: ``tree/``, ``index.json``,
``packed.json`` (layer_tree.write_tree).
"""

from __future__ import annotations

import layer_tree
import run_layer
from layertar import run_builder


def build(spec: dict, out: str) -> None:
    layer_tree.write_tree(run_layer.made(spec), out, spec["epoch"])


if __name__ == "__main__":
    run_builder(build)
