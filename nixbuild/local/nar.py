"""Nix Archive (NAR) hashing of a tree of local files, and its fixed-output store path.

A local-files step becomes a directory in the Nix store, named in the build expression only by
its NAR hash (a recursive sha256 fixed-output path). Computing that hash and path here, from
the file list alone, lets a build know the store path without copying the tree first, and
skip the copy when the path is already valid. The tree is never put together on disk to be
hashed: file contents are streamed from their sources, and :func:`cached_nar_hash` skips even
that when no file's metadata changed.

The tree's root is the image's ``/``: a file ``/app/main.py`` is ``app/main.py`` in it.
Directories are implied by the files' paths. Only a file's executable bit survives in a NAR.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import stat
import struct
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from nixbuild.errors import InvalidError

if TYPE_CHECKING:  # files.py imports the Image API; the one-file edit must not
    from nixbuild.local.files import LocalFile

NIX_BASE32_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"
_CHUNK = 1 << 20
# A file's metadata says nothing reliable about its contents if it changed within the
# timestamp granularity of the file system ("racy git"); such trees are hashed but not cached.
_RACY_NS = 2_000_000_000
_CACHE_FORMAT = b"nixbuild-nar-cache-2\0"
_STORE_NAME = re.compile(r"[A-Za-z0-9+\-._?=]+")

# A directory node: entry name (bytes, as on disk) -> subdirectory or file.
_Tree = dict[bytes, "_Tree | LocalFile"]


# ---------------------------------------------------------------------------------------------
# Nix's base-32 and hash compression


def nix_base32(data: bytes) -> str:
    """Nix's base-32: its own alphabet, and the last character holds the lowest bits."""
    length = (len(data) * 8 - 1) // 5 + 1
    chars = []
    for n in range(length - 1, -1, -1):
        bit = n * 5
        i, j = divmod(bit, 8)
        value = data[i] >> j
        if i + 1 < len(data):
            value |= data[i + 1] << (8 - j)
        chars.append(NIX_BASE32_ALPHABET[value & 0x1F])
    return "".join(chars)


def nix_base32_decode(text: str, size: int) -> bytes:
    """The inverse of :func:`nix_base32` for a hash of ``size`` bytes."""
    if len(text) != (size * 8 - 1) // 5 + 1:
        raise ValueError(f"a {size}-byte hash has {(size * 8 - 1) // 5 + 1} base-32 characters, not {len(text)}")
    out = bytearray(size)
    for n, char in enumerate(reversed(text)):
        digit = NIX_BASE32_ALPHABET.find(char)
        if digit < 0:
            raise ValueError(f"invalid Nix base-32 character {char!r}")
        i, j = divmod(n * 5, 8)
        out[i] |= (digit << j) & 0xFF
        carry = digit >> (8 - j)
        if i + 1 < size:
            out[i + 1] |= carry
        elif carry:
            raise ValueError(f"invalid Nix base-32 hash {text!r}")
    return bytes(out)


def nar_sha256_hex(value: str) -> str:
    """A NAR sha256 as Nix prints it (base32, ``sha256:``-prefixed or SRI) in hex."""
    text = value.removeprefix("sha256:")
    if text.startswith("sha256-"):
        return base64.b64decode(text[7:]).hex()
    if re.fullmatch(r"[0-9a-f]{64}", text):
        return text
    return nix_base32_decode(text, 32).hex()


def default_mode(mode: int) -> int:
    """The permission bits a NAR gives a file of mode ``mode``: only "executable" survives."""
    return 0o755 if mode & 0o111 else 0o644


def lost_modes(modes: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Of (path, permission bits) pairs, those a NAR cannot carry (a tree of local files
    keeps them beside it for the layer builder)."""
    return {path: mode for path, mode in modes if mode != default_mode(mode)}


def compress_hash(digest: bytes, size: int = 20) -> bytes:
    """Nix's ``compressHash``: fold a digest to ``size`` bytes by XOR."""
    out = bytearray(size)
    for i, byte in enumerate(digest):
        out[i % size] ^= byte
    return bytes(out)


def fixed_output_path(name: str, nar_hash_b32: str, store_dir: str = "/nix/store",
                      references: Iterable[str] = ()) -> str:
    """The store path of a recursive sha256 fixed-output path named ``name``.

    What ``nix-store --add-fixed --recursive sha256 DIR`` prints for a ``DIR`` called ``name``
    (Nix's ``makeFixedOutputPath`` for a "source" path); with ``references`` (store paths the
    content names), what ``nix store make-content-addressed`` names such a path: each
    reference is part of the type, in the order of Nix's sets.
    """
    if not _STORE_NAME.fullmatch(name) or name.startswith(".") or len(name) > 211:
        raise ValueError(f"invalid Nix store path name {name!r}")
    digest_hex = nix_base32_decode(nar_hash_b32, 32).hex()
    kind = "".join([":" + ref for ref in sorted(set(references))])
    fingerprint = f"source{kind}:sha256:{digest_hex}:{store_dir}:{name}"
    path_hash = compress_hash(hashlib.sha256(fingerprint.encode()).digest())
    return f"{store_dir}/{nix_base32(path_hash)}-{name}"


# ---------------------------------------------------------------------------------------------
# The tree and its serialisation


def _components(remote: str) -> list[str]:
    parts = PurePosixPath(remote).parts
    if not remote.startswith("/") or len(parts) < 2 or any(p in (".", "..") for p in parts[1:]):
        raise InvalidError(f"not a normalised absolute file path in the image: {remote!r}", fix="report this as a bug")
    return list(parts[1:])


def _tree(files: Iterable[LocalFile]) -> _Tree:
    root: _Tree = {}
    for file in files:
        *dirs, leaf = _components(file.remote)
        node = root
        for depth, name in enumerate(dirs):
            child = node.setdefault(os.fsencode(name), {})
            if not isinstance(child, dict):
                clash = "/" + "/".join(dirs[: depth + 1])
                raise InvalidError(
                    f"{clash} is both a file and a directory in the image", fix="give the files distinct remote paths"
                )
            node = child
        key = os.fsencode(leaf)
        if key in node:
            raise InvalidError(f"{file.remote} is added twice", fix="give the files distinct remote paths")
        node[key] = file
    return root


def _str(data: bytes) -> bytes:
    """A NAR string: little-endian 64-bit length, the bytes, zero padding to 8 bytes."""
    return struct.pack("<Q", len(data)) + data + b"\0" * (-len(data) % 8)


def _write_file(source: Path | bytes, mode: int, write: Callable[[bytes], object]) -> None:
    write(_str(b"(") + _str(b"type") + _str(b"regular"))
    if mode & 0o111:
        write(_str(b"executable") + _str(b""))
    try:
        stream = open(source, "rb")
    except OSError as exc:
        raise InvalidError(f"cannot read {os.fsdecode(source)}: {exc.strerror}", fix="make the file readable") from exc
    with stream:
        size = os.fstat(stream.fileno()).st_size
        write(_str(b"contents") + struct.pack("<Q", size))
        remaining = size
        while remaining:
            chunk = stream.read(min(_CHUNK, remaining))
            if not chunk:
                raise InvalidError(f"{os.fsdecode(source)} shrank while it was read", fix="build again once it is written")
            write(chunk)
            remaining -= len(chunk)
    write(b"\0" * (-size % 8) + _str(b")"))


def _write_dir(tree: _Tree, write: Callable[[bytes], object]) -> None:
    write(_str(b"(") + _str(b"type") + _str(b"directory"))
    for name in sorted(tree):
        write(_str(b"entry") + _str(b"(") + _str(b"name") + _str(name) + _str(b"node"))
        node = tree[name]
        if isinstance(node, dict):
            _write_dir(node, write)
        else:
            _write_file(node.source, node.mode, write)
        write(_str(b")"))
    write(_str(b")"))


def write_nar(files: Iterable[LocalFile], write: Callable[[bytes], object]) -> None:
    """Stream the NAR of the tree of ``files`` to ``write``, a chunk at a time."""
    tree = _tree(files)
    write(_str(b"nix-archive-1"))
    _write_dir(tree, write)


def dump_path(path: Path, write: Callable[[bytes], object]) -> None:
    """Stream the NAR of ``path`` as it is on disk (``nix-store --dump``): directories,
    regular files with their executable bit, and symbolic links, which are not followed."""

    def node(entry: bytes) -> None:
        st = os.lstat(entry)
        if stat.S_ISLNK(st.st_mode):
            write(_str(b"(") + _str(b"type") + _str(b"symlink") + _str(b"target") + _str(os.readlink(entry))
                  + _str(b")"))
        elif stat.S_ISDIR(st.st_mode):
            write(_str(b"(") + _str(b"type") + _str(b"directory"))
            for name in sorted(os.listdir(entry)):
                write(_str(b"entry") + _str(b"(") + _str(b"name") + _str(name) + _str(b"node"))
                node(os.path.join(entry, name))
                write(_str(b")"))
            write(_str(b")"))
        elif stat.S_ISREG(st.st_mode):
            _write_file(entry, st.st_mode, write)
        else:
            raise InvalidError(f"{os.fsdecode(entry)} is neither a file, a directory nor a symbolic link",
                               fix="report this as a bug")

    write(_str(b"nix-archive-1"))
    node(os.fsencode(path))


def nar_hash(files: Iterable[LocalFile]) -> str:
    """sha256 of the tree's NAR in Nix base-32, as ``nix-hash --type sha256 --base32`` prints."""
    digest = hashlib.sha256()
    write_nar(files, digest.update)
    return nix_base32(digest.digest())


def materialise(files: Iterable[LocalFile], dest: Path) -> None:
    """Write the tree to ``dest`` (created), with the modes a NAR can express.

    Files are 0o755 when executable and 0o644 otherwise, directories 0o755, so the copy NAR-hashes
    to :func:`nar_hash` of the same files and no other permission bit leaks into the store.
    """

    def place(tree: _Tree, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o755)
        for name, node in tree.items():
            target = directory / os.fsdecode(name)
            if isinstance(node, dict):
                place(node, target)
            else:
                shutil.copyfile(node.source, target)
                os.chmod(target, 0o755 if node.mode & 0o111 else 0o644)

    place(_tree(files), dest)


# ---------------------------------------------------------------------------------------------
# The stat-keyed cache


def _stat_key(files: Sequence[LocalFile]) -> tuple[str, bool]:
    """A digest of every file's identity and metadata, and whether any was changed so recently
    that the metadata may not reflect its contents yet."""
    digest = hashlib.sha256(_CACHE_FORMAT)
    recent = time.time_ns() - _RACY_NS
    racy = False
    for file in sorted(files, key=lambda f: f.remote):
        st = os.stat(file.source)
        remote = os.fsencode(file.remote)
        digest.update(struct.pack("<Q", len(remote)) + remote)
        # The ctime too: an edit that keeps the size and puts the mtime back still moves it.
        digest.update(struct.pack("<QQQqqI", st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                  file.mode))
        racy |= st.st_mtime_ns >= recent
    return digest.hexdigest(), racy


def cached_nar_hash(files: Sequence[LocalFile], cache_dir: Path) -> str:
    """:func:`nar_hash`, remembered under ``cache_dir/nar-cache`` by the files' stat data.

    An unchanged tree is answered from the cache without opening any file. An entry is only
    written when no file changed while it was hashed, nor within the last two seconds.
    """
    key, racy = _stat_key(files)
    entry = cache_dir / "nar-cache" / key
    try:
        cached = entry.read_text().strip()
    except OSError:
        cached = ""
    if len(cached) == 52 and all(c in NIX_BASE32_ALPHABET for c in cached):
        return cached
    result = nar_hash(files)
    after, racy_after = _stat_key(files)
    if not racy and not racy_after and after == key:
        _write_atomically(entry, result + "\n")
    return result


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
