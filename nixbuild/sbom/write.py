"""Write an image's SBOMs and provenance: ``NAME.spdx.json``, ``NAME.cdx.json`` and
``NAME.provenance.json``, each atomically, in ``.nixbuild/`` beside the image's out-link
unless told otherwise."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import BaseModel

from nixbuild.build import BuiltImage, Project
from nixbuild.lock import Lock, write_atomic
from nixbuild.oci.layout import OciLayout

from . import cyclonedx, provenance, spdx
from .components import ImageComponents, components_of, lock_sha256
from .files import SbomFiles
from .licenses import deb_license, locate_deb

SUFFIXES = {"spdx": ".spdx.json", "cyclonedx": ".cdx.json", "provenance": ".provenance.json"}
# The media types the documents are attached under (OCI artifactType).
ARTIFACT_TYPES = {"spdx": "application/spdx+json", "cyclonedx": "application/vnd.cyclonedx+json",
                  "provenance": "application/vnd.in-toto+json"}


def nixbuild_version() -> str:
    try:
        return version("nixbuild")
    except PackageNotFoundError:
        return "0+unknown"


def image_components(project: Project, lock: Lock, built: BuiltImage) -> ImageComponents:
    """The components of ``built`` as its lock pins them."""
    cache = project.settings.cache_dir
    layout = OciLayout(built.layout)
    descriptor = layout.manifest_descriptor()
    config = layout.config(layout.manifest(descriptor))
    steps = project.images[built.name].steps
    found = components_of(lock.images[built.name], lock.bootstrap, project.local_trees(built.name),
                          {i: steps[i].kind for i in range(len(steps))},
                          lambda pin: deb_license(pin, cache, locate_deb(pin, cache)))
    return ImageComponents(app=project.app.name, image=built.name, manifest_digest=descriptor.digest,
                           manifest_size=descriptor.size, created=config.created or "1970-01-01T00:00:00Z",
                           lock_sha256=lock_sha256(project.lock_path), distribution=lock.images[built.name].distribution,
                           nixbuild_version=nixbuild_version(), components=found)


def write(project: Project, built: list[BuiltImage], out_dir: Path | None = None) -> list[SbomFiles]:
    """Render every document of every image first (each validated), then write them."""
    lock = project.lock(frozen=True)
    folder = out_dir or project.out_dir
    rendered = []
    for item in built:
        image = image_components(project, lock, item)
        texts = {"spdx": spdx.render(image), "cyclonedx": cyclonedx.render(image),
                 "provenance": provenance.render(image)}
        rendered.append((image, texts))
    written = []
    for image, texts in rendered:
        paths = {kind: folder / f"{image.image}{SUFFIXES[kind]}" for kind in texts}
        for kind, text in texts.items():
            write_atomic(paths[kind], text)
        written.append(SbomFiles(image=image.image, manifest_digest=image.manifest_digest,
                                 components=len(image.components), **{k: str(p) for k, p in paths.items()}))
    return written
