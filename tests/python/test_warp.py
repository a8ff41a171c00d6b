"""Instruction-level tests through otc_emu.Warp, against NumPy models; fragments pack/unpack."""
import numpy as np
import pytest

import otc_emu
from otc_emu import fragments

LANES = np.arange(32, dtype=np.uint32)
RNG = np.random.default_rng(11)
A = RNG.integers(0, 1 << 32, 32, dtype=np.uint64).astype(np.uint32)
B = RNG.integers(0, 1 << 32, 32, dtype=np.uint64).astype(np.uint32)


def u32(x):
    return (np.asarray(x, dtype=np.uint64) & 0xFFFFFFFF).astype(np.uint32)


def popc(x):
    return np.array([bin(int(v)).count("1") for v in x], dtype=np.uint32)


def brev(x):
    return np.array([int(f"{int(v):032b}"[::-1], 2) for v in x], dtype=np.uint32)


INT_CASES = [
    ("IADD3 R0, R1, R2, RZ ;", lambda a, b: u32(a.astype(np.uint64) + b)),
    ("IADD3 R0, R1, 0x7, -R2 ;", lambda a, b: u32(a.astype(np.int64) - b + 7)),
    ("LOP3.LUT R0, R1, R2, RZ, 0xc0, !PT ;", lambda a, b: a & b),
    ("LOP3.LUT R0, R1, R2, RZ, 0x3c, !PT ;", lambda a, b: a ^ b),
    ("LOP3.LUT R0, R1, R2, RZ, 0xfc, !PT ;", lambda a, b: a | b),
    ("SHF.L.U32 R0, R1, 0x5, RZ ;", lambda a, b: u32(a.astype(np.uint64) << 5)),
    ("SHF.R.U32.HI R0, RZ, 0x3, R1 ;", lambda a, b: a >> 3),
    ("SHF.R.S32.HI R0, RZ, 0x1f, R1 ;", lambda a, b: u32(a.view(np.int32) >> 31)),
    ("IMAD R0, R1, R2, RZ ;", lambda a, b: u32(a.astype(np.uint64) * b)),
    ("IMAD.HI.U32 R0, R1, R2, RZ ;", lambda a, b: u32((a.astype(np.uint64) * b) >> 32)),
    ("POPC R0, R1 ;", lambda a, b: popc(a)),
    ("BREV R0, R1 ;", lambda a, b: brev(a)),
    ("IABS R0, R1 ;", lambda a, b: u32(np.abs(a.view(np.int32).astype(np.int64)))),
    ("ISETP.LT.U32.AND P0, PT, R1, R2, PT ;\nSEL R0, R1, R2, P0 ;", lambda a, b: np.minimum(a, b)),
    ("ISETP.GT.AND P0, PT, R1, R2, PT ;\nSEL R0, R1, R2, P0 ;", lambda a, b: u32(np.maximum(a.view(np.int32), b.view(np.int32)))),
    ("S2R R0, SR_LANEID ;", lambda a, b: LANES),
    ("SHFL.BFLY PT, R0, R1, 0x1, 0x1f ;", lambda a, b: a[LANES ^ 1]),
    ("SHFL.IDX PT, R0, R1, 0x3, 0x1f ;", lambda a, b: np.full(32, a[3], np.uint32)),
    ("SHFL.DOWN PT, R0, R1, 0x4, 0x1f ;", lambda a, b: np.where(LANES + 4 < 32, a[np.minimum(LANES + 4, 31)], a)),
]


@pytest.mark.parametrize("source, model", INT_CASES, ids=[c[0].split(";")[0] for c in INT_CASES])
def test_integer_and_warp_instructions_match_numpy(source, model):
    w = otc_emu.Warp()
    w.write_reg(1, A)
    w.write_reg(2, B)
    stats = w.run(source + "\nEXIT ;")
    np.testing.assert_array_equal(w.read_reg(0), model(A, B))
    assert stats.counters["warp_instructions"] == source.count(";") + 1


def test_vote_and_predicates():
    w = otc_emu.Warp()
    w.write_reg(1, LANES)
    w.run("ISETP.GE.U32.AND P1, PT, R1, 0x14, PT ;\nVOTE.ANY R0, PT, P1 ;\nEXIT ;")
    assert int(w.read_reg(0)[0]) == 0xFFF00000
    np.testing.assert_array_equal(w.read_pred(1), LANES >= 20)
    w.write_pred(2, 0x0000FFFF)
    w.run("@P2 IADD3 R3, R1, 0x100, RZ ;\nEXIT ;")
    np.testing.assert_array_equal(w.read_reg(3)[:16], LANES[:16] + 0x100)


@pytest.mark.parametrize("a, b", [(1.5, 2.25), (-0.0, 0.0), (3.0e38, 3.0e38), (1e-39, 2.0)])
def test_fp32_ffma_rounds_once(a, b):
    w = otc_emu.Warp()
    x = np.full(32, a, np.float32)
    y = np.full(32, b, np.float32)
    w.write_reg(1, x)
    w.write_reg(2, y)
    w.run("FFMA R0, R1, R2, R2 ;\nEXIT ;")
    with np.errstate(over="ignore"):
        ref = (x.astype(np.float64) * y + y).astype(np.float32)
    np.testing.assert_array_equal(w.read_reg(0).view(np.float32), ref)


def test_hadd2_adds_both_halves():
    w = otc_emu.Warp()
    h = RNG.standard_normal((32, 2)).astype(np.float16)
    g = RNG.standard_normal((32, 2)).astype(np.float16)
    w.write_reg(1, h.view(np.uint32).reshape(32))
    w.write_reg(2, g.view(np.uint32).reshape(32))
    w.run("HADD2 R0, R1, R2 ;\nEXIT ;")
    got = w.read_reg(0).view(np.float16).reshape(32, 2)
    np.testing.assert_array_equal(got, (h.astype(np.float32) + g).astype(np.float16))


@pytest.mark.parametrize("inst", fragments.INSTRUCTIONS)
@pytest.mark.parametrize("operand", ["A", "B", "C", "D"])
@pytest.mark.parametrize("layout", ["row", "col"])
def test_fragments_pack_then_unpack_is_identity(inst, operand, layout):
    sh = fragments.shape(inst, operand, layout)
    if sh["bits"] == 1:
        tile = RNG.integers(0, 2, (sh["rows"], sh["cols"])).astype(bool)
        if operand in ("A", "B"):
            tile = tile.reshape(32)
    else:
        dt = np.float32 if sh["bits"] == 32 else np.float16
        shape = (sh["matrices"], sh["rows"], sh["cols"]) if sh["matrices"] > 1 else (sh["rows"], sh["cols"])
        tile = RNG.standard_normal(shape).astype(dt)
    regs = fragments.pack(inst, operand, tile, layout)
    assert regs.shape == (32, sh["regs"]) and regs.dtype == np.uint32
    np.testing.assert_array_equal(fragments.unpack(inst, operand, regs, layout), tile)


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: fragments.pack("HMMA.999", "A", np.zeros((8, 1))), "no fragment layout"),
        (lambda: fragments.pack("HMMA.OHMMA.8161.F32.F32", "E", np.zeros((8, 1))), "operand"),
        (lambda: fragments.pack("HMMA.OHMMA.8161.F32.F32", "A", np.zeros((4, 4))), "shape (8, 1)"),
        (lambda: fragments.pack("HMMA.BOHMMA.32321.B32.B32", "A", 1 << 33), "fit 32 bits"),
        (lambda: fragments.unpack("HMMA.884.F32.F32", "C", np.zeros((32, 4), np.uint32)), "(32, 8)"),
        (lambda: fragments.pack("HMMA.884.F32.F32", "A", np.zeros((4, 8, 4)), layout="diag"), "layout"),
    ],
)
def test_fragment_misuse_is_a_value_error(call, phrase):
    with pytest.raises(ValueError) as info:
        call()
    assert phrase in str(info.value)


@pytest.mark.parametrize("a_layout, b_layout", [("row", "col"), ("col", "row"), ("row", "row"), ("col", "col")])
def test_one_hmma884_step_set_against_numpy(a_layout, b_layout):
    """Four STEPs of HMMA.884.F32.F32 compute the four quad pairs' 8x8x4 products."""
    a = RNG.standard_normal((4, 8, 4)).astype(np.float16)
    b = RNG.standard_normal((4, 4, 8)).astype(np.float16)
    c = RNG.standard_normal((4, 8, 8)).astype(np.float32)
    w = otc_emu.Warp()
    for base, regs in ((4, fragments.pack("HMMA.884.F32.F32", "A", a, a_layout)),
                       (6, fragments.pack("HMMA.884.F32.F32", "B", b, b_layout)),
                       (8, fragments.pack("HMMA.884.F32.F32", "C", c))):
        for i in range(regs.shape[1]):
            w.write_reg(base + i, regs[:, i])
    lay = {"row": "ROW", "col": "COL"}
    src = "\n".join(
        f"HMMA.884.F32.F32.STEP{s} R{16 + 2 * s}, R4.{lay[a_layout]}, R6.{lay[b_layout]}, R{8 + 2 * s} ;" for s in range(4)
    )
    w.run(src + "\nEXIT ;")
    d_regs = np.stack([w.read_reg(16 + i) for i in range(8)], axis=1)
    d = fragments.unpack("HMMA.884.F32.F32", "D", d_regs)
    ref = np.einsum("qik,qkj->qij", a.astype(np.float64), b.astype(np.float64)) + c
    np.testing.assert_allclose(d, ref, rtol=1e-5, atol=1e-5)
