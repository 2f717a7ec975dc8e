"""Fixtures for end-to-end tests: the real CLI, real nix-build, a real registry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.servers import running_registry, serve_folder

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


class Cli:
    """Runs ``nixbuild`` as a user would, in a subprocess."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __call__(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                 ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "nixbuild", *map(str, args)], cwd=cwd,
                              env={**self.env, **(env or {})}, capture_output=True, text=True)
        if ok and proc.returncode != 0:
            raise AssertionError(f"nixbuild {' '.join(map(str, args))} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def json(self, *args: str, **kw) -> object:
        """The payload of ``--json``'s document (``images``, ``checks``, ``push``...), after
        the whole document is validated against the committed schema."""
        return payload(json.loads(self(*args, "--json", **kw).stdout))


SCHEMA = json.loads((ROOT / "schema" / "nixbuild.schema.json").read_text())


def payload(document: dict) -> object:
    """Validate a ``--json`` document against schema/nixbuild.schema.json; its one payload."""
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)
    (key,) = set(document) - {"schema_version", "command", "skipped"}
    return document[key]


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli(dict(os.environ))


def files_holding(secret: str, app: Path, cache: Path) -> list[str]:
    """The places a build of ``app`` (with ``cache`` as NIXBUILD_CACHE_DIR) could keep a
    secret in that hold it: the lock, the cache's files, every .drv of the image's closure."""
    kept = [app.parent / "nixbuild.lock", *(p for p in cache.rglob("*") if p.is_file() and p.stat().st_size < 1 << 24)]
    image = (app.parent / ".nixbuild" / "image").resolve()
    drvs = subprocess.run(["nix-store", "--query", "--deriver", str(image)], capture_output=True, text=True,
                          check=True).stdout.split()
    closure = subprocess.run(["nix-store", "--query", "--requisites", *drvs], capture_output=True, text=True,
                             check=True).stdout.split()
    kept += [Path(p) for p in closure if p.endswith(".drv")]
    return [str(p) for p in kept if secret.encode() in p.read_bytes()]


def copy_example(name: str, dest: Path) -> Path:
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns("nixbuild.lock", ".nixbuild"))
    return dest / "app.py"


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory, cli) -> dict:
    """The quickstart example, copied to a fresh folder, locked and built once per session."""
    app = copy_example("quickstart", tmp_path_factory.mktemp("qs") / "quickstart")
    built = cli.json("build", app)
    assert len(built) == 1
    return {"app": app, "built": built[0], "lock": json.loads((app.parent / "nixbuild.lock").read_text())}


@pytest.fixture(scope="session")
def trixie(tmp_path_factory, cli) -> dict:
    """The Python 3.13 (Debian trixie) image of tests/fixtures/apps/trixie.py, locked and built
    once per session. Every test that needs a trixie image uses this one, so the trixie base
    is built once per run."""
    app = tmp_path_factory.mktemp("trixie") / "app.py"
    shutil.copy(ROOT / "tests" / "fixtures" / "apps" / "trixie.py", app)
    built = cli.json("build", app)
    assert len(built) == 1
    return {"app": app, "built": built[0], "lock": json.loads((app.parent / "nixbuild.lock").read_text())}


@pytest.fixture(scope="session")
def standalone(tmp_path_factory, cli) -> Iterator[dict]:
    """examples/python312: debian_slim(python_version="3.12") on python-build-standalone's
    layout, from a stand-in mirror on 127.0.0.1 (tests/e2e/standalone_mirror.py says what that
    proves), with a uv_pip_install step on it; locked and built once per session. ``env``
    points uv's mirror setting at the stand-in."""
    from standalone_mirror import place, uv_download_url

    folder = tmp_path_factory.mktemp("standalone-mirror")
    with serve_folder(folder) as url:
        mirror = f"{url}/pbs"
        archive = place(folder, uv_download_url("3.12", mirror), url)
        env = {"UV_PYTHON_INSTALL_MIRROR": mirror}
        app = copy_example("python312", tmp_path_factory.mktemp("standalone") / "python312")
        built = cli.json("build", app, env=env)
        assert len(built) == 1
        yield {"app": app, "built": built[0], "lock": json.loads((app.parent / "nixbuild.lock").read_text()),
               "archive": archive, "env": env, "mirror": mirror}


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Iterator[str]:
    """A registry shared by the session's tests (each pushes to its own repository)."""
    with running_registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


def umoci_bundle(source_layout: str | Path, layout: Path, bundle: Path) -> Path:
    """``source_layout``'s ``latest`` copied to ``layout`` (tag ``base``) and unpacked by umoci
    (an independent tool) into ``bundle``, to be changed and repacked; its rootfs."""
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{source_layout}:latest", f"oci:{layout}:base"],
                   check=True, capture_output=True)
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:base", str(bundle)], check=True,
                   capture_output=True)
    return bundle / "rootfs"
