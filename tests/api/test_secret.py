"""Secrets are references in step models; their values appear only from resolve()."""

import json
import re

import pytest
from pydantic import TypeAdapter

from nixbuild.api import Image, Secret
from nixbuild.api.secret import SECRETS_DIR_ENV, DictSecret, NamedSecret, SecretRef
from nixbuild.errors import InvalidError

VALUE = "hunter2-do-not-leak"


def _everything_printable(image):
    return "\n".join(
        [repr(image), *(step.model_dump_json() for step in image.steps), *(repr(step) for step in image.steps)]
    )


def test_from_dict_values_never_reach_json_or_repr():
    secret = Secret.from_dict({"TOKEN": VALUE, "UNSET": None})
    image = Image.debian_slim().pip_install("x", secrets=[secret]).run_commands("y", env={"PLAIN": "visible"})
    text = _everything_printable(image)
    assert VALUE not in text
    assert "TOKEN" in text
    assert image.steps[1].secrets[0].model_dump() == {"kind": "dict", "keys": ("TOKEN",)}
    assert secret.resolve() == {"TOKEN": VALUE}
    assert image.steps[1].secrets[0] is secret  # the step keeps the object, so the build can resolve it


def test_from_local_environ_reads_eagerly(monkeypatch):
    monkeypatch.setenv("NIXBUILD_TEST_TOKEN", VALUE)
    secret = Secret.from_local_environ(["NIXBUILD_TEST_TOKEN"])
    monkeypatch.setenv("NIXBUILD_TEST_TOKEN", "changed later")
    assert secret.resolve() == {"NIXBUILD_TEST_TOKEN": VALUE}
    assert VALUE not in secret.model_dump_json() + repr(secret)


def test_from_local_environ_missing_variable(monkeypatch):
    monkeypatch.delenv("NIXBUILD_TEST_MISSING", raising=False)
    with pytest.raises(
        InvalidError,
        match=r"^Could not find local environment variable 'NIXBUILD_TEST_MISSING' for Secret\.from_local_environ$",
    ):
        Secret.from_local_environ(["NIXBUILD_TEST_MISSING"])


@pytest.mark.parametrize(
    ("env_dict", "suffix"),
    [
        ({"A": 1}, ", value for key 'A' has type int"),
        ({1: "a"}, ", key 1 has type int"),
        (["A"], ""),
    ],
)
def test_from_dict_type_errors(env_dict, suffix):
    message = "the env_dict argument to Secret has to be a dict[str, Union[str, None]]" + suffix
    with pytest.raises(InvalidError, match=f"^{re.escape(message)}$"):
        Secret.from_dict(env_dict)


def test_secret_read_back_from_json_has_no_values():
    secret = Secret.from_dict({"TOKEN": VALUE})
    again = TypeAdapter(SecretRef).validate_json(secret.model_dump_json())
    assert isinstance(again, DictSecret) and again.keys == ("TOKEN",)
    with pytest.raises(InvalidError, match="has no values"):
        again.resolve()


def test_from_dotenv_is_lazy_and_walks_up_from_path(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    app_file = project / "src" / "app.py"
    app_file.write_text("")
    secret = Secret.from_dotenv(app_file)  # the file does not exist yet: fine, it is read at build
    (project / ".env").write_text(f"TOKEN={VALUE}\nEMPTY=\n")
    assert secret.resolve() == {"TOKEN": VALUE, "EMPTY": ""}
    assert secret.model_dump() == {"kind": "dotenv", "path": str(app_file), "filename": ".env"}


def test_from_dotenv_defaults_to_the_cwd_and_may_find_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    secret = Secret.from_dotenv(filename=".env.nixbuild-test-none")
    assert secret.resolve() == {}
    (tmp_path / ".env.dev").write_text("A=1\n")
    assert Secret.from_dotenv(filename=".env.dev").resolve() == {"A": "1"}


def test_from_name_resolves_from_the_secrets_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SECRETS_DIR_ENV, raising=False)
    secret = Secret.from_name("hf-token", required_keys=["HF_TOKEN"])
    assert secret.model_dump() == {"kind": "name", "name": "hf-token", "required_keys": ("HF_TOKEN",)}
    with pytest.raises(InvalidError, match="Secret 'hf-token' not found") as info:
        secret.resolve()
    assert ".nixbuild/secrets/hf-token.env" in info.value.message

    (tmp_path / ".nixbuild" / "secrets").mkdir(parents=True)
    (tmp_path / ".nixbuild" / "secrets" / "hf-token.env").write_text(f"HF_TOKEN={VALUE}\n")
    assert secret.resolve() == {"HF_TOKEN": VALUE}


def test_from_name_directory_can_be_configured(tmp_path, monkeypatch):
    (tmp_path / "gh.env").write_text("OTHER=1\n")
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path))
    secret = Secret.from_name("gh", required_keys=["GITHUB_TOKEN"])
    with pytest.raises(InvalidError, match=r"missing required keys \['GITHUB_TOKEN'\]"):
        secret.resolve()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "gh.env").write_text("GITHUB_TOKEN=t\n")
    assert secret.resolve(secrets_dir=tmp_path / "elsewhere") == {"GITHUB_TOKEN": "t"}


def test_from_name_falls_back_to_an_environment_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SECRETS_DIR_ENV, raising=False)
    secret = Secret.from_name("hf-token.prod", required_keys=["HF_TOKEN"])
    monkeypatch.setenv("NIXBUILD_SECRET_HF_TOKEN_PROD", f"HF_TOKEN={VALUE}\nOTHER=2\n")
    assert secret.resolve() == {"HF_TOKEN": VALUE, "OTHER": "2"}
    # The file wins when both exist.
    (tmp_path / ".nixbuild" / "secrets").mkdir(parents=True)
    (tmp_path / ".nixbuild" / "secrets" / "hf-token.prod.env").write_text("HF_TOKEN=from-file\n")
    assert secret.resolve() == {"HF_TOKEN": "from-file"}
    monkeypatch.setenv("NIXBUILD_SECRET_HF_TOKEN_PROD", "OTHER=1\n")
    (tmp_path / ".nixbuild" / "secrets" / "hf-token.prod.env").unlink()
    with pytest.raises(InvalidError, match="missing required keys") as info:
        secret.resolve()
    assert "$NIXBUILD_SECRET_HF_TOKEN_PROD" in info.value.fix


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", ".", "x" * 65, 3])
def test_from_name_refuses_names_that_are_not_file_names(name):
    with pytest.raises(InvalidError, match="Invalid Secret name"):
        Secret.from_name(name)


def test_reprs_follow_modal():
    assert repr(Secret.from_name("x")) == "Secret.from_name('x')"
    assert repr(Secret.from_dict({"A": "1", "B": "2"})) == "Secret.from_dict([A, B])"
    assert repr(Secret.from_dotenv()) == "Secret.from_dotenv()"


def test_secrets_in_the_lock_json_are_references(tmp_path):
    image = Image.from_registry(
        "org/private:1", secret=Secret.from_name("registry"), secrets=[Secret.from_dict({"K": VALUE})]
    )
    dumped = json.loads(image.steps[0].model_dump_json())
    assert dumped["registry_secret"] == {"kind": "name", "name": "registry", "required_keys": []}
    assert dumped["secrets"] == [{"kind": "dict", "keys": ["K"]}]
    assert isinstance(image.steps[0].registry_secret, NamedSecret)
