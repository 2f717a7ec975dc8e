"""Parameters nixbuild accepts but cannot honour warn once each, naming the parameter and the
method; the defaults warn nothing."""

from __future__ import annotations

import warnings

import pytest

from nixbuild.api.image import Image
from nixbuild.api.secret import Secret
from nixbuild.warn import NixbuildWarning, one_line

BASE = Image.debian_slim("3.11")


def build_fn():
    pass


def messages(make) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
    return [str(w.message) for w in caught if issubclass(w.category, NixbuildWarning)]


def test_defaults_warn_nothing():
    assert messages(lambda: BASE.apt_install("curl").uv_pip_install("six").uv_sync()
                    .run_function(build_fn)) == []


def test_apt_install_env_secrets():
    found = messages(lambda: BASE.apt_install("curl", env={"TOKEN": "s3cret"},
                                              secrets=[Secret.from_dict({"K": "hidden"})], gpu="T4"))
    assert [m.split(" is ignored")[0] for m in found] == [
        "Image.apt_install: env= (keys TOKEN)", "Image.apt_install: secrets= (1 given)"]
    assert not any("s3cret" in m or "hidden" in m for m in found)  # never a value


@pytest.mark.parametrize("make", [lambda: BASE.uv_pip_install("six", uv_version="0.4.0"),
                                  lambda: BASE.uv_sync(uv_version="0.4.0")])
def test_uv_version(make):
    [message] = messages(make)
    assert "uv_version='0.4.0' is ignored" in message and message.startswith("Image.uv_")


def test_run_function_resources():
    found = messages(lambda: BASE.run_function(build_fn, cpu=2.0, memory=1024, timeout=60))
    assert [m.split(" is ignored")[0] for m in found] == [
        "Image.run_function: cpu=2.0", "Image.run_function: memory=1024", "Image.run_function: timeout=60"]


def test_the_cli_prints_one_line():
    line = one_line("a\nb  c", NixbuildWarning, "x.py", 1)
    assert line == "warning: a b c\n"
