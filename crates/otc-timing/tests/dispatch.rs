//! `gpu.cta_dispatch` (docs/timing.md section 3.1): "static" places CTA i on SM i % num_sms;
//! "dynamic" gives the next CTA to the SM that has room for it first (ties: round-robin after
//! the SM that got the previous CTA), as GPGPU-Sim's `gpgpu_sim::issue_block2core` does.

mod common;

use common::*;
use otc_timing::{
    simulate, ConfigError, ConfigValue, CtaTrace, Simulator, Stats, TimelineKind, TimelineSpec, TimingConfig,
    TimingError, WarpTrace,
};

/// A warp of `n` dependent IADD3s (4 cycles each on the v100 machine): a CTA of length ~4n.
fn chain(n: usize) -> WarpTrace {
    warp(&repeat(n.max(1), |_| "IADD3 R1, R1, R2, RZ ;".into()), all)
}

/// One loop trip of global and shared loads, FFMAs, a store and a barrier, `trips` times: CTA
/// `c`'s warps touch memory of their own (the L1 sees which CTAs share an SM).
fn memory_warp(c: u64, w: u32, trips: usize) -> WarpTrace {
    let body = "LDG.E.SYS R20, [R2] ;\nLDS R21, [R6] ;\nFFMA R22, R20, R21, R22 ;\nFFMA R23, R22, R21, R23 ;\n\
                STG.E.SYS [R4], R23 ;\nBAR.SYNC 0x0 ;\nIADD3 R2, R2, 0x80, RZ ;";
    let insts = assemble(body);
    let mut out = WarpTrace::new(w);
    for trip in 0..trips {
        let one = warp_of(&insts, w, |_, inst| match inst.def().mnemonic {
            "LDG" | "STG" => Ev::Addrs((0..32u64).map(|l| 0x1_0000 + 4096 * c + 512 * trip as u64 + 8 * l).collect()),
            "LDS" => Ev::Addrs((0..32u64).map(|l| 4 * ((l * (w as u64 + 1)) % 64)).collect()),
            _ => Ev::All,
        });
        append(&mut out, one);
    }
    out
}

fn with_index(i: u64, mut c: CtaTrace) -> CtaTrace {
    c.cta = [i as u32, 0, 0];
    c
}

/// CTA i: one warp of a dependent chain of `len(i)` instructions.
fn chains(n: u64, len: impl Fn(u64) -> usize) -> Vec<CtaTrace> {
    (0..n).map(|i| with_index(i, cta(vec![chain(len(i))]))).collect()
}

/// CTA i: 3 warps of memory loops whose trip counts vary with i and the warp.
fn memory_ctas(n: u64) -> Vec<CtaTrace> {
    (0..n)
        .map(|i| {
            let trips = |w: u32| 1 + ((i * 7 + w as u64 * 3) % 5) as usize;
            with_index(i, cta((0..3).map(|w| memory_warp(i, w, trips(w))).collect()))
        })
        .collect()
}

fn machine(sms: u32, dispatch: &str, extra: &[(&str, i64)]) -> TimingConfig {
    let mut cfg = TimingConfig::v100();
    cfg.set("gpu.num_sms", sms).unwrap();
    cfg.set("gpu.cta_dispatch", dispatch).unwrap();
    for &(k, v) in extra {
        cfg.set(k, v).unwrap();
    }
    cfg
}

/// The statistics and, per CTA (by its index in cta[0]), (SM, launch cycle, done cycle).
fn run(cfg: &TimingConfig, ctas: Vec<CtaTrace>, batch: usize, segment: usize) -> (Stats, Vec<(u32, u64, u64)>) {
    let n = ctas.len() as u64;
    let mut sim = Simulator::new(cfg, n).unwrap();
    sim.record_timeline(TimelineSpec { from: 0, to: u64::MAX, sms: (0..cfg.gpu.num_sms).collect() });
    sim.set_batch(batch);
    sim.set_segment_events(segment);
    for c in ctas {
        sim.push(c).unwrap();
    }
    let mut stats = sim.finish().unwrap();
    let mut placed = vec![(u32::MAX, 0, 0); n as usize];
    for e in &stats.timeline.take().unwrap().events {
        if let TimelineKind::Cta { cta, .. } = e.kind {
            placed[cta[0] as usize] = (e.sm, e.start, e.end);
        }
    }
    assert!(placed.iter().all(|p| p.0 != u32::MAX), "every CTA ran: {placed:?}");
    (stats, placed)
}

/// Check the dynamic rule on a run's placement: CTAs in order, each to the SM free first
/// (free: its previous CTA's done cycle + sm.cta_launch_cycles; one CTA per SM at a time), ties
/// round-robin after the SM that got the previous CTA; launched when that SM is free.
fn check_earliest_free(name: &str, cfg: &TimingConfig, placed: &[(u32, u64, u64)]) {
    let n = cfg.gpu.num_sms as usize;
    let delay = cfg.sm.cta_launch_cycles as u64;
    let mut free = vec![0u64; n];
    let mut last = n - 1;
    for (i, &(sm, start, end)) in placed.iter().enumerate() {
        let t = *free.iter().min().unwrap();
        let want = (1..=n).map(|k| (last + k) % n).find(|&s| free[s] == t).unwrap();
        assert_eq!(sm as usize, want, "{name}: CTA {i} goes to the SM free first (free cycles {free:?})");
        assert_eq!(start, t, "{name}: CTA {i} launches when its SM is free");
        free[want] = end + delay;
        last = want;
    }
}

#[test]
fn static_is_the_default_and_keeps_round_robin_placement() {
    assert_eq!(TimingConfig::v100().get("gpu.cta_dispatch").unwrap(), ConfigValue::Str("static".into()));
    assert_eq!(TimingConfig::machine("dstc-paper").unwrap().get("gpu.cta_dispatch").unwrap(), "static".into());
    let cfg = machine(4, "static", &[("sm.max_ctas", 1)]);
    let (_, placed) = run(&cfg, chains(16, |i| if i % 4 == 0 { 200 } else { 20 }), 8, 0);
    for (i, p) in placed.iter().enumerate() {
        assert_eq!(p.0 as usize, i % 4, "static: CTA {i} on SM {}", i % 4);
    }
}

#[test]
fn dynamic_first_wave_is_static_round_robin() {
    // (name, SMs, extra keys, CTAs, CTA length by index): every SM takes its share of the first
    // wave at cycle 0 in round-robin order, whatever the CTAs' lengths.
    type Case = (&'static str, u32, &'static [(&'static str, i64)], u64, fn(u64) -> usize);
    let cases: [Case; 4] = [
        ("uniform, 1 CTA per SM", 4, &[("sm.max_ctas", 1)], 12, |_| 40),
        ("uniform, 3 CTAs per SM", 4, &[("sm.max_ctas", 3)], 30, |_| 40),
        ("uneven, 2 CTAs per SM, 5 SMs", 5, &[("sm.max_ctas", 2)], 23, |i| 10 + (i as usize * 37) % 90),
        ("uniform, 8 CTAs per SM (one wave)", 3, &[], 24, |_| 30),
    ];
    for (name, sms, extra, n, len) in cases {
        let stat = machine(sms, "static", extra);
        let dynm = machine(sms, "dynamic", extra);
        let (s_stats, s_placed) = run(&stat, chains(n, len), 8, 0);
        let (d_stats, d_placed) = run(&dynm, chains(n, len), 8, 0);
        let per_sm = stat.sm.max_ctas.min(64) as usize;
        for i in 0..(sms as usize * per_sm).min(n as usize) {
            assert_eq!(d_placed[i], s_placed[i], "{name}: CTA {i} of the first wave");
        }
        if name.starts_with("uniform") {
            // equal CTAs free every SM at once: the round-robin goes on exactly as static
            assert_eq!(d_placed, s_placed, "{name}");
            assert_eq!(d_stats, s_stats, "{name}");
        }
    }
}

#[test]
fn dynamic_gives_each_later_cta_to_the_earliest_free_sm() {
    // (name, SMs, CTAs, CTA length by index, launch delay): long and short CTAs; static
    // round-robin stacks the long ones on the same SMs.
    type Case = (&'static str, u32, u64, fn(u64) -> usize, i64);
    let cases: [Case; 4] = [
        ("every 4th long, 4 SMs", 4, 16, |i| if i % 4 == 0 { 400 } else { 40 }, 0),
        ("every 4th long, 4 SMs, launch delay 7", 4, 16, |i| if i % 4 == 0 { 400 } else { 40 }, 7),
        ("lengths from the index, 3 SMs", 3, 20, |i| 20 + ((i * i * 13) % 11) as usize * 30, 0),
        ("two in five long, 5 SMs, launch delay 3", 5, 25, |i| if i % 5 < 2 { 300 } else { 25 }, 3),
    ];
    for (name, sms, n, len, delay) in cases {
        let extra = [("sm.max_ctas", 1), ("sm.cta_launch_cycles", delay)];
        let stat = machine(sms, "static", &extra);
        let dynm = machine(sms, "dynamic", &extra);
        let (s, _) = run(&stat, chains(n, len), 8, 0);
        let (d, placed) = run(&dynm, chains(n, len), 8, 0);
        check_earliest_free(name, &dynm, &placed);
        assert!(
            d.counter("cycles") < s.counter("cycles"),
            "{name}: dynamic {} cycles < static {}",
            d.counter("cycles"),
            s.counter("cycles")
        );
        for k in ["warp_instructions", "ctas", "issue_cycles"] {
            assert_eq!(d.counter(k), s.counter(k), "{name}: {k} is the same work");
        }
    }
}

#[test]
fn dynamic_statistics_do_not_depend_on_threads_batch_or_parts() {
    // memory loops of varied lengths, several CTAs per SM, the L1 shared by the CTAs of an SM
    let cfg = machine(3, "dynamic", &[("sm.max_ctas", 2)]);
    let static_cfg = machine(3, "static", &[("sm.max_ctas", 2)]);
    let n = 40;
    let one = {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        pool.install(|| run(&cfg, memory_ctas(n), 24, 0))
    };
    assert_eq!(one.0.counter("ctas"), n);
    let (s, s_placed) = run(&static_cfg, memory_ctas(n), 24, 0);
    assert_ne!(one.1, s_placed, "uneven CTAs: dynamic places some differently");
    assert_eq!(one.0.counter("warp_instructions"), s.counter("warp_instructions"));
    // (threads, batch, events per part)
    for (threads, batch, segment) in [(2, 24, 0), (1, 1, 0), (2, 1, 0), (2, 5, 0), (2, 1000, 0), (1, 7, 3), (2, 2, 5)] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let got = pool.install(|| run(&cfg, memory_ctas(n), batch, segment));
        assert_eq!(got.1, one.1, "placement: {threads} threads, batch {batch}, parts of {segment}");
        assert_eq!(got.0, one.0, "statistics: {threads} threads, batch {batch}, parts of {segment}");
    }
    // the plain entry point agrees
    assert_eq!(simulate(&cfg, memory_ctas(n), n).unwrap().counter("cycles"), one.0.counter("cycles"));
}

#[test]
fn bad_dispatch_values_are_rejected_naming_the_key() {
    let named = |e: ConfigError| {
        let text = e.to_string();
        assert!(text.contains("gpu.cta_dispatch"), "{text}");
        text
    };
    let mut cfg = TimingConfig::v100();
    // (value, what the message says)
    let cases: [(ConfigValue, &str); 4] = [
        ("round-robin".into(), "static or dynamic"),
        ("".into(), "static or dynamic"),
        (ConfigValue::Int(1), "\"static\" or \"dynamic\""),
        (ConfigValue::Bool(true), "\"static\" or \"dynamic\""),
    ];
    for (v, says) in cases {
        let text = named(cfg.set("gpu.cta_dispatch", v.clone()).unwrap_err());
        assert!(text.contains(says), "{v}: {text}");
        assert_eq!(cfg.gpu.cta_dispatch, otc_timing::CtaDispatch::Static, "left unchanged");
    }
    named(TimingConfig::from_toml_str("[gpu]\ncta_dispatch = \"greedy\"\n").unwrap_err());
    cfg.set_text("gpu.cta_dispatch", "Dynamic").unwrap();
    assert_eq!(cfg.get("gpu.cta_dispatch").unwrap(), "dynamic".into());
    assert!(cfg.to_toml().contains("cta_dispatch = \"dynamic\""));
    // sampled timing needs static placement
    let mut sim = Simulator::new(&cfg, 10).unwrap();
    match sim.set_sample(2) {
        Err(TimingError::Config(e)) => assert!(named(e).contains("sampled"), "sampled timing refused"),
        other => panic!("sampled timing with dynamic dispatch: {other:?}"),
    }
    assert!(Simulator::new(&TimingConfig::v100(), 10).unwrap().set_sample(2).is_ok());
}

#[test]
fn dynamic_refuses_ctas_of_different_shapes() {
    let cfg = machine(2, "dynamic", &[]);
    let mut sim = Simulator::new(&cfg, 2).unwrap();
    sim.push(cta(vec![chain(5)])).unwrap();
    let err = sim.push(cta(vec![chain(5), chain(5)])).unwrap_err();
    assert!(err.to_string().contains("gpu.cta_dispatch"), "{err}");
}
