"""apt_install on an Ubuntu registry base: its own apt sources' suites, from the configured mirror.

A stand-in: no Ubuntu archive and no public registry is reachable from these machines, so the
base is an image nixbuild built, made Ubuntu-like with umoci (os-release, apt sources, the
archive keyring: tests/e2e/ubuntu_archive.py), served by Debian's docker-registry on
127.0.0.1, and the archive is a signed one on 127.0.0.1 holding two .debs made with dpkg-deb.
What it proves: the suites and components come from the base's apt sources (a vendor's entry
is not read), every suite from NIXBUILD_UBUNTU_MIRROR, signatures checked against the keyring
the base ships (found through its trusted.gpg.d link), the base's dpkg status taken as
installed (libc6 is not pulled), the lock pinning the .debs by path and sha256 under the
archive ``ubuntu``, the build fetching them from the mirror, dpkg in the image knowing them,
another mirror building the same image, and an unset mirror being exit 4 naming the setting.
Not proven: Ubuntu's real archive, keyring and packages.
"""

from __future__ import annotations

import json

import pytest

from conftest import running_registry
from test_registry_base import push, write_app
from tests.debian.test_index import signing  # noqa: F401 (a fixture: the throw-away signing key)
from tests.servers import serve_folder
from ubuntu_archive import CODENAME, base_layout, publish

MIRROR = "NIXBUILD_UBUNTU_MIRROR"


@pytest.fixture(scope="module")
def ubuntu(quickstart, signing, tmp_path_factory):  # noqa: F811
    """The stand-in base in a registry and the stand-in archive: the reference, the mirror's
    URL and the .debs it holds."""
    gnupg, keyring = signing
    work = tmp_path_factory.mktemp("ubuntu-base")
    layout = base_layout(quickstart["built"]["layout"], work, keyring)
    archive = work / "archive"
    debs = publish(archive, work, gnupg)
    (work / "registry").mkdir()
    with running_registry(work / "registry") as address, serve_folder(archive, f"dists/{CODENAME}/InRelease") as url:
        push(str(layout), CODENAME, f"{address}/stand-in/ubuntu:22.04")
        yield {"reference": f"{address}/stand-in/ubuntu:22.04", "mirror": url, "debs": debs, "archive": archive}


def test_apt_install_on_an_ubuntu_base_resolves_against_its_own_apt_sources(cli, ubuntu, tmp_path):
    app = write_app(tmp_path / "app", f"image = modal.Image.from_registry({ubuntu['reference']!r})"
                                      ".apt_install('stand-in-hello')")
    unset = cli("lock", app, env={MIRROR: ""}, ok=False)
    assert unset.returncode == 4 and MIRROR in unset.stderr, unset.stderr
    assert "apt source https://vendor.example.com/repo / (/etc/apt/sources.list.d/vendor.list)" in unset.stderr
    env = {MIRROR: ubuntu["mirror"]}
    (built,) = cli.json("build", app, env=env)
    image = json.loads((app.parent / "nixbuild.lock").read_text())["images"]["image"]
    pins = image["steps"][1]["packages"]
    assert [(p["name"], p["archive"], p["path"], p["sha256"]) for p in pins] == sorted(
        (d["name"], "ubuntu", d["path"], d["sha256"]) for d in ubuntu["debs"])
    assert [(s["archive"], s["suite"], s["component"]) for s in image["snapshots"]] == [
        ("ubuntu", suite, component) for suite in (CODENAME, f"{CODENAME}-updates", f"{CODENAME}-security")
        for component in ("main", "universe")]
    assert ubuntu["mirror"].split("//")[1] not in (app.parent / "nixbuild.lock").read_text()
    ran = cli("run", app, "--", "sh", "-c", "stand-in-hello && dpkg-query -W -f '${Package} ${Status}\\n' "
                                            "stand-in-hello stand-in-lib libc6 jq", env=env)
    lines = ran.stdout.splitlines()
    assert lines[0] == "hello from stand-in-lib", ran.stdout
    assert sorted(lines[1:]) == [f"{p} install ok installed" for p in ("jq", "libc6", "stand-in-hello",
                                                                     "stand-in-lib")]
    # The lock names no mirror: another one serving the same archive builds the same image.
    with serve_folder(ubuntu["archive"], f"dists/{CODENAME}/InRelease") as other:
        (again,) = cli.json("build", app, env={MIRROR: other})
    assert again["manifest_digest"] == built["manifest_digest"]
