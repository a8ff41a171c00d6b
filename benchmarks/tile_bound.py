"""The LD/ST-interval, data-pipe, tensor and DRAM bounds of otc_emu.tile_bound at the headline points, per warp-tile
shape, as ceilings on the speedup over a measured hmma run, beside measured spgemm_wide runs
(docs/kernels.md, "What any kernel can reach", quotes the output). Run by hand:

    python benchmarks/tile_bound.py [--size 512] [--sms 4] [--machine v100] [--measure] [--json out.json]

--measure also runs spgemm_wide (v100 + kernels.WIDE_MACHINE) at each point and prints its cycles,
its issued load/store instructions (by opcode) and its LD/ST interval cycles per sub-core beside
the 64x64 bound, so the bound can be checked against the model (measured >= bound)."""
import argparse
import json

import otc_emu
from gemm_per_k import BEYOND, POINTS, operands
from otc_emu import kernels
from otc_emu.tile_bound import tile_bound

SHAPES = ((1, 1), (2, 1), (1, 2), (2, 2), (4, 1), (1, 4))

p = argparse.ArgumentParser()
p.add_argument("--size", type=int, default=512)
p.add_argument("--sms", type=int, default=4)
p.add_argument("--machine", default="v100")
p.add_argument("--measure", action="store_true")
p.add_argument("--json")
args = p.parse_args()
rows = []
for sa, sb in POINTS:
    a, b = operands(args.size, sa, sb)
    dev = otc_emu.Device.v100_slice(args.sms, machine=args.machine)
    t = dev.timing_config
    hmma = kernels.gemm(a, b, mode="hmma", device=dev).stats.counters["cycles"]
    row = {"A": sa, "B": sb, "hmma_cycles": hmma, "shapes": {}}
    for r, c in SHAPES:
        for policy in ("issued", "needed"):
            tb = tile_bound(a, b, r, c, t, policy)
            row["dram_cycles"] = round(tb.dram_cycles)
            row["shapes"][f"{32 * r}x{32 * c} {policy}"] = {
                "records": tb.records, "ldst_per_record": round(tb.ldst_per_record, 2),
                "ldst_cycles": round(tb.ldst_cycles), "pipe_cycles": round(tb.pipe_cycles),
                "tensor_cycles": round(tb.tensor_cycles),
                "ceiling": round(tb.ceiling(hmma), 2)}
    if args.measure:
        wdev = otc_emu.Device.v100_slice(args.sms, machine=args.machine, **BEYOND["spgemm_wide"])
        res = kernels.gemm(a, b, mode="spgemm_wide", device=wdev, wide_tile="64x64")  # the 64x64 bound below
        ldst = {op: v["warp"] for op, v in res.stats.by_opcode.items() if op.startswith(("LDG", "LDS", "STG", "STS"))}
        n = sum(ldst.values())
        bound = tile_bound(a, b, 2, 2, t, "issued")
        row["spgemm_wide"] = {"cycles": res.stats.counters["cycles"], "speedup": round(hmma / res.stats.counters["cycles"], 2),
                              "ldst": n, "ldst_by_opcode": ldst,
                              "ldst_cycles": round(n * t["units.mem.ii"] / (args.sms * t["sm.sub_cores"])),
                              "ldst_per_record": round(n / bound.records, 2), "bound_cycles": round(bound.bound_cycles)}
        assert res.stats.counters["cycles"] >= bound.model_bound_cycles and n >= bound.ldst, "the bound exceeds the model"
    rows.append(row)
    print(json.dumps(row))

print()
print("| A | B | hmma cycles | DRAM bound | " + " | ".join(f"{32 * r}x{32 * c}" for r, c in SHAPES) + " |")
print("|---:|---:|---:|---:|" + "---:|" * len(SHAPES))
for row in rows:
    cells = [f"{row['shapes'][f'{32 * r}x{32 * c} issued']['ceiling']:.2f} / {row['shapes'][f'{32 * r}x{32 * c} needed']['ceiling']:.2f}"
             for r, c in SHAPES]
    print(f"| {row['A']:g} | {row['B']:g} | {row['hmma_cycles']:,} | {row['dram_cycles']:,} | " + " | ".join(cells) + " |")
if args.json:
    with open(args.json, "w") as f:
        json.dump(rows, f, indent=1)
