"""The Device API: memory, launches of own-dialect programs and real nvcc listings, argument
checking, launch errors, guest faults, the watchdog, settings and determinism."""
from pathlib import Path

import numpy as np
import pytest

import otc_emu

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sass"
PROGRAMS = ROOT / "python" / "otc_emu" / "programs"


def listing(name: str) -> otc_emu.Program:
    text = (FIXTURES / f"{name}.sass").read_text() + (FIXTURES / f"{name}.res-usage.txt").read_text()
    return otc_emu.assemble(text, f"{name}.sass")


@pytest.fixture
def dev():
    return otc_emu.Device()


@pytest.mark.parametrize("n", [1, 255, 256, 1000])
def test_saxpy_program_matches_numpy(dev, n):
    prog = otc_emu.load(PROGRAMS / "saxpy.sass")
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    dx, dy = dev.to_device(x), dev.to_device(y)
    res = dev.launch(prog, "saxpy", grid=(n + 255) // 256, block=256, args=[np.uint32(n), np.float32(1.5), dx, dy])
    # FFMA rounds once: compute the reference with a single rounding of the exact a*x+y
    ref = (np.float64(1.5) * x.astype(np.float64) + y.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(dy.numpy(), ref)
    np.testing.assert_array_equal(dx.numpy(), x)  # input untouched
    assert res.stats.by_opcode["FFMA"]["thread"] == n
    assert res.stats.counters["warp_instructions"] == sum(v["warp"] for v in res.stats.by_opcode.values())


@pytest.mark.parametrize(
    "kernel, dtype, block, grid, n",
    [("vadd_f32", np.float32, 128, 8, 1000), ("vadd_i32", np.int32, 128, 8, 1000), ("vadd_gridstride", np.float32, 64, 2, 1000)],
)
def test_real_nvcc_vector_add_listing(dev, kernel, dtype, block, grid, n):
    prog = listing("vecadd")
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(n) * 1000).astype(dtype)
    b = (rng.standard_normal(n) * 1000).astype(dtype)
    da, db, dc = dev.to_device(a), dev.to_device(b), dev.zeros(n, dtype)
    dev.launch(prog, kernel, grid=grid, block=block, args=[da, db, dc, np.int32(n)])
    np.testing.assert_array_equal(dc.numpy(), a + b)


def test_real_listing_atomic_inc_dec(dev):
    prog = listing("atomics")
    c = dev.zeros(2, np.uint32)
    old = dev.zeros(128, np.uint32)
    dev.launch(prog, "atomic_inc_dec", grid=1, block=64, args=[c, old])
    n = 64
    assert c.numpy().tolist() == [n % 10, (10 - n % 10) % 10]
    # the returned old values follow the deterministic order (CTA order, then warp, then lane)
    inc = old.numpy()[0::2]
    assert inc.tolist() == [i % 10 for i in range(n)]


@pytest.mark.parametrize("threads", [1, 2])
def test_results_and_stats_do_not_depend_on_thread_count(threads):
    prog = listing("atomics")
    d = otc_emu.Device(threads=threads)
    rng = np.random.default_rng(3)
    data = rng.integers(0, 1 << 20, 4096, dtype=np.uint32)
    hist = d.zeros(16, np.uint32)
    res = d.launch(prog, "red_histogram", grid=8, block=128, args=[d.to_device(data), hist, np.int32(data.size)])
    np.testing.assert_array_equal(hist.numpy(), np.bincount(data & 15, minlength=16).astype(np.uint32))
    single = otc_emu.Device(threads=1)
    hist1 = single.zeros(16, np.uint32)
    res1 = single.launch(prog, "red_histogram", grid=8, block=128, args=[single.to_device(data), hist1, np.int32(data.size)])
    assert res.stats.to_dict() == res1.stats.to_dict()


@pytest.mark.parametrize(
    "args, exc, phrase",
    [
        ([1000, np.float32(2), "X", "Y"], TypeError, "np.uint32(1000)"),
        ([np.uint32(4), 2.0, "X", "Y"], TypeError, "np.float32(2.0)"),
        ([np.int32(4), np.float32(2), "X", "Y"], TypeError, "expects np.uint32, got np.int32"),
        ([np.uint32(4), np.float32(2), np.uint64(5), "Y"], TypeError, "expects a device array"),
        (["X", np.float32(2), "X", "Y"], TypeError, "the kernel expects u32"),
        ([np.uint32(4), np.float32(2), "X"], otc_emu.LaunchError, "takes 4 arguments"),
        ([np.uint32(4), np.float32(2), "X", [1, 2]], TypeError, "expected a DeviceArray or a NumPy scalar"),
    ],
)
def test_arguments_are_checked_against_declared_params(dev, args, exc, phrase):
    prog = otc_emu.load(PROGRAMS / "saxpy.sass")
    arrays = {"X": dev.zeros(4, np.float32), "Y": dev.zeros(4, np.float32)}
    real = [arrays.get(a, a) if isinstance(a, str) else a for a in args]
    with pytest.raises(exc) as info:
        dev.launch(prog, "saxpy", grid=1, block=32, args=real)
    assert phrase in str(info.value)


@pytest.mark.parametrize(
    "grid, block, shared, phrase",
    [
        (0, 32, None, "grid"),
        ((1, 0), 32, None, "grid"),
        (1, 1025, None, "1024"),
        (1, (32, 32, 2), None, "1024"),
        (1, 32, 1 << 20, "shared"),
        (1, 32, -1, "shared_bytes"),
    ],
)
def test_bad_launch_parameters_raise_before_anything_runs(dev, grid, block, shared, phrase):
    prog = otc_emu.load(PROGRAMS / "saxpy.sass")
    y = dev.to_device(np.ones(4, np.float32))
    with pytest.raises(otc_emu.LaunchError) as info:
        dev.launch(prog, "saxpy", grid, block, [np.uint32(4), np.float32(1), y, y], shared_bytes=shared)
    assert phrase in str(info.value)
    np.testing.assert_array_equal(y.numpy(), np.ones(4, np.float32))


def test_unknown_kernel_is_a_launch_error(dev):
    with pytest.raises(otc_emu.LaunchError, match="no kernel 'nope'"):
        dev.launch(otc_emu.load(PROGRAMS / "saxpy.sass"), "nope", 1, 32, [])


FAULTS = [
    # (program body, kind, fault pc)
    ("MOV R2, c[0x0][0x160] ;\nMOV R3, c[0x0][0x164] ;\nLDG.E.SYS R0, [R2+0x100000] ;\nEXIT ;", "out_of_bounds", 0x20),
    ("MOV R2, c[0x0][0x160] ;\nMOV R3, c[0x0][0x164] ;\nSTG.E.SYS [R2+0x2], RZ ;\nEXIT ;", "misaligned", 0x20),
    ("MOV R0, 0x10000 ;\nLDS R1, [R0] ;\nEXIT ;", "out_of_bounds", 0x10),
    ("BPT.TRAP 0x1 ;\nEXIT ;", "trap", 0x0),
]


@pytest.mark.parametrize("body, kind, pc", FAULTS)
def test_guest_faults_name_the_place_and_keep_memory_readable(dev, body, kind, pc):
    prog = otc_emu.assemble(f".kernel k\n.param ptr p\n{body}\n")
    keep = dev.to_device(np.arange(8, dtype=np.int32))
    with pytest.raises(otc_emu.GuestFault) as info:
        dev.launch(prog, "k", 1, 32, [keep])
    e = info.value
    assert isinstance(e, otc_emu.OtcError)
    assert (e.kind, e.kernel, e.pc, e.cta, e.warp) == (kind, "k", pc, (0, 0, 0), 0)
    assert e.lanes and all(0 <= lane < 32 for lane in e.lanes)
    assert e.instruction == prog.kernels["k"].instructions()[pc // 16]
    assert f"pc {pc:#06x}" in str(e)
    np.testing.assert_array_equal(keep.numpy(), np.arange(8, dtype=np.int32))


def test_watchdog_stops_an_endless_loop():
    dev = otc_emu.Device(max_instructions=10_000)
    prog = otc_emu.assemble(".kernel spin\ntop:\n    BRA top ;\n")
    with pytest.raises(otc_emu.GuestFault) as info:
        dev.launch(prog, "spin", 1, 32, [])
    assert info.value.kind == "watchdog"


@pytest.mark.parametrize(
    "settings, phrase",
    [
        ({"warp_size": 64}, "unknown setting `warp_size`"),
        ({"tensor_arith": "fp8"}, "`tensor_arith` must be 'v100' or 'ieee'"),
        ({"num_sms": "80"}, "`num_sms` must be an integer"),
        ({"num_sms": 0}, "`num_sms` must be an integer in 1..=4096"),
        ({"threads": True}, "`threads` must be an integer"),
    ],
)
def test_settings_are_checked_by_name(settings, phrase):
    with pytest.raises(otc_emu.ConfigError) as info:
        otc_emu.Device(**settings)
    assert phrase in str(info.value)


def test_config_reports_the_settings_in_force():
    d = otc_emu.Device({"num_sms": 4}, tensor_arith="ieee")
    assert d.config["num_sms"] == 4 and d.config["tensor_arith"] == "ieee"


def test_device_arrays_round_trip_and_free(dev):
    a = dev.to_device(np.arange(12, dtype=np.float64).reshape(3, 4))
    assert (a.shape, a.dtype, a.nbytes) == ((3, 4), np.dtype(np.float64), 96)
    np.testing.assert_array_equal(a.numpy(), np.arange(12, dtype=np.float64).reshape(3, 4))
    z = dev.zeros((2, 2), np.int16)
    assert z.numpy().tolist() == [[0, 0], [0, 0]]
    assert a.address != z.address and a.address > 0
    a.free()
    with pytest.raises(otc_emu.OtcError, match="freed"):
        a.numpy()
    with pytest.raises(TypeError):
        dev.to_device(np.array(["x"]))


@pytest.mark.parametrize("sms", [1, 4, 80])
def test_v100_slice_keeps_each_sms_share_of_the_bandwidth(sms):
    whole = otc_emu.Device().timing_config
    part = otc_emu.Device.v100_slice(sms)
    cfg = part.timing_config
    assert cfg["gpu.num_sms"] == sms and part.config["num_sms"] == sms
    for key in ("memory.l2_bandwidth_gbs", "memory.dram_bandwidth_gbs"):
        assert cfg[key] / sms == pytest.approx(whole[key] / 80)
    assert otc_emu.Device.v100_slice(sms, timing=False).timing_config is None


@pytest.mark.parametrize("sms", [0, 81, 2.5, True, "4"])
def test_v100_slice_refuses_what_is_not_a_slice(sms):
    with pytest.raises(ValueError, match="sms must be an integer in 1..80"):
        otc_emu.Device.v100_slice(sms)


@pytest.mark.parametrize(
    "host",
    [
        np.arange(24, dtype=np.float16).reshape(2, 3, 4),
        np.array(7, dtype=np.int32),  # 0-d
        np.array([True, False, True]),
        np.arange(12, dtype=">u4"),  # non-native byte order
        np.arange(64, dtype=np.float64).reshape(8, 8)[::2, 1::3],  # not contiguous
        np.zeros((0, 5), np.float32),
    ],
)
def test_arrays_go_to_the_device_and_back_unchanged(host):
    dev = otc_emu.Device(timing=False)
    arr = dev.to_device(host)
    back = arr.numpy()
    assert back.shape == host.shape and back.dtype == host.dtype and np.array_equal(back, host)
    assert back.flags.writeable and back.flags.c_contiguous
    arr.write(host[::-1] if host.ndim else host)
    assert np.array_equal(arr.numpy(), host[::-1] if host.ndim else host)


def test_zeros_are_zero_after_other_arrays_held_data():
    dev = otc_emu.Device(timing=False)
    junk = dev.to_device(np.full(1 << 16, 0xAB, np.uint8))
    junk.free()
    assert not dev.zeros((128, 128), np.float32).numpy().any()
    assert not dev.empty(100, np.uint16).numpy().any()  # "zeroed in practice", as documented
