"""The sequenced SpWMMA (HMMA.SPWMMA.32321, isa/otc.toml): one instruction gives the same bits as
the predicated SpWMMA sequence (the SPWMMA macro's guarded sparse OHMMAs), set after set."""
from math import ceil

import numpy as np
import pytest

import otc_emu
from otc_emu import fragments

OHMMA = "HMMA.OHMMA.8161.F32.F32"
A_REGS, B_REGS = "{R8, R9, R10, R11, R12, R13, R14, R15}", "{R16, R17, R18, R19}"
MOVES = "\n".join(f"ACCB.MOV.F32 {{{', '.join(f'R{24 + 8 * q + i}' for i in range(8))}}}, {q:#x} ;" for q in range(4))


def condensed_set(rng, nnz_a, nnz_b):
    """Registers of one set: condensed A column / B row fragments and bitmaps (random positions)."""
    a, b = np.zeros(32, np.float16), np.zeros(32, np.float16)
    a[rng.choice(32, nnz_a, replace=False)] = rng.standard_normal(nnz_a)
    b[rng.choice(32, nnz_b, replace=False)] = rng.standard_normal(nnz_b)
    ca, cb = np.zeros(32, np.float16), np.zeros(32, np.float16)
    ca[:nnz_a], cb[:nnz_b] = a[a != 0], b[b != 0]
    bitmap = lambda v: int(sum(1 << i for i in range(32) if v[i] != 0))  # noqa: E731
    return ca, cb, bitmap(a), bitmap(b)


def load_set(w, ca, cb, abm, bbm):
    for m in range(4):
        regs = fragments.pack(OHMMA, "A", ca[8 * m:8 * m + 8].reshape(8, 1))
        for i in range(regs.shape[1]):
            w.write_reg(8 + 2 * m + i, regs[:, i])
    for n in range(2):
        regs = fragments.pack(OHMMA, "B", cb[16 * n:16 * n + 16].reshape(1, 16))
        for i in range(regs.shape[1]):
            w.write_reg(16 + 2 * n + i, regs[:, i])
    w.write_reg(2, np.full(32, abm, np.uint32))
    w.write_reg(3, np.full(32, bbm, np.uint32))
    w.write_reg(4, np.zeros(32, np.uint32))


def run_sets(sets, sequenced: bool, arith: str):
    """The buffer's bits after the sets, accumulated one after another, and the OHMMA counts."""
    w = otc_emu.Warp(tensor_arith=arith)
    w.run("ACCB.CLEAR ;")
    executed = skipped = 0
    for ca, cb, abm, bbm in sets:
        load_set(w, ca, cb, abm, bbm)
        if sequenced:
            s = w.run(f"ACCB.BMAP R2, R3 ;\nHMMA.SPWMMA.32321.F32.F32 {A_REGS}, {B_REGS} ;")
        else:
            s = w.run(f"SPWMMA.M32N32K1.F32.F32 {A_REGS}, {B_REGS}, R2, R3, R4, {{R20, R21}} ;")
        executed += s.counters["ohmma.executed"]
        skipped += s.counters["ohmma.skipped"]
    w.run(MOVES)
    regs = np.stack([w.read_reg(24 + i) for i in range(32)])
    return regs, executed, skipped


SEQUENCES = [
    # nnz (A, B) per set, accumulated into one buffer
    [(20, 11)],
    [(32, 32), (32, 32), (32, 32)],
    [(1, 1), (8, 16), (9, 17), (24, 8)],
    [(25, 31), (16, 1), (0, 32), (32, 0), (31, 17)],
]


@pytest.mark.parametrize("arith", ["v100", "ieee"])
@pytest.mark.parametrize("seq", SEQUENCES)
def test_sequenced_spwmma_equals_the_predicated_sequence_bit_for_bit(seq, arith):
    rng = np.random.default_rng(len(seq) * 7 + sum(a + b for a, b in seq))
    sets = [condensed_set(rng, a, b) for a, b in seq]
    predicated, executed, skipped = run_sets(sets, sequenced=False, arith=arith)
    sequenced, seq_executed, _ = run_sets(sets, sequenced=True, arith=arith)
    assert executed == sum(ceil(a / 8) * ceil(b / 16) for a, b in seq)
    assert executed + skipped == 8 * len(seq)
    assert seq_executed == 0, "a sequenced SpWMMA is not an OHMMA instruction (the cycle model counts its OHMMAs)"
    np.testing.assert_array_equal(sequenced, predicated)
    assert np.any(sequenced != 0) == any(a and b for a, b in seq)


def test_sequenced_spwmma_without_bitmaps_is_a_guest_fault():
    w = otc_emu.Warp()
    with pytest.raises(otc_emu.GuestFault, match="ACCB.BMAP"):
        w.run(f"ACCB.CLEAR ;\nHMMA.SPWMMA.32321.F32.F32 {A_REGS}, {B_REGS} ;")
    with pytest.raises(otc_emu.GuestFault, match="never cleared"):
        otc_emu.Warp().run(f"HMMA.SPWMMA.32321.F32.F32 {A_REGS}, {B_REGS} ;")


# ----------------------------------------------------------------------------- the spgemm_seq kernel

from otc_emu import kernels, sparse  # noqa: E402

from test_kernels import expected_ohmmas  # noqa: E402

SEQUENCER = {"tensor.spwmma_sequencer": True}


@pytest.mark.parametrize("sa, sb", [(0.0, 0.0), (0.5, 0.99), (0.99, 0.5), (0.9, 0.9), (1.0, 0.0)])
@pytest.mark.parametrize("m, n, k", [(33, 47, 65), (64, 64, 96)])
def test_spgemm_seq_gives_spgemms_bits_with_one_issue_per_set(m, n, k, sa, sb):
    rng = np.random.default_rng(int(sa * 100) + int(sb * 10) + m)
    a = sparse.prune_random(rng.standard_normal((m, k)), sa, seed=5)
    b = sparse.prune_random(rng.standard_normal((k, n)), sb, seed=6)
    dev = otc_emu.Device(**SEQUENCER)
    predicated = kernels.gemm(a, b, mode="spgemm", device=dev)
    seq = kernels.gemm(a, b, mode="spgemm_seq", device=dev)
    np.testing.assert_array_equal(seq.c, predicated.c)
    c, p = seq.stats.counters, predicated.stats.counters
    assert c["spwmma.ohmmas"] == p["ohmma.executed"] == expected_ohmmas(a, b)
    assert c["ohmma.issued"] == 0, "the sequencer's OHMMAs are not OHMMA instructions"
    # per listed k the jump (LOP3, BRX), its OHMMAs and the BRA past the 4-run became one instruction
    assert p["warp_instructions"] - c["warp_instructions"] == (
        c["spwmma.executed"] + p["ohmma.executed"] + p["op.BRA"] - c["op.BRA"])
    assert c["tensor.busy_cycles.ohmma"] == p["tensor.busy_cycles.ohmma"]


def test_spgemm_seq_needs_a_machine_with_the_sequencer():
    a = np.eye(32, dtype=np.float16)
    with pytest.raises(otc_emu.LaunchError, match="tensor.spwmma_sequencer"):
        kernels.gemm(a, a, mode="spgemm_seq")
    untimed = kernels.gemm(a, a, mode="spgemm_seq", device=otc_emu.Device(timing=False))
    np.testing.assert_array_equal(untimed.c, np.eye(32, dtype=np.float32))
