"""``micromamba install -f FILE``: the match specs (and channels) a spec file names.

micromamba reads two kinds: an environment file (``.yml``/``.yaml``: ``channels:`` and
``dependencies:``; a ``pip:`` sub-list is refused, as pip packages belong in pip steps) and
a plain text file of match specs, one per line (``#`` comments; an ``@EXPLICIT`` file of
package URLs is not resolved and is refused too).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nixbuild.errors import InvalidError


class SpecFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    specs: tuple[str, ...]
    channels: tuple[str, ...] = ()


def read(path: Path) -> SpecFile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidError(f"cannot read spec_file {path}: {exc}", fix="pass an existing file as spec_file") from None
    if path.suffix in (".yml", ".yaml"):
        return _environment(path, text)
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    if "@EXPLICIT" in lines:
        raise InvalidError(f"{path} is an @EXPLICIT package list, which nixbuild does not install yet",
                           fix="list match specs (one per line) or use an environment.yml")
    return SpecFile(specs=tuple(line for line in lines if line))


def _environment(path: Path, text: str) -> SpecFile:
    import yaml  # here, not at the top: every build loads this module, few read a .yml

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidError(f"{path} is not valid YAML: {exc}", fix="fix the environment file") from None
    if not isinstance(data, dict):
        raise InvalidError(f"{path} is not an environment file (no mapping at the top)",
                           fix="give it `channels:` and `dependencies:` lists")
    specs = []
    for item in data.get("dependencies") or []:
        if not isinstance(item, str):
            raise InvalidError(f"{path} lists {item!r} under dependencies: pip sub-lists are not installed by "
                               "micromamba_install in nixbuild", fix="install pip packages in a pip_install step")
        specs.append(item)
    return SpecFile(specs=tuple(specs), channels=tuple(str(c) for c in data.get("channels") or []))
