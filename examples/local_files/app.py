"""Your own files and shell commands in an image, as in Modal.

    nixbuild build examples/local_files/app.py     (run from this folder or give paths as here)
    nixbuild run examples/local_files/app.py -- sh -c 'cd /root && python -c "import mypkg; print(mypkg.greet())"'


run_commands steps run hermetically, as fake root, in a chroot of the image built so far,
inside the Nix sandbox (no network). Files added with copy=False (the default) go into the
last layers, so an edit of mypkg rebuilds only its layer.
"""

from pathlib import Path

import modal

HERE = Path(__file__).parent

image = (
    modal.Image.debian_slim(python_version="3.11")
    .run_commands(
        "mkdir -p /data && echo one > /data/keep && echo two > /data/drop",
        "rm /etc/motd",
    )
    .add_local_dir(HERE / "static", "/srv/static", ignore=["*.tmp", "cache"], copy=True)
    .workdir("/srv")
    .run_commands("rm /data/drop && echo changed >> /data/keep && cp static/index.html /data/copied")
    .add_local_python_source("mypkg")
)

app = modal.App("local-files", image=image)


@app.function()
def hello() -> str:
    import mypkg

    return mypkg.greet()
