"""`nixbuild check`: passes on a reproducible image, explains a non-reproducible one."""

import shutil
from pathlib import Path

from conftest import ROOT, copy_example


def test_check_passes_on_the_quickstart(quickstart, cli):
    (result,) = cli.json("check", quickstart["app"])
    assert result["ok"] is True
    assert result["second_store_digest"] == result["manifest_digest"] == quickstart["built"]["manifest_digest"]


def test_check_fails_with_a_per_file_report_on_a_non_reproducible_image(tmp_path, cli):
    # A copy of the Nix library whose layer builder writes random bytes into every layer.
    nix_dir = tmp_path / "nix"
    shutil.copytree(ROOT / "nix", nix_dir, ignore=shutil.ignore_patterns("__pycache__"))
    builder = nix_dir / "builders" / "deb_layer.py"
    source = builder.read_text()
    marker = '    status_text = "\\n".join(status[k] for k in sorted(status))\n'
    assert marker in source
    builder.write_text(source.replace(marker, marker + '    entries["etc/nixbuild-noise"] = regular('
                                      '"etc/nixbuild-noise", os.urandom(16))\n'))
    app = copy_example("quickstart", tmp_path / "qs")
    env = {"NIXBUILD_NIX_DIR": str(nix_dir)}
    cli("build", app, env=env)
    proc = cli("check", app, env=env, ok=False)
    assert proc.returncode == 7, proc.stderr
    assert "NOT reproducible" in proc.stdout
    assert "etc/nixbuild-noise" in proc.stderr
    assert "content" in proc.stderr
    assert "may not be deterministic" in proc.stderr or "differs" in proc.stderr
    assert Path(app.parent / ".nixbuild" / "image").exists()
