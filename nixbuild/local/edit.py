"""The one-file edit: ``nixbuild build APP`` again after local files changed, and nothing else,
answered without loading the app or starting nix-build. Standard library only: it runs from
the no-op's stamp (nixbuild/noop.py), before anything else is loaded.

A build that may be answered this way writes, in its stamp, for each image its local-files
layers that nothing else in the image builds on (the ones above the last other step: a run,
apt or Python step above a files layer runs on its files, so an edit there is a full build),
with what each is made from: the files (path in the image -> source), the history line, the
epoch, the toolchain, and which files the build opened other than to hash them (the app, the
modules it imports, ignore files). When every changed file is a source of such a layer and
none was opened otherwise, the edit is made here, as the full build would make it:

1. each changed layer is made by its builder (nix/builders/file_layer.py, on the toolchain's
   Python, local/builder.py) from a folder of links to the sources: the same bytes as the
   full build's layer, whose tree is a copy of those files;
2. the image is assembled by nix/builders/oci_image.py's own ``assemble``, from the previous
   image's config (the config, creation time, reference and architecture are all in it) and
   its layers, with the remade ones in place;
3. the image is rooted first (a history root and the out-link, switched in one rename;
   store/roots.py writes both without nix-store), then the layers and the image go into the
   store in one ``nix-store --import`` (store/imports.py, started before the layers are made
   so that Nix's start overlaps them), the image with its layers as references, so it keeps
   them alive; a failed import puts the out-link back;
4. the stamp is rewritten with what was just read, so the next edit is answered here too.

The history root's record names the spec file of the full build it came from (gc only uses
it to remove spec files no root names).

The image's store path is the content-addressed one of its layout, not the image
derivation's output (the same bytes, another name): ``nixbuild check`` and every command but
``build`` run the full build and use the derivation's. Anything unexpected (a stamp written by
another version, a layer not where the image has it, a failed builder) answers None, and the
full build runs: this path never reports an error of its own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import tempfile
from pathlib import Path

from nixbuild.local import builder
from nixbuild.local.nar import lost_modes
from nixbuild.oci import rootfs
from nixbuild.sizes import image_line
from nixbuild.store import imports, roots


def answerable(edit: dict, changed: list[str]) -> bool:
    """Whether every changed file is a source of a layer this path remakes, and none of them
    was opened by the build for any other reason."""
    sources = {source for image in edit["images"] for layer in image["layers"] for source in layer["files"].values()}
    read = set(edit["read"])
    return bool(changed) and all(path in sources and path not in read for path in changed)


def rebuild(edit: dict, changed: list[str]) -> tuple[dict[str, str], list[str]] | None:
    """Remake the layers with a changed source, and their images; the links that changed
    (link -> store path) and the progress lines, or None when the full build must answer.
    Updates ``edit`` (digests, sizes) in place for the next stamp. The caller took the
    files' stats before this reads them: a file written meanwhile is seen as changed again."""
    if not roots.direct_roots():  # the image is rooted before it is imported
        return None
    changed_set = set(changed)
    Path(edit["cache_dir"]).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="edit-", dir=edit["cache_dir"]))
    importer = imports.Importer()
    try:
        plans = []
        for image in edit["images"]:
            todo = [layer for layer in image["layers"] if changed_set & set(layer["files"].values())]
            if todo:
                plans.append((image, _remake(image, todo, edit, work)))
        if not plans or any(made is None for _, made in plans):
            return None
        return _install(edit, plans, importer)
    except Exception:  # noqa: BLE001 -- anything at all: the full build runs, and explains
        return None
    finally:
        importer.cancel()
        rootfs.discard(work)


def _install(edit: dict, plans: list, importer: imports.Importer) -> tuple[dict[str, str], list[str]]:
    """Root each new image (history root, out-link), then import the layers and images: a
    garbage collection running meanwhile finds them rooted the moment they are valid. When
    the import fails, the out-links are put back."""
    links, progress, previous, made_roots = {}, [], {}, []
    try:
        for image, (_, store_path, digest, size) in plans:
            root = roots.record(Path(edit["cache_dir"]), Path(edit["app"]), image["name"], store_path, digest,
                                image["spec"])
            made_roots.append(root)
            previous[image["link"]] = os.readlink(image["link"])
            roots.add_indirect_root(Path(image["link"]), store_path)  # its gcroots/auto entry is there already
            links[image["link"]], links[str(root)] = store_path, store_path
        importer.run([item for _, (made, *_rest) in plans for item in made])
    except BaseException:
        for link, target in previous.items():
            roots.add_indirect_root(Path(link), target)
        for root in made_roots:
            roots.forget(root)
        raise
    for image, (_, store_path, digest, size) in plans:
        image.update(digest=digest, size=size)
        progress.append(f"local files changed: image {image['name']!r} remade without nix-build: {store_path}")
    return links, progress


def _remake(image: dict, todo: list[dict], edit: dict, work: Path):
    """Make the layers ``todo`` of ``image`` and assemble it in ``work``: the imports (layers,
    then the image), its store path, manifest digest and size. None: not this way."""
    previous = os.path.realpath(image["link"])
    with open(os.path.join(previous, "index.json")) as f:
        index = json.load(f)
    (descriptor,) = index["manifests"]
    manifest = _blob(previous, descriptor["digest"])
    config = _blob(previous, manifest["config"]["digest"])
    layer_dirs = [os.path.dirname(os.path.realpath(os.path.join(previous, "blobs", "sha256",
                                                                 layer["digest"].removeprefix("sha256:"))))
                  for layer in manifest["layers"]]
    metas = []
    for layer_dir in layer_dirs:
        with open(os.path.join(layer_dir, "layer.json")) as f:
            metas.append(json.load(f))
    made = []
    for layer in todo:
        position = layer["position"]
        if position >= len(layer_dirs) or not layer_dirs[position].endswith("-" + layer["name"]):
            return None
        out = work / image["name"] / layer["name"]
        tree = _links(layer["files"], work / image["name"] / f"tree-{position}")
        builder.run(Path(edit["builders"]) / "file_layer.py",
                    {"tree": str(tree), "modes": _modes(layer["files"]), "createdBy": layer["createdBy"],
                     "epoch": layer["epoch"]},
                    out, layer["tools"], Path(edit["cache_dir"]), f"the local-files layer {layer['name']}")
        item = imports.importable(out, layer["name"])
        made.append(item)
        layer_dirs[position] = item.store_path
        with open(out / "layer.json") as f:
            metas[position] = json.load(f)
    spec = {"layers": layer_dirs, "config": config["config"], "created": config["created"],
            "architecture": config["architecture"],
            "ref": descriptor["annotations"]["org.opencontainers.image.ref.name"]}
    layout = work / image["name"] / "image"
    _oci_image(edit["builders"]).assemble(spec, metas, str(layout))
    image_item = imports.importable(layout, os.path.basename(previous)[33:], references=layer_dirs)
    with open(layout / "index.json") as f:
        (new_descriptor,) = json.load(f)["manifests"]
    new_manifest = _blob(str(layout), new_descriptor["digest"])
    size = new_manifest["config"]["size"] + sum(layer["size"] for layer in new_manifest["layers"])
    return [*made, image_item], image_item.store_path, new_descriptor["digest"], size


def _blob(layout: str, digest: str) -> dict:
    with open(os.path.join(layout, "blobs", "sha256", digest.removeprefix("sha256:"))) as f:
        return json.load(f)


def _links(files: dict[str, str], tree: Path) -> Path:
    """A folder laid out as the layer's tree, of links to the sources (the builder reads
    through them)."""
    for path, source in files.items():
        link = tree / path
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source, link)
    return tree


def _modes(files: dict[str, str]) -> dict[str, int]:
    """The permission bits the layer gives each file whose mode a NAR cannot carry, as the
    full build's tree (local/tree.py) says them, from the sources as they are now."""
    return lost_modes((path, stat.S_IMODE(os.stat(source).st_mode)) for path, source in files.items())


def _oci_image(builders: str):
    """nix/builders/oci_image.py, the image derivation's own builder, as a module."""
    spec = importlib.util.spec_from_file_location("nixbuild_oci_image", os.path.join(builders, "oci_image.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stdout(edit: dict) -> str:
    """What the build prints on stdout: each image's line (sizes.image_line) and the lines
    after it, which name the out-link and how to run it and do not change with an edit."""
    return "".join("\n".join([image_line(image["name"], image["digest"], image["size"], image["layers_count"]),
                              *image["text"]]) + "\n" for image in edit["images"])
