"""Provenance: an in-toto Statement (v1) with a SLSA Provenance v1 predicate.

The subject is the image (its name and manifest digest). The build definition names the app
file and image (external parameters) and, as resolved dependencies, the lock by its sha256
and every pinned input by its hash (the same components as the SBOMs); the run details name
the builder (``NIXBUILD_BUILDER_ID``, e.g. a CI workflow's URI; ``urn:nixbuild:local`` when
unset) and nixbuild's version. Nothing in it depends on the clock, so the same build gives
the same statement.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .components import ImageComponents

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:nixbuild:buildtype:image:v1"
BUILDER_ENV = "NIXBUILD_BUILDER_ID"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ResourceDescriptor(_Model):
    name: str | None = None
    uri: str | None = None
    digest: dict[str, str]
    annotations: dict[str, Any] | None = None


class BuildDefinition(_Model):
    buildType: str
    externalParameters: dict[str, Any]
    internalParameters: dict[str, Any]
    resolvedDependencies: list[ResourceDescriptor]


class Builder(_Model):
    id: str
    version: dict[str, str]


class RunDetails(_Model):
    builder: Builder


class Provenance(_Model):
    buildDefinition: BuildDefinition
    runDetails: RunDetails


class Statement(_Model):
    type: str = Field(STATEMENT_TYPE, alias="_type")
    subject: list[ResourceDescriptor]
    predicateType: str = PREDICATE_TYPE
    predicate: Provenance


def statement(image: ImageComponents) -> Statement:
    deps = [ResourceDescriptor(name="nixbuild.lock", digest={"sha256": image.lock_sha256})]
    deps += [ResourceDescriptor(name=c.name, uri=c.purl or c.download,
                                digest={"sha256": c.sha256} if c.kind != "local" and c.kind != "output"
                                else {"nixNarSha256": c.sha256},
                                annotations={"kind": c.kind, "role": c.role, **({"step": c.step} if c.step is not None else {})})
             for c in image.components]
    return Statement(
        subject=[ResourceDescriptor(name=image.image, digest={"sha256": image.manifest_digest.removeprefix("sha256:")})],
        predicate=Provenance(
            buildDefinition=BuildDefinition(
                buildType=BUILD_TYPE,
                externalParameters={"app": image.app, "image": image.image},
                internalParameters={"distribution": image.distribution},
                resolvedDependencies=deps),
            runDetails=RunDetails(builder=Builder(id=os.environ.get(BUILDER_ENV) or "urn:nixbuild:local",
                                                  version={"nixbuild": image.nixbuild_version}))))


def render(image: ImageComponents) -> str:
    return json.dumps(statement(image).model_dump(mode="json", by_alias=True, exclude_none=True),
                      indent=2, sort_keys=True) + "\n"
