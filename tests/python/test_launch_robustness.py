"""Nothing a user does to a launch may hang, abort or corrupt (issue 16): the watchdogs,
Ctrl-C, config extremes, device-array ownership and lifetime, launch argument types, threads,
one-line errors and standard JSON, and the sparse modes' Inf/NaN semantics. Each finding of the
issue has a regression test here (named after it); property tests cover launch arguments."""

from __future__ import annotations

import gc
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import otc_emu
from otc_emu import AssemblyError, ConfigError, GuestFault, LaunchError, OtcError, Program, kernels

from conftest import FUZZ, PROGRAMS

SPIN = otc_emu.assemble("top:\n BRA top ;")

# Thread (x, y, z) of CTA (x, y, z) writes its linear global index + 1 at that index.
GLOBAL_ID = otc_emu.assemble(
    """
.kernel gid
.param ptr out
    S2R R0, SR_TID.X ;
    S2R R1, SR_TID.Y ;
    S2R R2, SR_TID.Z ;
    S2R R3, SR_CTAID.X ;
    S2R R4, SR_CTAID.Y ;
    S2R R5, SR_CTAID.Z ;
    IMAD R2, R2, c[0x0][0x4], R1 ;
    IMAD R2, R2, c[0x0][0x0], R0 ;
    IMAD R5, R5, c[0x0][0x10], R4 ;
    IMAD R5, R5, c[0x0][0xc], R3 ;
    MOV R6, c[0x0][0x0] ;
    IMAD R6, R6, c[0x0][0x4], RZ ;
    IMAD R6, R6, c[0x0][0x8], RZ ;
    IMAD R2, R5, R6, R2 ;
    IADD3 R7, R2, 0x1, RZ ;
    IMAD.WIDE.U32 R8, R2, 0x4, RZ ;
    IADD3 R8, P0, R8, c[0x0][0x160], RZ ;
    IADD3.X R9, R9, c[0x0][0x164], RZ, P0, !PT ;
    STG.E.SYS [R8], R7 ;
    EXIT ;
.end
"""
)


def _launch_gid(dev, grid, block):
    g = (grid,) if isinstance(grid, (int, np.integer)) else tuple(grid)
    b = (block,) if isinstance(block, (int, np.integer)) else tuple(block)
    n = math.prod(g) * math.prod(b)
    out = dev.zeros(n, np.uint32)
    dev.launch(GLOBAL_ID, "gid", grid, block, [out])
    return out.numpy()


# ------------------------------------------------------------------ 1: runaway kernels, watchdogs


def test_finding1_runaway_kernel_stops_by_default():
    dev = otc_emu.Device(timing=False)
    assert dev.config["max_cycles"] == 2**26 and dev.config["max_instructions"] == 2**40
    assert dev.config["max_seconds"] == 3600
    with pytest.raises(GuestFault) as info:
        dev.launch(SPIN, "main", 1, 32)
    f = info.value
    assert (f.kind, f.pc, f.warp, f.cta) == ("watchdog", 0, 0, (0, 0, 0))
    assert "max_cycles" in str(f)


def test_finding1_spinning_warp_beside_a_barrier_stops():
    prog = otc_emu.assemble(
        """
        S2R R0, SR_TID.X ;
        ISETP.GE.AND P0, PT, R0, 0x20, PT ;
        @P0 BRA spin ;
        BAR.SYNC 0x0 ;
        EXIT ;
    spin:
        BRA spin ;
        """
    )
    with pytest.raises(GuestFault) as info:
        otc_emu.Device(max_cycles=100_000).launch(prog, "main", 1, 64)
    assert (info.value.kind, info.value.warp, info.value.pc) == ("watchdog", 1, 5 * 16)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_cycles": None},
        {"max_cycles": None, "max_instructions": None},
        # a CTA limit below the launch's: the deadline still names max_seconds, not max_cycles
        {"max_cycles": 2**39},
    ],
)
def test_wall_clock_watchdog_names_pc_and_warp(limits):
    dev = otc_emu.Device(max_seconds=0.3, **limits)
    start = time.monotonic()
    with pytest.raises(GuestFault) as info:
        dev.launch(SPIN, "main", 1, 32)
    assert time.monotonic() - start < 30  # a bound, not a speed claim: without the limit it never ends
    assert (info.value.kind, info.value.pc, info.value.warp) == ("watchdog", 0, 0)
    assert "max_seconds" in str(info.value)


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "10"])
def test_bad_max_seconds_is_a_config_error(value):
    with pytest.raises(ConfigError, match="max_seconds"):
        otc_emu.Device(max_seconds=value)


# ------------------------------------------------------------------ 5: Ctrl-C

SIGINT_CHILD = textwrap.dedent(
    """
    import sys, time, numpy as np, otc_emu
    dev = otc_emu.Device(max_cycles=None, max_instructions=None, max_seconds=None)
    marker = dev.to_device(np.arange(4, dtype=np.uint32))
    print("ready", flush=True)
    try:
        dev.launch(otc_emu.assemble("top:\\n BRA top ;"), "main", 1, 32)
    except KeyboardInterrupt:
        print("interrupted", marker.numpy().tolist(), flush=True)
        # the device launches again afterwards (the cancel flag does not stick)
        dev.launch(otc_emu.assemble("EXIT ;"), "main", 1, 32)
        print("launches again", flush=True)
        sys.exit(0)
    print("launch ended?", flush=True)
    """
)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(cmd, after=0.3, wait_line: bool = True) -> tuple[subprocess.CompletedProcess, float]:
    """Start `cmd`, wait for its first output line (if `wait_line`) and `after` s (or
    `after(line)` s), send SIGINT, wait for the end; returns the result and the seconds from
    SIGINT to exit. The child starts with SIGINT's default action: a shell without job control
    starts background jobs (`pytest ... &`) with SIGINT ignored, which their children inherit, and
    a Python started so never raises KeyboardInterrupt."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    first = proc.stdout.readline() if wait_line else ""
    time.sleep(after(first) if callable(after) else after)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 60 s after SIGINT: {err[-1000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, first + out, err), time.monotonic() - sent


def test_finding5_sigint_stops_a_launch_and_memory_stays_readable():
    run, seconds = _interrupt([sys.executable, "-c", SIGINT_CHILD])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "interrupted [0, 1, 2, 3]" in run.stdout and "launches again" in run.stdout, run.stdout
    assert seconds < 10, seconds  # within ~20 ms on an idle machine; generous for a busy CI


def test_finding5_cli_ctrl_c_exits_130_with_one_line(tmp_path):
    spin = tmp_path / "spin.sass"
    spin.write_text("top:\n BRA top ;\n")
    cmd = [sys.executable, "-m", "otc_emu", "run", str(spin), "--set", "max_cycles=1099511627776",
           "--set", "max_seconds=100000", "--no-timing"]
    run, seconds = _interrupt(cmd, after=3.0, wait_line=False)
    assert run.returncode == 130, (run.returncode, run.stderr[-2000:])
    assert run.stderr.strip() == "otc-emu: interrupted"
    assert "Traceback" not in run.stderr


ERROR_BOUND_CHILD = textwrap.dedent(
    """
    import sys, time, numpy as np
    from otc_emu import kernels
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((2048, 2048), dtype=np.float32).astype(np.float16) for _ in range(2))
    a64, b64 = np.abs(a.astype(np.float64)), np.abs(b.astype(np.float64))
    start = time.perf_counter()
    a64 @ b64  # what one unblocked product takes here
    print("ready", time.perf_counter() - start, flush=True)
    try:
        kernels.error_bound(a, b)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


def test_ctrl_c_stops_error_bound_within_a_block():
    """kernels.error_bound's float64 product runs in blocks of rows: SIGINT a quarter of a whole
    product's time after it starts ends it long before one whole product would have (one NumPy
    call cannot be interrupted: as one block it ends about three quarters of a product later)."""
    run, seconds = _interrupt([sys.executable, "-c", ERROR_BOUND_CHILD], after=lambda line: float(line.split()[1]) / 4)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "interrupted" in run.stdout, run.stdout
    whole = float(run.stdout.split()[1])
    assert seconds < 0.25 + whole / 2, (seconds, whole)


# ------------------------------------------------------------------ 2: config values that aborted

ABORTING_CONFIGS = [
    {"memory.l2_bytes": 2**62},
    {"gpu.num_sms": 10**9},
    {"memory.l2_ways": 10**9},
    {"memory.l1_ways": 10**9},
    {"sm.l1_shared_bytes": 2**32 - 1},
    {"sm.max_ctas": 2**31},
    {"num_sms": 10**9},
    {"max_shared_per_cta": 2**30},
]


@pytest.mark.parametrize("setting", ABORTING_CONFIGS, ids=[next(iter(s)) for s in ABORTING_CONFIGS])
def test_finding2_config_extremes_are_config_errors(setting):
    key = next(iter(setting))
    with pytest.raises(ConfigError, match=key.split(".")[-1]):
        otc_emu.Device(**setting)


CONFIG_EXTREMES_CHILD = textwrap.dedent(
    """
    import json, sys, otc_emu
    keys = [k for k, v in otc_emu.Device().timing_config.items() if isinstance(v, int) and not isinstance(v, bool)]
    prog = otc_emu.assemble("S2R R0, SR_TID.X ;\\nIMAD.SHL.U32 R0, R0, 0x4, RZ ;\\nLDS R1, [R0] ;\\nBAR.SYNC 0x0 ;\\nEXIT ;")
    out = {}
    for key in keys:
        for value in (0, 2**31, 2**32 - 1, 2**62):
            print(key, value, file=sys.stderr, flush=True)  # the last line names a crash
            try:
                otc_emu.Device(max_seconds=20, **{key: value}).launch(prog, "main", 4, 64, shared_bytes=1024)
                out[f"{key}={value}"] = "ok"
            except otc_emu.OtcError as e:
                out[f"{key}={value}"] = type(e).__name__
            except BaseException as e:
                out[f"{key}={value}"] = "UNEXPECTED " + type(e).__name__ + ": " + str(e)[:200]
    print(json.dumps(out))
    """
)


def test_every_integer_timing_key_at_its_extremes_never_crashes():
    run = subprocess.run([sys.executable, "-c", CONFIG_EXTREMES_CHILD], capture_output=True, text=True, timeout=600)
    last = run.stderr.strip().splitlines()[-1:] if run.stderr else []
    assert run.returncode == 0, f"child died ({run.returncode}) at {last}"
    results = json.loads(run.stdout)
    assert len(results) > 100
    unexpected = {k: v for k, v in results.items() if v.startswith("UNEXPECTED")}
    assert not unexpected
    assert results["memory.l2_bytes=4611686018427387904"] == "ConfigError"


# ------------------------------------------------------------------ 3, 7, 8: ownership, lifetime, sizes


def test_finding3_array_of_another_device_is_refused():
    a, b = otc_emu.Device(timing=False), otc_emu.Device(timing=False)
    foreign = a.zeros(64, np.uint32)
    with pytest.raises(LaunchError) as info:
        b.launch(GLOBAL_ID, "gid", 1, 32, [foreign])
    message = str(info.value)
    assert repr(a) in message and repr(b) in message and repr(a) != repr(b)
    assert foreign.numpy().tolist() == [0] * 64  # untouched


def test_finding7_dropped_array_frees_device_memory():
    dev = otc_emu.Device(timing=False)
    arr = dev.zeros(1 << 20, np.uint8)
    address = arr.address
    dev._dev.read(address, 16)
    del arr
    gc.collect()
    with pytest.raises(OtcError, match="not inside one allocation"):
        dev._dev.read(address, 16)


def test_finding7_free_then_finalizer_and_double_free_are_harmless():
    dev = otc_emu.Device(timing=False)
    arrays = [dev.zeros(16, np.float32) for _ in range(2000)]
    for a in arrays[::2]:
        a.free()
        a.free()
    with pytest.raises(OtcError, match="freed"):
        arrays[0].numpy()
    for i, a in enumerate(arrays[1::2]):
        a.write(np.full(16, i, np.float32))
    assert [a.numpy()[0] for a in arrays[1::2]] == list(range(1000))
    del arrays
    gc.collect()


@pytest.mark.parametrize("shape", [(2**32, 2**32), (2**62,), (2**40, 2**40, 2**40)])
def test_finding8_byte_size_overflow_is_an_error(shape):
    dev = otc_emu.Device(timing=False)
    with pytest.raises(OtcError):
        dev.empty(shape, np.uint8)


@pytest.mark.parametrize("dtype", [object, "U4", "S4", "M8[s]", "c8"])
def test_finding8_non_numeric_dtypes_are_refused(dtype):
    dev = otc_emu.Device(timing=False)
    with pytest.raises(TypeError):
        dev.empty(4, dtype)
    with pytest.raises(TypeError):
        dev.to_device(np.zeros(4, dtype=dtype))


def test_finding8_object_write_cannot_store_host_pointers():
    dev = otc_emu.Device(timing=False)
    arr = dev.zeros(4, np.int64)
    with pytest.raises((TypeError, ValueError)):
        arr.write(np.array([1, "a", None, 3], dtype=object))


# ------------------------------------------------------------------ 4: launch argument types

BAD_DIMS = [
    ("12", TypeError), ("256", TypeError), ((4.7,), TypeError), (1.5, TypeError), (None, TypeError),
    (True, TypeError), ((1, "2"), TypeError), ((1, 2, 3, 4), LaunchError), ((), LaunchError),
    (0, LaunchError), (-1, LaunchError), (2**32, LaunchError), ((1, 2**40), LaunchError),
]


@pytest.mark.parametrize("value,error", BAD_DIMS, ids=[repr(v) for v, _ in BAD_DIMS])
@pytest.mark.parametrize("which", ["grid", "block"])
def test_finding4_launch_dims_take_ints_only(value, error, which):
    dev = otc_emu.Device(timing=False)
    out = dev.zeros(64, np.uint32)
    dims = {"grid": 1, "block": 32, which: value}
    with pytest.raises(error):
        dev.launch(GLOBAL_ID, "gid", dims["grid"], dims["block"], [out])
    assert out.numpy().tolist() == [0] * 64  # nothing ran


@pytest.mark.parametrize("value,error", [("1", TypeError), (1.0, TypeError), (-1, LaunchError), (2**32, LaunchError)])
def test_finding4_shared_bytes_take_ints_only(value, error):
    dev = otc_emu.Device(timing=False)
    with pytest.raises(error):
        dev.launch(GLOBAL_ID, "gid", 1, 32, [dev.zeros(32, np.uint32)], shared_bytes=value)


def test_numpy_integers_are_dims():
    dev = otc_emu.Device(timing=False)
    got = _launch_gid(dev, (np.int64(2), np.uint8(3)), np.int32(32))
    assert got.tolist() == list(range(1, 193))


dims = st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 2))


@FUZZ
@given(grid=dims, block=st.tuples(st.integers(1, 40), st.integers(1, 3), st.integers(1, 2)),
       as_list=st.booleans())
def test_valid_launches_write_every_thread(grid, block, as_list):
    """Property: any valid grid and block (tuples or lists) runs every thread once."""
    dev = otc_emu.Device(timing=False, threads=1)
    g, b = (list(grid), list(block)) if as_list else (grid, block)
    got = _launch_gid(dev, g, b)
    assert got.tolist() == list(range(1, got.size + 1))


@FUZZ
@given(value=st.one_of(st.text(max_size=5), st.floats(), st.none(), st.binary(max_size=3),
                       st.integers(min_value=2**32, max_value=2**70), st.integers(max_value=0),
                       st.lists(st.integers(1, 4), min_size=4, max_size=6)),
       which=st.sampled_from(["grid", "block", "shared_bytes"]))
def test_bad_launch_arguments_raise_typed_errors(value, which):
    """Property: a bad grid, block or shared_bytes raises TypeError or LaunchError, never runs."""
    dev = otc_emu.Device(timing=False)
    out = dev.zeros(32, np.uint32)
    kw = {"grid": 1, "block": 32, "shared_bytes": 0, which: value}
    if which == "shared_bytes" and (value is None or isinstance(value, int) and 0 <= value < 2**32):
        return  # None: no dynamic shared memory
    with pytest.raises((TypeError, LaunchError)):
        dev.launch(GLOBAL_ID, "gid", kw["grid"], kw["block"], [out], shared_bytes=kw["shared_bytes"])
    assert not out.numpy().any()


@FUZZ
@given(shape=st.lists(st.integers(0, 6), min_size=0, max_size=3),
       dtype=st.sampled_from([np.uint8, np.int16, np.float16, np.float32, np.int64, np.float64, bool]))
def test_arrays_round_trip_any_shape_and_dtype(shape, dtype):
    dev = otc_emu.Device(timing=False)
    host = (np.arange(math.prod(shape)) % 7).astype(dtype).reshape(shape)
    arr = dev.to_device(host)
    assert arr.shape == tuple(shape) and arr.nbytes == host.nbytes
    assert np.array_equal(arr.numpy(), host)


# ------------------------------------------------------------------ 6: threads


def test_finding6_one_device_from_four_threads():
    dev = otc_emu.Device(threads=1)
    results: dict[tuple[int, int], list[int]] = {}
    errors: list[BaseException] = []

    def worker(t: int):
        try:
            for i in range(5):
                grid = 1 + (t + i) % 3
                results[t, i] = _launch_gid(dev, grid, 32 * (1 + t)).tolist()
        except BaseException as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    for (t, i), got in results.items():
        n = (1 + (t + i) % 3) * 32 * (1 + t)
        assert got == list(range(1, n + 1)), (t, i)
    assert len(results) == 20


def test_warp_from_two_threads():
    w = otc_emu.Warp()
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(20):
                w.run("IADD3 R0, R0, 0x1, RZ ;\nEXIT ;")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and w.read_reg(0).tolist() == [40] * 32


# ------------------------------------------------------------------ 10: messages


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "otc_emu", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


SAXPY_ARGS = ["--arg", "u32:4", "--arg", "f32:2", "--arg", "zeros:f32:4", "--arg", "zeros:f32:4"]


@pytest.mark.parametrize("extra,words", [
    (["--grid", "99999999999"], "grid"),
    (["--shared", "99999999999"], "shared_bytes"),
    (["--block", "1.5"], "--block"),
])
def test_finding10_cli_launch_errors_are_one_line(extra, words):
    run = _cli("run", str(PROGRAMS / "saxpy.sass"), *SAXPY_ARGS, *extra)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("otc-emu: error:") and words in run.stderr


def test_finding10_cli_huge_zeros_and_conv_shapes_are_one_line():
    run = _cli("run", str(PROGRAMS / "saxpy.sass"), "--arg", "u32:4", "--arg", "f32:2",
               "--arg", "zeros:f32:100000000000000", "--arg", "zeros:f32:4")
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "bytes" in run.stderr, run.stderr[-2000:]
    run = _cli("conv", "--hw", "1", "-r", "3", "--padding", "0")
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "does not fit" in run.stderr, run.stderr[-2000:]


def test_finding10_config_files_are_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe[gpu]\n")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[gpu]\nnum_sms = 4\n[foo]\nbar = 1\n")
    for path, words in ((bad, "not UTF-8"), (unknown, "foo.bar")):
        with pytest.raises(ConfigError) as info:
            otc_emu.Device(config=path)
        assert str(info.value).startswith(f"{path}: ") and words in str(info.value)
        assert str(info.value).count(str(path)) == 1
        run = _cli("run", str(PROGRAMS / "saxpy.sass"), *SAXPY_ARGS, "--config", str(path))
        assert run.returncode == 1 and run.stderr.count("\n") == 1 and str(path) in run.stderr


def test_finding10_experiment_points_file_not_utf8_is_skipped(tmp_path):
    from otc_emu.experiments import EXPERIMENTS, Store

    exp = next(iter(EXPERIMENTS.values()))
    store = Store(tmp_path, exp)
    store.add({"x": 1}, {"y": 2})
    with open(store.path, "ab") as f:
        f.write(b"\xff\xfe damaged line\n")
    again = Store(tmp_path, exp)  # reads the file: the damaged line is skipped, the point kept
    assert again.done({"x": 1}) and not again.done({"x": 2})


@pytest.mark.parametrize("source,line,column", [("EXIT ;\nMOV R1, R\udcff2 ;", 2, 10), ("\udc80", 1, 1)])
def test_finding10_lone_surrogate_is_an_assembly_error(source, line, column):
    with pytest.raises(AssemblyError) as info:
        otc_emu.assemble(source, "s.sass")
    assert (info.value.line, info.value.column, info.value.source_name) == (line, column, "s.sass")


def test_finding10_from_bytes_takes_bytes_like_objects():
    data = otc_emu.assemble("EXIT ;").to_bytes()
    for obj in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8)):
        assert Program.from_bytes(obj) == otc_emu.assemble("EXIT ;")
    with pytest.raises(TypeError, match="bytes-like"):
        Program.from_bytes("text")


def test_finding10_max_threads_message_names_max_threads():
    with pytest.raises(LaunchError, match="256 threads > sm.max_threads = 1"):
        otc_emu.Device(**{"sm.max_threads": 1}).launch(SPIN, "main", 1, 256)


def test_finding10_long_tokens_are_cut_in_messages():
    with pytest.raises(AssemblyError) as info:
        otc_emu.assemble("X" * 5_000_000 + " R1 ;")
    assert len(str(info.value)) < 400 and "(5000002 characters)" in str(info.value)
    assert len(info.value.message) < 400
    with pytest.raises(ConfigError) as info:
        otc_emu.Device(**{"y" * 100_000: 1})
    assert len(str(info.value)) < 2000


def test_finding10_no_color_writes_no_escape_codes_on_a_terminal():
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "otc_emu", "run", str(PROGRAMS / "saxpy.sass"), *SAXPY_ARGS,
                             "--no-color"], stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    out = b"".join(chunks)
    assert proc.returncode == 0 and b"saxpy" in out
    assert b"\x1b" not in out


def test_finding10_json_is_standard():
    stats = otc_emu.Stats({"counters": {"cycles": 0}, "metrics": {"ipc": float("inf"), "x": float("nan")}, "sm_cycles": []})
    text = stats.to_json()
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text)["metrics"] == {"ipc": None, "x": None}
    from otc_emu import _json

    assert _json.dumps({"a": [np.float32("inf"), 1.5, (2, float("-inf"))]}) == '{"a": [null, 1.5, [2, null]]}'


# ------------------------------------------------------------------ 9: sparse modes and Inf / NaN


def _sparse_pair(seed: int):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((64, 64)) * (rng.random((64, 64)) < 0.3)).astype(np.float16)
    b = (rng.standard_normal((64, 64)) * (rng.random((64, 64)) < 0.3)).astype(np.float16)
    return a, b


@pytest.mark.parametrize("mode", ["spgemm", "spgemm_a"])
def test_finding9_sparse_equals_owmma_bit_for_bit_on_finite_inputs(mode):
    dev = otc_emu.Device(timing=False)
    a, b = _sparse_pair(3)
    dense = kernels.gemm(a, b, "owmma", dev).c
    sparse = kernels.gemm(a, b, mode, dev).c
    assert np.array_equal(dense.view(np.uint32), sparse.view(np.uint32))


@pytest.mark.parametrize("mode,inf_in", [("spgemm", "a"), ("spgemm", "b"), ("spgemm_a", "b"), ("spgemm_a", "a")])
def test_finding9_sparse_skips_zero_times_inf(mode, inf_in):
    """An Inf at A[7, k] meets the zeros of row k of B (or an Inf at B[k, 7] the zeros of column
    k of A): owmma and NumPy form those products and give NaN; a mode that skips the zero operand
    (spgemm both, spgemm_a those of A) never forms them, as the hardware would not, so it gives no
    NaN there. Everything the Inf does not touch agrees bit for bit."""
    dev = otc_emu.Device(timing=False)
    a, b = _sparse_pair(4)
    k = 5
    if inf_in == "a":
        b[k, :] = 0
        b[k, ::4] = 1
        a[7, k] = np.inf
    else:
        a[:, k] = 0
        a[::4, k] = 1
        b[k, 7] = np.inf
        a, b = a, b
    dense = kernels.gemm(a, b, "owmma", dev).c
    sparse = kernels.gemm(a, b, mode, dev).c
    with np.errstate(invalid="ignore"):
        numpy = a.astype(np.float32) @ b.astype(np.float32)
    if inf_in == "a":
        hit, zero = (7, np.flatnonzero(b[k] == 0)), (7, np.flatnonzero(b[k] != 0))
    else:
        hit, zero = (np.flatnonzero(a[:, k] == 0), 7), (np.flatnonzero(a[:, k] != 0), 7)
    assert np.isnan(dense[hit]).all() and np.isnan(numpy[hit]).all()
    skips = mode == "spgemm" or inf_in == "b"  # spgemm_a skips zeros of A only
    assert (not np.isnan(sparse[hit]).any()) if skips else np.isnan(sparse[hit]).all()
    assert np.isinf(dense[zero]).all() and np.isinf(sparse[zero]).all()
    untouched = np.ones_like(dense, dtype=bool)
    untouched[hit] = False
    untouched[zero] = False
    assert np.array_equal(dense[untouched].view(np.uint32), sparse[untouched].view(np.uint32))


def test_warp_run_is_interruptible():
    child = textwrap.dedent(
        """
        import otc_emu
        w = otc_emu.Warp(max_instructions=None)
        print("ready", flush=True)
        try:
            w.run("top:\\n BRA top ;")
        except KeyboardInterrupt:
            w.run("MOV R0, 0x7 ;\\nEXIT ;")
            print("interrupted", int(w.read_reg(0)[0]), flush=True)
        """
    )
    run, seconds = _interrupt([sys.executable, "-c", child])
    assert run.returncode == 0 and "interrupted 7" in run.stdout, run.stderr[-2000:]
    assert seconds < 10


def test_cli_set_none_lifts_a_watchdog(tmp_path):
    spin = tmp_path / "spin.sass"
    spin.write_text("top:\n BRA top ;\n")
    run = _cli("run", str(spin), "--set", "max_cycles=none", "--set", "max_seconds=0.5", "--no-timing")
    assert run.returncode == 1 and "max_seconds" in run.stderr and run.stderr.count("\n") == 1, run.stderr[-2000:]
