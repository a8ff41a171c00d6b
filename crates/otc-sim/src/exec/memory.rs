//! Memory instructions: LDG/STG (64-bit addresses), LDS/STS (CTA shared memory), LDL/STL
//! (per-thread local memory), LDC (constant banks with a register index) and the atomics
//! ATOMG/RED/ATOMS.
//!
//! Every lane's address is checked before anything is read or written: an unmapped or
//! out-of-range address, or one that is not a multiple of the access size, faults the whole
//! instruction (the fault names every faulting lane and the first address) with no partial
//! effect. Atomics of one instruction are applied lane by lane in ascending lane order.

use crate::config::{CONST_BANK_BYTES, CONST_WINDOW, LOCAL_WINDOW, SHARED_WINDOW, WINDOW_BYTES};
use crate::decode::{AtomOp, AtomTy, MSize, OpKind, Space, R};
use crate::fault::{FaultKind, MemorySpace, RawFault};
use crate::fp::{self, Rnd, F16, F64};
use crate::memory::GlobalMem;
use crate::state::{lanes, Warp};

use super::{fault, ExResult, Exec, Flow};

/// Addresses of the lanes of `exec`.
#[inline(always)]
fn addresses(w: &Warp, base: R, wide: bool, off: i32) -> [u64; 32] {
    std::array::from_fn(|l| w.lane_address(base, wide, off, l))
}

/// Check the lanes' addresses; `valid(addr, len)` tells whether `[addr, addr + len)` is in
/// range. Fast path: every address aligned and the span from the lowest to the highest access
/// valid as a whole (inside one allocation / the window), checked once.
#[inline(always)]
fn check(
    w: &Warp,
    exec: u32,
    addr: &[u64; 32],
    size: usize,
    space: MemorySpace,
    mut valid: impl FnMut(u64, usize) -> bool,
) -> Result<(), RawFault> {
    // over all 32 lanes with the others masked out, reduced by halving trees (vector code, no
    // per-lane branches)
    let (mut lo, mut hi, mut or) = ([u64::MAX; 32], [0u64; 32], [0u64; 32]);
    for (l, &a) in addr.iter().enumerate() {
        let on = exec & (1 << l) != 0;
        lo[l] = if on { a } else { u64::MAX };
        hi[l] = if on { a } else { 0 };
        or[l] = if on { a } else { 0 };
    }
    let mut h = 16;
    while h > 0 {
        for i in 0..h {
            lo[i] = lo[i].min(lo[i + h]);
            hi[i] = hi[i].max(hi[i + h]);
            or[i] |= or[i + h];
        }
        h /= 2;
    }
    let (lo, hi, bits) = (lo[0], hi[0], or[0]);
    if bits.is_multiple_of(size as u64) {
        if let Some(span) = (hi - lo).checked_add(size as u64) {
            if span <= u32::MAX as u64 && valid(lo, span as usize) {
                return Ok(());
            }
        }
    }
    check_lanes(w, exec, addr, size, space, valid)
}

/// `check` for a window of `len` bytes from address 0 (shared memory, a thread's local memory,
/// a constant bank).
#[inline(always)]
fn check_window(
    w: &Warp,
    exec: u32,
    addr: &[u64; 32],
    size: usize,
    space: MemorySpace,
    len: u64,
) -> Result<(), RawFault> {
    check(w, exec, addr, size, space, |a, n| a.checked_add(n as u64).is_some_and(|e| e <= len))
}

#[inline(never)]
fn check_lanes(
    w: &Warp,
    exec: u32,
    addr: &[u64; 32],
    size: usize,
    space: MemorySpace,
    mut valid: impl FnMut(u64, usize) -> bool,
) -> Result<(), RawFault> {
    let mut mis = 0u32;
    let mut oob = 0u32;
    for l in lanes(exec) {
        if !addr[l].is_multiple_of(size as u64) {
            mis |= 1 << l;
        } else if !valid(addr[l], size) {
            oob |= 1 << l;
        }
    }
    if mis != 0 {
        let l = mis.trailing_zeros() as usize;
        return Err(fault(
            w,
            mis,
            FaultKind::Misaligned(space),
            format!("{size}-byte {space} access at {:#x} (lane {l}) is not {size}-byte aligned", addr[l]),
            Some(addr[l]),
        ));
    }
    if oob != 0 {
        let l = oob.trailing_zeros() as usize;
        let what = match space {
            MemorySpace::Global => "is not inside an allocation".to_string(),
            _ => "is out of range".to_string(),
        };
        return Err(fault(
            w,
            oob,
            FaultKind::OutOfBounds(space),
            format!("{size}-byte {space} access at {:#x} (lane {l}) {what}", addr[l]),
            Some(addr[l]),
        ));
    }
    Ok(())
}

/// Little-endian value of up to 16 bytes into 4 words.
#[inline(always)]
fn load_words(bytes: &[u8], size: MSize) -> [u32; 4] {
    let mut r = [0u32; 4];
    match size {
        MSize::U8 => r[0] = bytes[0] as u32,
        MSize::S8 => r[0] = bytes[0] as i8 as i32 as u32,
        MSize::U16 => r[0] = u16::from_le_bytes([bytes[0], bytes[1]]) as u32,
        MSize::S16 => r[0] = i16::from_le_bytes([bytes[0], bytes[1]]) as i32 as u32,
        _ => {
            for (i, c) in bytes.chunks_exact(4).enumerate() {
                r[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
    }
    r
}

#[inline(always)]
fn store_words(dst: &mut [u8], w: &[u32; 4], size: MSize) {
    match size {
        MSize::U8 | MSize::S8 => dst[0] = w[0] as u8,
        MSize::U16 | MSize::S16 => dst.copy_from_slice(&(w[0] as u16).to_le_bytes()),
        _ => {
            for (i, c) in dst.chunks_exact_mut(4).enumerate() {
                c.copy_from_slice(&w[i].to_le_bytes());
            }
        }
    }
}

/// Global loads of `W` words per lane into `out[0..W]` (the word count known at compile time).
#[inline(always)]
fn gather_words<const W: usize, G: GlobalMem>(g: &mut G, exec: u32, addr: &[u64; 32], out: &mut [[u32; 32]; 4]) {
    g.load_lanes(exec, addr, 4 * W, |l, bytes| {
        let b = &bytes[..4 * W];
        for r in 0..W {
            out[r][l] = u32::from_le_bytes([b[4 * r], b[4 * r + 1], b[4 * r + 2], b[4 * r + 3]]);
        }
    });
}

/// Loads of `W` words per lane from `mem` at byte `at(l)` into `out[0..W]` (bounds checked by the
/// caller; the slice indexing checks again).
#[inline(always)]
fn gather_slice<const W: usize>(mem: &[u8], exec: u32, at: impl Fn(usize) -> usize, out: &mut [[u32; 32]; 4]) {
    for l in lanes(exec) {
        let a = at(l);
        let b = &mem[a..a + 4 * W];
        for r in 0..W {
            out[r][l] = u32::from_le_bytes([b[4 * r], b[4 * r + 1], b[4 * r + 2], b[4 * r + 3]]);
        }
    }
}

/// Stores of `W` words per lane from registers `src..src + W` into `mem` at byte `at(l)`, in
/// ascending lane order.
#[inline(always)]
fn scatter_slice<const W: usize>(
    mem: &mut [u8],
    exec: u32,
    at: impl Fn(usize) -> usize,
    regs: &[[u32; 32]],
    src: usize,
) {
    let v = &regs[src..src + W];
    for l in lanes(exec) {
        let a = at(l);
        let b = &mut mem[a..a + 4 * W];
        for r in 0..W {
            b[4 * r..4 * r + 4].copy_from_slice(&v[r][l].to_le_bytes());
        }
    }
}

fn local_size<G: GlobalMem>(x: &Exec<'_, '_, G>) -> u64 {
    x.env.local_bytes as u64
}

fn ensure_local<G: GlobalMem>(w: &mut Warp, x: &Exec<'_, '_, G>) {
    let need = 32 * x.env.local_bytes as usize;
    if w.local.len() < need {
        w.local.resize(need, 0);
    }
}

/// The lanes of `exec` whose generic addresses lie in each space, with the addresses inside
/// that space (`config::SHARED_WINDOW`, `LOCAL_WINDOW`, `CONST_WINDOW`): only the spaces some
/// lane uses.
fn split_generic(exec: u32, addr: &[u64; 32]) -> impl Iterator<Item = (Space, u32, [u64; 32])> {
    let mut parts = [
        (Space::Global, 0u32, [0u64; 32]),
        (Space::Shared, 0, [0; 32]),
        (Space::Local, 0, [0; 32]),
        (Space::Const, 0, [0; 32]),
    ];
    for l in lanes(exec) {
        let a = addr[l];
        let (i, at) = if a.wrapping_sub(SHARED_WINDOW) < WINDOW_BYTES {
            (1, a - SHARED_WINDOW)
        } else if a.wrapping_sub(LOCAL_WINDOW) < WINDOW_BYTES {
            (2, a - LOCAL_WINDOW)
        } else if a.wrapping_sub(CONST_WINDOW) < CONST_BANK_BYTES as u64 {
            (3, a - CONST_WINDOW)
        } else {
            (0, a)
        };
        parts[i].1 |= 1 << l;
        parts[i].2[l] = at;
    }
    parts.into_iter().filter(|p| p.1 != 0)
}

/// Constant bank 3 as the generic window shows it (empty when the kernel has none).
fn const_bank<'b, G: GlobalMem>(x: &Exec<'b, '_, G>) -> &'b [u8] {
    x.banks.get(3).map(Vec::as_slice).unwrap_or(&[])
}

/// The fault of a store or atomic whose generic address lies in the read-only constant window.
fn const_write_fault(w: &Warp, exec: u32, addr: &[u64; 32], what: &str) -> RawFault {
    let l = exec.trailing_zeros() as usize;
    fault(
        w,
        exec,
        FaultKind::OutOfBounds(MemorySpace::Constant),
        format!(
            "{what} at {:#x} (lane {l}) lies in the __constant__ window (bank 3 at generic address {CONST_WINDOW:#x}), \
             which is read-only",
            CONST_WINDOW + addr[l]
        ),
        Some(CONST_WINDOW + addr[l]),
    )
}

/// Loads of the lanes of `exec` from the window `mem` (shared memory, constant bank 3) at the
/// offsets `addr`, checked against its length.
#[inline(always)]
fn load_window(
    w: &Warp,
    mem: &[u8],
    space: MemorySpace,
    addr: &[u64; 32],
    exec: u32,
    size: MSize,
    out: &mut [[u32; 32]; 4],
) -> Result<(), RawFault> {
    let n = size.bytes();
    check_window(w, exec, addr, n, space, mem.len() as u64)?;
    let at = |l: usize| addr[l] as usize;
    match size {
        MSize::B32 => gather_slice::<1>(mem, exec, at, out),
        MSize::B64 => gather_slice::<2>(mem, exec, at, out),
        MSize::B128 => gather_slice::<4>(mem, exec, at, out),
        _ => {
            for l in lanes(exec) {
                let a = addr[l] as usize;
                let v = load_words(&mem[a..a + n], size);
                for (r, o) in out.iter_mut().enumerate().take(size.regs()) {
                    o[l] = v[r];
                }
            }
        }
    }
    Ok(())
}

/// Loads of the lanes of `exec` from `space` at `addr` into `out` (registers of the lanes).
#[inline(always)]
fn load<G: GlobalMem>(
    w: &mut Warp,
    x: &mut Exec<'_, '_, G>,
    space: Space,
    addr: &[u64; 32],
    exec: u32,
    size: MSize,
    out: &mut [[u32; 32]; 4],
) -> Result<(), RawFault> {
    let n = size.bytes();
    let regs = size.regs();
    let addr = *addr;
    match space {
        Space::Global => {
            let g = &mut *x.global;
            check(w, exec, &addr, n, MemorySpace::Global, |a, len| g.mapped(a, len))?;
            match size {
                MSize::B32 => gather_words::<1, G>(g, exec, &addr, out),
                MSize::B64 => gather_words::<2, G>(g, exec, &addr, out),
                MSize::B128 => gather_words::<4, G>(g, exec, &addr, out),
                _ => g.load_lanes(exec, &addr, n, |l, bytes| {
                    let v = load_words(bytes, size);
                    for r in 0..regs {
                        out[r][l] = v[r];
                    }
                }),
            }
        }
        Space::Shared => load_window(w, x.shared, MemorySpace::Shared, &addr, exec, size, out)?,
        Space::Const => load_window(w, const_bank(x), MemorySpace::Constant, &addr, exec, size, out)?,
        Space::Local | Space::Generic => {
            let len = local_size(x);
            check_window(w, exec, &addr, n, MemorySpace::Local, len)?;
            ensure_local(w, x);
            for l in lanes(exec) {
                let a = l * len as usize + addr[l] as usize;
                let v = load_words(&w.local[a..a + n], size);
                for r in 0..regs {
                    out[r][l] = v[r];
                }
            }
        }
    }
    Ok(())
}

/// Stores of the lanes of `exec` from registers `src..` into `space` at `addr`, in ascending lane
/// order.
#[inline(always)]
fn store<G: GlobalMem>(
    w: &mut Warp,
    x: &mut Exec<'_, '_, G>,
    space: Space,
    addr: &[u64; 32],
    exec: u32,
    size: MSize,
    src: R,
) -> Result<(), RawFault> {
    let n = size.bytes();
    let regs = size.regs();
    let addr = *addr;
    let val = |w: &Warp, l: usize| -> [u32; 4] {
        let mut v = [0u32; 4];
        for (r, x) in v.iter_mut().enumerate().take(regs) {
            *x = w.regs[src as usize + r][l];
        }
        v
    };
    match space {
        Space::Global => {
            let g = &mut *x.global;
            check(w, exec, &addr, n, MemorySpace::Global, |a, len| g.mapped(a, len))?;
            for l in lanes(exec) {
                let v = val(w, l);
                store_words(g.store(addr[l], n).expect("checked"), &v, size);
            }
        }
        Space::Shared => {
            let len = x.shared.len() as u64;
            check_window(w, exec, &addr, n, MemorySpace::Shared, len)?;
            let at = |l: usize| addr[l] as usize;
            match size {
                MSize::B32 => scatter_slice::<1>(x.shared, exec, at, &w.regs, src as usize),
                MSize::B64 => scatter_slice::<2>(x.shared, exec, at, &w.regs, src as usize),
                MSize::B128 => scatter_slice::<4>(x.shared, exec, at, &w.regs, src as usize),
                _ => {
                    for l in lanes(exec) {
                        let a = addr[l] as usize;
                        let v = val(w, l);
                        store_words(&mut x.shared[a..a + n], &v, size);
                    }
                }
            }
        }
        Space::Const => return Err(const_write_fault(w, exec, &addr, &format!("{n}-byte store"))),
        Space::Local | Space::Generic => {
            let len = local_size(x);
            check_window(w, exec, &addr, n, MemorySpace::Local, len)?;
            ensure_local(w, x);
            for l in lanes(exec) {
                let a = l * len as usize + addr[l] as usize;
                let v = val(w, l);
                store_words(&mut w.local[a..a + n], &v, size);
            }
        }
    }
    Ok(())
}

#[inline(always)]
pub(super) fn exec<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, k: &OpKind, exec: u32) -> ExResult {
    match *k {
        OpKind::Ld { space, d, base, wide, off, size } => {
            let addr = addresses(w, base, wide, off);
            let regs = size.regs();
            let mut out = [[0u32; 32]; 4];
            if space == Space::Generic {
                for (space, lanes, addr) in split_generic(exec, &addr) {
                    load(w, x, space, &addr, lanes, size, &mut out)?;
                }
            } else {
                load(w, x, space, &addr, exec, size, &mut out)?;
            }
            for (r, o) in out.iter().enumerate().take(regs) {
                w.write(d + r as u16, o, exec);
            }
        }
        OpKind::St { space, base, wide, off, src, size } => {
            let addr = addresses(w, base, wide, off);
            if space == Space::Generic {
                for (space, lanes, addr) in split_generic(exec, &addr) {
                    store(w, x, space, &addr, lanes, size, src)?;
                }
            } else {
                store(w, x, space, &addr, exec, size, src)?;
            }
        }
        OpKind::Qspc { p, d, base, off, space } => {
            let addr = addresses(w, base, true, off);
            let mut bits = 0u32;
            for (sp, lanes, _) in split_generic(exec, &addr) {
                // `__constant__` data resides in device (global) memory (CUDA C++ Programming
                // Guide, "Device Memory Accesses"): its window counts as global
                if sp == space || (sp == Space::Const && space == Space::Global) {
                    bits |= lanes;
                }
            }
            w.write_pred(p, bits, exec);
            w.write(d, &[0u32; 32], exec);
        }
        OpKind::Ldc { d, bank, reg, off, size } => {
            let n = size.bytes();
            let regs = size.regs();
            let b = x.banks.get(bank as usize).map(Vec::as_slice).unwrap_or(&[]);
            let rv = w.regs[reg as usize];
            let mut addr = [0u64; 32];
            for l in 0..32 {
                addr[l] = rv[l] as u64 + off as u64;
            }
            let len = b.len() as u64;
            check_window(w, exec, &addr, n, MemorySpace::Constant, len)?;
            let mut out = [[0u32; 32]; 2];
            for l in lanes(exec) {
                let a = addr[l] as usize;
                let v = load_words(&b[a..a + n], size);
                for r in 0..regs {
                    out[r][l] = v[r];
                }
            }
            for (r, o) in out.iter().enumerate().take(regs) {
                w.write(d + r as u16, o, exec);
            }
        }
        OpKind::Atom { space, op, ty, d, base, off, b, c, ftz } => {
            let wide_addr = space != Space::Shared;
            let addr = addresses(w, base, wide_addr, off);
            let n = ty.bytes();
            let two = n == 8;
            let mut ret = [[0u32; 32]; 2];
            // a generic address (ATOM) runs each lane in the space its address lies in
            let generic = space == Space::Generic;
            let parts =
                split_generic(if generic { exec } else { 0 }, &addr).chain((!generic).then_some((space, exec, addr)));
            for (space, exec, addr) in parts {
                match space {
                    Space::Global => {
                        let g = &mut *x.global;
                        check(w, exec, &addr, n, MemorySpace::Global, |a, len| g.mapped(a, len))?;
                        for l in lanes(exec) {
                            let (bv, cv) = operands(w, b, c, two, l);
                            let cell = g.store(addr[l], n).expect("checked");
                            let old = read_le(cell);
                            let (new, r) = atom_apply(op, ty, old, bv, cv, ftz);
                            write_le(cell, new);
                            ret[0][l] = r as u32;
                            ret[1][l] = (r >> 32) as u32;
                        }
                    }
                    Space::Shared => {
                        let len = x.shared.len() as u64;
                        check_window(w, exec, &addr, n, MemorySpace::Shared, len)?;
                        for l in lanes(exec) {
                            let (bv, cv) = operands(w, b, c, two, l);
                            let a = addr[l] as usize;
                            let cell = &mut x.shared[a..a + n];
                            let old = read_le(cell);
                            let (new, r) = atom_apply(op, ty, old, bv, cv, ftz);
                            write_le(cell, new);
                            ret[0][l] = r as u32;
                            ret[1][l] = (r >> 32) as u32;
                        }
                    }
                    Space::Const => return Err(const_write_fault(w, exec, &addr, &format!("{n}-byte atomic"))),
                    Space::Local | Space::Generic => {
                        // no atomics on local memory: the lanes' addresses fault as outside it
                        check_window(w, exec, &addr, n, MemorySpace::Local, 0)?;
                    }
                }
            }
            if let Some(d) = d {
                let wide_ret = two && op != AtomOp::Cast;
                w.write(d, &ret[0], exec);
                if wide_ret {
                    w.write(d + 1, &ret[1], exec);
                }
            }
        }
        _ => {}
    }
    Ok(Flow::Next)
}

#[inline(always)]
fn operands(w: &Warp, b: R, c: R, two: bool, l: usize) -> (u64, u64) {
    let rd = |r: R| -> u64 {
        let lo = w.regs[r as usize][l] as u64;
        if two {
            lo | ((w.regs[r as usize + 1][l] as u64) << 32)
        } else {
            lo
        }
    };
    (rd(b), rd(c))
}

#[inline(always)]
fn read_le(b: &[u8]) -> u64 {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate() {
        v |= (x as u64) << (8 * i);
    }
    v
}

#[inline(always)]
fn write_le(b: &mut [u8], v: u64) {
    for (i, x) in b.iter_mut().enumerate() {
        *x = (v >> (8 * i)) as u8;
    }
}

/// Apply an atomic operation: returns (new memory value, value returned to the thread).
pub(crate) fn atom_apply(op: AtomOp, ty: AtomTy, old: u64, b: u64, c: u64, ftz: bool) -> (u64, u64) {
    let mask = if ty.bytes() == 8 { u64::MAX } else { 0xffff_ffff };
    let (old, b, c) = (old & mask, b & mask, c & mask);
    let signed = matches!(ty, AtomTy::S32 | AtomTy::S64);
    let sx = |v: u64| -> i64 {
        if ty.bytes() == 8 {
            v as i64
        } else {
            v as u32 as i32 as i64
        }
    };
    let new = match op {
        AtomOp::Add => match ty {
            AtomTy::F32 => {
                let (x, y) = if ftz { (fp::ftz32(old as u32), fp::ftz32(b as u32)) } else { (old as u32, b as u32) };
                let r = fp::fadd32(x, y, Rnd::Rn);
                (if ftz { fp::ftz32(r) } else { r }) as u64
            }
            AtomTy::F16x2 => {
                let mut r = 0u64;
                for i in 0..2 {
                    let (x, y) = ((old >> (16 * i)) & 0xffff, (b >> (16 * i)) & 0xffff);
                    r |= fp::add(x, y, &F16, &F16, Rnd::Rn) << (16 * i);
                }
                r
            }
            AtomTy::F64 => {
                let r = f64::from_bits(old) + f64::from_bits(b);
                if r.is_nan() {
                    F64.nan
                } else {
                    r.to_bits()
                }
            }
            _ => old.wrapping_add(b) & mask,
        },
        AtomOp::Min => {
            if signed {
                (sx(old).min(sx(b)) as u64) & mask
            } else {
                old.min(b)
            }
        }
        AtomOp::Max => {
            if signed {
                (sx(old).max(sx(b)) as u64) & mask
            } else {
                old.max(b)
            }
        }
        AtomOp::Inc => {
            if old >= b {
                0
            } else {
                old + 1
            }
        }
        AtomOp::Dec => {
            if old == 0 || old > b {
                b
            } else {
                old - 1
            }
        }
        AtomOp::And => old & b,
        AtomOp::Or => old | b,
        AtomOp::Xor => old ^ b,
        AtomOp::Exch => b,
        AtomOp::Cas | AtomOp::Cast => {
            if old == b {
                c
            } else {
                old
            }
        }
    };
    let ret = if op == AtomOp::Cast { (old == b) as u64 } else { old };
    (new, ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_semantics() {
        assert_eq!(atom_apply(AtomOp::Inc, AtomTy::U32, 9, 9, 0, false), (0, 9));
        assert_eq!(atom_apply(AtomOp::Inc, AtomTy::U32, 3, 9, 0, false), (4, 3));
        assert_eq!(atom_apply(AtomOp::Dec, AtomTy::U32, 0, 9, 0, false), (9, 0));
        assert_eq!(atom_apply(AtomOp::Dec, AtomTy::U32, 12, 9, 0, false), (9, 12));
        assert_eq!(atom_apply(AtomOp::Dec, AtomTy::U32, 5, 9, 0, false), (4, 5));
        assert_eq!(atom_apply(AtomOp::Min, AtomTy::S32, 5, 0xffff_ffff, 0, false), (0xffff_ffff, 5));
        assert_eq!(atom_apply(AtomOp::Min, AtomTy::U32, 5, 0xffff_ffff, 0, false), (5, 5));
        assert_eq!(atom_apply(AtomOp::Cas, AtomTy::U32, 5, 5, 7, false), (7, 5));
        assert_eq!(atom_apply(AtomOp::Cas, AtomTy::U32, 6, 5, 7, false), (6, 6));
        assert_eq!(atom_apply(AtomOp::Cast, AtomTy::U32, 5, 5, 7, false), (7, 1));
        assert_eq!(atom_apply(AtomOp::Cast, AtomTy::U32, 6, 5, 7, false), (6, 0));
        let f = |x: f32| x.to_bits() as u64;
        assert_eq!(atom_apply(AtomOp::Add, AtomTy::F32, f(1.5), f(0.25), 0, true).0, f(1.75));
        assert_eq!(atom_apply(AtomOp::Add, AtomTy::U64, u64::MAX, 2, 0, false).0, 1);
        assert_eq!(atom_apply(AtomOp::Add, AtomTy::U32, 0xffff_ffff, 2, 0, false).0, 1);
        assert_eq!(atom_apply(AtomOp::Add, AtomTy::F16x2, 0x3c00_3c00, 0x3c00_4000, 0, false).0, 0x4000_4200);
    }
}
