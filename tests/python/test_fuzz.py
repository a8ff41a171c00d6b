"""Fuzzing: whatever the input, `assemble` and `Program.from_bytes` return a program or raise
AssemblyError (never another exception, never an internal error), and what they return round trips.

Failing inputs found here belong in tests/fuzz_corpus/{asm,bin}/, which test_corpus_replay runs.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import otc_emu
from otc_emu import AssemblyError, Program
from conftest import CORPUS, FUZZ, LISTING_FILES, PROGRAM_FILES, listing_with_usage, with_checksum

KINDS = {
    "syntax", "unknown-mnemonic", "bad-modifier", "operand-count", "operand-kind", "out-of-range",
    "bad-register-group", "label", "bad-target", "directive", "listing", "binary-format", "cubin", "other",
}


def check_error(e: AssemblyError, source_name: str, text: str | None = None) -> None:
    assert type(e) is AssemblyError
    assert e.kind in KINDS
    assert e.source_name == source_name
    assert str(e).startswith(source_name)
    assert "internal error" not in str(e)
    assert e.line >= 0 and e.column >= 0
    if text is not None:
        assert e.line <= text.count("\n") + 1
        if e.line:
            line = text.split("\n")[e.line - 1]
            assert e.column <= len(line) + 1, (e.column, line)


def check_assembles_or_errors(text: str) -> None:
    """The property: a program that round trips (binary and text), or a well-formed error."""
    try:
        prog = otc_emu.assemble(text, "fuzz.sass")
    except AssemblyError as e:
        check_error(e, "fuzz.sass", text)
        return
    assert Program.from_bytes(prog.to_bytes()) == prog
    dis = prog.disassemble()
    assert otc_emu.assemble(dis, "disassembly").disassemble() == dis


def check_loads_or_errors(data: bytes) -> None:
    try:
        prog = Program.from_bytes(data, "fuzz.otc")
    except AssemblyError as e:
        check_error(e, "fuzz.otc")
        assert (e.kind, e.line, e.column) == ("binary-format", 0, 0)
        return
    # whatever loads is a program that serializes and loads back to itself, and prints
    assert Program.from_bytes(prog.to_bytes()) == prog
    assert prog.disassemble().startswith("// otc-emu disassembly")


def _word_at(data: bytes, word: bytes) -> int:
    assert data.count(word) == 1
    return data.index(word)


def test_binary_names_must_be_identifiers():
    good = otc_emu.assemble(".kernel kern\n.param u32 n\nEXIT ;").to_bytes()
    bad = with_checksum(good[:-8].replace(b"kern", b"k\x7frn"))
    try:
        prog = Program.from_bytes(bad)
    except AssemblyError as e:
        assert e.kind == "binary-format"
        return
    assert list(prog.kernels) == ["k\x7frn"]
    pytest.fail("a kernel name that is not an identifier was accepted")


def test_destination_reuse_is_rejected():
    try:
        prog = otc_emu.assemble("MOV R1.reuse, R2 ;")
    except AssemblyError as e:
        assert e.kind == "operand-kind" and e.column == 5
        return
    with pytest.raises(AssemblyError, match="no instruction has opcode 0x000"):
        Program.from_bytes(prog.to_bytes())
    pytest.fail("`.reuse` on a destination assembled into a program that does not load back")


def test_binary_duplicate_parameter_names_are_rejected():
    good = otc_emu.assemble(".kernel k\n.param u32 pa\n.param u32 pb\nEXIT ;").to_bytes()
    bad = with_checksum(good[:-8].replace(b"pb", b"pa"))
    try:
        prog = Program.from_bytes(bad)
    except AssemblyError as e:
        assert e.kind == "binary-format"
        return
    assert [p.name for p in prog.kernels["k"].params] == ["pa", "pa"]
    pytest.fail("a parameter declared twice was accepted")


def _ldg64_word(reg: int) -> bytes:
    data = otc_emu.assemble(f"LDG.E.64.SYS R{reg}, [R2] ;").to_bytes()
    # one kernel `main`: the instruction word is the 16 bytes before the line table and checksum
    return data[-8 - 4 - 16:-8 - 4]


def test_binary_register_groups_are_checked_like_the_assembler_does():
    w4, w6 = (int.from_bytes(_ldg64_word(r), "little") for r in (4, 6))
    diff = w4 ^ w6
    assert diff and diff & (diff - 1) == 0  # R4 -> R6 flips one bit: bit 1 of the register field
    w5 = w4 ^ (diff >> 1)  # bit 0 of the register field
    good = otc_emu.assemble("LDG.E.64.SYS R4, [R2] ;").to_bytes()
    at = _word_at(good, _ldg64_word(4))
    bad = with_checksum(good[:at] + w5.to_bytes(16, "little") + good[at + 16:-8])
    try:
        prog = Program.from_bytes(bad)
    except AssemblyError as e:
        assert e.kind == "binary-format"
        return
    assert prog.kernels["main"].instructions() == ["LDG.E.64.SYS R5, [R2]"]
    pytest.fail("a misaligned register pair was accepted")


# ------------------------------------------------------------------------------ source text

def _instruction_lines() -> list[str]:
    """The instruction text of every listing line (`/*0040*/ ... ;`) and every program line."""
    out = set()
    for path in LISTING_FILES:
        for line in path.read_text().splitlines():
            m = re.match(r"\s*/\*[0-9a-f]{4,}\*/\s*(.*?)\s*(/\*.*)?$", line)
            if m:
                out.add(m.group(1))
    for path in PROGRAM_FILES:
        for line in path.read_text().splitlines():
            body = line.split("//")[0].strip()
            if body and not body.startswith(".") and not body.endswith(":"):
                out.add(body)
    return sorted(out)


LINES = _instruction_lines()
TOKENS = sorted({t for line in LINES for t in re.split(r"([\s,;\[\]{}|])", line) if t})
PIECES = TOKENS + [" ", ",", ";", "[", "]", "{", "}", "|", "-", "~", "!", "@", ".", "+", "0x",
                   "0xffffffff", "R254", "R255", "RZ", "PT", "P7", "c[0x0][", "SR_", "\n", "\t",
                   "/*", "*/", "//", ":", "label", "1e40", "-0.0", "NAN", "+INF", "\0", "é"]

edits = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace", "duplicate"]),
        st.integers(min_value=0, max_value=200),
        st.integers(min_value=0, max_value=20),
        st.sampled_from(PIECES),
    ),
    min_size=1,
    max_size=6,
)


def mutate(line: str, ops) -> str:
    for op, pos, length, piece in ops:
        pos = min(pos, len(line))
        if op == "insert":
            line = line[:pos] + piece + line[pos:]
        elif op == "delete":
            line = line[:pos] + line[pos + length:]
        elif op == "replace":
            line = line[:pos] + piece + line[pos + length:]
        else:
            line = line[:pos] + line[pos:pos + length] * 2 + line[pos + length:]
    return line


def test_there_are_lines_to_mutate():
    assert len(LINES) > 500 and "EXIT ;" in LINES


@FUZZ
@given(st.text())
@example("")
@example("EXIT ;")
@example("\x00")
@example("{" * 1000)
def test_assemble_random_text(text: str):
    check_assembles_or_errors(text)


@FUZZ
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_assemble_random_token_soup(text: str):
    check_assembles_or_errors(text)


@FUZZ
@given(st.sampled_from(LINES), edits)
def test_assemble_mutated_listing_lines(line: str, ops):
    check_assembles_or_errors(mutate(line, ops))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(LINES), edits), min_size=1, max_size=8))
def test_assemble_mutated_dialect_kernel(lines):
    body = "\n".join("    " + mutate(line, ops) for line, ops in lines)
    check_assembles_or_errors(f".kernel fuzz\n.param ptr x\nstart:\n{body}\n    EXIT ;\n.end\n")


LISTING = listing_with_usage(next(p for p in LISTING_FILES if p.name == "vecadd.sass"))
LISTING_LINES = LISTING.split("\n")


@FUZZ
@given(st.integers(min_value=0, max_value=len(LISTING_LINES) - 1), edits)
def test_assemble_listing_with_one_mutated_line(index: int, ops):
    lines = list(LISTING_LINES)
    lines[index] = mutate(lines[index], ops)
    check_assembles_or_errors("\n".join(lines))


# ---------------------------------------------------------------------------------- binary

VALID = otc_emu.assemble(
    (PROGRAM_FILES[0].read_text() + "\n" + ".kernel two\n.regs 8\n.shared 64\nloop: @P0 BRA loop ;\nEXIT ;\n.end\n"),
    "valid.sass",
).to_bytes()


@FUZZ
@given(st.binary(max_size=4096))
@example(b"OTCPROG\0")
@example(b"OTCPROG\0" + bytes(16))
def test_from_bytes_random_bytes(data: bytes):
    check_loads_or_errors(data)


@FUZZ
@given(st.binary(max_size=512))
def test_from_bytes_random_body_after_magic_with_good_checksum(body: bytes):
    check_loads_or_errors(with_checksum(VALID[:12] + body))


def test_from_bytes_every_truncation():
    for n in range(len(VALID)):
        with pytest.raises(AssemblyError) as info:
            Program.from_bytes(VALID[:n])
        assert info.value.kind == "binary-format"


@FUZZ
@given(st.lists(st.integers(min_value=0, max_value=len(VALID) * 8 - 1), min_size=1, max_size=8, unique=True))
def test_from_bytes_bit_flips_are_rejected(bits):
    data = bytearray(VALID)
    for bit in bits:
        data[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(AssemblyError) as info:
        Program.from_bytes(bytes(data))
    assert info.value.kind == "binary-format"


@FUZZ
@given(
    st.lists(st.integers(min_value=12 * 8, max_value=(len(VALID) - 8) * 8 - 1), min_size=1, max_size=8, unique=True)
)
def test_from_bytes_bit_flips_behind_a_repaired_checksum(bits):
    """The checksum is recomputed, so the flips reach the structure and instruction decoding."""
    body = bytearray(VALID[:-8])
    for bit in bits:
        body[bit // 8] ^= 1 << (bit % 8)
    check_loads_or_errors(with_checksum(bytes(body)))


@FUZZ
@given(st.integers(min_value=12, max_value=len(VALID) - 12), st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFE, 0xFFFFFFFF]))
def test_from_bytes_extreme_u32_fields(offset: int, value: int):
    body = bytearray(VALID[:-8])
    body[offset:offset + 4] = struct.pack("<I", value)
    check_loads_or_errors(with_checksum(bytes(body)))


# ----------------------------------------------------------------------------------- corpus

CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*") if p.parent.name in ("asm", "bin") and p.is_file())


def test_corpus_is_seeded():
    assert len([p for p in CORPUS_FILES if p.parent.name == "asm"]) >= 5
    assert len([p for p in CORPUS_FILES if p.parent.name == "bin"]) >= 5


def _corpus_param(path: Path):
    # `KNOWN-BUG_*` files reproduce open bugs in the Rust crates: expected to fail until fixed
    marks = [pytest.mark.xfail(strict=True, reason="open bug, see the file")] if path.name.startswith("KNOWN-BUG_") else []
    return pytest.param(path, id=f"{path.parent.name}/{path.name}", marks=marks)


@pytest.mark.parametrize("path", [_corpus_param(p) for p in CORPUS_FILES])
def test_corpus_replay(path: Path):
    data = path.read_bytes()
    if path.parent.name == "bin":
        check_loads_or_errors(data)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(AssemblyError) as info:
            otc_emu.load(path)
        check_error(info.value, str(path))
        return
    check_assembles_or_errors(text)
