"""Local files and run_commands: examples/local_files built for real, then edited.

run_commands create, change and delete files (whiteouts); add_local_dir honours its
ignore patterns; add_local_python_source (copy=False) is the last layer, so editing one of
its files remakes that layer only (made by the CLI, without a sandbox: no derivation but the
image's), and editing an ignored file changes nothing. That this
example is reproducible (`nixbuild check`) is held by tests/e2e/test_ci_gate.py, whose gate
checks and pushes it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import copy_example

from nixbuild.oci.layout import OciLayout


# Modal runs functions in /root, where add_local_python_source puts modules.
GREET = ["sh", "-c", "cd /root && python -c 'import mypkg; print(mypkg.greet())'"]


@pytest.fixture(scope="module")
def example(tmp_path_factory, cli) -> dict:
    app = copy_example("local_files", tmp_path_factory.mktemp("lf") / "local_files")
    built = cli.json("build", app)[0]
    return {"app": app, "built": built}


def layer_digests(store_path: str) -> list[str]:
    layout = OciLayout(store_path)
    return [layer.digest for layer in layout.manifest(layout.manifest_descriptor()).layers]


def derivations_built(stderr: str) -> list[str]:
    """The layers and image a build's progress lines say it built (``[2/2] image image``)."""
    return re.findall(r"^• \[\d+/\d+\] (.*)$", stderr, re.M)


def made_without_a_sandbox(store_path: str) -> list[int]:
    """The layers of an image that the CLI made (added to the store by content: no deriver,
    or the builtin fetch that names them by NAR hash), by index."""
    layout = OciLayout(store_path)
    made = []
    for index, layer in enumerate(layout.manifest(layout.manifest_descriptor()).layers):
        blob = os.path.realpath(Path(store_path) / "blobs" / "sha256" / layer.digest.split(":")[1])
        (deriver,) = subprocess.run(["nix-store", "--query", "--deriver", os.path.dirname(blob)],
                                    capture_output=True, text=True, check=True).stdout.split()
        if deriver == "unknown-deriver" or "builtin:fetchurl" in Path(deriver).read_text():
            made.append(index)
    return made


def test_layers_per_step_and_a_second_build_is_identical(example, cli):
    layers = layer_digests(example["built"]["store_path"])
    # debian_slim (2: Debian packages, pip/wheel/uv), run_commands, add_local_dir, run_commands,
    # add_local_python_source
    assert len(layers) == 6
    again = cli.json("build", example["app"])[0]
    assert again["manifest_digest"] == example["built"]["manifest_digest"]


def test_editing_one_source_file_rebuilds_only_its_layer(example, cli, tmp_path):
    app = example["app"]
    before = layer_digests(example["built"]["store_path"])

    (app.parent / "static" / "draft.tmp").write_text("an ignored edit\n")
    proc = cli("build", app, "--json")
    assert derivations_built(proc.stderr) == []
    assert json.loads(proc.stdout)["images"][0]["manifest_digest"] == example["built"]["manifest_digest"]

    util = app.parent / "mypkg" / "util.py"
    word = f"hi-{uuid.uuid4().hex[:8]}"  # never built before, whatever the store holds
    util.write_text(util.read_text().replace("hello", word))
    proc = cli("build", app, "--json")
    # The edited files' layer is made by the CLI, without a sandbox: only the image is built.
    assert derivations_built(proc.stderr) == ["image image"], proc.stderr
    rebuilt = json.loads(proc.stdout)["images"][0]
    assert made_without_a_sandbox(rebuilt["store_path"]) == [3, 5]
    rebuilt = cli.json("build", app)[0]
    after = layer_digests(rebuilt["store_path"])
    assert after[:5] == before[:5] and after[5] != before[5]
    out = cli("run", app, "--", *GREET).stdout
    assert out.strip() == f"{word}, world"


def test_a_failing_command_names_the_step_and_shows_its_output(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(
        "import nixbuild\n"
        "image = nixbuild.Image.debian_slim(python_version='3.11').run_commands(\n"
        "    'echo about to fail', 'echo on stderr >&2; exit 3')\n")
    proc = cli("build", app, ok=False)
    assert proc.returncode != 0
    assert "about to fail" in proc.stderr and "on stderr" in proc.stderr
    assert "command 2 failed with exit code 3" in proc.stderr
    assert "step 1 run_commands" in proc.stderr


def test_a_missing_local_path_is_a_clear_error(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(
        "import nixbuild\n"
        "image = nixbuild.Image.debian_slim(python_version='3.11').add_local_dir('nowhere', '/srv')\n")
    proc = cli("build", app, cwd=tmp_path, ok=False)
    assert proc.returncode == 2, proc.stderr
    assert "nowhere" in proc.stderr and "step 1 add_local_dir" in proc.stderr
    assert not (tmp_path / ".nixbuild").exists() and not (tmp_path / "nixbuild.lock").exists()


def test_a_build_step_after_copy_false_files_is_refused_as_modal_does(cli, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    app = tmp_path / "app.py"
    app.write_text(
        "import nixbuild\n"
        "image = (nixbuild.Image.debian_slim(python_version='3.11')\n"
        "         .add_local_file('f.txt', '/f.txt').run_commands('true'))\n")
    proc = cli("build", app, cwd=tmp_path, ok=False)
    assert proc.returncode == 2
    assert "copy=True" in proc.stderr and "step 2 run_commands" in proc.stderr
