//! The HMMA.884 issue pattern of a wmma 16x16x16 (mixed precision) against the one Raihan et al.
//! measured on a Titan V (ISPASS 2019; shared/reference/volta-sm70-notes.md section 5):
//! issue at cycles 10,12,14,18 | 20,22,24,28 | 30,32,34,38 | 40,42,44,(48), complete at 54.
//!
//! Run with `cargo test -p otc-timing --test raihan -- --nocapture` to print the patterns quoted
//! in docs/timing.md.

mod common;

use common::*;
use otc_timing::TimingConfig;

const RAIHAN: [u64; 16] = [10, 12, 14, 18, 20, 22, 24, 28, 30, 32, 34, 38, 40, 42, 44, 48];

/// HMMA issue cycles of one warp running `insts` (straight-line up to its first EXIT), with the
/// first HMMA moved to cycle 10 like Raihan's table; plus the cycle the last HMMA's result is
/// ready and the tensor busy cycles.
fn hmma_pattern(cfg: &TimingConfig, insts: &[otc_isa::Instruction]) -> (Vec<u64>, u64, u64) {
    let end = insts.iter().position(|i| i.def().mnemonic == "EXIT").map(|p| p + 1).unwrap_or(insts.len());
    let insts = &insts[..end];
    let w = warp_of(insts, 0, |_, inst| match inst.def().mnemonic {
        "LDG" | "STG" => {
            let bytes = match inst.modifier("size") {
                "128" => 16,
                "64" => 8,
                _ => 4,
            };
            Ev::Addrs((0..32u64).map(|l| 0x1000_0000 + l * bytes).collect())
        }
        _ => Ev::All,
    });
    let (stats, log) = otc_timing::issue_timeline(cfg, cta(vec![w])).unwrap();
    let hmma: Vec<(u64, u64)> =
        log.iter().filter(|r| insts[r.event].def().mnemonic == "HMMA").map(|r| (r.cycle, r.complete)).collect();
    let first = hmma[0].0;
    let rel: Vec<u64> = hmma.iter().map(|c| c.0 - first + 10).collect();
    let done = hmma.iter().map(|c| c.1).max().unwrap() - first + 10;
    (rel, done, stats.counter("tensor.busy_cycles"))
}

fn listing_kernel(name: &str) -> Vec<otc_isa::Instruction> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/sass/wmma.sass");
    let text = std::fs::read_to_string(path).unwrap();
    let p = otc_asm::assemble(&text, "wmma.sass").unwrap();
    p.kernel(name).unwrap().instructions.clone()
}

fn set_starts(v: &[u64]) -> Vec<u64> {
    v.iter().step_by(4).copied().collect()
}

#[test]
fn wmma_issue_pattern_against_raihan() {
    let listing = listing_kernel("wmma_f16_f32_rowcol");
    let mut with_bits = TimingConfig::v100();
    with_bits.set("scheduler.use_control_bits", true).unwrap();
    let sb = TimingConfig::v100();

    let (real_ctl, real_ctl_done, busy1) = hmma_pattern(&with_bits, &listing);
    let (real_sb, real_sb_done, busy2) = hmma_pattern(&sb, &listing);
    let synth = assemble(&{
        // The same 16 HMMAs alone (registers as in the listing), no control bits.
        let mut v = Vec::new();
        for i in listing.iter().filter(|i| i.def().mnemonic == "HMMA") {
            let mut i = i.clone();
            i.control = None;
            v.push(i.text());
        }
        v.iter().map(|t| format!("{t} ;")).collect::<Vec<_>>().join("\n")
    });
    let (synth_sb, synth_done, busy3) = hmma_pattern(&sb, &synth);

    println!("Raihan et al. (Titan V, measured):      {RAIHAN:?} complete 54");
    println!("model, nvcc listing, control bits:      {real_ctl:?} complete {real_ctl_done}");
    println!("model, nvcc listing, scoreboard:        {real_sb:?} complete {real_sb_done}");
    println!("model, HMMAs alone, scoreboard:         {synth_sb:?} complete {synth_done}");
    println!("set starts: Raihan {:?}, control bits {:?}", set_starts(&RAIHAN), set_starts(&real_ctl));
    let mae = |v: &[u64]| v.iter().zip(RAIHAN).map(|(&a, b)| a.abs_diff(b)).sum::<u64>() as f64 / 16.0;
    println!("mean |model - Raihan| per HMMA: control bits {:.2}, scoreboard {:.2}", mae(&real_ctl), mae(&real_sb));

    for b in [busy1, busy2, busy3] {
        assert_eq!(b, 32, "a wmma 16x16x16 is 32 tensor cycles");
    }
    assert_eq!(real_ctl.len(), 16);
    // HMMAs alone, scoreboarded: one STEP every 2 cycles (the tensor pipe's rate).
    assert_eq!(diffs(&synth_sb), vec![2; 15]);
    // With the compiler's control bits the sets are separated by the scoreboard wait on each
    // set's STEP3, as in Raihan's measurement: within a set 2 cycles apart, sets 8-12 apart.
    let d = diffs(&real_ctl);
    for (i, &x) in d.iter().enumerate() {
        if i % 4 == 3 {
            assert!((8..=12).contains(&(real_ctl[i + 1] - real_ctl[i - 3])), "set period {d:?}");
        } else {
            assert_eq!(x, 2, "within a set: {d:?}");
        }
    }
    assert!(mae(&real_ctl) <= 4.0);
}
