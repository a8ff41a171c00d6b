"""Workloads on the emulated SM, written in the project's assembly (``programs/``).

    res = otc_emu.kernels.gemm(a, b, mode="owmma")   # C = A x B on the outer-product tensor core
    res.c, res.stats.counters["cycles"], res.stats.counters["ohmma.executed"]

Modes (docs/kernels.md has the designs, instruction counts per k and the model's cycles):

- ``"hmma"``: dense inner-product baseline on Volta's tensor cores (``programs/hmma_gemm.sass``),
  CUTLASS-like: CTAs of 8 warps over 128x128 blocks of C, 64x32 warp tiles (4x2 HMMA.884 sets per
  4 values of k), k slices of 32 staged global -> shared one slice ahead, fragments read from
  conflict-free padded shared rows between the HMMAs.
- ``"owmma"``: dense outer-product GEMM (``programs/owmma_gemm.sass``): CTAs of 4 warps over 128x128
  blocks, 64x64 warp tiles, 32 OHMMA.8161 per warp and k into register accumulators (paper Section
  V); A in overlapping OHMMA pairs (a lane holds the 8 A values it multiplies in 9 registers, see
  :func:`_owmma_operand`), B as two 32-column slices of the spgemm value layout side by side: five
  loads per warp and k, software-pipelined four k ahead.
- ``"spgemm"``: the paper's dual-side sparse GEMM (``programs/spgemm.sass``): CTAs of 4 warps over
  64x64 blocks, 32x32 warp tiles (the accumulation buffer), on the two-level bitmap format of
  :func:`spgemm_operand`: warp bitmaps skip chunks of k with no work unloaded, lane-parallel POPC
  derives each k's jump to its OHMMAs, a list of the k with work on both sides runs with one BRX
  per k to exactly its sparse OHMMAs (none issued predicated off), gather-accumulate-scatter in
  the accumulation buffer, dense fp32 output. The executed OHMMAs are exactly the sum over 32x32 tiles and k of
  ceil(nnzA / 8) * ceil(nnzB / 16).
- ``"spgemm_a"``: single-side sparse, for the paper's comparison: the same kernel with B passed
  dense (every B row slice full, bitmap all ones), so only A's zeros skip OHMMAs:
  sum of ceil(nnzA / 8) * 2 per tile and k.
- ``"spgemm_seq"``: spgemm with each SpWMMA set run by one sequenced SpWMMA (``HMMA.SPWMMA.32321``,
  a tensor-core sequencer beyond the paper; ``programs/spgemm_seq.sass``, generated from
  spgemm.sass): the same OHMMAs and bits, one issue slot per set instead of the jump and the
  OHMMAs it selects. Needs a machine with ``tensor.spwmma_sequencer = true``
  (``Device(**{"tensor.spwmma_sequencer": True})``; otherwise the launch is refused); the cycle
  model counts its OHMMAs in ``spwmma.ohmmas``.
- ``"spgemm_wide"``: beyond the paper: a 64x64 warp tile of four accumulation buffers (``.BUF1``..
  ``.BUF3``) sharing one record, one k and one pair of addresses per listed k (loads the k's
  flags do not need skipped), each 32x32 unit's
  set run by one sequenced SpWMMA (``programs/spgemm_wide.sass``, or the deeper software pipeline
  ``spgemm_wide_d4..6.sass`` that :func:`wide_depth` picks by occupancy, named in
  ``GemmResult.program``; operands from :func:`spgemm_wide_operand`). Where B is very sparse,
  :func:`wide_tile` runs the same buffers as a 128x32 tile (four A tiles, one B tile:
  ``spgemm_tall*.sass``), where A is, as a 32x128 one (``spgemm_broad*.sass``; ``GemmResult.tile``,
  ``gemm(wide_tile=...)``). Where most records need none of A's value pairs m = 2, 3 and the
  LD/ST unit has an issue interval, the 64x64 tile runs ``spgemm_wide_narrow*.sass``, which
  branches over those loads (:func:`wide_narrow`, ``gemm(wide_narrow=...)``). The same OHMMAs and
  bits as spgemm. Needs
  ``tensor.accbufs_per_warp = 4`` and ``tensor.spwmma_sequencer = true`` (``WIDE_MACHINE``), which
  ``gemm`` sets where it makes the device (``device`` None).
- ``"csr"``: the cuSPARSE-like baseline on the CUDA cores (:mod:`otc_emu.csr`, docs/csr.md): A and
  B in CSR, row-wise Gustavson, one warp per row of A, FFMA into a shared-memory row accumulator;
  no padding; n at most 12288.
- ``"vstc"``: the vector-wise Sparse Tensor Core of Zhu et al. (:mod:`otc_emu.vstc`, docs/vstc.md):
  B with at most 4 non-zeros per 16 consecutive k of a column (``sparse.prune_vector_wise``),
  compressed, the hmma design with one ``HMMA.884.F32.F32.VS`` set per 16 k; pads as hmma.
- ``"sp24"``: A100-style 2:4 structured-sparse A on ``HMMA.SP884`` (``programs/sp24_gemm.sass``,
  hmma_gemm's design with A compressed to half and 2-bit indices; docs/sp24.md); ``"hss"``:
  HighLight's hierarchical structured sparsity C1(2:4 or 2:8)->C0(2:4) on ``HMMA.HSS884``
  (docs/hss.md). A must follow the pattern (``sparse.prune_2_4`` / ``sparse.prune_hss``); B dense.

Inputs: ``a`` is M x K and ``b`` is K x N. fp16 is the tensor-core input type: float32/float64
inputs are converted to fp16 (a ``UserWarning`` says so when the conversion changes a value);
other dtypes are refused. Zero padding inside (zero products change no sum): hmma pads M and N
to multiples of 128 and K to 32; owmma M and N to 64 and K to 4; spgemm M and N to 32 and K to 32;
spgemm_wide M and N to 64 and K to 32 (its 128x32 tile M to 128 and N to 32, its 32x128 tile the reverse).

Accuracy: each output element is ``sum_k a[i,k] * b[k,j]`` accumulated in k order through the
V100 tensor-core adder (products exact, each step truncated to fp32), so it differs from the exact
sum of the fp16 inputs by at most about ``K * 2**-23 * sum_k |a[i,k] * b[k,j]|``; with
``Device(tensor_arith="ieee")`` each step rounds to nearest instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._operands import PROGRAMS, as_fp16, run_shipped, shipped_program  # noqa: F401  (kernels.PROGRAMS is where tools find them)
from .device import Device, Stats, timing_mode

__all__ = ["gemm", "GemmResult", "GEMM_MODES", "WIDE_MACHINE", "WIDE_MODES", "WIDE_DEPTHS", "TALL_DEPTHS", "WIDE_TILES", "WIDE_TILE_SHAPES", "BROAD_DEPTHS", "WIDE_TILE_MARGIN", "NARROW_DEPTHS", "WIDE_NARROW_MAX_WIDE", "WIDE_BITMAP_PAD_GROUPS", "wide_narrow", "wide_group_order", "wide_depth", "wide_tile", "wide_tile_cost", "wide_tile_counts", "wide_order", "wide_l1_shares_b", "wide_launch_order", "condense_slices", "spgemm_operand", "spgemm_wide_operand", "error_bound", "conv2d",
           "ConvResult", "CONV_MODES"]


#: Modes of :func:`gemm` that exist, with the program and kernel that run them.
GEMM_MODES = {
    "owmma": ("owmma_gemm.sass", "owmma_gemm"),
    "hmma": ("hmma_gemm.sass", "hmma_gemm"),
    "spgemm": ("spgemm.sass", "spgemm"),
    "spgemm_a": ("spgemm.sass", "spgemm"),
    "spgemm_seq": ("spgemm_seq.sass", "spgemm_seq"),
    "spgemm_wide": ("spgemm_wide.sass", "spgemm_wide"),
    "csr": ("csr_spgemm.sass", "csr_spgemm"),
    "vstc": ("vstc_gemm.sass", "vstc_gemm"),
    "sp24": ("sp24_gemm.sass", "sp24_gemm"),  # kernels_structured.py
    "hss": ("hss8_gemm.sass", "hss8_gemm"),  # or hss4_gemm.sass, by A's pattern (kernels_structured.py)
}


@dataclass
class GemmResult:
    """``c``: the M x N float32 product; ``stats``: the launch statistics."""

    c: np.ndarray
    stats: Stats
    mode: str
    #: The shipped program that ran, where a mode has several (spgemm_wide: one per pipeline depth).
    program: str | None = None
    #: spgemm_wide's CTA order (:func:`wide_order`): 0, consecutive CTAs walk a row of 64x64 tiles
    #: (they share an A pair), 1, a column (they share a B pair); None for the other modes.
    order: int | None = None
    #: spgemm_wide's warp tile (:func:`wide_tile`): "64x64", "128x32" or "32x128"; None for the other modes.
    tile: str | None = None


def _pad(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``x`` zero-padded to ``rows`` x ``cols``; ``x`` itself when it has that shape (the operand
    builders only read it: a 4096^2 operand's copy is 32 MiB of peak memory)."""
    if x.shape == (rows, cols):
        return x
    out = np.zeros((rows, cols), dtype=x.dtype)
    out[: x.shape[0], : x.shape[1]] = x
    return out


#: Multiply-adds per block of rows in :func:`error_bound`'s float64 product (a few tens of ms):
#: Python sees Ctrl-C only between NumPy calls, and one 4096^3 product takes over a second.
ERROR_BOUND_BLOCK_MACS = 1 << 26


def error_bound(a, b) -> np.ndarray:
    """The documented accuracy bound of every mode, per output element:
    ``K * 2**-22 * sum_k |a[i,k] * b[k,j]|`` (twice the per-step truncation of the V100 adder, so
    it holds for both tensor arithmetics), computed in float64 from the fp16 operands, in blocks
    of rows so that Ctrl-C stops it within one block."""
    a64, b64 = np.abs(np.asarray(a).astype(np.float64)), np.abs(np.asarray(b).astype(np.float64))
    if a64.ndim != 2 or b64.ndim != 2:
        return a64.shape[-1] * 2.0 ** -22 * (a64 @ b64) + 1e-30
    (m, k), n = a64.shape, b64.shape[1]
    out = np.empty((m, n), np.result_type(a64, b64))
    rows = max(1, ERROR_BOUND_BLOCK_MACS // max(1, k * n))
    for i in range(0, m, rows):
        np.matmul(a64[i : i + rows], b64, out=out[i : i + rows])
    out *= k * 2.0 ** -22
    out += 1e-30
    return out


def condense_slices(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Condense every 32-long slice of ``x`` along ``axis`` (0: column slices of A, 1: row slices
    of B; the length along ``axis`` must be a multiple of 32): the non-zeros first in order, zero
    padded. Returns (values, bitmaps): values fp16 of shape (slices along axis / 32, other length,
    32), bitmaps uint32 of shape (slices, other length) with bit i = element i non-zero."""
    v = x if axis == 0 else x.T  # (32 * tiles, other)
    tiles, other = v.shape[0] // 32, v.shape[1]
    blocks = v.reshape(tiles, 32, other).transpose(0, 2, 1)  # (tiles, other, 32)
    nz = blocks != 0
    order = np.argsort(~nz, axis=2, kind="stable")  # non-zeros first, in order
    values = np.take_along_axis(blocks, order, axis=2).astype(np.float16)
    weights = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
    bitmaps = (nz.astype(np.uint64) * weights).sum(axis=2).astype(np.uint32)
    return np.ascontiguousarray(values), np.ascontiguousarray(bitmaps)


#: Position of each condensed element in a slice as the spgemm kernel stores it, so that a lane's
#: OHMMA pairs are contiguous (programs/spgemm.sass): A position 16j + 8h + 4(m - 2j) + i holds
#: condensed element 8m + 4h + i (h = half of the row block, m = row block, j = m // 2: row blocks
#: 0 and 1 fill the first 32-byte sector, which is all a slice with at most 16 non-zeros needs);
#: B position 8q + 4n + i holds condensed element 16n + 4q + i (q = quarter of the column block,
#: n = column block).
SPGEMM_A_ORDER = np.array([8 * (2 * (p // 16) + (p % 8) // 4) + 4 * ((p % 16) // 8) + p % 4 for p in range(32)])
SPGEMM_B_ORDER = np.array([16 * ((p % 8) // 4) + 4 * (p // 8) + p % 4 for p in range(32)])


def spgemm_operand(x: np.ndarray, operand: str, dense: bool = False, k_multiple: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two-level bitmap format the spgemm kernel reads, for an A (M x K) or B (K x N) operand
    whose M or N is a multiple of 32 and K a multiple of ``k_multiple`` (tiles of 32 rows of A / 32 columns of
    B; chunks of 32 values of k). Returns (warp_bitmaps, element_bitmaps, values):

    - warp_bitmaps uint32 (tiles, K / 32): bit l of word c = the slice at k = 32c + l is non-empty;
    - element_bitmaps uint32 (tiles, K): bit i = element i of the slice is non-zero;
    - values fp16 (tiles, K, 32): each slice condensed (:func:`condense_slices`), in the kernel's
      order (``SPGEMM_A_ORDER`` / ``SPGEMM_B_ORDER``).

    ``dense=True`` (B of spgemm_a, both operands of owmma): every slice is taken as full (bitmaps
    all ones, values as they are), so none of its zeros is skipped. ``k_multiple``: what K must be
    a multiple of (owmma pads K to 4 only)."""
    if operand not in ("A", "B"):
        raise ValueError(f"operand must be 'A' or 'B', got {operand!r}")
    axis = 0 if operand == "A" else 1
    if x.shape[axis] % 32 or x.shape[1 - axis] % k_multiple:
        raise ValueError(f"the {operand} operand must be padded to 32 along {'M' if axis == 0 else 'N'} and to {k_multiple} along K, got shape {x.shape}")
    if dense:
        v = x if axis == 0 else x.T
        values = np.ascontiguousarray(v.reshape(v.shape[0] // 32, 32, v.shape[1]).transpose(0, 2, 1)).astype(np.float16)
        bitmaps = np.full(values.shape[:2], 0xFFFFFFFF, np.uint32)
    else:
        values, bitmaps = condense_slices(x, axis)
    order = SPGEMM_A_ORDER if operand == "A" else SPGEMM_B_ORDER
    values = np.ascontiguousarray(values[:, :, order])
    kp = -(-bitmaps.shape[1] // 32) * 32  # warp bitmaps cover whole chunks (owmma's K may stop inside one)
    nonempty = np.zeros((bitmaps.shape[0], kp), np.uint64)
    nonempty[:, : bitmaps.shape[1]] = bitmaps != 0
    nonempty = nonempty.reshape(bitmaps.shape[0], -1, 32)
    warp = (nonempty << np.arange(32, dtype=np.uint64)).sum(axis=2).astype(np.uint32)
    return np.ascontiguousarray(warp), np.ascontiguousarray(bitmaps), values


def _owmma_operand(x: np.ndarray, operand: str) -> np.ndarray:
    """owmma's operand (programs/owmma_gemm.sass), per 64-row tile of A (64-column tile of B) and
    k (fp16).

    B (k, 64 t + c): the two 32-column slices of the tile side by side in the spgemm value layout
    with every slice full: (tiles, K, 64), 128 bytes per k.

    A (64 t + r, k), 144 bytes per k, laid out for the overlapping OHMMA A pairs of the kernel
    (pair m = registers {v + m, v + m + 1}: lane (g, t) reads A[8m + 4h + t], h = g % 2, from
    register v + m + p, p = t / 2, half t % 2). Lane class q = 2h + p loads 9 registers: 8 from
    its 32-byte block q and 1 from word q of a 16-byte tail. Register v + m + p of class q holds
    the fp16 pair (A[8m + 4h + 2p], A[8m + 4h + 2p + 1]); the register a class does not
    read (v + 8 for p = 0, v for p = 1) is zero."""
    if operand == "B":
        values = spgemm_operand(x, "B", dense=True, k_multiple=4)[2]  # (tiles, K, 32)
        tiles, k = values.shape[:2]
        return np.ascontiguousarray(values.reshape(tiles // 2, 2, k, 32).transpose(0, 2, 1, 3))
    t64, k = x.shape[0] // 64, x.shape[1]
    a = x.reshape(t64, 8, 2, 2, 2, k)  # (tile, m, h, p, i, k): row 8m + 4h + 2p + i
    regs = np.zeros((t64, k, 2, 2, 9, 2), np.float16)  # (tile, k, h, p, register v + j, half)
    for p in range(2):
        regs[:, :, :, p, p:p + 8, :] = a[:, :, :, p, :, :].transpose(0, 4, 2, 1, 3)
    blocks, tail = regs[:, :, :, :, :8], regs[:, :, :, :, 8]  # class p = 0 leaves register v + 8 zero
    out = np.concatenate([blocks.reshape(t64, k, 64), tail.reshape(t64, k, 8)], axis=2)
    return np.ascontiguousarray(out)


#: spgemm_wide's software-pipeline depths (record i + depth - 1 loads while record i computes), one
#: shipped program each (``programs/generators/spgemm_wide.py --depth N``); :func:`wide_depth` picks.
WIDE_DEPTHS = {3: "spgemm_wide.sass", 4: "spgemm_wide_d4.sass", 5: "spgemm_wide_d5.sass", 6: "spgemm_wide_d6.sass"}
#: The same for the 128x32 warp tile (``spgemm_wide.py --tall [--depth N]``: 160 and 200 registers
#: per thread, 36 value registers per record buffer; depth 5 would take 240, 8 CTAs per SM, and
#: depth 6 more than 255).
TALL_DEPTHS = {3: "spgemm_tall.sass", 4: "spgemm_tall_d4.sass"}
#: The same for the 32x128 warp tile (``spgemm_wide.py --broad [--depth N]``: 124, 152, 184 and 212
#: registers per thread).
BROAD_DEPTHS = {3: "spgemm_broad.sass", 4: "spgemm_broad_d4.sass", 5: "spgemm_broad_d5.sass", 6: "spgemm_broad_d6.sass"}
#: The 64x64 tile's programs that branch over A's value loads of pairs m = 2, 3 on a narrow record
#: (no A tile with more than 16 non-zeros at its k; ``spgemm_wide.py --narrow [--depth N]``, the
#: same registers as :data:`WIDE_DEPTHS`'): :func:`wide_narrow` picks them.
NARROW_DEPTHS = {3: "spgemm_wide_narrow.sass", 4: "spgemm_wide_narrow_d4.sass", 5: "spgemm_wide_narrow_d5.sass",
                 6: "spgemm_wide_narrow_d6.sass"}
#: :func:`wide_narrow`: the narrow program where at most this share of the records is wide.
#: Measured at 4096^3 on `v100` (docs/kernels.md, "Narrow records"), narrow against plain: +4.5%
#: cycles with every record wide (A 0%), -0.3% with 68% (A 50%), -23% with 0.1% (A 75%).
WIDE_NARROW_MAX_WIDE = 0.5
#: spgemm_wide's warp tiles (rows x columns of C per warp) and their programs by depth.
WIDE_TILES = {"64x64": WIDE_DEPTHS, "128x32": TALL_DEPTHS, "32x128": BROAD_DEPTHS}
#: Each warp tile's A tiles and B tiles of 32.
WIDE_TILE_SHAPES = {"64x64": (2, 2), "128x32": (4, 1), "32x128": (1, 4)}


def wide_depth(device: Device, ctas: int, tile: str = "64x64") -> int:
    """spgemm_wide's pipeline depth for a launch of ``ctas`` CTAs of warp tile ``tile`` (a key of
    :data:`WIDE_TILES`) on ``device``: the depth whose CTAs take the fewest CTA slots over the waves
    in which the cycle model's GPU runs them (``ceil(ctas / held) * min(held, ctas)``, ``held`` the
    CTAs it holds at once by registers, warps and shared memory: ``Device.resident_ctas``), the
    deepest of equals. A deeper pipeline keeps more loads in flight per warp but takes more
    registers (64x64: 120, 148, 180, 208 per thread; 128x32: 160, 200), so fewer CTAs are resident.
    Why slots: the held CTAs share their SM's throughput, so a wave lasts about as long as it holds
    CTAs, and a last wave with few of them lasts as long as a full one (alone they cannot hide
    their loads' latency). The bits are the same at every depth; without the cycle model, depth 3.
    (Until 2026-12-07 the fewest waves; measured in docs/kernels.md, "Pipeline depth".)"""
    waves = _wide_waves(device, ctas, tile)
    if waves is None:
        return 3
    return min(waves, key=lambda d: (waves[d][0] * min(waves[d][1], ctas), -d))


def _wide_waves(device: Device, ctas: int, tile: str) -> dict[int, tuple[int, int]] | None:
    """Per depth of ``tile``'s programs, the waves in which ``device`` runs ``ctas`` CTAs and the
    CTAs it holds at once (None without the cycle model)."""
    waves = {}
    for depth, file in WIDE_TILES[tile].items():
        kern = shipped_program(file).kernels["spgemm_wide"]
        held = device.resident_ctas(32, kern.num_regs, kern.shared_bytes or 0)
        if held is None:
            return None
        waves[depth] = (-(-ctas // held), held)
    return waves


#: Issued warp-instructions per record in the record loops of the tiles' programs (counted in
#: them: the record's LDS, SHF, three IMAD.WIDE, R2P, 4 x (ACCB.BMAP, SpWMMA), and its loads: 64x64
#: two LDG.64 and six LDG.128; 128x32 (two IMAD.WIDE: its record brings B's bitmap) an LDG.128 of
#: A's bitmaps, nine LDG.128 of values and the LOP3 that frees P0 for flag bit 7; 32x128 an LDG.32
#: and an LDG.128 of bitmaps and six LDG.128 of values).
WIDE_RECORD_INSTRUCTIONS = {"64x64": 22, "128x32": 24, "32x128": 22}

#: Sectors the list build reads per warp tile and chunk of 32 k: a byte of load flags per k and
#: operand (one sector each), or in the 128x32 tile A's flags and B's bitmaps (a word per k: four).
WIDE_LIST_SECTORS = {"64x64": 2, "128x32": 5, "32x128": 2}

#: The sector of B's bitmaps a record loads (none in the 128x32 tile: the record brings it from
#: the list build).
WIDE_RECORD_B_BITMAP_SECTORS = {"64x64": 1, "128x32": 0, "32x128": 1}


def _wide_warp_tiles(a16: np.ndarray, b16: np.ndarray, tile: str) -> int:
    """The one-warp CTAs of spgemm_wide's warp tile ``tile`` for ``a16 @ b16``."""
    ta, tb = WIDE_TILE_SHAPES[tile]
    return -(-a16.shape[0] // (32 * ta)) * -(-b16.shape[1] // (32 * tb))


def _slices_nonempty(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """For the 32-row (A, axis 0) or 32-column (B, axis 1) tiles of ``x`` (padded to 32), per tile
    and k: whether its slice has a non-zero, and whether more than 16 (bool arrays (tiles, K))."""
    counts = (x != 0).reshape(x.shape[0] // 32, 32, x.shape[1]).sum(axis=1) if axis == 0 else \
        (x != 0).reshape(x.shape[0], x.shape[1] // 32, 32).sum(axis=2).T
    return counts > 0, counts > 16


def _operand_slices(a16: np.ndarray, b16: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_slices_nonempty` of A and B padded to 128 along M and N (every tile group divides it)
    and 32 along K: (A non-empty, A more than 16, B non-empty)."""
    m, n = -(-a16.shape[0] // 128) * 128, -(-b16.shape[1] // 128) * 128
    k = -(-a16.shape[1] // 32) * 32
    a_ne, a_wide = _slices_nonempty(_pad(a16, m, k), 0)
    b_ne, _ = _slices_nonempty(_pad(b16, k, n), 1)
    return a_ne, a_wide, b_ne


def _group_sectors(slices: tuple[np.ndarray, np.ndarray, np.ndarray], tile: str) -> tuple[np.ndarray, np.ndarray]:
    """Per tile group of ``tile`` (a key of :data:`WIDE_TILE_SHAPES`) and k, the sectors its
    record loads read (0: the group has no work at k), for A and for B: a group's bitmap sector
    (B's: :data:`WIDE_RECORD_B_BITMAP_SECTORS`) and, per non-empty A tile, one sector of values and
    one more above 16 non-zeros, per non-empty B tile two."""
    a_ne, a_wide, b_ne = slices
    ta, tb = WIDE_TILE_SHAPES[tile]
    k = a_ne.shape[1]
    a_n = a_ne.reshape(-1, ta, k).sum(axis=1)
    b_n = b_ne.reshape(-1, tb, k).sum(axis=1)
    return (np.where(a_n > 0, 1 + a_n + a_wide.reshape(-1, ta, k).sum(axis=1), 0),
            np.where(b_n > 0, WIDE_RECORD_B_BITMAP_SECTORS[tile] + 2 * b_n, 0))


def wide_tile_counts(a16: np.ndarray, b16: np.ndarray) -> dict[str, tuple[int, int]]:
    """Per warp tile of spgemm_wide (a key of :data:`WIDE_TILES`), the records and the global-memory
    sectors their loads read for ``a16 @ b16`` (padded to 128 along M and N, 32 along K), as the
    program loads them. A record is a k at which some unit of the warp tile has work on both sides
    (64x64: an A pair and a B pair with a non-zero at k; 128x32: a quad of A tiles and one B tile;
    32x128: one A tile and a quad of B tiles); it reads its tile groups' bitmap sector each (but
    the 128x32 tile's B), per non-empty A tile one sector of values and one more for more than 16
    non-zeros, per non-empty B tile two. The sectors include the list build's
    (:data:`WIDE_LIST_SECTORS` per warp tile and chunk of 32 k)."""
    slices = _operand_slices(a16, b16)
    counts = {}
    for tile in WIDE_TILE_SHAPES:
        a_sect, b_sect = _group_sectors(slices, tile)
        na, nb = (a_sect > 0).sum(axis=0), (b_sect > 0).sum(axis=0)  # groups with work, per k
        # the launch's warp tiles (not the padding to 128) and chunks
        list_build = _wide_warp_tiles(a16, b16, tile) * -(-a16.shape[1] // 32) * WIDE_LIST_SECTORS[tile]
        counts[tile] = (int((na * nb).sum()), int((a_sect.sum(axis=0) * nb + na * b_sect.sum(axis=0)).sum()) + list_build)
    return counts


def wide_tile_cost(a16: np.ndarray, b16: np.ndarray, device: Device) -> dict[str, float] | None:
    """An estimate, per warp tile of spgemm_wide, of the cycles of ``a16 @ b16`` on ``device`` (None
    without the cycle model): the sum of two throughput bounds from :func:`wide_tile_counts`. A sum,
    not the larger: the kernel's loads and its other instructions do not overlap (docs/kernels.md,
    "What the bounds say": its LD/ST and tensor units are each busy about half the time, its cycles
    1.5-2x its largest bound).

    - L2: the records' sectors and C's (M N fp32), each 32 bytes of the L2's bandwidth per core
      cycle (``memory.l2_bandwidth_gbs`` over ``gpu.clock_mhz``); L1 hits are not counted.
    - Issue: records times :data:`WIDE_RECORD_INSTRUCTIONS` over the SMs' sub-cores."""
    cfg = device.timing_config
    if not cfg:
        return None
    m, n = -(-a16.shape[0] // 128) * 128, -(-b16.shape[1] // 128) * 128
    bytes_per_cycle = float(cfg["memory.l2_bandwidth_gbs"]) * 1000.0 / float(cfg["gpu.clock_mhz"])
    sub_cores = int(cfg["sm.sub_cores"]) * int(cfg["gpu.num_sms"])
    return {tile: (sectors + m * n * 4 / 32) * 32 / bytes_per_cycle + records * WIDE_RECORD_INSTRUCTIONS[tile] / sub_cores
            for tile, (records, sectors) in wide_tile_counts(a16, b16).items()}


#: :func:`wide_tile` takes the 128x32 or 32x128 tile only where :func:`wide_tile_cost` gives it at
#: most this fraction of 64x64's cycles. The estimate leaves out what favours 64x64: its CTA order
#: rule's L1 clause (:func:`wide_order`) and the L1 hits of CTAs sharing a pair. Set from measured
#: points (docs/kernels.md, "The 128x32 and 32x128 warp tiles"): at A 99% / B 99% zeros 128x32
#: (estimate 0.87-0.91 since its records bring B's bitmap) took 15-23% more cycles at 1024^3 on 8
#: SMs, where at A 0% / B 99% (0.76-0.80) it takes 8-21% fewer; 32x128 at A 99.9% / B 99% at
#: 4096^3 (0.91) 10% fewer, at A 99% / B 99% (0.95-0.96) 3-5% more.
WIDE_TILE_MARGIN = {"128x32": 0.85, "32x128": 0.92}


def wide_tile(a16: np.ndarray, b16: np.ndarray, device: Device) -> str:
    """The warp tile :func:`gemm` runs spgemm_wide with: of 128x32 and 32x128, the one with the lower
    :func:`wide_tile_cost`, where that is at most its :data:`WIDE_TILE_MARGIN` of 64x64's and its
    one-warp CTAs are at least as many as the GPU's sub-cores; otherwise, and without the cycle
    model, 64x64. Four tiles of one operand per record list fewer records where the other operand
    is very sparse (a record needs only its one tile with work) but each reads all four slices of
    the first: docs/kernels.md, "The 128x32 and 32x128 warp tiles". With fewer CTAs than sub-cores a
    warp runs its records alone, with no other warp to hide their latency, and such a record
    carries up to twice the units of a 64x64 one (the throughput estimate does not see it: an
    LSTM's recurrent GEMM, 6000 x 1500 x 10 on 80 SMs, 47 CTAs of 128x32 took 1.7x the cycles of 94
    of 64x64)."""
    cost = wide_tile_cost(a16, b16, device)
    if cost is None:
        return "64x64"
    cfg = device.timing_config
    sub_cores = int(cfg["sm.sub_cores"]) * int(cfg["gpu.num_sms"])
    best = "64x64"
    for tile in ("128x32", "32x128"):
        ctas = _wide_warp_tiles(a16, b16, tile)
        if cost[tile] <= WIDE_TILE_MARGIN[tile] * cost["64x64"] and ctas >= sub_cores and cost[tile] < cost[best]:
            best = tile
    return best


def wide_group_order(a16: np.ndarray, b16: np.ndarray, tile: str, l2_bytes: int | None) -> int:
    """The CTA order of the 128x32 and 32x128 tiles (64x64: :func:`wide_order`, from its load flags):
    order 1 (consecutive CTAs share a B group, every column's walk reads A's groups again) where B's
    bytes exceed the L2 and outweigh A's, as :func:`wide_order` counts them (each group's sectors at
    the k where the other operand has work), without its L1 clause; order 0 otherwise and without
    the cycle model."""
    if l2_bytes is None:
        return 0
    a_sect, b_sect = _group_sectors(_operand_slices(a16, b16), tile)
    a_bytes = 32 * int(a_sect[:, (b_sect > 0).any(axis=0)].sum())
    b_bytes = 32 * int(b_sect[:, (a_sect > 0).any(axis=0)].sum())
    return int(b_bytes > l2_bytes and b_bytes > a_bytes)


#: Set bits of each byte value (the load flags are counted bit by bit).
_POPCOUNT_U8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def _pair_work(a_flags: np.ndarray, b_flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per 64x64 tile pair and k (:func:`spgemm_wide_operand`'s load flags): whether some A tile of
    the pair (bits 0, 2) and some B tile (bits 4, 5) has a non-zero."""
    return (a_flags & 0x5) != 0, (b_flags & 0x30) != 0


def wide_order(a_flags: np.ndarray, b_flags: np.ndarray, l2_bytes: int | None, l1_shares_b: bool = False) -> int:
    """spgemm_wide's CTA order for operands with these load flags (:func:`spgemm_wide_operand`) on a
    GPU whose L2 holds ``l2_bytes`` (None: no cycle model, order 0). Order 0 launches the grid
    (tq, tp): consecutive CTAs walk a row of 64x64 tiles and share its A pair, and each row's walk
    reads every B pair again; order 1 launches (tp, tq): they walk a column, share its B pair, and
    each column's walk reads every A pair again. What a walk reads again comes from DRAM when the
    operand's blocks exceed the L2. Order 1 is chosen when B's blocks exceed the L2 and outweigh
    A's (what each order reads again from DRAM); otherwise order 0.

    ``l1_shares_b``: the placement gives each SM, in order 0, CTAs of fewer B pairs than it holds
    at once (static placement: :func:`wide_l1_shares_b`), so that they share those pairs' blocks in its
    L1. They read a block at the same k, close in time, when their lists hold the same k: when every
    A pair has work at (almost) every k with records. Then order 0 is kept: where at least 95% of
    the (A pair, k) with records on the B side have work on the A side too.

    Measured at 4096^3 on `dstc-paper` (docs/kernels.md, "CTA order"): order 1 takes 16% fewer
    cycles than order 0 at A99.9/B99, 26% at A99/B99 and, with dynamic placement, 38% at A75/B0;
    with static placement and B dense order 0 takes 27%, 25% and 21% fewer at A25, A50 and A75.

    The bytes are counted as the kernel loads them: for each k and pair whose flags give work on
    that side while some pair of the other operand has work at k too (the k has records), A: its
    bitmap sector and one sector per value load (non-empty tiles, one more each for more than 16
    non-zeros); B: its bitmap sector and two per non-empty tile."""
    if l2_bytes is None:
        return 0
    a_work, b_work = _pair_work(a_flags, b_flags)
    b_ks = b_work.any(axis=0)
    if l1_shares_b and a_work[:, b_ks].sum() >= 0.95 * a_work.shape[0] * b_ks.sum():
        return 0
    a_sectors = np.where(a_work, 1 + _POPCOUNT_U8[a_flags & 0xF], 0)[:, b_ks]
    b_sectors = np.where(b_work, 1 + 2 * _POPCOUNT_U8[b_flags & 0x30], 0)[:, a_work.any(axis=0)]
    a_bytes, b_bytes = 32 * int(a_sectors.sum()), 32 * int(b_sectors.sum())
    return int(b_bytes > l2_bytes and b_bytes > a_bytes)


def wide_narrow(a_flags: np.ndarray, b_flags: np.ndarray, ldst_interval: int | None) -> bool:
    """Whether spgemm_wide's 64x64 tile runs its narrow program (:data:`NARROW_DEPTHS`) for operands
    with these load flags (:func:`spgemm_wide_operand`) on a machine whose sub-core LD/ST unit takes
    a warp-instruction every ``ldst_interval`` cycles, predicated off or not (``units.mem.ii``; None:
    no cycle model, the plain program): where that interval is more than the one issue cycle the
    branch takes, and at most :data:`WIDE_NARROW_MAX_WIDE` of the records are wide (some A tile of
    the pair has more than 16 non-zeros at the k: flag bit 6), counted over the (A pair, B pair, k)
    with work on both sides. A narrow record saves two LD/ST intervals; a wide one pays the branch
    and its loads later in the record (docs/kernels.md, "Narrow records"). A's zeros at random
    places make a 32-row slice wide with probability 0.43 at 50% zeros and 0.0004 at 75%."""
    if ldst_interval is None or ldst_interval <= 1:
        return False
    a_work, b_work = _pair_work(a_flags, b_flags)
    b_pairs = b_work.sum(axis=0)  # (the flags of a k sit at the same place in both layouts)
    records = int(a_work.sum(axis=0) @ b_pairs)
    wide = int(((a_flags & 0x40) != 0).sum(axis=0) @ b_pairs)
    return records > 0 and wide <= WIDE_NARROW_MAX_WIDE * records


def wide_l1_shares_b(device: Device, program: str, pm: int, pn: int) -> bool:
    """Whether, in order 0, the SMs hold CTAs of the same B pair at once: static placement (CTA i
    on SM i mod S, S = the SMs that get CTAs) gives SM s the tile columns (s + S j) mod pn, pn /
    gcd(S, pn) distinct ones, against the CTAs of ``program`` one SM holds (or gets, if fewer)."""
    cfg = device.timing_config or {}
    if cfg.get("gpu.cta_dispatch", "static") != "static" or "gpu.num_sms" not in cfg:
        return False
    kern = shipped_program(program).kernels["spgemm_wide"]
    ctas, sms = pm * pn, min(int(cfg["gpu.num_sms"]), pm * pn)
    held = (device.resident_ctas(32, kern.num_regs, kern.shared_bytes or 0) or 0) // int(cfg["gpu.num_sms"])
    return pn // math.gcd(sms, pn) < min(held, -(-ctas // sms))


def wide_launch_order(a_flags: np.ndarray, b_flags: np.ndarray, device: Device, program: str) -> int:
    """The CTA order :func:`gemm` launches spgemm_wide's ``program`` in on ``device`` for operands
    with these load flags: :func:`wide_order` with the device's L2 and its placement's sharing
    (:func:`wide_l1_shares_b`)."""
    return wide_order(a_flags, b_flags, (device.timing_config or {}).get("memory.l2_bytes"),
                      wide_l1_shares_b(device, program, a_flags.shape[0], b_flags.shape[0]))


#: The machine settings spgemm_wide needs on top of a machine file (beyond the paper).
WIDE_MACHINE = {"tensor.accbufs_per_warp": 4, "tensor.spwmma_sequencer": True}
#: The modes that need WIDE_MACHINE's keys (four accumulation buffers per warp and the sequenced
#: SpWMMA): experiments run them with the keys set on top of the machine.
WIDE_MODES = ("spgemm_wide", "sparse_implicit_wide")


def _default_device(mode: str) -> Device:
    """The device :func:`gemm` and :func:`conv2d` run ``mode`` on when given none: ``Device()``, with
    :data:`WIDE_MACHINE`'s keys for the wide modes (:data:`WIDE_MODES`), which need them."""
    return Device(**(WIDE_MACHINE if mode in WIDE_MODES else {}))


#: Groups of four chunks of zero bitmaps after K in the 128x32 tile's B bitmap array
#: (:func:`spgemm_wide_operand`, ``tiles=1``; the list build's four slots).
WIDE_BITMAP_PAD_GROUPS = 4


def spgemm_wide_operand(x: np.ndarray, operand: str, tiles: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The format spgemm_wide reads, for an A (M x K) or B (K x N) operand whose M or N is a
    multiple of 64 and K of 32, from :func:`spgemm_operand`'s element bitmaps and values with
    tiles 2p and 2p + 1 side by side per k. Returns (load flags uint8 (pairs, 128 ceil(K / 128)): what the list
    build scans, one byte per k, laid out for loads of 4 chunks of 32 k per lane: per group g of 4
    chunks and lane l, 4 bytes, byte b for k = 32 (4 g + b) + l; blocks uint32 (pairs, K + 1, 40
    words)).

    The flags of a k say which of the record's loads it needs: for A, bit 0 / 2 = tile 2p / 2p + 1
    has a non-zero at k, bit 1 / 3 = it has more than 16 (its value pairs m = 2, 3 are used); for
    B, bit 4 / 5 = tile 2p / 2p + 1 has a non-zero at k, so that the kernel ORs the two bytes into
    the record's flags. A block holds per k the two tiles' slices (32 words), then the bitmap pair
    twice, at bytes 128 and 144: the kernel reads A's with the lane's offset of its A value loads
    (0 or 16 bytes) and B's from the block's base, so one broadcast load reads one sector in every
    lane. Slice K is all zero: the kernel's no-op records point there.

    ``tiles``: the tiles of a group (2: the 64x64 warp tile's pairs; A 4 and B 1: the 128x32 tile's,
    ``spgemm_wide.py --tall``; A 1 and B 4: the 32x128 tile's, ``--broad``): A's byte holds bits
    2t / 2t + 1 of its tile t, B's bits 2 + t of its four, and a block holds the group's slices
    (16 tiles words), then its bitmaps twice, 16 bytes apart. A single B tile (128x32) has no
    flags: the first array is then its bitmaps, uint32 (tiles, 128 (ceil(K / 128) +
    :data:`WIDE_BITMAP_PAD_GROUPS`)), a word per k in the flags' layout, which the list build
    tests and writes into each record."""
    axis = 0 if operand == "A" else 1
    if tiles not in (1, 2, 4):
        raise ValueError(f"spgemm_wide groups 1, 2 or 4 tiles of an operand; got {tiles} for {operand!r}")
    if operand in ("A", "B") and x.shape[axis] % (32 * tiles):
        raise ValueError(f"the {operand} operand of spgemm_wide must be padded to {32 * tiles} along {'M' if axis == 0 else 'N'}, got shape {x.shape}")
    _, bitmaps, values = spgemm_operand(x, operand)
    pairs, k = bitmaps.shape[0] // tiles, bitmaps.shape[1]
    pair_bitmaps = np.ascontiguousarray(bitmaps.reshape(pairs, tiles, k).transpose(0, 2, 1))
    nonempty = pair_bitmaps != 0
    if operand == "A":  # a slice's non-zeros, as its bitmap counts them, from the operand itself
        counts = (x.reshape(pairs, tiles, 32, k) != 0).sum(axis=2).transpose(0, 2, 1)
        wide = counts > 16
        flags = np.zeros((pairs, k), np.uint8)
        for t in range(tiles):
            flags |= (nonempty[..., t].astype(np.uint8) << (2 * t)) | (wide[..., t].astype(np.uint8) << (2 * t + 1))
        if tiles == 2:  # bit 6: some tile uses its pairs m = 2, 3 (the 64x64 program branches over them)
            flags |= wide.any(axis=-1).astype(np.uint8) << 6
    elif tiles == 1:
        # The 128x32 tile's list build takes the B tile's bitmap itself (the record's second word),
        # a word per k, with WIDE_BITMAP_PAD_GROUPS groups of zeros past K (it reloads four groups
        # at every list start, wherever K ends).
        flags = pair_bitmaps[..., 0]
    else:  # B's tile t at bit first + t, clear of A's bits in the record: 4 (64x64), 2 (32x128)
        first = {2: 4, 4: 2}[tiles]
        flags = np.zeros((pairs, k), np.uint8)
        for t in range(tiles):
            flags |= nonempty[..., t].astype(np.uint8) << (first + t)
    copies = 2
    words = 16 * tiles
    blocks = np.zeros((pairs, k + 1, words + 4 * copies), np.uint32)
    blocks[:, :k, :words] = values.reshape(pairs, tiles, k, 32).transpose(0, 2, 1, 3).reshape(pairs, k, 32 * tiles).view(np.uint32)
    for c in range(copies):
        blocks[:, :k, words + 4 * c:words + tiles + 4 * c] = pair_bitmaps
    # The list build loads a lane's flags for 4 chunks of 32 k at once: per group of 4 chunks, per
    # lane l, 4 entries, entry b for k = 32 (4 group + b) + l (chunks past K's are zero: no work).
    groups = -(-(k // 32) // 4) + (WIDE_BITMAP_PAD_GROUPS if operand == "B" and tiles == 1 else 0)
    grouped = np.zeros((pairs, groups * 128), flags.dtype)
    grouped[:, :k] = flags
    grouped = grouped.reshape(pairs, groups, 4, 32).transpose(0, 1, 3, 2).reshape(pairs, groups * 128)
    return np.ascontiguousarray(grouped), blocks


def gemm(a, b, mode: str = "owmma", device: Device | None = None, timing: str | None = None,
         cta_order: int | None = None, wide_tile: str | None = None, wide_narrow: bool | None = None) -> GemmResult:
    """C = A x B on the emulated SM (see the module docs for modes, dtypes and accuracy).
    ``timing``: ``"full"`` or ``"sampled"`` (:meth:`Device.launch`; None: full, or that of an
    enclosing ``otc_emu.timing_mode``). ``cta_order`` (spgemm_wide only): 0 or 1 launches that
    CTA order (:attr:`GemmResult.order`) instead of the one :func:`wide_order` picks; the bits are
    the same in both. ``wide_tile`` (spgemm_wide only): ``"64x64"``, ``"128x32"`` or ``"32x128"`` runs that warp
    tile (:attr:`GemmResult.tile`) instead of the one :func:`wide_tile` picks; the bits are the
    same in both. With ``device`` None, spgemm_wide runs on ``Device(**WIDE_MACHINE)`` (the others
    on ``Device()``); a device given must have those keys for a timed launch. ``wide_narrow``
    (spgemm_wide only): True runs the 64x64 tile's narrow program
    (:data:`NARROW_DEPTHS`), False its plain one where the tile is 64x64, instead of what
    :func:`wide_narrow` picks; the bits are the same. True with ``wide_tile`` other than
    ``"64x64"`` is refused."""
    with timing_mode(timing):
        return _gemm(a, b, mode, device, cta_order, wide_tile, wide_narrow)


def _gemm(a, b, mode: str, device: Device | None, cta_order: int | None = None, tile: str | None = None,
          narrow: bool | None = None) -> GemmResult:
    if mode not in GEMM_MODES:
        raise ValueError(f"unknown GEMM mode {mode!r}; available: {', '.join(GEMM_MODES)}")
    if cta_order is not None and (mode != "spgemm_wide" or isinstance(cta_order, bool) or cta_order not in (0, 1)):
        raise ValueError(f"cta_order is 0 or 1, for mode 'spgemm_wide' only; got {cta_order!r} for mode {mode!r}")
    if tile is not None and (mode != "spgemm_wide" or tile not in WIDE_TILES):
        raise ValueError(f"wide_tile is one of {', '.join(map(repr, WIDE_TILES))}, for mode 'spgemm_wide' only; "
                         f"got {tile!r} for mode {mode!r}")
    if narrow is not None and (mode != "spgemm_wide" or not isinstance(narrow, bool) or (narrow and tile not in (None, "64x64"))):
        raise ValueError(f"wide_narrow is True or False, for mode 'spgemm_wide' (True with its 64x64 tile only); got {narrow!r} "
                         f"for mode {mode!r}" + (f", wide_tile {tile!r}" if tile is not None else ""))
    a16, b16 = as_fp16(a, "a", 2, "2-D matrix", 3), as_fp16(b, "b", 2, "2-D matrix", 3)
    m, k = a16.shape
    k2, n = b16.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: a is {m}x{k}, b is {k2}x{n}")
    if min(m, n) == 0:
        raise ValueError(f"empty product: a is {m}x{k}, b is {k2}x{n}")
    dev = device if device is not None else _default_device(mode)
    if mode == "csr":  # CUDA cores, both operands CSR (otc_emu/csr.py)
        from . import csr

        return GemmResult(*csr.run(a16, b16, dev), mode)
    if mode == "vstc":  # B vector-wise sparse, HMMA.884.VS (otc_emu/vstc.py)
        from . import vstc

        return GemmResult(*vstc.run(a16, b16, dev), mode)
    file, kernel = GEMM_MODES[mode]
    if mode in ("spgemm", "spgemm_a", "spgemm_seq"):
        mp, np_ = -(-m // 32) * 32, -(-n // 32) * 32
        k = -(-k // 32) * 32  # k runs in chunks of 32; padding slices are empty and skipped
        a_ops = spgemm_operand(_pad(a16, mp, k), "A")
        # spgemm_a: B's zeros are not exploited: its slices go in as they are, all marked non-zero
        b_ops = spgemm_operand(_pad(b16, k, np_), "B", dense=(mode == "spgemm_a"))
        tm, tn = mp // 32, np_ // 32
        c, stats = run_shipped(dev, file, kernel, [*a_ops, *b_ops], (mp, np_), (-(-tn // 2), -(-tm // 2)), 128,
                               [np.uint32(np_), np.uint32(k), np.uint32(tm), np.uint32(tn)], crop=(m, n))
        return GemmResult(c, stats, mode)
    if mode == "spgemm_wide":  # warp tiles of four accumulation buffers (64x64, 128x32 or 32x128), one warp per CTA
        tile = tile or ("64x64" if narrow else wide_tile(a16, b16, dev))  # (the narrow program is 64x64's)
        ta, tb = WIDE_TILE_SHAPES[tile]  # A and B tiles of 32 per warp tile
        mp, np_, k = -(-m // (32 * ta)) * 32 * ta, -(-n // (32 * tb)) * 32 * tb, -(-k // 32) * 32
        a_ops = spgemm_wide_operand(_pad(a16, mp, k), "A", ta)
        b_ops = spgemm_wide_operand(_pad(b16, k, np_), "B", tb)
        pm, pn = mp // (32 * ta), np_ // (32 * tb)
        depth = wide_depth(dev, pm * pn, tile)
        program = WIDE_TILES[tile][depth]
        ldst_interval = (dev.timing_config or {}).get("units.mem.ii")
        if tile == "64x64" and (wide_narrow(a_ops[0], b_ops[0], ldst_interval) if narrow is None else narrow):
            program = NARROW_DEPTHS[depth]
        if cta_order is not None:
            order = cta_order
        elif tile == "64x64":
            order = wide_launch_order(a_ops[0], b_ops[0], dev, program)
        else:
            order = wide_group_order(a16, b16, tile, (dev.timing_config or {}).get("memory.l2_bytes"))
        c, stats = run_shipped(dev, program, kernel, [*a_ops, *b_ops], (mp, np_), (pm, pn) if order else (pn, pm),
                               32, [np.uint32(np_), np.uint32(k), np.uint32(pm), np.uint32(pn), np.uint32(order)], crop=(m, n))
        return GemmResult(c, stats, mode, program=program, order=order, tile=tile)
    if mode in ("sp24", "hss"):  # structured-sparse A (kernels_structured.py)
        from .kernels_structured import structured_gemm

        c, stats = structured_gemm(a16, b16, mode, dev, _pad)
        return GemmResult(c, stats, mode)
    if mode == "hmma":  # 128x128 blocks of C, k in slices of 32 staged through shared memory
        mp, np_, k = -(-m // 128) * 128, -(-n // 128) * 128, -(-k // 32) * 32
        ops = [_pad(a16, mp, k), _pad(b16, k, np_).T.copy()]  # row-major A, column-major B
        grid, block = (np_ // 128, mp // 128), 256
    else:  # owmma: 64x64 warp tiles, 128x128 blocks; per k the two 32-wide slices of a warp tile side by side
        mp, np_ = -(-m // 64) * 64, -(-n // 64) * 64
        k = -(-k // 4) * 4  # k in groups of 4
        ops = [_owmma_operand(_pad(a16, mp, k), "A"), _owmma_operand(_pad(b16, k, np_), "B")]
        tm, tn = mp // 64, np_ // 64
        grid, block = (-(-tn // 2), -(-tm // 2)), 128
    sizes = [mp, np_, k] if mode == "hmma" else [np_, k, tm, tn]
    c, stats = run_shipped(dev, file, kernel, ops, (mp, np_), grid, block, [*map(np.uint32, sizes)], crop=(m, n))
    return GemmResult(c, stats, mode)


from .conv import CONV_MODES, ConvResult, conv2d  # noqa: E402  (convolution lives in conv.py)
