//! The tensor unit of a sub-core and its accumulation buffer: what each tensor class costs
//! (`[tensor.<class>]` of the machine file, docs/timing.md 3.4-3.5) and the counters it feeds.

use super::*;

/// HMMA.884 and the dense OHMMA: the accumulator may be forwarded (with
/// `tensor.accumulator_forwarding`) and the result is forwarded from the multipliers.
pub(super) fn forwards_accumulator(class: TensorClass) -> bool {
    use TensorClass::*;
    matches!(class, Hmma884F32 | Hmma884F16 | OhmmaF32 | OhmmaF16)
}

impl SmSim {
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
        let class_slot = match tc {
            Hmma884F32 | Hmma884F16 => 0,
            OhmmaF32 | OhmmaF16 | OhmmaSparse => 1,
            Bohmma => 2,
            AccbClear | AccbBmap | AccbMov | AccbSts | AccbLds => 3,
        };
        st.tensor_busy_by[class_slot] += cycles;
        // Classes without MACs (BOHMMA's binary products, the buffer moves) have `macs` = 0.
        let macs = cost.macs as u64;
        st.macs_issued += macs;
        if executed {
            st.macs_executed += macs;
        }
        match tc {
            Hmma884F32 | Hmma884F16 => {
                st.hmma_issued += 1;
                if executed {
                    st.hmma_executed += 1;
                    st.macs_useful += macs;
                }
                s + cost.latency as u64
            }
            OhmmaF32 | OhmmaF16 => {
                st.ohmma_issued += 1;
                if executed {
                    st.ohmma_executed += 1;
                    st.macs_useful += macs;
                    st.accbuf_accesses += 128;
                } else {
                    st.ohmma_skipped += 1;
                }
                s + cost.latency as u64
            }
            OhmmaSparse => {
                st.ohmma_issued += 1;
                st.ohmma_sparse_issued += 1;
                if !executed {
                    st.ohmma_skipped += 1;
                    return s + 1;
                }
                st.ohmma_executed += 1;
                st.ohmma_sparse_executed += 1;
                let (rows, cols) = match e.kind {
                    EventKind::Tensor(op) => (op.rows, op.cols),
                    _ => (0xff, 0xffff),
                };
                let lat = r.cfg.accbuf.latency as u64;
                let arrive = s + lat;
                let res = self.subs[sub].accbuf.access(arrive, rows, cols, 1);
                let st = &mut self.stats;
                st.macs_useful += res.accesses;
                st.accbuf_accesses += res.accesses;
                st.accbuf_conflicts += res.conflicts;
                // The multiplier holds the instruction until the collector takes its products.
                let hold = res.enter - arrive;
                if hold > 0 {
                    st.accbuf_stall += hold;
                    let subc = &mut self.subs[sub];
                    let u = unit_index(otc_isa::Unit::Tensor);
                    let free = s + cycles.max(1) + hold;
                    if free > subc.unit_exec_free[u] {
                        subc.unit_exec_free[u] = free;
                        subc.unit_exec_reason[u] = Reason::AccBuf;
                    }
                }
                let w = &mut self.warps[ws];
                w.accbuf_ready = w.accbuf_ready.max(res.done);
                res.done
            }
            Bohmma => {
                st.bohmma_issued += 1;
                if executed {
                    st.bohmma_executed += 1;
                }
                s + cost.latency as u64
            }
            AccbClear | AccbBmap | AccbMov | AccbSts | AccbLds => {
                let slot = match tc {
                    AccbClear => 0,
                    AccbBmap => 1,
                    AccbMov => 2,
                    AccbSts => 3,
                    _ => 4,
                };
                st.accb[slot] += 1;
                if !executed {
                    return s + 1;
                }
                let m = &r.cfg.memory;
                match tc {
                    AccbMov => {
                        // Rows 8q..8q+7, all 32 columns.
                        let res = self.subs[sub].accbuf.access(s, 0xff, u32::MAX, 1);
                        self.stats.accbuf_accesses += res.accesses;
                        self.stats.accbuf_conflicts += res.conflicts;
                        res.done + cost.latency as u64
                    }
                    AccbSts | AccbLds => {
                        let res = self.subs[sub].accbuf.access(s, u32::MAX, u32::MAX, 1);
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
