"""What a conda step asks for: the match specs and channels of ``Image.micromamba`` and
``micromamba_install``, as Modal's commands pass them to micromamba
(``install -n base -y python={ver} pip -c conda-forge``;
``install {packages} [-f /{spec_file} -n base] [-c ch]...``: a spec file's own channels come
after the step's, as micromamba appends them)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nixbuild.api.steps import Micromamba, MicromambaInstall, Step
from nixbuild.conda import base, specfile


class Request(BaseModel):
    model_config = ConfigDict(frozen=True)

    specs: tuple[str, ...]
    channels: tuple[str, ...]


def request_of(step: Step, cwd: Path) -> Request | None:
    """The step's specs and channels (None: not a conda step). A spec file is read from
    ``cwd``, so its contents are part of the step's identity."""
    if isinstance(step, Micromamba):
        return Request(specs=tuple(base.specs(step.python_version_resolved)), channels=base.CHANNELS)
    if not isinstance(step, MicromambaInstall):
        return None
    specs, channels = list(step.packages), list(step.channels)
    if step.spec_file is not None:
        spec = specfile.read(cwd / step.spec_file)
        specs += spec.specs
        channels += [c for c in spec.channels if c not in channels]
    return Request(specs=tuple(specs), channels=tuple(channels))


def requested_spec(request: Request, name: str) -> str:
    """The spec of ``request`` that names package ``name`` ("" for a dependency), as
    micromamba records it in conda-meta."""
    import rattler  # the solver's own MatchSpec parser; loaded only where a conda step is planned

    return next((s for s in request.specs if rattler.MatchSpec(s).name.normalized == name), "")
