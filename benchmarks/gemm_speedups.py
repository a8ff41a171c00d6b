"""Model cycles of the GEMM kernels and the speed-ups of the sparse ones over the dense HMMA
baseline, over a grid of A and B sparsities (docs/kernels.md shows the output). Run by hand (not
in CI; 1024^3 takes several minutes on one core):

    python benchmarks/gemm_speedups.py [--size 1024] [--sms 80] [--a 0,0.25,...] [--b 0,0.5,0.9,0.99] [--json out.json]

``--sms N`` runs on a slice of the V100: N SMs with the L2 and DRAM bandwidth scaled by N / 80, so
each SM keeps its share. A small slice runs many CTAs per SM in sequence, as the full GPU does
at sizes too large to emulate (4096^3 puts 51 CTAs of 64x64 on each of 80 SMs; 1024^3 on 8 SMs
puts 32), so the tail of a partly filled last wave weighs less.

Every number is the cycle model's count for the program it ran (otc_emu.kernels.gemm with the
default V100 description); every product is checked against NumPy within kernels.error_bound.
Operands: standard-normal fp16 values, pruned at random to the given sparsity
(otc_emu.sparse.prune_random, fixed seeds), so the run is deterministic.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import otc_emu
from otc_emu import kernels, sparse

A_SPARSITY = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999)
B_SPARSITY = (0.0, 0.5, 0.9, 0.99)


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sparsities, got {text!r}") from None
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"sparsities must be in [0, 1], got {text!r}")
    return values


def operands(size: int, sa: float, sb: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2021)
    a = sparse.prune_random(rng.standard_normal((size, size)), sa, seed=11)
    b = sparse.prune_random(rng.standard_normal((size, size)), sb, seed=12)
    return a, b


V100_SMS = 80


def device(sms: int) -> otc_emu.Device:
    """The shipped V100 description on ``sms`` SMs, L2 and DRAM bandwidth scaled to keep each SM's share."""
    return otc_emu.Device.v100_slice(sms)


def run(a: np.ndarray, b: np.ndarray, mode: str, sms: int) -> dict:
    t0 = time.perf_counter()
    res = kernels.gemm(a, b, mode=mode, device=device(sms))
    wall = time.perf_counter() - t0
    exact = a.astype(np.float64) @ b.astype(np.float64)
    if not np.all(np.abs(res.c - exact) <= kernels.error_bound(a, b)):
        raise SystemExit(f"{mode}: result outside the documented error bound")
    c = res.stats.counters
    return {"cycles": c["cycles"], "ohmma_executed": c.get("ohmma.executed", 0),
            "hmma_executed": c.get("hmma.executed", 0), "tensor_utilization": res.stats.metrics["tensor.utilization"],
            "warp_instructions": c["warp_instructions"], "wall_s": round(wall, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024, help="M = N = K (default 1024)")
    ap.add_argument("--sms", type=int, default=V100_SMS, help="SMs (default 80, the V100); bandwidth scales with them")
    ap.add_argument("--a", type=_floats, default=A_SPARSITY, help="A sparsities, comma-separated")
    ap.add_argument("--b", type=_floats, default=B_SPARSITY, help="B sparsities, comma-separated")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args(argv)
    if args.size < 1:
        ap.error(f"--size must be >= 1, got {args.size}")
    if not 1 <= args.sms <= V100_SMS:
        ap.error(f"--sms must be in 1..{V100_SMS}, got {args.sms}")

    a, b = operands(args.size, 0.0, 0.0)
    dense = {mode: run(a, b, mode, args.sms) for mode in ("hmma", "owmma")}
    base = dense["hmma"]["cycles"]
    print(f"{args.size}^3 on {args.sms} SMs: hmma {base} cycles, owmma {dense['owmma']['cycles']} cycles", flush=True)
    cases = []
    for sa in args.a:
        for sb in args.b:
            a, b = operands(args.size, sa, sb)
            case = {"a_sparsity": sa, "b_sparsity": sb, "spgemm": run(a, b, "spgemm", args.sms)}
            if sb == 0.0:  # single-side (A only) on the same operands
                case["spgemm_a"] = run(a, b, "spgemm_a", args.sms)
            case["speedup"] = round(base / case["spgemm"]["cycles"], 3)
            cases.append(case)
            print(f"A {sa:<6} B {sb:<5} spgemm {case['spgemm']['cycles']:>9} cycles  x{case['speedup']:<7}"
                  + (f" spgemm_a x{base / case['spgemm_a']['cycles']:.3f}" if "spgemm_a" in case else ""), flush=True)
    out = {"size": args.size, "sms": args.sms, "config": "v100 (bandwidth scaled to the SMs)", "dense": dense, "cases": cases}
    print()
    print("speed-up of spgemm over hmma (rows: A sparsity, columns: B sparsity)")
    print("A \\ B   " + "".join(f"{sb:>8}" for sb in args.b))
    for sa in args.a:
        row = [c["speedup"] for c in cases if c["a_sparsity"] == sa]
        print(f"{sa:<8}" + "".join(f"{x:>8.2f}" for x in row))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
