"""Handles for objects that live on Modal's servers.

App files create such objects at import time (``modal.Dict.from_name("cache")``,
``modal.Cls.from_name("other", "Model").with_options(gpu="A10G")``) and use them only in code
that runs on Modal. Here creating and configuring a handle works, as it does lazily in Modal,
so the file loads; whatever would need the servers (calling it, reading one of its
attributes, indexing it) raises an :class:`InvalidError` naming the call, so a file that does
so at import time learns why it cannot be loaded.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from nixbuild.errors import InvalidError


def needs_modal(what: str) -> InvalidError:
    return InvalidError(
        f"{what} needs Modal's servers; nixbuild only builds the app's images",
        fix="call it from code that runs on Modal, not while the app file is imported",
    )


class RemoteHandle:
    """A reference to a server-side object (or a server call): creating it is fine, using it
    is not."""

    def __init__(self, description: str):
        self._description = description

    def __getattr__(self, name: str) -> Any:
        # Private and special names are Python's business (copy, pickle, inspect), not Modal's.
        if name.startswith("_"):
            raise AttributeError(name)
        return self._member(name)

    def _member(self, name: str) -> Any:
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


class FunctionHandle(RemoteHandle):
    """A deployed function (``modal.Function.from_name``) or a method of a deployed class.

    The ``with_*`` methods return the handle itself: options are applied lazily in Modal too,
    and none of them changes an image.
    """

    def _configured(self, *args: Any, **kwargs: Any) -> FunctionHandle:
        return self

    with_options = with_concurrency = with_batching = _configured


class ClsHandle(FunctionHandle):
    """A deployed class (``modal.Cls.from_name``). Instantiating it is lazy in Modal, so it
    works here and gives an :class:`ObjHandle`."""

    def __call__(self, *args: Any, **kwargs: Any) -> ObjHandle:
        return ObjHandle(f"{self._description}()")


class ObjHandle(RemoteHandle):
    """An instance of a deployed class; its methods are :class:`FunctionHandle` s."""

    def _member(self, name: str) -> FunctionHandle:
        return FunctionHandle(f"{self._description}.{name}")


H = TypeVar("H", bound="RemoteHandle")


def describe_call(qualname: str, args: tuple[Any, ...]) -> str:
    """``qualname('a', 1)``: a call as error messages name it, by its positional arguments."""
    return f"{qualname}({', '.join(map(repr, args))})"


def lookup(handle_type: type[H], qualname: str, args: tuple[Any, ...]) -> H:
    """The handle that ``qualname(*args, ...)`` returns."""
    return handle_type(describe_call(qualname, args))


class _ServerClassMeta(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        qualname = f"modal.{cls.__name__}.{name}"
        if name.startswith("from_"):
            handle_type = cls.handle_type  # type: ignore[attr-defined]
            return lambda *args, **kwargs: lookup(handle_type, qualname, args)
        return RemoteHandle(qualname)


class ServerObject(metaclass=_ServerClassMeta):
    """Base of the shim's classes for server-side objects (``modal.Dict``, ``modal.Client``...).

    Every ``from_*`` constructor on the class (``from_name``, ``from_id``, ``from_context``,
    ``from_env``...) returns a :attr:`handle_type` handle; any other public class attribute
    (``ephemeral``, ``objects``, ``list``...) is a handle that raises when used.
    """

    handle_type: ClassVar[type[RemoteHandle]] = RemoteHandle


def stand_ins(module: str, names: str) -> dict[str, type]:
    """Plain :class:`ServerObject` classes, one per name: for server-side objects that only
    hand out handles (``modal.Queue``), and for classes whose instances only Modal's servers
    make (``modal.types.FileEntry``, managers), which app files only name in annotations or
    ``isinstance`` checks."""
    return {name: type(name, (ServerObject,), {"__module__": module}) for name in names.split()}


def server_calls(module: str, names: str) -> dict[str, RemoteHandle]:
    """Functions that only work against Modal's servers or inside a Modal container
    (``modal.experimental.stop_app``): calling one raises."""
    return {name: RemoteHandle(f"{module}.{name}") for name in names.split()}
