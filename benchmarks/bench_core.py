"""Functional-core throughput: warp-instructions per second for an ALU-bound kernel (integer and
FP32 mix with divergence) and for nvcc's wmma GEMM (HMMA.884), with NumPy on the same data beside
it. Run by hand (not in CI):

    python benchmarks/bench_core.py [--threads N] [--timing] [--json out.json]

The cycle model is off unless --timing is given (then the time includes it).

Numbers depend on the host; the table prints ratios measured in the same process.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import otc_emu

ROOT = Path(__file__).resolve().parents[1]

# Each thread loops `iters` times over an integer/FP32 mix; odd lanes take an extra branch, so
# the warp diverges and reconverges every iteration (BSSY/BSYNC like nvcc's code).
ALU_KERNEL = """
.kernel alu_mix
.param ptr out
.param u32 iters
    S2R R0, SR_TID.X ;
    S2R R1, SR_CTAID.X ;
    IMAD R0, R1, c[0x0][0x0], R0 ;
    MOV R2, c[0x0][0x168] ;                 // loop counter
    I2F R3, R0 ;                            // float accumulator
    MOV R4, R0 ;                            // integer accumulator
    LOP3.LUT R5, R0, 0x1, RZ, 0xc0, !PT ;   // odd lane?
    ISETP.NE.AND P1, PT, R5, RZ, PT ;
    MOV R7, 0x3f800347 ;                    // 1.0001f
top:
    IADD3 R4, R4, 0x3, RZ ;
    LOP3.LUT R4, R4, 0x5a5a5a5a, RZ, 0x3c, !PT ;
    FFMA R3, R3, R7, 0.5 ;
    SHF.L.U32 R6, R4, 0x3, RZ ;
    BSSY B0, join ;
    @!P1 BRA join ;
    IMAD R4, R4, 0x9, R6 ;
    FADD R3, R3, -0.25 ;
join:
    BSYNC B0 ;
    IADD3 R2, R2, -0x1, RZ ;
    ISETP.NE.AND P0, PT, R2, RZ, PT ;
    @P0 BRA top ;
    MOV R8, c[0x0][0x160] ;
    MOV R9, c[0x0][0x164] ;
    IMAD.WIDE.U32 R8, R0, 0x4, R8 ;
    STG.E.SYS [R8], R4 ;
    EXIT ;
"""


def alu_program():
    return otc_emu.assemble(ALU_KERNEL, "alu_mix")


def bench(fn, repeat=3):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=None, help="host threads (default: all)")
    ap.add_argument("--timing", action="store_true", help="run the cycle model beside the launches")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    dev = otc_emu.Device(threads=args.threads, timing=args.timing)
    rows = []

    # ALU-bound kernel
    prog = alu_program()
    ctas, block, iters = 64, 256, 200
    out = dev.zeros(ctas * block, np.uint32)
    secs, res = bench(lambda: dev.launch(prog, "alu_mix", ctas, block, [out, np.uint32(iters)]))
    wi = res.stats.counters["warp_instructions"]
    rows.append({"kernel": "alu_mix (int+fp32, divergent)", "warp_instructions": wi, "seconds": secs,
                 "warp_instr_per_s": wi / secs, "numpy_seconds": None})

    # nvcc's wmma GEMM (HMMA.884) against numpy.matmul on the same data
    text = (ROOT / "tests/fixtures/sass/wmma.sass").read_text() + (ROOT / "tests/fixtures/sass/wmma.res-usage.txt").read_text()
    wmma = otc_emu.assemble(text, "wmma.sass")
    m = n = k = 256
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float16)
    b = rng.standard_normal((k, n)).astype(np.float16)
    da, db = dev.to_device(a), dev.to_device(np.ascontiguousarray(b.T))  # B col-major
    dc = dev.zeros((m, n), np.float32)
    warps = (m // 16) * (n // 16)
    secs, res = bench(lambda: dev.launch(wmma, "wmma_gemm", (warps * 32 + 127) // 128, 128,
                                         [da, db, dc, np.int32(m), np.int32(n), np.int32(k)]), repeat=1)
    np_secs, ref = bench(lambda: np.matmul(a.astype(np.float32), b.astype(np.float32)))
    err = float(np.max(np.abs(dc.numpy() - ref)))
    wi = res.stats.counters["warp_instructions"]
    rows.append({"kernel": f"wmma_gemm {m}x{n}x{k} (nvcc listing)", "warp_instructions": wi, "seconds": secs,
                 "warp_instr_per_s": wi / secs, "numpy_seconds": np_secs, "max_abs_err_vs_numpy": err})

    print(f"{'kernel':42} {'warp-instr':>12} {'seconds':>9} {'M warp-instr/s':>15} {'x numpy':>9} {'max|err|':>9}")
    for r in rows:
        ratio = f"{r['seconds'] / r['numpy_seconds']:9.0f}" if r["numpy_seconds"] else " " * 9
        err = f"{r['max_abs_err_vs_numpy']:9.2g}" if "max_abs_err_vs_numpy" in r else ""
        print(f"{r['kernel']:42} {r['warp_instructions']:12,} {r['seconds']:9.3f} {r['warp_instr_per_s'] / 1e6:15.1f} {ratio} {err}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
