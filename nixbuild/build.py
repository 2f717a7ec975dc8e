"""From an app file to built images: load -> lock -> plan -> nix-build.

A build locks what is not locked yet (as ``uv run`` does) unless ``frozen``; an unchanged
app with its lock goes straight to Nix with no network. Each image's output is a GC root
link ``.nixbuild/<image>`` beside the app, pointing at its OCI layout in the store. With a
chroot store (``store=DIR``, ``nix-build --store DIR``) the out-link is
``.nixbuild/store-<key>/<image>`` (a root in that store) and ``<image>.oci`` beside it is a
readable copy of the layout (store/chroot.py); nixbuild's own history roots are the default
store's only.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from nixbuild import chain, locking, noop, plan, rebuild, seed
from nixbuild.python import git_source, index_login
from nixbuild.registry import blobs as registry_blobs
from nixbuild.store import pinned_debs, prefetch
from nixbuild.local import layer as local_layer, nar as local_nar, tree as local_tree
from nixbuild.tools import nixcmd, nixdaemon
from nixbuild.python import sdist_hints
from nixbuild.api.image import Image
from nixbuild.api.secret import resolve_all
from nixbuild.errors import BuildError, NixbuildError, locate
from nixbuild.expand import expand_with_stages
from nixbuild.loader import load_images, pick
from nixbuild.lock import LOCK_NAME, BootstrapLock, Lock, OutputLock, exclusive, read_lock, write_atomic, write_lock
from nixbuild.oci.layout import OciLayout
from nixbuild.settings import Settings
from nixbuild.store import chroot, roots

Progress = Callable[[str], None]
Meter = Callable[[nixcmd.BuildCounts], None]


class BuiltImage(BaseModel):
    name: str
    store_path: str
    link: str
    layout: str  # where this machine reads the OCI layout (the store path, or a chroot store's copy)
    manifest_digest: str
    size: int  # bytes of the layer blobs plus config, as a push would upload them
    layers: int


@dataclass
class Project:
    """An app file, the images it defines and where its lock and outputs live."""

    app: Path
    images: dict[str, Image]
    lock_path: Path
    settings: Settings
    # Relative local paths resolve against the working directory, as in Modal.
    cwd: Path = field(default_factory=Path.cwd)
    store: str | None = None  # a chroot store DIR (nix-build --store DIR); None: the default store
    # Images of the app nixbuild cannot build, and why (Project.load): every command works on
    # the others, then reports these and exits non-zero.
    skipped: dict[str, NixbuildError] = field(default_factory=dict)
    # Every image the app defines, also those --image left out: the lock keeps their pins.
    defined: frozenset[str] = frozenset()
    # The chains a COPY --from of an image copies out of (nixbuild.expand), by name: locked,
    # seeded and built like images, never reported or kept as one.
    stages: dict[str, Image] = field(default_factory=dict)
    _trees: dict[str, dict[int, local_tree.LocalTree]] = field(default_factory=dict, init=False, repr=False)
    # One per run of the CLI: layers that force_build marks are built again once per build.
    _nonce: str = field(default_factory=lambda: uuid.uuid4().hex, init=False, repr=False)
    # How the image's layers are compressed: gzip, or zstd (recompressed for the image only).
    compression: str = "gzip"
    _roots: dict[str, Path] = field(default_factory=dict, init=False, repr=False)  # history roots made
    # Local-files layers the CLI made (nixbuild/local/layer.py), by the layer's spec as JSON.
    _made: dict[str, plan.Seed] = field(default_factory=dict, init=False, repr=False)
    # What each made layer (image, position) was made from, for the one-file edit's stamp.
    _makers: dict[tuple[str, int], dict] = field(default_factory=dict, init=False, repr=False)
    _specs: dict[str, Path] = field(default_factory=dict, init=False, repr=False)  # spec files of built images
    # The toolchain's early build, and where to note its output (see _start_toolchain).
    _toolchain: tuple[nixcmd.ToolchainBuild, Path] | None = field(default=None, init=False, repr=False)

    @classmethod
    def load(cls, app: Path, *, image: str | None = None, lock_path: Path | None = None,
             settings: Settings | None = None, store: Path | None = None) -> "Project":
        """The app's images, each checked to be one nixbuild builds. An image it cannot build
        is left out and kept in ``skipped`` with the reason, so the others still build; when
        none is left (or the one ``image`` names cannot be built), that reason is the error."""
        app = app.resolve()
        cwd = Path.cwd()
        everything = load_images(app)
        loaded = pick(everything, image, app)
        images, skipped, stages = {}, {}, {}
        for name, img in loaded.items():
            try:
                images[name], used = expand_with_stages(name, img, cwd=cwd)
                for stage, chained in used.items():
                    chain.require_supported(stage, chained)
                chain.require_supported(name, images[name])
                stages.update(used)
            except NixbuildError as exc:
                exc.place = locate(exc, {name: images.get(name, img)})  # the step's line, while the image is at hand
                images.pop(name, None)
                skipped[name] = exc
        if not images:
            raise next(iter(skipped.values()))
        return cls(app=app, images=images, lock_path=(lock_path or app.parent / LOCK_NAME).resolve(),
                   settings=settings or Settings.from_env(), cwd=cwd,
                   store=str(store.resolve()) if store is not None else None, skipped=skipped,
                   defined=frozenset(everything) | frozenset(stages), stages=stages)

    @property
    def chains(self) -> dict[str, Image]:
        """Every chain that is locked and built: the stages, then the images."""
        return {**self.stages, **self.images}

    def stages_of(self, name: str) -> list[str]:
        """The stages image (or stage) ``name`` copies from, directly or not, deepest first."""
        out: list[str] = []
        for step in self.chains[name].steps:
            if step.kind == "copy_from" and step.image not in out:
                out += [s for s in self.stages_of(step.image) if s not in out] + [step.image]
        return out

    @property
    def out_dir(self) -> Path:
        return self.app.parent / ".nixbuild"

    def image_link(self, name: str) -> Path:
        """The out-link of image ``name`` (a GC root of the store it was built in)."""
        if self.store is None:
            return self.out_dir / name
        key = hashlib.sha256(self.store.encode()).hexdigest()[:12]
        return self.out_dir / f"store-{key}" / name

    def layout(self, name: str, path: Path) -> OciLayout:
        """The OCI layout of image ``name`` built at ``path``, readable on this machine."""
        if self.store is None:
            return OciLayout(path)
        return chroot.rebased_layout(path, self.store, self.image_link(name).with_name(f"{name}.oci"))

    def lock(self, *, update: bool = False, frozen: bool = False, progress: Progress = lambda _m: None,
             on_bootstrap: Callable[[BootstrapLock], None] = lambda _b: None) -> Lock:
        """The lock for these images: read, its pins verified against their signed index
        snapshots, and re-resolved where stale (written atomically, under the lock's flock).
        ``on_bootstrap``: told the toolchain's pins as soon as they are known (and checked)."""
        for name in self.chains:
            self.local_trees(name)  # a missing local path fails before anything is locked
        with exclusive(self.lock_path, progress):
            new = self._lock(update=update, frozen=frozen, progress=progress, on_bootstrap=on_bootstrap)
        locking.warn_python_micro(self.images, new)
        return new

    def _lock(self, *, update: bool, frozen: bool, progress: Progress,
              on_bootstrap: Callable[[BootstrapLock], None]) -> Lock:
        current = read_lock(self.lock_path)
        if current is not None and not update:
            locking.verify_pins(self.chains, current, self.settings, on_bootstrap)
        zstd = self.compression == "zstd"
        if not update and not locking.stale(self.chains, current, self.defined, zstd):
            return current
        if frozen:
            locking.require_fresh(self.chains, current, self.lock_path, self.defined, zstd)
        new = locking.lock(self.chains, current, self.settings, update=update, zstd=zstd, progress=progress,
                           on_bootstrap=on_bootstrap)
        if current is not None:
            # Images not loaded this time (--image) keep their pins; pinned step outputs stay
            # (each is only used while the step and everything below it are unchanged).
            kept = {k: v for k, v in current.images.items() if k not in new.images}
            carried = {k: v.model_copy(update={"outputs": current.images[k].outputs}) if k in current.images else v
                       for k, v in new.images.items()}
            new = new.model_copy(update={"images": {**kept, **carried}})
        if new != current:
            write_lock(self.lock_path, new)
            progress(f"{'wrote' if current is None else 'updated'} the lock {self.lock_path}")
        return new

    def local_trees(self, name: str) -> dict[int, local_tree.LocalTree]:
        """The local files of each add_local_* step of image ``name``, hashed once."""
        if name not in self._trees:
            # add_local_python_source finds modules as the app's own imports do.
            with _on_sys_path(self.app.parent):
                self._trees[name] = {
                    index: local_tree.tree_of(step, cwd=self.cwd, where=chain.step_where(name, index, step),
                                              cache_dir=self.settings.cache_dir)
                    for index, step in enumerate(self.chains[name].steps) if isinstance(step, chain.LOCAL_KINDS)
                }
        return self._trees[name]

    def spec(self, name: str, lock: Lock, network: frozenset[int] = frozenset(),
             sandboxed: bool = False) -> plan.ImageSpec:
        """The spec of image (or stage) ``name``; its local-files layers are the ones the CLI
        made (``seed``), unless ``sandboxed``: then each is its derivation (``check``)."""
        stages = {stage: self.spec(stage, lock, sandboxed=sandboxed).layers for stage in dict.fromkeys(
            step.image for step in self.chains[name].steps if step.kind == "copy_from")}
        spec = plan.image_spec(name, self.chains[name], lock.images[name], lock.bootstrap, self.settings,
                               self.local_trees(name), network, stages=stages, nonce=self._nonce,
                               force_all=self.settings.force_build or self.settings.ignore_cache)
        if self.compression == "zstd":
            spec = spec.model_copy(update={"compression": plan.zstd_compression(lock.bootstrap, self.settings)})
        if sandboxed or not self._made:
            return spec
        layers = [self._made_layer(layer) for layer in spec.layers]
        return spec.model_copy(update={"layers": layers})

    def _made_layer(self, layer: plan.LayerSpec) -> plan.LayerSpec:
        made = self._made.get(layer.model_dump_json()) if isinstance(layer, plan.FilesLayer) else None
        return layer if made is None else layer.model_copy(update={"made": made})

    def make_file_layers(self, lock: Lock) -> None:
        """Make each local-files layer here, without a sandbox (nixbuild/local/layer.py), so
        that an edit starts no derivation for it. Not in a chroot store, nor for a forced
        layer: those are built by their derivation."""
        if self.store is not None:
            return
        tools = None
        for name in self.chains:
            spec = self.spec(name, lock, sandboxed=True)
            for index, layer in enumerate(spec.layers):
                if not isinstance(layer, plan.FilesLayer) or layer.nonce is not None:
                    continue
                if tools is None:
                    tools = local_layer.toolchain(plan.write_spec(spec, self.settings),
                                                  lock.bootstrap.model_dump_json(), self.settings.cache_dir)
                builder_spec = {"tree": local_nar.fixed_output_path(layer.tree.name, layer.tree.narHash),
                                "modes": layer.modes, "createdBy": layer.createdBy, "epoch": spec.epoch}
                seed_name = local_layer.store_name(index, layer.name)
                nar_hash = local_layer.made(seed_name, builder_spec, tools, self.settings.cache_dir)
                self._made[layer.model_dump_json()] = plan.Seed(name=seed_name, narHash=nar_hash)
                tree = self.local_trees(name)[int(layer.name.split("-", 1)[0])]
                self._makers[name, index] = {
                    "position": index, "name": seed_name, "tools": tools, "createdBy": layer.createdBy,
                    "epoch": spec.epoch, "files": {f.remote.lstrip("/"): str(f.source) for f in tree.files}}

    def secret_env(self, name: str) -> dict[str, str]:
        """The environment that carries each secret-using step's values to its builder."""
        env, users = {}, []
        for index, step in enumerate(self.chains[name].steps):
            # Only run steps get their secrets in the sandbox; a pip step's are used by the CLI.
            secrets = step.secrets if isinstance(step, chain.RUN_KINDS) else ()
            if secrets:
                env[plan.secret_var(index)] = json.dumps(resolve_all(secrets))
                users.append(chain.step_where(name, index, step))
        if users:  # a daemon or a remote builder would run the step without them: refuse first
            nixdaemon.require_local_builds(users[0])
        return env

    def spec_file(self, name: str, lock: Lock) -> Path:
        return plan.write_spec(self.spec(name, lock), self.settings)

    def record_output(self, lock: Lock, name: str, index: int, record: OutputLock | None) -> Lock:
        """The lock with step ``index``'s pinned output replaced (None: forgotten), written."""
        image = lock.images[name].with_output(record, index)
        lock = lock.model_copy(update={"images": {**lock.images, name: image}})
        with exclusive(self.lock_path):
            write_lock(self.lock_path, lock)
        return lock

    def seed(self, lock: Lock, store: str | None = None) -> None:
        """Put what no derivation can fetch into the store: the busybox, the local files, the
        blobs of registry bases, the wheels of a pip step whose index takes a login and the
        checkouts of private git repositories."""
        busybox = lock.bootstrap.busybox
        seed.ensure(busybox, lock.bootstrap.busybox_nar_hash,
                    self.settings.deb_url(busybox.archive, busybox.path), self.settings.cache_dir, store)
        for name in self.chains:
            for tree in self.local_trees(name).values():
                local_tree.ensure(tree, self.settings.cache_dir, store)
            for pinned in lock.images[name].steps:
                step = self.chains[name].steps[pinned.index]
                if pinned.registry is not None:
                    registry_blobs.ensure(step, pinned.registry, self.settings.cache_dir,
                                          chain.step_where(name, pinned.index, step), store)
                if pinned.wheels and isinstance(step, chain.PYTHON_KINDS) and \
                        (index_values := git_source.without_tokens(resolve_all(step.secrets))):
                    index_login.seed(pinned.wheels, index_values, self.settings.cache_dir, store)
                if pinned.git:
                    git_source.seed(pinned.git, step.git_user, resolve_all(step.secrets), repr(list(step.secrets)),
                                    self.settings.cache_dir / "python", store,
                                    chain.step_where(name, pinned.index, step))

    def build(self, *, frozen: bool = False, progress: Progress = lambda _m: None,
              meter: Meter | None = None) -> list[BuiltImage]:
        """Build every image; ``progress`` is told what happens, a line each, and ``meter``
        (a terminal's progress bars) how far each nix-build is."""
        # One build of an app at a time: a second waits, then reads the pins the first wrote.
        with exclusive(self.lock_path, progress):
            return self._build(frozen=frozen, progress=progress, meter=meter)

    def _build(self, *, frozen: bool, progress: Progress, meter: Meter | None) -> list[BuiltImage]:
        try:
            return self._build_locked(frozen=frozen, progress=progress, meter=meter)
        finally:
            self._stop_toolchain()

    def _start_toolchain(self, bootstrap: BootstrapLock, progress: Progress) -> None:
        """Build the toolchain the layers' builders run on beside the rest of locking, the
        downloads and the file layers, as soon as its pins are known: on an empty store it
        was ~3 s that the first layer waited for, after all of those. Once per build."""
        if self._toolchain is not None:
            return
        spec_file = plan.write_toolchain_spec(bootstrap, self.settings)
        built = self._toolchain_marker(spec_file)
        if built.exists() and nixcmd.is_valid(built.read_text(), self.store):
            return
        busybox = bootstrap.busybox
        try:
            seed.ensure(busybox, bootstrap.busybox_nar_hash, self.settings.deb_url(busybox.archive, busybox.path),
                        self.settings.cache_dir, self.store)
            bootstrap_spec = plan.bootstrap_spec(bootstrap, self.settings).model_dump(mode="json")
            prefetch.prefetch([bootstrap_spec], self.settings.cache_dir, self.store, progress=progress)
        except NixbuildError:
            # Not now: the build's own seeding meets it again, after the checks that come
            # first (a step's secrets refused through a daemon), and says what to do.
            return
        self._toolchain = (nixcmd.ToolchainBuild(spec_file, self.store, progress), built)

    def _toolchain_marker(self, spec_file: Path) -> Path:
        """Where the toolchain built from ``spec_file`` (in this store) is noted, so that a
        build whose toolchain is there starts no nix-build for it."""
        key = hashlib.sha256(f"{spec_file.name} {self.store or ''}".encode()).hexdigest()[:16]
        return self.settings.cache_dir / "toolchains" / key

    def _await_toolchain(self) -> None:
        """Let the early toolchain build finish before an image's build starts: a nix-build
        that finds a derivation locked by another polls for it every 5 s (Nix 2.8), where this
        wait ends with it. Its failure shows in the image's build, which builds it again."""
        if self._toolchain is not None:
            toolchain, built = self._toolchain
            self._toolchain = None
            if out := toolchain.wait():
                write_atomic(built, out)

    def _stop_toolchain(self) -> None:
        """Stop the early toolchain build when the build failed before it was awaited."""
        if self._toolchain is not None:
            toolchain, _ = self._toolchain
            self._toolchain = None
            toolchain.stop()

    def _build_locked(self, *, frozen: bool, progress: Progress, meter: Meter | None) -> list[BuiltImage]:
        lock = self.lock(frozen=frozen, progress=progress,
                         on_bootstrap=lambda bootstrap: self._start_toolchain(bootstrap, progress))
        for name in self.chains:
            self.secret_env(name)  # secrets resolve, and Nix can hand them over, before any build
        self.seed(lock, self.store)
        self.make_file_layers(lock)
        # Nix would fetch them max-jobs (the cores) at a time: store/prefetch.py, all at once.
        prefetch.prefetch([self.spec(name, lock).model_dump(mode="json") for name in self.chains],
                          self.settings.cache_dir, self.store, download_sizes(lock), progress)
        self._await_toolchain()
        built = []
        for name in self.images:
            link = self.image_link(name)
            link.parent.mkdir(parents=True, exist_ok=True)
            # The stages it copies from first, each on its own: a stage's network step gets its
            # output pinned there, as an image's does (no out-link: the image's closure keeps them).
            for stage in self.stages_of(name):
                progress(f"building stage {stage!r}")
                _, lock = self._build_image(stage, lock, None, progress, meter)
            progress(f"building image {name!r}")
            path, lock = self._build_image(name, lock, link, progress, meter)
            built.append(self._keep(name, path, link, lock, progress))
        return built

    def _keep(self, name: str, path: Path, link: Path, lock: Lock, progress: Progress) -> BuiltImage:
        """Root a build (out-link and history root, see store/roots.py); with MODAL_IGNORE_CACHE,
        root nothing and say how the fresh image differs from the kept one."""
        if self.store is not None:  # rooted by its out-link in that store
            return describe(name, path, link, self.layout(name, path))
        if self.settings.ignore_cache:
            if note := rebuild.fresh_differs(link, path):
                progress(note)
            progress(f"MODAL_IGNORE_CACHE: {link} still points at the cached image")
            return describe(name, path, path)
        item = describe(name, path, link)
        self._specs[name] = plan.write_spec(self.spec(name, lock), self.settings)
        self._roots[name] = roots.record(self.settings.cache_dir, self.app, name, path, item.manifest_digest,
                                         self._specs[name], nixcmd.require("nix-store", "nix-bin"))
        return item

    def noop_inputs(self, built: list[BuiltImage]) -> tuple[dict[str, str], list[str], list[str], dict] | None:
        """What the stamp of this build watches besides the files it read (nixbuild/noop.py):
        each out-link and history root with its store path, and the files it depends on
        without opening them (local files, hashed by a stat-keyed cache; the nix/ library,
        read by nix-build); the progress lines of its replay; and what the one-file edit
        needs (``edit_inputs``). None: a build that must run every time (a chroot store, a
        forced step, an image skipped)."""
        force_all = self.settings.force_build or self.settings.ignore_cache
        if self.store is not None or self.skipped or any(
                plan.forced_from(image, force_all) is not None for image in self.chains.values()):
            return None
        links = {item.link: item.store_path for item in built}
        links.update({str(self._roots[item.name]): item.store_path for item in built})
        watched = [str(f.source) for name in self.chains for tree in self.local_trees(name).values()
                   for f in tree.files]
        watched += [str(p) for p in nixcmd.nix_dir().rglob("*")]
        return links, watched, [noop.unchanged_line(item.name, item.store_path) for item in built], \
            self.edit_inputs(built)

    def edit_inputs(self, built: list[BuiltImage]) -> dict:
        """What nixbuild/local/edit.py needs to remake each built image after its local files
        changed: per image, the made files layers that nothing above builds on (the last
        layers, all made here), unless another image copies from it; the CLI adds the lines
        it printed after each image's first."""
        images = []
        for item in built:
            layers = []
            copied = any(item.name in self.stages_of(other) for other in self.chains)
            for index in range(item.layers - 1, -1, -1):
                if copied or (item.name, index) not in self._makers:
                    break
                layers.insert(0, self._makers[item.name, index])
            images.append({"name": item.name, "link": item.link, "spec": str(self._specs[item.name]),
                           "digest": item.manifest_digest, "size": item.size, "layers_count": item.layers,
                           "layers": layers})
        return {"app": str(self.app), "cache_dir": str(self.settings.cache_dir),
                "builders": str(nixcmd.nix_dir() / "builders"), "images": images}

    def _build_image(self, name: str, lock: Lock, link: Path | None, progress: Progress,
                     meter: Meter | None = None) -> tuple[Path, Lock]:
        """nix-build one image. A run step that fails without the network is tried again as a
        fixed-output derivation (network on); the output hash Nix reports for it on that first
        run is recorded in the lock, and every later build must reproduce it."""
        network: set[int] = set()
        recovered: set[str] = set()
        while True:
            spec = self.spec(name, lock, frozenset(network))
            try:
                out_link = None if self.settings.ignore_cache else link  # IGNORE_CACHE replaces nothing
                return nixcmd.build(plan.write_spec(spec, self.settings), out_link=out_link,
                                    store=self.store, env=self.secret_env(name),
                                    remote=lambda drv, machine: progress(f"built {drv} on {machine}"),
                                    progress=progress, sizes=download_sizes(lock), meter=meter), lock
            except nixcmd.HashMismatch as exc:
                index, layer = _run_layer(spec, exc.drv)
                if layer is None or layer.outputHash is not None:
                    raise explain_build_error(exc, lock, name, spec, link) from None
                progress(f"pinned the output of step {index} {self.chains[name].steps[index].kind}")
                lock = self.record_output(lock, name, index, OutputLock(
                    index=index, kind=self.chains[name].steps[index].kind, inputs=layer.inputs,
                    output_hash=exc.got))
            except BuildError as exc:
                # The mirror dropped pinned .debs: fetch them elsewhere (each once), build again.
                if added := [p for p in pinned_debs.recover(exc.message, lock, name, self.settings, self.store)
                             if p.filename not in recovered]:
                    recovered.update(p.filename for p in added)
                    progress(f"fetched {len(added)} pinned .deb(s) the mirror no longer serves; building again")
                    continue
                index, layer = _run_layer(spec, _failed_drv(exc))
                if layer is None or layer.network:
                    if index in network:
                        exc.message = f"(tried again with the network)\n{exc.message}"
                    raise explain_build_error(exc, lock, name, spec, link) from None
                progress(f"step {index} failed without the network: trying it with the network, output pinned")
                network.add(index)


@contextmanager
def _on_sys_path(folder: Path) -> Iterator[None]:
    saved = list(sys.path)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path[:] = saved


def describe(name: str, path: Path, link: Path, layout: OciLayout | None = None) -> BuiltImage:
    layout = layout or OciLayout(path)
    descriptor = layout.manifest_descriptor()
    manifest = layout.manifest(descriptor)
    size = manifest.config.size + sum(layer.size for layer in manifest.layers)
    return BuiltImage(name=name, store_path=str(path), link=str(link), layout=str(layout.path),
                      manifest_digest=descriptor.digest,
                      size=size, layers=len(manifest.layers))


_LAYER_NAME = re.compile(rf"/nix/store/[a-z0-9]{{32}}-{nixcmd.LAYER_NAME}")
_FAILED_LAYER = re.compile(rf"builder for '({_LAYER_NAME.pattern}\.drv)' failed")
# The last line nix/builders/python_install.py prints when an sdist does not build.
_SDIST_FAILED = re.compile(r"nixbuild: building (\S+) (\S+) from its (sdist|source) failed(?:; missing: (\S+))?")


def _failed_drv(exc: NixbuildError) -> str:
    failed = _FAILED_LAYER.search(exc.message)
    return failed.group(1) if failed else ""


def _run_layer(spec: plan.ImageSpec, path: str) -> tuple[int, plan.RunLayer | None]:
    """The step index and run layer of a layer derivation or output path (else -1, None)."""
    named = _LAYER_NAME.search(path)
    if not named:
        return -1, None
    index = int(named["step"])
    layer = next((item for item in spec.layers if item.name == f"{index}-{named['kind']}"), None)
    return index, layer if isinstance(layer, plan.RunLayer) else None


class OutputChanged(BuildError):
    def __init__(self, index: int, layer: plan.RunLayer, exc: nixcmd.HashMismatch, link: Path):
        super().__init__(
            f"the output of step {index} changed since it was pinned: it ran with the network and what "
            f"it fetched is different now (locked {layer.outputHash}, got {exc.got}); the image was not "
            f"replaced, the previous one is still at {link}",
            where=f"step {index} {layer.name.split('-', 1)[1]}",
            fix=f"if the new output is expected, accept it with `nixbuild lock --update-step {index}` "
                "and build again")


def explain_build_error(exc: NixbuildError, lock: Lock, image: str, spec: plan.ImageSpec,
                        link: Path) -> NixbuildError:
    """Name the step whose layer failed, the pinned step whose output changed, or the locked
    package behind a hash mismatch."""
    failed = _FAILED_LAYER.search(exc.message)
    if isinstance(exc, nixcmd.HashMismatch):
        index, layer = _run_layer(spec, exc.drv)
        if layer is not None and layer.outputHash is not None:
            changed = OutputChanged(index, layer, exc, link)
            changed.where = f"image {image!r}, {changed.where}"
            changed.message += rebuild.changed_files(exc.drv, exc.got, index, link)
            return changed
    exc.where = f"image {image!r}"
    if failed:
        exc.where = f"image {image!r}, step {failed['step']} {failed['kind']}"
        exc.fix = "the step's output is above; fix the step and build again"
        if sdist := _SDIST_FAILED.search(exc.message):
            name, version, source, missing = sdist.groups()
            exc.message = (f"building {name} {version} from its {source} failed"
                           + (f": {missing} is missing" if missing else "") + f"\n{exc.message}")
            exc.fix = sdist_hints.hint(missing, int(failed["step"]))
    elif isinstance(exc, nixcmd.NoGpuBuilder) and (named := _LAYER_NAME.search(exc.message)):
        exc.where = f"image {image!r}, step {named['step']} {named['kind']}"
    if isinstance(exc, nixcmd.HashMismatch):
        for step, pin in _step_pins(lock):
            if nixcmd.store_name(pin.filename) in exc.drv:
                exc.message = (f"the bytes downloaded for {pin.name} {pin.version} ({pin.filename}, "
                               f"step {step.index} {step.kind}) do not match the lock: locked sha256 "
                               f"{pin.sha256}, got {exc.got}")
                exc.where = f"image {image!r}, step {step.index} {step.kind}"
                return exc
    return exc


def _step_pins(lock: Lock) -> Iterator[tuple]:
    """Every file a step of the lock pins (with its step): .debs, wheels and sdists, the wheels
    that build them, python-build-standalone archives, conda packages and their tools."""
    for locked in lock.images.values():
        for step in locked.steps:
            standalone = [step.standalone] if step.standalone is not None else []
            built_with = [b for s in [*step.sdists, *step.git] for b in s.build]
            for pin in [*step.packages, *step.python, *built_with, *standalone, *step.conda, *step.conda_tools]:
                yield step, pin


def download_sizes(lock: Lock) -> dict[str, int]:
    """The size of each pinned file by its store name, as the lock gives it (the progress of
    a build's downloads): the bootstrap's .debs and every step's files."""
    boot = lock.bootstrap
    pins = [boot.busybox, *boot.python, *([boot.installer] if boot.installer else []),
            *(pin for _step, pin in _step_pins(lock))]
    return {nixcmd.store_name(pin.filename): pin.size for pin in pins if getattr(pin, "size", None)}

