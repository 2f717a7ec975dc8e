"""Step models: the discriminated union, deterministic JSON, and lazy Python-version checks."""

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from nixbuild.api import FilePatternMatcher, Image, python_series
from nixbuild.api.steps import BASE_KINDS, Step
from nixbuild.errors import InvalidError

REPO = Path(__file__).resolve().parents[2]

# Every step kind, built once through the public API.
CHAIN = textwrap.dedent(
    """
    import json
    from nixbuild.api import FilePatternMatcher, Image, Secret, Volume

    def build():
        pass

    def chain():
        bases = [
            Image.debian_slim("3.12"),
            Image.micromamba("3.11"),
            Image.from_scratch(),
            Image.from_registry("ubuntu:24.04", add_python="3.12", setup_dockerfile_commands=["RUN true"]),
            Image.from_dockerfile("Dockerfile", context_dir="ctx", build_args={"V": "1"}, env={"E": "1"}),
        ]
        image = (
            bases[0]
            .apt_install("git", "curl")
            .pip_install("numpy", "attrs", index_url="https://example.com/simple", pre=True, gpu="t4")
            .pip_install_from_requirements("requirements.txt", "wheels/")
            .pip_install_from_pyproject("pyproject.toml", ["test"])
            .uv_pip_install("b", "a", requirements=["r1.txt", "r2.txt"], uv_version="0.5.0")
            .uv_sync(groups=["dev"], extras=["gpu"], frozen=False)
            .poetry_install_from_file("poetry/pyproject.toml", with_=["docs"], poetry_version=None)
            .pip_install_private_repos("github.com/org/repo@v1", git_user="me", secrets=[Secret.from_name("gh")])
            .micromamba_install("numpy", spec_file="env.yml", channels=["conda-forge"])
            .run_commands("echo one", "echo two", volumes={"/cache": Volume.from_name("cache")})
            .dockerfile_commands(["COPY . /app", "RUN ls"], context_files={"/x": "x.txt"}, ignore=["*.pyc"])
            .run_function(build, secrets=[Secret.from_dict({"TOKEN": "value-never-serialized"})])
            .add_local_file("a.txt", "/a/")
            .add_local_dir("data", "/data", ignore=~FilePatternMatcher("**/*.csv"))
            .add_local_python_source("pkg", copy=True)
            .env({"B": "2", "A": "1"})
            .workdir("/app")
            .entrypoint(["python"])
            .cmd(["app.py"])
            .shell(["/bin/bash", "-c"])
        )
        return [step for base in bases for step in base.steps] + list(image.steps[1:])

    print(json.dumps([step.model_dump(mode="json") for step in chain()]))
    """
)


@pytest.fixture(scope="module")
def chain_script(tmp_path_factory):
    script = tmp_path_factory.mktemp("chain") / "chain_app.py"
    script.write_text(CHAIN)
    return script


@pytest.fixture
def chain_steps(chain_script):
    # Imported from a real file: run_function needs the function's source.
    spec = importlib.util.spec_from_file_location("chain_app", chain_script)
    module = importlib.util.module_from_spec(spec)
    with contextlib.redirect_stdout(io.StringIO()):
        spec.loader.exec_module(module)
    return module.chain()


def test_every_step_kind_is_covered_and_distinct(chain_steps):
    kinds = [step.kind for step in chain_steps]
    union_kinds = {cls.model_fields["kind"].default for cls in Step.__origin__.__args__}  # type: ignore[attr-defined]
    # image_metadata and copy_from are made only by translating Dockerfile lines
    # (tests/dockerfile/test_metadata.py, test_translate.py).
    assert set(kinds) == union_kinds - {"image_metadata", "copy_from"}
    union_kinds -= {"image_metadata", "copy_from"}
    assert len(union_kinds) == 25
    assert union_kinds >= BASE_KINDS


def test_step_json_round_trips_through_the_union(chain_steps):
    adapter = TypeAdapter(Step)
    for step in chain_steps:
        dumped = step.model_dump(mode="json")
        again = adapter.validate_python(dumped)
        assert type(again) is type(step)
        assert again.model_dump(mode="json") == dumped


def test_step_json_is_identical_across_processes_and_hash_seeds(chain_script):
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        result = subprocess.run(
            [sys.executable, str(chain_script)], capture_output=True, text=True, env=env, check=True
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    steps = json.loads(outputs.pop())
    assert [s["kind"] for s in steps][:3] == ["debian_slim", "micromamba", "from_scratch"]


def test_step_json_never_contains_secret_values(chain_steps):
    dumped = json.dumps([step.model_dump(mode="json") for step in chain_steps])
    assert "value-never-serialized" not in dumped
    assert '"keys": ["TOKEN"]' in dumped


def test_env_steps_keep_dict_order():
    step = Image.debian_slim().env({"B": "2", "A": "1"}).steps[-1]
    assert step.model_dump_json() == '{"kind":"env","vars":{"B":"2","A":"1"}}'


def test_ignore_specs_are_recorded_as_data():
    image = (
        Image.debian_slim()
        .add_local_dir("d", "/d")
        .add_local_dir("d", "/e", ignore=["*.pyc", "!keep.pyc"])
        .add_local_dir("d", "/f", ignore=FilePatternMatcher.from_file(".gitignore"))
        .add_local_dir("d", "/g", ignore=lambda p: p.suffix == ".tmp")
        .add_local_python_source("pkg")
        .dockerfile_commands("COPY . /app")
    )
    ignores = [step.ignore.model_dump(mode="json") for step in image.steps[1:]]
    assert ignores == [
        {"kind": "patterns", "patterns": [], "inverted": False, "patterns_file": None},
        {"kind": "patterns", "patterns": ["*.pyc", "!keep.pyc"], "inverted": False, "patterns_file": None},
        {"kind": "patterns", "patterns": [], "inverted": False, "patterns_file": ".gitignore"},
        {"kind": "callable", "name": "test_ignore_specs_are_recorded_as_data.<locals>.<lambda>"},
        {"kind": "patterns", "patterns": ["**/*.py"], "inverted": True, "patterns_file": None},
        {"kind": "auto_dockerignore"},
    ]
    assert image.steps[4].ignore.predicate(Path("x.tmp")) is True


def test_bare_exclusion_pattern_is_refused():
    with pytest.raises(ValueError, match=r'^Illegal exclusion pattern: "!"$'):
        FilePatternMatcher("*.log", " ! ")


@pytest.mark.parametrize(
    ("image", "series"),
    [
        (lambda: Image.debian_slim("3.12"), "3.12"),
        (lambda: Image.debian_slim("3.12.3"), "3.12"),
        (lambda: Image.micromamba("3.13rc1"), "3.13rc1"),
        (lambda: Image.from_registry("ubuntu", add_python="3.14t"), "3.14t"),
        (lambda: Image.from_dockerfile("Dockerfile", add_python="3.11"), "3.11"),
        (lambda: Image.from_registry("python:3.12"), None),
        (lambda: Image.from_scratch(), None),
    ],
)
def test_python_series(image, series):
    assert python_series(image().steps[0]) == series


def test_python_series_defaults_to_the_local_interpreter():
    assert python_series(Image.debian_slim().steps[0]) == "{}.{}".format(*sys.version_info)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (lambda: Image.debian_slim("py3"), "Invalid Python version: 'py3'"),
        (lambda: Image.debian_slim("2.7"), "Invalid Python version: '2.7'"),
        (lambda: Image.debian_slim("3.13t"), "Free threaded Python is not supported with Image.debian_slim"),
        (lambda: Image.micromamba("3.14t"), "Free threaded Python is not supported with Image.micromamba"),
        (
            lambda: Image.from_registry("ubuntu", add_python="3.12.1"),
            "Python version must be specified as 'major.minor' for this interface;"
            " micro-level specification ('3.12.1') is not valid.",
        ),
    ],
)
def test_python_series_errors_are_modals(image, message):
    step = image().steps[0]  # defining it is fine: the check is lazy
    with pytest.raises(InvalidError) as info:
        python_series(step)
    assert info.value.message == message
