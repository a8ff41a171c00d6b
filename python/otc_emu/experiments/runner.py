"""Running an experiment: its points not yet in the store measured by an executor (in this
process, local workers or Ray), each stored by the driver as it finishes; then its table and
output files."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .executors import Executor, InProcess
from .experiment import Experiment
from .plot import plot, require_matplotlib
from .registry import get
from .render import write_outputs
from .store import Store

__all__ = ["Outcome", "Progress", "run", "run_experiment"]


class Progress(Protocol):
    """What the runner reports while it works (the CLI shows it as a progress bar)."""

    def start(self, total: int, todo: int, path: Path, executor: str) -> None: ...

    def started(self, description: str) -> None: ...

    def finished(self, description: str, error: str | None) -> None: ...


@dataclass
class Outcome:
    """What :func:`run` did: the table of the finished points, how many points ran, were found
    done or failed (with their errors), and the files written."""

    experiment: Experiment
    columns: list[tuple[str, str]]
    rows: list[dict]
    ran: int
    skipped: int
    files: list[Path]
    failed: list[tuple[dict, str]] = field(default_factory=list)


def run(name: str, directory: Path | str, options: dict | None = None, progress: Progress | None = None,
        plot_png: bool = False, executor: Executor | None = None) -> Outcome:
    """Run (or resume) experiment ``name`` with results in ``directory``; see the module docs."""
    return run_experiment(get(name, options), directory, progress, plot_png, executor)


def run_experiment(exp: Experiment, directory: Path | str, progress: Progress | None = None, plot_png: bool = False,
                   executor: Executor | None = None) -> Outcome:
    """Run (or resume) ``exp``: the points not in ``directory``'s store run on ``executor``
    (default: in this process), each stored as it finishes; a failed point is stored with its
    error and the run goes on (a re-run tries it again). The table covers the finished points."""
    if plot_png:
        require_matplotlib()  # fail before the work, not after
    executor = executor or InProcess()
    directory = Path(directory)
    points = exp.points(exp.options or {})
    store = Store(directory, exp)
    todo = [p for p in points if not store.done(p)]
    if progress is not None:
        progress.start(len(points), len(todo), store.path, executor.describe())
    started = (lambda i: progress.started(exp.describe(todo[i]))) if progress is not None else None
    failed = []
    for finished in executor.map(exp.measure, todo, started):
        p = todo[finished.index]
        if finished.error is None:
            store.add(p, finished.result)
        else:
            store.fail(p, finished.error)
            failed.append((p, finished.error))
        if progress is not None:
            progress.finished(exp.describe(p), finished.error)
    done = [p for p in points if store.done(p)]
    columns, rows = exp.table(done, [store.result(p) for p in done]) if done else ([], [])
    entries = [{"params": p, "result": store.result(p)} if store.done(p) else {"params": p, "error": store.error(p)}
               for p in points]
    files = write_outputs(exp.name, columns, rows, directory, extra={"title": exp.title, "version": store.version, "points": entries})
    if plot_png and rows:
        files.append(plot(exp, rows, directory))
    return Outcome(exp, columns, rows, len(todo), len(points) - len(todo), files, failed)
