//! otc-timing: the cycle model of otc-emu.
//!
//! The functional executor (otc-sim) runs a kernel and records, per warp, the instructions it
//! issued ([`trace`]). This crate turns those traces into cycles and statistics for a V100-like
//! GPU whose tensor cores are the outer-product tensor cores of "Dual-side Sparse Tensor Core"
//! (Wang et al., ISCA 2021). Timing never changes results: it sees no values.
//!
//! ```no_run
//! use otc_timing::{simulate, TimingConfig, CtaTrace};
//! # fn traces() -> Vec<CtaTrace> { Vec::new() }
//! let mut cfg = TimingConfig::v100();
//! cfg.set("scheduler.policy", "lrr").unwrap();
//! let ctas = traces();
//! let n = ctas.len() as u64;
//! let stats = simulate(&cfg, ctas, n).unwrap();
//! println!("{} cycles, {}", stats.counter("cycles"), stats.to_json());
//! ```
//!
//! Model summary (docs/timing.md has the details and every parameter):
//! - CTAs are placed statically by default: the i-th CTA pushed goes to SM `i % num_sms`
//!   (`gpu.cta_dispatch = "dynamic"`: to the SM that has room for it first, [`Simulator`]'s
//!   `dispatch`); each SM runs its CTAs in order, as many at once as registers, shared memory, warp slots, threads and the CTA
//!   limit allow. SMs are simulated independently (in parallel with rayon); the kernel takes as
//!   long as the slowest SM. Results do not depend on the number of host threads.
//! - Per SM: `sub_cores` sub-cores; a warp runs on sub-core `slot % sub_cores` where `slot` is its
//!   hardware warp slot. Each sub-core issues at most one warp-instruction per cycle (GTO or LRR),
//!   after register scoreboarding (or Volta control bits), operand collection with register-bank
//!   conflicts and a reuse cache, and pipelines with latency and initiation interval.
//! - Tensor: HMMA.884 steps, OHMMA.8161 one per cycle, BOHMMA, skipped (predicated-off) tensor
//!   instructions at a configurable cost, the accumulation buffer's banks and sparse-mode operand
//!   collector.
//! - Memory: shared-memory banks with replays, coalescing into sectors, L1 per SM, a global L2
//!   (decided in a deterministic pre-pass in CTA order) and DRAM with per-SM bandwidth shares.

pub mod accbuf;
mod access_stream;
pub mod by_pc;
pub mod config;
mod feed;
pub mod memory;
mod packed;
mod record;
pub mod sample;
mod sm;
pub mod stats;
pub mod timeline;
pub mod trace;

use std::collections::VecDeque;

use rayon::prelude::*;

pub use by_pc::{PcRow, PC_COLUMNS};
pub use config::{
    all_keys, tensor_keys, ConfigError, ConfigValue, CtaDispatch, SchedulerPolicy, TensorCost, TimingConfig, KEYS,
    MACHINES,
};
pub use stats::{Reason, Stats};
pub use timeline::{Timeline, TimelineEvent, TimelineKind, TimelineSpec};
pub use trace::{
    memory_access, sparse_landing, spwmma_ohmmas, BarOp, CtaTrace, Event, EventKind, EventTemplate, MemOp, MemSpace,
    RegGroup, TensorOp, WarpTrace,
};

use memory::SectorCache;
use record::record_trace;
pub use record::{CtaRecorder, Segment};
pub use sample::Sample;
pub use sm::IssueRecord;
use sm::{PreparedCta, Resolved, RunStatus, SmSim};
use stats::SmStats;

/// What an SM asks for when [`Simulator::run_sms`] returns (co-simulation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Its queue of CTAs ran dry: open more ([`Simulator::open`]) or end the stream.
    Cta,
    /// A warp of the open CTA of this linear index ran out of events: give it more.
    Events(u64),
    /// It has run everything.
    Done,
}

/// Errors of a simulation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TimingError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("CTA {index} ({cta:?}) cannot be resident on an SM: {reason}")]
    CtaTooLarge { index: u64, cta: [u32; 3], reason: String },
    #[error("bad trace: CTA {index}, warp {warp}, event {event}: {reason}")]
    BadTrace { index: u64, warp: u32, event: usize, reason: String },
    /// The host could not give the model memory for a trace.
    #[error("out of host memory for {what}")]
    OutOfMemory { what: String },
    /// The program uses an instruction the described machine does not have.
    #[error("instruction {pc:#x}: {reason}")]
    Unsupported { pc: u32, reason: String },
}

/// Why the machine `cfg` describes cannot run an instruction of static event `e`, if it cannot
/// (the sequenced SpWMMA needs `tensor.spwmma_sequencer`; a buffer index `.BUFn` needs
/// `tensor.accbufs_per_warp` > n).
fn unsupported(cfg: &TimingConfig, e: &Event) -> Option<String> {
    match e.kind {
        EventKind::Tensor(op) if op.buf as u32 >= cfg.tensor.accbufs_per_warp => Some(format!(
            "accumulation buffer {} (.BUF{}) needs a machine with more accumulation buffers per warp: this \
             machine has tensor.accbufs_per_warp = {} (set it to {} or more, e.g. --set tensor.accbufs_per_warp=4)",
            op.buf,
            op.buf,
            cfg.tensor.accbufs_per_warp,
            op.buf + 1
        )),
        EventKind::Tensor(op) if op.class == otc_isa::TensorClass::SpwmmaSeq && !cfg.tensor.spwmma_sequencer => Some(
            "the sequenced SpWMMA (HMMA.SPWMMA) needs a tensor-core sequencer: this machine has \
             tensor.spwmma_sequencer = false"
                .into(),
        ),
        _ => None,
    }
}

/// Simulate a kernel: `ctas` in linear CTA order (they may be produced lazily, e.g. with
/// `std::iter::from_fn`; only a bounded number is held at once), `num_ctas` their count (it
/// sets how many SMs share the L2 and DRAM bandwidth).
pub fn simulate(
    config: &TimingConfig,
    ctas: impl IntoIterator<Item = CtaTrace>,
    num_ctas: u64,
) -> Result<Stats, TimingError> {
    let mut sim = Simulator::new(config, num_ctas)?;
    for cta in ctas {
        sim.push(cta)?;
    }
    sim.finish()
}

/// The issue timeline of one CTA alone on one SM (the others idle): every issued
/// warp-instruction with its cycle, in issue order, and the statistics.
pub fn issue_timeline(config: &TimingConfig, cta: CtaTrace) -> Result<(Stats, Vec<IssueRecord>), TimingError> {
    let mut sim = Simulator::new(config, 1)?;
    sim.record_issues();
    sim.push(cta)?;
    let (stats, mut logs) = sim.finish_with_timeline()?;
    Ok((stats, logs.swap_remove(0)))
}

/// Incremental form of [`simulate`]: push CTAs as the functional run produces them.
pub struct Simulator {
    cfg: TimingConfig,
    num_ctas: u64,
    resolved: Option<Resolved>,
    sms: Vec<SmSim>,
    l2: SectorCache,
    pushed: u64,
    buffered: usize,
    batch: usize,
    log_issues: bool,
    timeline: Option<TimelineSpec>,
    /// The static event of each instruction seen so far (see [`packed`]).
    protos: packed::Protos,
    /// Sampled timing: which SMs are simulated ([`Simulator::set_sample`]).
    sample: Option<sample::Sampler>,
    /// Sector lookups of the L2 pre-pass so far (counted for sampled timing only): [load hits,
    /// load misses, store hits, store misses].
    prepass: [u64; 4],
    /// [`Simulator::set_segment_events`]: events per warp in each part (0: CTAs whole), and the
    /// parts of the open CTAs not given yet, by linear index.
    segment_events: usize,
    held: std::collections::HashMap<u64, Vec<VecDeque<feed::WarpPart>>>,
    /// The bytes of the parts in `held`.
    held_bytes: usize,
    /// The most trace bytes held at once so far ([`Simulator::trace_peak_bytes`]), and where
    /// [`Simulator::finish`] stores it ([`Simulator::share_trace_peak`]).
    trace_peak: usize,
    trace_peak_out: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// Dynamic CTA dispatch (`gpu.cta_dispatch = "dynamic"`, [`Simulator::dispatch`]): the CTAs
    /// pushed and not given to an SM yet, in linear order, their trace bytes, and the SM that
    /// got the last CTA (where the round-robin among SMs asking at the same cycle starts after).
    pending: VecDeque<PreparedCta>,
    pending_bytes: usize,
    last_sm: usize,
}

/// The part of [`Simulator::push`] that depends on one CTA alone (checks, coalescing, packing),
/// to run where the trace is made (e.g. on the functional run's worker threads), so that only
/// the compact form travels and waits. Made by [`Simulator::preparer`].
#[derive(Clone)]
pub struct Preparer {
    cfg: TimingConfig,
    protos: packed::Protos,
    /// Sampled timing: per SM, whether its CTAs are not simulated (recorded light).
    untimed: Option<std::sync::Arc<Vec<bool>>>,
}

/// A CTA trace made ready by [`Preparer::prepare`], for [`Simulator::push_prepared`].
pub struct PreparedTrace {
    index: u64,
    ready: Result<PreparedCta, TimingError>,
    /// For a CTA recorded light (sampled timing, not simulated): its warp-instructions and
    /// those of its longest warp.
    light_work: Option<(u64, u64)>,
}

impl Preparer {
    /// Prepare the CTA that will be pushed `index`-th (its linear CTA index).
    pub fn prepare(&self, index: u64, cta: CtaTrace) -> PreparedTrace {
        let mut protos = self.protos.clone();
        PreparedTrace { index, ready: Simulator::prepare_with(&self.cfg, &mut protos, index, cta), light_work: None }
    }

    /// A recorder for the CTA that will be pushed `index`-th, of `warps` warps: the events it
    /// records give the [`PreparedTrace`] that [`Preparer::prepare`] gives for a [`CtaTrace`]
    /// of the same events, without storing them.
    pub fn recorder(&self, index: u64, warps: u32) -> CtaRecorder<'_> {
        let rec = CtaRecorder::new(&self.cfg, self.protos.clone(), index, warps);
        match &self.untimed {
            Some(u) if u[(index % u.len() as u64) as usize] => rec.light(),
            _ => rec,
        }
    }
}

impl Simulator {
    pub fn new(config: &TimingConfig, num_ctas: u64) -> Result<Simulator, TimingError> {
        config.validate()?;
        let m = &config.memory;
        Ok(Simulator {
            cfg: config.clone(),
            num_ctas,
            resolved: None,
            sms: Vec::new(),
            l2: SectorCache::new(m.l2_bytes, m.line_bytes, m.sector_bytes, m.l2_ways),
            pushed: 0,
            buffered: 0,
            batch: (config.gpu.num_sms as usize * 8).max(8),
            log_issues: false,
            timeline: None,
            protos: Default::default(),
            sample: None,
            prepass: [0; 4],
            segment_events: 0,
            held: Default::default(),
            held_bytes: 0,
            trace_peak: 0,
            trace_peak_out: None,
            pending: VecDeque::new(),
            pending_bytes: 0,
            last_sm: config.gpu.num_sms as usize - 1,
        })
    }

    /// Occupancy-relevant sizes of a CTA: (warp slots, registers per warp, shared bytes).
    fn sizes(&self, index: u64, cta: &CtaTrace) -> Result<(u32, u32, u32), TimingError> {
        Self::sizes_of(&self.cfg, index, cta)
    }

    fn sizes_of(cfg: &TimingConfig, index: u64, cta: &CtaTrace) -> Result<(u32, u32, u32), TimingError> {
        let c = &cfg.sm;
        let too = |reason: String| TimingError::CtaTooLarge { index, cta: cta.cta, reason };
        let threads = if cta.threads == 0 { cta.warps.len() as u32 * 32 } else { cta.threads };
        let nwarps = threads.div_ceil(32).max(cta.warps.len() as u32);
        if threads > c.max_threads_per_cta {
            return Err(too(format!("{threads} threads > sm.max_threads_per_cta = {}", c.max_threads_per_cta)));
        }
        if nwarps > c.max_warps {
            return Err(too(format!("{nwarps} warps > sm.max_warps = {}", c.max_warps)));
        }
        if threads > c.max_threads {
            return Err(too(format!("{threads} threads > sm.max_threads = {}", c.max_threads)));
        }
        if cta.regs_per_thread > 255 {
            return Err(too(format!("{} registers per thread > 255", cta.regs_per_thread)));
        }
        let unit = c.reg_alloc_unit;
        let regs_per_warp = (cta.regs_per_thread.max(1) * 32).div_ceil(unit) * unit;
        if regs_per_warp as u64 * nwarps as u64 > c.registers as u64 {
            return Err(too(format!(
                "{} registers ({} per warp) > sm.registers = {}",
                regs_per_warp as u64 * nwarps as u64,
                regs_per_warp,
                c.registers
            )));
        }
        let smem = cta.shared_bytes.div_ceil(c.shared_alloc_unit) * c.shared_alloc_unit;
        if smem > c.max_shared_bytes {
            return Err(too(format!("{smem} bytes of shared memory > sm.max_shared_bytes = {}", c.max_shared_bytes)));
        }
        Ok((nwarps, regs_per_warp, smem))
    }

    /// Check that a CTA of `threads` threads, `regs_per_thread` registers and `shared_bytes`
    /// bytes of shared memory can be resident on an SM (the check [`Simulator::push`] makes),
    /// without pushing anything: lets a caller reject a launch before running it.
    pub fn check_fits(&self, threads: u32, regs_per_thread: u32, shared_bytes: u32) -> Result<(), TimingError> {
        let cta = CtaTrace { cta: [0; 3], warps: Vec::new(), shared_bytes, regs_per_thread, threads };
        self.sizes(self.pushed, &cta).map(|_| ())
    }

    /// The most CTAs of this shape the model's GPU holds at once: its SMs times the CTAs one SM
    /// can hold by warps, threads, registers and shared memory (`max_trace_bytes` is shared
    /// among them, `otc-sim`'s watchdog). At least 1.
    pub fn resident_ctas(&self, threads: u32, regs_per_thread: u32, shared_bytes: u32) -> Result<u64, TimingError> {
        let cta = CtaTrace { cta: [0; 3], warps: Vec::new(), shared_bytes, regs_per_thread, threads };
        let (nwarps, regs_per_warp, smem) = self.sizes(self.pushed, &cta)?;
        let c = &self.cfg.sm;
        let mut per_sm = c
            .max_ctas
            .min(c.max_warps / nwarps.max(1))
            .min(c.max_threads / threads.max(1))
            .min(c.registers / (regs_per_warp * nwarps).max(1));
        if let Some(by_shared) = c.max_shared_bytes.checked_div(smem) {
            per_sm = per_sm.min(by_shared);
        }
        Ok(per_sm.max(1) as u64 * self.cfg.gpu.num_sms as u64)
    }

    /// Decide the shared-memory carve-out from the first CTA: the smallest carve-out that holds
    /// the shared memory of as many CTAs as the other limits allow; the rest is L1.
    fn resolve(&mut self, nwarps: u32, threads: u32, regs_per_warp: u32, smem: u32) {
        let c = &self.cfg;
        let by_other =
            c.sm.max_ctas
                .min(c.sm.max_warps / nwarps.max(1))
                .min(c.sm.max_threads / threads.max(1))
                .min(c.sm.registers / (regs_per_warp * nwarps).max(1))
                .max(1);
        let want = (smem as u64 * by_other as u64).min(c.sm.max_shared_bytes as u64);
        let mut options: Vec<u64> = c.sm.shared_carveouts_kb.iter().map(|&k| k as u64 * 1024).collect();
        options.sort_unstable();
        let carve = options
            .iter()
            .copied()
            .find(|&o| o >= want.max(smem as u64))
            .unwrap_or_else(|| *options.last().unwrap())
            .max(smem as u64)
            .min(c.sm.max_shared_bytes as u64);
        let l1_bytes = (c.sm.l1_shared_bytes as u64).saturating_sub(carve);
        let active = (c.gpu.num_sms as u64).min(self.num_ctas.max(1)) as f64;
        let cap = c.memory.sm_max_bytes_per_cycle as f64;
        let bytes_per_cycle = |gbs: f64| (gbs * 1000.0 / c.gpu.clock_mhz / active).min(cap);
        let mc = |gbs: f64| ((c.memory.sector_bytes as f64 * 1000.0 / bytes_per_cycle(gbs)).round() as u64).max(1);
        let form_timing = c.form_timings();
        let resolved = Resolved {
            cfg: c.clone(),
            forms: sm::FormStatic::table(c, &form_timing),
            bank_of: sm::bank_tables(c.regfile.banks).0,
            bank_split: sm::bank_tables(c.regfile.banks).1,
            read_cycles: sm::read_cycles_table(c.regfile.reads_per_bank),
            l2_mc_per_sector: mc(c.memory.l2_bandwidth_gbs),
            dram_mc_per_sector: mc(c.memory.dram_bandwidth_gbs),
            shared_capacity: carve as u32,
            l1_bytes,
            dispatch_shape: (c.gpu.cta_dispatch == CtaDispatch::Dynamic).then_some(sm::CtaShape {
                nwarps,
                threads,
                regs_per_warp,
                smem,
            }),
        };
        self.sms = (0..c.gpu.num_sms).map(|_| SmSim::new(&resolved)).collect();
        if self.log_issues {
            for sm in &mut self.sms {
                sm.log = Some(Vec::new());
            }
        }
        if let Some(spec) = &self.timeline {
            for &i in &spec.sms {
                if let Some(sm) = self.sms.get_mut(i as usize) {
                    sm.timeline = Some(Box::new(timeline::Recorder::new(i, spec, c.sm.sub_cores as usize)));
                }
            }
        }
        self.resolved = Some(resolved);
    }

    /// Add the next CTA (in linear CTA order).
    pub fn push(&mut self, cta: CtaTrace) -> Result<(), TimingError> {
        let index = self.pushed;
        let ready = Self::prepare_with(&self.cfg, &mut self.protos, index, cta);
        self.push_prepared(PreparedTrace { index, ready, light_work: None })
    }

    /// Checks that the machine has every instruction of the launch (`templates`, index =
    /// pc / 16): [`TimingError::Unsupported`] names the first it lacks.
    pub fn check_program(&self, templates: &[EventTemplate]) -> Result<(), TimingError> {
        for (i, t) in templates.iter().enumerate() {
            if let Some(reason) = unsupported(&self.cfg, t.proto()) {
                return Err(TimingError::Unsupported { pc: i as u32 * trace::INSTRUCTION_BYTES, reason });
            }
        }
        Ok(())
    }

    /// A [`Preparer`] for this simulator: it does the part of [`Simulator::push`] that depends
    /// on one CTA alone, on any thread; `templates` are the launch's instructions (index =
    /// pc / 16), against which traces are packed.
    pub fn preparer(&self, templates: &[EventTemplate]) -> Preparer {
        let protos = templates
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut e = Event { pc: (i as u32).wrapping_mul(trace::INSTRUCTION_BYTES), ..*t.proto() };
                // the addresses go to the warp's access streams, never into the event
                if let EventKind::Mem { addrs, .. } = &mut e.kind {
                    *addrs = u32::MAX;
                }
                Some(e)
            })
            .collect();
        let untimed = self.sample.as_ref().map(|s| std::sync::Arc::new(s.timed.iter().map(|t| !t).collect()));
        Preparer { cfg: self.cfg.clone(), protos: std::sync::Arc::new(protos), untimed }
    }

    /// Add the next CTA, prepared by [`Preparer::prepare`] with its index in linear CTA order
    /// (the same result as [`Simulator::push`] of its trace).
    pub fn push_prepared(&mut self, p: PreparedTrace) -> Result<(), TimingError> {
        let index = self.pushed;
        assert_eq!(p.index, index, "CTAs are pushed in linear CTA order");
        let mut ready = p.ready?;
        self.admit(index, &ready)?;
        let before = self.prepass;
        ready.gmem = self
            .l2_lookup(&mut ready.sectors, &ready.accesses, &ready.protos)
            .map_err(|_| TimingError::OutOfMemory { what: format!("the sector streams of CTA {index}") })?;
        ready.sectors = Vec::new();
        ready.accesses = Vec::new();
        let sm = (index % self.cfg.gpu.num_sms as u64) as usize;
        self.pushed += 1;
        if let Some(s) = &mut self.sample {
            let lens = ready.packed.iter().map(|p| p.len() as u64);
            let (work, longest) = p.light_work.unwrap_or_else(|| (lens.clone().sum(), lens.max().unwrap_or(0)));
            let prepass = std::array::from_fn(|i| self.prepass[i] - before[i]);
            let timed = s.place(sm, ready.trace.warps.len() as u64, (work, longest), prepass);
            debug_assert!(timed != p.light_work.is_some(), "CTA {index}: recorded light exactly when not timed");
            if !timed {
                return Ok(()); // not timed: it only went through the L2 pre-pass
            }
        }
        if self.segment_events > 0 {
            // queued with no events; its SM asks for them part by part (`Simulator::serve`)
            let parts = feed::split(&mut ready, self.segment_events)
                .map_err(|_| TimingError::OutOfMemory { what: format!("the parts of CTA {index}") })?;
            let mut f = feed::Feed::new(index, parts.len());
            for (w, p) in parts.iter().enumerate() {
                f.give(w, None, p.is_empty());
            }
            ready.feed = Some(Box::new(f));
            self.held_bytes += parts.iter().flatten().map(feed::WarpPart::heap_bytes).sum::<usize>();
            self.held.insert(index, parts);
        }
        if let Some(shape) = r_shape(&self.resolved) {
            if sm::CtaShape::of(&ready) != shape {
                return Err(TimingError::Config(ConfigError::Invalid {
                    key: "gpu.cta_dispatch".into(),
                    message: format!(
                        "\"dynamic\" needs every CTA of a launch to take the same resources, but CTA {index} \
                         takes {:?} and the first {:?}",
                        sm::CtaShape::of(&ready),
                        shape
                    ),
                }));
            }
            self.pending_bytes += ready.count_bytes();
            self.pending.push_back(ready);
        } else {
            self.sms[sm].enqueue(ready);
        }
        self.note_trace_bytes();
        self.buffered += 1;
        if self.buffered >= self.batch {
            self.advance();
        }
        Ok(())
    }

    /// Resolve the SMs from the first CTA; check that CTA `index` fits the carve-out.
    fn admit(&mut self, index: u64, ready: &PreparedCta) -> Result<(), TimingError> {
        if self.resolved.is_none() {
            self.resolve(ready.nwarps, ready.trace.threads, ready.regs_per_warp, ready.smem);
        }
        let r = self.resolved.as_ref().unwrap();
        if ready.smem > r.shared_capacity {
            return Err(TimingError::CtaTooLarge {
                index,
                cta: ready.trace.cta,
                reason: format!("{} bytes of shared memory > the carve-out of {} bytes", ready.smem, r.shared_capacity),
            });
        }
        Ok(())
    }

    /// Everything of a push that depends on the CTA alone: checks, coalescing into sectors,
    /// dropping the addresses the model no longer reads, packing the events.
    fn prepare_with(
        cfg: &TimingConfig,
        protos: &mut packed::Protos,
        index: u64,
        cta: CtaTrace,
    ) -> Result<PreparedCta, TimingError> {
        Self::sizes_of(cfg, index, &cta)?;
        Self::check_trace(index, &cta)?;
        for e in cta.warps.iter().flat_map(|w| &w.events) {
            if let Some(reason) = unsupported(cfg, e) {
                return Err(TimingError::Unsupported { pc: e.pc, reason });
            }
        }
        let mut rec = CtaRecorder::new(cfg, std::mem::take(protos), index, cta.warps.len() as u32);
        record_trace(&mut rec, &cta);
        let (prepared, grown) = rec.finish_with(cta.cta, cta.shared_bytes, cta.regs_per_thread, cta.threads)?;
        *protos = grown;
        Ok(prepared)
    }

    fn check_trace(index: u64, cta: &CtaTrace) -> Result<(), TimingError> {
        let nforms = otc_isa::FORMS.len();
        for wt in &cta.warps {
            for (i, e) in wt.events.iter().enumerate() {
                let bad = |reason: String| TimingError::BadTrace { index, warp: wt.warp_in_cta, event: i, reason };
                if e.form as usize >= nforms {
                    return Err(bad(format!("form {} is not in otc_isa::FORMS", e.form)));
                }
                if let EventKind::Mem { addrs, .. } = e.kind {
                    let end = addrs as usize + e.executed.count_ones() as usize;
                    if end > wt.addrs.len() {
                        return Err(bad(format!(
                            "memory event needs addresses {}..{end} but the warp has {}",
                            addrs,
                            wt.addrs.len()
                        )));
                    }
                }
                if let otc_isa::Class::Memory(_) = trace::class_of(e.form as usize) {
                    if !matches!(e.kind, EventKind::Mem { .. }) {
                        return Err(bad(format!("{} needs an EventKind::Mem payload", trace::mnemonic(e.form))));
                    }
                }
            }
        }
        Ok(())
    }

    /// The L2 pre-pass: look the sectors of every executed global/local access of the CTA (from
    /// [`cta_sectors`]) up in the GPU-wide L2, warps interleaved access by access, CTAs in push
    /// order; each sector becomes `sector << 1 | l2_hit`.
    fn l2_lookup(
        &mut self,
        sectors: &mut [VecDeque<Vec<u8>>],
        accesses: &[usize],
        protos: &packed::Protos,
    ) -> Result<Vec<VecDeque<Vec<u8>>>, access_stream::StreamOutOfMemory> {
        let counting = self.sample.is_some();
        let longest = accesses.iter().copied().max().unwrap_or(0);
        let mut readers = vec![access_stream::AccessReader::default(); sectors.len()];
        let mut out: Vec<_> = (0..sectors.len()).map(|_| access_stream::AccessEncoder::new(false, true)).collect();
        let mut buf = Vec::new();
        for k in 0..longest {
            for w in 0..sectors.len() {
                if k >= accesses[w] {
                    continue;
                }
                let pc = readers[w].next(&mut sectors[w], None, false, &mut buf);
                let store = counting
                    && matches!(
                        protos.get((pc / trace::INSTRUCTION_BYTES) as usize),
                        Some(Some(Event { kind: EventKind::Mem { op: MemOp::Store, .. }, .. }))
                    );
                for s in &mut buf {
                    let hit = self.l2.access(*s);
                    if counting {
                        self.prepass[(store as usize) << 1 | !hit as usize] += 1;
                    }
                    *s = *s << 1 | hit as u64;
                }
                out[w].push(pc, &buf);
            }
        }
        out.into_iter().map(|e| e.finish()).collect()
    }

    /// Run every SM as far as the CTAs pushed so far allow (serving the SMs that ask for
    /// events, [`feed`], and running them on).
    fn advance(&mut self) {
        self.buffered = 0;
        if r_shape(&self.resolved).is_some() {
            self.dispatch();
        } else {
            let all = vec![true; self.sms.len()];
            self.run_serving(&all);
        }
    }

    /// Run the SMs `go[i]` (in parallel) until each needs a CTA or is done, serving those that
    /// ask for events ([`feed`]); per SM, whether it stopped asking for a CTA.
    fn run_serving(&mut self, go: &[bool]) -> Vec<bool> {
        let Some(r) = self.resolved.as_ref() else { return vec![false; self.sms.len()] };
        let run = |sm: &mut SmSim| match sm.run(r) {
            RunStatus::NeedEvents(cta) => (Some(cta), false),
            RunStatus::NeedCta => (None, true),
            RunStatus::Finished => (None, false),
        };
        let mut out: Vec<(Option<u64>, bool)> =
            self.sms.par_iter_mut().zip(go).map(|(sm, &g)| if g { run(sm) } else { (None, false) }).collect();
        while out.iter().any(|o| o.0.is_some()) {
            for (sm, o) in out.iter().enumerate() {
                if let Some(cta) = o.0 {
                    Self::serve(&mut self.held, &mut self.held_bytes, r, &mut self.sms[sm], cta);
                }
            }
            out = self.sms.par_iter_mut().zip(out).map(|(sm, o)| if o.0.is_some() { run(sm) } else { o }).collect();
        }
        out.into_iter().map(|o| o.1).collect()
    }

    /// Dynamic CTA dispatch (`gpu.cta_dispatch = "dynamic"`; docs/timing.md section 3.1): give
    /// the queued CTAs, in linear order, each to the SM asking for a CTA at the earliest cycle
    /// (ties: round-robin after the SM that got the previous CTA). Every SM first runs until it
    /// asks (an SM asks when a CTA of the launch's shape fits it); then the SMs asking at the
    /// earliest cycle get one CTA each in round-robin order and run (in parallel) until they
    /// ask again; and so on until the queue is empty. Exact: no SM can ask earlier than those
    /// asking, since every other SM is stopped at a later request. The SMs asking at one cycle
    /// run together; after the first wave that is mostly one SM at a time.
    fn dispatch(&mut self) {
        let n = self.sms.len();
        let mut asking = self.run_serving(&vec![true; n]);
        while !self.pending.is_empty() {
            let Some(t) = (0..n).filter(|&i| asking[i]).map(|i| self.sms[i].t).min() else { break };
            let mut go = vec![false; n];
            let after = self.last_sm;
            for k in 1..=n {
                let i = (after + k) % n;
                if !asking[i] || self.sms[i].t != t {
                    continue;
                }
                let Some(mut p) = self.pending.pop_front() else { break };
                self.pending_bytes -= p.count_bytes();
                self.sms[i].enqueue(p);
                self.last_sm = i;
                go[i] = true;
            }
            let again = self.run_serving(&go);
            for i in 0..n {
                if go[i] {
                    asking[i] = again[i];
                }
            }
        }
    }

    /// Run the SMs to their end: no CTA comes after those pushed.
    fn drain(&mut self) {
        if r_shape(&self.resolved).is_some() {
            self.dispatch();
        }
        for sm in &mut self.sms {
            sm.stream_done = true;
        }
        self.buffered = 0;
        let all = vec![true; self.sms.len()];
        self.run_serving(&all);
    }

    /// Give the open CTA `index` on `sm` the next part of each of its warps' held events (all
    /// of them end when none are held, so that a run always progresses).
    fn serve(
        held: &mut std::collections::HashMap<u64, Vec<VecDeque<feed::WarpPart>>>,
        held_bytes: &mut usize,
        r: &Resolved,
        sm: &mut SmSim,
        index: u64,
    ) {
        let (parts, last) = match held.get_mut(&index) {
            Some(warps) => {
                let parts: Vec<_> = warps.iter_mut().map(|q| q.pop_front()).collect();
                *held_bytes -= parts.iter().flatten().map(feed::WarpPart::heap_bytes).sum::<usize>();
                let last: Vec<bool> = warps.iter().map(|q| q.is_empty()).collect();
                if last.iter().all(|&l| l) {
                    held.remove(&index);
                }
                (parts, last)
            }
            None => (Vec::new(), Vec::new()),
        };
        sm.append(r, index, parts, &last, None);
    }

    /// Co-simulation (docs/timing.md "Bounding it"): queue the next CTA in linear CTA order on
    /// its SM *open*, with its resources and no events; its SM asks for them
    /// ([`Simulator::run_sms`]) and [`Simulator::give`] hands them over as the functional run
    /// makes them. `preparer` is this simulator's; the arguments are those of
    /// [`CtaRecorder::finish`]. Not with sampled timing, nor with dynamic CTA dispatch (which
    /// places a CTA only when an SM frees up: [`Simulator::dispatches_dynamically`]).
    pub fn open(
        &mut self,
        preparer: &Preparer,
        cta: [u32; 3],
        shared_bytes: u32,
        regs_per_thread: u32,
        threads: u32,
    ) -> Result<(), TimingError> {
        if self.dispatches_dynamically() {
            return Err(TimingError::Config(ConfigError::Invalid {
                key: "gpu.cta_dispatch".into(),
                message: "co-simulation places CTAs statically; this machine has \"dynamic\"".into(),
            }));
        }
        let index = self.pushed;
        let warps = threads.div_ceil(32);
        let rec = CtaRecorder::new(&self.cfg, preparer.protos.clone(), index, warps);
        let (mut ready, _) = rec.finish_with(cta, shared_bytes, regs_per_thread, threads)?;
        self.admit(index, &ready)?;
        ready.sectors = Vec::new();
        ready.accesses = Vec::new();
        ready.gmem = (0..warps).map(|_| VecDeque::new()).collect();
        ready.feed = Some(Box::new(feed::Feed::new(index, warps as usize)));
        let sm = (index % self.cfg.gpu.num_sms as u64) as usize;
        self.pushed += 1;
        self.sms[sm].enqueue(ready);
        self.note_trace_bytes();
        Ok(())
    }

    /// Run every SM until it needs a CTA or events, or is done: per SM, in SM order, what it
    /// asks for (co-simulation; see [`Simulator::open`]).
    pub fn run_sms(&mut self) -> Vec<Request> {
        let Some(r) = self.resolved.as_ref() else { return Vec::new() };
        self.sms
            .par_iter_mut()
            .map(|sm| match sm.run(r) {
                RunStatus::NeedEvents(cta) => Request::Events(cta),
                RunStatus::NeedCta => Request::Cta,
                RunStatus::Finished => Request::Done,
            })
            .collect()
    }

    /// No CTA is opened after those so far (co-simulation): the SMs run to their end.
    pub fn end_stream(&mut self) {
        for sm in &mut self.sms {
            sm.stream_done = true;
        }
    }

    /// Give the open CTA of linear index `index` the events its recorder cut (`seg`);
    /// `ended[w]`: warp `w` records nothing after them. Its global and local accesses are looked
    /// up in the L2 now (the L2 sees the segments in the order they are given, the warps of a
    /// segment interleaved access by access).
    pub fn give(&mut self, index: u64, mut seg: Segment, ended: &[bool]) -> Result<(), TimingError> {
        let gmem = self
            .l2_lookup(&mut seg.sectors, &seg.accesses, &seg.protos)
            .map_err(|_| TimingError::OutOfMemory { what: format!("the sector streams of CTA {index}") })?;
        let parts = seg
            .packed
            .into_iter()
            .zip(gmem)
            .zip(seg.lane_addrs)
            .map(|((packed, gmem), lane_addrs)| {
                (packed.len() > 0).then_some(feed::WarpPart { packed, gmem, lane_addrs })
            })
            .collect();
        let sm = (index % self.cfg.gpu.num_sms as u64) as usize;
        let Some(r) = self.resolved.as_ref() else { return Ok(()) };
        self.sms[sm].append(r, index, parts, ended, Some(seg.protos));
        self.note_trace_bytes();
        Ok(())
    }

    /// Take the trace bytes held now into the peak. Called after each addition (a CTA queued,
    /// a part given): the SMs only drop bytes while they run, so the peak is at one of these.
    fn note_trace_bytes(&mut self) {
        let now = self.held_bytes + self.pending_bytes + self.sms.iter().map(|sm| sm.trace_bytes).sum::<usize>();
        self.trace_peak = self.trace_peak.max(now);
    }

    /// The most bytes of CTA traces the model has held at once so far: over the CTAs queued
    /// and resident on the SMs (and parts held back by [`Simulator::set_segment_events`]),
    /// their packed events and access streams, each part counted from when it is added until
    /// its warp moves past it or its CTA retires. Not a statistic (it depends on how CTAs are
    /// fed: batch size, co-simulation); what bounds the model's memory (docs/timing.md).
    pub fn trace_peak_bytes(&self) -> u64 {
        self.trace_peak as u64
    }

    /// [`Simulator::finish`] stores [`Simulator::trace_peak_bytes`] in `cell` (for a caller
    /// that hands the simulator away, e.g. to a thread of its own).
    pub fn share_trace_peak(&mut self, cell: std::sync::Arc<std::sync::atomic::AtomicU64>) {
        self.trace_peak_out = Some(cell);
    }

    /// Feed every CTA (of the timed SMs) to its SM in parts of `events` events per warp, each
    /// given only when the SM asks for it (0: whole CTAs, the default). A check of the
    /// co-simulation's suspend point ([`feed`]): the statistics are those of whole CTAs.
    pub fn set_segment_events(&mut self, events: usize) {
        self.segment_events = events;
    }

    /// Time only the CTAs of `sms` spread-out SMs (0: one in [`sample::DEFAULT_FRACTION`],
    /// at least 2; every CTA still goes through the L2 pre-pass) and extrapolate the statistics
    /// from them ([`sample`]; [`Stats::sample`] says what was timed). Call before the first push.
    /// Refused with dynamic CTA dispatch (sampling picks SMs by static placement).
    pub fn set_sample(&mut self, sms: u32) -> Result<(), TimingError> {
        if self.dispatches_dynamically() {
            return Err(TimingError::Config(ConfigError::Invalid {
                key: "gpu.cta_dispatch".into(),
                message: "sampled timing needs static CTA placement (\"static\"); this machine has \"dynamic\"".into(),
            }));
        }
        let mut s = sample::Sampler::new(sms);
        let num_sms = self.cfg.gpu.num_sms;
        s.resolve(num_sms, (num_sms as u64).min(self.num_ctas.max(1)) as u32, self.num_ctas);
        self.sample = Some(s);
        Ok(())
    }

    /// Whether CTAs go to SMs as they free up (`gpu.cta_dispatch = "dynamic"`), not by index.
    pub fn dispatches_dynamically(&self) -> bool {
        self.cfg.gpu.cta_dispatch == CtaDispatch::Dynamic
    }

    /// How many CTAs are buffered before the SMs are advanced (default 8 per SM). Results do
    /// not depend on it; memory use and parallelism do.
    pub fn set_batch(&mut self, ctas: usize) {
        self.batch = ctas.max(1);
    }

    /// Record the cycle of every issue (see [`Simulator::finish_with_timeline`]). Call before
    /// the first push.
    pub fn record_issues(&mut self) {
        self.log_issues = true;
        for sm in &mut self.sms {
            sm.log.get_or_insert_with(Vec::new);
        }
    }

    /// Record a timeline (see [`timeline`]) of cycles `spec.from..spec.to` on the SMs
    /// `spec.sms` (those beyond the GPU's are ignored); it comes back in [`Stats::timeline`].
    /// Call before the first push. Statistics do not depend on it.
    pub fn record_timeline(&mut self, spec: TimelineSpec) {
        self.timeline = Some(spec);
    }

    /// Finish and also return the issue timeline of every SM (SM order, then issue order).
    pub fn finish_with_timeline(mut self) -> Result<(Stats, Vec<Vec<IssueRecord>>), TimingError> {
        self.drain();
        let logs = self.sms.iter_mut().map(|sm| sm.log.take().unwrap_or_default()).collect();
        Ok((self.finish()?, logs))
    }

    /// Finish the kernel and return its statistics.
    pub fn finish(mut self) -> Result<Stats, TimingError> {
        self.drain();
        debug_assert!(
            self.held_bytes == 0 && self.pending_bytes == 0 && self.sms.iter().all(|sm| sm.trace_bytes == 0),
            "every trace byte counted is taken off when its CTA retires"
        );
        if let Some(cell) = &self.trace_peak_out {
            cell.store(self.trace_peak as u64, std::sync::atomic::Ordering::Relaxed);
        }
        let mut total = SmStats::new(otc_isa::FORMS.len());
        let mut cycles = Vec::with_capacity(self.cfg.gpu.num_sms as usize);
        let mut rows = Vec::new();
        let mut events = Vec::new();
        // sampled timing: SM 0's statistics and per-pc rows apart from the others'
        let (mut first, mut rows_first) = (SmStats::new(otc_isa::FORMS.len()), Vec::new());
        for (i, sm) in self.sms.iter_mut().enumerate() {
            if i == 0 && self.sample.is_some() {
                first.add(&sm.stats);
                by_pc::add_rows(&mut rows_first, &sm.by_pc);
            } else {
                total.add(&sm.stats);
                by_pc::add_rows(&mut rows, &sm.by_pc);
            }
            cycles.push(sm.end);
            if let Some(tl) = sm.timeline.take() {
                events.extend(tl.finish());
            }
        }
        if self.sms.is_empty() {
            cycles = vec![0; self.cfg.gpu.num_sms as usize];
        }
        let mut sample = None;
        if let Some(s) = &self.sample {
            let (scaled, predicted, described) = s.extrapolate(&first, &total, &cycles);
            let alone = described.warp_instructions_timed <= described.warp_instructions_sm0;
            if !described.exact {
                for row in rows.iter_mut().chain(rows_first.iter_mut().filter(|_| alone)) {
                    for v in row.iter_mut() {
                        *v = (*v as f64 * described.scale).round() as u64;
                    }
                }
            }
            by_pc::add_rows(&mut rows, &rows_first);
            (total, cycles, sample) = (scaled, predicted, Some(described));
        }
        let mut stats = Stats::build(&total, cycles, self.cfg.gpu.clock_mhz, self.cfg.sm.sub_cores);
        stats.by_pc = rows;
        stats.sample = sample;
        if let Some(spec) = self.timeline.take() {
            stats.timeline = Some(Timeline { from: spec.from, to: spec.to, sms: spec.sms, events });
        }
        Ok(stats)
    }
}

/// The launch's CTA shape under dynamic dispatch (None: static placement or not resolved yet).
fn r_shape(r: &Option<Resolved>) -> Option<sm::CtaShape> {
    r.as_ref().and_then(|r| r.dispatch_shape)
}
