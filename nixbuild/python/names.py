"""Python project names as package indexes compare them, and as distribution files carry them.

An index treats ``Flask``, ``flask`` and ``FLASK`` as one project (PEP 503 normalization);
lock entries, SBOM purls and "did you mean" suggestions compare names the same way.
"""

from __future__ import annotations

import re

_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz")


def normalize(name: str) -> str:
    """PEP 503: runs of ``-``, ``_`` and ``.`` become one ``-``; lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of_file(filename: str) -> str | None:
    """The project a wheel or sdist file is of (``Flask-3.0.0.tar.gz`` -> ``Flask``), or None
    for any other file. A wheel's name has no ``-`` (PEP 427 escapes it); an sdist's name
    ends at its last ``-``, before the version."""
    if filename.endswith(".whl"):
        return filename.split("-", 1)[0] if filename.count("-") >= 4 else None
    suffix = next((s for s in _SDIST_SUFFIXES if filename.endswith(s)), None)
    if suffix is None or "-" not in filename:
        return None
    return filename[: -len(suffix)].rsplit("-", 1)[0]
