# A local tree of a flake's spec (`nixbuild plan --flake-root`), laid out by Nix from the
# flake's own source. It is a recursive fixed-output derivation with the tree's name and NAR
# hash, exactly as the tree the CLI seeds (fetch.nix `seeded`): a fixed output's store path
# depends only on its name and hash, so this path, and every layer and image above it, is the
# one `nixbuild build` makes. Nix builds it only when that path is not in the store yet, and
# then checks the result against the hash, so a file that differs from the one the spec was
# planned with fails here, naming the tree.
{
  # The bootstrap toolchain (bootstrap.nix): its Python runs builders/local_tree.py.
  boot
  # The flake's root (a path, `./.` in its flake.nix); `sources` are named relative to it.
, src
  # { name; narHash; } from the spec: the store name and NAR hash of the tree.
, tree
  # [ { src; dest; executable; } ] from the spec: each file's path in the flake, its path in
  # the tree and its executable bit (the only permission bit a NAR keeps).
, sources
}:
let
  root = toString src;
  wanted = builtins.listToAttrs (map (s: { name = s.src; value = true; }) sources);
  # Every folder above a wanted file ("a", "a/b" for "a/b/c.py"), so the filter enters it.
  parents = file:
    let parts = builtins.filter builtins.isString (builtins.split "/" file);
    in builtins.genList (n: builtins.concatStringsSep "/" (builtins.genList (builtins.elemAt parts) (n + 1)))
      (builtins.length parts - 1);
  folders = builtins.listToAttrs (builtins.concatMap
    (s: map (p: { name = p; value = true; }) (parents s.src)) sources);
  relative = path: builtins.substring (builtins.stringLength root + 1) (-1) (toString path);
  # Only the files the spec names (and the folders on the way to them) are copied.
  files = builtins.path {
    name = "${tree.name}-sources";
    path = src;
    filter = path: type:
      if type == "directory" then folders ? ${relative path} else wanted ? ${relative path};
  };
in
if !builtins.isPath src then throw "nixbuild: src must be a path (./. in the flake), not ${builtins.typeOf src}"
else boot.pythonDerivation "local_tree.py" {
  inherit (tree) name;
  inherit files;
  sources = builtins.toJSON sources;
  passAsFile = [ "sources" ];
  outputHashMode = "recursive";
  outputHashAlgo = "sha256";
  outputHash = tree.narHash;
}
