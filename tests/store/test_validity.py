"""Which store Nix uses, as nixbuild reads the settings without starting Nix
(nixbuild/store/validity.py): the oracle is Nix's own reading, ``nix show-config``, under the
same environment."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from nixbuild.store import validity


def nix_store_setting(env: dict[str, str]) -> str:
    proc = subprocess.run(["nix", "--extra-experimental-features", "nix-command", "show-config", "--json"],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout)["store"]["value"]


CASES = {
    "nothing set": ({}, None),
    "NIX_CONFIG": ({"NIX_CONFIG": "store = /tmp/a-chroot"}, None),
    "a comment after it": ({"NIX_CONFIG": "store = /tmp/b  # the cold one\nkeep-going = true"}, None),
    "a user file": ({}, "store = local?root=/tmp/c\n"),
    "NIX_CONFIG over the user file": ({"NIX_CONFIG": "store = /tmp/d"}, "store = /tmp/e\n"),
    "the last line wins": ({"NIX_CONFIG": "store = /tmp/f\nstore = auto"}, None),
}


@pytest.mark.parametrize("extra, user_file", CASES.values(), ids=CASES.keys())
def test_the_store_setting_is_read_as_nix_reads_it(extra, user_file, tmp_path, monkeypatch):
    env = {k: v for k, v in os.environ.items() if k not in ("NIX_CONFIG", "NIX_USER_CONF_FILES")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # this machine's own user file left out
    if user_file is not None:
        (tmp_path / "user.conf").write_text(user_file)
        env["NIX_USER_CONF_FILES"] = str(tmp_path / "user.conf")
    env.update(extra)
    expected = nix_store_setting(env)
    for name in ("NIX_CONFIG", "NIX_USER_CONF_FILES", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
        if name in env:
            monkeypatch.setenv(name, env[name])
    assert (validity.configured_store() or "auto") == expected
    chroot = validity.chroot_store()
    assert chroot == (expected.removeprefix("local?root=") if expected.startswith(("/", "local?root=")) else None)
    assert validity.default_store() == (chroot is None and expected in ("auto", "local")
                                        and not os.environ.get("NIX_REMOTE"))
