"""``poetry_install_from_file``: a Poetry project's lock as the requirement lines of a pip step.

Modal runs ``poetry install --no-root`` with the lock (``--with``/``--without``/``--only``),
after ``pip install poetry``. nixbuild reads the lock instead and installs exactly its pins
through the same path as every pip step (uv resolution for the image, fixed-output wheel
downloads, pypa's installer):

- a package is installed when one of its ``groups`` is selected: Poetry's default is ``main``
  and every group not marked ``optional = true``; ``with_`` adds optional groups, ``without``
  removes groups, ``only`` selects exactly the groups it names;
- its line is ``name==version``, with the lock's ``markers`` for the selected groups (uv
  evaluates them for the image, so a ``sys_platform == "win32"`` package is left out) and a
  ``--hash`` for every file the lock lists, so only those files are accepted;
- a package from a private index (``[package.source] type = "legacy"``) adds that index as
  ``--extra-index-url``; one from git, a URL or a local path is refused, naming it;
- ``poetry_version`` has its effect: ``poetry`` (``"latest"``) or ``poetry==VERSION`` joins
  the lines, resolved with the lock's pins, so ``poetry`` works in the image as in Modal's;
  ``None`` installs no Poetry.

The lock must carry ``groups`` (lock-version 2.1, written by Poetry 2); an older lock is
refused with the command that rewrites it. ``ignore_lockfile=True`` is refused: resolving
Poetry's own constraint syntax (``^1.2``) is Poetry's job; lock the project first.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from nixbuild.api.steps import PoetryInstallFromFile
from nixbuild.errors import InvalidError
from nixbuild.warn import warn

DEFAULT_GROUP = "main"


def _toml(path: Path, what: str) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise InvalidError(f"cannot read {what} {path}: {exc.strerror}",
                           fix="check the path; relative paths are resolved against the directory you build from")
    except tomllib.TOMLDecodeError as exc:
        raise InvalidError(f"{path} is not valid TOML: {exc}", fix=f"fix {path}")


def lock_path(step: PoetryInstallFromFile, cwd: Path) -> Path:
    pyproject = cwd / Path(step.poetry_pyproject_toml).expanduser()
    if step.poetry_lockfile is not None:
        return cwd / Path(step.poetry_lockfile).expanduser()
    return pyproject.parent / "poetry.lock"


def groups(pyproject: dict, step: PoetryInstallFromFile) -> set[str]:
    """The dependency groups ``poetry install`` would install with the step's options."""
    declared = pyproject.get("tool", {}).get("poetry", {}).get("group", {})
    if step.only:
        return set(step.only)
    chosen = {DEFAULT_GROUP} | {name for name, table in declared.items() if not table.get("optional", False)}
    if "dev-dependencies" in pyproject.get("tool", {}).get("poetry", {}):
        chosen.add("dev")  # Poetry 1.1's table, installed by default as group "dev"
    return (chosen | set(step.with_)) - set(step.without)


def requirement_lines(step: PoetryInstallFromFile, cwd: Path) -> list[str]:
    if step.ignore_lockfile:
        raise InvalidError("poetry_install_from_file(ignore_lockfile=True) is not supported by nixbuild: it would "
                           "resolve Poetry's own version constraints", fix="run `poetry lock` and use the lock")
    if step.old_installer:
        warn("poetry_install_from_file: old_installer=True is ignored: nixbuild installs the lock's packages with "
             "pypa's installer, not with Poetry")
    pyproject = _toml(cwd / Path(step.poetry_pyproject_toml).expanduser(), "pyproject file")
    path = lock_path(step, cwd)
    if not path.is_file():
        raise InvalidError(f"poetry.lock not found at inferred location: {path.resolve()}. If a lockfile is not "
                           "needed, `ignore_lockfile=True` can be used.",
                           fix="run `poetry lock` beside pyproject.toml, or pass poetry_lockfile=")
    lock = _toml(path, "Poetry lock")
    packages = lock.get("package", [])
    if packages and any("groups" not in package for package in packages):
        version = lock.get("metadata", {}).get("lock-version", "?")
        raise InvalidError(f"{path} (lock-version {version}) does not say which group each package belongs to",
                           fix="rewrite it with Poetry 2 (`poetry lock`), which records the groups")
    wanted = groups(pyproject, step)
    lines: list[str] = []
    indexes: list[str] = []
    for package in packages:
        selected = [g for g in package["groups"] if g in wanted]
        if not selected:
            continue
        source = package.get("source") or {}
        if source.get("type") == "legacy":
            indexes.append(f"--extra-index-url {source['url']}")
        elif source:
            raise InvalidError(f"{path}: {package['name']} comes from a {source.get('type')} source "
                               f"({source.get('url')}), which nixbuild cannot pin as a wheel or sdist",
                               fix="publish it to a package index, or install it in a run_commands step")
        line = f"{package['name']}=={package['version']}"
        if marker := _marker(package.get("markers"), selected):
            line += f" ; {marker}"
        hashes = [f["hash"] for f in package.get("files", []) if f.get("hash", "").startswith("sha256:")]
        lines.append(" ".join([line, *(f"--hash={h}" for h in hashes)]))
    if step.poetry_version is not None:
        lines.append("poetry" if step.poetry_version == "latest" else f"poetry=={step.poetry_version}")
    return sorted(set(indexes)) + lines


def _marker(markers: str | dict | None, selected: list[str]) -> str | None:
    """The package's environment marker for the selected groups (None: unconditional)."""
    if markers is None or isinstance(markers, str):
        return markers
    per_group = [markers.get(group) for group in selected]
    if any(m is None for m in per_group):
        return None
    unique = list(dict.fromkeys(per_group))
    return unique[0] if len(unique) == 1 else " or ".join(f"({m})" for m in unique)
