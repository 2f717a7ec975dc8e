"""A conda package as the lock pins it (what :mod:`nixbuild.conda.solve` chose): kept apart
from the solver so that reading a lock never loads rattler."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from nixbuild.conda import channels as conda_channels


class CondaPin(BaseModel):
    """One conda package, pinned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    build: str
    channel: str = Field(description="the channel as the step named it (a name under the configured "
                                     "channel alias, or a URL)")
    subdir: str = Field(description="linux-64 or noarch")
    filename: str = Field(description=".conda or .tar.bz2 file in the channel's subdir")
    sha256: str
    size: int
    noarch: str | None = Field(None, description="python or generic for noarch packages")

    def url(self) -> str:
        """Where the package is, with the channel alias configured now."""
        return f"{conda_channels.channel_url(self.channel)}/{self.subdir}/{self.filename}"
