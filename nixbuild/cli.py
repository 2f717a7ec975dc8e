"""The ``nixbuild`` command line.

Every command takes an app file (Modal-style or written against ``nixbuild.Image``) and works
on every image it defines, or the one named by ``--image``. ``--json`` prints one JSON document
on stdout for machines; progress goes to stderr. Exit codes: 0 success, 1 internal error,
and the ``exit_code`` of each :class:`~nixbuild.errors.NixbuildError` kind otherwise
(2 invalid app or input, 3 unresolvable package, 4 mirror, 5 lock, 6 build, 7 not reproducible,
8 missing tool).
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from functools import wraps
from pathlib import Path

import click
from rich.console import Console

from nixbuild import noop
from nixbuild.build import Project
from nixbuild.progress import meter
from nixbuild.sizes import human_size, image_line
from nixbuild.store import validity
from nixbuild.errors import InvalidError, NixbuildError, locate, shown_path
from nixbuild.warn import one_line

def _console() -> Console:
    # NO_COLOR (no-color.org): no styling at all, not only no colour; rich alone keeps bold.
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(stderr=True, highlight=False, color_system=None if plain else "auto", no_color=plain)


err = _console()


def _command_name() -> str:
    """The subcommand that runs (``build``, ``cache push``), however nixbuild was started."""
    ctx, names = click.get_current_context(silent=True), []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names)) or "nixbuild"


def handled(fn):
    """Turn NixbuildError into one clear message (``app.py:LINE: image 'x', step N kind: ...``)
    and its exit code, and with ``--json`` also into an error document on stdout; nixbuild's
    warnings print as one line each (Ctrl-C: see nixbuild/__main__.py)."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        warnings.formatwarning = one_line
        as_json = kwargs.get("as_json", False)
        try:
            result = fn(*args, **kwargs)
        except NixbuildError as exc:
            project = _loaded()
            place = locate(exc, project.images if project is not None else None)
            err.print(f"[bold red]error:[/] {place.text(exc)}", markup=True, soft_wrap=True)
            if as_json and not _meta(_EMITTED):  # check's report (ok: false) is the document
                _error_document(_error(exc, place))
            sys.exit(exc.exit_code)
        except Exception as exc:  # a bug: the traceback goes to stderr, machines still get JSON
            if as_json:
                _error_document(_error(NixbuildError(f"internal error: {type(exc).__name__}: {exc}",
                                                     fix="please report this as a bug")))
            raise
        if (project := _loaded()) is not None and project.skipped:
            for exc in project.skipped.values():  # the other images are done: now say what was not
                err.print(f"[bold red]skipped:[/] {locate(exc).text(exc)}", markup=True, soft_wrap=True)
            sys.exit(max(exc.exit_code for exc in project.skipped.values()))
        return result
    return wrapper


def _meta(key: str):
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(key) if ctx is not None else None


def _loaded() -> Project | None:
    """The app this command loaded (kept by :func:`_project`), if it got that far."""
    return _meta(_PROJECT)


def _error(exc: NixbuildError, place=None):
    """``exc`` as the contract's error object (``place``: where it happened, when known)."""
    from nixbuild import report

    return report.Error(message=exc.message, fix=exc.fix, exit_code=exc.exit_code,
                        **(place or locate(exc)).fields())


def _error_document(error) -> None:
    from nixbuild import report

    click.echo(report.dumps(report.ErrorDocument(command=_command_name(), error=error)))


def emit(as_json: bool, document, text: str) -> None:
    """Print ``document`` (a :mod:`nixbuild.report` document) with ``--json``, else ``text``."""
    if as_json:
        from nixbuild import report

        if (project := _loaded()) is not None:  # images it could not build, as error objects
            document.skipped = [_error(exc) for exc in project.skipped.values()]
        click.echo(report.dumps(document))
        click.get_current_context().meta[_EMITTED] = True
    else:
        click.echo(text)


app_argument = click.argument("app", type=click.Path(path_type=Path))
image_option = click.option("--image", "image", help="Only the image with this name.")
lock_option = click.option("--lock", "lock_path", type=click.Path(path_type=Path),
                           help="Lock file (default: nixbuild.lock beside the app).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
store_option = click.option("--store", "store", type=click.Path(path_type=Path, file_okay=False),
                            help="Build in this chroot Nix store (nix-build --store DIR) instead of the default one.")
compression_option = click.option("--compression", type=click.Choice(["gzip", "zstd"]), default="gzip",
                                  help="How the image's layers are compressed (default gzip, which every client "
                                       "reads; zstd: the OCI zstd media type, deterministic as gzip).")


def _digest(_ctx, _param, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"sha256:[0-9a-f]{64}", value):
        raise click.BadParameter(f"{value!r} is not a manifest digest (sha256: and 64 hex digits)")
    return value


expect_option = click.option("--expect", "expect", metavar="DIGEST", callback=_digest,
                             help="The manifest digest recorded elsewhere (sha256:...) that the image must "
                                  "have here; otherwise exit 7 naming both.")


def _builders(_ctx, _param, value: str | None) -> None:
    if value is not None:  # every Nix call of this run (nixcmd.common_options) takes it
        from nixbuild.tools.nixcmd import BUILDERS_ENV
        os.environ[BUILDERS_ENV] = value


builders_option = click.option("--builders", callback=_builders, expose_value=False, metavar="SPEC",
                               help="Remote builders, as Nix's `builders` option (machines-file lines "
                                    "separated by ';', or @FILE); default: the machines file and nix.conf.")


_PROJECT = "nixbuild.project"  # the loaded app, kept on click's context for the error handler
_EMITTED = "nixbuild.emitted"  # a --json document is out: a later failure adds no second one


def _project(app: Path, image: str | None, lock_path: Path | None, store: Path | None = None,
             compression: str = "gzip") -> Project:
    if store is None and (chroot := validity.chroot_store()):
        store = Path(chroot)  # NIX_CONFIG='store = DIR' (or nix.conf): as --store DIR
    project = Project.load(app, image=image, lock_path=lock_path, store=store)
    project.compression = compression
    click.get_current_context().meta[_PROJECT] = project  # errors name the step's file and line
    return project


def _tag(_ctx, _param, value: str | None) -> str | None:
    """A Docker reference NAME[:TAG] (distribution's grammar, nixbuild.registry.reference)."""
    from nixbuild.registry.reference import NAME_AND_TAG

    if value is None:
        return None
    if not NAME_AND_TAG.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not an image reference NAME[:TAG] (lowercase NAME, e.g. "
                                 "myapp:1.0 or registry.example/team/myapp:dev)")
    last = value.rsplit("/", 1)[-1]
    return value if ":" in last else f"{value}:latest"


def default_tag(name: str) -> str:
    """``NAME:latest``, NAME made a valid reference (an image named ``Web_App`` -> ``web_app``)."""
    component = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("._-") or "image"
    return f"{component}:latest"


def _progress(message: str) -> None:
    err.print(f"[dim]•[/] {message}", markup=True)


@click.group()
@click.version_option(package_name="nixbuild")
def main() -> None:
    """Build Modal-style container images locally and reproducibly with Nix."""


@main.command()
@app_argument
@image_option
@lock_option
@json_option
@click.option("--frozen", is_flag=True, help="Fail instead of updating a lock that does not match the app.")
@click.option("--format", "fmt", type=click.Choice(["oci", "docker-archive"]), default="oci",
              help="oci: the layout in the store (default); docker-archive: also write a tar for `docker load`.")
@click.option("--output", "-o", type=click.Path(path_type=Path),
              help="Where to write the docker-archive (default: .nixbuild/<image>.tar).")
@click.option("--tag", "tag", metavar="NAME[:TAG]", callback=_tag,
              help="The name the image gets in a docker-archive and after `docker load` (default: "
                   "<image>:latest; TAG defaults to latest). One image: pick it with --image.")
@store_option
@compression_option
@expect_option
@click.option("--sbom", "with_sbom", is_flag=True,
              help="Also write NAME.spdx.json, NAME.cdx.json and NAME.provenance.json in .nixbuild/.")
@builders_option
@handled
def build(app, image, lock_path, as_json, frozen, fmt, output, tag, store, compression, expect, with_sbom):
    """Build every image of APP; print each manifest digest, size and location, and how to run it."""
    from nixbuild import describe, report
    from nixbuild.check import expect_digest
    from nixbuild.lock import read_lock
    from nixbuild.oci.skopeo import export_docker_archive

    if fmt == "docker-archive" and compression == "zstd":
        raise click.UsageError("--format docker-archive cannot take --compression zstd: a Docker image's layers "
                               "are gzip (skopeo refuses to convert); build the OCI layout with zstd, or the "
                               "docker-archive with gzip")
    project = _project(app, image, lock_path, store, compression)
    if expect is not None:
        _single_name(project, "build --expect")
    if tag is not None:
        _single_name(project, "build --tag")
    with meter(err) as bars:
        built = project.build(frozen=frozen, progress=_progress, meter=bars)
    if expect is not None:
        expect_digest(built[0].name, built[0].manifest_digest, expect)
    lock = read_lock(project.lock_path)  # the one the build just used
    images = []
    for item in built:
        described = describe.built(project, item, lock)
        described.tag = tag or default_tag(item.name)
        if fmt == "docker-archive":
            dest = output if output and len(built) == 1 else project.out_dir / f"{item.name}.tar"
            described.docker_archive = str(export_docker_archive(Path(item.layout), "latest", dest, described.tag))
        images.append(described)
    if with_sbom:
        from nixbuild.sbom.write import write as write_sbom

        for described, files in zip(images, write_sbom(project, built)):
            described.sbom = files
    texts = [_built_text(project, item, project.store is None) for item in images]
    emit(as_json, report.ImagesDocument(command="build", images=images), "\n".join(texts))
    # The next `build` with these arguments, nothing changed, is answered from a stamp; one
    # after local files changed, by the one-file edit (nixbuild/local/edit.py), when the
    # output is this text.
    if (watched := project.noop_inputs(built)) is None:
        noop.discard()
    else:
        from nixbuild.local.edit import stdout

        links, files, progress, edit = watched
        for image, text in zip(edit["images"], texts, strict=True):
            image["text"] = text.split("\n")[1:]
        answerable = not as_json and stdout(edit) == "\n".join(texts) + "\n"  # it prints what this did
        noop.commit(links, files, progress, edit if answerable else None)


def _built_text(project: Project, image, default_store: bool) -> str:
    """An image's lines after a build: digest, size, where it is, and how to run it."""
    shown = shown_path(Path(image.link if default_store else image.layout))
    app = shown_path(project.app)
    pick = f" --image {image.name}" if len(project.images) > 1 else ""
    lines = [image_line(image.name, image.manifest_digest, image.size, len(image.layers)), f"  oci:{shown}:latest"]
    if image.docker_archive:
        archive = shown_path(Path(image.docker_archive))
        lines += [f"  docker-archive:{archive} ({image.tag})",
                  f"  run: docker load -i {archive} && docker run --rm -it {image.tag}   (podman: the same)"]
    else:
        lines.append(f"  run: nixbuild run {app}{pick} -- CMD   or   skopeo copy oci:{shown}:latest "
                     f"docker-daemon:{image.tag} && docker run --rm -it {image.tag}")
    return "\n".join(lines)


@main.command()
@app_argument
@image_option
@lock_option
@json_option
@click.option("--check", "check_only", is_flag=True, help="Fail if the lock does not match the app (no network).")
@click.option("--update", is_flag=True, help="Re-resolve everything against the mirrors' current indexes.")
@click.option("--update-step", "update_steps", type=int, multiple=True, metavar="N",
              help="Forget the pinned output of step N (a step that ran with the network); the next build "
                   "pins what it produces then. Repeatable; with several images, pick one with --image.")
@handled
def lock(app, image, lock_path, as_json, check_only, update, update_steps):
    """Pin every input of APP's images in the lock file, without building."""
    from nixbuild import locking, report
    from nixbuild.lock import read_lock

    project = _project(app, image, lock_path)
    current = read_lock(project.lock_path)
    fresh = not locking.stale(project.images, current, project.defined)
    if check_only:
        locking.require_fresh(project.images, current, project.lock_path, project.defined)
        locking.verify_pins(project.images, current, project.settings)
        emit(as_json, report.LockDocument(lock=_lock_report(project, current, fresh=True, written=False)),
             f"{project.lock_path} matches the app")
        return
    if update_steps:
        name = _single_name(project, "lock --update-step " + " --update-step ".join(map(str, update_steps)))
        result = project.lock(progress=_progress)
        pinned = {o.index for o in result.images[name].outputs}
        for index in update_steps:
            if index not in pinned:
                raise InvalidError(f"step {index} of image {name!r} has no pinned output",
                                   fix=f"steps with one: {sorted(pinned) or 'none'}")
            result = project.record_output(result, name, index, None)
        emit(as_json, report.LockDocument(lock=_lock_report(project, result, fresh=fresh, written=True,
                                                             forgotten=list(update_steps))),
             f"forgot the pinned output of step(s) {', '.join(map(str, update_steps))} of {name!r}; "
             "the next build pins them again")
        return
    result = project.lock(update=update, progress=_progress)
    summary = _lock_report(project, result, fresh=fresh, written=result != current)
    emit(as_json, report.LockDocument(lock=summary),
         f"{'locked' if summary.written else 'unchanged'} {project.lock_path}: " + ", ".join(
             f"{i.name} ({i.debian_packages} Debian packages, {i.python_distributions} Python distributions"
             + (f", {i.network_outputs} pinned network outputs" if i.network_outputs else "") + ")"
             for i in summary.images))


def _lock_report(project: Project, lock, *, fresh: bool, written: bool, forgotten: list[int] = ()):
    """What ``lock`` prints: per image, how many packages, distributions and outputs it pins."""
    from nixbuild import report

    return report.LockReport(path=str(project.lock_path), fresh=fresh, written=written, forgotten=list(forgotten),
                             images=[report.LockedImage(
                                 name=name, debian_packages=sum(len(s.packages) for s in lock.images[name].steps),
                                 python_distributions=sum(len(s.python) + len(s.git) for s in lock.images[name].steps),
                                 network_outputs=len(lock.images[name].outputs))
                                 for name in project.images if lock is not None and name in lock.images])


@main.command(context_settings={"ignore_unknown_options": True})
@app_argument
@image_option
@lock_option
@click.option("--writable", is_flag=True, help="Give the command a private writable copy of the image.")
@click.option("--network", type=click.Choice(["none", "host"]), default="none", show_default=True,
              help="none: loopback only; host: the host's network and DNS configuration.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@store_option
@builders_option
@handled
def run(app, image, lock_path, writable, network, command, store):
    """Run COMMAND (default: the image's Entrypoint/Cmd) inside the built image, no daemon."""
    from nixbuild.oci.layout import OciLayout
    from nixbuild.oci.runner import run as run_in

    argv = list(command)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    project = _project(app, image, lock_path, store)
    built = _build_single(project, "run")
    sys.exit(run_in(OciLayout(built.layout), argv, project.settings.cache_dir, writable=writable,
                    network=network))


def _single_name(project: Project, verb: str) -> str:
    if len(project.images) + len(project.skipped) != 1:
        raise InvalidError(f"the app defines several images ({', '.join([*project.images, *project.skipped])})",
                           fix=f"pick one: nixbuild {verb} {shown_path(project.app)} --image NAME")
    return next(iter(project.images))


def _build_single(project: Project, verb: str):
    """Build the app's one image (several: an error naming them, before anything is built)."""
    _single_name(project, verb)
    with meter(err) as bars:
        return project.build(progress=_progress, meter=bars)[0]


@main.command()
@app_argument
@image_option
@lock_option
@json_option
@store_option
@compression_option
@expect_option
@click.option("--full", is_flag=True,
              help="Rebuild every layer, also those an earlier check on this machine proved (same derivation).")
@builders_option
@handled
def check(app, image, lock_path, as_json, store, compression, expect, full):
    """Rebuild every image (nix-build --check and a second, empty store) and compare bit for bit."""
    from nixbuild import report
    from nixbuild.check import check as run_check, raise_if_failed

    project = _project(app, image, lock_path, store, compression)
    if expect is not None:
        _single_name(project, "check --expect")
    results = run_check(project, expect, full)
    emit(as_json, report.CheckDocument(checks=results),
         "\n".join(f"{r.image}: {'reproducible' if r.ok else 'NOT reproducible'} {r.manifest_digest}"
                   for r in results))
    raise_if_failed(results)


@main.command()
@app_argument
@click.argument("destination")
@image_option
@lock_option
@json_option
@click.option("--tls-verify/--no-tls-verify", default=None,
              help="Verify the registry's TLS certificate (default: yes, except on 127.0.0.1/localhost).")
@store_option
@compression_option
@click.option("--attach", is_flag=True,
              help="Also push the image's SBOMs and provenance as OCI 1.1 referrers of it (written as by `sbom`).")
@builders_option
@handled
def push(app, destination, image, lock_path, as_json, tls_verify, store, compression, attach):
    """Build APP's image and copy it to DESTINATION (docker://HOST/REPO:TAG) with skopeo."""
    from nixbuild import report
    from nixbuild.oci.skopeo import push as skopeo_push

    project = _project(app, image, lock_path, store, compression)
    built = _build_single(project, "push")
    attached = _sbom_artifacts(project, built) if attach else None  # documents are whole before anything is pushed
    result = skopeo_push(Path(built.layout), "latest", destination, tls_verify=tls_verify)
    out = report.PushReport(image=built.name, **result.model_dump())
    text = (f"pushed {destination}\n  digest: {result.digest}\n"
            f"  blobs uploaded: {len(result.uploaded)}, already there: {len(result.skipped)}")
    if attached is not None:
        from nixbuild.oci.layout import OciLayout
        from nixbuild.oci.referrers import attach as attach_referrers

        subject = OciLayout(built.layout).manifest_descriptor()
        referrers = attach_referrers(destination, subject, attached, tls_verify=tls_verify)
        out.attached = referrers
        text += (f"\n  attached {', '.join(referrers.referrers)} ({referrers.listing}"
                 + (f", tag {referrers.index_tag}" if referrers.index_tag else "")
                 + f"); uploaded: {referrers.uploaded}, already there: {referrers.already_present}")
    emit(as_json, report.PushDocument(push=out), text)


def _sbom_artifacts(project: Project, built) -> list:
    """Write the image's SBOMs and provenance (in .nixbuild/) and read them back as artifacts."""
    from nixbuild.oci.referrers import Artifact
    from nixbuild.sbom.write import ARTIFACT_TYPES, write as write_sbom

    files = write_sbom(project, [built])[0]
    return [Artifact(artifact_type=ARTIFACT_TYPES[kind], title=Path(path).name, data=Path(path).read_bytes())
            for kind, path in (("spdx", files.spdx), ("cyclonedx", files.cyclonedx), ("provenance", files.provenance))]


@main.command()
@app_argument
@image_option
@lock_option
@json_option
@click.option("--output", "-o", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the documents (default: .nixbuild/ beside the app).")
@handled
def sbom(app, image, lock_path, as_json, out_dir):
    """Write each image's SBOMs (NAME.spdx.json: SPDX 2.3, NAME.cdx.json: CycloneDX 1.6) and
    provenance (NAME.provenance.json: in-toto with SLSA v1) from its lock; builds first if needed."""
    from nixbuild import report
    from nixbuild.sbom.write import write as write_sbom

    project = _project(app, image, lock_path)
    with meter(err) as bars:
        built = project.build(frozen=True, progress=_progress, meter=bars)
    files = write_sbom(project, built, out_dir)
    emit(as_json, report.SbomDocument(sboms=files),
         "\n".join(f"{f.image}: {f.components} components\n  {f.spdx}\n  {f.cyclonedx}\n  {f.provenance}"
                   for f in files))


@main.command()
@app_argument
@image_option
@lock_option
@click.option("--output", "-o", "out_dir", type=click.Path(path_type=Path), default=Path("."),
              help="Folder for the <image>.json specs (default: the current folder).")
@click.option("--flake-root", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Name local files relative to this flake's folder (a spec to commit), not by store path.")
@json_option
@handled
def plan(app, image, lock_path, out_dir, flake_root, as_json):
    """Write each image's build spec (the input of the flake's lib.buildImage) as <image>.json;
    locks first, and says so, when the lock is missing or stale."""
    from nixbuild import report
    from nixbuild.lock import write_atomic
    from nixbuild.plan import relative_to_flake

    project = _project(app, image, lock_path)
    lock = project.lock(progress=_progress)
    project.seed(lock)
    specs = []
    for name in project.images:
        target = out_dir / f"{name}.json"
        spec = project.spec(name, lock)
        if flake_root is not None:
            trees = [tree for chain in [*project.stages_of(name), name] for tree in project.local_trees(chain).values()]
            spec = relative_to_flake(spec, trees, flake_root)
        write_atomic(target, spec.dumps())
        specs.append(report.SpecFile(image=name, path=str(target)))
    emit(as_json, report.PlanDocument(specs=specs), "\n".join(s.path for s in specs))


@main.command()
@app_argument
@image_option
@lock_option
@json_option
@handled
def inspect(app, image, lock_path, as_json):
    """Show what each image is made of (layers, Debian packages, Python distributions, local
    trees, network steps) from the lock and the store, without building."""
    from nixbuild import describe, report

    project = _project(app, image, lock_path)
    lock = project.lock(frozen=True)
    images = [describe.inspected(project, name, lock) for name in project.images]
    lines = []
    for entry in images:
        if not entry.built:
            lines.append(f"{entry.name}: not built yet (nixbuild build {shown_path(project.app)}); from the lock:")
        else:
            lines.append(f"{entry.name}: {entry.manifest_digest}  {human_size(entry.size)} compressed, "
                         f"{human_size(entry.uncompressed_size)} unpacked")
            for layer in entry.layers:
                lines.append(f"  layer {layer.index}: {human_size(layer.compressed_size):>10}  "
                             f"{layer.entries:>6} entries  {layer.created_by}")
        if entry.base is not None:
            lines.append(f"  base: {entry.base.reference} (pinned {entry.base.manifest_digest}; its "
                         f"{entry.base.layers} layers come first, unchanged)")
        lines.append(f"  {len(entry.packages)} Debian packages, {len(entry.python)} Python distributions, "
                     f"{len(entry.local_trees)} local trees, {len(entry.network_steps)} network steps "
                     "(--json lists them)")
    emit(as_json, report.ImagesDocument(command="inspect", images=images), "\n".join(lines))


@main.command()
@click.argument("app", type=click.Path(path_type=Path), required=False)
@click.option("--dry-run", is_flag=True, help="Only list what would be removed, and how much it holds.")
@json_option
@handled
def gc(app, dry_run, as_json):
    """Remove nixbuild's roots that no current image needs (only APP's, when given) and free
    the store paths and cache entries only they held; print what each app holds first."""
    from nixbuild.settings import Settings
    from nixbuild.store.gc import collect

    if app is not None and not app.is_file():
        raise InvalidError(f"{app} is not a file", fix="name an app file, or run `nixbuild gc` for every app")
    report = collect(Settings.from_env().cache_dir, app.resolve() if app else None, dry_run=dry_run)
    lines = [f"{'APP':<60} {'ROOTS':>5} {'STORE':>10}"]
    lines += [f"{u.app + ('' if u.exists else ' (gone)'):<60} {u.roots:>5} {human_size(u.store_bytes):>10}"
              for u in report.apps]
    lines.append(f"download cache: {human_size(report.cache_bytes)}")
    verb = "would remove" if dry_run else "removed"
    lines += [f"{verb} root {r}" for r in report.removed_roots]
    lines += [f"{verb} cache entry {c}" for c in report.removed_cache]
    lines.append(f"{'would free' if dry_run else 'freed'} {human_size(report.freed_bytes)} "
                 f"({len(report.deleted_paths)} store paths)")
    from nixbuild.report import GcDocument

    emit(as_json, GcDocument(gc=report), "\n".join(lines))


@main.group()
def cache() -> None:
    """Share builds through Nix binary caches."""


@cache.command("push")
@app_argument
@click.argument("destination")
@image_option
@lock_option
@json_option
@store_option
@click.option("--sign-key", type=click.Path(path_type=Path, dir_okay=False),
              help="Sign every path with this secret key (nix-store --generate-binary-cache-key).")
@handled
def cache_push(app, destination, image, lock_path, as_json, store, sign_key):
    """Build APP's images from its lock and copy everything they need (layers, images, every
    pinned download and seed) to the binary cache DESTINATION (file://, http(s)://, s3://)."""
    from nixbuild.store.cache import push as push_to_cache

    project = _project(app, image, lock_path, store)
    result = push_to_cache(project, destination, sign_key, progress=_progress)
    from nixbuild.report import CacheDocument

    emit(as_json, CacheDocument(cache=result),
         f"copied {result.paths} store paths to {destination}" + (" (signed)" if result.signed else "")
         + "".join(f"\n  {name}: {digest}" for name, digest in result.images.items()))


@main.command("builders")
@click.option("--host", default="root@gpu-builder", show_default=True, help="The GPU machine, as ssh takes it.")
@click.option("--gpu", "gpus", multiple=True, metavar="TYPE",
              help="A gpu= type it serves (T4, A100, H100...); repeat for several. Default: any (cuda).")
@click.option("--protocol", type=click.Choice(["ssh", "ssh-ng"]), default="ssh-ng", show_default=True)
@click.option("--ssh-key", help="The private key this machine logs in with.")
@click.option("--host-key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="The builder's ssh host public key file (pins it in the machines line).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--driver-dir", default="/usr/lib/x86_64-linux-gnu", show_default=True,
              help="The NVIDIA driver's library directory on the GPU machine.")
@json_option
@handled
def builders(host, gpus, protocol, ssh_key, host_key, jobs, driver_dir, as_json):
    """Print what a GPU builder needs: machines-file line, nix.conf lines, pre-build hook."""
    from nixbuild.builders import GpuBuilder, render

    builder = GpuBuilder(host=host, gpus=gpus, protocol=protocol, ssh_key=ssh_key, host_key=host_key,
                         jobs=jobs, driver_dir=driver_dir)
    if as_json:
        from nixbuild.report import BuildersDocument, BuilderSetup

        emit(True, BuildersDocument(builders=BuilderSetup(machines_line=builder.machines_line(),
                                                          nix_conf=builder.nix_conf(), hook=builder.hook())), "")
    else:
        click.echo(render(builder), nl=False)


@main.command("schema")
def schema() -> None:
    """Print the JSON Schema of every --json document (schema/nixbuild.schema.json)."""
    from nixbuild.report import json_schema

    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
