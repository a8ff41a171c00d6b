"""An Nsight-Compute-like source view: the kernel's SASS with the cycle model's per-instruction
statistics (``Stats.per_pc``) beside each line, the hottest lines highlighted, basic blocks and
loop bodies marked (docs/profiling.md).

    res = dev.launch(prog, "spgemm", ...)
    res.stats.source_report(prog)                  # the whole listing, rich, to the terminal
    res.stats.source_report(prog, top=20)          # only the 20 hottest lines
    rows = source_view.lines(res.stats, prog)      # the same as data (SourceLine per instruction)

A line's *cycles* are the sub-core cycles spent on it: its issues (one cycle each) plus the stall
cycles charged to it (the cycles in which the warp that could issue soonest was waiting to issue
it). Summed over the lines they are every sub-core cycle of the kernel but the idle ones.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._core import OtcError
from .numbers import count_or_blank

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from .device import Stats

__all__ = ["SourceLine", "Region", "structure", "lines", "hottest", "regions", "render", "STALL_COLUMNS"]

STALL_COLUMNS = ("stall.control", "stall.frontend", "stall.dependency", "stall.memory", "stall.unit_busy",
                 "stall.register_bank", "stall.barrier", "stall.accumulation_buffer")

#: Control transfers whose next instruction starts a basic block, and those with a target.
_ENDS_BLOCK = {"BRA", "BRX", "JMP", "JMX", "CALL", "RET", "EXIT", "BREAK", "KILL"}
_TARGETED = {"BRA", "JMP", "CALL", "BSSY", "BMOV"}
_TARGET = re.compile(r"\b0x([0-9a-fA-F]+)\s*;?\s*$")


@dataclass
class SourceLine:
    """One instruction of the listing with its statistics (``stats``: the ``per_pc`` columns)."""

    pc: int
    text: str
    block: int
    block_start: bool
    #: Depth of loop nesting and, per enclosing loop from the outermost, "head", "body" or "back".
    loops: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def stall_cycles(self) -> int:
        return sum(self.stats.get(k, 0) for k in STALL_COLUMNS)

    @property
    def cycles(self) -> int:
        """Issue cycles plus the stall cycles charged to this instruction."""
        return self.stats.get("warp_instructions", 0) + self.stall_cycles

    def top_stall(self) -> tuple[str, int] | None:
        """The stall reason with the most cycles here, or None without stalls."""
        best = max(STALL_COLUMNS, key=lambda k: self.stats.get(k, 0))
        n = self.stats.get(best, 0)
        return (best.split(".", 1)[1], n) if n else None


def _opcode(text: str) -> str:
    words = text.split()
    if words and words[0].startswith("@"):
        words = words[1:]
    return words[0].split(".")[0] if words else ""


def structure(texts: list[str]) -> tuple[list[int], list[tuple[int, int]]]:
    """Basic blocks and loops of a kernel from its instruction texts: (the index of the block of
    each instruction, the loops as (head, back edge) instruction indices, outermost first).
    A block starts at instruction 0, at every branch target, and after every control transfer; a
    loop is a backward branch, its body the instructions from its target to the branch."""
    n = len(texts)
    leaders = {0}
    loops: list[tuple[int, int]] = []
    for i, text in enumerate(texts):
        op = _opcode(text)
        if op in _TARGETED:
            m = _TARGET.search(text)
            if m:
                target = int(m.group(1), 16) // 16
                if 0 <= target < n:
                    leaders.add(target)
                    if op in ("BRA", "JMP") and target <= i:
                        loops.append((target, i))
        if op in _ENDS_BLOCK and i + 1 < n:
            leaders.add(i + 1)
    block, blocks = -1, []
    for i in range(n):
        if i in leaders:
            block += 1
        blocks.append(block)
    loops.sort(key=lambda hb: (hb[0], -hb[1]))
    return blocks, loops


def _kernel_name(stats: "Stats", program, kernel: str | None) -> str:
    kernels = program.kernels
    name = kernel if kernel is not None else stats.kernel
    if name is None:
        if len(kernels) != 1:
            raise OtcError(f"the program has {len(kernels)} kernels ({', '.join(kernels)}); name one")
        name = next(iter(kernels))
    if name not in kernels:
        raise OtcError(f"the program has no kernel {name!r}; it has {', '.join(kernels) or 'none'}")
    return name


def lines(stats: "Stats", program, kernel: str | None = None) -> list[SourceLine]:
    """The listing of ``kernel`` (default: the launched one) with ``stats.per_pc`` beside each
    instruction. Needs the cycle model's statistics of a launch of that kernel."""
    if not stats.per_pc:
        raise OtcError("the source view needs the cycle model's per-instruction statistics; "
                       "these statistics come from a launch without it (timing=False)")
    name = _kernel_name(stats, program, kernel)
    texts = list(program.kernels[name].instructions())
    cols = stats.per_pc
    if len(cols["pc"]) > len(texts):
        raise OtcError(f"these statistics cover {len(cols['pc'])} instructions but kernel {name} has {len(texts)}: "
                       "they come from another kernel")
    blocks, loops = structure(texts)
    out = []
    for i, text in enumerate(texts):
        marks = []
        for head, back in loops:
            if head <= i <= back:
                marks.append("head" if i == head else "back" if i == back else "body")
        row = {k: (v[i] if i < len(v) else 0) for k, v in cols.items() if k != "pc"}
        out.append(SourceLine(16 * i, text, blocks[i], i == 0 or blocks[i] != blocks[i - 1], marks, row))
    return out


@dataclass
class Region:
    """A loop body or a basic block with its lines' statistics added up."""

    kind: str  # "loop" or "block"
    first: int  # pc of its first and last instruction
    last: int
    lines: int
    #: Issues of the loop's back-edge branch (the passes through its end); for a block, of its last line.
    passes: int
    stats: dict[str, int]

    @property
    def cycles(self) -> int:
        return self.stats.get("warp_instructions", 0) + sum(self.stats.get(k, 0) for k in STALL_COLUMNS)

    @property
    def per_pass(self) -> float:
        """Warp-instructions issued per pass (the loop's cost per iteration in issue slots)."""
        return self.stats.get("warp_instructions", 0) / self.passes if self.passes else 0.0


def _region(kind: str, part: list[SourceLine]) -> Region:
    total: dict[str, int] = {}
    for r in part:
        for k, v in r.stats.items():
            total[k] = total.get(k, 0) + v
    return Region(kind, part[0].pc, part[-1].pc, len(part), part[-1].stats.get("warp_instructions", 0), total)


def regions(rows: list[SourceLine]) -> tuple[list[Region], list[Region]]:
    """(every loop, outermost first; every basic block), each with its lines' statistics summed."""
    _, loops = structure([r.text for r in rows])
    by_block: dict[int, list[SourceLine]] = {}
    for r in rows:
        by_block.setdefault(r.block, []).append(r)
    return ([_region("loop", rows[h:b + 1]) for h, b in loops], [_region("block", part) for part in by_block.values()])


def hottest(rows: list[SourceLine], n: int) -> list[SourceLine]:
    """The ``n`` lines with the most cycles (ties: lower pc first), hottest first."""
    ranked = sorted((r for r in rows if r.cycles), key=lambda r: (-r.cycles, r.pc))
    return ranked[:max(n, 0)]


_LOOP_GLYPH = {"head": "┌", "body": "│", "back": "└"}


def _loop_cell(marks: list[str], depth: int) -> str:
    cells = [_LOOP_GLYPH[m] for m in marks[:depth]]
    return "".join(cells).ljust(depth)


def _pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:.1f}" if d else ""


def render(stats: "Stats", program, kernel: str | None = None, console: "Console | None" = None,
           top: int | None = None, highlight: int = 10) -> None:
    """Print the source view: a table row per instruction (``top``: only the ``top`` hottest,
    the gaps shown as elided lines), a rule between basic blocks, loop bodies marked with
    ┌ │ └ (head, body, back edge), the ``highlight`` hottest lines ranked (#1 ...) and coloured."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console or Console()
    name = _kernel_name(stats, program, kernel)
    rows = lines(stats, program, name)
    ranks = {r.pc: i + 1 for i, r in enumerate(hottest(rows, max(highlight, top or 0)))}
    shown = {r.pc for r in hottest(rows, top)} if top is not None else {r.pc for r in rows}
    total = sum(r.cycles for r in rows)
    c = stats.counters
    idle = c.get("stall.idle", 0)
    con.print(f"[bold]{escape(name)}[/bold]: {len(rows):,} instructions, {max(r.block for r in rows) + 1:,} basic blocks, "
              f"{c.get('cycles', 0):,} cycles; {total:,} sub-core cycles charged to instructions "
              f"({c.get('issue.cycles', 0):,} issuing, {total - c.get('issue.cycles', 0):,} stalled), {idle:,} idle")
    depth = max((len(r.loops) for r in rows), default=0)
    headers = (("#", "right"), ("PC", "right"), ("Loop", "left"), ("Instruction", "left"), ("Warp inst", "right"),
               ("Pred-off %", "right"), ("Cycles", "right"), ("% cyc", "right"), ("Top stall", "left"),
               ("Tensor cyc", "right"), ("Shared wf (confl)", "right"), ("Sectors", "right"), ("L1 hit %", "right"),
               ("L2 hit %", "right"))
    # (cells, style, starts a new block) per shown line; an int for a run of hidden lines.
    body: list[tuple[list[str], str | None, bool] | int] = []
    previous_block = None
    for r in rows:
        if r.pc not in shown:
            body.append(body.pop() + 1 if body and isinstance(body[-1], int) else 1)
            continue
        new_block = previous_block is not None and r.block != previous_block
        previous_block = r.block
        s = r.stats
        issued, threads = s.get("warp_instructions", 0), s.get("thread_instructions", 0)
        stall = r.top_stall()
        wf, conf = s.get("smem.wavefronts", 0), s.get("smem.bank_conflicts", 0)
        l1 = s.get("l1.hits", 0) + s.get("l1.misses", 0)
        l2 = s.get("l2.hits", 0) + s.get("l2.misses", 0)
        rank = ranks.get(r.pc)
        loop = _loop_cell(r.loops, depth) + (f" B{r.block}" if r.block_start else "")
        cells = [f"#{rank}" if rank else "", f"{r.pc:04x}", loop, r.text, count_or_blank(issued),
                 _pct(s.get("predicated_off_lanes", 0), threads), count_or_blank(r.cycles), _pct(r.cycles, total),
                 f"{stall[0]} {_pct(stall[1], r.cycles)}%" if stall else "", count_or_blank(s.get("tensor.busy_cycles", 0)),
                 f"{wf:,} ({conf:,})" if wf else "", count_or_blank(s.get("gmem.read_sectors", 0) + s.get("gmem.write_sectors", 0)),
                 _pct(s.get("l1.hits", 0), l1), _pct(s.get("l2.hits", 0), l2)]
        hot = total and r.cycles >= 0.05 * total
        style = "bold red" if rank and rank <= 3 else "yellow" if rank or hot else None if issued else "dim"
        body.append((cells, style, new_block))
    t = Table(box=box.MINIMAL_HEAVY_HEAD, pad_edge=False, show_edge=False)
    for i, (col, just) in enumerate(headers):
        # Numbers never shrink; on a narrow terminal the instruction text is cut with an ellipsis.
        width = max([len(e[0][i]) for e in body if not isinstance(e, int)] + [len(col.split()[0])])
        t.add_column(escape(col), justify=just, no_wrap=True, overflow="ellipsis",
                     min_width=None if col == "Instruction" else width)
    for e in body:
        if isinstance(e, int):
            t.add_row("", "", "", f"[dim]⋮ {e} line{'s' if e > 1 else ''}[/dim]", *[""] * (len(headers) - 4))
            continue
        cells, style, new_block = e
        if new_block:
            t.add_section()
        t.add_row(*[escape(c) for c in cells], style=style)
    _print_wide(con, t)
    loops, blocks = regions(rows)
    r = Table(title="Loops and the hottest basic blocks", title_justify="left", box=box.MINIMAL_HEAVY_HEAD)
    for col in ("Region", "PCs", "Lines", "Passes", "Warp inst / pass", "Cycles", "% cyc", "Stalled %", "Top stall",
                "Tensor cyc", "Sectors"):
        r.add_column(escape(col), justify="left" if col in ("Region", "PCs", "Top stall") else "right", no_wrap=True)
    hot_blocks = sorted((b for b in blocks if b.cycles), key=lambda b: (-b.cycles, b.first))[:max(highlight // 2, 3)]
    for g in loops + hot_blocks:
        st = g.stats
        stalls = {k.split(".", 1)[1]: st.get(k, 0) for k in STALL_COLUMNS}
        top_reason = max(stalls, key=lambda k: stalls[k])
        name = f"loop (depth {sum(1 for o in loops if o.first <= g.first and g.last <= o.last)})" if g.kind == "loop" \
            else f"block B{rows[g.first // 16].block}"
        r.add_row(name, f"{g.first:04x}-{g.last:04x}", f"{g.lines:,}", count_or_blank(g.passes), f"{g.per_pass:.1f}" if g.passes else "",
                  count_or_blank(g.cycles), _pct(g.cycles, total), _pct(g.cycles - st.get("warp_instructions", 0), g.cycles),
                  f"{top_reason} {_pct(stalls[top_reason], g.cycles)}%" if stalls[top_reason] else "",
                  count_or_blank(st.get("tensor.busy_cycles", 0)), count_or_blank(st.get("gmem.read_sectors", 0) + st.get("gmem.write_sectors", 0)))
    _print_wide(con, r)


def _print_wide(con, table) -> None:
    """Print ``table``; piped (a file, a pager) as wide as it needs, nothing cut."""
    if con.is_terminal:
        con.print(table)
        return
    from rich.measure import Measurement

    width = con.width
    con.width = max(width, Measurement.get(con, con.options.update_width(10_000), table).maximum)
    try:
        con.print(table)
    finally:
        con.width = width
