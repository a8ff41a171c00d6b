//! Device memory: the 64-bit global address space with its allocations, and the two ways a CTA
//! sees it while it runs.
//!
//! - [`GlobalMemory`] itself (direct access): used when CTAs run one after another.
//! - `SpecView` (speculative access): a CTA that runs in parallel with others reads the
//!   memory as it was when its round started and keeps its writes in private copy-on-write
//!   pages, recording which bytes it read and wrote. See `device.rs` for how rounds are
//!   committed so that the result is that of running the CTAs one after another.
//!
//! Addresses: allocations start at [`GLOBAL_BASE`] (so 0 and every small or 32-bit-truncated
//! pointer is unmapped), are aligned to at least 256 bytes, never reuse a freed range, and are
//! separated by an unmapped guard gap of [`GUARD_BYTES`], so out-of-bounds accesses fault.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// First address handed out.
pub const GLOBAL_BASE: u64 = 0x0000_0001_0000_0000;
/// Unmapped gap after every allocation.
pub const GUARD_BYTES: u64 = 16 << 20;
/// Minimum alignment of an allocation.
pub const MIN_ALIGN: u64 = 256;
/// Largest single allocation (64 GiB; the host must still have the memory).
pub const MAX_ALLOC: u64 = 64 << 30;

/// One allocation. A freed one stays in the list as a tombstone (no data, `freed`) so that
/// freeing is a binary search, not a shift of the list; tombstones are dropped in bulk when they
/// are half the list (see [`GlobalMemory::free`]).
#[derive(Clone, Debug)]
pub(crate) struct Allocation {
    pub base: u64,
    pub data: Vec<u8>,
    pub freed: bool,
}

impl Allocation {
    #[inline]
    fn end(&self) -> u64 {
        self.base + self.data.len() as u64
    }
}

/// The global address space.
#[derive(Clone, Debug)]
pub struct GlobalMemory {
    allocs: Vec<Allocation>,
    next: u64,
    cache: usize,
    /// Tombstones in `allocs`.
    freed: usize,
}

impl Default for GlobalMemory {
    fn default() -> Self {
        GlobalMemory { allocs: Vec::new(), next: GLOBAL_BASE, cache: 0, freed: 0 }
    }
}

impl GlobalMemory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Allocate `bytes` (zeroed) aligned to `align` (a power of two; at least 256 is used).
    pub fn alloc(&mut self, bytes: u64, align: u64) -> Result<u64, String> {
        if align == 0 || !align.is_power_of_two() {
            return Err(format!("alignment {align} is not a power of two"));
        }
        if bytes > MAX_ALLOC {
            return Err(format!("allocation of {bytes} bytes is larger than the {MAX_ALLOC}-byte limit"));
        }
        let align = align.max(MIN_ALIGN);
        let base = self.next.checked_add(align - 1).ok_or("address space exhausted")? & !(align - 1);
        let end = base.checked_add(bytes).ok_or("address space exhausted")?;
        let next = end.checked_add(GUARD_BYTES + MIN_ALIGN - 1).ok_or("address space exhausted")? & !(MIN_ALIGN - 1);
        let mut data = Vec::new();
        data.try_reserve_exact(bytes as usize)
            .map_err(|_| format!("host memory exhausted allocating {bytes} bytes"))?;
        data.resize(bytes as usize, 0); // zero-filled: Python's `Device.zeros` relies on it
        self.allocs.push(Allocation { base, data, freed: false });
        self.next = next;
        Ok(base)
    }

    /// Free the allocation that starts at `addr`: O(log n) (amortised; the allocation becomes a
    /// tombstone, and the tombstones are removed in one pass once they are half the list).
    pub fn free(&mut self, addr: u64) -> Result<(), String> {
        match self.allocs.binary_search_by_key(&addr, |a| a.base) {
            Ok(i) if !self.allocs[i].freed => {
                self.allocs[i].data = Vec::new();
                self.allocs[i].freed = true;
                self.freed += 1;
                if self.freed * 2 > self.allocs.len() {
                    self.allocs.retain(|a| !a.freed);
                    self.freed = 0;
                }
                self.cache = 0;
                Ok(())
            }
            _ => Err(format!("{addr:#x} is not the start of an allocation")),
        }
    }

    /// Index of the allocation holding `[addr, addr + len)`.
    #[inline]
    pub(crate) fn find(&mut self, addr: u64, len: u64) -> Option<usize> {
        if let Some(a) = self.allocs.get(self.cache) {
            if !a.freed && addr >= a.base && addr.wrapping_add(len) <= a.end() && addr.checked_add(len).is_some() {
                return Some(self.cache);
            }
        }
        let i = self.find_nocache(addr, len)?;
        self.cache = i;
        Some(i)
    }

    #[inline]
    pub(crate) fn find_nocache(&self, addr: u64, len: u64) -> Option<usize> {
        let i = self.allocs.partition_point(|a| a.base <= addr);
        if i == 0 {
            return None;
        }
        let a = &self.allocs[i - 1];
        let end = addr.checked_add(len)?;
        if !a.freed && end <= a.end() {
            Some(i - 1)
        } else {
            None
        }
    }

    /// Host write (must lie inside one allocation).
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), String> {
        let i = self
            .find(addr, data.len() as u64)
            .ok_or_else(|| format!("{} bytes at {addr:#x} are not inside one allocation", data.len()))?;
        let a = &mut self.allocs[i];
        let off = (addr - a.base) as usize;
        a.data[off..off + data.len()].copy_from_slice(data);
        Ok(())
    }

    /// Host read (must lie inside one allocation).
    pub fn read(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; len];
        self.read_into(addr, &mut out)?;
        Ok(out)
    }

    /// Copy `out.len()` bytes at `addr` into `out` (the range must lie inside one allocation).
    pub fn read_into(&mut self, addr: u64, out: &mut [u8]) -> Result<(), String> {
        let len = out.len();
        let i = self
            .find(addr, len as u64)
            .ok_or_else(|| format!("{len} bytes at {addr:#x} are not inside one allocation"))?;
        let a = &self.allocs[i];
        let off = (addr - a.base) as usize;
        out.copy_from_slice(&a.data[off..off + len]);
        Ok(())
    }

    /// Number of allocations (the bound of an allocation index).
    pub(crate) fn num_allocations(&self) -> usize {
        self.allocs.len()
    }

    /// The allocations as (base, size), in address order.
    pub fn allocations(&self) -> Vec<(u64, u64)> {
        self.allocs.iter().filter(|a| !a.freed).map(|a| (a.base, a.data.len() as u64)).collect()
    }

    #[inline]
    pub(crate) fn alloc_data_mut(&mut self, i: usize) -> &mut Vec<u8> {
        &mut self.allocs[i].data
    }
}

/// How an executing CTA accesses global memory. Accesses never cross a 4 KiB boundary relative
/// to their allocation's base (they are at most 16 bytes and naturally aligned; callers check
/// alignment first).
pub(crate) trait GlobalMem {
    /// Bytes to read, or `None` if `[addr, addr+len)` is not inside one allocation.
    fn load(&mut self, addr: u64, len: usize) -> Option<&[u8]>;
    /// Bytes to write (read-modify-write allowed), or `None` if unmapped.
    fn store(&mut self, addr: u64, len: usize) -> Option<&mut [u8]>;
    /// Whether `[addr, addr+len)` is inside one allocation.
    fn mapped(&mut self, addr: u64, len: usize) -> bool;
    /// `load` of `len` bytes at the address of every lane of `exec`, in ascending lane order,
    /// each handed to `f(lane, bytes)`. The caller has checked every access (mapped, aligned).
    #[inline]
    fn load_lanes(&mut self, exec: u32, addr: &[u64; 32], len: usize, mut f: impl FnMut(usize, &[u8])) {
        for l in crate::state::lanes(exec) {
            f(l, self.load(addr[l], len).expect("checked by the caller"));
        }
    }
}

impl GlobalMem for GlobalMemory {
    /// Lanes inside the allocation of the previous lane skip the look-up.
    #[inline(always)]
    fn load_lanes(&mut self, exec: u32, addr: &[u64; 32], len: usize, mut f: impl FnMut(usize, &[u8])) {
        let (mut i, mut base, mut last) = (0usize, 1u64, 0u64); // empty range: the first lane looks up
        for l in crate::state::lanes(exec) {
            let a = addr[l];
            if a < base || a > last {
                i = self.find(a, len as u64).expect("checked by the caller");
                base = self.allocs[i].base;
                last = self.allocs[i].end() - len as u64;
            }
            let off = (a - base) as usize;
            f(l, &self.allocs[i].data[off..off + len]);
        }
    }

    #[inline]
    fn load(&mut self, addr: u64, len: usize) -> Option<&[u8]> {
        let i = self.find(addr, len as u64)?;
        let a = &self.allocs[i];
        let off = (addr - a.base) as usize;
        Some(&a.data[off..off + len])
    }

    #[inline]
    fn store(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let i = self.find(addr, len as u64)?;
        let a = &mut self.allocs[i];
        let off = (addr - a.base) as usize;
        Some(&mut a.data[off..off + len])
    }

    #[inline]
    fn mapped(&mut self, addr: u64, len: usize) -> bool {
        self.find(addr, len as u64).is_some()
    }
}

/// Page size of the speculative view.
pub(crate) const PAGE: usize = 4096;
const WORDS: usize = PAGE / 64;

/// Bit mask over the bytes of a page.
pub(crate) type PageMask = [u64; WORDS];

/// A private page of a speculative CTA.
pub(crate) struct SpecPage {
    /// Private copy (made on the first write).
    pub data: Option<Box<[u8]>>,
    /// Bytes this CTA wrote (allocated on the first write: most pages are only read).
    pub written: Option<Box<PageMask>>,
    /// Bytes this CTA read before writing them. Boxed, so that growing the page list moves
    /// small entries.
    pub read: Box<PageMask>,
}

/// Page key: allocation index and page number inside the allocation.
#[inline]
fn key(alloc: usize, page: usize) -> u64 {
    ((alloc as u64) << 40) | page as u64
}

/// Hasher for page keys (`key`): one multiply and a rotate. The default SipHash cost more than
/// the rest of a speculative load when a warp's lanes fall in many pages (rows of a matrix).
#[derive(Default)]
pub(crate) struct PageKeyHasher(u64);

impl Hasher for PageKeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        // the bucket index comes from the low bits, the control tag from the top ones: mix both
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(32)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b) ^ (self.0 >> 56);
        }
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 ^= x;
    }
}

/// A map keyed by page keys.
pub(crate) type PageMap<V> = HashMap<u64, V, BuildHasherDefault<PageKeyHasher>>;

/// Private pages of a speculative CTA: (key, page).
pub(crate) type SpecPages = Vec<(u64, SpecPage)>;

/// A CTA's speculative view of global memory (see the module docs).
pub(crate) struct SpecView<'a> {
    base: &'a GlobalMemory,
    index: PageMap<usize>,
    pub pages: SpecPages,
    /// Allocation of the last access.
    cache: usize,
    /// (key, index in `pages`) of the last page touched.
    last: (u64, usize),
    /// Per allocation: whether its reads are recorded byte by byte (`true`, and for allocations
    /// past the end of the slice). An allocation no committed CTA of the launch has written yet
    /// is read without bookkeeping; only the fact that it was read is kept (`untracked_reads`),
    /// and the commit treats a read of an allocation that an earlier CTA of the same round
    /// wrote as a conflict (see `device.rs`). A GEMM's operands are never written, so their
    /// loads, most of a GEMM's memory traffic, skip the per-byte records.
    tracked: &'a [bool],
    /// Untracked allocations this CTA read (bit per allocation index).
    pub untracked_reads: Vec<u64>,
    /// Allocations this CTA wrote (bit per allocation index): its own writes are read back
    /// through its private pages.
    own_writes: Vec<u64>,
}

/// Whether bit `i` of a bit set (one bit per allocation index) is set.
#[inline(always)]
pub(crate) fn has_bit(set: &[u64], i: usize) -> bool {
    set.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 != 0)
}

/// Set bit `i` of a bit set, growing it as needed.
#[inline(always)]
pub(crate) fn set_bit(set: &mut Vec<u64>, i: usize) {
    if set.len() <= i / 64 {
        set.resize(i / 64 + 1, 0);
    }
    set[i / 64] |= 1 << (i % 64);
}

/// Whether two bit sets share a bit.
pub(crate) fn bits_intersect(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).any(|(x, y)| x & y != 0)
}

/// The (word, bits) pairs of a page mask that cover bytes `[off, off + len)`. An aligned access
/// of at most 16 bytes stays in one word; other ranges are handled generally.
#[inline]
fn mask_words(off: usize, len: usize) -> impl Iterator<Item = (usize, u64)> {
    let end = off + len;
    let mut o = off;
    std::iter::from_fn(move || {
        if o >= end {
            return None;
        }
        let (w, b) = (o / 64, o % 64);
        let n = (end - o).min(64 - b);
        o += n;
        Some((w, if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << b }))
    })
}

#[inline]
fn set_bits(mask: &mut PageMask, off: usize, len: usize) {
    for (w, bits) in mask_words(off, len) {
        mask[w] |= bits;
    }
}

#[inline]
fn range_bits(mask: &PageMask, off: usize, len: usize) -> bool {
    mask_words(off, len).all(|(w, bits)| mask[w] & bits == bits)
}

impl<'a> SpecView<'a> {
    /// A view of `base`; `tracked` says which allocations have their reads recorded byte by byte
    /// (see the field; `&[]` records every read).
    pub fn new(base: &'a GlobalMemory, tracked: &'a [bool]) -> Self {
        SpecView {
            base,
            index: PageMap::default(),
            pages: Vec::new(),
            cache: 0,
            last: (u64::MAX, 0),
            tracked,
            untracked_reads: Vec::new(),
            own_writes: Vec::new(),
        }
    }

    /// Whether a read of allocation `ai` goes straight to the base memory (see `tracked`).
    #[inline(always)]
    fn untracked(&self, ai: usize) -> bool {
        !self.tracked.get(ai).copied().unwrap_or(true) && !has_bit(&self.own_writes, ai)
    }

    /// Index of the page with `key` in `pages` (created on first use).
    #[inline]
    fn page(&mut self, key: u64) -> usize {
        if self.last.0 == key {
            return self.last.1;
        }
        let pages = &mut self.pages;
        let i = *self.index.entry(key).or_insert_with(|| {
            pages.push((key, SpecPage { data: None, written: None, read: Box::new([0; WORDS]) }));
            pages.len() - 1
        });
        self.last = (key, i);
        i
    }

    #[inline]
    fn locate(&mut self, addr: u64, len: usize) -> Option<(usize, usize)> {
        let allocs = &self.base.allocs;
        let hit = allocs
            .get(self.cache)
            .is_some_and(|a| addr >= a.base && addr.checked_add(len as u64).is_some_and(|e| e <= a.end()));
        if !hit {
            self.cache = self.base.find_nocache(addr, len as u64)?;
        }
        Some((self.cache, (addr - allocs[self.cache].base) as usize))
    }

    /// Whether this CTA read a byte that `written` (bytes written by CTAs committed before it in
    /// the same round) covers.
    #[allow(dead_code)]
    pub fn conflicts(&self, written: &PageMap<PageMask>) -> bool {
        Self::pages_conflict(&self.pages, written)
    }

    /// [`SpecView::conflicts`] on the pages of a finished view.
    pub fn pages_conflict(pages: &SpecPages, written: &PageMap<PageMask>) -> bool {
        for (k, p) in pages {
            if let Some(w) = written.get(k) {
                if p.read.iter().zip(w.iter()).any(|(r, w)| r & w != 0) {
                    return true;
                }
            }
        }
        false
    }

    /// Apply this CTA's writes to `mem` and add them to `written`.
    #[allow(dead_code)]
    pub fn commit(self, mem: &mut GlobalMemory, written: &mut PageMap<PageMask>) {
        Self::commit_pages(self.pages, mem, written)
    }

    /// [`SpecView::commit`] of the pages of a finished view.
    pub fn commit_pages(pages: SpecPages, mem: &mut GlobalMemory, written: &mut PageMap<PageMask>) {
        for (k, p) in pages {
            let (Some(data), Some(p_written)) = (p.data, p.written) else { continue };
            let alloc = (k >> 40) as usize;
            let page = (k & ((1 << 40) - 1)) as usize;
            let dst = mem.alloc_data_mut(alloc);
            let start = page * PAGE;
            for (w, &bits) in p_written.iter().enumerate() {
                if bits == 0 {
                    continue;
                }
                let o = w * 64;
                if bits == u64::MAX {
                    let n = 64.min(data.len() - o);
                    dst[start + o..start + o + n].copy_from_slice(&data[o..o + n]);
                } else {
                    let mut b = bits;
                    while b != 0 {
                        let i = b.trailing_zeros() as usize;
                        dst[start + o + i] = data[o + i];
                        b &= b - 1;
                    }
                }
            }
            let e = written.entry(k).or_insert([0; WORDS]);
            for (a, b) in e.iter_mut().zip(p_written.iter()) {
                *a |= b;
            }
        }
    }
}

/// `set_bits` for an aligned access of at most 16 bytes, which never crosses a 64-byte word.
#[inline(always)]
fn set_bits_aligned(mask: &mut PageMask, off: usize, len: usize) {
    mask[off / 64] |= ((1u64 << len) - 1) << (off % 64);
}

/// `range_bits` for an aligned access of at most 16 bytes.
#[inline(always)]
fn range_bits_aligned(mask: &PageMask, off: usize, len: usize) -> bool {
    let bits = ((1u64 << len) - 1) << (off % 64);
    mask[off / 64] & bits == bits
}

impl GlobalMem for SpecView<'_> {
    /// Lanes that hit the page of the previous lane skip the allocation and page look-ups (a
    /// warp's accesses usually fall in one or two pages).
    #[inline]
    fn load_lanes(&mut self, exec: u32, addr: &[u64; 32], len: usize, mut f: impl FnMut(usize, &[u8])) {
        if !(len.is_power_of_two() && len <= 16) {
            for l in crate::state::lanes(exec) {
                f(l, self.load(addr[l], len).expect("checked by the caller"));
            }
            return;
        }
        // (first address of the page, end of the page inside its allocation, allocation, page slot)
        let mut cur = (u64::MAX, 0u64, 0usize, 0usize);
        // The previous lane's address: lanes that share an address (operands replicated across
        // a warp) repeat neither the look-up nor the read bookkeeping.
        let mut prev = u64::MAX;
        // (start, end, index) of the last untracked allocation read: its lanes read it directly
        let mut untracked = (u64::MAX, 0u64, 0usize);
        let base = self.base;
        for l in crate::state::lanes(exec) {
            let a = addr[l];
            if a >= untracked.0 && a.saturating_add(len as u64) <= untracked.1 {
                let o = (a - untracked.0) as usize;
                f(l, &base.allocs[untracked.2].data[o..o + len]);
                continue;
            }
            if a < cur.0 || a.saturating_add(len as u64) > cur.1 {
                let (ai, off) = self.locate(a, len).expect("checked by the caller");
                if self.untracked(ai) {
                    set_bit(&mut self.untracked_reads, ai);
                    let alloc = &base.allocs[ai];
                    untracked = (alloc.base, alloc.end(), ai);
                    f(l, &alloc.data[off..off + len]);
                    continue;
                }
                let page = off / PAGE;
                let i = self.page(key(ai, page));
                let alloc = &self.base.allocs[ai];
                let start = alloc.base + (page * PAGE) as u64;
                cur = (start, (start + PAGE as u64).min(alloc.end()), ai, i);
            }
            let po = (a - cur.0) as usize;
            let p = &mut self.pages[cur.3].1;
            if a != prev && !p.written.as_ref().is_some_and(|w| range_bits_aligned(w, po, len)) {
                set_bits_aligned(&mut p.read, po, len);
            }
            let bytes = match &p.data {
                Some(d) => &d[po..po + len],
                None => {
                    let off = (a - self.base.allocs[cur.2].base) as usize;
                    &self.base.allocs[cur.2].data[off..off + len]
                }
            };
            prev = a;
            f(l, bytes);
        }
    }

    #[inline]
    fn load(&mut self, addr: u64, len: usize) -> Option<&[u8]> {
        let (ai, off) = self.locate(addr, len)?;
        if self.untracked(ai) {
            set_bit(&mut self.untracked_reads, ai);
            return Some(&self.base.allocs[ai].data[off..off + len]);
        }
        let page = off / PAGE;
        let po = off % PAGE;
        let i = self.page(key(ai, page));
        let p = &mut self.pages[i].1;
        if !p.written.as_ref().is_some_and(|w| range_bits(w, po, len)) {
            set_bits(&mut p.read, po, len);
        }
        match &p.data {
            Some(d) => Some(&d[po..po + len]),
            None => Some(&self.base.allocs[ai].data[off..off + len]),
        }
    }

    #[inline]
    fn store(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let (ai, off) = self.locate(addr, len)?;
        set_bit(&mut self.own_writes, ai);
        let page = off / PAGE;
        let po = off % PAGE;
        let i = self.page(key(ai, page));
        let base = &self.base.allocs[ai].data;
        let p = &mut self.pages[i].1;
        // a store slice may be read-modify-written (atomics): count it as read too unless the
        // bytes are already this CTA's own
        if !p.written.as_ref().is_some_and(|w| range_bits(w, po, len)) {
            set_bits(&mut p.read, po, len);
        }
        set_bits(p.written.get_or_insert_with(|| Box::new([0; WORDS])), po, len);
        let d = p.data.get_or_insert_with(|| {
            let start = page * PAGE;
            let end = (start + PAGE).min(base.len());
            base[start..end].to_vec().into_boxed_slice()
        });
        Some(&mut d[po..po + len])
    }

    #[inline]
    fn mapped(&mut self, addr: u64, len: usize) -> bool {
        self.locate(addr, len).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_apart_and_nonzero() {
        let mut m = GlobalMemory::new();
        let a = m.alloc(100, 4).unwrap();
        let b = m.alloc(100, 4096).unwrap();
        assert!(a >= GLOBAL_BASE && a.is_multiple_of(256));
        assert!(b >= a + 100 + GUARD_BYTES && b.is_multiple_of(4096));
        assert!(m.load(a + 96, 4).is_some());
        assert!(m.load(a + 97, 4).is_none());
        assert!(m.load(a - 4, 4).is_none());
        assert!(m.load(0, 4).is_none());
        m.free(a).unwrap();
        assert!(m.load(a, 4).is_none());
        assert!(m.free(a).is_err());
        let c = m.alloc(0, 1).unwrap();
        assert!(c > b && m.load(c, 1).is_none());
    }

    #[test]
    fn freed_allocations_fault_whatever_the_tombstones() {
        // free every other allocation (tombstones compacted on the way), then check all of them
        let mut m = GlobalMemory::new();
        let addrs: Vec<u64> = (0..1000).map(|i| m.alloc(16 + i, 16).unwrap()).collect();
        for (i, &a) in addrs.iter().enumerate() {
            m.write(a, &(i as u32).to_le_bytes()).unwrap();
        }
        for &a in addrs.iter().step_by(2) {
            m.free(a).unwrap();
        }
        for (i, &a) in addrs.iter().enumerate() {
            if i % 2 == 0 {
                assert!(m.read(a, 4).is_err() && m.read(a, 0).is_err() && m.free(a).is_err(), "{i}");
                assert!(m.load(a, 4).is_none());
            } else {
                assert_eq!(m.read(a, 4).unwrap(), (i as u32).to_le_bytes(), "{i}");
            }
        }
        assert_eq!(m.allocations().len(), 500);
        // and the rest, in reverse
        for &a in addrs.iter().skip(1).step_by(2).rev() {
            m.free(a).unwrap();
        }
        assert!(m.allocations().is_empty());
        let b = m.alloc(4, 4).unwrap();
        assert!(b > *addrs.last().unwrap() && m.read(b, 4).is_ok());
    }

    #[test]
    fn spec_view_copy_on_write_and_conflicts() {
        let mut m = GlobalMemory::new();
        let a = m.alloc(8192, 256).unwrap();
        m.write(a, &[1, 2, 3, 4]).unwrap();
        let (v1_pages, v2_conflict) = {
            let mut v1 = SpecView::new(&m, &[]);
            v1.store(a + 4, 4).unwrap().copy_from_slice(&[9, 9, 9, 9]);
            assert_eq!(v1.load(a + 4, 4).unwrap(), &[9, 9, 9, 9]);
            assert_eq!(v1.load(a, 4).unwrap(), &[1, 2, 3, 4]);
            let mut v2 = SpecView::new(&m, &[]);
            assert_eq!(v2.load(a + 4, 4).unwrap(), &[0, 0, 0, 0]);
            let mut written = PageMap::default();
            let mut mm = m.clone();
            v1.commit(&mut mm, &mut written);
            (mm, v2.conflicts(&written))
        };
        assert!(v2_conflict);
        assert_eq!(v1_pages.clone().read(a, 8).unwrap(), vec![1, 2, 3, 4, 9, 9, 9, 9]);
    }
}
