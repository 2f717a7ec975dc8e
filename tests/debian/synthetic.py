"""Indexes built from the hand-written Packages files in tests/fixtures/debian/."""

from __future__ import annotations

from pathlib import Path

from nixbuild.debian import PackageIndex, Suite

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "debian"
MAIN = Suite(archive="debian", name="bookworm")
SECURITY = Suite(archive="debian-security", name="bookworm-security")


def fixture_text(name: str) -> str:
    return (FIXTURES / f"{name}.Packages").read_text()


def fixture_index(name: str) -> PackageIndex:
    """The index of one fixture file, as the suite ``bookworm`` of the main archive."""
    return PackageIndex.from_texts([(MAIN, fixture_text(name))])


def two_suite_index() -> PackageIndex:
    """``suite-main`` as bookworm and ``suite-security`` as bookworm-security."""
    return PackageIndex.from_texts(
        [(MAIN, fixture_text("suite-main")), (SECURITY, fixture_text("suite-security"))]
    )
