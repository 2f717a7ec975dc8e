"""A suite's InRelease file: signature check with gpgv, then the fields nixbuild needs.

The chain of trust is the one apt uses: the archive keyring signs InRelease, InRelease lists
the SHA256 of every index, the index lists the SHA256 of every .deb. Only the text gpgv
reports as signed is parsed, so nothing outside the signature can slip in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nixbuild.errors import MirrorError, ToolMissing

from .control import parse_paragraph

KEYRING_ENV = "NIXBUILD_DEBIAN_KEYRING"
# gpgv status keywords that make apt refuse a signed file, whatever else it reports: a bad
# signature, a signature by an expired or revoked key, one gpgv could not check (ERRSIG), or
# one by a key the keyring lacks (NO_PUBKEY).
REJECTING_STATUS = ("BADSIG", "EXPKEYSIG", "REVKEYSIG", "ERRSIG", "NO_PUBKEY")
DEFAULT_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


class IndexFile(BaseModel):
    """One line of the SHA256 list: an index file below ``dists/<suite>/``."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    size: int
    path: str


class Release(BaseModel):
    """The verified content of an InRelease file."""

    model_config = ConfigDict(frozen=True)

    suite: str
    codename: str
    date: str
    valid_until: str | None
    acquire_by_hash: bool
    files: dict[str, IndexFile]  # by path relative to dists/<suite>/


def archive_keyring() -> Path:
    return Path(os.environ.get(KEYRING_ENV) or DEFAULT_KEYRING)


def verify_signed(data: bytes, *, url: str, keyring: Path | None = None) -> str:
    """Check the inline signature of ``data`` with gpgv and return the signed text.

    Accepted like apt does: at least one valid signature by a key of the keyring and none of
    :data:`REJECTING_STATUS` (see :func:`signature_problems`).
    """
    keyring = keyring or archive_keyring()
    gpgv = shutil.which("gpgv")
    if gpgv is None:
        raise ToolMissing(
            "gpgv is not installed; it is needed to verify the Debian archive's signatures",
            fix="install it (Debian: apt-get install gpgv)",
        )
    if not keyring.is_file():
        raise MirrorError(
            f"the Debian archive keyring {keyring} does not exist",
            fix=f"install debian-archive-keyring, or set {KEYRING_ENV} to the keyring file",
        )
    result = subprocess.run(
        [gpgv, "--quiet", "--status-fd", "2", "--keyring", str(keyring), "--output", "-", "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    output = result.stderr.decode(errors="replace").splitlines()
    problems = signature_problems(output)
    if problems:
        messages = [line for line in output if line.strip() and not line.startswith("[GNUPG:]")]
        raise MirrorError(
            f"{url}: the signature does not verify against {keyring} "
            f"({'; '.join(problems + messages)})",
            fix="the mirror may be serving altered or truncated files: retry, or point "
            "NIXBUILD_DEBIAN_MIRROR / NIXBUILD_DEBIAN_SECURITY_MIRROR at another mirror "
            f"(or {KEYRING_ENV} at a newer keyring if the archive rotated its keys)",
        )
    return result.stdout.decode()


def signature_problems(output: list[str]) -> list[str]:
    """What makes gpgv's ``--status-fd`` ``output`` unacceptable (empty: accepted): each
    rejecting status line (with its key id), or the lack of any valid signature."""
    problems = []
    valid = False
    for line in output:
        words = line.split()
        if len(words) < 2 or words[0] != "[GNUPG:]":
            continue
        if words[1] in REJECTING_STATUS:
            problems.append(" ".join(words[1:3]))
        elif words[1] == "VALIDSIG":
            valid = True
    if not valid and not problems:
        problems.append("no valid signature")
    return problems


def parse_release(text: str, *, url: str) -> Release:
    """Parse the (already verified) text of a Release/InRelease file."""
    try:
        fields = parse_paragraph(text)
        files: dict[str, IndexFile] = {}
        for line in fields.get("sha256", "").splitlines():
            parts = line.split()
            if len(parts) == 3:
                files[parts[2]] = IndexFile(sha256=parts[0], size=int(parts[1]), path=parts[2])
        return Release(
            suite=fields.get("suite", ""),
            codename=fields.get("codename", ""),
            date=fields["date"],
            valid_until=fields.get("valid-until"),
            acquire_by_hash=fields.get("acquire-by-hash", "no").lower() == "yes",
            files=files,
        )
    except (KeyError, ValueError) as error:
        raise MirrorError(f"{url}: not a valid Release file ({error})") from error


def check_release(release: Release, *, suite: str, url: str, now: datetime | None = None) -> None:
    """Refuse a Release file for another suite, or one past its Valid-Until (a replay)."""
    if suite not in (release.suite, release.codename):
        raise MirrorError(
            f"{url}: is for suite {release.codename or release.suite!r}, not {suite!r}",
            fix="the mirror is misconfigured; point NIXBUILD_DEBIAN_MIRROR at another one",
        )
    if release.valid_until:
        now = now or datetime.now(UTC)
        if parsedate_to_datetime(release.valid_until) < now:
            raise MirrorError(
                f"{url}: expired on {release.valid_until} (the mirror is stale)",
                fix="use an up-to-date mirror (NIXBUILD_DEBIAN_MIRROR / "
                "NIXBUILD_DEBIAN_SECURITY_MIRROR)",
            )
