"""Mirror configuration: environment first, then the host's apt sources (both formats)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nixbuild.debian.sources import configured_mirrors, host_apt_sources
from nixbuild.errors import MirrorError

NO_ENV: dict[str, str] = {}


def apt_etc(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "etc-apt"
    (root / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


DEB822 = """\
Types: deb
# a comment between fields, as Debian's own file has
URIs: http://example.org/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://example.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

THIRD_PARTY_DEB822 = """\
Types: deb
URIs: https://example.org/vendor/node
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/vendor.gpg

Types: deb
URIs: https://example.org/vendor/pg
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/vendor.gpg
"""


def test_deb822(tmp_path: Path) -> None:
    root = apt_etc(tmp_path, {"sources.list.d/debian.sources": DEB822})
    mirrors = configured_mirrors(environ=NO_ENV, apt_etc=root)
    assert mirrors.debian == "http://example.org/debian"  # trailing slash dropped
    assert mirrors.security == "http://example.org/debian-security"


def test_one_line_format(tmp_path: Path) -> None:
    root = apt_etc(
        tmp_path,
        {
            "sources.list": (
                "# comment\n"
                "deb-src http://127.0.0.1:8080/src bookworm main\n"
                "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                "http://127.0.0.1:8080/debian trixie main contrib\n"
                "deb http://127.0.0.1:8080/security trixie-security main # trailing comment\n"
            )
        },
    )
    sources = host_apt_sources(root)
    assert [(s.uri, s.suite) for s in sources] == [
        ("http://127.0.0.1:8080/debian", "trixie"),
        ("http://127.0.0.1:8080/security", "trixie-security"),
    ]
    assert sources[0].components == ("main", "contrib")
    mirrors = configured_mirrors(environ=NO_ENV, apt_etc=root)
    assert mirrors.debian == "http://127.0.0.1:8080/debian"
    assert mirrors.security == "http://127.0.0.1:8080/security"


def test_third_party_entries_are_ignored(tmp_path: Path) -> None:
    root = apt_etc(
        tmp_path,
        {
            # Sorted before debian.sources, so it would win if not filtered out: a codename
            # suite of another vendor (own keyring) and a non-codename suite.
            "sources.list.d/aaa-vendor.sources": THIRD_PARTY_DEB822,
            "sources.list.d/cloud.list": "deb https://example.org/apt cloud-sdk-bookworm main\n",
            "sources.list.d/debian.sources": DEB822,
            "sources.list.d/off.list.disabled": "deb http://example.org/off bookworm main\n",
        },
    )
    mirrors = configured_mirrors(environ=NO_ENV, apt_etc=root)
    assert mirrors.debian == "http://example.org/debian"
    assert mirrors.security == "http://example.org/debian-security"


def test_disabled_paragraph_and_wrong_component(tmp_path: Path) -> None:
    text = (
        "Types: deb\nURIs: http://example.org/off\nSuites: bookworm\nComponents: main\n"
        "Enabled: no\n\n"
        "Types: deb\nURIs: http://example.org/contrib\nSuites: bookworm\nComponents: contrib\n\n"
        + DEB822
    )
    root = apt_etc(tmp_path, {"sources.list.d/debian.sources": text})
    assert configured_mirrors(environ=NO_ENV, apt_etc=root).debian == "http://example.org/debian"


def test_environment_wins(tmp_path: Path) -> None:
    root = apt_etc(tmp_path, {"sources.list.d/debian.sources": DEB822})
    mirrors = configured_mirrors(
        environ={"NIXBUILD_DEBIAN_MIRROR": "file:/srv/mirror/debian/"}, apt_etc=root
    )
    assert mirrors.debian == "file:/srv/mirror/debian"
    assert mirrors.security == "http://example.org/debian-security"  # still from apt
    both = configured_mirrors(
        environ={
            "NIXBUILD_DEBIAN_MIRROR": "http://127.0.0.1:1/d",
            "NIXBUILD_DEBIAN_SECURITY_MIRROR": "http://127.0.0.1:1/s",
        },
        apt_etc=tmp_path / "nonexistent",
    )
    assert (both.debian, both.security) == ("http://127.0.0.1:1/d", "http://127.0.0.1:1/s")
    assert both.base_url("debian-security") == "http://127.0.0.1:1/s"


def test_nothing_configured(tmp_path: Path) -> None:
    root = apt_etc(tmp_path, {"sources.list.d/vendor.sources": THIRD_PARTY_DEB822})
    with pytest.raises(MirrorError) as error:
        configured_mirrors(environ=NO_ENV, apt_etc=root)
    assert "NIXBUILD_DEBIAN_MIRROR" in str(error.value)
    assert error.value.fix and "NIXBUILD_DEBIAN_MIRROR" in error.value.fix


def test_security_missing_names_its_variable(tmp_path: Path) -> None:
    root = apt_etc(tmp_path, {"sources.list": "deb http://example.org/debian bookworm main\n"})
    with pytest.raises(MirrorError) as error:
        configured_mirrors(environ=NO_ENV, apt_etc=root)
    assert "NIXBUILD_DEBIAN_SECURITY_MIRROR" in str(error.value)


def test_this_host_is_configured() -> None:
    """The machine's own apt sources name both archives (what the network tests use)."""
    mirrors = configured_mirrors()
    assert mirrors.debian.startswith(("http://", "https://", "file:"))
    assert mirrors.security.startswith(("http://", "https://", "file:"))
