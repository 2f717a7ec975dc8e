"""The CLI as one tool: the same JSON documents everywhere (validated against the committed
schema by ``cli.json`` and :func:`payload`), errors that name the app file and line, an image
name of the user's choosing in a docker-archive, inspect without building, NO_COLOR, and the
modes of what nixbuild writes. Builds nothing but what the session's quickstart fixture built."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile

from conftest import ROOT, payload

ESCAPE = "\x1b["


def test_committed_schema_is_the_one_nixbuild_prints(cli):
    printed = json.loads(cli("schema").stdout)
    assert printed == json.loads((ROOT / "schema" / "nixbuild.schema.json").read_text()), \
        "the --json contract changed: regenerate schema/nixbuild.schema.json with `nixbuild schema` and say so"


def test_docker_archive_carries_the_chosen_tag_and_files_are_0644(quickstart, cli, tmp_path):
    old = os.umask(0o022)
    try:
        (image,) = cli.json("build", quickstart["app"], "--format", "docker-archive", "--tag", "team/quick:1.0",
                            "-o", tmp_path / "img.tar")
        proc = cli("build", quickstart["app"], "--tag", "Not A Tag", ok=False)
        plan = cli.json("plan", quickstart["app"], "-o", tmp_path / "plan")
    finally:
        os.umask(old)
    assert proc.returncode == 2 and "is not an image reference" in proc.stderr
    assert image["tag"] == "team/quick:1.0"
    # What `docker load` reads: the archive's manifest.json RepoTags.
    with tarfile.open(image["docker_archive"]) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    # Docker's normal form of a short name puts its default registry first (`docker load`
    # lists it as team/quick:1.0 again).
    (tag,) = manifest[0]["RepoTags"]
    assert tag == "team/quick:1.0" or (tag.endswith("/team/quick:1.0") and tag.count("/") == 2)
    for path in (image["docker_archive"], plan[0]["path"], quickstart["app"].parent / "nixbuild.lock"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path


def test_build_says_how_to_run_the_image(quickstart, cli):
    out = cli("build", quickstart["app"]).stdout
    assert "nixbuild run app.py -- CMD" in out or f"nixbuild run {quickstart['app']} -- CMD" in out
    assert "docker-daemon:image:latest && docker run --rm -it image:latest" in out


def test_inspect_works_from_the_lock_without_building(quickstart, cli, tmp_path):
    # An env step pins nothing: the lock still matches, and this image was never built.
    app = tmp_path / "app.py"
    app.write_text(quickstart["app"].read_text().replace('.workdir("/app")', '.workdir("/app").env({"NEW": "1"})'))
    shutil.copy(quickstart["app"].parent / "nixbuild.lock", tmp_path / "nixbuild.lock")
    (image,) = cli.json("inspect", app)
    assert image["built"] is False and image["manifest_digest"] is None and image["layers"] == []
    assert len(image["packages"]) == sum(len(s["packages"]) for s in quickstart["lock"]["images"]["image"]["steps"])
    assert not (tmp_path / ".nixbuild").exists()  # nothing built, nothing linked
    assert "not built yet" in cli("inspect", app).stdout


def test_lock_reports_debian_and_python_counts(quickstart, cli):
    lock = cli.json("lock", quickstart["app"])
    (image,) = lock["images"]
    assert lock["fresh"] and not lock["written"]
    assert image["debian_packages"] == sum(len(s["packages"]) for s in quickstart["lock"]["images"]["image"]["steps"])
    assert image["python_distributions"] >= 3  # debian_slim's pip, wheel and uv
    assert cli.json("lock", quickstart["app"], "--check")["fresh"]


def _error(proc: subprocess.CompletedProcess) -> dict:
    return payload(json.loads(proc.stdout))


def test_a_step_error_names_the_file_and_line_and_json_carries_it(cli, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    app = tmp_path / "app.py"
    app.write_text("import modal\n"
                   "\n"
                   "image = (modal.Image.debian_slim(python_version='3.11')\n"
                   "         .add_local_file('f.txt', '/f.txt')\n"
                   "         .run_commands('true'))\n")
    proc = cli("lock", "app.py", "--json", cwd=tmp_path, ok=False)
    assert proc.returncode == 2
    error = _error(proc)
    assert (error["image"], error["step"], error["line"], error["exit_code"]) == ("image", 2, 5, 2)
    assert error["file"] == str(app) and "copy=True" in error["fix"]
    assert "app.py:5: image 'image', step 2 run_commands:" in proc.stderr


def test_a_misspelt_method_gets_did_you_mean_and_only_the_users_frames(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import modal\nimage = modal.Image.debian_slim().apt_instal('jq')\n")
    proc = cli("build", "app.py", "--json", cwd=tmp_path, ok=False)
    assert proc.returncode == 2
    error = _error(proc)
    assert "did you mean 'apt_install'?" in error["message"]
    assert (error["file"], error["line"]) == (str(app), 2)
    assert "nixbuild/" not in error["message"]  # no frame of nixbuild's own
    assert "image.imports()" not in (error["fix"] or "")  # that fix is for imports only


def test_internal_failures_and_usage_still_give_json_errors(cli, tmp_path):
    proc = cli("inspect", tmp_path / "missing.py", "--json", ok=False)
    assert proc.returncode == 2 and _error(proc)["exit_code"] == 2


def test_update_step_with_several_images_is_exit_2_and_names_the_step(cli, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import nixbuild\n"
                   "a = nixbuild.Image.debian_slim(python_version='3.11')\n"
                   "b = a.env({'X': '1'})\n")
    proc = cli("lock", app, "--update-step", "3", ok=False)
    assert proc.returncode == 2, proc.stderr
    assert "--update-step 3" in proc.stderr and "--image NAME" in proc.stderr


def test_no_color_means_no_escape_sequences(cli, tmp_path):
    missing = tmp_path / "missing.py"
    styled = cli("build", missing, env={"FORCE_COLOR": "1", "TERM": "xterm-256color"}, ok=False)
    assert ESCAPE in styled.stderr  # the check below can fail
    plain = cli("build", missing, env={"FORCE_COLOR": "1", "TERM": "xterm-256color", "NO_COLOR": "1"}, ok=False)
    assert ESCAPE not in plain.stderr and "error:" in plain.stderr


def test_builders_json_is_the_text_it_prints(cli):
    setup = cli.json("builders", "--gpu", "T4")
    text = cli("builders", "--gpu", "T4").stdout
    assert setup["machines_line"] in text.splitlines() and all(line in text.splitlines() for line in setup["nix_conf"])
    assert setup["hook"].rstrip("\n") in text


def test_an_image_nixbuild_cannot_build_is_skipped_and_the_others_build(quickstart, cli, tmp_path):
    app = tmp_path / "app.py"
    shutil.copy(quickstart["app"].parent / "nixbuild.lock", tmp_path / "nixbuild.lock")
    app.write_text(quickstart["app"].read_text() + "\n"
                   "gpu = modal.Image.debian_slim(python_version='3.11').micromamba_install('numpy')\n")
    line = len(app.read_text().splitlines())
    proc = cli("build", app, "--json", ok=False)
    assert proc.returncode == 2, proc.stderr
    document = json.loads(proc.stdout)
    (image,) = payload(document)
    assert image["name"] == "image" and image["manifest_digest"] == quickstart["built"]["manifest_digest"]
    (skipped,) = document["skipped"]
    assert (skipped["image"], skipped["step"], skipped["line"], skipped["exit_code"]) == ("gpu", 1, line, 2)
    assert "micromamba_install" in skipped["message"]
    assert f"skipped: app.py:{line}: image 'gpu', step 1 micromamba_install" in \
        proc.stderr.replace(str(tmp_path) + "/", "")


def test_a_build_says_which_layer_it_is_building(quickstart, cli, tmp_path):
    app = tmp_path / "app.py"
    shutil.copy(quickstart["app"].parent / "nixbuild.lock", tmp_path / "nixbuild.lock")
    marker = os.urandom(8).hex()  # a layer no earlier build made
    app.write_text(quickstart["app"].read_text().replace('.workdir("/app")', f'.run_commands("echo {marker} > /m")'))
    proc = cli("build", app, "--json")
    assert re.search(r"\[1/2\] layer 3: step 3 run_commands\n.*\[2/2\] image image", proc.stderr, re.S), proc.stderr
    assert json.loads(proc.stdout)["images"][0]["built"]  # progress never reaches stdout
