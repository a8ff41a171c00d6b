//! The V100 one-product step `d = c + a * b` (fp16 factors, fp32 accumulator) in floating-point
//! arithmetic, for whole lane batches: the same bits as the integer model ([`crate::dot1_f32`]),
//! at a quarter of the instructions.
//!
//! Why floating point can do it (finite inputs; `E`, `u = 2^(E - 23)` as in the crate docs):
//! * `p = a * b` is exact in fp32 (22 significant bits, exponent at least -48).
//! * The alignment exponent is read from the exponent fields: the product's model exponent is
//!   `e_a + e_b` (each clamped at -14, not renormalised), the accumulator's its fp32 field.
//!   `T` is the term at `E` (the accumulator wins ties) and `t` the other; `T` is a multiple of
//!   `u` already, so the model's sum is `T + trunc_u(t)` (truncated toward zero), computed
//!   exactly and rounded toward zero once into fp32.
//! * `trunc_u(t)`: two formulations, one per kind of host.
//!   - **AVX-512** (embedded rounding): with `M = +-2^E` of `t`'s sign, `RZ(RZ(t + M) - M)`. If `t`
//!     has bits below `u` then `|t| < 2^E`, so `t + M` lies in `[2^E, 2^(E+1))`, where the fp32
//!     grid is exactly `u`: the first add truncates, the second is exact; otherwise both adds are
//!     exact. The final `RZ(T + trunc_u(t))` is one `{rz-sae}` add.
//!   - **Portable** (any host, no change of the floating-point environment): clear the low
//!     `E - e_t` significand bits of `t` (truncation of the magnitude is truncation toward zero;
//!     24 or more bits leave `+0`), then round `T + trunc_u(t)` toward zero by an error-free
//!     transformation: `s = RN(T + t')` and its exact error `err` (Knuth's TwoSum); when `err` is
//!     non-zero and of the other sign than `s`, `s` was rounded away from zero and the result is
//!     the next float toward zero (`bits(s) - 1`). Changing MXCSR instead would be undefined
//!     behaviour for the compiler, which assumes round-to-nearest when it moves float operations.
//! * An exactly zero sum gives `+0` (`s + 0.0` turns `-0` into `+0`, as the model's empty sum).
//!
//! Lanes with an infinity or a NaN among their inputs are flagged, exactly as
//! [`crate::dot1_f32_v100_lanes`] flags them; their `out` is unspecified and the caller redoes
//! them with the scalar reference.
//!
//! Verified against the reference by the crate's tests (every fp16 factor against corner factors
//! and accumulators, every accumulator exponent field, corner-biased random batches, and the
//! `#[ignore]`d sweep over every fp16 pair).

/// Exponent field mask of fp32.
pub(crate) const EXP: u32 = 0x7f80_0000;
/// Exponent field of `2^-14` (the fp16 clamp) in fp32.
pub(crate) const F16_MIN_FIELD: u32 = 113 << 23;
/// The smallest value of a product's exponent field sum that means an infinite or NaN factor.
pub(crate) const SPECIAL_PRODUCT_FIELD: u32 = 241 << 23;

/// The fp32 value of an fp16 pattern (exact).
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let field = (h >> 10) & 0x1f;
    let frac = h & 0x3ff;
    // normal: rebias the field; subnormal: frac * 2^-24 (exact); Inf/NaN: field 255
    let normal = f32::from_bits(sign | ((field + 112) << 23) | (frac << 13));
    let sub = f32::from_bits(sign | (frac as f32 * f32::from_bits(0x3380_0000)).to_bits());
    let special = f32::from_bits(sign | EXP | (frac << 13));
    if field == 0 {
        sub
    } else if field == 0x1f {
        special
    } else {
        normal
    }
}

/// The product term of the one-product step: `(p, pf, special)` with `p = a * b` exact as fp32
/// bits, `pf` the product's model exponent as an fp32 field (`(e_a + e_b + 127) << 23`, 0 for a
/// zero product) and whether a factor is an infinity or a NaN.
#[inline(always)]
pub(crate) fn product_term(a: u16, b: u16) -> (u32, u32, bool) {
    let (x, y) = (f16_to_f32(a), f16_to_f32(b));
    let p = x * y;
    let xf = (x.to_bits() & EXP).max(F16_MIN_FIELD);
    let yf = (y.to_bits() & EXP).max(F16_MIN_FIELD);
    let pf = xf.wrapping_sub(127 << 23).wrapping_add(yf);
    // p != 0 also holds for NaN (Inf * 0)
    let pf = if p != 0.0 { pf } else { 0 };
    (p.to_bits(), pf, pf >= SPECIAL_PRODUCT_FIELD)
}

/// `RZ(x + y)` for finite `x`, `y` whose sum does not overflow, in round-to-nearest arithmetic:
/// TwoSum gives the rounding error exactly; a result rounded away from zero steps back one ulp.
#[inline(always)]
fn add_toward_zero(x: f32, y: f32) -> u32 {
    let s = x + y;
    let yv = s - x;
    let xv = s - yv;
    let err = (x - xv) + (y - yv);
    // +0 for an exact zero (the model's empty or cancelling sum)
    let bits = (s + 0.0).to_bits();
    let away = err != 0.0 && (err.to_bits() ^ bits) >> 31 != 0;
    bits - u32::from(away)
}

/// The portable formulation on one element (finite inputs; anything for the others).
#[inline(always)]
fn dot1_f32_fp_portable(p: u32, pf: u32, c: u32) -> u32 {
    let cf = if c & 0x7fff_ffff != 0 { (c & EXP).max(1 << 23) } else { 0 };
    let kp = pf > cf;
    let ef = pf.max(cf) >> 23; // E + 127, 0 if no term
    let (big, small) = if kp { (p, c) } else { (c, p) };
    // bits of `small` below u: E - e_small (its ulp is 2^(max(field, 1) - 150))
    let k = ef as i32 - ((small >> 23) & 0xff).max(1) as i32;
    let mask = if k >= 24 {
        0
    } else {
        // k <= 0 keeps every bit (the shift by a negative count is cut to 0 first)
        u32::MAX << k.clamp(0, 31)
    };
    add_toward_zero(f32::from_bits(big), f32::from_bits(small & mask))
}

/// [`crate::dot1_f32_v100_lanes`] in the portable floating-point formulation (the same contract
/// and bits): `out[i] = c[i] + a[i] * b[i]` for the finite elements, the mask of the others.
#[inline(always)]
pub fn dot1_f32_v100_lanes_fp<const L: usize>(
    a: &[u16; L],
    b: &[u16; L],
    c: &[u32; L],
    out: &mut [u32; L],
) -> [u64; 2] {
    const { assert!(L <= 128, "at most 128 elements per call") };
    let mut flag = [0u8; L];
    for i in 0..L {
        let (p, pf, special) = product_term(a[i], b[i]);
        flag[i] = u8::from(special | (c[i] & EXP == EXP));
        out[i] = dot1_f32_fp_portable(p, pf, c[i]);
    }
    crate::special_mask(&flag)
}

/// The AVX-512 formulation: 16 lanes in vector registers (the operand gathers of otc-sim feed
/// these straight from the register file).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod avx512 {
    use std::arch::x86_64::*;

    use super::{EXP, F16_MIN_FIELD, SPECIAL_PRODUCT_FIELD};

    const RZ: i32 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;

    /// `d = c + x * y` (V100 model) on 16 lanes: `x`, `y` the fp16 factors as fp32 (from
    /// `vcvtph2ps`), `c` the fp32 accumulator bits. Returns `d` and the mask of lanes with an
    /// infinity or a NaN among their inputs (their `d` is unspecified).
    ///
    /// # Safety
    /// The host must have AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn dot1_f32_x16(x: __m512, y: __m512, c: __m512i) -> (__m512i, __mmask16) {
        let exp = _mm512_set1_epi32(EXP as i32);
        let clamp = _mm512_set1_epi32(F16_MIN_FIELD as i32);
        let p = _mm512_mul_ps(x, y); // exact
        let xf = _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(x), exp), clamp);
        let yf = _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(y), exp), clamp);
        let pf = _mm512_add_epi32(_mm512_sub_epi32(xf, _mm512_set1_epi32(127 << 23)), yf);
        // a zero product takes no part (NaN compares unequal to 0 and stays)
        let pf = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(p, _mm512_setzero_ps()), pf);
        let cf = _mm512_and_si512(c, exp);
        let kp = _mm512_cmpgt_epu32_mask(pf, cf);
        let em = _mm512_max_epu32(pf, cf);
        let cps = _mm512_castsi512_ps(c);
        let big = _mm512_mask_blend_ps(kp, cps, p);
        let small = _mm512_mask_blend_ps(kp, p, cps);
        let sign = _mm512_and_si512(_mm512_castps_si512(small), _mm512_set1_epi32(i32::MIN));
        let m = _mm512_castsi512_ps(_mm512_or_si512(em, sign));
        let trunc = _mm512_sub_round_ps::<RZ>(_mm512_add_round_ps::<RZ>(small, m), m);
        let d = _mm512_add_round_ps::<RZ>(big, trunc);
        let special = _mm512_cmpge_epu32_mask(pf, _mm512_set1_epi32(SPECIAL_PRODUCT_FIELD as i32))
            | _mm512_cmpeq_epi32_mask(cf, exp);
        (_mm512_castps_si512(d), special)
    }

    /// [`crate::dot1_f32_v100_lanes`] on 16-lane vectors (`L` a multiple of 16).
    ///
    /// # Safety
    /// The host must have AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot1_f32_v100_lanes<const L: usize>(
        a: &[u16; L],
        b: &[u16; L],
        c: &[u32; L],
        out: &mut [u32; L],
    ) -> [u64; 2] {
        // SAFETY: the host has AVX-512F (the caller's promise).
        vectors16(c, out, |v, cv| unsafe { dot1_f32_x16(halves16(a, v), halves16(b, v), cv) })
    }

    /// Elements `16 v .. 16 v + 16` of an fp16 array as fp32.
    ///
    /// # Safety
    /// The host must have AVX-512F; `16 v + 16 <= L`.
    #[inline(always)]
    pub(crate) unsafe fn halves16<const L: usize>(h: &[u16; L], v: usize) -> __m512 {
        // SAFETY: in bounds by the caller's promise; an unaligned load.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(h.as_ptr().add(16 * v) as *const __m256i)) }
    }

    /// A batch of `L` elements (a multiple of 16) as vectors: `out` = `step(v, c)` for the `v`-th
    /// 16 elements of `c`; returns the special masks of every step as the batch's mask.
    #[inline(always)]
    pub(super) fn vectors16<const L: usize>(
        c: &[u32; L],
        out: &mut [u32; L],
        mut step: impl FnMut(usize, __m512i) -> (__m512i, __mmask16),
    ) -> [u64; 2] {
        const { assert!(L <= 128 && L.is_multiple_of(16), "whole vectors, at most 128 elements") };
        let mut special = [0u64; 2];
        for v in 0..L / 16 {
            // SAFETY: 16 elements at 16 * v of L-element arrays; unaligned loads and stores (the
            // vector types need no feature to be moved).
            unsafe {
                let cv = std::ptr::read_unaligned(c.as_ptr().add(16 * v) as *const __m512i);
                let (d, m) = step(v, cv);
                std::ptr::write_unaligned(out.as_mut_ptr().add(16 * v) as *mut __m512i, d);
                special[v / 4] |= u64::from(m) << (16 * (v % 4));
            }
        }
        special
    }
}

/// The V100 four-product step `d = c + sum_k a_k * b_k` (`HMMA.884`, fp32 accumulator) in
/// floating point, AVX-512. With `E` the largest model exponent of the terms and `u = 2^(E - 23)`:
/// * with at least one non-zero product `E >= -28`, so `2^(23 - E)` and `u` are normal numbers;
/// * each term (products, accumulator) scaled by `2^(23 - E)` is exact (a power of two; every
///   term is below `2^(E + 2)`, so below `2^25` after scaling; one that underflows is below 1),
///   and `vcvttps2dq` truncates it toward zero: the model's aligned integer `m`;
/// * the five integers sum exactly in 32 bits (below `2^27`); one conversion to fp32 with
///   round-toward-zero and the exact scaling back by `u` give the model's truncated result (a
///   zero sum gives `+0`; a non-zero one is at least `u >= 2^-51`, so no subnormal appears);
/// * without a non-zero product the result is `c` itself (`+0` for a zero `c`).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod avx512_dot4 {
    use std::arch::x86_64::*;

    use super::avx512::halves16;
    use super::{EXP, F16_MIN_FIELD, SPECIAL_PRODUCT_FIELD};

    const RZ: i32 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;

    /// `d = c + sum_k x[k] * y[k]` (V100 model) on 16 lanes, the factors as fp32 (from
    /// `vcvtph2ps`), `c` the accumulator bits; returns `d` and the lanes with an infinity or a
    /// NaN among their inputs (their `d` is unspecified).
    ///
    /// # Safety
    /// Callable only where AVX-512F is enabled (a caller without it needs `unsafe`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn dot4_f32_x16(x: [__m512; 4], y: [__m512; 4], c: __m512i) -> (__m512i, __mmask16) {
        let exp = _mm512_set1_epi32(EXP as i32);
        let (p, em, special_p) = products_x16(x, y, _mm512_setzero_si512());
        let c_nonzero = _mm512_test_epi32_mask(c, _mm512_set1_epi32(0x7fff_ffff));
        let cf =
            _mm512_maskz_mov_epi32(c_nonzero, _mm512_max_epu32(_mm512_and_si512(c, exp), _mm512_set1_epi32(1 << 23)));
        let no_product = _mm512_cmpeq_epi32_mask(em, _mm512_setzero_si512());
        let em = _mm512_max_epu32(em, cf);
        // 2^(23 - E) and 2^(E - 23) (normal numbers: with a product, -28 <= E <= 127)
        let scale = _mm512_castsi512_ps(_mm512_sub_epi32(_mm512_set1_epi32(277 << 23), em));
        let unscale = _mm512_castsi512_ps(_mm512_sub_epi32(em, _mm512_set1_epi32(23 << 23)));
        // each term in units of u, truncated toward zero: an exact scaling (below 2^25), then
        // vcvttps2dq (a scaled value that underflows is below 1 and truncates to 0 either way)
        let units = |t: __m512| _mm512_cvttps_epi32(_mm512_mul_ps(t, scale));
        let s01 = _mm512_add_epi32(units(p[0]), units(p[1]));
        let s23 = _mm512_add_epi32(units(p[2]), units(p[3]));
        let sum = _mm512_add_epi32(_mm512_add_epi32(s01, s23), units(_mm512_castsi512_ps(c)));
        // |sum| < 2^27: one conversion toward zero to 24 bits, then an exact scaling (the result
        // is 0 or at least u >= 2^-51, a normal number)
        let d = _mm512_mul_ps(_mm512_cvt_roundepi32_ps::<RZ>(sum), unscale);
        // without a product the result is c itself (+0 for a zero c)
        let d = _mm512_mask_blend_epi32(no_product, _mm512_castps_si512(d), _mm512_maskz_mov_epi32(c_nonzero, c));
        let special = _mm512_cmpge_epu32_mask(special_p, _mm512_set1_epi32(SPECIAL_PRODUCT_FIELD as i32))
            | _mm512_cmpeq_epi32_mask(cf, exp);
        (d, special)
    }

    /// The `N` products `x[k] * y[k]` (exact) of 16 lanes, the largest model exponent field of the
    /// non-zero ones and `em0`, and the largest of all (at least [`SPECIAL_PRODUCT_FIELD`]: an
    /// infinite or NaN factor).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn products_x16<const N: usize>(
        x: [__m512; N],
        y: [__m512; N],
        em0: __m512i,
    ) -> ([__m512; N], __m512i, __m512i) {
        let exp = _mm512_set1_epi32(EXP as i32);
        let clamp = _mm512_set1_epi32(F16_MIN_FIELD as i32);
        let mut p = [_mm512_setzero_ps(); N];
        let mut em = em0;
        let mut special_p = _mm512_setzero_si512();
        for k in 0..N {
            p[k] = _mm512_mul_ps(x[k], y[k]); // exact
            let xf = _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(x[k]), exp), clamp);
            let yf = _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(y[k]), exp), clamp);
            let pf = _mm512_add_epi32(_mm512_sub_epi32(xf, _mm512_set1_epi32(127 << 23)), yf);
            special_p = _mm512_max_epu32(special_p, pf);
            // a zero product takes no part in E (NaN compares unequal to 0: flagged anyway)
            let pf = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(p[k], _mm512_setzero_ps()), pf);
            em = _mm512_max_epu32(em, pf);
        }
        (p, em, special_p)
    }

    /// [`crate::dot4_f32_v100_lanes`] on 16-lane vectors (`L` a multiple of 16).
    ///
    /// # Safety
    /// The host must have AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot4_f32_v100_lanes<const L: usize>(
        a: &[[u16; L]; 4],
        b: &[[u16; L]; 4],
        c: &[u32; L],
        out: &mut [u32; L],
    ) -> [u64; 2] {
        // SAFETY: the host has AVX-512F (the caller's promise).
        super::avx512::vectors16(c, out, |v, cv| unsafe {
            let x = [0, 1, 2, 3].map(|k| halves16(&a[k], v));
            let y = [0, 1, 2, 3].map(|k| halves16(&b[k], v));
            dot4_f32_x16(x, y, cv)
        })
    }
}
