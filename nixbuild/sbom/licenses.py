"""A Debian package's licence, from the machine-readable copyright file inside its .deb.

Debian ships ``usr/share/doc/NAME/copyright`` in every package; when it follows DEP-5
(a ``Format:`` line naming copyright-format 1.0) its
``License:`` fields name the licences by short name. Those names are mapped to SPDX
identifiers (``GPL-2+`` is ``GPL-2.0-or-later``, ``Expat`` is ``MIT``); a name SPDX does not
know becomes ``LicenseRef-Debian-<name>``. A package without a DEP-5 file, or whose doc
folder is a link to another package's, has no licence here (the SBOMs say NOASSERTION).

The .deb is the one the build fetched: a fixed-output path in the Nix store named by its
sha256 (nix/fetch.nix), else the download cache. Reading it means decompressing its data
tar up to the copyright file (13 s for the 204 packages of the quickstart image on a
loaded 2-core machine), so the answer is cached by the .deb's sha256 under ``CACHE/sbom-licenses``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from pathlib import Path

from license_expression import ExpressionError, get_spdx_licensing

from nixbuild.tools.nixcmd import store_name
from nixbuild.errors import BuildError
from nixbuild.lock import DebPin, write_atomic
from nixbuild.local.nar import compress_hash, nix_base32

DEP5_FORMAT = re.compile(r"^Format:\s*https?://(www\.)?debian\.org/doc/packaging-manuals/copyright-format/1\.0/?",
                         re.IGNORECASE | re.MULTILINE)
# Debian short names (DEP-5 "Short name" table and common practice) that differ from SPDX's.
_DEBIAN_TO_SPDX = {
    "expat": "MIT", "mit": "MIT", "bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause",
    "bsd-4-clause": "BSD-4-Clause", "isc": "ISC", "zlib": "Zlib", "apache-2.0": "Apache-2.0",
    "artistic": "Artistic-1.0-Perl", "artistic-2.0": "Artistic-2.0", "mpl-1.1": "MPL-1.1",
    "mpl-2.0": "MPL-2.0", "psf-2": "PSF-2.0", "python": "Python-2.0", "cc0-1.0": "CC0-1.0",
    "cc0": "CC0-1.0", "ftl": "FTL", "openssl": "OpenSSL", "curl": "curl", "unicode-dfs-2016": "Unicode-DFS-2016",
    "bsl-1.0": "BSL-1.0", "mpl-2": "MPL-2.0", "apache-2": "Apache-2.0", "bsd-3": "BSD-3-Clause",
    "bsd-2": "BSD-2-Clause", "x11": "X11", "ofl-1.1": "OFL-1.1", "wtfpl": "WTFPL", "0bsd": "0BSD",
}
_VERSIONED = re.compile(r"^(a?gpl|lgpl|gfdl)-?(\d(?:\.\d)?)(\+)?$", re.IGNORECASE)
_LICENSING = get_spdx_licensing()
_DATA_TAR = re.compile(rb"^data\.tar(\.(gz|xz|bz2))?$")


def deb_store_path(pin: DebPin, store_dir: str = "/nix/store") -> str:
    """Where Nix keeps the pinned .deb: the flat sha256 fixed-output path of nix/fetch.nix's
    ``fetchFile`` (Nix's ``makeFixedOutputPath`` for a flat hash)."""
    name = store_name(pin.filename)
    inner = hashlib.sha256(f"fixed:out:sha256:{pin.sha256}:".encode()).hexdigest()
    fingerprint = f"output:out:sha256:{inner}:{store_dir}:{name}"
    return f"{store_dir}/{nix_base32(compress_hash(hashlib.sha256(fingerprint.encode()).digest()))}-{name}"


def spdx_id(short_name: str) -> str:
    """The SPDX identifier of one Debian licence short name (LicenseRef-Debian-... if none)."""
    name = short_name.strip()
    versioned = _VERSIONED.match(name)
    if versioned:
        family, version, later = versioned.groups()
        version = version if "." in version else f"{version}.0"
        family = {"agpl": "AGPL", "gpl": "GPL", "lgpl": "LGPL", "gfdl": "GFDL"}[family.lower()]
        candidate = f"{family}-{version}-{'or-later' if later else 'only'}"
    else:
        candidate = _DEBIAN_TO_SPDX.get(name.lower(), name)
    known = _LICENSING.known_symbols.get(candidate) or _LICENSING.known_symbols_lowercase.get(candidate.lower())
    if known is not None:
        return known.key
    return "LicenseRef-Debian-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-") or "unnamed")


def _expression(field: str) -> str:
    """One DEP-5 ``License:`` first line ("GPL-2+ or Artistic") as an SPDX expression."""
    tokens = re.split(r"\s+(or|and)\s+|\s*,\s*", field.strip(), flags=re.IGNORECASE)
    out: list[str] = []
    for token in tokens:
        if token is None or not token.strip():
            continue
        if token.lower() in ("or", "and"):
            out.append(token.upper())
        else:
            if out and out[-1] not in ("OR", "AND"):
                out.append("AND")
            out.append(spdx_id(token))
    return " ".join(out)


def dep5_license(text: str) -> str | None:
    """The licence expression a DEP-5 copyright file declares for the package: every licence
    of its ``Files:`` paragraphs, joined with AND (None when the file is not DEP-5)."""
    if not DEP5_FORMAT.search(text):
        return None
    found: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        if not re.search(r"^Files:", paragraph, re.MULTILINE):
            continue
        match = re.search(r"^License:[ \t]*(\S[^\n]*)", paragraph, re.MULTILINE)
        if match:
            expression = _expression(match.group(1))
            if expression and expression not in found:
                found.append(expression)
    if not found:
        return None
    joined = " AND ".join(f"({e})" if " " in e and len(found) > 1 else e for e in found)
    try:
        return str(_LICENSING.parse(joined, simple=True))
    except ExpressionError:
        return None


def copyright_text(deb: Path, package: str) -> str | None:
    """``usr/share/doc/PACKAGE/copyright`` from the data tar of ``deb`` (None if absent or a link)."""
    wanted = {f"./usr/share/doc/{package}/copyright", f"usr/share/doc/{package}/copyright"}
    with deb.open("rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise BuildError(f"{deb} is not a Debian package (no ar header)", fix="rebuild to fetch it again")
        while header := f.read(60):
            name, size = header[:16].rstrip(b" ").rstrip(b"/"), int(header[48:58])
            if not _DATA_TAR.match(name):
                f.seek(size + size % 2, 1)
                continue
            with tarfile.open(fileobj=f, mode="r|*") as tar:
                for member in tar:
                    if member.name in wanted:
                        if not member.isfile():
                            return None
                        extracted = tar.extractfile(member)
                        return extracted.read().decode("utf-8", "replace") if extracted else None
            return None
    return None


def deb_license(pin: DebPin, cache_dir: Path, deb: Path | None) -> str | None:
    """The package's licence expression, cached by the .deb's sha256; ``deb`` is where the
    file is (None: not available here, and not cached: no licence)."""
    entry = cache_dir / "sbom-licenses" / f"{pin.sha256}.json"
    try:
        return json.loads(entry.read_text())["license"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if deb is None:
        return None
    text = copyright_text(deb, pin.name)
    found = dep5_license(text) if text else None
    write_atomic(entry, json.dumps({"package": pin.name, "version": pin.version, "license": found}) + "\n")
    return found


def locate_deb(pin: DebPin, cache_dir: Path) -> Path | None:
    """The pinned .deb on this machine: in the Nix store, else nixbuild's download cache."""
    for candidate in (Path(deb_store_path(pin)), cache_dir / "debs" / pin.filename):
        if candidate.is_file() and candidate.stat().st_size == pin.size:
            return candidate
    return None
