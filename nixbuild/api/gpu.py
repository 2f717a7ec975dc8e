"""Parsing of ``gpu=`` arguments (Modal's ``parse_gpu_config``).

Modal keeps no whitelist of GPU types: the string is split at the first ``:``, the count goes
through ``int()`` and the type is upper-cased. Whether a type exists is the build side's
question (only builders advertising it can run the step).
"""

from __future__ import annotations

from typing import Any

from nixbuild.api.model import FrozenModel
from nixbuild.errors import InvalidError


class GpuSpec(FrozenModel):
    """One GPU request: ``"h100:2"`` becomes ``GpuSpec(type="H100", count=2)``."""

    type: str
    count: int = 1

    def __repr__(self) -> str:
        return f"GpuSpec({self.type!r}, count={self.count})"


def parse_gpu(value: Any) -> GpuSpec | None:
    """Parse ``None`` or ``"TYPE"`` / ``"TYPE:N"`` with Modal's messages."""
    if value is None:
        return None
    return _parse_gpu_string(value)


def parse_gpu_choices(value: Any) -> tuple[GpuSpec, ...]:
    """``gpu=`` where a list of fallbacks is allowed (run_function, app functions).

    The first entry is the preferred GPU; the rest are tried in order.
    """
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(_parse_gpu_string(item) for item in value)
    return (_parse_gpu_string(value),)


def _parse_gpu_string(value: Any) -> GpuSpec:
    if not isinstance(value, str):
        raise InvalidError(f"Invalid GPU config: {value!r}. Value must be a string or `None`")
    gpu_type, count = value, 1
    if ":" in value:
        gpu_type, count_text = value.split(":", 1)
        try:
            count = int(count_text)
        except ValueError:
            raise InvalidError(f"Invalid GPU count: {count_text}. Value must be an integer.") from None
    if count < 0:
        # Modal's count is a protobuf uint32, whose setter raises this ValueError.
        raise ValueError(f"Value out of range: {count}")
    return GpuSpec(type=gpu_type.upper(), count=count)
