"""A Docker image reference (``[HOST[:PORT]/]PATH[:TAG][@DIGEST]``), taken apart as Docker's
distribution grammar does: the first path component is a registry host only when it holds a
``.`` or a ``:`` or is ``localhost``; otherwise the reference names the default registry, which
skopeo fills in (no registry host is written here).

Plain HTTP: registries on the loopback address (127.0.0.0/8, ``localhost``, ``[::1]``) are
spoken to without TLS verification (skopeo then falls back to HTTP), as Docker treats them;
any other host only when it is listed in ``NIXBUILD_INSECURE_REGISTRIES`` (comma-separated
``HOST[:PORT]``), the counterpart of Docker's ``insecure-registries``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from nixbuild.errors import InvalidError

INSECURE_ENV = "NIXBUILD_INSECURE_REGISTRIES"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"[a-zA-Z0-9.-]+(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?"
_TAG = r"[\w][\w.-]{0,127}"
# NAME[:TAG]: what `nixbuild build --tag` accepts.
NAME_AND_TAG = re.compile(rf"(?:(?:{_HOST})/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?")
_FULL = re.compile(rf"(?:(?P<host>{_HOST})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
                   rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>sha256:[0-9a-f]{{64}}))?")


@dataclass(frozen=True)
class Reference:
    host: str | None  # None: the default registry
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        """The reference without tag or digest, as written (``HOST/PATH`` or ``PATH``)."""
        return f"{self.host}/{self.path}" if self.host else self.path

    def transport(self, digest: str | None = None) -> str:
        """skopeo's ``docker://`` name: by ``digest`` when given, else as written."""
        if digest is not None:
            return f"docker://{self.repository}@{digest}"
        suffix = (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")
        return f"docker://{self.repository}{suffix or ':latest'}"

    def plain_http(self) -> bool:
        """Whether the registry is spoken to without TLS verification (see the module docstring)."""
        if self.host is None:
            return False
        name = self.host.rsplit(":", 1)[0] if not self.host.startswith("[") else self.host.split("]")[0] + "]"
        if name in ("localhost", "[::1]") or re.fullmatch(r"127(?:\.\d{1,3}){3}", name):
            return True
        insecure = {h.strip() for h in os.environ.get(INSECURE_ENV, "").split(",") if h.strip()}
        return self.host in insecure or name in insecure


def parse(text: str, *, where: str | None = None) -> Reference:
    """``text`` as a reference, or an InvalidError saying what a reference looks like."""
    match = _FULL.fullmatch(text)
    host = match["host"] if match else None
    if host is not None and not ("." in host or ":" in host or host == "localhost"):
        host = None  # "team/base": a path on the default registry, its first component lowercase too
        if not re.fullmatch(_COMPONENT, match["host"]):
            match = None
    if match is None:
        raise InvalidError(f"{text!r} is not an image reference", where=where,
                           fix="write it as [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST], NAME in lowercase "
                               "(e.g. nvidia/cuda:12.4.1-runtime-ubuntu22.04 or 127.0.0.1:5000/team/base:v1)")
    path = match["path"] if host or match["host"] is None else f"{match['host']}/{match['path']}"
    return Reference(host=host, path=path, tag=match["tag"], digest=match["digest"])
