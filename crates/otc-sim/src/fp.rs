//! Exact floating-point helpers: correctly rounded fp16 / fp32 / fp64 arithmetic in every IEEE
//! rounding mode, conversions, and the special-value rules of NVIDIA GPUs.
//!
//! Everything is integer arithmetic on the exact value (`u128` significands with a sticky bit),
//! so directed rounding (`.RM`, `.RP`, `.RZ`) is exact, not "round to nearest, then nudge".
//! The fp32 round-to-nearest fast paths of the executor use the host's IEEE arithmetic, which
//! gives the same bits (checked by the tests of this module).
//!
//! NaN results: fp32 operations return the canonical NaN `0x7fffffff` and fp16 operations
//! `0x7fff`, as NVIDIA GPUs do; fp64 operations return `0xfff8000000000000` for every NaN
//! result (CUDA's `CUDART_NAN`; NaN payloads are not propagated).

/// IEEE rounding direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Rnd {
    /// Nearest, ties to even.
    #[default]
    Rn,
    /// Towards zero.
    Rz,
    /// Towards minus infinity.
    Rm,
    /// Towards plus infinity.
    Rp,
}

/// A binary floating-point format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmt {
    /// Precision in bits, hidden bit included.
    pub prec: u32,
    /// Exponent field width.
    pub ebits: u32,
    /// Minimum normal exponent.
    pub emin: i32,
    /// Maximum exponent.
    pub emax: i32,
    /// The canonical NaN.
    pub nan: u64,
}

pub const F16: Fmt = Fmt { prec: 11, ebits: 5, emin: -14, emax: 15, nan: 0x7fff };
pub const F32: Fmt = Fmt { prec: 24, ebits: 8, emin: -126, emax: 127, nan: 0x7fff_ffff };
pub const F64: Fmt = Fmt { prec: 53, ebits: 11, emin: -1022, emax: 1023, nan: 0xfff8_0000_0000_0000 };

impl Fmt {
    #[inline]
    pub const fn sign_bit(&self) -> u64 {
        1u64 << (self.ebits + self.prec - 1)
    }
    #[inline]
    pub const fn inf(&self) -> u64 {
        ((1u64 << self.ebits) - 1) << (self.prec - 1)
    }
    #[inline]
    pub const fn frac_mask(&self) -> u64 {
        (1u64 << (self.prec - 1)) - 1
    }
    #[inline]
    pub const fn abs_mask(&self) -> u64 {
        self.sign_bit() - 1
    }
    #[inline]
    pub fn is_nan(&self, bits: u64) -> bool {
        bits & self.abs_mask() > self.inf()
    }
    #[inline]
    pub fn is_inf(&self, bits: u64) -> bool {
        bits & self.abs_mask() == self.inf()
    }
    #[inline]
    pub fn is_zero(&self, bits: u64) -> bool {
        bits & self.abs_mask() == 0
    }
    /// Subnormal (not zero).
    #[inline]
    pub fn is_subnormal(&self, bits: u64) -> bool {
        let a = bits & self.abs_mask();
        a != 0 && a <= self.frac_mask()
    }
    #[inline]
    pub fn is_neg(&self, bits: u64) -> bool {
        bits & self.sign_bit() != 0
    }
    /// Flush a subnormal to a zero of the same sign.
    #[inline]
    pub fn ftz(&self, bits: u64) -> u64 {
        if self.is_subnormal(bits) {
            bits & self.sign_bit()
        } else {
            bits
        }
    }
    /// Largest finite magnitude.
    #[inline]
    pub const fn max_finite(&self) -> u64 {
        self.inf() - 1
    }
}

/// A finite non-zero exact value `(-1)^neg * m * 2^e`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    pub neg: bool,
    pub m: u128,
    pub e: i32,
}

/// Classified operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    Nan,
    Inf(bool),
    Zero(bool),
    Fin(Term),
}

/// Classify a bit pattern of `fmt`.
#[inline]
pub fn classify(bits: u64, fmt: &Fmt) -> Val {
    let neg = fmt.is_neg(bits);
    let a = bits & fmt.abs_mask();
    if a > fmt.inf() {
        return Val::Nan;
    }
    if a == fmt.inf() {
        return Val::Inf(neg);
    }
    if a == 0 {
        return Val::Zero(neg);
    }
    let ef = (a >> (fmt.prec - 1)) as i32;
    let frac = a & fmt.frac_mask();
    let bias = fmt.emax;
    let (m, e) = if ef == 0 {
        (frac, fmt.emin - (fmt.prec as i32 - 1))
    } else {
        (frac | (1u64 << (fmt.prec - 1)), ef - bias - (fmt.prec as i32 - 1))
    };
    Val::Fin(Term { neg, m: m as u128, e })
}

/// Round the exact value `(-1)^neg * (m + f) * 2^e` into `fmt`, where `f = 0` if `!sticky`,
/// else some value strictly between 0 and 1 (callers guarantee that a sticky value has at least
/// two bits below the result's last place). A zero value gives a zero of sign `neg`.
pub fn round(neg: bool, m: u128, e: i32, sticky: bool, mode: Rnd, fmt: &Fmt) -> u64 {
    let sign = if neg { fmt.sign_bit() } else { 0 };
    if m == 0 && !sticky {
        return sign;
    }
    let p = fmt.prec as i32;
    let q_exp = if m == 0 {
        fmt.emin - (p - 1)
    } else {
        let top = e + (127 - m.leading_zeros() as i32);
        top.max(fmt.emin) - (p - 1)
    };
    let shift = q_exp as i64 - e as i64;
    let (mut q, above, exact_half, nonzero) = if shift <= 0 {
        let s = (-shift) as u32;
        // value = m * 2^e is a multiple of the last place; the sticky part is below half of it
        (m << s, false, false, sticky)
    } else if shift >= 128 {
        (0u128, false, false, true)
    } else {
        let s = shift as u32;
        let q = m >> s;
        let rem = m & ((1u128 << s) - 1);
        let half = 1u128 << (s - 1);
        (q, rem > half || (rem == half && sticky), rem == half && !sticky, rem != 0 || sticky)
    };
    let up = match mode {
        Rnd::Rn => above || (exact_half && q & 1 == 1),
        Rnd::Rz => false,
        Rnd::Rp => !neg && nonzero,
        Rnd::Rm => neg && nonzero,
    };
    q += up as u128;
    let mut qe = q_exp;
    if q == 1u128 << p {
        q >>= 1;
        qe += 1;
    }
    if qe + p - 1 > fmt.emax {
        let away = match mode {
            Rnd::Rn => true,
            Rnd::Rz => false,
            Rnd::Rp => !neg,
            Rnd::Rm => neg,
        };
        return sign | if away { fmt.inf() } else { fmt.max_finite() };
    }
    let q = q as u64;
    let bits =
        if q >= 1u64 << (p - 1) { (((qe + p - 1 + fmt.emax) as u64) << (p - 1)) | (q - (1u64 << (p - 1))) } else { q };
    sign | bits
}

/// Round a term exactly.
#[inline]
pub fn round_term(t: Term, mode: Rnd, fmt: &Fmt) -> u64 {
    round(t.neg, t.m, t.e, false, mode, fmt)
}

/// Convert a value of one format into another (exact where possible, else rounded; NaN gives
/// the target's canonical NaN).
pub fn convert(bits: u64, from: &Fmt, to: &Fmt, mode: Rnd) -> u64 {
    match classify(bits, from) {
        Val::Nan => to.nan,
        Val::Inf(n) => (if n { to.sign_bit() } else { 0 }) | to.inf(),
        Val::Zero(n) => {
            if n {
                to.sign_bit()
            } else {
                0
            }
        }
        Val::Fin(t) => round_term(t, mode, to),
    }
}

/// Round a host f64 (exact value) into a format.
#[inline]
pub fn round_f64(x: f64, mode: Rnd, fmt: &Fmt) -> u64 {
    convert(x.to_bits(), &F64, fmt, mode)
}

fn zero_sum_sign(a_neg: bool, b_neg: bool, mode: Rnd) -> bool {
    if a_neg == b_neg {
        a_neg
    } else {
        mode == Rnd::Rm
    }
}

/// Exact sum of two finite non-zero terms, rounded.
pub fn add_terms(a: Term, b: Term, mode: Rnd, fmt: &Fmt) -> u64 {
    // Normalise both significands to have their top bit at position 125.
    let norm = |t: Term| -> (u128, i32) {
        let lz = t.m.leading_zeros() as i32; // >= 0
        let sh = lz - 2;
        if sh >= 0 {
            (t.m << sh, t.e - sh)
        } else {
            // only if m has more than 126 bits; not produced by callers (products are <= 106 bits)
            (t.m >> (-sh), t.e - sh)
        }
    };
    let (am, ae) = norm(a);
    let (bm, be) = norm(b);
    let ((x, xe, xn), (y, ye, yn)) = if ae > be || (ae == be && am >= bm) {
        ((am, ae, a.neg), (bm, be, b.neg))
    } else {
        ((bm, be, b.neg), (am, ae, a.neg))
    };
    let d = (xe - ye) as u32;
    let (ys, sticky) = if d >= 128 { (0u128, y != 0) } else { (y >> d, d > 0 && (y & ((1u128 << d) - 1)) != 0) };
    let (s, sticky) = if xn == yn {
        (x + ys, sticky)
    } else if sticky {
        (x - ys - 1, true)
    } else {
        (x - ys, false)
    };
    if s == 0 && !sticky {
        let n = zero_sum_sign(a.neg, b.neg, mode);
        return if n { fmt.sign_bit() } else { 0 };
    }
    round(xn, s, xe, sticky, mode, fmt)
}

/// The exact product of two finite non-zero terms.
#[inline]
pub fn mul_terms(a: Term, b: Term) -> Term {
    Term { neg: a.neg ^ b.neg, m: a.m * b.m, e: a.e + b.e }
}

/// `a + b` of two values of `fin` format, rounded into `fout`.
pub fn add(a: u64, b: u64, fin: &Fmt, fout: &Fmt, mode: Rnd) -> u64 {
    match (classify(a, fin), classify(b, fin)) {
        (Val::Nan, _) | (_, Val::Nan) => fout.nan,
        (Val::Inf(x), Val::Inf(y)) if x != y => fout.nan,
        (Val::Inf(x), _) | (_, Val::Inf(x)) => signed_inf(x, fout),
        (Val::Zero(x), Val::Zero(y)) => signed_zero(zero_sum_sign(x, y, mode), fout),
        (Val::Zero(_), Val::Fin(t)) | (Val::Fin(t), Val::Zero(_)) => round_term(t, mode, fout),
        (Val::Fin(x), Val::Fin(y)) => add_terms(x, y, mode, fout),
    }
}

/// `a * b` of two values of `fin` format, rounded into `fout`.
pub fn mul(a: u64, b: u64, fin: &Fmt, fout: &Fmt, mode: Rnd) -> u64 {
    match (classify(a, fin), classify(b, fin)) {
        (Val::Nan, _) | (_, Val::Nan) => fout.nan,
        (Val::Inf(_), Val::Zero(_)) | (Val::Zero(_), Val::Inf(_)) => fout.nan,
        (Val::Inf(x), Val::Inf(y))
        | (Val::Inf(x), Val::Fin(Term { neg: y, .. }))
        | (Val::Fin(Term { neg: x, .. }), Val::Inf(y)) => signed_inf(x ^ y, fout),
        (Val::Zero(x), Val::Zero(y))
        | (Val::Zero(x), Val::Fin(Term { neg: y, .. }))
        | (Val::Fin(Term { neg: x, .. }), Val::Zero(y)) => signed_zero(x ^ y, fout),
        (Val::Fin(x), Val::Fin(y)) => round_term(mul_terms(x, y), mode, fout),
    }
}

/// Fused `a * b + c`, one rounding.
pub fn fma(a: u64, b: u64, c: u64, fin: &Fmt, fout: &Fmt, mode: Rnd) -> u64 {
    let (va, vb, vc) = (classify(a, fin), classify(b, fin), classify(c, fin));
    if matches!(va, Val::Nan) || matches!(vb, Val::Nan) || matches!(vc, Val::Nan) {
        return fout.nan;
    }
    let sgn = |v: &Val| match v {
        Val::Inf(n) | Val::Zero(n) => *n,
        Val::Fin(t) => t.neg,
        Val::Nan => false,
    };
    let pneg = sgn(&va) ^ sgn(&vb);
    let p_inf = matches!(va, Val::Inf(_)) || matches!(vb, Val::Inf(_));
    let p_zero = matches!(va, Val::Zero(_)) || matches!(vb, Val::Zero(_));
    if p_inf && p_zero {
        return fout.nan;
    }
    if p_inf {
        if let Val::Inf(cn) = vc {
            if cn != pneg {
                return fout.nan;
            }
        }
        return signed_inf(pneg, fout);
    }
    if let Val::Inf(cn) = vc {
        return signed_inf(cn, fout);
    }
    if p_zero {
        return match vc {
            Val::Zero(cn) => signed_zero(zero_sum_sign(pneg, cn, mode), fout),
            Val::Fin(t) => round_term(t, mode, fout),
            _ => unreachable_nan(fout),
        };
    }
    let (Val::Fin(ta), Val::Fin(tb)) = (va, vb) else {
        return unreachable_nan(fout);
    };
    let p = mul_terms(ta, tb);
    match vc {
        Val::Zero(_) => round_term(p, mode, fout),
        Val::Fin(tc) => add_terms(p, tc, mode, fout),
        _ => unreachable_nan(fout),
    }
}

#[inline]
fn unreachable_nan(fout: &Fmt) -> u64 {
    fout.nan
}

#[inline]
pub fn signed_inf(neg: bool, f: &Fmt) -> u64 {
    (if neg { f.sign_bit() } else { 0 }) | f.inf()
}

#[inline]
pub fn signed_zero(neg: bool, f: &Fmt) -> u64 {
    if neg {
        f.sign_bit()
    } else {
        0
    }
}

/// Integer (as sign and magnitude) to float, rounded.
#[inline]
pub fn from_int(neg: bool, mag: u64, mode: Rnd, fmt: &Fmt) -> u64 {
    if mag == 0 {
        return 0;
    }
    round(neg, mag as u128, 0, false, mode, fmt)
}

/// `m / 2^s` rounded to an integer in `mode` (the sign `neg` matters for the directed modes).
fn shift_round(m: u128, s: u32, neg: bool, mode: Rnd) -> u128 {
    let (q, rem, half) =
        if s >= 128 { (0u128, m, None) } else { (m >> s, m & ((1u128 << s) - 1), Some(1u128 << (s - 1))) };
    let nonzero = rem != 0;
    let up = match mode {
        Rnd::Rn => match half {
            Some(h) => rem > h || (rem == h && q & 1 == 1),
            None => false,
        },
        Rnd::Rz => false,
        Rnd::Rp => !neg && nonzero,
        Rnd::Rm => neg && nonzero,
    };
    q + up as u128
}

/// Round a float value to an integral value of the same format (FRND, F2F with integer
/// rounding). NaN gives the canonical NaN.
pub fn round_integral(bits: u64, fmt: &Fmt, mode: Rnd) -> u64 {
    match classify(bits, fmt) {
        Val::Nan => fmt.nan,
        Val::Inf(_) | Val::Zero(_) => bits,
        Val::Fin(t) => {
            if t.e >= 0 {
                return bits;
            }
            // integer part with rounding, computed directly
            let q = shift_round(t.m, (-t.e) as u32, t.neg, mode);
            if q == 0 {
                signed_zero(t.neg, fmt)
            } else {
                round(t.neg, q, 0, false, Rnd::Rn, fmt)
            }
        }
    }
}

/// Float to integer with rounding and saturation to `[lo, hi]`; NaN gives 0.
pub fn to_int(bits: u64, fmt: &Fmt, mode: Rnd, lo: i128, hi: i128) -> i128 {
    match classify(bits, fmt) {
        Val::Nan => 0,
        Val::Zero(_) => 0,
        Val::Inf(n) => {
            if n {
                lo
            } else {
                hi
            }
        }
        Val::Fin(t) => {
            let mag: u128 = if t.e >= 0 {
                if t.e >= 80 {
                    u128::MAX >> 1
                } else {
                    t.m << t.e
                }
            } else {
                shift_round(t.m, (-t.e) as u32, t.neg, mode)
            };
            let mag = mag.min(u128::MAX >> 2) as i128;
            let v = if t.neg { -mag } else { mag };
            v.clamp(lo, hi)
        }
    }
}

// ------------------------------------------------------------------------------- fp32 helpers

pub const F32_NAN: u32 = 0x7fff_ffff;
pub const F16_NAN: u16 = 0x7fff;

#[inline]
pub fn ftz32(x: u32) -> u32 {
    if x & 0x7f80_0000 == 0 {
        x & 0x8000_0000
    } else {
        x
    }
}

#[inline]
pub fn canon32(x: f32) -> u32 {
    if x.is_nan() {
        F32_NAN
    } else {
        x.to_bits()
    }
}

/// fp32 `.SAT`: clamp to [0, 1], NaN to +0.
#[inline]
pub fn sat32(x: u32) -> u32 {
    let f = f32::from_bits(x);
    if f.is_nan() || f <= 0.0 {
        0
    } else if f >= 1.0 {
        0x3f80_0000
    } else {
        x
    }
}

/// fp32 add with rounding mode.
#[inline]
pub fn fadd32(a: u32, b: u32, mode: Rnd) -> u32 {
    if mode == Rnd::Rn {
        canon32(f32::from_bits(a) + f32::from_bits(b))
    } else {
        add(a as u64, b as u64, &F32, &F32, mode) as u32
    }
}

/// fp32 multiply with rounding mode.
#[inline]
pub fn fmul32(a: u32, b: u32, mode: Rnd) -> u32 {
    if mode == Rnd::Rn {
        canon32(f32::from_bits(a) * f32::from_bits(b))
    } else {
        mul(a as u64, b as u64, &F32, &F32, mode) as u32
    }
}

/// fp32 multiply scaled by 2^scale before the one rounding (FMUL.D2 / .M4 ...).
pub fn fmul32_scaled(a: u32, b: u32, scale: i32, mode: Rnd) -> u32 {
    if scale == 0 {
        return fmul32(a, b, mode);
    }
    match (classify(a as u64, &F32), classify(b as u64, &F32)) {
        (Val::Fin(x), Val::Fin(y)) => {
            let mut p = mul_terms(x, y);
            p.e += scale;
            round_term(p, mode, &F32) as u32
        }
        _ => mul(a as u64, b as u64, &F32, &F32, mode) as u32,
    }
}

/// fp32 fused multiply-add with rounding mode.
#[inline]
pub fn ffma32(a: u32, b: u32, c: u32, mode: Rnd) -> u32 {
    if mode == Rnd::Rn {
        canon32(f32::from_bits(a).mul_add(f32::from_bits(b), f32::from_bits(c)))
    } else {
        fma(a as u64, b as u64, c as u64, &F32, &F32, mode) as u32
    }
}

/// fp32 min/max as PTX `min`/`max`: a NaN operand yields the other, -0 < +0.
#[inline]
pub fn fminmax32(a: u32, b: u32, min: bool) -> u32 {
    let (fa, fb) = (f32::from_bits(a), f32::from_bits(b));
    match (fa.is_nan(), fb.is_nan()) {
        (true, true) => return F32_NAN,
        (true, false) => return b,
        (false, true) => return a,
        _ => {}
    }
    // total order on non-NaN values with -0 < +0
    let key = |x: u32| -> i64 {
        if x & 0x8000_0000 != 0 {
            -((x & 0x7fff_ffff) as i64) - 1
        } else {
            x as i64
        }
    };
    let a_less = key(a) < key(b);
    if a_less == min {
        a
    } else {
        b
    }
}

/// fp32 `1/sqrt(x)` correctly rounded to nearest (x finite, positive, normal).
pub fn rsqrt32_exact(x: f32) -> f32 {
    let approx = 1.0 / (x as f64).sqrt();
    let y = f32::from_bits(round_f64(approx, Rnd::Rn, &F32) as u32);
    // Fix up with exact midpoint tests: r > mid <=> mid^2 * x < 1.
    let above = |mid: f64| -> bool {
        // mid^2 * x < 1 ?
        let (mm, me) = split(mid);
        let (xm, xe) = split(x as f64);
        let lhs = mm as u128 * mm as u128 * xm as u128;
        let e = 2 * me + xe; // lhs * 2^e < 1 <=> lhs < 2^-e
        if e >= 0 {
            false
        } else if -e >= 127 {
            true
        } else {
            lhs < (1u128 << (-e))
        }
    };
    let mut y = y;
    for _ in 0..2 {
        let up = f32::from_bits(y.to_bits() + 1);
        let mid_up = (y as f64 + up as f64) / 2.0;
        if above(mid_up) {
            y = up;
            continue;
        }
        let down = f32::from_bits(y.to_bits() - 1);
        let mid_down = (y as f64 + down as f64) / 2.0;
        if !above(mid_down) {
            y = down;
            continue;
        }
        break;
    }
    y
}

/// Split a positive finite f64 into an odd-or-any integer significand and exponent.
fn split(x: f64) -> (u64, i32) {
    match classify(x.to_bits(), &F64) {
        Val::Fin(t) => {
            let tz = t.m.trailing_zeros();
            ((t.m >> tz) as u64, t.e + tz as i32)
        }
        _ => (0, 0),
    }
}

// ------------------------------------------------------------------------------- fp16 helpers

#[inline]
pub fn h2f64(h: u16) -> f64 {
    half::f16::from_bits(h).to_f64()
}

#[inline]
pub fn f64_to_h(x: f64, mode: Rnd) -> u16 {
    round_f64(x, mode, &F16) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next_rand(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    fn rand_f32(s: &mut u64) -> u32 {
        let r = next_rand(s);
        match r % 8 {
            0 => (r >> 32) as u32 & 0x807f_ffff, // subnormal
            1 => [0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7f7f_ffff, 0x0080_0000][(r >> 40) as usize % 6],
            _ => (r >> 32) as u32,
        }
    }

    #[test]
    fn rn_matches_host_arithmetic() {
        let mut s = 0x1234_5678_9abc_def1u64;
        for _ in 0..200_000 {
            let (a, b, c) = (rand_f32(&mut s), rand_f32(&mut s), rand_f32(&mut s));
            let (fa, fb, fc) = (f32::from_bits(a), f32::from_bits(b), f32::from_bits(c));
            assert_eq!(add(a as u64, b as u64, &F32, &F32, Rnd::Rn) as u32, canon32(fa + fb), "{a:#x}+{b:#x}");
            assert_eq!(mul(a as u64, b as u64, &F32, &F32, Rnd::Rn) as u32, canon32(fa * fb), "{a:#x}*{b:#x}");
            assert_eq!(
                fma(a as u64, b as u64, c as u64, &F32, &F32, Rnd::Rn) as u32,
                canon32(fa.mul_add(fb, fc)),
                "fma {a:#x} {b:#x} {c:#x}"
            );
            let d = ((a as u64) << 32) | b as u64;
            let e = ((c as u64) << 32) | a as u64;
            let (fd, fe) = (f64::from_bits(d), f64::from_bits(e));
            if !(fd + fe).is_nan() {
                assert_eq!(add(d, e, &F64, &F64, Rnd::Rn), (fd + fe).to_bits());
                assert_eq!(fma(d, e, d, &F64, &F64, Rnd::Rn), fd.mul_add(fe, fd).to_bits());
            }
        }
    }

    /// Directed rounding brackets the exact result: RM <= RN-result neighbourhood <= RP, and the
    /// rounded values differ by at most one ulp, RZ equals RM or RP by sign.
    #[test]
    fn directed_rounding_is_consistent() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            let (a, b, c) = (rand_f32(&mut s), rand_f32(&mut s), rand_f32(&mut s));
            let rm = fma(a as u64, b as u64, c as u64, &F32, &F32, Rnd::Rm) as u32;
            let rp = fma(a as u64, b as u64, c as u64, &F32, &F32, Rnd::Rp) as u32;
            let rz = fma(a as u64, b as u64, c as u64, &F32, &F32, Rnd::Rz) as u32;
            let rn = fma(a as u64, b as u64, c as u64, &F32, &F32, Rnd::Rn) as u32;
            let (fm, fp, fz, fnn) = (f32::from_bits(rm), f32::from_bits(rp), f32::from_bits(rz), f32::from_bits(rn));
            if fnn.is_nan() {
                assert!(fm.is_nan() && fp.is_nan() && fz.is_nan());
                continue;
            }
            assert!(fm <= fnn && fnn <= fp, "{a:#x} {b:#x} {c:#x}: {fm} {fnn} {fp}");
            assert!(rz == rm || rz == rp);
            // exactness check in f64 where the product and sum are exact
            let p = (f32::from_bits(a) as f64) * (f32::from_bits(b) as f64);
            let cc = f32::from_bits(c) as f64;
            let exact = p + cc;
            let bb = exact - p;
            let err = (p - (exact - bb)) + (cc - bb);
            if exact.is_finite() && err == 0.0 && (fm as f64) == exact {
                assert_eq!(fm, fp);
            }
        }
    }

    #[test]
    fn known_directed_cases() {
        // 1 + 2^-30 rounds up under RP, stays 1 under RN/RZ/RM
        let one = 1.0f32.to_bits();
        let tiny = 2f32.powi(-30).to_bits();
        assert_eq!(fadd32(one, tiny, Rnd::Rp), 0x3f80_0001);
        assert_eq!(fadd32(one, tiny, Rnd::Rn), one);
        assert_eq!(fadd32(one, tiny, Rnd::Rm), one);
        // 1 - 2^-30 under RZ/RM is the float just below 1
        let mtiny = (-2f32.powi(-30)).to_bits();
        assert_eq!(fadd32(one, mtiny, Rnd::Rz), 0x3f7f_ffff);
        assert_eq!(fadd32(one, mtiny, Rnd::Rm), 0x3f7f_ffff);
        assert_eq!(fadd32(one, mtiny, Rnd::Rp), one);
        // x + (-x) = -0 under RM only
        assert_eq!(fadd32(one, 0xbf80_0000, Rnd::Rm), 0x8000_0000);
        assert_eq!(fadd32(one, 0xbf80_0000, Rnd::Rz), 0);
        // overflow: RZ gives max finite
        assert_eq!(fmul32(0x7f7f_ffff, 0x4000_0000, Rnd::Rz), 0x7f7f_ffff);
        assert_eq!(fmul32(0x7f7f_ffff, 0x4000_0000, Rnd::Rn), 0x7f80_0000);
        assert_eq!(fmul32(0xff7f_ffff, 0x4000_0000, Rnd::Rp), 0xff7f_ffff);
        assert_eq!(fmul32(0xff7f_ffff, 0x4000_0000, Rnd::Rm), 0xff80_0000);
        // NaN canonical
        assert_eq!(fadd32(0x7fc0_0001, one, Rnd::Rn), F32_NAN);
        assert_eq!(fadd32(0x7f80_0000, 0xff80_0000, Rnd::Rz), F32_NAN);
    }

    #[test]
    fn conversions() {
        // f32 -> f16 RN and RZ
        assert_eq!(convert(1.0f32.to_bits() as u64, &F32, &F16, Rnd::Rn), 0x3c00);
        assert_eq!(convert(65520.0f32.to_bits() as u64, &F32, &F16, Rnd::Rn), 0x7c00);
        assert_eq!(convert(65520.0f32.to_bits() as u64, &F32, &F16, Rnd::Rz), 0x7bff);
        assert_eq!(convert(1e-8f32.to_bits() as u64, &F32, &F16, Rnd::Rn), 0);
        assert_eq!(convert(6e-8f32.to_bits() as u64, &F32, &F16, Rnd::Rn), 1);
        // int -> f32
        assert_eq!(from_int(false, 16_777_217, Rnd::Rn, &F32), 0x4b80_0000);
        assert_eq!(from_int(false, 16_777_217, Rnd::Rp, &F32), 0x4b80_0001);
        assert_eq!(from_int(true, 16_777_217, Rnd::Rm, &F32), 0xcb80_0001);
        assert_eq!(from_int(false, u64::MAX, Rnd::Rz, &F32), 0x5f7f_ffff);
        // f -> int
        let f = |x: f32| x.to_bits() as u64;
        assert_eq!(to_int(f(2.5), &F32, Rnd::Rn, i32::MIN as i128, i32::MAX as i128), 2);
        assert_eq!(to_int(f(3.5), &F32, Rnd::Rn, i32::MIN as i128, i32::MAX as i128), 4);
        assert_eq!(to_int(f(-2.5), &F32, Rnd::Rm, i32::MIN as i128, i32::MAX as i128), -3);
        assert_eq!(to_int(f(-2.5), &F32, Rnd::Rz, i32::MIN as i128, i32::MAX as i128), -2);
        assert_eq!(to_int(f(3e9), &F32, Rnd::Rz, i32::MIN as i128, i32::MAX as i128), i32::MAX as i128);
        assert_eq!(to_int(f(-1.5), &F32, Rnd::Rz, 0, u32::MAX as i128), 0);
        assert_eq!(to_int(F32_NAN as u64, &F32, Rnd::Rz, 0, u32::MAX as i128), 0);
        // round to integral
        assert_eq!(round_integral(f(2.5), &F32, Rnd::Rn), f(2.0));
        assert_eq!(round_integral(f(-2.5), &F32, Rnd::Rm), f(-3.0));
        assert_eq!(round_integral(f(-0.5), &F32, Rnd::Rp), f(-0.0));
        assert_eq!(round_integral(f(0.3), &F32, Rnd::Rp), f(1.0));
    }

    #[test]
    fn rsqrt_is_correctly_rounded() {
        let mut s = 42u64;
        for _ in 0..20_000 {
            let x = f32::from_bits(((next_rand(&mut s) >> 33) as u32 % 0x7e00_0000) + 0x0080_0000);
            let y = rsqrt32_exact(x);
            // compare against high-precision reference via f64 with a margin check
            let r = 1.0 / (x as f64).sqrt();
            let err = ((y as f64) - r).abs();
            let ulp = (f32::from_bits(y.to_bits() + 1) as f64) - y as f64;
            assert!(err <= ulp * 0.5000001, "x={x} y={y} r={r}");
        }
    }

    #[test]
    fn minmax() {
        let n = |x: f32| x.to_bits();
        assert_eq!(fminmax32(n(-0.0), n(0.0), true), n(-0.0));
        assert_eq!(fminmax32(n(-0.0), n(0.0), false), n(0.0));
        assert_eq!(fminmax32(F32_NAN, n(3.0), true), n(3.0));
        assert_eq!(fminmax32(n(-1.0), n(3.0), true), n(-1.0));
        assert_eq!(fminmax32(n(-1.0), n(-3.0), false), n(-1.0));
    }
}
