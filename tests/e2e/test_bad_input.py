"""Bad input: one clear error naming the step and the fix; nothing half-written."""

import json
from pathlib import Path

import pytest

from conftest import copy_example


def write_app(tmp_path: Path, body: str) -> Path:
    app = tmp_path / "app.py"
    app.write_text("import modal\n" + body)
    return app


def test_unknown_apt_package_suggests_close_names_and_leaves_the_lock(quickstart, cli, tmp_path):
    app = copy_example("quickstart", tmp_path / "qs")
    lock = app.parent / "nixbuild.lock"
    lock.write_text(json.dumps(quickstart["lock"]))
    before = lock.read_bytes()
    app.write_text(app.read_text().replace('"curl", "jq"', '"curl", "jqq"'))
    proc = cli("build", app, ok=False)
    assert proc.returncode == 3, proc.stderr
    assert "step 1 apt_install" in proc.stderr
    assert "jqq" in proc.stderr and "jq" in proc.stderr.split("jqq", 1)[1]
    assert lock.read_bytes() == before
    assert not (app.parent / ".nixbuild").exists()


@pytest.mark.parametrize("version,message", [
    ('"3.9"', "Supported series: 3.10, 3.11, 3.12, 3.13, 3.14, 3.15"),
    ('"py3"', "Invalid Python version: 'py3'"),
])
def test_unsupported_python_version(cli, tmp_path, version, message):
    app = write_app(tmp_path, f"image = modal.Image.debian_slim(python_version={version})\n")
    proc = cli("lock", app, ok=False)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "nixbuild.lock").exists()


def test_float_python_version_is_a_type_error_at_load(cli, tmp_path):
    app = write_app(tmp_path, "image = modal.Image.debian_slim(python_version=3.11)\n")
    proc = cli("build", app, ok=False)
    assert proc.returncode == 2
    assert "should be a string, not a float" in proc.stderr
    assert "app.py:2" in proc.stderr


def test_syntax_error_names_file_and_line(cli, tmp_path):
    app = write_app(tmp_path, "image = modal.Image.debian_slim(\n")
    proc = cli("build", app, ok=False)
    assert proc.returncode == 2
    assert "app.py" in proc.stderr and "line" in proc.stderr.lower()


def test_app_without_image(cli, tmp_path):
    app = write_app(tmp_path, "x = 1\n")
    proc = cli("build", app, ok=False)
    assert proc.returncode == 2
    assert "no image" in proc.stderr.lower() or "no modal.image" in proc.stderr.lower()


def test_missing_app_file(cli, tmp_path):
    proc = cli("build", tmp_path / "nope.py", ok=False)
    assert proc.returncode == 2


def test_unreachable_mirror_is_a_mirror_error(cli, tmp_path):
    app = write_app(tmp_path, 'image = modal.Image.debian_slim(python_version="3.11").apt_install("jq")\n')
    env = {"NIXBUILD_DEBIAN_MIRROR": "http://127.0.0.1:9/debian",
           "NIXBUILD_DEBIAN_SECURITY_MIRROR": "http://127.0.0.1:9/debian-security",
           "NIXBUILD_CACHE_DIR": str(tmp_path / "cache")}
    proc = cli("lock", app, env=env, ok=False)
    assert proc.returncode == 4, proc.stderr
    assert "127.0.0.1:9" in proc.stderr and "NIXBUILD_DEBIAN_MIRROR" in proc.stderr
    assert not (tmp_path / "nixbuild.lock").exists()


def test_deb_bytes_not_matching_the_lock(quickstart, cli, tmp_path):
    app = copy_example("quickstart", tmp_path / "qs")
    lock = json.loads(json.dumps(quickstart["lock"]))
    jq = next(p for p in lock["images"]["image"]["steps"][1]["packages"] if p["name"] == "jq")
    jq["sha256"] = "0" * 64
    (app.parent / "nixbuild.lock").write_text(json.dumps(lock))
    proc = cli("build", app, ok=False)
    # Caught before anything downloads: the pin is not the signed index's (issue 9 part 6).
    assert proc.returncode == 5, proc.stderr
    assert "pinned package jq" in proc.stderr and "does not match the signed index" in proc.stderr
    assert "step 1 apt_install" in proc.stderr
    assert not (app.parent / ".nixbuild" / "image").exists()


def test_unsupported_step_is_refused_at_build_with_its_name(cli, tmp_path):
    app = write_app(tmp_path, 'image = modal.Image.debian_slim(python_version="3.11")'
                              '.micromamba_install("numpy")\n')
    proc = cli("build", app, ok=False)
    assert proc.returncode == 2
    assert "step 1 micromamba_install" in proc.stderr and "not supported" in proc.stderr
