"""--compression zstd: the image takes the gzip image's very tars, zstd-compressed in the
sandbox by the zstd the lock pins; the bytes do not depend on the number of cores; skopeo and a
registry take it as it is.

Oracles: the host's zstd decompresses every blob (and, when it is the version the lock pins,
compresses the tar to the same bytes); skopeo reads the layout and pushes it; the registry
gives back the manifest digest."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

ZSTD_MEDIA = "application/vnd.oci.image.layer.v1.tar+zstd"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _host_zstd_version() -> str:
    out = subprocess.run(["zstd", "--version"], capture_output=True, text=True, check=True).stdout
    return out.split(" v", 1)[1].split(",", 1)[0]


def test_zstd_image_is_the_gzip_images_tars_compressed_reproducibly(quickstart, cli, registry, tmp_path):
    folder = tmp_path / "quickstart"
    shutil.copytree(quickstart["app"].parent, folder, ignore=shutil.ignore_patterns(".nixbuild"))
    app = folder / "app.py"
    (built,) = cli.json("build", app, "--compression", "zstd")
    lock = json.loads((folder / "nixbuild.lock").read_text())
    assert "zstd" in [pin["name"] for pin in lock["bootstrap"]["zstd"]]  # pinned when first needed
    gzip_image = quickstart["built"]
    assert [layer["media_type"] for layer in built["layers"]] == [ZSTD_MEDIA] * len(gzip_image["layers"])
    assert [layer["diff_id"] for layer in built["layers"]] == [layer["diff_id"] for layer in gzip_image["layers"]]
    assert built["manifest_digest"] != gzip_image["manifest_digest"]

    pinned = next(pin["version"] for pin in lock["bootstrap"]["zstd"] if pin["name"] == "zstd")
    same_zstd = pinned.split("+")[0].split("-")[0] == _host_zstd_version()
    blobs = Path(built["layout"]) / "blobs" / "sha256"
    for layer in built["layers"]:
        blob = (blobs / layer["digest"].removeprefix("sha256:")).read_bytes()
        assert _sha256(blob) == layer["digest"]
        tar = subprocess.run(["zstd", "-d", "-c", "-q"], input=blob, capture_output=True, check=True).stdout
        assert _sha256(tar) == layer["diff_id"]
        if same_zstd:  # the same program at the same level gives the same frames, from any thread count
            again = subprocess.run(["zstd", "-q", "-c", "-3", "-T3", "--no-content-size"], input=tar,
                                   capture_output=True, check=True).stdout
            assert again == blob

    # Rebuilt with one core (the build above had them all): the same bytes, or nix-build fails.
    image_drv = subprocess.run(["nix-store", "--query", "--deriver", built["store_path"]], capture_output=True,
                               text=True, check=True).stdout.strip()
    recompressions = [drv for drv in subprocess.run(["nix-store", "--query", "--references", image_drv],
                                                    capture_output=True, text=True, check=True).stdout.split()
                      if drv.endswith("-zstd.drv")]
    assert len(recompressions) == len(built["layers"])
    subprocess.run(["nix-store", "--realise", "--check", "--option", "cores", "1", "--option", "sandbox", "true",
                    "--option", "substituters", "", *recompressions], capture_output=True, text=True, check=True)

    # The registry has the gzip image's blobs (the same tars) first: skopeo, which knows both
    # blobs of each tar, must still push the zstd ones, so that the digest is the built one.
    cli.json("push", quickstart["app"], f"docker://{registry}/zstd-gzip:v1")
    dest = f"docker://{registry}/zstd:v1"
    pushed = cli.json("push", app, dest, "--compression", "zstd")
    assert pushed["digest"] == built["manifest_digest"]
    remote = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", dest],
                                       capture_output=True, text=True, check=True).stdout)
    assert [layer["mediaType"] for layer in remote["layers"]] == [ZSTD_MEDIA] * len(built["layers"])


def test_frozen_build_refuses_a_lock_without_zstd(quickstart, cli, tmp_path):
    folder = tmp_path / "quickstart"
    shutil.copytree(quickstart["app"].parent, folder, ignore=shutil.ignore_patterns(".nixbuild"))
    lock = json.loads((folder / "nixbuild.lock").read_text())
    assert not lock["bootstrap"].get("zstd")
    proc = cli("build", folder / "app.py", "--compression", "zstd", "--frozen", ok=False)
    assert proc.returncode != 0
    assert "the lock pins no zstd, which --compression zstd needs" in proc.stderr
    assert json.loads((folder / "nixbuild.lock").read_text()) == lock  # left as it was


def test_docker_archive_with_zstd_is_refused_before_anything_is_built(quickstart, cli):
    proc = cli("build", quickstart["app"], "--compression", "zstd", "--format", "docker-archive", ok=False)
    assert proc.returncode == 2
    assert "--format docker-archive cannot take --compression zstd" in proc.stderr
