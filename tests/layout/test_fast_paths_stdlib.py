"""The no-op build (nixbuild/noop.py) and the one-file edit (nixbuild/local/edit.py) answer
before the CLI is imported: what they import is the standard library and nixbuild's own
light modules, never pydantic, click or rich (tens of milliseconds each)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_the_fast_paths_import_only_the_standard_library_and_nixbuild():
    script = ("import json, sys; import nixbuild.noop, nixbuild.local.edit, nixbuild.local.reassemble; "
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                           check=True).stdout))
    assert "nixbuild" in loaded, "nothing of nixbuild imported: the check is broken"
    # __main__ and the site hooks of the virtual environment (an editable install's finder,
    # setuptools' _distutils_hack) are there before anything is imported.
    foreign = {m for m in loaded - sys.stdlib_module_names - {"nixbuild", "_distutils_hack"} if not m.startswith("__")}
    assert not foreign, foreign
