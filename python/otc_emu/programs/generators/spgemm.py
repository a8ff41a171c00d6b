"""Writes python/otc_emu/programs/spgemm.sass (the program is regular and long, so it is generated).

Run by hand after editing: python spgemm.py [output path, default ../spgemm.sass];
tests/python/test_kernels.py checks that the committed program is this script's output."""
G = 4  # records (k) per group
NB = 3                         # buffers: the values of group j+2 load while group j computes
REC = {i: 48 + 16 * i for i in range(NB)}   # record registers: 4 slots x (abm, bbm, guards, k)
VAL = {i: 96 + 48 * i for i in range(NB)}   # value registers: slot s: A at base + 12 s (8), B at + 8 (4)
ADDR = 240                     # address pairs (scratch, two slots in turn): A at 240 + 4 (s % 2), B at + 2

out = []
def e(s=""):
    out.append(s)

HEADER = r"""// Dual-side sparse GEMM of the paper (Section III): C = A x B, both operands in the two-level
// bitmap format, fp16 in, dense fp32 out. See docs/kernels.md for the design and its costs.
//
// CTA = 4 warps (128 threads) over a 64x64 block of C; warp w computes the 32x32 tile at tile row
// 2 * ctaid.y + w / 2, tile column 2 * ctaid.x + w % 2, accumulated in its accumulation buffer
// (a warp whose tile lies outside C exits). For every k the tile needs the 32-row column slice of
// A and the 32-column row slice of B; a k whose A or B slice is empty contributes nothing.
//
// k runs in chunks of 32 (the host pads K to a multiple of 32):
// 1. Warp bitmaps (first level): one word per (tile, chunk), bit l = slice 32c + l is non-empty.
//    Lane-parallel, 32 chunks at a time: lane l loads the A and B words of chunk l and one ballot
//    gives the chunks with work on both sides; the others are never read again.
// 2. Element bitmaps (second level), lane-parallel, per chunk with work (the next one's load while
//    this one runs): lane l loads the A and B bitmaps of k = 32c + l, counts them (one POPC each
//    per slice) and derives the seven guards of the sparse OHMMAs of that k (nnzA > 8, 16, 24;
//    nnzB > 16; and their products), packed by P2R. A ballot gives the k with work on both sides;
//    each such lane writes its record (abm, bbm, guards, k) to the warp's list in shared memory at
//    its rank (so the list keeps k ascending: the accumulation order, and the bits, of owmma).
//    Chunks are appended while the list (256 records) has room for another.
// 3. The list runs in groups of 4 records, software-pipelined over three register buffers: while
//    the OHMMAs of group j run, the values of groups j+1 and j+2 are in flight and the records of
//    group j+3 are being read. Per k: one LDS.128 (record, a broadcast), two IMAD.WIDE
//    (addresses), two LDG.128 (A pairs m = 0, 1; B pairs n = 0, 1), a third (A pairs m = 2, 3)
//    only when nnzA > 16 (a branch: a predicated-off load would still take the LD/ST pipe), R2P
//    (the seven guards into P0..P6), ACCB.BMAP (scatter positions) and the 8 sparse OHMMAs, of
//    which OHMMA (m, n) is guarded by nnzA > 8m and nnzB > 16n: exactly
//    ceil(nnzA / 8) * ceil(nnzB / 16) execute (OHMMA (0, 0) needs no guard: the list holds only
//    k with work on both sides). Full groups run without per-k checks; the last one checks.
//    The SPWMMA macro's BOHMMA (product bitmap) is left out: it only serves a sparse C, and C is
//    written dense.
//
// Memory (built by otc_emu.kernels.gemm(mode="spgemm"), tm = M / 32 and tn = N / 32 tiles,
// kc = K / 32 chunks):
//   awbm u32 [tm][kc]   abmp u32 [tm][K]   aval fp16 [tm][K][32]
//   bwbm u32 [tn][kc]   bbmp u32 [tn][K]   bval fp16 [tn][K][32]
//   c    fp32 [M][N] row-major (written whole, zeros included)
// A slice values are condensed (non-zeros first, in row order, zero padded) then permuted so a
// lane's OHMMA A pairs are contiguous: condensed element 8m + 4h + i at position 16h + 4m + i
// (lane of thread group g reads half h = g % 2: pairs m = 0, 1 then 2, 3, two LDG.128).
// B slice: condensed element 16n + 4q + i at position 8q + 4n + i (lane reads q = g / 2: pairs
// n = 0, 1, one LDG.128). Launch: grid (ceil(tn / 2), ceil(tm / 2)), block 128, static shared
// 4 x 4.5 KiB (each warp's list of up to 256 records of 16 bytes, plus what the pipeline reads
// past its end, cleared once so that it holds valid k).
"""

e(HEADER.rstrip("\n"))
e()
e(".kernel spgemm")
for p in ["ptr awbm", "ptr abmp", "ptr aval", "ptr bwbm", "ptr bbmp", "ptr bval", "ptr c",
          "u32 n", "u32 k", "u32 tiles_m", "u32 tiles_n"]:
    e(f".param {p}")
e(".shared 18432")
# params: awbm 0x160 abmp 0x168 aval 0x170 bwbm 0x178 bbmp 0x180 bval 0x188 c 0x190 n 0x198 k 0x19c tm 0x1a0 tn 0x1a4
e("""    S2R R0, SR_LANEID ;
    S2R R1, SR_TID.X ;
    S2R R28, SR_CTAID.Y ;
    S2R R29, SR_CTAID.X ;
    SHF.R.U32.HI R1, RZ, 0x5, R1 ;                 // warp w
    SHF.R.U32.HI R24, RZ, 0x1, R1 ;
    LEA R28, R28, R24, 0x1 ;                       // tile row tr = 2 * ctaid.y + w / 2
    LOP3.LUT R24, R1, 0x1, RZ, 0xc0, !PT ;
    LEA R29, R29, R24, 0x1 ;                       // tile column tc = 2 * ctaid.x + w % 2
    ISETP.GE.U32.AND P0, PT, R28, c[0x0][0x1a0], PT ;
    ISETP.GE.U32.OR P0, PT, R29, c[0x0][0x1a4], P0 ;
    @P0 EXIT ;                                     // a tile outside C (the grid rounds up to 2x2 tiles)
    IMAD R14, R1, 0x1200, RZ ;                     // the warp's record list: 4.5 KiB at 4608 w
    LEA R15, R0, R14, 0x4 ;                        // this lane's record slots: lane + 32 i
    CS2R R40, SRZ ;
    CS2R R42, SRZ ;
    STS.128 [R15+0x0], R40 ;                           // clear the list once: the pipeline reads
    STS.128 [R15+0x200], R40 ;                     //   records past the end, which must hold a valid k
    STS.128 [R15+0x400], R40 ;
    STS.128 [R15+0x600], R40 ;
    STS.128 [R15+0x800], R40 ;
    STS.128 [R15+0xa00], R40 ;
    STS.128 [R15+0xc00], R40 ;
    STS.128 [R15+0xe00], R40 ;
    STS.128 [R15+0x1000], R40 ;
    S2R R18, SR_LTMASK ;                           // lanes below this one (ranks in the list)
    SHF.R.U32.HI R24, RZ, 0x2, R0 ;                // thread group g = lane / 4
    LOP3.LUT R25, R24, 0x1, RZ, 0xc0, !PT ;
    SHF.L.U32 R25, R25, 0x5, RZ ;                  // A byte offset in a slice: 32 * (g % 2)
    SHF.R.U32.HI R26, RZ, 0x1, R24 ;
    SHF.L.U32 R26, R26, 0x4, RZ ;                  // B byte offset in a slice: 16 * (g / 2)
    MOV R27, c[0x0][0x19c] ;                       // K
    SHF.R.U32.HI R16, RZ, 0x5, R27 ;               // chunks kc = K / 32
    IMAD R30, R28, R16, RZ ;                       // tr * kc
    MOV R2, c[0x0][0x160] ;
    MOV R3, c[0x0][0x164] ;
    IMAD.WIDE.U32 R2, R30, 0x4, R2 ;    // &awbm[tr][0]
    IMAD R30, R29, R16, RZ ;                       // tc * kc
    MOV R8, c[0x0][0x178] ;
    MOV R9, c[0x0][0x17c] ;
    IMAD.WIDE.U32 R8, R30, 0x4, R8 ;    // &bwbm[tc][0]
    IMAD R30, R28, R27, R0 ;                       // tr * K + lane
    MOV R4, c[0x0][0x168] ;
    MOV R5, c[0x0][0x16c] ;
    IMAD.WIDE.U32 R4, R30, 0x4, R4 ;    // &abmp[tr][lane]
    IMAD R30, R29, R27, R0 ;                       // tc * K + lane
    MOV R10, c[0x0][0x180] ;
    MOV R11, c[0x0][0x184] ;
    IMAD.WIDE.U32 R10, R30, 0x4, R10 ;   // &bbmp[tc][lane]
    IMAD R30, R28, R27, RZ ;
    MOV R6, c[0x0][0x170] ;
    MOV R7, c[0x0][0x174] ;
    IMAD.WIDE.U32 R6, R30, 0x40, R6 ;   // &aval[tr][0]
    IADD3 R6, P0, R6, R25, RZ ;                    // + the lane's A offset
    IADD3.X R7, RZ, R7, RZ, P0, !PT ;
    IMAD R30, R29, R27, RZ ;
    MOV R12, c[0x0][0x188] ;
    MOV R13, c[0x0][0x18c] ;
    IMAD.WIDE.U32 R12, R30, 0x40, R12 ;  // &bval[tc][0]
    IADD3 R12, P0, R12, R26, RZ ;                  // + the lane's B offset
    IADD3.X R13, RZ, R13, RZ, P0, !PT ;
    ACCB.CLEAR ;
    MOV R19, RZ ;                                  // first chunk of the current super-chunk (32 chunks)
    MOV R47, RZ ;                                  // records in the list
    ISETP.EQ.U32.AND P0, PT, R16, RZ, PT ;
    @P0 BRA store ;
super_loop:                                        // warp bitmaps, lane-parallel: lane l, chunk 32s + l
    IADD3 R24, R19, R0, RZ ;
    ISETP.LT.U32.AND P1, PT, R24, R16, PT ;        // inside K
    IMAD.WIDE.U32 R26, R0, 0x4, R2 ;
    IMAD.WIDE.U32 R30, R0, 0x4, R8 ;
    MOV R20, RZ ;
    MOV R21, RZ ;
    @P1 LDG.E.SYS R20, [R26] ;
    @P1 LDG.E.SYS R21, [R30] ;
    LOP3.LUT R22, R20, R21, RZ, 0xc0, !PT ;        // k of the chunk with work on both sides
    ISETP.NE.U32.AND P0, PT, R22, RZ, PT ;
    VOTE.ANY R23, PT, P0 ;                         // the chunks with work (the others are never read)
    ISETP.EQ.U32.AND P0, PT, R23, RZ, PT ;
    @P0 BRA super_next ;
    BREV R24, R23 ;
    FLO.U32.SH R24, R24 ;                          // the first of them
    IADD3 R25, R19, R24, RZ ;
    IADD3 R24, R23, -0x1, RZ ;
    LOP3.LUT R23, R23, R24, RZ, 0xc0, !PT ;        // taken off the mask
    IMAD.WIDE.U32 R26, R25, 0x80, R4 ;
    IMAD.WIDE.U32 R30, R25, 0x80, R10 ;
    LDG.E.SYS R36, [R26] ;                         // lane l: A and B bitmaps of k = 32c + l
    LDG.E.SYS R37, [R30] ;
chunk_loop:                                        // R36, R37: this chunk's bitmaps (loaded ahead)
    MOV R40, R36 ;
    MOV R41, R37 ;
    LEA R43, R25, R0, 0x5 ;                        // record: (abm, bbm, guards, k = 32c + lane)
    MOV R46, R23 ;                                 // non-zero: another chunk with work follows
    ISETP.NE.U32.AND P1, PT, R23, RZ, PT ;
    BREV R24, R23 ;
    FLO.U32.SH R24, R24 ;
    IADD3 R25, R19, R24, RZ ;                      // the next chunk with work
    IADD3 R24, R23, -0x1, RZ ;
    LOP3.LUT R23, R23, R24, RZ, 0xc0, !PT ;
    @P1 IMAD.WIDE.U32 R26, R25, 0x80, R4 ;
    @P1 IMAD.WIDE.U32 R30, R25, 0x80, R10 ;
    @P1 LDG.E.SYS R36, [R26] ;                     // its bitmaps load while this chunk runs
    @P1 LDG.E.SYS R37, [R30] ;
    POPC R32, R40 ;                                // nnzA
    POPC R33, R41 ;                                // nnzB
    ISETP.GT.U32.AND P0, PT, R32, 0x8, PT ;        // guard bits of the record (R2P order):
    ISETP.GT.U32.AND P1, PT, R32, 0x10, PT ;       //   P0..P2: nnzA > 8, 16, 24
    ISETP.GT.U32.AND P2, PT, R32, 0x18, PT ;
    ISETP.GT.U32.AND P3, PT, R33, 0x10, PT ;       //   P3: nnzB > 16
    ISETP.GT.U32.AND P4, PT, R32, 0x8, P3 ;        //   P4..P6: nnzA > 8, 16, 24 and nnzB > 16
    ISETP.GT.U32.AND P5, PT, R32, 0x10, P3 ;
    ISETP.GT.U32.AND P6, PT, R32, 0x18, P3 ;
    P2R R42, PR, RZ, 0x7f ;
    ISETP.NE.U32.AND P0, PT, R32, RZ, PT ;
    ISETP.NE.U32.AND P0, PT, R33, RZ, P0 ;         // this lane's k has work
    VOTE.ANY R34, PT, P0 ;                         // ballot: the k of the chunk with work
    LOP3.LUT R35, R34, R18, RZ, 0xc0, !PT ;
    POPC R35, R35 ;                                // rank among them
    IADD3 R35, R35, R47, RZ ;                      // after the records of earlier chunks
    LEA R35, R35, R14, 0x4 ;
    @P0 STS.128 [R35], R40 ;                       // the list, k ascending
    POPC R34, R34 ;
    IADD3 R47, R47, R34, RZ ;                      // records in the list
    ISETP.LE.U32.AND P0, PT, R47, 0xe0, PT ;       // room for another chunk (the list holds 256)
    ISETP.NE.U32.AND P0, PT, R46, RZ, P0 ;         // and another chunk with work follows:
    @P0 BRA chunk_loop ;                           //   append it before running the list
    MOV R45, R47 ;                                 // records to run (>= 1)
    MOV R47, RZ ;
    MOV R44, R14 ;                                 // next group's records""")

def loads(buf, guard=""):
    def addr(s):
        r, ad = REC[buf] + 4 * s + 3, ADDR + 4 * (s % 2)
        e(f"    {guard}IMAD.WIDE.U32 R{ad}, R{r}, 0x40, R6 ;" + ("          // slot addresses: base + 64 k" if s == 0 else ""))
        e(f"    {guard}IMAD.WIDE.U32 R{ad + 2}, R{r}, 0x40, R12 ;")
    addr(0)
    addr(1)
    for s in range(G):  # the address of slot s + 2 is formed while slot s + 1's loads wait for theirs
        v, ad = VAL[buf] + 12 * s, ADDR + 4 * (s % 2)
        e(f"    {guard}LDG.E.128.SYS R{v}, [R{ad}] ;" + ("             // A pairs m = 0, 1" if s == 0 else ""))
        e(f"    {guard}LDG.E.128.SYS R{v + 8}, [R{ad + 2}] ;" + ("             // B pairs n = 0, 1" if s == 0 else ""))
        # A pairs m = 2, 3 only when nnzA > 16 (guard bit 1); otherwise their OHMMAs are off and
        # a branch costs less than the memory pipe's 4 cycles (a predicated-off load takes them)
        label = f"skip_a{buf}_{s}_{len(out)}"
        e(f"    R2P PR, R{REC[buf] + 4 * s + 2}, 0x2 ;" + ("                        // P1: nnzA > 16" if s == 0 else ""))
        e(f"    @!P1 BRA {label} ;")
        e(f"    {guard}LDG.E.128.SYS R{v + 4}, [R{ad}+0x10] ;" + ("        // A pairs m = 2, 3" if s == 0 else ""))
        e(f"{label}:")
        if s + 2 < G:
            addr(s + 2)

def slot(buf, s, checked):
    rec, v = REC[buf] + 4 * s, VAL[buf] + 12 * s
    a, b = v, v + 8
    if checked and s:
        e(f"    ISETP.LE.AND P0, PT, R45, {hex(s)}, PT ;")
        e(f"    @P0 BRA chunk_done ;")
    e(f"    R2P PR, R{rec + 2}, 0x7f ;" + ("                       // the seven guards of this k" if s == 0 else ""))
    e(f"    ACCB.BMAP R{rec}, R{rec + 1} ;")
    guards = ["", "@P0 ", "@P1 ", "@P2 ", "@P3 ", "@P4 ", "@P5 ", "@P6 "]
    for i, (m, n) in enumerate([(m, 0) for m in range(4)] + [(m, 1) for m in range(4)]):
        e(f"    {guards[i]:4s}HMMA.OHMMA.8161.F32.F32.SP.M{m}.N{n} {{R{a + 2 * m}, R{a + 2 * m + 1}}}, {{R{b + 2 * n}, R{b + 2 * n + 1}}} ;")
    # this slot's record registers are free: read the record NB groups on (past the end of the
    # list it is a stale or cleared record: a valid k, never computed)
    e(f"    LDS.U.128 R{rec}, [R44+{hex(64 * NB + 16 * s)}] ;")

def compute(buf):
    # a full group (all but the last of a list) runs its 4 k without checks; the last one checks
    # before each k whether the list still has it
    e(f"    @P3 BRA partial{buf} ;")
    for s in range(G):
        slot(buf, s, False)
    e(f"    BRA group_end{buf} ;")
    e(f"partial{buf}:")
    for s in range(G):
        slot(buf, s, True)
    e(f"group_end{buf}:")

# prologue: records of groups 0 .. NB-1, values of groups 0 .. NB-2
for g in range(NB):
    for s in range(G):
        e(f"    LDS.U.128 R{REC[g] + 4 * s}, [R44+{hex(64 * g + 16 * s)}] ;" + (" " * 10 + "// records of the first groups" if g == s == 0 else ""))
for g in range(NB - 1):
    if g:
        e(f"    ISETP.GT.AND P0, PT, R45, {hex(4 * g)}, PT ;")
    loads(g, "@P0 " if g else "")
e(f"group_loop:                                        // group j: values in flight since group j-{NB - 1}")
for cur in range(NB):
    ahead = (cur + NB - 1) % NB
    e(f"    ISETP.LT.AND P3, PT, R45, 0x4, PT ;            // the last group, not full?")
    e(f"    ISETP.GT.AND P0, PT, R45, {hex(4 * (NB - 1))}, PT ;            // is there a group j+{NB - 1}?")
    loads(ahead, "@P0 ")
    compute(cur)
    e("    IADD3 R45, R45, -0x4, RZ ;")
    e("    IADD3 R44, R44, 0x40, RZ ;")
    e("    ISETP.LT.AND P0, PT, R45, 0x1, PT ;")
    e("    @P0 BRA chunk_done ;")
e("    BRA group_loop ;")
e("""chunk_done:
    ISETP.NE.U32.AND P0, PT, R46, RZ, PT ;
    @P0 BRA chunk_loop ;
super_next:
    IADD3 R19, R19, 0x20, RZ ;
    IADD3 R2, P0, R2, 0x80, RZ ;                   // warp bitmaps of the next super-chunk
    IADD3.X R3, RZ, R3, RZ, P0, !PT ;
    IADD3 R8, P0, R8, 0x80, RZ ;
    IADD3.X R9, RZ, R9, RZ, P0, !PT ;
    ISETP.LT.U32.AND P0, PT, R19, R16, PT ;
    @P0 BRA super_loop ;
store:
    SHF.R.U32.HI R22, RZ, 0x2, R0 ;                // lane / 4: the row inside each 8-row quarter
    LEA R22, R28, R22, 0x5 ;                       // 32 * tr + lane / 4
    LOP3.LUT R34, R0, 0x3, RZ, 0xc0, !PT ;
    SHF.L.U32 R34, R34, 0x3, RZ ;                  // 8 * (lane % 4)
    LEA R34, R29, R34, 0x5 ;                       // 32 * tc + 8 * (lane % 4)
    IMAD R22, R22, c[0x0][0x198], R34 ;            // row * n + column
    MOV R38, c[0x0][0x190] ;
    MOV R39, c[0x0][0x194] ;
    IMAD.WIDE.U32 R38, R22, 0x4, R38 ;   // &C[row, column]
    MOV R35, c[0x0][0x198] ;
    IMAD.SHL.U32 R35, R35, 0x20, RZ ;              // 8 rows further: 8 * n * 4 bytes""")
for q in range(4):
    e(f"    ACCB.MOV.F32 {{R40, R41, R42, R43, R44, R45, R46, R47}}, {hex(q)} ;")
    e("    STG.E.128.SYS [R38], R40 ;")
    e("    STG.E.128.SYS [R38+0x10], R44 ;")
    if q < 3:
        e("    IADD3 R38, P0, R38, R35, RZ ;")
        e("    IADD3.X R39, RZ, R39, RZ, P0, !PT ;")
e("    EXIT ;")
e(".end")
import sys
from pathlib import Path
path = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "spgemm.sass"
open(path, "w").write("\n".join(out) + "\n")
