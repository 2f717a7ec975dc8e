"""`nixbuild check` explains a non-reproducible image, in text and in its JSON report (a passing
check of the quickstart is tests/e2e/test_ci_gate.py, which runs it through the CI gate)."""

import json
import shutil
from pathlib import Path

from conftest import ROOT, copy_example, payload


def test_check_fails_with_a_per_file_report_on_a_non_reproducible_image(tmp_path, cli):
    # A copy of the Nix library whose layer builder writes random bytes into every layer.
    nix_dir = tmp_path / "nix"
    shutil.copytree(ROOT / "nix", nix_dir, ignore=shutil.ignore_patterns("__pycache__"))
    shared = tmp_path / "nixbuild" / "oci"  # the module the builders share with the CLI
    shared.mkdir(parents=True)
    shutil.copy(ROOT / "nixbuild" / "oci" / "rootfs.py", shared)
    builder = nix_dir / "builders" / "deb_layer.py"
    source = builder.read_text()
    marker = '    status_text = "\\n".join(status[k] for k in sorted(status))\n'
    assert marker in source
    builder.write_text(source.replace(marker, marker + '    entries["etc/nixbuild-noise"] = regular('
                                      '"etc/nixbuild-noise", os.urandom(16))\n'))
    app = copy_example("quickstart", tmp_path / "qs")
    env = {"NIXBUILD_NIX_DIR": str(nix_dir)}
    cli("build", app, env=env)
    proc = cli("check", app, "--json", env=env, ok=False)
    assert proc.returncode == 7, proc.stderr
    (result,) = payload(json.loads(proc.stdout))
    assert result["ok"] is False
    layers = [layer for image in result["differences"]["images"] for layer in image["layers"]]
    noise = [f for layer in layers for f in layer["files"] if f["path"].endswith("etc/nixbuild-noise")]
    assert noise and "content" in {c["field"] for c in noise[0]["fields"]}
    assert "etc/nixbuild-noise" in proc.stderr
    assert "content" in proc.stderr
    assert "may not be deterministic" in proc.stderr or "differs" in proc.stderr
    assert Path(app.parent / ".nixbuild" / "image").exists()
