"""``pip_install_private_repos``: Python packages from private git repositories, pinned to a
commit and to the content of its checkout.

Modal installs each ref (``github.com/org/repo`` or ``github.com/org/repo@REF``, REF a branch,
tag or commit; the default branch without one) with ``pip install
"git+https://{git_user}:$GITHUB_TOKEN@{ref}"``, the token (``GITLAB_TOKEN`` for gitlab.com)
coming from the step's secrets. nixbuild does what nixpkgs' ``fetchgit`` does with a pinned
revision, split so that the token reaches git only:

- Lock time (:func:`check_out`): git resolves REF to a commit (``git ls-remote``), fetches
  that commit alone (``--depth 1``) and checks it out without ``.git``; the checkout's NAR
  hash pins its content. The checkout is kept in nixbuild's cache under that hash and
  resolved with uv as a local directory, so the package's dependencies are pinned as any
  pip step's and its PEP 517 build requirements as an sdist's (:mod:`nixbuild.python.sdist`).
  The lock keeps the ref as given, the commit and the hash (:class:`GitPin`): a branch that
  moves changes nothing until ``nixbuild lock --update``.
- Build time (:func:`seed`): Nix cannot log in, so the CLI puts the checkout into the store
  as a recursive fixed-output path named by that hash (``nix/fetch.nix`` ``seeded``), from
  the cache, else fetched again by commit with the token; one whose hash differs is refused.
  The build then compiles it in the sandbox like an sdist (``nix/builders/python_install.py``).
  With the checkout in the store or the cache, a build needs neither git nor the token.

The token goes to git through the environment and a credential helper given on its command
line (never a URL, an argument, a file or git's configuration), so the lock, the spec, every
.drv and the store never hold it; git's own messages are scrubbed of it all the same.
Submodules and ``#subdirectory=`` refs are refused for now.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import tomllib
import urllib.parse
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nixbuild.errors import InvalidError, LockError, MirrorError, ResolveError
from nixbuild.local.nar import nix_base32_decode
from nixbuild.python.resolve import WheelPin
from nixbuild.python.sdist import BuildSystem, build_system_of
from nixbuild.tools import nixcmd

HOSTS = {"github.com": "GITHUB_TOKEN", "gitlab.com": "GITLAB_TOKEN"}
TOKEN_KEYS = frozenset(HOSTS.values())
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256 object names
_STORE_CHARS = re.compile(r"[^A-Za-z0-9+._?=-]")
# The credential helper: git runs it with `get` and reads the login from what it prints. The
# values come from its environment, so they are in no argument or file.
_HELPER = ('!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" '
           '"$NIXBUILD_GIT_USER" "$NIXBUILD_GIT_TOKEN"; }; f')


class GitRef(BaseModel):
    """One ref of the step, as pip reads ``git+https://HOST/PATH@REV#FRAGMENT``."""

    model_config = ConfigDict(frozen=True)

    host: Literal["github.com", "gitlab.com"]
    path: str = Field(description="the repository: org/repo (gitlab: group/subgroup/repo)")
    rev: str | None = Field(None, description="branch, tag or commit; None: the default branch")

    @property
    def repository(self) -> str:
        return f"{self.host}/{self.path}"

    @property
    def url(self) -> str:
        return f"https://{self.repository}"

    @property
    def token_key(self) -> str:
        return HOSTS[self.host]

    def __str__(self) -> str:
        return self.repository + (f"@{self.rev}" if self.rev else "")


def parse_ref(text: str) -> GitRef:
    """``github.com/org/repo[@rev][#egg=name]`` -> GitRef. The rev follows the last ``@`` of
    the path, as in pip; ``#egg=`` is a name hint pip no longer needs (ignored)."""
    location, _, fragment = text.partition("#")
    for part in filter(None, fragment.split("&")):
        key = part.partition("=")[0]
        if key == "subdirectory":
            raise InvalidError(f"{text}: a package in a subdirectory of a repository is not supported by nixbuild yet",
                               fix="install it from a repository whose root holds its pyproject.toml or setup.py")
        if key != "egg":
            raise InvalidError(f"{text}: unknown ref option #{part}", fix="drop it (pip knows egg= and subdirectory=)")
    host, _, rest = location.partition("/")
    path, at, rev = rest.rpartition("@") if "@" in rest else (rest, "", "")
    segments = path.strip("/").split("/")
    if host not in HOSTS or len(segments) < 2 or not all(segments) or any(s in (".", "..") for s in segments):
        raise InvalidError(f"{text!r} is not a repository ref",
                           fix="write github.com/ORG/REPO or gitlab.com/GROUP/REPO, with @BRANCH, @TAG or @COMMIT "
                               "to pick a revision")
    if at and not rev:
        raise InvalidError(f"{text!r} names no revision after '@'", fix="drop the '@' or name a branch, tag or commit")
    return GitRef(host=host, path="/".join(segments), rev=rev or None)


class GitPin(BaseModel):
    """A package from a git repository, exactly: its commit and the NAR hash of its checkout,
    with what building it needs (as :class:`nixbuild.python.sdist.SdistPin`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="the project name uv read from the checkout")
    version: str | None = Field(None, description="the pyproject's static version (null: dynamic)")
    repository: str = Field(description="HOST/PATH, as the step names it")
    ref: str | None = Field(None, description="the branch, tag or commit the step asks for; null: the default branch")
    commit: str = Field(description="the commit the ref named when the step was locked")
    nar_hash: str = Field(description="NAR sha256 (nix base32) of the checkout, without .git")
    backend: str = Field(description="the PEP 517 build-backend object reference")
    backend_path: list[str] = Field([], description="in-tree backend directories (PEP 517 backend-path)")
    build: list[WheelPin] = Field(description="the build environment: build requirements, pinned")

    @field_validator("commit")
    @classmethod
    def _commit(cls, value: str) -> str:
        if not _COMMIT.match(value):
            raise ValueError(f"{value!r} is not a full git commit (40 or 64 lowercase hex digits)")
        return value

    @field_validator("nar_hash")
    @classmethod
    def _nar_hash(cls, value: str) -> str:
        nix_base32_decode(value, 32)  # raises ValueError naming what is wrong
        return value

    @property
    def git_ref(self) -> GitRef:
        return parse_ref(self.repository + (f"@{self.ref}" if self.ref else ""))

    @property
    def store_name(self) -> str:
        return store_name(self.git_ref, self.commit)


class Checkout(BaseModel):
    """A ref checked out at lock time: where uv reads it, and what pins it."""

    ref: GitRef
    commit: str
    nar_hash: str
    path: Path = Field(description="a throwaway copy of the checkout (builds may write into it)")

    @property
    def requirement(self) -> str:
        """The line uv resolves: the checkout as a local directory (uv reads its name)."""
        return self.path.as_uri()


def login_of(refs: Collection[GitRef], values: Mapping[str, str], where: str, reprs: str) -> dict[str, str]:
    """The token of each host the refs name, from the step's secret values; a missing one is
    Modal's error (it checks with ``[[ -v GITHUB_TOKEN ]]`` before it installs)."""
    for key in sorted({ref.token_key for ref in refs}):
        if key not in values:
            raise LockError(f"{key} env var not set by provided modal.Secret(s): {reprs}", where=where,
                            fix=f"add {key} (a token that can read the repositories) to one of the step's secrets")
    return {key: values[key] for key in TOKEN_KEYS if key in values}


def without_tokens(values: Mapping[str, str]) -> dict[str, str]:
    """The step's secret values less the git tokens: the rest are pip's index settings."""
    return {key: value for key, value in values.items() if key not in TOKEN_KEYS}


def scrub(text: str, secrets: Collection[str]) -> str:
    """``text`` with every secret (and its URL-quoted form) replaced by ``***``."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        for form in {secret, urllib.parse.quote(secret, safe="")}:
            text = text.replace(form, "***")
    return text


class _Git:
    """git with one login for one host, from the environment (see the module docstring)."""

    def __init__(self, ref: GitRef, user: str, token: str, where: str):
        self.ref, self.token, self.where = ref, token, where
        env = {k: v for k, v in os.environ.items() if k not in ("GIT_ASKPASS", "SSH_ASKPASS")}
        self.env = {**env, "GIT_TERMINAL_PROMPT": "0", "NIXBUILD_GIT_USER": user, "NIXBUILD_GIT_TOKEN": token}
        self.git = nixcmd.require("git", "git")

    def __call__(self, *args: str, cwd: Path | None = None) -> str:
        # credential.helper= first: no helper of the user's configuration is asked or told.
        cmd = [self.git, "-c", "credential.helper=", "-c", f"credential.helper={_HELPER}",
               "-c", "core.autocrlf=false", *args]
        proc = subprocess.run(cmd, cwd=cwd, env=self.env, capture_output=True, text=True)
        if proc.returncode != 0:
            said = scrub(proc.stderr.strip(), [self.token])
            if re.search(r"(?i)authentication failed|could not read (username|password)|\b40[13]\b", said):
                raise MirrorError(f"{self.ref.url} refused the login:\n{said}", where=self.where,
                                  fix=f"check {self.ref.token_key} in the step's secrets and git_user: the token "
                                      "must be able to read the repository")
            if re.search(r"(?i)unable to access|could not resolve|connection|timed out", said):
                raise MirrorError(f"{self.ref.url} is unreachable:\n{said}", where=self.where,
                                  fix="check the network (and git's http.proxy settings)")
            raise ResolveError(f"git {args[0]} {self.ref} failed:\n{said}", where=self.where,
                               fix="check that the repository and the branch, tag or commit exist")
        return proc.stdout

    def commit(self) -> str:
        """The commit the ref names now: a full commit as given; else the ref's branch, then
        its tag (peeled: an annotated tag's commit), as pip prefers them."""
        rev = self.ref.rev
        if rev is not None and _COMMIT.match(rev):
            return rev
        # In order of preference; git lists a tag's peeled commit only when asked by name.
        wanted = ["HEAD"] if rev is None else [f"refs/heads/{rev}", f"refs/tags/{rev}^{{}}", f"refs/tags/{rev}"]
        listed = {name: sha for sha, _, name in
                  (line.partition("\t") for line in self("ls-remote", self.ref.url, *wanted).splitlines())}
        for name in wanted:
            if name in listed:
                return listed[name]
        abbreviated = rev is not None and re.fullmatch(r"[0-9a-f]{4,39}", rev)
        hint = " (an abbreviated commit: give all its hex digits)" if abbreviated else ""
        raise ResolveError(f"{self.ref.url} has no branch or tag {rev or 'HEAD'}{hint}", where=self.where,
                           fix="name an existing branch, tag or full commit after '@'")

    def check_out(self, commit: str, into: Path) -> None:
        """The tree of ``commit`` in ``into`` (a new folder), without ``.git``."""
        with tempfile.TemporaryDirectory(prefix="nixbuild-git-") as tmp:
            work = Path(tmp) / "work"
            self("init", "-q", str(work))
            self("fetch", "-q", "--depth", "1", "--no-tags", self.ref.url, commit, cwd=work)
            self("checkout", "-q", "--detach", "FETCH_HEAD", cwd=work)
            got = self("rev-parse", "HEAD", cwd=work).strip()
            if got != commit:
                raise ResolveError(f"{self.ref.url} gave commit {got} for {commit}", where=self.where,
                                   fix="check the repository")
            if (work / ".gitmodules").exists():
                raise InvalidError(f"{self.ref} has git submodules, which nixbuild does not check out yet",
                                   where=self.where, fix="install the package from a repository without submodules")
            shutil.rmtree(work / ".git")
            shutil.copytree(work, into, symlinks=True)


def store_name(ref: GitRef, commit: str) -> str:
    """A checkout's name in the store: the repository's last segment and the commit."""
    return _STORE_CHARS.sub("_", f"{ref.path.rsplit('/', 1)[-1].removesuffix('.git')}-{commit[:12]}")


def _static_version(path: Path) -> str | None:
    try:
        project = tomllib.loads((path / "pyproject.toml").read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return None if "version" in project.get("dynamic", []) else project.get("version")


def cached(cache_dir: Path, nar_hash: str, name: str) -> Path:
    """Where the cache keeps a checkout: by its NAR hash, under its store name."""
    return cache_dir / "git" / nar_hash / name


def _keep(tree: Path, cache_dir: Path, nar_hash: str, name: str) -> Path:
    """``tree`` copied into the cache (whole, or not at all)."""
    target = cached(cache_dir, nar_hash, name)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".partial-", dir=target.parent) as tmp:
            shutil.copytree(tree, Path(tmp) / name, symlinks=True)
            os.replace(Path(tmp) / name, target)
    return target


def check_out(refs: list[GitRef], git_user: str, tokens: Mapping[str, str], cache_dir: Path, work: Path,
              where: str) -> list[Checkout]:
    """Each ref resolved to its commit and checked out (lock time): kept in the cache by NAR
    hash, with a throwaway copy under ``work`` for uv."""
    out = []
    for number, ref in enumerate(refs):
        git = _Git(ref, git_user, tokens[ref.token_key], where)
        commit = git.commit()
        tree = work / f"checkout-{number}"
        git.check_out(commit, tree)
        nar_hash = nixcmd.nar_hash(tree)
        _keep(tree, cache_dir, nar_hash, store_name(ref, commit))
        out.append(Checkout(ref=ref, commit=commit, nar_hash=nar_hash, path=tree))
    return out


def pin(checkout: Checkout, name: str, system: BuildSystem, build: list[WheelPin]) -> GitPin:
    return GitPin(name=name, version=_static_version(checkout.path), repository=checkout.ref.repository,
                  ref=checkout.ref.rev, commit=checkout.commit, nar_hash=checkout.nar_hash, backend=system.backend,
                  backend_path=system.backend_path, build=build)


def build_system(checkout: Checkout) -> BuildSystem:
    path = checkout.path / "pyproject.toml"
    return build_system_of(path.read_text() if path.is_file() else None, f"{checkout.ref} at {checkout.commit}",
                           fix="fix the repository's pyproject.toml")


def seed(pins: list[GitPin], git_user: str, values: Mapping[str, str], reprs: str, cache_dir: Path,
         store: str | None, where: str) -> None:
    """Each pinned checkout in the store (build time): already there, from the cache, or
    fetched by commit with the step's token; its NAR hash must be the lock's."""
    for pinned in pins:
        if nixcmd.is_valid(nixcmd.fixed_path(pinned.store_name, pinned.nar_hash), store):
            continue
        tree = cached(cache_dir, pinned.nar_hash, pinned.store_name)
        if not tree.is_dir() or nixcmd.nar_hash(tree) != pinned.nar_hash:
            ref = pinned.git_ref
            tokens = login_of([ref], values, where, reprs)
            with tempfile.TemporaryDirectory(prefix="nixbuild-git-") as tmp:
                fetched = Path(tmp) / pinned.store_name
                _Git(ref, git_user, tokens[ref.token_key], where).check_out(pinned.commit, fetched)
                got = nixcmd.nar_hash(fetched)
                if got != pinned.nar_hash:
                    raise LockError(f"the checkout of {ref} at {pinned.commit} has NAR hash {got}, the lock pins "
                                    f"{pinned.nar_hash}", where=where,
                                    fix="if the repository's history was rewritten, run `nixbuild lock --update`")
                if tree.exists():
                    shutil.rmtree(tree)
                tree = _keep(fetched, cache_dir, pinned.nar_hash, pinned.store_name)
        nixcmd.add_fixed_recursive(tree, store)
