"""Every Python series debian_slim supports is built end to end by some test.

The supported series are read from the code: each series with Debian's own Python
(``PYTHON_DISTRIBUTIONS``) needs an image of its own (each is another Debian release), and
the python-build-standalone series (``STANDALONE_SERIES``) one image for the mechanism they
share (tests/python/test_standalone.py holds that uv knows a build of every one of them).
A series added without an e2e image fails here until a session fixture builds one.
"""

from __future__ import annotations

import pytest
from standalone_mirror import host_version

from nixbuild.debian.slim import PYTHON_DISTRIBUTIONS, STANDALONE_DISTRIBUTION

# The session fixture that builds an image of each (reuse these; each is a real build).
SERIES_IMAGES = {"3.11": "quickstart", "3.13": "trixie", "standalone": "standalone"}


@pytest.mark.parametrize("series", [*sorted(PYTHON_DISTRIBUTIONS), "standalone"])
def test_every_supported_series_has_an_e2e_image(series, request, cli):
    assert series in SERIES_IMAGES, (
        f"Python {series} is supported by debian_slim but no e2e test builds it: add a session fixture "
        f"in tests/e2e/conftest.py that builds a debian_slim(python_version={series!r}) image and name it "
        "in SERIES_IMAGES")
    built = request.getfixturevalue(SERIES_IMAGES[series])
    (image,) = built["lock"]["images"].values()
    out = cli("run", built["app"], "--", "python3", "--version", env=built.get("env")).stdout
    if series == "standalone":  # the stand-in archive's interpreter (standalone_mirror.py)
        assert image["distribution"] == STANDALONE_DISTRIBUTION and out.strip() == host_version()
    else:
        assert image["distribution"] == PYTHON_DISTRIBUTIONS[series]
        assert out.startswith(f"Python {series}.")
