//! Architectural state of a warp: registers (lane-major, one `[u32; 32]` per register),
//! predicates (one 32-bit lane mask per predicate), per-lane program counters and the SIMT
//! bookkeeping of `simt.rs`, and the thread's local memory.

use crate::decode::{Src, R};

pub(crate) const FULL: u32 = u32::MAX;

/// Scratch lanes for a source operand that is not a register as it is (an immediate, or a
/// register with a modifier applied); 64-byte aligned so that the vector stores and loads of
/// the lanes do not straddle cache lines.
#[repr(C, align(64))]
pub(crate) struct Scratch(std::mem::MaybeUninit<[u32; 32]>);

impl Scratch {
    #[inline(always)]
    pub fn new() -> Self {
        Scratch(std::mem::MaybeUninit::uninit())
    }

    /// Store `v` and return it.
    #[inline(always)]
    pub fn put(&mut self, v: [u32; 32]) -> &mut [u32; 32] {
        self.0.write(v)
    }
}

/// One warp.
pub(crate) struct Warp {
    /// Register slots (see `decode.rs`: R0.., 8 zero slots, 8 sink slots).
    pub regs: Vec<[u32; 32]>,
    /// P0..P6, PT (all ones), sink.
    pub preds: [u32; 9],
    /// Warp index in the CTA.
    pub id: u32,
    /// Lanes that exist (a partial last warp has fewer).
    pub launched: u32,
    /// Lanes that have exited (lanes that do not exist count as exited).
    pub exited: u32,

    // --- SIMT (see simt.rs)
    /// Program counter (instruction index) of the running group.
    pub pc: u32,
    /// Lanes of the running group (0 = none is running).
    pub active: u32,
    /// Program counter of each lane that is not in the running group.
    pub lane_pc: [u32; 32],
    /// Ready lanes that wait for their turn (their pc is in `lane_pc`).
    pub parked: u32,
    /// Smallest `lane_pc` among parked lanes (`u32::MAX` if none).
    pub parked_min: u32,
    /// Lanes waiting at a BSYNC of each convergence barrier.
    pub bsync_wait: [u32; 16],
    /// Lanes waiting at a WARPSYNC, and the mask each waits for.
    pub ws_wait: u32,
    pub ws_need: [u32; 32],
    /// Lanes waiting at BAR.SYNC, per barrier id.
    pub bar_wait: [u32; 16],
    /// Convergence barrier masks B0..B15.
    pub barriers: [u32; 16],
    /// Min-pc preemption is on (off after a fairness yield until the group blocks).
    pub preempt: bool,
    /// Consecutive backward branches of the running group while others were ready.
    pub backedges: u32,

    /// threadIdx.x/y/z of each lane.
    pub tid: [[u32; 32]; 3],
    /// Local memory of the warp's threads (lane l at `l * local_bytes`), allocated on first use.
    pub local: Vec<u8>,
    /// The warp's OTC accumulation buffers (index: the `.BUFn` modifier); each `None` until its
    /// first `ACCB.CLEAR` / `ACCB.LDS`.
    pub accb: [Option<Box<AccBuffer>>; ACCB_BUFFERS],
}

/// Accumulation buffers a warp context can address (`.BUF1`..`.BUF3`, isa/otc.toml); how many a
/// machine provides is the cycle model's `tensor.accbufs_per_warp`.
pub const ACCB_BUFFERS: usize = 4;

/// The accumulation buffer of a warp context (`isa/otc.toml`): 32x32 fp32 partial sums
/// (row-major bits) and the scatter bitmaps of the last `ACCB.BMAP` since it was cleared.
pub(crate) struct AccBuffer {
    pub data: [u32; 1024],
    /// (A column bitmap, B row bitmap); `None` after `ACCB.CLEAR` / `ACCB.LDS` until `ACCB.BMAP`.
    pub bitmaps: Option<(u32, u32)>,
}

impl Warp {
    /// The byte address lane `l` accesses through `[base + off]`: `wide` = a 64-bit register pair
    /// (global), else a 32-bit register whose sum with the offset wraps at 32 bits (shared, local).
    /// The one formula for execution (`exec/memory.rs`, `exec/tensor.rs`) and the cycle model's
    /// trace (`timing.rs`).
    #[inline(always)]
    pub fn lane_address(&self, base: R, wide: bool, off: i32, l: usize) -> u64 {
        let lo = self.regs[base as usize][l] as u64;
        if wide {
            ((self.regs[base as usize + 1][l] as u64) << 32 | lo).wrapping_add(off as i64 as u64)
        } else {
            lo.wrapping_add(off as i64 as u64) & 0xffff_ffff
        }
    }

    pub fn new(num_slots: usize, id: u32, launched: u32, tid: [[u32; 32]; 3]) -> Self {
        let mut preds = [0u32; 9];
        preds[7] = FULL;
        Warp {
            regs: vec![[0u32; 32]; num_slots],
            preds,
            id,
            launched,
            exited: !launched,
            pc: 0,
            active: launched,
            lane_pc: [0; 32],
            parked: 0,
            parked_min: u32::MAX,
            bsync_wait: [0; 16],
            ws_wait: 0,
            ws_need: [0; 32],
            bar_wait: [0; 16],
            barriers: [0; 16],
            preempt: true,
            backedges: 0,
            tid,
            local: Vec::new(),
            accb: Default::default(),
        }
    }

    /// Reset the control state for a new run from pc 0 with the given lanes (registers,
    /// predicates and the accumulation buffer are kept).
    pub fn restart(&mut self, launched: u32) {
        self.launched = launched;
        self.exited = !launched;
        self.pc = 0;
        self.active = launched;
        self.lane_pc = [0; 32];
        self.parked = 0;
        self.parked_min = u32::MAX;
        self.bsync_wait = [0; 16];
        self.ws_wait = 0;
        self.ws_need = [0; 32];
        self.bar_wait = [0; 16];
        self.barriers = [0; 16];
        self.preempt = true;
        self.backedges = 0;
        self.preds[7] = FULL;
        self.preds[8] = 0;
    }

    /// Lanes that have not exited.
    #[inline]
    pub fn live(&self) -> u32 {
        !self.exited & self.launched
    }

    /// Value of a source for every lane.
    #[inline(always)]
    pub fn read(&self, s: Src) -> [u32; 32] {
        match s {
            Src::R(r) => self.regs[r as usize],
            Src::I(x) => [x; 32],
        }
    }

    /// Lanes of a source without copying a register: the register's own array, or the
    /// immediate broadcast into `tmp`.
    #[inline(always)]
    pub fn src<'a>(&'a self, s: Src, tmp: &'a mut Scratch) -> &'a [u32; 32] {
        match s {
            Src::R(r) => &self.regs[r as usize],
            Src::I(x) => tmp.put([x; 32]),
        }
    }

    /// Value of a source for one lane.
    #[inline(always)]
    pub fn lane(&self, s: Src, l: usize) -> u32 {
        match s {
            Src::R(r) => self.regs[r as usize][l],
            Src::I(x) => x,
        }
    }

    /// Write `v` to register slot `d` in the lanes of `mask`.
    #[inline(always)]
    pub fn write(&mut self, d: R, v: &[u32; 32], mask: u32) {
        let dst = &mut self.regs[d as usize];
        if mask == FULL {
            *dst = *v;
        } else {
            // a select per lane (a vector blend), not a branch per lane
            for (l, (o, n)) in dst.iter_mut().zip(v.iter()).enumerate() {
                *o = if mask & (1 << l) != 0 { *n } else { *o };
            }
        }
    }

    /// Write predicate `p` (8 = sink) in the lanes of `mask`.
    #[inline(always)]
    pub fn write_pred(&mut self, p: u8, bits: u32, mask: u32) {
        let old = self.preds[p as usize];
        self.preds[p as usize] = (old & !mask) | (bits & mask);
        self.preds[7] = FULL;
    }

    /// Predicate value (with negation) as a lane mask.
    #[inline(always)]
    pub fn pred(&self, i: u8, not: bool) -> u32 {
        self.preds[i as usize] ^ if not { FULL } else { 0 }
    }
}

/// Iterate over the set bits of a mask.
#[inline(always)]
pub(crate) fn lanes(mut m: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if m == 0 {
            None
        } else {
            let l = m.trailing_zeros() as usize;
            m &= m - 1;
            Some(l)
        }
    })
}

/// Lane mask of 32 lane flags that are each 0 or `u32::MAX` (bit l = lane l). On x86-64 the
/// flags are narrowed with saturating packs and read with a byte movemask (SSE2, which every
/// x86-64 host has; LLVM widens it to AVX2 in the AVX2 / AVX-512 builds of the loop).
#[inline(always)]
pub(crate) fn lane_mask(v: &[u32; 32]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86-64; the eight 16-byte loads are inside `v`.
        unsafe {
            let p = v.as_ptr() as *const __m128i;
            let q = |i: usize| _mm_loadu_si128(p.add(i));
            let a = _mm_packs_epi16(_mm_packs_epi32(q(0), q(1)), _mm_packs_epi32(q(2), q(3)));
            let b = _mm_packs_epi16(_mm_packs_epi32(q(4), q(5)), _mm_packs_epi32(q(6), q(7)));
            (_mm_movemask_epi8(a) as u32 & 0xffff) | ((_mm_movemask_epi8(b) as u32) << 16)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut m = 0u32;
        for (l, x) in v.iter().enumerate() {
            m |= (x & 1) << l;
        }
        m
    }
}

/// Lane mask of a per-lane test (vector code where the test vectorises).
#[inline(always)]
pub(crate) fn mask_of(f: impl Fn(usize) -> bool) -> u32 {
    let mut v = [0u32; 32];
    for (l, x) in v.iter_mut().enumerate() {
        *x = if f(l) { u32::MAX } else { 0 };
    }
    lane_mask(&v)
}
