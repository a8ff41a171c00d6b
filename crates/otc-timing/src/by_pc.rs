//! Per-instruction statistics of the cycle model: for every pc of the kernel, the share of the
//! kernel counters that the instruction at that pc accounts for.
//!
//! Every column is named after the kernel counter it splits, so a column summed over the pcs is
//! that counter (`predicated_off_lanes` sums to `thread_instructions -
//! predicated_thread_instructions`). Stall cycles are the sub-core cycles without an issue
//! (`stall.<reason>`), charged to the instruction that the warp which could issue soonest was
//! waiting to issue: the instruction whose constraint cost the cycle. `stall.idle` (no warp on
//! the sub-core, or every warp at a barrier) belongs to no instruction and has no column.

use crate::stats::{Reason, SmStats, NUM_REASONS};

/// Column names of a [`PcRow`], in order.
pub const PC_COLUMNS: [&str; NUM_PC_COLUMNS] = [
    "warp_instructions",
    "thread_instructions",
    "predicated_off_lanes",
    "stall.control",
    "stall.frontend",
    "stall.dependency",
    "stall.memory",
    "stall.unit_busy",
    "stall.register_bank",
    "stall.barrier",
    "stall.accumulation_buffer",
    "regfile.bank_conflict_cycles",
    "tensor.busy_cycles",
    "accbuf.bank_conflicts",
    "smem.wavefronts",
    "smem.bank_conflicts",
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
/// Column of `stall.<reason>` for the reasons after `Idle` (`Reason as usize - 1` from here).
const FIRST_STALL: usize = 3;
pub(crate) const BANK_CONFLICT_CYCLES: usize = 11;
/// The columns from here on are counted by the memory and tensor paths ([`unit_counters`]).
const FIRST_UNIT: usize = 12;
const NUM_UNIT: usize = NUM_PC_COLUMNS - FIRST_UNIT;

/// The SM counters of the columns from [`FIRST_UNIT`] on, in column order.
#[inline]
pub(crate) fn unit_counters(s: &SmStats) -> [u64; NUM_UNIT] {
    [
        s.tensor_busy,
        s.accbuf_conflicts,
        s.smem_wavefronts,
        s.smem_conflicts,
        s.gmem_read_sectors,
        s.gmem_write_sectors,
        s.l1_hits,
        s.l1_misses,
        s.l2_hits,
        s.l2_misses,
    ]
}

/// Add to `row` what the counters of `s` gained since `before` (taken by [`unit_counters`]).
#[inline]
pub(crate) fn add_unit_delta(row: &mut PcRow, before: &[u64; NUM_UNIT], s: &SmStats) {
    let after = unit_counters(s);
    for i in 0..NUM_UNIT {
        row[FIRST_UNIT + i] += after[i] - before[i];
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

const _: () = assert!(NUM_REASONS == 9 && FIRST_STALL + NUM_REASONS - 1 == BANK_CONFLICT_CYCLES);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_columns_follow_the_reasons() {
        for r in Reason::ALL.iter().skip(1) {
            assert_eq!(PC_COLUMNS[FIRST_STALL + *r as usize - 1], format!("stall.{}", r.name()));
        }
        assert_eq!(PC_COLUMNS[BANK_CONFLICT_CYCLES], "regfile.bank_conflict_cycles");
        assert_eq!(PC_COLUMNS[FIRST_UNIT], "tensor.busy_cycles");
    }

    #[test]
    fn unit_columns_follow_their_counters() {
        // Each unit counter set alone lands in the column of its name.
        let names = &PC_COLUMNS[FIRST_UNIT..];
        for (i, name) in names.iter().enumerate() {
            let zero = unit_counters(&SmStats::default());
            let mut s = SmStats::default();
            match i {
                0 => s.tensor_busy = 5,
                1 => s.accbuf_conflicts = 5,
                2 => s.smem_wavefronts = 5,
                3 => s.smem_conflicts = 5,
                4 => s.gmem_read_sectors = 5,
                5 => s.gmem_write_sectors = 5,
                6 => s.l1_hits = 5,
                7 => s.l1_misses = 5,
                8 => s.l2_hits = 5,
                _ => s.l2_misses = 5,
            }
            let mut row = [0; NUM_PC_COLUMNS];
            add_unit_delta(&mut row, &zero, &s);
            let col = PC_COLUMNS.iter().position(|c| c == name).unwrap();
            assert_eq!(row[col], 5, "{name}");
            assert_eq!(row.iter().sum::<u64>(), 5, "{name}");
        }
    }
}
