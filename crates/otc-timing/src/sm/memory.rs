//! The SM's memory pipe: shared-memory wavefronts, the L1 and the SM's share of the L2 and DRAM
//! queues, constant and atomic accesses (docs/timing.md 3.6).

use super::*;

impl SmSim {
    /// Timing of an executed memory instruction that starts at `s`; returns its result cycle.
    pub(super) fn memory(&mut self, r: &Resolved, ws: usize, e: &Event, space: MemSpace, op: MemOp, s: u64) -> u64 {
        let m = &r.cfg.memory;
        let (cta, wi) = (self.warps[ws].cta, self.warps[ws].w);
        let bytes = match e.kind {
            EventKind::Mem { bytes, .. } => bytes as u32,
            _ => 4,
        };
        let lanes = e.executed.count_ones() as u64;
        // The lanes' addresses, for the accesses whose addresses the model reads.
        let mut addrs = std::mem::take(&mut self.lane_scratch);
        if crate::record::addresses_needed(e.form) {
            let c = self.ctas[cta].as_mut().unwrap();
            self.warps[ws].lane_addrs.next(&mut c.p.lane_addrs[wi], Some(e.pc), false, &mut addrs);
        } else {
            addrs.clear();
        }
        let result;
        match space {
            MemSpace::Shared => {
                let mut lanes_v = [(0u32, 0u64); 32];
                let mut mask = e.executed;
                for (slot, &a) in lanes_v.iter_mut().zip(&addrs) {
                    let lane = mask.trailing_zeros();
                    mask &= mask - 1;
                    *slot = (lane, a);
                }
                let lanes_v = &lanes_v[..addrs.len().min(32)];
                let atomic = op == MemOp::Atomic;
                let period = m.shared_banks as u64 * m.shared_bank_bytes as u64;
                let memo = self.smem_memo_of(e.pc);
                let known = memo.and_then(|i| self.smem_memo[i].lookup(e.pc, lanes_v, bytes, atomic, period));
                let (wave, phases) = match known {
                    Some(known) => known,
                    None => {
                        let found = shared_wavefronts(lanes_v, bytes, m.shared_banks, m.shared_bank_bytes, atomic);
                        if let Some(i) = memo {
                            self.smem_memo[i].store(e.pc, lanes_v, bytes, atomic, found);
                        }
                        found
                    }
                };
                let wave = wave.max(1) as u64;
                self.stats.smem_instructions += 1;
                self.stats.smem_wavefronts += wave;
                self.stats.smem_conflicts += wave - phases.max(1) as u64;
                let start = s.max(self.mio_free);
                self.mio_free = start + wave;
                result = start + wave - 1 + m.shared_latency as u64;
                match op {
                    MemOp::Load => self.stats.smem_read_bytes += lanes * bytes as u64,
                    MemOp::Store => self.stats.smem_write_bytes += lanes * bytes as u64,
                    _ => {
                        self.stats.smem_read_bytes += lanes * bytes as u64;
                        self.stats.smem_write_bytes += lanes * bytes as u64
                    }
                }
            }
            MemSpace::Const => {
                let mut v: Vec<u64> = addrs.clone();
                v.sort_unstable();
                v.dedup();
                result = s + m.const_latency as u64 + v.len().saturating_sub(1) as u64;
                self.stats.const_loads += 1;
            }
            MemSpace::Global | MemSpace::Local => {
                let mut sectors = std::mem::take(&mut self.scratch);
                {
                    // Read the access from the warp's first chunk; a chunk read to its end is freed.
                    let c = self.ctas[cta].as_mut().unwrap();
                    self.warps[ws].gmem.next(&mut c.p.gmem[wi], Some(e.pc), true, &mut sectors);
                }
                let n = sectors.len() as u64;
                let local = space == MemSpace::Local;
                let useful = lanes * bytes as u64;
                let start = s.max(self.mio_free);
                self.mio_free = start + n.div_ceil(m.l1_sectors_per_cycle as u64).max(1);
                let mut done = start + 1;
                let l2_send = |sm: &mut SmSim, sector_hit: u64, write: bool| -> u64 {
                    let l2hit = sector_hit & 1 != 0;
                    let q = sm.l2_free_mc.max(start * MC);
                    sm.l2_free_mc = q + r.l2_mc_per_sector;
                    let mut arrive = q.div_ceil(MC) + m.l2_latency as u64;
                    if l2hit {
                        sm.stats.l2_hits += 1;
                    } else {
                        sm.stats.l2_misses += 1;
                        let d = sm.dram_free_mc.max(q);
                        sm.dram_free_mc = d + r.dram_mc_per_sector;
                        if write {
                            sm.stats.dram_write_bytes += m.sector_bytes as u64;
                        } else {
                            sm.stats.dram_read_bytes += m.sector_bytes as u64;
                            arrive = arrive.max(d.div_ceil(MC) + m.dram_latency as u64);
                        }
                    }
                    arrive
                };
                match op {
                    MemOp::Load => {
                        if local {
                            self.stats.lmem_read_bytes += useful;
                        } else {
                            self.stats.gmem_read_bytes += useful;
                            self.stats.gmem_read_sectors += n;
                        }
                        for &sh in &sectors {
                            let sector = sh >> 1;
                            match self.l1.lookup(sector) {
                                Lookup::Hit(rt) => {
                                    self.stats.l1_hits += 1;
                                    done = done.max(rt.max(start + m.l1_latency as u64));
                                }
                                Lookup::Miss => {
                                    self.stats.l1_misses += 1;
                                    let arrive = l2_send(self, sh, false);
                                    self.l1.fill(sector, arrive);
                                    done = done.max(arrive);
                                }
                            }
                        }
                        result = done;
                    }
                    MemOp::Store => {
                        if local {
                            self.stats.lmem_write_bytes += useful;
                        } else {
                            self.stats.gmem_write_bytes += useful;
                            self.stats.gmem_write_sectors += n;
                        }
                        for &sh in &sectors {
                            // Write-through, no allocation; a present sector stays valid (updated).
                            self.l1.lookup(sh >> 1);
                            let arrive = l2_send(self, sh, true);
                            done = done.max(arrive);
                        }
                        result = start + 1;
                        let w = &mut self.warps[ws];
                        w.mem_done = w.mem_done.max(done);
                    }
                    MemOp::Atomic | MemOp::Reduction => {
                        self.stats.gmem_read_bytes += useful;
                        self.stats.gmem_write_bytes += useful;
                        self.stats.atomics += 1;
                        // Same-address lanes serialise at the L2.
                        let mut v: Vec<u64> = addrs.clone();
                        v.sort_unstable();
                        let mut worst = 0u64;
                        let mut i = 0;
                        while i < v.len() {
                            let mut j = i;
                            while j < v.len() && v[j] == v[i] {
                                j += 1;
                            }
                            worst = worst.max((j - i) as u64);
                            i = j;
                        }
                        for &sh in &sectors {
                            let arrive = l2_send(self, sh, true);
                            done = done.max(arrive);
                        }
                        done += m.atomic_latency as u64 + worst.saturating_sub(1);
                        if op == MemOp::Atomic {
                            result = done;
                        } else {
                            result = start + 1;
                        }
                        let w = &mut self.warps[ws];
                        w.mem_done = w.mem_done.max(done);
                    }
                }
                self.scratch = sectors;
            }
        }
        self.lane_scratch = addrs;
        if matches!(op, MemOp::Load | MemOp::Atomic) {
            let w = &mut self.warps[ws];
            w.mem_done = w.mem_done.max(result);
        }
        result
    }
}

/// Instructions with an entry in [`SmSim::smem_memo`]; the shared accesses of any others are
/// computed each time.
const SMEM_MEMO_ENTRIES: usize = 256;

impl SmSim {
    /// The index in `smem_memo` of the shared-memory instruction at `pc`, made on its first
    /// access (None beyond [`SMEM_MEMO_ENTRIES`] instructions or off the instruction grid).
    fn smem_memo_of(&mut self, pc: u32) -> Option<usize> {
        let idx = (pc / INSTRUCTION_BYTES) as usize;
        if !pc.is_multiple_of(INSTRUCTION_BYTES) || idx >= crate::packed::MAX_PCS {
            return None;
        }
        if self.smem_slot.len() <= idx {
            self.smem_slot.resize(idx + 1, 0);
        }
        match self.smem_slot[idx] {
            0 if self.smem_memo.len() < SMEM_MEMO_ENTRIES => {
                self.smem_memo.push(SmemMemo::EMPTY);
                self.smem_slot[idx] = self.smem_memo.len() as u16;
                Some(self.smem_memo.len() - 1)
            }
            0 => None,
            slot => Some(slot as usize - 1),
        }
    }
}

/// The last shared-memory access of an instruction and its (wavefronts, phases). An access of
/// the same lanes whose addresses all moved by one multiple of `banks x bank_bytes` (a
/// double-buffered stage, the next k of a loop) puts the same words, shifted by a multiple of the
/// bank count, on the same banks: its wavefronts are the same, and [`shared_wavefronts`] (a sort
/// of the phase's words when two of them share a bank) is not run again. Only addresses below
/// 2^31 (shared offsets) are remembered: the word keys' 40-bit truncation then cannot tell two
/// accesses apart, and an address minus the first one fits an `i32` (kept as its `u32` bits).
#[derive(Clone, Copy)]
pub(super) struct SmemMemo {
    pc: u32,
    n: u8,
    atomic: bool,
    bytes: u32,
    /// The first lane's address; the lanes, and each one's address minus `first`.
    first: u64,
    lanes: [u8; 32],
    rel: [u32; 32],
    result: (u32, u32),
}

impl SmemMemo {
    const EMPTY: SmemMemo = SmemMemo {
        pc: u32::MAX,
        n: 0,
        atomic: false,
        bytes: 0,
        first: 0,
        lanes: [0; 32],
        rel: [0; 32],
        result: (0, 0),
    };

    /// The remembered result if `lanes` is the remembered access moved by a multiple of `period`.
    #[inline]
    fn lookup(&self, pc: u32, lanes: &[(u32, u64)], bytes: u32, atomic: bool, period: u64) -> Option<(u32, u32)> {
        let first = lanes.first()?.1;
        if self.pc != pc
            || self.n as usize != lanes.len()
            || self.bytes != bytes
            || self.atomic != atomic
            || period == 0
            || first.abs_diff(self.first) % period != 0
        {
            return None;
        }
        let (mut differ, mut high) = (0u32, 0u64);
        for ((&(lane, a), &l0), &rel) in lanes.iter().zip(&self.lanes).zip(&self.rel) {
            differ |= (lane ^ l0 as u32) | (a.wrapping_sub(first) as u32 ^ rel);
            high |= a;
        }
        (differ == 0 && high >> 31 == 0).then_some(self.result)
    }

    fn store(&mut self, pc: u32, lanes: &[(u32, u64)], bytes: u32, atomic: bool, result: (u32, u32)) {
        let Some(&(_, first)) = lanes.first() else { return };
        if lanes.iter().any(|&(lane, a)| a >> 31 != 0 || lane > 31) {
            self.pc = u32::MAX;
            return;
        }
        *self = SmemMemo { pc, n: lanes.len() as u8, atomic, bytes, first, result, ..SmemMemo::EMPTY };
        for (i, &(lane, a)) in lanes.iter().enumerate().take(32) {
            self.lanes[i] = lane as u8;
            self.rel[i] = a.wrapping_sub(first) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(addrs: impl IntoIterator<Item = u64>) -> Vec<(u32, u64)> {
        addrs.into_iter().enumerate().map(|(l, a)| (l as u32, a)).collect()
    }

    /// A remembered access answers for the same lanes moved by a multiple of banks x bank bytes,
    /// with the wavefronts `shared_wavefronts` gives them, and for nothing else.
    #[test]
    fn smem_memo_answers_only_for_accesses_with_the_same_wavefronts() {
        let (banks, bank_bytes) = (32u32, 4u32);
        let period = (banks * bank_bytes) as u64;
        // (remembered, asked, bytes, answered)
        let conflict = lanes((0..32).map(|l| 256 * l)); // 32-way conflict
        let broadcast = lanes((0..32).map(|_| 64));
        let row128 = lanes((0..32).map(|l| 16 * l)); // LDS.128, four phases
        let moved =
            |v: &Vec<(u32, u64)>, d: i64| v.iter().map(|&(l, a)| (l, a.wrapping_add(d as u64))).collect::<Vec<_>>();
        type Lanes = Vec<(u32, u64)>;
        let cases: Vec<(Lanes, Lanes, u32, bool)> = vec![
            (conflict.clone(), conflict.clone(), 4, true),
            (conflict.clone(), moved(&conflict, 0x2000), 4, true),
            (conflict.clone(), moved(&conflict, 4), 4, false), // another bank rotation: not asked
            (broadcast.clone(), moved(&broadcast, 128), 4, true),
            (row128.clone(), moved(&row128, 0x1000), 16, true),
            (row128.clone(), moved(&row128, 64), 16, false),
            (row128.clone(), lanes((0..32).map(|l| 32 * l)), 16, false), // another shape
            (conflict.clone(), conflict[1..].to_vec(), 4, false),        // other lanes
            (lanes((0..32).map(|l| (1u64 << 33) + 256 * l)), lanes((0..32).map(|l| (1u64 << 33) + 256 * l)), 4, false),
            (lanes((0..32).map(|l| (1u64 << 31) + 256 * l)), lanes((0..32).map(|l| (1u64 << 31) + 256 * l)), 4, false),
            // the same offsets modulo 2^32 but not the same shape
            (
                lanes((0..32).map(|l| 0x1000 + 256 * l)),
                lanes((0..32).map(|l| 0x1000 + 256 * l + (l & 1) * 0x1_0000_0000)),
                4,
                false,
            ),
        ];
        for (i, (first, then, bytes, answered)) in cases.iter().enumerate() {
            let mut memo = SmemMemo::EMPTY;
            let found = shared_wavefronts(first, *bytes, banks, bank_bytes, false);
            memo.store(0x40, first, *bytes, false, found);
            let got = memo.lookup(0x40, then, *bytes, false, period);
            assert_eq!(got.is_some(), *answered, "case {i}");
            if let Some(known) = got {
                assert_eq!(known, shared_wavefronts(then, *bytes, banks, bank_bytes, false), "case {i}");
            }
            // another instruction, width or atomicity never shares the entry
            assert_eq!(memo.lookup(0x50, then, *bytes, false, period), None, "case {i}");
            assert_eq!(memo.lookup(0x40, then, *bytes * 2, false, period), None, "case {i}");
            assert_eq!(memo.lookup(0x40, then, *bytes, true, period), None, "case {i}");
        }
        // the table's first case is a real conflict, so a wrong answer would show
        assert_eq!(shared_wavefronts(&conflict, 4, banks, bank_bytes, false), (32, 1));
    }
}
