"""Per-k cost of the GEMM kernels at the headline points of the paper's Fig. 21 (docs/kernels.md
shows the output): model cycles, the speed-up over the dense HMMA baseline, and the issued
warp-instructions per listed k split into OHMMAs and the rest, by opcode. Run by hand (not in CI;
about 3 minutes on one core at the default size):

    python benchmarks/gemm_per_k.py [--size 512] [--sms 4] [--points 0/0,0/0.99] [--modes spgemm,spgemm_a] [--json out.json]

"tensor/k" counts issued OHMMAs (executed or predicated off; HMMA.884 steps for hmma; for
spgemm_seq its sequenced SpWMMAs, one per listed k, on a machine with the sequencer; for
spgemm_wide its sequenced SpWMMAs, four per record of its warp tile (64x64, 128x32 or 32x128, as
kernels.wide_tile picks; the program that ran is printed), with
tensor.accbufs_per_warp = 4 as well), "other/k"
every other issued warp-instruction of the run (set-up, bitmap scans and the store included). A
"listed k" is a (32x32 warp tile, k) pair the kernel has to compute: for spgemm one whose A
column slice and B row slice are both non-empty (spgemm_wide too: its figures are per 32x32 unit,
comparable with spgemm's), for spgemm_a one whose A slice is non-empty (B
goes in dense), for owmma every (tile, k); hmma's figure is per 32x32 unit of C and k, for
comparison. Every number comes from the cycle model running the program (Device.v100_slice: the
default V100 description on a few SMs, each keeping its share of L2 and DRAM bandwidth); every
product is checked against NumPy within kernels.error_bound.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import otc_emu
from otc_emu import kernels, sparse

#: (A sparsity, B sparsity): the points issue 13 asks about.
POINTS = ((0.0, 0.0), (0.25, 0.0), (0.75, 0.0), (0.0, 0.99), (0.99, 0.99), (0.999, 0.99))


def operands(size: int, sa: float, sb: float) -> tuple[np.ndarray, np.ndarray]:
    # the same operands as benchmarks/gemm_speedups.py
    rng = np.random.default_rng(2021)
    a = sparse.prune_random(rng.standard_normal((size, size)), sa, seed=11)
    b = sparse.prune_random(rng.standard_normal((size, size)), sb, seed=12)
    return a, b


def listed_k(a: np.ndarray, b: np.ndarray, mode: str) -> int:
    """(32x32 tile, k) pairs the mode computes (see the module docs)."""
    tm, tn = -(-a.shape[0] // 32), -(-b.shape[1] // 32)
    if mode in ("owmma", "hmma"):
        return tm * tn * a.shape[1]
    ap = np.zeros((tm * 32, a.shape[1]), bool)
    ap[: a.shape[0]] = a != 0
    bp = np.zeros((b.shape[0], tn * 32), bool)
    bp[:, : b.shape[1]] = b != 0
    a_nonempty = ap.reshape(tm, 32, -1).any(axis=1).astype(np.int64)  # (tm, K)
    b_nonempty = bp.reshape(-1, tn, 32).any(axis=2).astype(np.int64)  # (K, tn)
    if mode == "spgemm_a":
        return int(a_nonempty.sum()) * tn
    return int((a_nonempty @ b_nonempty).sum())


def is_tensor_step(opcode: str) -> bool:
    """An OHMMA (dense or sparse, issued or predicated off), a sequenced SpWMMA or an HMMA.884 step."""
    return opcode.startswith(("HMMA.OHMMA", "HMMA.884", "HMMA.SPWMMA"))


#: What the modes beyond the paper need on top of the machine (nothing else changes).
BEYOND = {"spgemm_seq": {"tensor.spwmma_sequencer": True}, "spgemm_wide": kernels.WIDE_MACHINE}


def run(a: np.ndarray, b: np.ndarray, mode: str, sms: int, machine: str = "v100") -> dict:
    dev = otc_emu.Device.v100_slice(sms, machine=machine, **BEYOND.get(mode, {}))
    res = kernels.gemm(a, b, mode=mode, device=dev)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    if not np.all(np.abs(res.c - exact) <= kernels.error_bound(a, b)):
        raise SystemExit(f"{mode}: result outside the documented error bound")
    c = res.stats.counters
    listed = listed_k(a, b, mode)
    warp = {op: v["warp"] for op, v in res.stats.by_opcode.items()}
    ohmma = sum(n for op, n in warp.items() if is_tensor_step(op))
    other = c["warp_instructions"] - ohmma
    by_op: dict[str, float] = {}
    for op, n in warp.items():
        if not is_tensor_step(op):
            name = op.split(".")[0]
            by_op[name] = by_op.get(name, 0) + n / max(listed, 1)
    sub_cores = sms * dev.timing_config["sm.sub_cores"]
    # stall counters add up over the sub-cores: shares of all sub-cores' cycles
    stalls = {k[len("stall."):]: v / (c["cycles"] * sub_cores) for k, v in c.items() if k.startswith("stall.")}
    return {"cycles": c["cycles"], "listed_k": listed, "warp_instructions": c["warp_instructions"],
            "ohmma_issued": ohmma, "ohmma_executed": c.get("ohmma.executed", 0) + c.get("spwmma.ohmmas", 0),
            "hmma_executed": c.get("hmma.executed", 0),
            "non_ohmma_per_k": other / max(listed, 1), "ohmma_issued_per_k": ohmma / max(listed, 1),
            "non_ohmma_by_opcode_per_k": dict(sorted(by_op.items(), key=lambda x: -x[1])),
            "stall_share": stalls, "tensor_utilization": res.stats.metrics.get("tensor.utilization"),
            **({"warp_tile": res.tile, "program": res.program} if res.tile else {})}


def _points(text: str) -> tuple[tuple[float, float], ...]:
    try:
        return tuple((float(p.split("/")[0]), float(p.split("/")[1])) for p in text.split(","))
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"expected A/B sparsity pairs like 0/0.99,0.75/0, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="M = N = K (default 512)")
    ap.add_argument("--sms", type=int, default=4, help="SMs of the V100 slice (default 4)")
    ap.add_argument("--points", type=_points, default=POINTS, help="A/B sparsity pairs, comma-separated")
    ap.add_argument("--modes", default="spgemm,spgemm_a", help="sparse modes to run per point (spgemm, spgemm_a, spgemm_seq, spgemm_wide)")
    ap.add_argument("--machine", default="v100", help="machine file (v100, dstc-paper); the modes beyond the paper add their keys")
    ap.add_argument("--verbose", action="store_true", help="print the per-opcode split and stall shares")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in ("spgemm", "spgemm_a", "spgemm_seq", "spgemm_wide") for m in modes):
        ap.error(f"--modes takes spgemm, spgemm_a, spgemm_seq and spgemm_wide, got {args.modes!r}")

    a, b = operands(args.size, 0.0, 0.0)
    dense = {mode: run(a, b, mode, args.sms, args.machine) for mode in ("hmma", "owmma")}
    base = dense["hmma"]["cycles"]
    print(f"{args.size}^3 on {args.sms} SMs (Device.v100_slice({args.sms}, machine={args.machine!r}))")
    header = f"{'mode':<9}{'A':>7}{'B':>7}{'cycles':>10}{'x hmma':>8}{'listed k':>10}{'tensor/k':>9}{'other/k':>9}"
    print(header)
    def line(mode, sa, sb, r):
        print(f"{mode:<9}{sa:>7}{sb:>7}{r['cycles']:>10}{base / r['cycles']:>8.2f}{r['listed_k']:>10}"
              f"{r['ohmma_issued_per_k']:>9.2f}{r['non_ohmma_per_k']:>9.2f}" + (f"  {r['program']}" if "program" in r else ""), flush=True)
        if args.verbose:
            print("    other per k: " + ", ".join(f"{k} {v:.2f}" for k, v in r["non_ohmma_by_opcode_per_k"].items() if v >= 0.05))
            print("    stalls: " + ", ".join(f"{k} {v:.0%}" for k, v in sorted(r["stall_share"].items(), key=lambda x: -x[1]) if v >= 0.02))
    for mode in ("hmma", "owmma"):
        line(mode, 0.0, 0.0, dense[mode])
    cases = []
    for sa, sb in args.points:
        a, b = operands(args.size, sa, sb)
        for mode in modes:
            r = run(a, b, mode, args.sms, args.machine)
            r.update({"mode": mode, "a_sparsity": sa, "b_sparsity": sb, "speedup": base / r["cycles"]})
            cases.append(r)
            line(mode, sa, sb, r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"size": args.size, "sms": args.sms, "machine": args.machine, "dense": dense, "cases": cases}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
