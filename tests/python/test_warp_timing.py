"""The timed Warp harness (`Warp(timing=True)`): instruction-level timing stated as tests. Every
expected number follows from the V100 machine file (crates/otc-timing/configs/v100.toml) and
docs/timing.md section 3; a change of the model that moves one of them must say so here."""
import numpy as np
import pytest

import otc_emu

OHMMA = "HMMA.OHMMA.8161.F32.F32"


def repeat(n, fmt):
    return "\n".join(fmt(i) for i in range(n))


def hmma884_wmma(f16: bool) -> str:
    # A wmma 16x16x16 as nvcc lays it out: 4 sets of STEPs (tests/fixtures/sass/wmma.sass).
    steps, ty = (2, "F16.F16") if f16 else (4, "F32.F32")
    out = []
    for s4 in range(4):
        a, b = 20 + 2 * s4, 28 + 2 * s4
        for s in range(steps):
            d = 4 + 2 * s
            out.append(f"HMMA.884.{ty}.STEP{s} R{d}, R{a}.ROW, R{b}.COL, R{d} ;")
    return "\n".join(out)


def owmma_dense() -> str:
    # 16 k-steps x 2 OHMMAs (the two 8x16 halves of a 16x16 tile), accumulating in place.
    def one(i):
        k, half = divmod(i, 2)
        d = 4 if half == 0 else 8
        a, b = 40 + 2 * (k % 8), 60 + 2 * (k % 8)
        grp = f"{{R{d}, R{d + 1}, R{d + 2}, R{d + 3}}}"
        return f"{OHMMA} {grp}, {{R{a}, R{a + 1}}}, {{R{b}, R{b + 1}}}, {grp} ;"
    return repeat(32, one)


def spacing(stats):
    """The distinct gaps between consecutive issues, the final EXIT left out."""
    c = [i.cycle for i in stats.issues[:-1]]
    return sorted(set(np.diff(c).tolist()))


# (name, program, counter -> expected value, issue spacing of consecutive instructions or None)
CASES = [
    ("dense OWMMA: 32 OHMMA.8161 = 32 tensor cycles", owmma_dense(),
     {"tensor.busy_cycles": 32, "ohmma.executed": 32, "tensor.macs_issued": 4096}, None),
    ("wmma F32: 16 HMMA.884 STEPs = 32 tensor cycles", hmma884_wmma(False),
     {"tensor.busy_cycles": 32, "hmma.executed": 16, "tensor.macs_issued": 4096}, [2]),
    ("wmma F16: 8 HMMA.884 STEPs = 32 tensor cycles", hmma884_wmma(True),
     {"tensor.busy_cycles": 32, "hmma.executed": 8, "tensor.macs_issued": 4096}, [4]),
    ("dependent FFMA: latency 4", repeat(8, lambda i: "FFMA R0, R0, R1, R2 ;"),
     {"cycles": 32, "stall.dependency": 21, "tensor.busy_cycles": 0}, [4]),
    ("independent FFMA: 16-lane pipe, one every 2", repeat(8, lambda i: f"FFMA R{10 + 2 * i}, R1, R2, R4 ;"),
     {"stall.unit_busy": 7}, [2]),
    ("dependent IMAD: latency 4", repeat(6, lambda i: "IMAD R0, R0, R1, R2 ;"), {"cycles": 24}, [4]),
    ("dependent IADD3: latency 4", repeat(6, lambda i: "IADD3 R0, R0, R1, RZ ;"), {"cycles": 24}, [4]),
    ("dependent HADD2: latency 6", repeat(6, lambda i: "HADD2 R0, R0, R1 ;"), {"cycles": 36}, [6]),
    ("dependent DADD: latency 8", repeat(6, lambda i: "DADD R0, R0, R2 ;"), {"regfile.bank_conflict_cycles": 0}, [8]),
    ("dependent DFMA: latency 8 + 1 (six 32-bit reads, three per bank)", repeat(6, lambda i: "DFMA R0, R0, R2, R4 ;"),
     {"regfile.bank_conflict_cycles": 6}, [9]),
    ("dependent MUFU.EX2: latency 14", repeat(4, lambda i: "MUFU.EX2 R0, R0 ;"), {"cycles": 56}, [14]),
    ("independent MUFU: 4 SFUs, one every 8", repeat(4, lambda i: f"MUFU.RSQ R{10 + i}, R1 ;"), {}, [8]),
    ("FFMA/IADD3 alternate every cycle", repeat(8, lambda i: f"FFMA R{10 + i}, R1, R2, R4 ;" if i % 2 == 0
                                                else f"IADD3 R{10 + i}, R1, R2, RZ ;"), {}, [1]),
    ("three sources in one register bank: +1 cycle", repeat(4, lambda i: "FFMA R10, R1, R3, R5 ;"),
     {"regfile.bank_conflict_cycles": 4}, None),
    ("dependent LDS: shared latency 19", repeat(4, lambda i: "LDS R0, [R0] ;"),
     {"smem.instructions": 4, "smem.bank_conflicts": 0}, [19]),
]


@pytest.mark.parametrize("name,program,counters,gaps", CASES, ids=[c[0] for c in CASES])
def test_timed_warp_states_timing(name, program, counters, gaps):
    w = otc_emu.Warp(timing=True)
    s = w.run(program + "\nEXIT ;")
    assert s.timed and s.cycles is not None
    for key, want in counters.items():
        assert s[key] == want, f"{name}: {key} = {s[key]}, expected {want}"
    assert len(s.issues) == s["warp_instructions"]
    if gaps is not None:
        assert spacing(s) == gaps, f"{name}: issue spacing {spacing(s)}"


def test_issues_carry_pc_cycle_and_result_in_issue_order():
    s = otc_emu.Warp(timing=True).run("FFMA R0, R1, R2, R3 ;\nFFMA R4, R0, R2, R3 ;\nEXIT ;")
    assert [i.pc for i in s.issues] == [0, 16, 32]
    assert [i.cycle for i in s.issues] == [0, 4, 5]  # EXIT waits for no result
    assert s.issues[0].result == 4 and s.issues[1].result == 8
    assert all(i.sub_core == 0 for i in s.issues)


def test_results_are_the_same_timed_or_not_and_untimed_has_no_model():
    prog = "FFMA R5, R1, R2, R3 ;\nIMAD R6, R1, R2, R5 ;\nMUFU.RCP R7, R6 ;\nEXIT ;"
    out = []
    for timed in (True, False):
        w = otc_emu.Warp(timing=timed)
        for r, v in ((1, 1.5), (2, 2.0), (3, -0.25)):
            w.write_reg(r, np.full(32, v, np.float32))
        s = w.run(prog)
        out.append(([w.read_reg(r).tobytes() for r in (5, 6, 7)], s))
    (regs_on, on), (regs_off, off) = out
    assert regs_on == regs_off
    assert on.counters["warp_instructions"] == off.counters["warp_instructions"] == 4
    assert off.issues == [] and not off.timed and on.timed
    assert otc_emu.Warp().run(prog).cycles is None


def test_overrides_change_the_timed_model():
    chain = repeat(5, lambda i: "FFMA R0, R0, R1, R2 ;") + "\nEXIT ;"
    s = otc_emu.Warp(timing=True, **{"units.fp32.latency": 6}).run(chain)
    assert spacing(s) == [6]
    with pytest.raises(otc_emu.ConfigError, match="units.fp32.latncy"):
        otc_emu.Warp(timing=True, **{"units.fp32.latncy": 6})
