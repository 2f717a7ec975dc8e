{
  description = "An OCI image from app.py, pinned by nixbuild.lock, built with Nix alone";

  # Where your copy of nixbuild is (any flake URL: git+file://, git+https://, path:).
  inputs.nixbuild.url = "git+file:///opt/nixbuild";

  outputs = { self, nixbuild }:
    let
      system = "x86_64-linux";
      image = nixbuild.lib.buildImage {
        # Written by `nixbuild plan app.py --flake-root .` (commit it with nixbuild.lock and
        # write it again whenever either changes; `nixbuild lock --check` tells).
        spec = ./image.json;
        # Local files of the app (add_local_*) are named in the spec relative to this folder.
        src = ./.;
        # The tag in the layout's index.json: `skopeo copy oci:result:latest ...`.
        tag = "latest";
      };
    in
    {
      packages.${system} = { inherit image; default = image; };
      # `nix flake check` builds the image. A check cannot rebuild it a second time and
      # compare (pure evaluation has no `--check`): `nix build .#image --rebuild` does, and
      # `nixbuild check` also rebuilds in a second, empty store.
      checks.${system}.image = image;
    };
}
