"""Golden record: proves that a speed change left results and statistics bit-identical.

    python benchmarks/golden.py --record [--out benchmarks/golden.json]   # with the code as it is
    python benchmarks/golden.py --check                                   # after a change

Every case runs with the cycle model on and, where noted, with 1 and 2 host threads. A case's
digest is SHA-256 over the output bytes and the full statistics (``Stats.to_dict()``: counters,
metrics, per-SM cycles, per-opcode and per-pc counts) serialised as sorted JSON; floats are written
exactly (``float.hex``). ``--check`` reruns the table and names every case whose digest moved,
with the counters that differ. Run by hand (about a minute), not in CI.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

import otc_emu
from otc_emu import kernels, sparse

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "sass"
DEFAULT_RECORD = Path(__file__).resolve().parent / "golden.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import ALU_KERNEL  # noqa: E402


def exact(x):
    """JSON-ready copy with every float spelled exactly."""
    if isinstance(x, float):
        return float.hex(x)
    if isinstance(x, dict):
        return {k: exact(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [exact(v) for v in x]
    return x


def digest(out: bytes, stats) -> tuple[str, dict]:
    d = exact(stats.to_dict())
    h = hashlib.sha256(out)
    h.update(json.dumps(d, sort_keys=True).encode())
    return h.hexdigest(), d.get("counters", {})


def operand(rng, shape, density):
    if density == "rawbits":  # every fp16 pattern: NaNs, infinities, subnormals, signed zeros
        return rng.integers(0, 1 << 16, shape, dtype=np.uint32).astype(np.uint16).view(np.float16)
    if density == "wide":  # finite, exponents over the whole range (huge gaps, subnormals, zeros)
        sign = rng.integers(0, 2, shape, dtype=np.uint32) << 15
        expo = rng.integers(0, 31, shape, dtype=np.uint32) << 10
        mant = rng.integers(0, 1 << 10, shape, dtype=np.uint32)
        return (sign | expo | mant).astype(np.uint16).view(np.float16)
    x = (rng.integers(-1000, 1001, shape) / 256).astype(np.float16)
    if density < 1.0:
        x[rng.random(shape) >= density] = 0
    return x


def gemm_case(mode, m, n, k, da, db, wide_narrow=None, **settings):
    """``wide_narrow``: spgemm_wide's narrow program forced on or off (None: the rule's pick)."""
    def run():
        rng = np.random.default_rng(m * 7919 + n * 31 + k)
        a, b = operand(rng, (m, k), da), operand(rng, (k, n), db)
        narrow = {} if wide_narrow is None else {"wide_narrow": wide_narrow}
        res = kernels.gemm(a, b, mode=mode, device=otc_emu.Device(**settings), **narrow)
        return res.c.tobytes(), res.stats
    return run


def vstc_case(m, n, k, da, sparsity, **settings):
    """mode vstc on B pruned vector-wise (4 of 16 along k at 75%)."""
    def run():
        rng = np.random.default_rng(m * 7919 + n * 31 + k)
        a = operand(rng, (m, k), da)
        b = sparse.prune_vector_wise(operand(rng, (k, n), 1.0), sparsity)
        res = kernels.gemm(a, b, mode="vstc", device=otc_emu.Device(**settings))
        return res.c.tobytes(), res.stats
    return run


def structured_case(mode, spec, m, n, k, kind, **settings):
    """A structured-sparse GEMM (issue 18): A of ``kind`` pruned to ``spec``, B of ``kind``."""
    def run():
        rng = np.random.default_rng(m * 7919 + n * 31 + k)
        a = sparse.prune_hss(operand(rng, (m, k), kind), spec)
        res = kernels.gemm(a, operand(rng, (k, n), kind), mode=mode, device=otc_emu.Device(**settings))
        return res.c.tobytes(), res.stats
    return run


def listing(name):
    text = (FIXTURES / f"{name}.sass").read_text() + (FIXTURES / f"{name}.res-usage.txt").read_text()
    return otc_emu.assemble(text, f"{name}.sass")


def launch_case(prog_fn, kernel, grid, block, inputs, out_spec, scalars, dyn=None, **settings):
    def run():
        dev = otc_emu.Device(**settings)
        rng = np.random.default_rng(7)
        args = [dev.to_device(a) for a in inputs(rng)]
        n, dtype = out_spec
        out = dev.to_device(np.frombuffer(b"\x5a" * (n * np.dtype(dtype).itemsize), dtype=dtype).copy())
        res = dev.launch(prog_fn(), kernel, grid, block, args + [out] + scalars, shared_bytes=dyn)
        return out.numpy().tobytes(), res.stats
    return run


def f16(r, n):
    return (r.integers(-1000, 1001, n) / 256).astype(np.float16)


def f32(r, n):
    return (r.integers(-10000, 10001, n) / 64).astype(np.float32)


def alu_case(**settings):
    def run():
        dev = otc_emu.Device(**settings)
        out = dev.zeros(8 * 256, np.uint32)
        res = dev.launch(otc_emu.assemble(ALU_KERNEL, "alu_mix"), "alu_mix", 8, 256, [out, np.uint32(40)])
        return out.numpy().tobytes(), res.stats
    return run


def wmma_gemm_case(size, **settings):
    def run():
        dev = otc_emu.Device(**settings)
        rng = np.random.default_rng(size)
        a, b = f16(rng, size * size).reshape(size, size), f16(rng, size * size).reshape(size, size)
        da, db = dev.to_device(a), dev.to_device(np.ascontiguousarray(b.T))
        dc = dev.zeros((size, size), np.float32)
        warps = (size // 16) ** 2
        res = dev.launch(listing("wmma"), "wmma_gemm", (warps * 32 + 127) // 128, 128,
                         [da, db, dc, np.int32(size), np.int32(size), np.int32(size)])
        return dc.numpy().tobytes(), res.stats
    return run


def cases():
    table = {}
    for mode in ("owmma", "hmma", "spgemm", "spgemm_a"):
        table[f"gemm.{mode}.40x56x36"] = gemm_case(mode, 40, 56, 36, 1.0, 1.0)
        table[f"gemm.{mode}.128.dense"] = gemm_case(mode, 128, 128, 128, 1.0, 1.0)
        table[f"gemm.{mode}.128.dense.t2"] = gemm_case(mode, 128, 128, 128, 1.0, 1.0, threads=2)
        table[f"gemm.{mode}.96x128x64.sp0.5x0.3"] = gemm_case(mode, 96, 128, 64, 0.5, 0.3, threads=2)
        table[f"gemm.{mode}.64.sp0.1x0.1.ieee"] = gemm_case(mode, 64, 64, 64, 0.1, 0.1, tensor_arith="ieee")
        table[f"gemm.{mode}.256.dense"] = gemm_case(mode, 256, 256, 256, 1.0, 1.0)
        for arith in ("v100", "ieee"):
            for kind in ("rawbits", "wide"):
                table[f"gemm.{mode}.64x64x96.{kind}.{arith}"] = gemm_case(mode, 64, 64, 96, kind, kind, tensor_arith=arith)
    table["gemm.owmma.64.lrr.skip1"] = gemm_case("owmma", 64, 64, 64, 1.0, 1.0,
                                                 scheduler={"policy": "lrr"}, tensor={"skipped_cycles": 1})
    table["gemm.spgemm.128.sp0.9x0.9.t2"] = gemm_case("spgemm", 128, 128, 128, 0.1, 0.1, threads=2)
    table["gemm.spgemm.128.sp0x0.99"] = gemm_case("spgemm", 128, 128, 128, 1.0, 0.01)
    wide = kernels.WIDE_MACHINE  # spgemm_wide: beyond the paper, four accumulation buffers + the sequencer
    table["gemm.spgemm_wide.96x128x64.sp0.5x0.3.t2"] = gemm_case("spgemm_wide", 96, 128, 64, 0.5, 0.3, threads=2, **wide)
    # (A 90% zeros: the rule now runs the narrow program; the plain one forced keeps its record)
    table["gemm.spgemm_wide.130x70x100.sp0.1x0.01"] = gemm_case("spgemm_wide", 130, 70, 100, 0.1, 0.01, wide_narrow=False, **wide)
    table["gemm.spgemm_wide.130x70x100.sp0.1x0.01.narrow"] = gemm_case("spgemm_wide", 130, 70, 100, 0.1, 0.01, **wide)
    table["gemm.spgemm_wide.64x64x96.wide.ieee"] = gemm_case("spgemm_wide", 64, 64, 96, "wide", "wide",
                                                             tensor_arith="ieee", **wide)
    table["gemm.csr.96x128x64.sp0.5x0.3.t2"] = gemm_case("csr", 96, 128, 64, 0.5, 0.3, threads=2)
    table["gemm.csr.128.sp0.1x0.01"] = gemm_case("csr", 128, 128, 128, 0.1, 0.01)
    table["gemm.vstc.40x56x48.sp0.75"] = vstc_case(40, 56, 48, 1.0, 0.75)
    table["gemm.vstc.256.sp0.75.t2"] = vstc_case(256, 256, 256, 1.0, 0.75, threads=2)
    table["gemm.vstc.64.sp0.875.ieee"] = vstc_case(64, 64, 64, 0.5, 0.875, tensor_arith="ieee")
    for name, mode, spec in (("sp24", "sp24", "C0(2:4)"), ("hss4", "hss", "C1(2:4)->C0(2:4)"),
                             ("hss8", "hss", "C1(2:8)->C0(2:4)")):
        for arith in ("v100", "ieee"):
            table[f"gemm.{name}.130x128x96.wide.{arith}"] = structured_case(mode, spec, 130, 128, 96, "wide",
                                                                            tensor_arith=arith)
        table[f"gemm.{name}.128.t2"] = structured_case(mode, spec, 128, 128, 128, 1.0, threads=2)
    table["alu_mix"] = alu_case()
    table["alu_mix.t2"] = alu_case(threads=2)
    table["alu_mix.untimed"] = alu_case(timing=False)
    table["wmma_gemm.64"] = wmma_gemm_case(64)
    table["wmma_gemm.64.t2"] = wmma_gemm_case(64, threads=2)
    fixtures = {
        "vadd_f32": ("vecadd", "vadd_f32", 8, 128, None, lambda r: [f32(r, 1000), f32(r, 1000)], (1000, np.float32), [np.int32(1000)]),
        "vadd_gridstride": ("vecadd", "vadd_gridstride", 3, 64, None, lambda r: [f32(r, 1000), f32(r, 1000)], (1000, np.float32), [np.int32(1000)]),
        "reduce_static": ("reduction", "reduce_static", 7, 128, None, lambda r: [f32(r, 7 * 128)], (7, np.float32), []),
        "block_reverse": ("reduction", "block_reverse", 2, 64, 256, lambda r: [r.integers(0, 1 << 31, 128).astype(np.int32)], (128, np.int32), []),
        "wmma_f16_f32_rowcol": ("wmma", "wmma_f16_f32_rowcol", 1, 32, None, lambda r: [f16(r, 256), f16(r, 256), f32(r, 256)], (16 * 20, np.float32), []),
    }
    for name, (file, kernel, grid, block, dyn, inputs, out, scalars) in fixtures.items():
        table[f"fixture.{name}"] = launch_case(lambda file=file: listing(file), kernel, grid, block, inputs, out, scalars, dyn)
        table[f"fixture.{name}.t2"] = launch_case(lambda file=file: listing(file), kernel, grid, block, inputs, out, scalars, dyn,
                                                  threads=2, parallel_batch=1)
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", action="store_true", help="write the record from the code as it is")
    g.add_argument("--check", action="store_true", help="compare against the record")
    ap.add_argument("--out", type=Path, default=DEFAULT_RECORD, help="record file (default: %(default)s)")
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    args = ap.parse_args()
    results = {}
    t0 = time.perf_counter()
    for name, run in cases().items():
        if args.k not in name:
            continue
        t = time.perf_counter()
        out, stats = run()
        dig, counters = digest(out, stats)
        results[name] = {"digest": dig, "counters": counters}
        print(f"{name:40} {dig[:16]} {time.perf_counter() - t:7.2f} s", flush=True)
    print(f"{len(results)} cases in {time.perf_counter() - t0:.1f} s")
    if args.record:
        args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(f"recorded to {args.out}")
        return 0
    record = json.loads(args.out.read_text())
    bad = 0
    for name, got in results.items():
        want = record.get(name)
        if want is None:
            print(f"MISSING from record: {name}")
            bad += 1
        elif want["digest"] != got["digest"]:
            bad += 1
            diff = {k: (want["counters"].get(k), got["counters"].get(k))
                    for k in set(want["counters"]) | set(got["counters"])
                    if want["counters"].get(k) != got["counters"].get(k)}
            print(f"DIFFERS: {name}: counters (recorded, now) {diff or 'equal (outputs or metrics differ)'}")
    print("golden: all identical" if not bad else f"golden: {bad} case(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
