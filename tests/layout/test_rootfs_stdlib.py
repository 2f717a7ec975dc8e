"""nixbuild/oci/rootfs.py runs in two interpreters: the CLI's and the bootstrap Python of the
Nix sandbox, where only the standard library exists (nix/bootstrap.nix gives the builders that
one file). So it imports nothing else, nixbuild included."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOTFS = Path(__file__).resolve().parents[2] / "nixbuild" / "oci" / "rootfs.py"


def test_rootfs_imports_only_the_standard_library():
    tree = ast.parse(ROOTFS.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import in rootfs.py: line {node.lineno}"
            imported.add(node.module.split(".")[0])
    assert imported, "no imports found: the walk is broken"
    assert imported <= sys.stdlib_module_names | {"__future__"}, imported - sys.stdlib_module_names
