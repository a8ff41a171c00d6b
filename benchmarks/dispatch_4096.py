"""Static vs dynamic CTA dispatch (``gpu.cta_dispatch``, docs/timing.md section 3.1) on a GEMM
at 4096^3 on the 80 SMs: cycles and the spread of ``stats.sm_cycles`` (the kernel takes as long
as its slowest SM). One run per call (each takes minutes); appends a line to
benchmarks/results/dispatch_4096.jsonl.

    python benchmarks/dispatch_4096.py --machine dstc-paper --mode spgemm_wide --point A0/B99 --dispatch dynamic
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import otc_emu
from otc_emu import kernels
from otc_emu.experiments.workloads import gemm_operands

POINTS = {"A0/B99": (0.0, 0.99), "A99.9/B99": (0.999, 0.99), "dense": (0.0, 0.0)}
OUT = Path(__file__).parent / "results" / "dispatch_4096.jsonl"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--machine", default="dstc-paper")
    p.add_argument("--mode", default="spgemm_wide")
    p.add_argument("--point", default="A0/B99", choices=sorted(POINTS))
    p.add_argument("--dispatch", default="static", choices=["static", "dynamic"])
    p.add_argument("--size", type=int, default=4096)
    args = p.parse_args()
    n = args.size
    a, b = gemm_operands(n, n, n, *POINTS[args.point], 0)
    wide = kernels.WIDE_MACHINE if args.mode == "spgemm_wide" else {}
    dev = otc_emu.Device.v100_slice(80, machine=args.machine, **wide, **{"gpu.cta_dispatch": args.dispatch})
    t0 = time.perf_counter()
    r = kernels.gemm(a, b, mode=args.mode, device=dev)
    wall = time.perf_counter() - t0
    sm = r.stats.to_dict()["sm_cycles"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    row = {
        "machine": args.machine, "size": n, "point": args.point, "mode": args.mode, "dispatch": args.dispatch,
        "cycles": r.stats.to_dict()["counters"]["cycles"], "sm_min": min(sm), "sm_median": statistics.median(sm),
        "sm_max": max(sm), "ctas": r.stats.to_dict()["counters"]["ctas"], "wall": round(wall, 1),
        "cosim": dev.last_cosim, "commit": commit,
    }
    print(json.dumps(row))
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
