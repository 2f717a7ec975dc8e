"""Conda packages for ``Image.micromamba`` and ``micromamba_install``.

``channels`` turns channel names into URLs through configuration (conda's ``channel_alias``),
``solve`` resolves match specs against the channels' ``repodata.json`` with rattler's solver
(py-rattler, the library micromamba's successors are built on) and pins each package by URL
parts, sha256 and size; ``specfile`` reads ``micromamba install -f`` files. Linking the pinned
packages into the prefix happens at build time, in the Nix sandbox
(nix/builders/conda_layer.py).
"""
