//! Compact storage of a pushed warp trace while its CTA waits or is resident (issue 8, memory).
//!
//! A resident CTA's trace is held until the CTA completes, and a GEMM CTA issues tens of
//! thousands of warp-instructions per warp, 48 bytes each as [`Event`]s. Almost all of them are
//! the static event of their instruction (the [`EventTemplate`](crate::EventTemplate)) with only
//! `pc`, `active` and `executed` filled in, and they come in straight-line stretches with the
//! same masks. [`Packed`] keeps such a stretch as one [`Run`] (first instruction, length, the two
//! masks: 16 bytes) and looks the rest up in [`Protos`], the first event seen at each `pc` of the
//! launch. Any event that is not exactly its `pc`'s proto with other masks (sparse OHMMA landing
//! masks, `BAR` operands read at run time, memory events whose addresses are kept, a `pc` that is
//! not a multiple of 16 or beyond [`MAX_PCS`] instructions) is kept whole, out of line. Decoding
//! gives back the very [`Event`] that was pushed: the packing checks equality when it packs.

use std::sync::Arc;

use crate::trace::{Event, WarpTrace, INSTRUCTION_BYTES};

/// Instructions (pc / 16) the proto table covers; events beyond are stored whole.
const MAX_PCS: usize = 1 << 20;
/// Flag in [`Run::len`]: the run is one event stored whole at index `first` of
/// [`Packed::whole`].
const WHOLE: u32 = 1 << 31;

/// The static event of every instruction seen so far in a launch (index = pc / 16; `active`
/// and `executed` zero). Shared by the packed CTAs; only grows (copy on write while shared).
pub(crate) type Protos = Arc<Vec<Option<Event>>>;

/// A stretch of consecutive instructions issued with the same masks, or one whole event.
#[derive(Clone, Copy, Debug)]
struct Run {
    first: u32,
    len: u32,
    active: u32,
    executed: u32,
}

/// One warp's events, packed.
#[derive(Debug, Default)]
pub(crate) struct Packed {
    runs: Vec<Run>,
    whole: Vec<Event>,
    len: usize,
}

/// Where a warp stands in its [`Packed`] trace: the run and the offset in it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cursor {
    run: usize,
    off: u32,
}

impl Packed {
    /// Pack `wt.events` (and empty it); `protos` gains the instructions seen for the first time.
    pub fn pack(wt: &mut WarpTrace, protos: &mut Protos) -> Packed {
        let events = std::mem::take(&mut wt.events);
        let mut p = Packed { runs: Vec::new(), whole: Vec::new(), len: events.len() };
        for e in &events {
            let key = Event { active: 0, executed: 0, ..*e };
            let idx = (e.pc / INSTRUCTION_BYTES) as usize;
            let fits = e.pc % INSTRUCTION_BYTES == 0 && idx < MAX_PCS && {
                match protos.get(idx) {
                    Some(Some(proto)) => *proto == key,
                    _ => {
                        let table = Arc::make_mut(protos);
                        if table.len() <= idx {
                            table.resize(idx + 1, None);
                        }
                        table[idx] = Some(key);
                        true
                    }
                }
            };
            if fits {
                let idx = idx as u32;
                if let Some(last) = p.runs.last_mut() {
                    if last.len & WHOLE == 0
                        && last.first + last.len == idx
                        && last.active == e.active
                        && last.executed == e.executed
                        && last.len < WHOLE - 1
                    {
                        last.len += 1;
                        continue;
                    }
                }
                p.runs.push(Run { first: idx, len: 1, active: e.active, executed: e.executed });
            } else {
                p.runs.push(Run { first: p.whole.len() as u32, len: WHOLE | 1, active: 0, executed: 0 });
                p.whole.push(*e);
            }
        }
        p.runs.shrink_to_fit();
        p.whole.shrink_to_fit();
        p
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The event at `c` (None past the end).
    #[inline]
    pub fn get(&self, protos: &[Option<Event>], c: Cursor) -> Option<Event> {
        let r = self.runs.get(c.run)?;
        if r.len & WHOLE != 0 {
            return self.whole.get(r.first as usize).copied();
        }
        let idx = (r.first + c.off) as usize;
        let proto = protos[idx].as_ref().expect("packed event has a proto");
        Some(Event { active: r.active, executed: r.executed, ..*proto })
    }

    /// The cursor of the next event.
    #[inline]
    pub fn step(&self, c: Cursor) -> Cursor {
        match self.runs.get(c.run) {
            Some(r) if c.off + 1 < r.len & !WHOLE => Cursor { run: c.run, off: c.off + 1 },
            _ => Cursor { run: c.run + 1, off: 0 },
        }
    }

    /// Heap bytes held.
    #[allow(dead_code)]
    pub fn heap_bytes(&self) -> usize {
        self.runs.capacity() * std::mem::size_of::<Run>() + self.whole.capacity() * std::mem::size_of::<Event>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{EventKind, TensorOp};

    #[test]
    fn packing_gives_back_every_event() {
        let base = Event {
            pc: 0,
            active: 0,
            executed: 0,
            form: 0,
            srcs: Default::default(),
            dsts: Default::default(),
            pred_reads: 0,
            pred_writes: 0,
            reuse: 0,
            control: None,
            kind: EventKind::Plain,
        };
        let ev = |pc: u32, active: u32, executed: u32| Event { pc, active, executed, ..base };
        let mut events = vec![ev(0, !0, !0), ev(16, !0, !0), ev(32, !0, 3), ev(48, !0, 3), ev(16, !0, !0)];
        // Same pc, other payload: kept whole; a pc off the 16-byte grid: kept whole.
        events.push(Event { kind: EventKind::Tensor(TensorOp::OhmmaSparse { rows: 5, cols: 9 }), ..ev(16, 1, 1) });
        events.push(ev(8, 1, 0));
        events.push(ev(32, 0, 0));
        let mut wt = WarpTrace { warp_in_cta: 0, events: events.clone(), addrs: Vec::new() };
        let mut protos = Protos::default();
        let p = Packed::pack(&mut wt, &mut protos);
        assert!(wt.events.is_empty());
        assert_eq!(p.len(), events.len());
        let mut c = Cursor::default();
        let mut back = Vec::new();
        while let Some(e) = p.get(&protos, c) {
            back.push(e);
            c = p.step(c);
        }
        assert_eq!(back, events);
        assert_eq!(p.runs.len(), 6);
    }
}
