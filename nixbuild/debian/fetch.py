"""Downloads from a Debian mirror: urllib with a timeout and the host's CA bundle.

Every failure becomes a :class:`MirrorError` that names the URL, so the user sees which
mirror is unreachable and how to point nixbuild at another one.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from nixbuild.errors import MirrorError

from .sources import MIRROR_ENV

TIMEOUT_S = 30.0
_ATTEMPTS = 2  # one retry: mirrors behind proxies drop the odd connection
# The bundle Debian's ca-certificates maintains; corporate proxies' CAs are added there.
_HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@lru_cache(maxsize=1)
def _ssl_context():
    """TLS context trusting the CA bundle the host's own tools use."""
    # Imported here, not at the top (as urllib in fetch): with http.client and email they are
    # ~15 ms of every build's start-up, and a build with an unchanged lock never downloads.
    import ssl

    for candidate in (os.environ.get("SSL_CERT_FILE"), os.environ.get("REQUESTS_CA_BUNDLE")):
        if candidate and Path(candidate).is_file():
            return ssl.create_default_context(cafile=candidate)
    if _HOST_BUNDLE.is_file():
        return ssl.create_default_context(cafile=str(_HOST_BUNDLE))
    return ssl.create_default_context()


class NotFound(MirrorError):
    """The mirror answered, but does not have the file (HTTP 404 / missing file)."""


DEBIAN_FIX = (
    "check the network connection to the mirror, or set "
    f"{MIRROR_ENV} (and NIXBUILD_DEBIAN_SECURITY_MIRROR) to a reachable Debian mirror"
)


def fetch(url: str, *, timeout: float = TIMEOUT_S, fix: str = DEBIAN_FIX,
          headers: dict[str, str] | None = None) -> bytes:
    """The body of ``url`` (``http(s)://`` or ``file:``); raises :class:`MirrorError` with
    ``fix`` (how to reach the mirror: a Debian one unless told otherwise). ``headers``: more
    request headers (a login), never part of a message."""
    import urllib.error
    import urllib.request

    last_error: Exception | None = None
    for _ in range(_ATTEMPTS):
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "nixbuild", **(headers or {})})
            with urllib.request.urlopen(request, timeout=timeout, context=_ssl_context()) as reply:
                return reply.read()
        except urllib.error.HTTPError as error:
            if error.code in (404, 410):
                raise NotFound(
                    f"{url}: not found on the mirror (HTTP {error.code})", fix=fix
                ) from None
            last_error = error
        except urllib.error.URLError as error:
            if isinstance(error.reason, FileNotFoundError):
                raise NotFound(f"{url}: not found on the mirror", fix=fix) from None
            last_error = error
        except (OSError, ValueError) as error:  # timeouts, resets, malformed URLs
            last_error = error
    raise MirrorError(f"cannot download {url}: {last_error}", fix=fix)


class Connections:
    """Downloads over kept-alive connections, one per host (not shared between threads).

    A fresh connection per file costs a handshake each, and a mirror or proxy that throttles
    new connections stalls some of them for seconds (on this kind of machine, ~1 in 40 for 5 s;
    hundreds of .debs over one connection have none). Anything but a plain 200 answer over
    http(s) without a proxy (a redirect, an error, ``file:``, a configured proxy) goes through
    :func:`fetch`, which follows redirects and explains failures."""

    def __init__(self, *, timeout: float = TIMEOUT_S, fix: str = DEBIAN_FIX):
        import urllib.request

        self.timeout, self.fix = timeout, fix
        self.proxies = urllib.request.getproxies()
        self.open: dict[tuple[str, str], object] = {}

    def get(self, url: str) -> bytes:
        import http.client
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.scheme in self.proxies:
            return fetch(url, timeout=self.timeout, fix=self.fix)
        key = (parts.scheme, parts.netloc)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for _ in range(_ATTEMPTS):
            connection = self.open.get(key)
            if connection is None:
                connection = (http.client.HTTPSConnection(parts.netloc, timeout=self.timeout, context=_ssl_context())
                              if parts.scheme == "https" else
                              http.client.HTTPConnection(parts.netloc, timeout=self.timeout))
                self.open[key] = connection
            try:
                connection.request("GET", path, headers={"User-Agent": "nixbuild"})
                reply = connection.getresponse()
                body = reply.read()
            except (OSError, http.client.HTTPException):
                connection.close()  # a dropped kept-alive connection: once more on a new one
                del self.open[key]
                continue
            if reply.status == 200:
                return body
            break
        return fetch(url, timeout=self.timeout, fix=self.fix)

    def close(self) -> None:
        for connection in self.open.values():
            connection.close()
        self.open.clear()
