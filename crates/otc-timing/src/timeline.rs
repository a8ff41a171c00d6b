//! The optional timeline of a simulation: what each sub-core, tensor core and warp slot of a
//! sample of SMs did in a window of cycles (issues, stalls by reason, tensor-core busy spans,
//! memory requests in flight, CTA residency). Recorded only when asked for
//! ([`crate::Simulator::record_timeline`]); `otc_emu.timeline` writes it as a Chrome trace.

use crate::stats::Reason;
use crate::trace::MemSpace;

/// What to record: cycles `from..to` of the SMs `sms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineSpec {
    pub from: u64,
    pub to: u64,
    pub sms: Vec<u32>,
}

/// What a [`TimelineEvent`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimelineKind {
    /// One warp-instruction issued (one cycle) on sub-core `unit` by warp slot `slot`;
    /// `result` is the cycle from which its results can be used.
    Issue { result: u64 },
    /// The sub-core `unit` issued nothing during the span; `pc` and `slot` are those of the warp
    /// that could issue soonest (`Idle`: no warp, or every warp waits at a barrier).
    Stall(Reason),
    /// The tensor core of sub-core `unit` busy with the instruction at `pc` of warp slot `slot`.
    Tensor,
    /// A memory instruction of warp slot `slot` in flight, from the start of its execution to its
    /// result (loads, shared memory) or until the warp's stores were done (stores, atomics).
    Memory(MemSpace),
    /// A CTA resident on the SM (`unit`: its CTA slot; `slot`: its first warp slot).
    Cta { cta: [u32; 3], warps: u32 },
}

/// One slice of the timeline: `start..end` in cycles on SM `sm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimelineEvent {
    pub kind: TimelineKind,
    pub sm: u32,
    /// Sub-core (issues, stalls, tensor), CTA slot (CTAs), or the warp's sub-core (memory).
    pub unit: u32,
    /// Hardware warp slot.
    pub slot: u32,
    /// The warp's index in its CTA (0 for CTA and idle slices).
    pub warp: u32,
    pub pc: u32,
    pub start: u64,
    pub end: u64,
}

/// The recorded timeline of a kernel: the spec it was recorded with and the events, SM by SM,
/// each SM's events ordered by the cycle at which the model recorded them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Timeline {
    pub from: u64,
    pub to: u64,
    pub sms: Vec<u32>,
    pub events: Vec<TimelineEvent>,
}

/// The recorder of one sampled SM.
pub(crate) struct Recorder {
    sm: u32,
    from: u64,
    to: u64,
    pub events: Vec<TimelineEvent>,
    /// Per sub-core: the stall span still growing (merged while reason, warp and pc stay).
    open: Vec<Option<TimelineEvent>>,
}

impl Recorder {
    pub fn new(sm: u32, spec: &TimelineSpec, sub_cores: usize) -> Recorder {
        Recorder { sm, from: spec.from, to: spec.to, events: Vec::new(), open: vec![None; sub_cores] }
    }

    #[inline]
    fn overlaps(&self, start: u64, end: u64) -> bool {
        end > self.from && start < self.to
    }

    /// Add an event, clipped to the window (nothing when outside it).
    #[allow(clippy::too_many_arguments)]
    pub fn add(&mut self, kind: TimelineKind, unit: u32, slot: u32, warp: u32, pc: u32, start: u64, end: u64) {
        if self.overlaps(start, end.max(start + 1)) {
            let (start, end) = (start.max(self.from), end.min(self.to));
            self.events.push(TimelineEvent { kind, sm: self.sm, unit, slot, warp, pc, start, end });
        }
    }

    /// Sub-core `sub` issued nothing in `start..end`.
    #[allow(clippy::too_many_arguments)]
    pub fn stall(&mut self, sub: usize, reason: Reason, slot: u32, warp: u32, pc: u32, start: u64, end: u64) {
        if let Some(o) = self.open[sub].as_mut() {
            if o.end == start && o.kind == TimelineKind::Stall(reason) && o.slot == slot && o.pc == pc {
                o.end = end;
                return;
            }
        }
        self.flush(sub);
        let e = TimelineEvent {
            kind: TimelineKind::Stall(reason),
            sm: self.sm,
            unit: sub as u32,
            slot,
            warp,
            pc,
            start,
            end,
        };
        self.open[sub] = Some(e);
    }

    fn flush(&mut self, sub: usize) {
        if let Some(e) = self.open[sub].take() {
            self.add(e.kind, e.unit, e.slot, e.warp, e.pc, e.start, e.end);
        }
    }

    /// The events, the open stall spans closed.
    pub fn finish(mut self) -> Vec<TimelineEvent> {
        for s in 0..self.open.len() {
            self.flush(s);
        }
        self.events
    }
}
