"""Code-edit rebuild against a cold build of examples/local_files, measured in one run.

    .venv/bin/python bench/edit_rebuild.py

Cold: a fresh, empty Nix store (`--store DIR`): every .deb downloaded from the configured
mirror, the tool Python unpacked, every layer built. Edit: one line of a module added with
add_local_python_source changed, then the same build again in that store (load the app,
hash the local files, plan, nix-build). Both run in-process as `nixbuild build` does; the
CLI's own whole-process times in the default store are printed too. The lock is made first
and not timed (`nixbuild lock` measures that).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from common import scratch, timed

from nixbuild import plan
from nixbuild.tools import nixcmd
from nixbuild.build import Project

ROOT = Path(__file__).resolve().parents[1]


def build_in(store: str, app: Path) -> Path:
    project = Project.load(app)
    lock = project.lock()
    project.seed(lock, store=store)
    return nixcmd.build(plan.write_spec(project.spec("image", lock), project.settings), store=store)



def cli(*args: str) -> float:
    return timed(lambda: subprocess.run([sys.executable, "-m", "nixbuild", *args], check=True,
                                        capture_output=True))


def main() -> None:
    with scratch("nixbuild-bench-") as work:
        shutil.copytree(ROOT / "examples" / "local_files", work / "app",
                        ignore=shutil.ignore_patterns("nixbuild.lock", ".nixbuild"))
        app = work / "app" / "app.py"
        util = work / "app" / "mypkg" / "util.py"
        Project.load(app).lock()
        store = str(work / "store")

        cold = timed(lambda: build_in(store, app))
        noop = timed(lambda: build_in(store, app))
        util.write_text(util.read_text() + "\nEDITED = 1\n")
        edit = timed(lambda: build_in(store, app))

        cli_first = cli("build", str(app))
        cli_noop = cli("build", str(app))
        util.write_text(util.read_text() + "\nEDITED = 2\n")
        cli_edit = cli("build", str(app))

        print(f"cold build, empty store      {cold:8.2f} s")
        print(f"no-op build, same store       {noop:8.2f} s   ratio to cold {noop / cold:.3f}")
        print(f"one-file edit, same store     {edit:8.2f} s   ratio to cold {edit / cold:.3f}")
        print(f"CLI build, default store      {cli_first:8.2f} s")
        print(f"CLI no-op build               {cli_noop:8.2f} s")
        print(f"CLI one-file edit rebuild     {cli_edit:8.2f} s   ratio to cold {cli_edit / cold:.3f}")


if __name__ == "__main__":
    main()
