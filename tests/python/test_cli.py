"""The `otc-emu` command line, run as `python -m otc_emu` in a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import otc_emu
from conftest import FIXTURES, PROGRAM_FILES, ids


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # the package under test, also from another working directory (PYTHONPATH may be relative)
    package_root = str(Path(otc_emu.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "otc_emu", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
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
    [[], ["frobnicate"], ["asm"], ["asm", "x.sass"], ["disasm"], ["demo", "--bogus"], ["--bogus"], ["run"],
     ["demo", "--size", "big"], ["experiment", "fig21"], ["experiment", "fig99", "--out", "x"], ["gemm", "-m", "1.5"]],
    ids=["nothing", "unknown-command", "asm-no-file", "asm-no-output", "disasm-no-file", "demo-bad-option", "bad-option",
         "run-no-program", "demo-bad-size", "experiment-no-out", "experiment-unknown", "gemm-float-m"],
)
def test_usage_errors_exit_2(args, capsys):
    from otc_emu.cli import main

    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    assert "usage: otc-emu" in capsys.readouterr().err


COMMANDS = ["asm", "disasm", "run", "profile", "demo", "gemm", "conv", "experiment"]


@pytest.mark.parametrize("command", [[]] + [[c] for c in COMMANDS], ids=["main"] + COMMANDS)
def test_help(command, capsys):
    from otc_emu.cli import main

    with pytest.raises(SystemExit) as e:
        main([*command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr()
    assert out.out.startswith(f"usage: otc-emu{(' ' + command[0]) if command else ''} ")
    assert out.err == ""
    if not command:
        for c in COMMANDS:  # every command is listed
            assert f"    {c}" in out.out


def test_help_and_version_in_a_child_process():
    run = cli("--help")
    assert run.returncode == 0 and run.stdout.startswith("usage: otc-emu ")
    run = cli("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"otc-emu {otc_emu.__version__}"


# ------------------------------------------------------------------------------------------ demo


def test_demo_in_a_child_process_from_any_directory(tmp_path: Path):
    """What the README's first command shows, at a small size: plain text (stdout is a pipe)."""
    run = cli("demo", "--size", "64", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "\x1b" not in out  # not a terminal: no colour, no progress bar
    for text in ("Dual-side sparse GEMM 64x64x64, A 99.0% / B 99.0% zeros", "On the emulated V100 with outer-product tensor cores, on 4 of its 80 SMs", "Comparison (speedup over hmma)", "Section: Tensor core",
                 "Section: Accumulation buffer", "OHMMAs executed per 32x32 output tile",
                 "computed from the operands' bitmaps", "= the emulator's ohmma.executed counter"):
        assert text in out, text
    for mode in ("hmma", "owmma", "spgemm_a", "spgemm"):
        assert f"{mode}: result vs NumPy float64" in out and "OUTSIDE" not in out


@pytest.mark.parametrize("size, sparsity_a, sparsity_b", [(64, 0.9, 0.99), (96, 0.5, 0.0), (40, 0.0, 0.9)])
def test_demo_json_counts_match_the_bitmaps(size, sparsity_a, sparsity_b, capsys):
    import numpy as np

    from otc_emu import sparse
    from otc_emu.cli import main

    assert main(["demo", "--size", str(size), "--sparsity-a", str(sparsity_a), "--sparsity-b", str(sparsity_b), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["baseline"] == "hmma"
    modes = {r["mode"]: r for r in out["modes"]}
    assert list(modes) == ["hmma", "owmma", "spgemm_a", "spgemm"]
    assert modes["hmma"]["speedup"] == 1.0
    assert modes["spgemm"]["speedup"] == pytest.approx(modes["hmma"]["cycles"] / modes["spgemm"]["cycles"])
    assert out["tiles"]["ohmma_executed_counter"] == modes["spgemm"]["ohmma_executed"]
    # the same operands the demo pruned, counted independently of the heatmap code
    rng = np.random.default_rng(0)
    a = sparse.prune_random(rng.standard_normal((size, size)), sparsity_a, seed=1)
    b = sparse.prune_random(rng.standard_normal((size, size)), sparsity_b, seed=2)
    expected = sum(-(-int(np.count_nonzero(a[i:i + 32, kk])) // 8) * -(-int(np.count_nonzero(b[kk, j:j + 32])) // 16)
                   for i in range(0, size, 32) for j in range(0, size, 32) for kk in range(size))
    assert out["tiles"]["ohmma_executed_from_bitmaps"] == expected == modes["spgemm"]["ohmma_executed"]
    assert out["tiles"]["shape"] == [-(-size // 32)] * 2


@pytest.mark.parametrize("args, message", [
    (["demo", "--sparsity-a", "2"], "--sparsity-a must be in [0, 1], got 2.0"),
    (["demo", "--size", "0"], "-m, -n and -k must be at least 1"),
])
def test_demo_bad_values_exit_1(args, message, capsys):
    from otc_emu.cli import main

    assert main(args) == 1
    assert capsys.readouterr().err == f"otc-emu: error: {message}\n"


def test_plain_output_has_no_escapes_and_progress_only_on_a_terminal(capsys):
    import io

    from rich.console import Console

    from otc_emu.cli import main, progress_bar

    assert main(["gemm", "-m", "32", "-n", "32", "-k", "32", "--modes", "hmma,spgemm"]) == 0
    plain = capsys.readouterr().out
    assert "\x1b" not in plain and "Comparison" in plain
    assert main(["gemm", "-m", "32", "-n", "32", "-k", "32", "--modes", "hmma,spgemm", "--no-color"]) == 0
    assert capsys.readouterr().out == plain
    # on a terminal the bar draws (and is transient); with no_color it stays off
    for no_color, draws in ((False, True), (True, False)):
        buf = io.StringIO()
        con = Console(file=buf, force_terminal=True, no_color=no_color, width=80)
        with progress_bar(con, 2, "work") as bar:
            bar.advance()
            bar.advance()
        assert ("work" in buf.getvalue()) == draws


# ------------------------------------------------------------------------------------ run / profile


@pytest.fixture()
def saxpy_inputs(tmp_path: Path):
    import numpy as np

    x = np.arange(300, dtype=np.float32)
    y = np.linspace(-1, 1, 300, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, x, y


SAXPY = str(PROGRAM_FILES[[p.name for p in PROGRAM_FILES].index("saxpy.sass")])


@pytest.mark.parametrize("n_spec, a_spec", [("300", "2.5"), ("u32:300", "f32:2.5"), ("0x12c", "f32:2.5")],
                         ids=["bare-typed-by-param", "typed", "hex"])
def test_run_saves_outputs(n_spec, a_spec, saxpy_inputs, capsys):
    import numpy as np

    from otc_emu.cli import main

    d, x, y = saxpy_inputs
    out = d / "out"
    assert main(["run", SAXPY, "--grid", "2", "--block", "256", "--arg", n_spec, "--arg", a_spec,
                 "--arg", str(d / "x.npy"), "--arg", str(d / "y.npy"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"wrote y -> {out / 'y.npy'}" in text and "cycles" in text
    expected = (np.float64(2.5) * x.astype(np.float64) + y.astype(np.float64)).astype(np.float32)
    assert np.array_equal(np.load(out / "y.npy"), expected)
    assert np.array_equal(np.load(out / "x.npy"), x)  # every pointer argument is written back


def test_run_zeros_arg_and_json(saxpy_inputs, capsys):
    import numpy as np

    from otc_emu.cli import main

    d, x, _ = saxpy_inputs
    assert main(["run", SAXPY, "--grid", "1,1", "--block", "256x1", "--arg", "u32:256", "--arg", "f32:-1",
                 "--arg", str(d / "x.npy"), "--arg", "zeros:f32:300", "--out", str(d), "--json", "--no-timing"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kernel"] == "saxpy" and data["grid"] == [1, 1, 1] and data["block"] == [256, 1, 1]
    assert "cycles" not in data["stats"]["counters"]  # --no-timing
    assert data["stats"]["counters"]["warp_instructions"] > 0
    y = np.load(data["outputs"]["y"])
    assert np.array_equal(y[:256], -x[:256]) and not y[256:].any()  # n = 256 of 300


def test_profile_prints_the_report_and_takes_settings(saxpy_inputs, capsys):
    from otc_emu.cli import main

    d, _, _ = saxpy_inputs
    base = ["profile", SAXPY, "--grid", "2", "--block", "256", "--arg", "300", "--arg", "1", "--arg", str(d / "x.npy"),
            "--arg", str(d / "y.npy")]
    assert main(base) == 0
    text = capsys.readouterr().out
    for heading in ("Parameters of saxpy", "Section: Summary", "Section: Instruction mix", "Section: Memory"):
        assert heading in text
    assert main(base + ["--json"]) == 0
    default = json.loads(capsys.readouterr().out)["stats"]
    conf = d / "slow.toml"
    conf.write_text("[memory]\ndram_latency = 2000\n")
    assert main(base + ["--json", "--config", str(conf)]) == 0
    slow = json.loads(capsys.readouterr().out)["stats"]
    assert slow["counters"]["cycles"] > default["counters"]["cycles"]
    assert slow["counters"]["warp_instructions"] == default["counters"]["warp_instructions"]


BAD_RUNS = [
    # (id, --arg specs, other options, the error after "otc-emu: error: ")
    ("count", ["u32:5", "f32:2", "zeros:f32:8"], [], "kernel saxpy takes 4 arguments (u32 n, f32 a, ptr x, ptr y), got 3 --arg"),
    ("wrong-type", ["i32:5", "f32:2", "zeros:f32:8", "zeros:f32:8"], [], "argument 0 (n: u32): the kernel expects u32, got i32 ('i32:5'); write u32:5"),
    ("range", ["u32:-1", "f32:2", "zeros:f32:8", "zeros:f32:8"], [], "argument 0 (n: u32): -1 is out of range for u32 (0..4294967295)"),
    ("not-a-number", ["many", "f32:2", "zeros:f32:8", "zeros:f32:8"], [], "argument 0 (n: u32): expected an integer for u32, got 'many'"),
    ("scalar-for-ptr", ["u32:5", "f32:2", "f32:1", "zeros:f32:8"], [], "argument 2 (x: ptr): the kernel expects a pointer (FILE.npy or zeros:DTYPE:SHAPE), got 'f32:1'"),
    ("array-for-scalar", ["zeros:u32:1", "f32:2", "zeros:f32:8", "zeros:f32:8"], [], "argument 0 (n: u32): 'zeros:u32:1' is an array (a pointer), the kernel expects a u32 scalar such as u32:1"),
    ("bad-zeros", ["u32:5", "f32:2", "zeros:q:8", "zeros:f32:8"], [], "argument 2 (x: ptr): expected zeros:DTYPE:SHAPE such as zeros:f32:1024, got 'zeros:q:8'"),
    ("bad-shape", ["u32:5", "f32:2", "zeros:f32:8xy", "zeros:f32:8"], [], "argument 2 (x: ptr): bad shape '8xy' in 'zeros:f32:8xy'; expected numbers joined by x, such as 1024 or 64x64"),
    ("f32-overflow", ["u32:5", "f32:1e39", "zeros:f32:8", "zeros:f32:8"], [], "argument 1 (a: f32): 1e39 overflows f32"),
    ("bad-grid", ["u32:5", "f32:2", "zeros:f32:8", "zeros:f32:8"], ["--grid", "0"], "--grid must be 1 to 3 positive integers such as 4 or 4,2 or 4x2x1, got '0'"),
    ("bad-set", ["u32:5", "f32:2", "zeros:f32:8", "zeros:f32:8"], ["--set", "oops"], "--set takes key=value (such as tensor.skipped_cycles=1), got 'oops'"),
    ("unknown-kernel", ["u32:5"], ["--kernel", "sgemm"], "programs/saxpy.sass has no kernel 'sgemm'; it has saxpy"),
]


@pytest.mark.parametrize("specs, options, message", [c[1:] for c in BAD_RUNS], ids=[c[0] for c in BAD_RUNS])
def test_run_bad_arguments_exit_1_naming_the_argument(specs, options, message, capsys):
    from otc_emu.cli import main

    argv = ["run", SAXPY, *options]
    for spec in specs:
        argv += ["--arg", spec]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("otc-emu: error: ") and err.count("\n") == 1
    assert err.rstrip("\n").endswith(message.replace("programs/saxpy.sass", SAXPY)), err


def test_run_not_an_npy_file(tmp_path: Path, capsys):
    from otc_emu.cli import main

    bad = tmp_path / "x.npy"
    bad.write_text("not numpy")
    assert main(["run", SAXPY, "--arg", "1", "--arg", "1", "--arg", str(bad), "--arg", "zeros:f32:1"]) == 1
    assert capsys.readouterr().err.startswith(f"otc-emu: error: argument 2 (x: ptr): cannot read {bad} as a NumPy array")


def test_run_listing_needs_typed_scalars(capsys):
    from otc_emu.cli import main

    listing = FIXTURES / "vecadd.sass"
    assert main(["run", str(listing), "--kernel", "vadd_i32", "--arg", "5"]) == 1
    assert "argument 0: '5' is not TYPE:VALUE" in capsys.readouterr().err


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


@pytest.mark.parametrize("args, message", [
    (["gemm", "--modes", "hmma,spgemm", "--report", "owmma"], "--report owmma: that mode does not run; choose one of hmma, spgemm"),
    (["conv", "--modes", "dense_implicit", "--report", "sparse_implicit"],
     "--report sparse_implicit: that mode does not run; choose one of dense_implicit"),
    (["conv", "--modes", "im2col"], "unknown mode(s) im2col; available: dense_implicit, sparse_implicit"),
    (["conv", "--sparsity-w", "-0.1"], "--sparsity-w must be in [0, 1], got -0.1"),
    (["experiment", "fig21", "--out", "unused", "--size", "0"], "--size must be at least 1, got 0"),
    (["gemm", "--sms", "81"], "--sms must be in 1..80, got 81"),
    (["conv", "--sms", "0"], "--sms must be in 1..80, got 0"),
    (["demo", "--sms", "0"], "--sms must be in 1..80, got 0"),
], ids=["gemm-report", "conv-report", "conv-mode", "conv-sparsity", "fig21-size", "gemm-sms", "conv-sms", "demo-sms"])
def test_workload_bad_values_exit_1_before_running(args, message, capsys):
    from otc_emu.cli import main

    assert main(args) == 1
    assert capsys.readouterr().err.startswith(f"otc-emu: error: {message}")


def test_run_a_real_listing_names_outputs_by_position(tmp_path: Path, capsys):
    """An nvcc listing declares no parameters: scalars carry their type, outputs are arg<i>.npy."""
    import numpy as np

    from otc_emu.cli import main

    rng = np.random.default_rng(3)
    a, b = (rng.integers(-1000, 1000, 1000, dtype=np.int32) for _ in range(2))
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    out = tmp_path / "out"
    assert main(["run", str(FIXTURES / "vecadd.sass"), "--kernel", "vadd_i32", "--grid", "8", "--block", "128",
                 "--arg", str(tmp_path / "a.npy"), "--arg", str(tmp_path / "b.npy"), "--arg", "zeros:i32:1000",
                 "--arg", "i32:1000", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["arg0.npy", "arg1.npy", "arg2.npy"]
    assert np.array_equal(np.load(out / "arg2.npy"), a + b)
    assert f"wrote arg2 -> {out / 'arg2.npy'}" in capsys.readouterr().out


@pytest.mark.parametrize("mode, heatmap_shown", [("spgemm", True), ("spgemm_a", True), ("owmma", False)])
def test_gemm_report_of_a_sparse_mode_adds_the_heatmap(mode, heatmap_shown, capsys):
    from otc_emu.cli import main

    assert main(["gemm", "-m", "64", "-n", "96", "-k", "32", "--modes", f"hmma,{mode}", "--report", mode]) == 0
    out = capsys.readouterr().out
    assert f"{mode} report" in out and "Section: Tensor core" in out
    assert ("OHMMAs executed per 32x32 output tile" in out) is heatmap_shown
    assert ("= the emulator's ohmma.executed counter" in out) is heatmap_shown


@pytest.mark.parametrize("sms, tile, asked, program, narrow", [
    # the defaults, A 90% / B 99% zeros: no A slice has more than 16 non-zeros, so the 64x64 tile
    # runs its narrow program (kernels.wide_narrow) unless told not to
    ("80", "64x64", True, "spgemm_wide_narrow_d6.sass", None),
    ("1", "64x64", True, "spgemm_wide_narrow.sass", None),
    ("1", "64x64", True, "spgemm_wide.sass", "off"),
    ("80", "64x64", False, "spgemm_wide_d6.sass", "off"),
    # kernels.wide_tile's pick, 128x32 on one SM, not on 80 (its 16 CTAs would leave most of the
    # 320 sub-cores without a warp)
    ("1", "128x32", False, "spgemm_tall_d4.sass", None),
    ("1", "64x64", False, "spgemm_wide_narrow.sass", "on"),  # (on implies 64x64)
    ("80", "64x64", False, "spgemm_wide_narrow_d6.sass", None),
    ("80", "128x32", True, "spgemm_tall_d4.sass", None),
])
def test_gemm_names_the_spgemm_wide_program_it_ran(sms, tile, asked, program, narrow):
    # 256^3: 16 one-warp CTAs; 80 SMs hold them in one wave at any depth (the deepest), one SM at
    # depth 3 only for 64x64 (17 per SM; 13 at depth 4), in two waves at both depths for 128x32
    # (12 and 10 per SM: depth 4)
    wide = ["--set", "tensor.accbufs_per_warp=4", "--set", "tensor.spwmma_sequencer=true"]
    wide += ["--wide-tile", tile] if asked else []
    wide += ["--wide-narrow", narrow] if narrow else []
    run = cli("gemm", "-m", "256", "-n", "256", "-k", "256", "--modes", "hmma,spgemm_wide", "--sms", sms, *wide, "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {r["mode"]: r for r in json.loads(run.stdout)["modes"]}
    assert rows["spgemm_wide"]["program"] == program and "program" not in rows["hmma"]
    assert rows["spgemm_wide"]["warp_tile"] == tile and "warp_tile" not in rows["hmma"]
    assert rows["spgemm_wide"]["cta_order"] == 0 and "cta_order" not in rows["hmma"]  # nothing exceeds the L2
    run = cli("gemm", "-m", "256", "-n", "256", "-k", "256", "--modes", "spgemm_wide", "--sms", sms, *wide, "--no-color")
    assert f"spgemm_wide (ran {program}, warp tile {tile}, CTA order 0)" in " ".join(run.stdout.split()), run.stdout[-2000:]


def test_gemm_cta_order_comes_from_the_rule():
    wide = ["--set", "tensor.accbufs_per_warp=4", "--set", "tensor.spwmma_sequencer=true"]
    # A almost empty, an L2 of 8 KiB: B's blocks exceed it and outweigh A's (kernels.wide_order)
    run = cli("gemm", "-m", "256", "-n", "256", "-k", "256", "--modes", "spgemm_wide", "--sms", "1", *wide, "--sparsity-a", "0.999",
              "--set", "memory.l2_bytes=8192", "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout)["modes"][0]["cta_order"] == 1


@pytest.mark.parametrize("order", ["0", "1"])
def test_gemm_cta_order_forces_spgemm_wide_s_order(order):
    wide = ["--set", "tensor.accbufs_per_warp=4", "--set", "tensor.spwmma_sequencer=true"]
    run = cli("gemm", "-m", "128", "-n", "192", "-k", "128", "--modes", "owmma,spgemm_wide", "--sms", "2", *wide,
              "--cta-order", order, "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {r["mode"]: r for r in json.loads(run.stdout)["modes"]}
    assert rows["spgemm_wide"]["cta_order"] == int(order) and rows["spgemm_wide"]["within_bound"]


@pytest.mark.parametrize("args, message", [
    (["--modes", "hmma,owmma", "--cta-order", "1"], "only spgemm_wide has a CTA order"),
    (["--modes", "spgemm_wide", "--cta-order", "2"], "invalid choice"),
    (["--modes", "hmma", "--wide-tile", "128x32"], "only spgemm_wide has a choice of warp tile"),
    (["--modes", "spgemm_wide", "--wide-tile", "32x32"], "invalid choice"),
    (["--modes", "hmma", "--wide-narrow", "on"], "only spgemm_wide has a narrow program"),
    (["--modes", "spgemm_wide", "--wide-narrow", "on", "--wide-tile", "32x128"], "the narrow program is the 64x64 tile's"),
    (["--modes", "spgemm_wide", "--wide-narrow", "yes"], "invalid choice"),
])
def test_gemm_cta_order_refused_where_it_cannot_apply(args, message):
    run = cli("gemm", "-m", "64", "-n", "64", "-k", "64", *args)
    assert run.returncode != 0 and message in run.stderr, run.stderr[-2000:]
