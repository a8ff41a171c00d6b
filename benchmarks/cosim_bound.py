"""Issue 16: what co-simulation bounds. A kernel whose trace does not compress (every thread
walks a table at pseudo-random positions from an LCG in its registers, so each warp's access
stream is new at every step) run with today's path (whole CTA traces held until the CTA
completes) and with ``Device(cosim=True)`` (one chunk per warp held) over growing walk lengths.
Each run is a fresh subprocess; it reports the peak RSS of the process (VmHWM), the peak RSS
growth over the walk's launch, and the CPU seconds of the launch.

    python3 benchmarks/cosim_bound.py                       # lengths 256 1024 4096, both paths
    python3 benchmarks/cosim_bound.py --lengths 512 2048 --ctas 160 --threads 2
    python3 benchmarks/cosim_bound.py --lengths 8192 32768 --max-trace-bytes 268435456

``--max-trace-bytes`` sets the watchdog that bounds the whole traces by default (2**31): a linear
run whose CTA passes its share stops with a watchdog fault, reported as "stopped" with the peak
it reached.

Not part of CI (seconds to a minute per run)."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import otc_emu

#: The walk: x = x * 1664525 + 1013904223 per step (Numerical Recipes' LCG, mod 2^32), the
#: position is (x >> 8) & mask; every thread sums the table's words at its positions.
SOURCE = """
.kernel lcg_walk
.param ptr table
.param ptr out
.param u32 steps
.param u32 mask
    S2R R0, SR_CTAID.X ;
    S2R R3, SR_TID.X ;
    IMAD R0, R0, c[0x0][0x0], R3 ;               // thread i
    MOV R12, 0x19660d ;                          // LCG multiplier 1664525
    MOV R13, 0x3c6ef35f ;                        // LCG increment 1013904223
    IMAD R1, R0, R12, R13 ;                      // x = i * a + c: each thread its own walk
    MOV R8, 0x4 ;
    MOV R10, RZ ;                                // sum
    MOV R11, c[0x0][0x170] ;                     // steps left
loop:
    IMAD R1, R1, R12, R13 ;                      // x = x * a + c
    SHF.R.U32.HI R2, RZ, 0x8, R1 ;
    LOP3.LUT R2, R2, c[0x0][0x174], RZ, 0xc0, !PT ; // position = (x >> 8) & mask
    IMAD.WIDE.U32 R4, R2, R8, c[0x0][0x160] ;    // &table[position]
    LDG.E.SYS R6, [R4] ;
    IADD3 R10, R10, R6, RZ ;                     // sum += table[position]
    IADD3 R11, R11, -0x1, RZ ;
    ISETP.NE.AND P0, PT, R11, RZ, PT ;
@P0 BRA loop ;
    IMAD.WIDE.U32 R4, R0, R8, c[0x0][0x168] ;
    STG.E.SYS [R4], R10 ;                        // out[i] = sum
    EXIT ;
.end
"""

TABLE_WORDS = 1 << 18  # 1 MiB: the walk's accesses mostly miss L1 and spread over L2


def reference(threads: int, steps: int, table: np.ndarray) -> np.ndarray:
    """The walk's sums computed by NumPy (uint32 wrapping arithmetic)."""
    x = np.arange(threads, dtype=np.uint64) * 1664525 + 1013904223
    x &= 0xFFFFFFFF
    total = np.zeros(threads, dtype=np.uint64)
    for _ in range(steps):
        x = (x * 1664525 + 1013904223) & 0xFFFFFFFF
        total += table[(x >> 8) & (TABLE_WORDS - 1)]
    return (total & 0xFFFFFFFF).astype(np.uint32)


def peak_rss() -> int:
    """Peak resident bytes of this process image (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def probe(steps: int, ctas: int, block: int, cosim: bool, threads: int, max_trace_bytes: int | None) -> dict:
    """In this (fresh) process: one walk launch; peak RSS before and after, CPU seconds."""
    table = np.random.default_rng(16).integers(0, 1 << 20, TABLE_WORDS, dtype=np.uint32)
    limit = {} if max_trace_bytes is None else {"max_trace_bytes": max_trace_bytes}
    dev = otc_emu.Device(threads=threads, cosim=cosim, **limit)
    prog = otc_emu.assemble(SOURCE, "lcg_walk.sass")
    t = dev.to_device(table)
    out = dev.zeros(ctas * block, np.uint32)
    before = peak_rss()
    cpu = time.process_time()
    try:
        res = dev.launch(prog, "lcg_walk", ctas, block, [t, out, np.uint32(steps), np.uint32(TABLE_WORDS - 1)])
    except otc_emu.GuestFault as f:
        if "max_trace_bytes" not in str(f):
            raise
        return {"steps": steps, "cosim": cosim, "peak_before": before, "peak_after": peak_rss(),
                "cpu_s": time.process_time() - cpu, "cycles": None, "how": f"stopped: {str(f)[:90]}..."}
    cpu = time.process_time() - cpu
    after = peak_rss()
    if not np.array_equal(out.numpy(), reference(ctas * block, steps, table)):
        raise SystemExit("lcg_walk: wrong sums")
    how = dev._dev.last_cosim() if cosim else None
    return {"steps": steps, "cosim": cosim, "peak_before": before, "peak_after": after, "cpu_s": cpu,
            "cycles": res.stats.counters["cycles"], "warp_instructions": res.stats.counters["warp_instructions"],
            "how": how}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 4096], help="LCG steps per thread")
    ap.add_argument("--ctas", type=int, default=160, help="grid (CTAs); default 2 per SM of the v100")
    ap.add_argument("--block", type=int, default=128, help="threads per CTA")
    ap.add_argument("--threads", type=int, default=1, help="host threads")
    ap.add_argument("--max-trace-bytes", type=int, default=None, help="the watchdog's limit (default: the device's)")
    ap.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cosim", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(probe(args.lengths[0], args.ctas, args.block, args.cosim, args.threads, args.max_trace_bytes)))
        return 0
    print(f"lcg_walk: {args.ctas} CTAs of {args.block} threads, {args.threads} host thread(s)")
    print(f"{'steps':>6} {'path':>7} {'peak RSS':>9} {'launch growth':>14} {'CPU s':>7} {'cycles':>10}")
    for steps in args.lengths:
        for cosim in (False, True):
            cmd = [sys.executable, __file__, "--probe", "--lengths", str(steps), "--ctas", str(args.ctas),
                   "--block", str(args.block), "--threads", str(args.threads)] + (["--cosim"] if cosim else [])
            if args.max_trace_bytes is not None:
                cmd += ["--max-trace-bytes", str(args.max_trace_bytes)]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            grow = r["peak_after"] - r["peak_before"]
            path = "cosim" if cosim else "linear"
            print(f"{steps:>6} {path:>7} {r['peak_after'] / 2**20:>5.0f} MiB {grow / 2**20:>10.0f} MiB "
                  f"{r['cpu_s']:>7.2f} {r['cycles'] or 0:>10,}" + (f"  ({r['how']})" if r["how"] else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
