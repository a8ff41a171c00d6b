"""The paper's experiments (otc_emu.experiments, `otc-emu experiment`) at small sizes: measured
points, resumability, stale points, outputs, and the CLI around them."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from rich.console import Console

import otc_emu
from otc_emu import experiments, kernels
from otc_emu.cli import main

SMALL_FIG21 = {"size": 32, "sparsity_a": (0.0, 0.9), "sparsity_b": (0.0, 0.99), "machine": "v100", "curves": False}
SMALL_TABLE3 = {"size": 6, "channels": 2, "sparsities": (0.0, 0.5, 0.999)}  # 3 sparsities x 3 kernels
SMALL_LAYERS = {
    "layers": (experiments.ConvLayer("tiny conv", 4, 8, 6, 3, 1, 1, sparsity_x=0.5, sparsity_w=0.7),
               experiments.GemmLayer("tiny gemm", 16, 40, 24, sparsity_x=0.0, sparsity_w=0.9)),
}


def test_fig21_points_are_measured_and_resumed(tmp_path: Path):
    out = experiments.run("fig21", tmp_path, SMALL_FIG21)
    assert (out.ran, out.skipped) == (16, 0)  # 2 x 2 sparsities x 4 modes
    assert [(r["sparsity_a_pct"], r["sparsity_b_pct"]) for r in out.rows] == [(0, 0), (0, 99), (90, 0), (90, 99)]
    for r in out.rows:
        assert r["ok"]
        for mode in ("owmma", "spgemm_a", "spgemm"):
            assert r[f"speedup_{mode}"] == pytest.approx(r["hmma_cycles"] / r[f"{mode}_cycles"])
    # the stored cycles are what the emulator gives for the same operands on the default V100 slice
    a, b = experiments.gemm_operands(32, 32, 32, 0.9, 0.99, 0)
    slice_ = otc_emu.Device.v100_slice(experiments.FIG21_DEFAULT_SMS)
    assert out.rows[3]["sms"] == experiments.FIG21_DEFAULT_SMS
    assert out.rows[3]["spgemm_cycles"] == kernels.gemm(a, b, mode="spgemm", device=slice_).stats.cycles
    # a re-run measures nothing and gives the same table
    again = experiments.run("fig21", tmp_path, SMALL_FIG21)
    assert (again.ran, again.skipped) == (0, 16) and again.rows == out.rows
    # another size is other points
    bigger = experiments.run("fig21", tmp_path, {**SMALL_FIG21, "size": 48})
    assert (bigger.ran, bigger.skipped) == (16, 0)
    assert len((tmp_path / "fig21.points.jsonl").read_text().splitlines()) == 32
    # so is another slice of the GPU; all 80 SMs is the plain V100
    whole = experiments.run("fig21", tmp_path, {**SMALL_FIG21, "sms": 80})
    assert (whole.ran, whole.skipped) == (16, 0)
    assert whole.rows[3]["spgemm_cycles"] == kernels.gemm(a, b, mode="spgemm").stats.cycles


def test_outputs_csv_and_json(tmp_path: Path):
    out = experiments.run("fig21", tmp_path, SMALL_FIG21)
    assert [f.name for f in out.files] == ["fig21.csv", "fig21.json"]
    with open(tmp_path / "fig21.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 and float(table[3]["spgemm_cycles"]) == out.rows[3]["spgemm_cycles"]
    data = json.loads((tmp_path / "fig21.json").read_text())
    assert data["rows"] == json.loads(json.dumps(out.rows)) and len(data["points"]) == 16
    assert {c["key"] for c in data["columns"]} >= {"speedup_spgemm", "hmma_cycles"}


def test_changed_code_makes_points_stale(tmp_path: Path, monkeypatch):
    experiments.run("table3", tmp_path, SMALL_TABLE3)
    assert experiments.run("table3", tmp_path, SMALL_TABLE3).ran == 0
    monkeypatch.setattr(experiments.store, "code_version", lambda files: "a-newer-program")
    assert experiments.run("table3", tmp_path, SMALL_TABLE3).ran == 9


def test_code_version_follows_the_files(tmp_path: Path):
    f = tmp_path / "k.sass"
    f.write_text("EXIT ;\n")
    v1 = experiments.code_version([f])
    f.write_text("NOP ;\nEXIT ;\n")
    assert experiments.code_version([f]) != v1
    # the GEMM experiments hash the kernel programs and the compiled emulator
    files = {p.name for p in experiments.EXPERIMENTS["fig21"].sources({})}
    assert {"spgemm.sass", "hmma_gemm.sass", "kernels.py", Path(otc_emu._core.__file__).name} <= files


def test_an_interrupted_line_is_run_again(tmp_path: Path):
    experiments.run("table3", tmp_path, SMALL_TABLE3)
    store = tmp_path / "table3.points.jsonl"
    lines = store.read_text().splitlines()
    store.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # cut mid-write
    out = experiments.run("table3", tmp_path, SMALL_TABLE3)
    assert (out.ran, out.skipped) == (1, 8)


def test_table3_normalises_to_dense(tmp_path: Path):
    out = experiments.run("table3", tmp_path, SMALL_TABLE3)
    assert [r["sparsity_pct"] for r in out.rows] == [0, 50, 99.9]
    for r in out.rows:
        assert r["ok"] and r["dense_norm"] == 1.0
        assert r["csr_norm"] == pytest.approx(r["csr_cycles"] / r["dense_cycles"])
        assert r["bitmap_cycles"] > 0 and "host_dense_ms" not in r
    # the CSR search costs most where the rows hold most non-zeros
    assert out.rows[0]["csr_norm"] > out.rows[2]["csr_norm"]
    # the paper's Table III beside ours, where the sparsity is one of its columns
    assert (out.rows[0]["paper_csr_norm"], out.rows[2]["paper_bitmap_norm"]) == (101.3, 1.1)
    assert "paper_csr_norm" not in out.rows[1] or out.rows[1]["paper_csr_norm"] == 45.2


def test_layers_in_every_gemm_mode(tmp_path: Path):
    out = experiments.run("layers", tmp_path, SMALL_LAYERS)
    assert [r["layer"] for r in out.rows] == ["tiny conv", "tiny gemm"]
    assert out.rows[0]["shape"] == "4->8, 6x6, 3x3" and out.rows[1]["shape"] == "16x40->24"
    for r in out.rows:
        assert r["ok"]
        assert r["speedup_spgemm"] == pytest.approx(r["hmma_cycles"] / r["spgemm_cycles"])
    con = Console(record=True, width=100)
    out.experiment.render(out.columns, out.rows, con)
    text = con.export_text()
    assert "Zeros act." in text and "tiny conv" in text and "50% / 70%" in text
    conv = out.rows[0]  # the conv layer also runs as implicit-im2col convolutions
    assert {"dense_implicit_cycles", "sparse_implicit_cycles"} <= set(conv) and "dense_implicit_cycles" not in out.rows[1]
    assert conv["sparse_over_dense_implicit"] == pytest.approx(conv["dense_implicit_cycles"] / conv["sparse_implicit_cycles"])
    assert "sparse_implicit" in text


def test_plot_needs_matplotlib_and_says_so_before_running(tmp_path: Path):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(otc_emu.OtcError, match=r"--plot needs matplotlib.*pip install 'otc-emu\[plot\]'"):
            experiments.run("table3", tmp_path, SMALL_TABLE3, plot_png=True)
        assert not (tmp_path / "table3.points.jsonl").exists()
    else:
        out = experiments.run("table3", tmp_path, SMALL_TABLE3, plot_png=True)
        assert (tmp_path / "table3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.files[-1].name == "table3.png"


@pytest.mark.parametrize("name, options, error", [
    ("fig23", {}, "unknown experiment 'fig23'; available: fig21, table3, layers, ablation, fig22, zeros"),
])
def test_unknown_experiment(name, options, error):
    with pytest.raises(ValueError, match=error):
        experiments.get(name, options)


def test_markdown_table():
    columns = [("name", "Layer"), ("cycles", "Cycles [cycle]"), ("ok", "checked")]
    text = experiments.markdown(columns, [{"name": "a", "cycles": 12345, "ok": True}, {"name": "b", "cycles": 1.5, "ok": False}])
    assert text.splitlines() == ["| Layer | Cycles [cycle] | checked |", "|---|---:|---|", "| a | 12,345 | yes |", "| b | 1.5 | NO |"]


# ---------------------------------------------------------------------------------------- CLI


def test_cli_experiment_resumes_and_prints(tmp_path: Path, capsys):
    argv = ["experiment", "table3", "--out", str(tmp_path), "--size", "6", "--channels", "2"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "18 points: 0 already done" in first and "18 to run" in first
    assert "Sparsity" in first and "99.9" in first and f"wrote {tmp_path / 'table3.csv'}" in first
    assert "normalised to the dense kernel at the same sparsity" in " ".join(first.split())
    assert "\x1b" not in first
    assert main(argv) == 0
    assert "18 points: 18 already done" in capsys.readouterr().out
    assert main(argv + ["--markdown"]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0].startswith("| Sparsity [%] | CSR [x dense] | Bitmap [x dense] |") and len(md) == 2 + 6
    assert main(argv + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["ran"], data["skipped"], data["ok"]) == (0, 18, True) and len(data["rows"]) == 6


def test_cli_fig21_matrices(tmp_path: Path, capsys):
    assert main(["experiment", "fig21", "--out", str(tmp_path), "--size", "32", "--no-color"]) == 0
    text = capsys.readouterr().out
    for mode in ("owmma", "spgemm_a", "spgemm"):
        assert f"{mode}: speedup over hmma [x], 32^3 on 4 SMs" in text
    rows = json.loads((tmp_path / "fig21.json").read_text())["rows"]
    # per machine: the 7 x 4 grid, csr's A 95% at B 99%, vstc's 7 A sparsities at B 75%, hss's A 87.5
    # and 93.75% at the 4 B sparsities (sp24's A 50% and hss's 75% share the grid's rows)
    assert len(rows) == 2 * (7 * 4 + 1 + 7 + 2 * 4) and {r["machine"] for r in rows} == {"v100", "dstc-paper"}
    assert "csr: speedup over hmma [x], 32^3 on 4 SMs, machine dstc-paper" in text and "vstc: speedup over hmma" in text
    assert "sp24: speedup over hmma" in text and "hss: speedup over hmma" in text
    # spgemm_wide (beyond the paper) over the whole grid, on both machines, with the keys it needs
    assert "spgemm_wide: speedup over hmma [x], 32^3 on 4 SMs, machine dstc-paper" in text
    assert sum("speedup_spgemm_wide" in r for r in rows) == 2 * 7 * 4
    assert all(r["ok"] for r in rows)
    best = max(r.get("speedup_spgemm", 0) for r in rows)
    assert f"{best:.2f}" in text


@pytest.mark.parametrize("sms", [80, 4])
def test_cli_conv(sms, capsys):
    args = ["conv", "-c", "4", "-k", "8", "--hw", "6", "--sms", str(sms), "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sms"] == sms
    assert out["modes"][0]["speedup"] == 1.0 and all(r["within_bound"] for r in out["modes"])
    # the cycles are those of the same layer on that slice of the V100
    layer = experiments.ConvLayer("cli", 4, 8, 6, 3, 1, 1, 0.5, 0.8)
    x, w = experiments.conv_operands(layer, 0)
    res = kernels.conv2d(x[None], w, stride=1, padding=1, mode=out["modes"][0]["mode"],
                         device=otc_emu.Device.v100_slice(sms))
    assert out["modes"][0]["cycles"] == res.stats.cycles


@pytest.mark.parametrize("sms, warps", [(80, 1), (1, 4)])
def test_cli_conv_says_the_sparse_modes_warps_per_cta(sms, warps, capsys):
    # 160 output channels (5 tiles) on a 6 x 6 map (6 pixel tiles): 12 four-warp CTAs, on 80 SMs
    # at most 3 per SM -> 1 warp; on 1 SM 12 -> 4 (conv.sparse_warps)
    assert main(["conv", "-c", "4", "-k", "160", "--hw", "6", "--sms", str(sms), "--json"]) == 0
    rows = {r["mode"]: r for r in json.loads(capsys.readouterr().out)["modes"]}
    assert "warps_per_cta" not in rows["dense_implicit"]
    assert rows["sparse_implicit"]["warps_per_cta"] == rows["single_sparse_implicit"]["warps_per_cta"] == warps


def test_table3_host_timing_extra(tmp_path: Path):
    out = experiments.run("table3", tmp_path, {**SMALL_TABLE3, "host": True, "repeats": 1})
    assert out.ran == 3 * 4  # the three kernels and one host timing per sparsity
    assert ("host_csr_norm", "host NumPy CSR [x]") in out.columns
    for r in out.rows:
        assert r["ok"] and r["host_dense_ms"] > 0
        assert r["host_csr_norm"] == pytest.approx(r["host_csr_ms"] / r["host_dense_ms"])


@pytest.mark.parametrize("name, options, error", [
    ("fig21", {"size": 0}, "--size must be at least 1, got 0"),
    ("table3", {"size": 2}, "table3 needs a feature map of at least 3x3"),
    ("table3", {"channels": 0}, "table3 needs a feature map of at least 3x3, 1 channel and 1 repeat"),
    ("table3", {"repeats": 0}, "table3 needs a feature map of at least 3x3, 1 channel and 1 repeat"),
    ("layers", {"tokens": 0}, "--tokens must be at least 1, got 0"),
    ("fig21", {"sms": 0}, "--sms must be in 1..80, got 0"),
    ("layers", {"sms": 81}, "--sms must be in 1..80, got 81"),
])
def test_bad_options_are_refused_before_any_work(name, options, error, tmp_path: Path):
    with pytest.raises(otc_emu.OtcError, match=error):
        experiments.run(name, tmp_path, options)
    assert not list(tmp_path.iterdir())


def test_fig21_markdown_matrices(tmp_path: Path):
    out = experiments.run("fig21", tmp_path, SMALL_FIG21)
    text = experiments.markdown_for("fig21", out.columns, out.rows)
    lines = text.splitlines()
    i = lines.index("spgemm speedup over hmma [x], 32^3 on 4 SMs, model cycles:")
    assert lines[i + 2] == "| A zeros \\ B zeros | 0% | 99% |"
    row = {(r["sparsity_a_pct"], r["sparsity_b_pct"]): r["speedup_spgemm"] for r in out.rows}
    assert lines[i + 5] == f"| 90% | {row[(90, 0)]:.2f} | {row[(90, 99)]:.2f} |"
