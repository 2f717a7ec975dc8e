# nixbuild's Nix library: OCI images from a JSON spec (written by `nixbuild` from its lock),
# using only Nix builtins and pinned Debian packages (no nixpkgs).
#
#   buildImage spec -> derivation whose output is an OCI image layout
#
# spec (see nixbuild/plan.py, which writes it):
#   name:         image name (store names)
#   ref:          the tag recorded in index.json (org.opencontainers.image.ref.name)
#   architecture: OCI architecture ("amd64")
#   created:      the fixed creation time written to the config
#   epoch:        SOURCE_DATE_EPOCH for every file mtime
#   bootstrap:    the toolchain (see bootstrap.nix)
#   layers:       [ { kind = "debs"; name; createdBy; base; debs = [ { url; sha256; name; } ]; } ]
#   config:       the OCI config's `config` object (Env, WorkingDir, Entrypoint, Cmd, ...)
{ system ? "x86_64-linux" }:
let
  fetch = import ./fetch.nix;

  buildImage = spec:
    let
      boot = import ./bootstrap.nix { inherit system; inherit (spec) bootstrap; };

      debLayer = prev: index: layer: boot.pythonDerivation "deb_layer.py" {
        name = fetch.storeName "layer-${toString index}-${layer.name}";
        layerSpec = builtins.toJSON {
          debs = map fetch.fetchFile layer.debs;
          prevStatus = if prev == null then null else "${prev}/dpkg-status";
          base = layer.base or false;
          inherit (layer) createdBy;
          inherit (spec) epoch;
        };
        passAsFile = [ "layerSpec" ];
      };

      # Each deb layer takes the dpkg status of the last deb layer below it.
      chain = builtins.foldl'
        (acc: layer:
          let drv = debLayer acc.prev (builtins.length acc.layers) layer; in
          { prev = drv; layers = acc.layers ++ [ drv ]; })
        { prev = null; layers = [ ]; }
        spec.layers;

      image = boot.pythonDerivation "oci_image.py" {
        name = fetch.storeName "image-${spec.name}";
        imageSpec = builtins.toJSON {
          inherit (chain) layers;
          inherit (spec) config ref created architecture;
        };
        passAsFile = [ "imageSpec" ];
      };
    in
    image // { inherit (chain) layers; inherit (boot) tools busybox; };
in
{
  inherit buildImage;
  # For the CLI: `nix-build nix/image.nix --arg specFile ./spec.json`.
  fromSpecFile = specFile: buildImage (builtins.fromJSON (builtins.readFile specFile));
}
