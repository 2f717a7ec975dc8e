"""A Poetry project's dependencies, installed from its poetry.lock (Modal's
`Image.poetry_install_from_file`).

    nixbuild build examples/poetry/app.py
    nixbuild run examples/poetry/app.py -- python -c "import attrs, six; print(attrs.__version__, six.__version__)"

poetry.lock here was written by Poetry 2.5.1 (`poetry lock`). nixbuild installs exactly its
pins, each checked against the lock's sha256: the `main` group and the non-optional `dev`
group, not the optional `docs` group (pass `with_=["docs"]`), and not colorama, whose marker
(`sys_platform == "win32"`) is false in the image. `poetry_version=None`: Poetry itself is not
installed in the image (the default, "latest", installs it as Modal does).
"""

from pathlib import Path

import modal

HERE = Path(__file__).parent

image = modal.Image.debian_slim(python_version="3.11").poetry_install_from_file(
    str(HERE / "pyproject.toml"), poetry_version=None
)

app = modal.App("poetry", image=image)


@app.function()
def versions() -> str:
    import attrs
    import six

    return f"attrs {attrs.__version__}, six {six.__version__}"
