"""spgemm_wide's CTA order (``kernels.wide_order``, docs/kernels.md "CTA order") measured: per
point, machine and placement (``gpu.cta_dispatch``), the GEMM under the rule's order and under
the forced other one, with the counters that explain the difference (DRAM bytes, L1 hits, L2
lookups). One JSON line per run, printed and appended to --out. Not for CI: at 4096^3 one run
takes 0.2-5 CPU-minutes on a 2-core host.

    python benchmarks/wide_order.py [--size 4096] [--machine dstc-paper] [--dispatch static]
        [--points A99.9/B99,A0/B99] [--orders rule,0,1] [--out FILE]

``--orders``: ``rule`` runs what ``kernels.gemm`` picks; 0 and 1 force that order
(``kernels.gemm(cta_order=...)``). The ``rule`` column is what the rule picks on that machine and
placement, whichever order ran.
"""
import argparse
import json
import time

from otc_emu import Device, kernels
from otc_emu.experiments.workloads import gemm_operands


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--sms", type=int, default=80)
    ap.add_argument("--machine", default="dstc-paper")
    ap.add_argument("--dispatch", default="static", choices=["static", "dynamic"])
    ap.add_argument("--points", default="A99.9/B99,A0/B99,A75/B0")
    ap.add_argument("--orders", default="rule,0,1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="append the JSON lines to this file")
    args = ap.parse_args()
    for point in args.points.split(","):
        sa, sb = (float(x) / 100 for x in point.removeprefix("A").split("/B"))
        a, b = gemm_operands(args.size, args.size, args.size, sa, sb, args.seed)
        rule = None
        for order in args.orders.split(","):
            dev = Device.v100_slice(args.sms, machine=args.machine, **kernels.WIDE_MACHINE,
                                    **{"gpu.cta_dispatch": args.dispatch})
            if rule is None:  # what kernels.gemm picks for this launch (padding aside: sizes are multiples of 64)
                program = kernels.WIDE_DEPTHS[kernels.wide_depth(dev, (args.size // 64) ** 2)]
                rule = kernels.wide_launch_order(kernels.spgemm_wide_operand(a, "A")[0], kernels.spgemm_wide_operand(b, "B")[0],
                                                 dev, program)
            t0 = time.process_time()
            r = kernels.gemm(a, b, mode="spgemm_wide", device=dev, cta_order=None if order == "rule" else int(order),
                             wide_tile="64x64")  # the order rule is the 64x64 tile's
            c = dict(r.stats.counters)
            row = {"size": args.size, "sms": args.sms, "machine": args.machine, "dispatch": args.dispatch,
                   "point": point, "rule": rule, "order": r.order, "program": r.program, "cycles": r.stats.cycles,
                   "dram_read_mb": round(c["dram.read_bytes"] / 2**20, 1), "dram_write_mb": round(c["dram.write_bytes"] / 2**20, 1),
                   "l1_hits": c["l1.hits"], "l2_lookups": c["l2.hits"] + c["l2.misses"], "cpu_s": round(time.process_time() - t0, 1)}
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
