"""A suite's ``Packages`` index, scanned once into a compact table and cached.

A full parse of bookworm's 63,000 stanzas into objects takes seconds (python-debian: ~17 s),
and a resolution looks at a few hundred of them. So the scan keeps only what is needed to
*find* packages -- name, version, the stanza's byte range, Provides, and the few fields that
``minbase`` and apt's tie-breaks look at -- and a stanza is parsed in full only when its
package is used (:mod:`nixbuild.debian.package`).

The table is stored column by column with :mod:`marshal` (a few lists of strings and some
byte strings load in tens of milliseconds), next to the uncompressed index, which is mapped
rather than read. Both are keyed by the SHA256 of the verified ``Packages.xz``, so a cache
entry can only ever describe bytes the archive signed.
"""

from __future__ import annotations

import marshal
import mmap
import re
from array import array
from pathlib import Path
from typing import Any, NamedTuple

from .cache import write_atomic

FORMAT = 2  # bump when the table layout or the scan changes, so stale caches are rebuilt

# The fields the scan reads: the table's, and the relations that make the mention order.
_FIELD = re.compile(
    rb"^(Package|Version|Architecture|Priority|Essential|Important|Protected|Multi-Arch|Provides|"
    rb"Pre-Depends|Depends|Conflicts|Breaks|Recommends|Suggests|Replaces|Enhances):[ \t]*(.*(?:\n[ \t].*)*)$",
    re.MULTILINE,
)
_PROVIDE = re.compile(r"^\s*([^\s(:]+)(?::\S+)?\s*(?:\(\s*=\s*([^\s)]+)\s*\))?\s*$")

# apt's cache generator creates a package the first time its name appears anywhere --
# as a stanza, or in a relation field, read in this order (debListParser::NewVersion) --
# and breaks ties between otherwise equal providers by that creation order.
_APT_FIELD_ORDER = (
    b"Pre-Depends", b"Depends", b"Conflicts", b"Breaks", b"Recommends", b"Suggests",
    b"Replaces", b"Enhances", b"Provides",
)  # fmt: skip
# A name starts a field or follows "," or "|". "name:any" targets a pseudo-package of its
# own in apt, so it does not create "name".
_NAMES = re.compile(rb"(?:^|[,|])\s*([^\s,|(:\[<]+)(:[^\s,|(\[<]+)?")

_ESSENTIAL = 1
_IMPORTANT = 2


class Entry(NamedTuple):
    """What the scan keeps of one stanza."""

    name: str
    version: str
    architecture: str
    priority: str  # "" when the stanza has none
    essential: bool
    important: bool  # "Important: yes" / "Protected: yes": apt prefers such providers
    multi_arch: str
    provides: tuple[tuple[str, str | None], ...]  # (virtual name, provided version or None)
    start: int  # byte range of the stanza in the uncompressed index
    end: int


class _Codes:
    """A column of a few distinct strings (architectures, priorities), one byte per row."""

    def __init__(self, table: list[str] | None = None, codes: bytearray | None = None):
        self.table = table or []
        self.codes = codes or bytearray()
        self._index = {value: i for i, value in enumerate(self.table)}

    def append(self, value: str) -> None:
        code = self._index.get(value)
        if code is None:
            code = self._index[value] = len(self.table)
            self.table.append(value)
        self.codes.append(code)

    def __getitem__(self, row: int) -> str:
        return self.table[self.codes[row]]


class PackagesFile:
    """One uncompressed Packages index and its scanned table, addressed by row number."""

    def __init__(
        self,
        text: bytes | mmap.mmap,
        names: list[str],
        versions: list[str],
        columns: dict[str, _Codes],
        flags: bytes | bytearray,
        offsets: array,
        provides: dict[int, tuple[tuple[str, str | None], ...]],
        *,
        order_path: Path | None = None,
    ):
        self.text = text
        self.names = names
        self.versions = versions
        self._columns = columns
        self._flags = flags
        self._offsets = offsets
        self.provides = provides  # row -> Provides, only rows that have some
        self._order_path = order_path
        self._mentions: list[str] | None = None
        self.rows: dict[str, list[int]] = {}
        for row, name in enumerate(names):
            self.rows.setdefault(name, []).append(row)

    def __len__(self) -> int:
        return len(self.names)

    def entry(self, row: int) -> Entry:
        flags = self._flags[row]
        return Entry(
            self.names[row],
            self.versions[row],
            self._columns["architecture"][row],
            self._columns["priority"][row],
            bool(flags & _ESSENTIAL),
            bool(flags & _IMPORTANT),
            self._columns["multi_arch"][row],
            self.provides.get(row, ()),
            self._offsets[2 * row],
            self._offsets[2 * row + 1],
        )

    def stanza(self, row: int) -> str:
        """The stanza's text, exactly as the archive has it."""
        start, end = self._offsets[2 * row], self._offsets[2 * row + 1]
        return bytes(self.text[start:end]).decode("utf-8", errors="replace")

    def mentions(self) -> list[str]:
        """Package names in the order apt's cache generator creates them (see above): made by
        the scan, else (a table from the cache) read from beside it, or found again."""
        if self._mentions is None:
            cached = _load_marshal(self._order_path, "order") if self._order_path else None
            if cached is None:
                order: dict[str, None] = {}
                for block in bytes(self.text).split(b"\n\n"):
                    fields = dict(_FIELD.findall(block))
                    if b"Package" in fields:
                        _mention(fields, order)
                self._save_mentions(list(order))
            else:
                self._mentions = cached.split("\n")
        return self._mentions

    def _save_mentions(self, mentions: list[str]) -> None:
        self._mentions = mentions
        if self._order_path is not None:
            write_atomic(self._order_path, marshal.dumps((FORMAT, "order", "\n".join(mentions))))

    # --- building --------------------------------------------------------------------------

    @classmethod
    def scan(cls, text: bytes, *, order_path: Path | None = None) -> PackagesFile:
        """Scan an uncompressed Packages index, and the order apt creates its names in, in one pass
        (~1.2 s for bookworm's main component; two passes took 1.6)."""
        names: list[str] = []
        versions: list[str] = []
        columns = {"architecture": _Codes(), "priority": _Codes(), "multi_arch": _Codes()}
        flags = bytearray()
        offsets = array("q")
        provides: dict[int, tuple[tuple[str, str | None], ...]] = {}
        order: dict[str, None] = {}  # the mentions, in the same pass
        position = 0
        for block in text.split(b"\n\n"):
            start, end = position, position + len(block)
            position = end + 2
            fields = dict(_FIELD.findall(block))
            name = fields.get(b"Package")
            if name is None:
                continue  # blank tail, or not a package stanza
            row = len(names)
            names.append(name.decode())
            versions.append(fields[b"Version"].decode())
            columns["architecture"].append(fields.get(b"Architecture", b"").decode())
            columns["priority"].append(fields.get(b"Priority", b"").decode())
            columns["multi_arch"].append(fields.get(b"Multi-Arch", b"no").decode())
            important = fields.get(b"Important") or fields.get(b"Protected") or b""
            flags.append(
                (_ESSENTIAL if fields.get(b"Essential", b"").lower() == b"yes" else 0)
                | (_IMPORTANT if important.lower() == b"yes" else 0)
            )
            offsets.extend((start, end))
            if b"Provides" in fields:
                provides[row] = _parse_provides(fields[b"Provides"].decode())
            _mention(fields, order)
        scanned = cls(text, names, versions, columns, flags, offsets, provides, order_path=order_path)
        scanned._save_mentions(list(order))
        return scanned

    # --- cache -----------------------------------------------------------------------------

    def save(self, text_path: Path, table_path: Path) -> None:
        """Write the index and its table (each atomically: a crash leaves no half file)."""
        write_atomic(text_path, bytes(self.text))
        table = (
            self.names,
            self.versions,
            {key: (codes.table, bytes(codes.codes)) for key, codes in self._columns.items()},
            bytes(self._flags),
            self._offsets.tobytes(),
            self.provides,
        )
        write_atomic(table_path, marshal.dumps((FORMAT, "table", table)))

    @classmethod
    def load(
        cls, text_path: Path, table_path: Path, *, order_path: Path | None = None
    ) -> PackagesFile | None:
        """The cached index, or None when it is missing, damaged or from another FORMAT."""
        table = _load_marshal(table_path, "table")
        if table is None:
            return None
        try:
            text: bytes | mmap.mmap = b""
            if text_path.stat().st_size:  # mmap refuses empty files (an empty suite)
                with text_path.open("rb") as handle:
                    text = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            names, versions, columns, flags, offset_bytes, provides = table
            offsets = array("q")
            offsets.frombytes(offset_bytes)
            if len(offsets) != 2 * len(names) or (len(names) and offsets[-1] > len(text)):
                return None
            return cls(
                text,
                names,
                versions,
                {
                    key: _Codes(list(values), bytearray(codes))
                    for key, (values, codes) in columns.items()
                },
                flags,
                offsets,
                provides,
                order_path=order_path,
            )
        except (OSError, ValueError, TypeError):
            return None


def _load_marshal(path: Path, kind: str) -> Any:
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if isinstance(data, tuple) and len(data) == 3 and data[0] == FORMAT and data[1] == kind:
        return data[2]
    return None


def _mention(fields: dict[bytes, bytes], order: dict[str, None]) -> None:
    """Add a stanza's package and the names its relation fields mention to ``order``."""
    order.setdefault(fields[b"Package"].decode(), None)
    relations = b",".join([fields[f] for f in _APT_FIELD_ORDER if f in fields])
    for mention, arch in _NAMES.findall(relations):
        if arch != b":any":
            order.setdefault(mention.decode(), None)


def _parse_provides(field: str) -> tuple[tuple[str, str | None], ...]:
    provides = []
    for item in field.split(","):
        match = _PROVIDE.match(item)
        if match:
            provides.append((match[1], match[2]))
    return tuple(provides)
