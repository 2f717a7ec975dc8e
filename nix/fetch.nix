# Fixed-output fetches: every input is named by its hash, so a path already in the store
# (seeded by `nixbuild prefetch`, or fetched once) is never fetched again, whatever its URL.
rec {
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

  # A path known only by its hash, put into the store beforehand by the CLI: nothing can fetch
  # it, so a missing seed fails here with the URL below naming what provides it.
  #   seeded:     a directory, by its NAR hash (`nix-store --add-fixed --recursive sha256 DIR`;
  #               the bootstrap busybox the CLI extracts from the pinned busybox-static .deb)
  #   seededFile: a file, by its sha256 (hex, flat; `nix-store --add-fixed sha256 FILE` named
  #               `name`: the blobs of a registry base, which take a registry login,
  #               nixbuild/registry/blobs.py)
  seeded = { name, narHash }: seededPath name "recursive" narHash { unpack = true; };
  seededFile = { name, sha256 }: seededPath name "flat" sha256 { unpack = false; executable = false; };
  seededPath = name: mode: hash: attrs: derivation ({
    inherit name;
    builder = "builtin:fetchurl";
    system = "builtin";
    url = "file:///run-nixbuild-prefetch-to-seed/${name}";
    outputHashMode = mode;
    outputHashAlgo = "sha256";
    outputHash = hash;
    preferLocalBuild = true;
  } // attrs);
}
