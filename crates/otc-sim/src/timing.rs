//! Recording what the cycle model (`otc-timing`) needs, beside the functional run.
//!
//! When [`crate::DeviceConfig::timing`] is on, a launch builds one [`EventTemplate`] per kernel
//! instruction, and every CTA carries a [`Tracer`] in its `Exec`. `run_warp` calls
//! [`Tracer::record`] once per issued warp-instruction, after the guard is evaluated and
//! *before* the instruction executes, so that memory addresses and barrier operands are read
//! from the registers the instruction itself reads (a load may overwrite its own base). The
//! tracer reads the warp's state and never changes it: results are the same with timing off.
//!
//! Per issue the tracer pushes into the warp's [`WarpTrace`]:
//! - memory instructions (`LDG STG LDS STS LDL STL LDC ATOMG RED ATOMS`): one address per
//!   executed lane, ascending lanes: global = the 64-bit device address (the `.E` pair plus the
//!   offset), shared = the offset in the CTA's shared window, local = the thread's local offset,
//!   constant = the offset in the bank;
//! - sparse OHMMA: the landing rows / columns from the A and B bitmaps of the warp's
//!   accumulation buffer (`otc_timing::sparse_landing`);
//! - `BAR`: the barrier id and thread count as the instruction reads them (lowest executed
//!   lane, like `exec/control.rs`);
//! - everything else: the template's event with the pc and the active / executed masks.
//!
//! The CTA's traces become one [`CtaTrace`]; the device hands the committed CTAs to an
//! `otc_timing::Simulator` in linear CTA order (`device.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};

use otc_timing::{sparse_landing, CtaTrace, EventKind, EventTemplate, WarpTrace};

use crate::decode::{Op, OpKind, Space, R};
use crate::state::{lanes, Warp};

/// The warp traces of one CTA being recorded.
pub(crate) struct Tracer<'a> {
    /// One template per kernel instruction (index = pc / 16).
    templates: &'a [EventTemplate],
    warps: Vec<WarpTrace>,
}

/// The largest warp trace of a launch so far (events, addresses), shared by the CTAs of a
/// launch without locks: a new warp trace reserves that much at once, which saves the copies
/// and page faults of growing large buffers step by step. Only a capacity hint: what is
/// recorded does not depend on it.
#[derive(Default)]
pub(crate) struct TraceHint {
    events: AtomicUsize,
    addrs: AtomicUsize,
}

impl<'a> Tracer<'a> {
    pub fn new(templates: &'a [EventTemplate], warps: u32, hint: &TraceHint) -> Self {
        let (events, addrs) = (hint.events.load(Ordering::Relaxed), hint.addrs.load(Ordering::Relaxed));
        let warps = (0..warps)
            .map(|w| WarpTrace { warp_in_cta: w, events: Vec::with_capacity(events), addrs: Vec::with_capacity(addrs) })
            .collect();
        Tracer { templates, warps }
    }

    /// The CTA's trace (and its sizes go into the hint).
    pub fn finish(
        self,
        cta: [u32; 3],
        shared_bytes: u32,
        regs_per_thread: u32,
        threads: u32,
        hint: &TraceHint,
    ) -> CtaTrace {
        for wt in &self.warps {
            hint.events.fetch_max(wt.events.len(), Ordering::Relaxed);
            hint.addrs.fetch_max(wt.addrs.len(), Ordering::Relaxed);
        }
        CtaTrace { cta, warps: self.warps, shared_bytes, regs_per_thread, threads }
    }

    /// Record one issue of `op` (instruction index `pc`) by warp `w` with the lanes `active`,
    /// of which `exec` passed the guard. Called before the instruction runs.
    #[inline(never)]
    pub fn record(&mut self, w: &Warp, op: &Op, pc: usize, active: u32, exec: u32) {
        // The synthetic end-of-code op has no template (and ends the launch with a fault).
        let Some(tpl) = self.templates.get(pc) else { return };
        let Some(wt) = self.warps.get_mut(w.id as usize) else { return };
        let bpc = (pc * 16) as u32;
        let is_mem = matches!(tpl.proto().kind, EventKind::Mem { .. });
        match op.kind {
            OpKind::Ld { base, wide, off, .. } | OpKind::St { base, wide, off, .. } if is_mem => {
                push_addresses(wt, tpl, w, bpc, active, exec, base, wide, off);
            }
            OpKind::Atom { space, base, off, .. } if is_mem => {
                push_addresses(wt, tpl, w, bpc, active, exec, base, space == Space::Global, off);
            }
            OpKind::Ldc { reg, off, .. } if is_mem => {
                let r = &w.regs[reg as usize];
                wt.push_mem(tpl, bpc, active, exec, lanes(exec).map(|l| r[l] as u64 + off as u64));
            }
            OpKind::OhmmaSp { m, n, .. } => {
                // Without bitmaps the instruction faults (AccumulatorState) and nothing is timed.
                let (rows, cols) = match w.accb.as_ref().and_then(|b| b.bitmaps) {
                    Some((a, b)) if exec != 0 => sparse_landing(a, b, m, n),
                    _ => (0, 0),
                };
                wt.push(tpl.sparse_ohmma(bpc, active, exec, rows, cols));
            }
            OpKind::Bar { id, count, .. } if exec != 0 => {
                let l = exec.trailing_zeros() as usize;
                let id = w.lane(id, l);
                let threads = count.map(|c| w.lane(c, l)).unwrap_or(0);
                wt.push(tpl.barrier(bpc, active, exec, id.min(255) as u8, threads.min(u16::MAX as u32) as u16));
            }
            _ if is_mem => {
                // A memory form that did not decode to a memory op faults when it runs; keep
                // the trace well-formed anyway (no lane accesses memory).
                wt.push_mem(tpl, bpc, active, 0, std::iter::empty());
            }
            _ => wt.push(tpl.event(bpc, active, exec)),
        }
    }
}

/// A memory event with the executed lanes' addresses, computed as `exec/memory.rs` does:
/// `wide` = a 64-bit register pair, else a 32-bit offset that wraps.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn push_addresses(
    wt: &mut WarpTrace,
    tpl: &EventTemplate,
    w: &Warp,
    bpc: u32,
    active: u32,
    exec: u32,
    base: R,
    wide: bool,
    off: i32,
) {
    let lo = &w.regs[base as usize];
    if wide {
        let hi = &w.regs[base as usize + 1];
        let addr = |l: usize| (((hi[l] as u64) << 32) | lo[l] as u64).wrapping_add(off as i64 as u64);
        wt.push_mem(tpl, bpc, active, exec, lanes(exec).map(addr));
    } else {
        let addr = |l: usize| (lo[l] as u64).wrapping_add(off as i64 as u64) & 0xffff_ffff;
        wt.push_mem(tpl, bpc, active, exec, lanes(exec).map(addr));
    }
}
