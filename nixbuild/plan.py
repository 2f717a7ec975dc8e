"""Turn a locked image into the JSON spec that nix/default.nix builds.

This is the only module that knows both the lock and the shape the Nix library reads; it
knows no Nix syntax. Mirror URLs enter here, from configuration: they are not part of any
output path (fixed-output derivations are named by hash), so changing mirrors rebuilds nothing.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .api.image import Image
from .debian_slim import BASE_ENV
from .lock import BootstrapLock, DebPin, ImageLock, write_atomic
from .settings import Settings
from .api.steps import describe_step
from .chain import config_update, require_supported

EPOCH = 1  # 1970-01-01T00:00:01Z, as nixpkgs' dockerTools: some tools treat 0 as "unset"
CREATED = "1970-01-01T00:00:01Z"


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DebSource(Model):
    url: str
    sha256: str
    name: str


class Seed(Model):
    name: str = "busybox"
    narHash: str


class Bootstrap(Model):
    busybox: Seed
    debs: list[DebSource]


class LayerSpec(Model):
    kind: Literal["debs"]
    name: str
    createdBy: str
    base: bool = False
    debs: list[DebSource]


class ImageConfig(Model):
    """The ``config`` object of the OCI image config (only the keys we set)."""

    Env: list[str]
    WorkingDir: str | None = None
    Entrypoint: list[str] | None = None
    Cmd: list[str] | None = None


class ImageSpec(Model):
    name: str
    ref: str
    architecture: str
    created: str
    epoch: int
    bootstrap: Bootstrap
    layers: list[LayerSpec]
    config: ImageConfig

    def dumps(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), sort_keys=True, indent=1)


def _sources(pins: list[DebPin], settings: Settings) -> list[DebSource]:
    return [DebSource(url=settings.deb_url(p.archive, p.path), sha256=p.sha256, name=p.filename) for p in pins]


class ConfigState:
    """The image config as the chain's env/workdir/entrypoint/cmd steps leave it (Docker rules)."""

    def __init__(self) -> None:
        self.env: dict[str, str] = dict(BASE_ENV)
        self.workdir: str | None = None
        self.entrypoint: list[str] | None = None
        self.cmd: list[str] | None = None

    def set_workdir(self, path: str) -> None:
        # Docker: a relative WORKDIR is relative to the previous one.
        self.workdir = posixpath.normpath(posixpath.join(self.workdir or "/", path))

    def finish(self) -> ImageConfig:
        return ImageConfig(Env=[f"{k}={v}" for k, v in self.env.items()], WorkingDir=self.workdir,
                           Entrypoint=self.entrypoint, Cmd=self.cmd)


def image_spec(name: str, image: Image, locked: ImageLock, bootstrap: BootstrapLock,
               settings: Settings) -> ImageSpec:
    pins = {s.index: s.packages for s in locked.steps}
    layers: list[LayerSpec] = []
    config = ConfigState()
    for index, step in enumerate(image.steps):
        if index in pins:
            layers.append(LayerSpec(kind="debs", name=f"{index}-{step.kind}", createdBy=describe_step(step),
                                    base=step.kind == "debian_slim", debs=_sources(pins[index], settings)))
        elif not config_update(step, config):
            require_supported(name, image)  # raises, naming the step
    busybox = bootstrap.busybox
    return ImageSpec(
        name=name, ref="latest", architecture="amd64", created=CREATED, epoch=EPOCH,
        bootstrap=Bootstrap(busybox=Seed(narHash=bootstrap.busybox_nar_hash),
                            debs=_sources(bootstrap.python, settings)),
        layers=layers, config=config.finish(),
    )


def write_spec(spec: ImageSpec, settings: Settings) -> Path:
    """Store the spec content-addressed, so an unchanged spec keeps the same file."""
    text = spec.dumps()
    path = settings.cache_dir / "specs" / f"{spec.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not path.exists():
        write_atomic(path, text)
    return path
