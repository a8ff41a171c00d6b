"""fig21: GEMM speedup of spgemm, spgemm_a and owmma over the dense hmma baseline across A x B
sparsities (the paper's Fig. 21, there 4096^3 on a V100 against CUTLASS), with the paper's other
curves: the cuSPARSE-like csr at B 99% for A 90..99.9% and the vector-wise Sparse Tensor Core
(vstc) at its pattern (B 75%, 4 of 16 along k), and the structured-sparse A designs at the
densities their patterns allow (sp24 at A 50%, hss at A 75 / 87.5 / 93.75%, B as the grid), and,
beyond the paper, spgemm_wide (a 64x64 warp tile of four accumulation buffers with the sequenced
SpWMMA, or 128x32 or 32x128 where ``kernels.wide_tile`` picks one, run with the keys it needs, kernels.WIDE_MACHINE, on top of the machine) over the grid, on
both machines (v100 and dstc-paper) unless ``machine`` names one."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import OtcError
from . import workloads
from .experiment import Experiment, device_spec, option, sms_option, with_device
from .plot import require_matplotlib, save_figure
from .store import emulator_files
from .workloads import gemm_operands, gemm_point, mode_spec

FIG21_SPARSITY_A = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999)
FIG21_SPARSITY_B = (0.0, 0.5, 0.9, 0.99)
FIG21_MODES = ("hmma", "owmma", "spgemm_a", "spgemm")
FIG21_DEFAULT_SIZE = 512
#: fig21 runs on a slice of the V100 by default (Device.v100_slice): 512^3 on 4 SMs gives each SM
#: about the CTAs and bandwidth share of 2048^3 on all 80, in minutes of emulation.
FIG21_DEFAULT_SMS = 4
#: The machines of the paper-premises issue; ``--machine`` picks one.
FIG21_MACHINES = ("v100", "dstc-paper")
#: The paper's cuSPARSE curve: B 99% zeros, A from 90% (slower than CUTLASS) to 99.9%.
FIG21_CSR_SPARSITY_A = (0.9, 0.95, 0.99, 0.999)
FIG21_CSR_SPARSITY_B = 0.99
#: The vector-wise Sparse Tensor Core's point: B pruned to 4 of 16 along k (75% zeros), A as the grid.
FIG21_VSTC_SPARSITY_B = 0.75
#: The structured-sparse A designs and the A sparsities their patterns have (structured.DENSITY_SPECS).
FIG21_STRUCTURED = (("sp24", 0.5), ("hss", 0.75), ("hss", 0.875), ("hss", 0.9375))


def _points(o: dict) -> list[dict]:
    size = int(option(o, "size", FIG21_DEFAULT_SIZE))
    if size < 1:
        raise OtcError(f"--size must be at least 1, got {size}")
    sms = sms_option(o, FIG21_DEFAULT_SMS)
    sa_list = o.get("sparsity_a", FIG21_SPARSITY_A)
    sb_list = o.get("sparsity_b", FIG21_SPARSITY_B)
    seed = int(o.get("seed", 0))
    grid = [(sa, sb, mode, None) for sa in sa_list for sb in sb_list for mode in o.get("modes", FIG21_MODES)]
    if option(o, "curves", True):  # the paper's csr and vstc curves, each with its hmma baseline
        grid += [(sa, FIG21_CSR_SPARSITY_B, mode, None) for sa in FIG21_CSR_SPARSITY_A for mode in ("hmma", "csr")]
        grid += [(sa, FIG21_VSTC_SPARSITY_B, mode, "vector_wise") for sa in sa_list for mode in ("hmma", "vstc")]
        grid += [(sa, sb, m, "structured_a") for mode, sa in FIG21_STRUCTURED for sb in sb_list for m in ("hmma", mode)]
        grid += [(sa, sb, "spgemm_wide", "wide_tile") for sa in sa_list for sb in sb_list]  # hmma: the grid's
    out = []
    for machine in [o["machine"]] if o.get("machine") else FIG21_MACHINES:
        for sa, sb, mode, pattern in dict.fromkeys(grid):
            point = {"size": size, "sms": sms, "sparsity_a": sa, "sparsity_b": sb, "mode": mode, "seed": seed}
            if pattern == "wide_tile":  # the grid's operands on the machine with the wide tile's keys
                out.append({**point, "device": mode_spec("spgemm_wide", device_spec({**o, "machine": machine}))})
                continue
            key = "a_pattern" if pattern == "structured_a" else "b_pattern"
            out.append(with_device({**point, key: pattern} if pattern else point, {**o, "machine": machine}))
    return out


def _measure(p: dict) -> dict:
    if p.get("b_pattern") == "vector_wise":  # B's zeros as the vector-wise Sparse Tensor Core needs them
        from .. import sparse

        a, b = gemm_operands(p["size"], p["size"], p["size"], p["sparsity_a"], 0.0, p["seed"])
        kp = -(-p["size"] // 16) * 16
        b = sparse.prune_vector_wise(np.pad(b, ((0, kp - p["size"]), (0, 0))), p["sparsity_b"])[: p["size"]]
    elif p.get("a_pattern") == "structured_a":  # A pruned to the 2:4 / HSS spec of its density
        from .. import structured

        a, b = gemm_operands(p["size"], p["size"], p["size"], 0.0, p["sparsity_b"], p["seed"])
        a = structured.prune_to_density(a, 1 - p["sparsity_a"])
    else:
        a, b = gemm_operands(p["size"], p["size"], p["size"], p["sparsity_a"], p["sparsity_b"], p["seed"])
    return gemm_point(a, b, p["mode"], p["sms"], spec=p.get("device"))


def _table(points: list[dict], results: list[dict]):
    modes = list(dict.fromkeys(p["mode"] for p in points))
    cells: dict[tuple, dict] = {}
    for p, r in zip(points, results):
        machine = p.get("device", {}).get("machine", "v100")
        row = cells.setdefault((machine, p["sparsity_a"], p["sparsity_b"]), {"size": p["size"], "sms": p["sms"], "sparsity_a_pct": 100 * p["sparsity_a"],
                                                                     "sparsity_b_pct": 100 * p["sparsity_b"], "ok": True,
                                                                     "machine": p.get("device", {}).get("machine", "v100")})
        row[f"{p['mode']}_cycles"] = r["cycles"]
        row["ok"] = row["ok"] and r["ok"]
    base = "hmma" if "hmma" in modes else modes[0]
    for row in cells.values():
        for mode in modes:
            if row.get(f"{base}_cycles") and row.get(f"{mode}_cycles") and mode != base:
                row[f"speedup_{mode}"] = row[f"{base}_cycles"] / row[f"{mode}_cycles"]
    columns = [("machine", "machine"), ("size", "M=N=K"), ("sms", "SMs"), ("sparsity_a_pct", "A zeros [%]"), ("sparsity_b_pct", "B zeros [%]")]
    columns += [(f"{m}_cycles", f"{m} [cycle]") for m in modes]
    columns += [(f"speedup_{m}", f"{m} speedup [x]") for m in modes if m != base]
    columns += [("ok", "ok")]
    return columns, list(cells.values())


def _where(row: dict) -> str:
    """"512^3 on 4 SMs" (a V100 slice, Device.v100_slice) or "512^3" (the whole V100)."""
    from ..device import V100_SMS

    sms = row.get("sms", V100_SMS)
    machine = row.get("machine", "v100")
    return f"{row['size']}^3" + ("" if sms == V100_SMS else f" on {sms} SMs") + ("" if machine == "v100" else f", machine {machine}")


def _by_machine(rows: list[dict]) -> list[list[dict]]:
    """The rows of each machine, in order of appearance."""
    return [[r for r in rows if r.get("machine", "v100") == m] for m in dict.fromkeys(r.get("machine", "v100") for r in rows)]


def _modes(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(k[len("speedup_"):] for r in rows for k in r if k.startswith("speedup_")))


def _matrices(rows: list[dict]):
    """Per machine and mode: (the machine's rows, mode, its rows by (A %, B %), the A and the B
    sparsities where the mode ran)."""
    for mrows in _by_machine(rows):
        index = {(r["sparsity_a_pct"], r["sparsity_b_pct"]): r for r in mrows}
        for mode in _modes(mrows):
            have = [r for r in mrows if f"speedup_{mode}" in r]
            yield mrows, mode, index, sorted({r["sparsity_a_pct"] for r in have}), sorted({r["sparsity_b_pct"] for r in have})


def _render(rows: list[dict], console) -> None:
    """The paper's view: per machine, one matrix per sparse mode, A sparsity down, B sparsity
    across (only the rows and columns where the mode ran)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    for mrows, mode, index, sas, sbs in _matrices(rows):
        best = max(r[f"speedup_{mode}"] for r in index.values() if f"speedup_{mode}" in r)
        console.print(escape(f"{mode}: speedup over hmma [x], {_where(mrows[0])}, model cycles (rows: A zeros, columns: B zeros)"))
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
    """Per machine: the paper's curves in one panel (hmma = 1, csr at B 99%, vstc at its pattern,
    spgemm at B 99%, over A zeros), then one panel per mode with a curve per B sparsity."""
    plt = require_matplotlib()
    machines = _by_machine(rows)
    modes = _modes(rows)
    fig, axes = plt.subplots(len(machines), 1 + len(modes), figsize=(4.5 * (1 + len(modes)), 3.8 * len(machines)),
                             squeeze=False, sharey=True)

    def curve(ax, mrows, mode, sb, label):
        pts = sorted((r["sparsity_a_pct"], r[f"speedup_{mode}"]) for r in mrows
                     if r["sparsity_b_pct"] == sb and f"speedup_{mode}" in r)
        if pts:
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=label)

    for axrow, mrows in zip(axes, machines):
        paper = axrow[0]
        paper.axhline(1.0, color="grey", lw=0.8, label="hmma (CUTLASS-like) = 1")
        curve(paper, mrows, "csr", 100 * FIG21_CSR_SPARSITY_B, f"csr, B {100 * FIG21_CSR_SPARSITY_B:g}%")
        curve(paper, mrows, "vstc", 100 * FIG21_VSTC_SPARSITY_B, f"vstc, B {100 * FIG21_VSTC_SPARSITY_B:g}% vector-wise")
        curve(paper, mrows, "spgemm", 100 * FIG21_CSR_SPARSITY_B, f"spgemm, B {100 * FIG21_CSR_SPARSITY_B:g}%")
        paper.set_title(f"the paper's curves, {_where(mrows[0])}", fontsize=9)
        paper.set_xlabel("A zeros [%]")
        paper.set_yscale("log")
        paper.legend(fontsize=7)
        for ax, mode in zip(axrow[1:], modes):
            for sb in sorted({r["sparsity_b_pct"] for r in mrows}):
                curve(ax, mrows, mode, sb, f"B {sb:g}% zeros")
            ax.axhline(1.0, color="grey", lw=0.8)
            ax.set_title(f"{mode} over hmma, {_where(mrows[0])}", fontsize=9)
            ax.set_xlabel("A zeros [%]")
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        axrow[0].set_ylabel("speedup [x] (model cycles)")
    save_figure(fig, path)


def fig21_markdown(rows: list[dict]) -> str:
    """fig21 as the paper draws it: per machine and mode, a matrix of speedups over hmma, A zeros
    down, B zeros across (the rows and columns where the mode ran)."""
    out = []
    for mrows, mode, index, sas, sbs in _matrices(rows):
        out.append(f"{mode} speedup over hmma [x], {_where(mrows[0])}, model cycles:\n")
        out.append("| A zeros \\ B zeros | " + " | ".join(f"{sb:g}%" for sb in sbs) + " |")
        out.append("|---:|" + "---:|" * len(sbs))
        for sa in sas:
            cells = [index.get((sa, sb), {}).get(f"speedup_{mode}") for sb in sbs]
            out.append(f"| {sa:g}% | " + " | ".join("" if c is None else f"{c:.2f}" for c in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _describe(p: dict) -> str:
    machine = p.get("device", {}).get("machine")
    return f"A {p['sparsity_a']:.1%} B {p['sparsity_b']:.1%} {p['mode']}" + (f" on {machine}" if machine else "")


EXPERIMENT = Experiment(
    "fig21", "GEMM speedup over the dense hmma baseline across A x B sparsity (paper Fig. 21)",
    points=_points, measure=_measure, describe=_describe, table=_table,
    sources=lambda o: emulator_files() + [Path(__file__), Path(workloads.__file__)], plotter=_plot,
    renderer=_render, markdowner=fig21_markdown,
    notes=lambda rows: ["Speedup = hmma cycles / mode cycles from the cycle model on the same pruned random operands "
                        "(vstc: B pruned vector-wise, 4 of 16 along k; sp24 / hss: A pruned to 2:4 / HSS; "
                        "hmma on the same operands); "
                        "every result checked against NumPy within the documented bound ('ok')."])
