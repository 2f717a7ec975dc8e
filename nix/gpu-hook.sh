#!/bin/sh
# Nix pre-build-hook of a GPU builder: the contract of NixOS's nix-required-mounts. nixbuild
# passes it with --option pre-build-hook when NIXBUILD_SYSTEM_FEATURES names cuda; on a remote
# GPU builder it is nix.conf's pre-build-hook (`nixbuild builders` prints both). Nix calls it
# as `hook DRV [SANDBOX]` before each build; for a derivation that requires the `cuda` or
# `gpu` system feature -- a gpu= step -- it prints the paths to bind into that build's
# sandbox: the NVIDIA device nodes, and whatever NIXBUILD_GPU_PATHS lists (`target=source`
# entries separated by spaces, e.g. the driver's libraries). Every other derivation gets
# nothing, so only gpu= steps see the GPU.
drv=$1
grep -Eq '"requiredSystemFeatures","([^"]* )?(cuda|gpu)[ "]' "$drv" 2>/dev/null || exit 0
echo extra-sandbox-paths
for dev in /dev/nvidia*; do
  [ -e "$dev" ] && echo "$dev"
done
for path in $NIXBUILD_GPU_PATHS; do
  echo "$path"
done
echo
