# The build toolchain, made of pinned Debian packages only (no nixpkgs):
# a static busybox (seeded) unpacks a Python from .debs; builder scripts run on that Python
# through its own dynamic loader, so nothing from the host or the image leaks into them.
#   system:    the Nix system to build on
#   bootstrap: { busybox = { name; narHash; }; debs = [ { url; sha256; name; } ]; } from the spec
{ system, bootstrap }:
let
  fetch = import ./fetch.nix;
  busybox = fetch.seeded bootstrap.busybox;
  # Only the builder scripts themselves, so editing anything else in nix/ (or a stray
  # __pycache__) does not change every derivation.
  builders = builtins.path {
    name = "nixbuild-builders";
    path = ./builders;
    filter = path: type:
      let base = baseNameOf path; in
      type == "regular" && (builtins.match ".*\\.(py|sh)" base != null);
  };
  tools = derivation {
    name = "nixbuild-tools";
    inherit system;
    builder = "${busybox}/bin/busybox";
    args = [ "sh" "-e" "${builders}/unpack_tools.sh" ];
    inherit busybox;
    debs = map fetch.fetchFile bootstrap.debs;
  };
  libdir = "${tools}/usr/lib/x86_64-linux-gnu";
in
{
  inherit busybox tools builders;
  # A derivation whose builder is `script` (a file of nix/builders) run by the tool Python.
  # -E -s: ignore PYTHON* variables and user site; -B: the store is read-only anyway.
  pythonDerivation = script: attrs: derivation ({
    inherit system;
    builder = "${libdir}/ld-linux-x86-64.so.2";
    args = [ "--library-path" libdir "${tools}/usr/bin/python3.11" "-E" "-s" "-B" "${builders}/${script}" ];
  } // attrs);
}
