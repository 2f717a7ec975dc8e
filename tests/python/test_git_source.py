"""nixbuild.python.git_source: ref parsing, the token's checks and scrubbing, and real git
against a repository served on 127.0.0.1 behind a login (tests/servers.py), which a test-only
global git config puts in place of ``https://github.com/``. Seeding goes into a chroot store of
the test's own (``nix-store --store DIR``); nothing is built."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nixbuild.errors import InvalidError, LockError, MirrorError, ResolveError
from nixbuild.python import git_source
from nixbuild.python.git_source import GitPin, GitRef, parse_ref
from nixbuild.python.resolve import resolve
from nixbuild.tools import nixcmd
from tests.servers import serve_git_with_login

TOKEN = "tok-9Xq/+s3cr3t"  # with characters URL quoting changes
WHERE = "image 'image', step 1 pip_install_private_repos"


@pytest.mark.parametrize("text, host, path, rev", [
    ("github.com/org/repo", "github.com", "org/repo", None),
    ("github.com/org/repo@main", "github.com", "org/repo", "main"),
    ("github.com/org/repo.git@v1.2.0", "github.com", "org/repo.git", "v1.2.0"),
    ("gitlab.com/group/sub/repo@feature/x", "gitlab.com", "group/sub/repo", "feature/x"),
    ("github.com/org/repo@" + "a" * 40 + "#egg=repo", "github.com", "org/repo", "a" * 40),
])
def test_refs_parse_as_pip_reads_them(text, host, path, rev):
    ref = parse_ref(text)
    assert (ref.host, ref.path, ref.rev) == (host, path, rev)
    assert ref.url == f"https://{host}/{path}"
    assert ref.token_key == ("GITHUB_TOKEN" if host == "github.com" else "GITLAB_TOKEN")


@pytest.mark.parametrize("text, says", [
    ("git.example.org/org/repo", "is not a repository ref"),
    ("github.com/repo", "is not a repository ref"),
    ("github.com/org/../repo", "is not a repository ref"),
    ("github.com/org/repo@", "names no revision"),
    ("github.com/org/repo#subdirectory=pkg", "subdirectory"),
    ("github.com/org/repo#what=1", "unknown ref option"),
])
def test_bad_refs_are_refused_naming_the_ref(text, says):
    with pytest.raises(InvalidError, match=says) as caught:
        parse_ref(text)
    assert text.split("#")[0] in caught.value.message


def test_a_missing_token_is_modal_s_error_naming_the_key_and_step():
    refs = [parse_ref("github.com/org/a"), parse_ref("gitlab.com/org/b")]
    with pytest.raises(LockError) as caught:
        git_source.login_of(refs, {"GITHUB_TOKEN": "x"}, WHERE, "[Secret.from_name('git')]")
    assert caught.value.message == ("GITLAB_TOKEN env var not set by provided modal.Secret(s): "
                                    "[Secret.from_name('git')]")
    assert caught.value.where == WHERE and "GITLAB_TOKEN" in caught.value.fix
    assert git_source.login_of(refs[:1], {"GITHUB_TOKEN": "x", "OTHER": "y"}, WHERE, "") == {"GITHUB_TOKEN": "x"}


def test_tokens_are_scrubbed_also_url_quoted_and_not_index_settings():
    said = f"fatal: https://bot:{TOKEN}@host/x and https://bot:tok-9Xq%2F%2Bs3cr3t@host/x"
    assert git_source.scrub(said, [TOKEN]) == "fatal: https://bot:***@host/x and https://bot:***@host/x"
    assert git_source.without_tokens({"GITHUB_TOKEN": "a", "PIP_INDEX_URL": "b"}) == {"PIP_INDEX_URL": "b"}


def test_a_pin_validates_its_commit_and_hash():
    fields = dict(name="p", repository="github.com/o/r", commit="0" * 40, nar_hash="0" * 52, backend="b", build=[])
    assert GitPin(**fields).store_name == "r-000000000000"
    with pytest.raises(ValueError, match="full git commit"):
        GitPin(**{**fields, "commit": "abc123"})
    with pytest.raises(ValueError):
        GitPin(**{**fields, "nar_hash": "e" * 52})  # 'e' is not in Nix's base-32 alphabet


def _git(*args, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A served repository acme/tool with commits on main, a branch and an annotated tag."""
    root = tmp_path_factory.mktemp("git")
    work = root / "work"
    _git("init", "-q", "-b", "main", str(work), cwd=root)
    (work / "pyproject.toml").write_text('[project]\nname = "tool"\nversion = "1.0"\n')
    _git("add", "-A", cwd=work)
    _git("commit", "-qm", "one", cwd=work)
    tagged = _git("rev-parse", "HEAD", cwd=work)
    _git("tag", "-a", "v1", "-m", "v1", cwd=work)
    (work / "more.py").write_text("X = 2\n")
    _git("add", "-A", cwd=work)
    _git("commit", "-qm", "two", cwd=work)
    _git("branch", "dev", tagged, cwd=work)
    _git("clone", "-q", "--bare", str(work), str(root / "srv" / "acme" / "tool"), cwd=root)
    gitconfig = root / "gitconfig"
    with serve_git_with_login(root / "srv", "bot", TOKEN) as url:
        gitconfig.write_text(f'[url "{url}/"]\n\tinsteadOf = https://github.com/\n')
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
            yield {"head": _git("rev-parse", "HEAD", cwd=work), "tagged": tagged, "root": root}


def _check_out(text: str, tmp_path: Path, token: str = TOKEN) -> git_source.Checkout:
    (checkout,) = git_source.check_out([parse_ref(text)], "bot", {"GITHUB_TOKEN": token}, tmp_path / "cache",
                                       tmp_path, WHERE)
    return checkout


@pytest.mark.parametrize("suffix, commit", [("", "head"), ("@main", "head"), ("@dev", "tagged"), ("@v1", "tagged")])
def test_refs_resolve_to_commits_and_check_out_without_git(served, tmp_path, suffix, commit):
    checkout = _check_out(f"github.com/acme/tool{suffix}", tmp_path)
    assert checkout.commit == served[commit]
    assert not (checkout.path / ".git").exists() and (checkout.path / "pyproject.toml").is_file()
    assert checkout.requirement == checkout.path.as_uri()
    assert checkout.nar_hash == nixcmd.nar_hash(checkout.path)
    kept = git_source.cached(tmp_path / "cache", checkout.nar_hash, f"tool-{served[commit][:12]}")
    assert nixcmd.nar_hash(kept) == checkout.nar_hash


def test_a_full_commit_is_fetched_as_given(served, tmp_path):
    checkout = _check_out(f"github.com/acme/tool@{served['tagged']}", tmp_path)
    assert checkout.commit == served["tagged"] and not (checkout.path / "more.py").exists()


def test_unknown_refs_and_refused_logins_are_named_without_the_token(served, tmp_path):
    with pytest.raises(ResolveError, match="has no branch or tag nope"):
        _check_out("github.com/acme/tool@nope", tmp_path)
    with pytest.raises(ResolveError, match="abbreviated commit"):
        _check_out(f"github.com/acme/tool@{served['head'][:10]}", tmp_path)
    wrong = "wrong-" + TOKEN
    with pytest.raises(MirrorError, match="refused the login") as caught:
        _check_out("github.com/acme/tool", tmp_path, token=wrong)
    assert wrong not in caught.value.message and caught.value.where == WHERE


def test_seed_puts_the_checkout_into_a_store_from_the_cache_or_by_fetching_it(served, tmp_path):
    checkout = _check_out("github.com/acme/tool@main", tmp_path)
    pin = git_source.pin(checkout, "tool", git_source.build_system(checkout), [])
    assert pin.version == "1.0" and pin.backend == "setuptools.build_meta:__legacy__"
    store, cache = str(tmp_path / "store"), tmp_path / "cache"
    path = nixcmd.fixed_path(pin.store_name, pin.nar_hash)

    # From the cache: no token, and no git host needed.
    git_source.seed([pin], "bot", {}, "[]", cache, store, WHERE)
    assert nixcmd.is_valid(path, store)

    # Not cached (nor in this second store): fetched again by commit, with the token.
    second = str(tmp_path / "store2")
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    with pytest.raises(LockError, match="GITHUB_TOKEN env var not set"):
        git_source.seed([pin], "bot", {}, "[]", cache, second, WHERE)
    git_source.seed([pin], "bot", {"GITHUB_TOKEN": TOKEN}, "[]", cache, second, WHERE)
    assert nixcmd.is_valid(path, second)

    # A checkout that does not hash to the pin is refused.
    wrong = pin.model_copy(update={"nar_hash": "1" * 52})
    with pytest.raises(LockError, match="lock pins 1111"):
        git_source.seed([wrong], "bot", {"GITHUB_TOKEN": TOKEN}, "[]", cache, str(tmp_path / "store3"), WHERE)


def test_a_git_ref_round_trips_through_its_pin():
    ref = GitRef(host="gitlab.com", path="g/s/r", rev="v2")
    assert parse_ref(str(ref)) == ref


def test_uv_resolves_a_checkout_as_a_local_directory_and_names_it(served, tmp_path):
    checkout = _check_out("github.com/acme/tool", tmp_path)
    resolved = resolve([checkout.requirement], python="3.11", glibc=(2, 36), constraints=[], local=[checkout.path])
    assert resolved.local == {str(checkout.path.resolve()): "tool"}
    assert resolved.wheels == [] and resolved.sdists == []
