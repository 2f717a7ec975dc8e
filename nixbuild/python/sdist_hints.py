"""Which Debian package usually provides what a failed sdist build was missing.

nix/builders/python_install.py ends a failed build with ``...; missing: <what>``, where
<what> is a header (``lber.h``), a library (``-lpq`` gives ``pq``), a pkg-config module or a
program. The table holds what Python packages commonly need on Debian bookworm and trixie;
anything else gets the general rule (``lib<name>-dev``) and a way to look it up.
"""

from __future__ import annotations

# Headers, pkg-config modules, libraries and programs -> the Debian package with them.
PROVIDERS = {
    "Python.h": "python3-dev",
    "ffi.h": "libffi-dev", "ffi": "libffi-dev", "libffi": "libffi-dev",
    "openssl/ssl.h": "libssl-dev", "openssl/opensslv.h": "libssl-dev", "openssl/err.h": "libssl-dev",
    "ssl": "libssl-dev", "crypto": "libssl-dev", "openssl": "libssl-dev",
    "zlib.h": "zlib1g-dev", "z": "zlib1g-dev", "zlib": "zlib1g-dev",
    "bzlib.h": "libbz2-dev", "bz2": "libbz2-dev",
    "lzma.h": "liblzma-dev", "lzma": "liblzma-dev",
    "zstd.h": "libzstd-dev", "zstd": "libzstd-dev", "libzstd": "libzstd-dev",
    "lz4.h": "liblz4-dev", "lz4": "liblz4-dev",
    "snappy-c.h": "libsnappy-dev", "snappy": "libsnappy-dev",
    "sqlite3.h": "libsqlite3-dev", "sqlite3": "libsqlite3-dev",
    "libpq-fe.h": "libpq-dev", "pq": "libpq-dev", "pg_config": "libpq-dev", "libpq": "libpq-dev",
    "mysql.h": "default-libmysqlclient-dev", "mysql_config": "default-libmysqlclient-dev",
    "mysqlclient": "default-libmysqlclient-dev",
    "lber.h": "libldap-dev", "ldap.h": "libldap-dev", "ldap": "libldap-dev", "lber": "libldap-dev",
    "sasl/sasl.h": "libsasl2-dev", "sasl2": "libsasl2-dev",
    "libxml/xmlversion.h": "libxml2-dev", "libxml/parser.h": "libxml2-dev", "xml2": "libxml2-dev",
    "xml2-config": "libxml2-dev", "libxml-2.0": "libxml2-dev",
    "libxslt/xsltconfig.h": "libxslt1-dev", "xslt": "libxslt1-dev", "xslt-config": "libxslt1-dev",
    "yaml.h": "libyaml-dev", "yaml": "libyaml-dev",
    "jpeglib.h": "libjpeg-dev", "jpeg": "libjpeg-dev",
    "png.h": "libpng-dev", "png": "libpng-dev", "libpng": "libpng-dev",
    "tiffio.h": "libtiff-dev", "tiff": "libtiff-dev",
    "ft2build.h": "libfreetype-dev", "freetype2": "libfreetype-dev", "freetype": "libfreetype-dev",
    "cairo.h": "libcairo2-dev", "cairo": "libcairo2-dev",
    "gmp.h": "libgmp-dev", "gmp": "libgmp-dev", "mpfr.h": "libmpfr-dev", "mpc.h": "libmpc-dev",
    "krb5.h": "libkrb5-dev", "gssapi/gssapi.h": "libkrb5-dev", "krb5-config": "libkrb5-dev",
    "curl/curl.h": "libcurl4-openssl-dev", "curl-config": "libcurl4-openssl-dev", "curl": "libcurl4-openssl-dev",
    "sndfile.h": "libsndfile1-dev", "portaudio.h": "portaudio19-dev",
    "hdf5.h": "libhdf5-dev", "hdf5": "libhdf5-dev",
    "cblas.h": "libopenblas-dev", "openblas": "libopenblas-dev", "lapack": "liblapack-dev",
    "graphviz/cgraph.h": "libgraphviz-dev", "libcgraph": "libgraphviz-dev",
    "security/pam_appl.h": "libpam0g-dev",
    "dbus/dbus.h": "libdbus-1-dev", "dbus-1": "libdbus-1-dev",
    "glib.h": "libglib2.0-dev", "glib-2.0": "libglib2.0-dev",
    "systemd/sd-daemon.h": "libsystemd-dev", "libsystemd": "libsystemd-dev",
    "uuid/uuid.h": "uuid-dev", "uuid": "uuid-dev",
    "readline/readline.h": "libreadline-dev", "readline": "libreadline-dev",
    "ncurses.h": "libncurses-dev", "curses.h": "libncurses-dev", "ncurses": "libncurses-dev",
    "expat.h": "libexpat1-dev", "expat": "libexpat1-dev",
    "magic.h": "libmagic-dev", "magic": "libmagic-dev",
    "libusb-1.0/libusb.h": "libusb-1.0-0-dev", "libusb-1.0": "libusb-1.0-0-dev",
    "pkg-config": "pkg-config", "pkgconf": "pkgconf",
    "cmake": "cmake", "swig": "swig", "gfortran": "gfortran", "cargo": "cargo", "rustc": "rustc",
}


def provider(missing: str) -> str | None:
    """The Debian package that usually provides ``missing``, when known."""
    return PROVIDERS.get(missing) or PROVIDERS.get(missing.removeprefix("lib"))


def hint(missing: str | None, step_index: int) -> str:
    """The fix line for a failed sdist build."""
    install_before = f"before step {step_index}"
    if missing is None:
        return ("the compiler's output is above; a missing system library is installed with "
                f"apt_install(...) {install_before}, or pin a version of the package that has a wheel")
    known = provider(missing)
    if known:
        return f"add .apt_install(\"{known}\") {install_before} (Debian's {known} provides {missing})"
    guess = f"lib{missing.split('/')[0].removesuffix('.h').removeprefix('lib')}-dev"
    return (f"install the Debian package that provides {missing} with apt_install(...) {install_before}; "
            f"often it is {guess} (`apt-file search {missing}` finds it)")
