"""`nixbuild run` is a container, not a root shell; an image's paths stay inside the image.

Run as root (as CI does): the command gets a user namespace (no capability over the host),
no network but its own loopback unless `--network host`, and dies with nixbuild. An image
whose base has `var/run -> /run` (debian_slim's) and a file added at /var/run/... writes
nothing to the host's /run, in the sandbox builder or in `run`'s unpacker, and the image runs
the app from /root as Modal does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CFG = "nixbuild-run-isolation.cfg"  # a name the host's /run has no reason to hold

APP = f"""
from pathlib import Path

import modal

HERE = Path(__file__).parent
image = (
    modal.Image.debian_slim(python_version="3.11")
    .add_local_file(HERE / "x.cfg", "/var/run/{CFG}", copy=True)
    .run_commands("cat /run/{CFG} > /root/seen-by-the-build")
    .add_local_python_source("mypkg")
)
app = modal.App("isolation", image=image)


@app.function()
def f():
    import mypkg
"""


@pytest.fixture(scope="module")
def linked_app(tmp_path_factory, cli) -> Path:
    """debian_slim (the quickstart's base) with a file added through its var/run link."""
    assert not Path("/run", CFG).exists(), f"remove the host's /run/{CFG} left by an earlier run"
    folder = tmp_path_factory.mktemp("isolation")
    (folder / "x.cfg").write_text("from the app\n")
    (folder / "mypkg").mkdir()
    (folder / "mypkg" / "__init__.py").write_text("VALUE = 1\n")
    app = folder / "app.py"
    app.write_text(APP)
    cli("build", app, cwd=folder)
    return app


def test_a_file_added_through_var_run_stays_in_the_image(linked_app, cli):
    assert cli("run", linked_app, "--", "true").returncode == 0
    assert not Path("/run", CFG).exists()  # the unpacker followed var/run -> /run inside the image
    out = cli("run", linked_app, "--writable", "--", "sh", "-c",
              f"readlink /var/run; cat /run/{CFG} /root/seen-by-the-build").stdout
    assert out.splitlines() == ["/run", "from the app", "from the app"]
    assert not Path("/run", CFG).exists()


def test_the_app_runs_from_root_where_its_modules_are(linked_app, cli):
    proc = cli("run", linked_app, "--", "python", "-c", "import mypkg", ok=False)
    # Prints nothing (stderr has only nixbuild's progress line), and no ModuleNotFoundError.
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
    assert "mypkg" not in proc.stderr and "Error" not in proc.stderr


@pytest.fixture()
def host_server():
    """A TCP server on the host's 127.0.0.1 that answers every connection with b"host"."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"host")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()


PROBE = """
import os, socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
        print("reached", s.recv(4).decode())
except OSError as e:
    print("unreachable", type(e).__name__)
print("uid_map", " ".join(open("/proc/self/uid_map").read().split()))
print("userns", os.readlink("/proc/self/ns/user"))
try:
    os.mknod("/tmp/null", 0o600 | 0o020000, os.makedev(1, 3))  # a device node: CAP_MKNOD on the host
    print("mknod made")
except PermissionError:
    print("mknod refused")
print("sid", os.getsid(0))  # 0: the session's leader is outside the sandbox (the host's)
"""


def test_run_as_root_is_a_user_namespace_without_the_hosts_network(quickstart, cli, host_server):
    out = cli("run", quickstart["app"], "--", "python", "-c", PROBE, str(host_server)).stdout.splitlines()
    assert out[0] == "unreachable ConnectionRefusedError"  # its own loopback, nothing listening
    # uid 0 inside is only the caller (root, in CI); the host's own namespace maps every uid.
    assert out[1] == f"uid_map 0 {os.geteuid()} 1"
    assert out[2] != "userns " + os.readlink("/proc/self/ns/user")
    # No host capability; a session of its own, led by the sandbox's init (pid 1).
    assert out[3:] == ["mknod refused", "sid 1"]

    host = cli("run", quickstart["app"], "--network", "host", "--", "python", "-c", PROBE, str(host_server))
    assert host.stdout.splitlines()[:2] == ["reached host", f"uid_map 0 {os.geteuid()} 1"]


def test_the_command_dies_with_nixbuild(quickstart):
    marker = "313.25"  # sleep's argument: finds the process
    proc = subprocess.Popen([sys.executable, "-m", "nixbuild", "run", str(quickstart["app"]), "--",
                             "sleep", marker], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sleepers() -> list[int]:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if Path("/proc", pid, "cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", marker.encode()]:
                    found.append(int(pid))
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 120
    while not sleepers():
        assert proc.poll() is None and time.monotonic() < deadline, "the command never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while sleepers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not sleepers()
