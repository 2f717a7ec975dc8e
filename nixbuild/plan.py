"""Turn a locked image into the JSON spec that nix/default.nix builds.

This is the only module that knows both the lock and the shape the Nix library reads; it
knows no Nix syntax. Mirror URLs enter here, from configuration: they are not part of any
output path (fixed-output derivations are named by hash), so changing mirrors rebuilds nothing.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import shlex
import posixpath
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from nixbuild.api.gpu import GpuSpec
from nixbuild.api.image import Image
from nixbuild.conda import base as conda_base, steps as conda_steps
from nixbuild.debian.slim import BASE_ENV, BASE_PYTHON_TOOLS
from nixbuild.lock import BootstrapLock, DebPin, ImageLock, StepLock, write_atomic
from nixbuild.settings import Settings
from nixbuild.api.steps import AptInstall, CopyFrom, ImageMetadata, RunCommands, RunFunction, UvPipInstall, UvSync, describe_step
from nixbuild.chain import LOCAL_KINDS, PYTHON_KINDS, ROOT_USERS, config_update, require_supported, step_where
from nixbuild.errors import InvalidError
from nixbuild.local.tree import LocalTree, relative_sources
from nixbuild.python.git_source import GitPin
from nixbuild.python.inputs import venv_of
from nixbuild.python.resolve import FilePin
from nixbuild.python.sdist import SdistPin
from nixbuild.python.standalone import TERMINFO_DIRS
from nixbuild.registry.blobs import store_name
from nixbuild.registry.pin import InheritedConfig, RegistryPin

EPOCH = 1  # 1970-01-01T00:00:01Z, as nixpkgs' dockerTools: some tools treat 0 as "unset"
CREATED = "1970-01-01T00:00:01Z"
# Environment of run_commands steps only (the image's Env and the step's env= win): no
# stray .pyc files from the commands' Python imports in the layer, and tools that honour
# SOURCE_DATE_EPOCH (pip's byte-compilation, gzip, ...) write reproducible files.
RUN_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "SOURCE_DATE_EPOCH": str(EPOCH)}


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DebSource(Model):
    url: str
    sha256: str
    name: str


class Seed(Model):
    name: str
    narHash: str


class Bootstrap(Model):
    busybox: Seed
    debs: list[DebSource]


class ToolchainSpec(Model):
    """What nix/toolchain.nix reads: an image spec's ``bootstrap`` alone."""
    bootstrap: Bootstrap


class _Layer(Model):
    name: str
    createdBy: str
    # force_build: a value new to every build, so Nix builds this layer again.
    nonce: str | None = None


class DebLayer(_Layer):
    kind: Literal["debs"] = "debs"
    base: bool = False
    debs: list[DebSource]
    # gpu= on apt_install: Nix system features a builder must advertise to build the layer.
    systemFeatures: list[str] = []


class ArchiveSource(Model):
    url: str
    sha256: str
    name: str


class BlobSource(Model):
    name: str  # the store name the CLI seeds it under (nixbuild.registry.blobs.store_name)
    sha256: str  # hex


class RegistryLayer(_Layer):
    """A layer of a registry base: its blob, byte for byte (builders/registry_layer.py)."""

    kind: Literal["registry"] = "registry"
    blob: BlobSource
    digest: str
    size: int
    diffId: str
    # The layer holds the base's dpkg status: apt steps above record their packages on it.
    dpkgStatus: bool = False


class StandaloneLayer(_Layer):
    """python-build-standalone's ``install_only`` archive: its ``python/`` tree under
    /usr/local (builders/python_layer.py), as Modal's add_python copies it, less the pip it
    bundles (the pinned pip is installed in the next layer, as ``pip install --upgrade``)."""

    kind: Literal["standalone"] = "standalone"
    archive: ArchiveSource


class TreeSource(Model):
    """A file of a local tree named relative to the flake's root (``src``), its path in the
    tree (``dest``) and its executable bit."""

    src: str
    dest: str
    executable: bool


class FilesLayer(_Layer):
    """Local files: a tree seeded into the store (named by its NAR hash), laid out as in the
    image, and the permission bits a NAR cannot carry."""

    kind: Literal["files"] = "files"
    tree: Seed
    modes: dict[str, int] = {}
    # A flake's spec (`nixbuild plan --flake-root`): the tree's files by their path in the
    # flake, so Nix lays the tree out itself when it is not in the store (same NAR hash).
    sources: list[TreeSource] | None = None
    # The layer itself, made by the CLI without a sandbox (nixbuild/local/layer.py) and seeded
    # by its NAR hash: Nix takes it as it is, in place of building the derivation.
    made: Seed | None = None


class RunLayer(_Layer):
    """Shell commands run in a chroot of the layers below. A ``network`` step is a
    fixed-output derivation (network on) whose ``outputHash`` comes from the lock; when the
    lock has none yet, Nix is given a placeholder and reports the real hash, which the build
    records. ``inputs`` (not read by Nix) identifies the step and everything below it, so a
    recorded hash is only trusted for exactly what it was recorded for."""

    kind: Literal["run"] = "run"
    commands: list[str]
    env: list[str]
    workdir: str
    shell: list[str]
    network: bool = False
    outputHash: str | None = None
    inputs: str = ""
    # The environment variable that carries the step's secrets (JSON) from the CLI to the
    # builder, as an impure variable of the fixed-output derivation: the values never enter
    # a derivation, the store or this spec.
    secretVar: str | None = None
    # gpu=: Nix system features a builder must advertise to run the step.
    systemFeatures: list[str] = []


class WheelSource(Model):
    url: str
    sha256: str
    name: str  # the file's name: the installer reads a wheel's tags from it


class SdistSource(WheelSource):
    """An sdist and what building it needs (nix/builders/python_install.py builds it)."""

    project: str
    version: str
    backend: str
    backendPath: list[str] = []
    build: list[WheelSource]


class CheckoutSource(Model):
    """A package's git checkout, seeded into the store by the CLI and named by its NAR hash
    (nixbuild.python.git_source), built as an sdist is."""

    name: str
    narHash: str
    project: str
    version: str
    backend: str
    backendPath: list[str] = []
    build: list[WheelSource]


class WheelsLayer(_Layer):
    """Pinned wheels (and wheels built from pinned sdists) installed by pypa's installer, run
    by the image's own Python in a chroot of the layers below (Debian's scheme:
    /usr/local/lib/python3.X/dist-packages)."""

    kind: Literal["wheels"] = "wheels"
    wheels: list[WheelSource]
    sdists: list[SdistSource | CheckoutSource] = []
    installer: WheelSource
    env: list[str]
    venv: str | None = None  # install into this virtual environment (made when missing)
    uvLink: bool = False  # Modal's uv steps leave their uv at /.uv/uv: link the image's there
    # gpu=: Nix system features a builder must advertise to build the layer (sdists that
    # look for CUDA while they compile).
    systemFeatures: list[str] = []


class CopyLayer(_Layer):
    """``COPY --from``: paths out of another chain's filesystem (builders/copy_layer.py),
    whose layers are ``stage`` (the same derivations that chain's own build makes)."""

    kind: Literal["copy"] = "copy"
    stage: list["LayerSpec"]
    sources: list[str]
    dest: str
    intoDir: bool


class CondaPackageSource(Model):
    url: str  # where to fetch it (from the configured channel alias): not seen by the linker
    sha256: str
    name: str  # the package's file name (.conda or .tar.bz2): the linker reads its format from it
    size: int
    # Recorded in conda-meta as the lock has them: the channel as the step named it, so that the
    # configured alias (a mirror) never changes the image.
    channel: str
    subdir: str
    requested: str  # the step's spec naming the package ("" for a dependency)


class CondaLayer(_Layer):
    """Conda packages linked into ``prefix`` as micromamba links them (builders/conda_layer.py),
    in dependency order; ``tools``: the pinned Debian zstd that unpacks ``.conda`` files;
    ``pythonSeries``: the environment's Python, for noarch:python packages."""

    kind: Literal["conda"] = "conda"
    prefix: str
    pythonSeries: str | None
    packages: list[CondaPackageSource]
    tools: list[DebSource]
    systemFeatures: list[str] = []


LayerSpec = Annotated[DebLayer | RegistryLayer | StandaloneLayer | FilesLayer | RunLayer | WheelsLayer | CopyLayer
                      | CondaLayer,
                      Field(discriminator="kind")]
CopyLayer.model_rebuild()


class ImageConfig(Model):
    """The ``config`` object of the OCI image config (only the keys we set)."""

    Env: list[str]
    WorkingDir: str | None = None
    Entrypoint: list[str] | None = None
    Cmd: list[str] | None = None
    # Dockerfile LABEL / EXPOSE / VOLUME / STOPSIGNAL / USER (dockerfile_commands).
    Labels: dict[str, str] | None = None
    ExposedPorts: dict[str, dict] | None = None
    Volumes: dict[str, dict] | None = None
    StopSignal: str | None = None
    User: str | None = None


class Compression(Model):
    """How the image's layers are compressed, when not gzip (nix/default.nix ``compression``)."""

    kind: Literal["zstd"]
    level: int
    tools: list[DebSource]


class ImageSpec(Model):
    name: str
    ref: str
    architecture: str
    created: str
    epoch: int
    bootstrap: Bootstrap
    layers: list[LayerSpec]
    config: ImageConfig
    compression: Compression | None = None

    def dumps(self) -> str:
        return _dumps(self)


def _dumps(model: BaseModel) -> str:
    """A spec's text: the same model gives the same bytes (write_spec names files by them)."""
    return json.dumps(model.model_dump(mode="json", exclude_none=True), sort_keys=True, indent=1)


def _wheel(pin: FilePin) -> WheelSource:
    return WheelSource(url=pin.url, sha256=pin.sha256, name=pin.filename)


def _sdist(pin: SdistPin) -> SdistSource:
    return SdistSource(url=pin.url, sha256=pin.sha256, name=pin.filename, project=pin.name, version=pin.version,
                       backend=pin.backend, backendPath=pin.backend_path, build=[_wheel(w) for w in pin.build])


def _checkout(pin: GitPin) -> CheckoutSource:
    return CheckoutSource(name=pin.store_name, narHash=pin.nar_hash, project=pin.name,
                          version=pin.version or pin.commit[:12], backend=pin.backend,
                          backendPath=pin.backend_path, build=[_wheel(w) for w in pin.build])


def _sources(pins: list[DebPin], settings: Settings) -> list[DebSource]:
    return [DebSource(url=settings.deb_url(p.archive, p.path), sha256=p.sha256, name=p.filename) for p in pins]


class ConfigState:
    """The image config as the chain's env/workdir/entrypoint/cmd steps leave it (Docker rules)."""

    def __init__(self) -> None:
        self.env: dict[str, str] = dict(BASE_ENV)
        self.workdir: str | None = None
        self.entrypoint: list[str] | None = None
        self.cmd: list[str] | None = None
        self.shell: list[str] = ["/bin/sh", "-c"]  # Docker's default SHELL, for RUN steps
        self.labels: dict[str, str] = {}
        self.exposed_ports: list[str] = []
        self.volumes: list[str] = []
        self.stop_signal: str | None = None
        self.user: str | None = None
        self.cmd_inherited = False  # Cmd came from a registry base's config

    def inherit(self, base: InheritedConfig) -> None:
        """Start from a registry base's config, as Docker's FROM does."""
        self.env = dict(item.partition("=")[::2] for item in base.env)
        self.workdir, self.user, self.stop_signal = base.working_dir, base.user, base.stop_signal
        self.entrypoint, self.cmd = base.entrypoint, base.cmd
        self.cmd_inherited = base.cmd is not None
        self.labels, self.exposed_ports, self.volumes = dict(base.labels), list(base.exposed_ports), list(base.volumes)
        self.shell = list(base.shell or self.shell)

    def set_entrypoint(self, args: list[str]) -> None:
        # Docker: an ENTRYPOINT clears the CMD the base image set (not one set after FROM).
        if self.cmd_inherited:
            self.cmd, self.cmd_inherited = None, False
        self.entrypoint = args

    def set_cmd(self, args: list[str]) -> None:
        self.cmd, self.cmd_inherited = args, False

    def set_workdir(self, path: str) -> None:
        # Docker: a relative WORKDIR is relative to the previous one.
        self.workdir = posixpath.normpath(posixpath.join(self.workdir or "/", path))

    def finish(self) -> ImageConfig:
        # Modal runs functions in /root (where add_local_python_source puts modules): so does
        # the image, under any runtime, when the chain sets no working directory.
        return ImageConfig(Env=[f"{k}={v}" for k, v in self.env.items()], WorkingDir=self.workdir or "/root",
                           Entrypoint=self.entrypoint, Cmd=self.cmd,
                           Labels=self.labels or None,
                           ExposedPorts={port: {} for port in self.exposed_ports} or None,
                           Volumes={path: {} for path in self.volumes} or None,
                           StopSignal=self.stop_signal, User=self.user)


def secret_var(index: int) -> str:
    return f"NIXBUILD_SECRETS_{index}"


def _inputs_key(below: list[LayerSpec], layer: RunLayer) -> str:
    parts = [item.model_dump(mode="json", exclude={"createdBy", "nonce"}) for item in [*below, layer]]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def gpu_features(gpu: GpuSpec) -> list[str]:
    """``cuda`` for any GPU, plus ``gpu-<type>`` unless any type will do."""
    return ["cuda"] + ([] if gpu.type == "ANY" else [f"gpu-{gpu.type.lower()}"])


def function_command(step: RunFunction) -> str:
    """The shell command that runs a run_function step with the image's Python.

    The function's whole module goes along (as in Modal, which imports it in the container),
    so an edit anywhere in that file builds the step again.
    """
    module_file = inspect.getsourcefile(step.function)
    payload = {"module": step.module, "module_file": step.module_file, "function": step.function_name,
               "module_text": Path(module_file).read_text(), "arguments": step.arguments_pickle}
    encoded = base64.b64encode(json.dumps(payload, sort_keys=True).encode()).decode()
    return shlex.join(["python3", "-c", _RUNNER, encoded])


_RUNNER = (Path(__file__).parent / "function_runner.py").read_text()


def forced_from(image: Image, force_all: bool) -> int | None:
    """The first step that force_build (or NIXBUILD_FORCE_BUILD) rebuilds: it and every step
    after it are built again, as in Modal, where a forced layer changes all that follow."""
    if force_all:
        return 0
    return next((i for i, step in enumerate(image.steps) if getattr(step, "force_build", False)), None)


def _step_env(config: ConfigState, step) -> list[str]:
    """A build step's environment: the image's, then the step's own ``env=`` (not kept)."""
    return [f"{k}={v}" for k, v in {**RUN_ENV, **config.env, **getattr(step, 'env', {})}.items()]


def _run_layer(index: int, step: RunCommands | RunFunction, common: dict, config: ConfigState,
               below: list[LayerSpec], locked: ImageLock, needs_network: bool) -> RunLayer:
    commands = list(step.commands) if isinstance(step, RunCommands) else [function_command(step)]
    update: dict = {}
    if step.gpu is not None:
        update["systemFeatures"] = gpu_features(step.gpu)
    if step.secrets:
        # Secret values can only reach a fixed-output derivation (as impure variables).
        update.update(network=True, secretVar=secret_var(index))
    layer = RunLayer(**common, commands=commands, env=_step_env(config, step), workdir=config.workdir or "/",
                     shell=config.shell, **update)
    layer = layer.model_copy(update={"inputs": _inputs_key(below, layer)})
    record = locked.output(index)
    if record is not None and record.inputs == layer.inputs:
        return layer.model_copy(update={"network": True, "outputHash": record.output_hash})
    return layer.model_copy(update={"network": True}) if needs_network else layer


def _pinned_layers(step, pinned: StepLock, common: dict, config: ConfigState, bootstrap: BootstrapLock,
                   settings: Settings, below: list[StepLock] = ()) -> list[LayerSpec]:
    """A resolving step's layers: its Debian packages, its conda packages, then its Python
    distributions (none when earlier steps installed all it asks for). ``below``: the steps
    locked before it."""
    layers: list[LayerSpec] = []
    if pinned.registry is not None:
        layers += _registry_layers(pinned.registry, common)
        config.inherit(pinned.registry.inherited)
    elif step.kind == "from_scratch":  # Docker's FROM scratch: no layer, an empty config
        config.inherit(InheritedConfig())
    if pinned.packages:
        layers.append(DebLayer(**common, base=step.kind in ("debian_slim", "micromamba"),
                               debs=_sources(pinned.packages, settings),
                               systemFeatures=gpu_features(step.gpu) if getattr(step, "gpu", None) else []))
    if pinned.conda:
        layers.append(_conda_layer(step, pinned, common, [*below, pinned], settings))
    if step.kind == "micromamba":
        config.env.update(conda_base.ENV)
    if pinned.standalone is not None:
        archive = pinned.standalone
        layers.append(StandaloneLayer(**{**common, "name": f"{common['name']}-standalone",
                                         "createdBy": f"{common['createdBy']}: python-build-standalone "
                                                      f"{archive.version} ({archive.release})"},
                                      archive=ArchiveSource(url=archive.url(), sha256=archive.sha256,
                                                            name=archive.filename)))
        config.env["TERMINFO_DIRS"] = TERMINFO_DIRS
    if pinned.python or pinned.git:
        if pinned.packages:  # debian_slim's pip, wheel and uv, on its Debian packages
            common = {**common, "name": f"{common['name']}-python",
                      "createdBy": f"{common['createdBy']}: pip install --upgrade {' '.join(BASE_PYTHON_TOOLS)}"}
        layers.append(WheelsLayer(**common, wheels=[_wheel(w) for w in pinned.wheels],
                                  sdists=[*map(_sdist, pinned.sdists), *map(_checkout, pinned.git)],
                                  installer=_wheel(bootstrap.installer), env=_step_env(config, step),
                                  venv=venv_of(step), uvLink=isinstance(step, (UvPipInstall, UvSync)),
                                  systemFeatures=gpu_features(step.gpu) if getattr(step, "gpu", None) else []))
    if venv_of(step):  # Modal's uv_sync: ENV PATH=/.uv/.venv/bin:$PATH
        config.env["PATH"] = f"{venv_of(step)}/bin:{config.env.get('PATH', '')}"
    return layers


def _conda_layer(step, pinned: StepLock, common: dict, steps: list[StepLock], settings: Settings) -> CondaLayer:
    """A conda step's packages, with the zstd of the micromamba base and the environment's
    Python (the newest python pin so far: this step's, or the base's)."""
    request = conda_steps.request_of(step, Path.cwd())
    python = [p for s in steps for p in s.conda if p.name == "python"]
    features = gpu_features(step.gpu) if getattr(step, "gpu", None) else []
    return CondaLayer(**common, prefix=conda_base.PREFIX,
                      pythonSeries=conda_base.python_series(python[-1].version) if python else None,
                      packages=[CondaPackageSource(url=p.url(), sha256=p.sha256, name=p.filename, size=p.size,
                                                   channel=p.channel, subdir=p.subdir,
                                                   requested=conda_steps.requested_spec(request, p.name))
                                for p in pinned.conda],
                      tools=_sources([t for s in steps for t in s.conda_tools], settings), systemFeatures=features)


def _registry_layers(base: RegistryPin, common: dict) -> list[RegistryLayer]:
    return [RegistryLayer(**{**common, "name": f"{common['name']}-{i}", "createdBy": layer.created_by},
                          blob=BlobSource(name=store_name(layer.digest), sha256=layer.digest.removeprefix("sha256:")),
                          digest=layer.digest, size=layer.size, diffId=layer.diff_id,
                          dpkgStatus=i == base.facts.dpkg_layer)
            for i, layer in enumerate(base.layers)]


def _refuse_base_user(name: str, image: Image, locked: ImageLock) -> None:
    """A registry base whose config sets a non-root User: Docker runs later build steps as that
    user, nixbuild as root only, so such steps are refused rather than run differently."""
    base = next((s.registry for s in locked.steps if s.registry is not None), None)
    if base is None:
        return
    user = base.inherited.user
    for index, step in enumerate(image.steps):
        if isinstance(step, ImageMetadata) and step.user is not None:
            user = step.user
        builds = (isinstance(step, (RunCommands, RunFunction, AptInstall, *PYTHON_KINDS))
                  or (index == 0 and bool(step.add_python)))
        if builds and user is not None and user.split(":")[0] not in ROOT_USERS:
            raise InvalidError(f"the base image {base.reference} runs as USER {user}, and nixbuild runs build steps "
                               "as root only", where=step_where(name, index, step),
                               fix="add .dockerfile_commands([\"USER root\"]) before the build steps (and set the "
                                   "user back at the end), or use a base that runs as root")


def image_spec(name: str, image: Image, locked: ImageLock, bootstrap: BootstrapLock,
               settings: Settings, trees: dict[int, LocalTree], network: frozenset[int] = frozenset(),
               stages: dict[str, list[LayerSpec]] | None = None,
               nonce: str | None = None, force_all: bool = False) -> ImageSpec:
    """The spec of one image. ``trees`` holds the imported tree of every local-files step;
    ``network`` names the run steps found to need the network that the lock has no output
    hash for yet; ``stages`` the layers of each chain a ``copy_from`` step copies out of;
    ``nonce`` marks the layers that force_build rebuilds."""
    require_supported(name, image)
    _refuse_base_user(name, image, locked)
    steps = {s.index: s for s in locked.steps}
    layers: list[LayerSpec] = []
    config = ConfigState()
    forced = forced_from(image, force_all)
    for index, step in enumerate(image.steps):
        common = dict(name=f"{index}-{step.kind}", createdBy=describe_step(step),
                      nonce=nonce if forced is not None and index >= forced else None)
        if index in steps:
            layers += _pinned_layers(step, steps[index], common, config, bootstrap, settings,
                                     [s for s in locked.steps if s.index < index])
        elif isinstance(step, LOCAL_KINDS):
            tree = trees[index]
            layers.append(FilesLayer(**common, tree=Seed(name=tree.name, narHash=tree.nar_hash),
                                     modes=tree.modes))
        elif isinstance(step, (RunCommands, RunFunction)):
            layers.append(_run_layer(index, step, common, config, layers, locked, index in network))
        elif isinstance(step, CopyFrom):
            layers.append(CopyLayer(**common, stage=(stages or {})[step.image], sources=list(step.sources),
                                    dest=step.dest, intoDir=step.into_dir))
        else:
            config_update(step, config)
    return ImageSpec(
        name=name, ref="latest", architecture="amd64", created=CREATED, epoch=EPOCH,
        bootstrap=bootstrap_spec(bootstrap, settings), layers=layers, config=config.finish(),
    )


def bootstrap_spec(bootstrap: BootstrapLock, settings: Settings) -> Bootstrap:
    """The toolchain's part of a spec (nix/bootstrap.nix's ``bootstrap``)."""
    return Bootstrap(busybox=Seed(name="busybox", narHash=bootstrap.busybox_nar_hash),
                     debs=_sources(bootstrap.python, settings))


# zstd's own default level: docker, buildah and skopeo use it for zstd layers too.
ZSTD_LEVEL = 3


def zstd_compression(bootstrap: BootstrapLock, settings: Settings) -> Compression:
    """The spec's ``compression`` for zstd layers: the compressor the lock pins."""
    if not bootstrap.zstd:
        raise InvalidError("the lock pins no zstd, which --compression zstd needs",
                           fix="build once without --frozen: nixbuild pins it in the lock")
    return Compression(kind="zstd", level=ZSTD_LEVEL, tools=_sources(bootstrap.zstd, settings))


def relative_to_flake(spec: ImageSpec, trees: list[LocalTree], root: Path) -> ImageSpec:
    """The spec with each local tree's files named relative to the flake root ``root``: a
    consumer flake builds it from a fresh clone, with no tree seeded by the CLI. ``trees``:
    those of the image and of every stage it copies from (their layers are in the spec too)."""
    by_hash = {tree.nar_hash: tree for tree in trees}

    def relative(layers: list[LayerSpec]) -> list[LayerSpec]:
        out = []
        for layer in layers:
            if isinstance(layer, FilesLayer):
                layer = layer.model_copy(update={"sources": [TreeSource(**vars(s)) for s in
                                                             relative_sources(by_hash[layer.tree.narHash], root)]})
            elif isinstance(layer, CopyLayer):
                layer = layer.model_copy(update={"stage": relative(layer.stage)})
            out.append(layer)
        return out

    return spec.model_copy(update={"layers": relative(spec.layers)})


def write_spec(spec: ImageSpec, settings: Settings) -> Path:
    """Store the spec content-addressed, so an unchanged spec keeps the same file."""
    return _write_named(spec.name, spec.dumps(), settings)


def write_toolchain_spec(bootstrap: BootstrapLock, settings: Settings) -> Path:
    """The spec nix/toolchain.nix reads (:class:`ToolchainSpec`), stored as :func:`write_spec` does."""
    return _write_named("toolchain", _dumps(ToolchainSpec(bootstrap=bootstrap_spec(bootstrap, settings))), settings)


def _write_named(name: str, text: str, settings: Settings) -> Path:
    path = settings.cache_dir / "specs" / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if not path.exists():
        write_atomic(path, text)
    return path
