"""Unit tests of the sandbox builder scripts (nix/builders), run on the host Python."""

import gzip
import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

import deb_layer
import layertar
import maintainer
import python_install
from debfile import ar_members, format_stanza, normalise, parse_stanza


def read_layer(path):
    with tarfile.open(path, "r:gz") as tar:
        return [(m.name, m.type, m.mode, m.uid, m.gid, m.mtime, m.linkname,
                 tar.extractfile(m).read() if m.isreg() else None) for m in tar]


def test_usrmerge_maps_top_level_dirs_and_run():
    assert deb_layer.usrmerge("bin/bash") == "usr/bin/bash"
    assert deb_layer.usrmerge("lib64/ld-linux-x86-64.so.2") == "usr/lib64/ld-linux-x86-64.so.2"
    assert deb_layer.usrmerge("var/run/foo.pid") == "run/foo.pid"
    assert deb_layer.usrmerge("var/lock") == "run/lock"
    assert deb_layer.usrmerge("library/x") == "library/x"
    assert deb_layer.usrmerge("usr/bin/env") == "usr/bin/env"


def test_relocated_relative_links_still_point_at_their_target():
    # /lib/x/libfoo.so -> ../../usr/lib/x/libfoo.so.1 moves to /usr/lib/x/libfoo.so
    assert deb_layer.relocate_link("lib/x/libfoo.so", "usr/lib/x/libfoo.so", "../../usr/lib/x/libfoo.so.1") \
        == "libfoo.so.1"
    assert deb_layer.relocate_link("bin/sh", "usr/bin/sh", "dash") == "dash"
    assert deb_layer.relocate_link("bin/x", "usr/bin/x", "/etc/alternatives/x") == "/etc/alternatives/x"


@pytest.mark.parametrize("path,dropped", [
    ("usr/share/doc/bash/README", True),
    ("usr/share/doc/bash/copyright", False),
    ("usr/share/man/man1/ls.1.gz", True),
    ("usr/share/locale/de/LC_MESSAGES/x.mo", True),
    ("usr/share/zoneinfo/UTC", False),
    ("usr/share/info/dir", True),
])
def test_slim_rules(path, dropped):
    assert deb_layer.slimmed(path) is dropped


def test_slim_rules_keep_directories_and_links_below_an_include_prefix_as_dpkg_does():
    assert not deb_layer.slimmed("usr/share/doc/gcc", container=True)  # a symlink, kept by dpkg
    assert not deb_layer.slimmed("usr/share/doc/apt/examples", container=True)
    assert deb_layer.slimmed("usr/share/doc/apt/examples/x.conf")
    assert deb_layer.slimmed("usr/share/man/man1", container=True)


def test_stanza_round_trip_keeps_continuations():
    text = "Package: a\nVersion: 1\nDescription: short\n long line\n .\n more\n"
    fields = parse_stanza(text)
    assert fields["Description"] == "short\n long line\n .\n more"
    assert format_stanza(fields) == text
    status = deb_layer.status_stanza(fields, {"etc/a.conf": "d41d8cd98f00b204e9800998ecf8427e"})
    assert status.splitlines()[:2] == ["Package: a", "Status: install ok installed"]
    assert "Conffiles:\n /etc/a.conf d41d8cd98f00b204e9800998ecf8427e\n" in status


def test_normalise_member_names():
    assert [normalise(n) for n in ("./", ".", "./usr/bin/", "usr/x", "/etc/")] == ["", "", "usr/bin", "usr/x", "etc"]


def test_ar_members_parses_padding():
    def member(name, data):
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        return header + data + (b"\n" if len(data) % 2 else b"")
    blob = b"!<arch>\n" + member("debian-binary", b"2.0\n") + member("odd", b"abc") + member("after", b"xy")
    assert ar_members(blob) == {"debian-binary": b"2.0\n", "odd": b"abc", "after": b"xy"}


def test_layer_is_deterministic_sorted_and_normalised(tmp_path):
    def entries():
        file_info = tarfile.TarInfo("usr/bin/tool")
        file_info.type, file_info.mode, file_info.size, file_info.mtime = tarfile.REGTYPE, 0o755, 3, 123456
        file_info.uname = "builder"
        return {
            "usr/bin/tool": layertar.Entry(file_info, b"abc"),
            "usr": layertar.directory("usr"),
            "usr/bin": layertar.directory("usr/bin"),
            "etc": layertar.directory("etc"),
            "etc/x": layertar.regular("etc/x", b"1", gid=42),
            "usr-foo": layertar.regular("usr-foo", b""),
        }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    meta_a = layertar.write_layer(entries(), str(tmp_path / "a"), epoch=1)
    meta_b = layertar.write_layer(dict(reversed(list(entries().items()))), str(tmp_path / "b"), epoch=1)
    assert meta_a == meta_b
    blob = (tmp_path / "a" / "layer.tar.gz").read_bytes()
    assert meta_a["digest"] == "sha256:" + hashlib.sha256(blob).hexdigest()
    assert meta_a["diffId"] == "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
    members = read_layer(tmp_path / "a" / "layer.tar.gz")
    # parents first: "usr" < "usr/bin" < "usr/bin/tool" < "usr-foo" by components
    assert [m[0] for m in members] == ["etc", "etc/x", "usr", "usr/bin", "usr/bin/tool", "usr-foo"]
    assert {m[5] for m in members} == {1}
    tool = members[4]
    assert tool[2] == 0o755 and tool[7] == b"abc"
    assert members[1][4] == 42
    with tarfile.open(tmp_path / "a" / "layer.tar.gz") as tar:
        assert {m.uname for m in tar} == {""}


def test_hard_link_sorted_before_its_target_carries_the_data(tmp_path):
    target = layertar.regular("usr/bin/zz-real", b"payload", 0o755)
    link_info = tarfile.TarInfo("usr/bin/aa-link")
    link_info.type, link_info.linkname = tarfile.LNKTYPE, "usr/bin/zz-real"
    entries = {"usr/bin/zz-real": target, "usr/bin/aa-link": layertar.Entry(link_info)}
    layertar.write_layer(entries, str(tmp_path), epoch=1)
    members = {m[0]: m for m in read_layer(tmp_path / "layer.tar.gz")}
    assert members["usr/bin/aa-link"][1] == tarfile.REGTYPE and members["usr/bin/aa-link"][7] == b"payload"
    assert members["usr/bin/zz-real"][1] == tarfile.LNKTYPE
    assert members["usr/bin/zz-real"][6] == "usr/bin/aa-link"
    # and extraction gives both names the data
    with tarfile.open(tmp_path / "layer.tar.gz") as tar:
        tar.extractall(tmp_path / "x", filter="tar")
    assert (tmp_path / "x/usr/bin/zz-real").read_bytes() == b"payload"


def _layer(files: dict[str, bytes], new: set[str], installed: set[str] | None = None):
    entries = {p: layertar.regular(p, d) for p, d in files.items()}
    return maintainer.Layer(entries, new, installed or new)


def test_base_passwd_writes_accounts_with_locked_shadow():
    layer = _layer({"usr/share/base-passwd/passwd.master": b"root:*:0:0:root:/root:/bin/bash\n",
                    "usr/share/base-passwd/group.master": b"root:*:0:\nshadow:*:42:\n"}, {"base-passwd"})
    maintainer.apply(layer)
    assert layer.read("etc/passwd") == b"root:x:0:0:root:/root:/bin/bash\n"  # pwconv's "x"
    assert layer.read("etc/group") == b"root:x:0:\nshadow:x:42:\n"
    assert layer.read("etc/gshadow") == b"root:*::\nshadow:*::\n"
    assert layer.read("etc/shadow") == b"root:*:0:0:99999:7:::\n"
    assert layer.entries["etc/shadow"].info.gid == maintainer.GID_SHADOW
    assert layer.entries["etc/shadow"].info.mode == 0o640


def test_ca_bundle_concatenates_every_certificate_in_order():
    layer = _layer({"usr/share/ca-certificates/mozilla/B.crt": b"-----B-----\n",
                    "usr/share/ca-certificates/mozilla/A.crt": b"-----A-----"}, {"ca-certificates"})
    maintainer.apply(layer)
    assert layer.read("etc/ssl/certs/ca-certificates.crt") == b"-----A-----\n-----B-----\n"
    assert layer.entries["etc/ssl/certs/A.pem"].info.linkname == "/usr/share/ca-certificates/mozilla/A.crt"


XZ_POSTINST = """#!/bin/sh
set -e

slave () {
	dir=$1 filename=$2 target=$3
	echo "--slave $dir/$filename $filename $dir/$target"
}

update-alternatives --install /usr/bin/lzma lzma /usr/bin/xz 20 $(
	slave /usr/bin unlzma unxz
	for util in cat more
	do
		slave /usr/bin lz$util xz$util
	done
)
"""

GCC_POSTINST = """#! /bin/sh
update-alternatives --quiet \\
    --install /usr/bin/cc cc /usr/bin/gcc 20 \\
    #--slave /usr/share/man/man1/cc.1.gz cc.1.gz /usr/share/man/man1/gcc.1.gz

update-alternatives --remove rename /usr/bin/prename
"""


def test_alternatives_commands_keep_functions_and_whole_install_statements():
    layer = maintainer.Layer({}, {"xz-utils", "gcc"}, {"xz-utils", "gcc"},
                             control={"xz-utils": {"postinst": XZ_POSTINST.encode()},
                                      "gcc": {"postinst": GCC_POSTINST.encode()}})
    gcc, xz = maintainer.alternatives(layer)
    assert "--remove" not in gcc and gcc.count("update-alternatives") == 1
    assert xz.startswith("set -e\nslave () {") and xz.rstrip().endswith(")")
    # the shell that runs them sees exactly the arguments dpkg's update-alternatives would get
    import subprocess
    shim = "update_alternatives() { printf '%s\\n' \"$@\"; }\n"
    out = subprocess.run(["sh", "-c", shim + xz.replace("update-alternatives", "update_alternatives")],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[:5] == ["--install", "/usr/bin/lzma", "lzma", "/usr/bin/xz", "20"]
    assert out[5:] == ["--slave", "/usr/bin/unlzma", "unlzma", "/usr/bin/unxz",
                       "--slave", "/usr/bin/lzcat", "lzcat", "/usr/bin/xzcat",
                       "--slave", "/usr/bin/lzmore", "lzmore", "/usr/bin/xzmore"]
    out = subprocess.run(["sh", "-c", shim + gcc.replace("update-alternatives", "update_alternatives")],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["--quiet", "--install", "/usr/bin/cc", "cc", "/usr/bin/gcc", "20"]


def test_byte_compile_lists_the_modules_debian_compiles():
    files = {"usr/lib/python3.11/json/__init__.py": b"", "usr/lib/python3/dist-packages/pip/__init__.py": b"",
             "usr/lib/python3/dist-packages/pip/x.txt": b"", "usr/share/other/tool.py": b""}
    layer = _layer(files, {"libpython3.11-stdlib", "python3-pip", "other"})
    layer.files = {"libpython3.11-stdlib": ["usr/lib/python3.11/json/__init__.py"],
                   "python3-pip": ["usr/lib/python3/dist-packages/pip/__init__.py",
                                   "usr/lib/python3/dist-packages/pip/x.txt"],
                   "other": ["usr/share/other/tool.py"]}
    layer.control = {"python3-pip": {"postinst": b"py3compile -p python3-pip"}}
    commands = maintainer.byte_compile(layer)
    assert [c.split()[1] for c in commands] == ["/usr/bin/python3", "/usr/bin/python3.11"]
    assert all(c.startswith("PYTHONHASHSEED=0 ") for c in commands)
    lists = {k: v.decode().split() for k, v in layer.inputs.items()}
    assert lists == {"run/nixbuild-configure/compile-python3.list": ["/usr/lib/python3/dist-packages/pip/__init__.py"],
                     "run/nixbuild-configure/compile-python3.11.list": ["/usr/lib/python3.11/json/__init__.py"]}


def test_byte_compile_in_forked_processes_gives_the_bytes_of_one(tmp_path):
    # Oracle: py_compile in a single process (the command before it forked), same seed; a file
    # that does not compile is skipped, not fatal, as py3compile does.
    sources = {f"pkg{i}/mod{j}.py": f"X = {{{i}, {j}, 'a', 'b'}}\ndef f():\n    return {{'x', 'y', {j}}}\n"
               for i in range(3) for j in range(7)}
    sources["pkg0/broken.py"] = "def (:\n"
    for name, text in sources.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    listing = tmp_path / "files.list"
    listing.write_text("".join(f"{tmp_path / name}\n" for name in sorted(sources)))
    env = {"PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"}

    def compiled() -> dict:
        return {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in sorted(tmp_path.rglob("*.pyc"))}

    subprocess.run([sys.executable, "-B", "-S", "-s", "-c", maintainer.PY_COMPILE, str(listing)], env=env, check=True)
    forked = compiled()
    for pyc in tmp_path.rglob("*.pyc"):
        pyc.unlink()
    single = ("import py_compile, sys\nfor f in open(sys.argv[1]).read().split():\n    try:\n"
              "        py_compile.compile(f, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
              "    except py_compile.PyCompileError:\n        pass\n")
    subprocess.run([sys.executable, "-B", "-S", "-s", "-c", single, str(listing)], env=env, check=True)
    assert forked == compiled() and len(forked) == 21


def test_deferred_byte_compiling_gives_the_bytes_the_installer_gives(tmp_path, monkeypatch):
    # Oracle: the installer compiling as it installs (``python -m installer``). Here a stand-in
    # that calls compileall.compile_file as pypa's installer's SchemeDictionaryDestination
    # does (a Path for ddir, quiet=1), so that no index is needed; python_install installs the
    # wheels in one process, records those calls and makes them afterwards, in several.
    stand_in = tmp_path / "stand-in" / "installer"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text("")
    (stand_in / "__main__.py").write_text(
        "import compileall, os, sys, zipfile\nfrom pathlib import Path\n"
        "dest = Path(os.environ['DEST'])\n"
        "zipfile.ZipFile(sys.argv[-1]).extractall(dest)\n"
        "for f in sorted(dest.rglob('*.py')):\n"
        "    compileall.compile_file(f, optimize=int(sys.argv[-2]), quiet=1,\n"
        "                            ddir=Path('/usr/local/lib/site') / f.parent.relative_to(dest))\n")
    wheels = []
    for w in range(2):
        wheels.append(str(tmp_path / f"pkg{w}-1.0-py3-none-any.whl"))
        with zipfile.ZipFile(wheels[-1], "w") as zf:
            for i in range(6):
                zf.writestr(f"pkg{w}/sub{i % 3}/mod{i}.py", f"X = {{{i}, 'a'}}\ndef f():\n    return X\n")
            zf.writestr(f"pkg{w}/broken.py", "def (:\n")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")

    def compiled(dest) -> dict:
        return {p.relative_to(dest).as_posix(): p.read_bytes() for p in sorted(dest.rglob("*.pyc"))}

    monkeypatch.setenv("DEST", str(tmp_path / "direct"))
    for wheel in wheels:
        subprocess.run([sys.executable, "-m", "installer", "--compile-bytecode", "0", wheel], check=True,
                       env={**os.environ, "PYTHONPATH": str(stand_in.parent)})
    monkeypatch.setenv("DEST", str(tmp_path / "deferred"))
    deferred = str(tmp_path / "compile.jsonl")
    python_install.install_all(sys.executable, str(stand_in.parent), wheels, deferred)
    assert not compiled(tmp_path / "deferred")  # nothing compiled during the installs
    python_install.compile_deferred(sys.executable, deferred)
    direct = compiled(tmp_path / "direct")
    assert compiled(tmp_path / "deferred") == direct and len(direct) == 12
    tag = "cpython-%d%d" % sys.version_info[:2]
    assert b"/usr/local/lib/site/pkg1/sub1" in direct[f"pkg1/sub1/__pycache__/mod1.{tag}.pyc"]


def test_a_failed_install_names_its_wheel(tmp_path, capfd):
    broken = tmp_path / "stand-in" / "installer"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("")
    (broken / "__main__.py").write_text("raise RuntimeError('no room')\n")
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    zipfile.ZipFile(wheel, "w").close()
    with pytest.raises(SystemExit):
        python_install.install_all(sys.executable, str(broken.parent), [str(wheel)], str(tmp_path / "c.jsonl"))
    err = capfd.readouterr().err
    assert "RuntimeError: no room" in err and "nixbuild: installing pkg-1.0-py3-none-any.whl failed" in err


def test_python_stdlib_effect_drops_the_externally_managed_marker():
    layer = _layer({"usr/lib/python3.11/EXTERNALLY-MANAGED": b"[externally-managed]\n"}, {"libpython3.11-stdlib"})
    maintainer.apply(layer)
    assert "usr/lib/python3.11/EXTERNALLY-MANAGED" not in layer.entries


def test_alternatives_in_a_shell_function_are_called():
    script = ("#! /bin/sh\nset -e\n\nua() {\n\tupdate-alternatives --install /usr/bin/which which "
              "/usr/bin/which.debianutils 0\n}\n\nif [ -z \"$2\" ]; then\n\tua\nfi\n")
    layer = maintainer.Layer({}, {"debianutils"}, {"debianutils"}, control={"debianutils": {"postinst": script.encode()}})
    (command,) = maintainer.alternatives(layer)
    assert command.rstrip().endswith("\nua")


def test_usr_local_is_root_0755_as_on_a_new_debian_system():
    # base-files' and python3.X-minimal's postinsts make /usr/local dirs 2775 root:staff only
    # where /etc/staff-group-for-usr-local exists, which no package ships.
    files = {f"usr/share/base-files/{n}": b"x\n" for n in ("dot.profile", "dot.bashrc", "profile", "motd")}
    layer = _layer(files, {"base-files", "python3.11-minimal"})
    maintainer.apply(layer)
    for path in ("usr/local", "usr/local/bin", "usr/local/share/man", "usr/local/lib/python3.11/dist-packages"):
        info = layer.entries[path].info
        assert (info.mode, info.uid, info.gid) == (0o755, 0, 0), path
    assert layer.entries["var/mail"].info.mode == 0o2775


def test_locales_lists_every_supported_locale_commented_out_in_c_order():
    supported = b"en_US.UTF-8 UTF-8\nen_US ISO-8859-1  \n# a comment\nde_DE.UTF-8 UTF-8\nen_US.UTF-8 UTF-8\n"
    layer = _layer({"usr/share/i18n/SUPPORTED": supported}, {"locales"})
    maintainer.apply(layer)
    lines = layer.entries["etc/locale.gen"].data.decode().splitlines()
    header = maintainer.LOCALE_GEN_HEADER.splitlines()
    # the header's lone '#' is blanked by the postinst's uncommenting loop, run once with no name
    assert lines[:len(header)] == [line if line != "#" else "" for line in header]
    assert lines[len(header):] == ["# de_DE.UTF-8 UTF-8", "# en_US ISO-8859-1", "# en_US.UTF-8 UTF-8"]
    assert layer.entries["etc/default/locale"].data == b"#  File generated by update-locale\n"


def test_ssh_agent_gets_the_group_addgroup_made_and_its_setgid_bit():
    layer = _layer({"usr/bin/ssh-agent": b"\x7fELF"}, {"openssh-client"})
    (command,) = [c for c in maintainer.apply(layer) if "_ssh" in c]
    assert command.startswith("getent group _ssh") and "addgroup --system" in command
    maintainer.set_group_modes(layer, "root:x:0:\nusers:x:100:\n_ssh:x:101:\n")
    info = layer.entries["usr/bin/ssh-agent"].info
    assert (info.gid, info.mode) == (101, 0o2755)
