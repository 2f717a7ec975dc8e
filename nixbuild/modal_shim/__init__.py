"""A stand-in for the ``modal`` package, installed while nixbuild imports an app file.

It provides what app files use at import time: ``Image`` (nixbuild's), ``Secret``, ``App``
and its decorators, ``Volume``, the method/web decorators, schedules, and handles for
server-side objects. Decorated functions remain plain local callables. See
:mod:`nixbuild.modal_shim.activate` for how it replaces ``modal``.
"""

from nixbuild.api import (
    AUTO_DOCKERIGNORE,
    CloudBucketMount,
    FilePatternMatcher,
    Image,
    NetworkFileSystem,
    Secret,
    Volume,
)
from nixbuild.modal_shim import exception, file_pattern_matcher
from nixbuild.modal_shim.app import App, Function
from nixbuild.modal_shim.decorators import (
    asgi_app,
    batched,
    build,
    concurrent,
    enter,
    exit,
    fastapi_endpoint,
    method,
    parameter,
    web_endpoint,
    web_server,
    wsgi_app,
)
from nixbuild.modal_shim.remote import (
    Cls,
    Dict,
    Queue,
    Sandbox,
    current_function_call_id,
    current_input_id,
    enable_output,
    interact,
    is_local,
)
from nixbuild.modal_shim.schedule import Cron, Period, Retries

__version__ = "1.6.4"  # the Modal release whose API this mirrors


def __getattr__(name: str) -> object:
    # Say whose module this is: a plain "no attribute" would suggest the real client is broken.
    raise AttributeError(
        f"module 'modal' has no attribute {name!r}: while nixbuild imports an app file, `modal` is"
        " nixbuild's stand-in, which provides what app files use at import time"
    )

__all__ = [
    "AUTO_DOCKERIGNORE",
    "App",
    "CloudBucketMount",
    "Cls",
    "Cron",
    "Dict",
    "FilePatternMatcher",
    "Function",
    "Image",
    "NetworkFileSystem",
    "Period",
    "Queue",
    "Retries",
    "Sandbox",
    "Secret",
    "Volume",
    "asgi_app",
    "batched",
    "build",
    "concurrent",
    "current_function_call_id",
    "current_input_id",
    "enable_output",
    "enter",
    "exception",
    "exit",
    "fastapi_endpoint",
    "file_pattern_matcher",
    "interact",
    "is_local",
    "method",
    "parameter",
    "web_endpoint",
    "web_server",
    "wsgi_app",
]
