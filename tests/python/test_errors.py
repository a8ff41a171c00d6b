"""Every AsmErrorKind, with the place it is reported at (kind, line, column) and its message."""

from __future__ import annotations

import struct

import pytest

import otc_emu
from otc_emu import AssemblyError, OtcError, Program
from conftest import FIXTURES, with_checksum

HMMA_OHMMA = "HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {A}, {R6, R7}, {R8, R9, R10, R11} ;"

# (id, source, kind, line, column, phrase in the message)
SOURCE_ERRORS = [
    # syntax
    ("text-after-semicolon", "IADD3 R1, R2, R3, RZ ; junk", "syntax", 1, 24, "unexpected text after `;`"),
    ("unbalanced-bracket", "  IADD3 R1, [R2, R3, RZ ;", "syntax", 1, 25, "unbalanced `[`"),
    ("unbalanced-brace", "MOV R1, {R2 ;", "syntax", 1, 13, "unbalanced `{`"),
    ("closing-brace", "IADD3 R1, R2}, R3, RZ ;", "syntax", 1, 13, "unbalanced `}`"),
    ("bad-guard", "NOP ;\n@Q0 EXIT ;", "syntax", 2, 1, "guard `@Q0` must be a predicate"),
    ("guard-alone", "@P0", "syntax", 1, 4, "a guard must be followed by an instruction"),
    ("not-a-mnemonic", "{{{{ ;", "syntax", 1, 1, "expected an instruction mnemonic"),
    ("bad-control", "[B------:R-:W-:Y:S99] EXIT ;", "syntax", 1, 1, "stall must be S00..S15"),
    ("unterminated-comment", "EXIT ;\n/* never closed\nNOP ;", "syntax", 2, 0, "unterminated `/*` comment"),
    ("nul-byte", "NOP ;\nEXIT ;\0", "syntax", 2, 0, "NUL bytes"),
    ("empty", "  // nothing\n", "syntax", 0, 0, "no instructions"),
    ("empty-kernel", ".kernel k\n.end\n", "syntax", 1, 0, "kernel `k` has no instructions"),
    # unknown-mnemonic, with a suggestion
    ("IMDA", "    IMDA R1, R2, R3, R4 ;", "unknown-mnemonic", 1, 5, "unknown instruction `IMDA`; did you mean `IMAD`?"),
    ("FFAM", "NOP ;\n  @P0 FFAM R1, R2, R3, R4 ;", "unknown-mnemonic", 2, 7, "did you mean `FFMA`?"),
    # bad-modifier
    ("IMAD.FOO", "IMAD.FOO R1, R2, R3, R4 ;", "bad-modifier", 1, 6, "IMAD does not take the modifier `.FOO`"),
    ("ISETP.XX", "ISETP.XX.AND P0, PT, R0, R1, PT ;", "bad-modifier", 1, 7, "did you mean `.EX`?"),
    # operand-count
    ("too-few", "IADD3 R1, R2, R3 ;", "operand-count", 1, 17, "IADD3 takes 4 operands (d, a, b, c), got 3"),
    ("too-many", "IADD3 R1, R2, R3, RZ, RZ, RZ, RZ ;", "operand-count", 1, 23, "got 7"),
    # operand-kind
    ("memory-for-register", "FADD R1, R2, [R3] ;", "operand-kind", 1, 14, "operand `b` must be a register"),
    ("predicate-for-register", "MOV R1, P0 ;", "operand-kind", 1, 9, "operand `a` must be a register"),
    ("register-for-address", "LDG.E.SYS R1, R2 ;", "operand-kind", 1, 15, "operand `a` must be a memory operand"),
    # out-of-range
    ("R255", "MOV R255, R1 ;", "out-of-range", 1, 5, "register R255 does not exist"),
    ("R256", "MOV R1, R256 ;", "out-of-range", 1, 9, "register R256 does not exist"),
    ("immediate", "IADD3 R1, R2, 0x100000000, RZ ;", "out-of-range", 1, 15, "immediate 0x100000000 does not fit"),
    ("memory-offset", "LDG.E.SYS R1, [R2+0x1000000] ;", "out-of-range", 1, 15, "memory offset 0x1000000 does not fit 24 signed bits"),
    ("group-past-R254", "HMMA.OHMMA.8161.F32.F32 R252, R4, R6, R8 ;", "out-of-range", 1, 25, "runs past R254"),
    # bad-register-group
    ("HMMA.884-odd", "HMMA.884.F32.F32.STEP0 R3, R4.ROW, R6.COL, R8 ;", "bad-register-group", 1, 24, "must start at a multiple of 2, got R3"),
    ("LDG.128-R9", "LDG.E.128.SYS R9, [R2] ;", "bad-register-group", 1, 15, "must start at a multiple of 4, got R9"),
    ("list-not-consecutive", HMMA_OHMMA.replace("{A}", "{R4,R6}"), "bad-register-group", 1, 45, "must be consecutive"),
    ("list-not-consecutive-blank", HMMA_OHMMA.replace("{A}", "{R4, R6}"), "bad-register-group", 1, 45, "must be consecutive"),
    ("list-too-short", HMMA_OHMMA.replace("{R8, R9, R10, R11}, {A}", "{R8, R9, R10}, {R4, R5}"), "bad-register-group", 1, 25, "the list has 3"),
    # label
    ("undefined-label", "loop: BRA lop ;", "label", 1, 11, "undefined label `lop`; did you mean `loop`?"),
    ("duplicate-label", "a:\nEXIT ;\n a:\nEXIT ;", "label", 3, 2, "label `a` is defined twice"),
    # bad-target
    ("misaligned-target", "BRA 0x18 ;\nEXIT ;", "bad-target", 1, 5, "branch target 0x18 is not the address of an instruction"),
    ("target-past-end", "NOP ;\nBRA 0x100 ;\nEXIT ;", "bad-target", 2, 5, "multiples of 0x10 below 0x30"),
    # directive
    ("param-type", ".kernel k\n.param foo x\nEXIT ;", "directive", 2, 1, "unknown parameter type `foo`"),
    ("param-twice", ".kernel k\n.param u32 n\n.param u32 n\nEXIT ;", "directive", 3, 1, "declared twice"),
    ("unknown-directive", ".kernel k\n  .foo\nEXIT ;", "directive", 2, 3, "unknown directive `.foo`"),
    ("param-outside-kernel", ".param u32 n\nEXIT ;", "directive", 1, 1, "must follow a `.kernel NAME`"),
    ("regs-range", ".kernel k\n.regs 300\nEXIT ;", "directive", 2, 1, "N in 1..255"),
    ("kernel-twice", ".kernel k\nEXIT ;\n.kernel k\nEXIT ;", "directive", 3, 1, "kernel `k` is defined twice"),
    ("shared-bad", ".kernel k\n.shared lots\nEXIT ;", "directive", 2, 1, "expected `.shared BYTES`"),
]


@pytest.mark.parametrize(
    "source, kind, line, column, phrase",
    [case[1:] for case in SOURCE_ERRORS],
    ids=[case[0] for case in SOURCE_ERRORS],
)
def test_source_error(source, kind, line, column, phrase):
    with pytest.raises(AssemblyError) as info:
        otc_emu.assemble(source, "case.sass")
    e = info.value
    assert (e.kind, e.line, e.column) == (kind, line, column), e.message
    assert phrase in e.message
    assert e.source_name == "case.sass"
    location = "case.sass" + (f":{line}" if line else "") + (f":{column}" if line and column else "")
    assert str(e) == f"{location}: {e.message}"


def test_every_kind_is_covered():
    kinds = {case[2] for case in SOURCE_ERRORS} | {"listing", "binary-format", "other"}
    assert kinds == {
        "syntax", "unknown-mnemonic", "bad-modifier", "operand-count", "operand-kind",
        "out-of-range", "bad-register-group", "label", "bad-target", "directive", "listing",
        "binary-format", "other",
    }


# ----------------------------------------------------------------------------------- listings

VECADD = (FIXTURES / "vecadd.sass").read_text()
SECOND_WORD = " " * 81 + "/* 0x000fc40000000f00 */\n"  # the control word of instruction 0x0000

LISTING_ERRORS = [
    ("wrong-address", VECADD.replace("/*0040*/", "/*0048*/", 1), 13, 9, "instruction address 0x0048, expected 0x0040"),
    ("skipped-address", VECADD.replace("/*0040*/", "/*0050*/", 1), 13, 9, "expected 0x0040"),
    ("missing-control-word", VECADD.replace(SECOND_WORD, "", 1), 6, 9, "without its second encoding line"),
    ("stray-line", VECADD.replace("        /*0020*/ ", "        garbage /*0020*/ ", 1), 9, 9, "unexpected line in a cuobjdump listing"),
    ("bad-syntax-in-listing", VECADD.replace("IMAD R4, R4, c[0x0][0x0], R3 ;", "IMAD R4, [R4, c[0x0][0x0] ;", 1), 13, 62, "unbalanced `[`"),
    ("instruction-before-function", "code for sm_70\n /*0000*/ EXIT ;\n", 2, 2, "before any `Function :` line"),
]


@pytest.mark.parametrize(
    "text, line, column, phrase",
    [case[1:] for case in LISTING_ERRORS],
    ids=[case[0] for case in LISTING_ERRORS],
)
def test_listing_error(text, line, column, phrase):
    assert text != VECADD or line == 0  # the corruption happened
    with pytest.raises(AssemblyError) as info:
        otc_emu.assemble(text, "vecadd.sass")
    e = info.value
    assert (e.kind, e.line, e.column) == ("listing", line, column), e.message
    assert phrase in e.message
    assert str(e).startswith(f"vecadd.sass:{line}:{column}: ")


def test_listing_reports_operand_errors_with_their_own_kind():
    text = VECADD.replace("IMAD R4, R4, c[0x0][0x0], R3 ;", "IMAD R4, R4, c[0x0][0x0] ;", 1)
    with pytest.raises(AssemblyError) as info:
        otc_emu.assemble(text, "vecadd.sass")
    assert (info.value.kind, info.value.line) == ("operand-count", 13)


# ------------------------------------------------------------------------------ binary format

def _valid() -> bytes:
    return otc_emu.assemble(".kernel k\n.param ptr x\nMOV R1, 0x1 ;\nEXIT ;").to_bytes()


VALID = _valid()
BODY = VALID[:-8]

BINARY_ERRORS = [
    ("empty", b"", "bad magic"),
    ("garbage", b"\x89PNG\r\n\x1a\n" + bytes(64), "bad magic"),
    ("magic-only", b"OTCPROG\0", "truncated program: 8 bytes"),
    ("truncated-by-1", VALID[:-1], "checksum mismatch"),
    ("truncated-half", VALID[: len(VALID) // 2], "checksum mismatch"),
    ("truncated-with-checksum", with_checksum(BODY[:-4]), "truncated program"),
    ("checksum-zeroed", BODY + bytes(8), "checksum mismatch"),
    ("bit-flip", BODY[:30] + bytes([BODY[30] ^ 0x10]) + BODY[31:] + VALID[-8:], "checksum mismatch"),
    ("wrong-version", VALID[:8] + struct.pack("<I", 99) + VALID[12:], "program format version 99"),
    ("trailing-bytes", with_checksum(BODY + b"\0\0\0\0"), "unexpected bytes after the last kernel"),
    ("kernel-count-huge", with_checksum(BODY[:12] + struct.pack("<I", 0xFFFFFFF) + BODY[16:]), "do not fit"),
]


@pytest.mark.parametrize(
    "data, phrase", [case[1:] for case in BINARY_ERRORS], ids=[case[0] for case in BINARY_ERRORS]
)
def test_binary_format_error(data, phrase):
    with pytest.raises(AssemblyError) as info:
        Program.from_bytes(data, "prog.otc")
    e = info.value
    assert (e.kind, e.line, e.column) == ("binary-format", 0, 0)
    assert phrase in e.message
    assert str(e) == f"prog.otc: {e.message}"


def test_binary_file_errors_through_load(tmp_path):
    path = tmp_path / "cut.otc"
    path.write_bytes(VALID[:-3])
    with pytest.raises(AssemblyError) as info:
        otc_emu.load(path)
    assert info.value.kind == "binary-format"
    assert str(info.value).startswith(f"{path}: checksum mismatch")


# ------------------------------------------------------------------------------------- other

def test_too_many_instructions_is_other():
    limit = 1 << 20
    with pytest.raises(AssemblyError) as info:
        otc_emu.assemble("EXIT ;\n" * (limit + 1), "huge.sass")
    e = info.value
    assert (e.kind, e.line, e.column) == ("other", limit + 1, 1)
    assert f"more than {limit} instructions" in e.message


def test_assembly_error_is_an_otc_error():
    with pytest.raises(OtcError):
        otc_emu.assemble("IMDA ;")
    assert issubclass(AssemblyError, OtcError) and issubclass(OtcError, Exception)
