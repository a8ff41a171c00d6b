"""Reports: data first (sections, comparison), then the rich rendering checked as text."""
import numpy as np
import pytest
from rich.console import Console

import otc_emu
from otc_emu import kernels, report, sparse


@pytest.fixture(scope="module")
def runs():
    a = sparse.prune_random(np.random.default_rng(0).standard_normal((64, 64)), 0.9, seed=1)
    b = sparse.prune_random(np.random.default_rng(1).standard_normal((64, 64)), 0.99, seed=2)
    return {mode: kernels.gemm(a, b, mode=mode).stats for mode in ("hmma", "owmma", "spgemm")}


def test_sections_hold_the_counters(runs):
    s = runs["spgemm"]
    data = dict(report.sections(s))
    assert [n for n, _ in report.sections(s)] == ["Summary", "Instruction mix", "Issue stall reasons", "Tensor core",
                                                  "Accumulation buffer", "Memory"]
    summary = {m: v for m, _, v in data["Summary"]}
    assert summary["Cycles (slowest SM)"] == s.counters["cycles"]
    assert summary["Warp instructions"] == s.counters["warp_instructions"]
    tensor = {(m, u): v for m, u, v in data["Tensor core"]}
    ex, sk = s.counters["ohmma.executed"], s.counters["ohmma.skipped"]
    assert tensor[("OHMMA skipped", "%")] == pytest.approx(100 * sk / (ex + sk))
    assert sum(v for _, _, v in data["Instruction mix"]) <= 100.0 + 1e-9


def test_untimed_stats_leave_out_the_model_sections():
    a = np.ones((16, 16), np.float16)
    s = kernels.gemm(a, a, mode="owmma", device=otc_emu.Device(timing=False)).stats
    assert [n for n, _ in report.sections(s)] == ["Summary", "Instruction mix", "Tensor core"]


def test_report_renders_as_text(runs):
    con = Console(record=True, width=100)
    runs["spgemm"].report(console=con, title="spgemm 64x64x64")
    text = con.export_text()
    for heading in ("Section: Summary", "Section: Tensor core", "Section: Accumulation buffer", "Metric Value"):
        assert heading in text
    assert f"{runs['spgemm'].counters['cycles']:,}" in text  # thousands separators


def test_comparison_speedups(runs):
    rows = {r["mode"]: r for r in report.comparison(runs, baseline="hmma")}
    assert rows["hmma"]["speedup"] == 1.0
    assert rows["spgemm"]["speedup"] == pytest.approx(runs["hmma"].counters["cycles"] / runs["spgemm"].counters["cycles"])
    con = Console(record=True, width=100)
    report.render_comparison(runs, baseline="hmma", console=con)
    text = con.export_text()
    assert "Speedup [x]" in text and "spgemm" in text and "1.00" in text
    with pytest.raises(ValueError, match="baseline 'cusparse'"):
        report.comparison(runs, baseline="cusparse")


def test_cli_gemm_compares_modes_and_checks_results(capsys):
    import json

    from otc_emu.cli import main

    assert main(["gemm", "-m", "40", "-n", "33", "-k", "20", "--modes", "owmma,spgemm,spgemm_a", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    modes = {r["mode"]: r for r in out["modes"]}
    assert out["baseline"] == "owmma" and modes["owmma"]["speedup"] == 1.0
    assert all(r["within_bound"] for r in modes.values())
    issued = modes["spgemm"]["ohmma_executed"] + modes["spgemm"]["ohmma_skipped"]
    assert issued % 8 == 0 and issued <= 8 * 2 * 2 * 20  # 8 per set that runs; empty slices skip sets
    assert main(["gemm", "--modes", "spgemm,bogus"]) == 1
    assert "unknown mode(s) bogus" in capsys.readouterr().err
    assert main(["gemm", "--sparsity-a", "1.5"]) == 1
    assert "--sparsity-a must be in [0, 1]" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ heatmap

from otc_emu import heatmap  # noqa: E402


def _slices(nnz_a_cols, nnz_b_rows):
    """A (32 x K) whose column k has nnz_a_cols[k] non-zeros, B (K x 32) whose row k has nnz_b_rows[k]."""
    k = len(nnz_a_cols)
    a = np.zeros((32, k), np.float16)
    b = np.zeros((k, 32), np.float16)
    for j, n in enumerate(nnz_a_cols):
        a[:n, j] = 1
    for j, n in enumerate(nnz_b_rows):
        b[j, 32 - n:] = 1
    return a, b


@pytest.mark.parametrize("nnz_a, nnz_b, spgemm, spgemm_a", [
    # per k: ceil(nnzA/8) * ceil(nnzB/16) (spgemm) and ceil(nnzA/8) * 2 (spgemm_a, B passed dense)
    ([32], [32], 8, 8),
    ([0], [32], 0, 0),
    ([32], [0], 0, 8),
    ([1, 9, 17, 25], [1, 16, 17, 32], 1 + 2 + 6 + 8, 2 + 4 + 6 + 8),
    ([8, 8], [16, 15], 2, 4),
], ids=["dense", "empty-a", "empty-b", "mixed", "group-edges"])
def test_tile_ohmmas_follow_the_tiling_formula(nnz_a, nnz_b, spgemm, spgemm_a):
    a, b = _slices(nnz_a, nnz_b)
    assert heatmap.tile_ohmmas(a, b, "spgemm").tolist() == [[spgemm]]
    assert heatmap.tile_ohmmas(a, b, "spgemm_a").tolist() == [[spgemm_a]]


@pytest.mark.parametrize("m, n, k, sa, sb", [(64, 96, 40, 0.5, 0.9), (100, 70, 33, 0.9, 0.0), (32, 32, 8, 0.0, 0.0),
                                             (65, 31, 17, 0.99, 0.5)])
@pytest.mark.parametrize("mode", ["spgemm", "spgemm_a"])
def test_tile_ohmmas_sum_to_the_emulator_counter(m, n, k, sa, sb, mode):
    rng = np.random.default_rng(m + n + k)
    a = sparse.prune_random(rng.standard_normal((m, k)), sa, seed=1)
    b = sparse.prune_random(rng.standard_normal((k, n)), sb, seed=2)
    tiles = heatmap.tile_ohmmas(a, b, mode)
    assert tiles.shape == (-(-m // 32), -(-n // 32))
    executed = kernels.gemm(a, b, mode=mode, device=otc_emu.Device(timing=False)).stats.counters["ohmma.executed"]
    assert int(tiles.sum()) == executed


@pytest.mark.parametrize("args, error", [
    ((np.ones((4, 4)), np.ones((5, 4)), "spgemm"), "need an M x K and a K x N matrix"),
    ((np.ones(4), np.ones((4, 4)), "spgemm"), "need an M x K and a K x N matrix"),
    ((np.ones((4, 4)), np.ones((4, 4)), "hmma"), "defined for the sparse modes"),
])
def test_tile_ohmmas_bad_input(args, error):
    with pytest.raises(ValueError, match=error):
        heatmap.tile_ohmmas(*args)


@pytest.mark.parametrize("grid, max_rows, max_cols, how, expected, edge", [
    (np.arange(6.0).reshape(2, 3), 2, 3, "mean", [[0, 1, 2], [3, 4, 5]], 1),
    (np.arange(16.0).reshape(4, 4), 2, 2, "mean", [[2.5, 4.5], [10.5, 12.5]], 2),
    (np.arange(16.0).reshape(4, 4), 2, 2, "max", [[5, 7], [13, 15]], 2),
    (np.arange(15.0).reshape(3, 5), 3, 2, "max", [[12, 14]], 3),  # a partial edge block
    (np.arange(15.0).reshape(3, 5), 3, 2, "mean", [[6, 8.5]], 3),
])
def test_downsample(grid, max_rows, max_cols, how, expected, edge):
    small, got_edge = heatmap.downsample(grid, max_rows, max_cols, how)
    assert got_edge == edge
    assert small.tolist() == expected


def test_downsample_bad_arguments():
    with pytest.raises(ValueError, match="how must be 'mean' or 'max'"):
        heatmap.downsample(np.ones((2, 2)), 1, 1, "median")
    with pytest.raises(ValueError, match="max_rows and max_cols must be >= 1"):
        heatmap.downsample(np.ones((2, 2)), 0, 1)


@pytest.mark.parametrize("executed, ok, line", [
    (24, True, "check: the tiles sum to 24 OHMMAs = the emulator's ohmma.executed counter"),
    (25, False, "MISMATCH: the tiles sum to 24 OHMMAs but the emulator executed 25"),
    (None, True, None),
])
def test_render_heatmap_checks_the_total(executed, ok, line):
    tiles = np.array([[0, 4], [8, 12]])
    con = Console(record=True, width=100)
    assert heatmap.render(tiles, k=2, executed=executed, console=con) is ok
    text = con.export_text()
    lines = text.splitlines()
    # 25%, 50% and 75% of a dense tile's 16 OHMMAs on a scale from the quietest to the busiest cell
    # (nine levels: 50% is level 1 + int(0.5 * 9) = 5); an empty tile is blank
    assert lines[1] == "    " + heatmap.SHADES[1] * 2
    assert lines[2] == "  " + heatmap.SHADES[5] * 2 + heatmap.SHADES[9] * 2
    assert "computed from the operands' bitmaps" in text and "2 x 2 tiles;" in text and "max 75.00%" in text
    if line is None:
        assert "check:" not in text and "MISMATCH" not in text
    else:
        assert line in text


def test_render_heatmap_downsamples_to_the_width():
    tiles = np.ones((4, 120), np.int64)  # 240 character cells would not fit in 100
    con = Console(record=True, width=100)
    heatmap.render(tiles, k=1, console=con, how="max")
    text = con.export_text()
    rows = [ln for ln in text.splitlines()[1:] if ln.startswith("  ") and ln.strip()]
    assert max(len(ln) for ln in text.splitlines()) <= 100
    assert len(rows) == 2 and "each cell the max over a block of 3 x 3 tiles" in text


def test_comparison_numbers_are_never_cut(runs):
    con = Console(record=True, width=80)
    report.render_comparison(runs, baseline="hmma", console=con)
    text = con.export_text()
    assert "\u2026" not in text
    for s in runs.values():
        assert f"{s.counters['warp_instructions']:,}" in text
