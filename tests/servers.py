"""Servers the tests start on 127.0.0.1: a folder served over HTTP (binary caches, mirrors)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answers(url: str, proc: subprocess.Popen, *, seconds: float = 30,
                       statuses: tuple[int, ...] = ()) -> None:
    """Wait until ``url`` answers (with success, or one of the HTTP error ``statuses``, as a
    registry that wants a login answers 401); a server that exits or stays silent is an
    AssertionError with what it wrote on stderr (when that is a pipe)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError as exc:
            if exc.code in statuses:
                return
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"the server for {url} answered {exc.code}") from None
            time.sleep(0.1)
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                said = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise AssertionError(f"the server for {url} did not start: {said}")
            time.sleep(0.1)


@contextmanager
def serve_folder(folder: Path, probe: str = "") -> Iterator[str]:
    """``python -m http.server`` over ``folder`` (another process, so a nix-build that fetches
    from it never waits on this one's GIL); yields its URL once ``probe`` answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/{probe}", proc, seconds=10)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


_LOGIN_SERVER = r"""
import base64, functools, http.server, sys
port, folder, token = int(sys.argv[1]), sys.argv[2], base64.b64encode(sys.argv[3].encode()).decode()
class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Authorization") != "Basic " + token:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="index"')
            self.end_headers()
            return
        super().do_GET()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=folder)).serve_forever()
"""


@contextmanager
def serve_folder_with_login(folder: Path, user: str, password: str) -> Iterator[str]:
    """Like :func:`serve_folder`, but every request needs HTTP basic auth ``user:password``
    (401 otherwise), as a private package index does; yields the URL without the login."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _LOGIN_SERVER, str(port), str(folder), f"{user}:{password}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/", proc, seconds=10, statuses=(401,))
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
