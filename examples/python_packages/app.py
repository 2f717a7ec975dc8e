"""Python packages, pinned: each file form Modal accepts, resolved by uv for the image.

    nixbuild lock examples/python_packages/app.py       (run from this folder, or give the paths)
    nixbuild run examples/python_packages/app.py -- python -c "import six, attrs, idna"

Every wheel is pinned in nixbuild.lock (URL, size, sha256) and installed by pypa's installer
with the image's own Python; docopt, published only as an sdist, is built into a wheel in the
Nix sandbox first. uv_sync installs the uv project's locked dependencies into
/.uv/.venv, first on PATH, as Modal does; its uv.lock is made with `uv lock` in uvproj/
(lock files with index URLs are not kept in this repository).
"""

from pathlib import Path

import modal

HERE = Path(__file__).parent

image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install_from_requirements(str(HERE / "requirements.txt"))
    .pip_install_from_pyproject(str(HERE / "proj" / "pyproject.toml"), optional_dependencies=["cli"])
    .uv_sync(str(HERE / "uvproj"))
)

app = modal.App("python-packages", image=image)
