"""Experiment tables for the terminal (rich), GitHub Markdown, CSV and JSON."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..numbers import table_value as fmt

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

__all__ = ["fmt", "render_table", "markdown", "write_outputs"]


def render_table(title: str | None, columns: list[tuple[str, str]], rows: list[dict], console: "Console") -> None:
    """A rich table: numbers right-aligned with thousands separators, the largest speedup bold."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title, title_justify="left", box=box.MINIMAL_HEAVY_HEAD)
    for key, header in columns:
        numeric = any(isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool) for r in rows)
        t.add_column(escape(header), justify="right" if numeric else "left")
    best = {key: max((r[key] for r in rows if isinstance(r.get(key), (int, float))), default=None)
            for key, header in columns if "speedup" in key}
    for col, (key, header) in zip(t.columns, columns):
        # values never shrink to an ellipsis; headers wrap, folding words too long for the column
        col.min_width = max([min(10, max(len(w) for w in header.split())), *(len(w) for r in rows for w in fmt(r.get(key)).split())])
        col.overflow = "fold"
    for r in rows:
        cells = []
        for key, _ in columns:
            text = escape(fmt(r.get(key)))
            if key in best and best[key] is not None and r.get(key) == best[key]:
                text = f"[bold green]{text}[/bold green]"
            cells.append(text)
        t.add_row(*cells)
    console.print(t)


def markdown(columns: list[tuple[str, str]], rows: list[dict]) -> str:
    """The table as GitHub Markdown, numbers right-aligned, ready to paste into the README."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    align = "|" + "|".join("---:" if any(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in rows)
                           else "---" for k, _ in columns) + "|"
    body = ["| " + " | ".join(fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, align, *body])



def write_outputs(name: str, columns: list[tuple[str, str]], rows: list[dict], directory: Path, extra: dict | None = None) -> list[Path]:
    """``DIR/NAME.csv`` (the table) and ``DIR/NAME.json`` (the table and ``extra``)."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = directory / f"{name}.csv", directory / f"{name}.json"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([k for k, _ in columns])
        for r in rows:
            w.writerow(["" if r.get(k) is None else r.get(k) for k, _ in columns])
    json_path.write_text(json.dumps({"experiment": name, "columns": [{"key": k, "header": h} for k, h in columns],
                                     "rows": rows, **(extra or {})}, indent=2, sort_keys=True), encoding="utf-8")
    return [csv_path, json_path]

