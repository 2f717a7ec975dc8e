"""Image.micromamba / micromamba_install, built from a conda channel on 127.0.0.1.

No conda channel is reachable from these machines, so the channel is one the test writes
(tests/conda_channel.py: a real repodata.json per subdir and packages in both formats), served
under the channel alias setting (NIXBUILD_CONDA_CHANNEL_ALIAS) with two channels,
``conda-forge`` (python and pip: what Modal's micromamba base installs) and ``test-channel``.

The ``python`` package is a STAND-IN: this machine's Debian CPython 3.11, relocated the way
tests/e2e/standalone_mirror.py relocates it for the python-build-standalone stand-in, packaged
as conda package ``python-3.11.<micro>-0_standin``. It links Debian's libexpat (a real
conda-forge python takes it from the channel's own ``libexpat``), so the app installs
``libexpat1`` with apt. What this proves is the mechanics -- the solve at lock time, pins by
channel name, file and sha256, fixed-output downloads, linking as micromamba does (both package
formats, prefix placeholders in text and binary files, noarch:python with an entry point,
conda-meta records), the image's PATH and MAMBA_ROOT_PREFIX -- not conda-forge's packages.
"""

from __future__ import annotations

import io
import json
import re
import tarfile

import pytest

from conda_channel import BINARY, PLACEHOLDER, Package, channel_packages, write_channel
from servers import serve_folder
from standalone_mirror import host_version, make_archive

ALIAS_ENV = "NIXBUILD_CONDA_CHANNEL_ALIAS"
# The archive's bundled pip: the channel's pip package provides pip in the prefix.
BUNDLED_PIP = re.compile(r"^(lib/python[^/]+/site-packages/pip(-[^/]*\.dist-info)?(/|$)|bin/pip[0-9.]*$)")
APP = """\
import modal

image = (
    modal.Image.micromamba(python_version="3.11")
    .apt_install("libexpat1")
    .micromamba_install("mypkg", channels=["test-channel"])
    .pip_install("six")
    .run_commands("python3 -c 'import mypkg, six, sys; print(sys.executable, six.__file__)' > /built-with")
)
"""


def standin_python(tmp_path) -> Package:
    """This machine's CPython as conda package python-3.11.<micro> (module docstring)."""
    archive = tmp_path / "python.tar.gz"
    make_archive(archive)
    files, modes, links = {}, {}, {}
    with tarfile.open(archive) as tar:
        for member in tar:
            path = member.name.removeprefix("python/")
            if member.isdir() or BUNDLED_PIP.match(path):
                continue
            if member.issym():
                links[path] = member.linkname
            else:
                files[path] = tar.extractfile(member).read()
                modes[path] = member.mode & 0o777
    return Package("python", host_version().split()[1], build="0_standin", files=files, modes=modes, links=links)


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    root = tmp_path_factory.mktemp("conda")
    packages = channel_packages(standin_python(tmp_path_factory.mktemp("python")))
    write_channel(root / "conda-forge", [(p, f) for p, f in packages if p.name in ("python", "pip")])
    write_channel(root / "test-channel", [(p, f) for p, f in packages if p.name not in ("python", "pip")])
    with serve_folder(root, "test-channel/noarch/repodata.json") as url:
        yield url


@pytest.fixture(scope="module")
def built(cli, channel, tmp_path_factory):
    app = tmp_path_factory.mktemp("micromamba") / "app.py"
    app.write_text(APP)
    env = {ALIAS_ENV: channel}
    (image,) = cli.json("build", app, env=env)
    return {"app": app, "env": env, "image": image, "lock": json.loads((app.parent / "nixbuild.lock").read_text())}


def test_the_lock_pins_conda_packages_by_channel_name_file_and_hash(built):
    (image,) = built["lock"]["images"].values()
    base, _apt, install, pip = image["steps"]
    assert image["distribution"] == "bookworm"
    assert {p["name"] for p in base["packages"]} >= {"base-files", "dpkg", "ca-certificates"}
    assert not {"python3", "python3.11"} & {p["name"] for p in base["packages"]}  # no Debian Python
    assert [(p["name"], p["channel"]) for p in base["conda"]] == [("python", "conda-forge"), ("pip", "conda-forge")]
    assert {p["name"]: p["version"] for p in install["conda"]} == {"mydep": "1.0", "mylib": "2.0", "mypkg": "0.3"}
    assert {p["channel"] for p in install["conda"]} == {"test-channel"}
    assert "zstd" in {p["name"] for p in base["conda_tools"]}
    assert "127.0.0.1" not in json.dumps(built["lock"])  # channels by name: the alias is configuration
    assert [w["name"] for w in pip["wheels"]] == ["six"]
    assert pip["python_platform"] == "x86_64-manylinux_2_36"  # resolved for bookworm's glibc


def test_the_image_runs_conda_python_and_the_linked_packages(cli, built):
    script = ("command -v python3; python3 --version; echo $MAMBA_ROOT_PREFIX; "
              "python3 -c 'import mypkg; print(mypkg.__file__)'; mypkg-hello; pip; "
              "cat /opt/conda/etc/mylib.conf; ls /opt/conda/conda-meta; cat /opt/conda/share/mylib/VERSION")
    out = cli("run", built["app"], "--", "sh", "-c", script, env=built["env"]).stdout.splitlines()
    micro = host_version().split()[1]
    assert out[:4] == ["/opt/conda/bin/python3", host_version(), "/opt/conda",
                       "/opt/conda/lib/python3.11/site-packages/mypkg/__init__.py"], out
    assert out[4] == "hello from mypkg on /opt/conda"  # the entry point, run by the prefix's python
    assert out[5] == "pip 0.0.1 (stand-in)"
    assert out[6:8] == ["prefix=/opt/conda", "data=/opt/conda/share/mylib"]  # text placeholder
    assert out[8:13] == ["mydep-1.0-0.json", "mylib-2.0-0.json", "mypkg-0.3-pyh0.json", "pip-0.0.1-pyh0.json",
                         f"python-{micro}-0_standin.json"]
    assert out[13] == "2.0"


def test_the_binary_placeholder_is_replaced_in_place_and_recorded(cli, built):
    script = ("import json; b = open('/opt/conda/lib/mylib.bin', 'rb').read(); "
              "r = json.load(open('/opt/conda/conda-meta/mylib-2.0-0.json')); "
              "print(json.dumps([b.hex(), r['fn'], r['requested_spec'], r['channel'], r['files']]))")
    out = cli("run", built["app"], "--", "python3", "-c", script, env=built["env"]).stdout
    binary, fn, requested, channel, files = json.loads(out)
    binary = bytes.fromhex(binary)
    assert len(binary) == len(BINARY) and PLACEHOLDER.encode() not in binary  # same length, NUL-padded
    assert binary[16:].split(b"\0")[0] == b"/opt/conda/share/mylib" and binary.endswith(b"\0tail\0")
    assert (fn, requested, channel) == ("mylib-2.0-0.conda", "", "test-channel")  # a dependency; no mirror URL
    assert sorted(files) == ["etc/mylib.conf", "lib/mylib.bin", "lib/mylib.so", "share/mylib/VERSION"]


def test_pip_and_run_steps_use_the_prefix_python(cli, built):
    out = cli("run", built["app"], "--", "cat", "/built-with", env=built["env"]).stdout.split()
    assert out == ["/opt/conda/bin/python3", "/opt/conda/lib/python3.11/site-packages/six.py"]


def test_an_unreachable_channel_names_the_setting(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(APP)
    proc = cli("lock", app, env={ALIAS_ENV: "http://127.0.0.1:9"}, ok=False)
    assert proc.returncode == 4, proc.stderr
    assert ALIAS_ENV in proc.stderr and "127.0.0.1:9/conda-forge" in proc.stderr
    assert "step 0 micromamba" in proc.stderr
    assert not (tmp_path / "nixbuild.lock").exists()


def test_an_unchanged_lock_builds_with_no_channel(cli, built):
    proc = cli("build", built["app"], "--frozen", "--json", env={ALIAS_ENV: "http://127.0.0.1:9"})
    (image,) = json.loads(proc.stdout)["images"]
    assert image["manifest_digest"] == built["image"]["manifest_digest"]
