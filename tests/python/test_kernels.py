"""otc_emu.kernels.gemm on the emulated SM against NumPy and an exact model of its arithmetic order."""
import itertools
import subprocess
import sys
from pathlib import Path

from unittest import mock

import numpy as np
import pytest

import otc_emu
from otc_emu import kernels, sparse
from otc_emu.experiments.workloads import gemm_operands

SHAPES = [(16, 16, 16), (1, 1, 1), (33, 47, 65), (16, 32, 7), (48, 16, 0), (200, 300, 40)]  # the last: several CTAs both ways


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
    if mode == "owmma":  # 32 OHMMAs per 64x64 warp tile and k, K padded to a multiple of 4 (groups of 4 k)
        assert res.stats.counters["ohmma.executed"] == -(-m // 64) * -(-n // 64) * 32 * -(-k // 4) * 4
    else:
        # 128x128 blocks of C (64 16x16 tiles), 4 HMMA.884 steps per tile and 4 values of k, K
        # padded to a multiple of 32
        blocks = -(-m // 128) * -(-n // 128)
        assert res.stats.counters["hmma.executed"] == blocks * 64 * 4 * (-(-k // 32) * 32 // 4)


def test_gemm_input_checks():
    with pytest.raises(ValueError, match="unknown GEMM mode 'sparse'; available: owmma, hmma, spgemm, spgemm_a, spgemm_seq, spgemm_wide, csr, vstc, sp24, hss"):
        kernels.gemm(np.zeros((2, 2), np.float16), np.zeros((2, 2), np.float16), mode="sparse")
    with pytest.raises(ValueError, match="inner dimensions differ"):
        kernels.gemm(np.zeros((2, 3), np.float16), np.zeros((2, 2), np.float16))
    with pytest.raises(TypeError, match="dtype int32"):
        kernels.gemm(np.zeros((2, 2), np.int32), np.zeros((2, 2), np.float16))
    with pytest.warns(UserWarning, match="rounded to float16"):
        kernels.gemm(np.full((2, 2), 0.1, np.float32), np.zeros((2, 2), np.float16))


def expected_ohmmas(a, b):
    """Sum over 32x32 output tiles and k of ceil(nnz of A's 32-row column slice / 8) *
    ceil(nnz of B's 32-column row slice / 16) (the issue's formula, computed independently)."""
    mp, np_ = -(-a.shape[0] // 32) * 32, -(-b.shape[1] // 32) * 32
    ap = np.zeros((mp, a.shape[1])); ap[: a.shape[0]] = a
    bp = np.zeros((b.shape[0], np_)); bp[:, : b.shape[1]] = b
    nza = (ap != 0).reshape(mp // 32, 32, -1).sum(axis=1)  # (tile rows, k)
    nzb = (bp != 0).reshape(b.shape[0], np_ // 32, 32).sum(axis=2)  # (k, tile cols)
    return int((np.ceil(nza / 8) @ np.ceil(nzb / 16)).sum())


@pytest.mark.parametrize("sa", [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0])
@pytest.mark.parametrize("sb", [0.0, 0.5, 0.99, 1.0])
@pytest.mark.parametrize("m, n, k", [(33, 47, 65), (64, 32, 16), (150, 100, 40)])
def test_spgemm_matches_dense_bits_and_runs_the_predicted_ohmmas(m, n, k, sa, sb):
    rng = np.random.default_rng(int(sa * 1000) + int(sb * 10))
    a = sparse.prune_random(rng.standard_normal((m, k)), sa, seed=3)
    b = sparse.prune_random(rng.standard_normal((k, n)), sb, seed=4)
    dev = otc_emu.Device(timing=False)
    sp = kernels.gemm(a, b, mode="spgemm", device=dev)
    dense = kernels.gemm(a, b, mode="owmma", device=dev)
    # zero products leave the V100 adder's sum unchanged, so the sparse path gives the dense bits
    np.testing.assert_array_equal(sp.c, dense.c)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = k * 2.0 ** -22 * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))) + 1e-30
    assert np.all(np.abs(sp.c - exact) <= bound)
    assert sp.stats.counters["ohmma.executed"] == expected_ohmmas(a, b)
    # each k jumps to exactly its OHMMAs: none is issued predicated off
    assert sp.stats.counters["ohmma.skipped"] == 0
    single = kernels.gemm(a, b, mode="spgemm_a", device=dev)
    np.testing.assert_array_equal(single.c, dense.c)
    padded_n = -(-n // 32) * 32  # B goes in dense, its padding columns included
    assert single.stats.counters["ohmma.executed"] == expected_ohmmas(a, np.ones((k, padded_n)))
    assert single.stats.counters["ohmma.skipped"] == 0
    # the 64x64 warp tile of four accumulation buffers: the same bits (its OHMMA count is the
    # cycle model's, checked below)
    np.testing.assert_array_equal(kernels.gemm(a, b, mode="spgemm_wide", device=dev).c, dense.c)


@pytest.mark.parametrize("sa, sb", [(0.0, 0.0), (0.25, 0.0), (0.75, 0.5), (0.5, 0.99), (0.99, 0.5), (0.999, 0.99), (1.0, 0.0)])
# (64, 64, 1056): 33 chunks of k, so that lists end and resume at every slot of the list build's
# flag prefetch (chunk c % 4) and the last chunks have no flags to prefetch
@pytest.mark.parametrize("m, n, k", [(33, 47, 65), (130, 70, 100), (64, 64, 1056)])
@pytest.mark.parametrize("tile, depth, narrow", [(tile, depth, False) for tile, depths in kernels.WIDE_TILES.items() for depth in sorted(depths)]
                         + [("64x64", depth, True) for depth in sorted(kernels.NARROW_DEPTHS)])
@pytest.mark.parametrize("order", [0, 1])
def test_spgemm_wide_runs_the_predicted_ohmmas_with_one_sequenced_spwmma_per_unit(m, n, k, sa, sb, tile, depth, narrow, order):
    rng = np.random.default_rng(int(sa * 1000) + int(sb * 10) + m)
    a = sparse.prune_random(rng.standard_normal((m, k)), sa, seed=7)
    b = sparse.prune_random(rng.standard_normal((k, n)), sb, seed=8)
    # every warp tile and pipeline depth, the 64x64 tile's narrow program too, both CTA orders
    # (grid (tq, tp) or (tp, tq))
    with mock.patch.object(kernels, "wide_depth", lambda dev, ctas, tile="64x64": depth):
        wide = kernels.gemm(a, b, mode="spgemm_wide", device=otc_emu.Device(**kernels.WIDE_MACHINE), cta_order=order,
                            wide_tile=tile, wide_narrow=narrow if tile == "64x64" else None)
    program = (kernels.NARROW_DEPTHS if narrow else kernels.WIDE_TILES[tile])[depth]
    assert (wide.program, wide.order, wide.tile) == (program, order, tile)
    np.testing.assert_array_equal(wide.c, kernels.gemm(a, b, mode="owmma", device=otc_emu.Device(timing=False)).c)
    c = wide.stats.counters
    assert c["spwmma.ohmmas"] == expected_ohmmas(a, b)
    assert c["ohmma.issued"] == 0
    # one record per k where some unit of the warp tile has work, each 4 x (BMAP, SpWMMA), plus at
    # most depth - 1 no-op records per list (a list per chunk of 32 k at most)
    rows, cols = (32 * t for t in kernels.WIDE_TILE_SHAPES[tile])
    records, lists = wide_records(a, b, rows, cols), -(-m // rows) * -(-n // cols) * -(-k // 32)
    assert c["spwmma.issued"] == c["accb.bmap"]
    assert 4 * records <= c["spwmma.issued"] <= 4 * (records + (depth - 1) * lists)


@pytest.mark.parametrize(
    "sms, ctas, tile, depth",
    [
        # CTAs held at once per SM: 64x64 at depths 3, 4, 5, 6: 17, 13, 11, 9 (120, 148, 180, 208
        # registers); 128x32 at depths 3, 4: 12, 10 (160, 200). Slots: waves x CTAs held (or fewer)
        (4, 64, "64x64", 3),  # 512^3 on 4 SMs: 16 per SM: slots 68, 104, 88, 72
        (80, 256, "64x64", 6),  # 1024^3: 4 per SM, one wave at every depth: 256 each
        (80, 800, "64x64", 5),  # 10 per SM: 1360, 1040, 880, 1440
        (80, 1024, "64x64", 4),  # 2048^3: 12.8 per SM: 1360, 1040, 1760, 1440
        (80, 4096, "64x64", 4),  # 4096^3: 51.2 per SM: 5440, 4160, 4400, 4320
        (8, 256, "64x64", 5),  # 1024^3 on 8 SMs: 32 per SM: 272, 312, 264, 288 (the fewest waves: depth 3)
        (80, 1, "64x64", 6),
        (1, 17, "64x64", 3),  # one wave at depth 3, two deeper
        (1, 18, "64x64", 6),  # two waves at every depth: 34, 26, 22, 18
        (80, 4096, "128x32", 4),  # 4800 and 4800 (five and six waves)
        (4, 64, "128x32", 4),  # 96 and 80
        (1, 12, "128x32", 3),
    ],
)
def test_wide_depth_takes_the_fewest_cta_slots(sms, ctas, tile, depth):
    dev = otc_emu.Device.v100_slice(sms, **kernels.WIDE_MACHINE)
    assert [dev.resident_ctas(32, r, 1024) for r in (120, 148, 180, 208)] == [17 * sms, 13 * sms, 11 * sms, 9 * sms]
    assert [dev.resident_ctas(32, r, 1024) for r in (160, 200)] == [12 * sms, 10 * sms]
    assert kernels.wide_depth(dev, ctas, tile) == depth
    assert kernels.wide_depth(otc_emu.Device(timing=False), ctas, tile) == 3  # no model: bits are the same


def test_resident_ctas_checks_its_arguments():
    dev = otc_emu.Device()
    assert otc_emu.Device(timing=False).resident_ctas(32, 32) is None
    assert dev.resident_ctas(1024, 64) == 80  # 64 regs x 1024 threads: one CTA per SM
    with pytest.raises(otc_emu.LaunchError, match="registers"):
        dev.resident_ctas(1024, 255)
    with pytest.raises(otc_emu.LaunchError, match="2\\*\\*32"):
        dev.resident_ctas(32, 32, 2**32)
    with pytest.raises(TypeError, match="threads"):
        dev.resident_ctas(32.0, 32)


def wide_records(a, b, rows=64, cols=64):
    """(rows x cols warp tile, k) pairs where some 32x32 unit has non-zeros in both slices."""
    mp, np_ = -(-a.shape[0] // rows) * rows, -(-b.shape[1] // cols) * cols
    ap = np.zeros((mp, a.shape[1])); ap[: a.shape[0]] = a
    bp = np.zeros((b.shape[0], np_)); bp[:, : b.shape[1]] = b
    nza = (ap != 0).reshape(mp // rows, rows, -1).any(axis=1)  # (tile group rows, k)
    nzb = (bp != 0).reshape(b.shape[0], np_ // cols, cols).any(axis=2)  # (k, tile group cols)
    return int((nza.astype(int) @ nzb.astype(int)).sum())


def _flags(*rows):
    return np.array(rows, dtype=np.uint8)


# One A pair over 4 k: flags 0x1, 0x3, 0xF, 0x4 read 2, 3, 5, 2 sectors (bitmap + value loads); B
# has work at k 0, 1, 3 only, so A's k 2 has no record: A reads 7 sectors (224 bytes). Two B pairs,
# each 0x10, 0x30, -, 0x20: 3, 5, -, 3 sectors (a bitmap sector, two per tile): 704 bytes.
A_FLAGS, B_FLAGS = _flags([0x1, 0x3, 0xF, 0x4]), _flags([0x10, 0x30, 0x00, 0x20], [0x10, 0x30, 0x00, 0x20])


@pytest.mark.parametrize(
    "a_flags, b_flags, l2_bytes, order",
    [
        (A_FLAGS, B_FLAGS, 448, 1),  # B's 704 bytes exceed the L2 and A's 224: share B
        (A_FLAGS, B_FLAGS, 703, 1),
        (A_FLAGS, B_FLAGS, 704, 0),  # B does not exceed the L2: what a walk reads again stays there
        (A_FLAGS, B_FLAGS, None, 0),  # no cycle model: the first order
        (_flags([0xF] * 4, [0xF] * 4), _flags([0x10] * 4), 256, 0),  # A 1280 (2 x 4 x 5 sectors) outweighs B 384
        (_flags([0xF] * 4), _flags([0x30] * 4), 320, 0),  # A 4 x 5 = B 4 x 5 sectors: a tie keeps order 0
        (A_FLAGS, np.zeros_like(B_FLAGS), 16, 0),  # no records: nothing read
        (_flags([0x1] * 4), _flags([0x30, 0x00, 0x00, 0x00]), 128, 1),  # only k 0 has records: A 64, B 160 bytes
        (_flags([0x1] * 4), _flags([0x30, 0x00, 0x00, 0x00]), 160, 0),
    ],
)
def test_wide_order_shares_b_when_its_blocks_exceed_the_l2_and_outweigh_a(a_flags, b_flags, l2_bytes, order):
    assert kernels.wide_order(a_flags, b_flags, l2_bytes) == order


# B dense (two pairs with work at all 4 k, 5 sectors each: 1280 bytes), A one pair: with work at
# every k, at 3 of 4 (k 2 empty) or at none of them.
_B_DENSE = _flags([0x30] * 4, [0x30] * 4)


@pytest.mark.parametrize(
    "a_flags, b_flags, l2_bytes, l1_shares_b, order",
    [
        (_flags([0x5] * 4), _B_DENSE, 256, False, 1),  # B's 1280 bytes exceed the L2 and A's 4 x 3 x 32
        (_flags([0x5] * 4), _B_DENSE, 256, True, 0),  # A has work at every k: the SM's CTAs share B in step
        (_flags([0x1, 0x1, 0x0, 0x1]), _B_DENSE, 256, True, 1),  # at 3 of 4 k (75% < 95%): as without sharing
        (_flags([0x1, 0x1, 0x0, 0x1]), _B_DENSE, 256, False, 1),
        (_flags([0x5] * 4), _B_DENSE, 1280, True, 0),  # nothing exceeds the L2: order 0 either way
        (_flags([0x5] * 4), _B_DENSE, None, True, 0),  # no cycle model
        (_flags([0x5] * 4, [0x0] * 4), _B_DENSE, 256, True, 1),  # two A pairs, one with no work: 50% of (pair, k)
        (_flags([0x5] * 4), _flags([0x30, 0x0, 0x0, 0x0]), 32, True, 0),  # only k 0 has records, where A has work
    ],
)
def test_wide_order_keeps_order_0_where_the_l1_shares_b_in_step(a_flags, b_flags, l2_bytes, l1_shares_b, order):
    assert kernels.wide_order(a_flags, b_flags, l2_bytes, l1_shares_b) == order


@pytest.mark.parametrize(
    "sms, size, settings, shares",
    [
        (80, 4096, {}, True),  # SM s: columns (s + 80 j) mod 64, 4 of them, against 13 CTAs held (depth 4)
        (80, 4096, {"gpu.cta_dispatch": "dynamic"}, False),  # no fixed placement
        (79, 4096, {}, False),  # 79 and 64 coprime: 64 distinct columns per SM, more than it holds
        (4, 512, {}, True),  # columns s, s + 4: 2 against 16 CTAs per SM
        (80, 512, {}, False),  # 64 CTAs on 64 SMs: one each
        (80, 1024, {}, True),  # 256 CTAs: SM s gets 3-4 CTAs, all of column s mod 16
    ],
)
def test_wide_l1_shares_b_from_static_placement(sms, size, settings, shares):
    dev = otc_emu.Device.v100_slice(sms, **kernels.WIDE_MACHINE, **settings)
    pairs = size // 64
    program = kernels.WIDE_DEPTHS[kernels.wide_depth(dev, pairs * pairs)]
    assert kernels.wide_l1_shares_b(dev, program, pairs, pairs) is shares
    assert kernels.wide_l1_shares_b(otc_emu.Device(timing=False), program, pairs, pairs) is False


@pytest.mark.parametrize("mode, cta_order", [("owmma", 0), ("spgemm_wide", 2), ("spgemm_wide", True), ("spgemm_wide", "1")])
def test_gemm_refuses_a_cta_order_it_cannot_launch(mode, cta_order):
    a = np.eye(64, dtype=np.float16)
    with pytest.raises(ValueError, match="cta_order is 0 or 1, for mode 'spgemm_wide' only"):
        kernels.gemm(a, a, mode=mode, device=otc_emu.Device(timing=False), cta_order=cta_order)


def test_gemm_launches_the_cta_order_asked_for():
    rng = np.random.default_rng(5)
    a = sparse.prune_random(rng.standard_normal((128, 128)), 0.5, seed=1)
    b = sparse.prune_random(rng.standard_normal((128, 192)), 0.9, seed=2)
    ref = kernels.gemm(a, b, mode="owmma", device=otc_emu.Device(timing=False)).c
    dev = otc_emu.Device(**kernels.WIDE_MACHINE)
    for order in (0, 1):
        wide = kernels.gemm(a, b, mode="spgemm_wide", device=dev, cta_order=order)
        assert wide.order == order
        np.testing.assert_array_equal(wide.c, ref)


def test_spgemm_wide_launches_the_rule_s_order():
    rng = np.random.default_rng(3)
    a = sparse.prune_random(rng.standard_normal((128, 256)), 0.999, seed=7)  # 2 x 3 pairs, A almost empty
    b = sparse.prune_random(rng.standard_normal((256, 192)), 0.0, seed=8)
    flags = kernels.spgemm_wide_operand(a.astype(np.float16), "A")[0], kernels.spgemm_wide_operand(b.astype(np.float16), "B")[0]
    ref = kernels.gemm(a, b, mode="owmma", device=otc_emu.Device(timing=False)).c
    results = {}
    for l2_bytes in (8192, 6291456):  # B's blocks exceed a small L2 (order 1), not the V100's
        dev = otc_emu.Device(**kernels.WIDE_MACHINE, **{"memory.l2_bytes": l2_bytes})
        wide = kernels.gemm(a, b, mode="spgemm_wide", device=dev)
        assert wide.order == kernels.wide_launch_order(*flags, dev, wide.program) == kernels.wide_order(*flags, l2_bytes)
        assert wide.order == (l2_bytes == 8192)
        np.testing.assert_array_equal(wide.c, ref)
        results[wide.order] = wide.stats.counters
    assert results[0]["spwmma.ohmmas"] == results[1]["spwmma.ohmmas"] == expected_ohmmas(a, b)
    assert kernels.gemm(a, b, mode="spgemm_wide", device=otc_emu.Device(timing=False)).order == 0


# A pair's flags over 4 k (bit 6: some tile has more than 16 non-zeros), against B pairs' (0x30:
# both tiles with work, 0x10 one, 0 none): a record is an (A pair, B pair, k) with work on both sides
@pytest.mark.parametrize(
    "a_flags, b_flags, narrow",
    [
        (_flags([0x5] * 4), _flags([0x30] * 4), True),  # no wide record
        (_flags([0x4F] * 4), _flags([0x30] * 4), False),  # every record wide
        (_flags([0x4F, 0x4F, 0x5, 0x5]), _flags([0x30] * 4), True),  # 2 of 4: at most half
        (_flags([0x4F, 0x4F, 0x4F, 0x5]), _flags([0x30] * 4), False),  # 3 of 4
        (_flags([0x4F, 0x4F, 0x4F, 0x5]), _flags([0x0, 0x0, 0x10, 0x30]), True),  # B has work at k 2, 3 only: 1 of 2
        (_flags([0x4F, 0x4F, 0x5, 0x5]), _flags([0x30, 0x0, 0x0, 0x0], [0x30, 0x0, 0x30, 0x0]), False),  # 2 of 3 records
        (_flags([0x4F, 0x5, 0x5, 0x5], [0x4F, 0x4F, 0x0, 0x0]), _flags([0x30] * 4), True),  # 3 of 6 (A's second pair: 2 k)
        (_flags([0x4F] * 4), np.zeros((1, 4), np.uint8), False),  # no record at all: the plain program
    ],
)
def test_wide_narrow_counts_the_wide_records(a_flags, b_flags, narrow):
    assert kernels.WIDE_NARROW_MAX_WIDE == 0.5
    assert kernels.wide_narrow(a_flags, b_flags, 4) is narrow
    # an LD/ST interval of one cycle (dstc-paper) or no cycle model: the plain program
    assert kernels.wide_narrow(a_flags, b_flags, 1) is kernels.wide_narrow(a_flags, b_flags, None) is False


def test_spgemm_wide_operand_marks_the_wide_k_of_a_pair():
    rng = np.random.default_rng(9)
    a = np.zeros((64, 64), np.float16)
    for col, (n0, n1) in enumerate([(0, 0), (16, 16), (17, 0), (0, 17), (32, 32), (3, 20)] * 10 + [(1, 1)] * 4):
        a[rng.permutation(32)[:n0], col] = 1
        a[32 + rng.permutation(32)[:n1], col] = 2
    flags = kernels.spgemm_wide_operand(a, "A")[0]
    # the layout interleaves k per lane and group: bytes of k = 32 (4 g + b) + l at 128 g + 4 l + b
    per_k = flags.reshape(1, -1, 32, 4).transpose(0, 1, 3, 2).reshape(1, -1)[:, :64]
    counts = (a != 0).reshape(2, 32, 64).sum(axis=1)
    np.testing.assert_array_equal((per_k & 0x40) != 0, (counts > 16).any(axis=0)[None])
    np.testing.assert_array_equal(per_k & 0xF, ((counts[0] > 0) | (counts[0] > 16) << 1 | (counts[1] > 0) << 2 | (counts[1] > 16) << 3)[None])
    assert not (kernels.spgemm_wide_operand(a, "B")[0] & 0x40).any()


@pytest.mark.parametrize("program, tile, depth, extra", [(f, t, d, 0) for t, depths in kernels.WIDE_TILES.items() for d, f in depths.items()]
                         + [(f, "64x64", d, 1) for d, f in kernels.NARROW_DEPTHS.items()])
def test_wide_record_instructions_are_the_programs(program, tile, depth, extra):
    # the tile rule's per-record count (kernels.WIDE_RECORD_INSTRUCTIONS) is the record loop's:
    # depth records per pass (the narrow program's branch one more each) and its three of control
    from otc_emu._operands import PROGRAMS

    lines = [line.split("//")[0].strip() for line in (PROGRAMS / program).read_text().splitlines()]
    body = lines[lines.index("group_loop:") + 1:lines.index("@P0 BRA group_loop ;") + 1]
    issued = [line for line in body if line and not line.endswith(":")]
    assert len(issued) == depth * (kernels.WIDE_RECORD_INSTRUCTIONS[tile] + extra) + 3


@pytest.mark.parametrize("k", [32, 96, 128, 160, 544])
def test_spgemm_wide_operand_gives_a_single_b_tile_its_bitmaps(k):
    # the 128x32 tile's B: no flags but the tile's bitmaps, a u32 per k in the flags' layout (word
    # of k = 32 (4 g + b) + l at 128 g + 4 l + b), then WIDE_BITMAP_PAD_GROUPS groups of zeros
    rng = np.random.default_rng(k)
    b = sparse.prune_random(rng.standard_normal((k, 64)), 0.9, seed=k).astype(np.float16)
    words, blocks = kernels.spgemm_wide_operand(b, "B", 1)
    groups = -(-k // 128)
    assert words.dtype == np.uint32 and words.shape == (2, 128 * (groups + kernels.WIDE_BITMAP_PAD_GROUPS))
    per_k = words.reshape(2, -1, 32, 4).transpose(0, 1, 3, 2).reshape(2, -1)
    bits = (b != 0).reshape(k, 2, 32).transpose(1, 0, 2).astype(np.uint64) << np.arange(32, dtype=np.uint64)
    np.testing.assert_array_equal(per_k[:, :k], bits.sum(axis=2))
    assert not per_k[:, k:].any()
    # the blocks as for any group (each k: the slice, then its bitmap twice)
    np.testing.assert_array_equal(blocks[:, :k, 16], per_k[:, :k])
    assert blocks.shape == (2, k + 1, 24) and not blocks[:, k].any()


@pytest.mark.parametrize("sa, narrow", [(0.0, False), (0.25, False), (0.75, True), (0.9, True)])
def test_spgemm_wide_runs_the_narrow_program_where_the_rule_says(sa, narrow):
    rng = np.random.default_rng(4)
    a = sparse.prune_random(rng.standard_normal((128, 256)), sa, seed=3).astype(np.float16)
    b = rng.standard_normal((256, 128)).astype(np.float16)
    dev = otc_emu.Device(**kernels.WIDE_MACHINE)
    a_flags, b_flags = kernels.spgemm_wide_operand(a, "A")[0], kernels.spgemm_wide_operand(b, "B")[0]
    assert kernels.wide_narrow(a_flags, b_flags, 4) is narrow
    depth = kernels.wide_depth(dev, 4)
    runs = {n: kernels.gemm(a, b, mode="spgemm_wide", device=dev, wide_narrow=n) for n in (False, True)}
    picked = kernels.gemm(a, b, mode="spgemm_wide", device=dev)
    assert picked.tile == "64x64" and picked.program == (kernels.NARROW_DEPTHS if narrow else kernels.WIDE_DEPTHS)[depth]
    assert [runs[n].program for n in (False, True)] == [kernels.WIDE_DEPTHS[depth], kernels.NARROW_DEPTHS[depth]]
    plain, nar = runs[False].stats.counters, runs[True].stats.counters
    np.testing.assert_array_equal(runs[True].c, runs[False].c)
    np.testing.assert_array_equal(picked.c, runs[False].c)
    assert nar["spwmma.ohmmas"] == plain["spwmma.ohmmas"] == expected_ohmmas(a, b)
    # one branch per record run; two loads fewer per record whose k is narrow (no-op records
    # included), and per record the pipeline loads past a list's end (depth - 1 per list)
    records, lists = nar["spwmma.issued"] // 4, 2 * 2 * (256 // 32)
    wide = int(((a_flags & 0x40) != 0).sum(axis=0) @ ((b_flags & 0x30) != 0).sum(axis=0))
    assert nar["op.BRA"] - plain["op.BRA"] == records
    assert 2 * (records - wide) <= plain["op.LDG"] - nar["op.LDG"] <= 2 * (records - wide + (depth - 1) * lists)
    # with an LD/ST interval of one cycle (dstc-paper's premise) or no cycle model: the plain program
    for other in (otc_emu.Device(machine="dstc-paper", **kernels.WIDE_MACHINE), otc_emu.Device(timing=False)):
        assert kernels.gemm(a, b, mode="spgemm_wide", device=other).program == kernels.WIDE_DEPTHS[kernels.wide_depth(other, 4)]


@pytest.mark.parametrize("narrow, tile, mode", [(1, None, "spgemm_wide"), ("on", None, "spgemm_wide"), (True, "128x32", "spgemm_wide"),
                                                (True, "32x128", "spgemm_wide"), (False, None, "owmma")])
def test_gemm_refuses_a_wide_narrow_it_cannot_launch(narrow, tile, mode):
    a = np.eye(64, dtype=np.float16)
    with pytest.raises(ValueError, match="wide_narrow is True or False"):
        kernels.gemm(a, a, mode=mode, device=otc_emu.Device(timing=False), wide_narrow=narrow, wide_tile=tile)


def test_wide_narrow_false_leaves_the_tile_to_the_rule():
    rng = np.random.default_rng(6)  # B 99% zeros on one SM: the rule takes 128x32, which has no narrow program
    a = rng.standard_normal((128, 256)).astype(np.float16)
    b = sparse.prune_random(rng.standard_normal((256, 128)), 0.99, seed=5).astype(np.float16)
    dev = otc_emu.Device.v100_slice(1, **kernels.WIDE_MACHINE)
    picked = kernels.gemm(a, b, mode="spgemm_wide", device=dev)
    plain = kernels.gemm(a, b, mode="spgemm_wide", device=dev, wide_narrow=False)
    assert plain.tile == picked.tile == kernels.wide_tile(a, b, dev) == "128x32"
    assert plain.program == picked.program
    assert kernels.gemm(a, b, mode="spgemm_wide", device=dev, wide_narrow=True).tile == "64x64"


@pytest.mark.parametrize("mode, tile", [("owmma", "64x64"), ("spgemm_wide", "32x32"), ("spgemm_wide", "tall"), ("spgemm_wide", 64)])
def test_gemm_refuses_a_wide_tile_it_cannot_launch(mode, tile):
    a = np.eye(64, dtype=np.float16)
    with pytest.raises(ValueError, match="wide_tile is one of '64x64', '128x32', '32x128', for mode 'spgemm_wide' only"):
        kernels.gemm(a, a, mode=mode, device=otc_emu.Device(timing=False), wide_tile=tile)


@pytest.mark.parametrize("sa, sb", [(0.0, 0.0), (0.75, 0.5), (0.5, 0.99), (0.999, 0.99), (1.0, 0.0)])
@pytest.mark.parametrize("m, n, k", [(33, 47, 65), (130, 70, 100), (256, 96, 64)])
def test_wide_tile_counts_the_records_each_tile_lists(m, n, k, sa, sb):
    rng = np.random.default_rng(int(sa * 1000) + m)
    a = sparse.prune_random(rng.standard_normal((m, k)), sa, seed=3).astype(np.float16)
    b = sparse.prune_random(rng.standard_normal((k, n)), sb, seed=4).astype(np.float16)
    counts = kernels.wide_tile_counts(a, b)
    assert counts["64x64"][0] == wide_records(a, b, 64, 64)
    assert counts["128x32"][0] == wide_records(a, b, 128, 32)
    assert counts["32x128"][0] == wide_records(a, b, 32, 128)


def test_wide_tile_counts_the_sectors_the_program_loads():
    # A: tile 0 with 17 non-zeros at k 0 (values in 2 sectors), tile 2 with one at k 1; B: tile 0
    # with one non-zero at k 0 and k 1, tile 1 with one at k 1
    a = np.zeros((128, 32), np.float16)
    a[:17, 0] = 1
    a[64, 1] = 1
    b = np.zeros((32, 64), np.float16)
    b[0, 0] = b[1, 0] = b[1, 32] = 1
    # 64x64: k 0, A pair 0 (bitmap + 2) x B pair 0 (bitmap + 2); k 1, A pair 1 (bitmap + 1) x B
    # pair 0 (bitmap + 2 x 2): 1 + 1 records, 6 + 7 sectors; the list build: 2 x 1 warp tiles (the
    # launch's: 128 x 64), one chunk, a flag sector per operand
    assert kernels.wide_tile_counts(a, b)["64x64"] == (2, 6 + 7 + 2 * 2)
    # 128x32: k 0, the A quad (bitmap + 2) x B tile 0 (2: its bitmap comes with the record); k 1,
    # the quad (bitmap + 1) x B tiles 0 and 1 (2 each): 1 + 2 records, 5 + 2 x 4 sectors; the list
    # build: 1 x 2 warp tiles, A's flag sector and four of B's bitmaps
    assert kernels.wide_tile_counts(a, b)["128x32"] == (3, 5 + 8 + 2 * 5)
    # 32x128: k 0, A tile 0 (bitmap + 2) x the B quad (bitmap + 2); k 1, A tile 2 (bitmap + 1) x the
    # quad (bitmap + 2 x 2): 1 + 1 records, 6 + 7 sectors; the list build: 4 x 1 warp tiles
    assert kernels.wide_tile_counts(a, b)["32x128"] == (2, 6 + 7 + 4 * 2)


@pytest.mark.parametrize(
    "sa, sb, machine, tile",
    [
        # measured at 512^3 on 4 SMs (docs/kernels.md, "The 128x32 warp tile"): 128x32 takes 15% (v100)
        # and 8% fewer cycles at A0/B99, 16% / 7% more at A75/B0, 1-3% more at A99/B99 (estimate
        # 0.96-0.97: within the margin); about the same at A99.9/B99
        (0.0, 0.99, "v100", "128x32"),
        (0.99, 0.99, "v100", "64x64"),
        (0.99, 0.99, "dstc-paper", "64x64"),
        (0.0, 0.99, "dstc-paper", "128x32"),
        (0.5, 0.99, "v100", "128x32"),
        (0.75, 0.0, "v100", "64x64"),
        (0.75, 0.0, "dstc-paper", "64x64"),
        (0.0, 0.0, "v100", "64x64"),
        (0.999, 0.99, "v100", "64x64"),
        (0.0, 0.9, "v100", "64x64"),
        # the mirror, 32x128, where A is very sparse and B dense: 20% (v100) and 26% fewer cycles at
        # A99/B0, 3-5% at A99.9/B0
        (0.99, 0.0, "v100", "32x128"),
        (0.99, 0.0, "dstc-paper", "32x128"),
        (0.999, 0.0, "dstc-paper", "32x128"),
        (0.9, 0.0, "v100", "64x64"),
    ],
)
def test_wide_tile_takes_four_tiles_of_one_operand_where_the_other_is_very_sparse(sa, sb, machine, tile):
    a, b = gemm_operands(512, 512, 512, sa, sb, 0)
    dev = otc_emu.Device.v100_slice(4, machine=machine, **kernels.WIDE_MACHINE)
    cost = kernels.wide_tile_cost(a.astype(np.float16), b.astype(np.float16), dev)
    assert kernels.wide_tile(a.astype(np.float16), b.astype(np.float16), dev) == tile
    if tile != "64x64":
        assert cost[tile] <= kernels.WIDE_TILE_MARGIN[tile] * cost["64x64"]
    else:
        assert all(cost[t] > kernels.WIDE_TILE_MARGIN[t] * cost["64x64"] for t in ("128x32", "32x128"))
    assert kernels.wide_tile(a.astype(np.float16), b.astype(np.float16), otc_emu.Device(timing=False)) == "64x64"


@pytest.mark.parametrize("sms, tile", [(4, "128x32"), (16, "128x32"), (17, "64x64"), (80, "64x64")])
def test_wide_tile_keeps_64x64_where_128x32_leaves_sub_cores_without_a_warp(sms, tile):
    # 512 x 512 x 256, A 0% / B 99%: 4 x 16 = 64 CTAs of 128x32, the estimate about 0.82x 64x64's
    # (at K = 128 its list build's share takes it to 0.85); 64 CTAs fill the 16 and 64 sub-cores of
    # 4 and 16 SMs, not the 68 of 17
    a, b = gemm_operands(512, 512, 256, 0.0, 0.99, 0)
    a16, b16 = a.astype(np.float16), b.astype(np.float16)
    dev = otc_emu.Device.v100_slice(sms, **kernels.WIDE_MACHINE)
    cost = kernels.wide_tile_cost(a16, b16, dev)
    assert cost["128x32"] <= kernels.WIDE_TILE_MARGIN["128x32"] * cost["64x64"]
    assert kernels.wide_tile(a16, b16, dev) == tile


def test_spgemm_wide_needs_the_wide_machine():
    a = np.eye(64, dtype=np.float16)
    with pytest.raises(otc_emu.LaunchError, match="tensor.accbufs_per_warp = 1"):
        kernels.gemm(a, a, mode="spgemm_wide", device=otc_emu.Device(**{"tensor.spwmma_sequencer": True}))
    with pytest.raises(otc_emu.LaunchError, match="tensor.spwmma_sequencer"):
        kernels.gemm(a, a, mode="spgemm_wide", device=otc_emu.Device(**{"tensor.accbufs_per_warp": 4}))
    untimed = kernels.gemm(a, a, mode="spgemm_wide", device=otc_emu.Device(timing=False))
    np.testing.assert_array_equal(untimed.c, np.eye(64, dtype=np.float32))
    # without a device the mode gets the keys it needs (timed, the default), and only it
    made = kernels.gemm(a, a, mode="spgemm_wide")
    np.testing.assert_array_equal(made.c, untimed.c)
    assert made.stats.counters["spwmma.issued"] > 0 and made.stats.counters["cycles"] > 0
    with mock.patch.object(kernels, "Device", wraps=otc_emu.Device) as device:
        kernels.gemm(a, a, mode="owmma")
        kernels.gemm(a, a, mode="spgemm_wide")
    assert [c.kwargs for c in device.call_args_list] == [{}, kernels.WIDE_MACHINE]


@pytest.mark.parametrize(
    "case",
    ["zero_rows", "zero_cols", "zero_tile"],
)
def test_spgemm_all_zero_rows_columns_and_tiles(case):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((64, 40)).astype(np.float16)
    b = rng.standard_normal((40, 64)).astype(np.float16)
    if case == "zero_rows":
        a[3:40] = 0
    elif case == "zero_cols":
        b[:, 10:50] = 0
    else:
        a[:32, :] = 0  # the whole first tile row of C is empty: every set skipped by the warp bitmap
    sp = kernels.gemm(a, b, mode="spgemm")
    np.testing.assert_array_equal(sp.c, kernels.gemm(a, b, mode="owmma").c)
    assert sp.stats.counters["ohmma.executed"] == expected_ohmmas(a, b)


def test_condense_slices_pushes_non_zeros_to_the_front():
    x = np.zeros((32, 2), np.float16)
    x[[3, 7, 30], 0] = [1, 2, 3]
    values, bitmaps = kernels.condense_slices(x, 0)
    assert values.shape == (1, 2, 32) and bitmaps.shape == (1, 2)
    np.testing.assert_array_equal(values[0, 0, :4], np.array([1, 2, 3, 0], np.float16))
    assert int(bitmaps[0, 0]) == (1 << 3) | (1 << 7) | (1 << 30) and int(bitmaps[0, 1]) == 0


def decode_spgemm_operand(warp, element, values, operand):
    """Dense matrix back from the spgemm kernel's format (the inverse of kernels.spgemm_operand)."""
    order = kernels.SPGEMM_A_ORDER if operand == "A" else kernels.SPGEMM_B_ORDER
    tiles, k = element.shape
    condensed = np.zeros_like(values)
    condensed[:, :, order] = values  # back to non-zeros first
    out = np.zeros((tiles, k, 32), np.float16)
    for t in range(tiles):
        for kk in range(k):
            bits = [i for i in range(32) if int(element[t, kk]) >> i & 1]
            assert bool(int(warp[t, kk // 32]) >> (kk % 32) & 1) == bool(bits)  # first level agrees
            out[t, kk, bits] = condensed[t, kk, : len(bits)]
            assert not condensed[t, kk, len(bits):].any()  # the padding is zero
    slices = out.transpose(0, 2, 1).reshape(tiles * 32, k)  # (rows of A | columns of B, k)
    return slices if operand == "A" else slices.T


@pytest.mark.parametrize("operand", ["A", "B"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.99, 1.0])
def test_spgemm_operand_round_trip_and_warp_bitmaps(operand, sparsity):
    rng = np.random.default_rng(7)
    shape = (64, 96) if operand == "A" else (96, 64)  # K = 96: three chunks of 32
    x = sparse.prune_random(rng.standard_normal(shape), sparsity, seed=8)
    if operand == "A":
        x[:, 40:72] = 0  # a whole chunk (and more) empty: its warp-bitmap word has no bits
    else:
        x[40:72, :] = 0
    warp, element, values = kernels.spgemm_operand(x, operand)
    assert warp.shape == (2, 3) and element.shape == (2, 96) and values.shape == (2, 96, 32)
    assert all(int(w) >> b & 1 == 0 for w in warp[:, 1] for b in range(8, 32))  # k = 40..63 empty
    np.testing.assert_array_equal(decode_spgemm_operand(warp, element, values, operand), x)


def test_owmma_operand_puts_each_lane_class_value_where_its_overlapping_pair_reads_it():
    # programs/owmma_gemm.sass: lane class q = 2h + p (h = g % 2, p = t / 2) loads 8 registers from
    # block q and a ninth from tail word q; register v + m + p holds A[8m + 4h + 2p + (0, 1)], the
    # register the class does not read is zero
    rng = np.random.default_rng(5)
    x = rng.standard_normal((128, 12)).astype(np.float16)
    a = kernels._owmma_operand(x, "A")
    assert a.shape == (2, 12, 72) and a.dtype == np.float16
    for t, k, h, p in itertools.product(range(2), range(12), range(2), range(2)):
        q = 2 * h + p
        regs = np.concatenate([a[t, k, 16 * q: 16 * q + 16], a[t, k, 64 + 2 * q: 64 + 2 * q + 2]]).reshape(9, 2)
        for m in range(8):
            np.testing.assert_array_equal(regs[m + p], x[64 * t + 8 * m + 4 * h + 2 * p + np.arange(2), k])
        np.testing.assert_array_equal(regs[8 if p == 0 else 0], [0, 0])
    b = kernels._owmma_operand(x.T.copy(), "B")  # two 32-column slices side by side per k
    np.testing.assert_array_equal(b.reshape(2, 12, 2, 32), kernels.spgemm_operand(x.T.copy(), "B", dense=True, k_multiple=4)[2].reshape(2, 2, 12, 32).transpose(0, 2, 1, 3))


def test_spgemm_operand_orders_are_permutations_and_checks_shapes():
    assert sorted(kernels.SPGEMM_A_ORDER) == list(range(32)) and sorted(kernels.SPGEMM_B_ORDER) == list(range(32))
    with pytest.raises(ValueError, match="operand must be 'A' or 'B'"):
        kernels.spgemm_operand(np.zeros((32, 32), np.float16), "C")
    with pytest.raises(ValueError, match="padded to 32 along M"):
        kernels.spgemm_operand(np.zeros((33, 32), np.float16), "A")


@pytest.mark.parametrize("empty", ["a", "b", "both"])
def test_spgemm_reads_only_the_warp_bitmaps_of_an_empty_operand(empty):
    # 64x64 C = 4 warps, K = 96 = 3 chunks: each warp reads one A and one B warp-bitmap word per
    # chunk (lane-parallel) and, every chunk being empty on one side, nothing else
    rng = np.random.default_rng(9)
    a = rng.standard_normal((64, 96)).astype(np.float16) * (empty == "b")
    b = rng.standard_normal((96, 64)).astype(np.float16) * (empty == "a")
    res = kernels.gemm(a, b, mode="spgemm")
    np.testing.assert_array_equal(res.c, np.zeros((64, 64), np.float32))
    assert res.stats.counters["gmem.read_bytes"] == 4 * 2 * 3 * 4
    assert res.stats.counters["ohmma.executed"] == 0


@pytest.mark.parametrize("sa, sb", [(0.999, 0.99), (0.99, 0.999), (1.0, 0.0)])
def test_spgemm_model_cycles_drop_when_slices_are_empty(sa, sb):
    # with the sparsities where most 32-element slices are empty, the warp bitmaps skip most of
    # the work: the model must show it (it runs the program; nothing here is a formula)
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((64, 256)), rng.standard_normal((256, 64))
    dense = kernels.gemm(a.astype(np.float16), b.astype(np.float16), mode="spgemm").stats.counters["cycles"]
    sparse_ = kernels.gemm(sparse.prune_random(a, sa, seed=1), sparse.prune_random(b, sb, seed=2), mode="spgemm")
    assert sparse_.stats.counters["cycles"] * 2 < dense


@pytest.mark.parametrize("mode", ["spgemm", "spgemm_wide"])
@pytest.mark.parametrize("k, sa, sb", [(1100, 0.0, 0.0), (1100, 0.5, 0.9), (2080, 0.99, 0.5)])
def test_spgemm_long_k_runs_several_lists_and_super_chunks(k, sa, sb, mode):
    # K > 1024: more than one super-chunk of warp bitmaps (32 chunks), and dense chunks fill the
    # 256-record list several times, so the kernel runs a list and goes on building the next
    rng = np.random.default_rng(k)
    a = sparse.prune_random(rng.standard_normal((40, k)), sa, seed=5)
    b = sparse.prune_random(rng.standard_normal((k, 33)), sb, seed=6)
    dev = otc_emu.Device(timing=False)
    sp = kernels.gemm(a, b, mode=mode, device=dev)
    np.testing.assert_array_equal(sp.c, kernels.gemm(a, b, mode="owmma", device=dev).c)
    if mode == "spgemm":  # (spgemm_wide's OHMMAs are counted by the cycle model: above)
        assert sp.stats.counters["ohmma.executed"] == expected_ohmmas(a, b)


@pytest.mark.parametrize("program", ["hmma_gemm", "owmma_gemm", "spgemm", "spgemm_seq", "spgemm_wide", "im2col", "conv_sparse_implicit",
                                     "conv_sparse_wide"])
def test_gemm_programs_are_their_generators_output(program, tmp_path):
    # the GEMM programs and im2col.sass are generated (programs/generators/); the committed text must not drift
    generator = kernels.PROGRAMS / "generators" / f"{program}.py"
    out = tmp_path / f"{program}.sass"
    subprocess.run([sys.executable, str(generator), str(out)], check=True)
    assert out.read_text() == Path(kernels.PROGRAMS / f"{program}.sass").read_text()


@pytest.mark.parametrize("units", [1, 2])
def test_conv_sparse_wide_variants_are_their_generators_output(units, tmp_path):
    out = tmp_path / "conv.sass"
    subprocess.run([sys.executable, str(kernels.PROGRAMS / "generators" / "conv_sparse_wide.py"), "--units", str(units), str(out)],
                   check=True, cwd=kernels.PROGRAMS / "generators")
    assert out.read_text() == (kernels.PROGRAMS / f"conv_sparse_wide_u{units}.sass").read_text()


@pytest.mark.parametrize("tile, depth", [(tile, depth) for tile, depths in kernels.WIDE_TILES.items() for depth in depths
                                         if (tile, depth) != ("64x64", 3)]  # (spgemm_wide.sass: the test above)
                         + [("narrow", depth) for depth in kernels.NARROW_DEPTHS])
def test_spgemm_wide_variants_are_their_generators_output(tile, depth, tmp_path):
    out = tmp_path / "wide.sass"
    generator = kernels.PROGRAMS / "generators" / "spgemm_wide.py"
    flag = {"64x64": [], "128x32": ["--tall"], "32x128": ["--broad"], "narrow": ["--narrow"]}[tile]
    subprocess.run([sys.executable, str(generator), *flag, "--depth", str(depth), str(out)], check=True)
    programs = kernels.NARROW_DEPTHS if tile == "narrow" else kernels.WIDE_TILES[tile]
    assert out.read_text() == Path(kernels.PROGRAMS / programs[depth]).read_text()


@pytest.mark.parametrize("mode", ["owmma", "hmma", "spgemm", "spgemm_a", "spgemm_seq", "spgemm_wide", "csr", "vstc", "sp24"])
def test_gemm_leaves_its_operands_unchanged(mode):
    # 128^3 needs no padding, so the kernels' operand builders get the caller's fp16 arrays
    # themselves (no copy): they must only read them
    rng = np.random.default_rng(11)
    a = sparse.prune_random(rng.standard_normal((128, 128)), 0.5, seed=1).astype(np.float16)
    b = sparse.prune_random(rng.standard_normal((128, 128)), 0.5, seed=2).astype(np.float16)
    if mode == "vstc":
        b = sparse.prune_vector_wise(b, 0.75).astype(np.float16)
    if mode == "sp24":
        a = sparse.prune_2_4(a).astype(np.float16)
    a_before, b_before = a.copy(), b.copy()
    dev = otc_emu.Device(timing=False, **(kernels.WIDE_MACHINE if mode == "spgemm_wide" else {}),
                         **({"tensor.spwmma_sequencer": True} if mode == "spgemm_seq" else {}))
    res = kernels.gemm(a, b, mode=mode, device=dev)
    assert np.array_equal(a, a_before) and np.array_equal(b, b_before)
    assert np.all(np.abs(res.c - a.astype(np.float64) @ b.astype(np.float64)) <= kernels.error_bound(a, b))
