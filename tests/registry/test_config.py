"""What an image on a registry base inherits (Docker's rules, written out by hand here), and
the registry login the step's secret gives."""

import pytest

from nixbuild.api.image import Image
from nixbuild.api.secret import Secret
from nixbuild.chain import config_update
from nixbuild.errors import InvalidError
from nixbuild.plan import ConfigState
from nixbuild.registry import credentials
from nixbuild.registry.pin import InheritedConfig

BASE = InheritedConfig(env=["PATH=/usr/local/cuda/bin:/usr/bin", "CUDA_HOME=/usr/local/cuda"], working_dir="/work",
                       entrypoint=["/opt/nvidia/entrypoint.sh"], cmd=["bash"], labels={"vendor": "x"},
                       exposed_ports=["8888/tcp"], stop_signal="SIGINT")


def configured(*steps) -> ConfigState:
    config = ConfigState()
    config.inherit(BASE)
    for step in steps:
        assert config_update(step, config)
    return config


def test_everything_is_inherited_and_the_chain_adds_to_it():
    image = Image.debian_slim().env({"A": "1"}).workdir("sub")
    config = configured(*image.steps[1:]).finish()
    assert config.Env == ["PATH=/usr/local/cuda/bin:/usr/bin", "CUDA_HOME=/usr/local/cuda", "A=1"]
    assert (config.WorkingDir, config.Entrypoint, config.Cmd) == ("/work/sub", ["/opt/nvidia/entrypoint.sh"], ["bash"])
    assert (config.Labels, config.ExposedPorts, config.StopSignal) == ({"vendor": "x"}, {"8888/tcp": {}}, "SIGINT")


def test_an_entrypoint_clears_the_base_cmd_but_not_one_set_after_the_base():
    image = Image.debian_slim().entrypoint(["python"])
    assert configured(*image.steps[1:]).finish().Cmd is None
    image = Image.debian_slim().cmd(["app.py"]).entrypoint(["python"])
    assert configured(*image.steps[1:]).finish().Cmd == ["app.py"]


def test_static_and_gcp_logins_and_a_refusal_for_aws_keys():
    where = "image 'x', step 0 from_registry"
    step = Image.from_registry("r.example/a", secret=Secret.from_dict(
        {"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"})).steps[0]
    assert credentials.of_step(step, where) == credentials.Credentials("u", "p")
    assert "p" not in repr(credentials.of_step(step, where)).replace("password", "")
    step = Image.from_gcp_artifact_registry("r.example/a", secret=Secret.from_dict(
        {"SERVICE_ACCOUNT_JSON": "{}"})).steps[0]
    assert credentials.of_step(step, where) == credentials.Credentials("_json_key", "{}")
    step = Image.from_aws_ecr("r.example/a", secret=Secret.from_dict(
        {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "r"})).steps[0]
    with pytest.raises(InvalidError, match="get-login-password"):
        credentials.of_step(step, where)
    assert credentials.of_step(Image.from_registry("r.example/a").steps[0], where) is None
