"""nixbuild against the Docker way, side by side: one run, one machine (issue 11's figures).

    .venv/bin/python bench/side_by_side.py

The peer is ../shared/peers/side-by-side.sh's, measured the same way: an mmdebstrap base of
debian_slim's package set, then ``buildah bud --layers`` on overlay storage, building the same
image as nixbuild does here (debian_slim 3.11 + apt_install jq file + env + workdir + one local
file). Rows:

- cold build: the peer's mmdebstrap + first ``bud``; nixbuild's first build in an empty chroot
  store (``--store``) with an empty cache (every .deb downloaded, every layer built);
- no-op rebuild and one-file edit: the peer's ``bud`` again; nixbuild's CLI build in the
  default store, after one build there that is not timed; the best of three no-ops, the median
  of three edits (each a new content of the one local file);
- image size: the peer's overlay storage (``du``); nixbuild's layers, uncompressed.

And nixbuild's own figures, each against what it is compared with in the same run:

- a Python step (``uv_pip_install`` of PYTHON_PACKAGES on the built image) against ``uv pip
  install`` of the same packages into a fresh venv with an empty uv cache (both download);
- ``nixbuild check --full`` (rebuild every layer twice, in this store and in an empty one,
  and compare digests) against the cold build; ``--full``, as a fresh CI runner would: a
  plain check skips the layers an earlier check on this machine proved, so its time would
  depend on what ran here before;
- a re-push of the unchanged image to a registry on 127.0.0.1: blobs and bytes uploaded;
- Nix store bytes (the image's closure) per image byte (compressed and uncompressed);
- ``--compression zstd``: the time to recompress the built image's layers, and their size
  against gzip's.

Needs buildah, mmdebstrap and docker-registry (installed with apt-get when missing, as the
peer script does). Prints one table; ratios are nixbuild/peer, lower is better.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import scratch, timed
from uv import find_uv_bin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from nixbuild.debian import slim  # noqa: E402
from tests.servers import running_registry  # noqa: E402

# nixbuild's debian_slim 3.11 Debian packages, for the peer's mmdebstrap (../shared/peers/
# side-by-side.sh names them itself: it still has python3-pip, which debian_slim left for
# the pip its pip/wheel/uv step installs).
PEER_PACKAGES = ",".join(slim.base_packages("3.11"))
PYTHON_PACKAGES = ("requests", "rich")
APP = """
import nixbuild
image = (nixbuild.Image.debian_slim(python_version="3.11")
         .apt_install("jq", "file")
         .env({"GREETING": "hi"})
         .workdir("/srv")
         .add_local_file("ctx/app.py", "/srv/app.py", copy=True))
"""
PYTHON_APP = APP + f"python_image = image.uv_pip_install{PYTHON_PACKAGES!r}\n"
DOCKERFILE = ("FROM localhost/peerbase:1\n"
              "RUN apt-get update && apt-get install -y jq file && rm -rf /var/lib/apt/lists/*\n"
              "ENV GREETING=hi\nWORKDIR /srv\nCOPY app.py /srv/app.py\n")
TARGETS = {"cold": 0.7, "noop": 0.5, "edit": 0.5, "size": 0.8}


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, args))}\n{proc.stderr[-3000:]}")
    return proc.stdout


def need(*commands: str) -> None:
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", *missing, env={"DEBIAN_FRONTEND": "noninteractive"})


def nixbuild(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    return run(sys.executable, "-m", "nixbuild", *args, cwd=cwd, env=env)


def fastest(action, runs: int = 3) -> float:
    """The best of a few runs of an action that should do nothing (the no-op rebuilds)."""
    return min(timed(action) for _ in range(runs))


def median_of_edits(source: Path, action, runs: int = 3) -> float:
    """The median time of ``action`` after each of a few one-line edits of ``source``."""
    times = []
    for edit in range(runs):
        source.write_text(f"X = {edit + 2}\n")
        times.append(timed(action))
    return sorted(times)[runs // 2]


def peer(work: Path) -> dict[str, float]:
    """The Docker way: mmdebstrap base, then buildah bud --layers (cold, no-op, edit)."""
    storage, runroot = work / "storage", work / "run"
    buildah = ["buildah", "--root", str(storage), "--runroot", str(runroot), "--storage-driver", "overlay"]
    bud = [*buildah, "bud", "--layers", "--isolation", "chroot", "--timestamp", "0", "-t", "localhost/peer:1",
           str(work / "ctx")]
    env = {"SOURCE_DATE_EPOCH": "1700000000", "BUILDAH_ISOLATION": "chroot"}
    (work / "ctx").mkdir()
    (work / "ctx" / "app.py").write_text("X = 1\n")
    (work / "ctx" / "Dockerfile").write_text(DOCKERFILE)
    try:
        base = timed(lambda: run("mmdebstrap", "--variant=minbase", f"--include={PEER_PACKAGES}", "bookworm",
                                 work / "base.tar", env=env))
        container = run(*buildah, "from", "scratch").strip()
        run(*buildah, "add", container, work / "base.tar", "/")
        run(*buildah, "commit", "-q", "--timestamp", "0", container, "localhost/peerbase:1")
        run(*buildah, "rm", container)
        cold = base + timed(lambda: run(*bud, env=env))
        noop = fastest(lambda: run(*bud, env=env))
        edit = median_of_edits(work / "ctx" / "app.py", lambda: run(*bud, env=env))
        size = int(run("du", "-sb", storage / "overlay").split()[0])
    finally:
        subprocess.run([*buildah, "rm", "-a"], capture_output=True)
        subprocess.run(["umount", "-R", str(storage / "overlay")], capture_output=True)
    return {"cold": cold, "noop": noop, "edit": edit, "size": size}


def layout_of(app_dir: Path, image: str = "image") -> Path:
    return (app_dir / ".nixbuild" / image).resolve()


def blobs(layout: Path) -> list[tuple[str, Path]]:
    """(media type, blob) of each layer of an OCI layout's image."""
    blob = lambda digest: layout / "blobs" / "sha256" / digest.split(":", 1)[1]  # noqa: E731
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(index["manifests"][0]["digest"]).read_text())
    return [(layer["mediaType"], blob(layer["digest"])) for layer in manifest["layers"]]


def uncompressed_size(layout: Path) -> int:
    total = 0
    for _, path in blobs(layout):
        with gzip.open(path) as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
    return total


def closure_size(store_path: Path) -> int:
    info = json.loads(run("nix", "--extra-experimental-features", "nix-command", "path-info", "--json",
                          "--closure-size", store_path))
    entries = info.values() if isinstance(info, dict) else info
    return max(e["closureSize"] for e in entries)


def kept_size(store_path: Path) -> int:
    """What the store keeps for the image beyond its closure: the image, its layers and the
    layers' trees (nix/builders/layer_tree.py), which the build uses and a GC keeps while
    derivations are rooted. Fetched inputs (.debs, wheels) are not counted: a peer keeps those
    in its package cache too."""
    drv = run("nix-store", "--query", "--deriver", os.path.realpath(store_path)).strip()
    paths = run("nix-store", "--query", "--requisites", "--include-outputs", drv).split()
    made = [p for p in paths if not p.endswith(".drv") and re.search(r"^/nix/store/[a-z0-9]{32}-(layer-\d+-|image-)", p)]
    return sum(int(n) for n in run("nix-store", "--query", "--size", *made).split())


def ours(work: Path) -> dict[str, float]:
    """nixbuild: cold in an empty chroot store and cache; no-op and edit in the default store."""
    (work / "ctx").mkdir()
    (work / "ctx" / "app.py").write_text("X = 1\n")
    app = work / "app.py"
    app.write_text(APP)
    nixbuild("lock", app, cwd=work)
    cold_env = {"NIXBUILD_CACHE_DIR": str(work / "cold-cache")}
    cold = timed(lambda: nixbuild("build", app, "--store", work / "cold-store", cwd=work, env=cold_env))
    subprocess.run(["chmod", "-R", "u+w", str(work / "cold-store")], capture_output=True)
    shutil.rmtree(work / "cold-store", ignore_errors=True)
    nixbuild("build", app, cwd=work)
    noop = fastest(lambda: nixbuild("build", app, cwd=work))
    edit = median_of_edits(work / "ctx" / "app.py", lambda: nixbuild("build", app, cwd=work))
    layout = layout_of(work)
    compressed = sum(path.stat().st_size for _, path in blobs(layout))
    size = uncompressed_size(layout)
    zstd = timed(lambda: nixbuild("build", app, "--compression", "zstd", cwd=work))
    zstd_compressed = sum(path.stat().st_size for _, path in blobs(layout_of(work)))
    # The gzip image again, for check and push, built by its derivation (an edit's image is
    # imported by the CLI and has no deriver, which kept_size follows to the layers' trees).
    nixbuild("build", app, cwd=work, env={"NIXBUILD_NO_NOOP": "1"})
    layout = layout_of(work)
    check = timed(lambda: nixbuild("check", "--full", app, cwd=work))
    store = closure_size(layout)
    kept = kept_size(layout)
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as root, running_registry(Path(root)) as address:
        destination = f"docker://{address}/bench/side-by-side:1"
        nixbuild("push", app, destination, cwd=work)
        again = json.loads(nixbuild("push", app, destination, "--json", cwd=work))["push"]
    uploaded = set(again["uploaded"])
    uploaded_bytes = sum(path.stat().st_size for _, path in blobs(layout) if f"sha256:{path.name}" in uploaded)
    return {"cold": cold, "noop": noop, "edit": edit, "size": size, "check": check,
            "store_per_byte": store / compressed, "store_per_uncompressed_byte": store / size,
            "kept_per_uncompressed_byte": kept / size,
            "repush_blobs": len(uploaded), "repush_bytes": uploaded_bytes,
            "zstd": zstd, "zstd_compressed": zstd_compressed, "compressed": compressed}


def python_step(work: Path) -> tuple[float, float]:
    """nixbuild's Python layer on the built image against ``uv pip install`` into a fresh venv
    (empty uv cache): both download and install PYTHON_PACKAGES. The lock is made first."""
    (work / "ctx").mkdir()
    (work / "ctx" / "app.py").write_text("X = 1\n")
    app = work / "app.py"
    app.write_text(PYTHON_APP)
    nixbuild("lock", app, cwd=work)
    nixbuild("build", app, "--image", "image", cwd=work)
    cache = {"NIXBUILD_CACHE_DIR": str(work / "cache")}
    layer = timed(lambda: nixbuild("build", app, "--image", "python_image", cwd=work, env=cache))
    uv = [find_uv_bin()]
    venv = work / "venv"
    env = {"UV_CACHE_DIR": str(work / "uv-cache")}
    peer_time = timed(lambda: (run(*uv, "venv", "-q", "--python", "/usr/bin/python3.11", venv, env=env),
                               run(*uv, "pip", "install", "-q", "--python", venv / "bin" / "python",
                                   *PYTHON_PACKAGES, env=env)))
    return layer, peer_time


def main() -> None:
    need("buildah", "mmdebstrap", "docker-registry")
    # nixbuild as an installed command runs: its bytecode cached (this machine's environment
    # may say not to write it, which would make every run compile every module again).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    with scratch("bench-peer-") as p, scratch("bench-nixbuild-") as n, scratch("bench-python-") as py:
        theirs = peer(p)
        mine = ours(n)
        layer, uv_time = python_step(py)
    rows = [("cold build", "cold", "s"), ("no-op rebuild", "noop", "s"),
            ("one-file edit", "edit", "s"), ("image size (uncompressed)", "size", "MB")]
    print(f"{'':28} {'peer':>10} {'nixbuild':>10} {'ratio':>7} {'target':>7}")
    for label, key, unit in rows:
        a, b = theirs[key], mine[key]
        shown = (lambda v: f"{v / 1e6:8.0f}MB") if unit == "MB" else (lambda v: f"{v:9.2f}s")
        print(f"{label:28} {shown(a):>10} {shown(b):>10} {b / a:7.2f} {'<= ' + str(TARGETS[key]):>7}")
    print(f"{'Python step (uv_pip_install)':28} {uv_time:9.2f}s {layer:9.2f}s {layer / uv_time:7.2f}"
          f"   (peer: uv pip install into a fresh venv, empty cache)")
    print(f"{'nixbuild check --full':28} {mine['cold']:9.2f}s {mine['check']:9.2f}s {mine['check'] / mine['cold']:7.2f}"
          f"   (against nixbuild's cold build)")
    print(f"re-push of the unchanged image: {mine['repush_blobs']} blobs, {mine['repush_bytes']} bytes uploaded")
    print(f"Nix store bytes per image byte: {mine['store_per_byte']:.2f} (compressed), "
          f"{mine['store_per_uncompressed_byte']:.2f} (uncompressed); with the layers' trees the "
          f"build keeps: {mine['kept_per_uncompressed_byte']:.2f} per uncompressed byte")
    print(f"--compression zstd: {mine['zstd']:.2f}s to recompress the layers; {mine['zstd_compressed'] / 1e6:.0f} MB "
          f"against gzip's {mine['compressed'] / 1e6:.0f} MB ({mine['zstd_compressed'] / mine['compressed']:.2f})")


if __name__ == "__main__":
    main()
