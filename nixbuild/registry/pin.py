"""Lock time: a registry reference pinned by digest, its blobs pulled into nixbuild's cache.

1. ``skopeo inspect --raw`` of the reference gives a manifest or an index; from an index the
   linux/amd64 entry is taken and its manifest read by digest. The manifest digest is the
   sha256 of those raw bytes, which is what a registry serves for ``NAME@DIGEST``.
2. ``skopeo copy --preserve-digests`` of ``NAME@DIGEST`` into a ``dir:`` folder pulls the
   config and layer blobs unchanged; each is checked against its digest and kept in the cache
   (``<cache>/registry/blobs/sha256/<hex>``), so the build and ``nixbuild check`` need no
   registry while the cache holds them (:mod:`nixbuild.registry.blobs`).
3. The config gives the layers' diff IDs, the history lines, and what the image inherits as
   Docker does: Env, WorkingDir, Entrypoint, Cmd, User, Labels, ExposedPorts, Volumes,
   StopSignal, Shell. These are written into the lock, so a spec is made from the lock alone.
4. The layers give the facts later steps need (:mod:`nixbuild.registry.facts`).

Only gzip layers are taken (Docker's and OCI's media types, the same bytes): the build's
unpacker reads gzip, and a base is reused byte for byte, never re-compressed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nixbuild.api.steps import FromRegistry
from nixbuild.errors import InvalidError, RegistryError
from nixbuild.registry import credentials as creds, facts as base_facts
from nixbuild.registry.facts import BaseFacts
from nixbuild.registry.reference import Reference, parse
from nixbuild.tools.nixcmd import require

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
GZIP_LAYER_TYPES = ("application/vnd.oci.image.layer.v1.tar+gzip",
                    "application/vnd.docker.image.rootfs.diff.tar.gzip")
PLATFORM = {"os": "linux", "architecture": "amd64"}


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _digest(value: str) -> str:
    if not (value.startswith("sha256:") and len(value) == 71 and all(c in "0123456789abcdef" for c in value[7:])):
        raise ValueError(f"{value!r} is not a sha256 digest (sha256:<64 hex digits>)")
    return value


class LayerPin(Model):
    digest: str = Field(description="the layer blob's digest (compressed, as the registry serves it)")
    size: int
    diff_id: str = Field(description="digest of the uncompressed tar, from the base's config")
    created_by: str = Field(description="the base's history line for this layer")

    _check = field_validator("digest", "diff_id")(classmethod(lambda cls, v: _digest(v)))


class InheritedConfig(Model):
    """The base config's keys an image built on it inherits (Docker's rules)."""

    env: list[str] = []
    working_dir: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    user: str | None = None
    labels: dict[str, str] = {}
    exposed_ports: list[str] = []
    volumes: list[str] = []
    stop_signal: str | None = None
    shell: list[str] | None = None


class RegistryPin(Model):
    """A registry base, exactly: what ``NAME@manifest`` serves."""

    reference: str = Field(description="the reference as the app wrote it")
    repository: str = Field(description="the reference without tag or digest")
    manifest: str = Field(description="digest of the linux/amd64 image manifest")
    config: str = Field(description="digest of the image config")
    layers: list[LayerPin]
    inherited: InheritedConfig
    facts: BaseFacts

    _check = field_validator("manifest", "config")(classmethod(lambda cls, v: _digest(v)))

    @property
    def ref(self) -> Reference:
        return parse(self.repository)


def cache_folder(cache_dir: Path) -> Path:
    return cache_dir / "registry" / "blobs" / "sha256"


def skopeo(args: list[str], what: str, fix: str) -> bytes:
    proc = subprocess.run([require("skopeo", "skopeo"), *args], capture_output=True)
    if proc.returncode != 0:
        message = (proc.stderr or proc.stdout).decode("utf-8", "replace").strip()
        raise RegistryError(f"{what} failed: {message}", fix=fix)
    return proc.stdout


def tls(ref: Reference, prefix: str = "") -> list[str]:
    return [f"--{prefix}tls-verify={'false' if ref.plain_http() else 'true'}"]


def _fix(ref: Reference) -> str:
    return (f"check that {ref.repository} exists and the registry is reachable; a private one needs "
            "REGISTRY_USERNAME/REGISTRY_PASSWORD in the step's secret; a registry without TLS other "
            f"than on 127.0.0.1/localhost must be listed in NIXBUILD_INSECURE_REGISTRIES")


def pin(step: FromRegistry, cache_dir: Path, where: str) -> RegistryPin:
    """Resolve the step's reference and pull its blobs into the cache."""
    ref = parse(step.tag, where=where)
    login = creds.of_step(step, where)
    try:
        with creds.skopeo_options(login, ref.host) as auth:
            raw = skopeo(["inspect", "--raw", *tls(ref), *auth(""), ref.transport()], f"reading {step.tag}", _fix(ref))
            manifest_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            document = json.loads(raw)
            if document.get("mediaType") in INDEX_TYPES or "manifests" in document:
                manifest_digest = _amd64(document, step.tag, where)
                raw = skopeo(["inspect", "--raw", *tls(ref), *auth(""), ref.transport(manifest_digest)],
                             f"reading {step.tag}'s linux/amd64 manifest", _fix(ref))
                if "sha256:" + hashlib.sha256(raw).hexdigest() != manifest_digest:
                    raise RegistryError(f"the registry served a manifest for {manifest_digest} with another digest",
                                        where=where, fix="check the registry (or the proxy before it)")
                document = json.loads(raw)
            manifest = _manifest(document, step.tag, where)
            blobs = pull(ref, manifest_digest, [manifest["config"]["digest"],
                                                *(layer["digest"] for layer in manifest["layers"])], auth, cache_dir)
    except InvalidError as exc:
        raise exc.at(where)
    except RegistryError as exc:
        raise exc.at(where)
    config = json.loads(blobs[manifest["config"]["digest"]].read_bytes())
    layers = [blobs[layer["digest"]] for layer in manifest["layers"]]
    return RegistryPin(reference=step.tag, repository=ref.repository, manifest=manifest_digest,
                       config=manifest["config"]["digest"], layers=_layer_pins(manifest, config, step.tag, where),
                       inherited=_inherited(config.get("config") or {}), facts=base_facts.read(layers))


def _amd64(index: dict, tag: str, where: str) -> str:
    for entry in index.get("manifests", []):
        platform = entry.get("platform") or {}
        if all(platform.get(k) == v for k, v in PLATFORM.items()):
            return _digest(entry["digest"])
    offered = ", ".join(f"{(e.get('platform') or {}).get('os')}/{(e.get('platform') or {}).get('architecture')}"
                        for e in index.get("manifests", []))
    raise InvalidError(f"{tag} has no linux/amd64 image (it offers {offered or 'none'})", where=where,
                       fix="use a tag built for linux/amd64")


def _manifest(document: dict, tag: str, where: str) -> dict:
    if document.get("schemaVersion") != 2 or document.get("mediaType", MANIFEST_TYPES[0]) not in MANIFEST_TYPES:
        raise InvalidError(f"{tag} is a {document.get('mediaType') or 'schema 1'} manifest, not an OCI or Docker "
                           "v2 image manifest", where=where, fix="push the image again with a current client")
    for layer in document["layers"]:
        if layer.get("mediaType") not in GZIP_LAYER_TYPES:
            raise InvalidError(f"{tag} has a layer of type {layer.get('mediaType')}; nixbuild reuses gzip layers "
                               "only", where=where, fix="use a tag whose layers are gzip-compressed (most are)")
    return document


def pull(ref: Reference, manifest_digest: str, wanted: list[str], auth: Callable[[str], list[str]],
         cache_dir: Path) -> dict[str, Path]:
    """The blobs ``wanted`` of ``NAME@manifest_digest`` in the cache (pulled unless all are
    there already), by digest."""
    folder = cache_folder(cache_dir)
    have = {d: folder / d.removeprefix("sha256:") for d in wanted}
    if all(path.exists() for path in have.values()):
        return have
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pull-", dir=folder.parent) as tmp:
        skopeo(["copy", "--quiet", "--preserve-digests", *tls(ref, "src-"), *auth("src-"),
                ref.transport(manifest_digest), f"dir:{tmp}"], f"pulling {ref.repository}@{manifest_digest}", _fix(ref))
        for digest, path in have.items():
            pulled = Path(tmp) / digest.removeprefix("sha256:")
            if "sha256:" + _file_sha256(pulled) != digest:
                raise RegistryError(f"the blob {digest} of {ref.repository} does not match its digest",
                                    fix="check the registry (or the proxy before it)")
            if not path.exists():
                os.replace(pulled, path)
    return have


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _layer_pins(manifest: dict, config: dict, tag: str, where: str) -> list[LayerPin]:
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    if len(diff_ids) != len(manifest["layers"]):
        raise InvalidError(f"{tag}'s config lists {len(diff_ids)} layers, its manifest {len(manifest['layers'])}",
                           where=where, fix="push the image again")
    history = [h.get("created_by", "") for h in config.get("history") or [] if not h.get("empty_layer")]
    if len(history) != len(diff_ids):
        history = [""] * len(diff_ids)
    return [LayerPin(digest=layer["digest"], size=layer["size"], diff_id=diff_id,
                     created_by=line or f"{tag} layer {i}")
            for i, (layer, diff_id, line) in enumerate(zip(manifest["layers"], diff_ids, history))]


def _inherited(config: dict) -> InheritedConfig:
    return InheritedConfig(env=config.get("Env") or [], working_dir=config.get("WorkingDir") or None,
                           entrypoint=config.get("Entrypoint"), cmd=config.get("Cmd"),
                           user=config.get("User") or None, labels=config.get("Labels") or {},
                           exposed_ports=sorted(config.get("ExposedPorts") or {}),
                           volumes=sorted(config.get("Volumes") or {}), stop_signal=config.get("StopSignal") or None,
                           shell=config.get("Shell"))

