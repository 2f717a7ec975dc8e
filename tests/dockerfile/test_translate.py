"""dockerfile_commands → step models (nixbuild.dockerfile.translate)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nixbuild.api.ignore import AUTO_DOCKERIGNORE, FilePatternMatcher, to_ignore_spec
from nixbuild.api.gpu import GpuSpec
from nixbuild.api.secret import Secret
from nixbuild.api.steps import (
    AddLocalDir,
    AddLocalFile,
    Cmd,
    CopyFrom,
    DockerfileCommands,
    Entrypoint,
    Env,
    RunCommands,
    Shell,
    Workdir,
)
from nixbuild.dockerfile import translate
from nixbuild.errors import InvalidError
from nixbuild.warn import NixbuildWarning
from nixbuild.local.files import files_for_step

WHERE = "image 'web', step 1 dockerfile_commands"


def step(*commands: str, **kwargs) -> DockerfileCommands:
    kwargs.setdefault("ignore", AUTO_DOCKERIGNORE)
    return DockerfileCommands(commands=commands, **kwargs)


def tr(*commands: str, cwd: Path = Path("/nonexistent"), **kwargs):
    extra = {k: kwargs.pop(k) for k in ("workdir", "image_env", "shell") if k in kwargs}
    return translate(step(*commands, **kwargs), cwd=cwd, where=WHERE, **extra)


def error(*commands: str, cwd: Path = Path("/nonexistent"), **kwargs) -> InvalidError:
    with pytest.raises(InvalidError) as info:
        tr(*commands, cwd=cwd, **kwargs)
    err = info.value
    assert err.where is not None and err.where.startswith(WHERE)
    assert "Dockerfile line" in err.where
    assert err.fix
    return err


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def remotes(steps, cwd: Path) -> dict[str, str]:
    """What the local-file steps put into the image: remote path → contents (later wins)."""
    out: dict[str, str] = {}
    for s in steps:
        for f in files_for_step(s, cwd=cwd, where="test"):
            out[f.remote] = f.source.read_text()
    return out


# --- RUN ---------------------------------------------------------------------------------------


def test_run_shell_and_exec_form_one_step_each():
    steps = tr("RUN apt-get update", 'RUN ["echo", "a b", "$HOME"]')
    assert steps == [RunCommands(commands=("apt-get update",)),
                     RunCommands(commands=("echo 'a b' '$HOME'",))]


def test_run_continuation_over_list_entries_with_trailing_blank():
    steps = tr("RUN cd /tmp && \\ ", "   echo hi", "RUN echo a \\", "# comment inside", "  && echo b")
    assert [s.commands for s in steps] == [("cd /tmp &&    echo hi",), ("echo a   && echo b",)]


def test_run_carries_build_options():
    secret = Secret.from_name("token")
    (run,) = tr("RUN true", env={"A": "1"}, secrets=(secret,), gpu=GpuSpec(type="T4", count=1), force_build=True)
    assert run.env == {"A": "1"} and run.force_build is True
    assert run.secrets == (secret,) and run.gpu == GpuSpec(type="T4", count=1)


def test_run_flags_rejected():
    err = error("RUN --mount=type=cache,target=/root/.cache pip install x")
    assert "--mount=type=cache" in err.message


def test_lowercase_instruction_and_comments():
    assert tr("# hello", "run echo x", "") == [RunCommands(commands=("echo x",))]


# --- ENV / ARG ---------------------------------------------------------------------------------


def test_env_forms():
    steps = tr('ENV A=1 B="two words" C=x\\ y', "ENV D hello  world", "ENV E='$A' F=$A")
    assert steps == [Env(vars={"A": "1", "B": "two words", "C": "x y"}),
                     Env(vars={"D": "hello  world"}),
                     Env(vars={"E": "$A", "F": "1"})]


def test_env_pairs_see_the_environment_from_before_the_instruction():
    steps = tr("ENV A=old", "ENV A=new B=$A")
    assert steps[1] == Env(vars={"A": "new", "B": "old"})


def test_arg_defaults_build_args_and_substitution():
    steps = tr(
        "ARG VERSION=1.0",
        "ARG NAME=app",
        "ARG EMPTY",
        "ENV V=$VERSION N=${NAME} D=${EMPTY:-dflt} P=${NAME:+set} Q=${EMPTY:+set} R=${NAME}-x",
        build_args={"VERSION": "2.5"},
    )
    assert steps[-1] == Env(vars={"V": "2.5", "N": "app", "D": "dflt", "P": "set", "Q": "", "R": "app-x"})


def test_arg_default_expands_earlier_values():
    steps = tr("ARG A=x", "ARG B=${A}y", "WORKDIR /$B")
    assert steps == [Workdir(path="/xy")]


def test_env_overrides_arg_in_substitution():
    steps = tr("ARG X=arg", "ENV X=env", "WORKDIR /$X")
    assert steps[-1] == Workdir(path="/env")


def test_args_reach_run_as_step_env_but_env_wins():
    steps = tr("ARG A=1", "ARG B=2", "ARG UNSET", "ENV B=persisted", "RUN echo $A $B", env={"S": "s"})
    run = steps[-1]
    assert run.commands == ("echo $A $B",)  # RUN is not substituted: its shell does that
    assert run.env == {"A": "1", "S": "s"}


def test_image_env_is_visible_to_substitution():
    assert tr("WORKDIR $HOME/app", image_env={"HOME": "/root"}) == [Workdir(path="/root/app")]


def test_escaped_dollar_and_single_quotes_are_literal():
    assert tr("ARG A=1", "ENV X=\\$A Y='${A}' Z=\"$A\"")[-1] == Env(vars={"X": "$A", "Y": "${A}", "Z": "1"})


def test_bad_substitution():
    err = error("ENV A=${B")
    assert "}" in err.message


def test_env_pair_without_equals():
    err = error("ENV A=1 B")
    assert "can't find =" in err.message


# --- WORKDIR / ENTRYPOINT / CMD / SHELL -------------------------------------------------------


def test_workdir():
    assert tr("WORKDIR /app", "WORKDIR sub") == [Workdir(path="/app"), Workdir(path="sub")]


def test_entrypoint_cmd_shell_forms():
    steps = tr('ENTRYPOINT ["python", "-m", "app"]', "CMD serve --port 80",
               'SHELL ["/bin/bash", "-lc"]', "CMD echo $HOME", force_build=True)
    assert steps == [
        Entrypoint(args=("python", "-m", "app"), force_build=True),
        Cmd(args=("/bin/sh", "-c", "serve --port 80"), force_build=True),
        Shell(args=("/bin/bash", "-lc"), force_build=True),
        Cmd(args=("/bin/bash", "-lc", "echo $HOME"), force_build=True),
    ]


def test_shell_needs_json():
    assert "JSON form" in error("SHELL /bin/bash -c").message


# --- ignored and refused instructions --------------------------------------------------------


def test_metadata_instructions_without_a_config_key_warn():
    with pytest.warns(NixbuildWarning) as caught:
        steps = tr("HEALTHCHECK CMD test -e /ready || exit 1", "ONBUILD RUN x", "MAINTAINER me", "RUN ok")
    assert steps == [RunCommands(commands=("ok",))]
    messages = [str(w.message) for w in caught]
    assert [m.split(": ")[2].split()[0] for m in messages] == ["HEALTHCHECK", "ONBUILD", "MAINTAINER"]
    assert all(m.startswith(WHERE) and "is ignored" in m for m in messages)


def test_from_refused():
    assert "FROM" in error("FROM debian").message


def test_unknown_instruction_and_bare_instruction():
    assert "unknown instruction" in error("FROO bar").message
    assert "line 2" in error("RUN ok", "RUN").where


# --- COPY / ADD ---------------------------------------------------------------------------------


def test_copy_file_and_dest_rules(tmp_path):
    write(tmp_path, {"a.txt": "A", "b.txt": "B"})
    steps = tr("COPY a.txt /etc/x.conf", "COPY a.txt /opt/", "WORKDIR /app", "COPY b.txt .",
               "COPY b.txt rel/", "COPY --chown=1:1 --chmod=644 --link a.txt b.txt dir", cwd=tmp_path)
    files = [s for s in steps if isinstance(s, AddLocalFile)]
    assert [(Path(s.local_path).name, s.remote_path) for s in files] == [
        ("a.txt", "/etc/x.conf"), ("a.txt", "/opt/a.txt"), ("b.txt", "/app/b.txt"),
        ("b.txt", "/app/rel/b.txt"), ("a.txt", "/app/dir/a.txt"), ("b.txt", "/app/dir/b.txt")]
    assert all(s.copy for s in files)
    assert remotes(files, tmp_path)["/etc/x.conf"] == "A"


def test_copy_json_form_and_workdir_param(tmp_path):
    write(tmp_path, {"my file.txt": "x"})
    (s,) = tr('COPY ["my file.txt", "out/"]', cwd=tmp_path, workdir="/srv")
    assert s == AddLocalFile(local_path=str(tmp_path / "my file.txt"), remote_path="/srv/out/my file.txt", copy=True)


def test_copy_dir_contents_with_dockerignore(tmp_path):
    write(tmp_path, {"src/app.py": "app", "src/skip.pyc": "no", "src/pkg/m.py": "m",
                     "top.txt": "t", ".dockerignore": "# comment\nsrc/*.pyc\n*.txt\n"})
    steps = tr("COPY src /app", "COPY . /ctx", cwd=tmp_path)
    assert all(isinstance(s, AddLocalDir) and s.copy for s in steps)
    assert steps[1].ignore == FilePatternMatcher("src/*.pyc", "*.txt")
    assert remotes(steps, tmp_path) == {
        "/app/app.py": "app", "/app/pkg/m.py": "m",
        "/ctx/.dockerignore": "# comment\nsrc/*.pyc\n*.txt\n", "/ctx/src/app.py": "app", "/ctx/src/pkg/m.py": "m"}


def test_copy_ignore_argument_replaces_dockerignore(tmp_path):
    write(tmp_path, {"src/a.py": "a", "src/b.log": "b", ".dockerignore": "src"})
    steps = tr("COPY src /app/", cwd=tmp_path, ignore=to_ignore_spec(["**/*.log"]))
    assert remotes(steps, tmp_path) == {"/app/a.py": "a"}


def test_copy_ignored_file_is_an_error(tmp_path):
    write(tmp_path, {"secret.env": "x", ".dockerignore": "*.env"})
    assert "excluded" in error("COPY secret.env /x", cwd=tmp_path).message


def test_context_dir_and_context_files_take_precedence(tmp_path):
    write(tmp_path, {"ctx/conf/a.ini": "from ctx", "ctx/conf/b.ini": "b", "other/a.ini": "override",
                     "lock.txt": "lock"})
    steps = tr("COPY conf /etc/conf", "COPY /.uv/uv.lock /.uv/uv.lock", cwd=tmp_path, context_dir="ctx",
               context_files={"conf/a.ini": "other/a.ini", "/.uv/uv.lock": "lock.txt"})
    assert isinstance(steps[0], AddLocalDir) and steps[0].local_path == str(tmp_path / "ctx" / "conf")
    assert remotes(steps, tmp_path) == {"/etc/conf/a.ini": "override", "/etc/conf/b.ini": "b",
                                        "/.uv/uv.lock": "lock"}


def test_copy_wildcards(tmp_path):
    write(tmp_path, {"a.py": "a", "b.py": "b", "c.txt": "c"})
    steps = tr("COPY *.py /app/", cwd=tmp_path)
    assert [s.remote_path for s in steps] == ["/app/a.py", "/app/b.py"]


def test_copy_substitutes_dest_and_inner_variables(tmp_path):
    write(tmp_path, {"v2/f": "f"})
    s = tr("ARG V=v2", "ENV D=/opt", "COPY ./${V}/f $D/", cwd=tmp_path)[-1]
    assert (s.local_path, s.remote_path) == (str(tmp_path / "v2" / "f"), "/opt/f")


@pytest.mark.parametrize("line,text", [
    ("COPY $SRC /x", "COPY command: $SRC using special flags/arguments/variables are not supported"),
    ("COPY --exclude=*.pyc . /x", "COPY command: --exclude=*.pyc using special flags/arguments/variables are not supported"),
])
def test_copy_modal_special_source_errors(tmp_path, line, text):
    assert error(line, cwd=tmp_path).message == text


def test_copy_from_names_the_other_image_s_paths(tmp_path):
    (copy,) = tr("WORKDIR /srv", "COPY --from=builder out/app /opt/bin ./", cwd=tmp_path)[1:]
    assert copy == CopyFrom(source="builder", sources=("/out/app", "/opt/bin"), dest="/srv", into_dir=True)
    (copy,) = tr("COPY --from=127.0.0.1:5000/astral-sh/uv:0.5 /uv /bin/uv", cwd=tmp_path)
    assert (copy.source, copy.dest, copy.into_dir) == ("127.0.0.1:5000/astral-sh/uv:0.5", "/bin/uv", False)
    assert "wildcard" in error("COPY --from=builder /out/*.whl /w/", cwd=tmp_path).message
    assert "ADD --from" in error("ADD --from=builder /out /out", cwd=tmp_path).message


def test_copy_outside_context(tmp_path):
    (tmp_path / "ctx").mkdir()
    write(tmp_path, {"outside.txt": "x"})
    err = error("COPY ../outside.txt /x", cwd=tmp_path, context_dir="ctx")
    assert err.message == f"COPY source '../outside.txt' is outside the build context directory ({str(tmp_path / 'ctx')!r})."
    (tmp_path / "ctx" / "link").symlink_to(tmp_path / "outside.txt")
    assert "outside the build context" in error("COPY link /x", cwd=tmp_path, context_dir="ctx").message


def test_copy_missing_source(tmp_path):
    assert "not found" in error("RUN ok", "COPY nope.txt /x", cwd=tmp_path).message
    assert "matches nothing" in error("COPY *.nope /x/", cwd=tmp_path).message


def test_add_local_file_url_and_archive(tmp_path):
    write(tmp_path, {"a.txt": "A"})
    (tmp_path / "x.tar.gz").write_bytes(gzip.compress(b"data"))
    assert tr("ADD a.txt /a", cwd=tmp_path) == [
        AddLocalFile(local_path=str(tmp_path / "a.txt"), remote_path="/a", copy=True)]
    assert "URL" in error("ADD https://example.com/x.tgz /x", cwd=tmp_path).message
    assert "archive" in error("ADD x.tar.gz /x/", cwd=tmp_path).message


def test_copy_needs_two_arguments(tmp_path):
    assert "at least two arguments" in error("COPY onlyone", cwd=tmp_path).message
