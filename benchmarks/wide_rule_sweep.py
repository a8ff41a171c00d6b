"""spgemm_wide's warp-tile rule (``kernels.wide_tile``, docs/kernels.md "The 128x32 and 32x128
warp tiles") against the cycles of all three tiles: per machine and A x B sparsity point, the
rule's pick, its estimates (``kernels.wide_tile_cost`` over 64x64's) and the model cycles of
64x64, 128x32 and 32x128 run on the same operands; then per machine and in all the points where
the pick was the fastest tile, the mean and largest regret (the pick's cycles over the fastest
tile's, minus one) and the regret of always running 64x64. One JSON line per point, printed and
appended to --out. Not for CI: 512^3 on 4 SMs takes about a minute, 1024^3 on 8 SMs about 4.

    python benchmarks/wide_rule_sweep.py [--size 1024] [--sms 8] [--machines v100,dstc-paper]
        [--a 0,0.5,0.75,0.9,0.99,0.999] [--b 0,0.5,0.9,0.99,0.999] [--out FILE]
"""
import argparse
import json

import numpy as np

from otc_emu import Device, kernels
from otc_emu.experiments.workloads import gemm_operands

TILES = ("64x64", "128x32", "32x128")


def fractions(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--sms", type=int, default=8)
    ap.add_argument("--machines", default="v100,dstc-paper")
    ap.add_argument("--a", type=fractions, default=[0.0, 0.5, 0.75, 0.9, 0.99, 0.999], help="A's fractions of zeros")
    ap.add_argument("--b", type=fractions, default=[0.0, 0.5, 0.9, 0.99, 0.999], help="B's fractions of zeros")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="append the JSON lines to this file")
    args = ap.parse_args()
    rows = []
    for machine in args.machines.split(","):
        for sa in args.a:
            for sb in args.b:
                a, b = gemm_operands(args.size, args.size, args.size, sa, sb, args.seed)
                dev = Device.v100_slice(args.sms, machine=machine, **kernels.WIDE_MACHINE)
                a16, b16 = a.astype(np.float16), b.astype(np.float16)
                cost = kernels.wide_tile_cost(a16, b16, dev)
                row = {"size": args.size, "sms": args.sms, "machine": machine, "sa": sa, "sb": sb,
                       "pick": kernels.wide_tile(a16, b16, dev),
                       "estimate": {t: round(cost[t] / cost["64x64"], 3) for t in TILES}}
                for tile in TILES:
                    row[tile] = kernels.gemm(a, b, mode="spgemm_wide", device=dev, wide_tile=tile).stats.counters["cycles"]
                best = min(TILES, key=lambda t: row[t])
                row["best"], row["regret"] = best, round(row[row["pick"]] / row[best] - 1, 4)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
                rows.append(row)
    for machine in args.machines.split(",") + ["all"]:
        sel = [r for r in rows if machine in ("all", r["machine"])]
        regret = [r["regret"] for r in sel]
        always = [r["64x64"] / r[r["best"]] - 1 for r in sel]
        print(f"{machine}: {sum(r['pick'] == r['best'] for r in sel)} of {len(sel)} points the fastest tile; "
              f"regret mean {100 * np.mean(regret):.2f}%, largest {100 * max(regret):.1f}%; "
              f"always 64x64: mean {100 * np.mean(always):.2f}%, largest {100 * max(always):.1f}%")


if __name__ == "__main__":
    main()
