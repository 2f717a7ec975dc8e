""""Did you mean" for a Python package the package index does not have.

uv says ``requets was not found in the package registry`` but not which project was meant.
The suggestion is drawn from the projects of the indexes that resolution used, found the
way uv finds them:

1. the ``uv pip compile`` command line: a step's ``index_url``/``extra_index_url``/
   ``find_links`` and the index options of its ``extra_options``;
2. uv's environment (``UV_DEFAULT_INDEX``/``UV_INDEX_URL``, ``UV_INDEX``/
   ``UV_EXTRA_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_NO_INDEX``), then its configuration files
   (``UV_CONFIG_FILE``, else the project's, the user's and the system's ``uv.toml``);
3. for the main index, when nothing names one, uv's default, as the pinned uv's own
   ``--help`` states it (so no index host is written in nixbuild).

A PEP 503 simple index lists every project on its root page (a ``file://`` index: its
``index.html``, else its folders); a find-links location lists distribution files. Reading
them is best effort and happens only after a resolution failed: a location that cannot be
read within a few seconds contributes no names, and no names means no suggestion, never an
error. Names are compared PEP 503-normalized with :func:`difflib.get_close_matches`, after
a filter on length that drops only names the cutoff would reject anyway (a large public
index lists hundreds of thousands).
"""

from __future__ import annotations

import difflib
import html
import math
import os
import re
import time
import tomllib
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nixbuild.python.names import normalize, project_of_file

CUTOFF = 0.8
SECONDS = 10.0  # per location, the whole download included
_NAME = r"(?<![\w.-])([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
_UNKNOWN = (
    re.compile(_NAME + r"(?:\[[^\]]*\])? was not found in the (?:package registry|provided package locations)"),
    re.compile(r"there (?:is no version|are no versions) of " + _NAME),
)
_ANCHOR = re.compile(r"<a\b([^>]*)>([^<]*)</a>", re.IGNORECASE)
_HREF = re.compile(r"""href\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


class IndexLocations(BaseModel):
    """Where a resolution looked for packages: simple index roots and find-links locations."""

    model_config = ConfigDict(frozen=True)

    indexes: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()


class Suggestion(BaseModel):
    """Projects whose names are close to one the index does not have."""

    model_config = ConfigDict(frozen=True)

    unknown: str
    candidates: tuple[str, ...]

    def __str__(self) -> str:
        quoted = [repr(name) for name in self.candidates]
        choice = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        return f"{self.unknown!r} is not on the package index; did you mean {choice}?"


def suggest(uv_message: str, uv_args: Sequence[str], *, default_index: Callable[[], str | None],
            environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> Suggestion | None:
    """The suggestion for the first package uv's error names as missing, or None."""
    unknown = unknown_packages(uv_message)
    if not unknown:
        return None
    names = project_names(index_locations(uv_args, default_index=default_index, environ=environ, cwd=cwd))
    for name in unknown:
        if candidates := close_names(name, names):
            return Suggestion(unknown=name, candidates=tuple(candidates))
    return None


def unknown_packages(uv_message: str) -> list[str]:
    """The package names uv's resolution error says no index has (in order, once each)."""
    found = [match[1] for pattern in _UNKNOWN for match in pattern.finditer(uv_message)]
    return list(dict.fromkeys(found))


def close_names(name: str, names: Mapping[str, str], *, n: int = 3) -> list[str]:
    """Up to ``n`` projects of ``names`` (normalized name -> name as listed) close to ``name``,
    best first; none when the index has ``name`` itself (then the problem is its version)."""
    wanted = normalize(name)
    if wanted in names:
        return []
    # difflib's ratio is 2*matches/(len(a)+len(b)) <= 2*min(len)/(len(a)+len(b)): names too
    # short or too long to reach the cutoff are dropped before any comparison.
    size = len(wanted)
    slack = 1e-9  # a ratio exactly at the cutoff passes; float division may land just beside it
    shortest = math.ceil(CUTOFF * size / (2 - CUTOFF) - slack)
    longest = math.floor(size * (2 - CUTOFF) / CUTOFF + slack)
    similar = [key for key in names if shortest <= len(key) <= longest]
    return [names[key] for key in difflib.get_close_matches(wanted, similar, n=n, cutoff=CUTOFF)]


# ---------------------------------------------------------------------------------------------
# Where uv looked


def index_locations(uv_args: Sequence[str], *, default_index: Callable[[], str | None],
                    environ: Mapping[str, str] = os.environ, cwd: Path | None = None) -> IndexLocations:
    """The locations a ``uv pip compile`` with these arguments reads (module docstring)."""
    cli, env, config = _from_args(uv_args), _from_env(environ), _from_config(environ, cwd or Path.cwd())

    def values(key: str) -> list:
        # An option on the command line replaces its variable (as clap does); configuration
        # files add to either.
        return [*(cli[key] or env[key]), *(value for layer in config for value in layer[key])]

    find_links = tuple(dict.fromkeys(values("find_links")))
    if any(values("no_index")):
        return IndexLocations(find_links=find_links)
    main = values("index")[:1] or [default_index()]
    indexes = tuple(dict.fromkeys(filter(None, [*main, *values("extra")])))
    return IndexLocations(indexes=indexes, find_links=find_links)


_OPTIONS = {"--index-url": "index", "-i": "index", "--default-index": "index", "--extra-index-url": "extra",
            "--index": "extra", "--find-links": "find_links", "-f": "find_links"}


def _from_args(args: Sequence[str]) -> dict[str, list]:
    layer: dict[str, list] = {"index": [], "extra": [], "find_links": [], "no_index": []}
    words = iter(args)
    for word in words:
        name, has_value, value = word.partition("=")
        if word == "--no-index":
            layer["no_index"].append(True)
        elif name in _OPTIONS:
            value = value if has_value else next(words, "")
            layer[_OPTIONS[name]].append(_index_url(value) if name == "--index" else value)
    return layer


def _from_env(environ: Mapping[str, str]) -> dict[str, list]:
    return {
        "index": _words(environ.get("UV_DEFAULT_INDEX") or environ.get("UV_INDEX_URL")),
        "extra": [*map(_index_url, _words(environ.get("UV_INDEX"))), *_words(environ.get("UV_EXTRA_INDEX_URL"))],
        "find_links": [value for value in environ.get("UV_FIND_LINKS", "").split(",") if value.strip()],
        "no_index": [True] if environ.get("UV_NO_INDEX", "").lower() in ("1", "true", "yes", "on") else [],
    }


def _from_config(environ: Mapping[str, str], cwd: Path) -> list[dict[str, list]]:
    """The settings of uv's configuration files, most important first: ``UV_CONFIG_FILE``
    alone, else the nearest project's (``uv.toml``, or ``pyproject.toml`` with a
    ``[tool.uv]`` table), the user's and the system's. A file's ``[pip]`` table goes before
    its top level, as for every ``uv pip`` command."""
    if environ.get("UV_NO_CONFIG"):
        return []
    if environ.get("UV_CONFIG_FILE"):
        tables = [_uv_settings(Path(environ["UV_CONFIG_FILE"]))]
    else:
        project = (_uv_settings(d / name) for d in (cwd, *cwd.parents) for name in ("uv.toml", "pyproject.toml"))
        user = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "uv" / "uv.toml"
        system = [Path(d) / "uv" / "uv.toml" for d in (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")]
        system_file = next((path for path in system if path.is_file()), Path("/etc/uv/uv.toml"))
        tables = [next(filter(None, project), None), _uv_settings(user), _uv_settings(system_file)]
    layers = []
    for table in filter(None, tables):
        for section in (table.get("pip", {}), table):
            indexes = [i for i in section.get("index", []) if isinstance(i, dict) and not i.get("explicit")]
            layers.append({
                "index": [*_list(section.get("index-url")), *(i["url"] for i in indexes if i.get("default"))],
                "extra": [*_list(section.get("extra-index-url")), *(i["url"] for i in indexes if not i.get("default"))],
                "find_links": _list(section.get("find-links")),
                "no_index": [True] if section.get("no-index") else [],
            })
    return layers


def _uv_settings(path: Path) -> dict | None:
    """uv's settings in a file (a pyproject's ``[tool.uv]``), or None: absent or unreadable."""
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return table.get("tool", {}).get("uv") if path.name == "pyproject.toml" else table


def _list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _words(value: str | None) -> list[str]:
    return (value or "").split()


def _index_url(value: str) -> str:
    """``UV_INDEX``/``--index`` entries may be ``name=url``."""
    name, has_name, url = value.partition("=")
    return url if has_name and re.fullmatch(r"[A-Za-z0-9_.-]+", name) else value


# ---------------------------------------------------------------------------------------------
# What they list


def project_names(locations: IndexLocations) -> dict[str, str]:
    """Every project the locations list: normalized name -> name as listed."""
    listed = [name for url in locations.indexes for name in _index_projects(url)]
    for location in locations.find_links:
        listed += filter(None, map(project_of_file, _find_links_files(location)))
    names: dict[str, str] = {}
    for name in listed:
        names.setdefault(normalize(name), name)
    return names


def _index_projects(url: str) -> list[str]:
    """A simple index's projects: the text of its root page's links (PEP 503)."""
    folder = _local_path(url)
    if folder is not None and folder.is_dir() and not (folder / "index.html").is_file():
        return [entry.name for entry in _entries(folder) if entry.is_dir()]
    if folder is not None and folder.is_dir():
        page = _read(str(folder / "index.html"))
    else:
        page = _read(url if folder is not None or url.endswith("/") else url + "/")
    return [html.unescape(text).strip() for _, text in _ANCHOR.findall(page)]


def _find_links_files(location: str) -> list[str]:
    """File names of a find-links location: a folder's entries, or a page's link targets."""
    folder = _local_path(location)
    if folder is not None and folder.is_dir():
        return [entry.name for entry in _entries(folder)]
    page = _read(location)
    targets = (_HREF.search(attributes) for attributes, _ in _ANCHOR.findall(page))
    return [urllib.parse.unquote(urllib.parse.urlsplit(target[1]).path.rsplit("/", 1)[-1])
            for target in targets if target]


def _local_path(location: str) -> Path | None:
    import urllib.request  # here and in _read, not at the top: ~15 ms of every build's start-up

    parts = urllib.parse.urlsplit(location)
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    return Path(location) if not parts.scheme else None


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        return list(os.scandir(folder))
    except OSError:
        return []


def _read(location: str) -> str:
    """A page's text, or "" when it cannot be read within :data:`SECONDS`."""
    import urllib.request

    path = _local_path(location)
    try:
        if path is not None:
            return path.read_text(errors="replace")
        if urllib.parse.urlsplit(location).scheme not in ("http", "https"):
            return ""
        deadline = time.monotonic() + SECONDS
        request = urllib.request.Request(location, headers={"Accept": "text/html"})
        chunks = []
        with urllib.request.urlopen(request, timeout=SECONDS) as response:
            while chunk := response.read(1 << 20):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    return ""
        return b"".join(chunks).decode(errors="replace")
    except (OSError, ValueError):
        return ""
