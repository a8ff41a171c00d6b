//! fp32, fp64 and conversion instructions: FADD, FMUL, FFMA, FSETP, FSEL, FMNMX, FCHK, MUFU,
//! FRND, F2I, I2F, F2F, I2I, DADD, DMUL, DFMA, DSETP.
//!
//! Rounding is exact in every mode (see `fp.rs`); `.FTZ` flushes subnormal inputs and results
//! (results are flushed after rounding) to zeros of the same sign; `.SAT` clamps to [0, 1] with
//! NaN giving +0. NaN results are the canonical NaN `0x7fffffff`.
//!
//! MUFU: every function is evaluated in fp64 and rounded to nearest fp32; RCP, RSQ and SQRT
//! are therefore correctly rounded, EX2/LG2/SIN/COS/TANH are within an ulp (the hardware is
//! within 2 ulp; nvcc never relies on more). MUFU flushes subnormal inputs and results to zero as
//! the hardware's SFU does. `MUFU.SIN/COS` take their argument in revolutions: sin(2π·x) (nvcc
//! multiplies by 1/(2π) first). RCP64H/RSQ64H return the high word of the fp64 reciprocal /
//! reciprocal square root of the fp64 number whose high word is the operand (low word 0);
//! nvcc refines them with DFMA.

use crate::decode::{BopEval, DSrc, FCmp, FSrc, FTy, IntTy, MufuFn, OpKind, Src};
use crate::fp::{self, Rnd, F16, F32, F64};
use crate::state::{mask_of, Scratch, Warp};

#[inline(always)]
pub(super) fn fval<'a>(w: &'a Warp, s: FSrc, tmp: &'a mut Scratch) -> &'a [u32; 32] {
    if s.and == u32::MAX && s.xor == 0 {
        return w.src(s.s, tmp);
    }
    let t = tmp.put([0; 32]);
    match s.s {
        Src::R(r) => {
            let v = &w.regs[r as usize];
            for l in 0..32 {
                t[l] = (v[l] & s.and) ^ s.xor;
            }
        }
        Src::I(x) => *t = [(x & s.and) ^ s.xor; 32],
    }
    t
}

#[inline(always)]
fn dval(w: &Warp, s: DSrc, l: usize) -> u64 {
    let lo = w.lane(s.lo, l);
    let hi = (w.lane(s.hi, l) & s.and) ^ s.xor;
    ((hi as u64) << 32) | lo as u64
}

#[inline(always)]
fn post(r: u32, ftz: bool, sat: bool) -> u32 {
    let r = if ftz { fp::ftz32(r) } else { r };
    if sat {
        fp::sat32(r)
    } else {
        r
    }
}

/// IEEE comparison with the ordered / unordered variants.
#[inline(always)]
pub(crate) fn fcmp(a: f64, b: f64, cmp: FCmp) -> bool {
    let un = a.is_nan() || b.is_nan();
    match cmp {
        FCmp::F => false,
        FCmp::Lt => a < b,
        FCmp::Eq => a == b,
        FCmp::Le => a <= b,
        FCmp::Gt => a > b,
        FCmp::Ne => !un && a != b,
        FCmp::Ge => a >= b,
        FCmp::Num => !un,
        FCmp::Nan => un,
        FCmp::Ltu => un || a < b,
        FCmp::Equ => un || a == b,
        FCmp::Leu => un || a <= b,
        FCmp::Gtu => un || a > b,
        FCmp::Neu => un || a != b,
        FCmp::Geu => un || a >= b,
        FCmp::T => true,
        // MIN/MAX only exist on DSETP (handled there)
        FCmp::Min => !un && a <= b,
        FCmp::Max => !un && a >= b,
    }
}

fn mufu(x: u32, f: MufuFn) -> u32 {
    let xf = f32::from_bits(fp::ftz32(x));
    let v = xf as f64;
    let r = match f {
        MufuFn::Rcp64h | MufuFn::Rsq64h => {
            let d = f64::from_bits((x as u64) << 32);
            let r = if f == MufuFn::Rcp64h { 1.0 / d } else { 1.0 / d.sqrt() };
            let bits = if r.is_nan() { 0xfff8_0000_0000_0000 } else { r.to_bits() };
            return (bits >> 32) as u32;
        }
        MufuFn::Rcp => 1.0 / v,
        MufuFn::Rsq => {
            if xf > 0.0 && xf.is_finite() {
                let y = fp::rsqrt32_exact(xf);
                return fp::ftz32(y.to_bits());
            }
            1.0 / v.sqrt()
        }
        MufuFn::Sqrt => v.sqrt(),
        MufuFn::Ex2 => v.exp2(),
        MufuFn::Lg2 => v.log2(),
        MufuFn::Sin => {
            if v.is_infinite() {
                f64::NAN
            } else {
                (std::f64::consts::TAU * (v - v.round())).sin()
            }
        }
        MufuFn::Cos => {
            if v.is_infinite() {
                f64::NAN
            } else {
                (std::f64::consts::TAU * (v - v.round())).cos()
            }
        }
        MufuFn::Tanh => v.tanh(),
    };
    fp::ftz32(fp::round_f64(r, Rnd::Rn, &F32) as u32)
}

/// FCHK: whether a / b needs nvcc's slow path (operands or quotient out of the range where
/// the fast reciprocal sequence is exact).
fn fchk(a: u32, b: u32) -> bool {
    let ea = ((a >> 23) & 0xff) as i32;
    let eb = ((b >> 23) & 0xff) as i32;
    if eb == 0 || eb == 255 || ea == 255 {
        return true; // b zero / subnormal / inf / nan, a inf / nan
    }
    if ea == 0 {
        return a & 0x7fff_ffff != 0; // a subnormal (zero is fine)
    }
    let (ea, eb) = (ea - 127, eb - 127);
    !(-125..=125).contains(&ea) || !(-125..=125).contains(&eb) || !(-125..=125).contains(&(ea - eb)) || ea <= -126 + 24
}

/// Read a float operand of type `ty` for lane l as f64 bits (exact), with half select.
#[inline]
fn fsrc_bits(w: &Warp, lo: Src, hi: Src, ty: FTy, hsel: u8, l: usize) -> (u64, &'static fp::Fmt) {
    match ty {
        FTy::F32 => (w.lane(lo, l) as u64, &F32),
        FTy::F64 => (((w.lane(hi, l) as u64) << 32) | w.lane(lo, l) as u64, &F64),
        FTy::F16 => {
            let v = w.lane(lo, l);
            ((if hsel == 2 { v >> 16 } else { v & 0xffff }) as u64, &F16)
        }
    }
}

fn apply_neg_abs(bits: u64, f: &fp::Fmt, neg: bool, abs: bool) -> u64 {
    let mut b = bits;
    if abs {
        b &= f.abs_mask();
    }
    if neg {
        b ^= f.sign_bit();
    }
    b
}

fn fmt_of(t: FTy) -> &'static fp::Fmt {
    match t {
        FTy::F16 => &F16,
        FTy::F32 => &F32,
        FTy::F64 => &F64,
    }
}

/// Write a result of `regs` registers (lo, hi).
#[inline]
fn write_wide(w: &mut Warp, d: u16, lo: &[u32; 32], hi: &[u32; 32], wide: bool, exec: u32) {
    w.write(d, lo, exec);
    if wide {
        w.write(d + 1, hi, exec);
    }
}

#[inline(always)]
fn dnan(x: f64) -> u64 {
    if x.is_nan() {
        F64.nan
    } else {
        x.to_bits()
    }
}

#[inline(always)]
pub(super) fn exec(w: &mut Warp, k: &OpKind, exec: u32) {
    let (mut t0, mut t1, mut t2) = (Scratch::new(), Scratch::new(), Scratch::new());
    match *k {
        OpKind::Fadd { d, a, b, ftz, rnd, sat } => {
            let (av, bv) = (fval(w, a, &mut t0), fval(w, b, &mut t1));
            let mut out = [0u32; 32];
            if !ftz && !sat && rnd == Rnd::Rn {
                for l in 0..32 {
                    out[l] = fp::canon32(f32::from_bits(av[l]) + f32::from_bits(bv[l]));
                }
            } else {
                for l in 0..32 {
                    let (x, y) = if ftz { (fp::ftz32(av[l]), fp::ftz32(bv[l])) } else { (av[l], bv[l]) };
                    out[l] = post(fp::fadd32(x, y, rnd), ftz, sat);
                }
            }
            w.write(d, &out, exec);
        }
        OpKind::Fmul { d, a, b, ftz, rnd, sat, scale } => {
            let (av, bv) = (fval(w, a, &mut t0), fval(w, b, &mut t1));
            let mut out = [0u32; 32];
            if !ftz && !sat && rnd == Rnd::Rn && scale == 0 {
                for l in 0..32 {
                    out[l] = fp::canon32(f32::from_bits(av[l]) * f32::from_bits(bv[l]));
                }
            } else {
                for l in 0..32 {
                    let (x, y) = if ftz { (fp::ftz32(av[l]), fp::ftz32(bv[l])) } else { (av[l], bv[l]) };
                    out[l] = post(fp::fmul32_scaled(x, y, scale, rnd), ftz, sat);
                }
            }
            w.write(d, &out, exec);
        }
        OpKind::Ffma { d, a, b, c, ftz, rnd, sat } => {
            let (av, bv, cv) = (fval(w, a, &mut t0), fval(w, b, &mut t1), fval(w, c, &mut t2));
            let mut out = [0u32; 32];
            if !ftz && !sat && rnd == Rnd::Rn {
                for l in 0..32 {
                    out[l] = fp::canon32(f32::from_bits(av[l]).mul_add(f32::from_bits(bv[l]), f32::from_bits(cv[l])));
                }
            } else {
                for l in 0..32 {
                    let (x, y, z) = if ftz {
                        (fp::ftz32(av[l]), fp::ftz32(bv[l]), fp::ftz32(cv[l]))
                    } else {
                        (av[l], bv[l], cv[l])
                    };
                    out[l] = post(fp::ffma32(x, y, z, rnd), ftz, sat);
                }
            }
            w.write(d, &out, exec);
        }
        OpKind::Fsetp { p, q, a, b, c, cmp, ftz, bop } => {
            let (av, bv) = (fval(w, a, &mut t0), fval(w, b, &mut t1));
            let cm = w.pred(c.i, c.not);
            let r = mask_of(|l| {
                let (x, y) = if ftz { (fp::ftz32(av[l]), fp::ftz32(bv[l])) } else { (av[l], bv[l]) };
                fcmp(f32::from_bits(x) as f64, f32::from_bits(y) as f64, cmp)
            });
            w.write_pred(p, bop.eval(r, cm), exec);
            w.write_pred(q, bop.eval(!r, cm), exec);
        }
        OpKind::Fsel { d, a, b, c } => {
            let m = w.pred(c.i, c.not);
            let (av, bv) = (fval(w, a, &mut t0), fval(w, b, &mut t1));
            let mut out = [0u32; 32];
            for l in 0..32 {
                out[l] = if (m >> l) & 1 != 0 { av[l] } else { bv[l] };
            }
            w.write(d, &out, exec);
        }
        OpKind::Fmnmx { d, a, b, c, ftz } => {
            let m = w.pred(c.i, c.not);
            let (av, bv) = (fval(w, a, &mut t0), fval(w, b, &mut t1));
            let mut out = [0u32; 32];
            for l in 0..32 {
                let (x, y) = if ftz { (fp::ftz32(av[l]), fp::ftz32(bv[l])) } else { (av[l], bv[l]) };
                out[l] = fp::fminmax32(x, y, (m >> l) & 1 != 0);
            }
            w.write(d, &out, exec);
        }
        OpKind::Fchk { p, a, b } => {
            let (av, bv) = (w.src(a, &mut t0), w.src(b, &mut t1));
            let r = mask_of(|l| fchk(av[l], bv[l]));
            w.write_pred(p, r, exec);
        }
        OpKind::Mufu { d, a, f } => {
            let av = fval(w, a, &mut t0);
            let mut out = [0u32; 32];
            for l in crate::state::lanes(exec) {
                out[l] = mufu(av[l], f);
            }
            w.write(d, &out, exec);
        }
        OpKind::Frnd { d, a, rnd, ftz } => {
            let av = fval(w, a, &mut t0);
            let mut out = [0u32; 32];
            for l in 0..32 {
                let x = if ftz { fp::ftz32(av[l]) } else { av[l] };
                out[l] = fp::round_integral(x as u64, &F32, rnd) as u32;
            }
            w.write(d, &out, exec);
        }
        OpKind::F2i { d, lo, hi, hsel, neg, abs, dty, sty, rnd, ftz } => {
            let (mut olo, mut ohi) = ([0u32; 32], [0u32; 32]);
            let (mn, mx) = dty.range();
            for l in crate::state::lanes(exec) {
                let (bits, f) = fsrc_bits(w, lo, hi, sty, hsel, l);
                let mut bits = apply_neg_abs(bits, f, neg, abs);
                if ftz {
                    bits = f.ftz(bits);
                }
                let v = fp::to_int(bits, f, rnd, mn, mx) as i64 as u64;
                olo[l] = v as u32;
                ohi[l] = (v >> 32) as u32;
            }
            write_wide(w, d, &olo, &ohi, dty.bits() == 64, exec);
        }
        OpKind::I2f { d, lo, hi, bsel, dty, sty, rnd } => {
            let (mut olo, mut ohi) = ([0u32; 32], [0u32; 32]);
            let f = fmt_of(dty);
            for l in crate::state::lanes(exec) {
                let x = w.lane(lo, l);
                let (neg, mag) = match sty.bits() {
                    64 => {
                        let v = ((w.lane(hi, l) as u64) << 32) | x as u64;
                        if sty.signed() && (v as i64) < 0 {
                            (true, (v as i64).unsigned_abs())
                        } else {
                            (false, v)
                        }
                    }
                    32 => {
                        if sty.signed() && (x as i32) < 0 {
                            (true, (x as i32).unsigned_abs() as u64)
                        } else {
                            (false, x as u64)
                        }
                    }
                    bits => {
                        let v = (x >> (8 * bsel as u32)) & ((1u32 << bits) - 1);
                        let sv = if sty.signed() { ((v << (32 - bits)) as i32) >> (32 - bits) } else { v as i32 };
                        (sv < 0, sv.unsigned_abs() as u64)
                    }
                };
                let r = fp::from_int(neg, mag, rnd, f);
                olo[l] = r as u32;
                ohi[l] = (r >> 32) as u32;
            }
            write_wide(w, d, &olo, &ohi, dty == FTy::F64, exec);
        }
        OpKind::F2f { d, lo, hi, hsel, neg, abs, dty, sty, rnd, integral, ftz, sat } => {
            let (mut olo, mut ohi) = ([0u32; 32], [0u32; 32]);
            let fo = fmt_of(dty);
            for l in crate::state::lanes(exec) {
                let (bits, fi) = fsrc_bits(w, lo, hi, sty, hsel, l);
                let mut bits = apply_neg_abs(bits, fi, neg, abs);
                if ftz {
                    bits = fi.ftz(bits);
                }
                let mut r = if integral && dty == sty {
                    fp::round_integral(bits, fo, rnd)
                } else if integral {
                    let i = fp::round_integral(bits, fi, rnd);
                    fp::convert(i, fi, fo, Rnd::Rn)
                } else {
                    fp::convert(bits, fi, fo, rnd)
                };
                if ftz {
                    r = fo.ftz(r);
                }
                if sat {
                    r = match fp::classify(r, fo) {
                        fp::Val::Nan => 0,
                        _ => {
                            let one = fp::convert(1.0f64.to_bits(), &F64, fo, Rnd::Rn);
                            if fo.is_neg(r) {
                                0
                            } else if fp::classify(r, fo) == fp::Val::Inf(false)
                                || f64::from_bits(fp::convert(r, fo, &F64, Rnd::Rn)) >= 1.0
                            {
                                one
                            } else {
                                r
                            }
                        }
                    };
                }
                olo[l] = r as u32;
                ohi[l] = (r >> 32) as u32;
            }
            write_wide(w, d, &olo, &ohi, dty == FTy::F64, exec);
        }
        OpKind::I2i { d, a, dty, sty, sat } => {
            let av = w.src(a, &mut t0);
            let (mn, mx) = dty.range();
            let mut out = [0u32; 32];
            for l in 0..32 {
                let v: i64 = if sty.signed() { av[l] as i32 as i64 } else { av[l] as i64 };
                let r = if sat {
                    (v as i128).clamp(mn, mx) as i64
                } else {
                    let b = dty.bits();
                    let m = if b >= 32 { v } else { v & ((1i64 << b) - 1) };
                    if dty.signed() && b < 32 {
                        (m << (64 - b)) >> (64 - b)
                    } else {
                        m
                    }
                };
                out[l] = r as u32;
            }
            w.write(d, &out, exec);
        }
        OpKind::Dop { op, d, a, b, c, rnd } => {
            let (mut olo, mut ohi) = ([0u32; 32], [0u32; 32]);
            for l in crate::state::lanes(exec) {
                let (x, y, z) = (dval(w, a, l), dval(w, b, l), dval(w, c, l));
                let r = if rnd == Rnd::Rn {
                    let (fx, fy, fz) = (f64::from_bits(x), f64::from_bits(y), f64::from_bits(z));
                    match op {
                        crate::decode::DOp::Add => dnan(fx + fy),
                        crate::decode::DOp::Mul => dnan(fx * fy),
                        crate::decode::DOp::Fma => dnan(fx.mul_add(fy, fz)),
                    }
                } else {
                    match op {
                        crate::decode::DOp::Add => fp::add(x, y, &F64, &F64, rnd),
                        crate::decode::DOp::Mul => fp::mul(x, y, &F64, &F64, rnd),
                        crate::decode::DOp::Fma => fp::fma(x, y, z, &F64, &F64, rnd),
                    }
                };
                olo[l] = r as u32;
                ohi[l] = (r >> 32) as u32;
            }
            w.write(d, &olo, exec);
            w.write(d + 1, &ohi, exec);
        }
        OpKind::Dsetp { p, q, a, b, c, cmp, bop } => {
            let cm = w.pred(c.i, c.not);
            let (mut r, mut r2) = (0u32, 0u32);
            for l in crate::state::lanes(exec) {
                let (x, y) = (f64::from_bits(dval(w, a, l)), f64::from_bits(dval(w, b, l)));
                match cmp {
                    FCmp::Min | FCmp::Max => {
                        // p: `a` is what fmin/fmax choose; q: both are NaN (the result is NaN)
                        let key = |v: f64| -> i128 {
                            let b = v.to_bits();
                            if b >> 63 != 0 {
                                -((b & !(1u64 << 63)) as i128) - 1
                            } else {
                                b as i128
                            }
                        };
                        let pick_a = if x.is_nan() {
                            false
                        } else if y.is_nan() {
                            true
                        } else if cmp == FCmp::Min {
                            key(x) <= key(y)
                        } else {
                            key(x) >= key(y)
                        };
                        r |= (pick_a as u32) << l;
                        r2 |= ((x.is_nan() && y.is_nan()) as u32) << l;
                    }
                    _ => {
                        let v = fcmp(x, y, cmp);
                        r |= (v as u32) << l;
                        r2 |= (!v as u32) << l;
                    }
                }
            }
            w.write_pred(p, bop.eval(r, cm), exec);
            w.write_pred(q, bop.eval(r2, cm), exec);
        }
        _ => {}
    }
}

/// fp32 value of an integer type conversion helper for tests.
#[allow(dead_code)]
pub(crate) fn f2i_lane(bits: u32, dty: IntTy, rnd: Rnd) -> i64 {
    let (mn, mx) = dty.range();
    fp::to_int(bits as u64, &F32, rnd, mn, mx) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fp::F32_NAN;

    #[test]
    fn mufu_values() {
        let f = |x: f32| x.to_bits();
        assert_eq!(mufu(f(2.0), MufuFn::Rcp), f(0.5));
        assert_eq!(mufu(f(0.0), MufuFn::Rcp), f(f32::INFINITY));
        assert_eq!(mufu(f(-0.0), MufuFn::Rcp), f(f32::NEG_INFINITY));
        assert_eq!(mufu(f(4.0), MufuFn::Rsq), f(0.5));
        assert_eq!(mufu(f(-4.0), MufuFn::Rsq), F32_NAN);
        assert_eq!(mufu(f(3.0), MufuFn::Ex2), f(8.0));
        assert_eq!(mufu(f(8.0), MufuFn::Lg2), f(3.0));
        assert_eq!(mufu(f(0.0), MufuFn::Lg2), f(f32::NEG_INFINITY));
        assert_eq!(mufu(f(0.25), MufuFn::Sin), f(1.0));
        assert_eq!(mufu(f(0.5), MufuFn::Cos), f(-1.0));
        // subnormal input flushed: rcp(denormal) = inf
        assert_eq!(mufu(1, MufuFn::Rcp), f(f32::INFINITY));
        // subnormal result flushed
        assert_eq!(mufu(f(-130.0), MufuFn::Ex2), 0);
        assert_eq!(mufu(f(-126.0), MufuFn::Ex2), 0x0080_0000);
        assert_eq!(mufu(f32::NAN.to_bits(), MufuFn::Sqrt), F32_NAN);
        // RSQ64H of 4.0 (0x40100000 high word) = 0.5 (0x3fe00000)
        assert_eq!(mufu(0x4010_0000, MufuFn::Rsq64h), 0x3fe0_0000);
        assert_eq!(mufu(0x4000_0000, MufuFn::Rcp64h), 0x3fe0_0000);
    }

    #[test]
    fn fchk_classifies() {
        let f = |x: f32| x.to_bits();
        assert!(!fchk(f(1.0), f(3.0)));
        assert!(!fchk(0, f(3.0)));
        assert!(fchk(f(1.0), 0));
        assert!(fchk(f(1.0), f(f32::INFINITY)));
        assert!(fchk(f(f32::NAN), f(2.0)));
        assert!(fchk(f(1e38), f(1e-38)));
        assert!(fchk(1, f(2.0)));
    }
}
