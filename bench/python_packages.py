"""Python packages: nixbuild's lock and cold build against `uv pip install` of the same set
into a fresh venv, measured in one run, for wheels (numpy + requests) and for sdist-only
packages (docopt, pure Python; netifaces, a C extension).

    .venv/bin/python bench/python_packages.py

Peer: `uv venv` + `uv pip install ...` on this machine with an empty uv cache (the same uv
nixbuild pins; for sdists it builds them, with build isolation, as nixbuild does). nixbuild:
`nixbuild lock` of an app with `debian_slim().uv_pip_install(...)` (Debian index and base
resolved before, as after any earlier lock), then a cold build of that step's layer in a
fresh, empty Nix store (`--store DIR`: files downloaded, sdists compiled, installer run in
the image's Python). The debian_slim layers under it (Debian packages, then pip/wheel/uv)
are built there too and reported apart.
"""

from __future__ import annotations

import subprocess
import sys

from common import scratch, timed

from nixbuild import plan
from nixbuild.tools import nixcmd
from nixbuild.build import Project
from nixbuild.python.resolve import uv_bin

SETS = {"wheels": ["numpy==2.1.3", "requests"], "sdists": ["docopt==0.6.2", "netifaces==0.11.0"]}
APP = """
import nixbuild
image = nixbuild.Image.debian_slim(python_version="3.11").uv_pip_install({packages})
"""


def peer(work, packages: list[str]) -> float:
    uv = uv_bin()
    env_dir, cache = work / "venv", work / "uv-cache"
    return timed(lambda: (
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(env_dir)], check=True),
        subprocess.run([uv, "pip", "install", "-q", "--cache-dir", str(cache), "--python",
                        str(env_dir / "bin" / "python"), *packages], check=True)))


def measure(name: str, packages: list[str]) -> None:
    with scratch(f"nixbuild-bench-{name}-") as work:
        peer_time = peer(work, packages)
        app = work / "app" / "app.py"
        app.parent.mkdir()
        app.write_text(APP.format(packages="'six'"))
        Project.load(app).lock()  # the Debian index and base, resolved: not what is measured
        app.write_text(APP.format(packages=", ".join(map(repr, packages))))  # the Python step, changed
        project = Project.load(app)
        lock_time = timed(project.lock)
        lock = project.lock()

        store = str(work / "store")
        spec_file = plan.write_spec(project.spec("image", lock), project.settings)
        project.seed(lock, store=store)
        base = timed(lambda: nixcmd.build(spec_file, store=store, attr="layers.0"))
        base_tools = timed(lambda: nixcmd.build(spec_file, store=store, attr="layers.1"))
        step = timed(lambda: nixcmd.build(spec_file, store=store))

        print(f"[{name}: {' '.join(packages)}]")
        print(f"  uv pip install into a fresh venv (peer)       {peer_time:7.2f} s")
        print(f"  nixbuild lock of the Python step              {lock_time:7.2f} s")
        print(f"  nixbuild cold build: Debian base layer        {base:7.2f} s")
        print(f"  nixbuild cold build: base pip/wheel/uv layer  {base_tools:7.2f} s")
        print(f"  nixbuild cold build: the step's layer + image {step:7.2f} s")
        print(f"  ratio (lock + step layer) / peer              {(lock_time + step) / peer_time:7.2f}")


def main() -> None:
    for name, packages in SETS.items():
        measure(name, packages)


if __name__ == "__main__":
    main()
