//! Access streams: per warp, the values of its memory accesses in issue order, held compactly
//! while its CTA waits or is resident (issue 16, bounded memory): the coalesced sectors of its
//! global/local accesses (from the recorder to the L2 pre-pass, and from there, with their L2
//! outcome, until the warp issues them), and the lane addresses of the accesses whose addresses
//! the model reads (shared, constant, atomic).
//!
//! A kernel's loop issues the same memory instructions again and again, each time at addresses a
//! fixed stride further on, so an access is written relative to the previous access of the same
//! instruction in the same warp: when its values have the same shape (the same offsets from the
//! first value) and the first moved by the same stride as last time, the access is one tag byte
//! (which also carries up to six L2 hit bits). A GEMM's operand loads cost one byte each instead
//! of a count and a varint per sector (and a shared-memory access a few bytes instead of eight
//! per lane), so a resident CTA takes about a byte per access whatever its addresses.
//!
//! Per access: `pc` (only in streams written `with_pc`: the pre-pass has no event to take it
//! from; the SM reader is given it by the event), then a tag byte: bits 0-1 the kind,
//! - [`SAME`]: the same shape, moved by the instruction's last stride;
//! - [`ALTERNATE`]: the same shape, moved by the stride before the last one (the two swap: a
//!   double-buffered access alternates between two strides);
//! - [`STRIDE`]: the same shape, moved by a new stride (zigzag varint follows);
//! - [`NEW`]: count, the first value's zigzag difference to the instruction's last first value,
//!   then each further value's zigzag difference to the one before;
//!
//! and in streams `with_hits`, the sectors' L2 hit bits: in bits 2-7 of the tag for up to six
//! sectors, else in `ceil(n / 8)` bytes after the kind's payload. Values given and returned are
//! `sector << 1 | hit` in streams with hits, the plain values otherwise. A new chunk starts at
//! the first access boundary after [`CHUNK_BYTES`] bytes; a reader frees each chunk it has read.
//! Chunk storage is reserved fallibly: an encoder that could not get memory says so in
//! [`AccessEncoder::finish`] instead of aborting the process.

use std::collections::VecDeque;

const SAME: u8 = 0;
const STRIDE: u8 = 1;
const NEW: u8 = 2;
const ALTERNATE: u8 = 3;

/// Bytes of a chunk (at least; it ends at an access boundary).
pub(crate) const CHUNK_BYTES: usize = 4096;

/// The last access of one instruction in one warp.
#[derive(Clone, Debug, Default)]
struct PcState {
    pc: u32,
    seen: bool,
    first: u64,
    stride: u64,
    /// The stride before `stride`.
    prev_stride: u64,
    /// Offsets of the sectors after the first from the first.
    shape: Vec<u64>,
}

/// The [`PcState`]s of a warp, in the order first seen. Loops meet their instructions in the same
/// order every time, so the entry after the last one used is tried first.
#[derive(Clone, Debug, Default)]
struct PcStates {
    states: Vec<PcState>,
    next: usize,
}

impl PcStates {
    #[inline]
    fn find(&mut self, pc: u32) -> usize {
        let i = match self.states.get(self.next) {
            Some(s) if s.pc == pc => self.next,
            _ => match self.states.iter().position(|s| s.pc == pc) {
                Some(i) => i,
                None => {
                    self.states.push(PcState { pc, ..Default::default() });
                    self.states.len() - 1
                }
            },
        };
        self.next = i + 1;
        i
    }
}

/// Writes one warp's access stream access by access.
#[derive(Default)]
pub(crate) struct AccessEncoder {
    with_pc: bool,
    with_hits: bool,
    chunks: VecDeque<Vec<u8>>,
    out: Vec<u8>,
    pcs: PcStates,
    accesses: usize,
    /// Bytes in `chunks`.
    chunked: usize,
    failed: bool,
}

impl AccessEncoder {
    pub fn new(with_pc: bool, with_hits: bool) -> AccessEncoder {
        AccessEncoder { with_pc, with_hits, ..Default::default() }
    }

    /// Append the access of instruction `pc` with `values` (see the module docs).
    pub fn push(&mut self, pc: u32, values: &[u64]) {
        if self.failed {
            return;
        }
        let n = values.len();
        // The most bytes this access can take: pc, tag, count, n varints, hit bytes.
        let need = 5 + 1 + 10 + 10 * n + n.div_ceil(8);
        if self.out.len() >= CHUNK_BYTES {
            self.out.shrink_to_fit();
            self.chunked += self.out.len();
            self.chunks.push_back(std::mem::take(&mut self.out));
        }
        if self.out.capacity() - self.out.len() < need {
            let more = need.max(if self.out.is_empty() { CHUNK_BYTES } else { 0 });
            if self.out.try_reserve(more).is_err() {
                self.failed = true;
                return;
            }
        }
        self.accesses += 1;
        let out = &mut self.out;
        if self.with_pc {
            put(out, pc as u64);
        }
        let hits = self.with_hits;
        let sector = |k: usize| if hits { values[k] >> 1 } else { values[k] };
        let i = self.pcs.find(pc);
        let st = &mut self.pcs.states[i];
        let first = if n > 0 { sector(0) } else { 0 };
        let same_shape =
            st.seen && n == st.shape.len() + 1 && (1..n).all(|k| sector(k).wrapping_sub(first) == st.shape[k - 1]);
        let stride = first.wrapping_sub(st.first);
        let tag_at = out.len();
        if same_shape && stride == st.stride {
            out.push(SAME);
        } else if same_shape && stride == st.prev_stride {
            out.push(ALTERNATE);
        } else if same_shape {
            out.push(STRIDE);
            put(out, zigzag(stride));
        } else {
            out.push(NEW);
            put(out, n as u64);
            put(out, zigzag(stride));
            st.shape.clear();
            for k in 1..n {
                put(out, zigzag(sector(k).wrapping_sub(sector(k - 1))));
                st.shape.push(sector(k).wrapping_sub(first));
            }
            // an empty access gives no shape (a one-sector access has an empty one)
            st.seen = n > 0;
        }
        st.first = first;
        if stride != st.stride {
            st.prev_stride = st.stride;
            st.stride = stride;
        }
        if hits {
            if n <= 6 {
                let bits = values.iter().enumerate().fold(0u8, |b, (k, v)| b | ((v & 1) as u8) << k);
                out[tag_at] |= bits << 2;
            } else {
                for group in values.chunks(8) {
                    out.push(group.iter().enumerate().fold(0u8, |b, (k, v)| b | ((v & 1) as u8) << k));
                }
            }
        }
    }

    /// Accesses written.
    pub fn accesses(&self) -> usize {
        self.accesses
    }

    /// Bytes of the stream written so far.
    pub fn bytes(&self) -> usize {
        self.chunked + self.out.len()
    }

    /// The chunks, or `Err` when memory for them could not be reserved.
    pub fn finish(mut self) -> Result<VecDeque<Vec<u8>>, StreamOutOfMemory> {
        if self.failed {
            return Err(StreamOutOfMemory);
        }
        if !self.out.is_empty() {
            self.out.shrink_to_fit();
            self.chunks.push_back(self.out);
        }
        Ok(self.chunks)
    }
}

/// An encoder could not reserve memory for its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StreamOutOfMemory;

/// Reads one warp's access stream access by access, freeing each chunk once read.
#[derive(Clone, Debug, Default)]
pub(crate) struct AccessReader {
    pos: usize,
    pcs: PcStates,
}

impl AccessReader {
    /// The next access of `chunks` (written with `with_hits`) into `out` (empty past the end):
    /// its pc (`pc`, or read from a stream written `with_pc` when `pc` is None).
    #[inline]
    pub fn next(
        &mut self,
        chunks: &mut VecDeque<Vec<u8>>,
        pc: Option<u32>,
        with_hits: bool,
        out: &mut Vec<u64>,
    ) -> u32 {
        out.clear();
        let Some(buf) = chunks.front() else { return pc.unwrap_or(0) };
        let pos = &mut self.pos;
        let pc = match pc {
            Some(pc) => pc,
            None => get(buf, pos) as u32,
        };
        let tag = buf[*pos];
        *pos += 1;
        let i = self.pcs.find(pc);
        let st = &mut self.pcs.states[i];
        match tag & 3 {
            SAME => {}
            ALTERNATE => std::mem::swap(&mut st.stride, &mut st.prev_stride),
            STRIDE => {
                st.prev_stride = st.stride;
                st.stride = unzigzag(get(buf, pos));
            }
            _ => {
                let n = get(buf, pos) as usize;
                let stride = unzigzag(get(buf, pos));
                if stride != st.stride {
                    st.prev_stride = st.stride;
                    st.stride = stride;
                }
                st.shape.clear();
                let first = st.first.wrapping_add(st.stride);
                let mut s = first;
                for _ in 1..n {
                    s = s.wrapping_add(unzigzag(get(buf, pos)));
                    st.shape.push(s.wrapping_sub(first));
                }
                if n == 0 {
                    st.first = first;
                    finish_read(chunks, pos);
                    return pc;
                }
            }
        }
        st.first = st.first.wrapping_add(st.stride);
        let n = st.shape.len() + 1;
        let shift = with_hits as u32;
        out.push(st.first << shift);
        out.extend(st.shape.iter().map(|&d| st.first.wrapping_add(d) << shift));
        if with_hits {
            if n <= 6 {
                let bits = tag >> 2;
                for (k, v) in out.iter_mut().enumerate() {
                    *v |= (bits >> k) as u64 & 1;
                }
            } else {
                for group in out.chunks_mut(8) {
                    let bits = buf[*pos];
                    *pos += 1;
                    for (k, v) in group.iter_mut().enumerate() {
                        *v |= (bits >> k) as u64 & 1;
                    }
                }
            }
        }
        finish_read(chunks, pos);
        pc
    }
}

/// Free the front chunk once read to its end.
#[inline]
fn finish_read(chunks: &mut VecDeque<Vec<u8>>, pos: &mut usize) {
    if chunks.front().is_some_and(|f| *pos >= f.len()) {
        chunks.pop_front();
        *pos = 0;
    }
}

#[inline]
fn zigzag(v: u64) -> u64 {
    let d = v as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

#[inline]
fn unzigzag(z: u64) -> u64 {
    ((z >> 1) as i64 ^ -((z & 1) as i64)) as u64
}

/// Append `v` as a LEB128 varint.
#[inline]
pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Read a LEB128 varint at `*pos` and move past it.
#[inline]
pub(crate) fn get(buf: &[u8], pos: &mut usize) -> u64 {
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

    /// Every access comes back, with and without pcs and hits, across chunks; a loop's accesses
    /// take one byte each.
    #[test]
    fn access_streams_give_back_every_access() {
        // (pc, sectors): a strided loop over three instructions, shapes that change, empty
        // accesses, wide accesses (> 6 and > 8 sectors), wrapping differences.
        let mut accesses: Vec<(u32, Vec<u64>)> = Vec::new();
        for it in 0..3000u64 {
            accesses.push((0x100, vec![1000 + 4 * it, 1001 + 4 * it]));
            accesses.push((0x110, vec![90_000 + 64 * it]));
            accesses.push((0x120, vec![7 + it * 3, 9 + it * 3, 40 + it * 3]));
            // double-buffered: alternates between two addresses
            accesses.push((0x128, (0..32).map(|l| 4096 * (it % 2) + 8 * l).collect()));
            if it % 7 == 0 {
                accesses.push((0x130, (0..(it % 20)).map(|k| 5 * k + it).collect()));
            }
            if it % 11 == 0 {
                accesses.push((0x140, vec![u64::MAX >> 2, 0, (1 << 40) + it]));
                accesses.push((0x110, vec![]));
            }
        }
        for (with_pc, with_hits) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut enc = AccessEncoder::new(with_pc, with_hits);
            let mut want = Vec::new();
            for (j, (pc, s)) in accesses.iter().enumerate() {
                let v: Vec<u64> = if with_hits {
                    s.iter().enumerate().map(|(k, &x)| (x & (u64::MAX >> 1)) << 1 | ((j + k) % 3 == 0) as u64).collect()
                } else {
                    s.clone()
                };
                enc.push(*pc, &v);
                want.push((*pc, v));
            }
            assert_eq!(enc.accesses(), accesses.len());
            let mut chunks = enc.finish().unwrap();
            assert!(chunks.len() > 2, "several chunks");
            let mut r = AccessReader::default();
            let mut out = Vec::new();
            for (pc, v) in &want {
                let given = if with_pc { None } else { Some(*pc) };
                assert_eq!(r.next(&mut chunks, given, with_hits, &mut out), *pc);
                assert_eq!(&out, v);
            }
            assert!(chunks.is_empty(), "every chunk freed once read");
            assert_eq!(r.next(&mut chunks, Some(0), with_hits, &mut out), 0);
            assert!(out.is_empty());
        }
        // The strided and the double-buffered loop alone: one byte per access after each
        // instruction's first two or three (hit bits: in the tag up to six values).
        for (with_hits, pcs) in [(true, 0x100..0x128), (false, 0x100..0x130)] {
            let mut enc = AccessEncoder::new(false, with_hits);
            let mut n = 0;
            for (pc, s) in accesses.iter().filter(|(pc, s)| pcs.contains(pc) && !s.is_empty()) {
                enc.push(*pc, &s.iter().map(|&x| if with_hits { x << 1 | 1 } else { x }).collect::<Vec<_>>());
                n += 1;
            }
            let bytes: usize = enc.finish().unwrap().iter().map(|c| c.len()).sum();
            assert!(bytes <= n + 100, "{bytes} bytes for {n} accesses");
        }
    }
}
