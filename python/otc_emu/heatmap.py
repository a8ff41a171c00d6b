"""Per-output-tile heatmaps of the sparse GEMM's tensor-core work, drawn in character cells.

The emulator counts OHMMAs per launch, not per tile, so the per-tile figures are computed here from
the operands' bitmaps with the spgemm kernel's tiling (``programs/spgemm.sass``): a warp owns a
32 x 32 tile of C, and for every k it runs ceil(nnz of A's 32-long column slice / 8) x
ceil(nnz of B's 32-long row slice / 16) OHMMA.8161 (none when either slice is empty). A dense
tile costs ``ceil(32/8) * ceil(32/16) = 8`` OHMMAs per k. The sum over tiles is what the
emulator's ``ohmma.executed`` counter must show, and :func:`render` prints that check.

    tiles = heatmap.tile_ohmmas(a, b, mode="spgemm")      # (M/32, N/32) int64
    heatmap.render(tiles, k=a.shape[1], executed=res.stats.counters["ohmma.executed"], console=con)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

__all__ = ["TILE", "DENSE_OHMMAS_PER_K", "tile_ohmmas", "downsample", "render"]

#: Output tile of one spgemm warp (rows and columns of C).
TILE = 32
#: OHMMA.8161 per k for a full 32 x 32 tile: 32/8 row groups x 32/16 column groups.
DENSE_OHMMAS_PER_K = (TILE // 8) * (TILE // 16)

# Shades from "no work" to "dense": the character alone carries the level, colour only helps.
SHADES = " .:-=+*#%@"
_COLOURS = ["grey11", "grey23", "navy_blue", "blue3", "dodger_blue2", "green3", "yellow3", "orange3", "red3", "bright_red"]


def _slice_nnz(x: np.ndarray, axis: int) -> np.ndarray:
    """Non-zeros of every 32-long slice along ``axis`` (0: column slices of A, per row block;
    1: row slices of B, per column block). ``x`` is zero padded to a multiple of 32."""
    x = np.asarray(x)
    if axis == 0:
        rows = -(-x.shape[0] // TILE) * TILE
        pad = np.zeros((rows, x.shape[1]), bool)
        pad[: x.shape[0]] = x != 0
        return pad.reshape(rows // TILE, TILE, x.shape[1]).sum(axis=1)  # (M/32, K)
    cols = -(-x.shape[1] // TILE) * TILE
    pad = np.zeros((x.shape[0], cols), bool)
    pad[:, : x.shape[1]] = x != 0
    return pad.reshape(x.shape[0], cols // TILE, TILE).sum(axis=2)  # (K, N/32)


def tile_ohmmas(a, b, mode: str = "spgemm") -> np.ndarray:
    """Executed OHMMAs per 32 x 32 output tile of C = A x B, from the operands' bitmaps, as the
    spgemm kernel runs them: ``mode="spgemm"`` skips both sides' zeros; ``"spgemm_a"`` passes B
    dense (each B slice counts as full, 2 OHMMA column groups). Returns int64 (M/32, N/32)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"need an M x K and a K x N matrix, got shapes {a.shape} and {b.shape}")
    if mode not in ("spgemm", "spgemm_a"):
        raise ValueError(f"per-tile OHMMAs are defined for the sparse modes spgemm and spgemm_a, not {mode!r}")
    groups_a = -(-_slice_nnz(a, 0) // 8)  # (M/32, K): 8-row groups with a non-zero
    if mode == "spgemm":
        groups_b = -(-_slice_nnz(b, 1) // 16)  # (K, N/32)
    else:
        groups_b = np.full((b.shape[0], -(-b.shape[1] // TILE)), TILE // 16)
    return groups_a.astype(np.int64) @ groups_b.astype(np.int64)


def downsample(grid: np.ndarray, max_rows: int, max_cols: int, how: str = "mean") -> tuple[np.ndarray, int]:
    """Shrink ``grid`` by the smallest integer block edge that makes it fit (the same edge both
    ways, keeping the aspect), reducing every block of tiles by ``how`` ("mean" or "max"; partial
    edge blocks use what they have). Returns (small grid, block edge)."""
    if how not in ("mean", "max"):
        raise ValueError(f"how must be 'mean' or 'max', got {how!r}")
    if max_rows < 1 or max_cols < 1:
        raise ValueError(f"max_rows and max_cols must be >= 1, got {max_rows}, {max_cols}")
    rows, cols = grid.shape
    edge = max(1, -(-rows // max_rows), -(-cols // max_cols))
    if edge == 1:
        return grid.astype(np.float64), 1
    out_r, out_c = -(-rows // edge), -(-cols // edge)
    out = np.zeros((out_r, out_c))
    for i in range(out_r):
        for j in range(out_c):
            block = grid[i * edge:(i + 1) * edge, j * edge:(j + 1) * edge]
            out[i, j] = block.mean() if how == "mean" else block.max()
    return out, edge


def render(tiles: np.ndarray, k: int, executed: int | None = None, console: "Console | None" = None,
           title: str = "OHMMAs executed per 32x32 output tile, % of dense", how: str = "mean") -> bool:
    """Draw the heatmap of ``tiles`` (executed OHMMAs per tile, from :func:`tile_ohmmas`) as a
    percentage of a dense tile's ``8 * k``, two character cells per tile, downsampled to the
    console width. With ``executed`` (the emulator's ``ohmma.executed``) print whether the total
    matches. Returns True when it matches (or nothing was given to compare)."""
    from rich.console import Console
    from rich.text import Text

    con = console or Console()
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    pct = 100.0 * np.asarray(tiles, dtype=np.float64) / (DENSE_OHMMAS_PER_K * k)
    max_cols = max(1, (con.width - 8) // 2)
    small, edge = downsample(pct, max_rows=32, max_cols=max_cols, how=how)
    con.print(Text(title, style="bold"))
    # The scale runs from the quietest to the busiest non-empty cell, so a sparse grid still shows
    # its structure; ' ' is reserved for cells with no work, and the legend gives the percentages.
    nonzero = small[small > 0]
    lo, top = (float(nonzero.min()), float(nonzero.max())) if nonzero.size else (0.0, 100.0)
    steps = len(SHADES) - 1
    for row in small:
        line = Text("  ")
        for v in row:
            level = 0 if v <= 0 else (steps if top == lo else min(steps, 1 + int((v - lo) / (top - lo) * steps)))
            line.append(SHADES[level] * 2, style=_COLOURS[level])
        con.print(line, no_wrap=True, crop=True)
    legend = "  ".join(f"'{SHADES[i]}' {_legend_range(i, lo, top)}" for i in range(len(SHADES)))
    con.print(Text(f"scale: {legend}"))
    grid_note = f"{tiles.shape[0]} x {tiles.shape[1]} tiles"
    if edge > 1:
        grid_note += f", each cell the {how} over a block of {edge} x {edge} tiles"
    con.print(Text(f"{grid_note}; computed from the operands' bitmaps with the kernel's tiling formula "
                   f"sum_k ceil(nnzA/8) * ceil(nnzB/16); min {pct.min():.2f}%, mean {pct.mean():.2f}%, max {pct.max():.2f}%"))
    total = int(np.sum(tiles))
    if executed is None:
        return True
    if total == int(executed):
        con.print(Text(f"check: the tiles sum to {total:,} OHMMAs = the emulator's ohmma.executed counter \u2713", style="green"))
        return True
    con.print(Text(f"MISMATCH: the tiles sum to {total:,} OHMMAs but the emulator executed {int(executed):,}", style="bold red"))
    return False


def _legend_range(level: int, lo: float, top: float) -> str:
    if level == 0:
        return "0%"
    step = (top - lo) / (len(SHADES) - 1)
    return f"{lo + (level - 1) * step:.3g}-{lo + level * step:.3g}%"
