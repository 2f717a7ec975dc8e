"""numpy + requests: nixbuild's lock and cold build against `uv pip install` of the same set
into a fresh venv, measured in one run.

    .venv/bin/python bench/python_packages.py

Peer: `uv venv` + `uv pip install numpy==2.1.3 requests` on this machine with an empty uv
cache (the same uv nixbuild pins). nixbuild: `nixbuild lock` of an app with
`debian_slim().uv_pip_install(...)` (Debian index cached, as after any earlier lock), then a
cold build of that step's layer in a fresh, empty Nix store (`--store DIR`: wheels
downloaded, installer run in the image's Python) -- the Debian base layer it sits on is
built there too and reported apart.
"""

from __future__ import annotations

import subprocess
import sys

from common import scratch, timed

from nixbuild import nixcmd, plan
from nixbuild.build import Project
from nixbuild.python_resolve import uv_bin

PACKAGES = ["numpy==2.1.3", "requests"]
APP = f"""
import nixbuild
image = nixbuild.Image.debian_slim(python_version="3.11").uv_pip_install({", ".join(map(repr, PACKAGES))})
"""



def main() -> None:
    with scratch("nixbuild-bench-py-") as work:
        uv = uv_bin()
        env_dir, cache = work / "venv", work / "uv-cache"
        peer = timed(lambda: (
            subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(env_dir)], check=True),
            subprocess.run([uv, "pip", "install", "-q", "--cache-dir", str(cache), "--python",
                            str(env_dir / "bin" / "python"), *PACKAGES], check=True)))

        app = work / "app" / "app.py"
        app.parent.mkdir()
        app.write_text(APP)
        project = Project.load(app)
        project.lock()  # the Debian index and base, cached: not what is measured
        app.write_text(APP.replace(")\n", ", 'idna')\n"))  # a changed Python step: resolved again
        project = Project.load(app)
        lock_time = timed(project.lock)
        lock = project.lock()

        store = str(work / "store")
        spec = plan.write_spec(project.spec("image", lock), project.settings)
        project.seed(lock, store=store)
        base = timed(lambda: nixcmd.build(spec, store=store, attr="layers.0"))
        wheels = timed(lambda: nixcmd.build(spec, store=store))

        print(f"uv pip install into a fresh venv (peer)   {peer:7.2f} s")
        print(f"nixbuild lock of the Python step          {lock_time:7.2f} s")
        print(f"nixbuild cold build: Debian base layer    {base:7.2f} s")
        print(f"nixbuild cold build: wheels layer + image {wheels:7.2f} s")
        print(f"ratio (lock + wheels layer) / peer        {(lock_time + wheels) / peer:7.2f}")


if __name__ == "__main__":
    main()
