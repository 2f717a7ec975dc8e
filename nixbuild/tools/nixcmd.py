"""The Nix commands nixbuild runs, with the options every call needs on this kind of machine.

- ``sandbox = true``: Debian's nix.conf turns the sandbox off; hermeticity is the product.
- ``substituters``/``trusted-public-keys``: the machine's caches and nixbuild's own
  (``NIXBUILD_SUBSTITUTERS``), only those that answered this run's probe (substituters.py);
  ``substitute=False`` (a rebuild that must not be served from a cache) passes none.
- ``max-jobs``: the cores plus one (:func:`max_jobs`); Debian's default of 1 serialised every
  build and fetch.
- ``ssl-cert-file``: the host CA bundle, so fetches work behind an intercepting proxy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nixbuild.errors import BuildError, ToolMissing
from nixbuild.sizes import human_size
from nixbuild.store import validity
from nixbuild.tools import substituters

NIX_DIR = Path(__file__).resolve().parents[2] / "nix"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def nix_dir() -> Path:
    """The nix/ library: beside the package in a checkout, or NIXBUILD_NIX_DIR. Its builders
    read ``../nixbuild/oci/rootfs.py`` (shared with the CLI), so it must sit in a checkout."""
    path = Path(os.environ.get("NIXBUILD_NIX_DIR", NIX_DIR))
    fix = "set NIXBUILD_NIX_DIR to the nix/ folder of a nixbuild checkout"
    if not (path / "default.nix").exists():
        raise ToolMissing(f"nixbuild's Nix library is not at {path}", fix=fix)
    if not (path.parent / "nixbuild" / "oci" / "rootfs.py").exists():
        raise ToolMissing(f"{path} is not beside nixbuild/oci/rootfs.py, which its builders share", fix=fix)
    return path


def require(tool: str, package: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise ToolMissing(f"`{tool}` is not installed", fix=f"apt-get install {package}")
    return found


# A GPU builder says what it has, e.g. NIXBUILD_SYSTEM_FEATURES="cuda gpu-h100": gpu= steps
# require those features, so Nix builds them only where they are advertised.
SYSTEM_FEATURES_ENV = "NIXBUILD_SYSTEM_FEATURES"
# Remote builders, as Nix's `builders` option (`--builders` of build, run, check, push): machines-file
# lines separated by `;`, or `@FILE`. Unset: the machines file and nix.conf `builders` apply.
BUILDERS_ENV = "NIXBUILD_BUILDERS"


def cache_options(substitute: bool = True) -> list[str]:
    """The substituters and trusted keys of this run (none with ``substitute=False``)."""
    if not substitute:
        return ["--option", "substituters", ""]
    found = substituters.caches()
    return ["--option", "substituters", " ".join(found.substituters),
            "--option", "trusted-public-keys", " ".join(found.trusted_public_keys)]


def max_jobs() -> int:
    """One build slot more than the cores: a layer's compression (tree_layer.py) runs beside
    the steps above it, and with a slot each for the base's and a Python step's compression
    the next step's tree waited for one of them to end (1.3 s of a cold debian_slim build on
    two cores)."""
    return (os.cpu_count() or 1) + 1


def common_options(store: str | None = None, substitute: bool = True) -> list[str]:
    opts = ["--option", "sandbox", "true", *cache_options(substitute), "--max-jobs", str(max_jobs())]
    if os.path.exists(HOST_CA_BUNDLE):
        opts += ["--option", "ssl-cert-file", HOST_CA_BUNDLE]
    if builders := os.environ.get(BUILDERS_ENV):
        opts += ["--builders", builders]
    features = os.environ.get(SYSTEM_FEATURES_ENV, "").split()
    if features:
        opts += ["--option", "extra-system-features", " ".join(features)]
        if "cuda" in features:
            opts += ["--option", "pre-build-hook", str(nix_dir() / "gpu-hook.sh")]
    if store:
        opts += ["--store", store]
    return opts


_FOD_MISMATCH = re.compile(r"hash mismatch in fixed-output derivation '([^']+)':\s*specified:\s*(\S+)\s*got:\s*(\S+)")


_REMOTE_BUILD = re.compile(r"building '/nix/store/[a-z0-9]{32}-([^']+)\.drv' on '([^'?]+)")


def remote_builds(stderr: str) -> list[tuple[str, str]]:
    """(derivation name, machine) of each build Nix's log says ran on a remote builder."""
    return _REMOTE_BUILD.findall(stderr)


def build(spec_file: Path, *, out_link: Path | None = None, store: str | None = None,
          check: bool = False, attr: str | None = None, env: dict[str, str] | None = None,
          substitute: bool = True, remote: Callable[[str, str], None] | None = None,
          progress: Callable[[str], None] | None = None, sizes: Mapping[str, int] | None = None,
          meter: Callable[[BuildCounts], None] | None = None) -> Path:
    """``nix-build nix/image.nix --arg specFile SPEC``; returns the output store path.
    ``env`` adds to nix-build's environment (where fixed-output builds read impure variables);
    ``substitute=False``: build what is not in the store, never take it from a cache;
    ``remote(name, machine)`` is told of each derivation built on a remote builder;
    ``progress`` of each layer as it starts, ``meter`` of the counts (:class:`BuildLog`, which
    ``sizes`` tells each pinned file's size)."""
    cmd = [require("nix-build", "nix-bin"), str(nix_dir() / "image.nix"), "--arg", "specFile", str(spec_file)]
    cmd += common_options(store, substitute)
    if attr:
        cmd += ["-A", attr]
    cmd += ["--out-link", str(out_link)] if out_link else ["--no-out-link"]
    if check:
        cmd.append("--check")
    log = BuildLog(progress, sizes, meter)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, **(env or {})}) as proc:
        try:
            for line in proc.stderr:  # stdout is one line (the output path): it cannot fill its pipe
                log.feed(line)
            stdout = proc.stdout.read()
        except BaseException:  # Ctrl-C (SystemExit): nix-build goes too, as subprocess.run does
            proc.kill()
            raise
    stderr = "".join(log.lines)
    if proc.returncode != 0:
        raise build_error(stderr, proc.returncode)
    if remote is not None:
        for name, machine in remote_builds(stderr):
            remote(name, machine)
    return Path(stdout.strip().splitlines()[-1])


TOOLCHAIN_LINE = "building the toolchain that runs the layer builders"


class ToolchainBuild:
    """``nix-build nix/toolchain.nix --arg specFile SPEC`` in the background: the toolchain an
    image's build then finds built. ``progress`` gets TOOLCHAIN_LINE when Nix starts building
    it (not when it was there already). A failure shows in the image's build, which builds
    it again."""

    def __init__(self, spec_file: Path, store: str | None, progress: Callable[[str], None]):
        cmd = [require("nix-build", "nix-bin"), str(nix_dir() / "toolchain.nix"), "--arg", "specFile",
               str(spec_file), *common_options(store), "--no-out-link"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.watcher = threading.Thread(target=self._watch, args=(progress,), daemon=True)
        self.watcher.start()

    def _watch(self, progress: Callable[[str], None]) -> None:
        for line in self.proc.stderr:
            building = _BUILDING.match(line.rstrip("\n"))
            if building is not None and building.group(1).startswith(TOOLS_PREFIX):
                progress(TOOLCHAIN_LINE)

    def wait(self) -> str | None:
        """The toolchain's store path, once built; None when its build failed."""
        out = self.proc.stdout.read().strip()
        self.proc.wait()
        self.watcher.join()
        return out if self.proc.returncode == 0 and out else None

    def stop(self) -> None:
        self.proc.terminate()
        self.wait()


# The store name of a layer derivation (nix/default.nix): layer-<layer>-<step>-<kind>, with
# -standalone or -python for debian_slim's second and third layers (nixbuild/plan.py) and
# -forced-<nonce> when force_build makes it build again; -zstd: its zstd recompression
# (--compression zstd).
LAYER_NAME = (r"layer-(?P<layer>\d+)-(?P<step>\d+)-(?P<kind>[a-z_]+)(?P<part>-standalone|-python)?"
              r"(?:-forced-[0-9a-f]+)?(?P<zstd>-zstd)?(?P<tree>-tree)?")
# nix/bootstrap.nix's derivations (the pinned Python and what it needs): neither a layer nor a
# pinned file.
TOOLS_PREFIX = "nixbuild-"
_TO_BUILD = re.compile(r"^(?:these \d+ derivations|this derivation) will be built:")
_BUILDING = re.compile(r"^building '/nix/store/[a-z0-9]{32}-([^']+)\.drv'")
_LAYER = re.compile(rf"^{LAYER_NAME}$")
# "these 3 paths will be fetched (0.50 MiB download, 2.00 MiB unpacked):" (substitutions)
_TO_FETCH = re.compile(r"^(?:these (\d+) paths|this path) will be fetched \(([\d.]+) MiB download")


@dataclass
class BuildCounts:
    """How far a nix-build is: layers (and the image) built, pinned files downloaded (a
    fetch counts once it starts; bytes as the lock gives each file's size)."""

    layers_done: int = 0
    layers: int = 0
    files_done: int = 0
    files: int = 0
    bytes_done: int = 0
    bytes: int = 0


class BuildLog:
    """What nix-build is doing, from its log as it streams: the layers and the image it builds,
    one line each with how far it is (``[3/5] layer 2: step 1 apt_install``); the downloads
    (pinned .debs, wheels, archives: fixed-output fetches) as a line with their count and size,
    then one at each quarter done; paths taken from a binary cache as one line with their size.
    ``sizes`` gives a pinned file's size by store name (the lock's); ``meter`` is told the
    counts at every change (a terminal's progress bars)."""

    def __init__(self, progress: Callable[[str], None] | None, sizes: Mapping[str, int] | None = None,
                 meter: Callable[[BuildCounts], None] | None = None):
        self.progress = progress or (lambda _message: None)
        self.sizes = sizes or {}
        self.meter = meter or (lambda _counts: None)
        self.lines: list[str] = []
        self.listing = False
        self.planned: list[str] = []
        self.counts = BuildCounts()
        self.quarter = 0

    def feed(self, line: str) -> None:
        self.lines.append(line)
        text = line.strip()
        if _TO_BUILD.match(text):
            self.listing = True
            return
        if self.listing and text.startswith("/nix/store/") and text.endswith(".drv"):
            self.planned.append(text[44:-4])
            return
        self.listing = False
        if cached := _TO_FETCH.match(text):
            count = cached[1] or "1"
            self.progress(f"taking {count} path{'s' if count != '1' else ''} from binary caches ({cached[2]} MiB)")
            return
        building = _BUILDING.match(text)
        if building is None:
            return
        name, counts = building.group(1), self.counts
        if name.startswith(TOOLS_PREFIX):
            self.progress(TOOLCHAIN_LINE)
            return
        if not counts.layers:
            fetches = [n for n in self.planned if not _is_step(n) and not n.startswith(TOOLS_PREFIX)]
            counts.layers, counts.files = sum(map(_is_step, self.planned)), len(fetches)
            counts.bytes = sum(self.sizes.get(n, 0) for n in fetches)
        if _is_step(name):
            counts.layers_done += 1
            self.progress(f"[{counts.layers_done}/{counts.layers}] {describe_derivation(name)}")
        else:
            if not counts.files_done:
                self.progress(f"downloading {counts.files} pinned file{'s' if counts.files != 1 else ''}"
                              + (f" ({human_size(counts.bytes)})" if counts.bytes else ""))
            counts.files_done += 1
            counts.bytes_done += self.sizes.get(name, 0)
            if counts.files >= 8 and counts.files_done * 4 >= (self.quarter + 1) * counts.files:
                self.quarter = counts.files_done * 4 // counts.files
                self.progress(f"downloaded {counts.files_done}/{counts.files} pinned files"
                              + (f" ({human_size(counts.bytes_done)} of {human_size(counts.bytes)})"
                                 if counts.bytes else ""))
        self.meter(counts)


def _is_step(name: str) -> bool:
    return bool(_LAYER.match(name)) or name.startswith("image-")


def describe_derivation(name: str) -> str:
    """``layer-3-1-apt_install`` -> ``layer 3: step 1 apt_install``; ``image-web`` -> ``image web``;
    a layer's tree (``-tree``: what the steps above stack, nix/builders/layer_tree.py) ->
    ``..., as a tree``."""
    layer = _LAYER.match(name)
    if layer:
        part = layer["part"]
        return (f"layer {layer['layer']}: step {layer['step']} {layer['kind']}" + (f" ({part[1:]})" if part else "")
                + (" to zstd" if layer["zstd"] else "")
                + (", as a tree" if layer["tree"] else ""))
    return name.replace("-", " ", 1)


class HashMismatch(BuildError):
    def __init__(self, drv: str, specified: str, got: str):
        self.drv, self.specified, self.got = drv, specified, got
        super().__init__(f"downloaded bytes of {drv} do not match the lock (lock: {specified}, got: {got})",
                         fix="the mirror serves a different file than the one locked: point the mirror "
                             "configuration at a snapshot that has it, or re-lock with `nixbuild lock --update`")


class NotDeterministic(BuildError):
    def __init__(self, path: str, log: str):
        self.path = path
        super().__init__(f"rebuilding {path} gave different bytes\n{log}")


class NoGpuBuilder(BuildError):
    def __init__(self, features: str):
        super().__init__(
            f"no Nix builder here advertises the system features {{{features}}} this GPU step requires",
            fix=f"build on a machine with the GPU and set {SYSTEM_FEATURES_ENV}=\"{features.replace(',', ' ')}\", "
                "or add a remote builder that advertises them (machines file, nix.conf `builders` or "
                f"`--builders`); `nixbuild builders --gpu TYPE` prints what such a builder needs")


def build_error(stderr: str, code: int) -> BuildError:
    missing = re.search(r"a '[^']+' with features \{([^}]*)\} is required to build '([^']+)'", stderr)
    if missing:
        error = NoGpuBuilder(missing.group(1))
        error.message += f" (building {missing.group(2)})"
        return error
    mismatch = _FOD_MISMATCH.search(stderr)
    if mismatch:
        return HashMismatch(*mismatch.groups())
    differs = re.search(r"output '([^']+)' of '[^']+' (?:may not be deterministic|differs)", stderr)
    if code == 104 or differs:
        return NotDeterministic(differs.group(1) if differs else "?", _tail(stderr))
    return BuildError(f"nix-build failed (exit {code}):\n{_tail(stderr)}",
                      fix="read the builder log above; `nix log <drv>` shows a whole log")


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def store_name(filename: str) -> str:
    """The store name nix/fetch.nix ``storeName`` gives a file: Debian versions carry ``~``
    and ``:``, which store names do not allow."""
    return filename.replace("~", "_").replace(":", "_").replace("%", "_")


def add_fixed_recursive(path: Path, store: str | None = None) -> str:
    """``nix-store --add-fixed --recursive sha256 PATH`` -> store path."""
    return add_fixed(path, store, recursive=True)


def add_fixed(path: Path, store: str | None = None, *, recursive: bool = False) -> str:
    """``nix-store --add-fixed [--recursive] sha256 PATH`` -> store path (named as the file)."""
    (added,) = add_fixed_files([path], store, recursive=recursive)
    return added


ARGS_AT_ONCE = 500  # paths per nix-store call: far below the kernel's limit on arguments


def add_fixed_files(paths: list[Path], store: str | None = None, *, recursive: bool = False) -> list[str]:
    """``nix-store --add-fixed [--recursive] sha256 PATH...`` -> their store paths, in order
    (one call per ARGS_AT_ONCE paths)."""
    added: list[str] = []
    for start in range(0, len(paths), ARGS_AT_ONCE):
        chunk = paths[start:start + ARGS_AT_ONCE]
        cmd = [require("nix-store", "nix-bin"), "--add-fixed", *(["--recursive"] if recursive else []), "sha256",
               *map(str, chunk), *(["--store", store] if store else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            what = chunk[0] if len(chunk) == 1 else f"{len(chunk)} files"
            raise BuildError(f"nix-store --add-fixed {what} failed: {proc.stderr.strip()}")
        added += proc.stdout.split()
    return added


def nar_hash(path: Path) -> str:
    """The NAR sha256 (nix base32) of a directory, as a recursive fixed-output hash."""
    proc = subprocess.run([require("nix-hash", "nix-bin"), "--type", "sha256", "--base32", str(path)],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def is_valid(store_path: str, store: str | None = None) -> bool:
    if store is None:
        return validity.valid([store_path], require("nix-store", "nix-bin"))
    cmd = [require("nix-store", "nix-bin"), "--check-validity", store_path, "--store", store]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def fixed_path(name: str, nar_hash: str) -> str:
    """The store path of a recursive sha256 fixed-output path (as ``nix-store --add-fixed``
    would name it), computed without the content."""
    proc = subprocess.run([require("nix-store", "nix-bin"), "--print-fixed-path", "--recursive", "sha256",
                           nar_hash, name], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"nix-store --print-fixed-path {name} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def substitute(store_path: str, store: str | None = None) -> bool:
    """Whether ``store_path`` is in the store, taken from this run's binary caches if needed."""
    if is_valid(store_path, store):
        return True
    if not substituters.caches().substituters:
        return False
    cmd = [require("nix-store", "nix-bin"), "--realise", store_path, *cache_options()]
    if store:
        cmd += ["--store", store]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def instantiate(spec_file: Path, store: str | None = None) -> str:
    """``nix-instantiate nix/image.nix --arg specFile SPEC``: the image's derivation."""
    return derivations(spec_file, store)[-1]


def derivations(spec_file: Path, store: str | None = None, attr: str | None = None) -> list[str]:
    """The derivations of the image (or of ``attr``, e.g. ``layers``: one per layer, in order)."""
    cmd = [require("nix-instantiate", "nix-bin"), str(nix_dir() / "image.nix"), "--arg", "specFile", str(spec_file)]
    if attr:
        cmd += ["-A", attr]
    if store:
        cmd += ["--store", store]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"nix-instantiate failed:\n{_tail(proc.stderr)}")
    return proc.stdout.split()


def check_derivations(drvs: list[str], *, store: str | None = None, env: dict[str, str] | None = None) -> None:
    """Build ``drvs`` again and compare with the outputs the store has (``--check``); raises
    :class:`NotDeterministic` naming the first output that differs. An output the store no
    longer has (a layer's tree is no part of the image's closure: a garbage collection takes
    it) is built first, as ``--check`` has nothing to compare with otherwise."""
    gone = [drv for drv, out in output_paths(drvs, store).items() if not is_valid(out, store)]
    if gone:
        _realise(gone, store, env)
    _realise([*drvs, "--check"], store, env)


def _realise(args: list[str], store: str | None, env: dict[str, str] | None) -> None:
    cmd = [require("nix-store", "nix-bin"), "--realise", *args, *common_options(store)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise build_error(proc.stderr, proc.returncode)


def query(*args: str, store: str | None = None) -> list[str]:
    """``nix-store --query ARGS`` (in ``store``): the paths it prints."""
    cmd = [require("nix-store", "nix-bin"), *(["--store", store] if store else []), "--query", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"nix-store --query {' '.join(args[:1])} failed:\n{_tail(proc.stderr)}")
    return proc.stdout.split()


def requisites(paths: list[str], store: str | None = None) -> list[str]:
    """The closure of ``paths`` (every path they refer to, themselves included)."""
    return query("--requisites", *paths, store=store)


def output_path(drv: str, store: str | None = None) -> str:
    """The output path of a derivation (built or not)."""
    return query("--outputs", drv, store=store)[0]


def output_paths(drvs: list[str], store: str | None = None) -> dict[str, str]:
    """The output path of each derivation (nixbuild's have one), in one query."""
    return dict(zip(drvs, query("--outputs", *drvs, store=store))) if drvs else {}


def instantiate_path(expr_file: Path, args: dict[str, str], attr: str) -> str:
    """Evaluate ``attr`` of a Nix file to its output path, without building."""
    cmd = [require("nix-instantiate", "nix-bin"), "--eval", "--json", str(expr_file), "-A", attr]
    for k, v in args.items():
        cmd += ["--arg", k, v]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"nix-instantiate failed:\n{_tail(proc.stderr)}")
    return proc.stdout.strip().strip('"')
