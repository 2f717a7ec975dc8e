"""The Python version a base step asks for, checked lazily as Modal does.

Modal checks ``python_version``/``add_python`` only when it renders the Dockerfile, so an
Image with a bad version can be defined and fails when built. The build side calls
:func:`python_series` at that point; which series are *supported* is the build side's
decision (it knows which interpreters it can provide).
"""

from __future__ import annotations

import re
import sys

from nixbuild.api.steps import DebianSlim, FromDockerfile, FromRegistry, Micromamba, Step
from nixbuild.errors import InvalidError

_VERSION_FORMAT = re.compile(r"^3(?:\.\d{1,2}){1,2}(rc\d*)?t?$")


def local_python_version() -> str:
    """``major.minor`` of this interpreter: what ``python_version=None`` means."""
    return "{}.{}".format(*sys.version_info)


def python_series(step: Step) -> str | None:
    """The ``major.minor`` series (``"3.12"``, ``"3.14t"``) the step's base Python belongs to.

    ``None`` when the step brings no Python of its own (a registry image or Dockerfile without
    ``add_python``, ``from_scratch``, or a step that is not a base). Raises InvalidError with
    Modal's messages for a malformed version, a free-threaded build where it is refused, and a
    micro version given to ``add_python``.
    """
    if isinstance(step, (DebianSlim, Micromamba)):
        caller = "Image.debian_slim" if isinstance(step, DebianSlim) else "Image.micromamba"
        return _series(step.python_version_resolved, allow_micro=True, allow_free_threading=False, caller=caller)
    if isinstance(step, (FromRegistry, FromDockerfile)) and step.add_python is not None:
        return _series(step.add_python, allow_micro=False, allow_free_threading=True, caller="")
    return None


def _series(version: str, *, allow_micro: bool, allow_free_threading: bool, caller: str) -> str:
    if not _VERSION_FORMAT.match(version):
        raise InvalidError(f"Invalid Python version: {version!r}")
    if not allow_free_threading and version.endswith("t"):
        context = f"with {caller}" if caller else ""
        raise InvalidError(f"Free threaded Python is not supported {context}")
    components = version.split(".")
    if len(components) == 3 and not allow_micro:
        raise InvalidError(
            "Python version must be specified as 'major.minor' for this interface;"
            f" micro-level specification ({version!r}) is not valid."
        )
    # Modal keeps the "t" of a micro version ("3.14.2t" -> "3.14t"); a series keeps its own.
    suffix = "t" if len(components) == 3 and version.endswith("t") else ""
    return f"{components[0]}.{components[1]}{suffix}"
