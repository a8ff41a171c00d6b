"""Host-side sparse formats, pruning helpers and reference im2col (NumPy only).

Formats follow "Dual-side Sparse Tensor Core" (Wang et al., ISCA 2021), Section III:

- :class:`BitmapMatrix` -- one bit per element plus the non-zeros packed in storage order:
  column-major for the A operand, row-major for B, which is what the outer product consumes
  (a column of A and a row of B per step).
- :class:`TwoLevelBitmap` -- the paper's two-level format (Fig. 9): the matrix is cut into the
  tiles the kernels use (A: 32 x 16, B: 16 x 32, i.e. one 32 x 32 x 16 thread-block step); a
  *warp bitmap* marks non-empty tiles, an *element bitmap* per tile holds one 32-bit word per k
  (A: bit r = row r of that column is non-zero; B: bit c = column c of that row), and the values
  of each tile are stored condensed (A: column by column, non-zeros top to bottom; B: row by row,
  left to right).
  The spgemm kernel reads the same two levels at slice granularity
  (:func:`otc_emu.kernels.spgemm_operand`: one warp-bitmap bit per 32-element slice of A's
  column / B's row, packed 32 values of k to a word, then the element bitmaps and the condensed
  values in the kernel's register order; docs/kernels.md).
- :class:`CsrMatrix` -- compressed sparse rows, for comparison.

All encoders take a 2-D array, keep values as float16 (the tensor-core input type) and decode
back to exactly the same dense array.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "BitmapMatrix",
    "TwoLevelBitmap",
    "CsrMatrix",
    "encode_bitmap",
    "encode_two_level",
    "encode_csr",
    "prune_random",
    "prune_clustered",
    "prune_relu",
    "relu_activations",
    "prune_2_4",
    "prune_vector_wise",
    "im2col_dense",
    "im2col_csr",
    "im2col_bitmap",
    "conv_output_size",
    "BitmapFeatureMap",
    "encode_feature_map",
    "prune_hss",
    "HssSpecError",
]

Order = Literal["col", "row"]


def _as_matrix(x: np.ndarray, name: str = "x") -> np.ndarray:
    """Check that ``x`` is a real 2-D array and return it as float16."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers (float or integer), got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {a.shape}")
    finite = np.isfinite(a) if a.dtype.kind == "f" else np.ones(a.shape, bool)
    if a.size and np.abs(np.where(finite, a, 0)).max() > 65504:
        raise ValueError(f"{name} has values that overflow float16 (|x| > 65504)")
    return a.astype(np.float16)


def _check_sparsity(sparsity: float) -> float:
    s = float(sparsity)
    if not 0.0 <= s <= 1.0 or s != s:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    return s


# ---------------------------------------------------------------- bitmap


@dataclass(frozen=True)
class BitmapMatrix:
    """Bitmap encoding: ``bitmap[i, j]`` is True where the matrix is non-zero; ``values`` holds the
    non-zeros in storage ``order`` ("col": column by column, "row": row by row)."""

    shape: tuple[int, int]
    order: Order
    bitmap: np.ndarray  # bool, shape
    values: np.ndarray  # float16, (nnz,)

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    @property
    def density(self) -> float:
        n = self.shape[0] * self.shape[1]
        return self.nnz / n if n else 0.0

    def words(self) -> np.ndarray:
        """The bitmap as 32-bit words along the storage direction: for "col", shape
        (ceil(rows / 32), cols) with bit r of word w = row 32w + r; for "row", shape
        (rows, ceil(cols / 32)) with bit c of word w = column 32w + c."""
        b = self.bitmap if self.order == "row" else self.bitmap.T
        n = b.shape[1]
        padded = np.zeros((b.shape[0], -(-n // 32) * 32), dtype=np.uint64)
        padded[:, :n] = b
        weights = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
        w = (padded.reshape(b.shape[0], -1, 32) * weights).sum(axis=2).astype(np.uint32)
        return w if self.order == "row" else w.T

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=np.float16)
        if self.order == "col":
            out.T[self.bitmap.T] = self.values
        else:
            out[self.bitmap] = self.values
        return out


def encode_bitmap(x: np.ndarray, order: Order = "col") -> BitmapMatrix:
    """Bitmap-encode a matrix; ``order="col"`` for an A operand, ``"row"`` for B."""
    if order not in ("col", "row"):
        raise ValueError(f"order must be 'col' (A operand) or 'row' (B operand), got {order!r}")
    a = _as_matrix(x)
    bitmap = a != 0
    values = a.T[bitmap.T] if order == "col" else a[bitmap]
    return BitmapMatrix((a.shape[0], a.shape[1]), order, bitmap, values.astype(np.float16))


# ---------------------------------------------------------------- two-level bitmap


@dataclass(frozen=True)
class TwoLevelBitmap:
    """The paper's two-level bitmap (Fig. 9) over tiles of ``tile`` = (rows, cols).

    - ``warp_bitmap[ti, tj]``: the tile holds at least one non-zero.
    - ``element_bitmaps[ti, tj, k]``: uint32 word k of the tile (A: column k, bit r = row r;
      B: row k, bit c = column c).
    - ``values[tile_offsets[ti, tj] : tile_offsets[ti, tj] + tile_nnz[ti, tj]]``: the tile's
      non-zeros, condensed (A column by column, B row by row).
    """

    shape: tuple[int, int]
    operand: Literal["A", "B"]
    tile: tuple[int, int]
    warp_bitmap: np.ndarray
    element_bitmaps: np.ndarray
    tile_offsets: np.ndarray
    tile_nnz: np.ndarray
    values: np.ndarray

    def to_dense(self) -> np.ndarray:
        tr, tc = self.tile
        rows, cols = self.shape
        out = np.zeros((self.warp_bitmap.shape[0] * tr, self.warp_bitmap.shape[1] * tc), dtype=np.float16)
        bits = np.arange(32, dtype=np.uint32)
        for ti, tj in zip(*np.nonzero(self.warp_bitmap)):
            words = self.element_bitmaps[ti, tj]
            mask = ((words[:, None] >> bits[None, :]) & 1).astype(bool)  # (k, 32)
            vals = self.values[self.tile_offsets[ti, tj]:self.tile_offsets[ti, tj] + self.tile_nnz[ti, tj]]
            block = np.zeros((tr, tc), dtype=np.float16)
            if self.operand == "A":  # mask[k, r]: row r of column k
                block.T[mask[:, :tr]] = vals
            else:  # mask[k, c]: column c of row k
                block[mask[:, :tc]] = vals
            out[ti * tr:(ti + 1) * tr, tj * tc:(tj + 1) * tc] = block
        return out[:rows, :cols]


def encode_two_level(x: np.ndarray, operand: Literal["A", "B"] = "A", k_tile: int = 16) -> TwoLevelBitmap:
    """Two-level bitmap of an A (M x K, tiles 32 x k_tile) or B (K x N, tiles k_tile x 32) operand.
    The matrix is zero-padded to whole tiles."""
    if operand not in ("A", "B"):
        raise ValueError(f"operand must be 'A' or 'B', got {operand!r}")
    if not 1 <= int(k_tile) <= 1024:
        raise ValueError(f"k_tile must be in 1..1024, got {k_tile}")
    a = _as_matrix(x)
    tile = (32, int(k_tile)) if operand == "A" else (int(k_tile), 32)
    tr, tc = tile
    nr, nc = -(-a.shape[0] // tr), -(-a.shape[1] // tc)
    padded = np.zeros((nr * tr, nc * tc), dtype=np.float16)
    padded[:a.shape[0], :a.shape[1]] = a
    tiles = padded.reshape(nr, tr, nc, tc).transpose(0, 2, 1, 3)  # (nr, nc, tr, tc)
    if operand == "A":
        lanes = tiles.transpose(0, 1, 3, 2)  # (nr, nc, k, 32 rows)
    else:
        lanes = tiles  # (nr, nc, k, 32 cols)
    nz = lanes != 0
    weights = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
    element = (nz.astype(np.uint64) * weights).sum(axis=3).astype(np.uint32)
    tile_nnz = nz.sum(axis=(2, 3)).astype(np.int64)
    offsets = np.zeros_like(tile_nnz)
    flat = tile_nnz.ravel()
    offsets.ravel()[1:] = np.cumsum(flat)[:-1]
    values = lanes[nz].astype(np.float16)  # C order over (tile row, tile col, k, lane) = condensed per tile
    return TwoLevelBitmap((a.shape[0], a.shape[1]), operand, tile, tile_nnz > 0, element, offsets, tile_nnz, values)


# ---------------------------------------------------------------- CSR


@dataclass(frozen=True)
class CsrMatrix:
    """Compressed sparse rows: row i's non-zeros are ``values[indptr[i]:indptr[i+1]]`` in columns
    ``indices[...]``."""

    shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.values.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.values
        return out


def encode_csr(x: np.ndarray) -> CsrMatrix:
    a = _as_matrix(x)
    rows, cols = np.nonzero(a)
    indptr = np.zeros(a.shape[0] + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    return CsrMatrix((a.shape[0], a.shape[1]), np.cumsum(indptr), cols.astype(np.int64), a[rows, cols])


# ---------------------------------------------------------------- pruning


def prune_random(x: np.ndarray, sparsity: float, seed: int = 0) -> np.ndarray:
    """Unstructured pruning: zero exactly ``round(sparsity * x.size)`` elements chosen uniformly
    at random (reproducible with ``seed``). Returns a new float16 array."""
    s = _check_sparsity(sparsity)
    a = _as_matrix(x).copy()
    k = int(round(s * a.size))
    idx = np.random.default_rng(seed).choice(a.size, size=k, replace=False)
    a.reshape(-1)[idx] = 0
    return a


def prune_relu(x: np.ndarray, sparsity: float) -> np.ndarray:
    """ReLU-like activation sparsity: subtract the ``sparsity`` quantile and clamp at zero, so the
    smallest ``sparsity`` fraction of values become exactly 0 (ties can make it slightly more)."""
    s = _check_sparsity(sparsity)
    a = _as_matrix(x).astype(np.float32)
    k = int(round(s * a.size))
    if k >= a.size:
        return np.zeros_like(a, dtype=np.float16)
    # k == 0 (sparsity 0, or too small to zero one element): a threshold one below the minimum
    # keeps every value positive, so no element becomes zero.
    threshold = np.partition(a.ravel(), k - 1)[k - 1] if k > 0 else a.min() - 1.0
    out = np.where(a > threshold, a - threshold, 0).astype(np.float16)
    return out


def relu_activations(shape: tuple[int, int], sparsity: float, seed: int = 0) -> np.ndarray:
    """Random activations after a ReLU with the given fraction of zeros (float16)."""
    _check_sparsity(sparsity)
    if len(shape) != 2 or min(shape) < 0:
        raise ValueError(f"shape must be (rows, cols), got {shape}")
    rng = np.random.default_rng(seed)
    return prune_relu(rng.standard_normal(shape).astype(np.float32), sparsity)


def prune_clustered(x: np.ndarray, sparsity: float, channel_fraction: float = 0.5, region: int = 4,
                    seed: int = 0) -> np.ndarray:
    """Clustered pruning, the zeros real activations and pruned weights show: zero exactly
    ``round(sparsity * x.size)`` elements of ``x`` (axis 0 = channels; a (C, H, W) map or a (C, L)
    matrix), first whole channels, then spatial regions, chosen uniformly at random (``seed``).

    - ``channel_fraction`` (0..1): the share of the zeros that are whole dead channels (as many
      whole channels as fit in ``channel_fraction * zeros``);
    - ``region`` (>= 1): the rest are ``region`` x ``region`` squares of the (H, W) grid (runs of
      ``region`` along L for a 2-D input) in the live channels, whole squares while they fit, the
      last one partly (its elements in row-major order).

    ``channel_fraction=0, region=1`` is unstructured random pruning. Returns a new float16 array."""
    s = _check_sparsity(sparsity)
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"x must hold real numbers, got dtype {a.dtype}")
    if a.ndim not in (2, 3) or a.size == 0:
        raise ValueError(f"x must be a non-empty (C, H, W) or (C, L) array, got shape {a.shape}")
    if not 0.0 <= float(channel_fraction) <= 1.0:
        raise ValueError(f"channel_fraction must be in [0, 1], got {channel_fraction}")
    if isinstance(region, bool) or int(region) != region or region < 1:
        raise ValueError(f"region must be an integer >= 1, got {region}")
    out = a.astype(np.float16)
    planes = out.reshape(out.shape[0], *(out.shape[1:] if out.ndim == 3 else (1, out.shape[1])))
    c, h, w = planes.shape
    rng = np.random.default_rng(seed)
    k = int(round(s * out.size))
    dead = min(c, int(float(channel_fraction) * k) // (h * w))
    channels = rng.permutation(c)
    planes[channels[:dead]] = 0
    left = k - dead * h * w
    rh, rw = (int(region), int(region)) if out.ndim == 3 else (1, int(region))
    cells = [(ch, y, x0) for ch in channels[dead:] for y in range(0, h, rh) for x0 in range(0, w, rw)]
    for i in rng.permutation(len(cells)):
        if left <= 0:
            break
        ch, y, x0 = cells[i]
        idx = np.ravel_multi_index(np.mgrid[y:min(y + rh, h), x0:min(x0 + rw, w)].reshape(2, -1), (h, w))[:left]
        planes[ch].reshape(-1)[idx] = 0
        left -= idx.size
    return planes.reshape(out.shape)


def prune_2_4(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """2:4 structured sparsity: in every group of 4 consecutive elements along ``axis`` (the
    reduction dimension: 1 for an A operand, 0 for B), keep the 2 of largest magnitude (the
    earlier one on ties). The length along ``axis`` must be a multiple of 4."""
    return _keep_largest_in_groups(x, axis, 4, 2, "2:4 sparsity")


def prune_vector_wise(x: np.ndarray, sparsity: float = 0.75, axis: int = 0, vector: int = 16) -> np.ndarray:
    """Vector-wise sparsity (Zhu et al., "Sparse Tensor Core", MICRO 2019; isa/otc.toml, docs/vstc.md):
    every vector of ``vector`` consecutive elements along ``axis`` (the reduction dimension: 0 for a
    B operand, 1 for A) keeps the ``vector - round(sparsity * vector)`` of largest magnitude (the
    earlier one on ties), so every vector has the same sparsity. The length along ``axis`` must be
    a multiple of ``vector``. The vstc GEMM mode needs B pruned with at most 4 kept per 16."""
    s = _check_sparsity(sparsity)
    if vector < 1:
        raise ValueError(f"vector must be at least 1, got {vector}")
    return _keep_largest_in_groups(x, axis, vector, vector - int(round(s * vector)), f"vector-wise sparsity ({vector})")


def ranking_magnitude(x: np.ndarray) -> np.ndarray:
    """|x| as float32 for the magnitude pruners, with NaN ranked as the largest magnitude (like
    Inf): a NaN in the data is kept, so it reaches the product as it would unpruned, instead of
    being dropped silently (np.abs(NaN) sorts last, which pruned NaNs first)."""
    a = np.abs(np.asarray(x, dtype=np.float32))
    return np.where(np.isnan(a), np.float32(np.inf), a)


def _keep_largest_in_groups(x: np.ndarray, axis: int, group: int, keep: int, what: str) -> np.ndarray:
    """Keep the ``keep`` largest magnitudes (the earlier on ties; NaN counts as the largest, see
    :func:`ranking_magnitude`) of every ``group`` consecutive elements along ``axis``; a float16
    copy."""
    a = _as_matrix(x)
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 or 1, got {axis}")
    m = a if axis == 1 else a.T
    if m.shape[1] % group:
        raise ValueError(f"{what} needs the length along axis {axis} to be a multiple of {group}, got {m.shape[1]}")
    g = m.reshape(m.shape[0], -1, group)
    order = np.argsort(-ranking_magnitude(g), axis=2, kind="stable")
    kept = np.zeros_like(g, dtype=bool)
    np.put_along_axis(kept, order[:, :, :keep], True, axis=2)
    out = np.where(kept, g, 0).reshape(m.shape).astype(np.float16)
    return out if axis == 1 else out.T.copy()


from .structured import HssSpecError, prune_hss  # noqa: E402  (HighLight's HSS lives in structured.py)

# ---------------------------------------------------------------- im2col references (paper Table III)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution along one dimension."""
    if stride < 1 or kernel < 1 or padding < 0:
        raise ValueError(f"need kernel >= 1, stride >= 1, padding >= 0 (got {kernel}, {stride}, {padding})")
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel}-wide kernel does not fit a {size}-wide input with padding {padding}")
    return out


def _check_fmap(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"feature map must hold real numbers, got dtype {a.dtype}")
    if a.ndim != 3:
        raise ValueError(f"feature map must be (C, H, W), got shape {a.shape}")
    return a.astype(np.float16)


@dataclass(frozen=True)
class BitmapFeatureMap:
    """A zero-padded NCHW feature map bitmap-encoded per input row and stride phase (Fig. 11b).

    Row ``((n * C + c) * stride + phase) * Hp + y`` holds padded columns ``phase, phase + stride,
    ...`` of padded row ``y`` (``Hp = H + 2 * padding``): ``bits[row, w]`` bit i is column
    ``32 w + i`` of the phase (zero where the map is zero or padded), ``word_offsets[row, w]`` the
    index in ``values`` of the first non-zero at or after bit ``32 w`` (the paper's row offset, per
    32-bit word), ``values`` the non-zeros row by row. Every row has one extra all-zero word so that
    a 32-bit window starting anywhere in the row can be read as two words."""

    stride: int
    padded_height: int
    bits: np.ndarray  # uint32 (rows, nwords)
    word_offsets: np.ndarray  # int32 (rows, nwords)
    values: np.ndarray  # float16 (nnz,)


def encode_feature_map(x, stride: int = 1, padding: int = 0, mark_all: bool = False) -> BitmapFeatureMap:
    """Bitmap-encode an NCHW feature map for ``sparse_implicit`` (see :class:`BitmapFeatureMap`).
    ``mark_all=True`` marks every position of the padded map as present (its zeros and padding
    become stored values): the dense map in the same format, for single-side (weight-only)
    sparsity."""
    x16 = np.asarray(x)
    if x16.dtype.kind not in "fiub":
        raise TypeError(f"feature map must hold real numbers, got dtype {x16.dtype}")
    if x16.ndim != 4:
        raise ValueError(f"feature map must be (N, C, H, W), got shape {x16.shape}")
    x16 = x16.astype(np.float16)
    if int(stride) != stride or stride < 1 or int(padding) != padding or padding < 0:
        raise ValueError(f"need an integer stride >= 1 and padding >= 0, got {stride} and {padding}")
    stride, padding = int(stride), int(padding)
    n, c, h, wd = x16.shape
    hp, wp = h + 2 * padding, wd + 2 * padding
    xp = np.zeros((n, c, hp, wp), np.float16)
    xp[:, :, padding:padding + h, padding:padding + wd] = x16
    phase_width = -(-wp // stride)
    nwords = -(-phase_width // 32) + 1
    phases = np.zeros((n, c, stride, hp, nwords * 32), np.float16)
    for ph in range(stride):
        cols = xp[:, :, :, ph::stride]
        phases[:, :, ph, :, : cols.shape[3]] = cols
    rows = phases.reshape(-1, nwords * 32)
    nz = rows != 0
    if mark_all:
        nz = np.zeros((n, c, stride, hp, nwords * 32), bool)
        for ph in range(stride):
            nz[:, :, ph, :, : -(-(wp - ph) // stride)] = True
        nz = nz.reshape(rows.shape)
    weights = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
    bits = (nz.reshape(rows.shape[0], nwords, 32).astype(np.uint64) * weights).sum(axis=2).astype(np.uint32)
    counts = nz.reshape(rows.shape[0], nwords, 32).sum(axis=2).ravel()
    offsets = np.zeros(counts.size, np.int64)
    offsets[1:] = np.cumsum(counts)[:-1]
    if counts.sum() >= 2 ** 31:
        raise ValueError("feature map too large: more than 2**31 non-zeros")
    return BitmapFeatureMap(stride, hp, bits, offsets.reshape(bits.shape).astype(np.int32), rows[nz].astype(np.float16))



def im2col_dense(x: np.ndarray, r: int, s: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Dense im2col of a (C, H, W) feature map for an r x s kernel: a (C*r*s, P*Q) matrix whose
    column p*Q + q holds the receptive field of output (p, q) in (c, i, j) order -- the B operand
    of the convolution GEMM (weights K x C*r*s times this)."""
    a = _check_fmap(x)
    c, h, w = a.shape
    p, q = conv_output_size(h, r, stride, padding), conv_output_size(w, s, stride, padding)
    padded = np.zeros((c, h + 2 * padding, w + 2 * padding), dtype=np.float16)
    padded[:, padding:padding + h, padding:padding + w] = a
    out = np.empty((c, r, s, p, q), dtype=np.float16)
    for i in range(r):
        for j in range(s):
            out[:, i, j] = padded[:, i:i + stride * p:stride, j:j + stride * q:stride]
    return out.reshape(c * r * s, p * q)


def im2col_csr(x: np.ndarray, r: int, s: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """im2col from a CSR-encoded feature map (each (c, h) row of the map is a CSR row): every
    lowered element is found by searching the row's column indices, as a CSR-based kernel must.
    Returns the same matrix as :func:`im2col_dense`."""
    a = _check_fmap(x)
    c, h, w = a.shape
    p, q = conv_output_size(h, r, stride, padding), conv_output_size(w, s, stride, padding)
    csr = encode_csr(a.reshape(c * h, w))
    out = np.zeros((c * r * s, p * q), dtype=np.float16)
    for ch in range(c):
        for i in range(r):
            for pi in range(p):
                row = pi * stride + i - padding
                if not 0 <= row < h:
                    continue
                lo, hi = csr.indptr[ch * h + row], csr.indptr[ch * h + row + 1]
                cols, vals = csr.indices[lo:hi], csr.values[lo:hi]
                for j in range(s):
                    want = np.arange(q) * stride + j - padding
                    pos = np.searchsorted(cols, want)
                    hit = (pos < cols.size) & (cols[np.minimum(pos, cols.size - 1)] == want) if cols.size else np.zeros(q, bool)
                    dst = out[(ch * r + i) * s + j, pi * q:(pi + 1) * q]
                    dst[hit] = vals[pos[hit]]
    return out


def im2col_bitmap(x: np.ndarray, r: int, s: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Bitmap-based im2col of the paper (Section IV-B, Fig. 11), step for step as the
    ``sparse_implicit`` kernel does it in registers, on the encoding of :func:`encode_feature_map`.
    For kernel position (c, i, j) and output row p, the lowered slice of up to 32 consecutive
    outputs q0.. is a window of the row bitmap of padded row ``p * stride + i``, stride phase
    ``j % stride``, starting at bit ``b = q0 + j // stride``:

    - S1: read the two bitmap words ``w0, w1`` holding the window and the first word's value offset;
    - S2: shift: ``window = (w1:w0) >> (b % 32)``, masked to the valid outputs;
    - S3: POPC of the bits shifted out of ``w0`` + the offset = the window's first value;
    - S4: POPC of the window = its number of values, which are consecutive in ``values``: the
      slice comes out condensed; scattering it by the window's set bits gives the dense column.

    Returns the same matrix as :func:`im2col_dense`."""
    a = _check_fmap(x)
    c, h, w = a.shape
    p, q = conv_output_size(h, r, stride, padding), conv_output_size(w, s, stride, padding)
    fm = encode_feature_map(a[None], stride, padding)
    hp = fm.padded_height
    out = np.zeros((c * r * s, p * q), dtype=np.float16)
    lanes = np.arange(32, dtype=np.uint64)
    for ch in range(c):
        for i in range(r):
            for j in range(s):
                col = (ch * r + i) * s + j
                for pi in range(p):
                    row = (ch * stride + j % stride) * hp + pi * stride + i
                    for q0 in range(0, q, 32):
                        b = q0 + j // stride
                        w0, w1 = int(fm.bits[row, b >> 5]), int(fm.bits[row, (b >> 5) + 1])  # S1
                        window = ((w1 << 32 | w0) >> (b & 31)) & ((1 << min(32, q - q0)) - 1)  # S2
                        start = int(fm.word_offsets[row, b >> 5]) + bin(w0 & ((1 << (b & 31)) - 1)).count("1")  # S3
                        count = bin(window).count("1")  # S4
                        hit = ((np.uint64(window) >> lanes) & np.uint64(1)).astype(bool)
                        out[col, pi * q + q0 + lanes[hit].astype(np.int64)] = fm.values[start:start + count]
    return out
