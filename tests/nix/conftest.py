import sys
from pathlib import Path

# The builder scripts run inside the Nix sandbox as plain scripts (stdlib only); the unit
# tests import them the same way, from their folder.
BUILDERS = Path(__file__).resolve().parents[2] / "nix" / "builders"
sys.path.insert(0, str(BUILDERS))
sys.dont_write_bytecode = True  # no __pycache__ inside nix/builders
# rootfs.py, which the builders share with the CLI, reaches them as an input of its own
# (nix/bootstrap.nix); the unit tests import it from its folder as well.
sys.path.insert(0, str(BUILDERS.parents[1] / "nixbuild" / "oci"))
