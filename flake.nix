{
  description = "nixbuild: reproducible OCI images from Modal-style Image chains, with no nixpkgs";

  # No inputs: the library needs only Nix builtins and the pinned Debian packages named in a spec.
  outputs = { self }:
    let
      forSystem = system: import ./nix/default.nix { inherit system; };
    in
    {
      # lib.buildImage spec -> an OCI image layout (spec: `nixbuild plan APP` writes it, see README).
      # lib.forSystem "x86_64-linux" gives the same library for another Nix system name.
      lib = forSystem "x86_64-linux" // { inherit forSystem; };
    };
}
