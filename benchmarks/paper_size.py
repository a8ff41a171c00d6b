"""The headline points of Fig. 21 at the paper's size: hmma and spgemm_wide (with
kernels.WIDE_MACHINE's keys on top of the machine) on M = N = K = SIZE over all 80 SMs, per
machine. One JSON line per GEMM (model cycles, warp-instructions, whether the result is within the
NumPy bound, wall and CPU seconds) is printed and appended to --out;
the speedups follow at the end. Every 4096^3 table of docs/paper.md comes from one of the
commands below. Not for CI: at 4096 each GEMM is 1-7 minutes on a 2-core host.

    python benchmarks/paper_size.py [--size 4096] [--machines v100,dstc-paper] [--out FILE]
    python benchmarks/paper_size.py --machines dstc-paper --points 0:0.99,0.999:0.99,0.75:0,0.5:0,0.25:0,0:0
    python benchmarks/paper_size.py --machines dstc-paper --modes hmma,owmma --points 0:0
    python benchmarks/paper_size.py --machines dstc-paper --set gpu.cta_dispatch=dynamic   # GPGPU-Sim's dispatch
    python benchmarks/paper_size.py --bridge dstc-paper --points 0:0.99,0.999:0.99,0.75:0  # each premise added in turn

``--bridge MACHINE`` runs, instead of --machines, v100 and then v100 with the premises of MACHINE
added one at a time in the order of its file (the ablation's steps, ``ablation.steps``: the last is
MACHINE itself). ``--set key=value`` (repeatable) applies on top of every machine.
"""
import argparse
import json
import time

import numpy as np

from otc_emu import kernels
from otc_emu.cli import device_spec
from otc_emu.experiments.workloads import gemm_operands, gemm_point, mode_spec, slice_device

POINTS = [(0.0, 0.99), (0.999, 0.99), (0.75, 0.0)]  # (A zeros, B zeros)


def parse_points(text: str) -> list[tuple[float, float]]:
    """``A:B,A:B,...`` (fractions of zeros) as (A, B) pairs."""
    out = []
    for item in text.split(","):
        a, sep, b = item.partition(":")
        try:
            pair = (float(a), float(b))
        except ValueError:
            pair = None
        if not sep or pair is None or not all(0.0 <= x <= 1.0 for x in pair):
            raise SystemExit(f"--points takes A:B pairs of zero fractions in [0, 1] (such as 0:0.99), got {item!r}")
        out.append(pair)
    return out


def machines_to_run(args) -> list[tuple[str, dict]]:
    """(label, device spec without the mode's keys) per machine: --machines, or --bridge's steps."""
    extra = device_spec(argparse.Namespace(set=args.set))["settings"]  # the CLI's --set parsing
    if args.bridge:
        from otc_emu.experiments.ablation import premises, steps

        n = 1 + len(premises(args.bridge))  # v100, then one step per premise (the ablation's first steps)
        # a step's settings go in as the machine configuration, so that a slice (--sms) gets its
        # share of a premise's bandwidths, as the ablation does; --set stays absolute
        return [(st["step"], {"config": st["settings"] or None, "settings": dict(extra)}) for st in steps(args.bridge)[:n]]
    return [(m, {"machine": m, "settings": dict(extra)}) for m in args.machines.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--sms", type=int, default=80)
    ap.add_argument("--machines", default="v100,dstc-paper")
    ap.add_argument("--bridge", default=None, metavar="MACHINE",
                    help="v100, then the premises of MACHINE added one at a time (instead of --machines)")
    ap.add_argument("--points", default=None, metavar="A:B,...",
                    help="sparsity points, fractions of zeros in A and B (default 0:0.99,0.999:0.99,0.75:0)")
    ap.add_argument("--modes", default="hmma,spgemm_wide",
                    help="GEMM modes (default hmma,spgemm_wide; hmma runs once per machine: its cycles do not depend on the data)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a machine setting on top of every machine")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="append the JSON lines to this file")
    args = ap.parse_args()
    points = parse_points(args.points) if args.points else POINTS
    modes = args.modes.split(",")
    machines = machines_to_run(args)
    rows = []
    dense: dict[tuple[str, str], int] = {}  # hmma's and owmma's cycles do not depend on the data: one run per machine
    for sa, sb in points:
        a, b = gemm_operands(args.size, args.size, args.size, sa, sb, args.seed)
        for label, base in machines:
            for mode in modes:
                if (label, mode) in dense:
                    continue
                t0, c0 = time.time(), time.process_time()
                r = gemm_point(a, b, mode, args.sms, spec=mode_spec(mode, base))
                row = {"size": args.size, "sms": args.sms, "sa": sa, "sb": sb, "machine": label,
                       "settings": {**(base.get("config") or {}), **base["settings"]}, "mode": mode, "cycles": r["cycles"],
                       "warp_instructions": r["warp_instructions"], "ok": r["ok"],
                       "wall_s": round(time.time() - t0, 1), "cpu_s": round(time.process_time() - c0, 1)}
                if mode == "spgemm_wide":  # the warp tile kernels.gemm picked (the same rule, again: deterministic)
                    row["tile"] = kernels.wide_tile(a.astype(np.float16), b.astype(np.float16),
                                                    slice_device(args.sms, mode_spec(mode, base)))
                if mode in ("hmma", "owmma"):
                    dense[(label, mode)] = r["cycles"]
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    for row in rows:
        hmma = dense.get((row["machine"], "hmma"))
        if row["mode"] != "hmma" and hmma:
            print(f"{row['machine']:>24} A {100 * row['sa']:g}% / B {100 * row['sb']:g}%: "
                  f"{row['mode']} {hmma / row['cycles']:.2f}x over hmma")


if __name__ == "__main__":
    main()
