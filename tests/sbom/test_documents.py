"""SPDX, CycloneDX and provenance documents of a made-up image, checked by the formats' own
validators (spdx-tools' parser + validate_full_spdx_document, cyclonedx's JSON schema)."""

import json

import pytest
from packageurl import PackageURL
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.json import json_parser
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from nixbuild.lock import DebPin
from nixbuild.python.resolve import WheelPin
from nixbuild.sbom import cyclonedx, provenance, spdx
from nixbuild.local.nar import nar_sha256_hex
from nixbuild.sbom.components import (ImageComponents, deb, python_file, registry_base)

DIGEST = "sha256:" + "ab" * 32


def image(tmp_components) -> ImageComponents:
    return ImageComponents(app="app.py", image="image", manifest_digest=DIGEST, manifest_size=1234,
                           created="1970-01-01T00:00:01Z", lock_sha256="cd" * 32, distribution="bookworm",
                           nixbuild_version="0.1.0", components=tmp_components)


@pytest.fixture
def components():
    pin = DebPin(name="libc6", version="2.36-9+deb12u13", architecture="amd64", archive="debian",
                 path="pool/main/g/glibc/libc6_2.36-9+deb12u13_amd64.deb", size=10, sha256="01" * 32)
    wheel = WheelPin(name="Typing_Extensions", version="4.12.2", url="https://files.example/t.whl",
                     filename="typing_extensions-4.12.2-py3-none-any.whl", size=5, sha256="02" * 32)
    return [deb(pin, "bookworm", 0, "LGPL-2.1-or-later AND LicenseRef-Debian-public-domain"),
            deb(pin.model_copy(update={"name": "busybox-static"}), "bookworm", None, None, role="build"),
            python_file(wheel, "wheel", 1),
            registry_base("127.0.0.1:5000/library/python", "sha256:" + "03" * 32)]


def test_purls_name_the_package_its_version_and_architecture(components):
    assert components[0].purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u13?arch=amd64&distro=bookworm"
    assert components[2].purl.startswith("pkg:pypi/typing-extensions@4.12.2?")
    base = PackageURL.from_string(components[3].purl)  # the purl library parses what we wrote
    assert (base.type, base.name, base.version) == ("oci", "python", "sha256:" + "03" * 32)
    assert base.qualifiers == {"repository_url": "127.0.0.1:5000/library/python"}
    with pytest.raises(ValueError):
        registry_base("x/y", "latest")


def test_an_ubuntu_bases_package_is_ubuntus_in_its_purl():
    pin = DebPin(name="hello", version="2.10-2ubuntu4", architecture="amd64", archive="ubuntu",
                 path="pool/main/h/hello/hello_2.10-2ubuntu4_amd64.deb", size=10, sha256="04" * 32)
    assert deb(pin, "jammy", 1, None).purl == "pkg:deb/ubuntu/hello@2.10-2ubuntu4?arch=amd64&distro=jammy"


def test_spdx_document_validates_and_lists_every_component(components, tmp_path):
    text = spdx.render(image(components))
    path = tmp_path / "image.spdx.json"
    path.write_text(text)
    parsed = json_parser.parse_from_file(str(path))
    assert validate_full_spdx_document(parsed) == []
    names = {p.name for p in parsed.packages}
    assert {"image", "libc6", "busybox-static", "typing-extensions", "python"} <= names
    data = json.loads(text)
    assert data["spdxVersion"] == "SPDX-2.3"
    libc = next(p for p in data["packages"] if p["name"] == "libc6")
    assert libc["checksums"] == [{"algorithm": "SHA256", "checksumValue": "01" * 32}]
    assert libc["licenseDeclared"] == "LGPL-2.1-or-later AND LicenseRef-Debian-public-domain"
    assert [e["licenseId"] for e in data["hasExtractedLicensingInfos"]] == ["LicenseRef-Debian-public-domain"]
    kinds = {(r["relationshipType"], r["spdxElementId"] == "SPDXRef-image") for r in data["relationships"]}
    assert ("BUILD_TOOL_OF", False) in kinds and ("CONTAINS", True) in kinds
    assert spdx.render(image(components)) == text  # same image, same bytes


def test_cyclonedx_bom_validates_against_the_1_6_schema(components):
    text = cyclonedx.render(image(components))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    data = json.loads(text)
    assert data["specVersion"] == "1.6"
    assert data["metadata"]["component"]["version"] == DIGEST
    by_name = {c["name"]: c for c in data["components"]}
    assert by_name["busybox-static"]["scope"] == "excluded"
    assert by_name["libc6"]["hashes"] == [{"alg": "SHA-256", "content": "01" * 32}]
    assert by_name["python"]["type"] == "container"
    assert cyclonedx.render(image(components)) == text


def test_the_validators_catch_a_broken_document(components):
    """The oracle is live: a BOM with a bad hash fails the schema."""
    data = json.loads(cyclonedx.render(image(components)))
    data["components"][0]["hashes"][0]["content"] = "not-hex"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(data)) is not None


def test_provenance_is_an_in_toto_statement_with_slsa_v1(components, monkeypatch):
    monkeypatch.setenv("NIXBUILD_BUILDER_ID", "https://ci.example/run/1")
    data = json.loads(provenance.render(image(components)))
    assert data["_type"] == "https://in-toto.io/Statement/v1"
    assert data["predicateType"] == "https://slsa.dev/provenance/v1"
    assert data["subject"] == [{"name": "image", "digest": {"sha256": "ab" * 32}}]
    definition = data["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["app"] == "app.py"
    assert definition["resolvedDependencies"][0] == {"name": "nixbuild.lock", "digest": {"sha256": "cd" * 32}}
    assert data["predicate"]["runDetails"]["builder"] == {"id": "https://ci.example/run/1",
                                                         "version": {"nixbuild": "0.1.0"}}


def test_nar_hashes_in_every_spelling_give_the_same_hex():
    b32 = "0c5bm2bqxr3ybwqbzlyk9gqsgpfxvgyxk8wzr2ri1fbm7xscrh6n"
    hex_digest = nar_sha256_hex(b32)
    import base64
    assert nar_sha256_hex("sha256:" + b32) == hex_digest
    assert nar_sha256_hex("sha256-" + base64.b64encode(bytes.fromhex(hex_digest)).decode()) == hex_digest


def test_an_image_on_a_registry_base_lists_the_base_and_its_release():
    """components_of over a hand-written lock: the base by manifest digest first, then the
    Debian packages of an apt step on it under the base's release."""
    from nixbuild.lock import BootstrapLock, DebPin, ImageLock, StepLock
    from nixbuild.registry.facts import BaseFacts
    from nixbuild.registry.pin import InheritedConfig, RegistryPin
    from nixbuild.sbom.components import components_of

    pin = DebPin(name="tree", version="2.1.0-1", architecture="amd64", archive="debian",
                 path="pool/main/t/tree/tree_2.1.0-1_amd64.deb", size=1, sha256="aa" * 32)
    base = RegistryPin(reference="127.0.0.1:5000/base:v1", repository="127.0.0.1:5000/base", manifest="sha256:" + "01" * 32,
                       config="sha256:" + "02" * 32, layers=[], inherited=InheritedConfig(),
                       facts=BaseFacts(os_id="debian", os_version="trixie", dpkg=True))
    image = ImageLock(distribution="registry", snapshots=[], steps=[
        StepLock(index=0, kind="from_registry", fingerprint="f0", packages=[], registry=base),
        StepLock(index=1, kind="apt_install", fingerprint="f1", packages=[pin])])
    boot = BootstrapLock(distribution="bookworm", snapshots=[], busybox=pin.model_copy(update={"name": "busybox-static"}),
                         busybox_nar_hash="0" * 52, python=[])
    found = [c for c in components_of(image, boot, {}, {}, lambda _p: None) if c.role == "image"]
    assert [(c.kind, c.step) for c in found] == [("oci-base", 0), ("deb", 1)]
    assert found[0].purl == "pkg:oci/base@sha256:" + "01" * 32 + "?repository_url=127.0.0.1:5000/base"
    assert "distro=trixie" in found[1].purl
