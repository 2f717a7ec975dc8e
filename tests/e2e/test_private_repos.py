"""pip_install_private_repos: a package from a private git repository, pinned to a commit and
its checkout's NAR hash, built for real. No git host is reachable here, so the test serves a
bare repository it makes itself over git's smart HTTP protocol on 127.0.0.1, behind a login,
and git's ``url.<base>.insteadOf`` (a test-only global git config) maps ``https://github.com/``
onto it. Its one dependency (six) comes from the package index this machine reaches."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import files_holding, payload

from tests.servers import serve_git_with_login

TOKEN = "ghp-test-Zq81xLw0Pm"
APP = """
import modal

image = modal.Image.debian_slim(python_version="3.11").pip_install_private_repos(
    "github.com/acme/greet@main", git_user="ci-bot", secrets=[modal.Secret.from_local_environ(["GITHUB_TOKEN"])])
"""
PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "greet"
version = "0.1.0"
dependencies = ["six"]

[tool.setuptools]
packages = ["greet"]
"""


def git(*args, cwd) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def commit(work, value: str) -> str:
    (work / "greet" / "__init__.py").write_text(f"import six\n\nVALUE = {value!r}\n")
    git("add", "-A", cwd=work)
    git("commit", "-qm", value, cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def test_a_private_repository_is_pinned_built_and_its_token_kept_nowhere(cli, tmp_path):
    served, work = tmp_path / "srv", tmp_path / "work"
    (served / "acme").mkdir(parents=True)
    git("init", "-q", "--bare", "-b", "main", str(served / "acme" / "greet"), cwd=tmp_path)
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    git("remote", "add", "origin", str(served / "acme" / "greet"), cwd=work)
    (work / "greet").mkdir()
    (work / "pyproject.toml").write_text(PYPROJECT)
    first = commit(work, "first")
    app, cache = tmp_path / "app" / "app.py", tmp_path / "cache"
    app.parent.mkdir()
    app.write_text(APP)
    gitconfig = tmp_path / "gitconfig"
    env = {"GIT_CONFIG_GLOBAL": str(gitconfig), "NIXBUILD_CACHE_DIR": str(cache), "GITHUB_TOKEN": TOKEN}

    def route(url: str) -> None:  # https://github.com/ -> the test's server, for git only
        gitconfig.write_text(f'[url "{url}/"]\n\tinsteadOf = https://github.com/\n')

    def build() -> str:
        proc = cli("build", app, "--json", env=env)
        assert TOKEN not in proc.stdout + proc.stderr
        return payload(json.loads(proc.stdout))[0]["manifest_digest"]

    def value() -> str:
        return cli("run", app, "--", "python3", "-c", "import greet; print(greet.VALUE)", env=env).stdout.strip()

    with serve_git_with_login(served, "ci-bot", TOKEN) as url:
        route(url)
        first_digest = build()
    assert value() == "first"
    (step,) = [s for s in json.loads((app.parent / "nixbuild.lock").read_text())["images"]["image"]["steps"]
               if s["git"]]
    (pinned,) = step["git"]
    assert (pinned["repository"], pinned["ref"], pinned["commit"], pinned["name"]) == \
        ("github.com/acme/greet", "main", first, "greet")
    assert [w["name"] for w in step["wheels"]] == ["six"] and pinned["build"][0]["name"] == "setuptools"
    assert not files_holding(TOKEN, app, cache)
    # inspect and the SBOM list the package by repository and commit, with the checkout's NAR
    # sha256 (the lock's nix-base32 hash, converted by nix itself as the oracle)
    nar_hex = subprocess.run(["nix-hash", "--type", "sha256", "--to-base16", pinned["nar_hash"]], check=True,
                             capture_output=True, text=True).stdout.strip()
    (image,) = cli.json("inspect", app, env=env)
    assert {"kind": "git", "name": "greet", "filename": f"github.com/acme/greet@{first}", "sha256": nar_hex,
            "version": "0.1.0", "step": step["index"]} in image["python"]
    [files] = cli.json("sbom", app, "-o", tmp_path / "sbom", env=env)
    purls = {c["purl"]: c["hashes"][0]["content"]
             for c in json.loads(Path(files["cyclonedx"]).read_text())["components"]}
    assert purls[f"pkg:github/acme/greet@{first}"] == nar_hex

    # The branch moves; with the git host gone, the unchanged lock builds the same image.
    commit(work, "second")
    assert cli("lock", app, "--check", env=env).returncode == 0
    assert build() == first_digest and value() == "first"

    # A relock pins the branch's new commit.
    with serve_git_with_login(served, "ci-bot", TOKEN) as url:
        route(url)
        cli("lock", app, "--update", env=env)
        assert build() != first_digest
    assert value() == "second"
    assert not files_holding(TOKEN, app, cache)
