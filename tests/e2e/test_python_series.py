"""Every Python series debian_slim supports is built end to end by some test.

The supported series are read from the code (``PYTHON_DISTRIBUTIONS``), so a series added
there without an e2e image fails here until a session fixture builds one.
"""

from __future__ import annotations

import pytest

from nixbuild.debian.slim import PYTHON_DISTRIBUTIONS

# The session fixture that builds an image of each series (reuse these; each is a real build).
SERIES_IMAGES = {"3.11": "quickstart", "3.13": "trixie"}


@pytest.mark.parametrize("series", sorted(PYTHON_DISTRIBUTIONS))
def test_every_supported_series_has_an_e2e_image(series, request, cli):
    assert series in SERIES_IMAGES, (
        f"Python {series} is supported by debian_slim but no e2e test builds it: add a session fixture "
        f"in tests/e2e/conftest.py that builds a debian_slim(python_version={series!r}) image and name it "
        "in SERIES_IMAGES")
    built = request.getfixturevalue(SERIES_IMAGES[series])
    (image,) = built["lock"]["images"].values()
    assert image["distribution"] == PYTHON_DISTRIBUTIONS[series]
    out = cli("run", built["app"], "--", "python3", "--version").stdout
    assert out.startswith(f"Python {series}.")
