//! The V100 dot step in floating point by *units of `u`*: every term scaled to units of
//! `u = 2^(E - 23)` and truncated to an integer by a float-to-int conversion, the integers summed
//! exactly, the sum converted back once. It serves the steps the one-product `T + trunc_u(t)`
//! formulation of [`crate::float_lanes`] does not: the fp16 accumulators (one and four products,
//! `OHMMA.8161.F16` and `HMMA.884.F16`) on every host, and the fp32 steps on hosts with AVX2 but
//! not AVX-512.
//!
//! Why it is exact (finite inputs; `E` the largest model exponent of the terms present, for fp16
//! output at least -19, as in the crate docs):
//! * every product is exact in fp32 and below `2^(E + 2)`, a multiple of `2^(e_p - 20)`; an fp16
//!   accumulator is exact in fp32 with its true exponent (fp16 subnormals are fp32 normals);
//! * `2^(23 - E)` is a normal power of two (fp16 output: `-19 <= E <= 31`; fp32 output with a
//!   non-zero product: `-28 <= E <= 127`), so each scaled term is exact, below `2^25`, and its
//!   conversion toward zero to an integer is the model's truncated aligned term (a scaled term
//!   that underflows is below 1 and truncates to 0 either way);
//! * the five integers sum exactly in 32 bits (below `2^27`);
//! * fp32 output: the sum converted toward zero to 24 bits, scaled back exactly by `u` (a non-zero
//!   result is at least `u >= 2^-51`, a normal number); without a non-zero product the result is
//!   the accumulator itself (`+0` for a zero one), the only case where `E` may be too small to
//!   scale by;
//! * fp16 output: the sum converted to 24 bits *rounded to odd* (toward zero, the last bit set
//!   when anything was dropped), scaled back exactly, then rounded to nearest even into fp16
//!   (with subnormals and overflow to infinity): rounding to odd at 24 bits and then to nearest at
//!   11 or fewer bits is one correct rounding of the exact sum, since 24 >= 11 + 2. A zero sum is
//!   `+0`; a tiny non-zero one may round to a zero of its sign, as in the model.
//!
//! Lanes with an infinity or a NaN among their inputs are flagged (their output is unspecified;
//! the caller redoes them with the scalar reference), as by the integer batches.
//!
//! The portable version rounds with round-to-nearest arithmetic only and corrects by comparing
//! the converted value with the integer (no change of the floating-point environment); the
//! AVX-512 version uses `{rz-sae}` conversions and `vcvtps2ph`; the AVX2 version (with F16C) the
//! portable correction in vectors and `vcvtps2ph`, and serves the fp32 accumulators too (one and
//! four products). All are proven against the reference by the crate's tests.

use crate::float_lanes::{f16_to_f32, product_term, EXP, SPECIAL_PRODUCT_FIELD};

/// For fp16 output the alignment exponent is at least -19: the fp32 field of `2^-19`.
const F16_OUT_MIN_FIELD: u32 = (127 - 19) << 23;

/// `2^(23 - E)` and `2^(E - 23)` for the field `em = (E + 127) << 23`.
#[inline(always)]
fn scales(em: u32) -> (f32, f32) {
    (f32::from_bits((277u32 << 23).wrapping_sub(em)), f32::from_bits(em.wrapping_sub(23 << 23)))
}

/// `x` truncated toward zero to an integer, for `|x| < 2^31` (anything else, NaN included, is
/// clamped first: only the flagged lanes have such terms). Rust's `as i32` would do the same, but
/// its saturation and NaN rules keep LLVM from vectorising it (a scalar conversion per element);
/// after the clamp the plain conversion instruction is exact.
#[inline(always)]
#[allow(unsafe_code)]
fn trunc_i32(x: f32) -> i32 {
    const LIMIT: f32 = 1_073_741_824.0; // 2^30
    let x = if x.is_nan() { 0.0 } else { x.clamp(-LIMIT, LIMIT) };
    // SAFETY: x is finite and within i32's range.
    unsafe { x.to_int_unchecked::<i32>() }
}

/// The sum of integers `sum` (`|sum| < 2^28`) as fp32 bits rounded toward zero, or rounded to odd
/// when `ODD`, from a round-to-nearest conversion: the conversion back is exact, and a value that
/// moved away from zero steps back one unit in the last place.
#[inline(always)]
fn int_to_f32<const ODD: bool>(sum: i32) -> u32 {
    let f = sum as f32;
    let back = trunc_i32(f);
    let away = back.unsigned_abs() > sum.unsigned_abs();
    let rz = f.to_bits().wrapping_sub(u32::from(away));
    if ODD {
        rz | u32::from(back != sum)
    } else {
        rz
    }
}

/// fp32 bits to fp16 bits, rounded to nearest even with subnormals and overflow to infinity, for
/// finite inputs (F. Giesen's branch-free conversion: an fp16 subnormal by one round-to-nearest add
/// of a magic number, a normal by rebiasing and an integer add of the rounding bias).
#[inline(always)]
pub(crate) fn f32_to_f16_rne(x: u32) -> u16 {
    let sign = (x >> 16) & 0x8000;
    let mag = x & 0x7fff_ffff;
    // subnormal or zero: |x| + 2^-1 puts the 10 fraction bits at the bottom of the float
    let denorm_magic = ((127 - 15) + (23 - 10) + 1) << 23;
    let sub = (f32::from_bits(mag) + f32::from_bits(denorm_magic)).to_bits().wrapping_sub(denorm_magic);
    let odd = (mag >> 13) & 1;
    let normal = mag.wrapping_add(((15u32 << 23).wrapping_sub(127 << 23)).wrapping_add(0xfff)).wrapping_add(odd) >> 13;
    let h = if mag >= (127 + 16) << 23 {
        0x7c00
    } else if mag < 113 << 23 {
        sub
    } else {
        normal
    };
    (sign | h) as u16
}

/// The V100 step `d = c + sum_k a[k] * b[k]` by units of `u` on one element: `c` an fp32 pattern,
/// or when `F16` an fp16 one in the low bits (fp16 result in the low bits). Returns the result
/// and whether an input is an infinity or a NaN (the result is then unspecified).
#[inline(always)]
fn units_step<const N: usize, const F16: bool>(a: &[u16; N], b: &[u16; N], c: u32) -> (u32, bool) {
    let mut em = 0u32;
    let mut special = false;
    let mut p = [0f32; N];
    for k in 0..N {
        let (pk, pf, sp) = product_term(a[k], b[k]);
        p[k] = f32::from_bits(pk);
        em = em.max(pf);
        special |= sp;
    }
    let has_product = em != 0;
    let c32 = if F16 { f16_to_f32(c as u16) } else { f32::from_bits(c) };
    // an fp32 subnormal's model exponent is -126 (field 1); fp16 ones are fp32 normals
    let cf = if c32.to_bits() & 0x7fff_ffff != 0 { (c32.to_bits() & EXP).max(1 << 23) } else { 0 };
    special |= cf == EXP;
    let em = em.max(cf).max(if F16 { F16_OUT_MIN_FIELD } else { 0 });
    let (scale, unscale) = scales(em);
    // wrapping: the flagged lanes' terms are anything
    let mut sum = trunc_i32(c32 * scale);
    for pk in p {
        sum = sum.wrapping_add(trunc_i32(pk * scale));
    }
    let d = if F16 {
        u32::from(f32_to_f16_rne((f32::from_bits(int_to_f32::<true>(sum)) * unscale).to_bits()))
    } else if has_product {
        (f32::from_bits(int_to_f32::<false>(sum)) * unscale).to_bits()
    } else if cf != 0 {
        c
    } else {
        0
    };
    (d, special)
}

/// A lane batch of [`units_step`]: `out[i]` for each element, the mask of the flagged ones.
#[inline(always)]
fn units_lanes<const N: usize, const F16: bool, const L: usize, T: Copy + Into<u32>>(
    a: &[[u16; L]; N],
    b: &[[u16; L]; N],
    c: &[T; L],
    out: &mut [T; L],
    narrow: impl Fn(u32) -> T,
) -> [u64; 2] {
    const { assert!(L <= 128, "at most 128 elements per call") };
    let mut flag = [0u8; L];
    for i in 0..L {
        let (d, special) =
            units_step::<N, F16>(&std::array::from_fn(|k| a[k][i]), &std::array::from_fn(|k| b[k][i]), c[i].into());
        flag[i] = u8::from(special);
        out[i] = narrow(d);
    }
    crate::special_mask(&flag)
}

/// [`crate::dot4_f32_v100_lanes`] (`HMMA.884`, fp32 accumulators) by units of `u` in portable
/// floating point: the same bits and flags.
#[inline(always)]
pub fn dot4_f32_v100_lanes_fp<const L: usize>(
    a: &[[u16; L]; 4],
    b: &[[u16; L]; 4],
    c: &[u32; L],
    out: &mut [u32; L],
) -> [u64; 2] {
    units_lanes::<4, false, L, u32>(a, b, c, out, |d| d)
}

/// Many independent `OHMMA.8161` steps with fp16 accumulators, V100 model, in portable floating
/// point: `out[i] = c[i] + a[i] * b[i]` (fp16 patterns) for every element whose inputs are finite;
/// returns the mask of the others (an infinity or a NaN among the inputs), whose `out` is
/// unspecified: the caller computes those with [`crate::dot1_f16`].
#[inline(always)]
pub fn dot1_f16_v100_lanes_fp<const L: usize>(
    a: &[u16; L],
    b: &[u16; L],
    c: &[u16; L],
    out: &mut [u16; L],
) -> [u64; 2] {
    units_lanes::<1, true, L, u16>(&[*a], &[*b], c, out, |d| d as u16)
}

/// Many independent `HMMA.884` steps with fp16 accumulators (four products each), V100 model, in
/// portable floating point; the contract of [`dot1_f16_v100_lanes_fp`] (the scalar reference is
/// [`crate::dot4_f16`]).
#[inline(always)]
pub fn dot4_f16_v100_lanes_fp<const L: usize>(
    a: &[[u16; L]; 4],
    b: &[[u16; L]; 4],
    c: &[u16; L],
    out: &mut [u16; L],
) -> [u64; 2] {
    units_lanes::<4, true, L, u16>(a, b, c, out, |d| d as u16)
}

/// The fp16-accumulator steps on 16 lanes of AVX-512 vectors.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod avx512 {
    use std::arch::x86_64::*;

    use super::{EXP, F16_OUT_MIN_FIELD, SPECIAL_PRODUCT_FIELD};
    use crate::float_lanes::avx512::halves16;
    use crate::float_lanes::avx512_dot4::products_x16;

    const RZ: i32 = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
    const RN: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

    /// `d = c + sum_k x[k] * y[k]` (V100 model, fp16 accumulator and result) on 16 lanes: the
    /// factors and `c` as fp32 (from `vcvtph2ps`); returns the 16 fp16 results and the lanes
    /// with an infinity or a NaN among their inputs (their result is unspecified).
    ///
    /// # Safety
    /// Callable only where AVX-512F is enabled (a caller without it needs `unsafe`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub fn dot_f16_x16<const N: usize>(x: [__m512; N], y: [__m512; N], c: __m512) -> (__m256i, __mmask16) {
        let exp = _mm512_set1_epi32(EXP as i32);
        let (p, em, special_p) = products_x16(x, y, _mm512_set1_epi32(F16_OUT_MIN_FIELD as i32));
        // an fp16 accumulator is an fp32 normal or zero: its field is its model exponent (0: none)
        let cf = _mm512_and_si512(_mm512_castps_si512(c), exp);
        let em = _mm512_max_epu32(em, cf);
        // 2^(23 - E) and 2^(E - 23), normal numbers (-19 <= E <= 31)
        let scale = _mm512_castsi512_ps(_mm512_sub_epi32(_mm512_set1_epi32(277 << 23), em));
        let unscale = _mm512_castsi512_ps(_mm512_sub_epi32(em, _mm512_set1_epi32(23 << 23)));
        let units = |t: __m512| _mm512_cvttps_epi32(_mm512_mul_ps(t, scale));
        let mut sum = units(c);
        for pk in p {
            sum = _mm512_add_epi32(sum, units(pk));
        }
        // rounded to odd at 24 bits: toward zero, the last bit set if the conversion dropped any
        let f = _mm512_castps_si512(_mm512_cvt_roundepi32_ps::<RZ>(sum));
        let inexact = _mm512_cmpneq_epi32_mask(_mm512_cvttps_epi32(_mm512_castsi512_ps(f)), sum);
        let odd = _mm512_mask_or_epi32(f, inexact, f, _mm512_set1_epi32(1));
        let d = _mm512_mul_ps(_mm512_castsi512_ps(odd), unscale);
        let special = _mm512_cmpge_epu32_mask(special_p, _mm512_set1_epi32(SPECIAL_PRODUCT_FIELD as i32))
            | _mm512_cmpeq_epi32_mask(cf, exp);
        (_mm512_cvtps_ph::<RN>(d), special)
    }

    /// A batch of `L` fp16 elements (a multiple of 16) as vectors: `out` = `step(v, c)` for the
    /// `v`-th 16 elements of `c` (as fp32); returns the special masks as the batch's mask.
    #[inline(always)]
    fn halves_vectors16<const L: usize>(
        c: &[u16; L],
        out: &mut [u16; L],
        mut step: impl FnMut(usize, __m512) -> (__m256i, __mmask16),
    ) -> [u64; 2] {
        // (instantiated for any `L` by the host dispatch, which calls it for whole vectors only)
        const { assert!(L <= 128, "at most 128 elements") };
        assert!(L.is_multiple_of(16), "whole vectors");
        let mut special = [0u64; 2];
        for v in 0..L / 16 {
            // SAFETY: 16 elements at 16 * v of L-element arrays, unaligned; the caller of the
            // public batches promised AVX-512F, which `halves16` needs.
            unsafe {
                let (d, m) = step(v, halves16(c, v));
                std::ptr::write_unaligned(out.as_mut_ptr().add(16 * v) as *mut __m256i, d);
                special[v / 4] |= u64::from(m) << (16 * (v % 4));
            }
        }
        special
    }

    /// [`crate::dot1_f16_v100_lanes_fp`] on 16-lane vectors (`L` a multiple of 16).
    ///
    /// # Safety
    /// The host must have AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot1_f16_v100_lanes<const L: usize>(
        a: &[u16; L],
        b: &[u16; L],
        c: &[u16; L],
        out: &mut [u16; L],
    ) -> [u64; 2] {
        // SAFETY: the host has AVX-512F (the caller's promise).
        halves_vectors16(c, out, |v, cv| unsafe { dot_f16_x16([halves16(a, v)], [halves16(b, v)], cv) })
    }

    /// [`crate::dot4_f16_v100_lanes_fp`] on 16-lane vectors (`L` a multiple of 16).
    ///
    /// # Safety
    /// The host must have AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot4_f16_v100_lanes<const L: usize>(
        a: &[[u16; L]; 4],
        b: &[[u16; L]; 4],
        c: &[u16; L],
        out: &mut [u16; L],
    ) -> [u64; 2] {
        // SAFETY: the host has AVX-512F (the caller's promise).
        halves_vectors16(c, out, |v, cv| unsafe {
            dot_f16_x16([0, 1, 2, 3].map(|k| halves16(&a[k], v)), [0, 1, 2, 3].map(|k| halves16(&b[k], v)), cv)
        })
    }
}

/// The steps by units of `u` on 8 lanes of AVX2 vectors, with F16C for the fp16 conversions
/// (x86-64-v3): the fp16 accumulators (one and four products) and the fp32 ones.
///
/// Without AVX-512 there are no embedded rounding modes, and switching MXCSR to round-toward-zero
/// around the batch would be undefined behaviour for the compiler (it assumes round-to-nearest
/// when it moves or folds float operations), so the two roundings that are not to nearest come
/// from instructions that do not depend on it or from a correction: each term is truncated to its
/// integer by `vcvttps2dq` (truncating whatever MXCSR says); the sum is converted back by the
/// round-to-nearest `vcvtdq2ps` and stepped back one unit in the last place where the conversion
/// back (exact: an integer below `2^28`) shows it moved away from zero, the odd bit (fp16 output)
/// set where it differs from the sum; `vcvtps2ph` rounds to nearest even by its immediate.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub mod avx2 {
    use std::arch::x86_64::*;

    use super::{EXP, F16_OUT_MIN_FIELD, SPECIAL_PRODUCT_FIELD};
    use crate::float_lanes::F16_MIN_FIELD;

    /// `a >= b` as unsigned 32-bit lanes (all ones where it holds).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn ge_epu32(a: __m256i, b: __m256i) -> __m256i {
        _mm256_cmpeq_epi32(_mm256_max_epu32(a, b), a)
    }

    /// `d = c + sum_k x[k] * y[k]` (V100 model) on 8 lanes: the factors as fp32 (from
    /// `vcvtph2ps`), `c` an fp16 accumulator as fp32 when `F16` (the result: 8 fp16 values in
    /// the low half), else the fp32 accumulator's bits (the result: 8 fp32 values). Returns the
    /// result and the lanes (bit mask) with an infinity or a NaN among their inputs (their result
    /// is unspecified). The formulation of [`super::avx512::dot_f16_x16`] and
    /// [`crate::float_avx512_dot4::dot4_f32_x16`] with the roundings above.
    ///
    /// # Safety
    /// Callable only where AVX2 and F16C are enabled (a caller without them needs `unsafe`).
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub fn dot_x8<const N: usize, const F16: bool>(x: [__m256; N], y: [__m256; N], c: __m256i) -> (__m256i, u8) {
        let exp = _mm256_set1_epi32(EXP as i32);
        let clamp = _mm256_set1_epi32(F16_MIN_FIELD as i32);
        let zero = _mm256_setzero_si256();
        let mut p = [_mm256_setzero_ps(); N];
        let mut em = zero;
        let mut special_p = zero;
        for k in 0..N {
            p[k] = _mm256_mul_ps(x[k], y[k]); // exact
            let xf = _mm256_max_epu32(_mm256_and_si256(_mm256_castps_si256(x[k]), exp), clamp);
            let yf = _mm256_max_epu32(_mm256_and_si256(_mm256_castps_si256(y[k]), exp), clamp);
            let pf = _mm256_add_epi32(_mm256_sub_epi32(xf, _mm256_set1_epi32(127 << 23)), yf);
            special_p = _mm256_max_epu32(special_p, pf);
            // a zero product takes no part in E (NaN compares unequal to 0: flagged anyway)
            let nonzero = _mm256_cmp_ps::<_CMP_NEQ_UQ>(p[k], _mm256_setzero_ps());
            em = _mm256_max_epu32(em, _mm256_and_si256(pf, _mm256_castps_si256(nonzero)));
        }
        let c_nonzero = _mm256_xor_si256(
            _mm256_cmpeq_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x7fff_ffff)), zero),
            _mm256_set1_epi32(-1),
        );
        // the accumulator's field: an fp16 accumulator is an fp32 normal or zero, so this is its
        // model exponent; an fp32 subnormal's (-126) is not (field 0), which changes nothing: with
        // a product E >= -28, and without one the result is c itself
        let cf = _mm256_and_si256(c, exp);
        let no_product = _mm256_cmpeq_epi32(em, zero);
        let em = _mm256_max_epu32(em, cf);
        let em = if F16 { _mm256_max_epu32(em, _mm256_set1_epi32(F16_OUT_MIN_FIELD as i32)) } else { em };
        // 2^(23 - E) and 2^(E - 23), normal numbers (see the module docs of `float_units`)
        let scale = _mm256_castsi256_ps(_mm256_sub_epi32(_mm256_set1_epi32(277 << 23), em));
        let unscale = _mm256_castsi256_ps(_mm256_sub_epi32(em, _mm256_set1_epi32(23 << 23)));
        let units = |t: __m256| _mm256_cvttps_epi32(_mm256_mul_ps(t, scale));
        let mut sum = units(_mm256_castsi256_ps(c));
        for pk in p {
            sum = _mm256_add_epi32(sum, units(pk));
        }
        // toward zero at 24 bits: the nearest conversion, one ulp back where it moved away
        let f = _mm256_cvtepi32_ps(sum);
        let back = _mm256_cvttps_epi32(f);
        let away = _mm256_cmpgt_epi32(_mm256_abs_epi32(back), _mm256_abs_epi32(sum));
        let rz = _mm256_add_epi32(_mm256_castps_si256(f), away);
        let special = _mm256_or_si256(
            ge_epu32(special_p, _mm256_set1_epi32(SPECIAL_PRODUCT_FIELD as i32)),
            _mm256_cmpeq_epi32(cf, exp),
        );
        let mask = _mm256_movemask_ps(_mm256_castsi256_ps(special)) as u8;
        if F16 {
            // rounded to odd: the last bit set where the conversion dropped any
            let inexact = _mm256_andnot_si256(_mm256_cmpeq_epi32(back, sum), _mm256_set1_epi32(1));
            let d = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_or_si256(rz, inexact)), unscale);
            (_mm256_castsi128_si256(_mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(d)), mask)
        } else {
            let d = _mm256_castps_si256(_mm256_mul_ps(_mm256_castsi256_ps(rz), unscale));
            // without a product the result is c itself (+0 for a zero c)
            (_mm256_blendv_epi8(d, _mm256_and_si256(c, c_nonzero), no_product), mask)
        }
    }

    /// Elements `8 v .. 8 v + 8` of an fp16 array as fp32.
    ///
    /// # Safety
    /// The host must have F16C; `8 v + 8 <= L`.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub(crate) unsafe fn halves8<const L: usize>(h: &[u16; L], v: usize) -> __m256 {
        // SAFETY: in bounds by the caller's promise; an unaligned load.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(h.as_ptr().add(8 * v) as *const __m128i)) }
    }

    /// A batch of `L` elements (a multiple of 8) as vectors: `out` = `step(v, c)` for the `v`-th
    /// 8 elements of `c` (`c` as fp32 bits, fp16 ones converted); the special masks as the
    /// batch's mask.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    fn vectors8<const L: usize, T: Copy>(
        c: &[T; L],
        out: &mut [T; L],
        mut step: impl FnMut(usize, __m256i) -> (__m256i, u8),
    ) -> [u64; 2] {
        // (instantiated for any `L` by the host dispatch, which calls it for whole vectors only)
        const { assert!(L <= 128, "at most 128 elements") };
        assert!(L.is_multiple_of(8) && (size_of::<T>() == 2 || size_of::<T>() == 4), "whole vectors");
        let mut special = [0u64; 2];
        for v in 0..L / 8 {
            // SAFETY: 8 elements at 8 * v of L-element arrays, unaligned loads and stores.
            unsafe {
                let src = c.as_ptr().add(8 * v);
                let dst = out.as_mut_ptr().add(8 * v);
                let m = if size_of::<T>() == 2 {
                    let cv = _mm256_cvtph_ps(_mm_loadu_si128(src as *const __m128i));
                    let (d, m) = step(v, _mm256_castps_si256(cv));
                    _mm_storeu_si128(dst as *mut __m128i, _mm256_castsi256_si128(d));
                    m
                } else {
                    let (d, m) = step(v, _mm256_loadu_si256(src as *const __m256i));
                    _mm256_storeu_si256(dst as *mut __m256i, d);
                    m
                };
                special[v / 8] |= u64::from(m) << (8 * (v % 8));
            }
        }
        special
    }

    /// [`crate::dot1_f16_v100_lanes_fp`] on 8-lane vectors (`L` a multiple of 8).
    ///
    /// # Safety
    /// The host must have AVX2 and F16C.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn dot1_f16_v100_lanes<const L: usize>(
        a: &[u16; L],
        b: &[u16; L],
        c: &[u16; L],
        out: &mut [u16; L],
    ) -> [u64; 2] {
        // SAFETY: the host has AVX2 and F16C (the caller's promise).
        vectors8(c, out, |v, cv| unsafe { dot_x8::<1, true>([halves8(a, v)], [halves8(b, v)], cv) })
    }

    /// [`crate::dot4_f16_v100_lanes_fp`] on 8-lane vectors (`L` a multiple of 8).
    ///
    /// # Safety
    /// The host must have AVX2 and F16C.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn dot4_f16_v100_lanes<const L: usize>(
        a: &[[u16; L]; 4],
        b: &[[u16; L]; 4],
        c: &[u16; L],
        out: &mut [u16; L],
    ) -> [u64; 2] {
        // SAFETY: the host has AVX2 and F16C (the caller's promise).
        vectors8(c, out, |v, cv| unsafe {
            dot_x8::<4, true>([0, 1, 2, 3].map(|k| halves8(&a[k], v)), [0, 1, 2, 3].map(|k| halves8(&b[k], v)), cv)
        })
    }

    /// [`crate::dot1_f32_v100_lanes`] (fp32 accumulators, one product) by units of `u` on 8-lane
    /// vectors (`L` a multiple of 8).
    ///
    /// # Safety
    /// The host must have AVX2 and F16C.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn dot1_f32_v100_lanes<const L: usize>(
        a: &[u16; L],
        b: &[u16; L],
        c: &[u32; L],
        out: &mut [u32; L],
    ) -> [u64; 2] {
        // SAFETY: the host has AVX2 and F16C (the caller's promise).
        vectors8(c, out, |v, cv| unsafe { dot_x8::<1, false>([halves8(a, v)], [halves8(b, v)], cv) })
    }

    /// [`crate::dot4_f32_v100_lanes`] (`HMMA.884`, fp32 accumulators) by units of `u` on 8-lane
    /// vectors (`L` a multiple of 8).
    ///
    /// # Safety
    /// The host must have AVX2 and F16C.
    #[inline]
    #[target_feature(enable = "avx2,f16c")]
    pub unsafe fn dot4_f32_v100_lanes<const L: usize>(
        a: &[[u16; L]; 4],
        b: &[[u16; L]; 4],
        c: &[u32; L],
        out: &mut [u32; L],
    ) -> [u64; 2] {
        // SAFETY: the host has AVX2 and F16C (the caller's promise).
        vectors8(c, out, |v, cv| unsafe {
            dot_x8::<4, false>([0, 1, 2, 3].map(|k| halves8(&a[k], v)), [0, 1, 2, 3].map(|k| halves8(&b[k], v)), cv)
        })
    }
}
