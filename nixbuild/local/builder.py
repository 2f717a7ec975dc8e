"""Running a builder of nix/builders outside the sandbox, as its derivation would run it: on
the bootstrap toolchain's pinned Python (its zlib makes the gzip bytes, so they are the same
on every machine), with the spec in ``$layerSpecPath`` and the output in ``$out``. Standard
library only: the one-file edit (local/edit.py) runs it before anything else is loaded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def run(script: Path, spec: dict, out: Path, tools: str, cache_dir: Path, what: str) -> None:
    """Run ``script`` (in the nix/ library's builders) on ``spec``; it creates ``out``, a path
    in a scratch folder. ``what`` names the output in an error."""
    wait(start(script, spec, out, tools, cache_dir), what)


def start(script: Path, spec: dict, out: Path, tools: str, cache_dir: Path) -> subprocess.Popen:
    """Start ``run``'s builder and return at once (``wait`` for it, or kill it)."""
    spec_file = out.with_name(out.name + ".spec.json")
    spec_file.write_text(json.dumps(spec))
    libdir = f"{tools}/usr/lib/x86_64-linux-gnu"
    return subprocess.Popen(
        [f"{libdir}/ld-linux-x86-64.so.2", "--library-path", libdir, f"{tools}/usr/bin/python3.11",
         # Bytecode cached in nixbuild's cache (Debian's .debs ship none; the sandbox's run
         # compiles the standard library every time): it never changes what is written.
         "-E", "-s", "-X", f"pycache_prefix={cache_dir / 'pycache'}", str(script)],
        env={"layerSpecPath": str(spec_file), "out": str(out)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)


def wait(proc: subprocess.Popen, what: str) -> None:
    """Wait for a builder ``start`` started; a BuildError naming ``what`` when it failed."""
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        from nixbuild.errors import BuildError  # loaded only for a failure: see local/reassemble.py

        raise BuildError(f"making {what} failed:\n{stderr.strip()}")
