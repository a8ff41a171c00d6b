"""otc_emu.kernels.conv2d (dense and dual-side sparse implicit im2col) against NumPy, an exact
model of each kernel's accumulation order, the dense OTC GEMM on the lowered operands, and the
executed-OHMMA formula."""
import numpy as np
import pytest

import otc_emu
from otc_emu import conv, kernels, sparse
from test_kernels import ieee_model  # the IEEE-order GEMM model, shared with the GEMM tests

# (N, C, H, W, K, R, S, stride, padding): ResNet-like 3x3 and 1x1, and awkward shapes: C = 1,
# H or W smaller than R (only padding makes them fit), odd sizes, stride 2 with padding, Q > 32
# (two pixel tiles per output row), K not a multiple of 16 / 32, a 1x1x1 map, padding wider than
# the kernel (output rows whose windows are all padding), stride 3 with a 2x5 kernel. The sparse
# kernel's CTA has 1, 2 or 4 warps (K <= 32, <= 64, more: the last shape has 5 channel tiles, so
# its second CTA has 3 idle warps), C*R*S runs in chunks of 32 (the last shape: 3 chunks); the
# dense kernel's 64x64 blocks are partial in every shape.
SHAPES = [
    (1, 4, 8, 8, 16, 3, 3, 1, 1),
    (2, 3, 9, 7, 33, 3, 3, 2, 1),
    (1, 1, 5, 5, 3, 3, 3, 1, 0),
    (1, 2, 2, 2, 5, 3, 3, 1, 1),
    (2, 5, 7, 1, 7, 1, 1, 1, 0),
    (1, 3, 3, 37, 17, 3, 3, 1, 1),
    (1, 6, 11, 13, 40, 1, 1, 2, 0),
    (1, 2, 6, 70, 9, 3, 5, 2, 2),
    (1, 2, 7, 40, 5, 2, 5, 3, 2),
    (1, 1, 1, 1, 1, 1, 1, 1, 0),
    (1, 2, 3, 4, 6, 3, 3, 1, 3),
    (1, 8, 6, 5, 130, 3, 3, 1, 1),
]
SPARSITY = [(0.0, 0.0), (0.5, 0.5), (0.9, 0.5), (0.5, 0.9), (0.99, 0.0), (0.0, 0.99), (1.0, 0.5), (0.5, 1.0)]
FAST = otc_emu.Device(timing=False)
IEEE = otc_emu.Device(tensor_arith="ieee", timing=False)


def operands(shape, sx, sw, seed):
    n, c, h, w, k, r, s, _, _ = shape
    rng = np.random.default_rng(seed)
    # non-negative like a ReLU output, with exactly round(sx * size) zeros
    x = sparse.prune_random(np.abs(rng.standard_normal((n * c, h * w))), sx, seed=seed).reshape(n, c, h, w)
    wt = sparse.prune_random(rng.standard_normal((k, c * r * s)), sw, seed=seed + 1).reshape(k, c, r, s)
    return x, wt


def direct_conv(x, w, stride, padding):
    """float64 convolution by sliding windows over the zero-padded map (no im2col)."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    r, s = w.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(xp, (r, s), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("ncpqrs,kcrs->nkpq", win, w.astype(np.float64))


def direct_bound(x, w, stride, padding):
    crs = w.shape[1] * w.shape[2] * w.shape[3]
    return crs * 2.0 ** -22 * direct_conv(np.abs(x), np.abs(w), stride, padding) + 1e-30


def to_rows(y):
    """(N, K, P, Q) -> (N*P*Q, K), the GEMM's row order."""
    return y.transpose(0, 2, 3, 1).reshape(-1, y.shape[1])


def expected_ohmmas(a, b, n, p, q):
    """Sum over pixel tiles (32 consecutive q of one output row) x 32-channel tiles and k of
    ceil(nnz(A column slice) / 8) * ceil(nnz(B row slice) / 16), from the lowered operands."""
    qt = -(-q // 32)
    ap = np.zeros((n * p, qt * 32, a.shape[1]))
    ap[:, :q] = a.reshape(n * p, q, -1)
    nza = (ap != 0).reshape(n * p * qt, 32, -1).sum(axis=1)  # (pixel tiles, k)
    kp = -(-b.shape[1] // 32) * 32
    bp = np.zeros((b.shape[0], kp)); bp[:, : b.shape[1]] = b
    nzb = (bp != 0).reshape(b.shape[0], kp // 32, 32).sum(axis=2)  # (k, channel tiles)
    return int((np.ceil(nza / 8) @ np.ceil(nzb / 16)).sum())


@pytest.mark.parametrize("sx, sw", SPARSITY)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv_matches_numpy_the_exact_models_and_the_ohmma_formula(shape, sx, sw):
    n, c, h, w, k, r, s, stride, padding = shape
    x, wt = operands(shape, sx, sw, seed=sum(shape) + int(100 * sx) + int(10 * sw))
    exact, bound = direct_conv(x, wt, stride, padding), direct_bound(x, wt, stride, padding)
    a, b = conv.lowered_operands(x, wt, stride, padding)
    p, q = exact.shape[2:]
    dense = kernels.conv2d(x, wt, stride, padding, mode="dense_implicit", device=FAST)
    sp = kernels.conv2d(x, wt, stride, padding, mode="sparse_implicit", device=FAST)
    for res in (dense, sp):
        assert res.y.shape == (n, k, p, q) and res.y.dtype == np.float32
        assert np.all(np.abs(res.y - exact) <= bound), res.mode
    # V100 arithmetic, bit for bit: the implicit kernels equal the GEMM kernels on the explicit
    # lowered operands (HMMA.884: the same k-blocks of 4; OHMMA: one product per step, k in order,
    # and zero products leave the V100 adder's sum unchanged, so skipping them changes no bit)
    np.testing.assert_array_equal(to_rows(dense.y), kernels.gemm(a, b, mode="hmma", device=FAST).c)
    np.testing.assert_array_equal(to_rows(sp.y), kernels.gemm(a, b, mode="owmma", device=FAST).c)
    # IEEE tensor arithmetic, bit for bit against a Python model of each kernel's order
    np.testing.assert_array_equal(to_rows(kernels.conv2d(x, wt, stride, padding, "dense_implicit", IEEE).y), ieee_model(a, b, 4))
    np.testing.assert_array_equal(to_rows(kernels.conv2d(x, wt, stride, padding, "sparse_implicit", IEEE).y), ieee_model(a, b, 1))
    assert sp.stats.counters["ohmma.executed"] == expected_ohmmas(a, b, n, p, q)
    # one jump per k into exactly its OHMMAs: none is issued predicated off
    assert sp.stats.counters.get("ohmma.skipped", 0) == 0
    # four channel tiles per warp, one sequenced SpWMMA per tile and listed k: the same OHMMAs in
    # the same order, so the same bits (V100 and IEEE arithmetic)
    wide = kernels.conv2d(x, wt, stride, padding, mode="sparse_implicit_wide", device=FAST)
    np.testing.assert_array_equal(wide.y, sp.y)
    np.testing.assert_array_equal(to_rows(kernels.conv2d(x, wt, stride, padding, "sparse_implicit_wide", IEEE).y), ieee_model(a, b, 1))
    # weights-only sparsity: every lowered element counts as present, the bits stay the same
    single = kernels.conv2d(x, wt, stride, padding, mode="single_sparse_implicit", device=FAST)
    np.testing.assert_array_equal(single.y, sp.y)
    assert single.stats.counters["ohmma.executed"] == expected_ohmmas(np.ones(a.shape), b, n, p, q)
    assert single.stats.counters.get("ohmma.skipped", 0) == 0
    assert dense.stats.counters.get("ohmma.executed", 0) == 0
    # dense: 64x64 CTA blocks of 4x4 16x16 tiles, k in slices of 32 (8 sets of 4 STEPs), zeros included
    pixel_tiles, channel_tiles, k_blocks = 4 * -(-n * p * q // 64), 4 * -(-k // 64), 8 * -(-c * r * s // 32)
    assert dense.stats.counters["hmma.executed"] == pixel_tiles * channel_tiles * k_blocks * 4


WIDE = otc_emu.Device.v100_slice(2, **kernels.WIDE_MACHINE)


# shapes with 1 to 7 channel tiles (1 or 2 channel groups of 1, 2 or 4 tiles: CTAs of 1 and 2 warps),
# 1 to 5 chunks of 32 k (records across chunk boundaries: the next chunk's values load during a
# chunk's records), output rows of 1..37 pixels; sparsities from none to empty sides; every
# program (1, 2 and 4 tiles per warp)
@pytest.mark.parametrize("units", [1, 2, 4])
@pytest.mark.parametrize("sx, sw", [(0.0, 0.0), (0.5, 0.5), (0.8, 0.7), (0.99, 0.0), (0.0, 0.99), (1.0, 0.5)])
@pytest.mark.parametrize("shape", [(1, 8, 10, 10, 128, 3, 3, 1, 1), (1, 16, 12, 20, 200, 3, 3, 2, 1), (2, 3, 5, 37, 130, 1, 1, 1, 0),
                                   (1, 4, 6, 6, 40, 3, 3, 1, 1)], ids=lambda s: "x".join(map(str, s)))
def test_wide_kernel_timed_runs_the_formula_s_ohmmas_and_the_same_bits(shape, sx, sw, units):
    n, c, h, w, k, r, s, stride, padding = shape
    x, wt = operands(shape, sx, sw, seed=sum(shape) + int(100 * sx))
    a, b = conv.lowered_operands(x, wt, stride, padding)
    wide = kernels.conv2d(x, wt, stride, padding, mode="sparse_implicit_wide", device=WIDE, units=units)
    p, q = wide.y.shape[2:]
    np.testing.assert_array_equal(to_rows(wide.y), kernels.gemm(a, b, mode="owmma", device=FAST).c)
    assert wide.stats.counters.get("spwmma.ohmmas", 0) == expected_ohmmas(a, b, n, p, q)
    assert wide.stats.counters.get("ohmma.issued", 0) == 0  # every OHMMA comes from a sequenced SpWMMA
    groups = -(-k // (32 * units))
    assert wide.units == units and wide.warps == conv.sparse_warps(WIDE, groups, n * p * -(-q // 32))


# (SMs, channel tiles, pixel tiles, tiles per warp the rule picks): at batch 1 on 80 SMs the fewer
# warps of 4 tiles leave sub-cores empty (VGG-16 conv4_2: 2 warps on the busiest SM with 4, 3 with
# 2; ResNet-18 layer4 7 x 7: 1 warp per SM with 4 or 2, 2 with 1); with many CTAs per SM the shared
# records pay (VGG-16 conv2_2: 448 pixel tiles). Mask R-CNN res4 (8 tiles, 100 pixel tiles): 4 tiles
# would be the cheapest by the counts, but two warps per CTA with one warp per sub-core are
# refused (their two groups' weights miss in the L1); on 8 SMs (many warps per SM) 4 tiles again
@pytest.mark.parametrize("sms, channel_tiles, pixel_tiles, units", [
    (80, 16, 28, 2), (80, 16, 7, 1), (80, 8, 100, 2), (80, 4, 448, 4), (80, 2, 28, 1), (8, 16, 28, 4)])
def test_wide_units_follow_the_busiest_sub_core(sms, channel_tiles, pixel_tiles, units):
    dev = otc_emu.Device.v100_slice(sms, machine="dstc-paper", **kernels.WIDE_MACHINE)
    assert conv.wide_units(dev, channel_tiles, pixel_tiles) == units
    assert conv.wide_units(FAST, channel_tiles, pixel_tiles) == 4  # untimed: 4


def test_wide_units_are_checked():
    x, wt = operands((1, 4, 8, 8, 16, 3, 3, 1, 1), 0.5, 0.5, seed=3)
    for mode, units in (("sparse_implicit_wide", 3), ("sparse_implicit", 2)):
        with pytest.raises(ValueError, match="units"):
            kernels.conv2d(x, wt, 1, 1, mode=mode, device=FAST, units=units)


def test_wide_kernel_needs_the_wide_machine():
    x, wt = operands((1, 4, 8, 8, 16, 3, 3, 1, 1), 0.5, 0.5, seed=3)
    for units, key in ((4, "tensor.accbufs_per_warp"), (1, "tensor.spwmma_sequencer")):  # U = 1: one buffer, the sequencer
        with pytest.raises(otc_emu.LaunchError, match=key.replace(".", r"\.")):
            kernels.conv2d(x, wt, 1, 1, mode="sparse_implicit_wide", device=otc_emu.Device.v100_slice(1), units=units)
    # without a device the mode gets the keys it needs: the same bits as sparse_implicit, timed
    made = kernels.conv2d(x, wt, 1, 1, mode="sparse_implicit_wide", units=4)
    np.testing.assert_array_equal(made.y, kernels.conv2d(x, wt, 1, 1, mode="sparse_implicit", device=FAST).y)
    assert made.stats.counters["cycles"] > 0


@pytest.mark.parametrize("sw", [0.0, 0.5, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("sx", [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0])
def test_sparsity_grid_on_a_small_layer(sx, sw):
    shape = (2, 3, 6, 9, 20, 3, 3, 1, 1)
    x, wt = operands(shape, sx, sw, seed=int(1000 * sx) + int(100 * sw))
    a, b = conv.lowered_operands(x, wt, 1, 1)
    sp = kernels.conv2d(x, wt, 1, 1, "sparse_implicit", FAST)
    dense = kernels.conv2d(x, wt, 1, 1, "dense_implicit", FAST)
    exact, bound = direct_conv(x, wt, 1, 1), direct_bound(x, wt, 1, 1)
    assert np.all(np.abs(sp.y - exact) <= bound) and np.all(np.abs(dense.y - exact) <= bound)
    np.testing.assert_array_equal(to_rows(sp.y), kernels.gemm(a, b, mode="owmma", device=FAST).c)
    assert sp.stats.counters["ohmma.executed"] == expected_ohmmas(a, b, 2, 6, 9)
    assert sp.stats.counters.get("ohmma.skipped", 0) == 0


@pytest.mark.parametrize("impl", [sparse.im2col_csr, sparse.im2col_bitmap])
@pytest.mark.parametrize("w, r, s, stride, padding", [(70, 3, 3, 1, 1), (67, 3, 3, 2, 1), (100, 1, 5, 3, 2), (33, 3, 1, 1, 0)])
def test_im2col_references_on_wide_maps(impl, w, r, s, stride, padding):
    """Rows longer than 32 columns: windows that straddle bitmap words and several pixel tiles."""
    rng = np.random.default_rng(w)
    x = sparse.prune_relu(rng.standard_normal((2, 4 * w)), 0.5).reshape(2, 4, w)
    np.testing.assert_array_equal(impl(x, r, s, stride, padding), sparse.im2col_dense(x, r, s, stride, padding))


def test_dense_and_sparse_agree_bit_for_bit_when_each_k_block_has_one_product():
    """HMMA.884 adds four products per step and OHMMA one, so the modes round differently in
    general; with one non-zero weight per block of four k (and exact sums), both orders give
    the same bits, which pins down that they see the same lowered operands."""
    rng = np.random.default_rng(7)
    x = rng.integers(-8, 8, (2, 4, 6, 6)).astype(np.float16)
    w = np.zeros((8, 4, 2, 2), np.float16)
    w[:, :, 0, 0] = rng.integers(-4, 4, (8, 4))
    d = kernels.conv2d(x, w, 1, 1, "dense_implicit", FAST)
    s = kernels.conv2d(x, w, 1, 1, "sparse_implicit", FAST)
    np.testing.assert_array_equal(d.y, s.y)
    np.testing.assert_array_equal(d.y, direct_conv(x, w, 1, 1).astype(np.float32))


def test_timed_launch_sparsity_saves_ohmmas_and_cycles():
    shape = (1, 16, 8, 8, 64, 3, 3, 1, 1)
    runs = {}
    for sx, sw in [(0.0, 0.0), (0.9, 0.9)]:
        x, wt = operands(shape, sx, sw, seed=3)
        runs[sx] = kernels.conv2d(x, wt, 1, 1, "sparse_implicit").stats.counters
    dense = kernels.conv2d(*operands(shape, 0.0, 0.0, seed=3), 1, 1, "dense_implicit").stats.counters
    assert dense["cycles"] > 0
    assert runs[0.9]["ohmma.executed"] < runs[0.0]["ohmma.executed"] // 2
    assert runs[0.9]["cycles"] < runs[0.0]["cycles"]
    assert set(kernels.CONV_MODES) == {"dense_implicit", "sparse_implicit", "single_sparse_implicit", "sparse_implicit_wide"}


@pytest.mark.parametrize("sms, channel_tiles, pixel_tiles, warps", [
    (80, 1, 28, 1), (80, 2, 28, 2),           # one warp per channel tile up to 2
    (80, 16, 28, 2),    # VGG-16 conv4_2 at batch 1: 112 / 224 / 448 CTAs -> busiest SM 8 / 6 / 6 tiles: 2 (tie)
    (80, 16, 14, 1),    # conv5_x: 56 / 112 / 224 CTAs -> 4 / 4 / 3
    (80, 16, 7, 2),     # ResNet-18 layer4: 28 / 56 / 112 -> 4 / 2 / 2
    (8, 16, 28, 4),     # the same layer on 8 SMs: 14 CTAs per SM with 4 warps, more than 3: 4
    (80, 4, 448, 4),    # VGG-16 conv2_1: 448 CTAs, 6 per SM (23 tiles with 1 warp against 24 would not pay)
    (80, 8, 100, 2),    # Mask R-CNN res4: 200 CTAs, 3 per SM: 12 / 10 / 10 -> 2
    (80, 3, 10, 1),     # 3 channel tiles: 10 / 20 / 30 CTAs -> 4 / 2 / 1 (a 4-warp CTA's idle warp counts)
    (4, 5, 6, 1),       # 12 / 18 / 30 CTAs on 4 SMs -> 3 x 4 = 12 / 5 x 2 = 10 / 8 x 1 = 8
    (4, 4, 3, 1),       # 3 / 6 / 12 CTAs on 4 SMs -> 4 / 4 / 3: 1
    (4, 4, 8, 4),       # 8 / 16 / 32 CTAs on 4 SMs -> 8 / 8 / 8: 4 (tie)
])
def test_sparse_warps_balances_the_busiest_sm_when_latency_bound(sms, channel_tiles, pixel_tiles, warps):
    dev = otc_emu.Device(**{"gpu.num_sms": sms})
    assert conv.sparse_warps(dev, channel_tiles, pixel_tiles) == warps
    assert conv.sparse_warps(FAST, channel_tiles, pixel_tiles) == (channel_tiles if channel_tiles <= 2 else 4)  # untimed: 4


@pytest.mark.parametrize("mode", ["sparse_implicit", "single_sparse_implicit"])
def test_fewer_warps_per_cta_change_no_bit_and_no_ohmma(mode):
    shape = (1, 8, 7, 7, 160, 3, 3, 1, 1)  # 5 channel tiles, 7 pixel tiles: on 80 SMs 1 warp per CTA
    x, wt = operands(shape, 0.6, 0.7, seed=5)
    timed = kernels.conv2d(x, wt, 1, 1, mode)
    untimed = kernels.conv2d(x, wt, 1, 1, mode, device=FAST)
    assert (timed.warps, untimed.warps) == (1, 4)
    assert timed.stats.counters["ctas"] == 7 * 5 and untimed.stats.counters["ctas"] == 7 * 2
    np.testing.assert_array_equal(timed.y, untimed.y)
    assert timed.stats.counters["ohmma.executed"] == untimed.stats.counters["ohmma.executed"]
    assert kernels.conv2d(x, wt, 1, 1, "dense_implicit", device=FAST).warps is None


@pytest.mark.parametrize("mark_all", [False, True])
@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1), (3, 2)])
def test_feature_map_encoding_round_trips(stride, padding, mark_all):
    rng = np.random.default_rng(stride * 10 + padding)
    x = sparse.prune_relu(rng.standard_normal((6, 45)), 0.6).reshape(2, 3, 5, 9)
    fm = conv.encode_feature_map(x, stride, padding, mark_all=mark_all)
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    hp = xp.shape[2]
    for row in range(fm.bits.shape[0]):
        y_, ph = row % hp, (row // hp) % stride
        nc = row // (hp * stride)
        line = xp.reshape(-1, hp, xp.shape[3])[nc, y_, ph::stride]
        bits = [(int(fm.bits[row, i // 32]) >> (i % 32)) & 1 for i in range(32 * fm.bits.shape[1])]
        present = np.ones(line.size, bool) if mark_all else line != 0
        assert bits[: line.size] == list(present.astype(int)) and not any(bits[line.size:])
        start = int(fm.word_offsets[row, 0])
        np.testing.assert_array_equal(fm.values[start:start + np.count_nonzero(present)], line[present])
    assert fm.values.size == (xp.size if mark_all else np.count_nonzero(x))


@pytest.mark.parametrize(
    "args, kwargs, exc, phrase",
    [
        ((np.zeros((1, 2, 4)), np.zeros((1, 2, 3, 3))), {}, ValueError, "x must be a 4-D NCHW array"),
        ((np.zeros((1, 2, 4, 4)), np.zeros((2, 3, 3))), {}, ValueError, "w must be a 4-D KCRS array"),
        ((np.zeros((1, 2, 4, 4), np.int32), np.zeros((1, 2, 3, 3))), {}, TypeError, "dtype int32"),
        ((np.zeros((1, 2, 4, 4)), np.zeros((1, 3, 3, 3))), {}, ValueError, "channels differ: x has C=2, w (KCRS) has C=3"),
        ((np.zeros((1, 2, 2, 4)), np.zeros((1, 2, 3, 3))), {}, ValueError, "does not fit"),
        ((np.zeros((0, 2, 4, 4)), np.zeros((1, 2, 3, 3))), {}, ValueError, "empty tensor"),
        ((np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 3, 3))), {"stride": 0}, ValueError, "stride must be >= 1"),
        ((np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 3, 3))), {"stride": 1.5}, TypeError, "stride must be an integer"),
        ((np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 3, 3))), {"padding": -1}, ValueError, "padding must be >= 0"),
        ((np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 3, 3))), {"padding": True}, TypeError, "padding must be an integer"),
        ((np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 3, 3))), {"device": "gpu"}, TypeError,
         "device must be an otc_emu.Device or None, got str"),
        ((np.zeros((1, 2, 4, 4)), np.zeros((1, 2, 3, 3))), {"mode": "winograd"}, ValueError,
         "unknown convolution mode 'winograd'; available: dense_implicit, sparse_implicit, single_sparse_implicit"),
    ],
)
def test_bad_input_gets_a_clear_error(args, kwargs, exc, phrase):
    kwargs = {"device": FAST, **kwargs}
    with pytest.raises(exc) as info:
        kernels.conv2d(*args, **kwargs)
    assert phrase in str(info.value)


def test_float32_input_that_is_not_fp16_warns():
    with pytest.warns(UserWarning, match="x .float32. was rounded to float16"):
        kernels.conv2d(np.full((1, 1, 3, 3), 0.1, np.float32), np.ones((1, 1, 1, 1), np.float16), device=FAST)
