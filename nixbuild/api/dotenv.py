"""A small reader for ``.env`` files, compatible with what python-dotenv accepts.

Modal's ``Secret.from_dotenv`` needs python-dotenv; nixbuild reads the format itself so the
tool has no extra dependency. Supported: ``KEY=value``, ``export KEY=value``, ``#`` comments
(a ``#`` after whitespace ends an unquoted value), single quotes (literal, may span lines),
double quotes (backslash escapes, may span lines), keys without ``=`` (value ``None``), and
``${VAR}`` / ``${VAR:-default}`` expansion in unquoted and double-quoted values, looked up in
the keys defined earlier in the file, then in ``os.environ`` (python-dotenv's defaults).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

_UNQUOTED_KEY = re.compile(r"[^=#\s]+")
_EXPANSION = re.compile(r"\$\{(?P<name>[^}:]+)(?::-(?P<default>[^}]*))?\}")
_DOUBLE_QUOTE_ESCAPES = {
    "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f",
    "n": "\n", "r": "\r", "t": "\t", "v": "\v",
}  # fmt: skip


def parse_dotenv(text: str, environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Parse dotenv text into ``{key: value}``, in file order; malformed lines are skipped."""
    environ = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    for key, value, expand in _Scanner(text).entries():
        if value is not None and expand:
            value = _expand(value, values, environ)
        values[key] = value
    return values


def find_dotenv(path: str | os.PathLike[str] | None, filename: str) -> Path | None:
    """Locate ``filename`` like Modal's ``Secret.from_dotenv``.

    Without ``path`` the search starts at the current directory; with ``path`` it starts at that
    directory (or the directory of that file). Either way it walks up to the filesystem root.
    """
    start = Path.cwd() if path is None else Path(path).expanduser().absolute()
    if path is not None and not start.exists():
        raise FileNotFoundError(f"Starting path not found: {start}")
    if start.is_file():
        start = start.parent
    for directory in (start, *start.parents):
        candidate = directory / filename
        if candidate.is_file():
            return candidate
    return None


def _expand(value: str, earlier: Mapping[str, str | None], environ: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        found = earlier.get(name)
        if found is None:
            found = environ.get(name)
        if found is None or found == "":
            return match.group("default") or ""
        return found

    return _EXPANSION.sub(replace, value)


class _Scanner:
    """Walks the text once; each entry is ``(key, value or None, whether to expand)``."""

    def __init__(self, text: str):
        self.text = text.replace("\r\n", "\n")
        self.pos = 0

    def entries(self) -> Iterator[tuple[str, str | None, bool]]:
        while True:
            self._skip_blank_and_comments()
            if self.pos >= len(self.text):
                return
            entry = self._entry()
            if entry is not None:
                yield entry
            self._skip_line()

    def _entry(self) -> tuple[str, str | None, bool] | None:
        if self.text.startswith("export", self.pos) and self._peek(6) in (" ", "\t"):
            self.pos += 6
            self._skip_inline_space()
        key = self._key()
        if not key:
            return None
        self._skip_inline_space()
        if self._peek() != "=":
            return (key, None, False) if self._at_line_end() else None
        self.pos += 1
        self._skip_inline_space()
        quote = self._peek()
        if quote in ("'", '"'):
            value = self._quoted(quote)
            if value is None or not self._at_line_end():
                return None
            return key, value, quote == '"'
        return key, self._unquoted(), True

    def _key(self) -> str | None:
        if self._peek() == "'":
            end = self.text.find("'", self.pos + 1)
            if end < 0 or "\n" in self.text[self.pos : end]:
                return None
            key = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return key
        match = _UNQUOTED_KEY.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group()

    def _quoted(self, quote: str) -> str | None:
        chars: list[str] = []
        pos = self.pos + 1
        while pos < len(self.text):
            char = self.text[pos]
            if char == "\\" and pos + 1 < len(self.text):
                escaped = self.text[pos + 1]
                if quote == '"' and escaped in _DOUBLE_QUOTE_ESCAPES:
                    chars.append(_DOUBLE_QUOTE_ESCAPES[escaped])
                    pos += 2
                    continue
                if quote == "'" and escaped in ("\\", "'"):
                    chars.append(escaped)
                    pos += 2
                    continue
            if char == quote:
                self.pos = pos + 1
                return "".join(chars)
            chars.append(char)
            pos += 1
        return None  # unterminated quote: python-dotenv skips the line

    def _unquoted(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        line = self.text[self.pos : end]
        self.pos = end
        comment = re.search(r"\s#", line)
        if comment:
            line = line[: comment.start()]
        return line.strip()

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _skip_inline_space(self) -> None:
        while self._peek() in (" ", "\t"):
            self.pos += 1

    def _at_line_end(self) -> bool:
        self._skip_inline_space()
        return self._peek() in ("", "\n", "#")

    def _skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1

    def _skip_blank_and_comments(self) -> None:
        while self.pos < len(self.text):
            self._skip_inline_space()
            char = self._peek()
            if char == "\n":
                self.pos += 1
            elif char == "#":
                self._skip_line()
            else:
                return
