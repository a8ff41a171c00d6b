"""Executors (in-process, local workers, Ray) and design-space sweeps (otc_emu.experiments.sweep,
`otc-emu sweep`) at small sizes: the same points whatever runs them, failures recorded, lost
workers and Ctrl-C losing only the points in flight, resuming, and the sweep spec's checks.

Ray runs locally with 2 CPUs, started once for the module (its start-up takes seconds)."""
from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

import otc_emu
from otc_emu import experiments, kernels
from otc_emu.cli import main
from otc_emu.experiments import executors, sweep

try:
    import ray
except ImportError:  # Ray is in the test extra (pip install '.[test]'); without it only its cases skip
    ray = None
NEEDS_RAY = pytest.mark.skipif(ray is None, reason="Ray is part of the test extra: pip install '.[test]'")

SMALL_FIG21 = {"size": 32, "sms": 2, "sparsity_a": (0.0, 0.9), "sparsity_b": (0.0, 0.99), "modes": ("hmma", "spgemm"),
               "machine": "v100", "curves": False}
SMALL_SWEEP = {"gemm": [{"size": 32, "modes": ["hmma", "spgemm"], "sparsity_a": [0.0, 0.9]}], "sms": 2,
               "grid": {"accbuf.collector_window": [1, 4]}}


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for the module's Ray cases (RayCluster("auto") finds it initialised)."""
    # the workers import this module's test functions by name
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}})
    yield
    ray.shutdown()


def _executor(kind: str, request):
    if kind == "ray":
        request.getfixturevalue("local_ray")
        return executors.RayCluster("auto")
    return executors.LocalWorkers(2) if kind == "workers" else executors.InProcess()


WORKERS_AND_RAY = ["workers", pytest.param("ray", marks=NEEDS_RAY)]


def _points_file(directory: Path, name: str) -> list[dict]:
    return sorted((json.loads(line) for line in (directory / f"{name}.points.jsonl").read_text().splitlines()),
                  key=lambda e: e["key"])


@pytest.mark.parametrize("kind", WORKERS_AND_RAY)
@pytest.mark.parametrize("name, options", [("fig21", SMALL_FIG21), ("sweep", SMALL_SWEEP)])
def test_every_executor_gives_the_same_points(name, options, kind, tmp_path: Path, request):
    def run(executor, out):
        exp = sweep.sweep_experiment(options) if name == "sweep" else experiments.get(name, options)
        return experiments.run_experiment(exp, tmp_path / out, executor=executor)

    ours = run(experiments.InProcess(), "in-process")
    theirs = run(_executor(kind, request), kind)
    assert ours.ran == theirs.ran == 8 and not ours.failed + theirs.failed
    assert _points_file(tmp_path / kind, name) == _points_file(tmp_path / "in-process", name)  # equal up to order
    assert theirs.rows == ours.rows  # the table is in point order, whatever finished first


def _double_or_fail(p: dict) -> dict:
    if p.get("die"):
        os._exit(3)  # a worker lost mid-point
    if p.get("raise"):
        raise otc_emu.OtcError(f"bad point {p['x']}")
    return {"x": 2 * p["x"]}


@pytest.mark.parametrize("kind", ["in-process", *WORKERS_AND_RAY])
def test_a_failed_point_is_an_outcome_and_the_rest_goes_on(kind, request):
    points = [{"x": 1}, {"x": 2, "raise": True}, {"x": 3}]
    out = {f.index: f for f in _executor(kind, request).map(_double_or_fail, points)}
    assert out[0].result == {"x": 2} and out[2].result == {"x": 6}
    assert out[1].result is None and out[1].error.startswith("OtcError: bad point 2 (at test_sweeps.py:")


@pytest.mark.parametrize("kind", WORKERS_AND_RAY)
def test_a_lost_worker_loses_only_its_point(kind, request):
    points = [{"x": 1}, {"x": 2, "die": True}, {"x": 3}, {"x": 4}]
    started = []
    out = {f.index: f for f in _executor(kind, request).map(_double_or_fail, points, started.append)}
    assert {i: f.result for i, f in out.items() if f.error is None} == {0: {"x": 2}, 2: {"x": 6}, 3: {"x": 8}}
    assert out[1].error.startswith(executors.WORKER_LOST)
    assert sorted(started) == [0, 1, 2, 3]  # each started once, however often it was tried: in flight ends at 0


class _InterruptAfter:
    """A progress that presses Ctrl-C when ``n`` points have finished."""

    def __init__(self, n: int):
        self.n, self.finished_points = n, 0

    def start(self, total, todo, path, executor):
        pass

    def started(self, description):
        pass

    def finished(self, description, error):
        self.finished_points += 1
        if self.finished_points == self.n:
            raise KeyboardInterrupt


@pytest.mark.parametrize("make", [lambda: experiments.InProcess(), lambda: experiments.LocalWorkers(2)],
                         ids=["in-process", "workers"])
def test_ctrl_c_keeps_finished_points_stops_workers_and_a_rerun_resumes(make, tmp_path: Path):
    with pytest.raises(KeyboardInterrupt):
        experiments.run("fig21", tmp_path, SMALL_FIG21, progress=_InterruptAfter(2), executor=make())
    assert not multiprocessing.active_children()  # the workers were stopped, not left running
    assert len((tmp_path / "fig21.points.jsonl").read_text().splitlines()) == 2
    again = experiments.run("fig21", tmp_path, SMALL_FIG21, executor=make())
    assert (again.ran, again.skipped) == (6, 2) and len(_points_file(tmp_path, "fig21")) == 8


def test_failed_points_are_stored_with_their_error_and_run_again(tmp_path: Path):
    spec = {**SMALL_SWEEP, "grid": {"max_instructions": [100, 100_000_000]}}  # 100 warp-instructions: the watchdog
    out = experiments.run_experiment(sweep.sweep_experiment(spec), tmp_path)
    assert out.ran == 8 and len(out.failed) == 4 and len(out.rows) == 4
    assert all(p["settings"] == {"max_instructions": 100} and e.startswith("GuestFault: watchdog") for p, e in out.failed)
    stored = _points_file(tmp_path, "sweep")
    assert sum("error" in e for e in stored) == 4 and sum("result" in e for e in stored) == 4
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert sum("error" in e for e in data["points"]) == 4
    again = experiments.run_experiment(sweep.sweep_experiment(spec), tmp_path)
    assert (again.ran, again.skipped, len(again.failed)) == (4, 4, 4)  # only the failed ones are tried again


def test_sweep_points_are_the_experiments_points(tmp_path: Path):
    """A sweep on the V100 slice measures what fig21 measures for the same operands; a setting in
    the grid is what the Device gets; a machine file is what its keys say."""
    out = experiments.run_experiment(sweep.sweep_experiment(SMALL_SWEEP), tmp_path)
    fig21 = experiments.run("fig21", tmp_path, {**SMALL_FIG21, "sparsity_b": (0.0,)})
    cycles = {(r["sparsity_a_pct"] / 100, m): r[f"{m}_cycles"] for r in fig21.rows for m in ("hmma", "spgemm")}
    for r in out.rows:
        assert r["cycles"] == cycles[(r["sparsity_a"], r["mode"])]
        assert r["speedup"] == pytest.approx(cycles[(r["sparsity_a"], "hmma")] / r["cycles"])
    a, b = experiments.gemm_operands(32, 32, 32, 0.9, 0.0, 0)
    machine = tmp_path / "narrow.toml"
    machine.write_text("[accbuf]\ncollector_window = 1\nbank_cols = 4\n")
    narrow = sweep.machine_device(str(machine), {}, 2)
    assert narrow.timing_config["accbuf.bank_cols"] == 4
    assert narrow.timing_config["memory.l2_bandwidth_gbs"] == otc_emu.Device.v100_slice(2).timing_config["memory.l2_bandwidth_gbs"]
    spec = {"gemm": [{"size": 32, "modes": ["spgemm"], "sparsity_a": [0.9]}], "sms": 2, "machines": [str(machine)]}
    on_file = experiments.run_experiment(sweep.sweep_experiment(spec), tmp_path / "file")
    assert on_file.rows[0]["cycles"] == kernels.gemm(a, b, mode="spgemm", device=narrow).stats.cycles
    machine.write_text("[accbuf]\ncollector_window = 1\nbank_cols = 8\n")  # another machine: other points
    assert experiments.run_experiment(sweep.sweep_experiment(spec), tmp_path / "file").ran == 1


def test_model_workloads_are_fig22s_points(tmp_path: Path):
    """A model workload measures what fig22 measures for the same layer band, case and machine; a
    bandwidth in the grid is scaled to the band's SMs as fig22's slice scales the machine's."""
    from otc_emu.experiments import fig22

    spec = {"model": [{"name": "ResNet-18", "layers": ["layer4 3x3", "layer4 downsample"], "budget": 0.5,
                       "cases": ["dense_implicit", "dual_sparse_implicit", "dual_sparse_gemm"]}],
            "machines": ["dstc-paper"], "grid": {"memory.dram_bandwidth_gbs": [450.0]}}
    out = experiments.run_experiment(sweep.sweep_experiment(spec), tmp_path)
    assert [(r["workload"], r["mode"]) for r in out.rows] == [
        (f"ResNet-18 {layer}", case) for layer in ("layer4 3x3", "layer4 downsample")
        for case in ("dense_implicit", "dual_sparse_implicit")]  # a GEMM case does not apply to a conv layer
    pts = [p for p in fig22._points({"models": ["ResNet-18"], "budget": 0.5, "machine": "dstc-paper",
                                     "settings": {"memory.dram_bandwidth_gbs": 450.0}})
           if p["run"]["name"] == "layer4 3x3" and p["case"] in ("dense_implicit", "dual_sparse_implicit")]
    scale = pts[0]["sms"] / 80
    for p in pts:
        p["device"]["settings"]["memory.dram_bandwidth_gbs"] = 450.0 * scale
        row = next(r for r in out.rows if r["workload"] == "ResNet-18 layer4 3x3" and r["mode"] == p["case"])
        assert row["cycles"] == fig22.measure(p)["cycles"] and row["ok"]
    dense = next(r for r in out.rows if r["workload"] == "ResNet-18 layer4 3x3" and r["mode"] == "dense_implicit")
    assert dense["speedup"] == 1.0


@pytest.mark.parametrize("spec, error", [
    ({"model": [{"name": "AlexNet"}]}, "model workload 1: name must be a model of VGG-16, ResNet-18"),
    ({"model": [{"name": "BERT-base", "layers": ["QKV", "FFN3"]}]}, "model workload 1: BERT-base has no layer(s) 'FFN3'; its layers: QKV,"),
    ({"model": [{"name": "BERT-base", "cases": ["dual"]}]}, "model workload 1: unknown case(s) dual; cases: dense_explicit,"),
    ({"model": [{"name": "BERT-base", "cases": ["dense_implicit"]}]}, "model workload 1: none of the cases is one of QKV's (gemm layer)"),
    ({"model": [{"name": "BERT-base", "budget": 0}]}, 'model workload 1: budget must be a positive number of million MACs or "full", got 0'),
    ({"model": [{"name": "BERT-base", "size": 4}]}, "model workload 1: unknown key(s) size; known: budget, cases, layers, name"),
])
def test_bad_model_workloads_are_refused(spec, error, tmp_path: Path):
    import re

    with pytest.raises(otc_emu.OtcError, match=re.escape(error)):
        experiments.run_experiment(sweep.sweep_experiment(spec), tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("spec, error", [
    ({"grids": {}}, "unknown sweep key(s) grids; known:"),
    ({"grid": {"accbuf.no_such_key": [1]}}, r"machine v100, accbuf.no_such_key=1: .*accbuf.no_such_key"),
    ({"grid": {"accbuf.collector_window": []}}, "grid key accbuf.collector_window: no values"),
    ({"gemm": [{"size": 32, "modes": ["hmma", "fast"]}]}, "gemm workload 1: unknown mode(s) fast; available: "),
    ({"gemm": [{"size": 0}]}, "gemm workload 1: m must be a positive integer, got 0"),
    ({"gemm": [{"size": 32, "sparsity_a": [1.5]}]}, r"gemm workload 1: sparsity_a must be a fraction of zeros in \[0, 1\], got 1.5"),
    ({"gemm": [{"sise": 32}]}, "gemm workload 1: unknown key(s) sise"),
    ({"conv": [{"name": "AlexNet conv1"}]}, "conv workload 1: unknown layer 'AlexNet conv1'; named layers: VGG-16 conv5_2"),
    ({"conv": [{"c": 4, "k": 8}]}, "conv workload 1: give a layer name of .* or every shape key"),
    ({"machines": ["dstc-nowhere.toml"]}, "machine file dstc-nowhere.toml not found"),
    ({"sms": 81}, "machine v100, its settings: sms must be at most the machine's 80 SMs, got 81"),
    ({"seed": "x"}, "seed must be an integer >= 0, got 'x'"),
])
def test_bad_sweeps_are_refused_before_any_work(spec, error, tmp_path: Path):
    import re

    with pytest.raises(otc_emu.OtcError, match=error if ".*" in error or "\\[" in error else re.escape(error)):
        experiments.run_experiment(sweep.sweep_experiment(spec), tmp_path)
    assert not list(tmp_path.iterdir())


def test_cli_sweep_from_toml_and_flags(tmp_path: Path, capsys):
    spec = tmp_path / "grid.toml"
    spec.write_text('name = "window"\nsms = 2\n[grid]\n"accbuf.collector_window" = [1, 4]\n'
                    '[[gemm]]\nsize = 32\nmodes = ["hmma", "spgemm"]\nsparsity_a = [0.0]\n')
    # the flags replace the spec's workload: two A sparsities
    argv = ["sweep", str(spec), "--out", str(tmp_path), "--size", "32", "--modes", "hmma,spgemm", "--sparsity-a", "0,0.9",
            "--grid", "tensor.skipped_cycles=0,1", "--workers", "2", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["sweep"], data["ran"], data["ok"]) == ("window", 16, True)
    assert {"accbuf.collector_window", "tensor.skipped_cycles", "cycles", "speedup"} <= set(data["columns"])
    assert {(r["accbuf.collector_window"], r["tensor.skipped_cycles"], r["sparsity_a"]) for r in data["rows"]} == \
        {(w, s, a) for w in (1, 4) for s in (0, 1) for a in (0.0, 0.9)}
    assert (tmp_path / "window.csv").read_text().splitlines()[0].startswith("machine,accbuf.collector_window,")
    assert main(argv[:-3] + ["--no-color"]) == 0  # resumes: nothing to run
    text = capsys.readouterr().out
    assert "16 points: 16 already done" in text and "Speedup" in text
    assert main(["sweep", "--out", str(tmp_path), "--grid", "accbuf.collector_window"]) == 1
    assert "--grid takes KEY=V1,V2,..., got 'accbuf.collector_window'" in capsys.readouterr().err


def test_cli_sweep_heatmap(tmp_path: Path, capsys):
    pytest.importorskip("matplotlib")
    argv = ["sweep", "--out", str(tmp_path), "--size", "32", "--modes", "hmma,spgemm", "--sms", "2",
            "--grid", "accbuf.collector_window=1,4", "--heatmap", "mode,accbuf.collector_window", "--value", "speedup"]
    assert main(argv) == 0
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(argv[:-4] + ["--heatmap", "mode,nothing"]) == 1
    assert "unknown column 'nothing' for the heatmap" in capsys.readouterr().err


@pytest.mark.parametrize("args, error", [
    (["--workers", "0"], "--workers must be a positive integer, got 0"),
])
def test_cli_executor_options(args, error, tmp_path: Path, capsys):
    assert main(["experiment", "table3", "--out", str(tmp_path), "--size", "6", "--channels", "2", *args]) == 1
    assert error in capsys.readouterr().err


def test_cli_sweep_model_flag(tmp_path: Path, capsys):
    """--model names a fig22 model: each of its layers with every case (here refused at once)."""
    assert main(["sweep", "--out", str(tmp_path), "--model", "AlexNet"]) == 1
    assert "model workload 1: name must be a model of VGG-16" in capsys.readouterr().err
    from otc_emu.cli_sweep import _spec_from

    args = type("Args", (), {k: None for k in ("spec", "name", "machine", "grid", "size", "modes", "sparsity_a",
                                                "sparsity_b", "conv", "sms", "seed")})()
    args.model = ["LSTM LM", "BERT-base"]
    spec = sweep.normalise_spec(_spec_from(args))
    assert [(w["model"], w["layer"]["name"]) for w in spec["workloads"]] == [
        ("LSTM LM", "LSTM W_ih (35 steps)"), ("LSTM LM", "LSTM W_hh (1 step)"),
        ("BERT-base", "QKV"), ("BERT-base", "attention out"), ("BERT-base", "FFN1"), ("BERT-base", "FFN2")]
    assert spec["workloads"][0]["modes"][0] == "dense_gemm"  # the baseline first
