"""The fix line of a failed sdist build: which Debian package provides what was missing."""

from nixbuild.python.sdist_hints import hint, provider


def test_known_headers_libraries_and_programs():
    assert provider("lber.h") == "libldap-dev"
    assert provider("pq") == "libpq-dev" and provider("pg_config") == "libpq-dev"
    assert provider("libffi") == "libffi-dev"  # pkg-config module names
    assert provider("nothing-like-this.h") is None


def test_hint_names_the_package_and_the_step():
    assert hint("ffi.h", 3) == 'add .apt_install("libffi-dev") before step 3 (Debian\'s libffi-dev provides ffi.h)'


def test_an_unknown_header_gets_the_usual_rule_and_a_lookup():
    text = hint("foo/bar.h", 2)
    assert "libfoo-dev" in text and "apt-file search foo/bar.h" in text and "before step 2" in text


def test_no_diagnosis_points_at_the_compiler_output():
    assert "compiler's output is above" in hint(None, 1)
