"""ablation: the bridge between the strict machine and the paper's premises.

The headline GEMM points (A0/B0, A25/B0, A75/B0, A0/B99, A99/B99, A99.9/B99 with spgemm, and
dense owmma) run on a sequence of machines: ``v100`` (strict, Volta-faithful), then ``v100`` with
the premises of ``dstc-paper`` added one at a time in the order of its file, ending at the full
preset, then, beyond the paper, the sequenced SpWMMA (kernel ``spgemm_seq``, machine key
``tensor.spwmma_sequencer``) on both machines, so that predication and sequencing can be compared
in issue slots and cycles, and one step more: the wide sequenced tile (kernel ``spgemm_wide``, a
64x64 warp tile of four accumulation buffers, or 128x32 or 32x128 where ``kernels.wide_tile`` picks one:
``tensor.accbufs_per_warp = 4`` with the sequencer)
on both machines. Every point is measured by running the kernels (speedup = hmma cycles
/ mode cycles on the same operands and machine); beside it the tensor-bound ideal from the
counters: hmma's tensor cycles / (OHMMAs executed x the machine's cycles per OHMMA of the mode's
class, ``tensor.<ohmma_f32 | ohmma_sparse | spwmma_seq>.cycles``).

A premise is a ``# Premise "name": ...`` comment in the machine file (crates/otc-timing/configs/)
and the keys below it up to the next premise; so the ablation follows the shipped file and needs
no list of its own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import OtcError
from ..device import machine_settings, machine_text
from .experiment import Experiment, device_spec, option, sms_option
from .plot import require_matplotlib, save_figure
from .store import emulator_files
from .workloads import gemm_operands, slice_device

__all__ = ["Premise", "premises", "steps", "POINTS", "EXPERIMENT", "markdown"]

#: (label, A zeros, B zeros, mode): the headline points; "owmma" is the dense outer product.
POINTS = (
    ("A0/B0", 0.0, 0.0, "spgemm"),
    ("A25/B0", 0.25, 0.0, "spgemm"),
    ("A75/B0", 0.75, 0.0, "spgemm"),
    ("A0/B99", 0.0, 0.99, "spgemm"),
    ("A99/B99", 0.99, 0.99, "spgemm"),
    ("A99.9/B99", 0.999, 0.99, "spgemm"),
    ("dense owmma", 0.0, 0.0, "owmma"),
)
#: The paper's numbers at the points it states (Fig. 21, 4096^3; docs/experiments.md).
PAPER = {"A0/B99": 13.4, "A99.9/B99": 23.0}
SEQUENCER = {"tensor.spwmma_sequencer": True}
WIDE = {**SEQUENCER, "tensor.accbufs_per_warp": 4}
#: The tensor class whose cycles an OHMMA of each mode costs (hmma runs none).
OHMMA_CLASS = {"owmma": "ohmma_f32", "spgemm": "ohmma_sparse", "spgemm_seq": "spwmma_seq", "spgemm_wide": "spwmma_seq",
               "hmma": "ohmma_f32"}
DEFAULT_SIZE = 512
DEFAULT_SMS = 4


@dataclass(frozen=True)
class Premise:
    """One mechanism of a machine file: its name, the comment that states it and its source,
    and the settings (dotted keys) it sets."""

    name: str
    source: str
    settings: dict


_PREMISE = re.compile(r'^#\s*Premise\s+"([^"]+)"\s*:?\s*(.*)$')
_SECTION = re.compile(r"^\[([^\]]+)\]\s*(#.*)?$")
_KEY = re.compile(r"^([A-Za-z0-9_]+)\s*=")


def premises(machine: str) -> list[Premise]:
    """The premises of shipped machine ``machine``, in the order of its file. Every key of the
    file must belong to one (OtcError otherwise)."""
    values = machine_settings(machine)
    found: list[tuple[str, list[str], list[str]]] = []  # name, comment lines, keys
    section = ""
    for line in machine_text(machine).splitlines():
        line = line.strip()
        if m := _PREMISE.match(line):
            found.append((m.group(1), [m.group(2)], []))
        elif line.startswith("#"):
            if found and not found[-1][2]:
                found[-1][1].append(line.lstrip("#").strip())
        elif m := _SECTION.match(line):
            section = m.group(1).strip()
        elif m := _KEY.match(line):
            key = f"{section}.{m.group(1)}" if section else m.group(1)
            if not found:
                raise OtcError(f"machine {machine}: key {key} comes before any '# Premise \"name\"' comment")
            found[-1][2].append(key)
    out = [Premise(name, " ".join(x for x in text if x), {k: values[k] for k in keys}) for name, text, keys in found]
    if sorted(k for p in out for k in p.settings) != sorted(values):
        raise OtcError(f"machine {machine}: every key must belong to one premise")
    return out


def steps(machine: str = "dstc-paper") -> list[dict]:
    """The machines of the ablation, each {"step", "settings", "spgemm"}: v100, then the premises
    of ``machine`` added one at a time (the last is the full preset), then the sequencer on v100
    and on the full preset, then the wide sequenced tile on both."""
    out = [{"step": "v100", "settings": {}, "spgemm": "spgemm"}]
    settings: dict = {}
    for p in premises(machine):
        settings = {**settings, **p.settings}
        out.append({"step": f"+ {p.name}", "settings": dict(settings), "spgemm": "spgemm"})
    out[-1]["step"] += f" (= {machine})"
    out.append({"step": "v100 + sequencer", "settings": dict(SEQUENCER), "spgemm": "spgemm_seq"})
    out.append({"step": f"{machine} + sequencer", "settings": {**settings, **SEQUENCER}, "spgemm": "spgemm_seq"})
    out.append({"step": "v100 + wide sequenced tile", "settings": dict(WIDE), "spgemm": "spgemm_wide"})
    out.append({"step": f"{machine} + wide sequenced tile", "settings": {**settings, **WIDE}, "spgemm": "spgemm_wide"})
    return out


def _points(o: dict) -> list[dict]:
    size = int(option(o, "size", DEFAULT_SIZE))
    if size < 1:
        raise OtcError(f"--size must be at least 1, got {size}")
    sms = sms_option(o, DEFAULT_SMS)
    base = device_spec(o)  # --config / --set apply to every step; --machine picks the preset
    machine = base.get("machine", "dstc-paper")
    if machine == "v100":
        raise OtcError("ablation: --machine names the preset whose premises are added to v100 (default dstc-paper)")
    extra = base.get("settings", {})
    pts = []
    for i, st in enumerate(steps(machine)):
        for label, sa, sb, mode in POINTS:
            for m in ("hmma", st["spgemm"] if mode == "spgemm" else mode):
                pts.append({"step": st["step"], "step_index": i, "point": label, "mode": m, "sparsity_a": sa,
                            "sparsity_b": sb, "size": size, "sms": sms, "seed": int(o.get("seed", 0)),
                            "step_settings": st["settings"], "extra": extra})
    return pts


def _device(p: dict):
    """The slice a point runs on. A step's settings are the machine file's, for the whole V100:
    they go in as the slice's machine configuration, whose bandwidths Device.v100_slice scales to
    the slice (as it does dstc-paper's own); --set / --config on top as they are, as for any slice."""
    return slice_device(p["sms"], {"config": p["step_settings"] or None, "settings": p["extra"]})


def _measure(p: dict) -> dict:
    import numpy as np

    from .. import kernels

    a, b = gemm_operands(p["size"], p["size"], p["size"], p["sparsity_a"], p["sparsity_b"], p["seed"])
    dev = _device(p)
    res = kernels.gemm(a, b, mode=p["mode"], device=dev)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    c = res.stats.counters
    keep = ("cycles", "warp_instructions", "issue.cycles", "issue.removed", "ohmma.executed", "ohmma.skipped",
            "spwmma.issued", "spwmma.ohmmas", "hmma.executed", "tensor.busy_cycles", "tensor.busy_cycles.hmma",
            "tensor.busy_cycles.ohmma", "stall.unit_busy", "stall.dependency", "stall.memory")
    per_ohmma = dev.timing_config[f"tensor.{OHMMA_CLASS[p['mode']]}.cycles"]
    return {**{k: int(c.get(k, 0)) for k in keep}, "ohmma_cycles": per_ohmma,
            "ok": bool(np.all(np.abs(res.c - exact) <= kernels.error_bound(a, b)))}


def _table(points: list[dict], results: list[dict]):
    rows: dict[tuple, dict] = {}
    for p, r in zip(points, results):
        row = rows.setdefault((p["step_index"], p["point"]), {
            "step": p["step"], "point": p["point"], "size": p["size"], "sms": p["sms"], "ok": True})
        row["ok"] = row["ok"] and r["ok"]
        if p["mode"] == "hmma":
            row["hmma_cycles"] = r["cycles"]
            row["hmma_tensor_cycles"] = r["tensor.busy_cycles.hmma"]
        else:
            ohmmas = r["ohmma.executed"] + r["spwmma.ohmmas"]
            row.update({"mode": p["mode"], "cycles": r["cycles"], "issue_slots": r["issue.cycles"],
                        "removed": r["issue.removed"], "skipped": r["ohmma.skipped"], "ohmmas": ohmmas, "ohmma_cycles": r["ohmma_cycles"],
                        "warp_instructions": r["warp_instructions"]})
    for row in rows.values():
        if row.get("cycles"):
            row["speedup"] = row["hmma_cycles"] / row["cycles"]
        if row.get("ohmmas"):
            row["ideal"] = row["hmma_tensor_cycles"] / (row["ohmmas"] * row["ohmma_cycles"])
        row["paper"] = PAPER.get(row["point"])
    columns = [("step", "machine"), ("point", "point"), ("mode", "mode"), ("hmma_cycles", "hmma [cycle]"),
               ("cycles", "mode [cycle]"), ("speedup", "speedup [x]"), ("ideal", "tensor-bound [x]"),
               ("paper", "paper [x]"), ("issue_slots", "issue slots"), ("removed", "removed before issue"),
               ("warp_instructions", "warp inst"), ("ohmmas", "OHMMAs run"), ("size", "M=N=K"), ("sms", "SMs"),
               ("ok", "ok")]
    order = {label: i for i, (label, *_) in enumerate(POINTS)}
    return columns, [rows[k] for k in sorted(rows, key=lambda k: (k[0], order.get(k[1], len(order))))]


def _render(rows: list[dict], console) -> None:
    """Speedups as a matrix: points down, machines (numbered, legend below) across; the
    tensor-bound ideal of each machine in brackets."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    labels = list(dict.fromkeys(r["point"] for r in rows))
    steps_ = list(dict.fromkeys(r["step"] for r in rows))
    index = {(r["step"], r["point"]): r for r in rows}
    t = Table(box=box.MINIMAL_HEAVY_HEAD, title=escape(f"speedup over hmma [x] (tensor-bound ideal), {_where(rows)}"))
    t.add_column("point")
    for i, _ in enumerate(steps_):
        t.add_column(f"({i})", justify="right")
    t.add_column("paper", justify="right")
    for label in labels:
        t.add_row(escape(label), *[_cell(index.get((s, label))) for s in steps_],
                  f"{PAPER[label]:g}" if label in PAPER else "")
    console.print(t)
    for i, s in enumerate(steps_):
        console.print(escape(f"({i}) {s}"))


def _cell(r: dict | None) -> str:
    if not r or r.get("speedup") is None:
        return ""
    return f"{r['speedup']:.2f} ({r['ideal']:.1f})" if r.get("ideal") else f"{r['speedup']:.2f}"


def _where(rows: list[dict]) -> str:
    return f"{rows[0]['size']}^3 on {rows[0]['sms']} SMs" if rows else ""


def markdown(rows: list[dict]) -> str:
    """The speedup matrix as Markdown (machines down, points across; the ideal in brackets)."""
    labels = list(dict.fromkeys(r["point"] for r in rows))
    out = [f"speedup over hmma [x] (tensor-bound ideal in brackets), {_where(rows)}, model cycles:", "",
           "| machine | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for step in dict.fromkeys(r["step"] for r in rows):
        cells = {r["point"]: r for r in rows if r["step"] == step}
        out.append(f"| {step} | " + " | ".join(_cell(cells.get(label)) for label in labels) + " |")
    out.append("| paper | " + " | ".join(f"{PAPER[label]:g}" if label in PAPER else "" for label in labels) + " |")
    return "\n".join(out) + "\n"


def _plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    steps_ = list(dict.fromkeys(r["step"] for r in rows))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label in dict.fromkeys(r["point"] for r in rows):
        ys = [next((r.get("speedup") for r in rows if r["step"] == s and r["point"] == label), None) for s in steps_]
        ax.plot(range(len(steps_)), ys, marker="o", label=label)
        if label in PAPER:
            ax.axhline(PAPER[label], color="grey", lw=0.6, ls=":")
    ax.set_xticks(range(len(steps_)))
    ax.set_xticklabels(steps_, rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_ylabel("speedup over hmma [x] (model cycles)")
    ax.set_title(f"ablation: the paper's premises one at a time, {_where(rows)} (dotted: paper)")
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path)


EXPERIMENT = Experiment(
    "ablation", "headline GEMM points from the strict v100 to the paper's premises, one premise at a time, the "
    "sequenced SpWMMA and the wide sequenced tile",
    points=_points, measure=_measure,
    describe=lambda p: f"{p['step']}: {p['point']} {p['mode']}",
    table=_table, sources=lambda o: emulator_files() + [Path(__file__), Path(__file__).with_name("workloads.py")],
    plotter=_plot, renderer=_render, markdowner=markdown,
    notes=lambda rows: ["Speedup = hmma cycles / mode cycles on the same operands and machine; tensor-bound = hmma tensor "
                        "cycles / (OHMMAs run x cycles per OHMMA)."])
