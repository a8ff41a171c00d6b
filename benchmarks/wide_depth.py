"""spgemm_wide's pipeline depth: the depth ``kernels.wide_depth`` picks against depth 3 (the program
before the choice), with hmma, at the headline points (docs/kernels.md "Pipeline depth"):

    python benchmarks/wide_depth.py [--sizes 1024 2048] [--sms 80] [--machines v100 dstc-paper]
                                    [--points A0/B99 A75/B0 A99.9/B99] [--out FILE.jsonl]

Per size, machine and point: the model cycles of hmma (run once per size and machine: its cycles
do not depend on the sparsity), of spgemm_wide at depth 3 and at the chosen depth, and the
speedups. Run by hand (minutes; 4096^3 takes about an hour on two cores), not in CI."""
from __future__ import annotations

import argparse
import json
from unittest import mock

import otc_emu
from otc_emu import kernels
from otc_emu.experiments.ablation import POINTS
from otc_emu.experiments.workloads import gemm_operands


def run(n: int, sms: int, machine: str, points: list[str]) -> list[dict]:
    rows, hmma = [], None
    for label, sa, sb, _ in POINTS:
        if label not in points:
            continue
        a, b = gemm_operands(n, n, n, sa, sb, 0)
        if hmma is None:
            hmma = kernels.gemm(a, b, mode="hmma", device=otc_emu.Device.v100_slice(sms, machine=machine)).stats.counters["cycles"]
        dev = otc_emu.Device.v100_slice(sms, machine=machine, **kernels.WIDE_MACHINE)
        chosen = kernels.wide_depth(dev, (n // 64) ** 2)
        cycles = {}
        for depth in sorted({3, chosen}):
            with mock.patch.object(kernels, "wide_depth", lambda d, c, tile="64x64": depth):
                cycles[depth] = kernels.gemm(a, b, mode="spgemm_wide", device=dev, wide_tile="64x64").stats.counters["cycles"]
        row = {"size": n, "sms": sms, "machine": machine, "point": label, "hmma": hmma, "depth": chosen,
               "cycles_depth3": cycles[3], "cycles": cycles[chosen],
               "speedup_depth3": round(hmma / cycles[3], 3), "speedup": round(hmma / cycles[chosen], 3)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    p.add_argument("--sms", type=int, default=80)
    p.add_argument("--machines", nargs="+", default=["v100", "dstc-paper"])
    p.add_argument("--points", nargs="+", default=["A0/B99", "A75/B0", "A99.9/B99"])
    p.add_argument("--out", default=None, help="also write the rows here (JSON lines)")
    args = p.parse_args()
    rows = [r for n in args.sizes for m in args.machines for r in run(n, args.sms, m, args.points)]
    if args.out:
        with open(args.out, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)


if __name__ == "__main__":
    main()
