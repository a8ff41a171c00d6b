"""What co-simulation bounds (issue 16, docs/timing.md "Bounding it: co-simulation"): the most
trace bytes the cycle model holds at once (``Device.last_trace_peak_bytes``). The kernel is the
LCG walk of benchmarks/cosim_bound.py, whose access streams never repeat, so a whole CTA's trace
grows with the walk's length: held whole (the linear path) the peak grows with it, fed in chunks
(``cosim=True``, 4,096 warp-instructions per warp, about 455 steps) it stays that of a chunk or
two. Measured, 8 CTAs of 128 threads: linear 2.26 MB at 1,024 steps, 9.03 MB at 4,096; cosim
1.76 MB at both."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import otc_emu

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from cosim_bound import SOURCE, TABLE_WORDS, reference  # noqa: E402

CTAS, BLOCK = 8, 128
#: Both lengths take more than one chunk per warp, so that a cosim peak growing with the length
#: could only come from holding what the warps have read.
SHORT, LONG = 1024, 4096


def _walk(steps: int, **settings) -> otc_emu.Device:
    dev = otc_emu.Device(**{"threads": 1, **settings})
    table = np.random.default_rng(16).integers(0, 1 << 20, TABLE_WORDS, dtype=np.uint32)
    t = dev.to_device(table)
    out = dev.zeros(CTAS * BLOCK, np.uint32)
    prog = otc_emu.assemble(SOURCE, "lcg_walk.sass")
    dev.launch(prog, "lcg_walk", CTAS, BLOCK, [t, out, np.uint32(steps), np.uint32(TABLE_WORDS - 1)])
    assert np.array_equal(out.numpy(), reference(CTAS * BLOCK, steps, table))
    return dev


@pytest.fixture(scope="module")
def peaks() -> dict[tuple[bool, int], int]:
    got = {}
    for cosim in (False, True):
        for steps in (SHORT, LONG):
            dev = _walk(steps, cosim=cosim)
            assert dev.last_cosim == ("co-simulated" if cosim else None)
            got[cosim, steps] = dev.last_trace_peak_bytes
    return got


def test_whole_traces_grow_with_the_walk(peaks):
    # 4x the steps: the trace held whole is about 4x (3.99x measured)
    assert peaks[False, LONG] > 3 * peaks[False, SHORT]
    # a scattered 32-sector load held whole costs about 69 bytes per warp per step (measured;
    # 4 warps per CTA): the sector streams are all there
    assert peaks[False, LONG] > CTAS * 4 * LONG * 32


def test_co_simulation_holds_the_same_bytes_whatever_the_length(peaks):
    assert peaks[True, SHORT] > 0
    assert peaks[True, LONG] < 1.25 * peaks[True, SHORT]  # 1.00x measured
    # and far less than the whole traces (0.19x measured)
    assert peaks[True, LONG] < peaks[False, LONG] / 3


def test_the_peak_is_the_same_on_a_second_run_and_none_without_timing():
    first = _walk(SHORT, cosim=True).last_trace_peak_bytes
    assert _walk(SHORT, cosim=True).last_trace_peak_bytes == first
    assert _walk(SHORT, timing=False).last_trace_peak_bytes is None
    assert otc_emu.Device().last_trace_peak_bytes is None  # no launch yet


# ------------------------------------------------------------------ the default bound: max_trace_bytes


def _walk_raises(steps: int, **settings) -> otc_emu.GuestFault:
    with pytest.raises(otc_emu.GuestFault) as info:
        _walk(steps, **settings)
    return info.value


def test_max_trace_bytes_is_a_watchdog_on_by_default():
    assert otc_emu.Device().config["max_trace_bytes"] == 2**31
    assert otc_emu.Device(max_trace_bytes=None).config["max_trace_bytes"] is None
    assert "max_trace_bytes" in otc_emu.Device.settings()


def test_a_trace_past_its_share_of_max_trace_bytes_stops_the_launch_the_same_way_for_any_thread_count(peaks):
    # The 8 CTAs are resident at once, so each may record budget / 8: twice the whole short walk
    # fits (each CTA's share is about twice its trace), the walk four times as long does not.
    budget = 2 * peaks[False, SHORT]
    assert _walk(SHORT, max_trace_bytes=budget).last_trace_peak_bytes <= budget
    faults = [_walk_raises(LONG, max_trace_bytes=budget, threads=n) for n in (1, 2)]
    f = faults[0]
    assert (f.kind, f.cta) == ("watchdog", (0, 0, 0))
    assert f"{budget // CTAS} bytes" in str(f) and "max_trace_bytes" in str(f) and "cosim=True" in str(f)
    assert [(g.pc, g.warp, g.cta, str(g)) for g in faults[1:]] == [(f.pc, f.warp, f.cta, str(f))]
    # co-simulated, a CTA records one chunk per warp at a time: the long walk runs within it
    dev = _walk(LONG, max_trace_bytes=budget, cosim=True)
    assert dev.last_cosim == "co-simulated" and dev.last_trace_peak_bytes <= budget
    assert _walk(LONG, max_trace_bytes=None).last_trace_peak_bytes > budget


@pytest.mark.parametrize("value", [0, -1, 1.5, "1000", True])
def test_bad_max_trace_bytes_is_a_config_error(value):
    with pytest.raises(otc_emu.ConfigError, match="max_trace_bytes"):
        otc_emu.Device(max_trace_bytes=value)
