"""debian_slim(python_version="3.13"): a Debian trixie image built, run and checked for real.

Trixie's glibc (2.41) is newer than any manylinux tag the pinned uv knows (issue 16), so its
Python packages are resolved with the newest tag uv knows and chosen by the real glibc. One
session-built image (the ``trixie`` fixture) serves every assertion.
"""

from __future__ import annotations

import json

from nixbuild.python.resolve import GLIBC, resolver_platform, uv_manylinux_tags


def run(cli, trixie, *command: str) -> str:
    return cli("run", trixie["app"], "--", *command).stdout


def steps(trixie) -> dict[str, dict]:
    (image,) = trixie["lock"]["images"].values()
    return {step["kind"]: step for step in image["steps"]}


def test_the_lock_is_for_trixie_and_records_the_resolver_platform(trixie):
    (image,) = trixie["lock"]["images"].values()
    assert image["distribution"] == "trixie"
    expected = resolver_platform(GLIBC["trixie"], uv_manylinux_tags())
    locked = steps(trixie)
    assert locked["debian_slim"]["python_platform"] == locked["pip_install"]["python_platform"] == expected
    assert locked["apt_install"]["python_platform"] is None
    wheels = {w["name"]: w["filename"] for w in locked["pip_install"]["wheels"]}
    assert "manylinux" in wheels["markupsafe"] and "-cp313-cp313-" in wheels["markupsafe"]
    assert wheels["six"].endswith("-py2.py3-none-any.whl")


def test_python_is_313_with_ssl_and_sqlite(cli, trixie):
    assert run(cli, trixie, "python3", "--version").startswith("Python 3.13.")
    out = run(cli, trixie, "python3", "-c", "import ssl, sqlite3; print(ssl.OPENSSL_VERSION, sqlite3.sqlite_version)")
    assert out.startswith("OpenSSL 3.")


def test_the_pinned_packages_import_at_their_locked_versions(cli, trixie):
    locked = {w["name"]: w["version"] for w in steps(trixie)["pip_install"]["wheels"]}
    out = run(cli, trixie, "python3", "-c",
              "import json, importlib.metadata as m, markupsafe._speedups, six; "
              "print(json.dumps({n: m.version(n) for n in ('markupsafe', 'six')}))")
    assert json.loads(out) == {"markupsafe": locked["markupsafe"], "six": locked["six"]}  # C extension loaded


def test_pip_and_uv_work(cli, trixie):
    base = {w["name"]: w["version"] for w in steps(trixie)["debian_slim"]["wheels"]}
    pip = run(cli, trixie, "pip", "--version")
    assert pip.startswith(f"pip {base['pip']} ") and "(python 3.13)" in pip
    assert run(cli, trixie, "uv", "--version").startswith(f"uv {base['uv']}")
    assert "No broken requirements found." in run(cli, trixie, "python3", "-m", "pip", "check")


def test_apt_package_and_run_commands(cli, trixie):
    assert run(cli, trixie, "jq", "--version").startswith("jq-1.")
    assert run(cli, trixie, "cat", "/root/jq.out", "/root/py.out").splitlines() == ["42", "&lt;b&gt; True"]


def test_check_passes(cli, trixie):
    (result,) = cli.json("check", trixie["app"])
    assert result["ok"] is True
    assert result["second_store_digest"] == result["manifest_digest"] == trixie["built"]["manifest_digest"]


def test_a_lock_without_the_recorded_platform_is_still_accepted(cli, trixie, tmp_path):
    # Locks written before the platform was recorded have no python_platform: still fresh,
    # and they build the same image without resolving anything again.
    app = tmp_path / "app.py"
    app.write_text(trixie["app"].read_text())
    lock = json.loads(json.dumps(trixie["lock"]))
    for image in lock["images"].values():
        for step in image["steps"]:
            del step["python_platform"]
    (tmp_path / "nixbuild.lock").write_text(json.dumps(lock))
    cli("lock", app, "--check")
    (built,) = cli.json("build", app, "--frozen")
    assert built["manifest_digest"] == trixie["built"]["manifest_digest"]
