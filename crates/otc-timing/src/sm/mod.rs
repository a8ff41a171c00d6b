//! One streaming multiprocessor: CTA residency, four sub-cores with their schedulers, operand
//! collectors, pipelines and tensor cores, and the SM's memory pipe and L1.
//!
//! The loop is event-driven: every constraint on an instruction (register results, unit
//! occupancy, memory returns, barrier releases) resolves at a cycle that is known when it is
//! created, so when no sub-core can issue the clock jumps to the earliest cycle at which one can.

use std::collections::VecDeque;

use otc_isa::{Class, ControlClass, TensorClass, WarpClass, FORMS};

use crate::accbuf::AccBuf;
use crate::access_stream::AccessReader;
use crate::by_pc::{self, PcRow};
use crate::config::{SchedulerPolicy, TimingConfig, UnitTiming};
use crate::feed::{Feed, WarpPart};
use crate::memory::{shared_wavefronts, Lookup, SectorCache};
use crate::packed::{Cursor, Packed, Protos};
use crate::stats::{Reason, SmStats, NUM_REASONS};
use crate::timeline::{self, TimelineKind};

mod memory;
mod tensor;
use crate::trace::{
    memory_access, sparse_landing, spwmma_ohmmas, unit_index, BarOp, CtaTrace, Event, EventKind, MemOp, MemSpace,
    RegGroup, TensorOp, INSTRUCTION_BYTES, NUM_UNITS,
};

/// Milli-cycles: the bandwidth queues count in thousandths of a cycle.
const MC: u64 = 1000;
const NEVER: u64 = u64::MAX;

/// Configuration resolved for the simulation of one kernel.
pub(crate) struct Resolved {
    pub cfg: TimingConfig,
    /// Per form: what the SM loop needs of it, resolved against the configuration.
    pub forms: Vec<FormStatic>,
    /// Register bank of each register (`r % regfile.banks`).
    pub bank_of: [u8; 256],
    /// Per group size n: (n / regfile.banks, n % regfile.banks).
    pub bank_split: [(u8, u8); 256],
    /// Per bank load l up to [`READ_CYCLES_TABLE`]: max(1, ceil(l / regfile.reads_per_bank)).
    pub read_cycles: Vec<u8>,
    /// Milli-cycles one SM's share of the L2 / DRAM bandwidth needs per sector.
    pub l2_mc_per_sector: u64,
    pub dram_mc_per_sector: u64,
    /// Shared memory available to CTAs per SM (the carve-out) and the L1 capacity beside it.
    pub shared_capacity: u32,
    pub l1_bytes: u64,
    /// Dynamic CTA dispatch (`gpu.cta_dispatch = "dynamic"`): the launch's CTA shape, which an
    /// SM with an empty queue asks for ([`RunStatus::NeedCta`]) as soon as it fits. `None`:
    /// static placement.
    pub dispatch_shape: Option<CtaShape>,
}

/// What a CTA takes of an SM: warp slots, threads, registers per warp, shared bytes (rounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CtaShape {
    pub nwarps: u32,
    pub threads: u32,
    pub regs_per_warp: u32,
    pub smem: u32,
}

impl CtaShape {
    pub fn of(p: &PreparedCta) -> CtaShape {
        CtaShape { nwarps: p.nwarps, threads: p.trace.threads, regs_per_warp: p.regs_per_warp, smem: p.smem }
    }
}

/// What the SM loop needs of a form, resolved once per kernel (no table lookups per event).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FormStatic {
    pub class: Class,
    /// [`unit_index`] of its unit.
    pub unit: usize,
    pub latency: u64,
    /// Cycles the unit is occupied (the initiation interval; tensor cycles for an executed
    /// tensor instruction).
    pub cycles: u64,
    /// Unit cycles when predicated off (`tensor.skipped_cycles` for tensor instructions).
    pub skipped_cycles: u64,
    /// HMMA.884 or dense OHMMA: its accumulator may be forwarded (with
    /// `tensor.accumulator_forwarding`), and its result is forwarded from the multipliers.
    pub fwd_class: bool,
    /// The memory and tensor counters its issue may change, for the per-pc statistics.
    pub probe: by_pc::Probe,
}

impl FormStatic {
    /// The table of every form for `cfg`.
    pub fn table(cfg: &TimingConfig, form_timing: &[UnitTiming]) -> Vec<FormStatic> {
        let t = &cfg.tensor;
        FORMS
            .iter()
            .zip(form_timing)
            .map(|(def, timing)| {
                let (cycles, skipped_cycles) = match def.class {
                    Class::Tensor(tc) => (t.cost(tc).cycles as u64, t.skipped_cycles as u64),
                    _ => (timing.ii as u64, timing.ii as u64),
                };
                FormStatic {
                    class: def.class,
                    unit: unit_index(def.unit),
                    latency: timing.latency as u64,
                    cycles,
                    skipped_cycles,
                    fwd_class: matches!(def.class, Class::Tensor(tc) if tensor::forwards_accumulator(tc)),
                    probe: by_pc::probe(def.class),
                }
            })
            .collect()
    }

    /// Unit cycles of an issue of event `e` (a sequenced SpWMMA: its class's cycles per OHMMA
    /// it runs).
    #[inline]
    pub fn occupancy(&self, e: &Event) -> u64 {
        match e.kind {
            _ if e.executed == 0 => self.skipped_cycles,
            EventKind::Tensor(op) if op.class == TensorClass::SpwmmaSeq => {
                self.cycles * spwmma_ohmmas(op.rows, op.cols).count_ones() as u64
            }
            _ => self.cycles,
        }
    }
}

/// The register bank tables for `banks` banks: bank of each register, and per group size
/// (size / banks, size % banks).
pub(crate) fn bank_tables(banks: u32) -> ([u8; 256], [(u8, u8); 256]) {
    let banks = banks.max(1) as usize;
    let mut of = [0u8; 256];
    let mut split = [(0u8, 0u8); 256];
    for r in 0..256 {
        of[r] = (r % banks) as u8;
        split[r] = ((r / banks) as u8, (r % banks) as u8);
    }
    (of, split)
}

/// Bank loads [`Resolved::read_cycles`] covers (4 source groups of at most 255 registers).
pub(crate) const READ_CYCLES_TABLE: usize = 1024;

/// Operand read cycles per bank load: max(1, ceil(load / reads_per_bank)).
pub(crate) fn read_cycles_table(reads_per_bank: u32) -> Vec<u8> {
    (0..READ_CYCLES_TABLE as u32).map(|l| l.div_ceil(reads_per_bank.max(1)).clamp(1, 255) as u8).collect()
}

impl Resolved {
    /// max(1, ceil(load / regfile.reads_per_bank)).
    #[inline]
    pub fn read_cycles(&self, load: u32) -> u64 {
        match self.read_cycles.get(load as usize) {
            Some(&c) if c < 255 => c as u64,
            _ => (load.div_ceil(self.cfg.regfile.reads_per_bank) as u64).max(1),
        }
    }
}

/// A CTA with the results of the global pre-pass (coalesced sectors and their L2 outcome).
pub(crate) struct PreparedCta {
    /// The CTA with its warps' `events` and `addrs` empty (in `packed`, `sectors` and
    /// `lane_addrs`).
    pub trace: CtaTrace,
    /// Per warp: its events, packed against `protos`.
    pub packed: Vec<Packed>,
    pub protos: Protos,
    /// Per warp: for each executed global/local memory event in order, its sectors (coalesced),
    /// encoded by a [`crate::access_stream::AccessEncoder`], and the number of those accesses; emptied
    /// when the CTA is pushed, after the L2 lookup, for `gmem`.
    pub sectors: Vec<VecDeque<Vec<u8>>>,
    pub accesses: Vec<usize>,
    /// Per warp: the same sectors as `sector << 1 | l2_hit`, encoded the same way, in chunks
    /// that the warp frees as it reads past them.
    pub gmem: Vec<VecDeque<Vec<u8>>>,
    /// Per warp: the lane addresses of its executed shared, constant and atomic accesses, in a
    /// stream of [`crate::access_stream::AccessEncoder`] (freed as read).
    pub lane_addrs: Vec<VecDeque<Vec<u8>>>,
    pub regs_per_warp: u32,
    /// Shared memory the CTA takes (rounded to the allocation unit).
    pub smem: u32,
    /// Warp slots the CTA takes: max(ceil(threads / 32), traced warps).
    pub nwarps: u32,
    /// A CTA fed its events in parts while it runs ([`crate::feed`]): the parts given and not
    /// reached yet. `None`: the events above are all there are.
    pub feed: Option<Box<Feed>>,
    /// The trace bytes its SM counts for it ([`SmSim::trace_bytes`]).
    pub bytes: TraceBytes,
}

/// A CTA's share of [`SmSim::trace_bytes`]: each part (its packed events and access streams)
/// counts as it was given, until the warp moves past it or the CTA retires (the access chunks
/// a warp frees as it reads are not taken off: an upper bound, and no work per event).
#[derive(Default)]
pub(crate) struct TraceBytes {
    /// Per warp: the bytes of the part it reads.
    part: Vec<usize>,
    /// Everything counted for the CTA now: its warps' parts and those given, not reached yet.
    held: usize,
    /// Parts dropped since the SM last took them off its count (`SmSim::collect_released`).
    released: usize,
}

impl PreparedCta {
    /// Count its trace bytes into [`PreparedCta::bytes`] (the same count each time until it
    /// runs) and return them.
    pub fn count_bytes(&mut self) -> usize {
        self.bytes.part = (0..self.packed.len()).map(|w| self.warp_bytes(w)).collect();
        self.bytes.held = self.bytes.part.iter().sum();
        self.bytes.held
    }

    /// The bytes of warp `w`'s current part.
    fn warp_bytes(&self, w: usize) -> usize {
        self.packed[w].heap_bytes()
            + self.gmem.get(w).map_or(0, crate::feed::stream_bytes)
            + self.lane_addrs.get(w).map_or(0, crate::feed::stream_bytes)
    }

    /// Move warp `w` past its event and decode the next one into `w.ev`; false when it has no
    /// event buffered (it ended, or is starved: [`PreparedCta::warp_ended`]).
    #[inline]
    fn next_event(&mut self, w: &mut Warp) -> bool {
        let p = &self.packed[w.w];
        p.step(&mut w.cur);
        p.get_into(&self.protos, &w.cur, &mut w.ev) || self.next_part(w)
    }

    /// Warp `w` read its part to the end: start on its next part (cursor and access readers
    /// restart; the part decodes alone) and decode its first event; false when none is there.
    #[cold]
    fn next_part(&mut self, w: &mut Warp) -> bool {
        let Some(feed) = self.feed.as_mut() else { return false };
        while let Some(part) = feed.parts[w.w].pop_front() {
            let wi = w.w;
            let old = std::mem::replace(&mut self.bytes.part[wi], part.heap_bytes());
            self.bytes.held -= old;
            self.bytes.released += old;
            self.packed[wi] = part.packed;
            self.gmem[wi] = part.gmem;
            self.lane_addrs[wi] = part.lane_addrs;
            w.cur = self.packed[wi].start();
            w.gmem = AccessReader::default();
            w.lane_addrs = AccessReader::default();
            if self.packed[wi].get_into(&self.protos, &w.cur, &mut w.ev) {
                return true;
            }
        }
        false
    }

    /// Warp `wi` has no events left to come: its trace is whole, or its last part was given.
    fn warp_ended(&self, wi: usize) -> bool {
        self.feed.as_ref().is_none_or(|f| f.ended[wi] && f.parts[wi].is_empty())
    }
}

struct CtaSlot {
    p: PreparedCta,
    warp_slots: Vec<usize>,
    live_warps: u32,
    bar_count: [u32; 16],
    bar_threads: [u16; 16],
    done_at: u64,
    regs: u32,
    smem: u32,
    threads: u32,
    nwarps: u32,
    launched_at: u64,
}

struct Warp {
    /// The slot belongs to a resident CTA.
    reserved: bool,
    /// The warp still has instructions to issue.
    live: bool,
    cta: usize,
    w: usize,
    pos: usize,
    /// Where event `pos` is in the packed trace.
    cur: Cursor,
    /// Where the warp is in its `gmem` and `lane_addrs` streams.
    gmem: AccessReader,
    lane_addrs: AccessReader,
    age: u64,
    sub: usize,
    next_issue: u64,
    next_reason: Reason,
    reg_ready: Box<[u64; 256]>,
    /// When a tensor instruction may consume the register as its accumulator (forwarding).
    reg_fwd: Box<[u64; 256]>,
    /// Why a register's result binds (Memory when a memory instruction writes it, else
    /// Dependency).
    reg_why: Box<[Reason; 256]>,
    /// Registers whose `reg_ready` may be after the cycle of the last dependency scan that met
    /// them: set when a result is scheduled, cleared by a scan that finds the result ready. A
    /// register outside it is ready (its `reg_ready` and `reg_fwd` are at most the current cycle).
    pending: [u64; 4],
    pred_ready: [u64; 8],
    pred_mem: u8,
    sb: [Vec<u64>; 6],
    sb_mem: u8,
    /// The operand reuse cache: the base register cached per source slot (byte i: slot i;
    /// [`NO_REUSE`]: none).
    reuse: u32,
    at_barrier: Option<u8>,
    accbuf_ready: u64,
    mem_done: u64,
    last_write: u64,
    /// Cached [`SmSim::own_ready`] of the next event, with its unit and unit cycles.
    own: Option<Own>,
    /// The event at `cur` (decoded once per step; meaningless when the warp is not live).
    ev: Event,
    /// Index of `ev`'s plan in [`SmSim::plans`], or [`NO_PLAN`].
    plan: u32,
    /// The (active, executed) masks of the last issue and their lane counts.
    masks: (u32, u32),
    lanes: (u64, u64),
    /// Starved ([`crate::feed`]): its buffered events ran out while more are to come, at the
    /// issue of cycle `.0` after the instruction at pc `.1` (`None`: at its launch).
    starved: Option<(u64, Option<u32>)>,
}

/// A placeholder for [`Warp::ev`] before a warp has an event.
const NO_EVENT: Event = Event {
    pc: 0,
    active: 0,
    executed: 0,
    form: 0,
    srcs: [crate::trace::RegGroup::NONE; 4],
    dsts: [crate::trace::RegGroup::NONE; 2],
    pred_reads: 0,
    pred_writes: 0,
    reuse: 0,
    control: None,
    kind: EventKind::Plain,
};

#[derive(Clone, Copy, Debug)]
struct Own {
    at: u64,
    reason: Reason,
    unit: usize,
    cycles: u64,
}

impl Warp {
    fn new() -> Warp {
        Warp {
            reserved: false,
            live: false,
            cta: 0,
            w: 0,
            pos: 0,
            cur: Cursor::default(),
            gmem: AccessReader::default(),
            lane_addrs: AccessReader::default(),
            age: 0,
            sub: 0,
            next_issue: 0,
            next_reason: Reason::Control,
            reg_ready: Box::new([0; 256]),
            reg_fwd: Box::new([0; 256]),
            reg_why: Box::new([Reason::Dependency; 256]),
            pending: [0; 4],
            pred_ready: [0; 8],
            pred_mem: 0,
            sb: Default::default(),
            sb_mem: 0,
            reuse: u32::MAX,
            at_barrier: None,
            accbuf_ready: 0,
            mem_done: 0,
            last_write: 0,
            own: None,
            ev: NO_EVENT,
            plan: NO_PLAN,
            masks: (0, 0),
            lanes: (0, 0),
            starved: None,
        }
    }

    fn reset(&mut self, cta: usize, w: usize, age: u64, sub: usize, t: u64) {
        self.reserved = true;
        self.live = true;
        self.cta = cta;
        self.w = w;
        self.pos = 0;
        self.cur = Cursor::default();
        self.gmem = AccessReader::default();
        self.lane_addrs = AccessReader::default();
        self.age = age;
        self.sub = sub;
        self.next_issue = t;
        self.next_reason = Reason::Control;
        self.reg_ready.fill(0);
        self.reg_fwd.fill(0);
        self.reg_why.fill(Reason::Dependency);
        self.pending = [0; 4];
        self.pred_ready = [0; 8];
        self.pred_mem = 0;
        for s in &mut self.sb {
            s.clear();
        }
        self.sb_mem = 0;
        self.reuse = u32::MAX;
        self.at_barrier = None;
        self.accbuf_ready = 0;
        self.mem_done = 0;
        self.last_write = 0;
        self.own = None;
        self.starved = None;
    }

    /// Registers `base..base + count` (within the 256) are written at `ready` (forwardable to a
    /// tensor accumulator at `fwd`); `mem`: by a memory instruction.
    #[inline]
    fn set_group(&mut self, base: usize, count: usize, ready: u64, fwd: u64, mem: bool) {
        let end = (base + count).min(256);
        self.reg_ready[base..end].fill(ready);
        self.reg_fwd[base..end].fill(fwd);
        self.reg_why[base..end].fill(if mem { Reason::Memory } else { Reason::Dependency });
        let mut r = base;
        while r < end {
            let hi = end.min((r | 63) + 1);
            let bits = hi - r;
            self.pending[r >> 6] |= if bits == 64 { u64::MAX } else { ((1u64 << bits) - 1) << (r & 63) };
            r = hi;
        }
    }
}

struct SubCore {
    /// Warp slots, oldest first.
    warps: Vec<usize>,
    last: Option<usize>,
    unit_issue_free: [u64; NUM_UNITS],
    unit_exec_free: [u64; NUM_UNITS],
    /// Why the unit's execution side is late (UnitBusy, or AccBuf for the tensor unit).
    unit_exec_reason: [Reason; NUM_UNITS],
    /// Operand collector units: cycle each becomes free and why it is held.
    cu: Vec<(u64, Reason)>,
    /// The first collector unit to become free (its cycle and reason; (0, RegisterBank) when
    /// there are none), kept up to date with `cu`.
    cu_first: (u64, Reason),
    /// The accumulation buffers, one bank array and collector per buffer index
    /// (`tensor.accbufs_per_warp`): products of different buffers never share a bank.
    accbuf: Vec<AccBuf>,
    /// No warp can issue before this cycle (cache; reset whenever the sub-core's warps change).
    wake: (u64, Reason),
    /// The warp slot that binds `wake` (meaningless when its reason is `Idle`).
    wake_warp: usize,
}

/// Why [`SmSim::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunStatus {
    /// Its CTA queue is empty and more CTAs may come.
    NeedCta,
    /// A warp of the open CTA of this linear index is starved ([`crate::feed`]): give the CTA
    /// more events ([`SmSim::append`]) and run again.
    NeedEvents(u64),
    Finished,
}

pub(crate) struct SmSim {
    pub t: u64,
    queue: VecDeque<PreparedCta>,
    /// The trace bytes of the CTAs queued and resident here ([`TraceBytes`]), kept up to date
    /// where CTAs and parts come and go; exact whenever the SM is not running.
    pub trace_bytes: usize,
    pub stream_done: bool,
    ctas: Vec<Option<CtaSlot>>,
    warps: Vec<Warp>,
    subs: Vec<SubCore>,
    l1: SectorCache,
    l1_ready: bool,
    mio_free: u64,
    l2_free_mc: u64,
    dram_free_mc: u64,
    free_regs: u32,
    free_smem: u32,
    free_warps: u32,
    free_threads: u32,
    resident: u32,
    launch_ready: u64,
    /// The CTA at the front of the queue did not fit, and no CTA has retired since.
    launch_blocked: bool,
    /// Earliest `done_at` of the CTAs whose warps have all finished.
    next_done: u64,
    age: u64,
    pub end: u64,
    pub stats: SmStats,
    scratch: Vec<u64>,
    /// The lane addresses of the access being timed.
    lane_scratch: Vec<u64>,
    /// The last shared-memory access of each shared-memory instruction and its wavefronts
    /// ([`memory::SmemMemo`]), and per instruction (pc / 16) its entry + 1 (0: none yet).
    smem_memo: Vec<memory::SmemMemo>,
    smem_slot: Vec<u16>,
    outcome: Vec<Outcome>,
    /// Per instruction (pc / 16): its plan, once a warp decoded it.
    plans: Vec<Option<Plan>>,
    pub log: Option<Vec<IssueRecord>>,
    /// Per instruction (pc / 16): its share of the statistics ([`crate::by_pc`]).
    pub by_pc: Vec<PcRow>,
    /// The timeline recorder, on the sampled SMs when a timeline is asked for.
    pub timeline: Option<Box<timeline::Recorder>>,
    /// Warps starved ([`Warp::starved`]).
    starved: u32,
    /// This cycle's retirements and launches are done: a run that stopped for a warp starved at
    /// its launch resumes after them.
    launched: bool,
}

/// What [`SmSim::schedule`] did on a sub-core: issued, or not until `next` because of
/// `reason` (binding on warp slot `warp`, meaningless for `Idle`).
#[derive(Clone, Copy)]
struct Outcome {
    issued: bool,
    next: u64,
    reason: Reason,
    warp: u32,
}

const NOT_RUN: Outcome = Outcome { issued: false, next: 0, reason: Reason::Idle, warp: 0 };

/// One issued warp-instruction (see [`crate::issue_timeline`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssueRecord {
    /// Warp index in its CTA.
    pub warp: u32,
    /// Index of the event in the warp's trace.
    pub event: usize,
    pub pc: u32,
    /// Cycle of issue.
    pub cycle: u64,
    /// Cycle from which its results can be used (for stores: when the data left the SM's
    /// pipe; for instructions without results: issue + latency).
    pub complete: u64,
    pub sub_core: u32,
}

impl SmSim {
    pub fn new(r: &Resolved) -> SmSim {
        let c = &r.cfg;
        let subs = (0..c.sm.sub_cores)
            .map(|_| SubCore {
                warps: Vec::new(),
                last: None,
                unit_issue_free: [0; NUM_UNITS],
                unit_exec_free: [0; NUM_UNITS],
                unit_exec_reason: [Reason::UnitBusy; NUM_UNITS],
                cu: vec![(0, Reason::RegisterBank); c.scheduler.collector_units as usize],
                cu_first: (0, Reason::RegisterBank),
                accbuf: (0..c.tensor.accbufs_per_warp)
                    .map(|_| {
                        AccBuf::new(
                            c.accbuf.bank_rows,
                            c.accbuf.bank_cols,
                            c.accbuf.ports_per_bank,
                            c.accbuf.collector_window,
                        )
                    })
                    .collect(),
                wake: (0, Reason::Idle),
                wake_warp: 0,
            })
            .collect();
        SmSim {
            t: 0,
            queue: VecDeque::new(),
            trace_bytes: 0,
            stream_done: false,
            ctas: Vec::new(),
            warps: Vec::new(),
            subs,
            l1: SectorCache::disabled(),
            l1_ready: false,
            mio_free: 0,
            l2_free_mc: 0,
            dram_free_mc: 0,
            free_regs: c.sm.registers,
            free_smem: r.shared_capacity,
            free_warps: c.sm.max_warps,
            free_threads: c.sm.max_threads,
            resident: 0,
            launch_ready: 0,
            launch_blocked: false,
            next_done: NEVER,
            age: 0,
            end: 0,
            stats: SmStats::new(FORMS.len()),
            scratch: Vec::new(),
            lane_scratch: Vec::new(),
            smem_memo: Vec::new(),
            smem_slot: Vec::new(),
            outcome: Vec::new(),
            plans: Vec::new(),
            log: None,
            by_pc: Vec::new(),
            timeline: None,
            starved: 0,
            launched: false,
        }
    }

    fn fits(&self, r: &Resolved, p: &PreparedCta) -> bool {
        self.fits_shape(r, &CtaShape::of(p))
    }

    fn fits_shape(&self, r: &Resolved, p: &CtaShape) -> bool {
        let c = &r.cfg.sm;
        let nwarps = p.nwarps;
        self.resident < c.max_ctas
            && nwarps <= self.free_warps
            && p.threads <= self.free_threads
            && p.regs_per_warp * nwarps <= self.free_regs
            && p.smem <= self.free_smem
    }

    fn launch(&mut self, r: &Resolved, mut p: PreparedCta) {
        if !self.l1_ready {
            let m = &r.cfg.memory;
            self.l1 = SectorCache::new(r.l1_bytes, m.line_bytes, m.sector_bytes, m.l1_ways);
            self.l1_ready = true;
        }
        let t = self.t;
        if self.by_pc.len() < p.protos.len() {
            self.by_pc.resize(p.protos.len(), [0; by_pc::NUM_PC_COLUMNS]);
        }
        let nwarps = p.nwarps;
        let regs = p.regs_per_warp * nwarps;
        let slot = match self.ctas.iter().position(|c| c.is_none()) {
            Some(i) => i,
            None => {
                self.ctas.push(None);
                self.ctas.len() - 1
            }
        };
        let mut warp_slots = Vec::with_capacity(p.trace.warps.len());
        let mut live = 0;
        let nsub = self.subs.len();
        for wi in 0..p.trace.warps.len() {
            // Warp slots are made on first use (each holds 4 KB of scoreboards; most of the 64
            // slots of most SMs are never used): a new one is the lowest slot never used yet.
            let ws = match self.warps.iter().position(|w| !w.reserved) {
                Some(i) => i,
                None => {
                    self.warps.push(Warp::new());
                    self.warps.len() - 1
                }
            };
            let sub = ws % nsub;
            self.age += 1;
            self.warps[ws].reset(slot, wi, self.age, sub, t);
            let w = &mut self.warps[ws];
            w.cur = p.packed[wi].start();
            let first = p.packed[wi].get_into(&p.protos, &w.cur, &mut w.ev) || p.next_part(w);
            if !first {
                w.ev = NO_EVENT;
            }
            w.plan = plan_of(&mut self.plans, r, &w.ev);
            let has_events = first && Self::drop_removed(r, &mut self.stats, &mut self.plans, &mut p, w).0;
            if !has_events && !p.warp_ended(wi) {
                // Starved at launch: live, on its sub-core, refilled before it is scheduled.
                self.warps[ws].starved = Some((t, None));
                self.starved += 1;
                self.subs[sub].warps.push(ws);
                self.subs[sub].wake = (0, Reason::Idle);
                live += 1;
            } else if !has_events {
                self.warps[ws].live = false;
            } else {
                self.subs[sub].warps.push(ws);
                self.subs[sub].wake = (0, Reason::Idle);
                live += 1;
            }
            warp_slots.push(ws);
        }
        self.free_regs -= regs;
        self.free_smem -= p.smem;
        self.free_warps -= nwarps;
        self.free_threads -= p.trace.threads;
        self.resident += 1;
        self.stats.ctas += 1;
        self.stats.warps += p.trace.warps.len() as u64;
        self.stats.max_resident = self.stats.max_resident.max(self.resident as u64);
        let threads = p.trace.threads;
        let smem = p.smem;
        if live == 0 {
            self.next_done = self.next_done.min(t);
        }
        self.ctas[slot] = Some(CtaSlot {
            p,
            warp_slots,
            live_warps: live,
            bar_count: [0; 16],
            bar_threads: [0; 16],
            done_at: if live == 0 { t } else { NEVER },
            regs,
            smem,
            threads,
            nwarps,
            launched_at: t,
        });
    }

    fn retire_ctas(&mut self, r: &Resolved) {
        if self.t < self.next_done {
            return;
        }
        self.next_done = NEVER;
        for i in 0..self.ctas.len() {
            let done = match &self.ctas[i] {
                Some(c) => c.live_warps == 0 && c.done_at <= self.t,
                None => false,
            };
            if done {
                let c = self.ctas[i].take().unwrap();
                self.trace_bytes -= c.p.bytes.held + c.p.bytes.released;
                self.launch_blocked = false;
                for &ws in &c.warp_slots {
                    self.warps[ws].live = false;
                    self.warps[ws].reserved = false;
                    self.warps[ws].own = None;
                }
                self.free_regs += c.regs;
                self.free_smem += c.smem;
                self.free_warps += c.nwarps;
                self.free_threads += c.threads;
                self.resident -= 1;
                self.end = self.end.max(c.done_at);
                self.launch_ready = self.launch_ready.max(c.done_at + r.cfg.sm.cta_launch_cycles as u64);
                if let Some(tl) = self.timeline.as_mut() {
                    let kind = TimelineKind::Cta { cta: c.p.trace.cta, warps: c.warp_slots.len() as u32 };
                    let first = c.warp_slots.first().copied().unwrap_or(0) as u32;
                    tl.add(kind, i as u32, first, 0, 0, c.launched_at, c.done_at);
                }
            } else if let Some(c) = &self.ctas[i] {
                if c.live_warps == 0 {
                    self.next_done = self.next_done.min(c.done_at);
                }
            }
        }
    }

    /// Queue the next CTA of this SM (in linear CTA order).
    pub fn enqueue(&mut self, mut p: PreparedCta) {
        self.trace_bytes += p.count_bytes();
        self.queue.push_back(p);
    }

    /// Take the parts the resident CTAs' warps moved past off [`SmSim::trace_bytes`].
    fn collect_released(&mut self) {
        for c in self.ctas.iter_mut().flatten() {
            self.trace_bytes -= std::mem::take(&mut c.p.bytes.released);
        }
    }

    /// Simulate until the CTA queue runs dry (and more may come) or everything is done.
    pub fn run(&mut self, r: &Resolved) -> RunStatus {
        let status = self.run_until_stop(r);
        self.collect_released();
        status
    }

    fn run_until_stop(&mut self, r: &Resolved) -> RunStatus {
        loop {
            // A starved warp stops the SM at the start of the cycle after its issue (or after
            // its launch), before anything else happens in it.
            if self.starved > 0 {
                return RunStatus::NeedEvents(self.starved_cta());
            }
            if !std::mem::take(&mut self.launched) {
                self.retire_ctas(r);
                while let Some(p) = self.queue.front() {
                    if self.launch_blocked || self.t < self.launch_ready {
                        break;
                    }
                    if self.fits(r, p) {
                        let p = self.queue.pop_front().unwrap();
                        self.launch(r, p);
                    } else {
                        self.launch_blocked = true;
                        break;
                    }
                }
                if self.starved > 0 {
                    self.launched = true;
                    return RunStatus::NeedEvents(self.starved_cta());
                }
            }
            // dynamic dispatch: ask for a CTA when one of the launch's shape fits, at the cycle
            // the SM may launch it (the wait for `launch_ready` is a wake-up below)
            let asking = match &r.dispatch_shape {
                Some(shape) => self.queue.is_empty() && !self.stream_done && self.fits_shape(r, shape),
                None => false,
            };
            if asking && self.t >= self.launch_ready {
                return RunStatus::NeedCta;
            }
            if r.dispatch_shape.is_none()
                && self.queue.is_empty()
                && !self.stream_done
                && self.resident < r.cfg.sm.max_ctas
                && self.free_warps > 0
            {
                return RunStatus::NeedCta;
            }
            if self.resident == 0 && self.queue.is_empty() && !asking {
                if self.stream_done {
                    return RunStatus::Finished;
                }
                return RunStatus::NeedCta;
            }
            let t = self.t;
            let mut next = NEVER;
            let mut outcome = std::mem::take(&mut self.outcome);
            outcome.resize(self.subs.len(), NOT_RUN);
            for (s, slot) in outcome.iter_mut().enumerate() {
                let o = self.schedule(r, s);
                *slot = o;
                if o.issued {
                    next = next.min(t + 1);
                } else {
                    next = next.min(o.next);
                }
            }
            // CTA completions and launches also wake the SM.
            if self.next_done != NEVER {
                next = next.min(self.next_done.max(t + 1));
            }
            if (!self.queue.is_empty() || asking) && self.launch_ready > t {
                next = next.min(self.launch_ready);
            }
            if next == NEVER || next <= t {
                // Nothing can make progress by itself: warps wait on a barrier that no live warp
                // will reach. Release them (the hardware would hang; the model counts it and
                // moves on).
                self.outcome = outcome;
                if !self.break_deadlock() {
                    self.t = t + 1;
                }
                continue;
            }
            for (s, o) in outcome.iter().enumerate() {
                if o.issued {
                    self.stats.issue_cycles += 1;
                } else {
                    let span = next - t;
                    if self.subs[s].warps.is_empty() {
                        self.stats.stalls[Reason::Idle as usize] += span;
                    } else {
                        self.stats.stalls[o.reason as usize] += span;
                        let pc = self.warps[o.warp as usize].ev.pc;
                        by_pc::add_stall(&mut self.by_pc, (pc / INSTRUCTION_BYTES) as usize, o.reason, span);
                        if self.timeline.is_some() {
                            let (slot, warp, pc) = match o.reason {
                                Reason::Idle => (0, 0, 0),
                                _ => (o.warp, self.warp_in_cta(o.warp as usize), pc),
                            };
                            if let Some(tl) = self.timeline.as_mut() {
                                tl.stall(s, o.reason, slot, warp, pc, t, next);
                            }
                        }
                    }
                }
            }
            self.outcome = outcome;
            self.t = next;
        }
    }

    /// The index in its CTA of the warp in slot `ws`.
    fn warp_in_cta(&self, ws: usize) -> u32 {
        let w = &self.warps[ws];
        self.ctas[w.cta].as_ref().map(|c| c.p.trace.warps[w.w].warp_in_cta).unwrap_or(0)
    }

    fn break_deadlock(&mut self) -> bool {
        let mut released = false;
        for ci in 0..self.ctas.len() {
            let Some(c) = self.ctas[ci].as_ref() else { continue };
            let slots = c.warp_slots.clone();
            let waiting: Vec<usize> = slots.iter().copied().filter(|&ws| self.warps[ws].at_barrier.is_some()).collect();
            if !waiting.is_empty() {
                for ws in waiting {
                    let w = &mut self.warps[ws];
                    self.subs[w.sub].wake = (0, Reason::Idle);
                    w.at_barrier = None;
                    w.next_issue = w.next_issue.max(self.t + 1);
                    w.own = None;
                }
                if let Some(c) = self.ctas[ci].as_mut() {
                    c.bar_count = [0; 16];
                    c.bar_threads = [0; 16];
                }
                self.stats.barrier_deadlocks += 1;
                released = true;
            }
        }
        released
    }

    /// The cycle from which warp `ws` could issue its next instruction as far as its own state
    /// goes (dependencies, stall counts, barrier), and the binding reason.
    #[inline]
    fn own_ready(&mut self, r: &Resolved, ws: usize) -> Own {
        if let Some(o) = self.warps[ws].own {
            return o;
        }
        let w = &mut self.warps[ws];
        let plan = if w.plan == NO_PLAN { None } else { self.plans[w.plan as usize].as_ref() };
        let own = Self::compute_own(r, w, plan, self.t);
        self.warps[ws].own = Some(own);
        own
    }

    /// `now`: the current cycle. A register whose result is ready by then cannot make the warp
    /// wait past `now`, and whether the warp can issue at `now` is all that the scheduler asks
    /// of a cycle that is not after `now` (see [`Warp::pending`]).
    fn compute_own(r: &Resolved, w: &mut Warp, plan: Option<&Plan>, now: u64) -> Own {
        let e = &w.ev;
        let fs = &r.forms[e.form as usize];
        let mut best = (w.next_issue, w.next_reason);
        let mut upd = |time: u64, reason: Reason| {
            if time > best.0 {
                best = (time, reason);
            }
        };
        if w.at_barrier.is_some() {
            upd(NEVER, Reason::Barrier);
        }
        let control = if r.cfg.scheduler.use_control_bits { e.control } else { None };
        if let Some(ctl) = control {
            for sb in 0..6 {
                if ctl.wait_mask & (1 << sb) != 0 {
                    if let Some(&m) = w.sb[sb].iter().max() {
                        upd(m, if w.sb_mem & (1 << sb) != 0 { Reason::Memory } else { Reason::Dependency });
                    }
                }
            }
            if let EventKind::DepBar { sb, le } = e.kind {
                let sb = (sb as usize).min(5);
                let mut v = w.sb[sb].clone();
                if v.len() > le as usize {
                    v.sort_unstable();
                    let time = v[v.len() - le as usize - 1];
                    upd(time, if w.sb_mem & (1 << sb) != 0 { Reason::Memory } else { Reason::Dependency });
                }
            }
        } else {
            // The accumulator (source slot 2) of HMMA.884 and dense OHMMA may be forwarded from
            // the tensor instruction that produces it; slots 4.. are destinations: the in-order
            // tensor pipe writes them in order.
            let (mut at, mut reason) = best;
            match plan {
                Some(p) if p.simple => {
                    // Only registers pending at `now` can bind past `now`; ready ones leave the
                    // pending set as they are met. Within a group the registers are visited in
                    // ascending order, and the groups in slot order, so the first register with
                    // the latest cycle binds as in a scan of every register.
                    for k in 0..p.ngroups as usize {
                        let wi = p.word[k] as usize;
                        let mut bits = w.pending[wi] & p.mask[k];
                        while bits != 0 {
                            let reg = wi << 6 | bits.trailing_zeros() as usize;
                            bits &= bits - 1;
                            if w.reg_ready[reg] <= now {
                                w.pending[wi] &= !(1u64 << (reg & 63));
                                continue;
                            }
                            let rt = if p.fwd & (1 << k) != 0 { w.reg_fwd[reg] } else { w.reg_ready[reg] };
                            if rt > at {
                                at = rt;
                                reason = w.reg_why[reg];
                            }
                        }
                    }
                }
                _ => {
                    let fwd_mask: u8 = if fs.fwd_class && r.cfg.tensor.accumulator_forwarding { 0b110100 } else { 0 };
                    let groups = [e.srcs[0], e.srcs[1], e.srcs[2], e.srcs[3], e.dsts[0], e.dsts[1]];
                    for (slot, g) in groups.iter().enumerate() {
                        let table: &[u64; 256] = if fwd_mask & (1 << slot) != 0 { &w.reg_fwd } else { &w.reg_ready };
                        for reg in g.base as usize..g.base as usize + g.count as usize {
                            let rt = table[reg & 255];
                            if rt > at {
                                at = rt;
                                reason = w.reg_why[reg & 255];
                            }
                        }
                    }
                }
            }
            best = (at, reason);
            let mut preds = (e.pred_reads | e.pred_writes) & 0x7f;
            while preds != 0 {
                let p = preds.trailing_zeros() as usize;
                preds &= preds - 1;
                let rt = w.pred_ready[p];
                if rt > best.0 {
                    best = (rt, if w.pred_mem & (1 << p) != 0 { Reason::Memory } else { Reason::Dependency });
                }
            }
        }
        match e.kind {
            EventKind::MemBar if w.mem_done > best.0 => best = (w.mem_done, Reason::Memory),
            EventKind::Tensor(TensorOp {
                class: TensorClass::AccbClear | TensorClass::AccbMov | TensorClass::AccbSts | TensorClass::AccbLds,
                ..
            }) if w.accbuf_ready > best.0 => best = (w.accbuf_ready, Reason::AccBuf),
            _ => {}
        }
        Own { at: best.0, reason: best.1, unit: fs.unit, cycles: fs.occupancy(e) }
    }

    /// Readiness of warp `ws` at the current cycle including the sub-core's shared resources.
    #[inline]
    fn ready(&mut self, r: &Resolved, ws: usize) -> (u64, Reason) {
        let Own { mut at, mut reason, unit: u, cycles } = self.own_ready(r, ws);
        if at == NEVER {
            return (at, reason);
        }
        let sub = &self.subs[self.warps[ws].sub];
        if cycles > 0 && sub.unit_issue_free[u] > at {
            at = sub.unit_issue_free[u];
            reason =
                if sub.unit_exec_free[u] > sub.unit_issue_free[u] { sub.unit_exec_reason[u] } else { Reason::UnitBusy };
        }
        let (cu_free, cu_reason) = sub.cu_first;
        if cu_free > at {
            at = cu_free;
            reason = cu_reason;
        }
        (at, reason)
    }

    /// Pick and issue one instruction on sub-core `s` (inlined into the cycle loop: called per
    /// sub-core and cycle, a call costs more than the per-pc counting it would save).
    #[inline(always)]
    fn schedule(&mut self, r: &Resolved, s: usize) -> Outcome {
        let t = self.t;
        let n = self.subs[s].warps.len();
        if n == 0 {
            return Outcome { issued: false, next: NEVER, reason: Reason::Idle, warp: 0 };
        }
        // Nothing on this sub-core changed since it last found no warp ready before `wake`.
        if t < self.subs[s].wake.0 {
            let (next, reason) = self.subs[s].wake;
            return Outcome { issued: false, next, reason, warp: self.subs[s].wake_warp as u32 };
        }
        let mut best: (u64, Reason) = (NEVER, Reason::Idle);
        let mut best_warp = 0;
        let mut chosen: Option<usize> = None;
        // Candidates in priority order: GTO = the last warp, then oldest first; LRR = the warps
        // after the last one (by age), wrapping around.
        let (first, start) = match (r.cfg.scheduler.policy, self.subs[s].last) {
            (SchedulerPolicy::Gto, Some(last)) => (Some(last), 0),
            (SchedulerPolicy::Lrr, Some(last)) => {
                let age = self.warps[last].age;
                (None, self.subs[s].warps.iter().position(|&w| self.warps[w].age > age).unwrap_or(0))
            }
            _ => (None, 0),
        };
        let mut consider = |this: &mut SmSim, ws: usize| -> bool {
            let (at, reason) = this.ready(r, ws);
            if at <= t {
                chosen = Some(ws);
                return true;
            }
            if at < best.0 {
                best = (at, reason);
                best_warp = ws;
            }
            false
        };
        let mut done = false;
        if let Some(l) = first {
            done = consider(self, l);
        }
        let mut k = 0;
        while !done && k < n {
            let ws = self.subs[s].warps[(start + k) % n];
            k += 1;
            if Some(ws) == first {
                continue;
            }
            done = consider(self, ws);
        }
        match chosen {
            Some(ws) => {
                self.issue(r, s, ws);
                self.subs[s].wake = (0, Reason::Idle);
                Outcome { issued: true, next: t + 1, reason: Reason::Idle, warp: ws as u32 }
            }
            None => {
                self.subs[s].wake = best;
                self.subs[s].wake_warp = best_warp;
                Outcome { issued: false, next: best.0, reason: best.1, warp: best_warp as u32 }
            }
        }
    }

    /// Operand collection of warp `ws`'s event `e`: register-bank conflicts and the reuse cache;
    /// returns the read cycles. A group of n registers puts n / banks reads on every bank
    /// (`uniform`) and one more on the n % banks banks from its first register's (`extra`).
    #[inline(always)]
    fn collect_operands(&mut self, r: &Resolved, ws: usize, e: &Event) -> u64 {
        let w = &mut self.warps[ws];
        match self.plans.get_mut(w.plan as usize) {
            Some(Some(p)) => {
                // Bytewise: slot i hits when byte i of the cache equals its base.
                let x = w.reuse ^ p.bases;
                let nonzero = ((x & 0x7f7f_7f7f).wrapping_add(0x7f7f_7f7f) | x) & 0x8080_8080;
                let eq = !nonzero & p.present & 0x8080_8080;
                let hits = ((eq >> 7) & 1 | (eq >> 14) & 2 | (eq >> 21) & 4 | (eq >> 28) & 8) as usize;
                w.reuse = (w.reuse & !p.present) | (p.bases & p.keep) | (p.present & !p.keep);
                self.stats.reuse_hits += 0x4332_3221_3221_2110u64 >> (4 * hits) & 15;
                match p.read_cycles[hits] {
                    0 => {
                        let c = bank_read_cycles(r, &e.srcs, hits);
                        if c < 255 {
                            p.read_cycles[hits] = c as u8;
                        }
                        c
                    }
                    c => c as u64,
                }
            }
            _ => {
                let mut hits = 0usize;
                let mut cache = w.reuse.to_le_bytes();
                for (i, g) in e.srcs.iter().enumerate() {
                    if g.count == 0 {
                        continue;
                    }
                    hits |= ((cache[i] == g.base) as usize) << i;
                    cache[i] = if e.reuse & (1 << i) != 0 { g.base } else { 255 };
                }
                w.reuse = u32::from_le_bytes(cache);
                self.stats.reuse_hits += hits.count_ones() as u64;
                bank_read_cycles(r, &e.srcs, hits)
            }
        }
    }

    /// The execution of event `e` of warp `ws` (sub-core `s`) starting at `exec_start` with
    /// `cycles` unit cycles: (result cycle, forwarded-result cycle, whether it is a memory access).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn execute(
        &mut self,
        r: &Resolved,
        s: usize,
        ws: usize,
        e: &Event,
        exec_start: u64,
        cycles: u64,
    ) -> (u64, Option<u64>, bool) {
        let fs = &r.forms[e.form as usize];
        let executed = e.executed != 0;
        let mut result = exec_start + fs.latency;
        let mut fwd = None;
        let mut is_mem = false;
        match fs.class {
            Class::Memory(m) => {
                let (space, op) = memory_access(m);
                is_mem = true;
                result = if executed { self.memory(r, ws, e, space, op, exec_start) } else { exec_start + 1 };
            }
            Class::Warp(WarpClass::Shfl) => {
                let start = exec_start.max(self.mio_free);
                self.mio_free = start + 1;
                result = start + fs.latency;
            }
            Class::Tensor(tc) => {
                result = self.tensor(r, s, ws, e, tc, exec_start, cycles);
                if fs.fwd_class {
                    fwd = Some(exec_start + cycles.max(1));
                }
            }
            _ => {}
        }
        (result, fwd, is_mem)
    }

    /// The timeline's slices of an issue's execution: a memory request in flight, the tensor
    /// core busy.
    #[allow(clippy::too_many_arguments)]
    fn record_execution(&mut self, s: usize, ws: usize, e: &Event, class: Class, start: u64, cycles: u64, result: u64) {
        let warp = self.warp_in_cta(ws);
        let mem_done = self.warps[ws].mem_done;
        let Some(tl) = self.timeline.as_mut() else { return };
        match class {
            Class::Memory(m) if e.executed != 0 => {
                let (space, op) = memory_access(m);
                let end = if op == MemOp::Load { result } else { result.max(mem_done) };
                tl.add(TimelineKind::Memory(space), s as u32, ws as u32, warp, e.pc, start, end);
            }
            Class::Tensor(_) if cycles > 0 => {
                tl.add(TimelineKind::Tensor, s as u32, ws as u32, warp, e.pc, start, start + cycles);
            }
            _ => {}
        }
    }

    fn issue(&mut self, r: &Resolved, s: usize, ws: usize) {
        let t = self.t;
        let c = &r.cfg;
        let e = self.warps[ws].ev;
        let fs = &r.forms[e.form as usize];
        let executed = e.executed != 0;
        let event_index = self.warps[ws].pos;
        let pc_index = (e.pc / INSTRUCTION_BYTES) as usize;
        self.stats.warp_instructions += 1;
        {
            // Lane counts, kept per warp: the masks change seldom from one event to the next.
            let w = &mut self.warps[ws];
            if (e.active, e.executed) != w.masks {
                w.masks = (e.active, e.executed);
                w.lanes = (e.active.count_ones() as u64, e.executed.count_ones() as u64);
            }
            self.stats.thread_instructions += w.lanes.0;
            self.stats.predicated_thread_instructions += w.lanes.1;
        }
        self.stats.per_form[e.form as usize] += 1;

        let read_cycles = self.collect_operands(r, ws, &e);
        let extra = read_cycles - 1;
        self.stats.bank_conflict_cycles += extra;

        let (u, cycles) = (fs.unit, fs.occupancy(&e));
        let sub = &mut self.subs[s];
        let exec_start = (t + extra).max(if cycles > 0 { sub.unit_exec_free[u] } else { 0 });
        let waited_unit = exec_start > t + extra;
        if cycles > 0 {
            sub.unit_issue_free[u] = t + cycles;
            sub.unit_exec_free[u] = exec_start + cycles;
            if !waited_unit {
                sub.unit_exec_reason[u] = Reason::UnitBusy;
            }
        }
        let cu_reason = if waited_unit { sub.unit_exec_reason[u] } else { Reason::RegisterBank };
        if let Some(i) = first_min(&sub.cu) {
            sub.cu[i] = (exec_start + 1, cu_reason);
            sub.cu_first = first_min(&sub.cu).map(|i| sub.cu[i]).unwrap_or((0, Reason::RegisterBank));
        }
        sub.last = Some(ws);

        // Results.
        let before = by_pc::Snapshot::take(fs.probe, &self.stats);
        let (result, fwd, is_mem) = self.execute(r, s, ws, &e, exec_start, cycles);
        {
            let lanes = self.warps[ws].lanes;
            let row = by_pc::row(&mut self.by_pc, pc_index);
            row[by_pc::WARP_INSTRUCTIONS] += 1;
            row[by_pc::THREAD_INSTRUCTIONS] += lanes.0;
            row[by_pc::PREDICATED_OFF] += lanes.0 - lanes.1;
            row[by_pc::BANK_CONFLICT_CYCLES] += extra;
            if let Class::Tensor(_) = fs.class {
                row[by_pc::TENSOR_BUSY] += cycles;
            }
            before.add_delta(row, &self.stats);
        }
        if self.timeline.is_some() {
            self.record_execution(s, ws, &e, fs.class, exec_start, cycles, result);
        }

        let control = if c.scheduler.use_control_bits { e.control } else { None };
        let mut next;
        {
            let w = &mut self.warps[ws];
            if executed {
                let fwd = fwd.unwrap_or(result).min(result);
                for g in e.dsts {
                    if g.count > 0 {
                        w.set_group(g.base as usize, g.count as usize, result, fwd, is_mem);
                    }
                }
                let mut preds = e.pred_writes & 0x7f;
                while preds != 0 {
                    let p = preds.trailing_zeros() as usize;
                    preds &= preds - 1;
                    w.pred_ready[p] = result;
                }
                let pw = e.pred_writes & 0x7f;
                w.pred_mem = if is_mem { w.pred_mem | pw } else { w.pred_mem & !pw };
                if e.pred_writes != 0 || e.dsts[0].count > 0 || e.dsts[1].count > 0 {
                    w.last_write = w.last_write.max(result);
                }
            }
            if let Some(ctl) = control {
                for sb in w.sb.iter_mut() {
                    sb.retain(|&x| x > t);
                }
                if ctl.write_barrier < 6 {
                    let b = ctl.write_barrier as usize;
                    w.sb[b].push(if executed { result } else { t + 1 });
                    if is_mem {
                        w.sb_mem |= 1 << b;
                    } else {
                        w.sb_mem &= !(1 << b);
                    }
                }
                if ctl.read_barrier < 6 {
                    let b = ctl.read_barrier as usize;
                    w.sb[b].push(t + read_cycles);
                }
                w.next_issue = t + (ctl.stall as u64).max(1);
                w.next_reason = Reason::Control;
            } else {
                w.next_issue = t + 1;
                w.next_reason = Reason::Control;
            }
            w.own = None;
            w.pos += 1;
            // Decode the next event (false: the warp's trace ends, or it is starved).
            next = match self.ctas[w.cta].as_mut() {
                Some(c) => c.p.next_event(w),
                None => false,
            };
            if next {
                w.plan = plan_of(&mut self.plans, r, &w.ev);
            }
        }
        // The front end may remove the next events before they issue.
        let mut last_pc = e.pc;
        if next && r.cfg.scheduler.drop_predicated_off_tensor {
            let w = &mut self.warps[ws];
            if let Some(c) = self.ctas[w.cta].as_mut() {
                let (more, removed) = Self::drop_removed(r, &mut self.stats, &mut self.plans, &mut c.p, w);
                next = more;
                last_pc = removed.unwrap_or(last_pc);
            }
        }

        if self.timeline.is_some() {
            let warp = self.warp_in_cta(ws);
            if let Some(tl) = self.timeline.as_mut() {
                tl.add(TimelineKind::Issue { result }, s as u32, ws as u32, warp, e.pc, t, t + 1);
            }
        }
        if self.log.is_some() {
            let warp = self.warp_in_cta(ws);
            if let Some(log) = self.log.as_mut() {
                log.push(IssueRecord {
                    warp,
                    event: event_index,
                    pc: e.pc,
                    cycle: t,
                    complete: result,
                    sub_core: s as u32,
                });
            }
        }

        // Barriers.
        if let (Class::Control(ControlClass::Bar), EventKind::Barrier { op, id, threads }) = (fs.class, e.kind) {
            if executed {
                let id = (id & 15) as usize;
                let cta = self.warps[ws].cta;
                if op == BarOp::Sync || op == BarOp::Red {
                    self.warps[ws].at_barrier = Some(id as u8);
                }
                if let Some(cs) = self.ctas[cta].as_mut() {
                    cs.bar_count[id] += 1;
                    if threads != 0 {
                        cs.bar_threads[id] = threads;
                    }
                }
                self.stats.barriers += 1;
                self.check_barrier(r, cta, id);
            }
        }

        // Next instruction: a taken control transfer refills the instruction buffer.
        match next.then_some(self.warps[ws].ev.pc) {
            Some(pc) => self.branch_refill(r, ws, t, last_pc, pc),
            None if !self.cta_of(ws).p.warp_ended(self.warps[ws].w) => {
                // more events are to come: the refill goes on from here (`SmSim::refill`)
                self.warps[ws].starved = Some((t, Some(last_pc)));
                self.starved += 1;
            }
            None => self.finish_warp(r, ws),
        }
    }

    /// The issue at cycle `t` of warp `ws`'s instruction at `last_pc` is followed by one at `pc`:
    /// a taken control transfer refills the instruction buffer.
    #[inline]
    fn branch_refill(&mut self, r: &Resolved, ws: usize, t: u64, last_pc: u32, pc: u32) {
        let refill = r.cfg.sm.branch_refill_cycles as u64;
        if pc != last_pc.wrapping_add(INSTRUCTION_BYTES) && refill > 0 {
            let w = &mut self.warps[ws];
            let at = t + 1 + refill;
            if at > w.next_issue {
                w.next_issue = at;
                w.next_reason = Reason::Frontend;
            }
        }
    }

    /// The resident CTA of warp slot `ws`.
    fn cta_of(&self, ws: usize) -> &CtaSlot {
        self.ctas[self.warps[ws].cta].as_ref().expect("a live warp's CTA is resident")
    }

    /// The linear index of the open CTA of a starved warp.
    #[cold]
    fn starved_cta(&self) -> u64 {
        let ws = self.warps.iter().position(|w| w.reserved && w.starved.is_some()).expect("a starved warp");
        self.cta_of(ws).p.feed.as_ref().map_or(0, |f| f.index)
    }

    /// Give the open CTA of linear index `index` (resident or queued) the next part of each
    /// warp (`parts[w]`, `None`: none this time; `last[w]`: no part comes after it, true for
    /// the warps beyond `last`) and refill
    /// its starved warps: each does what its issue (or launch) would have done with the events
    /// there then (decode, plan, the removal of predicated-off tensor instructions, the branch
    /// refill from its last pc, or finishing with the drain of that cycle). False: no such CTA.
    pub fn append(
        &mut self,
        r: &Resolved,
        index: u64,
        parts: Vec<Option<WarpPart>>,
        last: &[bool],
        protos: Option<Protos>,
    ) -> bool {
        let is = |p: &PreparedCta| p.feed.as_ref().is_some_and(|f| f.index == index);
        let slot = self.ctas.iter().position(|c| c.as_ref().is_some_and(|c| is(&c.p)));
        let p = match slot {
            Some(i) => &mut self.ctas[i].as_mut().unwrap().p,
            None => match self.queue.iter_mut().find(|p| is(p)) {
                Some(p) => p,
                None => return false,
            },
        };
        if let Some(protos) = protos {
            p.protos = protos; // the table only grows: earlier parts decode against it too
        }
        let added: usize = parts.iter().flatten().map(WarpPart::heap_bytes).sum();
        p.bytes.held += added;
        let feed = p.feed.as_mut().unwrap();
        let mut parts = parts.into_iter();
        for w in 0..feed.ended.len() {
            feed.give(w, parts.next().flatten(), last.get(w).copied().unwrap_or(true));
        }
        self.trace_bytes += added;
        let Some(i) = slot else { return true };
        for ws in self.ctas[i].as_ref().unwrap().warp_slots.clone() {
            if self.warps[ws].starved.is_some() {
                self.refill(r, ws);
            }
        }
        self.collect_released();
        true
    }

    /// Refill starved warp `ws` from the parts its CTA was given.
    fn refill(&mut self, r: &Resolved, ws: usize) {
        let Some((t, last)) = self.warps[ws].starved else { return };
        let w = &mut self.warps[ws];
        let c = self.ctas[w.cta].as_mut().unwrap();
        let mut next = c.p.next_part(w);
        let mut last_pc = last;
        if next {
            w.plan = plan_of(&mut self.plans, r, &w.ev);
            let (more, removed) = Self::drop_removed(r, &mut self.stats, &mut self.plans, &mut c.p, w);
            next = more;
            last_pc = removed.or(last_pc);
        }
        if !next && !c.p.warp_ended(w.w) {
            w.starved = Some((t, last_pc));
            return;
        }
        w.starved = None;
        self.starved -= 1;
        match (next, last_pc) {
            (true, Some(lp)) => {
                let pc = self.warps[ws].ev.pc;
                self.branch_refill(r, ws, t, lp, pc);
            }
            (true, None) => {} // starved at launch: scheduled from its launch cycle on
            (false, _) => {
                // its trace ended where it starved: finish it as of then
                let now = std::mem::replace(&mut self.t, t);
                self.finish_warp(r, ws);
                self.t = now;
            }
        }
    }

    /// With `scheduler.drop_predicated_off_tensor`: removes the warp-uniformly predicated-off
    /// tensor instructions at the warp's position before they issue (no issue slot, no unit
    /// time, no wait on their operands), counting them as the instructions they are (skipped
    /// ones) and in `issue_removed`. Returns whether the warp has an event left, and the pc of the
    /// last one removed.
    fn drop_removed(
        r: &Resolved,
        stats: &mut SmStats,
        plans: &mut Vec<Option<Plan>>,
        p: &mut PreparedCta,
        w: &mut Warp,
    ) -> (bool, Option<u32>) {
        let mut last = None;
        if !r.cfg.scheduler.drop_predicated_off_tensor {
            return (true, last);
        }
        loop {
            let e = w.ev;
            let Class::Tensor(tc) = r.forms[e.form as usize].class else { return (true, last) };
            if e.executed != 0 {
                return (true, last);
            }
            stats.issue_removed += 1;
            stats.warp_instructions += 1;
            stats.thread_instructions += e.active.count_ones() as u64;
            stats.per_form[e.form as usize] += 1;
            tensor::count_skipped_tensor(stats, tc, r.cfg.tensor.cost(tc).macs as u64);
            last = Some(e.pc);
            w.pos += 1;
            if !p.next_event(w) {
                return (false, last);
            }
            w.plan = plan_of(plans, r, &w.ev);
        }
    }

    fn finish_warp(&mut self, r: &Resolved, ws: usize) {
        let s = self.warps[ws].sub;
        self.subs[s].warps.retain(|&w| w != ws);
        if self.subs[s].last == Some(ws) {
            self.subs[s].last = None;
        }
        let w = &mut self.warps[ws];
        let drain = w.last_write.max(w.mem_done).max(w.accbuf_ready).max(self.t + 1);
        w.live = false;
        w.own = Some(Own { at: NEVER, reason: Reason::Idle, unit: 0, cycles: 0 });
        let cta = w.cta;
        if let Some(c) = self.ctas[cta].as_mut() {
            c.live_warps -= 1;
            c.done_at = if c.done_at == NEVER { drain } else { c.done_at.max(drain) };
            if c.live_warps == 0 {
                self.next_done = self.next_done.min(c.done_at);
            }
        }
        // A warp that ends no longer counts towards the barriers its CTA waits on.
        for id in 0..16 {
            if self.ctas[cta].as_ref().is_some_and(|c| c.live_warps > 0 && c.bar_count[id] > 0) {
                self.check_barrier(r, cta, id);
            }
        }
    }

    fn check_barrier(&mut self, r: &Resolved, cta: usize, id: usize) {
        let Some(c) = self.ctas[cta].as_ref() else { return };
        let threads = c.bar_threads[id];
        let expected = if threads == 0 { c.live_warps } else { (threads as u32).div_ceil(32).min(c.live_warps.max(1)) };
        if c.bar_count[id] < expected {
            return;
        }
        let release = self.t + r.cfg.sm.barrier_cycles as u64;
        let slots = c.warp_slots.clone();
        for ws in slots {
            let w = &mut self.warps[ws];
            if w.live && w.at_barrier == Some(id as u8) {
                self.subs[w.sub].wake = (0, Reason::Idle);
                w.at_barrier = None;
                if release > w.next_issue {
                    w.next_issue = release;
                    w.next_reason = Reason::Barrier;
                }
                w.own = None;
            }
        }
        if let Some(c) = self.ctas[cta].as_mut() {
            c.bar_count[id] = 0;
            c.bar_threads[id] = 0;
        }
    }
}

/// Operand read cycles of source groups `srcs` when the slots in `hits` come from the reuse
/// cache: a group of n registers puts n / banks reads on every bank and one more on the
/// n % banks banks from its first register's; max(1, ceil(busiest bank / reads_per_bank)).
fn bank_read_cycles(r: &Resolved, srcs: &[RegGroup; 4], hits: usize) -> u64 {
    let banks = r.cfg.regfile.banks as usize;
    let mut extra = [0u16; 64];
    let mut uniform = 0u32;
    for (i, g) in srcs.iter().enumerate() {
        if g.count == 0 || hits & (1 << i) != 0 {
            continue;
        }
        let (full, rem) = r.bank_split[g.count as usize];
        uniform += full as u32;
        let base = g.base as usize;
        for reg in base..base + rem as usize {
            extra[r.bank_of[reg & 255] as usize] += 1;
        }
    }
    let max_load = uniform + extra[..banks].iter().copied().max().unwrap_or(0) as u32;
    r.read_cycles(max_load)
}

/// What the SM loop precomputes of one instruction (the static part of its events: form,
/// register groups, `.reuse` flags), built the first time a warp of the SM decodes it and
/// checked against each event that uses it.
#[derive(Clone, Copy)]
struct Plan {
    /// [`Plan::key`] of the events it applies to.
    key: (u64, u64),
    /// Every register group lies within one 64-register word: the dependency scan goes by the
    /// masks below (else it visits each register).
    simple: bool,
    /// The non-empty groups in slot order: word, register mask, whether the forwarding table
    /// applies (bit k for group k).
    ngroups: u8,
    word: [u8; 6],
    mask: [u64; 6],
    fwd: u8,
    /// The reuse cache as bytes (slot i in byte i): the source bases, 0xff for the slots that
    /// read registers, 0xff for the slots whose base stays cached.
    bases: u32,
    present: u32,
    keep: u32,
    /// Operand read cycles by reuse hits (bit i: slot i hit); 0: not computed yet.
    read_cycles: [u8; 16],
}

impl Plan {
    fn new(r: &Resolved, e: &Event) -> Plan {
        let fs = &r.forms[e.form as usize];
        let fwd_mask: u8 = if fs.fwd_class && r.cfg.tensor.accumulator_forwarding { 0b110100 } else { 0 };
        let groups = [e.srcs[0], e.srcs[1], e.srcs[2], e.srcs[3], e.dsts[0], e.dsts[1]];
        let mut p = Plan {
            key: Plan::key(e),
            simple: true,
            ngroups: 0,
            word: [0; 6],
            mask: [0; 6],
            fwd: 0,
            bases: 0,
            present: 0,
            keep: 0,
            read_cycles: [0; 16],
        };
        for (slot, g) in groups.iter().enumerate() {
            if g.count == 0 {
                continue;
            }
            let (base, count) = (g.base as usize, g.count as usize);
            let lo = base & 63;
            if lo + count > 64 {
                p.simple = false;
                continue;
            }
            let k = p.ngroups as usize;
            let word = (base >> 6) as u8;
            let mask = if count == 64 { u64::MAX } else { ((1u64 << count) - 1) << lo };
            let fwd = fwd_mask & (1 << slot) != 0;
            // A group equal to an earlier one (a tensor instruction's destination is its
            // accumulator) cannot change the scan: the earlier visit cleared its ready registers
            // and raised the cycle to each pending one's, which an equal cycle does not replace.
            if (0..k).any(|j| p.word[j] == word && p.mask[j] == mask && (p.fwd >> j & 1 != 0) == fwd) {
                continue;
            }
            p.word[k] = word;
            p.mask[k] = mask;
            if fwd {
                p.fwd |= 1 << k;
            }
            p.ngroups += 1;
        }
        for (i, g) in e.srcs.iter().enumerate() {
            if g.count == 0 {
                continue;
            }
            p.bases |= (g.base as u32) << (8 * i);
            p.present |= 0xff << (8 * i);
            if e.reuse & (1 << i) != 0 {
                p.keep |= 0xff << (8 * i);
            }
        }
        p
    }

    /// What a plan depends on: the form, the register groups and the `.reuse` flags of `e`.
    #[inline]
    fn key(e: &Event) -> (u64, u64) {
        let [s0, s1, s2, s3] = e.srcs;
        let [d0, d1] = e.dsts;
        let srcs = u64::from_le_bytes([s0.base, s0.count, s1.base, s1.count, s2.base, s2.count, s3.base, s3.count]);
        let rest = u32::from_le_bytes([d0.base, d0.count, d1.base, d1.count]) as u64
            | (e.form as u64) << 32
            | (e.reuse as u64) << 48;
        (srcs, rest)
    }
}

/// [`Warp::plan`] of a warp whose event has no plan.
const NO_PLAN: u32 = u32::MAX;

/// The index in `plans` of the plan of `e` (made now if its instruction has none or another
/// one), or [`NO_PLAN`] for an event off the instruction grid.
#[inline]
fn plan_of(plans: &mut Vec<Option<Plan>>, r: &Resolved, e: &Event) -> u32 {
    let idx = (e.pc / INSTRUCTION_BYTES) as usize;
    if let Some(Some(p)) = plans.get(idx) {
        if p.key == Plan::key(e) && e.pc.is_multiple_of(INSTRUCTION_BYTES) {
            return idx as u32;
        }
    }
    new_plan(plans, r, e)
}

#[cold]
#[inline(never)]
fn new_plan(plans: &mut Vec<Option<Plan>>, r: &Resolved, e: &Event) -> u32 {
    let idx = (e.pc / INSTRUCTION_BYTES) as usize;
    if !e.pc.is_multiple_of(INSTRUCTION_BYTES) || idx >= crate::packed::MAX_PCS {
        return NO_PLAN;
    }
    if plans.len() <= idx {
        plans.resize(idx + 1, None);
    }
    plans[idx] = Some(Plan::new(r, e));
    idx as u32
}

/// Index of the first smallest cycle of the collector units (as `min_by_key` picks it).
#[inline]
fn first_min(cu: &[(u64, Reason)]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, c) in cu.iter().enumerate() {
        match best {
            Some(b) if cu[b].0 <= c.0 => {}
            _ => best = Some(i),
        }
    }
    best
}

const _: () = assert!(NUM_REASONS <= 16);
