"""Model cycles of the structured-sparse GEMM modes (issue 18: sp24, hss) next to the dense hmma baseline:
1024^3 with B dense and A pruned to 2:4, C1(2:4)->C0(2:4) and C1(2:8)->C0(2:4), on an 8-SM slice, on
both shipped machines; a markdown table (docs/hss.md "Measured" quotes it). Every result is checked
against NumPy within kernels.error_bound. About 2 minutes on one core.

    python3 benchmarks/structured_gemm.py [--n 1024] [--sms 8]
"""
import argparse

import numpy as np

import otc_emu
from otc_emu import kernels, sparse

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--n", type=int, default=1024)
p.add_argument("--sms", type=int, default=8)
args = p.parse_args()
n, sms = args.n, args.sms
rng = np.random.default_rng(0)
x = rng.standard_normal((n, n))
b = rng.standard_normal((n, n)).astype(np.float16)
print("| machine | mode (A pattern) | density | cycles | speedup | tensor cycles / sub-core | smem wavefronts / SM "
      "| global bytes read | stall memory / unit_busy (% of sub-core cycles) |")
print("|---|---|---|---|---|---|---|---|---|")
for machine in ("v100", "dstc-paper"):
    base = None
    for mode, spec, dens in [('hmma', 'C0(2:4)', '1/2 (run dense)'), ('sp24', 'C0(2:4)', '1/2'), ('hss', 'C1(2:4)->C0(2:4)', '1/4'), ('hss', 'C1(2:8)->C0(2:4)', '1/8')]:
        a = sparse.prune_hss(x, spec)
        r = kernels.gemm(a, b, mode=mode, device=otc_emu.Device.v100_slice(sms, machine=machine))
        c, m = r.stats.counters, r.stats.metrics
        assert np.all(np.abs(r.c - a.astype(np.float64) @ b) <= kernels.error_bound(a, b))
        base = base or c['cycles']
        print(f"| {machine} | {mode} ({spec}) | {dens} | {c['cycles']:,} | {base / c['cycles']:.2f} | {c['tensor.busy_cycles'] // (sms * 4):,} | "
              f"{c['smem.wavefronts'] // sms:,} | {c['gmem.read_bytes']:,} | {100 * m['stall_fraction.memory']:.0f} / {100 * m['stall_fraction.unit_busy']:.0f} |", flush=True)
