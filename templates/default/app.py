"""The image of this repository: build it with `nix build .#image` (see flake.nix).

After editing it: `nixbuild lock app.py` and `nixbuild plan app.py --flake-root .`, then
commit app.py, nixbuild.lock and image.json.
"""

import modal

image = (
    modal.Image.debian_slim(python_version="3.11")
    .apt_install("curl")
    .add_local_dir("src", "/app/src")
    .workdir("/app")
)

app = modal.App("example", image=image)
