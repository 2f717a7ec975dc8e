"""An image from a Dockerfile (Modal's `Image.from_dockerfile`).

    nixbuild build examples/dockerfile/app.py
    nixbuild run examples/dockerfile/app.py

The Dockerfile's ARG before FROM picks the base (`DOCKERFILE_BASE` here, through
`build_args`); the FROM image is pinned by digest like `from_registry`'s, and the lines after
it are translated one by one (RUN, ENV, WORKDIR, COPY from `context_dir`, LABEL, EXPOSE, CMD).
A multi-stage Dockerfile is refused for now.
"""

import os
from pathlib import Path

import modal

HERE = Path(__file__).parent
build_args = {"GREETING": "hi"}
if "DOCKERFILE_BASE" in os.environ:
    build_args["BASE"] = os.environ["DOCKERFILE_BASE"]

image = modal.Image.from_dockerfile(HERE / "Dockerfile", context_dir=HERE, build_args=build_args)

app = modal.App("dockerfile", image=image)


@app.function()
def hello() -> str:
    return (Path("/srv/greeting.txt")).read_text()
