"""Which local files an ``add_local_*`` step puts into the image, and where (semantics §6).

Modal resolves these steps at build time, against the cwd of the build, and the files it
selects are exactly what the image gets (and what its hash covers), so this module reproduces
its selection rules:

* only regular files are taken (empty directories vanish); a symlink to a file is followed and
  its target's contents and permission bits are used; a symlink to a directory is not entered
  (Modal walks with ``os.walk``, which does not follow them), and broken links are dropped;
* a directory's tree never reaches out of it or into ``.nixbuild/`` (:mod:`nixbuild.local.context`):
  a link to a file outside the directory is refused, naming it, and ``.nixbuild/`` is left out
  whatever the ignore rule says (nor may ``add_local_file``/``add_local_dir`` name a path in it);
* ``add_local_dir`` applies its ignore rule to paths relative to the directory, and a directory
  the rule ignores outright (``node_modules``, ``.venv``) is not even read;
* ``add_local_python_source`` finds each module with ``importlib.util.find_spec``: a package's
  directory goes to ``/root/<dotted/path>`` filtered by the step's ignore (``NON_PYTHON_FILES``
  by default: ``.py`` files only, dot-directories included, as measured); a single-file module
  goes to ``/root/<parent/path>/<file name>`` unfiltered.

``ignore=[]`` is an empty matcher that ignores nothing, so a package is then taken whole,
``__pycache__`` included. Modal's extra dot-file/``__pycache__`` filter applies only to a
*falsy* ignore object, which ``[]`` is not (it becomes a ``FilePatternMatcher``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nixbuild.api.steps import AddLocalDir, AddLocalFile, AddLocalPythonSource
from nixbuild.errors import InvalidError, NixbuildError
from nixbuild.local.context import is_private, link_outside, private_path, real_relative
from nixbuild.local.patterns import ignore_predicate, pattern_matcher

# Modal refuses to mount a module whose distribution ships compiled or assembly code.
_BINARY_SUFFIXES = frozenset({"so", "S", "s", "asm"})
PYTHON_SOURCE_ROOT = PurePosixPath("/root")


@dataclass(frozen=True)
class LocalFile:
    """One file of the image: where it goes, where its bytes come from, its permission bits."""

    remote: str  # absolute POSIX path in the image, e.g. "/app/main.py"
    source: Path  # absolute local path, symlinks resolved (Modal follows them)
    mode: int  # st_mode & 0o7777 of the source


def files_for_step(step: object, *, cwd: Path, where: str) -> list[LocalFile]:
    """The files of one ``add_local_*`` step, sorted by ``remote``.

    ``cwd`` is the build's working directory, against which relative local paths (and
    ``FilePatternMatcher.from_file`` paths) are resolved, as Modal does. Errors name ``where``.
    """
    try:
        if isinstance(step, AddLocalFile):
            files = [_local_file(step, cwd)]
        elif isinstance(step, AddLocalDir):
            files = _local_dir(step, cwd)
        elif isinstance(step, AddLocalPythonSource):
            files = _python_source(step, cwd)
        else:
            raise TypeError(f"not a local-files step: {type(step).__name__}")
    except NixbuildError as exc:
        exc.at(where)
        raise
    by_remote: dict[str, LocalFile] = {}
    for file in files:
        by_remote.setdefault(file.remote, file)  # overlapping modules; a namespace package's first portion wins
    return sorted(by_remote.values(), key=lambda f: f.remote)


def _remote(path: str) -> PurePosixPath:
    """A remote path in normal form ("/app/./x/" is "/app/x"; POSIX's "//" becomes "/")."""
    return PurePosixPath("/" + posixpath.normpath(path).lstrip("/"))


def _missing(path: Path) -> InvalidError:
    return InvalidError(
        f"local path {path} does not exist",
        fix="check the path; relative paths are resolved against the directory you build from",
    )


def _file_entry(remote: PurePosixPath | str, path: Path, entry: os.DirEntry | None = None) -> LocalFile:
    """A LocalFile for ``path``, read through any symlink. With the ``entry`` of a directory
    listing, a plain file needs no path resolution (large trees: one stat per file)."""
    if entry is not None and not entry.is_symlink():
        return LocalFile(remote=str(remote), source=path, mode=entry.stat().st_mode & 0o7777)
    return LocalFile(remote=str(remote), source=path.resolve(), mode=path.stat().st_mode & 0o7777)


def _local_file(step: AddLocalFile, cwd: Path) -> LocalFile:
    # Modal does not expand "~" for add_local_file.
    path = cwd / step.local_path
    if not path.exists():
        raise _missing(path)
    _refuse_private(path)
    if not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise InvalidError(f"local path {path} is {kind}", fix="use add_local_dir() for a directory")
    return _file_entry(_remote(step.remote_path), path)


def _local_dir(step: AddLocalDir, cwd: Path) -> list[LocalFile]:
    path = cwd / Path(step.local_path).expanduser()
    if not path.exists():
        raise _missing(path)
    if not path.is_dir():
        raise InvalidError(f"local path {path} is not a directory", fix="use add_local_file() for a single file")
    _refuse_private(path)
    return list(_tree(path, _remote(step.remote_path), step.ignore, cwd))


def _refuse_private(path: Path) -> None:
    """A path the user names that is (or leads, through links) into a ``.nixbuild`` folder."""
    if is_private(path.absolute().as_posix()) or is_private(path.resolve().as_posix()):
        raise private_path(path)


def _tree(top: Path, remote: PurePosixPath, ignore: object, cwd: Path) -> Iterator[LocalFile]:
    """The files under ``top`` that ``ignore`` keeps, placed under ``remote``."""
    matcher = pattern_matcher(ignore, base_dir=cwd)
    if matcher is not None:
        ignored, prune = matcher.matches, matcher.can_prune_dir
    else:  # a user function: Modal walks everything and asks it about each file
        ignored, prune = _callable_predicate(ignore, cwd), _never
    top = top.resolve()  # so plain files below it need no resolving of their own
    base = str(remote).rstrip("/")
    for rel, entry in _walk(top, "", lambda rel: is_private(rel) or prune(rel)):
        if is_private(rel) or ignored(rel):
            continue
        if entry.is_symlink():
            inside = real_relative(entry.path, top)
            if inside is None:
                raise link_outside(rel, top)
            if is_private(inside):
                continue
        try:
            yield _file_entry(f"{base}/{rel}", Path(entry.path), entry)
        except FileNotFoundError:
            continue  # deleted while we walked; Modal skips these too


def _never(_: str) -> bool:
    return False


def _callable_predicate(ignore: object, cwd: Path) -> Callable[[str], bool]:
    try:
        return ignore_predicate(ignore, base_dir=cwd)
    except InvalidError as exc:
        raise InvalidError(
            exc.message,
            fix="build from the process that loads the app file, or pass a list of patterns instead of a function",
        ) from exc


def _walk(top: Path | str, rel_prefix: str, prune: Callable[[str], bool]) -> Iterator[tuple[str, os.DirEntry]]:
    """Regular files (and symlinks to one) below ``top`` as (relative POSIX path, entry).

    Directories ``prune`` accepts are never listed. Symlinked directories are not entered and
    unreadable directories are skipped, like ``os.walk`` (which Modal uses) does.
    """
    try:
        with os.scandir(top) as listing:
            entries = list(listing)
    except OSError:
        return
    for entry in entries:
        rel = rel_prefix + entry.name
        if entry.is_dir(follow_symlinks=False):
            if not prune(rel):
                yield from _walk(entry.path, rel + "/", prune)
        elif entry.is_file():  # a regular file or a link to one; not a broken link, fifo, ...
            yield rel, entry


def _python_source(step: AddLocalPythonSource, cwd: Path) -> list[LocalFile]:
    files: list[LocalFile] = []
    for name in step.modules:
        parent_dirs = name.split(".")[:-1]
        for is_package, location in _module_locations(name):
            if is_package:
                files.extend(_tree(location, PYTHON_SOURCE_ROOT.joinpath(*name.split(".")), step.ignore, cwd))
            else:
                files.append(_file_entry(PYTHON_SOURCE_ROOT.joinpath(*parent_dirs, location.name), location))
    return files


def _module_locations(name: str) -> list[tuple[bool, Path]]:
    """Modal's ``get_module_mount_info``: (is a package directory, path) for each location.

    A namespace package has one directory per portion on ``sys.path``, each taken.
    """
    fix = (
        "add_local_python_source() takes importable module names: check the spelling and build"
        " from the folder that holds the module"
    )
    if _ships_binaries(name):
        raise InvalidError(
            f"module {name!r} can't be added because its distribution contains binary files",
            fix="install it with pip_install()/uv_pip_install() instead",
        )
    try:
        spec = importlib.util.find_spec(name)
    except Exception as exc:  # finding "a.b" imports "a", which may fail in any way
        raise InvalidError(f"module {name!r} could not be found: {exc!r}", fix=fix) from exc
    if spec is None:
        raise InvalidError(f"module {name!r} could not be found", fix=fix)
    if spec.submodule_search_locations:
        locations = [(True, Path(p)) for p in spec.submodule_search_locations if Path(p).is_dir()]
    elif spec.origin and os.path.isabs(spec.origin) and os.path.isfile(spec.origin):
        locations = [(False, Path(spec.origin))]
    else:
        locations = []
    if not locations:
        raise InvalidError(f"module {name!r} has no source files to add (origin: {spec.origin})", fix=fix)
    return locations


def _ships_binaries(name: str) -> bool:
    """Whether a distribution named like the module ships compiled code (Modal's check)."""
    try:
        shipped = importlib.metadata.files(name) or []
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(str(p).rsplit(".", 1)[-1] in _BINARY_SUFFIXES for p in shipped if "." in str(p))
