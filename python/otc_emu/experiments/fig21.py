"""fig21: GEMM speedup of spgemm, spgemm_a and owmma over the dense hmma baseline across A x B
sparsities (the paper's Fig. 21, there 4096^3 on a V100 against CUTLASS)."""
from __future__ import annotations

from pathlib import Path

from .. import OtcError
from . import workloads
from .experiment import Experiment, option, sms_option
from .plot import require_matplotlib, save_figure
from .store import emulator_files
from .workloads import gemm_operands, gemm_point

FIG21_SPARSITY_A = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999)
FIG21_SPARSITY_B = (0.0, 0.5, 0.9, 0.99)
FIG21_MODES = ("hmma", "owmma", "spgemm_a", "spgemm")
FIG21_DEFAULT_SIZE = 512
#: fig21 runs on a slice of the V100 by default (Device.v100_slice): 512^3 on 4 SMs gives each SM
#: about the CTAs and bandwidth share of 2048^3 on all 80, in minutes of emulation.
FIG21_DEFAULT_SMS = 4


def _points(o: dict) -> list[dict]:
    size = int(option(o, "size", FIG21_DEFAULT_SIZE))
    if size < 1:
        raise OtcError(f"--size must be at least 1, got {size}")
    sms = sms_option(o, FIG21_DEFAULT_SMS)
    sa_list = o.get("sparsity_a", FIG21_SPARSITY_A)
    sb_list = o.get("sparsity_b", FIG21_SPARSITY_B)
    return [{"size": size, "sms": sms, "sparsity_a": sa, "sparsity_b": sb, "mode": mode, "seed": int(o.get("seed", 0))}
            for sa in sa_list for sb in sb_list for mode in o.get("modes", FIG21_MODES)]


def _measure(p: dict) -> dict:
    a, b = gemm_operands(p["size"], p["size"], p["size"], p["sparsity_a"], p["sparsity_b"], p["seed"])
    return gemm_point(a, b, p["mode"], p["sms"])


def _table(points: list[dict], results: list[dict]):
    modes = list(dict.fromkeys(p["mode"] for p in points))
    cells: dict[tuple, dict] = {}
    for p, r in zip(points, results):
        row = cells.setdefault((p["sparsity_a"], p["sparsity_b"]), {"size": p["size"], "sms": p["sms"], "sparsity_a_pct": 100 * p["sparsity_a"],
                                                                     "sparsity_b_pct": 100 * p["sparsity_b"], "ok": True})
        row[f"{p['mode']}_cycles"] = r["cycles"]
        row["ok"] = row["ok"] and r["ok"]
    base = "hmma" if "hmma" in modes else modes[0]
    for row in cells.values():
        for mode in modes:
            if row.get(f"{base}_cycles") and row.get(f"{mode}_cycles") and mode != base:
                row[f"speedup_{mode}"] = row[f"{base}_cycles"] / row[f"{mode}_cycles"]
    columns = [("size", "M=N=K"), ("sms", "SMs"), ("sparsity_a_pct", "A zeros [%]"), ("sparsity_b_pct", "B zeros [%]")]
    columns += [(f"{m}_cycles", f"{m} [cycle]") for m in modes]
    columns += [(f"speedup_{m}", f"{m} speedup [x]") for m in modes if m != base]
    columns += [("ok", "ok")]
    return columns, list(cells.values())


def _where(row: dict) -> str:
    """"512^3 on 4 SMs" (a V100 slice, Device.v100_slice) or "512^3" (the whole V100)."""
    from ..device import V100_SMS

    sms = row.get("sms", V100_SMS)
    return f"{row['size']}^3" + ("" if sms == V100_SMS else f" on {sms} SMs")


def _render(rows: list[dict], console) -> None:
    """The paper's view: one matrix per sparse mode, A sparsity down, B sparsity across."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    modes = [k[len("speedup_"):] for k in rows[0] if k.startswith("speedup_")] if rows else []
    sbs = sorted({r["sparsity_b_pct"] for r in rows})
    sas = sorted({r["sparsity_a_pct"] for r in rows})
    index = {(r["sparsity_a_pct"], r["sparsity_b_pct"]): r for r in rows}
    for mode in modes:
        best = max(r.get(f"speedup_{mode}", 0) for r in rows)
        console.print(escape(f"{mode}: speedup over hmma [x], {_where(rows[0])}, model cycles (rows: A zeros, columns: B zeros)"))
        t = Table(box=box.MINIMAL_HEAVY_HEAD)
        t.add_column(escape("A zeros [%]"), justify="right")
        for sb in sbs:
            t.add_column(escape(f"B {sb:g}%"), justify="right")
        for sa in sas:
            cells = []
            for sb in sbs:
                v = index.get((sa, sb), {}).get(f"speedup_{mode}")
                text = "" if v is None else f"{v:.2f}"
                cells.append(f"[bold green]{text}[/bold green]" if v is not None and v == best else text)
            t.add_row(f"{sa:g}", *cells)
        console.print(t)


def _plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    modes = [k[len("speedup_"):] for k in rows[0] if k.startswith("speedup_")]
    fig, axes = plt.subplots(1, len(modes), figsize=(4.5 * len(modes), 3.8), squeeze=False, sharey=True)
    for ax, mode in zip(axes[0], modes):
        for sb in sorted({r["sparsity_b_pct"] for r in rows}):
            pts = sorted((r["sparsity_a_pct"], r[f"speedup_{mode}"]) for r in rows if r["sparsity_b_pct"] == sb)
            ax.plot([str(x) for x, _ in pts], [y for _, y in pts], marker="o", label=f"B {sb:g}% zeros")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(f"{mode} over hmma, {_where(rows[0])}")
        ax.set_xlabel("A zeros [%]")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("speedup [x] (model cycles)")
    axes[0][-1].legend(fontsize=8)
    save_figure(fig, path)



def fig21_markdown(rows: list[dict]) -> str:
    """fig21 as the paper draws it: per mode, a matrix of speedups over hmma, A zeros down, B zeros across."""
    out = []
    modes = list(dict.fromkeys(k[len("speedup_"):] for r in rows for k in r if k.startswith("speedup_")))
    sbs = sorted({r["sparsity_b_pct"] for r in rows})
    sas = sorted({r["sparsity_a_pct"] for r in rows})
    index = {(r["sparsity_a_pct"], r["sparsity_b_pct"]): r for r in rows}
    for mode in modes:
        out.append(f"{mode} speedup over hmma [x], {_where(rows[0])}, model cycles:\n")
        out.append("| A zeros \\ B zeros | " + " | ".join(f"{sb:g}%" for sb in sbs) + " |")
        out.append("|---:|" + "---:|" * len(sbs))
        for sa in sas:
            cells = [index.get((sa, sb), {}).get(f"speedup_{mode}") for sb in sbs]
            out.append(f"| {sa:g}% | " + " | ".join("" if c is None else f"{c:.2f}" for c in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _describe(p: dict) -> str:
    return f"A {p['sparsity_a']:.1%} B {p['sparsity_b']:.1%} {p['mode']}"


EXPERIMENT = Experiment(
    "fig21", "GEMM speedup over the dense hmma baseline across A x B sparsity (paper Fig. 21)",
    points=_points, measure=_measure, describe=_describe, table=_table,
    sources=lambda o: emulator_files() + [Path(__file__), Path(workloads.__file__)], plotter=_plot,
    renderer=_render, markdowner=fig21_markdown,
    notes=lambda rows: ["Speedup = hmma cycles / mode cycles from the cycle model on the same pruned random operands; "
                        "every result checked against NumPy within the documented bound ('ok')."])
