"""``Image``: Modal 1.6.4's image-definition API, producing a tuple of step models.

Every method returns a new Image and leaves its receiver unchanged, so images form a DAG as
in Modal. Arguments are checked eagerly where Modal checks them (type and shape, with Modal's
messages, semantics §10); everything Modal defers to build time (reading files, Python
version support, registry auth, COPY sources) is left to the build side.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
import os
import warnings
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Concatenate, ParamSpec, TypeVar

from pydantic import ValidationError

from nixbuild.api import steps as s
from nixbuild.api.args import (
    flatten_str_args,
    optional_str_list,
    path_str,
    reject_option_packages,
    str_list,
)
from nixbuild.api.build_function import (
    check_build_function,
    function_source,
    pickle_arguments,
    referenced_globals,
)
from nixbuild.api.gpu import parse_gpu, parse_gpu_choices
from nixbuild.api.ignore import AUTO_DOCKERIGNORE, NON_PYTHON_FILES, to_ignore_spec
from nixbuild.api.origin import Origin, caller_origin
from nixbuild.api.python_version import local_python_version
from nixbuild.api.secret import Secret, check_secrets, validate_env_dict
from nixbuild.warn import warn
from nixbuild.api.volume import validate_network_file_systems, validate_volumes
from nixbuild.errors import InvalidError

P = ParamSpec("P")
StepT = TypeVar("StepT")


def _requires_image_instance(method: Callable[..., Image]) -> Callable[..., Image]:
    """``Image.pip_install("x")`` (no constructor first) fails with Modal's message."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Image:
        if not isinstance(self, Image):
            raise InvalidError(
                "Image has not been constructed yet. "
                f"Use one of the static factory methods prior to calling {method.__name__} "
                "like `modal.Image.debian_slim`, `modal.Image.from_registry`, or `modal.Image.micromamba`"
            )
        return method(self, *args, **kwargs)

    return wrapper


def _make(step_cls: type[StepT], **fields: Any) -> StepT:
    """Build a step model; a field the checks above let through but the model refuses
    (e.g. ``find_links=3``) is reported as the user's error, not as a pydantic trace."""
    try:
        return step_cls(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        kind = step_cls.model_fields["kind"].default  # type: ignore[attr-defined]
        raise InvalidError(f"Image.{kind}: invalid `{where}`: {first['msg']} (got {first.get('input')!r})") from None


def _check_version_type(value: Any) -> str | None:
    # Modal raises this lazily, at build time. A non-string cannot be held in the step model,
    # so nixbuild raises it when the image is defined.
    if value is not None and not isinstance(value, str):
        raise InvalidError(f"Python version must be specified as a string, not {type(value).__name__}")
    return value


def _step_env(env: Any) -> dict[str, str]:
    """A step's ``env=``: Modal turns it into ``Secret.from_dict(env)`` only when it is truthy,
    so ``{}`` and ``None`` are both no-ops. Some methods check it before anything else."""
    return validate_env_dict(env) if env else {}


def _layer_options(*, force_build: bool, env: Any, secrets: Any, gpu: Any, inherited: bool = False) -> dict[str, Any]:
    """``force_build``/``env``/``secrets``/``gpu`` of a layer-building step, checked as Modal does.

    ``env=`` is what Modal makes of it: a ``Secret.from_dict(env)`` appended after ``secrets``,
    so its values take the secrets' one road to the step (never a field of the model, so never
    the lock, the spec, a derivation or the image history, which name its keys only).
    """
    values = _step_env(env)
    checked = check_secrets(secrets)
    return {
        "force_build": inherited or bool(force_build),
        "secrets": (*checked, Secret.from_dict(values)) if values else checked,
        "gpu": parse_gpu(gpu),
    }


def _warn_ignored(method: str, reason: str, **given: Any) -> None:
    """One warning per parameter given a value that nixbuild cannot honour on this step."""
    for name, value in given.items():
        if value is not None and value != {} and value != [] and value != ():
            warn(f"Image.{method}: {name}={value!r} is ignored: {reason}")


_UV_REASON = ("nixbuild resolves with its own pinned uv and installs with pypa's installer; /.uv/uv is "
              "the image's uv (debian_slim's, pinned in the lock)")


def _pip_options(find_links: Any, index_url: Any, extra_index_url: Any, pre: Any, extra_options: Any) -> dict[str, Any]:
    return {
        "find_links": find_links,
        "index_url": index_url,
        "extra_index_url": extra_index_url,
        "pre": pre,
        "extra_options": extra_options,
    }


@functools.cache
def _public_names() -> tuple[str, ...]:
    return tuple(name for name in dir(Image) if not name.startswith("_"))


def _no_such_attribute(owner: str, name: str) -> AttributeError:
    """``image.apt_instal`` / ``Image.debian_slm``: the error names the method meant.

    Python suggests a name only in tracebacks it prints itself, and nixbuild prints
    ``str(exc)``, so the suggestion is part of the message. ``name=None, obj=None`` keep the
    interpreter (3.12+ also ``traceback``) from adding its own "Did you mean" a second time.
    Private and dunder names get Python's plain error: protocols probe for those.
    """
    if name.startswith("_"):
        return AttributeError(f"{owner} has no attribute {name!r}")
    message = f"Image has no method {name!r}"
    close = difflib.get_close_matches(name, _public_names(), n=1, cutoff=0.7)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return AttributeError(message, name=None, obj=None)


class _ImageType(type):
    """Image's metaclass, only for a misspelt static method (``modal.Image.debian_slm()``)."""

    def __getattr__(cls, name: str) -> Any:
        raise _no_such_attribute(f"type object {cls.__name__!r}", name)


class Image(metaclass=_ImageType):
    """A container image definition: an immutable chain of :mod:`~nixbuild.api.steps` models.

    Construct with the static methods (``Image.debian_slim()``, ``Image.from_registry(...)``,
    ...). ``steps`` is the chain from the base step on; ``origin(i)`` is where step ``i`` was
    made in the user's code. ``inside_exceptions`` collects what ``imports()`` blocks
    swallowed, as in Modal.
    """

    __slots__ = ("_steps", "_origins", "inside_exceptions")

    _steps: tuple[s.Step, ...]
    _origins: tuple[Origin | None, ...]
    inside_exceptions: list[Exception]

    def __init__(self, *args: Any, **kwargs: Any):
        raise InvalidError(
            "Class Image has no constructor. Use class constructor methods instead,"
            " like `Image.debian_slim()` or `Image.from_registry(...)`."
        )

    @classmethod
    def _from_steps(cls, steps: tuple[s.Step, ...], origins: tuple[Origin | None, ...] | None = None) -> Image:
        """An Image of ``steps``; ``origins`` (one per step) default to the line in the user's
        code that called into nixbuild, for every step (a base constructor makes one)."""
        if origins is None:
            origins = (caller_origin(),) * len(steps)
        if len(origins) != len(steps):
            raise ValueError(f"{len(steps)} steps but {len(origins)} origins")
        image = object.__new__(cls)
        object.__setattr__(image, "_steps", steps)
        object.__setattr__(image, "_origins", tuple(origins))
        object.__setattr__(image, "inside_exceptions", [])
        return image

    def __copy__(self) -> Image:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> Image:
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Image is immutable: every method returns a new Image")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Image is immutable: every method returns a new Image")

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: a misspelt method.
        raise _no_such_attribute("'Image' object", name)

    def _then(self, step: s.Step) -> Image:
        return Image._from_steps((*self._steps, step), (*self._origins, caller_origin()))

    def _options(self, force_build: bool, env: Any, secrets: Any, gpu: Any) -> dict[str, Any]:
        """Layer options of a step added to this image: ``force_build`` is inherited."""
        return _layer_options(force_build=force_build, env=env, secrets=secrets, gpu=gpu, inherited=self.force_build)

    @property
    def steps(self) -> tuple[s.Step, ...]:
        return self._steps

    def origin(self, index: int) -> Origin | None:
        """Where step ``index`` was made: the file and line of the user's code that called the
        Image method (:mod:`nixbuild.api.origin`), or None when no user code made it (Modal's
        default image). IndexError as ``steps[index]``."""
        return self._origins[index]

    @property
    def force_build(self) -> bool:
        """Whether the next step inherits ``force_build`` (Modal's ``image.force_build``).

        Layer steps pass ``self.force_build or force_build`` on; ``env``, ``workdir`` and
        ``add_local_*`` take no ``force_build`` and so reset it to False.
        """
        return bool(getattr(self._steps[-1], "force_build", False))

    def __repr__(self) -> str:
        body = "".join(f"\n  {s.describe_step(step)}," for step in self._steps)
        return f"Image({body}\n)"

    # -----------------------------------------------------------------------------------------
    # Base images

    @staticmethod
    def debian_slim(python_version: str | None = None, force_build: bool = False) -> Image:
        """Debian slim with Python ``python_version`` (default: the local ``major.minor``)."""
        if isinstance(python_version, float):
            raise TypeError("The `python_version` argument should be a string, not a float.")
        return _python_base(s.DebianSlim, python_version, force_build)

    @staticmethod
    def micromamba(python_version: str | None = None, force_build: bool = False) -> Image:
        """A micromamba base with Python ``python_version`` from conda-forge."""
        return _python_base(s.Micromamba, python_version, force_build)

    @staticmethod
    def from_scratch(force_build: bool = False) -> Image:
        """An empty image (``FROM scratch``)."""
        return Image._from_steps((_make(s.FromScratch, force_build=force_build),))

    @staticmethod
    def from_registry(
        tag: str,
        secret: Secret | None = None,
        *,
        setup_dockerfile_commands: list[str] = [],  # noqa: B006 (Modal's signature)
        force_build: bool = False,
        add_python: str | None = None,
        **kwargs: Any,
    ) -> Image:
        """An image from a registry; ``secret`` holds ``REGISTRY_USERNAME``/``REGISTRY_PASSWORD``."""
        return _registry_image(
            "from_registry", tag, secret, "static" if secret is not None else None,
            setup_dockerfile_commands, force_build, add_python, kwargs,
        )  # fmt: skip

    @staticmethod
    def from_aws_ecr(
        tag: str,
        secret: Secret | None = None,
        *,
        setup_dockerfile_commands: list[str] = [],  # noqa: B006 (Modal's signature)
        force_build: bool = False,
        add_python: str | None = None,
        **kwargs: Any,
    ) -> Image:
        """An image from AWS ECR; ``secret`` holds IAM keys or an OIDC role, and ``AWS_REGION``."""
        return _registry_image(
            "from_aws_ecr", tag, secret, "aws", setup_dockerfile_commands, force_build, add_python, kwargs
        )

    @staticmethod
    def from_gcp_artifact_registry(
        tag: str,
        secret: Secret | None = None,
        *,
        setup_dockerfile_commands: list[str] = [],  # noqa: B006 (Modal's signature)
        force_build: bool = False,
        add_python: str | None = None,
        **kwargs: Any,
    ) -> Image:
        """An image from GCP Artifact Registry; ``secret`` holds ``SERVICE_ACCOUNT_JSON``."""
        return _registry_image(
            "from_gcp_artifact_registry", tag, secret, "gcp", setup_dockerfile_commands, force_build, add_python, kwargs
        )

    @staticmethod
    def from_dockerfile(
        path: str | Path,
        *,
        force_build: bool = False,
        context_dir: Path | str | None = None,
        ignore: Any = AUTO_DOCKERIGNORE,
        build_args: dict[str, str] = {},  # noqa: B006 (Modal's signature)
        registry_secret: Secret | None = None,
        secrets: Collection[Secret] | None = None,
        env: dict[str, str | None] | None = None,
        gpu: str | None = None,
        add_python: str | None = None,
    ) -> Image:
        """An image built from a local Dockerfile (read at build time)."""
        return Image._from_steps(
            (
                _make(
                    s.FromDockerfile,
                    path=path_str(path),
                    context_dir=None if context_dir is None else path_str(context_dir),
                    ignore=to_ignore_spec(ignore),
                    build_args=build_args,
                    registry_secret=_check_registry_secret(registry_secret),
                    add_python=_check_version_type(add_python),
                    **_layer_options(force_build=force_build, env=env, secrets=secrets, gpu=gpu),
                ),
            )
        )

    # -----------------------------------------------------------------------------------------
    # Package installers

    @_requires_image_instance
    def apt_install(
        self,
        *packages: str | list[str],
        force_build: bool = False,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
    ) -> Image:
        """Install Debian packages, in the order given."""
        pkgs = flatten_str_args("apt_install", "packages", packages)
        if not pkgs:
            return self
        # Packages are resolved at lock time and unpacked in the sandbox; no command runs.
        reason = ("nixbuild runs no command for apt_install (packages are resolved at lock time and unpacked; "
                  "maintainer scripts do not run), so nothing could use it")
        if env:  # keys only: values are secrets
            warn(f"Image.apt_install: env= (keys {', '.join(sorted(map(str, env)))}) is ignored: {reason}")
        if secrets:
            warn(f"Image.apt_install: secrets= ({len(list(secrets))} given) is ignored: {reason}")
        return self._then(
            _make(
                s.AptInstall,
                packages=tuple(pkgs),
                **self._options(force_build, env, secrets, gpu),
            )
        )

    @_requires_image_instance
    def pip_install(
        self,
        *packages: str | list[str],
        find_links: str | None = None,
        index_url: str | None = None,
        extra_index_url: str | None = None,
        pre: bool = False,
        extra_options: str = "",
        force_build: bool = False,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
    ) -> Image:
        """Install Python packages with pip (recorded sorted, as Modal renders them)."""
        pkgs = flatten_str_args("pip_install", "packages", packages)
        if not pkgs:
            return self
        reject_option_packages("pip_install", pkgs)
        return self._then(
            _make(
                s.PipInstall,
                packages=tuple(sorted(pkgs)),
                **_pip_options(find_links, index_url, extra_index_url, pre, extra_options),
                **self._options(force_build, env, secrets, gpu),
            )
        )

    @_requires_image_instance
    def pip_install_private_repos(
        self,
        *repositories: str,
        git_user: str,
        find_links: str | None = None,
        index_url: str | None = None,
        extra_index_url: str | None = None,
        pre: bool = False,
        extra_options: str = "",
        gpu: str | None = None,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        force_build: bool = False,
    ) -> Image:
        """Install from private GitHub/GitLab repositories; tokens come from ``secrets``."""
        if not secrets:
            raise InvalidError(
                "No secrets provided to function. "
                "Installing private packages requires tokens to be passed via modal.Secret objects."
            )
        invalid = [
            ref for ref in repositories
            if not isinstance(ref, str) or ref.split("/")[0] not in ("github.com", "gitlab.com")
        ]  # fmt: skip
        if invalid:
            raise InvalidError(
                f"{len(invalid)} out of {len(repositories)} given repository refs are invalid. "
                f"Invalid refs: {invalid}. "
            )
        return self._then(
            _make(
                s.PipInstallPrivateRepos,
                repositories=tuple(repositories),
                git_user=git_user,
                **_pip_options(find_links, index_url, extra_index_url, pre, extra_options),
                **self._options(force_build, env, secrets, gpu),
            )
        )

    @_requires_image_instance
    def pip_install_from_requirements(
        self,
        requirements_txt: str,
        find_links: str | None = None,
        *,
        index_url: str | None = None,
        extra_index_url: str | None = None,
        pre: bool = False,
        extra_options: str = "",
        force_build: bool = False,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
    ) -> Image:
        """Install a local requirements file (read at build time)."""
        return self._then(
            _make(
                s.PipInstallFromRequirements,
                requirements_txt=path_str(requirements_txt),
                **_pip_options(find_links, index_url, extra_index_url, pre, extra_options),
                **self._options(force_build, env, secrets, gpu),
            )
        )

    @_requires_image_instance
    def pip_install_from_pyproject(
        self,
        pyproject_toml: str,
        optional_dependencies: list[str] = [],  # noqa: B006 (Modal's signature)
        *,
        find_links: str | None = None,
        index_url: str | None = None,
        extra_index_url: str | None = None,
        pre: bool = False,
        extra_options: str = "",
        force_build: bool = False,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
    ) -> Image:
        """Install ``[project.dependencies]`` (and the named optional groups) of a pyproject."""
        return self._then(
            _make(
                s.PipInstallFromPyproject,
                pyproject_toml=path_str(pyproject_toml),
                optional_dependencies=tuple(optional_dependencies),
                **_pip_options(find_links, index_url, extra_index_url, pre, extra_options),
                **self._options(force_build, env, secrets, gpu),
            )
        )

    @_requires_image_instance
    def uv_pip_install(
        self,
        *packages: str | list[str],
        requirements: list[str] | None = None,
        find_links: str | None = None,
        index_url: str | None = None,
        extra_index_url: str | None = None,
        pre: bool = False,
        extra_options: str = "",
        force_build: bool = False,
        uv_version: str | None = None,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
    ) -> Image:
        """Install Python packages and requirements files with uv (packages recorded sorted)."""
        env_vars = _step_env(env)  # Modal checks env before the packages
        pkgs = flatten_str_args("uv_pip_install", "packages", packages)
        reqs = optional_str_list(requirements, "requirements")
        if not pkgs and not reqs:
            return self
        reject_option_packages("uv_pip_install", pkgs)
        _warn_ignored("uv_pip_install", _UV_REASON, uv_version=uv_version)
        return self._then(
            _make(
                s.UvPipInstall,
                packages=tuple(sorted(pkgs)),
                requirements=tuple(reqs),
                uv_version=uv_version,
                **_pip_options(find_links, index_url, extra_index_url, pre, extra_options),
                **self._options(force_build, env_vars, secrets, gpu),
            )
        )

    @_requires_image_instance
    def poetry_install_from_file(
        self,
        poetry_pyproject_toml: str,
        poetry_lockfile: str | None = None,
        *,
        ignore_lockfile: bool = False,
        force_build: bool = False,
        with_: list[str] = [],  # noqa: B006 (Modal's signature)
        without: list[str] = [],  # noqa: B006
        only: list[str] = [],  # noqa: B006
        poetry_version: str | None = "latest",
        old_installer: bool = False,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
    ) -> Image:
        """Install a Poetry project's dependencies (not the project itself)."""
        return self._then(
            _make(
                s.PoetryInstallFromFile,
                poetry_pyproject_toml=path_str(poetry_pyproject_toml),
                poetry_lockfile=None if poetry_lockfile is None else path_str(poetry_lockfile),
                ignore_lockfile=ignore_lockfile,
                with_=tuple(with_),
                without=tuple(without),
                only=tuple(only),
                poetry_version=poetry_version,
                old_installer=old_installer,
                **self._options(force_build, env, secrets, gpu),
            )
        )

    @_requires_image_instance
    def uv_sync(
        self,
        uv_project_dir: str = "./",
        *,
        force_build: bool = False,
        groups: list[str] | None = None,
        extras: list[str] | None = None,
        frozen: bool = True,
        extra_options: str = "",
        uv_version: str | None = None,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
    ) -> Image:
        """``uv sync`` a local uv project's dependencies into ``/.uv/.venv``."""
        options = self._options(force_build, env, secrets, gpu)
        _warn_ignored("uv_sync", _UV_REASON, uv_version=uv_version)
        return self._then(
            _make(
                s.UvSync,
                uv_project_dir=path_str(uv_project_dir),
                groups=tuple(optional_str_list(groups, "groups")),
                extras=tuple(optional_str_list(extras, "extras")),
                frozen=frozen,
                extra_options=extra_options,
                uv_version=uv_version,
                **options,
            )
        )

    @_requires_image_instance
    def micromamba_install(
        self,
        *packages: str | list[str],
        spec_file: str | None = None,
        channels: list[str] = [],  # noqa: B006 (Modal's signature)
        force_build: bool = False,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
    ) -> Image:
        """Install conda packages with micromamba, in the order given."""
        env_vars = _step_env(env)  # Modal checks env before the packages
        pkgs = flatten_str_args("micromamba_install", "packages", packages)
        if not pkgs and spec_file is None:
            return self
        return self._then(
            _make(
                s.MicromambaInstall,
                packages=tuple(pkgs),
                spec_file=None if spec_file is None else path_str(spec_file),
                channels=tuple(channels),
                **self._options(force_build, env_vars, secrets, gpu),
            )
        )

    # -----------------------------------------------------------------------------------------
    # Generic build steps

    @_requires_image_instance
    def run_commands(
        self,
        *commands: str | list[str],
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        volumes: dict[str | PurePosixPath, Any] | None = None,
        gpu: str | None = None,
        force_build: bool = False,
    ) -> Image:
        """Run shell commands, one ``RUN`` each, in one layer."""
        env_vars = _step_env(env)  # Modal checks env before the commands
        cmds = flatten_str_args("run_commands", "commands", commands)
        if not cmds:
            return self
        return self._then(
            _make(
                s.RunCommands,
                commands=tuple(cmds),
                volumes=validate_volumes(volumes, only_modal_volumes="Image.run_commands"),
                **self._options(force_build, env_vars, secrets, gpu),
            )
        )

    @_requires_image_instance
    def dockerfile_commands(
        self,
        *dockerfile_commands: str | list[str],
        context_files: dict[str, str] = {},  # noqa: B006 (Modal's signature)
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        gpu: str | None = None,
        context_dir: Path | str | None = None,
        force_build: bool = False,
        ignore: Any = AUTO_DOCKERIGNORE,
        build_args: dict[str, str] = {},  # noqa: B006 (Modal's signature)
    ) -> Image:
        """Append Dockerfile lines; ``COPY`` sources come from ``context_dir`` (default: cwd)."""
        cmds = flatten_str_args("dockerfile_commands", "dockerfile_commands", dockerfile_commands)
        if not cmds:
            return self
        return self._then(
            _make(
                s.DockerfileCommands,
                commands=tuple(cmds),
                context_files={name: path_str(path) for name, path in context_files.items()},
                context_dir=None if context_dir is None else path_str(context_dir),
                ignore=to_ignore_spec(ignore),
                build_args=build_args,
                **self._options(force_build, env, secrets, gpu),
            )
        )

    @_requires_image_instance
    def entrypoint(self, entrypoint_commands: list[str]) -> Image:
        """Set ``ENTRYPOINT`` (exec form)."""
        args = str_list(entrypoint_commands, "entrypoint_commands must be a list of strings.")
        return self._then(_make(s.Entrypoint, args=tuple(args), force_build=self.force_build))

    @_requires_image_instance
    def shell(self, shell_commands: list[str]) -> Image:
        """Set the ``SHELL`` later ``RUN`` lines use."""
        args = str_list(shell_commands, "shell_commands must be a list of strings.")
        return self._then(_make(s.Shell, args=tuple(args), force_build=self.force_build))

    @_requires_image_instance
    def cmd(self, cmd: list[str]) -> Image:
        """Set the default ``CMD`` (used by Sandboxes, not Functions)."""
        args = str_list(cmd, "Image CMD must be a list of strings.")
        return self._then(_make(s.Cmd, args=tuple(args), force_build=self.force_build))

    @_requires_image_instance
    def run_function(
        self,
        raw_f: Callable[..., Any],
        *,
        env: dict[str, str | None] | None = None,
        secrets: Collection[Secret] | None = None,
        volumes: dict[str | PurePosixPath, Any] = {},  # noqa: B006 (Modal's signature)
        network_file_systems: dict[str | PurePosixPath, Any] = {},  # noqa: B006
        gpu: str | list[str] | None = None,
        cpu: float | None = None,
        memory: int | None = None,
        timeout: int = 60 * 60,
        cloud: str | None = None,
        region: str | Sequence[str] | None = None,
        force_build: bool = False,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] = {},  # noqa: B006 (Modal's signature)
        include_source: bool = True,
    ) -> Image:
        """Run a module-level function inside the image; its filesystem changes become a layer."""
        # gpu is parsed separately: only here (and on app functions) may it be a list.
        options = self._options(force_build, env, secrets, gpu=None)
        function = check_build_function(raw_f)
        gpus = parse_gpu_choices(gpu)
        source_file = inspect.getsourcefile(function) or function.__code__.co_filename
        step = _make(
            s.RunFunction,
            **{**options, "gpu": gpus[0] if gpus else None},
            gpu_fallbacks=gpus[1:],
            function_name=function.__qualname__,
            module=function.__module__,
            module_file=os.path.basename(source_file),
            source=function_source(function),
            referenced_globals=referenced_globals(function),  # type: ignore[arg-type]
            arguments_pickle=pickle_arguments(args, kwargs),
            volumes=validate_volumes(volumes),
            network_file_systems=validate_network_file_systems(network_file_systems),
            cpu=cpu,
            memory=memory,
            timeout=timeout,
            cloud=cloud,
            region=tuple(region) if isinstance(region, (list, tuple)) else region,
            include_source=include_source,
        )
        step._function = function
        _warn_ignored("run_function", "a build step runs without resource or time limits under nix-build",
                      cpu=cpu, memory=memory, timeout=None if timeout == 60 * 60 else timeout)
        _warn_ignored("run_function", "nixbuild builds on this machine (or your Nix builders)",
                      cloud=cloud, region=region)
        return self._then(step)

    # -----------------------------------------------------------------------------------------
    # Image configuration (these take no force_build, so they reset the inherited flag)

    @_requires_image_instance
    def env(self, vars: dict[str, str]) -> Image:
        """Set environment variables persisted in the image."""
        if not isinstance(vars, dict):
            raise InvalidError(f"Image ENV variables must be a dict of strings, not {type(vars).__name__}")
        non_str_keys = [key for key, value in vars.items() if not isinstance(value, str)]
        if non_str_keys:
            raise InvalidError(f"Image ENV variables must be strings. Invalid keys: {non_str_keys}")
        return self._then(_make(s.Env, vars=vars))

    @_requires_image_instance
    def workdir(self, path: str | PurePosixPath) -> Image:
        """Set the working directory of later steps and of the function."""
        return self._then(_make(s.Workdir, path=str(path)))

    # -----------------------------------------------------------------------------------------
    # Local files

    @_requires_image_instance
    def add_local_file(self, local_path: str | Path, remote_path: str, *, copy: bool = False) -> Image:
        """Add one local file at absolute ``remote_path`` (a trailing ``/`` appends its name)."""
        if not PurePosixPath(remote_path).is_absolute():
            raise InvalidError("image.add_local_file() currently only supports absolute remote_path values")
        remote = str(remote_path)
        if remote.endswith("/"):
            remote += Path(local_path).name
        return self._then(_make(s.AddLocalFile, local_path=path_str(local_path), remote_path=remote, copy=copy))

    @_requires_image_instance
    def add_local_dir(
        self,
        local_path: str | Path,
        remote_path: str,
        *,
        copy: bool = False,
        ignore: Any = [],  # noqa: B006 (Modal's signature)
    ) -> Image:
        """Add a local directory's contents at absolute ``remote_path``."""
        if not PurePosixPath(remote_path).is_absolute():
            raise InvalidError("image.add_local_dir() currently only supports absolute remote_path values")
        return self._then(
            _make(
                s.AddLocalDir,
                local_path=path_str(local_path),
                remote_path=str(remote_path),
                copy=copy,
                ignore=to_ignore_spec(ignore),
            )
        )

    @_requires_image_instance
    def add_local_python_source(self, *modules: str, copy: bool = False, ignore: Any = NON_PYTHON_FILES) -> Image:
        """Add local Python packages/modules under ``/root`` (only ``.py`` files by default)."""
        if not all(isinstance(module, str) for module in modules):
            raise InvalidError("Local Python modules must be specified as strings.")
        return self._then(
            _make(s.AddLocalPythonSource, modules=tuple(modules), copy=copy, ignore=to_ignore_spec(ignore))
        )

    # -----------------------------------------------------------------------------------------
    # Helpers

    @_requires_image_instance
    def pipe(self, func: Callable[Concatenate[Image, P], Image], *args: P.args, **kwargs: P.kwargs) -> Image:
        """``func(self, *args, **kwargs)``: reusable recipes in a fluent chain."""
        return func(self, *args, **kwargs)

    @contextlib.contextmanager
    def imports(self) -> Iterator[None]:
        """Import packages that only exist inside the image.

        Locally any exception is swallowed into ``inside_exceptions`` (a warning for anything but
        ImportError), exactly as Modal does outside its containers.
        """
        try:
            yield
        except Exception as exc:
            self.inside_exceptions.append(exc)
            if not isinstance(exc, ImportError):
                warnings.warn(
                    f"Warning: caught a non-ImportError exception in an `imports()` block: {exc!r}", stacklevel=3
                )

    def build(self, app: Any = None) -> Image:
        """Modal builds eagerly on its servers here; nixbuild builds from the command line."""
        raise InvalidError(
            "Image.build() is not available under nixbuild",
            fix="run `nixbuild build <app file>` to build every image the app defines",
        )

    @staticmethod
    def from_name(name: str, **kwargs: Any) -> Image:
        raise InvalidError(
            f"Image.from_name({name!r}) looks up an image published on Modal's servers",
            fix="define the image in the app file, or use Image.from_registry() with a pushed tag",
        )

    @staticmethod
    def from_id(image_id: str, client: Any = None) -> Image:
        raise InvalidError(
            f"Image.from_id({image_id!r}) refers to an image on Modal's servers",
            fix="define the image in the app file, or use Image.from_registry() with a pushed tag",
        )


def _python_base(step_cls: type[s.DebianSlim] | type[s.Micromamba], python_version: Any, force_build: bool) -> Image:
    python_version = _check_version_type(python_version)
    resolved = python_version if python_version is not None else local_python_version()
    step = _make(step_cls, python_version=python_version, python_version_resolved=resolved, force_build=force_build)
    return Image._from_steps((step,))


def _check_registry_secret(secret: Any) -> Secret | None:
    if secret is not None and not isinstance(secret, Secret):
        raise InvalidError("All secrets of an Image need to be modal.Secret instances.")
    return secret


def _registry_image(
    method: str,
    tag: Any,
    secret: Any,
    auth: str | None,
    setup_dockerfile_commands: Any,
    force_build: bool,
    add_python: Any,
    kwargs: dict[str, Any],
) -> Image:
    """The three registry constructors; ``**kwargs`` may only carry build ``secrets``, and
    not for the cloud registries, whose single ``secret`` is the registry credential."""
    if auth in ("aws", "gcp") and "secrets" in kwargs:
        raise TypeError("Passing a list of 'secrets' is not supported; use the singular 'secret' argument.")
    unexpected = sorted(set(kwargs) - {"secrets"})
    if unexpected:
        raise TypeError(f"Image.{method}() got an unexpected keyword argument {unexpected[0]!r}")
    if not isinstance(tag, str):
        raise InvalidError(f"Image.{method}: the image tag must be a string, not {type(tag).__name__}")
    setup = str_list(setup_dockerfile_commands, "setup_dockerfile_commands must be a list of strings.")
    step = _make(
        s.FromRegistry,
        tag=tag,
        registry_auth=auth,
        registry_secret=_check_registry_secret(secret),
        setup_dockerfile_commands=tuple(setup),
        add_python=_check_version_type(add_python),
        force_build=force_build,
        secrets=check_secrets(kwargs.get("secrets")),
    )
    return Image._from_steps((step,))
