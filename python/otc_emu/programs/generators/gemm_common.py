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


def hmma_store(acc: int, rt: int, ct: int, c_param: int, n_param: int, setup: str = "") -> str:
    """The end of an HMMA.884 GEMM of 64x32 warp tiles in 128x128 CTAs (hmma_gemm, vstc_gemm,
    structured_gemm): the ``rt`` x ``ct`` 16x16 sets of fp32 accumulators (set (R, C) at R``acc`` +
    8 (``ct`` R + C), STEP pairs at +0, +2, +4, +6) stored to the row-major fp32 C (constant-bank
    offsets of the ``c`` pointer and of ``n``). Expects R0 = lane, R12 = q, R14 = hi, R15 = warp
    row, R17 = warp column (the hmma_gemm prologue's registers), or ``setup``: the lines after the
    label that compute them."""
    out = ["store:                                             // (R24.. hold the accumulators: temporaries below R24)"]
    if setup:
        out.append(setup)
    out += [rf"""    S2R R2, SR_CTAID.X ;
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


def capture(out: list[str], fn, *args) -> list[str]:
    """The lines ``fn(*args)`` appends to ``out``, taken back out of it (a generator emits a piece
    once and places its lines between other instructions)."""
    n = len(out)
    fn(*args)
    got = out[n:]
    del out[n:]
    return got


def hmma_thread_prologue(k_param: int) -> str:
    """The start of an HMMA.884 GEMM of 256-thread CTAs over 128x128 blocks (hmma_gemm, vstc_gemm):
    R0 = lane, R1 = tid, R28 / R29 = block column / row, R9 / R10 = the thread's copy row (tid / 4)
    and 16-byte chunk (tid % 4), R27 = K (constant-bank offset ``k_param``), R2:R3 = its A source
    (row-major A, the ``a`` pointer first)."""
    return f"""    S2R R0, SR_LANEID ;
    S2R R1, SR_TID.X ;
    S2R R28, SR_CTAID.X ;                          // block column
    S2R R29, SR_CTAID.Y ;                          // block row
    SHF.R.U32.HI R9, RZ, 0x2, R1 ;                 // copy row r = tid / 4
    LOP3.LUT R10, R1, 0x3, RZ, 0xc0, !PT ;         // copy chunk = tid % 4
    MOV R27, c[0x0][{k_param:#x}] ;                       // K
    LEA R11, R29, R9, 0x7 ;                        // A row 128 by + r
    IMAD R11, R11, R27, RZ ;
    LEA R11, R10, R11, 0x3 ;                       // + 8 chunk (elements)
    MOV R2, c[0x0][0x160] ;
    MOV R3, c[0x0][0x164] ;
    IMAD.WIDE.U32 R2, R11, 0x2, R2 ;               // this thread's A source"""


def hmma_fragment_prologue(row: int) -> str:
    """After :func:`hmma_thread_prologue` and the B source: R16 = 64 rows of A in bytes, R6 = the
    thread's shared offset of its A copy (``row``-byte pitch), R1 = warp w, R12 = q, R13 = t + hi,
    R14 = hi, R15 / R17 = the warp's row / column in the block, R7 = the lane's A fragment row's
    shared offset, R18 = the lane's B fragment column (tile 0) in the block."""
    return f"""    IMAD.SHL.U32 R16, R27, 0x80, RZ ;              // 64 rows further: 64 * K * 2 bytes
    IMAD R6, R9, {hex(row)}, RZ ;
    LEA R6, R10, R6, 0x4 ;                         // shared offset of the copy: 72 r + 16 chunk
    SHF.R.U32.HI R1, RZ, 0x5, R1 ;                 // warp w
    SHF.R.U32.HI R12, RZ, 0x2, R0 ;
    LOP3.LUT R12, R12, 0x3, RZ, 0xc0, !PT ;        // q
    LOP3.LUT R13, R0, 0x3, RZ, 0xc0, !PT ;         // t
    SHF.R.U32.HI R14, RZ, 0x4, R0 ;
    SHF.L.U32 R14, R14, 0x2, RZ ;                  // hi
    IADD3 R13, R13, R14, RZ ;                      // t + hi
    SHF.R.U32.HI R15, RZ, 0x2, R1 ;                // warp row w / 4
    LOP3.LUT R9, R12, 0x1, RZ, 0xc0, !PT ;
    LEA R9, R9, R13, 0x3 ;                         // 8 (q & 1) + t + hi
    LEA R9, R15, R9, 0x6 ;                         // the lane's A fragment row (tile 0) in the block
    IMAD R7, R9, {hex(row)}, RZ ;                  // its shared offset
    LOP3.LUT R17, R1, 0x3, RZ, 0xc0, !PT ;         // warp column w % 4
    SHF.R.U32.HI R18, RZ, 0x1, R12 ;
    LEA R18, R18, R13, 0x3 ;                       // 8 (q >> 1) + t + hi
    LEA R18, R17, R18, 0x5 ;                       // the lane's B fragment column (tile 0)"""


def interleave_steps(emit, step, pending: list[str], acc0: int, rt: int, ct: int, every: int = 2) -> None:
    """Emits the 4 STEPs (``step(acc, R, C, st)`` -> text; acc = ``acc0`` + 8 (``ct`` R + C)) of every
    set (R, C) of a 64x32 warp tile and, after every ``every``-th STEP (the memory pipe takes one
    per 4 cycles, the tensor pipe one STEP per 2), the next memory instruction of ``pending`` with
    the address arithmetic before it; then what is left of ``pending``."""
    for R in range(rt):
        for C in range(ct):
            acc = acc0 + 8 * (ct * R + C)
            for st in range(4):
                emit(step(acc, R, C, st))
                if st % every == every - 1 and pending:
                    while pending and "LD" not in pending[0] and "ST" not in pending[0]:
                        emit(pending.pop(0))  # IADD3s ride along with the next memory instruction
                    if pending:
                        emit(pending.pop(0))
    for line in pending:
        emit(line)


#: The end of a slice of the staged HMMA GEMMs: the next slice is in the other stage.
SLICE_LOOP_TAIL = """    BAR.SYNC 0x0 ;                                 // slice i+1 is in the other stage; this one is free
    MOV R20, R23 ;
    IADD3 R9, R9, -0x1, RZ ;
    @P1 BRA slice_loop ;"""
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
