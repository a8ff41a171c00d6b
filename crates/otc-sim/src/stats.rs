//! Execution statistics of a launch.
//!
//! Counting rules (the same as Nsight's `inst_executed` / `thread_inst_executed`):
//! - a *warp-instruction* is one issue of one instruction by one group of converged lanes (a
//!   diverged warp that runs both sides of a branch issues the instructions of each side);
//!   instructions whose guard is false in every lane (`@!PT ...`, `@P0 ...` with P0 clear) count
//!   as issued;
//! - a *thread-instruction* counts every lane of the issuing group, guard true or not;
//!   `predicated_thread_instructions` counts only the lanes whose guard held.
//!
//! `by_opcode` is keyed by [`otc_isa::Instruction::opcode_text`] (mnemonic plus every
//! non-empty modifier, e.g. `IMAD.WIDE.U32`, `LDG.E.64.SYS`); `by_pc` holds the warp-instruction
//! count of every instruction of the kernel, indexed by `pc / 16`.
//!
//! Tensor-core counts (warp-instructions): `ohmma_executed` counts the `HMMA.OHMMA.8161` issues
//! (dense and sparse forms) whose guard held in at least one lane and `ohmma_skipped` those whose
//! guard held in none (for a sparse OHMMA of the SPWMMA macro: the blocks of padding it skips);
//! `bohmma_executed` and `hmma_executed` (`HMMA.884`, each STEP counts) count issues with a
//! guard-true lane likewise.

use std::collections::BTreeMap;

use otc_isa::Instruction;

/// Warp- and thread-instruction counts of one opcode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpcodeCount {
    pub warp: u64,
    pub thread: u64,
}

/// What a launch executed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LaunchStats {
    pub warp_instructions: u64,
    pub thread_instructions: u64,
    pub predicated_thread_instructions: u64,
    /// Per opcode text (see the module docs): (warp, thread) instruction counts.
    pub by_opcode: BTreeMap<String, (u64, u64)>,
    /// Warp-instructions per instruction (index = pc / 16).
    pub by_pc: Vec<u64>,
    pub ctas: u64,
    pub warps: u64,
    pub threads: u64,
    /// `HMMA.OHMMA.8161` issues (dense and sparse) with the guard true in some lane.
    pub ohmma_executed: u64,
    /// `HMMA.OHMMA.8161` issues with the guard false in every lane.
    pub ohmma_skipped: u64,
    /// `HMMA.BOHMMA.32321` issues with the guard true in some lane.
    pub bohmma_executed: u64,
    /// `HMMA.884` issues with the guard true in some lane.
    pub hmma_executed: u64,
}

impl LaunchStats {
    /// Add another launch's counts (for accumulating over several launches).
    pub fn merge(&mut self, other: &LaunchStats) {
        self.warp_instructions += other.warp_instructions;
        self.thread_instructions += other.thread_instructions;
        self.predicated_thread_instructions += other.predicated_thread_instructions;
        for (k, v) in &other.by_opcode {
            let e = self.by_opcode.entry(k.clone()).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
        if self.by_pc.len() < other.by_pc.len() {
            self.by_pc.resize(other.by_pc.len(), 0);
        }
        for (a, b) in self.by_pc.iter_mut().zip(&other.by_pc) {
            *a += b;
        }
        self.ctas += other.ctas;
        self.warps += other.warps;
        self.threads += other.threads;
        self.ohmma_executed += other.ohmma_executed;
        self.ohmma_skipped += other.ohmma_skipped;
        self.bohmma_executed += other.bohmma_executed;
        self.hmma_executed += other.hmma_executed;
    }
}

/// Which tensor-core counter an instruction feeds: the statistics name of its class
/// (`isa/*.toml` `stats`), up to the first dot (`ohmma.sparse` counts as `ohmma`).
fn tensor_counter(i: &Instruction) -> Option<&'static str> {
    match i.def().class {
        otc_isa::Class::Tensor(_) => i.def().class.stats().split('.').next(),
        _ => None,
    }
}

/// The issues of one instruction of a kernel, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct InstCounts {
    /// Warp issues (warp-instructions).
    pub issues: u64,
    /// Lanes active at issue (thread-instructions).
    pub active_lanes: u64,
    /// Lanes whose guard held (predicated thread-instructions).
    pub guard_lanes: u64,
    /// Issues whose guard held in at least one lane.
    pub executed_issues: u64,
}

impl InstCounts {
    /// Count one issue with the lanes `active`, of which `exec` passed the guard.
    #[inline(always)]
    pub fn issue(&mut self, active: u32, exec: u32) {
        self.issues += 1;
        self.active_lanes += active.count_ones() as u64;
        self.guard_lanes += exec.count_ones() as u64;
        self.executed_issues += (exec != 0) as u64;
    }

    fn add(&mut self, o: &InstCounts) {
        self.issues += o.issues;
        self.active_lanes += o.active_lanes;
        self.guard_lanes += o.guard_lanes;
        self.executed_issues += o.executed_issues;
    }
}

/// Raw per-instruction counters of one CTA (or a whole launch), indexed by instruction.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
    pub per_inst: Vec<InstCounts>,
    pub warps: u64,
    pub threads: u64,
    pub ctas: u64,
}

impl Counters {
    pub fn new(n: usize) -> Self {
        Counters { per_inst: vec![InstCounts::default(); n], ..Default::default() }
    }

    pub fn add(&mut self, o: &Counters) {
        for (a, b) in self.per_inst.iter_mut().zip(&o.per_inst) {
            a.add(b);
        }
        self.warps += o.warps;
        self.threads += o.threads;
        self.ctas += o.ctas;
    }

    /// Turn into public statistics; `code[i]` is instruction i (the counter vector may be one
    /// longer than `code`: the synthetic end-of-code instruction).
    pub fn to_stats(&self, code: &[Instruction]) -> LaunchStats {
        let names: Vec<String> = code.iter().map(|i| i.opcode_text()).collect();
        let mut s = LaunchStats { ctas: self.ctas, warps: self.warps, threads: self.threads, ..Default::default() };
        s.by_pc = self.per_inst.iter().take(names.len()).map(|c| c.issues).collect();
        for (i, c) in self.per_inst.iter().enumerate() {
            if c.issues == 0 {
                continue;
            }
            s.warp_instructions += c.issues;
            s.thread_instructions += c.active_lanes;
            s.predicated_thread_instructions += c.guard_lanes;
            let name = names.get(i).map(String::as_str).unwrap_or("<end>");
            let e = s.by_opcode.entry(name.to_string()).or_default();
            e.0 += c.issues;
            e.1 += c.active_lanes;
            match code.get(i).and_then(tensor_counter) {
                Some("ohmma") => {
                    s.ohmma_executed += c.executed_issues;
                    s.ohmma_skipped += c.issues - c.executed_issues;
                }
                Some("bohmma") => s.bohmma_executed += c.executed_issues,
                Some("hmma") => s.hmma_executed += c.executed_issues,
                _ => {}
            }
        }
        s
    }
}
