//! The shipped machines (configs/*.toml) and the mechanisms behind their premises, each checked to
//! change exactly what it claims: removing predicated-off tensor instructions before issue, the
//! sequenced SpWMMA, the half-rate HMMA.884 of the `dstc-paper` machine.

#![allow(clippy::type_complexity)]

mod common;

use common::*;
use otc_timing::{issue_timeline, sparse_landing, ConfigError, Stats, TimingConfig, TimingError, MACHINES};

fn with(pairs: &[(&str, &str)]) -> TimingConfig {
    let mut c = TimingConfig::v100();
    for (k, v) in pairs {
        c.set_text(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    c
}

/// (stats, issued event indices of warp 0, their issue cycles).
fn timeline(cfg: &TimingConfig, trace: otc_timing::CtaTrace) -> (Stats, Vec<usize>, Vec<u64>) {
    let (s, log) = issue_timeline(cfg, trace).unwrap();
    let events = log.iter().filter(|r| r.warp == 0).map(|r| r.event).collect();
    let cycles = log.iter().filter(|r| r.warp == 0).map(|r| r.cycle).collect();
    (s, events, cycles)
}

#[test]
fn shipped_machines_load_validate_and_differ_only_where_they_say() {
    assert_eq!(MACHINES[0].0, "v100");
    assert_eq!(TimingConfig::machine("v100").unwrap(), TimingConfig::v100());
    let paper = TimingConfig::machine("dstc-paper").unwrap();
    paper.validate().unwrap();
    let (v, p) = (TimingConfig::v100(), &paper);
    let mut differ: Vec<String> =
        otc_timing::all_keys().into_iter().filter(|k| v.get(k).unwrap() != p.get(k).unwrap()).collect();
    differ.sort();
    assert_eq!(
        differ,
        [
            "gpu.clock_mhz",
            "memory.dram_bandwidth_gbs",
            "memory.l2_bandwidth_gbs",
            "scheduler.drop_predicated_off_tensor",
            "tensor.hmma884_f16.latency",
            "tensor.hmma884_f32.cycles",
            "tensor.hmma884_f32.latency",
            "tensor.hmma884_vs.cycles",
            "tensor.hmma884_vs.latency",
            "tensor.hmma_hss4.cycles",
            "tensor.hmma_hss4.latency",
            "tensor.hmma_hss8.cycles",
            "tensor.hmma_hss8.latency",
            "tensor.hmma_sp24.cycles",
            "tensor.hmma_sp24.latency",
            "units.mem.ii"
        ],
        "dstc-paper changes exactly its premises' keys"
    );
    let f32 = p.tensor.cost(otc_isa::TensorClass::Hmma884F32);
    assert_eq!((f32.cycles, f32.latency), (4, 8), "Accel-Sim's 8,4");
    // accel-sim-clocks: per core cycle, 64 L2 sub-partitions x 32 bytes and 32 HBM channels x 16
    // bytes x 2 per 850 MHz command clock (the model turns GB/s into bytes per cycle with the clock)
    let per_cycle = |gbs: f64, c: &TimingConfig| gbs * 1000.0 / c.gpu.clock_mhz;
    assert_eq!(per_cycle(p.memory.l2_bandwidth_gbs, p), 64.0 * 32.0);
    assert!((per_cycle(p.memory.dram_bandwidth_gbs, p) - 32.0 * 16.0 * 2.0 * 850.0 / 1132.0).abs() < 1e-9);
    assert!(per_cycle(v.memory.l2_bandwidth_gbs, &v) < 1409.0 && per_cycle(v.memory.dram_bandwidth_gbs, &v) < 589.0);
    for (name, description, text) in MACHINES {
        assert!(!description.is_empty() && !description.contains('\n'), "{name}: one-line description");
        TimingConfig::from_toml_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    match TimingConfig::machine("dstc") {
        Err(ConfigError::UnknownMachine { name, known }) => {
            assert_eq!(name, "dstc");
            assert_eq!(known, "v100, dstc-paper");
        }
        other => panic!("{other:?}"),
    }
}

/// OHMMA i of the dense OWMMA text, predicated off when `off(i)`.
fn owmma_with_off(off: impl Fn(usize) -> bool) -> otc_timing::CtaTrace {
    let text = repeat(32, |i| {
        let (d, a) = (8 + 4 * (i % 2), 40 + 2 * (i % 4));
        format!("HMMA.OHMMA.8161.F32.F32 {{R{d}, R{}, R{}, R{}}}, {{R{a}, R{}}}, {{R48, R49}}, {{R{d}, R{}, R{}, R{}}} ;\nIADD3 R{}, R1, 0x1, RZ ;",
            d + 1, d + 2, d + 3, a + 1, d + 1, d + 2, d + 3, 60 + i % 8)
    });
    cta(vec![warp(&text, |i, inst| if inst.def().mnemonic == "HMMA" && off(i / 2) { Ev::Exec(0) } else { Ev::All })])
}

#[rustfmt::skip]
const DROP_CASES: &[(&str, fn(usize) -> bool)] = &[
    ("none off", |_| false),
    ("every other OHMMA off", |i| i % 2 == 1),
    ("the first 5 off (removed before the warp's first issue)", |i| i < 5),
    ("all off", |_| true),
    ("the last 7 off (the warp ends on removed ones)", |i| i >= 25),
];

#[test]
fn dropping_predicated_off_tensor_instructions_removes_exactly_their_issue_slots() {
    let drop = with(&[("scheduler.drop_predicated_off_tensor", "true")]);
    for &(name, off) in DROP_CASES {
        let (keep, ke, _) = timeline(&TimingConfig::v100(), owmma_with_off(off));
        let (gone, ge, _) = timeline(&drop, owmma_with_off(off));
        let removed: Vec<usize> = (0..32).filter(|&i| off(i)).map(|i| 2 * i).collect();
        let expect: Vec<usize> = ke.iter().copied().filter(|e| !removed.contains(e)).collect();
        assert_eq!(ke.len(), 64, "{name}: without the key every event issues");
        assert_eq!(ge, expect, "{name}: the issued events are all but the predicated-off OHMMAs");
        let n = removed.len() as u64;
        assert_eq!(gone.counter("issue.removed"), n, "{name}");
        assert_eq!(keep.counter("issue.removed"), 0, "{name}");
        assert_eq!(gone.counter("issue.cycles") + n, keep.counter("issue.cycles"), "{name}: one slot each");
        for key in [
            "warp_instructions",
            "thread_instructions",
            "ohmma.issued",
            "ohmma.executed",
            "ohmma.skipped",
            "tensor.busy_cycles",
            "tensor.macs_issued",
            "tensor.macs_executed",
            "op.HMMA",
        ] {
            assert_eq!(gone.counter(key), keep.counter(key), "{name}: {key} counts the trace's instructions");
        }
        assert!(gone.counter("cycles") <= keep.counter("cycles"), "{name}");
    }
}

#[test]
fn dropping_leaves_executed_and_non_tensor_predicated_off_instructions() {
    // A predicated-off IADD3 and an executed OHMMA still issue.
    let text = "HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R40, R41}, {R48, R49}, {R8, R9, R10, R11} ;\n\
                IADD3 R1, R1, 0x1, RZ ;\n\
                HMMA.OHMMA.8161.F32.F32 {R12, R13, R14, R15}, {R40, R41}, {R48, R49}, {R12, R13, R14, R15} ;";
    let drop = with(&[("scheduler.drop_predicated_off_tensor", "true")]);
    let (s, events, _) = timeline(&drop, cta(vec![warp(text, |i, _| if i == 1 { Ev::Exec(0) } else { Ev::All })]));
    assert_eq!(events, [0, 1, 2]);
    assert_eq!(s.counter("issue.removed"), 0);
    let (s, events, _) = timeline(&drop, cta(vec![warp(text, |i, _| if i == 2 { Ev::Exec(0) } else { Ev::All })]));
    assert_eq!(events, [0, 1]);
    assert_eq!(s.counter("issue.removed"), 1);
}

const SEQ: &str = "HMMA.SPWMMA.32321.F32.F32 {R8, R9, R10, R11, R12, R13, R14, R15}, {R16, R17, R18, R19} ;";

#[rustfmt::skip]
const SEQ_CASES: &[(u32, u32, u64)] = &[
    // nnzA, nnzB, OHMMAs run = ceil(nnzA/8) * ceil(nnzB/16)
    (32, 32, 8), (20, 11, 3), (8, 16, 1), (9, 17, 4), (0, 5, 0), (31, 1, 4), (1, 32, 2),
];

#[test]
fn sequenced_spwmma_takes_one_issue_slot_and_one_tensor_cycle_per_ohmma_it_runs() {
    let cfg = with(&[("tensor.spwmma_sequencer", "true")]);
    for &(na, nb, want) in SEQ_CASES {
        let (abm, bbm) = (low_bits(na), low_bits(nb));
        let text = repeat(4, |_| SEQ.into());
        let trace = cta(vec![warp(&text, |_, _| Ev::Seq { exec: u32::MAX, abm, bbm })]);
        let (s, events, _) = timeline(&cfg, trace);
        assert_eq!(events.len(), 4, "{na}/{nb}");
        assert_eq!(s.counter("issue.cycles"), 4, "{na}/{nb}: one issue slot per set");
        assert_eq!(s.counter("spwmma.executed"), 4);
        assert_eq!(s.counter("spwmma.ohmmas"), 4 * want, "{na}/{nb}");
        assert_eq!(s.counter("tensor.busy_cycles.ohmma"), 4 * want, "{na}/{nb}: tensor cycles = OHMMAs run");
        assert_eq!(s.counter("tensor.macs_useful"), 4 * (na * nb) as u64, "{na}/{nb}: products that land");
        // the same accumulation-buffer traffic as the predicated OHMMAs it replaces
        let mut accesses = 0;
        for n in 0..2u8 {
            for m in 0..4u8 {
                if na > 8 * m as u32 && nb > 16 * n as u32 {
                    let (r, c) = sparse_landing(abm, bbm, m, n);
                    accesses += (r.count_ones() * c.count_ones()) as u64;
                }
            }
        }
        assert_eq!(s.counter("accbuf.accesses"), 4 * accesses, "{na}/{nb}");
    }
}

#[test]
fn sequenced_spwmma_needs_the_sequencer() {
    let trace = || cta(vec![warp(SEQ, |_, _| Ev::Seq { exec: u32::MAX, abm: 1, bbm: 1 })]);
    match issue_timeline(&TimingConfig::v100(), trace()) {
        Err(TimingError::Unsupported { pc, reason }) => {
            assert_eq!(pc, 0);
            assert!(reason.contains("tensor.spwmma_sequencer"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(issue_timeline(&with(&[("tensor.spwmma_sequencer", "true")]), trace()).is_ok());
}

#[test]
fn a_buffer_index_needs_that_many_accumulation_buffers_per_warp() {
    // (buffer index, fewest tensor.accbufs_per_warp that accepts it)
    for (buf, need) in [("", 1u32), (".BUF1", 2), (".BUF2", 3), (".BUF3", 4)] {
        let text = SEQ.replace("F32.F32 ", &format!("F32.F32{buf} "));
        let trace = || cta(vec![warp(&text, |_, _| Ev::Seq { exec: u32::MAX, abm: 1, bbm: 1 })]);
        for have in 1..=4u32 {
            let cfg = with(&[("tensor.spwmma_sequencer", "true"), ("tensor.accbufs_per_warp", &have.to_string())]);
            match issue_timeline(&cfg, trace()) {
                Ok(_) => assert!(have >= need, "{buf}: accepted with {have} buffers"),
                Err(TimingError::Unsupported { reason, .. }) => {
                    assert!(have < need, "{buf}: refused with {have} buffers");
                    assert!(reason.contains(&format!("tensor.accbufs_per_warp = {have}")), "{reason}");
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    for bad in ["0", "5"] {
        let mut c = TimingConfig::v100();
        assert!(c.set_text("tensor.accbufs_per_warp", bad).is_err() || c.validate().is_err(), "{bad}");
    }
}

#[test]
fn products_of_different_buffers_never_share_a_bank() {
    // 8 sequenced SpWMMAs of one OHMMA each whose 8 products fall into one bank (rows 0, 8, 16,
    // 24 x columns 0, 16), without a collector: in one buffer each waits for the previous one's
    // bank, spread over four buffers they do not.
    let cfg = with(&[
        ("tensor.spwmma_sequencer", "true"),
        ("tensor.accbufs_per_warp", "4"),
        ("accbuf.collector_window", "1"),
    ]);
    let run = |spread: bool| {
        let text = repeat(8, |i| {
            let buf = if spread && i % 4 > 0 { format!(".BUF{}", i % 4) } else { String::new() };
            SEQ.replace("F32.F32 ", &format!("F32.F32{buf} "))
        });
        let trace = cta(vec![warp(&text, |_, _| Ev::Seq { exec: u32::MAX, abm: 0x0101_0101, bbm: 0x0001_0001 })]);
        timeline(&cfg, trace).0
    };
    let (one, four) = (run(false), run(true));
    assert_eq!(one.counter("accbuf.accesses"), four.counter("accbuf.accesses"));
    assert_eq!(one.counter("accbuf.bank_conflicts"), four.counter("accbuf.bank_conflicts"));
    assert!(four.counter("accbuf.stall_cycles") < one.counter("accbuf.stall_cycles"));
    assert!(four.counter("cycles") < one.counter("cycles"));
}

#[test]
fn half_rate_hmma_doubles_the_wmma_tensor_cycles() {
    // 16 independent HMMA.884 F32 STEPs: 2 tensor cycles each on v100, 4 on dstc-paper.
    let text = repeat(16, |i| {
        let d = 8 + 4 * (i % 4);
        format!("HMMA.884.F32.F32.STEP{} R{d}, R40.ROW, R42.COL, R{d} ;", i % 4)
    });
    let paper = TimingConfig::machine("dstc-paper").unwrap();
    let (v, _, vc) = timeline(&TimingConfig::v100(), cta(vec![warp(&text, all)]));
    let (p, _, pc) = timeline(&paper, cta(vec![warp(&text, all)]));
    assert_eq!(v.counter("tensor.busy_cycles.hmma"), 32);
    assert_eq!(p.counter("tensor.busy_cycles.hmma"), 64);
    assert_eq!(diffs(&pc).iter().max(), Some(&4), "a STEP every 4 cycles: {pc:?} (v100: {vc:?})");
}

#[test]
fn ldst_one_per_sm_takes_a_load_every_cycle_and_the_data_pipe_still_shares_them() {
    // 24 independent LDS (lane l reads word l: one wavefront each). v100: a sub-core's LD/ST unit
    // takes one every units.mem.ii = 4 cycles, executed or predicated off. dstc-paper (Accel-Sim's
    // one LD/ST unit per SM, no initiation interval): one per cycle; four warps on the four
    // sub-cores then share the SM's data pipe (one wavefront per cycle) and take as long as on
    // v100, while predicated-off loads, which take no wavefront, go at one per cycle per sub-core.
    let text = repeat(24, |i| format!("LDS R{}, [R1] ;", 4 + i));
    let paper = TimingConfig::machine("dstc-paper").unwrap();
    assert_eq!((TimingConfig::v100().units.mem.ii, paper.units.mem.ii), (4, 1));
    type Events = fn(usize, &otc_isa::Instruction) -> Ev;
    let cases: [(Events, &str); 2] = [(|_, _| Ev::All, "executed"), (|_, _| Ev::Exec(0), "predicated off")];
    for (ev, name) in cases {
        let (_, _, vc) = timeline(&TimingConfig::v100(), cta(vec![warp(&text, ev)]));
        let (_, _, pc) = timeline(&paper, cta(vec![warp(&text, ev)]));
        assert!(diffs(&vc).iter().all(|&d| d == 4), "{name}, v100: {vc:?}");
        assert!(diffs(&pc).iter().all(|&d| d == 1), "{name}, dstc-paper: {pc:?}");
    }
    // (cycles of the CTA, last issue cycle of any warp) for four warps, one per sub-core
    let four = |cfg: &TimingConfig, ev: Events| {
        let insts = common::assemble(&text);
        let (s, issue) = issue_cycles(cfg, cta((0..4).map(|w| warp_of(&insts, w, ev)).collect()));
        (s.counter("cycles"), issue.iter().map(|w| *w.last().unwrap()).max().unwrap())
    };
    let ((v_exec, _), (p_exec, p_issue)) = (four(&TimingConfig::v100(), |_, _| Ev::All), four(&paper, |_, _| Ev::All));
    assert_eq!(p_issue, 23, "issued one per cycle per sub-core");
    assert!(
        p_exec >= 96 && p_exec <= v_exec,
        "executed, 4 warps: 96 wavefronts through the pipe ({p_exec} vs v100 {v_exec})"
    );
    assert!(v_exec - p_exec <= 4, "the pipe binds both ({p_exec} vs {v_exec})");
    let ((v_off, _), (p_off, _)) = (four(&TimingConfig::v100(), |_, _| Ev::Exec(0)), four(&paper, |_, _| Ev::Exec(0)));
    assert!(4 * p_off <= v_off + 8, "predicated off, 4 warps: no pipe, a quarter of the cycles ({p_off} vs {v_off})");
}
