"""What ``Image.micromamba`` starts from, as Modal builds it.

Modal's base is ``mambaorg/micromamba`` (a Debian bookworm-slim userland with micromamba, its
root prefix /opt/conda) plus ``micromamba install -n base -y python={ver} pip -c conda-forge``.
nixbuild makes the same from pinned inputs: the Debian part is the minbase set debian_slim
starts from (nixbuild.debian.resolver.minbase) with ca-certificates and without Debian's
Python; the prefix holds python and pip from the channel, linked at build time
(nix/builders/conda_layer.py), so the micromamba binary itself is not needed and not in the
image.
"""

from __future__ import annotations

from nixbuild.debian.slim import BASE_ENV

DISTRIBUTION = "bookworm"
PREFIX = "/opt/conda"
# Beyond minbase: what the image's TLS clients need to trust anything.
DEBIAN_PACKAGES = ["ca-certificates"]
# Unpacks .conda packages in the build sandbox (not installed in the image).
TOOL_PACKAGES = ["zstd"]
CHANNELS = ("conda-forge",)
# mambaorg/micromamba's environment: the base prefix first on PATH.
ENV = {"PATH": f"{PREFIX}/bin:{BASE_ENV['PATH']}", "MAMBA_ROOT_PREFIX": PREFIX}


def specs(python_version: str) -> list[str]:
    """Modal's ``micromamba install -n base -y python={ver} pip``."""
    return [f"python={python_version}", "pip"]


def python_series(version: str) -> str:
    """``3.11.9`` -> ``3.11``: the lib/pythonX.Y that noarch:python packages go into."""
    return ".".join(version.split(".")[:2])
