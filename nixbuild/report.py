"""The JSON every command prints with ``--json``: one contract, one model per object.

Every document is one JSON object with ``schema_version`` (:data:`SCHEMA_VERSION`, raised on
any change a reader could trip over), ``command`` (which command wrote it), ``skipped`` (the
app's images nixbuild cannot build, as errors: the command worked on the others and exits
non-zero) and one payload key:

============  ===============================  ==============================================
command       payload                          object
============  ===============================  ==============================================
build         ``images``: list                 :class:`Image` (built)
inspect       ``images``: list                 :class:`Image` (from the lock and the store)
lock          ``lock``                         :class:`LockReport`
plan          ``specs``: list                  :class:`SpecFile`
check         ``checks``: list                 :class:`~nixbuild.check.CheckResult`
push          ``push``                         :class:`PushReport`
sbom          ``sboms``: list                  :class:`~nixbuild.sbom.files.SbomFiles`
gc            ``gc``                           :class:`~nixbuild.store.gc.GcReport`
cache push    ``cache``                        :class:`~nixbuild.store.cache.CachePush`
builders      ``builders``                     :class:`BuilderSetup`
(any)         ``error``                        :class:`Error` (on failure, with the exit code)
============  ===============================  ==============================================

An image is the same object wherever it appears: ``build`` fills it from what it built,
``inspect`` from the lock and the store without building (``built`` says whether the store
holds it; ``entries`` and ``uncompressed_size`` need the layers read and are null from
``build``). ``size`` is always the bytes a push uploads: the config and every layer blob.

``nixbuild schema`` prints the JSON Schema of these documents; ``schema/nixbuild.schema.json``
is that output, committed, so that a change of the contract shows in review (a test holds the
two equal, and every test that reads ``--json`` validates the document against the file).
"""

from __future__ import annotations

import json
from typing import Literal, Union

from pydantic import BaseModel, Field, TypeAdapter

from nixbuild.check import CheckResult
from nixbuild.oci.referrers import AttachResult
from nixbuild.oci.skopeo import PushResult
from nixbuild.sbom.files import SbomFiles
from nixbuild.store.cache import CachePush
from nixbuild.store.gc import GcReport

SCHEMA_VERSION = 1


class Layer(BaseModel):
    """One layer of an image, as its manifest and config history describe it."""

    index: int
    digest: str = Field(description="the compressed blob's digest (sha256:...)")
    diff_id: str = Field(description="the uncompressed tar's digest")
    media_type: str
    compressed_size: int
    uncompressed_size: int | None = Field(None, description="null unless the layer was read (inspect)")
    entries: int | None = Field(None, description="tar members; null unless the layer was read (inspect)")
    step: int | None = Field(None, description="the step that made the layer (null for the base's own layers)")
    created_by: str | None = None


class DebianPackage(BaseModel):
    step: int
    name: str
    version: str
    architecture: str
    sha256: str


class PythonDistribution(BaseModel):
    step: int
    name: str
    version: str | None = Field(description="null: a repository's package whose version is dynamic")
    kind: Literal["wheel", "sdist", "git"]
    filename: str = Field(description="the file's name; for kind git, REPOSITORY@COMMIT")
    sha256: str = Field(description="hex: of the file; for kind git, of the checkout's NAR")


class LocalTree(BaseModel):
    step: int
    kind: str = Field(description="add_local_file, add_local_dir or add_local_python_source")
    files: int
    nar_hash: str = Field(description="the tree's NAR sha256 (Nix base32): its name in the store")


class NetworkStep(BaseModel):
    """A step that ran with the network, and the output pinned on its first build."""

    step: int
    kind: str
    output_hash: str


class RegistryBase(BaseModel):
    """The registry image an image starts from (from_registry), as the lock pins it."""

    step: int
    reference: str = Field(description="the reference as the app wrote it")
    manifest_digest: str = Field(description="the linux/amd64 manifest the lock pins")
    layers: int = Field(description="how many of the image's first layers are the base's, unchanged")


class Image(BaseModel):
    name: str
    built: bool = Field(description="whether the store holds the image its lock describes")
    manifest_digest: str | None = Field(None, description="null when the image is not built")
    config_digest: str | None = None
    size: int | None = Field(None, description="bytes a push uploads: the config and every layer blob")
    uncompressed_size: int | None = Field(None, description="the layers unpacked; null unless read (inspect)")
    store_path: str | None = None
    link: str | None = Field(None, description="the out-link beside the app (.nixbuild/NAME), a GC root")
    layout: str | None = Field(None, description="where this machine reads the OCI layout")
    layers: list[Layer] = []
    base: RegistryBase | None = None
    packages: list[DebianPackage] = []
    python: list[PythonDistribution] = []
    local_trees: list[LocalTree] = []
    network_steps: list[NetworkStep] = []
    docker_archive: str | None = None
    tag: str | None = Field(None, description="NAME:TAG the docker-archive carries")
    sbom: SbomFiles | None = None


class LockedImage(BaseModel):
    name: str
    debian_packages: int
    python_distributions: int
    network_outputs: int


class LockReport(BaseModel):
    path: str
    fresh: bool = Field(description="the lock matched the app before this command")
    written: bool = Field(description="this command wrote the lock")
    images: list[LockedImage] = []
    forgotten: list[int] = Field([], description="steps whose pinned output --update-step forgot")


class SpecFile(BaseModel):
    image: str
    path: str


class PushReport(PushResult):
    image: str
    attached: AttachResult | None = None


class Error(BaseModel):
    message: str
    fix: str | None = None
    exit_code: int
    image: str | None = None
    step: int | None = None
    file: str | None = Field(None, description="the app file where the failing step was written")
    line: int | None = None


class _Document(BaseModel):
    schema_version: Literal[1] = SCHEMA_VERSION
    skipped: list[Error] = Field([], description="images of the app nixbuild cannot build, and why; the "
                                                  "command worked on the others and exits non-zero")


class ImagesDocument(_Document):
    command: Literal["build", "inspect"]
    images: list[Image]


class LockDocument(_Document):
    command: Literal["lock"] = "lock"
    lock: LockReport


class PlanDocument(_Document):
    command: Literal["plan"] = "plan"
    specs: list[SpecFile]


class CheckDocument(_Document):
    command: Literal["check"] = "check"
    checks: list[CheckResult]


class PushDocument(_Document):
    command: Literal["push"] = "push"
    push: PushReport


class SbomDocument(_Document):
    command: Literal["sbom"] = "sbom"
    sboms: list[SbomFiles]


class GcDocument(_Document):
    command: Literal["gc"] = "gc"
    gc: GcReport


class CacheDocument(_Document):
    command: Literal["cache push"] = "cache push"
    cache: CachePush


class BuilderSetup(BaseModel):
    """What a GPU builder needs (nixbuild.builders): the line for /etc/nix/machines, the
    builder's nix.conf lines and its pre-build hook script."""

    machines_line: str
    nix_conf: list[str]
    hook: str


class BuildersDocument(_Document):
    command: Literal["builders"] = "builders"
    builders: BuilderSetup


class ErrorDocument(_Document):
    command: str
    error: Error


Document = Union[ImagesDocument, LockDocument, PlanDocument, CheckDocument, PushDocument, SbomDocument,
                 GcDocument, CacheDocument, BuildersDocument, ErrorDocument]


def dumps(document: BaseModel) -> str:
    return json.dumps(document.model_dump(mode="json"), indent=2, sort_keys=True)


def json_schema() -> dict:
    """The JSON Schema (2020-12) every ``--json`` document validates against."""
    schema = TypeAdapter(Document).json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"nixbuild --json documents, schema_version {SCHEMA_VERSION}", **schema}
