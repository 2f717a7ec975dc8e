"""nixbuild/noop.py's parts that need no build: which commands a stamp may answer, and which
environment variables a build looked up (the e2e tests build and answer for real)."""

from __future__ import annotations

import os
import subprocess

import pytest

from nixbuild import noop


@pytest.mark.parametrize("argv, app", [
    (["build", "app.py"], "app.py"),
    (["build", "--json", "app.py", "--image", "web"], "app.py"),
    (["build", "app.py", "--lock=x.lock", "--frozen"], "app.py"),
    (["build", "app.py", "--store", "/tmp/s"], None),
    (["build", "app.py", "--sbom"], None),
    (["build", "app.py", "--image"], None),
    (["build", "a.py", "b.py"], None),
    (["check", "app.py"], None),
    ([], None),
])
def test_only_a_plain_build_may_be_answered(argv, app):
    assert noop._app_of(argv) == app


def test_lookups_are_recorded_and_copies_of_the_environment_are_not(monkeypatch):
    recording = noop.Recording(["build", "app.py"], "app.py")
    saved = os.environ.__class__
    try:
        noop._watch_environ(recording)
        os.environ.get("NIXBUILD_TEST_ABSENT")
        assert "NIXBUILD_TEST_IN" not in os.environ
        subprocess.run(["true"], env={**os.environ, "X": "1"}, check=True)
        dict(os.environ.items())
        os.environ.copy()
    finally:
        os.environ.__class__ = saved
    assert recording.env_keys == {"NIXBUILD_TEST_ABSENT", "NIXBUILD_TEST_IN"}


@pytest.mark.parametrize("source, env", [
    ("image = modal.Image.debian_slim().run_commands('true', force_build=True)", {}),
    ("image = modal.Image.debian_slim()", {"MODAL_FORCE_BUILD": "1"}),
    ("image = modal.Image.debian_slim()", {"MODAL_IGNORE_CACHE": "1"}),
])
def test_a_forced_build_leaves_no_stamp(tmp_path, monkeypatch, source, env):
    from nixbuild.build import Project

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = tmp_path / "app.py"
    app.write_text(f"import modal\n{source}\n")
    monkeypatch.chdir(tmp_path)
    assert Project.load(app).noop_inputs([]) is None
