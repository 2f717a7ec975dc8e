"""Modal objects that only exist on Modal's servers, and the runtime helpers.

App files often create handles at import time (``modal.Dict.from_name("cache")``) and use them
only inside functions. The handles here can be created, so the file loads, and fail with a
clear message if anything is done with them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from nixbuild.errors import InvalidError


def needs_modal(what: str) -> InvalidError:
    return InvalidError(
        f"{what} needs Modal's servers; nixbuild only builds the app's images",
        fix="call it from code that runs on Modal, not while the app file is imported",
    )


class RemoteHandle:
    """A reference to a server-side object; creating it is fine, using it is not."""

    def __init__(self, description: str):
        self._description = description

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise needs_modal(f"{self._description}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise needs_modal(f"calling {self._description}")

    def __getitem__(self, key: Any) -> Any:
        raise needs_modal(f"{self._description}[...]")

    def __setitem__(self, key: Any, value: Any) -> None:
        raise needs_modal(f"{self._description}[...] = ...")

    def __contains__(self, key: Any) -> bool:
        raise needs_modal(f"`in {self._description}`")

    def __repr__(self) -> str:
        return f"<{self._description} (nixbuild shim)>"


class _NamedObject:
    """Base of ``modal.Dict``, ``modal.Queue`` ...: ``from_name`` gives a handle."""

    @classmethod
    def from_name(cls, name: str, *args: Any, **kwargs: Any) -> RemoteHandle:
        return RemoteHandle(f"modal.{cls.__name__}.from_name({name!r})")

    @classmethod
    @contextlib.contextmanager
    def ephemeral(cls, *args: Any, **kwargs: Any) -> Iterator[RemoteHandle]:
        raise needs_modal(f"modal.{cls.__name__}.ephemeral()")
        yield  # pragma: no cover


class Dict(_NamedObject):
    pass


class Queue(_NamedObject):
    pass


class Cls:
    """``modal.Cls.from_name(app_name, name)``: a deployed class."""

    @staticmethod
    def from_name(app_name: str, name: str, **kwargs: Any) -> RemoteHandle:
        return RemoteHandle(f"modal.Cls.from_name({app_name!r}, {name!r})")


class Sandbox:
    @staticmethod
    def create(*args: Any, **kwargs: Any) -> Any:
        raise needs_modal("modal.Sandbox.create()")

    @staticmethod
    def from_id(sandbox_id: str, **kwargs: Any) -> Any:
        raise needs_modal("modal.Sandbox.from_id()")


def is_local() -> bool:
    """True: app files are imported here, never inside a Modal container."""
    return True


def enable_output(*args: Any, **kwargs: Any) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def interact() -> None:
    return None


def current_function_call_id() -> str | None:
    return None


def current_input_id() -> str | None:
    return None
