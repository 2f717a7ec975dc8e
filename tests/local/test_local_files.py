"""Which files each add_local_* step selects, where they go, and the errors."""

import os
import sys
import uuid
from pathlib import Path

import pytest

import nixbuild.local.files as local_files
from nixbuild.api.ignore import NON_PYTHON_FILES, FilePatternMatcher, to_ignore_spec
from nixbuild.api.steps import AddLocalDir, AddLocalFile, AddLocalPythonSource
from nixbuild.errors import InvalidError
from nixbuild.local.files import LocalFile, files_for_step

WHERE = "image 'web', step 3"


def write(path: Path, text: str = "# x\n", mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def remotes(files: list[LocalFile]) -> list[str]:
    return [f.remote for f in files]


def local_dir(cwd, local_path, remote_path="/app", ignore=()):
    step = AddLocalDir(local_path=local_path, remote_path=remote_path, ignore=to_ignore_spec(ignore))
    return files_for_step(step, cwd=cwd, where=WHERE)


def python_source(cwd, *modules, ignore=NON_PYTHON_FILES):
    step = AddLocalPythonSource(modules=modules, ignore=to_ignore_spec(ignore))
    return files_for_step(step, cwd=cwd, where=WHERE)


# ---------------------------------------------------------------------------------------------
# add_local_file


def test_add_local_file_resolves_against_cwd_and_keeps_mode(tmp_path):
    script = write(tmp_path / "bin" / "run.sh", "#!/bin/sh\n", 0o750)
    step = AddLocalFile(local_path="bin/run.sh", remote_path="/usr/local/bin/run.sh")
    assert files_for_step(step, cwd=tmp_path, where=WHERE) == [
        LocalFile(remote="/usr/local/bin/run.sh", source=script, mode=0o750)
    ]


def test_add_local_file_follows_symlinks_and_does_not_expand_home(tmp_path, monkeypatch):
    target = write(tmp_path / "real.txt", "data", 0o600)
    (tmp_path / "~").mkdir()
    (tmp_path / "~" / "link.txt").symlink_to(target)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    step = AddLocalFile(local_path="~/link.txt", remote_path="/x/link.txt")
    [file] = files_for_step(step, cwd=tmp_path, where=WHERE)
    assert file.source == target and file.mode == 0o600


def test_add_local_file_errors(tmp_path):
    (tmp_path / "adir").mkdir()
    for local, message in [("nope.txt", "does not exist"), ("adir", "is a directory")]:
        step = AddLocalFile(local_path=local, remote_path="/x")
        with pytest.raises(InvalidError, match=message) as caught:
            files_for_step(step, cwd=tmp_path, where=WHERE)
        assert caught.value.where == WHERE and caught.value.fix
        assert str(tmp_path / local) in caught.value.message


# ---------------------------------------------------------------------------------------------
# add_local_dir


def test_add_local_dir_takes_regular_files_only(tmp_path):
    src = tmp_path / "src"
    write(src / "a.txt")
    write(src / "sub" / "deep" / "b.py", mode=0o755)
    (src / "empty" / "nested").mkdir(parents=True)
    target = write(src / "real" / "r.txt", "o", 0o640)
    (src / "linked.txt").symlink_to("real/r.txt")  # inside the directory: followed, as Modal does
    (src / "linked_dir").symlink_to(src / "sub")  # os.walk (Modal) does not enter it
    (src / "linked_out").symlink_to(tmp_path)  # nor one that leads out (never followed)
    (src / "broken").symlink_to(tmp_path / "missing")
    os.mkfifo(src / "fifo")

    files = local_dir(tmp_path, "src", "/app/")
    assert remotes(files) == ["/app/a.txt", "/app/linked.txt", "/app/real/r.txt", "/app/sub/deep/b.py"]
    assert files[1] == LocalFile(remote="/app/linked.txt", source=target, mode=0o640)
    assert files[3].mode == 0o755


def test_add_local_dir_expands_home_and_normalises_remote(tmp_path, monkeypatch):
    write(tmp_path / "home" / "proj" / "a.txt")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert remotes(local_dir(Path("/"), "~/proj", "//srv/./app//")) == ["/srv/app/a.txt"]


def test_add_local_dir_ignore_patterns_relative_to_the_dir(tmp_path):
    src = tmp_path / "src"
    for rel in ["main.py", "a.json", "conf/b.json", "logs/x.log", "keep/logs/y.log", "README.md", "NOTES.md"]:
        write(src / rel)
    files = local_dir(tmp_path, "src", ignore=["*.json", "**/logs", "*.md", "!README.md"])
    assert remotes(files) == ["/app/README.md", "/app/conf/b.json", "/app/main.py"]


def test_add_local_dir_callable_and_inverted_ignore(tmp_path):
    src = tmp_path / "src"
    for rel in ["a.py", "b.txt", "d/c.py", "d/e.log"]:
        write(src / rel)
    seen = []

    def skip(path: Path) -> bool:
        seen.append(path)
        return path.suffix == ".log"

    assert remotes(local_dir(tmp_path, "src", ignore=skip)) == ["/app/a.py", "/app/b.txt", "/app/d/c.py"]
    assert sorted(seen) == [Path("a.py"), Path("b.txt"), Path("d/c.py"), Path("d/e.log")]
    assert remotes(local_dir(tmp_path, "src", ignore=~FilePatternMatcher("**/*.py"))) == ["/app/a.py", "/app/d/c.py"]


def test_add_local_dir_from_file_patterns_are_read_relative_to_cwd(tmp_path):
    write(tmp_path / "src" / "a.txt")
    write(tmp_path / "src" / "b.log")
    write(tmp_path / ".myignore", "*.log\n")
    files = local_dir(tmp_path, "src", ignore=FilePatternMatcher.from_file(".myignore"))
    assert remotes(files) == ["/app/a.txt"]


def _record_scandir(monkeypatch) -> list[str]:
    listed: list[str] = []
    real = os.scandir

    def scandir(path):
        listed.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(local_files.os, "scandir", scandir)
    return listed


def test_ignored_directories_are_never_walked(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write(src / "main.py")
    write(src / "node_modules" / "pkg" / "index.js")
    write(src / "web" / ".venv" / "lib" / "x.py")
    listed = _record_scandir(monkeypatch)
    assert remotes(local_dir(tmp_path, "src", ignore=["node_modules", "**/.venv"])) == ["/app/main.py"]
    assert "node_modules" not in listed and ".venv" not in listed and "web" in listed


def test_an_exclusion_inside_an_ignored_directory_keeps_it_walked(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write(src / "node_modules" / "keep.js")
    write(src / "node_modules" / "drop.js")
    listed = _record_scandir(monkeypatch)
    files = local_dir(tmp_path, "src", ignore=["node_modules", "!node_modules/keep.js"])
    assert remotes(files) == ["/app/node_modules/keep.js"]
    assert "node_modules" in listed


def test_add_local_dir_errors(tmp_path):
    write(tmp_path / "file.txt")
    for local, message in [("missing", "does not exist"), ("file.txt", "is not a directory")]:
        with pytest.raises(InvalidError, match=message) as caught:
            local_dir(tmp_path, local)
        assert caught.value.where == WHERE and caught.value.fix


# ---------------------------------------------------------------------------------------------
# add_local_python_source


@pytest.fixture
def app_dir(tmp_path, monkeypatch):
    """A folder on sys.path, as the loader puts the app's folder; modules imported while
    finding specs are forgotten afterwards."""
    root = tmp_path / "app"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        del sys.modules[name]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_package_goes_to_root_with_non_python_files_ignored(app_dir, tmp_path):
    pkg = unique("pkg")
    layout = ["__init__.py", "sub/__init__.py", "sub/mod.py", "data.txt", ".hidden/h.py", "__pycache__/m.pyc"]
    for rel in layout:
        write(app_dir / pkg / rel)
    files = python_source(tmp_path, pkg)
    assert remotes(files) == [
        f"/root/{pkg}/.hidden/h.py",  # measured: NON_PYTHON_FILES keeps dot-dirs
        f"/root/{pkg}/__init__.py",
        f"/root/{pkg}/sub/__init__.py",
        f"/root/{pkg}/sub/mod.py",
    ]
    assert files[1].source == app_dir / pkg / "__init__.py"


def test_empty_ignore_list_takes_the_package_whole(app_dir, tmp_path):
    pkg = unique("pkg")
    for rel in ["__init__.py", "data.txt", ".hidden/h.py", "__pycache__/m.pyc"]:
        write(app_dir / pkg / rel)
    files = python_source(tmp_path, pkg, ignore=[])
    everything = [".hidden/h.py", "__init__.py", "__pycache__/m.pyc", "data.txt"]
    assert remotes(files) == [f"/root/{pkg}/{rel}" for rel in everything]


def test_subpackage_and_single_file_modules(app_dir, tmp_path):
    single, pkg = unique("single"), unique("pkg")
    write(app_dir / f"{single}.py")
    write(app_dir / pkg / "__init__.py")
    write(app_dir / pkg / "helpers.py")
    write(app_dir / pkg / "inner" / "__init__.py")
    write(app_dir / pkg / "inner" / "x.py")
    write(app_dir / pkg / "other.py")
    files = python_source(tmp_path, single, f"{pkg}.helpers", f"{pkg}.inner")
    assert remotes(files) == [
        f"/root/{pkg}/helpers.py",
        f"/root/{pkg}/inner/__init__.py",
        f"/root/{pkg}/inner/x.py",
        f"/root/{single}.py",
    ]


def test_namespace_package_is_taken_like_modal(app_dir, tmp_path):
    ns = unique("ns")
    write(app_dir / ns / "mod.py")
    assert remotes(python_source(tmp_path, ns)) == [f"/root/{ns}/mod.py"]


def test_unfindable_and_builtin_modules_are_errors(app_dir, tmp_path):
    missing = unique("missing")
    cases = [(missing, "could not be found"), (f"{missing}.sub", "could not be found"), ("sys", "no source")]
    for name, message in cases:
        with pytest.raises(InvalidError, match=message) as caught:
            python_source(tmp_path, name)
        assert repr(name) in caught.value.message
        assert caught.value.where == WHERE and caught.value.fix


def test_a_parent_package_that_fails_to_import_is_an_error(app_dir, tmp_path):
    pkg = unique("pkg")
    write(app_dir / pkg / "__init__.py", "raise RuntimeError('boom')\n")
    write(app_dir / pkg / "mod.py")
    with pytest.raises(InvalidError, match="boom") as caught:
        python_source(tmp_path, f"{pkg}.mod")
    assert caught.value.where == WHERE


def test_a_distribution_with_binaries_is_refused(app_dir, tmp_path):
    pkg = unique("pkg")
    write(app_dir / pkg / "__init__.py")
    dist_info = app_dir / f"{pkg}-1.0.dist-info"
    write(dist_info / "METADATA", f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 1.0\n")
    write(dist_info / "RECORD", f"{pkg}/__init__.py,,\n{pkg}/_speedups.so,,\n")
    with pytest.raises(InvalidError, match="binary files") as caught:
        python_source(tmp_path, pkg)
    assert caught.value.where == WHERE and caught.value.fix
