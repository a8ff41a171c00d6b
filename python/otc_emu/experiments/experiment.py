"""What an experiment is (its points, how to measure one, its table and views) and the option
helpers every experiment shares."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import OtcError
from . import store
from .render import markdown, render_table

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

__all__ = ["Experiment", "option", "check_sms", "sms_option"]


@dataclass
class Experiment:
    """One experiment: its points, how to measure one, and how the results become a table."""

    name: str
    title: str
    points: Callable[[dict], list[dict]]
    measure: Callable[[dict], dict]
    describe: Callable[[dict], str]
    table: Callable[[list[dict], list[dict]], tuple[list[tuple[str, str]], list[dict]]]
    sources: Callable[[dict], list[Path]]
    plotter: Callable[[list[dict], Path], None] | None = None
    renderer: Callable[[list[dict], Any], None] | None = None
    notes: Callable[[list[dict]], list[str]] | None = None
    view: Callable[[list[tuple[str, str]], list[dict]], tuple[list[tuple[str, str]], list[dict]]] | None = None
    markdowner: Callable[[list[dict]], str] | None = None
    options: dict | None = None

    def version(self) -> str:
        return store.code_version(self.sources(self.options or {}))

    def render(self, columns: list[tuple[str, str]], rows: list[dict], console: "Console") -> None:
        if self.renderer is not None:  # its own view; the flat table is in the CSV, JSON and --markdown
            self.renderer(rows, console)
        else:  # the terminal view may be narrower than the table of the CSV and --markdown
            render_table(None, *(self.view(columns, rows) if self.view else (columns, rows)), console)
        from rich.markup import escape

        for note in self.notes(rows) if self.notes else []:
            console.print(escape(note))

    def markdown(self, columns: list[tuple[str, str]], rows: list[dict]) -> str:
        """What ``--markdown`` prints: the experiment's own view, or its table."""
        if self.markdowner is not None and rows:
            return self.markdowner(rows)
        return markdown(columns, rows) + "\n"


def option(o: dict, key: str, default):
    """``o[key]``, or ``default`` when it is absent or None (0 is a value, and is checked)."""
    v = o.get(key)
    return default if v is None else v


def check_sms(sms) -> int:
    """``--sms`` as an int, or OtcError before any work when it is not 1..80."""
    from ..device import V100_SMS

    sms = int(sms)
    if not 1 <= sms <= V100_SMS:
        raise OtcError(f"--sms must be in 1..{V100_SMS}, got {sms}")
    return sms


def sms_option(o: dict, default: int) -> int:
    return check_sms(option(o, "sms", default))

