"""A build that nothing changed is answered from its stamp (nixbuild/noop.py): the same
stdout, the app not loaded, no Nix evaluation; and any change the build depends on runs the
full build again. The image is debian_slim (shared with the other tests' builds) plus one
local file.

A build whose only change is an edited local file is answered by the one-file edit
(nixbuild/local/edit.py): the layer and the image made without loading the app or starting
nix-build. Its oracle is the full build, whose image derivation must give the same digest
and print the same lines; Nix itself checks what was imported (``--verify-path``,
``--references``), and skopeo reads the layout. An edit of a file
the app imports, or one below a step that runs on it, is a full build."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from nixbuild.store.root_records import RootRecord
from nixbuild.store.roots import GC_ROOTS_AUTO
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



def remade(proc: subprocess.CompletedProcess) -> bool:
    return "app loaded" not in proc.stderr and "remade without nix-build" in proc.stderr


def nix_store(*args: str) -> str:
    return subprocess.run(["nix-store", *args], capture_output=True, text=True, check=True).stdout


def test_an_edited_local_file_is_remade_without_nix_build_as_the_full_build_makes_it(app, cli):
    data = app.parent / "data.txt"
    build(cli, app)
    data.write_text("edited\n")  # in place, as an editor saves
    data.chmod(0o640)  # bits a NAR cannot carry: the full build's tree names them, the edit reads them
    proc = build(cli, app)
    assert remade(proc), proc.stderr
    image = os.path.realpath(app.parent / ".nixbuild" / "image")

    # What Nix holds: a valid path with its layers as references (its name: tests/store/test_imports.py).
    nix_store("--verify-path", image)
    blobs = Path(image) / "blobs" / "sha256"
    layers = {os.path.dirname(os.readlink(b)) for b in blobs.iterdir() if b.is_symlink()}
    assert set(nix_store("--query", "--references", image).split()) == layers
    inspected = json.loads(subprocess.run(["skopeo", "inspect", f"oci:{image}:latest"], capture_output=True,
                                          text=True, check=True).stdout)
    assert len(inspected["Layers"]) == len(layers) == 3  # debian_slim's two, and the file's
    # Kept by a history root that gc reads, and by the out-link's GC root.
    records = [RootRecord.model_validate_json(f.read_text()) for f in Path(os.environ.get(
        "NIXBUILD_CACHE_DIR", Path.home() / ".cache" / "nixbuild")).glob("roots/*/*.json") if f.name != "app.json"]
    assert any(r.store_path == image and r.app == str(app) for r in records)
    assert f"{app.parent / '.nixbuild' / 'image'} -> {image}" in nix_store("--gc", "--print-roots")
    assert GC_ROOTS_AUTO.is_dir()

    full = build(cli, app, env={"NIXBUILD_NO_NOOP": "1"})  # the image derivation, built by nix-build
    assert "app loaded" in full.stderr
    assert proc.stdout == full.stdout
    assert os.path.realpath(app.parent / ".nixbuild" / "image") != image  # the derivation's own path
    with tarfile.open(blobs / inspected["Layers"][-1].removeprefix("sha256:")) as tar:
        assert tar.getmember("srv/data.txt").mode == 0o640


def test_edits_in_a_row_are_remade_and_the_build_after_is_answered(app, cli):
    data = app.parent / "data.txt"
    build(cli, app)
    data.write_text("one\n")
    first = build(cli, app)
    data.write_text("two, longer\n")
    second = build(cli, app)
    assert remade(first) and remade(second), (first.stderr, second.stderr)
    assert first.stdout.split()[1] != second.stdout.split()[1]  # the manifest digests
    again = build(cli, app)
    assert answered(again), again.stderr
    assert again.stdout == second.stdout
    assert os.path.realpath(app.parent / ".nixbuild" / "image") in again.stderr


IMPORTS = """
import sys
import modal
import settings

print("app loaded", file=sys.stderr)
image = (modal.Image.debian_slim(python_version="3.11")
         .env({"MODE": settings.MODE})
         .add_local_python_source("settings", copy=True))
"""

RUNS_ON = """
import sys
import modal

print("app loaded", file=sys.stderr)
image = (modal.Image.debian_slim(python_version="3.11")
         .add_local_file("data.txt", "/srv/data.txt", copy=True)
         .run_commands("cp /srv/data.txt /srv/copy.txt"))
"""


@pytest.mark.parametrize("case", ["a module the app imports", "a file a later step runs on"])
def test_an_edit_the_image_depends_on_otherwise_runs_the_full_build(tmp_path, cli, case):
    app = tmp_path / "app.py"
    if case == "a module the app imports":
        app.write_text(IMPORTS)
        edited = tmp_path / "settings.py"
        edited.write_text('MODE = "first"\n')
    else:
        app.write_text(RUNS_ON)
        edited = tmp_path / "data.txt"
        edited.write_text("first\n")
    build(cli, app)
    edited.write_text(edited.read_text().replace("first", "later"))
    proc = build(cli, app)
    assert "app loaded" in proc.stderr and not remade(proc), proc.stderr
    config = json.loads(subprocess.run(["skopeo", "inspect", "--config", f"oci:{app.parent / '.nixbuild' / 'image'}:latest"],
                                       capture_output=True, text=True, check=True).stdout)
    if case == "a module the app imports":
        assert "MODE=later" in config["config"]["Env"]
    else:  # the run step's layer holds the copy of the edited file
        layout = app.parent / ".nixbuild" / "image"
        index = json.loads((layout / "index.json").read_text())
        manifest = json.loads((layout / "blobs" / index["manifests"][0]["digest"].replace(":", "/")).read_text())
        with tarfile.open(layout / "blobs" / manifest["layers"][-1]["digest"].replace(":", "/")) as tar:
            assert tar.extractfile("srv/copy.txt").read() == b"later\n"


def test_a_failed_import_leaves_the_out_link_and_roots_as_they_were(app, cli, monkeypatch):
    from nixbuild import noop
    from nixbuild.errors import BuildError
    from nixbuild.local import edit
    from nixbuild.store import imports

    build(cli, app)
    (stamp_file,) = [p for p in (app.parent / ".nixbuild" / "noop").glob("*.json")
                     if json.loads(p.read_text())["argv"] == ["build", str(app)] and "edit" in json.loads(p.read_text())]
    stamp = json.loads(stamp_file.read_text())
    link = app.parent / ".nixbuild" / "image"
    before = os.readlink(link)
    roots_folder = Path(next(iter(k for k in stamp["links"] if k != str(link)))).parent
    kept = sorted(roots_folder.iterdir())
    data = app.parent / "data.txt"
    data.write_text("never imported\n")

    def refuse(self, items):
        raise BuildError("nix-store --import failed: refused by the test")

    monkeypatch.setattr(imports.Importer, "run", refuse)
    assert edit.rebuild(stamp["edit"], [str(data)]) is None
    assert os.readlink(link) == before
    assert sorted(roots_folder.iterdir()) == kept
    assert noop.validity.valid([before])
