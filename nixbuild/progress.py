"""A build's progress on a terminal: two bars, layers built and pinned files downloaded
(bytes as the lock gives them), under the progress lines; they go when the build ends.
Elsewhere (a pipe, a CI log, ``--json``) only the plain lines are printed, on stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from nixbuild.sizes import human_size
from nixbuild.tools.nixcmd import BuildCounts


@contextmanager
def meter(console: Console) -> Iterator[Callable[[BuildCounts], None] | None]:
    """A meter for Project.build: bars on ``console`` when it is a terminal, else None."""
    if not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[amount]}"),
                  console=console, transient=True) as bars:
        layers = bars.add_task("layers built", total=None, amount="")
        files = bars.add_task("downloaded  ", total=None, amount="", visible=False)

        def update(counts: BuildCounts) -> None:
            bars.update(layers, completed=counts.layers_done, total=counts.layers or None,
                        amount=f"{counts.layers_done}/{counts.layers}")
            amount = f"{counts.files_done}/{counts.files} files"
            if counts.bytes:
                amount += f", {human_size(counts.bytes_done)} of {human_size(counts.bytes)}"
            bars.update(files, completed=counts.files_done, total=counts.files or None, amount=amount,
                        visible=counts.files > 0)

        yield update
