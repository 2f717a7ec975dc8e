"""What a history root's record holds (nixbuild/store/roots.py writes them), read back."""

from __future__ import annotations

from pydantic import BaseModel


class RootRecord(BaseModel):
    """One history root: which app and image it was built for, and what it holds."""

    app: str
    image: str
    store_path: str
    manifest_digest: str
    spec: str  # the spec file in the cache that it was built from


class AppRecord(BaseModel):
    app: str
