"""Explicit im2col on the emulated SM: the three lowerings of the paper's Table III as kernels
compiled by the real nvcc (``programs/cuda/im2col.cu``, listing ``programs/im2col.sass``).

    res = otc_emu.im2col.lower(x, 3, 3, stride=1, padding=1, design="bitmap")
    res.cols                          # == otc_emu.sparse.im2col_dense(x, 3, 3, 1, 1)
    res.stats.counters["cycles"]      # the cycle model's time of the lowering kernel

Designs (:data:`DESIGNS`), all writing the (C*R*S) x (P*Q) fp16 lowered matrix to global memory,
one warp per lowered row and block of :data:`ROWS_PER_WARP` output rows p, lane l making
q = q0 + l:

- ``"dense"``: one load of the (C, H, W) map per lowered element;
- ``"csr"``: the map's (c, y) rows CSR-encoded; every lowered element reads its row's ``indptr``
  and binary-searches its column in the row's ``indices`` before reading the value;
- ``"bitmap"``: the paper's bitmap with row offsets (Section IV-B, Fig. 11; the format of
  :func:`otc_emu.sparse.encode_feature_map`): per 32 outputs two bitmap words and one row offset
  (broadcast), a funnel shift, and POPCs give each lane its value's index.

The encodings are made on the host and are not timed (the paper's Table III also times the
lowering from an encoded map).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import sparse
from ._operands import shipped_program
from .conv import _int_arg
from .device import Device, Stats

__all__ = ["lower", "LoweringResult", "DESIGNS", "PROGRAM", "BLOCK", "ROWS_PER_WARP"]

#: The listing that holds the three kernels.
PROGRAM = "im2col.sass"
#: Threads per CTA (4 warps).
BLOCK = 128
#: Output rows p per warp (ROWS_PER_WARP in im2col.cu).
ROWS_PER_WARP = 8
#: Lowering designs -> kernel names.
DESIGNS = {"dense": "im2col_dense", "csr": "im2col_csr", "bitmap": "im2col_bitmap"}


@dataclass
class LoweringResult:
    """``cols``: the (C*R*S) x (P*Q) fp16 lowered matrix read back; ``stats``: the launch's."""

    cols: np.ndarray
    stats: Stats
    design: str


def lower(x, r: int, s: int, stride: int = 1, padding: int = 0, design: str = "dense",
          device: Device | None = None) -> LoweringResult:
    """Lower the (C, H, W) feature map ``x`` for an ``r`` x ``s`` kernel with ``design`` on the
    emulated GPU (``device``: default a fresh V100). Raises ValueError for an unknown design, a
    geometry :func:`otc_emu.sparse.conv_output_size` refuses or a non-positive size, TypeError for
    a non-integer size."""
    if design not in DESIGNS:
        raise ValueError(f"unknown im2col design {design!r}; choose one of {', '.join(DESIGNS)}")
    a = np.asarray(x)
    if a.ndim != 3:
        raise ValueError(f"feature map must be (C, H, W), got shape {a.shape}")
    a = a.astype(np.float16)
    c, h, w = a.shape
    r, s = _int_arg(r, "r", 1), _int_arg(s, "s", 1)
    stride, padding = _int_arg(stride, "stride", 1), _int_arg(padding, "padding", 0)
    p, q = sparse.conv_output_size(h, r, stride, padding), sparse.conv_output_size(w, s, stride, padding)
    if c < 1:
        raise ValueError("feature map has no channels")
    rows = c * r * s
    if rows * p * q >= 2 ** 31 // 2:
        raise ValueError(f"lowered matrix too large for 32-bit indexing: {rows} x {p * q}")
    dev = device if device is not None else Device()
    out = dev.zeros(rows * p * q, np.float16)
    geometry = [np.int32(v) for v in (c, h, w, r, s, stride, padding, p, q)]
    if design == "dense":
        args = [dev.to_device(a), out, *geometry]
    elif design == "csr":
        csr = sparse.encode_csr(a.reshape(c * h, w))
        args = [dev.to_device(csr.indptr.astype(np.int32)), dev.to_device(csr.indices.astype(np.int32)),
                dev.to_device(csr.values.astype(np.float16)), out, *geometry]
    else:
        fm = sparse.encode_feature_map(a[None], stride, padding)
        args = [dev.to_device(fm.bits), dev.to_device(fm.word_offsets), dev.to_device(fm.values), out, *geometry,
                np.int32(fm.bits.shape[1])]
    warps = rows * -(-p // ROWS_PER_WARP)
    res = dev.launch(shipped_program(PROGRAM), DESIGNS[design], grid=-(-warps // (BLOCK // 32)), block=BLOCK, args=args)
    return LoweringResult(out.numpy().reshape(rows, p * q), res.stats, design)
