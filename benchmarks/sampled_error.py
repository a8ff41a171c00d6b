"""Sampled timing against full timing: the error of the estimate and its CPU time.

    python benchmarks/sampled_error.py [--quick] [--out benchmarks/results/sampled_error.md]
    python benchmarks/sampled_error.py --paper-size --only 4096 --out benchmarks/results/sampled_error_4096.md
    python benchmarks/sampled_error.py --one CASE --timing sampled   # one run (for paired A/B timing)
    python benchmarks/sampled_error.py --list

Every case runs twice on the same operands: ``timing="full"`` and ``timing="sampled"``
(``Device.launch``; docs/timing.md "Sampled timing"). The table gives, per case, the full and the
estimated cycles, their relative error, the expected error the estimate reports, the timed SMs,
the relative error of a few extrapolated counters, and the CPU seconds (process time, all host
threads) of each run. Cases: every kernel of programs/ (the GEMM and convolution programs through
their modes, the examples on grids that spread over the SMs), the GEMM modes at a few sizes and
sparsities on the whole V100 and on an 8-SM slice, and the headline points of the ablation and
fig21 experiments (512^3 on 4 SMs), with spgemm_wide's too; ``--paper-size`` adds spgemm_wide at
the paper's size (4096^3 on 80 SMs, `dstc-paper`: A99.9/B99, A0/B99, A75/B0; full timing takes
0.2-5 CPU-minutes each there). Outputs must be identical; a case whose outputs differ stops the
run. Run by hand (minutes), not in CI.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import otc_emu
from otc_emu import im2col, kernels, sparse, structured
from otc_emu.conv import conv2d
from otc_emu._operands import shipped_program
from otc_emu.experiments.ablation import POINTS, WIDE
from otc_emu.experiments.workloads import gemm_operands

#: Counters whose extrapolation the table reports (relative error against full timing).
COUNTERS = ("issue.cycles", "stall.memory", "tensor.busy_cycles", "l2.misses", "dram.read_bytes")


def _device(timing, sms=80, machine=None, settings=None):
    """The V100 on ``sms`` SMs; the cycle model off for ``timing="off"``."""
    off = {"timing": False} if timing == "off" else {}
    return otc_emu.Device.v100_slice(sms, machine=machine, **(settings or {}), **off)


def _mode(timing):
    """The launches' ``timing`` argument for a run (``"off"`` is a Device without the model)."""
    return None if timing == "off" else timing


def _program_case(file, kernel, grid, block, make_args):
    def run(timing):
        dev = _device(timing)
        args = make_args(dev)
        res = dev.launch(shipped_program(file), kernel, grid=grid, block=block, args=args, timing=_mode(timing))
        outs = b"".join(a.numpy().tobytes() for a in args if isinstance(a, otc_emu.DeviceArray))
        return outs, res.stats
    return run


def _fp16(rng, shape):
    return (rng.integers(-1000, 1001, shape) / 256).astype(np.float16)


def _examples():
    rng = np.random.default_rng(7)
    n = 1 << 20
    x = rng.standard_normal(n).astype(np.float32)
    ai, bi = rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32), rng.integers(0, 99, n).astype(np.int32)
    a8, b16, c816 = _fp16(rng, 8), _fp16(rng, 16), rng.standard_normal((8, 16)).astype(np.float32)
    a256, b256 = _fp16(rng, 256), _fp16(rng, 256)
    return {
        "saxpy 2^20 (4096 CTAs)": _program_case("saxpy.sass", "saxpy", n // 256, 256, lambda d: [
            np.uint32(n), np.float32(1.5), d.to_device(x), d.to_device(x[::-1].copy())]),
        "vecadd_int 2^20 (grid 160)": _program_case("vecadd_int.sass", "vecadd_int", 160, 256, lambda d: [
            d.to_device(ai), d.to_device(bi), d.zeros(n, np.int32), np.uint32(n)]),
        "ohmma_tile (grid 240)": _program_case("ohmma_tile.sass", "ohmma_tile", 240, 32, lambda d: [
            d.to_device(a8), d.to_device(b16), d.to_device(c816), d.zeros((8, 16), np.float32)]),
        "owmma_16x16x16 (grid 240)": _program_case("owmma_16x16x16.sass", "owmma_16x16x16", 240, 32, lambda d: [
            d.to_device(a256), d.to_device(b256), d.zeros((16, 16), np.float32)]),
    }


def _pruned(x, sparsity, seed):
    """``x`` (any shape) with a random ``sparsity`` fraction of zeros."""
    return sparse.prune_random(x.reshape(x.shape[0], -1), sparsity, seed=seed).reshape(x.shape)


def _im2col_case(design):
    def run(timing):
        x = _pruned(np.random.default_rng(3).standard_normal((64, 56, 56)), 0.7, 4)
        with otc_emu.timing_mode(_mode(timing)):
            res = im2col.lower(x, 3, 3, padding=1, design=design, device=_device(timing))
        return res.cols.tobytes(), res.stats
    return run


def _gemm_case(mode, size, sa, sb, sms=80, machine=None, settings=None):
    def run(timing):
        a, b = gemm_operands(size, size, size, sa, sb, seed=size)
        if mode in ("sp24", "hss"):
            a = structured.prune_to_density(a, 0.5 if mode == "sp24" else 0.25)
        elif mode == "vstc":
            b = sparse.prune_vector_wise(b, 0.75)
        res = kernels.gemm(a, b, mode=mode, device=_device(timing, sms, machine, settings), timing=_mode(timing))
        return res.c.tobytes(), res.stats
    return run


def _conv_case(mode, sparsity, n=8, c=64, hw=28, k=64):
    def run(timing):
        rng = np.random.default_rng(11)
        x = _pruned(rng.standard_normal((n, c, hw, hw)), sparsity, 13)
        w = _pruned(rng.standard_normal((k, c, 3, 3)), sparsity, 12)
        res = conv2d(x, w, padding=1, mode=mode, device=_device(timing), timing=_mode(timing))
        return res.y.tobytes(), res.stats
    return run


def cases(quick: bool = False, paper_size: bool = False) -> dict:
    out = dict(_examples())
    for design in ("dense", "csr", "bitmap"):
        out[f"im2col {design} 64x56x56 3x3"] = _im2col_case(design)
    sizes = (512,) if quick else (512, 1024)
    for size in sizes:
        for mode, sa, sb in (("owmma", 0, 0), ("hmma", 0, 0), ("spgemm", 0, 0), ("spgemm", 0.9, 0.9),
                             ("spgemm", 0.99, 0.99), ("spgemm_a", 0.9, 0), ("csr", 0.99, 0.99), ("vstc", 0, 0),
                             ("sp24", 0, 0), ("hss", 0, 0)):
            if size > 512 and mode in ("csr", "vstc", "sp24", "hss", "spgemm_a"):
                continue
            out[f"{mode} {size}^3 A{sa:g}/B{sb:g}"] = _gemm_case(mode, size, sa, sb)
    out["spgemm_seq 512^3 A0.9/B0.9 (sequencer)"] = _gemm_case("spgemm_seq", 512, 0.9, 0.9,
                                                                settings={"tensor.spwmma_sequencer": True})
    for mode, sa, sb in (("owmma", 0, 0), ("spgemm", 0.99, 0.99)):
        out[f"{mode} 1024^3 A{sa:g}/B{sb:g} on 8 SMs"] = _gemm_case(mode, 1024, sa, sb, sms=8)
    for mode, sp in (("dense_implicit", 0), ("sparse_implicit", 0.8), ("single_sparse_implicit", 0.8)):
        out[f"conv {mode} 8x64x28x28 k64 3x3 s{sp:g}"] = _conv_case(mode, sp)
    for label, sa, sb, mode in (*POINTS, ("hmma", 0.0, 0.0, "hmma")):
        for machine in ("v100", "dstc-paper"):
            out[f"headline {label} {mode} 512^3 on 4 SMs, {machine}"] = _gemm_case(mode, 512, sa, sb, sms=4,
                                                                                     machine=machine)
    for label, sa, sb, mode in POINTS:
        if mode == "spgemm":  # the wide-tile kernel at the same points (its machine keys on top)
            for machine in ("v100", "dstc-paper"):
                out[f"headline {label} spgemm_wide 512^3 on 4 SMs, {machine}"] = _gemm_case(
                    "spgemm_wide", 512, sa, sb, sms=4, machine=machine, settings=WIDE)
    if paper_size:
        for label, sa, sb in (("A99.9/B99", 0.999, 0.99), ("A0/B99", 0.0, 0.99), ("A75/B0", 0.75, 0.0)):
            out[f"paper size {label} spgemm_wide 4096^3, dstc-paper"] = _gemm_case(
                "spgemm_wide", 4096, sa, sb, machine="dstc-paper", settings=WIDE)
    return out


def _rel(est, full):
    return 0.0 if est == full else (est - full) / full if full else float("inf")


def measure(name, run):
    t0 = time.process_time()
    out_full, full = run("full")
    t1 = time.process_time()
    out_s, s = run("sampled")
    t2 = time.process_time()
    out_off, _ = run("off")
    t3 = time.process_time()
    if not out_full == out_s == out_off:
        raise SystemExit(f"{name}: outputs differ between full, sampled and no timing")
    smp = s.sample
    return {
        "case": name, "cycles": full.cycles, "estimate": s.cycles, "error": _rel(s.cycles, full.cycles),
        "expected": smp["expected_error"], "timed": f"{len(smp['timed_sms'])}/{smp['sms_used']}",
        "ctas": f"{smp['ctas_timed']}/{smp['ctas']}",
        "counters": {k: _rel(s.counters.get(k, 0), full.counters.get(k, 0)) for k in COUNTERS},
        "cpu_full": t1 - t0, "cpu_sampled": t2 - t1, "cpu_off": t3 - t2,
    }


def table(rows) -> str:
    pct = lambda v: "-" if v != v or v == float("inf") else f"{100 * v:+.2f}%"  # noqa: E731
    head = ("| case | timed SMs | timed CTAs | cycles (full) | estimate | error | expected | "
            + " | ".join(COUNTERS) + " | CPU s full | sampled | untimed |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['case']} | {r['timed']} | {r['ctas']} | {r['cycles']} | {r['estimate']} | "
                     f"{pct(r['error'])} | {pct(r['expected']).lstrip('+')} | "
                     + " | ".join(pct(r["counters"][k]) for k in COUNTERS)
                     + f" | {r['cpu_full']:.2f} | {r['cpu_sampled']:.2f} | {r['cpu_off']:.2f} |")
    errs = [abs(r["error"]) for r in rows]
    estimated = [r for r in rows if r["timed"].split("/")[0] != r["timed"].split("/")[1]]
    lines.append("")
    lines.append(f"{len(rows)} cases, {len(estimated)} estimated (the others timed every SM: exact); "
                 f"cycles error: max {100 * max(errs):.2f}%, mean {100 * sum(errs) / len(errs):.3f}%; "
                 f"CPU seconds: full {sum(r['cpu_full'] for r in rows):.1f}, "
                 f"sampled {sum(r['cpu_sampled'] for r in rows):.1f}, untimed {sum(r['cpu_off'] for r in rows):.1f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="512^3 GEMMs only")
    p.add_argument("--paper-size", action="store_true", help="add spgemm_wide at 4096^3 (minutes each)")
    p.add_argument("--only", metavar="TEXT", help="only the cases whose name contains TEXT")
    p.add_argument("--out", type=Path, help="also write the table (markdown) here")
    p.add_argument("--one", metavar="CASE", help="run one case once (no comparison), for paired timing")
    p.add_argument("--timing", default="sampled", help="with --one: full, sampled or off (default sampled)")
    p.add_argument("--list", action="store_true", help="list the cases")
    args = p.parse_args(argv)
    all_cases = cases(args.quick, args.paper_size)
    if args.list:
        print("\n".join(all_cases))
        return 0
    if args.one:
        out, stats = all_cases[args.one](args.timing)
        print(stats.cycles, stats.sample and stats.sample["expected_error"])
        return 0
    rows = []
    for name, run in all_cases.items():
        if args.only and args.only not in name:
            continue
        rows.append(measure(name, run))
        r = rows[-1]
        print(f"{name}: {r['cycles']} -> {r['estimate']} ({100 * r['error']:+.2f}%, expected "
              f"{100 * r['expected']:.2f}%), CPU {r['cpu_full']:.2f} -> {r['cpu_sampled']:.2f} s "
              f"(untimed {r['cpu_off']:.2f} s)", flush=True)
    text = table(rows)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
