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
    while start < lanes.len() {
        let phase = lanes[start].0 / lanes_per_phase;
        let mut end = start;
        let mut n = 0usize;
        while end < lanes.len() && lanes[end].0 / lanes_per_phase == phase {
            let w0 = if pow2 { lanes[end].1 >> bank_shift } else { lanes[end].1 / bank_bytes as u64 };
            for k in 0..words_per_lane as u64 {
                if n < keys.len() {
                    let w = w0 + k;
                    let bank = if banks_pow2 { w & (banks64 - 1) } else { w % banks64 };
                    keys[n] = bank << 40 | (w & ((1 << 40) - 1));
                    n += 1;
                }
            }
            end += 1;
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
    // Fast path: all words in different banks: one wavefront.
    if !atomic && banks <= 64 {
        let mut mask = 0u64;
        for &k in keys.iter() {
            mask |= 1 << (k >> 40);
        }
        if mask.count_ones() as usize == keys.len() {
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

#[derive(Clone, Copy, Debug)]
struct Line {
    tag: u64,
    /// Valid sectors (bit per sector).
    valid: u32,
    lru: u64,
    /// Cycle at which each sector's data is present (in-flight fills merge into it).
    ready: [u64; 4],
}

/// A sectored set-associative cache with LRU replacement. Lines of `line_bytes`, sectors of
/// `sector_bytes`; addresses are given as sector numbers.
#[derive(Clone, Debug)]
pub struct SectorCache {
    sets: usize,
    ways: usize,
    sectors_per_line: u32,
    lines: Vec<Line>,
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
        let sectors_per_line = (line_bytes / sector_bytes).max(1);
        SectorCache {
            sets,
            ways,
            sectors_per_line,
            lines: vec![Line { tag: u64::MAX, valid: 0, lru: 0, ready: [0; 4] }; sets * ways],
            stamp: 0,
        }
    }

    /// An empty cache of no capacity (every lookup misses).
    pub fn disabled() -> SectorCache {
        SectorCache { sets: 0, ways: 0, sectors_per_line: 1, lines: Vec::new(), stamp: 0 }
    }

    fn split(&self, sector: u64) -> (u64, u32, usize) {
        let spl = self.sectors_per_line as u64;
        let line = sector / spl;
        let idx = (sector % spl) as u32;
        let set = (line % self.sets as u64) as usize;
        (line, idx, set)
    }

    fn ready_slot(idx: u32) -> usize {
        idx as usize & 3
    }

    /// Look a sector up (updates LRU on a hit).
    pub fn lookup(&mut self, sector: u64) -> Lookup {
        if self.sets == 0 {
            return Lookup::Miss;
        }
        let (tag, idx, set) = self.split(sector);
        self.stamp += 1;
        let stamp = self.stamp;
        for l in &mut self.lines[set * self.ways..(set + 1) * self.ways] {
            if l.tag == tag && l.valid & (1 << idx) != 0 {
                l.lru = stamp;
                return Lookup::Hit(l.ready[Self::ready_slot(idx)]);
            }
        }
        Lookup::Miss
    }

    /// Insert a sector whose data is present from cycle `ready` (allocating its line, evicting
    /// the least recently used line of the set).
    pub fn fill(&mut self, sector: u64, ready: u64) {
        if self.sets == 0 {
            return;
        }
        let (tag, idx, set) = self.split(sector);
        self.stamp += 1;
        let stamp = self.stamp;
        let ways = &mut self.lines[set * self.ways..(set + 1) * self.ways];
        let slot = match ways.iter().position(|l| l.tag == tag) {
            Some(i) => i,
            None => {
                let i = ways.iter().enumerate().min_by_key(|(_, l)| (l.valid != 0, l.lru)).map(|(i, _)| i).unwrap_or(0);
                ways[i] = Line { tag, valid: 0, lru: 0, ready: [0; 4] };
                i
            }
        };
        let l = &mut ways[slot];
        l.valid |= 1 << idx;
        l.lru = stamp;
        let r = Self::ready_slot(idx);
        l.ready[r] = ready;
    }

    /// Look a sector up and allocate it on a miss (data ready at cycle 0); true on a hit.
    pub fn access(&mut self, sector: u64) -> bool {
        if self.sets == 0 {
            return false;
        }
        let (tag, idx, set) = self.split(sector);
        self.stamp += 1;
        let stamp = self.stamp;
        let ways = &mut self.lines[set * self.ways..(set + 1) * self.ways];
        let mut victim = 0;
        let mut victim_key = (true, u64::MAX);
        for (i, l) in ways.iter_mut().enumerate() {
            if l.tag == tag {
                l.lru = stamp;
                let hit = l.valid & (1 << idx) != 0;
                l.valid |= 1 << idx;
                return hit;
            }
            let key = (l.valid != 0, l.lru);
            if key < victim_key {
                victim_key = key;
                victim = i;
            }
        }
        ways[victim] = Line { tag, valid: 1 << idx, lru: stamp, ready: [0; 4] };
        false
    }
}
