"""The lock file protects what it pins: its shape (hex digests, relative pool paths, an
object at all), its mode, one writer at a time, and pins that must be the signed index's.

The pin checks use a lock of the quickstart example, made here by `nixbuild lock` (example
locks are not committed: they name this machine's mirror), against the real Debian index
snapshot it records (from the cache, else downloaded by hash from the mirror): the oracle is
the signed index, not nixbuild's own resolver output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nixbuild import locking
from nixbuild.build import Project
from nixbuild.errors import LockError
from nixbuild.lock import Lock, exclusive, read_lock, write_atomic, write_lock

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "quickstart"  # replaced by a locked copy (see below)


@pytest.fixture(scope="module", autouse=True)
def locked_quickstart(tmp_path_factory) -> Path:
    """A copy of the quickstart example with a lock made now, for every test of this module."""
    global QUICKSTART
    dest = tmp_path_factory.mktemp("lock-file") / "quickstart"
    shutil.copytree(ROOT / "examples" / "quickstart", dest, ignore=shutil.ignore_patterns("nixbuild.lock", ".nixbuild"))
    proc = subprocess.run([sys.executable, "-m", "nixbuild", "lock", str(dest / "app.py")], capture_output=True, text=True)
    assert proc.returncode == 0, f"nixbuild lock failed (is the Debian mirror reachable?):\n{proc.stderr}"
    QUICKSTART = dest
    return dest


def lock_data() -> dict:
    return json.loads((QUICKSTART / "nixbuild.lock").read_text())


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "nixbuild.lock"
    path.write_text(json.dumps(data))
    return path


# --- shape -----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [[], "lock", 3, None])
def test_valid_json_of_the_wrong_shape_is_a_lock_error(tmp_path, data):
    with pytest.raises(LockError) as caught:
        read_lock(write(tmp_path, data))
    assert caught.value.exit_code == 5 and "not a lock" in caught.value.message


@pytest.mark.parametrize("field, value, expected", [
    ("sha256", "ABC", "not a SHA256"),
    ("sha256", "g" * 64, "not a SHA256"),
    ("path", "/etc/passwd", "not a relative pool path"),
    ("path", "pool/main/../../../x.deb", "not a relative pool path"),
    ("path", "https://example.invalid/x.deb", "not a relative pool path"),
    ("size", -1, "negative"),
    ("name", "Curl Evil", "not a Debian package name"),
])
def test_a_malformed_pin_is_a_lock_error_naming_the_field(tmp_path, field, value, expected):
    data = lock_data()
    data["images"]["image"]["steps"][1]["packages"][0][field] = value
    with pytest.raises(LockError) as caught:
        read_lock(write(tmp_path, data))
    assert expected in caught.value.message
    assert f"images.image.steps.1.packages.0.{field}" in caught.value.message
    assert "Traceback" not in str(caught.value)


def test_malformed_snapshot_and_nar_hash(tmp_path):
    data = lock_data()
    data["images"]["image"]["snapshots"][0]["packages_sha256"] = "0" * 63
    with pytest.raises(LockError, match="not a SHA256"):
        read_lock(write(tmp_path, data))
    data = lock_data()
    data["bootstrap"]["busybox_nar_hash"] = "e" * 52  # 'e' is not in Nix's base32
    with pytest.raises(LockError, match="base32"):
        read_lock(write(tmp_path, data))


def test_the_quickstart_lock_has_the_right_shape():
    assert isinstance(read_lock(QUICKSTART / "nixbuild.lock"), Lock)


# --- mode and concurrency --------------------------------------------------------------------


def test_a_new_lock_is_0644_and_an_existing_one_keeps_its_mode(tmp_path):
    lock = read_lock(QUICKSTART / "nixbuild.lock")
    path = tmp_path / "nixbuild.lock"
    old = os.umask(0o077)
    try:
        write_lock(path, lock)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o640)
    write_atomic(path, "{}")
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["nixbuild.lock"]  # no temporary left


def test_exclusive_makes_a_second_process_wait(tmp_path):
    lock_path = tmp_path / "nixbuild.lock"
    holder = ("import sys, time; from pathlib import Path; from nixbuild.lock import exclusive\n"
              "with exclusive(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(1.5)\n")
    child = subprocess.Popen([sys.executable, "-c", holder, str(lock_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        said: list[str] = []
        start = time.monotonic()
        with exclusive(lock_path, said.append):
            waited = time.monotonic() - start
            with exclusive(lock_path):  # re-entrant in one process
                pass
    finally:
        child.wait()
    assert waited > 0.8 and said == [f"waiting for another nixbuild run on {lock_path}"]
    assert list(tmp_path.iterdir()) == []  # the flock is on the folder: no file is left behind


# --- pins against the signed index snapshot --------------------------------------------------


@pytest.fixture(scope="module")
def quickstart_images(locked_quickstart):
    return Project.load(QUICKSTART / "app.py").images


def verify(tmp_path, data, images, settings=None):
    lock = read_lock(write(tmp_path, data))
    project_settings = settings or Project.load(QUICKSTART / "app.py").settings
    locking.verify_pins(images, lock, project_settings)


def _pkg(data, step, name):
    return next(p for p in data["images"]["image"]["steps"][step]["packages"] if p["name"] == name)


def test_the_quickstart_lock_verifies(tmp_path, quickstart_images):
    verify(tmp_path, lock_data(), quickstart_images)


def test_a_swapped_sha256_is_named(tmp_path, quickstart_images):
    data = lock_data()
    _pkg(data, 1, "jq")["sha256"] = "0" * 64
    with pytest.raises(LockError) as caught:
        verify(tmp_path, data, quickstart_images)
    assert "pinned package jq" in caught.value.message and "sha256 " + "0" * 64 in caught.value.message
    assert caught.value.where == "image 'image', step 1 apt_install" and caught.value.exit_code == 5


def test_a_version_not_in_the_snapshot_is_named(tmp_path, quickstart_images):
    data = lock_data()
    _pkg(data, 1, "curl")["version"] = "99.0-1"
    with pytest.raises(LockError, match="curl 99.0-1 is not in the locked index snapshot"):
        verify(tmp_path, data, quickstart_images)


def test_removed_and_added_packages_are_named(tmp_path, quickstart_images):
    data = lock_data()
    steps = data["images"]["image"]["steps"]
    steps[1]["packages"] = [p for p in steps[1]["packages"] if p["name"] != "libjq1"]
    with pytest.raises(LockError, match="removed libjq1"):
        verify(tmp_path, data, quickstart_images)
    data = lock_data()
    steps = data["images"]["image"]["steps"]
    moved = _pkg(data, 0, "bash")  # a real entry of the snapshot, pinned a second time
    steps[1]["packages"].append(moved)
    with pytest.raises(LockError, match="added bash"):
        verify(tmp_path, data, quickstart_images)


# --- a micro python_version ------------------------------------------------------------------


def test_a_micro_python_version_debian_does_not_ship_warns():
    from nixbuild.api.image import Image
    from nixbuild.warn import NixbuildWarning

    lock = read_lock(QUICKSTART / "nixbuild.lock")
    with pytest.warns(NixbuildWarning) as caught:
        locking.warn_python_micro({"image": Image.debian_slim("3.11.9")}, lock)
    [message] = [str(w.message) for w in caught]
    assert message.startswith("image 'image', step 0 debian_slim: python_version='3.11.9'")
    assert "ships Python 3.11.2" in message
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for version in ("3.11.2", "3.11", None):  # what Debian ships, a series, unset: nothing to say
            locking.warn_python_micro({"image": Image.debian_slim(version)}, lock)
