"""nixbuild: build Modal-style container images locally and reproducibly with Nix.

App files may use ``nixbuild.Image``, ``nixbuild.Secret`` and ``nixbuild.App`` directly, or
``import modal`` (see :mod:`nixbuild.modal_shim`). The exports load lazily so that importing
a submodule such as :mod:`nixbuild.errors` stays cheap for the CLI.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without loading typing: the no-op build starts here
if TYPE_CHECKING:
    from typing import Any

    from nixbuild.api import Image, Secret
    from nixbuild.modal_shim.app import App

__all__ = ["App", "Image", "Secret"]


def __getattr__(name: str) -> Any:
    if name in ("Image", "Secret"):
        import nixbuild.api

        return getattr(nixbuild.api, name)
    if name == "App":
        from nixbuild.modal_shim.app import App

        return App
    raise AttributeError(f"module 'nixbuild' has no attribute {name!r}")
