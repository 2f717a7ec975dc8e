import sys
from pathlib import Path

# The builder scripts run inside the Nix sandbox as plain scripts (stdlib only); the unit
# tests import them the same way, from their folder.
BUILDERS = Path(__file__).resolve().parents[2] / "nix" / "builders"
sys.path.insert(0, str(BUILDERS))
sys.dont_write_bytecode = True  # no __pycache__ inside nix/builders
