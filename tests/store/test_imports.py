"""Paths made here, imported with their references (nixbuild/store/imports.py), and roots
written without nix-store (nixbuild/store/roots.py).

The oracles are Nix's own commands: ``nix-store --dump`` for the NAR, ``nix store
make-content-addressed`` for the content-addressed name (it renames a path to the name Nix
computes for its content and references: an already right name is kept),
``nix-store --query --references`` and ``--verify-path`` for what was registered, and
``nix-store --add-root --indirect`` / ``--gc --print-roots`` for the roots.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

from nixbuild.store import imports, roots, validity


def nix_store(*args: str) -> str:
    return subprocess.run(["nix-store", *args], capture_output=True, text=True, check=True).stdout


def referenced_path(tmp_path: Path) -> str:
    """A fresh store path to refer to."""
    target = tmp_path / "referenced"
    target.write_text(f"referenced {uuid.uuid4()}\n")
    return nix_store("--add", str(target)).strip()


def folder_referring_to(tmp_path: Path, ref: str) -> Path:
    folder = tmp_path / "made"
    (folder / "blobs").mkdir(parents=True)
    (folder / "index.json").write_text(json.dumps({"unique": str(uuid.uuid4())}))
    (folder / "run.sh").write_text("#!/bin/sh\n")
    (folder / "run.sh").chmod(0o755)
    os.symlink(ref, folder / "blobs" / "layer")
    return folder


def test_an_imported_folder_has_nix_s_own_name_nar_and_references(tmp_path):
    ref = referenced_path(tmp_path)
    item = imports.importable(folder_referring_to(tmp_path, ref), "nixbuild-test-import", references=[ref])
    assert not validity.valid([item.store_path])
    imports.Importer().run([item])

    assert nix_store("--query", "--references", item.store_path).split() == [ref]
    nix_store("--verify-path", item.store_path)
    dumped = subprocess.run(["nix-store", "--dump", item.store_path], capture_output=True, check=True).stdout
    assert hashlib.sha256(dumped).digest() == hashlib.sha256(item.nar).digest()
    assert os.access(Path(item.store_path) / "run.sh", os.X_OK)
    assert os.readlink(Path(item.store_path) / "blobs" / "layer") == ref
    renamed = json.loads(subprocess.run(
        ["nix", "--extra-experimental-features", "nix-command", "store", "make-content-addressed", "--json",
         item.store_path], capture_output=True, text=True, check=True).stdout)
    assert renamed["rewrites"][item.store_path] == item.store_path


def test_a_path_without_references_is_named_as_add_fixed_names_it(tmp_path):
    folder = tmp_path / "layer-0-files"
    folder.mkdir()
    (folder / "layer.json").write_text(json.dumps({"unique": str(uuid.uuid4())}))
    item = imports.importable(folder, folder.name)
    assert item.store_path == nix_store("--add-fixed", "--recursive", "sha256", str(folder)).strip()


def test_a_cancelled_import_adds_nothing(tmp_path):
    ref = referenced_path(tmp_path)
    item = imports.importable(folder_referring_to(tmp_path, ref), "nixbuild-test-cancelled", references=[ref])
    importer = imports.Importer()
    importer.cancel()
    assert not validity.valid([item.store_path])


def test_a_root_written_here_is_the_one_nix_writes_and_keeps_the_path(tmp_path):
    assert roots.direct_roots(), "this test needs the default store's gcroots/auto to be writable"
    path = referenced_path(tmp_path)
    by_nix, ours = tmp_path / "by-nix", tmp_path / "ours"
    nix_store("--realise", path, "--add-root", str(by_nix), "--indirect")
    auto = {os.readlink(entry): entry.name for entry in roots.GC_ROOTS_AUTO.iterdir() if entry.is_symlink()}
    roots.add_indirect_root(by_nix, path)  # the same link: the same entry, not a second one
    again = {os.readlink(entry): entry.name for entry in roots.GC_ROOTS_AUTO.iterdir() if entry.is_symlink()}
    assert again[str(by_nix)] == auto[str(by_nix)]

    roots.add_indirect_root(ours, path)
    assert f"{ours} -> {path}" in nix_store("--gc", "--print-roots")
    dead = subprocess.run(["nix-store", "--delete", path], capture_output=True, text=True)
    assert dead.returncode != 0 and "alive" in dead.stderr
    by_nix.unlink()
    ours.unlink()
