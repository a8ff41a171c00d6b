"""layers: per-layer cycles and speedups of representative VGG-16, ResNet-18 and BERT-base layers
at stated (assumed) sparsities, in every GEMM mode (convolutions as explicit im2col GEMMs) and in
the implicit convolution modes (the paper's Fig. 22)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import OtcError
from . import workloads
from .experiment import Experiment, sms_option, with_device
from .plot import require_matplotlib, save_figure
from .store import emulator_files
from .workloads import ConvLayer, GemmLayer, conv_operands, conv_point, gemm_point

#: Representative layers (batch 1) and the sparsities assumed for them (docs/experiments.md). The
#: paper lists its measured per-layer sparsities only in a figure; these are typical of AGP-pruned
#: CNNs (weights) with ReLU activations, and of movement-pruned BERT-base (weights only).
LAYERS: tuple[ConvLayer | GemmLayer, ...] = (
    ConvLayer("VGG-16 conv5_2", 512, 512, 14, 3, 1, 1, sparsity_x=0.7, sparsity_w=0.8),
    ConvLayer("ResNet-18 conv2_x", 64, 64, 56, 3, 1, 1, sparsity_x=0.5, sparsity_w=0.6),
    ConvLayer("ResNet-18 conv4_x", 256, 256, 14, 3, 1, 1, sparsity_x=0.65, sparsity_w=0.8),
    GemmLayer("BERT-base QKV", 128, 768, 2304, sparsity_x=0.0, sparsity_w=0.9),
    GemmLayer("BERT-base FFN1", 128, 768, 3072, sparsity_x=0.0, sparsity_w=0.9),
    GemmLayer("BERT-base FFN2", 128, 3072, 768, sparsity_x=0.0, sparsity_w=0.9),
)

LAYER_GEMM_MODES = ("hmma", "owmma", "spgemm_a", "spgemm")


def _points(o: dict) -> list[dict]:
    from ..kernels import CONV_MODES as conv_modes

    tokens = o.get("tokens")  # None: each GEMM layer's own sequence length
    layers = o.get("layers", LAYERS)
    sms = sms_option(o, 80)
    pts = []
    for layer in layers:
        if isinstance(layer, GemmLayer) and tokens is not None and int(tokens) != layer.tokens:
            if int(tokens) < 1:
                raise OtcError(f"--tokens must be at least 1, got {tokens}")
            layer = GemmLayer(layer.name, int(tokens), layer.d_in, layer.d_out, layer.sparsity_x, layer.sparsity_w)
        kind = "conv" if isinstance(layer, ConvLayer) else "gemm"
        modes = list(o.get("modes", LAYER_GEMM_MODES)) + (list(conv_modes) if kind == "conv" else [])
        pts += [with_device({"kind": kind, "layer": layer.as_dict(), "mode": mode, "sms": sms, "seed": int(o.get("seed", 0))}, o)
                for mode in modes]
    return pts


def _layer_gemm_operands(p: dict):
    from .. import sparse

    L = p["layer"]
    seed = p["seed"]
    if p["kind"] == "conv":
        layer = ConvLayer(**L)
        x, w = conv_operands(layer, seed)
        return w.reshape(layer.k, -1), sparse.im2col_dense(x, layer.r, layer.r, layer.stride, layer.padding)
    return workloads.gemm_layer_operands(L["d_in"], L["d_out"], L["tokens"], L["sparsity_x"], L["sparsity_w"], seed)


def measure_layer(p: dict, device=None) -> dict:
    """One layer point (``kind``, ``layer``, ``mode``, ``sms``, ``seed``) on ``device`` (default:
    the V100 on ``sms`` SMs): an implicit convolution mode, or a GEMM mode on the layer's GEMM."""
    if p["kind"] == "conv" and p["mode"] not in LAYER_GEMM_MODES:
        layer = ConvLayer(**p["layer"])
        x, w = conv_operands(layer, p["seed"])
        r = conv_point(layer, x, w, p["mode"], p["sms"], device, spec=p.get("device"))
        r.pop("stats")
        r.pop("max_abs_err")
        return r
    a, b = _layer_gemm_operands(p)
    return gemm_point(a, b, p["mode"], p["sms"], device, spec=p.get("device"))


def _layer_shape(L: dict) -> str:
    if "hw" in L:
        return f"{L['c']}->{L['k']}, {L['hw']}x{L['hw']}, {L['r']}x{L['r']}"
    return f"{L['tokens']}x{L['d_in']}->{L['d_out']}"


def _table(points: list[dict], results: list[dict]):
    rows: dict[str, dict] = {}
    modes: list[str] = []
    for p, r in zip(points, results):
        L = p["layer"]
        row = rows.setdefault(L["name"], {"layer": L["name"], "shape": _layer_shape(L), "sparsity_x_pct": 100 * L["sparsity_x"],
                                          "sparsity_w_pct": 100 * L["sparsity_w"], "ok": True})
        row[f"{p['mode']}_cycles"] = r["cycles"]
        row["ok"] = row["ok"] and r["ok"]
        modes.append(p["mode"])
    modes = list(dict.fromkeys(modes))
    for row in rows.values():
        for m in modes:
            if row.get("hmma_cycles") and row.get(f"{m}_cycles") and m != "hmma":
                row[f"speedup_{m}"] = row["hmma_cycles"] / row[f"{m}_cycles"]
        # the paper normalises convolutions to its Dense Implicit baseline
        if row.get("dense_implicit_cycles") and row.get("sparse_implicit_cycles"):
            row["sparse_over_dense_implicit"] = row["dense_implicit_cycles"] / row["sparse_implicit_cycles"]
    columns = [("layer", "Layer"), ("shape", "Shape"), ("sparsity_x_pct", "Act. zeros [%]"), ("sparsity_w_pct", "Wt. zeros [%]"),
               ("hmma_cycles", "hmma [cycle]")]
    columns += [(f"speedup_{m}", f"{m} [x]") for m in modes if m != "hmma"]
    if any("sparse_over_dense_implicit" in r for r in rows.values()):
        columns.append(("sparse_over_dense_implicit", "sparse_implicit [x dense_implicit]"))
    columns.append(("ok", "ok"))
    return columns, list(rows.values())


def _view(columns, rows):
    """One line per layer and mode (the wide table of the CSV and --markdown has one column per
    mode, and the shapes)."""
    long = []
    for r in rows:
        modes = [k[: -len("_cycles")] for k in r if k.endswith("_cycles")]
        for m in modes:
            long.append({"layer": r["layer"], "shape": r["shape"], "sparsity": f"{r['sparsity_x_pct']:g}% / {r['sparsity_w_pct']:g}%",
                         "mode": m, "cycles": r[f"{m}_cycles"], "speedup": 1.0 if m == "hmma" else r.get(f"speedup_{m}"),
                         "vs_dense_implicit": r.get("sparse_over_dense_implicit") if m == "sparse_implicit" else None})
    for i in range(len(long) - 1, 0, -1):  # name each layer once
        if long[i]["layer"] == long[i - 1]["layer"]:
            long[i].update(layer="", shape="", sparsity="")
    columns = [("layer", "Layer"), ("sparsity", "Zeros act. / wt."), ("mode", "Mode"),
               ("cycles", "Cycles [cycle]"), ("speedup", "Speedup over hmma [x]")]
    if any(x["vs_dense_implicit"] for x in long):
        columns.append(("vs_dense_implicit", "over dense_implicit [x]"))
    return columns, long


def _notes(rows: list[dict]) -> list[str]:
    notes = ["Convolutions run as explicit-im2col GEMMs in the GEMM modes (A = weights K x CRS, B = im2col of the "
             "feature map), BERT layers as C = W x X^T, and convolutions also in the implicit-im2col conv modes when "
             "available; [x]: model cycles of hmma (dense, explicit) over each mode's; ok: every "
             "result within the documented bound of NumPy. "
             "Sparsities are assumptions (docs/experiments.md)."]
    return notes


def _plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    keys = list(dict.fromkeys(k for r in rows for k in r if k.startswith("speedup_")))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    xs = np.arange(len(rows))
    width = 0.8 / max(1, len(keys))
    for i, key in enumerate(keys):
        ax.bar(xs + (i - (len(keys) - 1) / 2) * width, [r.get(key) or 0 for r in rows], width=width, label=key[len("speedup_"):])
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(xs, [r["layer"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("speedup over hmma [x]")
    ax.legend(fontsize=8)
    save_figure(fig, path)


EXPERIMENT = Experiment(
    "layers", "per-layer speedups of representative VGG-16, ResNet-18 and BERT-base layers (paper Fig. 22)",
    points=_points, measure=measure_layer, describe=lambda p: f"{p['layer']['name']} {p['mode']}",
    table=_table, sources=lambda o: emulator_files() + [Path(__file__), Path(workloads.__file__)], plotter=_plot,
    notes=_notes, view=_view)
