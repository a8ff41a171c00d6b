"""The structured-sparse GEMM modes of :func:`otc_emu.kernels.gemm` (issue 18, docs/sp24.md,
docs/hss.md): ``"sp24"`` (A100-style 2:4 on ``HMMA.SP884``, programs/sp24_gemm.sass) and ``"hss"``
(HighLight's two-rank HSS on ``HMMA.HSS884``, programs/hss4_gemm.sass / hss8_gemm.sass).

A must already follow the pattern (prune it with :func:`otc_emu.sparse.prune_2_4` or
:func:`otc_emu.sparse.prune_hss`); ``"hss"`` runs the sparsest kernel spec that A follows
(C1(2:8)->C0(2:4), else C1(2:4)->C0(2:4)). B is dense (its zeros are not skipped)."""
from __future__ import annotations

import numpy as np

from . import structured
from ._operands import run_shipped

__all__ = ["STRUCTURED_MODES", "structured_gemm", "spec_of", "own_pruning", "program_of"]

#: mode -> the kernel specs it may run, sparsest first, and the program of each
STRUCTURED_MODES = {
    "sp24": ("C0(2:4)",),
    "hss": ("C1(2:8)->C0(2:4)", "C1(2:4)->C0(2:4)"),
}
PROGRAM_OF = {"C0(2:4)": "sp24_gemm", "C1(2:4)->C0(2:4)": "hss4_gemm", "C1(2:8)->C0(2:4)": "hss8_gemm"}


def spec_of(a: np.ndarray, mode: str) -> str:
    """The spec ``mode`` runs for A (padded: k a multiple of 32), or HssSpecError naming where A
    breaks the densest one."""
    specs = STRUCTURED_MODES[mode]
    for spec in specs:
        try:
            structured.check_pattern(a, spec)
            return spec
        except structured.HssSpecError as e:
            last = e
    hint = "otc_emu.sparse.prune_2_4(a)" if mode == "sp24" else "otc_emu.sparse.prune_hss(a, spec)"
    raise structured.HssSpecError(f"mode {mode!r}: A does not follow {specs[-1]} ({last}); prune it first with {hint}")


def program_of(a: np.ndarray, mode: str) -> tuple[str, str]:
    """(program file, kernel) that ``kernels.gemm(a, b, mode)`` runs (hss: by A's pattern)."""
    m, k = a.shape
    padded = np.zeros((m, -(-k // 32) * 32), np.float16)
    padded[:, :k] = a
    name = PROGRAM_OF[spec_of(padded, mode)]
    return f"{name}.sass", name


def structured_gemm(a16: np.ndarray, b16: np.ndarray, mode: str, dev, pad):
    """(c, stats) of C = A x B with A (m x k fp16, in the pattern) and B (k x n fp16)."""
    m, k = a16.shape
    n = b16.shape[1]
    mp, np_, k = -(-m // 128) * 128, -(-n // 128) * 128, -(-k // 32) * 32
    ap = pad(a16, mp, k)
    spec = spec_of(ap, mode)
    values, meta = structured.compress(ap, spec)
    name = PROGRAM_OF[spec]
    return run_shipped(dev, f"{name}.sass", name, [values, meta, pad(b16, k, np_).T.copy()], (mp, np_),
                       (np_ // 128, mp // 128), 256, [np.uint32(mp), np.uint32(np_), np.uint32(k)], crop=(m, n))


def own_pruning(a: np.ndarray, mode: str, sparsity: float) -> np.ndarray:
    """A as ``mode`` runs it when a workload gives it an unstructured A (the CLI's ``gemm``): the
    structured modes prune A to their pattern on top of its zeros (sp24: 2:4; hss: C1(2:4)->C0(2:4),
    or C1(2:8)->C0(2:4) when ``sparsity`` is 7/8 or more); other modes get A as it is."""
    if mode not in STRUCTURED_MODES:
        return a
    spec = "C0(2:4)" if mode == "sp24" else ("C1(2:8)->C0(2:4)" if sparsity >= 7 / 8 else "C1(2:4)->C0(2:4)")
    m, k = a.shape
    padded = np.zeros((m, -(-k // 32) * 32), np.float16)
    padded[:, :k] = a
    return structured.prune_hss(padded, spec)[:, :k].copy()
