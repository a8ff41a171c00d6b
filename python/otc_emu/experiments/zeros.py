"""zeros: how much the distribution of the zeros, not only their number, moves the convolution
speedups. Every CNN case of fig22 runs on two kinds of layers, each beside uniform-random zeros
of exactly the same count:

- ``digits``: the three conv layers of a small CNN trained and AGP-pruned on scikit-learn's
  handwritten digits (``benchmarks/digits_cnn.py``; its real weights and input activations for 64
  test images are the fixture ``experiments/data/digits_cnn.npz``). The 64 images run as one 8 x 8
  mosaic with one zero row and column between images, so the convolution with padding 1 is
  exactly each image's at its pixels (the gutter outputs are extra work, equal in every variant).
  Variant ``real``: the recorded tensors; ``uniform``: the same values at uniformly shuffled
  positions (activations within the image pixels, weights over the whole tensor).
- ``clustered``: a band of fig22's ResNet-18 ``layer2 3x3`` (its sparsities) with activations from
  ``sparse.prune_clustered`` (whole channels, then region x region squares; :data:`CLUSTERED`)
  against ``uniform`` ReLU-like activations; weights uniform-random in both.

The table gives each variant's speedups over Dense Implicit and, per case, the ratio of the
speedup with real / clustered zeros to the speedup with uniform zeros ("moved by")."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from . import fig22, fig22_models, workloads
from .experiment import Experiment, device_spec
from .fig22 import CONV_CASES, ROLES, band_case, case_available, measure_conv_case, scaled
from .store import PACKAGE, emulator_files
from .workloads import ConvLayer, conv_weights, feature_map

FIXTURE = Path(__file__).resolve().parent / "data" / "digits_cnn.npz"
DIGITS_LAYERS = ("conv1", "conv2", "conv3")
#: The mosaic: GRID x GRID images, one zero row / column between them.
GRID = 8
#: prune_clustered parameters of the clustered variants: name -> (channel_fraction, region).
CLUSTERED = {"channels+regions": (0.5, 4), "regions 8x8": (0.0, 8)}
#: The fig22 layer the clustered variants run on: a band of it of BAND_BUDGET million MACs
#: (fig22's default budget until 2026-12-07: 7 of its 28 rows on 14 SMs).
CLUSTERED_LAYER = ("ResNet-18", "layer2 3x3")
BAND_BUDGET = 24


@lru_cache(maxsize=1)
def digits_record() -> dict:
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


def mosaic(x: np.ndarray, grid: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """(N, C, H, W) images -> the (C, grid (H+1) - 1, grid (W+1) - 1) mosaic of the first grid^2,
    one zero row / column between neighbours, and the boolean mask of the image pixels."""
    n, c, h, w = x.shape
    if n < grid * grid:
        raise ValueError(f"a {grid}x{grid} mosaic needs {grid * grid} images, got {n}")
    out = np.zeros((c, grid * (h + 1) - 1, grid * (w + 1) - 1), x.dtype)
    mask = np.zeros(out.shape, bool)
    for i in range(grid * grid):
        y0, x0 = (i // grid) * (h + 1), (i % grid) * (w + 1)
        out[:, y0:y0 + h, x0:x0 + w] = x[i]
        mask[:, y0:y0 + h, x0:x0 + w] = True
    return out, mask


def shuffled(a: np.ndarray, where: np.ndarray, seed: int) -> np.ndarray:
    """``a`` with its values at the positions ``where`` permuted uniformly at random (same values,
    same count of zeros, positions uniform)."""
    out = a.copy()
    out[where] = np.random.default_rng(seed).permutation(a[where])
    return out


def operands(p: dict) -> tuple[np.ndarray, np.ndarray]:
    """The (C, H, W) activations and KCRS weights of a point."""
    if p["source"] == "digits":
        rec = digits_record()
        x, mask = mosaic(rec[f"{p['layer']}_x"])
        w = rec[f"{p['layer']}_w"]
        if p["variant"] == "uniform":
            x, w = shuffled(x, mask, p["seed"]), shuffled(w, np.ones(w.shape, bool), p["seed"] + 1)
        return x, w
    run = p["run"]
    w = conv_weights(run["k"], run["c"], run["r"], run["sparsity_w"], p["seed"])
    if p["variant"] == "uniform":
        return feature_map(run["c"], run["w"], run["sparsity_x"], p["seed"], rows=run["h"]), w
    from .. import sparse

    cf, region = CLUSTERED[p["variant"]]
    dense = sparse.relu_activations((run["c"], run["h"] * run["w"]), 0.0, seed=p["seed"]).reshape(run["c"], run["h"], run["w"])
    return sparse.prune_clustered(dense, run["sparsity_x"], cf, region, seed=p["seed"]), w


def _points(o: dict) -> list[dict]:
    seed = int(o.get("seed", 0))
    model, name = CLUSTERED_LAYER
    layer = next(L for m, L in fig22_models.model_layers([model]) if L.name == name)
    band, band_sms = scaled(layer, BAND_BUDGET * 1e6)
    workloads_ = [{"source": "digits", "layer": n, "variant": v, "sms": 80} for n in DIGITS_LAYERS for v in ("real", "uniform")]
    workloads_ += [{"source": "clustered", "layer": f"{model} {name}", "run": band.as_dict(), "variant": v, "sms": band_sms}
                   for v in ("uniform", *CLUSTERED)]
    pts = []
    for machine in fig22._machines(o):
        spec = device_spec({**o, "machine": machine})
        for w in workloads_:
            for case, (how, mode) in CONV_CASES.items():
                if case_available(mode):
                    p = {**w, "case": case, "how": how, "mode": mode, "seed": seed, "machine": machine}
                    pts.append({**p, "device": spec} if spec else p)
    return pts


def measure(p: dict) -> dict:
    x, w = operands(p)
    sparsity_x, sparsity_w = float(np.mean(x == 0)), float(np.mean(w == 0))
    if p["source"] == "digits":  # 3x3, stride 1, padding 1
        layer = ConvLayer(p["layer"], x.shape[0], w.shape[0], x.shape[2], 3, 1, 1, sparsity_x, sparsity_w)
    else:
        x, layer = band_case(p["run"], x)
    r = measure_conv_case(x, w, layer, p["how"], p["mode"], p["sms"], p.get("device"))
    return {**r, "sparsity_x": sparsity_x, "sparsity_w": sparsity_w}


def _table(points: list[dict], results: list[dict]):
    rows: dict[tuple, dict] = {}
    for p, r in zip(points, results):
        row = rows.setdefault((p["machine"], p["source"], p["layer"], p["variant"]), {
            "machine": p["machine"], "source": p["source"], "layer": p["layer"], "variant": p["variant"], "ok": True})
        row[f"{p['case']}_cycles"] = r["cycles"]
        row[f"{p['case']}_ohmma"] = r["ohmma_executed"]
        row["sparsity_x_pct"], row["sparsity_w_pct"] = 100 * r["sparsity_x"], 100 * r["sparsity_w"]
        row["ok"] = row["ok"] and r["ok"]
    for row in rows.values():
        base = row.get("dense_implicit_cycles")
        for key, _, cases in ROLES:
            cyc = row.get(f"{cases[0]}_cycles")
            if cases[0] in CONV_CASES and not case_available(CONV_CASES[cases[0]][1]):
                row[f"speedup_{key}"] = fig22.UNAVAILABLE
            elif cases[0] in CONV_CASES and base and cyc:
                row[f"speedup_{key}"] = base / cyc
    for row in rows.values():  # every row's speedups are known now
        uniform = rows.get((row["machine"], row["source"], row["layer"], "uniform"))
        if uniform is not row and uniform is not None:
            for key in ("otc_single", "dual"):
                if row.get(f"speedup_{key}") and uniform.get(f"speedup_{key}"):
                    row[f"moved_{key}"] = row[f"speedup_{key}"] / uniform[f"speedup_{key}"]
            if row.get("dual_sparse_implicit_ohmma") and uniform.get("dual_sparse_implicit_ohmma"):
                row["ohmma_ratio"] = row["dual_sparse_implicit_ohmma"] / uniform["dual_sparse_implicit_ohmma"]
    columns = [("machine", "Machine"), ("source", "Source"), ("layer", "Layer"), ("variant", "Zeros"),
               ("sparsity_x_pct", "Act. zeros [%]"), ("sparsity_w_pct", "Wt. zeros [%]"),
               ("dense_implicit_cycles", "Dense Implicit [cycle]")]
    columns += [(f"speedup_{key}", f"{header} [x]") for key, header, cases in ROLES if cases[0] in CONV_CASES]
    columns += [("moved_otc_single", "Single Sparse Implicit: over uniform [x]"), ("moved_dual", "Dual Sparse: over uniform [x]"),
                ("dual_sparse_implicit_ohmma", "Dual OHMMAs"), ("ohmma_ratio", "OHMMAs over uniform [x]"), ("ok", "ok")]
    return columns, list(rows.values())


def _notes(rows: list[dict]) -> list[str]:
    return ["Speedup over Dense Implicit in model cycles, as fig22; 'over uniform': the variant's speedup divided by the "
            "speedup of the uniform variant with the same number of zeros (1.0: the distribution does not matter). "
            "digits: real tensors of the AGP-pruned digits CNN (benchmarks/digits_cnn.py), 64 images as one mosaic; "
            "clustered: sparse.prune_clustered (channel_fraction, region) on a band of ResNet-18 layer2 3x3."]


EXPERIMENT = Experiment(
    "zeros", "convolution speedups with real (digits CNN) and clustered zeros beside uniform-random zeros of the same count",
    points=_points, measure=measure, describe=lambda p: f"{p['machine']} {p['source']} {p['layer']} {p['variant']} {p['case']}",
    table=_table, sources=lambda o: emulator_files() + [Path(__file__), Path(fig22.__file__), Path(fig22_models.__file__),
                                                        Path(workloads.__file__), FIXTURE, PACKAGE / "conv.py", PACKAGE / "im2col.py"],
    notes=_notes, view=lambda columns, rows: ([c for c in columns if not c[0].endswith(("_cycles", "_ohmma"))], rows))
