# Entry point for the CLI's early build of the toolchain alone (nixbuild/build.py starts it as
# soon as the lock's bootstrap is known, beside the rest of locking and the downloads):
#   nix-build nix/toolchain.nix --arg specFile SPEC, SPEC: { "bootstrap": ... } as in an image
#   spec. The same derivation an image's build takes (bootstrap.nix `tools`).
{ specFile, system ? "x86_64-linux" }:
(import ./bootstrap.nix {
  inherit system;
  inherit (builtins.fromJSON (builtins.readFile specFile)) bootstrap;
}).tools
