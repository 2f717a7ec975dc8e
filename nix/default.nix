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
#   layers:       one per step that changes the filesystem, in order, each with `kind`,
#                 `name` and `createdBy` (the history line), and by kind:
#     "debs":  base (true for debian_slim); debs = [ { url; sha256; name; } ]
#     "files": tree = { name; narHash; } (a tree seeded by the CLI, laid out as in the image);
#              modes = { "<path>" = <permission bits>; } for files not plain 0644/0755
#     "run":   commands; env = [ "K=V" ]; workdir; shell = [ "/bin/sh" "-c" ];
#              network (bool): a fixed-output derivation, network on, whose output must
#              hash to outputHash (null: a placeholder, so that Nix reports the real hash);
#              secretVar: an impure environment variable holding the step's secrets
#              systemFeatures: required Nix system features (gpu= steps: cuda, gpu-<type>)
#     "wheels": wheels = [ { url; sha256; name; } ]; installer (the same, pypa installer); env;
#              sdists = [ { url; sha256; name; project; version; backend; backendPath;
#                           build = [ wheels of the build environment ]; } ], built first;
#              venv (optional): install into this virtual environment, made when missing;
#              systemFeatures (as "run"); uvLink: link the image's uv at /.uv/uv (uv steps)
#     every kind:  nonce (optional): set by force_build, so the layer is built again (it is
#                  part of the store name, so network steps run again too)
#   config:       the OCI config's `config` object (Env, WorkingDir, Entrypoint, Cmd, ...)
{ system ? "x86_64-linux" }:
let
  fetch = import ./fetch.nix;

  buildImage = spec:
    let
      boot = import ./bootstrap.nix { inherit system; inherit (spec) bootstrap; };

      # A layer derivation: `script` turns `layerSpec` (plus the epoch and history line)
      # into $out/layer.tar.gz and $out/layer.json.
      layerDrv = script: index: layer: layerSpec: attrs: boot.pythonDerivation script ({
        # The nonce is in the name too: a fixed-output derivation's path depends only on its
        # name and hash, so only a new name makes Nix run a forced network step again.
        name = fetch.storeName ("layer-${toString index}-${layer.name}"
          + (if layer.nonce or null == null then "" else "-forced-${layer.nonce}"));
        layerSpec = builtins.toJSON (layerSpec // {
          inherit (layer) createdBy;
          inherit (spec) epoch;
        } // (if layer.nonce or null == null then { } else { inherit (layer) nonce; }));
        passAsFile = [ "layerSpec" ];
      } // attrs);

      # gpu=: only builders advertising these features (cuda, gpu-<type>) may build the layer.
      features = layer: if layer.systemFeatures or [ ] == [ ] then { } else {
        requiredSystemFeatures = layer.systemFeatures;
      };

      # Any valid sha256: a network step's first build fails on it and Nix reports the real one.
      fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

      # acc: { debs = the last deb layer (its dpkg-status is the next one's base); layers }
      layerOf = acc: index: layer:
        if layer.kind == "debs" then layerDrv "deb_layer.py" index layer {
          debs = map fetch.fetchFile layer.debs;
          prevStatus = if acc.debs == null then null else "${acc.debs}/dpkg-status";
          base = layer.base or false;
        } { }
        else if layer.kind == "files" then layerDrv "file_layer.py" index layer {
          tree = fetch.seeded layer.tree;
          modes = layer.modes or { };
        } { }
        else if layer.kind == "run" then layerDrv "run_layer.py" index layer {
          lower = acc.layers;
          inherit (boot) busybox;
          inherit (layer) commands env shell;
          workdir = layer.workdir or "/";
          network = layer.network or false;
          secretVar = layer.secretVar or null;
        } (features layer // (if layer.network or false then {
          outputHashMode = "recursive";
          outputHashAlgo = "sha256";
          outputHash = if layer.outputHash or null == null then fakeHash else layer.outputHash;
          # Taken from the environment of the nix-build the CLI runs; never part of the .drv.
          impureEnvVars = if layer.secretVar or null == null then [ ] else [ layer.secretVar ];
        } else { }))
        else if layer.kind == "wheels" then
          let
            file = w: { path = fetch.fetchFile { inherit (w) url sha256 name; }; inherit (w) name; };
            # Read by builders/python_install.py, which the image's Python runs in the chroot.
            plan = builtins.toJSON {
              installer = fetch.fetchFile layer.installer;
              venv = layer.venv or null;
              uvLink = layer.uvLink or false;
              wheels = map file layer.wheels;
              sdists = map (s: file s // {
                inherit (s) project version backend;
                backendPath = s.backendPath or [ ];
                build = map file s.build;
              }) (layer.sdists or [ ]);
            };
            quoted = "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] plan + "'";
          in
          layerDrv "run_layer.py" index layer {
            lower = acc.layers;
            inherit (boot) busybox;
            inherit (layer) env;
            commands = [ "python3 ${./builders/python_install.py} ${quoted}" ];
            shell = [ "/bin/sh" "-c" ];
            workdir = "/";
            network = false;
            secretVar = null;
            storeMount = true;
          } (features layer)
        else throw "nixbuild: unknown layer kind ${layer.kind}";

      chain = builtins.foldl'
        (acc: layer:
          let drv = layerOf acc (builtins.length acc.layers) layer; in
          { debs = if layer.kind == "debs" then drv else acc.debs; layers = acc.layers ++ [ drv ]; })
        { debs = null; layers = [ ]; }
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
