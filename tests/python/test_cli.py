"""The `otc-emu` command line, run as `python -m otc_emu` in a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import otc_emu
from conftest import FIXTURES, PROGRAM_FILES, ids


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "otc_emu", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.mark.parametrize("path", PROGRAM_FILES + [FIXTURES / "vecadd.sass"], ids=ids(PROGRAM_FILES) + ["vecadd-listing"])
def test_asm_then_disasm_round_trip(path: Path, tmp_path: Path):
    out = tmp_path / "prog.otc"
    run = cli("asm", path, "-o", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "" and run.stderr == ""
    prog = otc_emu.load(path)
    assert out.read_bytes() == prog.to_bytes()
    # disasm of the binary prints the canonical text ...
    run = cli("disasm", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout == prog.disassemble()
    # ... which assembles back to the same code
    text = tmp_path / "prog.sass"
    text.write_text(run.stdout)
    again = tmp_path / "again.otc"
    assert cli("asm", text, "-o", again).returncode == 0
    back = otc_emu.load(again)
    for a, b in zip(prog.kernels.values(), back.kernels.values()):
        assert a.instructions() == b.instructions()


def test_disasm_text_input_and_output_file(tmp_path: Path):
    src = PROGRAM_FILES[0]
    out = tmp_path / "out.sass"
    run = cli("disasm", src, "-o", out)
    assert run.returncode == 0 and run.stdout == ""
    assert out.read_text() == otc_emu.load(src).disassemble()


BAD_INPUTS = [
    # (id, file content, the error line after "otc-emu: error: ")
    ("unknown-mnemonic", b".kernel k\n  NOP ;\n  IMDA R1, R2, R3, R4 ;\n", "{f}:3:3: unknown instruction `IMDA`; did you mean `IMAD`?"),
    ("bad-register", b"MOV R255, R1 ;\n", "{f}:1:5: register R255 does not exist"),
    ("truncated-binary", otc_emu.assemble("EXIT ;").to_bytes()[:-1], "{f}: checksum mismatch"),
    ("not-utf8", b"\xff\xfe\x00A", "{f}:1:1: not UTF-8 text"),
    ("not-a-mnemonic", b"{{{{\n", "{f}:1:1: expected an instruction mnemonic"),
]


@pytest.mark.parametrize("command", ["asm", "disasm"])
@pytest.mark.parametrize("content, expected", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_exits_1_with_one_line(command: str, content: bytes, expected: str, tmp_path: Path):
    f = tmp_path / "bad.sass"
    f.write_bytes(content)
    out = tmp_path / "out.otc"
    args = ("asm", f, "-o", out) if command == "asm" else ("disasm", f)
    run = cli(*args)
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.endswith("\n")
    assert run.stderr.startswith("otc-emu: error: " + expected.format(f=f))
    assert "Traceback" not in run.stderr
    assert not out.exists()


def test_missing_file_exits_1(tmp_path: Path):
    missing = tmp_path / "nope.sass"
    run = cli("disasm", missing)
    assert run.returncode == 1
    assert run.stderr == f"otc-emu: error: {missing}: No such file or directory\n"


def test_unwritable_output_exits_1(tmp_path: Path):
    run = cli("asm", PROGRAM_FILES[0], "-o", tmp_path)  # a directory
    assert run.returncode == 1
    assert run.stderr.startswith(f"otc-emu: error: {tmp_path}: ") and run.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [[], ["frobnicate"], ["asm"], ["asm", "x.sass"], ["disasm"], ["demo", "--bogus"], ["--bogus"]],
    ids=["nothing", "unknown-command", "asm-no-file", "asm-no-output", "disasm-no-file", "demo-bad-option", "bad-option"],
)
def test_usage_errors_exit_2(args):
    run = cli(*args)
    assert run.returncode == 2
    assert "usage: otc-emu" in run.stderr


@pytest.mark.parametrize("command", [[], ["asm"], ["disasm"], ["demo"]], ids=["main", "asm", "disasm", "demo"])
def test_help(command):
    run = cli(*command, "--help")
    assert run.returncode == 0
    assert run.stdout.startswith(f"usage: otc-emu{(' ' + command[0]) if command else ''} ")
    assert run.stderr == ""


def test_version():
    run = cli("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"otc-emu {otc_emu.__version__}"


def test_demo_from_any_directory(tmp_path: Path):
    run = cli("demo", "-n", "3000", cwd=tmp_path)  # the example programs ship inside the package
    assert run.returncode == 0, run.stderr
    assert "Kernels" in run.stdout and "(inferred)" in run.stdout
    assert "c[0x0][0x170]" in run.stdout  # the parameter table
    assert "saxpy on 3,000 elements: emulated result vs NumPy: bit-exact" in run.stdout
    # the instruction mix counts what ran: one FFMA per element
    ffma = next(line for line in run.stdout.splitlines() if line.strip().startswith("FFMA"))
    assert ffma.split()[-1] == "3,000"


def test_demo_other_program():
    path = next(p for p in PROGRAM_FILES if p.name == "vecadd_int.sass")
    run = cli("demo", "--program", path)
    assert run.returncode == 0, run.stderr
    assert "vecadd_int" in run.stdout and "Kernels" in run.stdout


def test_demo_bad_program_exits_1(tmp_path: Path):
    bad = tmp_path / "bad.sass"
    bad.write_text("IMDA ;\n")
    run = cli("demo", "--program", bad)
    assert run.returncode == 1 and run.stderr.startswith(f"otc-emu: error: {bad}:1:1: ")


def test_main_in_process(capsys, tmp_path: Path):
    """`otc_emu.cli:main` (the console script) returns the exit status instead of exiting."""
    from otc_emu.cli import main

    src = PROGRAM_FILES[0]
    assert main(["disasm", str(src)]) == 0
    assert capsys.readouterr().out == otc_emu.load(src).disassemble()
    bad = tmp_path / "bad.sass"
    bad.write_text("MOV R1, R256 ;\n")
    assert main(["asm", str(bad), "-o", str(tmp_path / "x.otc")]) == 1
    assert capsys.readouterr().err == f"otc-emu: error: {bad}:1:9: register R256 does not exist (registers are R0..R254 and RZ)\n"
