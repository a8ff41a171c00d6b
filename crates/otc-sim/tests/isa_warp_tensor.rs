//! Warp-wide instructions (SHFL, VOTE, MATCH) with partial warps, and HMMA.884 against the PTX
//! m8n8k4 fragment layout written out independently here (from volta-sm70-notes.md §3) with
//! the arithmetic of otc-numerics.
#![allow(
    clippy::needless_range_loop,
    clippy::manual_is_multiple_of,
    clippy::identity_op,
    clippy::useless_vec,
    clippy::nonminimal_bool,
    clippy::if_same_then_else,
    clippy::approx_constant,
    clippy::manual_clamp
)]

mod common;
use common::*;
use otc_numerics::{dot4_f16, dot4_f32, TensorArith};
use otc_sim::WarpHarness;

#[test]
fn shuffle_with_inactive_sources() {
    let mut h = WarpHarness::new();
    h.write_reg(1, lanes(|l| 1000 + l as u32));
    h.write_pred(0, 0x0000_ffff);
    // only lanes 0..15 execute: sources 16..31 are inactive
    run(&mut h, "MOV R2, RZ ;\n@P0 SHFL.BFLY P1, R2, R1, 0x10, 0x1f ;\n@P0 SHFL.DOWN P2, R3, R1, 0x1, 0x1f ;\nEXIT ;")
        .unwrap();
    for l in 0..16 {
        assert_eq!(h.read_reg(2)[l], 1000 + l as u32, "inactive source gives own value");
        assert_eq!(h.read_reg(3)[l], 1000 + if l < 15 { l + 1 } else { l } as u32);
    }
    assert_eq!(h.read_pred(1), 0);
    assert_eq!(h.read_pred(2), 0x7fff);
    for l in 16..32 {
        assert_eq!(h.read_reg(2)[l], 0, "non-executing lanes keep their value");
    }
}

#[test]
fn votes_and_match_with_partial_warps() {
    let mut h = WarpHarness::new();
    h.set_lanes(0x00ff_ff00);
    h.write_pred(0, 0x00f0_ff00);
    h.write_reg(1, lanes(|l| (l % 3) as u32));
    run(
        &mut h,
        "VOTE.ALL R2, P1, P0 ;\nVOTE.ANY R3, P2, P0 ;\nVOTE.EQ R4, P3, P0 ;\nMATCH.ANY R5, R1 ;\nMATCH.ALL P4, R6, R1 ;\nEXIT ;",
    )
    .unwrap();
    let act = 0x00ff_ff00u32;
    for l in 8..24 {
        assert_eq!(h.read_reg(2)[l], 0x00f0_ff00);
        assert_eq!(h.read_reg(3)[l], 0x00f0_ff00);
        let m = (8..24).filter(|&j| j % 3 == l % 3).fold(0u32, |m, j| m | (1 << j));
        assert_eq!(h.read_reg(5)[l], m);
        assert_eq!(h.read_reg(6)[l], 0);
    }
    assert_eq!(h.read_pred(1) & act, 0, "not all");
    assert_eq!(h.read_pred(2) & act, act, "any");
    assert_eq!(h.read_pred(3) & act, 0, "not equal");
    assert_eq!(h.read_pred(4) & act, 0);
}

/// Row/col of element i of lane l of the fp32 accumulator (PTX table).
fn cd32(l: usize, i: usize) -> (usize, usize) {
    let hi = if l >= 16 { 4 } else { 0 };
    ((l & 1) + (i & 2) + hi, (i & 4) + (l & 2) + (i & 1))
}

struct Mats {
    a: Vec<[[u16; 4]; 8]>, // per quad pair: A[row][k]
    b: Vec<[[u16; 8]; 4]>, // B[k][col]
}

fn load_ab(h: &mut WarpHarness, m: &Mats, a_col: bool, b_col: bool, areg: u8, breg: u8) {
    let mut ra = [[0u32; 32]; 2];
    let mut rb = [[0u32; 32]; 2];
    for l in 0..32 {
        let q = (l % 16) / 4;
        let t = l % 4;
        let hi = if l >= 16 { 4 } else { 0 };
        for i in 0..4 {
            let av = if a_col { m.a[q][i + hi][t] } else { m.a[q][t + hi][i] };
            let bv = if b_col { m.b[q][i][t + hi] } else { m.b[q][t][i + hi] };
            ra[i / 2][l] |= (av as u32) << (16 * (i % 2));
            rb[i / 2][l] |= (bv as u32) << (16 * (i % 2));
        }
    }
    h.write_reg(areg, ra[0]);
    h.write_reg(areg + 1, ra[1]);
    h.write_reg(breg, rb[0]);
    h.write_reg(breg + 1, rb[1]);
}

fn rand_half(rng: &mut Rng) -> u16 {
    match rng.below(16) {
        0 => 0,
        1 => 0x8000,
        2 => rng.below(0x400) as u16, // subnormal
        _ => f16_rne((rng.below(20000) as f64 - 10000.0) / (1 << rng.below(12)) as f64),
    }
}

#[test]
fn hmma_884_matches_the_ptx_layout() {
    for arith in [TensorArith::V100, TensorArith::Ieee] {
        for (a_col, b_col) in [(false, true), (true, false), (false, false), (true, true)] {
            let mut rng = Rng(99 + a_col as u64 * 2 + b_col as u64);
            let m = Mats {
                a: (0..4).map(|_| [[0u16; 4]; 8].map(|r| r.map(|_| rand_half(&mut rng)))).collect(),
                b: (0..4).map(|_| [[0u16; 8]; 4].map(|r| r.map(|_| rand_half(&mut rng)))).collect(),
            };
            let c: Vec<[[u32; 8]; 8]> = (0..4)
                .map(|_| [[0u32; 8]; 8].map(|r| r.map(|_| ((rng.below(2000) as f32 - 1000.0) / 64.0).to_bits())))
                .collect();
            let mut h = WarpHarness::new();
            h.set_tensor_arith(arith);
            load_ab(&mut h, &m, a_col, b_col, 4, 6);
            for i in 0..8 {
                h.write_reg(
                    8 + i as u8,
                    lanes(|l| {
                        let (r, cc) = cd32(l, i);
                        c[(l % 16) / 4][r][cc]
                    }),
                );
            }
            let (la, lb) = (if a_col { "COL" } else { "ROW" }, if b_col { "COL" } else { "ROW" });
            let code: String = (0..4)
                .map(|s| format!("HMMA.884.F32.F32.STEP{s} R{}, R4.{la}, R6.{lb}, R{} ;\n", 16 + 2 * s, 8 + 2 * s))
                .collect::<String>()
                + "EXIT ;";
            run(&mut h, &code).unwrap();
            for l in 0..32 {
                let q = (l % 16) / 4;
                for i in 0..8 {
                    let (r, cc) = cd32(l, i);
                    let av = m.a[q][r];
                    let bv = [m.b[q][0][cc], m.b[q][1][cc], m.b[q][2][cc], m.b[q][3][cc]];
                    let e = dot4_f32(arith, av, bv, c[q][r][cc]);
                    assert_eq!(h.read_reg(16 + i as u8)[l], e, "{arith:?} A.{la} B.{lb} lane {l} element {i}");
                }
            }

            // fp16 accumulators: element i of lane l is (t + hi, i), registers i/2, half i%2
            let c16: Vec<[[u16; 8]; 8]> =
                (0..4).map(|_| [[0u16; 8]; 8].map(|r| r.map(|_| rand_half(&mut rng)))).collect();
            for j in 0..4 {
                h.write_reg(
                    8 + j as u8,
                    lanes(|l| {
                        let q = (l % 16) / 4;
                        let row = l % 4 + if l >= 16 { 4 } else { 0 };
                        c16[q][row][2 * j] as u32 | ((c16[q][row][2 * j + 1] as u32) << 16)
                    }),
                );
            }
            let code = format!("HMMA.884.F16.F16.STEP0 R16, R4.{la}, R6.{lb}, R8 ;\nHMMA.884.F16.F16.STEP1 R18, R4.{la}, R6.{lb}, R10 ;\nEXIT ;");
            run(&mut h, &code).unwrap();
            for l in 0..32 {
                let q = (l % 16) / 4;
                let row = l % 4 + if l >= 16 { 4 } else { 0 };
                for i in 0..8 {
                    let bv = [m.b[q][0][i], m.b[q][1][i], m.b[q][2][i], m.b[q][3][i]];
                    let e = dot4_f16(arith, m.a[q][row], bv, c16[q][row][i]);
                    let got = (h.read_reg(16 + (i / 2) as u8)[l] >> (16 * (i % 2))) as u16;
                    assert_eq!(got, e, "f16 {arith:?} lane {l} element {i}");
                }
            }
        }
    }
}

#[test]
fn hmma_writes_only_executing_lanes_and_reads_all() {
    let mut h = WarpHarness::new();
    let one = 0x3c00u32;
    h.write_reg(4, [one | (one << 16); 32]);
    h.write_reg(5, [one | (one << 16); 32]);
    h.write_reg(6, [one | (one << 16); 32]);
    h.write_reg(7, [one | (one << 16); 32]);
    h.write_reg(16, [0xdead; 32]);
    h.write_pred(0, 0x0000_000f);
    run(&mut h, "@P0 HMMA.884.F32.F32.STEP0 R16, R4.ROW, R6.COL, RZ ;\nEXIT ;").unwrap();
    for l in 0..32 {
        assert_eq!(h.read_reg(16)[l], if l < 4 { 4.0f32.to_bits() } else { 0xdead });
    }
}

#[test]
fn bohmma_binary_outer_product() {
    let mut h = WarpHarness::new();
    h.write_reg(1, [0x8000_0005; 32]);
    h.write_reg(2, [0x1234_5678; 32]);
    run(&mut h, "HMMA.BOHMMA.32321.B32.B32 R0, R1, R2 ;\nEXIT ;").unwrap();
    for l in 0..32 {
        assert_eq!(h.read_reg(0)[l], if [0, 2, 31].contains(&l) { 0x1234_5678 } else { 0 });
    }
}

#[test]
fn hmma_f16_writes_only_executing_lanes_in_place() {
    // D = C (the batch reads every operand before it writes): 1*1 four times plus 1 is 5, in the
    // executing lanes; the others keep C.
    for arith in [TensorArith::V100, TensorArith::Ieee] {
        let mut h = WarpHarness::new();
        h.set_tensor_arith(arith);
        let one = 0x3c00u32 | 0x3c00 << 16;
        for r in 4..10 {
            h.write_reg(r, [one; 32]);
        }
        let guard = 0x8000_f00f_u32;
        h.write_pred(0, guard);
        run(&mut h, "@P0 HMMA.884.F16.F16.STEP1 R8, R4.ROW, R6.COL, R8 ;\nEXIT ;").unwrap();
        for r in 8..10 {
            for l in 0..32 {
                let want = if guard >> l & 1 == 1 { 0x4500 | 0x4500 << 16 } else { one };
                assert_eq!(h.read_reg(r)[l], want, "{arith:?} R{r} lane {l}");
            }
        }
    }
}
