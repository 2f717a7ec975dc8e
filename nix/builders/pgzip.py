"""Gzip in parallel, with output that depends on the input and the level only.

pigz's scheme, in Python (stdlib zlib, which releases the GIL while it deflates):
- the input is cut into CHUNK-sized pieces (the last one may be shorter); each is deflated
  on its own by a thread, primed with the 32 KiB of input before it (``zdict``), so matches
  across a chunk boundary are still found, as a single stream would find them;
- every piece but the last ends with a sync flush (an empty stored block: byte-aligned, not
  final), so the raw deflate pieces concatenate into one valid deflate stream; the last piece
  ends the stream (``Z_FINISH``);
- one gzip member around it: a fixed header (no name, mtime 0, no extra flags, OS
  "unknown", as Python's gzip module writes), then the CRC-32 and size of the whole input.

What a piece compresses to depends on its bytes, its dictionary and the level, never on
which thread ran it or how many there were, so the same tar gives the same bytes on a laptop
and on a 64-core builder. It differs from single-stream gzip output (the sync flushes, the
restarted matcher), and any gzip reader reads it.
"""

from __future__ import annotations

import os
import zlib
from collections import deque

CHUNK = 1 << 20
WINDOW = 32 * 1024
HEADER = bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255])


def threads() -> int:
    """How many threads to deflate with: Nix's NIX_BUILD_CORES in a build (0 means every
    core), else every core."""
    cores = os.environ.get("NIX_BUILD_CORES", "0")
    count = int(cores) if cores.isdigit() else 0
    return count or os.cpu_count() or 1


def _deflate(piece: bytes, zdict: bytes, level: int, last: bool) -> bytes:
    if zdict:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=zdict)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(piece) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class GzipWriter:
    """A write-only file: what is written to it reaches ``sink`` gzipped (see the module
    docstring). ``close`` writes the rest and the trailer; it does not close ``sink``."""

    def __init__(self, sink, level: int = 6, workers: int | None = None):
        self.sink = sink
        self.level = level
        self.workers = workers or threads()
        self.pool = None  # threads start with the second piece: a small layer needs none
        self.pending: deque = deque()  # pieces being deflated, in output order
        self.buffer = bytearray()
        self.previous = b""  # the last WINDOW bytes of input before ``buffer``
        self.crc = 0
        self.size = 0
        self.sink.write(HEADER)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        # A piece is cut only when more input follows it, so the last piece is never empty
        # unless the whole input is.
        while len(self.buffer) > CHUNK:
            self._submit(bytes(self.buffer[:CHUNK]), last=False)
            del self.buffer[:CHUNK]
        return len(data)

    def _submit(self, piece: bytes, last: bool) -> None:
        self.crc = zlib.crc32(piece, self.crc)
        self.size += len(piece)
        zdict, self.previous = self.previous, (self.previous + piece)[-WINDOW:]
        if self.pool is None and not last and self.workers > 1:
            from concurrent.futures import ThreadPoolExecutor  # here: its import is most of a small layer's time

            self.pool = ThreadPoolExecutor(self.workers)
        if self.pool is None:
            self.sink.write(_deflate(piece, zdict, self.level, last))
            return
        self.pending.append(self.pool.submit(_deflate, piece, zdict, self.level, last))
        while len(self.pending) > 2 * self.workers:  # bounded memory: write finished pieces
            self.sink.write(self.pending.popleft().result())

    def close(self) -> None:
        if self.buffer is None:
            return
        self._submit(bytes(self.buffer), last=True)
        self.buffer = None
        while self.pending:
            self.sink.write(self.pending.popleft().result())
        if self.pool is not None:
            self.pool.shutdown()
        self.sink.write(self.crc.to_bytes(4, "little") + (self.size & 0xFFFFFFFF).to_bytes(4, "little"))

    def __enter__(self) -> GzipWriter:
        return self

    def __exit__(self, kind, *_rest) -> None:
        if kind is None:
            self.close()
        elif self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
