"""Layouts as written here are accepted by skopeo and umoci, the tools nixbuild relies on.

These tools are part of the test environment: a missing one fails the test, it does not skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from nixbuild.oci.layout import OciLayout

from .layouts import APP, BASE, write_layout


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; these tests need it (apt-get install {name})")
    return path


def _run(*argv: str) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}"
    )
    return result.stdout


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return write_layout(tmp_path / "image", [BASE, APP], blob_store=tmp_path / "store")


def test_skopeo_inspects_the_layout(image: Path) -> None:
    skopeo = _tool("skopeo")
    layout = OciLayout(image)
    manifest = layout.manifest("latest")
    info = json.loads(_run(skopeo, "inspect", f"oci:{image}:latest"))
    assert info["Digest"] == layout.manifests()[0].digest
    assert info["Layers"] == [layer.digest for layer in manifest.layers]
    assert (info["Architecture"], info["Os"]) == ("amd64", "linux")
    assert info["Env"] == ["PATH=/usr/bin:/bin"]
    raw = json.loads(_run(skopeo, "inspect", "--raw", f"oci:{image}:latest"))
    assert raw == json.loads(layout.read_blob(layout.manifests()[0]))


def test_umoci_unpacks_the_layout(image: Path, tmp_path: Path) -> None:
    umoci = _tool("umoci")
    bundle = tmp_path / "bundle"
    _run(umoci, "unpack", "--rootless", "--image", f"{image}:latest", str(bundle))
    rootfs = bundle / "rootfs"
    assert (rootfs / "etc" / "os-release").read_bytes() == b"ID=test\n"
    assert (rootfs / "app" / "main.py").read_bytes() == b"print('hello')\n"
    assert (rootfs / "bin").is_symlink() and (rootfs / "bin").readlink() == Path("usr/bin")
    assert (rootfs / "usr" / "bin" / "tool").stat().st_mode & 0o777 == 0o755
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["args"] == ["/bin/sh"]
