"""Workloads on the emulated SM, written in the project's assembly (``programs/``).

    res = otc_emu.kernels.gemm(a, b, mode="owmma")   # C = A x B on the outer-product tensor core
    res.c, res.stats.counters["cycles"], res.stats.counters["ohmma.executed"]

Modes available so far:

- ``"hmma"``: dense inner-product baseline on Volta's tensor cores (``programs/hmma_gemm.sass``):
  one warp per 16x16 tile of C, one HMMA.884 set (4 STEPs) per 4 values of k, operands read from
  global memory (no shared-memory staging yet).
- ``"owmma"``: dense outer-product GEMM (``programs/owmma_gemm.sass``): one warp per 16x16 tile
  of C, two OHMMA.8161 per k (paper Section V).
- ``"spgemm"``: the paper's dual-side sparse GEMM (``programs/spgemm.sass``): one warp per 32x32
  tile accumulated in the accumulation buffer, one SPWMMA set per k on the condensed A column
  slice and B row slice, a k whose A or B slice is empty skipped by one branch. The executed
  OHMMAs are exactly the sum over tiles and k of ceil(nnzA / 8) * ceil(nnzB / 16). The host
  condenses the operands (:func:`condense_slices`); the kernel reads the bitmaps and sets the
  predicates on the emulated SM.
- ``"spgemm_a"``: single-side sparse, for the paper's comparison: the same kernel with B passed
  dense (every B row slice full, bitmap all ones), so only A's zeros skip OHMMAs:
  sum of ceil(nnzA / 8) * 2 per tile and k.

Inputs: ``a`` is M x K and ``b`` is K x N. fp16 is the tensor-core input type: float32/float64
inputs are converted to fp16 (a ``UserWarning`` says so when the conversion changes a value);
other dtypes are refused. M and N are padded to multiples of 16 inside (32 for the sparse modes), K to a multiple of 4 for the
dense modes (zero products change no sum).

Accuracy: each output element is ``sum_k a[i,k] * b[k,j]`` accumulated in k order through the
V100 tensor-core adder (products exact, each step truncated to fp32), so it differs from the exact
sum of the fp16 inputs by at most about ``K * 2**-23 * sum_k |a[i,k] * b[k,j]|``; with
``Device(tensor_arith="ieee")`` each step rounds to nearest instead.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import load
from .device import Device, Stats

__all__ = ["gemm", "GemmResult", "GEMM_MODES", "condense_slices", "error_bound", "conv2d", "ConvResult", "CONV_MODES"]

PROGRAMS = Path(__file__).resolve().parent / "programs"

#: Modes of :func:`gemm` that exist, with the program and kernel that run them.
GEMM_MODES = {
    "owmma": ("owmma_gemm.sass", "owmma_gemm"),
    "hmma": ("hmma_gemm.sass", "hmma_gemm"),
    "spgemm": ("spgemm.sass", "spgemm"),
    "spgemm_a": ("spgemm.sass", "spgemm"),
}


@dataclass
class GemmResult:
    """``c``: the M x N float32 product; ``stats``: the launch statistics."""

    c: np.ndarray
    stats: Stats
    mode: str


def _fp16(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {a.shape}")
    if a.dtype == np.float16:
        return a
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must be a float matrix (fp16 is the tensor-core input type), got dtype {a.dtype}")
    with np.errstate(over="ignore"):
        h = a.astype(np.float16)
    if not np.array_equal(h.astype(a.dtype), a, equal_nan=True):
        warnings.warn(f"{name} ({a.dtype}) was rounded to float16, the tensor-core input type", UserWarning, stacklevel=3)
    return h


def _pad(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=x.dtype)
    out[: x.shape[0], : x.shape[1]] = x
    return out


def error_bound(a, b) -> np.ndarray:
    """The documented accuracy bound of every mode, per output element:
    ``K * 2**-22 * sum_k |a[i,k] * b[k,j]|`` (twice the per-step truncation of the V100 adder, so
    it holds for both tensor arithmetics), computed in float64 from the fp16 operands."""
    a64, b64 = np.asarray(a).astype(np.float64), np.asarray(b).astype(np.float64)
    return a64.shape[1] * 2.0 ** -22 * (np.abs(a64) @ np.abs(b64)) + 1e-30


def condense_slices(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Condense every 32-long slice of ``x`` along ``axis`` (0: column slices of A, 1: row slices
    of B; the length along ``axis`` must be a multiple of 32): the non-zeros first in order, zero
    padded. Returns (values, bitmaps): values fp16 of shape (slices along axis / 32, other length,
    32), bitmaps uint32 of shape (slices, other length) with bit i = element i non-zero."""
    v = x if axis == 0 else x.T  # (32 * tiles, other)
    tiles, other = v.shape[0] // 32, v.shape[1]
    blocks = v.reshape(tiles, 32, other).transpose(0, 2, 1)  # (tiles, other, 32)
    nz = blocks != 0
    order = np.argsort(~nz, axis=2, kind="stable")  # non-zeros first, in order
    values = np.take_along_axis(blocks, order, axis=2).astype(np.float16)
    weights = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
    bitmaps = (nz.astype(np.uint64) * weights).sum(axis=2).astype(np.uint32)
    return np.ascontiguousarray(values), np.ascontiguousarray(bitmaps)


def gemm(a, b, mode: str = "owmma", device: Device | None = None) -> GemmResult:
    """C = A x B on the emulated SM (see the module docs for modes, dtypes and accuracy)."""
    if mode not in GEMM_MODES:
        raise ValueError(f"unknown GEMM mode {mode!r}; available: {', '.join(GEMM_MODES)}")
    a16, b16 = _fp16(a, "a"), _fp16(b, "b")
    m, k = a16.shape
    k2, n = b16.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: a is {m}x{k}, b is {k2}x{n}")
    if min(m, n) == 0:
        raise ValueError(f"empty product: a is {m}x{k}, b is {k2}x{n}")
    dev = device if device is not None else Device()
    file, kernel = GEMM_MODES[mode]
    prog = load(PROGRAMS / file)
    if mode in ("spgemm", "spgemm_a"):
        mp, np_ = -(-m // 32) * 32, -(-n // 32) * 32
        k = -(-k // 4) * 4  # four k per loop iteration; padding slices are empty and skipped
        acond, abmp = condense_slices(_pad(a16, mp, k), 0)
        if mode == "spgemm":
            bcond, bbmp = condense_slices(_pad(b16, k, np_), 1)
        else:  # B's zeros are not exploited: its slices go in as they are, all marked non-zero
            bcond = np.ascontiguousarray(_pad(b16, k, np_).reshape(k, np_ // 32, 32).transpose(1, 0, 2))
            bbmp = np.full((np_ // 32, k), 0xFFFFFFFF, np.uint32)
        arrays = [dev.to_device(x) for x in (acond, abmp, bcond, bbmp)]
        dc = dev.zeros((mp, np_), np.float32)
        try:
            res = dev.launch(prog, kernel, grid=(np_ // 32, mp // 32), block=32,
                             args=[*arrays, dc, np.uint32(np_), np.uint32(k)])
            c = dc.numpy()[:m, :n].copy()
        finally:
            for arr in (*arrays, dc):
                arr.free()
        return GemmResult(c, res.stats, mode)
    mp, np_ = -(-m // 16) * 16, -(-n // 16) * 16
    k = -(-k // 4) * 4  # hmma: one HMMA set per 4 values of k; owmma: four k-steps per iteration
    if mode == "hmma":
        da = dev.to_device(_pad(a16, mp, k))  # row-major A
        db = dev.to_device(_pad(b16, k, np_).T.copy())  # column-major B
    else:
        da = dev.to_device(np.ascontiguousarray(_pad(a16, mp, k).T))  # column-major A
        db = dev.to_device(_pad(b16, k, np_))  # row-major B
    dc = dev.zeros((mp, np_), np.float32)
    try:
        res = dev.launch(prog, kernel, grid=(np_ // 16, mp // 16), block=32,
                         args=[da, db, dc, np.uint32(mp), np.uint32(np_), np.uint32(k)])
        c = dc.numpy()[:m, :n].copy()
    finally:
        for arr in (da, db, dc):
            arr.free()
    return GemmResult(c, res.stats, mode)


from .conv import CONV_MODES, ConvResult, conv2d  # noqa: E402  (convolution lives in conv.py)
