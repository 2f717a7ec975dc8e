"""Record what an app file creates while it is imported.

Some objects that carry images are not reachable from the app module's globals: an App made
in a helper module, a Sandbox whose handle is dropped. The shim appends them to a
:class:`Recorder` as they are created, and the loader reads the list after the import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Recorder(Generic[T]):
    """Collects items only inside :meth:`recording`; outside it (an App built by a test or a
    library) nothing is kept, so nothing leaks from one load into the next."""

    def __init__(self) -> None:
        self._items: list[T] | None = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[T]]:
        """The items added inside the block, in order (blocks may nest: the inner one wins)."""
        previous, self._items = self._items, []
        try:
            yield self._items
        finally:
            self._items = previous

    def add(self, item: T) -> None:
        if self._items is not None:
            self._items.append(item)
