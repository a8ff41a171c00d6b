"""The terminal view of a running experiment or sweep: a line saying how many points are done
already and where they run, then a progress bar counting points done, in flight and failed."""
from __future__ import annotations

from pathlib import Path

__all__ = ["PointsProgress"]


class PointsProgress:
    """A rich progress bar for :func:`otc_emu.experiments.run` (the runner's ``Progress``).
    Quiet: no line before the bar. The bar shows only on a terminal with colour (``--no-color``
    and captured output stay plain); a failed point is printed with its error unless quiet."""

    def __init__(self, console, name: str, quiet: bool = False):
        self.console, self.name, self.quiet = console, name, quiet
        self.done = self.in_flight = self.failed = 0
        self._progress = None
        self._task = None

    def start(self, total: int, todo: int, path: Path, executor: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        if not self.quiet:
            self.console.print(f"{total} points: {total - todo} already done in {path} (skipped), {todo} to run"
                               + (f" on {executor}" if todo else ""), soft_wrap=True)
        enabled = self.console.is_terminal and not self.console.no_color
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                  console=self.console, transient=True, disable=not enabled)
        self._progress.start()
        self._task = self._progress.add_task(self.name, total=todo, counts=self._counts())

    def _counts(self) -> str:
        return f"done {self.done}, in flight {self.in_flight}, failed {self.failed}"

    def started(self, description: str) -> None:
        self.in_flight += 1
        self._progress.update(self._task, description=f"{self.name}: {description}", counts=self._counts())

    def finished(self, description: str, error: str | None) -> None:
        self.in_flight -= 1
        if error is None:
            self.done += 1
        else:
            self.failed += 1
            from rich.markup import escape

            if not self.quiet:
                self._progress.console.print(f"[red]failed[/red] {escape(description)}: {escape(error)}",
                                             soft_wrap=True)
        self._progress.update(self._task, advance=1, counts=self._counts())

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
