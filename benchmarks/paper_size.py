"""The headline points of Fig. 21 at the paper's size: hmma and spgemm_wide (with
kernels.WIDE_MACHINE's keys on top of the machine) on M = N = K = SIZE over all 80 SMs, per
machine. One JSON line per GEMM (model cycles, whether the result is within the NumPy bound, wall
and CPU seconds) is printed and appended to --out; the speedups follow at the end. Not for CI:
at 4096 each GEMM is 2-4 CPU-minutes on a 2-core host.

    python benchmarks/paper_size.py [--size 4096] [--machines v100,dstc-paper] [--out FILE]
"""
import argparse
import json
import time

from otc_emu import kernels
from otc_emu.experiments.workloads import gemm_operands, gemm_point

POINTS = [(0.0, 0.99), (0.999, 0.99), (0.75, 0.0)]  # (A zeros, B zeros)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--sms", type=int, default=80)
    ap.add_argument("--machines", default="v100,dstc-paper")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="append the JSON lines to this file")
    args = ap.parse_args()
    machines = args.machines.split(",")
    rows = []
    hmma: dict[str, int] = {}  # hmma's cycles do not depend on the data: one run per machine
    for sa, sb in POINTS:
        a, b = gemm_operands(args.size, args.size, args.size, sa, sb, args.seed)
        for machine in machines:
            for mode in ["hmma", "spgemm_wide"]:
                if mode == "hmma" and machine in hmma:
                    continue
                spec = {"machine": machine}
                if mode == "spgemm_wide":
                    spec["settings"] = dict(kernels.WIDE_MACHINE)
                t0, c0 = time.time(), time.process_time()
                r = gemm_point(a, b, mode, args.sms, spec=spec)
                row = {"size": args.size, "sms": args.sms, "sa": sa, "sb": sb, "machine": machine, "mode": mode,
                       "cycles": r["cycles"], "ok": r["ok"], "wall_s": round(time.time() - t0, 1),
                       "cpu_s": round(time.process_time() - c0, 1)}
                if mode == "hmma":
                    hmma[machine] = r["cycles"]
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    for row in rows:
        if row["mode"] == "spgemm_wide":
            print(f"{row['machine']:>10} A {100 * row['sa']:g}% / B {100 * row['sb']:g}%: "
                  f"spgemm_wide {hmma[row['machine']] / row['cycles']:.2f}x over hmma")


if __name__ == "__main__":
    main()
