"""The terminal's progress bars (nixbuild/progress.py) and the sizes they count (the lock's)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from nixbuild.build import download_sizes
from nixbuild.lock import read_lock
from nixbuild.progress import meter
from nixbuild.tools.nixcmd import BuildCounts, store_name

ROOT = Path(__file__).resolve().parents[1]


def test_bars_only_on_a_terminal():
    with meter(Console(file=io.StringIO(), force_terminal=False)) as bars:
        assert bars is None
    out = io.StringIO()
    with meter(Console(file=out, force_terminal=True, width=100)) as bars:
        bars(BuildCounts(layers_done=1, layers=4, files_done=3, files=10, bytes_done=3 << 20, bytes=12 << 20))
    text = out.getvalue()
    assert "layers built" in text and "1/4" in text and "3/10 files, 3.0 MiB of 12.0 MiB" in text


def test_download_sizes_are_the_locks(tmp_path):
    app = tmp_path / "quickstart" / "app.py"
    shutil.copytree(ROOT / "examples" / "quickstart", app.parent,
                    ignore=shutil.ignore_patterns("nixbuild.lock", ".nixbuild"))
    proc = subprocess.run([sys.executable, "-m", "nixbuild", "lock", str(app)], capture_output=True, text=True)
    assert proc.returncode == 0, f"nixbuild lock failed (is the Debian mirror reachable?):\n{proc.stderr}"
    lock = read_lock(app.parent / "nixbuild.lock")
    sizes = download_sizes(lock)
    jq = next(p for p in lock.images["image"].steps[1].packages if p.name == "jq")
    assert sizes[store_name(jq.filename)] == jq.size > 0
    assert sizes[store_name(lock.bootstrap.busybox.filename)] == lock.bootstrap.busybox.size
