//! Running one CTA to completion.
//!
//! The warps of a CTA run one at a time in a fixed order: warp 0 runs until it blocks (every
//! lane waits at a barrier or has exited) or has issued [`WARP_SLICE`] instructions, then warp
//! 1, and so on round-robin. So warps interleave at BAR.SYNC (and, for spin-waiting code, at
//! slice boundaries) in an order that depends only on the program and its data.
//!
//! BAR.SYNC: lanes that arrive wait; barrier `id` completes when the threads waiting at it (plus
//! those that arrived with BAR.ARV) reach the expected count: the count operand if there is
//! one, else every thread of the CTA that has not exited. Exited threads therefore count as
//! arrived. A CTA in which no warp can run while some threads wait is a `BarrierDeadlock` fault;
//! so is a warp whose lanes all wait at BSYNC / WARPSYNC with nothing left to release them.

use crate::decode::Op;
use crate::exec::{run_warp, Env, Exec, Stop};
use crate::fault::{FaultKind, RawFault};
use crate::memory::GlobalMem;
use crate::state::Warp;
use crate::timing::Tracer;

/// Warp-instructions a warp may issue before the next warp gets its turn.
pub(crate) const WARP_SLICE: u32 = 4096;

/// What every CTA of a launch shares.
pub(crate) struct Launch<'a> {
    pub ops: &'a [Op],
    pub banks: &'a [Vec<u8>],
    pub block: [u32; 3],
    pub grid: [u32; 3],
    pub num_regs: u32,
    pub shared_bytes: u32,
    pub local_bytes: u32,
    pub nsm: u32,
    pub grid_id: u32,
    pub arith: otc_numerics::TensorArith,
    /// Per-CTA issue-cycle limit (`DeviceConfig::max_cycles`).
    pub max_cycles: Option<u64>,
    /// One cycle-model event template per instruction when timing is on (`timing.rs`).
    pub templates: Option<&'a [otc_timing::EventTemplate]>,
    /// Records each CTA's trace straight into the cycle model's compact form on the thread that
    /// runs it (timing on; `timing.rs`).
    pub preparer: Option<&'a otc_timing::Preparer>,
}

impl Launch<'_> {
    pub fn threads_per_cta(&self) -> u32 {
        self.block[0] * self.block[1] * self.block[2]
    }

    pub fn warps_per_cta(&self) -> u32 {
        self.threads_per_cta().div_ceil(32)
    }

    pub fn cta_index(&self, linear: u64) -> [u32; 3] {
        let gx = self.grid[0] as u64;
        let gy = self.grid[1] as u64;
        [(linear % gx) as u32, ((linear / gx) % gy) as u32, (linear / (gx * gy)) as u32]
    }
}

/// Result of running a CTA: instructions executed, or a fault (with the instructions executed
/// before it), and the CTA's trace for the cycle model when timing is on.
pub(crate) struct CtaOutcome {
    pub executed: u64,
    pub fault: Option<RawFault>,
    pub trace: Option<otc_timing::PreparedTrace>,
}

/// Build the warps of a CTA.
pub(crate) fn make_warps(l: &Launch<'_>) -> Vec<Warp> {
    let n = l.threads_per_cta();
    let [bx, by, _] = l.block;
    let slots = l.num_regs as usize + 16;
    (0..l.warps_per_cta())
        .map(|wi| {
            let mut tid = [[0u32; 32]; 3];
            let mut launched = 0u32;
            for lane in 0..32u32 {
                let t = wi * 32 + lane;
                if t < n {
                    launched |= 1 << lane;
                    tid[0][lane as usize] = t % bx;
                    tid[1][lane as usize] = (t / bx) % by;
                    tid[2][lane as usize] = t / (bx * by);
                }
            }
            Warp::new(slots, wi, launched, tid)
        })
        .collect()
}

/// Run the CTA `linear` against `global`, adding to `counters` (per-instruction), with at most
/// `budget` warp-instructions.
pub(crate) fn run_cta<G: GlobalMem>(
    l: &Launch<'_>,
    linear: u64,
    global: &mut G,
    counters: &mut [crate::stats::InstCounts],
    budget: u64,
) -> CtaOutcome {
    let ctaid = l.cta_index(linear);
    let env = Env {
        ctaid,
        ntid: l.block,
        num_regs: l.num_regs,
        shared_bytes: l.shared_bytes,
        local_bytes: l.local_bytes,
        smid: (linear % l.nsm.max(1) as u64) as u32,
        nsm: l.nsm,
        grid_id: l.grid_id,
        arith: l.arith,
    };
    let mut warps = make_warps(l);
    let mut shared = vec![0u8; l.shared_bytes as usize];
    let tracer = match (l.templates, l.preparer) {
        (Some(t), Some(p)) => Some(Tracer::new(t, p, linear, l.warps_per_cta())),
        _ => None,
    };
    let mut x = Exec { ops: l.ops, env: &env, banks: l.banks, global, shared: &mut shared, counters, clock: 0, tracer };
    let limit = match l.max_cycles {
        Some(c) if c < budget => c,
        _ => budget,
    };
    let mut left = limit;
    let mut fault = run_warps(&mut warps, &mut x, &mut left, limit);
    if let Some(f) = &mut fault {
        if f.kind == FaultKind::Watchdog && limit < budget {
            f.message = format!("the CTA ran its limit of {limit} issue cycles (max_cycles)");
        }
    }
    let trace = match (fault.is_none(), x.tracer.take()) {
        (true, Some(t)) => Some(t.finish(ctaid, l.shared_bytes, l.num_regs, l.threads_per_cta())),
        _ => None,
    };
    CtaOutcome { executed: limit - left, fault, trace }
}

/// The scheduling loop of a CTA (also used by the warp harness with a single warp).
pub(crate) fn run_warps<G: GlobalMem>(
    warps: &mut [Warp],
    x: &mut Exec<'_, G>,
    left: &mut u64,
    budget: u64,
) -> Option<RawFault> {
    let mut arv = [0u32; 16];
    let mut expect: [Option<u32>; 16] = [None; 16];
    loop {
        check_bars(warps, &mut arv, &mut expect);
        if warps.iter().all(|w| w.done()) {
            return None;
        }
        if !warps.iter().any(|w| w.runnable()) {
            return Some(deadlock(warps));
        }
        for wi in 0..warps.len() {
            loop {
                if !warps[wi].runnable() {
                    break;
                }
                let stop = run_warp(&mut warps[wi], x, WARP_SLICE, left);
                match stop {
                    Stop::Bar { id, count, wait, lanes } => {
                        if !wait {
                            arv[id] += lanes.count_ones();
                        }
                        if count.is_some() {
                            expect[id] = count;
                        }
                        check_bars(warps, &mut arv, &mut expect);
                        continue;
                    }
                    Stop::Slice => break,
                    Stop::Done => {
                        check_bars(warps, &mut arv, &mut expect);
                        break;
                    }
                    Stop::Blocked => {
                        let w = &warps[wi];
                        if w.bar_waiting() == 0 && w.sync_waiting() != 0 {
                            return Some(warp_deadlock(w));
                        }
                        check_bars(warps, &mut arv, &mut expect);
                        break;
                    }
                    Stop::Watchdog => {
                        let w = &warps[wi];
                        return Some(RawFault {
                            pc: w.pc * 16,
                            warp: w.id,
                            lanes: w.active,
                            kind: FaultKind::Watchdog,
                            message: format!(
                                "the launch executed its limit of {budget} warp-instructions (max_instructions)"
                            ),
                            address: None,
                        });
                    }
                    Stop::Fault(f) => return Some(f),
                }
            }
        }
    }
}

/// Release BAR barriers whose expected count is reached.
fn check_bars(warps: &mut [Warp], arv: &mut [u32; 16], expect: &mut [Option<u32>; 16]) {
    let live: u32 = warps.iter().map(|w| w.live().count_ones()).sum();
    for id in 0..16 {
        let waiting: u32 = warps.iter().map(|w| w.bar_wait[id].count_ones()).sum();
        if waiting == 0 {
            continue;
        }
        let expected = expect[id].unwrap_or(live).min(live.max(1));
        if waiting + arv[id] >= expected {
            for w in warps.iter_mut() {
                if w.bar_wait[id] != 0 {
                    w.bar_release(id);
                }
            }
            arv[id] = 0;
            expect[id] = None;
        }
    }
}

fn warp_deadlock(w: &Warp) -> RawFault {
    let waiting = w.sync_waiting();
    let l = waiting.trailing_zeros() as usize;
    let pc = w.lane_pc[l];
    let mut detail = String::new();
    for b in 0..16 {
        if w.bsync_wait[b] != 0 {
            let missing = w.barriers[b] & w.live() & !w.bsync_wait[b];
            detail.push_str(&format!("lanes {:#010x} wait at BSYNC B{b} for lanes {missing:#010x}; ", w.bsync_wait[b]));
        }
    }
    if w.ws_wait != 0 {
        detail.push_str(&format!("lanes {:#010x} wait at WARPSYNC; ", w.ws_wait));
    }
    RawFault {
        pc: pc * 16,
        warp: w.id,
        lanes: waiting,
        kind: FaultKind::BarrierDeadlock,
        message: format!("{detail}no lane of the warp can run to release them"),
        address: None,
    }
}

fn deadlock(warps: &[Warp]) -> RawFault {
    for w in warps {
        let waiting = w.bar_waiting();
        if waiting != 0 {
            let l = waiting.trailing_zeros() as usize;
            let live: u32 = warps.iter().map(|w| w.live().count_ones()).sum();
            let at: u32 = warps.iter().map(|w| w.bar_waiting().count_ones()).sum();
            return RawFault {
                pc: w.lane_pc[l] * 16,
                warp: w.id,
                lanes: waiting,
                kind: FaultKind::BarrierDeadlock,
                message: format!(
                    "BAR.SYNC can never complete: {at} of {live} live threads wait at CTA barriers and no thread can run"
                ),
                address: None,
            };
        }
        if w.sync_waiting() != 0 {
            return warp_deadlock(w);
        }
    }
    let w = &warps[0];
    RawFault {
        pc: w.pc * 16,
        warp: w.id,
        lanes: w.live(),
        kind: FaultKind::BarrierDeadlock,
        message: "no thread can run".into(),
        address: None,
    }
}
