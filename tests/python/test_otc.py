"""Outer-product tensor core through the Python API: dense OHMMA, OWMMA 16x16x16, BOHMMA and
SpWMMA sets against NumPy, with the executed/skipped OHMMA counts the paper's design predicts."""
from math import ceil
from pathlib import Path

import numpy as np
import pytest

import otc_emu
from otc_emu import fragments

PROGRAMS = Path(__file__).resolve().parents[2] / "python" / "otc_emu" / "programs"
OHMMA = "HMMA.OHMMA.8161.F32.F32"


def write_group(w, base, regs):
    for i in range(regs.shape[1]):
        w.write_reg(base + i, regs[:, i])


def read_group(w, base, n):
    return np.stack([w.read_reg(base + i) for i in range(n)], axis=1)


def fp16_values(rng, shape, specials=False):
    x = rng.standard_normal(shape).astype(np.float16)
    if specials:
        flat = x.reshape(-1)
        flat[:: 7] = 0
        flat[3:: 11] = np.float16(6e-6)  # subnormal
    return x


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("arith", ["v100", "ieee"])
def test_dense_ohmma_is_an_outer_product_plus_c(seed, arith):
    rng = np.random.default_rng(seed)
    a = fp16_values(rng, (8, 1), specials=seed % 2 == 1)
    b = fp16_values(rng, (1, 16), specials=seed % 2 == 1)
    c = rng.standard_normal((8, 16)).astype(np.float32)
    w = otc_emu.Warp(tensor_arith=arith)
    write_group(w, 4, fragments.pack(OHMMA, "A", a))
    write_group(w, 6, fragments.pack(OHMMA, "B", b))
    write_group(w, 12, fragments.pack(OHMMA, "C", c))
    stats = w.run(f"{OHMMA} {{R8, R9, R10, R11}}, {{R4, R5}}, {{R6, R7}}, {{R12, R13, R14, R15}} ;\nEXIT ;")
    d = fragments.unpack(OHMMA, "D", read_group(w, 8, 4))
    exact = a.astype(np.float64) @ b.astype(np.float64) + c  # one product: exact before the add
    np.testing.assert_allclose(d, exact, rtol=2 ** -22, atol=1e-30)
    if arith == "ieee":  # one rounding of the exact sum
        np.testing.assert_array_equal(d, exact.astype(np.float32))
    assert stats.counters["ohmma.executed"] == 1


def test_dense_ohmma_specials():
    a = np.array([[np.inf], [0], [np.nan], [1], [-1], [2], [65504], [-0.0]], np.float16)
    b = np.zeros((1, 16), np.float16)
    b[0, :4] = [np.inf, 0, 1, -np.inf]
    w = otc_emu.Warp()
    write_group(w, 4, fragments.pack(OHMMA, "A", a))
    write_group(w, 6, fragments.pack(OHMMA, "B", b))
    w.run(f"{OHMMA} {{R8, R9, R10, R11}}, {{R4, R5}}, {{R6, R7}}, RZ ;\nEXIT ;")
    d = fragments.unpack(OHMMA, "D", read_group(w, 8, 4))
    assert np.isnan(d[0, 1]) and np.isnan(d[1, 0]) and np.isnan(d[2, 2])  # inf*0, 0*inf, nan
    assert d[0, 0] == np.inf and d[0, 3] == -np.inf and d[4, 3] == np.inf
    assert d[6, 2] == 65504 and d[3, 2] == 1


@pytest.mark.parametrize("seed", range(3))
def test_owmma_16x16x16_program_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((16, 16)).astype(np.float16)
    b = rng.standard_normal((16, 16)).astype(np.float16)
    dev = otc_emu.Device()
    prog = otc_emu.load(PROGRAMS / "owmma_16x16x16.sass")
    da = dev.to_device(np.ascontiguousarray(a.T))  # column-major A
    db = dev.to_device(b)
    dd = dev.zeros((16, 16), np.float32)
    res = dev.launch(prog, "owmma_16x16x16", 1, 32, [da, db, dd])
    np.testing.assert_allclose(dd.numpy(), a.astype(np.float64) @ b.astype(np.float64), rtol=1e-5, atol=1e-5)
    assert res.stats.counters["ohmma.executed"] == 32  # 16 k-steps x 2 OHMMAs


@pytest.mark.parametrize("abits, bbits", [(0xFFFFFFFF, 0xFFFFFFFF), (0, 0xFFFF), (0x80000001, 0x7), (0x12345678, 0x9ABCDEF0)])
def test_bohmma_is_the_outer_product_of_two_bitmaps(abits, bbits):
    w = otc_emu.Warp()
    w.write_reg(1, np.full(32, abits, np.uint32))
    w.write_reg(2, np.full(32, bbits, np.uint32))
    w.run("HMMA.BOHMMA.32321.B32.B32 R0, R1, R2 ;\nEXIT ;")
    got = fragments.unpack("HMMA.BOHMMA.32321.B32.B32", "D", w.read_reg(0).reshape(32, 1))
    bits = lambda v: np.array([(v >> i) & 1 for i in range(32)], bool)  # noqa: E731
    np.testing.assert_array_equal(got, np.outer(bits(abits), bits(bbits)))


def condense(v):
    """Non-zeros of v pushed to the front, zero padded to 32; and the bitmap of v."""
    nz = v[v != 0]
    out = np.zeros(32, np.float16)
    out[: nz.size] = nz
    bitmap = int(sum(1 << i for i in range(32) if v[i] != 0))
    return out, bitmap, nz.size


def spwmma_warp(a_col, b_row):
    """One SpWMMA set on a fresh warp; returns (32x32 buffer, stats)."""
    ca, abmp, _ = condense(a_col)
    cb, bbmp, _ = condense(b_row)
    w = otc_emu.Warp()
    for m in range(4):
        write_group(w, 8 + 2 * m, fragments.pack(OHMMA, "A", ca[8 * m:8 * m + 8].reshape(8, 1)))
    for n in range(2):
        write_group(w, 16 + 2 * n, fragments.pack(OHMMA, "B", cb[16 * n:16 * n + 16].reshape(1, 16)))
    w.write_reg(2, np.full(32, abmp, np.uint32))
    w.write_reg(3, np.full(32, bbmp, np.uint32))
    w.write_reg(4, np.zeros(32, np.uint32))
    moves = "\n".join(f"ACCB.MOV.F32 {{{', '.join(f'R{24 + 8 * q + i}' for i in range(8))}}}, {q:#x} ;" for q in range(4))
    stats = w.run(
        "ACCB.CLEAR ;\n"
        "SPWMMA.M32N32K1.F32.F32 {R8, R9, R10, R11, R12, R13, R14, R15}, {R16, R17, R18, R19}, R2, R3, R4, {R20, R21} ;\n"
        f"{moves}\nEXIT ;"
    )
    buf = np.zeros((32, 32), np.float32)
    lanes = np.arange(32)
    for q in range(4):
        regs = read_group(w, 24 + 8 * q, 8).view(np.float32)
        for lane in lanes:
            buf[8 * q + lane // 4, 8 * (lane % 4): 8 * (lane % 4) + 8] = regs[lane]
    cbmp = w.read_reg(4)
    return buf, stats, cbmp, abmp, bbmp


SETS = [
    # (nnz of the A column, nnz of the B row): the paper's example 20/11 runs 3 of 8 OHMMAs
    (20, 11), (32, 32), (0, 32), (32, 0), (1, 1), (8, 16), (9, 17), (24, 8), (25, 31), (16, 1),
]


@pytest.mark.parametrize("nnz_a, nnz_b", SETS)
def test_spwmma_set_accumulates_the_outer_product_and_skips_empty_blocks(nnz_a, nnz_b):
    rng = np.random.default_rng(nnz_a * 100 + nnz_b)
    a = np.zeros(32, np.float16)
    b = np.zeros(32, np.float16)
    a[rng.choice(32, nnz_a, replace=False)] = rng.uniform(0.5, 2, nnz_a) * rng.choice([-1, 1], nnz_a)
    b[rng.choice(32, nnz_b, replace=False)] = rng.uniform(0.5, 2, nnz_b) * rng.choice([-1, 1], nnz_b)
    buf, stats, cbmp, abmp, bbmp = spwmma_warp(a, b)
    # one product per element landing on +0: exact
    np.testing.assert_array_equal(buf, np.outer(a.astype(np.float32), b.astype(np.float32)))
    executed = ceil(nnz_a / 8) * ceil(nnz_b / 16)
    assert stats.counters["ohmma.executed"] == executed
    assert stats.counters["ohmma.skipped"] == 8 - executed
    # the product bitmap rows that BOHMMA ORed into cbmp
    expected_rows = [bbmp if (abmp >> lane) & 1 else 0 for lane in range(32)]
    assert cbmp.tolist() == expected_rows


@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.75, 0.9, 1.0])
def test_spwmma_random_sparsity(sparsity):
    rng = np.random.default_rng(int(sparsity * 100))
    a = rng.standard_normal(32).astype(np.float16)
    b = rng.standard_normal(32).astype(np.float16)
    a[rng.random(32) < sparsity] = 0
    b[rng.random(32) < sparsity] = 0
    buf, stats, *_ = spwmma_warp(a, b)
    np.testing.assert_array_equal(buf, np.outer(a.astype(np.float32), b.astype(np.float32)))
    assert stats.counters["ohmma.executed"] == ceil(np.count_nonzero(a) / 8) * ceil(np.count_nonzero(b) / 16)
