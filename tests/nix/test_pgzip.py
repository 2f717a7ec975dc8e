"""nix/builders/pgzip.py: parallel gzip whose bytes do not depend on the thread count.

The oracle for "is this valid gzip holding exactly the input" is the host's gzip (`gzip -t`,
`gzip -dc`), not Python's reader."""

import gzip
import io
import random
import subprocess

import pytest

import pgzip


def compressed(data: bytes, workers: int, write_size: int = 65536, level: int = 6) -> bytes:
    sink = io.BytesIO()
    with pgzip.GzipWriter(sink, level, workers) as gz:
        for start in range(0, len(data), write_size):
            gz.write(data[start:start + write_size])
    return sink.getvalue()


def sample(size: int) -> bytes:
    """Compressible but not trivial: words from a small vocabulary with random bytes between."""
    rng = random.Random(size)
    words = [bytes(rng.randrange(97, 123) for _ in range(rng.randrange(3, 12))) for _ in range(500)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + bytes([rng.randrange(256)])
    return bytes(out[:size])


@pytest.mark.parametrize("size", [0, 1, pgzip.CHUNK - 1, pgzip.CHUNK, pgzip.CHUNK + 1, 5 * pgzip.CHUNK + 12345])
def test_gzip_reads_back_exactly_the_input(tmp_path, size):
    data = sample(size)
    path = tmp_path / "x.gz"
    path.write_bytes(compressed(data, 3))
    subprocess.run(["gzip", "-t", str(path)], check=True)
    assert subprocess.run(["gzip", "-dc", str(path)], check=True, capture_output=True).stdout == data


def test_bytes_do_not_depend_on_threads_or_write_sizes():
    data = sample(6 * pgzip.CHUNK + 777)
    one = compressed(data, 1)
    assert compressed(data, 2) == one
    assert compressed(data, 8, write_size=1000) == one
    assert compressed(data, 4, write_size=3 * pgzip.CHUNK) == one


def test_header_is_fixed_and_matches_across_levels_only_in_the_header():
    data = sample(3 * pgzip.CHUNK)
    fast, best = compressed(data, 2, level=1), compressed(data, 2, level=9)
    assert fast[:10] == best[:10] == bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255])  # no name, mtime 0
    assert len(best) < len(fast)


def test_dictionary_keeps_matches_across_chunk_boundaries():
    """Random 16 KiB repeated: one gzip stream stores its bytes once. Each piece is primed
    with the 32 KiB before it, so it too stores them once, not once more per piece (3 pieces
    after the first: 48 KiB more)."""
    period = random.Random(1).randbytes(16 * 1024)
    data = period * (4 * pgzip.CHUNK // len(period))
    assert len(compressed(data, 2)) < len(gzip.compress(data, 6)) + 1024


def test_threads_come_from_nix_build_cores(monkeypatch):
    monkeypatch.setenv("NIX_BUILD_CORES", "3")
    assert pgzip.threads() == 3
    monkeypatch.setenv("NIX_BUILD_CORES", "0")
    assert pgzip.threads() >= 1
