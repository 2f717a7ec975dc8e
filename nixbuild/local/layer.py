"""Local-files layers made by the CLI, without a sandbox: the layer is added to the store by
its content, as nix2container adds layers, so an edit costs hashing the changed files, one
compression of that layer and the image's assembly, and no derivation start.

The layer is made by the very builder the Nix library would run (``nix/builders/file_layer.py``),
on the bootstrap's pinned Python (its zlib makes the gzip bytes, so they are the same on every
machine), from the tree already seeded into the store; only the sandbox is left out, which a
plain copy of files does not need. The result, ``layer.tar.gz`` and ``layer.json`` in a folder
named as the derivation's output would be (``layer-<index>-<step>-<kind>``), is added with
``nix-store --add-fixed --recursive`` and named in the spec by its NAR hash
(``FilesLayer.made``), which nix/default.nix takes as the layer, as it is.

The derivation stays the definition: ``nixbuild check`` builds every files layer in the sandbox
and requires the same image digest, ``nixbuild plan`` and flakes use it, and a chroot store
(``--store``) or a forced layer builds it there. A made layer is remembered in the cache by
everything it is made from (tree, modes, history line, epoch, name, toolchain and builder
code), so an unchanged one is never made twice.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from nixbuild.lock import write_atomic
from nixbuild.local import builder
from nixbuild.local.nar import fixed_output_path
from nixbuild.oci import rootfs
from nixbuild.tools import nixcmd

# The builder and the modules it imports (nix/bootstrap.nix lists the same for the derivation).
BUILDER = ("file_layer.py", "layertar.py", "pgzip.py")


def store_name(index: int, layer: str) -> str:
    """The output's name as nix/default.nix names the derivation of layer ``index`` (``layer``:
    the spec's ``<step>-<kind>``)."""
    return f"layer-{index}-{layer}"


def made(name: str, builder_spec: dict, tools: str, cache_dir: Path) -> str:
    """The NAR hash of layer ``name`` (the derivation's output name), made here unless the
    cache names one already in the store. ``builder_spec`` is what the derivation's builder
    reads (tree: the seeded tree's store path, modes, createdBy, epoch); ``tools`` the
    bootstrap toolchain's store path."""
    builders = nixcmd.nix_dir() / "builders"
    key = hashlib.sha256(json.dumps([name, builder_spec, tools], sort_keys=True).encode())
    for script in BUILDER:
        key.update((builders / script).read_bytes())
    return _remembered(cache_dir / "file-layers" / key.hexdigest(), lambda nar: fixed_output_path(name, nar),
                       lambda: _make(name, builder_spec, tools, cache_dir))


def toolchain(spec_file: Path, bootstrap: str, cache_dir: Path) -> str:
    """The store path of the bootstrap toolchain (nix/bootstrap.nix ``tools``) that builds
    the spec, built if need be; remembered in the cache by the bootstrap's lock entry."""
    return _remembered(cache_dir / "toolchains" / hashlib.sha256(bootstrap.encode()).hexdigest(), lambda path: path,
                       lambda: str(nixcmd.build(spec_file, attr="tools")))


def _remembered(entry: Path, store_path: Callable[[str], str], compute: Callable[[], str]) -> str:
    """The value cached in ``entry`` while the store path it names is valid; else
    ``compute()``'s, cached there."""
    try:
        value = entry.read_text().strip()
        if nixcmd.is_valid(store_path(value)):
            return value
    except (OSError, ValueError):
        pass
    value = compute()
    write_atomic(entry, value + "\n")
    return value


def _make(name: str, builder_spec: dict, tools: str, cache_dir: Path) -> str:
    """Run the builder on the tool Python, add its output to the store; its NAR hash."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="layer-", dir=cache_dir))
    try:
        out = staging / name
        builder.run(nixcmd.nix_dir() / "builders" / BUILDER[0], builder_spec, out, tools, cache_dir,
                    f"the local-files layer {name}")
        path = nixcmd.add_fixed_recursive(out)
    finally:
        rootfs.discard(staging)
    (hash_line,) = nixcmd.query("--hash", path)
    return hash_line.removeprefix("sha256:")
