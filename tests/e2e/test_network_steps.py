"""run_commands that download: pinned by output hash on the first build, verified after.

A local HTTP server on 127.0.0.1 stands in for the internet. The step fails in the ordinary
(network-less) sandbox, is run again as a fixed-output derivation, and its output hash goes
into the lock; when the server's content changes, rebuilding that step fails with a named
error and leaves the lock and the old image alone.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
import uuid

import pytest

from nixbuild.settings import Settings
from nixbuild.store import roots

from conftest import payload


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def fetching_app(tmp_path_factory, server, cli):
    root, url = server
    token = uuid.uuid4().hex  # content no earlier run has pinned
    (root / "data.txt").write_text(f"payload {token}\n")
    app = tmp_path_factory.mktemp("net") / "app.py"
    fetch = ("python3 -c \"import urllib.request as u; "
             f"open('/opt/data/data.txt', 'wb').write(u.urlopen('{url}/data.txt').read())\"")
    app.write_text(
        "import nixbuild\n"
        "image = (nixbuild.Image.debian_slim(python_version='3.11')\n"
        "         .run_commands('mkdir -p /opt/data')\n"
        f"         .run_commands({fetch!r}))\n")
    first = cli("build", app, "--json")
    return {"app": app, "token": token, "root": root, "first": first,
            "built": payload(json.loads(first.stdout))[0]}


def test_first_build_pins_the_downloading_step(fetching_app, cli):
    app = fetching_app["app"]
    assert "trying it with the network" in fetching_app["first"].stderr
    lock = json.loads((app.parent / "nixbuild.lock").read_text())
    outputs = lock["images"]["image"]["outputs"]
    assert [(o["index"], o["kind"]) for o in outputs] == [(2, "run_commands")]  # step 1 needs no network
    out = cli("run", app, "--", "cat", "/opt/data/data.txt").stdout
    assert out == f"payload {fetching_app['token']}\n"


def test_rebuild_is_the_same_image(fetching_app, cli):
    again = cli.json("build", fetching_app["app"])[0]
    assert again["manifest_digest"] == fetching_app["built"]["manifest_digest"]


def test_changed_download_fails_with_a_named_error_and_keeps_lock_and_image(fetching_app, cli):
    app = fetching_app["app"]
    lock_before = (app.parent / "nixbuild.lock").read_bytes()
    link = app.parent / ".nixbuild" / "image"
    old_target = link.resolve()
    (fetching_app["root"] / "data.txt").write_text("something else\n")

    # The pinned layer is in this store, so a build here has nothing to run: `check` re-runs
    # every step, as a fresh machine would.
    proc = cli("check", app, ok=False)
    assert proc.returncode == 6, proc.stderr
    assert "step 2 run_commands" in proc.stderr
    assert "the output of step 2 changed since it was pinned" in proc.stderr
    assert link.resolve() == old_target and old_target.exists()  # the old image is still there
    assert (app.parent / "nixbuild.lock").read_bytes() == lock_before

    # A machine without that layer: remove the outputs from this store, keep a copy of the old
    # image's identity, and build.
    old_digest = fetching_app["built"]["manifest_digest"]
    layers = subprocess.run(["nix-store", "-q", "--references", str(old_target)], capture_output=True,
                            text=True, check=True).stdout.split()
    fetched = [p for p in layers if "-layer-3-2-run_commands" in p]
    assert fetched, layers
    link.unlink()
    # nixbuild's history roots of this app keep old builds until `nixbuild gc`: a fresh machine has none.
    shutil.rmtree(roots.app_dir(Settings.from_env().cache_dir, app.resolve()), ignore_errors=True)
    subprocess.run(["nix-store", "--delete", str(old_target), *fetched], check=True, capture_output=True)
    proc = cli("build", app, ok=False)
    assert proc.returncode == 6, proc.stderr
    assert "step 2 run_commands" in proc.stderr
    assert "the output of step 2 changed since it was pinned" in proc.stderr
    assert "nixbuild lock --update-step 2" in proc.stderr
    assert (app.parent / "nixbuild.lock").read_bytes() == lock_before

    # Accepting the change re-pins the step, and only that step.
    cli("lock", app, "--update-step", "2")
    rebuilt = cli.json("build", app)[0]
    assert rebuilt["manifest_digest"] != old_digest
    assert cli("run", app, "--", "cat", "/opt/data/data.txt").stdout == "something else\n"
