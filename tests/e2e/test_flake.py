"""The Nix library as a flake input: a consumer flake builds the same image, offline."""

import json
import subprocess

from conftest import ROOT


def test_consumer_flake_builds_the_same_image(quickstart, cli, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    cli("plan", quickstart["app"], "-o", specs)
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "flake.nix").write_text(
        "{\n"
        f'  inputs.nixbuild.url = "git+file://{ROOT}";\n'
        f'  inputs.specs = {{ url = "path:{specs}"; flake = false; }};\n'
        "  outputs = { self, nixbuild, specs }: {\n"
        "    packages.x86_64-linux.default =\n"
        '      nixbuild.lib.buildImage (builtins.fromJSON (builtins.readFile "${specs}/image.json"));\n'
        "  };\n"
        "}\n")
    proc = subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command flakes", "build", f"path:{consumer}",
         "--option", "sandbox", "true", "--option", "substituters", "", "--no-link", "--json"],
        capture_output=True, text=True, cwd=consumer)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)[0]["outputs"]["out"]
    assert out == quickstart["built"]["store_path"]
