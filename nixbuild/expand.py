"""Rewrite steps that stand for several others into the steps nixbuild builds.

``dockerfile_commands`` becomes its instructions as steps (RUN -> run_commands, COPY ->
add_local_* with copy=True, ENV, WORKDIR, ...). Docker reads a Dockerfile line against the
image as earlier steps left it (working directory, environment, shell), so the chain is
walked with the same configuration state the plan uses. Each step made from a line keeps the
origin (app file and line) of the ``dockerfile_commands`` call it came from.
"""

from __future__ import annotations

from pathlib import Path

from nixbuild.api.image import Image
from nixbuild.api.steps import DockerfileCommands
from nixbuild.chain import config_update, step_where
from nixbuild.dockerfile import translate
from nixbuild.plan import ConfigState


def expand(name: str, image: Image, *, cwd: Path) -> Image:
    if not any(isinstance(step, DockerfileCommands) for step in image.steps):
        return image
    steps, origins = [], []
    config = ConfigState()
    for index, step in enumerate(image.steps):
        replacement = [step]
        if isinstance(step, DockerfileCommands):
            replacement = translate(step, cwd=cwd, where=step_where(name, len(steps), step),
                                    workdir=config.workdir or "/", image_env=config.env, shell=config.shell)
        for item in replacement:
            config_update(item, config)
            steps.append(item)
            origins.append(image.origin(index))
    return Image._from_steps(tuple(steps), tuple(origins))
