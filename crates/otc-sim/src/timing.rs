//! Recording what the cycle model (`otc-timing`) needs, beside the functional run.
//!
//! When [`crate::DeviceConfig::timing`] is on, a launch builds one [`EventTemplate`] per kernel
//! instruction, and every CTA carries a [`Tracer`] in its `Exec`. `run_warp` calls
//! [`Tracer::record`] once per issued warp-instruction, after the guard is evaluated and
//! *before* the instruction executes, so that memory addresses and barrier operands are read
//! from the registers the instruction itself reads (a load may overwrite its own base). The
//! tracer reads the warp's state and never changes it: results are the same with timing off.
//!
//! Per issue the tracer records into the CTA's [`CtaRecorder`] (made by the launch's
//! `otc_timing::Preparer`), which keeps only the model's compact form (runs of template events,
//! coalesced sectors, the addresses the model still reads) instead of a full `CtaTrace`:
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
//! The result is what `Preparer::prepare` makes of the same events as a `CtaTrace`; the device
//! hands the committed CTAs to an `otc_timing::Simulator` in linear CTA order (`device.rs`).

use otc_timing::{sparse_landing, CtaRecorder, EventKind, EventTemplate, PreparedTrace, Preparer};

use crate::decode::{Op, OpKind, Space, TensorOp, R};
use crate::state::{lanes, Warp};

/// The warp traces of one CTA being recorded, straight into the form the model holds
/// ([`otc_timing::CtaRecorder`]: no per-issue event or lane addresses are stored).
pub(crate) struct Tracer<'a> {
    /// One template per kernel instruction (index = pc / 16).
    templates: &'a [EventTemplate],
    rec: CtaRecorder<'a>,
    warps: u32,
}

impl<'a> Tracer<'a> {
    /// A tracer for the CTA of linear index `linear` (its push order), of `warps` warps.
    pub fn new(templates: &'a [EventTemplate], preparer: &'a Preparer, linear: u64, warps: u32) -> Self {
        Tracer { templates, rec: preparer.recorder(linear, warps), warps }
    }

    /// Bytes recorded since the tracer was made or last cut.
    pub fn bytes(&self) -> usize {
        self.rec.bytes()
    }

    /// The CTA's prepared trace.
    pub fn finish(self, cta: [u32; 3], shared_bytes: u32, regs_per_thread: u32, threads: u32) -> PreparedTrace {
        self.rec.finish(cta, shared_bytes, regs_per_thread, threads)
    }

    /// Cut the recording here (co-simulation, `cosim.rs`): the events since the last cut.
    pub fn take_segment(&mut self) -> Result<otc_timing::Segment, otc_timing::TimingError> {
        self.rec.take_segment()
    }

    /// Record one issue of `op` (instruction index `pc`) by warp `w` with the lanes `active`,
    /// of which `exec` passed the guard. Called before the instruction runs.
    #[inline(never)]
    pub fn record(&mut self, w: &Warp, op: &Op, pc: usize, active: u32, exec: u32) {
        // The synthetic end-of-code op has no template (and ends the launch with a fault).
        let Some(tpl) = self.templates.get(pc) else { return };
        if w.id >= self.warps {
            return;
        }
        let (rec, wid) = (&mut self.rec, w.id);
        let bpc = (pc * 16) as u32;
        let is_mem = matches!(tpl.proto().kind, EventKind::Mem { .. });
        match op.kind {
            OpKind::Ld { base, wide, off, .. } | OpKind::St { base, wide, off, .. } if is_mem => {
                push_addresses(rec, wid, pc, w, active, exec, base, wide, off);
            }
            OpKind::Atom { space, base, off, .. } if is_mem => {
                push_addresses(rec, wid, pc, w, active, exec, base, space != Space::Shared, off);
            }
            OpKind::Ldc { reg, off, .. } if is_mem => {
                let r = &w.regs[reg as usize];
                rec.mem(wid, pc, active, exec, lanes(exec).map(|l| r[l] as u64 + off as u64));
            }
            OpKind::Tensor(TensorOp::OhmmaSp { m, n, buf, .. }) => {
                // Without bitmaps the instruction faults (AccumulatorState) and nothing is timed.
                let (rows, cols) = match w.accb[buf as usize].as_ref().and_then(|b| b.bitmaps) {
                    Some((a, b)) if exec != 0 => sparse_landing(a, b, m, n),
                    _ => (0, 0),
                };
                rec.push(wid, tpl.sparse_ohmma(bpc, active, exec, rows, cols), &[]);
            }
            OpKind::Tensor(TensorOp::SpwmmaSeq { buf, .. }) => {
                let (abm, bbm) = match w.accb[buf as usize].as_ref().and_then(|b| b.bitmaps) {
                    Some(bitmaps) if exec != 0 => bitmaps,
                    _ => (0, 0),
                };
                rec.push(wid, tpl.spwmma_seq(bpc, active, exec, abm, bbm), &[]);
            }
            OpKind::Bar { id, count, .. } if exec != 0 => {
                let l = exec.trailing_zeros() as usize;
                let id = w.lane(id, l);
                let threads = count.map(|c| w.lane(c, l)).unwrap_or(0);
                rec.push(
                    wid,
                    tpl.barrier(bpc, active, exec, id.min(255) as u8, threads.min(u16::MAX as u32) as u16),
                    &[],
                );
            }
            _ if is_mem => {
                // A memory form that did not decode to a memory op faults when it runs; keep
                // the trace well-formed anyway (no lane accesses memory).
                rec.mem(wid, pc, active, 0, std::iter::empty());
            }
            _ => rec.event(wid, pc, active, exec),
        }
    }
}

/// A memory event with the executed lanes' addresses ([`Warp::lane_address`], as the execution
/// computes them). Every lane's address is computed in one straight loop and the executed ones
/// handed over as a slice: an iterator over the mask's bits made the recorder's copy push them
/// one by one (a tenth of the recording's host instructions in a GEMM).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn push_addresses(
    rec: &mut CtaRecorder<'_>,
    wid: u32,
    pc: usize,
    w: &Warp,
    active: u32,
    exec: u32,
    base: R,
    wide: bool,
    off: i32,
) {
    if exec == 0 {
        rec.mem(wid, pc, active, exec, std::iter::empty());
        return;
    }
    let mut all = [0u64; 32];
    for (l, a) in all.iter_mut().enumerate() {
        *a = w.lane_address(base, wide, off, l);
    }
    if exec == u32::MAX {
        rec.mem(wid, pc, active, exec, all);
    } else {
        let mut executed = [0u64; 32];
        let mut n = 0;
        for l in lanes(exec) {
            executed[n] = all[l];
            n += 1;
        }
        rec.mem(wid, pc, active, exec, executed[..n].iter().copied());
    }
}
