"""The README's first command, ``./scripts/quickstart``, on a fresh Debian bookworm machine.

A machine where the tests have passed before hides what a fresh one lacks (Debian's nix-bin
alone has no /etc/nix/nix.conf and no build users, for one). So this test builds a new
bookworm root filesystem with mmdebstrap (``--variant=minbase``: Debian's required packages
and apt, less than any installed system has), copies the checkout into ``/root/nixbuild``
(what git tracks or would track: no .venv, no caches, no locks or builds) and runs
``./scripts/quickstart`` in it, as root, with a clean environment. Everything the quickstart
needs (Nix and its build users, skopeo, bubblewrap, Python, the .venv...) must come from
scripts/setup. Then scripts/setup runs once more and must find nothing left to do.

What comes from this machine is only how it reaches the package mirrors: the Debian entries
of its apt sources, its pip/uv configuration and ``PIP_*``/``UV_*``/proxy/CA variables, the CA
certificates it added under /usr/local/share/ca-certificates (a TLS-intercepting egress needs
them) and /etc/resolv.conf. The network is the host's (same network namespace).

Where and how the machine lives:
- Everything happens in namespaces of its own, so nothing outlives the test, even one that is
  killed: a private mount namespace holding a tmpfs with the root filesystem (nothing is ever
  mounted in the host's namespace, nothing is left on disk to delete) inside a PID namespace
  (``--kill-child``; the outermost ``unshare`` dies with the test through PR_SET_PDEATHSIG).
  The tmpfs also makes dpkg's fsyncs free: it holds about 2.5 GB at the end, in memory.
- The machine is entered with ``pivot_root``, not chroot: the kernel refuses to create a user
  namespace from a chrooted process, and both Nix's sandbox and bubblewrap (``nixbuild run``)
  create one. /proc is mounted fresh (in a PID namespace of its own), /dev and /sys are bound.
- It runs in a user namespace whose uids and gids 0..29999 are the host's own (the root's
  files stay root's, root keeps its rights over them) and whose 30000..65535 lie far away on
  the host: the build users scripts/setup creates (nixbld1.. = 30001.., as Nix's installer
  makes them) then share no uid with the host's own. Without that, any Nix build on the host
  kills the machine's builds: before and after each build Nix kills every process of its build
  user (``kill(-1, SIGKILL)`` as nixbld1), and the host's PID namespace sees the machine's
  processes too ("builder for ... failed due to signal 9 (Killed)").
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
# Inside the machine's user namespace, ids from SHIFT_FROM up map to SHIFTED_BASE.. on the host.
SHIFT_FROM, SHIFTED_BASE, ID_COUNT = 30000, 0x70000000, 65536
TIMEOUT_S = 2400
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = [pytest.mark.slow, pytest.mark.nix]

# Runs in the machine's namespaces as their PID 1. It waits until its uid/gid maps are written
# (a builtin read: no program runs unmapped), mounts what a machine has, makes the new root
# the namespace's root, copies the staged files in (after pivot_root, so that a symlink of the
# new root cannot lead outside it; directories that exist keep their owner and mode) and runs
# the command.
ENTER = r"""
set -eu
root=$1 stage=$2; shift 2
read -r _
exec </dev/null
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mkdir "$root/.host" "$root/.stage"
mount --bind "$stage" "$root/.stage"
cd "$root"
pivot_root . .host
cd /
umount -l /.host
rmdir /.host
tar -C /.stage -cf - . | tar -C / -xf - --no-overwrite-dir
umount /.stage
rmdir /.stage
exec "$@"
"""

# What runs on the fresh machine: the README's first command, then setup once more.
SCRIPT = r"""
set -eu
cd /root/nixbuild
./scripts/quickstart
echo "== on PATH"
cd /
nixbuild --version
cd /root/nixbuild
echo "== setup again"
./scripts/setup
echo "== nix.conf"
cat /etc/nix/nix.conf
getent group nixbld
echo "== used"
df -h / | tail -n 1
"""


def host_debian_entries(suite: str) -> list[str]:
    """The host's Debian archive entries for ``suite`` (and its -updates/-security), as
    one-line apt sources; third-party entries are left out (their keys are not there)."""
    from nixbuild.debian.sources import host_apt_sources

    entries = []
    for source in host_apt_sources():
        codename = re.split(r"[-/]", source.suite, maxsplit=1)[0]
        signed = source.signed_by is None or "debian-archive-keyring" in source.signed_by
        if codename != suite or "main" not in source.components or not signed:
            continue
        options = f" [signed-by={source.signed_by}]" if source.signed_by else ""
        entries.append(f"deb{options} {source.uri} {source.suite} {' '.join(source.components)}")
    return entries


def checkout_files() -> list[str]:
    """The checkout as a clone would have it, plus files not committed yet (not ignored)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    return sorted({name for name in out.decode().split("\0") if name and os.path.lexists(ROOT / name)})


def stage(stage_dir: Path, source: Path, target: str | None = None) -> None:
    """Copy ``source`` (a file, following links, or a folder) to ``target`` of the machine."""
    dest = stage_dir / (target or str(source)).lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, dest)
        shutil.copymode(source, dest)


def stage_machine_files(stage_dir: Path) -> dict[str, str]:
    """Stage the checkout and this machine's way to the mirrors; return the variables to pass."""
    for name in checkout_files():
        dest = stage_dir / "root" / "nixbuild" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest, follow_symlinks=False)
    stage(stage_dir, Path("/etc/resolv.conf"))
    for path in ("/etc/pip.conf", "/etc/xdg/pip", "/etc/uv/uv.toml", "/usr/local/share/ca-certificates"):
        if Path(path).exists():
            stage(stage_dir, Path(path))  # ca-certificates (which setup installs) adds the CAs
    home = Path.home()
    for name in (".config/pip", ".pip", ".config/uv"):
        if (home / name).exists():
            stage(stage_dir, home / name, f"/root/{name}")
    (stage_dir / "root").chmod(0o700)
    for variable in ("PIP_CONFIG_FILE", "UV_CONFIG_FILE"):
        if os.environ.get(variable) and Path(os.environ[variable]).is_file():
            stage(stage_dir, Path(os.environ[variable]))
    passed = re.compile(r"(PIP|UV)_.*|.*_PROXY|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE",
                        re.IGNORECASE)
    return {key: value for key, value in os.environ.items() if passed.fullmatch(key)}


def write_id_maps(pid: int) -> None:
    """Map the machine's ids: the host's own below SHIFT_FROM, far away from there up."""
    own = os.readlink("/proc/self/ns/user")
    deadline = time.monotonic() + 30
    while os.readlink(f"/proc/{pid}/ns/user") == own:  # unshare(2) has not run yet
        assert time.monotonic() < deadline, "unshare made no user namespace"
        time.sleep(0.01)
    table = f"0 0 {SHIFT_FROM}\n{SHIFT_FROM} {SHIFTED_BASE} {ID_COUNT - SHIFT_FROM}\n"
    Path(f"/proc/{pid}/uid_map").write_text(table)
    Path(f"/proc/{pid}/gid_map").write_text(table)


def machine(work: str, stage_dir: str, entries: list[str], env: dict[str, str]) -> int:
    """PID 1 of the outer namespaces (real root, private mounts): make the root filesystem on
    a tmpfs at ``work``, then run SCRIPT in it. Output lines carry the seconds since start."""
    started = time.monotonic()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - started:5.0f}] {line}", flush=True)

    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", work], check=True)
    root = os.path.join(work, "rootfs")
    made = subprocess.run(["mmdebstrap", "--quiet", "--mode=root", "--variant=minbase",
                           '--aptopt=Acquire::Languages "none"', SUITE, root, *entries],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in made.stdout.splitlines():
        say(line)
    if made.returncode != 0:
        say(f"mmdebstrap exited {made.returncode}")
        return 100
    say("== root filesystem made")
    clean = {"PATH": PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root", "SHELL": "/bin/bash",
             "TERM": "dumb", **env}
    command = ["unshare", "--user", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
               "--", "/bin/bash", "-c", ENTER, "enter", root, stage_dir,
               "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in clean.items()), "/bin/bash", "-c", SCRIPT]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    write_id_maps(proc.pid)
    proc.stdin.write(b"go\n")
    proc.stdin.close()
    for raw in proc.stdout:
        say(raw.decode(errors="replace").rstrip("\n"))
    return proc.wait()


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def mounts_below(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    targets = (line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())
    return [t for t in targets if t == str(path) or t.startswith(prefix)]


def test_quickstart_on_a_fresh_debian_machine(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("making a root filesystem and entering it needs root")
    for tool in ("mmdebstrap", "unshare", "git"):
        assert shutil.which(tool), f"{tool} is not installed (scripts/setup installs it)"
    entries = host_debian_entries(SUITE)
    assert entries, f"the host's apt sources name no Debian {SUITE} mirror"
    stage_dir, work = tmp_path / "stage", tmp_path / "machine"
    work.mkdir()
    env = stage_machine_files(stage_dir)
    args = json.dumps([str(work), str(stage_dir), entries, env])
    log = tmp_path / "machine.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private",
             "--", sys.executable, __file__, args],
            stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            env={**env, "PATH": PATH, "PYTHONDONTWRITEBYTECODE": "1"})
        try:
            rc = proc.wait(timeout=TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)  # --kill-child takes the machine along
                proc.wait()
    try:
        assert not mounts_below(tmp_path), f"mounts leaked into the host: {mounts_below(tmp_path)}"
        output = log.read_text(errors="replace")
        # the timeline, for whoever wants to know where the minutes go (pytest -s)
        print("".join(line for line in output.splitlines(keepends=True)
                      if re.match(r"\[ *\d+\] (==|setup:|•|image:|tmpfs)", line)))
        assert rc == 0, f"./scripts/quickstart on a fresh {SUITE} machine exited {rc}:\n{output[-8000:]}"
        quickstart, _, again = output.partition("== setup again")
        assert "python ok: OpenSSL" in quickstart, quickstart[-4000:]
        assert "hello from /app" in quickstart, quickstart[-4000:]
        assert re.search(r"\] jq-1\.\d", quickstart), quickstart[-4000:]
        assert re.search(r"\] curl \d+\.\d+", quickstart), quickstart[-4000:]
        # setup made the build users and Nix's configuration, and has nothing left to do now
        assert "setup: creating the nixbld group" in quickstart, quickstart[-4000:]
        # setup put `nixbuild` on PATH: callable by name from anywhere
        assert re.search(r"== on PATH\n\[ *\d+\] (python -m )?nixbuild, version ", quickstart), quickstart[-4000:]
        setup_again = again.partition("== nix.conf")[0]
        assert "setup:" not in setup_again, setup_again
        assert "build-users-group = nixbld" in again and "sandbox = true" in again, again
    finally:
        if not mounts_below(tmp_path):  # never delete across a mount
            shutil.rmtree(stage_dir, ignore_errors=True)


if __name__ == "__main__":  # PID 1 of the machine's outer namespaces, started by the test
    work_dir, stage_path, apt_entries, variables = json.loads(sys.argv[1])
    sys.exit(machine(work_dir, stage_path, apt_entries, variables))
