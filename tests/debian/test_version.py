"""Debian version ordering (dpkg's algorithm), checked against dpkg itself too."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from nixbuild.debian.version import compare_versions, satisfies, split_version

# (lower, higher) pairs
ORDERED = [
    ("1.0~rc1", "1.0"),  # tilde sorts before the end of the string
    ("1.0~~", "1.0~"),
    ("1.0~rc1", "1.0~rc2"),
    ("9.9", "1:0.1"),  # any epoch beats no epoch
    ("1:9.9", "2:0.1"),
    ("1.0-1", "1.0-1+b1"),  # binNMU
    ("1.0-1", "1.0-2"),
    ("1.0", "1.0-0.1"),  # no revision is revision "0"
    ("2.36-9+deb12u4", "2.36-9+deb12u10"),  # digit runs compare as numbers
    ("1.2.9", "1.2.10"),
    ("1.0a", "1.0b"),
    ("1.0", "1.0a"),  # letters sort after the end of the string
    ("1.0a", "1.0+"),  # ... and before non-letters
    ("1.0+", "1.0."),  # non-letters by ASCII: '+' before '.'
    ("1.0~", "1.0+"),
    ("0.9", "1.0"),
    ("1.0-1~bpo12+1", "1.0-1"),
    ("3.0.17-1~deb12u2", "3.0.22-1~deb12u2"),
    ("7.88.1-10+deb12u8", "7.88.1-10+deb12u15"),
    ("1.2.3-1", "1.2.3a-1"),
    ("0001", "2"),  # leading zeros do not count
]

EQUAL = [
    ("1.0", "1.0"),
    ("0:1.0", "1.0"),  # epoch 0 is no epoch
    ("1.0-0", "1.0"),  # a missing revision is "0"
    ("1.01", "1.1"),
    ("1.0-1", "1.0-01"),
]


@pytest.mark.parametrize(("lower", "higher"), ORDERED)
def test_ordering(lower: str, higher: str) -> None:
    assert compare_versions(lower, higher) < 0
    assert compare_versions(higher, lower) > 0


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_equal(a: str, b: str) -> None:
    assert compare_versions(a, b) == 0
    assert compare_versions(b, a) == 0


@pytest.mark.skipif(
    shutil.which("dpkg") is None, reason="dpkg is the reference and is not installed"
)
def test_agrees_with_dpkg() -> None:
    pairs = ORDERED + EQUAL + [(b, a) for a, b in ORDERED]
    for a, b in pairs:
        for op, expected in (
            ("lt", compare_versions(a, b) < 0),
            ("eq", compare_versions(a, b) == 0),
        ):
            result = subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False)
            assert (result.returncode == 0) == expected, f"dpkg disagrees on {a} {op} {b}"


def test_split() -> None:
    assert split_version("1:2.3-4-5") == (1, "2.3-4", "5")
    assert split_version("2.3") == (0, "2.3", "")


@pytest.mark.parametrize(
    ("version", "op", "ref", "expected"),
    [
        ("2.36-9", ">=", "2.36", True),
        ("2.36", ">=", "2.36-9", False),
        ("1.0", "<<", "1.0", False),
        ("1.0~rc1", "<<", "1.0", True),
        ("1.0", "<=", "1.0", True),
        ("1.0", "=", "0:1.0", True),
        ("1.1", ">>", "1.0", True),
        ("1.0", ">>", "1.0", False),
        ("5", None, None, True),
    ],
)
def test_satisfies(version: str, op, ref, expected: bool) -> None:
    assert satisfies(version, op, ref) is expected
