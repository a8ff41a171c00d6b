"""otc_emu.kernels.gemm on the emulated SM against NumPy and an exact model of its arithmetic order."""
import numpy as np
import pytest

import otc_emu
from otc_emu import kernels, sparse

SHAPES = [(16, 16, 16), (1, 1, 1), (33, 47, 65), (16, 32, 7), (48, 16, 0)]


def ieee_model(a, b, step):
    """Each tensor step rounds c + (the exact sum of `step` products) once to fp32: OHMMA has one
    product per step, HMMA.884 four (products of fp16 are exact in fp64, and so are these sums)."""
    c = np.zeros((a.shape[0], b.shape[1]), np.float32)
    kp = -(-a.shape[1] // step) * step
    a64 = np.zeros((a.shape[0], kp)); a64[:, : a.shape[1]] = a
    b64 = np.zeros((kp, b.shape[1])); b64[: b.shape[0]] = b
    for k in range(0, kp, step):
        c = (c.astype(np.float64) + a64[:, k:k + step] @ b64[k:k + step]).astype(np.float32)
    return c


STEP = {"owmma": 1, "hmma": 4}


@pytest.mark.parametrize("mode", ["owmma", "hmma"])
@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.99])
def test_dense_gemm_matches_numpy_and_the_ieee_model(mode, m, n, k, sparsity):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = sparse.prune_random(rng.standard_normal((m, k)), sparsity, seed=1) if m * k else np.zeros((m, k), np.float16)
    b = sparse.prune_random(rng.standard_normal((k, n)), sparsity, seed=2) if k * n else np.zeros((k, n), np.float16)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = k * 2.0 ** -22 * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))) + 1e-30
    res = kernels.gemm(a, b, mode=mode)
    assert res.c.shape == (m, n) and res.c.dtype == np.float32
    assert np.all(np.abs(res.c - exact) <= bound)
    ieee = kernels.gemm(a, b, mode=mode, device=otc_emu.Device(tensor_arith="ieee", timing=False))
    np.testing.assert_array_equal(ieee.c, ieee_model(a, b, STEP[mode]))
    tiles = -(-m // 16) * -(-n // 16)
    if mode == "owmma":
        assert res.stats.counters["ohmma.executed"] == tiles * 2 * k
    else:
        assert res.stats.counters["hmma.executed"] == tiles * 4 * -(-k // 4)


def test_gemm_input_checks():
    with pytest.raises(ValueError, match="unknown GEMM mode 'spgemm'"):
        kernels.gemm(np.zeros((2, 2), np.float16), np.zeros((2, 2), np.float16), mode="spgemm")
    with pytest.raises(ValueError, match="inner dimensions differ"):
        kernels.gemm(np.zeros((2, 3), np.float16), np.zeros((2, 2), np.float16))
    with pytest.raises(TypeError, match="dtype int32"):
        kernels.gemm(np.zeros((2, 2), np.int32), np.zeros((2, 2), np.float16))
    with pytest.warns(UserWarning, match="rounded to float16"):
        kernels.gemm(np.full((2, 2), 0.1, np.float32), np.zeros((2, 2), np.float16))
