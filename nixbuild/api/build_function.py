"""What identifies a ``run_function`` step: the function's source, not its object.

Modal defines a build function by ``inspect.getsource(f)`` plus its configuration, the
pickled values of the module globals the code references, and the pickled ``(args, kwargs)``.
nixbuild records the same things as JSON-able data so the lock can hash them; the function
object itself stays in a private attribute for the build side, which needs the module file.
"""

from __future__ import annotations

import base64
import inspect
import json
import pickle
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from nixbuild.errors import InvalidError

MAX_ARGS_BYTES = 2 * 1024 * 1024  # Modal's MAX_OBJECT_SIZE_BYTES


class LocalFunctionError(InvalidError):
    """A function defined inside another function (Modal's ``LocalFunctionError``)."""


def check_build_function(raw_f: Any) -> Callable[..., Any]:
    """Modal's eager checks: a callable, not a lambda, defined at module level."""
    if not callable(raw_f):
        raise InvalidError(f"Argument to Image.run_function must be a function, not {type(raw_f).__name__}.")
    if getattr(raw_f, "__name__", None) == "<lambda>":
        raise InvalidError("Image.run_function does not support lambda functions.")
    if not inspect.isfunction(raw_f):
        # Modal accepts other callables only in serialized mode, which needs cloudpickle.
        raise InvalidError(f"Argument to Image.run_function must be a function, not {type(raw_f).__name__}.")
    if "<locals>" in raw_f.__qualname__:
        raise LocalFunctionError(
            "Modal can only import functions defined in global scope unless they are `serialized=True`"
        )
    return raw_f


def function_source(raw_f: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(raw_f)
    except (OSError, TypeError) as exc:
        raise InvalidError(
            f"Cannot read the source of {raw_f.__qualname__} for Image.run_function: {exc}",
            fix="define the function in a .py file",
        ) from None


def referenced_globals(raw_f: types.FunctionType) -> dict[str, Any]:
    """Module globals the function's code names, which are plain data.

    Functions, classes and modules are skipped as in Modal. Values that do not fit JSON are
    skipped with a warning (Modal pickles them; a pickle of arbitrary objects is not stable
    enough to hash), so changing them does not invalidate the step.
    """
    found: dict[str, Any] = {}
    for name in sorted(set(_code_names(raw_f.__code__))):
        if name not in raw_f.__globals__:
            continue
        value = raw_f.__globals__[name]
        if callable(value) or inspect.ismodule(value) or type(value).__module__.startswith("nixbuild."):
            # Code, and Modal objects (the app, images, secrets): not data the step depends on.
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            warnings.warn(
                f"Skipping global variable {name} of {raw_f.__qualname__}: it is not plain data."
                " Changes to this variable won't invalidate the image.",
                stacklevel=4,
            )
            continue
        found[name] = value
    return found


def pickle_arguments(args: Any, kwargs: Any) -> str | None:
    """``(args, kwargs)`` pickled and base64-encoded, or ``None`` when there are none."""
    if len(args) + len(kwargs) == 0:
        return None
    try:
        data = pickle.dumps((tuple(args), dict(kwargs)), protocol=4)
    except Exception as exc:  # anything pickle raises means the same thing to the user
        raise InvalidError(f"Arguments to `run_function` cannot be pickled: {exc}") from None
    if len(data) > MAX_ARGS_BYTES:
        raise InvalidError(
            f"Arguments to `run_function` are too large ({len(data)} bytes). Maximum size is {MAX_ARGS_BYTES} bytes."
        )
    return base64.b64encode(data).decode("ascii")


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)
