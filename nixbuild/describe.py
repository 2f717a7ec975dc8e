"""What an image is made of, as ``build --json`` and ``inspect`` report it (:class:`report.Image`).

The contents come from the lock (Debian packages, Python distributions, pinned outputs of
network steps) and the app's local trees (hashed, never uploaded); the layers from the OCI
layout. ``build`` describes what it just built from the manifest and config alone (no layer is
read); ``inspect`` works without building: it evaluates the image the lock describes to its
store path (``nix-instantiate``, no build, no download) and, when the store holds it, reads
every layer once for its entries and unpacked size. A layer is tied to its step by the spec's
layer name (``<step>-<kind>``, nix/default.nix), which is also its derivation's name.
"""

from __future__ import annotations

from pathlib import Path

from nixbuild import report
from nixbuild.build import BuiltImage, Project
from nixbuild.local.nar import nar_sha256_hex
from nixbuild.lock import Lock
from nixbuild.oci.layout import OciLayout, summarize
from nixbuild.plan import ImageSpec, write_spec
from nixbuild.tools import nixcmd


def _layer_steps(spec: ImageSpec) -> list[int]:
    return [int(layer.name.split("-", 1)[0]) for layer in spec.layers]


def contents(project: Project, name: str, lock: Lock) -> dict:
    """The image's pinned contents: the ``base``, ``packages``, ``python``, ``local_trees`` and
    ``network_steps`` fields of :class:`report.Image`."""
    locked = lock.images[name]
    steps = project.images[name].steps
    return {
        "base": next((report.RegistryBase(step=s.index, reference=s.registry.reference,
                                          manifest_digest=s.registry.manifest, layers=len(s.registry.layers))
                      for s in locked.steps if s.registry is not None), None),
        "packages": [report.DebianPackage(step=s.index, name=p.name, version=p.version,
                                          architecture=p.architecture, sha256=p.sha256)
                     for s in locked.steps for p in s.packages],
        "python": [report.PythonDistribution(step=s.index, name=p.name, version=p.version,
                                             kind="wheel" if p in s.wheels else "sdist",
                                             filename=p.filename, sha256=p.sha256)
                   for s in locked.steps for p in s.python]
        + [report.PythonDistribution(step=s.index, name=g.name, version=g.version, kind="git",
                                     filename=f"{g.repository}@{g.commit}", sha256=nar_sha256_hex(g.nar_hash))
           for s in locked.steps for g in s.git],
        "local_trees": [report.LocalTree(step=index, kind=steps[index].kind, files=len(tree.files),
                                         nar_hash=tree.nar_hash)
                        for index, tree in project.local_trees(name).items()],
        "network_steps": [report.NetworkStep(step=o.index, kind=o.kind, output_hash=o.output_hash)
                          for o in locked.outputs],
    }


def built(project: Project, item: BuiltImage, lock: Lock) -> report.Image:
    """An image ``build`` just made, from its manifest and config (no layer is read)."""
    layout = OciLayout(Path(item.layout))
    manifest = layout.manifest(layout.manifest_descriptor())
    history = layout.config(manifest).layer_history()
    steps = _layer_steps(project.spec(item.name, lock))
    layers = [report.Layer(index=i, digest=d.digest, diff_id=diff_id, media_type=d.media_type,
                           compressed_size=d.size, step=steps[i] if i < len(steps) else None,
                           created_by=h.created_by if h else None)
              for i, ((d, diff_id), h) in enumerate(zip(layout.layers(manifest), history))]
    return report.Image(name=item.name, built=True, manifest_digest=item.manifest_digest,
                        config_digest=manifest.config.digest, size=item.size, store_path=item.store_path,
                        link=item.link, layout=item.layout, layers=layers, **contents(project, item.name, lock))


def inspected(project: Project, name: str, lock: Lock) -> report.Image:
    """An image as the lock and the store describe it, without building anything: its store
    path is evaluated from the spec, not built."""
    spec = project.spec(name, lock)
    path = nixcmd.output_path(nixcmd.instantiate(write_spec(spec, project.settings), project.store), project.store)
    image = report.Image(name=name, built=False, **contents(project, name, lock))
    if not nixcmd.is_valid(path, project.store):
        return image
    layout = project.layout(name, Path(path))
    summary = summarize(layout)
    steps = _layer_steps(spec)
    config_size = layout.manifest(layout.manifest_descriptor()).config.size
    link = project.image_link(name)
    return image.model_copy(update={
        "built": True, "manifest_digest": summary.manifest_digest, "config_digest": summary.config_digest,
        "size": config_size + summary.total_compressed_size, "uncompressed_size": summary.total_uncompressed_size,
        "store_path": path, "layout": str(layout.path),
        "link": str(link) if link.is_symlink() and str(link.resolve()) == path else None,
        "layers": [report.Layer(step=steps[layer.index] if layer.index < len(steps) else None,
                                **layer.model_dump(exclude={"comment"}))
                   for layer in summary.layers]})
