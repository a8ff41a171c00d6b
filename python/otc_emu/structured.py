"""Structured sparsity of the reduction dimension: A100's 2:4 and HighLight's hierarchical
structured sparsity (HSS), their specs, pruning, and the compressed operands that the
structured-sparse tensor steps ``HMMA.SP884`` and ``HMMA.HSS884`` read (docs/sp24.md, docs/hss.md).

An HSS spec is HighLight's fibertree notation restricted to the ranks with a rule, highest first:
``"C1(2:8)->C0(2:4)"``. Rank ``C0`` splits the reduction dimension k into blocks of ``H0`` values
of which at most ``G0`` are non-zero; rank ``C1`` groups ``H1`` consecutive rank-0 blocks of
which at most ``G1`` are non-empty; and so on. ``"C0(2:4)"`` (or just ``"2:4"``) is A100's 2:4.
Density = prod(G / H).

    a = structured.prune_hss(x, "C1(2:8)->C0(2:4)")     # 12.5 % of each row's values kept
    values, meta = structured.compress(a, "C1(2:8)->C0(2:4)")   # what the hss kernel loads
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ._core import OtcError

__all__ = [
    "HssSpecError", "Rank", "HssSpec", "parse_spec", "prune_hss", "prune_to_density", "spec_for_density", "check_pattern",
    "compress", "decompress", "pack_step", "KERNEL_SPECS", "DENSITY_SPECS",
]


class HssSpecError(OtcError, ValueError):
    """A structured-sparsity spec that cannot be read, or a matrix that does not follow it."""


@dataclass(frozen=True)
class Rank:
    """One rank with a rule: at most ``g`` of every ``h`` coordinates are non-empty."""
    level: int
    g: int
    h: int


@dataclass(frozen=True)
class HssSpec:
    """Ranks highest first (``ranks[-1]`` is C0)."""
    ranks: tuple[Rank, ...]

    @property
    def density(self) -> Fraction:
        d = Fraction(1)
        for r in self.ranks:
            d *= Fraction(r.g, r.h)
        return d

    @property
    def period(self) -> int:
        """Length of k that one top-rank fiber covers (prod H): k must be a multiple of it."""
        return int(np.prod([r.h for r in self.ranks]))

    def __str__(self) -> str:
        return "->".join(f"C{r.level}({r.g}:{r.h})" for r in self.ranks)


_RANK = re.compile(r"^\s*(?:C(\d+)\s*)?\(?\s*(\d+)\s*:\s*(\d+)\s*\)?\s*$")


def parse_spec(spec: str | HssSpec) -> HssSpec:
    """``"C1(2:8)->C0(2:4)"`` (ranks highest first, numbered down to C0; ``"2:4"`` = ``"C0(2:4)"``)."""
    if isinstance(spec, HssSpec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise HssSpecError(f"an HSS spec is a string such as 'C1(2:8)->C0(2:4)', got {spec!r}")
    parts = spec.split("->")
    ranks = []
    for i, part in enumerate(parts):
        m = _RANK.match(part)
        if not m:
            raise HssSpecError(f"HSS spec {spec!r}: rank {i + 1} {part.strip()!r} is not 'C<n>(G:H)'")
        level = int(m.group(1)) if m.group(1) is not None else len(parts) - 1 - i
        g, h = int(m.group(2)), int(m.group(3))
        if level != len(parts) - 1 - i:
            raise HssSpecError(f"HSS spec {spec!r}: ranks must be numbered C{len(parts) - 1} down to C0, "
                               f"highest first; rank {i + 1} is C{level}")
        if not 1 <= g <= h:
            raise HssSpecError(f"HSS spec {spec!r}: C{level}({g}:{h}) needs 1 <= G <= H")
        ranks.append(Rank(level, g, h))
    return HssSpec(tuple(ranks))


def _rows(x: np.ndarray, axis: int, period: int, spec: HssSpec) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2:
        raise HssSpecError(f"expected a 2-D matrix, got shape {a.shape}")
    if axis not in (0, 1):
        raise HssSpecError(f"axis must be 0 (B: k is the row index) or 1 (A: k is the column), got {axis}")
    m = a if axis == 1 else a.T
    if m.shape[1] % period:
        raise HssSpecError(f"{spec} needs the length along axis {axis} to be a multiple of {period}, "
                           f"got {m.shape[1]}")
    return m


def prune_hss(x: np.ndarray, spec: str | HssSpec, axis: int = 1) -> np.ndarray:
    """Prune ``x`` along ``axis`` (the reduction dimension: 1 for A, 0 for B) to ``spec`` as
    HighLight does (Sec. 4.2), rank by rank from C0 up: at C0 keep the G0 values of largest
    magnitude in each block of H0; at a higher rank keep the G coordinates of each fiber whose
    payload (a lower-rank block, already pruned) has the largest mean magnitude. Ties keep the
    earlier coordinate; NaN ranks as the largest magnitude (kept, like Inf). Returns float16."""
    from .sparse import ranking_magnitude  # sparse imports this module at its end

    sp = parse_spec(spec)
    m = _rows(x, axis, sp.period, sp).astype(np.float32)
    keep = np.ones(m.shape, dtype=bool)
    block = 1
    for r in reversed(sp.ranks):
        # payload score of each coordinate of this rank: mean magnitude of its block of `block` values
        vals = np.where(keep, ranking_magnitude(m), 0.0).reshape(m.shape[0], -1, r.h, block)
        score = vals.mean(axis=3)
        order = np.argsort(-score, axis=2, kind="stable")
        k = np.zeros(score.shape, dtype=bool)
        np.put_along_axis(k, order[:, :, :r.g], True, axis=2)
        keep &= np.repeat(k[..., None], block, axis=3).reshape(m.shape)
        block *= r.h
    out = np.where(keep, m, 0).astype(np.float16)
    return out if axis == 1 else out.T.copy()


#: The spec each density of the issue's ``patterns`` table uses (C0(2:4) = A100's 2:4).
DENSITY_SPECS = {
    0.5: "C0(2:4)",
    0.25: "C1(2:4)->C0(2:4)",
    0.125: "C1(2:8)->C0(2:4)",
    0.0625: "C1(1:8)->C0(2:4)",  # HighLight's G is fixed at 2: the 2:8 kernel runs it with one block empty
}

#: Specs the GEMM kernels run: spec -> (instruction, k window per instruction, metadata bits).
KERNEL_SPECS = {
    "C0(2:4)": ("HMMA.SP884", 8, 8),
    "C1(2:4)->C0(2:4)": ("HMMA.HSS884.H4", 16, 16),
    "C1(2:8)->C0(2:4)": ("HMMA.HSS884.H8", 32, 16),
}


def spec_for_density(density: float) -> str | None:
    """The spec of :data:`DENSITY_SPECS` for ``density`` (0.5, 0.25, 0.125, 0.0625), or None."""
    return next((spec for d, spec in DENSITY_SPECS.items() if abs(float(density) - d) < 1e-12), None)


def prune_to_density(x: np.ndarray, density: float, axis: int = 1) -> np.ndarray:
    """``prune_hss`` with the spec of :data:`DENSITY_SPECS` for ``density`` (0.5, 0.25, 0.125,
    0.0625)."""
    spec = spec_for_density(density)
    if spec is not None:
        return prune_hss(x, spec, axis)
    raise HssSpecError(f"no structured pattern for density {density}; "
                       f"available: {', '.join(str(d) for d in DENSITY_SPECS)}")


def check_pattern(x: np.ndarray, spec: str | HssSpec, axis: int = 1) -> None:
    """Raise :class:`HssSpecError` naming the first row and fiber where ``x`` breaks ``spec``."""
    sp = parse_spec(spec)
    m = _rows(x, axis, sp.period, sp)
    nz = np.asarray(m) != 0
    block = 1
    for r in reversed(sp.ranks):
        occupied = nz.reshape(m.shape[0], -1, block).any(axis=2).reshape(m.shape[0], -1, r.h)
        count = occupied.sum(axis=2)
        bad = np.argwhere(count > r.g)
        if bad.size:
            row, fiber = bad[0]
            start = fiber * r.h * block
            raise HssSpecError(f"{'row' if axis == 1 else 'column'} {row}: k {start}..{start + r.h * block - 1} "
                               f"has {count[row, fiber]} non-empty C{r.level} coordinates, {sp} allows {r.g} of {r.h}")
        block *= r.h


def _kernel_spec(spec: str | HssSpec) -> tuple[HssSpec, str, int, int]:
    sp = parse_spec(spec)
    key = str(sp)
    if key not in KERNEL_SPECS:
        raise HssSpecError(f"no tensor instruction runs {key}; the kernels run {', '.join(KERNEL_SPECS)}")
    inst, window, bits = KERNEL_SPECS[key]
    return sp, inst, window, bits


def _encode_windows(a: np.ndarray, window: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row and k window of ``a`` (k a multiple of ``window``; already in the pattern): the 4 kept
    values in k order (rows x windows x 4) and the window's metadata (rows x windows, uint32)."""
    m, k = a.shape
    w = a.reshape(m, k // window, window // 4, 4)
    nz = w != 0
    # rank 1: the two blocks (ascending) holding non-zeros, padded with the lowest empty ones
    occupied = nz.any(axis=3)
    blocks = np.sort(np.argsort(~occupied, axis=2, kind="stable")[:, :, :2], axis=2)   # (m, windows, 2)
    sel = np.take_along_axis(w, blocks[..., None], axis=2)              # (m, windows, 2, 4)
    selnz = np.take_along_axis(nz, blocks[..., None], axis=2)
    # rank 0: two positions (ascending) per selected block, non-zeros first
    pos = np.sort(np.argsort(~selnz, axis=3, kind="stable")[..., :2], axis=3)       # (m, windows, 2, 2)
    vals = np.take_along_axis(sel, pos, axis=3).reshape(m, k // window, 4)
    p = pos.reshape(m, k // window, 4).astype(np.uint32)
    word = p[..., 0] | p[..., 1] << 2 | p[..., 2] << 4 | p[..., 3] << 6
    if bits == 16:
        word |= blocks[..., 0].astype(np.uint32) << 8 | blocks[..., 1].astype(np.uint32) << 12
    return vals.astype(np.float16), word


def compress(a: np.ndarray, spec: str | HssSpec) -> tuple[np.ndarray, np.ndarray]:
    """The A operand of the sp24 / hss kernels: ``(values, meta)``. ``a`` (m x k, k along axis 1)
    must follow ``spec`` (one of :data:`KERNEL_SPECS`; k a multiple of 32). ``values`` (m x
    k * 4 / window, float16) are the 4 kept values of every k window in k order (zeros where a
    block holds fewer); ``meta`` (m x k / 32, uint32) holds, for 32-k slice s of a row, the
    metadata of window j of the slice at byte j (SP884) or half-word j (HSS884): bits 2i..2i+1 =
    position of kept value i in its block of 4, and for HSS bits 8..11 / 12..15 = the rank-1 block
    (0..H1-1) of kept values 0-1 / 2-3."""
    sp, _, window, bits = _kernel_spec(spec)
    a = np.asarray(a, dtype=np.float16)
    if a.ndim != 2 or a.shape[1] % 32:
        raise HssSpecError(f"the kernels need k to be a multiple of 32, got shape {a.shape}")
    check_pattern(a, sp)
    m, k = a.shape
    vals, word = _encode_windows(a, window, bits)
    per_slice = 32 // window
    word = word.reshape(m, k // 32, per_slice)
    meta = np.zeros((m, k // 32), dtype=np.uint32)
    for j in range(per_slice):
        meta |= word[..., j] << np.uint32(bits * j)
    return vals.reshape(m, -1), meta


def pack_step(a_tile: np.ndarray, b_tile: np.ndarray, spec: str | HssSpec, sel: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registers (uint32, lanes first) of one ``HMMA.SP884`` / ``HMMA.HSS884`` step, from the
    four quad pairs' matrices as ``fragments`` stacks them: ``a_tile`` (4 x 8 x window, following
    ``spec``) and ``b_tile`` (4 x window x 8). Returns ``(a, b, e)``: the A pair (32 x 2: the kept
    values, HMMA.884 ROW layout), the B group (32 x window / 2: HMMA.884 COL pairs of k 4p..4p+3)
    and the metadata register (32: the row's metadata at byte / half-word ``sel``, in the lane
    that holds the row). The C/D fragments are HMMA.884.F32.F32's (``fragments.pack``)."""
    from . import fragments

    sp, _, window, bits = _kernel_spec(spec)
    a = np.asarray(a_tile, dtype=np.float16)
    b = np.asarray(b_tile, dtype=np.float16)
    if a.shape != (4, 8, window) or b.shape != (4, window, 8):
        raise HssSpecError(f"{sp} steps take A of shape (4, 8, {window}) and B of shape (4, {window}, 8), "
                           f"got {a.shape} and {b.shape}")
    if not 0 <= sel < 32 // bits:
        raise HssSpecError(f"selector {sel} out of range 0..{32 // bits - 1} for {sp}")
    check_pattern(a.reshape(32, window), sp)
    vals, word = _encode_windows(a.reshape(32, window), window, bits)
    inst = "HMMA.884.F32.F32"
    a_regs = fragments.pack(inst, "A", vals.reshape(4, 8, 4), layout="row")
    b_regs = np.concatenate([fragments.pack(inst, "B", b[:, 4 * p:4 * p + 4, :], layout="col")
                             for p in range(window // 4)], axis=1)
    # the lane that holds A row (q, row): where the ROW layout puts element (q, row, 0)
    marker = np.zeros((4, 8, 4), np.float16)
    e = np.zeros(32, np.uint32)
    for q in range(4):
        for row in range(8):
            marker[:] = 0
            marker[q, row, 0] = 1
            lane = int(np.flatnonzero(fragments.pack(inst, "A", marker, layout="row")[:, 0])[0])
            e[lane] = word[8 * q + row, 0] << np.uint32(bits * sel)
    return a_regs, b_regs, e


def decompress(values: np.ndarray, meta: np.ndarray, spec: str | HssSpec, k: int) -> np.ndarray:
    """The dense m x k matrix that ``compress`` encoded (the round trip the tests check)."""
    _, _, window, bits = _kernel_spec(spec)
    values = np.asarray(values, dtype=np.float16)
    meta = np.asarray(meta, dtype=np.uint32)
    m = values.shape[0]
    out = np.zeros((m, k), dtype=np.float16)
    per_slice = 32 // window
    for s in range(k // 32):
        for j in range(per_slice):
            word = (meta[:, s] >> np.uint32(bits * j)) & np.uint32((1 << bits) - 1)
            base = s * 32 + j * window
            v = values[:, (s * per_slice + j) * 4:(s * per_slice + j) * 4 + 4]
            for i in range(4):
                blk = (word >> np.uint32(8 + 4 * (i // 2))) & np.uint32(0xf) if bits == 16 else np.full(m, i // 2)
                col = base + 4 * blk.astype(np.int64) + ((word >> np.uint32(2 * i)) & np.uint32(3)).astype(np.int64)
                out[np.arange(m), col] += v[:, i]
    return out
