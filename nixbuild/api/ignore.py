"""``ignore=`` arguments of local-file steps, as data.

Modal accepts a list of dockerignore-style patterns, a ``FilePatternMatcher`` (possibly
inverted with ``~`` or loaded with ``from_file``), any callable taking a relative ``Path``, or
the ``AUTO_DOCKERIGNORE`` default. The step model records which one was given; the matching
itself (moby's patternmatcher rules, semantics §6) belongs to the build side, which walks the
files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr

from nixbuild.api.model import FrozenModel
from nixbuild.errors import InvalidError


class FilePatternMatcher(FrozenModel):
    """``modal.FilePatternMatcher(*patterns)``: dockerignore patterns, last match wins.

    ``~matcher`` inverts it; ``FilePatternMatcher.from_file(path)`` reads the patterns from a
    file at build time (``patterns`` is then empty and ``patterns_file`` set).
    """

    kind: Literal["patterns"] = "patterns"
    patterns: tuple[str, ...] = ()
    inverted: bool = False
    patterns_file: str | None = None

    def __init__(self, *pattern: str, **data: Any):
        # Positional patterns from user code; pydantic also calls this with ``patterns=`` when
        # it reads a step back from JSON.
        if pattern:
            data["patterns"] = pattern
        for item in data.get("patterns", ()):
            if not isinstance(item, str):
                raise InvalidError("FilePatternMatcher patterns must be strings")
            # Modal parses patterns in the constructor; this is its one eager failure.
            if item.strip() == "!":
                raise ValueError('Illegal exclusion pattern: "!"')
        super().__init__(**data)

    @classmethod
    def from_file(cls, file_path: str | os.PathLike[str]) -> FilePatternMatcher:
        return cls(patterns_file=os.fspath(file_path))

    def __invert__(self) -> FilePatternMatcher:
        return self.model_copy(update={"inverted": not self.inverted})

    def __repr__(self) -> str:
        if self.patterns_file is not None:
            text = f"FilePatternMatcher.from_file({self.patterns_file!r})"
        else:
            text = f"FilePatternMatcher({', '.join(map(repr, self.patterns))})"
        return f"~{text}" if self.inverted else text


class AutoDockerignore(FrozenModel):
    """The default of ``dockerfile_commands``/``from_dockerfile``: find a ``.dockerignore``."""

    kind: Literal["auto_dockerignore"] = "auto_dockerignore"

    def __repr__(self) -> str:
        return "AUTO_DOCKERIGNORE"


class CallableIgnore(FrozenModel):
    """A user predicate. Only its name is recorded: the files it selects are what the build
    hashes, so the function object itself need not be part of the step's identity."""

    kind: Literal["callable"] = "callable"
    name: str
    _predicate: Callable[[Path], bool] | None = PrivateAttr(default=None)

    def __repr__(self) -> str:
        return f"<callable {self.name}>"

    @property
    def predicate(self) -> Callable[[Path], bool]:
        if self._predicate is None:
            raise InvalidError(f"ignore callable {self.name!r} is only available in the process that loaded the app")
        return self._predicate


IgnoreSpec = Annotated[FilePatternMatcher | AutoDockerignore | CallableIgnore, Field(discriminator="kind")]

AUTO_DOCKERIGNORE = AutoDockerignore()
# Modal's default for add_local_python_source: keep only .py files.
NON_PYTHON_FILES = ~FilePatternMatcher("**/*.py")


def to_ignore_spec(ignore: Any) -> FilePatternMatcher | AutoDockerignore | CallableIgnore:
    """Normalise an ``ignore=`` argument."""
    if isinstance(ignore, (FilePatternMatcher, AutoDockerignore)):
        return ignore
    if isinstance(ignore, (list, tuple)):
        return FilePatternMatcher(*ignore)
    if callable(ignore):
        spec = CallableIgnore(name=getattr(ignore, "__qualname__", type(ignore).__name__))
        spec._predicate = ignore
        return spec
    raise InvalidError(f"ignore must be a list of patterns or a callable, not {type(ignore).__name__}")
