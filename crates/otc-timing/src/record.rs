//! Recording a CTA's trace straight into the form the model holds (issue 8, speed).
//!
//! [`Preparer::prepare`](crate::Preparer::prepare) turns a whole [`CtaTrace`] into a
//! [`PreparedTrace`]: coalesce the global/local accesses into sectors, drop the lane addresses
//! the model no longer reads, pack the events. A [`CtaRecorder`] does the same event by event as
//! the functional run issues them, so that the 48-byte [`Event`]s and the lane addresses of a
//! CTA are never stored: an instruction issued as its template (nearly all of them) costs a run
//! extension, a memory instruction its coalescing. The result is the same prepared CTA
//! (`prepare` itself runs through a recorder).

use std::collections::VecDeque;

use crate::access_stream::AccessEncoder;
use crate::memory::coalesce;
use crate::packed::{Packed, PackedBuilder, Protos, MAX_PCS};
use crate::sm::PreparedCta;
use crate::trace::{
    class_of, memory_access, CtaTrace, Event, EventKind, MemOp, MemSpace, WarpTrace, INSTRUCTION_BYTES,
};
use crate::{PreparedTrace, Simulator, TimingConfig, TimingError};

/// Local memory is interleaved by 4-byte words across the 32 lanes of a warp (like the hardware's
/// local-memory layout) in a private region per warp, so same-offset accesses coalesce.
const LOCAL_BASE: u64 = 0xC000_0000_0000_0000;

/// Whether the model reads the lanes' addresses of a memory form after the L2 pre-pass: a plain
/// global or local load or store is timed from its sectors alone; only shared, constant and
/// atomic accesses still read their lanes' addresses.
pub(crate) fn addresses_needed(form: u16) -> bool {
    match class_of(form as usize) {
        otc_isa::Class::Memory(m) => {
            let (space, op) = memory_access(m);
            matches!(space, MemSpace::Shared | MemSpace::Const) || matches!(op, MemOp::Atomic | MemOp::Reduction)
        }
        _ => false,
    }
}

/// One warp being recorded.
struct WarpRecorder {
    warp_in_cta: u32,
    events: PackedBuilder,
    /// The lane addresses the model still reads (see [`addresses_needed`]), by instruction.
    lanes: AccessEncoder,
    /// Sectors of the executed global/local accesses, with their instructions' pcs (the L2
    /// pre-pass reads them).
    sectors: AccessEncoder,
    /// Warp-instructions issued (counted by a light recorder only, which packs no events).
    issued: u64,
}

/// Records the warps of one CTA (made by [`crate::Preparer::recorder`]); [`CtaRecorder::finish`]
/// gives what [`crate::Preparer::prepare`] gives for the same events.
pub struct CtaRecorder<'a> {
    cfg: &'a TimingConfig,
    index: u64,
    protos: Protos,
    warps: Vec<WarpRecorder>,
    /// Coalescing buffers.
    lane_addrs: Vec<u64>,
    scratch: Vec<u64>,
    /// A CTA that sampled timing does not simulate (`crate::sample`): only its global/local
    /// sectors (for the L2 pre-pass) and its warps' instruction counts are recorded.
    light: bool,
}

impl<'a> CtaRecorder<'a> {
    pub(crate) fn new(cfg: &'a TimingConfig, protos: Protos, index: u64, warps: u32) -> CtaRecorder<'a> {
        CtaRecorder {
            cfg,
            index,
            protos,
            warps: (0..warps).map(WarpRecorder::new).collect(),
            lane_addrs: Vec::with_capacity(32),
            scratch: Vec::with_capacity(64),
            light: false,
        }
    }

    /// Bytes recorded since the recorder was made or last cut ([`CtaRecorder::take_segment`]):
    /// the packed events and access streams of every warp (what `max_trace_bytes` bounds).
    pub fn bytes(&self) -> usize {
        self.warps.iter().map(|w| w.events.bytes() + w.lanes.bytes() + w.sectors.bytes()).sum()
    }

    /// A recorder for a CTA that sampled timing does not simulate (see `light`).
    pub(crate) fn light(mut self) -> CtaRecorder<'a> {
        self.light = true;
        self
    }

    fn warp(&mut self, warp: u32) -> &mut WarpRecorder {
        let w = warp as usize;
        if w >= self.warps.len() {
            let n = self.warps.len() as u32;
            self.warps.extend((n..=warp).map(WarpRecorder::new));
        }
        &mut self.warps[w]
    }

    /// The proto of instruction `idx`, if the launch has one.
    #[inline]
    fn proto(&self, idx: usize) -> Option<&Event> {
        self.protos.get(idx).and_then(|p| p.as_ref())
    }

    /// Warp `warp` issued instruction `idx` (pc = 16 idx) as its template (the preparer's
    /// `templates[idx]`) with the lanes `active`, of which `executed` passed the guard. Not for
    /// memory instructions ([`CtaRecorder::mem`]).
    #[inline]
    pub fn event(&mut self, warp: u32, idx: usize, active: u32, executed: u32) {
        if self.light {
            self.warp(warp).issued += 1;
            return;
        }
        match self.proto(idx) {
            Some(p) if idx < MAX_PCS && !matches!(p.kind, EventKind::Mem { .. }) => {
                self.warp(warp).events.push_proto(idx as u32, active, executed);
            }
            p => {
                // Not a template event: record it in full.
                let e = p.map(|p| Event { active, executed, ..*p });
                if let Some(e) = e {
                    self.push(warp, e, &[]);
                }
            }
        }
    }

    /// Warp `warp` issued memory instruction `idx` as its template with one address per executed
    /// lane (ascending lanes; see [`WarpTrace::push_mem`]).
    #[inline]
    pub fn mem(&mut self, warp: u32, idx: usize, active: u32, executed: u32, addrs: impl IntoIterator<Item = u64>) {
        let mut lane_addrs = std::mem::take(&mut self.lane_addrs);
        lane_addrs.clear();
        lane_addrs.extend(addrs);
        debug_assert_eq!(lane_addrs.len(), executed.count_ones() as usize, "one address per executed lane");
        if self.light {
            self.warp(warp).issued += 1;
            if let Some(&Event { kind: EventKind::Mem { space, bytes, .. }, .. }) = self.proto(idx) {
                if executed != 0 && matches!(space, MemSpace::Global | MemSpace::Local) {
                    self.sectors(
                        warp,
                        (idx as u32).wrapping_mul(INSTRUCTION_BYTES),
                        space,
                        bytes,
                        executed,
                        &lane_addrs,
                    );
                }
            }
        } else if let Some(p) = self.proto(idx) {
            match p.kind {
                // The proto itself (whose `addrs` is the marker of addresses kept in streams)
                // extends a run; the sectors and the addresses the model reads go to the streams.
                EventKind::Mem { space, bytes, addrs: u32::MAX, .. } if idx < MAX_PCS => {
                    let form = p.form;
                    self.warp(warp);
                    if executed != 0 {
                        self.stream_access(
                            warp,
                            (idx as u32).wrapping_mul(INSTRUCTION_BYTES),
                            form,
                            space,
                            bytes,
                            executed,
                            &lane_addrs,
                        );
                    }
                    self.warps[warp as usize].events.push_proto(idx as u32, active, executed);
                }
                _ => {
                    let e = Event { pc: (idx as u32).wrapping_mul(INSTRUCTION_BYTES), active, executed, ..*p };
                    self.push(warp, e, &lane_addrs);
                }
            }
        }
        self.lane_addrs = lane_addrs;
    }

    /// Record any event; `addrs` are the executed lanes' addresses of a memory event (its
    /// `addrs` field is ignored).
    pub fn push(&mut self, warp: u32, mut e: Event, addrs: &[u64]) {
        self.warp(warp);
        if self.light {
            self.warps[warp as usize].issued += 1;
            if let EventKind::Mem { space: space @ (MemSpace::Global | MemSpace::Local), bytes, .. } = e.kind {
                if e.executed != 0 {
                    self.sectors(warp, e.pc, space, bytes, e.executed, addrs);
                }
            }
            return;
        }
        if let EventKind::Mem { space, bytes, .. } = e.kind {
            if e.executed != 0 {
                self.stream_access(warp, e.pc, e.form, space, bytes, e.executed, addrs);
            }
        }
        if let EventKind::Mem { addrs: slot, .. } = &mut e.kind {
            *slot = u32::MAX;
        }
        self.warps[warp as usize].events.push(e, &mut self.protos);
    }

    /// An executed access of warp `warp` (which exists) into its streams: global and local
    /// ones coalesced into sectors, the lanes' addresses of those whose addresses the model reads.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn stream_access(
        &mut self,
        warp: u32,
        pc: u32,
        form: u16,
        space: MemSpace,
        bytes: u8,
        executed: u32,
        addrs: &[u64],
    ) {
        if matches!(space, MemSpace::Global | MemSpace::Local) {
            self.sectors(warp, pc, space, bytes, executed, addrs);
        }
        if addresses_needed(form) {
            self.warps[warp as usize].lanes.push(pc, addrs);
        }
    }

    /// Coalesce an executed global or local access of warp `warp` (which exists) at `pc` into
    /// its sector stream.
    fn sectors(&mut self, warp: u32, pc: u32, space: MemSpace, bytes: u8, executed: u32, addrs: &[u64]) {
        let sector_bytes = self.cfg.memory.sector_bytes;
        let w = &mut self.warps[warp as usize];
        let scratch = &mut self.scratch;
        if space == MemSpace::Local {
            let gw = self.index.wrapping_mul(1024).wrapping_add(w.warp_in_cta as u64);
            let base = LOCAL_BASE ^ gw.wrapping_shl(32);
            let mut local = [0u64; 32];
            let mut mask = executed;
            for (l, &o) in local.iter_mut().zip(addrs) {
                let lane = mask.trailing_zeros() as u64;
                mask &= mask.wrapping_sub(1);
                *l = base.wrapping_add((o / 4) * 128 + lane * 4 + (o % 4));
            }
            coalesce(&local[..addrs.len().min(32)], bytes as u32, sector_bytes, scratch);
        } else {
            coalesce(addrs, bytes as u32, sector_bytes, scratch);
        }
        w.sectors.push(pc, scratch);
    }

    /// The recorded CTA, ready for [`crate::Simulator::push_prepared`]: its index in linear CTA
    /// order, `cta` its grid index, and its resources (as in [`CtaTrace`]).
    pub fn finish(self, cta: [u32; 3], shared_bytes: u32, regs_per_thread: u32, threads: u32) -> PreparedTrace {
        let index = self.index;
        // A light CTA's work for sampled timing: its warp-instructions and its longest warp's.
        let light_work = self.light.then(|| {
            let counts = self.warps.iter().map(|w| w.issued);
            (counts.clone().sum(), counts.max().unwrap_or(0))
        });
        let ready = self.finish_with(cta, shared_bytes, regs_per_thread, threads).map(|(p, _)| p);
        PreparedTrace { index, ready, light_work }
    }

    /// [`CtaRecorder::finish`], also giving back the proto table (grown by the instructions
    /// seen for the first time).
    pub(crate) fn finish_with(
        mut self,
        cta: [u32; 3],
        shared_bytes: u32,
        regs_per_thread: u32,
        threads: u32,
    ) -> Result<(PreparedCta, Protos), TimingError> {
        let seg = self.take_segment()?;
        let warps =
            self.warps.iter().map(|w| WarpTrace { warp_in_cta: w.warp_in_cta, events: Vec::new(), addrs: Vec::new() });
        let mut trace = CtaTrace { cta, warps: warps.collect(), shared_bytes, regs_per_thread, threads };
        let (nwarps, regs_per_warp, smem) = Simulator::sizes_of(self.cfg, self.index, &trace)?;
        if trace.threads == 0 {
            trace.threads = trace.warps.len() as u32 * 32;
        }
        let protos = self.protos;
        Ok((
            PreparedCta {
                trace,
                packed: seg.packed,
                protos: seg.protos,
                sectors: seg.sectors,
                accesses: seg.accesses,
                gmem: Vec::new(),
                lane_addrs: seg.lane_addrs,
                regs_per_warp,
                smem,
                nwarps,
                feed: None,
                bytes: Default::default(),
            },
            protos,
        ))
    }

    /// Cut the recording here (issue 16's hand-off, docs/timing.md "Bounding it"): per warp,
    /// the events and accesses recorded since the last cut, packed and encoded from a fresh
    /// state, so that each segment decodes without the ones before it; the warps go on
    /// recording from a fresh state. [`CtaRecorder::finish`] is the last cut.
    pub fn take_segment(&mut self) -> Result<Segment, TimingError> {
        let n = self.warps.len();
        let mut seg = Segment {
            packed: Vec::with_capacity(n),
            sectors: Vec::with_capacity(n),
            accesses: Vec::with_capacity(n),
            lane_addrs: Vec::with_capacity(n),
            protos: self.protos.clone(),
        };
        for w in &mut self.warps {
            let warp = w.warp_in_cta;
            let oom =
                |what: &str| TimingError::OutOfMemory { what: format!("the {what} of CTA {} warp {warp}", self.index) };
            let fresh = WarpRecorder::new(warp);
            let WarpRecorder { events, lanes, sectors, .. } = std::mem::replace(w, fresh);
            seg.packed.push(events.finish().map_err(|_| oom("events"))?);
            seg.accesses.push(sectors.accesses());
            seg.sectors.push(sectors.finish().map_err(|_| oom("sector stream"))?);
            seg.lane_addrs.push(lanes.finish().map_err(|_| oom("address stream"))?);
        }
        Ok(seg)
    }
}

/// A cut of a CTA's recording ([`CtaRecorder::take_segment`]), per warp: the packed events, the
/// sector stream (with pcs) and its number of accesses, the lane-address stream; and the proto
/// table the events are packed against. Given to the model with [`crate::Simulator::give`].
pub struct Segment {
    pub(crate) packed: Vec<Packed>,
    pub(crate) sectors: Vec<VecDeque<Vec<u8>>>,
    pub(crate) accesses: Vec<usize>,
    pub(crate) lane_addrs: Vec<VecDeque<Vec<u8>>>,
    pub(crate) protos: Protos,
}

impl WarpRecorder {
    fn new(warp_in_cta: u32) -> WarpRecorder {
        WarpRecorder {
            warp_in_cta,
            events: PackedBuilder::default(),
            lanes: AccessEncoder::new(false, false),
            sectors: AccessEncoder::new(true, false),
            issued: 0,
        }
    }
}

/// Feed a whole CTA trace (already checked) through a recorder.
pub(crate) fn record_trace(rec: &mut CtaRecorder<'_>, cta: &CtaTrace) {
    for (i, wt) in cta.warps.iter().enumerate() {
        // Recorders are indexed by position; keep the trace's own warp numbers.
        rec.warp(i as u32).warp_in_cta = wt.warp_in_cta;
        for e in &wt.events {
            rec.push(i as u32, *e, wt.addresses(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_stream::AccessReader;
    use crate::EventTemplate;

    const BODY: &str = "
.kernel k
    LDG.E.SYS R4, [R2] ;
    LDS R5, [R6] ;
    IADD3 R2, R2, 0x4, RZ ;
    STG.E.SYS [R8], R5 ;
    LDL R9, [R1] ;
    ATOMG.E.ADD.STRONG.GPU PT, R7, [R2.64], R6 ;
    FFMA R3, R4, R5, R3 ;
    BRA 0x0 ;
";

    /// Per warp: the events, the sector accesses (pc, sectors) and the lane-address accesses
    /// the model reads, decoded from segments in order, each with fresh readers.
    type Decoded = Vec<(Vec<Event>, Vec<(u32, Vec<u64>)>, Vec<Vec<u64>>)>;

    fn decode(segments: Vec<Segment>, warps: usize) -> Decoded {
        let mut out: Decoded = vec![Default::default(); warps];
        for mut seg in segments {
            for (w, (events, sectors, lanes)) in out.iter_mut().enumerate() {
                let p = &seg.packed[w];
                let mut c = p.start();
                let mut buf = Vec::new();
                let mut lane_reader = AccessReader::default();
                while let Some(e) = p.get(&seg.protos, c) {
                    if let EventKind::Mem { .. } = e.kind {
                        if e.executed != 0 && addresses_needed(e.form) {
                            lane_reader.next(&mut seg.lane_addrs[w], Some(e.pc), false, &mut buf);
                            lanes.push(buf.clone());
                        }
                    }
                    events.push(e);
                    p.step(&mut c);
                }
                assert!(seg.lane_addrs[w].is_empty(), "every lane address read");
                let mut sector_reader = AccessReader::default();
                for _ in 0..seg.accesses[w] {
                    let pc = sector_reader.next(&mut seg.sectors[w], None, false, &mut buf);
                    sectors.push((pc, buf.clone()));
                }
                assert!(seg.sectors[w].is_empty(), "every sector read");
            }
        }
        out
    }

    /// A CTA recorded in segments (cut every `every` issues) decodes to exactly what the whole
    /// recording decodes to: events, sectors with their pcs, lane addresses.
    #[test]
    fn segments_decode_to_the_whole_recording() {
        let program = otc_asm::assemble(BODY, "test").unwrap();
        let templates: Vec<EventTemplate> = program.kernels[0].instructions.iter().map(EventTemplate::new).collect();
        let sim = Simulator::new(&TimingConfig::v100(), 1).unwrap();
        let preparer = sim.preparer(&templates);
        let warps = 3u32;
        // (warp, instruction, active, executed): two warps loop 400 times over the body with
        // strided addresses, the third diverges every 7th trip; issues interleave by warp.
        let mut issues = Vec::new();
        for trip in 0..400u32 {
            for w in 0..warps {
                let exec = if w == 2 && trip % 7 == 0 { 0x0f0f_0f0f } else { u32::MAX };
                for idx in 0..templates.len() {
                    issues.push((w, idx, u32::MAX, exec, trip));
                }
            }
        }
        let record = |rec: &mut CtaRecorder<'_>, &(w, idx, active, exec, trip): &(u32, usize, u32, u32, u32)| {
            let lanes = (0..32u64).filter(|l| exec >> l & 1 != 0);
            let base = match idx {
                0 => 0x1_0000 + 128 * trip as u64 + 4096 * w as u64,
                1 => 4 * (trip % 2) as u64 * 256,
                3 => 0x9_0000 + 4096 * trip as u64,
                4 => 16 * trip as u64,
                5 => 0x5_0000,
                _ => {
                    rec.event(w, idx, active, exec);
                    return;
                }
            };
            rec.mem(w, idx, active, exec, lanes.map(|l| base + 4 * l));
        };
        let mut whole = preparer.recorder(0, warps);
        for i in &issues {
            record(&mut whole, i);
        }
        let want = decode(vec![whole.take_segment().unwrap()], warps as usize);
        assert_eq!(want[0].0.len(), 400 * templates.len());
        // sectors of LDG, STG, LDL and ATOMG; lane addresses of LDS and ATOMG
        assert_eq!((want[0].1.len(), want[0].2.len()), (400 * 4, 400 * 2));
        for every in [1, 5, 64, 999, issues.len()] {
            let mut rec = preparer.recorder(0, warps);
            let mut segments = Vec::new();
            for (k, i) in issues.iter().enumerate() {
                record(&mut rec, i);
                if (k + 1) % every == 0 {
                    segments.push(rec.take_segment().unwrap());
                }
            }
            segments.push(rec.take_segment().unwrap());
            assert_eq!(decode(segments, warps as usize), want, "cut every {every} issues");
        }
    }
}
