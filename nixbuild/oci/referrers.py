"""Attach artifacts (SBOMs, provenance) to a pushed image as OCI 1.1 referrers.

skopeo copies images, not arbitrary artifacts, so this speaks the distribution API itself
(urllib): each artifact is an image manifest with ``artifactType``, the empty config
(``application/vnd.oci.empty.v1+json``, ``{}``), the document as its one layer and the image
as its ``subject``. Blobs are uploaded only when a HEAD says the registry lacks them
(monolithic upload: POST, then PUT with the digest), manifests only when a HEAD by digest
misses, so attaching the same documents again uploads nothing.

Registries that implement the referrers API (``GET /v2/NAME/referrers/DIGEST`` answers an
index) list the artifacts themselves. Others (Debian's docker-registry 2.8) store the
manifests by digest but cannot list them: then the referrers tag schema of the OCI 1.1
distribution spec applies: an image index tagged ``sha256-<hex of the subject digest>``
holds a descriptor of every referrer; it is read, merged and written back only when it changed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Literal

from pydantic import BaseModel, ConfigDict

from nixbuild.errors import InvalidError, RegistryError

from .layout import INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, Descriptor
from .skopeo import is_local

EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
TITLE_ANNOTATION = "org.opencontainers.image.title"
TIMEOUT_S = 60.0
_FIX = "check that the registry is running and reachable; for a local registry without TLS, pass --no-tls-verify"


class Artifact(BaseModel):
    """One document to attach: its artifact type (also its layer's media type) and bytes."""

    model_config = ConfigDict(frozen=True)

    artifact_type: str
    title: str  # the file name, as the org.opencontainers.image.title annotation
    data: bytes


class AttachResult(BaseModel):
    referrers: dict[str, str]  # title -> digest of its artifact manifest
    uploaded: int  # blobs and manifests the registry did not have
    already_present: int
    listing: Literal["referrers-api", "tag-schema"]
    index_tag: str | None = None  # the fallback tag, when the tag schema was used


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fallback_tag(digest: str) -> str:
    """The referrers tag schema's tag for ``digest`` (``sha256:abc`` -> ``sha256-abc``)."""
    return digest.replace(":", "-")


def artifact_manifest(artifact: Artifact, subject: Descriptor) -> bytes:
    """The artifact's image manifest (canonical JSON: the same artifact gives the same digest)."""
    manifest = {
        "schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE, "artifactType": artifact.artifact_type,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": sha256_digest(EMPTY), "size": len(EMPTY),
                   "data": base64.b64encode(EMPTY).decode()},
        "layers": [{"mediaType": artifact.artifact_type, "digest": sha256_digest(artifact.data),
                    "size": len(artifact.data), "annotations": {TITLE_ANNOTATION: artifact.title}}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
        "annotations": {TITLE_ANNOTATION: artifact.title},
    }
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


class Registry:
    """One repository of a registry, through the distribution API (anonymous access)."""

    def __init__(self, destination: str, *, tls_verify: bool | None = None):
        if not destination.startswith("docker://"):
            raise InvalidError(f"unsupported destination {destination!r}", fix="use docker://HOST/REPO:TAG")
        host, _, rest = destination.removeprefix("docker://").partition("/")
        self.repository = rest.split("@", 1)[0].rsplit(":", 1)[0] if ":" in rest.rsplit("/", 1)[-1] else rest
        if not host or not self.repository:
            raise InvalidError(f"{destination!r} names no repository", fix="use docker://HOST/REPO:TAG")
        verify = (not is_local(destination)) if tls_verify is None else tls_verify
        self.host = host
        self.context = ssl.create_default_context() if verify else ssl._create_unverified_context()
        self.scheme = "https" if verify else self._plain_or_tls()
        self.uploaded = 0
        self.present = 0

    def _plain_or_tls(self) -> str:
        """Without verification, a registry may speak TLS or not (as skopeo, try TLS first)."""
        try:
            urllib.request.urlopen(f"https://{self.host}/v2/", timeout=5, context=self.context)
            return "https"
        except urllib.error.HTTPError:
            return "https"  # it answered over TLS (e.g. 401)
        except (urllib.error.URLError, OSError):
            return "http"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{self.repository}/{path}"

    def request(self, method: str, url: str, data: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S, context=self.context) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise RegistryError(f"{self.host} asks for credentials ({method} {url})",
                                    fix="push --attach supports registries that allow anonymous pushes") from None
            return exc.code, dict(exc.headers), exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise RegistryError(f"cannot reach {self.host}: {exc}", fix=_FIX) from None

    def _expect(self, what: str, answer: tuple[int, dict[str, str], bytes], *codes: int) -> tuple[int, dict[str, str], bytes]:
        if answer[0] not in codes:
            raise RegistryError(f"{what} on {self.host}/{self.repository} failed: HTTP {answer[0]} "
                                f"{answer[2][:500].decode(errors='replace')}", fix=_FIX)
        return answer

    def put_blob(self, data: bytes) -> str:
        digest = sha256_digest(data)
        if self.request("HEAD", self.url(f"blobs/{digest}"))[0] == 200:
            self.present += 1
            return digest
        _, headers, _ = self._expect("starting a blob upload", self.request("POST", self.url("blobs/uploads/")), 202)
        location = urllib.parse.urljoin(self.url(""), headers.get("Location", ""))
        location += ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        self._expect(f"uploading blob {digest}", self.request(
            "PUT", location, data, {"Content-Type": "application/octet-stream"}), 201)
        self.uploaded += 1
        return digest

    def get_manifest(self, reference: str, media_type: str) -> bytes | None:
        status, _, body = self.request("GET", self.url(f"manifests/{reference}"), headers={"Accept": media_type})
        return body if status == 200 else None

    def put_manifest(self, reference: str, body: bytes, media_type: str, *, check: bool = True) -> dict[str, str]:
        """PUT a manifest (unless ``check`` and the registry has these bytes by digest already)."""
        digest = sha256_digest(body)
        if check and self.request("HEAD", self.url(f"manifests/{digest}"), headers={"Accept": media_type})[0] == 200:
            self.present += 1
            return {}
        _, headers, _ = self._expect(f"pushing manifest {reference}", self.request(
            "PUT", self.url(f"manifests/{reference}"), body, {"Content-Type": media_type}), 201)
        self.uploaded += 1
        return headers

    def referrers_api(self, digest: str) -> bool:
        """Whether the registry answers the referrers API for ``digest``."""
        status, headers, body = self.request("GET", self.url(f"referrers/{digest}"), headers={"Accept": INDEX_MEDIA_TYPE})
        if status != 200:
            return False
        try:
            return json.loads(body).get("mediaType") == INDEX_MEDIA_TYPE
        except ValueError:
            return False


def attach(destination: str, subject: Descriptor, artifacts: list[Artifact], *,
           tls_verify: bool | None = None) -> AttachResult:
    """Push ``artifacts`` as referrers of ``subject`` (an image manifest already in the repository)."""
    registry = Registry(destination, tls_verify=tls_verify)
    if registry.request("HEAD", registry.url(f"manifests/{subject.digest}"),
                        headers={"Accept": subject.media_type})[0] != 200:
        raise RegistryError(f"{registry.host}/{registry.repository} has no manifest {subject.digest} to attach to",
                            fix="push the image first (nixbuild push APP DESTINATION --attach does both)")
    registry.put_blob(EMPTY)
    descriptors, listed_by_registry = [], False
    for artifact in artifacts:
        registry.put_blob(artifact.data)
        body = artifact_manifest(artifact, subject)
        headers = registry.put_manifest(sha256_digest(body), body, MANIFEST_MEDIA_TYPE)
        listed_by_registry |= any(k.lower() == "oci-subject" for k in headers)
        descriptors.append({"mediaType": MANIFEST_MEDIA_TYPE, "digest": sha256_digest(body), "size": len(body),
                            "artifactType": artifact.artifact_type,
                            "annotations": {TITLE_ANNOTATION: artifact.title}})
    referrers = {a.title: d["digest"] for a, d in zip(artifacts, descriptors)}
    if listed_by_registry or registry.referrers_api(subject.digest):
        return AttachResult(referrers=referrers, uploaded=registry.uploaded, already_present=registry.present,
                            listing="referrers-api")
    tag = fallback_tag(subject.digest)
    current = registry.get_manifest(tag, INDEX_MEDIA_TYPE)
    index = json.loads(current) if current else {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []}
    known = {m.get("digest") for m in index.get("manifests", [])}
    added = [d for d in descriptors if d["digest"] not in known]
    if added or current is None:
        index["manifests"] = [*index.get("manifests", []), *added]
        body = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
        registry.put_manifest(tag, body, INDEX_MEDIA_TYPE, check=False)
    else:
        registry.present += 1
    return AttachResult(referrers=referrers, uploaded=registry.uploaded, already_present=registry.present,
                        listing="tag-schema", index_tag=tag)
