"""extra_options of pip steps: resolver options pass to uv, no-ops are dropped, the rest refused."""

import pytest

from nixbuild.errors import InvalidError
from nixbuild.python.pip_options import resolver_options


@pytest.mark.parametrize("given, expected", [
    ("", []),
    ("--no-deps", ["--no-deps"]),
    ("--only-binary :all: --no-cache-dir -U", ["--only-binary", ":all:"]),
    ("--no-binary=numpy --pre", ["--no-binary", "numpy", "--prerelease", "allow"]),
    ("-i http://127.0.0.1:9/simple --root-user-action ignore", ["--index-url", "http://127.0.0.1:9/simple"]),
    ("--index-strategy unsafe-best-match --quiet", ["--index-strategy", "unsafe-best-match"]),
])
def test_resolver_options(given, expected):
    assert resolver_options(given) == expected


@pytest.mark.parametrize("given, says", [
    ("--target /opt/x", "'--target' cannot be honoured"),
    ("--no-deps=1", "takes no value"),
    ("--only-binary", "needs a value"),
    ("--no-binary 'unclosed", "cannot read extra_options"),
])
def test_options_nixbuild_cannot_honour_are_refused(given, says):
    with pytest.raises(InvalidError) as err:
        resolver_options(given)
    assert says in err.value.message
