"""What a Python step asks for, read from the user's files at lock time.

Every kind becomes requirement lines for uv (``name==1.0 ; marker``, ``--hash`` options
kept): packages as given, requirements files as written, a pyproject's dependencies (and
the optional groups asked for) the way Modal reads them, a uv project's lock exported with
``uv export --frozen``, a Poetry project's lock (:mod:`nixbuild.python.poetry`). The lines are also the step's identity in the lock, so editing a
requirements file re-resolves its step even though the step's arguments did not change.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from nixbuild.api.steps import (PipInstall, PipInstallFromPyproject, PipInstallFromRequirements,
                                PipInstallPrivateRepos, PoetryInstallFromFile, Step, UvPipInstall, UvSync)
from nixbuild.chain import PYTHON_KINDS
from nixbuild.errors import InvalidError, ResolveError
from nixbuild.python import poetry
from nixbuild.python.resolve import uv_bin

UV_SYNC_VENV = "/.uv/.venv"  # where Modal's uv_sync installs (and puts first on PATH)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise InvalidError(f"cannot read {what} {path}: {exc.strerror}",
                           fix="check the path; relative paths are resolved against the directory you build from")


def _logical_lines(text: str) -> list[str]:
    """Requirement lines with continuations joined and comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def _pyproject(step: PipInstallFromPyproject, cwd: Path) -> list[str]:
    path = cwd / Path(step.pyproject_toml).expanduser()
    project = tomllib.loads(_read(path, "pyproject file")).get("project", {})
    if "dependencies" not in project:
        raise InvalidError(f"No [project.dependencies] section in {path}",
                           fix="declare [project] dependencies, or use Image.poetry_install_from_file()")
    lines = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for group in step.optional_dependencies:
        lines += optional.get(group, [])  # unknown groups are skipped, as Modal does
    return lines


def _uv_project_dir(step: UvSync, cwd: Path) -> Path:
    project = cwd / Path(step.uv_project_dir).expanduser()
    if not (project / "pyproject.toml").is_file():
        raise InvalidError(f"{project} has no pyproject.toml", fix="point uv_project_dir at a uv project")
    if not (project / "uv.lock").is_file():
        raise InvalidError(f"{project} has no uv.lock", fix="run `uv lock` in the project and commit uv.lock")
    return project


def _uv_project(step: UvSync, cwd: Path) -> list[str]:
    project = _uv_project_dir(step, cwd)
    cmd = [uv_bin(), "export", "--frozen", "--project", str(project), "--format", "requirements.txt",
           "--no-emit-project", "--no-header", "--quiet"]
    cmd += [f"--group={g}" for g in step.groups] + [f"--extra={e}" for e in step.extras]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ResolveError(f"uv cannot export {project / 'uv.lock'}:\n{proc.stderr.strip()}",
                           fix="check that uv.lock is up to date with pyproject.toml (`uv lock`)")
    return _logical_lines(proc.stdout)


def requirement_lines(step: Step, cwd: Path) -> list[str] | None:
    """The requirement lines of a Python step, or None for other steps."""
    if not isinstance(step, PYTHON_KINDS):
        return None
    if isinstance(step, (PipInstall, UvPipInstall)):
        lines = list(step.packages)
        for name in getattr(step, "requirements", ()):
            lines += _logical_lines(_read(cwd / Path(name).expanduser(), "requirements file"))
        return lines
    if isinstance(step, PipInstallFromRequirements):
        return _logical_lines(_read(cwd / Path(step.requirements_txt).expanduser(), "requirements file"))
    if isinstance(step, PipInstallFromPyproject):
        return _pyproject(step, cwd)
    if isinstance(step, PoetryInstallFromFile):
        return poetry.requirement_lines(step, cwd)
    if isinstance(step, PipInstallPrivateRepos):
        # Its git refs become requirements only once checked out (nixbuild.python.git_source);
        # the refs themselves are the step's arguments, already part of its identity.
        return []
    return _uv_project(step, cwd)


def step_identity(step: Step, cwd: Path) -> list[str] | None:
    """What a Python step's pins depend on besides its arguments: its requirement lines, or
    for a uv project the text of pyproject.toml and uv.lock (read, not exported: this runs on
    every build's staleness check). None for other steps."""
    if isinstance(step, UvSync):
        project = _uv_project_dir(step, cwd)
        return [(project / "pyproject.toml").read_text(), (project / "uv.lock").read_text()]
    return requirement_lines(step, cwd)


def venv_of(step: Step) -> str | None:
    """The virtual environment a step installs into (None: the image's Python itself)."""
    return UV_SYNC_VENV if isinstance(step, UvSync) else None
