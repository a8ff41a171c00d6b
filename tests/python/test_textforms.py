"""Every text form the CUDA 11.8 toolchain prints for the same code assembles to the same
program: cuobjdump -sass of a cubin (the fixtures), of an object file (a fatbinary), of a
fatbinary with code for two architectures, and nvdisasm with and without -c / -hex
(tests/fixtures/forms/, written by tests/fixtures/regen.sh)."""
import re
from pathlib import Path

import numpy as np
import pytest

import otc_emu

ROOT = Path(__file__).resolve().parents[2]
SASS = ROOT / "tests" / "fixtures" / "sass"
FORMS = ROOT / "tests" / "fixtures" / "forms"


def assemble(path: Path) -> otc_emu.Program:
    return otc_emu.assemble(path.read_text(), path.name)


def code(prog: otc_emu.Program) -> dict[str, list[str]]:
    return {name: k.instructions() for name, k in prog.kernels.items()}


def control_codes(prog: otc_emu.Program) -> list[str]:
    return [line.split("]")[0] for line in prog.disassemble().splitlines() if line.lstrip().startswith("[")]


@pytest.mark.parametrize(
    "form, reference, has_control",
    [
        ("vecadd.fatbin.sass", "vecadd", True),
        ("templates.multiarch.sass", "templates", True),
        ("vecadd.nvdisasm.sass", "vecadd", False),
        ("vecadd.nvdisasm-c.sass", "vecadd", False),
        ("vecadd.nvdisasm-c-hex.sass", "vecadd", True),
    ],
)
def test_every_text_form_gives_the_code_of_the_cubin_listing(form, reference, has_control):
    got, want = assemble(FORMS / form), assemble(SASS / f"{reference}.sass")
    assert code(got) == code(want)
    if has_control:
        assert control_codes(got) == control_codes(want)
    else:
        assert control_codes(got) == []


def test_nvdisasm_register_counts_and_a_launch():
    prog = assemble(FORMS / "vecadd.nvdisasm-c.sass")
    usage = (SASS / "vecadd.res-usage.txt").read_text()
    for name, k in prog.kernels.items():
        assert re.search(rf"Function {name}:\s+REG:{k.num_regs} ", usage), name
    dev = otc_emu.Device(timing=False)
    a, b = np.arange(100, dtype=np.float32), np.ones(100, np.float32)
    c = dev.zeros(100, np.float32)
    dev.launch(prog, "vadd_f32", 1, 128, [dev.to_device(a), dev.to_device(b), c, np.int32(100)])
    np.testing.assert_array_equal(c.numpy(), a + b)


def test_a_listing_without_sm70_code_names_the_architectures():
    text = (FORMS / "templates.multiarch.sass").read_text()
    only75 = text[text.rindex("Fatbin elf code:", 0, text.index("arch = sm_75")):]
    with pytest.raises(otc_emu.AssemblyError, match=r"code for sm_75 only"):
        otc_emu.assemble(only75, "only75.sass")


def test_nvdisasm_label_outside_the_section_is_an_error():
    text = (FORMS / "vecadd.nvdisasm-c.sass").read_text().replace("`(.L_x_0)", "`(.L_x_99)", 1)
    with pytest.raises(otc_emu.AssemblyError, match=r"label `\.L_x_99` is not defined"):
        otc_emu.assemble(text, "bad.sass")


@pytest.mark.parametrize(
    "name, mangled",
    [
        ("_Z9scale_addIfEvPKT_PS0_S0_i", "_Z9scale_addIfEvPKT_PS0_S0_i"),
        ("scale_add<float>", "_Z9scale_addIfEvPKT_PS0_S0_i"),
        ("scale_add<int>(int const*, int*, int, int)", "_Z9scale_addIiEvPKT_PS0_S0_i"),
        ("scale_add<double>(double const*,double*,double,int)", "_Z9scale_addIdEvPKT_PS0_S0_i"),
        ("overloaded(float*, float)", "_Z10overloadedPff"),
        ("fx::in_namespace", "_ZN2fx12in_namespaceEPi"),
    ],
)
def test_kernels_by_mangled_or_demangled_name(name, mangled):
    prog = assemble(SASS / "templates.sass")
    assert otc_emu.find_kernel(prog, name) == mangled


@pytest.mark.parametrize("name, phrase", [("overloaded", "names 2 kernels"), ("scale_add<long>", "has no kernel")])
def test_ambiguous_or_unknown_demangled_names(name, phrase):
    with pytest.raises(otc_emu.LaunchError, match=phrase):
        otc_emu.find_kernel(assemble(SASS / "templates.sass"), name)


def test_launch_by_demangled_name():
    prog = assemble(SASS / "templates.sass")
    dev = otc_emu.Device(timing=False)
    x = np.arange(64, dtype=np.float32)
    y = dev.zeros(64, np.float32)
    dev.launch(prog, "scale_add<float>", 1, 64, [dev.to_device(x), y, np.float32(2), np.int32(64)])
    np.testing.assert_array_equal(y.numpy(), x * np.float32(2) + np.arange(64, dtype=np.float32))
    assert prog.kernels["_Z10overloadedPii"].demangled == "overloaded(int*, int)"
    assert prog.kernels["_Z9scale_addIfEvPKT_PS0_S0_i"].demangled == "scale_add<float>(float const*, float*, float, int)"
