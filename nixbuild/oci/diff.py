"""Comparing two OCI image layouts and explaining every difference.

``nixbuild check`` rebuilds an image and compares it with the first build. Equal digests say
nothing more is needed; unequal ones need an explanation a person can act on, so the
comparison walks down from what differs: index.json, then each image's manifest and config
(as JSON key paths with both values), then each layer whose digest differs. For a layer it
first decides whether only the compression differs (same uncompressed tar); otherwise it
streams both tars, hashing file contents on the way, and reports added, removed and changed
paths with the header fields that differ, or the entry order when only that changed.

Digests name content, so equal index.json bytes mean equal images and nothing else is read.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from nixbuild.errors import CheckError
from nixbuild.oci.layout import Descriptor, History, LayerEntry, OciLayout, compression_of, entry_of

MAX_FILES = 50
_MAX_FIELDS = 50
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- the report -----------------------------------------------------------------------------


class FieldDiff(BaseModel):
    """A JSON value that differs, by key path (``config.Env[2]``)."""

    path: str
    a: Any = None
    b: Any = None
    # Set when the key or list item exists in one document only.
    only_in: Literal["a", "b"] | None = None


class FieldChange(BaseModel):
    """A tar header field (or ``content``, the file's sha256) that differs for one path."""

    field: str
    a: Any = None
    b: Any = None


class FileDiff(BaseModel):
    path: str
    change: Literal["added", "removed", "changed"]
    type: str
    size: int
    fields: list[FieldChange] = Field(default_factory=list)


class LayerDiff(BaseModel):
    """A layer whose digest differs, or that only one image has (its side's fields are None)."""

    index: int
    created_by: str | None = None
    digest_a: str | None = None
    digest_b: str | None = None
    media_type_a: str | None = None
    media_type_b: str | None = None
    # Uncompressed digests as computed while reading (checked against the configs' diff_ids).
    diff_id_a: str | None = None
    diff_id_b: str | None = None
    entries_a: int | None = None
    entries_b: int | None = None
    compression_only: bool = False
    notes: list[str] = Field(default_factory=list)
    files: list[FileDiff] = Field(default_factory=list)
    files_omitted: int = 0
    order: str | None = None


class ImageDiff(BaseModel):
    """Two images at the same position of the two indexes, with different manifests."""

    position: int
    ref: str | None
    manifest_a: str
    manifest_b: str
    manifest: list[FieldDiff] = Field(default_factory=list)
    config_a: str
    config_b: str
    config: list[FieldDiff] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    layers_a: int
    layers_b: int
    layers: list[LayerDiff] = Field(default_factory=list)


class Report(BaseModel):
    a: str
    b: str
    identical: bool
    notes: list[str] = Field(default_factory=list)
    index: list[FieldDiff] = Field(default_factory=list)
    images: list[ImageDiff] = Field(default_factory=list)

    def render(self) -> str:
        """Plain text for a terminal."""
        if self.identical:
            return f"OCI image layouts are identical\n  a: {self.a}\n  b: {self.b}"
        lines = ["OCI image layouts differ", f"  a: {self.a}", f"  b: {self.b}"]
        lines += [f"note: {note}" for note in self.notes]
        if self.index:
            lines.append("index.json:")
            lines += _field_lines(self.index, "  ")
        for image in self.images:
            lines += _image_lines(image)
        return "\n".join(lines)

    def raise_if_different(self, where: str) -> None:
        """Raise :class:`CheckError` (message: the rendered report) unless identical."""
        if not self.identical:
            raise CheckError(self.render(), where=where, fix=self._fix())

    def _fix(self) -> str:
        # Point at the usual causes, the ones this report shows first.
        layers = [layer for image in self.images for layer in image.layers]
        fields = {c.field for layer in layers for f in layer.files for c in f.fields}
        config_paths = [d.path for image in self.images for d in image.config]
        hints = []
        if any(p == "created" or p.endswith(".created") for p in config_paths):
            hints.append("a `created` time comes from the clock: take it from the lock")
        if "mtime" in fields:
            hints.append(
                "file mtimes are build times: clamp them (SOURCE_DATE_EPOCH) before packing"
            )
        if fields & {"mode", "uid", "gid", "uname", "gname"}:
            hints.append(
                "owners or modes leaked from the build user or umask: normalize them when packing"
            )
        if any(layer.order for layer in layers):
            hints.append("tar entries follow directory-listing order: sort them by path")
        if "content" in fields or any(
            f.change != "changed" for layer in layers for f in layer.files
        ):
            hints.append(
                "a build step writes random or time-dependent files (caches, logs, .pyc without "
                "--invalidation-mode unchecked-hash, embedded dates or ids): remove them or make "
                "them deterministic"
            )
        if any(layer.compression_only for layer in layers):
            hints.append(
                "the same tar is compressed differently: fix the gzip header (mtime 0, no name) "
                "and the compressor and its level"
            )
        if not hints:
            hints.append(
                "look for timestamps, file order, or random content written by a build step"
            )
        # One hint a line, aligned under the text after NixbuildError's "  fix: ".
        return "\n       ".join(hints)


# --- comparing ------------------------------------------------------------------------------


def compare(a: OciLayout, b: OciLayout, *, max_files: int = MAX_FILES) -> Report:
    """Compare two layouts; images are paired by their position in index.json."""
    report = Report(a=str(a.path), b=str(b.path), identical=False)
    if a.layout_bytes != b.layout_bytes:
        report.notes.append("the oci-layout files differ (same version, different JSON spelling)")
    if a.index_bytes == b.index_bytes:
        report.identical = not report.notes
        return report

    entries_a, entries_b = a.manifests(), b.manifests()
    for position, (da, db) in enumerate(zip(entries_a, entries_b)):
        if da.digest != db.digest:
            report.images.append(_compare_image(a, da, b, db, position, max_files))
    # The image sections explain why these digests (and sizes) differ.
    explained = {
        f"manifests[{i.position}].{key}" for i in report.images for key in ("digest", "size")
    }
    report.index = _without(
        json_diff(json.loads(a.index_bytes), json.loads(b.index_bytes)), explained
    )
    if not report.index and not report.images:
        report.notes.append(_same_values("index.json"))
    return report


def _compare_image(
    a: OciLayout, da: Descriptor, b: OciLayout, db: Descriptor, position: int, max_files: int
) -> ImageDiff:
    ma, mb = a.manifest(da), b.manifest(db)
    ca, cb = a.config(ma), b.config(mb)
    layers_a, layers_b = a.layers(ma), b.layers(mb)
    image = ImageDiff(
        position=position,
        ref=da.ref_name or db.ref_name,
        manifest_a=da.digest,
        manifest_b=db.digest,
        config_a=ma.config.digest,
        config_b=mb.config.digest,
        layers_a=len(layers_a),
        layers_b=len(layers_b),
    )
    history_a, history_b = ca.layer_history(), cb.layer_history()
    for i in range(max(len(layers_a), len(layers_b))):
        la = layers_a[i] if i < len(layers_a) else None
        lb = layers_b[i] if i < len(layers_b) else None
        if la and lb and la[0].digest == lb[0].digest:
            continue
        created_by = _created_by(history_a, i) or _created_by(history_b, i)
        if la and lb:
            layer = _compare_layer(a, la, b, lb, i, created_by, max_files)
        elif la:
            layer = LayerDiff(
                index=i,
                created_by=created_by,
                digest_a=la[0].digest,
                media_type_a=la[0].media_type,
                diff_id_a=la[1],
            )
        else:
            assert lb is not None
            layer = LayerDiff(
                index=i,
                created_by=created_by,
                digest_b=lb[0].digest,
                media_type_b=lb[0].media_type,
                diff_id_b=lb[1],
            )
        image.layers.append(layer)

    # Layer digests and sizes, diff_ids and the config digest are explained by the sections
    # for the layers and the config; listing them again would only bury the cause.
    differing = [layer.index for layer in image.layers]
    manifest_explained = {"config.digest", "config.size"}
    for i in differing:
        manifest_explained |= {f"layers[{i}]", f"layers[{i}].digest", f"layers[{i}].size"}
    raw_a, raw_b = json.loads(a.read_blob(da)), json.loads(b.read_blob(db))
    image.manifest = _without(json_diff(raw_a, raw_b), manifest_explained)

    if ma.config.digest != mb.config.digest:
        config_explained = {f"rootfs.diff_ids[{i}]" for i in differing}
        raw_a, raw_b = json.loads(a.read_blob(ma.config)), json.loads(b.read_blob(mb.config))
        all_config_diffs = json_diff(raw_a, raw_b)
        image.config = _without(all_config_diffs, config_explained)
        if not all_config_diffs:
            image.notes.append(_same_values("the image config"))
        elif not image.config:
            image.notes.append("the image config differs only in the diff_ids of the layers below")
    if not image.manifest and not image.layers and ma.config.digest == mb.config.digest:
        image.notes.append(_same_values("the manifest"))
    return image


def _compare_layer(
    a: OciLayout,
    la: tuple[Descriptor, str],
    b: OciLayout,
    lb: tuple[Descriptor, str],
    index: int,
    created_by: str | None,
    max_files: int,
) -> LayerDiff:
    (da, diff_id_a), (db, diff_id_b) = la, lb
    stream_a, stream_b = a.iter_layer(da, diff_id_a), b.iter_layer(db, diff_id_b)
    # Only metadata and content hashes are kept per entry; contents are hashed as they stream.
    entries_a, entries_b = list(stream_a.entries()), list(stream_b.entries())
    layer = LayerDiff(
        index=index,
        created_by=created_by,
        digest_a=da.digest,
        digest_b=db.digest,
        media_type_a=da.media_type,
        media_type_b=db.media_type,
        diff_id_a=stream_a.uncompressed_digest,
        diff_id_b=stream_b.uncompressed_digest,
        entries_a=len(entries_a),
        entries_b=len(entries_b),
    )
    if layer.diff_id_a == layer.diff_id_b:
        layer.compression_only = True
        layer.notes = _compression_notes(a, da, b, db)
        return layer
    files, layer.order = _compare_entries(entries_a, entries_b)
    layer.files = files[:max_files]
    layer.files_omitted = len(files) - len(layer.files)
    if not files and layer.order is None:
        layer.notes.append(
            "every entry has the same header fields and content: the tar encoding differs "
            "(header format, padding or end-of-archive blocks)"
        )
    return layer


# Fields compared for a path present in both tars, in the order they are reported.
_ENTRY_FIELDS = (
    "type",
    "mode",
    "uid",
    "gid",
    "uname",
    "gname",
    "mtime",
    "size",
    "linkname",
    "devmajor",
    "devminor",
)
# PAX keys that tarfile folds into the fields above: a difference there is reported once.
_PAX_FIELDS = {
    "linkpath": "linkname",
    "size": "size",
    "mtime": "mtime",
    "uid": "uid",
    "gid": "gid",
    "uname": "uname",
    "gname": "gname",
}
_XATTR = "SCHILY.xattr."


def _keyed(entries: Iterable[LayerEntry]) -> dict[str, LayerEntry]:
    # A tar may hold a path twice (the later one wins on extraction); keep both apart.
    seen: dict[str, int] = {}
    keyed = {}
    for entry in entries:
        count = seen[entry.path] = seen.get(entry.path, 0) + 1
        keyed[entry.path if count == 1 else f"{entry.path} (occurrence {count})"] = entry
    return keyed


def _compare_entries(
    entries_a: list[LayerEntry], entries_b: list[LayerEntry]
) -> tuple[list[FileDiff], str | None]:
    """File differences (sorted by path) and the first place the entry order differs."""
    ka, kb = _keyed(entries_a), _keyed(entries_b)
    files = []
    for key, entry in ka.items():
        if key not in kb:
            files.append(FileDiff(path=key, change="removed", type=entry.type, size=entry.size))
        elif changes := _entry_changes(entry, kb[key]):
            files.append(
                FileDiff(
                    path=key, change="changed", type=entry.type, size=entry.size, fields=changes
                )
            )
    for key, entry in kb.items():
        if key not in ka:
            files.append(FileDiff(path=key, change="added", type=entry.type, size=entry.size))
    files.sort(key=lambda f: f.path)

    order = None
    common_a = [key for key in ka if key in kb]
    common_b = [key for key in kb if key in ka]
    if common_a != common_b:
        i = next(i for i, (x, y) in enumerate(zip(common_a, common_b)) if x != y)
        order = (
            f"entry order differs from entry {i + 1} (of those in both) on: "
            f"a has {common_a[i]!r} there, b has {common_b[i]!r}"
        )
    return files, order


def _entry_changes(ea: LayerEntry, eb: LayerEntry) -> list[FieldChange]:
    changes = [
        FieldChange(field=name, a=getattr(ea, name), b=getattr(eb, name))
        for name in _ENTRY_FIELDS
        if getattr(ea, name) != getattr(eb, name)
    ]
    if ea.sha256 != eb.sha256:
        changes.append(FieldChange(field="content", a=ea.sha256, b=eb.sha256))
    reported = {change.field for change in changes}
    for key in sorted(ea.pax.keys() | eb.pax.keys()):
        va, vb = ea.pax.get(key), eb.pax.get(key)
        if va == vb or _PAX_FIELDS.get(key) in reported:
            continue
        name = f"xattr[{key[len(_XATTR) :]}]" if key.startswith(_XATTR) else f"pax[{key}]"
        changes.append(FieldChange(field=name, a=va, b=vb))
    return changes


def _compression_notes(a: OciLayout, da: Descriptor, b: OciLayout, db: Descriptor) -> list[str]:
    notes = []
    if da.media_type != db.media_type:
        notes.append(f"media type {da.media_type!r} != {db.media_type!r}")
    if da.size != db.size:
        notes.append(f"compressed size {da.size} != {db.size}")
    if da.media_type != db.media_type:
        return notes
    kind = compression_of(da.media_type)
    if kind == "gzip":
        ha, hb = _gzip_header(a.blob_path(da.digest)), _gzip_header(b.blob_path(db.digest))
        header_notes = [
            f"gzip header {key}: {_show(ha.get(key))} != {_show(hb.get(key))}"
            for key in dict.fromkeys([*ha, *hb])
            if ha.get(key) != hb.get(key)
        ]
        notes += header_notes or [
            "same gzip header; the deflate data differs (compression level or zlib version)"
        ]
    elif kind == "zstd":
        notes.append(
            "the zstd frames differ "
            "(compression level, window size, checksum flag or library version)"
        )
    return notes


def _gzip_header(path: Path) -> dict[str, Any]:
    """The fields of a gzip member header (RFC 1952), the parts that differ between writers."""
    with open(path, "rb") as blob:
        head = blob.read(64 * 1024)
    if len(head) < 10 or head[:2] != b"\x1f\x8b":
        return {"magic": head[:2].hex()}
    flags = head[3]
    header: dict[str, Any] = {
        "mtime": int.from_bytes(head[4:8], "little"),
        "flags": flags,
        "xfl": head[8],  # 2: slowest/best compression, 4: fastest
        "os": head[9],
    }
    pos = 10
    if flags & 0x04:
        length = int.from_bytes(head[pos : pos + 2], "little")
        header["extra"] = head[pos + 2 : pos + 2 + length].hex()
        pos += 2 + length
    for bit, key in ((0x08, "name"), (0x10, "comment")):
        if flags & bit:
            end = head.find(b"\0", pos)
            header[key] = head[pos:end].decode("latin-1")
            pos = end + 1
    return header


def _created_by(history: list[History | None], index: int) -> str | None:
    entry = history[index] if index < len(history) else None
    return (entry.created_by or entry.comment) if entry else None


# --- JSON differences -----------------------------------------------------------------------


def json_diff(a: Any, b: Any, path: str = "") -> list[FieldDiff]:
    """Differences between two JSON values as key paths; lists are compared by position."""
    if isinstance(a, dict) and isinstance(b, dict):
        diffs = []
        for key in [*a, *(key for key in b if key not in a)]:
            sub = _key_path(path, key)
            if key not in b:
                diffs.append(FieldDiff(path=sub, a=a[key], only_in="a"))
            elif key not in a:
                diffs.append(FieldDiff(path=sub, b=b[key], only_in="b"))
            else:
                diffs += json_diff(a[key], b[key], sub)
        return diffs
    if isinstance(a, list) and isinstance(b, list):
        diffs = []
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(b):
                diffs.append(FieldDiff(path=sub, a=a[i], only_in="a"))
            elif i >= len(a):
                diffs.append(FieldDiff(path=sub, b=b[i], only_in="b"))
            else:
                diffs += json_diff(a[i], b[i], sub)
        return diffs
    # type(): JSON's 1, 1.0 and true are different bytes though Python finds them equal.
    if a == b and type(a) is type(b):
        return []
    return [FieldDiff(path=path or "(document)", a=a, b=b)]


def _key_path(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _without(diffs: list[FieldDiff], paths: set[str]) -> list[FieldDiff]:
    return [diff for diff in diffs if diff.path not in paths]


def _same_values(what: str) -> str:
    return (
        f"{what} has the same JSON values but different bytes "
        "(key order, whitespace or number spelling)"
    )


# --- rendering ------------------------------------------------------------------------------


def _short(digest: str | None) -> str:
    if digest is None:
        return "(none)"
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}"


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 160 else text[:157] + "..."


def _show_field(field: str, value: Any) -> str:
    if value is None:
        return "(absent)"
    if field == "mode":
        return oct(value)
    if field == "mtime":
        try:
            moment = datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, OSError, ValueError):  # tar allows mtimes datetime does not
            return str(value)
        return f"{value} ({moment})"
    if field == "content":
        return _short(value)
    return _show(value)


def _field_lines(diffs: list[FieldDiff], indent: str) -> list[str]:
    lines = []
    for diff in diffs[:_MAX_FIELDS]:
        a = "(absent)" if diff.only_in == "b" else _show(diff.a)
        b = "(absent)" if diff.only_in == "a" else _show(diff.b)
        lines.append(f"{indent}{diff.path}: {a} != {b}")
    if len(diffs) > _MAX_FIELDS:
        lines.append(f"{indent}... and {len(diffs) - _MAX_FIELDS} more")
    return lines


def _image_lines(image: ImageDiff) -> list[str]:
    name = repr(image.ref) if image.ref else f"#{image.position + 1}"
    lines = [f"image {name}: manifest {_short(image.manifest_a)} != {_short(image.manifest_b)}"]
    lines += [f"  note: {note}" for note in image.notes]
    if image.manifest:
        lines.append("  manifest:")
        lines += _field_lines(image.manifest, "    ")
    if image.config:
        lines.append(f"  config {_short(image.config_a)} != {_short(image.config_b)}:")
        lines += _field_lines(image.config, "    ")
    if image.layers_a != image.layers_b:
        lines.append(f"  layer count: {image.layers_a} != {image.layers_b}")
    for layer in image.layers:
        lines += _layer_lines(layer, image.layers_a if image.layers_a == image.layers_b else None)
    return lines


def _layer_lines(layer: LayerDiff, total: int | None) -> list[str]:
    title = f"  layer {layer.index + 1}" + (f" of {total}" if total else "")
    if layer.created_by:
        title += f" ({_show(layer.created_by)})"
    if layer.digest_a is None or layer.digest_b is None:
        side, digest = ("b", layer.digest_b) if layer.digest_a is None else ("a", layer.digest_a)
        return [f"{title}: only in {side}, {_short(digest)}"]
    lines = [f"{title}: {_short(layer.digest_a)} != {_short(layer.digest_b)}"]
    if layer.compression_only:
        lines.append(f"    compression differs only (same tar, diff_id {_short(layer.diff_id_a)})")
    else:
        lines.append(
            f"    content differs: diff_id {_short(layer.diff_id_a)} != {_short(layer.diff_id_b)}, "
            f"{layer.entries_a} entries in a, {layer.entries_b} in b"
        )
    lines += [f"    {note}" for note in layer.notes]
    lines += file_lines(layer.files, "    ")
    if layer.files_omitted:
        lines.append(f"    ... and {layer.files_omitted} more")
    if layer.order:
        prefix = "same entries, only " if not layer.files else ""
        lines.append(f"    {prefix}{layer.order}")
    return lines


def file_lines(files: list[FileDiff], indent: str) -> list[str]:
    """One line per differing path: ``~`` changed (with the fields), ``+`` added, ``-`` removed."""
    lines = []
    for file in files:
        if file.change == "changed":
            fields = "; ".join(
                f"{c.field} {_show_field(c.field, c.a)} != {_show_field(c.field, c.b)}"
                for c in file.fields
            )
            lines.append(f"{indent}~ {file.path}: {fields}")
        else:
            mark = "+" if file.change == "added" else "-"
            size = f", {file.size} bytes" if file.type.startswith("file") else ""
            lines.append(f"{indent}{mark} {file.path} ({file.change}: {file.type}{size})")
    return lines


def compare_tars(a: Path, b: Path) -> list[FileDiff]:
    """The paths that differ between two layer tarballs (any compression ``tarfile`` reads),
    sorted by path: how a re-run network step's fresh layer differs from the pinned one."""

    def entries(path: Path) -> list[LayerEntry]:
        with tarfile.open(path, "r:*") as tar:
            return [entry_of(info, tar.extractfile(info) if info.isfile() else None) for info in tar]

    files, _order = _compare_entries(entries(a), entries(b))
    return files
