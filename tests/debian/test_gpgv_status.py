"""gpgv's status lines: what apt refuses, nixbuild refuses (not only BADSIG)."""

from __future__ import annotations

import pytest

from nixbuild.debian.release import signature_problems

GOOD = ["[GNUPG:] NEWSIG", "[GNUPG:] GOODSIG 6ED0E7B82643E131 Debian Archive Automatic Signing Key (12/bookworm)",
        "[GNUPG:] VALIDSIG 4CB50190207B4758A3F73A796ED0E7B82643E131 2026-11-30 1795998154"]


def test_a_valid_signature_is_accepted():
    assert signature_problems(["gpgv: Signature made ...", *GOOD]) == []


@pytest.mark.parametrize("status", [
    "[GNUPG:] BADSIG 6ED0E7B82643E131 Debian Archive Automatic Signing Key",
    "[GNUPG:] EXPKEYSIG 73A4F27B8DD47936 Debian Archive Automatic Signing Key (11/bullseye)",
    "[GNUPG:] REVKEYSIG 73A4F27B8DD47936 Debian Archive Automatic Signing Key (11/bullseye)",
    "[GNUPG:] ERRSIG 0E98404D386FA1D9 1 10 01 1795998154 9 -",
    "[GNUPG:] NO_PUBKEY 0E98404D386FA1D9",
])
def test_a_rejecting_status_beside_a_valid_signature_is_refused(status):
    keyword, key = status.split()[1:3]
    assert signature_problems([*GOOD, "[GNUPG:] NEWSIG", status]) == [f"{keyword} {key}"]


def test_no_valid_signature_is_refused():
    assert signature_problems(["[GNUPG:] NODATA 1"]) == ["no valid signature"]
    assert signature_problems([]) == ["no valid signature"]
