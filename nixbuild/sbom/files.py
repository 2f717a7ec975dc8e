"""What ``--sbom`` wrote for one image: a model of its own so that the --json documents
(nixbuild/report.py) name it without loading the SBOM libraries, whose import compiles
grammars and costs seconds on every command."""

from __future__ import annotations

from pydantic import BaseModel


class SbomFiles(BaseModel):
    image: str
    manifest_digest: str
    spdx: str
    cyclonedx: str
    provenance: str
    components: int
