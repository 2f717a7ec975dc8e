"""Python start-up in an image against a Debian root of the same packages (issue 17).

    python bench/python_startup.py APP_FILE DEBIAN_ROOT

Times ``python3 -c "import json, ssl, asyncio, ..."`` five times with ``nixbuild run`` in the
app's image and with ``chroot DEBIAN_ROOT`` (e.g. the mmdebstrap root of
tests/e2e/debian_oracle.py), and prints the best of each and their ratio. Without the stdlib's
.pyc files, every cold start in a read-only image compiles the modules again.
"""

from __future__ import annotations

import subprocess
import sys

from common import timed

IMPORTS = "import json, ssl, asyncio, email.mime.text, http.client, logging, decimal, argparse"


def best(command: list[str], runs: int = 5) -> float:
    return min(timed(lambda: subprocess.run(command, check=True, capture_output=True)) for _ in range(runs))


def main() -> None:
    app, root = sys.argv[1], sys.argv[2]
    # the container's own start-up is the same for any command: subtract `true`
    run = [sys.executable, "-m", "nixbuild", "run", app, "--"]
    image = best(run + ["python3", "-c", IMPORTS]) - best(run + ["true"])
    debian = best(["chroot", root, "python3", "-c", IMPORTS]) - best(["chroot", root, "true"])
    print(f"image {image:.3f} s, debian root {debian:.3f} s, ratio {image / debian:.2f}")


if __name__ == "__main__":
    main()
