"""fig22 (the five models' layers in every case) and zeros (real and clustered zeros beside
uniform ones) at small sizes, and sparse.prune_clustered."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_conv import FAST, expected_ohmmas

from otc_emu import conv, experiments, kernels, sparse
from otc_emu.experiments import fig22, zeros
from otc_emu.experiments.fig22_models import MODELS, Conv, Gemm
from otc_emu.experiments.workloads import ConvLayer

TINY = [("tiny CNN", Conv("t 3x3", 4, 32, 6, 6, 3, 1, 1, 0.5, 0.7, 3, "test")),
        ("tiny CNN", Conv("t 1x1/2", 8, 40, 8, 7, 1, 2, 0, 0.6, 0.5, 1, "test")),
        ("tiny MLP", Gemm("t fc", 16, 40, 64, 0.0, 0.9, 2, "test"))]


# ------------------------------------------------------------------------------------ the layers


@pytest.mark.parametrize("model, name, budget, rows_or_features, sms", [
    ("VGG-16", "conv1_2", 24e6, 2, 1),          # 224 rows of 8.3 M MACs: 2 rows on 80 * 2 / 224 -> 1 SM
    ("VGG-16", "conv5_1-3", 24e6, 1, 6),        # 14 rows of 33 M: one row (at least) on 80 / 14 -> 6 SMs
    ("ResNet-18", "layer2.0.conv1", 24e6, 11, 31),  # stride 2: 11 of 28 output rows (2.06 M MACs each) on 31 SMs
    ("ResNet-18", "layer2 downsample", 24e6, 28, 80),  # 1x1/2, 12.8 M MACs: all of it
    ("BERT-base", "FFN1", 24e6, 128, 3),        # 384 x 768 per output feature: 81 -> 128 of 3072 on 3 SMs
    ("BERT-base", "FFN2", 24e6, 128, 13),       # 384 x 3072 per feature: 20 -> 128 (a whole hmma tile) of 768
    ("LSTM LM", "LSTM W_hh (1 step)", 24e6, 1664, 22),  # 10 x 1500 per feature: 1600 -> 1664 of 6000
    ("BERT-base", "QKV", None, 2304, 80),       # --full: the real shape on all 80 SMs
])
def test_a_layer_runs_as_a_band_on_its_share_of_the_sms(model, name, budget, rows_or_features, sms):
    layer = next(L for L in MODELS[model] if L.name == name)
    band, got_sms = fig22.scaled(layer, budget)
    assert got_sms == sms
    if isinstance(layer, Conv):
        assert band.p == rows_or_features and band.q == layer.q and band.w == layer.w
        assert band.macs <= max(budget or 0, layer.macs // layer.p) or band == layer
    else:
        assert band.d_out == rows_or_features and (band.tokens, band.d_in) == (layer.tokens, layer.d_in)


def test_the_default_budget_runs_every_layer_whole_but_the_two_giants():
    banded = {(m, L.name) for m, layers in MODELS.items() for L in layers
              if fig22.scaled(L, fig22.DEFAULT_BUDGET * 1e6)[0] != L}
    assert banded == {("Mask R-CNN", "FPN P2 3x3"), ("LSTM LM", "LSTM W_ih (35 steps)")}


def test_a_gemm_band_is_whole_hmma_tiles_so_no_mode_computes_padding_the_layer_does_not():
    for layers in MODELS.values():
        for L in (L for L in layers if isinstance(L, Gemm)):
            for budget in (1e6, 24e6, 200e6):
                band, _ = fig22.scaled(L, budget)
                assert band.d_out == L.d_out or (band.d_out % fig22.GEMM_BAND_FEATURES == 0 and band.d_out < L.d_out)


def test_every_model_of_table_two_with_counts_and_sources():
    assert list(MODELS) == ["VGG-16", "ResNet-18", "Mask R-CNN", "BERT-base", "LSTM LM"]
    assert sum(L.count for L in MODELS["VGG-16"]) == 13 and sum(L.count for L in MODELS["ResNet-18"]) == 20
    assert sum(L.count for L in MODELS["BERT-base"]) == 48  # 12 encoder layers x 4 GEMMs
    for layers in MODELS.values():
        for L in layers:
            assert L.source and 0 <= L.sparsity_x < 1 and 0 <= L.sparsity_w < 1 and L.count >= 1


@pytest.mark.parametrize("sx, sw, bound", [(0.0, 0.0, 1.0), (0.99, 0.0, 100.0), (0.5, 0.9, 20.0), (0.0, 0.9, 10.0)])
def test_upper_bound_is_one_over_the_dense_product_fraction(sx, sw, bound):
    assert fig22.upper_bound(sx, sw) == pytest.approx(bound)


def test_fig22_cases_full_model_and_resume(tmp_path: Path):
    opts = {"layers": TINY, "machine": "v100", "full": True}
    out = experiments.run("fig22", tmp_path, opts)
    assert not out.failed and all(r["ok"] for r in out.rows)
    pts = [json.loads(line) for line in (tmp_path / "fig22.points.jsonl").read_text().splitlines()]
    cases = {p["params"]["case"] for p in pts}
    assert cases == set(fig22.CONV_CASES) | set(fig22.GEMM_CASES)
    rows = {(r["model"], r["layer"]): r for r in out.rows}
    for key in (("tiny CNN", "t 3x3"), ("tiny CNN", "t 1x1/2"), ("tiny MLP", "t fc")):  # the STC cases ran
        assert rows[key]["speedup_stc_single"] > 0
    by = {(p["params"]["layer"]["name"], p["params"]["case"]): p["result"] for p in pts}
    for name in ("t 3x3", "t 1x1/2"):  # explicit: the im2col kernel's cycles plus the GEMM's
        r = by[(name, "dense_explicit")]
        assert r["cycles"] == r["im2col_cycles"] + r["gemm_cycles"] and r["ok"]
        row = rows[("tiny CNN", name)]
        assert row["speedup_dual"] == pytest.approx(by[(name, "dense_implicit")]["cycles"] / by[(name, "dual_sparse_implicit")]["cycles"])
    # the full model: layers weighted by their count (full shapes: no band scaling)
    full = rows[("tiny CNN", "full model")]
    base = 3 * by[("t 3x3", "dense_implicit")]["cycles"] + by[("t 1x1/2", "dense_implicit")]["cycles"]
    dual = 3 * by[("t 3x3", "dual_sparse_implicit")]["cycles"] + by[("t 1x1/2", "dual_sparse_implicit")]["cycles"]
    assert full["speedup_dual"] == pytest.approx(base / dual) and full["count"] == 4
    assert rows[("tiny MLP", "t fc")]["speedup_otc_single"] == pytest.approx(
        by[("t fc", "dense_gemm")]["cycles"] / by[("t fc", "otc_single_sparse_gemm")]["cycles"])
    assert rows[("tiny MLP", "t fc")].get("speedup_dense_explicit") is None  # no explicit case for a GEMM layer
    assert rows[("tiny MLP", "t fc")]["speedup_dual_wide"] == pytest.approx(
        by[("t fc", "dense_gemm")]["cycles"] / by[("t fc", "dual_sparse_gemm_wide")]["cycles"])
    # the wide column: spgemm_wide for a GEMM layer, sparse_implicit_wide for a CNN layer
    assert rows[("tiny CNN", "t 3x3")]["speedup_dual_wide"] == pytest.approx(
        by[("t 3x3", "dense_implicit")]["cycles"] / by[("t 3x3", "dual_sparse_implicit_wide")]["cycles"])
    assert by[("t 3x3", "dual_sparse_implicit_wide")]["ok"]
    again = experiments.run("fig22", tmp_path, opts)
    assert again.ran == 0 and again.skipped == len(pts)


def test_the_sparse_tensor_core_cases_run_vstc_and_only_when_it_exists(monkeypatch):
    opts = {"layers": TINY, "machine": "v100"}
    stc = [p for p in fig22._points(opts) if p["mode"] == fig22.STC_MODE]
    assert {(p["case"], p["how"]) for p in stc} == {("single_sparse_explicit", "explicit"), ("single_sparse_gemm", "gemm")}
    # a mode that is absent is reported, never replaced (a copy: the real table keeps its order)
    monkeypatch.setattr(kernels, "GEMM_MODES", {m: v for m, v in kernels.GEMM_MODES.items() if m != fig22.STC_MODE})
    assert not any(p["mode"] == fig22.STC_MODE for p in fig22._points(opts))
    assert not fig22.case_available(fig22.STC_MODE)


def test_the_wide_tile_case_runs_spgemm_wide_with_its_keys_on_top_of_the_machine():
    w = sparse.prune_random(np.random.default_rng(1).standard_normal((64, 96)), 0.9, seed=2).astype(np.float16)
    x = sparse.relu_activations((96, 64), 0.5, seed=3)
    wide = fig22._gemm_case(w, x, "spgemm_wide", 1, {"machine": "dstc-paper"})
    ref = fig22._gemm_case(w, x, "spgemm", 1, {"machine": "dstc-paper"})
    assert wide["ok"] and wide["ohmma_executed"] == ref["ohmma_executed"]  # the same OHMMAs as spgemm
    assert fig22.mode_spec("spgemm_wide", {"machine": "dstc-paper", "settings": {"gpu.num_sms": 2}}) == {
        "machine": "dstc-paper", "settings": {"gpu.num_sms": 2, **kernels.WIDE_MACHINE}}
    assert fig22.mode_spec("spgemm", None) is None
    with pytest.raises(Exception, match="sequencer|accbufs"):  # without them the launch is refused
        fig22.gemm_point(w, x, "spgemm_wide", 1)


@pytest.mark.parametrize("k", [27, 32, 36, 576])
def test_stc_operands_prune_the_weights_to_its_pattern_and_keep_the_product(k):
    from otc_emu import vstc

    rng = np.random.default_rng(k)
    w = rng.standard_normal((24, k)).astype(np.float16)
    x = rng.standard_normal((k, 40)).astype(np.float16)
    a, b = fig22.stc_operands(w, x)
    kp = -(-k // vstc.VECTOR) * vstc.VECTOR
    assert a.shape == (40, kp) and b.shape == (kp, 24)
    kept = (b.reshape(kp // vstc.VECTOR, vstc.VECTOR, 24) != 0).sum(axis=1)
    assert kept.max() <= vstc.KEPT and kept.min() == vstc.KEPT  # dense weights: exactly 4 of every 16 kept
    assert np.all(b[k:] == 0) and np.all(a[:, k:] == 0)
    pruned = b[:k].T  # the kept weights are the original values at their places
    assert np.array_equal(pruned[pruned != 0], w[pruned != 0])
    exact = (a.astype(np.float64) @ b.astype(np.float64)).T
    assert np.allclose(exact, pruned.astype(np.float64) @ x.astype(np.float64))


@pytest.mark.parametrize("mode", ["hmma", "spgemm_a", "spgemm", "owmma"])
def test_explicit_im2col_then_any_gemm_mode(mode):
    x = sparse.relu_activations((4, 7 * 9), 0.6, seed=1).reshape(4, 7, 9)
    w = sparse.prune_random(np.random.default_rng(2).standard_normal((40, 36)), 0.7, seed=3).reshape(40, 4, 3, 3)
    layer = ConvLayer("t", 4, 40, 9, 3, 1, 1, 0.6, 0.7)
    r = fig22.measure_conv_case(x, w, layer, "explicit", mode, 1)
    assert r["ok"] and r["cycles"] == r["im2col_cycles"] + r["gemm_cycles"]
    # the GEMM reads the SM's lowered matrix, which is NumPy's bit for bit, so the product equals the
    # GEMM on the lowered operands of conv.lowered_operands (transposed: A = weights here)
    a, b = conv.lowered_operands(x[None], w, 1, 1)
    np.testing.assert_array_equal(kernels.gemm(b.T, a.T, mode=mode, device=FAST).c,
                                  kernels.gemm(w.reshape(40, -1), sparse.im2col_dense(x, 3, 3, 1, 1), mode=mode, device=FAST).c)


# --------------------------------------------------------------------------- clustered zeros


@pytest.mark.parametrize("shape, s, cf, region", [
    ((8, 10, 10), 0.63, 0.5, 4), ((8, 10, 10), 0.63, 0.0, 1), ((8, 10, 10), 0.63, 1.0, 3), ((5, 7, 9), 0.2, 0.9, 2),
    ((16, 100), 0.3, 0.2, 5), ((3, 4, 4), 1.0, 0.5, 2), ((3, 4, 4), 0.0, 0.5, 2), ((6, 5, 5), 0.5, 0.0, 8),
])
def test_prune_clustered_zeros_whole_channels_then_regions(shape, s, cf, region):
    x = np.random.default_rng(0).random(shape) + 1.0  # no zeros of its own
    y = sparse.prune_clustered(x, s, cf, region, seed=5)
    assert y.dtype == np.float16 and y.shape == shape
    k = round(s * x.size)
    assert int((y == 0).sum()) == k
    planes = y.reshape(shape[0], -1)
    plane = planes.shape[1]
    dead = int((planes == 0).all(axis=1).sum())
    assert dead >= min(shape[0], int(cf * k) // plane)
    # the live channels' zeros: whole region x region cells of the grid, but at most one cell in part
    grid = y.reshape(shape[0], *(shape[1:] if len(shape) == 3 else (1, shape[1])))
    rh, rw = (region, region) if len(shape) == 3 else (1, region)
    partial = 0
    for ch in np.flatnonzero(~(planes == 0).all(axis=1)):
        for y0 in range(0, grid.shape[1], rh):
            for x0 in range(0, grid.shape[2], rw):
                cell = grid[ch, y0:y0 + rh, x0:x0 + rw] == 0
                partial += int(cell.any() and not cell.all())
    assert partial <= 1
    np.testing.assert_array_equal(y, sparse.prune_clustered(x, s, cf, region, seed=5))
    assert y[y != 0].tolist() == x.astype(np.float16)[y != 0].tolist()  # the rest is kept


@pytest.mark.parametrize("args, exc, phrase", [
    (((np.ones((2, 3, 3)), 1.5)), ValueError, "sparsity must be in"),
    (((np.ones((2, 3, 3)), 0.5, -0.1)), ValueError, "channel_fraction"),
    (((np.ones((2, 3, 3)), 0.5, 0.5, 0)), ValueError, "region must be an integer"),
    (((np.ones((2, 3, 3)), 0.5, 0.5, 2.5)), ValueError, "region must be an integer"),
    (((np.ones(9), 0.5)), ValueError, r"\(C, H, W\) or \(C, L\)"),
    (((np.array([["a"]]), 0.5)), TypeError, "real numbers"),
])
def test_prune_clustered_refuses_bad_input(args, exc, phrase):
    with pytest.raises(exc, match=phrase):
        sparse.prune_clustered(*args)


@pytest.mark.parametrize("cf, region", [(0.5, 4), (0.0, 2), (0.9, 1)])
def test_clustered_maps_keep_the_conv_guarantees(cf, region):
    """Clustered zeros: sparse_implicit still equals the GEMM on the lowered operands bit for bit,
    stays within the NumPy bound and executes exactly the OHMMAs of the formula."""
    x = sparse.prune_clustered(np.random.default_rng(1).random((6, 9, 11)) + 0.5, 0.6, cf, region, seed=2)[None]
    w = sparse.prune_random(np.random.default_rng(3).standard_normal((40, 54)), 0.6, seed=4).reshape(40, 6, 3, 3)
    a, b = conv.lowered_operands(x, w, 1, 1)
    sp = kernels.conv2d(x, w, 1, 1, "sparse_implicit", FAST)
    np.testing.assert_array_equal(sp.y.transpose(0, 2, 3, 1).reshape(-1, 40), kernels.gemm(a, b, mode="owmma", device=FAST).c)
    assert np.all(np.abs(sp.y - (a.astype(np.float64) @ b.astype(np.float64)).reshape(1, 9, 11, 40).transpose(0, 3, 1, 2))
                  <= conv.error_bound(x, w, 1, 1))
    assert sp.stats.counters["ohmma.executed"] == expected_ohmmas(a, b, 1, 9, 11)


# ------------------------------------------------------------------------------------ zeros


def test_the_mosaic_is_each_images_convolution_at_its_pixels():
    rng = np.random.default_rng(0)
    imgs = rng.standard_normal((4, 3, 5, 6)).astype(np.float16)
    w = rng.standard_normal((7, 3, 3, 3)).astype(np.float16)
    m, mask = zeros.mosaic(imgs, grid=2)
    assert m.shape == (3, 11, 13) and mask.sum() == imgs.size and not m[~mask].any()
    a, b = conv.lowered_operands(m[None], w, 1, 1)
    y = (a.astype(np.float64) @ b.astype(np.float64)).reshape(11, 13, 7)
    for i in range(4):
        ai, bi = conv.lowered_operands(imgs[i:i + 1], w, 1, 1)
        y0, x0 = (i // 2) * 6, (i % 2) * 7
        np.testing.assert_array_equal(y[y0:y0 + 5, x0:x0 + 6], (ai.astype(np.float64) @ bi.astype(np.float64)).reshape(5, 6, 7))


def test_shuffled_keeps_values_and_count_and_moves_positions():
    a = sparse.prune_clustered(np.arange(1, 401, dtype=np.float32).reshape(4, 10, 10), 0.5, 0.5, 2)
    where = np.ones(a.shape, bool)
    where[0] = False
    b = zeros.shuffled(a, where, 3)
    np.testing.assert_array_equal(b[0], a[0])
    assert sorted(b[where].tolist()) == sorted(a[where].tolist()) and not np.array_equal(a, b)


def test_the_digits_fixture_is_a_pruned_network():
    rec = zeros.digits_record()
    assert rec["accuracy_pruned"] >= 0.9 and rec["accuracy_dense"] >= 0.9
    for name, (k, c, hw), wz in (("conv1", (16, 1, 8), 0.5), ("conv2", (32, 16, 8), 0.8), ("conv3", (64, 32, 4), 0.8)):
        w, x = rec[f"{name}_w"], rec[f"{name}_x"]
        assert w.shape == (k, c, 3, 3) and x.shape == (64, c, hw, hw) and x.dtype == np.float16
        assert np.mean(w == 0) == pytest.approx(wz, abs=0.01) and 0 < np.mean(x == 0) < 1 and (x >= 0).all()


def test_zeros_points_cover_every_case_and_a_point_measures(tmp_path: Path):
    pts = zeros._points({"machine": "v100"})
    assert {p["variant"] for p in pts} == {"real", "uniform", *zeros.CLUSTERED}
    assert {p["case"] for p in pts} == {c for c, (_, m) in fig22.CONV_CASES.items() if fig22.case_available(m)}
    pick = [p for p in pts if p["source"] == "digits" and p["layer"] == "conv3" and p["case"] in ("dense_implicit", "dual_sparse_implicit")]
    pick += [{**p, "variant": "uniform"} for p in pick]
    res = [zeros.measure(p) for p in pick]
    assert all(r["ok"] for r in res)
    assert len({(r["sparsity_x"], r["sparsity_w"]) for r in res}) == 1  # the same count of zeros in both variants
    _, rows = zeros._table(pick, res)
    real, uniform = rows
    assert real["moved_dual"] == pytest.approx(real["speedup_dual"] / uniform["speedup_dual"])
    assert real["speedup_dual"] == pytest.approx(res[0]["cycles"] / res[1]["cycles"])


@pytest.mark.parametrize("r, stride, padding", [(3, 1, 1), (3, 2, 1), (1, 2, 0), (7, 2, 3)])
def test_a_band_is_interior_rows_of_the_layer(r, stride, padding):
    """A band lowers to exactly the lowered rows of the same output rows of the whole layer: real
    halo rows above and below, zero padding only left and right."""
    layer = Conv("t", 3, 32, 23, 13, r, stride, padding, 0.0, 0.5, 1, "test")
    band, _ = fig22.scaled(layer, 2 * layer.macs // layer.p)  # two output rows
    assert band.p == 2 and not band.pad_rows
    x = np.random.default_rng(0).random((3, 23, 13)).astype(np.float16) + 1
    w = np.ones((32, 3, r, r), np.float16)
    first = 3  # output rows 3 and 4 of the layer: input rows from 3 * stride - padding
    xb, lb = fig22.band_case(band.as_dict(), x[:, first * stride - padding:first * stride - padding + band.h])
    a_band, _ = conv.lowered_operands(xb[None], w, lb.stride, lb.padding)
    a_full, _ = conv.lowered_operands(x[None], w, stride, padding)
    np.testing.assert_array_equal(a_band, a_full[first * layer.q:(first + 2) * layer.q])


@pytest.mark.parametrize("experiment", ["fig22", "zeros"])
def test_local_workers_give_the_same_points(experiment, tmp_path: Path):
    """Through the experiment runner's executors: the points file of two local workers equals the
    in-process one up to order (zeros: its digits conv1 points only, to stay small)."""
    opts = {"layers": TINY[:1] + TINY[2:], "machine": "v100", "full": True} if experiment == "fig22" else {"machine": "v100"}
    exp = experiments.get(experiment, opts)
    if experiment == "zeros":
        pts = [p for p in exp.points(opts) if p["source"] == "digits" and p["layer"] == "conv1"]
        exp = experiments.Experiment(**{**exp.__dict__, "points": lambda o: pts})
    ours = experiments.run_experiment(exp, tmp_path / "in-process")
    theirs = experiments.run_experiment(exp, tmp_path / "workers", executor=experiments.LocalWorkers(2))
    assert ours.ran == theirs.ran > 0 and not ours.failed + theirs.failed

    def points(d):
        return sorted((json.loads(line) for line in (d / f"{experiment}.points.jsonl").read_text().splitlines()), key=lambda e: e["key"])

    assert points(tmp_path / "workers") == points(tmp_path / "in-process") and theirs.rows == ours.rows


@pytest.mark.parametrize("options, error", [
    ({"budget": 0}, "budget must be positive"),
    ({"budget": -3}, "budget must be positive"),
    ({"models": ["AlexNet"]}, "unknown model.*'AlexNet'.*available: VGG-16"),
    ({"machine": "v99"}, "v99"),
])
def test_bad_fig22_options_are_refused_before_any_work(options, error, tmp_path: Path):
    import otc_emu

    with pytest.raises(otc_emu.OtcError, match=error):
        experiments.run("fig22", tmp_path, options)
    assert not (tmp_path / "fig22.points.jsonl").exists()
