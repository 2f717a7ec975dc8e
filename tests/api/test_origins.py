"""Every step records where in the user's code it was made (``Image.origin``), outside the
step models: the lock and every digest stay as they were."""

from __future__ import annotations

import textwrap
from pathlib import Path

from nixbuild.api import Image
from nixbuild.api.origin import Origin
from nixbuild.expand import expand
from nixbuild.loader import load_images


def write(path: Path, source: str) -> Path:
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def lines_of(image: Image) -> list[int | None]:
    return [None if origin is None else origin.line for origin in map(image.origin, range(len(image.steps)))]


def test_a_chain_across_lines_records_the_line_of_each_call(tmp_path):
    app = write(tmp_path / "app.py", """
        import modal

        image = (
            modal.Image.debian_slim(python_version="3.11")
            .apt_install("git")
            .env({"A": "1"})
            .pip_install(
                "six",
            )
            .run_commands("true")
        )
    """)
    image = load_images(app)["image"]
    # Python reports the line of each method's name, also for a call whose arguments span lines.
    assert lines_of(image) == [4, 5, 6, 7, 10]
    assert {image.origin(i).file for i in range(5)} == {str(app)}


def test_origins_point_into_helper_modules_and_pipe_recipes(tmp_path):
    write(tmp_path / "recipes.py", """
        def with_git(image):
            return image.apt_install("git")
    """)
    app = write(tmp_path / "app.py", """
        import modal
        from recipes import with_git

        base = modal.Image.debian_slim(python_version="3.11")
        image = base.pipe(with_git).workdir("/app")
    """)
    images = load_images(app)
    image = images["image"]
    assert image.origin(0) == Origin(str(app), 4)  # shared with `base`
    assert image.origin(1) == Origin(str(tmp_path / "recipes.py"), 2)  # the recipe's line
    assert image.origin(2) == Origin(str(app), 5)
    assert images["base"].origin(-1) == image.origin(0)


def test_every_base_constructor_records_its_line(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    app = write(tmp_path / "app.py", """
        import modal

        slim = modal.Image.debian_slim(python_version="3.11")
        mamba = modal.Image.micromamba(python_version="3.11")
        scratch = modal.Image.from_scratch()
        registry = modal.Image.from_registry("ubuntu:24.04")
        ecr = modal.Image.from_aws_ecr("000000000000.dkr.ecr.us-east-1.amazonaws.com/x:1")
        gcp = modal.Image.from_gcp_artifact_registry("us-docker.pkg.dev/p/r/x:1")
        dockerfile = modal.Image.from_dockerfile("Dockerfile")
    """)
    images = load_images(app)
    assert {name: image.origin(0).line for name, image in images.items()} == {
        "slim": 3, "mamba": 4, "scratch": 5, "registry": 6, "ecr": 7, "gcp": 8, "dockerfile": 9,
    }


def test_modals_default_image_has_no_origin(tmp_path):
    app = write(tmp_path / "app.py", """
        import modal

        app = modal.App()

        @app.function()
        def f():
            pass
    """)
    assert lines_of(load_images(app)["f"]) == [None]


def test_steps_expanded_from_dockerfile_commands_keep_its_origin(tmp_path):
    app = write(tmp_path / "app.py", """
        import modal

        image = modal.Image.debian_slim(python_version="3.11").dockerfile_commands(
            "RUN true",
            "ENV A=1",
        ).env({"B": "2"})
    """)
    expanded = expand("image", load_images(app)["image"], cwd=tmp_path)
    assert [step.kind for step in expanded.steps] == ["debian_slim", "run_commands", "env", "env"]
    assert lines_of(expanded) == [3, 3, 3, 6]


def test_origins_are_not_part_of_the_steps():
    here = Image.debian_slim(python_version="3.11").apt_install("git")
    there = (Image.debian_slim(python_version="3.11")
             .apt_install("git"))
    assert here.origin(1) != there.origin(1)
    assert here.steps == there.steps
    assert [s.model_dump(mode="json") for s in here.steps] == [s.model_dump(mode="json") for s in there.steps]
    assert "origin" not in repr(here)
