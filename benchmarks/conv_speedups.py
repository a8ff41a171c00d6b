"""Model cycles of otc_emu.kernels.conv2d: dense_implicit (HMMA.884) against
single_sparse_implicit (weight zeros skipped) and sparse_implicit (dual side: bitmap im2col +
SpWMMA) on ResNet-18 layers (batch 1; channel counts reduced to keep the emulation affordable,
spatial sizes as in the network), at stated feature-map / weight sparsities. Run by hand (not in
CI); the full table takes about four minutes on a shared core:

    PYTHONPATH=python python benchmarks/conv_speedups.py [--quick] [--json out.json]
        [--layer conv3_x ...] [--sparsity 0.97:0.99 ...]

Every number is measured: the cycle model runs the kernels on the emulated V100 (defaults of
configs/v100.toml), once with its 80 SMs (batch 1: few warps per SM) and once with 8 SMs (the
per-SM load of a batch of 10); each sparse result is checked against the dense one within the
documented bound before it is reported. Feature maps are ReLU-like (``sparse.prune_relu``),
weights pruned at random (``sparse.prune_random``), both from fixed seeds, so the output is
reproducible.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import otc_emu
from otc_emu import conv, sparse

# name, (N, C, H, W, K, R, S, stride, padding), what it stands for
LAYERS = [
    ("conv2_x", (1, 64, 56, 56, 64, 3, 3, 1, 1), "ResNet-18 conv2_x 3x3 (full size)"),
    ("conv3_1", (1, 64, 56, 56, 64, 3, 3, 2, 1), "ResNet-18 conv3_1 3x3/2 (K 128 -> 64)"),
    ("conv3_x", (1, 64, 28, 28, 64, 3, 3, 1, 1), "ResNet-18 conv3_x 3x3 (C, K 128 -> 64)"),
    ("conv4_x", (1, 64, 14, 14, 64, 3, 3, 1, 1), "ResNet-18 conv4_x 3x3 (C, K 256 -> 64)"),
    ("conv5_x", (1, 64, 7, 7, 64, 3, 3, 1, 1), "ResNet-18 conv5_x 3x3 (C, K 512 -> 64)"),
    ("down4", (1, 64, 28, 28, 64, 1, 1, 2, 0), "ResNet-18 conv4_1 1x1/2 shortcut (C 128, K 256 -> 64)"),
]
# (feature-map sparsity, weight sparsity)
SPARSITIES = [(0.0, 0.0), (0.5, 0.5), (0.5, 0.8), (0.7, 0.9), (0.9, 0.95)]
QUICK_LAYERS = {"conv3_x", "conv4_x", "conv5_x"}


def operands(shape, sx, sw, seed=0):
    n, c, h, w, k, r, s, _, _ = shape
    rng = np.random.default_rng(seed)
    x = sparse.prune_relu(rng.standard_normal((n * c, h * w)), sx).reshape(n, c, h, w)
    wt = sparse.prune_random(rng.standard_normal((k, c * r * s)), sw, seed=seed + 1).reshape(k, c, r, s)
    return x, wt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the three smallest layers")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    ap.add_argument("--sparsity", action="append", metavar="SX:SW",
                    help="feature-map:weight sparsity pair to run instead of the default list (repeatable)")
    ap.add_argument("--layer", action="append", choices=[name for name, _, _ in LAYERS],
                    help="run only this layer (repeatable)")
    args = ap.parse_args()
    sparsities = [tuple(float(v) for v in pair.split(":")) for pair in args.sparsity] if args.sparsity else SPARSITIES
    # batch 1 on the whole V100 (80 SMs: few warps per SM, latency-bound), and the same layer on
    # 8 SMs, i.e. the per-SM load of a batch of 10 images on 80 SMs (throughput-bound)
    devices = {80: otc_emu.Device(), 8: otc_emu.Device(**{"gpu.num_sms": 8})}
    rows = []
    modes = ("dense_implicit", "single_sparse_implicit", "sparse_implicit")
    print("| layer | N,C,H,W -> K,RxS/stride | x sp. | w sp. | 80 SMs: dense / single / dual cycles | "
          "80 SMs: single, dual speedup | 8 SMs: dense / single / dual cycles | 8 SMs: single, dual speedup | "
          "dual: OHMMAs executed | warp-instr dense / dual |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, shape, _what in LAYERS:
        if (args.quick and name not in QUICK_LAYERS) or (args.layer and name not in args.layer):
            continue
        n, c, h, w, k, r, s, stride, pad = shape
        for sx, sw in sparsities:
            x, wt = operands(shape, sx, sw)
            bound = conv.error_bound(x, wt, stride, pad)
            row = dict(layer=name, shape=list(shape), x_sparsity=sx, w_sparsity=sw)
            t0 = time.time()
            cells = []
            for sms, dev in devices.items():
                res = {m: conv.conv2d(x, wt, stride, pad, mode=m, device=dev) for m in modes}
                for m in modes[1:]:
                    # each is within `bound` of the exact result, so they are within 2 * bound of each other
                    assert np.all(np.abs(res[m].y - res["dense_implicit"].y.astype(np.float64)) <= 2 * bound), name
                cyc = {m: res[m].stats.counters["cycles"] for m in modes}
                for m in modes:
                    row[f"{m}_cycles_{sms}"] = cyc[m]
                row[f"single_speedup_{sms}"] = cyc["dense_implicit"] / cyc["single_sparse_implicit"]
                row[f"dual_speedup_{sms}"] = cyc["dense_implicit"] / cyc["sparse_implicit"]
                cells.append(" / ".join(str(cyc[m]) for m in modes))
                cells.append(f"{row[f'single_speedup_{sms}']:.2f}x, {row[f'dual_speedup_{sms}']:.2f}x")
            sp, dense = res["sparse_implicit"], res["dense_implicit"]
            row.update(ohmma_executed=sp.stats.counters["ohmma.executed"],
                       dense_warp_instructions=dense.stats.counters["warp_instructions"],
                       sparse_warp_instructions=sp.stats.counters["warp_instructions"], wall_s=round(time.time() - t0, 1))
            rows.append(row)
            print(f"| {name} | {n},{c},{h},{w} -> {k},{r}x{s}/{stride} | {sx:.2f} | {sw:.2f} | " + " | ".join(cells)
                  + f" | {row['ohmma_executed']} | {row['dense_warp_instructions']} / {row['sparse_warp_instructions']} |",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
