"""The no-op build: ``nixbuild build APP`` again with nothing changed answers from a stamp,
without loading the app, the lock models or Nix's evaluator (standard library only).

A build that may be answered again records, while it runs, what its result depends on, and
writes that down as a stamp (``.nixbuild/noop/<key>.json`` beside the app) once it succeeds:

- every file the process opened for reading and every folder it listed (an audit hook sees
  each ``open``, ``os.listdir`` and ``os.scandir``): the app and every module it imports, the
  lock, nixbuild's own code and its dependencies, the apt and pip configuration it read; and,
  named by the build, the files of each local-files step (whose hashes come from a cache
  keyed by stat, so they are not opened) and the nix/ library that nix-build reads;
- the folder of every file read beside the app, so a file that appears there (a
  ``.dockerignore``, a new module) counts as a change too;
- each environment variable the process looked up (present or not, through ``os.environ``)
  and every ``NIX*``, ``NIXBUILD_*`` and ``MODAL_*`` variable, with its value at the start;
- each out-link and history root with the store path it points at;
- what the build printed on stdout, and the warnings it gave (the replay gives them again:
  an ignored parameter is named on every build); its progress lines are not replayed, since
  they tell what that build did (a lock written, layers built), but one line per image that
  says it is unchanged.

A file counts as unchanged while its inode, size, mtime and ctime are (ctime cannot be set
back, so an edit that restores the mtime is still seen). The next ``build`` with the same
arguments, working folder and terminals replays the output when every recorded file,
folder and variable is as it was, every link still points at its path, and every path is
still valid in the Nix store (nixbuild/store/validity.py):
a valid path's whole closure is valid, so the image can be read and pushed. Anything else,
including a stamp that cannot be read, runs the full build, which writes a new stamp.

A build whose only changes are edited local files, which the build read only to hash them
(``unwatched``), is answered by the one-file edit (nixbuild/local/edit.py): their layers and
the image are made again here, and the stamp is rewritten; a stamp holds what that needs
(``edit``) only for a build that printed text, not ``--json``.

Builds that are never answered from a stamp: any option besides ``--image``, ``--lock``,
``--json`` and ``--frozen``; a chroot store (``--store`` or the ``store`` setting); a build that forces a step (force_build,
MODAL_FORCE_BUILD, MODAL_IGNORE_CACHE); one that skipped an image or failed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from nixbuild.store import validity

STAMP_VERSION = 2
PREFIXES = ("NIX", "MODAL_")  # NIX also covers NIXBUILD_
_ANSWERED_OPTIONS = {"--json": 0, "--frozen": 0, "--image": 1, "--lock": 1}
_UNWATCHED = ("/nix/store/", "/proc/", "/sys/", "/dev/")


def _app_of(argv: list[str]) -> str | None:
    """The APP of ``build APP [options]`` when every option is one a stamp can answer."""
    if not argv or argv[0] != "build":
        return None
    app, rest = None, argv[1:]
    while rest:
        arg = rest.pop(0)
        name = arg.split("=", 1)[0]
        if name in _ANSWERED_OPTIONS:
            if _ANSWERED_OPTIONS[name] and "=" not in arg:
                if not rest:
                    return None
                rest.pop(0)
        elif arg.startswith("-") or app is not None:
            return None
        else:
            app = arg
    return app


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode]


def _stamp_path(argv: list[str], app: str) -> Path:
    key = json.dumps([argv, os.getcwd(), sys.executable, sys.stdout.isatty(), sys.stderr.isatty()])
    folder = Path(os.path.abspath(app)).parent / ".nixbuild" / "noop"
    return folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")


def replay(argv: list[str]) -> bool:
    """Print a recorded build's output and return True when nothing it depends on changed."""
    app = _app_of(argv)
    if app is None:
        return False
    try:
        stamp = json.loads(_stamp_path(argv, app).read_text())
        if stamp.get("version") != STAMP_VERSION:
            return False
        env = stamp["env"]
        if any(os.environ.get(k) != v for k, v in env.items()):
            return False
        if any(k.startswith(PREFIXES) and k not in env for k in os.environ):
            return False
        stats = {path: _stat(path) for path in stamp["files"]}
        changed = [path for path, seen in stamp["files"].items() if stats[path] != seen]
        links = stamp["links"]
        if any(os.readlink(link) != target for link, target in links.items()):
            return False
        stdout = stamp["stdout"]
        stderr = stamp["warnings"] + "".join(f"• {line}\n" for line in stamp["progress"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    edit = None
    try:
        if changed:  # the edit's builders start first, and run while the store is asked
            edit = _start_edit(stamp, changed)
            if edit is None:
                return False
        if not validity.valid(sorted(set(links.values()))):
            return False
        if edit is not None:
            stdout, progress = _edited(argv, app, stamp, edit, stats)
            if stdout is None:
                return False
            stderr = stamp["warnings"] + "".join(f"• {line}\n" for line in progress)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    finally:
        if edit is not None:
            edit.cancel()
    sys.stderr.write(stderr)
    sys.stderr.flush()
    sys.stdout.write(stdout)
    sys.stdout.flush()
    return True


def unchanged_line(image: str, store_path: str) -> str:
    """The progress line a replay prints for each image."""
    return f"image {image!r} is unchanged since the last build: {store_path}"


def _start_edit(stamp: dict, changed: list[str]):
    """The one-file edit (nixbuild/local/edit.py) of these ``changed`` files, started; None
    when it cannot answer."""
    edit = stamp.get("edit")
    if edit is None:
        return None
    from nixbuild.local import edit as local_edit

    return local_edit.start(edit, changed)


def _edited(argv: list[str], app: str, stamp: dict, started, stats: dict[str, list[int] | None]
            ) -> tuple[str | None, list[str]]:
    """Finish the one-file edit ``started``: its stdout and progress lines, with the stamp
    rewritten; (None, []) when it cannot answer."""
    from nixbuild.local import edit as local_edit

    answered = started.finish()
    if answered is None:
        return None, []
    links, progress = answered
    replaced = {stamp["links"][link] for link in links if link in stamp["links"]}
    stamp["links"] = {k: v for k, v in stamp["links"].items() if v not in replaced} | links
    stamp["files"] = stats  # as they were before the edit read them: a later write is a change
    edit = stamp["edit"]
    stamp["stdout"] = local_edit.stdout(edit)
    stamp["progress"] = [unchanged_line(image["name"], stamp["links"][image["link"]]) for image in edit["images"]]
    _write(_stamp_path(argv, app), stamp)
    return stamp["stdout"], progress


class _Tee:
    """A text stream that keeps a copy of what is written through it."""

    def __init__(self, stream):
        self._stream = stream
        self.written: list[str] = []

    def write(self, text: str) -> int:
        count = self._stream.write(text)  # first: click probes with bytes, which must fail here too
        self.written.append(text)
        return count

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class Recording:
    """What one build read, from its start (``begin``) to its stamp (``commit``)."""

    def __init__(self, argv: list[str], app: str):
        self.argv, self.app = list(argv), app
        self.active = True
        self.hashing = False  # inside unwatched()
        self.read: set[str] = set()
        self.listed: set[str] = set()
        self.env_keys: set[str] = set()
        self.env_at_start = dict(os.environ)
        self.stdout = _Tee(sys.stdout)
        self.warned: list[str] = []

    def audit(self, event: str, args: tuple) -> None:
        if not self.active or self.hashing:
            return
        if event == "open":
            path, mode, flags = args
            if isinstance(mode, str):
                reading = "r" in mode or "+" in mode
            else:
                reading = (flags or 0) & os.O_ACCMODE != os.O_WRONLY
            if reading and isinstance(path, (str, bytes)):
                self.read.add(os.path.abspath(os.fsdecode(path)))
        elif event in ("os.listdir", "os.scandir"):
            path = args[0] if args and args[0] is not None else "."
            if isinstance(path, (str, bytes)):
                self.listed.add(os.path.abspath(os.fsdecode(path)))

    def showwarning(self, shown, message, category, filename, lineno, file=None, line=None) -> None:
        if self.active and file is None:
            self.warned.append(warnings.formatwarning(message, category, filename, lineno, line))
        shown(message, category, filename, lineno, file, line)

    def stamp(self, links: dict[str, str], watched: list[str], progress: list[str]) -> dict:
        app_dir = os.path.dirname(os.path.abspath(self.app)) + os.sep
        files = {p for p in self.read | self.listed | set(watched) if not p.startswith(_UNWATCHED)}
        # A file that appears beside the app where the build looked for one (a .dockerignore,
        # a module) changes the folder: watch the folders of what was read there.
        files |= {os.path.dirname(p) for p in self.read if p.startswith(app_dir)}
        stamp_dir = str(_stamp_path(self.argv, self.app).parent)
        files = {p for p in files if not p.startswith(stamp_dir)}
        env = {k: self.env_at_start.get(k) for k in self.env_keys}
        env.update({k: v for k, v in self.env_at_start.items() if k.startswith(PREFIXES)})
        return {"version": STAMP_VERSION, "argv": self.argv, "env": env,
                "files": {p: _stat(p) for p in sorted(files)}, "links": links,
                "stdout": "".join(self.stdout.written), "warnings": "".join(self.warned), "progress": progress}


_recording: Recording | None = None


@contextlib.contextmanager
def unwatched() -> Iterator[None]:
    """Files opened meanwhile are not counted as read: the local files being hashed, which
    the stamp watches by their stats anyway, and which the one-file edit may remake only when
    the build did not otherwise open them (an app importing its own module would change)."""
    recording = _recording
    if recording is None:
        yield
        return
    recording.hashing = True
    try:
        yield
    finally:
        recording.hashing = False


def _watch_environ(recording: Recording) -> None:
    """Make ``os.environ`` note each variable looked up (the same object, so references to
    it that modules already hold see the same). A copy of the whole environment (a child's)
    iterates it, then reads each key in that order: those reads are not lookups."""
    base = type(os.environ)
    iterated: deque[str] = deque()  # keys handed out by iteration, not yet read

    class Watched(base):
        def __getitem__(self, key):
            if iterated and iterated[0] == key:
                iterated.popleft()
            elif recording.active and isinstance(key, str):
                recording.env_keys.add(key)
            return base.__getitem__(self, key)

        def __iter__(self):
            for key in base.__iter__(self):
                iterated.append(key)
                yield key

    os.environ.__class__ = Watched


def begin(argv: list[str]) -> bool:
    """At the start of the command: True when a stamp answered it (the output is printed);
    otherwise start recording when a stamp may answer it next time."""
    global _recording
    if os.environ.get("NIXBUILD_NO_NOOP") or _app_of(argv) is None or validity.chroot_store():
        return False
    if replay(argv):
        return True
    _recording = Recording(argv, _app_of(argv))
    sys.addaudithook(_recording.audit)
    _watch_environ(_recording)
    sys.stdout = _recording.stdout
    warnings.showwarning = functools.partial(_recording.showwarning, warnings.showwarning)
    return False


def commit(links: dict[str, str], watched: list[str], progress: list[str], edit: dict | None = None) -> None:
    """Write the stamp of this build (a successful one that a stamp may answer): ``links``
    maps each out-link and root to its store path; ``watched`` are files the build depends on
    without opening them; ``progress``, the lines a replay prints on stderr; ``edit``, what
    the one-file edit needs (nixbuild/local/edit.py), which gets the files the build opened.
    Without a recording (nixbuild used as a library) it does nothing."""
    global _recording
    recording, _recording = _recording, None
    if recording is None:
        return
    recording.active = False
    sys.stdout.flush()
    stamp = recording.stamp(links, watched, progress)
    if edit is not None:
        stamp["edit"] = {**edit, "read": sorted(p for p in recording.read if not p.startswith(_UNWATCHED))}
    _write(_stamp_path(recording.argv, recording.app), stamp)


def _write(path: Path, stamp: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(stamp))
    os.replace(partial, path)


def discard() -> None:
    """This build may not be answered from a stamp (forced steps, a chroot store, skipped
    images): stop recording, and remove a stamp that an earlier build left."""
    global _recording
    recording, _recording = _recording, None
    if recording is not None:
        recording.active = False
        _stamp_path(recording.argv, recording.app).unlink(missing_ok=True)
