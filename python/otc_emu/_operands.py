"""What the kernels' Python wrappers (GEMM and convolution) share: the shipped programs and the
operand checks and conversions."""
from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np

#: The shipped assembly programs (python/otc_emu/programs; the top-level programs/ links here).
PROGRAMS = Path(__file__).resolve().parent / "programs"


@functools.lru_cache(maxsize=None)
def shipped_program(file: str):
    """The shipped program ``file``, assembled once per process (a Program is immutable)."""
    from . import load

    return load(PROGRAMS / file)


def run_shipped(dev, file: str, kernel: str, inputs, out_shape, grid, block, scalars=(),
                shared_bytes: int | None = None, crop: tuple[int, int] | None = None):
    """Launch ``kernel`` of the shipped program ``file`` on ``dev``: the ``inputs`` copied to the
    device in order, then a zeroed float32 output of ``out_shape``, arguments ``[*inputs, output,
    *scalars]``; the device arrays are freed whatever happens. Returns (the output, or its top-left
    ``crop`` = (rows, columns), as a host copy; the launch statistics)."""
    arrays = [dev.to_device(np.ascontiguousarray(a)) for a in inputs]
    out = dev.zeros(out_shape, np.float32)
    try:
        res = dev.launch(shipped_program(file), kernel, grid=grid, block=block, shared_bytes=shared_bytes,
                         args=[*arrays, out, *scalars])
        y = out.numpy()  # a fresh host array
        if crop is not None:
            y = y[: crop[0], : crop[1]].copy()
    finally:
        for arr in (*arrays, out):
            arr.free()
    return y, res.stats


def as_fp16(value, name: str, ndim: int, shape_name: str, stacklevel: int = 4) -> np.ndarray:
    """``value`` as an fp16 array of ``ndim`` dimensions, the tensor-core input type: fp16 as it is,
    other float dtypes converted (a ``UserWarning`` names ``name`` when that changes a value),
    anything else refused with a TypeError; a wrong rank is a ValueError naming ``shape_name``
    (e.g. "2-D matrix", "4-D NCHW array")."""
    a = np.asarray(value)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be a {shape_name}, got shape {a.shape}")
    if a.dtype == np.float16:
        return a
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array (fp16 is the tensor-core input type), got dtype {a.dtype}")
    with np.errstate(over="ignore"):
        h = a.astype(np.float16)
    if not np.array_equal(h.astype(a.dtype), a, equal_nan=True):
        warnings.warn(f"{name} ({a.dtype}) was rounded to float16, the tensor-core input type", UserWarning,
                      stacklevel=stacklevel)
    return h
