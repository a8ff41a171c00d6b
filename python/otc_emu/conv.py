"""2-D convolution on the emulated SM: dense and dual-side sparse implicit im2col (paper Section IV).

    res = otc_emu.kernels.conv2d(x, w, stride=1, padding=1, mode="sparse_implicit")
    res.y                                  # float32 (N, K, P, Q)
    res.stats.counters["cycles"], res.stats.counters["ohmma.executed"]

``x`` is NCHW, ``w`` is KCRS; the convolution is the GEMM ``Y = A x B`` of the lowered feature map
``A`` (N*P*Q output pixels x C*R*S, row m = (n, p, q), column k = (c, r, s)) and the flattened
weights ``B`` (C*R*S x K). Neither mode stores ``A``: see docs/conv.md.

Modes (``CONV_MODES``):

- ``"dense_implicit"``: the V100 baseline (cuDNN's implicit GEMM on the inner-product tensor core,
  the paper's *Dense Implicit*), CUTLASS-like: HMMA.884, CTAs of 4 warps over 64x64 blocks of Y,
  32x32 warp tiles, k slices of 32 staged through shared memory; the lowered rows of ``A`` are
  gathered from the zero-padded feature map through host-built offset tables in the global ->
  shared copy (``programs/conv_dense_implicit.sass``).
- ``"sparse_implicit"``: the paper's *Dual Sparse Implicit*: the feature map is bitmap-encoded in
  global memory (per padded input row and stride phase: bitmap words, word value offsets, the
  condensed values, Fig. 11b), the weights in a two-level bitmap format. A CTA of up to 4 warps
  takes one pixel tile (up to 32 consecutive q of one output row); per chunk of 32 k the lanes
  build the tile's lowered column slices by shift / mask / POPC (one lane per k), the CTA stages
  their values in shared memory once for all its warps, and each warp (32 output channels) lists
  the k with work on both sides and runs one SpWMMA set per listed k
  (``programs/conv_sparse_implicit.sass``). Executed OHMMAs: the sum over tiles and k of
  ceil(nnz(A column slice) / 8) * ceil(nnz(B row slice) / 16).
- ``"single_sparse_implicit"``: the paper's *Single Sparse Implicit*: the same kernel with every
  position of the feature map marked present (``encode_feature_map(mark_all=True)``), so only the
  weights' zeros are skipped: ceil(valid outputs of the tile / 8) * ceil(nnz(B row slice) / 16).
- ``"sparse_implicit_wide"``: beyond the paper: sparse_implicit's formats and im2col, each warp on
  U = 4, 2 or 1 consecutive 32-channel tiles (:func:`wide_units` picks, ``units=`` forces) in U
  accumulation buffers, one sequenced SpWMMA per tile and listed k, the next chunk's im2col during
  this chunk's records (``programs/conv_sparse_wide.sass``, ``_u2``, ``_u1``). The same OHMMAs and
  bits as sparse_implicit; needs ``kernels.WIDE_MACHINE`` (docs/conv.md, section 3b), which
  ``conv2d`` sets where it makes the device (``device`` None).

Accuracy: like :func:`otc_emu.kernels.gemm` (the same tensor-core adders):
``|y - exact| <= C*R*S * 2**-22 * sum_k |a[m,k] * b[k,j]|`` (:func:`error_bound`). The tensor
arithmetic is the V100 model by default, IEEE with ``Device(tensor_arith="ieee")``; in IEEE mode
dense_implicit rounds once per k-block of four (HMMA.884) and sparse_implicit once per product
(OHMMA), both in k = (c, r, s) order.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ._operands import as_fp16, run_shipped
from .device import Device, Stats, timing_mode
from .sparse import BitmapFeatureMap, conv_output_size, encode_feature_map, im2col_dense

__all__ = ["conv2d", "ConvResult", "CONV_MODES", "WIDE_PROGRAMS", "sparse_warps", "wide_units", "lowered_operands", "error_bound", "encode_feature_map", "BitmapFeatureMap"]

#: sparse_implicit_wide's programs by 32-channel tiles per warp (:func:`wide_units` picks one).
WIDE_PROGRAMS = {4: ("conv_sparse_wide.sass", "conv_sparse_wide"), 2: ("conv_sparse_wide_u2.sass", "conv_sparse_wide_u2"),
                 1: ("conv_sparse_wide_u1.sass", "conv_sparse_wide_u1")}

#: Modes of :func:`conv2d`, with the program and kernel that run them (sparse_implicit_wide: with 4
#: tiles per warp; :data:`WIDE_PROGRAMS` has the others).
CONV_MODES = {
    "dense_implicit": ("conv_dense_implicit.sass", "conv_dense_implicit"),
    "sparse_implicit": ("conv_sparse_implicit.sass", "conv_sparse_implicit"),
    "single_sparse_implicit": ("conv_sparse_implicit.sass", "conv_sparse_implicit"),
    "sparse_implicit_wide": WIDE_PROGRAMS[4],
}

#: sparse_implicit_wide per record (listed k) of a warp with U tiles: (issued instructions, cycles of
#: the SM's L1/shared data pipe), the chunk's own work (im2col, weights, staging, list) included;
#: counted in the model (Mask R-CNN res4 3x3 and VGG-16 conv2_2 on dstc-paper: instructions 35.4-35.5
#: / 27.0 / 23.8, shared wavefronts 8.0-8.5 / 10.3-10.8 / 10.1-10.3 and global sectors / 4
#: 5.8-7.3 / 3.4-3.9 / 1.9-2.1 for U = 4 / 2 / 1; U = 4 reads its records' bitmaps from the
#: weights' blocks, not from the list: conv_sparse_wide.sass).
WIDE_RECORD_COST = {4: (35.5, 14.7), 2: (27, 14.5), 1: (24, 12)}
#: A warp alone on its sub-core takes about this many times its issue slots per record (its loads'
#: and SpWMMAs' latency; measured 1.15-1.54 at batch 1 on 80 SMs, docs/conv.md section 3b).
LONE_WARP_FACTOR = 1.3

#: The most warps per CTA of sparse_implicit: they share one pixel tile's im2col, each on its own 32
#: output channels (:func:`sparse_warps` picks 1, 2 or 4 per launch).
SPARSE_WARPS = 4


@dataclass
class ConvResult:
    """``y``: the float32 (N, K, P, Q) output; ``stats``: the launch statistics; ``mode``;
    ``warps``: the sparse modes' warps per CTA (:func:`sparse_warps`), None for dense_implicit;
    ``units``: sparse_implicit_wide's 32-channel tiles per warp (:func:`wide_units`), else None."""

    y: np.ndarray
    stats: Stats
    mode: str
    warps: int | None = None
    units: int | None = None


#: sparse_warps keeps 4 warps per CTA where they give the busiest SM more CTAs than this: each of
#: its sub-cores then has that many warps or more to hide its loads, and the shared im2col pays.
LATENCY_BOUND_CTAS = 3


def sparse_warps(device: Device, channel_tiles: int, pixel_tiles: int) -> int:
    """Warps per CTA of the sparse modes for a launch of ``pixel_tiles`` pixel tiles x
    ``channel_tiles`` 32-channel tiles on ``device``: one per channel tile up to 2. Beyond, 4 (one
    im2col and its staging shared by four warps), unless 4-warp CTAs give the busiest SM at most
    :data:`LATENCY_BOUND_CTAS` CTAs under static placement (few warps per sub-core, latency-bound):
    then of 4, 2 and 1 the one whose busiest SM computes the fewest warp tiles,
    ``ceil(CTAs / SMs) x warps`` (a CTA's idle warps counted), the larger on a tie. At batch 1 on 80
    SMs a layer's 4-warp CTAs leave the SMs that got one waiting for those that got two (VGG-16
    conv4_2: 112 CTAs) or SMs empty (ResNet-18 layer4: 28), and smaller CTAs take 10-26% fewer
    cycles; with more CTAs per SM the rule's count ties or barely moves while four times the
    im2col work costs up to 21% (docs/conv.md, "Warps per CTA"). Without the cycle model, 4: the
    bits and executed OHMMAs do not depend on it."""
    if channel_tiles <= 2:
        return channel_tiles
    sms = _timed_sms(device)
    if sms is None:
        return SPARSE_WARPS

    def ctas_per_sm(warps: int) -> int:
        return _busiest_sm_ctas(channel_tiles, pixel_tiles, warps, sms)

    if ctas_per_sm(SPARSE_WARPS) > LATENCY_BOUND_CTAS:
        return SPARSE_WARPS
    return min((SPARSE_WARPS, 2, 1), key=lambda w: (ctas_per_sm(w) * w, -w))


def _timed_sms(device: Device) -> int | None:
    """The SMs of ``device``'s cycle model (None: untimed, or a configuration without them)."""
    cfg = device.timing_config
    return int(cfg["gpu.num_sms"]) if cfg and "gpu.num_sms" in cfg else None


def _busiest_sm_ctas(channel_tiles: int, pixel_tiles: int, warps: int, sms: int) -> int:
    """CTAs of ``warps`` warps (one channel tile or group each) on the busiest SM of ``sms`` under
    static placement, for ``pixel_tiles`` x ``channel_tiles``."""
    return -(-pixel_tiles * -(-channel_tiles // warps) // sms)


def wide_units(device: Device, channel_tiles: int, pixel_tiles: int) -> int:
    """32-channel tiles per warp of sparse_implicit_wide (4, 2 or 1) for a launch of
    ``pixel_tiles`` x ``channel_tiles`` on ``device``. Four tiles share each record's A operand, list
    and record words, but make a quarter of the warps: at batch 1 on 80 SMs a layer's four-tile
    warps leave sub-cores empty and each waits alone on its loads. Per U, with CTAs of
    :func:`sparse_warps` warps placed statically and m warps on the busiest SM, a record there
    costs the most of: its sub-cores' issue, ceil(m / sub-cores) x instructions; the SM's data pipe,
    m x pipe cycles (:data:`WIDE_RECORD_COST`); a lone warp's latency, :data:`LONE_WARP_FACTOR` x
    instructions. The rule takes the cheapest, the larger U on a tie. Four tiles with several warps
    per CTA are not taken where the busiest SM holds at most one warp per sub-core: the warps of a
    CTA take different channel groups, whose 9 KiB of weights per chunk each stream through one
    L1, and a warp alone on its sub-core waits out every miss (Mask R-CNN res4 and VGG-16 conv4_2
    at batch 1 on 80 SMs, two warps per CTA: 43-50% L1 misses, 1.4-1.6x the cycles of two tiles;
    with more warps per SM the misses are hidden: conv4_2 on 8 SMs, four tiles 0.63x the cycles
    of two; docs/conv.md, section 3b). Without the cycle model, 4: the bits and the executed
    OHMMAs do not depend on it."""
    sms = _timed_sms(device)
    if sms is None:
        return 4
    subs = int(device.timing_config.get("sm.sub_cores", 4))

    def cost(units: int) -> float:
        groups = -(-channel_tiles // units)
        warps = sparse_warps(device, groups, pixel_tiles)
        m = _busiest_sm_ctas(groups, pixel_tiles, warps, sms) * warps
        if units == 4 and warps > 1 and m <= subs:
            return float("inf")
        issue, pipe = WIDE_RECORD_COST[units]
        return max(-(-m // subs) * issue, m * pipe, LONE_WARP_FACTOR * issue)

    return min((4, 2, 1), key=lambda u: (cost(u), -u))


def _int_arg(v, name: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
    if int(v) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return int(v)


def _check(x, w, stride, padding):
    x16 = as_fp16(x, "x", 4, "4-D NCHW array")
    w16 = as_fp16(w, "w", 4, "4-D KCRS array")
    stride = _int_arg(stride, "stride", 1)
    padding = _int_arg(padding, "padding", 0)
    n, c, h, wd = x16.shape
    k, c2, r, s = w16.shape
    if min(n, c, h, wd) == 0 or min(k, c2, r, s) == 0:
        raise ValueError(f"empty tensor: x is {x16.shape}, w is {w16.shape}")
    if c != c2:
        raise ValueError(f"channels differ: x has C={c}, w (KCRS) has C={c2}")
    p = conv_output_size(h, r, stride, padding)
    q = conv_output_size(wd, s, stride, padding)
    return x16, w16, stride, padding, p, q


def lowered_operands(x, w, stride: int = 1, padding: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The GEMM operands of the convolution, as fp16: ``A`` (N*P*Q x C*R*S, row (n, p, q), column
    (c, r, s), from :func:`otc_emu.sparse.im2col_dense`) and ``B`` (C*R*S x K). ``A @ B`` reshaped
    to (N, P, Q, K) and transposed is the NCHW output."""
    x16, w16, stride, padding, p, q = _check(x, w, stride, padding)
    a = np.concatenate([im2col_dense(img, w16.shape[2], w16.shape[3], stride, padding).T for img in x16])
    return np.ascontiguousarray(a), np.ascontiguousarray(w16.reshape(w16.shape[0], -1).T)


def error_bound(x, w, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The documented accuracy bound per output element, (N, K, P, Q) float64:
    ``C*R*S * 2**-22 * sum_k |a[m,k] * b[k,j]|`` (as :func:`otc_emu.kernels.error_bound`)."""
    _, _, _, _, p, q = _check(x, w, stride, padding)
    a, b = lowered_operands(x, w, stride, padding)
    from .kernels import error_bound as gemm_error_bound  # kernels imports this module

    n, k = np.asarray(x).shape[0], np.asarray(w).shape[0]
    return _to_nchw(gemm_error_bound(a, b), n, k, p * q, (p, q))


def _to_nchw(rows: np.ndarray, n: int, k: int, pq: int, shape_pq: tuple[int, int] | None = None) -> np.ndarray:
    out = rows[: n * pq, :k].reshape(n, pq, k).transpose(0, 2, 1)
    if shape_pq is not None:
        out = out.reshape(n, k, *shape_pq)
    return out


def _pad2(m: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), m.dtype)
    out[: m.shape[0], : m.shape[1]] = m
    return out


def _condense_rows(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Condense every 32-column row slice of B (crs x kout, kout % 32 == 0): values fp16
    (kout / 32, crs, 32), non-zeros first, and bitmaps uint32 (kout / 32, crs)."""
    crs, kout = b.shape
    blocks = b.reshape(crs, kout // 32, 32).transpose(1, 0, 2)
    nz = blocks != 0
    order = np.argsort(~nz, axis=2, kind="stable")
    values = np.take_along_axis(blocks, order, axis=2).astype(np.float16)
    weights = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
    bitmaps = (nz.astype(np.uint64) * weights).sum(axis=2).astype(np.uint32)
    return np.ascontiguousarray(values), np.ascontiguousarray(bitmaps)


def _run(dev: Device, file: str, kernel: str, inputs: list[np.ndarray], out_shape, grid, scalars, block: int = 32):
    return run_shipped(dev, file, kernel, inputs, out_shape, grid, block, scalars)


def _dense_implicit(dev, x16, w16, stride, padding, p, q):
    n, c, h, wd = x16.shape
    k, _, r, s = w16.shape
    hp, wp = h + 2 * padding, wd + 2 * padding
    xp = np.zeros((n, c, hp, wp), np.float16)
    xp[:, :, padding:padding + h, padding:padding + wd] = x16
    crs = c * r * s
    crs_p, k_p = -(-crs // 32) * 32, -(-k // 64) * 64  # k slices of 32; 64x64 blocks of Y
    wmat = _pad2(w16.reshape(k, crs), k_p, crs_p)
    cc, rr, ss = np.meshgrid(np.arange(c), np.arange(r), np.arange(s), indexing="ij")
    ktab = np.zeros(crs_p + 32, np.int64)  # 32 more entries for the kernel's last prefetch
    ktab[:crs] = (cc * hp * wp + rr * wp + ss).ravel()  # padding k: any valid offset (weight 0)
    m = n * p * q
    blocks = -(-m // 64)
    nn, pp, qq = np.meshgrid(np.arange(n), np.arange(p), np.arange(q), indexing="ij")
    mtab = np.zeros(blocks * 64, np.int64)
    mtab[:m] = (nn * c * hp * wp + pp * stride * wp + qq * stride).ravel()  # past the end: pixel 0
    if xp.size >= 2 ** 31:
        raise ValueError("feature map too large for 32-bit offsets")
    y, stats = _run(dev, *CONV_MODES["dense_implicit"], [xp, wmat, ktab.astype(np.int32), mtab.astype(np.int32)],
                    (blocks * 64, k_p), (k_p // 64, blocks), [np.uint32(k_p), np.uint32(crs_p)], block=128)
    return _to_nchw(y, n, k, p * q, (p, q)), stats


def _feature_map_tables(x16, r, s, stride, padding, p, q, weights_only, ahead=2):
    """The sparse modes' feature-map side: the bitmap-encoded map (values padded for the staging's
    reads past the end), the k table (padded for a kernel that reads it ``ahead`` chunks ahead) and
    the pixel-tile table (docs/conv.md, "Formats")."""
    n, c, h, wd = x16.shape
    fmap = encode_feature_map(x16, stride, padding, mark_all=weights_only)
    if fmap.bits.size >= 2 ** 31:
        raise ValueError("feature map too large for 32-bit word indices")
    hp = fmap.padded_height
    crs = c * r * s
    crs_p = -(-crs // 32) * 32  # k runs in chunks of 32
    qtiles = -(-q // 32)
    cc, rr, ss = np.meshgrid(np.arange(c), np.arange(r), np.arange(s), indexing="ij")
    # padding k: the tile's own window, but an empty B slice; `ahead` chunks more for the prefetches
    ktab = np.zeros((crs_p + 32 * ahead, 2), np.int64)
    nwords = fmap.bits.shape[1]
    d = (ss // stride).ravel()  # the window's first bit, relative to the tile's first output column
    ktab[:crs] = np.stack([((cc * stride + ss % stride) * hp + rr).ravel() * nwords + d // 32, d % 32], axis=1)
    nn, pp, tt = np.meshgrid(np.arange(n), np.arange(p), np.arange(qtiles), indexing="ij")
    q0 = (tt * 32).ravel()
    valid = np.minimum(32, q - q0)
    ttab = np.stack([(nn * c * stride * hp + pp * stride).ravel() * nwords + q0 // 32, q0,
                     ((np.uint64(1) << valid.astype(np.uint64)) - np.uint64(1)).astype(np.uint32).view(np.int32),
                     ((nn * p + pp) * q).ravel() + q0], axis=1)
    values = np.concatenate([fmap.values, np.zeros(64, np.float16)])  # the staging loads may read past the end
    return [fmap.bits, fmap.word_offsets, values, ktab.astype(np.int32), ttab.astype(np.int32)], crs_p


def _weight_groups(w16, crs_p: int, k_p: int, units: int):
    """The weights in groups of ``units`` 32-channel tiles (docs/conv.md, "Formats"): per group and k
    the tiles' condensed row slices side by side, each permuted so that a lane's B pairs n = 0, 1
    are contiguous (condensed element 16n + 4q + i at position 8q + 4n + i), fp16 (groups, crs_p,
    32 units); their bitmaps uint32 (groups, crs_p units); and the first level, per group and
    chunk of 32 k, bit l: some tile's slice of k = 32 chunk + l is non-empty (groups, crs_p / 32)."""
    k, crs = w16.shape[0], int(np.prod(w16.shape[1:]))
    tiles, groups = k_p // 32, k_p // (32 * units)
    bcond, bbmp = _condense_rows(_pad2(w16.reshape(k, crs).T, crs_p, k_p))
    bval = bcond.reshape(tiles, crs_p, 2, 4, 4).transpose(0, 1, 3, 2, 4).reshape(groups, units, crs_p, 32)
    bbmp = bbmp.reshape(groups, units, crs_p).transpose(0, 2, 1)
    bits = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
    bwbm = ((bbmp != 0).any(axis=2).reshape(groups, -1, 32) * bits).sum(axis=2).astype(np.uint32)
    return (np.ascontiguousarray(bval.transpose(0, 2, 1, 3).reshape(groups, crs_p, 32 * units)),
            np.ascontiguousarray(bbmp.reshape(groups, crs_p * units)), bwbm)


def _sparse_implicit(dev, x16, w16, stride, padding, p, q, weights_only=False):
    n = x16.shape[0]
    k, _, r, s = w16.shape
    fmap_inputs, crs_p = _feature_map_tables(x16, r, s, stride, padding, p, q, weights_only)
    k_p = -(-k // 32) * 32
    tiles_n = k_p // 32
    pixel_tiles = fmap_inputs[4].shape[0]
    warps = sparse_warps(dev, tiles_n, pixel_tiles)
    bval, bbmp, bwbm = _weight_groups(w16, crs_p, k_p, 1)
    y, stats = _run(dev, *CONV_MODES["sparse_implicit"], fmap_inputs + [bwbm, bbmp, bval],
                    (n * p * q, k_p), (-(-tiles_n // warps), pixel_tiles),
                    [np.uint32(k_p), np.uint32(crs_p), np.uint32(tiles_n)], block=32 * warps)
    return _to_nchw(y, n, k, p * q, (p, q)), stats, warps


def _sparse_wide(dev, x16, w16, stride, padding, p, q, units=None):
    """conv_sparse_wide*.sass: U = :func:`wide_units` 32-channel tiles per warp (a channel group),
    one sequenced SpWMMA per tile and listed k; K is padded to whole groups with empty slices."""
    n = x16.shape[0]
    k, _, r, s = w16.shape
    fmap_inputs, crs_p = _feature_map_tables(x16, r, s, stride, padding, p, q, False, ahead=3)
    pixel_tiles = fmap_inputs[4].shape[0]
    units = units or wide_units(dev, -(-k // 32), pixel_tiles)
    k_p = -(-k // (32 * units)) * 32 * units
    groups = k_p // (32 * units)
    warps = sparse_warps(dev, groups, pixel_tiles)
    bval, bbmp, bwbm = _weight_groups(w16, crs_p, k_p, units)
    if units == 4:
        # per k the four condensed slices, then a 32-byte sector holding their bitmaps (the records
        # read them there, from the slices' L1 lines: conv_sparse_wide.sass)
        blocks = np.zeros((groups, crs_p, 32 * units + 16), np.uint16)
        blocks[:, :, :32 * units] = bval.view(np.uint16)
        blocks[:, :, 32 * units:34 * units] = bbmp.reshape(groups, crs_p, units).view(np.uint16)
        bval = blocks.view(np.float16)
    y, stats = _run(dev, *WIDE_PROGRAMS[units], fmap_inputs + [bwbm, bbmp, bval],
                    (n * p * q, k_p), (-(-groups // warps), pixel_tiles),
                    [np.uint32(k_p), np.uint32(crs_p), np.uint32(groups)], block=32 * warps)
    return _to_nchw(y, n, k, p * q, (p, q)), stats, warps, units


def conv2d(x, w, stride: int = 1, padding: int = 0, mode: str = "dense_implicit", device: Device | None = None,
           timing: str | None = None, units: int | None = None) -> ConvResult:
    """Convolve the NCHW ``x`` with the KCRS ``w`` on the emulated SM (cross-correlation, as in
    deep learning): ``y[n, k, p, q] = sum_{c,r,s} x[n, c, p*stride + r - padding,
    q*stride + s - padding] * w[k, c, r, s]``, zero outside the map. Returns a :class:`ConvResult`
    with float32 ``y`` of shape (N, K, P, Q). See the module docs for modes and accuracy.
    ``timing``: ``"full"`` or ``"sampled"`` (:meth:`Device.launch`; None: full, or that of an
    enclosing ``otc_emu.timing_mode``). ``units``: sparse_implicit_wide's 32-channel tiles per warp,
    1, 2 or 4, forced (None: :func:`wide_units` picks)."""
    if mode not in CONV_MODES:
        raise ValueError(f"unknown convolution mode {mode!r}; available: {', '.join(CONV_MODES)}")
    if device is not None and not isinstance(device, Device):
        raise TypeError(f"device must be an otc_emu.Device or None, got {type(device).__name__}")
    x16, w16, stride, padding, p, q = _check(x, w, stride, padding)
    if x16.shape[0] * p * q * (-(-w16.shape[0] // 128) * 128) >= 2 ** 31:
        raise ValueError("output too large for the kernels' 32-bit indices (N*P*Q*K must stay below 2**31)")
    if units is not None and (mode != "sparse_implicit_wide" or units not in WIDE_PROGRAMS):
        raise ValueError(f"units: 1, 2 or 4 tiles per warp of mode sparse_implicit_wide, got {units!r} for mode {mode!r}")
    if device is None:
        from .kernels import _default_device  # kernels imports this module

        device = _default_device(mode)
    dev = device
    with timing_mode(timing):
        warps, picked = None, None
        if mode == "dense_implicit":
            y, stats = _dense_implicit(dev, x16, w16, stride, padding, p, q)
        elif mode == "sparse_implicit_wide":
            y, stats, warps, picked = _sparse_wide(dev, x16, w16, stride, padding, p, q, units)
        else:
            y, stats, warps = _sparse_implicit(dev, x16, w16, stride, padding, p, q,
                                               weights_only=mode == "single_sparse_implicit")
    return ConvResult(np.ascontiguousarray(y), stats, mode, warps, picked)
