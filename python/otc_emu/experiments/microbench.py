"""microbench: the cycle model against published V100 microbenchmarks. Real CUDA kernels
(benchmarks/microbench/microbench.cu, compiled by nvcc 11.8 into the committed listing
python/otc_emu/experiments/data/microbench.sass by benchmarks/microbench/build.sh) run on the emulated V100 and are measured the
way the hardware papers measure them: dependent-issue latency of ALU/FMA/IMAD/MUFU/conversion
chains and of shared-memory pointer chasing (with bank conflicts), the latency-vs-footprint
staircase of global pointer chasing, achieved L2 and DRAM bandwidth, wmma latency and throughput.
Each row sets the model's number beside the published one: Jia, Maggioni, Staiger, Scarpazza,
"Dissecting the NVIDIA Volta GPU Architecture via Microbenchmarking" (arXiv 1804.06826, 2018;
[JIA]) and Raihan, Goli, Aamodt, "Modeling Deep Learning Accelerator Enabled GPUs" (ISPASS 2019;
[RAI]); docs/timing.md has the table and what explains each difference."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import OtcError
from .experiment import Experiment, with_device
from .store import PACKAGE, emulator_files

#: The CUDA sources (a source checkout; not in wheels) and their committed nvcc listing, shipped
#: with the package so that the experiment runs from any install.
MICROBENCH_DIR = PACKAGE.parent.parent / "benchmarks" / "microbench"
LISTING = Path(__file__).parent / "data" / "microbench.sass"

CLOCK = "SR_CLOCKLO"
#: Published values: (value or (low, high) range, source). A range counts as no error inside it.
#: Jia et al.'s text could not be opened here (only its front matter is reachable), so its
#: numbers stay as the machine file cites them, marked "Jia not re-checked". Each latency is
#: checked against an independent public measurement of the same GV100 SM: [ARA] Arafa, Badawy,
#: Chennupati, Santhi, Eidenbenz, "Low Overhead Instruction Latency Characterization for NVIDIA
#: GPGPUs" (HPEC 2019, arXiv 1905.08778), measured on a Titan V, raw outputs in the repository
#: NMSU-PEARL/GPUs-ISA-Latencies (ALU/output/Volta/TITANV/<file>: "number of cycles = N") and
#: their per-architecture table in lanl/PPT code/apps/PPT-GPU/configs/arch_latencies_config.py
#: (class Volta). DRAM bandwidth: [GPI] GPUInspector.jl docs/src/devices/v100_sxm2.md, a
#: Tesla V100-SXM2-32GB. docs/timing.md section 6.1 lists what each source says.
PUBLISHED: dict[str, tuple[float | tuple[float, float], str]] = {
    "FFMA": (4, "ARA Titan V: ALU/output/Volta/TITANV/FFMa (fma.rn.f32 -> FFMA) 4; JIA 4 (not re-checked)"),
    "FADD": (4, "ARA Titan V: ALU/output/Volta/TITANV/FAdd (add.f32 -> FADD) 4"),
    "FMUL": (4, "ARA: lanl/PPT arch_latencies_config.py class Volta, fmul = 4"),
    "LOP3.LUT": (4, "ARA Titan V: ALU/output/Volta/TITANV/And (and.b32 -> LOP3.LUT) 4"),
    "IMAD": (4, "ARA Titan V: ALU/output/Volta/TITANV/Mul (mul.lo.u32, printed IMUL: sm_70's IMAD) 4"),
    "HFMA2": (6, "ARA Titan V: ALU/output/Volta/TITANV/HFFMa (fma.rn.f16, printed HFMA: sm_70's HFMA2) 6"),
    "DADD": (8, "ARA Titan V: ALU/output/Volta/TITANV/DFAdd (add.rn.f64 -> DADD) 8"),
    "DFMA": (8, "ARA Titan V: ALU/output/Volta/TITANV/DFFMA (fma.rn.f64 -> DFMA) 8"),
    "smem": (19, "JIA ch. 3 as v100.toml cites it (Jia not re-checked); ARA Titan V (PPT class Volta): 18"),
    "L1": (28, "JIA ch. 3 as v100.toml cites it (Jia not re-checked); ARA Titan V (PPT class Volta): 26"),
    "L2": (193, "JIA ch. 3 as v100.toml cites it (Jia not re-checked); ARA Titan V (PPT class Volta): 198"),
    "DRAM": ((300, 460), "notes: 300-460 (unverified range); ARA Titan V (PPT class Volta): 362, inside it"),
    "l2_bw": (2155, "JIA ch. 3 as v100.toml cites it (Jia not re-checked; no independent V100 value found)"),
    "dram_bw": ((776, 810), "GPI V100-SXM2-32GB: memcpy 722.31 GiB/s = 776 GB/s, saxpy 754.39 GiB/s = 810 GB/s "
                "(read+write streams; theoretical 836.4 GiB/s = 898 GB/s)"),
    "wmma_first_to_result": (44, "RAI Titan V: first HMMA issued at 10, result at 54 (the notes; RAI not re-checked)"),
    "wmma_tflops": (125, "V100 whitepaper peak (a specification, not a measurement)"),
}

# (kernel, the instructions of one step of the chain it times, joined by "+")
LATENCY = [
    ("lat_ffma", "FFMA"), ("lat_fadd", "FADD"), ("lat_fmul", "FMUL"),
    ("lat_lop3", "LOP3.LUT"), ("lat_imad", "IMAD"), ("lat_hfma2", "HFMA2"), ("lat_dadd", "DADD"),
    ("lat_dfma", "DFMA"), ("lat_mufu_ex2", "MUFU.EX2"), ("lat_mufu_rsq", "MUFU.RSQ"), ("lat_mufu_lg2", "MUFU.LG2"),
    ("lat_f2i_i2f", "F2I+I2F"), ("lat_f2f_f64", "F2F.F64.F32+F2F.F32.F64"),
]
SMEM_WAYS = (1, 2, 4, 8, 16, 32)
FOOTPRINTS_KIB = (8, 32, 96, 256, 1024, 4096, 8192, 16384, 32768)
RING_STRIDE = 128     # bytes between chased pointers: one L1/L2 line each
TIMED_LOADS = 1024    # loads timed after the warming pass


@lru_cache(maxsize=1)
def program():
    from .. import load

    if not LISTING.is_file():
        raise OtcError(f"{LISTING} is missing: the package is incomplete "
                       "(benchmarks/microbench/build.sh rebuilds the listing from a source checkout)")
    return load(LISTING)


def _device(p: dict):
    """The point's machine; with ``control_bits`` it follows the listing's control bits (stall
    counts and scoreboards, as the hardware does) instead of the register scoreboard."""
    from ..device import Device

    spec = p.get("device") or {}
    settings = dict(spec.get("settings", {}))
    if p.get("control_bits"):
        settings["scheduler.use_control_bits"] = True
    return Device(machine=spec.get("machine"), **settings)


def _opcode(text: str) -> str:
    m = re.match(r"\s*(?:@!?U?P\w+\s+)?([A-Z0-9_.]+)", text)
    return m.group(1) if m else ""


def clock_window(kernel: str) -> tuple[int, int, list[str]]:
    """The pcs (bytes) of the kernel's two clock reads and the opcodes between them."""
    ins = program().kernels[kernel].instructions()
    idx = [i for i, t in enumerate(ins) if CLOCK in t]
    if len(idx) != 2:
        raise OtcError(f"{kernel}: expected two clock reads, found {len(idx)}")
    return 16 * idx[0], 16 * idx[1], [_opcode(t) for t in ins[idx[0] + 1:idx[1]]]


def _issues(stats) -> list[tuple]:
    return [e for e in stats.timeline["events"] if e[0] == "issue"]


def _clock_delta(stats, kernel: str) -> int:
    """Cycles between the issues of warp 0's two clock reads, as the cycle model ran them."""
    start, stop, _ = clock_window(kernel)
    first = {}
    for e in _issues(stats):
        if e[4] == 0 and e[5] in (start, stop):
            first.setdefault(e[5], e[6])
    return first[stop] - first[start]


def _launch(dev, kernel: str, grid, block, args, timeline: bool):
    from ..timeline import Window

    window = Window(cycles=(0, 1 << 40), sms=(0,)) if timeline else None
    return dev.launch(program(), kernel, grid, block, args, timeline=window).stats


# ------------------------------------------------------------------ measurements


def _latency(p: dict) -> dict:
    dev = _device(p)
    kernel, what = p["kernel"], p["what"]
    out, res = dev.zeros(4, np.uint32), dev.zeros(2, np.float64)
    if kernel == "lat_hfma2":
        args = [out, res]
    elif kernel in ("lat_dadd", "lat_dfma"):
        args = [out, res, np.float64(1.0), np.float64(0.999), np.float64(0.001)]
    elif kernel in ("lat_imad", "lat_lop3"):
        args = [out, res, np.uint32(1), np.uint32(3), np.uint32(5)]
    else:
        args = [out, res, np.float32(1.0), np.float32(0.999), np.float32(0.001)]
    stats = _launch(dev, kernel, 1, 1, args, timeline=True)
    _, _, ops = clock_window(kernel)
    parts = what.split("+")
    # chain steps (a step may be several instructions); a part names the mnemonic or its prefix
    chain = sum(1 for o in ops if any(o == q or o.startswith(q + ".") for q in parts)) // len(parts)
    return {"model": _clock_delta(stats, kernel) / chain, "chain": chain, "unit": "cycles"}


def _smem(p: dict) -> dict:
    """Every lane chases a word that points to itself; `ways` lanes share each bank."""
    dev = _device(p)
    ways, lanes = p["ways"], p["lanes"]
    lg = (32 // ways).bit_length() - 1  # lanes l and l + 32 / ways share a bank
    stats = _launch(dev, "smem_chase", 1, lanes, [dev.zeros(64, np.uint32), np.uint32(lg)], timeline=True)
    chain = sum(1 for o in clock_window("smem_chase")[2] if o.startswith("LDS"))
    return {"model": _clock_delta(stats, "smem_chase") / chain, "chain": chain, "unit": "cycles",
            "bank_conflicts_per_load": stats["smem.bank_conflicts"] / stats["smem.instructions"]}


def _gmem(p: dict) -> dict:
    """Latency per load of the timed pass: the kernel's cycles with TIMED_LOADS timed loads minus
    those with none (same warming pass), over TIMED_LOADS."""
    dev = _device(p)
    footprint = 1024 * p["footprint_kib"]
    m = footprint // RING_STRIDE
    ring = dev.zeros(footprint // 8, np.uint64)
    links = np.zeros(footprint // 8, np.uint64)
    k = np.arange(m, dtype=np.uint64)
    links[k * (RING_STRIDE // 8)] = np.uint64(ring.address) + ((k + 1) % m) * np.uint64(RING_STRIDE)
    ring.write(links)
    cycles, counters = [], {}
    for steps in (TIMED_LOADS, 0):
        s = _launch(dev, "gmem_chase", 1, 1, [dev.zeros(4, np.uint32), ring, np.uint32(m), np.uint32(steps)],
                    timeline=False)
        cycles.append(s.cycles)
        if steps:
            counters = {"l1_hit_rate": s.metrics.get("l1.hit_rate"), "l2_hit_rate": s.metrics.get("l2.hit_rate")}
    return {"model": (cycles[0] - cycles[1]) / TIMED_LOADS, "unit": "cycles", **counters}


def _seconds(dev, stats) -> float:
    return stats.cycles / (dev.timing_config["gpu.clock_mhz"] * 1e6)


def _bandwidth(p: dict) -> dict:
    """Bytes read over time. L2: the steady state, as the difference of a run of 4 passes and one
    of 2 (the first pass also brings the buffer from DRAM into the L2 and makes the SMs that
    touch it first the slowest; from the second on the SMs are balanced); DRAM: one pass over a
    buffer beyond the L2."""
    dev = _device(p)
    n = p["bytes"] // 16
    ctas, threads = p["ctas"], p["threads"]
    a = dev.to_device(np.ones(n * 4, np.float32))
    if p["level"] == "l2":
        window, offset, reps = n // 8, n // ctas, (4, 2)  # 1/8 of the buffer per CTA, beyond any L1
    else:
        window, offset, reps = n // ctas, n // ctas, (1,)  # a slice per CTA, the buffer beyond the L2
    out = dev.zeros(ctas * threads, np.float32)
    runs = [_launch(dev, "bw_read", ctas, threads, [out, a, np.uint32(n), np.uint32(window), np.uint32(offset),
                                                     np.uint32(r)], timeline=False) for r in reps]
    nbytes = runs[0]["gmem.read_bytes"] - (runs[1]["gmem.read_bytes"] if len(runs) > 1 else 0)
    seconds = _seconds(dev, runs[0]) - (_seconds(dev, runs[1]) if len(runs) > 1 else 0)
    return {"model": nbytes / seconds / 1e9, "unit": "GB/s", "l2_hit_rate": runs[0].metrics.get("l2.hit_rate")}


def _wmma_latency(p: dict) -> dict:
    dev = _device(p)
    stats = _launch(dev, "wmma_latency", 1, 32, [dev.zeros(4, np.uint32), dev.zeros(256, np.float32), np.float32(1.0)],
                    timeline=True)
    _, _, ops = clock_window("wmma_latency")
    mmas = sum(1 for o in ops if o.startswith("HMMA")) // 16
    hmma = [e for e in _issues(stats) if _opcode(program().kernels["wmma_latency"].instructions()[e[5] // 16])
            .startswith("HMMA")]
    first16 = hmma[:16]
    return {"model": _clock_delta(stats, "wmma_latency") / mmas, "unit": "cycles",
            "first_to_result": max(e[8] for e in first16) - first16[0][6]}


def _wmma_throughput(p: dict) -> dict:
    """Tensor FLOPs over time in the steady state: the difference of runs of 2 x and 1 x iters."""
    dev = _device(p)
    ctas, warps, iters = p["ctas"], p["warps"], p["iters"]
    a = dev.to_device(np.ones(256, np.float16))
    b = dev.to_device(np.ones(256, np.float16))
    c = dev.zeros(256 * ctas * warps, np.float32)
    runs = [_launch(dev, "wmma_throughput", ctas, 32 * warps, [a, b, c, np.uint32(i)], timeline=False)
            for i in (2 * iters, iters)]
    flops = 2 * 16 * 16 * 16 * 4 * iters * warps * ctas
    seconds = _seconds(dev, runs[0]) - _seconds(dev, runs[1])
    return {"model": flops / seconds / 1e12, "unit": "TFLOPS",
            "tensor_utilization": runs[0].metrics.get("tensor.utilization")}


MEASURE = {"latency": _latency, "smem": _smem, "gmem": _gmem, "bandwidth": _bandwidth,
           "wmma_latency": _wmma_latency, "wmma_throughput": _wmma_throughput}


def _points(o: dict) -> list[dict]:
    pts: list[dict] = [{"bench": "latency", "kernel": k, "what": w} for k, w in LATENCY]
    pts += [{"bench": "smem", "ways": 1, "lanes": 1}]
    pts += [{"bench": "smem", "ways": w, "lanes": 32} for w in SMEM_WAYS]
    pts += [{"bench": "gmem", "footprint_kib": f} for f in FOOTPRINTS_KIB]
    pts += [{"bench": "bandwidth", "level": "l2", "bytes": 2 << 20, "ctas": 160, "threads": 512, "reps": 1},
            {"bench": "bandwidth", "level": "dram", "bytes": 64 << 20, "ctas": 160, "threads": 512, "reps": 1}]
    pts += [{"bench": "wmma_latency"}, {"bench": "wmma_throughput", "ctas": 80, "warps": 4, "iters": 32}]
    return [with_device(p, o) for p in pts]


def _measure(p: dict) -> dict:
    """The benchmark on the point's machine as it is and following the listing's control bits."""
    r = MEASURE[p["bench"]](p)
    cb = MEASURE[p["bench"]]({**p, "control_bits": True})
    r["control_bits"] = {k: v for k, v in cb.items() if k != "unit"}
    return r


def _describe(p: dict) -> str:
    b = p["bench"]
    if b == "latency":
        return f"{p['what']} dependent chain" + (", per pair" if "+" in p["what"] else "")
    if b == "smem":
        return "LDS chase, one lane" if p["lanes"] == 1 else f"LDS chase, warp, {p['ways']}-way bank conflict"
    if b == "gmem":
        f = p["footprint_kib"]
        return f"LDG chase, footprint {f // 1024} MiB" if f >= 1024 else f"LDG chase, footprint {f} KiB"
    if b == "bandwidth":
        return f"{'L2' if p['level'] == 'l2' else 'DRAM'} read bandwidth"
    if b == "wmma_latency":
        return "wmma 16x16x16 f16/f32, dependent chain, per mma_sync"
    return "wmma 16x16x16 f16/f32 throughput, 80 SMs"


def _published_key(p: dict, r: dict) -> str | None:
    b = p["bench"]
    if b == "latency":
        return p["what"] if p["what"] in PUBLISHED else None
    if b == "smem":
        return "smem" if p["ways"] == 1 else None
    if b == "gmem":
        return {"L1": "L1", "L2": "L2", "DRAM": "DRAM"}[gmem_level(p["footprint_kib"])]
    if b == "bandwidth":
        return f"{p['level']}_bw"
    if b == "wmma_throughput":
        return "wmma_tflops"
    return None


def gmem_level(footprint_kib: int) -> str:
    """Where a pointer ring of this footprint lives on a V100 (128 KiB L1 without shared memory,
    6 MiB L2)."""
    return "L1" if footprint_kib <= 128 else "L2" if footprint_kib <= 6 * 1024 else "DRAM"


def error_of(model: float, published) -> float:
    """model - published; for a published range, the distance to it (0 inside)."""
    if isinstance(published, (tuple, list)):
        lo, hi = published
        return model - lo if model < lo else model - hi if model > hi else 0.0
    return model - published


def _fmt_pub(v) -> str:
    return f"{v[0]:g}-{v[1]:g}" if isinstance(v, (tuple, list)) else f"{v:g}"


def _row(p: dict, r: dict, name: str, model: float, model_cb: float, key: str | None) -> dict:
    row = {"benchmark": name, "unit": r["unit"], "model": model, "model_control_bits": model_cb}
    if key is not None:
        pub, src = PUBLISHED[key]
        mid = (pub[0] + pub[1]) / 2 if isinstance(pub, (tuple, list)) else pub
        err, err_cb = error_of(model, pub), error_of(model_cb, pub)
        # the ratio to the published value, or to the nearest end of a published range (1 inside it)
        row.update({"published": _fmt_pub(pub), "ratio": model / (model - err), "abs_error": abs(err),
                    "rel_error_pct": 100 * abs(err) / mid, "ratio_control_bits": model_cb / (model_cb - err_cb),
                    "abs_error_control_bits": abs(err_cb), "rel_error_pct_control_bits": 100 * abs(err_cb) / mid,
                    "source": src})
    return row


def _table(points: list[dict], results: list[dict]):
    rows = []
    for p, r in zip(points, results):
        cb = r["control_bits"]
        rows.append(_row(p, r, _describe(p), r["model"], cb["model"], _published_key(p, r)))
        if p["bench"] == "wmma_latency":
            rows.append(_row(p, r, "wmma 16x16x16 f16/f32, first HMMA issue to last result", r["first_to_result"],
                             cb["first_to_result"], "wmma_first_to_result"))
    columns = [("benchmark", "benchmark"), ("unit", "unit"), ("model", "model"),
               ("model_control_bits", "model, control bits"), ("published", "published"),
               ("ratio", "model / published"), ("abs_error", "|error|"), ("source", "source")]
    return columns, rows


def summary(rows: list[dict], suffix: str = "") -> dict:
    """Mean absolute error over the latency rows with a published value (cycles) and mean absolute
    relative error over every row with one (%); ``suffix="_control_bits"``: of that column."""
    cyc = [r["abs_error" + suffix] for r in rows if "abs_error" in r and r["unit"] == "cycles"]
    rel = [r["rel_error_pct" + suffix] for r in rows if "rel_error_pct" in r]
    return {"latency_rows": len(cyc), "mae_cycles": float(np.mean(cyc)) if cyc else float("nan"),
            "rows": len(rel), "mean_rel_error_pct": float(np.mean(rel)) if rel else float("nan")}


def _notes(rows: list[dict]) -> list[str]:
    s, c = summary(rows), summary(rows, "_control_bits")
    return [f"Mean absolute error over the {s['latency_rows']} latency rows with a published value: "
            f"{s['mae_cycles']:.2f} cycles ({c['mae_cycles']:.2f} following the control bits); mean absolute "
            f"relative error over all {s['rows']} such rows: {s['mean_rel_error_pct']:.1f}% "
            f"({c['mean_rel_error_pct']:.1f}%). A published range counts as no error inside it.",
            "Model numbers come from the cycle model running the nvcc listing experiments/data/microbench.sass: "
            "latencies from the issue cycles of the two clock reads (CS2R SR_CLOCKLO) over the dependent instructions "
            "between them, the staircase from the cycles of 1024 chased loads after a warming pass, bandwidth from "
            "bytes read over the kernel's time. 'model, control bits': scheduler.use_control_bits = true. "
            "'not re-checked': the value as the machine file or the notes cite the paper, whose text was not at hand; "
            "ARA and GPI are the independent measurements that confirm or replace them (docs/timing.md section 6.1)."]


def _view(columns, rows):
    return [c for c in columns if c[0] != "source"], rows  # the sources: CSV, JSON, --markdown


EXPERIMENT = Experiment(
    "microbench", "the cycle model against published V100 microbenchmarks (Jia et al. 2018, Raihan et al. 2019)",
    points=_points, measure=_measure, describe=_describe, table=_table,
    sources=lambda o: [f for f in (LISTING,) if f.is_file()] + [Path(__file__)] + emulator_files(), notes=_notes,
    view=_view)
