"""table3: host time of the reference dense, CSR and bitmap im2col (``otc_emu.sparse``) on the
ResNet-18 layer (H = W = 56, 3x3, 128 channels), normalised to dense, per feature-map sparsity
(the paper's Table III); with ``emulate`` also the emulated convolution cycles."""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import OtcError
from . import workloads
from .experiment import Experiment, option
from .plot import require_matplotlib, save_figure
from .store import PACKAGE, emulator_files
from .workloads import ConvLayer, conv_point, feature_map

TABLE3_SPARSITY = (0.0, 0.25, 0.5, 0.75, 0.99, 0.999)

# The paper's Table III (normalised im2col time), printed beside ours.
PAPER_TABLE3 = {"csr": (101.3, 67.1, 45.2, 14.5, 4.7, 1.2), "bitmap": (8.31, 6.87, 4.73, 2.5, 1.5, 1.1)}


def _points(o: dict) -> list[dict]:
    hw = int(option(o, "size", 56))
    channels = int(option(o, "channels", 128))
    repeats = int(option(o, "repeats", 3))
    if hw < 3 or channels < 1 or repeats < 1:
        raise OtcError(f"table3 needs a feature map of at least 3x3, 1 channel and 1 repeat (got {hw}, {channels}, {repeats})")
    pts = [{"hw": hw, "channels": channels, "r": 3, "padding": 1, "sparsity": s, "repeats": repeats, "what": "host",
            "seed": int(o.get("seed", 0))} for s in o.get("sparsities", TABLE3_SPARSITY)]
    if o.get("emulate"):
        from ..kernels import CONV_MODES

        pts += [{**p, "what": mode, "repeats": 1} for p in pts for mode in CONV_MODES]
    return pts


def _measure(p: dict) -> dict:
    from .. import sparse

    x = feature_map(p["channels"], p["hw"], p["sparsity"], p["seed"])
    if p["what"] != "host":
        w = np.random.default_rng(p["seed"] + 7).standard_normal((p["channels"], p["channels"], 3, 3)).astype(np.float16)
        layer = ConvLayer("table3", p["channels"], p["channels"], p["hw"], 3, 1, 1, p["sparsity"], 0.0)
        r = conv_point(layer, x, w, p["what"])
        return {"cycles": r["cycles"], "ok": r["ok"]}
    funcs = {"dense": sparse.im2col_dense, "csr": sparse.im2col_csr, "bitmap": sparse.im2col_bitmap}
    out: dict[str, Any] = {}
    reference = None
    ok = True
    for name, f in funcs.items():
        f(x, p["r"], p["r"], 1, p["padding"])  # warm-up, untimed: first-call allocation is not im2col cost
        times = []
        for _ in range(p["repeats"]):
            t0 = time.perf_counter()
            y = f(x, p["r"], p["r"], 1, p["padding"])
            times.append(time.perf_counter() - t0)
        reference = y if reference is None else reference
        ok = ok and bool(np.array_equal(y, reference))
        out[f"{name}_ms"] = 1e3 * statistics.median(times)
    out["ok"] = ok
    return out


def _table(points: list[dict], results: list[dict]):
    rows: dict[float, dict] = {}
    emulated = []
    for p, r in zip(points, results):
        row = rows.setdefault(p["sparsity"], {"sparsity_pct": 100 * p["sparsity"], "ok": True})
        row["ok"] = row["ok"] and r["ok"]
        if p["what"] == "host":
            row.update({k: v for k, v in r.items() if k.endswith("_ms")})
            for name in ("dense", "csr", "bitmap"):
                row[f"{name}_norm"] = r[f"{name}_ms"] / r["dense_ms"]
        else:
            row[f"{p['what']}_cycles"] = r["cycles"]
            emulated.append(p["what"])
    for i, (s, row) in enumerate(sorted(rows.items())):
        if s in TABLE3_SPARSITY:
            j = TABLE3_SPARSITY.index(s)
            row["paper_csr_norm"], row["paper_bitmap_norm"] = PAPER_TABLE3["csr"][j], PAPER_TABLE3["bitmap"][j]
    columns = [("sparsity_pct", "Sparsity [%]"), ("csr_norm", "CSR [x dense]"), ("bitmap_norm", "Bitmap [x dense]"),
               ("paper_csr_norm", "paper CSR [x]"), ("paper_bitmap_norm", "paper bitmap [x]"),
               ("dense_ms", "dense [ms]"), ("csr_ms", "CSR [ms]"), ("bitmap_ms", "bitmap [ms]")]
    modes = list(dict.fromkeys(emulated))
    if modes:
        base = modes[0]
        for row in rows.values():
            for m in modes[1:]:
                if row.get(f"{base}_cycles") and row.get(f"{m}_cycles"):
                    row[f"{m}_norm_cycles"] = row[f"{m}_cycles"] / row[f"{base}_cycles"]
        columns += [(f"{m}_cycles", f"{m} conv [cycle]") for m in modes]
        columns += [(f"{m}_norm_cycles", f"{m} [x {base}]") for m in modes[1:]]
    columns.append(("ok", "same"))
    return columns, [rows[s] for s in sorted(rows)]


def _view(columns, rows):
    return [c for c in columns if not c[0].endswith(("_ms", "_cycles"))], rows  # times and cycles: CSV, --markdown


def _notes(rows: list[dict]) -> list[str]:
    return ["Host times of the NumPy reference implementations (otc_emu.sparse), median of the repeats, each "
            "normalised to the dense im2col at the same sparsity. The dense one is vectorised NumPy while the CSR "
            "and bitmap ones loop in Python per (channel, kernel row, output row), so the ratios compare "
            "implementations, not GPU kernels; the paper's columns are its Table III (PyTorch ATen)."]


def _plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    xs = np.arange(len(rows))
    for i, (key, label) in enumerate((("csr_norm", "CSR (ours)"), ("bitmap_norm", "bitmap (ours)"),
                                      ("paper_csr_norm", "CSR (paper)"), ("paper_bitmap_norm", "bitmap (paper)"))):
        ax.bar(xs + (i - 1.5) * 0.2, [r.get(key) or 0 for r in rows], width=0.2, label=label)
    ax.set_xticks(xs, [f"{r['sparsity_pct']:g}%" for r in rows])
    ax.set_yscale("log")
    ax.set_ylabel("time / dense im2col")
    ax.set_xlabel("feature-map zeros")
    ax.legend(fontsize=8)
    save_figure(fig, path)


EXPERIMENT = Experiment(
    "table3", "im2col time of dense, CSR and bitmap im2col, normalised to dense (paper Table III)",
    points=_points, measure=_measure, describe=lambda p: f"{p['sparsity']:.1%} {p['what']}",
    table=_table, sources=lambda o: [PACKAGE / "sparse.py", Path(__file__), Path(workloads.__file__)]
    + (emulator_files() if o.get("emulate") else []),
    plotter=_plot, notes=_notes, view=_view)
