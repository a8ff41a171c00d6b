//! Synthetic traces from assembler text, for the model's tests.
//!
//! `warp(text, |i, inst| Ev::...)` assembles straight-line code with otc-asm (own dialect or a
//! cuobjdump listing) and records one event per instruction, in order, at pc = 16 * i, with all
//! 32 lanes active; the closure chooses per instruction what the functional run would have seen.
#![allow(dead_code)]

use otc_isa::Instruction;
use otc_timing::{CtaTrace, EventKind, EventTemplate, TimingConfig, WarpTrace};

/// What the "functional run" saw for one instruction.
pub enum Ev {
    /// All lanes executed (memory instructions get addresses `lane * 4`).
    All,
    /// Only these lanes executed (0: predicated off).
    Exec(u32),
    /// All lanes executed, with these addresses (one per lane).
    Addrs(Vec<u64>),
    /// A sparse OHMMA landing at rows x cols.
    Sparse { exec: u32, rows: u32, cols: u32 },
    /// Leave the instruction out of the trace.
    Drop,
    /// A sequenced SpWMMA with these buffer bitmaps.
    Seq { exec: u32, abm: u32, bbm: u32 },
}

pub fn assemble(text: &str) -> Vec<Instruction> {
    let src = if text.contains(".kernel") || text.contains("Function :") {
        text.to_string()
    } else {
        format!(".kernel k\n{text}\n")
    };
    let p = otc_asm::assemble(&src, "test.sass").unwrap_or_else(|e| panic!("{e}\n{src}"));
    p.kernels[0].instructions.clone()
}

pub fn warp_of(insts: &[Instruction], warp_in_cta: u32, mut f: impl FnMut(usize, &Instruction) -> Ev) -> WarpTrace {
    let mut w = WarpTrace::new(warp_in_cta);
    for (i, inst) in insts.iter().enumerate() {
        let tpl = EventTemplate::new(inst);
        let pc = 16 * i as u32;
        let full = u32::MAX;
        let is_mem = matches!(tpl.proto().kind, EventKind::Mem { .. });
        match f(i, inst) {
            Ev::Drop => {}
            Ev::All if is_mem => w.push_mem(&tpl, pc, full, full, (0..32u64).map(|l| l * 4)),
            Ev::All => w.push(tpl.event(pc, full, full)),
            Ev::Exec(m) if is_mem => {
                w.push_mem(&tpl, pc, full, m, (0..32u64).filter(|l| m & (1 << l) != 0).map(|l| l * 4))
            }
            Ev::Exec(m) => w.push(tpl.event(pc, full, m)),
            Ev::Addrs(a) => w.push_mem(&tpl, pc, full, full, a),
            Ev::Sparse { exec, rows, cols } => w.push(tpl.sparse_ohmma(pc, full, exec, rows, cols)),
            Ev::Seq { exec, abm, bbm } => w.push(tpl.spwmma_seq(pc, full, exec, abm, bbm)),
        }
    }
    w
}

/// Append the events of `one` to `out` (its memory events' addresses moved past `out`'s): a
/// warp that runs `one` after what `out` ran, e.g. another loop trip.
pub fn append(out: &mut WarpTrace, one: WarpTrace) {
    let base = out.addrs.len() as u32;
    out.addrs.extend_from_slice(&one.addrs);
    for mut e in one.events {
        if let EventKind::Mem { addrs, .. } = &mut e.kind {
            *addrs += base;
        }
        out.events.push(e);
    }
}

pub fn warp(text: &str, f: impl FnMut(usize, &Instruction) -> Ev) -> WarpTrace {
    warp_of(&assemble(text), 0, f)
}

pub fn all(_: usize, _: &Instruction) -> Ev {
    Ev::All
}

pub fn cta(warps: Vec<WarpTrace>) -> CtaTrace {
    let threads = 32 * warps.len() as u32;
    CtaTrace { cta: [0, 0, 0], warps, shared_bytes: 0, regs_per_thread: 32, threads }
}

/// Issue cycles of one CTA alone on an SM, by warp then event.
pub fn issue_cycles(cfg: &TimingConfig, c: CtaTrace) -> (otc_timing::Stats, Vec<Vec<u64>>) {
    let nw = c.warps.len();
    let (stats, log) = otc_timing::issue_timeline(cfg, c).unwrap();
    let mut out = vec![Vec::new(); nw];
    for rec in log {
        let w = rec.warp as usize;
        if out[w].len() <= rec.event {
            out[w].resize(rec.event + 1, u64::MAX);
        }
        out[w][rec.event] = rec.cycle;
    }
    (stats, out)
}

pub fn diffs(v: &[u64]) -> Vec<u64> {
    v.windows(2).map(|w| w[1] - w[0]).collect()
}

/// `n` copies of a line with `{i}` replaced by the copy index and `{r}` by a register base.
pub fn repeat(n: usize, f: impl Fn(usize) -> String) -> String {
    (0..n).map(f).collect::<Vec<_>>().join("\n")
}

/// The bitmap of the `n` lowest bits (all 32 for n >= 32).
pub fn low_bits(n: u32) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}
