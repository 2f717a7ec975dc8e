"""A suite's ``Packages`` index, scanned once into a compact table and cached.

A full parse of bookworm's 63,000 stanzas into objects takes seconds (python-debian: ~17 s),
and a resolution looks at a few hundred of them. So the scan keeps only what is needed to
*find* packages -- name, version, architecture, the stanza's byte range, Provides, and the
fields ``minbase`` and apt's tie-breaks look at -- and a stanza is parsed in full only when
its package is used (:func:`nixbuild.debian.package.parse_package`).

The table is stored with :mod:`marshal` (plain tuples and strings load in tens of
milliseconds) next to the uncompressed index, both keyed by the SHA256 of the verified
``Packages.xz``: a cache entry can only ever describe the bytes the archive signed.
"""

from __future__ import annotations

import marshal
import re
from pathlib import Path
from typing import NamedTuple

FORMAT = 1  # bump when Entry or the scan changes, so stale caches are rebuilt

# The fields the scan keeps, and those it only reads for the order names first appear in.
_FIELD = re.compile(
    rb"^(Package|Version|Architecture|Priority|Essential|Important|Protected|Multi-Arch|"
    rb"Provides|Pre-Depends|Depends|Conflicts|Breaks|Recommends|Suggests|Replaces|Enhances)"
    rb":[ \t]*(.*(?:\n[ \t].*)*)$",
    re.MULTILINE,
)
# The order apt's cache generator reads a stanza's relation fields in (debListParser::
# NewVersion); it creates a package the first time a name appears anywhere, which fixes the
# package IDs that apt uses to break ties between otherwise equal providers.
_MENTION_FIELDS = (
    b"Pre-Depends", b"Depends", b"Conflicts", b"Breaks", b"Recommends", b"Suggests",
    b"Replaces", b"Enhances", b"Provides",
)  # fmt: skip
# A name starts a relation field or follows "," or "|"; "name:any" targets a pseudo-package
# of its own in apt, so it does not create the package "name".
_NAMES = re.compile(rb"(?:^|[,|])\s*([^\s,|(:\[<]+)(:[^\s,|(\[<]+)?")
_PROVIDE = re.compile(r"^\s*([^\s(:]+)(?::\S+)?\s*(?:\(\s*=\s*([^\s)]+)\s*\))?\s*$")


class Entry(NamedTuple):
    """What the scan keeps of one stanza."""

    name: str
    version: str
    architecture: str
    start: int  # byte range of the stanza in the uncompressed index
    end: int
    priority: str
    essential: bool
    important: bool  # "Important: yes" / "Protected: yes": apt prefers such providers
    multi_arch: str
    provides: tuple[tuple[str, str | None], ...]  # (virtual name, provided version)


class PackagesFile:
    """One uncompressed Packages index and its scanned table."""

    def __init__(self, text: bytes, entries: list[Entry], mentions: list[str]):
        self.text = text
        self.entries = entries
        self.mentions = mentions  # package names in the order apt's cache creates them

    def stanza(self, entry: Entry) -> str:
        return self.text[entry.start : entry.end].decode("utf-8", errors="replace")

    @classmethod
    def scan(cls, text: bytes) -> "PackagesFile":
        entries: list[Entry] = []
        mentions: list[str] = []
        seen: set[bytes] = set()
        position = 0
        for block in text.split(b"\n\n"):
            start, end = position, position + len(block)
            position = end + 2
            if not block.strip():
                continue
            fields = dict(_FIELD.findall(block))
            name = fields.get(b"Package")
            if name is None:
                continue
            for mention in _mentioned(name, fields):
                if mention not in seen:
                    seen.add(mention)
                    mentions.append(mention.decode())
            provides = fields.get(b"Provides")
            entries.append(
                Entry(
                    name=name.decode(),
                    version=fields[b"Version"].decode(),
                    architecture=fields.get(b"Architecture", b"").decode(),
                    start=start,
                    end=end,
                    priority=fields.get(b"Priority", b"").decode(),
                    essential=fields.get(b"Essential", b"").lower() == b"yes",
                    important=(fields.get(b"Important") or fields.get(b"Protected") or b"")
                    .lower()
                    == b"yes",
                    multi_arch=fields.get(b"Multi-Arch", b"no").decode(),
                    provides=_parse_provides(provides.decode()) if provides else (),
                )
            )
        return cls(text, entries, mentions)

    # --- cache ---------------------------------------------------------------------------

    def save(self, text_path: Path, table_path: Path) -> None:
        """Write the index and its table (atomically: a crash leaves no half file)."""
        _write_atomic(text_path, self.text)
        _write_atomic(table_path, marshal.dumps((FORMAT, [tuple(e) for e in self.entries], self.mentions)))

    @classmethod
    def load(cls, text_path: Path, table_path: Path) -> "PackagesFile | None":
        """The cached index, or None when it is missing or from another FORMAT."""
        try:
            table = marshal.loads(table_path.read_bytes())
            text = text_path.read_bytes()
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if not (isinstance(table, tuple) and len(table) == 3 and table[0] == FORMAT):
            return None
        _, raw_entries, mentions = table
        return cls(text, list(map(Entry._make, raw_entries)), mentions)


def _mentioned(name: bytes, fields: dict[bytes, bytes]) -> list[bytes]:
    names = [name]
    for field in _MENTION_FIELDS:
        value = fields.get(field)
        if value:
            names.extend(n for n, arch in _NAMES.findall(value) if arch != b":any")
    return names


def _parse_provides(field: str) -> tuple[tuple[str, str | None], ...]:
    provides = []
    for item in field.split(","):
        match = _PROVIDE.match(item)
        if match:
            provides.append((match[1], match[2]))
    return tuple(provides)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    temporary.replace(path)
