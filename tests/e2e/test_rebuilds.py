"""Rebuilds as Modal describes them, and `nixbuild gc`, observed by an HTTP server that counts.

A server on 127.0.0.1 counts the requests for each file, so "the step ran again" and "built
nothing" are counted, not read from nixbuild's log. One app, two images on the shared
debian_slim 3.11 base:

- ``plain``: fetch /a, then a 1 MB local file (the file gc's test edits);
- ``forced``: fetch /a, fetch /b with ``force_build=True``, fetch /c (after the forced step).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from collections import Counter

import pytest

from conftest import payload

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server():
    """Serves ``content[path]`` and counts the requests for each path."""
    content = {"/a": b"alpha\n", "/b": b"bravo\n", "/c": b"charlie\n"}
    counts: Counter[str] = Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            counts[self.path] += 1
            body = content.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}", "content": content, "counts": counts}
    httpd.shutdown()


def fetch(url: str, name: str) -> str:
    return (f"python3 -c \"import urllib.request as u; "
            f"open('/opt/{name}.txt', 'wb').write(u.urlopen('{url}/{name}').read())\"")


@pytest.fixture(scope="module")
def app(tmp_path_factory, server):
    folder = tmp_path_factory.mktemp("rebuilds")
    (folder / "big.bin").write_bytes(os.urandom(MiB))
    url = server["url"]
    path = folder / "app.py"
    path.write_text(
        "import nixbuild\n"
        "base = nixbuild.Image.debian_slim(python_version='3.11')\n"
        f"plain = base.run_commands({fetch(url, 'a')!r}).add_local_file({str(folder / 'big.bin')!r}, '/opt/big.bin')\n"
        f"forced = (base.run_commands({fetch(url, 'a')!r})\n"
        f"          .run_commands({fetch(url, 'b')!r}, force_build=True)\n"
        f"          .run_commands({fetch(url, 'c')!r}))\n")
    return path


def counted(server, cli, *args, env=None, ok=True):
    """Run the CLI; returns (process, requests per path during it)."""
    server["counts"].clear()
    proc = cli(*args, env=env, ok=ok)
    return proc, dict(server["counts"])


def digest(proc) -> str:
    return payload(json.loads(proc.stdout))[0]["manifest_digest"]


@pytest.fixture(scope="module")
def first(app, server, cli):
    proc, counts = counted(server, cli, "build", app, "--image", "plain", "--json")
    assert counts.get("/a", 0) >= 1, counts
    return {"digest": digest(proc), "target": (app.parent / ".nixbuild" / "plain").resolve()}


def test_plain_rebuild_fetches_nothing(app, first, server, cli):
    proc, counts = counted(server, cli, "build", app, "--image", "plain", "--json")
    assert counts == {} and digest(proc) == first["digest"]


def test_modal_force_build_runs_network_steps_again(app, first, server, cli):
    proc, counts = counted(server, cli, "build", app, "--image", "plain", "--json", env={"MODAL_FORCE_BUILD": "1"})
    assert counts.get("/a", 0) >= 1, counts
    assert digest(proc) == first["digest"]  # what it fetched matches the pin


def test_modal_ignore_cache_builds_fresh_and_keeps_the_cache(app, first, server, cli):
    link = app.parent / ".nixbuild" / "plain"
    before = link.resolve()
    proc, counts = counted(server, cli, "build", app, "--image", "plain", "--json",
                           env={"MODAL_IGNORE_CACHE": "yes"})
    assert counts.get("/a", 0) >= 1, counts
    fresh = payload(json.loads(proc.stdout))[0]
    assert fresh["manifest_digest"] == first["digest"] and fresh["store_path"] != str(before)
    assert link.resolve() == before  # nothing later builds use was replaced
    proc, counts = counted(server, cli, "build", app, "--image", "plain", "--json")
    # The plain build uses the plain build's cached image again, and builds nothing.
    assert counts == {} and digest(proc) == first["digest"] and link.resolve() == first["target"]


def test_bad_value_is_refused_before_anything_builds(app, server, cli):
    proc, counts = counted(server, cli, "build", app, "--image", "plain", env={"MODAL_FORCE_BUILD": "maybe"}, ok=False)
    assert proc.returncode == 2 and "MODAL_FORCE_BUILD" in proc.stderr and counts == {}


@pytest.fixture(scope="module")
def forced(app, server, cli):
    """The first build of the image with a force_build step (its network outputs pinned)."""
    return counted(server, cli, "build", app, "--image", "forced", "--json")


def test_force_build_cascades_to_later_steps_only(app, forced, server, cli):
    builds = [forced, counted(server, cli, "build", app, "--image", "forced", "--json")]
    for _proc, counts in builds:
        assert counts.get("/b", 0) >= 1 and counts.get("/c", 0) >= 1, counts  # the step and the one after
    assert builds[1][1].get("/a", 0) == 0, builds[1][1]  # the one before: not again
    assert digest(builds[0][0]) == digest(builds[1][0])


def test_gc_frees_old_builds_and_keeps_the_current_one(app, first, server, cli, tmp_path):
    # A user's own root on an older build of `forced` (gc removes nixbuild's root on it).
    history = sorted(p for p in (app.parent / ".nixbuild").iterdir() if p.name == "forced")
    user_root = tmp_path / "mine"
    old_forced = (app.parent / ".nixbuild" / "forced").resolve()
    subprocess.run(["nix-store", "--realise", str(old_forced), "--add-root", str(user_root), "--indirect"],
                   check=True, capture_output=True)
    assert history
    counted(server, cli, "build", app, "--image", "forced", "--json")  # a newer build of `forced`

    (app.parent / "big.bin").write_bytes(os.urandom(MiB))  # an edit of the 1 MB file
    proc, counts = counted(server, cli, "build", app, "--image", "plain", "--json")
    edited = digest(proc)
    assert counts == {} and edited != first["digest"]

    dry = cli.json("gc", app, "--dry-run")
    assert dry["dry_run"] and dry["removed_roots"] and first["target"].exists()
    usage = {u["app"]: u for u in dry["apps"]}[str(app)]
    assert usage["exists"] and usage["store_bytes"] >= 2 * MiB

    report = cli.json("gc", app)
    assert report["freed_bytes"] >= MiB, report
    # The dry run's estimate (closure minus what other roots reach) does not model Nix's
    # keep-derivations; measured: 189237104 estimated, 187859776 freed.
    assert dry["freed_bytes"] >= report["freed_bytes"]
    assert str(first["target"]) in report["deleted_paths"] and not first["target"].exists()
    assert old_forced.exists() and user_root.is_symlink()  # the user's root and what it reaches

    proc, counts = counted(server, cli, "build", app, "--image", "plain", "--json")
    assert counts == {} and digest(proc) == edited
    again = cli.json("gc", app)
    assert again["freed_bytes"] == 0 and again["removed_roots"] == []


def test_changed_output_of_forced_step_fails_naming_step_and_files(app, forced, server, cli):
    lock = (app.parent / "nixbuild.lock").read_bytes()
    server["content"]["/b"] = b"bravo, changed\n"
    proc, counts = counted(server, cli, "build", app, "--image", "forced", ok=False)
    assert counts.get("/b", 0) >= 1
    assert proc.returncode == 6, proc.stderr
    assert "step 2" in proc.stderr and "opt/b.txt" in proc.stderr, proc.stderr
    assert "nixbuild lock --update-step 2" in proc.stderr
    assert (app.parent / "nixbuild.lock").read_bytes() == lock
