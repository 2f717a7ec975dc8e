"""nix-build's log read as it streams (nixbuild.tools.nixcmd.BuildLog): progress per layer and
one line for the downloads. The log lines are Nix 2.x's own wording (as nix-build printed them
for the quickstart image on this machine)."""

from __future__ import annotations

from nixbuild.tools.nixcmd import BuildLog, describe_derivation

H = "0" * 32
LOG = f"""these 5 derivations will be built:
  /nix/store/{H}-jq_1.6-2.1_amd64.deb.drv
  /nix/store/{H}-layer-0-0-debian_slim.drv
  /nix/store/{H}-layer-1-0-debian_slim-python.drv
  /nix/store/{H}-layer-2-1-apt_install.drv
  /nix/store/{H}-image-web.drv
building '/nix/store/{H}-jq_1.6-2.1_amd64.deb.drv'...
building '/nix/store/{H}-layer-0-0-debian_slim.drv'...
some builder output
building '/nix/store/{H}-layer-1-0-debian_slim-python.drv'...
building '/nix/store/{H}-layer-2-1-apt_install.drv'...
building '/nix/store/{H}-image-web.drv'...
/nix/store/{H}-image-web
"""


def test_each_layer_and_the_image_say_how_far_the_build_is():
    said: list[str] = []
    log = BuildLog(said.append)
    for line in LOG.splitlines(keepends=True):
        log.feed(line)
    assert said == ["downloading 1 pinned file", "[1/4] layer 0: step 0 debian_slim",
                    "[2/4] layer 1: step 0 debian_slim (python)", "[3/4] layer 2: step 1 apt_install",
                    "[4/4] image web"]
    assert "".join(log.lines) == LOG  # the whole log is kept for the error messages


def test_forced_layers_keep_their_step():
    assert describe_derivation("layer-4-3-run_commands-forced-0123abcd") == "layer 4: step 3 run_commands"
