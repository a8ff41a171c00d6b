"""Forms nvcc 11.8 prints that the assembler once rejected, run through otc_emu.Warp against NumPy:
constant loads (LDC, every width, with and without an index register)."""
import numpy as np
import pytest

import otc_emu

LANES = np.arange(32, dtype=np.uint32)
# bank 3 holds bytes 0x80, 0x81, ... so that every width has its top bit set somewhere
BANK3 = (np.arange(512, dtype=np.uint32) + 0x80).astype(np.uint8)


def load(offsets, dtype):
    """What a lane reads from BANK3 at byte offsets, widened to 32 bits as the LDC width says."""
    width = np.dtype(dtype).itemsize
    raw = np.stack([BANK3[offsets + i] for i in range(width)], axis=1).copy()
    value = raw.view(dtype).reshape(-1)
    return value.astype(np.int64).astype(np.uint32) if width < 4 else value.view(np.uint32)


# (source, model of R0 per lane; R2 holds lane * 4 as the index register)
LDC_CASES = [
    ("LDC.U8 R0, c[0x3][0x5] ;", lambda: load(np.full(32, 5), np.uint8)),
    ("LDC.S8 R0, c[0x3][0x5] ;", lambda: load(np.full(32, 5), np.int8)),
    ("LDC.U16 R0, c[0x3][0x6] ;", lambda: load(np.full(32, 6), np.uint16)),
    ("LDC.S16 R0, c[0x3][0x6] ;", lambda: load(np.full(32, 6), np.int16)),
    ("LDC R0, c[0x3][0x8] ;", lambda: load(np.full(32, 8), np.uint32)),
    ("LDC R0, c[0x3][RZ] ;", lambda: load(np.full(32, 0), np.uint32)),
    ("LDC R0, c[0x3][R2] ;", lambda: load(LANES * 4, np.uint32)),
    ("LDC R0, c[0x3][R2+0x10] ;", lambda: load(LANES * 4 + 0x10, np.uint32)),
    ("LDC.U8 R0, c[0x3][R2+0x3] ;", lambda: load(LANES * 4 + 3, np.uint8)),
    ("LDC.S8 R0, c[0x3][R2+0x3] ;", lambda: load(LANES * 4 + 3, np.int8)),
    ("LDC.U16 R0, c[0x3][R2+0x2] ;", lambda: load(LANES * 4 + 2, np.uint16)),
    ("LDC.S16 R0, c[0x3][R2+0x2] ;", lambda: load(LANES * 4 + 2, np.int16)),
    # the harness's launch header in bank 0: the stack top is 1024
    ("LDC R0, c[0x0][0x28] ;", lambda: np.full(32, 1024, np.uint32)),
]


@pytest.mark.parametrize("source, model", LDC_CASES, ids=[c[0] for c in LDC_CASES])
def test_ldc_widths_with_and_without_an_index_register(source, model):
    w = otc_emu.Warp()
    w.write_constant(3, 0, BANK3)
    w.write_reg(2, LANES * 4)
    w.run(source + "\nEXIT ;")
    np.testing.assert_array_equal(w.read_reg(0), model())


@pytest.mark.parametrize("source, offsets", [("LDC.64 R4, c[0x3][0x8] ;", np.full(32, 8)), ("LDC.64 R4, c[0x3][R2+0x8] ;", LANES * 8 + 8)])
def test_ldc_64_fills_a_register_pair(source, offsets):
    w = otc_emu.Warp()
    w.write_constant(3, 0, BANK3)
    w.write_reg(2, LANES * 8)  # 8-byte aligned per lane
    w.run(source + "\nEXIT ;")
    np.testing.assert_array_equal(w.read_reg(4), load(offsets, np.uint32))
    np.testing.assert_array_equal(w.read_reg(5), load(offsets + 4, np.uint32))


@pytest.mark.parametrize("source", [case[0] for case in LDC_CASES])
def test_ldc_disassembly_reassembles(source):
    program = otc_emu.assemble(source + "\nEXIT ;")
    again = otc_emu.assemble(program.disassemble())
    (kernel,), (kernel_again,) = program.kernels.values(), again.kernels.values()
    assert kernel_again.instructions() == kernel.instructions()
    assert kernel.instructions()[0] == source.rstrip(" ;").replace("[RZ+", "[")


@pytest.mark.parametrize("bank, offset", [(18, 0), (-1, 0), (3, -4), (True, 0), (3, 1.5)])
def test_warp_write_constant_rejects_bad_places(bank, offset):
    with pytest.raises(ValueError, match="bank|offset"):
        otc_emu.Warp().write_constant(bank, offset, b"\0\0\0\0")
