"""Linking as micromamba does (nix/builders/conda_layer.py), against packages the test builds
in both formats (tests/conda_channel.py). The expectations are conda's documented semantics:
text placeholders replaced everywhere, binary ones inside NUL-terminated strings with the
length kept, noarch:python under lib/pythonX.Y/site-packages with entry-point scripts, a
conda-meta record per package."""

from __future__ import annotations

import json

import pytest

from conda_channel import BINARY, PLACEHOLDER, channel_packages, write_package
from conda_layer import link, read_package, replace_prefix
from zstdtool import Zstd

# This machine's Debian zstd, the same program the builder unpacks from the pinned .debs.
HOST_ZSTD = Zstd(["zstd"])
PREFIX = "/opt/conda"


def linked(tmp_path, name: str, version: str, fmt: str, python: str | None = "3.11") -> dict:
    package = next(p for p, f in channel_packages() if p.name == name and p.version == version and f == fmt)
    path = write_package(package, tmp_path, fmt)
    entries: dict = {}
    info = {"path": str(path), "filename": path.name, "subdir": package.subdir, "channel": "chan",
            "sha256": "0" * 64, "size": path.stat().st_size, "requested": name}
    link(info, read_package(str(path), path.name, HOST_ZSTD), PREFIX, python, entries)
    return entries


@pytest.mark.parametrize("fmt", [".tar.bz2", ".conda"])
def test_text_and_binary_placeholders_are_replaced_as_conda_does(tmp_path, fmt):
    entries = linked(tmp_path, "mylib", "2.0", fmt)
    conf = entries["opt/conda/etc/mylib.conf"].data.decode()
    assert conf == "prefix=/opt/conda\ndata=/opt/conda/share/mylib\n"
    binary = entries["opt/conda/lib/mylib.bin"].data
    assert len(binary) == len(BINARY) and PLACEHOLDER.encode() not in binary
    padding = b"\0" * (len(PLACEHOLDER) - len(PREFIX))
    assert b"/opt/conda/share/mylib" + padding + b"\0tail\0" in binary
    assert entries["opt/conda/lib/mylib.so"].info.linkname == "mylib.bin"
    record = json.loads(entries["opt/conda/conda-meta/mylib-2.0-0.json"].data)
    assert (record["name"], record["version"], record["fn"], record["depends"]) == \
        ("mylib", "2.0", f"mylib-2.0-0{fmt}", ["mydep >=1.0"])
    assert (record["channel"], record["url"]) == ("chan", f"chan/linux-64/mylib-2.0-0{fmt}")
    assert sorted(record["files"]) == ["etc/mylib.conf", "lib/mylib.bin", "lib/mylib.so", "share/mylib/VERSION"]


def test_binary_replacement_refuses_a_longer_prefix():
    with pytest.raises(SystemExit, match="longer than the package's placeholder"):
        replace_prefix(b"/short\0", "/short", "/a/much/longer/prefix", "binary", "lib/x")


def test_noarch_python_goes_to_site_packages_with_its_entry_point(tmp_path):
    entries = linked(tmp_path, "mypkg", "0.3", ".conda")
    assert "opt/conda/lib/python3.11/site-packages/mypkg/__init__.py" in entries
    script = entries["opt/conda/bin/mypkg-hello"]
    assert script.info.mode == 0o755
    text = script.data.decode()
    assert text.startswith("#!/opt/conda/bin/python\n") and "from mypkg import main" in text
    record = json.loads(entries["opt/conda/conda-meta/mypkg-0.3-pyh0.json"].data)
    assert "bin/mypkg-hello" in record["files"] and record["noarch"] == "python"


def test_noarch_python_without_a_python_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="has no python"):
        linked(tmp_path, "mypkg", "0.3", ".conda", python=None)
