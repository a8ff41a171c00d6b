"""otc_emu.tile_bound: the counts on a hand-made case, and the bounds against the cycle model (a
bound above a measured run, or a record count unlike spgemm_wide's, would be wrong)."""
import numpy as np
import pytest

import otc_emu
from otc_emu import kernels
from otc_emu.tile_bound import tile_bound


def hand_case():
    """A 64x32 and B 32x64: A tile 0 has 20 non-zeros at k = 0 and 3 at k = 2, A tile 1 5 at k = 1;
    B tile 0 has 17 at k = 0, B tile 1 one at k = 1; nothing else."""
    a = np.zeros((64, 32), np.float16)
    b = np.zeros((32, 64), np.float16)
    a[0:20, 0] = 1
    a[0:3, 2] = 1
    a[32:37, 1] = 1
    b[0, 0:17] = 1
    b[1, 40] = 1
    return a, b


MACHINE = otc_emu.Device.v100_slice(1).timing_config


@pytest.mark.parametrize("rows, cols, policy, records, ldst", [
    # 64x64: k = 0 and 1 are records (k = 2 has no B); values 2 x (2 x 2 + 2) issued, or the
    # needed ones (k = 0: A tile 0 both loads, B tile 0; k = 1: A tile 1 one load, B tile 1);
    # 2 record loads each (k + 4 bitmaps); list build 1 chunk x (1 bitmap load + 1 store); store 2 x 2 x 8
    (2, 2, "issued", 2, 12 + 4 + 2 + 32),
    (2, 2, "needed", 2, 5 + 4 + 2 + 32),
    # 32x32: four warp tiles, units (0, 0) at k = 0 and (1, 1) at k = 1; 3 values + 1 record load
    # per record; list build 4 x (1 + 1); store 4 x 8
    (1, 1, "issued", 2, 6 + 2 + 8 + 32),
    (1, 1, "needed", 2, (2 + 1) + (1 + 1) + 2 + 8 + 32),
    # 128x32 (A padded to 128 rows): one B tile per warp tile; k = 0 only (B tile 0), k = 1 only
    # for the second warp tile (B tile 1); 2 x 4 + 1 values, 2 record loads (k + 5 bitmaps)
    (4, 1, "issued", 2, 2 * 9 + 4 + 2 * 3 + 2 * 32),
])
def test_counts_of_a_hand_made_case(rows, cols, policy, records, ldst):
    a, b = hand_case()
    t = tile_bound(a, b, rows, cols, MACHINE, policy)
    assert (t.records, t.unit_k, t.ohmmas, t.ldst) == (records, 2, 3 * 2 + 1 * 1, ldst)
    # C 64x64 fp32, A's non-zeros at k = 0, 1 (k = 2 meets no B row), B's at k = 0, 1
    assert t.dram_bytes == 4 * 64 * 64 + 2 * (20 + 5 + 17 + 1)
    subs = MACHINE["gpu.num_sms"] * MACHINE["sm.sub_cores"]
    assert t.ldst_cycles == ldst * MACHINE["units.mem.ii"] / subs
    assert t.tensor_cycles == (7 + 2) / subs
    # the data pipe: the executed load/stores (the needed policy's) per SM
    executed = tile_bound(a, b, rows, cols, MACHINE, "needed").ldst
    assert t.pipe_cycles == executed / MACHINE["gpu.num_sms"]
    assert t.bound_cycles == max(t.ldst_cycles, t.pipe_cycles, t.tensor_cycles, t.dram_cycles)
    reads = 2 * (20 + 5 + 17 + 1) * t.dram_cycles / t.dram_bytes  # the DRAM term without C's writes
    assert t.model_bound_cycles == pytest.approx(max(t.ldst_cycles, t.pipe_cycles, t.tensor_cycles, reads))


def test_bad_arguments():
    a, b = hand_case()
    with pytest.raises(ValueError, match="policy"):
        tile_bound(a, b, 2, 2, MACHINE, "some")
    with pytest.raises(ValueError, match="at least one unit"):
        tile_bound(a, b, 0, 2, MACHINE)
    with pytest.raises(ValueError, match="equal K"):
        tile_bound(a, b.T, 2, 2, MACHINE)


@pytest.mark.parametrize("sa, sb", [(0.0, 0.0), (0.75, 0.0), (0.0, 0.99), (0.9, 0.5), (0.999, 0.99)])
def test_bounds_hold_against_the_model(sa, sb):
    rng = np.random.default_rng(5)
    a = otc_emu.sparse.prune_random(rng.standard_normal((128, 128)), sa, seed=1).astype(np.float16)
    b = otc_emu.sparse.prune_random(rng.standard_normal((128, 128)), sb, seed=2).astype(np.float16)
    dev = otc_emu.Device.v100_slice(2, **kernels.WIDE_MACHINE)
    # the bound's 64x64 tile; its plain program issues every value load ("issued"), the narrow one
    # branches over some (below)
    run = kernels.gemm(a, b, mode="spgemm_wide", device=dev, wide_tile="64x64", wide_narrow=False)
    wide = run.stats
    hmma = kernels.gemm(a, b, mode="hmma", device=otc_emu.Device.v100_slice(2)).stats
    t = tile_bound(a, b, 2, 2, dev.timing_config, "issued")
    # spgemm_wide walks exactly these records per warp tile, in groups of its pipeline depth (one
    # list run at K = 128; 4 CTAs on 2 SMs: one wave at any depth, so the deepest, 6)
    depth = {file: d for d, file in kernels.WIDE_DEPTHS.items()}[run.program]
    assert depth == 6
    assert wide.counters["spwmma.issued"] == 4 * depth * int(np.sum(-(-t.records_per_tile // depth)))
    ldst = sum(v["warp"] for op, v in wide.by_opcode.items() if op.startswith(("LDG", "LDS", "STG", "STS")))
    assert ldst >= t.ldst
    # The model posts stores: a warp exits with its stores queued (docs/timing.md, the memory
    # model), so writing C bounds what a kernel can reach on hardware that must write it to DRAM,
    # not the model's cycles (model_bound_cycles leaves C's writes out). (Since C is stored in whole
    # sectors, spgemm_wide at A99.9/B99 here ends before C's writes would have left its DRAM share.)
    assert wide.counters["cycles"] >= t.model_bound_cycles
    paper = otc_emu.Device.v100_slice(2, machine="dstc-paper", **kernels.WIDE_MACHINE)  # interval 1: the pipe binds
    tp = tile_bound(a, b, 2, 2, paper.timing_config, "issued")
    assert tp.pipe_cycles >= tp.ldst_cycles
    assert kernels.gemm(a, b, mode="spgemm_wide", device=paper).stats.counters["cycles"] >= tp.model_bound_cycles
    assert hmma.counters["cycles"] >= t.dram_cycles  # the DRAM bound holds for every kernel
    needed = tile_bound(a, b, 2, 2, dev.timing_config, "needed")
    assert needed.ldst <= t.ldst and needed.records == t.records
    narrow = kernels.gemm(a, b, mode="spgemm_wide", device=dev, wide_narrow=True).stats
    assert needed.ldst <= sum(v["warp"] for op, v in narrow.by_opcode.items() if op.startswith(("LDG", "LDS", "STG", "STS"))) <= ldst
    assert narrow.counters["cycles"] >= needed.model_bound_cycles
    # spgemm is the 32x32 tile: one ACCB.BMAP per record (and per no-op record padding a list),
    # its OHMMAs the bound's
    spgemm = kernels.gemm(a, b, mode="spgemm", device=otc_emu.Device.v100_slice(2)).stats
    t1 = tile_bound(a, b, 1, 1, dev.timing_config, "issued")
    assert spgemm.counters["accb.bmap"] >= t1.records == t1.unit_k
    if sb == 0.0:  # every k listed: no padding
        assert spgemm.counters["accb.bmap"] == t1.records
    assert spgemm.counters["ohmma.executed"] == t1.ohmmas == t.ohmmas
    ldst1 = sum(v["warp"] for op, v in spgemm.by_opcode.items() if op.startswith(("LDG", "LDS", "STG", "STS")))
    assert ldst1 >= t1.ldst and spgemm.counters["cycles"] >= t1.bound_cycles
