//! Table-driven and property tests of the tensor-core dot step.
//!
//! Every expected value below is derived by hand in the comment next to it. Notation:
//! `u = 2^-23` (the fp32 ulp of 1), `E` is the V100 alignment exponent, and a term `m` is the
//! aligned, truncated integer `floor(|x| * 2^(23 - E))`.

use super::*;
use TensorArith::{Ieee, V100};

// fp16 constants.
const H_0: u16 = 0x0000;
const H_NEG_0: u16 = 0x8000;
const H_1: u16 = 0x3c00;
const H_NEG_1: u16 = 0xbc00;
const H_1P5: u16 = 0x3e00; // 1.5
const H_2: u16 = 0x4000;
const H_0P5: u16 = 0x3800;
const H_MAX: u16 = 0x7bff; // 65504 = 2047 * 2^5
const H_NEG_MAX: u16 = 0xfbff;
const H_MIN_SUB: u16 = 0x0001; // 2^-24
const H_MIN_NORMAL: u16 = 0x0400; // 2^-14
const H_INF: u16 = 0x7c00;
const H_NEG_INF: u16 = 0xfc00;
const H_QNAN: u16 = 0x7e00;
const H_SNAN: u16 = 0x7c01;
const H_2M11: u16 = 0x1000; // 2^-11
const H_2M12: u16 = 0x0c00; // 2^-12
const H_NEG_2M12: u16 = 0x8c00; // -2^-12
const H_2M13: u16 = 0x0800; // 2^-13
const H_1P25_2M12: u16 = 0x0d00; // 1.25 * 2^-12
const H_1P5_2M12: u16 = 0x0e00; // 1.5 * 2^-12
const H_1P_2M10: u16 = 0x1401; // (1 + 2^-10) * 2^-10
const H_256: u16 = 0x5c00;
const H_NEG_256: u16 = 0xdc00;

// fp32 constants.
const F_0: u32 = 0x0000_0000;
const F_NEG_0: u32 = 0x8000_0000;
const F_1: u32 = 0x3f80_0000;
const F_INF: u32 = 0x7f80_0000;
const F_NEG_INF: u32 = 0xff80_0000;
const F_NAN: u32 = F32_CANONICAL_NAN;
const F_MAX: u32 = 0x7f7f_ffff;
const F_NEG_MAX: u32 = 0xff7f_ffff;
const F_2P24: u32 = 0x4b80_0000; // 2^24
const F_2P100: u32 = 0x7180_0000; // 2^100
const H_NAN: u16 = F16_CANONICAL_NAN;

/// One fp32-output case with the expected result of each arithmetic.
struct Case32 {
    name: &'static str,
    a: &'static [u16],
    b: &'static [u16],
    c: u32,
    v100: u32,
    ieee: u32,
}

/// One fp16-output case with the expected result of each arithmetic.
struct Case16 {
    name: &'static str,
    a: &'static [u16],
    b: &'static [u16],
    c: u16,
    v100: u16,
    ieee: u16,
}

const F32_CASES: &[Case32] = &[
    // 1*1 + 2*1 + 1.5*2 + 0.5*2 + 1 = 8: every term is exact, both modes give 8.0.
    Case32 {
        name: "exact small values",
        a: &[H_1, H_2, H_1P5, H_0P5],
        b: &[H_1, H_1, H_2, H_2],
        c: F_1,
        v100: 0x4100_0000,
        ieee: 0x4100_0000,
    },
    // Four products 1.5*2^-12 * 2^-12 = 0.75u each, c = 1 so E = 0: each m = floor(0.75) = 0
    // and V100 returns 1.0. The exact sum is 1 + 3u, representable, so IEEE returns 1 + 3u.
    Case32 {
        name: "four tiny products each truncated to zero",
        a: &[H_1P5_2M12; 4],
        b: &[H_2M12; 4],
        c: F_1,
        v100: F_1,
        ieee: 0x3f80_0003,
    },
    // n = 1: c = 1, product -1.25*2^-24 = -0.625u. V100: m = -floor(0.625) = 0, so the
    // result stays 1.0 (truncating the magnitude of a negative term rounds it up). IEEE:
    // 1 - 1.25*2^-24 lies between 1 - 2^-24 and 1 - 2^-23 (ulp below 1 is 2^-24), nearest is
    // 1 - 2^-24 = 0x3f7fffff.
    Case32 {
        name: "small negative product vanishes (V100) but rounds below 1 (IEEE)",
        a: &[H_1P25_2M12],
        b: &[H_NEG_2M12],
        c: F_1,
        v100: F_1,
        ieee: 0x3f7f_ffff,
    },
    // c = 1 + 3u, product 1, E = 0: S = (2^23 + 3) + 2^23 = 2^24 + 3, value 2 + 3u. The ulp at 2
    // is 2u: V100 truncates to 2 + 2u (0x40000001); IEEE sees 1.5 ulp, a tie, and rounds to
    // the even 2 + 4u (0x40000002).
    Case32 {
        name: "carry-out sum truncated vs rounded",
        a: &[H_1],
        b: &[H_1],
        c: 0x3f80_0003,
        v100: 0x4000_0001,
        ieee: 0x4000_0002,
    },
    // c = 2^24, product 1.5: E = 24, m = floor(1.5 * 2^-1) = 0, V100 gives 2^24. IEEE: the ulp
    // at 2^24 is 2, 2^24 + 1.5 rounds to 2^24 + 2 = 0x4b800001.
    Case32 {
        name: "product below the last bit of c",
        a: &[H_1P5],
        b: &[H_1],
        c: F_2P24,
        v100: F_2P24,
        ieee: 0x4b80_0001,
    },
    // c = 2^100 (E = 100), product -1 is shifted by 100 + 3 bits: 0. IEEE: 2^100 - 1 is within
    // half an ulp (2^75) of 2^100. Both give 2^100.
    Case32 {
        name: "alignment shift far over 31 bits",
        a: &[H_NEG_1],
        b: &[H_1],
        c: F_2P100,
        v100: F_2P100,
        ieee: F_2P100,
    },
    // The largest products (65504^2 < 2^32 each) cannot move 2^100.
    Case32 {
        name: "largest products vanish against 2^100",
        a: &[H_MAX; 4],
        b: &[H_MAX; 4],
        c: F_2P100,
        v100: F_2P100,
        ieee: F_2P100,
    },
    // c = -2^-40 against a product 1: shifted out in V100; 1 - 2^-40 rounds to 1 in IEEE.
    Case32 { name: "tiny negative c shifted out", a: &[H_1], b: &[H_1], c: 0xab80_0000, v100: F_1, ieee: F_1 },
    // c = 2^24, products 1 and 2^-48. V100: E = 24, both products truncate to 0 -> 2^24.
    // IEEE: 2^24 + 1 alone is a tie (rounds to even 2^24), but the exact 2^-48 makes it
    // larger than the tie, so the result is 2^24 + 2 = 0x4b800001 (the exact sum spans 73
    // bits, exercising the sticky bit of the wide accumulator).
    Case32 {
        name: "far tiny product breaks an IEEE tie",
        a: &[H_1, H_MIN_SUB],
        b: &[H_1, H_MIN_SUB],
        c: F_2P24,
        v100: F_2P24,
        ieee: 0x4b80_0001,
    },
    // Subnormal factor 2^-24 = 2^-10 * 2^-14 has model exponent -14 (clamped), so the product
    // 2^-24 * 1 has exponent -14 and significand 2^-10. The other product
    // ((1 + 2^-10) * 2^-10)^2 = (1 + 2^-9 + 2^-20) * 2^-20 has exponent -20. E = -14, so the
    // second is shifted by 6 and loses its 2^-20 * 2^-20 = 2^-40 bit (weight below 2^-37).
    // V100: 2^-20 + 2^-24 + 2^-29 = 2^-20 * (1 + 2^-4 + 2^-9): field 107, fraction bits 19 and
    // 14 -> 0x35884000. IEEE keeps 2^-40 = 2^-20 * 2^-20 (fraction bit 3) -> 0x35884008.
    Case32 {
        name: "subnormal factor clamp raises E",
        a: &[H_MIN_SUB, H_1P_2M10],
        b: &[H_1, H_1P_2M10],
        c: F_0,
        v100: 0x3588_4000,
        ieee: 0x3588_4008,
    },
    // 2^-24 * 2^-24 = 2^-48 (exponent -28, significand 2^-20, m = 8): exact, 0x27800000.
    Case32 {
        name: "subnormal times subnormal is exact",
        a: &[H_MIN_SUB],
        b: &[H_MIN_SUB],
        c: F_0,
        v100: 0x2780_0000,
        ieee: 0x2780_0000,
    },
    // Only c is left (zero product dropped); c = 3 * 2^-149 has e_c = -126, m = 3 at E = -126:
    // the fp32 subnormal comes back unchanged.
    Case32 {
        name: "fp32 subnormal c passes through",
        a: &[H_0],
        b: &[H_1],
        c: 0x0000_0003,
        v100: 0x0000_0003,
        ieee: 0x0000_0003,
    },
    Case32 {
        name: "negative fp32 subnormal c passes through",
        a: &[H_1],
        b: &[H_NEG_0],
        c: 0x8000_0005,
        v100: 0x8000_0005,
        ieee: 0x8000_0005,
    },
    // Products 1 and -1 set E = 0 and cancel; c = 3 * 2^-149 is shifted by 126 bits to 0, so
    // S = 0 and V100 gives +0. IEEE keeps c exactly.
    Case32 {
        name: "cancelling products erase a subnormal c (V100)",
        a: &[H_1, H_NEG_1],
        b: &[H_1, H_1],
        c: 0x0000_0003,
        v100: F_0,
        ieee: 0x0000_0003,
    },
    Case32 {
        name: "cancelling products erase a negative subnormal c (V100)",
        a: &[H_1, H_NEG_1],
        b: &[H_1, H_1],
        c: 0x8000_0003,
        v100: F_0,
        ieee: 0x8000_0003,
    },
    // 2^-127 (subnormal c) against a 2^-48 product: c vanishes in both (IEEE ulp is 2^-71).
    Case32 {
        name: "subnormal c below a tiny product",
        a: &[H_MIN_SUB],
        b: &[H_MIN_SUB],
        c: 0x0040_0000,
        v100: 0x2780_0000,
        ieee: 0x2780_0000,
    },
    // 0 * 65504 is dropped: it does not take part in E. If it did (with exponent 15) then
    // c = 1 + u would lose its last bit; dropped, c comes back unchanged.
    Case32 {
        name: "zero-factor product is dropped",
        a: &[H_0],
        b: &[H_MAX],
        c: 0x3f80_0001,
        v100: 0x3f80_0001,
        ieee: 0x3f80_0001,
    },
    Case32 {
        name: "negative-zero-factor product is dropped",
        a: &[H_NEG_0, H_0, H_NEG_0, H_0],
        b: &[H_MAX, H_NEG_MAX, H_NEG_MAX, H_MAX],
        c: 0x3f80_0001,
        v100: 0x3f80_0001,
        ieee: 0x3f80_0001,
    },
    // 65504^2 = 2047^2 * 2^10 = 4190209 * 2^10 (22 significant bits), exact in fp32:
    // exponent 31 (field 158), fraction (4190209 << 2) - 2^23 = 0x7fc004 -> 0x4f7fc004.
    Case32 {
        name: "product beyond the fp16 range is exact",
        a: &[H_MAX],
        b: &[H_MAX],
        c: F_0,
        v100: 0x4f7f_c004,
        ieee: 0x4f7f_c004,
    },
    // The largest possible sum cannot overflow fp32: c = MAX, products < 2^34 are far below
    // the ulp 2^104 of MAX (truncated to 0 / rounded away).
    Case32 {
        name: "no fp32 overflow from the largest inputs",
        a: &[H_MAX; 4],
        b: &[H_MAX; 4],
        c: F_MAX,
        v100: F_MAX,
        ieee: F_MAX,
    },
    Case32 {
        name: "no fp32 overflow from the largest negative inputs",
        a: &[H_MAX; 4],
        b: &[H_MAX; 4],
        c: F_NEG_MAX,
        v100: F_NEG_MAX,
        ieee: F_NEG_MAX,
    },
    // Signed zeros.
    Case32 { name: "cancellation gives +0", a: &[H_1, H_NEG_1], b: &[H_1, H_1], c: F_NEG_0, v100: F_0, ieee: F_0 },
    // All products have a zero factor and c = -0: V100 has no term and returns +0; IEEE:
    // the products are +0 (0 * 1), +0 + -0 = +0.
    Case32 { name: "positive zero products and c = -0", a: &[H_0; 4], b: &[H_1; 4], c: F_NEG_0, v100: F_0, ieee: F_0 },
    // -0 * 1 = -0 and c = -0: IEEE gives -0; the V100 model gives +0.
    Case32 {
        name: "negative zero products and c = -0",
        a: &[H_NEG_0, H_0],
        b: &[H_1, H_NEG_1],
        c: F_NEG_0,
        v100: F_0,
        ieee: F_NEG_0,
    },
    // -0 * -0 = +0: one positive zero term makes the IEEE sum +0.
    Case32 {
        name: "mixed zero products and c = -0",
        a: &[H_NEG_0, H_NEG_0],
        b: &[H_NEG_0, H_1],
        c: F_NEG_0,
        v100: F_0,
        ieee: F_0,
    },
    // Outer product (n = 1): 1 + 1.5 * 2 = 4.
    Case32 { name: "outer product step", a: &[H_1P5], b: &[H_2], c: F_1, v100: 0x4080_0000, ieee: 0x4080_0000 },
    // n = 1: 1 + 1.5*2^-24 = 1 + 0.75u: V100 truncates the term to 0, IEEE rounds up to 1 + u.
    Case32 {
        name: "outer product step truncated vs rounded",
        a: &[H_1P5_2M12],
        b: &[H_2M12],
        c: F_1,
        v100: F_1,
        ieee: 0x3f80_0001,
    },
    // NaN and infinity.
    Case32 { name: "quiet NaN factor", a: &[H_1, H_QNAN], b: &[H_1, H_1], c: F_1, v100: F_NAN, ieee: F_NAN },
    Case32 { name: "signalling NaN times zero", a: &[H_SNAN], b: &[H_0], c: F_1, v100: F_NAN, ieee: F_NAN },
    Case32 { name: "NaN accumulator", a: &[H_1], b: &[H_1], c: 0xffc0_0001, v100: F_NAN, ieee: F_NAN },
    Case32 { name: "NaN beats infinity", a: &[H_INF, H_QNAN], b: &[H_1, H_1], c: F_1, v100: F_NAN, ieee: F_NAN },
    Case32 { name: "Inf times zero", a: &[H_1, H_INF], b: &[H_1, H_0], c: F_1, v100: F_NAN, ieee: F_NAN },
    Case32 { name: "-Inf times -0", a: &[H_NEG_INF], b: &[H_NEG_0], c: F_0, v100: F_NAN, ieee: F_NAN },
    Case32 {
        name: "Inf minus Inf among products",
        a: &[H_INF, H_INF],
        b: &[H_1, H_NEG_1],
        c: F_0,
        v100: F_NAN,
        ieee: F_NAN,
    },
    Case32 {
        name: "Inf accumulator minus Inf product",
        a: &[H_NEG_INF],
        b: &[H_1],
        c: F_INF,
        v100: F_NAN,
        ieee: F_NAN,
    },
    // Finite products never turn an infinity into NaN, even huge ones of the other sign.
    Case32 {
        name: "Inf product with finite products",
        a: &[H_INF, H_MAX],
        b: &[H_1, H_NEG_MAX],
        c: F_NEG_MAX,
        v100: F_INF,
        ieee: F_INF,
    },
    Case32 { name: "-Inf times -1 is +Inf", a: &[H_NEG_INF], b: &[H_NEG_1], c: F_1, v100: F_INF, ieee: F_INF },
    Case32 {
        name: "-Inf times a subnormal",
        a: &[H_NEG_INF],
        b: &[H_MIN_SUB],
        c: F_1,
        v100: F_NEG_INF,
        ieee: F_NEG_INF,
    },
    Case32 { name: "Inf times Inf plus Inf", a: &[H_INF], b: &[H_INF], c: F_INF, v100: F_INF, ieee: F_INF },
    Case32 { name: "-Inf accumulator", a: &[H_MAX], b: &[H_MAX], c: F_NEG_INF, v100: F_NEG_INF, ieee: F_NEG_INF },
];

const F16_CASES: &[Case16] = &[
    // 1 + 2 + 3 + 1 + 1 = 8 = 2^3: field 18 -> 0x4800.
    Case16 {
        name: "exact small values",
        a: &[H_1, H_2, H_1P5, H_0P5],
        b: &[H_1, H_1, H_2, H_2],
        c: H_1,
        v100: 0x4800,
        ieee: 0x4800,
    },
    // 1 + 2^-11 is half an fp16 ulp (2^-10) above 1: tie, even is 1.0.
    Case16 { name: "tie rounds down to even", a: &[H_2M11], b: &[H_1], c: H_1, v100: H_1, ieee: H_1 },
    // (1 + 2^-10) + 2^-11: tie between 1 + 2^-10 (odd) and 1 + 2^-9 (even, 0x3c02).
    Case16 { name: "tie rounds up to even", a: &[H_2M11], b: &[H_1], c: 0x3c01, v100: 0x3c02, ieee: 0x3c02 },
    // 1 + (1 + 2^-10) * 2^-11 is just above the tie: 1 + 2^-10 = 0x3c01.
    Case16 { name: "above the tie rounds up", a: &[0x1001], b: &[H_1], c: H_1, v100: 0x3c01, ieee: 0x3c01 },
    // 1 + 2^-11 + 2^-24. V100: E = 0, the 2^-24 product (m = floor(2^-1) = 0) is truncated,
    // the sum is an exact tie and rounds to 1.0. IEEE: above the tie, 1 + 2^-10.
    Case16 {
        name: "truncated tiny product cannot break a tie (V100)",
        a: &[H_2M11, H_2M12],
        b: &[H_1, H_2M12],
        c: H_1,
        v100: H_1,
        ieee: 0x3c01,
    },
    // 2^-12 * 1.5*2^-12 = 1.5 * 2^-24: fp16 subnormal tie between 1 and 2 units, even is 2.
    Case16 {
        name: "subnormal result tie rounds up to even",
        a: &[H_2M12],
        b: &[H_1P5_2M12],
        c: H_0,
        v100: 0x0002,
        ieee: 0x0002,
    },
    // 1.25*2^-12 * 2^-11 = 2.5 * 2^-24: tie between 2 and 3 units, even is 2.
    Case16 {
        name: "subnormal result tie rounds down to even",
        a: &[H_1P25_2M12],
        b: &[H_2M11],
        c: H_0,
        v100: 0x0002,
        ieee: 0x0002,
    },
    // c = 2 * 2^-24 (exponent -23), products 2^-13 * 2^-12 = 2^-25 and 2^-24 * 2^-20 = 2^-44
    // (both factors subnormal, model exponent -28). E = max(-23, -25, -28, -19) = -19, so terms
    // are truncated below 2^(E - 23) = 2^-42: 2^-44 is lost and 2.5 * 2^-24 is an exact tie
    // -> 2 units. Without the -19 floor, E = -23 would keep 2^-44 (cut-off 2^-46) and give 3
    // units, as IEEE does (2.5 * 2^-24 + 2^-44 -> 3 units).
    Case16 {
        name: "E >= -19 truncates a 2^-44 product",
        a: &[H_2M13, H_MIN_SUB],
        b: &[H_2M12, 0x0010],
        c: 0x0002,
        v100: 0x0002,
        ieee: 0x0003,
    },
    // As above but the second product is 2^-24 * 2^-14 = 2^-38 (model exponent -28, above the
    // 2^-42 cut-off of E = -19), so it survives and breaks the tie upwards: 3 units. This
    // also pins that the fp16 accumulator 2^-23 keeps its true exponent (-23): had it been
    // clamped to -14 like a factor, E would be -14, the cut-off 2^-37, and 2^-38 would be
    // lost (2 units).
    Case16 {
        name: "fp16 subnormal accumulator keeps its true exponent",
        a: &[H_2M13, H_MIN_SUB],
        b: &[H_2M12, H_MIN_NORMAL],
        c: 0x0002,
        v100: 0x0003,
        ieee: 0x0003,
    },
    // 65504 + 16 = 65520 = 2047.5 * 2^5: a tie between 65504 (odd) and 2^16, which
    // overflows: Inf.
    Case16 { name: "overflow to Inf at the rounding tie", a: &[0x4c00], b: &[H_1], c: H_MAX, v100: H_INF, ieee: H_INF },
    // 65504 + 8 = 65512 rounds down to 65504.
    Case16 { name: "just below overflow", a: &[0x4800], b: &[H_1], c: H_MAX, v100: H_MAX, ieee: H_MAX },
    Case16 { name: "negative overflow", a: &[0xcc00], b: &[H_1], c: H_NEG_MAX, v100: H_NEG_INF, ieee: H_NEG_INF },
    // 256^2 = 65536 is beyond fp16, but the products are exact and cancel: 1 + 2^16 - 2^16.
    Case16 {
        name: "products beyond the fp16 range cancel",
        a: &[H_256, H_256],
        b: &[H_256, H_NEG_256],
        c: H_1,
        v100: H_1,
        ieee: H_1,
    },
    Case16 {
        name: "product beyond the fp16 range overflows",
        a: &[H_256],
        b: &[H_256],
        c: H_0,
        v100: H_INF,
        ieee: H_INF,
    },
    // 2^-13 * -2^-12 = -2^-25: half the smallest subnormal, a tie with 0 -> zero, and the
    // zero keeps the sign of the (non-zero) sum.
    Case16 {
        name: "tiny negative result rounds to -0",
        a: &[H_2M13],
        b: &[H_NEG_2M12],
        c: H_0,
        v100: H_NEG_0,
        ieee: H_NEG_0,
    },
    // Outer product (n = 1): 1 + 1.5 * 2 = 4 = 0x4400.
    Case16 { name: "outer product step", a: &[H_1P5], b: &[H_2], c: H_1, v100: 0x4400, ieee: 0x4400 },
    Case16 { name: "cancellation gives +0", a: &[H_1, H_1], b: &[H_1, H_NEG_1], c: H_NEG_0, v100: H_0, ieee: H_0 },
    Case16 {
        name: "negative zero products and c = -0",
        a: &[H_NEG_0],
        b: &[H_1],
        c: H_NEG_0,
        v100: H_0,
        ieee: H_NEG_0,
    },
    // An fp16 subnormal accumulator alone passes through.
    Case16 { name: "fp16 subnormal c passes through", a: &[H_0], b: &[H_MAX], c: 0x8003, v100: 0x8003, ieee: 0x8003 },
    Case16 { name: "NaN factor", a: &[H_QNAN], b: &[H_1], c: H_1, v100: H_NAN, ieee: H_NAN },
    Case16 { name: "signalling NaN accumulator", a: &[H_1], b: &[H_1], c: H_SNAN, v100: H_NAN, ieee: H_NAN },
    Case16 { name: "Inf times zero", a: &[H_0], b: &[H_NEG_INF], c: H_1, v100: H_NAN, ieee: H_NAN },
    Case16 {
        name: "Inf accumulator minus Inf product",
        a: &[H_INF],
        b: &[H_NEG_1],
        c: H_INF,
        v100: H_NAN,
        ieee: H_NAN,
    },
    Case16 { name: "Inf accumulator plus finite", a: &[H_MAX], b: &[H_NEG_MAX], c: H_INF, v100: H_INF, ieee: H_INF },
    Case16 { name: "-Inf product", a: &[H_NEG_INF, H_1], b: &[H_1, H_1], c: H_1, v100: H_NEG_INF, ieee: H_NEG_INF },
];

/// Runs every fp32-output table case in both modes.
#[test]
fn f32_cases() {
    let mut failures = Vec::new();
    for case in F32_CASES {
        for (arith, want) in [(V100, case.v100), (Ieee, case.ieee)] {
            let got = dot_f32(arith, case.a, case.b, case.c);
            if got != want {
                failures.push(format!("{} [{arith:?}]: got {got:#010x}, want {want:#010x}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs every fp16-output table case in both modes.
#[test]
fn f16_cases() {
    let mut failures = Vec::new();
    for case in F16_CASES {
        for (arith, want) in [(V100, case.v100), (Ieee, case.ieee)] {
            let got = dot_f16(arith, case.a, case.b, case.c);
            if got != want {
                failures.push(format!("{} [{arith:?}]: got {got:#06x}, want {want:#06x}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The fixed-size entry points agree with the slice forms.
#[test]
fn dot4_matches_slice_form() {
    let a = [H_1P5_2M12; 4];
    let b = [H_2M12; 4];
    assert_eq!(dot4_f32(V100, a, b, F_1), F_1);
    assert_eq!(dot4_f32(Ieee, a, b, F_1), 0x3f80_0003);
    assert_eq!(dot4_f16(V100, [H_1, H_2, H_1P5, H_0P5], [H_1, H_1, H_2, H_2], H_1), 0x4800);
    assert_eq!(dot4_f16(Ieee, [H_2M11, H_2M12, H_0, H_0], [H_1, H_2M12, H_1, H_1], H_1), 0x3c01);
    assert_eq!(dot4_f16(V100, [H_2M11, H_2M12, H_0, H_0], [H_1, H_2M12, H_1, H_1], H_1), H_1);
}

/// An empty dot step returns `c` (and pins the sign of a lone `-0`).
#[test]
fn no_products() {
    // n = 0: the result is c (rounded as a one-term sum, i.e. unchanged).
    for arith in [V100, Ieee] {
        assert_eq!(dot_f32(arith, &[], &[], 0x4049_0fdb), 0x4049_0fdb);
        assert_eq!(dot_f32(arith, &[], &[], 0x0000_0001), 0x0000_0001);
        assert_eq!(dot_f16(arith, &[], &[], 0xc248), 0xc248);
        assert_eq!(dot_f32(arith, &[], &[], F_0), F_0);
    }
    // c = -0 alone: +0 in the V100 model, -0 in IEEE.
    assert_eq!(dot_f32(V100, &[], &[], F_NEG_0), F_0);
    assert_eq!(dot_f32(Ieee, &[], &[], F_NEG_0), F_NEG_0);
    assert_eq!(dot_f16(V100, &[], &[], H_NEG_0), H_0);
    assert_eq!(dot_f16(Ieee, &[], &[], H_NEG_0), H_NEG_0);
}

/// Slices of different lengths are paired up to the shorter one.
#[test]
fn mismatched_lengths_use_the_common_prefix() {
    for arith in [V100, Ieee] {
        assert_eq!(dot_f32(arith, &[H_2, H_QNAN], &[H_2], F_1), 0x40a0_0000); // 1 + 4 = 5
        assert_eq!(dot_f16(arith, &[H_2], &[H_2, H_INF, H_INF], H_1), 0x4500); // 5
    }
}

/// `n > 4` behaves as one wider adder of the same kind.
#[test]
fn more_than_four_products() {
    // Eight products of 1 plus c = 1: 9 in both modes.
    for arith in [V100, Ieee] {
        assert_eq!(dot_f32(arith, &[H_1; 8], &[H_1; 8], F_1), 0x4110_0000);
    }
    // Eight products 1.5*2^-24 each against c = 1: V100 drops them all, IEEE adds 6u.
    assert_eq!(dot_f32(V100, &[H_1P5_2M12; 8], &[H_2M12; 8], F_1), F_1);
    assert_eq!(dot_f32(Ieee, &[H_1P5_2M12; 8], &[H_2M12; 8], F_1), 0x3f80_0006);
}

// ---------------------------------------------------------------------------------------------
// Property-style tests
// ---------------------------------------------------------------------------------------------

/// A tiny xorshift64* generator, deterministic.
struct Rng(u64);

impl Rng {
    /// Next pseudo-random 64-bit value.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish integer in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
}

/// `i * 2^s` as fp32 bits if it is exactly representable (no overflow, no lost bits).
fn exact_f32(i: i64, s: i32) -> Option<u32> {
    exact_bits(i, s, 24, -126, 127, 8).map(|b| b as u32)
}

/// `i * 2^s` as fp16 bits if it is exactly representable.
fn exact_f16(i: i64, s: i32) -> Option<u16> {
    exact_bits(i, s, 11, -14, 15, 5).map(|b| b as u16)
}

/// Independent exact encoder: `i * 2^s` in a binary format with precision `p` (hidden bit
/// included), exponent range `emin..=emax` and `w` exponent bits; `None` if not exact.
fn exact_bits(i: i64, s: i32, p: u32, emin: i32, emax: i32, w: u32) -> Option<u64> {
    if i == 0 {
        return Some(0);
    }
    let sign = u64::from(i < 0) << (p - 1 + w);
    let mut mag = i.unsigned_abs();
    let mut s = s;
    let tz = mag.trailing_zeros();
    mag >>= tz;
    s += tz as i32;
    let t = 63 - mag.leading_zeros(); // index of the leading bit
    if t >= p {
        return None;
    }
    let exp = s + t as i32;
    if exp > emax {
        return None;
    }
    let frac_bits = p - 1;
    if exp >= emin {
        let field = (exp + (1 - emin)) as u64; // bias = 1 - emin
        let frac = (mag << (frac_bits - t)) & ((1 << frac_bits) - 1);
        Some(sign | field << frac_bits | frac)
    } else {
        // Subnormal: value = frac * 2^(emin - frac_bits).
        let shift = s - (emin - frac_bits as i32);
        if shift < 0 {
            return None;
        }
        Some(sign | (mag << shift))
    }
}

/// fp16 bits to f32 (exact), independent of the crate's decoder.
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let field = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    let mag = match field {
        0 => frac * 2f32.powi(-24),
        0x1f if frac == 0.0 => f32::INFINITY,
        0x1f => f32::NAN,
        _ => (1024.0 + frac) * 2f32.powi(field - 25),
    };
    sign * mag
}

/// When all products and c are exact in a common grid `2^(sa + sb)`, the terms need no
/// alignment truncation, so V100 and IEEE must both give the exact sum whenever it is
/// representable in the output format.
#[test]
fn exact_sums_agree_fp32() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for _ in 0..20_000 {
        let n = rng.range(1, 4) as usize;
        let sa = rng.range(-24, 5) as i32;
        let sb = rng.range(-24, 5) as i32;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut sum: i64 = 0;
        for _ in 0..n {
            let ia = rng.range(-2047, 2047);
            let ib = rng.range(-2047, 2047);
            a.push(exact_f16(ia, sa).expect("fp16 factor"));
            b.push(exact_f16(ib, sb).expect("fp16 factor"));
            sum += ia * ib;
        }
        let ic = rng.range(-(1 << 24) + 1, (1 << 24) - 1);
        let c = exact_f32(ic, sa + sb).expect("fp32 accumulator");
        sum += ic;
        let Some(want) = exact_f32(sum, sa + sb) else {
            continue;
        };
        checked += 1;
        assert_eq!(dot_f32(V100, &a, &b, c), want, "V100 a={a:04x?} b={b:04x?} c={c:#x}");
        assert_eq!(dot_f32(Ieee, &a, &b, c), want, "Ieee a={a:04x?} b={b:04x?} c={c:#x}");
    }
    assert!(checked > 5_000, "only {checked} representable sums");
}

/// The fp16-output analogue; the grid must stay at or above `2^-42` (E >= -19 cuts at
/// `2^(E - 23)`).
#[test]
fn exact_sums_agree_fp16() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut checked = 0;
    for _ in 0..40_000 {
        let n = rng.range(1, 4) as usize;
        let sa = rng.range(-21, 5) as i32;
        let sb = rng.range(-21, 5) as i32;
        // Small integers so that the sum is often representable in 11 bits.
        let bits = rng.range(1, 6);
        let lim = (1i64 << bits) - 1;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut sum: i64 = 0;
        for _ in 0..n {
            let ia = rng.range(-lim, lim);
            let ib = rng.range(-lim, lim);
            a.push(exact_f16(ia, sa).expect("fp16 factor"));
            b.push(exact_f16(ib, sb).expect("fp16 factor"));
            sum += ia * ib;
        }
        let ic = rng.range(-2047, 2047);
        let (c, ic) = match exact_f16(ic, sa + sb) {
            Some(c) => (c, ic),
            None => (H_0, 0),
        };
        sum += ic;
        let Some(want) = exact_f16(sum, sa + sb) else {
            continue;
        };
        checked += 1;
        assert_eq!(dot_f16(V100, &a, &b, c), want, "V100 a={a:04x?} b={b:04x?} c={c:#x}");
        assert_eq!(dot_f16(Ieee, &a, &b, c), want, "Ieee a={a:04x?} b={b:04x?} c={c:#x}");
    }
    assert!(checked > 10_000, "only {checked} representable sums");
}

/// For one product, the IEEE mode is a correctly rounded fused multiply-add (the fp16
/// product is exact in fp32, so `f32::mul_add` rounds `a*b + c` once).
#[test]
fn ieee_single_product_is_fma() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for i in 0..200_000 {
        let a = rng.next() as u16;
        let b = rng.next() as u16;
        // Mix fully random accumulators with ones near the product's magnitude.
        let c = if i % 2 == 0 {
            rng.next() as u32
        } else {
            let p = f16_to_f32(a) * f16_to_f32(b);
            (p.to_bits() ^ (rng.next() as u32 & 0x83ff_ffff)).wrapping_add(rng.range(-3, 3) as u32)
        };
        let want = f16_to_f32(a).mul_add(f16_to_f32(b), f32::from_bits(c));
        let got = dot_f32(Ieee, &[a], &[b], c);
        if want.is_nan() {
            assert_eq!(got, F_NAN, "a={a:#x} b={b:#x} c={c:#x}");
        } else {
            assert_eq!(got, want.to_bits(), "a={a:#x} b={b:#x} c={c:#x}");
        }
    }
}

/// One product with c = 0: fp16 products are exact in fp32, so V100 gives the product
/// itself (with +0 for a zero product).
#[test]
fn v100_single_product_is_exact() {
    let mut rng = Rng(0x0bad_5eed_1234_4321);
    for _ in 0..200_000 {
        let a = rng.next() as u16;
        let b = rng.next() as u16;
        let p = f16_to_f32(a) * f16_to_f32(b);
        let got = dot_f32(V100, &[a], &[b], F_0);
        if p.is_nan() {
            assert_eq!(got, F_NAN);
        } else if p == 0.0 {
            assert_eq!(got, F_0);
        } else {
            assert_eq!(got, p.to_bits(), "a={a:#x} b={b:#x}");
        }
    }
}

/// Random bit patterns: nothing panics, NaNs are canonical, the result does not depend on
/// the order of the products or of the factors, and negating every `a` and `c` negates a
/// non-zero result.
#[test]
fn random_bits_invariants() {
    let mut rng = Rng(0x5151_7777_abcd_0001);
    for _ in 0..100_000 {
        let n = rng.range(0, 5) as usize;
        // Bias towards interesting exponents: keep random bits but often force small fields.
        let pick = |rng: &mut Rng| -> u16 {
            let x = rng.next() as u16;
            match rng.next() % 4 {
                0 => x & 0x83ff,                    // zero or subnormal
                1 => x & 0x8000 | 0x7c00 | (x & 1), // Inf or NaN
                _ => x,
            }
        };
        let a: Vec<u16> = (0..n).map(|_| pick(&mut rng)).collect();
        let b: Vec<u16> = (0..n).map(|_| pick(&mut rng)).collect();
        let c32 = rng.next() as u32;
        let c16 = pick(&mut rng);
        let rot = if n == 0 { 0 } else { rng.range(0, n as i64 - 1) as usize };
        let mut ar = a.clone();
        let mut br = b.clone();
        ar.rotate_left(rot);
        br.rotate_left(rot);
        let an: Vec<u16> = a.iter().map(|x| x ^ 0x8000).collect();
        for arith in [V100, Ieee] {
            let d32 = dot_f32(arith, &a, &b, c32);
            let d16 = dot_f16(arith, &a, &b, c16);
            if f32::from_bits(d32).is_nan() {
                assert_eq!(d32, F_NAN);
            }
            if d16 & 0x7c00 == 0x7c00 && d16 & 0x3ff != 0 {
                assert_eq!(d16, H_NAN);
            }
            assert_eq!(dot_f32(arith, &ar, &br, c32), d32);
            assert_eq!(dot_f32(arith, &b, &a, c32), d32);
            assert_eq!(dot_f16(arith, &ar, &br, c16), d16);
            assert_eq!(dot_f16(arith, &b, &a, c16), d16);
            let n32 = dot_f32(arith, &an, &b, c32 ^ 0x8000_0000);
            let n16 = dot_f16(arith, &an, &b, c16 ^ 0x8000);
            if d32 & 0x7fff_ffff != 0 && d32 != F_NAN {
                assert_eq!(n32, d32 ^ 0x8000_0000);
            }
            if d16 & 0x7fff != 0 && d16 != H_NAN {
                assert_eq!(n16, d16 ^ 0x8000);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fast paths (`v100_finite`, `encode_u64`) against the reference (`dot_generic`)
// ---------------------------------------------------------------------------------------------

/// fp16 patterns that exercise every branch: zeros, subnormals, the normal range ends, values
/// near 1, infinities and NaNs, each with both signs.
fn f16_corners() -> Vec<u16> {
    let mags = [
        0x0000, 0x0001, 0x0002, 0x01ff, 0x0200, 0x03ff, 0x0400, 0x0401, 0x07ff, 0x0800, 0x1000, 0x2e66, 0x37ff, 0x3800,
        0x3bff, 0x3c00, 0x3c01, 0x3e00, 0x3fff, 0x4000, 0x5c00, 0x7800, 0x7bfe, 0x7bff, 0x7c00, 0x7c01, 0x7e00, 0x7fff,
    ];
    mags.iter().flat_map(|&m| [m, m | 0x8000]).collect()
}

/// fp32 accumulators at the corners: zeros, subnormals, the smallest and largest normals,
/// values near the fp16 products' range, infinities and NaNs.
fn f32_corners() -> Vec<u32> {
    let mags = [
        0x0000_0000,
        0x0000_0001,
        0x0040_0000,
        0x007f_ffff,
        0x0080_0000,
        0x0080_0001,
        0x1800_0000,
        0x2f80_0000,
        0x3000_0001,
        0x3380_0000,
        0x3f7f_ffff,
        0x3f80_0000,
        0x3f80_0001,
        0x4b80_0000,
        0x4f80_0000,
        0x7180_0000,
        0x7f7f_ffff,
        0x7f80_0000,
        0x7f80_0001,
        0x7fc0_0000,
        0x7fff_ffff,
    ];
    mags.iter().flat_map(|&m| [m, m | 0x8000_0000]).collect()
}

fn ref_f32(arith: TensorArith, a: &[u16], b: &[u16], c: u32) -> u32 {
    dot_generic(arith, &F32, a, b, decode_f32(c))
}

fn ref_f16(arith: TensorArith, a: &[u16], b: &[u16], c: u16) -> u16 {
    (dot_generic(arith, &F16, a, b, decode_f16_accumulator(c)) & 0xffff) as u16
}

/// A random fp16 pattern, half the time with a corner exponent field and significand.
fn corner_f16(rng: &mut Rng) -> u16 {
    let x = rng.next();
    if x & 1 == 0 {
        return (x >> 16) as u16;
    }
    let fields = [0u64, 1, 2, 13, 14, 15, 16, 17, 28, 29, 30, 31];
    let fracs = [0u64, 1, 2, 0x1ff, 0x200, 0x3fe, 0x3ff, (x >> 40) & 0x3ff];
    let field = fields[((x >> 8) % fields.len() as u64) as usize];
    let frac = fracs[((x >> 16) % fracs.len() as u64) as usize];
    (((x >> 1) & 1) << 15 | field << 10 | frac) as u16
}

/// A random fp32 accumulator: random bits, corners, or close to minus a product's value (so
/// that the sum cancels), with exponents over the whole range.
fn corner_f32(rng: &mut Rng, near: f32) -> u32 {
    let x = rng.next();
    match x % 4 {
        0 => (x >> 32) as u32,
        1 => {
            let fields = [0u64, 1, 2, 50, 100, 110, 120, 126, 127, 128, 140, 150, 200, 253, 254, 255];
            let fracs = [0u64, 1, 2, 0x3f_ffff, 0x40_0000, 0x7f_fffe, 0x7f_ffff, (x >> 40) & 0x7f_ffff];
            let field = fields[((x >> 8) % fields.len() as u64) as usize];
            let frac = fracs[((x >> 16) % fracs.len() as u64) as usize];
            (((x >> 2) & 1) << 31 | field << 23 | frac) as u32
        }
        _ => {
            let delta = ((x >> 8) % 9) as i64 - 4;
            ((-near).to_bits() as i64 + delta) as u32
        }
    }
}

/// The same flags, and the same bits wherever no flag is set: a lane batch compiled for the host's
/// vectors ([`dot1_f32_v100_lanes_host`], [`dot4_f32_v100_lanes_host`]) against the baseline build.
fn assert_same_batch<const L: usize>(special: [u64; 2], out: &[u32; L], host_special: [u64; 2], host_out: &[u32; L]) {
    assert_eq!(special, host_special, "special flags of the host build");
    for i in 0..L {
        if special[i / 64] >> (i % 64) & 1 == 0 {
            assert_eq!(out[i], host_out[i], "element {i} of the host build");
        }
    }
}

/// `$batch` (a portable lane batch) run in every build this host can run, whatever `OTC_SIM_ISA`
/// says: the baseline, and the AVX2 and AVX-512 builds of `host_vectors`; `$out` a zeroed output.
macro_rules! host_builds {
    ($batch:ident ($($arg:expr),*), $out:expr) => {{
        let mut runs = Vec::new();
        let mut out = $out;
        runs.push(($batch($($arg),*, &mut out), out));
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") {
                // SAFETY: the host has AVX2.
                runs.push((unsafe { host_vectors::avx2::$batch($($arg),*, &mut out) }, out));
            }
            if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512cd") {
                // SAFETY: the host has the AVX-512 subsets of the build.
                runs.push((unsafe { host_vectors::avx512::$batch($($arg),*, &mut out) }, out));
            }
        }
        runs
    }};
}

/// Whether the host runs the AVX2 intrinsics of `float_units::avx2` (AVX2 and F16C).
#[cfg(target_arch = "x86_64")]
fn has_avx2_f16c() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("f16c")
}

/// Every floating-point formulation of the one-product batch that this host can run, whatever
/// `OTC_SIM_ISA` says: the portable one in the baseline build and in the AVX2 and AVX-512 builds,
/// and the AVX-512 intrinsics.
fn float_batches<const L: usize>(a: &[u16; L], b: &[u16; L], c: &[u32; L]) -> Vec<([u64; 2], [u32; L])> {
    let mut runs = Vec::new();
    let mut out = [0u32; L];
    runs.push((dot1_f32_v100_lanes_fp(a, b, c, &mut out), out));
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") {
            // SAFETY: the host has AVX2.
            runs.push((unsafe { host_vectors::avx2::dot1_f32_v100_lanes_fp(a, b, c, &mut out) }, out));
        }
        if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512cd") {
            // SAFETY: the host has the AVX-512 subsets of both builds.
            runs.push((unsafe { host_vectors::avx512::dot1_f32_v100_lanes_fp(a, b, c, &mut out) }, out));
            if L.is_multiple_of(16) {
                runs.push((unsafe { float_lanes::avx512::dot1_f32_v100_lanes(a, b, c, &mut out) }, out));
            }
        }
        if has_avx2_f16c() && L.is_multiple_of(8) {
            // SAFETY: the host has AVX2 and F16C.
            runs.push((unsafe { float_units::avx2::dot1_f32_v100_lanes(a, b, c, &mut out) }, out));
        }
    }
    runs
}

/// The AVX-512 floating-point four-product batch where the host has it (whatever `OTC_SIM_ISA`
/// says), checked against the integer batch's flags and bits.
fn check_float_batch4<const L: usize>(
    a: &[[u16; L]; 4],
    b: &[[u16; L]; 4],
    c: &[u32; L],
    special: [u64; 2],
    out: &[u32; L],
) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    if std::arch::is_x86_feature_detected!("avx512f") && L.is_multiple_of(16) {
        let mut fp_out = [0u32; L];
        // SAFETY: the host has AVX-512F.
        let fp_special = unsafe { float_lanes::avx512_dot4::dot4_f32_v100_lanes(a, b, c, &mut fp_out) };
        assert_same_batch(special, out, fp_special, &fp_out);
    }
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    if has_avx2_f16c() && L.is_multiple_of(8) {
        let mut fp_out = [0u32; L];
        // SAFETY: the host has AVX2 and F16C.
        let fp_special = unsafe { float_units::avx2::dot4_f32_v100_lanes(a, b, c, &mut fp_out) };
        assert_same_batch(special, out, fp_special, &fp_out);
    }
    // the portable formulation by units of u, in every build the host runs
    for (fp_special, fp_out) in host_builds!(dot4_f32_v100_lanes_fp(a, b, c), [0u32; L]) {
        assert_same_batch(special, out, fp_special, &fp_out);
    }
}

/// Checks `dot1_f32_v100_lanes` (and its host build, and every floating-point formulation) on 128
/// elements against the reference, element by element.
fn check_lanes(a: &[u16; 128], b: &[u16; 128], c: &[u32; 128]) {
    let mut out = [0u32; 128];
    let special = dot1_f32_v100_lanes(a, b, c, &mut out);
    let mut host_out = [0u32; 128];
    assert_same_batch(special, &out, dot1_f32_v100_lanes_host(a, b, c, &mut host_out), &host_out);
    for (fp_special, fp_out) in float_batches(a, b, c) {
        assert_same_batch(special, &out, fp_special, &fp_out);
    }
    // as four rows of 32 sharing the first 32 a values, baseline and host builds
    let a32: &[u16; 32] = a[..32].try_into().unwrap();
    let rows_b: [[u16; 32]; 4] = std::array::from_fn(|r| b[32 * r..32 * r + 32].try_into().unwrap());
    let rows_c: [[u32; 32]; 4] = std::array::from_fn(|r| c[32 * r..32 * r + 32].try_into().unwrap());
    let (mut rows_out, mut rows_host) = ([[0u32; 32]; 4], [[0u32; 32]; 4]);
    let rows_special = dot1_f32_v100_rows(a32, &rows_b, &rows_c, &mut rows_out);
    let host_special = dot1_f32_v100_rows_host(a32, &rows_b, &rows_c, &mut rows_host);
    for r in 0..4 {
        let mut one = [0u32; 32];
        let one_special = dot1_f32_v100_lanes(a32, &rows_b[r], &rows_c[r], &mut one);
        assert_same_batch(one_special, &one, rows_special[r], &rows_out[r]);
        assert_same_batch(one_special, &one, host_special[r], &rows_host[r]);
    }
    for i in 0..128 {
        let is_special = a[i] & 0x7c00 == 0x7c00 || b[i] & 0x7c00 == 0x7c00 || c[i] & 0x7f80_0000 == 0x7f80_0000;
        assert_eq!(
            special[i / 64] >> (i % 64) & 1 == 1,
            is_special,
            "special flag of {:#06x} {:#06x} {:#010x}",
            a[i],
            b[i],
            c[i]
        );
        if !is_special {
            assert_eq!(
                out[i],
                ref_f32(V100, &[a[i]], &[b[i]], c[i]),
                "lanes: a={:#06x} b={:#06x} c={:#010x}",
                a[i],
                b[i],
                c[i]
            );
        }
    }
}

#[test]
fn fast_paths_equal_the_reference_on_every_fp16_factor() {
    // Every fp16 pattern as a against corner b and c (and the reverse). Debug builds (CI) take
    // every 5th corner b and c to stay within seconds; release builds take them all.
    let step = if cfg!(debug_assertions) { 5 } else { 1 };
    let hc: Vec<u16> = f16_corners().into_iter().step_by(step).collect();
    let fc: Vec<u32> = f32_corners().into_iter().step_by(step).collect();
    for a in 0..=u16::MAX {
        for &b in &hc {
            for &c in &fc {
                assert_eq!(dot1_f32(V100, a, b, c), ref_f32(V100, &[a], &[b], c), "a={a:#06x} b={b:#06x} c={c:#010x}");
                assert_eq!(dot1_f32(V100, b, a, c), ref_f32(V100, &[b], &[a], c), "a={b:#06x} b={a:#06x} c={c:#010x}");
            }
            for &c in &hc {
                assert_eq!(
                    dot1_f16(V100, a, b, c),
                    ref_f16(V100, &[a], &[b], c),
                    "f16 a={a:#06x} b={b:#06x} c={c:#06x}"
                );
            }
        }
    }
    // The lane batches on the same inputs (every 5th a in debug builds), 128 (64 for four
    // products) elements at a time; the
    // four-product form sums x*y, -x*y, y*x and x*x, which cancel and shift in every way.
    let mut i = 0;
    let (mut la, mut lb, mut lc) = ([0u16; 128], [0u16; 128], [0u32; 128]);
    for x in (0..=u16::MAX).step_by(step) {
        for &y in &hc {
            for &z in &fc {
                (la[i], lb[i], lc[i]) = (x, y, z);
                i += 1;
                if i == 128 {
                    check_lanes(&la, &lb, &lc);
                    check_lanes(&lb, &la, &lc);
                    let qa: [[u16; 64]; 4] = [
                        la[..64].try_into().unwrap(),
                        la[..64].try_into().unwrap(),
                        lb[..64].try_into().unwrap(),
                        la[64..].try_into().unwrap(),
                    ];
                    let qb: [[u16; 64]; 4] = [
                        lb[..64].try_into().unwrap(),
                        std::array::from_fn(|j| lb[j] ^ 0x8000),
                        la[..64].try_into().unwrap(),
                        la[64..].try_into().unwrap(),
                    ];
                    let qc: [u32; 64] = lc[..64].try_into().unwrap();
                    let mut out = [0u32; 64];
                    let special = dot4_f32_v100_lanes(&qa, &qb, &qc, &mut out);
                    let mut host_out = [0u32; 64];
                    let host_special = dot4_f32_v100_lanes_host(&qa, &qb, &qc, &mut host_out);
                    assert_same_batch(special, &out, host_special, &host_out);
                    check_float_batch4(&qa, &qb, &qc, special, &out);
                    for j in 0..64 {
                        let (av, bv): ([u16; 4], [u16; 4]) =
                            (std::array::from_fn(|k| qa[k][j]), std::array::from_fn(|k| qb[k][j]));
                        let want = ref_f32(V100, &av, &bv, qc[j]);
                        let any =
                            av.iter().chain(&bv).any(|&h| h & 0x7c00 == 0x7c00) || qc[j] & 0x7f80_0000 == 0x7f80_0000;
                        assert_eq!(special[0] >> j & 1 == 1, any);
                        if !any {
                            assert_eq!(out[j], want, "lanes4 {av:?} {bv:?} {:#x}", qc[j]);
                        }
                        assert_eq!(dot4_f32(V100, av, bv, qc[j]), want, "dot4 {av:?} {bv:?} {:#x}", qc[j]);
                    }
                    i = 0;
                }
            }
        }
    }
}

#[test]
fn fast_paths_equal_the_reference_on_random_corners() {
    let mut rng = Rng(0x005e_ed0f_fa57);
    let cases = if cfg!(debug_assertions) { 100_000 } else { 5_000_000 };
    for _ in 0..cases {
        let a: [u16; 4] = std::array::from_fn(|_| corner_f16(&mut rng));
        let b: [u16; 4] = std::array::from_fn(|_| corner_f16(&mut rng));
        let near = f16_to_f32(a[0]) * f16_to_f32(b[0]);
        let c = corner_f32(&mut rng, near);
        let c16 = corner_f16(&mut rng);
        assert_eq!(dot1_f32(V100, a[0], b[0], c), ref_f32(V100, &a[..1], &b[..1], c), "{a:?} {b:?} {c:#x}");
        assert_eq!(dot_f32(V100, &a[..1], &b[..1], c), ref_f32(V100, &a[..1], &b[..1], c));
        assert_eq!(dot4_f32(V100, a, b, c), ref_f32(V100, &a, &b, c), "{a:?} {b:?} {c:#x}");
        assert_eq!(dot1_f16(V100, a[0], b[0], c16), ref_f16(V100, &a[..1], &b[..1], c16), "{a:?} {b:?} {c16:#x}");
        assert_eq!(dot4_f16(V100, a, b, c16), ref_f16(V100, &a, &b, c16), "{a:?} {b:?} {c16:#x}");
        // the four-product lane batch, one element per case
        let k4 = (rng.next() % 64) as usize;
        let mut qa = [[0u16; 64]; 4];
        let mut qb = [[0u16; 64]; 4];
        for kk in 0..4 {
            (qa[kk][k4], qb[kk][k4]) = (a[kk], b[kk]);
        }
        let mut qc = [0u32; 64];
        qc[k4] = c;
        let mut out4 = [0u32; 64];
        let special = dot4_f32_v100_lanes(&qa, &qb, &qc, &mut out4);
        let mut host_out4 = [0u32; 64];
        assert_same_batch(special, &out4, dot4_f32_v100_lanes_host(&qa, &qb, &qc, &mut host_out4), &host_out4);
        check_float_batch4(&qa, &qb, &qc, special, &out4);
        let any_special = a.iter().chain(&b).any(|&x| x & 0x7c00 == 0x7c00) || c & 0x7f80_0000 == 0x7f80_0000;
        assert_eq!(special[k4 / 64] >> (k4 % 64) & 1 == 1, any_special);
        if !any_special {
            assert_eq!(out4[k4], ref_f32(V100, &a, &b, c), "lanes4 {a:?} {b:?} {c:#x}");
        }
        // the lane batch, one element per case
        let k = (rng.next() % 128) as usize;
        let (mut la, mut lb, mut lc) = ([0u16; 128], [0u16; 128], [0u32; 128]);
        (la[k], lb[k], lc[k]) = (a[0], b[0], c);
        let mut out = [0u32; 128];
        let special = dot1_f32_v100_lanes(&la, &lb, &lc, &mut out);
        let mut host_out = [0u32; 128];
        assert_same_batch(special, &out, dot1_f32_v100_lanes_host(&la, &lb, &lc, &mut host_out), &host_out);
        for (fp_special, fp_out) in float_batches(&la, &lb, &lc) {
            assert_same_batch(special, &out, fp_special, &fp_out);
        }
        if special[k / 64] >> (k % 64) & 1 == 0 {
            assert_eq!(out[k], ref_f32(V100, &a[..1], &b[..1], c), "lanes {a:?} {b:?} {c:#x}");
        } else {
            assert!(a[0] & 0x7c00 == 0x7c00 || b[0] & 0x7c00 == 0x7c00 || c & 0x7f80_0000 == 0x7f80_0000);
        }
        // the public entry points of the IEEE mode are untouched
        assert_eq!(dot1_f32(Ieee, a[0], b[0], c), ref_f32(Ieee, &a[..1], &b[..1], c));
        assert_eq!(dot4_f32(Ieee, a, b, c), ref_f32(Ieee, &a, &b, c));
    }
}

/// Every pair of fp16 factors with a few accumulators (4.3 billion pairs each): run by hand,
/// `cargo test --release -p otc-numerics -- --ignored every_fp16_pair`.
#[test]
#[ignore]
fn fast_paths_equal_the_reference_on_every_fp16_pair() {
    for c in [0u32, 0x8000_0000, 0x3f80_0000, 0xb380_0001] {
        for a in 0..=u16::MAX {
            for b in 0..=u16::MAX {
                assert_eq!(dot1_f32(V100, a, b, c), ref_f32(V100, &[a], &[b], c), "a={a:#06x} b={b:#06x} c={c:#010x}");
            }
            // the lane batch on the same pairs, 128 values of b at a time
            for chunk in 0..512u32 {
                let la = [a; 128];
                let lb: [u16; 128] = std::array::from_fn(|i| (chunk * 128 + i as u32) as u16);
                let mut out = [0u32; 128];
                let special = dot1_f32_v100_lanes(&la, &lb, &[c; 128], &mut out);
                for i in 0..128 {
                    if special[i / 64] >> (i % 64) & 1 == 0 {
                        assert_eq!(
                            out[i],
                            dot1_f32(V100, a, lb[i], c),
                            "lanes a={a:#06x} b={:#06x} c={c:#010x}",
                            lb[i]
                        );
                    }
                }
            }
        }
    }
    for c in [0u16, 0x8000, 0x3c00, 0x0001] {
        for a in 0..=u16::MAX {
            for b in 0..=u16::MAX {
                assert_eq!(dot1_f16(V100, a, b, c), ref_f16(V100, &[a], &[b], c), "a={a:#06x} b={b:#06x} c={c:#06x}");
            }
        }
    }
}

/// A corner fp16 factor (`corner_f16`) that is an infinity or a NaN `special_rate` % of the time
/// and finite otherwise.
fn corner_f16_special(rng: &mut Rng, special_rate: u64) -> u16 {
    let x = corner_f16(rng);
    if rng.next() % 100 < special_rate {
        0x7c00 | (x & 0x8000) | if rng.next().is_multiple_of(2) { 0 } else { x & 0x3ff }
    } else if x & 0x7c00 == 0x7c00 {
        x & 0x83ff
    } else {
        x
    }
}

/// Four products' factors of 128 random elements (`corner_f16_special`), product 1 of half the
/// elements near minus product 0 (cancellation).
fn random_factors(rng: &mut Rng, special_rate: u64) -> ([[u16; 128]; 4], [[u16; 128]; 4]) {
    let mut a = [[0u16; 128]; 4];
    let mut b = [[0u16; 128]; 4];
    for i in 0..128 {
        for k in 0..4 {
            a[k][i] = corner_f16_special(rng, special_rate);
            b[k][i] = corner_f16_special(rng, special_rate);
        }
        if rng.next().is_multiple_of(2) {
            a[1][i] = a[0][i] ^ 0x8000 ^ (rng.next() % 3) as u16;
            b[1][i] = b[0][i];
        }
    }
    (a, b)
}

/// Whole batches of corner-biased random cases for the floating-point formulations (and the
/// integer batches they replace), against the reference element by element: products that cancel
/// each other and the accumulator, accumulators at every exponent, and batches with no, one or
/// many infinities and NaNs.
#[test]
fn float_batches_equal_the_reference_on_random_batches() {
    let mut rng = Rng(0x000f_10a7_ba7c);
    let batches = if cfg!(debug_assertions) { 300 } else { 100_000 };
    for n in 0..batches {
        // how often a lane gets a special value: never, rarely, often
        let special_rate = [0u64, 1, 40][n % 3];
        let (a, b) = random_factors(&mut rng, special_rate);
        let mut c = [0u32; 128];
        for i in 0..128 {
            // cancellation: c near minus product 0 or 2
            let near = f16_to_f32(a[(i % 2) * 2][i]) * f16_to_f32(b[(i % 2) * 2][i]);
            c[i] = corner_f32(&mut rng, near);
            if rng.next() % 100 < special_rate {
                c[i] |= 0x7f80_0000;
            }
        }
        // one product per element
        check_lanes(&a[0], &b[0], &c);
        // four products per element, 64 and 128 at a time
        let mut out = [0u32; 128];
        let special = dot4_f32_v100_lanes(&a, &b, &c, &mut out);
        check_float_batch4(&a, &b, &c, special, &out);
        let mut host_out = [0u32; 128];
        assert_same_batch(special, &out, dot4_f32_v100_lanes_host(&a, &b, &c, &mut host_out), &host_out);
        for i in 0..128 {
            let (av, bv): ([u16; 4], [u16; 4]) = (std::array::from_fn(|k| a[k][i]), std::array::from_fn(|k| b[k][i]));
            let any = av.iter().chain(&bv).any(|&x| x & 0x7c00 == 0x7c00) || c[i] & 0x7f80_0000 == 0x7f80_0000;
            assert_eq!(special[i / 64] >> (i % 64) & 1 == 1, any, "flag {av:?} {bv:?} {:#x}", c[i]);
            if !any {
                assert_eq!(out[i], ref_f32(V100, &av, &bv, c[i]), "lanes4 {av:?} {bv:?} {:#x}", c[i]);
            }
        }
    }
}

/// Every accumulator exponent field (with corner and random significands, both signs) against
/// corner factor pairs, in whole batches through every formulation.
#[test]
fn float_batches_equal_the_reference_on_every_accumulator_exponent() {
    let step = if cfg!(debug_assertions) { 7 } else { 1 };
    let hc: Vec<u16> = f16_corners().into_iter().step_by(step).collect();
    let mut rng = Rng(0xacc_0e4);
    let mut cs = Vec::new();
    for field in 0..256u32 {
        for frac in [0u32, 1, 0x40_0000, 0x7f_ffff, (rng.next() as u32) & 0x7f_ffff] {
            cs.push(field << 23 | frac);
            cs.push(0x8000_0000 | field << 23 | frac);
        }
    }
    let (mut la, mut lb, mut lc) = ([0u16; 128], [0u16; 128], [0u32; 128]);
    let mut i = 0;
    for &c in cs.iter().step_by(step) {
        for &x in &hc {
            for &y in &hc {
                (la[i], lb[i], lc[i]) = (x, y, c);
                i += 1;
                if i == 128 {
                    check_lanes(&la, &lb, &lc);
                    // four products: (x, y), (-x, y) shifted by one element, (y, x), (x, x)
                    let qa = [la, std::array::from_fn(|j| la[(j + 1) % 128] ^ 0x8000), lb, la];
                    let qb = [lb, std::array::from_fn(|j| lb[(j + 1) % 128]), la, la];
                    let mut out = [0u32; 128];
                    let special = dot4_f32_v100_lanes(&qa, &qb, &lc, &mut out);
                    check_float_batch4(&qa, &qb, &lc, special, &out);
                    for j in 0..128 {
                        if special[j / 64] >> (j % 64) & 1 == 0 {
                            let (av, bv): ([u16; 4], [u16; 4]) =
                                (std::array::from_fn(|k| qa[k][j]), std::array::from_fn(|k| qb[k][j]));
                            assert_eq!(out[j], ref_f32(V100, &av, &bv, lc[j]), "lanes4 {av:?} {bv:?} {:#x}", lc[j]);
                        }
                    }
                    i = 0;
                }
            }
        }
    }
}

/// The fp32 sweep's four-product batch: each pair `(a, b)` as the first product, next to a
/// cancelling `(a, -b')` of the next element, the swapped `(b, a)` and `(1, -b)`.
fn sweep_four(la: &[u16; 128], lb: &[u16; 128]) -> ([[u16; 128]; 4], [[u16; 128]; 4]) {
    (
        [*la, *la, *lb, [0x3c00; 128]],
        [*lb, std::array::from_fn(|i| lb[(i + 1) % 128] ^ 0x8000), *la, std::array::from_fn(|i| lb[i] ^ 0x8000)],
    )
}

/// The factors `a` of this process's shard of an exhaustive sweep: `OTC_SWEEP_SHARD=i/n` takes
/// every `a` with `a % n == i` (all of them without the variable), so a sweep too long for one
/// sitting runs as `n` processes, each reporting its own pass; a malformed value is an error.
fn sweep_shard() -> impl Iterator<Item = u16> {
    let (i, n) = match std::env::var("OTC_SWEEP_SHARD") {
        Err(_) => (0, 1),
        Ok(v) => {
            let parsed = v.split_once('/').and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
            match parsed {
                Some((i, n)) if i < n => (i, n),
                _ => panic!("OTC_SWEEP_SHARD={v:?}: expected i/n with 0 <= i < n"),
            }
        }
    };
    eprintln!("sweep shard {i}/{n}");
    (0..=u16::MAX).filter(move |&a| u32::from(a) % n == i)
}

/// Every pair of fp16 factors through the floating-point batches (every formulation the host runs:
/// the portable one in the baseline, AVX2 and AVX-512 builds, the AVX-512 intrinsics) against the
/// scalar fast path (itself swept over every pair against the reference above), for accumulators
/// at the corners; and the four-product batch with every pair as its first product next to a
/// cancelling and a shifted one. Run by hand (minutes per accumulator):
/// `cargo test --release -p otc-numerics -- --ignored every_fp16_pair_through_the_float`
/// (`OTC_SWEEP_SHARD=i/n` runs the factors `a` with `a % n == i` only, see [`sweep_shard`]).
#[test]
#[ignore]
fn every_fp16_pair_through_the_float_batches() {
    let accumulators = [
        0u32,
        0x8000_0000,
        0x0000_0001,
        0x8040_0000,
        0x3f80_0000,
        0xb380_0001,
        0x1f80_0000,
        0x5f80_0000,
        0x7f7f_ffff,
        0xff7f_ffff,
    ];
    let shard: Vec<u16> = sweep_shard().collect();
    for c in accumulators {
        for &a in &shard {
            for chunk in 0..512u32 {
                let la = [a; 128];
                let lb: [u16; 128] = std::array::from_fn(|i| (chunk * 128 + i as u32) as u16);
                let lc = [c; 128];
                let want: [u32; 128] = std::array::from_fn(|i| dot1_f32(V100, a, lb[i], c));
                for (special, out) in float_batches(&la, &lb, &lc) {
                    for i in 0..128 {
                        let is_special =
                            a & 0x7c00 == 0x7c00 || lb[i] & 0x7c00 == 0x7c00 || c & 0x7f80_0000 == 0x7f80_0000;
                        assert_eq!(special[i / 64] >> (i % 64) & 1 == 1, is_special);
                        if !is_special {
                            assert_eq!(out[i], want[i], "float a={a:#06x} b={:#06x} c={c:#010x}", lb[i]);
                        }
                    }
                }
                if c == 0 || c == 0x3f80_0000 || c == 0xb380_0001 {
                    let (qa, qb) = sweep_four(&la, &lb);
                    let mut out = [0u32; 128];
                    let special = dot4_f32_v100_lanes(&qa, &qb, &lc, &mut out);
                    check_float_batch4(&qa, &qb, &lc, special, &out);
                }
            }
        }
        eprintln!("accumulator {c:#010x}: every pair of the shard agrees");
    }
}

// ---------------------------------------------------------------------------------------------
// fp16 accumulators by units of u (`float_units`) against the reference
// ---------------------------------------------------------------------------------------------

/// Push onto `runs` the `float_units` intrinsics of `$batch` this host can run: AVX-512F on
/// multiples of 16 lanes, AVX2 + F16C on multiples of 8.
macro_rules! float_unit_intrinsics {
    ($runs:ident, $lanes:expr, $batch:ident ($($arg:expr),*), $out:expr) => {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        {
            if std::arch::is_x86_feature_detected!("avx512f") && $lanes.is_multiple_of(16) {
                let mut out = $out;
                // SAFETY: the host has AVX-512F.
                $runs.push((unsafe { float_units::avx512::$batch($($arg),*, &mut out) }, out));
            }
            if has_avx2_f16c() && $lanes.is_multiple_of(8) {
                let mut out = $out;
                // SAFETY: the host has AVX2 and F16C.
                $runs.push((unsafe { float_units::avx2::$batch($($arg),*, &mut out) }, out));
            }
        }
    };
}

/// Every formulation of the one-product fp16-accumulator batch this host can run (whatever
/// `OTC_SIM_ISA` says): the portable one in every build, and the intrinsics of `float_units`.
fn f16_batches1<const L: usize>(a: &[u16; L], b: &[u16; L], c: &[u16; L]) -> Vec<([u64; 2], [u16; L])> {
    let mut runs = host_builds!(dot1_f16_v100_lanes_fp(a, b, c), [0u16; L]);
    float_unit_intrinsics!(runs, L, dot1_f16_v100_lanes(a, b, c), [0u16; L]);
    let mut out = [0u16; L];
    runs.push((dot1_f16_v100_lanes_host(a, b, c, &mut out), out));
    runs
}

/// Every formulation of the four-product fp16-accumulator batch this host can run.
fn f16_batches4<const L: usize>(a: &[[u16; L]; 4], b: &[[u16; L]; 4], c: &[u16; L]) -> Vec<([u64; 2], [u16; L])> {
    let mut runs = host_builds!(dot4_f16_v100_lanes_fp(a, b, c), [0u16; L]);
    float_unit_intrinsics!(runs, L, dot4_f16_v100_lanes(a, b, c), [0u16; L]);
    let mut out = [0u16; L];
    runs.push((dot4_f16_v100_lanes_host(a, b, c, &mut out), out));
    runs
}

fn is_special_f16(h: u16) -> bool {
    h & 0x7c00 == 0x7c00
}

/// `want[i]` against every formulation's element `i`, and the flags against the inputs.
fn assert_f16_runs<const L: usize>(
    runs: &[([u64; 2], [u16; L])],
    special: &[bool; L],
    want: &[u16; L],
    what: impl Fn(usize) -> String,
) {
    for (r, (flags, out)) in runs.iter().enumerate() {
        for i in 0..L {
            assert_eq!(flags[i / 64] >> (i % 64) & 1 == 1, special[i], "flag of run {r}: {}", what(i));
            if !special[i] {
                assert_eq!(out[i], want[i], "run {r}: {}", what(i));
            }
        }
    }
}

/// One-product fp16 batches of 128 elements against the reference element by element.
fn check_f16_lanes1(a: &[u16; 128], b: &[u16; 128], c: &[u16; 128]) {
    let special: [bool; 128] =
        std::array::from_fn(|i| is_special_f16(a[i]) | is_special_f16(b[i]) | is_special_f16(c[i]));
    let want: [u16; 128] = std::array::from_fn(|i| ref_f16(V100, &[a[i]], &[b[i]], c[i]));
    assert_f16_runs(&f16_batches1(a, b, c), &special, &want, |i| {
        format!("f16 a={:#06x} b={:#06x} c={:#06x}", a[i], b[i], c[i])
    });
}

/// Four-product fp16 batches against the reference element by element.
fn check_f16_lanes4<const L: usize>(a: &[[u16; L]; 4], b: &[[u16; L]; 4], c: &[u16; L]) {
    let special: [bool; L] = std::array::from_fn(|i| {
        (0..4).any(|k| is_special_f16(a[k][i]) | is_special_f16(b[k][i])) | is_special_f16(c[i])
    });
    let factors =
        |i: usize| -> ([u16; 4], [u16; 4]) { (std::array::from_fn(|k| a[k][i]), std::array::from_fn(|k| b[k][i])) };
    let want: [u16; L] = std::array::from_fn(|i| {
        let (av, bv) = factors(i);
        ref_f16(V100, &av, &bv, c[i])
    });
    assert_f16_runs(&f16_batches4(a, b, c), &special, &want, |i| {
        format!("f16x4 {:x?} {:x?} c={:#06x}", factors(i).0, factors(i).1, c[i])
    });
}

/// The four-product batch made of a one-product batch: (x, y), (-x, y) of the next element,
/// (y, x), (x, -y): products that cancel, shift and repeat.
fn four_of(a: &[u16; 128], b: &[u16; 128]) -> ([[u16; 128]; 4], [[u16; 128]; 4]) {
    (
        [*a, std::array::from_fn(|j| a[(j + 1) % 128] ^ 0x8000), *b, *a],
        [*b, std::array::from_fn(|j| b[(j + 1) % 128]), *a, std::array::from_fn(|j| b[j] ^ 0x8000)],
    )
}

#[test]
fn f16_float_batches_equal_the_reference_on_every_fp16_factor() {
    // Every fp16 a against corner b and corner fp16 c, both orders (debug: every 5th corner and
    // every 5th a).
    let step = if cfg!(debug_assertions) { 5 } else { 1 };
    let hc: Vec<u16> = f16_corners().into_iter().step_by(step).collect();
    let (mut la, mut lb, mut lc) = ([0u16; 128], [0u16; 128], [0u16; 128]);
    let mut i = 0;
    for x in (0..=u16::MAX).step_by(step) {
        for &y in &hc {
            for &z in &hc {
                (la[i], lb[i], lc[i]) = (x, y, z);
                i += 1;
                if i == 128 {
                    check_f16_lanes1(&la, &lb, &lc);
                    check_f16_lanes1(&lb, &la, &lc);
                    if x % (4 * step as u16) == 0 {
                        let (qa, qb) = four_of(&la, &lb);
                        check_f16_lanes4(&qa, &qb, &lc);
                    }
                    i = 0;
                }
            }
        }
    }
}

#[test]
fn f16_float_batches_equal_the_reference_on_every_accumulator() {
    // Every fp16 accumulator (all 65536 patterns) against corner factor pairs, one and four
    // products (debug: every 7th corner and every 13th accumulator).
    let (step, cstep) = if cfg!(debug_assertions) { (7, 13) } else { (1, 1) };
    let hc: Vec<u16> = f16_corners().into_iter().step_by(step).collect();
    check_f16_cases((0..=u16::MAX).step_by(cstep).flat_map(|c| {
        let hc = &hc;
        hc.iter().flat_map(move |&x| hc.iter().map(move |&y| (x, y, c)))
    }));
}

/// The cases `(a, b, c)` in batches of 128 (a last partial batch is left out), one product each
/// and as the four-product batch [`four_of`], against the reference.
fn check_f16_cases(cases: impl Iterator<Item = (u16, u16, u16)>) {
    let (mut la, mut lb, mut lc) = ([0u16; 128], [0u16; 128], [0u16; 128]);
    let mut i = 0;
    for (x, y, c) in cases {
        (la[i], lb[i], lc[i]) = (x, y, c);
        i += 1;
        if i == 128 {
            check_f16_lanes1(&la, &lb, &lc);
            let (qa, qb) = four_of(&la, &lb);
            check_f16_lanes4(&qa, &qb, &lc);
            i = 0;
        }
    }
}

#[test]
fn f16_float_batches_keep_the_alignment_floor() {
    // The floor E >= -19 of fp16 output truncates product bits below 2^-42 even when every term
    // is smaller: a = 1924 * 2^-22 (0x0f84), b = 1090 * 2^-24 (0x0442), p = 2^-25 + 2^-43, e_p =
    // -26. With c = 2 * 2^-24 the exact sum is 2.5 fp16 subnormal units plus 2^-43, which would
    // round up to 3 units; the model drops the 2^-43 (u = 2^-42), leaving a tie that rounds to the
    // even 2 units (0x0002). Checked by hand here, then against the reference for every fp16
    // accumulator with these factors, their negations and the swapped order, and two subnormal
    // factors whose product 481 * 545 * 2^-48 = 2^-30 + 2^-48 has its last bit below the floor.
    assert_eq!(ref_f16(V100, &[0x0f84], &[0x0442], 0x0002), 0x0002);
    let pairs = [(0x0f84u16, 0x0442u16), (0x8f84, 0x0442), (0x0442, 0x8f84), (0x01e1, 0x0221), (0x81e1, 0x8221)];
    // 65,536 x 5 cases: whole batches
    check_f16_cases((0..=u16::MAX).flat_map(|c| pairs.iter().map(move |&(x, y)| (x, y, c))));
}

#[test]
fn f16_float_batches_equal_the_reference_on_random_batches() {
    // Corner-biased random batches: products cancelling each other and the accumulator (c near
    // minus a product, rounded to fp16), sums near the fp16 overflow and underflow, and batches
    // with no, 1 % or 40 % special lanes; also sizes that are not whole vectors.
    let mut rng = Rng(0x00f1_6ba7_c4e5);
    let batches = if cfg!(debug_assertions) { 300 } else { 100_000 };
    for n in 0..batches {
        let special_rate = [0u64, 1, 40][n % 3];
        let (a, b) = random_factors(&mut rng, special_rate);
        let mut c = [0u16; 128];
        for i in 0..128 {
            c[i] = match rng.next() % 4 {
                0 => corner_f16_special(&mut rng, special_rate),
                1 => {
                    // minus a product, rounded to fp16, nudged by a few units
                    let near = f16_to_f32(a[(i % 2) * 2][i]) * f16_to_f32(b[(i % 2) * 2][i]);
                    let h16 = crate::float_units::f32_to_f16_rne((-near).to_bits());
                    h16.wrapping_add((rng.next() % 5) as u16).wrapping_sub(2)
                }
                2 => {
                    (rng.next() as u16 & 0x83ff)
                        | [0x7800u16, 0x7400, 0x0000, 0x0400, 0x0800][(rng.next() % 5) as usize]
                }
                _ => rng.next() as u16,
            };
            if rng.next() % 100 < special_rate {
                c[i] |= 0x7c00;
            }
        }
        check_f16_lanes1(&a[0], &b[0], &c);
        check_f16_lanes4(&a, &b, &c);
        // a batch that is not whole vectors (the portable path on every host)
        let (a4, b4): ([[u16; 40]; 4], [[u16; 40]; 4]) =
            (a.map(|r| r[..40].try_into().unwrap()), b.map(|r| r[..40].try_into().unwrap()));
        check_f16_lanes4(&a4, &b4, c[..40].try_into().unwrap());
    }
}

#[test]
fn f32_to_f16_rne_equals_the_reference_rounding() {
    // Every fp32 exponent field of finite numbers with corner and random significands, both signs,
    // against the reference's rounding of the one-term sum `c + 0 * 0` with an fp32 term: the
    // model with fp16 output rounds a lone fp16 accumulator exactly; here the reference rounding
    // (`encode`, nearest even) of an exact fp32 value is taken through `exact_bits`.
    let mut rng = Rng(0xf16_0e5e);
    for field in 0..255u32 {
        for frac in [
            0u32,
            1,
            0xfff,
            0x1000,
            0x1001,
            0x2000,
            0x3fff,
            0x40_0000,
            0x7f_e000,
            0x7f_f000,
            0x7f_ffff,
            rng.next() as u32 & 0x7f_ffff,
        ] {
            for sign in [0u32, 0x8000_0000] {
                let x = sign | field << 23 | frac;
                let v = f32::from_bits(x) as f64;
                let got = crate::float_units::f32_to_f16_rne(x);
                let want = f64_to_f16_rne(v);
                assert_eq!(got, want, "x={x:#010x}");
            }
        }
    }
}

/// An independent fp64 -> fp16 nearest-even rounding for finite values (exact: every fp32 value is
/// an fp64 value and the rounding is done on its integer significand).
fn f64_to_f16_rne(v: f64) -> u16 {
    let sign = if v.is_sign_negative() { 0x8000u16 } else { 0 };
    let m = v.abs();
    if m == 0.0 {
        return sign;
    }
    // quantum of the fp16 result: 2^(max(floor(log2 m), -14) - 10)
    let e = (m.log2().floor() as i32).max(-14);
    let e = if m < 2f64.powi(e) {
        e - 1
    } else if m >= 2f64.powi(e + 1) {
        e + 1
    } else {
        e
    }
    .max(-14);
    let q = 2f64.powi(e - 10);
    let n = m / q; // exact (power-of-two scaling)
    let fl = n.floor();
    let rem = n - fl;
    let mut r = fl as u64 + u64::from(rem > 0.5 || (rem == 0.5 && (fl as u64) & 1 == 1));
    let mut e = e;
    if r == 2048 {
        r = 1024;
        e += 1;
    }
    if e > 15 {
        return sign | 0x7c00;
    }
    let bits = if r < 1024 { r as u16 } else { (((e + 15) as u16) << 10) | (r as u16 & 0x3ff) };
    sign | bits
}

/// Every pair of fp16 factors through the fp16-accumulator float batches (every formulation the
/// host runs) against the scalar fast path (itself swept over every pair against the reference
/// by `fast_paths_equal_the_reference_on_every_fp16_pair` for 4 of these accumulators), for fp16
/// accumulators at the corners; and the four-product batch with every pair next to a cancelling
/// and a shifted product for 3 of them. Run by hand, in shards if need be:
/// `cargo test --release -p otc-numerics -- --ignored every_fp16_pair_through_the_float`.
#[test]
#[ignore]
fn every_fp16_pair_through_the_float_f16_batches() {
    let accumulators = [0u16, 0x8000, 0x3c00, 0x0001, 0x8200, 0x7bff, 0xfbff, 0x1400, 0x4a00, 0xc3ff];
    let shard: Vec<u16> = sweep_shard().collect();
    for c in accumulators {
        for &a in &shard {
            for chunk in 0..512u32 {
                let la = [a; 128];
                let lb: [u16; 128] = std::array::from_fn(|i| (chunk * 128 + i as u32) as u16);
                let lc = [c; 128];
                let special: [bool; 128] =
                    std::array::from_fn(|i| is_special_f16(a) | is_special_f16(lb[i]) | is_special_f16(c));
                let want: [u16; 128] = std::array::from_fn(|i| dot1_f16(V100, a, lb[i], c));
                assert_f16_runs(&f16_batches1(&la, &lb, &lc), &special, &want, |i| {
                    format!("a={a:#06x} b={:#06x} c={c:#06x}", lb[i])
                });
                if c == 0 || c == 0x3c00 || c == 0x0001 {
                    let (qa, qb) = four_of(&la, &lb);
                    let special4: [bool; 128] = std::array::from_fn(|i| {
                        (0..4).any(|k| is_special_f16(qa[k][i]) | is_special_f16(qb[k][i])) | is_special_f16(c)
                    });
                    let want4: [u16; 128] = std::array::from_fn(|i| {
                        dot4_f16(V100, std::array::from_fn(|k| qa[k][i]), std::array::from_fn(|k| qb[k][i]), c)
                    });
                    assert_f16_runs(&f16_batches4(&qa, &qb, &lc), &special4, &want4, |i| {
                        format!("x4 a={a:#06x} b={:#06x} c={c:#06x}", lb[i])
                    });
                }
            }
        }
        eprintln!("fp16 accumulator {c:#06x}: every pair of the shard agrees");
    }
}

/// Every pair of fp16 factors through the AVX2 intrinsics of `float_units::avx2` alone (the
/// formulations the other sweeps cover are not run again): the fp32 and fp16 one-product batches
/// for the accumulators of the fp32 and fp16 sweeps against the scalar fast paths (themselves
/// swept over every pair against the reference), and the four-product batches with every pair
/// next to a cancelling and a shifted product for 3 of each against the integer batch (fp32) and
/// the scalar fast path (fp16). Run by hand, in shards if need be (see [`sweep_shard`]):
/// `cargo test --release -p otc-numerics -- --ignored every_fp16_pair_through_the_avx2`.
#[cfg(target_arch = "x86_64")]
#[test]
#[ignore]
#[allow(unsafe_code)]
fn every_fp16_pair_through_the_avx2_batches() {
    assert!(has_avx2_f16c(), "this sweep needs a host with AVX2 and F16C");
    let f32_accumulators = [
        0u32,
        0x8000_0000,
        0x0000_0001,
        0x8040_0000,
        0x3f80_0000,
        0xb380_0001,
        0x1f80_0000,
        0x5f80_0000,
        0x7f7f_ffff,
        0xff7f_ffff,
    ];
    let f16_accumulators = [0u16, 0x8000, 0x3c00, 0x0001, 0x8200, 0x7bff, 0xfbff, 0x1400, 0x4a00, 0xc3ff];
    let shard: Vec<u16> = sweep_shard().collect();
    let special_f32 = |c: u32| c & 0x7f80_0000 == 0x7f80_0000;
    for (c, h) in f32_accumulators.into_iter().zip(f16_accumulators) {
        for &a in &shard {
            for chunk in 0..512u32 {
                let la = [a; 128];
                let lb: [u16; 128] = std::array::from_fn(|i| (chunk * 128 + i as u32) as u16);
                let is_special = |i: usize| is_special_f16(a) | is_special_f16(lb[i]);
                // fp32, one product
                let lc = [c; 128];
                let mut out = [0u32; 128];
                // SAFETY: the host has AVX2 and F16C (asserted above).
                let flags = unsafe { float_units::avx2::dot1_f32_v100_lanes(&la, &lb, &lc, &mut out) };
                for i in 0..128 {
                    let special = is_special(i) | special_f32(c);
                    assert_eq!(flags[i / 64] >> (i % 64) & 1 == 1, special, "flag a={a:#06x} b={:#06x}", lb[i]);
                    if !special {
                        let want = dot1_f32(V100, a, lb[i], c);
                        assert_eq!(out[i], want, "avx2 f32 a={a:#06x} b={:#06x} c={c:#010x}", lb[i]);
                    }
                }
                // fp16, one product
                let lh = [h; 128];
                let special: [bool; 128] = std::array::from_fn(|i| is_special(i) | is_special_f16(h));
                let want: [u16; 128] = std::array::from_fn(|i| dot1_f16(V100, a, lb[i], h));
                let mut out16 = [0u16; 128];
                // SAFETY: as above.
                let flags = unsafe { float_units::avx2::dot1_f16_v100_lanes(&la, &lb, &lh, &mut out16) };
                assert_f16_runs(&[(flags, out16)], &special, &want, |i| {
                    format!("avx2 f16 a={a:#06x} b={:#06x} c={h:#06x}", lb[i])
                });
                if c == 0 || c == 0x3f80_0000 || c == 0xb380_0001 {
                    // fp32, four products: the integer batch's bits and flags
                    let (qa, qb) = sweep_four(&la, &lb);
                    let mut want = [0u32; 128];
                    let want_flags = dot4_f32_v100_lanes(&qa, &qb, &lc, &mut want);
                    let mut out = [0u32; 128];
                    // SAFETY: as above.
                    let flags = unsafe { float_units::avx2::dot4_f32_v100_lanes(&qa, &qb, &lc, &mut out) };
                    assert_same_batch(want_flags, &want, flags, &out);
                }
                if h == 0 || h == 0x3c00 || h == 0x0001 {
                    // fp16, four products
                    let (qa, qb) = four_of(&la, &lb);
                    let special4: [bool; 128] = std::array::from_fn(|i| {
                        (0..4).any(|k| is_special_f16(qa[k][i]) | is_special_f16(qb[k][i])) | is_special_f16(h)
                    });
                    let want4: [u16; 128] = std::array::from_fn(|i| {
                        dot4_f16(V100, std::array::from_fn(|k| qa[k][i]), std::array::from_fn(|k| qb[k][i]), h)
                    });
                    let mut out4 = [0u16; 128];
                    // SAFETY: as above.
                    let flags = unsafe { float_units::avx2::dot4_f16_v100_lanes(&qa, &qb, &lh, &mut out4) };
                    assert_f16_runs(&[(flags, out4)], &special4, &want4, |i| {
                        format!("avx2 x4 a={a:#06x} b={:#06x} c={h:#06x}", lb[i])
                    });
                }
            }
        }
        eprintln!("accumulators {c:#010x} (fp32), {h:#06x} (fp16): every pair of the shard agrees");
    }
}
