"""Schedules, retry policies and placement: configuration of deployed functions, recorded
and unused."""

from __future__ import annotations

from collections.abc import Sequence

from nixbuild.errors import InvalidError


class Schedule:
    """``modal.schedule.Schedule``: the base of :class:`Period` and :class:`Cron`."""


class Period(Schedule):
    """``modal.Period(days=1)``: run every fixed interval."""

    def __init__(self, *, years: int = 0, months: int = 0, weeks: int = 0, days: int = 0,
                 hours: int = 0, minutes: int = 0, seconds: float = 0):  # fmt: skip
        self.interval = dict(years=years, months=months, weeks=weeks, days=days,
                             hours=hours, minutes=minutes, seconds=seconds)  # fmt: skip

    def __repr__(self) -> str:
        parts = ", ".join(f"{unit}={value}" for unit, value in self.interval.items() if value)
        return f"modal.Period({parts})"


class Cron(Schedule):
    """``modal.Cron("0 9 * * *")``: run on a cron schedule."""

    def __init__(self, cron_string: str, timezone: str = "UTC"):
        if not isinstance(cron_string, str):
            raise InvalidError("cron_string must be a string")
        self.cron_string = cron_string
        self.timezone = timezone

    def __repr__(self) -> str:
        return f"modal.Cron({self.cron_string!r})"


class Retries:
    """``modal.Retries(max_retries=3, ...)``."""

    def __init__(self, *, max_retries: int, backoff_coefficient: float = 2.0,
                 initial_delay: float = 1.0, max_delay: float = 60.0):  # fmt: skip
        self.max_retries = max_retries
        self.backoff_coefficient = backoff_coefficient
        self.initial_delay = initial_delay
        self.max_delay = max_delay


class SchedulerPlacement:
    """``modal.SchedulerPlacement(region=..., zone=..., spot=..., instance_type=...)``."""

    def __init__(self, region: str | Sequence[str] | None = None, zone: str | None = None,
                 spot: bool | None = None, instance_type: str | Sequence[str] | None = None):  # fmt: skip
        self.region = region
        self.zone = zone
        self.spot = spot
        self.instance_type = instance_type
