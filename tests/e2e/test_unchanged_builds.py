"""A build that nothing changed is answered from its stamp (nixbuild/noop.py): the same
stdout, the app not loaded, no Nix evaluation; and any change the build depends on runs the
full build again. The image is debian_slim (shared with the other tests' builds) plus one
local file."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.e2e.conftest import payload

APP = """
import sys
import modal

print("app loaded", file=sys.stderr)
image = (modal.Image.debian_slim(python_version="3.11.9")
         .add_local_file("data.txt", "/srv/data.txt", copy=True))
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory, cli):
    folder = tmp_path_factory.mktemp("noop")
    (folder / "app.py").write_text(APP)
    (folder / "data.txt").write_text("first\n")
    cli("build", folder / "app.py", cwd=folder)
    return folder / "app.py"


def build(cli, app, *args, **kw) -> subprocess.CompletedProcess:
    return cli("build", app, *args, cwd=app.parent, **kw)


def answered(proc: subprocess.CompletedProcess) -> bool:
    return "app loaded" not in proc.stderr and "is unchanged since the last build" in proc.stderr


def test_an_unchanged_build_prints_the_same_document_without_loading_the_app(app, cli):
    full = build(cli, app, "--json", env={"NIXBUILD_NO_NOOP": "1"})  # the full path, never answered
    assert "app loaded" in full.stderr
    build(cli, app, "--json")
    again = build(cli, app, "--json")
    assert answered(again), again.stderr
    assert again.stdout == full.stdout
    payload(json.loads(again.stdout))
    # The warning a full build gives (a micro Python version Debian does not ship) is given again.
    assert "3.11.9" in full.stderr and "3.11.9" in again.stderr


def test_an_edit_that_keeps_size_and_mtime_builds_the_new_bytes(app, cli):
    data = app.parent / "data.txt"
    build(cli, app)
    before = json.loads(build(cli, app, "--json").stdout)["images"][0]["manifest_digest"]
    st = data.stat()
    data.write_text("secnd\n")  # same size; the mtime is put back: only the ctime tells
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    proc = build(cli, app, "--json")
    assert not answered(proc), proc.stderr
    after = json.loads(proc.stdout)["images"][0]["manifest_digest"]
    assert after != before
    again = build(cli, app, "--json")
    assert answered(again) and json.loads(again.stdout)["images"][0]["manifest_digest"] == after


@pytest.mark.parametrize("change", ["variable", "new module", "out-link", "lock"])
def test_a_change_it_depends_on_runs_the_full_build(app, cli, change):
    build(cli, app)
    assert answered(build(cli, app))
    env = {}
    link = app.parent / ".nixbuild" / "image"
    target = os.readlink(link)
    if change == "variable":
        env = {"NIXBUILD_UNRELATED": "1"}  # any NIX*/MODAL_* variable may change a build
    elif change == "new module":
        (app.parent / "helper.py").write_text("")  # the app's import would find it there
    elif change == "out-link":
        link.unlink()
    else:
        lock = app.parent / "nixbuild.lock"
        lock.write_text(lock.read_text())
    proc = build(cli, app, env=env)
    assert not answered(proc), proc.stderr
    assert os.readlink(link) == target
    (app.parent / "helper.py").unlink(missing_ok=True)

