"""A python_version nixbuild cannot build is refused before anything is resolved, and the
error names the image and its base step (Modal too checks the version only at build time)."""

from __future__ import annotations

import pytest

from nixbuild import locking
from nixbuild.chain import distribution_of, require_supported
from nixbuild.errors import InvalidError
from nixbuild.loader import load_images


def load(tmp_path, version: str):
    app = tmp_path / "app.py"
    app.write_text(f"import modal\n\nweb = modal.Image.debian_slim(python_version={version!r}).apt_install('git')\n")
    return load_images(app)


@pytest.mark.parametrize(("version", "message"), [
    ("3.9", "Unsupported Python version: '3.9'. Supported series: 3.10, 3.11, 3.12, 3.13, 3.14, 3.15"),
    ("py3", "Invalid Python version: 'py3'"),
    ("3.13t", "Free threaded Python is not supported with Image.debian_slim"),
])
def test_the_error_names_the_image_and_step(tmp_path, version, message):
    images = load(tmp_path, version)  # defining it is fine: the check is lazy
    with pytest.raises(InvalidError) as info:
        require_supported("web", images["web"])
    assert info.value.where == "image 'web', step 0 debian_slim"
    assert info.value.message.startswith(message)
    assert str(info.value).startswith(f"image 'web', step 0 debian_slim: {message}")


def test_locking_names_the_image_before_any_download(tmp_path):
    images = load(tmp_path, "3.9")
    with pytest.raises(InvalidError) as info:
        locking.lock(images, None, settings=None)  # type: ignore[arg-type]  (never reached)
    assert info.value.where == "image 'web', step 0 debian_slim"


def test_without_a_name_the_error_is_unchanged(tmp_path):
    with pytest.raises(InvalidError) as info:
        distribution_of(load(tmp_path, "3.9")["web"])
    assert info.value.where is None


def test_a_supported_version_gives_its_debian_release(tmp_path):
    assert distribution_of(load(tmp_path, "3.11")["web"], "web") == "bookworm"
