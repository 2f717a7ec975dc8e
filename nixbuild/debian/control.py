"""deb822 paragraphs: the ``Field: value`` format of Packages, Release and ``*.sources`` files.

Field names are case-insensitive in deb822, so paragraphs are returned with lower-case keys.
Continuation lines (starting with a space or tab) extend the previous field; a continuation
line of just ``.`` stands for an empty line. Lines starting with ``#`` are comments (allowed
in sources files, absent from archive indexes).
"""

from __future__ import annotations

Paragraph = dict[str, str]


def parse_paragraph(text: str) -> Paragraph:
    """Parse one paragraph (no blank lines inside)."""
    fields: Paragraph = {}
    key: str | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line[0] in " \t":
            if key is None:
                raise ValueError(f"continuation line before any field: {line!r}")
            rest = line.strip()
            fields[key] += "\n" + ("" if rest == "." else rest)
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"not a 'Field: value' line: {line!r}")
        key = name.strip().lower()
        fields[key] = value.strip()
    return fields


def parse_paragraphs(text: str) -> list[Paragraph]:
    """Parse every paragraph of a file; blank (or whitespace-only) lines separate paragraphs."""
    paragraphs: list[Paragraph] = []
    block: list[str] = []
    for line in text.splitlines() + [""]:
        if line.strip():
            block.append(line)
        elif block:
            paragraph = parse_paragraph("\n".join(block))
            if paragraph:  # a block of comments only is not a paragraph
                paragraphs.append(paragraph)
            block = []
    return paragraphs
