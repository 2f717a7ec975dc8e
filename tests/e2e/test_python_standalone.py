"""debian_slim of a series Debian does not ship: python-build-standalone's Python under
/usr/local on bookworm, pinned by release, file and sha256, fetched through uv's mirror
setting. Built from a stand-in mirror (standalone_mirror.py: the layout is the real archives',
the interpreter this machine's CPython 3.11)."""

from __future__ import annotations

import hashlib
import json
import shutil

from standalone_mirror import BUNDLED_PIP_VERSION, host_version


def run(cli, built, *command: str) -> str:
    return cli("run", built["app"], "--", *command, env=built["env"]).stdout


def test_the_lock_pins_the_archive_uv_names_for_the_series(standalone):
    (image,) = standalone["lock"]["images"].values()
    base = image["steps"][0]
    pin = base["standalone"]
    assert image["distribution"] == "bookworm" and pin["version"].startswith("3.12.")
    assert pin["sha256"] == hashlib.sha256(standalone["archive"].read_bytes()).hexdigest()
    assert pin["size"] == standalone["archive"].stat().st_size
    assert f"{pin['release']}/{pin['filename']}" == standalone["archive"].relative_to(
        standalone["archive"].parents[1]).as_posix()
    assert "mirror" not in json.dumps(pin) and "127.0.0.1" not in json.dumps(pin)  # no host in the lock
    names = {p["name"] for p in base["packages"]}
    assert "python3" not in names and "python3.11" not in names and "libexpat1" in names


def test_the_image_runs_the_archives_python_from_usr_local(cli, standalone):
    out = run(cli, standalone, "sh", "-c", "command -v python3; python3 --version; python --version; "
                                           "test -e /usr/bin/python3 && echo debian-python || echo no-debian-python")
    lines = out.splitlines()
    assert lines == ["/usr/local/bin/python3", host_version(), host_version(), "no-debian-python"], out
    config = json.loads(cli("inspect", standalone["app"], "--json", env=standalone["env"]).stdout)
    assert config["images"][0]["built"]


def test_pip_and_uv_are_the_pinned_ones_and_the_bundled_pip_is_gone(cli, standalone):
    (image,) = standalone["lock"]["images"].values()
    wheels = {w["name"]: w["version"] for w in image["steps"][0]["wheels"]}
    out = run(cli, standalone, "sh", "-c", "python3 -m pip --version; uv --version; "
                                           "python3 -c 'import attrs; print(attrs.__version__)'; ls /usr/local/bin")
    lines = out.splitlines()
    assert lines[0].startswith(f"pip {wheels['pip']} ") and BUNDLED_PIP_VERSION not in out
    assert lines[1].startswith(f"uv {wheels['uv']}")
    attrs = {w["name"]: w["version"] for w in image["steps"][1]["wheels"]}["attrs"]
    assert lines[2] == attrs  # the example's uv_pip_install step, resolved for 3.12
    assert "pip3" in lines[3:] and "python3.11" in lines[3:]  # the pinned pip's own script, the archive's python


def test_a_download_that_does_not_match_the_lock_fails_the_build(cli, standalone, tmp_path):
    app = tmp_path / "app.py"
    shutil.copy(standalone["app"], app)
    lock = json.loads(json.dumps(standalone["lock"]))
    (image,) = lock["images"].values()
    image["steps"][0]["standalone"]["sha256"] = "0" * 64  # the mirror serves other bytes than the lock names
    (tmp_path / "nixbuild.lock").write_text(json.dumps(lock))
    proc = cli("build", app, "--frozen", env=standalone["env"], ok=False)
    assert proc.returncode == 6, proc.stderr
    assert "python-build-standalone" in proc.stderr and "do not match the lock" in proc.stderr


def test_an_unreachable_mirror_is_exit_4_naming_the_setting(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import modal\nimage = modal.Image.debian_slim(python_version='3.14')\n")
    proc = cli("lock", app, env={"UV_PYTHON_INSTALL_MIRROR": "http://127.0.0.1:9/pbs"}, ok=False)
    assert proc.returncode == 4, proc.stderr
    assert "UV_PYTHON_INSTALL_MIRROR" in proc.stderr and "127.0.0.1:9/pbs" in proc.stderr
    assert not (tmp_path / "nixbuild.lock").exists()
