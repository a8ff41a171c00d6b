"""PNG figures of experiments (matplotlib, an optional dependency: ``otc-emu[plot]``)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import OtcError

if TYPE_CHECKING:  # pragma: no cover
    from .experiment import Experiment

__all__ = ["require_matplotlib", "save_figure", "plot"]


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


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` as a PNG at ``path`` and free it."""
    plt = require_matplotlib()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot(exp: Experiment, rows: list[dict], directory: Path) -> Path:
    if exp.plotter is None:
        raise OtcError(f"experiment {exp.name} has no plot")
    path = directory / f"{exp.name}.png"
    exp.plotter(rows, path)
    return path
