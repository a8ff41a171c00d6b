//! The outer-product tensor core of `isa/otc.toml`: dense OHMMA (fp32 and fp16 accumulators),
//! the dense OWMMA 16x16x16 program, BOHMMA, SPWMMA sets on the accumulation buffer (against the
//! dense outer product, with the OHMMA counts of the paper), ACCB.STS/LDS, the faults, and that
//! the sparse path gives the same bits as the dense path.
//!
//! Fragments are packed here from `otc_isa::fragments::slots`; expected values come from
//! `otc_numerics::dot_f32` / `dot_f16` with one product per step, element by element.
#![allow(clippy::needless_range_loop, clippy::manual_is_multiple_of, clippy::identity_op, clippy::type_complexity)]

mod common;
use common::*;
use otc_isa::fragments::{slots, FragInst, FragOperand, Layout};
use otc_numerics::{dot_f16, dot_f32};
use otc_sim::{Device, DeviceConfig, FaultKind, LaunchStats, MemorySpace, SimError, TensorArith, WarpHarness};

const ARITHS: [TensorArith; 2] = [TensorArith::V100, TensorArith::Ieee];
const O32: FragInst = FragInst::Ohmma8161F32;
const O16: FragInst = FragInst::Ohmma8161F16;

// ------------------------------------------------------------------------------------ helpers

/// `{R<base>, ..., R<base+n-1>}`.
fn list(base: u32, n: u32) -> String {
    let v: Vec<String> = (base..base + n).map(|r| format!("R{r}")).collect();
    format!("{{{}}}", v.join(", "))
}

/// The registers of an OHMMA A pair holding the 8-row column `a` (from the fragment slots).
fn pack_a(inst: FragInst, a: &[u16]) -> [[u32; 32]; 2] {
    let mut r = [[0u32; 32]; 2];
    for s in slots(inst, FragOperand::A, Layout::Row) {
        r[s.reg as usize][s.lane as usize] |= (a[s.row as usize] as u32) << (16 * s.half as u32);
    }
    r
}

/// The registers of an OHMMA B pair holding the 16-column row `b`.
fn pack_b(inst: FragInst, b: &[u16]) -> [[u32; 32]; 2] {
    let mut r = [[0u32; 32]; 2];
    for s in slots(inst, FragOperand::B, Layout::Row) {
        r[s.reg as usize][s.lane as usize] |= (b[s.col as usize] as u32) << (16 * s.half as u32);
    }
    r
}

/// fp32 C/D registers (4) of an 8x16 tile.
fn pack_c32(c: &[[u32; 16]; 8]) -> [[u32; 32]; 4] {
    let mut r = [[0u32; 32]; 4];
    for s in slots(O32, FragOperand::C, Layout::Row) {
        r[s.reg as usize][s.lane as usize] = c[s.row as usize][s.col as usize];
    }
    r
}

fn unpack_c32(regs: &[[u32; 32]]) -> [[u32; 16]; 8] {
    let mut c = [[0u32; 16]; 8];
    for s in slots(O32, FragOperand::D, Layout::Row) {
        c[s.row as usize][s.col as usize] = regs[s.reg as usize][s.lane as usize];
    }
    c
}

/// fp16 C/D registers (2) of an 8x16 tile.
fn pack_c16(c: &[[u16; 16]; 8]) -> [[u32; 32]; 2] {
    let mut r = [[0u32; 32]; 2];
    for s in slots(O16, FragOperand::C, Layout::Row) {
        r[s.reg as usize][s.lane as usize] |= (c[s.row as usize][s.col as usize] as u32) << (16 * s.half as u32);
    }
    r
}

fn unpack_c16(regs: &[[u32; 32]]) -> [[u16; 16]; 8] {
    let mut c = [[0u16; 16]; 8];
    for s in slots(O16, FragOperand::D, Layout::Row) {
        c[s.row as usize][s.col as usize] = (regs[s.reg as usize][s.lane as usize] >> (16 * s.half as u32)) as u16;
    }
    c
}

fn write_regs(h: &mut WarpHarness, base: u32, regs: &[[u32; 32]]) {
    for (i, r) in regs.iter().enumerate() {
        h.write_reg((base + i as u32) as u8, *r);
    }
}

fn read_regs(h: &WarpHarness, base: u32, n: u32) -> Vec<[u32; 32]> {
    (base..base + n).map(|r| h.read_reg(r as u8)).collect()
}

/// Any fp16: normals of every size, subnormals, signed zeros, infinities, NaNs.
fn f16_any(rng: &mut Rng) -> u16 {
    let sign = (rng.below(2) as u16) << 15;
    sign | match rng.below(16) {
        0 => 0,
        1 => 1 + rng.below(0x3ff) as u16,
        2 => 0x7c00,
        3 => [0x7e00, 0x7c01, 0x7fff][rng.below(3) as usize],
        _ => ((1 + rng.below(30)) << 10 | rng.below(1024)) as u16,
    }
}

/// A finite non-zero fp16 of moderate size (exponent -8..7), sometimes subnormal.
fn f16_nonzero(rng: &mut Rng) -> u16 {
    let sign = (rng.below(2) as u16) << 15;
    sign | if rng.below(10) == 0 {
        1 + rng.below(0x3ff) as u16
    } else {
        ((7 + rng.below(16)) << 10 | rng.below(1024)) as u16
    }
}

/// Any fp32: normals, subnormals, signed zeros, infinities, NaNs.
fn f32_any(rng: &mut Rng) -> u32 {
    let sign = rng.below(2) << 31;
    sign | match rng.below(16) {
        0 => 0,
        1 => 1 + rng.below(0x7f_ffff),
        2 => 0x7f80_0000,
        3 => [0x7fc0_0000, 0x7f80_0001, 0x7fff_ffff][rng.below(3) as usize],
        _ => ((97 + rng.below(60)) << 23) | (rng.u32() & 0x7f_ffff),
    }
}

fn harness(arith: TensorArith) -> WarpHarness {
    let mut h = WarpHarness::new();
    h.set_tensor_arith(arith);
    h
}

fn fault_of(r: Result<LaunchStats, SimError>) -> otc_sim::GuestFault {
    match r {
        Err(SimError::Fault(f)) => f,
        other => panic!("expected a guest fault, got {other:?}"),
    }
}

// ------------------------------------------------------------------------- (1) dense OHMMA

/// (fp32 accumulators, D base, A base, B base, C base): aligned, odd (the paper's lists start at
/// odd registers) and in-place (D = C) groups.
#[rustfmt::skip]
const DENSE_CASES: &[(bool, u32, u32, u32, u32)] = &[
    (true, 8, 4, 6, 12),
    (true, 9, 3, 5, 13),   // Fig. 14-style odd groups
    (true, 9, 3, 5, 9),    // D = C
    (false, 8, 4, 6, 12),
    (false, 9, 3, 5, 11),
    (false, 11, 3, 5, 11), // D = C
];

#[test]
fn dense_ohmma_matches_the_one_product_dot_model() {
    let mut rng = Rng(0x5eed_0001);
    for &arith in &ARITHS {
        for &(f32, d, a, b, c) in DENSE_CASES {
            for trial in 0..25 {
                let mut h = harness(arith);
                let av: Vec<u16> = (0..8).map(|_| f16_any(&mut rng)).collect();
                let bv: Vec<u16> = (0..16).map(|_| f16_any(&mut rng)).collect();
                let inst = if f32 { O32 } else { O16 };
                write_regs(&mut h, a, &pack_a(inst, &av));
                write_regs(&mut h, b, &pack_b(inst, &bv));
                let what = format!("{arith:?} f32={f32} d=R{d} a=R{a} b=R{b} c=R{c} trial {trial}");
                if f32 {
                    let mut cv = [[0u32; 16]; 8];
                    cv.iter_mut().flatten().for_each(|x| *x = f32_any(&mut rng));
                    write_regs(&mut h, c, &pack_c32(&cv));
                    let code = format!(
                        "HMMA.OHMMA.8161.F32.F32 {}, {}, {}, {} ;\nEXIT ;",
                        list(d, 4),
                        list(a, 2),
                        list(b, 2),
                        list(c, 4)
                    );
                    let st = run(&mut h, &code).unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!((st.ohmma_executed, st.ohmma_skipped), (1, 0), "{what}");
                    assert_eq!(st.by_opcode["HMMA.OHMMA.8161.F32.F32"], (1, 32), "{what}");
                    let got = unpack_c32(&read_regs(&h, d, 4));
                    for r in 0..8 {
                        for col in 0..16 {
                            let want = dot_f32(arith, &[av[r]], &[bv[col]], cv[r][col]);
                            assert_eq!(
                                got[r][col], want,
                                "{what} ({r},{col}): a={:#06x} b={:#06x} c={:#010x}",
                                av[r], bv[col], cv[r][col]
                            );
                        }
                    }
                } else {
                    let mut cv = [[0u16; 16]; 8];
                    cv.iter_mut().flatten().for_each(|x| *x = f16_any(&mut rng));
                    write_regs(&mut h, c, &pack_c16(&cv));
                    let code = format!(
                        "HMMA.OHMMA.8161.F16.F16 {}, {}, {}, {} ;\nEXIT ;",
                        list(d, 2),
                        list(a, 2),
                        list(b, 2),
                        list(c, 2)
                    );
                    let st = run(&mut h, &code).unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!((st.ohmma_executed, st.ohmma_skipped), (1, 0), "{what}");
                    let got = unpack_c16(&read_regs(&h, d, 2));
                    for r in 0..8 {
                        for col in 0..16 {
                            let want = dot_f16(arith, &[av[r]], &[bv[col]], cv[r][col]);
                            assert_eq!(
                                got[r][col], want,
                                "{what} ({r},{col}): a={:#06x} b={:#06x} c={:#06x}",
                                av[r], bv[col], cv[r][col]
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Values whose one-step results are known by hand (V100 model: the product is exact, the
/// fp32 result truncated; fp16 rounds to nearest even).
#[rustfmt::skip]
const DENSE_KNOWN: &[(u16, u16, u32, u32)] = &[
    // (a, b, c fp32, d fp32)
    (0x3c00, 0x4000, 0x3f80_0000, 0x4040_0000), // 1 * 2 + 1 = 3
    (0xbc00, 0x3c00, 0x3f80_0000, 0x0000_0000), // -1 + 1 = +0
    (0x0000, 0x7c00, 0x3f80_0000, 0x7fff_ffff), // 0 * inf = NaN
    (0x3c00, 0x7c00, 0xff80_0000, 0x7fff_ffff), // inf - inf = NaN
    (0x7bff, 0x7bff, 0x0000_0000, 0x4f7f_c004), // 65504^2 = 4290774016 exactly
    (0x0001, 0x0001, 0x0000_0000, 0x2780_0000), // 2^-24 * 2^-24 = 2^-48
    (0x3c00, 0x3c00, 0x4b80_0000, 0x4b80_0000), // 2^24 + 1 truncates to 2^24
    (0x3c00, 0xbc00, 0x4b80_0001, 0x4b80_0001), // 2^24 + 2 - 1: the aligned -1 truncates to 0
];

#[test]
fn dense_ohmma_known_values_v100() {
    for &(a, b, c, d) in DENSE_KNOWN {
        let mut h = harness(TensorArith::V100);
        write_regs(&mut h, 4, &pack_a(O32, &[a; 8]));
        write_regs(&mut h, 6, &pack_b(O32, &[b; 16]));
        write_regs(&mut h, 12, &pack_c32(&[[c; 16]; 8]));
        run(&mut h, "HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R4, R5}, {R6, R7}, {R12, R13, R14, R15} ;\nEXIT ;")
            .unwrap();
        let got = unpack_c32(&read_regs(&h, 8, 4));
        assert!(got.iter().flatten().all(|&x| x == d), "a={a:#x} b={b:#x} c={c:#x}: got {:#x}, want {d:#x}", got[0][0]);
    }
}

/// Each lane multiplies the A and B elements of its own pairs (the layout replicates them: if
/// the copies differ, every lane uses its own); a guard limits the lanes written.
#[test]
fn dense_ohmma_lanes_use_their_own_operands_and_guard() {
    let mut rng = Rng(99);
    let mut h = harness(TensorArith::V100);
    let mut regs = [[0u32; 32]; 8];
    for r in regs.iter_mut().take(4) {
        for x in r.iter_mut() {
            *x = f16_nonzero(&mut rng) as u32 | (f16_nonzero(&mut rng) as u32) << 16;
        }
    }
    write_regs(&mut h, 4, &regs[..4]); // A pair R4, R5; B pair R6, R7, lane-varying
    let c: [[u32; 32]; 4] = std::array::from_fn(|_| lanes(|_| f32_any(&mut rng)));
    write_regs(&mut h, 12, &c);
    write_regs(&mut h, 8, &[[0xdead_beef; 32]; 4]);
    let guard = 0x00f0_0f0f_u32;
    h.write_pred(2, guard);
    run(&mut h, "@P2 HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R4, R5}, {R6, R7}, {R12, R13, R14, R15} ;\nEXIT ;")
        .unwrap();
    let a_slots = slots(O32, FragOperand::A, Layout::Row);
    let b_slots = slots(O32, FragOperand::B, Layout::Row);
    for s in slots(O32, FragOperand::D, Layout::Row) {
        let l = s.lane as usize;
        let got = h.read_reg(8 + s.reg)[l];
        if (guard >> l) & 1 == 0 {
            assert_eq!(got, 0xdead_beef, "lane {l} is not executing");
            continue;
        }
        let sa = a_slots.iter().find(|x| x.lane == s.lane && x.row == s.row).unwrap();
        let sb = b_slots.iter().find(|x| x.lane == s.lane && x.col == s.col).unwrap();
        let a = (h.read_reg(4 + sa.reg)[l] >> (16 * sa.half as u32)) as u16;
        let b = (h.read_reg(6 + sb.reg)[l] >> (16 * sb.half as u32)) as u16;
        assert_eq!(got, dot_f32(TensorArith::V100, &[a], &[b], c[s.reg as usize][l]), "lane {l} reg {}", s.reg);
    }
    // a guard false everywhere issues but skips
    h.write_pred(2, 0);
    let st = run(
        &mut h,
        "@P2 HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R4, R5}, {R6, R7}, {R12, R13, R14, R15} ;\nEXIT ;",
    )
    .unwrap();
    assert_eq!((st.ohmma_executed, st.ohmma_skipped), (0, 1));
}

// ------------------------------------------------------------------- (2) dense OWMMA program

fn owmma_program() -> otc_asm::Program {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../programs/owmma_16x16x16.sass");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    otc_asm::assemble(&text, "owmma_16x16x16.sass").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn owmma_16x16x16_program_against_fp64_and_the_chained_model() {
    let p = owmma_program();
    let k = KernelImage::from(p.kernel("owmma_16x16x16").expect("kernel"));
    let mut rng = Rng(0x0a11_ce55);
    for &arith in &ARITHS {
        for trial in 0..4 {
            let mut d = Device::new(DeviceConfig { tensor_arith: arith, threads: Some(1), ..DeviceConfig::default() });
            // A[r][k], B[k][c]: random fp16 of several magnitudes, some subnormal and zero
            let val = |rng: &mut Rng| -> u16 {
                match rng.below(12) {
                    0 => 0,
                    1 => (rng.below(2) as u16) << 15 | (1 + rng.below(0x3ff) as u16),
                    _ => f16_rne((rng.below(20001) as f64 - 10000.0) / 2f64.powi(rng.below(12) as i32 + 4)),
                }
            };
            let a: Vec<Vec<u16>> = (0..16).map(|_| (0..16).map(|_| val(&mut rng)).collect()).collect();
            let b: Vec<Vec<u16>> = (0..16).map(|_| (0..16).map(|_| val(&mut rng)).collect()).collect();
            let mut a_mem = vec![0u16; 256]; // column-major: A[r][k] at 16k + r
            let mut b_mem = vec![0u16; 256]; // row-major: B[k][c] at 16k + c
            for r in 0..16 {
                for kk in 0..16 {
                    a_mem[16 * kk + r] = a[r][kk];
                    b_mem[16 * kk + r] = b[kk][r];
                }
            }
            let bytes16 = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
            let pa = upload(&mut d, &bytes16(&a_mem));
            let pb = upload(&mut d, &bytes16(&b_mem));
            let pd = upload(&mut d, &[0xffu8; 1024]);
            let st = d
                .launch(&k, [1, 1, 1], [32, 1, 1], Params::new().ptr(pa).ptr(pb).ptr(pd).bytes(), 0)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((st.ohmma_executed, st.ohmma_skipped), (32, 0));
            assert_eq!(st.by_opcode["HMMA.OHMMA.8161.F32.F32"], (32, 32 * 32));
            let out = from_bytes_u32(&d.read(pd, 1024).unwrap());
            for r in 0..16 {
                for c in 0..16 {
                    let mut acc = 0u32;
                    let (mut exact, mut mag) = (0f64, 0f64);
                    for kk in 0..16 {
                        acc = dot_f32(arith, &[a[r][kk]], &[b[kk][c]], acc);
                        let p = half::f16::from_bits(a[r][kk]).to_f64() * half::f16::from_bits(b[kk][c]).to_f64();
                        exact += p;
                        mag += p.abs();
                    }
                    let got = out[16 * r + c];
                    assert_eq!(got, acc, "{arith:?} trial {trial} D[{r}][{c}] against the chained model");
                    let err = (f32::from_bits(got) as f64 - exact).abs();
                    assert!(err <= mag * 2f64.powi(-19), "{arith:?} D[{r}][{c}] = {} vs {exact}", f32::from_bits(got));
                }
            }
        }
    }
}

// ------------------------------------------------------------------------------- (3) BOHMMA

#[rustfmt::skip]
const BOHMMA_CASES: &[(u32, u32)] = &[
    (0, 0), (u32::MAX, u32::MAX), (u32::MAX, 0), (0, u32::MAX), (1, 0x8000_0000), (0x8000_0000, 1),
    (0xaaaa_aaaa, 0x5555_5555), (0x0f0f_00ff, 0x1234_5678),
];

#[test]
fn bohmma_is_the_outer_product_of_the_bitmaps() {
    let mut rng = Rng(4242);
    let mut cases: Vec<(u32, u32)> = BOHMMA_CASES.to_vec();
    cases.extend((0..20).map(|_| (rng.u32() & rng.u32(), rng.u32())));
    for (a, b) in cases {
        let mut h = WarpHarness::new();
        h.write_reg(1, [a; 32]);
        h.write_reg(2, [b; 32]);
        let st = run(&mut h, "HMMA.BOHMMA.32321.B32.B32 R0, R1, R2 ;\nEXIT ;").unwrap();
        assert_eq!(st.bohmma_executed, 1);
        // np.outer of the bit vectors: D[i][j] = a_i * b_j
        let d = h.read_reg(0);
        for i in 0..32 {
            for j in 0..32 {
                let want = ((a >> i) & 1) * ((b >> j) & 1);
                assert_eq!((d[i] >> j) & 1, want, "a={a:#x} b={b:#x} D[{i}][{j}]");
            }
        }
    }
    // per lane: d = bit(a, lane) ? b : 0 (non-uniform operands are defined too); guard respected
    let mut h = WarpHarness::new();
    let a = lanes(|_| rng.u32());
    let b = lanes(|_| rng.u32());
    h.write_reg(1, a);
    h.write_reg(2, b);
    h.write_reg(0, [7; 32]);
    h.write_pred(0, 0x0000_ffff);
    let st = run(&mut h, "@P0 HMMA.BOHMMA.32321.B32.B32 R0, R1, R2 ;\nEXIT ;").unwrap();
    assert_eq!(st.bohmma_executed, 1);
    for l in 0..32 {
        let want = if l >= 16 {
            7
        } else if (a[l] >> l) & 1 != 0 {
            b[l]
        } else {
            0
        };
        assert_eq!(h.read_reg(0)[l], want, "lane {l}");
    }
}

#[test]
fn hmma_884_is_counted() {
    let mut h = WarpHarness::new();
    h.write_pred(0, 0);
    let st = run(
        &mut h,
        "HMMA.884.F32.F32.STEP0 R8, R4.ROW, R6.COL, R8 ;\n@P0 HMMA.884.F32.F32.STEP1 R10, R4.ROW, R6.COL, R10 ;\nEXIT ;",
    )
    .unwrap();
    assert_eq!((st.hmma_executed, st.ohmma_executed, st.ohmma_skipped, st.bohmma_executed), (1, 0, 0, 0));
}

// ------------------------------------------------------------------ (4) SPWMMA sets, (6) dense

/// One k step: a 32x1 column of A and a 1x32 row of B (fp16 bits, 0 where the bitmap bit is
/// clear) and their bitmaps.
#[derive(Clone)]
struct Set {
    a: [u16; 32],
    b: [u16; 32],
    abm: u32,
    bbm: u32,
}

fn bitmap_with(rng: &mut Rng, nnz: u32) -> u32 {
    let mut pos: Vec<u32> = (0..32).collect();
    for i in 0..32 {
        let j = i + rng.below(32 - i as u32) as usize;
        pos.swap(i, j);
    }
    pos[..nnz as usize].iter().fold(0, |m, &p| m | 1 << p)
}

fn make_set(rng: &mut Rng, nnz_a: u32, nnz_b: u32, specials: bool) -> Set {
    let (abm, bbm) = (bitmap_with(rng, nnz_a), bitmap_with(rng, nnz_b));
    let val = |rng: &mut Rng| {
        if specials && rng.below(8) == 0 {
            [0x7c00, 0xfc00, 0x7e00][rng.below(3) as usize]
        } else {
            f16_nonzero(rng)
        }
    };
    let a = std::array::from_fn(|i| if (abm >> i) & 1 != 0 { val(rng) } else { 0 });
    let b = std::array::from_fn(|j| if (bbm >> j) & 1 != 0 { val(rng) } else { 0 });
    Set { a, b, abm, bbm }
}

/// Condensed column/row: the non-zeros in order, then padding (garbage that must never land).
fn condense(v: &[u16; 32], bm: u32, rng: &mut Rng) -> [u16; 32] {
    let mut out: [u16; 32] = std::array::from_fn(|_| [0x7e00, 0x7c00, 0x3c00, 0xc500][rng.below(4) as usize]);
    let mut k = 0;
    for i in 0..32 {
        if (bm >> i) & 1 != 0 {
            out[k] = v[i];
            k += 1;
        }
    }
    out
}

/// Registers of set s: A pairs R(base)..+7, B pairs +8..+11, bitmaps +12, +13.
fn set_base(s: usize) -> u32 {
    64 + 14 * s as u32
}

fn load_set(h: &mut WarpHarness, s: usize, set: &Set, rng: &mut Rng) {
    let base = set_base(s);
    let ca = condense(&set.a, set.abm, rng);
    let cb = condense(&set.b, set.bbm, rng);
    for m in 0..4 {
        write_regs(h, base + 2 * m as u32, &pack_a(O32, &ca[8 * m..8 * m + 8]));
    }
    for n in 0..2 {
        write_regs(h, base + 8 + 2 * n as u32, &pack_b(O32, &cb[16 * n..16 * n + 16]));
    }
    h.write_reg((base + 12) as u8, [set.abm; 32]);
    h.write_reg((base + 13) as u8, [set.bbm; 32]);
}

fn spwmma_line(s: usize) -> String {
    let base = set_base(s);
    format!(
        "SPWMMA.M32N32K1.F32.F32 {}, {}, R{}, R{}, R4, {{R20, R21}} ;\n",
        list(base, 8),
        list(base + 8, 4),
        base + 12,
        base + 13
    )
}

/// ACCB.MOV of the whole buffer into R24..R55 and its 32x32 bits.
const MOV_ALL: &str = "ACCB.MOV.F32 {R24, R25, R26, R27, R28, R29, R30, R31}, 0x0 ;\n\
                       ACCB.MOV.F32 {R32, R33, R34, R35, R36, R37, R38, R39}, 0x1 ;\n\
                       ACCB.MOV.F32 {R40, R41, R42, R43, R44, R45, R46, R47}, 0x2 ;\n\
                       ACCB.MOV.F32 {R48, R49, R50, R51, R52, R53, R54, R55}, 0x3 ;\n";

fn buffer_from_regs(h: &WarpHarness) -> [[u32; 32]; 32] {
    let mut buf = [[0u32; 32]; 32];
    for q in 0..4 {
        for i in 0..8 {
            let r = h.read_reg((24 + 8 * q + i) as u8);
            for l in 0..32 {
                buf[8 * q + l / 4][8 * (l % 4) + i] = r[l];
            }
        }
    }
    buf
}

/// The dense outer-product accumulation of the sets: every product, in set order.
fn dense_model(arith: TensorArith, sets: &[Set]) -> [[u32; 32]; 32] {
    let mut buf = [[0u32; 32]; 32];
    for s in sets {
        for i in 0..32 {
            for j in 0..32 {
                buf[i][j] = dot_f32(arith, &[s.a[i]], &[s.b[j]], buf[i][j]);
            }
        }
    }
    buf
}

/// Only the products of non-zeros land (what the sparse path defines, also with Inf/NaN).
fn masked_model(arith: TensorArith, sets: &[Set]) -> [[u32; 32]; 32] {
    let mut buf = [[0u32; 32]; 32];
    for s in sets {
        for i in 0..32 {
            for j in 0..32 {
                if (s.abm >> i) & 1 != 0 && (s.bbm >> j) & 1 != 0 {
                    buf[i][j] = dot_f32(arith, &[s.a[i]], &[s.b[j]], buf[i][j]);
                }
            }
        }
    }
    buf
}

fn ohmmas_of(nnz_a: u32, nnz_b: u32) -> u64 {
    (nnz_a.div_ceil(8) * nnz_b.div_ceil(16)) as u64
}

/// (name, (nnzA, nnzB) per set, Inf/NaN among the non-zeros). Sparsity 0/25/50/75/90/100%,
/// empty and full columns and rows, the block boundaries, the paper's example (20, 11).
#[rustfmt::skip]
const SPWMMA_CASES: &[(&str, &[(u32, u32)], bool)] = &[
    ("paper example 20 x 11 runs 3", &[(20, 11)], false),
    ("0% sparse: full column and row", &[(32, 32)], false),
    ("25%", &[(24, 24)], false),
    ("50%", &[(16, 16)], false),
    ("75%", &[(8, 8)], false),
    ("90%", &[(3, 3)], false),
    ("100%: empty column and row", &[(0, 0)], false),
    ("empty A column, full B row", &[(0, 32)], false),
    ("full A column, empty B row", &[(32, 0)], false),
    ("one by one", &[(1, 1)], false),
    ("block boundaries", &[(8, 16), (9, 17), (7, 15), (25, 31)], false),
    ("several k, mixed sparsity", &[(20, 11), (32, 32), (0, 5), (24, 24), (16, 16), (8, 8), (3, 3), (32, 0)], false),
    ("Inf and NaN among the non-zeros", &[(20, 11), (12, 30), (32, 32)], true),
];

#[test]
fn spwmma_sets_equal_the_dense_outer_product_and_count_ohmmas() {
    let mut rng = Rng(0x5b_a25e);
    for &arith in &ARITHS {
        for &(name, shape, specials) in SPWMMA_CASES {
            let sets: Vec<Set> = shape.iter().map(|&(na, nb)| make_set(&mut rng, na, nb, specials)).collect();
            let what = format!("{arith:?} {name}");
            // one program: clear, every set, move out
            let mut h = harness(arith);
            h.write_reg(4, [0; 32]);
            for (s, set) in sets.iter().enumerate() {
                load_set(&mut h, s, set, &mut rng);
            }
            let mut code = String::from("ACCB.CLEAR ;\n");
            for s in 0..sets.len() {
                code += &spwmma_line(s);
            }
            code += MOV_ALL;
            code += "EXIT ;";
            let st = run(&mut h, &code).unwrap_or_else(|e| panic!("{what}: {e}"));
            let buf = buffer_from_regs(&h);
            let masked = masked_model(arith, &sets);
            for i in 0..32 {
                for j in 0..32 {
                    assert_eq!(buf[i][j], masked[i][j], "{what}: buffer ({i},{j})");
                }
            }
            if !specials {
                assert_eq!(buf, dense_model(arith, &sets), "{what}: the dense outer product");
            }
            let executed: u64 = shape.iter().map(|&(a, b)| ohmmas_of(a, b)).sum();
            assert_eq!(st.ohmma_executed, executed, "{what}: OHMMAs executed");
            assert_eq!(st.ohmma_skipped, 8 * sets.len() as u64 - executed, "{what}: OHMMAs skipped");
            assert_eq!(st.bohmma_executed, sets.len() as u64, "{what}");
            assert_eq!(st.by_opcode["ACCB.BMAP"], (sets.len() as u64, 32 * sets.len() as u64), "{what}");
            // the product bitmap the sets ORed into R4: lane i holds row i
            let cb = h.read_reg(4);
            for i in 0..32 {
                let want = sets.iter().fold(0, |m, s| m | if (s.abm >> i) & 1 != 0 { s.bbm } else { 0 });
                assert_eq!(cb[i], want, "{what}: product bitmap row {i}");
            }

            // the same sets one run at a time (the harness keeps the buffer): per-set counts
            let mut h2 = harness(arith);
            run(&mut h2, "ACCB.CLEAR ;\nEXIT ;").unwrap();
            for (s, set) in sets.iter().enumerate() {
                load_set(&mut h2, s, set, &mut rng);
                let st = run(&mut h2, &format!("{}EXIT ;", spwmma_line(s))).unwrap();
                let (na, nb) = shape[s];
                assert_eq!(st.ohmma_executed, ohmmas_of(na, nb), "{what}: set {s} ({na}, {nb})");
                assert_eq!(st.ohmma_skipped, 8 - ohmmas_of(na, nb), "{what}: set {s} ({na}, {nb})");
            }
            run(&mut h2, &format!("{MOV_ALL}EXIT ;")).unwrap();
            assert_eq!(buffer_from_regs(&h2), buf, "{what}: set by set");
        }
    }
}

#[test]
fn spwmma_random_sparsity_levels() {
    let mut rng = Rng(77_001);
    for &arith in &ARITHS {
        for &sparsity in &[0u32, 25, 50, 75, 90, 100] {
            for _ in 0..3 {
                let nnz = |rng: &mut Rng| {
                    // about `sparsity` percent zeros, varying around it
                    let mean = 32 * (100 - sparsity) / 100;
                    (mean + rng.below(5)).saturating_sub(2).min(32)
                };
                let shape: Vec<(u32, u32)> = (0..4).map(|_| (nnz(&mut rng), nnz(&mut rng))).collect();
                let sets: Vec<Set> = shape.iter().map(|&(a, b)| make_set(&mut rng, a, b, false)).collect();
                let mut h = harness(arith);
                for (s, set) in sets.iter().enumerate() {
                    load_set(&mut h, s, set, &mut rng);
                }
                let mut code = String::from("ACCB.CLEAR ;\n");
                for s in 0..sets.len() {
                    code += &spwmma_line(s);
                }
                code += MOV_ALL;
                code += "EXIT ;";
                let st = run(&mut h, &code).unwrap();
                assert_eq!(buffer_from_regs(&h), dense_model(arith, &sets), "{arith:?} {sparsity}% {shape:?}");
                let executed: u64 = shape.iter().map(|&(a, b)| ohmmas_of(a, b)).sum();
                assert_eq!((st.ohmma_executed, st.ohmma_skipped), (executed, 32 - executed), "{shape:?}");
            }
        }
    }
}

/// (6) Dense OHMMAs on the uncondensed 32x32 tile (8 per k step: row blocks m = 0..3, column
/// blocks n = 0..1, accumulating in registers) give the same bits as SPWMMA on the condensed
/// data.
#[test]
fn sparse_path_gives_the_dense_path_bits() {
    let mut rng = Rng(0xde75e);
    for &arith in &ARITHS {
        for shape in [&[(20u32, 11u32), (32, 32), (5, 27)][..], &[(32, 32)], &[(8, 16), (0, 32), (31, 1), (17, 17)]] {
            let sets: Vec<Set> = shape.iter().map(|&(a, b)| make_set(&mut rng, a, b, false)).collect();
            let mut h = harness(arith);
            // dense: tile (m, n) accumulates in R(128 + 4t)..+3, t = 2m + n; A pair at R(200 + 4t),
            // B pair at R(202 + 4t)
            for t in 0..8 {
                write_regs(&mut h, 128 + 4 * t, &[[0u32; 32]; 4]);
            }
            for set in &sets {
                let mut code = String::new();
                for m in 0..4u32 {
                    for n in 0..2u32 {
                        let t = 128 + 4 * (2 * m + n);
                        code += &format!(
                            "HMMA.OHMMA.8161.F32.F32 {}, {}, {}, {} ;\n",
                            list(t, 4),
                            list(200 + 4 * (2 * m + n), 2),
                            list(202 + 4 * (2 * m + n), 2),
                            list(t, 4)
                        );
                        write_regs(
                            &mut h,
                            200 + 4 * (2 * m + n),
                            &pack_a(O32, &set.a[8 * m as usize..8 * m as usize + 8]),
                        );
                        write_regs(
                            &mut h,
                            202 + 4 * (2 * m + n),
                            &pack_b(O32, &set.b[16 * n as usize..16 * n as usize + 16]),
                        );
                    }
                }
                code += "EXIT ;";
                let st = run(&mut h, &code).unwrap();
                assert_eq!(st.ohmma_executed, 8);
            }
            let mut dense = [[0u32; 32]; 32];
            for m in 0..4 {
                for n in 0..2 {
                    let tile = unpack_c32(&read_regs(&h, 128 + 4 * (2 * m + n) as u32, 4));
                    for r in 0..8 {
                        for c in 0..16 {
                            dense[8 * m + r][16 * n + c] = tile[r][c];
                        }
                    }
                }
            }
            // sparse
            let mut code = String::from("ACCB.CLEAR ;\n");
            for (s, set) in sets.iter().enumerate() {
                load_set(&mut h, s, set, &mut rng);
                code += &spwmma_line(s);
            }
            code += MOV_ALL;
            code += "EXIT ;";
            run(&mut h, &code).unwrap();
            let sparse = buffer_from_regs(&h);
            for i in 0..32 {
                for j in 0..32 {
                    assert_eq!(sparse[i][j], dense[i][j], "{arith:?} {shape:?} ({i},{j})");
                }
            }
            assert_eq!(sparse, dense_model(arith, &sets));
        }
    }
}

// ------------------------------------------------------------------------- ACCB.STS / LDS

#[test]
fn accb_sts_lds_round_trip_and_continue_accumulating() {
    let mut rng = Rng(31337);
    for &arith in &ARITHS {
        let first = vec![make_set(&mut rng, 20, 11, false), make_set(&mut rng, 32, 7, false)];
        let second = vec![make_set(&mut rng, 13, 30, false)];
        let mut h = harness(arith);
        for (s, set) in first.iter().enumerate() {
            load_set(&mut h, s, set, &mut rng);
        }
        // accumulate the first sets, store at 0x1000, clear, load back, move out
        h.write_reg(6, [0x1000; 32]);
        let code = format!(
            "ACCB.CLEAR ;\n{}{}ACCB.STS.F32 [R6] ;\nACCB.CLEAR ;\nACCB.LDS.F32 [R6] ;\n{MOV_ALL}EXIT ;",
            spwmma_line(0),
            spwmma_line(1)
        );
        run(&mut h, &code).unwrap();
        let want = dense_model(arith, &first);
        assert_eq!(buffer_from_regs(&h), want);
        let stored = from_bytes_u32(&h.read_shared(0x1000, 4096).unwrap());
        for i in 0..32 {
            for j in 0..32 {
                assert_eq!(stored[32 * i + j], want[i][j], "row-major store ({i},{j})");
            }
        }
        // a fresh warp loads the partial sums and continues (LDS counts as a clear; a BMAP
        // follows in the macro)
        let mut h2 = harness(arith);
        h2.write_shared(0x400, &to_bytes_u32(&stored)).unwrap();
        load_set(&mut h2, 0, &second[0], &mut rng);
        run(&mut h2, &format!("ACCB.LDS.F32 [0x400] ;\n{}{MOV_ALL}EXIT ;", spwmma_line(0))).unwrap();
        let all: Vec<Set> = first.iter().chain(&second).cloned().collect();
        assert_eq!(buffer_from_regs(&h2), dense_model(arith, &all));
        // the highest in-range address works
        run(&mut h2, "ACCB.STS.F32 [0xb000] ;\nEXIT ;").unwrap();
        let moved: Vec<u32> = buffer_from_regs(&h2).iter().flatten().copied().collect();
        assert_eq!(from_bytes_u32(&h2.read_shared(0xb000, 4096).unwrap()), moved);
    }
}

#[test]
fn accb_clear_resets_to_positive_zero_and_mov_respects_the_guard() {
    let mut h = harness(TensorArith::V100);
    let set = make_set(&mut Rng(5), 32, 32, false);
    load_set(&mut h, 0, &set, &mut Rng(6));
    run(&mut h, &format!("ACCB.CLEAR ;\n{}ACCB.CLEAR ;\n{MOV_ALL}EXIT ;", spwmma_line(0))).unwrap();
    assert!(buffer_from_regs(&h).iter().flatten().all(|&x| x == 0));
    // accumulate once, then a guarded MOV writes only its lanes
    run(&mut h, &format!("ACCB.CLEAR ;\n{}EXIT ;", spwmma_line(0))).unwrap();
    write_regs(&mut h, 24, &[[0x1234_5678; 32]; 8]);
    h.write_pred(5, 0x8000_0001);
    run(&mut h, "@P5 ACCB.MOV.F32 {R24, R25, R26, R27, R28, R29, R30, R31}, 0x2 ;\nEXIT ;").unwrap();
    let want = dense_model(TensorArith::V100, &[set]);
    for l in 0..32 {
        for i in 0..8 {
            let got = h.read_reg(24 + i as u8)[l];
            if l == 0 || l == 31 {
                assert_eq!(got, want[16 + l / 4][8 * (l % 4) + i], "lane {l} element {i}");
            } else {
                assert_eq!(got, 0x1234_5678, "lane {l} is not executing");
            }
        }
    }
}

/// A sparse OHMMA whose guard is false in every lane does nothing (even with no bitmaps); a
/// partially active warp executes collective instructions when the guard holds in all of its
/// active lanes, and only the active lanes' BMAP operands must agree.
#[test]
fn collective_guards_and_partial_warps() {
    let mut h = harness(TensorArith::V100);
    h.write_pred(0, 0);
    let st = run(&mut h, "ACCB.CLEAR ;\n@P0 HMMA.OHMMA.8161.F32.F32.SP.M0.N0 {R2, R3}, {R4, R5} ;\nEXIT ;").unwrap();
    assert_eq!((st.ohmma_executed, st.ohmma_skipped), (0, 1));

    let mut rng = Rng(8);
    let set = make_set(&mut rng, 20, 11, false);
    let mut h = harness(TensorArith::V100);
    load_set(&mut h, 0, &set, &mut rng);
    let base = set_base(0);
    // lanes 16..31 (inactive) hold other bitmaps: BMAP reads only the active lanes
    let mut abm = [set.abm; 32];
    abm[16..].iter_mut().for_each(|x| *x = 0x1234);
    h.write_reg((base + 12) as u8, abm);
    h.set_lanes(0x0000_ffff);
    let st = run(&mut h, &format!("ACCB.CLEAR ;\n{}{MOV_ALL}EXIT ;", spwmma_line(0))).unwrap();
    assert_eq!(st.ohmma_executed, 3);
    // the sparse OHMMA reads the operands of every lane, active or not, so the whole buffer
    // is the product; ACCB.MOV writes the active lanes only
    let want = dense_model(TensorArith::V100, &[set]);
    let got = buffer_from_regs(&h);
    for l in 0..16 {
        for q in 0..4 {
            for i in 0..8 {
                assert_eq!(got[8 * q + l / 4][8 * (l % 4) + i], want[8 * q + l / 4][8 * (l % 4) + i]);
            }
        }
    }
    h.set_lanes(u32::MAX);
    run(&mut h, &format!("{MOV_ALL}EXIT ;")).unwrap();
    assert_eq!(buffer_from_regs(&h), want);
}

// ------------------------------------------------------------------------------- (5) faults

/// (name, setup: registers (index, per-lane value function id), program, fault kind, lanes,
/// words the message must contain).
struct FaultCase {
    name: &'static str,
    code: &'static str,
    kind: FaultKind,
    lanes: u32,
    message: &'static [&'static str],
}

#[rustfmt::skip]
const FAULT_CASES: &[FaultCase] = &[
    FaultCase { name: "sparse OHMMA without BMAP", code: "ACCB.CLEAR ;\nHMMA.OHMMA.8161.F32.F32.SP.M1.N1 {R10, R11}, {R12, R13} ;\nEXIT ;",
        kind: FaultKind::AccumulatorState, lanes: u32::MAX, message: &["sparse OHMMA", "ACCB.BMAP"] },
    FaultCase { name: "sparse OHMMA after BMAP then CLEAR", code: "ACCB.CLEAR ;\nACCB.BMAP R1, R1 ;\nACCB.CLEAR ;\nHMMA.OHMMA.8161.F32.F32.SP.M0.N0 {R10, R11}, {R12, R13} ;\nEXIT ;",
        kind: FaultKind::AccumulatorState, lanes: u32::MAX, message: &["ACCB.BMAP"] },
    FaultCase { name: "sparse OHMMA on a never-cleared buffer", code: "ACCB.BMAP R1, R1 ;\nHMMA.OHMMA.8161.F32.F32.SP.M0.N0 {R10, R11}, {R12, R13} ;\nEXIT ;",
        kind: FaultKind::AccumulatorState, lanes: u32::MAX, message: &["never cleared"] },
    FaultCase { name: "MOV before CLEAR", code: "ACCB.MOV.F32 {R24, R25, R26, R27, R28, R29, R30, R31}, 0x1 ;\nEXIT ;",
        kind: FaultKind::AccumulatorState, lanes: u32::MAX, message: &["ACCB.MOV", "never cleared"] },
    FaultCase { name: "STS before CLEAR", code: "ACCB.STS.F32 [0x0] ;\nEXIT ;",
        kind: FaultKind::AccumulatorState, lanes: u32::MAX, message: &["ACCB.STS"] },
    FaultCase { name: "non-uniform BMAP a", code: "ACCB.CLEAR ;\nACCB.BMAP R2, R1 ;\nEXIT ;",
        kind: FaultKind::NonUniformOperand, lanes: 0xffff_fffe, message: &["ACCB.BMAP", "lane 0", "lane 1"] },
    FaultCase { name: "non-uniform BMAP b", code: "ACCB.CLEAR ;\nACCB.BMAP R1, R3 ;\nEXIT ;",
        kind: FaultKind::NonUniformOperand, lanes: 0x0000_0100, message: &["ACCB.BMAP", "lane 8"] },
    FaultCase { name: "ACCB.STS out of bounds", code: "ACCB.CLEAR ;\nACCB.STS.F32 [0xb004] ;\nEXIT ;",
        kind: FaultKind::OutOfBounds(MemorySpace::Shared), lanes: u32::MAX, message: &["ACCB.STS", "0xb004"] },
    FaultCase { name: "ACCB.STS far out of bounds", code: "ACCB.CLEAR ;\nMOV R7, 0xfffff000 ;\nACCB.STS.F32 [R7+0x800] ;\nEXIT ;",
        kind: FaultKind::OutOfBounds(MemorySpace::Shared), lanes: u32::MAX, message: &["ACCB.STS"] },
    FaultCase { name: "ACCB.LDS out of bounds", code: "ACCB.LDS.F32 [0xc000] ;\nEXIT ;",
        kind: FaultKind::OutOfBounds(MemorySpace::Shared), lanes: u32::MAX, message: &["ACCB.LDS"] },
    FaultCase { name: "ACCB.STS misaligned", code: "ACCB.CLEAR ;\nACCB.STS.F32 [0x2] ;\nEXIT ;",
        kind: FaultKind::Misaligned(MemorySpace::Shared), lanes: u32::MAX, message: &["aligned"] },
    FaultCase { name: "ACCB.STS non-uniform address", code: "ACCB.CLEAR ;\nACCB.STS.F32 [R2] ;\nEXIT ;",
        kind: FaultKind::NonUniformOperand, lanes: 0xffff_fffe, message: &["ACCB.STS", "address"] },
    FaultCase { name: "mixed guard on a sparse OHMMA", code: "ACCB.CLEAR ;\nACCB.BMAP R1, R1 ;\n@P3 HMMA.OHMMA.8161.F32.F32.SP.M0.N0 {R10, R11}, {R12, R13} ;\nEXIT ;",
        kind: FaultKind::NonUniformOperand, lanes: 0xffff_0000, message: &["sparse OHMMA", "guard"] },
    FaultCase { name: "mixed guard on ACCB.CLEAR", code: "@P3 ACCB.CLEAR ;\nEXIT ;",
        kind: FaultKind::NonUniformOperand, lanes: 0xffff_0000, message: &["ACCB.CLEAR", "guard"] },
];

#[test]
fn otc_faults() {
    for c in FAULT_CASES {
        let mut h = WarpHarness::new();
        h.write_reg(1, [0xff; 32]);
        h.write_reg(2, lanes(|l| 4 * l as u32)); // differs from lane 0 in every other lane
        h.write_reg(3, lanes(|l| if l == 8 { 1 } else { 0 }));
        h.write_pred(3, 0x0000_ffff);
        let insts = asm(c.code);
        let f = fault_of(h.run(&insts));
        assert_eq!(f.kind, c.kind, "{}: {f}", c.name);
        assert_eq!(f.lanes, c.lanes, "{}: {f}", c.name);
        assert_eq!(f.instruction, insts[(f.pc / 16) as usize].text(), "{}", c.name);
        for w in c.message {
            assert!(f.message.contains(w), "{}: message `{}` lacks `{w}`", c.name, f.message);
        }
        assert!(!f.kind.name().is_empty());
    }
    assert_eq!(FaultKind::NonUniformOperand.name(), "non_uniform_operand");
    assert_eq!(FaultKind::AccumulatorState.name(), "accumulator_state");
}

// ----------------------------------------------------------------------------- determinism

/// A kernel in which every warp of every CTA runs its own SPWMMA set (bitmaps from the CTA and
/// warp index) and stores its buffer: the same bits and counts for any number of host threads.
#[test]
fn spwmma_kernel_is_deterministic_across_threads() {
    let text = "\
.kernel spw
.param ptr out
    S2R R0, SR_TID.X ;
    S2R R1, SR_CTAID.X ;
    SHF.R.U32.HI R2, RZ, 0x5, R0 ;              // warp
    LEA R3, R1, R2, 0x2 ;                       // w = 4 * cta + warp
    IMAD R5, R3, 0x9e3779b9, RZ ;               // A bitmap
    IMAD R6, R3, 0x7f4a7c15, RZ ;
    LOP3.LUT R6, R6, R5, RZ, 0x3c, !PT ;         // B bitmap
    IMAD R8, R0, 0x00010001, R3 ;               // operand data: lane- and warp-dependent fp16
    LOP3.LUT R8, R8, 0x3c003c00, RZ, 0xfc, !PT ;
    LOP3.LUT R8, R8, 0x4fff4fff, RZ, 0xc0, !PT ;
    IADD3 R9, R8, 0x00110011, RZ ;
    IADD3 R10, R8, 0x01010101, RZ ;
    IADD3 R11, R8, 0x00330033, RZ ;
    IADD3 R12, R8, 0x02020202, RZ ;
    IADD3 R13, R8, 0x00550055, RZ ;
    IADD3 R14, R8, 0x03030303, RZ ;
    IADD3 R15, R8, 0x00770077, RZ ;
    IADD3 R16, R8, 0x00090009, RZ ;
    IADD3 R17, R8, 0x000a000a, RZ ;
    IADD3 R18, R8, 0x000b000b, RZ ;
    IADD3 R19, R8, 0x000c000c, RZ ;
    MOV R4, RZ ;
    ACCB.CLEAR ;
    SPWMMA.M32N32K1.F32.F32 {R8, R9, R10, R11, R12, R13, R14, R15}, {R16, R17, R18, R19}, R5, R6, R4, {R20, R21} ;
    SPWMMA.M32N32K1.F32.F32 {R9, R10, R11, R12, R13, R14, R15, R16}, {R16, R17, R18, R19}, R6, R5, R4, {R20, R21} ;
    ACCB.MOV.F32 {R24, R25, R26, R27, R28, R29, R30, R31}, 0x3 ;
    IMAD.SHL.U32 R7, R0, 0x20, RZ ;             // 32 bytes per thread
    IMAD R7, R1, 0x1000, R7 ;                   // 4096 bytes per CTA
    MOV R32, c[0x0][0x160] ;
    MOV R33, c[0x0][0x164] ;
    IMAD.WIDE.U32 R22, R7, 0x1, R32 ;
    STG.E.128.SYS [R22], R24 ;
    STG.E.128.SYS [R22+0x10], R28 ;
    EXIT ;
.end
";
    let k = kernel(text);
    let ctas = 16u32;
    let mut first: Option<(Vec<u8>, LaunchStats)> = None;
    for threads in [1usize, 2, 4] {
        let mut d = device(threads);
        let out = upload(&mut d, &vec![0u8; 4096 * ctas as usize]);
        let st = d.launch(&k, [ctas, 1, 1], [128, 1, 1], Params::new().ptr(out).bytes(), 0).unwrap();
        let bytes = d.read(out, 4096 * ctas as usize).unwrap();
        assert!(st.ohmma_executed > 0 && st.ohmma_executed + st.ohmma_skipped == 16 * 4 * ctas as u64);
        match &first {
            None => first = Some((bytes, st)),
            Some((b, s)) => {
                assert_eq!(&bytes, b, "{threads} threads");
                assert_eq!(&st, s, "{threads} threads");
            }
        }
    }
}

#[test]
fn dense_ohmma_f16_writes_only_executing_lanes_in_place() {
    // D = C: 1 * 1 + 1 = 2 in the executing lanes; the others keep C.
    for &arith in &ARITHS {
        let mut h = harness(arith);
        let one = 0x3c00u32 | 0x3c00 << 16;
        write_regs(&mut h, 4, &[[one; 32]; 6]);
        let guard = 0x0ff0_0001_u32;
        h.write_pred(1, guard);
        run(&mut h, "@P1 HMMA.OHMMA.8161.F16.F16 {R8, R9}, {R4, R5}, {R6, R7}, {R8, R9} ;\nEXIT ;").unwrap();
        for (r, regs) in read_regs(&h, 8, 2).iter().enumerate() {
            for (l, &got) in regs.iter().enumerate() {
                let want = if guard >> l & 1 == 1 { 0x4000 | 0x4000 << 16 } else { one };
                assert_eq!(got, want, "{arith:?} R{} lane {l}", 8 + r);
            }
        }
    }
}
