# Fixed-output fetches: every input is named by its hash, so a path already in the store
# (seeded by `nixbuild prefetch`, or fetched once) is never fetched again, whatever its URL.
{
  # Store names allow only [A-Za-z0-9+._?=-]: Debian versions carry `~` and `:`.
  storeName = name: builtins.replaceStrings [ "~" ":" "%" ] [ "_" "_" "_" ] name;

  # A file fetched by Nix itself (builtin:fetchurl), checked against `sha256` (hex, flat).
  #   url:    where to get it; only used when the path is not in the store yet
  #   sha256: hex digest of the file, from the lock
  #   name:   the store name (sanitised here)
  fetchFile = { url, sha256, name }: derivation {
    name = (import ./fetch.nix).storeName name;
    builder = "builtin:fetchurl";
    system = "builtin";
    inherit url;
    urls = [ url ];
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = sha256;
    unpack = false;
    executable = false;
    preferLocalBuild = true;
    impureEnvVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy" ];
  };

  # A file known only by its sha256 (hex, flat), put into the store beforehand with
  # `nix-store --add-fixed sha256 FILE` named `name` (the CLI does this for the blobs of a
  # registry base, which take a registry login: nixbuild/registry/blobs.py).
  seededFile = { name, sha256 }: derivation {
    inherit name;
    builder = "builtin:fetchurl";
    system = "builtin";
    url = "file:///run-nixbuild-prefetch-to-seed/${name}";
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = sha256;
    unpack = false;
    executable = false;
    preferLocalBuild = true;
  };

  # A directory known only by its NAR hash, put into the store beforehand with
  # `nix-store --add-fixed --recursive sha256 DIR` (the CLI does this for the bootstrap
  # busybox it extracts from the pinned busybox-static .deb). Nothing can fetch it: a
  # missing seed fails here with the URL below naming the command that provides it.
  seeded = { name, narHash }: derivation {
    inherit name;
    builder = "builtin:fetchurl";
    system = "builtin";
    url = "file:///run-nixbuild-prefetch-to-seed/${name}";
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = narHash;
    unpack = true;
    preferLocalBuild = true;
  };
}
