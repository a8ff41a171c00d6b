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

/// The sectors of a warp's global/local accesses after the L2 lookup (`sector << 1 | l2_hit`,
/// delimited by `starts`), as a byte stream: per access its sector count, then each value as
/// the zigzag varint of its difference to the previous value of the warp (consecutive sectors
/// take one byte). Read back in order with [`next_access`].
pub(crate) fn encode_sectors(sectors: &[u64], starts: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sectors.len() + starts.len());
    let mut prev = 0u64;
    for k in 0..starts.len().saturating_sub(1) {
        let s = &sectors[starts[k] as usize..starts[k + 1] as usize];
        put(&mut out, s.len() as u64);
        for &v in s {
            let d = v.wrapping_sub(prev) as i64;
            put(&mut out, ((d << 1) ^ (d >> 63)) as u64);
            prev = v;
        }
    }
    out.shrink_to_fit();
    out
}

/// Decode the access at byte `*pos` of a stream from [`encode_sectors`] into `out` (cleared);
/// `*prev` is the warp's last value (0 at the start) and `*pos` moves past the access.
#[inline]
pub(crate) fn next_access(buf: &[u8], pos: &mut usize, prev: &mut u64, out: &mut Vec<u64>) {
    out.clear();
    let n = get(buf, pos);
    for _ in 0..n {
        let z = get(buf, pos);
        let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
        *prev = prev.wrapping_add(d as u64);
        out.push(*prev);
    }
}

#[inline]
fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn get(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
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

    #[test]
    fn sector_streams_give_back_every_access() {
        let sectors = vec![7u64, 8, 10, u64::MAX, 0, 1 << 40, (1 << 40) + 3, 5];
        let starts = vec![0u32, 3, 3, 5, 8];
        let buf = encode_sectors(&sectors, &starts);
        let (mut pos, mut prev, mut out) = (0usize, 0u64, Vec::new());
        for k in 0..starts.len() - 1 {
            next_access(&buf, &mut pos, &mut prev, &mut out);
            assert_eq!(out, &sectors[starts[k] as usize..starts[k + 1] as usize]);
        }
        assert_eq!(pos, buf.len());
    }
}
