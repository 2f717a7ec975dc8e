"""Modal's function and method decorators, as markers.

In Modal these wrap the function in a ``PartialFunction`` that the App later reads. Here they
return the function itself with its options recorded in ``MARKS``, so decorated code stays a
plain callable and the App still learns which functions are web endpoints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from nixbuild.errors import InvalidError

F = TypeVar("F", bound=Callable[..., Any])

MARKS = "__nixbuild_modal_marks__"
"""Attribute holding ``{decorator name: options}`` on a decorated function."""

WEB_MARKS = frozenset({"fastapi_endpoint", "web_endpoint", "asgi_app", "wsgi_app", "web_server"})


def marks(target: Any) -> dict[str, dict[str, Any]]:
    """The decorators applied to ``target`` (empty for an undecorated one)."""
    return getattr(target, MARKS, {})


def _marker(name: str) -> Callable[..., Callable[[F], F]]:
    def factory(_warn_parentheses_missing: Any = None, **options: Any) -> Callable[[F], F]:
        if _warn_parentheses_missing is not None:
            # Modal refuses a bare ``@modal.method`` the same way.
            raise InvalidError(
                f"Positional arguments are not allowed. Did you forget parentheses? Suggestion: `@modal.{name}()`."
            )
        return lambda function: _mark(function, name, options)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"``@modal.{name}(...)``: recorded, the function is returned unchanged."
    return factory


def _mark(function: F, name: str, options: dict[str, Any]) -> F:
    # Builtins and the like cannot carry attributes; the mark is informational, so skip it.
    with contextlib.suppress(AttributeError, TypeError):
        setattr(function, MARKS, {**marks(function), name: options})
    return function


method = _marker("method")
enter = _marker("enter")
exit = _marker("exit")
fastapi_endpoint = _marker("fastapi_endpoint")
web_endpoint = _marker("web_endpoint")
asgi_app = _marker("asgi_app")
wsgi_app = _marker("wsgi_app")
batched = _marker("batched")
concurrent = _marker("concurrent")
build = _marker("build")
clustered = _marker("clustered")  # modal.clustered(size=..., rdma=...)
sessioned = _marker("sessioned")
http_server = _marker("http_server")  # modal.experimental.http_server(port=..., ...)


def web_server(
    port: int, *, startup_timeout: float = 5.0, label: str | None = None, **options: Any
) -> Callable[[F], F]:
    """``@modal.web_server(8000)``: takes the port positionally, unlike the other markers."""
    return lambda function: _mark(function, "web_server", {"port": port, "label": label, **options})


def experimental_clustered(size: int, broadcast: bool = True, **options: Any) -> Callable[[F], F]:
    """``@modal.experimental.clustered(8)``: the older form, taking the size positionally."""
    return lambda function: _mark(function, "clustered", {"size": size, "broadcast": broadcast, **options})


class Parameter:
    """``modal.parameter()``: a class attribute filled from the constructor."""

    def __init__(self, default: Any, init: bool):
        self.default = default
        self.init = init


_NO_DEFAULT = object()


def parameter(*, default: Any = _NO_DEFAULT, init: bool = True) -> Any:
    return Parameter(default, init)


def is_parameter(value: Any) -> bool:
    """``modal.cls.is_parameter``: whether a class attribute was declared with ``modal.parameter()``."""
    return isinstance(value, Parameter)


def add_parameter_init(cls: type) -> None:
    """Give a ``@app.cls`` class that declares ``modal.parameter()`` fields a keyword
    constructor, as Modal does, so it can still be instantiated locally."""
    params = {name: value for name, value in vars(cls).items() if isinstance(value, Parameter)}
    if not params or "__init__" in vars(cls):
        return

    def __init__(self: Any, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(params)
        if unknown:
            raise TypeError(f"{cls.__name__}() got unexpected parameters {sorted(unknown)}")
        for name, param in params.items():
            if name in kwargs:
                setattr(self, name, kwargs[name])
            elif param.default is not _NO_DEFAULT:
                setattr(self, name, param.default)
            else:
                raise TypeError(f"{cls.__name__}() missing parameter {name!r}")

    cls.__init__ = __init__  # type: ignore[misc]
