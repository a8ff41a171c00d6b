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
//! masks, `BAR` operands read at run time, memory events whose addresses are kept, a `pc` that is
//! not a multiple of 16 or beyond [`MAX_PCS`] instructions) is kept whole, out of line. Decoding
//! gives back the very [`Event`] that was pushed: the packing checks equality when it packs.

use std::collections::VecDeque;
use std::sync::Arc;

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
}

/// Run tag bits: the event is kept whole / the run has the previous run's masks; the length is
/// the tag shifted right by 2.
const TAG_WHOLE: u64 = 1;
const TAG_SAME_MASKS: u64 = 2;

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
        b.finish()
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
        if c.at >= self.runs.len() {
            c.state = 0;
            return;
        }
        let tag = get(&self.runs, &mut c.at);
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
    pub fn get_into(&self, protos: &[Option<Event>], c: Cursor, out: &mut Event) -> bool {
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

    /// The cursor of the next event.
    #[inline]
    pub fn step(&self, mut c: Cursor) -> Cursor {
        if c.state == 1 && c.off + 1 < c.len {
            c.off += 1;
        } else if c.state != 0 {
            self.load(&mut c);
        }
        c
    }

    /// Heap bytes held.
    #[allow(dead_code)]
    pub fn heap_bytes(&self) -> usize {
        self.runs.capacity() + self.whole.capacity() * std::mem::size_of::<Event>()
    }
}

/// Builds a [`Packed`] event by event (see [`Packed::pack`] for the format).
#[derive(Debug, Default)]
pub(crate) struct PackedBuilder {
    out: Vec<u8>,
    whole: Vec<Event>,
    len: usize,
    /// The run being extended: (first instruction, length, active, executed).
    run: Option<(u32, u32, u32, u32)>,
    prev_end: u32,
    masks: (u32, u32),
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
        put(&mut self.out, TAG_WHOLE);
        self.whole.push(e);
    }

    fn flush(&mut self) {
        if let Some((first, len, active, executed)) = self.run.take() {
            let same = (active, executed) == self.masks;
            put(&mut self.out, (len as u64) << 2 | if same { TAG_SAME_MASKS } else { 0 });
            let d = first.wrapping_sub(self.prev_end) as i32 as i64;
            put(&mut self.out, ((d << 1) ^ (d >> 63)) as u64);
            if !same {
                put(&mut self.out, active as u64);
                put(&mut self.out, executed as u64);
                self.masks = (active, executed);
            }
            self.prev_end = first + len;
        }
    }

    /// The packed events.
    pub fn finish(mut self) -> Packed {
        self.flush();
        self.out.shrink_to_fit();
        self.whole.shrink_to_fit();
        Packed { runs: self.out, whole: self.whole, len: self.len }
    }
}

/// The sectors of a warp's global/local accesses after the L2 lookup (`sector << 1 | l2_hit`,
/// delimited by `starts`), as byte streams: per access its sector count, then each value as
/// the zigzag varint of its difference to the previous value of the warp (consecutive sectors
/// take one byte). A new chunk starts at the first access boundary after [`SECTOR_CHUNK`] bytes,
/// so that a reader can free each chunk it has read. Read back in order with [`next_access`]
/// (the difference chain runs across chunks).
#[cfg(test)]
pub(crate) fn encode_sectors(sectors: &[u64], starts: &[u32]) -> VecDeque<Vec<u8>> {
    let mut enc = SectorEncoder::default();
    for k in 0..starts.len().saturating_sub(1) {
        enc.push(&sectors[starts[k] as usize..starts[k + 1] as usize]);
    }
    enc.finish()
}

/// Writes a stream of [`encode_sectors`] access by access.
#[derive(Default)]
pub(crate) struct SectorEncoder {
    chunks: VecDeque<Vec<u8>>,
    out: Vec<u8>,
    prev: u64,
}

impl SectorEncoder {
    /// Append one access.
    pub fn push(&mut self, s: &[u64]) {
        if self.out.len() >= SECTOR_CHUNK {
            self.out.shrink_to_fit();
            self.chunks.push_back(std::mem::take(&mut self.out));
        }
        put(&mut self.out, s.len() as u64);
        for &v in s {
            let d = v.wrapping_sub(self.prev) as i64;
            put(&mut self.out, ((d << 1) ^ (d >> 63)) as u64);
            self.prev = v;
        }
    }

    /// The chunks.
    pub fn finish(mut self) -> VecDeque<Vec<u8>> {
        if !self.out.is_empty() {
            self.out.shrink_to_fit();
            self.chunks.push_back(self.out);
        }
        self.chunks
    }
}

/// Reads a stream of [`encode_sectors`] access by access, freeing each chunk once read.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SectorReader {
    pub pos: usize,
    pub prev: u64,
}

impl SectorReader {
    /// The next access of `chunks` into `out` (empty past the end).
    #[inline]
    pub fn next(&mut self, chunks: &mut VecDeque<Vec<u8>>, out: &mut Vec<u64>) {
        match chunks.front() {
            Some(front) => {
                next_access(front, &mut self.pos, &mut self.prev, out);
                if self.pos >= front.len() {
                    chunks.pop_front();
                    self.pos = 0;
                }
            }
            None => out.clear(),
        }
    }
}

/// Bytes of a sector chunk (at least; it ends at an access boundary).
pub(crate) const SECTOR_CHUNK: usize = 4096;

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
    use otc_isa::TensorClass;

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
            kind: EventKind::Tensor(TensorOp { class: TensorClass::OhmmaSparse, rows: 5, cols: 9 }),
            ..ev(16, 1, 1)
        });
        events.push(ev(8, 1, 0));
        events.push(ev(32, 0, 0));
        let mut wt = WarpTrace { warp_in_cta: 0, events: events.clone(), addrs: Vec::new() };
        let mut protos = Protos::default();
        let p = Packed::pack(&mut wt, &mut protos);
        assert!(wt.events.is_empty());
        assert_eq!(p.len(), events.len());
        let mut c = p.start();
        let mut back = Vec::new();
        while let Some(e) = p.get(&protos, c) {
            back.push(e);
            c = p.step(c);
        }
        assert_eq!(back, events);
        assert_eq!(p.whole.len(), 2);
        assert_eq!(Packed::default().get(&protos, Packed::default().start()), None);
    }

    #[test]
    fn sector_streams_give_back_every_access() {
        let sectors = vec![7u64, 8, 10, u64::MAX, 0, 1 << 40, (1 << 40) + 3, 5];
        let starts = vec![0u32, 3, 3, 5, 8];
        let chunks = encode_sectors(&sectors, &starts);
        assert_eq!(chunks.len(), 1);
        let buf = &chunks[0];
        let (mut pos, mut prev, mut out) = (0usize, 0u64, Vec::new());
        for k in 0..starts.len() - 1 {
            next_access(buf, &mut pos, &mut prev, &mut out);
            assert_eq!(out, &sectors[starts[k] as usize..starts[k + 1] as usize]);
        }
        assert_eq!(pos, buf.len());
        // Many accesses: several chunks, each ending at an access boundary.
        let sectors: Vec<u64> = (0..20_000u64).map(|i| i * 7919 % 100_003).collect();
        let starts: Vec<u32> = (0..=10_000u32).map(|k| 2 * k).collect();
        let mut chunks = encode_sectors(&sectors, &starts);
        assert!(chunks.len() > 2);
        let (mut pos, mut prev) = (0usize, 0u64);
        for k in 0..10_000 {
            next_access(&chunks[0], &mut pos, &mut prev, &mut out);
            assert_eq!(out, &sectors[2 * k..2 * k + 2]);
            if pos >= chunks[0].len() {
                chunks.pop_front();
                pos = 0;
            }
        }
        assert!(chunks.is_empty());
    }
}
