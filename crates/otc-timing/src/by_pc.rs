//! Per-instruction statistics of the cycle model: for every pc of the kernel, the share of the
//! kernel counters that the instruction at that pc accounts for.
//!
//! Every column is named after the kernel counter it splits, so a column summed over the pcs is
//! that counter (`predicated_off_lanes` sums to `thread_instructions -
//! predicated_thread_instructions`). Stall cycles are the sub-core cycles without an issue
//! (`stall.<reason>`), charged to the instruction that the warp which could issue soonest was
//! waiting to issue: the instruction whose constraint cost the cycle. `stall.idle` (no warp on
//! the sub-core, or every warp at a barrier) belongs to no instruction and has no column.

use otc_isa::{Class, TensorClass};

use crate::stats::{Reason, SmStats, NUM_REASONS};
use crate::trace::{memory_access, MemSpace};

/// Column names of a [`PcRow`], in order (the columns every issue touches first, in one cache line).
pub const PC_COLUMNS: [&str; NUM_PC_COLUMNS] = [
    "warp_instructions",
    "thread_instructions",
    "predicated_off_lanes",
    "regfile.bank_conflict_cycles",
    "tensor.busy_cycles",
    "stall.control",
    "stall.frontend",
    "stall.dependency",
    "stall.memory",
    "stall.unit_busy",
    "stall.register_bank",
    "stall.barrier",
    "stall.accumulation_buffer",
    "smem.wavefronts",
    "smem.bank_conflicts",
    "accbuf.bank_conflicts",
    "gmem.read_sectors",
    "gmem.write_sectors",
    "l1.hits",
    "l1.misses",
    "l2.hits",
    "l2.misses",
];

pub const NUM_PC_COLUMNS: usize = 22;

/// The per-instruction counters of one pc (columns [`PC_COLUMNS`]).
pub type PcRow = [u64; NUM_PC_COLUMNS];

pub(crate) const WARP_INSTRUCTIONS: usize = 0;
pub(crate) const THREAD_INSTRUCTIONS: usize = 1;
pub(crate) const PREDICATED_OFF: usize = 2;
pub(crate) const BANK_CONFLICT_CYCLES: usize = 3;
pub(crate) const TENSOR_BUSY: usize = 4;
/// Column of `stall.<reason>` for the reasons after `Idle` (`Reason as usize - 1` from here).
const FIRST_STALL: usize = 5;
/// The shared-memory and accumulation-buffer columns, then the global ones ([`Snapshot`]).
const FIRST_SHARED: usize = 13;
const FIRST_GLOBAL: usize = 16;

/// Which of the counters counted by the memory and tensor paths an instruction class can change
/// (resolved once per form: [`probe`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// None (ALU, dense tensor, constant loads, ...).
    Nothing,
    /// Shared memory, and the sparse OHMMA, sequenced SpWMMA and ACCB instructions (accumulation
    /// buffer; ACCB.STS and ACCB.LDS go through the shared-memory pipe).
    Shared,
    Global,
}

/// The [`Probe`] of an instruction class.
pub(crate) fn probe(class: Class) -> Probe {
    match class {
        Class::Memory(m) => match memory_access(m).0 {
            MemSpace::Shared => Probe::Shared,
            MemSpace::Global | MemSpace::Local => Probe::Global,
            MemSpace::Const => Probe::Nothing,
        },
        // Every tensor class named, no wildcard: a new class must say whether it reaches the
        // accumulation buffer, or its conflicts would silently miss the per-pc rows.
        Class::Tensor(tc) => match tc {
            TensorClass::OhmmaSparse
            | TensorClass::SpwmmaSeq
            | TensorClass::AccbMov
            | TensorClass::AccbSts
            | TensorClass::AccbLds => Probe::Shared,
            TensorClass::OhmmaF32
            | TensorClass::OhmmaF16
            | TensorClass::Bohmma
            | TensorClass::AccbClear
            | TensorClass::AccbBmap
            | TensorClass::Hmma884F32
            | TensorClass::Hmma884F16
            | TensorClass::Hmma884Vs
            | TensorClass::HmmaSp24
            | TensorClass::HmmaHss4
            | TensorClass::HmmaHss8 => Probe::Nothing,
        },
        _ => Probe::Nothing,
    }
}

/// The counters that the memory and tensor paths of one issue may change, taken before it.
#[derive(Clone, Copy)]
pub(crate) enum Snapshot {
    Nothing,
    Shared([u64; 3]),
    Global([u64; 6]),
}

fn shared_counters(s: &SmStats) -> [u64; 3] {
    [s.smem_wavefronts, s.smem_conflicts, s.accbuf_conflicts]
}

fn global_counters(s: &SmStats) -> [u64; 6] {
    [s.gmem_read_sectors, s.gmem_write_sectors, s.l1_hits, s.l1_misses, s.l2_hits, s.l2_misses]
}

impl Snapshot {
    #[inline]
    pub fn take(probe: Probe, s: &SmStats) -> Snapshot {
        match probe {
            Probe::Shared => Snapshot::Shared(shared_counters(s)),
            Probe::Global => Snapshot::Global(global_counters(s)),
            Probe::Nothing => Snapshot::Nothing,
        }
    }

    /// Add to `row` what the counters of `s` gained since the snapshot.
    #[inline]
    pub fn add_delta(self, row: &mut PcRow, s: &SmStats) {
        match self {
            Snapshot::Nothing => {}
            Snapshot::Shared(before) => {
                for (i, (a, b)) in shared_counters(s).iter().zip(before).enumerate() {
                    row[FIRST_SHARED + i] += a - b;
                }
            }
            Snapshot::Global(before) => {
                for (i, (a, b)) in global_counters(s).iter().zip(before).enumerate() {
                    row[FIRST_GLOBAL + i] += a - b;
                }
            }
        }
    }
}

/// The row of instruction `index` (pc / 16), the table grown to hold it.
#[inline]
pub(crate) fn row(rows: &mut Vec<PcRow>, index: usize) -> &mut PcRow {
    if index >= rows.len() {
        grow(rows, index);
    }
    &mut rows[index]
}

#[cold]
#[inline(never)]
fn grow(rows: &mut Vec<PcRow>, index: usize) {
    rows.resize(index + 1, [0; NUM_PC_COLUMNS]);
}

/// Charge `span` stall cycles of `reason` to instruction `index` (nothing for `Idle`).
#[inline]
pub(crate) fn add_stall(rows: &mut Vec<PcRow>, index: usize, reason: Reason, span: u64) {
    if reason != Reason::Idle {
        row(rows, index)[FIRST_STALL + reason as usize - 1] += span;
    }
}

/// Add the rows of `o` into `rows`.
pub(crate) fn add_rows(rows: &mut Vec<PcRow>, o: &[PcRow]) {
    if rows.len() < o.len() {
        rows.resize(o.len(), [0; NUM_PC_COLUMNS]);
    }
    for (a, b) in rows.iter_mut().zip(o) {
        for (x, y) in a.iter_mut().zip(b) {
            *x += y;
        }
    }
}

const _: () =
    assert!(NUM_REASONS == 9 && FIRST_STALL + NUM_REASONS - 1 == FIRST_SHARED && FIRST_GLOBAL + 6 == NUM_PC_COLUMNS);

#[cfg(test)]
mod tests {
    use super::*;
    use otc_isa::MemoryClass;

    #[test]
    fn stall_columns_follow_the_reasons() {
        for r in Reason::ALL.iter().skip(1) {
            assert_eq!(PC_COLUMNS[FIRST_STALL + *r as usize - 1], format!("stall.{}", r.name()));
        }
        assert_eq!(PC_COLUMNS[BANK_CONFLICT_CYCLES], "regfile.bank_conflict_cycles");
        assert_eq!(PC_COLUMNS[TENSOR_BUSY], "tensor.busy_cycles");
    }

    #[test]
    fn snapshot_columns_follow_their_counters() {
        // Each counter set alone lands in the column of its name.
        let shared = Class::Memory(MemoryClass::SharedLoad);
        let global = Class::Memory(MemoryClass::GlobalLoad);
        type Case = (&'static str, Class, fn(&mut SmStats));
        let cases: [Case; 10] = [
            ("smem.wavefronts", shared, |s| s.smem_wavefronts = 5),
            ("smem.bank_conflicts", shared, |s| s.smem_conflicts = 5),
            ("accbuf.bank_conflicts", Class::Tensor(TensorClass::OhmmaSparse), |s| s.accbuf_conflicts = 5),
            ("accbuf.bank_conflicts", Class::Tensor(TensorClass::SpwmmaSeq), |s| s.accbuf_conflicts = 5),
            ("gmem.read_sectors", global, |s| s.gmem_read_sectors = 5),
            ("gmem.write_sectors", global, |s| s.gmem_write_sectors = 5),
            ("l1.hits", global, |s| s.l1_hits = 5),
            ("l1.misses", global, |s| s.l1_misses = 5),
            ("l2.hits", global, |s| s.l2_hits = 5),
            ("l2.misses", global, |s| s.l2_misses = 5),
        ];
        for (name, class, set) in cases {
            let zero = SmStats::default();
            let before = Snapshot::take(probe(class), &zero);
            let mut s = SmStats::default();
            set(&mut s);
            let mut row = [0; NUM_PC_COLUMNS];
            before.add_delta(&mut row, &s);
            let col = PC_COLUMNS.iter().position(|c| *c == name).unwrap();
            assert_eq!(row[col], 5, "{name}");
            assert_eq!(row.iter().sum::<u64>(), 5, "{name}");
        }
        // A dense tensor instruction or an ALU one snapshots nothing.
        assert_eq!(probe(Class::Alu), Probe::Nothing);
        assert_eq!(probe(Class::Tensor(TensorClass::OhmmaF32)), Probe::Nothing);
    }
}
