"""apt itself, as the oracle for the resolver: ``apt-get -s install`` on a private state.

The repository apt reads is laid out from the very Packages files the index was built from
(byte for byte; unsigned Release files, ``[trusted=yes]`` sources). Everything apt touches --
configuration, lists, caches, the dpkg status file -- lives under a private directory, and
``APT_CONFIG`` keeps apt away from the host's configuration (``/etc/apt/apt.conf.d`` may set
e.g. Install-Recommends); the host's apt state is never read or written.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from nixbuild.debian import Package, PackageIndex

_INST = re.compile(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) ")
_REMV = re.compile(r"^Remv (\S+)")


@dataclass
class AptAnswer:
    """What apt-get would do: installs (and upgrades) by name, removals, or its refusal."""

    installs: dict[str, str] = field(default_factory=dict)
    removals: list[str] = field(default_factory=list)
    error: str | None = None
    output: str = ""


class AptOracle:
    """A private apt that sees exactly the suites of ``index``."""

    def __init__(self, index: PackageIndex, workdir: Path):
        self.index = index
        self.workdir = workdir
        root = workdir / "root"
        for sub in (
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
        ):
            (root / sub).mkdir(parents=True, exist_ok=True)
        sources = []
        for snapshot in index.snapshots:
            archive = workdir / "repo" / snapshot.archive
            relative = f"{snapshot.component}/binary-{snapshot.architecture}/Packages"
            suite_dir = archive / "dists" / snapshot.suite
            (suite_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            data = index.index_text(snapshot)
            (suite_dir / relative).write_bytes(data)
            (suite_dir / "Release").write_text(
                f"Suite: {snapshot.suite}\nCodename: {snapshot.suite}\n"
                f"Date: {snapshot.date or 'Thu, 01 Jan 2026 00:00:00 UTC'}\n"
                f"Components: {snapshot.component}\nSHA256:\n"
                f" {hashlib.sha256(data).hexdigest()} {len(data)} {relative}\n"
            )
            sources.append(
                f"deb [trusted=yes] file:{archive} {snapshot.suite} {snapshot.component}"
            )
        (root / "etc/apt/sources.list").write_text("\n".join(sources) + "\n")
        self.empty_status = self.write_status("status-empty", [])
        self.config = workdir / "apt.conf"
        self.config.write_text(
            f'Dir "{root}/";\n'
            f'Dir::State::status "{self.empty_status}";\n'
            f'Dir::Etc::Parts "{root}/etc/apt/apt.conf.d";\n'
            f'APT::Architecture "{index.architecture}";\n'
            f'APT::Architectures {{ "{index.architecture}"; }};\n'
            'APT::Sandbox::User "root";\n'
            'APT::Install-Suggests "false";\n'
            'Debug::NoLocking "1";\n'
            'Acquire::Languages "none";\n'
        )
        result = self._apt_get(["update"])
        if result.returncode != 0 or "\nW:" in "\n" + result.stderr:
            raise RuntimeError(
                f"apt-get update of the oracle repository failed:\n{result.stdout}{result.stderr}"
            )

    def _apt_get(self, args: list[str]) -> subprocess.CompletedProcess:
        env = dict(os.environ, APT_CONFIG=str(self.config), LC_ALL="C")
        return subprocess.run(
            ["apt-get", "-q", *args], env=env, capture_output=True, text=True, check=False
        )

    def write_status(self, name: str, installed: list[Package]) -> Path:
        """A dpkg status file (under the oracle's directory) listing ``installed``."""
        path = self.workdir / name
        path.write_text(
            "\n".join(
                self.index.control(package).rstrip("\n") + "\nStatus: install ok installed\n"
                for package in installed
            )
        )
        return path

    def install(
        self, requested: list[str], *, status: Path | None = None, recommends: bool = True
    ) -> AptAnswer:
        """``apt-get -s install`` against ``status`` (default: nothing installed)."""
        result = self._apt_get(
            [
                "-s",
                "-o",
                f"Dir::State::status={status or self.empty_status}",
                # No pkgcache.bin: several simulations may run at once.
                "-o",
                "Dir::Cache::pkgcache=",
                "-o",
                f"APT::Install-Recommends={'true' if recommends else 'false'}",
                "install",
                *requested,
            ]
        )
        answer = AptAnswer(output=result.stdout + result.stderr)
        if result.returncode != 0:
            answer.error = answer.output
            return answer
        for line in result.stdout.splitlines():
            if match := _INST.match(line):
                answer.installs[match[1]] = match[3]
            elif match := _REMV.match(line):
                answer.removals.append(match[1])
        return answer
