"""Program and Kernel objects: binary round trips, disassembly round trips, the kernels mapping."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import otc_emu
from otc_emu import AssemblyError, Program
from conftest import LISTING_FILES, PROGRAM_FILES, ids, listing_with_usage

SOURCES = PROGRAM_FILES + LISTING_FILES


def _source(path: Path) -> str:
    return listing_with_usage(path) if path.parent.name == "sass" else path.read_text()


def _metadata(k):
    params = None if k.params is None else [(p.name, p.type, p.offset) for p in k.params]
    return (k.name, params, k.num_regs, k.regs_declared, k.shared_bytes, k.local_bytes)


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_binary_round_trip(path: Path):
    prog = otc_emu.assemble(_source(path), path.name)
    data = prog.to_bytes()
    assert data[:8] == b"OTCPROG\0"
    back = Program.from_bytes(data, "round-trip.otc")
    assert back == prog
    assert back.to_bytes() == data
    assert Program.from_bytes(bytearray(data)) == prog  # bytearray accepted too
    for a, b in zip(prog.kernels.values(), back.kernels.values()):
        assert a.instructions() == b.instructions()
        assert a.source_lines() == b.source_lines()
        assert _metadata(a) == _metadata(b)


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_save_and_load(path: Path, tmp_path: Path):
    prog = otc_emu.assemble(_source(path), path.name)
    out = tmp_path / "prog.otc"
    prog.save(out)  # os.PathLike
    assert out.read_bytes() == prog.to_bytes()
    assert otc_emu.load(out) == prog
    assert otc_emu.load(str(out)) == prog  # str path
    # text files load through the assembler, decided by content, not by the file name
    text_file = tmp_path / "prog.otc.txt"
    text_file.write_text(_source(path))
    assert otc_emu.load(text_file).to_bytes() == prog.to_bytes()


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_disassembly_reassembles_to_the_same_code(path: Path):
    prog = otc_emu.assemble(_source(path), path.name)
    text = prog.disassemble()
    again = otc_emu.assemble(text, "disassembly")
    assert list(again.kernels) == list(prog.kernels)
    for a, b in zip(prog.kernels.values(), again.kernels.values()):
        assert a.instructions() == b.instructions()
        assert _metadata(a) == _metadata(b)
        assert a.disassemble() == b.disassemble()  # control codes included
    # the canonical text is a fixed point; only the source line numbers may differ, so the binary
    # has the same layout
    assert again.disassemble() == text
    assert len(again.to_bytes()) == len(prog.to_bytes())


def test_source_lines_point_at_the_instructions(saxpy_text: str):
    kernel = otc_emu.assemble(saxpy_text, "saxpy.sass").kernels["saxpy"]
    lines = saxpy_text.splitlines()
    for inst, line in zip(kernel.instructions(), kernel.source_lines()):
        opcode = inst.split()[1] if inst.startswith("@") else inst.split()[0]
        assert opcode in lines[line - 1], (inst, line)


def test_kernel_disassembly_is_part_of_program_disassembly():
    prog = otc_emu.load(PROGRAM_FILES[0])
    for k in prog.kernels.values():
        assert k.disassemble() in prog.disassemble()
        assert k.disassemble().startswith(f".kernel {k.name}\n")


def test_kernels_mapping_is_read_only_and_ordered():
    prog = otc_emu.assemble(".kernel b\nEXIT ;\n.end\n.kernel a\nEXIT ;\n.end\n")
    kernels = prog.kernels
    assert list(kernels) == ["b", "a"]
    assert len(kernels) == 2 and "a" in kernels and "zz" not in kernels
    with pytest.raises(TypeError):
        kernels["c"] = kernels["a"]  # type: ignore[index]
    with pytest.raises(KeyError):
        kernels["zz"]
    assert prog.kernels["a"] is prog.kernels["a"]  # one Kernel object per kernel


def test_kernel_outlives_its_program():
    kernel = otc_emu.assemble(".kernel k\nNOP ;\nEXIT ;").kernels["k"]
    gc.collect()
    assert kernel.instructions() == ["NOP", "EXIT"]


def test_objects_are_immutable():
    prog = otc_emu.assemble(".kernel k\n.param u32 n\nEXIT ;")
    kernel = prog.kernels["k"]
    param = kernel.params[0]
    for obj, attr, value in [(prog, "kernels", {}), (kernel, "name", "x"), (param, "offset", 0)]:
        with pytest.raises(AttributeError):
            setattr(obj, attr, value)


def test_equality():
    a = otc_emu.assemble("MOV R1, 0x1 ;\nEXIT ;")
    b = otc_emu.assemble("MOV R1, 0x1 ;\nEXIT ;", "other name")
    c = otc_emu.assemble("MOV R1, 0x2 ;\nEXIT ;")
    d = otc_emu.assemble("\nMOV R1, 0x1 ;\nEXIT ;")  # same code, other source lines
    assert a == b
    assert a != c
    assert a != d and a.kernels["main"].instructions() == d.kernels["main"].instructions()
    assert a != "MOV R1, 0x1 ;"
    q = otc_emu.assemble(".kernel k\n.param ptr x\n.param u32 n\nEXIT ;").kernels["k"].params
    r = otc_emu.assemble(".kernel j\n.param ptr x\n.param u32 n\nEXIT ;").kernels["j"].params
    assert q == r and hash(q[0]) == hash(r[0]) and q[0] != q[1]


def test_reprs():
    prog = otc_emu.load(PROGRAM_FILES[[p.name for p in PROGRAM_FILES].index("saxpy.sass")])
    assert repr(prog) == "<Program kernels=['saxpy'] instructions=13>"
    kernel = prog.kernels["saxpy"]
    assert repr(kernel) == "<Kernel 'saxpy' instructions=13 num_regs=8 params=[u32 n, f32 a, ptr x, ptr y]>"
    assert repr(kernel.params[2]) == "Param(name='x', type='ptr', offset=0x168)"


def test_from_bytes_names_the_source_in_errors():
    with pytest.raises(AssemblyError) as info:
        Program.from_bytes(b"not a program", "weights.otc")
    assert str(info.value).startswith("weights.otc: ")
    with pytest.raises(AssemblyError) as info:
        Program.from_bytes(b"not a program")
    assert str(info.value).startswith("<bytes>: ")


def test_load_names_the_path_in_errors(tmp_path: Path):
    bad = tmp_path / "bad.sass"
    bad.write_text(".kernel k\n  NOP ;\n  IMDA R1, R2, R3, R4 ;\n")
    with pytest.raises(AssemblyError) as info:
        otc_emu.load(bad)
    assert info.value.source_name == str(bad)
    assert str(info.value).startswith(f"{bad}:3:3: unknown instruction `IMDA`")


def test_load_missing_file_is_oserror(tmp_path: Path):
    missing = tmp_path / "missing.sass"
    with pytest.raises(FileNotFoundError) as info:
        otc_emu.load(missing)
    assert info.value.filename == str(missing)


def test_save_to_a_directory_is_oserror(tmp_path: Path):
    prog = otc_emu.assemble("EXIT ;")
    with pytest.raises(IsADirectoryError):
        prog.save(tmp_path)
