# nixbuild's Nix library: OCI images from a JSON spec (written by `nixbuild` from its lock),
# using only Nix builtins and pinned Debian packages (no nixpkgs).
#
#   buildImage { spec; src; name; tag; created; config; } -> derivation whose output is an
#     OCI image layout (arguments as dockerTools', documented where buildImage is declared)
#   buildImage spec -> the same for a spec value alone (the CLI's form; no local sources)
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
#     "debs":  base (true for debian_slim); debs = [ { url; sha256; name; } ]; built on top of
#              the layers below (maintainer-script effects run in their chroot, stacked from
#              their trees as for "wheels") into the layer's tree first (`layer-N-<name>-tree`,
#              deb_layer.py), which the steps above take; the layer is written from that tree
#              (tree_layer.py), beside them
#     "registry": blob = { name; sha256; } (a layer blob of a registry base, seeded by the CLI
#              under that name: fetch.nix seededFile); digest, size, diffId: the blob as the
#              base's manifest and config give it. The blob is the layer, byte for byte;
#              dpkgStatus (bool): it holds the base's dpkg status, which "debs" layers above
#              build on
#     "standalone": archive = { url; sha256; name; }: a python-build-standalone install_only
#              archive, its python/ tree unpacked into /usr/local (less its bundled pip)
#     "files": tree = { name; narHash; } (a tree seeded by the CLI, laid out as in the image);
#              modes = { "<path>" = <permission bits>; } for files not plain 0644/0755;
#              sources (a flake's spec, `nixbuild plan --flake-root`): [ { src; dest;
#              executable; } ], the tree's files by path in the flake, from which Nix lays
#              the tree out itself (local-tree.nix) when its path is not in the store
#              made = { name; narHash; } (optional): the layer itself, made by the CLI from
#              the same builder without a sandbox (nixbuild/local/layer.py) and seeded: used
#              as it is, in place of the derivation
#     "run":   commands; env = [ "K=V" ]; workdir; shell = [ "/bin/sh" "-c" ];
#              network (bool): a fixed-output derivation, network on, whose output must
#              hash to outputHash (null: a placeholder, so that Nix reports the real hash);
#              secretVar: an impure environment variable holding the step's secrets
#              systemFeatures: required Nix system features (gpu= steps: cuda, gpu-<type>)
#     "wheels": wheels = [ { url; sha256; name; } ]; installer (the same, pypa installer); env;
#              sdists = [ { url; sha256; name; project; version; backend; backendPath;
#                           build = [ wheels of the build environment ]; } ], built first
#                       (a git checkout has narHash in place of url and sha256: a directory
#                       seeded by the CLI, fetch.nix seeded);
#              venv (optional): install into this virtual environment, made when missing;
#              systemFeatures (as "run"); uvLink: link the image's uv at /.uv/uv (uv steps);
#              run on the layers below stacked with overlayfs, each unpacked once into a
#              tree of its own (`layer-N-<name>-tree`, layer_tree.py); installed into the
#              layer's tree first (run_tree.py), written as the layer as for "debs"
#     "conda": prefix (/opt/conda); packages = [ { url; sha256; name; size; channel; subdir;
#              requested; } ] (url only fetches: the layer does not depend on the mirror)
#              (conda packages, .conda or .tar.bz2, in dependency order), linked into the
#              prefix as micromamba links them; tools = [ { url; sha256; name; } ] (Debian's
#              zstd and its libraries: it unpacks .conda files); pythonSeries ("3.11", or
#              null): where noarch:python packages go; systemFeatures (as "run")
#     "copy":  stage = [ layers ] (another chain's layers, as above: the same derivations its
#              own build makes); sources = [ "/abs/path" ]; dest (absolute); intoDir (bool):
#              COPY --from, the paths out of that chain's filesystem, owned by root
#     every kind:  nonce (optional): set by force_build, so the layer is built again (it is
#                  part of the store name, so network steps run again too)
#   config:       the OCI config's `config` object (Env, WorkingDir, Entrypoint, Cmd, ...)
#   compression (optional, absent: gzip): { kind = "zstd"; level; tools = [ { url; sha256;
#                 name; } ] (Debian's zstd and what it links) }: the image takes each layer
#                 recompressed (zstd_layer.py); the layers the steps build on stay gzip, the
#                 same derivations as the gzip image's
{ system ? "x86_64-linux" }:
let
  fetch = import ./fetch.nix;

  # The image of a spec value; `src`: the root its local sources are named against (or null).
  imageOf = spec: src:
    let
      boot = import ./bootstrap.nix { inherit system; inherit (spec) bootstrap; };

      # The nonce is in the name too: a fixed-output derivation's path depends only on its
      # name and hash, so only a new name makes Nix run a forced network step again.
      layerName = index: layer: "layer-${toString index}-${layer.name}"
        + (if layer.nonce or null == null then "" else "-forced-${layer.nonce}");

      # A layer derivation: `script` turns `layerSpec` (plus the epoch and history line)
      # into $out/layer.tar.gz and $out/layer.json (deb_layer.py: into the layer's tree).
      layerDrv = script: index: layer: layerSpec: attrs: boot.pythonDerivation script ({
        name = fetch.storeName (layerName index layer);
        layerSpec = builtins.toJSON (layerSpec // {
          inherit (layer) createdBy;
          inherit (spec) epoch;
        } // (if layer.nonce or null == null then { } else { inherit (layer) nonce; }));
        passAsFile = [ "layerSpec" ];
      } // attrs);

      # A layer's tree, unpacked once for the steps above it (layer_tree.py); a deb layer is
      # made from its tree, which it carries (`tree`).
      treeOf = layer: layer.tree or (boot.pythonDerivation "layer_tree.py" {
        name = "${layer.name}-tree";
        layerSpec = builtins.toJSON { inherit layer; inherit (spec) epoch; };
        passAsFile = [ "layerSpec" ];
      });
      # What a step above unpacks of a layer when the trees cannot be stacked: a layer made
      # from its tree gives its tar again (run_layer.layer_tar), so no step waits for its
      # compression.
      lowerOf = layer: layer.tree or layer;
      # The layer written from `tree` (a deb layer's or a Python step's: layer_tree.write_tree)
      # by tree_layer.py, beside the steps above, which take the tree; it carries the tree.
      fromTree = index: layer: tree: layerDrv "tree_layer.py" index layer { inherit tree; } { } // { inherit tree; };
      treeName = index: layer: fetch.storeName (layerName index layer + "-tree");

      # gpu=: only builders advertising these features (cuda, gpu-<type>) may build the layer.
      features = layer: if layer.systemFeatures or [ ] == [ ] then { } else {
        requiredSystemFeatures = layer.systemFeatures;
      };

      # Any valid sha256: a network step's first build fails on it and Nix reports the real one.
      fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

      # acc: { debs = the last layer with a dpkg-status (a deb layer, or a registry base's layer
      # holding its status): the next deb layer's base; layers }
      layerOf = acc: index: layer:
        if layer.kind == "debs" then
          let
            # The packages unpacked and configured into the layer's tree (deb_layer.py), which
            # the steps above stack; the layer is written from it (tree_layer.py).
            tree = layerDrv "deb_layer.py" index layer {
              debs = map fetch.fetchFile layer.debs;
              prevStatus = if acc.debs == null then null else "${lowerOf acc.debs}/dpkg-status";
              base = layer.base or false;
              # The image so far, for the maintainer-script effects run in its chroot (ldconfig,
              # ...), stacked from its trees where it can be (overlay.py).
              lower = map lowerOf acc.layers;
              trees = map treeOf acc.layers;
              inherit (boot) busybox;
            } (features layer // { name = treeName index layer; });
          in
          fromTree index layer tree
        else if layer.kind == "copy" then layerDrv "copy_layer.py" index layer {
          lower = map lowerOf (chainOf layer.stage).layers;
          inherit (layer) sources dest intoDir;
        } { }
        else if layer.kind == "registry" then layerDrv "registry_layer.py" index layer {
          blob = fetch.seededFile layer.blob;
          inherit (layer) digest size diffId;
          dpkgStatus = layer.dpkgStatus or false;
        } { }
        else if layer.kind == "conda" then layerDrv "conda_layer.py" index layer {
          inherit (layer) prefix;
          pythonSeries = layer.pythonSeries or null;
          tools = map fetch.fetchFile layer.tools;
          packages = map (p: {
            path = fetch.fetchFile { inherit (p) url sha256 name; };
            filename = p.name;
            inherit (p) sha256 size channel subdir requested;
          }) layer.packages;
        } (features layer)
        else if layer.kind == "standalone" then layerDrv "python_layer.py" index layer {
          archive = fetch.fetchFile layer.archive;
        } { }
        else if layer.kind == "files" && layer.made or null != null then fetch.seeded layer.made
        else if layer.kind == "files" then layerDrv "file_layer.py" index layer {
          tree = if layer.sources or null == null then fetch.seeded layer.tree
            else if src == null then throw "nixbuild: the spec names local files relative to a flake: pass src = ./.;"
            else import ./local-tree.nix { inherit boot src; inherit (layer) tree sources; };
          modes = layer.modes or { };
        } { }
        else if layer.kind == "run" then layerDrv "run_layer.py" index layer {
          lower = map lowerOf acc.layers;
          # The same layers unpacked once each, stacked with overlayfs (overlay.py).
          trees = map treeOf acc.layers;
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
            # A git checkout (narHash) is a directory the CLI seeded: nixbuild/python/git_source.py.
            file = w: { inherit (w) name; path = if w ? narHash then fetch.seeded { inherit (w) name narHash; }
              else fetch.fetchFile { inherit (w) url sha256 name; }; };
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
            # The packages installed into the layer's tree (run_tree.py), as for debs.
            tree = layerDrv "run_tree.py" index layer {
              lower = map lowerOf acc.layers;
              # The same layers unpacked once each, stacked with overlayfs (overlay.py).
              trees = map treeOf acc.layers;
              inherit (boot) busybox;
              inherit (layer) env;
              commands = [ "python3 ${./builders/python_install.py} ${quoted}" ];
              shell = [ "/bin/sh" "-c" ];
              workdir = "/";
              network = false;
              secretVar = null;
              storeMount = true;
            } (features layer // { name = treeName index layer; });
          in
          fromTree index layer tree
        else throw "nixbuild: unknown layer kind ${layer.kind}";

      chainOf = layers: builtins.foldl'
        (acc: layer:
          let drv = layerOf acc (builtins.length acc.layers) layer; in
          { debs = if layer.kind == "debs" || (layer.dpkgStatus or false) then drv else acc.debs;
            layers = acc.layers ++ [ drv ]; })
        { debs = null; layers = [ ]; }
        layers;

      chain = chainOf spec.layers;

      compression = spec.compression or null;
      # The layers the image takes: the chain's, or each recompressed with zstd.
      imageLayers = if compression == null then chain.layers
        else if compression.kind != "zstd" then throw "nixbuild: unknown compression ${compression.kind}"
        else builtins.genList
        (index: boot.pythonDerivation "zstd_layer.py" {
          name = fetch.storeName "layer-${toString index}-${(builtins.elemAt spec.layers index).name}-zstd";
          layerSpec = builtins.toJSON {
            layer = builtins.elemAt chain.layers index;
            tools = map fetch.fetchFile compression.tools;
            inherit (compression) level;
          };
          passAsFile = [ "layerSpec" ];
        })
        (builtins.length chain.layers);

      image = boot.pythonDerivation "oci_image.py" {
        name = fetch.storeName "image-${spec.name}";
        imageSpec = builtins.toJSON {
          layers = imageLayers;
          inherit (spec) config ref created architecture;
        };
        passAsFile = [ "imageSpec" ];
      };
    in
    image // {
      inherit (chain) layers;
      # Every derivation that makes a layer, bottom first: a layer's tree before it
      # (what `nixbuild check` rebuilds and compares).
      layerBuilds = builtins.concatMap (layer: (if layer ? tree then [ layer.tree ] else [ ]) ++ [ layer ])
        chain.layers;
      inherit (boot) tools busybox;
    };

  # The arguments of a flake's image, named as dockerTools' are. Only `spec` is required;
  # name, tag, created and config default to the spec's, so that the image is bit for bit the
  # one `nixbuild build` makes (tag, created and config change the manifest digest).
  buildImageWith =
    {
      # The build spec: a path to the JSON file `nixbuild plan APP --flake-root .` writes
      # (commit it with nixbuild.lock), or its value (builtins.fromJSON ...).
      spec
      # The flake's root, `./.` in its flake.nix: the spec names local files (add_local_*)
      # relative to it, and Nix lays each tree out from this source, checked against the
      # tree's NAR hash. Needed only when the spec names local files.
    , src ? null
      # The image's name: the output's store name is `image-<name>` (default: the spec's, the
      # image's name in the app). Not written into the image.
    , name ? null
      # The tag recorded in index.json (`org.opencontainers.image.ref.name`; skopeo's
      # `oci:result:<tag>`). Default: the spec's ("latest").
    , tag ? null
      # The creation time written in the image config (RFC 3339). Default: the spec's
      # "1970-01-01T00:00:01Z", as dockerTools'; a wall-clock time would make the image differ
      # on every build, so there is no "now".
    , created ? null
      # OCI config keys (Env, Entrypoint, Cmd, WorkingDir, User, Labels, ExposedPorts,
      # Volumes, StopSignal) that replace the spec's own, key by key.
    , config ? { }
    }:
    let
      value = if builtins.isAttrs spec then spec else builtins.fromJSON (builtins.readFile spec);
      pick = override: default: if override == null then default else override;
    in
    imageOf (value // {
      name = pick name value.name;
      ref = pick tag value.ref;
      created = pick created value.created;
      config = value.config // config;
    }) src;

  buildImage = args: if args ? layers then imageOf args null else buildImageWith args;
in
{
  inherit buildImage;
  # For the CLI: `nix-build nix/image.nix --arg specFile ./spec.json`.
  fromSpecFile = specFile: imageOf (builtins.fromJSON (builtins.readFile specFile)) null;
}
