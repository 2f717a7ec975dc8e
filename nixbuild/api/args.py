"""Shape checks for the positional and list arguments of Image methods.

Modal validates these eagerly, at definition time, with fixed messages; every install
method goes through the helpers here so the messages stay identical everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from nixbuild.errors import InvalidError


def flatten_str_args(function_name: str, arg_name: str, args: Iterable[Any]) -> list[str]:
    """Flatten ``*args`` of ``str`` or ``list[str]`` one level, like Modal's ``_flatten_str_args``.

    Tuples and deeper nesting are rejected, as in Modal.
    """
    flat: list[str] = []
    for arg in args:
        if isinstance(arg, str):
            flat.append(arg)
        elif isinstance(arg, list) and all(isinstance(item, str) for item in arg):
            flat.extend(arg)
        else:
            raise InvalidError(f"{function_name}: {arg_name} must only contain strings")
    return flat


def reject_option_packages(method: str, packages: Sequence[str]) -> None:
    """pip/uv packages must not smuggle in command-line options (``-e``, ``--pre`` ...)."""
    if any(package.startswith("-") for package in packages):
        raise InvalidError(
            f"Package list for `Image.{method}` cannot contain other arguments;"
            " try the `extra_options` parameter instead."
        )


def optional_str_list(value: Any, name: str) -> list[str]:
    """``None`` or a list of strings (uv ``requirements``, ``groups``, ``extras``)."""
    if value is None:
        return []
    # Modal only checks for a list; the item check is ours, since the step model needs strings.
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise InvalidError(f"{name} must be None or a list of strings")


def str_list(value: Any, message: str) -> list[str]:
    """A list whose items are all strings (``entrypoint``, ``shell``, ``cmd``)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidError(message)
    return list(value)


def path_str(path: str | os.PathLike[str]) -> str:
    """A local path exactly as the user wrote it; it is resolved against the cwd at build time."""
    return os.fspath(path)
