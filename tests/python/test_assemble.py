"""Every example program and every nvcc listing assembles, with the right kernel metadata."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import otc_emu
from conftest import LISTING_FILES, PROGRAM_FILES, ids, listing_with_usage

# kernel -> (instructions, num_regs inferred from the code, [(type, name, offset)])
PROGRAMS = {
    "saxpy": (13, 8, [("u32", "n", 0x160), ("f32", "a", 0x164), ("ptr", "x", 0x168), ("ptr", "y", 0x170)]),
    "vecadd_int": (19, 10, [("ptr", "a", 0x160), ("ptr", "b", 0x168), ("ptr", "c", 0x170), ("u32", "n", 0x178)]),
    "ohmma_tile": (21, 17, [("ptr", "a", 0x160), ("ptr", "b", 0x168), ("ptr", "c", 0x170), ("ptr", "d", 0x178)]),
}


def test_the_documented_programs_exist():
    assert set(PROGRAMS) <= {p.stem for p in PROGRAM_FILES}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_assembles_with_declared_metadata(name: str):
    path = next(p for p in PROGRAM_FILES if p.stem == name)
    prog = otc_emu.assemble(path.read_text(), path.name)
    (kernel,) = prog.kernels.values()
    count, regs, params = PROGRAMS[name]
    assert kernel.name == name
    assert len(kernel) == count == len(kernel.instructions())
    assert kernel.num_regs == regs and not kernel.regs_declared
    assert [(p.type, p.name, p.offset) for p in kernel.params] == params
    assert [p.size for p in kernel.params] == [8 if t == "ptr" else 4 for t, _, _ in params]
    assert (kernel.shared_bytes, kernel.local_bytes) == (0, 0)
    assert kernel.instructions()[-1] == "EXIT"


@pytest.mark.parametrize("path", PROGRAM_FILES, ids=ids(PROGRAM_FILES))
def test_every_program_assembles_and_declares_its_parameters(path: Path):
    """Every example (also those added later) is own-dialect source with declared parameters."""
    prog = otc_emu.load(path)
    assert prog.kernels
    for kernel in prog.kernels.values():
        assert kernel.params is not None
        end = 0x160
        for p in kernel.params:
            assert p.offset >= end and p.offset % p.size == 0  # in order, naturally aligned
            end = p.offset + p.size
        assert kernel.shared_bytes is not None and kernel.local_bytes is not None
        assert any(i.endswith("EXIT") for i in kernel.instructions())


def _listing_sections(text: str) -> dict[str, int]:
    """Kernel name -> number of instructions, read straight from the listing text."""
    sections: dict[str, int] = {}
    name = None
    for line in text.splitlines():
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            name = m.group(1)
            sections[name] = 0
        elif re.match(r"\s*/\*[0-9a-f]{4,}\*/", line):
            sections[name] += 1
    return sections


def _res_usage(path: Path) -> dict[str, tuple[int, int]]:
    """Kernel name -> (REG, SHARED) from the -res-usage file."""
    out = {}
    name = None
    for line in path.with_name(path.name.replace(".sass", ".res-usage.txt")).read_text().splitlines():
        m = re.match(r"\s*Function (\S+):", line)
        if m:
            name = m.group(1)
        m = re.search(r"REG:(\d+).*SHARED:(\d+)", line)
        if m:
            out[name] = (int(m.group(1)), int(m.group(2)))
    return out


def test_there_are_listings():
    assert len(LISTING_FILES) >= 10


@pytest.mark.parametrize("path", LISTING_FILES, ids=ids(LISTING_FILES))
def test_listing_assembles(path: Path):
    text = path.read_text()
    prog = otc_emu.assemble(text, path.name)
    sections = _listing_sections(text)
    assert list(prog.kernels) == list(sections)  # source order kept
    for name, kernel in prog.kernels.items():
        assert len(kernel) == sections[name]
        assert kernel.params is None  # listings do not declare parameters
        assert kernel.shared_bytes is None and kernel.local_bytes is None
        assert not kernel.regs_declared
        assert 1 <= kernel.num_regs <= 255


@pytest.mark.parametrize("path", LISTING_FILES, ids=ids(LISTING_FILES))
def test_listing_with_res_usage_declares_registers_and_shared(path: Path):
    prog = otc_emu.assemble(listing_with_usage(path), path.name)
    usage = _res_usage(path)
    assert set(prog.kernels) == set(usage)
    for name, kernel in prog.kernels.items():
        reg, shared = usage[name]
        assert kernel.regs_declared and kernel.num_regs == reg
        assert kernel.shared_bytes == shared


def test_listing_instruction_text_is_nvcc_text():
    """The canonical text of a listing instruction is what cuobjdump printed (normalised blanks)."""
    path = next(p for p in LISTING_FILES if p.name == "vecadd.sass")
    text = path.read_text()
    expected = []
    for line in text.split("Function : vadd_gridstride")[0].splitlines():
        m = re.match(r"\s*/\*[0-9a-f]{4}\*/\s*(.*?)\s*;", line)
        if m:
            expected.append(" ".join(m.group(1).split()))
    got = otc_emu.assemble(text).kernels["saxpy"].instructions()
    assert got == expected
    assert "FFMA R7, R2, c[0x0][0x164], R7" in got


def test_dialect_without_kernel_directive_is_kernel_main():
    prog = otc_emu.assemble("MOV R1, 0x1 ;\nEXIT ;")
    assert list(prog.kernels) == ["main"]
    assert prog.kernels["main"].instructions() == ["MOV R1, 0x1", "EXIT"]


@pytest.mark.parametrize(
    "source, regs, declared",
    [
        (".kernel k\nEXIT ;", 1, False),  # no register used: at least 1
        (".kernel k\nMOV R9, RZ ;\nEXIT ;", 10, False),
        (".kernel k\nIMAD.WIDE R4, R0, R2, c[0x0][0x160] ;\nEXIT ;", 6, False),  # R4:R5 pair
        (".kernel k\nLDG.E.128.SYS R8, [R2] ;\nEXIT ;", 12, False),  # R8..R11
        (".kernel k\n.regs 32\nMOV R9, RZ ;\nEXIT ;", 32, True),
    ],
)
def test_num_regs_inferred_or_declared(source, regs, declared):
    kernel = otc_emu.assemble(source).kernels["k"]
    assert (kernel.num_regs, kernel.regs_declared) == (regs, declared)


@pytest.mark.parametrize(
    "directives, shared, local, params",
    [
        ("", 0, 0, []),
        (".shared 1024\n.local 64", 1024, 64, []),
        (".shared unknown\n.local unknown", None, None, []),
        (".params unknown", 0, 0, None),
        # natural alignment: u8 at 0x160, u16 at 0x162, f64 at 0x168, s8 at 0x170, ptr at 0x178
        (".param u8 a\n.param u16 b\n.param f64 c\n.param s8 d\n.param ptr e", 0, 0,
         [("a", 0x160), ("b", 0x162), ("c", 0x168), ("d", 0x170), ("e", 0x178)]),
    ],
)
def test_directives(directives, shared, local, params):
    kernel = otc_emu.assemble(f".kernel k\n{directives}\nEXIT ;\n.end").kernels["k"]
    assert kernel.shared_bytes == shared
    assert kernel.local_bytes == local
    got = None if kernel.params is None else [(p.name, p.offset) for p in kernel.params]
    assert got == params


def test_two_kernels_in_one_file():
    prog = otc_emu.assemble(".kernel first\nEXIT ;\n.end\n.kernel second\nNOP ;\nEXIT ;\n.end\n")
    assert list(prog.kernels) == ["first", "second"]
    assert [len(k) for k in prog.kernels.values()] == [1, 2]


def test_control_codes_are_kept_in_disassembly_but_not_in_instructions():
    prog = otc_emu.assemble("[B------:R-:W0:Y:S04] S2R R0, SR_TID.X ;\n[B0-----:R-:W-:Y:S05] EXIT ;")
    kernel = prog.kernels["main"]
    assert kernel.instructions() == ["S2R R0, SR_TID.X", "EXIT"]
    assert "[B------:R-:W0:Y:S04] S2R R0, SR_TID.X ;" in kernel.disassemble()
    assert "[B0-----:R-:W-:Y:S05] EXIT ;" in kernel.disassemble()


def test_labels_resolve_to_byte_offsets():
    prog = otc_emu.assemble("top:\n  NOP ;\nmid: NOP ;\n  @P0 BRA mid ;\n  BRA top ;\n  EXIT ;")
    assert prog.kernels["main"].instructions()[2:4] == ["@P0 BRA 0x10", "BRA 0x0"]
