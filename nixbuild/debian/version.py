"""Debian version ordering, as dpkg defines it (deb-version(7)).

A version is ``[epoch:]upstream[-revision]``. Versions compare by epoch (an integer), then
upstream, then revision; upstream and revision compare with dpkg's "verrevcmp": alternate runs
of non-digits (compared character by character, letters before non-letters, ``~`` before
everything, even the end of the string) and runs of digits (compared as numbers).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

RelationOp = Literal["<<", "<=", "=", ">=", ">>"]

RELATION_OPS: tuple[RelationOp, ...] = ("<<", "<=", "=", ">=", ">>")


def split_version(version: str) -> tuple[int, str, str]:
    """Return ``(epoch, upstream, revision)``; a missing revision is ``""`` (dpkg: "0")."""
    epoch = 0
    colon = version.find(":")
    if colon != -1:
        epoch = int(version[:colon])
        version = version[colon + 1 :]
    dash = version.rfind("-")
    if dash == -1:
        return epoch, version, ""
    return epoch, version[:dash], version[dash + 1 :]


_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _order(char: str) -> int:
    """dpkg's character weight: ``~`` < end of string < letters < everything else (ASCII only)."""
    if char == "~":
        return -1
    if char in _DIGITS:
        return 0
    if char in _LETTERS:
        return ord(char)
    return ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    len_a, len_b = len(a), len(b)
    while i < len_a or j < len_b:
        first_diff = 0
        # Non-digit run: compare character weights; the end of a string weighs 0, so "~"
        # (weight -1) sorts before it and letters after it.
        while (i < len_a and a[i] not in _DIGITS) or (j < len_b and b[j] not in _DIGITS):
            ac = _order(a[i]) if i < len_a else 0
            bc = _order(b[j]) if j < len_b else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        # Digit run: skip leading zeros, then the longer run is larger, else the first
        # differing digit decides.
        while i < len_a and a[i] == "0":
            i += 1
        while j < len_b and b[j] == "0":
            j += 1
        while i < len_a and a[i] in _DIGITS and j < len_b and b[j] in _DIGITS:
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len_a and a[i] in _DIGITS:
            return 1
        if j < len_b and b[j] in _DIGITS:
            return -1
        if first_diff:
            return first_diff
    return 0


@lru_cache(maxsize=65536)
def compare_versions(a: str, b: str) -> int:
    """Compare two Debian versions like ``dpkg --compare-versions``: <0, 0 or >0."""
    if a == b:
        return 0
    epoch_a, upstream_a, revision_a = split_version(a)
    epoch_b, upstream_b, revision_b = split_version(b)
    if epoch_a != epoch_b:
        return -1 if epoch_a < epoch_b else 1
    result = _verrevcmp(upstream_a, upstream_b) or _verrevcmp(revision_a, revision_b)
    return (result > 0) - (result < 0)


def satisfies(version: str, op: RelationOp | None, ref: str | None) -> bool:
    """Whether ``version`` satisfies the relation ``(op ref)``; no operator means any version."""
    if op is None or ref is None:
        return True
    cmp = compare_versions(version, ref)
    if op == "<<":
        return cmp < 0
    if op == "<=":
        return cmp <= 0
    if op == "=":
        return cmp == 0
    if op == ">=":
        return cmp >= 0
    if op == ">>":
        return cmp > 0
    raise ValueError(f"unknown version relation {op!r}")
