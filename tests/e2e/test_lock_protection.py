"""The lock protects what it pins, with the real CLI on a copy of the session's quickstart
(already built, so nothing new builds): a swapped pin fails with exit 5 naming it, a locked app
builds with every mirror off, two `nixbuild lock` runs at once keep both sets of pins, and
Ctrl-C leaves the lock whole with exit 130."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from nixbuild.settings import Settings

from conftest import payload

OFF = "http://127.0.0.1:1"  # nothing listens on port 1


def copy_quickstart(quickstart, dest: Path) -> Path:
    dest.mkdir()
    for name in ("app.py", "nixbuild.lock"):
        shutil.copy(quickstart["app"].parent / name, dest / name)
    return dest / "app.py"


def test_a_swapped_pin_fails_and_a_locked_app_builds_offline(quickstart, cli, tmp_path):
    app = copy_quickstart(quickstart, tmp_path / "qs")
    lock_path = app.parent / "nixbuild.lock"
    pristine = lock_path.read_text()
    data = json.loads(pristine)
    jq = next(p for p in data["images"]["image"]["steps"][1]["packages"] if p["name"] == "jq")
    jq["sha256"] = "0" * 64
    lock_path.write_text(json.dumps(data))
    proc = cli("lock", app, "--check", ok=False)  # `build` is tests/e2e/test_bad_input.py's
    assert proc.returncode == 5, proc.stderr
    assert "pinned package jq" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(lock_path.read_text()) == data  # a refused lock is not rewritten

    lock_path.write_text(pristine)
    # No cached index either: a cache holding only the markers of what is seeded in the store.
    cache = tmp_path / "cache"
    shutil.copytree(Settings.from_env().cache_dir / "seeded", cache / "seeded")
    offline = {"NIXBUILD_DEBIAN_MIRROR": OFF, "NIXBUILD_DEBIAN_SECURITY_MIRROR": OFF,
               "NIXBUILD_CACHE_DIR": str(cache)}
    proc = cli("build", app, "--json", env=offline)
    [built] = payload(json.loads(proc.stdout))
    assert built["manifest_digest"] == quickstart["built"]["manifest_digest"]
    warnings = [line for line in proc.stderr.splitlines() if "neither cached nor reachable" in line]
    assert warnings and all(line.startswith("warning: ") for line in warnings), proc.stderr
    assert lock_path.read_text() == pristine


def test_two_locks_at_once_keep_both_pins(quickstart, tmp_path):
    app = copy_quickstart(quickstart, tmp_path / "qs")
    app.write_text(app.read_text() + '\ntree = image.apt_install("tree")\nfile = image.apt_install("file")\n')
    procs = [subprocess.Popen([sys.executable, "-m", "nixbuild", "lock", str(app), "--image", name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("tree", "file")]
    for proc in procs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
    images = json.loads((app.parent / "nixbuild.lock").read_text())["images"]
    assert set(images) == {"image", "tree", "file"}
    assert "tree" in {p["name"] for p in images["tree"]["steps"][-1]["packages"]}
    assert "file" in {p["name"] for p in images["file"]["steps"][-1]["packages"]}


def _nix_build_running(parent: int) -> bool:
    """Whether a nix-build child of ``parent`` is running (read from /proc, no helper library)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"nix-build" in cmdline:
            return True
    return False


def test_ctrl_c_exits_130_and_keeps_the_lock(quickstart, cli, tmp_path):
    app = copy_quickstart(quickstart, tmp_path / "qs")
    # A step that is still building when the signal comes, however warm the store is.
    app.write_text(app.read_text() + '\nimage = image.run_commands("sleep 600")\n')
    cli("lock", app)
    lock_path = app.parent / "nixbuild.lock"
    pristine = lock_path.read_bytes()
    for during in ("imports", "build"):
        proc = subprocess.Popen([sys.executable, "-m", "nixbuild", "build", str(app)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if during == "imports":
            time.sleep(0.3)
        else:
            deadline = time.monotonic() + 300
            while not _nix_build_running(proc.pid):
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 130, (during, stderr)
        assert "Traceback" not in stderr and stderr.strip().endswith("interrupted")
        assert lock_path.read_bytes() == pristine
        assert [p.name for p in app.parent.iterdir() if p.name.startswith(".nixbuild.lock")] == []
        assert not (app.parent / ".nixbuild" / "image").exists()


def test_lock_refuses_a_missing_local_path_as_plan_does(quickstart, cli, tmp_path):
    app = copy_quickstart(quickstart, tmp_path / "qs")
    app.write_text(app.read_text() + '\nimage = image.add_local_file("missing.txt", "/root/missing.txt")\n')
    before = (app.parent / "nixbuild.lock").read_text()
    for command in ("lock", "plan"):
        proc = cli(command, app, ok=False, cwd=app.parent)
        assert proc.returncode == 2, proc.stderr
        assert "missing.txt" in proc.stderr and "Traceback" not in proc.stderr
    assert (app.parent / "nixbuild.lock").read_text() == before
