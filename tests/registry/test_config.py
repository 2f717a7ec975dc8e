"""What an image on a registry base inherits (Docker's rules, written out by hand here), and
the registry login the step's secret gives."""

from pathlib import Path

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


def test_build_steps_on_a_base_that_runs_as_a_user_are_refused_until_user_root():
    """image_spec over a hand-written lock whose base config says User 1000."""
    from nixbuild.lock import BootstrapLock, DebPin, ImageLock, StepLock
    from nixbuild.plan import image_spec
    from nixbuild.registry.facts import BaseFacts
    from nixbuild.registry.pin import RegistryPin
    from nixbuild.settings import Settings

    base = RegistryPin(reference="127.0.0.1:5000/nb:1", repository="127.0.0.1:5000/nb", manifest="sha256:" + "01" * 32,
                       config="sha256:" + "02" * 32, layers=[], inherited=InheritedConfig(user="1000"),
                       facts=BaseFacts())
    locked = ImageLock(distribution="registry", snapshots=[],
                       steps=[StepLock(index=0, kind="from_registry", fingerprint="f", packages=[], registry=base)])
    pin = DebPin(name="busybox-static", version="1", architecture="amd64", archive="debian",
                 path="pool/main/b/busybox/busybox-static_1_amd64.deb", size=1, sha256="aa" * 32)
    boot = BootstrapLock(distribution="bookworm", snapshots=[], busybox=pin, busybox_nar_hash="0" * 52, python=[])
    settings = Settings(cache_dir="/nonexistent")
    image = Image.from_registry("127.0.0.1:5000/nb:1").run_commands("id")
    with pytest.raises(InvalidError, match="runs as USER 1000") as raised:
        image_spec("x", image, locked, boot, settings, {})
    assert raised.value.where == "image 'x', step 1 run_commands" and "USER root" in raised.value.fix
    fixed = Image.from_registry("127.0.0.1:5000/nb:1").dockerfile_commands(["USER root"])
    from nixbuild.expand import expand
    spec = image_spec("x", expand("x", fixed.run_commands("id"), cwd=Path("/nonexistent")), locked, boot, settings, {})
    assert spec.config.User == "root" and spec.layers[-1].kind == "run"
