"""SBOMs and provenance of the quickstart image, and their push as OCI 1.1 referrers to a real
registry, read back with independent clients (skopeo, urllib) and validated by the formats'
own validators."""

import hashlib
import json
import subprocess
import urllib.request
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.json import json_parser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document


def _raw(reference: str) -> dict:
    return json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", reference],
                                     capture_output=True, text=True, check=True).stdout)


def test_sbom_lists_every_pin_and_validates(quickstart, cli, tmp_path):
    out = tmp_path / "docs"
    [files] = cli.json("sbom", quickstart["app"], "-o", out)
    digest = quickstart["built"]["manifest_digest"]
    assert files["manifest_digest"] == digest
    parsed = json_parser.parse_from_file(files["spdx"])
    assert validate_full_spdx_document(parsed) == []
    cdx_text = Path(files["cyclonedx"]).read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cdx_text) is None

    pins = {(p["name"], p["version"], p["sha256"]) for img in quickstart["lock"]["images"].values()
            for s in img["steps"] for p in s["packages"]}
    wheels = {(w["filename"], w["sha256"]) for img in quickstart["lock"]["images"].values()
              for s in img["steps"] for w in s.get("wheels", [])}
    components = json.loads(cdx_text)["components"]
    debs = {(c["name"], c["version"], c["hashes"][0]["content"]) for c in components
            if c["purl"].startswith("pkg:deb/debian/") and c.get("scope") != "excluded"}
    assert debs == pins
    pypi = {(next(p["value"] for p in c["properties"] if p["name"] == "nixbuild:kind"), c["hashes"][0]["content"])
            for c in components if c["purl"].startswith("pkg:pypi/") and c.get("scope") != "excluded"}
    assert {sha for _, sha in pypi} == {sha for _, sha in wheels}
    by_name = {c["name"]: c for c in components}
    assert by_name["zlib1g"]["licenses"] == [{"expression": "Zlib"}]  # from its DEP-5 copyright file
    assert "arch=amd64" in by_name["libc6"]["purl"]

    statement = json.loads(Path(files["provenance"]).read_text())
    assert statement["subject"][0]["digest"]["sha256"] == digest.removeprefix("sha256:")
    lock_sha = hashlib.sha256((quickstart["app"].parent / "nixbuild.lock").read_bytes()).hexdigest()
    assert statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"] == {"sha256": lock_sha}


def test_push_attach_makes_referrers_and_a_second_push_uploads_nothing(quickstart, cli, registry,
                                                                       tmp_path_factory):
    dest = f"docker://{registry}/qs-attached:v1"
    digest = quickstart["built"]["manifest_digest"]
    first = cli.json("push", quickstart["app"], dest, "--attach")
    assert first["digest"] == digest
    attached = first["attached"]
    assert attached["uploaded"] >= 7  # the empty config, three documents, three manifests (+ the index)

    # The referrers, as the registry lists them (API) or through the OCI 1.1 tag schema.
    try:
        with urllib.request.urlopen(f"http://{registry}/v2/qs-attached/referrers/{digest}") as resp:
            index = json.load(resp)
    except urllib.error.HTTPError:
        assert attached["listing"] == "tag-schema"
        index = _raw(f"docker://{registry}/qs-attached:{digest.replace(':', '-')}")
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    by_type = {m["artifactType"]: m for m in index["manifests"]}
    assert set(by_type) == {"application/spdx+json", "application/vnd.cyclonedx+json", "application/vnd.in-toto+json"}
    for kind, descriptor in by_type.items():
        manifest = _raw(f"docker://{registry}/qs-attached@{descriptor['digest']}")
        assert manifest["subject"]["digest"] == digest
        assert manifest["artifactType"] == kind
        [layer] = manifest["layers"]
        with urllib.request.urlopen(f"http://{registry}/v2/qs-attached/blobs/{layer['digest']}") as resp:
            blob = resp.read()
        assert hashlib.sha256(blob).hexdigest() == layer["digest"].removeprefix("sha256:")
        if kind == "application/vnd.cyclonedx+json":
            assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(blob.decode()) is None
        elif kind == "application/spdx+json":
            doc = tmp_path_factory.mktemp("spdx") / "doc.spdx.json"
            doc.write_bytes(blob)
            assert validate_full_spdx_document(json_parser.parse_from_file(str(doc))) == []
        else:
            assert json.loads(blob)["subject"][0]["digest"]["sha256"] == digest.removeprefix("sha256:")

    # The registry's own storage: what a second push would rewrite keeps its mtime.
    # (the fixture's rootdirectory: registry*/data under this session's base temp)
    repos = {p.resolve() for p in tmp_path_factory.getbasetemp().glob("registry*/data/docker/registry/v2/"
                                                                         "repositories/qs-attached")}
    assert repos, f"no registry storage under {tmp_path_factory.getbasetemp()}"
    # Only what --attach writes (skopeo itself PUTs the image manifest again on every push).
    ours = [*attached["referrers"].values(), *(m["digest"] for m in index["manifests"])]
    layers = [_raw(f"docker://{registry}/qs-attached@{d}")["layers"][0]["digest"] for d in attached["referrers"].values()]
    watched = [f for repo in repos for f in
               [*(repo / "_manifests/revisions/sha256" / d.removeprefix("sha256:") / "link" for d in ours),
                *(repo / "_layers/sha256" / d.removeprefix("sha256:") / "link" for d in layers),
                *repo.glob(f"_manifests/tags/{digest.replace(':', '-')}/current/link")]]
    assert len(watched) >= 6 and all(f.exists() for f in watched)
    before = {p: p.stat().st_mtime_ns for p in watched}
    uploads = sorted(u for repo in repos if (repo / "_uploads").exists() for u in (repo / "_uploads").iterdir())

    second = cli.json("push", quickstart["app"], dest, "--attach")
    assert second["uploaded"] == []
    assert second["attached"]["uploaded"] == 0
    assert second["attached"]["referrers"] == attached["referrers"]
    assert {p: p.stat().st_mtime_ns for p in watched} == before
    assert sorted(u for repo in repos if (repo / "_uploads").exists() for u in (repo / "_uploads").iterdir()) == uploads
    again = (_raw(f"docker://{registry}/qs-attached:{digest.replace(':', '-')}")
             if attached["listing"] == "tag-schema" else index)
    assert len(again["manifests"]) == 3
