"""One frozen pydantic model per Image step kind; ``Step`` is their union on ``kind``.

A step records its arguments after Modal's definition-time processing (flattened and, for
pip/uv, sorted packages; ``force_build`` already inherited; ``gpu=`` parsed), and nothing
that is only known at build time: local paths are kept exactly as written (Modal resolves
them against the cwd when building), files are not read, secrets are references.

``step.model_dump(mode="json")`` is deterministic for a given app file: it is what the lock
hashes. ``TypeAdapter(Step)`` reads it back (secret values and Python callables excepted:
they are never serialized).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, PrivateAttr

from nixbuild.api.gpu import GpuSpec
from nixbuild.api.ignore import IgnoreSpec
from nixbuild.api.model import FrozenModel
from nixbuild.api.secret import SecretRef
from nixbuild.api.volume import NetworkFileSystem, VolumeRef
from nixbuild.errors import InvalidError

# ---------------------------------------------------------------------------------------------
# Shared field groups


class _Step(FrozenModel):
    kind: str


class _BuildOptions(_Step):
    """What every layer-building step accepts in Modal.

    The user's ``env=`` is not kept here: as in Modal it becomes a ``Secret.from_dict`` at the
    end of ``secrets`` (see :func:`nixbuild.api.image._layer_options`), so its values are never
    stored. ``env`` holds only what nixbuild itself sets for one step and may store (the
    Dockerfile ``ARG`` values in scope of a translated ``RUN``, which Docker records too).
    """

    force_build: bool = False
    env: dict[str, str] = Field(default_factory=dict)
    secrets: tuple[SecretRef, ...] = ()
    gpu: GpuSpec | None = None


class _PipOptions(_BuildOptions):
    """pip's index flags, shared by the pip-based installers and uv_pip_install."""

    find_links: str | None = None
    index_url: str | None = None
    extra_index_url: str | None = None
    pre: bool = False
    extra_options: str = ""


# ---------------------------------------------------------------------------------------------
# Base images


class DebianSlim(_Step):
    """``Image.debian_slim``. ``python_version`` as given; ``python_version_resolved`` is it, or
    the local interpreter's ``major.minor`` when it was ``None`` (checked lazily, see
    :func:`nixbuild.api.python_version.python_series`)."""

    kind: Literal["debian_slim"] = "debian_slim"
    python_version: str | None = None
    python_version_resolved: str
    force_build: bool = False


class Micromamba(_Step):
    """``Image.micromamba``; versions as in :class:`DebianSlim`."""

    kind: Literal["micromamba"] = "micromamba"
    python_version: str | None = None
    python_version_resolved: str
    force_build: bool = False


class FromScratch(_Step):
    kind: Literal["from_scratch"] = "from_scratch"
    force_build: bool = False


RegistryAuth = Literal["static", "aws", "gcp"]


class FromRegistry(_Step):
    """``Image.from_registry`` / ``from_aws_ecr`` / ``from_gcp_artifact_registry``.

    ``registry_auth`` says how ``registry_secret`` authenticates the pull (``static`` for
    ``REGISTRY_USERNAME``/``REGISTRY_PASSWORD``); ``secrets`` are build-time secrets passed
    through ``**kwargs``.
    """

    kind: Literal["from_registry"] = "from_registry"
    tag: str
    registry_auth: RegistryAuth | None = None
    registry_secret: SecretRef | None = None
    setup_dockerfile_commands: tuple[str, ...] = ()
    add_python: str | None = None
    force_build: bool = False
    secrets: tuple[SecretRef, ...] = ()


class FromDockerfile(_BuildOptions):
    """``Image.from_dockerfile``: the file is read at build time."""

    kind: Literal["from_dockerfile"] = "from_dockerfile"
    path: str
    context_dir: str | None = None
    ignore: IgnoreSpec
    build_args: dict[str, str] = Field(default_factory=dict)
    registry_secret: SecretRef | None = None
    add_python: str | None = None


# ---------------------------------------------------------------------------------------------
# Package installers


class AptInstall(_BuildOptions):
    """Packages in the order given (Modal does not sort them)."""

    kind: Literal["apt_install"] = "apt_install"
    packages: tuple[str, ...]


class PipInstall(_PipOptions):
    """Packages sorted, as Modal sorts them before rendering the command."""

    kind: Literal["pip_install"] = "pip_install"
    packages: tuple[str, ...]


class PipInstallFromRequirements(_PipOptions):
    kind: Literal["pip_install_from_requirements"] = "pip_install_from_requirements"
    requirements_txt: str


class PipInstallFromPyproject(_PipOptions):
    kind: Literal["pip_install_from_pyproject"] = "pip_install_from_pyproject"
    pyproject_toml: str
    optional_dependencies: tuple[str, ...] = ()


class UvPipInstall(_PipOptions):
    """Packages sorted; ``requirements`` files in the order given."""

    kind: Literal["uv_pip_install"] = "uv_pip_install"
    packages: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    uv_version: str | None = None


class UvSync(_BuildOptions):
    kind: Literal["uv_sync"] = "uv_sync"
    uv_project_dir: str = "./"
    groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    frozen: bool = True
    extra_options: str = ""
    uv_version: str | None = None


class PoetryInstallFromFile(_BuildOptions):
    """``poetry_lockfile=None`` means ``<pyproject dir>/poetry.lock``, looked up at build time."""

    kind: Literal["poetry_install_from_file"] = "poetry_install_from_file"
    poetry_pyproject_toml: str
    poetry_lockfile: str | None = None
    ignore_lockfile: bool = False
    with_: tuple[str, ...] = ()
    without: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    poetry_version: str | None = "latest"
    old_installer: bool = False


class PipInstallPrivateRepos(_PipOptions):
    """Refs like ``github.com/org/repo@ref``; the tokens come from ``secrets``."""

    kind: Literal["pip_install_private_repos"] = "pip_install_private_repos"
    repositories: tuple[str, ...]
    git_user: str


class MicromambaInstall(_BuildOptions):
    """Packages and channels in the order given."""

    kind: Literal["micromamba_install"] = "micromamba_install"
    packages: tuple[str, ...] = ()
    spec_file: str | None = None
    channels: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Generic build steps


class RunCommands(_BuildOptions):
    """Shell commands, verbatim, one ``RUN`` each, in one layer."""

    kind: Literal["run_commands"] = "run_commands"
    commands: tuple[str, ...]
    volumes: dict[str, VolumeRef] = Field(default_factory=dict)


class DockerfileCommands(_BuildOptions):
    """Dockerfile lines (not instructions: one instruction may span entries)."""

    kind: Literal["dockerfile_commands"] = "dockerfile_commands"
    commands: tuple[str, ...]
    context_files: dict[str, str] = Field(default_factory=dict)
    context_dir: str | None = None
    ignore: IgnoreSpec
    build_args: dict[str, str] = Field(default_factory=dict)


class RunFunction(_BuildOptions):
    """A Python function run inside the image; its filesystem changes become the layer.

    Identity is the function's ``source``, the plain-data module globals it references, its
    pickled arguments (``arguments_pickle``, base64) and its configuration. ``gpu`` is the
    preferred GPU, ``gpu_fallbacks`` the others of a ``gpu=[...]`` list.
    ``module_file`` is the file name the function's module is mounted under (``/root/<it>``).
    """

    kind: Literal["run_function"] = "run_function"
    function_name: str
    module: str
    module_file: str
    source: str
    referenced_globals: dict[str, JsonValue] = Field(default_factory=dict)
    arguments_pickle: str | None = None
    gpu_fallbacks: tuple[GpuSpec, ...] = ()
    volumes: dict[str, VolumeRef] = Field(default_factory=dict)
    network_file_systems: dict[str, NetworkFileSystem] = Field(default_factory=dict)
    cpu: float | None = None
    memory: int | None = None
    timeout: int = 3600
    cloud: str | None = None
    region: str | tuple[str, ...] | None = None
    include_source: bool = True
    _function: Callable[..., Any] | None = PrivateAttr(default=None)

    @property
    def function(self) -> Callable[..., Any]:
        """The function object (only in the process that loaded the app file)."""
        if self._function is None:
            raise InvalidError(
                f"the function {self.function_name} is only available in the process that loaded the app"
            )
        return self._function


# ---------------------------------------------------------------------------------------------
# Local files


# The field is named ``copy`` like Modal's argument; it shadows pydantic v1's deprecated
# ``BaseModel.copy()``, which nothing here uses, so pydantic's warning about it is silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "copy"', category=UserWarning)

    class AddLocalFile(_Step):
        """``remote_path`` already has the file name appended when it ended in ``/``.
        ``local_path`` is not ``~``-expanded (Modal does not expand it for this method)."""

        kind: Literal["add_local_file"] = "add_local_file"
        local_path: str
        remote_path: str
        copy: bool = False  # type: ignore[assignment]

    class AddLocalDir(_Step):
        kind: Literal["add_local_dir"] = "add_local_dir"
        local_path: str
        remote_path: str
        copy: bool = False  # type: ignore[assignment]
        ignore: IgnoreSpec

    class AddLocalPythonSource(_Step):
        """Modules found with ``importlib.util.find_spec`` at build time."""

        kind: Literal["add_local_python_source"] = "add_local_python_source"
        modules: tuple[str, ...]
        copy: bool = False  # type: ignore[assignment]
        ignore: IgnoreSpec


class CopyFrom(_Step):
    """A Dockerfile's ``COPY --from=STAGE|IMAGE``: paths out of another image's filesystem.

    Made by the Dockerfile translation only. ``source`` is the ``--from`` value as written;
    ``image`` names the chain that provides the files (an earlier stage of the Dockerfile, or
    a registry image), which nixbuild locks and builds like an image of its own (see
    nixbuild/expand.py). ``dest`` is absolute; ``into_dir`` says a file goes *into* it.
    """

    kind: Literal["copy_from"] = "copy_from"
    source: str
    image: str = ""
    sources: tuple[str, ...]
    dest: str
    into_dir: bool = False


# ---------------------------------------------------------------------------------------------
# Image configuration


class Env(_Step):
    """Persisted ``ENV`` lines, in dict order."""

    kind: Literal["env"] = "env"
    vars: dict[str, str]


class Workdir(_Step):
    kind: Literal["workdir"] = "workdir"
    path: str


class Entrypoint(_Step):
    kind: Literal["entrypoint"] = "entrypoint"
    args: tuple[str, ...]
    force_build: bool = False


class Cmd(_Step):
    kind: Literal["cmd"] = "cmd"
    args: tuple[str, ...]
    force_build: bool = False


class Shell(_Step):
    kind: Literal["shell"] = "shell"
    args: tuple[str, ...]
    force_build: bool = False


class ImageMetadata(_Step):
    """Config-only Dockerfile instructions (``LABEL``, ``EXPOSE``, ``VOLUME``, ``STOPSIGNAL``,
    ``USER`` in ``dockerfile_commands``): no layer, only the OCI config's ``Labels``,
    ``ExposedPorts`` (``"80/tcp"``), ``Volumes``, ``StopSignal`` and ``User``. Set fields
    override (labels merge), as each Docker instruction does."""

    kind: Literal["image_metadata"] = "image_metadata"
    labels: dict[str, str] = Field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str | None = None
    user: str | None = None


Step = Annotated[
    DebianSlim
    | Micromamba
    | FromScratch
    | FromRegistry
    | FromDockerfile
    | AptInstall
    | PipInstall
    | PipInstallFromRequirements
    | PipInstallFromPyproject
    | UvPipInstall
    | UvSync
    | PoetryInstallFromFile
    | PipInstallPrivateRepos
    | MicromambaInstall
    | RunCommands
    | DockerfileCommands
    | RunFunction
    | AddLocalFile
    | AddLocalDir
    | AddLocalPythonSource
    | CopyFrom
    | Env
    | Workdir
    | Entrypoint
    | Cmd
    | Shell
    | ImageMetadata,
    Field(discriminator="kind"),
]

BASE_KINDS = frozenset({"debian_slim", "micromamba", "from_scratch", "from_registry", "from_dockerfile"})
"""Steps that start an image; every other kind extends one."""


def describe_step(step: Step) -> str:
    """``kind(field=value, ...)`` with the fields that differ from their defaults."""
    parts = []
    for name, field in type(step).model_fields.items():
        value = getattr(step, name)
        if name == "kind" or value == field.get_default(call_default_factory=True):
            continue
        if isinstance(step, RunFunction) and name == "source":
            continue  # long, and function_name says which function it is
        parts.append(f"{name}={value!r}")
    return f"{step.kind}({', '.join(parts)})"
