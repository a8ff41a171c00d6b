"""Writes python/otc_emu/programs/owmma_gemm.sass (the program is regular and long, so it is generated).

Run by hand after editing: python owmma_gemm.py [output path, default ../owmma_gemm.sass];
tests/python/test_kernels.py checks that the committed program is this script's output."""
import sys
out = []
e = out.append
G, NB = 4, 3
VAL = {i: 64 + 48 * i for i in range(NB)}  # slot s: A pairs at +12 s (8 regs), B pairs at +12 s + 8 (4 regs)
def acc(m, n):
    return 208 + 4 * (4 * n + m)            # D/C of OHMMA tile (m, n): 4 registers

e(r"""// Dense outer-product GEMM on the outer-product tensor core (OHMMA.8161): C = A x B, fp16 in,
// fp32 out (paper Section V). See docs/kernels.md for the design and what the cycle model says.
//
// The same blocking as hmma_gemm and spgemm, so the three compare on equal terms: CTA = 4 warps
// (128 threads) over a 64x64 block of C; warp w computes the 32x32 tile at tile row
// 2 * ctaid.y + w / 2, tile column 2 * ctaid.x + w % 2 (a warp whose tile lies outside C exits),
// accumulated in registers: per k, 8 OHMMAs (row blocks m = 0..3 of 8 rows x column blocks
// n = 0..1 of 16 columns) on A's 32-row column slice and B's 32-column row slice.
// Operands come straight from global memory (L1 serves the warps that share a slice), in the
// layout of the spgemm values with every slice full: a lane's OHMMA pairs are contiguous, so a k
// takes three LDG.128 (A pairs m = 0, 1 and 2, 3; B pairs n = 0, 1). k runs in groups of 4,
// software-pipelined over three register buffers: the loads of group j+2 are issued before the
// OHMMAs of group j.
//
// Memory (built by otc_emu.kernels.gemm(mode="owmma"); tm = M / 32, tn = N / 32, K padded to a
// multiple of 4):
//   a fp16 [tm][K][32]: A[32 t + r, k] at position 16h + 4m + i of slice (t, k), r = 8m + 4h + i
//   b fp16 [tn][K][32]: B[k, 32 t + c] at position 8q + 4n + i of slice (t, k), c = 16n + 4q + i
//   c fp32 [M][N] row-major
// Lane l: thread group g = l / 4, t = l % 4, r0 = 4 (g % 2), c0 = 4 (g / 2) (isa/otc.toml).
// Launch: grid (ceil(tn / 2), ceil(tm / 2)), block 128.

.kernel owmma_gemm
.param ptr a
.param ptr b
.param ptr c
.param u32 n
.param u32 k
.param u32 tiles_m
.param u32 tiles_n
    S2R R0, SR_LANEID ;
    S2R R1, SR_TID.X ;
    S2R R28, SR_CTAID.Y ;
    S2R R29, SR_CTAID.X ;
    SHF.R.U32.HI R1, RZ, 0x5, R1 ;                 // warp w
    SHF.R.U32.HI R24, RZ, 0x1, R1 ;
    LEA R28, R28, R24, 0x1 ;                       // tile row tr = 2 * ctaid.y + w / 2
    LOP3.LUT R24, R1, 0x1, RZ, 0xc0, !PT ;
    LEA R29, R29, R24, 0x1 ;                       // tile column tc = 2 * ctaid.x + w % 2
    ISETP.GE.U32.AND P0, PT, R28, c[0x0][0x180], PT ;
    ISETP.GE.U32.OR P0, PT, R29, c[0x0][0x184], P0 ;
    @P0 EXIT ;                                     // a tile outside C (the grid rounds up to 2x2 tiles)
    SHF.R.U32.HI R24, RZ, 0x2, R0 ;                // thread group g = lane / 4
    LOP3.LUT R25, R24, 0x1, RZ, 0xc0, !PT ;        // g % 2
    SHF.R.U32.HI R26, RZ, 0x1, R24 ;               // g / 2
    MOV R27, c[0x0][0x17c] ;                       // K
    IMAD R30, R28, R27, RZ ;                       // tr * K
    MOV R2, c[0x0][0x160] ;
    MOV R3, c[0x0][0x164] ;
    IMAD.WIDE.U32 R2, R30, 0x40, R2 ;              // &a[tr][0]
    SHF.L.U32 R25, R25, 0x5, RZ ;
    IADD3 R2, P0, R2, R25, RZ ;                    // + 32 (g % 2): the lane's A pairs
    IADD3.X R3, RZ, R3, RZ, P0, !PT ;
    IMAD R30, R29, R27, RZ ;                       // tc * K
    MOV R4, c[0x0][0x168] ;
    MOV R5, c[0x0][0x16c] ;
    IMAD.WIDE.U32 R4, R30, 0x40, R4 ;              // &b[tc][0]
    SHF.L.U32 R26, R26, 0x4, RZ ;
    IADD3 R4, P0, R4, R26, RZ ;                    // + 16 (g / 2): the lane's B pairs
    IADD3.X R5, RZ, R5, RZ, P0, !PT ;""")
for i in range(16):
    e(f"    CS2R R{208 + 2 * i}, SRZ ;" + ("                                 // D = 0 (8 OHMMA tiles x 4 fp32)" if i == 0 else ""))
e("    SHF.R.U32.HI R26, RZ, 0x2, R27 ;               // groups of 4 k left")
e("    ISETP.EQ.U32.AND P0, PT, R26, RZ, PT ;")
e("    @P0 BRA store ;")

def loads(buf, guard=""):
    for s in range(G):
        v = VAL[buf] + 12 * s
        e(f"    {guard}LDG.E.128.SYS R{v}, [R2+{hex(64 * s)}] ;" + ("              // k + s: A pairs m = 0, 1" if s == 0 else ""))
        e(f"    {guard}LDG.E.128.SYS R{v + 4}, [R2+{hex(64 * s + 16)}] ;" + ("             //   A pairs m = 2, 3" if s == 0 else ""))
        e(f"    {guard}LDG.E.128.SYS R{v + 8}, [R4+{hex(64 * s)}] ;" + ("              //   B pairs n = 0, 1" if s == 0 else ""))
    e("    IADD3 R2, P0, R2, 0x100, RZ ;                  // the next group")
    e("    IADD3.X R3, RZ, R3, RZ, P0, !PT ;")
    e("    IADD3 R4, P0, R4, 0x100, RZ ;")
    e("    IADD3.X R5, RZ, R5, RZ, P0, !PT ;")

loads(0)
e("    ISETP.GT.U32.AND P1, PT, R26, 0x1, PT ;")
loads(1, "@P1 ")
def capture(fn, *args):
    n = len(out); fn(*args); got = out[n:]; del out[n:]; return got

for cur in range(NB):
    e(f"group_loop{cur}:" if cur else "group_loop0:                                       // group j: its loads were issued two groups ago")
    e(f"    ISETP.GT.U32.AND P1, PT, R26, 0x2, PT ;        // is there a group j+2?")
    # group j+2's loads, all before group j's OHMMAs (spreading them between the OHMMAs measured
    # slower: it takes away the latency slack the loads' issue time gives group j)
    pending = capture(loads, (cur + 2) % NB, "@P1 ")
    for l in pending:
        e(l)
    i = 0
    for s_ in range(G):
        v = VAL[cur] + 12 * s_
        for n in range(2):
            for m in range(4):
                d = acc(m, n)
                e(f"    HMMA.OHMMA.8161.F32.F32 {{R{d}, R{d + 1}, R{d + 2}, R{d + 3}}}, {{R{v + 2 * m}, R{v + 2 * m + 1}}}, {{R{v + 8 + 2 * n}, R{v + 9 + 2 * n}}}, {{R{d}, R{d + 1}, R{d + 2}, R{d + 3}}} ;")
                i += 1
    e("    IADD3 R26, R26, -0x1, RZ ;")
    e("    ISETP.EQ.U32.AND P0, PT, R26, RZ, PT ;")
    e("    @P0 BRA store ;")
e("    BRA group_loop0 ;")
e(r"""store:
    SHF.R.U32.HI R24, RZ, 0x2, R0 ;
    LOP3.LUT R25, R24, 0x1, RZ, 0xc0, !PT ;
    LOP3.LUT R27, R0, 0x3, RZ, 0xc0, !PT ;         // t
    LEA R25, R25, R27, 0x2 ;                       // r0 + t
    LEA R25, R28, R25, 0x5 ;                       // C row of tiles (0, n): 32 tr + r0 + t
    SHF.R.U32.HI R27, RZ, 0x1, R24 ;
    SHF.L.U32 R27, R27, 0x2, RZ ;                  // c0
    LEA R27, R29, R27, 0x5 ;                       // C column of tiles (m, 0): 32 tc + c0
    MOV R36, c[0x0][0x170] ;
    MOV R37, c[0x0][0x174] ;
    IMAD R25, R25, c[0x0][0x178], R27 ;            // row * n + column
    IMAD.WIDE.U32 R36, R25, 0x4, R36 ;             // &C of tile (0, 0)
    MOV R35, c[0x0][0x178] ;
    IMAD.SHL.U32 R35, R35, 0x20, RZ ;              // 8 rows: 8 * n * 4 bytes""")
for m in range(4):
    for n in range(2):
        e(f"    STG.E.128.SYS [R36+{hex(64 * n)}], R{acc(m, n)} ;")
    if m < 3:
        e("    IADD3 R36, P0, R36, R35, RZ ;")
        e("    IADD3.X R37, RZ, R37, RZ, P0, !PT ;")
e("    EXIT ;")
e(".end")
from pathlib import Path
path = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "owmma_gemm.sass"
open(path, "w").write("\n".join(out) + "\n")
