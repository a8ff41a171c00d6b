"""Per-instruction statistics (Stats.per_pc), the source view and the timeline (docs/profiling.md)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from unittest import mock

import numpy as np
import pytest
from rich.console import Console

import otc_emu
from otc_emu import OtcError, conv, im2col, kernels, source_view, sparse, timeline
from otc_emu.device import PC_COLUMNS
from conftest import PROGRAM_FILES, PROGRAMS
from test_cli import cli

STALLS = [c for c in PC_COLUMNS if c.startswith("stall.")]


def _launch(file, kernel, grid, block, make_args, **settings):
    def run(window=None):
        dev = otc_emu.Device(**settings)
        prog = otc_emu.load(PROGRAMS / file)
        res = dev.launch(prog, kernel, grid, block, make_args(dev), timeline=window)
        return res.stats, prog, kernel
    return run


RAN: dict = {}  # the program each GEMM case last ran


def _gemm(mode, m, n, k, za, zb, vector_wise_b=False, depth=None, tile=None, narrow=None, **settings):
    """``depth``, ``tile``, ``narrow``: spgemm_wide's pipeline depth, warp tile and narrow program,
    forced (else the ones ``kernels.wide_depth``, ``kernels.wide_tile`` and ``kernels.wide_narrow`` pick)."""
    def run(window=None):
        a = sparse.prune_random(np.random.default_rng(1).standard_normal((m, k)), za, seed=2)
        b = sparse.prune_random(np.random.default_rng(3).standard_normal((k, n)), zb, seed=4)
        if vector_wise_b:  # vstc: 4 of 16 along k
            b = sparse.prune_vector_wise(b, zb)
        forced = mock.patch.object(kernels, "wide_depth", lambda dev, ctas, tile="64x64": depth) if depth else _nothing()
        with timeline.recording(window) if window else _nothing(), forced:
            wide = ({"wide_tile": tile} if tile else {}) | ({"wide_narrow": narrow} if narrow is not None else {})
            res = kernels.gemm(a, b, mode=mode, device=otc_emu.Device(**settings), **wide)
        file, kernel = kernels.GEMM_MODES[mode]
        RAN[run] = res.program or file
        return res.stats, otc_emu.load(PROGRAMS / (res.program or file)), kernel
    return run


def _structured(spec, m, n, k):
    """A structured-sparse GEMM (issue 18): A pruned to ``spec``, B dense; the program the mode ran."""
    from otc_emu.kernels_structured import PROGRAM_OF

    def run(window=None):
        a = sparse.prune_hss(np.random.default_rng(1).standard_normal((m, k)), spec)
        b = np.random.default_rng(3).standard_normal((k, n)).astype(np.float16)
        mode = "sp24" if spec == "C0(2:4)" else "hss"
        with timeline.recording(window) if window else _nothing():
            res = kernels.gemm(a, b, mode=mode, device=otc_emu.Device())
        kernel = PROGRAM_OF[spec]
        return res.stats, otc_emu.load(PROGRAMS / f"{kernel}.sass"), kernel
    return run


def _conv(mode, units=None, **settings):
    def run(window=None):
        x = sparse.relu_activations((32, 8 * 8), 0.5, seed=5).reshape(1, 32, 8, 8)
        w = sparse.prune_random(np.random.default_rng(6).standard_normal((32, 32 * 9)), 0.7, seed=7).reshape(32, 32, 3, 3)
        with timeline.recording(window) if window else _nothing():
            res = kernels.conv2d(x, w, stride=1, padding=1, mode=mode, device=otc_emu.Device(**settings), units=units)
        file, kernel = kernels.CONV_MODES[mode] if units is None else conv.WIDE_PROGRAMS[units]
        return res.stats, otc_emu.load(PROGRAMS / file), kernel
    return run


def _im2col(design):
    def run(window=None):
        x = sparse.relu_activations((4, 12 * 12), 0.6, seed=8).reshape(4, 12, 12)
        with timeline.recording(window) if window else _nothing():
            res = im2col.lower(x, 3, 3, 1, 1, design=design, device=otc_emu.Device())
        return res.stats, otc_emu.load(PROGRAMS / im2col.PROGRAM), im2col.DESIGNS[design]
    return run


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _f16(dev, n, seed):
    return dev.to_device((np.random.default_rng(seed).integers(-8, 9, n) / 4).astype(np.float16))


#: A launch of every kernel in programs/ (several sizes and sparsities for the GEMMs).
CASES = {
    "saxpy": _launch("saxpy.sass", "saxpy", 4, 128, lambda d: [np.uint32(500), np.float32(2.0),
                                                              d.to_device(np.arange(500, dtype=np.float32)),
                                                              d.zeros(500, np.float32)]),
    "vecadd_int": _launch("vecadd_int.sass", "vecadd_int", 3, 64, lambda d: [d.to_device(np.arange(1000, dtype=np.int32)),
                                                                            d.to_device(np.arange(1000, dtype=np.int32)),
                                                                            d.zeros(1000, np.int32), np.uint32(1000)]),
    "ohmma_tile": _launch("ohmma_tile.sass", "ohmma_tile", 1, 32, lambda d: [_f16(d, 8, 1), _f16(d, 16, 2),
                                                                            d.zeros(128, np.float32),
                                                                            d.zeros(128, np.float32)]),
    "owmma_16x16x16": _launch("owmma_16x16x16.sass", "owmma_16x16x16", 1, 32,
                              lambda d: [_f16(d, 256, 3), _f16(d, 256, 4), d.zeros(256, np.float32)]),
    "owmma_gemm": _gemm("owmma", 96, 64, 64, 0.0, 0.0),
    "hmma_gemm": _gemm("hmma", 128, 128, 64, 0.0, 0.0),
    "spgemm": _gemm("spgemm", 128, 128, 128, 0.9, 0.9),
    "spgemm.dense_b": _gemm("spgemm_a", 96, 64, 96, 0.5, 0.0),
    "spgemm.two_threads": _gemm("spgemm", 128, 128, 64, 0.8, 0.95, threads=2),
    "spgemm_seq": _gemm("spgemm_seq", 128, 128, 128, 0.9, 0.9, **{"tensor.spwmma_sequencer": True}),
    # spgemm_wide at each warp tile and pipeline depth (128^3 on 80 SMs: 4 CTAs, the rule picks the deepest)
    "spgemm_wide": _gemm("spgemm_wide", 128, 128, 128, 0.9, 0.9, depth=3, tile="64x64", narrow=False, **kernels.WIDE_MACHINE),
    "spgemm_wide_d4": _gemm("spgemm_wide", 128, 128, 128, 0.9, 0.9, depth=4, tile="64x64", narrow=False, **kernels.WIDE_MACHINE),
    "spgemm_wide_d5": _gemm("spgemm_wide", 128, 128, 128, 0.9, 0.9, depth=5, tile="64x64", narrow=False, **kernels.WIDE_MACHINE),
    "spgemm_wide_d6": _gemm("spgemm_wide", 128, 128, 128, 0.9, 0.9, tile="64x64", narrow=False, **kernels.WIDE_MACHINE),
    # (A 90% zeros: every record narrow, the rule's program)
    "spgemm_wide_narrow": _gemm("spgemm_wide", 128, 128, 128, 0.9, 0.9, depth=3, **kernels.WIDE_MACHINE),
    "spgemm_wide_narrow_d4": _gemm("spgemm_wide", 128, 128, 128, 0.9, 0.9, depth=4, **kernels.WIDE_MACHINE),
    "spgemm_wide_narrow_d5": _gemm("spgemm_wide", 128, 128, 128, 0.9, 0.9, depth=5, **kernels.WIDE_MACHINE),
    "spgemm_wide_narrow_d6": _gemm("spgemm_wide", 128, 128, 128, 0.9, 0.9, **kernels.WIDE_MACHINE),
    "spgemm_tall": _gemm("spgemm_wide", 128, 128, 128, 0.5, 0.99, depth=3, tile="128x32", **kernels.WIDE_MACHINE),
    "spgemm_tall_d4": _gemm("spgemm_wide", 128, 128, 128, 0.5, 0.99, depth=4, tile="128x32", **kernels.WIDE_MACHINE),
    "spgemm_broad": _gemm("spgemm_wide", 128, 128, 128, 0.99, 0.5, depth=3, tile="32x128", **kernels.WIDE_MACHINE),
    "spgemm_broad_d4": _gemm("spgemm_wide", 128, 128, 128, 0.99, 0.5, depth=4, tile="32x128", **kernels.WIDE_MACHINE),
    "spgemm_broad_d5": _gemm("spgemm_wide", 128, 128, 128, 0.99, 0.5, depth=5, tile="32x128", **kernels.WIDE_MACHINE),
    "spgemm_broad_d6": _gemm("spgemm_wide", 128, 128, 128, 0.99, 0.5, tile="32x128", **kernels.WIDE_MACHINE),
    "csr_spgemm": _gemm("csr", 96, 64, 64, 0.8, 0.9),
    "vstc_gemm": _gemm("vstc", 128, 128, 64, 0.0, 0.75, vector_wise_b=True),
    "sp24_gemm": _structured("C0(2:4)", 128, 128, 96),
    "hss4_gemm": _structured("C1(2:4)->C0(2:4)", 130, 128, 64),
    "hss8_gemm": _structured("C1(2:8)->C0(2:4)", 128, 64, 64),
    "im2col": _im2col("bitmap"),
    "im2col.csr": _im2col("csr"),
    "conv_dense_implicit": _conv("dense_implicit"),
    "conv_sparse_implicit": _conv("sparse_implicit"),
    "conv_sparse_implicit.single": _conv("single_sparse_implicit"),
    "conv_sparse_wide": _conv("sparse_implicit_wide", units=4, **kernels.WIDE_MACHINE),
    "conv_sparse_wide_u2": _conv("sparse_implicit_wide", units=2, **kernels.WIDE_MACHINE),
    "conv_sparse_wide_u1": _conv("sparse_implicit_wide", units=1, **kernels.WIDE_MACHINE),
}


def test_every_program_has_a_case():
    covered = {name.split(".")[0] for name in CASES}
    assert {p.stem for p in PROGRAM_FILES} <= covered


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith(("spgemm_wide", "spgemm_tall", "spgemm_broad"))])
def test_each_spgemm_wide_case_runs_its_program(name):
    CASES[name]()  # (the mode picks one of its programs: the case must get the one it is named after)
    assert RAN[CASES[name]] == f"{name}.sass"


def _expected(counters, column):
    if column == "predicated_off_lanes":
        return counters["thread_instructions"] - counters["predicated_thread_instructions"]
    return counters[column]


@pytest.mark.parametrize("name", sorted(CASES))
def test_per_pc_columns_sum_to_the_kernel_counters(name):
    stats, prog, kernel = CASES[name]()
    cols = stats.per_pc
    assert list(cols) == ["pc", *PC_COLUMNS]
    n = len(prog.kernels[kernel])
    assert cols["pc"] == [16 * i for i in range(n)]
    for column in PC_COLUMNS:
        assert len(cols[column]) == n
        assert sum(cols[column]) == _expected(stats.counters, column), column
    # the model's issues per pc are the functional run's
    assert cols["warp_instructions"] == stats.by_pc
    # work lands where the instructions are: tensor cycles only on tensor instructions, shared
    # wavefronts only on shared-memory (and ACCB) instructions, sectors only on LDG/STG/ATOM/RED
    texts = prog.kernels[kernel].instructions()
    for i, text in enumerate(texts):
        op = text.split()[1] if text.startswith("@") else text.split()[0]
        if cols["tensor.busy_cycles"][i]:
            assert op.startswith(("HMMA", "ACCB")), text
        if cols["smem.wavefronts"][i]:
            assert op.startswith(("LDS", "STS", "ATOMS", "ACCB")), text
        if cols["gmem.read_sectors"][i] or cols["gmem.write_sectors"][i]:
            assert op.startswith(("LDG", "STG", "ATOMG", "RED", "ATOM")), text


def test_per_pc_is_deterministic_and_timeline_changes_nothing():
    a, _, _ = CASES["spgemm.two_threads"]()
    b, _, _ = _gemm("spgemm", 128, 128, 64, 0.8, 0.95, threads=1)()
    assert a.per_pc == b.per_pc
    c, _, _ = _gemm("spgemm", 128, 128, 64, 0.8, 0.95, threads=2)(timeline.Window((0, 2**62), tuple(range(80))))
    assert c.timeline is not None and a.timeline is None
    assert c.to_dict() == a.to_dict()


def test_per_pc_rows_and_array():
    stats, _, _ = CASES["vecadd_int"]()
    recs = stats.per_pc_records()
    arr = stats.per_pc_array()
    assert len(recs) == len(arr) == 19
    assert recs[10]["pc"] == 0xa0 and arr["pc"][10] == 0xa0
    assert list(arr.dtype.names) == ["pc", *PC_COLUMNS]
    assert int(arr["warp_instructions"].sum()) == stats.counters["warp_instructions"]
    assert stats.to_dict()["per_pc"] == stats.per_pc
    json.loads(stats.to_json())


def test_untimed_launches_have_no_per_pc():
    dev = otc_emu.Device(timing=False)
    prog = otc_emu.load(PROGRAMS / "saxpy.sass")
    x = dev.zeros(64, np.float32)
    st = dev.launch(prog, "saxpy", 1, 64, [np.uint32(64), np.float32(1), x, x]).stats
    assert st.per_pc == {} and "per_pc" not in st.to_dict()
    with pytest.raises(OtcError, match="timing=False"):
        source_view.lines(st, prog)


# ------------------------------------------------------------------------------------ source view


@pytest.mark.parametrize("file, kernel, blocks, loops", [
    ("vecadd_int.sass", "vecadd_int", 4, [(8, 17)]),
    ("saxpy.sass", "saxpy", 2, []),
    ("owmma_16x16x16.sass", "owmma_16x16x16", 3, [(18, 29)]),
])
def test_structure_finds_blocks_and_loops(file, kernel, blocks, loops):
    texts = otc_emu.load(PROGRAMS / file).kernels[kernel].instructions()
    block_of, found = source_view.structure(texts)
    assert max(block_of) + 1 == blocks
    assert found == loops
    assert block_of == sorted(block_of) and block_of[0] == 0


def test_structure_of_a_nested_loop():
    texts = ["MOV R0, RZ", "IADD3 R1, R1, 0x1, RZ", "@P0 BRA 0x10", "IADD3 R0, R0, 0x1, RZ", "@P1 BRA 0x0", "EXIT"]
    blocks, loops = source_view.structure(texts)
    assert loops == [(0, 4), (1, 2)]
    assert blocks == [0, 1, 1, 2, 2, 3]


def test_source_lines_and_hottest():
    stats, prog, kernel = CASES["vecadd_int"]()
    rows = source_view.lines(stats, prog)
    assert [r.pc for r in rows] == [16 * i for i in range(19)]
    assert sum(r.cycles for r in rows) == (stats.counters["issue.cycles"]
                                           + sum(stats.counters[s] for s in STALLS))
    assert rows[8].loops == ["head"] and rows[17].loops == ["back"] and rows[12].loops == ["body"]
    assert rows[8].block_start and not rows[9].block_start
    top = source_view.hottest(rows, 3)
    assert len(top) == 3 and top[0].cycles >= top[1].cycles >= top[2].cycles
    # the adds of the loaded values wait for memory: the hottest line, a memory stall
    assert top[0].text.startswith("IADD3 R5") and top[0].top_stall()[0] == "memory"


def test_regions_add_up():
    stats, prog, _ = CASES["vecadd_int"]()
    rows = source_view.lines(stats, prog)
    loops, blocks = source_view.regions(rows)
    assert [(g.first, g.last, g.lines) for g in loops] == [(0x80, 0x110, 10)]
    assert loops[0].passes == stats.per_pc["warp_instructions"][17] == 32
    assert loops[0].per_pass == 10.0  # every line of the loop body issues once per pass
    assert [b.first for b in blocks] == [0x0, 0x50, 0x80, 0x120]
    assert sum(b.cycles for b in blocks) == sum(r.cycles for r in rows)
    assert sum(b.stats["l1.misses"] for b in blocks) == stats.counters["l1.misses"]


def _render(stats, prog, **kw) -> str:
    con = Console(file=io.StringIO(), width=100, record=True, no_color=True)
    stats.source_report(prog, console=con, **kw)
    return con.export_text()


def test_source_report_text():
    stats, prog, _ = CASES["vecadd_int"]()
    text = _render(stats, prog)
    for part in ("vecadd_int: 19 instructions, 4 basic blocks", "LDG.E.SYS R2, [R2]", "#1", "memory 99", "┌ B2", "└",
                 "loop (depth 1) │ 0080-0110 │    10 │     32 │             10.0"):
        assert part in text, part
    # piped: the full table width, nothing cut
    assert "ISETP.GE.AND P0, PT, R0, c[0x0][0x178], PT" in text and "L2 hit %" in text
    top = _render(stats, prog, top=2)
    assert top.count("⋮") >= 2 and "#1" in top and "#2" in top and "#3" not in top
    assert "S2R R0" not in top


def test_source_report_errors():
    stats, prog, _ = CASES["saxpy"]()
    other = otc_emu.load(PROGRAMS / "vecadd_int.sass")
    with pytest.raises(OtcError, match="no kernel 'saxpy'"):
        stats.source_report(other)
    stats.kernel = None
    two = otc_emu.assemble(".kernel a\nEXIT ;\n.end\n.kernel b\nEXIT ;\n.end\n")
    with pytest.raises(OtcError, match="2 kernels"):
        source_view.lines(stats, two)


# ---------------------------------------------------------------------------------------- timeline

EVERYTHING = timeline.Window((0, 2**62), tuple(range(80)))


@pytest.mark.parametrize("name", ["vecadd_int", "spgemm", "hmma_gemm", "conv_sparse_implicit"])
def test_full_timeline_adds_up_to_the_counters(name, tmp_path: Path):
    stats, prog, kernel = CASES[name](EVERYTHING)
    path = tmp_path / "t.json"
    timeline.write(path, stats, prog, kernel)
    trace = timeline.load(path)  # valid JSON and a well-formed trace
    totals = timeline.summary(trace)
    c = stats.counters
    assert totals["warp_instructions"] == c["warp_instructions"]
    assert totals["ctas"] == c["ctas"]
    assert totals.get("tensor.busy_cycles", 0) == c["tensor.busy_cycles"]
    for s in STALLS:
        assert totals.get(s, 0) == c[s], s
    assert totals.get("stall.idle", 0) <= c["stall.idle"]
    assert trace["otherData"]["kernel"] == kernel
    issue = next(e for e in trace["traceEvents"] if e.get("cat") == "issue")
    assert issue["args"]["instruction"] in prog.kernels[kernel].instructions()
    # a slice per issue on its sub-core and on its warp slot
    tids = {e["tid"] for e in trace["traceEvents"] if e.get("cat") == "issue"}
    assert any(t < 100 for t in tids) and any(t > 1000 for t in tids)


def test_timeline_window_and_sample():
    stats, prog, kernel = CASES["spgemm"](timeline.Window((200, 700), (1, 3)))
    trace = timeline.chrome_trace(stats, prog, kernel)
    timeline.check(trace)
    slices = [e for e in trace["traceEvents"] if e["ph"] != "M"]
    assert slices and {e["pid"] for e in slices} <= {1, 3}
    for e in slices:
        assert 200 <= e["ts"] <= 700
        if e["ph"] == "X":
            assert e["ts"] + e["dur"] <= 700
    full = timeline.summary(timeline.chrome_trace(CASES["spgemm"](EVERYTHING)[0]))
    assert timeline.summary(trace)["warp_instructions"] < full["warp_instructions"]


def test_no_timeline_without_asking():
    stats, _, _ = CASES["saxpy"]()
    assert stats.timeline is None
    with pytest.raises(OtcError, match="no timeline"):
        timeline.chrome_trace(stats)


@pytest.mark.parametrize("text, want", [("0:100", (0, 100)), ("5:", (5, 2**63)), (":7", (0, 7))])
def test_parse_cycles(text, want):
    assert timeline.parse_cycles(text) == want


@pytest.mark.parametrize("text, want", [("0", (0,)), ("3,1", (1, 3)), ("0-2,5", (0, 1, 2, 5)), ("all", tuple(range(80)))])
def test_parse_sms(text, want):
    assert timeline.parse_sms(text) == want
    assert timeline.sm_ranges(want) == {"all": "0-79", "3,1": "1,3"}.get(text, text)


@pytest.mark.parametrize("fn, text", [(timeline.parse_cycles, "10"), (timeline.parse_cycles, "9:3"),
                                      (timeline.parse_cycles, "a:b"), (timeline.parse_sms, "x"),
                                      (timeline.parse_sms, "-1")])
def test_bad_window_text(fn, text):
    with pytest.raises(OtcError):
        fn(text)


@pytest.mark.parametrize("trace, message", [
    ([], "traceEvents"),
    ({"traceEvents": [{"ph": "Q", "name": "x", "pid": 0, "tid": 0}]}, "known phase"),
    ({"traceEvents": [{"ph": "X", "name": "x", "pid": 0, "tid": 0, "ts": 1}]}, "dur"),
    ({"traceEvents": [{"ph": "X", "name": "x", "pid": 0, "ts": 1, "dur": 1}]}, "tid"),
    ({"traceEvents": [{"ph": "X", "name": "x", "pid": 0, "tid": 0, "ts": -1, "dur": 1}]}, "ts"),
    ({"traceEvents": [{"ph": "b", "name": "x", "pid": 0, "tid": 0, "ts": 1, "id": "a", "cat": "m"}]}, "never end"),
    ({"traceEvents": [{"ph": "e", "name": "x", "pid": 0, "tid": 0, "ts": 1, "id": "a", "cat": "m"}]}, "without a begin"),
])
def test_check_rejects_bad_traces(trace, message):
    with pytest.raises(OtcError, match=message):
        timeline.check(trace)


def test_render_png(tmp_path: Path):
    pytest.importorskip("matplotlib")
    stats, prog, kernel = CASES["ohmma_tile"](EVERYTHING)
    out = tmp_path / "t.png"
    timeline.render_png(timeline.chrome_trace(stats, prog, kernel), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------------------------------- CLI

VECADD = [PROGRAMS / "vecadd_int.sass", "--grid", "2", "--block", "64", "--arg", "zeros:s32:300", "--arg",
          "zeros:s32:300", "--arg", "zeros:s32:300", "--arg", "300"]


def test_cli_profile_source_and_timeline(tmp_path: Path):
    out = tmp_path / "v.json"
    run = cli("profile", *VECADD, "--source", "--top", "3", "--timeline", out, "--timeline-cycles", "0:", "--timeline-sms", "0-1")
    assert run.returncode == 0, run.stderr
    assert "vecadd_int source" in run.stdout and "#3" in run.stdout and "#4" not in run.stdout
    assert "\x1b[" not in run.stdout  # plain when piped
    assert f"-> {out}" in run.stdout
    trace = timeline.load(out)
    assert {e["pid"] for e in trace["traceEvents"]} == {0, 1}
    check = cli("timeline", out, "--no-color")
    assert check.returncode == 0, check.stderr
    assert "warp_instructions" in check.stdout and "cycles 0:, SMs 0-1" in check.stdout


def test_cli_gemm_report_source_and_timeline(tmp_path: Path):
    out = tmp_path / "g.json"
    run = cli("gemm", "-m", "64", "-n", "64", "-k", "64", "--modes", "owmma,spgemm", "--report", "spgemm", "--sms", "2",
              "--source", "--top", "5", "--timeline", out)
    assert run.returncode == 0, run.stderr
    assert "spgemm source (spgemm)" in run.stdout and "#5" in run.stdout
    assert timeline.load(out)["otherData"]["kernel"] == "spgemm"


def test_cli_run_timeline_per_mode(tmp_path: Path):
    out = tmp_path / "c.json"
    run = cli("conv", "-c", "32", "-k", "32", "--hw", "6", "--modes", "dense_implicit,sparse_implicit", "--timeline", out)
    assert run.returncode == 0, run.stderr
    assert timeline.load(tmp_path / "c.dense_implicit.json") and timeline.load(tmp_path / "c.sparse_implicit.json")


@pytest.mark.parametrize("args, message", [
    (["profile", *VECADD, "--top", "3"], "--top N goes with --source"),
    (["profile", *VECADD, "--source", "--top", "0"], "at least 1"),
    (["profile", *VECADD, "--source", "--no-timing"], "needs the cycle model"),
    (["run", *VECADD, "--timeline", "x.json", "--no-timing"], "needs the cycle model"),
    (["run", *VECADD, "--timeline", "x.json", "--timeline-cycles", "5"], "A:B"),
    (["gemm", "-m", "32", "-n", "32", "-k", "32", "--source"], "give --report"),
])
def test_cli_profiling_errors(args, message, tmp_path: Path):
    run = cli(*args, cwd=tmp_path)
    assert run.returncode == 1 and message in run.stderr, run.stderr


def test_cli_timeline_rejects_a_bad_file(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"traceEvents": [{"ph": "X"}]}')
    run = cli("timeline", bad)
    assert run.returncode == 1 and "bad.json" in run.stderr and "missing 'name'" in run.stderr
