//! Packed fp16 instructions: HADD2, HMUL2, HFMA2 (also `.F32` output and `.MMA`), HSETP2,
//! HSET2, HMNMX2.
//!
//! Each half is computed exactly and rounded once to nearest even (fp16 subnormals supported
//! unless `.FTZ`); NaN results are `0x7fff`. A source with the `.F32` swizzle is an fp32 value
//! converted to fp16 towards zero and used in both halves; `.H0_H0` / `.H1_H1` replicate one
//! half.

use crate::decode::{BopEval, HOp, HSrc, OpKind};
use crate::fp::{self, Rnd, F16, F32, F64};
use crate::state::{lanes, Warp};

use super::float::fcmp;

/// The two halves (low, high) of a half2 source in lane l, as exact f64 bit patterns.
#[inline(always)]
fn halves(w: &Warp, s: HSrc, l: usize, ftz: bool) -> [u64; 2] {
    let v = w.lane(s.s, l);
    let conv = |h: u32| -> u64 {
        let h = if ftz { F16.ftz(h as u64) } else { h as u64 };
        fp::convert(h, &F16, &F64, Rnd::Rn)
    };
    let mut r = match s.swz {
        1 => {
            let x = conv(v & 0xffff);
            [x, x]
        }
        2 => {
            let x = conv(v >> 16);
            [x, x]
        }
        3 => {
            // an fp32 operand is first converted to fp16 towards zero (this is how nvcc
            // implements `__float2half_rz`: `HADD2 Rd, Ra.F32, -RZ.H0_H0`)
            let h = fp::convert(if ftz { fp::ftz32(v) } else { v } as u64, &F32, &F16, Rnd::Rz);
            let x = conv(h as u32);
            [x, x]
        }
        _ => [conv(v & 0xffff), conv(v >> 16)],
    };
    for x in &mut r {
        if s.abs {
            *x &= !(1u64 << 63);
        }
        if s.neg {
            *x ^= 1u64 << 63;
        }
    }
    r
}

/// One half of HADD2/HMUL2/HFMA2: exact operation on f64 values, one rounding into `out`.
#[inline]
fn hop(op: HOp, a: u64, b: u64, c: u64, out: &fp::Fmt) -> u64 {
    let (x, y) = (f64::from_bits(a), f64::from_bits(b));
    match op {
        HOp::Add => {
            let s = x + y;
            let bb = s - x;
            let err = (x - (s - bb)) + (y - bb);
            if err == 0.0 && s.is_finite() {
                fp::round_f64(s, Rnd::Rn, out)
            } else {
                fp::add(a, b, &F64, out, Rnd::Rn)
            }
        }
        HOp::Mul => {
            let p = x * y;
            if p.is_finite() && p != 0.0 && x.mul_add(y, -p) == 0.0 {
                fp::round_f64(p, Rnd::Rn, out)
            } else {
                fp::mul(a, b, &F64, out, Rnd::Rn)
            }
        }
        HOp::Fma => fp::fma(a, b, c, &F64, out, Rnd::Rn),
    }
}

#[inline]
fn sat16(h: u64) -> u64 {
    match fp::classify(h, &F16) {
        fp::Val::Nan => 0,
        _ => {
            if F16.is_neg(h) {
                0
            } else if h >= 0x3c00 {
                0x3c00
            } else {
                h
            }
        }
    }
}

/// Min/max of two halves with PTX rules (NaN yields the other, -0 < +0).
fn hminmax(a: u16, b: u16, min: bool) -> u16 {
    let an = F16.is_nan(a as u64);
    let bn = F16.is_nan(b as u64);
    match (an, bn) {
        (true, true) => return fp::F16_NAN,
        (true, false) => return b,
        (false, true) => return a,
        _ => {}
    }
    let key = |x: u16| -> i32 {
        if x & 0x8000 != 0 {
            -((x & 0x7fff) as i32) - 1
        } else {
            x as i32
        }
    };
    if (key(a) < key(b)) == min {
        a
    } else {
        b
    }
}

#[inline(always)]
pub(super) fn exec(w: &mut Warp, k: &OpKind, exec: u32) {
    match *k {
        OpKind::H2 { op, d, a, b, c, f32, ftz, sat } => {
            let mut out = [0u32; 32];
            for l in lanes(exec) {
                let (x, y, z) = (halves(w, a, l, ftz), halves(w, b, l, ftz), halves(w, c, l, ftz));
                if f32 {
                    let mut r = hop(op, x[0], y[0], z[0], &F32) as u32;
                    if ftz {
                        r = fp::ftz32(r);
                    }
                    if sat {
                        r = fp::sat32(r);
                    }
                    out[l] = r;
                } else {
                    let mut r = [0u64; 2];
                    for i in 0..2 {
                        let mut h = hop(op, x[i], y[i], z[i], &F16);
                        if ftz {
                            h = F16.ftz(h);
                        }
                        if sat {
                            h = sat16(h);
                        }
                        r[i] = h;
                    }
                    out[l] = (r[0] | (r[1] << 16)) as u32;
                }
            }
            w.write(d, &out, exec);
        }
        OpKind::Hsetp2 { p, q, a, b, c, cmp, hand, ftz, bop } => {
            let cm = w.pred(c.i, c.not);
            let (mut lo, mut hi) = (0u32, 0u32);
            for l in lanes(exec) {
                let (x, y) = (halves(w, a, l, ftz), halves(w, b, l, ftz));
                let r0 = fcmp(f64::from_bits(x[0]), f64::from_bits(y[0]), cmp);
                let r1 = fcmp(f64::from_bits(x[1]), f64::from_bits(y[1]), cmp);
                lo |= (r0 as u32) << l;
                hi |= (r1 as u32) << l;
            }
            if hand {
                let both = lo & hi;
                w.write_pred(p, bop.eval(both, cm), exec);
                w.write_pred(q, bop.eval(!both, cm), exec);
            } else {
                w.write_pred(p, bop.eval(lo, cm), exec);
                w.write_pred(q, bop.eval(hi, cm), exec);
            }
        }
        OpKind::Hset2 { d, a, b, c, cmp, bf, ftz, bop } => {
            let cm = w.pred(c.i, c.not);
            let mut out = [0u32; 32];
            for l in lanes(exec) {
                let (x, y) = (halves(w, a, l, ftz), halves(w, b, l, ftz));
                let cl = (cm >> l) & 1;
                let mut r = 0u32;
                for i in 0..2 {
                    let t = fcmp(f64::from_bits(x[i]), f64::from_bits(y[i]), cmp) as u32;
                    let t = bop.eval(t, cl) & 1;
                    let h = if t != 0 {
                        if bf {
                            0x3c00
                        } else {
                            0xffff
                        }
                    } else {
                        0
                    };
                    r |= h << (16 * i);
                }
                out[l] = r;
            }
            w.write(d, &out, exec);
        }
        OpKind::Hmnmx2 { d, a, b, c, ftz } => {
            let cm = w.pred(c.i, c.not);
            let mut out = [0u32; 32];
            for l in lanes(exec) {
                let (x, y) = (halves(w, a, l, ftz), halves(w, b, l, ftz));
                let min = (cm >> l) & 1 != 0;
                let mut r = 0u32;
                for i in 0..2 {
                    let hx = fp::convert(x[i], &F64, &F16, Rnd::Rn) as u16;
                    let hy = fp::convert(y[i], &F64, &F16, Rnd::Rn) as u16;
                    r |= (hminmax(hx, hy, min) as u32) << (16 * i);
                }
                out[l] = r;
            }
            w.write(d, &out, exec);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: f32) -> u64 {
        fp::convert(x.to_bits() as u64, &F32, &F64, Rnd::Rn)
    }

    #[test]
    fn half_ops_round_once() {
        // 1 + 2^-11 is a tie in fp16 -> rounds to even (1.0)
        assert_eq!(hop(HOp::Add, h(1.0), h(2f32.powi(-11)), 0, &F16), 0x3c00);
        // 1 + 3*2^-12 rounds up
        assert_eq!(hop(HOp::Add, h(1.0), h(3.0 * 2f32.powi(-12)), 0, &F16), 0x3c01);
        assert_eq!(hop(HOp::Mul, h(256.0), h(256.0), 0, &F16), 0x7c00);
        assert_eq!(hop(HOp::Fma, h(2.0), h(3.0), h(1.0), &F16), 0x4700);
        assert_eq!(hop(HOp::Add, h(f32::INFINITY), h(f32::NEG_INFINITY), 0, &F16), 0x7fff);
        // fp16 subnormal result kept
        assert_eq!(hop(HOp::Mul, h(2f32.powi(-14)), h(0.5), 0, &F16), 0x0200);
        assert_eq!(hminmax(0x3c00, 0x7fff, true), 0x3c00);
        assert_eq!(hminmax(0x8000, 0x0000, true), 0x8000);
    }
}
