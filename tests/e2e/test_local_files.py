"""Local files and run_commands: examples/local_files built for real, then edited.

run_commands create, change and delete files (whiteouts); add_local_dir honours its
ignore patterns; add_local_python_source (copy=False) is the last layer, so editing one of
its files rebuilds that layer only, and editing an ignored file changes nothing. That this
example is reproducible (`nixbuild check`) is held by tests/e2e/test_ci_gate.py, whose gate
checks and pushes it.
"""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest
from conftest import ROOT, copy_example

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


def to_build(cli, app, tmp_path) -> list[str]:
    """The derivations `nixbuild build` would build now (nix-build --dry-run of its spec)."""
    specs = tmp_path / "specs"
    cli("plan", app, "-o", specs)
    proc = subprocess.run(
        ["nix-build", str(ROOT / "nix" / "image.nix"), "--arg", "specFile", str(specs / "image.json"),
         "--dry-run", "--option", "substituters", ""],
        capture_output=True, text=True, check=True)
    return re.findall(r"^\s+/nix/store/[a-z0-9]{32}-(.*)\.drv$", proc.stderr, re.M)


def test_the_tree_is_exactly_what_the_steps_made(example, cli):
    script = ("find /srv /root/mypkg /data -type f | sort; cat /data/keep; "
              "test -e /etc/motd && echo motd-still-there; stat -c %a /srv/static/serve.sh; pwd")
    out = cli("run", example["app"], "--", "sh", "-c", script).stdout.splitlines()
    assert out == [
        "/data/copied", "/data/keep",
        "/root/mypkg/__init__.py", "/root/mypkg/util.py",  # .py only: notes.txt is left out
        "/srv/static/index.html", "/srv/static/serve.sh",  # draft.tmp and cache/ are ignored
        "one", "changed", "755", "/srv",
    ]
    greeting = cli("run", example["app"], "--", *GREET)
    assert greeting.stdout.strip() == "hello, world"


def test_whiteouts_apply_when_umoci_unpacks(example, tmp_path):
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{example['built']['store_path']}:latest",
                    str(bundle)], check=True, capture_output=True)
    rootfs = bundle / "rootfs"
    assert not (rootfs / "etc" / "motd").exists()
    assert not (rootfs / "data" / "drop").exists()
    assert (rootfs / "data" / "keep").read_text() == "one\nchanged\n"
    assert (rootfs / "data" / "copied").read_text() == "<h1>hello</h1>\n"
    assert (rootfs / "etc" / "passwd").exists()  # a whiteout removes one file, not its folder


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
    assert to_build(cli, app, tmp_path / "a") == []
    assert cli.json("build", app)[0]["manifest_digest"] == example["built"]["manifest_digest"]

    util = app.parent / "mypkg" / "util.py"
    word = f"hi-{uuid.uuid4().hex[:8]}"  # never built before, whatever the store holds
    util.write_text(util.read_text().replace("hello", word))
    pending = to_build(cli, app, tmp_path / "b")
    assert len(pending) == 2 and pending[0].startswith("layer-5-") and pending[1].startswith("image-"), pending
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
