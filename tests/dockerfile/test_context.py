"""COPY/ADD never follow a link out of the build context and never take .nixbuild/."""

from __future__ import annotations

from pathlib import Path

import pytest

from nixbuild.api.ignore import AUTO_DOCKERIGNORE
from nixbuild.api.steps import DockerfileCommands
from nixbuild.dockerfile import translate
from nixbuild.errors import InvalidError
from nixbuild.local.files import files_for_step

WHERE = "image 'web', step 1 dockerfile_commands"


def files(cwd: Path, *commands: str) -> dict[str, str]:
    """What the COPY lines put into the image: remote path → contents."""
    steps = translate(DockerfileCommands(commands=commands, ignore=AUTO_DOCKERIGNORE, context_dir="ctx"),
                      cwd=cwd, where=WHERE)
    return {f.remote: f.source.read_text() for s in steps for f in files_for_step(s, cwd=cwd, where="test")}


def refused(cwd: Path, *commands: str) -> InvalidError:
    with pytest.raises(InvalidError) as info:
        files(cwd, *commands)
    assert info.value.fix
    return info.value


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "passwd").write_text("root:x:0:0\n")
    (tmp_path / "host" / "a.conf").write_text("host conf\n")
    context = tmp_path / "ctx"
    (context / "conf").mkdir(parents=True)
    (context / "conf" / "app.conf").write_text("app conf\n")
    return tmp_path


def test_a_link_inside_the_context_is_followed(ctx):
    (ctx / "ctx" / "current.conf").symlink_to("conf/app.conf")
    assert files(ctx, "COPY current.conf /etc/") == {"/etc/current.conf": "app conf\n"}
    assert files(ctx, "COPY *.conf /etc/") == {"/etc/current.conf": "app conf\n"}


def test_a_glob_matching_a_link_out_is_refused_naming_it(ctx):
    (ctx / "ctx" / "passwd.conf").symlink_to(ctx / "host" / "passwd")
    err = refused(ctx, "COPY *.conf /etc/")
    assert "symlink 'passwd.conf'" in err.message and "outside" in err.message
    assert err.where.startswith(WHERE) and "COPY *.conf" in err.where


def test_a_glob_through_a_linked_directory_out_is_refused_naming_the_link(ctx):
    (ctx / "ctx" / "etc").symlink_to(ctx / "host")
    err = refused(ctx, "COPY etc/*.conf /etc/")
    assert "symlink 'etc'" in err.message and str(ctx / "host") in err.message


def test_a_directory_source_with_a_link_out_is_refused_naming_it(ctx):
    (ctx / "ctx" / "conf" / "stolen").symlink_to(ctx / "host" / "passwd")
    err = refused(ctx, "COPY conf /etc/app/")
    assert "symlink 'stolen'" in err.message


def test_the_whole_context_never_takes_nixbuild_even_unignored(ctx):
    context = ctx / "ctx"
    (context / ".nixbuild" / "secrets").mkdir(parents=True)
    (context / ".nixbuild" / "secrets" / "api.env").write_text("API_TOKEN=t\n")
    (context / ".dockerignore").write_text("!.nixbuild\n!.nixbuild/**\n")
    assert sorted(files(ctx, "COPY . /app/")) == ["/app/.dockerignore", "/app/conf/app.conf"]
    assert "matches nothing" in refused(ctx, "COPY .nix* /x/").message
    err = refused(ctx, "COPY .nixbuild/secrets/api.env /x")
    assert ".nixbuild/" in err.message
