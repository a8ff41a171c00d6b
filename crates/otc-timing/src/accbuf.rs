//! The accumulation buffer of one sub-core (Wang et al., Section V-B2, Fig. 18-20).
//!
//! 32x32 fp32 elements split into `bank_rows x bank_cols` banks: element (r, c) is in bank
//! (r % bank_rows, c % bank_cols), each bank serves `ports_per_bank` accesses (one read-add-write
//! of an element) per cycle. With the default 8x16 banks an aligned 8x16 OHMMA tile touches every
//! bank once: the dense mode's one port per FEOP output. Sparse OHMMAs scatter their products to
//! the rows and columns given by the bitmaps, so several products may fall into one bank.
//!
//! Sparse-mode operand collector: without it (window 1) an instruction's accesses start when the
//! previous instruction's have all finished, and take as many cycles as its most loaded bank.
//! With a window of W, up to W successive instructions are in the collector at once and every
//! bank works through its own queue, so accesses of later instructions fill the idle bank cycles
//! of earlier ones (Fig. 19). A new instruction enters when the one W places before it is done.

use std::collections::VecDeque;

/// Outcome of one access group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccessResult {
    /// Cycle at which the instruction entered the collector (its products left the multiplier).
    pub enter: u64,
    /// Cycle at which its last access finished.
    pub done: u64,
    /// Element accesses.
    pub accesses: u64,
    /// Accesses that found their bank's ports taken by an earlier access of the same instruction.
    pub conflicts: u64,
}

#[derive(Clone, Debug)]
pub struct AccBuf {
    rows: u32,
    cols: u32,
    ports: u32,
    window: usize,
    bank_free: Vec<u64>,
    recent: VecDeque<u64>,
    /// Cycle at which every access issued so far has finished.
    pub drained: u64,
    load: Vec<u32>,
}

impl AccBuf {
    pub fn new(bank_rows: u32, bank_cols: u32, ports: u32, window: u32) -> AccBuf {
        AccBuf {
            rows: bank_rows,
            cols: bank_cols,
            ports: ports.max(1),
            window: window.max(1) as usize,
            bank_free: vec![0; (bank_rows * bank_cols) as usize],
            recent: VecDeque::new(),
            drained: 0,
            load: vec![0; (bank_rows * bank_cols) as usize],
        }
    }

    /// Accesses to the elements `rows x cols` (bitmasks over the 32 rows and 32 columns), each
    /// element `times` times, arriving at cycle `t`.
    pub fn access(&mut self, t: u64, rows: u32, cols: u32, times: u32) -> AccessResult {
        let mut rc = [0u32; 32];
        let mut cc = [0u32; 32];
        let mut r = rows;
        while r != 0 {
            rc[(r.trailing_zeros() % self.rows) as usize] += 1;
            r &= r - 1;
        }
        let mut c = cols;
        while c != 0 {
            cc[(c.trailing_zeros() % self.cols) as usize] += 1;
            c &= c - 1;
        }
        let accesses = rows.count_ones() as u64 * cols.count_ones() as u64 * times as u64;
        let mut conflicts = 0u64;
        let mut max_cycles = 0u64;
        for (x, &rx) in rc.iter().enumerate().take(self.rows as usize) {
            for (y, &cy) in cc.iter().enumerate().take(self.cols as usize) {
                let l = rx * cy * times;
                self.load[x * self.cols as usize + y] = l;
                if l > self.ports {
                    conflicts += (l - self.ports) as u64;
                }
                max_cycles = max_cycles.max(l.div_ceil(self.ports) as u64);
            }
        }
        // Entry: the collector has room when the instruction `window` places back is done.
        let mut enter = t;
        if self.recent.len() >= self.window {
            enter = enter.max(self.recent[self.recent.len() - self.window]);
        }
        let done = if accesses == 0 {
            enter
        } else if self.window == 1 {
            let start = enter.max(self.drained);
            let done = start + max_cycles;
            for f in &mut self.bank_free {
                *f = done;
            }
            done
        } else {
            let mut done = enter;
            for (b, f) in self.bank_free.iter_mut().enumerate() {
                let l = self.load[b];
                if l == 0 {
                    continue;
                }
                let start = (*f).max(enter);
                *f = start + l.div_ceil(self.ports) as u64;
                done = done.max(*f);
            }
            done
        };
        self.recent.push_back(done);
        while self.recent.len() > self.window {
            self.recent.pop_front();
        }
        self.drained = self.drained.max(done);
        AccessResult { enter, done, accesses, conflicts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_tile_is_one_cycle() {
        let mut b = AccBuf::new(8, 16, 1, 1);
        let r = b.access(10, 0xff, 0xffff, 1);
        assert_eq!((r.enter, r.done, r.accesses, r.conflicts), (10, 11, 128, 0));
    }

    #[test]
    fn rows_in_one_bank_row_conflict() {
        // rows 0 and 8 share bank row 0: two cycles, 16 conflicting accesses.
        let mut b = AccBuf::new(8, 16, 1, 1);
        let r = b.access(0, 0x101, 0xffff, 1);
        assert_eq!((r.done, r.accesses, r.conflicts), (2, 32, 16));
    }

    #[test]
    fn collector_merges_successive_instructions() {
        // Two instructions, each hitting bank row 0 twice (rows 0 and 8) and bank row 1 not at all
        // or the reverse: without a collector 2 + 2 cycles, with one the banks overlap.
        let mut without = AccBuf::new(8, 16, 1, 1);
        without.access(0, 0x101, 0xffff, 1);
        let a = without.access(0, 0x202, 0xffff, 1);
        let mut with = AccBuf::new(8, 16, 1, 4);
        with.access(0, 0x101, 0xffff, 1);
        let b = with.access(0, 0x202, 0xffff, 1);
        assert_eq!(a.done, 4);
        assert_eq!(b.done, 2);
    }
}
