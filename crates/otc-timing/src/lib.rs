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
//! - CTAs are placed statically: the i-th CTA pushed goes to SM `i % num_sms`; each SM runs its
//!   CTAs in order, as many at once as registers, shared memory, warp slots, threads and the CTA
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
pub mod config;
mod forms;
pub mod memory;
mod packed;
mod sm;
pub mod stats;
pub mod trace;

use rayon::prelude::*;

pub use config::{ConfigError, ConfigValue, SchedulerPolicy, TimingConfig, KEYS};
pub use stats::{Reason, Stats};
pub use trace::{
    sparse_landing, AccbOp, BarOp, CtaTrace, Event, EventKind, EventTemplate, MemOp, MemSpace, RegGroup, TensorOp,
    WarpTrace,
};

use memory::{coalesce, SectorCache};
pub use sm::IssueRecord;
use sm::{PreparedCta, Resolved, RunStatus, SmSim};
use stats::SmStats;

/// Errors of a simulation.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TimingError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("CTA {index} ({cta:?}) cannot be resident on an SM: {reason}")]
    CtaTooLarge { index: u64, cta: [u32; 3], reason: String },
    #[error("bad trace: CTA {index}, warp {warp}, event {event}: {reason}")]
    BadTrace { index: u64, warp: u32, event: usize, reason: String },
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
    sectors_scratch: Vec<u64>,
    log_issues: bool,
    /// The static event of each instruction seen so far (see [`packed`]).
    protos: packed::Protos,
}

/// After the L2 pre-pass a plain global or local load or store is timed from its sectors alone;
/// only shared, constant and atomic accesses still read their lanes' addresses. Keep just
/// those (a resident CTA's trace is held until the CTA completes, and the addresses are about
/// half of a GEMM's trace); a dropped event's [`WarpTrace::addresses`] is empty.
fn keep_needed_addresses(wt: &mut WarpTrace) {
    let mut kept: Vec<u64> = Vec::new();
    for e in wt.events.iter_mut() {
        let needed = match forms::form_info(e.form as usize).class {
            forms::Class::Mem { space, op } => {
                matches!(space, MemSpace::Shared | MemSpace::Const) || matches!(op, MemOp::Atomic | MemOp::Reduction)
            }
            _ => false,
        };
        let n = e.executed.count_ones() as usize;
        if let EventKind::Mem { addrs, .. } = &mut e.kind {
            let start = *addrs as usize;
            if needed {
                *addrs = kept.len() as u32;
                kept.extend_from_slice(wt.addrs.get(start..start + n).unwrap_or(&[]));
            } else {
                *addrs = u32::MAX;
            }
        }
    }
    wt.addrs = kept;
}

/// Local memory is interleaved by 4-byte words across the 32 lanes of a warp (like the hardware's
/// local-memory layout) in a private region per warp, so same-offset accesses coalesce.
const LOCAL_BASE: u64 = 0xC000_0000_0000_0000;

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
            sectors_scratch: Vec::new(),
            log_issues: false,
            protos: Default::default(),
        })
    }

    /// Occupancy-relevant sizes of a CTA: (warp slots, registers per warp, shared bytes).
    fn sizes(&self, index: u64, cta: &CtaTrace) -> Result<(u32, u32, u32), TimingError> {
        let c = &self.cfg.sm;
        let too = |reason: String| TimingError::CtaTooLarge { index, cta: cta.cta, reason };
        let threads = if cta.threads == 0 { cta.warps.len() as u32 * 32 } else { cta.threads };
        let nwarps = threads.div_ceil(32).max(cta.warps.len() as u32);
        if threads > c.max_threads_per_cta {
            return Err(too(format!("{threads} threads > sm.max_threads_per_cta = {}", c.max_threads_per_cta)));
        }
        if nwarps > c.max_warps || threads > c.max_threads {
            return Err(too(format!("{nwarps} warps > sm.max_warps = {}", c.max_warps)));
        }
        if cta.regs_per_thread > 255 {
            return Err(too(format!("{} registers per thread > 255", cta.regs_per_thread)));
        }
        let unit = c.reg_alloc_unit;
        let regs_per_warp = (cta.regs_per_thread.max(1) * 32).div_ceil(unit) * unit;
        if regs_per_warp as u64 * nwarps as u64 > c.registers as u64 {
            return Err(too(format!(
                "{} registers ({} per warp) > sm.registers = {}",
                regs_per_warp * nwarps,
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
        let resolved = Resolved {
            cfg: c.clone(),
            form_timing: c.form_timings(),
            l2_mc_per_sector: mc(c.memory.l2_bandwidth_gbs),
            dram_mc_per_sector: mc(c.memory.dram_bandwidth_gbs),
            shared_capacity: carve as u32,
            l1_bytes,
        };
        self.sms = (0..c.gpu.num_sms).map(|_| SmSim::new(&resolved)).collect();
        if self.log_issues {
            for sm in &mut self.sms {
                sm.log = Some(Vec::new());
            }
        }
        self.resolved = Some(resolved);
    }

    /// Add the next CTA (in linear CTA order).
    pub fn push(&mut self, cta: CtaTrace) -> Result<(), TimingError> {
        let index = self.pushed;
        let (nwarps, regs_per_warp, smem) = self.sizes(index, &cta)?;
        self.check_trace(index, &cta)?;
        if self.resolved.is_none() {
            let threads = if cta.threads == 0 { cta.warps.len() as u32 * 32 } else { cta.threads };
            self.resolve(nwarps, threads, regs_per_warp, smem);
        }
        let r = self.resolved.as_ref().unwrap();
        if smem > r.shared_capacity {
            return Err(TimingError::CtaTooLarge {
                index,
                cta: cta.cta,
                reason: format!("{smem} bytes of shared memory > the carve-out of {} bytes", r.shared_capacity),
            });
        }
        let mut cta = cta;
        if cta.threads == 0 {
            cta.threads = cta.warps.len() as u32 * 32;
        }
        let (sectors, starts) = self.l2_pass(index, &cta);
        let mut packed = Vec::with_capacity(cta.warps.len());
        for wt in &mut cta.warps {
            keep_needed_addresses(wt);
            packed.push(packed::Packed::pack(wt, &mut self.protos));
        }
        let protos = self.protos.clone();
        let p = PreparedCta { trace: cta, packed, protos, sectors, starts, regs_per_warp, smem, nwarps };
        let sm = (index % self.cfg.gpu.num_sms as u64) as usize;
        self.sms[sm].queue.push_back(p);
        self.pushed += 1;
        self.buffered += 1;
        if self.buffered >= self.batch {
            self.advance();
        }
        Ok(())
    }

    fn check_trace(&self, index: u64, cta: &CtaTrace) -> Result<(), TimingError> {
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
                let class = forms::form_info(e.form as usize).class;
                if let forms::Class::Mem { .. } = class {
                    if !matches!(e.kind, EventKind::Mem { .. }) {
                        return Err(bad(format!("{} needs an EventKind::Mem payload", trace::mnemonic(e.form))));
                    }
                }
            }
        }
        Ok(())
    }

    /// The L2 pre-pass: coalesce every executed global/local access of the CTA and look its
    /// sectors up in the GPU-wide L2, warps interleaved access by access, CTAs in push order.
    fn l2_pass(&mut self, index: u64, cta: &CtaTrace) -> (Vec<Vec<u64>>, Vec<Vec<u32>>) {
        let m = &self.cfg.memory;
        let (sector_bytes, line_bytes) = (m.sector_bytes, m.line_bytes);
        let lists: Vec<Vec<usize>> = cta
            .warps
            .iter()
            .map(|wt| {
                wt.events
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| {
                        e.executed != 0
                            && matches!(e.kind, EventKind::Mem { space: MemSpace::Global | MemSpace::Local, .. })
                    })
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let mut sectors: Vec<Vec<u64>> = vec![Vec::new(); cta.warps.len()];
        let mut starts: Vec<Vec<u32>> = lists.iter().map(|l| Vec::with_capacity(l.len() + 1)).collect();
        let longest = lists.iter().map(|l| l.len()).max().unwrap_or(0);
        let mut addrs_buf: Vec<u64> = Vec::new();
        let mut scratch = std::mem::take(&mut self.sectors_scratch);
        for k in 0..longest {
            for (w, wt) in cta.warps.iter().enumerate() {
                let Some(&ei) = lists[w].get(k) else { continue };
                let e = &wt.events[ei];
                let EventKind::Mem { space, bytes, .. } = e.kind else { continue };
                let addrs = wt.addresses(e);
                let addrs: &[u64] = if space == MemSpace::Local {
                    let gw = index.wrapping_mul(1024).wrapping_add(wt.warp_in_cta as u64);
                    let base = LOCAL_BASE ^ gw.wrapping_shl(32);
                    addrs_buf.clear();
                    let mut mask = e.executed;
                    for &o in addrs {
                        let lane = mask.trailing_zeros() as u64;
                        mask &= mask - 1;
                        addrs_buf.push(base.wrapping_add((o / 4) * 128 + lane * 4 + (o % 4)));
                    }
                    &addrs_buf
                } else {
                    addrs
                };
                coalesce(addrs, bytes as u32, sector_bytes, &mut scratch);
                starts[w].push(sectors[w].len() as u32);
                for &s in &scratch {
                    let hit = self.l2.access(s);
                    sectors[w].push(s << 1 | hit as u64);
                }
            }
        }
        for w in 0..cta.warps.len() {
            starts[w].push(sectors[w].len() as u32);
        }
        let _ = line_bytes;
        self.sectors_scratch = scratch;
        (sectors, starts)
    }

    /// Run every SM as far as the CTAs pushed so far allow.
    fn advance(&mut self) {
        self.buffered = 0;
        let Some(r) = self.resolved.as_ref() else { return };
        self.sms.par_iter_mut().for_each(|sm| {
            let _: RunStatus = sm.run(r);
        });
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

    /// Finish and also return the issue timeline of every SM (SM order, then issue order).
    pub fn finish_with_timeline(mut self) -> Result<(Stats, Vec<Vec<IssueRecord>>), TimingError> {
        for sm in &mut self.sms {
            sm.stream_done = true;
        }
        self.advance();
        let logs = self.sms.iter_mut().map(|sm| sm.log.take().unwrap_or_default()).collect();
        Ok((self.finish()?, logs))
    }

    /// Finish the kernel and return its statistics.
    pub fn finish(mut self) -> Result<Stats, TimingError> {
        for sm in &mut self.sms {
            sm.stream_done = true;
        }
        self.advance();
        let mut total = SmStats::new(otc_isa::FORMS.len());
        let mut cycles = Vec::with_capacity(self.cfg.gpu.num_sms as usize);
        for sm in &self.sms {
            total.add(&sm.stats);
            cycles.push(sm.end);
        }
        if self.sms.is_empty() {
            cycles = vec![0; self.cfg.gpu.num_sms as usize];
        }
        Ok(Stats::build(&total, cycles, self.cfg.gpu.clock_mhz, self.cfg.sm.sub_cores))
    }
}
