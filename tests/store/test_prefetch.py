"""The pinned files a build needs, downloaded by the CLI before nix-build (nixbuild/store/prefetch.py).

The oracle for the store paths is Nix itself: the path nix/fetch.nix's fixed-output
derivation names for each file (``nix-instantiate --eval``), which must be valid in the store
after the prefetch, so nix-build has nothing left to fetch.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nixbuild.debian.fetch import Connections
from nixbuild.store import prefetch
from nixbuild.tools import nixcmd, substituters

pytestmark = pytest.mark.skipif(not nixcmd.shutil.which("nix-store"), reason="needs Nix")

# Debian file names carry `~`, `+` and `:`: store names may not have `~` or `:`.
FILES = {"a_1.0~rc1-1_amd64.deb": b"first", "b_2:1.0+b1_all.deb": b"second" * 1000, "c-1.0-py3-none-any.whl": b"third"}


@contextmanager
def http11_server(folder: Path) -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server (connections kept alive) over ``folder``; yields its URL and the
    client ports of the connections it accepted."""
    ports: list[int] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def setup(self):
            super().setup()
            ports.append(self.client_address[1])

        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", ports
    finally:
        server.shutdown()
        server.server_close()


def spec_of(url: str, files: dict[str, bytes], wrong: str = "") -> dict:
    """A spec naming ``files`` where nix/default.nix names pinned files (``wrong``: a file
    whose locked sha256 is not that of the bytes served)."""
    pins = [{"url": f"{url}/{name}", "name": name,
             "sha256": hashlib.sha256(data + (b"x" if name == wrong else b"")).hexdigest()}
            for name, data in files.items()]
    return {"bootstrap": {"debs": pins[:1]}, "layers": [{"kind": "debs", "debs": pins[1:2]},
                                                         {"kind": "wheels", "wheels": pins[2:]}]}


def fetch_nix_path(pin: dict) -> str:
    """Nix's own answer: the output path of nix/fetch.nix's fetchFile for ``pin``."""
    expr = f"((import {nixcmd.nix_dir() / 'fetch.nix'}).fetchFile (builtins.fromJSON ''{json.dumps(pin)}'')).outPath"
    return json.loads(subprocess.run(["nix-instantiate", "--eval", "--json", "-E", expr],
                                     capture_output=True, text=True, check=True).stdout)


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name, data in FILES.items():
        (folder / name).write_bytes(data)
    with http11_server(folder) as (url, ports):
        yield url, ports


@pytest.fixture
def no_caches(monkeypatch):
    monkeypatch.setattr(substituters, "caches", lambda: substituters.Caches(substituters=[], trusted_public_keys=[]))


def test_every_pinned_file_lands_where_its_fetch_derivation_would_put_it(served, tmp_path, no_caches):
    url, ports = served
    spec, store = spec_of(url, FILES), str(tmp_path / "store")
    said: list[str] = []
    assert prefetch.prefetch([spec], tmp_path / "cache", store, progress=said.append) == 3
    assert said == ["downloading 3 pinned files"]
    pins = [p for part in (spec["bootstrap"]["debs"], *(layer.get("debs", layer.get("wheels")) for layer in spec["layers"]))
            for p in part]
    paths = [fetch_nix_path(pin) for pin in pins]
    assert sorted(paths) == sorted(f.store_path for f in prefetch.pinned_files(spec))
    assert prefetch.missing(paths, store) == set()
    for path, data in zip(paths, FILES.values()):
        assert (Path(store) / path.lstrip("/")).read_bytes() == data  # the chroot store's real file
    # Kept-alive connections: far fewer than the files (at most one per download thread).
    assert len(ports) <= prefetch.PARALLEL
    assert prefetch.prefetch([spec], tmp_path / "cache", store) == 0  # all there: nothing downloaded


def test_a_file_the_mirror_serves_other_bytes_of_is_left_to_nix(served, tmp_path, no_caches):
    url, _ = served
    spec, store = spec_of(url, FILES, wrong="b_2:1.0+b1_all.deb"), str(tmp_path / "store")
    assert prefetch.prefetch([spec], tmp_path / "cache", store) == 2
    wrong = next(f for f in prefetch.pinned_files(spec) if f.name.startswith("b_"))
    assert prefetch.missing([wrong.store_path], store) == {wrong.store_path}


def test_with_a_binary_cache_nothing_is_prefetched(served, tmp_path, monkeypatch):
    # The cache may serve the layers themselves, which need none of the files.
    url, ports = served
    monkeypatch.setattr(substituters, "caches", lambda: substituters.Caches(
        substituters=["file:///nowhere"], trusted_public_keys=[]))
    assert prefetch.prefetch([spec_of(url, FILES)], tmp_path / "cache", str(tmp_path / "store")) == 0
    assert ports == []


def test_one_kept_alive_connection_serves_many_files(served):
    url, ports = served
    connections = Connections()
    try:
        for _ in range(3):
            for name, data in FILES.items():
                assert connections.get(f"{url}/{name}") == data
    finally:
        connections.close()
    assert len(ports) == 1
