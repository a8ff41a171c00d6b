"""The experiments by name."""
from __future__ import annotations

from . import ablation, fig21, fig22, layers, microbench, patterns, table3, zeros
from .experiment import Experiment

__all__ = ["EXPERIMENTS", "get"]

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        fig21.EXPERIMENT,
        table3.EXPERIMENT,
        layers.EXPERIMENT,
        ablation.EXPERIMENT,
        fig22.EXPERIMENT,
        zeros.EXPERIMENT,
        patterns.EXPERIMENT,
        microbench.EXPERIMENT,
    )
}


def get(name: str, options: dict | None = None) -> Experiment:
    """The experiment ``name`` bound to ``options`` (size, repeats, host, seed, tokens, ...)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")
    e = EXPERIMENTS[name]
    return Experiment(**{**e.__dict__, "options": dict(options or {})})

