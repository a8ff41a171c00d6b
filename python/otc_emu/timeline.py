"""Timelines of the cycle model as Chrome trace event / Perfetto JSON (docs/profiling.md).

The cycle model records a timeline only when asked, for a window of cycles on a sample of SMs
(so files stay small): what each sub-core issued or why it stalled, when each sub-core's tensor
core was busy, each warp slot's issues and memory requests in flight, and the CTAs resident.

    with otc_emu.timeline.recording(Window(cycles=(0, 20_000), sms=(0,))):
        res = kernels.gemm(a, b, mode="spgemm")
    trace = timeline.chrome_trace(res.stats, program, "spgemm")     # a dict; write() saves it
    timeline.summary(trace)       # issues, stall cycles by reason, tensor busy: match the counters

Open the file in https://ui.perfetto.dev (or chrome://tracing): one process per SM; one thread
per sub-core (issues and stall spans), per sub-core tensor core and per warp slot; CTAs and memory
requests are async slices. Times are cycles: 1 us in the viewer is 1 cycle. :func:`render_png`
draws the same file with matplotlib (``pip install 'otc-emu[plot]'``).
"""
from __future__ import annotations

import contextlib
import contextvars
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ._core import OtcError

if TYPE_CHECKING:  # pragma: no cover
    from .device import Stats

__all__ = ["Window", "recording", "active_window", "parse_cycles", "parse_sms", "chrome_trace", "write", "load",
           "check", "summary", "render_png", "sm_ranges", "cycle_range", "DEFAULT_CYCLES", "DEFAULT_SMS"]

#: The default window: the first 20,000 cycles of SM 0 (a few MB of JSON for a busy SM).
DEFAULT_CYCLES = (0, 20_000)
DEFAULT_SMS = (0,)

#: Thread ids inside an SM's process: sub-core s, its tensor core, warp slot w.
_TID_SUB, _TID_TENSOR, _TID_WARP = 1, 101, 1001
STALL_REASONS = ("control", "frontend", "dependency", "memory", "unit_busy", "register_bank", "barrier",
                 "accumulation_buffer", "idle")


@dataclass(frozen=True)
class Window:
    """Cycles ``cycles[0] <= c < cycles[1]`` of the SMs ``sms`` (indices from 0)."""

    cycles: tuple[int, int] = DEFAULT_CYCLES
    sms: tuple[int, ...] = DEFAULT_SMS

    def __post_init__(self):
        a, b = self.cycles
        if not (isinstance(a, int) and isinstance(b, int)) or a < 0 or b <= a:
            raise OtcError(f"timeline cycles must be A:B with 0 <= A < B, got {a}:{b}")
        if not self.sms or any(not isinstance(s, int) or s < 0 for s in self.sms):
            raise OtcError(f"timeline SMs must be indices >= 0, got {list(self.sms)}")


_ACTIVE: contextvars.ContextVar[Window | None] = contextvars.ContextVar("otc_emu_timeline", default=None)


@contextlib.contextmanager
def recording(window: Window | None = None) -> Iterator[Window]:
    """Every timed launch inside the block records a timeline of ``window`` (default: the first
    20,000 cycles of SM 0) into its ``stats.timeline``."""
    w = window or Window()
    token = _ACTIVE.set(w)
    try:
        yield w
    finally:
        _ACTIVE.reset(token)


def active_window() -> Window | None:
    """The window of the enclosing :func:`recording`, or None."""
    return _ACTIVE.get()


def parse_cycles(text: str) -> tuple[int, int]:
    """``"A:B"`` (``"A:"`` runs to the end of the kernel) as a pair of cycles."""
    a, sep, b = text.partition(":")
    try:
        lo = int(a) if a.strip() else 0
        hi = int(b) if b.strip() else 2**63
    except ValueError:
        raise OtcError(f"--timeline-cycles takes A:B (cycles, such as 0:20000 or 5000:), got {text!r}") from None
    if not sep or lo < 0 or hi <= lo:
        raise OtcError(f"--timeline-cycles takes A:B with 0 <= A < B, got {text!r}")
    return lo, hi


def parse_sms(text: str) -> tuple[int, ...]:
    """``"0,3"`` or ``"0-3"`` or ``"all"`` (up to 80 SMs) as SM indices."""
    if text.strip().lower() == "all":
        return tuple(range(80))
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.strip().partition("-")
            out.extend(range(int(lo), int(hi) + 1) if dash else [int(lo)])
    except ValueError:
        raise OtcError(f"--timeline-sms takes SM indices such as 0 or 0,2 or 0-3 or all, got {text!r}") from None
    if not out or min(out) < 0:
        raise OtcError(f"--timeline-sms takes SM indices >= 0, got {text!r}")
    return tuple(sorted(set(out)))


def sm_ranges(sms) -> str:
    """[0, 1, 2, 5] -> "0-2,5"."""
    out: list[str] = []
    for v in sorted(sms):
        if out and int(out[-1].split("-")[-1]) == v - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{v}"
        else:
            out.append(str(v))
    return ",".join(out)


def cycle_range(a: int, b: int) -> str:
    """The window as A:B (A: when it runs to the end of the kernel)."""
    return f"{a}:{b if b < 2**62 else ''}"


def _instruction_names(program, kernel: str | None) -> list[str]:
    if program is None:
        return []
    kernels = program.kernels
    name = kernel if kernel is not None else (next(iter(kernels)) if len(kernels) == 1 else None)
    if name is None or name not in kernels:
        return []
    return list(kernels[name].instructions())


def _mnemonic(text: str) -> str:
    words = text.split()
    if words and words[0].startswith("@"):
        words = words[1:]
    return words[0].rstrip(";") if words else text


def chrome_trace(stats: "Stats", program=None, kernel: str | None = None) -> dict[str, Any]:
    """The timeline of ``stats`` (recorded with :func:`recording` or ``Device.launch(timeline=)``)
    as a Chrome trace event dict. With ``program`` the slices are named by their instruction."""
    tl = stats.timeline
    if tl is None:
        raise OtcError("these statistics hold no timeline: launch inside otc_emu.timeline.recording() "
                       "or with Device.launch(timeline=Window(...))")
    kernel = kernel if kernel is not None else stats.kernel
    texts = _instruction_names(program, kernel)

    def text_of(pc: int) -> str:
        i = pc // 16
        return texts[i] if i < len(texts) else f"pc {pc:#06x}"

    events: list[dict[str, Any]] = []
    tracks: dict[tuple[int, int], str] = {}
    async_id = 0
    for kind, sm, unit, slot, warp, pc, start, end, detail in tl["events"]:
        if kind == "issue":
            text = text_of(pc)
            args = {"pc": f"{pc:#06x}", "instruction": text, "warp slot": slot, "warp in CTA": warp,
                    "result cycle": detail}
            for tid in (_TID_SUB + unit, _TID_WARP + slot):
                events.append({"name": _mnemonic(text), "cat": "issue", "ph": "X", "pid": sm, "tid": tid, "ts": start,
                               "dur": end - start, "args": args})
            tracks[(sm, _TID_SUB + unit)] = f"sub-core {unit}"
            tracks[(sm, _TID_WARP + slot)] = f"warp slot {slot}"
        elif kind == "stall":
            args = {"reason": detail}
            if detail != "idle":
                args.update({"pc": f"{pc:#06x}", "instruction": text_of(pc), "warp slot": slot, "warp in CTA": warp})
            events.append({"name": f"stall: {detail}", "cat": "stall", "ph": "X", "pid": sm, "tid": _TID_SUB + unit,
                           "ts": start, "dur": end - start, "args": args})
            tracks[(sm, _TID_SUB + unit)] = f"sub-core {unit}"
        elif kind == "tensor":
            text = text_of(pc)
            events.append({"name": _mnemonic(text), "cat": "tensor", "ph": "X", "pid": sm, "tid": _TID_TENSOR + unit,
                           "ts": start, "dur": end - start,
                           "args": {"pc": f"{pc:#06x}", "instruction": text, "warp slot": slot, "warp in CTA": warp}})
            tracks[(sm, _TID_TENSOR + unit)] = f"sub-core {unit} tensor core"
        elif kind in ("memory", "cta"):
            async_id += 1
            if kind == "memory":
                text = text_of(pc)
                name, cat = f"{detail} {_mnemonic(text)} (warp slot {slot})", "memory"
                args = {"pc": f"{pc:#06x}", "instruction": text, "space": detail, "warp slot": slot, "warp in CTA": warp}
            else:
                x, y, z, nwarps = detail
                name, cat = f"CTA ({x}, {y}, {z})", "cta"
                args = {"cta": [x, y, z], "warps": nwarps, "first warp slot": slot}
            base = {"name": name, "cat": cat, "pid": sm, "tid": 0, "id": f"{cat}{async_id}"}
            events.append({**base, "ph": "b", "ts": start, "args": args})
            events.append({**base, "ph": "e", "ts": end})
    meta: list[dict[str, Any]] = []
    for sm in sorted({sm for sm, _ in tracks} | {e["pid"] for e in events}):
        meta.append({"name": "process_name", "ph": "M", "pid": sm, "tid": 0, "args": {"name": f"SM {sm}"}})
        meta.append({"name": "process_sort_index", "ph": "M", "pid": sm, "tid": 0, "args": {"sort_index": sm}})
    for (sm, tid), name in sorted(tracks.items()):
        meta.append({"name": "thread_name", "ph": "M", "pid": sm, "tid": tid, "args": {"name": name}})
        meta.append({"name": "thread_sort_index", "ph": "M", "pid": sm, "tid": tid, "args": {"sort_index": tid}})
    counters = {k: v for k, v in stats.counters.items()
                if k in ("cycles", "warp_instructions", "tensor.busy_cycles", "ctas") or k.startswith("stall.")}
    other = {"generator": "otc-emu", "kernel": kernel, "time_unit": "1 us in the viewer = 1 cycle",
             "clock_mhz": stats.metrics.get("clock_mhz"), "window_cycles": [tl["from"], tl["to"]], "sms": list(tl["sms"]),
             "kernel_counters": counters}
    return {"traceEvents": meta + events, "displayTimeUnit": "ns", "otherData": other}


def write(path, stats: "Stats", program=None, kernel: str | None = None) -> dict[str, Any]:
    """Write :func:`chrome_trace` to ``path`` as JSON; returns the trace."""
    trace = chrome_trace(stats, program, kernel)
    Path(path).write_text(json.dumps(trace, separators=(",", ":")) + "\n", encoding="utf-8")
    return trace


def check(trace: Any) -> None:
    """Raise :class:`OtcError` naming the first problem unless ``trace`` is a Chrome trace event
    object as :func:`chrome_trace` writes it (``traceEvents`` with well-formed events, every
    async begin closed)."""
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        raise OtcError("not a Chrome trace: expected a JSON object with a traceEvents list")
    open_ids: dict[tuple, int] = {}
    for i, e in enumerate(trace["traceEvents"]):
        where = f"traceEvents[{i}]"
        if not isinstance(e, dict) or e.get("ph") not in ("X", "M", "b", "e", "i", "B", "E"):
            raise OtcError(f"{where}: not a trace event with a known phase (X, M, b, e, i, B, E)")
        for key in ("name", "pid", "tid"):
            if key not in e:
                raise OtcError(f"{where}: missing {key!r}")
        if e["ph"] == "M":
            continue
        ts = e.get("ts")
        if not isinstance(ts, (int, float)) or ts < 0:
            raise OtcError(f"{where}: 'ts' must be a number >= 0, got {ts!r}")
        if e["ph"] == "X" and (not isinstance(e.get("dur"), (int, float)) or e["dur"] < 0):
            raise OtcError(f"{where}: an X event needs 'dur' >= 0, got {e.get('dur')!r}")
        if e["ph"] in ("b", "e"):
            key = (e.get("cat"), e.get("id"), e["pid"])
            if e["ph"] == "b":
                open_ids[key] = ts
            elif key not in open_ids:
                raise OtcError(f"{where}: async end without a begin (id {e.get('id')!r})")
            elif ts < open_ids.pop(key):
                raise OtcError(f"{where}: async end before its begin (id {e.get('id')!r})")
    if open_ids:
        raise OtcError(f"{len(open_ids)} async slice(s) never end, e.g. id {next(iter(open_ids))[1]!r}")


def load(path) -> dict[str, Any]:
    """Read and :func:`check` a trace file."""
    try:
        trace = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise OtcError(f"{path}: not JSON: {e}") from None
    try:
        check(trace)
    except OtcError as e:
        raise OtcError(f"{path}: {e}") from None
    return trace


def summary(trace: dict[str, Any]) -> dict[str, int]:
    """Totals of a trace, named like the kernel counters they add up to over a window that
    covers the kernel on every SM: ``warp_instructions`` (issue slices of the sub-cores),
    ``stall.<reason>`` (stall cycles; ``stall.idle`` only of sub-cores with warps),
    ``tensor.busy_cycles`` and ``ctas``."""
    out: dict[str, int] = defaultdict(int)
    for e in trace["traceEvents"]:
        cat, ph = e.get("cat"), e.get("ph")
        if cat == "issue" and e["tid"] < _TID_TENSOR:
            out["warp_instructions"] += 1
        elif cat == "stall":
            out[f"stall.{e['args']['reason']}"] += e["dur"]
        elif cat == "tensor":
            out["tensor.busy_cycles"] += e["dur"]
        elif cat == "cta" and ph == "b":
            out["ctas"] += 1
    return dict(out)


#: Colours of the PNG rendering (matplotlib's tab10/tab20 names).
_STALL_COLORS = {"control": "tab:gray", "frontend": "tab:olive", "dependency": "tab:orange", "memory": "tab:red",
                 "unit_busy": "tab:purple", "register_bank": "tab:pink", "barrier": "tab:brown",
                 "accumulation_buffer": "tab:cyan", "idle": "gainsboro"}


def render_png(trace: dict[str, Any], path, title: str | None = None, width: float = 14.0) -> None:
    """Draw ``trace`` with matplotlib: one row per track (sub-cores with issues in dark blue and
    stalls coloured by reason, tensor cores in green, warp slots with issues and memory requests
    in flight), per SM. Needs matplotlib (``pip install 'otc-emu[plot]'``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        raise OtcError("rendering a timeline needs matplotlib: pip install 'otc-emu[plot]'") from None
    rows: dict[tuple[int, int], list[tuple[float, float, str]]] = defaultdict(list)
    names: dict[tuple[int, int], str] = {}
    for e in trace["traceEvents"]:
        ph = e.get("ph")
        if ph == "M" and e["name"] == "thread_name":
            names[(e["pid"], e["tid"])] = f"SM {e['pid']} {e['args']['name']}"
        elif ph == "X":
            cat = e.get("cat")
            color = {"issue": "navy", "tensor": "tab:green"}.get(cat) or _STALL_COLORS.get(e["args"].get("reason"), "k")
            rows[(e["pid"], e["tid"])].append((e["ts"], max(e["dur"], 1), color))
    # Memory requests in flight: per warp slot, a row whose height is how many are in flight.
    begins: dict[tuple, dict] = {}
    flight: dict[tuple[int, int], list[tuple[float, int]]] = defaultdict(list)
    for e in trace["traceEvents"]:
        if e.get("cat") == "memory" and e.get("ph") in ("b", "e"):
            key = (e["pid"], e["id"])
            if e["ph"] == "b":
                begins[key] = e
            elif key in begins:
                b = begins.pop(key)
                row = (e["pid"], -(_TID_WARP + b["args"]["warp slot"]))
                flight[row] += [(b["ts"], 1), (e["ts"], -1)]
                names[row] = f"SM {e['pid']} warp slot {b['args']['warp slot']} memory"
    order = sorted(set(rows) | set(flight), key=lambda k: (k[0], abs(k[1]), k[1] < 0))
    if not order:
        raise OtcError("the trace has no slices to draw")
    fig, ax = plt.subplots(figsize=(width, 1.0 + 0.22 * len(order)))
    for y, key in enumerate(order):
        by_color: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for start, dur, color in rows.get(key, []):
            by_color[color].append((start, dur))
        for color, bars in by_color.items():
            ax.broken_barh(bars, (y - 0.4, 0.8), facecolors=color, linewidth=0)
        if key in flight:
            steps = sorted(flight[key], key=lambda p: (p[0], p[1]))
            xs, ns, n = [], [], 0
            for ts, d in steps:
                n += d
                xs.append(ts)
                ns.append(n)
            peak = max(ns) or 1
            ax.fill_between(xs, [y + 0.4] * len(xs), [y + 0.4 - 0.8 * v / peak for v in ns], step="post",
                            color="tab:red", alpha=0.5, linewidth=0)
            names[key] += f" (up to {peak})"
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([names.get(k, f"SM {k[0]} track {k[1]}") for k in order], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("cycle")
    other = trace.get("otherData", {})
    a, b = other.get("window_cycles", [0, 0])
    ax.set_title(title or f"{other.get('kernel') or 'kernel'}: cycles {cycle_range(a, b)} on SM {sm_ranges(other.get('sms', []))}",
                 fontsize=9)
    legend = [Patch(color="navy", label="issue"), Patch(color="tab:green", label="tensor busy"),
              Patch(color="tab:red", alpha=0.5, label="memory requests in flight (height: how many)")]
    legend += [Patch(color=c, label=f"stall: {r}") for r, c in _STALL_COLORS.items()]
    ax.legend(handles=legend, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
