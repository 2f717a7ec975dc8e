"""Quickstart: a Modal app file, unchanged, built locally and reproducibly by nixbuild.

    nixbuild build examples/quickstart/app.py
    nixbuild run examples/quickstart/app.py -- jq --version
"""

import modal

image = (
    modal.Image.debian_slim(python_version="3.11")
    .apt_install("curl", "jq")
    .env({"GREETING": "hello"})
    .workdir("/app")
)

app = modal.App("quickstart", image=image)


@app.function()
def hello() -> str:
    import subprocess

    return subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout
