"""The paper's experiments on the emulator (``otc-emu experiment NAME --out DIR``; docs/experiments.md).

- ``fig21``: GEMM speedup of spgemm, spgemm_a and owmma over the dense hmma baseline across
  A x B sparsities (the paper's Fig. 21, there 4096^3 on a V100 against CUTLASS), with the
  paper's csr (B 99%) and vstc (B 75% vector-wise) curves, on both machines.
- ``table3``: cycles of the dense, CSR and bitmap im2col kernels (``otc_emu.im2col``) on the
  emulated V100 for the ResNet-18 layer (H = W = 56, 3x3, 128 channels), normalised to dense, per
  feature-map sparsity; with ``host`` also the host time of the NumPy references.
- ``layers``: per-layer cycles and speedups of representative VGG-16, ResNet-18 and BERT-base
  layers at stated (assumed) sparsities, in every GEMM mode (convolutions as explicit im2col
  GEMMs) and in the implicit convolution modes when the conv kernels exist.
- ``fig22``: the paper's Fig. 22 complete: representative layers of VGG-16, ResNet-18, Mask R-CNN,
  BERT-base and an LSTM LM (fig22_models.py) in the five CNN cases (dense / single-sparse explicit
  im2col + GEMM, dense / single / dual sparse implicit) and the three GEMM cases, under v100 and
  dstc-paper, with the full-model speedup and the upper bound 1 / (1 - sparsity).
- ``zeros``: the CNN cases on real zeros (an AGP-pruned digits CNN, data/digits_cnn.npz) and on
  clustered zeros (``sparse.prune_clustered``), each beside uniform zeros of the same count.
- ``ablation``: the headline GEMM points from the strict ``v100`` machine to the paper's premises
  (``dstc-paper``), one premise at a time, and the sequenced SpWMMA (ablation.py).
- ``patterns``: every GEMM design at equal density (50 .. 93.75% zeros), zeros placed as each
  design's pattern requires (a registry: patterns.PATTERNS): speedup, tensor utilisation, bytes.

Every point is measured by running the programs (cycle numbers come from the cycle model, host
times from ``time.perf_counter``); nothing is computed from a formula. Points are stored one JSON
line each in ``DIR/NAME.points.jsonl`` as they finish, keyed by their parameters and a hash of the
code that produced them (:func:`code_version`), so a re-run skips finished points and never
reuses stale ones.

One module per experiment (fig21.py, table3.py, layers.py, ablation.py, fig22.py, zeros.py), the workloads they measure
(workloads.py), the points file (store.py), tables and outputs (render.py), figures (plot.py),
the runner (runner.py) and where points run (executors.py: in this process, local worker
processes or Ray). ``sweep.py`` makes an experiment of a grid over machine settings, machines and
workloads (``otc-emu sweep``).
"""
from __future__ import annotations

from .executors import Executor, InProcess, LocalWorkers, RayCluster, executor_for
from .experiment import Experiment, check_sms
from .fig21 import FIG21_DEFAULT_SIZE, FIG21_DEFAULT_SMS, FIG21_MODES, FIG21_SPARSITY_A, FIG21_SPARSITY_B, fig21_markdown
from .layers import LAYER_GEMM_MODES, LAYERS
from .plot import plot, require_matplotlib
from .progress import PointsProgress
from .registry import EXPERIMENTS, get
from .render import markdown, render_table, write_outputs
from .runner import Outcome, run, run_experiment
from .store import Store, code_version
from .sweep import machine_device, sweep_experiment
from .table3 import PAPER_TABLE3, TABLE3_SPARSITY
from .workloads import ConvLayer, GemmLayer, conv_operands, gemm_operands, run_conv, run_gemm

__all__ = ["EXPERIMENTS", "Experiment", "Outcome", "run", "get", "Store", "code_version", "write_outputs", "markdown",
           "markdown_for", "fig21_markdown", "plot", "ConvLayer", "GemmLayer", "LAYERS", "run_conv", "run_gemm", "check_sms",
           "render_table", "require_matplotlib", "gemm_operands", "conv_operands", "FIG21_DEFAULT_SIZE",
           "FIG21_DEFAULT_SMS", "FIG21_MODES", "FIG21_SPARSITY_A", "FIG21_SPARSITY_B", "LAYER_GEMM_MODES",
           "PAPER_TABLE3", "TABLE3_SPARSITY", "Executor", "InProcess", "LocalWorkers", "RayCluster", "executor_for",
           "PointsProgress", "run_experiment", "machine_device", "sweep_experiment"]


def markdown_for(name: str, columns: list[tuple[str, str]], rows: list[dict]) -> str:
    """What ``--markdown`` prints: fig21 as speedup matrices, the others as their table."""
    return get(name).markdown(columns, rows)
