//! The device: global memory, constant banks, and kernel launches.
//!
//! Constant bank 0 of a launch: blockDim at 0x0/0x4/0x8, gridDim at 0xc/0x10/0x14, the 64-bit
//! bases of the generic shared and local windows at 0x18 and 0x20 (`config::SHARED_WINDOW`), the
//! stack pointer (top of the thread's local window) at 0x28, the generic address of constant
//! bank 3 (`config::CONST_WINDOW`, where `&const_array` points) at 0x50, the number of SMs
//! (`%nsmid`) at 0x10c, the parameters from 0x160; everything else reads zero. The bank ends with the parameters: a
//! constant operand past them faults.
//!
//! # Determinism: the CTA-order rule
//!
//! **Every launch has the result of running its CTAs one after another, in linear CTA order
//! (x fastest, then y, then z), each CTA to completion.** Global memory, atomics (their final
//! values *and* the old values they return), faults, the watchdog and the statistics are
//! exactly those of that sequential execution, whatever the number of host threads.
//! Inside a CTA, warps interleave as described in `cta.rs`; inside a warp instruction, lanes
//! apply atomics in ascending lane order. So the order of all atomics of a launch is: CTA order,
//! then the deterministic warp schedule inside the CTA, then lane order.
//!
//! How that stays fast on many threads: CTAs run speculatively in rounds. In a round, a batch
//! of consecutive CTAs runs in parallel, each against the global memory as it was at the start
//! of the round, with its writes kept in private copy-on-write pages and every byte it reads
//! (without having written it first) recorded (`memory::SpecView`). The round is then committed
//! in CTA order: a CTA that read no byte written by an earlier CTA of the same round saw exactly
//! what the sequential execution would have shown it, so its writes are applied as they are; a
//! CTA that did (e.g. every CTA incrementing one global counter) is discarded and run again,
//! directly against the committed memory. The result equals the sequential one, byte for byte.
//! Reads are recorded byte by byte only in allocations that a committed CTA of the launch has
//! written; in the others (a GEMM's operands) a CTA records just that it read the allocation, and
//! if an earlier CTA of the same round wrote that allocation, the reading CTA counts as conflicting
//! too (conservative: it is run again). When most CTAs of a round conflict, the rest of the
//! launch runs sequentially (that only changes speed). With one host thread, or one CTA,
//! everything runs sequentially from the start.
//!
//! A consequence of the rule: a CTA that waits for a later CTA (inter-CTA spin locks, grid-wide
//! barriers) never sees it run, and ends in the watchdog. nvcc emits no such code for the
//! kernels this emulator targets.

use std::sync::Arc;

use rayon::prelude::*;

use crate::config::{
    DeviceConfig, GlobalsLink, KernelImage, CONST_BANK_BYTES, MAX_PARAM_BYTES, MAX_THREADS_PER_CTA, PARAM_BASE,
    REGISTERS_PER_SM,
};
use crate::cta::{run_cta, CtaOutcome, Launch};
use crate::decode::{decode_all, DecodeCtx};
use crate::fault::{FaultKind, GuestFault, MemorySpace, RawFault, SimError};
use crate::memory::{GlobalMemory, PageMask, SpecView};
use crate::stats::{Counters, LaunchStats};
use crate::watchdog::{CancelToken, TraceShare, Watch};
use otc_timing::{EventTemplate, Simulator, Stats as TimingStats, TimingError};

pub use crate::config::CONST_BANKS;

/// An emulated GPU: memory plus the ability to launch kernels.
pub struct Device {
    config: DeviceConfig,
    memory: GlobalMemory,
    /// User constant banks 1..17 (bank 0 is built by each launch).
    banks: Vec<Vec<u8>>,
    /// Banks written by [`Device::write_constant`]: a kernel's own images do not replace them.
    written_banks: [bool; CONST_BANKS],
    pool: Option<rayon::ThreadPool>,
    launches: u32,
    cancel: CancelToken,
    /// The timeline the cycle model records on each timed launch (none by default).
    timeline: Option<otc_timing::TimelineSpec>,
    /// Sampled timing: the number of SMs whose CTAs the cycle model simulates (none: all).
    timing_sample: Option<u32>,
    /// The programs whose `__device__` variables live on this device, with the address of their
    /// global segment. The program is kept so that no other one can be taken for it.
    modules: Vec<(Arc<otc_asm::Program>, u64)>,
    /// How the last launch used the co-simulation ([`Device::last_cosim`]).
    last_cosim: Option<Result<(), &'static str>>,
    /// [`Device::last_trace_peak_bytes`].
    last_trace_peak: Option<u64>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("config", &self.config)
            .field("allocations", &self.memory.allocations().len())
            .field("launches", &self.launches)
            .finish()
    }
}

impl Device {
    /// A device with the given configuration and empty memory.
    pub fn new(config: DeviceConfig) -> Device {
        Device {
            config,
            memory: GlobalMemory::new(),
            banks: vec![Vec::new(); CONST_BANKS],
            written_banks: [false; CONST_BANKS],
            pool: None,
            launches: 0,
            cancel: CancelToken::new(),
            timeline: None,
            timing_sample: None,
            modules: Vec::new(),
            last_cosim: None,
            last_trace_peak: None,
        }
    }

    /// The most bytes of CTA traces (packed events and access streams) the cycle model held at
    /// once during the last launch (`otc_timing::Simulator::trace_peak_bytes`); `None` when it
    /// was not timed or failed. What co-simulation bounds (docs/timing.md); not a statistic.
    pub fn last_trace_peak_bytes(&self) -> Option<u64> {
        self.last_trace_peak
    }

    /// Whether the last launch co-simulated (`cosim.rs`): `None` when it did not try (timing
    /// off, sampled, atomics, `cosim` off), `Some(Err(why))` when it gave up and ran the linear
    /// way, `Some(Ok(()))` when it co-simulated.
    pub fn last_cosim(&self) -> Option<Result<(), &'static str>> {
        self.last_cosim
    }

    /// The address of the global segment (`__device__` variables, see `otc_asm::globals`) of
    /// `program` on this device, or None when it has none. The first call for a program
    /// allocates the segment and writes its initial data, as the CUDA driver does when it loads
    /// a module; later launches see what earlier ones left there.
    pub fn module_globals(&mut self, program: &Arc<otc_asm::Program>) -> Result<Option<u64>, SimError> {
        let g = &program.globals;
        if g.is_empty() {
            return Ok(None);
        }
        if let Some((_, base)) = self.modules.iter().find(|(p, _)| Arc::ptr_eq(p, program)) {
            return Ok(Some(*base));
        }
        let base = self.memory.alloc(g.size, 256).map_err(SimError::Memory)?;
        if !g.init.is_empty() {
            self.memory.write(base, &g.init).map_err(SimError::Memory)?;
        }
        self.modules.push((Arc::clone(program), base));
        Ok(Some(base))
    }

    /// The launch image of kernel `name` of `program`, with the addresses of the program's
    /// `__device__` variables on this device patched into its code ([`Device::module_globals`]).
    pub fn kernel_image(&mut self, program: &Arc<otc_asm::Program>, name: &str) -> Result<KernelImage, SimError> {
        let Some(k) = program.kernel(name) else {
            return Err(SimError::Launch(format!("the program has no kernel `{name}`")));
        };
        if let Some(pc) = k.unlinked_calls().first() {
            return Err(SimError::Launch(format!(
                "kernel `{name}` calls another function with CALL.ABS at pc {pc:#06x}, whose address the loader \
                 patches in: give the cubin (or cuobjdump -elf text) the -G listing came from"
            )));
        }
        let mut img = KernelImage::from(k);
        if !k.relocations.is_empty() {
            let to_globals = k.relocations.iter().filter(|r| r.kind != otc_asm::RelocKind::Abs47).count();
            let base = self.module_globals(program)?;
            img.globals = match base {
                Some(_) => GlobalsLink::Linked(to_globals),
                None if to_globals > 0 => GlobalsLink::Unresolved(to_globals),
                None => GlobalsLink::Unknown,
            };
            let base = base.unwrap_or(0);
            let (code, regs) = program.linked_code(name, base).map_err(SimError::Launch)?;
            img.instructions = code;
            img.num_regs = img.num_regs.max(regs);
        }
        Ok(img)
    }

    /// Make the cycle model of every later timed launch record a timeline (`None`: stop); it
    /// comes back in the timing statistics' `timeline`. Results and statistics do not change.
    pub fn set_timeline(&mut self, spec: Option<otc_timing::TimelineSpec>) {
        self.timeline = spec;
    }

    /// Make the cycle model of every later timed launch time only the CTAs of `sms` spread-out
    /// SMs (0: the default sample, `otc_timing::sample::DEFAULT_FRACTION`) and extrapolate
    /// (`otc_timing::sample`; the statistics' `sample` says what was timed); `None`: full timing
    /// (the default). Results never depend on it.
    pub fn set_timing_sample(&mut self, sms: Option<u32>) {
        self.timing_sample = sms;
    }

    /// The flag that stops this device's launches from another thread ([`SimError::Cancelled`]);
    /// see [`crate::watchdog`]. Setting it stops the running launch and every later one until
    /// it is reset.
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    /// Change the configuration (memory is kept).
    pub fn set_config(&mut self, config: DeviceConfig) {
        if config.threads != self.config.threads {
            self.pool = None;
        }
        self.config = config;
    }

    /// Allocate `bytes` of zeroed global memory aligned to `align` (a power of two; at least
    /// 256 is used). Never returns 0; allocations are separated by unmapped guard gaps.
    pub fn alloc(&mut self, bytes: u64, align: u64) -> Result<u64, SimError> {
        self.memory.alloc(bytes, align).map_err(SimError::Memory)
    }

    /// Free an allocation (its addresses are never handed out again).
    pub fn free(&mut self, addr: u64) -> Result<(), SimError> {
        self.memory.free(addr).map_err(SimError::Memory)
    }

    /// Copy bytes into global memory (the range must lie inside one allocation).
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), SimError> {
        self.memory.write(addr, data).map_err(SimError::Memory)
    }

    /// Copy bytes out of global memory (the range must lie inside one allocation).
    pub fn read(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, SimError> {
        self.memory.read(addr, len).map_err(SimError::Memory)
    }

    /// Copy `out.len()` bytes out of global memory into `out` (the range must lie inside one
    /// allocation): [`Device::read`] without a buffer of its own.
    pub fn read_into(&mut self, addr: u64, out: &mut [u8]) -> Result<(), SimError> {
        self.memory.read_into(addr, out).map_err(SimError::Memory)
    }

    /// The allocations as (address, size).
    pub fn allocations(&self) -> Vec<(u64, u64)> {
        self.memory.allocations()
    }

    /// Write user constant bank `bank` (1..17; `__constant__` data of nvcc lives in bank 3) at
    /// `offset`; the bank grows as needed (64 KiB at most).
    pub fn write_constant(&mut self, bank: u8, offset: u32, data: &[u8]) -> Result<(), SimError> {
        if bank == 0 || bank as usize >= CONST_BANKS {
            return Err(SimError::Memory(format!(
                "constant bank {bank} cannot be written (bank 0 holds the launch parameters; banks are 1..{})",
                CONST_BANKS - 1
            )));
        }
        let end = offset as u64 + data.len() as u64;
        if end > CONST_BANK_BYTES as u64 {
            return Err(SimError::Memory(format!("constant bank write ends at {end:#x}, past 64 KiB")));
        }
        write_bank(&mut self.banks[bank as usize], offset as usize, data);
        self.written_banks[bank as usize] = true;
        Ok(())
    }

    fn threads(&self) -> usize {
        match (&self.pool, self.config.threads) {
            (Some(p), _) => p.current_num_threads(),
            (None, Some(n)) => n.max(1),
            (None, None) => rayon::current_num_threads(),
        }
    }

    /// Launch `kernel` on a `grid` of CTAs of `block` threads with the parameter block `params`
    /// (laid out as nvcc expects at `c[0x0][0x160]`) and `dynamic_shared` bytes of dynamic
    /// shared memory. Runs to completion; see the module docs for the ordering rule.
    ///
    /// When the cycle model is on ([`DeviceConfig::timing`]) it runs too, and its statistics
    /// are dropped: use [`Device::launch_timed`] to get them (or switch timing off to save the
    /// time).
    pub fn launch(
        &mut self,
        kernel: &KernelImage,
        grid: [u32; 3],
        block: [u32; 3],
        params: &[u8],
        dynamic_shared: u32,
    ) -> Result<LaunchStats, SimError> {
        self.launch_timed(kernel, grid, block, params, dynamic_shared).map(|(s, _)| s)
    }

    /// [`Device::launch`], also returning the cycle model's statistics (`None` when
    /// [`DeviceConfig::timing`] is off).
    ///
    /// Timing runs beside the functional core: every warp's issued instructions are recorded
    /// (`timing.rs`), each committed CTA's trace is handed to an [`otc_timing::Simulator`] in
    /// linear CTA order (a speculatively run CTA that is discarded and re-run contributes only
    /// its final run), and only the traces of the current parallel batch are held. Memory,
    /// faults and [`LaunchStats`] are identical with timing on or off, for any number of host
    /// threads, and so are the timing statistics for any number of host threads. A CTA that the
    /// model cannot place on an SM (or a bad timing configuration) is a `SimError::Launch`
    /// before anything runs.
    pub fn launch_timed(
        &mut self,
        kernel: &KernelImage,
        grid: [u32; 3],
        block: [u32; 3],
        params: &[u8],
        dynamic_shared: u32,
    ) -> Result<(LaunchStats, Option<TimingStats>), SimError> {
        let cfg = self.config.clone();
        let bad = |m: String| Err(SimError::Launch(format!("kernel `{}`: {m}", kernel.name)));
        // ---------------------------------------------------------------- validation
        if grid.contains(&0) {
            return bad(format!("grid {grid:?} has a zero dimension"));
        }
        if grid[0] > i32::MAX as u32 || grid[1] > 65535 || grid[2] > 65535 {
            return bad(format!("grid {grid:?} exceeds (2^31-1, 65535, 65535)"));
        }
        if block.contains(&0) {
            return bad(format!("block {block:?} has a zero dimension"));
        }
        let threads = block[0] as u64 * block[1] as u64 * block[2] as u64;
        if block[0] > 1024 || block[1] > 1024 || block[2] > 64 || threads > MAX_THREADS_PER_CTA as u64 {
            return bad(format!("block {block:?} has {threads} threads; at most 1024 (x, y <= 1024, z <= 64)"));
        }
        if kernel.instructions.is_empty() {
            return bad("has no instructions".into());
        }
        if kernel.num_regs == 0 || kernel.num_regs > 255 {
            return bad(format!("uses {} registers per thread; 1..255 are possible", kernel.num_regs));
        }
        let warps = threads.div_ceil(32) as u32;
        let regs_needed = kernel.num_regs.div_ceil(8) * 8 * warps * 32;
        if regs_needed > REGISTERS_PER_SM {
            return bad(format!(
                "needs {regs_needed} registers per CTA ({} per thread x {} threads); an SM has {REGISTERS_PER_SM}",
                kernel.num_regs, threads
            ));
        }
        let shared = match kernel.shared_bytes {
            Some(s) => s as u64 + dynamic_shared as u64,
            None => (cfg.max_shared_per_cta as u64).max(dynamic_shared as u64),
        };
        if shared > cfg.max_shared_per_cta as u64 {
            return bad(format!(
                "needs {shared} bytes of shared memory ({} static + {dynamic_shared} dynamic); the limit is {}",
                kernel.shared_bytes.unwrap_or(0),
                cfg.max_shared_per_cta
            ));
        }
        if params.len() > MAX_PARAM_BYTES as usize {
            return bad(format!("{} bytes of parameters; at most {MAX_PARAM_BYTES}", params.len()));
        }
        if let Some(n) = kernel.param_bytes {
            if params.len() != n as usize {
                return bad(format!("expects {n} bytes of parameters, got {}", params.len()));
            }
        }
        let local = kernel.local_bytes.unwrap_or(cfg.default_local_bytes) as u64 + cfg.stack_bytes as u64;
        if local > 512 * 1024 {
            return bad(format!("{local} bytes of local memory per thread; at most 512 KiB"));
        }
        let local = (local.div_ceil(16) * 16) as u32;
        let total = grid[0] as u64 * grid[1] as u64 * grid[2] as u64;
        let nthreads = self.threads();
        let batch = if cfg.parallel_batch > 0 { cfg.parallel_batch } else { 8 * nthreads };

        // ---------------------------------------------------------------- cycle model
        let (timeline, timing_sample) = (self.timeline.clone(), self.timing_sample);
        self.last_trace_peak = None;
        // The model's trace peak, stored when it finishes (on whichever thread that is).
        let trace_peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let timing_err = |e: TimingError| SimError::Launch(format!("kernel `{}`: cycle model: {e}", kernel.name));
        let make_sim = || match &cfg.timing {
            None => Ok::<_, SimError>(None),
            Some(tc) => {
                let mut sim = Simulator::new(tc, total).map_err(timing_err)?;
                sim.check_fits(threads as u32, kernel.num_regs, shared as u32).map_err(timing_err)?;
                if let Some(spec) = &timeline {
                    sim.record_timeline(spec.clone());
                }
                if let Some(sms) = timing_sample {
                    sim.set_sample(sms).map_err(timing_err)?;
                }
                sim.set_segment_events(cfg.timing_segment);
                sim.share_trace_peak(trace_peak.clone());
                // The SMs advance once per `num_sms` CTAs or more: each advance then gives every SM
                // about one new CTA, so the SMs stay on the threads that last ran them instead of
                // being stolen in small, unbalanced advances (which cost ~20% more model time in
                // cache misses with two threads).
                sim.set_batch(batch.max(tc.gpu.num_sms as usize));
                Ok(Some(sim))
            }
        };
        let mut sink = make_sim()?;
        // The model's trace memory is shared among the CTAs it can hold at once (watchdog.rs).
        let trace_share = match (&sink, cfg.max_trace_bytes) {
            (Some(sim), Some(total_bytes)) => {
                let resident = sim
                    .resident_ctas(threads as u32, kernel.num_regs, shared as u32)
                    .map_err(timing_err)?
                    .min(total.max(1));
                Some(TraceShare { per_cta: total_bytes / resident, total: total_bytes, resident })
            }
            _ => None,
        };
        let templates: Option<Vec<EventTemplate>> =
            cfg.timing.as_ref().map(|_| kernel.instructions.iter().map(EventTemplate::new).collect());
        if let (Some(sim), Some(t)) = (&sink, &templates) {
            if let Err(e) = sim.check_program(t) {
                return bad(format!("cycle model: {e}"));
            }
        }
        let preparer = match (&sink, &templates) {
            (Some(sim), Some(t)) => Some(sim.preparer(t)),
            _ => None,
        };

        // ---------------------------------------------------------------- constant bank 0
        let plen = params.len().max(kernel.param_bytes.unwrap_or(0) as usize);
        let mut bank0 = vec![0u8; (PARAM_BASE as usize + plen).div_ceil(4) * 4];
        let put = |b: &mut Vec<u8>, off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
        put(&mut bank0, 0x0, block[0]);
        put(&mut bank0, 0x4, block[1]);
        put(&mut bank0, 0x8, block[2]);
        put(&mut bank0, 0xc, grid[0]);
        put(&mut bank0, 0x10, grid[1]);
        put(&mut bank0, 0x14, grid[2]);
        put(&mut bank0, 0x18, crate::config::SHARED_WINDOW as u32);
        put(&mut bank0, 0x1c, (crate::config::SHARED_WINDOW >> 32) as u32);
        put(&mut bank0, 0x20, crate::config::LOCAL_WINDOW as u32);
        put(&mut bank0, 0x24, (crate::config::LOCAL_WINDOW >> 32) as u32);
        put(&mut bank0, 0x28, local);
        put(&mut bank0, 0x50, crate::config::CONST_WINDOW as u32);
        put(&mut bank0, 0x54, (crate::config::CONST_WINDOW >> 32) as u32);
        put(&mut bank0, 0x10c, cfg.num_sms.max(1));
        bank0[PARAM_BASE as usize..PARAM_BASE as usize + params.len()].copy_from_slice(params);
        let mut banks = self.banks.clone();
        banks[0] = bank0;
        for (bank, data) in &kernel.constants {
            let b = *bank as usize;
            if b == 0 || b >= CONST_BANKS || data.len() > CONST_BANK_BYTES as usize {
                return bad(format!("constant image for bank {bank} of {} bytes (banks 1..17, 64 KiB)", data.len()));
            }
            if !self.written_banks[b] {
                write_bank(&mut banks[b], 0, data);
            }
        }

        // ---------------------------------------------------------------- decode
        let cx =
            DecodeCtx { num_regs: kernel.num_regs, banks: &banks, len: kernel.instructions.len(), end_exits: false };
        let ops = decode_all(&kernel.instructions, &cx);
        self.launches = self.launches.wrapping_add(1);
        let watch = Watch::new(self.cancel.clone(), cfg.max_seconds).with_trace_share(trace_share);
        let launch = Launch {
            ops: &ops,
            banks: &banks,
            block,
            grid,
            num_regs: kernel.num_regs,
            shared_bytes: shared as u32,
            local_bytes: local,
            nsm: cfg.num_sms.max(1),
            grid_id: self.launches,
            arith: cfg.tensor_arith,
            max_cycles: cfg.max_cycles,
            watch: &watch,
            templates: templates.as_deref(),
            preparer: preparer.as_ref(),
        };
        let budget = cfg.max_instructions.unwrap_or(u64::MAX);

        let mut counters = Counters::new(ops.len());
        let sequential = nthreads <= 1 || total == 1;
        // The launch (and the cycle model, which is parallel over SMs) runs in the device's
        // pool when a thread count is configured.
        if self.pool.is_none() {
            if let Some(n) = cfg.threads {
                if !sequential || sink.is_some() {
                    self.pool = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build().ok();
                }
            }
        }
        // Co-simulation (`cosim.rs`): the model reads each warp's events while the CTAs run, so
        // that its memory stays bounded; the linear path below when it does not apply or gives up.
        let cosim = cfg.cosim && cfg.timing_segment == 0 && timing_sample.is_none() && crate::cosim::eligible(&ops);
        let mut cosim_done = None;
        self.last_cosim = None;
        if let (true, Some(sim), Some(prep), Some(tc)) = (cosim, sink.as_mut(), preparer.as_ref(), cfg.timing.as_ref())
        {
            let base = &self.memory;
            let launch_ref = &launch;
            let mut go = move || crate::cosim::run(launch_ref, total, base, budget, sim, prep, tc.gpu.num_sms as u64);
            let out = match &self.pool {
                Some(p) => p.install(go),
                None => go(),
            };
            match out {
                crate::cosim::Outcome::Done { overlay, counters: c } => {
                    overlay.apply(&mut self.memory);
                    counters.add(&c);
                    cosim_done = sink.take();
                    self.last_cosim = Some(Ok(()));
                }
                crate::cosim::Outcome::Model(e) => return bad(format!("cycle model: {e}")),
                crate::cosim::Outcome::Fallback(why) => {
                    self.last_cosim = Some(Err(why));
                    sink = make_sim()?;
                }
            }
        }
        let mem = &mut self.memory;
        let pool = &self.pool;
        let counters_ref = &mut counters;
        let launch_ref = &launch;
        // Set when the functional run fails: the model's result is then dropped, so its thread
        // stops simulating instead of finishing the CTAs it was given.
        let abandon = std::sync::atomic::AtomicBool::new(false);
        let abandon_ref = &abandon;
        let watch_ref = &watch;
        // With several host threads the cycle model runs on a thread of its own, fed the
        // committed CTAs in order through a bounded channel, so that it overlaps the functional
        // rounds instead of running between them (same pushes in the same order: same result).
        let (result, timing) = if let Some(sim) = cosim_done {
            let finish = || sim.finish();
            (
                Ok(()),
                Some(match pool {
                    Some(p) => p.install(finish),
                    None => finish(),
                }),
            )
        } else {
            std::thread::scope(|scope| {
                let mut model: Option<std::thread::ScopedJoinHandle<'_, Option<Result<TimingStats, TimingError>>>> =
                    None;
                let mut sink = match sink {
                    Some(mut sim) if !sequential => {
                        let (tx, rx) = std::sync::mpsc::sync_channel::<otc_timing::PreparedTrace>(batch);
                        model = Some(scope.spawn(move || {
                            // Each push runs in the device's pool (the SMs advance in parallel
                            // there); this thread only waits for the next committed CTA.
                            let mut err = None;
                            let stopped =
                                || watch_ref.cancelled() || abandon_ref.load(std::sync::atomic::Ordering::Relaxed);
                            for t in rx {
                                if err.is_none() && !stopped() {
                                    let pushed = match pool {
                                        Some(p) => p.install(|| sim.push_prepared(t)),
                                        None => sim.push_prepared(t),
                                    };
                                    err = pushed.err();
                                }
                            }
                            match (err, pool) {
                                // the result is dropped (see `abandon`)
                                (None, _) if stopped() => None,
                                (Some(e), _) => Some(Err(e)),
                                (None, Some(p)) => Some(p.install(move || sim.finish())),
                                (None, None) => Some(sim.finish()),
                            }
                        }));
                        Some(TimingSink::Threaded(tx))
                    }
                    Some(sim) => Some(TimingSink::Inline { sim: Box::new(sim), err: None }),
                    None => None,
                };
                let run = move || {
                    let result = if sequential {
                        run_sequential(launch_ref, 0, total, mem, counters_ref, budget, &mut sink)
                    } else {
                        run_parallel(launch_ref, total, mem, counters_ref, budget, batch, &mut sink)
                    };
                    if result.is_err() {
                        abandon_ref.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    let timing = match (&result, sink) {
                        (Ok(()), Some(s @ TimingSink::Inline { .. })) => Some(s.finish()),
                        _ => None, // a threaded sink is dropped here, which ends the model's input
                    };
                    (result, timing)
                };
                let (result, timing) = match pool {
                    Some(p) => p.install(run),
                    None => run(),
                };
                let joined = model.and_then(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
                let timing = match (&result, joined) {
                    (Ok(()), Some(t)) => Some(t),
                    _ => timing,
                };
                (result, timing)
            })
        };
        counters.ctas = total;
        counters.warps = total * warps as u64;
        counters.threads = total * threads;
        match result {
            Ok(()) => {
                let timing = match timing {
                    None => None,
                    Some(Ok(t)) => {
                        self.last_trace_peak = Some(trace_peak.load(std::sync::atomic::Ordering::Relaxed));
                        Some(t)
                    }
                    // Not reachable for traces this crate records (the CTA was checked above).
                    Some(Err(e)) => return bad(format!("cycle model: {e}")),
                };
                Ok((counters.to_stats(&kernel.instructions), timing))
            }
            Err((linear, f)) if f.kind == crate::fault::FaultKind::Cancelled => {
                Err(SimError::Cancelled { kernel: kernel.name.clone(), cta: launch.cta_index(linear) })
            }
            Err((linear, mut f)) => {
                if let Some(hint) = null_access_hint(kernel, &f) {
                    f.message = format!("{}; {hint}", f.message);
                }
                Err(SimError::Fault(guest_fault(kernel, launch.cta_index(linear), f)))
            }
        }
    }
}

/// Global accesses below this address are reported as near 0x0: an unpatched `__device__`
/// variable's address plus an index (the lowest allocation is at `GLOBAL_BASE`, far above).
const NEAR_NULL: u64 = 1 << 20;

/// Why a global access near address 0 may have happened, when the kernel's code may hold
/// `__device__` addresses that nobody patched in; `None` for other faults and for code whose
/// globals are linked (there it is the program's own null pointer).
fn null_access_hint(kernel: &KernelImage, f: &RawFault) -> Option<String> {
    if f.kind != FaultKind::OutOfBounds(MemorySpace::Global) || f.address? >= NEAR_NULL {
        return None;
    }
    const GIVE_CUBIN: &str = "give the .cubin the listing came from (or its cuobjdump -elf text): \
                              `--cubin FILE`, `otc_emu.load(listing, cubin=FILE)` or `otc_emu.assemble(text, cubin=DATA)`";
    match kernel.globals {
        GlobalsLink::Linked(_) => None,
        GlobalsLink::Unresolved(n) => Some(format!(
            "kernel `{}` has {n} relocations against `__device__` variables but its program has no global segment \
             to resolve them (they read as address 0x0): {GIVE_CUBIN}",
            kernel.name
        )),
        GlobalsLink::Unknown => Some(format!(
            "an address near 0x0: if kernel `{}` uses `__device__` variables, a cuobjdump listing alone leaves their \
             addresses 0x0 (the CUDA loader patches them in from the cubin's relocations): {GIVE_CUBIN}",
            kernel.name
        )),
    }
}

/// Attach the kernel and CTA to a raw fault.
pub(crate) fn guest_fault(kernel: &KernelImage, cta: [u32; 3], f: RawFault) -> GuestFault {
    let idx = (f.pc / 16) as usize;
    GuestFault {
        kernel: kernel.name.clone(),
        pc: f.pc,
        cta,
        warp: f.warp,
        lanes: f.lanes,
        instruction: kernel.instructions.get(idx).map(|i| i.text()).unwrap_or_default(),
        kind: f.kind,
        message: f.message,
        address: f.address,
    }
}

type RunResult = Result<(), (u64, RawFault)>;

/// The cycle model of a launch: committed CTA traces go in, in linear CTA order.
enum TimingSink {
    /// The model runs in the launching thread.
    Inline { sim: Box<Simulator>, err: Option<TimingError> },
    /// The model runs on its own thread (see `Device::launch_timed`); a failed send means that
    /// thread is gone, which its join reports.
    Threaded(std::sync::mpsc::SyncSender<otc_timing::PreparedTrace>),
}

impl TimingSink {
    fn push(&mut self, trace: Option<otc_timing::PreparedTrace>) {
        match self {
            TimingSink::Inline { sim, err } => {
                if let (None, Some(t)) = (&err, trace) {
                    if let Err(e) = sim.push_prepared(t) {
                        *err = Some(e);
                    }
                }
            }
            TimingSink::Threaded(tx) => {
                if let Some(t) = trace {
                    let _ = tx.send(t);
                }
            }
        }
    }

    fn finish(self) -> Result<TimingStats, TimingError> {
        match self {
            TimingSink::Inline { err: Some(e), .. } => Err(e),
            TimingSink::Inline { sim, err: None } => sim.finish(),
            TimingSink::Threaded(_) => unreachable!("a threaded model is finished by its thread"),
        }
    }
}

/// Run CTAs `from..to` one after another, directly against memory.
fn run_sequential(
    l: &Launch<'_>,
    from: u64,
    to: u64,
    mem: &mut GlobalMemory,
    counters: &mut Counters,
    mut budget: u64,
    sink: &mut Option<TimingSink>,
) -> RunResult {
    for linear in from..to {
        let out = run_cta(l, linear, mem, &mut counters.per_inst, budget);
        budget -= out.executed.min(budget);
        if let Some(f) = out.fault {
            return Err((linear, f));
        }
        if let Some(s) = sink {
            s.push(out.trace);
        }
    }
    Ok(())
}

/// Speculative parallel rounds, committed in CTA order (see the module docs).
fn run_parallel(
    l: &Launch<'_>,
    total: u64,
    mem: &mut GlobalMemory,
    counters: &mut Counters,
    mut budget: u64,
    batch: usize,
    sink: &mut Option<TimingSink>,
) -> RunResult {
    let n_ops = l.ops.len();
    let mut start = 0u64;
    // Allocations a committed CTA of this launch wrote: their reads are recorded byte by byte
    // (see `SpecView::tracked`); the others only record that they were read.
    let mut tracked = vec![false; mem.num_allocations()];
    while start < total {
        let end = (start + batch as u64).min(total);
        // ------------------------------------------------------------ run the round
        let base: &GlobalMemory = mem;
        let round_tracked: &[bool] = &tracked;
        let results: Vec<(crate::memory::SpecPages, Vec<u64>, Counters, CtaOutcome)> = (start..end)
            .into_par_iter()
            .map(|linear| {
                let mut view = SpecView::new(base, round_tracked);
                let mut c = Counters::new(n_ops);
                let out = run_cta(l, linear, &mut view, &mut c.per_inst, budget);
                (view.pages, view.untracked_reads, c, out)
            })
            .collect();
        // ------------------------------------------------------------ commit in CTA order
        let mut written: crate::memory::PageMap<PageMask> = Default::default();
        // untracked allocations written by a CTA committed in this round: a later CTA of the
        // round that read one of them (without byte records) is stale
        let mut newly_written: Vec<u64> = Vec::new();
        let mut conflicts = 0usize;
        for (i, (pages, untracked_reads, c, out)) in results.into_iter().enumerate() {
            let linear = start + i as u64;
            let stale = SpecView::pages_conflict(&pages, &written)
                || crate::memory::bits_intersect(&untracked_reads, &newly_written);
            let over =
                out.executed > budget || matches!(&out.fault, Some(f) if f.kind == crate::fault::FaultKind::Watchdog);
            let (pages, c, out) = if stale || over {
                if stale {
                    conflicts += 1;
                }
                // run again against the committed memory, recording its writes
                let mut view = SpecView::new(mem, &tracked);
                let mut c2 = Counters::new(n_ops);
                let out2 = run_cta(l, linear, &mut view, &mut c2.per_inst, budget);
                (view.pages, c2, out2)
            } else {
                (pages, c, out)
            };
            for (k, p) in &pages {
                let alloc = (*k >> 40) as usize;
                if p.written.is_some() && !tracked.get(alloc).copied().unwrap_or(true) {
                    crate::memory::set_bit(&mut newly_written, alloc);
                }
            }
            SpecView::commit_pages(pages, mem, &mut written);
            counters.add(&c);
            budget -= out.executed.min(budget);
            if let Some(f) = out.fault {
                return Err((linear, f));
            }
            if let Some(s) = sink.as_mut() {
                s.push(out.trace);
            }
        }
        for (i, t) in tracked.iter_mut().enumerate() {
            *t |= crate::memory::has_bit(&newly_written, i);
        }
        let round = (end - start) as usize;
        start = end;
        if conflicts * 2 > round && start < total {
            // mostly conflicting: the rest runs sequentially (same result, less wasted work)
            return run_sequential(l, start, total, mem, counters, budget, sink);
        }
    }
    Ok(())
}

/// Copy `data` into `bank` at `offset`, growing the bank as needed.
fn write_bank(bank: &mut Vec<u8>, offset: usize, data: &[u8]) {
    let end = offset + data.len();
    if bank.len() < end {
        bank.resize(end, 0);
    }
    bank[offset..end].copy_from_slice(data);
}
