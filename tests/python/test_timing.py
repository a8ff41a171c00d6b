"""The cycle model beside the functional core: switching it on or off changes no result, its
statistics do not depend on the host thread count, the counts it reports for known kernels are
the hand-computed ones, and its configuration (TOML files, dicts, dotted keys) is checked."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import otc_emu

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sass"
PROGRAMS = ROOT / "python" / "otc_emu" / "programs"

CONTRACT = [
    "cycles", "warp_instructions", "thread_instructions", "ohmma.issued", "ohmma.executed",
    "ohmma.skipped", "hmma.executed", "bohmma.executed", "tensor.busy_cycles", "accbuf.accesses",
    "accbuf.bank_conflicts", "smem.bank_conflicts", "gmem.read_bytes", "gmem.write_bytes",
]
FUNCTIONAL = [
    "warp_instructions", "thread_instructions", "predicated_thread_instructions", "ctas", "warps", "threads",
    "ohmma.executed", "ohmma.skipped", "hmma.executed", "bohmma.executed",
]


def listing(name: str) -> otc_emu.Program:
    text = (FIXTURES / f"{name}.sass").read_text() + (FIXTURES / f"{name}.res-usage.txt").read_text()
    return otc_emu.assemble(text, f"{name}.sass")


def f16(rng, n):
    return (rng.integers(-1000, 1001, n) / 256).astype(np.float16)


def f32(rng, n):
    return (rng.integers(-10000, 10001, n) / 64).astype(np.float32)


# (file, kernel, grid, block, dynamic shared, inputs(rng), output (count, dtype), scalars)
CASES = {
    "vadd_f32": ("vecadd", "vadd_f32", 8, 128, None, lambda r: [f32(r, 1000), f32(r, 1000)], (1000, np.float32), [np.int32(1000)]),
    "vadd_gridstride": ("vecadd", "vadd_gridstride", 3, 64, None, lambda r: [f32(r, 1000), f32(r, 1000)], (1000, np.float32), [np.int32(1000)]),
    "reduce_static": ("reduction", "reduce_static", 7, 128, None, lambda r: [f32(r, 7 * 128)], (7, np.float32), []),
    "block_reverse": ("reduction", "block_reverse", 2, 64, 256, lambda r: [r.integers(0, 1 << 31, 128).astype(np.int32)], (128, np.int32), []),
    "wmma_f16_f32_rowcol": ("wmma", "wmma_f16_f32_rowcol", 1, 32, None, lambda r: [f16(r, 256), f16(r, 256), f32(r, 256)], (16 * 20, np.float32), []),
}


def run_case(name: str, **settings):
    file, kernel, grid, block, dyn, inputs, (n, dtype), scalars = CASES[name]
    dev = otc_emu.Device(**settings)
    args = [dev.to_device(a) for a in inputs(np.random.default_rng(7))]
    out = dev.to_device(np.frombuffer(b"\x5a" * (n * np.dtype(dtype).itemsize), dtype=dtype).copy())
    res = dev.launch(listing(file), kernel, grid, block, args + [out] + scalars, shared_bytes=dyn)
    return out.numpy().tobytes(), res.stats


@pytest.mark.parametrize("name", list(CASES))
def test_timing_on_and_off_give_the_same_bits_and_functional_counters(name):
    bits_off, off = run_case(name, timing=False)
    bits_on, on = run_case(name)
    assert bits_on == bits_off
    for key in FUNCTIONAL:
        assert on.counters[key] == off.counters[key], key
    assert on.by_opcode == off.by_opcode and on.by_pc == off.by_pc
    # timing off: the functional counters only
    assert set(off.counters) == set(FUNCTIONAL)
    assert not off.timed and off.metrics == {} and off.sm_cycles is None and off.cycles is None
    assert "metrics" not in off.to_dict() and "sm_cycles" not in off.to_dict()
    # timing on: the contract counters, metrics, per-SM cycles
    for key in CONTRACT:
        assert key in on.counters, key
    assert on.timed and on.cycles == max(on.sm_cycles) > 0 and len(on.sm_cycles) == 80
    for key in ["ipc", "time_us", "l1.hit_rate", "l2.hit_rate", "tensor.utilization", "stall_fraction.dependency"]:
        assert key in on.metrics, key
    assert on["ipc"] == on.metrics["ipc"] and on["cycles"] == on.counters["cycles"]
    d = json.loads(on.to_json())
    assert d["counters"] == on.counters and d["sm_cycles"] == on.sm_cycles
    assert d["metrics"] == pytest.approx(on.metrics) and d["by_opcode"] == on.by_opcode


@pytest.mark.parametrize("name", list(CASES))
def test_statistics_are_the_same_for_one_and_two_threads(name):
    bits1, one = run_case(name, threads=1)
    bits2, two = run_case(name, threads=2, parallel_batch=1)
    assert bits1 == bits2
    assert one.to_dict() == two.to_dict()


def test_wmma_listing_is_16_hmma_steps_in_32_tensor_cycles():
    _, st = run_case("wmma_f16_f32_rowcol")
    assert st.counters["hmma.executed"] == 16
    assert st.counters["tensor.busy_cycles"] == 32
    assert sum(1 for c in st.sm_cycles if c) == 1


def smem_program(shift: int | None) -> otc_emu.Program:
    """One store per lane with a byte stride of 1 << shift, or (None) a load of word 0 by every lane."""
    body = "LDS R4, [RZ] ;" if shift is None else f"SHF.L.U32 R1, R0, 0x{shift:x}, RZ ;\nSTS [R1], R0 ;"
    return otc_emu.assemble(f".kernel smem\n.shared 16384\nS2R R0, SR_TID.X ;\n{body}\nEXIT ;\n")


# Stride in words -> replays per warp-instruction: 32 lanes over 32 banks of 4 bytes. Stride 1:
# one word per bank, 0. Stride 2: banks 0, 2, ..., 30 get two words each, 2-way = 1 replay.
# Stride 32: every lane in bank 0, 32-way = 31 replays. Every lane reading word 0: broadcast, 0.
@pytest.mark.parametrize("what, shift, per_warp", [("stride 1", 2, 0), ("stride 2", 3, 1), ("stride 32", 7, 31), ("broadcast", None, 0)])
@pytest.mark.parametrize("warps", [1, 2])
def test_shared_memory_bank_conflicts_by_hand(what, shift, per_warp, warps):
    st = otc_emu.Device().launch(smem_program(shift), "smem", 1, 32 * warps).stats
    assert st.counters["smem.instructions"] == warps
    assert st.counters["smem.bank_conflicts"] == per_warp * warps, what
    assert st.metrics["smem.conflicts_per_instruction"] == per_warp


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"tensor.skiped_cycles": 1}, "tensor.skiped_cycles"),
        ({"tensor.skipped_cycles": "1"}, "tensor.skipped_cycles"),
        ({"tensor.skipped_cycles": -1}, "tensor.skipped_cycles"),
        ({"tensor": {"skipped_cycles": 1.5}}, "tensor.skipped_cycles"),
        ({"scheduler": {"policy": "fifo"}}, "scheduler.policy"),
        ({"ops.NOTANOP.latency": 3}, "ops.NOTANOP.latency"),
        ({"gpu.num_sms": 0}, "gpu.num_sms"),
        ({"memory.l2_bytes": [1, 2]}, "memory.l2_bytes"),
        ({"timing": "yes"}, "timing"),
        ({"warp_size": 64}, "warp_size"),
        ({"device": {"warp_size": 64}}, "warp_size"),
    ],
)
def test_bad_settings_raise_config_error_naming_the_key(settings, key):
    with pytest.raises(otc_emu.ConfigError) as info:
        otc_emu.Device(**settings)
    assert f"`{key}`" in str(info.value)
    # also with the cycle model off: a typo is never silently ignored
    if key != "timing":
        with pytest.raises(otc_emu.ConfigError):
            otc_emu.Device(settings, timing=False)


def test_config_sources_and_overrides(tmp_path):
    base = otc_emu.Device().timing_config
    assert base is not None and base["gpu.num_sms"] == 80 and base["tensor.skipped_cycles"] == 0
    assert otc_emu.Device(config="v100").timing_config == base
    assert otc_emu.Device(config="V100").config == otc_emu.Device().config
    # the built-in V100 description, written out and read back, is the same configuration
    (tmp_path / "v100.toml").write_text(otc_emu.V100_TOML)
    assert otc_emu.Device(config=tmp_path / "v100.toml").timing_config == base
    # dotted, nested and dict forms agree
    a = otc_emu.Device(**{"tensor.skipped_cycles": 2, "scheduler.policy": "lrr"}).timing_config
    b = otc_emu.Device(tensor={"skipped_cycles": 2}, scheduler={"policy": "lrr"}).timing_config
    c = otc_emu.Device({"tensor": {"skipped_cycles": 2}, "scheduler.policy": "lrr"}).timing_config
    assert a == b == c and a["tensor.skipped_cycles"] == 2 and a["scheduler.policy"] == "lrr"
    assert otc_emu.Device(**{"ops.IMAD.latency": 7}).timing_config["ops.IMAD.latency"] == 7
    # num_sms sets the model's SM count too, unless gpu.num_sms is given
    assert otc_emu.Device(num_sms=4).timing_config["gpu.num_sms"] == 4
    assert otc_emu.Device(num_sms=4, **{"gpu.num_sms": 8}).timing_config["gpu.num_sms"] == 8
    off = otc_emu.Device(timing=False)
    assert off.timing_config is None and off.config["timing"] is False


def test_device_loads_a_toml_file(tmp_path):
    path = tmp_path / "gpu.toml"
    path.write_text(
        "# a V100 with slower skipped tensor instructions, on 4 SMs\n"
        "[device]\nthreads = 1\nnum_sms = 4\ntensor_arith = \"ieee\"\n"
        "[tensor]\nskipped_cycles = 3\n"
        "[ops.IMAD]\nlatency = 6\n"
    )
    d = otc_emu.Device(config=str(path))
    assert (d.config["threads"], d.config["num_sms"], d.config["tensor_arith"], d.config["timing"]) == (1, 4, "ieee", True)
    t = d.timing_config
    assert (t["tensor.skipped_cycles"], t["ops.IMAD.latency"], t["gpu.num_sms"]) == (3, 6, 4)
    assert t["sm.max_warps"] == 64  # the rest is the V100 description
    # overrides win over the file
    d = otc_emu.Device(config=path, threads=2, **{"tensor.skipped_cycles": 1})
    assert d.config["threads"] == 2 and d.timing_config["tensor.skipped_cycles"] == 1
    res = d.launch(smem_program(3), "smem", 4, 32)
    assert res.stats.sm_cycles is not None and len(res.stats.sm_cycles) == 4
    # the cycle model switched off from the file
    (tmp_path / "off.toml").write_text("[device]\ntiming = false\n")
    assert otc_emu.Device(config=tmp_path / "off.toml").timing_config is None


def test_bad_toml_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[tensor\nskipped_cycles = 1\n")
    with pytest.raises(otc_emu.ConfigError, match="bad.toml"):
        otc_emu.Device(config=bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[tensor]\nskiped_cycles = 1\n")
    with pytest.raises(otc_emu.ConfigError, match="`tensor.skiped_cycles`"):
        otc_emu.Device(config=unknown)
    with pytest.raises(FileNotFoundError):
        otc_emu.Device(config=tmp_path / "missing.toml")
    with pytest.raises(otc_emu.ConfigError, match="config must be"):
        otc_emu.Device(config=42)


# ------------------------------------------------------------------ outer-product tensor cores


def ohmma_runs() -> bool:
    try:
        otc_emu.Warp().run("HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R4, R5}, {R6, R7}, RZ ;\nEXIT ;")
        return True
    except otc_emu.GuestFault as e:
        if e.kind == "unsupported_instruction":
            return False
        raise


needs_ohmma = pytest.mark.skipif(not ohmma_runs(), reason="OHMMA execution has not landed")


@needs_ohmma
def test_owmma_program_is_32_ohmmas_in_32_tensor_cycles():
    rng = np.random.default_rng(1)
    a, b = f16(rng, 256).reshape(16, 16), f16(rng, 256).reshape(16, 16)
    outs = []
    for timing in (True, False):
        dev = otc_emu.Device(timing=timing)
        dd = dev.zeros((16, 16), np.float32)
        res = dev.launch(otc_emu.load(PROGRAMS / "owmma_16x16x16.sass"), "owmma_16x16x16", 1, 32,
                         [dev.to_device(np.ascontiguousarray(a.T)), dev.to_device(b), dd])
        outs.append((dd.numpy().tobytes(), res.stats))
    (bits_on, on), (bits_off, off) = outs
    assert bits_on == bits_off
    assert on.counters["ohmma.executed"] == off.counters["ohmma.executed"] == 32
    assert on.counters["ohmma.skipped"] == 0
    assert on.counters["tensor.busy_cycles"] == 32


def spwmma_program(abm: int, bbm: int) -> otc_emu.Program:
    """One SpWMMA set (A and B registers zero; only the bitmaps matter for timing)."""
    return otc_emu.assemble(
        ".kernel spwmma\n"
        f"MOV R12, {abm:#x} ;\nMOV R13, {bbm:#x} ;\nCS2R R4, SRZ ;\nACCB.CLEAR ;\n"
        "SPWMMA.M32N32K1.F32.F32 {R32, R33, R34, R35, R36, R37, R38, R39}, {R40, R41, R42, R43}, "
        "R12, R13, R4, {R20, R21} ;\nEXIT ;\n"
    )


def bitmap(nnz: int, rng) -> int:
    return int(sum(1 << int(i) for i in rng.choice(32, nnz, replace=False)))


@needs_ohmma
@pytest.mark.parametrize("seed", range(3))
def test_spwmma_20_by_11_skips_5_of_8_ohmmas(seed):
    rng = np.random.default_rng(seed)
    dense = otc_emu.Device().launch(spwmma_program(0xFFFFFFFF, 0xFFFFFFFF), "spwmma", 1, 32).stats
    sparse = otc_emu.Device().launch(spwmma_program(bitmap(20, rng), bitmap(11, rng)), "spwmma", 1, 32).stats
    assert (dense.counters["ohmma.executed"], dense.counters["ohmma.skipped"]) == (8, 0)
    assert (sparse.counters["ohmma.executed"], sparse.counters["ohmma.skipped"]) == (3, 5)
    d, s = dense.counters["tensor.busy_cycles.ohmma"], sparse.counters["tensor.busy_cycles.ohmma"]
    assert (d, s) == (8, 3) and d / s == pytest.approx(8 / 3)
    # the rest of the set (ACCB.CLEAR, BOHMMA, ACCB.BMAP) takes the same tensor cycles
    assert dense.counters["tensor.busy_cycles"] - d == sparse.counters["tensor.busy_cycles"] - s
    # skipped OHMMAs cost tensor.skipped_cycles each
    slow = otc_emu.Device(**{"tensor.skipped_cycles": 1}).launch(spwmma_program(bitmap(20, rng), bitmap(11, rng)), "spwmma", 1, 32).stats
    assert slow.counters["tensor.busy_cycles.ohmma"] == 3 + 5
    # functional counters agree with timing off
    off = otc_emu.Device(timing=False).launch(spwmma_program(bitmap(20, rng), bitmap(11, rng)), "spwmma", 1, 32).stats
    assert (off.counters["ohmma.executed"], off.counters["ohmma.skipped"]) == (3, 5)
    assert "tensor.busy_cycles" not in off.counters
