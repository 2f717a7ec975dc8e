"""How the build side reads an Image chain: its base, which steps resolve packages, and
what each configuration step does to the image config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nixbuild.api.python_version import python_series
from nixbuild.api.steps import (AddLocalDir, AddLocalFile, AddLocalPythonSource, AptInstall, Cmd, DebianSlim,
                         Entrypoint, Env, FromRegistry, FromScratch, ImageMetadata, Micromamba, MicromambaInstall,
                         PipInstall, PipInstallFromPyproject,
                         PipInstallFromRequirements, PipInstallPrivateRepos, PoetryInstallFromFile,
                         RunCommands, RunFunction, Shell, Step, UvPipInstall, UvSync, Workdir)
from nixbuild.conda import base as conda_base
from nixbuild.debian import slim as debian_slim
from nixbuild.errors import InvalidError
from nixbuild.python.git_source import parse_ref
from nixbuild.python.pip_options import resolver_options

if TYPE_CHECKING:
    from nixbuild.api.image import Image
    from nixbuild.plan import ConfigState


def step_where(image_name: str, index: int, step: Step) -> str:
    return f"image {image_name!r}, step {index} {step.kind}"


# Step kinds nixbuild can build today (dockerfile_commands is rewritten into these first, see
# expand.py); every other kind loads (with Modal's validation) and is refused before anything
# is resolved or built.
SUPPORTED = frozenset({"debian_slim", "from_registry", "from_scratch", "apt_install", "env", "workdir",
                       "entrypoint", "cmd", "shell", "image_metadata", "add_local_file", "add_local_dir",
                       "add_local_python_source", "run_commands", "run_function", "copy_from",
                       "poetry_install_from_file", "pip_install", "uv_pip_install",
                       "pip_install_from_requirements", "pip_install_from_pyproject", "uv_sync",
                       "pip_install_private_repos", "micromamba", "micromamba_install"})
ROOT_USERS = frozenset({"root", "0"})
# The distribution of an image on a registry base: the base's own (its facts are in the lock);
# of an image from scratch: none. Neither has a Debian index to resolve apt steps against.
REGISTRY = "registry"
SCRATCH = "scratch"
NOT_DEBIAN = frozenset({REGISTRY, SCRATCH})
PYTHON_KINDS = (PipInstall, UvPipInstall, PipInstallFromRequirements, PipInstallFromPyproject, UvSync,
                PoetryInstallFromFile, PipInstallPrivateRepos)
LOCAL_KINDS = (AddLocalFile, AddLocalDir, AddLocalPythonSource)
RUN_KINDS = (RunCommands, RunFunction)
CONDA_KINDS = (Micromamba, MicromambaInstall)


def require_supported(image_name: str, image: "Image") -> None:
    distribution_of(image, image_name)
    mounted: int | None = None  # the first copy=False local step
    user: tuple[int, str] | None = None  # the step that made a non-root USER current
    for index, step in enumerate(image.steps):
        where = step_where(image_name, index, step)
        if isinstance(step, ImageMetadata) and step.user is not None:
            user = None if step.user.split(":")[0] in ROOT_USERS else (index, step.user)
        if user is not None and isinstance(step, (RunCommands, RunFunction, AptInstall, *PYTHON_KINDS)):
            # Docker runs these as USER; nixbuild's build steps run as (fake) root only.
            raise InvalidError(f"step {user[0]} sets USER {user[1]}, and nixbuild runs build steps as root only",
                               where=where,
                               fix=f"move the USER line after the last build step (the image config keeps "
                                   f"User {user[1]!r}), or run this step as root")
        if isinstance(step, AptInstall) and isinstance(image.steps[0], FromScratch):
            raise InvalidError("apt_install on an image from scratch: there is no dpkg to install into", where=where,
                               fix="start from a Debian-based image, or COPY what you need")
        if step.kind not in SUPPORTED:
            raise InvalidError(f"`{step.kind}` steps are not supported by nixbuild yet", where=where,
                               fix="remove the step, or build this image with Modal until nixbuild supports it")
        if mounted is not None and not (isinstance(step, LOCAL_KINDS) and not step.copy):
            # Modal refuses this at build time too: copy=False files are attached last.
            raise InvalidError(
                "An image tried to run a build step after using `image.add_local_*` to include local files",
                where=where,
                fix=f"pass copy=True to step {mounted} {image.steps[mounted].kind}, or move it to the end of the chain")
        if isinstance(step, LOCAL_KINDS) and not step.copy and mounted is None:
            mounted = index
        if isinstance(step, PYTHON_KINDS):
            # env= is a Secret.from_dict too (nixbuild.api.image._layer_options). On pip steps
            # the secrets carry index settings (nixbuild.python.index_login); a uv project or a
            # Poetry lock names its indexes itself.
            index_from_lock = isinstance(step, (UvSync, PoetryInstallFromFile))
            unsupported = [name for name, value in (("secrets=/env=", step.secrets),) if value and index_from_lock]
            try:
                resolver_options(getattr(step, "extra_options", ""))
            except InvalidError as exc:
                raise exc.at(where)
            if isinstance(step, PipInstallPrivateRepos):
                for ref in step.repositories:
                    try:
                        parse_ref(ref)
                    except InvalidError as exc:
                        raise exc.at(where)
            if isinstance(step, UvSync) and not step.frozen:
                unsupported.append("frozen=False")
            if unsupported:
                raise InvalidError(f"{step.kind} with {', '.join(unsupported)} is not supported by nixbuild yet",
                                   where=where, fix=f"drop {', '.join(unsupported)} from the step")
        if isinstance(step, MicromambaInstall):
            if not isinstance(image.steps[0], Micromamba):
                raise InvalidError(f"micromamba_install is not supported on a {image.steps[0].kind} base: it has no "
                                   "conda prefix to install into", where=where,
                                   fix="start the image with Image.micromamba(python_version=...)")
            if step.secrets:  # channel logins are not passed to the solve or the downloads yet
                raise InvalidError("micromamba_install with secrets=/env= is not supported by nixbuild yet",
                                   where=where,
                                   fix="drop secrets=/env= from the step (use channels that need no login)")
        if isinstance(step, (RunCommands, RunFunction)):
            unsupported = [name for name, value in (("volumes", step.volumes),) if value]
            if unsupported:
                raise InvalidError(f"run_commands with {', '.join(unsupported)} is not supported by nixbuild yet",
                                   where=where, fix=f"drop {', '.join(unsupported)} from the step")


def base_step(image: "Image", image_name: str | None = None) -> DebianSlim | Micromamba | FromRegistry | FromScratch:
    """The image's base step (debian_slim or a registry image); errors name the image when
    ``image_name`` is given."""
    if not image.steps:
        raise InvalidError("the image has no steps", where=None if image_name is None else f"image {image_name!r}",
                           fix="start it with Image.debian_slim()")
    step = image.steps[0]
    if not isinstance(step, (DebianSlim, Micromamba, FromRegistry, FromScratch)):
        raise InvalidError(f"images starting with `{step.kind}` are not supported by nixbuild yet",
                           where=f"step 0 {step.kind}" if image_name is None else step_where(image_name, 0, step),
                           fix="start the image with Image.debian_slim(python_version=...) or Image.from_registry(...)")
    return step


def python_series_of(step: DebianSlim | Micromamba | FromRegistry | FromScratch) -> str | None:
    """The series of the base's Python: debian_slim's, micromamba's, add_python's (None: a registry base's
    own, known only from its layers, see nixbuild.registry.facts)."""
    return python_series(step)


def distribution_of(image: "Image", image_name: str | None = None) -> str:
    """The Debian release the image's base comes from. A malformed or unsupported
    ``python_version`` is refused here (Modal too checks it only at build time), naming
    ``image 'NAME', step 0 debian_slim`` when ``image_name`` is given."""
    step = base_step(image, image_name)
    try:
        if isinstance(step, FromRegistry):
            python_series_of(step)  # a malformed add_python is refused here, as debian_slim's version
            return REGISTRY
        if isinstance(step, FromScratch):
            return SCRATCH
        if isinstance(step, Micromamba):
            python_series_of(step)  # Modal's refusals of a malformed or free-threaded version
            return conda_base.DISTRIBUTION
        return debian_slim.distribution_for(python_series_of(step), requested=step.python_version)
    except InvalidError as exc:
        if image_name is not None:
            exc.at(step_where(image_name, 0, step))
        raise


def resolving_requests(step: Step) -> list[str] | None:
    """The Debian packages a step asks for, or None for steps that resolve nothing."""
    if isinstance(step, (DebianSlim, Micromamba, FromRegistry, FromScratch)):
        return []
    if isinstance(step, AptInstall):
        return list(step.packages)
    return None


def config_update(step: Step, config: "ConfigState") -> bool:
    """Apply a configuration step to ``config``; False when ``step`` is not one."""
    if isinstance(step, Env):
        config.env.update(step.vars)
    elif isinstance(step, Workdir):
        config.set_workdir(step.path)
    elif isinstance(step, Entrypoint):
        config.set_entrypoint(list(step.args))
    elif isinstance(step, Cmd):
        config.set_cmd(list(step.args))
    elif isinstance(step, Shell):
        config.shell = list(step.args)
    elif isinstance(step, ImageMetadata):
        config.labels.update(step.labels)
        config.exposed_ports += [p for p in step.exposed_ports if p not in config.exposed_ports]
        config.volumes += [v for v in step.volumes if v not in config.volumes]
        config.stop_signal = step.stop_signal or config.stop_signal
        config.user = step.user or config.user
    else:
        return False
    return True
