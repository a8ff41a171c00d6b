"""sparse_implicit_wide with 4, 2 and 1 channel tiles per warp against dense_implicit and
sparse_implicit on whole layers at batch 1 (docs/conv.md, section 3b, quotes the table): model
cycles and the tiles per warp conv.wide_units picks. Run by hand (about 2 minutes):

    python benchmarks/conv_wide_units.py [--machine dstc-paper] [--sms 80] [--layers conv4_2,res4]

Operands: ReLU-like feature maps and randomly pruned weights at the layers' fig22 sparsities
(sparse.prune_relu / sparse.prune_random, seed 0). Every result is checked bit for bit against
sparse_implicit's."""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

import otc_emu
from otc_emu import kernels

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conv_speedups import operands  # noqa: E402  (ReLU-like maps, randomly pruned weights)

# name: (N, C, H, W, K, R, S, stride, padding, feature-map zeros, weight zeros), fig22's sparsities
LAYERS = {
    "conv4_2": ((1, 512, 28, 28, 512, 3, 3, 1, 1, 0.75, 0.70), "VGG-16 conv4_2 (512 -> 512, 28 x 28)"),
    "conv5_1": ((1, 512, 14, 14, 512, 3, 3, 1, 1, 0.80, 0.67), "VGG-16 conv5_1 (512 -> 512, 14 x 14)"),
    "layer4": ((1, 512, 7, 7, 512, 3, 3, 1, 1, 0.80, 0.623), "ResNet-18 layer4 3x3 (512 -> 512, 7 x 7)"),
    "res4": ((1, 256, 50, 50, 256, 3, 3, 1, 1, 0.65, 0.70), "Mask R-CNN res4 3x3 (256 -> 256, 50 x 50)"),
    "conv2_2": ((1, 128, 112, 112, 128, 3, 3, 1, 1, 0.60, 0.64), "VGG-16 conv2_2 (128 -> 128, 112 x 112)"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--machine", default="dstc-paper", help="machine (v100, dstc-paper); kernels.WIDE_MACHINE is set on top")
    ap.add_argument("--sms", type=int, default=80, help="SMs of the V100 slice (default 80)")
    ap.add_argument("--layers", default=",".join(LAYERS), help="comma-separated: " + ", ".join(LAYERS))
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message=".*rounded to float16.*")
    dev = otc_emu.Device.v100_slice(args.sms, machine=args.machine, **kernels.WIDE_MACHINE)
    print(f"| layer (batch 1, {args.machine}, {args.sms} SMs) | Dense Implicit | sparse_implicit | U = 4 | U = 2 | U = 1 | picked |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.layers.split(","):
        shape, title = LAYERS[name]
        x, wt = operands(shape[:9], shape[9], shape[10])
        st, pd = shape[7], shape[8]
        dense = kernels.conv2d(x, wt, st, pd, mode="dense_implicit", device=dev)
        sp = kernels.conv2d(x, wt, st, pd, mode="sparse_implicit", device=dev)
        wide = {u: kernels.conv2d(x, wt, st, pd, mode="sparse_implicit_wide", device=dev, units=u) for u in (4, 2, 1)}
        assert all(np.array_equal(r.y, sp.y) for r in wide.values()), name
        picked = kernels.conv2d(x, wt, st, pd, mode="sparse_implicit_wide", device=dev).units
        cyc = {u: r.stats.counters["cycles"] for u, r in wide.items()}
        print(f"| {title} | {dense.stats.counters['cycles']:,} | {sp.stats.counters['cycles']:,} | "
              + " | ".join(f"{cyc[u]:,}" for u in (4, 2, 1)) + f" | {picked} |", flush=True)


if __name__ == "__main__":
    main()
