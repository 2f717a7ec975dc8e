"""Where a snapshot mirror keeps a pinned .deb after the configured mirror dropped it.

Debian's security archive keeps only the newest version of a package, and point releases
remove superseded ones from the main archive, so a lock a year old names .debs no mirror
serves any more. A snapshot mirror serves the archive as it was at a time: one base URL per
archive and timestamp. ``NIXBUILD_DEBIAN_SNAPSHOT`` is its URL template, with ``{archive}``
(``debian``, ``debian-security``) and ``{timestamp}`` (``YYYYMMDDTHHMMSSZ``, UTC), e.g.
``http://HOST/archive/{archive}/{timestamp}/``. The timestamp comes from the lock: the Date
of the newest signed index of that archive the lock was resolved against (every pinned .deb
was in that index). A snapshot service imports an archive some hours after it is published,
so the same path one day later is tried as well.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from nixbuild.debian.index import SuiteSnapshot
from nixbuild.errors import MirrorError

SNAPSHOT_ENV = "NIXBUILD_DEBIAN_SNAPSHOT"
IMPORT_DELAY = timedelta(days=1)
DEBIAN_ARCHIVES = ("debian", "debian-security")


def template() -> str | None:
    """The configured URL template, checked; None when no snapshot mirror is configured."""
    value = os.environ.get(SNAPSHOT_ENV, "").strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://", "file:")) or "{timestamp}" not in value:
        raise MirrorError(f"{SNAPSHOT_ENV}={value!r} is not a snapshot mirror URL template",
                          fix=f"set {SNAPSHOT_ENV} to an http(s) URL with {{archive}} and {{timestamp}}, "
                              "e.g. http://HOST/archive/{archive}/{timestamp}/")
    return value


def timestamp(date: str) -> datetime:
    """An InRelease ``Date`` (RFC 2822, UTC) as a datetime."""
    try:
        return parsedate_to_datetime(date).astimezone(timezone.utc)
    except (TypeError, ValueError):
        raise MirrorError(f"the lock's index date {date!r} is not an RFC 2822 date",
                          fix="re-lock with `nixbuild lock --update`") from None


def snapshot_urls(archive: str, path: str, snapshots: list[SuiteSnapshot]) -> list[str]:
    """The URLs where the configured snapshot mirror may serve ``archive``'s ``path`` as the
    lock saw it (none when no snapshot mirror is configured or the lock has no index of it)."""
    if archive not in DEBIAN_ARCHIVES:  # the template is a Debian snapshot mirror's (an Ubuntu pin has none)
        return []
    url_template = template()
    dates = [timestamp(s.date) for s in snapshots if s.archive == archive]
    if url_template is None or not dates:
        return []
    newest = max(dates)
    urls = []
    for when in (newest, newest + IMPORT_DELAY):
        base = url_template.format(archive=archive, timestamp=when.strftime("%Y%m%dT%H%M%SZ"))
        urls.append(base.rstrip("/") + "/" + path)
    return urls
