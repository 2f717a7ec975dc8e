"""An image's components as a CycloneDX 1.6 BOM (JSON), made and validated by cyclonedx-python-lib.

The BOM's metadata component is the image (type container, its manifest digest as version
and hash); every component depends from it. Build-only components have scope "excluded".
The serial number and timestamp follow from the image, so the same image gives the same
bytes. Nothing is written unless the library's strict JSON schema validator accepts it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component as CdxComponent, ComponentScope, ComponentType
from cyclonedx.model.license import LicenseExpression
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from nixbuild.errors import NixbuildError

from .components import Component, ImageComponents

_TYPE = {"deb": ComponentType.LIBRARY, "wheel": ComponentType.LIBRARY, "sdist": ComponentType.LIBRARY,
         "git": ComponentType.LIBRARY, "conda": ComponentType.LIBRARY, "local": ComponentType.FILE, "output": ComponentType.DATA, "oci-base": ComponentType.CONTAINER}


def _component(c: Component) -> CdxComponent:
    return CdxComponent(
        bom_ref=c.ref, type=_TYPE[c.kind], name=c.name, version=c.version,
        purl=PackageURL.from_string(c.purl) if c.purl else None,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=c.sha256)],
        licenses=[LicenseExpression(c.license)] if c.license else [],
        scope=ComponentScope.EXCLUDED if c.role == "build" else ComponentScope.REQUIRED,
        description=c.comment or None,
        external_references=[ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(c.download))]
        if c.download else [],
        properties=[Property(name="nixbuild:kind", value=c.kind)]
        + ([Property(name="nixbuild:step", value=str(c.step))] if c.step is not None else []))


def bom(image: ImageComponents) -> Bom:
    root = CdxComponent(bom_ref="image", type=ComponentType.CONTAINER, name=image.image,
                        version=image.manifest_digest,
                        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=image.manifest_digest.removeprefix("sha256:"))],
                        properties=[Property(name="nixbuild:app", value=image.app),
                                    Property(name="nixbuild:lock-sha256", value=image.lock_sha256),
                                    Property(name="nixbuild:distribution", value=image.distribution)])
    metadata = BomMetaData(component=root, timestamp=datetime.fromisoformat(image.created.replace("Z", "+00:00")))
    result = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"urn:nixbuild:cdx:{image.image}:{image.manifest_digest}"),
                 metadata=metadata)
    components = [_component(c) for c in image.components]
    for component in components:
        result.components.add(component)
    result.register_dependency(root, components)
    return result


def render(image: ImageComponents) -> str:
    """The CycloneDX JSON text, validated against the 1.6 schema first."""
    text = JsonV1Dot6(bom(image)).output_as_string()
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise NixbuildError(f"the CycloneDX BOM of {image.image!r} is invalid: {error}",
                            fix="report this as a bug of nixbuild")
    return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
