"""What a registry base holds, read from its layer tars (expected values written by hand)."""

import gzip
import io
import tarfile
from pathlib import Path

from nixbuild.registry import facts

LIBC = b"\x7fELF...GNU C Library (Ubuntu GLIBC 2.35-0ubuntu3.8) stable release version 2.35.\n..."


def layer(path: Path, files: dict[str, bytes | str]) -> Path:
    """A gzip layer: bytes are regular files, a str starting with '->' a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content[2:]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    path.write_bytes(gzip.compress(buf.getvalue()))
    return path


def test_an_ubuntu_base_with_its_python(tmp_path):
    lower = layer(tmp_path / "1.tar.gz", {
        "usr/lib/x86_64-linux-gnu/libc.so.6": LIBC,
        "usr/lib/os-release": b'NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\nVERSION_CODENAME=jammy\n',
        "etc/os-release": "->../usr/lib/os-release",
        "var/lib/dpkg/status": b"Package: libc6\n",
        "usr/bin/python3.10": b"elf",
    })
    upper = layer(tmp_path / "2.tar.gz", {"usr/local/bin/python3.12": b"elf", "usr/local/bin/python3.12t": b"elf"})
    assert facts.read([lower, upper]) == facts.BaseFacts(glibc="2.35", python="3.12", dpkg=True, dpkg_layer=0,
                                                         os_id="ubuntu", os_version="jammy")
    assert facts.dpkg_status(lower) == "Package: libc6\n"


def test_whiteouts_remove_what_lower_layers_had(tmp_path):
    lower = layer(tmp_path / "1.tar.gz", {"usr/bin/python3.11": b"elf", "var/lib/dpkg/status": b"",
                                          "lib/x86_64-linux-gnu/libc.so.6": "->libc-2.31.so",
                                          "lib/x86_64-linux-gnu/libc-2.31.so": b"GNU C Library version 2.31."})
    upper = layer(tmp_path / "2.tar.gz", {"usr/bin/.wh.python3.11": b"", "var/lib/dpkg/.wh..wh..opq": b""})
    found = facts.read([lower, upper])
    assert (found.python, found.dpkg, found.glibc, found.os_id) == (None, False, "2.31", None)


def test_a_base_without_glibc(tmp_path):
    assert facts.read([layer(tmp_path / "1.tar.gz", {"lib/ld-musl-x86_64.so.1": b"musl"})]).glibc is None
