//! Warp-wide instructions: SHFL, VOTE, MATCH. They read the lanes that execute them (the
//! running group with the guard true); a lane outside that set is an inactive source.

use crate::decode::{OpKind, ShflMode};
use crate::state::{lanes, Warp};

/// Source lane and validity of `SHFL` for lane `l` (PTX `shfl.sync` semantics).
#[inline(always)]
pub(crate) fn shfl_source(mode: ShflMode, l: u32, b: u32, c: u32) -> (u32, bool) {
    let b = b & 0x1f;
    let clamp = c & 0x1f;
    let seg = (c >> 8) & 0x1f;
    let min_lane = l & seg;
    let max_lane = min_lane | (clamp & !seg);
    let (j, valid) = match mode {
        ShflMode::Up => {
            let j = l as i32 - b as i32;
            (j, j >= max_lane as i32)
        }
        ShflMode::Down => {
            let j = (l + b) as i32;
            (j, j <= max_lane as i32)
        }
        ShflMode::Bfly => {
            let j = (l ^ b) as i32;
            (j, j <= max_lane as i32)
        }
        ShflMode::Idx => {
            let j = (min_lane | (b & !seg)) as i32;
            (j, j <= max_lane as i32)
        }
    };
    if valid && (0..32).contains(&j) {
        (j as u32, true)
    } else {
        (l, false)
    }
}

#[inline(always)]
pub(super) fn exec(w: &mut Warp, k: &OpKind, exec: u32) {
    match *k {
        OpKind::Shfl { p, d, a, b, c, mode } => {
            let av = w.read(a);
            let (bv, cv) = (w.read(b), w.read(c));
            let mut out = [0u32; 32];
            let mut pm = 0u32;
            for l in lanes(exec) {
                let (j, valid) = shfl_source(mode, l as u32, bv[l], cv[l]);
                if valid && (exec >> j) & 1 != 0 {
                    out[l] = av[j as usize];
                    pm |= 1 << l;
                } else {
                    out[l] = av[l];
                }
            }
            w.write(d, &out, exec);
            w.write_pred(p, pm, exec);
        }
        OpKind::Vote { d, p, a, mode } => {
            let ballot = w.pred(a.i, a.not) & exec;
            let r = match mode {
                0 => ballot == exec,
                1 => ballot != 0,
                _ => ballot == 0 || ballot == exec,
            };
            w.write(d, &[ballot; 32], exec);
            w.write_pred(p, if r { u32::MAX } else { 0 }, exec);
        }
        OpKind::Match { p, d, a, wide, all } => {
            let lo = w.regs[a as usize];
            let hi = if wide { w.regs[a as usize + 1] } else { [0; 32] };
            let key = |l: usize| ((hi[l] as u64) << 32) | lo[l] as u64;
            let mut out = [0u32; 32];
            if all {
                let first = key(exec.trailing_zeros() as usize);
                let same = lanes(exec).all(|l| key(l) == first);
                let v = if same { exec } else { 0 };
                out = [v; 32];
                w.write_pred(p, if same { u32::MAX } else { 0 }, exec);
            } else {
                for l in lanes(exec) {
                    let k = key(l);
                    let mut m = 0u32;
                    for j in lanes(exec) {
                        if key(j) == k {
                            m |= 1 << j;
                        }
                    }
                    out[l] = m;
                }
                w.write_pred(p, 0, exec);
            }
            w.write(d, &out, exec);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const SHFL_CASES: &[(ShflMode, u32, u32, u32, u32, bool)] = &[
        // (mode, lane, b, c, source lane, valid)
        (ShflMode::Idx, 5, 3, 0x1f, 3, true),
        (ShflMode::Idx, 5, 35, 0x1f, 3, true),       // b uses 5 bits
        (ShflMode::Up, 5, 3, 0, 2, true),
        (ShflMode::Up, 2, 3, 0, 2, false),
        (ShflMode::Down, 5, 3, 0x1f, 8, true),
        (ShflMode::Down, 30, 3, 0x1f, 30, false),
        (ShflMode::Bfly, 5, 1, 0x1f, 4, true),
        (ShflMode::Bfly, 5, 16, 0x1f, 21, true),
        // width 8 (segment mask 0x18, clamp 0x1f): c = 0x181f
        (ShflMode::Down, 5, 2, 0x181f, 7, true),
        (ShflMode::Down, 6, 2, 0x181f, 6, false),
        (ShflMode::Idx, 13, 2, 0x181f, 10, true),
        (ShflMode::Up, 9, 2, 0x1800, 9, false),
        (ShflMode::Up, 10, 2, 0x1800, 8, true),
        (ShflMode::Bfly, 13, 4, 0x181f, 9, true),
    ];

    #[test]
    fn shfl_sources() {
        for &(mode, l, b, c, j, valid) in SHFL_CASES {
            assert_eq!(shfl_source(mode, l, b, c), (j, valid), "{mode:?} lane {l} b {b} c {c:#x}");
        }
    }
}
