"""Rewrite steps that stand for several others into the steps nixbuild builds.

``from_dockerfile`` becomes its last stage's steps: a base step (``from_registry``,
``from_scratch``, or an earlier stage's steps) and a ``dockerfile_commands`` step of the
stage's lines (:func:`nixbuild.dockerfile.from_dockerfile`). A registry base's ``setup_dockerfile_commands`` become a ``dockerfile_commands`` step right
after it (with the step's ``secrets`` and ``force_build``), as Modal renders them into the
base's Dockerfile after ``FROM`` and the ``add_python`` lines; then, like every other one:
``dockerfile_commands`` becomes its instructions as steps (RUN -> run_commands, COPY ->
add_local_* with copy=True, ENV, WORKDIR, ...). Docker reads a Dockerfile line against the
image as earlier steps left it (working directory, environment, shell), so the chain is
walked with the same configuration state the plan uses. Each step made from a line keeps the
origin (app file and line) of the ``dockerfile_commands`` call it came from.

``COPY --from=X`` (a ``copy_from`` step) copies out of another chain: stage ``X`` of the
Dockerfile (by ``AS`` name or number), else the registry image ``X``. That chain is expanded
too and returned beside the image as ``NAME.X``: the project locks and builds it like an
image of its own (so its pins, network outputs and secrets work unchanged), and the copy
layer is built on its layers.
"""

from __future__ import annotations

import re
from pathlib import Path

from nixbuild.api.ignore import AUTO_DOCKERIGNORE
from nixbuild.api.image import Image
from nixbuild.api.steps import CopyFrom, DockerfileCommands, FromDockerfile, FromRegistry, Step
from nixbuild.chain import config_update, step_where
from nixbuild.dockerfile import Stage, from_dockerfile, translate
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
    """The image with every composite step replaced (see the module docstring)."""
    return expand_with_stages(name, image, cwd=cwd)[0]


def expand_with_stages(name: str, image: Image, *, cwd: Path) -> tuple[Image, dict[str, Image]]:
    """The expanded image, and the chains its ``COPY --from`` steps copy from, by the name
    each is locked and built under (``NAME.STAGE``)."""
    expander = _Expander(name, cwd)
    return expander.image(image), expander.stages


class _Expander:
    def __init__(self, name: str, cwd: Path):
        self.name, self.cwd = name, cwd
        self.stages: dict[str, Image] = {}

    def image(self, image: Image) -> Image:
        steps, origins, config = [], [], ConfigState()
        for index, step in enumerate(image.steps):
            where = step_where(self.name, index, step)
            stages: list[Stage] = []
            if isinstance(step, FromDockerfile):
                stages = from_dockerfile(step, cwd=self.cwd, where=where)
                parts = stages[-1].steps
            else:
                parts = _setup_commands(step, where) if isinstance(step, FromRegistry) else [step]
            self._walk(parts, image.origin(index), stages, steps, origins, config, self.name)
        return Image._from_steps(tuple(steps), tuple(origins))

    def _walk(self, parts: list[Step], origin, stages: list[Stage], steps: list, origins: list,
              config: ConfigState, label: str) -> None:
        for part in parts:
            replacement = [part]
            if isinstance(part, DockerfileCommands):
                # A registry base's Env is not known before it is locked: $VAR in these lines
                # sees the chain's own ENV values only.
                replacement = translate(part, cwd=self.cwd, where=step_where(label, len(steps), part),
                                        workdir=config.workdir or "/", image_env=config.env, shell=config.shell)
            for item in replacement:
                if isinstance(item, CopyFrom):
                    item = item.model_copy(update={"image": self._stage(item.source, stages, origin)})
                config_update(item, config)
                steps.append(item)
                origins.append(origin)

    def _stage(self, source: str, stages: list[Stage], origin) -> str:
        """The name of the chain ``COPY --from=source`` copies from, expanded once: an earlier
        stage (by name or number), else the image ``source`` names."""
        key = source.lower()
        stage = next((s for s in stages if s.name == key or str(s.index) == key), None)
        label = f"{self.name}.{re.sub(r'[^A-Za-z0-9._-]+', '-', (stage.name or str(stage.index)) if stage else source)}"
        if label not in self.stages:
            parts = stage.steps if stage is not None else [FromRegistry(tag=source)]
            steps, origins = [], []
            self._walk(parts, origin, [s for s in stages if stage is None or s.index < stage.index], steps, origins,
                       ConfigState(), label)
            self.stages[label] = Image._from_steps(tuple(steps), tuple(origins))
        return label
