"""Structured sparsity (issue 18): HSS specs, pruning, the compressed operand, and the sp24 / hss GEMM
modes against NumPy, an exact model of their arithmetic order, and exact counts of their work."""
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import otc_emu
from otc_emu import kernels, sparse, structured
from otc_emu.structured import HssSpecError


@pytest.mark.parametrize("text, canonical, density, period", [
    ("C0(2:4)", "C0(2:4)", Fraction(1, 2), 4),
    ("2:4", "C0(2:4)", Fraction(1, 2), 4),
    ("C1(2:8)->C0(2:4)", "C1(2:8)->C0(2:4)", Fraction(1, 8), 32),
    (" C1 (3:4) -> C0(2:4) ", "C1(3:4)->C0(2:4)", Fraction(3, 8), 16),
    ("C2(2:4)->C1(2:4)->C0(2:4)", "C2(2:4)->C1(2:4)->C0(2:4)", Fraction(1, 8), 64),
    ("C0(1:1)", "C0(1:1)", Fraction(1), 1),
])
def test_specs_parse(text, canonical, density, period):
    spec = structured.parse_spec(text)
    assert (str(spec), spec.density, spec.period) == (canonical, density, period)


@pytest.mark.parametrize("text, message", [
    ("", "a string such as"),
    (24, "a string such as"),
    ("C0(2-4)", r"is not 'C<n>\(G:H\)'"),
    ("C0(2:4)->C1(2:4)", "numbered C1 down to C0"),
    ("C1(2:4)->C1(2:4)", "numbered C1 down to C0"),
    ("C0(5:4)", "1 <= G <= H"),
    ("C0(0:4)", "1 <= G <= H"),
])
def test_bad_specs_are_typed_errors(text, message):
    with pytest.raises(HssSpecError, match=message) as e:
        structured.parse_spec(text)
    assert isinstance(e.value, otc_emu.OtcError)


@pytest.mark.parametrize("spec", ["C0(2:4)", "C1(2:4)->C0(2:4)", "C1(2:8)->C0(2:4)", "C1(3:4)->C0(2:4)",
                                  "C2(2:4)->C1(2:4)->C0(2:4)", "C1(2:3)->C0(1:2)"])
@pytest.mark.parametrize("axis", [0, 1])
def test_prune_hss_follows_the_spec_at_its_density(spec, axis):
    rng = np.random.default_rng(7)
    period = structured.parse_spec(spec).period
    x = rng.standard_normal((24, 4 * period) if axis == 1 else (4 * period, 24)).astype(np.float16)
    x[x == 0] = 1
    p = sparse.prune_hss(x, spec, axis=axis)
    structured.check_pattern(p, spec, axis=axis)
    assert Fraction(int((p != 0).sum()), p.size) == structured.parse_spec(spec).density
    np.testing.assert_array_equal(p[p != 0], x[p != 0])  # kept values unchanged
    np.testing.assert_array_equal(sparse.prune_hss(p, spec, axis=axis), p)  # pruning a pruned matrix keeps it


def test_prune_hss_keeps_the_largest_values_and_blocks():
    np.testing.assert_array_equal(sparse.prune_hss(np.array([[1, -5, 3, 2]], np.float16), "C0(2:4)"), [[0, -5, 3, 0]])
    x = np.random.default_rng(3).standard_normal((16, 64)).astype(np.float16)
    np.testing.assert_array_equal(sparse.prune_hss(x, "2:4"), sparse.prune_2_4(x))
    # C1(1:2)->C0(2:4): of blocks (1, 1, 0, 0) and (9, 0, 0, 1) after rank 0, the second has the larger mean
    row = np.array([[1, 1, 0.5, 0, 9, 0, 0, 1]], np.float16)
    np.testing.assert_array_equal(sparse.prune_hss(row, "C1(1:2)->C0(2:4)"), [[0, 0, 0, 0, 9, 0, 0, 1]])


nan, inf = np.float16("nan"), np.float16("inf")


@pytest.mark.parametrize("prune, row, kept", [
    # NaN ranks as the largest magnitude (like Inf), so the magnitude pruners keep it
    (lambda x: sparse.prune_2_4(x), [1, nan, 3, 2], [0, nan, 3, 0]),
    (lambda x: sparse.prune_2_4(x), [nan, -inf, 3, 2], [nan, -inf, 0, 0]),
    (lambda x: sparse.prune_2_4(x), [nan, nan, nan, 2], [nan, nan, 0, 0]),  # ties keep the earlier
    (lambda x: sparse.prune_vector_wise(x, 0.75, axis=1, vector=4), [1, 2, nan, 3], [0, 0, nan, 0]),
    (lambda x: sparse.prune_hss(x, "C0(2:4)"), [1, nan, 3, 2], [0, nan, 3, 0]),
    # at C1 the block holding a NaN has the largest mean magnitude
    (lambda x: sparse.prune_hss(x, "C1(1:2)->C0(2:4)"), [9, 9, 0, 0, nan, 0, 0, 1], [0, 0, 0, 0, nan, 0, 0, 1]),
])
def test_magnitude_pruners_keep_nans(prune, row, kept):
    out = prune(np.array([row], np.float16))
    np.testing.assert_array_equal(out, np.array([kept], np.float16))  # NaNs compare equal here


@pytest.mark.parametrize("density, spec", sorted(structured.DENSITY_SPECS.items()))
def test_prune_to_density(density, spec):
    x = np.random.default_rng(1).standard_normal((8, 128)).astype(np.float16) + np.float16(8)
    p = structured.prune_to_density(x, density)
    assert (p != 0).mean() == density
    structured.check_pattern(p, spec)


def test_pattern_errors_name_where():
    x = np.ones((4, 16), np.float16)
    with pytest.raises(HssSpecError, match=r"row 0: k 0..3 has 4 non-empty C0 coordinates, C0\(2:4\) allows 2"):
        structured.check_pattern(x, "C0(2:4)")
    y = sparse.prune_2_4(x)
    y[2, 8:] = 0
    y[3] = 0
    y[3, 0] = 1
    with pytest.raises(HssSpecError, match=r"row 0: k 0..15 has 4 non-empty C1"):
        structured.check_pattern(y, "C1(2:4)->C0(2:4)")
    with pytest.raises(HssSpecError, match="multiple of 16"):
        structured.check_pattern(np.zeros((2, 8)), "C1(2:4)->C0(2:4)")
    with pytest.raises(HssSpecError, match="no tensor instruction runs C1\\(3:4\\)"):
        structured.compress(np.zeros((2, 32)), "C1(3:4)->C0(2:4)")


@pytest.mark.parametrize("spec", list(structured.KERNEL_SPECS))
def test_compress_round_trips_including_rows_with_fewer_nonzeros(spec):
    rng = np.random.default_rng(11)
    x = sparse.prune_hss(rng.standard_normal((32, 128)), spec)
    x[rng.random(x.shape) < 0.3] = 0  # blocks and groups with fewer than G non-zeros
    x[5] = 0
    values, meta = structured.compress(x, spec)
    _, window, bits = structured.KERNEL_SPECS[spec]
    assert values.shape == (32, 128 * 4 // window) and meta.shape == (32, 4) and meta.dtype == np.uint32
    np.testing.assert_array_equal(structured.decompress(values, meta, spec, 128), x)
    # indices are distinct and ascending inside each group (and the blocks inside each window)
    for s in range(4):
        for j in range(32 // window):
            w = (meta[:, s] >> np.uint32(bits * j)) & np.uint32((1 << bits) - 1)
            for g in range(2):
                assert np.all((w >> np.uint32(4 * g)) & 3 < (w >> np.uint32(4 * g + 2)) & 3)
            if bits == 16:
                assert np.all((w >> np.uint32(8)) & 0xf < (w >> np.uint32(12)) & 0xf)


def ieee_model(a, b, window):
    """One rounding per window: c + the exact sum of its products (the kept ones; the pruned are 0)."""
    c = np.zeros((a.shape[0], b.shape[1]), np.float32)
    for k in range(0, a.shape[1], window):
        c = (c.astype(np.float64) + a[:, k:k + window].astype(np.float64) @ b[k:k + window].astype(np.float64)).astype(np.float32)
    return c


# (mode, spec A is pruned to, spec the mode runs, k window, shape)
GEMMS = [
    ("sp24", "C0(2:4)", "C0(2:4)", 8, (128, 128, 64)),
    ("sp24", "C0(2:4)", "C0(2:4)", 8, (130, 40, 70)),
    ("sp24", "C1(2:8)->C0(2:4)", "C0(2:4)", 8, (64, 64, 64)),   # sparser A still runs as 2:4
    ("hss", "C1(2:4)->C0(2:4)", "C1(2:4)->C0(2:4)", 16, (128, 130, 96)),
    ("hss", "C1(2:8)->C0(2:4)", "C1(2:8)->C0(2:4)", 32, (200, 64, 64)),
    ("hss", "C1(1:8)->C0(2:4)", "C1(2:8)->C0(2:4)", 32, (64, 64, 128)),  # 1/16 runs on the 2:8 kernel
]


@pytest.mark.parametrize("mode, pruned, runs, window, shape", GEMMS)
def test_structured_gemm_against_numpy_the_ieee_model_and_exact_counts(mode, pruned, runs, window, shape):
    m, n, k = shape
    rng = np.random.default_rng(m + n + k)
    kp = -(-k // 64) * 64
    a = sparse.prune_hss(rng.standard_normal((m, kp)), pruned)[:, :k]
    b = rng.standard_normal((k, n)).astype(np.float16)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    res = kernels.gemm(a, b, mode=mode)
    assert res.c.shape == (m, n) and res.c.dtype == np.float32
    assert np.all(np.abs(res.c - exact) <= kernels.error_bound(a, b))
    ieee = kernels.gemm(a, b, mode=mode, device=otc_emu.Device(tensor_arith="ieee", timing=False))
    k32 = -(-k // 32) * 32
    ap = np.zeros((m, k32), np.float16); ap[:, :k] = a
    bp = np.zeros((k32, n), np.float16); bp[:k] = b
    np.testing.assert_array_equal(ieee.c, ieee_model(ap, bp, window))
    c = res.stats.counters
    steps = -(-m // 128) * -(-n // 128) * 64 * 4 * (k32 // window)  # 64 16x16 tiles per block, 4 STEPs per window
    assert c["hmma.executed"] == steps
    assert c["hmma.sp24.executed" if mode == "sp24" else "hmma.hss.executed"] == steps
    assert c["tensor.macs_skipped_structured"] == steps * 256 * (window // 4 - 1)
    assert c["tensor.busy_cycles.hmma"] == steps * 2


def test_structured_modes_refuse_unpruned_a():
    a = np.ones((16, 32), np.float16)
    with pytest.raises(HssSpecError, match=r"mode 'sp24': A does not follow C0\(2:4\).*prune_2_4"):
        kernels.gemm(a, a.T.copy(), mode="sp24")
    with pytest.raises(HssSpecError, match=r"mode 'hss': A does not follow C1\(2:4\)->C0\(2:4\)"):
        kernels.gemm(sparse.prune_2_4(a), a.T.copy(), mode="hss")


def test_half_and_quarter_of_the_dense_tensor_cycles():
    rng = np.random.default_rng(5)
    b = rng.standard_normal((256, 128)).astype(np.float16)
    x = rng.standard_normal((128, 256))
    dense = kernels.gemm(sparse.prune_2_4(x), b, mode="hmma").stats.counters["tensor.busy_cycles.hmma"]
    for mode, spec, factor in [("sp24", "C0(2:4)", 2), ("hss", "C1(2:4)->C0(2:4)", 4), ("hss", "C1(2:8)->C0(2:4)", 8)]:
        got = kernels.gemm(sparse.prune_hss(x, spec), b, mode=mode).stats.counters["tensor.busy_cycles.hmma"]
        assert got * factor == dense, mode


@pytest.mark.parametrize("variant", ["sp24", "hss4", "hss8"])
def test_structured_programs_are_their_generators_output(variant, tmp_path):
    out = tmp_path / f"{variant}_gemm.sass"
    subprocess.run([sys.executable, str(kernels.PROGRAMS / "generators" / "structured_gemm.py"), variant, str(out)],
                   check=True)
    assert out.read_text() == Path(kernels.PROGRAMS / f"{variant}_gemm.sass").read_text()


@pytest.mark.parametrize("spec, inst, sel", [
    ("C0(2:4)", "HMMA.SP884.F32.F32.STEP{s}.SEL2", 2),
    ("C1(2:4)->C0(2:4)", "HMMA.HSS884.F32.F32.STEP{s}.SEL1.H4", 1),
    ("C1(2:8)->C0(2:4)", "HMMA.HSS884.F32.F32.STEP{s}.SEL0.H8", 0),
])
def test_pack_step_runs_one_step_as_numpy_multiplies(spec, inst, sel):
    from otc_emu import fragments

    _, window, _ = structured.KERNEL_SPECS[spec]
    rng = np.random.default_rng(window)
    a = sparse.prune_hss(rng.standard_normal((32, window)), spec).reshape(4, 8, window)
    b = rng.standard_normal((4, window, 8)).astype(np.float16)
    c = rng.standard_normal((4, 8, 8)).astype(np.float32)
    a_regs, b_regs, e = structured.pack_step(a, b, spec, sel)
    c_regs = fragments.pack("HMMA.884.F32.F32", "C", c)
    w = otc_emu.Warp(tensor_arith="ieee")
    for i in range(2):
        w.write_reg(4 + i, a_regs[:, i])
    for i in range(b_regs.shape[1]):
        w.write_reg(32 + i, b_regs[:, i])
    for i in range(8):
        w.write_reg(8 + i, c_regs[:, i])
    w.write_reg(6, e)
    w.run("\n".join(f"{inst.format(s=s)} R{8 + 2 * s}, R4, R32, R{8 + 2 * s}, R6 ;" for s in range(4)) + "\nEXIT ;")
    d = fragments.unpack("HMMA.884.F32.F32", "D", np.stack([w.read_reg(8 + i) for i in range(8)], axis=1))
    # IEEE: one rounding of c + the exact sum of the kept products
    want = (c.astype(np.float64) + a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(d, want)


def test_pack_step_checks_its_input():
    with pytest.raises(HssSpecError, match=r"shape \(4, 8, 8\)"):
        structured.pack_step(np.zeros((4, 8, 16)), np.zeros((4, 16, 8)), "C0(2:4)")
    with pytest.raises(HssSpecError, match="selector 2 out of range 0..1"):
        structured.pack_step(np.zeros((4, 8, 16)), np.zeros((4, 16, 8)), "C1(2:4)->C0(2:4)", sel=2)
    with pytest.raises(HssSpecError, match="allows 2"):
        structured.pack_step(np.ones((4, 8, 8)), np.zeros((4, 8, 8)), "C0(2:4)")


@pytest.mark.parametrize("sparsity, hss_window", [(0.5, 16), (0.9, 32)])
def test_workloads_prune_a_to_the_structured_modes_patterns(sparsity, hss_window):
    from otc_emu import experiments

    runs = experiments.run_gemm(64, 64, 64, sparsity, 0.0, ["hmma", "sp24", "hss"], seed=3, sms=1)
    assert all(runs[mode]["within_bound"] for mode in ("hmma", "sp24", "hss"))
    steps = 64 * 4 * (64 // 8)  # one 128x128 block (padded): 64 16x16 tiles, 4 STEPs per window of 8
    assert runs["sp24"]["stats"].counters["hmma.sp24.executed"] == steps
    assert runs["hss"]["stats"].counters["hmma.hss.executed"] == steps * 8 // hss_window


@pytest.mark.parametrize("sparsity, program", [(0.5, "hss4_gemm"), (0.9, "hss8_gemm")])
def test_cli_source_view_of_hss_shows_the_program_that_ran(sparsity, program, capsys):
    from otc_emu import cli

    argv = ["gemm", "-m", "64", "-n", "64", "-k", "64", "--modes", "hmma,hss", "--sparsity-a", str(sparsity),
            "--report", "hss", "--source", "--top", "2", "--sms", "1"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"hss source ({program})" in out
