"""Package relation fields (Depends, Provides, Conflicts, ...) parsed into typed values.

Syntax (deb-control(5)): a comma-separated list of groups; a group is ``|``-separated
alternatives; an alternative is ``name[:arch] [(op version)]``. Binary package indexes carry no
architecture restrictions (``[amd64]``) or build profiles (``<!nocheck>``) -- those belong to
source packages -- but they are skipped if present rather than misread as names.
"""

from __future__ import annotations

import re
from typing import cast

from pydantic import BaseModel, ConfigDict

from .version import RelationOp, satisfies

# dpkg still accepts the obsolete "<" and ">", which mean "<=" and ">=".
_OBSOLETE_OPS: dict[str, RelationOp] = {"<": "<=", ">": ">="}

_ATOM = re.compile(
    r"""^\s*(?P<name>[^\s:(\[<]+)(?::(?P<arch>[^\s(\[<]+))?\s*
        (?:\(\s*(?P<op><<|<=|>=|>>|=|<|>)\s*(?P<version>[^\s)]+)\s*\))?\s*
        (?:\[[^\]]*\]\s*)?(?:<[^>]*>\s*)*$""",
    re.VERBOSE,
)


class Relation(BaseModel):
    """One alternative of a relation: a package name, an optional architecture qualifier
    (``any``, ``native`` or an architecture) and an optional version constraint."""

    model_config = ConfigDict(frozen=True)

    name: str
    arch: str | None = None
    op: RelationOp | None = None
    version: str | None = None

    def allows(self, version: str) -> bool:
        """Whether a package version (or a provided version) meets the version constraint."""
        return satisfies(version, self.op, self.version)

    def __str__(self) -> str:
        text = self.name if self.arch is None else f"{self.name}:{self.arch}"
        if self.op is not None:
            text += f" ({self.op} {self.version})"
        return text


# A dependency group: alternatives, the first installable one is preferred.
Alternatives = tuple[Relation, ...]


def parse_relation(text: str) -> Relation:
    """Parse one alternative (``libc6 (>= 2.36)``, ``python3:any``)."""
    match = _ATOM.match(text)
    if match is None:
        raise ValueError(f"cannot parse package relation {text!r}")
    op = cast(RelationOp | None, _OBSOLETE_OPS.get(match["op"], match["op"]))  # the model checks it
    return Relation(name=match["name"], arch=match["arch"], op=op, version=match["version"])


def parse_groups(field: str | None) -> tuple[Alternatives, ...]:
    """Parse a Depends-like field into groups of alternatives."""
    if not field or not field.strip():
        return ()
    return tuple(
        tuple(parse_relation(alternative) for alternative in group.split("|"))
        for group in field.split(",")
        if group.strip()
    )


def parse_flat(field: str | None) -> tuple[Relation, ...]:
    """Parse a field without alternatives (Provides, Conflicts, Breaks)."""
    return tuple(relation for group in parse_groups(field) for relation in group)


def format_group(group: Alternatives) -> str:
    return " | ".join(str(relation) for relation in group)
