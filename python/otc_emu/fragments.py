"""Tensor-instruction fragments: NumPy tiles <-> the per-lane registers an instruction reads.

The layouts are defined once, in Rust (``otc_isa::fragments``), and read from there, so these
helpers, the emulator and the ISA docs cannot disagree::

    regs = fragments.pack("HMMA.OHMMA.8161.F32.F32", "A", a_8x1)      # (32 lanes, 2 registers)
    warp.write_reg(4, regs[:, 0]); warp.write_reg(5, regs[:, 1])
    ...
    d = fragments.unpack("HMMA.OHMMA.8161.F32.F32", "D", warp_regs)    # (8, 16) float32

Tiles are the operand's matrix: OHMMA A 8x1, B 1x16, C/D 8x16; BOHMMA A and B as 32-bit bitmaps
(an integer or 32 booleans), D as a 32x32 boolean matrix; HMMA.884 operands as the four quad pairs'
matrices stacked (4 x 8x4, 4 x 4x8, 4 x 8x8). ``layout`` ("row" or "col") applies to HMMA.884 A
and B, the only fragments whose register layout depends on it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np

from . import _core

__all__ = ["pack", "unpack", "shape", "INSTRUCTIONS"]

#: Instructions with fragments (the STEP modifier of HMMA.884 is not part of the name).
INSTRUCTIONS = (
    "HMMA.884.F32.F32",
    "HMMA.884.F16.F16",
    "HMMA.OHMMA.8161.F32.F32",
    "HMMA.OHMMA.8161.F16.F16",
    "HMMA.BOHMMA.32321.B32.B32",
)

Layout = Literal["row", "col"]


def _normalise(instruction: str, operand: str, layout: str) -> tuple[str, str, str]:
    inst = str(instruction).upper()
    for step in (".STEP0", ".STEP1", ".STEP2", ".STEP3"):
        inst = inst.replace(step, "")
    if inst not in INSTRUCTIONS:
        raise ValueError(f"no fragment layout for {instruction!r}; expected one of {', '.join(INSTRUCTIONS)}")
    op = str(operand).upper()
    if op not in ("A", "B", "C", "D"):
        raise ValueError(f"operand must be 'A', 'B', 'C' or 'D', got {operand!r}")
    lay = str(layout).lower()
    if lay not in ("row", "col"):
        raise ValueError(f"layout must be 'row' or 'col', got {layout!r}")
    return inst, op, lay


@lru_cache(maxsize=None)
def _table(inst: str, op: str, lay: str):
    """(shape dict, slot columns) from the Rust definition."""
    info, slots = _core.fragment_layout(inst, op, lay)
    arr = np.asarray(slots, dtype=np.int64).reshape(-1, 6)
    cols = {name: arr[:, i].copy() for i, name in enumerate(("lane", "reg", "half", "matrix", "row", "col"))}
    return dict(info), cols


def shape(instruction: str, operand: str, layout: Layout = "row") -> dict:
    """``{"matrices", "rows", "cols", "bits", "regs"}`` of an operand's fragment."""
    return dict(_table(*_normalise(instruction, operand, layout))[0])


def _tile_array(tile, info: dict, inst: str, op: str) -> np.ndarray:
    m, r, c = info["matrices"], info["rows"], info["cols"]
    if info["bits"] == 1 and op in ("A", "B"):
        t = np.asarray(tile)
        if t.ndim == 0:
            v = int(t)
            if not 0 <= v < (1 << 32):
                raise ValueError(f"{inst} {op} bitmap must fit 32 bits, got {v:#x}")
            t = (v >> np.arange(32)) & 1
        t = np.asarray(t).astype(bool).reshape(-1)
        if t.size != 32:
            raise ValueError(f"{inst} {op} is a 32-bit bitmap: give an integer or 32 booleans, got {t.size} values")
        return t.reshape(1, r, c)
    t = np.asarray(tile)
    want = (m, r, c) if m > 1 else (r, c)
    if t.shape not in (want, (m, r, c)) and not (m == 1 and t.size == r * c and 1 in (r, c) and t.ndim == 1):
        raise ValueError(f"{inst} operand {op} takes a tile of shape {want}, got {t.shape}")
    return t.reshape(m, r, c)


def pack(instruction: str, operand: str, tile, layout: Layout = "row") -> np.ndarray:
    """Registers (uint32, shape (32 lanes, registers)) holding ``tile`` as ``operand`` of
    ``instruction``."""
    inst, op, lay = _normalise(instruction, operand, layout)
    info, s = _table(inst, op, lay)
    t = _tile_array(tile, info, inst, op)
    regs = np.zeros((32, info["regs"]), dtype=np.uint32)
    vals = t[s["matrix"], s["row"], s["col"]]
    if info["bits"] == 32:
        regs[s["lane"], s["reg"]] = vals.astype(np.float32).view(np.uint32)
    elif info["bits"] == 16:
        bits = vals.astype(np.float16).view(np.uint16).astype(np.uint32) << (16 * s["half"]).astype(np.uint32)
        np.bitwise_or.at(regs, (s["lane"], s["reg"]), bits)
    else:
        bits = vals.astype(bool).astype(np.uint32) << s["half"].astype(np.uint32)
        np.bitwise_or.at(regs, (s["lane"], s["reg"]), bits)
    return regs


def unpack(instruction: str, operand: str, regs, layout: Layout = "row") -> np.ndarray:
    """The tile held by ``regs`` (uint32, (32, registers)) as ``operand`` of ``instruction``:
    float32 for fp32 fragments, float16 for fp16 ones, bool for BOHMMA (A/B as 32 booleans).
    Where a layout keeps copies of an element in several lanes, the lowest lane's copy is read."""
    inst, op, lay = _normalise(instruction, operand, layout)
    info, s = _table(inst, op, lay)
    r = np.asarray(regs)
    if r.shape != (32, info["regs"]):
        raise ValueError(f"{inst} operand {op} needs registers of shape (32, {info['regs']}), got {r.shape}")
    if r.dtype.kind not in "ui":
        raise TypeError(f"registers must be unsigned 32-bit integers, got dtype {r.dtype}")
    r = r.astype(np.uint64).astype(np.uint32)
    words = r[s["lane"], s["reg"]]
    m, rows, cols = info["matrices"], info["rows"], info["cols"]
    if info["bits"] == 32:
        vals, dtype = words.view(np.float32), np.float32
    elif info["bits"] == 16:
        vals, dtype = ((words >> (16 * s["half"]).astype(np.uint32)) & 0xFFFF).astype(np.uint16).view(np.float16), np.float16
    else:
        vals, dtype = ((words >> s["half"].astype(np.uint32)) & 1).astype(bool), bool
    out = np.zeros((m, rows, cols), dtype=dtype)
    # write in reverse so that the lowest lane's copy wins
    out[s["matrix"][::-1], s["row"][::-1], s["col"][::-1]] = vals[::-1]
    if info["bits"] == 1 and op in ("A", "B"):
        return out.reshape(32)
    return out if m > 1 else out.reshape(rows, cols)
