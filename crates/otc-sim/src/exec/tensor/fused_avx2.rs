//! Fused operand delivery at the AVX2 level (x86-64-v3: AVX2 and F16C): the dense fp32 and fp16
//! `OHMMA.8161` and the fp32 and fp16 `HMMA.884` STEPs gather their A and B factors from the
//! register file straight into 8-lane fp32 vectors, run the units step of
//! `otc_numerics::float_avx2::dot_x8` (the batch the AVX2 level dispatches to, so the same bits),
//! and read C and write D in place after all results are computed (D may overlap any operand);
//! the sparse OHMMA does the same with the accumulators in the buffer. AVX2 has no word permute
//! across the vector, so a gather of 8 halves is prepared once per table ([`Halves8`]): the dwords
//! holding them by one `vpermd` per 8-lane slice of the pair they come from (one for 1,568 of the
//! 2,100 plans, two for the rest), the halves picked and packed by one `vpshufb` and one
//! `vpermq`, and widened by `vcvtph2ps`.
//!
//! The elements are ordered so that C and D are the registers' own order: fp32, element
//! `j = 32 r + l` is lane l of C/D register r; fp16, element `p` is half `p` of the C/D pair
//! (lane `(p % 64) / 2` of register `p / 64`, half `p % 2`); the gather tables of the general
//! path are re-indexed to that order.

use std::arch::x86_64::*;
use std::sync::OnceLock;

use otc_numerics::float_avx2::dot_x8;

use super::{gathers, otables, pair, Warp};

/// How 8 halves of a register pair (indices by [`super::pair_index`]) reach a vector. The pair's
/// 64 dwords are 8 slices of 8 (slice `s`: lanes `8 (s % 4)..` of register `s / 4`).
#[derive(Clone, Copy, Default)]
pub(super) struct Halves8 {
    /// The distinct slices the 8 halves come from (the first `count`).
    src: [u8; 8],
    count: u8,
    /// Per element: its slice and its dword in the slice (the `vpermd` index).
    which: [i32; 8],
    perm: [i32; 8],
    /// `vpshufb` control: element i's half of dword i into bytes `2 (i % 4)`, `+ 1` of its 128-bit
    /// lane, the other bytes zero.
    shuf: [i8; 32],
}

impl Halves8 {
    fn new(idx: &[u16]) -> Self {
        assert_eq!(idx.len(), 8, "8 halves");
        let mut g = Halves8 { shuf: [-128; 32], ..Halves8::default() };
        for (i, &h) in idx.iter().enumerate() {
            let dword = (h as usize & 127) / 2;
            let slice = (dword / 8) as u8;
            if !g.src[..g.count as usize].contains(&slice) {
                g.src[g.count as usize] = slice;
                g.count += 1;
            }
            g.which[i] = i32::from(slice);
            g.perm[i] = (dword % 8) as i32;
            let byte = 4 * (i % 4) + 2 * (h as usize % 2);
            g.shuf[16 * (i / 4) + 2 * (i % 4)] = byte as i8;
            g.shuf[16 * (i / 4) + 2 * (i % 4) + 1] = byte as i8 + 1;
        }
        g
    }

    /// One [`Halves8`] per 8 indices of `idx` (a whole number of vectors).
    fn groups<const G: usize>(idx: &[u16]) -> [Halves8; G] {
        assert_eq!(idx.len(), 8 * G, "whole vectors");
        std::array::from_fn(|g| Halves8::new(&idx[8 * g..8 * g + 8]))
    }
}

/// The gather tables of every fused AVX2 path.
pub(super) struct Tables {
    /// Dense fp32 OHMMA, regular layout: lane l's A value (lanes 8v.. in `ohmma_a[v]`), and the B
    /// value of its accumulator in C register r (`ohmma_b[r][v]`).
    ohmma_a: [Halves8; 4],
    ohmma_b: [[Halves8; 4]; 4],
    /// Dense fp16 OHMMA: the A and B factors of the element at half `p` of the C/D pair.
    ohmma16_a: [[Halves8; 16]; 1],
    ohmma16_b: [[Halves8; 16]; 1],
    /// fp32 HMMA.884 STEP [a_col][b_col][step]: factor k of elements 8g.. (`[k][g]`).
    hmma_a: [[[[[Halves8; 8]; 4]; 4]; 2]; 2],
    hmma_b: [[[[[Halves8; 8]; 4]; 4]; 2]; 2],
    /// fp16 HMMA.884 STEP [a_col][b_col][step]: factor k of the elements at halves 8g.. of the
    /// C/D pair.
    hmma16_a: [[[[[Halves8; 16]; 4]; 2]; 2]; 2],
    hmma16_b: [[[[[Halves8; 16]; 4]; 2]; 2]; 2],
}

pub(super) fn tables() -> &'static Tables {
    static T: OnceLock<Box<Tables>> = OnceLock::new();
    T.get_or_init(|| {
        let (ot, gs) = (otables(), gathers());
        // the fp16 tables in the pair's half order: the element that half p of C/D holds
        let by_half = |idx: &[u16; 128], elem: &[u16; 128]| -> [u16; 128] {
            std::array::from_fn(|p| idx[elem[p] as usize & 127])
        };
        let [ai, bi, _] = &ot.f16_idx;
        let f = |ac: usize, bc: usize, st: usize| &gs.f32[ac][bc][st];
        let h = |ac: usize, bc: usize, st: usize| &gs.f16[ac][bc][st];
        Box::new(Tables {
            ohmma_a: Halves8::groups(&ot.a_idx[0]),
            ohmma_b: ot.b_idx.map(|r| Halves8::groups(&r)),
            ohmma16_a: [Halves8::groups(&by_half(ai, &ot.f16_d_idx))],
            ohmma16_b: [Halves8::groups(&by_half(bi, &ot.f16_d_idx))],
            hmma_a: std::array::from_fn(|ac| {
                std::array::from_fn(|bc| std::array::from_fn(|st| f(ac, bc, st).a.map(|k| Halves8::groups(&k))))
            }),
            hmma_b: std::array::from_fn(|ac| {
                std::array::from_fn(|bc| std::array::from_fn(|st| f(ac, bc, st).b.map(|k| Halves8::groups(&k))))
            }),
            hmma16_a: std::array::from_fn(|ac| {
                std::array::from_fn(|bc| {
                    std::array::from_fn(|st| h(ac, bc, st).a.map(|k| Halves8::groups(&by_half(&k, &gs.d16))))
                })
            }),
            hmma16_b: std::array::from_fn(|ac| {
                std::array::from_fn(|bc| {
                    std::array::from_fn(|st| h(ac, bc, st).b.map(|k| Halves8::groups(&by_half(&k, &gs.d16))))
                })
            }),
        })
    })
}

/// The 8 halves of the register pair `p` that `g` names, packed (as `vcvtph2ps` takes them).
#[inline]
#[target_feature(enable = "avx2")]
fn halves8(p: &[[u32; 32]; 2], g: &Halves8) -> __m128i {
    let src = p.as_ptr() as *const __m256i;
    // SAFETY: slices below 8 (dword / 8 of a 64-dword pair): 32 bytes within the pair's 256,
    // unaligned loads; the tables are 32-byte arrays, unaligned loads.
    unsafe {
        let perm = _mm256_loadu_si256(g.perm.as_ptr() as *const __m256i);
        let mut v = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(src.add(g.src[0] as usize & 7)), perm);
        if g.count > 1 {
            let which = _mm256_loadu_si256(g.which.as_ptr() as *const __m256i);
            for &s in &g.src[1..g.count as usize] {
                let x = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(src.add(s as usize & 7)), perm);
                v = _mm256_blendv_epi8(v, x, _mm256_cmpeq_epi32(which, _mm256_set1_epi32(i32::from(s))));
            }
        }
        let packed = _mm256_shuffle_epi8(v, _mm256_loadu_si256(g.shuf.as_ptr() as *const __m256i));
        _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b00_00_10_00>(packed))
    }
}

/// [`halves8`] as fp32.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn f32x8(p: &[[u32; 32]; 2], g: &Halves8) -> __m256 {
    _mm256_cvtph_ps(halves8(p, g))
}

/// The A value of every lane and the B value of every lane's accumulator in each C register in
/// the regular fp32 OHMMA layout (as `super::regular_operands`).
#[target_feature(enable = "avx2")]
pub(super) fn regular_operands(w: &Warp, a: u16, b: u16) -> ([u16; 32], [[u16; 32]; 4]) {
    let t = tables();
    let (ap, bp) = (pair(w, a), pair(w, b));
    let mut av = [0u16; 32];
    let mut bv = [[0u16; 32]; 4];
    for v in 0..4 {
        // SAFETY: 8 halves (16 bytes) at 8 v of 32, unaligned stores.
        unsafe {
            _mm_storeu_si128(av.as_mut_ptr().add(8 * v) as *mut __m128i, halves8(ap, &t.ohmma_a[v]));
            for (r, o) in bv.iter_mut().enumerate() {
                _mm_storeu_si128(o.as_mut_ptr().add(8 * v) as *mut __m128i, halves8(bp, &t.ohmma_b[r][v]));
            }
        }
    }
    (av, bv)
}

/// All ones in the lanes of 8 whose bit is set in `bits`.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes8(bits: u32) -> __m256i {
    let b = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(bits as i32), b), b)
}

/// 8 consecutive lanes of a register.
#[inline]
#[target_feature(enable = "avx2")]
fn load8(reg: &[u32; 32], lane: usize) -> __m256i {
    assert!(lane <= 24, "8 lanes of 32");
    // SAFETY: 8 dwords within the register, an unaligned load.
    unsafe { _mm256_loadu_si256(reg.as_ptr().add(lane) as *const __m256i) }
}

/// Writes the fp32 results `res[r][v]` (lanes 8v.. of register `d + r`) for the lanes `exec`.
#[inline]
#[target_feature(enable = "avx2")]
fn store_f32<const R: usize>(w: &mut Warp, d: u16, res: &[[__m256i; 4]; R], exec: u32) {
    let d = d as usize;
    let dregs: &mut [[u32; 32]; R] = (&mut w.regs[d..d + R]).try_into().expect("the D registers");
    for (reg, vs) in dregs.iter_mut().zip(res) {
        for (v, &x) in vs.iter().enumerate() {
            // a blend and a whole store (`vpmaskmovd` stores are microcoded on AMD's cores)
            let dst = reg.as_mut_ptr().wrapping_add(8 * v) as *mut __m256i;
            // SAFETY: 8 lanes (32 bytes) at 8 v of a 32-lane register, an unaligned load and store.
            unsafe {
                _mm256_storeu_si256(dst, _mm256_blendv_epi8(_mm256_loadu_si256(dst), x, lanes8(exec >> (8 * v))))
            };
        }
    }
}

/// A dense fp32 `OHMMA.8161` in the regular layout (see the module docs). Returns `false`, having
/// written nothing, when an element has an infinity or a NaN among its inputs.
#[target_feature(enable = "avx2,f16c")]
pub(super) fn ohmma_f32(w: &mut Warp, [d, a, b, c]: [u16; 4], exec: u32) -> bool {
    let t = tables();
    let (ap, bp) = (pair(w, a), pair(w, b));
    let c = c as usize;
    let cregs: &[[u32; 32]; 4] = w.regs[c..c + 4].try_into().expect("four C registers");
    let x: [__m256; 4] = std::array::from_fn(|v| f32x8(ap, &t.ohmma_a[v]));
    // the regular layout's B: lane l's accumulator in C register r takes half r % 2 of lane l of
    // B register r / 2, so 8 lanes of a B register give two registers' B (low halves, high halves)
    // by one byte shuffle and one qword permute
    let split = _mm256_setr_epi8(
        0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,
    );
    let mut res = [[_mm256_setzero_si256(); 4]; 4];
    let mut special = 0u8;
    for (q, breg) in bp.iter().enumerate() {
        for v in 0..4 {
            let halves = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_shuffle_epi8(load8(breg, 8 * v), split));
            let ys = [_mm256_castsi256_si128(halves), _mm256_extracti128_si256::<1>(halves)];
            for (r, y) in [2 * q, 2 * q + 1].into_iter().zip(ys) {
                let (dv, m) = dot_x8::<1, false>([x[v]], [_mm256_cvtph_ps(y)], load8(&cregs[r], 8 * v));
                res[r][v] = dv;
                special |= m;
            }
        }
    }
    if special != 0 {
        return false;
    }
    store_f32(w, d, &res, exec);
    true
}

/// An fp32 `HMMA.884` STEP (see the module docs). Returns `false`, having written nothing, when
/// an element has an infinity or a NaN among its inputs.
#[target_feature(enable = "avx2,f16c")]
pub(super) fn hmma_f32(w: &mut Warp, [d, a, b, c]: [u16; 4], exec: u32, a_col: bool, b_col: bool, step: u8) -> bool {
    let t = tables();
    let (ga, gb) = (
        &t.hmma_a[a_col as usize][b_col as usize][step as usize & 3],
        &t.hmma_b[a_col as usize][b_col as usize][step as usize & 3],
    );
    let (ap, bp) = (pair(w, a), pair(w, b));
    let c = c as usize;
    let cregs: &[[u32; 32]; 2] = w.regs[c..c + 2].try_into().expect("two C registers");
    let mut res = [[_mm256_setzero_si256(); 4]; 2];
    let mut special = 0u8;
    for (r, out) in res.iter_mut().enumerate() {
        for (v, o) in out.iter_mut().enumerate() {
            // elements 8 g.. (g = 4 r + v): lanes 8 v.. of D register r
            let g = 4 * r + v;
            let x: [__m256; 4] = std::array::from_fn(|k| f32x8(ap, &ga[k][g]));
            let y: [__m256; 4] = std::array::from_fn(|k| f32x8(bp, &gb[k][g]));
            let (dv, m) = dot_x8::<4, false>(x, y, load8(&cregs[r], 8 * v));
            *o = dv;
            special |= m;
        }
    }
    if special != 0 {
        return false;
    }
    store_f32(w, d, &res, exec);
    true
}

/// An fp16-accumulator instruction (the dense `OHMMA.8161.F16`, `N = 1`, or an `HMMA.884.F16`
/// STEP, `N = 4`) whose factor `k` of the element at half `8 g + i` of the C/D pair is element i
/// of `ta[k][g]` / `tb[k][g]`. Returns `false`, having written nothing, when an element has an
/// infinity or a NaN among its inputs.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn f16<const N: usize>(
    w: &mut Warp,
    [d, a, b, c]: [u16; 4],
    exec: u32,
    ta: &[[Halves8; 16]; N],
    tb: &[[Halves8; 16]; N],
) -> bool {
    let (ap, bp, cp) = (pair(w, a), pair(w, b), pair(w, c));
    let mut res = [_mm_setzero_si128(); 16];
    let mut special = 0u8;
    for (g, o) in res.iter_mut().enumerate() {
        // halves 8 g.. of the pair: lanes 4 (g % 8).. of register g / 8
        let x: [__m256; N] = std::array::from_fn(|k| f32x8(ap, &ta[k][g]));
        let y: [__m256; N] = std::array::from_fn(|k| f32x8(bp, &tb[k][g]));
        // SAFETY: 4 lanes (16 bytes) at 4 (g % 8) of a 32-lane register, an unaligned load.
        let cv = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(cp[g / 8].as_ptr().add(4 * (g % 8)) as *const __m128i) });
        let (dv, m) = dot_x8::<N, true>(x, y, _mm256_castps_si256(cv));
        *o = _mm256_castsi256_si128(dv);
        special |= m;
    }
    if special != 0 {
        return false;
    }
    let d = d as usize;
    let dregs: &mut [[u32; 32]; 2] = (&mut w.regs[d..d + 2]).try_into().expect("two D registers");
    let bits = _mm_setr_epi32(1, 2, 4, 8);
    for (g, &x) in res.iter().enumerate() {
        let lane = 4 * (g % 8);
        let mask = _mm_cmpeq_epi32(_mm_and_si128(_mm_set1_epi32((exec >> lane) as i32), bits), bits);
        let dst = dregs[g / 8].as_mut_ptr().wrapping_add(lane) as *mut __m128i;
        // SAFETY: 4 lanes (16 bytes) at `lane` of a 32-lane register, an unaligned load and store
        // (a blend: see `store_f32`).
        unsafe { _mm_storeu_si128(dst, _mm_blendv_epi8(_mm_loadu_si128(dst), x, mask)) };
    }
    true
}

/// A dense `OHMMA.8161.F16` (see [`f16`]).
#[target_feature(enable = "avx2,f16c")]
pub(super) fn ohmma_f16(w: &mut Warp, regs: [u16; 4], exec: u32) -> bool {
    let t = tables();
    f16::<1>(w, regs, exec, &t.ohmma16_a, &t.ohmma16_b)
}

/// An `HMMA.884.F16` STEP (see [`f16`]).
#[target_feature(enable = "avx2,f16c")]
pub(super) fn hmma_f16(w: &mut Warp, regs: [u16; 4], exec: u32, a_col: bool, b_col: bool, step: u8) -> bool {
    let t = tables();
    let (ac, bc, st) = (a_col as usize, b_col as usize, step as usize & 1);
    f16::<4>(w, regs, exec, &t.hmma16_a[ac][bc][st], &t.hmma16_b[ac][bc][st])
}

/// A sparse-mode fp32 OHMMA in the regular layout with the accumulators delivered in vectors (as
/// `super::sparse_ohmma_fused_avx512`): per 8 lanes of a C register, the landing positions from
/// the tile row and column tables and the bitmaps' positions (`rowpos`, `colpos`: -1 where nothing
/// lands; a tile row is below 8), the accumulators gathered from the buffer `buf` (`vpgatherdd`),
/// the products added by the units step, the results stored back after all 128 are computed (the
/// positions are distinct). Returns `false`, having written nothing, when a landing product has an
/// infinity or a NaN among its inputs.
#[target_feature(enable = "avx2,f16c")]
pub(super) fn sparse_ohmma(w: &mut Warp, a: u16, b: u16, buf: usize, rowpos: &[i32; 16], colpos: &[i32; 16]) -> bool {
    let (t, ot) = (tables(), otables());
    let (ap, bp) = (pair(w, a), pair(w, b));
    let x: [__m256; 4] = std::array::from_fn(|v| f32x8(ap, &t.ohmma_a[v]));
    // B of the groups where a product lands, gathered there
    let bregs = *bp;
    let Some(acc) = w.accb[buf].as_mut() else { return false };
    let data = &mut acc.data;
    let load = |p: &[i32]| {
        assert!(p.len() >= 8, "8 lanes");
        // SAFETY: 8 i32 (32 bytes), an unaligned load.
        unsafe { _mm256_loadu_si256(p.as_ptr() as *const __m256i) }
    };
    let (rp, cp_lo, cp_hi) = (load(&rowpos[..8]), load(&colpos[..8]), load(&colpos[8..]));
    let (zero, seven) = (_mm256_setzero_si256(), _mm256_set1_epi32(7));
    let mut out = [(zero, 0u8, zero); 16];
    let mut special = 0u8;
    for r in 0..4 {
        for v in 0..4 {
            let row = load(&ot.sp_row[r][8 * v..]);
            let col = load(&ot.sp_col[r][8 * v..]);
            let rv = _mm256_permutevar8x32_epi32(rp, row);
            let cv = _mm256_blendv_epi8(
                _mm256_permutevar8x32_epi32(cp_lo, col),
                _mm256_permutevar8x32_epi32(cp_hi, col),
                _mm256_cmpgt_epi32(col, seven),
            );
            // a position is -1 where nothing lands: both non-negative where the product lands
            let lands = _mm256_cmpgt_epi32(_mm256_or_si256(rv, cv), _mm256_set1_epi32(-1));
            let bits = _mm256_movemask_ps(_mm256_castsi256_ps(lands)) as u8;
            if bits == 0 {
                continue;
            }
            // row * 32 + column, below 1024 where the product lands
            let pos = _mm256_add_epi32(rv, cv);
            // SAFETY: the gathered lanes' positions are within the 1024-element buffer.
            let c = unsafe { _mm256_mask_i32gather_epi32::<4>(zero, data.as_ptr() as *const i32, pos, lands) };
            let (d, m) = dot_x8::<1, false>([x[v]], [f32x8(&bregs, &t.ohmma_b[r][v])], c);
            special |= m & bits;
            // the lanes where nothing lands repeat the first landing lane's store (the same
            // position and value), so all 8 are stored without a branch per lane
            let first = _mm256_set1_epi32(bits.trailing_zeros() as i32);
            let fill = |x: __m256i| _mm256_blendv_epi8(_mm256_permutevar8x32_epi32(x, first), x, lands);
            out[4 * r + v] = (fill(d), bits, fill(pos));
        }
    }
    if special != 0 {
        return false;
    }
    for (d, bits, pos) in out {
        if bits == 0 {
            continue;
        }
        let (mut dv, mut pv) = ([0u32; 8], [0u32; 8]);
        // SAFETY: 8 lanes (32 bytes) each, unaligned stores.
        unsafe {
            _mm256_storeu_si256(dv.as_mut_ptr() as *mut __m256i, d);
            _mm256_storeu_si256(pv.as_mut_ptr() as *mut __m256i, pos);
        }
        for (&p, &x) in pv.iter().zip(&dv) {
            data[p as usize & 1023] = x;
        }
    }
    true
}
