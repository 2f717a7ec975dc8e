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
   full build's layer, whose tree is a copy of those files. The builders are the longest
   part of an edit, so they start first (``start``), before the no-op has asked the store
   whether its paths are still valid, and the rest waits for them (``Started.finish``);
2. the image is assembled by nix/builders/oci_image.py's own ``assemble``, from the previous
   image's config (the config, creation time, reference and architecture are all in it) and
   its layers, with the remade ones in place;
3. the image is rooted first (a history root and the out-link, switched in one rename;
   store/roots.py writes both without nix-store), then the layers and the image go into the
   store in one ``nix-store --import`` (store/imports.py, started right after the builders
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

import os
import stat
import subprocess
from pathlib import Path

from nixbuild.local import builder
from nixbuild.sizes import image_line


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
    started = start(edit, changed)
    return None if started is None else started.finish()


def start(edit: dict, changed: list[str]) -> Started | None:
    """``rebuild``'s first half: its builders start, and run while the caller does what it
    must before ``finish`` (or ``cancel``); None when this path does not answer."""
    if not answerable(edit, changed):
        return None
    started = Started(edit)
    try:
        if started.begin(set(changed)):
            return started
    except Exception:  # noqa: BLE001 -- anything at all: the full build runs, and explains
        pass
    started.cancel()
    return None


class Started:
    """An edit under way: for each image with a changed layer, its builders running (one
    per layer), then ``nix-store --import`` starting, all of them in a scratch folder."""

    def __init__(self, edit: dict):
        self.edit = edit
        self.images: list[tuple[dict, list[tuple[dict, Path, subprocess.Popen]]]] = []
        self.work: Path | None = None
        self.importer = None

    def begin(self, changed: set[str]) -> bool:
        """Start the builders, then load the second half and start the import; False when
        this process cannot root the images (the builders are cancelled)."""
        self.work = _scratch(Path(self.edit["cache_dir"]))
        for image in self.edit["images"]:
            todo = [layer for layer in image["layers"] if changed & set(layer["files"].values())]
            if todo:
                self.images.append((image, [self._start_layer(image, layer) for layer in todo]))
        from nixbuild.local import reassemble  # only now: see its docstring

        if not reassemble.rooted_here():
            return False
        self.importer = reassemble.Importer()  # after the builders: on two cores they come first
        return True

    def _start_layer(self, image: dict, layer: dict) -> tuple[dict, Path, subprocess.Popen]:
        """Each layer is made by its builder from a folder of links to the sources."""
        out = self.work / image["name"] / layer["name"]
        tree = _links(layer["files"], self.work / image["name"] / f"tree-{layer['position']}")
        proc = builder.start(Path(self.edit["builders"]) / "file_layer.py",
                             {"tree": str(tree), "modes": _modes(layer["files"]), "createdBy": layer["createdBy"],
                              "epoch": layer["epoch"]},
                             out, layer["tools"], Path(self.edit["cache_dir"]))
        return layer, out, proc

    def finish(self) -> tuple[dict[str, str], list[str]] | None:
        """Wait for the layers, assemble and install the images: ``rebuild``'s answer."""
        from nixbuild.local import reassemble

        try:
            return reassemble.images(self.edit, self.images, self.work, self.importer)
        except Exception:  # noqa: BLE001 -- anything at all: the full build runs, and explains
            return None
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop whatever still runs and remove the scratch folder (after ``finish``, only the
        folder is left to remove)."""
        for _, layers in self.images:
            for _, _, proc in layers:
                if proc.returncode is None:
                    proc.kill()
                    proc.communicate()
        if self.importer is not None:
            self.importer.cancel()
        if self.work is not None:
            from nixbuild.oci import rootfs

            rootfs.discard(self.work)
            self.work = None


def _scratch(cache_dir: Path) -> Path:
    """A new folder of the edit's own in ``cache_dir`` (as tempfile.mkdtemp, which would
    take longer to load than this takes to run)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            path = cache_dir / f"edit-{os.getpid()}-{os.urandom(4).hex()}"
            path.mkdir(mode=0o700)
            return path
        except FileExistsError:
            continue


def _links(files: dict[str, str], tree: Path) -> Path:
    """A folder laid out as the layer's tree, of links to the sources (the builder reads
    through them)."""
    for path, source in files.items():
        link = tree / path
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(source, link)
    return tree


def _modes(files: dict[str, str]) -> dict[str, int]:
    """The permission bits of each file, from the sources as they are now: the full build's
    tree (local/tree.py) tells the builder only those a NAR cannot carry, and gives the
    others the builder's default for a NAR's file, which are these same bits."""
    return {path: stat.S_IMODE(os.stat(source).st_mode) for path, source in files.items()}


def stdout(edit: dict) -> str:
    """What the build prints on stdout: each image's line (sizes.image_line) and the lines
    after it, which name the out-link and how to run it and do not change with an edit."""
    return "".join("\n".join([image_line(image["name"], image["digest"], image["size"], image["layers_count"]),
                              *image["text"]]) + "\n" for image in edit["images"])
