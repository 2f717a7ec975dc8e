"""``nixbuild check``: prove an image is reproducible, or explain exactly why not.

Two independent rebuilds:
1. ``nix-build --check`` of every layer and of the image in the local store: Nix rebuilds each
   derivation and compares it bit for bit with the output it already has.
2. A build in a second, empty Nix store (``--store DIR``), seeded only with the fixed-output
   inputs (the .debs and the busybox seed, all named by hash), whose OCI layout is compared
   with the local one by manifest digest, and file by file when they differ (diff.py).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from pydantic import BaseModel

from nixbuild.tools import nixcmd
from nixbuild.build import Project, explain_build_error
from nixbuild.oci.diff import compare
from nixbuild.errors import CheckError, NixbuildError
from nixbuild.oci.layout import OciLayout
from nixbuild.plan import write_spec


class CheckResult(BaseModel):
    image: str
    manifest_digest: str
    second_store_digest: str
    ok: bool
    report: str | None = None


def _fixed_inputs(store_path: Path) -> list[str]:
    """Fixed-output paths (the .debs, the seed) in the build closure of an output."""
    drv = subprocess.run([nixcmd.require("nix-store", "nix-bin"), "--query", "--deriver", str(store_path)],
                         capture_output=True, text=True, check=True).stdout.strip()
    closure = subprocess.run([nixcmd.require("nix-store", "nix-bin"), "--query", "--requisites",
                              "--include-outputs", drv], capture_output=True, text=True, check=True).stdout.split()
    return [p for p in closure if not p.endswith(".drv") and (p.endswith(".deb") or p.endswith("-busybox"))]


def _copy_into(store_dir: Path, paths: list[str]) -> None:
    exported = subprocess.run([nixcmd.require("nix-store", "nix-bin"), "--export", *paths],
                              capture_output=True, check=True).stdout
    proc = subprocess.run(["nix-store", "--store", str(store_dir), "--option", "require-sigs", "false", "--import"],
                          input=exported, capture_output=True)
    if proc.returncode != 0:
        raise NixbuildError(f"seeding the second store failed: {proc.stderr.decode().strip()}")


def _rebased(layout_path: Path, store_dir: Path, into: Path) -> OciLayout:
    """A copy of a layout built in ``store_dir`` whose blob links point inside that store."""
    src = store_dir / str(layout_path).lstrip("/")
    dst = into / "layout"
    shutil.copytree(src, dst, symlinks=True)
    blobs = dst / "blobs" / "sha256"
    for blob in blobs.iterdir():
        if blob.is_symlink():
            target = blob.readlink()
            blob.unlink()
            blob.symlink_to(store_dir / str(target).lstrip("/"))
    return OciLayout(dst)


def check_image(project: Project, name: str, lock, work: Path) -> CheckResult:
    image_spec = project.spec(name, lock)
    spec = write_spec(image_spec, project.settings)
    link = project.out_dir / name
    secrets = project.secret_env(name)
    try:
        local = nixcmd.build(spec, out_link=link, env=secrets)
        problems: list[str] = []
        for attr in ("layers", None):
            try:
                nixcmd.build(spec, check=True, attr=attr, env=secrets)
            except nixcmd.NotDeterministic as exc:
                problems.append(f"nix-build --check: {exc.message}")

        store_dir = work / "store"
        project.seed(lock, store=str(store_dir))
        _copy_into(store_dir, _fixed_inputs(local))
        second = nixcmd.build(spec, store=str(store_dir), env=secrets)
    except NixbuildError as exc:
        raise explain_build_error(exc, lock, name, image_spec, link) from None
    layout_a = OciLayout(local)
    layout_b = _rebased(second, store_dir, work)
    report = compare(layout_a, layout_b)
    digest_b = layout_b.manifest_descriptor().digest
    if not report.identical:
        problems.append("build in a second, empty store differs:\n" + report.render())
    return CheckResult(image=name, manifest_digest=layout_a.manifest_descriptor().digest,
                       second_store_digest=digest_b, ok=not problems, report="\n".join(problems) or None)


def check(project: Project) -> list[CheckResult]:
    lock = project.lock(frozen=True)
    project.seed(lock)
    results = []
    for name in project.images:
        work = Path(tempfile.mkdtemp(prefix="nixbuild-check-"))
        try:
            results.append(check_image(project, name, lock, work))
        finally:
            subprocess.run(["chmod", "-R", "u+w", str(work)], capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
    return results


def raise_if_failed(results: list[CheckResult]) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        raise CheckError("\n\n".join(f"image {r.image!r} is not reproducible:\n{r.report}" for r in failed),
                         fix="make the named files deterministic (timestamps, order, random content)")
