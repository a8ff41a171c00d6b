//! Tensor cores: `HMMA.884` (Volta `mma.m8n8k4`, fp32 or fp16 accumulators), and the
//! outer-product tensor core of `isa/otc.toml`: dense `HMMA.OHMMA.8161`, the binary outer product
//! `HMMA.BOHMMA.32321`, sparse-mode `HMMA.OHMMA.8161.F32.F32.SP.Mm.Nn` and the accumulation
//! buffer instructions `ACCB.*`.
//!
//! HMMA.884: the four quad pairs of the warp (lanes 4q..4q+3 and 4q+16..4q+19) each compute
//! their own 8x8x4 product D = A*B + C. The fragment layouts come from `otc_isa::fragments`
//! (defined once for the whole project). A STEP computes the elements of D that the lane's
//! destination register pair holds (fp32: elements 2s and 2s+1; fp16: elements 4s..4s+3), each
//! as one four-term dot step `dot4_f32` / `dot4_f16` of `otc-numerics` (V100 model or IEEE per
//! the device config). Operands are read from every lane of the quad pair (active or not);
//! results are written to the lanes that execute the instruction.

use std::sync::OnceLock;

use otc_isa::fragments::{slots, FragInst, FragOperand, Layout};
use otc_numerics::{dot1_f16, dot1_f32, dot4_f16, dot4_f32, TensorArith};

use crate::fault::{FaultKind, MemorySpace};
use crate::memory::GlobalMem;
use crate::op::TensorOp;
use crate::state::{lanes, AccBuffer, Warp};

use super::{fault, ExResult, Exec, Flow};

#[cfg(target_arch = "x86_64")]
mod fused_avx2;

/// Where an fp16 element lives: (lane, register in the pair, half).
type Place = (u8, u8, u8);

struct Tables {
    /// a[layout][q][row][k]
    a: [[[[Place; 4]; 8]; 4]; 2],
    /// b[layout][q][k][col]
    b: [[[[Place; 8]; 4]; 4]; 2],
    /// (row, col) of element i of lane l's accumulator: d32[l][i], d16[l][i]
    d32: [[(u8, u8); 8]; 32],
    d16: [[(u8, u8); 8]; 32],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Tables {
            a: [[[[(0, 0, 0); 4]; 8]; 4]; 2],
            b: [[[[(0, 0, 0); 8]; 4]; 4]; 2],
            d32: [[(0, 0); 8]; 32],
            d16: [[(0, 0); 8]; 32],
        };
        for (li, layout) in [Layout::Row, Layout::Col].into_iter().enumerate() {
            for s in slots(FragInst::Hmma884F32, FragOperand::A, layout) {
                t.a[li][s.matrix as usize][s.row as usize][s.col as usize] = (s.lane, s.reg, s.half);
            }
            for s in slots(FragInst::Hmma884F32, FragOperand::B, layout) {
                t.b[li][s.matrix as usize][s.row as usize][s.col as usize] = (s.lane, s.reg, s.half);
            }
        }
        for s in slots(FragInst::Hmma884F32, FragOperand::C, Layout::Row) {
            t.d32[s.lane as usize][s.reg as usize] = (s.row, s.col);
        }
        for s in slots(FragInst::Hmma884F16, FragOperand::C, Layout::Row) {
            let i = s.reg * 2 + s.half;
            t.d16[s.lane as usize][i as usize] = (s.row, s.col);
        }
        t
    })
}

/// Where each factor of the fp32 `HMMA.884` lane batch comes from, per (A layout, B layout,
/// STEP): `a[k][j]` / `b[k][j]` index the 128 halves of the A / B register pair (see
/// [`pair_index`]) for product `k` of element `j = 32 * r + l` (lane l's destination register
/// r). Built from the fragment tables, so a gather is one table lookup per factor.
struct HmmaGather {
    a: [[u16; 64]; 4],
    b: [[u16; 64]; 4],
}

/// The fp16 `HMMA.884` lane batch's factors per (A layout, B layout, STEP), like [`HmmaGather`]:
/// element `j = 32 * i + l` is lane l's result `i` of the STEP (D register `i / 2`, half `i % 2`).
struct HmmaGather16 {
    a: [[u16; 128]; 4],
    b: [[u16; 128]; 4],
}

struct Gathers {
    /// f32[a_col][b_col][step]
    f32: [[[HmmaGather; 4]; 2]; 2],
    /// f16[a_col][b_col][step] (fp16 accumulators have STEP0 and STEP1)
    f16: [[[HmmaGather16; 2]; 2]; 2],
    /// The fp16 STEP's C half of element `j = 32 * i + l` (lane l's register `i / 2`, half
    /// `i % 2`), and its inverse: the element that half `p` of the D pair receives.
    c16: [u16; 128],
    d16: [u16; 128],
}

fn gathers() -> &'static Gathers {
    static G: OnceLock<Gathers> = OnceLock::new();
    G.get_or_init(|| {
        let t = tables();
        let index = |p: Place| {
            assert!(p.1 < 2 && p.2 < 2 && p.0 < 32, "HMMA.884 operands are register pairs");
            pair_index(p.1, p.0 as usize, p.2)
        };
        let build = |a_col: usize, b_col: usize, step: usize| {
            let (ta, tb) = (&t.a[a_col], &t.b[b_col]);
            let mut g = HmmaGather { a: [[0; 64]; 4], b: [[0; 64]; 4] };
            for r in 0..2 {
                for l in 0..32 {
                    let q = (l % 16) / 4;
                    let (row, col) = t.d32[l][2 * step + r];
                    for kk in 0..4 {
                        g.a[kk][32 * r + l] = index(ta[q][row as usize][kk]);
                        g.b[kk][32 * r + l] = index(tb[q][kk][col as usize]);
                    }
                }
            }
            g
        };
        let build16 = |a_col: usize, b_col: usize, step: usize| {
            let (ta, tb) = (&t.a[a_col], &t.b[b_col]);
            let mut g = HmmaGather16 { a: [[0; 128]; 4], b: [[0; 128]; 4] };
            for i in 0..4 {
                for l in 0..32 {
                    let q = (l % 16) / 4;
                    let (row, col) = t.d16[l][4 * step + i];
                    for kk in 0..4 {
                        g.a[kk][32 * i + l] = index(ta[q][row as usize][kk]);
                        g.b[kk][32 * i + l] = index(tb[q][kk][col as usize]);
                    }
                }
            }
            g
        };
        let c16: [u16; 128] = std::array::from_fn(|j| pair_index((j / 64) as u8, j % 32, (j / 32 % 2) as u8));
        Gathers {
            f32: std::array::from_fn(|ac| std::array::from_fn(|bc| std::array::from_fn(|st| build(ac, bc, st)))),
            f16: std::array::from_fn(|ac| std::array::from_fn(|bc| std::array::from_fn(|st| build16(ac, bc, st)))),
            c16,
            d16: inverse_halves(&c16),
        }
    })
}

/// Index of half `half` of lane `lane` of register `reg` (0 or 1) in a register pair seen as 128
/// halves (its little-endian memory order), as [`gather_pair`] takes it.
fn pair_index(reg: u8, lane: usize, half: u8) -> u16 {
    u16::from(reg) * 64 + 2 * lane as u16 + u16::from(half)
}

/// The register pair `base`, `base + 1` (an `HMMA.884` A or B operand).
#[inline(always)]
fn pair(w: &Warp, base: u16) -> &[[u32; 32]; 2] {
    w.regs[base as usize..base as usize + 2].try_into().expect("a register pair")
}

/// `out[k][j]` = half `idx[k][j]` of the pair (indices by [`pair_index`]); `L` is a multiple
/// of 32. Two word permutes per 32 halves with AVX-512BW, a table lookup per half
/// elsewhere; the same values.
#[inline]
fn gather_pair<const L: usize, const R: usize>(pair: &[[u32; 32]; 2], idx: &[[u16; L]; R]) -> [[u16; L]; R] {
    #[cfg(target_arch = "x86_64")]
    {
        if super::level() == super::Level::Avx512 {
            // SAFETY: the AVX-512 level includes AVX-512F/BW (checked on the host by `level`).
            return unsafe { gather_pair_avx512(pair, idx) };
        }
    }
    gather_pair_scalar(pair, idx)
}

#[inline(always)]
fn gather_pair_scalar<const L: usize, const R: usize>(pair: &[[u32; 32]; 2], idx: &[[u16; L]; R]) -> [[u16; L]; R] {
    let mut h = [0u16; 128];
    for (r, reg) in pair.iter().enumerate() {
        for (l, &v) in reg.iter().enumerate() {
            h[r * 64 + 2 * l] = v as u16;
            h[r * 64 + 2 * l + 1] = (v >> 16) as u16;
        }
    }
    std::array::from_fn(|k| std::array::from_fn(|j| h[idx[k][j] as usize & 127]))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn gather_pair_avx512<const L: usize, const R: usize>(
    pair: &[[u32; 32]; 2],
    idx: &[[u16; L]; R],
) -> [[u16; L]; R] {
    use std::arch::x86_64::*;
    const { assert!(L.is_multiple_of(32), "rows of whole vectors") };
    let mut out = [[0u16; L]; R];
    // The pair is 256 contiguous bytes: four vectors of 32 halves (indices 0..32, 32..64, ...).
    let src = pair.as_ptr() as *const __m512i;
    // SAFETY: `pair` is 256 bytes; unaligned loads.
    let (z0, z1, z2, z3) = unsafe {
        (
            _mm512_loadu_si512(src),
            _mm512_loadu_si512(src.add(1)),
            _mm512_loadu_si512(src.add(2)),
            _mm512_loadu_si512(src.add(3)),
        )
    };
    for k in 0..R {
        for h in 0..L / 32 {
            // SAFETY: 32 halves (64 bytes) at offset 32 * h of an L-element row, in and out.
            unsafe {
                let ix = _mm512_loadu_si512(idx[k].as_ptr().add(32 * h) as *const __m512i);
                let v = permute_halves(&[z0, z1, z2, z3], ix);
                _mm512_storeu_si512(out[k].as_mut_ptr().add(32 * h) as *mut __m512i, v);
            }
        }
    }
    out
}

/// Halves `ix` (32 indices below 128) of the 128 halves held in four vectors `z`: two word
/// permutes and a blend.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn permute_halves(z: &[std::arch::x86_64::__m512i; 4], ix: std::arch::x86_64::__m512i) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    let lo = _mm512_permutex2var_epi16(z[0], ix, z[1]);
    let hi = _mm512_permutex2var_epi16(z[2], ix, z[3]);
    _mm512_mask_blend_epi16(_mm512_test_epi16_mask(ix, _mm512_set1_epi16(64)), lo, hi)
}

/// The four vectors of 32 halves of a register pair (256 contiguous bytes).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn pair_vectors(pair: &[[u32; 32]; 2]) -> [std::arch::x86_64::__m512i; 4] {
    let src = pair.as_ptr() as *const std::arch::x86_64::__m512i;
    // SAFETY: `pair` is 256 bytes; unaligned loads (moving vector types needs no feature).
    std::array::from_fn(|i| unsafe { std::ptr::read_unaligned(src.add(i)) })
}

/// Halves `ix` (32 indices by [`pair_index`]) of the pair `z` (from [`pair_vectors`]) as fp32,
/// lanes 0..16 and 16..32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn gather_f32x32(z: &[std::arch::x86_64::__m512i; 4], ix: &[u16]) -> [std::arch::x86_64::__m512; 2] {
    use std::arch::x86_64::*;
    assert!(ix.len() >= 32, "32 indices");
    // SAFETY: 32 indices (64 bytes), an unaligned load.
    let v = permute_halves(z, unsafe { _mm512_loadu_si512(ix.as_ptr() as *const __m512i) });
    [_mm512_cvtph_ps(_mm512_castsi512_si256(v)), _mm512_cvtph_ps(_mm512_extracti64x4_epi64::<1>(v))]
}

/// An fp32 `HMMA.884` STEP with the operands delivered from the register file straight into
/// vector registers: A and B by [`gather_f32x32`] through the STEP's gather table, C read and D
/// written in place (masked by `exec`) after all 64 results are computed, so D may overlap any
/// operand. Returns `false`, having written nothing, when an element has an infinity or a NaN
/// among its inputs (the caller's general path does those).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn hmma_f32_fused_avx512(w: &mut Warp, [d, a, b, c]: [u16; 4], exec: u32, g: &HmmaGather) -> bool {
    use otc_numerics::float_avx512_dot4::dot4_f32_x16;
    use std::arch::x86_64::*;
    let (c, d) = (c as usize, d as usize);
    let (za, zb) = (pair_vectors(pair(w, a)), pair_vectors(pair(w, b)));
    let cregs: &[[u32; 32]; 2] = w.regs[c..c + 2].try_into().expect("two C registers");
    let mut res = [[_mm512_setzero_si512(); 2]; 2];
    let mut special = 0u16;
    for (r, out) in res.iter_mut().enumerate() {
        // element j = 32 r + l is lane l's destination register r
        let x: [[__m512; 2]; 4] = std::array::from_fn(|k| gather_f32x32(&za, &g.a[k][32 * r..]));
        let y: [[__m512; 2]; 4] = std::array::from_fn(|k| gather_f32x32(&zb, &g.b[k][32 * r..]));
        for (h, o) in out.iter_mut().enumerate() {
            // SAFETY: 16 lanes of a 32-lane register, an unaligned load.
            let cv = unsafe { _mm512_loadu_si512(cregs[r].as_ptr().add(16 * h) as *const __m512i) };
            let (dv, m) = dot4_f32_x16(x.map(|v| v[h]), y.map(|v| v[h]), cv);
            *o = dv;
            special |= m;
        }
    }
    if special != 0 {
        return false;
    }
    let dregs: &mut [[u32; 32]; 2] = (&mut w.regs[d..d + 2]).try_into().expect("two D registers");
    for (r, halves) in res.iter().enumerate() {
        for (h, &v) in halves.iter().enumerate() {
            // SAFETY: 16 lanes of a 32-lane register, an unaligned masked store.
            unsafe {
                _mm512_mask_storeu_epi32(dregs[r].as_mut_ptr().add(16 * h) as *mut i32, (exec >> (16 * h)) as u16, v)
            };
        }
    }
    true
}

/// An fp16-accumulator tensor instruction (the dense `OHMMA.8161.F16`, `N = 1`, or an
/// `HMMA.884.F16` STEP, `N = 4`) with the operands delivered from the register file straight into
/// vector registers: element `j`'s factors `k` are halves `ai[k][j]`, `bi[k][j]` of the A and B
/// pairs and its accumulator half `ci[j]` of the C pair (indices by [`pair_index`], gathered by
/// [`gather_f32x32`]); half `p` of the D pair receives element `di[p]` (the inverse of `ci`), by
/// the same word permutes, written in place (masked by `exec`) after all 128 results are computed,
/// so D may overlap any operand. Returns `false`, having written nothing, when an element has an
/// infinity or a NaN among its inputs (the caller's general path does those).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn f16_fused_avx512<const N: usize>(
    w: &mut Warp,
    [d, a, b, c]: [u16; 4],
    exec: u32,
    ai: &[[u16; 128]; N],
    bi: &[[u16; 128]; N],
    ci: &[u16; 128],
    di: &[u16; 128],
) -> bool {
    use otc_numerics::float_avx512_f16::dot_f16_x16;
    use std::arch::x86_64::*;
    let (za, zb, zc) = (pair_vectors(pair(w, a)), pair_vectors(pair(w, b)), pair_vectors(pair(w, c)));
    // res[v]: the fp16 results of elements 32 v .. 32 v + 32
    let mut res = [_mm512_setzero_si512(); 4];
    let mut special = 0u16;
    for (v, out) in res.iter_mut().enumerate() {
        let x: [[__m512; 2]; N] = std::array::from_fn(|k| gather_f32x32(&za, &ai[k][32 * v..]));
        let y: [[__m512; 2]; N] = std::array::from_fn(|k| gather_f32x32(&zb, &bi[k][32 * v..]));
        let cv = gather_f32x32(&zc, &ci[32 * v..]);
        let (d0, m0) = dot_f16_x16(x.map(|h| h[0]), y.map(|h| h[0]), cv[0]);
        let (d1, m1) = dot_f16_x16(x.map(|h| h[1]), y.map(|h| h[1]), cv[1]);
        *out = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(d0), d1);
        special |= m0 | m1;
    }
    if special != 0 {
        return false;
    }
    let d = d as usize;
    let dregs: &mut [[u32; 32]; 2] = (&mut w.regs[d..d + 2]).try_into().expect("two D registers");
    for v in 0..4 {
        // halves 32 v .. 32 v + 32 of the pair: lanes 16 (v % 2) .. + 16 of register v / 2
        // SAFETY: 32 indices (64 bytes), an unaligned load; 16 lanes of a 32-lane register, an
        // unaligned masked store.
        unsafe {
            let dv = permute_halves(&res, _mm512_loadu_si512(di.as_ptr().add(32 * v) as *const __m512i));
            let h = v % 2;
            let dst = dregs[v / 2].as_mut_ptr().add(16 * h) as *mut i32;
            _mm512_mask_storeu_epi32(dst, (exec >> (16 * h)) as u16, dv);
        }
    }
    true
}

/// The inverse of a permutation of the 128 halves of a register pair.
fn inverse_halves(p: &[u16; 128]) -> [u16; 128] {
    let mut inv = [u16::MAX; 128];
    for (j, &h) in p.iter().enumerate() {
        inv[h as usize & 127] = j as u16;
    }
    assert!(inv.iter().all(|&j| j < 128), "a permutation of the pair's halves");
    inv
}

#[inline(always)]
fn half_of(w: &Warp, base: u16, p: Place) -> u16 {
    let v = w.regs[base as usize + p.1 as usize][p.0 as usize];
    (v >> (16 * p.2 as u32)) as u16
}

/// Redoes the elements of a lane batch flagged in `special` (an infinity or a NaN among their
/// inputs) with the scalar reference `one(j)`.
#[inline(always)]
fn fix_special<T, const L: usize>(special: [u64; 2], res: &mut [T; L], one: impl Fn(usize) -> T) {
    for (word, &bits) in special.iter().enumerate() {
        let mut m = bits;
        while m != 0 {
            let j = 64 * word + m.trailing_zeros() as usize;
            m &= m - 1;
            res[j] = one(j);
        }
    }
}

/// Writes 128 fp16 results to the register pair `d` for the lanes `exec`: element `j = 32 * i + l`
/// is lane l's half `i % 2` of register `d + i / 2`.
#[inline(always)]
fn write_halves(w: &mut Warp, d: u16, res: &[u16; 128], exec: u32) {
    for r in 0..2 {
        let o: [u32; 32] = std::array::from_fn(|l| u32::from(res[64 * r + l]) | u32::from(res[64 * r + 32 + l]) << 16);
        w.write(d + r as u16, &o, exec);
    }
}

/// Execute a tensor instruction for the lanes `exec` (`exec` != 0).
#[inline(always)]
pub(super) fn exec<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, k: &TensorOp, exec: u32) -> ExResult {
    // Every variant is listed (no `_`): a new tensor instruction must be given its semantics here.
    match k {
        TensorOp::Hmma { .. } | TensorOp::HmmaVs { .. } | TensorOp::Bohmma { .. } => {
            exec_lanes(w, x.env.arith, k, exec);
            Ok(Flow::Next)
        }
        TensorOp::HmmaSparse { d, a, b, c, e, step, sel, blocks, hss } => {
            super::structured::hmma_structured(w, x.env.arith, exec, [*d, *a, *b, *c, *e], *step, *sel, *blocks, *hss)?;
            Ok(Flow::Next)
        }
        TensorOp::Ohmma { .. }
        | TensorOp::OhmmaSp { .. }
        | TensorOp::SpwmmaSeq { .. }
        | TensorOp::AccbClear { .. }
        | TensorOp::AccbBmap { .. }
        | TensorOp::AccbMov { .. }
        | TensorOp::AccbShared { .. } => exec_otc(w, x, k, exec),
    }
}

/// HMMA.884 and BOHMMA: lane-wise, registers in and out.
fn exec_lanes(w: &mut Warp, arith: TensorArith, k: &TensorOp, exec: u32) {
    match *k {
        TensorOp::Hmma { d, a, b, c, f32: true, step, a_col, b_col } if arith == TensorArith::V100 => {
            // The 64 dot steps of the warp at once (element j = 32 * r + l: lane l's destination
            // register r), like the dense OHMMA; lanes outside `exec` are computed, not written.
            let g = &gathers().f32[a_col as usize][b_col as usize][step as usize & 3];
            #[cfg(target_arch = "x86_64")]
            if super::level() == super::Level::Avx512 {
                // SAFETY: the AVX-512 level includes AVX-512F/BW (checked on the host by `level`).
                if unsafe { hmma_f32_fused_avx512(w, [d, a, b, c], exec, g) } {
                    return;
                }
            }
            #[cfg(target_arch = "x86_64")]
            if super::level() == super::Level::Avx2 {
                // SAFETY: the AVX2 level includes AVX2 and F16C (checked on the host by `level`).
                if unsafe { fused_avx2::hmma_f32(w, [d, a, b, c], exec, a_col, b_col, step) } {
                    return;
                }
            }
            let av = gather_pair(pair(w, a), &g.a);
            let bv = gather_pair(pair(w, b), &g.b);
            let mut cv = [0u32; 64];
            for r in 0..2 {
                cv[32 * r..32 * r + 32].copy_from_slice(&w.regs[c as usize + r]);
            }
            let mut res = [0u32; 64];
            let special = otc_numerics::dot4_f32_v100_lanes_host(&av, &bv, &cv, &mut res);
            let mut m = special[0];
            while m != 0 {
                let j = m.trailing_zeros() as usize;
                m &= m - 1;
                res[j] = dot4_f32(arith, std::array::from_fn(|k| av[k][j]), std::array::from_fn(|k| bv[k][j]), cv[j]);
            }
            for r in 0..2 {
                let o: &[u32; 32] = res[32 * r..32 * r + 32].try_into().expect("32 lanes");
                w.write(d + r as u16, o, exec);
            }
        }
        TensorOp::Hmma { d, a, b, c, f32: false, step, a_col, b_col } if arith == TensorArith::V100 => {
            // The 128 fp16 dot steps of the warp at once (element j = 32 * i + l: lane l's result
            // i, D register i / 2, half i % 2); lanes outside `exec` are computed, not written.
            let gs = gathers();
            let g = &gs.f16[a_col as usize][b_col as usize][step as usize & 1];
            #[cfg(target_arch = "x86_64")]
            if super::level() == super::Level::Avx512 {
                // SAFETY: the AVX-512 level includes AVX-512F/BW (checked on the host by `level`).
                if unsafe { f16_fused_avx512(w, [d, a, b, c], exec, &g.a, &g.b, &gs.c16, &gs.d16) } {
                    return;
                }
            }
            #[cfg(target_arch = "x86_64")]
            if super::level() == super::Level::Avx2 {
                // SAFETY: the AVX2 level includes AVX2 and F16C (checked on the host by `level`).
                if unsafe { fused_avx2::hmma_f16(w, [d, a, b, c], exec, a_col, b_col, step) } {
                    return;
                }
            }
            let av = gather_pair(pair(w, a), &g.a);
            let bv = gather_pair(pair(w, b), &g.b);
            let cv: [u16; 128] =
                std::array::from_fn(|j| (w.regs[c as usize + j / 64][j % 32] >> (16 * (j / 32 % 2))) as u16);
            let mut res = [0u16; 128];
            let special = otc_numerics::dot4_f16_v100_lanes_host(&av, &bv, &cv, &mut res);
            fix_special(special, &mut res, |j| {
                dot4_f16(arith, std::array::from_fn(|k| av[k][j]), std::array::from_fn(|k| bv[k][j]), cv[j])
            });
            write_halves(w, d, &res, exec);
        }
        TensorOp::Hmma { d, a, b, c, f32, step, a_col, b_col } => {
            let t = tables();
            let (ta, tb) = (&t.a[a_col as usize], &t.b[b_col as usize]);
            let mut out = [[0u32; 32]; 2];
            for l in lanes(exec) {
                let q = (l % 16) / 4;
                let elems = |row: u8, col: u8| -> ([u16; 4], [u16; 4]) {
                    let mut av = [0u16; 4];
                    let mut bv = [0u16; 4];
                    for kk in 0..4 {
                        av[kk] = half_of(w, a, ta[q][row as usize][kk]);
                        bv[kk] = half_of(w, b, tb[q][kk][col as usize]);
                    }
                    (av, bv)
                };
                if f32 {
                    for (j, o) in out.iter_mut().enumerate() {
                        let i = 2 * step as usize + j;
                        let (row, col) = t.d32[l][i];
                        let (av, bv) = elems(row, col);
                        let cv = w.regs[c as usize + j][l];
                        o[l] = dot4_f32(arith, av, bv, cv);
                    }
                } else {
                    for j in 0..4 {
                        let i = 4 * step as usize + j;
                        let (row, col) = t.d16[l][i];
                        let (av, bv) = elems(row, col);
                        let creg = w.regs[c as usize + j / 2][l];
                        let cv = (creg >> (16 * (j % 2))) as u16;
                        let r = dot4_f16(arith, av, bv, cv) as u32;
                        out[j / 2][l] |= r << (16 * (j % 2));
                    }
                }
            }
            w.write(d, &out[0], exec);
            w.write(d + 1, &out[1], exec);
        }
        TensorOp::HmmaVs { d, a, b, c, e, step, a_col, b_col } => {
            // As the fp32 HMMA.884 STEP, with k = the 4 kept values of the B column's 16-vector
            // and the A factors picked from the 16-k window by their indices (isa/vstc.toml).
            let t = tables();
            let (ta, tb) = (&t.a[a_col as usize], &t.b[b_col as usize]);
            let idx = w.read(e);
            let mut out = [[0u32; 32]; 2];
            for l in lanes(exec) {
                let q = (l % 16) / 4;
                for (j, o) in out.iter_mut().enumerate() {
                    let (row, col) = t.d32[l][2 * step as usize + j];
                    let mut av = [0u16; 4];
                    let mut bv = [0u16; 4];
                    for kk in 0..4 {
                        let place = tb[q][kk][col as usize];
                        bv[kk] = half_of(w, b, place);
                        let i = (idx[place.0 as usize] >> (4 * kk)) & 0xf;
                        av[kk] = half_of(w, a + 2 * (i as u16 / 4), ta[q][row as usize][i as usize % 4]);
                    }
                    o[l] = dot4_f32(arith, av, bv, w.regs[c as usize + j][l]);
                }
            }
            w.write(d, &out[0], exec);
            w.write(d + 1, &out[1], exec);
        }
        TensorOp::Bohmma { d, a, b } => {
            let (av, bv) = (w.read(a), w.read(b));
            let mut out = [0u32; 32];
            for l in 0..32 {
                out[l] = if (av[l] >> l) & 1 != 0 { bv[l] } else { 0 };
            }
            w.write(d, &out, exec);
        }
        _ => {}
    }
}

// ------------------------------------------------------------------------------------------------
// Outer-product tensor core (isa/otc.toml)
//
// OHMMA.8161: lane l is one four-element outer-product unit. Its accumulator element i is tile
// element (row, col) (the C/D slots of `otc_isa::fragments`); the lane multiplies the A element
// `row` and the B element `col` of ITS OWN A and B pairs (the layout replicates A in 16 lanes and
// B in 8 lanes; each lane holds exactly the A and B elements its own accumulators need) and adds
// the product to its C element through the tensor-core adder, one product per step
// (`dot_f32` / `dot_f16` with n = 1). The sparse form computes the same products of the same
// lanes' operands but lands them in the warp's accumulation buffer at the positions the bitmaps
// give, so both paths give the same bits on the same data.

/// Lane l's accumulator element i: where its A and B factors are in the lane's own pairs
/// (register, half) and which tile element (row, col) it is.
#[derive(Clone, Copy, Default)]
struct OElem {
    a: (u8, u8),
    b: (u8, u8),
    row: u8,
    col: u8,
    /// Register and half of the element in the C/D group (half = 0 for fp32).
    reg: u8,
    half: u8,
}

struct OTables {
    /// [F32, F16][lane][element]
    e: [[[OElem; 4]; 32]; 2],
    /// fp32 layout as isa/otc.toml states it: lane l's four elements share one A value (in the
    /// A register pair), and its element in C register r takes B from register r / 2, half r % 2
    /// (checked against the fragment tables when they are built).
    f32_regular: bool,
    /// The regular layout as [`gather_pair`] indices: lane l's A value, and the B value of its
    /// accumulator in C register r.
    a_idx: [[u16; 32]; 1],
    b_idx: [[u16; 32]; 4],
    /// The fp16 layout as [`gather_pair`] indices of element `j = 4 * l + n` (lane l's n-th
    /// accumulator element): its A and B factors, and its place in the C/D pair (a permutation
    /// of the pair's 128 halves).
    f16_idx: [[u16; 128]; 3],
    /// The inverse of `f16_idx[2]`: the element that half `p` of the D pair receives.
    f16_d_idx: [u16; 128],
    /// In the regular fp32 layout: the tile row and column of lane l's element in C register r,
    /// as `sp_row[r][l]`, `sp_col[r][l]` (where a sparse OHMMA lands its product).
    sp_row: [[i32; 32]; 4],
    sp_col: [[i32; 32]; 4],
}

fn otables() -> &'static OTables {
    static T: OnceLock<OTables> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = OTables {
            e: [[[OElem::default(); 4]; 32]; 2],
            f32_regular: false,
            a_idx: [[0; 32]; 1],
            b_idx: std::array::from_fn(|r| std::array::from_fn(|l| pair_index(r as u8 / 2, l, r as u8 % 2))),
            f16_idx: [[0; 128]; 3],
            f16_d_idx: [0; 128],
            sp_row: [[0; 32]; 4],
            sp_col: [[0; 32]; 4],
        };
        for (fi, inst) in [FragInst::Ohmma8161F32, FragInst::Ohmma8161F16].into_iter().enumerate() {
            let a = slots(inst, FragOperand::A, Layout::Row);
            let b = slots(inst, FragOperand::B, Layout::Row);
            let mut n = [0usize; 32];
            for s in slots(inst, FragOperand::C, Layout::Row) {
                let l = s.lane as usize;
                let sa = a.iter().find(|x| x.lane == s.lane && x.row == s.row).expect("lane holds its A element");
                let sb = b.iter().find(|x| x.lane == s.lane && x.col == s.col).expect("lane holds its B element");
                t.e[fi][l][n[l]] = OElem {
                    a: (sa.reg, sa.half),
                    b: (sb.reg, sb.half),
                    row: s.row,
                    col: s.col,
                    reg: s.reg,
                    half: s.half,
                };
                n[l] += 1;
            }
            assert!(n.iter().all(|&k| k == 4), "OHMMA accumulators: 4 elements per lane");
            if fi == 1 {
                let mut seen = [false; 128];
                for (l, te) in t.e[1].iter().enumerate() {
                    for (n, e) in te.iter().enumerate() {
                        assert!(e.a.0 < 2 && e.b.0 < 2 && e.reg < 2, "fp16 OHMMA operands are register pairs");
                        let j = 4 * l + n;
                        t.f16_idx[0][j] = pair_index(e.a.0, l, e.a.1);
                        t.f16_idx[1][j] = pair_index(e.b.0, l, e.b.1);
                        t.f16_idx[2][j] = pair_index(e.reg, l, e.half);
                        seen[t.f16_idx[2][j] as usize] = true;
                    }
                }
                assert!(seen.iter().all(|&x| x), "fp16 OHMMA: every half of the C/D pair is one element");
                t.f16_d_idx = inverse_halves(&t.f16_idx[2]);
            }
            if fi == 0 {
                // The fp32 path indexes element (lane, register) directly.
                let mut regular = true;
                for (l, te) in t.e[0].iter().enumerate() {
                    let regs = te.iter().fold(0u32, |m, e| m | 1 << e.reg);
                    assert!(regs == 0b1111 && te.iter().all(|e| e.half == 0), "fp32 OHMMA: one element per C register");
                    let (reg, half) = te[0].a;
                    regular &= reg < 2 && te.iter().all(|e| e.a == te[0].a && e.b == (e.reg / 2, e.reg % 2));
                    t.a_idx[0][l] = pair_index(reg, l, half);
                    for e in te {
                        t.sp_row[e.reg as usize & 3][l] = i32::from(e.row);
                        t.sp_col[e.reg as usize & 3][l] = i32::from(e.col);
                    }
                }
                t.f32_regular = regular;
            }
        }
        t
    })
}

#[inline(always)]
fn own_half(w: &Warp, base: u16, l: usize, p: (u8, u8)) -> u16 {
    (w.regs[base as usize + p.0 as usize][l] >> (16 * p.1 as u32)) as u16
}

/// In the regular fp32 layout: every lane's A value, and per C register r every lane's B value.
#[inline(always)]
fn regular_operands(w: &Warp, a: u16, b: u16) -> ([u16; 32], [[u16; 32]; 4]) {
    #[cfg(target_arch = "x86_64")]
    if super::level() == super::Level::Avx2 {
        // SAFETY: the AVX2 level includes AVX2 (checked on the host by `level`).
        return unsafe { fused_avx2::regular_operands(w, a, b) };
    }
    let ot = otables();
    let [av] = gather_pair(pair(w, a), &ot.a_idx);
    (av, gather_pair(pair(w, b), &ot.b_idx))
}

/// A dense fp32 `OHMMA.8161` in the regular layout with the operands delivered from the register
/// file straight into vector registers (no intermediate arrays): A by two word permutes of its
/// pair (`a_idx`, as [`gather_pair`]), B by converting 8 lanes of a B register (16 halves) at a
/// time and separating the low halves (C registers 0, 2) from the high ones (1, 3) with one
/// permute, C read and D written in place (masked by `exec`) after all 128 results are computed,
/// so D may overlap any operand. Returns `false`, having written nothing, when an element has an
/// infinity or a NaN among its inputs (the caller's general path does those).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn ohmma_f32_fused_avx512(w: &mut Warp, [d, a, b, c]: [u16; 4], exec: u32, a_idx: &[u16; 32]) -> bool {
    use otc_numerics::float_avx512::dot1_f32_x16;
    use std::arch::x86_64::*;
    let (c, d) = (c as usize, d as usize);
    let (ap, bp) = (pair(w, a), pair(w, b));
    let cregs: &[[u32; 32]; 4] = w.regs[c..c + 4].try_into().expect("four C registers");
    // SAFETY (all loads): whole registers (128 bytes) and pairs (256 bytes), unaligned loads.
    let [x_lo, x_hi] = gather_f32x32(&pair_vectors(ap), a_idx);
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let zero = _mm512_setzero_si512();
    let mut res = [[zero; 2]; 4];
    let mut special = 0u16;
    for (q, breg) in bp.iter().enumerate() {
        for (h, x) in [x_lo, x_hi].into_iter().enumerate() {
            // lanes 16h..16h+16 of B register q: halves (lo, hi) of 8 lanes per conversion
            let (y_lo, y_hi) = unsafe {
                let src = breg.as_ptr().add(16 * h);
                let v0 = _mm512_cvtph_ps(_mm256_loadu_si256(src as *const __m256i));
                let v1 = _mm512_cvtph_ps(_mm256_loadu_si256(src.add(8) as *const __m256i));
                (_mm512_permutex2var_ps(v0, even, v1), _mm512_permutex2var_ps(v0, odd, v1))
            };
            for (r, y) in [(2 * q, y_lo), (2 * q + 1, y_hi)] {
                let cv = unsafe { _mm512_loadu_si512(cregs[r].as_ptr().add(16 * h) as *const __m512i) };
                let (dv, m) = dot1_f32_x16(x, y, cv);
                res[r][h] = dv;
                special |= m;
            }
        }
    }
    if special != 0 {
        return false;
    }
    let dregs: &mut [[u32; 32]; 4] = (&mut w.regs[d..d + 4]).try_into().expect("four D registers");
    for (r, halves) in res.iter().enumerate() {
        for (h, &v) in halves.iter().enumerate() {
            // SAFETY: 16 lanes of a 32-lane register, unaligned masked store.
            unsafe {
                _mm512_mask_storeu_epi32(dregs[r].as_mut_ptr().add(16 * h) as *mut i32, (exec >> (16 * h)) as u16, v)
            };
        }
    }
    true
}

/// The first `N` elements of a batch array.
#[inline(always)]
fn prefix<T, const N: usize>(x: &[T; 128]) -> &[T; N] {
    x[..N].try_into().expect("N <= 128")
}

#[inline(always)]
fn prefix_mut<T, const N: usize>(x: &mut [T; 128]) -> &mut [T; N] {
    (&mut x[..N]).try_into().expect("N <= 128")
}

/// Position of every set bit of `m`, in ascending order, and their count.
fn bit_positions(m: u32) -> ([u8; 32], usize) {
    let mut p = [0u8; 32];
    let mut n = 0;
    let mut m = m;
    while m != 0 {
        p[n & 31] = m.trailing_zeros() as u8;
        m &= m - 1;
        n += 1;
    }
    (p, n)
}

/// The name of a warp-collective OTC instruction, for messages.
fn otc_name(k: &TensorOp) -> &'static str {
    match k {
        TensorOp::OhmmaSp { .. } => "sparse OHMMA",
        TensorOp::SpwmmaSeq { .. } => "sequenced SpWMMA",
        TensorOp::AccbClear { .. } => "ACCB.CLEAR",
        TensorOp::AccbBmap { .. } => "ACCB.BMAP",
        TensorOp::AccbShared { load: false, .. } => "ACCB.STS",
        TensorOp::AccbShared { load: true, .. } => "ACCB.LDS",
        TensorOp::AccbMov { .. } => "ACCB.MOV",
        _ => "OHMMA",
    }
}

/// Accumulation buffer `buf`, or a fault if it was never cleared (or loaded) since the warp
/// started.
fn ready<'w>(w: &'w mut Warp, exec: u32, what: &str, buf: u8) -> Result<&'w mut AccBuffer, crate::fault::RawFault> {
    if w.accb[buf as usize].is_none() {
        let which = if buf == 0 { "the accumulation buffer".to_string() } else { format!("accumulation buffer {buf}") };
        let suffix = if buf == 0 { String::new() } else { format!(".BUF{buf}") };
        return Err(fault(
            w,
            exec,
            FaultKind::AccumulatorState,
            format!("{what} uses {which}, which was never cleared (ACCB.CLEAR{suffix}) or loaded (ACCB.LDS{suffix}) since the warp started"),
            None,
        ));
    }
    Ok(w.accb[buf as usize].as_mut().expect("checked"))
}

/// The OTC instructions with an accumulation buffer or a dense OHMMA (`exec` != 0).
fn exec_otc<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, k: &TensorOp, exec: u32) -> ExResult {
    let arith = x.env.arith;
    // Warp-collective instructions (everything but the dense OHMMA and ACCB.MOV, whose results
    // are per lane): the guard must hold in every active lane or in none (none never gets here).
    let collective = !matches!(k, TensorOp::Ohmma { .. } | TensorOp::AccbMov { .. });
    if collective && exec != w.active {
        let off = w.active & !exec;
        return Err(fault(
            w,
            off,
            FaultKind::NonUniformOperand,
            format!(
                "{} is warp-collective: its guard must hold in every active lane or in none, but it holds in lanes {exec:#010x} and not in lanes {off:#010x}",
                otc_name(k)
            ),
            None,
        ));
    }
    match *k {
        TensorOp::Ohmma { d, a, b, c, f32: true } if arith == TensorArith::V100 => {
            // All 128 products of the warp at once (lanes outside `exec` are computed and not
            // written), vectorised where the host allows; elements with an infinity or a NaN
            // among their inputs go through the scalar reference path.
            // Element j = 32 * r + l is lane l's accumulator register r.
            let ot = otables();
            #[cfg(target_arch = "x86_64")]
            if ot.f32_regular && super::level() == super::Level::Avx512 {
                // SAFETY: the AVX-512 level includes AVX-512F/BW (checked on the host by `level`).
                if unsafe { ohmma_f32_fused_avx512(w, [d, a, b, c], exec, &ot.a_idx[0]) } {
                    return Ok(Flow::Next);
                }
            }
            #[cfg(target_arch = "x86_64")]
            if ot.f32_regular && super::level() == super::Level::Avx2 {
                // SAFETY: the AVX2 level includes AVX2 and F16C (checked on the host by `level`).
                if unsafe { fused_avx2::ohmma_f32(w, [d, a, b, c], exec) } {
                    return Ok(Flow::Next);
                }
            }
            if ot.f32_regular {
                // Lane l's A value serves its four accumulators; B comes from two registers.
                let (av, bv) = regular_operands(w, a, b);
                let c = c as usize;
                let cregs: &[[u32; 32]; 4] = w.regs[c..c + 4].try_into().expect("four C registers");
                let mut res = [[0u32; 32]; 4];
                let special = otc_numerics::dot1_f32_v100_rows_host(&av, &bv, cregs, &mut res).map(|s| s[0] as u32);
                for r in 0..4 {
                    let mut m = special[r];
                    while m != 0 {
                        let l = m.trailing_zeros() as usize;
                        m &= m - 1;
                        res[r][l] = dot1_f32(arith, av[l], bv[r][l], cregs[r][l]);
                    }
                }
                for (r, o) in res.iter().enumerate() {
                    w.write(d + r as u16, o, exec);
                }
                return Ok(Flow::Next);
            }
            let t = &ot.e[0];
            let (mut av, mut bv, mut cv) = ([0u16; 128], [0u16; 128], [0u32; 128]);
            for r in 0..4 {
                cv[32 * r..32 * r + 32].copy_from_slice(&w.regs[c as usize + r]);
            }
            for (l, te) in t.iter().enumerate() {
                for e in te {
                    let j = 32 * e.reg as usize + l;
                    av[j] = own_half(w, a, l, e.a);
                    bv[j] = own_half(w, b, l, e.b);
                }
            }
            let mut res = [0u32; 128];
            let special = otc_numerics::dot1_f32_v100_lanes_host(&av, &bv, &cv, &mut res);
            for (word, &bits) in special.iter().enumerate() {
                let mut m = bits;
                while m != 0 {
                    let j = 64 * word + m.trailing_zeros() as usize;
                    m &= m - 1;
                    res[j] = dot1_f32(arith, av[j], bv[j], cv[j]);
                }
            }
            for r in 0..4 {
                let o: &[u32; 32] = res[32 * r..32 * r + 32].try_into().expect("32 lanes");
                w.write(d + r as u16, o, exec);
            }
        }
        TensorOp::Ohmma { d, a, b, c, f32: false } if arith == TensorArith::V100 => {
            // All 128 fp16 products of the warp at once, lanes outside `exec` computed and not
            // written (element j = 4 * l + n: lane l's n-th accumulator element).
            let ot = otables();
            let [ai, bi, ci] = &ot.f16_idx;
            #[cfg(target_arch = "x86_64")]
            if super::level() == super::Level::Avx512 {
                // SAFETY: the AVX-512 level includes AVX-512F/BW (checked on the host by `level`).
                if unsafe { f16_fused_avx512(w, [d, a, b, c], exec, &[*ai], &[*bi], ci, &ot.f16_d_idx) } {
                    return Ok(Flow::Next);
                }
            }
            #[cfg(target_arch = "x86_64")]
            if super::level() == super::Level::Avx2 {
                // SAFETY: the AVX2 level includes AVX2 and F16C (checked on the host by `level`).
                if unsafe { fused_avx2::ohmma_f16(w, [d, a, b, c], exec) } {
                    return Ok(Flow::Next);
                }
            }
            let [av] = gather_pair(pair(w, a), &[*ai]);
            let [bv] = gather_pair(pair(w, b), &[*bi]);
            let [cv] = gather_pair(pair(w, c), &[*ci]);
            let mut res = [0u16; 128];
            let special = otc_numerics::dot1_f16_v100_lanes_host(&av, &bv, &cv, &mut res);
            fix_special(special, &mut res, |j| dot1_f16(arith, av[j], bv[j], cv[j]));
            // D in the pair's half order, then written as two registers
            let mut dh = [0u16; 128];
            for j in 0..128 {
                dh[ci[j] as usize & 127] = res[j];
            }
            for r in 0..2 {
                let o: [u32; 32] =
                    std::array::from_fn(|l| u32::from(dh[64 * r + 2 * l]) | u32::from(dh[64 * r + 2 * l + 1]) << 16);
                w.write(d + r as u16, &o, exec);
            }
        }
        TensorOp::Ohmma { d, a, b, c, f32 } => {
            let t = &otables().e[if f32 { 0 } else { 1 }];
            if f32 {
                let mut out = [[0u32; 32]; 4];
                for l in lanes(exec) {
                    for e in &t[l] {
                        let av = own_half(w, a, l, e.a);
                        let bv = own_half(w, b, l, e.b);
                        let cv = w.regs[c as usize + e.reg as usize][l];
                        out[e.reg as usize][l] = dot1_f32(arith, av, bv, cv);
                    }
                }
                for (i, o) in out.iter().enumerate() {
                    w.write(d + i as u16, o, exec);
                }
            } else {
                let mut out = [[0u32; 32]; 2];
                for l in lanes(exec) {
                    for e in &t[l] {
                        let av = own_half(w, a, l, e.a);
                        let bv = own_half(w, b, l, e.b);
                        let cv = own_half(w, c, l, (e.reg, e.half));
                        let r = dot1_f16(arith, av, bv, cv) as u32;
                        out[e.reg as usize][l] |= r << (16 * e.half as u32);
                    }
                }
                for (i, o) in out.iter().enumerate() {
                    w.write(d + i as u16, o, exec);
                }
            }
        }
        TensorOp::OhmmaSp { a, b, m, n, buf } => sparse_ohmma(w, arith, exec, a, b, m, n, buf)?,
        TensorOp::SpwmmaSeq { a, b, buf } => {
            // The sequencer: the OHMMAs of the predicated set whose guards (set from the POPC
            // counts of the bitmaps) would hold, in the predicated sequence's order (n, then m).
            let Some((abm, bbm)) = ready(w, exec, "sequenced SpWMMA", buf)?.bitmaps else {
                return sparse_ohmma(w, arith, exec, a, b, 0, 0, buf).map(|_| Flow::Next);
                // the missing-bitmaps fault
            };
            let (na, nb) = (abm.count_ones(), bbm.count_ones());
            for n in 0..2u8 {
                for m in 0..4u8 {
                    if na > 8 * m as u32 && nb > 16 * n as u32 {
                        sparse_ohmma(w, arith, exec, a + 2 * m as u16, b + 2 * n as u16, m, n, buf)?;
                    }
                }
            }
        }
        TensorOp::AccbClear { buf } => match &mut w.accb[buf as usize] {
            Some(b) => {
                b.data = [0; 1024];
                b.bitmaps = None;
            }
            slot @ None => *slot = Some(Box::new(AccBuffer { data: [0; 1024], bitmaps: None })),
        },
        TensorOp::AccbBmap { a, b, buf } => {
            let l0 = exec.trailing_zeros() as usize;
            let (a0, b0) = (w.lane(a, l0), w.lane(b, l0));
            let mut differ = 0u32;
            for l in lanes(exec) {
                if w.lane(a, l) != a0 || w.lane(b, l) != b0 {
                    differ |= 1 << l;
                }
            }
            if differ != 0 {
                let l1 = differ.trailing_zeros() as usize;
                return Err(fault(
                    w,
                    differ,
                    FaultKind::NonUniformOperand,
                    format!(
                        "ACCB.BMAP bitmaps must be the same in every active lane: lane {l0} has a = {a0:#010x}, b = {b0:#010x}, but lane {l1} has a = {:#010x}, b = {:#010x} (lanes {differ:#010x} differ from lane {l0})",
                        w.lane(a, l1),
                        w.lane(b, l1)
                    ),
                    None,
                ));
            }
            // On a buffer that was never cleared this has no effect: the clear that must come
            // before any sparse OHMMA forgets the bitmaps anyway.
            if let Some(b) = &mut w.accb[buf as usize] {
                b.bitmaps = Some((a0, b0));
            }
        }
        TensorOp::AccbMov { d, q, buf } => {
            let buf = ready(w, exec, "ACCB.MOV", buf)?;
            let mut out = [[0u32; 32]; 8];
            for l in lanes(exec) {
                let row = 8 * q as usize + l / 4;
                for (i, o) in out.iter_mut().enumerate() {
                    o[l] = buf.data[row * 32 + 8 * (l % 4) + i];
                }
            }
            for (i, o) in out.iter().enumerate() {
                w.write(d + i as u16, o, exec);
            }
        }
        TensorOp::AccbShared { base, off, load, buf: index } => {
            let what = if load { "ACCB.LDS" } else { "ACCB.STS" };
            let addr_of = |l: usize| w.lane_address(base, false, off, l);
            let l0 = exec.trailing_zeros() as usize;
            let addr = addr_of(l0);
            let mut differ = 0u32;
            for l in lanes(exec) {
                if addr_of(l) != addr {
                    differ |= 1 << l;
                }
            }
            if differ != 0 {
                let l1 = differ.trailing_zeros() as usize;
                return Err(fault(
                    w,
                    differ,
                    FaultKind::NonUniformOperand,
                    format!(
                        "{what} needs the same address in every active lane: lane {l0} has {addr:#x}, lane {l1} has {:#x} (lanes {differ:#010x} differ from lane {l0})",
                        addr_of(l1)
                    ),
                    Some(addr),
                ));
            }
            if !addr.is_multiple_of(4) {
                return Err(fault(
                    w,
                    exec,
                    FaultKind::Misaligned(MemorySpace::Shared),
                    format!("{what} of 4096 bytes at shared {addr:#x} is not 4-byte aligned"),
                    Some(addr),
                ));
            }
            let len = x.shared.len() as u64;
            if addr + 4096 > len {
                return Err(fault(
                    w,
                    exec,
                    FaultKind::OutOfBounds(MemorySpace::Shared),
                    format!(
                        "{what} of 4096 bytes at shared {addr:#x} runs past the CTA's {len} bytes of shared memory"
                    ),
                    Some(addr),
                ));
            }
            let a = addr as usize;
            let mem = &mut x.shared[a..a + 4096];
            if load {
                let mut data = [0u32; 1024];
                for (v, c) in data.iter_mut().zip(mem.chunks_exact(4)) {
                    *v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
                // loading counts as a clear: the bitmaps are forgotten
                w.accb[index as usize] = Some(Box::new(AccBuffer { data, bitmaps: None }));
            } else {
                let buf = ready(w, exec, "ACCB.STS", index)?;
                for (v, c) in buf.data.iter().zip(mem.chunks_exact_mut(4)) {
                    c.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        _ => {}
    }
    Ok(Flow::Next)
}

/// A sparse-mode fp32 OHMMA in the regular layout with the accumulators delivered in vectors: per
/// 16 lanes of a C register, the landing positions from the tile row and column tables and the
/// bitmaps' positions (`rowpos`, `colpos`: -1 where nothing lands), the accumulators gathered from
/// the buffer, the products added by the float step, the results scattered back after all 128 are
/// computed (the positions are distinct: each buffer element receives at most one product).
/// Returns `false`, having written nothing, when a landing product has an infinity or a NaN among
/// its inputs (the caller's general path does those).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
fn sparse_ohmma_fused_avx512(
    data: &mut [u32; 1024],
    a32: &[u16; 32],
    b32: &[[u16; 32]; 4],
    rowpos: &[i32; 16],
    colpos: &[i32; 16],
    ot: &OTables,
) -> bool {
    use otc_numerics::float_avx512::dot1_f32_x16;
    use std::arch::x86_64::*;
    let load16 = |x: &[i32]| {
        assert!(x.len() >= 16, "16 lanes");
        // SAFETY: 16 i32 (64 bytes), an unaligned load.
        unsafe { _mm512_loadu_si512(x.as_ptr() as *const __m512i) }
    };
    let halves16 = |x: &[u16]| {
        assert!(x.len() >= 16, "16 lanes");
        // SAFETY: 16 halves (32 bytes), an unaligned load.
        _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(x.as_ptr() as *const __m256i) })
    };
    let (rp, cp, zero) = (load16(rowpos), load16(colpos), _mm512_setzero_si512());
    let mut out = [(zero, 0 as __mmask16, zero); 8];
    let mut special = 0u16;
    for r in 0..4 {
        for h in 0..2 {
            let rv = _mm512_permutexvar_epi32(load16(&ot.sp_row[r][16 * h..]), rp);
            let cv = _mm512_permutexvar_epi32(load16(&ot.sp_col[r][16 * h..]), cp);
            let lands = _mm512_cmpge_epi32_mask(rv, zero) & _mm512_cmpge_epi32_mask(cv, zero);
            if lands == 0 {
                continue;
            }
            // row * 32 + column, below 1024 where the product lands
            let pos = _mm512_add_epi32(rv, cv);
            // SAFETY: the gathered lanes' positions are within the 1024-element buffer.
            let c = unsafe { _mm512_mask_i32gather_epi32::<4>(zero, lands, pos, data.as_ptr() as *const i32) };
            let (d, m) = dot1_f32_x16(halves16(&a32[16 * h..]), halves16(&b32[r][16 * h..]), c);
            special |= m & lands;
            out[2 * r + h] = (d, lands, pos);
        }
    }
    if special != 0 {
        return false;
    }
    for (d, lands, pos) in out {
        // SAFETY: as the gathers: positions within the buffer, distinct, masked by `lands`.
        unsafe { _mm512_mask_i32scatter_epi32::<4>(data.as_mut_ptr() as *mut i32, lands, pos, d) };
    }
    true
}

/// Where each tile row and column of the sparse OHMMA (m, n) lands in the accumulation buffer
/// under the bitmaps whose set bits are `rows` and `cols` (from [`bit_positions`]): `rowpos[row]`
/// = 32 x the row's bitmap position, `colpos[col]` = the column's, -1 where none lands (rows
/// 8..16 never do).
fn landing_positions(
    (rows, na): ([u8; 32], usize),
    (cols, nb): ([u8; 32], usize),
    m: u8,
    n: u8,
) -> ([i32; 16], [i32; 16]) {
    let rowpos = std::array::from_fn(|row| {
        let kk = 8 * m as usize + row;
        if row < 8 && kk < na {
            i32::from(rows[kk & 31]) * 32
        } else {
            -1
        }
    });
    let colpos = std::array::from_fn(|col| {
        let jj = 16 * n as usize + col;
        if jj < nb {
            i32::from(cols[jj & 31])
        } else {
            -1
        }
    });
    (rowpos, colpos)
}

/// One sparse-mode OHMMA (m, n) from the A pair at `a` and the B pair at `b`, gathered through the
/// buffer's bitmaps and accumulated at the landing positions (the sparse OHMMA and each OHMMA of a
/// sequenced SpWMMA), into accumulation buffer `buf`.
#[allow(clippy::too_many_arguments)]
fn sparse_ohmma(
    w: &mut Warp,
    arith: TensorArith,
    exec: u32,
    a: crate::op::R,
    b: crate::op::R,
    m: u8,
    n: u8,
    buf: u8,
) -> Result<(), crate::fault::RawFault> {
    let Some((abm, bbm)) = ready(w, exec, "sparse OHMMA", buf)?.bitmaps else {
        return Err(fault(
            w,
            exec,
            FaultKind::AccumulatorState,
            "sparse OHMMA without scatter bitmaps: no ACCB.BMAP since the last ACCB.CLEAR / ACCB.LDS".into(),
            None,
        ));
    };
    let (rows, na) = bit_positions(abm);
    let (cols, nb) = bit_positions(bbm);
    let ot = otables();
    // products landing: every (row, column) of the tile with a bitmap position (a few go through
    // the scalar path below, cheaper than eight vectors)
    #[cfg(target_arch = "x86_64")]
    let landing = (na.saturating_sub(8 * m as usize)).min(8) * (nb.saturating_sub(16 * n as usize)).min(16);
    #[cfg(target_arch = "x86_64")]
    if arith == TensorArith::V100 && landing > 8 && ot.f32_regular && super::level() != super::Level::Base {
        let (rowpos, colpos) = landing_positions((rows, na), (cols, nb), m, n);
        let done = if super::level() == super::Level::Avx512 {
            let (a32, b32) = regular_operands(w, a, b);
            let buf = w.accb[buf as usize].as_mut().expect("checked");
            // SAFETY: the AVX-512 level includes AVX-512F/BW (checked on the host by `level`).
            unsafe { sparse_ohmma_fused_avx512(&mut buf.data, &a32, &b32, &rowpos, &colpos, ot) }
        } else {
            // SAFETY: the AVX2 level includes AVX2 and F16C (checked on the host by `level`).
            unsafe { fused_avx2::sparse_ohmma(w, a, b, buf as usize, &rowpos, &colpos) }
        };
        if done {
            return Ok(());
        }
    }
    // Gather every landing product first (operands are read from all 32 lanes, active
    // or not), then accumulate: each buffer element receives at most one product.
    let (mut pos, mut av, mut bv) = ([0u16; 128], [0u16; 128], [0u16; 128]);
    let mut count = 0;
    // the lanes' A and B values in the regular layout, all at once
    let (a32, b32) = if ot.f32_regular { regular_operands(w, a, b) } else { ([0u16; 32], [[0u16; 32]; 4]) };
    for (l, te) in ot.e[0].iter().enumerate() {
        for e in te {
            let kk = 8 * m as usize + e.row as usize;
            let jj = 16 * n as usize + e.col as usize;
            if kk < na && jj < nb {
                pos[count] = rows[kk] as u16 * 32 + cols[jj] as u16;
                (av[count], bv[count]) = if ot.f32_regular {
                    (a32[l], b32[e.reg as usize & 3][l])
                } else {
                    (own_half(w, a, l, e.a), own_half(w, b, l, e.b))
                };
                count += 1;
            }
        }
    }
    let buf = w.accb[buf as usize].as_mut().expect("checked");
    if arith == TensorArith::V100 && count > 8 {
        // Distinct positions: the batch reads every accumulator before any is written.
        let mut cv = [0u32; 128];
        for j in 0..count {
            cv[j] = buf.data[pos[j] as usize & 1023];
        }
        let mut res = [0u32; 128];
        // the smallest batch that holds the products (the same bits at any size)
        let special = if count <= 32 {
            let (a, b, c, o) = (prefix(&av), prefix(&bv), prefix(&cv), prefix_mut(&mut res));
            otc_numerics::dot1_f32_v100_lanes_host::<32>(a, b, c, o)
        } else if count <= 64 {
            let (a, b, c, o) = (prefix(&av), prefix(&bv), prefix(&cv), prefix_mut(&mut res));
            otc_numerics::dot1_f32_v100_lanes_host::<64>(a, b, c, o)
        } else {
            otc_numerics::dot1_f32_v100_lanes_host(&av, &bv, &cv, &mut res)
        };
        for j in 0..count {
            buf.data[pos[j] as usize] =
                if special[j / 64] >> (j % 64) & 1 != 0 { dot1_f32(arith, av[j], bv[j], cv[j]) } else { res[j] };
        }
    } else {
        for j in 0..count {
            let p = pos[j] as usize;
            buf.data[p] = dot1_f32(arith, av[j], bv[j], buf.data[p]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ohmma_gathers_agree_with_the_fragment_tables() {
        let mut w = super::Warp::new(8, 0, u32::MAX, [[0; 32]; 3]);
        for r in 0..4 {
            for l in 0..32 {
                w.regs[r][l] = (0x1000 * r + 2 * l) as u32 | ((0x1000 * r + 2 * l + 1) as u32) << 16;
            }
        }
        let ot = super::otables();
        assert!(ot.f32_regular, "isa/otc.toml states the regular fp32 layout");
        let [av] = super::gather_pair(super::pair(&w, 0), &ot.a_idx);
        let bv = super::gather_pair(super::pair(&w, 2), &ot.b_idx);
        assert_eq!([av], super::gather_pair_scalar(super::pair(&w, 0), &ot.a_idx));
        assert_eq!(bv, super::gather_pair_scalar(super::pair(&w, 2), &ot.b_idx));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the host has AVX2 (checked).
            #[allow(unsafe_code)]
            let avx2 = unsafe { super::fused_avx2::regular_operands(&w, 0, 2) };
            assert_eq!(avx2, (av, bv), "the AVX2 gathers of the regular layout");
        }
        for (l, elems) in ot.e[0].iter().enumerate() {
            for e in elems {
                assert_eq!(av[l], super::own_half(&w, 0, l, e.a), "A of lane {l}");
                assert_eq!(bv[e.reg as usize][l], super::own_half(&w, 2, l, e.b), "B of lane {l}, register {}", e.reg);
            }
        }
        // fp16: element 4 l + n is lane l's n-th accumulator element (A, B and C/D places)
        let [a16, b16, c16] = super::gather_pair(super::pair(&w, 0), &ot.f16_idx);
        for (l, elems) in ot.e[1].iter().enumerate() {
            for (n, e) in elems.iter().enumerate() {
                assert_eq!(a16[4 * l + n], super::own_half(&w, 0, l, e.a), "fp16 A of lane {l}");
                assert_eq!(b16[4 * l + n], super::own_half(&w, 0, l, e.b), "fp16 B of lane {l}");
                assert_eq!(c16[4 * l + n], super::own_half(&w, 0, l, (e.reg, e.half)), "fp16 C of lane {l}");
            }
        }
    }

    #[test]
    fn hmma_gathers_agree_with_the_fragment_tables() {
        // Every gather table, on registers whose halves are all distinct: the vector gather (where
        // the host has it) and the scalar one give the half the fragment tables name.
        let mut w = super::Warp::new(8, 0, u32::MAX, [[0; 32]; 3]);
        for r in 0..4 {
            for l in 0..32 {
                w.regs[r][l] = (0x1000 * r + 2 * l) as u32 | ((0x1000 * r + 2 * l + 1) as u32) << 16;
            }
        }
        let t = super::tables();
        for ac in 0..2 {
            for bc in 0..2 {
                for step in 0..4 {
                    let g = &super::gathers().f32[ac][bc][step];
                    let (av, bv) =
                        (super::gather_pair(super::pair(&w, 0), &g.a), super::gather_pair(super::pair(&w, 2), &g.b));
                    assert_eq!(av, super::gather_pair_scalar(super::pair(&w, 0), &g.a));
                    assert_eq!(bv, super::gather_pair_scalar(super::pair(&w, 2), &g.b));
                    for r in 0..2 {
                        for l in 0..32 {
                            let q = (l % 16) / 4;
                            let (row, col) = t.d32[l][2 * step + r];
                            for kk in 0..4 {
                                assert_eq!(av[kk][32 * r + l], super::half_of(&w, 0, t.a[ac][q][row as usize][kk]));
                                assert_eq!(bv[kk][32 * r + l], super::half_of(&w, 2, t.b[bc][q][kk][col as usize]));
                            }
                        }
                    }
                    if step >= 2 {
                        continue;
                    }
                    // fp16 accumulators: element 32 i + l is lane l's result i of the STEP
                    let g = &super::gathers().f16[ac][bc][step];
                    let (av, bv) =
                        (super::gather_pair(super::pair(&w, 0), &g.a), super::gather_pair(super::pair(&w, 2), &g.b));
                    for i in 0..4 {
                        for l in 0..32 {
                            let q = (l % 16) / 4;
                            let (row, col) = t.d16[l][4 * step + i];
                            for kk in 0..4 {
                                assert_eq!(av[kk][32 * i + l], super::half_of(&w, 0, t.a[ac][q][row as usize][kk]));
                                assert_eq!(bv[kk][32 * i + l], super::half_of(&w, 2, t.b[bc][q][kk][col as usize]));
                            }
                        }
                    }
                }
            }
        }
    }

    use super::*;

    /// A tensor instruction family with a fused path: the dense fp32 / fp16 OHMMA, an fp32 / fp16
    /// HMMA.884 STEP (A layout, B layout, STEP).
    #[derive(Clone, Copy, Debug)]
    enum Fused {
        OhmmaF32,
        OhmmaF16,
        HmmaF32(usize, usize, usize),
        HmmaF16(usize, usize, usize),
    }

    impl Fused {
        fn all() -> Vec<Fused> {
            let mut v = vec![Fused::OhmmaF32, Fused::OhmmaF16];
            v.extend((0..16).map(|i| Fused::HmmaF32(i & 1, i >> 1 & 1, i >> 2)));
            v.extend((0..8).map(|i| Fused::HmmaF16(i & 1, i >> 1 & 1, i >> 2)));
            v
        }

        fn d_regs(self) -> usize {
            if matches!(self, Fused::OhmmaF32) {
                4
            } else {
                2
            }
        }
    }

    /// The D registers the scalar reference gives for `kind` on the warp `old` (lanes outside
    /// `exec` keep `old`'s values), element by element through the fragment tables (not the
    /// gather tables the fast paths use), and whether an element has an infinity or a NaN among
    /// its inputs.
    fn reference(kind: Fused, old: &Warp, [d, a, b, c]: [u16; 4], exec: u32) -> (Vec<[u32; 32]>, bool) {
        let (ot, t) = (otables(), tables());
        let h16 = |h: u16| h & 0x7c00 == 0x7c00;
        let f32_special = |x: u32| x & 0x7f80_0000 == 0x7f80_0000;
        let mut want = old.regs[d as usize..d as usize + kind.d_regs()].to_vec();
        let mut special = false;
        let mut put = |reg: usize, l: usize, half: Option<usize>, v: u32| {
            if exec >> l & 1 == 1 {
                let r = &mut want[reg][l];
                *r = match half {
                    None => v,
                    Some(h) => (*r & !(0xffff << (16 * h))) | v << (16 * h),
                };
            }
        };
        match kind {
            Fused::OhmmaF32 | Fused::OhmmaF16 => {
                let f32 = matches!(kind, Fused::OhmmaF32);
                for (l, te) in ot.e[if f32 { 0 } else { 1 }].iter().enumerate() {
                    for e in te {
                        let (x, y) = (own_half(old, a, l, e.a), own_half(old, b, l, e.b));
                        special |= h16(x) | h16(y);
                        if f32 {
                            let z = old.regs[c as usize + e.reg as usize][l];
                            special |= f32_special(z);
                            put(e.reg as usize, l, None, dot1_f32(TensorArith::V100, x, y, z));
                        } else {
                            let z = own_half(old, c, l, (e.reg, e.half));
                            special |= h16(z);
                            let r = u32::from(dot1_f16(TensorArith::V100, x, y, z));
                            put(e.reg as usize, l, Some(e.half as usize), r);
                        }
                    }
                }
            }
            Fused::HmmaF32(ac, bc, step) | Fused::HmmaF16(ac, bc, step) => {
                let f32 = matches!(kind, Fused::HmmaF32(..));
                for l in 0..32 {
                    let q = (l % 16) / 4;
                    for i in 0..if f32 { 2 } else { 4 } {
                        let (row, col) = if f32 { t.d32[l][2 * step + i] } else { t.d16[l][4 * step + i] };
                        let av: [u16; 4] = std::array::from_fn(|k| half_of(old, a, t.a[ac][q][row as usize][k]));
                        let bv: [u16; 4] = std::array::from_fn(|k| half_of(old, b, t.b[bc][q][k][col as usize]));
                        special |= av.iter().chain(&bv).any(|&h| h16(h));
                        if f32 {
                            let z = old.regs[c as usize + i][l];
                            special |= f32_special(z);
                            put(i, l, None, dot4_f32(TensorArith::V100, av, bv, z));
                        } else {
                            let z = (old.regs[c as usize + i / 2][l] >> (16 * (i % 2))) as u16;
                            special |= h16(z);
                            put(i / 2, l, Some(i % 2), u32::from(dot4_f16(TensorArith::V100, av, bv, z)));
                        }
                    }
                }
            }
        }
        (want, special)
    }

    /// Two corner-biased finite fp16 values (zeros, subnormals, near the overflow, about 1) from
    /// random bits, as one register.
    fn corner_halves(x: u64, y: u64) -> u32 {
        let h = |x: u64| -> u32 {
            let sign = ((x >> 20) & 1) as u32 * 0x8000;
            sign | match x % 8 {
                0 => 0,
                1 => (x >> 8) as u32 & 0x3ff,
                2 => 0x7800 | (x >> 8) as u32 & 0x3ff,
                _ => ((12 + (x >> 24) % 8) as u32) << 10 | (x >> 8) as u32 & 0x3ff,
            }
        };
        h(x) | h(y) << 16
    }

    /// The vector sparse OHMMAs of every level the host has (whatever `OTC_SIM_ISA` says) against
    /// the scalar accumulation through the fragment tables: random bitmaps (from no landing
    /// product to 128), every (m, n), corner-biased operands and accumulators, 1 round in 6 with an
    /// infinity or a NaN among the operands or accumulators, which must write nothing if a landing
    /// product meets it. As in [`check_fused_paths`], a path may decline other rounds (AVX-512:
    /// accumulators of 2^114 and more) but must take 9 in 10 of those without special values.
    #[test]
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    fn fused_sparse_ohmma_equals_the_scalar_reference() {
        use std::arch::is_x86_feature_detected as has;
        type Path = fn(&mut Warp, &[i32; 16], &[i32; 16]) -> bool;
        let mut levels: Vec<(&str, Path)> = Vec::new();
        if has!("avx512f") && has!("avx512bw") {
            levels.push(("avx512", |w, rowpos, colpos| {
                let (a32, b32) = regular_operands(w, 0, 2);
                let data = &mut w.accb[0].as_mut().expect("a buffer").data;
                // SAFETY: the host has AVX-512F/BW (checked above).
                unsafe { sparse_ohmma_fused_avx512(data, &a32, &b32, rowpos, colpos, otables()) }
            }));
        }
        if has!("avx2") && has!("f16c") {
            // SAFETY: the host has AVX2 and F16C (checked above).
            levels.push(("avx2", |w, rowpos, colpos| unsafe { fused_avx2::sparse_ohmma(w, 0, 2, 0, rowpos, colpos) }));
        }
        let mut s = 0x7f4a_7c15_9e37_79b9u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let ot = otables();
        for (level, path) in levels {
            let (mut taken, mut finite) = (0, 0);
            for round in 0..3000 {
                let mut w = Warp::new(4, 0, u32::MAX, [[0; 32]; 3]);
                for r in 0..4 {
                    for l in 0..32 {
                        w.regs[r][l] = corner_halves(next(), next());
                    }
                }
                let mut data: [u32; 1024] = std::array::from_fn(|_| corner_halves(next(), next()));
                let special = round % 6 == 5;
                if special {
                    let x = next();
                    if x >> 40 & 1 == 0 {
                        w.regs[(x % 4) as usize][(x >> 8) as usize % 32] |= 0x7c00 << (16 * ((x >> 16) & 1)) as u32;
                    } else {
                        data[(x >> 8) as usize % 1024] = 0xff80_0000;
                    }
                }
                // bitmaps from empty to full, (m, n) over every group
                let dense = |x: u64| match x % 4 {
                    0 => x as u32 & (x >> 32) as u32,
                    1 => x as u32,
                    2 => x as u32 | (x >> 32) as u32,
                    _ => u32::MAX,
                };
                let (abm, bbm, m, n) = (dense(next()), dense(next()), (round % 4) as u8, (round / 4 % 2) as u8);
                let ((rows, na), (cols, nb)) = (bit_positions(abm), bit_positions(bbm));
                let (mut want, mut any_special) = (data, false);
                for (l, te) in ot.e[0].iter().enumerate() {
                    for e in te {
                        let (kk, jj) = (8 * m as usize + e.row as usize, 16 * n as usize + e.col as usize);
                        if kk < na && jj < nb {
                            let pos = rows[kk] as usize * 32 + cols[jj] as usize;
                            let (x, y) = (own_half(&w, 0, l, e.a), own_half(&w, 2, l, e.b));
                            any_special |= [x, y].iter().any(|&h| h & 0x7c00 == 0x7c00);
                            any_special |= data[pos] & 0x7f80_0000 == 0x7f80_0000;
                            want[pos] = dot1_f32(TensorArith::V100, x, y, data[pos]);
                        }
                    }
                }
                w.accb[0] = Some(Box::new(AccBuffer { data, bitmaps: Some((abm, bbm)) }));
                let (rowpos, colpos) = landing_positions((rows, na), (cols, nb), m, n);
                let done = path(&mut w, &rowpos, &colpos);
                let got = &w.accb[0].as_ref().expect("a buffer").data;
                if any_special {
                    assert!(!done, "{level} round {round}: special inputs, yet written");
                } else {
                    finite += 1;
                }
                if done {
                    taken += 1;
                    assert!(got == &want, "{level} round {round}: m={m} n={n} abm={abm:#x} bbm={bbm:#x}");
                } else {
                    assert!(got == &data, "{level} round {round}: declined, yet written");
                }
            }
            assert!(10 * taken >= 9 * finite, "{level}: took {taken} of {finite} rounds without special values");
        }
    }

    /// Checks a level's fused paths (`fused(kind, warp, [d, a, b, c], exec)`, `false` = wrote
    /// nothing) against [`reference`] on corner-biased finite values (zeros, subnormals, sums near
    /// the fp16 overflow, cancellations), D over C, over A and B, and apart, random exec masks; 1
    /// round in 6 with an infinity or a NaN among the operands, which must write nothing. A path
    /// may also decline other rounds (the AVX-512 fp32 steps flag accumulators of 2^114 and more),
    /// but must take at least 9 in 10 of the rounds without special values.
    fn check_fused_paths(level: &str, fused: impl Fn(Fused, &mut Warp, [u16; 4], u32) -> bool) {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let kinds = Fused::all();
        let mut taken = vec![0usize; kinds.len()];
        let mut finite_rounds = 0;
        for round in 0..200 {
            let special = round % 6 == 5;
            let mut w = Warp::new(12, 0, u32::MAX, [[0; 32]; 3]);
            for r in 0..12 {
                for l in 0..32 {
                    w.regs[r][l] = corner_halves(next(), next());
                }
            }
            if special {
                let x = next();
                if x >> 40 & 1 == 0 {
                    w.regs[(x % 8) as usize][(x >> 8) as usize % 32] |= 0x7c00 << (16 * ((x >> 16) & 1)) as u32;
                } else {
                    // an fp32 infinity among the accumulators (an fp16 NaN in its high half)
                    w.regs[4 + (x % 4) as usize][(x >> 8) as usize % 32] = 0xff80_0000;
                }
            } else {
                finite_rounds += 1;
            }
            let exec = if round % 7 == 0 { u32::MAX } else { next() as u32 | 1 };
            let before = w.regs.clone();
            let old = Warp { regs: before.clone(), ..Warp::new(12, 0, u32::MAX, [[0; 32]; 3]) };
            for (ki, &kind) in kinds.iter().enumerate() {
                for (d, c) in [(8u16, 4u16), (4, 4), (0, 4)] {
                    let regs = [d, 0, 2, c];
                    w.regs.clone_from(&before);
                    let done = fused(kind, &mut w, regs, exec);
                    let (want, any_special) = reference(kind, &old, regs, exec);
                    let n = kind.d_regs();
                    let span = d as usize..d as usize + n;
                    if any_special {
                        assert!(!done, "{level} {kind:?} round {round}: special inputs, yet written");
                    }
                    if done {
                        taken[ki] += 1;
                        assert_eq!(&w.regs[span], &want[..], "{level} {kind:?} round {round} d={d} c={c}");
                    } else {
                        assert_eq!(w.regs, before, "{level} {kind:?} round {round}: declined, yet written");
                    }
                }
            }
        }
        for (kind, n) in kinds.iter().zip(taken) {
            assert!(
                10 * n >= 9 * 3 * finite_rounds,
                "{level} {kind:?}: took {n} of {} finite rounds",
                3 * finite_rounds
            );
        }
    }

    /// The fused paths of every vector level the host has (whatever `OTC_SIM_ISA` says) against
    /// the scalar reference through the fragment tables.
    #[test]
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    fn fused_paths_equal_the_scalar_reference() {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512bw") {
            let (ot, gs) = (otables(), gathers());
            check_fused_paths("avx512", |kind, w, regs, exec| {
                // SAFETY: the host has AVX-512F/BW (checked above).
                unsafe {
                    match kind {
                        Fused::OhmmaF32 => ohmma_f32_fused_avx512(w, regs, exec, &ot.a_idx[0]),
                        Fused::OhmmaF16 => {
                            let [ai, bi, ci] = &ot.f16_idx;
                            f16_fused_avx512(w, regs, exec, &[*ai], &[*bi], ci, &ot.f16_d_idx)
                        }
                        Fused::HmmaF32(ac, bc, step) => hmma_f32_fused_avx512(w, regs, exec, &gs.f32[ac][bc][step]),
                        Fused::HmmaF16(ac, bc, step) => {
                            let g = &gs.f16[ac][bc][step];
                            f16_fused_avx512(w, regs, exec, &g.a, &g.b, &gs.c16, &gs.d16)
                        }
                    }
                }
            });
        }
        if has!("avx2") && has!("f16c") {
            check_fused_paths("avx2", |kind, w, regs, exec| {
                // SAFETY: the host has AVX2 and F16C (checked above).
                unsafe {
                    match kind {
                        Fused::OhmmaF32 => fused_avx2::ohmma_f32(w, regs, exec),
                        Fused::OhmmaF16 => fused_avx2::ohmma_f16(w, regs, exec),
                        Fused::HmmaF32(ac, bc, step) => {
                            fused_avx2::hmma_f32(w, regs, exec, ac == 1, bc == 1, step as u8)
                        }
                        Fused::HmmaF16(ac, bc, step) => {
                            fused_avx2::hmma_f16(w, regs, exec, ac == 1, bc == 1, step as u8)
                        }
                    }
                }
            });
        }
    }

    /// The batches as the simulator calls them (the AVX2 build where the host has it) give the
    /// scalar reference's bits, special values included.
    #[test]
    fn lane_batches_equal_the_scalar_dot_steps() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        for round in 0..2000 {
            // Half the rounds with exponents near each other (cancellation), half raw bits.
            let h = |x: u64| -> u16 {
                if round % 2 == 0 {
                    x as u16
                } else {
                    (x as u16 & 0x83ff) | (((12 + (x >> 20) % 8) as u16) << 10)
                }
            };
            let a: [u16; 128] = std::array::from_fn(|_| h(next()));
            let b: [u16; 128] = std::array::from_fn(|_| h(next()));
            let c: [u32; 128] = std::array::from_fn(|i| {
                let x = next();
                if x % 3 == 0 {
                    x as u32
                } else {
                    (-(f32::from_bits(((a[i] as u32) << 13) ^ 0x3800_0000))).to_bits() ^ (x as u32 & 7)
                }
            });
            let mut out = [0u32; 128];
            let special = otc_numerics::dot1_f32_v100_lanes_host(&a, &b, &c, &mut out);
            for i in 0..128 {
                if special[i / 64] >> (i % 64) & 1 == 0 {
                    assert_eq!(
                        out[i],
                        dot1_f32(TensorArith::V100, a[i], b[i], c[i]),
                        "{:#x} {:#x} {:#x}",
                        a[i],
                        b[i],
                        c[i]
                    );
                }
            }
            let qa: [[u16; 64]; 4] = std::array::from_fn(|k| std::array::from_fn(|j| a[(j + 32 * k) % 128]));
            let qb: [[u16; 64]; 4] = std::array::from_fn(|k| std::array::from_fn(|j| b[(j + 16 * k) % 128]));
            let qc: [u32; 64] = std::array::from_fn(|j| c[j]);
            let mut out4 = [0u32; 64];
            let special = otc_numerics::dot4_f32_v100_lanes_host(&qa, &qb, &qc, &mut out4);
            for j in 0..64 {
                let (av, bv) = (std::array::from_fn(|k| qa[k][j]), std::array::from_fn(|k| qb[k][j]));
                if special[0] >> j & 1 == 0 {
                    assert_eq!(out4[j], dot4_f32(TensorArith::V100, av, bv, qc[j]), "{av:?} {bv:?} {:#x}", qc[j]);
                }
            }
        }
    }
}
