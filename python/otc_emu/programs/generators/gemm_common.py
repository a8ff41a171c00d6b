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


def hmma_store(acc: int, rt: int, ct: int, c_param: int, n_param: int) -> str:
    """The end of an HMMA.884 GEMM of 64x32 warp tiles in 128x128 CTAs (hmma_gemm, vstc_gemm):
    the ``rt`` x ``ct`` 16x16 sets of fp32 accumulators (set (R, C) at R``acc`` + 8 (``ct`` R + C),
    STEP pairs at +0, +2, +4, +6) stored to the row-major fp32 C (constant-bank offsets of the
    ``c`` pointer and of ``n``). Expects R0 = lane, R12 = q, R14 = hi, R15 = warp row, R17 = warp
    column (the hmma_gemm prologue's registers)."""
    out = [rf"""store:                                             // (R24.. hold the accumulators: temporaries below R24)
    S2R R2, SR_CTAID.X ;
    S2R R3, SR_CTAID.Y ;
    LOP3.LUT R9, R12, 0x1, RZ, 0xc0, !PT ;
    LOP3.LUT R10, R0, 0x1, RZ, 0xc0, !PT ;
    LEA R9, R9, R10, 0x3 ;                         // 8 (q & 1) + (lane & 1)
    IADD3 R9, R9, R14, RZ ;                        // + hi
    LEA R9, R15, R9, 0x6 ;                         // + 64 (w / 4)
    LEA R9, R3, R9, 0x7 ;                          // + 128 by: row of pair 0
    LOP3.LUT R10, R0, 0x2, RZ, 0xc0, !PT ;
    SHF.R.U32.HI R8, RZ, 0x1, R12 ;
    LEA R8, R8, R10, 0x3 ;                         // 8 (q >> 1) + (lane & 2)
    LEA R8, R17, R8, 0x5 ;                         // + 32 (w % 4)
    LEA R8, R2, R8, 0x7 ;                          // + 128 bx: column of pair 0
    MOV R4, c[0x0][{c_param:#x}] ;
    MOV R5, c[0x0][{c_param + 4:#x}] ;
    IMAD R9, R9, c[0x0][{n_param:#x}], R8 ;               // row * n + column
    IMAD.WIDE.U32 R10, R9, 0x4, R4 ;               // &C[row, column] of set (0, 0)
    MOV R7, c[0x0][{n_param:#x}] ;
    IMAD.SHL.U32 R6, R7, 0x8, RZ ;                 // two rows: 2 * n * 4 bytes
    IMAD.SHL.U32 R7, R7, 0x40, RZ ;                // 16 rows: 16 * n * 4 bytes"""]
    e = out.append
    for R in range(rt):
        for C in range(ct):
            a = acc + 8 * (ct * R + C)
            e(f"    IADD3 R18, P0, R10, {hex(64 * C)}, RZ ;" + ("                  // set (R, C): + 16 R rows, + 16 C columns" if R == C == 0 else ""))
            e("    IADD3.X R19, RZ, R11, RZ, P0, !PT ;")
            e(f"    STG.E.64.SYS [R18], R{a} ;")
            e(f"    STG.E.64.SYS [R18+0x10], R{a + 4} ;")
            e("    IADD3 R18, P0, R18, R6, RZ ;")
            e("    IADD3.X R19, RZ, R19, RZ, P0, !PT ;")
            e(f"    STG.E.64.SYS [R18], R{a + 2} ;")
            e(f"    STG.E.64.SYS [R18+0x10], R{a + 6} ;")
        if R < rt - 1:
            e("    IADD3 R10, P0, R10, R7, RZ ;")
            e("    IADD3.X R11, RZ, R11, RZ, P0, !PT ;")
    return "\n".join(out)
