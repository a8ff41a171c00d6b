"""otc_emu.kernels.gemm on the emulated SM against NumPy and an exact model of its arithmetic order."""
import numpy as np
import pytest

import otc_emu
from otc_emu import kernels, sparse

SHAPES = [(16, 16, 16), (1, 1, 1), (33, 47, 65), (16, 32, 7), (48, 16, 0)]


def ieee_model(a, b):
    """Each OHMMA step rounds c + a*b once to fp32 (the product of two fp16 is exact in fp64)."""
    c = np.zeros((a.shape[0], b.shape[1]), np.float32)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    for k in range(a.shape[1]):
        c = (c.astype(np.float64) + np.outer(a64[:, k], b64[k])).astype(np.float32)
    return c


@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.99])
def test_owmma_gemm_matches_numpy_and_the_ieee_model(m, n, k, sparsity):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = sparse.prune_random(rng.standard_normal((m, k)), sparsity, seed=1) if m * k else np.zeros((m, k), np.float16)
    b = sparse.prune_random(rng.standard_normal((k, n)), sparsity, seed=2) if k * n else np.zeros((k, n), np.float16)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = k * 2.0 ** -22 * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))) + 1e-30
    res = kernels.gemm(a, b, mode="owmma")
    assert res.c.shape == (m, n) and res.c.dtype == np.float32
    assert np.all(np.abs(res.c - exact) <= bound)
    ieee = kernels.gemm(a, b, mode="owmma", device=otc_emu.Device(tensor_arith="ieee", timing=False))
    np.testing.assert_array_equal(ieee.c, ieee_model(a, b))
    tiles = -(-m // 16) * -(-n // 16)
    assert res.stats.counters["ohmma.executed"] == tiles * 2 * k


def test_gemm_input_checks():
    with pytest.raises(ValueError, match="unknown GEMM mode 'spgemm'"):
        kernels.gemm(np.zeros((2, 2), np.float16), np.zeros((2, 2), np.float16), mode="spgemm")
    with pytest.raises(ValueError, match="inner dimensions differ"):
        kernels.gemm(np.zeros((2, 3), np.float16), np.zeros((2, 2), np.float16))
    with pytest.raises(TypeError, match="dtype int32"):
        kernels.gemm(np.zeros((2, 2), np.int32), np.zeros((2, 2), np.float16))
    with pytest.warns(UserWarning, match="rounded to float16"):
        kernels.gemm(np.full((2, 2), 0.1, np.float32), np.zeros((2, 2), np.float16))
