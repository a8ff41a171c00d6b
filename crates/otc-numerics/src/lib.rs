//! Bit-exact arithmetic of the NVIDIA V100 (Volta, sm_70) tensor core.
//!
//! This crate computes one tensor-core *dot step*
//!
//! ```text
//! d = c + sum_{k < n} a_k * b_k
//! ```
//!
//! with fp16 (IEEE binary16) multiplicands given as raw bits and an fp32 or fp16 accumulator,
//! also given and returned as raw bits. `HMMA.884` uses `n = 4` ([`dot4_f32`], [`dot4_f16`]);
//! the outer-product tensor core (`OHMMA.8161`) uses `n = 1` through the same adder
//! ([`dot_f32`], [`dot_f16`]). A longer reduction (`K > 4`) is a chain of steps in which each
//! step's rounded `d` is the next step's `c`; chaining is the caller's job.
//!
//! # Public API
//!
//! * [`TensorArith`]: which arithmetic to use, [`TensorArith::V100`] (bit-exact hardware model,
//!   the default) or [`TensorArith::Ieee`] (exact sum, one rounding to nearest-even).
//! * [`dot4_f32`] / [`dot_f32`]: fp16 products, fp32 accumulator and result.
//! * [`dot4_f16`] / [`dot_f16`]: fp16 products, fp16 accumulator and result.
//! * [`F32_CANONICAL_NAN`] / [`F16_CANONICAL_NAN`]: the NaN every NaN result is.
//!
//! All functions are total: every input bit pattern gives a result and nothing panics. The
//! reference arithmetic is integer-only (`u64`/`i64`/`u128`, plus a 320-bit fixed-point
//! accumulator for the exact [`TensorArith::Ieee`] sum). The whole-warp lane batches
//! (`*_lanes_host`) compute the same bits in floating point (module `float_lanes` for fp32
//! accumulators: AVX-512 with embedded round-toward-zero, a portable error-free formulation
//! elsewhere; module `float_units` for fp16 accumulators: terms scaled to units of the alignment
//! grid, an exact integer sum, one conversion rounded to odd and one to nearest even), except the
//! four-product fp32 batch without AVX-512, which stays in integers (faster there); `unsafe`
//! appears only where they call code compiled for the host's vectors after checking that the host
//! has them.
//!
//! # The V100 model, step by step
//!
//! The model is the one of Fasi, Higham, Mikaitis and Pranesh, *Numerical behavior of NVIDIA
//! tensor cores*, PeerJ Computer Science 7:e330 (2021), in the refined, parameterised form
//! published by Khattak and Mikaitis in the repository
//! `north-numerical-computing/MATLAB-tensor-core` (`models/V100TC.m`, BSD-2 licence). This crate
//! is an independent integer re-implementation of the description below; no code was copied.
//!
//! 1. **Drop zero products.** A product with a zero factor (either sign) contributes nothing,
//!    not even to the choice of the alignment exponent.
//! 2. **Decompose the factors without normalising the product.** A finite fp16 `x != 0` is
//!    `s * 2^e` with `e = max(floor(log2|x|), -14)` and `s = |x| / 2^e`, so `s` is in `[1, 2)`
//!    for normal numbers and in `(0, 1)` for subnormals. The product of `a = sa*2^ea` and
//!    `b = sb*2^eb` is kept as the pair (`ea + eb`, `sa * sb`) with `sa * sb` in `(0, 4)`; it is
//!    exact (22 significant bits) and is *not* renormalised.
//! 3. **Decompose the accumulator.** For `c != 0`: `e_c = max(floor(log2|c|), -126)` and
//!    `s_c = |c| / 2^e_c` (this is the fp32 exponent field; an fp16 accumulator is handled as
//!    the fp32 number of the same value, so fp16 subnormal accumulators get their true
//!    exponent, not -14). `c = ±0` is dropped like a zero product.
//! 4. **Alignment exponent.** `E` is the largest exponent among the remaining terms; for fp16
//!    output, `E = max(E, -19)`.
//! 5. **Align by truncation.** Each term becomes the integer `m = floor(s * 2^23 / 2^(E - e))`:
//!    bits shifted out below `2^(E - 23)` are lost, with no guard, round or sticky bit. A term
//!    shifted past all its bits vanishes (the published model phrases this as "shifts over 31
//!    bits give 0"; an aligned term has at most 25 bits, so any shift of 25 or more gives 0).
//!    Truncation acts on the *magnitude*, so a negative term is rounded towards zero, i.e. up.
//! 6. **Exact sum.** `S` is the exact signed sum of the `m` (a few bits wider than 24 suffice).
//! 7. **Normalise and round.** `S = 0` gives `+0`. Otherwise the value `|S| * 2^(E - 23)` is
//!    normalised, with the sign of `S`:
//!    * fp32 output truncates (rounds towards zero) to 24 significant bits, with gradual
//!      underflow down to `2^-149`;
//!    * fp16 output rounds to nearest, ties to even, at 11 significant bits with minimum
//!      exponent -14 (fp16 subnormals; a tiny non-zero value may round to a zero, which keeps
//!      the sign of `S`, as in IEEE arithmetic and the published model).
//!
//!    A result too large for the format is infinite (even with truncation, unlike IEEE
//!    round-towards-zero which would saturate to the largest finite number). With fp16 inputs
//!    and an fp32 result this cannot actually happen; with an fp16 result it can (and the
//!    products themselves may exceed the fp16 range and still cancel).
//!
//! Because every term is truncated separately, the V100 result can differ from any
//! correctly rounded sum: four tiny products that each lose their bits may add up to several
//! units in the last place, and a small negative product may vanish instead of pulling the
//! result below `c`.
//!
//! The published hardware samples (5000 random 4-term dot steps on a V100, fp32 and fp16
//! outputs) are reproduced bit-for-bit by this implementation: 0 mismatches for each output
//! format (checked out of tree; the samples are not redistributed here). The samples are
//! random normal numbers of moderate size, so they confirm the truncated fp32 output, the
//! nearest-even fp16 output and the unnormalised products (changing any of these gives
//! hundreds to thousands of mismatches), but not the subnormal clamps, the `E >= -19` floor,
//! signed zeros, special values or overflow, which follow the published model.
//!
//! ## Special values (both modes)
//!
//! * Any NaN among the inputs (including a NaN multiplied by zero) gives the canonical NaN
//!   [`F32_CANONICAL_NAN`] (`0x7fffffff`, the pattern NVIDIA GPUs produce) or
//!   [`F16_CANONICAL_NAN`] (`0x7fff`).
//! * `Inf * 0` gives NaN; `Inf * x` (`x != 0` finite or infinite) is an infinity with the
//!   sign `sign(a) xor sign(b)`. If infinities of both signs occur among the products and `c`,
//!   the result is NaN, otherwise it is the infinity that occurs. Finite terms never cause a
//!   NaN.
//!
//! ## Signed zeros
//!
//! * [`TensorArith::V100`]: an exactly zero sum `S` is always `+0`. In particular, when every product has a
//!   zero factor and `c = -0`, the result is `+0`, not `-0`: in the model a zero accumulator
//!   has no term at all (step 3), so nothing carries its sign, and an empty or cancelling sum
//!   is `+0` (step 7). This follows the published model (whose early exit for "no products and
//!   `c == 0`" returns `+0`); the hardware samples contain no zeros, so this corner is not
//!   confirmed by measurement.
//! * [`TensorArith::Ieee`]: an exactly zero sum is `-0` if every term is a zero of negative
//!   sign (each product `±0 * y` has the sign `sign(a) xor sign(b)`, and `c = -0`), as in an
//!   IEEE 754 sum of signed zeros; any other exactly zero sum is `+0`.
//!
//! # The IEEE mode
//!
//! [`TensorArith::Ieee`] is a reference for "what an ideal tensor core would compute": every
//! product is exact, the sum of all products and `c` is computed *exactly* (in a 320-bit
//! fixed-point accumulator whose unit is `2^-149`), and that exact value is rounded *once* to
//! the output format, round to nearest, ties to even, with gradual underflow and overflow to
//! infinity. The result therefore does not depend on the order of the terms. Special values
//! and NaN canonicalisation are as in the V100 mode. For `n = 1` and fp32 output this is
//! exactly an IEEE fused multiply-add `fma(a, b, c)`.
//!
//! # Inputs of other lengths
//!
//! [`dot_f32`] and [`dot_f16`] pair `a[k]` with `b[k]`; if the slices differ in length, the
//! extra elements of the longer one are ignored. The hardware uses `n = 4` (`HMMA.884`) and
//! `n = 1` (`OHMMA.8161`); the functions also accept `n = 0` (the result is `c`, rounded as
//! a one-term sum) and `n > 4`, for which they model a single, wider adder of the same kind
//! (an extrapolation that no hardware sample covers).

// Unsafe code only to call the lane batches compiled for the host's vectors after checking that
// the host has them (`host_vectors`, allowed there alone).
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod float_lanes;
mod float_units;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "x86_64")]
pub use float_lanes::avx512 as float_avx512;
#[cfg(target_arch = "x86_64")]
pub use float_lanes::avx512_dot4 as float_avx512_dot4;
pub use float_lanes::dot1_f32_v100_lanes_fp;
#[cfg(target_arch = "x86_64")]
pub use float_units::avx2 as float_avx2;
#[cfg(target_arch = "x86_64")]
pub use float_units::avx512 as float_avx512_f16;
pub use float_units::{dot1_f16_v100_lanes_fp, dot4_f16_v100_lanes_fp, dot4_f32_v100_lanes_fp};

/// The arithmetic used by a tensor-core dot step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TensorArith {
    /// Bit-exact model of the V100 tensor core: products aligned to the largest exponent by
    /// truncation, exact integer sum, fp32 output truncated, fp16 output rounded to nearest
    /// even (see the crate documentation for the full model).
    #[default]
    V100,
    /// Ideal arithmetic: exact products, exact sum of all terms, one rounding to nearest, ties
    /// to even, into the output format (order independent).
    Ieee,
}

/// The NaN every fp32 NaN result is (`0x7fffffff`, the canonical NaN of NVIDIA GPUs).
pub const F32_CANONICAL_NAN: u32 = 0x7fff_ffff;

/// The NaN every fp16 NaN result is (`0x7fff`).
pub const F16_CANONICAL_NAN: u16 = 0x7fff;

/// One `HMMA.884`-style dot step with an fp32 accumulator: `d = c + sum_{k<4} a[k] * b[k]`.
///
/// `a` and `b` are fp16 bit patterns, `c` and the result fp32 bit patterns. Identical to
/// [`dot_f32`] with four products.
#[inline]
pub fn dot4_f32(arith: TensorArith, a: [u16; 4], b: [u16; 4], c: u32) -> u32 {
    if arith == TensorArith::V100 {
        if let Some(d) = v100_finite::<4, false>(&a, &b, c) {
            return d;
        }
    }
    dot_generic(arith, &F32, &a, &b, decode_f32(c))
}

/// One `HMMA.884`-style dot step with an fp16 accumulator: `d = c + sum_{k<4} a[k] * b[k]`.
///
/// All operands and the result are fp16 bit patterns. Identical to [`dot_f16`] with four
/// products.
#[inline]
pub fn dot4_f16(arith: TensorArith, a: [u16; 4], b: [u16; 4], c: u16) -> u16 {
    if arith == TensorArith::V100 {
        if let Some(d) = v100_finite::<4, true>(&a, &b, u32::from(c)) {
            return d as u16;
        }
    }
    dot_f16(arith, &a, &b, c)
}

/// A tensor-core dot step with an fp32 accumulator and any number of products:
/// `d = c + sum_k a[k] * b[k]`.
///
/// `a` and `b` are fp16 bit patterns paired element by element (extra elements of the longer
/// slice are ignored); `c` and the result are fp32 bit patterns. Use `n = 4` for `HMMA.884`
/// and `n = 1` for the outer-product `OHMMA.8161` (`d = c + a * b` through the same adder).
/// See the crate documentation for the arithmetic, special values and signed zeros.
#[inline]
pub fn dot_f32(arith: TensorArith, a: &[u16], b: &[u16], c: u32) -> u32 {
    if arith == TensorArith::V100 {
        if let (Some(&x), Some(&y), 1) = (a.first(), b.first(), a.len().min(b.len())) {
            if let Some(d) = v100_finite::<1, false>(&[x], &[y], c) {
                return d;
            }
        }
    }
    dot_generic(arith, &F32, a, b, decode_f32(c))
}

/// `OHMMA.8161` with an fp32 accumulator: `d = c + a * b` through the tensor-core adder; the
/// same as [`dot_f32`] with one product (the hot path of the outer-product tensor core).
#[inline]
pub fn dot1_f32(arith: TensorArith, a: u16, b: u16, c: u32) -> u32 {
    if arith == TensorArith::V100 {
        if let Some(d) = v100_finite::<1, false>(&[a], &[b], c) {
            return d;
        }
    }
    dot_generic(arith, &F32, &[a], &[b], decode_f32(c))
}

/// `OHMMA.8161` with an fp16 accumulator: `d = c + a * b`; the same as [`dot_f16`] with one
/// product.
#[inline]
pub fn dot1_f16(arith: TensorArith, a: u16, b: u16, c: u16) -> u16 {
    if arith == TensorArith::V100 {
        if let Some(d) = v100_finite::<1, true>(&[a], &[b], u32::from(c)) {
            return d as u16;
        }
    }
    dot_f16(arith, &[a], &[b], c)
}

/// A tensor-core dot step with an fp16 accumulator and any number of products:
/// `d = c + sum_k a[k] * b[k]`.
///
/// All operands and the result are fp16 bit patterns; `a` and `b` are paired element by
/// element (extra elements of the longer slice are ignored). In the V100 model the
/// alignment exponent is at least -19 and the result is rounded to nearest even with fp16
/// subnormals. See the crate documentation for the arithmetic, special values and signed
/// zeros.
pub fn dot_f16(arith: TensorArith, a: &[u16], b: &[u16], c: u16) -> u16 {
    // The result of `dot_generic` for the fp16 format fits in 16 bits by construction
    // (sign bit 0x8000, magnitude at most 0x7fff).
    (dot_generic(arith, &F16, a, b, decode_f16_accumulator(c)) & 0xffff) as u16
}

// ---------------------------------------------------------------------------------------------
// Formats and decoding
// ---------------------------------------------------------------------------------------------

/// Parameters of an output format.
struct Format {
    /// Significand precision in bits, hidden bit included (24 or 11).
    prec: i32,
    /// Minimum normal exponent (-126 or -14).
    emin: i32,
    /// Bit pattern of +infinity.
    inf: u32,
    /// The sign bit.
    sign: u32,
    /// The canonical NaN.
    nan: u32,
    /// V100 model: lower bound of the alignment exponent `E` (`None`: no bound).
    v100_min_align_exp: Option<i32>,
    /// V100 model: round to nearest even (`true`) or truncate (`false`) the final sum.
    v100_round_nearest: bool,
}

/// fp32 output: truncation in the V100 model, no bound on `E`.
const F32: Format = Format {
    prec: 24,
    emin: -126,
    inf: 0x7f80_0000,
    sign: 0x8000_0000,
    nan: F32_CANONICAL_NAN,
    v100_min_align_exp: None,
    v100_round_nearest: false,
};

/// fp16 output: round to nearest even in the V100 model, `E >= -19`.
const F16: Format = Format {
    prec: 11,
    emin: -14,
    inf: 0x7c00,
    sign: 0x8000,
    nan: F16_CANONICAL_NAN as u32,
    v100_min_align_exp: Some(-19),
    v100_round_nearest: true,
};

/// A decoded operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    /// Any NaN.
    Nan,
    /// An infinity; `true` when negative.
    Inf(bool),
    /// A zero; `true` when negative.
    Zero(bool),
    /// A finite non-zero number `(-1)^neg * sig * 2^lsb`, with the model exponent `e` of the
    /// V100 decomposition (the exponent the number contributes to the choice of `E`).
    Finite(Term),
}

/// A finite non-zero term `(-1)^neg * sig * 2^lsb` of the dot step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Term {
    /// Sign, `true` when negative.
    neg: bool,
    /// Integer significand, non-zero.
    sig: u64,
    /// Weight of the least significant bit of `sig`.
    lsb: i32,
    /// Exponent of the V100 decomposition `s * 2^e` (`s` in `[1, 2)`, or below 1 for clamped
    /// subnormals; in `[0, 4)` for a product).
    e: i32,
}

/// Decodes an fp16 multiplicand: `e = max(floor(log2|x|), -14)`, significand with 10
/// fraction bits (so `lsb = e - 10`).
fn decode_f16_factor(h: u16) -> Value {
    let neg = h & 0x8000 != 0;
    let field = i32::from((h >> 10) & 0x1f);
    let frac = u64::from(h & 0x3ff);
    match field {
        0x1f if frac == 0 => Value::Inf(neg),
        0x1f => Value::Nan,
        0 if frac == 0 => Value::Zero(neg),
        // Subnormal: exponent clamped at -14, significand below 1.
        0 => Value::Finite(Term { neg, sig: frac, lsb: -24, e: -14 }),
        _ => {
            let e = field - 15;
            Value::Finite(Term { neg, sig: frac | 0x400, lsb: e - 10, e })
        }
    }
}

/// Decodes an fp32 accumulator: `e_c = max(floor(log2|c|), -126)`, 23 fraction bits.
fn decode_f32(c: u32) -> Value {
    let neg = c & 0x8000_0000 != 0;
    let field = ((c >> 23) & 0xff) as i32;
    let frac = u64::from(c & 0x7f_ffff);
    match field {
        0xff if frac == 0 => Value::Inf(neg),
        0xff => Value::Nan,
        0 if frac == 0 => Value::Zero(neg),
        0 => Value::Finite(Term { neg, sig: frac, lsb: -149, e: -126 }),
        _ => {
            let e = field - 127;
            Value::Finite(Term { neg, sig: frac | 0x80_0000, lsb: e - 23, e })
        }
    }
}

/// Decodes an fp16 accumulator as the fp32 number of the same value: the model exponent is
/// the true `floor(log2|c|)`, also for fp16 subnormals (no clamp at -14).
fn decode_f16_accumulator(h: u16) -> Value {
    match decode_f16_factor(h) {
        Value::Finite(t) => {
            // `sig` is non-zero, so its bit length is between 1 and 11.
            let top = 63 - t.sig.leading_zeros() as i32;
            Value::Finite(Term { e: t.lsb + top, ..t })
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// The dot step
// ---------------------------------------------------------------------------------------------

/// Shared driver: special values first, then the finite arithmetic of `arith`.
fn dot_generic(arith: TensorArith, fmt: &Format, a: &[u16], b: &[u16], c: Value) -> u32 {
    let pairs = a.iter().zip(b.iter());
    // Cheap screen: an exponent field of all ones is an infinity or a NaN.
    let special_factor = pairs.clone().any(|(&x, &y)| x & 0x7c00 == 0x7c00 || y & 0x7c00 == 0x7c00);
    if special_factor || matches!(c, Value::Nan | Value::Inf(_)) {
        if let Some(result) = special_result(fmt, a, b, c) {
            return result;
        }
    }

    // Everything is finite; the terms are the non-zero products and a non-zero c.
    let products = pairs.filter_map(|(&x, &y)| finite_product(x, y));
    let acc = match c {
        Value::Finite(t) => Some(t),
        _ => None,
    };
    match arith {
        TensorArith::V100 => v100_sum(fmt, a, b, acc),
        TensorArith::Ieee => {
            // An exactly zero sum is -0 only if every term is a negative zero: every product
            // has a zero factor and factors of opposite signs, and c = -0.
            let all_neg_zero = c == Value::Zero(true)
                && a.iter().zip(b.iter()).all(|(&x, &y)| (x & 0x7fff == 0 || y & 0x7fff == 0) && (x ^ y) & 0x8000 != 0);
            ieee_sum(fmt, products.chain(acc), all_neg_zero)
        }
    }
}

/// The exact product of two finite fp16 numbers (exponent fields below 31), or `None` when a
/// factor is zero. Kept unnormalised: exponent `ea + eb` with `e = max(floor(log2|x|), -14)`,
/// significand `sa * sb` in `(0, 4)` as a 22-bit integer with 20 fraction bits.
fn finite_product(x: u16, y: u16) -> Option<Term> {
    let (sx, ex) = finite_factor(x);
    let (sy, ey) = finite_factor(y);
    let sig = sx * sy;
    (sig != 0).then_some(Term { neg: (x ^ y) & 0x8000 != 0, sig, lsb: ex + ey - 20, e: ex + ey })
}

/// Significand (hidden bit included, 10 fraction bits) and clamped exponent
/// `max(field, 1) - 15` of a finite fp16 number; the significand is 0 for a zero.
#[inline(always)]
fn finite_factor(h: u16) -> (u64, i32) {
    let field = (h >> 10) & 0x1f;
    let sig = u64::from(h & 0x3ff) | (u64::from(field != 0) << 10);
    (sig, i32::from(field.max(1)) - 15)
}

/// Special values: `Some(NaN)` if any input is NaN, a product is `Inf * 0`, or infinities
/// of both signs occur; `Some(±Inf)` if infinities of one sign occur; `None` when every
/// product and `c` are finite.
fn special_result(fmt: &Format, a: &[u16], b: &[u16], c: Value) -> Option<u32> {
    let mut nan = false;
    let mut pos_inf = false;
    let mut neg_inf = false;
    match c {
        Value::Nan => nan = true,
        Value::Inf(true) => neg_inf = true,
        Value::Inf(false) => pos_inf = true,
        Value::Zero(_) | Value::Finite(_) => {}
    }
    for (&x, &y) in a.iter().zip(b.iter()) {
        match (decode_f16_factor(x), decode_f16_factor(y)) {
            (Value::Nan, _) | (_, Value::Nan) => nan = true,
            (Value::Inf(_), Value::Zero(_)) | (Value::Zero(_), Value::Inf(_)) => nan = true,
            (Value::Inf(sx), Value::Inf(sy))
            | (Value::Inf(sx), Value::Finite(Term { neg: sy, .. }))
            | (Value::Finite(Term { neg: sx, .. }), Value::Inf(sy)) => {
                if sx != sy {
                    neg_inf = true;
                } else {
                    pos_inf = true;
                }
            }
            _ => {}
        }
    }
    if nan || (pos_inf && neg_inf) {
        Some(fmt.nan)
    } else if pos_inf {
        Some(fmt.inf)
    } else if neg_inf {
        Some(fmt.sign | fmt.inf)
    } else {
        None
    }
}

/// The V100 model on finite inputs (no Inf or NaN among the paired factors): alignment of
/// the non-zero products and the non-zero accumulator `acc` to `E` by truncation, exact
/// integer sum, then truncation (fp32) or nearest-even rounding (fp16).
///
/// This is the hot path of tensor-core emulation, so it works on the raw fp16 fields in two
/// tight passes (largest exponent, then sum) instead of building [`Term`]s.
#[inline]
fn v100_sum(fmt: &Format, a: &[u16], b: &[u16], acc: Option<Term>) -> u32 {
    // Pass 1: the largest exponent among the non-zero terms (zero products do not count).
    let mut max_e = acc.map_or(i32::MIN, |t| t.e);
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (sx, ex) = finite_factor(x);
        let (sy, ey) = finite_factor(y);
        let e = if sx * sy != 0 { ex + ey } else { i32::MIN };
        max_e = max_e.max(e);
    }
    if max_e == i32::MIN {
        // No term at all (every product has a zero factor and c = ±0): +0.
        return 0;
    }
    let big_e = match fmt.v100_min_align_exp {
        Some(floor) => max_e.max(floor),
        None => max_e,
    };
    // Pass 2: m = floor(sig * 2^lsb * 2^(23 - E)). A product has lsb = e - 20, so
    // m = floor((sig << 3) / 2^(E - e)) with E - e >= 0 and sig << 3 < 2^25; a zero product
    // gives m = 0. Every m is below 2^25, so the sum cannot overflow for any realistic n
    // (wrapping arithmetic keeps it panic-free regardless).
    let mut sum: i64 = 0;
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (sx, ex) = finite_factor(x);
        let (sy, ey) = finite_factor(y);
        let shift = big_e.wrapping_sub(ex + ey).clamp(0, 64).unsigned_abs();
        let m = ((sx * sy) << 3).checked_shr(shift).unwrap_or(0) as i64;
        sum = if (x ^ y) & 0x8000 != 0 { sum.wrapping_sub(m) } else { sum.wrapping_add(m) };
    }
    if let Some(t) = acc {
        let m = i64::try_from(shift_trunc(t.sig, t.lsb + 23 - big_e)).unwrap_or(i64::MAX);
        sum = if t.neg { sum.wrapping_sub(m) } else { sum.wrapping_add(m) };
    }
    if sum == 0 {
        return 0; // S = 0 gives +0
    }
    let rounding = if fmt.v100_round_nearest { Rounding::NearestEven } else { Rounding::TowardZero };
    encode(fmt, sum < 0, sum.unsigned_abs(), big_e - 23, false, rounding)
}

/// Many independent `OHMMA.8161` fp32 steps at once, V100 model: `out[i] = c[i] + a[i] * b[i]`
/// for every `i` whose inputs are finite; returns a mask (bit `i` of word `i / 64`) of the
/// elements with an infinity or a NaN among their inputs, whose `out` is left unspecified: the
/// caller computes those with [`dot1_f32`].
///
/// The same steps as [`dot1_f32`]'s fast path, in 32-bit integers and without branches, so that
/// the compiler can vectorise the loop (the aligned terms are below `2^25` and their sum below
/// `2^26`). [`dot1_f32_v100_lanes_host`] is the same function compiled for the host's widest
/// vectors (AVX-512 or AVX2, chosen at run time). Equality with the reference is tested like
/// the other fast paths, for both.
#[inline(always)]
pub fn dot1_f32_v100_lanes<const L: usize>(a: &[u16; L], b: &[u16; L], c: &[u32; L], out: &mut [u32; L]) -> [u64; 2] {
    const { assert!(L <= 128, "at most 128 elements per call") };
    let mut flag = [0u8; L];
    for i in 0..L {
        let (a, b, c) = (u32::from(a[i]), u32::from(b[i]), c[i]);
        let fa = (a >> 10) & 0x1f;
        let fb = (b >> 10) & 0x1f;
        let fc = (c >> 23) & 0xff;
        flag[i] = u8::from((fa == 0x1f) | (fb == 0x1f) | (fc == 0xff));
        let sa = (a & 0x3ff) | (u32::from(fa != 0) << 10);
        let sb = (b & 0x3ff) | (u32::from(fb != 0) << 10);
        let sig_p = sa * sb; // exact, below 2^22
        let e_p = fa.max(1) as i32 + fb.max(1) as i32 - 30;
        let sig_c = (c & 0x7f_ffff) | (u32::from(fc != 0) << 23);
        let e_c = fc.max(1) as i32 - 127;
        // An absent term (zero product, zero accumulator) does not take part in E.
        const NONE: i32 = -1000;
        let big_e = (if sig_p != 0 { e_p } else { NONE }).max(if sig_c != 0 { e_c } else { NONE });
        // An absent term may have a negative shift, and a far smaller one a shift of 32 or more:
        // both give 0 (the absent term is 0; the small one lies wholly below the kept bits).
        let m_p = shr_or_zero(sig_p << 3, big_e - e_p) as i32;
        let m_c = shr_or_zero(sig_c, big_e - e_c) as i32;
        let neg_p = -(((a ^ b) >> 15) as i32);
        let neg_c = -((c >> 31) as i32);
        let sum = ((m_p ^ neg_p) - neg_p) + ((m_c ^ neg_c) - neg_c);
        out[i] = encode_f32_trunc_i32(sum, big_e);
    }
    special_mask(&flag)
}

/// [`dot1_f32_v100_lanes`] on `R` rows that share their `a` (a dense `OHMMA.8161`: each lane's A
/// value meets the B values of its `R` accumulators): `out[r][i] = c[r][i] + a[i] * b[r][i]`;
/// returns each row's special mask.
#[inline(always)]
pub fn dot1_f32_v100_rows<const L: usize, const R: usize>(
    a: &[u16; L],
    b: &[[u16; L]; R],
    c: &[[u32; L]; R],
    out: &mut [[u32; L]; R],
) -> [[u64; 2]; R] {
    each_row(a, b, c, out, dot1_f32_v100_lanes)
}

/// A one-product lane batch `batch` run on each of `R` rows that share their `a`.
#[inline(always)]
fn each_row<const L: usize, const R: usize>(
    a: &[u16; L],
    b: &[[u16; L]; R],
    c: &[[u32; L]; R],
    out: &mut [[u32; L]; R],
    batch: impl Fn(&[u16; L], &[u16; L], &[u32; L], &mut [u32; L]) -> [u64; 2],
) -> [[u64; 2]; R] {
    std::array::from_fn(|r| batch(a, &b[r], &c[r], &mut out[r]))
}

/// The vector instruction-set level the fast paths of otc-emu run at (the lane batches here and
/// otc-sim's interpreter loop): every level runs the same Rust code, so the results are the same
/// bits; only the width of the loops and the FMA instruction differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VectorLevel {
    /// The baseline target (x86-64 SSE2, or any other architecture).
    Base,
    /// x86-64-v3: AVX2, FMA, F16C, BMI1/2, LZCNT, POPCNT.
    Avx2,
    /// x86-64-v4 subsets: AVX-512 F/BW/VL/DQ/CD on top of `Avx2`.
    Avx512,
}

/// The level in use: the host's best, lowered (never raised) by the environment variable
/// `OTC_SIM_ISA` = `base` | `avx2` | `avx512` (for testing that every level gives the same bits).
/// Detected once per process (inlined: the hot paths ask for every instruction).
#[inline]
pub fn vector_level() -> VectorLevel {
    static LEVEL: std::sync::OnceLock<VectorLevel> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let want = match std::env::var("OTC_SIM_ISA").as_deref() {
            Ok("base") => VectorLevel::Base,
            Ok("avx2") => VectorLevel::Avx2,
            _ => VectorLevel::Avx512,
        };
        host_vector_level().min(want)
    })
}

#[cfg(target_arch = "x86_64")]
fn host_vector_level() -> VectorLevel {
    use std::arch::is_x86_feature_detected as has;
    let v3 =
        has!("avx2") && has!("fma") && has!("f16c") && has!("bmi1") && has!("bmi2") && has!("lzcnt") && has!("popcnt");
    let v4 = has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq") && has!("avx512cd");
    match (v3, v4) {
        (true, true) => VectorLevel::Avx512,
        (true, false) => VectorLevel::Avx2,
        _ => VectorLevel::Base,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn host_vector_level() -> VectorLevel {
    VectorLevel::Base
}

/// The body of a `*_host` batch: the AVX-512 floating-point batch `$float` (whole 16-lane vectors),
/// else `$portable` compiled for the host's widest vectors (`host_vectors`) or the baseline.
macro_rules! host_dispatch {
    ($float:path, $portable:ident ($($arg:ident),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if host_vectors::avx512() {
                // SAFETY: the AVX-512 level means the host has the subsets both are compiled for.
                return unsafe {
                    if L.is_multiple_of(16) {
                        $float($($arg),*)
                    } else {
                        host_vectors::avx512::$portable($($arg),*)
                    }
                };
            }
            if host_vectors::avx2() {
                // SAFETY: the AVX2 level means the host has AVX2.
                return unsafe { host_vectors::avx2::$portable($($arg),*) };
            }
        }
        $portable($($arg),*)
    }};
    // ... and with AVX2 the floating-point batch `$float2` (whole 8-lane vectors)
    ($float:path, avx2: $float2:path, $portable:ident ($($arg:ident),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if host_vectors::avx2() && !host_vectors::avx512() && L.is_multiple_of(8) {
                // SAFETY: the AVX2 level means the host has AVX2 and F16C.
                return unsafe { $float2($($arg),*) };
            }
        }
        host_dispatch!($float, $portable($($arg),*))
    }};
}

/// [`dot1_f32_v100_lanes`] in the host's widest vectors, chosen once per process (the environment
/// variable `OTC_SIM_ISA` = `base` | `avx2` lowers the choice, for testing): the floating-point
/// formulation of [`float_avx512`] with AVX-512 (`L` a multiple of 16), the one by units of `u` of
/// [`float_avx2`] with AVX2 (`L` a multiple of 8; half the time of the integer batch compiled for
/// AVX2), else the portable one, [`dot1_f32_v100_lanes_fp`]. The same bits and flags on every host.
#[inline]
#[allow(unsafe_code)]
pub fn dot1_f32_v100_lanes_host<const L: usize>(
    a: &[u16; L],
    b: &[u16; L],
    c: &[u32; L],
    out: &mut [u32; L],
) -> [u64; 2] {
    host_dispatch!(
        float_lanes::avx512::dot1_f32_v100_lanes,
        avx2: float_units::avx2::dot1_f32_v100_lanes,
        dot1_f32_v100_lanes_fp(a, b, c, out)
    )
}

/// [`dot1_f32_v100_rows`] in the host's widest vectors, like [`dot1_f32_v100_lanes_host`].
#[inline]
pub fn dot1_f32_v100_rows_host<const L: usize, const R: usize>(
    a: &[u16; L],
    b: &[[u16; L]; R],
    c: &[[u32; L]; R],
    out: &mut [[u32; L]; R],
) -> [[u64; 2]; R] {
    each_row(a, b, c, out, dot1_f32_v100_lanes_host)
}

/// [`dot4_f32_v100_lanes`] in the host's widest vectors, like [`dot1_f32_v100_lanes_host`]: the
/// floating-point formulation of [`float_avx512_dot4`] with AVX-512 (`L` a multiple of 16), that of
/// [`float_avx2`] with AVX2 (`L` a multiple of 8), else the integer batch (in the baseline build
/// faster than the portable float one). The same bits and flags on every host.
#[inline]
#[allow(unsafe_code)]
pub fn dot4_f32_v100_lanes_host<const L: usize>(
    a: &[[u16; L]; 4],
    b: &[[u16; L]; 4],
    c: &[u32; L],
    out: &mut [u32; L],
) -> [u64; 2] {
    host_dispatch!(
        float_lanes::avx512_dot4::dot4_f32_v100_lanes,
        avx2: float_units::avx2::dot4_f32_v100_lanes,
        dot4_f32_v100_lanes(a, b, c, out)
    )
}

/// [`dot1_f16_v100_lanes_fp`] (`OHMMA.8161` with fp16 accumulators) in the host's widest vectors,
/// like [`dot1_f32_v100_lanes_host`]: the AVX-512 formulation of [`float_avx512_f16`] (`L` a
/// multiple of 16), the AVX2 one of [`float_avx2`] (`L` a multiple of 8), else the portable one.
/// The same bits and flags on every host.
#[inline]
#[allow(unsafe_code)]
pub fn dot1_f16_v100_lanes_host<const L: usize>(
    a: &[u16; L],
    b: &[u16; L],
    c: &[u16; L],
    out: &mut [u16; L],
) -> [u64; 2] {
    host_dispatch!(
        float_units::avx512::dot1_f16_v100_lanes,
        avx2: float_units::avx2::dot1_f16_v100_lanes,
        dot1_f16_v100_lanes_fp(a, b, c, out)
    )
}

/// [`dot4_f16_v100_lanes_fp`] (`HMMA.884` with fp16 accumulators) in the host's widest vectors,
/// like [`dot1_f16_v100_lanes_host`].
#[inline]
#[allow(unsafe_code)]
pub fn dot4_f16_v100_lanes_host<const L: usize>(
    a: &[[u16; L]; 4],
    b: &[[u16; L]; 4],
    c: &[u16; L],
    out: &mut [u16; L],
) -> [u64; 2] {
    host_dispatch!(
        float_units::avx512::dot4_f16_v100_lanes,
        avx2: float_units::avx2::dot4_f16_v100_lanes,
        dot4_f16_v100_lanes_fp(a, b, c, out)
    )
}

/// The lane batches compiled for wider vectors than the baseline target (x86-64 hosts only).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod host_vectors {
    use super::{vector_level, VectorLevel};

    #[inline(always)]
    pub(super) fn avx512() -> bool {
        vector_level() == VectorLevel::Avx512
    }

    #[inline(always)]
    pub(super) fn avx2() -> bool {
        vector_level() >= VectorLevel::Avx2
    }

    /// A module `$name` of the batches compiled with the target features `$features`.
    macro_rules! build {
        ($name:ident, $features:literal) => {
            pub(super) mod $name {
                #[target_feature(enable = $features)]
                pub(crate) unsafe fn dot1_f32_v100_lanes_fp<const L: usize>(
                    a: &[u16; L],
                    b: &[u16; L],
                    c: &[u32; L],
                    out: &mut [u32; L],
                ) -> [u64; 2] {
                    crate::dot1_f32_v100_lanes_fp(a, b, c, out)
                }

                // Built for the tests only: the integer batch is faster (measured per 64-element
                // STEP: 150 against 237 CPU-ns with AVX2, 615 against 645 in the baseline), and
                // with AVX2 the intrinsics of `float_units::avx2` are faster than both.
                #[allow(dead_code)]
                #[target_feature(enable = $features)]
                pub(crate) unsafe fn dot4_f32_v100_lanes_fp<const L: usize>(
                    a: &[[u16; L]; 4],
                    b: &[[u16; L]; 4],
                    c: &[u32; L],
                    out: &mut [u32; L],
                ) -> [u64; 2] {
                    crate::dot4_f32_v100_lanes_fp(a, b, c, out)
                }

                #[target_feature(enable = $features)]
                pub(crate) unsafe fn dot1_f16_v100_lanes_fp<const L: usize>(
                    a: &[u16; L],
                    b: &[u16; L],
                    c: &[u16; L],
                    out: &mut [u16; L],
                ) -> [u64; 2] {
                    crate::dot1_f16_v100_lanes_fp(a, b, c, out)
                }

                #[target_feature(enable = $features)]
                pub(crate) unsafe fn dot4_f16_v100_lanes_fp<const L: usize>(
                    a: &[[u16; L]; 4],
                    b: &[[u16; L]; 4],
                    c: &[u16; L],
                    out: &mut [u16; L],
                ) -> [u64; 2] {
                    crate::dot4_f16_v100_lanes_fp(a, b, c, out)
                }

                #[target_feature(enable = $features)]
                pub(crate) unsafe fn dot4_f32_v100_lanes<const L: usize>(
                    a: &[[u16; L]; 4],
                    b: &[[u16; L]; 4],
                    c: &[u32; L],
                    out: &mut [u32; L],
                ) -> [u64; 2] {
                    crate::dot4_f32_v100_lanes(a, b, c, out)
                }
            }
        };
    }

    build!(avx512, "avx512f,avx512cd,avx512bw,avx512vl,avx2");
    build!(avx2, "avx2");
}

/// `x >> n`, or 0 when `n` is negative or 32 or more (one vector shift: x86's variable shifts
/// give 0 for such counts, so no clamp or select is left after optimisation).
#[inline(always)]
fn shr_or_zero(x: u32, n: i32) -> u32 {
    x.checked_shr(n as u32).unwrap_or(0)
}

/// `x << n`, or 0 when `n` is negative or 32 or more (see [`shr_or_zero`]).
#[inline(always)]
fn shl_or_zero(x: u32, n: i32) -> u32 {
    x.checked_shl(n as u32).unwrap_or(0)
}

/// The flags (0 or 1) of a batch as a bit mask; all-zero flags, the usual case, are found by a
/// vectorised OR before any bit is packed (packing bit by bit costs as much as the arithmetic).
#[inline(always)]
fn special_mask<const L: usize>(flag: &[u8; L]) -> [u64; 2] {
    let mut special = [0u64; 2];
    if flag.iter().fold(0u8, |acc, &f| acc | f) == 0 {
        return special;
    }
    for (i, &f) in flag.iter().enumerate() {
        special[(i / 64) & 1] |= u64::from(f) << (i % 64);
    }
    special
}

/// Many independent `HMMA.884` fp32 dot steps at once, V100 model: `out[i] = c[i] + sum_k
/// a[k][i] * b[k][i]` (four products) for every `i` whose inputs are finite; the returned mask
/// marks the elements with an infinity or a NaN among their inputs (their `out` is unspecified:
/// use [`dot4_f32`]). Branch-free 32-bit integer code like [`dot1_f32_v100_lanes`] (the aligned
/// sum is below `2^28`).
#[inline(always)]
pub fn dot4_f32_v100_lanes<const L: usize>(
    a: &[[u16; L]; 4],
    b: &[[u16; L]; 4],
    c: &[u32; L],
    out: &mut [u32; L],
) -> [u64; 2] {
    const { assert!(L <= 128, "at most 128 elements per call") };
    const NONE: i32 = -1000;
    let mut flag = [0u8; L];
    for i in 0..L {
        let c = c[i];
        let fc = (c >> 23) & 0xff;
        let mut any = fc == 0xff;
        let sig_c = (c & 0x7f_ffff) | (u32::from(fc != 0) << 23);
        let e_c = fc.max(1) as i32 - 127;
        let mut big_e = if sig_c != 0 { e_c } else { NONE };
        let mut sig_p = [0u32; 4];
        let mut e_p = [0i32; 4];
        for k in 0..4 {
            let (x, y) = (u32::from(a[k][i]), u32::from(b[k][i]));
            let fa = (x >> 10) & 0x1f;
            let fb = (y >> 10) & 0x1f;
            any |= (fa == 0x1f) | (fb == 0x1f);
            sig_p[k] = ((x & 0x3ff) | (u32::from(fa != 0) << 10)) * ((y & 0x3ff) | (u32::from(fb != 0) << 10));
            e_p[k] = fa.max(1) as i32 + fb.max(1) as i32 - 30;
            big_e = big_e.max(if sig_p[k] != 0 { e_p[k] } else { NONE });
        }
        flag[i] = u8::from(any);
        let mut sum = 0i32;
        for k in 0..4 {
            let m = shr_or_zero(sig_p[k] << 3, big_e - e_p[k]) as i32;
            let neg = -((u32::from(a[k][i] ^ b[k][i]) >> 15) as i32);
            sum += (m ^ neg) - neg;
        }
        let m_c = shr_or_zero(sig_c, big_e - e_c) as i32;
        let neg_c = -((c >> 31) as i32);
        sum += (m_c ^ neg_c) - neg_c;
        out[i] = encode_f32_trunc_i32(sum, big_e);
    }
    special_mask(&flag)
}

/// The fp32 result of the V100 model from the exact aligned sum `sum` (units of `2^(E - 23)`,
/// `|sum| < 2^31`): truncated to 24 bits with gradual underflow, overflow to infinity, `+0`
/// for a zero sum (the fp32 branch of [`encode`], branch-free in 32 bits).
#[inline(always)]
fn encode_f32_trunc_i32(sum: i32, big_e: i32) -> u32 {
    let mag = sum.unsigned_abs();
    let top = 31 - (mag | 1).leading_zeros() as i32;
    let lsb = big_e - 23;
    let q = (lsb + top - 23).max(-149);
    let k = q - lsb;
    // one of the two shifts is by a negative amount, which gives 0; k = 0 gives mag twice
    let m = shl_or_zero(mag, -k) | shr_or_zero(mag, k);
    let bits = (((q + 149) as u32) << 23).wrapping_add(m);
    let bits = bits.min(0x7f80_0000);
    let sign = (sum as u32) & 0x8000_0000;
    if sum == 0 {
        0
    } else {
        sign | bits
    }
}

/// The V100 model of `N` products with all inputs finite (`None` when a factor or the accumulator
/// is an infinity or a NaN: the caller falls back to [`dot_generic`]), in fixed-size arrays and
/// 64-bit integers only, for the tensor-core hot paths. `c` is an fp32 pattern, or an fp16 one
/// in its low 16 bits when `F16` (fp16 accumulator and result, `E >= -19`, nearest-even).
///
/// It is [`v100_sum`] and [`encode`] specialised: the same steps on the same integers, with the
/// accumulator decoded from its fields and the final rounding done in `u64` (every aligned sum
/// is below `2^28`, and a left shift only brings the leading bit up to the output precision).
/// Equality with the reference is tested exhaustively over fp16 pairs and by tens of millions of
/// random cases biased to the corners (crate tests, `fast_paths_equal_the_reference_*`).
#[inline(always)]
fn v100_finite<const N: usize, const F16: bool>(a: &[u16; N], b: &[u16; N], c: u32) -> Option<u32> {
    let mut any_special = false;
    for i in 0..N {
        any_special |= (a[i] & 0x7c00 == 0x7c00) | (b[i] & 0x7c00 == 0x7c00);
    }
    // Accumulator: significand (hidden bit included) with its lsb, and the model exponent.
    let (c_neg, c_sig, c_e, c_lsb) = if F16 {
        let h = c & 0xffff;
        any_special |= h & 0x7c00 == 0x7c00;
        let field = ((h >> 10) & 0x1f) as i32;
        let sig = u64::from(h & 0x3ff) | (u64::from(field != 0) << 10);
        let lsb = field.max(1) - 25;
        // The fp16 accumulator's model exponent is its true floor(log2|c|) (no clamp at -14).
        let e = if sig != 0 { lsb + 63 - sig.leading_zeros() as i32 } else { i32::MIN };
        (h & 0x8000 != 0, sig, e, lsb)
    } else {
        any_special |= c & 0x7f80_0000 == 0x7f80_0000;
        let field = ((c >> 23) & 0xff) as i32;
        let sig = u64::from(c & 0x7f_ffff) | (u64::from(field != 0) << 23);
        let e = field.max(1) - 127;
        (c & 0x8000_0000 != 0, sig, if sig != 0 { e } else { i32::MIN }, e - 23)
    };
    if any_special {
        return None;
    }
    let mut sig = [0u64; N];
    let mut exp = [0i32; N];
    let mut max_e = c_e;
    for i in 0..N {
        let (sx, ex) = finite_factor(a[i]);
        let (sy, ey) = finite_factor(b[i]);
        sig[i] = sx * sy;
        exp[i] = ex + ey;
        if sig[i] != 0 {
            max_e = max_e.max(exp[i]);
        }
    }
    if max_e == i32::MIN {
        return Some(0); // no term: +0
    }
    let big_e = if F16 { max_e.max(-19) } else { max_e };
    let mut sum: i64 = 0;
    for i in 0..N {
        // E - e >= 0 for a non-zero product; a zero product has sig 0 whatever the shift.
        let shift = (big_e - exp[i]).clamp(0, 63) as u32;
        let m = ((sig[i] << 3) >> shift) as i64;
        let neg = i64::from((a[i] ^ b[i]) >> 15);
        sum += (m ^ -neg) + neg;
    }
    if c_sig != 0 {
        // floor(sig * 2^(lsb + 23 - E)): a right shift for fp32 (lsb + 23 = e <= E); for an fp16
        // accumulator (10 fraction bits) a left shift of at most 23 bits, or a right shift.
        let k = c_lsb + 23 - big_e;
        let m = if F16 && k >= 0 { c_sig << k.min(40) } else { c_sig >> (-k).clamp(0, 63) };
        // branch-free sign: the magnitudes of the hot path are unpredictable
        let m = m as i64;
        sum += (m ^ -i64::from(c_neg)) + i64::from(c_neg);
    }
    if sum == 0 {
        return Some(0);
    }
    Some(encode_u64::<F16>(sum < 0, sum.unsigned_abs(), big_e - 23))
}

/// [`encode`] for the V100 outputs on a magnitude below `2^40` without sticky bits: fp32
/// truncation or fp16 nearest-even, gradual underflow, overflow to infinity.
#[inline(always)]
fn encode_u64<const F16: bool>(neg: bool, mag: u64, lsb: i32) -> u32 {
    let (p, emin, inf, sign) =
        if F16 { (11, -14, 0x7c00u64, 0x8000u32) } else { (24, -126, 0x7f80_0000u64, 0x8000_0000u32) };
    let sign = if neg { sign } else { 0 };
    let q_min = emin - (p - 1);
    let top = 63 - mag.leading_zeros() as i32;
    let q = (lsb + top - (p - 1)).max(q_min);
    let k = q - lsb;
    // Both shift directions computed and selected without branches (the direction depends on
    // the data); a right shift of 64 or more gives 0.
    let left = mag << (-k).clamp(0, 63);
    let kr = k.clamp(0, 63) as u32;
    let kept = if k >= 64 { 0 } else { mag >> kr };
    let right = if F16 && kr > 0 {
        let rem = mag & ((1u64 << kr) - 1);
        let half = 1u64 << (kr - 1);
        let rem = if k >= 64 { 0 } else { rem };
        kept + u64::from(rem > half || (rem == half && kept & 1 == 1))
    } else {
        kept
    };
    let m = if k <= 0 { left } else { right };
    let bits = (((q - q_min) as u64) << (p - 1)) + m;
    if bits >= inf {
        sign | inf as u32
    } else {
        sign | bits as u32
    }
}

/// `floor(x * 2^k)` for any shift `k`; shifts past the width give 0, left shifts are at most
/// a few bits in practice and saturate rather than wrap if they were not.
fn shift_trunc(x: u64, k: i32) -> u64 {
    if k >= 0 {
        let k = k.unsigned_abs();
        if k >= 64 || x.leading_zeros() < k {
            u64::MAX
        } else {
            x << k
        }
    } else {
        x.checked_shr(k.unsigned_abs()).unwrap_or(0)
    }
}

/// The IEEE mode on the finite non-zero terms: exact sum in a 320-bit fixed-point accumulator
/// (unit `2^-149`), then one rounding to nearest even.
fn ieee_sum<I: Iterator<Item = Term>>(fmt: &Format, terms: I, all_neg_zero: bool) -> u32 {
    let mut pos = Wide::ZERO;
    let mut neg = Wide::ZERO;
    for t in terms {
        // Every term has lsb >= -149 (fp32 subnormal unit), so the offset is non-negative.
        let offset = (t.lsb - Wide::LSB).max(0).unsigned_abs();
        if t.neg {
            neg.add_shifted(t.sig, offset);
        } else {
            pos.add_shifted(t.sig, offset);
        }
    }
    let (negative, diff) = match pos.cmp(&neg) {
        std::cmp::Ordering::Equal => {
            return if all_neg_zero { fmt.sign } else { 0 };
        }
        std::cmp::Ordering::Greater => (false, pos.sub(&neg)),
        std::cmp::Ordering::Less => (true, neg.sub(&pos)),
    };
    let (mag, lsb, sticky) = diff.top_bits();
    encode(fmt, negative, mag, lsb, sticky, Rounding::NearestEven)
}

/// How the final value is rounded into the output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rounding {
    /// Truncate the magnitude (V100 fp32 output).
    TowardZero,
    /// Round to nearest, ties to even.
    NearestEven,
}

/// Rounds the value `(-1)^neg * (mag + f) * 2^lsb` into `fmt`, where `f` is 0 when `sticky`
/// is false and some unknown fraction in `(0, 1)` otherwise. Callers set `sticky` only with
/// `mag >= 2^(prec + 1)`, so the fraction never reaches the rounding position.
///
/// Gives the bit pattern including the sign; overflow gives infinity, and a value that
/// rounds to zero gives a zero with the sign `neg`. `mag == 0` gives a signed zero.
fn encode(fmt: &Format, neg: bool, mag: u64, lsb: i32, sticky: bool, rnd: Rounding) -> u32 {
    let sign = if neg { fmt.sign } else { 0 };
    if mag == 0 {
        return sign;
    }
    let p = fmt.prec;
    // Weight of the last significand bit of the smallest subnormal.
    let q_min = fmt.emin - (p - 1);
    let top = 63 - mag.leading_zeros() as i32;
    let exp = lsb + top; // exponent of the leading bit
    let q = (exp - (p - 1)).max(q_min); // weight of the last kept bit
    let k = q - lsb; // number of low bits of `mag` to drop (negative: exact, shift left)
    let mag = u128::from(mag);
    let m: u128 = if k <= 0 {
        // Exact: the leading bit lands at most at position p - 1.
        mag << k.unsigned_abs().min(127)
    } else if k >= 128 {
        // Everything is below half an ulp of the smallest subnormal.
        0
    } else {
        let k = k.unsigned_abs();
        let kept = mag >> k;
        match rnd {
            Rounding::TowardZero => kept,
            Rounding::NearestEven => {
                let rem = mag & ((1u128 << k) - 1);
                let half = 1u128 << (k - 1);
                let up = rem > half || (rem == half && (sticky || kept & 1 == 1));
                kept + u128::from(up)
            }
        }
    };
    // Field arithmetic: (q - q_min) << (p - 1) plus the significand (whose hidden bit adds
    // one to the exponent field, and whose rounding carry adds one more if it occurs).
    let scale = u128::from((q - q_min).unsigned_abs());
    let bits = (scale << (p - 1)) + m;
    if bits >= u128::from(fmt.inf) {
        return sign | fmt.inf;
    }
    // bits < fmt.inf, so it fits in 32 bits.
    sign | (bits as u32)
}

// ---------------------------------------------------------------------------------------------
// A small fixed-width unsigned integer for the exact IEEE sum
// ---------------------------------------------------------------------------------------------

/// A 320-bit unsigned integer, little-endian 64-bit limbs, counting units of `2^-149`.
///
/// The largest term is an fp32 accumulator below `2^128` (bit 277 of this integer); products
/// of fp16 numbers are below `2^32` (bit 181), so the sum of `c` and up to `2^40` products
/// fits without overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wide([u64; 5]);

impl Wide {
    /// Zero.
    const ZERO: Wide = Wide([0; 5]);
    /// Weight of bit 0.
    const LSB: i32 = -149;

    /// Adds `v * 2^offset` (bits beyond the width are dropped, which cannot happen for the
    /// terms of a dot step).
    fn add_shifted(&mut self, v: u64, offset: u32) {
        let limb = (offset / 64) as usize;
        let bit = offset % 64;
        let lo = v << bit;
        let hi = if bit == 0 { 0 } else { v >> (64 - bit) };
        let mut carry = 0u64;
        for (i, word) in self.0.iter_mut().enumerate().skip(limb) {
            let add = if i == limb {
                lo
            } else if i == limb + 1 {
                hi
            } else {
                0
            };
            let (s1, c1) = word.overflowing_add(add);
            let (s2, c2) = s1.overflowing_add(carry);
            *word = s2;
            carry = u64::from(c1) + u64::from(c2);
        }
    }

    /// `self - other`, for `self >= other`.
    fn sub(&self, other: &Wide) -> Wide {
        let mut out = [0u64; 5];
        let mut borrow = 0u64;
        for (i, o) in out.iter_mut().enumerate() {
            let (d1, b1) = self.0[i].overflowing_sub(other.0[i]);
            let (d2, b2) = d1.overflowing_sub(borrow);
            *o = d2;
            borrow = u64::from(b1) + u64::from(b2);
        }
        Wide(out)
    }

    /// Numeric comparison.
    fn cmp(&self, other: &Wide) -> std::cmp::Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }

    /// Number of significant bits (0 for zero).
    fn bit_len(&self) -> u32 {
        for (i, &w) in self.0.iter().enumerate().rev() {
            if w != 0 {
                return 64 * i as u32 + (64 - w.leading_zeros());
            }
        }
        0
    }

    /// The leading 62 bits as `(mag, lsb, sticky)`: the value is `(mag + f) * 2^lsb` with
    /// `f = 0` when `sticky` is false and `f` in `(0, 1)` otherwise.
    fn top_bits(&self) -> (u64, i32, bool) {
        let len = self.bit_len();
        if len <= 62 {
            return (self.0[0], Self::LSB, false);
        }
        let shift = len - 62;
        let limb = (shift / 64) as usize;
        let bit = shift % 64;
        let lo = self.0[limb] >> bit;
        let hi = if bit == 0 || limb + 1 >= self.0.len() { 0 } else { self.0[limb + 1] << (64 - bit) };
        let mag = (lo | hi) & ((1u64 << 62) - 1);
        let below_mask = if bit == 0 { 0 } else { (1u64 << bit) - 1 };
        let sticky = self.0[..limb].iter().any(|&w| w != 0) || self.0[limb] & below_mask != 0;
        (mag, Self::LSB + shift as i32, sticky)
    }
}
