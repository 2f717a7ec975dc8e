"""Builder: one image layer from a set of Debian packages.

Passes:
1. Read every .deb in memory (control + data), base-files first so that its directory
   modes (/tmp 1777, /root 0700, ...) win over other packages shipping the same directory.
2. Map each path onto merged /usr (``bin/x`` -> ``usr/bin/x``; relative symlink targets that
   climb with ``..`` are recomputed) and drop what Debian's slim images drop.
3. Record the packages in the dpkg database (status, per-package file lists, md5sums), on top
   of the status handed over by the layer below, so ``dpkg -l`` and scanners see everything.
4. Apply the data effects of maintainer scripts (maintainer.py) and, for the base layer, the
   root links of merged /usr and the slim dpkg configuration.
5. Configure: when the new packages call for it (maintainer.py's configure effects: ldconfig,
   byte-compilation, alternatives, CA hash links, pam-auth-update), unpack the lower layers and
   this one (its tar, streamed) into a scratch folder (run_layer.scratch: /dev/shm when it
   has room) and run those commands there, in the chroot run_layer.py uses for
   run_commands; what they changed joins the layer, minus maintainer.DISCARD. The lower
   layers come as trees unpacked once (``trees``, layer_tree.py) and are stacked with
   overlayfs where they allow it (overlay.py).
6. Make the layer's tree (layer_tree.write_tree), the tree the steps above stack: each
   member made from its entry as unpacking the deterministic tar (layertar.py) would make it
   (run_layer.place), while a forked process hashes that tar; tree_layer.py writes the layer
   from the tree, while the steps above run. Before, the layer came first and its tree was
   unpacked from it again: the steps waited for its compression and that unpack. Step 5 makes
   this layer in its scratch folder the same way; the missing parent directories are added
   before it, and the tree is begun beside it (layer_tree.Early: the entries as they were
   are placed on the disk while the commands run, then what they changed is made again).

Input: ``$layerSpecPath`` (JSON: debs, prevStatus, lower (layers, or deb layers' trees),
trees, busybox, base, createdBy, epoch). Output in ``$out``: ``tree/``, ``index.json``
(layer_tree.py), ``packed.json`` (the tar's diffId and size, layer_tree.write_tree),
``dpkg-status`` (cumulative).
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
from concurrent.futures import ThreadPoolExecutor

import layer_tree
import maintainer
import overlay
import run_layer
from debfile import format_stanza, md5, parse_stanza, read_deb
from layertar import Entry, directory, regular, run_builder, symlink, write_tar
from pgzip import threads

MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Directories the base layer turns into symlinks: a package path below one is written below
# its target instead, or an upper layer would replace the link with a real directory.
REDIRECTS = {**{d: "usr/" + d for d in MERGED}, "var/run": "run", "var/lock": "run/lock"}

# debuerreotype's slimify rules (what Debian's *-slim images exclude), as dpkg path filters.
SLIM_EXCLUDE = ["usr/share/doc/*", "usr/share/groff/*", "usr/share/info/*", "usr/share/linda/*",
                "usr/share/lintian/*", "usr/share/locale/*", "usr/share/man/*"]
SLIM_INCLUDE = ["usr/share/doc/*/copyright"]
SLIM_DPKG_CFG = "".join(f"path-exclude /{p}\n" for p in SLIM_EXCLUDE) + "".join(
    f"path-include /{p}\n" for p in SLIM_INCLUDE)


def usrmerge(path: str) -> str:
    """Where ``path`` as shipped by a package lands in an image with merged /usr."""
    for source, target in REDIRECTS.items():
        if path == source or path.startswith(source + "/"):
            return target + path[len(source):]
    return path


def slimmed(path: str, container: bool = False) -> bool:
    """True when Debian's slim images leave ``path`` out. As dpkg's filters do, an excluded
    directory or symlink (``container``) is kept when an include pattern's literal prefix
    (up to its first wildcard, trailing slashes dropped) starts its path: something below it
    may be included (dpkg's filter_should_skip)."""
    if not any(fnmatch.fnmatchcase(path, p) for p in SLIM_EXCLUDE) or any(
            fnmatch.fnmatchcase(path, p) for p in SLIM_INCLUDE):
        return False
    if container:
        for pattern in SLIM_INCLUDE:
            prefix = re.split(r"[*?\[\\]", pattern, 1)[0].rstrip("/")
            if path.startswith(prefix):
                return False
    return True


def relocate_link(old: str, new: str, target: str) -> str:
    if old == new or target.startswith("/") or ".." not in target.split("/"):
        return target
    absolute = posixpath.normpath(posixpath.join("/", posixpath.dirname(old), target))
    return posixpath.relpath(absolute, posixpath.join("/", posixpath.dirname(new)))


def read_status(path: str | None) -> dict[str, str]:
    """dpkg status file -> {package key: stanza text}."""
    if not path:
        return {}
    stanzas = open(path).read().split("\n\n")
    return {_status_key(parse_stanza(s)): s.strip("\n") + "\n" for s in stanzas if s.strip()}


def _status_key(fields: dict[str, str]) -> str:
    name = fields["Package"]
    return f"{name}:{fields['Architecture']}" if fields.get("Multi-Arch") == "same" else name


def status_stanza(fields: dict[str, str], conffiles: dict[str, str]) -> str:
    out: dict[str, str] = {}
    for key, value in fields.items():
        out[key] = value
        if key == "Package":
            out["Status"] = "install ok installed"
    if conffiles:
        out["Conffiles"] = "".join(f"\n /{p} {h}" for p, h in conffiles.items())
    return format_stanza(out)


def _read_deb_file(path: str):
    with open(path, "rb") as f:
        return read_deb(f.read())


def build(spec: dict, out: str) -> None:
    # Read in parallel: most of the time is xz decompression, which releases the GIL.
    with ThreadPoolExecutor(threads()) as pool:
        debs = list(pool.map(_read_deb_file, spec["debs"]))
    debs.sort(key=lambda d: (d.package != "base-files", d.package))
    entries: dict[str, Entry] = {}
    status = read_status(spec.get("prevStatus"))
    new: set[str] = set()
    control: dict[str, dict[str, bytes]] = {}
    files: dict[str, list[str]] = {}

    for deb in debs:
        fields = deb.fields
        key = _status_key(fields)
        new.add(fields["Package"])
        control[fields["Package"]] = deb.control_files
        shipped = files.setdefault(fields["Package"], [])
        listed: list[str] = ["/."]
        for item in deb.entries:
            if slimmed(item.path, item.info.isdir() or item.info.issym()):
                continue
            listed.append("/" + item.path)
            path = usrmerge(item.path)
            if item.path in REDIRECTS:
                continue  # that directory is a symlink in the image
            info = item.info
            if info.issym():
                info.linkname = relocate_link(item.path, path, info.linkname)
            elif info.islnk():
                info.linkname = usrmerge(posixpath.normpath(info.linkname.removeprefix("./")))
            shipped.append(path)
            if info.isdir() and path in entries:
                continue  # first package to ship a directory sets its metadata, as dpkg does
            entries[path] = Entry(info, item.data)
        conffiles = {c.lstrip("/"): md5(entries[usrmerge(c.lstrip("/"))].data or b"")
                     for c in deb.conffiles if usrmerge(c.lstrip("/")) in entries}
        status[key] = status_stanza(fields, conffiles)
        info_dir = "var/lib/dpkg/info/"
        entries[info_dir + key + ".list"] = regular(info_dir + key + ".list", "".join(
            p + "\n" for p in listed).encode())
        for name in ("md5sums", "conffiles", "triggers", "shlibs", "symbols", "templates"):
            if name in deb.control_files:
                entries[info_dir + f"{key}.{name}"] = regular(info_dir + f"{key}.{name}", deb.control_files[name])

    installed = {s.split("\n", 1)[0].removeprefix("Package: ").strip() for s in status.values()}
    layer = maintainer.Layer(entries, new, installed, control, files)
    commands = maintainer.apply(layer)

    if spec.get("base"):
        for name in MERGED[:3] + ("lib64",):
            entries[name] = symlink(name, "usr/" + name)
            entries.setdefault("usr/" + name, directory("usr/" + name))
        entries["etc/dpkg/dpkg.cfg.d/docker"] = regular("etc/dpkg/dpkg.cfg.d/docker", SLIM_DPKG_CFG.encode())
        for name in ("available", "diversions", "statoverride"):
            entries["var/lib/dpkg/" + name] = regular("var/lib/dpkg/" + name, b"")
        # Database format 1: info files of Multi-Arch: same packages carry ":<arch>".
        entries["var/lib/dpkg/info/format"] = regular("var/lib/dpkg/info/format", b"1\n")

    status_text = "\n".join(status[k] for k in sorted(status))
    entries["var/lib/dpkg/status"] = regular("var/lib/dpkg/status", status_text.encode())
    for path in list(entries):
        parent = posixpath.dirname(path)
        while parent and parent not in entries:
            entries[parent] = directory(parent)
            parent = posixpath.dirname(parent)

    early = None
    if commands:
        # The tree goes to the disk while the commands run on /dev/shm; only what they change
        # is made again (layer_tree.Early).
        early = layer_tree.Early(entries, out, spec["epoch"])
        changed, group_file = configure(entries, layer.inputs, commands, spec)
        entries.update(changed)
        maintainer.set_group_modes(layer, group_file)
    layer_tree.write_tree(entries, out, spec["epoch"], early)
    with open(os.path.join(out, "dpkg-status"), "w") as f:
        f.write(status_text)


ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8"]


def configure(entries: dict[str, Entry], inputs: dict[str, bytes], commands: list[str],
              spec: dict) -> tuple[dict[str, Entry], str]:
    """Run the configure ``commands`` in a chroot of the lower layers plus ``entries``; return
    what they changed (maintainer.DISCARD left out) and the image's /etc/group after them.
    ``inputs`` are written for the commands to read and removed before the comparison.

    The lower layers come stacked (their trees, overlay.py) when they allow it. The commands
    are this module's own and run offline, so running them again is harmless: where one edits
    a lower layer's file in place (a store file, which the stack cannot write) and fails, the
    layers are unpacked and the commands run again."""
    run_spec = {"busybox": spec["busybox"], "env": ENV + [f"SOURCE_DATE_EPOCH={spec['epoch']}"],
                "commands": commands, "shell": ["/bin/sh", "-c"], "workdir": "/"}
    if spec.get("trees"):
        changed = _stacked(entries, inputs, run_spec, spec)
        if changed is not None:
            return changed
    root, headers = run_layer.unpacked(spec.get("lower", []), spec["epoch"],
                                       more=sum(entry.info.size for entry in entries.values()))
    _unpack_own(entries, root, headers, spec["epoch"])
    before = {path: run_layer.Was(info, run_layer.fingerprint(os.path.join(root, path)))
              for path, info in headers.items() if os.path.lexists(os.path.join(root, path))}
    for name, data in inputs.items():
        _write(os.path.join(root, name), data)
    run_layer.run(root, run_spec)
    for name in inputs:
        os.unlink(os.path.join(root, name))
    for name in sorted({posixpath.dirname(n) for n in inputs}, reverse=True):
        if name not in headers:
            os.rmdir(os.path.join(root, name))
    return _kept(run_layer.diff(root, before)), _read(os.path.join(root, "etc/group"))


def _unpack_own(entries: dict[str, Entry], root: str, headers: dict, epoch: int) -> None:
    """This layer onto ``root`` as run_layer.unpack would unpack its tar: made from its entries
    (run_layer.place) where that gives the same, else its tar, streamed to the unpacker as it is written
    (never compressed, never on disk: writing it out and reading it back cost more than the
    rest of the pass)."""
    if run_layer.placeable(entries, root):
        run_layer.place(entries, root, headers, epoch)
    else:
        run_layer.unpack(lambda sink: write_tar(entries, sink, epoch=epoch), root, headers, epoch)


def _stacked(entries: dict[str, Entry], inputs: dict[str, bytes], run_spec: dict,
             spec: dict) -> tuple[dict[str, Entry], str] | None:
    """:func:`configure` on the stacked lower layers, with this layer unpacked on top of them
    (a lower folder of its own); None when they cannot be stacked or a command failed."""
    lowers = overlay.trees(spec["trees"])
    if not isinstance(lowers, str):
        own = os.path.join(os.environ.get("TMPDIR", "/tmp"), "this-layer")
        os.makedirs(own)
        headers: dict = {}
        _unpack_own(entries, own, headers, spec["epoch"])
        lowers.append(overlay.Lower(own, headers))
    stack = overlay.stacked(lowers, os.path.join(spec["busybox"], "bin", "busybox"), spec["epoch"])
    if stack is None:
        return None
    # The commands read the inputs from the skeleton (a lower folder): never in the upper one.
    for name, data in inputs.items():
        _write(os.path.join(stack.skeleton, name), data)
    try:
        run_layer.run(stack.root, run_spec, stack)
    except SystemExit:
        print("nixbuild: a configure command failed on the stacked layers; unpacking them to run "
              "the commands again", flush=True)
        return None
    for name in inputs:
        for folder in (stack.skeleton, stack.upper):
            if os.path.lexists(os.path.join(folder, name)):
                os.unlink(os.path.join(folder, name))
    changed = overlay.diff(stack, run_layer.MOUNTS)
    group = stack.file("etc/group")
    return _kept(changed), _read(group) if group else ""


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _kept(changed: dict[str, Entry]) -> dict[str, Entry]:
    return {path: entry for path, entry in changed.items() if not maintainer.discarded(path)}


if __name__ == "__main__":
    run_builder(build)
