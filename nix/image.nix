# Entry point for the CLI: nix-build nix/image.nix --arg specFile /path/to/spec.json
{ specFile, system ? "x86_64-linux" }:
(import ./default.nix { inherit system; }).fromSpecFile specFile
