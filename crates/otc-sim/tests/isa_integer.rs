//! Table tests of the integer instructions against a model, on the warp harness.
//! Inputs: R4 = a, R5 = b, R6 = c, R7 = d, P0 = p (per lane); outputs R0 (R1 for wide results),
//! P1.
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
use otc_sim::WarpHarness;

#[derive(Clone, Copy)]
struct In {
    a: u32,
    b: u32,
    c: u32,
    d: u32,
    p: bool,
}

/// (R0, R1 if checked, P1 if checked)
type Out = (u32, Option<u32>, Option<bool>);

struct Case {
    code: &'static str,
    model: fn(In) -> Out,
}

const fn r(v: u32) -> Out {
    (v, None, None)
}

fn lop(a: u32, b: u32, c: u32, lut: u32) -> u32 {
    (0..32).fold(0, |r, i| {
        let idx = (((a >> i) & 1) << 2) | (((b >> i) & 1) << 1) | ((c >> i) & 1);
        r | (((lut >> idx) & 1) << i)
    })
}

fn prmt_model(a: u32, sel: u32, c: u32) -> u32 {
    let bytes = [
        a as u8,
        (a >> 8) as u8,
        (a >> 16) as u8,
        (a >> 24) as u8,
        c as u8,
        (c >> 8) as u8,
        (c >> 16) as u8,
        (c >> 24) as u8,
    ];
    (0..4).fold(0, |r, i| {
        let s = (sel >> (4 * i)) & 15;
        let mut v = bytes[(s & 7) as usize] as u32;
        if s & 8 != 0 {
            v = if v & 0x80 != 0 { 0xff } else { 0 };
        }
        r | (v << (8 * i))
    })
}

fn flo(x: u32) -> u32 {
    if x == 0 {
        u32::MAX
    } else {
        31 - x.leading_zeros()
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { code: "IADD3 R0, R4, R5, R6 ;", model: |i| r(i.a.wrapping_add(i.b).wrapping_add(i.c)) },
    Case { code: "IADD3 R0, P1, R4, -R5, RZ ;", model: |i| (i.a.wrapping_sub(i.b), None, Some(i.a >= i.b)) },
    Case { code: "IADD3 R0, P1, PT, R4, R5, R6 ;", model: |i| { let s = i.a as u64 + i.b as u64 + i.c as u64; (s as u32, None, Some(s >= 1 << 32)) } },
    Case { code: "IADD3 R0, PT, P1, R4, R5, R6 ;", model: |i| { let s = i.a as u64 + i.b as u64 + i.c as u64; (s as u32, None, Some(s >= 2 << 32)) } },
    Case { code: "IADD3 R0, P1, R4, -R5, -R6 ;", model: |i| { let s = i.a as u64 + (!i.b) as u64 + 1 + (!i.c) as u64 + 1; (s as u32, None, Some(s >= 1 << 32)) } },
    Case { code: "IADD3.X R0, R4, ~R5, R6, P0, !PT ;", model: |i| r(i.a.wrapping_add(!i.b).wrapping_add(i.c).wrapping_add(i.p as u32)) },
    Case { code: "IADD3.X R0, P1, R4, R5, RZ, P0, PT ;", model: |i| { let s = i.a as u64 + i.b as u64 + i.p as u64 + 1; (s as u32, None, Some(s >= 1 << 32)) } },
    Case { code: "IADD3 R0, R4, -0x18, RZ ;", model: |i| r(i.a.wrapping_sub(0x18)) },
    Case { code: "IMAD R0, R4, R5, R6 ;", model: |i| r(i.a.wrapping_mul(i.b).wrapping_add(i.c)) },
    Case { code: "IMAD R0, R4, 0x7, -R6 ;", model: |i| r(i.a.wrapping_mul(7).wrapping_sub(i.c)) },
    Case { code: "IMAD.HI R0, R4, R5, R6 ;", model: |i| r(((((i.a as i32 as i64) * (i.b as i32 as i64)) >> 32) as u32).wrapping_add(i.c)) },
    Case { code: "IMAD.HI.U32 R0, R4, R5, R6 ;", model: |i| r(((((i.a as u64) * (i.b as u64)) >> 32) as u32).wrapping_add(i.c)) },
    Case { code: "IMAD.MOV R0, RZ, RZ, -R4 ;", model: |i| r(i.a.wrapping_neg()) },
    Case { code: "IMAD.MOV.U32 R0, RZ, RZ, R4 ;", model: |i| r(i.a) },
    Case { code: "IMAD.SHL.U32 R0, R4, 0x10, RZ ;", model: |i| r(i.a << 4) },
    Case { code: "IMAD.IADD R0, R4, 0x1, -R5 ;", model: |i| r(i.a.wrapping_sub(i.b)) },
    Case { code: "IMAD.X R0, R4, 0x1, ~R5, P0 ;", model: |i| r(i.a.wrapping_add(!i.b).wrapping_add(i.p as u32)) },
    Case { code: "IMAD.WIDE R0, R4, R5, R6 ;", model: |i| { let v = (((i.a as i32 as i64) * (i.b as i32 as i64)) as u64).wrapping_add((i.d as u64) << 32 | i.c as u64); (v as u32, Some((v >> 32) as u32), None) } },
    Case { code: "IMAD.WIDE.U32 R0, R4, R5, R6 ;", model: |i| { let v = (i.a as u64 * i.b as u64).wrapping_add((i.d as u64) << 32 | i.c as u64); (v as u32, Some((v >> 32) as u32), None) } },
    Case { code: "IMAD.WIDE R0, R4, 0x4, RZ ;", model: |i| { let v = (i.a as i32 as i64 * 4) as u64; (v as u32, Some((v >> 32) as u32), None) } },
    Case { code: "LEA R0, P1, R4, R5, 0x3 ;", model: |i| { let (v, o) = (i.a << 3).overflowing_add(i.b); (v, None, Some(o)) } },
    Case { code: "LEA R0, P1, -R4, R5, 0x2 ;", model: |i| { let (n, o1) = (!(i.a << 2)).overflowing_add(1); let (v, o2) = n.overflowing_add(i.b); (v, None, Some(o1 | o2)) } },
    Case { code: "LEA.HI R0, R4, R5, R6, 0x3 ;", model: |i| r((((((i.c as u64) << 32) | i.a as u64) >> 29) as u32).wrapping_add(i.b)) },
    Case { code: "LEA.HI.X R0, R4, R5, R6, 0x2, P0 ;", model: |i| r((((((i.c as u64) << 32) | i.a as u64) >> 30) as u32).wrapping_add(i.b).wrapping_add(i.p as u32)) },
    Case { code: "LEA.HI.X.SX32 R0, R4, R5, 0x2, P0 ;", model: |i| r(((((i.a as i32 as i64) as u64) >> 30) as u32).wrapping_add(i.b).wrapping_add(i.p as u32)) },
    Case { code: "LEA.HI.SX32 R0, R4, R5, 0x1e ;", model: |i| r(((((i.a as i32 as i64) as u64) >> 2) as u32).wrapping_add(i.b)) },
    Case { code: "SHF.L.U32 R0, R4, R5, RZ ;", model: |i| r(((i.a as u64) << i.b.min(32)) as u32) },
    Case { code: "SHF.R.U32.HI R0, RZ, R5, R4 ;", model: |i| r((((i.a as u64) << 32) >> i.b.min(32) >> 32) as u32) },
    Case { code: "SHF.R.S32.HI R0, RZ, R5, R4 ;", model: |i| r(((((i.a as u64) << 32) as i64 >> i.b.min(32)) >> 32) as u32) },
    Case { code: "SHF.L.W.U32.HI R0, R4, R5, R6 ;", model: |i| r(((((i.c as u64) << 32) | i.a as u64) << (i.b & 31) >> 32) as u32) },
    Case { code: "SHF.R.W.U32 R0, R4, R5, R6 ;", model: |i| r(((((i.c as u64) << 32) | i.a as u64) >> (i.b & 31)) as u32) },
    Case { code: "SHF.R.U64 R0, R4, R5, R6 ;", model: |i| r(((((i.c as u64) << 32) | i.a as u64).checked_shr(i.b.min(64)).unwrap_or(0)) as u32) },
    Case { code: "SHF.R.S64 R0, R4, R5, R6 ;", model: |i| r(((((i.c as u64) << 32) | i.a as u64) as i64 >> i.b.min(63)) as u32) },
    Case { code: "SHF.L.U64.HI R0, R4, R5, R6 ;", model: |i| r((((((i.c as u64) << 32) | i.a as u64).checked_shl(i.b.min(64)).unwrap_or(0)) >> 32) as u32) },
    Case { code: "SHF.L.U32 R0, R4, 0x3, RZ ;", model: |i| r(i.a << 3) },
    Case { code: "LOP3.LUT R0, R4, R5, R6, 0x96, !PT ;", model: |i| r(i.a ^ i.b ^ i.c) },
    Case { code: "LOP3.LUT R0, R4, R5, R6, 0xe8, !PT ;", model: |i| r(lop(i.a, i.b, i.c, 0xe8)) },
    Case { code: "LOP3.LUT R0, R4, R5, R6, 0x1b, !PT ;", model: |i| r(lop(i.a, i.b, i.c, 0x1b)) },
    Case { code: "LOP3.LUT R0, RZ, R4, RZ, 0x33, !PT ;", model: |i| r(!i.a) },
    Case { code: "LOP3.LUT P1, R0, R4, R5, RZ, 0xc0, !PT ;", model: |i| (i.a & i.b, None, Some(i.a & i.b != 0)) },
    Case { code: "PLOP3.LUT P1, PT, P0, PT, PT, 0xf, 0x0 ;", model: |i| (0, None, Some(!i.p)) },
    Case { code: "ISETP.LT.AND P1, PT, R4, R5, PT ;", model: |i| (0, None, Some((i.a as i32) < (i.b as i32))) },
    Case { code: "ISETP.LT.U32.AND P1, PT, R4, R5, PT ;", model: |i| (0, None, Some(i.a < i.b)) },
    Case { code: "ISETP.GE.AND P1, PT, R4, 0x10, PT ;", model: |i| (0, None, Some(i.a as i32 >= 16)) },
    Case { code: "ISETP.NE.OR P1, PT, R4, R5, P0 ;", model: |i| (0, None, Some(i.a != i.b || i.p)) },
    Case { code: "ISETP.EQ.XOR P1, PT, R4, R5, P0 ;", model: |i| (0, None, Some((i.a == i.b) ^ i.p)) },
    Case { code: "ISETP.LE.AND PT, P1, R4, R5, P0 ;", model: |i| (0, None, Some(!((i.a as i32) <= (i.b as i32)) && i.p)) },
    Case { code: "ISETP.GE.U32.AND.EX P1, PT, R4, R5, PT, P0 ;", model: |i| (0, None, Some(if i.a == i.b { i.p } else { i.a >= i.b })) },
    Case { code: "ISETP.GT.AND.EX P1, PT, R4, R5, PT, P0 ;", model: |i| (0, None, Some(if i.a == i.b { i.p } else { (i.a as i32) > (i.b as i32) })) },
    Case { code: "SEL R0, R4, R5, P0 ;", model: |i| r(if i.p { i.a } else { i.b }) },
    Case { code: "SEL R0, R4, 0x7, !P0 ;", model: |i| r(if !i.p { i.a } else { 7 }) },
    Case { code: "PRMT R0, R4, R5, R6 ;", model: |i| r(prmt_model(i.a, i.b & 0xffff, i.c)) },
    Case { code: "PRMT R0, R4, 0x5140, R6 ;", model: |i| r(prmt_model(i.a, 0x5140, i.c)) },
    Case { code: "PRMT R0, R4, 0x8880, RZ ;", model: |i| r(prmt_model(i.a, 0x8880, 0)) },
    Case { code: "IABS R0, R4 ;", model: |i| r((i.a as i32).wrapping_abs() as u32) },
    Case { code: "IMNMX R0, R4, R5, P0 ;", model: |i| r(if i.p { (i.a as i32).min(i.b as i32) } else { (i.a as i32).max(i.b as i32) } as u32) },
    Case { code: "IMNMX.U32 R0, R4, R5, !P0 ;", model: |i| r(if !i.p { i.a.min(i.b) } else { i.a.max(i.b) }) },
    Case { code: "VABSDIFF.U32 R0, R4, R5, R6 ;", model: |i| r(i.a.abs_diff(i.b).wrapping_add(i.c)) },
    Case { code: "VABSDIFF R0, R4, R5, R6 ;", model: |i| r(((i.a as i32 as i64 - i.b as i32 as i64).unsigned_abs() as u32).wrapping_add(i.c)) },
    Case { code: "POPC R0, R4 ;", model: |i| r(i.a.count_ones()) },
    Case { code: "POPC R0, ~R4 ;", model: |i| r(i.a.count_zeros()) },
    Case { code: "FLO.U32 R0, R4 ;", model: |i| r(flo(i.a)) },
    Case { code: "FLO.U32.SH R0, R4 ;", model: |i| r(if i.a == 0 { u32::MAX } else { i.a.leading_zeros() }) },
    Case { code: "FLO R0, R4 ;", model: |i| r(flo(if (i.a as i32) < 0 { !i.a } else { i.a })) },
    Case { code: "BREV R0, R4 ;", model: |i| r(i.a.reverse_bits()) },
    Case { code: "BMSK R0, R4, R5 ;", model: |i| r((((1u64 << i.b.min(32)) - 1) << i.a.min(32)) as u32) },
    Case { code: "BMSK.W R0, R4, R5 ;", model: |i| r((((1u64 << (i.b & 31)) - 1) << (i.a & 31)) as u32) },
    Case { code: "MOV R0, R4 ;", model: |i| r(i.a) },
    Case { code: "MOV R0, 0xdeadbeef ;", model: |_| r(0xdead_beef) },
    Case { code: "R2P PR, R4, 0x7f ;\nP2R R0, PR, RZ, 0x7f ;", model: |i| r(i.a & 0x7f) },
    Case { code: "P2R R0, PR, R4, 0x3 ;", model: |i| r((i.a & !3) | i.p as u32) },
    // carry out of the 64-bit sum (the high word goes to R1; R0 holds the low word)
    Case { code: "IMAD.WIDE.U32 R0, P1, R4, R5, R6 ;", model: |i| { let (s, c) = (i.a as u64 * i.b as u64).overflowing_add(i.c as u64 | (i.d as u64) << 32); (s as u32, None, Some(c)) } },
    // byte-select forms (nvcc's bitmap loops): R2P reads byte k of a, P2R.Bk writes byte k of d
    Case { code: "R2P PR, R4.B1, 0x7f ;\nP2R R0, PR, RZ, 0x7f ;", model: |i| r((i.a >> 8) & 0x7f) },
    Case { code: "R2P PR, R4.B2, 0x7f ;\nP2R R0, PR, RZ, 0x7f ;", model: |i| r((i.a >> 16) & 0x7f) },
    Case { code: "R2P PR, R4.B3, 0x7e ;\nP2R R0, PR, RZ, 0x7f ;", model: |i| r((i.a >> 24) & 0x7e | i.p as u32) },
    Case { code: "R2P PR, R4.B1, 0x7f ;\nP2R.B2 R0, PR, R5, 0x7f ;", model: |i| r((i.b & !(0x7f << 16)) | ((i.a >> 8) & 0x7f) << 16) },
    Case { code: "R2P PR, R4.B3, 0x7f ;\nP2R.B3 R0, PR, R5, 0x7f ;", model: |i| r((i.b & !(0x7f << 24)) | (i.a & (0x7f << 24))) },
    Case { code: "P2R.B1 R0, PR, R4, 0x3 ;", model: |i| r((i.a & !0x300) | (i.p as u32) << 8) },
    Case { code: "IDP.4A.S8.S8 R0, R4, R5, R6 ;", model: |i| r((0..4).fold(i.c as i32, |s, k| s.wrapping_add(((i.a >> (8 * k)) as i8 as i32) * ((i.b >> (8 * k)) as i8 as i32))) as u32) },
    Case { code: "IDP.4A.U8.U8 R0, R4, R5, R6 ;", model: |i| r((0..4).fold(i.c, |s, k| s.wrapping_add(((i.a >> (8 * k)) & 0xff) * ((i.b >> (8 * k)) & 0xff)))) },
    Case { code: "IDP.2A.LO.S16.S8 R0, R4, R5, R6 ;", model: |i| r(((i.a as i16 as i32) * (i.b as i8 as i32) + ((i.a >> 16) as i16 as i32) * ((i.b >> 8) as i8 as i32)).wrapping_add(i.c as i32) as u32) },
    Case { code: "IDP.2A.HI.U16.U8 R0, R4, R5, R6 ;", model: |i| r(((i.a & 0xffff) * ((i.b >> 16) & 0xff) + (i.a >> 16) * (i.b >> 24)).wrapping_add(i.c)) },
    Case { code: "CS2R R0, SRZ ;", model: |_| (0, Some(0), None) },
];

const EDGES: [u32; 20] = [
    0,
    1,
    2,
    3,
    31,
    32,
    33,
    63,
    64,
    0x7fff_ffff,
    0x8000_0000,
    0x8000_0001,
    0xffff_ffff,
    0xffff_fffe,
    0x0000_ffff,
    0xffff_0000,
    0x1234_5678,
    0x8765_4321,
    0x00ff_00ff,
    0xff80_7f01,
];

fn inputs(round: usize) -> Vec<In> {
    let mut rng = Rng(0x5eed + round as u64);
    (0..32)
        .map(|l| {
            let pick = |rng: &mut Rng, k: usize| {
                if round < 2 {
                    EDGES[(l * (k + 1) + round * 7 + k * 3) % EDGES.len()]
                } else if rng.below(4) == 0 {
                    rng.below(70)
                } else {
                    rng.u32()
                }
            };
            let a = pick(&mut rng, 0);
            let b = if l % 9 == 4 { a } else { pick(&mut rng, 1) };
            In { a, b, c: pick(&mut rng, 2), d: pick(&mut rng, 3), p: (l * 5 + round) % 3 == 0 }
        })
        .collect()
}

#[test]
fn integer_instructions_match_the_model() {
    let mut h = WarpHarness::new();
    for case in CASES {
        let code = asm(&format!("{}\nEXIT ;", case.code));
        for round in 0..6 {
            let ins = inputs(round);
            h.write_reg(4, lanes(|l| ins[l].a));
            h.write_reg(5, lanes(|l| ins[l].b));
            h.write_reg(6, lanes(|l| ins[l].c));
            h.write_reg(7, lanes(|l| ins[l].d));
            h.write_reg(0, [0; 32]);
            h.write_reg(1, [0; 32]);
            h.write_pred(0, lanes(|l| ins[l].p as u32).iter().enumerate().fold(0, |m, (l, &p)| m | (p << l)));
            h.write_pred(1, 0);
            for k in 2..7 {
                h.write_pred(k, 0);
            }
            h.run(&code).unwrap_or_else(|e| panic!("{}: {e}", case.code));
            let (r0, r1, p1) = (h.read_reg(0), h.read_reg(1), h.read_pred(1));
            for l in 0..32 {
                let (e0, e1, ep) = (case.model)(ins[l]);
                let i = ins[l];
                let ctx =
                    format!("{} lane {l}: a={:#x} b={:#x} c={:#x} d={:#x} p={}", case.code, i.a, i.b, i.c, i.d, i.p);
                if ep.is_none() || !case.code.starts_with("ISETP") && !case.code.starts_with("PLOP3") {
                    assert_eq!(r0[l], e0, "R0 of {ctx}");
                }
                if let Some(e1) = e1 {
                    assert_eq!(r1[l], e1, "R1 of {ctx}");
                }
                if let Some(ep) = ep {
                    assert_eq!((p1 >> l) & 1 != 0, ep, "P1 of {ctx}");
                }
            }
        }
    }
}

#[test]
fn special_registers() {
    let mut h = WarpHarness::new();
    run(&mut h, "S2R R0, SR_LANEID ;\nS2R R1, SR_TID.X ;\nS2R R2, SR_LTMASK ;\nS2R R3, SR_GEMASK ;\nS2R R8, SR_EQMASK ;\nS2R R9, SR_LEMASK ;\nS2R R10, SR_GTMASK ;\nS2R R11, SR_CTAID.X ;\nCS2R R12, SR_CLOCKLO ;\nCS2R R14, SR_CLOCKLO ;\nEXIT ;").unwrap();
    for l in 0..32usize {
        assert_eq!(h.read_reg(0)[l], l as u32);
        assert_eq!(h.read_reg(1)[l], l as u32);
        assert_eq!(h.read_reg(2)[l], (1u32 << l) - 1);
        assert_eq!(h.read_reg(3)[l], !((1u32 << l) - 1));
        assert_eq!(h.read_reg(8)[l], 1 << l);
        assert_eq!(h.read_reg(9)[l], ((2u64 << l) - 1) as u32);
        assert_eq!(h.read_reg(10)[l], !(((2u64 << l) - 1) as u32));
        assert_eq!(h.read_reg(11)[l], 0);
        let t0 = h.read_reg(12)[l] as u64 | (h.read_reg(13)[l] as u64) << 32;
        let t1 = h.read_reg(14)[l] as u64 | (h.read_reg(15)[l] as u64) << 32;
        assert!(t1 > t0);
    }
}
