"""The ``nixbuild`` command's entry point (``python -m nixbuild`` and the console script).

Ctrl-C at any point, imports included, prints one line and exits 130 with no traceback. The
handler is installed here, before :mod:`nixbuild.cli` and everything it pulls in are imported
(a few hundred milliseconds), and not in ``cli`` itself, so that merely importing the CLI (as
tests and other programs do) changes no process-wide signal handling. ``SystemExit`` unwinds
like any exception: temporary files are removed and a running nix-build child is killed; the
lock and the outputs are only ever replaced atomically, so they stay whole.

A ``build`` that nothing changed since the last one is answered before any of that is
imported (nixbuild/noop.py).
"""

import signal
import sys


def _interrupted(_signum, _frame) -> None:
    sys.stderr.write("interrupted\n")
    raise SystemExit(130)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted)
    from nixbuild import noop

    if noop.begin(sys.argv[1:]):  # an unchanged build, answered from its stamp
        return
    from nixbuild.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
