"""Hostile image layers: members that land outside the image root when their names are
joined onto the root and the host's kernel follows the image's symlinks.

``write_layers`` makes two gzip layers and a host folder beside the root; ``check`` asserts,
after an unpacker applied them, that every member landed inside the root where a chroot of
the image would see it, and that the host folder (and the host's /etc) are untouched. Used for
both unpackers: ``nixbuild run``'s (tests/oci/test_rootfs.py) and the sandbox builder's
(tests/nix/test_run_layer.py).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

ETC_PROBE = "nixbuild-hostile-layer-probe"  # never created in the host's /etc by a safe unpacker


def _member(name: str, *, data: bytes | None = None, link: str | None = None, hard: str | None = None,
            directory: bool = False) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.mtime, info.mode = 1, 0o644
    if directory:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    elif link is not None:
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, link, 0o777
    elif hard is not None:
        info.type, info.linkname = tarfile.LNKTYPE, hard
    else:
        info.size = len(data or b"")
    return info, data


def _write(path: Path, members) -> str:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(path)


def write_layers(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """(empty root, host folder, [lower layer, hostile layer])."""
    root, host = tmp_path / "root", tmp_path / "host"
    root.mkdir()
    host.mkdir()
    (host / "secret").write_bytes(b"host secret")
    (host / "victim").write_bytes(b"host victim")
    base = _write(tmp_path / "base.tar.gz", [
        _member("etc", directory=True),
        _member("etc/hostname", data=b"image\n"),
        _member("run", directory=True),
        _member("var", directory=True),
        _member("var/run", link="/run"),  # as Debian's base-files has it
        _member("etcl", link="/etc"),  # absolute: the image's /etc, not the host's
        _member("hostdir", link=str(host)),  # absolute, naming a real host folder
        _member("up", link="../host"),  # relative, climbing out of the root on the host
    ])
    hostile = _write(tmp_path / "hostile.tar.gz", [
        _member("var/run/x.cfg", data=b"cfg"),
        _member(f"etcl/{ETC_PROBE}", data=b"probe"),
        _member("hostdir/planted", data=b"evil"),
        _member("hostdir/secret", data=b"in the image"),
        _member("stolen", hard="hostdir/secret"),
        _member("hostdir/.wh.victim", data=b""),
        _member("up/.wh..wh..opq", data=b""),
        _member("up/climbed", data=b"up"),
        _member("../host/dotdot", data=b"dotdot"),
        _member("etc/../../../host/mid", data=b"mid"),
    ])
    return root, host, [base, hostile]


def check(root: Path, host: Path) -> None:
    """Every member inside the root, as a chroot of the image sees it; the host untouched."""
    etc_probe = Path("/etc") / ETC_PROBE
    try:
        assert not etc_probe.exists(), "a layer wrote into the host's /etc"
    finally:
        if etc_probe.exists():
            etc_probe.unlink()
    assert sorted(p.name for p in host.iterdir()) == ["secret", "victim"]
    assert (host / "secret").read_bytes() == b"host secret" and (host / "secret").stat().st_nlink == 1
    assert (host / "victim").read_bytes() == b"host victim"

    assert os.readlink(root / "var" / "run") == "/run"  # the link stays a link
    assert (root / "run" / "x.cfg").read_bytes() == b"cfg"
    assert (root / "etc" / ETC_PROBE).read_bytes() == b"probe"
    inside_host = root / str(host).lstrip("/")  # the absolute link, followed from the root
    assert (inside_host / "planted").read_bytes() == b"evil"
    assert (root / "stolen").read_bytes() == b"in the image"
    assert (root / "stolen").stat().st_ino == (inside_host / "secret").stat().st_ino
    # `..` stops at the root: ../host is the image's /host.
    assert {p.name: p.read_bytes() for p in (root / "host").iterdir()} == {
        "climbed": b"up", "dotdot": b"dotdot", "mid": b"mid"}
