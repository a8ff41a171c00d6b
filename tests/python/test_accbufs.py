"""Several accumulation buffers per warp context (isa/otc.toml, `.BUF1`..`.BUF3`; beyond the
paper): each buffer has its own data, bitmaps and state; the cycle model accepts a buffer index
only below `tensor.accbufs_per_warp` and keeps a bank array per buffer."""
import numpy as np
import pytest

import otc_emu

from test_spwmma_seq import A_REGS, B_REGS, condensed_set, load_set

WIDE = {"tensor.accbufs_per_warp": 4, "tensor.spwmma_sequencer": True}
SUFFIX = ["", ".BUF1", ".BUF2", ".BUF3"]


def moves(buf: int) -> str:
    """The four ACCB.MOVs of buffer `buf` into R24..R55."""
    return "\n".join(
        f"ACCB.MOV.F32{SUFFIX[buf]} {{{', '.join(f'R{24 + 8 * q + i}' for i in range(8))}}}, {q:#x} ;" for q in range(4))


def read_buffer(w, buf: int) -> np.ndarray:
    w.run(moves(buf))
    return np.stack([w.read_reg(24 + i) for i in range(32)])


def one_buffer(sets, arith="v100", sparse_ohmma=False) -> np.ndarray:
    """The bits of buffer 0 of a fresh warp after `sets`: the reference for every buffer index."""
    w = otc_emu.Warp(tensor_arith=arith)
    w.run("ACCB.CLEAR ;")
    for s in sets:
        load_set(w, *s)
        w.run(set_text("", sparse_ohmma))
    return read_buffer(w, 0)


def set_text(suffix: str, sparse_ohmma: bool) -> str:
    if not sparse_ohmma:
        return f"ACCB.BMAP{suffix} R2, R3 ;\nHMMA.SPWMMA.32321.F32.F32{suffix} {A_REGS}, {B_REGS} ;"
    # all eight OHMMAs unguarded: those past the counts land nothing
    return f"ACCB.BMAP{suffix} R2, R3 ;\n" + "\n".join(
        f"HMMA.OHMMA.8161.F32.F32.SP.M{m}.N{n}{suffix} {{R{8 + 2 * m}, R{9 + 2 * m}}}, {{R{16 + 2 * n}, R{17 + 2 * n}}} ;"
        for n in range(2) for m in range(4))


# sets per buffer (nnz A, nnz B), interleaved set by set across the buffers
PLANS = [
    [[(32, 32)], [(20, 11)], [(1, 1)], [(0, 32)]],
    [[(8, 16), (32, 32)], [(9, 17), (25, 31)], [(24, 8), (16, 1)], [(31, 17), (32, 0)]],
    [[(5, 3), (12, 30), (32, 32)], [], [(17, 17), (2, 2), (30, 1)], [(32, 32)]],
]


@pytest.mark.parametrize("sparse_ohmma", [False, True])
@pytest.mark.parametrize("arith", ["v100", "ieee"])
@pytest.mark.parametrize("plan", PLANS)
def test_each_buffer_accumulates_as_the_one_buffer_does_bit_for_bit(plan, arith, sparse_ohmma):
    rng = np.random.default_rng(sum(a + 3 * b for sets in plan for a, b in sets) + 11 * sparse_ohmma)
    sets = [[condensed_set(rng, a, b) for a, b in per] for per in plan]
    w = otc_emu.Warp(tensor_arith=arith)
    w.run("\n".join(f"ACCB.CLEAR{s} ;" for s in SUFFIX))
    for j in range(max(map(len, sets))):  # set j of every buffer, then set j + 1: interleaved
        for buf, per in enumerate(sets):
            if j < len(per):
                load_set(w, *per[j])
                w.run(set_text(SUFFIX[buf], sparse_ohmma))
    for buf, per in enumerate(sets):
        np.testing.assert_array_equal(read_buffer(w, buf), one_buffer(per, arith, sparse_ohmma), err_msg=f"buffer {buf}")


def test_clear_bitmaps_and_state_are_per_buffer():
    rng = np.random.default_rng(3)
    w = otc_emu.Warp()
    w.run("ACCB.CLEAR ;\nACCB.CLEAR.BUF2 ;")
    load_set(w, *condensed_set(rng, 32, 32))
    w.run(set_text(".BUF2", False) + "\n" + set_text("", False))
    before = read_buffer(w, 0)
    assert np.any(before != 0)
    w.run("ACCB.CLEAR.BUF2 ;")  # clears buffer 2 only
    np.testing.assert_array_equal(read_buffer(w, 2), np.zeros((32, 32), np.uint32))
    np.testing.assert_array_equal(read_buffer(w, 0), before)
    # buffer 2 forgot its bitmaps; buffer 0 still has its own
    with pytest.raises(otc_emu.GuestFault, match="ACCB.BMAP"):
        w.run(f"HMMA.SPWMMA.32321.F32.F32.BUF2 {A_REGS}, {B_REGS} ;")
    w2 = otc_emu.Warp()
    w2.run("ACCB.CLEAR ;\nACCB.CLEAR.BUF1 ;\nACCB.BMAP.BUF1 R2, R3 ;")
    with pytest.raises(otc_emu.GuestFault, match="ACCB.BMAP"):  # BMAP of buffer 1 is not buffer 0's
        w2.run(f"HMMA.SPWMMA.32321.F32.F32 {A_REGS}, {B_REGS} ;")


@pytest.mark.parametrize("text", [
    f"HMMA.SPWMMA.32321.F32.F32.BUF3 {A_REGS}, {B_REGS} ;",
    "ACCB.MOV.F32.BUF3 {R24, R25, R26, R27, R28, R29, R30, R31}, 0x0 ;",
    "HMMA.OHMMA.8161.F32.F32.SP.M0.N0.BUF3 {R8, R9}, {R16, R17} ;",
    "ACCB.STS.F32.BUF3 [R0] ;",
])
def test_a_buffer_never_cleared_is_a_guest_fault_naming_it(text):
    w = otc_emu.Warp()
    w.run("ACCB.CLEAR ;")  # buffer 0 only
    with pytest.raises(otc_emu.GuestFault, match=r"accumulation buffer 3.*ACCB.CLEAR.BUF3"):
        w.run(text)


def test_sts_and_lds_move_the_selected_buffer():
    rng = np.random.default_rng(9)
    w = otc_emu.Warp()
    w.run("ACCB.CLEAR.BUF1 ;")
    load_set(w, *condensed_set(rng, 27, 19))
    w.run(set_text(".BUF1", False))
    expected = read_buffer(w, 1)
    w.write_reg(0, np.zeros(32, np.uint32))
    w.run("ACCB.STS.F32.BUF1 [R0] ;\nACCB.LDS.F32.BUF3 [R0] ;")
    np.testing.assert_array_equal(read_buffer(w, 3), expected)


@pytest.mark.parametrize("text", [
    "ACCB.CLEAR.BUF1 ;",
    "ACCB.CLEAR.BUF3 ;",
    "ACCB.CLEAR ;\nACCB.BMAP.BUF2 R2, R3 ;",
])
def test_the_cycle_model_refuses_a_buffer_index_the_machine_lacks(text):
    with pytest.raises(otc_emu.OtcError, match="tensor.accbufs_per_warp = 1"):
        otc_emu.Warp(timing=True).run(text)
    with pytest.raises(otc_emu.OtcError, match="tensor.accbufs_per_warp = 2"):
        otc_emu.Warp(timing=True, **{"tensor.accbufs_per_warp": 2}).run(text.replace("BUF1", "BUF3"))
    otc_emu.Warp(timing=True, **{"tensor.accbufs_per_warp": 4}).run(text)  # accepted
    otc_emu.Warp().run("ACCB.CLEAR.BUF3 ;")  # the functional model has four, timed or not


@pytest.mark.parametrize("bad", [0, 5])
def test_accbufs_per_warp_is_validated(bad):
    with pytest.raises(otc_emu.OtcError, match="tensor.accbufs_per_warp"):
        otc_emu.Warp(timing=True, **{"tensor.accbufs_per_warp": bad}).run("NOP ;")


def conflicting_sets(w, count: int, spread: bool) -> dict:
    """`count` sequenced SpWMMAs whose products all fall into the same 4 banks (rows 0, 8, 16, 24
    and columns 0, 16 repeat), into buffer 0 only or spread over the four buffers: timed."""
    w.write_reg(2, np.full(32, 0x01010101, np.uint32))
    w.write_reg(3, np.full(32, 0x00010001, np.uint32))
    text = ["ACCB.CLEAR ;", "ACCB.CLEAR.BUF1 ;", "ACCB.CLEAR.BUF2 ;", "ACCB.CLEAR.BUF3 ;"]
    for i in range(count):
        s = SUFFIX[i % 4] if spread else ""
        text += [f"ACCB.BMAP{s} R2, R3 ;", f"HMMA.SPWMMA.32321.F32.F32{s} {A_REGS}, {B_REGS} ;"]
    return w.run("\n".join(text)).counters


def test_the_buffers_have_separate_banks_in_the_cycle_model():
    one = conflicting_sets(otc_emu.Warp(timing=True, **WIDE, **{"accbuf.collector_window": 1}), 16, spread=False)
    four = conflicting_sets(otc_emu.Warp(timing=True, **WIDE, **{"accbuf.collector_window": 1}), 16, spread=True)
    assert one["spwmma.ohmmas"] == four["spwmma.ohmmas"] == 16
    assert one["accbuf.accesses"] == four["accbuf.accesses"]
    # the same products; in one buffer each set waits for the previous one's banks, in four the
    # sets on different buffers overlap
    assert four["accbuf.stall_cycles"] < one["accbuf.stall_cycles"]
    assert four["cycles"] < one["cycles"]
