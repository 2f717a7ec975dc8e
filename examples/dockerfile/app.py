"""An image from a two-stage Dockerfile (Modal's `Image.from_dockerfile`).

    nixbuild build examples/dockerfile/app.py
    nixbuild run examples/dockerfile/app.py

The Dockerfile's ARG before FROM picks the base of both stages (`DOCKERFILE_BASE` here,
through `build_args`); each FROM image is pinned by digest like `from_registry`'s, and the
lines are translated one by one (RUN, ENV, WORKDIR, COPY from `context_dir`, LABEL, EXPOSE,
CMD). The `build` stage is locked and built as a chain of its own (`image.build` in the lock);
the image holds only what `COPY --from=build` takes out of it.
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
