//! The structured-sparse inner-product steps of `isa/otc.toml` (issue 18): `HMMA.SP884` (2:4) and
//! `HMMA.HSS884.H4/H8` (two-rank HSS). Each case packs matrices into fragments from
//! `otc_isa::fragments::slots`, runs one STEP and compares every element with a reference built
//! from the matrix definition (the kept A values times the B rows the metadata picks, one
//! `dot4_f32` per element), and, where every row picks the same B rows, bit for bit with the dense
//! `HMMA.884` STEP on the kept values and the picked rows.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

mod common;
use common::*;
use otc_isa::fragments::{slots, FragInst, FragOperand, Layout};
use otc_numerics::dot4_f32;
use otc_sim::{FaultKind, SimError, TensorArith};

const F32: FragInst = FragInst::Hmma884F32;

/// Any fp16 of moderate size, sometimes zero or subnormal, rarely an infinity or NaN.
fn f16(rng: &mut Rng, specials: bool) -> u16 {
    let sign = (rng.below(2) as u16) << 15;
    sign | match rng.below(if specials { 24 } else { 20 }) {
        0 => 0,
        1 => 1 + rng.below(0x3ff) as u16,
        20 => 0x7c00,
        21 => 0x7e00,
        _ => ((7 + rng.below(16)) << 10 | rng.below(1024)) as u16,
    }
}

/// One quad-pair set of operands: kept A values [q][row][i], metadata [q][row], the B window
/// [q][k][col] and C [q][row][col].
struct Operands {
    a: [[[u16; 4]; 8]; 4],
    meta: [[u32; 8]; 4],
    b: Vec<[[u16; 8]; 4]>, // b[k][q][col], k < 4 * blocks
    c: [[[u32; 8]; 8]; 4],
}

/// Metadata of one row: rank-0 positions (two distinct, ascending, per group of 4) and, for HSS,
/// two distinct ascending rank-1 blocks.
fn meta(rng: &mut Rng, blocks: u32, hss: bool) -> u32 {
    let mut m = 0;
    for g in 0..2 {
        let x = rng.below(4);
        let y = (x + 1 + rng.below(3)) % 4;
        let (lo, hi) = (x.min(y), x.max(y));
        m |= (lo | hi << 2) << (4 * g);
    }
    if hss {
        let x = rng.below(blocks);
        let y = (x + 1 + rng.below(blocks - 1)) % blocks;
        m |= (x.min(y) | x.max(y) << 4) << 8;
    }
    m
}

/// The B row (window coordinate) that kept value i of a row with metadata `m` multiplies.
fn pick(m: u32, i: usize, hss: bool) -> usize {
    let block = if hss { (m >> (8 + 4 * (i / 2))) & 0xf } else { i as u32 / 2 };
    (4 * block + ((m >> (2 * i)) & 3)) as usize
}

fn operands(rng: &mut Rng, blocks: u32, hss: bool, uniform: bool, specials: bool) -> Operands {
    let m0 = meta(rng, blocks, hss);
    let mut o = Operands {
        a: [[[0; 4]; 8]; 4],
        meta: [[0; 8]; 4],
        b: vec![[[0; 8]; 4]; 4 * blocks as usize],
        c: [[[0; 8]; 8]; 4],
    };
    for q in 0..4 {
        for row in 0..8 {
            o.meta[q][row] = if uniform { m0 } else { meta(rng, blocks, hss) };
            for i in 0..4 {
                o.a[q][row][i] = f16(rng, specials);
            }
            for col in 0..8 {
                o.c[q][row][col] =
                    if rng.below(4) == 0 { 0 } else { ((100 + rng.below(54)) << 23) | (rng.u32() & 0x807f_ffff) };
            }
        }
        for k in 0..4 * blocks as usize {
            for col in 0..8 {
                o.b[k][q][col] = f16(rng, specials);
            }
        }
    }
    o
}

/// Registers from matrix elements: `value(matrix, row, col)` into the slots of `op`.
fn pack(op: FragOperand, layout: Layout, n: usize, value: impl Fn(usize, usize, usize) -> u32) -> Vec<[u32; 32]> {
    let mut r = vec![[0u32; 32]; n];
    for s in slots(F32, op, layout) {
        let v = value(s.matrix as usize, s.row as usize, s.col as usize);
        if (s.reg as usize) < n {
            r[s.reg as usize][s.lane as usize] |= if op == FragOperand::C { v } else { v << (16 * s.half as u32) };
        }
    }
    r
}

const D: u8 = 8;
const A: u8 = 12;
const C: u8 = 14;
const E: u8 = 16;
const B: u8 = 32;

/// Loads the operands (metadata at byte / half-word `sel` of E, other bits random) into `h`.
fn load(h: &mut WarpHarness, rng: &mut Rng, o: &Operands, step: usize, sel: u32, hss: bool) {
    let a = pack(FragOperand::A, Layout::Row, 2, |q, row, i| o.a[q][row][i] as u32);
    let c = pack(FragOperand::C, Layout::Row, 8, |q, row, col| o.c[q][row][col]);
    h.write_reg(A, a[0]);
    h.write_reg(A + 1, a[1]);
    h.write_reg(C, c[2 * step]);
    h.write_reg(C + 1, c[2 * step + 1]);
    for p in 0..o.b.len() / 4 {
        let bp = pack(FragOperand::B, Layout::Col, 2, |q, kk, col| o.b[4 * p + kk][q][col] as u32);
        h.write_reg(B + 2 * p as u8, bp[0]);
        h.write_reg(B + 2 * p as u8 + 1, bp[1]);
    }
    let width = if hss { 16 } else { 8 };
    let mut e = lanes(|_| rng.u32());
    for s in slots(F32, FragOperand::A, Layout::Row) {
        let l = s.lane as usize;
        let mask = ((1u64 << width) - 1) as u32;
        e[l] = (e[l] & !(mask << (width * sel))) | (o.meta[s.matrix as usize][s.row as usize] << (width * sel));
    }
    h.write_reg(E, e);
}

/// The expected D pair of `step` from the matrix definition.
fn expected(arith: TensorArith, o: &Operands, step: usize, hss: bool) -> [[u32; 32]; 2] {
    let d = pack(FragOperand::C, Layout::Row, 8, |q, row, col| {
        let m = o.meta[q][row];
        let bv = std::array::from_fn(|i| o.b[pick(m, i, hss)][q][col]);
        dot4_f32(arith, o.a[q][row], bv, o.c[q][row][col])
    });
    [d[2 * step], d[2 * step + 1]]
}

#[rustfmt::skip]
const CASES: &[(&str, u32, bool, usize, u32, TensorArith, bool, bool)] = &[
    // (instruction, blocks H1, hss, step, selector, arithmetic, every row picks the same B rows, specials)
    ("HMMA.SP884.F32.F32.STEP0.SEL0", 2, false, 0, 0, TensorArith::V100, false, false),
    ("HMMA.SP884.F32.F32.STEP1.SEL1", 2, false, 1, 1, TensorArith::V100, false, true),
    ("HMMA.SP884.F32.F32.STEP2.SEL2", 2, false, 2, 2, TensorArith::Ieee, false, false),
    ("HMMA.SP884.F32.F32.STEP3.SEL3", 2, false, 3, 3, TensorArith::V100, true, false),
    ("HMMA.SP884.F32.F32.STEP1.SEL0", 2, false, 1, 0, TensorArith::Ieee, true, true),
    ("HMMA.HSS884.F32.F32.STEP0.SEL0.H4", 4, true, 0, 0, TensorArith::V100, false, false),
    ("HMMA.HSS884.F32.F32.STEP3.SEL1.H4", 4, true, 3, 1, TensorArith::Ieee, false, true),
    ("HMMA.HSS884.F32.F32.STEP2.SEL1.H4", 4, true, 2, 1, TensorArith::V100, true, false),
    ("HMMA.HSS884.F32.F32.STEP1.SEL0.H8", 8, true, 1, 0, TensorArith::V100, false, true),
    ("HMMA.HSS884.F32.F32.STEP2.SEL1.H8", 8, true, 2, 1, TensorArith::Ieee, false, false),
    ("HMMA.HSS884.F32.F32.STEP0.SEL1.H8", 8, true, 0, 1, TensorArith::V100, true, false),
];

#[test]
fn structured_steps_equal_the_matrix_definition_and_dense_hmma() {
    let mut rng = Rng(0x5eed_2424_0018);
    for &(inst, blocks, hss, step, sel, arith, uniform, specials) in CASES {
        for round in 0..6 {
            let o = operands(&mut rng, blocks, hss, uniform, specials);
            let mut h = WarpHarness::new();
            h.set_tensor_arith(arith);
            load(&mut h, &mut rng, &o, step, sel, hss);
            run(&mut h, &format!("{inst} R{D}, R{A}, R{B}, R{C}, R{E} ;\nEXIT ;")).unwrap();
            let want = expected(arith, &o, step, hss);
            for r in 0..2 {
                let got = h.read_reg(D + r as u8);
                for l in 0..32 {
                    assert_eq!(got[l], want[r][l], "{inst} round {round}: lane {l} register {r}");
                }
            }
            if uniform {
                // The dense HMMA.884 STEP on the kept values and the B rows every row picks.
                let m = o.meta[0][0];
                let bp = pack(FragOperand::B, Layout::Col, 2, |q, kk, col| o.b[pick(m, kk, hss)][q][col] as u32);
                h.write_reg(40, bp[0]);
                h.write_reg(41, bp[1]);
                run(&mut h, &format!("HMMA.884.F32.F32.STEP{step} R{}, R{A}.ROW, R40.COL, R{C} ;\nEXIT ;", D + 2))
                    .unwrap();
                for r in 0..2u8 {
                    assert_eq!(
                        h.read_reg(D + 2 + r),
                        h.read_reg(D + r),
                        "{inst} round {round}: dense HMMA.884 register {r}"
                    );
                }
            }
        }
    }
}

#[test]
fn only_executing_lanes_are_written() {
    let mut rng = Rng(77);
    let o = operands(&mut rng, 2, false, false, false);
    let mut h = WarpHarness::new();
    load(&mut h, &mut rng, &o, 0, 0, false);
    let before = [h.read_reg(D), h.read_reg(D + 1)];
    h.write_pred(0, 0x0000_ffff);
    run(&mut h, &format!("@P0 HMMA.SP884.F32.F32.STEP0.SEL0 R{D}, R{A}, R{B}, R{C}, R{E} ;\nEXIT ;")).unwrap();
    let want = expected(TensorArith::V100, &o, 0, false);
    for r in 0..2 {
        let got = h.read_reg(D + r as u8);
        for l in 0..32 {
            let w = if l < 16 { want[r][l] } else { before[r][l] };
            assert_eq!(got[l], w, "lane {l} register {r}");
        }
    }
}

#[test]
fn a_rank1_block_outside_the_window_is_a_fault() {
    // (instruction, blocks, bad block index)
    for (inst, blocks, bad) in
        [("HMMA.HSS884.F32.F32.STEP0.SEL0.H4", 4u32, 4u32), ("HMMA.HSS884.F32.F32.STEP0.SEL0.H8", 8, 15)]
    {
        let mut rng = Rng(5);
        let mut o = operands(&mut rng, blocks, true, false, false);
        o.meta[2][5] = (o.meta[2][5] & !0xf000) | bad << 12;
        let mut h = WarpHarness::new();
        load(&mut h, &mut rng, &o, 0, 0, true);
        match run(&mut h, &format!("{inst} R{D}, R{A}, R{B}, R{C}, R{E} ;\nEXIT ;")) {
            Err(SimError::Fault(f)) => {
                assert_eq!(f.kind, FaultKind::IllegalInstruction, "{inst}");
                assert!(f.message.contains(&format!("rank-1 block {bad}")), "{inst}: {}", f.message);
            }
            other => panic!("{inst}: expected a fault, got {other:?}"),
        }
    }
}

#[test]
fn structured_steps_are_counted_with_the_macs_they_skipped() {
    // (program, sp24 steps, hss steps, MACs skipped: 256 per step times (window / 4 - 1))
    let cases: &[(&str, u64, u64, u64)] = &[
        ("HMMA.SP884.F32.F32.STEP0.SEL0 R8, R12, R32, R14, R16 ;\nHMMA.SP884.F32.F32.STEP1.SEL0 R10, R12, R32, R14, R16 ;", 2, 0, 512),
        ("HMMA.HSS884.F32.F32.STEP0.SEL0.H4 R8, R12, R32, R14, R16 ;", 0, 1, 768),
        ("HMMA.HSS884.F32.F32.STEP0.SEL1.H8 R8, R12, R32, R14, R16 ;\nHMMA.SP884.F32.F32.STEP0.SEL0 R8, R12, R32, R14, R16 ;", 1, 1, 1792 + 256),
    ];
    for &(text, sp24, hss, skipped) in cases {
        let k = kernel(&format!(".kernel t\n    {}\n    EXIT ;\n.end", text.replace('\n', "\n    ")));
        let mut dev = Device::new(DeviceConfig {
            timing: Some(otc_timing::TimingConfig::v100()),
            threads: Some(1),
            ..DeviceConfig::default()
        });
        let (_, timing) = dev.launch_timed(&k, [1, 1, 1], [32, 1, 1], &[], 0).expect("runs");
        let c = &timing.expect("the cycle model ran").counters;
        assert_eq!(c.get("hmma.sp24.executed"), Some(&sp24), "{text}");
        assert_eq!(c.get("hmma.hss.executed"), Some(&hss), "{text}");
        assert_eq!(c.get("tensor.macs_skipped_structured"), Some(&skipped), "{text}");
        assert_eq!(c.get("hmma.executed"), Some(&(sp24 + hss)), "{text}");
    }
}
