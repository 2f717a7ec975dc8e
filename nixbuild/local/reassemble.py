"""The one-file edit's second half (nixbuild/local/edit.py says the whole of it): once the
changed layers' builders are done, each image is assembled anew from its previous layout and
its new layers, rooted, and imported with them into the store.

Loaded only once the builders run: this module and what it imports take longer to load than
the builders take to start, so an edit waits for neither alone. Standard library only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

from nixbuild.local import builder
from nixbuild.store import imports, roots
from nixbuild.store.imports import Importer

__all__ = ["Importer", "images", "rooted_here"]


def rooted_here() -> bool:
    """Whether this process may root the images itself: each is rooted before it is imported
    (store/roots.py writes roots without nix-store only into the default store's folder)."""
    return roots.direct_roots()


def images(edit: dict, started: list[tuple[dict, list[tuple[dict, Path, subprocess.Popen]]]], work: Path,
           importer: Importer) -> tuple[dict[str, str], list[str]] | None:
    """Wait for the builders ``started`` for each image (its changed layers, each with its
    output folder and builder), assemble the images in ``work`` and install them: the links
    that changed (link -> store path) and the progress lines; None when the full build must
    answer."""
    plans = [(image, _remake(image, layers, edit, work)) for image, layers in started]
    if not plans or any(made is None for _, made in plans):
        return None
    return _install(edit, plans, importer)


def _install(edit: dict, plans: list, importer: Importer) -> tuple[dict[str, str], list[str]]:
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


def _remake(image: dict, layers: list[tuple[dict, Path, subprocess.Popen]], edit: dict, work: Path):
    """Wait for the builders of ``image``'s changed ``layers`` (each with its output folder)
    and assemble it in ``work``: the imports (layers, then the image), its store path,
    manifest digest and size. None: not this way."""
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
    for layer, out, proc in layers:
        position = layer["position"]
        if position >= len(layer_dirs) or not layer_dirs[position].endswith("-" + layer["name"]):
            return None
        builder.wait(proc, f"the local-files layer {layer['name']}")
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


def _oci_image(builders: str):
    """nix/builders/oci_image.py, the image derivation's own builder, as a module."""
    spec = importlib.util.spec_from_file_location("nixbuild_oci_image", os.path.join(builders, "oci_image.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
