"""The forms nvcc's -G code adds: generic LD/ST/ATOM through the shared and local windows
(c[0x0][0x18], c[0x0][0x20]) and the read-only __constant__ window (c[0x0][0x50]), QSPC, SGXT, IMAD.WIDE.U32.X, SR_LMEMHIOFF, and CALL.ABS, which is
refused with a clear reason. Each case is a small own-dialect kernel against a NumPy model."""
from __future__ import annotations

import numpy as np
import pytest

from pathlib import Path

import otc_emu

SASS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sass"
U32, I32 = np.uint32, np.int32
SHARED_WINDOW, LOCAL_WINDOW = 0x0000_7E00_0000_0000, 0x0000_7F00_0000_0000
CONST_WINDOW = 0x0000_7D00_0000_0000

# R2:R3 = generic address of the space (R0 = tid), R6:R7 = &out[tid]
PROLOGUE = """.param ptr out
S2R R0, SR_TID.X ;
MOV R6, c[0x0][0x160] ;
MOV R7, c[0x0][0x164] ;
IMAD.WIDE R6, R0, 0x4, R6 ;
"""


def run(body: str, threads: int = 32, shared: int = 0, dtype=U32, extra=()) -> np.ndarray:
    prog = otc_emu.assemble(".kernel k\n" + PROLOGUE + body + "EXIT ;\n")
    dev = otc_emu.Device(timing=False)
    out = dev.zeros(threads, dtype)
    dev.launch(prog, "k", 1, threads, [out, *extra], shared_bytes=shared)
    return out.numpy()


def test_the_windows_are_in_constant_bank_0():
    got = run("MOV R4, c[0x0][0x18] ;\nMOV R5, c[0x0][0x1c] ;\nMOV R8, c[0x0][0x20] ;\nMOV R9, c[0x0][0x24] ;\n"
              "IADD3 R4, R4, R8, RZ ;\nLOP3.LUT R5, R5, R9, RZ, 0x96, !PT ;\nSTG.E.SYS [R6], R5 ;\n")
    assert (got == U32((SHARED_WINDOW >> 32) ^ (LOCAL_WINDOW >> 32))).all()


def test_generic_store_and_load_through_the_shared_window():
    # ST through the shared window, read back by the neighbour with LDS and with LD
    body = """MOV R2, c[0x0][0x18] ;
MOV R3, c[0x0][0x1c] ;
IMAD.SHL.U32 R8, R0, 0x4, RZ ;
IADD3 R2, P0, R2, R8, RZ ;
IADD3.X R3, RZ, R3, RZ, P0, !PT ;
IMAD R9, R0, 0x3, RZ ;
IADD3 R9, R9, 0x7, RZ ;
ST.E.SYS [R2], R9 ;
BAR.SYNC 0x0 ;
LDS.U R10, [R8+0x4] ;
LD.E.SYS R11, [R2+0x4] ;
IADD3 R10, R10, R11, RZ ;
STG.E.SYS [R6], R10 ;
"""
    got = run(body, threads=32, shared=33 * 4)
    nxt = np.arange(1, 33)
    np.testing.assert_array_equal(got, np.where(nxt < 32, 2 * (nxt * 3 + 7), 0))


def test_generic_store_and_load_through_the_local_window():
    # the thread's stack slot [R1-8] written with STL, read through its generic address
    body = """MOV R1, c[0x0][0x28] ;
IADD3 R1, R1, -0x8, RZ ;
IMAD R9, R0, 0x5, RZ ;
IADD3 R9, R9, 0x1, RZ ;
STL [R1], R9 ;
MOV R2, c[0x0][0x20] ;
MOV R3, c[0x0][0x24] ;
IADD3 R2, P0, R2, R1, RZ ;
IADD3.X R3, RZ, R3, RZ, P0, !PT ;
LD.E.SYS R10, [R2] ;
ST.E.SYS [R2+0x4], R10 ;
LDL R11, [R1+0x4] ;
IADD3 R10, R10, R11, RZ ;
STG.E.SYS [R6], R10 ;
"""
    np.testing.assert_array_equal(run(body), 2 * (np.arange(32) * 5 + 1))


def test_generic_atomics_in_global_and_shared_memory():
    # every lane adds 1 to out[0] through a generic (global) address, and its tid to a shared
    # word through the shared window; lane 0 stores the shared total in out[1]
    body = """MOV R2, c[0x0][0x160] ;
MOV R3, c[0x0][0x164] ;
MOV R9, 0x1 ;
ATOM.E.ADD.STRONG.GPU PT, R10, [R2], R9 ;
MOV R4, c[0x0][0x18] ;
MOV R5, c[0x0][0x1c] ;
ATOM.E.ADD.STRONG.GPU PT, R11, [R4], R0 ;
BAR.SYNC 0x0 ;
ISETP.NE.AND P0, PT, R0, RZ, PT ;
@P0 EXIT ;
LDS.U R12, [RZ] ;
STG.E.SYS [R2+0x4], R12 ;
"""
    got = run(body, threads=64, shared=4)
    assert got[0] == 64 and got[1] == sum(range(64))


# R2:R3 = c[0x0][0x50] (the generic address of constant bank 3) + R0 * 4
CONST_ADDRESS = """MOV R2, c[0x0][0x50] ;
MOV R3, c[0x0][0x54] ;
IMAD.SHL.U32 R8, R0, 0x4, RZ ;
IADD3 R2, P0, R2, R8, RZ ;
IADD3.X R3, RZ, R3, RZ, P0, !PT ;
"""


def _const_window_kernel(body: str, table: np.ndarray):
    prog = otc_emu.assemble(".kernel k\n" + PROLOGUE + CONST_ADDRESS + body + "EXIT ;\n")
    dev = otc_emu.Device(timing=False)
    dev.write_constant(3, 0, table.tobytes())
    out = dev.zeros(32, U32)
    dev.launch(prog, "k", 1, 32, [out])
    return out.numpy()


@pytest.mark.parametrize("load, extra, want", [
    ("LD.E.SYS R10, [R2] ;", 0, lambda t: t[:32]),
    ("LD.E.SYS R10, [R2+0x40] ;", 0, lambda t: t[16:48]),
    ("LD.E.U16.SYS R10, [R2+0x2] ;", 0, lambda t: t[:32] >> 16),
    ("LD.E.64.SYS R10, [R2] ;\nIADD3 R10, R10, R11, RZ ;", 0, None),
])
def test_generic_loads_read_constant_bank_3_through_its_window(load, extra, want):
    table = np.random.default_rng(9).integers(0, 1 << 32, 64, dtype=np.uint64).astype(U32)
    if want is None:  # .64 at R2 = 4 * tid needs 8-byte alignment: even lanes only
        body = "LOP3.LUT R9, R0, 0x1, RZ, 0xc0, !PT ;\nISETP.NE.AND P1, PT, R9, RZ, PT ;\n@P1 EXIT ;\n" + load
        got = _const_window_kernel(body + "\nSTG.E.SYS [R6], R10 ;\n", table)
        pairs = table[0:64:2][:16] + table[1:64:2][:16]
        np.testing.assert_array_equal(got[0::2], pairs.astype(U32))
        return
    got = _const_window_kernel(load + "\nSTG.E.SYS [R6], R10 ;\n", table)
    np.testing.assert_array_equal(got, want(table).astype(U32))


@pytest.mark.parametrize("body, phrase", [
    ("ST.E.SYS [R2], R0 ;\n", "4-byte store .*__constant__ window.*read-only"),
    ("ATOM.E.ADD.STRONG.GPU PT, R10, [R2], R0 ;\n", "4-byte atomic .*__constant__ window.*read-only"),
    ("LD.E.SYS R10, [R2+0x100] ;\n", "constant access at 0x1.. \\(lane \\d+\\) is out of range"),
])
def test_the_constant_window_is_read_only_and_as_long_as_the_bank(body, phrase):
    with pytest.raises(otc_emu.GuestFault, match=phrase) as info:
        _const_window_kernel(body, np.zeros(64, U32))  # bank 3 holds 256 bytes
    assert info.value.kind == "out_of_bounds"


@pytest.mark.parametrize("space, base, want", [
    ("S", SHARED_WINDOW, 1), ("S", LOCAL_WINDOW, 0), ("S", SHARED_WINDOW + (1 << 24), 0),
    ("L", LOCAL_WINDOW + 0x40, 1), ("L", SHARED_WINDOW, 0), ("G", 0x1_0000_0000, 1), ("G", SHARED_WINDOW, 0),
    ("G", CONST_WINDOW + 0x10, 1), ("S", CONST_WINDOW, 0), ("L", CONST_WINDOW, 0),
])
def test_qspc_tells_the_space_of_a_generic_address(space, base, want):
    body = f"""MOV R2, {base & 0xffffffff:#x} ;
MOV R3, {base >> 32:#x} ;
MOV R9, 0x7 ;
QSPC.E.{space} P0, R9, [R2] ;
SEL R10, R9, 0x1, P0 ;
STG.E.SYS [R6], R10 ;
"""
    # d is written 0; P0 selects between it (in the space) and 1
    assert (run(body) == (0 if want else 1)).all()


@pytest.mark.parametrize("value, bits, unsigned", [
    (0x0000_00FF, 8, False), (0x0000_007F, 8, False), (0x1234_5678, 0x20, True), (0x1234_5678, 0x10, True),
    (0x0000_8000, 16, False), (0xFFFF_FFFF, 0, False), (0xABCD_EF01, 40, False), (0x0000_0001, 1, False),
])
def test_sgxt_extends_the_low_bits(value, bits, unsigned):
    body = f"MOV R9, {value:#x} ;\nSGXT{'.U32' if unsigned else ''} R10, R9, {bits:#x} ;\nSTG.E.SYS [R6], R10 ;\n"
    if bits == 0:
        want = 0
    elif bits >= 32:
        want = value
    elif unsigned:
        want = value & ((1 << bits) - 1)
    else:
        low = value & ((1 << bits) - 1)
        want = (low - (1 << bits) if low >> (bits - 1) else low) & 0xFFFF_FFFF
    assert (run(body) == U32(want)).all()


@pytest.mark.parametrize("a, b, c, carry", [(3, 5, 0xFFFF_FFFF_FFFF_FFF0, 1), (0xFFFF_FFFF, 0xFFFF_FFFF, 7, 0),
                                            (0, 0, 0xFFFF_FFFF_FFFF_FFFF, 1)])
def test_imad_wide_u32_x_adds_the_carry_in(a, b, c, carry):
    set_p = "ISETP.EQ.AND P1, PT, RZ, RZ, PT ;" if carry else "ISETP.NE.AND P1, PT, RZ, RZ, PT ;"
    body = f"""{set_p}
MOV R8, {a:#x} ;
MOV R4, {c & 0xffffffff:#x} ;
MOV R5, {c >> 32:#x} ;
IMAD.WIDE.U32.X R4, R8, {b:#x}, R4, P1 ;
STG.E.SYS [R6], R4 ;
STG.E.SYS [R6+0x80], R5 ;
"""
    prog = otc_emu.assemble(".kernel k\n" + PROLOGUE + body + "EXIT ;\n")
    dev = otc_emu.Device(timing=False)
    out = dev.zeros(64, U32)
    dev.launch(prog, "k", 1, 32, [out])
    got = out.numpy()
    want = (a * b + c + carry) & (2**64 - 1)
    assert (got[:32] == U32(want & 0xFFFF_FFFF)).all() and (got[32:] == U32(want >> 32)).all()


def test_lmemhioff_reads_zero_so_the_stack_check_passes():
    # -G's prologue: trap when R1 (after the frame) is below SR_LMEMHIOFF
    body = """MOV R1, c[0x0][0x28] ;
IADD3 R1, R1, -0x10, RZ ;
S2R R9, SR_LMEMHIOFF ;
ISETP.GE.U32.AND P0, PT, R1, R9, PT ;
@!P0 BPT.TRAP 0x1 ;
MEMBAR.SC.VC ;
STG.E.SYS [R6], R9 ;
"""
    assert (run(body) == 0).all()


def test_call_abs_needs_the_cubins_relocation():
    prog = otc_emu.assemble(".kernel k\nCALL.ABS.NOINC 0x0 ;\nEXIT ;\n")
    (pc, text, why), = prog.kernels["k"].unsupported()
    assert (pc, text) == (0, "CALL.ABS.NOINC 0x0") and "give the cubin" in why
    with pytest.raises(otc_emu.LaunchError, match="CALL.ABS at pc 0x0000.*give the cubin"):
        otc_emu.Device(timing=False).launch(prog, "k", 1, 32)


def test_g_listing_calls_are_linked_from_the_cubins_relocations():
    text = (SASS / "sort.G.sass").read_text() + (SASS / "sort.G.res-usage.txt").read_text()
    bare = otc_emu.assemble(text, "sort.G.sass")
    assert any("CALL.ABS" in t for _, t, _ in bare.kernels["radix_count"].unsupported())
    prog = otc_emu.assemble(text, "sort.G.sass", cubin=(SASS / "sort.G.elf.txt").read_bytes())
    assert prog.kernels["radix_count"].unsupported() == []
    relocs = prog.kernels["radix_count"].relocations
    calls = [r for r in relocs if r[1] == "R_CUDA_ABS47_34"]
    returns = [r for r in relocs if r[1] == "R_CUDA_ABS32_LO_32"]
    assert calls and all(isinstance(t, str) and "+0x0" in t for _, _, t in calls)  # a function's start
    assert returns and all(t.startswith("radix_count+") for _, _, t in returns)  # the return address
    # the launch runs the linked code (the corpus test runs every kernel of the listing); without
    # the relocations it is refused before anything runs
    keys = np.random.default_rng(3).integers(0, 1 << 30, 256).astype(U32)
    dev = otc_emu.Device(timing=False)
    counts = dev.zeros(32, U32)
    args = [dev.to_device(keys), I32(256), I32(4), counts]
    dev.launch(prog, "radix_count", 2, 128, args)
    want = np.stack([np.bincount((b >> 4) & 15, minlength=16) for b in keys.reshape(2, 128)]).ravel()
    np.testing.assert_array_equal(counts.numpy(), want)
    with pytest.raises(otc_emu.LaunchError, match="CALL.ABS"):
        dev.launch(bare, "radix_count", 2, 128, args)
