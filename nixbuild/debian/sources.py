"""Which Debian mirrors to use: configuration only, never a built-in host name.

Order: the environment (``NIXBUILD_DEBIAN_MIRROR``, ``NIXBUILD_DEBIAN_SECURITY_MIRROR``), then
the host's apt sources (``sources.list``, ``sources.list.d/*.list`` and ``*.sources``, in apt's
reading order). Only the base URLs are taken: the suites nixbuild needs (e.g. trixie on a
bookworm host) are served from the same URLs with the codename swapped.

``NIXBUILD_UBUNTU_MIRROR`` serves the archive ``ubuntu`` (every suite of an Ubuntu registry
base, see :mod:`nixbuild.registry.ubuntu`); it has no default, and only an Ubuntu base needs it.

Third-party repositories in the host's sources are ignored. The Debian archive is an entry
with component ``main`` that serves a Debian codename (``bookworm``, ``trixie-updates``...) and
is not signed by some other keyring; the security archive is such an entry for a
``<codename>-security`` suite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nixbuild.errors import MirrorError

from .control import parse_paragraphs

MIRROR_ENV = "NIXBUILD_DEBIAN_MIRROR"
SECURITY_MIRROR_ENV = "NIXBUILD_DEBIAN_SECURITY_MIRROR"
UBUNTU_MIRROR_ENV = "NIXBUILD_UBUNTU_MIRROR"
APT_ETC = Path("/etc/apt")

# Codenames and aliases of Debian releases; a suite is "Debian's" if it is one of these,
# optionally followed by -updates / -security / -backports / -proposed-updates.
DEBIAN_CODENAMES = frozenset(
    {
        "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
        "oldoldstable", "oldstable", "stable", "testing", "unstable",
    }
)  # fmt: skip
_SUPPORTED_SCHEMES = ("http://", "https://", "file:")


class Mirrors(BaseModel):
    """Base URLs (no trailing slash) of the Debian archive, the Debian security archive and,
    when configured, the Ubuntu archive (all of Ubuntu's suites: one mirror)."""

    model_config = ConfigDict(frozen=True)

    debian: str
    security: str
    ubuntu: str | None = None

    def base_url(self, archive: str) -> str:
        """The base URL serving ``archive`` (``debian``, ``debian-security`` or ``ubuntu``)."""
        if archive == "debian":
            return self.debian
        if archive == "debian-security":
            return self.security
        if archive == "ubuntu":
            if self.ubuntu is None:  # no built-in host: an Ubuntu mirror is configuration only
                raise MirrorError(
                    f"no Ubuntu archive mirror is configured: {UBUNTU_MIRROR_ENV} is unset",
                    fix=f"set {UBUNTU_MIRROR_ENV} to the base URL of an Ubuntu archive mirror "
                    "(the URL that has dists/ and pool/ below it)",
                )
            return self.ubuntu
        raise ValueError(f"unknown Debian archive {archive!r}")


class AptSource(BaseModel):
    """One (type, URI, suite) entry of the host's apt configuration."""

    model_config = ConfigDict(frozen=True)

    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: str | None = None
    origin: str  # the file it came from, for error messages


def _split_suite(suite: str) -> tuple[str, str]:
    """``bookworm-security`` -> (``bookworm``, ``-security``); old ``buster/updates`` too."""
    for suffix in ("/updates", "-security", "-updates", "-backports", "-proposed-updates"):
        if suite.endswith(suffix):
            return suite[: -len(suffix)], suffix
    return suite, ""


def _is_debian_signed(source: AptSource) -> bool:
    # No Signed-By means apt's global keyrings, which on Debian hold the archive keys.
    return source.signed_by is None or "debian-archive-keyring" in source.signed_by


def _is_debian_entry(source: AptSource) -> bool:
    codename, _ = _split_suite(source.suite)
    return (
        codename in DEBIAN_CODENAMES
        and "main" in source.components
        and _is_debian_signed(source)
        and source.uri.startswith(_SUPPORTED_SCHEMES)
    )


def parse_one_line(text: str, origin: str) -> Iterator[AptSource]:
    """``deb [opt=value ...] uri suite component...`` lines of a ``.list`` file."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] != "deb":
            continue  # deb-src and anything unknown
        options: dict[str, str] = {}
        rest = words[1:]
        if rest and rest[0].startswith("["):
            option_text = line[line.index("[") + 1 : line.index("]")]
            for option in option_text.split():
                key, _, value = option.partition("=")
                options[key.lower()] = value
            rest = line[line.index("]") + 1 :].split()
        if len(rest) < 2:
            continue
        yield AptSource(
            uri=rest[0].rstrip("/"),
            suite=rest[1],
            components=tuple(rest[2:]),
            signed_by=options.get("signed-by"),
            origin=origin,
        )


def parse_deb822(text: str, origin: str) -> Iterator[AptSource]:
    """Paragraphs of a ``.sources`` file; one paragraph may list several URIs and suites."""
    for paragraph in parse_paragraphs(text):
        if paragraph.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in paragraph.get("types", "").split():
            continue
        for uri in paragraph.get("uris", "").split():
            for suite in paragraph.get("suites", "").split():
                yield AptSource(
                    uri=uri.rstrip("/"),
                    suite=suite,
                    components=tuple(paragraph.get("components", "").split()),
                    signed_by=paragraph.get("signed-by"),
                    origin=origin,
                )


def host_apt_sources(apt_etc: Path = APT_ETC) -> list[AptSource]:
    """Every ``deb`` entry of the host's apt configuration, in apt's order: ``sources.list``
    first, then ``sources.list.d`` sorted by file name (``*.list`` and ``*.sources`` only)."""
    sources: list[AptSource] = []
    main_list = apt_etc / "sources.list"
    if main_list.is_file():
        sources.extend(parse_one_line(main_list.read_text(errors="replace"), str(main_list)))
    parts = apt_etc / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".list":
                sources.extend(parse_one_line(path.read_text(errors="replace"), str(path)))
            elif path.suffix == ".sources":
                sources.extend(parse_deb822(path.read_text(errors="replace"), str(path)))
    return sources


def _find(sources: list[AptSource], *, security: bool) -> str | None:
    for source in sources:
        _, suffix = _split_suite(source.suite)
        is_security = suffix in ("-security", "/updates")
        if is_security == security and _is_debian_entry(source):
            return source.uri
    return None


def configured_mirrors(
    *, environ: Mapping[str, str] | None = None, apt_etc: Path = APT_ETC
) -> Mirrors:
    """The Debian mirrors to use: environment variables first, then the host's apt sources.

    Raises :class:`MirrorError` (with the variables to set) when neither names a mirror.
    """
    env = os.environ if environ is None else environ
    sources: list[AptSource] | None = None
    found: dict[str, str] = {}
    for key, variable, security in (
        ("debian", MIRROR_ENV, False),
        ("security", SECURITY_MIRROR_ENV, True),
    ):
        value = env.get(variable, "").strip()
        if not value:
            if sources is None:
                sources = host_apt_sources(apt_etc)
            value = _find(sources, security=security) or ""
        if not value:
            kind = "Debian security archive" if security else "Debian archive"
            raise MirrorError(
                f"no {kind} mirror is configured: {variable} is unset and no entry of the "
                f"apt sources under {apt_etc} serves Debian's "
                f"{'<codename>-security' if security else '<codename>'} suite with component main",
                fix=f"set {variable} to the base URL of a {kind} mirror "
                "(the URL that has dists/ and pool/ below it)",
            )
        found[key] = value.rstrip("/")
    ubuntu = env.get(UBUNTU_MIRROR_ENV, "").strip().rstrip("/")
    return Mirrors(**found, ubuntu=ubuntu or None)
