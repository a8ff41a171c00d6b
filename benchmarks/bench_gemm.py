"""GEMM speed of the emulator against NumPy on the same inputs (issue 8). Run by hand, not in CI:

    python benchmarks/bench_gemm.py                          # 1024^3, quick (a few minutes)
    python benchmarks/bench_gemm.py --sizes 1024,2048,4096 --json gemm.json
    python benchmarks/bench_gemm.py --sizes 512 --modes owmma --no-sparse --untimed

Measured in one process on the same fp16 inputs (standard normal, seeded):

- dense GEMM through ``kernels.gemm(mode=...)`` for each size and mode: wall seconds (and the
  process's CPU seconds, a steadier figure on a busy host), the ratio of wall seconds to
  ``numpy.matmul`` in float32 of the same inputs (best of 3), emulated MACs/s (M*N*K / seconds),
  warp-instructions/s, model cycles, and whether the result is within ``kernels.error_bound``;
- ``spgemm`` at (A, B) sparsity (0.9, 0.9) and (0, 0.99) (fraction of zeros) at the largest size;
- scaling: the first dense GEMM with 1 host thread and with all of them;
- peak resident memory of a fresh process running the first dense GEMM, against the bytes of its
  device allocations (measured in a child process so the peak is that run's own).

The cycle model runs beside every launch (as by default) unless ``--untimed``. Numbers depend on
the host and on what else runs on it: the table prints ratios measured in the same process.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import otc_emu
from otc_emu import kernels


def operands(m: int, n: int, k: int, zeros_a: float = 0.0, zeros_b: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=np.float32).astype(np.float16)
    b = rng.standard_normal((k, n), dtype=np.float32).astype(np.float16)
    if zeros_a:
        a[rng.random((m, k)) < zeros_a] = 0
    if zeros_b:
        b[rng.random((k, n)) < zeros_b] = 0
    return a, b


def numpy_seconds(a, b, repeat: int = 3) -> float:
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        np.matmul(a32, b32)
        best = min(best, time.perf_counter() - t)
    return best


def run_gemm(a, b, mode: str, threads: int | None, timing: bool) -> dict:
    dev = otc_emu.Device(threads=threads, timing=timing)
    t, cpu = time.perf_counter(), time.process_time()
    res = kernels.gemm(a, b, mode=mode, device=dev)
    secs, cpu = time.perf_counter() - t, time.process_time() - cpu
    ref = a.astype(np.float64) @ b.astype(np.float64)
    ok = bool(np.all(np.abs(res.c - ref) <= kernels.error_bound(a, b)))
    m, k = a.shape
    n = b.shape[1]
    c = res.stats.counters
    return {
        "mode": mode, "m": m, "n": n, "k": k, "threads": threads or os.cpu_count(), "timing": timing,
        "seconds": secs, "cpu_seconds": cpu, "macs_per_s": m * n * k / secs, "warp_instructions": c["warp_instructions"],
        "warp_instr_per_s": c["warp_instructions"] / secs, "cycles": c.get("cycles"),
        "ohmma_executed": c["ohmma.executed"], "hmma_executed": c["hmma.executed"], "within_bound": ok,
    }


def device_bytes(mode: str, m: int, n: int, k: int) -> int:
    """Bytes that kernels.gemm allocates on the device for a dense mode (padded operands)."""
    mp, np_, kp = -(-m // 16) * 16, -(-n // 16) * 16, -(-k // 4) * 4
    return 2 * mp * kp + 2 * kp * np_ + 4 * mp * np_


def peak_rss() -> int:
    """Peak resident bytes of this process image (VmHWM; unlike ru_maxrss it is not inherited
    from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_probe(mode: str, size: int, threads: int | None, timing: bool) -> dict:
    """In this (fresh) process: peak RSS before and after one GEMM."""
    a, b = operands(size, size, size)
    dev = otc_emu.Device(threads=threads, timing=timing)
    before = peak_rss()
    # the GEMM alone: run_gemm's float64 reference check would add NumPy's own temporaries
    kernels.gemm(a, b, mode=mode, device=dev)
    after = peak_rss()
    return {"peak_before": before, "peak_after": after}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1024", help="comma-separated square sizes (default: %(default)s)")
    ap.add_argument("--modes", default="owmma,hmma", help="dense modes (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="host threads of the main rows (default: all)")
    ap.add_argument("--untimed", action="store_true", help="cycle model off (functional core alone)")
    ap.add_argument("--no-sparse", action="store_true", help="skip the spgemm rows")
    ap.add_argument("--no-scaling", action="store_true", help="skip the 1-thread row")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory probe")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--memory-probe", nargs=2, metavar=("MODE", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    timing = not args.untimed
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe[0], int(args.memory_probe[1]), args.threads, timing)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in kernels.GEMM_MODES:
            ap.error(f"unknown mode {m!r}; available: {', '.join(kernels.GEMM_MODES)}")
    rows: list[dict] = []

    def show(r: dict, np_secs: float | None):
        r["numpy_seconds"] = np_secs
        r["x_numpy"] = r["seconds"] / np_secs if np_secs else None
        rows.append(r)
        label = f"{r['mode']} {r['m']}^3" if r["m"] == r["n"] == r["k"] else f"{r['mode']} {r['m']}x{r['n']}x{r['k']}"
        if "zeros" in r:
            label += f" zeros {r['zeros'][0]:g},{r['zeros'][1]:g}"
        ratio = f"{r['x_numpy']:9.0f}" if r["x_numpy"] else " " * 9
        cyc = f"{r['cycles']:>13,}" if r["cycles"] is not None else " " * 13
        print(f"{label:36} {r['threads']:>3} {r['seconds']:9.2f} {r['cpu_seconds']:9.2f} {ratio} {r['macs_per_s'] / 1e6:10.1f} "
              f"{r['warp_instr_per_s'] / 1e6:9.2f} {cyc} {'yes' if r['within_bound'] else 'NO':>5}", flush=True)

    print(f"timing {'on' if timing else 'off'}; host threads: {os.cpu_count()}; numpy float32 matmul on the same inputs")
    print(f"{'GEMM':36} {'thr':>3} {'seconds':>9} {'cpu s':>9} {'x numpy':>9} {'M MAC/s':>10} {'M wi/s':>9} {'model cycles':>13} {'bound':>5}")
    for size in sizes:
        a, b = operands(size, size, size)
        np_secs = numpy_seconds(a, b)
        for mode in modes:
            show(run_gemm(a, b, mode, args.threads, timing), np_secs)
    if not args.no_sparse:
        size = max(sizes)
        for za, zb in ((0.9, 0.9), (0.0, 0.99)):
            a, b = operands(size, size, size, za, zb, seed=1)
            r = run_gemm(a, b, "spgemm", args.threads, timing)
            r["zeros"] = [za, zb]
            show(r, numpy_seconds(a, b))
    scaling = None
    if not args.no_scaling and modes:
        size, mode = sizes[0], modes[0]
        a, b = operands(size, size, size)
        one = run_gemm(a, b, mode, 1, timing)
        show(one, numpy_seconds(a, b))
        full = next(r for r in rows if r["mode"] == mode and r["m"] == size and "zeros" not in r)
        scaling = {"mode": mode, "size": size, "threads": full["threads"],
                   "seconds_1": one["seconds"], "seconds_all": full["seconds"], "speedup": one["seconds"] / full["seconds"]}
        print(f"scaling {mode} {size}^3: 1 thread {one['seconds']:.2f} s, {full['threads']} threads "
              f"{full['seconds']:.2f} s: {scaling['speedup']:.2f}x")
    memory = None
    if not args.no_memory and modes:
        size, mode = sizes[0], modes[0]
        cmd = [sys.executable, __file__, "--memory-probe", mode, str(size)]
        if args.untimed:
            cmd.append("--untimed")
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        probe = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        dev = device_bytes(mode, size, size, size)
        memory = {"mode": mode, "size": size, "device_bytes": dev, **probe,
                  "peak_growth": probe["peak_after"] - probe["peak_before"]}
        memory["growth_over_device"] = memory["peak_growth"] / dev
        print(f"memory {mode} {size}^3: device allocations {dev / 2**20:.1f} MiB; peak RSS {probe['peak_before'] / 2**20:.1f} MiB "
              f"before the GEMM (interpreter + inputs), {probe['peak_after'] / 2**20:.1f} MiB after: growth "
              f"{memory['peak_growth'] / 2**20:.1f} MiB = {memory['growth_over_device']:.2f}x the device bytes")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "scaling": scaling, "memory": memory}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
