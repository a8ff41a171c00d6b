"""``otc-emu sweep`` and the executor options every experiment command shares (``--workers``,
``--ray``); cli.py registers them."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import OtcError

__all__ = ["add_executor_options", "executor_from", "add_sweep_parser", "cmd_sweep", "parse_value"]


def add_executor_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, metavar="N", default=None,
                   help="run the points in N local worker processes (default: one after another in this process)")
    g.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run the points as Ray tasks: 'auto' joins the Ray running on this machine or "
                        "starts one; an address (HOST:PORT or ray://HOST:PORT) joins that cluster. "
                        "Needs pip install 'otc-emu[ray]'")


def executor_from(args: argparse.Namespace):
    from .experiments.executors import executor_for

    return executor_for(workers=getattr(args, "workers", None), ray=getattr(args, "ray", None))


def parse_value(text: str) -> Any:
    """A grid value from the command line: true/false, an integer, a number, else the text."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise OtcError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _spec_from(args: argparse.Namespace) -> dict:
    """The sweep spec: the TOML file's, then the flags' (a flag given replaces the file's key)."""
    from .experiments.sweep import load_spec

    spec: dict = load_spec(args.spec) if args.spec else {}
    if args.name:
        spec["name"] = args.name
    if args.machine:
        spec["machines"] = [m.strip() for arg in args.machine for m in arg.split(",") if m.strip()]
    if args.grid:
        grid = dict(spec.get("grid") or {})
        for item in args.grid:
            key, sep, values = item.partition("=")
            if not sep or not key.strip() or not values.strip():
                raise OtcError(f"--grid takes KEY=V1,V2,..., got {item!r}")
            grid[key.strip()] = [parse_value(v) for v in values.split(",") if v.strip()]
        spec["grid"] = grid
    if args.size or args.modes or args.sparsity_a or args.sparsity_b:
        given = spec.get("gemm") or []
        gemm: dict = dict(given[0]) if isinstance(given, list) and len(given) == 1 else {}  # the flags update the spec's one GEMM
        if args.size:
            dims = [int(x) for x in args.size.lower().replace("x", ",").split(",") if x.strip()]
            if len(dims) not in (1, 3):
                raise OtcError(f"--size takes N or M,N,K, got {args.size!r}")
            gemm.pop("size", None)
            gemm.update(zip("mnk", dims * 3 if len(dims) == 1 else dims))
        if args.modes:
            gemm["modes"] = [m.strip() for m in args.modes.split(",") if m.strip()]
        if args.sparsity_a:
            gemm["sparsity_a"] = _floats(args.sparsity_a, "--sparsity-a")
        if args.sparsity_b:
            gemm["sparsity_b"] = _floats(args.sparsity_b, "--sparsity-b")
        spec["gemm"] = [gemm]
    if args.conv:
        spec["conv"] = [{"name": name, **({"modes": args.conv_modes.split(",")} if args.conv_modes else {})}
                        for name in args.conv]
    if args.model:
        spec["model"] = [{"name": name} for name in args.model]
    if args.sms is not None:
        spec["sms"] = args.sms
    if args.seed is not None:
        spec["seed"] = args.seed
    return spec


def add_sweep_parser(sub, add_output_options) -> None:
    p = sub.add_parser(
        "sweep",
        help="sweep a grid of machine settings, machines and workloads; resumable, parallel (--workers, --ray)",
        description="Run every point of a grid: machines x values of machine keys x workloads (GEMM sizes, "
        "modes and sparsities; convolution layers), from a TOML spec and/or flags (flags replace the spec's "
        "keys). Each point builds its own Device and is stored in DIR/NAME.points.jsonl as it finishes, so a "
        "re-run resumes; a failed point is recorded with its error and the sweep goes on. Results: a table, "
        "DIR/NAME.csv, DIR/NAME.json and with --heatmap X,Y a PNG. docs/experiments.md has the details.",
    )
    p.add_argument("spec", nargs="?", metavar="SPEC.toml", help="the sweep as a TOML file (keys: name, machines, grid, "
                   "gemm, conv, model, sms, seed)")
    p.add_argument("--out", metavar="DIR", required=True, help="directory for the points and the results")
    p.add_argument("--name", help="the sweep's name: its files are DIR/NAME.* (default: sweep)")
    p.add_argument("--machine", action="append", metavar="M1,M2",
                   help="machines: v100 or the path of a machine file (TOML); repeatable (default: v100)")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                   help="a machine key and its values, e.g. accbuf.collector_window=1,4,8; repeatable")
    p.add_argument("--size", metavar="N|M,N,K", help="GEMM workload: M = N = K, or M,N,K (default 256)")
    p.add_argument("--modes", metavar="M1,M2", help="GEMM modes, the first is the speedup baseline (default: all)")
    p.add_argument("--sparsity-a", metavar="S1,S2", help="GEMM: fractions of zeros in A (default 0)")
    p.add_argument("--sparsity-b", metavar="S1,S2", help="GEMM: fractions of zeros in B (default 0)")
    p.add_argument("--conv", action="append", metavar="LAYER", help="a convolution layer of the layers experiment by "
                   "name, e.g. 'ResNet-18 conv4_x'; repeatable (shapes of other layers: in the TOML spec)")
    p.add_argument("--conv-modes", metavar="M1,M2", help="modes of the --conv layers (default: the implicit conv modes)")
    p.add_argument("--model", action="append", metavar="MODEL", help="every layer of a model of the fig22 experiment "
                   "(Table II), e.g. 'ResNet-18', with every case, each layer the band fig22 runs; repeatable (layers, "
                   "cases and budget: in the TOML spec)")
    p.add_argument("--sms", type=int, default=None, help="run on this many SMs of each machine with their bandwidth share "
                   "(default: the whole machine)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the operands (default 0)")
    p.add_argument("--heatmap", metavar="X,Y", help="also write DIR/NAME.png: a heatmap of --value over two axes "
                   "(machine, a grid key, workload, sparsity_a, sparsity_b, mode); needs matplotlib")
    p.add_argument("--value", default="cycles", help="the heatmap's value: cycles (default), speedup, tensor_busy_cycles")
    add_executor_options(p)
    add_output_options(p, "print the table as JSON")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    from . import experiments
    from .cli import _console
    from .experiments.sweep import heatmap_plot, sweep_experiment

    console = _console(args)
    exp = sweep_experiment(_spec_from(args))
    heat = None
    if args.heatmap:
        heat = [a.strip() for a in args.heatmap.split(",")]
        if len(heat) != 2:
            raise OtcError(f"--heatmap takes two axes X,Y, got {args.heatmap!r}")
        experiments.require_matplotlib()
    if not args.json:
        console.rule(f"[bold]sweep {exp.name}[/bold]")
        console.print(exp.title)
    progress = experiments.PointsProgress(console, exp.name, args.json)
    try:
        outcome = experiments.run_experiment(exp, args.out, progress, executor=executor_from(args))
    finally:
        progress.close()
    if heat is not None:
        outcome.files.append(heatmap_plot(outcome.rows, heat[0], heat[1], args.value, Path(args.out) / f"{exp.name}.png"))
    ok = all(r.get("ok", True) for r in outcome.rows) and not outcome.failed
    if args.json:
        json.dump({"sweep": exp.name, "ran": outcome.ran, "skipped": outcome.skipped, "ok": ok,
                   "failed": [{"params": p, "error": e} for p, e in outcome.failed],
                   "columns": [k for k, _ in outcome.columns], "rows": outcome.rows,
                   "files": [str(f) for f in outcome.files]}, sys.stdout, indent=2)
        print()
    else:
        exp.render(outcome.columns, outcome.rows, console)
        for f in outcome.files:
            console.print(f"wrote {f}", soft_wrap=True)
        if outcome.failed:
            console.print(f"{len(outcome.failed)} point(s) failed (errors in {exp.name}.points.jsonl; a re-run tries "
                          "them again)")
    return 0 if ok else 1
