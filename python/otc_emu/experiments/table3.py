"""table3: the three explicit im2col kernels of the paper's Table III (dense, CSR-encoded with a
per-element search, bitmap with row offsets; ``otc_emu.im2col``) run on the emulated V100 and
timed by the cycle model, normalised to dense, per feature-map sparsity, on the paper's ResNet-18
layer (H = W = 56, 3x3, padding 1) or a channel slice of it on the matching slice of the GPU.
With ``host`` also the host time of the NumPy references (``otc_emu.sparse``), as an extra."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import OtcError
from . import workloads
from .experiment import Experiment, check_sms, option, with_device
from .plot import require_matplotlib, save_figure
from .store import PACKAGE, emulator_files
from .workloads import feature_map, slice_device

TABLE3_SPARSITY = (0.0, 0.25, 0.5, 0.75, 0.99, 0.999)
DESIGNS = ("dense", "csr", "bitmap")
#: The paper's layer: 128 channels of 56 x 56; the experiment emulates ``channels`` of them.
LAYER_CHANNELS = 128

# The paper's Table III (normalised im2col time), printed beside ours.
PAPER_TABLE3 = {"csr": (101.3, 67.1, 45.2, 14.5, 4.7, 1.2), "bitmap": (8.31, 6.87, 4.73, 2.5, 1.5, 1.1)}


def default_sms(channels: int) -> int:
    """The GPU slice that gives each SM the load the whole layer gives the whole V100: 80 * C / 128
    SMs (at least 1, at most 80)."""
    return min(80, max(1, round(80 * channels / LAYER_CHANNELS)))


def _points(o: dict) -> list[dict]:
    hw = int(option(o, "size", 56))
    channels = int(option(o, "channels", LAYER_CHANNELS))
    repeats = int(option(o, "repeats", 3))
    if hw < 3 or channels < 1 or repeats < 1:
        raise OtcError(f"table3 needs a feature map of at least 3x3, 1 channel and 1 repeat (got {hw}, {channels}, {repeats})")
    sms = check_sms(option(o, "sms", default_sms(channels)))
    base = {"hw": hw, "channels": channels, "r": 3, "padding": 1, "seed": int(o.get("seed", 0))}
    sparsities = o.get("sparsities", TABLE3_SPARSITY)
    pts = [with_device({**base, "sparsity": s, "what": d, "sms": sms}, o) for s in sparsities for d in DESIGNS]
    if o.get("host"):
        pts += [{**base, "sparsity": s, "what": "host", "repeats": repeats} for s in sparsities]
    return pts


def _measure(p: dict) -> dict:
    from .. import im2col, sparse

    x = feature_map(p["channels"], p["hw"], p["sparsity"], p["seed"])
    want = sparse.im2col_dense(x, p["r"], p["r"], 1, p["padding"])
    if p["what"] != "host":
        res = im2col.lower(x, p["r"], p["r"], 1, p["padding"], design=p["what"], device=slice_device(p["sms"], p.get("device")))
        c = res.stats.counters
        return {"cycles": c["cycles"], "warp_instructions": c["warp_instructions"],
                "gmem_read_bytes": c.get("gmem.read_bytes"), "ok": bool(np.array_equal(res.cols, want))}
    funcs = {"dense": sparse.im2col_dense, "csr": sparse.im2col_csr, "bitmap": sparse.im2col_bitmap}
    out: dict[str, Any] = {}
    ok = True
    for name, f in funcs.items():
        f(x, p["r"], p["r"], 1, p["padding"])  # warm-up, untimed: first-call allocation is not im2col cost
        times = []
        for _ in range(p["repeats"]):
            t0 = time.perf_counter()
            y = f(x, p["r"], p["r"], 1, p["padding"])
            times.append(time.perf_counter() - t0)
        ok = ok and bool(np.array_equal(y, want))
        out[f"host_{name}_ms"] = 1e3 * statistics.median(times)
    out["ok"] = ok
    return out


def _table(points: list[dict], results: list[dict]):
    rows: dict[float, dict] = {}
    host = False
    for p, r in zip(points, results):
        row = rows.setdefault(p["sparsity"], {"sparsity_pct": 100 * p["sparsity"], "ok": True})
        row["ok"] = row["ok"] and r["ok"]
        if p["what"] == "host":
            host = True
            row.update({k: v for k, v in r.items() if k.endswith("_ms")})
            for name in DESIGNS:
                row[f"host_{name}_norm"] = r[f"host_{name}_ms"] / r["host_dense_ms"]
        else:
            row[f"{p['what']}_cycles"] = r["cycles"]
            row[f"{p['what']}_warp_instructions"] = r["warp_instructions"]
    for s, row in rows.items():
        for name in DESIGNS:
            if row.get("dense_cycles") and row.get(f"{name}_cycles"):
                row[f"{name}_norm"] = row[f"{name}_cycles"] / row["dense_cycles"]
        if s in TABLE3_SPARSITY:
            j = TABLE3_SPARSITY.index(s)
            row["paper_csr_norm"], row["paper_bitmap_norm"] = PAPER_TABLE3["csr"][j], PAPER_TABLE3["bitmap"][j]
    columns = [("sparsity_pct", "Sparsity [%]"), ("csr_norm", "CSR [x dense]"), ("bitmap_norm", "Bitmap [x dense]"),
               ("paper_csr_norm", "paper CSR [x]"), ("paper_bitmap_norm", "paper bitmap [x]"),
               ("dense_cycles", "dense [cycle]"), ("csr_cycles", "CSR [cycle]"), ("bitmap_cycles", "bitmap [cycle]")]
    if host:
        columns += [("host_csr_norm", "host NumPy CSR [x]"), ("host_bitmap_norm", "host NumPy bitmap [x]"),
                    ("host_dense_ms", "host dense [ms]"), ("host_csr_ms", "host CSR [ms]"),
                    ("host_bitmap_ms", "host bitmap [ms]")]
    columns.append(("ok", "same"))
    return columns, [rows[s] for s in sorted(rows)]


def _view(columns, rows):
    return [c for c in columns if not c[0].endswith(("_ms", "_cycles"))], rows  # times and cycles: CSV, --markdown


def _notes(rows: list[dict]) -> list[str]:
    notes = ["Cycles of the three im2col kernels (programs/im2col.sass, nvcc 11.8 -O3 from programs/cuda/im2col.cu) "
             "on the emulated V100, each writing the lowered matrix to global memory, normalised to the dense kernel "
             "at the same sparsity; the paper's columns are its Table III (PyTorch ATen on a real GPU). 'same': every "
             "lowered matrix equals otc_emu.sparse.im2col_dense bit for bit."]
    if any("host_dense_ms" in r for r in rows):
        notes.append("host NumPy columns: time of the Python/NumPy references on this machine; the dense one is "
                     "vectorised, the others loop in Python, so they compare implementations, not designs.")
    return notes


def _plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    xs = np.arange(len(rows))
    for i, (key, label) in enumerate((("csr_norm", "CSR (emulated)"), ("bitmap_norm", "bitmap (emulated)"),
                                      ("paper_csr_norm", "CSR (paper)"), ("paper_bitmap_norm", "bitmap (paper)"))):
        ax.bar(xs + (i - 1.5) * 0.2, [r.get(key) or 0 for r in rows], width=0.2, label=label)
    ax.set_xticks(xs, [f"{r['sparsity_pct']:g}%" for r in rows])
    ax.set_yscale("log")
    ax.set_ylabel("cycles / dense im2col")
    ax.set_xlabel("feature-map zeros")
    ax.legend(fontsize=8)
    save_figure(fig, path)


EXPERIMENT = Experiment(
    "table3", "cycles of dense, CSR and bitmap im2col kernels on the emulated V100, normalised to dense (paper Table III)",
    points=_points, measure=_measure, describe=lambda p: f"{p['sparsity']:.1%} {p['what']}",
    table=_table, sources=lambda o: [PACKAGE / "sparse.py", PACKAGE / "im2col.py", PACKAGE / "programs" / "im2col.sass",
                                     Path(__file__), Path(workloads.__file__)] + emulator_files(),
    plotter=_plot, notes=_notes, view=_view)
