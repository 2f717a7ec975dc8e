import sys
from pathlib import Path

# The linker is a builder script (stdlib only, run in the Nix sandbox): imported from its folder.
BUILDERS = Path(__file__).resolve().parents[2] / "nix" / "builders"
sys.path.insert(0, str(BUILDERS))
sys.dont_write_bytecode = True  # no __pycache__ inside nix/builders
