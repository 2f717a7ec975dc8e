"""Builder: an image layer of local files (add_local_file / add_local_dir /
add_local_python_source).

The files come as one store tree (seeded by the CLI, named by its NAR hash) laid out as they
sit in the image, so ``tree/app/main.py`` becomes ``/app/main.py``. A NAR keeps only the
executable bit, so the spec carries the exact permission bits of every file whose mode is not
plain 0644/0755 (the one-file edit, whose tree is links to the sources, gives every file's). Owners are root, as with Docker's COPY.

The layer holds regular files only, no directory entries: a directory that exists in a lower
layer keeps its owner and mode (``/root`` stays 0700), and one that does not is created by
the unpacker as root 0755 -- what a directory entry would have said anyway.

Input: ``$layerSpecPath`` (JSON: tree, modes, createdBy, epoch). Output in ``$out``:
``layer.tar.gz`` and ``layer.json``.
"""

from __future__ import annotations

import os

from layertar import from_file, run_builder, write_layer_dir


def build(spec: dict, out: str) -> None:
    tree = spec["tree"]
    modes: dict[str, int] = spec.get("modes", {})
    entries = {}
    for top, dirs, files in os.walk(tree):
        dirs.sort()
        for name in files:
            source = os.path.join(top, name)
            path = os.path.relpath(source, tree)
            default = 0o755 if os.stat(source).st_mode & 0o111 else 0o644
            entries[path] = from_file(path, source, modes.get(path, default))
    write_layer_dir(entries, out, spec)


if __name__ == "__main__":
    run_builder(build)
