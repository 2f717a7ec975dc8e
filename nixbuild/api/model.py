"""The base class of every model the Image API hands to the rest of nixbuild."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """An immutable, strict-shaped pydantic model.

    Step models are hashed into the lock, so they must not change after an Image is defined
    (``frozen``) and must not silently carry unknown data (``extra="forbid"``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
