"""Rewrite steps that stand for several others into the steps nixbuild builds.

``from_dockerfile`` becomes its base step (``from_registry`` or ``from_scratch``) and a
``dockerfile_commands`` step of the lines after ``FROM`` (:func:`nixbuild.dockerfile.from_dockerfile`).
A registry base's ``setup_dockerfile_commands`` become a ``dockerfile_commands`` step right
after it (with the step's ``secrets`` and ``force_build``), as Modal renders them into the
base's Dockerfile after ``FROM`` and the ``add_python`` lines; then, like every other one:
``dockerfile_commands`` becomes its instructions as steps (RUN -> run_commands, COPY ->
add_local_* with copy=True, ENV, WORKDIR, ...). Docker reads a Dockerfile line against the
image as earlier steps left it (working directory, environment, shell), so the chain is
walked with the same configuration state the plan uses. Each step made from a line keeps the
origin (app file and line) of the ``dockerfile_commands`` call it came from.
"""

from __future__ import annotations

from pathlib import Path

from nixbuild.api.ignore import AUTO_DOCKERIGNORE
from nixbuild.api.image import Image
from nixbuild.api.steps import DockerfileCommands, FromDockerfile, FromRegistry, Step
from nixbuild.chain import config_update, step_where
from nixbuild.dockerfile import from_dockerfile, translate
from nixbuild.plan import ConfigState
from nixbuild.warn import warn


def _setup_commands(step: FromRegistry, where: str) -> list[Step]:
    if not step.setup_dockerfile_commands:
        if step.secrets:
            warn(f"{where}: secrets= has no effect without setup_dockerfile_commands (they reach RUN lines only)")
        return [step]
    commands = DockerfileCommands(commands=step.setup_dockerfile_commands, ignore=AUTO_DOCKERIGNORE,
                                  secrets=step.secrets, force_build=step.force_build)
    return [step.model_copy(update={"setup_dockerfile_commands": (), "secrets": ()}), commands]


def expand(name: str, image: Image, *, cwd: Path) -> Image:
    if not any(isinstance(step, (DockerfileCommands, FromRegistry, FromDockerfile)) for step in image.steps):
        return image
    steps, origins = [], []
    config = ConfigState()
    for index, step in enumerate(image.steps):
        where = step_where(name, index, step)
        if isinstance(step, FromDockerfile):
            parts = from_dockerfile(step, cwd=cwd, where=where)
        else:
            parts = _setup_commands(step, where) if isinstance(step, FromRegistry) else [step]
        for part in parts:
            replacement = [part]
            if isinstance(part, DockerfileCommands):
                # A registry base's Env is not known before it is locked: $VAR in these lines
                # sees the chain's own ENV values only.
                replacement = translate(part, cwd=cwd, where=step_where(name, len(steps), part),
                                        workdir=config.workdir or "/", image_env=config.env, shell=config.shell)
            for item in replacement:
                config_update(item, config)
                steps.append(item)
                origins.append(image.origin(index))
    return Image._from_steps(tuple(steps), tuple(origins))
