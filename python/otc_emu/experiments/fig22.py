"""fig22: layer-wise and full-model speedups of the five models of the paper's Table II (its
Fig. 22): the five CNN cases and the three GEMM cases, under ``v100`` and ``dstc-paper``, with
the upper bound 1 / (1 - sparsity) the paper draws beside each layer.

CNN cases (normalised to *Dense Implicit*, as the paper does):

- ``dense_explicit``: the dense im2col kernel on the SM (``otc_emu.im2col``, design "dense")
  writing the lowered matrix, then the hmma GEMM on it; cycles are the two launches' sum;
- ``dense_implicit``: ``conv2d(mode="dense_implicit")`` (the cuDNN-like baseline);
- ``single_sparse_explicit``: the same explicit im2col, then the Sparse Tensor Core GEMM
  (:data:`STC_MODE`, mode "vstc"); any GEMM mode runs after the explicit im2col (:func:`measure`).
  The Sparse Tensor Core runs only its own pattern, 4 kept of every 16 weights along the
  reduction (75%): its cases take the layer's weights pruned further to that pattern
  (:func:`stc_operands`, the weights as its sparse B operand) and are checked against NumPy on
  those weights;
- ``single_sparse_implicit``, ``dual_sparse_implicit``: ``conv2d`` modes
  ``single_sparse_implicit`` and ``sparse_implicit``;
- ``dual_sparse_implicit_wide``, beyond the paper: ``conv2d(mode="sparse_implicit_wide")`` (1, 2
  or 4 32-channel tiles per warp in as many accumulation buffers, ``conv.wide_units``' pick, one
  sequenced SpWMMA per tile and listed k), run with ``kernels.WIDE_MACHINE``'s keys on top of the
  machine.

GEMM cases (normalised to *Dense GEMM*): ``dense_gemm`` (hmma), ``single_sparse_gemm`` (the
Sparse Tensor Core, :data:`STC_MODE`, same switch), ``dual_sparse_gemm`` (spgemm), and, as extras
the paper does not have, ``otc_single_sparse_gemm`` (spgemm_a: our single-side kernel) and
``dual_sparse_gemm_wide`` (spgemm_wide: the 64x64 warp tile with the sequenced SpWMMA, run with
the keys it needs, ``kernels.WIDE_MACHINE``, on top of the machine, as fig21 runs it).

Sizes: a layer of at most ``budget`` million MACs (default :data:`DEFAULT_BUDGET`: all but two)
runs whole on the 80 SMs; a larger one runs as a band of its output rows (convolutions) or output
features (GEMMs, a multiple of :data:`GEMM_BAND_FEATURES`) of at most that much on the matching
slice of the V100 (``Device.v100_slice``: the SMs in proportion, each with its share of the
bandwidth), so that each SM gets about the load the whole layer gives the whole GPU; ``full`` runs
every layer whole. A layer's cycles on the full GPU are estimated from its band as cycles x (layer work /
band work) x (SMs of the band / 80), and the full-model speedup weights each layer by that and by
its count in the model."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import OtcError
from . import fig22_models, workloads
from .experiment import Experiment, device_spec, option
from .fig22_models import Conv, Gemm, model_layers
from .plot import require_matplotlib, save_figure
from .store import PACKAGE, emulator_files
from .workloads import ConvLayer, conv_point, conv_weights, feature_map, gemm_layer_operands, gemm_point, mode_spec, point_result, slice_device

#: The Sparse Tensor Core's GEMM mode (vector-wise, docs/vstc.md). A case whose mode is absent
#: from kernels.GEMM_MODES is reported unavailable, never run in another mode.
STC_MODE = "vstc"

#: case -> (how it runs, mode). "explicit": the dense im2col kernel then a GEMM mode; "implicit":
#: a conv2d mode; "gemm": a GEMM mode.
CONV_CASES = {
    "dense_explicit": ("explicit", "hmma"),
    "dense_implicit": ("implicit", "dense_implicit"),
    "single_sparse_explicit": ("explicit", STC_MODE),
    "single_sparse_implicit": ("implicit", "single_sparse_implicit"),
    "dual_sparse_implicit": ("implicit", "sparse_implicit"),
    "dual_sparse_implicit_wide": ("implicit", "sparse_implicit_wide"),
}
GEMM_CASES = {
    "dense_gemm": ("gemm", "hmma"),
    "single_sparse_gemm": ("gemm", STC_MODE),
    "dual_sparse_gemm": ("gemm", "spgemm"),
    "otc_single_sparse_gemm": ("gemm", "spgemm_a"),
    "dual_sparse_gemm_wide": ("gemm", "spgemm_wide"),
}
BASELINE = {"conv": "dense_implicit", "gemm": "dense_gemm"}
#: The table's columns: one role per column, the CNN case and the GEMM case that fill it.
ROLES = (
    ("dense_explicit", "Dense Explicit", ("dense_explicit",)),
    ("stc_single", "Single Sparse Explicit / GEMM (STC)", ("single_sparse_explicit", "single_sparse_gemm")),
    ("otc_single", "Single Sparse Implicit / spgemm_a", ("single_sparse_implicit", "otc_single_sparse_gemm")),
    ("dual", "Dual Sparse", ("dual_sparse_implicit", "dual_sparse_gemm")),
    ("dual_wide", "Dual Sparse, wide (beyond the paper)", ("dual_sparse_implicit_wide", "dual_sparse_gemm_wide")),
)
MACHINES = ("v100", "dstc-paper")
#: Default work per layer run, in million multiply-accumulates of the dense layer: every layer
#: whole on 80 SMs but Mask R-CNN's FPN P2 (23.6 G) and the LSTM's W_ih (3.2 G). Smaller bands
#: distort the cases whose CTA tiles a band of a few output rows fills worse than the whole layer
#: does: at 24 (the default until 2026-12-07) hmma's 128-pixel blocks over a band of 1-3 rows of 28
#: made Dense Explicit 0.42x where the whole VGG-16 conv4_2 gives 0.88x (docs/experiments.md).
DEFAULT_BUDGET = 2000
#: A GEMM band's output features (the M of W @ X) are a multiple of this: hmma's and the Sparse
#: Tensor Core's CTA tile is 128 rows (spgemm_wide's 64 divides it), so that no mode computes
#: padding rows in a band that it would not compute in the whole layer (whose widths here are
#: multiples of 128, but for LSTM's 6000). A band of 96 features made hmma compute 128 rows (and
#: one of 64, 128), which slowed the baseline by 1.33x (2x) against spgemm's 32-row padding.
GEMM_BAND_FEATURES = 128
UNAVAILABLE = "unavailable"


def case_available(mode: str) -> bool:
    """Whether a case's mode can run (it is one of kernels.GEMM_MODES or CONV_MODES)."""
    from ..kernels import CONV_MODES, GEMM_MODES

    return mode in GEMM_MODES or mode in CONV_MODES


def stc_operands(w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The operands of W (out x K) @ X (K x cols) for the Sparse Tensor Core, which prunes its B
    operand vector-wise: (X^T, W^T pruned to 4 kept per 16 along K), K padded with zeros to a
    multiple of 16, so that their product is (W' X)^T."""
    from .. import sparse
    from ..vstc import KEPT, VECTOR

    k = w.shape[1]
    kp = -(-k // VECTOR) * VECTOR
    wt = np.zeros((kp, w.shape[0]), dtype=np.float16)
    wt[:k] = w.T
    xt = np.zeros((x.shape[1], kp), dtype=np.float16)
    xt[:, :k] = x.T
    return xt, sparse.prune_vector_wise(wt, 1 - KEPT / VECTOR, axis=0)


def _gemm_case(w: np.ndarray, x: np.ndarray, mode: str, sms: int, spec: dict | None) -> dict:
    """GEMM ``mode`` on W @ X (the Sparse Tensor Core on its own operands, :func:`stc_operands`;
    spgemm_wide on :func:`mode_spec`)."""
    a, b = stc_operands(w, x) if mode == STC_MODE else (w, x)
    return gemm_point(a, b, mode, sms, spec=mode_spec(mode, spec))


def scaled(layer: Conv | Gemm, budget_macs: float | None) -> tuple[Conv | Gemm, int]:
    """The band of ``layer`` that runs, and its SMs: all of it on 80 SMs when ``budget_macs`` is
    None; else at most ``budget_macs`` of it (at least one output row; for a GEMM, output features
    in whole multiples of :data:`GEMM_BAND_FEATURES`, rounded up, at least one) on
    round(80 x band / layer) SMs, at least one."""
    from ..device import V100_SMS

    if budget_macs is None:
        return layer, V100_SMS
    if isinstance(layer, Conv):
        per_row = layer.macs // layer.p
        rows = int(min(layer.p, max(1, budget_macs // per_row)))
        if rows == layer.p:
            return layer, V100_SMS
        # the input rows of `rows` interior output rows, halo included: no zero rows above or below
        band = replace(layer, h=(rows - 1) * layer.stride + layer.r, pad_rows=False)
        assert band.p == rows
        return band, max(1, round(V100_SMS * rows / layer.p))
    per_feature = layer.tokens * layer.d_in
    step = GEMM_BAND_FEATURES
    d_out = int(min(layer.d_out, max(step, -(-(budget_macs // per_feature) // step) * step)))
    if d_out == layer.d_out:
        return layer, V100_SMS
    return replace(layer, d_out=d_out), max(1, round(V100_SMS * d_out / layer.d_out))


def _machines(o: dict) -> list[str]:
    m = o.get("machine")
    return list(MACHINES) if m is None else [m]


def _points(o: dict) -> list[dict]:
    full = bool(o.get("full"))
    budget = None if full else float(option(o, "budget", DEFAULT_BUDGET)) * 1e6
    if budget is not None and budget <= 0:
        raise OtcError(f"fig22: the work budget must be positive, got {o.get('budget')}")
    seed = int(o.get("seed", 0))
    pts = []
    for machine in _machines(o):
        spec = device_spec({**o, "machine": machine})
        for model, layer in o.get("layers") or model_layers(o.get("models")):  # layers: (model, Conv | Gemm) pairs
            band, sms = scaled(layer, budget)
            kind = "conv" if isinstance(layer, Conv) else "gemm"
            for case, (how, mode) in (CONV_CASES if kind == "conv" else GEMM_CASES).items():
                if not case_available(mode):
                    continue
                p = {"model": model, "kind": kind, "layer": layer.as_dict(), "run": band.as_dict(), "sms": sms,
                     "case": case, "how": how, "mode": mode, "seed": seed, "machine": machine}
                pts.append({**p, "device": spec} if spec else p)
    return pts


def conv_inputs(run: dict, seed: int):
    """The (C, H, W) activations and KCRS weights of a convolution band (uniformly random zeros)."""
    x = feature_map(run["c"], run["w"], run["sparsity_x"], seed, rows=run["h"])
    return x, conv_weights(run["k"], run["c"], run["r"], run["sparsity_w"], seed)


def band_case(run: dict, x: np.ndarray) -> tuple[np.ndarray, ConvLayer]:
    """The map ``x`` of ``run`` and the layer to run it as: a band of rows (``pad_rows`` False) gets
    its left and right zero padding as columns of the map and runs unpadded, so its first and last
    rows are real rows, not padding (the same values and zeros as padding in every mode)."""
    pad = run["padding"]
    if run.get("pad_rows", True) or pad == 0:
        return x, ConvLayer(run["name"], run["c"], run["k"], run["w"], run["r"], run["stride"], pad, run["sparsity_x"], run["sparsity_w"])
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    return x, ConvLayer(run["name"], run["c"], run["k"], x.shape[2], run["r"], run["stride"], 0, run["sparsity_x"], run["sparsity_w"])


def measure_conv_case(x: np.ndarray, w: np.ndarray, layer: ConvLayer, how: str, mode: str, sms: int,
                      spec: dict | None = None) -> dict:
    """One CNN case on the activations ``x`` (C, H, W) and weights ``w`` (KCRS): ``how`` "implicit"
    runs conv2d ``mode``; "explicit" runs the dense im2col kernel on the SM, checks its lowered
    matrix bit for bit against the NumPy one, then GEMM ``mode`` on it (cycles: the sum)."""
    from .. import im2col, sparse

    if how == "implicit":
        r = conv_point(layer, x, w, mode, sms, spec=spec)
        r.pop("stats")
        r.pop("max_abs_err")
        return r
    lowered = im2col.lower(x, layer.r, layer.r, layer.stride, layer.padding, design="dense", device=slice_device(sms, spec))
    same = bool(np.array_equal(lowered.cols, sparse.im2col_dense(x, layer.r, layer.r, layer.stride, layer.padding)))
    g = _gemm_case(w.reshape(w.shape[0], -1), lowered.cols, mode, sms, spec)
    im = point_result(lowered.stats, same)
    out = {k: (v + im[k] if isinstance(v, int) and not isinstance(v, bool) and im.get(k) is not None else v) for k, v in g.items()}
    out.update(ok=same and g["ok"], im2col_cycles=im["cycles"], gemm_cycles=g["cycles"])
    return out


def measure(p: dict) -> dict:
    """One point: a case of a layer band on its slice of machine ``p["device"]``."""
    run = p["run"]
    if p["kind"] == "conv":
        x, w = conv_inputs(run, p["seed"])
        x, layer = band_case(run, x)
        return measure_conv_case(x, w, layer, p["how"], p["mode"], p["sms"], p.get("device"))
    wm, xt = gemm_layer_operands(run["d_in"], run["d_out"], run["tokens"], run["sparsity_x"], run["sparsity_w"], p["seed"])
    return _gemm_case(wm, xt, p["mode"], p["sms"], p.get("device"))


def _layer_of(d: dict) -> Conv | Gemm:
    return (Conv if "c" in d else Gemm)(**d, source="")


def full_layer_cycles(p: dict, cycles: float) -> float:
    """The layer's estimated cycles on the whole V100 from its band's: cycles x (layer MACs / band
    MACs) x (band SMs / 80); the band's own cycles when it is the whole layer."""
    from ..device import V100_SMS

    layer, band = _layer_of(p["layer"]), _layer_of(p["run"])
    return cycles * (layer.macs / band.macs) * (p["sms"] / V100_SMS)


def upper_bound(sparsity_x: float, sparsity_w: float) -> float:
    """The paper's theoretical speedup 1 / (1 - sparsity), with sparsity the fraction of products
    that have a zero factor when the zeros of the two sides are independent: 1 - (1-sx)(1-sw)."""
    dense = (1 - sparsity_x) * (1 - sparsity_w)
    return float("inf") if dense == 0 else 1.0 / dense


def _table(points: list[dict], results: list[dict]):
    rows: dict[tuple, dict] = {}
    full: dict[tuple, dict] = {}
    for p, r in zip(points, results):
        L = _layer_of(p["layer"])
        row = rows.setdefault((p["machine"], p["model"], L.name), {
            "machine": p["machine"], "model": p["model"], "layer": L.name, "shape": L.shape(), "count": L.count,
            "sparsity_x_pct": 100 * L.sparsity_x, "sparsity_w_pct": 100 * L.sparsity_w,
            "band": "" if p["run"] == p["layer"] else f"{_layer_of(p['run']).shape()} on {p['sms']} SM{'s' if p['sms'] > 1 else ''}",
            "upper_bound": upper_bound(L.sparsity_x, L.sparsity_w), "ok": True, "_kind": p["kind"]})
        row[f"{p['case']}_cycles"] = r["cycles"]
        row["ok"] = row["ok"] and r["ok"]
        tot = full.setdefault((p["machine"], p["model"]), {"dense_macs": 0.0, "products": 0.0, "layers": {}})
        tot[f"{p['case']}_cycles"] = tot.get(f"{p['case']}_cycles", 0.0) + L.count * full_layer_cycles(p, r["cycles"])
        tot["layers"][p["case"]] = tot["layers"].get(p["case"], 0) + 1
        if p["case"] == BASELINE[p["kind"]]:
            tot["dense_macs"] += L.count * L.macs
            tot["products"] += L.count * L.macs * (1 - L.sparsity_x) * (1 - L.sparsity_w)
    out = []
    for (machine, model), tot in full.items():
        layer_rows = [r for r in rows.values() if r["machine"] == machine and r["model"] == model]
        kind = layer_rows[0]["_kind"]
        total = {"machine": machine, "model": model, "layer": "full model", "shape": "", "count": sum(r["count"] for r in layer_rows),
                 "upper_bound": tot["dense_macs"] / tot["products"] if tot["products"] else None,
                 "ok": all(r["ok"] for r in layer_rows), "band": "layers weighted by count", "_kind": kind}
        for r in [*layer_rows, total]:
            # the full model only from cases measured on every layer of the model
            src = r if r is not total else {k: v for k, v in tot.items()
                                            if k.endswith("_cycles") and tot["layers"][k[: -len("_cycles")]] == len(layer_rows)}
            base = src.get(f"{BASELINE[kind]}_cycles")
            for key, _, cases in ROLES:
                case = next((c for c in cases if c in (CONV_CASES if kind == "conv" else GEMM_CASES)), None)
                if case is None:
                    continue
                mode = (CONV_CASES if kind == "conv" else GEMM_CASES)[case][1]
                cyc = src.get(f"{case}_cycles")
                r[f"speedup_{key}"] = UNAVAILABLE if not case_available(mode) else (base / cyc if base and cyc else None)
            r["baseline_cycles"] = round(base) if base else None
        out += layer_rows + [total]
    for r in out:
        r.pop("_kind")
    columns = [("machine", "Machine"), ("model", "Model"), ("layer", "Layer"), ("shape", "Shape"), ("count", "Count"),
               ("sparsity_x_pct", "Act. zeros [%]"), ("sparsity_w_pct", "Wt. zeros [%]"),
               ("baseline_cycles", "Dense Implicit / GEMM [cycle]")]
    columns += [(f"speedup_{key}", f"{header} [x]") for key, header, _ in ROLES]
    columns += [("upper_bound", "upper bound [x]"), ("band", "run as"), ("ok", "ok")]
    return columns, out


def _view(columns, rows):
    keep = {"machine", "model", "layer", "sparsity_x_pct", "sparsity_w_pct", "upper_bound", "ok"} | {f"speedup_{k}" for k, _, _ in ROLES}
    return [c for c in columns if c[0] in keep], rows


def _notes(rows: list[dict]) -> list[str]:
    notes = ["Speedup: model cycles of Dense Implicit (CNN layers) or Dense GEMM (BERT-base, LSTM) over each case's, "
             "on the same operands and machine; Dense/Single Sparse Explicit = the dense im2col kernel on the SM + "
             "the GEMM on its lowered matrix (cycles summed). Full model: each layer's cycles scaled from its band "
             "to the whole V100 and weighted by its count (its cycle column: that estimate). Upper bound: 1 / (1 - sparsity), "
             "sparsity = the fraction of products with a zero factor (independent zeros). Sparsities: docs/experiments.md (fig22)."]
    if any(r.get("speedup_stc_single") == UNAVAILABLE for r in rows):
        notes.append(f"Single Sparse Explicit / GEMM (STC): unavailable: the Sparse Tensor Core GEMM mode {STC_MODE!r} "
                     "is not in kernels.GEMM_MODES.")
    return notes


def _plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    machines = list(dict.fromkeys(r["machine"] for r in rows))
    fig, axes = plt.subplots(len(machines), 1, figsize=(max(8, 0.35 * len(rows) / len(machines)), 3.6 * len(machines)), squeeze=False)
    for ax, machine in zip(axes[:, 0], machines):
        rs = [r for r in rows if r["machine"] == machine]
        xs = np.arange(len(rs))
        width = 0.8 / (len(ROLES) + 1)
        for i, (key, header, _) in enumerate(ROLES):
            vals = [r.get(f"speedup_{key}") for r in rs]
            label = header + (" (unavailable)" if UNAVAILABLE in vals else "")
            ax.bar(xs + (i - len(ROLES) / 2) * width, [v if isinstance(v, float) else 0 for v in vals], width=width, label=label)
        ax.scatter(xs + (len(ROLES) / 2) * width, [r["upper_bound"] for r in rs], marker="_", color="black", label="upper bound")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.set_xticks(xs, [f"{r['model']}: {r['layer']}" for r in rs], rotation=60, ha="right", fontsize=6)
        ax.set_ylabel(f"speedup [x], {machine}")
    axes[0, 0].legend(fontsize=7, ncol=3)
    save_figure(fig, path)


EXPERIMENT = Experiment(
    "fig22", "layer-wise and full-model speedups of VGG-16, ResNet-18, Mask R-CNN, BERT-base and an LSTM LM, "
    "five CNN and three GEMM cases, v100 and dstc-paper (paper Fig. 22)",
    points=_points, measure=measure, describe=lambda p: f"{p['machine']} {p['model']} {p['layer']['name']} {p['case']}",
    table=_table, sources=lambda o: emulator_files() + [Path(__file__), Path(fig22_models.__file__), Path(workloads.__file__),
                                                        PACKAGE / "conv.py", PACKAGE / "im2col.py"],
    plotter=_plot, notes=_notes, view=_view)
