"""Servers the tests start on 127.0.0.1: a folder served over HTTP (binary caches, mirrors)."""

from __future__ import annotations

import shutil
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
    with _server_with_login(_LOGIN_SERVER, folder, user, password) as url:
        yield url


@contextmanager
def _server_with_login(program: str, root: Path, user: str, password: str) -> Iterator[str]:
    """Run the server ``program`` (argv: port, root, ``user:password``) in another process
    until it answers 401 to a request without a login; yield its URL, stop it after."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", program, str(port), str(root), f"{user}:{password}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/", proc, seconds=10, statuses=(401,))
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


# git's smart HTTP protocol: `git http-backend` (a CGI program) behind a Python server that
# first checks HTTP basic auth, as a git host does for a private repository. Another process,
# like the servers above, so that a fetch from it never waits on the test's GIL.
_GIT_SERVER = r"""
import base64, http.server, os, subprocess, sys
port, root, token = int(sys.argv[1]), sys.argv[2], base64.b64encode(sys.argv[3].encode()).decode()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def serve(self):
        data = self.body()
        if self.headers.get("Authorization") != "Basic " + token:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {**os.environ, "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
               "QUERY_STRING": query, "REQUEST_METHOD": self.command, "REMOTE_USER": "git",
               "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(data)), "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
               "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", "")}
        out = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True).stdout
        head, _, content = out.partition(b"\r\n\r\n")
        headers = [line.split(":", 1) for line in head.decode().split("\r\n") if ":" in line]
        status = next((value.strip() for key, value in headers if key.lower() == "status"), "200 OK")
        self.send_response(int(status.split()[0]))
        for key, value in headers:
            if key.lower() != "status":
                self.send_header(key, value.strip())
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = serve

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@contextmanager
def serve_git_with_login(root: Path, user: str, password: str) -> Iterator[str]:
    """The bare repositories under ``root`` over git's smart HTTP protocol, every request with
    HTTP basic auth ``user:password`` (401 otherwise); yields the URL without the login."""
    with _server_with_login(_GIT_SERVER, root, user, password) as url:
        yield url


@contextmanager
def running_registry(root: Path, htpasswd: str | None = None) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1 with its storage under ``root``; yields HOST:PORT.
    ``htpasswd``: the lines of an htpasswd file (bcrypt): the registry then wants a login."""
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is not installed (apt-get install docker-registry; scripts/setup does it)"
    port = free_port()
    config = root / "config.yml"
    auth = ""
    if htpasswd is not None:
        (root / "htpasswd").write_text(htpasswd)
        auth = f"auth:\n  htpasswd:\n    realm: nixbuild-test\n    path: {root / 'htpasswd'}\n"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n" + auth)
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    address = f"127.0.0.1:{port}"
    wait_until_answers(f"http://{address}/v2/", proc, statuses=(401,) if htpasswd else ())
    try:
        yield address
    finally:
        proc.terminate()
        proc.wait(10)
