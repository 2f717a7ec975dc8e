"""pip_install / uv_pip_install: resolved by uv for the image, pinned wheels, installed by
pypa installer with the image's Python; built for real from the package index this machine
reaches (uv's configuration)."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, copy_example

APP = """
import modal

image = (
    modal.Image.debian_slim(python_version="3.11")
    .uv_pip_install("numpy==2.1.3", "requests")
    .pip_install({second})
)
app = modal.App("py", image=image)
"""

# Where no mirror answers: a build that needed the network would fail.
NO_NETWORK = {"UV_INDEX_URL": "http://127.0.0.1:9/simple", "NIXBUILD_DEBIAN_MIRROR": "http://127.0.0.1:9/debian",
              "NIXBUILD_DEBIAN_SECURITY_MIRROR": "http://127.0.0.1:9/debian-security"}


@pytest.fixture(scope="module")
def python_app(tmp_path_factory, cli):
    app = tmp_path_factory.mktemp("py") / "app.py"
    app.write_text(APP.format(second='"requests", "six"'))
    built = cli.json("build", app)[0]
    return {"app": app, "built": built}


def locked_wheels(app) -> dict[int, dict[str, str]]:
    lock = json.loads((app.parent / "nixbuild.lock").read_text())
    return {s["index"]: {w["name"]: w["version"] for w in s["wheels"]} for s in lock["images"]["image"]["steps"]
            if s["wheels"]}


def test_packages_import_and_pip_agrees_with_the_lock(python_app, cli):
    app = python_app["app"]
    out = cli("run", app, "--", "python", "-c", "import numpy, requests, six; print(numpy.__version__)").stdout
    assert out.strip() == "2.1.3"
    wheels = locked_wheels(app)
    assert "requests" in wheels[1] and "requests" not in wheels[2]  # not installed twice
    assert wheels[2] == {"six": wheels[2]["six"]}
    assert {"pip", "uv", "wheel"} <= set(wheels[0])  # debian_slim's own, as Modal's base has them
    listed = json.loads(cli("run", app, "--", "python", "-m", "pip", "list", "--format=json",
                            "--path", "/usr/local/lib/python3.11/dist-packages").stdout)
    assert {p["name"].lower(): p["version"] for p in listed} == {**wheels[0], **wheels[1], **wheels[2]}
    assert "No broken requirements" in cli("run", app, "--", "python", "-m", "pip", "check").stdout


# Makes a one-module wheel in /tmp inside the image, with no network.
MAKE_WHEEL = """
import base64, hashlib, sys, zipfile
name = sys.argv[1]
files = {f"{name}.py": b"VALUE = 42\\n",
         f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n".encode(),
         f"{name}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
record = "".join(f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()},{len(d)}\\n"
                 for p, d in files.items()) + f"{name}-1.0.dist-info/RECORD,,\\n"
with zipfile.ZipFile(f"/tmp/{name}-1.0-py3-none-any.whl", "w") as zf:
    for p, d in {**files, f"{name}-1.0.dist-info/RECORD": record.encode()}.items():
        zf.writestr(p, d)
"""


def test_pip_and_uv_work_in_the_image_at_runtime(python_app, cli):
    script = (f"python -c {shlex.quote(MAKE_WHEEL)} viapip && python -c {shlex.quote(MAKE_WHEEL)} viauv && "
              "pip install --no-index --no-deps /tmp/viapip-1.0-py3-none-any.whl && "
              "uv pip install --system --offline --no-deps /tmp/viauv-1.0-py3-none-any.whl && "
              "python -c 'import viapip, viauv; print(viapip.VALUE + viauv.VALUE)' && uv --version && /.uv/uv --version")
    proc = cli("run", python_app["app"], "--writable", "--", "sh", "-c", script, ok=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # no EXTERNALLY-MANAGED refusal from either
    out = proc.stdout.splitlines()
    assert "84" in out
    version = locked_wheels(python_app["app"])[0]["uv"]
    assert out[-2].startswith(f"uv {version}") and out[-1] == out[-2]  # uv_pip_install left /.uv/uv


def test_an_unchanged_app_builds_with_no_network(python_app, cli):
    again = cli.json("build", python_app["app"], env=NO_NETWORK)[0]
    assert again["manifest_digest"] == python_app["built"]["manifest_digest"]


def test_check_passes_with_a_collected_layer_tree_built_again(python_app, cli):
    # A layer's tree is no part of the image's closure: a garbage collection takes it, and
    # `nix-build --check` has nothing to compare with until it is built again.
    image = str(Path(python_app["built"]["store_path"]).resolve())
    image_drv = subprocess.run(["nix-store", "-qd", image], capture_output=True, text=True, check=True).stdout.strip()
    drvs = subprocess.run(["nix-store", "-qR", image_drv], capture_output=True, text=True, check=True).stdout.split()
    tree_drv = next(d for d in drvs if re.search(r"-layer-\d+-2-pip_install-tree\.drv$", d))
    tree = subprocess.run(["nix-store", "-q", "--outputs", tree_drv], capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run(["nix-store", "--delete", tree], capture_output=True, text=True, check=True)
    assert [r["ok"] for r in cli.json("check", python_app["app"])] == [True]
    assert subprocess.run(["nix-store", "--check-validity", tree]).returncode == 0


def test_changing_one_requirement_re_resolves_and_rebuilds_only_that_step(python_app, cli, tmp_path):
    app = python_app["app"]
    before = locked_wheels(app)
    app.write_text(APP.format(second='"requests", "six", "attrs"'))
    cli("lock", app)
    after = locked_wheels(app)
    assert after[1] == before[1] and set(after[2]) == {"six", "attrs"}
    specs = tmp_path / "specs"
    cli("plan", app, "-o", specs, env=NO_NETWORK)
    dry = subprocess.run(["nix-build", str(ROOT / "nix" / "image.nix"), "--arg", "specFile",
                          str(specs / "image.json"), "--dry-run", "--option", "substituters", ""],
                         capture_output=True, text=True, check=True).stderr
    pending = re.findall(r"^\s+/nix/store/[a-z0-9]{32}-(.*)\.drv$", dry, re.M)
    # The step's tree (where it installs, run_tree.py), its layer written from the tree, the image.
    assert sorted(p for p in pending if p.startswith(("layer-", "image-"))) == \
        ["image-image", "layer-3-2-pip_install", "layer-3-2-pip_install-tree"]


def test_an_unknown_package_is_a_clear_error_and_leaves_the_lock(python_app, cli):
    app = python_app["app"]
    lock = (app.parent / "nixbuild.lock").read_bytes()
    app.write_text(APP.format(second='"nixbuild-no-such-package-4f1c"'))
    proc = cli("lock", app, ok=False)
    assert proc.returncode == 3, proc.stderr
    assert "nixbuild-no-such-package-4f1c" in proc.stderr and "step 2 pip_install" in proc.stderr
    assert (app.parent / "nixbuild.lock").read_bytes() == lock


def test_requirements_pyproject_and_uv_project_build_and_import(cli, tmp_path):
    app = copy_example("python_packages", tmp_path / "python_packages")
    uv = subprocess.run([sys.executable, "-c", "from uv import find_uv_bin; print(find_uv_bin())"],
                        capture_output=True, text=True, check=True).stdout.strip()
    locked = subprocess.run([uv, "lock", "--project", str(app.parent / "uvproj")], capture_output=True, text=True)
    assert locked.returncode == 0, f"uv lock needs the package index uv is configured with:\n{locked.stderr}"
    cli("build", app)
    out = cli("run", app, "--", "sh", "-c",
              "/usr/bin/python3 -c 'import six, idna, attrs, click, docopt; "
              "print(six.__version__, idna.__version__, docopt.__version__)'; "
              "/usr/bin/python3 -c 'import tomli' 2>/dev/null && echo tomli-installed; "
              "command -v python; python -c 'import packaging; print(packaging.__file__)'").stdout.splitlines()
    assert out[0] == "1.17.0 3.20 0.6.2"  # docopt: built from its sdist
    assert out[1] == "/.uv/.venv/bin/python"  # uv_sync's environment is first on PATH
    assert out[2].startswith("/.uv/.venv/lib/python3.11/site-packages/packaging/")


def test_a_requirements_hash_that_matches_no_wheel_is_refused(cli, tmp_path):
    (tmp_path / "requirements.txt").write_text("six==1.17.0 --hash=sha256:" + "0" * 64 + "\n")
    app = tmp_path / "app.py"
    app.write_text("import nixbuild\nimage = nixbuild.Image.debian_slim(python_version='3.11')"
                   ".pip_install_from_requirements('requirements.txt')\n")
    proc = cli("lock", app, cwd=tmp_path, ok=False)
    assert proc.returncode == 3, proc.stderr
    assert "hashes" in proc.stderr and "step 1 pip_install_from_requirements" in proc.stderr
    assert not (tmp_path / "nixbuild.lock").exists()


def test_a_wheel_whose_bytes_do_not_match_the_lock_fails_naming_it(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import nixbuild\nimage = nixbuild.Image.debian_slim(python_version='3.11').pip_install('six')\n")
    cli("lock", app)
    lock_path = tmp_path / "nixbuild.lock"
    lock = json.loads(lock_path.read_text())
    wheel = lock["images"]["image"]["steps"][1]["wheels"][0]
    wheel["sha256"] = hashlib.sha256(uuid.uuid4().bytes).hexdigest()  # what the index does not serve
    lock_path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    tampered = lock_path.read_bytes()
    proc = cli("build", app, ok=False)
    assert proc.returncode == 6, proc.stderr
    assert f"the bytes downloaded for six {wheel['version']}" in proc.stderr and "step 1 pip_install" in proc.stderr
    assert lock_path.read_bytes() == tampered and not (tmp_path / ".nixbuild" / "image").exists()


def test_an_unreachable_index_is_a_mirror_error(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import nixbuild\nimage = nixbuild.Image.debian_slim(python_version='3.11')"
                   ".pip_install('six', index_url='http://127.0.0.1:9/simple')\n")
    proc = cli("lock", app, ok=False)
    assert proc.returncode == 4, proc.stderr
    assert "unreachable" in proc.stderr and "step 1 pip_install" in proc.stderr
    assert not (tmp_path / "nixbuild.lock").exists()


def test_extra_options_that_change_the_resolution_are_honoured(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import nixbuild\nimage = nixbuild.Image.debian_slim(python_version='3.11')"
                   ".pip_install('requests', extra_options='--no-deps --no-cache-dir')\n")
    cli("lock", app)
    assert set(locked_wheels(app)[1]) == {"requests"}  # urllib3, idna, ... not pulled in
    app.write_text("import nixbuild\nimage = nixbuild.Image.debian_slim(python_version='3.11')"
                   ".pip_install('requests', extra_options='--target /opt/site')\n")
    proc = cli("lock", app, ok=False)
    assert proc.returncode == 2, proc.stderr
    assert "'--target' cannot be honoured" in proc.stderr and "step 1 pip_install" in proc.stderr


def test_poetry_install_from_file_installs_the_lock_s_pins_for_the_selected_groups(cli, tmp_path):
    """examples/poetry: a poetry.lock written by Poetry 2.5.1. The oracle for what is installed
    is that lock: its versions, its groups (main and dev, not the optional docs) and its
    markers (colorama is Windows-only); pip in the image lists what it installed."""
    folder = copy_example("poetry", tmp_path / "poetry").parent
    cli.json("build", folder / "app.py")
    lock = tomllib.loads((folder / "poetry.lock").read_text())
    expected = {p["name"]: p["version"] for p in lock["package"] if p["name"] in ("attrs", "six", "iniconfig")}
    ran = cli("run", folder / "app.py", "--", "python", "-m", "pip", "list", "--format", "json")
    listed = {p["name"].lower(): p["version"] for p in json.loads(ran.stdout)}
    assert {name: listed.get(name) for name in expected} == expected
    assert "colorama" not in listed and "tomli-w" not in listed and "tomli_w" not in listed
    # Files the lock does not list (every hash of six changed) are refused.
    tampered = (folder / "poetry.lock").read_text()
    for item in next(p for p in lock["package"] if p["name"] == "six")["files"]:
        tampered = tampered.replace(item["hash"], "sha256:" + "0" * 64)
    (folder / "poetry.lock").write_text(tampered)
    proc = cli("lock", folder / "app.py", ok=False)
    assert proc.returncode != 0 and "six" in proc.stderr, proc.stderr
