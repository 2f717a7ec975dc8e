"""A build with secrets is refused where Nix would run the step outside this process's
environment (a daemon, a remote builder); asked of the real `nix` here."""

import pytest

from nixbuild.errors import BuildError
from nixbuild.tools import nixdaemon

WHERE = "image 'web', step 1 run_commands"


def test_the_local_store_here_builds_with_our_environment(monkeypatch):
    monkeypatch.delenv("NIX_REMOTE", raising=False)
    monkeypatch.delenv("NIX_CONFIG", raising=False)
    nixdaemon.require_local_builds(WHERE)  # this machine: root, single-user store, no builders


def test_nix_remote_daemon_is_refused_naming_it(monkeypatch):
    monkeypatch.setenv("NIX_REMOTE", "daemon")
    assert nixdaemon.nix_settings()["store"] == "daemon"  # what nix itself says
    with pytest.raises(BuildError) as info:
        nixdaemon.require_local_builds(WHERE)
    assert info.value.where == WHERE and "daemon" in info.value.message and "NIX_REMOTE" in info.value.message
    assert info.value.exit_code == 6 and "NIX_REMOTE=local" in info.value.fix
    nixdaemon.require_local_builds(WHERE, store="/tmp/a-chroot-store")  # `check`'s second store is local


def test_remote_builders_are_refused_naming_them(monkeypatch, tmp_path):
    machines = tmp_path / "machines"
    machines.write_text("# comment\nssh://gpu-box x86_64-linux - 4 1 cuda\n")
    monkeypatch.delenv("NIX_REMOTE", raising=False)
    monkeypatch.setenv("NIX_CONFIG", f"builders = @{machines} ; ssh-ng://other x86_64-linux")
    with pytest.raises(BuildError, match="ssh://gpu-box, ssh-ng://other") as info:
        nixdaemon.require_local_builds(WHERE)
    assert "NIX_CONFIG='builders ='" in info.value.fix


@pytest.mark.parametrize(("store", "writable", "socket", "local"), [
    ("auto", True, True, True), ("auto", False, True, False), ("auto", False, False, True),
    ("local", False, True, True), ("/some/root", False, True, True), ("daemon", True, False, False),
    ("unix:///run/nix.sock", True, False, False), ("ssh-ng://builder", True, False, False),
])
def test_store_is_local_follows_nix_auto_rule(tmp_path, store, writable, socket, local):
    state = tmp_path / "state"
    if writable:
        state.mkdir()  # root writes any directory; a missing one is what it cannot write
    sock = tmp_path / "socket"
    if socket:
        sock.touch()
    assert nixdaemon.store_is_local(store, state_dir=state, socket=sock) is local
