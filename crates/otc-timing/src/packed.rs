//! Compact storage of a pushed warp trace while its CTA waits or is resident (issue 8, memory).
//!
//! A resident CTA's trace is held until the CTA completes, and a GEMM CTA issues tens of
//! thousands of warp-instructions per warp, 48 bytes each as [`Event`]s. Almost all of them are
//! the static event of their instruction (the [`EventTemplate`](crate::EventTemplate)) with only
//! `pc`, `active` and `executed` filled in, and they come in straight-line stretches with the
//! same masks. [`Packed`] keeps such a stretch as one run in a byte stream (length, first
//! instruction, masks when they changed: 2-3 bytes, [`Packed::pack`]) and looks the rest up in
//! [`Protos`], the static event of each `pc` of the
//! launch. Any event that is not exactly its `pc`'s proto with other masks (sparse OHMMA landing
//! masks, `BAR` operands read at run time, a `pc` that is not a multiple of 16 or beyond
//! [`MAX_PCS`] instructions) is kept whole, out of line (memory addresses are in the warp's
//! access streams, `crate::access_stream`). A loop iteration whose bytes equal the previous
//! iteration's is written as a repeat count ([`PackedBuilder`]). Decoding gives back the very
//! [`Event`] that was pushed: the packing checks equality when it packs.

use std::sync::Arc;

use crate::access_stream::{get, put};
#[cfg(test)]
use crate::trace::WarpTrace;
use crate::trace::{Event, INSTRUCTION_BYTES};

/// Instructions (pc / 16) the proto table covers; events beyond are stored whole.
pub(crate) const MAX_PCS: usize = 1 << 20;

/// The static event of every instruction seen so far in a launch (index = pc / 16; `active`
/// and `executed` zero). Shared by the packed CTAs; only grows (copy on write while shared).
pub(crate) type Protos = Arc<Vec<Option<Event>>>;

/// One warp's events, packed: a byte stream of runs (see [`Packed::pack`]) and the events kept
/// whole.
#[derive(Debug, Default)]
pub(crate) struct Packed {
    runs: Vec<u8>,
    whole: Vec<Event>,
    len: usize,
}

/// Where a warp stands in its [`Packed`] trace: the run being read (decoded) and the offset in
/// it. Made by [`Packed::start`], moved by [`Packed::step`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cursor {
    /// Byte offset of the next run in the stream.
    at: usize,
    /// 0: past the end, 1: in a run, 2: at a whole event (`whole`).
    state: u8,
    first: u32,
    len: u32,
    off: u32,
    active: u32,
    executed: u32,
    /// End (first + len) of the last run, the base of the next run's `first`.
    prev_end: u32,
    /// The whole event at the cursor, and the next one.
    whole: u32,
    next_whole: u32,
    /// While a block is being repeated ([`TAG_REPEAT`]): the byte offset of the repeat tag
    /// (where each copy ends; 0: no repeat, a tag never starts a stream), of the block, after the
    /// tag, and the copies still to read after this one.
    rep_tag: u32,
    rep_start: u32,
    rep_after: u32,
    rep_left: u32,
}

/// Run tag bits: the event is kept whole / the run has the previous run's masks; the length is
/// the tag shifted right by 2. A tag of 0 (no run has length 0) repeats the block before it: the
/// bytes since the previous loop iteration (see [`PackedBuilder`]).
const TAG_WHOLE: u64 = 1;
const TAG_SAME_MASKS: u64 = 2;
const TAG_REPEAT: u64 = 0;

impl Packed {
    /// Pack `wt.events` (and empty it); `protos` gains the instructions seen for the first time.
    ///
    /// Consecutive events at consecutive instructions with the same masks, each equal to its
    /// instruction's proto apart from `active` / `executed`, are one run, written as a tag
    /// (length, whether the masks are the previous run's), the zigzag varint of its first
    /// instruction minus the previous run's end, and, when they changed, the two masks as
    /// varints. Any other event is a tag alone and goes whole into `whole`.
    #[cfg(test)]
    pub fn pack(wt: &mut WarpTrace, protos: &mut Protos) -> Packed {
        let mut b = PackedBuilder::default();
        for e in std::mem::take(&mut wt.events) {
            b.push(e, protos);
        }
        b.finish().unwrap()
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The cursor of the first event.
    pub fn start(&self) -> Cursor {
        let mut c = Cursor::default();
        self.load(&mut c);
        c
    }

    /// Decode the run at `c.at` into `c` (or mark the end).
    fn load(&self, c: &mut Cursor) {
        loop {
            if c.at == c.rep_tag as usize {
                // the end of a copy of a repeated block
                if c.rep_left > 0 {
                    c.rep_left -= 1;
                    c.at = c.rep_start as usize;
                } else {
                    c.at = c.rep_after as usize;
                    c.rep_tag = 0;
                }
            }
            if c.at >= self.runs.len() {
                c.state = 0;
                return;
            }
            let tag_at = c.at;
            let tag = get(&self.runs, &mut c.at);
            if tag == TAG_REPEAT {
                let back = get(&self.runs, &mut c.at) as usize;
                let times = get(&self.runs, &mut c.at) as u32;
                c.rep_tag = tag_at as u32;
                c.rep_start = (tag_at - back) as u32;
                c.rep_after = c.at as u32;
                c.rep_left = times - 1;
                c.at = c.rep_start as usize;
                continue;
            }
            if tag & TAG_WHOLE != 0 {
                c.state = 2;
                c.whole = c.next_whole;
                c.next_whole += 1;
                return;
            }
            let z = get(&self.runs, &mut c.at);
            let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
            c.state = 1;
            c.len = (tag >> 2) as u32;
            c.first = c.prev_end.wrapping_add(d as i32 as u32);
            c.off = 0;
            if tag & TAG_SAME_MASKS == 0 {
                c.active = get(&self.runs, &mut c.at) as u32;
                c.executed = get(&self.runs, &mut c.at) as u32;
            }
            c.prev_end = c.first + c.len;
            return;
        }
    }

    /// The event at `c` (None past the end).
    #[inline]
    pub fn get(&self, protos: &[Option<Event>], c: Cursor) -> Option<Event> {
        match c.state {
            1 => {
                let proto = protos[(c.first + c.off) as usize].as_ref().expect("packed event has a proto");
                Some(Event { active: c.active, executed: c.executed, ..*proto })
            }
            2 => self.whole.get(c.whole as usize).copied(),
            _ => None,
        }
    }

    /// Write the event at `c` into `out`; false (and `out` untouched) past the end.
    #[inline]
    pub fn get_into(&self, protos: &[Option<Event>], c: &Cursor, out: &mut Event) -> bool {
        match c.state {
            1 => {
                let proto = protos[(c.first + c.off) as usize].as_ref().expect("packed event has a proto");
                *out = *proto;
                out.active = c.active;
                out.executed = c.executed;
                true
            }
            2 => match self.whole.get(c.whole as usize) {
                Some(e) => {
                    *out = *e;
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// Move `c` to the next event (in place: a cursor is 64 bytes, and copying it in and out
    /// of every step was a tenth of the SM loop).
    #[inline]
    pub fn step(&self, c: &mut Cursor) {
        if c.state == 1 && c.off + 1 < c.len {
            c.off += 1;
        } else if c.state != 0 {
            self.load(c);
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.runs.capacity() + self.whole.capacity() * std::mem::size_of::<Event>()
    }
}

/// Builds a [`Packed`] event by event (see [`Packed::pack`] for the format).
///
/// Loops: the bytes between two backward jumps (a run starting before the previous run's end),
/// one loop iteration, form a block. A block equal to the one before it, decoded from the same
/// state (previous run's end and masks), is not written again but counted, and the count is
/// written after the block as a repeat (tag 0, the block's length in bytes, the number of
/// copies): a loop of any trip count with the same masks each time costs its body once (events
/// kept whole are still stored one by one).
#[derive(Debug, Default)]
pub(crate) struct PackedBuilder {
    out: Vec<u8>,
    whole: Vec<Event>,
    len: usize,
    /// The run being extended: (first instruction, length, active, executed).
    run: Option<(u32, u32, u32, u32)>,
    prev_end: u32,
    masks: (u32, u32),
    /// The block being written (not yet in `out`) and the state it starts from.
    block: Vec<u8>,
    block_state: (u32, (u32, u32)),
    /// The last block written to `out` (at its end), its start state, and how many copies of it
    /// followed (not yet written).
    last: Vec<u8>,
    last_state: (u32, (u32, u32)),
    copies: u64,
    /// A reservation failed: [`PackedBuilder::finish`] reports it.
    failed: bool,
}

impl PackedBuilder {
    /// Append `e`: as part of a run when it is its instruction's proto with other masks (an
    /// instruction seen for the first time makes `e` its proto), else whole.
    pub fn push(&mut self, e: Event, protos: &mut Protos) {
        let idx = (e.pc / INSTRUCTION_BYTES) as usize;
        let fits = e.pc.is_multiple_of(INSTRUCTION_BYTES) && idx < MAX_PCS && {
            let key = Event { active: 0, executed: 0, ..e };
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
            self.push_proto(idx as u32, e.active, e.executed);
        } else {
            self.push_whole(e);
        }
    }

    /// Append the proto of instruction `idx` (which must be in the proto table) with the masks.
    #[inline]
    pub fn push_proto(&mut self, idx: u32, active: u32, executed: u32) {
        self.len += 1;
        if let Some(last) = &mut self.run {
            if last.0 + last.1 == idx && last.2 == active && last.3 == executed && last.1 < u32::MAX >> 4 {
                last.1 += 1;
                return;
            }
            self.flush();
        }
        self.run = Some((idx, 1, active, executed));
    }

    /// Append an event kept whole.
    pub fn push_whole(&mut self, e: Event) {
        self.len += 1;
        self.flush();
        put(&mut self.block, TAG_WHOLE);
        if self.whole.len() == self.whole.capacity() && self.whole.try_reserve(self.whole.len().max(4)).is_err() {
            self.failed = true;
            return;
        }
        self.whole.push(e);
    }

    fn flush(&mut self) {
        if let Some((first, len, active, executed)) = self.run.take() {
            if first < self.prev_end {
                self.end_block();
            }
            let same = (active, executed) == self.masks;
            let out = &mut self.block;
            put(out, (len as u64) << 2 | if same { TAG_SAME_MASKS } else { 0 });
            let d = first.wrapping_sub(self.prev_end) as i32 as i64;
            put(out, ((d << 1) ^ (d >> 63)) as u64);
            if !same {
                put(out, active as u64);
                put(out, executed as u64);
                self.masks = (active, executed);
            }
            self.prev_end = first + len;
        }
    }

    /// The block since the last backward jump is complete: count it as a copy of the last block
    /// or write it.
    fn end_block(&mut self) {
        let state = (self.prev_end, self.masks);
        if self.block.is_empty() {
            self.block_state = state;
            return;
        }
        // Offsets of repeats are u32 in the cursor: past that, blocks are written out.
        if self.block == self.last && self.block_state == self.last_state && self.out.len() < (u32::MAX >> 1) as usize {
            self.copies += 1;
        } else {
            self.write_copies();
            if self.out.try_reserve(self.block.len()).is_err() {
                self.failed = true;
            } else {
                self.out.extend_from_slice(&self.block);
            }
            std::mem::swap(&mut self.last, &mut self.block);
            self.last_state = self.block_state;
        }
        self.block.clear();
        self.block_state = state;
    }

    fn write_copies(&mut self) {
        if self.copies > 0 {
            put(&mut self.out, TAG_REPEAT);
            put(&mut self.out, self.last.len() as u64);
            put(&mut self.out, self.copies);
            self.copies = 0;
        }
    }

    /// Bytes packed so far (the events kept whole included).
    pub fn bytes(&self) -> usize {
        self.out.len() + self.block.len() + self.last.len() + self.whole.len() * std::mem::size_of::<Event>()
    }

    /// The packed events, or `Err` when memory for them could not be reserved.
    pub fn finish(mut self) -> Result<Packed, crate::access_stream::StreamOutOfMemory> {
        self.flush();
        self.end_block();
        self.write_copies();
        if self.failed {
            return Err(crate::access_stream::StreamOutOfMemory);
        }
        self.out.shrink_to_fit();
        self.whole.shrink_to_fit();
        Ok(Packed { runs: self.out, whole: self.whole, len: self.len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{EventKind, TensorOp};
    use otc_isa::TensorClass;

    fn unpack(p: &Packed, protos: &Protos) -> Vec<Event> {
        let mut c = p.start();
        let mut back = Vec::new();
        while let Some(e) = p.get(protos, c) {
            back.push(e);
            p.step(&mut c);
        }
        back
    }

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
        events.push(Event {
            kind: EventKind::Tensor(TensorOp { class: TensorClass::OhmmaSparse, rows: 5, cols: 9, buf: 0 }),
            ..ev(16, 1, 1)
        });
        events.push(ev(8, 1, 0));
        events.push(ev(32, 0, 0));
        let mut wt = WarpTrace { warp_in_cta: 0, events: events.clone(), addrs: Vec::new() };
        let mut protos = Protos::default();
        let p = Packed::pack(&mut wt, &mut protos);
        assert!(wt.events.is_empty());
        assert_eq!(p.len(), events.len());
        let back = unpack(&p, &protos);
        assert_eq!(back, events);
        assert_eq!(p.whole.len(), 2);
        assert_eq!(Packed::default().get(&protos, Packed::default().start()), None);

        // Loops: a body of three runs (one with other masks) and a whole event, 1000 times, then
        // a last iteration with other masks, a second loop whose body changes every 100
        // iterations, a nested loop and a tail: all given back, each loop's body stored once.
        let mut events = vec![ev(0, !0, !0)];
        let sparse = |i: u32| Event {
            kind: EventKind::Tensor(TensorOp { class: TensorClass::OhmmaSparse, rows: i, cols: 1, buf: 0 }),
            ..ev(64, !0, !0)
        };
        for i in 0..1000 {
            events.extend([ev(16, !0, !0), ev(32, !0, !0), ev(48, !0, 7), sparse(i), ev(80, !0, !0)]);
        }
        events.extend([ev(16, 1, 1), ev(32, 1, 1), ev(96, !0, !0)]);
        for i in 0..1000u32 {
            events.extend([ev(112, !0, !0), ev(128, !0, i / 100)]);
        }
        for _ in 0..50 {
            events.push(ev(144, !0, !0));
            for _ in 0..20 {
                events.extend([ev(160, !0, !0), ev(176, !0, !0)]);
            }
            events.push(ev(192, !0, !0));
        }
        events.extend([ev(208, !0, !0), ev(8, 1, 1)]);
        let mut wt = WarpTrace { warp_in_cta: 0, events: events.clone(), addrs: Vec::new() };
        let p = Packed::pack(&mut wt, &mut protos);
        assert_eq!(p.len(), events.len());
        let back = unpack(&p, &protos);
        assert_eq!(back, events);
        assert_eq!(p.whole.len(), 1000); // the first sparse OHMMA is pc 64's proto; and pc 8
                                         // the first loop's body once, 10 bodies of the second loop, and per outer iteration of
                                         // the nested loop its three blocks and a repeat (about 12 bytes): 974 bytes, where each
                                         // iteration written out would take over 10 KB
        assert!(p.runs.len() < 1100, "{} bytes", p.runs.len());
    }
}
