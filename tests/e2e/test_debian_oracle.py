"""Images against the same pinned packages installed by real dpkg with every maintainer script
run (tests/e2e/debian_oracle.py): the debian_slim base alone, the quickstart (the base + curl
jq), a scientific set and a set with system groups and debconf-configured files. Each
difference not in debian_oracle.INTENDED fails the test, naming the file."""

from __future__ import annotations

import glob
import json
import shutil
import tarfile
from pathlib import Path

import pytest

import debian_oracle as oracle

pytestmark = [pytest.mark.nix, pytest.mark.slow]


def pinned_debs(lock: dict, steps: int | None = None) -> tuple[list[Path], list[str]]:
    """The .debs of every step of the lock (the first ``steps``), as Nix fetched them for the build."""
    packages = [p for step in lock["images"]["image"]["steps"][:steps] for p in step["packages"]]
    debs = []
    for p in packages:
        store_name = Path(p["path"]).name.replace("~", "_").replace(":", "_").replace("%", "_")
        (found,) = glob.glob(f"/nix/store/*-{store_name}")
        debs.append(Path(found))
    return debs, sorted({p["name"] for p in packages})


def image_and_debian(built: dict, tmp_path: Path, base_only: bool = False) -> tuple[dict, dict]:
    """The image's package layers as a tree, and the same pinned packages installed by dpkg
    (mmdebstrap, every maintainer script run, the image's own slim filters). ``base_only``:
    the base layer and the base step's packages alone."""
    layers = oracle.image_layers(Path(built["built"]["store_path"]))
    package_layers = [blob for history, blob in layers if "pip install" not in history][:1 if base_only else None]
    with tarfile.open(package_layers[0]) as tar:
        slim = tar.extractfile("etc/dpkg/dpkg.cfg.d/docker").read().decode()
    assert "path-exclude /usr/share/doc/*" in slim
    debs, names = pinned_debs(built["lock"], 1 if base_only else None)
    work = oracle.scratch(tmp_path)
    try:
        root = oracle.mmdebstrap(debs, names, slim, "bookworm", work)
        debian = oracle.tree_of_root(root)
    finally:
        if work != tmp_path:
            shutil.rmtree(work)
    return oracle.tree_of_layers(package_layers), debian


def assert_no_differences(ours: dict, debian: dict) -> None:
    found = oracle.differences(ours, debian)
    assert not found, f"{len(found)} unintended differences:\n" + "\n".join(found[:200])


def test_debian_slim_base_matches_debian(quickstart, tmp_path):
    ours, debian = image_and_debian(quickstart, tmp_path, base_only=True)
    assert "usr/bin/python3.11" in debian and "usr/bin/jq" not in debian  # the base's set, alone
    assert_no_differences(ours, debian)


def test_quickstart_matches_debian(quickstart, tmp_path):
    ours, debian = image_and_debian(quickstart, tmp_path)
    # The oracle itself honoured the slim rules (or every doc would be a difference).
    assert "usr/share/doc/jq/copyright" in debian and not any(p.startswith("usr/share/man/") for p in debian)
    assert_no_differences(ours, debian)


# What the quickstart set lacks: BLAS and LAPACK chosen through alternatives, whose libraries
# the dynamic loader finds through ld.so.cache (python3-numpy pulls libblas3, liblapack3).
SCIENTIFIC = ["python3-numpy"]


def built_set(tmp_path_factory, cli, packages: list[str]) -> dict:
    """debian_slim 3.11 with ``packages`` apt-installed, built."""
    app = tmp_path_factory.mktemp("oracle-sets") / "app.py"
    app.write_text("import modal\n"
                   "image = modal.Image.debian_slim(python_version='3.11').apt_install("
                   + ", ".join(repr(p) for p in packages) + ")\n")
    (built,) = cli.json("build", app)
    return {"app": app, "built": built, "lock": json.loads((app.parent / "nixbuild.lock").read_text())}


@pytest.fixture(scope="module")
def scientific(tmp_path_factory, cli) -> dict:
    return built_set(tmp_path_factory, cli, SCIENTIFIC)


def test_scientific_set_matches_debian(scientific, cli, tmp_path):
    ours, debian = image_and_debian(scientific, tmp_path)
    assert "etc/alternatives/libblas.so.3-x86_64-linux-gnu" in debian  # the set has what it is for
    assert_no_differences(ours, debian)
    # BLAS through its alternative, found by the dynamic loader as numpy needs it
    out = cli("run", scientific["app"], "--", "python3", "-c",
              "import numpy; print(round(float(numpy.linalg.det(numpy.eye(3) * 2)), 6))").stdout
    assert out.strip() == "8.0"


# System users and groups, setgid programs, debconf-configured files and man-page alternatives:
# openssh-client (the _ssh group, ssh-agent setgid through dpkg-statoverride), postgresql-client
# (psql's man pages chosen through alternatives), tzdata (/etc/localtime, /etc/timezone from
# debconf's default), locales (/etc/locale.gen, /etc/default/locale written by its postinst).
SERVICES = ["openssh-client", "postgresql-client", "tzdata", "locales"]


@pytest.fixture(scope="module")
def services(tmp_path_factory, cli) -> dict:
    return built_set(tmp_path_factory, cli, SERVICES)


def test_services_set_matches_debian(services, tmp_path):
    ours, debian = image_and_debian(services, tmp_path)
    assert "usr/bin/ssh-agent" in debian and "etc/locale.gen" in debian
    assert_no_differences(ours, debian)
