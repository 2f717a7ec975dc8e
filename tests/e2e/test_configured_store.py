"""A chroot store named by Nix's ``store`` setting (``NIX_CONFIG='store = DIR'``, as
../shared/peers/side-by-side.sh builds cold) is the store nixbuild builds in, as ``--store DIR``
is: every pinned file it lacks is downloaded into it, the image is valid there (nix-store, the
oracle, asked in that store), and the digest is the default store's. Before, nixbuild read the
default store's database, found the pins there and downloaded nothing, and the build in the
chroot store failed fetching them.

The image is ``from_scratch`` plus one file: the toolchain and busybox are what it downloads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.conftest import payload

APP = """
import nixbuild
image = nixbuild.Image.from_scratch().add_local_file("data.txt", "/data.txt", copy=True)
"""


def test_a_store_setting_builds_there_as_store_does(cli, tmp_path):
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "data.txt").write_text("one\n")
    [here] = cli.json("build", tmp_path / "app.py", cwd=tmp_path)

    store, cache = tmp_path / "store", tmp_path / "cache"
    env = {"NIX_CONFIG": f"store = {store}", "NIXBUILD_CACHE_DIR": str(cache)}
    proc = cli("build", tmp_path / "app.py", "--json", cwd=tmp_path, env=env)
    assert "downloading" in proc.stderr, proc.stderr
    # The toolchain is built early, beside locking and the downloads (build.py): once, and
    # before the image's build, which finds it there.
    lines = proc.stderr.splitlines()
    toolchain = [i for i, line in enumerate(lines) if "building the toolchain" in line]
    assert len(toolchain) == 1 and toolchain[0] < lines.index("• building image 'image'"), proc.stderr
    [there] = payload(json.loads(proc.stdout))
    assert there["manifest_digest"] == here["manifest_digest"]
    # The layout is read out of the chroot store, as with --store (.nixbuild/store-<key>/).
    assert (Path(there["layout"]) / "index.json").is_file() and "/.nixbuild/store-" in there["layout"]
    valid = subprocess.run(["nix-store", "--store", str(store), "--check-validity", there["store_path"]],
                           capture_output=True, text=True)
    assert valid.returncode == 0, valid.stderr
    # The default store's out-link still points at its own image.
    assert (tmp_path / ".nixbuild" / "image").resolve() == Path(here["store_path"])

    # Never answered from a stamp: the second build in that store runs (and says what it does).
    again = cli("build", tmp_path / "app.py", cwd=tmp_path, env=env)
    assert "building image 'image'" in again.stderr, again.stderr
    assert here["manifest_digest"] in again.stdout
