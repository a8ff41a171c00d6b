"""Design-space sweeps (``otc-emu sweep``): a grid over machine settings, machines and workloads.

A sweep is an experiment whose points are the product of

- ``machines``: ``"v100"`` (built in), the path of a machine file (TOML, the cycle model's format,
  the keys to change), or a named machine where the Device knows names (``Device(machine=...)``);
- ``grid``: machine keys and their values (``{"accbuf.collector_window": [1, 4, 8]}``): any cycle-
  model key or functional setting the Device takes;
- ``gemm`` workloads (``m``/``n``/``k`` or ``size``, ``modes``, ``sparsity_a``, ``sparsity_b``),
  ``conv`` workloads (a layer of :data:`LAYERS` by ``name`` or its shape, and ``modes``: GEMM modes
  on the layer's explicit-im2col GEMM or implicit-convolution modes) and ``model`` workloads (the
  layers of a model of the fig22 experiment, Table II, with its ``cases``, each layer as the band
  of rows fig22 runs on its share of the SMs: ``budget`` million MACs, or ``"full"``);

run on ``sms`` SMs of the machine (its bandwidth scaled to their share; None: the whole machine).
Each point builds its own Device from the machine, the point's settings and ``sms``, so a point
runs the same wherever it runs. The spec is a dict, read from a small TOML file or from flags
(:func:`load_spec`). The table has one row per point; ``speedup`` is the cycles of the
workload's first mode over the point's, on the same machine, settings and operands.
"""
from __future__ import annotations

import inspect
import itertools
import os
from pathlib import Path
from typing import Any

from .. import OtcError
from . import layers as layer_experiment
from . import workloads
from .experiment import Experiment
from .plot import require_matplotlib, save_figure
from .store import emulator_files
from .workloads import ConvLayer, gemm_operands, gemm_point

__all__ = ["SWEEP_GEMM_MODES", "load_spec", "normalise_spec", "sweep_experiment", "machine_device", "heatmap_plot",
           "AXES"]

SWEEP_GEMM_MODES = ("hmma", "owmma", "spgemm_a", "spgemm")
DEFAULT_GEMM = {"size": 256, "modes": list(SWEEP_GEMM_MODES), "sparsity_a": [0.0], "sparsity_b": [0.0]}
#: The model keys that carry bandwidth, scaled by the share of SMs a slice keeps (as Device.v100_slice does).
BANDWIDTH_KEYS = ("memory.l2_bandwidth_gbs", "memory.dram_bandwidth_gbs")
SPEC_KEYS = {"name", "machines", "grid", "gemm", "conv", "model", "sms", "seed"}
MODEL_KEYS = {"name", "layers", "cases", "budget"}
#: Point fields a table column or a heatmap axis can name, besides the grid's keys.
AXES = ("machine", "workload", "sparsity_a", "sparsity_b", "mode")


# ------------------------------------------------------------------------------------------- spec


def load_spec(path: str | os.PathLike) -> dict:
    """A sweep spec from a TOML file (its keys: :data:`SPEC_KEYS`), not yet normalised."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise OtcError(f"{path}: {e}") from None


def _list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def _fraction(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
        raise OtcError(f"{what} must be a fraction of zeros in [0, 1], got {v!r}")
    return float(v)


def _positive(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise OtcError(f"{what} must be a positive integer, got {v!r}")
    return v


def _seed(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise OtcError(f"seed must be an integer >= 0, got {v!r}")
    return v


def _gemm_workload(w: dict, i: int) -> dict:
    from ..kernels import GEMM_MODES

    where = f"gemm workload {i + 1}"
    unknown = set(w) - {"size", "m", "n", "k", "modes", "sparsity_a", "sparsity_b"}
    if unknown:
        raise OtcError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: size, m, n, k, modes, sparsity_a, sparsity_b")
    size = w.get("size", DEFAULT_GEMM["size"])
    m, n, k = (_positive(w.get(d, size), f"{where}: {d}") for d in ("m", "n", "k"))
    modes = [str(x) for x in _list(w.get("modes", DEFAULT_GEMM["modes"]))]
    bad = [x for x in modes if x not in GEMM_MODES]
    if bad or not modes:
        raise OtcError(f"{where}: unknown mode(s) {', '.join(bad) or '(none)'}; available: {', '.join(GEMM_MODES)}")
    return {"kind": "gemm", "m": m, "n": n, "k": k, "modes": modes,
            "sparsity_a": [_fraction(x, f"{where}: sparsity_a") for x in _list(w.get("sparsity_a", DEFAULT_GEMM["sparsity_a"]))],
            "sparsity_b": [_fraction(x, f"{where}: sparsity_b") for x in _list(w.get("sparsity_b", DEFAULT_GEMM["sparsity_b"]))]}


def _conv_workload(w: dict, i: int) -> dict:
    from ..kernels import CONV_MODES

    where = f"conv workload {i + 1}"
    fields = {f for f in ConvLayer.__dataclass_fields__}
    unknown = set(w) - fields - {"modes"}
    if unknown:
        raise OtcError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: modes, {', '.join(sorted(fields))}")
    named = {layer.name: layer for layer in layer_experiment.LAYERS if isinstance(layer, ConvLayer)}
    given = {f: w[f] for f in fields if f in w}
    if set(given) == {"name"}:  # a layer of the layers experiment by name
        if w["name"] not in named:
            raise OtcError(f"{where}: unknown layer {w['name']!r}; named layers: {', '.join(named)} (or give its shape: "
                           f"{', '.join(sorted(fields - {'name'}))})")
        layer = named[w["name"]]
    else:
        missing = fields - set(given) - {"name"}
        if missing:
            raise OtcError(f"{where}: give a layer name of {', '.join(named)} or every shape key (missing: "
                           f"{', '.join(sorted(missing))})")
        for f in ("c", "k", "hw", "r", "stride"):
            _positive(given[f], f"{where}: {f}")
        if isinstance(given["padding"], bool) or not isinstance(given["padding"], int) or given["padding"] < 0:
            raise OtcError(f"{where}: padding must be an integer >= 0, got {given['padding']!r}")
        layer = ConvLayer(**{"name": f"conv{i + 1}", **given, "sparsity_x": _fraction(given["sparsity_x"], f"{where}: sparsity_x"),
                             "sparsity_w": _fraction(given["sparsity_w"], f"{where}: sparsity_w")})
    modes = [str(x) for x in _list(w.get("modes", list(CONV_MODES)))]
    bad = [x for x in modes if x not in CONV_MODES and x not in layer_experiment.LAYER_GEMM_MODES]
    if bad or not modes:
        raise OtcError(f"{where}: unknown mode(s) {', '.join(bad) or '(none)'}; available: "
                       f"{', '.join([*CONV_MODES, *layer_experiment.LAYER_GEMM_MODES])}")
    return {"kind": "conv", "layer": layer.as_dict(), "modes": modes}


def _model_workloads(w: dict, i: int) -> list[dict]:
    """A ``model`` workload: one workload per layer of a fig22 model (Table II), run as fig22 runs it."""
    from . import fig22
    from .fig22_models import MODELS, Conv

    where = f"model workload {i + 1}"
    unknown = set(w) - MODEL_KEYS
    if unknown:
        raise OtcError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(MODEL_KEYS))}")
    if w.get("name") not in MODELS:
        raise OtcError(f"{where}: name must be a model of {', '.join(MODELS)}, got {w.get('name')!r}")
    layers = MODELS[w["name"]]
    wanted = [str(x) for x in _list(w.get("layers", [L.name for L in layers]))]
    missing = [x for x in wanted if x not in {L.name for L in layers}]
    if missing or not wanted:
        raise OtcError(f"{where}: {w['name']} has no layer(s) {', '.join(map(repr, missing)) or '(none)'}; its layers: "
                       f"{', '.join(L.name for L in layers)}")
    given = [str(c) for c in _list(w.get("cases", []))]
    bad = [c for c in given if c not in fig22.CONV_CASES and c not in fig22.GEMM_CASES]
    if bad:
        raise OtcError(f"{where}: unknown case(s) {', '.join(bad)}; cases: {', '.join([*fig22.CONV_CASES, *fig22.GEMM_CASES])}")
    budget = w.get("budget", fig22.DEFAULT_BUDGET)
    if budget != "full" and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0):
        raise OtcError(f"{where}: budget must be a positive number of million MACs or \"full\", got {budget!r}")
    out = []
    for layer in (L for L in layers if L.name in wanted):
        kind = "conv" if isinstance(layer, Conv) else "gemm"
        known = fig22.CONV_CASES if kind == "conv" else fig22.GEMM_CASES
        cases = [c for c in given if c in known] if given else [fig22.BASELINE[kind], *(c for c in known if c != fig22.BASELINE[kind])]
        if not cases:
            raise OtcError(f"{where}: none of the cases is one of {layer.name}'s ({kind} layer): {', '.join(known)}")
        cases = [c for c in cases if fig22.case_available(known[c][1])]
        band, sms = fig22.scaled(layer, None if budget == "full" else float(budget) * 1e6)
        out.append({"kind": "model", "model": w["name"], "layer_kind": kind, "layer": layer.as_dict(),
                    "run": band.as_dict(), "band_sms": sms, "modes": cases})
    return out


def normalise_spec(spec: dict) -> dict:
    """The spec with defaults filled in and every value checked (OtcError naming the bad one),
    every machine and grid setting tried on a Device, before any point runs."""
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise OtcError(f"unknown sweep key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(SPEC_KEYS))}")
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise OtcError(f"grid must be a table of setting = [values], got {grid!r}")
    grid = {str(k): _list(v) for k, v in grid.items()}
    for k, vs in grid.items():
        if not vs:
            raise OtcError(f"grid key {k}: no values")
    gemms = [_gemm_workload(dict(w), i) for i, w in enumerate(_list(spec.get("gemm") or []))]
    convs = [_conv_workload(dict(w), i) for i, w in enumerate(_list(spec.get("conv") or []))]
    models = [x for i, w in enumerate(_list(spec.get("model") or [])) for x in _model_workloads(dict(w), i)]
    if not gemms and not convs and not models:
        gemms = [_gemm_workload({}, 0)]
    sms = spec.get("sms")
    sms = None if sms in (None, 0, "all") else _positive(sms, "sms")
    out = {"name": str(spec.get("name") or "sweep"), "machines": [str(m) for m in _list(spec.get("machines") or ["v100"])],
           "grid": grid, "workloads": gemms + convs + models, "sms": sms, "seed": _seed(spec.get("seed", 0))}
    for machine in out["machines"]:  # every machine and every value of every key, on a Device, now
        for k, vs in grid.items():
            for v in vs:
                _check_settings(machine, {k: v}, sms)
        _check_settings(machine, {}, sms)
    return out


def _check_settings(machine: str, settings: dict, sms: int | None) -> None:
    from .._core import ConfigError

    try:
        machine_device(machine, settings, sms)
    except (ConfigError, ValueError) as e:
        what = ", ".join(f"{k}={v!r}" for k, v in settings.items()) or "its settings"
        raise OtcError(f"machine {machine}, {what}: {e}") from None


# ---------------------------------------------------------------------------------------- machine


def machine_source(machine: str) -> dict:
    """The Device arguments of a machine: ``{}`` for the built-in V100, ``{"config": path}`` for a
    machine file, ``{"machine": name}`` for a named machine where the Device takes names."""
    from ..device import Device

    if machine.strip().lower() == "v100":
        return {}
    path = Path(machine)
    if path.suffix == ".toml" or os.sep in machine or path.exists():
        if not path.is_file():
            raise OtcError(f"machine file {machine} not found")
        return {"config": str(path)}
    if "machine" in inspect.signature(Device.__init__).parameters:
        return {"machine": machine}
    raise OtcError(f"unknown machine {machine!r}: give v100 or the path of a machine file (TOML)")


def machine_files(machines: list[str]) -> list[Path]:
    """The machine files among ``machines`` (hashed into the points' code version)."""
    return [Path(src["config"]) for src in map(machine_source, machines) if "config" in src]


def machine_device(machine: str, settings: dict, sms: int | None):
    """A Device of ``machine`` with ``settings``; on ``sms`` of its SMs with their share of the L2
    and DRAM bandwidth (Device.v100_slice for any machine), or the whole machine when None."""
    from ..device import Device

    src = machine_source(machine)
    if sms is None:
        return Device(**src, **settings)
    whole = Device(**src, **{**settings, "timing": True}).timing_config
    if sms > whole["gpu.num_sms"]:
        raise ValueError(f"sms must be at most the machine's {whole['gpu.num_sms']} SMs, got {sms}")
    scale = sms / whole["gpu.num_sms"]
    return Device(**src, **{**settings, "num_sms": sms, **{k: whole[k] * scale for k in BANDWIDTH_KEYS}})


# ----------------------------------------------------------------------------------------- points


def _points(spec: dict) -> list[dict]:
    keys = list(spec["grid"])
    pts = []
    for machine in spec["machines"]:
        for values in itertools.product(*(spec["grid"][k] for k in keys)):
            settings = dict(zip(keys, values))
            for w in spec["workloads"]:
                base = {"machine": machine, "settings": settings, "sms": spec["sms"], "seed": spec["seed"]}
                if w["kind"] == "gemm":
                    pts += [{**base, "workload": {"kind": "gemm", "m": w["m"], "n": w["n"], "k": w["k"], "sparsity_a": sa,
                                                  "sparsity_b": sb}, "mode": mode, "baseline": w["modes"][0]}
                            for sa in w["sparsity_a"] for sb in w["sparsity_b"] for mode in w["modes"]]
                elif w["kind"] == "conv":
                    pts += [{**base, "workload": {"kind": "conv", "layer": w["layer"]}, "mode": mode, "baseline": w["modes"][0]}
                            for mode in w["modes"]]
                else:
                    pts += [{**base, "workload": {k: v for k, v in w.items() if k != "modes"}, "mode": case,
                             "baseline": w["modes"][0]} for case in w["modes"]]
    return pts


def _measure(p: dict) -> dict:
    w = p["workload"]
    if w["kind"] == "model":
        return _measure_model(p)
    device = machine_device(p["machine"], p["settings"], p["sms"])
    if w["kind"] == "gemm":
        a, b = gemm_operands(w["m"], w["n"], w["k"], w["sparsity_a"], w["sparsity_b"], p["seed"])
        return gemm_point(a, b, p["mode"], device=device)
    return layer_experiment.measure_layer({"kind": "conv", "layer": w["layer"], "mode": p["mode"], "sms": p["sms"],
                                           "seed": p["seed"]}, device)


def _measure_model(p: dict) -> dict:
    """A case of a model layer, run as fig22 runs it: its band on the band's share of the SMs
    (fig22.scaled; the sweep's ``sms`` does not apply), the machine with the point's settings, a
    bandwidth setting scaled to that share as :func:`machine_device` scales it."""
    from . import fig22

    w = p["workload"]
    how, mode = (fig22.CONV_CASES if w["layer_kind"] == "conv" else fig22.GEMM_CASES)[p["mode"]]
    from ..device import V100_SMS

    scale = w["band_sms"] / V100_SMS  # fig22's bands are shares of the V100's 80 SMs (Device.v100_slice)
    settings = {k: v * scale if k in BANDWIDTH_KEYS else v for k, v in p["settings"].items()}
    spec = {**machine_source(p["machine"]), "settings": settings}
    return fig22.measure({"kind": w["layer_kind"], "run": w["run"], "how": how, "mode": mode, "sms": w["band_sms"],
                          "seed": p["seed"], "device": spec})


def workload_name(w: dict) -> str:
    if w["kind"] == "gemm":
        return f"gemm {w['m']}x{w['n']}x{w['k']}"
    if w["kind"] == "model":
        return f"{w['model']} {w['layer']['name']}"
    return f"conv {w['layer']['name']}"


def _describe(p: dict) -> str:
    w = p["workload"]
    settings = " ".join(f"{k}={v}" for k, v in p["settings"].items())
    zeros = f" A {w['sparsity_a']:.1%} B {w['sparsity_b']:.1%}" if w["kind"] == "gemm" else ""
    return f"{p['machine']} {settings} {workload_name(w)}{zeros} {p['mode']}".replace("  ", " ")


def point_fields(p: dict) -> dict:
    """A point's axes: machine, each grid key, workload, sparsities (GEMM), mode."""
    w = p["workload"]
    return {"machine": p["machine"], **p["settings"], "workload": workload_name(w),
            "sparsity_a": w.get("sparsity_a"), "sparsity_b": w.get("sparsity_b"), "mode": p["mode"]}


def _table(points: list[dict], results: list[dict]):
    cycles = {}
    for p, r in zip(points, results):
        cycles[_same_operands(p, p["mode"])] = r["cycles"]
    rows = []
    for p, r in zip(points, results):
        base = cycles.get(_same_operands(p, p["baseline"]))
        rows.append({**point_fields(p), "cycles": r["cycles"], "speedup": base / r["cycles"] if base and r["cycles"] else None,
                     "tensor_busy_cycles": r.get("tensor_busy_cycles"), "ok": r["ok"]})
    keys = list(dict.fromkeys(k for p in points for k in p["settings"]))
    columns = [("machine", "Machine"), *[(k, k) for k in keys], ("workload", "Workload")]
    if any(p["workload"]["kind"] == "gemm" for p in points):
        columns += [("sparsity_a", "A zeros"), ("sparsity_b", "B zeros")]
    columns += [("mode", "Mode"), ("cycles", "Cycles [cycle]"), ("speedup", "Speedup [x]"),
                ("tensor_busy_cycles", "Tensor busy [cycle]"), ("ok", "ok")]
    return columns, rows


def _view(columns: list[tuple[str, str]], rows: list[dict]):
    """The terminal's table: the axes that vary, the mode, cycles, speedup and the check (the
    constant axes are said once above it; the CSV, JSON and --markdown have every column)."""
    fixed = {k for k, _ in columns if k not in ("mode", "cycles", "speedup", "ok") and len({_label(r.get(k)) for r in rows}) <= 1}
    return [(k, h) for k, h in columns if k not in fixed and k != "tensor_busy_cycles"], rows


def _constants(rows: list[dict]) -> str:
    if not rows:
        return ""
    keys = [k for k in rows[0] if k not in ("mode", "cycles", "speedup", "tensor_busy_cycles", "ok")]
    return ", ".join(f"{k} {_label(rows[0][k])}" for k in keys if len({_label(r.get(k)) for r in rows}) == 1
                     and rows[0][k] is not None)


def _same_operands(p: dict, mode: str) -> str:
    import json

    return json.dumps([p["machine"], p["settings"], p["sms"], p["seed"], p["workload"], mode], sort_keys=True)


def _sources(spec: dict) -> list[Path]:
    from . import fig22, fig22_models

    return (emulator_files() + [Path(__file__), Path(workloads.__file__), Path(layer_experiment.__file__),
                                Path(fig22.__file__), Path(fig22_models.__file__)]
            + machine_files(spec["machines"]))


def _notes(rows: list[dict]) -> list[str]:
    constants = [f"Every point: {_constants(rows)}."] if _constants(rows) else []
    return constants + ["Cycles from the cycle model on the point's own Device (machine, settings, SMs); speedup: "
                        "cycles of the workload's first mode over the point's on the same machine, settings and "
                        "operands; ok: the result is within the documented bound of NumPy."]


def sweep_experiment(spec: dict) -> Experiment:
    """The sweep as an experiment (its name is the spec's ``name``: DIR/NAME.points.jsonl)."""
    spec = normalise_spec(spec)
    return Experiment(spec["name"], f"sweep of {len(spec['machines'])} machine(s) x "
                      f"{' x '.join(f'{len(v)} {k}' for k, v in spec['grid'].items()) or 'no settings'} x "
                      f"{len(spec['workloads'])} workload(s)",
                      points=_points, measure=_measure, describe=_describe, table=_table, sources=_sources,
                      notes=_notes, view=_view, options=spec)


# ---------------------------------------------------------------------------------------- heatmap


def heatmap_plot(rows: list[dict], x: str, y: str, value: str, path: Path) -> Path:
    """A heatmap of ``value`` (a numeric column: cycles, speedup, ...) over the axes ``x`` and ``y``
    (two of :data:`AXES` or the grid's keys); one panel per combination of the other axes that vary."""
    plt = require_matplotlib()
    import numpy as np

    if not rows:
        raise OtcError("nothing to plot: no point finished")
    for axis in (x, y, value):
        if axis not in rows[0]:
            raise OtcError(f"unknown column {axis!r} for the heatmap; columns: {', '.join(rows[0])}")
    varying = [k for k in rows[0] if k not in (x, y, value, "cycles", "speedup", "tensor_busy_cycles", "ok")
               and len({_label(r[k]) for r in rows}) > 1]
    panels: dict[tuple, list[dict]] = {}
    for r in rows:
        panels.setdefault(tuple(_label(r[k]) for k in varying), []).append(r)
    xs = list(dict.fromkeys(_label(r[x]) for r in rows))
    ys = list(dict.fromkeys(_label(r[y]) for r in rows))
    cols = min(3, len(panels))
    nrows = -(-len(panels) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(1.2 + 0.9 * len(xs) * cols + 1.5 * cols, 0.9 + 0.5 * len(ys) * nrows + 0.6 * nrows),
                             squeeze=False)
    for ax, (fixed, prs) in zip(axes.flat, panels.items()):
        grid = np.full((len(ys), len(xs)), np.nan)
        for r in prs:
            if isinstance(r.get(value), (int, float)):
                grid[ys.index(_label(r[y])), xs.index(_label(r[x]))] = r[value]
        im = ax.imshow(grid, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(xs)), xs, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(ys)), ys, fontsize=8)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        for (i, j), v in np.ndenumerate(grid):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color="white")
        ax.set_title(", ".join(f"{k}={v}" for k, v in zip(varying, fixed)) or value, fontsize=8)
        fig.colorbar(im, ax=ax, label=value)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    save_figure(fig, path)
    return path


def _label(v: Any) -> str:
    return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
