"""The quickstart example, built for real: valid OCI, runnable, exactly the locked packages."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from ocischema import validate_layout

from nixbuild.oci.layout import OciLayout


def layout_of(quickstart) -> Path:
    return Path(quickstart["built"]["link"])


def test_layout_is_valid_oci_that_skopeo_and_umoci_accept(quickstart, tmp_path):
    layout = layout_of(quickstart)
    validate_layout(layout)
    inspected = json.loads(subprocess.run(["skopeo", "inspect", f"oci:{layout}:latest"], capture_output=True,
                                          text=True, check=True).stdout)
    assert inspected["Digest"] == quickstart["built"]["manifest_digest"]
    assert "GREETING=hello" in inspected["Env"]
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:latest", str(bundle)],
                   capture_output=True, text=True, check=True)
    assert (bundle / "rootfs" / "usr" / "bin" / "jq").exists()
    assert (bundle / "rootfs" / "bin").is_symlink()


def test_one_layer_per_package_step_and_config_from_the_chain(quickstart):
    layout = OciLayout(layout_of(quickstart))
    manifest = layout.manifest()
    config = layout.config(manifest)
    # debian_slim (Debian packages, then pip/wheel/uv), apt_install; env/workdir are config only
    assert len(manifest.layers) == 3
    assert config.config.working_dir == "/app"
    assert config.created == "1970-01-01T00:00:01Z"
    history = [h.created_by for h in config.history]
    assert history[0].startswith("debian_slim(") and history[1].endswith("pip install --upgrade pip wheel uv")
    assert history[2].startswith("apt_install(")


def test_python_with_ssl_and_sqlite_runs(quickstart, cli):
    out = cli("run", quickstart["app"], "--", "python3", "-c", "import ssl, sqlite3; print('ok')").stdout
    assert out.strip() == "ok"


def test_apt_installed_tools_env_and_workdir(quickstart, cli):
    out = cli("run", quickstart["app"], "--", "sh", "-c",
              'jq --version; echo "{\\"a\\": 41}" | jq ".a + 1"; curl --version | head -n 1; echo "$GREETING"; pwd'
              ).stdout.splitlines()
    assert out[0].startswith("jq-1.")
    assert out[1] == "42"
    assert out[2].startswith("curl ")
    assert out[3:] == ["hello", "/app"]


def test_python_pip_and_compiler_like_modal_debian_slim(quickstart, cli):
    out = cli("run", quickstart["app"], "--", "sh", "-c",
              "python --version; pip --version >/dev/null && echo pip-ok; cc --version | head -n 1; "
              "gfortran --version | head -n 1; make --version | head -n 1").stdout.splitlines()
    assert out[0].startswith("Python 3.11.")
    assert out[1] == "pip-ok"
    assert out[2].startswith("cc (Debian")
    assert out[3].startswith("GNU Fortran")
    assert out[4].startswith("GNU Make")


def test_one_pip_the_steps_with_setuptools_beside_it(quickstart, cli):
    # The image's pip is the one `pip install --upgrade pip wheel uv` pinned, under /usr/local;
    # Debian's python3-pip is not installed (it would sit shadowed below it), setuptools is, as
    # in the official python:3.11-slim image. Oracles: dpkg's database, and Python's importlib.
    out = cli("run", quickstart["app"], "--", "sh", "-c",
              "dpkg -s python3-pip >/dev/null 2>&1 || echo no-python3-pip; "
              "python -c 'import pip, wheel; print(pip.__file__)'; python -c 'import setuptools; print(setuptools.__file__)'; "
              "ls -d /usr/lib/python3/dist-packages/pip 2>/dev/null || echo no-debian-pip").stdout.splitlines()
    assert out[0] == "no-python3-pip"
    assert out[1].startswith("/usr/local/lib/python3.11/dist-packages/pip/")
    assert out[2].startswith("/usr/lib/python3/dist-packages/setuptools/")
    assert out[3] == "no-debian-pip"


def test_dpkg_lists_exactly_the_locked_packages(quickstart, cli):
    out = cli("run", quickstart["app"], "--", "dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Package}=${Version}\\n"
              ).stdout.splitlines()
    installed = sorted(line.removeprefix("ii ") for line in out)
    assert all(line.startswith("ii ") for line in out), out[:5]
    locked = sorted(f"{p['name']}={p['version']}" for step in quickstart["lock"]["images"]["image"]["steps"]
                    for p in step["packages"])
    assert installed == locked
    assert "jq=" in " ".join(installed)


def test_dpkg_and_apt_work_inside(quickstart, cli):
    out = cli("run", quickstart["app"], "--", "sh", "-c", "dpkg -L jq | grep -c bin/jq; dpkg --audit && echo audit-ok;"
              " apt-get check -q >/dev/null && echo apt-ok").stdout.split()
    assert out == ["1", "audit-ok", "apt-ok"]


def test_run_does_not_change_the_image(quickstart, cli):
    proc = cli("run", quickstart["app"], "--", "sh", "-c", "touch /usr/x", ok=False)
    assert proc.returncode != 0 and "Read-only" in proc.stderr
    out = cli("run", quickstart["app"], "--writable", "--", "sh", "-c", "touch /usr/x && echo wrote").stdout
    assert out.strip() == "wrote"
    assert cli("run", quickstart["app"], "--", "sh", "-c", "test -e /usr/x || echo absent").stdout.strip() == "absent"


def test_unchanged_app_rebuilds_to_the_same_digest_without_network(quickstart, cli):
    # Unreachable mirrors: an unchanged app with its lock must not need them.
    env = {"NIXBUILD_DEBIAN_MIRROR": "http://127.0.0.1:9/debian",
           "NIXBUILD_DEBIAN_SECURITY_MIRROR": "http://127.0.0.1:9/debian-security"}
    again = cli.json("build", quickstart["app"], env=env)
    assert again[0]["manifest_digest"] == quickstart["built"]["manifest_digest"]


def test_docker_archive_output(quickstart, cli, tmp_path):
    out = cli.json("build", quickstart["app"], "--format", "docker-archive", "-o", tmp_path / "img.tar")
    archive = Path(out[0]["docker_archive"])
    inspected = json.loads(subprocess.run(["skopeo", "inspect", f"docker-archive:{archive}"], capture_output=True,
                                          text=True, check=True).stdout)
    assert len(inspected["Layers"]) == 3
    assert not list(tmp_path.glob(".*.tmp"))


def test_inspect_lists_layers_and_packages(quickstart, cli):
    (entry,) = cli.json("inspect", quickstart["app"])
    assert entry["built"] and entry["manifest_digest"] == quickstart["built"]["manifest_digest"]
    # The same image object as build's, with what reading the layers adds.
    assert [layer["digest"] for layer in entry["layers"]] == [layer["digest"] for layer in quickstart["built"]["layers"]]
    assert [layer["step"] for layer in entry["layers"]] == [0, 0, 1]
    assert all(layer["entries"] > 0 for layer in entry["layers"]) and entry["size"] == quickstart["built"]["size"]
    assert any(p["name"] == "jq" and p["step"] == 1 for p in entry["packages"])
    assert {d["name"] for d in entry["python"]} >= {"pip", "wheel", "uv"}


def test_lock_check(quickstart, cli, tmp_path):
    assert cli("lock", quickstart["app"], "--check").returncode == 0
    changed = tmp_path / "app"
    shutil.copytree(quickstart["app"].parent, changed, ignore=shutil.ignore_patterns(".nixbuild"))
    app = changed / "app.py"
    app.write_text(app.read_text().replace('"curl", "jq"', '"curl", "jq", "tree"'))
    proc = cli("lock", app, "--check", ok=False)
    assert proc.returncode == 5
    assert "step 1 apt_install" in proc.stderr


def test_the_python_and_apt_layers_were_built_on_stacked_trees(quickstart):
    """debian_slim's Python layer and the apt_install layer stack the layers below them
    (nix/builders/overlay.py) instead of unpacking them: their derivations take the trees, and
    their build logs never say they fell back to unpacking. Both are made as their trees
    (deb_layer.py configures the apt layer's packages in its tree; run_tree.py installs the
    Python packages into theirs), from which each layer is written (tree_layer.py): the apt
    step stacks the Python step's tree itself, not a tree unpacked again from its layer."""
    image = str(Path(quickstart["built"]["store_path"]).resolve())
    image_drv = subprocess.run(["nix-store", "--query", "--deriver", image], capture_output=True, text=True,
                               check=True).stdout.strip()
    closure = subprocess.run(["nix-store", "--query", "--requisites", image_drv], capture_output=True, text=True,
                             check=True).stdout.split()
    apt_layer = next(p for p in closure if p.endswith("-layer-2-1-apt_install.drv"))
    apt_inputs = subprocess.run(["nix-store", "--query", "--references", apt_layer], capture_output=True, text=True,
                                check=True).stdout.split()
    assert [p for p in apt_inputs if p.endswith("-tree.drv")] == \
        [p for p in closure if p.endswith("-layer-2-1-apt_install-tree.drv")], apt_inputs
    python_layer = next(p for p in closure if p.endswith("-layer-1-0-debian_slim-python.drv"))
    python_inputs = subprocess.run(["nix-store", "--query", "--references", python_layer], capture_output=True,
                                   text=True, check=True).stdout.split()
    python_tree = next(p for p in python_inputs if p.endswith("-tree.drv"))
    assert python_tree.endswith("-layer-1-0-debian_slim-python-tree.drv"), python_inputs
    for name in ("-layer-1-0-debian_slim-python-tree.drv", "-layer-2-1-apt_install-tree.drv"):
        drv = next(p for p in closure if p.endswith(name))
        inputs = subprocess.run(["nix-store", "--query", "--references", drv], capture_output=True, text=True,
                                check=True).stdout.split()
        assert any(p.endswith("-layer-0-0-debian_slim-tree.drv") for p in inputs), inputs
        if name.endswith("apt_install-tree.drv"):
            assert python_tree in inputs, inputs
        log = subprocess.run(["nix-store", "--read-log", drv], capture_output=True, text=True)
        assert log.returncode == 0, f"no build log kept for {drv}: {log.stderr}"
        assert "not stacked" not in log.stdout and "unpacking them" not in log.stdout, log.stdout
