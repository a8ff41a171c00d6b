"""The ``otc-emu`` command line (also ``python -m otc_emu``); docs/cli.md describes every command.

Exit status: 0 on success, 1 with a one-line ``otc-emu: error: ...`` on stderr when the input is
bad (any :class:`~otc_emu.OtcError`, or a file that cannot be read or written) or a result fails
its check, 2 on usage errors (argparse), 130 with ``otc-emu: interrupted`` on Ctrl-C. JSON output
is standard JSON: a non-finite number is written as ``null``.

Output is rendered with ``rich``: colour and transient progress bars on a terminal, plain text
(no escape sequences at all) when stdout is not a terminal or with ``--no-color``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import LaunchError, OtcError, Program, __version__, _core, _json, load
from . import _cli_profiling as profiling
from .device import find_kernel

PROG = "otc-emu"

#: The example programs shipped with the package (the repository's ``programs/`` links here).
PROGRAMS_DIR = Path(__file__).resolve().parent / "programs"

#: What ``otc-emu demo`` runs by default: a GEMM with A 90% and B 99% zeros, the dual-side sparse
#: kernel against the dense baselines (about 5 s on one core here).
DEMO_SIZE = 512
DEMO_SPARSITY_A = 0.99
DEMO_SPARSITY_B = 0.99
DEMO_MODES = ("hmma", "owmma", "spgemm_a", "spgemm")
#: The demo runs on a slice of the V100 (Device.v100_slice) so that the SMs are loaded as in a large GEMM.
DEMO_SMS = 4


#: The largest device allocation (otc_sim::memory::MAX_ALLOC).
MAX_ARRAY_BYTES = 64 << 30


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _console(args: argparse.Namespace):
    """The console for human output: plain when --no-color or when stdout is not a terminal."""
    from rich.console import Console

    no_color = bool(getattr(args, "no_color", False))
    # color_system=None: no escape codes at all (rich's no_color alone still writes bold / italic)
    return Console(no_color=no_color or None, color_system=None if no_color else "auto", highlight=not no_color,
                   emoji=False)


@contextmanager
def progress_bar(console, total: int, description: str) -> Iterator[Any]:
    """A transient rich progress bar with ``advance(description=...)``; a no-op off a terminal
    and with --no-color (``console.no_color``), so captured output stays plain."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    enabled = console.is_terminal and not console.no_color
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=console, transient=True, disable=not enabled)
    with progress:
        task = progress.add_task(description, total=total)

        class _Handle:
            def advance(self, description: str | None = None) -> None:
                progress.update(task, advance=1, **({"description": description} if description else {}))

            def describe(self, description: str) -> None:
                progress.update(task, description=description)

        yield _Handle()


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


# ---------------------------------------------------------------------------------- run / profile


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
        out.append(KernelSummary(name=k.name, instructions=len(k), code_bytes=16 * len(k), num_regs=k.num_regs,
                                 regs_declared=k.regs_declared, shared_bytes=k.shared_bytes, params=params))
    return out


def render_summary(summaries: list[KernelSummary], console) -> None:
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


#: The .param types of scalar values -> their NumPy dtype (the assembler's table).
_NUMPY = {t: d for t, d in _core.PARAM_TYPES.items() if t != "ptr"}
#: Scalar type names of ``--arg TYPE:VALUE`` -> the .param type they are (``iN`` is ``sN``).
SCALAR_TYPES = {**{t: t for t in _NUMPY}, **{"i" + t[1:]: t for t in _NUMPY if t[0] == "s"}}


@dataclass
class ArgSpec:
    """One parsed ``--arg``: a scalar (``kind="scalar"``, ``value`` a NumPy scalar) or a device
    array (``kind="array"``, ``value`` the host array to copy in, ``source`` its file or zeros spec)."""

    kind: str
    value: Any
    source: str


def _scalar(text: str, ptype: str, where: str):
    import numpy as np

    dtype = np.dtype(_NUMPY[ptype])
    try:
        number = float(text) if ptype.startswith("f") else int(text, 0)
    except ValueError:
        kind = "a number" if ptype.startswith("f") else "an integer"
        raise LaunchError(f"{where}: expected {kind} for {ptype}, got {text!r}") from None
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not info.min <= number <= info.max:
            raise LaunchError(f"{where}: {number} is out of range for {ptype} ({info.min}..{info.max})")
        return dtype.type(number)
    with np.errstate(over="ignore"):
        value = dtype.type(number)
    if np.isfinite(number) and not np.isfinite(value):
        raise LaunchError(f"{where}: {text} overflows {ptype}")
    return value


def parse_arg(spec: str, index: int, param=None) -> ArgSpec:
    """Parse ``--arg`` number ``index`` against the kernel's ``.param`` (None for listings):
    ``TYPE:VALUE`` (u32:128, i32:-1, f32:2.5, f16, u64, i64, ...), a bare number when the kernel
    declares the parameter's type, ``FILE.npy`` (copied to the device, passed as a pointer) or
    ``zeros:DTYPE:SHAPE`` (``zeros:f32:1024``, ``zeros:f16:64x64``)."""
    import numpy as np

    where = f"argument {index}" + (f" ({param.name}: {param.type})" if param is not None else "")
    ptype = param.type if param is not None else None
    head, _, rest = spec.partition(":")
    if spec.endswith(".npy") or head == "zeros":
        if ptype is not None and ptype not in ("ptr", "u64", "s64"):
            raise LaunchError(f"{where}: {spec!r} is an array (a pointer), the kernel expects a {ptype} scalar "
                              f"such as {ptype}:1")
        if head == "zeros":
            parts = rest.split(":")
            if len(parts) != 2 or parts[0] not in SCALAR_TYPES:
                raise LaunchError(f"{where}: expected zeros:DTYPE:SHAPE such as zeros:f32:1024, got {spec!r}")
            try:
                shape = tuple(int(d) for d in parts[1].lower().split("x"))
            except ValueError:
                raise LaunchError(f"{where}: bad shape {parts[1]!r} in {spec!r}; expected numbers joined by x, "
                                  "such as 1024 or 64x64") from None
            if any(d < 1 for d in shape):
                raise LaunchError(f"{where}: shape {parts[1]!r} has a dimension below 1")
            nbytes = math.prod(shape) * np.dtype(_NUMPY[SCALAR_TYPES[parts[0]]]).itemsize
            if nbytes > MAX_ARRAY_BYTES:
                raise LaunchError(f"{where}: {spec!r} needs {nbytes} bytes; a device array holds at most "
                                  f"{MAX_ARRAY_BYTES} (64 GiB)")
            return ArgSpec("array", np.zeros(shape, _NUMPY[SCALAR_TYPES[parts[0]]]), spec)
        try:
            array = np.load(spec, allow_pickle=False)
        except ValueError as e:  # not a .npy file, or one holding Python objects
            raise LaunchError(f"{where}: cannot read {spec} as a NumPy array: {e}") from None
        if array.dtype.kind not in "biuf":
            raise LaunchError(f"{where}: {spec} holds dtype {array.dtype}; expected numbers")
        return ArgSpec("array", array, spec)
    if head in SCALAR_TYPES and rest:
        stype = SCALAR_TYPES[head]
        if ptype == "ptr":
            raise LaunchError(f"{where}: the kernel expects a pointer (FILE.npy or zeros:DTYPE:SHAPE), got {spec!r}")
        if ptype is not None and stype != ptype:
            raise LaunchError(f"{where}: the kernel expects {ptype}, got {head} ({spec!r}); write {ptype}:{rest}")
        return ArgSpec("scalar", _scalar(rest, stype, where), spec)
    if ptype is None:
        raise LaunchError(f"{where}: {spec!r} is not TYPE:VALUE (u32:128, f32:2.5, ...), FILE.npy or zeros:DTYPE:SHAPE; "
                          "the kernel declares no parameter types, so every scalar needs its type")
    if ptype == "ptr":
        raise LaunchError(f"{where}: the kernel expects a pointer (FILE.npy or zeros:DTYPE:SHAPE), got {spec!r}")
    return ArgSpec("scalar", _scalar(spec, ptype, where), spec)


def _dims(text: str, what: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(","))
    except ValueError:
        raise LaunchError(f"--{what} must be 1 to 3 positive integers such as 4 or 4,2 or 4x2x1, got {text!r}") from None
    if not 1 <= len(dims) <= 3 or any(d < 1 for d in dims):
        raise LaunchError(f"--{what} must be 1 to 3 positive integers such as 4 or 4,2 or 4x2x1, got {text!r}")
    return dims


def _setting_value(text: str):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":  # max_cycles=none: no limit
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def device_spec(args: argparse.Namespace) -> dict:
    """--machine NAME, --config FILE and --set key=value (repeatable, dotted cycle-model keys or
    functional settings) as {"machine": NAME, "settings": {the file's keys, then the --set ones}}
    (experiments.device_spec's form). An unknown machine or a bad --set raises ConfigError."""
    from . import ConfigError
    from .device import _is_config_file, _settings, _file_settings, machine_settings

    machine = getattr(args, "machine", None)
    machine_settings(machine)
    config = getattr(args, "config", None)
    settings: dict[str, Any] = _file_settings(config) if _is_config_file(config) else _settings(config, {})
    for item in getattr(args, "set", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes key=value (such as tensor.skipped_cycles=1), got {item!r}")
        settings[key.strip()] = _setting_value(value)
    return {"machine": machine, "settings": settings}


def device_from_args(args: argparse.Namespace):
    """A Device from --machine, --config, --set (:func:`device_spec`) and --no-timing."""
    from .device import Device

    spec = device_spec(args)
    overrides = dict(spec["settings"])
    if getattr(args, "no_timing", False):
        overrides["timing"] = False
    return Device(machine=spec["machine"], **overrides)


def parse_const(spec: str) -> tuple[int, bytes]:
    """``--const BANK:FILE``: constant bank BANK (1..17, decimal or 0x hex) gets FILE from offset
    0: the raw bytes of a FILE.npy array, or the bytes of any other file."""
    import numpy as np

    head, sep, path = spec.partition(":")
    try:
        bank = int(head, 0)
    except ValueError:
        bank = -1
    if not sep or not path or not 1 <= bank <= 17:
        raise LaunchError(f"--const takes BANK:FILE with BANK in 1..17 (such as 3:table.npy), got {spec!r}")
    try:
        if path.endswith(".npy"):
            array = np.load(path, allow_pickle=False)
            if array.dtype.kind not in "biuf":
                raise LaunchError(f"--const {spec}: {path} holds dtype {array.dtype}; expected numbers")
            return bank, np.ascontiguousarray(array).tobytes()
        return bank, Path(path).read_bytes()
    except (OSError, ValueError) as e:
        raise LaunchError(f"--const {spec}: cannot read {path}: {e}") from None


def _load_program(args: argparse.Namespace) -> Program:
    """The program to run; of a .cubin whose other kernels hold a word the decoder does not know,
    only the kernel asked for (docs/cubin.md)."""
    try:
        return load(args.program, cubin=getattr(args, "cubin", None))
    except _core.AssemblyError as e:
        if e.kind != "cubin" or args.kernel is None or Path(args.program).read_bytes()[:4] != b"\x7fELF":
            raise
        return Program.from_cubin(args.program, args.kernel)


def run_program(args: argparse.Namespace, program: Program | None = None) -> dict:
    """Load (unless ``program`` is given), launch and save outputs for ``run`` / ``profile``; plain
    data out."""
    import numpy as np

    if program is None:
        program = _load_program(args)
    kernels = program.kernels
    name = args.kernel
    if name is None:
        if len(kernels) != 1:
            raise LaunchError(f"{args.program} has {len(kernels)} kernels ({', '.join(kernels)}); choose one with --kernel")
        name = next(iter(kernels))
    name = find_kernel(program, name, str(args.program))
    params = kernels[name].params
    specs = args.arg or []
    if params is not None and len(specs) != len(params):
        declared = ", ".join(f"{p.type} {p.name}" for p in params) or "none"
        raise LaunchError(f"kernel {name} takes {len(params)} arguments ({declared}), got {len(specs)} --arg")
    parsed = [parse_arg(spec, i, params[i] if params is not None else None) for i, spec in enumerate(specs)]
    dev = device_from_args(args)
    for spec in getattr(args, "const", None) or []:
        bank, data = parse_const(spec)
        dev.write_constant(bank, 0, data)
    launch_args, arrays = [], {}
    for i, a in enumerate(parsed):
        if a.kind == "array":
            arr = dev.to_device(a.value)
            label = params[i].name if params is not None else f"arg{i}"
            arrays[label] = arr
            launch_args.append(arr)
        else:
            launch_args.append(a.value)
    res = dev.launch(program, name, grid=_dims(args.grid, "grid"), block=_dims(args.block, "block"), args=launch_args,
                     shared_bytes=args.shared)
    outputs = {}
    if args.out is not None:
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        for label, arr in arrays.items():  # every pointer argument, as the kernel left it
            path = out_dir / f"{label}.npy"
            np.save(path, arr.numpy())
            outputs[label] = str(path)
    return {"program": str(args.program), "kernel": name, "grid": list(res.grid), "block": list(res.block),
            "args": specs, "outputs": outputs, "stats": res.stats, "summary": summarize(program)}


def _run_json(run: dict) -> str:
    data = {k: v for k, v in run.items() if k not in ("stats", "summary")}
    data["stats"] = run["stats"].to_dict()
    return _json.dumps(data, indent=2, sort_keys=True)


def _render_run_line(run: dict, console) -> None:
    st = run["stats"]
    c = st.counters
    line = (f"{run['kernel']}: grid {tuple(run['grid'])}, block {tuple(run['block'])}: "
            f"{c['warp_instructions']:,} warp instructions")
    if st.timed:
        line += f", {st.cycles:,} cycles = {st.metrics['time_us']:.2f} us at the model's clock, IPC {st.metrics['ipc']:.2f}"
    console.print(line)
    for label, path in run["outputs"].items():
        console.print(f"wrote {label} -> {path}", soft_wrap=True)


def _run_profiled(args: argparse.Namespace) -> tuple[dict, Any]:
    """run_program with --timeline recorded and written; (the run, the program)."""
    if hasattr(args, "source"):
        profiling.check_source_options(args)
    program = _load_program(args)  # loaded once: the run and its timelines use the same one
    with profiling.recording_for(args):
        run = run_program(args, program)
    profiling.write_timelines(args, {run["kernel"]: (run["stats"], program, run["kernel"])},
                              None if args.json else _console(args))
    return run, program


def cmd_run(args: argparse.Namespace) -> int:
    run, _ = _run_profiled(args)
    if args.json:
        print(_run_json(run))
        return 0
    _render_run_line(run, _console(args))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    run, program = _run_profiled(args)
    if args.json:
        print(_run_json(run))
        return 0
    console = _console(args)
    console.rule(f"[bold]{run['kernel']}[/bold] from {Path(run['program']).name} on the emulated V100 SM")
    render_summary([s for s in run["summary"] if s.name == run["kernel"]], console)
    _render_run_line(run, console)
    run["stats"].report(console, title=f"{run['kernel']} report")
    if args.source:
        console.rule(f"[bold]{run['kernel']} source[/bold]")
        run["stats"].source_report(program, run["kernel"], console, top=args.top)
    return 0


# ------------------------------------------------------------------------------------------ gemm


def _on_sms(sms: int) -> str:
    return "" if sms == 80 else f", on {sms} of the V100's 80 SMs"


def _add_sms(p: argparse.ArgumentParser, default: int | None, default_text: str) -> None:
    p.add_argument("--sms", type=int, default=default, metavar="N",
                   help="run on N of the V100's 80 SMs with the L2 and DRAM bandwidth scaled by N/80 "
                   "(Device.v100_slice), so each SM carries the load of a problem about 80/N times larger "
                   f"on the whole GPU (default {default_text})")


def _check_gemm_args(modes: list[str], m: int, n: int, k: int, sparsity_a: float, sparsity_b: float) -> None:
    from .kernels import GEMM_MODES

    unknown = [x for x in modes if x not in GEMM_MODES]
    if unknown or not modes:
        raise OtcError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; available: {', '.join(GEMM_MODES)}")
    for name, v in (("sparsity-a", sparsity_a), ("sparsity-b", sparsity_b)):
        if not 0.0 <= v <= 1.0:
            raise OtcError(f"--{name} must be in [0, 1], got {v}")
    if min(m, n, k) < 1:
        raise OtcError("-m, -n and -k must be at least 1")


def _check_report(report: str | None, modes: Sequence[str]) -> None:
    if report is not None and report not in modes:
        raise OtcError(f"--report {report}: that mode does not run; choose one of {', '.join(modes)}")


def _gemm_rows(runs: dict, modes: Sequence[str]) -> list[dict]:
    from .report import comparison

    rows = comparison({mode: runs[mode]["stats"] for mode in modes}, modes[0])
    for r in rows:
        r["within_bound"] = runs[r["mode"]]["within_bound"]
        r["max_abs_err"] = runs[r["mode"]]["max_abs_err"]
        if "program" in runs[r["mode"]]:  # the mode picks one of several programs (hss, spgemm_wide)
            r["program"] = runs[r["mode"]]["program"][0]
        if "order" in runs[r["mode"]]:  # and its CTA order (spgemm_wide: kernels.wide_order)
            r["cta_order"] = runs[r["mode"]]["order"]
        if "tile" in runs[r["mode"]]:  # and its warp tile (spgemm_wide: kernels.wide_tile)
            r["warp_tile"] = runs[r["mode"]]["tile"]
        if "warps" in runs[r["mode"]]:  # the sparse convolutions' warps per CTA (conv.sparse_warps)
            r["warps_per_cta"] = runs[r["mode"]]["warps"]
        if "units" in runs[r["mode"]]:  # sparse_implicit_wide's channel tiles per warp (conv.wide_units)
            r["tiles_per_warp"] = runs[r["mode"]]["units"]
    return rows


def cmd_gemm(args: argparse.Namespace) -> int:
    from . import experiments
    from .report import render_comparison

    modes = [x.strip() for x in args.modes.split(",") if x.strip()]
    _check_gemm_args(modes, args.m, args.n, args.k, args.sparsity_a, args.sparsity_b)
    if args.cta_order is not None and "spgemm_wide" not in modes:
        raise OtcError(f"--cta-order {args.cta_order}: only spgemm_wide has a CTA order, and it does not run")
    if args.wide_tile is not None and "spgemm_wide" not in modes:
        raise OtcError(f"--wide-tile {args.wide_tile}: only spgemm_wide has a choice of warp tile, and it does not run")
    narrow = {None: None, "on": True, "off": False}[args.wide_narrow]
    if narrow is not None and "spgemm_wide" not in modes:
        raise OtcError(f"--wide-narrow {args.wide_narrow}: only spgemm_wide has a narrow program, and it does not run")
    if narrow and args.wide_tile not in (None, "64x64"):
        raise OtcError(f"--wide-narrow {args.wide_narrow}: the narrow program is the 64x64 tile's; --wide-tile is {args.wide_tile}")
    _check_report(args.report, modes)
    profiling.check_source_options(args, needs="report")
    experiments.check_sms(args.sms)
    spec = device_spec(args)
    console = _console(args)
    with progress_bar(console, len(modes), "GEMM") as bar, profiling.recording_for(args):
        runs = experiments.run_gemm(args.m, args.n, args.k, args.sparsity_a, args.sparsity_b, modes, args.seed, progress=bar,
                        sms=args.sms, spec=spec, cta_order=args.cta_order, wide_tile=args.wide_tile, wide_narrow=narrow)
    _write_mode_timelines(args, runs, modes, "gemm", None if args.json else console)
    if args.json:
        print(_json.dumps({"m": args.m, "n": args.n, "k": args.k, "sparsity_a": args.sparsity_a, "sms": args.sms,
                          "sparsity_b": args.sparsity_b, "baseline": modes[0], "modes": _gemm_rows(runs, modes)}, indent=2))
    else:
        console.rule(f"[bold]GEMM {args.m}x{args.n}x{args.k}[/bold], A {args.sparsity_a:.1%} and B {args.sparsity_b:.1%} "
                     f"zeros{_on_sms(args.sms)}")
        render_comparison({mode: runs[mode]["stats"] for mode in modes}, modes[0], console)
        for mode in modes:
            r = runs[mode]
            verdict = "within the documented bound" if r["within_bound"] else "OUTSIDE the documented bound"
            order = (f", warp tile {r['tile']}" if "tile" in r else "") + (f", CTA order {r['order']}" if "order" in r else "")
            ran = f" (ran {r['program'][0]}{order})" if "program" in r else ""
            console.print(f"{mode}{ran}: result vs NumPy float64: max |err| {r['max_abs_err']:.3g}, {verdict}")
        if args.report:
            runs[args.report]["stats"].report(console, title=f"{args.report} report")
            if args.report in ("spgemm", "spgemm_a"):  # the sparse kernels' work per output tile
                from . import heatmap

                a, b = runs["_operands"]
                if not heatmap.render(heatmap.tile_ohmmas(a, b, args.report), args.k,
                                      executed=runs[args.report]["stats"].counters["ohmma.executed"], console=console):
                    return 1
            _render_mode_source(args, runs, "gemm", console)
    return 0 if all(runs[mode]["within_bound"] for mode in modes) else 1


def _mode_program(family: str, mode: str, run: dict | None = None):
    """(program, kernel name) that runs ``mode`` of ``family`` ("gemm" or "conv"); ``run``: the
    mode's entry of run_gemm, which names the program when the mode picks one (hss)."""
    from ._operands import shipped_program
    from .kernels import CONV_MODES, GEMM_MODES

    file, kernel = (run or {}).get("program") or (GEMM_MODES if family == "gemm" else CONV_MODES)[mode]
    return shipped_program(file), kernel


def _write_mode_timelines(args: argparse.Namespace, runs: dict, modes: Sequence[str], family: str, console) -> None:
    """--timeline of gemm / conv: the --report mode's launch, else every mode's."""
    chosen = [args.report] if args.report else list(modes)
    profiling.write_timelines(args, {m: (runs[m]["stats"], *_mode_program(family, m, runs[m])) for m in chosen}, console)


def _render_mode_source(args: argparse.Namespace, runs: dict, family: str, console) -> None:
    if args.source:
        program, kernel = _mode_program(family, args.report, runs[args.report])
        console.rule(f"[bold]{args.report} source ({kernel})[/bold]")
        runs[args.report]["stats"].source_report(program, kernel, console, top=args.top)


# ------------------------------------------------------------------------------------------- demo


def cmd_demo(args: argparse.Namespace) -> int:
    from . import experiments, heatmap
    from .report import render_comparison

    modes = list(DEMO_MODES)
    m = n = k = args.size
    _check_gemm_args(modes, m, n, k, args.sparsity_a, args.sparsity_b)
    experiments.check_sms(args.sms)
    spec = device_spec(args)
    console = _console(args)
    if not args.json:
        console.rule(f"[bold]Dual-side sparse GEMM[/bold] {m}x{n}x{k}, A {args.sparsity_a:.1%} / B {args.sparsity_b:.1%} zeros")
        console.print("On the emulated V100 with outer-product tensor cores" + (
            "." if args.sms == 80 else f", on {args.sms} of its 80 SMs with their share of the L2 and DRAM "
            "bandwidth, so each SM runs several CTAs one after another as in a large GEMM on the whole GPU."))
        console.print(
            "C = A x B runs on the emulated SM in four ways: [bold]hmma[/bold] (Volta's inner-product tensor cores, "
            "dense), [bold]owmma[/bold] (the outer-product tensor core, dense), [bold]spgemm_a[/bold] (single-side: "
            "A's zeros skipped) and [bold]spgemm[/bold] (dual-side: per k, a warp's 32x32 tile runs OHMMAs only for "
            "the 8-row groups of A's condensed column slice and 16-column groups of B's condensed row slice that "
            "hold non-zeros, found from the bitmaps). Cycles come from the cycle model running each program.")
    with progress_bar(console, len(modes), "GEMM") as bar:
        runs = experiments.run_gemm(m, n, k, args.sparsity_a, args.sparsity_b, modes, args.seed, progress=bar, sms=args.sms,
                        spec=spec)
    a, b = runs["_operands"]
    tiles = heatmap.tile_ohmmas(a, b, "spgemm")
    stats = {mode: runs[mode]["stats"] for mode in modes}
    executed = stats["spgemm"].counters["ohmma.executed"]
    ok = all(runs[mode]["within_bound"] for mode in modes) and int(tiles.sum()) == executed
    if args.json:
        print(_json.dumps({"m": m, "n": n, "k": k, "sparsity_a": args.sparsity_a, "sparsity_b": args.sparsity_b, "sms": args.sms,
                          "baseline": "hmma", "modes": _gemm_rows(runs, modes),
                          "tiles": {"shape": list(tiles.shape), "ohmma_executed_from_bitmaps": int(tiles.sum()),
                                    "ohmma_executed_counter": executed, "dense_ohmmas_per_tile": heatmap.DENSE_OHMMAS_PER_K * k},
                          "ok": ok}, indent=2))
        return 0 if ok else 1
    render_comparison(stats, "hmma", console)
    for mode in modes:
        r = runs[mode]
        verdict = "[green]within the documented bound[/green]" if r["within_bound"] else "[bold red]OUTSIDE the documented bound[/bold red]"
        console.print(f"{mode}: result vs NumPy float64: max |err| {r['max_abs_err']:.3g}, {verdict}")
    console.print(_verdict(stats))
    stats["spgemm"].report(console, title="spgemm (dual-side sparse) report")
    heatmap.render(tiles, k, executed=executed, console=console)
    return 0 if ok else 1


def _verdict(stats: dict) -> str:
    """One sentence from the measured numbers: how spgemm compares with the dense baselines."""
    sp, base = stats["spgemm"].counters, stats["hmma"].counters
    words = []
    for other in ("hmma", "owmma"):
        ratio = stats[other].counters["cycles"] / sp["cycles"]
        words.append(f"{ratio:.2f}x faster than {other}" if ratio >= 1 else f"{1 / ratio:.2f}x slower than {other}")
    dense_tensor = stats["owmma"].counters.get("tensor.busy_cycles") or 0
    tensor = sp.get("tensor.busy_cycles") or 0
    share = f"{100.0 * tensor / dense_tensor:.1f}%" if dense_tensor else "n/a"
    skipped = sp["ohmma.skipped"]
    issued = (f"{skipped:,} OHMMAs skipped inside the sets that ran" if skipped
              else "no OHMMA issued predicated off: each k jumps to the ones it needs")
    return (f"[bold]spgemm[/bold] is {' and '.join(words)} in model cycles ({sp['cycles']:,} vs {base['cycles']:,} for hmma); "
            f"it executed {sp['ohmma.executed']:,} OHMMAs where dense owmma needs {stats['owmma'].counters['ohmma.executed']:,}, "
            f"and kept the tensor core busy {share} of dense owmma's cycles ({issued}).")


# ------------------------------------------------------------------------------------- experiment


def cmd_experiment(args: argparse.Namespace) -> int:
    from . import experiments
    from .cli_sweep import executor_from

    console = _console(args)
    spec = device_spec(args)
    options = {"size": args.size, "repeats": args.repeats, "host": args.host, "seed": args.seed,
               "tokens": args.tokens, "channels": args.channels, "sms": args.sms, "machine": spec["machine"],
               "full": args.full, "budget": args.budget, "models": args.models.split(",") if args.models else None,
               "settings": spec["settings"]}
    exp = experiments.get(args.name, options)
    quiet = args.json or args.markdown
    if not quiet:
        console.rule(f"[bold]experiment {exp.name}[/bold]")
        console.print(exp.title[0].upper() + exp.title[1:])
    exp.points(exp.options or {})  # bad options stop here, before an executor (Ray: seconds) starts
    executor = executor_from(args)
    progress = experiments.PointsProgress(console, exp.name, quiet)
    try:
        outcome = experiments.run(args.name, args.out, options, progress=progress, plot_png=args.plot, executor=executor)
    finally:
        progress.close()
    ok = all(r.get("ok", True) for r in outcome.rows) and not outcome.failed
    if args.json:
        print(_json.dumps({"experiment": exp.name, "ran": outcome.ran, "skipped": outcome.skipped, "ok": ok,
                           "failed": [{"params": p, "error": e} for p, e in outcome.failed],
                          "columns": [k for k, _ in outcome.columns], "rows": outcome.rows,
                          "files": [str(f) for f in outcome.files]}, indent=2))
    elif args.markdown:
        sys.stdout.write(experiments.markdown_for(exp.name, outcome.columns, outcome.rows))
    else:
        outcome.experiment.render(outcome.columns, outcome.rows, console)
        for f in outcome.files:
            console.print(f"wrote {f}", soft_wrap=True)
        if outcome.failed:
            console.print(f"{len(outcome.failed)} point(s) failed (errors in {args.out}; a re-run tries them again)")
    return 0 if ok else 1


# ------------------------------------------------------------------------------------------ main


def _add_output_options(p: argparse.ArgumentParser, json_help: str | None = "print the results as JSON") -> None:
    if json_help:
        p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--no-color", action="store_true", help="plain output: no colour, no progress bars")


def _add_machine_options(p: argparse.ArgumentParser) -> None:
    from .device import machines

    p.add_argument("--machine", metavar="NAME", help="shipped machine description: " + "; ".join(
        f"{name}: {text}" for name, text in machines().items()) + " (default: v100)")
    p.add_argument("--config", metavar="FILE", help="machine description (TOML, the keys to change on top of "
                   "--machine; default: none)")
    p.add_argument("--set", metavar="KEY=VALUE", action="append",
                   help="override one setting (dotted cycle-model key such as tensor.skipped_cycles=1, or a "
                        "functional setting such as tensor_arith=ieee); repeatable")


def _add_device_options(p: argparse.ArgumentParser) -> None:
    _add_machine_options(p)
    p.add_argument("--no-timing", action="store_true", help="switch the cycle model off (faster, same results, no cycles)")
    _add_timing_option(p)


def _add_timing_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timing", metavar="MODE", help="full (default) or sampled: time only the CTAs of one SM in 8 "
                   "(sampled:N, N SMs) and extrapolate the cycle model's statistics, with the expected error "
                   "(docs/timing.md \"Sampled timing\"); results are exact either way")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="otc-emu: a V100 (sm_70) SM emulator with outer-product tensor cores. "
        "Start with `otc-emu demo`.",
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

    for name, func, summary in (("run", cmd_run, "run a kernel on the emulated GPU and save its output arrays"),
                                ("profile", cmd_profile, "run a kernel and print the full profiling report")):
        p = sub.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. Arguments follow the kernel's .param list, one --arg "
            "each: TYPE:VALUE for scalars (u8 s8/i8 u16 s16/i16 u32 s32/i32 u64 s64/i64 f16 f32 f64, e.g. u32:128, "
            "i32:-1, f32:2.5; a bare number takes the declared type), FILE.npy for an array copied to the device "
            "and passed as a pointer, zeros:DTYPE:SHAPE for a zeroed array (zeros:f32:1024, zeros:f16:64x64). "
            "With --out DIR every array argument is written back after the launch to DIR/<param name>.npy "
            "(arg<i>.npy when the kernel declares no names).",
        )
        p.add_argument("program", metavar="PROGRAM", help="source text, cuobjdump listing or binary program")
        p.add_argument("--kernel", metavar="NAME", help="kernel to launch (default: the only one)")
        p.add_argument("--grid", default="1", metavar="X[,Y[,Z]]", help="CTAs (default 1)")
        p.add_argument("--block", default="32", metavar="X[,Y[,Z]]", help="threads per CTA (default 32)")
        p.add_argument("--shared", type=int, default=None, metavar="BYTES", help="dynamic shared memory per CTA")
        p.add_argument("--arg", action="append", metavar="SPEC", help="one kernel argument (repeat, in order)")
        p.add_argument("--out", metavar="DIR", help="write every array argument to DIR/<name>.npy after the launch")
        p.add_argument("--cubin", metavar="FILE", help="the .cubin the listing came from (or its cuobjdump -elf text): "
                       "its constant banks (nvcc's literals in bank 2, __constant__ data in bank 3) go to the kernels")
        p.add_argument("--const", action="append", metavar="BANK:FILE", help="fill constant bank BANK (1..17) from "
                       "offset 0 with FILE (a .npy array's bytes, or a raw file), as cudaMemcpyToSymbol does for bank 3 "
                       "(repeat for several banks; takes precedence over --cubin for that bank)")
        _add_device_options(p)
        _add_output_options(p, "print the launch and its statistics as JSON (stats.to_dict())")
        if name == "profile":
            profiling.add_source_options(p, "the kernel")
        profiling.add_timeline_options(p)
        p.set_defaults(func=func)

    p = sub.add_parser(
        "demo",
        help="a dual-side sparse GEMM against the dense baselines, with the full report (start here)",
        description=f"Prune random fp16 operands (default {DEMO_SIZE}^3, A {DEMO_SPARSITY_A:.0%} and B "
        f"{DEMO_SPARSITY_B:.0%} zeros), run C = A x B as {', '.join(DEMO_MODES)} on the emulated V100 SM, check "
        "every result against NumPy, and print the cycle comparison, the dual-side kernel's full report and "
        "a heatmap of the OHMMAs it executed per 32x32 output tile. Exit code 1 if a check fails.",
    )
    p.add_argument("--size", type=int, default=DEMO_SIZE, help=f"M = N = K (default {DEMO_SIZE})")
    p.add_argument("--sparsity-a", type=float, default=DEMO_SPARSITY_A, help=f"fraction of zeros in A (default {DEMO_SPARSITY_A})")
    p.add_argument("--sparsity-b", type=float, default=DEMO_SPARSITY_B, help=f"fraction of zeros in B (default {DEMO_SPARSITY_B})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _add_sms(p, DEMO_SMS, str(DEMO_SMS))
    _add_machine_options(p)
    _add_output_options(p)
    p.set_defaults(func=cmd_demo)

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
    p.add_argument("--report", metavar="MODE", help="also print the full report of MODE (and, for spgemm and "
                   "spgemm_a, the heatmap of OHMMAs per output tile)")
    p.add_argument("--cta-order", type=int, choices=(0, 1), default=None,
                   help="spgemm_wide's CTA order: 0, consecutive CTAs share an A pair; 1, a B pair "
                   "(default: the one kernels.wide_order picks for the launch)")
    p.add_argument("--wide-tile", choices=("64x64", "128x32", "32x128"), default=None,
                   help="spgemm_wide's warp tile: 64x64 (two A tiles x two B tiles), 128x32 (four x one) or 32x128 (one x four) "
                   "(default: the one kernels.wide_tile picks for the operands)")
    p.add_argument("--wide-narrow", choices=("on", "off"), default=None,
                   help="spgemm_wide's 64x64 tile: on runs its narrow program (A's loads of pairs m = 2, 3 behind a "
                   "branch), off the plain one (default: the one kernels.wide_narrow picks for the operands; "
                   "on implies the 64x64 tile, off leaves the tile to the rule)")
    _add_sms(p, 80, "80, the whole V100")
    _add_machine_options(p)
    _add_timing_option(p)
    _add_output_options(p, "print the comparison as JSON")
    profiling.add_source_options(p, "the --report mode's kernel")
    profiling.add_timeline_options(p)
    p.set_defaults(func=cmd_gemm)

    _add_conv(sub)
    _add_experiment(sub)
    profiling.add_timeline_command(sub)
    from .cli_sweep import add_sweep_parser

    add_sweep_parser(sub, _add_output_options)
    return parser


def _add_experiment(sub) -> None:
    from .experiments import EXPERIMENTS

    p = sub.add_parser(
        "experiment",
        help="reproduce the paper's experiments (fig21, table3, layers, fig22, zeros) and the premises' ablation; resumable",
        description="Run one of the paper's experiments on the emulator: "
        + "; ".join(f"{e.name}: {e.title}" for e in EXPERIMENTS.values())
        + ". Every finished point is stored in DIR as it completes (NAME.points.jsonl), keyed by its "
        "parameters and a hash of the programs and the emulator, so re-running skips finished points and "
        "never reuses stale ones. Results: a table, DIR/NAME.csv and DIR/NAME.json (and DIR/NAME.png with "
        "--plot, which needs matplotlib: pip install 'otc-emu[plot]'). docs/experiments.md has the details.",
    )
    p.add_argument("name", choices=sorted(EXPERIMENTS), metavar="NAME", help=", ".join(EXPERIMENTS))
    p.add_argument("--out", metavar="DIR", required=True, help="directory for the points and the results")
    p.add_argument("--size", type=int, default=None,
                   help="fig21: M = N = K (default 512; the paper used 4096); table3: feature map H = W (default 56)")
    p.add_argument("--repeats", type=int, default=3, help="table3 --host: timings per point, the median is kept (default 3)")
    p.add_argument("--host", action="store_true",
                   help="table3: also time the host NumPy reference im2col (an extra, not the designs)")
    p.add_argument("--channels", type=int, default=None,
                   help="table3: channels of the 128-channel layer to emulate (default 128; C of them run on 80 * C / 128 SMs)")
    p.add_argument("--tokens", type=int, default=None, help="layers: BERT-base sequence length (default 128)")
    p.add_argument("--full", action="store_true", help="fig22: every layer whole on all 80 SMs, Mask R-CNN's FPN P2 and the LSTM's W_ih too (slow), not bands")
    p.add_argument("--budget", type=float, default=None, metavar="MMAC",
                   help="fig22: million MACs per layer band (default 2000: all but two layers whole), each band on its share of the 80 SMs")
    p.add_argument("--models", default=None, metavar="M1,M2",
                   help="fig22: the models to run (default all: VGG-16,ResNet-18,Mask R-CNN,BERT-base,LSTM LM)")
    _add_sms(p, None, "fig21: 4, layers: 80, table3: 80 * channels / 128")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--plot", action="store_true", help="also write DIR/NAME.png (needs matplotlib)")
    p.add_argument("--markdown", action="store_true", help="print the result table as Markdown (for the README)")
    from .cli_sweep import add_executor_options

    add_executor_options(p)
    _add_machine_options(p)
    _add_output_options(p)
    p.set_defaults(func=cmd_experiment)


def _add_conv(sub) -> None:
    p = sub.add_parser(
        "conv",
        help="run a convolution in several modes on the same data and compare cycles",
        description="Make a ReLU-like (C, H, W) feature map and pruned K x C x R x S weights at the given "
        "sparsities, run the convolution in each mode (kernels.CONV_MODES) on the emulated SM, check every "
        "result against NumPy and print the cycle comparison (speedups over the first mode).",
    )
    p.add_argument("-c", type=int, default=64, help="input channels (default 64)")
    p.add_argument("-k", type=int, default=64, help="output channels (default 64)")
    p.add_argument("--hw", type=int, default=14, help="feature map height = width (default 14)")
    p.add_argument("-r", type=int, default=3, help="filter height = width (default 3)")
    p.add_argument("--stride", type=int, default=1, help="stride (default 1)")
    p.add_argument("--padding", type=int, default=1, help="zero padding (default 1)")
    p.add_argument("--sparsity-x", type=float, default=0.5, help="fraction of zeros in the feature map (default 0.5)")
    p.add_argument("--sparsity-w", type=float, default=0.8, help="fraction of zeros in the weights (default 0.8)")
    p.add_argument("--modes", default=None, help="comma-separated modes; the first is the baseline (default: all)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--report", metavar="MODE", help="also print the full report of MODE")
    _add_sms(p, 80, "80, the whole V100")
    _add_machine_options(p)
    _add_timing_option(p)
    _add_output_options(p, "print the comparison as JSON")
    profiling.add_source_options(p, "the --report mode's kernel")
    profiling.add_timeline_options(p)
    p.set_defaults(func=cmd_conv)


def cmd_conv(args: argparse.Namespace) -> int:
    from . import experiments
    from .kernels import CONV_MODES as conv_modes
    from .report import render_comparison

    modes = [x.strip() for x in args.modes.split(",") if x.strip()] if args.modes else list(conv_modes)
    unknown = [x for x in modes if x not in conv_modes]
    if unknown or not modes:
        raise OtcError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; available: {', '.join(conv_modes)}")
    for name, v in (("sparsity-x", args.sparsity_x), ("sparsity-w", args.sparsity_w)):
        if not 0.0 <= v <= 1.0:
            raise OtcError(f"--{name} must be in [0, 1], got {v}")
    if min(args.c, args.k, args.hw, args.r, args.stride) < 1 or args.padding < 0:
        raise OtcError("-c, -k, --hw, -r and --stride must be at least 1, --padding at least 0")
    _check_report(args.report, modes)
    profiling.check_source_options(args, needs="report")
    experiments.check_sms(args.sms)
    spec = device_spec(args)
    layer = experiments.ConvLayer("cli", args.c, args.k, args.hw, args.r, args.stride, args.padding,
                                  args.sparsity_x, args.sparsity_w)
    console = _console(args)
    with progress_bar(console, len(modes), "conv") as bar, profiling.recording_for(args):
        runs = experiments.run_conv(layer, modes, seed=args.seed, progress=bar, sms=args.sms, spec=spec)
    _write_mode_timelines(args, runs, modes, "conv", None if args.json else console)
    stats = {mode: runs[mode]["stats"] for mode in modes}
    if args.json:
        print(_json.dumps({"layer": layer.as_dict(), "sms": args.sms, "baseline": modes[0],
                          "modes": _gemm_rows(runs, modes)}, indent=2))
    else:
        console.rule(f"[bold]conv {layer.describe()}{_on_sms(args.sms)}[/bold]")
        render_comparison(stats, modes[0], console)
        for mode in modes:
            r = runs[mode]
            verdict = "within the documented bound" if r["within_bound"] else "OUTSIDE the documented bound"
            shape = [f"{r['warps']} warp{'s' if r['warps'] > 1 else ''} per CTA"] if "warps" in r else []
            if "units" in r:
                shape.append(f"{r['units']} channel tile{'s' if r['units'] > 1 else ''} per warp")
            shape_text = f" ({', '.join(shape)})" if shape else ""
            console.print(f"{mode}{shape_text}: result vs NumPy float64: max |err| {r['max_abs_err']:.3g}, {verdict}")
        if args.report:
            stats[args.report].report(console, title=f"{args.report} report")
            _render_mode_source(args, runs, "conv", console)
    return 0 if all(runs[mode]["within_bound"] for mode in modes) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .device import timing_mode

        with timing_mode(getattr(args, "timing", None)):
            return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C: finished points are stored; a re-run resumes
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `otc-emu disasm x | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:  # Ctrl-C: the launch stopped (device memory is consistent); no traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        message = "the host ran out of memory"
    except (OtcError, ValueError) as e:  # ValueError: a value the library refuses (a conv shape, ...)
        message = str(e)
    except OSError as e:
        where = e.filename if e.filename is not None else ""
        message = f"{where}: {e.strerror or e}" if where else str(e)
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
