"""What the user reads when importing the app file fails: only their own frames, the
exception itself, a fix that applies, and "did you mean" for a misspelt Image method."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pytest

import nixbuild
from nixbuild.api import Image
from nixbuild.errors import AppLoadError
from nixbuild.loader import _import_error, load_images

NIXBUILD_DIR = Path(nixbuild.__file__).resolve().parent
IMPORTS_FIX = "`with image.imports():`"


def failing_load(tmp_path: Path, source: str) -> tuple[Path, AppLoadError]:
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(source).lstrip())
    with pytest.raises(AppLoadError) as info:
        load_images(app)
    return app, info.value


# -- did you mean ------------------------------------------------------------------------------


def test_a_misspelt_method_suggests_the_right_one():
    with pytest.raises(AttributeError) as info:
        Image.debian_slim().apt_instal("x")
    assert str(info.value) == "Image has no method 'apt_instal'; did you mean 'apt_install'?"


def test_a_misspelt_static_method_suggests_the_right_one():
    with pytest.raises(AttributeError) as info:
        Image.debian_slm()
    assert str(info.value) == "Image has no method 'debian_slm'; did you mean 'debian_slim'?"


def test_no_suggestion_when_nothing_is_close():
    with pytest.raises(AttributeError) as info:
        Image.debian_slim().frobnicate()
    assert str(info.value) == "Image has no method 'frobnicate'"


def test_private_names_get_pythons_plain_error_and_protocols_still_work():
    image = Image.debian_slim()
    with pytest.raises(AttributeError, match=r"^'Image' object has no attribute '_nothing'$"):
        image._nothing  # noqa: B018
    with pytest.raises(AttributeError, match=r"^type object 'Image' has no attribute '__wrapped__'$"):
        Image.__wrapped__  # noqa: B018
    assert not hasattr(image, "apt_instal")
    assert copy.deepcopy(image) is image


def test_the_loader_reports_the_suggestion_at_the_users_line(tmp_path):
    app, error = failing_load(tmp_path, """
        import modal

        image = modal.Image.debian_slim().apt_instal("git")
    """)
    assert "AttributeError: Image has no method 'apt_instal'; did you mean 'apt_install'?" in error.message
    assert error.where == f"{app}:3"
    assert error.fix == "fix the error above"


def test_the_loader_reports_a_misspelt_static_method(tmp_path):
    _, error = failing_load(tmp_path, """
        import modal

        image = modal.Image.debian_slm()
    """)
    assert "did you mean 'debian_slim'?" in error.message


# -- trimmed tracebacks ------------------------------------------------------------------------


def test_only_the_users_frames_are_shown(tmp_path):
    recipe = "def build(modal):\n    return modal.Image.debian_slim().apt_install(bogus=1)\n"
    (tmp_path / "recipes.py").write_text(recipe)
    app, error = failing_load(tmp_path, """
        import modal
        import recipes

        image = recipes.build(modal)
    """)
    assert "image = recipes.build(modal)" in error.message
    assert "return modal.Image.debian_slim().apt_install(bogus=1)" in error.message
    assert "nixbuild" not in error.message.replace(str(tmp_path), "")  # nixbuild's own frames are cut
    assert error.message.endswith("TypeError: Image.apt_install() got an unexpected keyword argument 'bogus'")
    assert error.where == f"{tmp_path / 'recipes.py'}:2"


def test_nixbuilds_frames_are_cut_even_when_the_app_folder_holds_nixbuild():
    # An app next to a nixbuild checkout: nixbuild's files are in the app's folder too.
    try:
        Image.debian_slim().apt_install(bogus=1)
    except TypeError as exc:
        error = _import_error(Path(__file__), NIXBUILD_DIR.parent, exc)
    assert Path(__file__).name in error.message
    assert "nixbuild/api/image.py" not in error.message
    assert error.where.startswith(f"{__file__}:")


def test_a_library_error_names_the_exception_and_the_users_line(tmp_path):
    app, error = failing_load(tmp_path, """
        import json

        CONFIG = json.loads("{")
    """)
    assert "json/decoder.py" not in error.message
    assert 'CONFIG = json.loads("{")' in error.message
    assert "JSONDecodeError: Expecting property name enclosed in double quotes" in error.message
    assert error.where == f"{app}:3"


# -- the fix -----------------------------------------------------------------------------------


def test_a_missing_module_suggests_image_imports(tmp_path):
    _, error = failing_load(tmp_path, "import torch_that_is_not_installed\n")
    assert "ModuleNotFoundError: No module named 'torch_that_is_not_installed'" in error.message
    assert IMPORTS_FIX in error.fix


def test_other_errors_do_not_mention_image_imports(tmp_path):
    _, error = failing_load(tmp_path, "raise RuntimeError('config server unreachable')\n")
    assert IMPORTS_FIX not in error.fix
    assert error.fix == "fix the error above"
