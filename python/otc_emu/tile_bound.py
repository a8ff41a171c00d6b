"""What any sparse GEMM kernel on the outer-product tensor core can reach: lower bounds on its cycles
for a warp tile of r x c 32x32 accumulation-buffer units (docs/kernels.md, "What any kernel can
reach"), counted from the operands and the machine, not from a run.

A warp tile of r A tiles (32 rows each) by c B tiles (32 columns each) walks the k where some unit
has work on both sides (a **record**: some A tile non-empty and some B tile non-empty at k). Per
record a lane must receive, by the OHMMA.8161 fragment layout (docs/fragments.md), 2 registers per
8-row group of A (8 per A tile of 32 rows) and 2 per 16-column group of B (4 per B tile): 8r + 4c
registers, at most 4 (16 bytes) per load instruction, so 2r + c value loads; and the record itself,
k and the r + c bitmaps (warp-uniform: ACCB.BMAP needs them in every lane), at least
ceil((1 + r + c) / 4) loads. Every load or store instruction occupies its sub-core's LD/ST unit for
``units.mem.ii`` cycles (predicated off or not), and every one that executes takes at least one
cycle of the SM's data pipe (one transaction of up to 4 sectors or one shared wavefront per cycle,
shared by the sub-cores): two bounds, the second the binding one when ``units.mem.ii`` is below the
number of sub-cores (``dstc-paper``'s premise ldst-one-per-sm). The tensor unit needs one cycle per executed
OHMMA and one per ACCB.BMAP of a unit with work. And DRAM must take C (M x N fp32, written whole,
as every kernel here writes it) and read, once, 2 bytes per operand non-zero that meets a non-zero
on the other side (the L2 is cold at launch; bitmaps and metadata not counted): at
``memory.dram_bandwidth_gbs`` (per slice: ``Device.v100_slice`` scales it) this bounds every kernel
of the product, hmma too, whatever the tile, on hardware that must write C to DRAM within the
kernel. (The cycle model posts stores: a warp exits with its stores queued, so a run can end before
C's last writes would have left its DRAM share; its loads' bytes bound it still.)

Two load policies: ``"issued"`` (a fixed load sequence per record, loads of empty tiles predicated
off but still taking the LD/ST interval, as spgemm_wide does) and ``"needed"`` (only the loads a
record needs: an A tile's second load only above 16 non-zeros; what a branch or a compacted layout
would give, with their cost not counted). The list build (per chunk of 32 k: the tiles' bitmaps,
ceil((r + c) / 4) loads, and one store of the records) and the store of C (8 STG.128 per 32x32
unit) are counted too. Work is assumed spread perfectly over the sub-cores, so the bounds are
lower bounds on any kernel's cycles with this tile on this machine."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Registers a lane holds per k of one 32-row A tile and one 32-column B tile (docs/fragments.md:
#: OHMMA.8161 A takes 2 registers per 8 rows, B 2 per 16 columns).
A_REGS, B_REGS = 8, 4
#: 32-bit registers one load instruction can fill per lane (LDG.128 / LDS.128).
REGS_PER_LOAD = 4


@dataclass(frozen=True)
class TileBound:
    """Counts and cycle lower bounds of one warp-tile shape on one pair of operands."""
    rows: int                     # r: A tiles (32 rows each) of the warp tile
    cols: int                     # c: B tiles (32 columns each)
    records: int                  # (warp tile, k) with work on some unit
    records_per_tile: np.ndarray  # the same per warp tile, (M / 32r, N / 32c)
    unit_k: int                   # (32x32 unit, k) with work on both sides (spgemm's listed k)
    ohmmas: int                   # executed sparse OHMMAs: sum of ceil(nnzA / 8) * ceil(nnzB / 16)
    ldst: int                     # load/store instructions of the policy, all warp tiles
    ldst_per_record: float        # of which per record (values and record)
    ldst_cycles: float            # per sub-core: ldst * units.mem.ii / sub-cores
    pipe_cycles: float            # per SM: the executed load/stores (the needed ones) / SMs
    tensor_cycles: float          # per sub-core: (ohmmas + unit_k BMAPs) x their cycles / sub-cores
    dram_bytes: int               # C written, the operands' needed non-zeros read
    dram_cycles: float            # dram_bytes at the machine's DRAM bandwidth
    bound_cycles: float           # max of the four
    #: What bounds the cycle model's own runs: the four with only the operands' reads counted in
    #: the DRAM term (the model posts stores, so C's writes need not leave before a run ends).
    model_bound_cycles: float

    def ceiling(self, hmma_cycles: float) -> float:
        """The highest speedup over a measured hmma run these bounds allow."""
        return hmma_cycles / self.bound_cycles


def _slice_nnz(x: np.ndarray, tiles_axis: int, tile: int) -> np.ndarray:
    """Non-zeros per (32-wide tile, k): (tiles, K), the tile dimension padded to ``tile`` tiles."""
    nz = (np.asarray(x) != 0)
    if tiles_axis == 1:
        nz = nz.T
    rows, k = nz.shape
    padded = -(-rows // (32 * tile)) * 32 * tile
    kp = -(-k // 32) * 32
    out = np.zeros((padded, kp), bool)
    out[:rows, :k] = nz
    return out.reshape(padded // 32, 32, kp).sum(axis=1, dtype=np.int64)


def tile_bound(a: np.ndarray, b: np.ndarray, rows: int, cols: int, machine: dict, policy: str = "issued") -> TileBound:
    """Lower bounds for C = a @ b with an r x c warp tile (``rows`` x ``cols`` 32x32 units) on the
    machine ``machine`` (``Device.timing_config``: its SMs, sub-cores, ``units.mem.ii``, tensor
    cycles of a sparse OHMMA and an ACCB.BMAP, DRAM bandwidth and clock). See the module docs."""
    if policy not in ("issued", "needed"):
        raise ValueError(f"policy must be 'issued' or 'needed', got {policy!r}")
    if rows < 1 or cols < 1:
        raise ValueError(f"a warp tile needs at least one unit each way, got {rows} x {cols}")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"need a (M x K) and b (K x N) with equal K, got {a.shape} and {b.shape}")
    a, b = np.asarray(a), np.asarray(b)
    an = _slice_nnz(a, 0, rows)                  # (A tiles, K)
    bn = _slice_nnz(b, 1, cols)                  # (B tiles, K)
    k = an.shape[1]
    ga, gb = an.shape[0] // rows, bn.shape[0] // cols
    a_any = (an > 0).reshape(ga, rows, k).any(axis=1).astype(np.int64)   # (A groups, K)
    b_any = (bn > 0).reshape(gb, cols, k).any(axis=1).astype(np.int64)
    per_tile = a_any @ b_any.T                   # records per warp tile
    records = int(per_tile.sum())
    unit_k = int(((an > 0).astype(np.int64) @ (bn > 0).astype(np.int64).T).sum())
    ohmmas = int(((-(-an // 8)) @ (-(-bn // 16)).T).sum())
    record_loads = -(-(1 + rows + cols) // REGS_PER_LOAD)
    a_need = ((an > 0).astype(np.int64) + (an > 16)).reshape(ga, rows, k).sum(axis=1)
    b_need = (bn > 0).astype(np.int64).reshape(gb, cols, k).sum(axis=1)
    needed = int((a_need @ b_any.T).sum() + (a_any @ b_need.T).sum())  # value loads that execute
    values = records * (rows * A_REGS + cols * B_REGS) // REGS_PER_LOAD if policy == "issued" else needed
    tiles = ga * gb
    list_build = tiles * (k // 32) * (-(-(rows + cols) // REGS_PER_LOAD) + 1)
    store = tiles * rows * cols * 8
    other = records * record_loads + list_build + store
    ldst = int(values + other)
    subs = machine["gpu.num_sms"] * machine["sm.sub_cores"]
    ldst_cycles = ldst * machine["units.mem.ii"] / subs
    pipe_cycles = (needed + other) / machine["gpu.num_sms"]
    tensor_cycles = (ohmmas * machine["tensor.ohmma_sparse.cycles"] + unit_k * machine["tensor.accb_bmap.cycles"]) / subs
    m, n = a.shape[0], b.shape[1]
    # C is written whole (every kernel here writes it dense); of the operands only the non-zeros that
    # meet a non-zero on the other side (A column k with B row k non-empty) need to be read.
    a_col, b_row = (a != 0).any(axis=0), (b != 0).any(axis=1)
    read_bytes = 2 * int(np.count_nonzero(a[:, b_row]) + np.count_nonzero(b[a_col, :]))
    dram_bytes_per_cycle = machine["memory.dram_bandwidth_gbs"] * 1e3 / machine["gpu.clock_mhz"]
    dram_bytes = 4 * m * n + read_bytes
    dram_cycles = dram_bytes / dram_bytes_per_cycle
    others = max(ldst_cycles, pipe_cycles, tensor_cycles)
    return TileBound(rows, cols, records, per_tile, unit_k, ohmmas, ldst,
                     (values + records * record_loads) / records if records else 0.0,
                     ldst_cycles, pipe_cycles, tensor_cycles, dram_bytes, dram_cycles,
                     max(others, dram_cycles), max(others, read_bytes / dram_bytes_per_cycle))
