"""``modal.exception``: the exception types app files catch or raise.

``InvalidError`` is nixbuild's own, so an error raised by an Image method inside an app file
reaches the CLI as a nixbuild error with its message.
"""

from nixbuild.api.build_function import LocalFunctionError
from nixbuild.errors import InvalidError
from nixbuild.errors import NixbuildError as Error

__all__ = [
    "AuthError",
    "ConnectionError",
    "DeprecationError",
    "Error",
    "ExecutionError",
    "FunctionTimeoutError",
    "InvalidError",
    "LocalFunctionError",
    "NotFoundError",
    "RemoteError",
    "VersionError",
]


class NotFoundError(Error):
    pass


class ExecutionError(Error):
    pass


class RemoteError(Error):
    pass


class VersionError(Error):
    pass


class AuthError(Error):
    pass


class ConnectionError(Error):
    pass


class FunctionTimeoutError(Error):
    pass


class DeprecationError(UserWarning):
    pass
