"""examples/ci/gate.sh, the CI gate people copy, run as CI runs it: lock --check, check (its JSON
report) and push to a real registry on 127.0.0.1. This is also the test of `nixbuild check`
passing on examples/local_files: the Debian base, run_commands layers (files created, changed
and deleted: whiteouts) and local-file layers, each rebuilt by `nix-build --check` and in a
second, empty store (tests/e2e/test_check.py covers a failing check)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, copy_example, payload

GATE = ROOT / "examples" / "ci" / "gate.sh"


def gate(app: Path, destination: str, report: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NIXBUILD": f"{sys.executable} -m nixbuild.cli", "NIXBUILD_REPORT": str(report),
           # the cache CI keeps between runs: this machine's
           "NIXBUILD_CACHE_DIR": os.environ.get("NIXBUILD_CACHE_DIR", str(Path.home() / ".cache" / "nixbuild"))}
    return subprocess.run(["sh", str(GATE), app.name, destination], cwd=app.parent, env=env,
                          capture_output=True, text=True)


def remote_digest(destination: str) -> str | None:
    proc = subprocess.run(["skopeo", "inspect", "--tls-verify=false", destination], capture_output=True, text=True)
    return json.loads(proc.stdout)["Digest"] if proc.returncode == 0 else None


@pytest.fixture(scope="module")
def local_files(tmp_path_factory, cli) -> dict:
    app = copy_example("local_files", tmp_path_factory.mktemp("gate") / "local_files")
    (built,) = cli.json("build", app)
    return {"app": app, "built": built}


def test_gate_checks_reports_and_pushes_the_local_files_example(local_files, cli, registry, tmp_path):
    app, built = local_files["app"], local_files["built"]
    destination = f"docker://{registry}/gate:ok"
    report = tmp_path / "check.json"
    proc = gate(app, destination, report)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = payload(json.loads(report.read_text()))
    assert result["ok"] is True
    assert result["second_store_digest"] == result["manifest_digest"] == built["manifest_digest"]
    assert result["rebuild_failures"] == [] and result["differences"] is None
    assert remote_digest(destination) == built["manifest_digest"]


def test_a_second_check_rebuilds_only_what_no_check_proved(local_files, cli):
    # After the gate's check every layer derivation is proven, each deb layer's tree too (the
    # layer is written from it): only the image is assembled again.
    (result,) = cli.json("check", local_files["app"])
    assert result["ok"] and result["second_store_digest"] == local_files["built"]["manifest_digest"]
    layers = [name for name in result["proven_earlier"] if not name.endswith("-tree")]
    trees = [name for name in result["proven_earlier"] if name.endswith("-tree")]
    assert len(layers) == len(local_files["built"]["layers"])
    assert trees and all(any(layer.endswith(tree.split("-", 1)[1].removesuffix("-tree")) for layer in layers)
                         for tree in trees), result["proven_earlier"]


def test_gate_stops_at_a_stale_lock_and_pushes_nothing(quickstart, registry, tmp_path):
    app = tmp_path / "app.py"
    shutil.copy(quickstart["app"], app)
    shutil.copy(quickstart["app"].parent / "nixbuild.lock", tmp_path / "nixbuild.lock")
    app.write_text(app.read_text().replace('.apt_install("curl", "jq")', '.apt_install("curl", "jq", "less")'))
    destination = f"docker://{registry}/gate:stale"
    proc = gate(app, destination, tmp_path / "check.json")
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "== nixbuild check" not in proc.stdout
    assert remote_digest(destination) is None


def test_workflow_runs_the_gate_with_a_cache():
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "workflow.yml").read_text())
    steps = workflow["jobs"]["gate"]["steps"]
    assert any(s.get("uses", "").startswith("actions/cache@") and s["with"]["path"] == ".nixbuild-cache"
               for s in steps)
    assert workflow["jobs"]["gate"]["env"]["NIXBUILD_CACHE_DIR"].endswith("/.nixbuild-cache")
    assert any("ci/gate.sh app.py" in s.get("run", "") for s in steps)
