"""Running an experiment: its points measured (or found done in the store), then its table and
output files."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .experiment import Experiment
from .plot import plot, require_matplotlib
from .registry import get
from .render import write_outputs
from .store import Store

__all__ = ["Outcome", "run"]


@dataclass
class Outcome:
    """What :func:`run` did: the table and how many points ran or were found done."""

    experiment: Experiment
    columns: list[tuple[str, str]]
    rows: list[dict]
    ran: int
    skipped: int
    files: list[Path]


def run(name: str, directory: Path | str, options: dict | None = None, progress=None, plot_png: bool = False) -> Outcome:
    """Run (or resume) experiment ``name`` with results in ``directory``; see the module docs."""
    exp = get(name, options)
    if plot_png:
        require_matplotlib()  # fail before the work, not after
    directory = Path(directory)
    points = exp.points(exp.options or {})
    store = Store(directory, exp)
    todo = [p for p in points if not store.done(p)]
    if progress is not None:
        progress.start(len(points), len(todo), store.path)
    for p in todo:
        if progress is not None:
            progress.describe(f"{exp.name}: {exp.describe(p)}")
        store.add(p, exp.measure(p))
        if progress is not None:
            progress.advance()
    columns, rows = exp.table(points, [store.result(p) for p in points])
    files = write_outputs(exp.name, columns, rows, directory,
                          extra={"title": exp.title, "version": store.version, "points": [{"params": p, "result": store.result(p)} for p in points]})
    if plot_png:
        files.append(plot(exp, rows, directory))
    return Outcome(exp, columns, rows, len(todo), len(points) - len(todo), files)
