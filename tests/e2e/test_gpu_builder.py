"""Remote GPU builders (issue 12, part 3), without a GPU: a real sshd on 127.0.0.1 (its own
host key, client key and port) serves a second, chroot Nix store as a remote builder that
advertises ``cuda gpu-t4``, configured with what ``nixbuild builders`` prints (the gpu hook,
given a stand-in device). The gpu="T4" step builds there and sees the device; the other
steps build locally; with no such builder the error names the feature and the command."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gpu_builder(tmp_path):
    """An sshd on 127.0.0.1 whose Nix builds into its own store; yields (builders line, env, store)."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    assert Path(sshd).exists(), "openssh-server is not installed (scripts/setup installs it)"
    keys = tmp_path / "ssh"
    keys.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    shutil.copy(keys / "client.pub", keys / "authorized_keys")
    device = tmp_path / "nvidia-stand-in"
    device.write_text("gpu\n")
    driver = tmp_path / "driver-lib-stand-in"  # the driver's library directory
    driver.mkdir()
    (driver / "libcuda.so.1").write_text("driver\n")
    store = tmp_path / "remote-store"
    remote_program = keys / "nix-store-gpu"
    # What `nixbuild builders` tells a GPU machine to put in nix.conf, plus the stand-in device.
    conf = subprocess.run([sys.executable, "-m", "nixbuild", "builders", "--gpu", "T4"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    features = next(line for line in conf.splitlines() if line.startswith("extra-system-features"))
    remote_program.write_text(
        "#!/bin/sh\n"
        f"export NIX_CONFIG='sandbox = true\n{features}\npre-build-hook = {ROOT / 'nix' / 'gpu-hook.sh'}'\n"
        f"export NIXBUILD_GPU_PATHS='/dev/nvidia-test={device} /run/opengl-driver/lib={driver}'\n"
        'exec nix-store "$@"\n')
    remote_program.chmod(0o755)
    port = free_port()
    (keys / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keys / 'host'}\n"
        f"AuthorizedKeysFile {keys / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        f"PasswordAuthentication no\nUsePAM no\nStrictModes no\nPidFile {keys / 'sshd.pid'}\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(keys / "sshd_config")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    ssh = ["ssh", "-p", str(port), "-i", str(keys / "client"), "-o", "BatchMode=yes",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "root@127.0.0.1", "true"]
    while subprocess.run(ssh, capture_output=True).returncode != 0:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    line = subprocess.run(
        [sys.executable, "-m", "nixbuild", "builders", "--gpu", "T4", "--protocol", "ssh", "--host", "root@127.0.0.1",
         "--ssh-key", str(keys / "client"), "--host-key", str(keys / "host.pub")],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()[2]
    remote = f"local%3Froot%3D{store}"
    line = line.replace("ssh://root@127.0.0.1 ",
                        f"ssh://root@127.0.0.1?remote-store={remote}&remote-program={remote_program} ", 1)
    yield line, {"NIX_SSHOPTS": f"-p {port}"}, store
    proc.terminate()
    proc.wait(10)


def test_the_gpu_step_builds_on_the_gpu_builder_and_the_rest_here(cli, quickstart, tmp_path, gpu_builder):
    line, env, store = gpu_builder
    marker = uuid.uuid4().hex
    app = tmp_path / "app" / "app.py"
    app.parent.mkdir()
    app.write_text(
        "import modal\n"
        "image = (modal.Image.debian_slim(python_version='3.11')\n"
        f"         .run_commands('cat /dev/nvidia-test /run/opengl-driver/lib/libcuda.so.1 > /opt/seen; "
        f"echo {marker} > /opt/marker', gpu='T4')\n"
        "         .run_commands('test -e /dev/nvidia-test -o -e /run/opengl-driver && echo visible > /opt/other "
        "|| echo absent > /opt/other'))\n"
        "app = modal.App('gpu-builder', image=image)\n")

    refused = cli("build", app, ok=False)
    assert refused.returncode == 6, refused.stderr
    assert "cuda" in refused.stderr and "gpu-t4" in refused.stderr
    assert "nixbuild builders" in refused.stderr

    built = cli("build", app, "--builders", line, env=env)
    # nixbuild's report says where the gpu= layer was built; every other layer built here.
    remote_lines = [text for text in built.stderr.splitlines() if " on ssh://" in text]
    assert len(remote_lines) == 1 and "-1-run_commands on ssh://root@127.0.0.1" in remote_lines[0], built.stderr
    remote = sorted(p.name for p in (store / "nix" / "store").glob("*-layer-*"))
    assert any(name.endswith("-1-run_commands") for name in remote), remote
    assert not any(name.endswith("-2-run_commands") for name in remote), remote
    # The gpu= step saw the device and the driver's libraries; the next step saw neither, and
    # the image does not keep the mount point.
    out = cli("run", app, "--", "sh", "-c",
              "cat /opt/seen /opt/marker /opt/other; test -e /run/opengl-driver && echo kept || echo gone").stdout
    assert out == f"gpu\ndriver\n{marker}\nabsent\ngone\n"
