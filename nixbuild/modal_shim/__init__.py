"""A stand-in for the ``modal`` package, installed while nixbuild imports an app file.

App files are imported as ``modal run`` imports them, so everything they may touch at import
time must exist: every name in modal 1.6.4's ``__all__`` and its public submodules
(:mod:`nixbuild.modal_shim.submodules`). What matters to nixbuild is recorded: ``Image`` is
nixbuild's, Apps and their decorators record which image each function uses
(:mod:`~nixbuild.modal_shim.app`), ``Sandbox.create`` records its image
(:mod:`~nixbuild.modal_shim.sandboxes`). Everything else is inert: decorated functions remain
plain local callables, and server-side objects are handles that raise only when used
(:mod:`~nixbuild.modal_shim.handles`). See :mod:`nixbuild.modal_shim.activate` for how it
replaces ``modal``.
"""

from typing import Any

from nixbuild.api import (
    AUTO_DOCKERIGNORE,
    CloudBucketMount,
    FilePatternMatcher,
    Image,
    NetworkFileSystem,
    Secret,
    Volume,
)
from nixbuild.modal_shim import exception, file_pattern_matcher, submodules
from nixbuild.modal_shim.app import App, Function
from nixbuild.modal_shim.decorators import (
    asgi_app,
    batched,
    build,
    clustered,
    concurrent,
    enter,
    exit,
    fastapi_endpoint,
    method,
    parameter,
    sessioned,
    web_endpoint,
    web_server,
    wsgi_app,
)
from nixbuild.modal_shim.exception import Error
from nixbuild.modal_shim.remote import (
    Client,
    Cls,
    Cluster,
    Dict,
    Environment,
    FunctionCall,
    Proxy,
    Queue,
    SandboxSnapshot,
    Server,
    Tunnel,
    Workspace,
    current_function_call_id,
    current_input_id,
    enable_output,
    forward,
    interact,
    is_local,
)
from nixbuild.modal_shim.sandboxes import Probe, Sandbox
from nixbuild.modal_shim.schedules import Cron, Period, Retries, SchedulerPlacement

__version__ = "1.6.4"  # the Modal release whose API this mirrors


def __getattr__(name: str) -> Any:
    # Modal imports its submodules, so `modal.experimental` works after a bare `import modal`.
    built = submodules.module(name)
    if built is None:
        raise submodules.no_attribute("modal", name)
    return built


# modal 1.6.4's __all__, then the shim's files that are Modal submodules, then what the shim
# keeps for older apps (`modal.build`, gone from modal 1.x, and AUTO_DOCKERIGNORE, which
# modal only has in a private module).
__all__ = [
    "__version__",
    "App",
    "Client",
    "Cluster",
    "Cls",
    "Cron",
    "Dict",
    "Environment",
    "Error",
    "FilePatternMatcher",
    "Function",
    "FunctionCall",
    "Image",
    "NetworkFileSystem",
    "Period",
    "Probe",
    "Proxy",
    "Queue",
    "Retries",
    "CloudBucketMount",
    "Sandbox",
    "SandboxSnapshot",
    "SchedulerPlacement",
    "Secret",
    "Server",
    "Tunnel",
    "Volume",
    "Workspace",
    "asgi_app",
    "batched",
    "billing",
    "clustered",
    "concurrent",
    "current_function_call_id",
    "current_input_id",
    "enable_output",
    "enter",
    "exit",
    "experimental",
    "fastapi_endpoint",
    "forward",
    "is_local",
    "interact",
    "method",
    "parameter",
    "sessioned",
    "types",
    "web_endpoint",
    "web_server",
    "wsgi_app",
    "exception",
    "file_pattern_matcher",
    "build",
    "AUTO_DOCKERIGNORE",
]
