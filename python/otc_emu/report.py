"""Nsight-Compute-like terminal reports of launch statistics (``rich``).

The numbers are computed first, as plain data (:func:`sections`, :func:`comparison`), then
rendered (:func:`render`, :func:`render_comparison`), so tests can check either.

    res = otc_emu.kernels.gemm(a, b, mode="spgemm")
    res.stats.report()                                  # prints the sections
    otc_emu.report.render_comparison({"hmma": r1.stats, "spgemm": r2.stats}, baseline="hmma")
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from .numbers import metric as _fmt

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from .device import Stats

__all__ = ["sections", "render", "comparison", "render_comparison"]

# A row: (metric name, unit, value or None when the statistic is absent).
Row = tuple[str, str, float | int | None]


def _ratio(n, d):
    return None if n is None or not d else n / d


def sections(stats: "Stats") -> list[tuple[str, list[Row]]]:
    """The report as data: [(section title, [(metric, unit, value), ...]), ...]. Sections that need
    the cycle model are left out when it did not run."""
    c, m = stats.counters, stats.metrics
    g = c.get
    out: list[tuple[str, list[Row]]] = []
    summary: list[Row] = []
    if stats.timed:
        summary += [("Cycles (slowest SM, estimated)" if stats.estimated else "Cycles (slowest SM)", "cycle", g("cycles")), ("Time at clock", "us", m.get("time_us")),
                    ("IPC (kernel)", "warp-inst/cycle", m.get("ipc")), ("SMs used", "", g("sms_used"))]
    summary += [("Warp instructions", "inst", g("warp_instructions")), ("Thread instructions", "inst", g("thread_instructions")),
                ("CTAs", "", g("ctas")), ("Warps", "", g("warps"))]
    out.append(("Summary", summary))
    if stats.sample is not None:
        out.append(("Sampled timing", _sample_rows(stats.sample)))
    mix = sorted(stats.by_opcode.items(), key=lambda kv: (-kv[1]["warp"], kv[0]))
    total = g("warp_instructions") or 0
    out.append(("Instruction mix", [(op, "% of warp-inst", 100.0 * v["warp"] / total if total else None) for op, v in mix[:12]]))
    if stats.timed:
        stalls = sorted(((k.split(".", 1)[1], v) for k, v in m.items() if k.startswith("stall_fraction.")), key=lambda kv: -kv[1])
        out.append(("Issue stall reasons", [(name, "% of cycles", 100.0 * v) for name, v in stalls]))
    tensor: list[Row] = [("HMMA executed", "inst", g("hmma.executed")), ("OHMMA executed", "inst", g("ohmma.executed")),
                         ("OHMMA skipped", "inst", g("ohmma.skipped")),
                         ("OHMMA skipped", "%", _ratio(100.0 * (g("ohmma.skipped") or 0), (g("ohmma.executed") or 0) + (g("ohmma.skipped") or 0))),
                         ("BOHMMA executed", "inst", g("bohmma.executed"))]
    if stats.timed:
        tensor += [("Tensor busy", "cycle", g("tensor.busy_cycles")), ("Tensor utilisation", "%", 100.0 * m["tensor.utilization"] if "tensor.utilization" in m else None),
                   ("Useful MACs", "MAC", g("tensor.macs_useful")), ("Issued MACs", "MAC", g("tensor.macs_issued")),
                   ("Useful / issued MACs", "%", 100.0 * m["tensor.useful_mac_fraction"] if "tensor.useful_mac_fraction" in m else None)]
    out.append(("Tensor core", tensor))
    if stats.timed:
        out.append(("Accumulation buffer", [("Accesses", "access", g("accbuf.accesses")), ("Bank conflicts", "conflict", g("accbuf.bank_conflicts")),
                                            ("Stall cycles", "cycle", g("accbuf.stall_cycles"))]))
        out.append(("Memory", [("Global read", "byte", g("gmem.read_bytes")), ("Global write", "byte", g("gmem.write_bytes")),
                               ("Global sectors read", "sector", g("gmem.read_sectors")), ("L1 hit rate", "%", _pct(m.get("l1.hit_rate"))),
                               ("L2 hit rate", "%", _pct(m.get("l2.hit_rate"))), ("DRAM read", "byte", g("dram.read_bytes")),
                               ("Shared bank conflicts", "conflict", g("smem.bank_conflicts"))]))
    return out


def _sample_rows(smp: Mapping) -> list[Row]:
    """What sampled timing timed and how good its estimate is (docs/timing.md "Sampled timing")."""
    finite = lambda v: 100.0 * v if v == v and v != float("inf") else None  # noqa: E731
    return [("Timed SMs", f"of {smp['sms_used']} used", len(smp["timed_sms"])),
            ("Timed CTAs", f"of {smp['ctas']}", smp["ctas_timed"]),
            ("Counter scale (SMs but 0)", "warp-inst / timed", smp["scale"]),
            ("Slowest timed SM", "cycle", smp["cycles_timed"]),
            ("Per-SM prediction error", "%", finite(smp["sm_prediction_error"])),
            ("Expected error of cycles", "% (blank: unknown)", finite(smp["expected_error"]))]


def _pct(v):
    return None if v is None else 100.0 * v


def render(stats: "Stats", console: "Console | None" = None, title: str | None = None) -> None:
    """Print the report: one table per section with Metric / Unit / Value columns."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    con = console or Console()
    if title:
        con.rule(f"[bold]{title}[/bold]")
    for name, rows in sections(stats):
        t = Table(title=f"Section: {name}", title_justify="left", box=box.MINIMAL_HEAVY_HEAD)
        t.add_column("Metric Name")
        t.add_column("Metric Unit")
        t.add_column("Metric Value", justify="right")
        for metric, unit, value in rows:
            t.add_row(metric, unit, _fmt(value))
        con.print(t)


def comparison(results: Mapping[str, "Stats"], baseline: str) -> list[dict]:
    """Rows of the comparison table: mode, cycles, speedup over ``baseline``, warp instructions,
    tensor busy cycles, OHMMAs executed/skipped. Needs the cycle model's statistics."""
    if baseline not in results:
        raise ValueError(f"baseline {baseline!r} is not among the results: {', '.join(results)}")
    base = results[baseline].counters.get("cycles")
    rows = []
    for mode, s in results.items():
        cyc = s.counters.get("cycles")
        rows.append({"mode": mode, "cycles": cyc, "estimated": s.estimated, "speedup": _ratio(base, cyc), "warp_instructions": s.counters.get("warp_instructions"),
                     "tensor_busy_cycles": s.counters.get("tensor.busy_cycles"), "ohmma_executed": s.counters.get("ohmma.executed"),
                     "ohmma_skipped": s.counters.get("ohmma.skipped")})
    return rows


def render_comparison(results: Mapping[str, "Stats"], baseline: str, console: "Console | None" = None) -> None:
    """Print the comparison across modes, the best speedup highlighted."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    rows = comparison(results, baseline)
    best = max((r["speedup"] or 0) for r in rows)
    t = Table(title=f"Comparison (speedup over {baseline})", title_justify="left", box=box.MINIMAL_HEAVY_HEAD)
    for col, just in (("Mode", "left"), ("Cycles [cycle]", "right"), ("Speedup [x]", "right"), ("Warp inst [inst]", "right"),
                      ("Tensor busy [cycle]", "right"), ("OHMMA exec [inst]", "right"), ("OHMMA skip [inst]", "right")):
        t.add_column(escape(col), justify=just)  # units in brackets are text, not markup
    body = []
    for r in rows:
        sp = "" if r["speedup"] is None else f"{r['speedup']:.2f}"
        cycles = f"~{_fmt(r['cycles'])}" if r["estimated"] else _fmt(r["cycles"])  # ~: sampled timing's estimate
        body.append([r["mode"], cycles, sp, _fmt(r["warp_instructions"]), _fmt(r["tensor_busy_cycles"]),
                     _fmt(r["ohmma_executed"]), _fmt(r["ohmma_skipped"])])
    for col, cells in zip(t.columns, zip(*body)):
        # numbers and header words never shrink to an ellipsis; headers wrap between words
        col.min_width = max([len(c) for c in cells] + [len(w) for w in str(col.header).split()])
    for r, cells in zip(rows, body):
        if r["speedup"] is not None and r["speedup"] == best:
            cells[2] = f"[bold green]{cells[2]}[/bold green]"
        t.add_row(*cells)
    (console or Console()).print(t)
