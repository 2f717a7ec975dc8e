"""The registry secret of a registry step, as skopeo's credentials.

Modal's key sets (semantics §3): ``REGISTRY_USERNAME`` + ``REGISTRY_PASSWORD`` (static);
``SERVICE_ACCOUNT_JSON`` (GCP Artifact Registry, which takes the key itself as the password of
the user ``_json_key``); AWS keys (ECR). ECR's token exchange is a signed call to the AWS API,
which nixbuild does not make: an ECR pull takes the token ``aws ecr get-login-password``
prints, as a static secret with user ``AWS``.

The values reach skopeo only, never the lock, a spec, the store or a log: in an auth file
(mode 0600, in a private temporary folder removed when the call returns) keyed by the
reference's host; for a reference to the default registry, whose key only skopeo knows, on its
``--creds`` option.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nixbuild.api.steps import FromRegistry
from nixbuild.errors import InvalidError

STATIC_KEYS = ("REGISTRY_USERNAME", "REGISTRY_PASSWORD")
GCP_KEY = "SERVICE_ACCOUNT_JSON"
GCP_USER = "_json_key"
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ROLE_ARN")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never printed, whatever prints it
        return f"Credentials(username={self.username!r}, password=<hidden>)"


def of_step(step: FromRegistry, where: str) -> Credentials | None:
    """The step's credentials (None: an anonymous pull)."""
    if step.registry_secret is None:
        return None
    values = step.registry_secret.resolve()
    if step.registry_auth == "gcp" or (step.registry_auth is None and GCP_KEY in values):
        if GCP_KEY not in values:
            raise InvalidError(f"the registry secret has no {GCP_KEY}", where=where,
                               fix=f"put the service account's JSON key in the secret as {GCP_KEY}")
        return Credentials(GCP_USER, values[GCP_KEY])
    if all(key in values for key in STATIC_KEYS):
        return Credentials(values[STATIC_KEYS[0]], values[STATIC_KEYS[1]])
    if step.registry_auth == "aws" or any(key in values for key in AWS_KEYS):
        raise InvalidError(
            "pulling from ECR with AWS keys needs AWS's token exchange, which nixbuild does not make",
            where=where,
            fix="put REGISTRY_USERNAME=AWS and REGISTRY_PASSWORD=<the output of `aws ecr get-login-password "
                "--region REGION`> in the secret instead")
    raise InvalidError(f"the registry secret has none of the keys a registry login needs (it has "
                       f"{', '.join(sorted(values)) or 'none'})", where=where,
                       fix=f"give it {' and '.join(STATIC_KEYS)} (or {GCP_KEY} for GCP Artifact Registry)")


@contextlib.contextmanager
def skopeo_options(credentials: Credentials | None, host: str | None) -> Iterator[Callable[[str], list[str]]]:
    """While open, a function giving skopeo's options for these credentials, with a prefix
    (``src-`` for ``copy``, ``""`` for ``inspect``): an auth file for ``host``, or ``--creds``
    when the reference names the default registry (whose key in an auth file only skopeo knows)."""
    if credentials is None:
        yield lambda _prefix="": []
        return
    if host is None:
        yield lambda prefix="": [f"--{prefix}creds", f"{credentials.username}:{credentials.password}"]
        return
    with tempfile.TemporaryDirectory(prefix="nixbuild-auth-") as folder:
        path = os.path.join(folder, "auth.json")
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"auths": {host: {"auth": token}}}, f)
        yield lambda prefix="": [f"--{prefix}authfile", path]
