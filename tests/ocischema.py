"""Test helper: validate an OCI image layout against the OCI image-spec JSON schemas.

``validate_layout(path)`` checks ``oci-layout``, ``index.json`` and every manifest, nested
index and image config reachable from it against the spec's schemas (copied verbatim into
``tests/fixtures/oci-schema``), checks every reachable blob's digest and size, and each
layer's uncompressed digest against the config's ``diff_ids``. It raises ``AssertionError``
naming the file and the problem.

It is an oracle for nixbuild's writers, so it deliberately shares no code with
``nixbuild.oci.layout``: only the standard library and jsonschema.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

SCHEMA_DIR = Path(__file__).parent / "fixtures" / "oci-schema"

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYERS = {
    "application/vnd.oci.image.layer.v1.tar": "none",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
}
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
# RFC 3339 date-time, as the schemas' "format": "date-time" means.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _load(name: str) -> Any:
    return json.loads((SCHEMA_DIR / name).read_text())


@cache
def _registry() -> Registry:
    # The schemas are draft-04 (`id`, not `$id`) and refer to each other by file name
    # ("defs-descriptor.json#/definitions/digest"), resolved against whichever `id` is in
    # scope. So whole-schema ids are registered up front and any other URI is looked up by
    # its last path segment, the file name, in the fixture folder.
    def retrieve(uri: str) -> Resource:
        path = SCHEMA_DIR / uri.rstrip("/").rsplit("/", 1)[-1]
        if path.suffix != ".json" or not path.is_file():
            raise NoSuchResource(ref=uri)
        return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4)

    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        contents = json.loads(path.read_text())
        if "id" in contents:
            resources.append(
                (contents["id"], Resource.from_contents(contents, default_specification=DRAFT4))
            )
    return Registry(retrieve=retrieve).with_resources(resources)  # type: ignore[call-arg]


def _format_checker() -> FormatChecker:
    # jsonschema checks these formats only with optional packages; these two are all the
    # OCI schemas use.
    checker = FormatChecker(formats=())

    @checker.checks("date-time")
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            return False
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # raises on 2024-02-30
        return True

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        return not isinstance(value, str) or bool(urlsplit(value).scheme)

    return checker


@cache
def _validator(schema_file: str) -> Draft4Validator:
    return Draft4Validator(
        _load(schema_file), registry=_registry(), format_checker=_format_checker()
    )


def validate_json(document: Any, schema_file: str, where: str) -> None:
    """Validate a JSON document against one schema file; AssertionError lists every error."""
    errors = sorted(
        _validator(schema_file).iter_errors(document), key=lambda e: list(e.absolute_path)
    )
    if errors:
        details = "\n".join(f"  at {e.json_path}: {e.message}" for e in errors)
        raise AssertionError(f"{where} does not match {schema_file}:\n{details}")


def _read_json(path: Path, where: str) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, json.JSONDecodeError) as error:
        raise AssertionError(f"{where}: cannot read JSON: {error}") from None


class _LayoutChecker:
    def __init__(self, root: Path):
        self.root = root

    def blob(self, descriptor: dict[str, Any], what: str) -> Path:
        """Check a blob against its descriptor; returns its path."""
        digest, size = descriptor.get("digest", ""), descriptor.get("size")
        if not _SHA256.match(digest):
            raise AssertionError(f"{what}: digest {digest!r} is not sha256:<64 lowercase hex>")
        path = self.root / "blobs" / "sha256" / digest.split(":", 1)[1]
        if not path.is_file():
            raise AssertionError(f"{what}: blob {digest} is missing ({path})")
        sha, actual_size = hashlib.sha256(), 0
        with open(path, "rb") as blob:
            while chunk := blob.read(1 << 20):
                sha.update(chunk)
                actual_size += len(chunk)
        if f"sha256:{sha.hexdigest()}" != digest:
            raise AssertionError(f"{what}: blob {digest} has sha256:{sha.hexdigest()}")
        if actual_size != size:
            raise AssertionError(
                f"{what}: blob {digest} is {actual_size} bytes, descriptor says {size}"
            )
        return path

    def index(self, document: Any, where: str) -> None:
        validate_json(document, "image-index-schema.json", where)
        if document.get("mediaType") not in (None, INDEX):
            raise AssertionError(f"{where}: mediaType {document['mediaType']!r} is not {INDEX}")
        for i, descriptor in enumerate(document["manifests"]):
            what = f"{where} manifests[{i}]"
            path = self.blob(descriptor, what)
            media_type = descriptor["mediaType"]
            if media_type == INDEX:
                self.index(_read_json(path, what), f"{what} (index {descriptor['digest']})")
            elif media_type == MANIFEST:
                self.manifest(_read_json(path, what), f"{what} (manifest {descriptor['digest']})")
            else:
                raise AssertionError(
                    f"{what}: mediaType {media_type!r} is neither {MANIFEST} nor {INDEX}"
                )

    def manifest(self, document: Any, where: str) -> None:
        validate_json(document, "image-manifest-schema.json", where)
        # The spec says SHOULD; registries refuse manifests without it, so we require it.
        if document.get("mediaType") != MANIFEST:
            raise AssertionError(
                f"{where}: mediaType must be {MANIFEST}, found {document.get('mediaType')!r}"
            )
        config = document["config"]
        if config["mediaType"] != CONFIG:
            raise AssertionError(
                f"{where}: config mediaType {config['mediaType']!r} is not {CONFIG}"
            )
        config_where = f"{where} config {config['digest']}"
        config_doc = _read_json(self.blob(config, config_where), config_where)
        validate_json(config_doc, "config-schema.json", config_where)
        diff_ids = config_doc["rootfs"]["diff_ids"]
        if len(diff_ids) != len(document["layers"]):
            raise AssertionError(
                f"{where}: {len(document['layers'])} layers but "
                f"{len(diff_ids)} diff_ids in the config"
            )
        for i, (layer, diff_id) in enumerate(zip(document["layers"], diff_ids)):
            what = f"{where} layers[{i}] {layer['digest']}"
            if layer["mediaType"] not in LAYERS:
                raise AssertionError(
                    f"{what}: mediaType {layer['mediaType']!r} is not an OCI layer type"
                )
            path = self.blob(layer, what)
            actual = _uncompressed_digest(path, LAYERS[layer["mediaType"]])
            if actual is not None and actual != diff_id:
                raise AssertionError(
                    f"{what}: uncompresses to {actual}, config diff_ids[{i}] says {diff_id}"
                )


def _uncompressed_digest(path: Path, compression: str) -> str | None:
    """sha256 of the uncompressed layer; None for zstd when no decompressor is installed."""
    sha = hashlib.sha256()
    with open(path, "rb") as raw:
        if compression == "gzip":
            stream: Any = gzip.GzipFile(fileobj=raw, mode="rb")
        elif compression == "zstd":
            try:
                import zstandard  # type: ignore[import-not-found]
            except ImportError:
                return None
            stream = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        else:
            stream = raw
        while chunk := stream.read(1 << 20):
            sha.update(chunk)
    return f"sha256:{sha.hexdigest()}"


def validate_layout(path: str | Path) -> None:
    """Validate an OCI image layout directory; raises AssertionError naming what is wrong."""
    root = Path(path)
    if not root.is_dir():
        raise AssertionError(f"{root} is not a directory")
    validate_json(
        _read_json(root / "oci-layout", f"{root}/oci-layout"),
        "image-layout-schema.json",
        f"{root}/oci-layout",
    )
    _LayoutChecker(root).index(
        _read_json(root / "index.json", f"{root}/index.json"), f"{root}/index.json"
    )
