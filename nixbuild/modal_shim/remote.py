"""Modal's server-side object classes and its runtime helpers, as stand-ins.

The classes only hand out handles (:mod:`nixbuild.modal_shim.handles`): ``modal.Dict.from_name``,
``modal.Client.from_credentials``, ``modal.FunctionCall.from_id``... The runtime helpers answer
as they do on a developer's machine, which is where app files are imported: ``is_local()``
is True, there is no current input, and output and configuration are left alone.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from nixbuild.modal_shim.handles import ClsHandle, RemoteHandle, ServerObject, stand_ins


class Cls(ServerObject):
    """``modal.Cls.from_name(app_name, name)``: a deployed class, whose ``with_options(...)``
    and instances are handles too."""

    handle_type = ClsHandle


# Server-side objects that only hand out handles (ServerObject).
Client, Cluster, Dict, Environment, FunctionCall, Mount, Proxy, Queue, SandboxSnapshot, Server, Tunnel, Workspace = (
    stand_ins("modal", "Client Cluster Dict Environment FunctionCall Mount Proxy Queue SandboxSnapshot Server Tunnel"
              " Workspace").values()
)  # fmt: skip

forward = RemoteHandle("modal.forward")
"""``with modal.forward(port):`` opens a tunnel from a running container: it raises here."""


def is_local() -> bool:
    """True: app files are imported here, never inside a Modal container."""
    return True


def enable_output(*args: Any, **kwargs: Any) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def interact() -> None:
    return None


def current_function_call_id() -> str | None:
    return None


def current_input_id() -> str | None:
    return None


class Config:
    """``modal.config.config``: nothing is configured for Modal here, so every key is None."""

    def get(self, key: str, profile: str | None = None, use_env: bool = True) -> Any:
        return None

    def override_locally(self, key: str, value: str) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {}


config = Config()
logger = logging.getLogger("modal-client")
