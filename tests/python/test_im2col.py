"""The explicit im2col kernels (otc_emu.im2col, programs/im2col.sass from nvcc) against the host
reference im2col, and the cycle model's view of them."""
import numpy as np
import pytest

import otc_emu
from otc_emu import im2col, sparse

# (channels, height, width, r, s, stride, padding, sparsity): odd sizes, windows crossing the
# 32-output boundary, strides 1-3, padding 0-2, empty and full maps.
CASES = [
    (2, 5, 6, 3, 3, 1, 1, 0.0),
    (3, 7, 7, 3, 3, 1, 1, 0.5),
    (2, 9, 40, 3, 3, 1, 1, 0.75),   # Q = 40: a second, partial window of 8 outputs
    (1, 6, 70, 3, 3, 1, 2, 0.3),    # Q = 72: three windows
    (2, 11, 37, 3, 3, 2, 1, 0.5),   # stride 2: two bitmap phases
    (1, 10, 67, 5, 5, 3, 2, 0.25),  # stride 3, 5x5
    (3, 4, 4, 1, 1, 1, 0, 0.5),     # 1x1
    (2, 6, 6, 3, 2, 1, 0, 0.99),
    (2, 5, 5, 3, 3, 1, 1, 1.0),     # all zeros: no values at all
]


@pytest.fixture(scope="module")
def dev():
    return otc_emu.Device(num_sms=2)


@pytest.mark.parametrize("design", list(im2col.DESIGNS))
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}x{c[1]}x{c[2]}-{c[3]}x{c[4]}s{c[5]}p{c[6]}-{c[7]}" for c in CASES])
def test_kernels_equal_host_im2col(dev, design, case):
    c, h, w, r, s, stride, padding, sparsity = case
    rng = np.random.default_rng(hash(case) % 2**32)
    x = sparse.prune_random(rng.standard_normal((c, h * w)) + 0.1, sparsity, seed=3).reshape(c, h, w)
    res = im2col.lower(x, r, s, stride, padding, design=design, device=dev)
    want = sparse.im2col_dense(x, r, s, stride, padding)
    assert res.cols.dtype == np.float16 and res.cols.shape == want.shape
    np.testing.assert_array_equal(res.cols.view(np.uint16), want.view(np.uint16))  # bit-equal, signed zeros too
    assert res.stats.cycles > 0


def test_csr_reads_grow_with_nonzeros_bitmap_reads_do_not(dev):
    """The CSR search loads more per element the more non-zeros a row holds; the bitmap lowering
    issues the same loads whatever the data (three per 32 outputs, plus the value), and reads a
    value only where one is."""
    rng = np.random.default_rng(0)
    loads, read = {}, {}
    for sparsity in (0.0, 0.9):
        x = sparse.prune_random(rng.standard_normal((4, 16 * 32)) + 0.1, sparsity, seed=1).reshape(4, 16, 32)
        for design in ("csr", "bitmap", "dense"):
            st = im2col.lower(x, 3, 3, 1, 1, design=design, device=dev).stats
            loads[design, sparsity] = sum(v["thread"] for k, v in st.by_opcode.items() if k.startswith("LDG"))
            read[design, sparsity] = st.counters["gmem.read_bytes"]
    assert loads["dense", 0.0] == loads["dense", 0.9] and read["dense", 0.0] == read["dense", 0.9]
    assert loads["csr", 0.0] > 2 * loads["dense", 0.0]
    assert loads["csr", 0.9] < loads["csr", 0.0]
    assert loads["bitmap", 0.9] == loads["bitmap", 0.0] == 4 * loads["dense", 0.0]
    assert read["bitmap", 0.9] < read["bitmap", 0.0]


@pytest.mark.parametrize("bad, match", [
    (dict(design="coo"), "unknown im2col design"),
    (dict(x=np.zeros((4, 4))), r"\(C, H, W\)"),
    (dict(r=7), "does not fit"),
    (dict(stride=0), "stride must be >= 1"),
    (dict(padding=-1), "padding must be >= 0"),
    (dict(x=np.ones((0, 4, 4))), "no channels"),
])
def test_bad_input(dev, bad, match):
    kw = dict(x=np.ones((1, 4, 4)), r=3, s=3, stride=1, padding=0, design="dense")
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        im2col.lower(kw.pop("x"), **kw, device=dev)


@pytest.mark.parametrize("bad", [dict(r=3.0), dict(stride=1.5), dict(padding=True)])
def test_sizes_must_be_integers(dev, bad):
    kw = dict(x=np.ones((1, 4, 4)), r=3, s=3, stride=1, padding=0)
    kw.update(bad)
    with pytest.raises(TypeError, match="must be an integer"):
        im2col.lower(kw.pop("x"), **kw, device=dev)
