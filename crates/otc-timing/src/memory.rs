//! Memory-side building blocks: shared-memory bank conflicts, coalescing into sectors, and a
//! sectored set-associative LRU cache (L1 per SM, L2 for the whole GPU).

/// Shared-memory wavefronts of one warp access.
///
/// The lanes are processed in phases of `32 / max(1, bytes / bank_bytes)` lanes (a whole warp for
/// 32-bit accesses, half-warps for 64-bit, quarter-warps for 128-bit). In a phase, each lane
/// touches `ceil(bytes / bank_bytes)` consecutive bank words; words in the same bank that differ
/// conflict, equal words are broadcast. A phase takes as many wavefronts as the largest number of
/// distinct words in one bank. For atomics every lane on the same word also serialises.
/// Returns (wavefronts, phases with at least one lane); conflicts = wavefronts - phases.
pub fn shared_wavefronts(lanes: &[(u32, u64)], bytes: u32, banks: u32, bank_bytes: u32, atomic: bool) -> (u32, u32) {
    if lanes.is_empty() {
        return (0, 0);
    }
    let words_per_lane = bytes.div_ceil(bank_bytes).clamp(1, 32);
    let lanes_per_phase = (32 / words_per_lane).max(1);
    let mut total = 0u32;
    let mut phases = 0u32;
    let banks64 = banks as u64;
    let banks_pow2 = banks.is_power_of_two();
    let pow2 = bank_bytes.is_power_of_two();
    let bank_shift = bank_bytes.trailing_zeros();
    // A phase covers at most 32 bank words (lanes_per_phase x words_per_lane).
    let mut keys = [0u64; 32];
    let mut start = 0usize;
    let phase_of = |lane: u32| {
        if lanes_per_phase.is_power_of_two() {
            lane >> lanes_per_phase.trailing_zeros()
        } else {
            lane / lanes_per_phase
        }
    };
    let key = |w: u64| {
        let bank = if banks_pow2 { w & (banks64 - 1) } else { w % banks64 };
        bank << 40 | (w & ((1 << 40) - 1))
    };
    // Per bank: the word the phase puts there (valid where `seen` has the bank's bit).
    let mut bank_word = [0u64; 64];
    let wpl64 = words_per_lane as u64;
    let block_ok = !atomic
        && banks <= 64
        && banks_pow2
        && pow2
        && words_per_lane.is_power_of_two()
        && words_per_lane <= banks
        && lanes_per_phase * words_per_lane == 32;
    while start < lanes.len() {
        let phase = phase_of(lanes[start].0);
        let mut end = start;
        while end < lanes.len() && phase_of(lanes[end].0) == phase {
            end += 1;
        }
        // Fast path: no bank gets two different words (lanes on one word are a broadcast): one
        // wavefront. The keys are the phase's first 32 words, as below.
        //
        // With power-of-two banks, bank bytes and words per lane (at most the banks), and every
        // lane's first word a multiple of its word count, a lane's words fill an aligned block
        // of banks: blocks are equal or disjoint, and equal blocks hold the same words exactly
        // when their first words agree (below 2^40, as the keys compare them). At most
        // 32 / words_per_lane lanes make a phase, so no key is dropped.
        let mut known_clash = false;
        if block_ok && end - start <= lanes_per_phase as usize {
            let (mut seen, mut aligned, mut clash) = (0u64, true, false);
            for &(_, a) in &lanes[start..end] {
                let w0 = a >> bank_shift;
                aligned &= w0 & (wpl64 - 1) == 0;
                let pos = (w0 & (banks64 - 1)) as usize;
                let bit = 1u64 << pos;
                if seen & bit == 0 {
                    seen |= bit;
                    bank_word[pos] = w0 & ((1 << 40) - 1);
                } else {
                    clash |= bank_word[pos] != w0 & ((1 << 40) - 1);
                }
            }
            if aligned && !clash {
                total += 1;
                phases += 1;
                start = end;
                continue;
            }
            known_clash = aligned;
        }
        if !atomic && banks <= 64 && !known_clash {
            let (mut seen, mut clash, mut n) = (0u64, false, 0usize);
            'lanes: for &(_, a) in &lanes[start..end] {
                let w0 = if pow2 { a >> bank_shift } else { a / bank_bytes as u64 };
                for k in 0..words_per_lane as u64 {
                    if n == keys.len() {
                        break 'lanes;
                    }
                    n += 1;
                    let kk = key(w0 + k);
                    let b = (kk >> 40) as usize & 63;
                    if seen & (1 << b) == 0 {
                        seen |= 1 << b;
                        bank_word[b] = kk;
                    } else if bank_word[b] != kk {
                        clash = true;
                        break 'lanes;
                    }
                }
            }
            if !clash {
                total += 1;
                phases += 1;
                start = end;
                continue;
            }
        }
        let mut n = 0usize;
        for &(_, a) in &lanes[start..end] {
            let w0 = if pow2 { a >> bank_shift } else { a / bank_bytes as u64 };
            for k in 0..words_per_lane as u64 {
                if n < keys.len() {
                    keys[n] = key(w0 + k);
                    n += 1;
                }
            }
        }
        total += max_per_bank(&mut keys[..n], atomic, banks);
        phases += 1;
        start = end;
    }
    (total, phases)
}

/// Largest number of (distinct, unless `atomic`) words of one bank among `keys`
/// (`bank << 40 | word`).
fn max_per_bank(keys: &mut [u64], atomic: bool, banks: u32) -> u32 {
    // Fast path: no bank holds two different words (lanes on the same word are a broadcast):
    // one wavefront.
    if !atomic && banks <= 64 {
        let mut mask = 0u64;
        let mut word = [0u64; 64];
        let mut clash = false;
        for &k in keys.iter() {
            let b = (k >> 40) as usize & 63;
            if mask & (1 << b) == 0 {
                mask |= 1 << b;
                word[b] = k;
            } else if word[b] != k {
                clash = true;
                break;
            }
        }
        if !clash {
            return if keys.is_empty() { 0 } else { 1 };
        }
    }
    keys.sort_unstable();
    let mut best = 0u32;
    let mut run = 0u32;
    for i in 0..keys.len() {
        if i > 0 && keys[i] >> 40 == keys[i - 1] >> 40 {
            if atomic || keys[i] != keys[i - 1] {
                run += 1;
            }
        } else {
            run = 1;
        }
        best = best.max(run);
    }
    best
}

/// The distinct sectors (address / sector_bytes) touched by the lanes, sorted.
pub fn coalesce(addrs: &[u64], bytes: u32, sector_bytes: u32, out: &mut Vec<u64>) {
    out.clear();
    let shift = sector_bytes.trailing_zeros();
    // Fast path (a warp's access nearly always takes it): every lane's sectors lie within 31
    // below to 32 above the first lane's: mark them in a bitmap, read it in order. One pass,
    // no branches per lane; an address range that wraps or leaves the window falls through.
    let b1 = bytes.max(1) as u64 - 1;
    if let Some(&a0) = addrs.first() {
        let base = (a0 >> shift).wrapping_sub(31);
        // Accesses of a power of two of bytes, at most a sector, all aligned (the usual case):
        // each lies in one sector.
        if b1 & (b1 + 1) == 0 && b1 < sector_bytes as u64 {
            let (mut map, mut ok, mut low) = (0u64, true, 0u64);
            for &a in addrs {
                let first = (a >> shift).wrapping_sub(base);
                low |= a;
                ok &= first < 64;
                map |= 1u64.wrapping_shl(first as u32);
            }
            if ok && low & b1 == 0 {
                while map != 0 {
                    out.push(base.wrapping_add(map.trailing_zeros() as u64));
                    map &= map - 1;
                }
                return;
            }
            if !ok {
                // A lane's first sector is outside the window: so is its last one.
                return coalesce_sorted(addrs, bytes, shift, out);
            }
        }
        let (mut map, mut ok) = (0u64, true);
        for &a in addrs {
            let first = (a >> shift).wrapping_sub(base);
            let last = (a.wrapping_add(b1) >> shift).wrapping_sub(base);
            ok &= (last < 64) & (first <= last);
            map |= (2u64 << (last.wrapping_sub(first) & 63)).wrapping_sub(1).wrapping_shl(first as u32);
        }
        if ok {
            while map != 0 {
                out.push(base.wrapping_add(map.trailing_zeros() as u64));
                map &= map - 1;
            }
            return;
        }
    }
    coalesce_sorted(addrs, bytes, shift, out)
}

/// [`coalesce`] by walking each lane's sectors (sorting when they come out of order).
fn coalesce_sorted(addrs: &[u64], bytes: u32, shift: u32, out: &mut Vec<u64>) {
    let mut sorted = true;
    for &a in addrs {
        let first = a >> shift;
        let last = (a + bytes.max(1) as u64 - 1) >> shift;
        for s in first..=last {
            match out.last() {
                Some(&p) if p == s => {}
                Some(&p) => {
                    sorted &= p < s;
                    out.push(s)
                }
                None => out.push(s),
            }
        }
    }
    if !sorted {
        out.sort_unstable();
        out.dedup();
    }
}

/// A sectored set-associative cache with LRU replacement. Lines of `line_bytes`, sectors of
/// `sector_bytes`; addresses are given as sector numbers.
///
/// The ways of a set are stored as parallel arrays (tags apart from the rest), so that a lookup
/// reads the set's tags (two host cache lines for 16 ways) and touches the other fields of one
/// way only.
#[derive(Clone, Debug)]
pub struct SectorCache {
    sets: usize,
    ways: usize,
    /// log2 of sectors per line (a power of two: both sizes are).
    line_shift: u32,
    /// `sectors_per_line - 1`.
    sector_mask: u64,
    /// `u64::MAX / sets + 1`: the set of a line below 2^32 without a division (Lemire's fastmod).
    set_magic: u64,
    /// Per way (set-major): the line's tag (`u64::MAX`: never allocated).
    tags: Vec<u64>,
    /// Valid sectors (bit per sector).
    valid: Vec<u32>,
    lru: Vec<u64>,
    /// Cycle at which each sector's data is present (in-flight fills merge into it).
    ready: Vec<[u64; 4]>,
    stamp: u64,
}

/// Outcome of a sector lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Present; data ready at the given cycle (a fill may still be in flight).
    Hit(u64),
    Miss,
}

impl SectorCache {
    /// A cache of `bytes` capacity (rounded down to whole sets; at least one set).
    pub fn new(bytes: u64, line_bytes: u32, sector_bytes: u32, ways: u32) -> SectorCache {
        let ways = ways.max(1) as usize;
        let sets = ((bytes / line_bytes as u64) as usize / ways).max(1);
        let sectors_per_line = (line_bytes / sector_bytes.max(1)).max(1);
        assert!(sectors_per_line.is_power_of_two(), "a power of two of sectors per line");
        let n = sets * ways;
        SectorCache {
            sets,
            ways,
            line_shift: sectors_per_line.trailing_zeros(),
            sector_mask: sectors_per_line as u64 - 1,
            set_magic: magic(sets as u64),
            tags: vec![u64::MAX; n],
            valid: vec![0; n],
            lru: vec![0; n],
            ready: vec![[0; 4]; n],
            stamp: 0,
        }
    }

    /// An empty cache of no capacity (every lookup misses).
    pub fn disabled() -> SectorCache {
        SectorCache {
            sets: 0,
            ways: 0,
            line_shift: 0,
            sector_mask: 0,
            set_magic: 0,
            tags: Vec::new(),
            valid: Vec::new(),
            lru: Vec::new(),
            ready: Vec::new(),
            stamp: 0,
        }
    }

    /// (line, sector index in the line, first way of its set).
    #[inline]
    fn split(&self, sector: u64) -> (u64, u32, usize) {
        let line = sector >> self.line_shift;
        let idx = (sector & self.sector_mask) as u32;
        let set = if line >> 32 == 0 && self.sets > 1 {
            fastmod(line as u32, self.set_magic, self.sets as u32) as usize
        } else {
            (line % self.sets as u64) as usize
        };
        (line, idx, set * self.ways)
    }

    fn ready_slot(idx: u32) -> usize {
        idx as usize & 3
    }

    /// Look a sector up (updates LRU on a hit).
    pub fn lookup(&mut self, sector: u64) -> Lookup {
        if self.sets == 0 {
            return Lookup::Miss;
        }
        let (tag, idx, base) = self.split(sector);
        self.stamp += 1;
        let stamp = self.stamp;
        for i in base..base + self.ways {
            if self.tags[i] == tag && self.valid[i] & (1 << idx) != 0 {
                self.lru[i] = stamp;
                return Lookup::Hit(self.ready[i][Self::ready_slot(idx)]);
            }
        }
        Lookup::Miss
    }

    /// The way to replace in the set at `base`: the first of the least recently used among the
    /// invalid lines, else among all.
    #[inline]
    fn victim(&self, base: usize) -> usize {
        let mut victim = base;
        let mut victim_key = (true, u64::MAX);
        for i in base..base + self.ways {
            let key = (self.valid[i] != 0, self.lru[i]);
            if key < victim_key {
                victim_key = key;
                victim = i;
            }
        }
        victim
    }

    /// Insert a sector whose data is present from cycle `ready` (allocating its line, evicting
    /// the least recently used line of the set).
    pub fn fill(&mut self, sector: u64, ready: u64) {
        if self.sets == 0 {
            return;
        }
        let (tag, idx, base) = self.split(sector);
        self.stamp += 1;
        let stamp = self.stamp;
        let slot = match self.tags[base..base + self.ways].iter().position(|&t| t == tag) {
            Some(i) => base + i,
            None => {
                let i = self.victim(base);
                self.tags[i] = tag;
                self.valid[i] = 0;
                self.lru[i] = 0;
                self.ready[i] = [0; 4];
                i
            }
        };
        self.valid[slot] |= 1 << idx;
        self.lru[slot] = stamp;
        self.ready[slot][Self::ready_slot(idx)] = ready;
    }

    /// Look a sector up and allocate it on a miss (data ready at cycle 0); true on a hit.
    pub fn access(&mut self, sector: u64) -> bool {
        if self.sets == 0 {
            return false;
        }
        let (tag, idx, base) = self.split(sector);
        self.stamp += 1;
        let stamp = self.stamp;
        if let Some(i) = self.tags[base..base + self.ways].iter().position(|&t| t == tag) {
            let i = base + i;
            self.lru[i] = stamp;
            let hit = self.valid[i] & (1 << idx) != 0;
            self.valid[i] |= 1 << idx;
            return hit;
        }
        let i = self.victim(base);
        self.tags[i] = tag;
        self.valid[i] = 1 << idx;
        self.lru[i] = stamp;
        self.ready[i] = [0; 4];
        false
    }
}

/// `u64::MAX / d + 1` for [`fastmod`] (d >= 2).
fn magic(d: u64) -> u64 {
    if d < 2 {
        0
    } else {
        u64::MAX / d + 1
    }
}

/// `a % d` for 32-bit `a` and `d >= 2` with `m = magic(d)` (Lemire, Kaser, Kurz 2019).
#[inline]
fn fastmod(a: u32, m: u64, d: u32) -> u32 {
    let low = m.wrapping_mul(a as u64);
    ((low as u128 * d as u128) >> 64) as u32
}

#[cfg(test)]
mod tests {
    /// The wavefront count by definition: per phase, the largest number of distinct words
    /// (all words for atomics) in one bank.
    fn wavefronts_by_definition(
        lanes: &[(u32, u64)],
        bytes: u32,
        banks: u32,
        bank_bytes: u32,
        atomic: bool,
    ) -> (u32, u32) {
        let wpl = bytes.div_ceil(bank_bytes).clamp(1, 32);
        let lpp = (32 / wpl).max(1);
        let (mut total, mut phases) = (0, 0);
        let mut start = 0;
        while start < lanes.len() {
            let phase = lanes[start].0 / lpp;
            let mut end = start;
            let mut keys: Vec<(u64, u64)> = Vec::new();
            while end < lanes.len() && lanes[end].0 / lpp == phase {
                for k in 0..wpl as u64 {
                    if keys.len() < 32 {
                        let w = lanes[end].1 / bank_bytes as u64 + k;
                        keys.push((w % banks as u64, w & ((1 << 40) - 1)));
                    }
                }
                end += 1;
            }
            let mut best = 0;
            for b in 0..banks as u64 {
                let mut words: Vec<u64> = keys.iter().filter(|k| k.0 == b).map(|k| k.1).collect();
                if !atomic {
                    words.sort_unstable();
                    words.dedup();
                }
                best = best.max(words.len() as u32);
            }
            total += best;
            phases += 1;
            start = end;
        }
        (total, phases)
    }

    #[test]
    fn shared_wavefronts_match_definition() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for case in 0..20_000 {
            let bytes = [1u32, 2, 4, 8, 16, 12][case % 6];
            let banks = [32u32, 16, 24][(case / 6) % 3];
            let bank_bytes = [4u32, 8, 3][(case / 18) % 3];
            let atomic = case % 7 == 0;
            let mask = match case % 4 {
                0 => u32::MAX,
                1 => next() as u32,
                2 => 0x0000_ffff,
                _ => 0x8000_0001,
            };
            let style = next() % 5;
            let base = (next() % 4096) * 16;
            let lanes: Vec<(u32, u64)> = (0..32u32)
                .filter(|l| mask & (1 << l) != 0)
                .map(|l| {
                    let a = match style {
                        0 => base + l as u64 * bytes as u64,
                        1 => base + (l as u64 % 8) * bytes as u64,
                        2 => base + (next() % 64) * bytes as u64,
                        3 => base + (l as u64 / 4) * 128 + (l as u64 % 4) * bytes as u64,
                        _ => base + next() % 1024,
                    };
                    (l, a)
                })
                .collect();
            assert_eq!(
                shared_wavefronts(&lanes, bytes, banks, bank_bytes, atomic),
                wavefronts_by_definition(&lanes, bytes, banks, bank_bytes, atomic),
                "case {case}: bytes {bytes} banks {banks} bank_bytes {bank_bytes} atomic {atomic} lanes {lanes:?}"
            );
        }
    }

    use super::*;

    /// The sectors of each lane's bytes, sorted and distinct (the definition).
    fn coalesce_slow(addrs: &[u64], bytes: u32, sector_bytes: u32) -> Vec<u64> {
        let mut v: Vec<u64> = addrs
            .iter()
            .flat_map(|&a| (a / sector_bytes as u64)..=((a + bytes.max(1) as u64 - 1) / sector_bytes as u64))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn coalesce_matches_definition() {
        let mut out = Vec::new();
        let cases: Vec<(Vec<u64>, u32)> = vec![
            ((0..32).map(|l| 0x1000 + 16 * l).collect(), 16),
            ((0..32).map(|l| 0x1008 + 4 * l).collect(), 4),
            ((0..32).map(|l| 0x1000 + 8 * l).collect(), 16),
            ((0..32).rev().map(|l| 0x1000 + 4 * l).collect(), 4),
            ((0..32).map(|l| 0x1000 + 128 * l).collect(), 4),
            (vec![0x40; 32], 4),
            (vec![0x1f, 0x20], 2),
            (vec![7], 0),
            (vec![], 4),
            (vec![100, 101, 102], 1),
            ((0..32).map(|l| 0x1000 + 32 * (l % 8) + 16 * (l / 16)).collect(), 16),
            ((0..32).map(|l| 0x1000 + 64 * l).collect(), 4),
            ((0..32).map(|l| 0x1000 + 62 * l).collect(), 4),
            (vec![0x1000, 0x1000 + 63 * 32, 0x1000 + 32], 4),
            (vec![u64::MAX - 40, u64::MAX - 100], 8),
            (vec![5, 3, 0x1000], 4),
            (vec![40 * 32, 9 * 32, 72 * 32 - 1], 2),
            (vec![40 * 32, 8 * 32], 4),
            (vec![40 * 32 + 31, 71 * 32], 2),
            (vec![0x400, 0x400 + 32 * 32 - 16], 64),
        ];
        for (addrs, bytes) in cases {
            coalesce(&addrs, bytes, 32, &mut out);
            assert_eq!(out, coalesce_slow(&addrs, bytes, 32), "{addrs:?} x {bytes}");
        }
    }

    #[test]
    fn fastmod_is_mod() {
        for d in [2u32, 3, 7, 48, 1000, 3072, 49_152, u32::MAX] {
            let m = magic(d as u64);
            for a in [0u32, 1, 2, 3, d - 1, d, d.saturating_add(1), 12_345_678, u32::MAX - 1, u32::MAX] {
                assert_eq!(fastmod(a, m, d), a % d, "{a} % {d}");
            }
            for k in 0..10_000u32 {
                let a = k.wrapping_mul(2_654_435_761);
                assert_eq!(fastmod(a, m, d), a % d, "{a} % {d}");
            }
        }
    }
}
