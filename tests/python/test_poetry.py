"""poetry_install_from_file's requirement lines, read from hand-written poetry.lock files in
Poetry 2's format (lock-version 2.1; examples/poetry has one Poetry itself wrote)."""

from pathlib import Path

import pytest

from nixbuild.api.image import Image
from nixbuild.errors import InvalidError
from nixbuild.python.poetry import requirement_lines

PYPROJECT = """
[tool.poetry.dependencies]
python = "^3.11"
[tool.poetry.group.dev.dependencies]
pytest = "*"
[tool.poetry.group.docs]
optional = true
[tool.poetry.group.docs.dependencies]
mkdocs = "*"
"""


def package(name: str, version: str, groups: list[str], markers=None, source=None) -> str:
    text = f'[[package]]\nname = "{name}"\nversion = "{version}"\ngroups = {groups!r}\n'.replace("'", '"')
    if isinstance(markers, str):
        text += f"markers = {markers!r}\n"
    elif markers:
        text += "markers = {" + ", ".join(f"{g} = {m!r}" for g, m in markers.items()) + "}\n"
    text += f'files = [{{file = "{name}-{version}-py3-none-any.whl", hash = "sha256:{"ab" * 32}"}}]\n'
    if source:
        text += "[package.source]\n" + "".join(f'{k} = "{v}"\n' for k, v in source.items())
    return text + "\n"


LOCK = (package("attrs", "25.4.0", ["main"]) + package("pytest", "8.4.0", ["dev"])
        + package("mkdocs", "1.6.1", ["docs"]) + package("colorama", "0.4.6", ["main", "dev"],
                                                          {"main": "sys_platform == \"win32\"", "dev": "os_name == \"nt\""}))


def lines(tmp_path: Path, lock: str = LOCK, pyproject: str = PYPROJECT, **options) -> list[str]:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "poetry.lock").write_text(lock + '[metadata]\nlock-version = "2.1"\n')
    step = Image.debian_slim().poetry_install_from_file("pyproject.toml", poetry_version=None, **options).steps[1]
    return requirement_lines(step, tmp_path)


def names(found: list[str]) -> list[str]:
    return [line.split("==")[0] for line in found]


def test_poetry_s_default_groups_and_the_options_that_change_them(tmp_path):
    assert names(lines(tmp_path)) == ["attrs", "pytest", "colorama"]
    assert names(lines(tmp_path, with_=["docs"])) == ["attrs", "pytest", "mkdocs", "colorama"]
    assert names(lines(tmp_path, without=["dev"])) == ["attrs", "colorama"]
    assert names(lines(tmp_path, only=["docs"])) == ["mkdocs"]


def test_lines_pin_the_version_the_markers_of_the_selected_groups_and_every_hash(tmp_path):
    found = lines(tmp_path)
    assert found[0] == f"attrs==25.4.0 --hash=sha256:{'ab' * 32}"
    assert found[2].startswith('colorama==0.4.6 ; (sys_platform == "win32") or (os_name == "nt") --hash=')
    assert lines(tmp_path, only=["main"])[1].startswith('colorama==0.4.6 ; sys_platform == "win32" --hash=')


def test_poetry_itself_joins_unless_poetry_version_is_none(tmp_path):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "poetry.lock").write_text(LOCK)
    for version, line in (("latest", "poetry"), ("2.1.0", "poetry==2.1.0")):
        step = Image.debian_slim().poetry_install_from_file("pyproject.toml", poetry_version=version).steps[1]
        assert requirement_lines(step, tmp_path)[-1] == line


def test_sources_a_private_index_is_added_and_git_is_refused(tmp_path):
    private = package("internal", "1.0", ["main"], source={"type": "legacy", "url": "http://127.0.0.1:9/simple",
                                                           "reference": "internal"})
    assert lines(tmp_path, lock=private)[0] == "--extra-index-url http://127.0.0.1:9/simple"
    git = package("tool", "0.1", ["main"], source={"type": "git", "url": "https://example.invalid/tool.git"})
    with pytest.raises(InvalidError, match="comes from a git source"):
        lines(tmp_path, lock=git)


def test_what_is_refused(tmp_path):
    with pytest.raises(InvalidError, match="does not say which group"):
        lines(tmp_path, lock='[[package]]\nname = "six"\nversion = "1.17.0"\ncategory = "main"\n\n')
    with pytest.raises(InvalidError, match="ignore_lockfile=True"):
        lines(tmp_path, ignore_lockfile=True)
    (tmp_path / "poetry.lock").unlink()
    step = Image.debian_slim().poetry_install_from_file("pyproject.toml").steps[1]
    with pytest.raises(InvalidError, match="poetry.lock not found at inferred location"):
        requirement_lines(step, tmp_path)
