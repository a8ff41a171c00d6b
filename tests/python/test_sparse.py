"""Host-side sparse formats, pruning and reference im2col (otc_emu.sparse)."""
import numpy as np
import pytest

from otc_emu import sparse

SPARSITIES = [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0]
SHAPES = [(1, 1), (33, 47), (64, 16), (5, 96), (100, 3)]


def matrix(shape, sparsity, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float16)
    x[x == 0] = 1  # make the pruning the only source of zeros
    return sparse.prune_random(x, sparsity, seed=seed)


@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("order", ["col", "row"])
def test_bitmap_round_trip(shape, sparsity, order):
    x = matrix(shape, sparsity)
    enc = sparse.encode_bitmap(x, order)
    assert enc.nnz == np.count_nonzero(x)
    np.testing.assert_array_equal(enc.to_dense(), x)
    # storage order: column-major values for A, row-major for B
    expect = x.T[x.T != 0] if order == "col" else x[x != 0]
    np.testing.assert_array_equal(enc.values, expect)


@pytest.mark.parametrize("order", ["col", "row"])
def test_bitmap_words_hold_one_bit_per_element(order):
    x = np.zeros((40, 35), np.float16)
    x[0, 0] = x[31, 1] = x[32, 2] = x[39, 34] = 1
    w = sparse.encode_bitmap(x, order).words()
    if order == "col":
        assert w.shape == (2, 35)
        assert w[0, 0] == 1 and w[0, 1] == 1 << 31 and w[1, 2] == 1 and w[1, 34] == 1 << 7
    else:
        assert w.shape == (40, 2)
        assert w[0, 0] == 1 and w[31, 0] == 2 and w[32, 0] == 4 and w[39, 1] == 1 << 2


@pytest.mark.parametrize("sparsity", SPARSITIES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("operand", ["A", "B"])
def test_two_level_round_trip_and_warp_bitmap(shape, sparsity, operand):
    x = matrix(shape, sparsity, seed=3)
    enc = sparse.encode_two_level(x, operand)
    np.testing.assert_array_equal(enc.to_dense(), x)
    tr, tc = enc.tile
    for ti in range(enc.warp_bitmap.shape[0]):
        for tj in range(enc.warp_bitmap.shape[1]):
            block = x[ti * tr:(ti + 1) * tr, tj * tc:(tj + 1) * tc]
            assert enc.warp_bitmap[ti, tj] == bool(np.any(block != 0))
            assert enc.tile_nnz[ti, tj] == np.count_nonzero(block)
            # element bitmap word k: popcount = non-zeros of column k (A) / row k (B)
            lines = block.T if operand == "A" else block
            for k in range(lines.shape[0]):
                assert bin(int(enc.element_bitmaps[ti, tj, k])).count("1") == np.count_nonzero(lines[k])


def test_two_level_condensed_values_are_column_major_per_tile_for_A():
    x = np.zeros((32, 16), np.float16)
    x[5, 0], x[2, 0], x[0, 1] = 1, 2, 3
    enc = sparse.encode_two_level(x, "A")
    np.testing.assert_array_equal(enc.values, np.array([2, 1, 3], np.float16))
    assert enc.element_bitmaps[0, 0, 0] == (1 << 2) | (1 << 5)


@pytest.mark.parametrize("sparsity", SPARSITIES)
def test_csr_round_trip(sparsity):
    x = matrix((33, 47), sparsity, seed=5)
    enc = sparse.encode_csr(x)
    np.testing.assert_array_equal(enc.to_dense(), x)
    assert enc.nnz == np.count_nonzero(x)


@pytest.mark.parametrize("sparsity", SPARSITIES)
def test_prune_random_hits_the_target_exactly_and_is_reproducible(sparsity):
    x = np.ones((64, 50), np.float16)
    y = sparse.prune_random(x, sparsity, seed=7)
    assert np.count_nonzero(y == 0) == round(sparsity * x.size)
    np.testing.assert_array_equal(y, sparse.prune_random(x, sparsity, seed=7))
    if 0 < sparsity < 1:
        assert not np.array_equal(y, sparse.prune_random(x, sparsity, seed=8))


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_relu_activations_have_the_requested_zero_fraction(sparsity):
    y = sparse.relu_activations((128, 64), sparsity, seed=1)
    assert (y >= 0).all()
    assert abs(np.mean(y == 0) - sparsity) < 0.01


@pytest.mark.parametrize(
    "x, sparsity, zeros",
    [
        ([[0.5, -0.2]], 0.25, 0),  # rounds to no zero: every value must stay finite and positive
        ([[0.5, -0.2]], 0.0, 0),
        ([[0.5, -0.2, 3.0, -7.0]], 0.5, 2),
        ([[1.0, 1.0, 1.0]], 0.0, 0),
        ([[0.5, -0.2]], 1.0, 2),
    ],
)
def test_prune_relu_zeros_the_smallest_fraction_and_keeps_the_rest_finite_positive(x, sparsity, zeros):
    y = sparse.prune_relu(np.array(x), sparsity)
    assert np.isfinite(y).all() and (y >= 0).all()
    assert np.count_nonzero(y == 0) == zeros
    order = np.argsort(np.array(x).ravel(), kind="stable")
    assert (y.ravel()[order[:zeros]] == 0).all()


def test_prune_2_4_keeps_the_two_largest_of_every_four():
    x = np.array([[1, -5, 3, 2, 0.5, 0.25, -8, 7]], np.float16)
    np.testing.assert_array_equal(sparse.prune_2_4(x), np.array([[0, -5, 3, 0, 0, 0, -8, 7]], np.float16))
    y = sparse.prune_2_4(np.random.default_rng(0).standard_normal((16, 32)))
    assert (np.count_nonzero(y.reshape(16, 8, 4), axis=2) <= 2).all()
    z = sparse.prune_2_4(np.random.default_rng(0).standard_normal((32, 16)), axis=0)
    assert (np.count_nonzero(z.T.reshape(16, 8, 4), axis=2) <= 2).all()


@pytest.mark.parametrize(
    "call, exc, phrase",
    [
        (lambda: sparse.prune_random(np.ones((4, 4)), 1.5), ValueError, "sparsity must be in [0, 1]"),
        (lambda: sparse.prune_random(np.ones((4, 4)), -0.1), ValueError, "sparsity must be in [0, 1]"),
        (lambda: sparse.prune_random(np.ones((4, 4)), float("nan")), ValueError, "sparsity"),
        (lambda: sparse.encode_bitmap(np.ones(4)), ValueError, "2-D"),
        (lambda: sparse.encode_bitmap(np.ones((2, 2)), "diag"), ValueError, "order"),
        (lambda: sparse.encode_csr(np.array([["a"]])), TypeError, "real numbers"),
        (lambda: sparse.encode_bitmap(np.full((2, 2), 1e6)), ValueError, "overflow float16"),
        (lambda: sparse.prune_2_4(np.ones((3, 6))), ValueError, "multiple of 4"),
        (lambda: sparse.encode_two_level(np.ones((3, 3)), "C"), ValueError, "operand"),
        (lambda: sparse.im2col_dense(np.ones((2, 3)), 3, 3), ValueError, "(C, H, W)"),
        (lambda: sparse.im2col_dense(np.ones((1, 2, 2)), 3, 3), ValueError, "does not fit"),
    ],
)
def test_bad_input_gets_a_clear_error(call, exc, phrase):
    with pytest.raises(exc, match=None) as info:
        call()
    assert phrase in str(info.value)


def naive_im2col(x, r, s, stride, padding):
    c, h, w = x.shape
    xp = np.pad(x.astype(np.float32), ((0, 0), (padding, padding), (padding, padding)))
    p = (h + 2 * padding - r) // stride + 1
    q = (w + 2 * padding - s) // stride + 1
    out = np.zeros((c * r * s, p * q), np.float32)
    for ch in range(c):
        for i in range(r):
            for j in range(s):
                for pi in range(p):
                    for qi in range(q):
                        out[(ch * r + i) * s + j, pi * q + qi] = xp[ch, pi * stride + i, qi * stride + j]
    return out.astype(np.float16)


@pytest.mark.parametrize("impl", [sparse.im2col_dense, sparse.im2col_csr, sparse.im2col_bitmap])
@pytest.mark.parametrize("stride, padding", [(1, 0), (1, 1), (2, 1), (3, 0)])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.99, 1.0])
def test_im2col_implementations_agree_with_a_naive_loop(impl, stride, padding, sparsity):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 9, 11)).astype(np.float16)
    x = sparse.prune_random(x.reshape(3, -1), sparsity, seed=4).reshape(3, 9, 11)
    np.testing.assert_array_equal(impl(x, 3, 3, stride, padding), naive_im2col(x, 3, 3, stride, padding))
