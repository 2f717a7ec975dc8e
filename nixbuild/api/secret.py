"""Secrets: a reference in the image definition, values only at build time.

A ``Secret`` is a pydantic model whose *fields* identify it (its kind plus a name, a path or
key names). Those fields are what step models serialize into the lock. Values never become
fields: ``from_dict`` / ``from_local_environ`` keep theirs in a pydantic private attribute,
which ``model_dump``/``model_dump_json``/``repr`` never include, and the other kinds read
theirs when the build calls :meth:`Secret.resolve`.

``Secret.from_name(name)`` has no server to ask, so nixbuild resolves it from a local file::

    $NIXBUILD_SECRETS_DIR/<name>.env     (default directory: ./.nixbuild/secrets)

or, when that file does not exist, from the variable ``NIXBUILD_SECRET_<NAME>`` (the name
upper-cased, other characters than letters and digits as ``_``), in dotenv format (``KEY=value`` lines, see :mod:`nixbuild.api.dotenv`). A relative directory
is taken against the current directory at build time, like every local path in an Image.
Keep that directory out of version control.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr

from nixbuild.api.dotenv import find_dotenv, parse_dotenv
from nixbuild.api.model import FrozenModel
from nixbuild.errors import InvalidError

SECRETS_DIR_ENV = "NIXBUILD_SECRETS_DIR"
# nixbuild's own folder beside an app (outputs) and in the build's cwd (secrets): never part of
# a local tree or a build context (nixbuild.local.context).
NIXBUILD_DIR = ".nixbuild"
DEFAULT_SECRETS_DIR = Path(NIXBUILD_DIR) / "secrets"

ENV_DICT_WRONG_TYPE_ERR = "the env_dict argument to Secret has to be a dict[str, Union[str, None]]"

# Secret names become file names, so they must not contain path separators. The character
# set is Modal's object-name rule.
_SECRET_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def validate_env_dict(env_dict: Any) -> dict[str, str]:
    """Check a ``dict[str, str | None]`` the way ``Secret.from_dict`` does; drop ``None`` values.

    Also used for the ``env=`` argument of build steps, which Modal turns into a
    ``Secret.from_dict`` and so validates with the same message.
    """
    if not isinstance(env_dict, dict):
        raise InvalidError(ENV_DICT_WRONG_TYPE_ERR)
    for key, value in env_dict.items():
        if not isinstance(key, str):
            raise InvalidError(f"{ENV_DICT_WRONG_TYPE_ERR}, key {key!r} has type {type(key).__name__}")
        if value is not None and not isinstance(value, str):
            raise InvalidError(f"{ENV_DICT_WRONG_TYPE_ERR}, value for key {key!r} has type {type(value).__name__}")
    return {key: value for key, value in env_dict.items() if value is not None}


class Secret(FrozenModel):
    """Environment variables made available to one build step (or a function), never stored.

    Construct with the static methods, as in Modal; the subclasses are the reference kinds.
    """

    kind: str

    @staticmethod
    def from_dict(env_dict: dict[str, str | None] = {}) -> DictSecret:  # noqa: B006 (Modal's signature)
        """Values given in code. ``None`` values are dropped."""
        values = validate_env_dict(env_dict)
        secret = DictSecret(keys=tuple(values))
        secret._values = values
        return secret

    @staticmethod
    def from_local_environ(env_keys: list[str]) -> DictSecret:
        """Copy variables from this process's environment now (eagerly, as Modal does)."""
        try:
            return Secret.from_dict({key: os.environ[key] for key in env_keys})
        except KeyError as exc:
            raise InvalidError(
                f"Could not find local environment variable '{exc.args[0]}' for Secret.from_local_environ"
            ) from None

    @staticmethod
    def from_dotenv(
        path: str | os.PathLike[str] | None = None, *, filename: str = ".env", client: Any = None
    ) -> DotenvSecret:
        """Read ``filename`` at build time, searching upwards from ``path`` (default: the cwd).

        A missing file gives an empty secret, as in Modal.
        """
        return DotenvSecret(path=None if path is None else os.fspath(path), filename=filename)

    @staticmethod
    def from_name(
        name: str,
        *,
        environment_name: str | None = None,
        required_keys: list[str] = [],  # noqa: B006 (Modal's signature)
        client: Any = None,
    ) -> NamedSecret:
        """A named secret, read at build time from ``<secrets dir>/<name>.env`` (module docstring).

        ``environment_name`` is accepted for compatibility and ignored: there is one local store.
        """
        if not isinstance(name, str) or not _SECRET_NAME.match(name) or name in (".", ".."):
            raise InvalidError(
                f"Invalid Secret name: {name!r}. Names may contain only alphanumeric characters,"
                " dashes, periods and underscores, and must be at most 64 characters long."
            )
        if not isinstance(required_keys, list) or not all(isinstance(k, str) for k in required_keys):
            raise InvalidError("required_keys must be a list of strings")
        return NamedSecret(name=name, required_keys=tuple(required_keys))

    def resolve(self, *, secrets_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """The secret's values; call only at build time, and never persist the result."""
        raise NotImplementedError


class DictSecret(Secret):
    """``Secret.from_dict`` / ``from_local_environ``: key names only in the model."""

    kind: Literal["dict"] = "dict"
    keys: tuple[str, ...] = ()
    _values: dict[str, str] | None = PrivateAttr(default=None)

    def resolve(self, *, secrets_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
        if self._values is None:
            # Only happens for a model read back from JSON (a lock): its values were never stored.
            raise InvalidError(
                f"{self!r} has no values: they exist only in the app file that defined it",
                fix="load the app file again instead of rebuilding the step from its JSON",
            )
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Secret.from_dict([{', '.join(self.keys)}])"


class DotenvSecret(Secret):
    """``Secret.from_dotenv``: the search start and file name, read at build time."""

    kind: Literal["dotenv"] = "dotenv"
    path: str | None = None
    filename: str = ".env"

    def resolve(self, *, secrets_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
        found = find_dotenv(self.path, self.filename)
        if found is None:
            return {}
        return {key: value or "" for key, value in parse_dotenv(found.read_text("utf8")).items()}

    def __repr__(self) -> str:
        return "Secret.from_dotenv()"


class NamedSecret(Secret):
    """``Secret.from_name``: resolved from ``<secrets dir>/<name>.env``."""

    kind: Literal["name"] = "name"
    name: str
    required_keys: tuple[str, ...] = ()

    def file(self, secrets_dir: str | os.PathLike[str] | None = None) -> Path:
        """Where this secret's values are read from."""
        directory = secrets_dir if secrets_dir is not None else os.environ.get(SECRETS_DIR_ENV)
        return Path(directory if directory else DEFAULT_SECRETS_DIR) / f"{self.name}.env"

    @property
    def environ_name(self) -> str:
        """The environment variable that may hold this secret's KEY=value lines instead of a
        file (CI systems hand secrets over as variables): ``NIXBUILD_SECRET_<NAME>``."""
        return "NIXBUILD_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", self.name).upper()

    def resolve(self, *, secrets_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
        path = self.file(secrets_dir)
        if path.is_file():
            text, source = path.read_text("utf8"), str(path)
        elif self.environ_name in os.environ:
            text, source = os.environ[self.environ_name], f"${self.environ_name}"
        else:
            raise InvalidError(
                f"Secret {self.name!r} not found: {path} does not exist and ${self.environ_name} is not set",
                fix=f"write its values as KEY=value lines to {path} (or point {SECRETS_DIR_ENV}"
                f" at the directory that holds <name>.env files), or put those lines in ${self.environ_name}",
            )
        values = {key: value or "" for key, value in parse_dotenv(text).items()}
        missing = [key for key in self.required_keys if key not in values]
        if missing:
            raise InvalidError(
                f"Secret {self.name!r} is missing required keys {missing}",
                fix=f"add them to {source}",
            )
        return values

    def __repr__(self) -> str:
        return f"Secret.from_name({self.name!r})"


SecretRef = Annotated[DictSecret | DotenvSecret | NamedSecret, Field(discriminator="kind")]
"""How a step model holds a secret: the reference fields only."""


def resolve_all(secrets: Iterable[Secret]) -> dict[str, str]:
    """The values of a step's secrets together, a later secret's key winning (as Modal sets
    them one after the other); call only at build time, and never persist the result."""
    values: dict[str, str] = {}
    for secret in secrets:
        values.update(secret.resolve())
    return values


def check_secrets(secrets: Any) -> tuple[Secret, ...]:
    """``secrets=`` of a build step: ``None`` or a collection of Secrets."""
    if secrets is None:
        return ()
    if isinstance(secrets, Secret):
        # Modal would iterate the object and fail the same way.
        raise InvalidError("All secrets of an Image need to be modal.Secret instances.")
    items = tuple(secrets)
    if not all(isinstance(secret, Secret) for secret in items):
        raise InvalidError("All secrets of an Image need to be modal.Secret instances.")
    return items
