//! Co-simulation (issue 16; docs/timing.md "Bounding it: co-simulation"): the cycle model reads
//! each warp's events while the functional run makes them, so that what it holds per resident
//! CTA is one chunk per warp, whatever the kernel's length.
//!
//! The CTAs are opened on the model's SMs in linear order (CTA `i` on SM `i % gpu.num_sms`, as
//! `Simulator::push` places them) before they run. In each round every SM runs until it needs a
//! CTA or events (`Simulator::run_sms`, SMs in parallel); the driver then serves the requests in
//! SM order, each with one chunk of the CTA's warp-instructions ([`CHUNK_PER_WARP`] per warp)
//! run as a [`CtaRun`] (the chunks of a round on the pool's threads) and handed over as a segment (`Simulator::give`, which looks its
//! accesses up in the L2). Everything happens in that order, so results and statistics are the
//! same for any host thread count.
//!
//! Bits: every windowed CTA runs on a [`SpecView`] of the memory as it was when the launch
//! started; CTAs commit in linear order as soon as they and every CTA before them have ended,
//! into an overlay applied to memory when the launch ends. The result is that of running the
//! CTAs one after another (`device.rs`) unless a CTA read what an earlier one wrote (a byte of
//! an allocation that tracks its reads, or any byte of one that does not: conservative) or a
//! CTA faulted, hit the watchdog or the launch's instruction budget: then the launch is given up
//! ([`Outcome::Fallback`]; memory untouched) and the device runs it the linear way, which gives
//! exactly the sequential result or fault, with the model fed whole CTAs. Launches with global
//! or generic atomics or reductions never co-simulate ([`eligible`]): their CTAs observe each
//! other by design.

use std::collections::BTreeMap;

use otc_timing::{Preparer, Request, Simulator, TimingError};
use rayon::prelude::*;

use crate::cta::{CtaRun, Launch, WARP_SLICE};
use crate::decode::{Op, OpKind, Space};
use crate::memory::{bits_intersect, set_bit, GlobalMemory, PageMap, PageMask, SpecPage, SpecPages, SpecView, PAGE};
use crate::stats::Counters;

/// Warp-instructions per warp in each chunk a CTA runs for its SM.
pub(crate) const CHUNK_PER_WARP: u64 = WARP_SLICE as u64;

/// Whether a launch of `ops` may co-simulate: no global or generic atomics or reductions.
pub(crate) fn eligible(ops: &[Op]) -> bool {
    !ops.iter().any(|op| matches!(op.kind, OpKind::Atom { space, .. } if space != Space::Shared))
}

/// How a co-simulated launch ended.
pub(crate) enum Outcome {
    /// Every CTA committed: the writes to apply (`apply`) and the counters.
    Done { overlay: Overlay, counters: Counters },
    /// Run the launch the linear way instead (why, for the docs and tests).
    Fallback(&'static str),
    /// The cycle model failed.
    Model(TimingError),
}

/// The bytes written by the committed CTAs, by page, with their masks.
#[derive(Default)]
pub(crate) struct Overlay {
    data: PageMap<Box<[u8]>>,
    written: PageMap<PageMask>,
    /// Allocations written (bit per allocation index).
    allocs: Vec<u64>,
}

/// A page an ended CTA read or wrote, kept small while it waits to commit: the bytes it read
/// (none: `None`), those it wrote and their values in ascending order. (Its `SpecPage` holds a
/// copy of the whole page: a 128-row C tile touches 128 pages.)
struct CompactPage {
    key: u64,
    read: Option<Box<PageMask>>,
    written: Option<Box<PageMask>>,
    bytes: Vec<u8>,
}

/// The positions of the set bits of a page mask, ascending.
fn mask_bytes(mask: &PageMask) -> impl Iterator<Item = usize> + '_ {
    mask.iter().enumerate().flat_map(|(i, &bits)| {
        let mut b = bits;
        std::iter::from_fn(move || {
            (b != 0).then(|| {
                let j = i * 64 + b.trailing_zeros() as usize;
                b &= b - 1;
                j
            })
        })
    })
}

fn compact(pages: SpecPages) -> Vec<CompactPage> {
    pages
        .into_iter()
        .filter_map(|(key, p)| {
            let read = p.read.iter().any(|&w| w != 0).then_some(p.read);
            let (written, bytes) = match (p.data, p.written) {
                (Some(d), Some(w)) => {
                    let bytes = mask_bytes(&w).map(|j| d[j]).collect();
                    (Some(w), bytes)
                }
                _ => (None, Vec::new()),
            };
            (read.is_some() || written.is_some()).then_some(CompactPage { key, read, written, bytes })
        })
        .collect()
}

impl Overlay {
    /// Whether a CTA that read `pages` read a byte of the overlay.
    fn conflicts(&self, pages: &[CompactPage]) -> bool {
        pages.iter().any(|p| match (&p.read, self.written.get(&p.key)) {
            (Some(r), Some(w)) => r.iter().zip(w.iter()).any(|(r, w)| r & w != 0),
            _ => false,
        })
    }

    /// Add a committed CTA's writes (later CTAs' bytes replace earlier ones').
    fn merge(&mut self, pages: Vec<CompactPage>) {
        for p in pages {
            let Some(w) = p.written else { continue };
            set_bit(&mut self.allocs, (p.key >> 40) as usize);
            let mask = self.written.entry(p.key).or_insert([0; PAGE / 64]);
            let dst = self.data.entry(p.key).or_insert_with(|| vec![0u8; PAGE].into_boxed_slice());
            for (j, &v) in mask_bytes(&w).zip(&p.bytes) {
                dst[j] = v;
            }
            for (m, &bits) in mask.iter_mut().zip(w.iter()) {
                *m |= bits;
            }
        }
    }

    /// Apply the writes to memory.
    pub fn apply(self, mem: &mut GlobalMemory) {
        let Overlay { data, mut written, .. } = self;
        let pages: SpecPages = data
            .into_iter()
            .map(|(k, d)| {
                let w = written.remove(&k).unwrap_or([0; PAGE / 64]);
                (k, SpecPage { data: Some(d), written: Some(Box::new(w)), read: Box::new([0; PAGE / 64]) })
            })
            .collect();
        SpecView::commit_pages(pages, mem, &mut PageMap::default());
    }
}

/// A running CTA of the window.
struct Windowed<'l, 'm> {
    run: CtaRun<'l>,
    view: SpecView<'m>,
}

/// An ended CTA waiting for the CTAs before it to commit: its writes and what it read.
struct Ended {
    pages: Vec<CompactPage>,
    untracked_reads: Vec<u64>,
}

/// Co-simulate the launch `l` of `total` CTAs against `base` (unchanged: see [`Outcome`]), with
/// the launch's instruction `budget`, the model `sim` and its `preparer`.
pub(crate) fn run(
    l: &Launch<'_>,
    total: u64,
    base: &GlobalMemory,
    budget: u64,
    sim: &mut Simulator,
    preparer: &Preparer,
    num_sms: u64,
) -> Outcome {
    if sim.dispatches_dynamically() {
        // the model opens CTA i on SM i % num_sms before it runs; dynamic dispatch places a CTA
        // only when an SM frees up
        return Outcome::Fallback("dynamic CTA dispatch (gpu.cta_dispatch) places CTAs as SMs free up");
    }
    // Reads of every allocation are recorded as "the CTA read it" (none is tracked byte by byte).
    let tracked = vec![false; base.num_allocations()];
    let n_ops = l.ops.len();
    let chunk = CHUNK_PER_WARP * l.warps_per_cta() as u64;
    let mut window: BTreeMap<u64, Windowed<'_, '_>> = BTreeMap::new();
    let mut ended: BTreeMap<u64, Ended> = BTreeMap::new();
    let mut overlay = Overlay::default();
    // the counters are sums: every chunk adds to them (dropped with the launch on a fallback)
    let mut counters = Counters::new(n_ops);
    let (mut opened, mut committed, mut executed) = (0u64, 0u64, 0u64);
    let open = |sim: &mut Simulator, opened: &mut u64| -> Result<(), TimingError> {
        let to = (*opened + num_sms).min(total);
        while *opened < to {
            sim.open(preparer, l.cta_index(*opened), l.shared_bytes, l.num_regs, l.threads_per_cta())?;
            *opened += 1;
        }
        if *opened == total {
            sim.end_stream();
        }
        Ok(())
    };
    if let Err(e) = open(sim, &mut opened) {
        return Outcome::Model(e);
    }
    loop {
        let requests = sim.run_sms();
        if requests.iter().all(|r| *r == Request::Done) {
            break;
        }
        // The round's chunks: each on its own CTA, on the pool's threads; what they hand over
        // goes in in SM order, so everything is as if they ran one after another.
        let mut round: Vec<(u64, Windowed<'_, '_>)> = requests
            .iter()
            .filter_map(|r| match *r {
                Request::Events(index) => Some(index),
                _ => None,
            })
            .map(|index| {
                let w = window.remove(&index).unwrap_or_else(|| Windowed {
                    run: CtaRun::segmented(l, index, budget),
                    view: SpecView::new(base, &tracked),
                });
                (index, w)
            })
            .collect();
        // A CTA that ended is compacted at once, on its thread: a GEMM writes its C tile in its
        // last chunk, and the whole-page copies of every CTA ending in the round would otherwise
        // be held together until the round is handed over (owmma 1024^3: +39 MiB peak RSS).
        let stepped: Vec<_> = round
            .par_iter_mut()
            .map(|(_, w)| {
                let mut c = Counters::new(n_ops);
                let out = w.run.step(l, &mut w.view, &mut c.per_inst, chunk);
                let ended = out.as_ref().map(|_| Ended {
                    pages: compact(std::mem::take(&mut w.view.pages)),
                    untracked_reads: std::mem::take(&mut w.view.untracked_reads),
                });
                (out, w.run.take_segment(), c, ended)
            })
            .collect();
        for ((index, w), (out, seg, c, ended_now)) in round.into_iter().zip(stepped) {
            counters.add(&c);
            let (seg, warps_ended) = match seg {
                Some(Ok(s)) => s,
                Some(Err(e)) => return Outcome::Model(e),
                None => return Outcome::Fallback("the launch is not recorded"),
            };
            match out {
                None => {
                    window.insert(index, w);
                }
                Some(out) => {
                    if out.fault.is_some() {
                        return Outcome::Fallback("a CTA faulted");
                    }
                    executed += out.executed;
                    if executed > budget {
                        return Outcome::Fallback("the launch ran past max_instructions");
                    }
                    drop(w);
                    ended.insert(index, ended_now.expect("compacted when it ended"));
                    // commit in linear order as far as every CTA has ended
                    while let Some(e) = ended.remove(&committed) {
                        if bits_intersect(&e.untracked_reads, &overlay.allocs) || overlay.conflicts(&e.pages) {
                            return Outcome::Fallback("a CTA read what an earlier CTA wrote");
                        }
                        overlay.merge(e.pages);
                        committed += 1;
                    }
                }
            }
            if let Err(e) = sim.give(index, seg, &warps_ended) {
                return Outcome::Model(e);
            }
        }
        if requests.contains(&Request::Cta) && opened < total {
            if let Err(e) = open(sim, &mut opened) {
                return Outcome::Model(e);
            }
        }
    }
    debug_assert_eq!(committed, total, "every CTA ran");
    Outcome::Done { overlay, counters }
}
