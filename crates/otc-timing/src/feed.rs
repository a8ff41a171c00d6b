//! Feeding a CTA to its SM in parts while it runs (issue 16, docs/timing.md "Bounding it:
//! co-simulation"): the SM's half of the hand-off.
//!
//! A CTA pushed *open* is queued on its SM with no events; its warps' events arrive later in
//! [`WarpPart`]s, each packed and encoded from a fresh state (a cut of the recording,
//! `CtaRecorder::take_segment`), so that the warp's cursor and access readers restart at each.
//! A warp whose buffered events run out while more may come is *starved*: the SM stops at the
//! start of the next cycle with `RunStatus::NeedEvents`, and the part that refills it does what
//! the issue would have done (`SmSim::append`). The schedule is that of the whole trace.
//!
//! [`split`] cuts a whole prepared CTA into such parts (every `n` events of each warp): the
//! check that feeding a trace in parts of any size gives the statistics of feeding it whole
//! (`Simulator::set_segment_events`, the device's `timing_segment` setting).

use std::collections::VecDeque;

use crate::access_stream::{AccessEncoder, AccessReader, StreamOutOfMemory};
use crate::packed::{Packed, PackedBuilder};
use crate::sm::PreparedCta;
use crate::trace::{EventKind, MemSpace};

/// The events of one warp from one cut to the next, with their access streams (the sectors
/// already looked up in the L2: `sector << 1 | l2_hit`).
#[derive(Default)]
pub(crate) struct WarpPart {
    pub packed: Packed,
    pub gmem: VecDeque<Vec<u8>>,
    pub lane_addrs: VecDeque<Vec<u8>>,
}

impl WarpPart {
    /// Heap bytes held (its packed events and access streams).
    pub fn heap_bytes(&self) -> usize {
        self.packed.heap_bytes() + stream_bytes(&self.gmem) + stream_bytes(&self.lane_addrs)
    }
}

/// Heap bytes of an encoded access stream's chunks.
pub(crate) fn stream_bytes(s: &VecDeque<Vec<u8>>) -> usize {
    s.iter().map(Vec::capacity).sum()
}

/// What an open CTA has been given and not reached yet.
pub(crate) struct Feed {
    /// The CTA's linear index (its push order), which `RunStatus::NeedEvents` names.
    pub index: u64,
    /// Per warp: the parts after the one it is reading.
    pub parts: Vec<VecDeque<WarpPart>>,
    /// Per warp: no part comes after those given.
    pub ended: Vec<bool>,
}

impl Feed {
    /// An open CTA of `warps` warps that has been given nothing.
    pub fn new(index: u64, warps: usize) -> Feed {
        Feed { index, parts: (0..warps).map(|_| VecDeque::new()).collect(), ended: vec![false; warps] }
    }

    /// Give warp `w` its next part (`None`: no events this time) and say whether it is its last.
    pub fn give(&mut self, w: usize, part: Option<WarpPart>, last: bool) {
        if let Some(p) = part {
            self.parts[w].push_back(p);
        }
        self.ended[w] |= last;
    }
}

/// Cut the prepared CTA `p` (looked up in the L2: `p.gmem` filled) into parts of `n` events per
/// warp, per warp in order; `p` keeps its sizes and no events.
pub(crate) fn split(p: &mut PreparedCta, n: usize) -> Result<Vec<VecDeque<WarpPart>>, StreamOutOfMemory> {
    let n = n.max(1);
    let mut out = Vec::with_capacity(p.packed.len());
    let mut buf = Vec::new();
    for w in 0..p.packed.len() {
        let packed = std::mem::take(&mut p.packed[w]);
        let mut gmem = std::mem::take(&mut p.gmem[w]);
        let mut lanes = std::mem::take(&mut p.lane_addrs[w]);
        let (mut gmem_in, mut lanes_in) = (AccessReader::default(), AccessReader::default());
        let mut parts = VecDeque::new();
        let mut cur = packed.start();
        let mut part = Builder::default();
        while let Some(e) = packed.get(&p.protos, cur) {
            if let EventKind::Mem { space, .. } = e.kind {
                if e.executed != 0 && matches!(space, MemSpace::Global | MemSpace::Local) {
                    gmem_in.next(&mut gmem, Some(e.pc), true, &mut buf);
                    part.gmem.push(e.pc, &buf);
                }
                if e.executed != 0 && crate::record::addresses_needed(e.form) {
                    lanes_in.next(&mut lanes, Some(e.pc), false, &mut buf);
                    part.lanes.push(e.pc, &buf);
                }
            }
            part.events.push(e, &mut p.protos);
            part.len += 1;
            if part.len == n {
                parts.push_back(std::mem::take(&mut part).finish()?);
            }
            packed.step(&mut cur);
        }
        if part.len > 0 {
            parts.push_back(part.finish()?);
        }
        debug_assert!(gmem.is_empty() && lanes.is_empty(), "every access belongs to an event");
        out.push(parts);
    }
    Ok(out)
}

/// A part being cut.
struct Builder {
    events: PackedBuilder,
    gmem: AccessEncoder,
    lanes: AccessEncoder,
    len: usize,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            events: PackedBuilder::default(),
            gmem: AccessEncoder::new(false, true),
            lanes: AccessEncoder::new(false, false),
            len: 0,
        }
    }
}

impl Builder {
    fn finish(self) -> Result<WarpPart, StreamOutOfMemory> {
        Ok(WarpPart { packed: self.events.finish()?, gmem: self.gmem.finish()?, lane_addrs: self.lanes.finish()? })
    }
}
