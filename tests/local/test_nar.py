"""NAR hashes and fixed-output store paths, checked against the real Nix tools."""

import builtins
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nixbuild.errors import InvalidError
from nixbuild.local.files import LocalFile
from nixbuild.local.nar import (
    cached_nar_hash,
    fixed_output_path,
    materialise,
    nar_hash,
    nix_base32,
    nix_base32_decode,
)

needs_nix = pytest.mark.skipif(
    not (shutil.which("nix-hash") and shutil.which("nix-store")), reason="nix-hash/nix-store not installed"
)
LONG_AGO = 1_600_000_000  # mtime for files the stat cache may trust


def nix(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def source(tmp_path: Path, name: str, data: bytes, mode: int = 0o644) -> Path:
    path = tmp_path / "src" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, (LONG_AGO, LONG_AGO))
    return path


@pytest.fixture
def tree(tmp_path) -> list[LocalFile]:
    """Nested dirs, an empty file, an executable, a unicode name, a symlinked source."""
    target = source(tmp_path, "target.bin", bytes(range(256)) * 3 + b"tail")
    link = tmp_path / "src" / "link"
    link.symlink_to(target)
    specs = [
        ("/app/main.py", source(tmp_path, "main.py", b"print('hi')\n"), 0o644),
        ("/app/empty", source(tmp_path, "empty", b""), 0o644),
        ("/app/bin/run", source(tmp_path, "run", b"#!/bin/sh\necho run\n", 0o755), 0o755),
        ("/app/données/ünïcødé.txt", source(tmp_path, "u.txt", b"1234567"), 0o600),
        ("/app/a/b/c/linked.bin", link, 0o644),
        ("/etc/motd", source(tmp_path, "motd", b"12345678"), 0o444),
        ("/app/Z", source(tmp_path, "Z", b"capital sorts first"), 0o744),
    ]
    return [LocalFile(remote=r, source=s, mode=m) for r, s, m in specs]


def build_by_hand(files: list[LocalFile], root: Path) -> None:
    """The tree as a user would lay it out, independently of ``materialise``."""
    root.mkdir()
    for file in files:
        target = root / file.remote.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(file.source).read_bytes())
        target.chmod(0o755 if file.mode & 0o111 else 0o644)


@needs_nix
def test_nar_hash_and_store_path_match_nix(tree, tmp_path):
    expected = tmp_path / "by-hand"
    build_by_hand(tree, expected)
    digest = nar_hash(tree)
    assert digest == nix("nix-hash", "--type", "sha256", "--base32", str(expected))

    materialised = tmp_path / "out" / "my-tree"
    materialise(tree, materialised)
    assert nix("nix-hash", "--type", "sha256", "--base32", str(materialised)) == digest
    assert nix("nix-store", "--add-fixed", "--recursive", "sha256", str(materialised)) == fixed_output_path(
        "my-tree", digest
    )
    assert (materialised / "app/bin/run").stat().st_mode & 0o777 == 0o755
    assert (materialised / "etc/motd").stat().st_mode & 0o777 == 0o644
    assert (materialised / "app/a/b").stat().st_mode & 0o777 == 0o755
    assert not (materialised / "app/a/b/c/linked.bin").is_symlink()


@needs_nix
def test_executable_bit_changes_the_hash(tree, tmp_path):
    flipped = [LocalFile(f.remote, f.source, 0o755 if f.remote == "/app/main.py" else f.mode) for f in tree]
    assert nar_hash(flipped) != nar_hash(tree)
    build_by_hand(flipped, tmp_path / "flipped")
    assert nar_hash(flipped) == nix("nix-hash", "--type", "sha256", "--base32", str(tmp_path / "flipped"))


@needs_nix
def test_empty_tree(tmp_path):
    materialise([], tmp_path / "empty")
    assert nar_hash([]) == nix("nix-hash", "--type", "sha256", "--base32", str(tmp_path / "empty"))


@needs_nix
def test_base32_matches_nix():
    digest = hashlib.sha256(b"nixbuild").digest()
    expected = nix("nix-hash", "--type", "sha256", "--to-base32", digest.hex())
    assert nix_base32(digest) == expected
    assert nix_base32_decode(expected, 32) == digest


def test_fixed_output_path_known_value():
    # printed by nix-store --add-fixed --recursive sha256 for a directory "d" holding a file "a"
    # containing "hi\n"
    assert (
        fixed_output_path("d", "19l59z9nbs59axnhw6iqsz5bdagqb22kf0dp2zhkiq5m4b6k5247")
        == "/nix/store/qhr2hq2mkiszwi1xg99cl89vw8xsx3yl-d"
    )
    with pytest.raises(ValueError):
        fixed_output_path("has space", "19l59z9nbs59axnhw6iqsz5bdagqb22kf0dp2zhkiq5m4b6k5247")
    with pytest.raises(ValueError):
        fixed_output_path("d", "not-a-hash")


def test_a_path_that_is_both_file_and_directory_is_an_error(tmp_path):
    a = source(tmp_path, "a", b"a")
    with pytest.raises(InvalidError, match="both a file and a directory"):
        nar_hash([LocalFile("/x/y", a, 0o644), LocalFile("/x/y/z", a, 0o644)])
    with pytest.raises(InvalidError, match="added twice"):
        nar_hash([LocalFile("/x", a, 0o644), LocalFile("/x", a, 0o644)])


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """Every path opened through ``open`` from now on."""
    paths: list[str] = []
    real_open = builtins.open

    def recording_open(file, *args, **kwargs):
        paths.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    return paths


def test_cached_nar_hash_reads_no_file_when_unchanged(tree, tmp_path, opened):
    cache = tmp_path / "cache"
    first = cached_nar_hash(tree, cache)
    assert first == nar_hash(tree)
    assert len(list((cache / "nar-cache").iterdir())) == 1
    sources = {os.fspath(f.source) for f in tree}
    assert sources & set(opened)

    opened.clear()
    assert cached_nar_hash(tree, cache) == first
    assert not sources & set(opened)


def test_cached_nar_hash_changes_after_an_edit(tree, tmp_path):
    cache = tmp_path / "cache"
    first = cached_nar_hash(tree, cache)
    main = next(f for f in tree if f.remote == "/app/main.py").source
    main.write_bytes(b"print('ho')\n")  # same size: only the mtime tells
    edited = cached_nar_hash(tree, cache)
    assert edited != first and edited == nar_hash(tree)
    # Written just now, so its metadata is not trusted yet: nothing new is cached...
    assert len(list((cache / "nar-cache").iterdir())) == 1
    os.utime(main, (LONG_AGO + 5, LONG_AGO + 5))
    assert cached_nar_hash(tree, cache) == edited
    # ...until it has settled.
    assert len(list((cache / "nar-cache").iterdir())) == 2


def test_cached_nar_hash_key_covers_mode_and_remote(tree, tmp_path):
    cache = tmp_path / "cache"
    first = cached_nar_hash(tree, cache)
    exec_main = [LocalFile(f.remote, f.source, 0o755 if f.remote == "/app/main.py" else f.mode) for f in tree]
    assert cached_nar_hash(exec_main, cache) == nar_hash(exec_main) != first
    moved = [LocalFile(f.remote.replace("/app/", "/srv/"), f.source, f.mode) for f in tree]
    assert cached_nar_hash(moved, cache) == nar_hash(moved) != first


def test_cached_nar_hash_sees_an_edit_that_puts_the_mtime_back(tree, tmp_path):
    cache = tmp_path / "cache"
    first = cached_nar_hash(tree, cache)
    main = next(f for f in tree if f.remote == "/app/main.py").source
    st = main.stat()
    main.write_bytes(b"print('ho')\n")  # same size, and the old mtime again: only the ctime moved
    os.utime(main, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cached_nar_hash(tree, cache) == nar_hash(tree) != first
