"""Per-k cost of the implicit convolutions (docs/conv.md shows the output): model cycles, the
speed-up over dense_implicit, and the issued warp-instructions per listed k split into OHMMAs and
the rest, by opcode. Run by hand (not in CI; a minute or two on one core):

    python benchmarks/conv_per_k.py [--layer conv4_x] [--sparsity 0.5:0.8 ...] [--modes ...] [--verbose] [--json out.json]

A "listed k" is a (pixel tile, 32-channel tile, k) triple the sparse kernel has to compute: the
tile's lowered column slice (its window) and the weights' row slice of k are both non-empty
(single_sparse_implicit: the B slice non-empty and the tile's window holding a valid output).
"tensor/k" counts issued OHMMAs (executed or predicated off; sparse_implicit_wide: its sequenced
SpWMMAs, one per tile and record, run on Device.v100_slice with kernels.WIDE_MACHINE), "other/k" every other issued
warp-instruction of the run (the im2col, the staging, the list builds and the store included).
Operands as benchmarks/conv_speedups.py (ReLU-like feature maps, randomly pruned weights); every
sparse result is checked against the dense one within conv.error_bound.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import otc_emu
from otc_emu import conv, kernels

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conv_speedups import LAYERS, operands  # noqa: E402

SPARSITIES = [(0.0, 0.0), (0.5, 0.8), (0.7, 0.9), (0.9, 0.95)]


def listed_k(x, w, stride, padding, mode):
    a, b = conv.lowered_operands(x, w, stride, padding)  # (N P Q) x CRS, CRS x K
    n, _, h, wd = x.shape
    p, q = conv.conv_output_size(h, w.shape[2], stride, padding), conv.conv_output_size(wd, w.shape[3], stride, padding)
    a_nz = np.ones(a.shape, bool) if mode == "single_sparse_implicit" else a != 0
    qt = -(-q // 32)
    tile = (np.arange(a.shape[0]) // q) * qt + (np.arange(a.shape[0]) % q) // 32
    window = np.zeros((n * p * qt, a.shape[1]), np.int64)
    np.add.at(window, tile, a_nz.astype(np.int64))
    kt = -(-b.shape[1] // 32)
    bp = np.zeros((b.shape[0], kt * 32), bool)
    bp[:, : b.shape[1]] = b != 0
    b_nonempty = bp.reshape(b.shape[0], kt, 32).any(axis=2).astype(np.int64)
    return int(((window > 0).astype(np.int64) @ b_nonempty).sum())


def run(x, w, stride, padding, mode, sms):
    # the wide mode runs with the keys it needs (kernels.WIDE_MACHINE), the others on the V100 as is
    dev = otc_emu.Device.v100_slice(sms, **(kernels.WIDE_MACHINE if mode in kernels.WIDE_MODES else {}))
    res = conv.conv2d(x, w, stride, padding, mode=mode, device=dev)
    c = res.stats.counters
    warp = {op: v["warp"] for op, v in res.stats.by_opcode.items()}
    tensor = sum(v for op, v in warp.items() if op.startswith("HMMA"))
    out = {"cycles": c["cycles"], "warp_instructions": c["warp_instructions"], "tensor_issued": tensor,
           "ohmma_executed": c.get("ohmma.executed", 0), "ohmma_skipped": c.get("ohmma.skipped", 0), "y": res.y}
    if mode != "dense_implicit":
        listed = listed_k(x, w, stride, padding, mode)
        by_op: dict[str, float] = {}
        for op, v in warp.items():
            if not op.startswith("HMMA"):
                by_op[op.split(".")[0]] = by_op.get(op.split(".")[0], 0) + v / max(listed, 1)
        out.update({"listed_k": listed, "tensor_per_k": tensor / max(listed, 1),
                    "other_per_k": (c["warp_instructions"] - tensor) / max(listed, 1),
                    "other_by_opcode_per_k": dict(sorted(by_op.items(), key=lambda t: -t[1]))})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", default="conv4_x", choices=[name for name, _, _ in LAYERS])
    ap.add_argument("--sparsity", action="append", metavar="SX:SW", help="feature-map:weight sparsity (repeatable)")
    ap.add_argument("--sms", type=int, default=8, help="SMs of the V100 slice (default 8)")
    ap.add_argument("--modes", default="sparse_implicit,single_sparse_implicit",
                    help="sparse modes, comma-separated (sparse_implicit, single_sparse_implicit, sparse_implicit_wide)")
    ap.add_argument("--verbose", action="store_true", help="print the per-opcode split")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args(argv)
    shape = next(s for name, s, _ in LAYERS if name == args.layer)
    stride, padding = shape[7], shape[8]
    pairs = [tuple(float(v) for v in p.split(":")) for p in args.sparsity] if args.sparsity else SPARSITIES
    print(f"{args.layer} {shape[:7]} on {args.sms} SMs (Device.v100_slice({args.sms}))")
    print(f"{'mode':<24}{'X':>6}{'W':>6}{'cycles':>10}{'x dense':>9}{'listed k':>10}{'tensor/k':>9}{'other/k':>9}{'skipped':>9}")
    rows = []
    for sx, sw in pairs:
        x, w = operands(shape, sx, sw)
        dense = run(x, w, stride, padding, "dense_implicit", args.sms)
        bound = conv.error_bound(x, w, stride, padding)
        for mode in args.modes.split(","):
            r = run(x, w, stride, padding, mode, args.sms)
            if not np.all(np.abs(r.pop("y") - dense["y"]) <= 2 * bound):
                raise SystemExit(f"{mode}: result outside the documented error bound")
            r.update({"mode": mode, "sx": sx, "sw": sw, "speedup": dense["cycles"] / r["cycles"], "dense_cycles": dense["cycles"]})
            rows.append(r)
            print(f"{mode:<24}{sx:>6}{sw:>6}{r['cycles']:>10}{r['speedup']:>9.2f}{r['listed_k']:>10}"
                  f"{r['tensor_per_k']:>9.2f}{r['other_per_k']:>9.2f}{r['ohmma_skipped']:>9}", flush=True)
            if args.verbose:
                print("    other per k: " + ", ".join(f"{k} {v:.2f}" for k, v in r["other_by_opcode_per_k"].items() if v >= 0.05))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"layer": args.layer, "sms": args.sms, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
