"""Debian itself as the oracle of an image's package layers (issue 17).

nixbuild never runs maintainer scripts (nix/builders/maintainer.py synthesises their effects).
Here the same pinned .debs the image was built from are installed by real dpkg, with every
maintainer script run, by ``mmdebstrap --variant=custom`` from a local flat repository of
exactly those files (no network, no other version can slip in), with the image's own dpkg
path filters (the slim rules). The two trees are then compared: the file list, owners and
modes, symlink targets, and the contents of /etc. Both come from the same .debs, so every
difference is nixbuild's; the intended ones are listed in ``INTENDED``, each with its reason.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import posixpath
import stat
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "nix" / "builders"))
from debfile import read_deb  # noqa: E402

# Path patterns (fnmatch, no leading slash) that may differ, and why.
INTENDED: dict[str, str] = {
    # runtime files a container engine provides
    "etc/hostname": "runtime", "etc/hosts": "runtime", "etc/resolv.conf": "runtime",
    "etc/machine-id": "runtime (systemd's first boot)", "var/lib/dbus/machine-id": "runtime",
    "dev/*": "device nodes and links: mmdebstrap makes them, a container engine mounts its own /dev",
    "etc/fstab": "mmdebstrap's placeholder ('UNCONFIGURED FSTAB'): a container mounts nothing from it",
    # backups and locks of the shadow tools (useradd, pwconv) run by the maintainer scripts
    "etc/.pwd.lock": "lock file", "etc/passwd-": "backup", "etc/group-": "backup",
    "etc/shadow-": "backup", "etc/gshadow-": "backup", "etc/subuid-": "backup", "etc/subgid-": "backup",
    # apt and mmdebstrap's own set-up: nixbuild images are built from a lock, not by apt
    "etc/apt/*": "apt configuration written by mmdebstrap", "var/lib/apt/*": "apt lists",
    "etc/dpkg/dpkg.cfg.d/*": "the same slim filters, named 'docker' here and '99mmdebstrap' there",
    # logs and caches
    "var/log/*": "logs", "var/cache/*": "caches (debconf, ldconfig aux-cache, apt, man)",
    # systemd unit enablement: no init system runs in a container
    "etc/systemd/system/*": "systemd enablement", "var/lib/systemd/*": "systemd state",
    "etc/rc?.d/*": "sysv-rc enablement",
    # dpkg's database: maintainer scripts are not kept (never run), triggers are settled
    "var/lib/dpkg/info/*.preinst": "scripts never run", "var/lib/dpkg/info/*.postinst": "scripts never run",
    "var/lib/dpkg/info/*.prerm": "scripts never run", "var/lib/dpkg/info/*.postrm": "scripts never run",
    "var/lib/dpkg/info/*.config": "scripts never run", "var/lib/dpkg/info/*.templates": "debconf templates",
    "var/lib/dpkg/triggers": "trigger state", "var/lib/dpkg/triggers/*": "trigger state",
    "var/lib/dpkg/statoverride": "the image's empty statoverride database (dpkg makes it on first use)", "var/lib/dpkg/*-old": "backups", "var/lib/dpkg/lock*": "locks",
    "var/lib/dpkg/arch": "mmdebstrap's architecture list", "var/lib/dpkg/cmethopt": "dselect state",
    "var/lib/dpkg/status": "field order", "var/lib/dpkg/available": "apt's view",
    "var/lib/dpkg/alternatives/*": "same choices, registration order differs",
    # Modal's debian_slim: pip may install into the system Python
    "usr/lib/python3.*/EXTERNALLY-MANAGED": "Modal's images have no PEP 668 marker",
    # debconf's answers: a database, written by debconf at install time
    "var/lib/pam/*": "pam-auth-update's seen list follows the package order",
}


# Fields that cannot be reproducible, blanked on both sides before /etc contents are compared.
# /etc/shadow's third field is the day of the last password change: dpkg's run writes the day
# of the install, an image the fixed day 0 (its layer must not depend on the build date).
VARYING_FIELDS: dict[str, tuple[int, ...]] = {"etc/shadow": (2,)}


def contents_digest(path: str, data: bytes) -> str:
    """sha256 of a file's contents, the fields of ``VARYING_FIELDS`` blanked."""
    fields = VARYING_FIELDS.get(path)
    if fields:
        lines = []
        for line in data.decode().splitlines():
            parts = line.split(":")
            for i in fields:
                if i < len(parts):
                    parts[i] = ""
            lines.append(":".join(parts))
        data = "\n".join(lines).encode()
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Node:
    kind: str  # "f", "d", "l"
    mode: int
    uid: int
    gid: int
    target: str | None  # symlink target
    digest: str | None  # sha256 of regular files' contents


def flat_repository(debs: list[Path], repo: Path) -> None:
    """A trusted flat apt repository (``deb [trusted=yes] copy:<repo> ./``) of ``debs``."""
    repo.mkdir(parents=True, exist_ok=True)
    stanzas = []
    for deb in debs:
        blob = deb.read_bytes()
        (repo / deb.name).write_bytes(blob)
        control = read_deb(blob).control_text.strip("\n")
        stanzas.append(f"{control}\nFilename: ./{deb.name}\nSize: {len(blob)}\n"
                       f"SHA256: {hashlib.sha256(blob).hexdigest()}\n")
    (repo / "Packages").write_text("\n".join(stanzas))


def dpkg_filters(cfg: str) -> list[str]:
    """The ``path-exclude``/``path-include`` lines of a dpkg configuration file, as
    ``--dpkgopt=path-exclude=...`` options. mmdebstrap applies filters to the packages it
    extracts before dpkg runs only when they are given this way (as ``name=value`` options);
    a configuration file passed whole reaches dpkg, not that first extraction."""
    options = []
    for line in cfg.splitlines():
        words = line.split(None, 1)
        if len(words) == 2 and words[0] in ("path-exclude", "path-include"):
            options.append(f"--dpkgopt={words[0]}={words[1].strip()}")
    return options


def scratch(work: Path) -> Path:
    """A folder for the Debian root: on tmpfs (/dev/shm) when it has room, as dpkg's many
    small writes are what an install costs; ``work`` otherwise."""
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize > 4 << 30 and os.access("/dev/shm", os.W_OK):
            return Path(tempfile.mkdtemp(prefix="debian-oracle-", dir="/dev/shm"))
    except OSError:
        pass
    return work


def mmdebstrap(debs: list[Path], names: list[str], dpkg_cfg: str, suite: str, work: Path) -> Path:
    """Install ``names`` from exactly ``debs`` into ``work/root`` with real dpkg, every
    maintainer script run, with the dpkg path filters of ``dpkg_cfg``. Fast: a root on tmpfs,
    dpkg without fsync (``force-unsafe-io``), apt without its package lists' translations."""
    flat_repository(debs, work / "repo")
    root = work / "root"
    proc = subprocess.run(
        ["mmdebstrap", "--variant=custom", "--mode=root", "--quiet",
         "--include=" + ",".join(names), *dpkg_filters(dpkg_cfg), "--dpkgopt=force-unsafe-io",
         "--aptopt=Acquire::Languages \"none\"", suite, str(root),
         f"deb [trusted=yes] copy:{work / 'repo'} ./"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"mmdebstrap failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return root


def tree_of_root(root: Path) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(top, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                nodes[rel] = Node("l", 0o777, st.st_uid, st.st_gid, os.readlink(full), None)
            elif stat.S_ISDIR(st.st_mode):
                nodes[rel] = Node("d", st.st_mode & 0o7777, st.st_uid, st.st_gid, None, None)
            elif stat.S_ISREG(st.st_mode):
                digest = contents_digest(rel, Path(full).read_bytes()) if rel.startswith("etc/") else None
                nodes[rel] = Node("f", st.st_mode & 0o7777, st.st_uid, st.st_gid, None, digest)
    return nodes


def tree_of_layers(layers: list[Path]) -> dict[str, Node]:
    """The union of some layers of an image, whiteouts applied."""
    nodes: dict[str, Node] = {}
    data: dict[str, str] = {}
    for layer in layers:
        with tarfile.open(layer) as tar:
            for m in tar:
                rel = m.name.rstrip("/")
                base = posixpath.basename(rel)
                if base.startswith(".wh."):  # an OCI whiteout: the path below is gone
                    gone = posixpath.join(posixpath.dirname(rel), base[len(".wh."):])
                    for key in [k for k in nodes if k == gone or k.startswith(gone + "/")]:
                        del nodes[key]
                    continue
                if m.issym():
                    nodes[rel] = Node("l", 0o777, m.uid, m.gid, m.linkname, None)
                elif m.isdir():
                    nodes[rel] = Node("d", m.mode & 0o7777, m.uid, m.gid, None, None)
                else:
                    if m.isreg():
                        data[rel] = contents_digest(rel, tar.extractfile(m).read()) \
                            if rel.startswith("etc/") else ""
                    digest = data.get(m.linkname) if m.islnk() else data[rel]
                    nodes[rel] = Node("f", m.mode & 0o7777, m.uid, m.gid, None, digest or None)
    return nodes


def image_layers(layout: Path) -> list[tuple[str, Path]]:
    """(history line, layer blob) of an OCI layout's image."""
    index = json.loads((layout / "index.json").read_text())
    blob = lambda d: layout / "blobs" / "sha256" / d.split(":", 1)[1]  # noqa: E731
    manifest = json.loads(blob(index["manifests"][0]["digest"]).read_text())
    config = json.loads(blob(manifest["config"]["digest"]).read_text())
    history = [h["created_by"] for h in config["history"] if not h.get("empty_layer")]
    return [(h, blob(layer["digest"])) for h, layer in zip(history, manifest["layers"])]


def intended(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, p) for p in INTENDED)


def differences(ours: dict[str, Node], debian: dict[str, Node]) -> list[str]:
    """Every unintended difference, one line each, naming the file."""
    out = []
    for path in sorted(set(ours) | set(debian)):
        if intended(path):
            continue
        a, b = ours.get(path), debian.get(path)
        if a is None:
            out.append(f"/{path}: missing from the image (Debian: {b})")
        elif b is None:
            out.append(f"/{path}: only in the image ({a})")
        elif a.kind != b.kind or a.target != b.target or (a.kind != "l" and (a.mode, a.uid, a.gid) != (b.mode, b.uid, b.gid)):
            out.append(f"/{path}: image {a} != Debian {b}")
        elif a.digest != b.digest:
            out.append(f"/{path}: contents differ")
    return out
