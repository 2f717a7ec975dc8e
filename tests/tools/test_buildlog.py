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


def test_zstd_recompressions_count_as_steps_not_downloads():
    assert describe_derivation("layer-1-0-debian_slim-python-zstd") == "layer 1: step 0 debian_slim (python) to zstd"
    shown: list[str] = []
    log = BuildLog(shown.append)
    for line in ["this derivation will be built:", f"  /nix/store/{H}-layer-0-0-debian_slim-zstd.drv",
                 f"building '/nix/store/{H}-layer-0-0-debian_slim-zstd.drv'..."]:
        log.feed(line + "\n")
    assert shown == ["[1/1] layer 0: step 0 debian_slim to zstd"]
    assert log.counts.files == 0


def test_layer_trees_count_as_steps_not_downloads():
    shown: list[str] = []
    log = BuildLog(shown.append)
    for line in ["these 2 derivations will be built:", f"  /nix/store/{H}-layer-0-0-debian_slim-tree.drv",
                 f"  /nix/store/{H}-layer-1-0-debian_slim-python.drv",
                 f"building '/nix/store/{H}-layer-0-0-debian_slim-tree.drv'..."]:
        log.feed(line + "\n")
    assert shown == ["[1/2] layer 0: step 0 debian_slim, as a tree"]
    assert log.counts.files == 0


COLD = f"""these 10 derivations will be built:
""" + "".join(f"  /nix/store/{H}-pkg{i}_1.0_amd64.deb.drv\n" for i in range(8)) + f"""  /nix/store/{H}-layer-0-0-debian_slim.drv
  /nix/store/{H}-image-web.drv
these 2 paths will be fetched (1.50 MiB download, 6.00 MiB unpacked):
  /nix/store/{H}-nixbuild-tools
  /nix/store/{H}-busybox
""" + "".join(f"building '/nix/store/{H}-pkg{i}_1.0_amd64.deb.drv'...\n" for i in range(8)) + f"""building '/nix/store/{H}-layer-0-0-debian_slim.drv'...
building '/nix/store/{H}-image-web.drv'...
"""


def test_a_cold_build_says_how_many_bytes_it_downloads():
    said: list[str] = []
    counts = []
    sizes = {f"pkg{i}_1.0_amd64.deb": (i + 1) * 1024 * 1024 for i in range(8)}  # 36 MiB in all
    log = BuildLog(said.append, sizes, lambda c: counts.append((c.layers_done, c.files_done, c.bytes_done)))
    for line in COLD.splitlines(keepends=True):
        log.feed(line)
    assert said == ["taking 2 paths from binary caches (1.50 MiB)",
                    "downloading 8 pinned files (36.0 MiB)",
                    "downloaded 2/8 pinned files (3.0 MiB of 36.0 MiB)",
                    "downloaded 4/8 pinned files (10.0 MiB of 36.0 MiB)",
                    "downloaded 6/8 pinned files (21.0 MiB of 36.0 MiB)",
                    "downloaded 8/8 pinned files (36.0 MiB of 36.0 MiB)",
                    "[1/2] layer 0: step 0 debian_slim", "[2/2] image web"]
    assert counts[0] == (0, 1, 1 << 20) and counts[-1] == (2, 8, 36 << 20)
    assert log.counts.files == 8 and log.counts.layers == 2 and log.counts.bytes == 36 << 20


def test_the_toolchain_is_neither_a_step_nor_a_download():
    shown: list[str] = []
    log = BuildLog(shown.append)
    for line in ["these 3 derivations will be built:", f"  /nix/store/{H}-nixbuild-tools.drv",
                 f"  /nix/store/{H}-dpkg_1.21.23_amd64.deb.drv", f"  /nix/store/{H}-layer-0-0-debian_slim.drv",
                 f"building '/nix/store/{H}-nixbuild-tools.drv'...",
                 f"building '/nix/store/{H}-dpkg_1.21.23_amd64.deb.drv'..."]:
        log.feed(line + "\n")
    assert shown == ["building the toolchain that runs the layer builders", "downloading 1 pinned file"]
    assert (log.counts.layers, log.counts.files) == (1, 1)
