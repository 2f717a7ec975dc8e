"""pip steps with ``secrets=`` (or ``env=``, Modal's per-step secret): the package index
settings they carry, used at lock time and for the downloads, and stored nowhere.

Modal runs ``pip install`` with the secret's variables, so apps put pip's settings there:
``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL``, ``PIP_FIND_LINKS`` (uv's own ``UV_INDEX_URL``,
``UV_EXTRA_INDEX_URL``, ``UV_FIND_LINKS`` work too), typically with the login in the URL
(``https://user:token@host/simple``).

- Lock time: uv resolves with those settings (:func:`uv_env`). The pinned file URLs are
  stored without their login (:func:`public`); a pin whose URL still holds a secret value
  (a token in the path) is refused, since the lock would keep it.
- Build time: Nix cannot send the login, so the CLI downloads each of the step's files itself,
  with the login of its host as HTTP basic auth (:func:`headers_for`), checks it against the
  lock's sha256 and puts it into the store under the name the Nix library gives it
  (:func:`seed`), as it does registry blobs.
- Any other variable of those secrets has no effect on a pip step (its files are installed, no
  command of the user's runs): each is named in a warning.
"""

from __future__ import annotations

import base64
import tempfile
import urllib.parse
from pathlib import Path

from nixbuild.errors import InvalidError
from nixbuild.python.resolve import FilePin
from nixbuild.store.pinned_debs import flat_path
from nixbuild.tools import nixcmd
from nixbuild.tools.download import fetch_verified
from nixbuild.warn import warn

UV_NAMES = {"PIP_INDEX_URL": "UV_INDEX_URL", "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
            "PIP_FIND_LINKS": "UV_FIND_LINKS"}
INDEX_KEYS = frozenset({*UV_NAMES, *UV_NAMES.values()})


def uv_env(values: dict[str, str], where: str) -> dict[str, str]:
    """uv's environment for the index settings among ``values``; the other keys are named."""
    others = sorted(set(values) - INDEX_KEYS)
    if others:
        warn(f"{where}: secrets/env keys {', '.join(others)} are ignored: a pip step's packages are resolved at "
             "lock time and installed from their files; only the index settings "
             f"({', '.join(sorted(UV_NAMES))}) are used")
    return {UV_NAMES.get(key, key): value for key, value in values.items() if key in INDEX_KEYS}


def public(url: str) -> str:
    """``url`` without its login."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))


def _logins(values: dict[str, str]) -> dict[str, tuple[str, str]]:
    """host[:port] -> (user, password) from the index URLs among ``values``."""
    found = {}
    for key in INDEX_KEYS & set(values):
        for url in values[key].split():
            parts = urllib.parse.urlsplit(url)
            if parts.username is not None:
                host = parts.hostname + (f":{parts.port}" if parts.port else "")
                found[host] = (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
    return found


def headers_for(url: str, values: dict[str, str]) -> dict[str, str]:
    parts = urllib.parse.urlsplit(url)
    login = _logins(values).get(parts.hostname + (f":{parts.port}" if parts.port else ""))
    if login is None:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()}


def stored(pins: list[FilePin], values: dict[str, str], where: str) -> list[FilePin]:
    """The pins as the lock keeps them: their URLs without a login, and none holding a
    password of the step's index URLs (a token in an index URL's path is not one nixbuild can
    tell from a folder name: it belongs in the login, as the fix says)."""
    out = [pin.model_copy(update={"url": public(pin.url)}) for pin in pins]
    passwords = [password for _, password in _logins(values).values() if len(password) >= 4]
    for pin in out:
        if any(password in urllib.parse.unquote(pin.url) for password in passwords):
            raise InvalidError(f"the URL of {pin.filename} holds the password of the step's index login, which "
                               "the lock would keep", where=where,
                               fix="serve files from URLs without the token, or give the token only in the "
                                   "index URL's login (https://user:TOKEN@host/simple)")
    return out


def seed(pins: list[FilePin], values: dict[str, str], cache_dir: Path, store: str | None) -> None:
    """Each file of ``pins`` in the store under its Nix name, downloaded with the login."""
    for pin in pins:
        name = nixcmd.store_name(pin.filename)
        if nixcmd.is_valid(flat_path(name, pin.sha256), store):
            continue
        with tempfile.TemporaryDirectory(prefix="index-", dir=cache_dir) as tmp:
            path = fetch_verified(pin.url, pin.sha256, Path(tmp) / name, headers=headers_for(pin.url, values),
                                  fix="check the index settings in the step's secrets")
            nixcmd.add_fixed(path, store)
