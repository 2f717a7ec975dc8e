"""Python start-up in an image against a Debian root of the same packages (issue 17).

    python bench/python_startup.py APP_FILE DEBIAN_ROOT

Runs ``python3 -c "import json, ssl, asyncio, ..."`` ten times inside the app's image (one
``nixbuild run``) and inside ``chroot DEBIAN_ROOT`` (e.g. the mmdebstrap root of
tests/e2e/debian_oracle.py, or ``/`` on a Debian machine with that Python), timed there by a
small driver, so the container's own start-up is not part of the figure; prints the best of
each and their ratio. Without the stdlib's .pyc files every cold start in a read-only image
would compile the modules again.
"""

from __future__ import annotations

import subprocess
import sys

IMPORTS = "import json, ssl, asyncio, email.mime.text, http.client, logging, decimal, argparse"
# Runs where python3 is the image's: the best of ten starts, in seconds.
DRIVER = f"""
import subprocess, time
def once():
    start = time.perf_counter()
    subprocess.run(["python3", "-c", {IMPORTS!r}], check=True)
    return time.perf_counter() - start
print(min(once() for _ in range(10)))
"""


def main() -> None:
    app, root = sys.argv[1], sys.argv[2]
    image = float(subprocess.run([sys.executable, "-m", "nixbuild", "run", app, "--", "python3", "-c", DRIVER],
                                 check=True, capture_output=True, text=True).stdout)
    debian = float(subprocess.run(["chroot", root, "python3", "-c", DRIVER],
                                  check=True, capture_output=True, text=True).stdout)
    print(f"image {image:.3f} s, debian root {debian:.3f} s, ratio {image / debian:.2f}")


if __name__ == "__main__":
    main()
