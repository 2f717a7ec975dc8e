"""Push to a real registry on 127.0.0.1 with skopeo."""

import json
import subprocess

import pytest
from conftest import running_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A registry of this module's own: skopeo mounts blobs it saw pushed elsewhere in the same
    registry, so on the session's shared one the first push here would upload nothing."""
    with running_registry(tmp_path_factory.mktemp("push-registry")) as address:
        yield address


def test_push_gives_the_local_digest_and_a_second_push_uploads_nothing(quickstart, cli, registry):
    dest = f"docker://{registry}/quickstart:v1"
    first = cli.json("push", quickstart["app"], dest)
    assert first["digest"] == quickstart["built"]["manifest_digest"]
    assert len(first["uploaded"]) == len(quickstart["built"]["layers"])  # every layer blob
    remote = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", dest], capture_output=True,
                                       text=True, check=True).stdout)
    assert remote["Digest"] == quickstart["built"]["manifest_digest"]
    second = cli.json("push", quickstart["app"], f"docker://{registry}/quickstart:v2")
    assert second["digest"] == first["digest"]
    assert second["uploaded"] == []
    assert len(second["skipped"]) == len(quickstart["built"]["layers"])
