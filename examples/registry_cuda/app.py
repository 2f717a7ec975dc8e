"""The GPU app pattern: a CUDA base image from a registry, with python-build-standalone's
Python added (Modal's `add_python`), pinned by digest.

    nixbuild build examples/registry_cuda/app.py
    nixbuild run examples/registry_cuda/app.py -- python -c "import sys, os; print(sys.version, os.environ['CUDA_HOME'])"

The tag is resolved to its linux/amd64 manifest digest when the app is locked; the lock pins
the manifest, config and layer digests, and the base's layers go into the image unchanged.
Its Env (CUDA_HOME, PATH, ...), WorkingDir, Entrypoint, Cmd and Labels are inherited as Docker
does. `CUDA_BASE` picks another base (the tests point it at a stand-in of the same shape on a
registry on 127.0.0.1, since no public registry is reachable from their machines); a private
registry takes REGISTRY_USERNAME/REGISTRY_PASSWORD through `secret=`.
"""

import os

import modal

CUDA_BASE = os.environ.get("CUDA_BASE", "nvidia/cuda:12.4.1-runtime-ubuntu22.04")

image = (
    modal.Image.from_registry(CUDA_BASE, add_python="3.12")
    .pip_install("six")
    .env({"APP_STAGE": "gpu"})
)

app = modal.App("registry-cuda", image=image)


@app.function(gpu="A100")
def info() -> str:
    import sys

    return f"Python {sys.version.split()[0]}, CUDA at {os.environ.get('CUDA_HOME')}"
