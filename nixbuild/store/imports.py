"""Adding paths made here, references included, to the default Nix store in one step:
``nix-store --import`` of an export stream written here. Standard library only (the one-file
edit, nixbuild/local/edit.py, runs before anything else is loaded).

``nix-store --add-fixed`` cannot say that a path refers to others, so an image layout, whose
blobs are symbolic links to its layers, would not keep them from the garbage collector. An
export stream (Nix's ``exportPaths``, read back by ``importPaths``) carries each path's NAR,
its name, its references and its deriver; Nix checks the NAR and registers the references
as given. Each path is named as ``nix store make-content-addressed`` would name it (a
"source" path whose type lists its references, ``local/nar.py``), so its name still says
what it holds, and importing the same content twice is a no-op.

The stream, per path: the number 1, the NAR, the magic ``NIXE``, the path, the references
(a count, then each path), the deriver (empty) and 0 (no signature); then 0 after the last.
Numbers are little-endian 64-bit; strings are a length, the bytes and zero padding to 8.
Nix adds the paths in the stream's order, so a path's references come before it.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from nixbuild.errors import BuildError
from nixbuild.local.nar import dump_path, fixed_output_path, nix_base32

_EXPORT_MAGIC = 0x4558494E


class Importable(NamedTuple):
    """A folder made here, ready to be imported: its NAR and the store path it will have."""

    store_path: str
    nar: bytes
    references: tuple[str, ...]


def importable(folder: Path, name: str, references: Iterable[str] = ()) -> Importable:
    """``folder`` as the content-addressed store path ``name``, referring to ``references``."""
    chunks: list[bytes] = []
    dump_path(folder, chunks.append)
    nar = b"".join(chunks)
    refs = tuple(sorted(set(references)))
    path = fixed_output_path(name, nix_base32(hashlib.sha256(nar).digest()), references=refs)
    return Importable(store_path=path, nar=nar, references=refs)


def _num(value: int) -> bytes:
    return struct.pack("<Q", value)


def _str(text: str) -> bytes:
    data = text.encode()
    return _num(len(data)) + data + b"\0" * (-len(data) % 8)


def export_stream(items: Iterable[Importable]) -> bytes:
    """What ``nix-store --export`` writes for ``items`` (in that order)."""
    out = []
    for item in items:
        out += [_num(1), item.nar, _num(_EXPORT_MAGIC), _str(item.store_path), _num(len(item.references)),
                *map(_str, item.references), _str(""), _num(0)]
    out.append(_num(0))
    return b"".join(out)


class Importer:
    """One ``nix-store --import``, started before its paths are made, so that Nix's start
    (tens of milliseconds) overlaps the making; ``run`` hands it the paths, ``cancel`` stops
    it with nothing imported."""

    def __init__(self, nix_store: str = "nix-store"):
        self._proc = subprocess.Popen([nix_store, "--import"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)

    def run(self, items: list[Importable]) -> None:
        """Add ``items`` to the default store (each after the items it refers to)."""
        _, stderr = self._proc.communicate(export_stream(items))
        if self._proc.returncode != 0:
            raise BuildError(f"nix-store --import failed: {stderr.decode(errors='replace').strip()}")

    def cancel(self) -> None:
        if self._proc.returncode is None:
            self._proc.kill()
            self._proc.communicate()
