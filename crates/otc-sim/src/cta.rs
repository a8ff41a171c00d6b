//! Running one CTA: to completion, or in steps that keep its state in between (`CtaRun`).
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
use crate::watchdog::{Interrupt, Watch};

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
    /// The cancel flag and wall-clock limit, polled between warp slices (`watchdog.rs`).
    pub watch: &'a Watch,
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
    let mut cta = CtaRun::new(l, linear, budget);
    match cta.step(l, global, counters, u64::MAX) {
        Some(out) => out,
        None => unreachable!("a step without an instruction limit runs the CTA to its end"),
    }
}

/// A CTA that runs in steps of at most a given number of warp-instructions, keeping its state
/// (warps, shared memory, barrier counts, recorder, the warp scheduler's position) in between,
/// for a driver that interleaves CTAs (issue 16: the cycle model consuming traces as they are
/// made; docs/timing.md "Bounding it"). Any sequence of steps gives exactly the warp
/// interleaving, memory, counters, faults and trace of [`run_cta`], which is one step without
/// limit.
pub(crate) struct CtaRun<'l> {
    env: Env,
    warps: Vec<Warp>,
    shared: Vec<u8>,
    tracer: Option<Tracer<'l>>,
    /// `Exec::clock` between steps.
    clock: u64,
    sched: Sched,
    /// The CTA's instruction limit (the launch budget or `max_cycles`) and what is left of it.
    limit: u64,
    left: u64,
    budget: u64,
    ended: bool,
    /// Co-simulation: the recording is cut by [`CtaRun::take_segment`], also after the end.
    segmented: bool,
}

impl<'l> CtaRun<'l> {
    /// The CTA `linear` of launch `l`, before its first instruction, allowed `budget`
    /// warp-instructions in all.
    pub fn new(l: &Launch<'l>, linear: u64, budget: u64) -> CtaRun<'l> {
        let env = Env {
            ctaid: l.cta_index(linear),
            ntid: l.block,
            num_regs: l.num_regs,
            shared_bytes: l.shared_bytes,
            local_bytes: l.local_bytes,
            smid: (linear % l.nsm.max(1) as u64) as u32,
            nsm: l.nsm,
            grid_id: l.grid_id,
            arith: l.arith,
        };
        let tracer = match (l.templates, l.preparer) {
            (Some(t), Some(p)) => Some(Tracer::new(t, p, linear, l.warps_per_cta())),
            _ => None,
        };
        let limit = match l.max_cycles {
            Some(c) if c < budget => c,
            _ => budget,
        };
        CtaRun {
            env,
            warps: make_warps(l),
            shared: vec![0u8; l.shared_bytes as usize],
            tracer,
            clock: 0,
            sched: Sched::default(),
            limit,
            left: limit,
            budget,
            ended: false,
            segmented: false,
        }
    }

    /// [`CtaRun::new`] for the co-simulation (`cosim.rs`): its recording is handed over in
    /// segments ([`CtaRun::take_segment`]), the outcome of its last step carries no trace.
    pub fn segmented(l: &Launch<'l>, linear: u64, budget: u64) -> CtaRun<'l> {
        CtaRun { segmented: true, ..CtaRun::new(l, linear, budget) }
    }

    /// The events recorded since the last cut (timing on), and per warp whether it has ended
    /// (it records nothing more).
    pub fn take_segment(&mut self) -> Option<Result<(otc_timing::Segment, Vec<bool>), otc_timing::TimingError>> {
        let seg = self.tracer.as_mut()?.take_segment();
        let ended = self.warps.iter().map(|w| self.ended || w.done()).collect();
        Some(seg.map(|s| (s, ended)))
    }
    /// Run at most `chunk` warp-instructions of the CTA against `global`, adding to `counters`:
    /// `None` while it can run on, its outcome once it has ended (call no more after that).
    pub fn step<G: GlobalMem>(
        &mut self,
        l: &Launch<'l>,
        global: &mut G,
        counters: &mut [crate::stats::InstCounts],
        chunk: u64,
    ) -> Option<CtaOutcome> {
        assert!(!self.ended, "CtaRun::step after the CTA ended");
        let mut x = Exec {
            ops: l.ops,
            env: &self.env,
            banks: l.banks,
            global,
            shared: &mut self.shared,
            counters,
            clock: self.clock,
            tracer: self.tracer.take(),
        };
        let mut chunk = chunk;
        let ran = self.sched.run(&mut self.warps, &mut x, &mut self.left, self.limit, l.watch, &mut chunk);
        self.clock = x.clock;
        self.tracer = x.tracer.take();
        let Ran::Ended(mut fault) = ran else { return None };
        self.ended = true;
        if let Some(f) = &mut fault {
            // the instruction count ran out at the CTA's own limit (not the deadline, a cancel or
            // the trace share, which keep their messages)
            if f.kind == FaultKind::Watchdog && self.left == 0 && self.limit < self.budget {
                f.message = format!("the CTA ran its limit of {} issue cycles (max_cycles)", self.limit);
            }
        }
        let trace = match (fault.is_none() && !self.segmented, self.tracer.take()) {
            (true, Some(t)) => Some(t.finish(self.env.ctaid, l.shared_bytes, l.num_regs, l.threads_per_cta())),
            (false, t) if self.segmented => {
                self.tracer = t;
                None
            }
            _ => None,
        };
        Some(CtaOutcome { executed: self.limit - self.left, fault, trace })
    }
}

/// The scheduling loop of a CTA (also used by the warp harness with a single warp).
pub(crate) fn run_warps<G: GlobalMem>(
    warps: &mut [Warp],
    x: &mut Exec<'_, '_, G>,
    left: &mut u64,
    budget: u64,
    watch: &Watch,
) -> Option<RawFault> {
    let mut unlimited = u64::MAX;
    match Sched::default().run(warps, x, left, budget, watch, &mut unlimited) {
        Ran::Ended(fault) => fault,
        Ran::Suspended => unreachable!("a run without an instruction limit ends"),
    }
}

/// How [`Sched::run`] returned.
enum Ran {
    /// The step's instructions are used up; the CTA can run on.
    Suspended,
    /// Every warp finished (`None`) or the CTA stopped with a fault.
    Ended(Option<RawFault>),
}

/// The warp scheduler of a CTA and where it stands, so that it can stop after any
/// warp-instruction and resume with the same interleaving: passes over the warps in order, each
/// warp running until it blocks or has issued [`WARP_SLICE`] instructions since it was picked
/// (a barrier arrival picks it again with a fresh slice).
#[derive(Default)]
struct Sched {
    arv: [u32; 16],
    expect: [Option<u32>; 16],
    polls: u32,
    /// Inside a pass over the warps (the barrier and deadlock checks of its start are done).
    in_pass: bool,
    /// The warp the pass is at.
    wi: usize,
    /// What is left of the slice of warp `wi` when a step ended inside it.
    slice_left: Option<u32>,
}

impl Sched {
    /// Run until the CTA ends or `chunk` warp-instructions were issued (it is decreased by
    /// those issued).
    fn run<G: GlobalMem>(
        &mut self,
        warps: &mut [Warp],
        x: &mut Exec<'_, '_, G>,
        left: &mut u64,
        budget: u64,
        watch: &Watch,
        chunk: &mut u64,
    ) -> Ran {
        loop {
            if !self.in_pass {
                check_bars(warps, &mut self.arv, &mut self.expect);
                if warps.iter().all(|w| w.done()) {
                    return Ran::Ended(None);
                }
                if !warps.iter().any(|w| w.runnable()) {
                    return Ran::Ended(Some(deadlock(warps)));
                }
                self.in_pass = true;
                self.wi = 0;
            }
            while self.wi < warps.len() {
                let wi = self.wi;
                loop {
                    let slice = match self.slice_left {
                        Some(s) => s,
                        None => {
                            if !warps[wi].runnable() {
                                break;
                            }
                            let trace = || x.tracer.as_ref().and_then(|t| watch.trace_over(t.bytes()));
                            if let Some(why) = watch.poll(&mut self.polls).or_else(trace) {
                                return Ran::Ended(Some(interrupted(&warps[wi], why)));
                            }
                            WARP_SLICE
                        }
                    };
                    if *chunk == 0 {
                        self.slice_left = Some(slice);
                        return Ran::Suspended;
                    }
                    let run = slice.min((*chunk).min(u32::MAX as u64) as u32);
                    let before = *left;
                    let stop = run_warp(&mut warps[wi], x, run, left);
                    let issued = before - *left;
                    *chunk -= issued.min(*chunk);
                    self.slice_left = None;
                    match stop {
                        Stop::Slice if run < slice => {
                            // cut by the step, not by the slice: resume inside it
                            self.slice_left = Some(slice - run);
                            return Ran::Suspended;
                        }
                        Stop::Bar { id, count, wait, lanes } => {
                            if !wait {
                                self.arv[id] += lanes.count_ones();
                            }
                            if count.is_some() {
                                self.expect[id] = count;
                            }
                            check_bars(warps, &mut self.arv, &mut self.expect);
                            continue;
                        }
                        Stop::Slice => break,
                        Stop::Done => {
                            check_bars(warps, &mut self.arv, &mut self.expect);
                            break;
                        }
                        Stop::Blocked => {
                            let w = &warps[wi];
                            if w.bar_waiting() == 0 && w.sync_waiting() != 0 {
                                return Ran::Ended(Some(warp_deadlock(w)));
                            }
                            check_bars(warps, &mut self.arv, &mut self.expect);
                            break;
                        }
                        Stop::Watchdog => {
                            let w = &warps[wi];
                            return Ran::Ended(Some(RawFault {
                                pc: w.pc * 16,
                                warp: w.id,
                                lanes: w.active,
                                kind: FaultKind::Watchdog,
                                message: format!(
                                    "the launch executed its limit of {budget} warp-instructions (max_instructions)"
                                ),
                                address: None,
                            }));
                        }
                        Stop::Fault(f) => return Ran::Ended(Some(f)),
                    }
                }
                self.wi += 1;
            }
            self.in_pass = false;
        }
    }
}

/// The fault that stops a CTA when the launch is cancelled or past its wall-clock limit, at the
/// warp that was about to run.
fn interrupted(w: &Warp, why: Interrupt) -> RawFault {
    let (kind, message) = match why {
        Interrupt::Cancelled => (FaultKind::Cancelled, "the launch was cancelled".to_string()),
        Interrupt::Deadline(s) => {
            (FaultKind::Watchdog, format!("the launch ran its wall-clock limit of {s} seconds (max_seconds)"))
        }
        Interrupt::TraceBytes(t) => (
            FaultKind::Watchdog,
            format!(
                "the cycle model's trace of this CTA passed {} bytes, its share of max_trace_bytes = {} over the {} \
                 CTAs the model holds at once; co-simulate (cosim=True, --set cosim=true), which holds one chunk \
                 per warp, or raise max_trace_bytes, or run without the cycle model (timing=False, --no-timing)",
                t.per_cta, t.total, t.resident
            ),
        ),
    };
    RawFault { pc: w.pc * 16, warp: w.id, lanes: w.active, kind, message, address: None }
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

#[cfg(test)]
#[path = "cta_step_tests.rs"]
mod step_tests;
