"""An image's components as an SPDX 2.3 document (JSON), made and validated by spdx-tools.

The document describes one package for the image (its manifest digest as checksum) that
CONTAINS every component of role "image"; build-only components are BUILD_TOOL_OF it.
Licences are each package's declared licence; names SPDX does not list are declared as
extracted licensing info, as the spec asks. Nothing is written unless
``validate_full_spdx_document`` finds no problem.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime

from license_expression import get_spdx_licensing
from spdx_tools.spdx.model import (Actor, ActorType, Checksum, ChecksumAlgorithm, CreationInfo, Document,
                                   ExternalPackageRef, ExternalPackageRefCategory, ExtractedLicensingInfo, Package,
                                   PackagePurpose, Relationship, RelationshipType, SpdxNoAssertion)
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from nixbuild.errors import NixbuildError

from .components import Component, ImageComponents

_LICENSING = get_spdx_licensing()
_PURPOSE = {"deb": PackagePurpose.INSTALL, "wheel": PackagePurpose.LIBRARY, "sdist": PackagePurpose.SOURCE,
            "git": PackagePurpose.SOURCE, "conda": PackagePurpose.LIBRARY, "local": PackagePurpose.FILE, "output": PackagePurpose.ARCHIVE, "oci-base": PackagePurpose.CONTAINER}


def _package(component: Component) -> Package:
    license = _LICENSING.parse(component.license) if component.license else SpdxNoAssertion()
    return Package(
        spdx_id=f"SPDXRef-{component.ref}", name=component.name, version=component.version,
        download_location=component.download or SpdxNoAssertion(), files_analyzed=False,
        checksums=[Checksum(ChecksumAlgorithm.SHA256, component.sha256)],
        license_concluded=SpdxNoAssertion(), license_declared=license, copyright_text=SpdxNoAssertion(),
        comment=component.comment or None, primary_package_purpose=_PURPOSE[component.kind],
        external_references=[ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", component.purl)]
        if component.purl else [])


def _license_refs(components: list[Component]) -> list[ExtractedLicensingInfo]:
    refs = sorted({ref for c in components if c.license for ref in re.findall(r"LicenseRef-[A-Za-z0-9.-]+", c.license)})
    return [ExtractedLicensingInfo(license_id=ref, license_name=ref.removeprefix("LicenseRef-Debian-"),
                                   extracted_text=f"The licence named {ref.removeprefix('LicenseRef-Debian-')!r} "
                                                  "in the package's DEP-5 copyright file (usr/share/doc/NAME/copyright)")
            for ref in refs]


def document(image: ImageComponents) -> Document:
    created = datetime.fromisoformat(image.created.replace("Z", "+00:00")).replace(tzinfo=None)
    hex_digest = image.manifest_digest.removeprefix("sha256:")
    creation = CreationInfo(
        spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT", name=f"{image.app} {image.image}",
        document_namespace=f"urn:nixbuild:spdx:{image.image}:{hex_digest}",
        creators=[Actor(ActorType.TOOL, f"nixbuild-{image.nixbuild_version}")], created=created,
        document_comment=f"From nixbuild.lock (sha256 {image.lock_sha256}); distribution {image.distribution}")
    root = Package(spdx_id="SPDXRef-image", name=image.image, version=image.manifest_digest,
                   download_location=SpdxNoAssertion(), files_analyzed=False,
                   checksums=[Checksum(ChecksumAlgorithm.SHA256, hex_digest)],
                   primary_package_purpose=PackagePurpose.CONTAINER, license_concluded=SpdxNoAssertion(),
                   license_declared=SpdxNoAssertion(), copyright_text=SpdxNoAssertion(),
                   comment=f"OCI image manifest {image.manifest_digest}")
    packages = [root, *map(_package, image.components)]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-image")]
    for c in image.components:
        if c.role == "image":
            relationships.append(Relationship("SPDXRef-image", RelationshipType.CONTAINS, f"SPDXRef-{c.ref}"))
        else:
            relationships.append(Relationship(f"SPDXRef-{c.ref}", RelationshipType.BUILD_TOOL_OF, "SPDXRef-image"))
    return Document(creation_info=creation, packages=packages, relationships=relationships,
                    extracted_licensing_info=_license_refs(image.components))


def render(image: ImageComponents) -> str:
    """The SPDX JSON text, validated in full first (an invalid document is a bug: an error)."""
    doc = document(image)
    problems = validate_full_spdx_document(doc)
    if problems:
        raise NixbuildError(f"the SPDX document of {image.image!r} is invalid: {problems[0].validation_message} "
                            f"({len(problems)} problems)", fix="report this as a bug of nixbuild")
    out = io.StringIO()
    write_document_to_stream(doc, out, validate=False)
    return json.dumps(json.loads(out.getvalue()), indent=2, sort_keys=True) + "\n"
