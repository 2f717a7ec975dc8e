"""Debian's zstd in a build: the bootstrap Python has no zstd module, so the pinned .debs of
``zstd`` and what it links (the lock's tools) are unpacked into the build's temporary folder
and the binary is run through the loader they ship (nothing of the host or the image).

Used to decompress (conda_layer.py: ``.conda`` members) and to compress (zstd_layer.py:
image layers). Compression is deterministic: ``--no-content-size`` (the frame header then
does not depend on whether the input was a file or a pipe) and ``-T N`` with N >= 1 (zstd's
multi-threaded mode, whose output does not depend on N; N = 0 would be the single-threaded
mode, whose frames differ).
"""

from __future__ import annotations

import os
import subprocess

from debfile import read_deb


class Zstd:
    """Runs zstd: ``argv`` is the command without its options."""

    def __init__(self, argv: list[str]):
        self.argv = argv

    @classmethod
    def from_debs(cls, debs: list[str], root: str) -> "Zstd":
        """Debian's zstd, unpacked from its pinned .debs into ``root``."""
        for path in debs:
            with open(path, "rb") as f:
                deb = read_deb(f.read())
            for entry in deb.entries:
                dest = os.path.join(root, entry.path)
                if entry.info.isdir():
                    os.makedirs(dest, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                if entry.info.issym():
                    if not os.path.lexists(dest):
                        os.symlink(entry.info.linkname, dest)
                elif entry.data is not None:
                    with open(dest, "wb") as out:
                        out.write(entry.data)
                    os.chmod(dest, entry.info.mode & 0o777)
        libs = [os.path.join(root, d) for d in ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")]
        return cls([os.path.join(root, "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), "--library-path",
                    ":".join(libs), os.path.join(root, "usr/bin/zstd")])

    def decompress(self, data: bytes) -> bytes:
        return subprocess.run([*self.argv, "-d", "-c", "-q"], input=data, capture_output=True, check=True).stdout

    def compressor(self, sink, *, level: int, threads: int) -> subprocess.Popen:
        """A zstd process compressing what is written to its stdin into the file ``sink``."""
        return subprocess.Popen([*self.argv, "-q", "-c", f"-{level}", f"-T{max(threads, 1)}", "--no-content-size"],
                                stdin=subprocess.PIPE, stdout=sink)
