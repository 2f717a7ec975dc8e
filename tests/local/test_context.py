"""A local tree never leaves its directory through a link and never takes .nixbuild/."""

import pytest

from nixbuild.api.ignore import NON_PYTHON_FILES, to_ignore_spec
from nixbuild.api.steps import AddLocalDir, AddLocalFile, AddLocalPythonSource
from nixbuild.errors import InvalidError
from nixbuild.local.files import files_for_step

WHERE = "image 'web', step 2 add_local_dir"


def write(path, text="x\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def local_dir(cwd, local_path=".", ignore=()):
    step = AddLocalDir(local_path=local_path, remote_path="/app", ignore=to_ignore_spec(ignore))
    return [f.remote for f in files_for_step(step, cwd=cwd, where=WHERE)]


def refused(cwd, local_path=".", ignore=()):
    with pytest.raises(InvalidError) as info:
        local_dir(cwd, local_path, ignore)
    assert info.value.where == WHERE and info.value.fix
    return info.value


@pytest.mark.parametrize("how", ["absolute", "relative", "chained", "through a linked dir"])
def test_a_link_out_of_the_directory_is_refused_naming_it(tmp_path, how):
    secret = write(tmp_path / "home" / ".ssh" / "id_rsa", "PRIVATE KEY\n")
    src = tmp_path / "src"
    write(src / "app.py")
    if how == "absolute":
        (src / "key").symlink_to(secret)
    elif how == "relative":
        (src / "key").symlink_to("../home/.ssh/id_rsa")
    elif how == "chained":  # a link to a link inside, which leads out
        (src / "hop").symlink_to(secret)
        (src / "key").symlink_to("hop")
    else:  # a directory link is never entered, so what it leads to is not taken at all
        (src / "ssh").symlink_to(secret.parent)
        assert local_dir(tmp_path, "src") == ["/app/app.py"]
        return
    err = refused(tmp_path, "src")
    assert "symlink 'key'" in err.message and str(secret) in err.message and "outside" in err.message


def test_a_link_out_that_the_ignore_rules_drop_is_not_refused(tmp_path):
    write(tmp_path / "outside.txt")
    write(tmp_path / "src" / "app.py")
    (tmp_path / "src" / "link.txt").symlink_to(tmp_path / "outside.txt")
    assert local_dir(tmp_path, "src", ignore=["link.txt"]) == ["/app/app.py"]


def test_nixbuild_folders_are_never_taken_whatever_the_ignore_says(tmp_path):
    write(tmp_path / "app.py")
    write(tmp_path / ".nixbuild" / "secrets" / "api.env", "API_TOKEN=t\n")
    write(tmp_path / ".nixbuild" / "web.tar")
    write(tmp_path / "sub" / ".nixbuild" / "secrets" / "x.env")
    (tmp_path / "token").symlink_to(".nixbuild/secrets/api.env")  # inside, but into .nixbuild/
    for ignore in ([], ["!.nixbuild", "!**/.nixbuild/**"], lambda path: False):
        assert local_dir(tmp_path, ".", ignore) == ["/app/app.py"]


def test_naming_a_path_in_nixbuild_is_refused(tmp_path):
    write(tmp_path / ".nixbuild" / "secrets" / "api.env")
    assert ".nixbuild/" in refused(tmp_path, ".nixbuild/secrets").message
    (tmp_path / "secrets").symlink_to(".nixbuild/secrets")
    assert ".nixbuild/" in refused(tmp_path, "secrets").message
    with pytest.raises(InvalidError, match=r"\.nixbuild/"):
        files_for_step(AddLocalFile(local_path=".nixbuild/secrets/api.env", remote_path="/x"), cwd=tmp_path,
                       where=WHERE)


def test_a_python_package_linking_out_is_refused(tmp_path, monkeypatch):
    write(tmp_path / "elsewhere" / "shared.py")
    package = tmp_path / "pkg_links_out"
    write(package / "__init__.py")
    (package / "shared.py").symlink_to(tmp_path / "elsewhere" / "shared.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    step = AddLocalPythonSource(modules=("pkg_links_out",), ignore=to_ignore_spec(NON_PYTHON_FILES))
    with pytest.raises(InvalidError, match="symlink 'shared.py'"):
        files_for_step(step, cwd=tmp_path, where=WHERE)
