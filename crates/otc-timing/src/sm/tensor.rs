//! The tensor unit of a sub-core and its accumulation buffer: what each tensor class costs
//! (`[tensor.<class>]` of the machine file, docs/timing.md 3.4-3.5) and the counters it feeds.

use super::*;

/// HMMA.884 and the dense OHMMA: the accumulator may be forwarded (with
/// `tensor.accumulator_forwarding`) and the result is forwarded from the multipliers.
pub(super) fn forwards_accumulator(class: TensorClass) -> bool {
    use TensorClass::*;
    matches!(class, Hmma884F32 | Hmma884F16 | Hmma884Vs | OhmmaF32 | OhmmaF16 | HmmaSp24 | HmmaHss4 | HmmaHss8)
}

/// The structured-sparse HMMA steps: how many times longer their k window is than the dense
/// STEP's (the dense-equivalent MACs are `macs` times this; the rest were skipped).
fn window_factor(class: TensorClass) -> Option<u64> {
    use TensorClass::*;
    match class {
        HmmaSp24 => Some(2),
        HmmaHss4 => Some(4),
        HmmaHss8 => Some(8),
        _ => None,
    }
}

impl SmSim {
    /// The products of one sparse OHMMA (landing at `rows` x `cols`) reach accumulation buffer
    /// `buf` of sub-core `sub` at `arrive`: counts them; returns how long the collector makes
    /// the multipliers hold them, and when they are accumulated.
    fn land_products(&mut self, sub: usize, buf: u8, arrive: u64, rows: u32, cols: u32) -> (u64, u64) {
        let res = self.subs[sub].accbuf[buf as usize].access(arrive, rows, cols, 1);
        let st = &mut self.stats;
        st.macs_useful += res.accesses;
        st.accbuf_accesses += res.accesses;
        st.accbuf_conflicts += res.conflicts;
        (res.enter - arrive, res.done)
    }

    /// The multipliers of sub-core `sub` would be free at `free` but hold products `hold` cycles
    /// longer (charged to the accumulation buffer); the warp's buffer is ready at `done`, which
    /// is returned.
    fn hold_multipliers(&mut self, sub: usize, ws: usize, free: u64, hold: u64, done: u64) -> u64 {
        if hold > 0 {
            self.stats.accbuf_stall += hold;
            let subc = &mut self.subs[sub];
            let u = unit_index(otc_isa::Unit::Tensor);
            if free + hold > subc.unit_exec_free[u] {
                subc.unit_exec_free[u] = free + hold;
                subc.unit_exec_reason[u] = Reason::AccBuf;
            }
        }
        let w = &mut self.warps[ws];
        w.accbuf_ready = w.accbuf_ready.max(done);
        done
    }

    /// Timing of a tensor instruction whose execution starts at `s`; returns its result cycle.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn tensor(
        &mut self,
        r: &Resolved,
        sub: usize,
        ws: usize,
        e: &Event,
        tc: TensorClass,
        s: u64,
        cycles: u64,
    ) -> u64 {
        use TensorClass::*;
        let cost = r.cfg.tensor.cost(tc);
        let executed = e.executed != 0;
        let st = &mut self.stats;
        st.tensor_busy += cycles;
        st.tensor_busy_by[busy_slot(tc)] += cycles;
        if !executed {
            count_skipped_tensor(st, tc, cost.macs as u64);
            return s + match tc {
                Hmma884F32 | Hmma884F16 | Hmma884Vs | HmmaSp24 | HmmaHss4 | HmmaHss8 | OhmmaF32 | OhmmaF16 | Bohmma => {
                    cost.latency as u64
                }
                _ => 1,
            };
        }
        let (abm, bbm, buf) = match e.kind {
            EventKind::Tensor(op) => (op.rows, op.cols, op.buf),
            _ => (0xff, 0xffff, 0),
        };
        // Classes without MACs (BOHMMA's binary products, the buffer moves) have `macs` = 0; the
        // sequenced SpWMMA's are per OHMMA it runs.
        let set = if tc == SpwmmaSeq { spwmma_ohmmas(abm, bbm) } else { 0 };
        let macs = cost.macs as u64 * if tc == SpwmmaSeq { set.count_ones() as u64 } else { 1 };
        st.macs_issued += macs;
        st.macs_executed += macs;
        match tc {
            // A vector-wise sparse STEP is an HMMA STEP on the same units (isa/vstc.toml).
            Hmma884F32 | Hmma884F16 | Hmma884Vs => {
                st.hmma_issued += 1;
                st.hmma_executed += 1;
                st.macs_useful += macs;
                s + cost.latency as u64
            }
            HmmaSp24 | HmmaHss4 | HmmaHss8 => {
                st.hmma_issued += 1;
                st.hmma_executed += 1;
                st.macs_useful += macs;
                if tc == HmmaSp24 {
                    st.hmma_sp24_executed += 1;
                } else {
                    st.hmma_hss_executed += 1;
                }
                st.macs_skipped_structured += macs * (window_factor(tc).unwrap_or(1) - 1);
                s + cost.latency as u64
            }
            OhmmaF32 | OhmmaF16 => {
                st.ohmma_issued += 1;
                st.ohmma_executed += 1;
                st.macs_useful += macs;
                st.accbuf_accesses += 128;
                s + cost.latency as u64
            }
            OhmmaSparse => {
                st.ohmma_issued += 1;
                st.ohmma_sparse_issued += 1;
                st.ohmma_executed += 1;
                st.ohmma_sparse_executed += 1;
                // (abm, bbm) are the landing rows and columns here.
                let (hold, done) = self.land_products(sub, buf, s + r.cfg.accbuf.latency as u64, abm, bbm);
                // The multiplier holds the instruction until the collector takes its products.
                self.hold_multipliers(sub, ws, s + cycles.max(1), hold, done)
            }
            SpwmmaSeq => {
                st.spwmma_issued += 1;
                st.spwmma_executed += 1;
                // The sequencer feeds the multipliers one OHMMA per `cycles` of the class, each
                // one's products entering the buffer's collector as a sparse OHMMA's do; when the
                // collector holds one, the ones after it wait.
                let (per, lat) = (cost.cycles as u64, r.cfg.accbuf.latency as u64);
                let (mut start, mut done, mut held) = (s, s + 1, 0u64);
                for j in (0..8u8).filter(|j| set & (1 << j) != 0) {
                    let (rows, cols) = sparse_landing(abm, bbm, j % 4, j / 4);
                    let (hold, landed) = self.land_products(sub, buf, start + lat, rows, cols);
                    self.stats.spwmma_ohmmas += 1;
                    held += hold;
                    start += per + hold;
                    done = done.max(landed);
                }
                self.hold_multipliers(sub, ws, s + cycles.max(1), held, done)
            }
            Bohmma => {
                st.bohmma_issued += 1;
                st.bohmma_executed += 1;
                s + cost.latency as u64
            }
            AccbClear | AccbBmap | AccbMov | AccbSts | AccbLds => {
                st.accb[accb_slot(tc)] += 1;
                let m = &r.cfg.memory;
                match tc {
                    AccbMov => {
                        // Rows 8q..8q+7, all 32 columns.
                        let res = self.subs[sub].accbuf[buf as usize].access(s, 0xff, u32::MAX, 1);
                        self.stats.accbuf_accesses += res.accesses;
                        self.stats.accbuf_conflicts += res.conflicts;
                        res.done + cost.latency as u64
                    }
                    AccbSts | AccbLds => {
                        let res = self.subs[sub].accbuf[buf as usize].access(s, u32::MAX, u32::MAX, 1);
                        self.stats.accbuf_accesses += res.accesses;
                        self.stats.accbuf_conflicts += res.conflicts;
                        // 4096 bytes through the shared-memory pipe, conflict-free rows.
                        let wave = (4096 / (m.shared_banks * m.shared_bank_bytes).max(1)) as u64;
                        let start = s.max(self.mio_free);
                        self.mio_free = start + wave;
                        self.stats.smem_wavefronts += wave;
                        if tc == AccbSts {
                            self.stats.smem_write_bytes += 4096;
                        } else {
                            self.stats.smem_read_bytes += 4096;
                        }
                        let done = res.done.max(start + wave - 1 + m.shared_latency as u64);
                        let w = &mut self.warps[ws];
                        w.mem_done = w.mem_done.max(done);
                        w.accbuf_ready = w.accbuf_ready.max(done);
                        done
                    }
                    // CLEAR, BMAP: the buffer state is ready when the unit is free.
                    _ => s + cycles.max(1),
                }
            }
        }
    }
}

/// Index of a tensor class in `SmStats::tensor_busy_by` (HMMA.884, OHMMA, BOHMMA, ACCB).
fn busy_slot(tc: TensorClass) -> usize {
    use TensorClass::*;
    match tc {
        Hmma884F32 | Hmma884F16 | Hmma884Vs | HmmaSp24 | HmmaHss4 | HmmaHss8 => 0,
        OhmmaF32 | OhmmaF16 | OhmmaSparse | SpwmmaSeq => 1,
        Bohmma => 2,
        AccbClear | AccbBmap | AccbMov | AccbSts | AccbLds => 3,
    }
}

/// Index of an ACCB class in `SmStats::accb` (clear, bmap, mov, sts, lds).
fn accb_slot(tc: TensorClass) -> usize {
    use TensorClass::*;
    match tc {
        AccbClear => 0,
        AccbBmap => 1,
        AccbMov => 2,
        AccbSts => 3,
        _ => 4,
    }
}

/// Counts a warp-uniformly predicated-off tensor instruction of class `tc` whose class issues
/// `macs` MACs, issued or removed before issue (its MACs as issued, none executed).
pub(super) fn count_skipped_tensor(st: &mut SmStats, tc: TensorClass, macs: u64) {
    use TensorClass::*;
    match tc {
        Hmma884F32 | Hmma884F16 | Hmma884Vs | HmmaSp24 | HmmaHss4 | HmmaHss8 => {
            st.macs_issued += macs;
            st.hmma_issued += 1;
        }
        OhmmaF32 | OhmmaF16 | OhmmaSparse => {
            st.macs_issued += macs;
            st.ohmma_issued += 1;
            st.ohmma_skipped += 1;
            if tc == OhmmaSparse {
                st.ohmma_sparse_issued += 1;
            }
        }
        Bohmma => st.bohmma_issued += 1,
        AccbClear | AccbBmap | AccbMov | AccbSts | AccbLds => st.accb[accb_slot(tc)] += 1,
        // runs no OHMMA: no MACs
        SpwmmaSeq => st.spwmma_issued += 1,
    }
}
