"""Loading an nvcc .cubin directly (issue 17): the code is decoded from its sm_70 instruction words
(crates/otc-asm/src/sm70.rs, isa/sm70/encoding.toml), with no cuobjdump step. For one kernel of
each -O3 corpus listing, the program from the cubin passes the same NumPy reference as the program
from the listing; crates/otc-asm/tests/sm70_decode.rs checks every word instruction by instruction."""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import otc_emu
from otc_emu import cli

from conftest import ROOT

CUBIN = ROOT / "tests" / "fixtures" / "cubin"


def _corpus():
    if "test_corpus" not in sys.modules:
        spec = importlib.util.spec_from_file_location("test_corpus", ROOT / "tests" / "python" / "test_corpus.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["test_corpus"] = mod  # dataclasses look their module up
        spec.loader.exec_module(mod)
    return sys.modules["test_corpus"]


def _representative_cases():
    """The first passing case of each -O3 listing that has a cubin."""
    seen, out = set(), []
    for case in _corpus().CASES:
        if "." in case.listing or case.marks or case.listing in seen or not (CUBIN / f"{case.listing}.cubin").exists():
            continue
        seen.add(case.listing)
        out.append(case)
    return out


CASES = _representative_cases()


def test_the_corpus_cubins_are_committed():
    assert len(CASES) >= 10, [c.id for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_kernel_from_the_cubin_matches_numpy(case):
    path = CUBIN / f"{case.listing}.cubin"
    prog = otc_emu.load_cubin(path)
    listing = _corpus().program(case.listing)
    assert list(prog.kernels) == list(listing.kernels) or set(prog.kernels) == set(listing.kernels)
    for name, k in listing.kernels.items():
        got, want = prog.kernels[name].instructions(), k.instructions()
        assert len(got) == len(want), name
        # a NaN immediate keeps the payload of its word (0ffff00000); the listing's -QNAN does not give it
        diff = [(a, b) for a, b in zip(got, want) if a != b and not ("QNAN" in b and " 0f" in a)]
        assert not diff, (name, diff[:5])
    case.body(otc_emu.Device(timing=False), prog, case.kernel)


def test_from_bytes_path_and_one_kernel():
    data = (CUBIN / "vecadd.cubin").read_bytes()
    whole = otc_emu.Program.from_cubin(data)
    assert set(whole.kernels) == {"vadd_f32", "vadd_i32", "vadd_gridstride", "saxpy"}
    one = otc_emu.load_cubin(str(CUBIN / "vecadd.cubin"), kernel="saxpy")
    assert list(one.kernels) == ["saxpy"]
    assert one.kernels["saxpy"].instructions() == whole.kernels["saxpy"].instructions()
    # load() takes a cubin by its content, like the binary format and source text
    assert otc_emu.load(CUBIN / "vecadd.cubin").kernels["saxpy"].instructions() == whole.kernels["saxpy"].instructions()


def test_constants_and_globals_come_with_the_cubin():
    prog = otc_emu.load_cubin(CUBIN / "numeric.cubin", kernel="f64_axpy_lit")
    assert prog.kernels["f64_axpy_lit"].constants == {2: np.array([0.3, -1e-7]).tobytes()}
    assert otc_emu.load_cubin(CUBIN / "globals.cubin").globals


@pytest.mark.parametrize("corrupt, phrase", [
    (lambda d, at: d[:at] + b"\xff\x0f" + d[at + 2:], "nearest known opcode"),  # an opcode no listing has
    (lambda d, at: d[:at + 10] + bytes([d[at + 10] ^ 0x01]) + d[at + 11:], "is MOV, but not"),  # a stray bit
])
def test_undecodable_words_are_typed_errors(corrupt, phrase):
    data = (CUBIN / "vecadd.cubin").read_bytes()
    at = data.find(bytes.fromhex("027a0100000a0000"))  # MOV R1, c[0x0][0x28], the first word of each kernel
    assert at > 0
    with pytest.raises(otc_emu.AssemblyError) as e:
        otc_emu.load_cubin(corrupt(data, at))
    assert e.value.kind == "cubin"
    assert phrase in str(e.value) and "kernel " in str(e.value) and "0x" in str(e.value)


def test_bad_arguments():
    with pytest.raises(otc_emu.AssemblyError, match="no kernel nope"):
        otc_emu.load_cubin(CUBIN / "vecadd.cubin", kernel="nope")
    with pytest.raises(FileNotFoundError):  # as load() does
        otc_emu.load_cubin(ROOT / "tests" / "fixtures" / "cubin" / "missing.cubin")
    with pytest.raises(TypeError):
        otc_emu.load_cubin(12)


def test_cli_runs_a_cubin(tmp_path):
    x = np.arange(64, dtype=np.float32)
    y = np.ones(64, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    argv = ["run", str(CUBIN / "vecadd.cubin"), "--kernel", "saxpy", "--grid", "1", "--block", "64",
            "--arg", "i32:64", "--arg", "f32:2", "--arg", str(tmp_path / "x.npy"), "--arg", str(tmp_path / "y.npy"),
            "--out", str(tmp_path / "out"), "--no-timing"]
    assert cli.main(argv) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "arg3.npy"), 2 * x + y)


def test_the_encoding_table_is_up_to_date():
    """isa/sm70/encoding.toml is what isa/sm70_learn.py learns from the committed listings."""
    import subprocess

    r = subprocess.run([sys.executable, str(ROOT / "isa" / "sm70_learn.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import re

    m = re.search(r"(\d+) of (\d+) instructions decode back to their text", r.stderr)
    assert m and m.group(1) == m.group(2), r.stderr  # every word of every listing


def _code_sections(data: bytes) -> dict[str, tuple[int, int]]:
    """{function: (file offset, size)} of the .text.* sections of an ELF64 cubin."""
    import struct

    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]
    out = {}
    for name_at, _, _, _, offset, size in headers:
        name = data[strtab + name_at:data.index(b"\0", strtab + name_at)].decode()
        if name.startswith(".text."):
            out[name[len(".text."):]] = (offset, size)
    return out


def test_cli_runs_one_kernel_of_a_cubin_whose_other_kernels_do_not_decode(tmp_path):
    data = bytearray((CUBIN / "vecadd.cubin").read_bytes())
    sections = _code_sections(bytes(data))
    assert set(sections) == {"vadd_f32", "vadd_i32", "vadd_gridstride", "saxpy"}
    offset, _ = sections["vadd_f32"]
    data[offset + 10] ^= 0x01  # a stray bit in vadd_f32's first word
    path = tmp_path / "broken.cubin"
    path.write_bytes(bytes(data))
    with pytest.raises(otc_emu.AssemblyError, match="kernel vadd_f32, offset 0x0000"):
        otc_emu.load(path)
    x = np.arange(32, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x)
    argv = ["run", str(path), "--kernel", "saxpy", "--arg", "i32:32", "--arg", "f32:3", "--arg",
            str(tmp_path / "x.npy"), "--arg", str(tmp_path / "y.npy"), "--out", str(tmp_path / "out"), "--no-timing"]
    assert cli.main(argv) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "arg3.npy"), 4 * x)
    assert cli.main([*argv[:3], "vadd_f32", *argv[4:]]) != 0  # the broken kernel is still an error
