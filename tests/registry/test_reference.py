"""Image references taken apart as Docker's distribution grammar does."""

import pytest

from nixbuild.errors import InvalidError
from nixbuild.registry.reference import INSECURE_ENV, parse


@pytest.mark.parametrize("text, host, path, tag, digest", [
    ("ubuntu:22.04", None, "ubuntu", "22.04", None),
    ("nvidia/cuda:12.4.1-devel-ubuntu22.04", None, "nvidia/cuda", "12.4.1-devel-ubuntu22.04", None),
    ("127.0.0.1:5000/team/base:v1", "127.0.0.1:5000", "team/base", "v1", None),
    ("localhost/base", "localhost", "base", None, None),
    ("registry.example/a/b/c@sha256:" + "a" * 64, "registry.example", "a/b/c", None, "sha256:" + "a" * 64),
    ("[::1]:5000/x:y", "[::1]:5000", "x", "y", None),
])
def test_parts(text, host, path, tag, digest):
    ref = parse(text)
    assert (ref.host, ref.path, ref.tag, ref.digest) == (host, path, tag, digest)


def test_transport_names_the_pin_by_digest():
    ref = parse("127.0.0.1:5000/team/base:v1")
    assert ref.transport() == "docker://127.0.0.1:5000/team/base:v1"
    assert ref.transport("sha256:" + "b" * 64) == "docker://127.0.0.1:5000/team/base@sha256:" + "b" * 64
    assert parse("team/base").transport() == "docker://team/base:latest"


@pytest.mark.parametrize("text", ["UPPER/case", "a b", "x:", "x@sha256:short", ""])
def test_bad_references_say_what_one_looks_like(text):
    with pytest.raises(InvalidError, match="is not an image reference"):
        parse(text, where="image 'x', step 0 from_registry")


def test_plain_http_for_loopback_only_unless_configured(monkeypatch):
    monkeypatch.delenv(INSECURE_ENV, raising=False)
    assert parse("127.0.0.1:5000/a").plain_http() and parse("127.3.4.5/a").plain_http()
    assert parse("localhost:5000/a").plain_http() and parse("[::1]:5000/a").plain_http()
    assert not parse("registry.internal:5000/a").plain_http() and not parse("team/a").plain_http()
    monkeypatch.setenv(INSECURE_ENV, "other.internal, registry.internal:5000")
    assert parse("registry.internal:5000/a").plain_http() and parse("other.internal:443/a").plain_http()
    assert not parse("registry.internal:6000/a").plain_http()
