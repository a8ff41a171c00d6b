"""The paper's experiments on the emulator (``otc-emu experiment NAME --out DIR``; docs/experiments.md).

- ``fig21``: GEMM speedup of spgemm, spgemm_a and owmma over the dense hmma baseline across
  A x B sparsities (the paper's Fig. 21, there 4096^3 on a V100 against CUTLASS).
- ``table3``: host time of the reference dense, CSR and bitmap im2col (``otc_emu.sparse``) on the
  ResNet-18 layer (H = W = 56, 3x3, 128 channels), normalised to dense, per feature-map sparsity;
  with ``emulate`` also the emulated convolution cycles where the conv kernels exist.
- ``layers``: per-layer cycles and speedups of representative VGG-16, ResNet-18 and BERT-base
  layers at stated (assumed) sparsities, in every GEMM mode (convolutions as explicit im2col
  GEMMs) and in the implicit convolution modes when the conv kernels exist.

Every point is measured by running the programs (cycle numbers come from the cycle model, host
times from ``time.perf_counter``); nothing is computed from a formula. Points are stored one JSON
line each in ``DIR/NAME.points.jsonl`` as they finish, keyed by their parameters and a hash of the
code that produced them (:func:`code_version`), so a re-run skips finished points and never
reuses stale ones.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from . import OtcError

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

__all__ = ["EXPERIMENTS", "Experiment", "Outcome", "run", "get", "Store", "code_version", "write_outputs", "markdown",
           "markdown_for", "fig21_markdown", "plot", "ConvLayer", "GemmLayer", "LAYERS", "run_conv"]

PACKAGE = Path(__file__).resolve().parent

FIG21_SPARSITY_A = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999)
FIG21_SPARSITY_B = (0.0, 0.5, 0.9, 0.99)
FIG21_MODES = ("hmma", "owmma", "spgemm_a", "spgemm")
FIG21_DEFAULT_SIZE = 512
#: fig21 runs on a slice of the V100 by default (Device.v100_slice): 512^3 on 4 SMs gives each SM
#: about the CTAs and bandwidth share of 2048^3 on all 80, in minutes of emulation.
FIG21_DEFAULT_SMS = 4
TABLE3_SPARSITY = (0.0, 0.25, 0.5, 0.75, 0.99, 0.999)

# The paper's Table III (normalised im2col time), printed beside ours.
PAPER_TABLE3 = {"csr": (101.3, 67.1, 45.2, 14.5, 4.7, 1.2), "bitmap": (8.31, 6.87, 4.73, 2.5, 1.5, 1.1)}


def code_version(files: Sequence[Path]) -> str:
    """A short hash of the files that decide a point's result (kernel programs, Python drivers,
    the compiled emulator). Changing any of them makes every stored point stale."""
    h = hashlib.sha256()
    for f in sorted(set(files)):
        h.update(f.name.encode())
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def _emulator_files() -> list[Path]:
    from . import _core

    return sorted(PACKAGE.joinpath("programs").glob("*.sass")) + [PACKAGE / "kernels.py", PACKAGE / "sparse.py",
                                                                   Path(_core.__file__)]


# ------------------------------------------------------------------------------------------- store


class Store:
    """Finished points of one experiment in ``DIR/NAME.points.jsonl`` (append-only, one JSON
    object per line: key, params, result). A line that does not parse (an interrupted write) is
    ignored and its point runs again."""

    def __init__(self, directory: Path, experiment: "Experiment"):
        self.directory = Path(directory)
        self.experiment = experiment
        self.path = self.directory / f"{experiment.name}.points.jsonl"
        self.version = experiment.version()
        self._results: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self._results[entry["key"]] = entry["result"]
                except (ValueError, KeyError, TypeError):
                    continue

    def key(self, params: dict) -> str:
        text = json.dumps({"experiment": self.experiment.name, "version": self.version, "params": params}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def done(self, params: dict) -> bool:
        return self.key(params) in self._results

    def add(self, params: dict, result: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        key = self.key(params)
        line = json.dumps({"key": key, "version": self.version, "params": params, "result": result}, sort_keys=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._results[key] = result

    def result(self, params: dict) -> dict:
        return self._results[self.key(params)]


# ------------------------------------------------------------------------------------- experiments


@dataclass
class Experiment:
    """One experiment: its points, how to measure one, and how the results become a table."""

    name: str
    title: str
    points: Callable[[dict], list[dict]]
    measure: Callable[[dict], dict]
    describe: Callable[[dict], str]
    table: Callable[[list[dict], list[dict]], tuple[list[tuple[str, str]], list[dict]]]
    sources: Callable[[dict], list[Path]]
    plotter: Callable[[list[dict], Path], None] | None = None
    renderer: Callable[[list[dict], Any], None] | None = None
    notes: Callable[[list[dict]], list[str]] | None = None
    view: Callable[[list[tuple[str, str]], list[dict]], tuple[list[tuple[str, str]], list[dict]]] | None = None
    options: dict | None = None
    #: what ``--markdown`` prints, when not the flat table
    markdowner: Callable[[list[tuple[str, str]], list[dict]], str] | None = None

    def version(self) -> str:
        return code_version(self.sources(self.options or {}))

    def render(self, columns: list[tuple[str, str]], rows: list[dict], console: "Console") -> None:
        if self.renderer is not None:  # its own view; the flat table is in the CSV, JSON and --markdown
            self.renderer(rows, console)
        else:  # the terminal view may be narrower than the table of the CSV and --markdown
            render_table(None, *(self.view(columns, rows) if self.view else (columns, rows)), console)
        from rich.markup import escape

        for note in self.notes(rows) if self.notes else []:
            console.print(escape(note))


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def render_table(title: str | None, columns: list[tuple[str, str]], rows: list[dict], console: "Console") -> None:
    """A rich table: numbers right-aligned with thousands separators, the largest speedup bold."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title, title_justify="left", box=box.MINIMAL_HEAVY_HEAD)
    for key, header in columns:
        numeric = any(isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool) for r in rows)
        t.add_column(escape(header), justify="right" if numeric else "left")
    best = {key: max((r[key] for r in rows if isinstance(r.get(key), (int, float))), default=None)
            for key, header in columns if "speedup" in key}
    for col, (key, header) in zip(t.columns, columns):
        # values never shrink to an ellipsis; headers wrap, folding words too long for the column
        col.min_width = max([min(10, max(len(w) for w in header.split())), *(len(w) for r in rows for w in _fmt(r.get(key)).split())])
        col.overflow = "fold"
    for r in rows:
        cells = []
        for key, _ in columns:
            text = escape(_fmt(r.get(key)))
            if key in best and best[key] is not None and r.get(key) == best[key]:
                text = f"[bold green]{text}[/bold green]"
            cells.append(text)
        t.add_row(*cells)
    console.print(t)


def markdown(columns: list[tuple[str, str]], rows: list[dict]) -> str:
    """The table as GitHub Markdown, numbers right-aligned, ready to paste into the README."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    align = "|" + "|".join("---:" if any(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in rows)
                           else "---" for k, _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, align, *body])


def fig21_markdown(rows: list[dict]) -> str:
    """fig21 as the paper draws it: per mode, a matrix of speedups over hmma, A zeros down, B zeros across."""
    out = []
    modes = list(dict.fromkeys(k[len("speedup_"):] for r in rows for k in r if k.startswith("speedup_")))
    sbs = sorted({r["sparsity_b_pct"] for r in rows})
    sas = sorted({r["sparsity_a_pct"] for r in rows})
    index = {(r["sparsity_a_pct"], r["sparsity_b_pct"]): r for r in rows}
    for mode in modes:
        out.append(f"{mode} speedup over hmma [x], {_fig21_where(rows[0])}, model cycles:\n")
        out.append("| A zeros \\ B zeros | " + " | ".join(f"{sb:g}%" for sb in sbs) + " |")
        out.append("|---:|" + "---:|" * len(sbs))
        for sa in sas:
            cells = [index.get((sa, sb), {}).get(f"speedup_{mode}") for sb in sbs]
            out.append(f"| {sa:g}% | " + " | ".join("" if c is None else f"{c:.2f}" for c in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def markdown_for(name: str, columns: list[tuple[str, str]], rows: list[dict]) -> str:
    """What ``--markdown`` prints: fig21 as speedup matrices, an experiment's own view, or the table."""
    if name == "fig21" and rows:
        return fig21_markdown(rows)
    own = EXPERIMENTS[name].markdowner if name in EXPERIMENTS else None
    return own(columns, rows) if own is not None and rows else markdown(columns, rows) + "\n"


def write_outputs(name: str, columns: list[tuple[str, str]], rows: list[dict], directory: Path, extra: dict | None = None) -> list[Path]:
    """``DIR/NAME.csv`` (the table) and ``DIR/NAME.json`` (the table and ``extra``)."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = directory / f"{name}.csv", directory / f"{name}.json"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([k for k, _ in columns])
        for r in rows:
            w.writerow(["" if r.get(k) is None else r.get(k) for k, _ in columns])
    json_path.write_text(json.dumps({"experiment": name, "columns": [{"key": k, "header": h} for k, h in columns],
                                     "rows": rows, **(extra or {})}, indent=2, sort_keys=True), encoding="utf-8")
    return [csv_path, json_path]


def require_matplotlib():
    """matplotlib.pyplot with the file-only backend, or a clear OtcError."""
    try:
        import matplotlib
    except ImportError:
        raise OtcError("--plot needs matplotlib, which is not installed; pip install 'otc-emu[plot]' "
                       "(or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(exp: Experiment, rows: list[dict], directory: Path) -> Path:
    if exp.plotter is None:
        raise OtcError(f"experiment {exp.name} has no plot")
    path = directory / f"{exp.name}.png"
    exp.plotter(rows, path)
    return path


# ------------------------------------------------------------------------------------------- GEMM


def _operands(m: int, n: int, k: int, sparsity_a: float, sparsity_b: float, seed: int):
    from . import sparse

    rng = np.random.default_rng(seed)
    a = sparse.prune_random(rng.standard_normal((m, k)), sparsity_a, seed=seed + 1)
    b = sparse.prune_random(rng.standard_normal((k, n)), sparsity_b, seed=seed + 2)
    return a, b


def _device(sms: int, spec: dict | None = None):
    """The V100 on ``sms`` of its SMs with the per-SM bandwidth kept (all 80: the plain V100), as
    machine ``spec["machine"]`` (default v100) with ``spec["settings"]`` (dotted keys)."""
    from .device import Device

    spec = spec or {}
    return Device.v100_slice(sms, machine=spec.get("machine"), **spec.get("settings", {}))


def device_spec(o: dict) -> dict:
    """The machine options (``machine``, ``settings``) of an experiment as a point's ``device``
    entry: empty for the default machine, so the default points keep their keys."""
    from .device import machine_settings

    spec: dict = {}
    machine = o.get("machine")
    machine_settings(machine)  # an unknown name fails before any work
    if machine not in (None, "v100"):
        spec["machine"] = machine
    if o.get("settings"):
        spec["settings"] = dict(sorted(o["settings"].items()))
    return spec


def _with_device(point: dict, o: dict) -> dict:
    spec = device_spec(o)
    return {**point, "device": spec} if spec else point


def check_sms(sms) -> int:
    """``--sms`` as an int, or OtcError before any work when it is not 1..80."""
    from .device import V100_SMS

    sms = int(sms)
    if not 1 <= sms <= V100_SMS:
        raise OtcError(f"--sms must be in 1..{V100_SMS}, got {sms}")
    return sms


def _sms(o: dict, default: int) -> int:
    return check_sms(_option(o, "sms", default))


def _point(stats, ok: bool) -> dict:
    """What a stored point keeps of a launch: cycles, instruction and tensor counts, the check."""
    c = stats.counters
    return {"cycles": c.get("cycles"), "warp_instructions": c["warp_instructions"], "ohmma_executed": c["ohmma.executed"],
            "hmma_executed": c["hmma.executed"], "tensor_busy_cycles": c.get("tensor.busy_cycles"), "ok": ok}


def _gemm_point(a: np.ndarray, b: np.ndarray, mode: str, sms: int = 80, spec: dict | None = None) -> dict:
    from . import kernels

    res = kernels.gemm(a, b, mode=mode, device=_device(sms, spec))
    exact = a.astype(np.float64) @ b.astype(np.float64)
    ok = bool(np.all(np.abs(res.c - exact) <= kernels.error_bound(a, b)))
    return _point(res.stats, ok)


def _option(o: dict, key: str, default):
    """``o[key]``, or ``default`` when it is absent or None (0 is a value, and is checked)."""
    v = o.get(key)
    return default if v is None else v


def _fig21_points(o: dict) -> list[dict]:
    size = int(_option(o, "size", FIG21_DEFAULT_SIZE))
    if size < 1:
        raise OtcError(f"--size must be at least 1, got {size}")
    sms = _sms(o, FIG21_DEFAULT_SMS)
    sa_list = o.get("sparsity_a", FIG21_SPARSITY_A)
    sb_list = o.get("sparsity_b", FIG21_SPARSITY_B)
    return [_with_device({"size": size, "sms": sms, "sparsity_a": sa, "sparsity_b": sb, "mode": mode,
                          "seed": int(o.get("seed", 0))}, o)
            for sa in sa_list for sb in sb_list for mode in o.get("modes", FIG21_MODES)]


def _fig21_measure(p: dict) -> dict:
    a, b = _operands(p["size"], p["size"], p["size"], p["sparsity_a"], p["sparsity_b"], p["seed"])
    return _gemm_point(a, b, p["mode"], p["sms"], p.get("device"))


def _fig21_table(points: list[dict], results: list[dict]):
    modes = list(dict.fromkeys(p["mode"] for p in points))
    cells: dict[tuple, dict] = {}
    for p, r in zip(points, results):
        row = cells.setdefault((p["sparsity_a"], p["sparsity_b"]), {"size": p["size"], "sms": p["sms"], "sparsity_a_pct": 100 * p["sparsity_a"],
                                                                     "sparsity_b_pct": 100 * p["sparsity_b"], "ok": True,
                                                                     "machine": p.get("device", {}).get("machine", "v100")})
        row[f"{p['mode']}_cycles"] = r["cycles"]
        row["ok"] = row["ok"] and r["ok"]
    base = "hmma" if "hmma" in modes else modes[0]
    for row in cells.values():
        for mode in modes:
            if row.get(f"{base}_cycles") and row.get(f"{mode}_cycles") and mode != base:
                row[f"speedup_{mode}"] = row[f"{base}_cycles"] / row[f"{mode}_cycles"]
    columns = [("size", "M=N=K"), ("sms", "SMs"), ("sparsity_a_pct", "A zeros [%]"), ("sparsity_b_pct", "B zeros [%]")]
    columns += [(f"{m}_cycles", f"{m} [cycle]") for m in modes]
    columns += [(f"speedup_{m}", f"{m} speedup [x]") for m in modes if m != base]
    columns += [("ok", "ok")]
    return columns, list(cells.values())


def _fig21_where(row: dict) -> str:
    """"512^3 on 4 SMs" (a V100 slice, Device.v100_slice) or "512^3" (the whole V100)."""
    from .device import V100_SMS

    sms = row.get("sms", V100_SMS)
    machine = row.get("machine", "v100")
    return f"{row['size']}^3" + ("" if sms == V100_SMS else f" on {sms} SMs") + ("" if machine == "v100" else f", machine {machine}")


def _fig21_render(rows: list[dict], console) -> None:
    """The paper's view: one matrix per sparse mode, A sparsity down, B sparsity across."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    modes = [k[len("speedup_"):] for k in rows[0] if k.startswith("speedup_")] if rows else []
    sbs = sorted({r["sparsity_b_pct"] for r in rows})
    sas = sorted({r["sparsity_a_pct"] for r in rows})
    index = {(r["sparsity_a_pct"], r["sparsity_b_pct"]): r for r in rows}
    for mode in modes:
        best = max(r.get(f"speedup_{mode}", 0) for r in rows)
        console.print(escape(f"{mode}: speedup over hmma [x], {_fig21_where(rows[0])}, model cycles (rows: A zeros, columns: B zeros)"))
        t = Table(box=box.MINIMAL_HEAVY_HEAD)
        t.add_column(escape("A zeros [%]"), justify="right")
        for sb in sbs:
            t.add_column(escape(f"B {sb:g}%"), justify="right")
        for sa in sas:
            cells = []
            for sb in sbs:
                v = index.get((sa, sb), {}).get(f"speedup_{mode}")
                text = "" if v is None else f"{v:.2f}"
                cells.append(f"[bold green]{text}[/bold green]" if v is not None and v == best else text)
            t.add_row(f"{sa:g}", *cells)
        console.print(t)


def _fig21_plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    modes = [k[len("speedup_"):] for k in rows[0] if k.startswith("speedup_")]
    fig, axes = plt.subplots(1, len(modes), figsize=(4.5 * len(modes), 3.8), squeeze=False, sharey=True)
    for ax, mode in zip(axes[0], modes):
        for sb in sorted({r["sparsity_b_pct"] for r in rows}):
            pts = sorted((r["sparsity_a_pct"], r[f"speedup_{mode}"]) for r in rows if r["sparsity_b_pct"] == sb)
            ax.plot([str(x) for x, _ in pts], [y for _, y in pts], marker="o", label=f"B {sb:g}% zeros")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_title(f"{mode} over hmma, {_fig21_where(rows[0])}")
        ax.set_xlabel("A zeros [%]")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("speedup [x] (model cycles)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------------------- table3


def _table3_points(o: dict) -> list[dict]:
    hw = int(_option(o, "size", 56))
    channels = int(_option(o, "channels", 128))
    repeats = int(_option(o, "repeats", 3))
    if hw < 3 or channels < 1 or repeats < 1:
        raise OtcError(f"table3 needs a feature map of at least 3x3, 1 channel and 1 repeat (got {hw}, {channels}, {repeats})")
    pts = [{"hw": hw, "channels": channels, "r": 3, "padding": 1, "sparsity": s, "repeats": repeats, "what": "host",
            "seed": int(o.get("seed", 0))} for s in o.get("sparsities", TABLE3_SPARSITY)]
    if o.get("emulate"):
        from .kernels import CONV_MODES

        pts += [{**p, "what": mode, "repeats": 1} for p in pts for mode in CONV_MODES]
    return pts


def _feature_map(channels: int, hw: int, sparsity: float, seed: int) -> np.ndarray:
    from . import sparse

    return sparse.relu_activations((channels, hw * hw), sparsity, seed=seed).reshape(channels, hw, hw)


def _table3_measure(p: dict) -> dict:
    from . import sparse

    x = _feature_map(p["channels"], p["hw"], p["sparsity"], p["seed"])
    if p["what"] != "host":
        w = np.random.default_rng(p["seed"] + 7).standard_normal((p["channels"], p["channels"], 3, 3)).astype(np.float16)
        layer = ConvLayer("table3", p["channels"], p["channels"], p["hw"], 3, 1, 1, p["sparsity"], 0.0)
        r = _conv_point(layer, x, w, p["what"])
        return {"cycles": r["cycles"], "ok": r["ok"]}
    funcs = {"dense": sparse.im2col_dense, "csr": sparse.im2col_csr, "bitmap": sparse.im2col_bitmap}
    out: dict[str, Any] = {}
    reference = None
    ok = True
    for name, f in funcs.items():
        f(x, p["r"], p["r"], 1, p["padding"])  # warm-up, untimed: first-call allocation is not im2col cost
        times = []
        for _ in range(p["repeats"]):
            t0 = time.perf_counter()
            y = f(x, p["r"], p["r"], 1, p["padding"])
            times.append(time.perf_counter() - t0)
        reference = y if reference is None else reference
        ok = ok and bool(np.array_equal(y, reference))
        out[f"{name}_ms"] = 1e3 * statistics.median(times)
    out["ok"] = ok
    return out


def _table3_table(points: list[dict], results: list[dict]):
    rows: dict[float, dict] = {}
    emulated = []
    for p, r in zip(points, results):
        row = rows.setdefault(p["sparsity"], {"sparsity_pct": 100 * p["sparsity"], "ok": True})
        row["ok"] = row["ok"] and r["ok"]
        if p["what"] == "host":
            row.update({k: v for k, v in r.items() if k.endswith("_ms")})
            for name in ("dense", "csr", "bitmap"):
                row[f"{name}_norm"] = r[f"{name}_ms"] / r["dense_ms"]
        else:
            row[f"{p['what']}_cycles"] = r["cycles"]
            emulated.append(p["what"])
    for i, (s, row) in enumerate(sorted(rows.items())):
        if s in TABLE3_SPARSITY:
            j = TABLE3_SPARSITY.index(s)
            row["paper_csr_norm"], row["paper_bitmap_norm"] = PAPER_TABLE3["csr"][j], PAPER_TABLE3["bitmap"][j]
    columns = [("sparsity_pct", "Sparsity [%]"), ("csr_norm", "CSR [x dense]"), ("bitmap_norm", "Bitmap [x dense]"),
               ("paper_csr_norm", "paper CSR [x]"), ("paper_bitmap_norm", "paper bitmap [x]"),
               ("dense_ms", "dense [ms]"), ("csr_ms", "CSR [ms]"), ("bitmap_ms", "bitmap [ms]")]
    modes = list(dict.fromkeys(emulated))
    if modes:
        base = modes[0]
        for row in rows.values():
            for m in modes[1:]:
                if row.get(f"{base}_cycles") and row.get(f"{m}_cycles"):
                    row[f"{m}_norm_cycles"] = row[f"{m}_cycles"] / row[f"{base}_cycles"]
        columns += [(f"{m}_cycles", f"{m} conv [cycle]") for m in modes]
        columns += [(f"{m}_norm_cycles", f"{m} [x {base}]") for m in modes[1:]]
    columns.append(("ok", "same"))
    return columns, [rows[s] for s in sorted(rows)]


def _table3_view(columns, rows):
    return [c for c in columns if not c[0].endswith(("_ms", "_cycles"))], rows  # times and cycles: CSV, --markdown


def _table3_notes(rows: list[dict]) -> list[str]:
    return ["Host times of the NumPy reference implementations (otc_emu.sparse), median of the repeats, each "
            "normalised to the dense im2col at the same sparsity. The dense one is vectorised NumPy while the CSR "
            "and bitmap ones loop in Python per (channel, kernel row, output row), so the ratios compare "
            "implementations, not GPU kernels; the paper's columns are its Table III (PyTorch ATen)."]


def _table3_plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    xs = np.arange(len(rows))
    for i, (key, label) in enumerate((("csr_norm", "CSR (ours)"), ("bitmap_norm", "bitmap (ours)"),
                                      ("paper_csr_norm", "CSR (paper)"), ("paper_bitmap_norm", "bitmap (paper)"))):
        ax.bar(xs + (i - 1.5) * 0.2, [r.get(key) or 0 for r in rows], width=0.2, label=label)
    ax.set_xticks(xs, [f"{r['sparsity_pct']:g}%" for r in rows])
    ax.set_yscale("log")
    ax.set_ylabel("time / dense im2col")
    ax.set_xlabel("feature-map zeros")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------ convolution


@dataclass(frozen=True)
class ConvLayer:
    """A convolution layer (batch 1, square): channels in/out, feature map edge, filter edge,
    stride, padding, and the assumed fraction of zeros in activations and weights."""

    name: str
    c: int
    k: int
    hw: int
    r: int
    stride: int
    padding: int
    sparsity_x: float
    sparsity_w: float

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"{self.name}: {self.c}->{self.k} channels, {self.hw}x{self.hw}, {self.r}x{self.r}/{self.stride}, "
                f"activations {self.sparsity_x:.0%} / weights {self.sparsity_w:.0%} zeros")


@dataclass(frozen=True)
class GemmLayer:
    """A GEMM layer Y = X W^T computed as C = W (out x in) x X^T (in x tokens), so A is the
    weights (single-side sparse modes exploit the weights, as the paper's Sparse Tensor Core does)."""

    name: str
    tokens: int
    d_in: int
    d_out: int
    sparsity_x: float
    sparsity_w: float

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return (f"{self.name}: {self.tokens} tokens, {self.d_in}->{self.d_out}, activations {self.sparsity_x:.0%} / "
                f"weights {self.sparsity_w:.0%} zeros")


def _conv_operands(layer: ConvLayer, seed: int):
    from . import sparse

    x = _feature_map(layer.c, layer.hw, layer.sparsity_x, seed)
    w = sparse.prune_random(np.random.default_rng(seed + 3).standard_normal((layer.k, layer.c * layer.r * layer.r)),
                            layer.sparsity_w, seed=seed + 4).reshape(layer.k, layer.c, layer.r, layer.r)
    return x, w


def _conv_point(layer: ConvLayer, x: np.ndarray, w: np.ndarray, mode: str, sms: int = 80, spec: dict | None = None) -> dict:
    from . import kernels, sparse

    res = kernels.conv2d(x[None], w, stride=layer.stride, padding=layer.padding, mode=mode, device=_device(sms, spec))  # batch 1
    cols = sparse.im2col_dense(x, layer.r, layer.r, layer.stride, layer.padding)
    wm = w.reshape(layer.k, -1)
    exact = wm.astype(np.float64) @ cols.astype(np.float64)
    y = np.asarray(res.y, dtype=np.float64).reshape(exact.shape)
    ok = bool(np.all(np.abs(y - exact) <= kernels.error_bound(wm, cols)))
    return {**_point(res.stats, ok), "stats": res.stats, "max_abs_err": float(np.max(np.abs(y - exact))) if y.size else 0.0}


def run_conv(layer: ConvLayer, modes: Sequence[str], seed: int = 0, progress=None, sms: int = 80,
             spec: dict | None = None) -> dict:
    """Run the layer in each implicit convolution mode on the same operands (on machine ``spec``,
    as for :func:`device_spec`); for the CLI."""
    x, w = _conv_operands(layer, seed)
    out = {}
    for mode in modes:
        if progress is not None:
            progress.describe(f"running {mode}")
        r = _conv_point(layer, x, w, mode, sms, spec)
        out[mode] = {"stats": r["stats"], "within_bound": r["ok"], "max_abs_err": r["max_abs_err"]}
        if progress is not None:
            progress.advance()
    return out


# ----------------------------------------------------------------------------------------- layers

#: Representative layers (batch 1) and the sparsities assumed for them (docs/experiments.md). The
#: paper lists its measured per-layer sparsities only in a figure; these are typical of AGP-pruned
#: CNNs (weights) with ReLU activations, and of movement-pruned BERT-base (weights only).
LAYERS: tuple[ConvLayer | GemmLayer, ...] = (
    ConvLayer("VGG-16 conv5_2", 512, 512, 14, 3, 1, 1, sparsity_x=0.7, sparsity_w=0.8),
    ConvLayer("ResNet-18 conv2_x", 64, 64, 56, 3, 1, 1, sparsity_x=0.5, sparsity_w=0.6),
    ConvLayer("ResNet-18 conv4_x", 256, 256, 14, 3, 1, 1, sparsity_x=0.65, sparsity_w=0.8),
    GemmLayer("BERT-base QKV", 128, 768, 2304, sparsity_x=0.0, sparsity_w=0.9),
    GemmLayer("BERT-base FFN1", 128, 768, 3072, sparsity_x=0.0, sparsity_w=0.9),
    GemmLayer("BERT-base FFN2", 128, 3072, 768, sparsity_x=0.0, sparsity_w=0.9),
)

LAYER_GEMM_MODES = ("hmma", "owmma", "spgemm_a", "spgemm")


def _layers_points(o: dict) -> list[dict]:
    from .kernels import CONV_MODES as conv_modes

    tokens = o.get("tokens")  # None: each GEMM layer's own sequence length
    layers = o.get("layers", LAYERS)
    sms = _sms(o, 80)
    pts = []
    for layer in layers:
        if isinstance(layer, GemmLayer) and tokens is not None and int(tokens) != layer.tokens:
            if int(tokens) < 1:
                raise OtcError(f"--tokens must be at least 1, got {tokens}")
            layer = GemmLayer(layer.name, int(tokens), layer.d_in, layer.d_out, layer.sparsity_x, layer.sparsity_w)
        kind = "conv" if isinstance(layer, ConvLayer) else "gemm"
        modes = list(o.get("modes", LAYER_GEMM_MODES)) + (list(conv_modes) if kind == "conv" else [])
        pts += [_with_device({"kind": kind, "layer": layer.as_dict(), "mode": mode, "sms": sms, "seed": int(o.get("seed", 0))}, o)
                for mode in modes]
    return pts


def _layer_gemm_operands(p: dict):
    from . import sparse

    L = p["layer"]
    seed = p["seed"]
    if p["kind"] == "conv":
        layer = ConvLayer(**L)
        x, w = _conv_operands(layer, seed)
        return w.reshape(layer.k, -1), sparse.im2col_dense(x, layer.r, layer.r, layer.stride, layer.padding)
    w = sparse.prune_random(np.random.default_rng(seed + 3).standard_normal((L["d_out"], L["d_in"])), L["sparsity_w"], seed=seed + 4)
    xt = sparse.relu_activations((L["d_in"], L["tokens"]), L["sparsity_x"], seed=seed) if L["sparsity_x"] > 0 else \
        np.random.default_rng(seed).standard_normal((L["d_in"], L["tokens"])).astype(np.float16)
    return w, xt


def _layers_measure(p: dict) -> dict:
    if p["kind"] == "conv" and p["mode"] not in LAYER_GEMM_MODES:
        layer = ConvLayer(**p["layer"])
        x, w = _conv_operands(layer, p["seed"])
        r = _conv_point(layer, x, w, p["mode"], p["sms"], p.get("device"))
        r.pop("stats")
        r.pop("max_abs_err")
        return r
    a, b = _layer_gemm_operands(p)
    return _gemm_point(a, b, p["mode"], p["sms"], p.get("device"))


def _layer_shape(L: dict) -> str:
    if "hw" in L:
        return f"{L['c']}->{L['k']}, {L['hw']}x{L['hw']}, {L['r']}x{L['r']}"
    return f"{L['tokens']}x{L['d_in']}->{L['d_out']}"


def _layers_table(points: list[dict], results: list[dict]):
    rows: dict[str, dict] = {}
    modes: list[str] = []
    for p, r in zip(points, results):
        L = p["layer"]
        row = rows.setdefault(L["name"], {"layer": L["name"], "shape": _layer_shape(L), "sparsity_x_pct": 100 * L["sparsity_x"],
                                          "sparsity_w_pct": 100 * L["sparsity_w"], "ok": True})
        row[f"{p['mode']}_cycles"] = r["cycles"]
        row["ok"] = row["ok"] and r["ok"]
        modes.append(p["mode"])
    modes = list(dict.fromkeys(modes))
    for row in rows.values():
        for m in modes:
            if row.get("hmma_cycles") and row.get(f"{m}_cycles") and m != "hmma":
                row[f"speedup_{m}"] = row["hmma_cycles"] / row[f"{m}_cycles"]
        # the paper normalises convolutions to its Dense Implicit baseline
        if row.get("dense_implicit_cycles") and row.get("sparse_implicit_cycles"):
            row["sparse_over_dense_implicit"] = row["dense_implicit_cycles"] / row["sparse_implicit_cycles"]
    columns = [("layer", "Layer"), ("shape", "Shape"), ("sparsity_x_pct", "Act. zeros [%]"), ("sparsity_w_pct", "Wt. zeros [%]"),
               ("hmma_cycles", "hmma [cycle]")]
    columns += [(f"speedup_{m}", f"{m} [x]") for m in modes if m != "hmma"]
    if any("sparse_over_dense_implicit" in r for r in rows.values()):
        columns.append(("sparse_over_dense_implicit", "sparse_implicit [x dense_implicit]"))
    columns.append(("ok", "ok"))
    return columns, list(rows.values())


def _layers_view(columns, rows):
    """One line per layer and mode (the wide table of the CSV and --markdown has one column per
    mode, and the shapes)."""
    long = []
    for r in rows:
        modes = [k[: -len("_cycles")] for k in r if k.endswith("_cycles")]
        for m in modes:
            long.append({"layer": r["layer"], "shape": r["shape"], "sparsity": f"{r['sparsity_x_pct']:g}% / {r['sparsity_w_pct']:g}%",
                         "mode": m, "cycles": r[f"{m}_cycles"], "speedup": 1.0 if m == "hmma" else r.get(f"speedup_{m}"),
                         "vs_dense_implicit": r.get("sparse_over_dense_implicit") if m == "sparse_implicit" else None})
    for i in range(len(long) - 1, 0, -1):  # name each layer once
        if long[i]["layer"] == long[i - 1]["layer"]:
            long[i].update(layer="", shape="", sparsity="")
    columns = [("layer", "Layer"), ("sparsity", "Zeros act. / wt."), ("mode", "Mode"),
               ("cycles", "Cycles [cycle]"), ("speedup", "Speedup over hmma [x]")]
    if any(x["vs_dense_implicit"] for x in long):
        columns.append(("vs_dense_implicit", "over dense_implicit [x]"))
    return columns, long


def _layers_notes(rows: list[dict]) -> list[str]:
    notes = ["Convolutions run as explicit-im2col GEMMs in the GEMM modes (A = weights K x CRS, B = im2col of the "
             "feature map), BERT layers as C = W x X^T, and convolutions also in the implicit-im2col conv modes when "
             "available; [x]: model cycles of hmma (dense, explicit) over each mode's; ok: every "
             "result within the documented bound of NumPy. "
             "Sparsities are assumptions (docs/experiments.md)."]
    return notes


def _layers_plot(rows: list[dict], path: Path) -> None:
    plt = require_matplotlib()
    keys = list(dict.fromkeys(k for r in rows for k in r if k.startswith("speedup_")))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    xs = np.arange(len(rows))
    width = 0.8 / max(1, len(keys))
    for i, key in enumerate(keys):
        ax.bar(xs + (i - (len(keys) - 1) / 2) * width, [r.get(key) or 0 for r in rows], width=width, label=key[len("speedup_"):])
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(xs, [r["layer"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("speedup over hmma [x]")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _describe_gemm(p: dict) -> str:
    return f"A {p['sparsity_a']:.1%} B {p['sparsity_b']:.1%} {p['mode']}"


EXPERIMENTS: dict[str, Experiment] = {
    "fig21": Experiment(
        "fig21", "GEMM speedup over the dense hmma baseline across A x B sparsity (paper Fig. 21)",
        points=_fig21_points, measure=_fig21_measure, describe=_describe_gemm, table=_fig21_table,
        sources=lambda o: _emulator_files() + [Path(__file__)], plotter=_fig21_plot, renderer=_fig21_render,
        notes=lambda rows: ["Speedup = hmma cycles / mode cycles from the cycle model on the same pruned random operands; "
                            "every result checked against NumPy within the documented bound ('ok')."]),
    "table3": Experiment(
        "table3", "im2col time of dense, CSR and bitmap im2col, normalised to dense (paper Table III)",
        points=_table3_points, measure=_table3_measure, describe=lambda p: f"{p['sparsity']:.1%} {p['what']}",
        table=_table3_table, sources=lambda o: [PACKAGE / "sparse.py", Path(__file__)] + (_emulator_files() if o.get("emulate") else []),
        plotter=_table3_plot, notes=_table3_notes, view=_table3_view),
    "layers": Experiment(
        "layers", "per-layer speedups of representative VGG-16, ResNet-18 and BERT-base layers (paper Fig. 22)",
        points=_layers_points, measure=_layers_measure, describe=lambda p: f"{p['layer']['name']} {p['mode']}",
        table=_layers_table, sources=lambda o: _emulator_files() + [Path(__file__)], plotter=_layers_plot, notes=_layers_notes,
        view=_layers_view),
}


def get(name: str, options: dict | None = None) -> Experiment:
    """The experiment ``name`` bound to ``options`` (size, repeats, emulate, seed, tokens, ...)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")
    e = EXPERIMENTS[name]
    return Experiment(**{**e.__dict__, "options": dict(options or {})})


@dataclass
class Outcome:
    """What :func:`run` did: the table and how many points ran or were found done."""

    experiment: Experiment
    columns: list[tuple[str, str]]
    rows: list[dict]
    ran: int
    skipped: int
    files: list[Path]


def run(name: str, directory: Path | str, options: dict | None = None, progress=None, plot_png: bool = False) -> Outcome:
    """Run (or resume) experiment ``name`` with results in ``directory``; see the module docs."""
    exp = get(name, options)
    if plot_png:
        require_matplotlib()  # fail before the work, not after
    directory = Path(directory)
    points = exp.points(exp.options or {})
    store = Store(directory, exp)
    todo = [p for p in points if not store.done(p)]
    if progress is not None:
        progress.start(len(points), len(todo), store.path)
    for p in todo:
        if progress is not None:
            progress.describe(f"{exp.name}: {exp.describe(p)}")
        store.add(p, exp.measure(p))
        if progress is not None:
            progress.advance()
    columns, rows = exp.table(points, [store.result(p) for p in points])
    files = write_outputs(exp.name, columns, rows, directory,
                          extra={"title": exp.title, "version": store.version, "points": [{"params": p, "result": store.result(p)} for p in points]})
    if plot_png:
        files.append(plot(exp, rows, directory))
    return Outcome(exp, columns, rows, len(todo), len(points) - len(todo), files)


from . import ablation  # noqa: E402,F401  (it builds on this module and registers EXPERIMENTS["ablation"])
