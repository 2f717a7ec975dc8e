{
  description = "nixbuild: reproducible OCI images from Modal-style Image chains, with no nixpkgs";

  # No inputs: the library needs only Nix builtins and the pinned Debian packages named in a spec.
  outputs = { self }:
    let
      forSystem = system: import ./nix/default.nix { inherit system; };
    in
    {
      # lib.buildImage { spec = ./image.json; src = ./.; } -> an OCI image layout. Its arguments
      # (spec, src, name, tag, created, config) are documented in nix/default.nix, where they
      # are declared; `nixbuild plan APP --flake-root .` writes the spec (see README).
      # lib.forSystem "x86_64-linux" gives the same library for another Nix system name.
      lib = forSystem "x86_64-linux" // { inherit forSystem; };

      # `nix flake init -t <nixbuild>#default`: a repository whose image is `nix build .#image`
      # and whose `nix flake check` builds it.
      templates.default = {
        path = ./templates/default;
        description = "An OCI image from a Modal-style app.py, built by nixbuild's Nix library";
      };
    };
}
