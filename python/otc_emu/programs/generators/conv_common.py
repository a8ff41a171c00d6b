"""The bitmap im2col and the A staging shared by the sparse implicit convolutions
(conv_sparse_implicit.py: one 32-channel tile per warp; conv_sparse_wide.py: 1, 2 or 4 per warp
with the sequenced SpWMMA): the parameters and common set-up (`prologue_head`), the per-chunk code
up to the weights (`IM2COL_HEAD`: the k table, the row bitmap words and offsets a chunk ahead, the
next warp bitmap), after them (`im2col_tail()`: S2-S3, the CTA's skip ballot and the gathers of
the values to stage; `windows_and_gathers()` without the ballot), the staging itself (`stage()`,
between two BAR.SYNCs; `stage_store()` then jumps to `chunk_next` when the warp listed no k) and
the pointer advance and store set-up (`tail()`). Registers and the stage layout are documented in
conv_sparse_implicit.py's header; docs/conv.md explains them."""


def chunk_words(words: tuple[int, int, int], notes: tuple[str, ...] = ()) -> str:
    """S1 of the chunk whose k table entry is in R36 (word delta, shift), lane-parallel: the two
    bitmap words holding the lane's window into registers ``words[0]``, ``words[1]`` and the first
    one's value offset into ``words[2]`` (addresses in R44, R46:R47, R48:R49); ``notes``: the
    comments of its six lines, in order (empty: none)."""
    w0, w1, off = words
    lines = ["IADD3 R44, R8, R36, RZ ;", "IMAD.WIDE.U32 R46, R44, 0x4, R32 ;", "IMAD.WIDE.U32 R48, R44, 0x4, R34 ;",
             f"LDG.E.SYS R{w0}, [R46] ;", f"LDG.E.SYS R{w1}, [R46+0x4] ;", f"LDG.E.SYS R{off}, [R48] ;"]
    notes = tuple(notes) + ("",) * (len(lines) - len(notes))
    return "".join((f"    {line:<47}// {note}" if note else f"    {line}") + "\n" for line, note in zip(lines, notes))


IM2COL_HEAD = r"""    MOV R27, R30 ;                                 // chunks left
    ISETP.EQ.U32.AND P0, PT, R27, RZ, PT ;
    @P0 BRA store ;
    LDG.E.64.SYS R36, [R4] ;                       // the first chunk's k table entry,
    ISETP.NE.U32.AND P1, PT, R3, RZ, PT ;
    MOV R31, RZ ;
    @P1 LDG.E.SYS R31, [R6] ;                      //   its warp bitmap,
""" + chunk_words((126, 127, 9), ("", "", "", "  its bitmap words and value offset")) + r"""    MOV R26, R37 ;
    LDG.E.64.SYS R36, [R4+0x100] ;                 // and the second chunk's k table entry
chunk_loop:                                        // this chunk's bitmap words (R126, R127, R9), shift (R26), warp
    MOV R50, R126 ;                                //   bitmap (R31) and the next chunk's k table entry (R36) are loaded
    MOV R51, R127 ;
    MOV R52, R9 ;
    MOV R41, R26 ;                                 // lane l: the shift of k = 32c + l
    MOV R42, R31 ;                                 // the warp bitmap of this chunk of weights
""" + chunk_words((126, 127, 9), ("S1 of the next chunk: the bitmap word holding the window's first bit", "&xbits[word]", "&xwoff[word]",
                                 "the two words holding the window (a chunk ahead: the", "  host pads the k table by two chunks)",
                                 "and the value offset of the first word")) + r"""    MOV R26, R37 ;
    LDG.E.64.SYS R36, [R4+0x200] ;                 // the k table entry of the chunk after next
    ISETP.NE.U32.AND P1, PT, R3, RZ, PT ;
    ISETP.GT.U32.AND P1, PT, R27, 0x1, P1 ;
    @P1 LDG.E.SYS R31, [R6+0x4] ;                  // the next chunk's warp bitmap
"""

S2_S3 = r"""    SHF.R.U64 R53, R50, R41, R51 ;                 // S2: shift the row bitmap to the window
    LOP3.LUT R53, R53, R10, RZ, 0xc0, !PT ;        // and mask it to the valid output columns
    BMSK R54, RZ, R41 ;                            // S3: the bits shifted out ...
    LOP3.LUT R54, R50, R54, RZ, 0xc0, !PT ;
    POPC R54, R54 ;                                // ... counted: values before the window
    IADD3 R54, R52, R54, RZ ;                      // the window's first value
"""

SKIP = r"""    ISETP.NE.U32.AND P0, PT, R53, RZ, PT ;
    VOTE.ANY R55, PT, P0 ;                         // the same in every warp of the CTA:
    ISETP.EQ.U32.AND P0, PT, R55, RZ, PT ;
    @P0 BRA chunk_next ;                           //   no non-zero in any window, the CTA skips the chunk
"""

GATHER0 = r"""    ISETP.LT.U32.AND P4, PT, R24, 0x20, PT ;       // round r exists when 8 W r < 32: 1 when W < 4, 2 and 3 when W = 1
    ISETP.LT.U32.AND P5, PT, R24, 0x10, PT ;
    SHFL.IDX PT, R56, R54, R16, 0x1f ;             // A staging: the first value of k = 8 (w + W r) + l / 4
    IADD3 R56, R56, R19, RZ ;                      // + 8 s
    IMAD.WIDE.U32 R58, R56, 0x2, R38 ;
    LDG.E.U16.SYS R60, [R58] ;                     // condensed elements 8s .. 8s+7 of that k
    LDG.E.U16.SYS R61, [R58+0x2] ;
    LDG.E.U16.SYS R62, [R58+0x4] ;
    LDG.E.U16.SYS R63, [R58+0x6] ;
    LDG.E.U16.SYS R64, [R58+0x8] ;
    LDG.E.U16.SYS R65, [R58+0xa] ;
    LDG.E.U16.SYS R66, [R58+0xc] ;
    LDG.E.U16.SYS R67, [R58+0xe] ;
"""

STAGE = r"""    ISETP.LT.U32.AND P4, PT, R24, 0x20, PT ;
    ISETP.LT.U32.AND P5, PT, R24, 0x10, PT ;
    BAR.SYNC 0x0 ;                                 // every warp is done reading the stage
    STS.U16 [R17], R60 ;                          // element 8s + i: row i, word s (s + 1 in rows with t >= 2), half t % 2
    STS.U16 [R17+0x32], R61 ;
    STS.U16 [R17+0x64], R62 ;
    STS.U16 [R17+0x96], R63 ;
    STS.U16 [R17+0xc0], R64 ;
    STS.U16 [R17+0xf2], R65 ;
    STS.U16 [R17+0x124], R66 ;
    STS.U16 [R17+0x156], R67 ;
@@STORE@@
    BAR.SYNC 0x0 ;                                 // the stage holds the chunk's A column slices
"""

EMPTY_LIST = r"""    ISETP.EQ.U32.AND P0, PT, R28, RZ, PT ;
    @P0 BRA chunk_next ;                           // no k of the chunk has work for this warp
"""


_ROUNDS = [0]  # staging_rounds() calls so far: each places its own label


def staging_rounds(kind):
    """Rounds 1..3 of the A staging (round r exists when 8 W r < 32: W < 4 for round 1 (P4), W = 1
    for rounds 2 and 3 (P5)): the gathers of 8 condensed values of k = 8 (w + W r) + l / 4
    (`gather`) or their stores to the k's stage slot (`store`); round 0 is written out above. The
    rounds that do not exist are branched over, warp-uniformly (W is the launch's): predicated off,
    each of their loads and stores would still take an issue slot and the sub-core's LD/ST unit for
    its interval (docs/conv.md)."""
    _ROUNDS[0] += 1
    label = f"staged{_ROUNDS[0]}" if kind == "gather" else f"stored{_ROUNDS[0]}"
    lines = [f"    @!P4 BRA {label} ;" + ("                            // (the rounds that do not exist: W = 4 has only round 0)")]
    for r in (1, 2, 3):
        v = 60 + 8 * r
        if r == 2:
            lines.append(f"    @!P5 BRA {label} ;")
        if kind == "gather":
            lines.append(f"    IADD3 R57, {'R16' if r == 1 else 'R57'}, R24, RZ ;")
            lines.append("    SHFL.IDX PT, R56, R54, R57, 0x1f ;")
            lines.append("    IADD3 R56, R56, R19, RZ ;")
            lines.append("    IMAD.WIDE.U32 R58, R56, 0x2, R38 ;")
            lines += [f"    LDG.E.U16.SYS R{v + i}, [R58{f'+{2 * i:#x}' if i else ''}] ;" for i in range(8)]
        else:
            lines.append(f"    IADD3 R57, {'R17' if r == 1 else 'R57'}, R22, RZ ;")
            lines += [f"    STS.U16 [R57{f'+{48 * i + 2 * (i % 4):#x}' if i else ''}], R{v + i} ;" for i in range(8)]  # row i: 48 i, one word further when i % 4 >= 2, half i % 2
    lines.append(f"{label}:")
    return "\n".join(lines) + "\n"




def im2col_tail() -> str:
    """S2-S3, the skip ballot and the four rounds' gathers of the values to stage."""
    return S2_S3 + SKIP + GATHER0 + staging_rounds("gather")


def windows_and_gathers() -> str:
    """S2-S3 and the four rounds' gathers, without the skip ballot (conv_sparse_wide builds the next
    chunk's windows while it runs this one's records)."""
    return S2_S3 + GATHER0 + staging_rounds("gather")


def stage() -> str:
    """The staging stores between the two barriers."""
    return STAGE.replace("@@STORE@@\n", staging_rounds("store"))


def stage_store() -> str:
    """The staging, then the jump to chunk_next when the warp's list is empty."""
    return stage() + EMPTY_LIST


def tail(slices_per_k: int, tile_shift: int, what: str, advance: str = "", bval_per_k: int = 0) -> str:
    """chunk_next (the pointers to the next 32 k: bitmaps of ``slices_per_k`` tiles per k, their
    condensed slices, ``bval_per_k`` bytes per k (default 64 per tile), then the kernel's own
    ``advance`` lines) and the store's set-up: the column of the warp's first output channel is
    ``2**tile_shift`` x R2 (``what``: the warp's tile or group); @@STORE_ROWS@@ then the stores."""
    bval_per_k = bval_per_k or 64 * slices_per_k
    return TAIL.replace("@@BBMP@@", hex(0x80 * slices_per_k)).replace("@@BVAL@@", hex(32 * bval_per_k)) \
        .replace("@@ADVANCE@@", advance) \
        .replace("@@SHIFT@@", hex(tile_shift)).replace("@@WHAT@@", what).replace("@@COLUMN@@", f"{2 ** tile_shift} * {what}")


TAIL = r"""chunk_next:
    IADD3 R4, P0, R4, 0x100, RZ ;                  // the next 32 k
    IADD3.X R5, RZ, R5, RZ, P0, !PT ;
    IADD3 R6, P0, R6, 0x4, RZ ;
    IADD3.X R7, RZ, R7, RZ, P0, !PT ;
    IADD3 R12, P0, R12, @@BBMP@@, RZ ;
    IADD3.X R13, RZ, R13, RZ, P0, !PT ;
    IADD3 R20, P0, R20, @@BVAL@@, RZ ;
    IADD3.X R21, RZ, R21, RZ, P0, !PT ;
    IADD3 R124, P0, R124, @@BVAL@@, RZ ;
    IADD3.X R125, RZ, R125, RZ, P0, !PT ;
@@ADVANCE@@    IADD3 R27, R27, -0x1, RZ ;
    ISETP.NE.AND P0, PT, R27, RZ, PT ;
    @P0 BRA chunk_loop ;

store:
    ISETP.EQ.U32.AND P0, PT, R3, RZ, PT ;
    @P0 EXIT ;                                     // no @@WHAT@@: nothing to store
    POPC R26, R10 ;                                // valid output rows of the tile
    SHF.R.U32.HI R22, RZ, 0x2, R0 ;                // lane / 4: the row inside each 8-row quarter
    IADD3 R31, R11, R22, RZ ;                      // m0 + lane / 4
    LOP3.LUT R34, R0, 0x3, RZ, 0xc0, !PT ;
    SHF.L.U32 R34, R34, 0x3, RZ ;                  // 8 * (lane % 4)
    LEA R34, R2, R34, @@SHIFT@@ ;                        // @@COLUMN@@ + 8 * (lane % 4)
    MOV R38, c[0x0][0x1a0] ;
    MOV R39, c[0x0][0x1a4] ;
    IMAD R31, R31, c[0x0][0x1a8], R34 ;            // row * kout + column
    IMAD.WIDE.U32 R38, R31, 0x4, R38 ;             // &y[row, column]
    MOV R35, c[0x0][0x1a8] ;
    IMAD.SHL.U32 R35, R35, 0x20, RZ ;              // 8 rows further: 8 * kout * 4 bytes
@@STORE_ROWS@@
    EXIT ;
.end
"""


PROLOGUE_HEAD = r""".kernel @@KERNEL@@
.param ptr xbits
.param ptr xwoff
.param ptr xvals
.param ptr ktab
.param ptr ttab
.param ptr bwbm
.param ptr bbmp
.param ptr bval
.param ptr y
.param u32 kout
.param u32 crs
.param u32 @@COUNT@@
.shared @@SHARED@@
    S2R R0, SR_LANEID ;
    S2R R1, SR_TID.X ;
    S2R R23, SR_NTID ;                             // x | y << 16 | z << 26
    LOP3.LUT R23, R23, 0xffff, RZ, 0xc0, !PT ;     // threads per CTA
    S2R R28, SR_CTAID.X ;                          // group of W @@UNIT@@s (W = warps per CTA)
    S2R R29, SR_CTAID.Y ;                          // pixel tile
    SHF.R.U32.HI R1, RZ, 0x5, R1 ;                 // warp w
    SHF.R.U32.HI R23, RZ, 0x5, R23 ;               // W: 1, 2 or 4
    IMAD R2, R28, R23, R1 ;                        // @@UNIT@@ W * ctaid.x + w
    ISETP.LT.U32.AND P0, PT, R2, c[0x0][0x1b0], PT ;
    SEL R3, RZ, 0x1, !P0 ;                         // R3 = 1: the warp has a @@UNIT@@
    S2R R18, SR_LTMASK ;                           // lanes below this one (ranks in the list)
    SHF.R.U32.HI R24, RZ, 0x2, R0 ;                // thread group g = lane / 4
    LOP3.LUT R25, R24, 0x1, RZ, 0xc0, !PT ;
    LOP3.LUT R22, R0, 0x3, RZ, 0xc0, !PT ;         // t = lane % 4
    LEA R25, R25, R22, 0x2 ;                       // the lane's A row j = 4 (g % 2) + t
    IMAD R25, R25, 0x30, RZ ;                      // its 48-byte row in a stage slot
    SHF.R.U32.HI R26, RZ, 0x1, R24 ;
    SHF.L.U32 R26, R26, 0x4, RZ ;                  // B byte offset in a slice: 16 * (g / 2)
    LEA R16, R1, R24, 0x3 ;                        // A staging, round 0: k = 8w + l / 4 of the chunk
    SHF.L.U32 R19, R22, 0x3, RZ ;                  // its elements 8s .. 8s+7 (s = l % 4): column m = s of rows 0..7
    IMAD R17, R16, 0x190, RZ ;
    LEA R17, R22, R17, 0x2 ;                       // A stage address: 400 k + 4 s
"""


PROLOGUE_POINTERS = r"""    SHF.L.U32 R24, R23, 0x3, RZ ;                  // A staging: the next round's k is 8 W further,
    IMAD R22, R23, 0xc80, RZ ;                     //   its stage address 3200 W
    MOV R4, c[0x0][0x180] ;
    MOV R5, c[0x0][0x184] ;
    IMAD.WIDE.U32 R4, R29, 0x10, R4 ;              // &ttab[tile]
    LDG.E.128.SYS R8, [R4] ;                       // first word, q0, valid mask, m0
    MOV R27, c[0x0][0x1ac] ;                       // crs (a multiple of 32)
    MOV R4, c[0x0][0x178] ;
    MOV R5, c[0x0][0x17c] ;
    IMAD.WIDE.U32 R4, R0, 0x8, R4 ;                // &ktab[lane]
    SHF.R.U32.HI R30, RZ, 0x5, R27 ;               // chunks
    IMAD R31, R2, R30, RZ ;                        // @@UNIT@@ * chunks
    MOV R6, c[0x0][0x188] ;
    MOV R7, c[0x0][0x18c] ;
    IMAD.WIDE.U32 R6, R31, 0x4, R6 ;               // &bwbm[@@UNIT@@][0]
    IMAD R31, R2, R27, R0 ;                        // @@UNIT@@ * crs + lane
    MOV R12, c[0x0][0x190] ;
    MOV R13, c[0x0][0x194] ;
    IMAD.WIDE.U32 R12, R31, @@BBMP@@, R12 ;             // &bbmp[@@UNIT@@][lane]
    IMAD R31, R2, R27, RZ ;
    MOV R20, c[0x0][0x198] ;
    MOV R21, c[0x0][0x19c] ;
    IMAD.WIDE.U32 R20, R31, @@BVAL@@, R20 ;            // &bval[@@UNIT@@][0]
@@TOUCH@@
    IADD3 R20, P0, R20, R26, RZ ;                  // + the lane's B offset
    IADD3.X R21, RZ, R21, RZ, P0, !PT ;
    MOV R124, R44 ;                                // R124:R125: the L1 @@TOUCHNAME@@ pointer
    MOV R125, R45 ;
    MOV R32, c[0x0][0x160] ;                       // xbits
    MOV R33, c[0x0][0x164] ;
    MOV R34, c[0x0][0x168] ;                       // xwoff
    MOV R35, c[0x0][0x16c] ;
    MOV R38, c[0x0][0x170] ;                       // xvals
    MOV R39, c[0x0][0x174] ;
"""


def prologue_pointers(unit: str, bbmp: int, bval: int, touch: str, touch_name: str) -> str:
    """The set-up after the warp's list: the staging's round step, the tile table entry (R8..R11),
    the k table (R4), the chunks (R30), the warp bitmaps (R6), the slice bitmaps (R12, ``bbmp``
    bytes per k), the condensed slices (R20, ``bval`` bytes per k, + the lane's B offset), the
    ``touch`` line that sets R44:R45 for the L1 ``touch_name`` pointer (R124) and the map's pointers."""
    return (PROLOGUE_POINTERS.replace("@@UNIT@@", unit).replace("@@BBMP@@", hex(bbmp)).replace("@@BVAL@@", hex(bval))
            .replace("@@TOUCH@@", touch).replace("@@TOUCHNAME@@", touch_name))


def prologue_head(kernel: str, count: str, shared: int, unit: str) -> str:
    """The kernel's parameters (``count``: the last one, the number of ``unit``s) and the set-up
    both kernels share: lane, warp, the warp's ``unit`` (R2) and whether it exists (R3), the lane's
    A row in a stage slot (R25), its B offset (R26), its staging k and address (R16, R17, R19)."""
    return (PROLOGUE_HEAD.replace("@@KERNEL@@", kernel).replace("@@COUNT@@", count)
            .replace("@@SHARED@@", str(shared)).replace("@@UNIT@@", unit))
