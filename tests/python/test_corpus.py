"""The nvcc 11.8 sm_70 kernel corpus (tests/fixtures/cuda/*.cu, listings in tests/fixtures/sass/):
every kernel runs on the emulator, small launches, against a NumPy host reference.

Each case is a function ``case(dev, prog)`` registered with ``@corpus(file, kernel, ...)``; one
kernel may be run from several listings of the same source (-O3, -G, -lineinfo)."""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import otc_emu

ROOT = Path(__file__).resolve().parents[2]
SASS = ROOT / "tests" / "fixtures" / "sass"
CUBIN = ROOT / "tests" / "fixtures" / "cubin"

F32 = np.float32
U32 = np.uint32
I32 = np.int32


@dataclass(frozen=True)
class Case:
    listing: str  # stem of tests/fixtures/sass/STEM.sass
    kernel: str
    body: Callable[[otc_emu.Device, otc_emu.Program, str], None]
    marks: tuple = ()

    @property
    def id(self) -> str:
        return f"{self.listing}:{self.kernel}"


CASES: list[Case] = []
_PROGRAMS: dict[str, otc_emu.Program] = {}


def corpus(file: str, *kernels: str, variants: tuple[str, ...] = (), marks: tuple = ()):
    """Register ``body`` for each kernel of ``file``, in the -O3 listing and in each variant
    listing (``"lineinfo"`` -> FILE.lineinfo.sass), with pytest ``marks``."""

    def register(body):
        for k in kernels:
            for stem in (file, *(f"{file}.{v}" for v in variants)):
                CASES.append(Case(stem, k, body, marks))
        return body

    return register


def program(stem: str) -> otc_emu.Program:
    if stem not in _PROGRAMS:
        text = (SASS / f"{stem}.sass").read_text()
        usage = SASS / f"{stem}.res-usage.txt"
        if usage.exists():
            text += usage.read_text()
        # constant banks and __device__ data: the cubin (-O3 builds) or the parts of cuobjdump -elf
        consts = [p for p in (CUBIN / f"{stem}.cubin", SASS / f"{stem}.elf.txt") if p.exists()]
        _PROGRAMS[stem] = otc_emu.assemble(text, f"{stem}.sass", cubin=consts[0].read_bytes() if consts else None)
    return _PROGRAMS[stem]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------------- bitmap.cu


@corpus("bitmap", "bitmap_encode", variants=("G",))
def _bitmap_encode(dev, prog, k):
    x = rng(1).standard_normal((128, 32)).astype(F32)
    x[rng(2).random(x.shape) < 0.7] = 0
    bm, vals, nnz = dev.zeros(128, U32), dev.zeros(128 * 32, F32), dev.zeros(128, I32)
    dev.launch(prog, k, 2, 64, [dev.to_device(x), bm, vals, nnz])
    want_bm = ((x != 0) * (1 << np.arange(32, dtype=np.uint64))).sum(1).astype(U32)
    np.testing.assert_array_equal(bm.numpy(), want_bm)
    np.testing.assert_array_equal(nnz.numpy(), (x != 0).sum(1))
    got = vals.numpy().reshape(128, 32)
    for t in range(128):
        nz = x[t][x[t] != 0]
        np.testing.assert_array_equal(got[t, :nz.size], nz)


@corpus("bitmap", "bitmap_decode", variants=("G",))
def _bitmap_decode(dev, prog, k):
    bm = rng(3).integers(0, 1 << 32, 128, dtype=np.uint64).astype(U32)
    vals = rng(4).standard_normal((128, 32)).astype(F32)
    out = dev.zeros(128 * 32, F32)
    dev.launch(prog, k, 2, 64, [dev.to_device(bm), dev.to_device(vals), out])
    want = np.zeros((128, 32), F32)
    for t in range(128):
        bits = [(int(bm[t]) >> i) & 1 for i in range(32)]
        want[t, np.flatnonzero(bits)] = vals[t, :sum(bits)]
    np.testing.assert_array_equal(out.numpy().reshape(128, 32), want)


@corpus("bitmap", "bitmap_masked_sum", variants=("G",))
def _bitmap_masked_sum(dev, prog, k):
    m = rng(5).integers(0, 1 << 32, 64, dtype=np.uint64).astype(U32)
    x = rng(6).integers(-8, 8, (64, 32)).astype(F32)  # small integers: any order is exact
    out = dev.zeros(64, F32)
    dev.launch(prog, k, 1, 64, [dev.to_device(m), dev.to_device(x), out])
    bits = (m[:, None].astype(np.uint64) >> np.arange(32, dtype=np.uint64)) & 1
    np.testing.assert_array_equal(out.numpy(), (x * bits).sum(1).astype(F32))


@corpus("bitmap", "bitmap_walk", variants=("G",))
def _bitmap_walk(dev, prog, k):
    m = rng(7).integers(0, 1 << 32, 64, dtype=np.uint64).astype(U32)
    m[:4] = [0, 1, 0x80000000, 0xFFFFFFFF]
    out = dev.zeros(64, I32)
    dev.launch(prog, k, 1, 64, [dev.to_device(m), out])
    want = [sum((i + 1) ** 2 for i in range(32) if (int(v) >> i) & 1) for v in m]
    np.testing.assert_array_equal(out.numpy(), want)


@corpus("bitmap", "bytes_to_preds", variants=("G",))
def _bytes_to_preds(dev, prog, k):
    v = rng(8).integers(0, 1 << 32, 64, dtype=np.uint64).astype(U32)
    out = dev.zeros(64, U32)
    dev.launch(prog, k, 1, 64, [dev.to_device(v), out])
    rev = np.array([int(f"{int(x):032b}"[::-1], 2) for x in v], dtype=U32)
    np.testing.assert_array_equal(out.numpy(), v ^ rev)


@corpus("bitmap", "pred_spill", variants=("G",))
def _pred_spill(dev, prog, k):
    n = 64
    a = rng(9).integers(-100, 100, n * 24).astype(I32)
    b = rng(10).integers(-100, 100, n * 24).astype(I32)
    out = dev.zeros(n, I32)
    dev.launch(prog, k, 1, n, [dev.to_device(a), dev.to_device(b), out])
    a2, b2 = a.reshape(n, 24), b.reshape(n, 24)
    want = a2[(np.arange(n) + 1) % n, 0] + np.where(a2 > b2, a2, b2 * 3).sum(1)
    np.testing.assert_array_equal(out.numpy(), want)


# ------------------------------------------------------------------------------------- scan.cu


@corpus("scan", "warp_reduce_sum", variants=("G",))
def _warp_reduce_sum(dev, prog, k):
    x = rng(11).integers(-1000, 1000, 128).astype(I32)
    out = dev.zeros(4, I32)
    dev.launch(prog, k, 1, 128, [dev.to_device(x), out])
    np.testing.assert_array_equal(out.numpy(), x.reshape(4, 32).sum(1))


@corpus("scan", "block_reduce_f32", variants=("G",))
def _block_reduce_f32(dev, prog, k):
    x = rng(12).integers(-50, 50, 1000).astype(F32)
    out = dev.zeros(1, F32)
    dev.launch(prog, k, 3, 128, [dev.to_device(x), out, I32(x.size)])
    assert out.numpy()[0] == x.sum()


@corpus("scan", "block_reduce_max", variants=("G",))
def _block_reduce_max(dev, prog, k):
    x = rng(13).integers(-10**6, 10**6, 300).astype(I32)
    out = dev.to_device(np.array([np.iinfo(np.int32).min], I32))
    dev.launch(prog, k, 3, 128, [dev.to_device(x), out, I32(x.size)])
    assert out.numpy()[0] == x.max()


@corpus("scan", "block_scan_inclusive", variants=("G",))
def _block_scan_inclusive(dev, prog, k):
    x = rng(14).integers(-100, 100, 256).astype(I32)
    y = dev.zeros(256, I32)
    dev.launch(prog, k, 2, 128, [dev.to_device(x), y])
    np.testing.assert_array_equal(y.numpy(), np.cumsum(x.reshape(2, 128), 1).ravel())


@corpus("scan", "block_scan_exclusive", variants=("G",))
def _block_scan_exclusive(dev, prog, k):
    x = rng(15).integers(0, 1000, 256).astype(U32)
    y = dev.zeros(256, U32)
    dev.launch(prog, k, 2, 64, [dev.to_device(x), y])
    c = np.cumsum(x.reshape(2, 128), 1)
    np.testing.assert_array_equal(y.numpy(), (c - x.reshape(2, 128)).ravel().astype(U32))


@corpus("scan", "warp_scan_shfl", variants=("G",))
def _warp_scan_shfl(dev, prog, k):
    x = rng(16).integers(-100, 100, 256).astype(I32)
    y = dev.zeros(256, I32)
    dev.launch(prog, k, 2, 128, [dev.to_device(x), y])
    np.testing.assert_array_equal(y.numpy(), np.cumsum(x.reshape(2, 128), 1).ravel())


@corpus("scan", "multiblock_count", variants=("G",))
def _multiblock_count(dev, prog, k):
    x = rng(17).integers(-5, 5, 300).astype(I32)
    count, done, total = dev.zeros(1, I32), dev.zeros(1, U32), dev.zeros(1, I32)
    dev.launch(prog, k, 3, 128, [dev.to_device(x), I32(x.size), count, done, total])
    assert count.numpy()[0] == (x > 0).sum() == total.numpy()[0]
    assert done.numpy()[0] == 3  # atomicInc(p, gridDim.x) counts 0, 1, 2, 3 (it wraps only past 3)


# -------------------------------------------------------------------------------- histogram.cu


@corpus("histogram", "hist_shared", variants=("G",))
def _hist_shared(dev, prog, k):
    x = rng(18).integers(0, 256, 3000).astype(np.uint8)
    hist = dev.zeros(256, U32)
    dev.launch(prog, k, 2, 128, [dev.to_device(x), I32(x.size), hist])
    np.testing.assert_array_equal(hist.numpy(), np.bincount(x, minlength=256))


@corpus("histogram", "hist_global", variants=("G",))
def _hist_global(dev, prog, k):
    x = rng(19).integers(0, 10**6, 500).astype(I32)
    hist = dev.zeros(17, I32)
    dev.launch(prog, k, 4, 128, [dev.to_device(x), I32(x.size), hist, I32(17)])
    np.testing.assert_array_equal(hist.numpy(), np.bincount(x % 17, minlength=17))


@corpus("histogram", "atomic_max_f32", variants=("G",))
def _atomic_max_f32(dev, prog, k):
    x = rng(20).standard_normal(300).astype(F32)
    out = dev.to_device(np.array([-np.inf], F32))
    dev.launch(prog, k, 3, 128, [dev.to_device(x), I32(x.size), out])
    assert out.numpy()[0] == x.max()


@corpus("histogram", "atomic_add_f64_cas", variants=("G",))
def _atomic_add_f64_cas(dev, prog, k):
    x = rng(21).integers(-1000, 1000, 200).astype(np.float64)
    out = dev.zeros(1, np.float64)
    dev.launch(prog, k, 2, 128, [dev.to_device(x), I32(x.size), out])
    assert out.numpy()[0] == x.sum()


@corpus("histogram", "atomic_mul_f32", variants=("G",))
def _atomic_mul_f32(dev, prog, k):
    x = np.float32(2.0) ** rng(22).integers(-3, 4, 64).astype(F32)
    out = dev.to_device(np.ones(4, F32))
    dev.launch(prog, k, 1, 64, [dev.to_device(x), I32(x.size), out])
    np.testing.assert_array_equal(out.numpy(), x.reshape(16, 4).prod(0))


@corpus("histogram", "atomic_min_exch", variants=("G",))
def _atomic_min_exch(dev, prog, k):
    x = rng(23).integers(-10**6, 10**6, 200).astype(I32)
    mn, last = dev.to_device(np.array([np.iinfo(np.int32).max], I32)), dev.zeros(8, I32)
    dev.launch(prog, k, 2, 128, [dev.to_device(x), I32(x.size), mn, last])
    assert mn.numpy()[0] == x.min()
    for j, v in enumerate(last.numpy()):  # some thread of that residue class wrote last
        assert v in x[j::8]


@corpus("histogram", "atomic_add_f64", variants=("G",))
def _atomic_add_f64(dev, prog, k):
    x = rng(24).integers(-1000, 1000, 200).astype(np.float64)
    out = dev.zeros(2, np.float64)
    dev.launch(prog, k, 2, 128, [dev.to_device(x), I32(x.size), out])
    np.testing.assert_array_equal(out.numpy(), [x[0::2].sum(), x[1::2].sum()])


# ------------------------------------------------------------------------------------- sort.cu


@corpus("sort", "bitonic_sort_shared", variants=("G",))
def _bitonic(dev, prog, k):
    x = rng(25).integers(-1000, 1000, 256).astype(I32)
    d = dev.to_device(x)
    dev.launch(prog, k, 2, 128, [d])
    np.testing.assert_array_equal(d.numpy(), np.sort(x.reshape(2, 128), 1).ravel())


@corpus("sort", "odd_even_sort", variants=("G",))
def _odd_even(dev, prog, k):
    x = rng(26).standard_normal(100).astype(F32)
    d = dev.to_device(x)
    dev.launch(prog, k, 1, 64, [d, I32(x.size)])
    np.testing.assert_array_equal(d.numpy(), np.sort(x))


@corpus("sort", "radix_count", variants=("G",))
def _radix_count(dev, prog, k):
    keys = rng(27).integers(0, 1 << 32, 256, dtype=np.uint64).astype(U32)
    counts = dev.zeros(32, U32)
    dev.launch(prog, k, 2, 128, [dev.to_device(keys), I32(keys.size), I32(8), counts])
    want = np.stack([np.bincount((b >> 8) & 15, minlength=16) for b in keys.reshape(2, 128)]).ravel()
    np.testing.assert_array_equal(counts.numpy(), want)


@corpus("sort", "radix_scatter_block", variants=("G",))
def _radix_scatter(dev, prog, k):
    keys = rng(28).integers(0, 1 << 32, 256, dtype=np.uint64).astype(U32)
    out = dev.zeros(256, U32)
    dev.launch(prog, k, 2, 128, [dev.to_device(keys), out, I32(4)])
    want = np.concatenate([b[np.argsort((b >> 4) & 15, kind="stable")] for b in keys.reshape(2, 128)])
    np.testing.assert_array_equal(out.numpy(), want)


# ------------------------------------------------------------------------------ fft_stencil.cu


@corpus("fft_stencil", "fft_radix2_stage", variants=("G",))
def _fft_stage(dev, prog, k):
    n, half = 64, 4
    data = rng(29).standard_normal((n, 2)).astype(F32)
    tw = np.stack([np.cos(-2 * np.pi * np.arange(n // 2) / n), np.sin(-2 * np.pi * np.arange(n // 2) / n)], 1).astype(F32)
    d = dev.to_device(data)
    dev.launch(prog, k, 1, 32, [d, dev.to_device(tw), I32(n), I32(half)])
    want = data.astype(np.float64).copy()
    for b in range(n // 2):
        g, kk = divmod(b, half)
        i, j = g * 2 * half + kk, g * 2 * half + kk + half
        w = complex(*tw[kk * (n // (2 * half))].astype(np.float64))
        t, u = w * complex(*data[j]), complex(*data[i])
        want[j] = [(u - t).real, (u - t).imag]
        want[i] = [(u + t).real, (u + t).imag]
    np.testing.assert_allclose(d.numpy(), want, rtol=1e-5, atol=1e-5)


@corpus("fft_stencil", "fft32_shared", variants=("lineinfo", "G"))
def _fft32(dev, prog, k):
    x = rng(30).standard_normal((2, 32, 2)).astype(F32)
    out = dev.zeros((2, 32, 2), F32)
    dev.launch(prog, k, 2, 16, [dev.to_device(x), out])
    want = np.fft.fft(x[..., 0] + 1j * x[..., 1], axis=1)
    got = out.numpy()
    np.testing.assert_allclose(got[..., 0] + 1j * got[..., 1], want, atol=2e-4)


@corpus("fft_stencil", "stencil1d", variants=("G",))
def _stencil1d(dev, prog, k):
    x = rng(31).standard_normal(300).astype(F32)
    out = dev.zeros(300, F32)
    dev.launch(prog, k, 3, 128, [dev.to_device(x), out, I32(x.size)])
    p = np.pad(x, 1)
    want = F32(0.25) * p[:-2] + F32(0.5) * p[1:-1] + F32(0.25) * p[2:]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6, atol=1e-6)


@corpus("fft_stencil", "jacobi2d", variants=("lineinfo", "G"))
def _jacobi2d(dev, prog, k):
    w, h = 20, 18
    x = rng(32).standard_normal((h, w)).astype(F32)
    out = dev.zeros((h, w), F32)
    dev.launch(prog, k, (2, 2), (16, 16), [dev.to_device(x), out, I32(w), I32(h)])
    want = x.copy()
    want[1:-1, 1:-1] = F32(0.2) * (x[1:-1, 1:-1] + x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-6)


@corpus("fft_stencil", "transpose_naive", "transpose_shared", variants=("G",))
def _transpose(dev, prog, k):
    w, h = 40, 36
    x = rng(33).standard_normal((h, w)).astype(F32)
    out = dev.zeros((w, h), F32)
    block = (16, 16) if k == "transpose_naive" else (32, 8)
    grid = (3, 3) if k == "transpose_naive" else (2, 2)
    dev.launch(prog, k, grid, block, [dev.to_device(x), out, I32(w), I32(h)])
    np.testing.assert_array_equal(out.numpy(), x.T)


# --------------------------------------------------------------------------------- warpops.cu


@corpus("warpops", "ballot_ops")
def _ballot_ops(dev, prog, k):
    x = rng(34).integers(-200, 200, 128).astype(I32)
    x[32:64] = np.abs(x[32:64]) % 50 + 1  # warp 1: all positive, none > 100
    out = dev.zeros(12, U32)
    dev.launch(prog, k, 1, 128, [dev.to_device(x), out])
    for w, xs in enumerate(x.reshape(4, 32)):
        b = int(sum(1 << i for i in range(32) if xs[i] > 0))
        flags = int((xs > 100).any()) | (int((xs > -100).all()) << 1)
        assert out.numpy()[3 * w:3 * w + 3].tolist() == [b, bin(b).count("1"), flags]


@corpus("warpops", "match_any_val")
def _match_any(dev, prog, k):
    x = rng(35).integers(0, 5, 64).astype(I32)
    out = dev.zeros(64, U32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    for i in range(64):
        w = x[(i // 32) * 32:(i // 32) * 32 + 32]
        assert out.numpy()[i] == sum(1 << j for j in range(32) if w[j] == x[i])


@corpus("warpops", "match_all_val")
def _match_all(dev, prog, k):
    x = np.concatenate([np.full(32, 7), rng(36).integers(0, 3, 32)]).astype(I32)
    out = dev.zeros(128, U32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    got = out.numpy().reshape(64, 2)
    assert (got[:32] == [0xFFFFFFFF, 1]).all()
    assert (got[32:] == [0, 0]).all() or len(set(x[32:])) == 1


@corpus("warpops", "activemask_div")
def _activemask(dev, prog, k):
    out = dev.zeros(64, U32)
    dev.launch(prog, k, 1, 64, [out])
    got = out.numpy()
    assert (got[0::2] == 0xFFFFFFFF).all()
    assert (got[1::2] == 0xAAAAAAAA).all()


@corpus("warpops", "shfl_kinds_f32")
def _shfl_kinds(dev, prog, k):
    x = rng(37).standard_normal(64).astype(F32)
    out = dev.zeros(256, F32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    got = out.numpy().reshape(64, 4)
    for i in range(64):
        base, lane = i & ~31, i & 31
        assert got[i, 0] == x[base + (lane * 7) % 32]
        assert got[i, 1] == x[base + (lane - 3 if lane >= 3 else lane)]
        assert got[i, 2] == x[base + (lane + 5 if lane + 5 < 32 else lane)]
        assert got[i, 3] == x[base + (lane ^ 9)]


@corpus("warpops", "shfl_f64")
def _shfl_f64(dev, prog, k):
    x = rng(38).standard_normal(64)
    out = dev.zeros(64, np.float64)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    i = np.arange(64)
    np.testing.assert_array_equal(out.numpy(), x[i ^ 1] + x[i & ~7])


@corpus("warpops", "shfl_width16")
def _shfl_width16(dev, prog, k):
    x = rng(39).integers(-999, 999, 64).astype(I32)
    out = dev.zeros(128, I32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    got = out.numpy().reshape(64, 2)
    for i in range(64):
        seg, l = i & ~15, i & 15
        assert got[i, 0] == x[seg + (l + 3 if l + 3 < 16 else l)]
        assert got[i, 1] == x[seg + (l - 2 if l >= 2 else l)]


@corpus("warpops", "cg_tile_reduce")
def _cg_tile_reduce(dev, prog, k):
    x = rng(40).integers(-100, 100, 64).astype(I32)
    out = dev.zeros(8, I32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    np.testing.assert_array_equal(out.numpy(), x.reshape(8, 8).sum(1))


@corpus("warpops", "cg_tile16_ballot")
def _cg_tile16_ballot(dev, prog, k):
    x = rng(41).integers(-5, 5, 64).astype(I32)
    out = dev.zeros(4, U32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    want = [sum(1 << j for j in range(16) if t[j] > 0) for t in x.reshape(4, 16)]
    np.testing.assert_array_equal(out.numpy(), want)


@corpus("warpops", "cg_coalesced")
def _cg_coalesced(dev, prog, k):
    x = rng(42).integers(0, 100, 64).astype(I32)
    out = dev.zeros(64, I32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    want = np.full(64, -1)
    for w in range(2):
        odd = [i for i in range(32 * w, 32 * w + 32) if x[i] & 1]
        for r, i in enumerate(odd):
            want[i] = len(odd) * 100 + r
    np.testing.assert_array_equal(out.numpy(), want)


@corpus("warpops", "syncwarp_masks")
def _syncwarp_masks(dev, prog, k):
    x = rng(43).integers(-100, 100, 64).astype(I32)
    d = dev.to_device(x)
    dev.launch(prog, k, 1, 64, [d])
    t = np.arange(64)
    np.testing.assert_array_equal(d.numpy(), 2 * x[(t & ~15) | (15 - (t & 15))] + t)


# --------------------------------------------------------------------------------- numeric.cu


def _f16(a):
    return np.asarray(a, np.float16)


@corpus("numeric", "half_ops")
def _half_ops(dev, prog, k):
    a = _f16(rng(44).standard_normal(64) * 4)
    b = _f16(rng(45).standard_normal(64) * 4 + 0.1)
    b[b == 0] = 1
    out = dev.zeros(256, np.float16)
    dev.launch(prog, k, 1, 64, [dev.to_device(a), dev.to_device(b), out])
    got = out.numpy().reshape(64, 4)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    np.testing.assert_array_equal(got[:, 0], _f16(a64 + b64))
    np.testing.assert_array_equal(got[:, 1], _f16(a64 * b64))
    np.testing.assert_array_equal(got[:, 2], _f16(a64 * b64 + a64))
    np.testing.assert_array_equal(got[:, 3], _f16(a64 / b64))


@corpus("numeric", "half2_ops")
def _half2_ops(dev, prog, k):
    a = _f16(rng(46).standard_normal(128) * 4)
    b = _f16(rng(47).standard_normal(128) * 4)
    out = dev.zeros(384, np.float16)
    dev.launch(prog, k, 1, 64, [dev.to_device(a), dev.to_device(b), out])
    got = out.numpy().reshape(64, 3, 2)
    a64, b64 = a.astype(np.float64).reshape(64, 2), b.astype(np.float64).reshape(64, 2)
    np.testing.assert_array_equal(got[:, 0], _f16(a64 + b64))
    np.testing.assert_array_equal(got[:, 1], _f16(a64 * b64))
    np.testing.assert_array_equal(got[:, 2], _f16(a64 * b64 + b64))


@corpus("numeric", "f64_axpy_lit", variants=("lineinfo",))
def _f64_axpy_lit(dev, prog, k):
    x, y = rng(48).standard_normal(100), rng(49).standard_normal(100)
    d = dev.to_device(y)
    dev.launch(prog, k, 1, 128, [dev.to_device(x), d, I32(100)])
    # nvcc contracts 0.3*x + y into one DFMA; the -G build keeps DMUL then DADD
    fused = np.array([float(np.longdouble(0.3) * np.longdouble(a) + np.longdouble(b)) for a, b in zip(x, y)])
    unfused = 0.3 * x + y
    got = d.numpy()
    ok = (got == fused - 1e-7) | (got == unfused - 1e-7)
    assert ok.all(), got[~ok]


@corpus("numeric", "f64_ops")
def _f64_ops(dev, prog, k):
    a = rng(50).standard_normal(64) * 100
    b = rng(51).standard_normal(64) + 3
    out = dev.zeros(320, np.float64)
    dev.launch(prog, k, 1, 64, [dev.to_device(a), dev.to_device(b), out])
    got = out.numpy().reshape(64, 5)
    np.testing.assert_array_equal(got[:, 0], a / b)
    np.testing.assert_array_equal(got[:, 1], np.sqrt(np.abs(a)))
    fma = [float(np.longdouble(x) * np.longdouble(y) + np.longdouble(1.5)) for x, y in zip(a, b)]
    np.testing.assert_allclose(got[:, 2], fma, rtol=1e-15)
    np.testing.assert_array_equal(got[:, 3], np.fmin(a, b))
    np.testing.assert_array_equal(got[:, 4], np.trunc(a))


@corpus("numeric", "f64_poly", variants=("lineinfo",))
def _f64_poly(dev, prog, k):
    x = rng(52).standard_normal(64)
    out = dev.zeros(64, np.float64)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    c = [0.1234567890123, -0.987654321, 0.333333333333333, 1.4142135623730951, -2.718281828459045,
         3.141592653589793, 0.577215664901532, -1.0e-3]
    p = np.full(64, c[0])
    for ci in c[1:]:
        p = p * x + ci
    np.testing.assert_allclose(out.numpy(), p, rtol=1e-13, atol=1e-13)


@corpus("numeric", "int_div_var", variants=("lineinfo",))
def _int_div_var(dev, prog, k):
    a = rng(53).integers(-2**31, 2**31, 128).astype(I32)
    b = rng(54).integers(-5000, 5000, 128).astype(I32)
    b[b == 0] = 7
    a[:2], b[:2] = [-2**31, 5], [-1, -3]  # INT_MIN / -1 wraps
    q, r = dev.zeros(128, I32), dev.zeros(128, I32)
    dev.launch(prog, k, 1, 128, [dev.to_device(a), dev.to_device(b), q, r])
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    qq = (np.abs(a64) // np.abs(b64)) * np.sign(a64) * np.sign(b64)
    np.testing.assert_array_equal(q.numpy(), qq.astype(np.int64).astype(np.uint32).view(I32))
    np.testing.assert_array_equal(r.numpy(), (a64 - qq * b64).astype(np.uint32).view(I32))


@corpus("numeric", "uint_div_var")
def _uint_div_var(dev, prog, k):
    a = rng(55).integers(0, 2**32, 128, dtype=np.uint64).astype(U32)
    b = rng(56).integers(1, 2**32, 128, dtype=np.uint64).astype(U32)
    b[:8] = [1, 2, 3, 7, 0xFFFFFFFF, 0x80000000, 65536, 1000]
    q, r = dev.zeros(128, U32), dev.zeros(128, U32)
    dev.launch(prog, k, 1, 128, [dev.to_device(a), dev.to_device(b), q, r])
    np.testing.assert_array_equal(q.numpy(), a // b)
    np.testing.assert_array_equal(r.numpy(), a % b)


@corpus("numeric", "int_div_const")
def _int_div_const(dev, prog, k):
    a = rng(57).integers(-2**31, 2**31, 128).astype(I32)
    a[:4] = [-2**31, 2**31 - 1, -1, 0]
    out = dev.zeros(512, I32)
    dev.launch(prog, k, 1, 128, [dev.to_device(a), out])
    a64 = a.astype(np.int64)

    def tdiv(x, d):
        return np.sign(x) * np.sign(d) * (np.abs(x) // abs(d))

    want = np.stack([tdiv(a64, 7), a64 - tdiv(a64, 13) * 13, tdiv(a64, -3), tdiv(a64, 1000)], 1)
    np.testing.assert_array_equal(out.numpy().reshape(128, 4), want)


@corpus("numeric", "i64_div_var")
def _i64_div_var(dev, prog, k):
    a = rng(58).integers(-2**62, 2**62, 64)
    b = rng(59).integers(-2**40, 2**40, 64)
    b[b == 0] = 3
    b[:4] = [1, -1, 7, 2**33 + 1]
    q, r = dev.zeros(64, np.int64), dev.zeros(64, np.int64)
    dev.launch(prog, k, 1, 64, [dev.to_device(a), dev.to_device(b), q, r])
    qq = [int(abs(int(x)) // abs(int(y))) * (1 if (x < 0) == (y < 0) else -1) for x, y in zip(a, b)]
    np.testing.assert_array_equal(q.numpy(), qq)
    np.testing.assert_array_equal(r.numpy(), [int(x) - qi * int(y) for x, y, qi in zip(a, b, qq)])


@corpus("numeric", "fdiv_sqrt", variants=("lineinfo",))
def _fdiv_sqrt(dev, prog, k):
    a = (rng(60).standard_normal(128) * 1e3).astype(F32)
    b = (rng(61).standard_normal(128) * 1e-2).astype(F32)
    a[:4] = [1e-40, 3e38, 0, -0.0]
    b[:4] = [3e-39, 1e-3, 1, 2]
    out = dev.zeros(384, F32)
    dev.launch(prog, k, 1, 128, [dev.to_device(a), dev.to_device(b), out])
    got = out.numpy().reshape(128, 3)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got[:, 0], (a.astype(np.float64) / b).astype(F32))
    np.testing.assert_array_equal(got[:, 1], np.sqrt(np.abs(a)))
    np.testing.assert_allclose(got[:, 2], 1 / np.sqrt(np.abs(a).astype(np.float64) + 1), rtol=3e-7)


@corpus("numeric", "libm_f32")
def _libm_f32(dev, prog, k):
    x = (rng(62).standard_normal(128) * 3).astype(F32)
    out = dev.zeros(768, F32)
    dev.launch(prog, k, 1, 128, [dev.to_device(x), out])
    got = out.numpy().reshape(128, 6).astype(np.float64)
    x64 = x.astype(np.float64)
    want = np.stack([np.exp(x64), np.log(np.abs(x64) + 1), np.sin(x64), np.cos(x64),
                     (np.abs(x64) + 0.5) ** np.float64(F32(1.7)), np.tanh(x64)], 1)
    np.testing.assert_allclose(got, want, rtol=4e-7, atol=4e-7)


# sinf of a large argument (Payne-Hanek) and the fp64 exp/log/sin read tables that nvcc keeps in
# global memory (`.nv.global.init`, `__cudart_i2opi_f`), whose addresses the CUDA loader patches
# into the code through relocations (the listing shows them unpatched, 0x0): they run only with
# the cubin (or cuobjdump -elf's text) beside the listing.
@corpus("numeric", "libm_big_args", variants=("lineinfo",))
def _libm_big_args(dev, prog, k):
    x = np.concatenate([(rng(63).standard_normal(32) * 10).astype(F32),
                        F32(10.0) ** rng(64).uniform(3, 30, 32).astype(F32)]).astype(F32)
    out = dev.zeros(128, F32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    got = out.numpy().reshape(64, 2).astype(np.float64)
    import math
    want = np.array([[math.sin(float(v)), math.cos(float(v))] for v in x])  # exact arg reduction
    np.testing.assert_allclose(got, want, atol=4e-7)


@corpus("numeric", "libm_f64")
def _libm_f64(dev, prog, k):
    x = rng(65).standard_normal(64) * 3
    out = dev.zeros(192, np.float64)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    want = np.stack([np.exp(x), np.log(np.abs(x) + 1), np.sin(x)], 1)
    np.testing.assert_allclose(out.numpy().reshape(64, 3), want, rtol=1e-15, atol=1e-16)


# ---------------------------------------------------------------------------------- memctl.cu


@corpus("memctl", "dyn_shared_rotate", variants=("G",))
def _dyn_shared(dev, prog, k):
    x = rng(66).integers(-100, 100, 192).astype(I32)
    y = dev.zeros(192, I32)
    dev.launch(prog, k, 2, 96, [dev.to_device(x), y], shared_bytes=96 * 4)
    np.testing.assert_array_equal(y.numpy(), np.roll(x.reshape(2, 96), -1, 1).ravel())


@corpus("memctl", "local_dyn_index", variants=("G",))
def _local_dyn_index(dev, prog, k):
    idx = rng(67).integers(0, 256, 64).astype(I32)
    out = dev.zeros(64, I32)
    dev.launch(prog, k, 1, 64, [dev.to_device(idx), out])
    i = np.arange(64)
    a = lambda j: i * j + j  # noqa: E731
    np.testing.assert_array_equal(out.numpy(), a(idx & 15) + a((idx >> 4) & 15))


@corpus("memctl", "spill_heavy", variants=("G",))
def _spill_heavy(dev, prog, k):
    x = rng(68).integers(-8, 8, 64).astype(F32)
    out = dev.zeros(64, F32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    acc = [x * F32(kk + 1) for kk in range(40)]
    for _ in range(3):
        for kk in range(40):  # in place, in order: k >= 33 reads this round's acc[k - 33]
            acc[kk] = acc[kk] * F32(0.5) + acc[(kk + 7) % 40]
    np.testing.assert_allclose(out.numpy(), np.sum(acc, 0), rtol=1e-5)


@corpus("memctl", "recursive_sum", variants=("G",))
def _recursive_sum(dev, prog, k):
    n = rng(69).integers(0, 40, 64).astype(I32)
    out = dev.zeros(64, I32)
    dev.launch(prog, k, 1, 64, [dev.to_device(n), out])
    np.testing.assert_array_equal(out.numpy(), n * (n + 1) // 2)


@corpus("memctl", "call_chain", variants=("G",))
def _call_chain(dev, prog, k):
    x = rng(70).standard_normal(64).astype(F32)
    out = dev.zeros(64, F32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])

    def f1(v):
        return F32(v * F32(2) + F32(1))

    def f2(v):
        return F32(v - F32(3)) if v > 3 else f1(v)

    want = [F32(f2(f2(f1(v))) * f1(f2(f1(v)))) for v in x]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)


@corpus("memctl", "clock_delta", variants=("G",))
def _clock_delta(dev, prog, k):
    out, ok = dev.zeros(64, np.int64), dev.zeros(64, U32)
    dev.launch(prog, k, 1, 64, [out, ok])
    assert (out.numpy() >= 0).all() and (ok.numpy() & 1).all()


@corpus("memctl", "nanosleep_kernel", variants=("G",))
def _nanosleep(dev, prog, k):
    out = dev.zeros(64, I32)
    dev.launch(prog, k, 1, 64, [out])
    np.testing.assert_array_equal(out.numpy(), np.arange(64))


@corpus("memctl", "volatile_flag", variants=("G",))
def _volatile_flag(dev, prog, k):
    data, flag, out = dev.zeros(2, I32), dev.zeros(1, I32), dev.zeros(32, I32)
    dev.launch(prog, k, 1, 32, [data, flag, out])
    np.testing.assert_array_equal(out.numpy(), np.tile([42, 43], 16))


@corpus("memctl", "const_table", variants=("G",))
def _const_table(dev, prog, k):
    table = rng(71).standard_normal(64).astype(F32)
    dev.write_constant(3, 0, table.tobytes())
    idx = rng(72).integers(0, 1000, 64).astype(I32)
    out = dev.zeros(64, F32)
    dev.launch(prog, k, 1, 64, [dev.to_device(idx), out])
    np.testing.assert_array_equal(out.numpy(), table[idx & 63] * F32(2))


@corpus("memctl", "const_literals", variants=("G",))
def _const_literals(dev, prog, k):
    x = rng(73).standard_normal(64).astype(F32)
    out = dev.zeros(64, F32)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), out])
    d = (x.astype(np.float64) * 0.1 + 0.7).astype(F32)
    if any(t.startswith("FFMA") for t in prog.kernels[k].instructions()):
        # -O3 fuses v * 1.2345678f + (float)d into one FFMA: the product is exact in fp64
        want = (x.astype(np.float64) * np.float64(F32(1.2345678)) + d).astype(F32)
    else:  # -G: FMUL, then FADD
        want = x * F32(1.2345678) + d
    np.testing.assert_array_equal(out.numpy(), want)


# --------------------------------------------------------------------------------- globals.cu
# __device__ variables: the cubin (or cuobjdump -elf's text) gives their initial data and the
# relocations that patch their addresses into the MOV pairs of the code.

DTAB, DSCALE = np.array([3, 1, 4, 1, 5, 9, 2, 6], I32), np.array([0.5, -2.0], F32)


@corpus("globals", "device_table", variants=("lineinfo", "G"))
def _device_table(dev, prog, k):
    idx = rng(80).integers(0, 1 << 10, 64).astype(I32)
    out = dev.zeros(64, F32)
    dev.launch(prog, k, 1, 64, [dev.to_device(idx), out])
    np.testing.assert_array_equal(out.numpy(), DTAB[idx & 7] * DSCALE[(idx >> 3) & 1])


@corpus("globals", "device_count", variants=("lineinfo", "G"))
def _device_count(dev, prog, k):
    # the counter lives on the device: a second launch goes on counting
    for launch in range(2):
        ticket = dev.zeros(64, U32)
        dev.launch(prog, k, 1, 64, [ticket])
        np.testing.assert_array_equal(np.sort(ticket.numpy()), np.arange(64 * launch, 64 * (launch + 1)))
    np.testing.assert_array_equal(dev.read_global(prog, "dcount", U32), [128])


@corpus("globals", "device_slots", variants=("lineinfo", "G"))
def _device_slots(dev, prog, k):
    v = rng(81).integers(-1000, 1000, 64).astype(I32)
    np.testing.assert_array_equal(dev.read_global(prog, "dslots", I32), np.zeros(64, I32))
    dev.launch(prog, k, 1, 64, [dev.to_device(v)])
    np.testing.assert_array_equal(dev.read_global(prog, "dslots", I32), v)


@corpus("globals", "device_addresses", variants=("lineinfo", "G"))
def _device_addresses(dev, prog, k):
    out = dev.zeros(4, np.uint64)
    dev.launch(prog, k, 1, 1, [out])
    addr = {name: dev.global_address(prog, name) for name in ("dtab", "dslots", "dcount")}
    np.testing.assert_array_equal(out.numpy(), [addr["dtab"], addr["dtab"] + 20, addr["dslots"], addr["dcount"]])


# ------------------------------------------------------ vecadd.cu, reduction.cu, grid3d.cu, templates.cu
# the older fixtures, here for their -G builds (generic LD/ST through the shared and local windows,
# the SR_LMEMHIOFF stack check) beside the -O3 ones


@corpus("vecadd", "vadd_f32", "vadd_i32", "saxpy", "vadd_gridstride", variants=("G",))
def _vecadd(dev, prog, k):
    n = 1000
    dt = I32 if k == "vadd_i32" else F32
    a, b = rng(90).integers(-2**31, 2**31, n).astype(dt), rng(91).integers(-2**31, 2**31, n).astype(dt)
    if dt is F32:
        a, b = rng(90).standard_normal(n).astype(F32), rng(91).standard_normal(n).astype(F32)
    if k == "saxpy":
        y = dev.to_device(b)
        dev.launch(prog, k, 8, 128, [I32(n), F32(1.5), dev.to_device(a), y])
        if any(t.startswith("FFMA") for t in prog.kernels[k].instructions()):  # -O3: one fused multiply-add
            want = (a.astype(np.float64) * F32(1.5) + b).astype(F32)
        else:  # -G contracts nothing: FMUL, then FADD
            want = a * F32(1.5) + b
        np.testing.assert_array_equal(y.numpy(), want)
        return
    c = dev.zeros(n, dt)
    grid, block = (2, 64) if k == "vadd_gridstride" else (8, 128)
    dev.launch(prog, k, grid, block, [dev.to_device(a), dev.to_device(b), c, I32(n)])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(c.numpy(), a + b)


@corpus("reduction", "reduce_static", "reduce_dynamic", "block_reverse", variants=("G",))
def _reduction(dev, prog, k):
    if k == "reduce_static":
        x = rng(92).integers(-50, 50, 3 * 128).astype(F32)  # small integers: exact in any order
        out = dev.zeros(3, F32)
        dev.launch(prog, k, 3, 128, [dev.to_device(x), out])
        np.testing.assert_array_equal(out.numpy(), x.reshape(3, 128).sum(1))
    elif k == "reduce_dynamic":
        x = rng(93).integers(-10**6, 10**6, 600).astype(I32)
        out = dev.zeros(3, I32)
        dev.launch(prog, k, 3, 256, [dev.to_device(x), out, I32(600)], shared_bytes=256 * 4)
        np.testing.assert_array_equal(out.numpy(), np.pad(x, (0, 168)).reshape(3, 256).sum(1))
    else:
        x = rng(94).integers(-1000, 1000, 128).astype(I32)
        out = dev.zeros(128, I32)
        dev.launch(prog, k, 2, 64, [dev.to_device(x), out], shared_bytes=64 * 4)
        np.testing.assert_array_equal(out.numpy(), x.reshape(2, 64)[:, ::-1].ravel())


@corpus("grid3d", "linear3d", "volume_sum_z", "block_coords", variants=("G",))
def _grid3d(dev, prog, k):
    if k == "linear3d":
        nx, ny, nz = 7, 8, 5
        out = dev.to_device(np.full(nx * ny * nz, -1, I32))
        dev.launch(prog, k, (2, 2, 3), (4, 4, 2), [out, I32(nx), I32(ny), I32(nz)])
        np.testing.assert_array_equal(out.numpy(), np.arange(nx * ny * nz) * 2 + 1)
    elif k == "volume_sum_z":
        nx, ny, nz = 13, 6, 5
        vol = rng(95).integers(-20, 20, nz * ny * nx).astype(F32)
        plane = dev.zeros(ny * nx, F32)
        dev.launch(prog, k, (2, 2, 1), (8, 4, 1), [dev.to_device(vol), plane, I32(nx), I32(ny), I32(nz)])
        np.testing.assert_array_equal(plane.numpy(), vol.reshape(nz, ny * nx).sum(0))
    else:
        out = dev.zeros(12, I32)
        dev.launch(prog, k, (3, 2, 2), (2, 2, 2), [out])
        z, y, x = np.meshgrid(range(2), range(2), range(3), indexing="ij")
        np.testing.assert_array_equal(out.numpy(), (x | y << 8 | z << 16).ravel())


@corpus("templates", "scale_add<float>", "scale_add<int>", "scale_add<double>", "overloaded(int*, int)",
        "overloaded(float*, float)", "fx::in_namespace", variants=("G",))
def _templates(dev, prog, k):
    tid = np.arange(64)
    if k.startswith("scale_add"):
        dt = {"float": F32, "int": I32, "double": np.float64}[k[10:-1]]
        x = rng(96).integers(-100, 100, 64).astype(dt)
        out = dev.zeros(64, dt)
        dev.launch(prog, k, 1, 64, [dev.to_device(x), out, dt(3), I32(60)])
        want = np.where(tid < 60, x * dt(3) + tid.astype(dt), 0).astype(dt)
        np.testing.assert_array_equal(out.numpy(), want)
    elif k == "overloaded(int*, int)":
        out = dev.zeros(64, I32)
        dev.launch(prog, k, 1, 64, [out, I32(7)])
        np.testing.assert_array_equal(out.numpy(), 7 + tid)
    elif k == "overloaded(float*, float)":
        out = dev.zeros(64, F32)
        dev.launch(prog, k, 1, 64, [out, F32(3.0)])
        np.testing.assert_array_equal(out.numpy(), F32(1.5) + tid.astype(F32))
    else:
        out = dev.zeros(64, I32)
        dev.launch(prog, k, 1, 64, [out])
        np.testing.assert_array_equal(out.numpy(), tid * tid)


# ---------------------------------------------------------------------------- wmma_layouts.cu


@corpus("wmma_layouts", "wmma_row_row_f32", "wmma_col_col_f32", "wmma_row_col_f16", "wmma_col_row_f16",
        "wmma_row_row_f16")
def _wmma_layouts(dev, prog, k):
    _, la, lb, acc = k.split("_")
    acc_t = np.float32 if acc == "f32" else np.float16
    a = _f16(rng(74).integers(-4, 5, (16, 16)))
    b = _f16(rng(75).integers(-4, 5, (16, 16)))
    c = rng(76).integers(-8, 8, (16, 16)).astype(acc_t)
    d = dev.zeros((16, 16), acc_t)
    a_mem = a if la == "row" else a.T.copy()
    b_mem = b if lb == "row" else b.T.copy()
    dev.launch(prog, k, 1, 32, [dev.to_device(a_mem), dev.to_device(b_mem), dev.to_device(c), d])
    want = a.astype(np.float64) @ b.astype(np.float64) + c  # small integers: exact in any order
    np.testing.assert_array_equal(d.numpy(), want.astype(acc_t))


# --------------------------------------------------------------------------------- atomics.cu
# Order-dependent results are checked by what is deterministic on any GPU (final values, the
# set of returned old values); the emulator's order is the CTA-order rule (crates/otc-sim
# device.rs).


@corpus("atomics", "atomics_global", variants=("G",))
def _atomics_global(dev, prog, k):
    v = rng(101).integers(1, 1000, 128).astype(I32)  # positive: the running sums increase
    init = np.array([5, 5000, -100, -1, 0, 3, 0, 0, 50], I32)
    ci, cu = dev.to_device(init), dev.to_device(np.array([7, 0], U32))
    cf, old = dev.zeros(1, F32), dev.zeros(128, I32)
    dev.launch(prog, k, 2, 64, [ci, cu, cf, old, dev.to_device(v)])
    bits = np.bitwise_or.reduce(1 << (np.arange(128) & 31)).astype(I32)
    got = ci.numpy()
    assert got[0] == 5 + v.sum() and got[1] == v.min() and got[2] == max(-100, v.max())
    assert got[3] == -1 & ~bits and got[4] == bits and got[5] == 3 ^ np.bitwise_xor.reduce(v)
    assert got[6] == 7 and 1 <= got[7] <= 128 and got[8] == 50 - 128
    assert cu.numpy().tolist() == [(7 + int(v.astype(np.int64).sum())) % 2**32, int(v.view(U32).max())]
    assert cf.numpy()[0] == 64.0
    # the returned old values are the running sums of the additions in some order
    o = old.numpy()
    order = np.argsort(o)
    np.testing.assert_array_equal(o[order], 5 + np.concatenate([[0], np.cumsum(v[order])[:-1]]))


@corpus("atomics", "atomic_inc_dec", variants=("G",))
def _atomic_inc_dec(dev, prog, k):
    c, old = dev.zeros(2, U32), dev.zeros(128, U32)
    dev.launch(prog, k, 1, 64, [c, old])
    assert c.numpy().tolist() == [64 % 10, (10 - 64 % 10) % 10]
    np.testing.assert_array_equal(np.sort(old.numpy()[0::2]), np.sort(np.arange(64) % 10))
    np.testing.assert_array_equal(np.sort(old.numpy()[1::2]), np.sort((-np.arange(64)) % 10))


@corpus("atomics", "red_histogram", variants=("G",))
def _red_histogram(dev, prog, k):
    x = rng(102).integers(0, 1 << 20, 1000).astype(U32)
    hist = dev.to_device(np.arange(16, dtype=U32))
    dev.launch(prog, k, 2, 64, [dev.to_device(x), hist, I32(x.size)])
    np.testing.assert_array_equal(hist.numpy(), np.arange(16) + np.bincount(x & 15, minlength=16))


@corpus("atomics", "red_float", variants=("G",))
def _red_float(dev, prog, k):
    x = rng(103).integers(-64, 64, 64).astype(F32) / F32(4)  # exact binary fractions: any order is exact
    s, d = dev.zeros(1, F32), dev.zeros(1, np.float64)
    dev.launch(prog, k, 1, 64, [dev.to_device(x), s, d])
    assert s.numpy()[0] == x.sum() and d.numpy()[0] == x.astype(np.float64).sum()


@corpus("atomics", "atomics_shared", variants=("G",))
def _atomics_shared(dev, prog, k):
    v = rng(104).integers(-500, 500, 64).astype(I32)
    out = dev.zeros(10 + 64 + 3, I32)
    dev.launch(prog, k, 1, 64, [dev.to_device(v), out])
    got = out.numpy()
    want = [v.sum(), v.min(), v.max(), 0, np.bitwise_or.reduce(1 << (v & 31)), np.bitwise_xor.reduce(v), 5, 1, 64,
            -v.sum()]
    np.testing.assert_array_equal(got[:10], want)
    np.testing.assert_array_equal(np.sort(got[10:74]), np.arange(64))
    assert got[74] == 64 and got[75] == 1001 - 64 and got[76] == np.float32(64).view(I32)


@corpus("atomics", "fence_flag", variants=("G",))
def _fence_flag(dev, prog, k):
    data, flag = dev.zeros(4, I32), dev.zeros(4, I32)
    dev.launch(prog, k, 4, 32, [data, flag])
    assert data.numpy().tolist() == [1, 11, 21, 31] and flag.numpy().tolist() == [1] * 4


@corpus("atomics", "atomics_private", variants=("G",))
def _atomics_private(dev, prog, k):
    n = 32
    v = rng(105).integers(-50, 50, n).astype(I32)
    s0 = rng(106).integers(-50, 50, (n, 8)).astype(I32)
    s0[::2, 7] = 5  # half the CAS slots match the compare value
    u0 = np.stack([rng(107).integers(0, 100, n), rng(108).integers(0, 5, n)], 1).astype(U32)
    f0 = rng(109).integers(-8, 8, (n, 2)).astype(F32)
    q0 = np.stack([rng(110).integers(0, 1 << 40, n), np.where(np.arange(n) % 3 == 0, 0, 9)], 1).astype(np.uint64)
    s, u, f, q = (dev.to_device(a) for a in (s0, u0, f0, q0))
    old = dev.zeros((n, 14), I32)
    dev.launch(prog, k, 1, n, [s, u, f, q, dev.to_device(v), old])
    o = old.numpy()
    np.testing.assert_array_equal(o[:, :8], s0)
    np.testing.assert_array_equal(o[:, 8:10], u0.view(I32))
    np.testing.assert_array_equal(o[:, 10:12], f0.view(I32))
    np.testing.assert_array_equal(o[:, 12:14], q0.astype(np.uint32).view(I32))  # the low words
    want = np.stack([s0[:, 0] + v, np.minimum(s0[:, 1], v), np.maximum(s0[:, 2], v), s0[:, 3] & v, s0[:, 4] | v,
                     s0[:, 5] ^ v, v, np.where(s0[:, 7] == 5, v, s0[:, 7])], 1)
    np.testing.assert_array_equal(s.numpy(), want)
    vu = v.view(U32)
    np.testing.assert_array_equal(u.numpy(), np.stack([np.minimum(u0[:, 0], vu),
                                                       np.where(u0[:, 1] >= 3, 0, u0[:, 1] + 1)], 1))
    np.testing.assert_array_equal(f.numpy(), np.stack([f0[:, 0] + F32(1.25), v.astype(F32)], 1))
    add = (v.astype(np.int64).astype(np.uint64) * np.uint64(0x100000001)) & np.uint64(2**64 - 1)
    cas = np.where(q0[:, 1] == 0, np.uint64(0xFFFFFFFF00000001), q0[:, 1])
    np.testing.assert_array_equal(q.numpy(), np.stack([q0[:, 0] + add, cas], 1))


# ---------------------------------------------------------------------------- const_generic.cu
# __constant__ arrays reached through a generic pointer: nvcc adds the array's offset to the
# generic address of bank 3 (c[0x0][0x50]) and loads with LD; the cubin's .nv.constant3 holds
# the initial tables.

CTAB = np.arange(64, dtype=F32) / F32(2) - F32(3)
DTAB_F64 = np.arange(16) / 4 + 1.0
BTAB = ((37 * np.arange(32) + 11) & 255).astype(np.uint8)


@corpus("const_generic", "const_generic_select", variants=("G",))
def _const_generic_select(dev, prog, k):
    x = rng(111).standard_normal(64).astype(F32)
    i = np.arange(100)
    for use_table, src in ((1, CTAB), (0, x)):
        out = dev.zeros(128, F32)
        dev.launch(prog, k, 2, 64, [out, dev.to_device(x), I32(use_table), I32(100)])
        want = np.zeros(128, F32)
        want[:100] = src[(7 * i) & 63] * F32(2) + CTAB[i & 63]
        np.testing.assert_array_equal(out.numpy(), want)


@corpus("const_generic", "const_generic_f64", variants=("G",))
def _const_generic_f64(dev, prog, k):
    x = rng(112).standard_normal(16)
    for use_table, src in ((1, DTAB_F64), (0, x)):
        out = dev.zeros(64, np.float64)
        dev.launch(prog, k, 1, 64, [out, dev.to_device(x), I32(use_table), I32(64)])
        np.testing.assert_array_equal(out.numpy(), src[np.arange(64) & 15] * 3.0)


@corpus("const_generic", "const_generic_bytes", variants=("G",))
def _const_generic_bytes(dev, prog, k):
    x = rng(113).integers(0, 256, 32).astype(np.uint8)
    for use_table, src in ((1, BTAB), (0, x)):
        out = dev.zeros(64, I32)
        dev.launch(prog, k, 1, 64, [out, dev.to_device(x), I32(use_table), I32(64)])
        np.testing.assert_array_equal(out.numpy(), src[(5 * np.arange(64)) & 31].astype(I32) + 1000)


def test_constant_bank_3_written_by_hand_is_what_the_generic_pointer_reads():
    dev = otc_emu.Device(timing=False)
    prog = program("const_generic")
    table = rng(114).standard_normal(64).astype(F32)
    dev.write_constant(3, 0, table.tobytes())  # ctab is at offset 0 of the -O3 module's bank 3
    out = dev.zeros(64, F32)
    dev.launch(prog, "const_generic_select", 1, 64, [out, dev.zeros(64, F32), I32(1), I32(64)])
    i = np.arange(64)
    np.testing.assert_array_equal(out.numpy(), table[(7 * i) & 63] * F32(2) + table[i & 63])


# ------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("case", [pytest.param(c, marks=c.marks, id=c.id) for c in CASES])
def test_corpus_kernel_matches_numpy(case: Case):
    dev = otc_emu.Device(timing=False)
    case.body(dev, program(case.listing), case.kernel)


# ------------------------------------------------------- forms, constant banks, the listing set

LISTINGS = sorted(p.name[: -len(".sass")] for p in SASS.glob("*.sass"))


@pytest.mark.parametrize("stem", LISTINGS)
def test_listings_use_only_implemented_forms(stem):
    """Every committed nvcc listing assembles and every instruction in it has semantics here."""
    prog = program(stem)
    missing = {name: k.unsupported() for name, k in prog.kernels.items() if k.unsupported()}
    assert not missing, f"{stem}.sass uses forms the emulator does not execute: {missing}"


def test_coverage_table_lists_every_form_of_the_listings():
    spec = importlib.util.spec_from_file_location("corpus_coverage", ROOT / "tests" / "fixtures" / "corpus_coverage.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    form_of = gen.form_of
    forms = {form_of(t) for stem in LISTINGS for k in program(stem).kernels.values() for t in k.instructions()}
    table = (ROOT / "docs" / "coverage.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.M))
    assert forms == listed, ("docs/coverage.md is stale (run python3 tests/fixtures/corpus_coverage.py): "
                             f"missing {sorted(forms - listed)}, extra {sorted(listed - forms)}")


def _f64_axpy(dev, prog, x, y):
    dy = dev.to_device(y)
    dev.launch(prog, "f64_axpy_lit", 1, 32, [dev.to_device(x), dy, I32(x.size)])
    return dy.numpy()


def _listing_text(stem):
    return (SASS / f"{stem}.sass").read_text() + (SASS / f"{stem}.res-usage.txt").read_text()


def test_double_literals_come_from_the_cubin_and_write_constant_takes_precedence():
    x, y = np.arange(1, 33, dtype=np.float64), np.zeros(32)
    prog = otc_emu.assemble(_listing_text("numeric"), "numeric.sass", cubin=(CUBIN / "numeric.cubin").read_bytes())
    assert prog.kernels["f64_axpy_lit"].constants == {2: np.array([0.3, -1e-7]).tobytes()}
    np.testing.assert_array_equal(_f64_axpy(otc_emu.Device(timing=False), prog, x, y), 0.3 * x - 1e-7)
    dev = otc_emu.Device(timing=False)
    dev.write_constant(2, 0, np.array([0.5, 0.0]))  # the user's bank 2 replaces the kernel's image
    np.testing.assert_array_equal(_f64_axpy(dev, prog, x, y), 0.5 * x)
    bare = otc_emu.assemble(_listing_text("numeric"), "numeric.sass")
    with pytest.raises(otc_emu.GuestFault, match=r"c\[0x2\]\[0x0\].*constant bank 2"):
        _f64_axpy(otc_emu.Device(timing=False), bare, x, y)
    again = otc_emu.Program.from_bytes(prog.to_bytes())  # the binary format keeps the images
    assert again.kernels["f64_axpy_lit"].constants == prog.kernels["f64_axpy_lit"].constants
    assert bare.to_bytes() == otc_emu.Program.from_bytes(bare.to_bytes()).to_bytes()


def test_cuobjdump_elf_text_gives_the_same_constants_as_the_elf():
    # the text is the parts of `cuobjdump -elf numeric.lineinfo.cubin` the emulator reads (regen.sh)
    text = (SASS / "numeric.lineinfo.elf.txt").read_text()
    from_text = otc_emu.assemble(_listing_text("numeric.lineinfo"), "n.sass", cubin=text.encode())
    from_elf = otc_emu.assemble(_listing_text("numeric"), "n.sass", cubin=(CUBIN / "numeric.cubin").read_bytes())
    # -lineinfo does not change the code's literals
    for name, k in from_elf.kernels.items():
        assert from_text.kernels[name].constants == k.constants, name
        assert from_text.kernels[name].relocations == k.relocations, name
    assert set(from_elf.kernels["f64_poly"].constants) == {2}
    assert from_text.globals == from_elf.globals


def test_device_variables_come_from_the_cubin():
    prog = program("globals")
    # .nv.global.init from 0, .nv.global (zero-initialised) at the next multiple of 256
    assert prog.globals == {"dtab": (0x8, 32), "dscale": (0x0, 8), "dcount": (0x100, 4), "dslots": (0x104, 256)}
    assert prog.kernels["device_count"].relocations == [(0x80, "R_CUDA_ABS32_HI_32", 0x100),
                                                        (0x40, "R_CUDA_ABS32_LO_32", 0x100)]
    dev = otc_emu.Device(timing=False)
    np.testing.assert_array_equal(dev.read_global(prog, "dtab", I32), DTAB)
    dev.write_global(prog, "dtab", np.arange(8, dtype=I32) * 10)  # cudaMemcpyToSymbol
    out = dev.zeros(64, F32)
    dev.launch(prog, "device_table", 1, 64, [dev.to_device(np.arange(64, dtype=I32)), out])
    i = np.arange(64)
    np.testing.assert_array_equal(out.numpy(), (i & 7) * 10 * DSCALE[(i >> 3) & 1])
    # each device has its own copy, initialised from the cubin; the binary format keeps it all
    again = otc_emu.Program.from_bytes(prog.to_bytes())
    assert again.globals == prog.globals and again == prog
    _device_table(otc_emu.Device(timing=False), again, "device_table")
    with pytest.raises(otc_emu.LaunchError, match="no __device__ variable `dtab2`.*dcount"):
        dev.read_global(prog, "dtab2")
    with pytest.raises(ValueError, match="do not fit"):
        dev.write_global(prog, "dcount", np.zeros(2, U32))


def test_without_the_cubin_the_unpatched_address_faults():
    bare = otc_emu.assemble(_listing_text("globals"), "globals.sass")
    assert bare.globals == {} and bare.kernels["device_table"].relocations == []
    dev = otc_emu.Device(timing=False)
    # the message says why an address near 0x0 and what to give
    with pytest.raises(otc_emu.GuestFault, match=r"near 0x0: .*listing alone leaves their addresses 0x0.*--cubin FILE"):
        _device_table(dev, bare, "device_table")


_GLOBALS_TEXT = (SASS / "globals.lineinfo.elf.txt").read_text() if (SASS / "globals.lineinfo.elf.txt").exists() else ""


@pytest.mark.parametrize(
    "old, new, phrase",
    [
        ("0x80    dcount    R_CUDA_ABS32_HI_32", "0x80    dcount    R_CUDA_64", "type R_CUDA_64 is not supported"),
        ("0x80    dcount    R_CUDA_ABS32_HI_32", "0x80    dcount    R_CUDA_ABS47_34", "a call target that is not a function"),
        ("0x80    dcount    R_CUDA_ABS32_HI_32", "0x80    dcounter    R_CUDA_ABS32_HI_32", "`dcounter`: no such symbol"),
        ("0x80    dcount    R_CUDA_ABS32_HI_32", "0x0    dcount    R_CUDA_ABS32_HI_32", "`IMAD.MOV.U32 R1, RZ, RZ, c[0x0][0x28]` has none"),
        ("0x80    dcount    R_CUDA_ABS32_HI_32", "0x88    dcount    R_CUDA_ABS32_HI_32", "not at an instruction"),
        ("0x80    dcount    R_CUDA_ABS32_HI_32", "0x80    dcount", "is not a relocation"),
        (".section .rel.text.device_count", ".section .rel.text.device_counter", "kernel device_counter"),
    ],
)
def test_bad_relocations_raise_assembly_errors_of_kind_cubin(old, new, phrase):
    assert _GLOBALS_TEXT.count(old) == 1
    with pytest.raises(otc_emu.AssemblyError) as info:
        otc_emu.assemble(_listing_text("globals.lineinfo"), "g.sass", cubin=_GLOBALS_TEXT.replace(old, new).encode())
    assert info.value.kind == "cubin"
    assert phrase in str(info.value)


@pytest.mark.parametrize(
    "data, phrase",
    [
        (b"\x7fELF\x02\x01\x01" + bytes(60), "ELF"),
        (b"\x7fELF" + bytes(4), "ELF"),
        (b".nv.constant2.f64_poly\n0x3c0e56b8 nothex\n", "not a hex word"),
        (b".nv.constant2.no_such_kernel\n0x00000001\n", "no_such_kernel"),
        (b".nv.constant31\n0x00000001\n", "bank 31"),
        (b"\xff\xfe\x00", "neither an ELF cubin"),
    ],
)
def test_bad_cubins_raise_assembly_errors_of_kind_cubin(data, phrase):
    with pytest.raises(otc_emu.AssemblyError) as info:
        otc_emu.assemble(_listing_text("numeric"), "numeric.sass", cubin=data)
    assert info.value.kind == "cubin"
    assert phrase in str(info.value)


def test_cubin_of_another_source_is_rejected():
    with pytest.raises(otc_emu.AssemblyError, match="const_literals"):
        otc_emu.assemble(_listing_text("numeric"), "numeric.sass", cubin=(CUBIN / "memctl.cubin").read_bytes())


@pytest.mark.parametrize("bank, offset, exc", [(0, 0, ValueError), (18, 0, ValueError), (3, -1, ValueError),
                                               (3, 65535, otc_emu.OtcError)])
def test_write_constant_checks_its_arguments(bank, offset, exc):
    with pytest.raises(exc):
        otc_emu.Device(timing=False).write_constant(bank, offset, b"\0\0\0\0")


def test_cli_run_with_cubin_and_const(tmp_path):
    from otc_emu import cli

    listing = tmp_path / "numeric.sass"
    listing.write_text(_listing_text("numeric"))
    np.save(tmp_path / "x.npy", np.arange(1, 33, dtype=np.float64))
    np.save(tmp_path / "y.npy", np.zeros(32))
    common = ["run", str(listing), "--kernel", "f64_axpy_lit", "--arg", str(tmp_path / "x.npy"), "--arg",
              str(tmp_path / "y.npy"), "--arg", "i32:32", "--out", str(tmp_path / "out"), "--no-timing", "--json"]
    assert cli.main([*common, "--cubin", str(CUBIN / "numeric.cubin")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "arg1.npy"), 0.3 * np.arange(1, 33) - 1e-7)
    np.save(tmp_path / "c2.npy", np.array([2.0, 1.0]))
    assert cli.main([*common, "--cubin", str(CUBIN / "numeric.cubin"), "--const", f"2:{tmp_path / 'c2.npy'}"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "arg1.npy"), 2.0 * np.arange(1, 33) + 1.0)
    assert cli.main([*common, "--const", "0:x.npy"]) != 0


@pytest.mark.parametrize("cache", ["", ".CONSTANT"])
@pytest.mark.parametrize("size, src, want", [(".U16", np.int16, np.uint16), (".S16", np.int16, np.int16),
                                             (".U8", np.int8, np.uint8), (".S8", np.int8, np.int8)])
def test_narrow_loads_through_the_read_only_path(cache, size, src, want):
    # fp16 data through `const __half* __restrict__` gives LDG.E.U16.CONSTANT.SYS (issue 17): the
    # read-only cache changes no result, the width extends as without it
    width = np.dtype(src).itemsize
    prog = otc_emu.assemble(f""".kernel k
.param ptr x
.param ptr y
S2R R0, SR_TID.X ;
MOV R2, c[0x0][0x160] ;
MOV R3, c[0x0][0x164] ;
IMAD.WIDE R2, R0, {width:#x}, R2 ;
LDG.E{size}{cache}.SYS R4, [R2] ;
MOV R6, c[0x0][0x168] ;
MOV R7, c[0x0][0x16c] ;
IMAD.WIDE R6, R0, 0x4, R6 ;
STG.E.SYS [R6], R4 ;
EXIT ;
""")
    x = np.array([0, 1, -1, -128, 127, -2, 5, -100] * 4, dtype=np.int16).astype(src)
    dev = otc_emu.Device(timing=False)
    y = dev.zeros(32, I32)
    dev.launch(prog, "k", 1, 32, [dev.to_device(x), y])
    np.testing.assert_array_equal(y.numpy(), x.view(want).astype(np.int64).astype(I32))
