"""The contenders of the paper's Fig. 21 on the same SM: the cuSPARSE-like CSR SpGEMM on the CUDA
cores (mode "csr") and the vector-wise Sparse Tensor Core (its pruning, its HMMA.884.VS
instruction, its fragments, mode "vstc"), against NumPy and exact models of their arithmetic."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import otc_emu
from otc_emu import csr, kernels, sparse, vstc


def operands(m, n, k, sa, sb, seed):
    rng = np.random.default_rng(seed)
    a = sparse.prune_random(rng.standard_normal((m, k)), sa, seed=seed + 1)
    b = sparse.prune_random(rng.standard_normal((k, n)), sb, seed=seed + 2)
    return a, b


def within_bound(res_c, a, b):
    exact = a.astype(np.float64) @ b.astype(np.float64)
    return np.all(np.abs(res_c - exact) <= kernels.error_bound(a, b))


# ---------------------------------------------------------------- csr

CSR_CASES = [  # m, n, k, A zeros, B zeros: odd shapes, empty rows, rows longer than 32 non-zeros
    (1, 1, 1, 0.0, 0.0),
    (33, 47, 65, 0.5, 0.5),
    (64, 40, 300, 0.0, 0.0),      # B rows of 40 > 32 values: two lane rounds per row of B
    (130, 64, 96, 0.9, 0.99),     # most rows of A empty or one value
    (5, 700, 64, 0.2, 0.9),       # n > 32 lanes, several gathers per row
    (16, 16, 16, 1.0, 0.0),       # A all zero: C stays zero, no FFMA
]


@pytest.mark.parametrize("m, n, k, sa, sb", CSR_CASES)
def test_csr_matches_numpy_within_the_bound_and_issues_the_counted_ffmas(m, n, k, sa, sb):
    a, b = operands(m, n, k, sa, sb, seed=m + n + k)
    res = kernels.gemm(a, b, mode="csr", device=otc_emu.Device(timing=False))
    assert res.c.shape == (m, n) and res.c.dtype == np.float32
    assert within_bound(res.c, a, b)
    ffma = res.stats.by_opcode.get("FFMA", {"warp": 0, "thread": 0})
    assert (ffma["warp"], ffma["thread"]) == (csr.ffma_issues(a, b), csr.products(a, b))


def test_csr_small_integers_are_exact_and_rows_are_independent():
    # integer products and sums are exact in fp32: any lost, doubled or misplaced product shows
    rng = np.random.default_rng(3)
    a = (rng.integers(-3, 4, (70, 90)) * (rng.random((70, 90)) < 0.2)).astype(np.float16)
    b = (rng.integers(-3, 4, (90, 50)) * (rng.random((90, 50)) < 0.3)).astype(np.float16)
    res = kernels.gemm(a, b, mode="csr", device=otc_emu.Device(timing=False))
    np.testing.assert_array_equal(res.c, (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32))


def test_csr_refuses_a_row_wider_than_shared_memory():
    with pytest.raises(ValueError, match="12288"):
        csr.launch_shape(4, csr.MAX_N + 1)
    assert csr.launch_shape(100, 512) == (25, 128, 4 * 512 * 4)
    assert csr.launch_shape(3, 8192) == (3, 32, 8192 * 4)  # one warp: 32 KiB


def test_csr_ffma_count_model():
    a = np.array([[1, 0, 2], [0, 0, 0]], np.float16)
    b = np.zeros((3, 70), np.float16)
    b[0, :33] = 1  # 33 values: 2 lane rounds
    b[2, :5] = 1   # 1 round
    assert csr.ffma_issues(a, b) == 3


# ---------------------------------------------------------------- vector-wise pruning

@pytest.mark.parametrize("sparsity, keep", [(0.75, 4), (0.5, 8), (0.875, 2), (0.9375, 1), (0.0, 16)])
@pytest.mark.parametrize("axis", [0, 1])
def test_prune_vector_wise_keeps_the_largest_per_vector(sparsity, keep, axis):
    x = np.random.default_rng(1).standard_normal((64, 48)) + 0.01  # no zeros, distinct magnitudes
    y = sparse.prune_vector_wise(x, sparsity, axis=axis)
    assert y.dtype == np.float16
    v = (y if axis == 0 else y.T).T.reshape(-1, 16) if axis == 0 else y.reshape(-1, 16)
    src = (x.T.reshape(-1, 16) if axis == 0 else x.reshape(-1, 16)).astype(np.float16)
    assert np.all(np.count_nonzero(v, axis=1) == keep)
    for got, orig in zip(v, src):
        kept = np.sort(np.argsort(-np.abs(orig.astype(np.float32)), kind="stable")[:keep])
        np.testing.assert_array_equal(np.flatnonzero(got), kept)
        np.testing.assert_array_equal(got[kept], orig[kept])


def test_prune_vector_wise_refuses_a_partial_vector():
    with pytest.raises(ValueError, match="multiple of 16"):
        sparse.prune_vector_wise(np.ones((20, 4)), 0.75, axis=0)
    with pytest.raises(ValueError):
        sparse.prune_vector_wise(np.ones((16, 4)), 1.5)


# ---------------------------------------------------------------- the VS instruction

def run_vs_set(a_window, b_kept, idx, c, arith="v100"):
    a_regs, b_regs, e = vstc.pack_step(a_window, b_kept, idx)
    w = otc_emu.Warp(tensor_arith=arith)
    for r in range(8):
        w.write_reg(8 + r, a_regs[:, r])
    w.write_reg(4, b_regs[:, 0])
    w.write_reg(5, b_regs[:, 1])
    w.write_reg(3, e)
    cregs = otc_emu.fragments.pack("HMMA.884.F32.F32", "C", c)
    for r in range(8):
        w.write_reg(16 + r, cregs[:, r])
    code = "".join(f"HMMA.884.F32.F32.VS.STEP{s} R{24 + 2 * s}, R8.ROW, R4.COL, R{16 + 2 * s}, R3 ;\n" for s in range(4))
    w.run(code + "EXIT ;")
    d = np.stack([w.read_reg(24 + r) for r in range(8)], axis=1)
    return otc_emu.fragments.unpack("HMMA.884.F32.F32", "D", d)


@pytest.mark.parametrize("case", ["distinct", "repeated", "ascending"])
def test_vs_step_picks_the_a_elements_the_indices_name(case):
    rng = np.random.default_rng({"distinct": 1, "repeated": 2, "ascending": 3}[case])
    a = rng.integers(-8, 9, (4, 8, 16)).astype(np.float16)
    b = rng.integers(-8, 9, (4, 4, 8)).astype(np.float16)
    c = rng.integers(-50, 51, (4, 8, 8)).astype(np.float32)
    if case == "distinct":
        idx = np.stack([np.stack([rng.permutation(16)[:4] for _ in range(8)], axis=1) for _ in range(4)])
    elif case == "repeated":
        idx = rng.integers(0, 16, (4, 4, 8))
    else:
        idx = np.broadcast_to(np.array([0, 5, 10, 15])[None, :, None], (4, 4, 8)).copy()
    d = run_vs_set(a, b, idx, c)  # small integers: every sum exact, so D equals the model exactly
    np.testing.assert_array_equal(d, vstc.reference_step(a, b, idx, c).astype(np.float32))


def test_vs_step_rounds_like_one_4_term_tensor_step():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((4, 8, 16)).astype(np.float16)
    b = rng.standard_normal((4, 4, 8)).astype(np.float16)
    c = rng.standard_normal((4, 8, 8)).astype(np.float32)
    idx = rng.integers(0, 16, (4, 4, 8))
    exact = vstc.reference_step(a, b, idx, c)
    ieee = run_vs_set(a, b, idx, c, arith="ieee")
    np.testing.assert_array_equal(ieee, exact.astype(np.float32))  # IEEE: one rounding of the exact sum
    v100 = run_vs_set(a, b, idx, c)
    assert np.all(np.abs(v100 - exact) <= 2.0 ** -21 * (np.abs(c) + np.abs(exact)) + 1e-30)


# ---------------------------------------------------------------- mode vstc

def vstc_ieee_model(a, b):
    """fp32 C after each 16-vector of k: one rounding of C + the exact sum of its kept products."""
    k = a.shape[1]
    kp = -(-k // 32) * 32
    a64 = np.zeros((a.shape[0], kp)); a64[:, :k] = a
    b64 = np.zeros((kp, b.shape[1])); b64[:k] = b
    c = np.zeros((a.shape[0], b.shape[1]), np.float32)
    for k0 in range(0, kp, 16):
        c = (c.astype(np.float64) + a64[:, k0:k0 + 16] @ b64[k0:k0 + 16]).astype(np.float32)
    return c


@pytest.mark.parametrize("m, n, k, sparsity", [(16, 16, 32, 0.75), (130, 200, 96, 0.75), (64, 64, 64, 0.875), (33, 140, 48, 0.9375)])
def test_vstc_gemm_matches_the_ieee_model_bit_for_bit_and_numpy_within_the_bound(m, n, k, sparsity):
    rng = np.random.default_rng(m + n + k)
    a = rng.standard_normal((m, k)).astype(np.float16)
    kp = -(-k // 16) * 16
    b = sparse.prune_vector_wise(np.pad(rng.standard_normal((k, n)), ((0, kp - k), (0, 0))), sparsity)[:k]
    res = kernels.gemm(a, b, mode="vstc", device=otc_emu.Device(timing=False, tensor_arith="ieee"))
    np.testing.assert_array_equal(res.c, vstc_ieee_model(a, b))
    v100 = kernels.gemm(a, b, mode="vstc", device=otc_emu.Device(timing=False))
    assert within_bound(v100.c, a, b)
    assert v100.stats.counters["hmma.executed"] == vstc.vs_steps(m, n, k)


def test_vstc_runs_a_quarter_of_the_hmma_steps():
    a, b = operands(256, 128, 64, 0.0, 0.0, seed=4)
    b = sparse.prune_vector_wise(b, 0.75)
    dev = otc_emu.Device(timing=False)
    h = kernels.gemm(a, b, mode="hmma", device=dev).stats.counters["hmma.executed"]
    assert kernels.gemm(a, b, mode="vstc", device=dev).stats.counters["hmma.executed"] * 4 == h


def test_vstc_refuses_a_vector_with_more_than_4_values():
    b = np.zeros((32, 8), np.float16)
    b[16:21, 3] = 1  # 5 values in column 3, k 16..31
    with pytest.raises(ValueError, match="column 3, k 16..31 has 5 non-zeros"):
        kernels.gemm(np.ones((8, 32), np.float16), b, mode="vstc")


def test_vstc_compress_layout():
    b = np.zeros((32, 1), np.float16)
    b[[2, 7, 9], 0] = [1, 2, 3]        # vector 0: positions 2, 7, 9 (+ one padding zero at 0)
    b[[16 + 15], 0] = 4                # vector 1: position 15
    values, idx = vstc.compress(b)
    assert values.shape == (1, 1, 8) and idx.shape == (1, 1)
    np.testing.assert_array_equal(values[0, 0], np.array([1, 2, 3, 0, 4, 0, 0, 0], np.float16))
    assert idx[0, 0] == (2 | 7 << 4 | 9 << 8 | 0 << 12) | (15 | 0 << 4 | 1 << 8 | 2 << 12) << 16


@pytest.mark.parametrize("program", ["csr_spgemm", "vstc_gemm"])
def test_programs_are_their_generators_output(program, tmp_path):
    generator = kernels.PROGRAMS / "generators" / f"{program}.py"
    out = tmp_path / f"{program}.sass"
    subprocess.run([sys.executable, str(generator), str(out)], check=True, cwd=generator.parent)
    assert out.read_text() == Path(kernels.PROGRAMS / f"{program}.sass").read_text()


# ---------------------------------------------------------------- experiments

def test_patterns_table_places_each_designs_zeros_and_marks_what_its_pattern_cannot_reach(tmp_path):
    from otc_emu import experiments

    out = experiments.run("patterns", tmp_path, {"size": 64})
    cell = {(r["mode"], r["sparsity_pct"]): r for r in out.rows}
    assert {m for m, _ in cell} == {"hmma", "spgemm", "spgemm_a", "csr", "vstc", "sp24", "hss"}
    assert not cell[("vstc", 50.0)]["applicable"]  # 8 of 16 kept: more than the 4 its hardware takes
    # the structured designs prune A, each only at the densities its pattern has
    assert [s for s in (50.0, 75.0, 87.5, 93.75) if cell[("sp24", s)]["applicable"]] == [50.0]
    assert [s for s in (50.0, 75.0, 87.5, 93.75) if cell[("hss", s)]["applicable"]] == [75.0, 87.5, 93.75]
    for mode, s in (("sp24", 50.0), ("hss", 75.0), ("hss", 87.5), ("hss", 93.75)):
        r = cell[(mode, s)]
        assert r["ok"] and r["zeros_a_pct"] == s and r["zeros_b_pct"] == 0.0
        assert r["speedup"] == pytest.approx(cell[("hmma", s)]["cycles"] / r["cycles"])
    for s in (50.0, 75.0, 87.5, 93.75):
        assert cell[("hmma", s)]["speedup"] == 1.0
        for mode in ("spgemm", "csr") + (("vstc",) if s > 50 else ()):
            r = cell[(mode, s)]
            assert r["ok"] and r["zeros_b_pct"] == s and r["zeros_a_pct"] == 0.0
            assert r["speedup"] == pytest.approx(cell[("hmma", s)]["cycles"] / r["cycles"])
            assert r["gmem_bytes"] > 0
        assert cell[("spgemm_a", s)]["zeros_a_pct"] == s
    assert cell[("csr", 75.0)]["tensor_util_pct"] == 0.0  # CUDA cores only
    text = experiments.markdown_for("patterns", out.columns, out.rows)
    assert "| vstc | B vector-wise, <= 4 of 16 along k | n/a |" in text


def test_patterns_registry_takes_a_new_design(tmp_path):
    from otc_emu import experiments
    from otc_emu.experiments import patterns

    def dense_owmma(a, b, s, seed):
        return (a, b) if s == 0.5 else None

    patterns.register(patterns.Pattern("owmma", dense_owmma, "dense (test entry)"))
    try:
        out = experiments.run("patterns", tmp_path, {"size": 32, "modes": ("hmma", "owmma"), "sparsities": (0.5, 0.75)})
        got = {(r["mode"], r["sparsity_pct"]): r["applicable"] for r in out.rows}
        assert got == {("hmma", 50.0): True, ("owmma", 50.0): True, ("hmma", 75.0): True, ("owmma", 75.0): False}
    finally:
        del patterns.PATTERNS["owmma"]
    with pytest.raises(otc_emu.OtcError, match="no pattern registered for mode"):
        experiments.run("patterns", tmp_path, {"modes": ("nope",)})


def test_fig21_draws_the_csr_and_vstc_curves_on_both_machines(tmp_path):
    from otc_emu import experiments

    out = experiments.run("fig21", tmp_path, {"size": 32, "sparsity_a": (0.0,), "sparsity_b": (0.99,), "modes": ("hmma",)})
    cells = {(r["machine"], r["sparsity_a_pct"], r["sparsity_b_pct"]): r for r in out.rows}
    for machine in ("v100", "dstc-paper"):
        for sa in (90, 95, 99, 99.9):
            assert cells[(machine, sa, 99)]["speedup_csr"] > 0
        assert cells[(machine, 0, 75)]["speedup_vstc"] > 0
        assert all(r["ok"] for r in out.rows)
    # vstc's B is pruned vector-wise: the stored point runs the same operands as this
    a, b = experiments.gemm_operands(32, 32, 32, 0.0, 0.0, 0)
    b = sparse.prune_vector_wise(b, 0.75)
    slice_ = otc_emu.Device.v100_slice(experiments.FIG21_DEFAULT_SMS)
    assert cells[("v100", 0, 75)]["vstc_cycles"] == kernels.gemm(a, b, mode="vstc", device=slice_).stats.cycles
    # the structured-sparse A designs at the A sparsities their patterns have, B as the grid
    for machine in ("v100", "dstc-paper"):
        assert cells[(machine, 50, 99)]["speedup_sp24"] > 0 and "speedup_hss" not in cells[(machine, 50, 99)]
        for sa in (75, 87.5, 93.75):
            assert cells[(machine, sa, 99)]["speedup_hss"] > 0 and "speedup_sp24" not in cells[(machine, sa, 99)]
    from otc_emu import structured

    a, b = experiments.gemm_operands(32, 32, 32, 0.0, 0.99, 0)
    a = structured.prune_to_density(a, 0.125)
    assert cells[("v100", 87.5, 99)]["hss_cycles"] == kernels.gemm(a, b, mode="hss", device=slice_).stats.cycles


@pytest.mark.parametrize("mode", ["csr", "vstc"])
def test_new_modes_are_deterministic_across_thread_counts(mode):
    a, b = operands(200, 136, 64, 0.3, 0.5, seed=9)
    if mode == "vstc":
        b = sparse.prune_vector_wise(b, 0.75)
    one = kernels.gemm(a, b, mode=mode, device=otc_emu.Device(threads=1))
    two = kernels.gemm(a, b, mode=mode, device=otc_emu.Device(threads=2))
    np.testing.assert_array_equal(one.c, two.c)
    assert one.stats.counters == two.stats.counters
