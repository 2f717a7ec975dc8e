# The build toolchain, made of pinned Debian packages only (no nixpkgs):
# a static busybox (seeded) unpacks a Python from .debs; builder scripts run on that Python
# through its own dynamic loader, so nothing from the host or the image leaks into them.
#   system:    the Nix system to build on
#   bootstrap: { busybox = { name; narHash; }; debs = [ { url; sha256; name; } ]; } from the spec
{ system, bootstrap }:
let
  fetch = import ./fetch.nix;
  busybox = fetch.seeded bootstrap.busybox;
  # Each builder script with the modules it imports, and nothing else: a derivation depends on
  # exactly the code it runs, so editing one builder rebuilds only the layers it makes.
  imports = {
    "deb_layer.py" = [ "debfile.py" "layertar.py" "pgzip.py" "maintainer.py" "run_layer.py" "overlay.py" "layer_tree.py" ];
    "tree_layer.py" = [ "layertar.py" "pgzip.py" "overlay.py" ];
    "file_layer.py" = [ "layertar.py" "pgzip.py" ];
    "python_layer.py" = [ "layertar.py" "pgzip.py" ];
    "conda_layer.py" = [ "debfile.py" "layertar.py" "pgzip.py" "zstdtool.py" ];
    "registry_layer.py" = [ "layertar.py" "pgzip.py" ];
    "copy_layer.py" = [ "layertar.py" "pgzip.py" "run_layer.py" "overlay.py" ];
    "run_layer.py" = [ "layertar.py" "pgzip.py" "overlay.py" ];
    "layer_tree.py" = [ "layertar.py" "pgzip.py" "run_layer.py" "overlay.py" ];
    "run_tree.py" = [ "layertar.py" "pgzip.py" "run_layer.py" "overlay.py" "layer_tree.py" ];
    "zstd_layer.py" = [ "debfile.py" "layertar.py" "pgzip.py" "zstdtool.py" ];
    "oci_image.py" = [ ];
    "local_tree.py" = [ ];
  };
  # The one module the builders share with the CLI (nixbuild/oci/rootfs.py: image paths
  # resolved inside a root, whiteouts; stdlib only), an input of its own for the builders that
  # write into an image root: they find its folder in $sharedModules and put it on sys.path.
  shared = builtins.path {
    name = "nixbuild-shared";
    path = ../nixbuild/oci;
    filter = path: _type: baseNameOf path == "rootfs.py";
  };
  usesShared = [ "run_layer.py" "deb_layer.py" "copy_layer.py" "layer_tree.py" "run_tree.py" ];
  builder = script: builtins.path {
    name = "nixbuild-" + builtins.replaceStrings [ ".py" ] [ "" ] script;
    path = ./builders;
    filter = path: _type: builtins.elem (baseNameOf path) ([ script ] ++ imports.${script});
  };
  tools = derivation {
    name = "nixbuild-tools";
    inherit system;
    builder = "${busybox}/bin/busybox";
    args = [ "sh" "-e" ./builders/unpack_tools.sh ];
    inherit busybox;
    debs = map fetch.fetchFile bootstrap.debs;
  };
  libdir = "${tools}/usr/lib/x86_64-linux-gnu";
in
{
  inherit busybox tools;
  # A derivation whose builder is `script` (a file of nix/builders) run by the tool Python.
  # -E -s: ignore PYTHON* variables and user site; -B: the store is read-only anyway.
  pythonDerivation = script: attrs: derivation ({
    inherit system;
    builder = "${libdir}/ld-linux-x86-64.so.2";
    args = [ "--library-path" libdir "${tools}/usr/bin/python3.11" "-E" "-s" "-B" "${builder script}/${script}" ];
  } // (if builtins.elem script usesShared then { sharedModules = shared; } else { }) // attrs);
}
