"""The Nix library as a flake input: a user's repository, made from the flake's template, builds
the same image as ``nixbuild build`` with ``nix build .#image`` from a fresh ``git clone`` of it,
offline and without the CLI, its local files laid out by Nix from the clone itself."""

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from conftest import EXAMPLES, ROOT

from nixbuild.local.nar import fixed_output_path
from nixbuild.oci.layout import OciLayout

NIX = ["nix", "--extra-experimental-features", "nix-command flakes"]
OFFLINE = ["--option", "sandbox", "true", "--option", "substituters", ""]
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost"}


def run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return proc.stdout


def checkout_copy(dest: Path) -> Path:
    """This checkout's source as git sees it (tracked and new files, nothing ignored: no .venv),
    so the consumer's `path:` input holds uncommitted work too."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT).split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def test_fresh_clone_of_a_template_repo_builds_the_cli_image(quickstart, cli, tmp_path):
    nixbuild = checkout_copy(tmp_path / "nixbuild")
    repo = tmp_path / "repo"
    repo.mkdir()
    run([*NIX, "flake", "init", "-t", f"path:{nixbuild}#default"], repo)
    flake = (repo / "flake.nix").read_text()
    assert re.search(r'inputs\.nixbuild\.url = "[^"]*";', flake)
    (repo / "flake.nix").write_text(re.sub(r'inputs\.nixbuild\.url = "[^"]*";',
                                           f'inputs.nixbuild.url = "path:{nixbuild}";', flake))
    # The quickstart (its layers are built already) with local files: a file new to the store,
    # so Nix must lay the tree out itself, and one the step's ignore rule leaves out.
    app = (EXAMPLES / "quickstart" / "app.py").read_text().replace(
        '.workdir("/app")\n', '.workdir("/app")\n    .add_local_dir("src", "/app/src", ignore=["*.log"])\n')
    (repo / "app.py").write_text(app)
    (repo / "src" / "unique.txt").write_text(uuid.uuid4().hex)
    (repo / "src" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (repo / "src" / "run.sh").chmod(0o755)
    (repo / "src" / "debug.log").write_text("not in the image")
    shutil.copy(quickstart["app"].parent / "nixbuild.lock", repo / "nixbuild.lock")

    cli("plan", "app.py", "-o", ".", "--flake-root", ".", cwd=repo)
    spec = json.loads((repo / "image.json").read_text())
    files = next(layer for layer in spec["layers"] if layer["kind"] == "files")
    assert sorted(s["src"] for s in files["sources"]) == ["src/main.py", "src/run.sh", "src/unique.txt"]
    assert {s["dest"]: s["executable"] for s in files["sources"]}["app/src/run.sh"] is True
    tree = fixed_output_path(files["tree"]["name"], files["tree"]["narHash"])
    run(["nix-store", "--delete", tree], repo)  # plan seeded it; the flake must not need that

    run([*NIX, "flake", "lock", *OFFLINE], repo)
    run(["git", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "image"], repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)

    out = json.loads(run([*NIX, "build", ".#image", *OFFLINE, "--no-link", "--json"], clone))[0]["outputs"]["out"]
    assert sorted(p.name for p in Path(tree, "app", "src").iterdir()) == ["main.py", "run.sh", "unique.txt"]
    run([*NIX, "flake", "check", *OFFLINE], clone)  # builds checks.x86_64-linux.image

    built = cli.json("build", "app.py", cwd=repo)[0]
    # Bit for bit the same image. Not the same store path: the CLI makes the local-files layer
    # itself and adds it by content (nixbuild/local/layer.py), where the flake runs its derivation.
    assert OciLayout(Path(out)).manifest_descriptor().digest == built["manifest_digest"]
    assert built["store_path"] != out
