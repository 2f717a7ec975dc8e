"""Loading app files: Modal-style and plain ones, every reference example, and the failures."""

import base64
import pickle
import re
import sys
import textwrap
import types
from pathlib import Path

import pytest

from nixbuild.api import Image
from nixbuild.errors import AppLoadError, InvalidError
from nixbuild.loader import load_images

APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"
REFERENCE_EXAMPLES = sorted((APPS / "reference").glob("*.py"))


@pytest.fixture(autouse=True)
def interpreter_state_is_restored():
    path, modules = list(sys.path), dict(sys.modules)
    yield
    assert sys.path == path
    added = set(sys.modules) - set(modules)
    assert not {name for name in added if name == "modal" or name.startswith(("modal.", "app_helpers"))}
    assert not {
        name for name in added if Path(getattr(sys.modules[name], "__file__", None) or "/").is_relative_to(APPS)
    }


def kinds(image: Image) -> list[str]:
    return [step.kind for step in image.steps]


def test_plain_nixbuild_app():
    images = load_images(APPS / "plain_nixbuild.py")
    assert list(images) == ["base", "web"]
    assert kinds(images["web"]) == ["debian_slim", "apt_install", "pip_install", "env", "workdir", "cmd"]
    assert images["web"].steps[0] is images["base"].steps[0]


def test_modal_style_app_loads_unchanged():
    images = load_images(APPS / "modal_style.py")
    # `image` by its global name; `plain` runs on Modal's default image; the class's inline image.
    assert list(images) == ["image", "plain", "Model"]
    assert kinds(images["image"]) == ["debian_slim", "apt_install", "uv_pip_install", "env"]
    assert images["image"].steps[1].packages == ("git",)  # from the helper module next to the app
    assert kinds(images["plain"]) == ["debian_slim"]
    assert images["Model"].steps[-1].packages == ("transformers",)
    assert len(images["image"].inside_exceptions) == 1  # `import torch` inside image.imports()


def test_apps_and_included_functions():
    images = load_images(APPS / "multi_app.py")
    assert list(images) == ["shared", "worker_app", "crunch"]
    assert images["worker_app"].steps[-1].packages == ("ffmpeg",)


def test_run_function_from_an_app_file():
    step = load_images(APPS / "run_function_app.py")["image"].steps[-1]
    assert step.kind == "run_function"
    assert (step.module, step.module_file, step.function_name) == (
        "run_function_app",
        "run_function_app.py",
        "download",
    )
    assert step.referenced_globals == {"MODEL": "tiny-model", "REVISION": 3}
    assert pickle.loads(base64.b64decode(step.arguments_pickle)) == (("/models",), {})
    assert step.function.__name__ == "download"


@pytest.mark.parametrize("example", REFERENCE_EXAMPLES, ids=lambda p: p.stem)
def test_every_reference_example_loads(example):
    images = load_images(example)
    assert images
    assert all(isinstance(image, Image) for image in images.values())


def test_reference_examples_cover_the_document():
    assert len(REFERENCE_EXAMPLES) == 23


def test_picking_one_image_by_name():
    assert list(load_images(APPS / "plain_nixbuild.py", image="web")) == ["web"]
    with pytest.raises(AppLoadError, match=r"has no image named 'nope'; available: base, web"):
        load_images(APPS / "plain_nixbuild.py", image="nope")


def test_missing_file():
    with pytest.raises(AppLoadError, match="does not exist"):
        load_images(APPS / "no_such_app.py")
    with pytest.raises(AppLoadError, match="is not a file"):
        load_images(APPS)


def test_syntax_error_shows_file_line_and_the_offending_line():
    path = APPS / "syntax_error.py"
    with pytest.raises(AppLoadError) as info:
        load_images(path)
    error = info.value
    file, line = error.where.rsplit(":", 1)
    assert Path(file) == path
    offending = path.read_text().splitlines()[int(line) - 1].strip()
    assert offending and offending in error.message
    assert error.message.startswith("syntax error:")


def test_syntax_error_in_an_imported_module(tmp_path):
    (tmp_path / "helper_with_error.py").write_text("x = (\n")
    app = tmp_path / "app.py"
    app.write_text("import helper_with_error\n")
    with pytest.raises(AppLoadError, match="syntax error") as info:
        load_images(app)
    assert "helper_with_error.py:1" in info.value.where


def test_no_image():
    with pytest.raises(AppLoadError, match=r"no_image\.py defines no Image"):
        load_images(APPS / "no_image.py")


def test_exception_while_importing_shows_the_traceback_tail():
    path = APPS / "raises_on_import.py"
    with pytest.raises(AppLoadError) as info:
        load_images(path)
    error = info.value
    assert "raised RuntimeError" in error.message
    assert "RuntimeError: config server unreachable" in error.message
    assert "CONFIG = load_config()" in error.message
    assert "nixbuild/loader.py" not in error.message  # loader and importlib frames are cut
    assert error.where == f"{path}:7"


def test_type_error_from_an_image_method_is_reported_with_its_message():
    with pytest.raises(AppLoadError, match=re.escape("The `python_version` argument should be a string, not a float.")):
        load_images(APPS / "float_python_version.py")


def test_invalid_image_arguments_keep_modals_error_and_point_at_the_app_line():
    path = APPS / "invalid_image.py"
    with pytest.raises(InvalidError) as info:
        load_images(path)
    assert info.value.message == "pip_install: packages must only contain strings"
    assert info.value.where == f"{path}:3"


def test_sys_exit_during_import(tmp_path):
    app = tmp_path / "exits.py"
    app.write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(AppLoadError, match=r"called sys.exit\(3\)"):
        load_images(app)


def test_a_second_load_sees_edited_files(tmp_path):
    (tmp_path / "recipe.py").write_text("PACKAGES = ['one']\n")
    app = tmp_path / "edited_app.py"
    app.write_text("import modal, recipe\nimage = modal.Image.debian_slim().pip_install(*recipe.PACKAGES)\n")
    first = load_images(app)["image"]
    (tmp_path / "recipe.py").write_text("PACKAGES = ['two']\n")
    second = load_images(app)["image"]
    assert first.steps[-1].packages == ("one",)
    assert second.steps[-1].packages == ("two",)
    assert "recipe" not in sys.modules and "edited_app" not in sys.modules


def test_the_app_module_is_importable_by_its_stem_while_loading(tmp_path):
    app = tmp_path / "self_import.py"
    app.write_text(
        textwrap.dedent(
            """
            import dataclasses, sys
            import modal

            @dataclasses.dataclass
            class Config:  # dataclasses look the module up in sys.modules
                tag: str = "x"

            assert __name__ == "self_import"
            assert sys.modules[__name__].Config is Config
            image = modal.Image.debian_slim()
            """
        )
    )
    assert list(load_images(app)) == ["image"]


def test_a_real_modal_module_is_shadowed_then_restored(tmp_path, monkeypatch):
    real = types.ModuleType("modal")
    monkeypatch.setitem(sys.modules, "modal", real)
    images = load_images(APPS / "reference" / "debian_slim.py")
    assert isinstance(images["image"], Image)
    assert sys.modules["modal"] is real


def test_images_are_deduplicated_by_identity_first_global_name_wins(tmp_path):
    app = tmp_path / "aliases.py"
    app.write_text(
        textwrap.dedent(
            """
            import modal
            app = modal.App()

            @app.function(image=modal.Image.debian_slim().pip_install("a"))
            def first(): ...

            primary = modal.Image.debian_slim().apt_install("git")
            alias = primary

            @app.function(image=primary)
            def uses_primary(): ...

            same_steps = modal.Image.debian_slim().apt_install("git")  # equal, but another object
            """
        )
    )
    images = load_images(app)
    assert list(images) == ["first", "primary", "same_steps"]
    assert images["primary"] is not images["same_steps"]


def test_functions_without_an_image_use_the_app_image(tmp_path):
    app = tmp_path / "app_image.py"
    app.write_text(
        textwrap.dedent(
            """
            import modal
            app = modal.App(image=modal.Image.debian_slim().pip_install("flask"))

            @app.function()
            def web(): ...
            """
        )
    )
    images = load_images(app)
    assert list(images) == ["app"]
    assert images["app"].steps[-1].packages == ("flask",)


def test_name_collisions_get_a_suffix(tmp_path):
    app = tmp_path / "collide.py"
    app.write_text(
        textwrap.dedent(
            """
            import modal
            other = modal.App("other")

            @other.function(image=modal.Image.debian_slim().pip_install("b"))
            def job(): ...

            job_image = job
            job = modal.Image.debian_slim().pip_install("a")  # a global named like the function tag
            """
        )
    )
    images = load_images(app)
    # `job` keeps its first position among the globals, now bound to the "a" image.
    assert {name: img.steps[-1].packages for name, img in images.items()} == {"job": ("a",), "job_2": ("b",)}
    assert list(images) == ["job", "job_2"]


def test_a_global_name_wins_over_a_function_tag_defined_earlier(tmp_path):
    (tmp_path / "training.py").write_text(
        textwrap.dedent(
            """
            import modal
            training_app = modal.App("training")
            gpu_image = modal.Image.debian_slim().pip_install("torch")

            @training_app.function(image=gpu_image)
            def train(): ...
            """
        )
    )
    app = tmp_path / "imports_first.py"
    app.write_text("from training import train\nfrom training import gpu_image as torch_image\n")
    assert list(load_images(app)) == ["torch_image"]


def test_loading_writes_no_bytecode_into_the_project(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    (tmp_path / "helper_mod.py").write_text("import modal\nimage = modal.Image.debian_slim()\n")
    app = tmp_path / "uses_helper.py"
    app.write_text("from helper_mod import image\n")
    assert list(load_images(app)) == ["image"]
    assert not list(tmp_path.rglob("__pycache__"))
    assert sys.dont_write_bytecode is False
