//! A CTA fed to its SM in parts while it runs (issue 16, `Simulator::set_segment_events`,
//! src/feed.rs): cut anywhere, the SM gives every issue the cycle it gets from the whole trace.

mod common;

use common::*;
use otc_timing::{CtaTrace, IssueRecord, Simulator, Stats, TimingConfig, WarpTrace};

/// One loop trip of warp `w`: global and shared loads, OHMMAs of which some are predicated off
/// (`w` and the trip choose which: runs of them end anywhere), a store and a barrier.
fn body() -> String {
    let mut s = String::from("LDG.E.SYS R20, [R2] ;\nLDS R21, [R6] ;\n");
    s += &repeat(12, |i| {
        let d = 8 + 4 * (i % 2);
        format!(
            "HMMA.OHMMA.8161.F32.F32 {{R{d}, R{}, R{}, R{}}}, {{R40, R41}}, {{R48, R49}}, {{R{d}, R{}, R{}, R{}}} ;",
            d + 1,
            d + 2,
            d + 3,
            d + 1,
            d + 2,
            d + 3
        )
    });
    s += "\nFFMA R22, R20, R21, R22 ;\nSTG.E.SYS [R4], R22 ;\nBAR.SYNC 0x0 ;\nIADD3 R2, R2, 0x80, RZ ;";
    s
}

/// Warp `w` of CTA `c`: `trips` trips of the body (each trip after the first jumps back to pc 0).
fn warp_trace(c: u64, w: u32, trips: usize) -> WarpTrace {
    let insts = assemble(&body());
    let mut out = WarpTrace::new(w);
    for trip in 0..trips {
        let off = |i: usize| (i + w as usize * 3 + trip * 5 + c as usize) % 7 < 3;
        let one = warp_of(&insts, w, |i, inst| match inst.def().mnemonic {
            "HMMA" if off(i) => Ev::Exec(0),
            "LDG" | "STG" => Ev::Addrs((0..32u64).map(|l| 0x1_0000 + 4096 * c + 512 * trip as u64 + 8 * l).collect()),
            "LDS" => Ev::Addrs((0..32u64).map(|l| 4 * ((l * (w as u64 + 1)) % 64)).collect()),
            _ => Ev::All,
        });
        append(&mut out, one);
    }
    out
}

/// 5 CTAs of 3 warps (of 1, 2 and 3 trips: warps end at different times).
fn traces() -> Vec<CtaTrace> {
    (0..5).map(|c| cta((0..3).map(|w| warp_trace(c, w, 1 + w as usize)).collect())).collect()
}

fn run(cfg: &TimingConfig, segment: usize) -> (Stats, Vec<Vec<IssueRecord>>) {
    let ctas = traces();
    let mut sim = Simulator::new(cfg, ctas.len() as u64).unwrap();
    sim.record_issues();
    sim.set_segment_events(segment);
    sim.set_batch(2);
    for c in ctas {
        sim.push(c).unwrap();
    }
    sim.finish_with_timeline().unwrap()
}

#[test]
fn parts_of_any_size_give_every_issue_the_cycle_of_the_whole_trace() {
    let mut two_sms = TimingConfig::v100();
    two_sms.set("gpu.num_sms", 2i64).unwrap();
    let mut dropping = TimingConfig::machine("dstc-paper").unwrap();
    dropping.set("gpu.num_sms", 2i64).unwrap();
    for (name, cfg) in [("v100, 2 SMs", &two_sms), ("dstc-paper (drops predicated-off OHMMAs), 2 SMs", &dropping)] {
        let (whole, whole_log) = run(cfg, 0);
        assert!(whole.counter("warp_instructions") > 0, "{name}");
        if name.starts_with("dstc") {
            assert!(whole.counter("issue.removed") > 0, "{name}: some are removed");
        }
        for segment in [1, 2, 3, 5, 7, 16, 64, 1 << 30] {
            let (got, log) = run(cfg, segment);
            assert!(log == whole_log, "{name}, parts of {segment}: the issue cycles differ");
            assert_eq!(got.to_json(), whole.to_json(), "{name}, parts of {segment}: statistics");
        }
    }
}
