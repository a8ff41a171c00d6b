"""How numbers are written in every table the package prints: one module, three styles, each
named for the place it serves (the report's metrics, the experiments' tables, the source view's
counts), so a table never grows a formatter of its own."""
from __future__ import annotations

from typing import Any

__all__ = ["metric", "table_value", "count_or_blank"]


def metric(v: Any) -> str:
    """A report metric: thousands separators, two decimals for a fractional float, blank for None."""
    if v is None:
        return ""
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.2f}"
    return f"{int(v):,}"


def table_value(v: Any) -> str:
    """An experiment table cell: three significant digits below 100, whole numbers above, yes/NO
    for a check, blank for None, anything else as text."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def count_or_blank(n: int) -> str:
    """A per-instruction count of the source view: thousands separators, blank for zero (so the
    eye finds the lines that did something)."""
    return f"{n:,}" if n else ""
