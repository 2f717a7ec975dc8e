"""An Ubuntu base's apt sources and keyring, read from its layers; the Ubuntu mirror setting.

Expected values written by hand from apt's rules (sources.list(5), apt-secure(8))."""

import pytest

from nixbuild.debian.index import Suite
from nixbuild.debian.sources import UBUNTU_MIRROR_ENV, Mirrors, configured_mirrors
from nixbuild.errors import MirrorError
from nixbuild.registry import ubuntu
from nixbuild.registry.facts import layered_files

from .test_facts import layer

MIRROR = "http://archive.example.org/ubuntu"
LIST = f"""# the base's sources
deb {MIRROR}/ jammy main restricted
deb-src {MIRROR}/ jammy main restricted
deb {MIRROR}/ jammy-updates main restricted universe multiverse
deb http://security.example.org/ubuntu/ jammy-security main restricted universe multiverse
"""
VENDOR = "deb [signed-by=/usr/share/keyrings/vendor-keyring.gpg] https://vendor.example.com/repo/ /\n"
DEB822 = f"""Types: deb
URIs: {MIRROR}
Suites: jammy jammy-backports
Components: universe
Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg

Types: deb
URIs: {MIRROR}
Suites: jammy-proposed
Components: main
Enabled: no
"""


def files_of(tmp_path, *layers: dict) -> dict[str, bytes]:
    paths = [layer(tmp_path / f"{n}.tar.gz", files) for n, files in enumerate(layers)]
    return {name: data for name, (_, data) in layered_files(paths, content=ubuntu._wanted).items()}


def test_the_suites_are_the_entries_of_the_bases_release_in_apts_order(tmp_path):
    files = files_of(tmp_path, {
        "etc/apt/sources.list": LIST.encode(),
        "etc/apt/sources.list.d/cuda.list": VENDOR.encode(),
        "etc/apt/sources.list.d/ubuntu.sources": DEB822.encode(),
        "etc/apt/sources.list.d/old.list": f"deb {MIRROR} focal main\n".encode(),
    }, {"etc/apt/sources.list.d/.wh.old.list": b""})  # a later layer deleted old.list
    sources = ubuntu.apt_sources(files)
    assert [(s.suite, s.origin) for s in sources] == [
        ("jammy", "/etc/apt/sources.list"), ("jammy-updates", "/etc/apt/sources.list"),
        ("jammy-security", "/etc/apt/sources.list"), ("/", "/etc/apt/sources.list.d/cuda.list"),
        ("jammy", "/etc/apt/sources.list.d/ubuntu.sources"),
        ("jammy-backports", "/etc/apt/sources.list.d/ubuntu.sources")]
    suites, read = ubuntu.suites(sources, "jammy")
    all_four = ("main", "restricted", "universe", "multiverse")
    assert suites == (Suite(archive="ubuntu", name="jammy", components=("main", "restricted", "universe")),
                      Suite(archive="ubuntu", name="jammy-updates", components=all_four),
                      Suite(archive="ubuntu", name="jammy-security", components=all_four),
                      Suite(archive="ubuntu", name="jammy-backports", components=("universe",)))
    assert [s.uri for s in sources if s not in read] == ["https://vendor.example.com/repo"]


def test_the_keyring_is_apts_global_one_with_links_followed_or_the_signed_by_file(tmp_path):
    key, vendor = b"\x99ubuntu-key", b"\x99vendor-key"
    relative = "->../../../usr/share/keyrings/ubuntu-archive-keyring.gpg"
    files = files_of(tmp_path, {
        "usr/share/keyrings/ubuntu-archive-keyring.gpg": key,
        "usr/share/keyrings/vendor-keyring.gpg": vendor,
        "etc/apt/trusted.gpg.d/ubuntu-keyring-2018-archive.gpg": "->/usr/share/keyrings/ubuntu-archive-keyring.gpg",
        "etc/apt/trusted.gpg.d/ubuntu-keyring-2012-cdimage.gpg": relative,
        "etc/apt/sources.list": LIST.encode(),
    })
    _, read = ubuntu.suites(ubuntu.apt_sources(files), "jammy")
    assert ubuntu.keyring(files, read) == key + key  # both trusted.gpg.d entries, sorted by name
    signed = ubuntu.apt_sources({"etc/apt/sources.list.d/vendor.list": VENDOR.encode()})
    assert ubuntu.keyring(files, signed) == vendor


def test_a_base_without_its_keyring_or_with_a_fingerprint_signed_by_is_refused(tmp_path):
    files = files_of(tmp_path, {"etc/apt/sources.list": LIST.encode()})
    _, read = ubuntu.suites(ubuntu.apt_sources(files), "jammy")
    with pytest.raises(ValueError, match=r"looked for /etc/apt/trusted.gpg, /etc/apt/trusted.gpg.d/\*.gpg"):
        ubuntu.keyring(files, read)
    fingerprint = ubuntu.apt_sources({"etc/apt/sources.list": f"deb [signed-by=0123ABCD] {MIRROR} jammy main\n"
                                      .encode()})
    with pytest.raises(ValueError, match="not a keyring file path"):
        ubuntu.keyring(files, fingerprint)


def test_the_ubuntu_mirror_is_configuration_only(tmp_path):
    debian = {"NIXBUILD_DEBIAN_MIRROR": "http://deb.example.org/debian",
              "NIXBUILD_DEBIAN_SECURITY_MIRROR": "http://deb.example.org/debian-security"}
    unset = configured_mirrors(environ=debian, apt_etc=tmp_path)
    assert unset.base_url("debian") == "http://deb.example.org/debian"
    with pytest.raises(MirrorError, match=UBUNTU_MIRROR_ENV) as error:
        unset.base_url("ubuntu")
    assert error.value.exit_code == 4 and UBUNTU_MIRROR_ENV in error.value.fix
    configured = configured_mirrors(environ={**debian, UBUNTU_MIRROR_ENV: MIRROR + "/"}, apt_etc=tmp_path)
    assert configured.base_url("ubuntu") == MIRROR
    assert Mirrors(debian="file:/d", security="file:/s").ubuntu is None
