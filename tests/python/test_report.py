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
