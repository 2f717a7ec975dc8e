"""``modal.Sandbox`` and what it hands back: the image is recorded, nothing runs.

``Sandbox.create(..., image=img)`` is often the only place an app file uses an image (code
runners, agents). Each call records a :class:`SandboxSpec`, from which the loader reports the
image (:mod:`nixbuild.loader` says under which name), and returns a :class:`Sandbox` that runs
nothing. What its methods do is chosen so that a script creating and driving a sandbox at
import time loads, and so that nothing made up is passed off as data:

* acting on the sandbox -- ``wait``, ``wait_until_ready``, ``terminate``, ``detach``,
  ``set_tags``, ``reload_volumes``, and ``write``/``write_eof``/``drain`` on ``stdin`` --
  does nothing;
* the sandbox, and each ``exec(...)`` (a :class:`ContainerProcess`), behave as a process that
  has exited 0 without output: ``returncode`` and ``poll()`` are 0 (polling loops end),
  ``stdout.read()`` is empty, iterating ``stdout`` yields nothing;
* ``get_tags()`` gives the tags passed to ``create``; ``Sandbox.list()`` yields nothing;
  ``from_id``/``from_name`` give such a Sandbox too (with no image: none is recorded);
* what only a running sandbox knows -- ``tunnels()``, ``open()``, ``filesystem``,
  ``snapshot_filesystem()``, ``object_id``, any other attribute -- raises InvalidError saying
  it needs Modal's servers.

As in Modal, ``create`` needs ``app=``, an App from ``modal.App.lookup``, and runs on Modal's
default ``debian_slim()`` image when given none.
"""

from __future__ import annotations

import enum
import subprocess
from collections.abc import Iterator
from typing import Any

from pydantic import ConfigDict

from nixbuild.api.image import Image
from nixbuild.api.model import FrozenModel
from nixbuild.errors import InvalidError
from nixbuild.modal_shim.app import App, check_image, default_image
from nixbuild.modal_shim.handles import RemoteHandle, describe_call
from nixbuild.modal_shim.recording import Recorder


class SandboxSpec(FrozenModel):
    """What one ``modal.Sandbox.create`` call recorded for the loader: the image it runs on
    (Modal's default one when none was given) and its ``name=``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)  # Image is checked with isinstance

    image: Image
    name: str | None = None


_sandboxes: Recorder[SandboxSpec] = Recorder()
recording_sandboxes = _sandboxes.recording
"""Collect the :class:`SandboxSpec` of every sandbox created inside the block, in order."""


class StreamType(enum.Enum):
    """``modal.stream_type.StreamType``: where ``exec`` sends a stream."""

    DEVNULL = subprocess.DEVNULL
    PIPE = subprocess.PIPE
    STDOUT = subprocess.STDOUT


def _does_nothing(*args: Any, **kwargs: Any) -> None:
    return None


class StreamReader:
    """``stdout``/``stderr`` of a process that printed nothing (``str``, or ``bytes`` for
    ``exec(..., text=False)``)."""

    def __init__(self, text: bool = True):
        self._empty: str | bytes = "" if text else b""

    def read(self) -> str | bytes:
        return self._empty

    def __iter__(self) -> Iterator[str | bytes]:
        return iter(())

    def __aiter__(self) -> StreamReader:
        return self

    async def __anext__(self) -> str | bytes:
        raise StopAsyncIteration


class StreamWriter:
    """``stdin``: what is written goes nowhere."""

    write = write_eof = drain = _does_nothing


class _FinishedProcess(RemoteHandle):
    """A process that has exited 0 without output; other attributes raise (RemoteHandle)."""

    returncode = 0

    def __init__(self, description: str, *, text: bool = True):
        super().__init__(description)
        self.stdout = StreamReader(text)
        self.stderr = StreamReader(text)
        self.stdin = StreamWriter()

    def poll(self) -> int:
        return self.returncode


class ContainerProcess(_FinishedProcess):
    """What ``Sandbox.exec`` returns."""

    def wait(self) -> int:
        return self.returncode

    attach = _does_nothing


class Sandbox(_FinishedProcess):
    """``modal.Sandbox``: see the module docstring for what each method does."""

    def __init__(self, description: str, tags: dict[str, str] | None = None):
        super().__init__(description)
        self._tags = dict(tags or {})

    @staticmethod
    def create(
        *args: str,
        app: App | None = None,
        name: str | None = None,
        tags: dict[str, str] | None = None,
        image: Image | None = None,
        **options: Any,
    ) -> Sandbox:
        _check_app(app)
        checked_image = check_image(image)
        _sandboxes.add(SandboxSpec(image=checked_image or default_image(), name=name))
        return Sandbox(describe_call("modal.Sandbox.create", args), tags)

    @staticmethod
    def from_id(sandbox_id: str, **kwargs: Any) -> Sandbox:
        return Sandbox(describe_call("modal.Sandbox.from_id", (sandbox_id,)))

    @staticmethod
    def from_name(app_name: str, name: str, **kwargs: Any) -> Sandbox:
        return Sandbox(describe_call("modal.Sandbox.from_name", (app_name, name)))

    @staticmethod
    def list(**kwargs: Any) -> Iterator[Sandbox]:
        return iter(())

    def exec(self, *args: str, text: bool = True, **kwargs: Any) -> ContainerProcess:
        return ContainerProcess(describe_call(f"{self._description}.exec", args), text=text)

    def get_tags(self) -> dict[str, str]:
        return dict(self._tags)

    wait = wait_until_ready = terminate = detach = set_tags = reload_volumes = _does_nothing


def _check_app(app: Any) -> None:
    """Modal's checks: an App is required outside a Modal container, and it must exist on
    Modal (``App.lookup``), not just be constructed."""
    if app is None:
        raise InvalidError(
            "Sandboxes require an App when created outside of a Modal container.",
            fix='reference a deployed App: `app = modal.App.lookup("sandbox-app", create_if_missing=True)`,'
            " then `modal.Sandbox.create(..., app=app)`",
        )
    if not isinstance(app, App):
        raise InvalidError(f"Expected modal.App object. Got {type(app)}.")
    if not app.looked_up:
        raise InvalidError(
            "App has not been initialized yet. To create an App lazily, use `App.lookup`",
            fix="app = modal.App.lookup('my-app', create_if_missing=True)",
        )


class Probe:
    """``modal.Probe.with_tcp(port)`` / ``modal.Probe.with_exec(*argv)``: a readiness check,
    recorded."""

    def __init__(self, kind: str, target: Any, interval_ms: int):
        self.kind = kind
        self.target = target
        self.interval_ms = interval_ms

    @classmethod
    def with_tcp(cls, port: int, *, interval_ms: int = 100) -> Probe:
        return cls("tcp", port, interval_ms)

    @classmethod
    def with_exec(cls, *argv: str, interval_ms: int = 100) -> Probe:
        return cls("exec", argv, interval_ms)
