"""``modal.exception``: the exception types app files catch or raise.

``InvalidError`` is nixbuild's own, so an error raised by an Image method inside an app file
reaches the CLI as a nixbuild error with its message; ``Error`` is nixbuild's base error, so
``except modal.exception.Error`` catches it too. The other classes are Modal 1.6.4's tree
below them, built from :data:`_TREE` rather than spelled out one by one: nothing raises
them here, app files only name them in ``except`` clauses.
"""

from nixbuild.api.build_function import LocalFunctionError
from nixbuild.errors import InvalidError
from nixbuild.errors import NixbuildError as Error
from nixbuild.modal_shim.handles import RemoteHandle

# {class name: base class name}, a base before the classes derived from it.
_TREE = {
    **dict.fromkeys(
        "AlreadyExistsError AuthError InternalError DataLossError NotFoundError PermissionDeniedError"
        " ResourceExhaustedError ServiceError UnimplementedError RemoteError WorkspaceManagementError"
        " TimeoutError SnapshotCreationError SandboxTerminatedError LogsFetchError ConnectionError"
        " VersionError ExecutionError DeserializationError SerializationError RequestSizeError"
        " InternalFailure ClientClosed SandboxFilesystemError".split(),
        "Error",
    ),
    "ConflictError": "InvalidError",
    "ImageBuildError": "RemoteError",
    **dict.fromkeys(
        "SandboxTimeoutError ExecTimeoutError FunctionTimeoutError MountUploadTimeoutError"
        " VolumeUploadTimeoutError InteractiveTimeoutError OutputExpiredError".split(),
        "TimeoutError",
    ),
    **dict.fromkeys(
        "SandboxFilesystemNotFoundError SandboxFilesystemDirectoryNotEmptyError"
        " SandboxFilesystemIsADirectoryError SandboxFilesystemNotADirectoryError"
        " SandboxFilesystemPermissionError SandboxFilesystemFileTooLargeError"
        " SandboxFilesystemPathAlreadyExistsError".split(),
        "SandboxFilesystemError",
    ),
    **dict.fromkeys("DeprecationError ServerWarning AsyncUsageWarning InternalAPIWarning".split(), "UserWarning"),
    "InputCancellation": "BaseException",
    "ModuleNotMountable": "Exception",
    "UserCodeException": "Exception",
}

_BASES: dict[str, type] = {
    "Error": Error,
    "InvalidError": InvalidError,
    "UserWarning": UserWarning,
    "BaseException": BaseException,
    "Exception": Exception,
}
for _name, _base in _TREE.items():
    _BASES[_name] = globals()[_name] = type(_name, (_BASES[_base],), {"__module__": __name__})

simulate_preemption = RemoteHandle("modal.exception.simulate_preemption")

__all__ = ["Error", "InvalidError", "LocalFunctionError", "simulate_preemption", *_TREE]
