//! Integer instructions: IMAD (all forms), IADD3, LEA, SHF, LOP3, PLOP3, ISETP, SEL, PRMT,
//! IABS, IMNMX, VABSDIFF, POPC, FLO, BREV, BMSK, P2R, R2P, MOV, S2R, CS2R, IDP.
//!
//! Carry semantics follow the hardware's literal two's complement: a negated source `-x`
//! contributes `!x + 1` to a 34-bit sum, so `IADD3 R0, P0, R1, -R2, RZ` sets P0 when R1 >= R2
//! (no borrow), and the first / second carry-out predicates are set when the sum reaches 2^32 /
//! 2^33.

use crate::decode::{BopEval, ICmp, ISrc, OpKind, Sr, Src, P_SINK};
use crate::memory::GlobalMem;
use crate::state::{mask_of, Scratch, Warp, FULL};

use super::Exec;

/// Source value with `~` applied (the register itself when there is nothing to apply).
#[inline(always)]
fn ival<'a>(w: &'a Warp, s: ISrc, tmp: &'a mut Scratch) -> &'a [u32; 32] {
    if !s.not {
        return w.src(s.s, tmp);
    }
    let t = tmp.put([0; 32]);
    match s.s {
        Src::R(r) => {
            let v = &w.regs[r as usize];
            for l in 0..32 {
                t[l] = !v[l];
            }
        }
        Src::I(x) => *t = [!x; 32],
    }
    t
}

/// Source value with `~` and `-` applied (plain arithmetic).
#[inline(always)]
fn ival_neg<'a>(w: &'a Warp, s: ISrc, tmp: &'a mut Scratch) -> &'a [u32; 32] {
    if !s.neg {
        return ival(w, s, tmp);
    }
    let t = tmp.put([0; 32]);
    match s.s {
        Src::R(r) => {
            let v = &w.regs[r as usize];
            if s.not {
                for l in 0..32 {
                    t[l] = (!v[l]).wrapping_neg();
                }
            } else {
                for l in 0..32 {
                    t[l] = v[l].wrapping_neg();
                }
            }
        }
        Src::I(x) => *t = [if s.not { !x } else { x }.wrapping_neg(); 32],
    }
    t
}

/// Scratch slots for immediate / modified sources.
type Tmp = [Scratch; 4];

/// Contribution of a source to a carry-producing sum.
#[inline(always)]
fn contrib(w: &Warp, s: ISrc) -> [u64; 32] {
    let mut t = Scratch::new();
    let v = w.src(s.s, &mut t);
    let mut out = [0u64; 32];
    for l in 0..32 {
        out[l] = if s.neg {
            (!v[l]) as u64 + 1
        } else if s.not {
            (!v[l]) as u64
        } else {
            v[l] as u64
        };
    }
    out
}

/// Three-input logic by lookup table.
#[inline(always)]
pub(crate) fn lop3(a: u32, b: u32, c: u32, lut: u8) -> u32 {
    let mut r = 0u32;
    if lut & 0x01 != 0 {
        r |= !a & !b & !c;
    }
    if lut & 0x02 != 0 {
        r |= !a & !b & c;
    }
    if lut & 0x04 != 0 {
        r |= !a & b & !c;
    }
    if lut & 0x08 != 0 {
        r |= !a & b & c;
    }
    if lut & 0x10 != 0 {
        r |= a & !b & !c;
    }
    if lut & 0x20 != 0 {
        r |= a & !b & c;
    }
    if lut & 0x40 != 0 {
        r |= a & b & !c;
    }
    if lut & 0x80 != 0 {
        r |= a & b & c;
    }
    r
}

/// PRMT of one lane.
pub(crate) fn prmt(a: u32, sel: u32, c: u32, mode: u8) -> u32 {
    let bytes = ((c as u64) << 32) | a as u64;
    let byte = |i: u32| ((bytes >> (8 * (i & 7))) & 0xff) as u32;
    if mode == 0 {
        let mut r = 0u32;
        for i in 0..4 {
            let s = (sel >> (4 * i)) & 0xf;
            let mut v = byte(s & 7);
            if s & 8 != 0 {
                v = if v & 0x80 != 0 { 0xff } else { 0 };
            }
            r |= v << (8 * i);
        }
        return r;
    }
    let s = sel & 3;
    let idx: [u32; 4] = match mode {
        // (byte 0, byte 1, byte 2, byte 3) of the result
        1 => [s, s + 1, s + 2, s + 3],                                             // F4E
        2 => [s, (s + 7) & 7, (s + 6) & 7, (s + 5) & 7],                           // B4E
        3 => [s; 4],                                                               // RC8
        4 => [[0, 1, 2, 3], [1, 1, 2, 3], [2, 2, 2, 3], [3, 3, 3, 3]][s as usize], // ECL
        5 => [[0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 2, 2], [0, 1, 2, 3]][s as usize], // ECR
        _ => [[0, 1, 0, 1], [2, 3, 2, 3], [0, 1, 0, 1], [2, 3, 2, 3]][s as usize], // RC16
    };
    let mut r = 0u32;
    for (i, &b) in idx.iter().enumerate() {
        r |= byte(b) << (8 * i);
    }
    r
}

/// Special register value of lane `l`.
pub(crate) fn sreg<G: GlobalMem>(w: &Warp, x: &Exec<'_, '_, G>, sr: Sr, l: usize) -> u64 {
    let e = x.env;
    let lt = (1u32 << l) - 1;
    let le = if l == 31 { FULL } else { (2u32 << l) - 1 };
    match sr {
        Sr::LaneId => l as u64,
        Sr::ClockLo => x.clock,
        Sr::ClockHi => x.clock >> 32,
        Sr::SmId => e.smid as u64,
        Sr::TidX => w.tid[0][l] as u64,
        Sr::TidY => w.tid[1][l] as u64,
        Sr::TidZ => w.tid[2][l] as u64,
        Sr::CtaIdX => e.ctaid[0] as u64,
        Sr::CtaIdY => e.ctaid[1] as u64,
        Sr::CtaIdZ => e.ctaid[2] as u64,
        Sr::EqMask => 1u64 << l,
        Sr::LtMask => lt as u64,
        Sr::LeMask => le as u64,
        Sr::GtMask => !le as u64,
        Sr::GeMask => !lt as u64,
        Sr::Zero => 0,
        Sr::Tid => (w.tid[0][l] | (w.tid[1][l] << 16) | (w.tid[2][l] << 26)) as u64,
        Sr::NTid => (e.ntid[0] | (e.ntid[1] << 16) | (e.ntid[2] << 26)) as u64,
        Sr::WarpId => w.id as u64,
        Sr::NWarpId => 64,
        Sr::NSmId => e.nsm as u64,
        Sr::GridId => e.grid_id as u64,
        Sr::VirtId => ((e.smid as u64) << 8) | w.id as u64,
        Sr::GTimerLo => (x.clock * 32) & 0xffff_ffff,
        Sr::GTimerHi => (x.clock * 32) >> 32,
        Sr::RegAlloc => e.num_regs as u64,
        Sr::SharedSize => e.shared_bytes as u64,
    }
}

#[inline(always)]
fn map1(a: &[u32; 32], f: impl Fn(u32) -> u32) -> [u32; 32] {
    let mut out = [0u32; 32];
    for l in 0..32 {
        out[l] = f(a[l]);
    }
    out
}

#[inline(always)]
fn map2(a: &[u32; 32], b: &[u32; 32], f: impl Fn(u32, u32) -> u32) -> [u32; 32] {
    let mut out = [0u32; 32];
    for l in 0..32 {
        out[l] = f(a[l], b[l]);
    }
    out
}

#[inline(always)]
fn map3(a: &[u32; 32], b: &[u32; 32], c: &[u32; 32], f: impl Fn(u32, u32, u32) -> u32) -> [u32; 32] {
    let mut out = [0u32; 32];
    for l in 0..32 {
        out[l] = f(a[l], b[l], c[l]);
    }
    out
}

/// Lane mask of a comparison of two vectors (vectorisable).
#[inline(always)]
fn cmp_mask(a: &[u32; 32], b: &[u32; 32], f: impl Fn(u32, u32) -> bool) -> u32 {
    mask_of(|l| f(a[l], b[l]))
}

#[inline(always)]
pub(super) fn exec<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, k: &OpKind, exec: u32) {
    let mut t: Tmp = [Scratch::new(), Scratch::new(), Scratch::new(), Scratch::new()];
    let [t0, t1, t2, t3] = &mut t;
    match *k {
        OpKind::Mov { d, a } => {
            let v = *w.src(a, t0);
            w.write(d, &v, exec);
        }
        OpKind::Imad { d, a, b, c, hi, signed, ci } => {
            let (av, bv, cv) = (ival_neg(w, a, t0), ival_neg(w, b, t1), ival_neg(w, c, t2));
            let carry = ci.map(|p| w.pred(p.i, p.not)).unwrap_or(0);
            let mut out = [0u32; 32];
            for l in 0..32 {
                let prod = if !hi {
                    av[l].wrapping_mul(bv[l])
                } else if signed {
                    ((av[l] as i32 as i64 * bv[l] as i32 as i64) >> 32) as u32
                } else {
                    ((av[l] as u64 * bv[l] as u64) >> 32) as u32
                };
                out[l] = prod.wrapping_add(cv[l]).wrapping_add((carry >> l) & 1);
            }
            w.write(d, &out, exec);
        }
        OpKind::ImadWide { d, p, a, b, clo, chi, signed, ci } => {
            let (av, bv) = (ival_neg(w, a, t0), ival_neg(w, b, t1));
            let (cl, ch) = (w.src(clo, t2), w.src(chi, t3));
            let cin = ci.map_or(0, |c| w.pred(c.i, c.not));
            let mut lo = [0u32; 32];
            let mut hi = [0u32; 32];
            let mut carry = 0u32;
            for l in 0..32 {
                let prod = if signed {
                    (av[l] as i32 as i64).wrapping_mul(bv[l] as i32 as i64) as u64
                } else {
                    av[l] as u64 * bv[l] as u64
                };
                let (r, c) = prod.overflowing_add(((ch[l] as u64) << 32) | cl[l] as u64);
                let (r, c2) = r.overflowing_add((cin >> l & 1) as u64);
                let c = c | c2;
                lo[l] = r as u32;
                hi[l] = (r >> 32) as u32;
                carry |= (c as u32) << l;
            }
            w.write(d, &lo, exec);
            w.write(d + 1, &hi, exec);
            if p != P_SINK {
                w.write_pred(p, carry, exec);
            }
        }
        OpKind::Iadd3 { d, p, q, a, b, c, ci, cj } => {
            if p == P_SINK && q == P_SINK {
                // no carry out: plain 32-bit arithmetic
                let (av, bv, cv) = (ival_neg(w, a, t0), ival_neg(w, b, t1), ival_neg(w, c, t2));
                let (c0, c1) = (w.pred(ci.i, ci.not), w.pred(cj.i, cj.not));
                let mut out = [0u32; 32];
                if c0 | c1 == 0 {
                    for l in 0..32 {
                        out[l] = av[l].wrapping_add(bv[l]).wrapping_add(cv[l]);
                    }
                } else {
                    for l in 0..32 {
                        out[l] = av[l]
                            .wrapping_add(bv[l])
                            .wrapping_add(cv[l])
                            .wrapping_add((c0 >> l) & 1)
                            .wrapping_add((c1 >> l) & 1);
                    }
                }
                w.write(d, &out, exec);
                return;
            }
            let (av, bv, cv) = (contrib(w, a), contrib(w, b), contrib(w, c));
            let (c0, c1) = (w.pred(ci.i, ci.not), w.pred(cj.i, cj.not));
            let mut out = [0u32; 32];
            let (mut pm, mut qm) = (0u32, 0u32);
            for l in 0..32 {
                let s = av[l] + bv[l] + cv[l] + ((c0 >> l) & 1) as u64 + ((c1 >> l) & 1) as u64;
                out[l] = s as u32;
                pm |= ((s >= 1 << 32) as u32) << l;
                qm |= ((s >= 2 << 32) as u32) << l;
            }
            w.write(d, &out, exec);
            w.write_pred(p, pm, exec);
            w.write_pred(q, qm, exec);
        }
        OpKind::Lea { d, p, a, b, c, s, hi, sx, ci } => {
            let av = w.src(a.s, t0);
            let bv = w.src(b, t1);
            let cv = match c {
                Some(c) => w.src(c, t2),
                None => t2.put([0; 32]),
            };
            let carry = ci.map(|p| w.pred(p.i, p.not)).unwrap_or(0);
            let mut out = [0u32; 32];
            let mut pm = 0u32;
            for l in 0..32 {
                let mut sr = if hi {
                    let high = if sx { ((av[l] as i32) >> 31) as u32 } else { cv[l] };
                    let x = ((high as u64) << 32) | av[l] as u64;
                    (x >> (32 - s)) as u32
                } else {
                    av[l] << s
                };
                let mut ov = false;
                if a.not {
                    sr = !sr;
                }
                if a.neg {
                    if ci.is_some() {
                        sr = !sr;
                    } else {
                        let (v, o) = (!sr).overflowing_add(1);
                        sr = v;
                        ov |= o;
                    }
                }
                let (v, o) = sr.overflowing_add(bv[l]);
                ov |= o;
                let (v, o) = v.overflowing_add((carry >> l) & 1);
                ov |= o;
                out[l] = v;
                pm |= (ov as u32) << l;
            }
            w.write(d, &out, exec);
            w.write_pred(p, pm, exec);
        }
        OpKind::Shf { d, lo, n, hi, right, wrap, wide, signed, high } => {
            let (lv, nv, hv) = (w.src(lo, t0), w.src(n, t1), w.src(hi, t2));
            let bits = if wide { 64 } else { 32 };
            let mut out = [0u32; 32];
            if let Src::I(k) = n {
                // a constant shift below 64: one vector shift, no per-lane range checks
                let sh = if wrap { k & (bits - 1) } else { k.min(bits) };
                if sh < 64 {
                    for l in 0..32 {
                        let x = ((hv[l] as u64) << 32) | lv[l] as u64;
                        let r = match (right, signed) {
                            (true, true) => ((x as i64) >> sh) as u64,
                            (true, false) => x >> sh,
                            (false, _) => x << sh,
                        };
                        out[l] = if high { (r >> 32) as u32 } else { r as u32 };
                    }
                    w.write(d, &out, exec);
                    return;
                }
            }
            for l in 0..32 {
                let sh = if wrap { nv[l] & (bits - 1) } else { nv[l].min(bits) };
                let x = ((hv[l] as u64) << 32) | lv[l] as u64;
                let r = if right {
                    if signed {
                        ((x as i64).checked_shr(sh).unwrap_or((x as i64) >> 63)) as u64
                    } else {
                        x.checked_shr(sh).unwrap_or(0)
                    }
                } else {
                    x.checked_shl(sh).unwrap_or(0)
                };
                out[l] = if high { (r >> 32) as u32 } else { r as u32 };
            }
            w.write(d, &out, exec);
        }
        OpKind::Lop3 { d, p, a, b, c, lut } => {
            let (av, bv, cv) = (ival(w, a, t0), ival(w, b, t1), ival(w, c, t2));
            let mut out = [0u32; 32];
            for l in 0..32 {
                out[l] = lop3(av[l], bv[l], cv[l], lut);
            }
            let pm = mask_of(|l| out[l] != 0);
            w.write(d, &out, exec);
            w.write_pred(p, pm, exec);
        }
        OpKind::Plop3 { p, q, a, b, c, lut, lut2 } => {
            let (am, bm, cm) = (w.pred(a.i, a.not), w.pred(b.i, b.not), w.pred(c.i, c.not));
            let (pm, qm) = (lop3(am, bm, cm, lut), lop3(am, bm, cm, lut2));
            w.write_pred(p, pm, exec);
            w.write_pred(q, qm, exec);
        }
        OpKind::Isetp { p, q, a, b, c, e, cmp, signed, bop } => {
            let (av, bv) = (w.src(a, t0), w.src(b, t1));
            let cm = w.pred(c.i, c.not);
            let em = e.map(|e| w.pred(e.i, e.not));
            let constant = matches!(cmp, ICmp::F | ICmp::T);
            let mut r = match (cmp, signed) {
                (ICmp::F, _) => 0,
                (ICmp::T, _) => u32::MAX,
                (ICmp::Eq, _) => cmp_mask(av, bv, |x, y| x == y),
                (ICmp::Ne, _) => cmp_mask(av, bv, |x, y| x != y),
                (ICmp::Lt, true) => cmp_mask(av, bv, |x, y| (x as i32) < (y as i32)),
                (ICmp::Le, true) => cmp_mask(av, bv, |x, y| (x as i32) <= (y as i32)),
                (ICmp::Gt, true) => cmp_mask(av, bv, |x, y| (x as i32) > (y as i32)),
                (ICmp::Ge, true) => cmp_mask(av, bv, |x, y| (x as i32) >= (y as i32)),
                (ICmp::Lt, false) => cmp_mask(av, bv, |x, y| x < y),
                (ICmp::Le, false) => cmp_mask(av, bv, |x, y| x <= y),
                (ICmp::Gt, false) => cmp_mask(av, bv, |x, y| x > y),
                (ICmp::Ge, false) => cmp_mask(av, bv, |x, y| x >= y),
            };
            if let (Some(em), false) = (em, constant) {
                // .EX: where the high words are equal the low-word result decides
                let eq = cmp_mask(av, bv, |x, y| x == y);
                r = (r & !eq) | (em & eq);
            }
            w.write_pred(p, bop.eval(r, cm), exec);
            w.write_pred(q, bop.eval(!r, cm), exec);
        }
        OpKind::Sel { d, a, b, c } => {
            let m = w.pred(c.i, c.not);
            let (av, bv) = (w.src(a, t0), w.src(b, t1));
            let mut out = [0u32; 32];
            for l in 0..32 {
                out[l] = if (m >> l) & 1 != 0 { av[l] } else { bv[l] };
            }
            w.write(d, &out, exec);
        }
        OpKind::Prmt { d, a, b, c, mode } => {
            let (av, bv, cv) = (w.src(a, t0), w.src(b, t1), w.src(c, t2));
            let out = map3(av, bv, cv, |a, b, c| prmt(a, b, c, mode));
            w.write(d, &out, exec);
        }
        OpKind::Iabs { d, a } => {
            let av = w.src(a, t0);
            let out = map1(av, |a| (a as i32).unsigned_abs());
            w.write(d, &out, exec);
        }
        OpKind::Imnmx { d, a, b, c, signed } => {
            let m = w.pred(c.i, c.not);
            let (av, bv) = (w.src(a, t0), w.src(b, t1));
            let mut out = [0u32; 32];
            for l in 0..32 {
                let min = (m >> l) & 1 != 0;
                out[l] = match (min, signed) {
                    (true, true) => (av[l] as i32).min(bv[l] as i32) as u32,
                    (false, true) => (av[l] as i32).max(bv[l] as i32) as u32,
                    (true, false) => av[l].min(bv[l]),
                    (false, false) => av[l].max(bv[l]),
                };
            }
            w.write(d, &out, exec);
        }
        OpKind::Vabsdiff { d, a, b, c, signed } => {
            let (av, bv, cv) = (w.src(a, t0), w.src(b, t1), w.src(c, t2));
            let out = map3(av, bv, cv, |a, b, c| {
                let diff =
                    if signed { (a as i32 as i64 - b as i32 as i64).unsigned_abs() as u32 } else { a.abs_diff(b) };
                diff.wrapping_add(c)
            });
            w.write(d, &out, exec);
        }
        OpKind::Popc { d, a } => {
            let av = ival(w, a, t0);
            let out = map1(av, |a| a.count_ones());
            w.write(d, &out, exec);
        }
        OpKind::Flo { d, a, signed, sh } => {
            let av = ival(w, a, t0);
            let out = map1(av, |a| {
                let x = if signed && (a as i32) < 0 { !a } else { a };
                if x == 0 {
                    u32::MAX
                } else {
                    let idx = 31 - x.leading_zeros();
                    if sh {
                        31 - idx
                    } else {
                        idx
                    }
                }
            });
            w.write(d, &out, exec);
        }
        OpKind::Brev { d, a } => {
            let av = w.src(a, t0);
            let out = map1(av, |a| a.reverse_bits());
            w.write(d, &out, exec);
        }
        OpKind::Sgxt { d, a, b, unsigned } => {
            let (av, bv) = (w.src(a, t0), w.src(b, t1));
            let out = map2(av, bv, |a, b| match b {
                0 => 0,
                32.. => a,
                _ if unsigned => a & ((1u32 << b) - 1),
                _ => (((a << (32 - b)) as i32) >> (32 - b)) as u32,
            });
            w.write(d, &out, exec);
        }
        OpKind::Bmsk { d, a, b, wrap } => {
            let (av, bv) = (w.src(a, t0), w.src(b, t1));
            let out = map2(av, bv, |a, b| {
                let (a, b) = if wrap { (a & 31, b & 31) } else { (a.min(32), b.min(32)) };
                (((1u64 << b) - 1) << a) as u32
            });
            w.write(d, &out, exec);
        }
        OpKind::P2r { d, a, mask, byte } => {
            let av = w.src(a, t0);
            let shift = 8 * byte as u32;
            let field = mask << shift;
            let mut out = [0u32; 32];
            for (l, o) in out.iter_mut().enumerate() {
                let mut pr = 0u32;
                for i in 0..7 {
                    pr |= ((w.preds[i] >> l) & 1) << i;
                }
                *o = ((pr << shift) & field) | (av[l] & !field);
            }
            w.write(d, &out, exec);
        }
        OpKind::R2p { a, mask, byte } => {
            let av = *w.src(a, t0);
            let shift = 8 * byte as u32;
            for i in 0..7u8 {
                if (mask >> i) & 1 != 0 {
                    let m = mask_of(|l| (av[l] >> (shift + i as u32)) & 1 != 0);
                    w.write_pred(i, m, exec);
                }
            }
        }
        OpKind::S2r { d, sr } => {
            let mut out = [0u32; 32];
            for (l, o) in out.iter_mut().enumerate() {
                *o = sreg(w, x, sr, l) as u32;
            }
            w.write(d, &out, exec);
        }
        OpKind::Cs2r { d, sr, pair } => {
            let mut lo = [0u32; 32];
            let mut hi = [0u32; 32];
            for l in 0..32 {
                let v = match sr {
                    Sr::ClockLo => x.clock,
                    s => sreg(w, x, s, l),
                };
                lo[l] = v as u32;
                hi[l] = (v >> 32) as u32;
            }
            w.write(d, &lo, exec);
            if pair {
                w.write(d + 1, &hi, exec);
            }
        }
        OpKind::Idp { d, a, b, c, four, hi, asig, a16, bsig } => {
            let (av, bv, cv) = (w.src(a, t0), w.src(b, t1), w.src(c, t2));
            let out = map3(av, bv, cv, |a, b, c| {
                let bb = |i: u32| -> i32 {
                    let v = (b >> (8 * i)) & 0xff;
                    if bsig {
                        v as u8 as i8 as i32
                    } else {
                        v as i32
                    }
                };
                let mut acc = c as i32;
                if four {
                    for i in 0..4 {
                        let v = (a >> (8 * i)) & 0xff;
                        let av = if asig { v as u8 as i8 as i32 } else { v as i32 };
                        acc = acc.wrapping_add(av.wrapping_mul(bb(i)));
                    }
                } else {
                    let base = if hi { 2 } else { 0 };
                    for i in 0..2 {
                        let v = (a >> (16 * i)) & 0xffff;
                        let av = if a16 {
                            if asig {
                                v as u16 as i16 as i32
                            } else {
                                v as i32
                            }
                        } else if asig {
                            (v & 0xff) as u8 as i8 as i32
                        } else {
                            (v & 0xff) as i32
                        };
                        acc = acc.wrapping_add(av.wrapping_mul(bb(base + i)));
                    }
                }
                acc as u32
            });
            w.write(d, &out, exec);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lop3_tables() {
        let (a, b, c) = (0xf0f0_f0f0u32, 0xcccc_ccccu32, 0xaaaa_aaaau32);
        assert_eq!(lop3(a, b, c, 0xc0), a & b);
        assert_eq!(lop3(a, b, c, 0xfc), a | b);
        assert_eq!(lop3(a, b, c, 0x3c), a ^ b);
        assert_eq!(lop3(a, b, c, 0x96), a ^ b ^ c);
        assert_eq!(lop3(a, b, c, 0xe2), (a & b) | (c & !b));
        assert_eq!(lop3(a, b, c, 0xd8), (a & !c) | (b & c));
        assert_eq!(lop3(a, b, c, 0x33), !b);
        for lut in 0..=255u8 {
            // bit i of the result = bit ((a<<2)|(b<<1)|c) of lut
            let r = lop3(a, b, c, lut);
            for i in 0..32 {
                let idx = (((a >> i) & 1) << 2) | (((b >> i) & 1) << 1) | ((c >> i) & 1);
                assert_eq!((r >> i) & 1, ((lut as u32) >> idx) & 1);
            }
        }
    }

    #[test]
    fn lane_masks() {
        let want = (0..32).fold(0u32, |m, i| m | ((((i * 7) % 3 == 0) as u32) << i));
        assert_eq!(mask_of(|i| (i * 7) % 3 == 0), want);
        assert_eq!(mask_of(|_| true), u32::MAX);
        assert_eq!(mask_of(|i| i == 31), 1 << 31);
        assert_eq!(mask_of(|i| i == 15 || i == 16), 3 << 15);
    }

    #[test]
    fn prmt_modes() {
        // default selector: PRMT R8, R8, 0xba98, RZ sign-replicates each byte
        assert_eq!(prmt(0x0080_7f81, 0xba98, 0, 0), 0x00ff_00ff);
        assert_eq!(prmt(0x4433_2211, 0x3210, 0x8877_6655, 0), 0x4433_2211);
        assert_eq!(prmt(0x4433_2211, 0x7654, 0x8877_6655, 0), 0x8877_6655);
        assert_eq!(prmt(0x4433_2211, 0x0123, 0, 0), 0x1122_3344);
        assert_eq!(prmt(0x4433_2211, 1, 0x8877_6655, 1), 0x5544_3322); // F4E
        assert_eq!(prmt(0x4433_2211, 2, 0, 3), 0x3333_3333); // RC8
        assert_eq!(prmt(0x4433_2211, 1, 0, 6), 0x4433_4433); // RC16
    }
}
