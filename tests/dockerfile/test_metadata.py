"""Dockerfile LABEL / EXPOSE / VOLUME / STOPSIGNAL / USER become the OCI image config, checked
against the OCI image-spec config schema; build steps after a non-root USER are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from nixbuild.api.ignore import AUTO_DOCKERIGNORE
from nixbuild.api.image import Image
from nixbuild.api.steps import DockerfileCommands, ImageMetadata
from nixbuild.chain import config_update, require_supported
from nixbuild.dockerfile import translate
from nixbuild.errors import InvalidError
from nixbuild.expand import expand
from nixbuild.plan import ConfigState
from tests.ocischema import validate_json

WHERE = "image 'web', step 1 dockerfile_commands"


def config_of(*lines: str) -> dict:
    state = ConfigState()
    step = DockerfileCommands(commands=lines, ignore=AUTO_DOCKERIGNORE)
    for step in translate(step, cwd=Path("/nonexistent"), where=WHERE):
        config_update(step, state)
    return state.finish().model_dump(exclude_none=True)


def full_config(config: dict) -> dict:
    return {"architecture": "amd64", "os": "linux", "config": config,
            "rootfs": {"type": "layers", "diff_ids": []}}


def test_metadata_instructions_set_the_config():
    config = config_of(
        "ARG VERSION=1.2",
        'LABEL org.opencontainers.image.version=$VERSION "description"="a web app"',
        "LABEL legacy value with spaces",
        "EXPOSE 80 53/udp 8000-8001/TCP",
        'VOLUME ["/data", "/cache"]',
        "VOLUME /logs",
        "STOPSIGNAL SIGINT",
        "USER app:app",
    )
    assert config["Labels"] == {"org.opencontainers.image.version": "1.2", "description": "a web app",
                                "legacy": "value with spaces"}
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
    assert config["Volumes"] == {"/data": {}, "/cache": {}, "/logs": {}}
    assert config["StopSignal"] == "SIGINT"
    assert config["User"] == "app:app"
    validate_json(full_config(config), "config-schema.json", "config")


def test_later_instructions_override():
    config = config_of("LABEL a=1 b=2", "LABEL a=3", "USER one", "USER two", "STOPSIGNAL 9", "STOPSIGNAL SIGKILL")
    assert (config["Labels"], config["User"], config["StopSignal"]) == ({"a": "3", "b": "2"}, "two", "SIGKILL")


def test_no_metadata_no_keys():
    config = config_of("ENV A=b")
    assert not {"Labels", "ExposedPorts", "Volumes", "StopSignal", "User"} & config.keys()


@pytest.mark.parametrize("line", ["EXPOSE http", "EXPOSE 70000", "EXPOSE 90-80", "EXPOSE 80/icmp"])
def test_bad_expose_is_refused(line):
    with pytest.raises(InvalidError) as caught:
        config_of(line)
    assert "EXPOSE" in caught.value.message and "line 1" in caught.value.where


@pytest.mark.parametrize("line", ["USER", "USER a b", "STOPSIGNAL"])
def test_one_argument_instructions(line):
    with pytest.raises(InvalidError):
        config_of(line)


def _chain(*lines: str, then=None) -> Image:
    image = Image.debian_slim("3.11").dockerfile_commands(list(lines))
    return then(image) if then else image


def test_build_steps_after_a_non_root_user_are_refused():
    image = expand("web", _chain("RUN true", "USER nobody", "RUN id"), cwd=Path("/nonexistent"))
    with pytest.raises(InvalidError) as caught:
        require_supported("web", image)
    assert "USER nobody" in caught.value.message and "step 3 run_commands" in caught.value.where
    later = expand("web", _chain("USER 1000", then=lambda i: i.pip_install("six")), cwd=Path("/nonexistent"))
    with pytest.raises(InvalidError, match="USER 1000"):
        require_supported("web", later)


def test_user_after_the_last_build_step_or_back_to_root_is_fine():
    for lines in (("RUN true", "USER nobody"), ("USER nobody", "USER root", "RUN id"), ("USER 0:0", "RUN id")):
        image = expand("web", _chain(*lines), cwd=Path("/nonexistent"))
        require_supported("web", image)
        assert any(isinstance(step, ImageMetadata) for step in image.steps)
