"""patterns: every GEMM design at equal density, each with its zeros placed as its pattern
requires (docs/experiments.md, "patterns").

The workload at sparsity s is one M = N = K GEMM whose weight operand has a fraction s of zeros
and whose other operand is dense: each design prunes the operand its hardware exploits, with the
pattern it needs (:data:`PATTERNS`). The unstructured designs get uniformly random zeros. Per
design and s: the model's cycles, the speedup over the dense hmma baseline on the same machine
(hmma cycles do not depend on the values), the tensor units' utilisation and the bytes moved
(global memory as the SMs see it, and DRAM).

To add a design, add one :class:`Pattern` to :data:`PATTERNS` (``register`` does it): the mode of
``kernels.gemm`` and how to prune the dense (A, B) to sparsity s, or None where its pattern
cannot reach s (the table then says "n/a").
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .. import OtcError
from . import workloads
from .experiment import Experiment, option, sms_option, with_device
from .store import emulator_files

__all__ = ["Pattern", "PATTERNS", "register", "PATTERN_SPARSITIES", "PATTERNS_DEFAULT_SIZE", "PATTERNS_DEFAULT_SMS"]

#: The equal densities of the table: 50, 75, 87.5 and 93.75% zeros (1/2 .. 1/16 of the values kept).
PATTERN_SPARSITIES = (0.5, 0.75, 0.875, 0.9375)
PATTERNS_DEFAULT_SIZE = 256  # csr at 50% zeros with a dense A: 8.4 million products here, 8 times as many at 512
PATTERNS_DEFAULT_SMS = 4

Pruner = Callable[[np.ndarray, np.ndarray, float, int], Optional[tuple]]


@dataclass(frozen=True)
class Pattern:
    """A design of the table: its ``kernels.gemm`` mode, how its zeros are placed (``prune(a, b,
    sparsity, seed)`` -> (a, b) from the dense operands, or None: not applicable at that
    sparsity) and a short description of the pattern for the table."""

    mode: str
    prune: Pruner
    placement: str


def _uniform_b(a, b, s, seed):
    from .. import sparse

    return a, sparse.prune_random(b, s, seed=seed + 2)


def _uniform_a(a, b, s, seed):
    from .. import sparse

    return sparse.prune_random(a, s, seed=seed + 1), b


def _vector_wise_b(a, b, s, seed):
    from .. import sparse, vstc

    kept = vstc.VECTOR - int(round(s * vstc.VECTOR))
    return (a, sparse.prune_vector_wise(b, s, axis=0)) if kept <= vstc.KEPT else None


def _two_four_a(a, b, s, seed):
    from .. import sparse

    return (sparse.prune_2_4(a), b) if abs(s - 0.5) < 1e-12 else None


def _hss_a(a, b, s, seed):
    """A pruned to HighLight's two-rank spec of density 1 - s (structured.DENSITY_SPECS); the hss
    mode runs two-rank specs only, so 50% (plain 2:4) is sp24's."""
    from .. import structured

    spec = structured.spec_for_density(1 - s)
    return (structured.prune_hss(a, spec), b) if spec is not None and "->" in spec else None


#: mode -> Pattern, in table order. hmma is the baseline (its cycles do not depend on the zeros).
PATTERNS: dict[str, Pattern] = {}


def register(pattern: Pattern) -> None:
    """Add (or replace) a design of the table."""
    PATTERNS[pattern.mode] = pattern


for _p in (
    Pattern("hmma", _uniform_b, "dense baseline (B uniform)"),
    Pattern("spgemm", _uniform_b, "B uniform (dual-side bitmaps)"),
    Pattern("spgemm_a", _uniform_a, "A uniform (single-side bitmaps)"),
    Pattern("csr", _uniform_b, "B uniform (CSR)"),
    Pattern("vstc", _vector_wise_b, "B vector-wise, <= 4 of 16 along k"),
    Pattern("sp24", _two_four_a, "A 2:4 along k (50% only)"),
    Pattern("hss", _hss_a, "A HSS C1(G:H)->C0(2:4) along k"),
):
    register(_p)


def _points(o: dict) -> list[dict]:
    size = int(option(o, "size", PATTERNS_DEFAULT_SIZE))
    if size < 32 or size % 32:
        raise OtcError(f"patterns needs --size a multiple of 32 (vectors and 2:4 groups tile K), got {size}")
    sms = sms_option(o, PATTERNS_DEFAULT_SMS)
    modes = list(o.get("modes") or PATTERNS)
    unknown = [m for m in modes if m not in PATTERNS]
    if unknown:
        raise OtcError(f"patterns: no pattern registered for mode(s) {', '.join(unknown)}; known: {', '.join(PATTERNS)}")
    return [with_device({"size": size, "sms": sms, "sparsity": s, "mode": m, "seed": int(o.get("seed", 0))}, o)
            for s in o.get("sparsities", PATTERN_SPARSITIES) for m in modes]


def _measure(p: dict) -> dict:
    a, b = workloads.gemm_operands(p["size"], p["size"], p["size"], 0.0, 0.0, p["seed"])
    pruned = PATTERNS[p["mode"]].prune(a, b, p["sparsity"], p["seed"])
    if pruned is None:
        return {"applicable": False, "ok": True}
    from .. import kernels

    res = kernels.gemm(*pruned, mode=p["mode"], device=workloads.slice_device(p["sms"], p.get("device")))
    exact = pruned[0].astype(np.float64) @ pruned[1].astype(np.float64)
    ok = bool(np.all(np.abs(res.c - exact) <= kernels.error_bound(*pruned)))
    c, m = res.stats.counters, res.stats.metrics
    return {**workloads.point_result(res.stats, ok), "applicable": True,
            "tensor_utilization": m.get("tensor.utilization"),
            "gmem_bytes": c.get("gmem.read_bytes", 0) + c.get("gmem.write_bytes", 0),
            "dram_bytes": c.get("dram.read_bytes", 0) + c.get("dram.write_bytes", 0),
            "zeros_a": float(np.mean(pruned[0] == 0)), "zeros_b": float(np.mean(pruned[1] == 0))}


def _table(points: list[dict], results: list[dict]):
    base = {(p["sparsity"], p.get("device", {}).get("machine", "v100")): r["cycles"]
            for p, r in zip(points, results) if p["mode"] == "hmma" and r.get("applicable")}
    rows = []
    for p, r in zip(points, results):
        machine = p.get("device", {}).get("machine", "v100")
        row = {"machine": machine, "size": p["size"], "sms": p["sms"], "sparsity_pct": 100 * p["sparsity"], "mode": p["mode"],
               "pattern": PATTERNS[p["mode"]].placement if p["mode"] in PATTERNS else "", "applicable": r.get("applicable", True),
               "ok": r.get("ok", True)}
        if row["applicable"]:
            hmma = base.get((p["sparsity"], machine))
            util = r.get("tensor_utilization")
            row.update({"cycles": r["cycles"], "speedup": hmma / r["cycles"] if hmma and r["cycles"] else None,
                        "tensor_util_pct": None if util is None else 100 * util, "gmem_bytes": r["gmem_bytes"],
                        "dram_bytes": r["dram_bytes"], "zeros_a_pct": 100 * r["zeros_a"], "zeros_b_pct": 100 * r["zeros_b"]})
        rows.append(row)
    columns = [("machine", "machine"), ("sparsity_pct", "zeros [%]"), ("mode", "mode"), ("pattern", "zeros placed"),
               ("zeros_a_pct", "A zeros [%]"), ("zeros_b_pct", "B zeros [%]"), ("cycles", "cycles"),
               ("speedup", "speedup over hmma [x]"), ("tensor_util_pct", "tensor util [%]"),
               ("gmem_bytes", "global bytes"), ("dram_bytes", "DRAM bytes"), ("ok", "ok")]
    return columns, rows


def _render(rows: list[dict], console) -> None:
    """One table per machine: designs down, the four densities across, speedup (tensor
    utilisation, global MB) per cell; "n/a" where the pattern cannot reach the density."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    for machine in dict.fromkeys(r["machine"] for r in rows):
        mine = [r for r in rows if r["machine"] == machine]
        sps = sorted({r["sparsity_pct"] for r in mine})
        console.print(escape(f"patterns: speedup over hmma [x] (tensor utilisation %, global MB moved), "
                             f"{mine[0]['size']}^3 on {mine[0]['sms']} SMs, machine {machine}, model cycles"))
        t = Table(box=box.MINIMAL_HEAVY_HEAD)
        t.add_column("mode")
        t.add_column("zeros placed")
        for s in sps:
            t.add_column(escape(f"{s:g}% zeros"), justify="right")
        for mode in dict.fromkeys(r["mode"] for r in mine):
            cells = []
            for s in sps:
                r = next((x for x in mine if x["mode"] == mode and x["sparsity_pct"] == s), None)
                cells.append("" if r is None else _cell(r))
            t.add_row(mode, escape(PATTERNS[mode].placement if mode in PATTERNS else ""), *cells)
        console.print(t)


def _cell(r: dict) -> str:
    if not r["applicable"]:
        return "n/a"
    util = r.get("tensor_util_pct")
    text = f"{r['speedup']:.2f} ({0 if util is None else util:.0f}%, {r['gmem_bytes'] / 1e6:.1f} MB)"
    return text if r["ok"] else text + " FAIL"


def _markdown(rows: list[dict]) -> str:
    out = []
    for machine in dict.fromkeys(r["machine"] for r in rows):
        mine = [r for r in rows if r["machine"] == machine]
        sps = sorted({r["sparsity_pct"] for r in mine})
        out.append(f"Speedup over hmma [x] (tensor utilisation, global MB moved), {mine[0]['size']}^3 on "
                   f"{mine[0]['sms']} SMs, machine {machine}, model cycles:\n")
        out.append("| mode | zeros placed | " + " | ".join(f"{s:g}% zeros" for s in sps) + " |")
        out.append("|---|---|" + "---:|" * len(sps))
        for mode in dict.fromkeys(r["mode"] for r in mine):
            cells = [next((_cell(x) for x in mine if x["mode"] == mode and x["sparsity_pct"] == s), "") for s in sps]
            out.append(f"| {mode} | {PATTERNS[mode].placement if mode in PATTERNS else ''} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _describe(p: dict) -> str:
    return f"{p['mode']} at {p['sparsity']:.2%} zeros"


EXPERIMENT = Experiment(
    "patterns", "every GEMM design at equal density, zeros placed as each pattern requires",
    points=_points, measure=_measure, describe=_describe, table=_table,
    sources=lambda o: emulator_files() + [Path(__file__), Path(workloads.__file__)],
    renderer=_render, markdowner=_markdown,
    notes=lambda rows: ["Speedup = hmma cycles / mode cycles (cycle model) on the same machine; the weight operand "
                        "pruned to the density with each design's pattern, the other dense; every result checked "
                        "against NumPy within the documented bound ('ok'); n/a: the pattern cannot reach that density."])
