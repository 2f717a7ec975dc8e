"""Locks that survive the mirror (issue 12, part 2): a pinned .deb the mirror dropped after
locking is fetched from a snapshot mirror; when no place has it, one error names it and
every URL tried. The apt step is forced (a fresh layer on every build), so its .debs are
needed whatever earlier runs left in the store. Real components only: two HTTP servers on 127.0.0.1 over folders this test
fills from the configured Debian mirror, and the machine's Nix store."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.request
from email.utils import parsedate_to_datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nixbuild.store.pinned_debs import flat_path
from nixbuild.tools.nixcmd import store_name
from nixbuild.settings import Settings

APP = """import modal
image = modal.Image.debian_slim(python_version="3.11").apt_install("hello", force_build=True)
app = modal.App("snapshot-fallback", image=image)
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve():
    """serve(folder) -> http://127.0.0.1:PORT, a static file server over ``folder``."""
    servers = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _forget(path: str) -> None:
    """Remove a fixed-output .deb from the store, so the build has to fetch it."""
    if subprocess.run(["nix-store", "--check-validity", path], capture_output=True).returncode == 0:
        subprocess.run(["nix-store", "--delete", path], check=True, capture_output=True)


def test_a_deb_the_mirror_dropped_comes_from_the_snapshot_mirror(cli, quickstart, tmp_path, serve):
    app = tmp_path / "app" / "app.py"
    app.parent.mkdir()
    app.write_text(APP)
    cli("lock", app)  # against the configured (real) mirror
    lock = json.loads((app.parent / "nixbuild.lock").read_text())
    image = next(iter(lock["images"].values()))
    pins = image["steps"][1]["packages"]
    hello = next(p for p in pins if p["name"] == "hello")
    filename = hello["path"].rsplit("/", 1)[1]

    # A local mirror with the step's .debs, a snapshot mirror with none yet.
    mirror, snapshots = tmp_path / "mirror", tmp_path / "snapshots"
    settings = Settings.from_env()
    for pin in pins:
        dest = mirror / pin["archive"] / pin["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(settings.deb_url(pin["archive"], pin["path"]), timeout=60) as reply:
            dest.write_bytes(reply.read())
    snapshots.mkdir()
    mirror_url, snapshot_url = serve(mirror), serve(snapshots)
    env = {"NIXBUILD_DEBIAN_MIRROR": f"{mirror_url}/debian",
           "NIXBUILD_DEBIAN_SECURITY_MIRROR": f"{mirror_url}/debian-security",
           "NIXBUILD_DEBIAN_SNAPSHOT": f"{snapshot_url}/archive/{{archive}}/{{timestamp}}/"}

    # The mirror drops the pinned version; the store does not have it either.
    dropped = mirror / "debian" / hello["path"]
    saved = tmp_path / "hello.deb"
    shutil.move(dropped, saved)
    deb_path = flat_path(store_name(filename), hello["sha256"])
    _forget(deb_path)

    # Neither the mirror nor the snapshot mirror has it: one clear error, every place named.
    failed = cli("build", app, env=env, ok=False)
    assert failed.returncode == 4, failed.stderr
    assert f"the pinned hello {hello['version']} ({filename})" in failed.stderr
    assert f"{mirror_url}/debian/{hello['path']}: not found" in failed.stderr
    assert f"{snapshot_url}/archive/debian/" in failed.stderr
    assert "NIXBUILD_DEBIAN_SNAPSHOT" in failed.stderr
    assert not (app.parent / ".nixbuild" / "image").exists()

    # The snapshot mirror serves the archive as the lock's index saw it (its Date).
    date = max(parsedate_to_datetime(s["date"]) for s in image["snapshots"] if s["archive"] == "debian")
    archived = snapshots / "archive" / "debian" / date.strftime("%Y%m%dT%H%M%SZ") / hello["path"]
    archived.parent.mkdir(parents=True)
    shutil.copy(saved, archived)

    built = cli.json("build", app, env=env)
    assert built[0]["name"] == "image"
    assert subprocess.run(["nix-store", "--check-validity", deb_path]).returncode == 0
    assert not dropped.exists()
