"""What ``Image.debian_slim(python_version)`` is made of, and the build toolchain.

Modal's debian_slim is ``python:X.Y-slim-<codename>`` plus gcc, gfortran and build-essential.
nixbuild builds the same kind of image from Debian's own packages only, so that every byte is
pinned: the minbase set (what Debian's official ``*-slim`` images hold), Debian's Python with
pip, venv and headers, ``python`` on PATH (python-is-python3), a C/C++/Fortran toolchain, CA
certificates, netbase and tzdata; then, as Modal's ``pip install --upgrade pip wheel uv``, the
current pip, wheel and uv from the package index, pinned in the lock (so pip and uv work in
the image at runtime). A Python series maps to the Debian release that ships it.
"""

from __future__ import annotations

from nixbuild.errors import InvalidError

PYTHON_DISTRIBUTIONS = {"3.11": "bookworm", "3.13": "trixie"}

BASE_PACKAGES = [
    "python3", "python3-pip", "python3-venv", "python3-dev", "python-is-python3",
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


def distribution_for(series: str, *, requested: str | None) -> str:
    """The Debian release for a Python series, or Modal-style errors naming what is supported."""
    try:
        return PYTHON_DISTRIBUTIONS[series]
    except KeyError:
        supported = ", ".join(sorted(PYTHON_DISTRIBUTIONS))
        if requested is None:
            message = (f"Python {series} is not supported by nixbuild's debian_slim. Since `python_version` "
                       f"was not set, nixbuild tried to match your local Python ({series}).")
        else:
            message = f"Unsupported Python version: {requested!r}."
        raise InvalidError(
            f"{message} Supported series: {supported} (Debian's own Python: "
            + ", ".join(f"{s} from {d}" for s, d in sorted(PYTHON_DISTRIBUTIONS.items())) + ").",
            fix=f"use debian_slim(python_version=\"{min(PYTHON_DISTRIBUTIONS)}\") or another supported series",
        ) from None
