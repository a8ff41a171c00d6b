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
                let (wave, phases) = shared_wavefronts(
                    &lanes_v[..addrs.len().min(32)],
                    bytes,
                    m.shared_banks,
                    m.shared_bank_bytes,
                    op == MemOp::Atomic,
                );
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
