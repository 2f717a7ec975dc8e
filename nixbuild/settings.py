"""Where nixbuild keeps things and which mirrors it uses: configuration, not code."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nixbuild import rebuild
from nixbuild.debian.sources import Mirrors, configured_mirrors


class Settings(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, ignored_types=(cached_property,))

    cache_dir: Path
    # MODAL_FORCE_BUILD / MODAL_IGNORE_CACHE (NIXBUILD_ aliases): see nixbuild/rebuild.py.
    force_build: bool = False
    ignore_cache: bool = False

    @classmethod
    def from_env(cls) -> "Settings":
        cache = os.environ.get("NIXBUILD_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nixbuild")
        wanted = rebuild.from_env()
        return cls(cache_dir=Path(cache), force_build=wanted.force_build, ignore_cache=wanted.ignore_cache)

    @cached_property
    def mirrors(self) -> Mirrors:
        # Read lazily: a warm build with an unchanged lock never needs them.
        return configured_mirrors()

    def deb_url(self, archive: str, path: str) -> str:
        return f"{self.mirrors.base_url(archive)}/{path}"
