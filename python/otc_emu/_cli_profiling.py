"""The command line's profiling options and the ``timeline`` command (docs/cli.md, docs/profiling.md):
``--source`` / ``--top N`` (the source view) and ``--timeline FILE.json`` / ``--timeline-cycles A:B``
/ ``--timeline-sms LIST`` on run, profile, gemm and conv; kept apart from cli.py's commands."""
from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any, Iterator, Mapping

from ._core import OtcError
from . import timeline

__all__ = ["add_timeline_options", "add_source_options", "recording_for", "write_timelines", "check_source_options",
           "add_timeline_command"]


def add_timeline_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeline", metavar="FILE.json",
                   help="write a Chrome trace / Perfetto timeline of the cycle model to FILE.json (open it in "
                        "https://ui.perfetto.dev; `otc-emu timeline FILE.json --png OUT.png` draws it)")
    a, b = timeline.DEFAULT_CYCLES
    p.add_argument("--timeline-cycles", metavar="A:B", default=f"{a}:{b}",
                   help=f"the cycles the timeline covers (default {a}:{b}; A: runs to the end)")
    p.add_argument("--timeline-sms", metavar="LIST", default=",".join(map(str, timeline.DEFAULT_SMS)),
                   help="the SMs the timeline covers: 0 or 0,2 or 0-3 or all (default 0)")


def add_source_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--source", action="store_true",
                   help=f"also print the source view of {what}: each SASS line with its cycles, stall reasons, "
                        "tensor cycles and memory traffic, hottest lines highlighted, basic blocks and loops marked")
    p.add_argument("--top", type=int, metavar="N", help="with --source: only the N hottest lines")


def check_source_options(args: argparse.Namespace, needs: str | None = None) -> None:
    """Reject --top without --source, --top below 1, and (``needs``: the option it depends on,
    such as "report") --source without that option."""
    if args.top is not None and not args.source:
        raise OtcError("--top N goes with --source")
    if args.top is not None and args.top < 1:
        raise OtcError(f"--top must be at least 1, got {args.top}")
    if args.source and needs is not None and getattr(args, needs, None) is None:
        raise OtcError(f"--source shows the kernel of --{needs} MODE; give --{needs}")
    if args.source and getattr(args, "no_timing", False):
        raise OtcError("--source needs the cycle model; drop --no-timing")


def _window(args: argparse.Namespace) -> timeline.Window | None:
    if not getattr(args, "timeline", None):
        return None
    if getattr(args, "no_timing", False):
        raise OtcError("--timeline needs the cycle model; drop --no-timing")
    return timeline.Window(timeline.parse_cycles(args.timeline_cycles), timeline.parse_sms(args.timeline_sms))


@contextlib.contextmanager
def recording_for(args: argparse.Namespace) -> Iterator[None]:
    """Record timelines of the launches inside when --timeline was given (options checked first)."""
    window = _window(args)
    if window is None:
        yield
        return
    with timeline.recording(window):
        yield


def write_timelines(args: argparse.Namespace, runs: Mapping[str, tuple[Any, Any, str]], console=None) -> list[str]:
    """Write --timeline FILE.json for ``runs`` (label -> (stats, program, kernel)): one run to
    FILE.json, several to FILE.<label>.json. Returns the paths; says so on ``console``."""
    if not getattr(args, "timeline", None):
        return []
    path = Path(args.timeline)
    written = []
    for label, (stats, program, kernel) in runs.items():
        out = path if len(runs) == 1 else path.with_name(f"{path.stem}.{label}{path.suffix or '.json'}")
        trace = timeline.write(out, stats, program, kernel)
        written.append(str(out))
        if console is not None:
            n = sum(1 for e in trace["traceEvents"] if e.get("ph") != "M")
            console.print(f"wrote timeline of {label} ({n:,} events) -> {out}", soft_wrap=True)
    return written


def cmd_timeline(args: argparse.Namespace) -> int:
    from rich import box
    from rich.table import Table

    from .cli import _console

    trace = timeline.load(args.file)
    console = _console(args)
    other = trace.get("otherData", {})
    totals = timeline.summary(trace)
    counters = other.get("kernel_counters", {})
    a, b = other.get("window_cycles", [0, 0])
    t = Table(title=f"Timeline {Path(args.file).name}: kernel {other.get('kernel')}, cycles "
                    f"{timeline.cycle_range(a, b)}, SMs {timeline.sm_ranges(other.get('sms', []))}", title_justify="left",
              box=box.MINIMAL_HEAVY_HEAD)
    t.add_column("Total")
    t.add_column("In the file", justify="right")
    t.add_column("Kernel counter", justify="right")
    for key in sorted(set(totals) | {k for k in counters if k != "cycles"}):
        t.add_row(key, f"{totals.get(key, 0):,}", f"{counters[key]:,}" if key in counters else "")
    console.print(t)
    console.print("The file covers the whole kernel on every SM when its totals equal the counters "
                  "(stall.idle counts only sub-cores that hold warps).")
    if args.png:
        timeline.render_png(trace, args.png)
        console.print(f"wrote {args.png}", soft_wrap=True)
    return 0


def add_timeline_command(sub) -> None:
    p = sub.add_parser(
        "timeline",
        help="check a timeline file (--timeline) against its kernel's counters; --png draws it",
        description="Read FILE.json written by --timeline (a Chrome trace event file), check that it is well "
        "formed, print its totals (issues, stall cycles by reason, tensor busy cycles, CTAs) beside the kernel "
        "counters it was recorded with, and with --png draw it with matplotlib (pip install 'otc-emu[plot]').",
    )
    p.add_argument("file", metavar="FILE.json", help="a timeline written by --timeline")
    p.add_argument("--png", metavar="OUT.png", help="draw the timeline to OUT.png (needs matplotlib)")
    p.add_argument("--no-color", action="store_true", help="plain output: no colour")
    p.set_defaults(func=cmd_timeline)
