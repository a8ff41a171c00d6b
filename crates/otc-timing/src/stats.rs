//! Statistics of a simulated kernel: integer counters, derived metrics, per-SM cycles, and their
//! JSON form.

use std::collections::BTreeMap;
use std::fmt::Write;

use otc_isa::FORMS;

/// Why a sub-core did not issue in a cycle (the binding constraint of the warp that could issue
/// soonest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// No warp on the sub-core.
    Idle,
    /// The warp issued in the previous cycle, or its control bits' stall count has not elapsed.
    Control,
    /// Instruction-buffer refill after a taken control transfer.
    Frontend,
    /// A source or destination waits for a result of a fixed-latency pipeline (or a scoreboard).
    Dependency,
    /// A source waits for a load, or MEMBAR for outstanding memory operations.
    Memory,
    /// The functional unit is busy (initiation interval).
    UnitBusy,
    /// The operand collectors are busy reading conflicting register banks.
    RegisterBank,
    /// Waiting at BAR.SYNC for the CTA's other warps.
    Barrier,
    /// The tensor unit or an ACCB instruction waits for the accumulation buffer.
    AccBuf,
}

pub const NUM_REASONS: usize = 9;

impl Reason {
    pub const ALL: [Reason; NUM_REASONS] = [
        Reason::Idle,
        Reason::Control,
        Reason::Frontend,
        Reason::Dependency,
        Reason::Memory,
        Reason::UnitBusy,
        Reason::RegisterBank,
        Reason::Barrier,
        Reason::AccBuf,
    ];

    /// Key suffix in the counters (`stall.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Idle => "idle",
            Reason::Control => "control",
            Reason::Frontend => "frontend",
            Reason::Dependency => "dependency",
            Reason::Memory => "memory",
            Reason::UnitBusy => "unit_busy",
            Reason::RegisterBank => "register_bank",
            Reason::Barrier => "barrier",
            Reason::AccBuf => "accumulation_buffer",
        }
    }
}

/// Raw per-SM counters (summed over SMs in SM order).
#[derive(Clone, Debug, Default)]
pub(crate) struct SmStats {
    pub warp_instructions: u64,
    /// Active lanes of issued warp-instructions (guard true or not; otc-sim's counting rule).
    pub thread_instructions: u64,
    /// Lanes whose guard held.
    pub predicated_thread_instructions: u64,
    pub per_form: Vec<u64>,
    pub issue_cycles: u64,
    pub stalls: [u64; NUM_REASONS],
    pub reuse_hits: u64,
    pub bank_conflict_cycles: u64,
    pub ctas: u64,
    pub warps: u64,
    pub max_resident: u64,
    pub barriers: u64,
    pub barrier_deadlocks: u64,
    pub smem_instructions: u64,
    pub smem_wavefronts: u64,
    pub smem_conflicts: u64,
    pub smem_read_bytes: u64,
    pub smem_write_bytes: u64,
    pub const_loads: u64,
    pub gmem_read_bytes: u64,
    pub gmem_write_bytes: u64,
    pub gmem_read_sectors: u64,
    pub gmem_write_sectors: u64,
    pub lmem_read_bytes: u64,
    pub lmem_write_bytes: u64,
    pub atomics: u64,
    pub l1_hits: u64,
    pub l1_misses: u64,
    pub l2_hits: u64,
    pub l2_misses: u64,
    pub dram_read_bytes: u64,
    pub dram_write_bytes: u64,
    pub tensor_busy: u64,
    /// Tensor cycles of HMMA.884, OHMMA, BOHMMA, ACCB.
    pub tensor_busy_by: [u64; 4],
    pub macs_issued: u64,
    pub macs_executed: u64,
    pub macs_useful: u64,
    pub hmma_issued: u64,
    pub hmma_executed: u64,
    pub ohmma_issued: u64,
    pub ohmma_executed: u64,
    pub ohmma_skipped: u64,
    pub ohmma_sparse_issued: u64,
    pub ohmma_sparse_executed: u64,
    pub bohmma_issued: u64,
    pub bohmma_executed: u64,
    pub accb: [u64; 5],
    pub accbuf_accesses: u64,
    pub accbuf_conflicts: u64,
    pub accbuf_stall: u64,
    /// Sequenced SpWMMAs issued / executed, and the OHMMAs they ran.
    pub spwmma_issued: u64,
    pub spwmma_executed: u64,
    pub spwmma_ohmmas: u64,
    /// Structured-sparse HMMA steps executed (SP884; HSS884) and the dense-equivalent MACs their
    /// metadata removed (the k window's products that were never formed).
    pub hmma_sp24_executed: u64,
    pub hmma_hss_executed: u64,
    pub macs_skipped_structured: u64,
    /// Warp-instructions the front end removed before issue (`scheduler.drop_predicated_off_tensor`).
    pub issue_removed: u64,
}

impl SmStats {
    pub fn new(forms: usize) -> SmStats {
        SmStats { per_form: vec![0; forms], ..Default::default() }
    }

    pub fn add(&mut self, o: &SmStats) {
        self.combine(o, |a, b| a + b);
        self.max_resident = self.max_resident.max(o.max_resident);
    }

    /// These statistics with every summed counter multiplied by `factor` (rounded); the
    /// maximum residency is kept (sampled timing, `crate::sample`).
    pub fn scaled(&self, factor: f64) -> SmStats {
        let mut s = self.clone();
        s.combine(self, |_, b| (b as f64 * factor).round() as u64);
        s
    }

    /// `self.x = f(self.x, o.x)` for every summed counter `x`.
    fn combine(&mut self, o: &SmStats, f: impl Fn(u64, u64) -> u64) {
        macro_rules! sum {
            ($($f:ident),*) => { $(self.$f = f(self.$f, o.$f);)* };
        }
        sum!(
            warp_instructions,
            thread_instructions,
            predicated_thread_instructions,
            issue_cycles,
            reuse_hits,
            bank_conflict_cycles,
            ctas,
            warps,
            barriers,
            barrier_deadlocks,
            smem_instructions,
            smem_wavefronts,
            smem_conflicts,
            smem_read_bytes,
            smem_write_bytes,
            const_loads,
            gmem_read_bytes,
            gmem_write_bytes,
            gmem_read_sectors,
            gmem_write_sectors,
            lmem_read_bytes,
            lmem_write_bytes,
            atomics,
            l1_hits,
            l1_misses,
            l2_hits,
            l2_misses,
            dram_read_bytes,
            dram_write_bytes,
            tensor_busy,
            macs_issued,
            macs_executed,
            macs_useful,
            hmma_issued,
            hmma_executed,
            ohmma_issued,
            ohmma_executed,
            ohmma_skipped,
            ohmma_sparse_issued,
            ohmma_sparse_executed,
            bohmma_issued,
            bohmma_executed,
            accbuf_accesses,
            accbuf_conflicts,
            accbuf_stall,
            spwmma_issued,
            spwmma_executed,
            spwmma_ohmmas,
            hmma_sp24_executed,
            hmma_hss_executed,
            macs_skipped_structured,
            issue_removed
        );
        if self.per_form.len() < o.per_form.len() {
            self.per_form.resize(o.per_form.len(), 0);
        }
        for (a, b) in self.per_form.iter_mut().zip(&o.per_form) {
            *a = f(*a, *b);
        }
        for i in 0..NUM_REASONS {
            self.stalls[i] = f(self.stalls[i], o.stalls[i]);
        }
        for i in 0..5 {
            self.accb[i] = f(self.accb[i], o.accb[i]);
        }
        for i in 0..4 {
            self.tensor_busy_by[i] = f(self.tensor_busy_by[i], o.tensor_busy_by[i]);
        }
    }
}

/// Statistics of one simulated kernel.
///
/// `counters` always holds (the contract): `cycles` (kernel = slowest SM), `warp_instructions`,
/// `thread_instructions`, `ohmma.issued`, `ohmma.executed`, `ohmma.skipped`, `hmma.executed`,
/// `bohmma.executed`, `tensor.busy_cycles`, `accbuf.accesses`, `accbuf.bank_conflicts`,
/// `smem.bank_conflicts`, `gmem.read_bytes`, `gmem.write_bytes`; plus `op.<MNEMONIC>` per
/// mnemonic issued, `stall.<reason>` (sub-core cycles without an issue, by reason),
/// `issue.cycles`, and the counters documented in docs/timing.md. `metrics` holds derived values
/// (`ipc`, `time_us`, hit rates, utilisation).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stats {
    pub counters: BTreeMap<String, u64>,
    pub metrics: BTreeMap<String, f64>,
    /// Cycles of each SM (0 for SMs that ran no CTA).
    pub sm_cycles: Vec<u64>,
    /// Per instruction (index pc / 16, up to the last pc issued): its share of the counters
    /// named in [`crate::PC_COLUMNS`] ([`crate::by_pc`]).
    pub by_pc: Vec<crate::PcRow>,
    /// The timeline, when one was asked for ([`crate::Simulator::record_timeline`]).
    pub timeline: Option<crate::Timeline>,
    /// Sampled timing ([`crate::Simulator::set_sample`]): what was timed and how the counters,
    /// `cycles` and `sm_cycles` were extrapolated; None for full timing.
    pub sample: Option<crate::Sample>,
}

impl Stats {
    pub(crate) fn build(s: &SmStats, sm_cycles: Vec<u64>, clock_mhz: f64, sub_cores: u32) -> Stats {
        let cycles = sm_cycles.iter().copied().max().unwrap_or(0);
        let active_sms = sm_cycles.iter().filter(|&&c| c > 0).count().max(1) as u64;
        let mut c = BTreeMap::new();
        let mut put = |k: &str, v: u64| {
            c.insert(k.to_string(), v);
        };
        put("cycles", cycles);
        put("warp_instructions", s.warp_instructions);
        put("thread_instructions", s.thread_instructions);
        put("predicated_thread_instructions", s.predicated_thread_instructions);
        put("ctas", s.ctas);
        put("warps", s.warps);
        put("sms_used", sm_cycles.iter().filter(|&&c| c > 0).count() as u64);
        put("occupancy.max_ctas_per_sm", s.max_resident);
        put("issue.cycles", s.issue_cycles);
        for r in Reason::ALL {
            put(&format!("stall.{}", r.name()), s.stalls[r as usize]);
        }
        put("regfile.bank_conflict_cycles", s.bank_conflict_cycles);
        put("regfile.reuse_hits", s.reuse_hits);
        put("barrier.arrivals", s.barriers);
        put("barrier.deadlocks", s.barrier_deadlocks);
        put("hmma.issued", s.hmma_issued);
        put("hmma.executed", s.hmma_executed);
        put("hmma.skipped", s.hmma_issued - s.hmma_executed);
        put("ohmma.issued", s.ohmma_issued);
        put("ohmma.executed", s.ohmma_executed);
        put("ohmma.skipped", s.ohmma_skipped);
        put("ohmma.sparse.issued", s.ohmma_sparse_issued);
        put("ohmma.sparse.executed", s.ohmma_sparse_executed);
        put("spwmma.issued", s.spwmma_issued);
        put("spwmma.executed", s.spwmma_executed);
        put("spwmma.ohmmas", s.spwmma_ohmmas);
        if s.hmma_sp24_executed + s.hmma_hss_executed > 0 {
            // Only for kernels that ran a structured-sparse step, so that every other kernel's
            // statistics stay as they were (benchmarks/golden.json).
            put("hmma.sp24.executed", s.hmma_sp24_executed);
            put("hmma.hss.executed", s.hmma_hss_executed);
            put("tensor.macs_skipped_structured", s.macs_skipped_structured);
        }
        put("issue.removed", s.issue_removed);
        put("bohmma.issued", s.bohmma_issued);
        put("bohmma.executed", s.bohmma_executed);
        for (i, name) in ["clear", "bmap", "mov", "sts", "lds"].iter().enumerate() {
            put(&format!("accb.{name}"), s.accb[i]);
        }
        put("tensor.busy_cycles", s.tensor_busy);
        put("tensor.busy_cycles.hmma", s.tensor_busy_by[0]);
        put("tensor.busy_cycles.ohmma", s.tensor_busy_by[1]);
        put("tensor.busy_cycles.bohmma", s.tensor_busy_by[2]);
        put("tensor.busy_cycles.accb", s.tensor_busy_by[3]);
        put("tensor.macs_issued", s.macs_issued);
        put("tensor.macs_executed", s.macs_executed);
        put("tensor.macs_useful", s.macs_useful);
        put("accbuf.accesses", s.accbuf_accesses);
        put("accbuf.bank_conflicts", s.accbuf_conflicts);
        put("accbuf.stall_cycles", s.accbuf_stall);
        put("smem.instructions", s.smem_instructions);
        put("smem.wavefronts", s.smem_wavefronts);
        put("smem.bank_conflicts", s.smem_conflicts);
        put("smem.read_bytes", s.smem_read_bytes);
        put("smem.write_bytes", s.smem_write_bytes);
        put("cmem.loads", s.const_loads);
        put("gmem.read_bytes", s.gmem_read_bytes);
        put("gmem.write_bytes", s.gmem_write_bytes);
        put("gmem.read_sectors", s.gmem_read_sectors);
        put("gmem.write_sectors", s.gmem_write_sectors);
        put("gmem.atomics", s.atomics);
        put("lmem.read_bytes", s.lmem_read_bytes);
        put("lmem.write_bytes", s.lmem_write_bytes);
        put("l1.hits", s.l1_hits);
        put("l1.misses", s.l1_misses);
        put("l2.hits", s.l2_hits);
        put("l2.misses", s.l2_misses);
        put("dram.read_bytes", s.dram_read_bytes);
        put("dram.write_bytes", s.dram_write_bytes);
        let mut per_op: BTreeMap<&str, u64> = BTreeMap::new();
        for (i, &n) in s.per_form.iter().enumerate() {
            if n > 0 {
                *per_op.entry(FORMS[i].mnemonic).or_default() += n;
            }
        }
        for (m, n) in per_op {
            put(&format!("op.{m}"), n);
        }

        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let mut m = BTreeMap::new();
        m.insert("ipc".to_string(), ratio(s.warp_instructions, cycles));
        m.insert("ipc_per_sm".to_string(), ratio(s.warp_instructions, cycles) / active_sms as f64);
        m.insert("time_us".to_string(), cycles as f64 / clock_mhz);
        m.insert("clock_mhz".to_string(), clock_mhz);
        m.insert("tensor.utilization".to_string(), ratio(s.tensor_busy, cycles * sub_cores as u64 * active_sms));
        m.insert("tensor.useful_mac_fraction".to_string(), ratio(s.macs_useful, s.macs_issued));
        m.insert("l1.hit_rate".to_string(), ratio(s.l1_hits, s.l1_hits + s.l1_misses));
        m.insert("l2.hit_rate".to_string(), ratio(s.l2_hits, s.l2_hits + s.l2_misses));
        m.insert("smem.conflicts_per_instruction".to_string(), ratio(s.smem_conflicts, s.smem_instructions));
        let sub_cycles: u64 = s.issue_cycles + s.stalls.iter().sum::<u64>();
        for r in Reason::ALL {
            m.insert(format!("stall_fraction.{}", r.name()), ratio(s.stalls[r as usize], sub_cycles));
        }
        m.insert("issue_fraction".to_string(), ratio(s.issue_cycles, sub_cycles));
        Stats { counters: c, metrics: m, sm_cycles, by_pc: Vec::new(), timeline: None, sample: None }
    }

    /// A counter (0 when absent).
    pub fn counter(&self, key: &str) -> u64 {
        self.counters.get(key).copied().unwrap_or(0)
    }

    /// A metric (0.0 when absent).
    pub fn metric(&self, key: &str) -> f64 {
        self.metrics.get(key).copied().unwrap_or(0.0)
    }

    /// Counters and metrics in one map of numbers (counters as exact f64 while below 2^53).
    pub fn to_dict(&self) -> BTreeMap<String, f64> {
        let mut d: BTreeMap<String, f64> = self.counters.iter().map(|(k, &v)| (k.clone(), v as f64)).collect();
        for (k, &v) in &self.metrics {
            d.insert(k.clone(), v);
        }
        d
    }

    /// `{"counters": {...}, "metrics": {...}, "sm_cycles": [...], "by_pc": {"columns": [...],
    /// "rows": [[...], ...]}}` with keys in sorted order (row i is pc 16 i; the timeline is not
    /// included).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"counters\": {");
        for (i, (k, v)) in self.counters.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}: {v}", json_str(k));
        }
        out.push_str("}, \"metrics\": {");
        for (i, (k, v)) in self.metrics.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}: {}", json_str(k), json_num(*v));
        }
        out.push_str("}, \"sm_cycles\": [");
        for (i, v) in self.sm_cycles.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{v}");
        }
        out.push_str("], \"by_pc\": {\"columns\": [");
        for (i, name) in crate::PC_COLUMNS.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&json_str(name));
        }
        out.push_str("], \"rows\": [");
        for (i, row) in self.by_pc.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push('[');
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{v}");
            }
            out.push(']');
        }
        out.push_str("]}}");
        out
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        let s = format!("{v:?}");
        s
    } else {
        "null".into()
    }
}
