"""What ``Image.debian_slim(python_version)`` is made of, and the build toolchain.

Modal's debian_slim is ``python:X.Y-slim-<codename>`` plus gcc, gfortran and build-essential.
nixbuild builds the same kind of image from Debian's own packages only, so that every byte is
pinned: the minbase set (what Debian's official ``*-slim`` images hold), Debian's Python with
venv and headers, ``python`` on PATH (python-is-python3), a C/C++/Fortran toolchain, CA
certificates, netbase and tzdata; then, as Modal's ``pip install --upgrade pip wheel uv``, the
current pip, wheel and uv from the package index, pinned in the lock (so pip and uv work in
the image at runtime). That step is the image's one pip: Debian's python3-pip (and the
python3-wheel it pulls in) would only sit shadowed under /usr/local's newer pip, 13 MiB that
nothing runs and image scanners report; setuptools stays where the official image of the
series has it (before 3.12, ensurepip installed it). A Python series maps to the Debian release that ships it; a series
Debian does not ship (3.10, 3.12, 3.14, 3.15) is python-build-standalone's build under
/usr/local on bookworm (:mod:`nixbuild.python.standalone`), as Modal's python:X-slim-bookworm
images have their Python under /usr/local, and Debian's own python3 packages are left out.
"""

from __future__ import annotations

from nixbuild.errors import InvalidError

# Series with Debian's own Python, and the release that ships it.
PYTHON_DISTRIBUTIONS = {"3.11": "bookworm", "3.13": "trixie"}
# Series whose Python is python-build-standalone's, on this release (Modal's: bookworm).
STANDALONE_SERIES = ("3.10", "3.12", "3.14", "3.15")
STANDALONE_DISTRIBUTION = "bookworm"

DEBIAN_PYTHON_PACKAGES = ["python3", "python3-venv", "python3-dev", "python-is-python3"]
# The official python:X-slim images hold setuptools for these series only (Python 3.12 dropped
# it from ensurepip); Debian's comes without pip.
SETUPTOOLS_SERIES = ("3.10", "3.11")
BASE_PACKAGES = [
    *DEBIAN_PYTHON_PACKAGES,
    "ca-certificates", "netbase", "tzdata",
    "build-essential", "gcc", "g++", "gfortran", "make",
]

# Installed from the package index on top of the Debian packages, as Modal's base does.
BASE_PYTHON_TOOLS = ["pip", "wheel", "uv"]

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}

# The toolchain that runs nixbuild's builder scripts inside the Nix sandbox (nix/bootstrap.nix).
TOOL_DISTRIBUTION = "bookworm"
TOOL_PYTHON_PACKAGES = ["python3.11-minimal", "libpython3.11-stdlib"]
TOOL_BUSYBOX_PACKAGE = "busybox-static"


def is_standalone(series: str) -> bool:
    """Whether the series' Python is python-build-standalone's (Debian ships no such python3)."""
    return series in STANDALONE_SERIES


# What the official python:X-slim-bookworm images (Modal's debian_slim) hold for their Python
# under /usr/local: the shared libraries it is built against. python-build-standalone needs
# none of them, but programs and wheels in those images find them there.
STANDALONE_RUNTIME = ["libexpat1", "libsqlite3-0", "libssl3", "libffi8", "libbz2-1.0", "liblzma5",
                      "libncursesw6", "libreadline8", "libuuid1", "zlib1g"]


def base_packages(series: str) -> list[str]:
    """The Debian packages of debian_slim for ``series`` (standalone: no Debian Python, the
    runtime libraries of the official slim images instead)."""
    if is_standalone(series):
        return [*(p for p in BASE_PACKAGES if p not in DEBIAN_PYTHON_PACKAGES), *STANDALONE_RUNTIME]
    return [*BASE_PACKAGES, *(["python3-setuptools"] if series in SETUPTOOLS_SERIES else [])]


def supported_series() -> list[str]:
    return sorted([*PYTHON_DISTRIBUTIONS, *STANDALONE_SERIES], key=lambda s: tuple(map(int, s.split("."))))


def distribution_for(series: str, *, requested: str | None) -> str:
    """The Debian release for a Python series, or Modal-style errors naming what is supported."""
    if is_standalone(series):
        return STANDALONE_DISTRIBUTION
    try:
        return PYTHON_DISTRIBUTIONS[series]
    except KeyError:
        supported = ", ".join(supported_series())
        if requested is None:
            message = (f"Python {series} is not supported by nixbuild's debian_slim. Since `python_version` "
                       f"was not set, nixbuild tried to match your local Python ({series}).")
        else:
            message = f"Unsupported Python version: {requested!r}."
        raise InvalidError(
            f"{message} Supported series: {supported} (Debian's own Python: "
            + ", ".join(f"{s} from {d}" for s, d in sorted(PYTHON_DISTRIBUTIONS.items()))
            + f"; python-build-standalone's on {STANDALONE_DISTRIBUTION} for the others).",
            fix=f"use debian_slim(python_version=\"{min(PYTHON_DISTRIBUTIONS)}\") or another supported series",
        ) from None
