""""Did you mean" for a package name the index does not have (nixbuild.python.suggest), on
tiny simple indexes written here: as ``file://`` folders and served on 127.0.0.1."""

from __future__ import annotations

import difflib
import urllib.parse
from pathlib import Path

import pytest

from nixbuild.errors import ResolveError
from nixbuild.python.names import normalize, project_of_file
from nixbuild.python.resolve import GLIBC, resolve, uv_default_index
from nixbuild.python.suggest import (IndexLocations, close_names, index_locations, project_names, suggest,
                                     unknown_packages)
from servers import free_port, serve_folder

PROJECTS = ["requests", "requests-oauthlib", "Flask", "numpy", "six"]
NO_CONFIG = {"UV_NO_CONFIG": "1"}

# Captured from runs of the pinned uv (0.13.9) `pip compile` against a file:// index.
NOT_FOUND = ("error: No solution found when resolving dependencies\n  cause: Because requets was not found in "
             "the package registry and you require requets, we can conclude that your requirements are "
             "unsatisfiable.")
NOT_FOUND_IN_LINKS = ("  cause: Because requets-x-y was not found in the provided package locations and you "
                      "require requets-x-y>=1, we can conclude that your requirements are unsatisfiable.")
NO_VERSIONS = ("  cause: Because there are no versions of requets[socks] and you require requets[socks], we "
               "can conclude that your requirements are unsatisfiable.")
NO_VERSION = ("  cause: Because there is no version of numpy==99 and you require numpy==99, we can conclude "
              "that your requirements are unsatisfiable.")


def simple_index(root: Path, projects: list[str] = PROJECTS) -> Path:
    """A PEP 503 root page; uv reads a project's page only for the projects asked for."""
    root.mkdir(parents=True)
    links = "".join(f'<a href="{normalize(name)}/">{name}</a>\n' for name in projects)
    (root / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    return root


@pytest.fixture
def no_uv_configuration(monkeypatch):
    for name in ("UV_INDEX", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS",
                 "UV_NO_INDEX", "UV_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UV_NO_CONFIG", "1")


# -- reading uv's message ----------------------------------------------------------------------


def test_the_names_uv_reports_missing():
    assert unknown_packages(NOT_FOUND) == ["requets"]
    assert unknown_packages(NOT_FOUND_IN_LINKS) == ["requets-x-y"]
    assert unknown_packages(NO_VERSIONS) == ["requets"]
    assert unknown_packages(NO_VERSION) == ["numpy"]
    assert unknown_packages("error: Failed to build `foo`") == []


# -- choosing names ----------------------------------------------------------------------------


def test_close_names_best_first_and_none_for_a_listed_name():
    names = {normalize(n): n for n in PROJECTS}
    assert close_names("requets", names) == ["requests"]
    assert close_names("flsk", names) == ["Flask"]  # as the index lists it
    assert close_names("Requests", names) == []  # listed: then the version is the problem
    assert close_names("zzzzzz", names) == []


def test_the_length_filter_changes_no_answer():
    words = ["requests", "request", "requestsx", "req", "requests-toolbelt", "reqeusts", "qequests", "r" * 30,
             "abcd", "abcdefghi"]
    names = {w: w for w in words}
    # "abcdef": "abcd" and "abcdefghi" are exactly at the cutoff (2*4/10 and 2*6/15).
    for wanted in ["requets", "requestss", "reqs", "requests-toolbel", "abcdef"]:
        assert close_names(wanted, names) == difflib.get_close_matches(wanted, words, n=3, cutoff=0.8)


# -- where uv looked ---------------------------------------------------------------------------


def no_default() -> str:
    raise AssertionError("the default index is read only when nothing names one")


def test_the_command_line_names_the_indexes():
    args = ["pip", "compile", "in.txt", "--index-url", "file:///a", "--extra-index-url=file:///b",
            "--find-links", "/links"]
    assert index_locations(args, default_index=no_default, environ=NO_CONFIG) == IndexLocations(
        indexes=("file:///a", "file:///b"), find_links=("/links",))


def test_the_environment_then_the_default(tmp_path):
    environ = {**NO_CONFIG, "UV_EXTRA_INDEX_URL": "file:///x file:///y", "UV_INDEX": "named=file:///z"}
    assert index_locations([], default_index=lambda: "file:///default", environ=environ).indexes == (
        "file:///default", "file:///z", "file:///x", "file:///y")
    assert index_locations(["--no-index", "-f", "/w"], default_index=no_default, environ=environ) == IndexLocations(
        find_links=("/w",))


def test_uv_configuration_files(tmp_path):
    config = tmp_path / "uv.toml"
    config.write_text('[pip]\nfind-links = ["/links"]\n\n[[index]]\nurl = "file:///main"\ndefault = true\n\n'
                      '[[index]]\nurl = "file:///extra"\n\n[[index]]\nurl = "file:///pinned-only"\nexplicit = true\n')
    expected = IndexLocations(indexes=("file:///main", "file:///extra"), find_links=("/links",))
    assert index_locations([], default_index=no_default, environ={"UV_CONFIG_FILE": str(config)}) == expected
    project = tmp_path / "project" / "src"
    project.mkdir(parents=True)
    (tmp_path / "project" / "pyproject.toml").write_text('[tool.uv]\nindex-url = "file:///project"\n')
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "home"), "XDG_CONFIG_DIRS": str(tmp_path / "etc")}
    assert index_locations([], default_index=no_default, environ=environ, cwd=project).indexes[0] == "file:///project"


def test_the_default_index_is_read_from_the_pinned_uv():
    assert urllib.parse.urlsplit(uv_default_index()).scheme == "https"


# -- what they list ----------------------------------------------------------------------------


def test_a_file_index_lists_its_projects_with_or_without_a_root_page(tmp_path):
    index = simple_index(tmp_path / "simple")
    assert project_names(IndexLocations(indexes=(index.as_uri(),)))["flask"] == "Flask"
    (tmp_path / "bare" / "six").mkdir(parents=True)
    assert project_names(IndexLocations(indexes=(str(tmp_path / "bare"),))) == {"six": "six"}


def test_an_http_index_and_find_links_page(tmp_path):
    simple_index(tmp_path / "simple")
    (tmp_path / "links.html").write_text('<a href="files/Flask_Login-0.6.3-py3-none-any.whl#sha256=00">x</a>\n'
                                         '<a href="https://elsewhere/six-1.16.0.tar.gz">six-1.16.0.tar.gz</a>\n')
    with serve_folder(tmp_path, "simple/") as url:
        names = project_names(IndexLocations(indexes=(f"{url}/simple",), find_links=(f"{url}/links.html",)))
    assert set(names) == {normalize(n) for n in PROJECTS} | {"flask-login"}


def test_a_find_links_folder_lists_its_distributions(tmp_path):
    for name in ("torch-2.5.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "my.pkg-1.0.tar.gz", "README"):
        (tmp_path / name).write_text("")
    assert project_names(IndexLocations(find_links=(tmp_path.as_uri(),))) == {"torch": "torch", "my-pkg": "my.pkg"}
    assert project_of_file("Flask_Login-0.6.3-py3-none-any.whl") == "Flask_Login"


def test_an_unreadable_index_gives_no_names_and_no_error(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/simple"
    assert project_names(IndexLocations(indexes=(dead, (tmp_path / "missing").as_uri()))) == {}
    assert suggest(NOT_FOUND, ["--index-url", dead], default_index=no_default, environ=NO_CONFIG) is None


def test_suggest_from_the_default_index(tmp_path):
    index = simple_index(tmp_path / "simple")
    found = suggest(NOT_FOUND, [], default_index=index.as_uri, environ=NO_CONFIG)
    assert str(found) == "'requets' is not on the package index; did you mean 'requests'?"
    several = suggest(NOT_FOUND.replace("requets", "requests-oauthlb"), [], default_index=index.as_uri,
                      environ=NO_CONFIG)
    assert several.candidates[0] == "requests-oauthlib"


# -- a real resolution -------------------------------------------------------------------------


@pytest.mark.usefixtures("no_uv_configuration")
def test_resolving_a_misspelt_package_suggests_the_real_one(tmp_path):
    index = simple_index(tmp_path / "simple")
    with pytest.raises(ResolveError) as info:
        resolve(["requets>=2"], python="3.11", glibc=GLIBC["bookworm"], constraints=[], index_url=index.as_uri(),
                where="image 'web', step 1 pip_install")
    assert "requets was not found in the package registry" in info.value.message  # uv's own words
    assert info.value.message.endswith("'requets' is not on the package index; did you mean 'requests'?")
    assert info.value.where == "image 'web', step 1 pip_install"


@pytest.mark.usefixtures("no_uv_configuration")
def test_resolving_against_an_http_index_suggests_too(tmp_path):
    simple_index(tmp_path / "simple")
    with serve_folder(tmp_path, "simple/") as url, pytest.raises(ResolveError) as info:
        resolve(["flsk"], python="3.11", glibc=GLIBC["bookworm"], constraints=[], index_url=f"{url}/simple")
    assert info.value.message.endswith("did you mean 'Flask'?")
