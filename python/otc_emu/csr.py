"""The cuSPARSE-like CSR SpGEMM of the paper's Fig. 21 on the CUDA cores: mode ``"csr"`` of
:func:`otc_emu.kernels.gemm` (docs/csr.md).

    res = otc_emu.kernels.gemm(a, b, mode="csr")   # A and B both go in as CSR (otc_emu.sparse.encode_csr)

The kernel (``programs/cuda/csr_spgemm.cu``, compiled by nvcc 11.8 for sm_70, listing
``programs/csr_spgemm.sass``) is row-wise Gustavson: one warp per row of A with a dense fp32 row
accumulator in shared memory; per non-zero A[i, k] the lanes walk row k of B (FFMA into shared
memory), then the same walk writes every touched C[i, j] once. Both operands are CSR, as
cuSPARSE's csrgemm takes them at the paper's points (A 90..99.9% and B 99% zeros: a dense B would
be read 100 times over for its 1% of values).

Work: one FFMA warp instruction per ceil(nnz(B row k) / 32) for every non-zero A[i, k]
(:func:`ffma_issues`); the zeros of either operand cost nothing, but a B row of 5 values keeps 27
of the 32 lanes idle. Accuracy: products of fp16 values are exact in fp32 and each C[i, j] is
summed in ascending k with one rounding to nearest per step, so the error is at most
``nnz * 2**-24 * sum_k |a[i,k] * b[k,j]|``, inside :func:`otc_emu.kernels.error_bound`.

The CSR encodings are made on the host and are not timed (the paper times cuSPARSE's multiply
on encoded operands). Limit: a row accumulator of n floats per warp must fit the 48 KiB of shared
memory of a CTA, so n is at most 12288.
"""
from __future__ import annotations

import numpy as np

from . import sparse
from ._operands import run_shipped
from .device import Device

__all__ = ["PROGRAM", "KERNEL", "MAX_WARPS", "MAX_N", "launch_shape", "ffma_issues", "products", "run"]

#: The generated listing and its kernel.
PROGRAM = "csr_spgemm.sass"
KERNEL = "csr_spgemm"
#: Warps per CTA when the row accumulators fit (4, as the other GEMM kernels' 128-thread CTAs).
MAX_WARPS = 4
#: Shared memory a CTA may use (the machine's default max_shared_per_cta) and the widest C it allows.
SHARED_LIMIT = 48 * 1024
MAX_N = SHARED_LIMIT // 4


def launch_shape(m: int, n: int) -> tuple[int, int, int]:
    """(grid, block, dynamic shared bytes) for an m x n product: as many warps per CTA (up to
    :data:`MAX_WARPS`) as row accumulators of n floats fit in 48 KiB, one row of A per warp."""
    if n > MAX_N:
        raise ValueError(f"csr: n = {n} is wider than the {MAX_N} floats of one warp's row accumulator in "
                         f"{SHARED_LIMIT // 1024} KiB of shared memory")
    warps = max(1, min(MAX_WARPS, SHARED_LIMIT // (4 * n), m))
    return -(-m // warps), 32 * warps, warps * n * 4


def ffma_issues(a: np.ndarray, b: np.ndarray) -> int:
    """FFMA warp instructions the numeric pass issues: ceil(nnz(B row k) / 32) for every non-zero
    A[i, k] (one per 32 lanes of a B row walk)."""
    row_nnz = np.count_nonzero(b, axis=1)
    return int(np.sum((np.asarray(a) != 0) * (-(-row_nnz // 32))[None, :]))


def products(a: np.ndarray, b: np.ndarray) -> int:
    """Products the kernel forms (FFMA thread-instructions): nnz(B row k) for every non-zero
    A[i, k], i.e. exactly the products of two non-zeros."""
    return int(np.count_nonzero(a, axis=0) @ np.count_nonzero(b, axis=1))


def _csr_arrays(x: np.ndarray):
    csr = sparse.encode_csr(x)
    return csr.indptr.astype(np.int32), csr.indices.astype(np.int32), csr.values.astype(np.float16)


def run(a16: np.ndarray, b16: np.ndarray, dev: Device):
    """C = A x B (fp16 operands) on ``dev``; returns (C as float32, stats)."""
    m, n = a16.shape[0], b16.shape[1]
    grid, block, shared = launch_shape(m, n)
    if a16.size and (np.count_nonzero(a16) >= 2 ** 31 or np.count_nonzero(b16) >= 2 ** 31):
        raise ValueError("csr: more than 2**31 non-zeros do not fit the kernel's 32-bit indices")
    return run_shipped(dev, PROGRAM, KERNEL, [*_csr_arrays(a16), *_csr_arrays(b16)], (m, n), grid, block,
                       [np.int32(m), np.int32(n)], shared_bytes=shared)
