"""dockerignore-style matching, as Modal's ``FilePatternMatcher`` does it (semantics §6).

Modal ports moby/patternmatcher (Docker's ``.dockerignore`` engine) and calls its
``MatchesOrParentMatches``: a path is ignored when it *or any parent directory* matches, the
patterns are tried in order and the last one that matches decides, and a ``!`` pattern
un-ignores. The files an image receives, and so its hash, depend on every corner of these rules,
so this is a faithful port rather than ``fnmatch``:

* ``*`` and ``?`` never match ``/``; ``**`` matches any number of segments, zero included
  (``**/*.py`` matches ``a.py``); ``[...]`` classes and ``\\`` escapes pass to the regex.
* ``*.json`` has one segment, so it matches top-level files only (and everything under a
  top-level directory whose name ends in ``.json``, through the parent rule).

The step models (:mod:`nixbuild.api.ignore`) only record which ignore was given;
:func:`ignore_predicate` turns one into the predicate the file walk applies.
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nixbuild.api.ignore import AutoDockerignore, CallableIgnore, FilePatternMatcher
from nixbuild.errors import InvalidError

# Regex metacharacters that mean nothing in a Go filepath pattern and so are matched literally.
# ``^`` is deliberately absent: moby does not escape it either.
_LITERAL_META = frozenset(".+()|{}$")
# Characters that make a segment more than a literal string or a ``*``/``?`` glob.
_HARD_META = ("**", "[", "\\")


class _Kind(enum.Enum):
    """moby's shortcut match types: plain string tests where a regex is not needed."""

    EXACT = "exact"  # no wildcard at all
    PREFIX = "prefix"  # literal text then a trailing ``**``
    SUFFIX = "suffix"  # a leading ``**`` then literal text
    REGEXP = "regexp"


@dataclass(frozen=True)
class _Pattern:
    text: str  # cleaned, without the ``!``
    exclusion: bool
    kind: _Kind
    regexp: re.Pattern[str] | None

    @classmethod
    def parse(cls, raw: str) -> _Pattern | None:
        """Clean one pattern as Modal does; ``None`` for a blank one (which Modal drops)."""
        text = raw.strip().strip("/")
        if not text:
            return None
        text = posixpath.normpath(text)
        exclusion = text.startswith("!")
        if exclusion:
            text = text[1:]
            if not text:
                raise ValueError('Illegal exclusion pattern: "!"')
        kind, regexp = _compile(text)
        return cls(text, exclusion, kind, regexp)

    def match(self, path: str) -> bool:
        if self.kind is _Kind.EXACT:
            return path == self.text
        if self.kind is _Kind.PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind is _Kind.SUFFIX:
            suffix = self.text[2:]
            # ``**/foo`` also matches a top-level ``foo``.
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.fullmatch(path) is not None

    def could_match_below(self, segments: Sequence[str]) -> bool:
        """Whether this pattern might match some path strictly inside the directory
        ``segments``. Conservative (``True`` when unsure): it only lets pruning happen."""
        if any(meta in self.text for meta in _HARD_META):
            return True  # may span segments or contain a "/" inside a class
        parts = self.text.split("/")
        if len(parts) <= len(segments):
            return False  # without "**" a pattern only matches paths of its own depth
        return all(_segment_matches(part, name) for part, name in zip(parts, segments, strict=False))


def _segment_matches(glob: str, name: str) -> bool:
    """Match one path segment against one pattern segment made of literals, ``*`` and ``?``."""
    regex = "".join("[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch) for ch in glob)
    return re.fullmatch(regex, name) is not None


def _compile(pattern: str) -> tuple[_Kind, re.Pattern[str] | None]:
    """moby's ``Pattern.compile``: classify the pattern and build its regex when needed."""
    kind = _Kind.EXACT
    regex = ""
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*" and i + 1 < n and pattern[i + 1] == "*":
            starts_pattern = i == 0
            i += 1
            if i + 1 < n and pattern[i + 1] == "/":
                i += 1  # "**/" is read as "**"
            if i + 1 == n:  # trailing "**": accept everything below
                if kind is _Kind.EXACT:
                    kind = _Kind.PREFIX
                else:
                    regex += ".*"
                    kind = _Kind.REGEXP
            else:
                regex += "(.*/)?"
                kind = _Kind.REGEXP
            if starts_pattern:
                kind = _Kind.SUFFIX
        elif ch == "*":
            regex += "[^/]*"
            kind = _Kind.REGEXP
        elif ch == "?":
            regex += "[^/]"
            kind = _Kind.REGEXP
        elif ch in _LITERAL_META:
            regex += "\\" + ch
        elif ch == "\\":
            if i + 1 < n:
                i += 1
                regex += re.escape(pattern[i])
                kind = _Kind.REGEXP
            else:
                regex += "\\"  # a trailing backslash: a bad pattern once a regex is needed
        elif ch in "[]":
            regex += ch
            kind = _Kind.REGEXP
        else:
            regex += ch
        i += 1

    # A SUFFIX pattern followed by more wildcards was turned into REGEXP above; a leading "**"
    # followed by literal text only stays a SUFFIX, and needs no regex.
    if kind is not _Kind.REGEXP:
        return kind, None
    try:
        return kind, re.compile(regex)
    except re.error as exc:
        raise ValueError(f"Bad pattern: {pattern}") from exc


class PatternMatcher:
    """A compiled list of dockerignore patterns; ``matches`` says whether to ignore a path.

    ``inverted`` is Modal's ``~matcher``: it ignores exactly what the patterns do not match
    (``NON_PYTHON_FILES`` is ``~FilePatternMatcher("**/*.py")``).
    """

    def __init__(self, patterns: Sequence[str], inverted: bool = False):
        parsed = (_Pattern.parse(p) for p in patterns)
        self._patterns = tuple(p for p in parsed if p is not None)
        self.inverted = inverted

    def __repr__(self) -> str:
        texts = ", ".join(repr(("!" if p.exclusion else "") + p.text) for p in self._patterns)
        return f"{'~' if self.inverted else ''}PatternMatcher({texts})"

    def _matches_or_parent_matches(self, path: str) -> bool:
        path = posixpath.normpath(path)
        if path == ".":
            return False  # moby: never ignore the root itself
        parents = path.split("/")[:-1]
        prefixes = ["/".join(parents[: i + 1]) for i in range(len(parents))]
        matched = False
        for pattern in self._patterns:
            if pattern.exclusion != matched:
                continue  # it could not change the outcome: last match wins
            if pattern.match(path) or any(pattern.match(prefix) for prefix in prefixes):
                matched = not pattern.exclusion
        return matched

    def matches(self, rel_path: str) -> bool:
        """True when ``rel_path`` (relative, ``/``-separated) is to be ignored."""
        return self._matches_or_parent_matches(rel_path) != self.inverted

    def can_prune_dir(self, rel_dir: str) -> bool:
        """True when nothing under ``rel_dir`` can survive, so the walk may skip it unread.

        Everything below an ignored directory is ignored too (the parent rule), unless an
        exclusion pattern matches something strictly inside it and so re-includes it. An
        inverted matcher keeps what its patterns match, which a directory's name says nothing
        about, so it never prunes (nor does Modal's).
        """
        if self.inverted or not self.matches(rel_dir):
            return False
        segments = posixpath.normpath(rel_dir).split("/")
        return not any(p.exclusion and p.could_match_below(segments) for p in self._patterns)


def read_ignore_file(path: Path) -> list[str]:
    """Patterns of a ``.dockerignore``-style file: Modal drops ``#`` comment lines."""
    lines = path.read_text("utf-8-sig").splitlines()
    return [line for line in lines if not line.startswith("#")]


def pattern_matcher(spec: object, *, base_dir: Path) -> PatternMatcher | None:
    """The :class:`PatternMatcher` behind a pattern-based ignore spec, ``None`` for a callable.

    ``FilePatternMatcher.from_file`` paths and ``AUTO_DOCKERIGNORE``'s ``.dockerignore`` are
    read relative to ``base_dir``. Separate from :func:`ignore_predicate` so that a walk can
    ask :meth:`PatternMatcher.can_prune_dir`.
    """
    if isinstance(spec, FilePatternMatcher):
        patterns: Sequence[str] = spec.patterns
        if spec.patterns_file is not None:
            file = base_dir / spec.patterns_file
            try:
                patterns = read_ignore_file(file)
            except OSError as exc:
                raise InvalidError(
                    f"cannot read ignore patterns from {file}: {exc.strerror}",
                    fix="check the path given to FilePatternMatcher.from_file (relative to the working directory)",
                ) from exc
        return _compiled(patterns, inverted=spec.inverted)
    if isinstance(spec, AutoDockerignore):
        dockerignore = base_dir / ".dockerignore"
        return _compiled(read_ignore_file(dockerignore) if dockerignore.is_file() else [], inverted=False)
    if isinstance(spec, CallableIgnore):
        return None
    raise TypeError(f"not an ignore spec: {spec!r}")


def _compiled(patterns: Sequence[str], *, inverted: bool) -> PatternMatcher:
    try:
        return PatternMatcher(patterns, inverted=inverted)
    except ValueError as exc:
        raise InvalidError(f"invalid ignore pattern: {exc}", fix="fix or remove the pattern") from exc


def ignore_predicate(spec: object, *, base_dir: Path) -> Callable[[str], bool]:
    """A predicate on relative POSIX paths: True when the path is to be left out.

    A ``CallableIgnore`` calls the user's function with a relative ``pathlib.Path``, as Modal
    does.
    """
    matcher = pattern_matcher(spec, base_dir=base_dir)
    if matcher is not None:
        return matcher.matches
    assert isinstance(spec, CallableIgnore)
    predicate = spec.predicate
    return lambda rel_path: bool(predicate(Path(rel_path)))
