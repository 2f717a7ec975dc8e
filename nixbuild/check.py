"""``nixbuild check``: prove an image is reproducible, or explain exactly why not.

Two independent rebuilds:
1. ``nix-build --check`` of every layer and of the image in the local store: Nix rebuilds each
   derivation and compares it bit for bit with the output it already has. Every layer here is
   its derivation; the local-files layers a build makes without a sandbox
   (nixbuild/local/layer.py) must give the same image digest.
2. A build in a second, empty Nix store (``--store DIR``), seeded only with the fixed-output
   inputs (the .debs and the busybox seed, all named by hash), whose OCI layout is compared
   with the local one by manifest digest, and file by file when they differ (diff.py).
   It never substitutes from a binary cache: a cache would hand back what was built elsewhere.

``--expect DIGEST`` first compares the image built here with a digest recorded on another
machine (exit 7 naming both), so CI on a fresh runner proves what a developer built.

A layer proven once is not rebuilt again: when both rebuilds of an image match, each of its
layer derivations is recorded in the cache (``checked/<drv>``). A derivation names every input
of its layer, so a later check of an image that shares it (the same base under another app, an
unchanged lower layer after an edit) takes its output as proven: ``nix-build --check`` skips it,
and the second store gets that output copied in rather than built, so only the layers not proven
yet are rebuilt twice. A fresh machine (a CI runner without the cache) proves everything, and
``--full`` does so anywhere.

The result is a :class:`CheckResult` per image: ``report`` is the text a person reads,
``rebuild_failures`` and ``differences`` the same facts for machines (``nixbuild check
--json``): what ``nix-build --check`` reported, and the structured comparison of the two
layouts (each differing layer with its files and the tar header fields that differ).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from pydantic import BaseModel

from nixbuild.tools import nixcmd
from nixbuild.build import Project, explain_build_error
from nixbuild.oci.diff import Report, compare
from nixbuild.errors import BuildError, CheckError, NixbuildError
from nixbuild.plan import write_spec
from nixbuild.store.chroot import rebased_layout


class CheckResult(BaseModel):
    image: str
    manifest_digest: str
    second_store_digest: str
    ok: bool
    report: str | None = None
    # What `nix-build --check` of the layers and of the image reported, one message each.
    rebuild_failures: list[str] = []
    # The comparison with the build in the second store, when the two differ: per layer its
    # files (added, removed, changed) and the tar header fields or contents that differ.
    differences: Report | None = None
    # Layers an earlier check proved on this machine (same derivation), not rebuilt this time.
    proven_earlier: list[str] = []


def _fixed_inputs(drv: str, store: str | None = None) -> list[str]:
    """Fixed-output paths (the .debs, the seed) in the build closure of a derivation."""
    closure = nixcmd.query("--requisites", "--include-outputs", drv, store=store)
    return [p for p in closure if not p.endswith(".drv") and (p.endswith(".deb") or p.endswith("-busybox"))]


def _copy_into(store_dir: Path, paths: list[str], store: str | None = None) -> None:
    where = ["--store", store] if store else []
    exported = subprocess.run([nixcmd.require("nix-store", "nix-bin"), *where, "--export", *paths],
                              capture_output=True, check=True).stdout
    proc = subprocess.run(["nix-store", "--store", str(store_dir), "--option", "require-sigs", "false", "--import"],
                          input=exported, capture_output=True)
    if proc.returncode != 0:
        raise BuildError(f"seeding the second store failed: {proc.stderr.decode().strip()}")


def expect_digest(name: str, digest: str, expected: str | None) -> None:
    """Exit 7 when this machine's image is not the one recorded elsewhere."""
    if expected is not None and digest != expected:
        raise CheckError(f"image {name!r} built here has manifest digest {digest}, "
                         f"the expected (recorded) digest is {expected}",
                         fix="the two builds differ: compare their locks (and nixbuild versions), then run "
                             "`nixbuild check` on both machines, which names what is not reproducible")


def _proof(cache_dir: Path, drv: str) -> Path:
    return cache_dir / "checked" / Path(drv).name


def check_image(project: Project, name: str, lock, work: Path, expect: str | None = None,
                full: bool = False) -> CheckResult:
    # Every layer from its derivation, the local-files layers too, which a build makes without
    # a sandbox (nixbuild/local/layer.py): the image must come out the same both ways.
    image_spec = project.spec(name, lock, sandboxed=True)
    made_spec = project.spec(name, lock)
    spec = write_spec(image_spec, project.settings)
    link = project.image_link(name)
    secrets = project.secret_env(name)
    store = project.store
    cache_dir = project.settings.cache_dir
    try:
        local = nixcmd.build(spec, out_link=link, store=store, env=secrets)
        layout_a = project.layout(name, local)
        digest_a = made_digest = layout_a.manifest_descriptor().digest
        expect_digest(name, digest_a, expect)
        if made_spec != image_spec:
            made = nixcmd.build(write_spec(made_spec, project.settings), store=store, env=secrets)
            made_digest = project.layout(name, made).manifest_descriptor().digest
        image_drv = nixcmd.instantiate(spec, store)
        layers = nixcmd.derivations(spec, store, attr="layerBuilds")  # deb layers' trees too
        # Proven earlier and still there (a collected tree is built and checked again).
        proofs = [] if full else [drv for drv in layers if _proof(cache_dir, drv).exists()]
        outputs = nixcmd.output_paths(proofs, store)
        proven = [drv for drv in proofs if nixcmd.is_valid(outputs[drv], store)]
        rebuild_failures: list[str] = []
        try:
            nixcmd.check_derivations([d for d in layers if d not in proven] + [image_drv], store=store, env=secrets)
        except nixcmd.NotDeterministic as exc:
            rebuild_failures.append(exc.message)

        store_dir = work / "store"
        project.seed(lock, store=str(store_dir))
        _copy_into(store_dir, _fixed_inputs(image_drv, store), store)
        if proven:  # proven layers join the second store as they are; the others are built there
            _copy_into(store_dir, nixcmd.requisites([outputs[drv] for drv in proven], store), store)
        # Built here, never substituted: a cache would only hand back what was built elsewhere.
        second = nixcmd.build(spec, store=str(store_dir), env=secrets, substitute=False)
    except CheckError:
        raise
    except NixbuildError as exc:
        raise explain_build_error(exc, lock, name, image_spec, link) from None
    layout_b = rebased_layout(second, store_dir, work / "layout")
    report = compare(layout_a, layout_b)
    digest_b = layout_b.manifest_descriptor().digest
    problems = [f"nix-build --check: {message}" for message in rebuild_failures]
    if not report.identical:
        problems.append("build in a second, empty store differs:\n" + report.render())
    if made_digest != digest_a:
        problems.append(f"the image with the local-files layers made without a sandbox has manifest digest "
                        f"{made_digest}, the one with every layer built by its derivation {digest_a}")
    if not problems:
        (cache_dir / "checked").mkdir(parents=True, exist_ok=True)
        for drv in layers:
            _proof(cache_dir, drv).touch()
    return CheckResult(image=name, manifest_digest=digest_a,
                       second_store_digest=digest_b, ok=not problems, report="\n".join(problems) or None,
                       rebuild_failures=rebuild_failures, differences=None if report.identical else report,
                       proven_earlier=[Path(drv).name.removesuffix(".drv") for drv in proven])


def check(project: Project, expect: str | None = None, full: bool = False) -> list[CheckResult]:
    """Check every image; ``expect``: the manifest digest the (one) image must have; ``full``:
    rebuild every layer, also those an earlier check proved."""
    lock = project.lock(frozen=True)
    project.seed(lock, project.store)
    project.make_file_layers(lock)
    results = []
    for name in project.images:
        work = Path(tempfile.mkdtemp(prefix="nixbuild-check-"))
        try:
            results.append(check_image(project, name, lock, work, expect, full))
        finally:
            subprocess.run(["chmod", "-R", "u+w", str(work)], capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
    return results


def raise_if_failed(results: list[CheckResult]) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        raise CheckError("\n\n".join(f"image {r.image!r} is not reproducible:\n{r.report}" for r in failed),
                         fix="make the named files deterministic (timestamps, order, random content)")
