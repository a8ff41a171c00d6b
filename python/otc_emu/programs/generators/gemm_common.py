"""Pieces shared by the GEMM program generators here (imported by them; run from this folder)."""


def warp_tile_prologue(tiles_m: int, tiles_n: int) -> str:
    """The start of a 64x64-CTA GEMM of 4 warps (owmma_gemm, spgemm): R0 = lane, R1 = warp w,
    R28 / R29 = the warp's 32x32 tile row / column (2 * ctaid + w / 2, w % 2); a warp whose tile
    lies outside C exits. `tiles_m` / `tiles_n` are the constant-bank offsets of those params."""
    return f"""    S2R R0, SR_LANEID ;
    S2R R1, SR_TID.X ;
    S2R R28, SR_CTAID.Y ;
    S2R R29, SR_CTAID.X ;
    SHF.R.U32.HI R1, RZ, 0x5, R1 ;                 // warp w
    SHF.R.U32.HI R24, RZ, 0x1, R1 ;
    LEA R28, R28, R24, 0x1 ;                       // tile row tr = 2 * ctaid.y + w / 2
    LOP3.LUT R24, R1, 0x1, RZ, 0xc0, !PT ;
    LEA R29, R29, R24, 0x1 ;                       // tile column tc = 2 * ctaid.x + w % 2
    ISETP.GE.U32.AND P0, PT, R28, c[0x0][{tiles_m:#x}], PT ;
    ISETP.GE.U32.OR P0, PT, R29, c[0x0][{tiles_n:#x}], P0 ;
    @P0 EXIT ;                                     // a tile outside C (the grid rounds up to 2x2 tiles)"""


def resolve_pcs(lines: list[str]) -> list[str]:
    """Replaces every `@@PC:label@@` in `lines` (one kernel's text) by the label's byte offset in
    the kernel (16 bytes per instruction from its first one), for BRX targets: a line is an
    instruction when, without its `//` comment, it ends in `;`."""
    lines = [line for chunk in lines for line in chunk.split("\n")]
    pcs, pc = {}, 0
    for line in lines:
        text = line.split("//")[0].strip()
        if text.endswith(":") and not text.startswith("."):
            pcs[text[:-1]] = pc
        elif text.endswith(";"):
            pc += 16
    out = []
    for line in lines:
        while "@@PC:" in line:
            head, rest = line.split("@@PC:", 1)
            label, tail = rest.split("@@", 1)
            line = f"{head}{pcs[label]:#x}{tail}"
        out.append(line)
    return out


def instruction_count(lines: list[str]) -> int:
    """Instructions among `lines` (a line is one when, without its `//` comment, it ends in `;`)."""
    return sum(1 for line in lines for text in [line.split("//")[0].strip()] if text.endswith(";"))


def ohmma_runs(out: list[str], slot: str, ohmma, after, run4_at: int, first: bool) -> None:
    """The two runs of sparse OHMMAs that a slot's BRX enters (spgemm, conv_sparse_implicit):
    `run8_<slot>` (m = 3..0, each n = 1 then n = 0; entered 2 (4 - ca) instructions in when
    cb = 2) and, `run4_at` bytes after it, `run4_<slot>` (n = 0, m = 3..0; entered 4 - ca in when
    cb = 1), each followed by its own copy of `after()` (what comes next), so neither ends in a
    branch; dead NOPs fill the gap. `ohmma(m, n)` appends one OHMMA to `out`."""
    out.append(f"run8_{slot}:")
    start = len(out)
    for m in reversed(range(4)):
        ohmma(m, 1)
        ohmma(m, 0)
    after()
    pad = run4_at // 16 - instruction_count(out[start:])
    assert pad >= 0, (slot, pad)
    for i in range(pad):  # dead code: never runs (the code above ends in a jump)
        out.append("    NOP ;                                          // never runs: aligns the run of 4" if i == 0 and first else "    NOP ;")
    out.append(f"run4_{slot}:")
    for m in reversed(range(4)):
        ohmma(m, 0)
    after()
