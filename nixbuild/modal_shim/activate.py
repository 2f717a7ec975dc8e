"""Make ``import modal`` resolve to the shim, for the duration of a block.

The shim replaces ``modal`` even when the real client is installed: nixbuild needs its own
``Image`` objects, and the real client would try to reach Modal's servers.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

from nixbuild.modal_shim import submodules


def shim_modules() -> dict[str, ModuleType]:
    """``{"modal": shim, "modal.exception": ..., "modal.experimental.flash": ..., ...}``: the
    shim, its files that are Modal submodules, and the submodules built from its parts."""
    modules = {"modal": importlib.import_module("nixbuild.modal_shim")}
    for name in submodules.FILES:
        modules[f"modal.{name}"] = importlib.import_module(f"nixbuild.modal_shim.{name}")
    modules.update(submodules.built_modules())
    return modules


@contextlib.contextmanager
def modal_shim_active() -> Iterator[ModuleType]:
    """Within the block ``sys.modules["modal"]`` is the shim; afterwards every ``modal`` and
    ``modal.*`` entry is as it was (a real client imported earlier is hidden meanwhile)."""
    saved = {name: module for name, module in sys.modules.items() if _is_modal(name)}
    for name in saved:
        del sys.modules[name]
    modules = shim_modules()
    sys.modules.update(modules)
    try:
        yield modules["modal"]
    finally:
        for name in [name for name in sys.modules if _is_modal(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def _is_modal(name: str) -> bool:
    return name == "modal" or name.startswith("modal.")
