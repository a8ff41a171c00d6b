"""The workloads experiments measure: pruned random GEMM operands and convolution layers, run on
a (slice of the) V100 and checked against NumPy; one launch becomes one stored point."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

__all__ = ["gemm_operands", "slice_device", "point_result", "gemm_point", "run_gemm", "ConvLayer", "GemmLayer",
           "feature_map", "conv_weights", "conv_operands", "gemm_layer_operands", "conv_point", "run_conv"]


def gemm_operands(m: int, n: int, k: int, sparsity_a: float, sparsity_b: float, seed: int):
    from .. import sparse

    rng = np.random.default_rng(seed)
    a = sparse.prune_random(rng.standard_normal((m, k)), sparsity_a, seed=seed + 1)
    b = sparse.prune_random(rng.standard_normal((k, n)), sparsity_b, seed=seed + 2)
    return a, b


def slice_device(sms: int, spec: dict | None = None):
    """The V100 on ``sms`` of its SMs with the per-SM bandwidth kept (all 80: the plain V100), as
    machine ``spec["machine"]`` (default v100) or the machine file ``spec["config"]``, with
    ``spec["settings"]`` (dotted keys; see :func:`experiment.device_spec`)."""
    from ..device import Device

    spec = spec or {}
    return Device.v100_slice(sms, machine=spec.get("machine"), config=spec.get("config"), **spec.get("settings", {}))



def run_gemm(m: int, n: int, k: int, sparsity_a: float, sparsity_b: float, modes: Sequence[str], seed: int = 0,
             progress=None, sms: int = 80, spec: dict | None = None, cta_order: int | None = None,
             wide_tile: str | None = None, wide_narrow: bool | None = None) -> dict:
    """Run kernels.gemm for each mode on the same pruned random operands (:func:`gemm_operands`), on
    machine ``spec`` (:func:`slice_device`); for the CLI: ``runs[mode]`` with stats and the NumPy
    check, and the operands under ``"_operands"``. ``cta_order``, ``wide_tile``, ``wide_narrow``:
    spgemm_wide's, forced (None: the rules')."""
    from .. import kernels
    from ..kernels_structured import own_pruning, program_of

    a, b = gemm_operands(m, n, k, sparsity_a, sparsity_b, seed)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = kernels.error_bound(a, b)
    out: dict = {}
    for mode in modes:
        if progress is not None:
            progress.describe(f"running {mode}")
        am = own_pruning(a, mode, sparsity_a)  # sp24 / hss prune A to their pattern (kernels_structured)
        ex, bd = (exact, bound) if am is a else (am.astype(np.float64) @ b.astype(np.float64), kernels.error_bound(am, b))
        wide = mode == "spgemm_wide"
        res = kernels.gemm(am, b, mode=mode, device=slice_device(sms, spec), cta_order=cta_order if wide else None,
                           wide_tile=wide_tile if wide else None, wide_narrow=wide_narrow if wide else None)
        out[mode] = {"stats": res.stats, "within_bound": bool(np.all(np.abs(res.c - ex) <= bd)),
                     "max_abs_err": float(np.max(np.abs(res.c - ex))) if res.c.size else 0.0}
        if am is not a:  # hss runs one of two programs (by A's pattern): the profiling views need which
            out[mode]["program"] = program_of(am, mode)
        elif res.program:  # spgemm_wide: the pipeline depth kernels.wide_depth picked
            out[mode]["program"] = (res.program, kernels.GEMM_MODES[mode][1])
        if res.order is not None:  # spgemm_wide: the CTA order kernels.wide_order picked
            out[mode]["order"] = res.order
        if res.tile is not None:  # and its warp tile (kernels.wide_tile)
            out[mode]["tile"] = res.tile
        if progress is not None:
            progress.advance()
    out["_operands"] = (a, b)
    return out


def point_result(stats, ok: bool) -> dict:
    """What a stored point keeps of a launch: cycles, instruction and tensor counts (the OHMMAs a
    sequenced SpWMMA ran, ``spwmma.ohmmas``, among the executed ones), the check."""
    c = stats.counters
    return {"cycles": c.get("cycles"), "warp_instructions": c["warp_instructions"],
            "ohmma_executed": c["ohmma.executed"] + c.get("spwmma.ohmmas", 0),
            "hmma_executed": c["hmma.executed"], "tensor_busy_cycles": c.get("tensor.busy_cycles"), "ok": ok}


def mode_spec(mode: str, spec: dict | None) -> dict | None:
    """The machine ``spec`` GEMM or convolution ``mode`` runs on: the wide modes' (spgemm_wide,
    sparse_implicit_wide: ``kernels.WIDE_MODES``) with the keys they need (``kernels.WIDE_MACHINE``)
    set on top, as fig21 runs spgemm_wide; the others' unchanged."""
    from ..kernels import WIDE_MACHINE, WIDE_MODES

    if mode not in WIDE_MODES:
        return spec
    spec = dict(spec or {})
    spec["settings"] = dict(sorted({**spec.get("settings", {}), **WIDE_MACHINE}.items()))
    return spec


def gemm_point(a: np.ndarray, b: np.ndarray, mode: str, sms: int = 80, device=None, spec: dict | None = None) -> dict:
    """C = A x B in ``mode`` on ``device`` (default: machine ``spec`` on ``sms`` SMs, see
    :func:`slice_device`), checked against NumPy."""
    from .. import kernels

    res = kernels.gemm(a, b, mode=mode, device=device or slice_device(sms, spec))
    exact = a.astype(np.float64) @ b.astype(np.float64)
    ok = bool(np.all(np.abs(res.c - exact) <= kernels.error_bound(a, b)))
    return point_result(res.stats, ok)


def feature_map(channels: int, hw: int, sparsity: float, seed: int, rows: int | None = None) -> np.ndarray:
    """ReLU-like random activations (channels, rows, hw) with ``sparsity`` zeros at uniformly random
    places (``rows`` defaults to ``hw``: a square map)."""
    from .. import sparse

    rows = hw if rows is None else rows
    return sparse.relu_activations((channels, rows * hw), sparsity, seed=seed).reshape(channels, rows, hw)


def conv_weights(k: int, c: int, r: int, sparsity: float, seed: int) -> np.ndarray:
    """Standard-normal KCRS weights with ``sparsity`` zeros at uniformly random places."""
    from .. import sparse

    return sparse.prune_random(np.random.default_rng(seed + 3).standard_normal((k, c * r * r)), sparsity,
                               seed=seed + 4).reshape(k, c, r, r)


@dataclass(frozen=True)
class ConvLayer:
    """A convolution layer (batch 1, square): channels in/out, feature map edge, filter edge,
    stride, padding, and the assumed fraction of zeros in activations and weights."""

    name: str
    c: int
    k: int
    hw: int
    r: int
    stride: int
    padding: int
    sparsity_x: float
    sparsity_w: float

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"{self.name}: {self.c}->{self.k} channels, {self.hw}x{self.hw}, {self.r}x{self.r}/{self.stride}, "
                f"activations {self.sparsity_x:.0%} / weights {self.sparsity_w:.0%} zeros")


@dataclass(frozen=True)
class GemmLayer:
    """A GEMM layer Y = X W^T computed as C = W (out x in) x X^T (in x tokens), so A is the
    weights (single-side sparse modes exploit the weights, as the paper's Sparse Tensor Core does)."""

    name: str
    tokens: int
    d_in: int
    d_out: int
    sparsity_x: float
    sparsity_w: float

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"{self.name}: {self.tokens} tokens, {self.d_in}->{self.d_out}, activations {self.sparsity_x:.0%} / "
                f"weights {self.sparsity_w:.0%} zeros")


def conv_operands(layer: ConvLayer, seed: int):
    return feature_map(layer.c, layer.hw, layer.sparsity_x, seed), conv_weights(layer.k, layer.c, layer.r, layer.sparsity_w, seed)


def gemm_layer_operands(d_in: int, d_out: int, tokens: int, sparsity_x: float, sparsity_w: float, seed: int):
    """A GEMM layer's operands: weights W (d_out x d_in, ``sparsity_w`` zeros at random) and the
    activations X^T (d_in x tokens: ReLU-like with ``sparsity_x`` zeros, or standard normal when 0)."""
    from .. import sparse

    w = sparse.prune_random(np.random.default_rng(seed + 3).standard_normal((d_out, d_in)), sparsity_w, seed=seed + 4)
    xt = sparse.relu_activations((d_in, tokens), sparsity_x, seed=seed) if sparsity_x > 0 else \
        np.random.default_rng(seed).standard_normal((d_in, tokens)).astype(np.float16)
    return w, xt


def conv_point(layer: ConvLayer, x: np.ndarray, w: np.ndarray, mode: str, sms: int = 80, device=None,
               spec: dict | None = None) -> dict:
    """The layer (batch 1) in implicit-convolution ``mode`` on ``device`` (default: machine
    ``spec`` on ``sms`` SMs, see :func:`slice_device`, with :func:`mode_spec`'s keys for the wide
    mode), checked against NumPy."""
    from .. import kernels, sparse

    res = kernels.conv2d(x[None], w, stride=layer.stride, padding=layer.padding, mode=mode,
                         device=device or slice_device(sms, mode_spec(mode, spec)))
    cols = sparse.im2col_dense(x, layer.r, layer.r, layer.stride, layer.padding)
    wm = w.reshape(layer.k, -1)
    exact = wm.astype(np.float64) @ cols.astype(np.float64)
    y = np.asarray(res.y, dtype=np.float64).reshape(exact.shape)
    ok = bool(np.all(np.abs(y - exact) <= kernels.error_bound(wm, cols)))
    return {**point_result(res.stats, ok), "stats": res.stats, "max_abs_err": float(np.max(np.abs(y - exact))) if y.size else 0.0,
            "warps": res.warps, **({"units": res.units} if res.units is not None else {})}


def run_conv(layer: ConvLayer, modes: Sequence[str], seed: int = 0, progress=None, sms: int = 80,
             spec: dict | None = None) -> dict:
    """Run the layer in each implicit convolution mode on the same operands, on machine ``spec``
    (:func:`slice_device`); for the CLI."""
    from ..conv import WIDE_PROGRAMS

    x, w = conv_operands(layer, seed)
    out = {}
    for mode in modes:
        if progress is not None:
            progress.describe(f"running {mode}")
        r = conv_point(layer, x, w, mode, sms, spec=spec)
        out[mode] = {"stats": r["stats"], "within_bound": r["ok"], "max_abs_err": r["max_abs_err"]}
        if r["warps"] is not None:  # the sparse modes: the warps per CTA conv.sparse_warps picked
            out[mode]["warps"] = r["warps"]
        if "units" in r:  # sparse_implicit_wide: the tiles per warp conv.wide_units picked, and its program
            out[mode]["units"] = r["units"]
            out[mode]["program"] = WIDE_PROGRAMS[r["units"]]
        if progress is not None:
            progress.advance()
    return out
