"""Writes python/otc_emu/programs/hmma_gemm.sass (the program is regular and long, so it is generated).

Run by hand after editing: python hmma_gemm.py [output path, default ../hmma_gemm.sass];
tests/python/test_kernels.py checks that the committed program is this script's output."""
import sys
out = []
e = out.append
BM = BN = 128          # CTA block of C
WM, WN = 64, 32        # warp tile
WARPS_N = BN // WN     # 4 warps across, 2 down
RT, CT = WM // 16, WN // 16   # HMMA sets per warp tile: 4 row tiles x 2 column tiles
ROW = 72               # shared row pitch in bytes (32 k + 4 halves of padding)
A_BYTES = BM * ROW     # 9216
STAGE = A_BYTES + BN * ROW    # 18432: A^ tile then B^T tile
ACC = 24               # set (R, C): ACC + 8 (CT R + C), STEP pairs at +0, +2, +4, +6
NSETS = RT * CT
FRAG_SIZE = 2 * (RT + CT)     # A row tile R at +2R, B column tile C at +2RT + 2C
FRAG = {i: ACC + 8 * NSETS + FRAG_SIZE * i for i in range(2)}
STG = FRAG[1] + FRAG_SIZE
assert STG % 4 == 0 and STG + 16 <= 128
THREADS = (BM // WM) * WARPS_N * 32

e(rf"""// Dense inner-product GEMM on Volta's tensor cores (HMMA.884), CUTLASS-like: C = A x B, fp16 in,
// fp32 out. See docs/kernels.md for the design and what the cycle model says about it.
//
// CTA = 8 warps (256 threads) over a 128x128 block of C (ctaid.y: block row, ctaid.x: block
// column); warp w computes the 64x32 warp tile at rows 64 (w / 4), columns 32 (w % 4) of the
// block, as 4x2 HMMA.884 sets (16x16 each, 4 STEPs) per 4 values of k: each A fragment serves two
// sets, each B fragment four. k runs in slices of 32 staged through shared memory,
// double-buffered: while the warps compute slice i from one stage, slice i+1 is loaded into
// registers (early in the slice) and stored to the other stage (late in the slice); one BAR.SYNC
// per slice. 128 registers per thread, so two CTAs (16 warps) fit on an SM.
//
// Global -> shared: the block's A tile (128 rows x 32 k, row-major) and B^T tile (128 columns x
// 32 k) are 512 16-byte chunks each; thread t copies chunk t % 4 of rows t / 4 and t / 4 + 64
// (2 LDG.128 + 4 STS.64 per operand). Shared rows are padded to 72 bytes so that the fragment
// reads (8 rows of 8 bytes per half-warp) hit 16 different bank pairs: conflict-free.
// Fragments (docs/fragments.md, PTX mma.m8n8k4; q = (lane >> 2) & 3, t = lane & 3,
// hi = 4 (lane >> 4)): for k step j of the slice, the lane's A fragment of row tile R is row
// 16R + 8 (q & 1) + t + hi of the warp tile, k = 4j .. 4j+3 (one LDS.64), its B fragment of
// column tile C is column 16C + 8 (q >> 1) + t + hi; the next k-step's fragments are read
// between this step's HMMAs, one LDS after every second HMMA.
//
// Memory (the host pads M and N to multiples of 128 and K to a multiple of 32):
//   A row-major m x k; B column-major (B^T row-major, n x k); C row-major m x n, fp32.
// Launch: grid (n / 128, m / 128), block 256, static shared 2 x 18 KiB (two stages).

.kernel hmma_gemm
.param ptr a
.param ptr b
.param ptr c
.param u32 m
.param u32 n
.param u32 k
.shared {2 * STAGE}
    S2R R0, SR_LANEID ;
    S2R R1, SR_TID.X ;
    S2R R28, SR_CTAID.X ;                          // block column
    S2R R29, SR_CTAID.Y ;                          // block row
    SHF.R.U32.HI R9, RZ, 0x2, R1 ;                 // copy row r = tid / 4
    LOP3.LUT R10, R1, 0x3, RZ, 0xc0, !PT ;         // copy chunk = tid % 4
    MOV R27, c[0x0][0x180] ;                       // K
    LEA R11, R29, R9, 0x7 ;                        // A row 128 by + r
    IMAD R11, R11, R27, RZ ;
    LEA R11, R10, R11, 0x3 ;                       // + 8 chunk (elements)
    MOV R2, c[0x0][0x160] ;
    MOV R3, c[0x0][0x164] ;
    IMAD.WIDE.U32 R2, R11, 0x2, R2 ;               // this thread's A source
    LEA R11, R28, R9, 0x7 ;                        // B^T row 128 bx + r
    IMAD R11, R11, R27, RZ ;
    LEA R11, R10, R11, 0x3 ;
    MOV R4, c[0x0][0x168] ;
    MOV R5, c[0x0][0x16c] ;
    IMAD.WIDE.U32 R4, R11, 0x2, R4 ;               // this thread's B^T source
    IMAD.SHL.U32 R16, R27, 0x80, RZ ;              // 64 rows further: 64 * K * 2 bytes
    IMAD R6, R9, {hex(ROW)}, RZ ;
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
    IMAD R7, R9, {hex(ROW)}, RZ ;                  // its shared offset
    LOP3.LUT R17, R1, 0x3, RZ, 0xc0, !PT ;         // warp column w % 4
    SHF.R.U32.HI R18, RZ, 0x1, R12 ;
    LEA R18, R18, R13, 0x3 ;                       // 8 (q >> 1) + t + hi
    LEA R18, R17, R18, 0x5 ;                       // the lane's B fragment column (tile 0)
    IMAD R8, R18, {hex(ROW)}, RZ ;
    IADD3 R8, R8, {hex(A_BYTES)}, RZ ;             // B^T tile after the A tile
    SHF.R.U32.HI R9, RZ, 0x5, R27 ;                // slices of 32 k (left, the current one included)""")
for i in range(4 * NSETS):
    e(f"    CS2R R{ACC + 2 * i}, SRZ ;" + (f"                                 // D = 0 ({8 * NSETS} fp32 registers)" if i == 0 else ""))

def ldg(guard, STG):
    e(f"    {guard}LDG.E.128.SYS R{STG}, [R2] ;                 // A, row r")
    e(f"    {guard}LDG.E.128.SYS R{STG + 8}, [R4] ;             // B^T, row r")
    e(f"    IADD3 R10, P0, R2, R16, RZ ;")
    e(f"    IADD3.X R11, RZ, R3, RZ, P0, !PT ;")
    e(f"    IADD3 R18, P0, R4, R16, RZ ;")
    e(f"    IADD3.X R19, RZ, R5, RZ, P0, !PT ;")
    e(f"    {guard}LDG.E.128.SYS R{STG + 4}, [R10] ;            // A, row r + 64")
    e(f"    {guard}LDG.E.128.SYS R{STG + 12}, [R18] ;           // B^T, row r + 64")
    e(f"    IADD3 R2, P0, R2, 0x40, RZ ;                   // next slice: 32 k further")
    e(f"    IADD3.X R3, RZ, R3, RZ, P0, !PT ;")
    e(f"    IADD3 R4, P0, R4, 0x40, RZ ;")
    e(f"    IADD3.X R5, RZ, R5, RZ, P0, !PT ;")

def sts(base_reg, guard, STG):
    half = 64 * ROW
    for reg, off in [(STG, 0), (STG + 4, half), (STG + 8, A_BYTES), (STG + 12, A_BYTES + half)]:
        e(f"    {guard}STS.64 [{base_reg}+{hex(off)}], R{reg} ;")
        e(f"    {guard}STS.64 [{base_reg}+{hex(off + 8)}], R{reg + 2} ;")

e("    ISETP.EQ.U32.AND P0, PT, R9, RZ, PT ;")
e("    @P0 BRA store ;")
ldg("", STG)
sts("R6", "", STG)
e("    BAR.SYNC 0x0 ;")
e("    MOV R20, RZ ;                                  // current stage offset")

def lds_frags(f, j):
    b = FRAG[f]
    lines = [f"    LDS.U.64 R{b + 2 * R}, [R21+{hex(8 * j + 16 * ROW * R)}] ;" for R in range(RT)]
    lines += [f"    LDS.U.64 R{b + 2 * RT + 2 * C}, [R22+{hex(8 * j + 16 * ROW * C)}] ;" for C in range(CT)]
    return lines

def capture(fn, *args):
    n = len(out); fn(*args); got = out[n:]; del out[n:]; return got

e("slice_loop:                                        // slice i from the current stage")
e("    ISETP.GT.U32.AND P1, PT, R9, 0x1, PT ;         // slice i+1 exists: load it, store it to the other stage")
e("    IADD3 R21, R7, R20, RZ ;                       // fragment addresses in the current stage")
e("    IADD3 R22, R8, R20, RZ ;")
e(f"    IADD3 R23, -R20, {hex(STAGE)}, RZ ;                  // the other stage")
e("    IADD3 R13, R6, R23, RZ ;                       // where this thread stores slice i+1")
for line in lds_frags(0, 0):
    e(line)
ldg_lines = capture(ldg, "@P1 ", STG)        # slice i+1's loads, in step 0
sts_lines = capture(sts, "R13", "@P1 ", STG)  # its stores, in steps 6 and 7
extra = {0: ldg_lines, 6: sts_lines[:4], 7: sts_lines[4:]}
for j in range(8):
    b = FRAG[j % 2]
    # one memory instruction after every second HMMA (the memory pipe takes one per 4 cycles,
    # the tensor pipe one HMMA per 2): first the fragments of step j + 1, then the copies
    pending = (lds_frags((j + 1) % 2, j + 1) if j < 7 else []) + extra.get(j, [])
    for R in range(RT):
        for C in range(CT):
            acc = ACC + 8 * (CT * R + C)
            for st in range(4):
                ru = ".reuse" if st < 3 else ""
                e(f"    HMMA.884.F32.F32.STEP{st} R{acc + 2 * st}, R{b + 2 * R}{ru}.ROW, R{b + 2 * RT + 2 * C}{ru}.COL, R{acc + 2 * st} ;")
                if st % 2 == 1 and pending:
                    while pending and "LD" not in pending[0] and "ST" not in pending[0]:
                        e(pending.pop(0))  # IADD3s ride along with the next memory instruction
                    if pending:
                        e(pending.pop(0))
    for line in pending:
        e(line)
e("    BAR.SYNC 0x0 ;                                 // slice i+1 is in the other stage; this one is free")
e("    MOV R20, R23 ;")
e("    IADD3 R9, R9, -0x1, RZ ;")
e("    @P1 BRA slice_loop ;")
e(r"""store:                                             // (R24.. hold the accumulators: temporaries below R24)
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
    MOV R4, c[0x0][0x170] ;
    MOV R5, c[0x0][0x174] ;
    IMAD R9, R9, c[0x0][0x17c], R8 ;               // row * n + column
    IMAD.WIDE.U32 R10, R9, 0x4, R4 ;               // &C[row, column] of set (0, 0)
    MOV R7, c[0x0][0x17c] ;
    IMAD.SHL.U32 R6, R7, 0x8, RZ ;                 // two rows: 2 * n * 4 bytes
    IMAD.SHL.U32 R7, R7, 0x40, RZ ;                // 16 rows: 16 * n * 4 bytes""")
for R in range(RT):
    for C in range(CT):
        acc = ACC + 8 * (CT * R + C)
        e(f"    IADD3 R18, P0, R10, {hex(64 * C)}, RZ ;" + ("                  // set (R, C): + 16 R rows, + 16 C columns" if R == C == 0 else ""))
        e(f"    IADD3.X R19, RZ, R11, RZ, P0, !PT ;")
        e(f"    STG.E.64.SYS [R18], R{acc} ;")
        e(f"    STG.E.64.SYS [R18+0x10], R{acc + 4} ;")
        e(f"    IADD3 R18, P0, R18, R6, RZ ;")
        e(f"    IADD3.X R19, RZ, R19, RZ, P0, !PT ;")
        e(f"    STG.E.64.SYS [R18], R{acc + 2} ;")
        e(f"    STG.E.64.SYS [R18+0x10], R{acc + 6} ;")
    if R < RT - 1:
        e("    IADD3 R10, P0, R10, R7, RZ ;")
        e("    IADD3.X R11, RZ, R11, RZ, P0, !PT ;")
e("    EXIT ;")
e(".end")
from pathlib import Path
path = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "hmma_gemm.sass"
open(path, "w").write("\n".join(out) + "\n")
