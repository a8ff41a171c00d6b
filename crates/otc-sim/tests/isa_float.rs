//! Table tests of the floating-point and conversion instructions (fp32, fp16x2, fp64) against
//! independent models (host arithmetic, exact-in-f64 references, the `half` crate).
//! Inputs: R4..R7 (a, b, c, d as bit patterns), P0; outputs R0, R1 and P1.
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
use half::f16;
use otc_sim::WarpHarness;

type Out = Option<(u32, Option<u32>, Option<bool>)>;

struct Case {
    code: &'static str,
    model: fn([u32; 4], bool) -> Out,
}

const NAN: u32 = 0x7fff_ffff;

fn f(x: u32) -> f32 {
    f32::from_bits(x)
}
fn canon(x: f32) -> u32 {
    if x.is_nan() {
        NAN
    } else {
        x.to_bits()
    }
}
fn ftz(x: u32) -> u32 {
    if x & 0x7f80_0000 == 0 {
        x & 0x8000_0000
    } else {
        x
    }
}
fn r0(x: u32) -> Out {
    Some((x, None, None))
}
fn p1(b: bool) -> Out {
    Some((0, None, Some(b)))
}

/// Directed rounding of an exact f64 value to f32 ('z', 'd', 'u'), independent of otc-sim.
fn dir(x: f64, mode: char) -> u32 {
    if x.is_nan() {
        return NAN;
    }
    let n = x as f32;
    if n as f64 == x {
        return n.to_bits();
    }
    let next_up = |v: f32| -> f32 {
        if v.is_infinite() && v > 0.0 {
            v
        } else if v == 0.0 {
            f32::from_bits(1)
        } else if v > 0.0 {
            f32::from_bits(v.to_bits() + 1)
        } else {
            f32::from_bits(v.to_bits() - 1)
        }
    };
    let next_down = |v: f32| -next_up(-v);
    let (lo, hi) = if n.is_infinite() {
        if n > 0.0 {
            (f32::MAX, n)
        } else {
            (n, f32::MIN)
        }
    } else if (n as f64) < x {
        (n, next_up(n))
    } else {
        (next_down(n), n)
    };
    let r = match mode {
        'z' => {
            if x > 0.0 {
                lo
            } else {
                hi
            }
        }
        'd' => lo,
        _ => hi,
    };
    r.to_bits()
}

/// a + b exactly in f64, if it is exact.
fn exact_add(a: f64, b: f64) -> Option<f64> {
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    if s.is_finite() && err == 0.0 {
        Some(s)
    } else if a.is_infinite() || b.is_infinite() {
        Some(s)
    } else {
        None
    }
}

fn fadd_dir(a: u32, b: u32, m: char) -> Out {
    let s = exact_add(f(a) as f64, f(b) as f64)?;
    if s == 0.0 {
        let neg = if f(a) == 0.0 && f(b) == 0.0 && f(a).is_sign_negative() == f(b).is_sign_negative() {
            f(a).is_sign_negative()
        } else {
            m == 'd'
        };
        return r0(if neg { 0x8000_0000 } else { 0 });
    }
    r0(dir(s, m))
}

fn ffma_dir(a: u32, b: u32, c: u32, m: char) -> Out {
    let p = f(a) as f64 * f(b) as f64;
    if p.is_nan() {
        return r0(NAN);
    }
    let s = exact_add(p, f(c) as f64)?;
    if s == 0.0 {
        return None;
    }
    r0(dir(s, m))
}

fn fcmp(a: f32, b: f32, c: &str) -> bool {
    let un = a.is_nan() || b.is_nan();
    match c {
        "F" => false,
        "LT" => a < b,
        "EQ" => a == b,
        "LE" => a <= b,
        "GT" => a > b,
        "NE" => !un && a != b,
        "GE" => a >= b,
        "NUM" => !un,
        "NAN" => un,
        "LTU" => un || a < b,
        "EQU" => un || a == b,
        "LEU" => un || a <= b,
        "GTU" => un || a > b,
        "NEU" => un || a != b,
        "GEU" => un || a >= b,
        _ => true,
    }
}

fn min_max(a: u32, b: u32, min: bool) -> u32 {
    let (x, y) = (f(a), f(b));
    if x.is_nan() && y.is_nan() {
        return NAN;
    }
    if x.is_nan() {
        return b;
    }
    if y.is_nan() {
        return a;
    }
    if x == y {
        // -0 < +0
        let xn = x.is_sign_negative();
        return if xn == min { a } else { b };
    }
    if (x < y) == min {
        a
    } else {
        b
    }
}

fn f2i(x: u32, lo: i64, hi: i64, m: char) -> u32 {
    let v = f(x) as f64;
    if v.is_nan() {
        return 0;
    }
    let r = match m {
        'n' => v.round_ties_even(),
        'z' => v.trunc(),
        'd' => v.floor(),
        _ => v.ceil(),
    };
    (r.clamp(lo as f64, hi as f64) as i64) as u32
}

fn h(x: f64) -> u16 {
    f16_rne(x)
}
fn hv(b: u32) -> f64 {
    f16::from_bits(b as u16).to_f64()
}
fn hc(b: u16) -> u32 {
    if f16::from_bits(b).is_nan() {
        0x7fff
    } else {
        b as u32
    }
}
fn h2(lo: u16, hi: u16) -> u32 {
    hc(lo) | (hc(hi) << 16)
}

fn d(lo: u32, hi: u32) -> f64 {
    f64::from_bits(((hi as u64) << 32) | lo as u64)
}
fn dout(x: f64) -> Out {
    let b = if x.is_nan() { 0xfff8_0000_0000_0000 } else { x.to_bits() };
    Some((b as u32, Some((b >> 32) as u32), None))
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { code: "FADD R0, R4, R5 ;", model: |[a, b, ..], _| r0(canon(f(a) + f(b))) },
    Case { code: "FADD R0, -R4, |R5| ;", model: |[a, b, ..], _| r0(canon(-f(a) + f(b).abs())) },
    Case { code: "FADD.FTZ R0, R4, R5 ;", model: |[a, b, ..], _| r0(ftz(canon(f(ftz(a)) + f(ftz(b))))) },
    Case { code: "FADD.SAT R0, R4, R5 ;", model: |[a, b, ..], _| { let s = f(a) + f(b); r0(if s.is_nan() || s <= 0.0 { 0 } else { s.min(1.0).to_bits() }) } },
    Case { code: "FADD.RZ R0, R4, R5 ;", model: |[a, b, ..], _| fadd_dir(a, b, 'z') },
    Case { code: "FADD.RM R0, R4, R5 ;", model: |[a, b, ..], _| fadd_dir(a, b, 'd') },
    Case { code: "FADD.RP R0, R4, R5 ;", model: |[a, b, ..], _| fadd_dir(a, b, 'u') },
    Case { code: "FMUL R0, R4, R5 ;", model: |[a, b, ..], _| r0(canon(f(a) * f(b))) },
    Case { code: "FMUL R0, R4, 0.5 ;", model: |[a, ..], _| r0(canon(f(a) * 0.5)) },
    Case { code: "FMUL.FTZ R0, R4, R5 ;", model: |[a, b, ..], _| r0(ftz(canon(f(ftz(a)) * f(ftz(b))))) },
    Case { code: "FMUL.RZ R0, R4, R5 ;", model: |[a, b, ..], _| r0(dir(f(a) as f64 * f(b) as f64, 'z')) },
    Case { code: "FMUL.RM R0, R4, R5 ;", model: |[a, b, ..], _| r0(dir(f(a) as f64 * f(b) as f64, 'd')) },
    Case { code: "FMUL.RP R0, R4, R5 ;", model: |[a, b, ..], _| r0(dir(f(a) as f64 * f(b) as f64, 'u')) },
    Case { code: "FMUL.D2 R0, R4, R5 ;", model: |[a, b, ..], _| { let p = f(a) as f64 * f(b) as f64 / 2.0; r0(if p.is_nan() { NAN } else { (p as f32).to_bits() }) } },
    Case { code: "FFMA R0, R4, R5, R6 ;", model: |[a, b, c, _], _| r0(canon(f(a).mul_add(f(b), f(c)))) },
    Case { code: "FFMA R0, -R4, R5, 1 ;", model: |[a, b, ..], _| r0(canon((-f(a)).mul_add(f(b), 1.0))) },
    Case { code: "FFMA.RZ R0, R4, R5, R6 ;", model: |[a, b, c, _], _| ffma_dir(a, b, c, 'z') },
    Case { code: "FFMA.RM R0, R4, R5, R6 ;", model: |[a, b, c, _], _| ffma_dir(a, b, c, 'd') },
    Case { code: "FFMA.RP R0, R4, R5, R6 ;", model: |[a, b, c, _], _| ffma_dir(a, b, c, 'u') },
    Case { code: "FFMA.FTZ R0, R4, R5, R6 ;", model: |[a, b, c, _], _| r0(ftz(canon(f(ftz(a)).mul_add(f(ftz(b)), f(ftz(c)))))) },
    Case { code: "FSEL R0, R4, -R5, P0 ;", model: |[a, b, ..], p| r0(if p { a } else { b ^ 0x8000_0000 }) },
    Case { code: "FMNMX R0, R4, R5, P0 ;", model: |[a, b, ..], p| r0(min_max(a, b, p)) },
    Case { code: "FMNMX R0, R4, -2, !PT ;", model: |[a, ..], _| r0(min_max(a, (-2.0f32).to_bits(), false)) },
    Case { code: "FSETP.LT.AND P1, PT, R4, R5, PT ;", model: |[a, b, ..], _| p1(fcmp(f(a), f(b), "LT")) },
    Case { code: "FSETP.NE.AND P1, PT, R4, R5, PT ;", model: |[a, b, ..], _| p1(fcmp(f(a), f(b), "NE")) },
    Case { code: "FSETP.NEU.AND P1, PT, R4, R5, PT ;", model: |[a, b, ..], _| p1(fcmp(f(a), f(b), "NEU")) },
    Case { code: "FSETP.GEU.OR P1, PT, R4, R5, P0 ;", model: |[a, b, ..], p| p1(fcmp(f(a), f(b), "GEU") || p) },
    Case { code: "FSETP.NAN.AND P1, PT, R4, R5, PT ;", model: |[a, b, ..], _| p1(fcmp(f(a), f(b), "NAN")) },
    Case { code: "FSETP.EQU.XOR P1, PT, R4, R5, P0 ;", model: |[a, b, ..], p| p1(fcmp(f(a), f(b), "EQU") ^ p) },
    Case { code: "FSETP.GT.AND PT, P1, |R4|, R5, PT ;", model: |[a, b, ..], _| p1(!fcmp(f(a).abs(), f(b), "GT")) },
    Case { code: "FSETP.GTU.FTZ.AND P1, PT, R4, +INF, PT ;", model: |[a, ..], _| p1(fcmp(f(ftz(a)), f32::INFINITY, "GTU")) },
    Case { code: "MUFU.RCP R0, R4 ;", model: |[a, ..], _| r0(ftz(canon(1.0 / f(ftz(a))))) },
    Case { code: "MUFU.SQRT R0, R4 ;", model: |[a, ..], _| r0(ftz(canon(f(ftz(a)).sqrt()))) },
    Case { code: "MUFU.RSQ R0, R4 ;", model: |[a, ..], _| { let x = f(ftz(a)); if x > 0.0 && x.is_finite() { None } else { r0(ftz(canon(1.0 / x.sqrt()))) } } },
    Case { code: "MUFU.EX2 R0, R4 ;", model: |[a, ..], _| { let x = f(ftz(a)); if x.is_finite() && x.fract() == 0.0 && x.abs() < 120.0 { r0(ftz(((x as f64).exp2() as f32).to_bits())) } else { None } } },
    Case { code: "MUFU.LG2 R0, R4 ;", model: |[a, ..], _| { let x = f(ftz(a)); if x == 0.0 { r0(f32::NEG_INFINITY.to_bits()) } else if x < 0.0 || x.is_nan() { r0(NAN) } else if x.is_infinite() { r0(a) } else { None } } },
    Case { code: "FRND R0, R4 ;", model: |[a, ..], _| r0(canon(f(a).round_ties_even())) },
    Case { code: "FRND.FLOOR R0, R4 ;", model: |[a, ..], _| r0(canon(f(a).floor())) },
    Case { code: "FRND.CEIL R0, R4 ;", model: |[a, ..], _| r0(canon(f(a).ceil())) },
    Case { code: "FRND.TRUNC R0, R4 ;", model: |[a, ..], _| r0(canon(f(a).trunc())) },
    Case { code: "F2I R0, R4 ;", model: |[a, ..], _| r0(f2i(a, i32::MIN as i64, i32::MAX as i64, 'n')) },
    Case { code: "F2I.TRUNC.NTZ R0, R4 ;", model: |[a, ..], _| r0(f2i(a, i32::MIN as i64, i32::MAX as i64, 'z')) },
    Case { code: "F2I.FLOOR.NTZ R0, R4 ;", model: |[a, ..], _| r0(f2i(a, i32::MIN as i64, i32::MAX as i64, 'd')) },
    Case { code: "F2I.U32.CEIL.NTZ R0, R4 ;", model: |[a, ..], _| r0(f2i(a, 0, u32::MAX as i64, 'u')) },
    Case { code: "F2I.S16.TRUNC R0, R4 ;", model: |[a, ..], _| r0(f2i(a, i16::MIN as i64, i16::MAX as i64, 'z')) },
    Case { code: "F2I.U8.TRUNC R0, R4 ;", model: |[a, ..], _| r0(f2i(a, 0, 255, 'z')) },
    Case { code: "F2I.S64.TRUNC R0, R4 ;", model: |[a, ..], _| { let v = f(a) as f64; let r = if v.is_nan() { 0 } else { v.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64 }; Some((r as u32, Some((r >> 32) as u32), None)) } },
    Case { code: "I2F R0, R4 ;", model: |[a, ..], _| r0((a as i32 as f32).to_bits()) },
    Case { code: "I2F.RZ R0, R4 ;", model: |[a, ..], _| r0(dir(a as i32 as f64, 'z')) },
    Case { code: "I2F.U32.RP R0, R4 ;", model: |[a, ..], _| r0(dir(a as f64, 'u')) },
    Case { code: "I2F.RM R0, R4 ;", model: |[a, ..], _| r0(dir(a as i32 as f64, 'd')) },
    Case { code: "I2F.S64 R0, R4 ;", model: |[a, b, ..], _| r0(((((b as u64) << 32) | a as u64) as i64 as f32).to_bits()) },
    Case { code: "I2F.F64 R0, R4 ;", model: |[a, ..], _| { let v = (a as i32 as f64).to_bits(); Some((v as u32, Some((v >> 32) as u32), None)) } },
    Case { code: "I2F.U16 R0, R4 ;", model: |[a, ..], _| r0(((a & 0xffff) as f32).to_bits()) },
    Case { code: "I2F.S8 R0, R4.B1 ;", model: |[a, ..], _| r0(((a >> 8) as i8 as f32).to_bits()) },
    Case { code: "F2F.F16.F32 R0, R4 ;", model: |[a, ..], _| r0(hc(h(f(a) as f64))) },
    Case { code: "F2F.F32.F16 R0, R4.H1 ;", model: |[a, ..], _| r0(canon(hv(a >> 16) as f32)) },
    Case { code: "F2F.F64.F32 R0, R4 ;", model: |[a, ..], _| { let x = f(a) as f64; let b = if x.is_nan() { 0xfff8_0000_0000_0000 } else { x.to_bits() }; Some((b as u32, Some((b >> 32) as u32), None)) } },
    Case { code: "F2F.F32.F64 R0, R4 ;", model: |[a, b, ..], _| r0(canon(d(a, b) as f32)) },
    Case { code: "I2I.S8.S32.SAT R0, R4 ;", model: |[a, ..], _| r0((a as i32).clamp(-128, 127) as u32) },
    Case { code: "I2I.U16.S32.SAT R0, R4 ;", model: |[a, ..], _| r0((a as i32).clamp(0, 65535) as u32) },
    Case { code: "HADD2 R0, R4, R5 ;", model: |[a, b, ..], _| r0(h2(h(hv(a) + hv(b)), h(hv(a >> 16) + hv(b >> 16)))) },
    Case { code: "HADD2 R0, R4.H1_H1, -R5.H0_H0 ;", model: |[a, b, ..], _| { let v = h(hv(a >> 16) - hv(b)); r0(h2(v, v)) } },
    Case { code: "HMUL2 R0, R4, R5 ;", model: |[a, b, ..], _| r0(h2(h(hv(a) * hv(b)), h(hv(a >> 16) * hv(b >> 16)))) },
    Case { code: "HFMA2 R0, R4, R5, R6 ;", model: |[a, b, c, _], _| r0(h2(h(hv(a).mul_add(hv(b), hv(c))), h(hv(a >> 16).mul_add(hv(b >> 16), hv(c >> 16))))) },
    Case { code: "HFMA2 R0, R4, 1.5, -0.25, R6 ;", model: |[a, _, c, _], _| r0(h2(h(hv(a).mul_add(1.5, hv(c))), h(hv(a >> 16).mul_add(-0.25, hv(c >> 16))))) },
    Case { code: "HADD2.F32 R0, R4.H1_H1, -RZ.H0_H0 ;", model: |[a, ..], _| r0(canon(hv(a >> 16) as f32)) },
    Case { code: "HADD2.SAT R0, R4, R5 ;", model: |[a, b, ..], _| { let s = |x: f64| { let r = f16::from_bits(f16_rne(x)).to_f64(); if r.is_nan() || r <= 0.0 { 0 } else { h(r.min(1.0)) } }; r0(s(hv(a) + hv(b)) as u32 | ((s(hv(a >> 16) + hv(b >> 16)) as u32) << 16)) } },
    Case { code: "HADD2 R0, R4.F32, -RZ.H0_H0 ;", model: |[a, ..], _| { let x = f(a); if x.is_nan() { return r0(0x7fff_7fff); } let hn = f16::from_f32(x); let rz = if x.is_infinite() { hn } else if hn.is_infinite() || hn.to_f32().abs() > x.abs() { f16::from_bits(hn.to_bits() - 1) } else { hn }; r0(h2(rz.to_bits(), rz.to_bits())) } },
    Case { code: "HSETP2.GT.AND P1, PT, R4, R5, PT ;", model: |[a, b, ..], _| p1(hv(a) > hv(b)) },
    Case { code: "HSETP2.GT.AND PT, P1, R4, R5, PT ;", model: |[a, b, ..], _| p1(hv(a >> 16) > hv(b >> 16)) },
    Case { code: "HSETP2.EQ.H_AND.AND P1, PT, R4, R5, PT ;", model: |[a, b, ..], _| p1(hv(a) == hv(b) && hv(a >> 16) == hv(b >> 16)) },
    // fp16 immediate pair for b, unordered compare (true on NaN): nvcc's `__hdiv` range check
    Case { code: "HSETP2.GEU.AND P1, PT, R4.H0_H0, 0.5, 0.5, PT ;", model: |[a, ..], _| p1(hv(a) >= 0.5 || hv(a).is_nan()) },
    Case { code: "HSET2.BF.LE.AND R0, R4, R5, PT ;", model: |[a, b, ..], _| r0((if hv(a) <= hv(b) { 0x3c00 } else { 0 }) | (if hv(a >> 16) <= hv(b >> 16) { 0x3c00_0000 } else { 0 })) },
    Case { code: "HSET2.NEU.AND R0, R4, R5, PT ;", model: |[a, b, ..], _| { let ne = |x: f64, y: f64| x.is_nan() || y.is_nan() || x != y; r0((if ne(hv(a), hv(b)) { 0xffff } else { 0 }) | (if ne(hv(a >> 16), hv(b >> 16)) { 0xffff_0000 } else { 0 })) } },
    Case { code: "HMNMX2 R0, R4, R5, P0 ;", model: |[a, b, ..], p| { let mm = |x: u32, y: u32| -> u32 { let (xv, yv) = (hv(x), hv(y)); if xv.is_nan() && yv.is_nan() { 0x7fff } else if xv.is_nan() { y & 0xffff } else if yv.is_nan() { x & 0xffff } else if xv == yv { if (x & 0x8000 != 0) == p { x & 0xffff } else { y & 0xffff } } else if (xv < yv) == p { x & 0xffff } else { y & 0xffff } }; r0(mm(a, b) | (mm(a >> 16, b >> 16) << 16)) } },
    Case { code: "DADD R0, R4, R6 ;", model: |[a, b, c, e], _| dout(d(a, b) + d(c, e)) },
    Case { code: "DMUL R0, R4, -R6 ;", model: |[a, b, c, e], _| dout(d(a, b) * -d(c, e)) },
    Case { code: "DFMA R0, R4, R6, R4 ;", model: |[a, b, c, e], _| dout(d(a, b).mul_add(d(c, e), d(a, b))) },
    Case { code: "DFMA R0, R4, R6, 1 ;", model: |[a, b, c, e], _| dout(d(a, b).mul_add(d(c, e), 1.0)) },
    Case { code: "DMUL R0, R4, 0.5 ;", model: |[a, b, ..], _| dout(d(a, b) * 0.5) },
    Case { code: "DSETP.GT.AND P1, PT, R4, R6, PT ;", model: |[a, b, c, e], _| p1(d(a, b) > d(c, e)) },
    Case { code: "DSETP.NEU.AND P1, PT, R4, R6, PT ;", model: |[a, b, c, e], _| { let (x, y) = (d(a, b), d(c, e)); p1(x.is_nan() || y.is_nan() || x != y) } },
    Case { code: "DSETP.MIN.AND P1, PT, R4, R6, PT ;", model: |[a, b, c, e], _| { let (x, y) = (d(a, b), d(c, e)); p1(if x.is_nan() { false } else if y.is_nan() { true } else if x == y { x.is_sign_negative() || !y.is_sign_negative() } else { x < y }) } },
    Case { code: "DSETP.MAX.AND PT, P1, R4, R6, PT ;", model: |[a, b, c, e], _| { let (x, y) = (d(a, b), d(c, e)); p1(x.is_nan() && y.is_nan()) } },
];

const EDGES: [f32; 24] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    1.5,
    3.0,
    -2.5,
    f32::MAX,
    f32::MIN_POSITIVE,
    1e-45,
    -1e-44,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    1.0000001,
    1.7e-38,
    1e30,
    -1e-30,
    0.1,
    std::f32::consts::PI,
    65504.0,
    2.5,
    -0.5,
];

fn input(rng: &mut Rng, round: usize, l: usize, k: usize) -> u32 {
    match round {
        0 | 1 => EDGES[(l * (k + 2) + round * 5 + k * 7) % EDGES.len()].to_bits(),
        2 => {
            // halves
            let hh = |rng: &mut Rng| -> u32 {
                match rng.below(12) {
                    0 => [0x7c00, 0xfc00, 0x7e00, 0x0001, 0x8000, 0x3c00, 0x7bff, 0x0400][rng.below(8) as usize],
                    _ => h((rng.below(8000) as f64 - 4000.0) / 128.0) as u32,
                }
            };
            hh(rng) | (hh(rng) << 16)
        }
        3 => ((rng.below(2000) as f32 - 1000.0) / (1 << rng.below(12)) as f32).to_bits(),
        4 => (rng.u32() & 0x8fff_ffff) | 0x3000_0000, // moderate exponents, random significands
        _ => rng.u32(),
    }
}

#[test]
fn float_instructions_match_the_model() {
    let mut h = WarpHarness::new();
    let mut checked = 0usize;
    for case in CASES {
        let code = asm(&format!("{}\nEXIT ;", case.code));
        for round in 0..8 {
            let mut rng = Rng(0xf10a7 + round as u64 * 31);
            let ins: Vec<[u32; 4]> = (0..32).map(|l| [0, 1, 2, 3].map(|k| input(&mut rng, round, l, k))).collect();
            let ps: Vec<bool> = (0..32).map(|l| (l + round) % 3 == 0).collect();
            for k in 0..4 {
                h.write_reg(4 + k as u8, lanes(|l| ins[l][k]));
            }
            h.write_reg(0, [0; 32]);
            h.write_reg(1, [0; 32]);
            h.write_pred(0, ps.iter().enumerate().fold(0, |m, (l, &p)| m | ((p as u32) << l)));
            h.write_pred(1, 0);
            h.run(&code).unwrap_or_else(|e| panic!("{}: {e}", case.code));
            let (r0v, r1v, p1v) = (h.read_reg(0), h.read_reg(1), h.read_pred(1));
            for l in 0..32 {
                let Some((e0, e1, ep)) = (case.model)(ins[l], ps[l]) else { continue };
                checked += 1;
                let ctx = format!("{} lane {l}: inputs {:x?} p={}", case.code, ins[l], ps[l]);
                match ep {
                    Some(ep) => assert_eq!((p1v >> l) & 1 != 0, ep, "P1 of {ctx}"),
                    None => assert_eq!(r0v[l], e0, "R0 of {ctx}: got {:e} want {:e}", f(r0v[l]), f(e0)),
                }
                if let Some(e1) = e1 {
                    assert_eq!(r1v[l], e1, "R1 of {ctx}");
                }
            }
        }
    }
    assert!(checked > 20_000, "only {checked} lanes checked");
}

/// Directed rounding brackets round-to-nearest for every fp32 and fp64 operation.
#[test]
fn directed_rounding_brackets_nearest() {
    let mut h = WarpHarness::new();
    let ops = [("FADD", "R4, R5"), ("FMUL", "R4, R5"), ("FFMA", "R4, R5, R6")];
    let mut rng = Rng(4242);
    for round in 0..20 {
        for k in 4..8u8 {
            h.write_reg(k, lanes(|_| if round % 2 == 0 { rng.u32() } else { (rng.u32() & 0x83ff_ffff) | 0x3c00_0000 }));
        }
        for (op, args) in ops {
            let mut res = Vec::new();
            for m in ["", ".RM", ".RP", ".RZ"] {
                run(&mut h, &format!("{op}{m} R0, {args} ;\nEXIT ;")).unwrap();
                res.push(h.read_reg(0));
            }
            for l in 0..32 {
                let [n, dn, up, z] = [res[0][l], res[1][l], res[2][l], res[3][l]].map(f);
                if n.is_nan() {
                    assert!(dn.is_nan() && up.is_nan() && z.is_nan());
                    continue;
                }
                assert!(dn <= n && n <= up, "{op} lane {l}: {dn} {n} {up}");
                assert!(z.to_bits() == dn.to_bits() || z.to_bits() == up.to_bits() || (z == 0.0 && dn == 0.0));
                assert!(f32::from_bits(dn.to_bits()) <= up);
            }
        }
        for (op, args) in [("DADD", "R4, R6"), ("DMUL", "R4, R6"), ("DFMA", "R4, R6, R4")] {
            let mut res = Vec::new();
            for m in ["", ".RM", ".RP", ".RZ"] {
                run(&mut h, &format!("{op}{m} R0, {args} ;\nEXIT ;")).unwrap();
                res.push((h.read_reg(0), h.read_reg(1)));
            }
            for l in 0..32 {
                let v: Vec<f64> = res.iter().map(|(lo, hi)| d(lo[l], hi[l])).collect();
                if v[0].is_nan() {
                    continue;
                }
                assert!(v[1] <= v[0] && v[0] <= v[2], "{op} lane {l}: {v:?}");
                assert!(v[3] == v[1] || v[3] == v[2]);
                // the brackets are adjacent or equal
                let (a, b) = (v[1], v[2]);
                assert!(
                    a == b
                        || (a.is_finite()
                            && b.is_finite()
                            && f64::from_bits(if a >= 0.0 { a.to_bits() + 1 } else { a.to_bits() - 1 }) == b)
                        || a.is_infinite()
                        || b.is_infinite()
                        || a == 0.0
                        || b == 0.0,
                    "{op}: {a} {b}"
                );
            }
        }
    }
}
