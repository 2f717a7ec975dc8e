"""from_dockerfile: the FROM line as the base step, the rest as dockerfile_commands (expected
steps written by hand from Docker's rules)."""

from pathlib import Path

import pytest

from nixbuild.api.image import Image
from nixbuild.api.secret import Secret
from nixbuild.api.steps import DockerfileCommands, FromRegistry, FromScratch
from nixbuild.dockerfile import from_dockerfile
from nixbuild.errors import InvalidError

WHERE = "image 'x', step 0 from_dockerfile"


def stages_of(tmp_path: Path, text: str, **kwargs):
    (tmp_path / "Dockerfile").write_text(text)
    step = Image.from_dockerfile("Dockerfile", **kwargs).steps[0]
    return from_dockerfile(step, cwd=tmp_path, where=WHERE)


def steps_of(tmp_path: Path, text: str, **kwargs):
    """The image's own (last) stage."""
    return stages_of(tmp_path, text, **kwargs)[-1].steps


def test_args_before_from_pick_the_base_and_build_args_win(tmp_path):
    text = "ARG REG=127.0.0.1:5000\nARG TAG=v1\nFROM ${REG}/base:${TAG} AS app\nARG TAG\nRUN echo $TAG\n"
    base, commands = steps_of(tmp_path, text, build_args={"TAG": "v2"}, add_python="3.12")
    assert isinstance(base, FromRegistry) and base.tag == "127.0.0.1:5000/base:v2" and base.add_python == "3.12"
    assert isinstance(commands, DockerfileCommands) and commands.build_args == {"TAG": "v2"}
    # Line numbers stay the file's: the lines up to FROM are blank in the commands.
    assert commands.commands[0].split("\n")[3:] == ["ARG TAG", "RUN echo $TAG", ""]
    (_, commands) = steps_of(tmp_path, text)
    assert commands.build_args == {"TAG": "v1"}  # a stage's bare ARG takes the global default


def test_the_registry_secret_is_the_pull_login(tmp_path):
    secret = Secret.from_dict({"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"})
    (base,) = steps_of(tmp_path, "FROM registry.example/private:1\n", registry_secret=secret)
    assert base.registry_auth == "static" and base.registry_secret is not None


def test_scratch_and_what_is_refused(tmp_path):
    (base, _) = steps_of(tmp_path, "FROM scratch\nCOPY Dockerfile /\n")
    assert isinstance(base, FromScratch)
    secret = Secret.from_dict({"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"})
    with pytest.raises(InvalidError, match="`registry_secret` is not supported with multi-stage Dockerfiles."):
        steps_of(tmp_path, "FROM a\nFROM b\n", registry_secret=secret)
    with pytest.raises(InvalidError, match="linux/amd64 images only"):
        steps_of(tmp_path, "FROM --platform=linux/arm64 a\n")
    with pytest.raises(InvalidError, match="RUN before FROM"):
        steps_of(tmp_path, "RUN true\nFROM a\n")
    with pytest.raises(InvalidError, match="no FROM line"):
        steps_of(tmp_path, "RUN true\n")
    with pytest.raises(InvalidError, match="cannot read the Dockerfile"):
        from_dockerfile(Image.from_dockerfile("missing/Dockerfile").steps[0], cwd=tmp_path, where=WHERE)


def test_stages_by_name_and_number_and_a_stage_built_on_another(tmp_path):
    text = ("ARG BASE=127.0.0.1:5000/py:3\nFROM $BASE AS Build\nRUN make\nFROM build AS test\nRUN make test\n"
            "FROM 127.0.0.1:5000/slim:1\nCOPY --from=build /out /out\n")
    build, test, final = stages_of(tmp_path, text, add_python="3.12")
    assert (build.name, build.index, test.name, final.name) == ("build", 0, "test", None)
    assert build.steps[0] == FromRegistry(tag="127.0.0.1:5000/py:3")  # add_python is the last stage's only
    assert test.steps[:2] == build.steps and len(test.steps) == 3  # FROM build: the build stage's steps, then its own
    assert final.steps[0].add_python == "3.12" and final.steps[0].tag == "127.0.0.1:5000/slim:1"
    # Each stage keeps only its own lines (the others blank), so line numbers stay the file's.
    assert build.steps[1].commands[0].split("\n")[2] == "RUN make" and "make test" not in build.steps[1].commands[0]


def test_add_python_reaches_an_image_stage_built_on_an_earlier_one(tmp_path):
    build, final = stages_of(tmp_path, "FROM 127.0.0.1:5000/py:3 AS build\nRUN make\nFROM build\nRUN check\n",
                             add_python="3.12")
    assert build.steps[0].add_python is None and final.steps[0].add_python == "3.12"
