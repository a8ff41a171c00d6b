"""The ``otc-emu`` command line (also ``python -m otc_emu``).

Exit status: 0 on success, 1 with a one-line ``otc-emu: error: ...`` on stderr when the input is
bad (any :class:`~otc_emu.OtcError`, or a file that cannot be read or written), 2 on usage errors
(argparse).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import OtcError, Program, __version__, load

PROG = "otc-emu"

#: The example programs shipped with the package (the repository's ``programs/`` links here).
PROGRAMS_DIR = Path(__file__).resolve().parent / "programs"

#: What ``otc-emu demo`` assembles.
DEMO_PROGRAM = "saxpy.sass"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# ---------------------------------------------------------------------------------- asm / disasm


def cmd_asm(args: argparse.Namespace) -> int:
    program = load(args.file)
    program.save(args.output)
    return 0


def cmd_disasm(args: argparse.Namespace) -> int:
    text = load(args.file).disassemble()
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


# ------------------------------------------------------------------------------------------- demo


@dataclass(frozen=True)
class KernelSummary:
    """Plain data about one kernel, computed before anything is rendered."""

    name: str
    instructions: int
    code_bytes: int
    num_regs: int
    regs_declared: bool
    shared_bytes: int | None
    params: list[tuple[str, str, int]]  # (type, name, offset)


def summarize(program: Program) -> list[KernelSummary]:
    out = []
    for k in program.kernels.values():
        params = [(p.type, p.name, p.offset) for p in (k.params or [])]
        out.append(
            KernelSummary(
                name=k.name,
                instructions=len(k),
                code_bytes=16 * len(k),
                num_regs=k.num_regs,
                regs_declared=k.regs_declared,
                shared_bytes=k.shared_bytes,
                params=params,
            )
        )
    return out


def render_summary(summaries: list[KernelSummary], console) -> None:  # console: rich Console
    from rich import box
    from rich.table import Table

    table = Table(title="Kernels", box=box.MINIMAL_HEAVY_HEAD, title_justify="left")
    table.add_column("Kernel")
    table.add_column("Instructions", justify="right")
    table.add_column("Code bytes", justify="right")
    table.add_column("Registers", justify="right")
    table.add_column("Shared bytes", justify="right")
    for s in summaries:
        regs = f"{s.num_regs}" + ("" if s.regs_declared else " (inferred)")
        shared = "unknown" if s.shared_bytes is None else f"{s.shared_bytes:,}"
        table.add_row(s.name, f"{s.instructions:,}", f"{s.code_bytes:,}", regs, shared)
    console.print(table)
    for s in summaries:
        if not s.params:
            continue
        params = Table(title=f"Parameters of {s.name}", box=box.MINIMAL_HEAVY_HEAD, title_justify="left")
        params.add_column("Name")
        params.add_column("Type")
        params.add_column("Constant", justify="right")
        for t, n, off in s.params:
            params.add_row(n, t, f"c[0x0][{off:#x}]")
        console.print(params)


def run_saxpy_demo(program: Program, n: int):
    """Run the saxpy kernel on the emulator and check it against NumPy. Returns plain data."""
    import numpy as np

    from .device import Device

    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    a = np.float32(2.5)
    dev = Device()
    dx, dy = dev.to_device(x), dev.to_device(y)
    res = dev.launch(program, "saxpy", grid=(n + 255) // 256, block=256, args=[np.uint32(n), a, dx, dy])
    expected = (np.float64(a) * x.astype(np.float64) + y.astype(np.float64)).astype(np.float32)  # one rounding, like FFMA
    got = dy.numpy()
    return {"n": n, "exact": bool(np.array_equal(got, expected)), "max_abs_err": float(np.max(np.abs(got - expected))),
            "stats": res.stats}


def render_run(run: dict, console) -> None:
    from rich import box
    from rich.table import Table

    verdict = "[green]bit-exact[/green]" if run["exact"] else f"[red]differs (max |err| {run['max_abs_err']:g})[/red]"
    console.print(f"saxpy on {run['n']:,} elements: emulated result vs NumPy: {verdict}")
    counters = run["stats"].counters
    t = Table(title="Instruction mix", box=box.MINIMAL_HEAVY_HEAD)
    t.add_column("opcode")
    t.add_column("warp-instr", justify="right")
    t.add_column("thread-instr", justify="right")
    for op, c in sorted(run["stats"].by_opcode.items(), key=lambda kv: -kv[1]["warp"]):
        t.add_row(op, f"{c['warp']:,}", f"{c['thread']:,}")
    t.add_row("[bold]total[/bold]", f"[bold]{counters['warp_instructions']:,}[/bold]",
              f"[bold]{counters['thread_instructions']:,}[/bold]")
    console.print(t)
    st = run["stats"]
    if st.timed:
        console.print(f"cycle model (V100): {st.cycles:,} cycles = {st.metrics['time_us']:.2f} us, "
                      f"IPC {st.metrics['ipc']:.2f} on {counters['sms_used']} SMs")


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    path = Path(args.program) if args.program else PROGRAMS_DIR / DEMO_PROGRAM
    console = Console(no_color=args.no_color or None)
    program = load(path)
    console.rule(f"[bold]{path.name}[/bold] on the emulated V100 SM")
    render_summary(summarize(program), console)
    if "saxpy" in program.kernels:
        run = run_saxpy_demo(program, args.n)
        render_run(run, console)
        return 0 if run["exact"] else 1
    return 0


# ------------------------------------------------------------------------------------------ main


def run_gemm(m: int, n: int, k: int, sparsity_a: float, sparsity_b: float, modes: list[str], seed: int = 0) -> dict:
    """Run kernels.gemm for each mode on the same pruned random operands; plain data out."""
    import numpy as np

    from . import kernels, sparse

    rng = np.random.default_rng(seed)
    a = sparse.prune_random(rng.standard_normal((m, k)), sparsity_a, seed=seed + 1)
    b = sparse.prune_random(rng.standard_normal((k, n)), sparsity_b, seed=seed + 2)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = kernels.error_bound(a, b)
    out = {}
    for mode in modes:
        res = kernels.gemm(a, b, mode=mode)
        out[mode] = {"stats": res.stats, "within_bound": bool(np.all(np.abs(res.c - exact) <= bound)),
                     "max_abs_err": float(np.max(np.abs(res.c - exact))) if res.c.size else 0.0}
    return out


def cmd_gemm(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from .kernels import GEMM_MODES
    from .report import comparison, render_comparison

    modes = [x.strip() for x in args.modes.split(",") if x.strip()]
    unknown = [x for x in modes if x not in GEMM_MODES]
    if unknown or not modes:
        raise OtcError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; available: {', '.join(GEMM_MODES)}")
    for name, v in (("sparsity-a", args.sparsity_a), ("sparsity-b", args.sparsity_b)):
        if not 0.0 <= v <= 1.0:
            raise OtcError(f"--{name} must be in [0, 1], got {v}")
    if min(args.m, args.n, args.k) < 1:
        raise OtcError("-m, -n and -k must be at least 1")
    runs = run_gemm(args.m, args.n, args.k, args.sparsity_a, args.sparsity_b, modes, args.seed)
    stats = {mode: r["stats"] for mode, r in runs.items()}
    if args.json:
        rows = comparison(stats, modes[0])
        for r in rows:
            r["within_bound"] = runs[r["mode"]]["within_bound"]
            r["max_abs_err"] = runs[r["mode"]]["max_abs_err"]
        print(json.dumps({"m": args.m, "n": args.n, "k": args.k, "sparsity_a": args.sparsity_a,
                          "sparsity_b": args.sparsity_b, "baseline": modes[0], "modes": rows}, indent=2))
    else:
        console = Console(no_color=args.no_color or None)
        console.rule(f"[bold]GEMM {args.m}x{args.n}x{args.k}[/bold], A {args.sparsity_a:.1%} and B {args.sparsity_b:.1%} zeros")
        render_comparison(stats, modes[0], console)
        for mode, r in runs.items():
            verdict = "within the documented bound" if r["within_bound"] else "OUTSIDE the documented bound"
            console.print(f"{mode}: result vs NumPy float64: max |err| {r['max_abs_err']:.3g}, {verdict}")
        if args.report:
            stats[args.report].report(console, title=f"{args.report} report")
    return 0 if all(r["within_bound"] for r in runs.values()) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="otc-emu: a V100 (sm_70) SM emulator with outer-product tensor cores.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "asm",
        help="assemble source text or a cuobjdump -sass listing to a binary program",
        description="Assemble FILE (own dialect or a cuobjdump -sass listing; a binary program "
        "is accepted too) and write the binary program to OUT.",
    )
    p.add_argument("file", metavar="FILE", help="source text, listing or binary program")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="binary program to write")
    p.set_defaults(func=cmd_asm)

    p = sub.add_parser(
        "disasm",
        help="print a program as canonical text",
        description="Read FILE (binary program, source text or listing, decided by content) and "
        "print its canonical text, which assembles back to the same code.",
    )
    p.add_argument("file", metavar="FILE", help="binary program, source text or listing")
    p.add_argument("-o", "--output", metavar="OUT", help="write the text to OUT instead of stdout")
    p.set_defaults(func=cmd_disasm)

    p = sub.add_parser(
        "demo",
        help=f"run an example program ({DEMO_PROGRAM}) on the emulated SM and check it against NumPy",
        description=f"Assemble an example program (default: {DEMO_PROGRAM} from the programs shipped "
        "with otc-emu), summarize its kernels, run its saxpy kernel on the emulated V100 SM, compare "
        "the result with NumPy and print the instruction mix. Exit code 1 if the result differs.",
    )
    p.add_argument("--program", metavar="FILE", help="assemble FILE instead of the default")
    p.add_argument("-n", type=int, default=100_000, help="elements for saxpy (default 100000)")
    p.add_argument("--no-color", action="store_true", help="plain output without colour")
    p.set_defaults(func=cmd_demo)
    _add_gemm(sub)
    return parser


def _add_gemm(sub) -> None:
    p = sub.add_parser(
        "gemm",
        help="run a GEMM in several modes on the same data and compare cycles",
        description="Prune random fp16 operands to the given sparsities, run C = A x B in each mode "
        "on the emulated SM, check every result against NumPy and print the cycle comparison "
        "(speedups over the first mode). Exit code 1 if a result is outside the documented bound.",
    )
    p.add_argument("-m", type=int, default=128, help="rows of A and C (default 128)")
    p.add_argument("-n", type=int, default=128, help="columns of B and C (default 128)")
    p.add_argument("-k", type=int, default=128, help="columns of A, rows of B (default 128)")
    p.add_argument("--sparsity-a", type=float, default=0.9, help="fraction of zeros in A (default 0.9)")
    p.add_argument("--sparsity-b", type=float, default=0.99, help="fraction of zeros in B (default 0.99)")
    p.add_argument("--modes", default="hmma,owmma,spgemm", help="comma-separated modes; the first is the baseline")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--report", metavar="MODE", help="also print the full report of MODE")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--no-color", action="store_true", help="plain output without colour")
    p.set_defaults(func=cmd_gemm)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `otc-emu disasm x | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OtcError as e:
        message = str(e)
    except OSError as e:
        where = e.filename if e.filename is not None else ""
        message = f"{where}: {e.strerror or e}" if where else str(e)
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
