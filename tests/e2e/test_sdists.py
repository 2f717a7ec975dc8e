"""Packages with no wheel for the image: built from their sdists inside the Nix sandbox (no
network), with pinned build requirements and the image's own compiler; real PyPI sdists
from the package index this machine reaches (uv's configuration).

docopt 0.6.2 is sdist-only pure Python (no pyproject: setuptools' legacy backend);
netifaces 0.11.0 is sdist-only with a C extension; python-ldap needs OpenLDAP's headers,
which the base image does not have.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import ROOT
from test_python_packages import NO_NETWORK

APP = """
import modal

image = modal.Image.debian_slim(python_version="3.11").pip_install({packages})
app = modal.App("sdists", image=image)
"""


@pytest.fixture(scope="module")
def sdist_app(tmp_path_factory, cli):
    app = tmp_path_factory.mktemp("sdists") / "app.py"
    app.write_text(APP.format(packages='"docopt==0.6.2", "netifaces==0.11.0"'))
    built = cli.json("build", app)[0]
    return {"app": app, "built": built, "lock": json.loads((app.parent / "nixbuild.lock").read_text())}


def test_the_lock_pins_each_sdist_and_its_build_requirements(sdist_app):
    step = sdist_app["lock"]["images"]["image"]["steps"][1]
    assert step["wheels"] == []
    sdists = {s["name"]: s for s in step["sdists"]}
    assert set(sdists) == {"docopt", "netifaces"}
    for sdist in sdists.values():
        assert sdist["filename"].endswith(".tar.gz") and len(sdist["sha256"]) == 64
        assert sdist["backend"] == "setuptools.build_meta:__legacy__"  # neither has [build-system]
        assert [w["name"] for w in sdist["build"]] == ["setuptools"]
        assert sdist["build"][0]["filename"].endswith(".whl")


def test_pure_python_and_c_extension_sdists_build_and_import(sdist_app, cli):
    out = cli("run", sdist_app["app"], "--", "python", "-c",
              "import docopt, netifaces, importlib.metadata as m; "
              "print(docopt.__version__, m.version('netifaces')); print(netifaces.__file__); "
              "print('lo' in netifaces.interfaces())").stdout.splitlines()
    assert out[0] == "0.6.2 0.11.0"
    assert out[1] == "/usr/local/lib/python3.11/dist-packages/netifaces.cpython-311-x86_64-linux-gnu.so"
    assert out[2] == "True"
    assert "No broken requirements" in cli("run", sdist_app["app"], "--", "pip", "check").stdout


def test_the_sdist_layer_rebuilds_offline_bit_for_bit(sdist_app, cli, tmp_path):
    # The layer is an ordinary derivation: Nix builds it in a sandbox with no network, and
    # --check builds it again and fails if any byte (the compiled extension included) differs.
    cli("plan", sdist_app["app"], "-o", tmp_path, env=NO_NETWORK)
    spec = json.loads((tmp_path / "image.json").read_text())
    position = next(i for i, layer in enumerate(spec["layers"]) if layer.get("sdists"))
    proc = subprocess.run(["nix-build", str(ROOT / "nix" / "image.nix"), "--arg", "specFile",
                           str(tmp_path / "image.json"), "-A", f"layers.{position}", "--check",
                           "--no-out-link", "--option", "substituters", ""], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_missing_system_library_names_the_package_and_the_debian_package(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP.format(packages='"python-ldap==3.4.8"'))
    cli("lock", app)
    lock = (tmp_path / "nixbuild.lock").read_bytes()
    proc = cli("build", app, ok=False)
    assert proc.returncode == 6, proc.stderr
    assert "step 1 pip_install: building python-ldap 3.4.8 from its sdist failed: lber.h is missing" in proc.stderr
    assert 'fix: add .apt_install("libldap-dev") before step 1' in proc.stderr
    assert (tmp_path / "nixbuild.lock").read_bytes() == lock and not (tmp_path / ".nixbuild" / "image").exists()


@pytest.mark.parametrize("package, says", [
    ("six==999.0.0", "six"),                          # an impossible version
    ("pywin32==311", "pywin32"),                      # wheels for Windows only, and no sdist
])
def test_unresolvable_requirements_are_clear_errors_and_leave_no_lock(cli, tmp_path, package, says):
    app = tmp_path / "app.py"
    app.write_text(APP.format(packages=repr(package)))
    proc = cli("lock", app, ok=False)
    assert proc.returncode == 3, proc.stderr
    assert says in proc.stderr and "step 1 pip_install" in proc.stderr
    assert not (tmp_path / "nixbuild.lock").exists()
