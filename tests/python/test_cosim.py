"""The cycle model fed each CTA's events in parts while it runs (issue 16, docs/timing.md
"Bounding it: co-simulation"): a warp whose events run out is starved, its SM stops at the start
of the next cycle and asks for more, and the refill does what the issue would have done. Fed in
parts of any size, every kernel of programs/ gives the statistics of its whole trace."""

from __future__ import annotations

import numpy as np
import pytest

import otc_emu
from test_profiling import CASES, _gemm

#: Beside every program: the machine that removes predicated-off tensor instructions before
#: issue (a warp's parts can run out inside such a run), and a grid wider than the GPU.
EXTRA = {
    "spgemm.dstc_paper": _gemm("spgemm", 128, 128, 128, 0.9, 0.95, machine="dstc-paper"),
    "owmma_gemm.2_sms": _gemm("owmma", 128, 128, 64, 0.0, 0.0, **{"gpu.num_sms": 2}),
}

#: Events per warp in each part: every event alone, odd cuts, loop-sized cuts, one part per warp
#: (which still opens each CTA before its first events).
SEGMENTS = [1, 7, 64, 1 << 30]


def _run_with_segment(monkeypatch, name, segment, **settings):
    plain = otc_emu.Device

    class Segmented(plain):
        def __init__(self, config=None, machine=None, **overrides):
            super().__init__(config, machine, **{"timing_segment": segment, **settings, **overrides})

    with monkeypatch.context() as m:
        m.setattr(otc_emu, "Device", Segmented)
        stats, _, _ = {**CASES, **EXTRA}[name]()
    return stats.to_dict()


@pytest.mark.parametrize("name", sorted(CASES) + sorted(EXTRA))
def test_every_program_fed_in_parts_gives_the_statistics_of_whole_traces(monkeypatch, name):
    whole = _run_with_segment(monkeypatch, name, 0, cosim=False)
    assert whole["counters"]["cycles"] > 0
    for segment in SEGMENTS:
        got = _run_with_segment(monkeypatch, name, segment)
        assert got == whole, f"{name}: parts of {segment} events per warp"


def test_sampled_timing_fed_in_parts_is_unchanged():
    def run(segment):
        dev = otc_emu.Device(timing_segment=segment, threads=2, cosim=False)
        return CASES_SAMPLED(dev)

    assert run(5) == run(0)


def CASES_SAMPLED(dev):
    import numpy as np
    from otc_emu import kernels

    a = np.random.default_rng(1).standard_normal((256, 128)).astype(np.float16)
    b = np.random.default_rng(2).standard_normal((128, 256)).astype(np.float16)
    return kernels.gemm(a, b, mode="owmma", device=dev, timing="sampled").stats.to_dict()


def test_the_setting_is_range_checked():
    assert otc_emu.Device(timing_segment=64).config["timing_segment"] == 64
    with pytest.raises(otc_emu.ConfigError, match="timing_segment"):
        otc_emu.Device(timing_segment=-1)


# ------------------------------------------------------------------ co-simulation (cosim=True)


def _run_recording(monkeypatch, name, **settings):
    """Run case `name` with `settings` on every Device it makes: (statistics, every array's bytes)."""
    plain = otc_emu.Device
    arrays = []
    devices = []

    class Recording(plain):
        def __init__(self, config=None, machine=None, **overrides):
            super().__init__(config, machine, **{**overrides, **settings})
            devices.append(self)

        def empty(self, shape, dtype=np.float32):
            a = super().empty(shape, dtype)
            arrays.append(a)
            return a

    freed = []
    free = otc_emu.DeviceArray.free

    def keep_then_free(a):  # what an array held when the code under test frees it
        if not a._freed:
            freed.append(a.numpy().tobytes())
        free(a)

    with monkeypatch.context() as m:
        m.setattr(otc_emu, "Device", Recording)
        m.setattr(otc_emu.DeviceArray, "free", keep_then_free)
        stats, _, _ = {**CASES, **EXTRA}[name]()
    # how the case's (last) launch went: "co-simulated", why it fell back, or None
    how = devices[-1].last_cosim if devices else None
    return stats.to_dict(), freed + [a.numpy().tobytes() for a in arrays if not a._freed], how


#: How the cases that do not co-simulate go (the others co-simulate): saxpy updates y in place,
#: so its CTAs read and re-write an allocation that earlier CTAs wrote (conservatively a conflict).
COSIM = {"saxpy": "a CTA read what an earlier CTA wrote"}

FUNCTIONAL = ["warp_instructions", "thread_instructions", "predicated_thread_instructions", "ctas", "warps",
              "threads", "issue.cycles", "gmem.read_sectors", "gmem.write_sectors", "smem.wavefronts",
              "tensor.busy_cycles"]


@pytest.mark.parametrize("name", sorted(CASES) + sorted(EXTRA))
def test_co_simulation_gives_the_linear_bits_and_is_deterministic(monkeypatch, name):
    linear, linear_bits, off = _run_recording(monkeypatch, name, cosim=False, threads=1)
    one, one_bits, how = _run_recording(monkeypatch, name, cosim=True, threads=1)
    two, two_bits, _ = _run_recording(monkeypatch, name, cosim=True, threads=2)
    assert off is None
    assert how == COSIM.get(name, "co-simulated"), name
    assert one_bits == linear_bits, f"{name}: every array as the linear run leaves it"
    assert two_bits == one_bits and two == one, f"{name}: identical for 1 and 2 threads"
    for key in FUNCTIONAL:
        assert one["counters"].get(key) == linear["counters"].get(key), f"{name}: {key}"
