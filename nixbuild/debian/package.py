"""One binary package version, as a Packages stanza describes it."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .control import parse_paragraph
from .relations import Alternatives, Relation, parse_flat, parse_groups

# "ubuntu": an Ubuntu registry base's suites (nixbuild.registry.ubuntu), one mirror for all.
Archive = Literal["debian", "debian-security", "ubuntu"]


class Package(BaseModel):
    """A binary package version from a suite's index: what to fetch and how it relates.

    ``filename`` is the pool path relative to the root of ``archive`` (which mirror serves it);
    relation fields are parsed (``depends`` etc. are groups of alternatives).
    """

    model_config = ConfigDict(frozen=True, ignored_types=(cached_property,))

    name: str
    version: str
    architecture: str
    filename: str
    size: int
    sha256: str
    archive: Archive
    suite: str
    source: str  # source package name (the binary's own name when the stanza has none)
    source_version: str  # the source package's version (the binary's when not given)
    priority: str = ""
    essential: bool = False
    important: bool = False  # "Important: yes" / "Protected: yes"
    multi_arch: str = "no"
    section: str = ""
    depends: tuple[Alternatives, ...] = ()
    pre_depends: tuple[Alternatives, ...] = ()
    recommends: tuple[Alternatives, ...] = ()
    suggests: tuple[Alternatives, ...] = ()
    provides: tuple[Relation, ...] = ()
    conflicts: tuple[Relation, ...] = ()
    breaks: tuple[Relation, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.version, self.architecture)

    @cached_property
    def provided(self) -> dict[str, str | None]:
        """Virtual name -> provided version (None for an unversioned Provides)."""
        return {relation.name: relation.version for relation in self.provides}

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def parse_package(stanza: str, *, archive: Archive, suite: str) -> Package:
    """Build a :class:`Package` from the text of one Packages stanza."""
    fields = parse_paragraph(stanza)
    # "Source: name" or "Source: name (version)" when the binary's version differs (binNMUs).
    source_field = fields.get("source", "").split()
    source = source_field[0] if source_field else fields["package"]
    source_version = source_field[1].strip("()") if len(source_field) > 1 else fields["version"]
    important = fields.get("important") or fields.get("protected") or ""
    return Package(
        name=fields["package"],
        version=fields["version"],
        architecture=fields.get("architecture", ""),
        filename=fields.get("filename", ""),
        size=int(fields.get("size", "0")),
        sha256=fields.get("sha256", ""),
        archive=archive,
        suite=suite,
        source=source,
        source_version=source_version,
        priority=fields.get("priority", ""),
        essential=fields.get("essential", "").lower() == "yes",
        important=important.lower() == "yes",
        multi_arch=fields.get("multi-arch", "no").lower(),
        section=fields.get("section", ""),
        depends=parse_groups(fields.get("depends")),
        pre_depends=parse_groups(fields.get("pre-depends")),
        recommends=parse_groups(fields.get("recommends")),
        suggests=parse_groups(fields.get("suggests")),
        provides=parse_flat(fields.get("provides")),
        conflicts=parse_flat(fields.get("conflicts")),
        breaks=parse_flat(fields.get("breaks")),
    )
