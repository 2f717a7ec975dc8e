"""Reading OCI image layouts: the index, manifests, configs and layer tars.

An OCI image layout is a directory holding an ``oci-layout`` marker, an ``index.json`` that
names the images, and content-addressed blobs under ``blobs/<algorithm>/<hex>``. The layouts
nixbuild builds often have blobs that are symlinks into the Nix store; reads follow them.

Every blob read is checked against the descriptor that names it (digest and size), so a
corrupt or truncated blob is reported by name instead of surfacing later as a broken image.
Layers are streamed, never held in memory whole: :meth:`OciLayout.iter_layer` decompresses
and untars in one pass and checks the blob digest and the ``diff_id`` when the pass ends.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nixbuild.errors import BuildError, NixbuildError

INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP_MEDIA_TYPE = LAYER_MEDIA_TYPE + "+gzip"
LAYER_ZSTD_MEDIA_TYPE = LAYER_MEDIA_TYPE + "+zstd"
# Docker's multi-platform list; like an OCI index it names manifests, not layers.
DOCKER_MANIFEST_LIST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = "1.0.0"

_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]+)$")
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_CHUNK = 1 << 20
_CORRUPT_FIX = (
    "the layout is corrupt or was changed after it was written: rebuild it "
    "(for blobs in the Nix store, `nix-store --verify --check-contents` finds damaged paths)"
)


# --- models ---------------------------------------------------------------------------------


class OciModel(BaseModel):
    """Base of the OCI JSON documents.

    Unknown fields are kept (``extra="allow"``) so that a document read and dumped again loses
    nothing; aliases carry the spec's spelling (``mediaType``, ``Env``, ``os.version``).
    """

    model_config = ConfigDict(populate_by_name=True, extra="allow", defer_build=True)

    def to_json(self) -> dict[str, Any]:
        """The document as the spec spells it, without unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Platform(OciModel):
    architecture: str
    os: str
    os_version: str | None = Field(None, alias="os.version")
    os_features: list[str] | None = Field(None, alias="os.features")
    variant: str | None = None


class Descriptor(OciModel):
    """A typed, sized, content-addressed reference to a blob."""

    media_type: str = Field(alias="mediaType")
    digest: str
    size: int = Field(ge=0)
    annotations: dict[str, str] | None = None
    platform: Platform | None = None
    urls: list[str] | None = None
    artifact_type: str | None = Field(None, alias="artifactType")
    data: str | None = None

    @property
    def ref_name(self) -> str | None:
        """The ``org.opencontainers.image.ref.name`` annotation (the tag in the layout)."""
        return (self.annotations or {}).get(REF_NAME_ANNOTATION)


class Index(OciModel):
    schema_version: int = Field(alias="schemaVersion")
    media_type: str | None = Field(None, alias="mediaType")
    manifests: list[Descriptor]
    annotations: dict[str, str] | None = None


class Manifest(OciModel):
    schema_version: int = Field(alias="schemaVersion")
    media_type: str | None = Field(None, alias="mediaType")
    artifact_type: str | None = Field(None, alias="artifactType")
    config: Descriptor
    layers: list[Descriptor]
    subject: Descriptor | None = None
    annotations: dict[str, str] | None = None


class ContainerConfig(OciModel):
    """The ``config`` object of an image config: how a container of the image starts."""

    user: str | None = Field(None, alias="User")
    exposed_ports: dict[str, dict[str, Any]] | None = Field(None, alias="ExposedPorts")
    env: list[str] | None = Field(None, alias="Env")
    entrypoint: list[str] | None = Field(None, alias="Entrypoint")
    cmd: list[str] | None = Field(None, alias="Cmd")
    volumes: dict[str, dict[str, Any]] | None = Field(None, alias="Volumes")
    working_dir: str | None = Field(None, alias="WorkingDir")
    labels: dict[str, str] | None = Field(None, alias="Labels")
    stop_signal: str | None = Field(None, alias="StopSignal")


class RootFs(OciModel):
    type: str = "layers"
    diff_ids: list[str] = Field(default_factory=list)


class History(OciModel):
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool | None = None


class ImageConfig(OciModel):
    # `created` stays the string that was written: reproducibility is about bytes, and a
    # parsed datetime would hide a difference in how two builds spell the same instant.
    created: str | None = None
    author: str | None = None
    architecture: str
    os: str
    variant: str | None = None
    config: ContainerConfig | None = None
    rootfs: RootFs
    history: list[History] | None = None

    def layer_history(self) -> list[History | None]:
        """One history entry per layer (``empty_layer`` entries belong to no layer).

        nixbuild writes one entry per layer whose ``created_by`` names the step; images from
        elsewhere may have fewer entries, hence the ``None`` padding.
        """
        entries = [h for h in self.history or [] if not h.empty_layer]
        count = len(self.rootfs.diff_ids)
        return [*entries[:count], *[None] * (count - len(entries))]


class LayerEntry(BaseModel):
    """One member of a layer tar: its header fields and, for regular files, a content hash."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: int | float
    size: int
    linkname: str
    devmajor: int
    devminor: int
    pax: dict[str, str] = Field(default_factory=dict)
    sha256: str | None = None


class LayerSummary(BaseModel):
    index: int
    digest: str
    diff_id: str
    media_type: str
    compressed_size: int
    uncompressed_size: int
    entries: int
    created_by: str | None = None
    comment: str | None = None


class ImageSummary(BaseModel):
    path: str
    ref: str | None
    manifest_digest: str
    config_digest: str
    architecture: str
    os: str
    created: str | None
    # Sum of the layer blobs as stored (what a push uploads and a pull downloads).
    total_compressed_size: int
    total_uncompressed_size: int
    layers: list[LayerSummary]


# --- tar members ----------------------------------------------------------------------------

_TYPE_NAMES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file (old-style type)",
    tarfile.CONTTYPE: "contiguous file",
    tarfile.DIRTYPE: "directory",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
}


def type_name(info: tarfile.TarInfo) -> str:
    return _TYPE_NAMES.get(info.type, f"type {info.type!r}")


def entry_of(info: tarfile.TarInfo, content: IO[bytes] | None) -> LayerEntry:
    """Describe a tar member, hashing its content chunk by chunk when it has one."""
    digest = None
    if content is not None:
        sha = hashlib.sha256()
        while chunk := content.read(_CHUNK):
            sha.update(chunk)
        digest = "sha256:" + sha.hexdigest()
    return LayerEntry(
        path=info.name,
        type=type_name(info),
        mode=info.mode,
        uid=info.uid,
        gid=info.gid,
        uname=info.uname,
        gname=info.gname,
        mtime=info.mtime,
        size=info.size,
        linkname=info.linkname,
        devmajor=info.devmajor,
        devminor=info.devminor,
        pax=dict(info.pax_headers),
        sha256=digest,
    )


# --- streams --------------------------------------------------------------------------------


class _Readable(Protocol):
    """What the layer pipeline needs of a stream: files, decompressors and _Hasher alike."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class _Hasher:
    """A read-only stream that hashes and counts what passes through it."""

    def __init__(self, raw: _Readable, algorithm: str = "sha256"):
        self._raw = raw
        self.algorithm = algorithm
        self.hash = hashlib.new(algorithm)
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read to the end (tar padding, trailing blocks) so the hash covers every byte."""
        while self.read(_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return f"{self.algorithm}:{self.hash.hexdigest()}"

    def close(self) -> None:
        # The underlying file is owned (and closed) by whoever opened it.
        pass


def compression_of(media_type: str) -> str:
    """``"gzip"``, ``"zstd"`` or ``"none"`` for a layer media type (OCI or Docker spelling)."""
    if media_type.endswith(("+gzip", ".gzip")):
        return "gzip"
    if media_type.endswith(("+zstd", ".zstd")):
        return "zstd"
    if media_type.endswith((".tar", "+tar")):
        return "none"
    raise BuildError(
        f"unsupported layer media type {media_type!r}",
        fix="layers must be tar archives, plain, gzip- or zstd-compressed",
    )


def _zstd_reader(stream: _Hasher) -> _Readable:
    try:  # Python 3.14 has zstd in the standard library
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]

        return cast(_Readable, zstd.ZstdFile(stream))
    except ImportError:
        pass
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise BuildError(
            "this layer is zstd-compressed and no zstd decompressor is available",
            fix="install the 'zstandard' package into nixbuild's environment "
            "(pip install zstandard), or build the image with gzip layers",
        ) from None
    # read_across_frames: a layer may be several concatenated zstd frames.
    reader = zstandard.ZstdDecompressor().stream_reader(
        stream, read_across_frames=True, closefd=False
    )
    return cast(_Readable, reader)


def _decompressed(media_type: str, stream: _Hasher) -> _Readable:
    kind = compression_of(media_type)
    if kind == "gzip":
        # cast: GzipFile only calls read() on a stream it reads front to back.
        return gzip.GzipFile(fileobj=cast(IO[bytes], stream), mode="rb")
    if kind == "zstd":
        return _zstd_reader(stream)
    return stream


class LayerStream:
    """One pass over a layer: iterate for ``(TarInfo, content or None)`` pairs.

    The content stream of a member is only readable until the next member is taken (the tar
    is read as a stream). When the iteration ends, the blob's digest and size and the
    uncompressed digest (``diff_id``) are checked, and :attr:`uncompressed_digest` and
    :attr:`uncompressed_size` are set; a consumer that stops early gets neither.
    """

    def __init__(
        self, layout: OciLayout, descriptor: Descriptor, diff_id: str | None, verify: bool
    ):
        self.layout = layout
        self.descriptor = descriptor
        self.diff_id = diff_id
        self.verify = verify
        self.uncompressed_digest: str | None = None
        self.uncompressed_size: int | None = None

    def __iter__(self) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
        desc = self.descriptor
        path = self.layout.blob_path(desc.digest)
        algorithm = desc.digest.split(":", 1)[0]
        with self._read_errors(), open(path, "rb") as raw:
            compressed = _Hasher(raw, algorithm)
            try:
                decompressed = _decompressed(desc.media_type, compressed)
            except NixbuildError as error:
                raise error.at(f"layer {desc.digest} in {self.layout.path}") from None
            with contextlib.closing(decompressed) as plain_stream:
                plain = _Hasher(plain_stream)
                # "r|": a forward-only stream; cast: in this mode tarfile only calls read().
                with tarfile.open(fileobj=cast(IO[bytes], plain), mode="r|") as tar:
                    for info in tar:
                        yield info, tar.extractfile(info) if info.isreg() else None
                plain.drain()
            compressed.drain()
        self.uncompressed_digest = plain.digest
        self.uncompressed_size = plain.size
        if self.verify:
            _check_blob(desc.digest, desc.size, compressed.digest, compressed.size, path)
            if self.diff_id is not None and plain.digest != self.diff_id:
                raise BuildError(
                    f"layer {desc.digest} unpacks to {plain.digest}, but the image config "
                    f"names it {self.diff_id} (rootfs.diff_ids)",
                    where=str(path),
                    fix=_CORRUPT_FIX,
                )

    def entries(self) -> Iterator[LayerEntry]:
        """The members as :class:`LayerEntry`, regular files' contents hashed on the way."""
        for info, content in self:
            with self._read_errors():
                yield entry_of(info, content)

    @contextlib.contextmanager
    def _read_errors(self) -> Iterator[None]:
        # Decompression and tar errors surface wherever bytes are pulled; name the blob.
        try:
            yield
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            desc = self.descriptor
            raise BuildError(
                f"layer {desc.digest} is not a readable {desc.media_type}: {error}",
                where=str(self.layout.path),
                fix=_CORRUPT_FIX,
            ) from error


# --- the layout -----------------------------------------------------------------------------

_Model = TypeVar("_Model", bound=BaseModel)


def _parse(model: type[_Model], data: bytes, what: str, where: Path) -> _Model:
    try:
        return model.model_validate(json.loads(data))
    except json.JSONDecodeError as error:
        raise BuildError(
            f"{what} is not JSON: {error}", where=str(where), fix=_CORRUPT_FIX
        ) from None
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise BuildError(
            f"{what} is not a valid {model.__name__}: {field}: {first['msg']}",
            where=str(where),
            fix=_CORRUPT_FIX,
        ) from None


def _check_blob(
    digest: str, size: int | None, actual_digest: str, actual_size: int, path: Path
) -> None:
    if size is not None and actual_size != size:
        raise BuildError(
            f"blob {digest} is {actual_size} bytes, its descriptor says {size}",
            where=str(path),
            fix=_CORRUPT_FIX,
        )
    if actual_digest != digest:
        raise BuildError(
            f"blob {digest} has digest {actual_digest}", where=str(path), fix=_CORRUPT_FIX
        )


class OciLayout:
    """An OCI image layout directory, opened read-only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise BuildError(
                f"no OCI image layout at {self.path}: not a directory",
                fix="build the image first, or pass the directory that holds index.json",
            )
        marker = self.path / "oci-layout"
        if not marker.is_file():
            raise BuildError(
                f"{self.path} is not an OCI image layout: it has no oci-layout file",
                fix="pass the directory that holds oci-layout, index.json and blobs/",
            )
        self.layout_bytes = marker.read_bytes()
        try:
            version = json.loads(self.layout_bytes).get("imageLayoutVersion")
        except (json.JSONDecodeError, AttributeError):
            version = None
        if version != LAYOUT_VERSION:
            raise BuildError(
                f"oci-layout must say imageLayoutVersion {LAYOUT_VERSION!r}, found {version!r}",
                where=str(marker),
                fix=_CORRUPT_FIX,
            )
        index_path = self.path / "index.json"
        if not index_path.is_file():
            raise BuildError(
                f"{self.path} has no index.json", where=str(self.path), fix=_CORRUPT_FIX
            )
        # Kept as bytes: two layouts with equal index.json bytes hold the same images.
        self.index_bytes = index_path.read_bytes()
        self.index = _parse(Index, self.index_bytes, "index.json", index_path)

    def __repr__(self) -> str:
        return f"OciLayout({str(self.path)!r})"

    # blobs

    def blob_path(self, digest: str) -> Path:
        """Where the blob lives; a symlink (into the Nix store, say) is fine."""
        match = _DIGEST.match(digest)
        # The digest becomes a path: anything but algorithm:hex could escape blobs/.
        if not match or len(match[2]) != _HEX_LENGTH[match[1]]:
            raise BuildError(
                f"malformed or unsupported digest {digest!r} "
                "(expected sha256:<64 hex> or sha512:<128 hex>)",
                where=str(self.path),
                fix=_CORRUPT_FIX,
            )
        path = self.path / "blobs" / match[1] / match[2]
        if not path.is_file():  # follows symlinks: a dangling one is missing too
            what = "a dangling symlink" if path.is_symlink() else "missing"
            raise BuildError(f"blob {digest} is {what}", where=str(path), fix=_CORRUPT_FIX)
        return path

    def read_blob(self, blob: Descriptor | str, verify: bool = True) -> bytes:
        """A whole blob (meant for JSON documents; stream layers with :meth:`iter_layer`).

        With ``verify``, its digest and, given a descriptor, its size must match.
        """
        digest, size = (blob.digest, blob.size) if isinstance(blob, Descriptor) else (blob, None)
        path = self.blob_path(digest)
        data = path.read_bytes()
        if verify:
            actual = hashlib.new(digest.split(":", 1)[0], data)
            _check_blob(digest, size, f"{actual.name}:{actual.hexdigest()}", len(data), path)
        return data

    def verify_blob(self, blob: Descriptor) -> None:
        """Check a blob of any size against its descriptor, reading it in chunks."""
        path = self.blob_path(blob.digest)
        with open(path, "rb") as raw:
            hasher = _Hasher(raw, blob.digest.split(":", 1)[0])
            hasher.drain()
        _check_blob(blob.digest, blob.size, hasher.digest, hasher.size, path)

    # documents

    def manifests(self) -> list[Descriptor]:
        """The descriptors listed in index.json (their ref name: ``descriptor.ref_name``)."""
        return list(self.index.manifests)

    def manifest_descriptor(self, ref: str | None = None) -> Descriptor:
        """The index entry named ``ref`` (ref name or digest); the only one when ``ref`` is None."""
        entries = self.manifests()
        names = ", ".join(repr(d.ref_name or d.digest) for d in entries) or "none"
        if ref is None:
            if len(entries) != 1:
                raise BuildError(
                    f"the layout holds {len(entries)} images ({names}); say which one",
                    where=str(self.path),
                )
            chosen = entries[0]
        else:
            matches = [d for d in entries if ref in (d.ref_name, d.digest)]
            if not matches:
                raise BuildError(
                    f"no image {ref!r} in the layout; it holds: {names}", where=str(self.path)
                )
            chosen = matches[0]
        return chosen

    def manifest(self, ref: str | Descriptor | None = None) -> Manifest:
        """The image manifest for a ref name, a digest or a descriptor (None: the only one)."""
        descriptor = ref if isinstance(ref, Descriptor) else self.manifest_descriptor(ref)
        if descriptor.media_type in (INDEX_MEDIA_TYPE, DOCKER_MANIFEST_LIST_MEDIA_TYPE):
            name = descriptor.ref_name or descriptor.digest
            raise BuildError(
                f"image {name!r} is a multi-platform index; nixbuild reads single-platform images",
                where=str(self.path),
                fix="copy the one platform you need (skopeo copy --override-arch/--override-os)",
            )
        return _parse(
            Manifest,
            self.read_blob(descriptor),
            f"manifest {descriptor.digest}",
            self.path,
        )

    def config(self, manifest: Manifest) -> ImageConfig:
        return _parse(
            ImageConfig,
            self.read_blob(manifest.config),
            f"image config {manifest.config.digest}",
            self.path,
        )

    def layers(self, manifest: Manifest) -> list[tuple[Descriptor, str]]:
        """Each layer descriptor with its ``diff_id`` from the image config."""
        diff_ids = self.config(manifest).rootfs.diff_ids
        if len(diff_ids) != len(manifest.layers):
            raise BuildError(
                f"the manifest lists {len(manifest.layers)} layers but the image config has "
                f"{len(diff_ids)} diff_ids",
                where=str(self.path),
                fix=_CORRUPT_FIX,
            )
        return list(zip(manifest.layers, diff_ids))

    def iter_layer(
        self, descriptor: Descriptor, diff_id: str | None = None, verify: bool = True
    ) -> LayerStream:
        """Stream a layer's tar members; see :class:`LayerStream`."""
        return LayerStream(self, descriptor, diff_id, verify)


# --- summary --------------------------------------------------------------------------------


def summarize(layout: OciLayout, ref: str | None = None) -> ImageSummary:
    """Layers, sizes and history of one image (reads every layer once, verifying it)."""
    descriptor = layout.manifest_descriptor(ref)
    manifest = layout.manifest(descriptor)
    config = layout.config(manifest)
    layers = []
    for index, ((layer, diff_id), history) in enumerate(
        zip(layout.layers(manifest), config.layer_history())
    ):
        stream = layout.iter_layer(layer, diff_id)
        entries = sum(1 for _ in stream)
        layers.append(
            LayerSummary(
                index=index,
                digest=layer.digest,
                diff_id=diff_id,
                media_type=layer.media_type,
                compressed_size=layer.size,
                uncompressed_size=stream.uncompressed_size or 0,
                entries=entries,
                created_by=history.created_by if history else None,
                comment=history.comment if history else None,
            )
        )
    return ImageSummary(
        path=str(layout.path),
        ref=descriptor.ref_name,
        manifest_digest=descriptor.digest,
        config_digest=manifest.config.digest,
        architecture=config.architecture,
        os=config.os,
        created=config.created,
        total_compressed_size=sum(layer.compressed_size for layer in layers),
        total_uncompressed_size=sum(layer.uncompressed_size for layer in layers),
        layers=layers,
    )
