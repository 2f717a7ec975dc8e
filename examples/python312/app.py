"""A Python 3.12 app: Modal's most used series, which Debian does not ship.

    nixbuild build examples/python312/app.py
    nixbuild run examples/python312/app.py -- python -c "import attrs, sys; print(sys.version)"

debian_slim(python_version="3.12") is bookworm with python-build-standalone's CPython 3.12
under /usr/local, as in Modal's python:3.12-slim-bookworm base: uv names the build, the lock
pins its release, file and sha256, and it is downloaded from UV_PYTHON_INSTALL_MIRROR (else
uv's default). Python packages are resolved for 3.12.
"""

import modal

image = modal.Image.debian_slim(python_version="3.12").uv_pip_install("attrs")

app = modal.App("python312", image=image)


@app.function()
def hello() -> str:
    import sys

    import attrs

    return f"Python {sys.version.split()[0]}, attrs {attrs.__version__}"
