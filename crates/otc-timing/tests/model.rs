//! Checks that the cycle model does what docs/timing.md says, on synthetic traces built from
//! assembler text (tests/common).
#![allow(clippy::type_complexity, clippy::manual_is_multiple_of)]

mod common;

use common::*;
use otc_timing::{
    issue_timeline, simulate, sparse_landing, ConfigError, CtaTrace, EventKind, EventTemplate, MemOp, MemSpace,
    RegGroup, Stats, TensorOp, TimingConfig,
};

fn cfg_with(pairs: &[(&str, &str)]) -> TimingConfig {
    let mut c = TimingConfig::v100();
    for (k, v) in pairs {
        c.set_text(k, v).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    c
}

fn one_warp(cfg: &TimingConfig, text: &str, f: impl FnMut(usize, &otc_isa::Instruction) -> Ev) -> (Stats, Vec<u64>) {
    let (s, mut c) = issue_cycles(cfg, cta(vec![warp(text, f)]));
    (s, c.swap_remove(0))
}

// ------------------------------------------------------------------ pipelines and dependencies

#[rustfmt::skip]
const PIPELINE_CASES: &[(&str, &[(&str, &str)], &str, u64)] = &[
    // name, config overrides, one repeated line ({i} = copy index), expected issue distance
    ("dependent FFMA chain: fp32 latency", &[], "FFMA R1, R1, R2, R3 ;", 4),
    ("dependent IMAD chain: fp32 latency (nvcc's stall count 4)", &[], "IMAD R1, R1, R2, R3 ;", 4),
    ("dependent IMAD chain: per-mnemonic override", &[("ops.IMAD.latency", "5")], "IMAD R1, R1, R2, R3 ;", 5),
    ("dependent IADD3 chain: int latency", &[], "IADD3 R1, R1, R2, RZ ;", 4),
    ("independent FFMAs: 16 fp32 lanes per sub-core", &[], "FFMA R{d}, R1, R2, R3 ;", 2),
    ("independent FFMAs with a 32-lane fp32 pipe", &[("units.fp32.ii", "1")], "FFMA R{d}, R1, R2, R3 ;", 1),
    ("dependent chain with latency 6", &[("units.fp32.latency", "6")], "FFMA R1, R1, R2, R3 ;", 6),
    ("dependent chain, three sources in one bank: +1 read cycle", &[], "FFMA R1, R1, R3, R5 ;", 5),
    ("independent DFMAs: 8 fp64 lanes", &[], "DFMA R{d}, R2, R4, R6 ;", 4),
    ("independent MUFU: 4 SFUs", &[], "MUFU.RCP R{d}, R2 ;", 8),
];

#[test]
fn pipelines_latency_and_initiation_interval() {
    for (name, over, line, want) in PIPELINE_CASES {
        let cfg = cfg_with(over);
        let text = repeat(12, |i| line.replace("{d}", &format!("{}", 20 + 2 * i)));
        let (_, cyc) = one_warp(&cfg, &text, all);
        let d = diffs(&cyc);
        assert!(d.iter().all(|x| x == want), "{name}: issue distances {d:?}, want {want}");
    }
}

#[test]
fn independent_instructions_on_different_units_issue_every_cycle() {
    let text = repeat(12, |i| {
        if i % 2 == 0 {
            format!("FFMA R{}, R1, R2, R3 ;", 20 + i)
        } else {
            format!("IADD3 R{}, R1, R2, RZ ;", 20 + i)
        }
    });
    let (_, cyc) = one_warp(&TimingConfig::v100(), &text, all);
    assert_eq!(diffs(&cyc), vec![1; 11]);
}

#[test]
fn register_bank_conflicts_are_counted() {
    let (s, _) = one_warp(&TimingConfig::v100(), &repeat(4, |_| "FFMA R10, R1, R3, R5 ;".into()), all);
    assert_eq!(s.counter("regfile.bank_conflict_cycles"), 4);
    let (s, _) = one_warp(&TimingConfig::v100(), &repeat(4, |_| "FFMA R10, R1, R2, R5 ;".into()), all);
    assert_eq!(s.counter("regfile.bank_conflict_cycles"), 0);
}

#[test]
fn control_bits_replace_the_scoreboard_when_enabled() {
    // Independent FFMAs with stall counts of 6 cycles.
    let text = repeat(6, |i| format!("[B------:R-:W-:-:S06] FFMA R{}, R1, R2, R3 ;", 20 + 2 * i));
    let (_, on) = one_warp(&cfg_with(&[("scheduler.use_control_bits", "true")]), &text, all);
    let (_, off) = one_warp(&TimingConfig::v100(), &text, all);
    assert_eq!(diffs(&on), vec![6; 5]);
    assert_eq!(diffs(&off), vec![2; 5]);
    // A load sets scoreboard 0, its consumer waits on it.
    let text = "[B------:R-:W0:-:S01] LDS R4, [R2] ;\n[B0-----:R-:W-:-:S01] FADD R5, R4, R4 ;";
    let cfg = cfg_with(&[("scheduler.use_control_bits", "true")]);
    let (_, c) = one_warp(&cfg, text, all);
    assert_eq!(c[1] - c[0], cfg.memory.shared_latency as u64);
}

// ------------------------------------------------------------------ tensor cores

fn hmma884_wmma(f16: bool) -> String {
    // 4 sets (k = 4j..4j+3) of STEPs; fragments as nvcc lays them out (tests/fixtures/sass/wmma.sass).
    let steps = if f16 { 2 } else { 4 };
    let ty = if f16 { "F16.F16" } else { "F32.F32" };
    let mut out = Vec::new();
    for set in 0..4 {
        let (a, b) = (20 + 2 * set, 28 + 2 * set);
        for s in 0..steps {
            let re = if s + 1 < steps { ".reuse" } else { "" };
            let d = 4 + 2 * s;
            out.push(format!("HMMA.884.{ty}.STEP{s} R{d}, R{a}{re}.ROW, R{b}{re}.COL, R{d} ;"));
        }
    }
    out.join("\n")
}

#[test]
fn wmma_with_hmma884_takes_32_tensor_cycles() {
    for f16 in [false, true] {
        let (s, cyc) = one_warp(&TimingConfig::v100(), &hmma884_wmma(f16), all);
        assert_eq!(s.counter("tensor.busy_cycles"), 32, "f16 = {f16}");
        assert_eq!(s.counter("hmma.executed"), if f16 { 8 } else { 16 });
        let step = if f16 { 4 } else { 2 };
        assert!(diffs(&cyc).iter().all(|&d| d == step), "f16 = {f16}: {:?}", diffs(&cyc));
        assert_eq!(s.counter("tensor.macs_issued"), 16 * 16 * 16);
    }
}

fn owmma_dense() -> String {
    // 16 k-steps x 2 OHMMAs (two 8x16 halves of the 16x16 tile), accumulating in place.
    repeat(32, |i| {
        let (k, half) = (i / 2, i % 2);
        let d = if half == 0 { 4 } else { 8 };
        let a = 40 + 2 * (k % 8);
        let b = 60 + 2 * (k % 8);
        format!(
            "HMMA.OHMMA.8161.F32.F32 {{R{d}, R{}, R{}, R{}}}, {{R{a}, R{}}}, {{R{b}, R{}}}, {{R{d}, R{}, R{}, R{}}} ;",
            d + 1,
            d + 2,
            d + 3,
            a + 1,
            b + 1,
            d + 1,
            d + 2,
            d + 3
        )
    })
}

#[test]
fn dense_owmma_takes_32_tensor_cycles_one_ohmma_per_cycle() {
    let (s, cyc) = one_warp(&TimingConfig::v100(), &owmma_dense(), all);
    assert_eq!(s.counter("tensor.busy_cycles"), 32);
    assert_eq!(s.counter("ohmma.executed"), 32);
    assert_eq!(s.counter("accbuf.accesses"), 32 * 128);
    assert_eq!(diffs(&cyc), vec![1; 31], "one OHMMA per cycle");
    // Without accumulator forwarding each half waits for the full OHMMA latency.
    let (_, slow) = one_warp(&cfg_with(&[("tensor.accumulator_forwarding", "false")]), &owmma_dense(), all);
    assert!(slow[31] - slow[0] > 31, "{slow:?}");
}

/// The SPWMMA expansion run by a tiny functional model: OHMMA (m, n) executes iff nnzA > 8m and
/// nnzB > 16n; its products land at the bitmaps' ranks.
fn spwmma_warp(abmp: u32, bbmp: u32) -> otc_timing::WarpTrace {
    let text = "SPWMMA.M32N32K1.F32.F32 {R8, R9, R10, R11, R12, R13, R14, R15}, {R16, R17, R18, R19}, R2, R3, R4, {R20, R21} ;";
    let (na, nb) = (abmp.count_ones(), bbmp.count_ones());
    warp(text, |_, inst| {
        if inst.modifier("sp") == "SP" {
            let m = inst.modifier("m")[1..].parse::<u8>().unwrap();
            let n = inst.modifier("n")[1..].parse::<u8>().unwrap();
            let exec = if na > 8 * m as u32 && nb > 16 * n as u32 { u32::MAX } else { 0 };
            let (rows, cols) = sparse_landing(abmp, bbmp, m, n);
            Ev::Sparse { exec, rows, cols }
        } else {
            Ev::All
        }
    })
}

#[rustfmt::skip]
const SPWMMA_CASES: &[(u32, u32, u64)] = &[
    // nnz of the A column, nnz of the B row, OHMMAs executed = ceil(nnzA/8) * ceil(nnzB/16)
    (32, 32, 8),
    (20, 11, 3),   // the paper's example (Section III-B3): 8/3 = 2.67x fewer tensor cycles
    (8, 16, 1),
    (9, 17, 4),
    (0, 5, 0),
    (31, 1, 4),
];

#[test]
fn spwmma_tensor_cycles_equal_executed_ohmmas() {
    let cfg = TimingConfig::v100();
    let mut dense = 0;
    let mut paper = 0;
    for &(na, nb, want) in SPWMMA_CASES {
        let (s, _) = issue_cycles(&cfg, cta(vec![spwmma_warp(low_bits(na), low_bits(nb))]));
        assert_eq!(s.counter("ohmma.issued"), 8);
        assert_eq!(s.counter("ohmma.executed"), want, "{na}/{nb}");
        assert_eq!(s.counter("ohmma.skipped"), 8 - want, "{na}/{nb}");
        assert_eq!(s.counter("tensor.busy_cycles.ohmma"), want, "{na}/{nb}: OHMMA tensor cycles");
        assert_eq!(s.counter("tensor.macs_useful"), (na * nb) as u64, "{na}/{nb}: products that land");
        assert_eq!(s.counter("bohmma.executed"), 1);
        if (na, nb) == (32, 32) {
            dense = s.counter("tensor.busy_cycles.ohmma");
        }
        if (na, nb) == (20, 11) {
            paper = s.counter("tensor.busy_cycles.ohmma");
        }
    }
    let ratio = dense as f64 / paper as f64;
    assert!((ratio - 8.0 / 3.0).abs() < 1e-12, "dense / sparse tensor cycles = {ratio}");
}

#[test]
fn skipped_tensor_instruction_cost_is_a_parameter() {
    // Every other OHMMA predicated off (warp-uniformly).
    let mask = |i: usize| if i % 2 == 0 { Ev::All } else { Ev::Exec(0) };
    let (s, _) = one_warp(&TimingConfig::v100(), &owmma_dense(), |i, _| mask(i));
    assert_eq!((s.counter("ohmma.executed"), s.counter("ohmma.skipped")), (16, 16));
    assert_eq!(s.counter("tensor.busy_cycles"), 16, "default: a skipped OHMMA takes no tensor cycle");
    let (s, _) = one_warp(&cfg_with(&[("tensor.skipped_cycles", "1")]), &owmma_dense(), |i, _| mask(i));
    assert_eq!(s.counter("tensor.busy_cycles"), 32);
}

#[rustfmt::skip]
const ACCBUF_CASES: &[(&str, u32, u32, u64)] = &[
    // name, landing rows, landing cols, bank conflicts per OHMMA (8x16 banks, 1 port)
    ("aligned 8x16 block", 0x0000_00ff, 0x0000_ffff, 0),
    ("rows 0 and 8 share a bank row", 0x0000_0101, 0x0000_ffff, 16),
    ("8 rows, columns 0 and 16 share bank columns", 0x0000_00ff, 0x0001_0001, 8),
    ("rows 0, 8, 16, 24 in one bank row", 0x0101_0101, 0x0000_000f, 12),
];

#[test]
fn accumulation_buffer_bank_conflicts_and_collector() {
    for &(name, rows, cols, per) in ACCBUF_CASES {
        let text = repeat(8, |_| "HMMA.OHMMA.8161.F32.F32.SP.M0.N0 {R8, R9}, {R16, R17} ;".into());
        let sparse = |_: usize, _: &otc_isa::Instruction| Ev::Sparse { exec: u32::MAX, rows, cols };
        let (with, cw) = one_warp(&TimingConfig::v100(), &text, sparse);
        let (without, cn) = one_warp(&cfg_with(&[("accbuf.collector_window", "1")]), &text, sparse);
        let n = rows.count_ones() as u64 * cols.count_ones() as u64;
        assert_eq!(with.counter("accbuf.accesses"), 8 * n, "{name}");
        assert_eq!(with.counter("accbuf.bank_conflicts"), 8 * per, "{name}");
        assert_eq!(without.counter("accbuf.bank_conflicts"), 8 * per, "{name}");
        assert_eq!(with.counter("tensor.busy_cycles"), 8, "{name}: the multipliers work one cycle each");
        assert!(with.counter("cycles") <= without.counter("cycles"), "{name}: collector never slower");
        if per == 0 {
            assert_eq!(without.counter("accbuf.stall_cycles"), 0, "{name}");
            assert_eq!(diffs(&cn), vec![1; 7], "{name}");
            assert_eq!(diffs(&cw), vec![1; 7], "{name}");
        } else {
            assert!(without.counter("accbuf.stall_cycles") > 0, "{name}");
        }
    }
}

#[test]
fn collector_merges_accesses_of_successive_instructions() {
    // Alternate rows {0, 8} and {1, 9}: each instruction alone needs 2 cycles in its bank row,
    // but successive ones use different bank rows, which the collector overlaps (Fig. 19).
    let text = repeat(16, |_| "HMMA.OHMMA.8161.F32.F32.SP.M0.N0 {R8, R9}, {R16, R17} ;".into());
    let f = |i: usize, _: &otc_isa::Instruction| {
        let rows = if i % 2 == 0 { 0x101 } else { 0x202 };
        Ev::Sparse { exec: u32::MAX, rows, cols: 0xffff }
    };
    let (with, _) = one_warp(&TimingConfig::v100(), &text, f);
    let (without, _) = one_warp(&cfg_with(&[("accbuf.collector_window", "1")]), &text, f);
    assert!(
        with.counter("accbuf.stall_cycles") < without.counter("accbuf.stall_cycles"),
        "with {} without {}",
        with.counter("accbuf.stall_cycles"),
        without.counter("accbuf.stall_cycles")
    );
    assert!(with.counter("cycles") < without.counter("cycles"));
}

// ------------------------------------------------------------------ memory

#[rustfmt::skip]
const SMEM_CASES: &[(&str, &str, u64, u64, u64)] = &[
    // name, instruction, address stride in bytes (0 = broadcast), lanes per distinct address group, expected conflicts
    ("stride 1 word", "LDS R4, [R2] ;", 4, 1, 0),
    ("stride 2 words: 2-way", "LDS R4, [R2] ;", 8, 1, 1),
    ("stride 3 words: conflict-free", "LDS R4, [R2] ;", 12, 1, 0),
    ("stride 32 words: 32-way", "LDS R4, [R2] ;", 128, 1, 31),
    ("broadcast", "LDS R4, [R2] ;", 0, 1, 0),
    ("pairs of lanes on one word", "LDS R4, [R2] ;", 4, 2, 0),
    ("64-bit, consecutive: two half-warp phases", "LDS.64 R4, [R2] ;", 8, 1, 0),
    ("128-bit, consecutive: four quarter-warp phases", "LDS.128 R4, [R2] ;", 16, 1, 0),
    ("64-bit, stride 16 bytes: 2-way per phase", "LDS.64 R4, [R2] ;", 16, 1, 2),
    ("store, stride 2 words", "STS [R2], R4 ;", 8, 1, 1),
    ("atomic, all lanes on one word: serialised", "ATOMS.ADD R4, [R2], R5 ;", 0, 1, 31),
];

#[test]
fn shared_memory_bank_conflicts_match_hand_counts() {
    for &(name, inst, stride, group, want) in SMEM_CASES {
        let addrs: Vec<u64> = (0..32u64).map(|l| (l / group) * stride).collect();
        let (s, _) = one_warp(&TimingConfig::v100(), inst, |_, _| Ev::Addrs(addrs.clone()));
        assert_eq!(s.counter("smem.bank_conflicts"), want, "{name}");
    }
}

#[test]
fn shared_memory_conflicts_cost_cycles() {
    let stride = |st: u64| {
        let a: Vec<u64> = (0..32u64).map(|l| l * st).collect();
        let (_, c) =
            one_warp(&TimingConfig::v100(), "LDS R4, [R2] ;\nFADD R5, R4, R4 ;", move |_, _| Ev::Addrs(a.clone()));
        c[1] - c[0]
    };
    assert_eq!(stride(4), 19);
    assert_eq!(stride(128), 19 + 31);
}

#[rustfmt::skip]
const GMEM_CASES: &[(&str, &str, u64, u64, u64)] = &[
    // name, instruction, stride in bytes, sectors, useful bytes
    ("32-bit consecutive", "LDG.E.SYS R4, [R2] ;", 4, 4, 128),
    ("32-bit stride 8", "LDG.E.SYS R4, [R2] ;", 8, 8, 128),
    ("32-bit stride 128", "LDG.E.SYS R4, [R2] ;", 128, 32, 128),
    ("same address", "LDG.E.SYS R4, [R2] ;", 0, 1, 128),
    ("128-bit consecutive", "LDG.E.128.SYS R4, [R2] ;", 16, 16, 512),
];

#[test]
fn global_loads_coalesce_into_sectors() {
    for &(name, inst, stride, sectors, bytes) in GMEM_CASES {
        let addrs: Vec<u64> = (0..32u64).map(|l| 0x1000_0000 + l * stride).collect();
        let (s, _) = one_warp(&TimingConfig::v100(), inst, |_, _| Ev::Addrs(addrs.clone()));
        assert_eq!(s.counter("gmem.read_sectors"), sectors, "{name}");
        assert_eq!(s.counter("gmem.read_bytes"), bytes, "{name}");
        assert_eq!(s.counter("l1.misses"), sectors, "{name}: cold L1");
        assert_eq!(s.counter("l2.misses"), sectors, "{name}: cold L2");
    }
}

#[test]
fn load_latency_by_level() {
    let cfg = TimingConfig::v100();
    let text = "LDG.E.SYS R4, [R2] ;\nFADD R5, R4, R4 ;\nLDG.E.SYS R6, [R2] ;\nFADD R7, R6, R6 ;";
    let addrs: Vec<u64> = (0..32u64).map(|l| l * 4).collect();
    let (s, c) = one_warp(&cfg, text, |i, _| if i % 2 == 0 { Ev::Addrs(addrs.clone()) } else { Ev::All });
    let dram = c[1] - c[0];
    let l1 = c[3] - c[2];
    assert!(dram >= cfg.memory.dram_latency as u64, "first touch goes to DRAM: {dram}");
    assert_eq!(l1, cfg.memory.l1_latency as u64, "second touch hits L1");
    assert_eq!((s.counter("l1.hits"), s.counter("l1.misses")), (4, 4));
    assert_eq!(s.counter("dram.read_bytes"), 128);
}

// ------------------------------------------------------------------ CTAs, barriers, scheduling

#[test]
fn barrier_waits_for_the_other_warps() {
    let slow = format!("{}\nBAR.SYNC 0x0 ;\nFADD R5, R4, R4 ;", repeat(10, |_| "FFMA R1, R1, R2, R3 ;".into()));
    let fast = "BAR.SYNC 0x0 ;\nFADD R5, R4, R4 ;";
    let (s, c) = issue_cycles(&TimingConfig::v100(), cta(vec![warp(&slow, all), warp_of(&assemble(fast), 1, all)]));
    let bar_slow = c[0][10];
    let after_fast = c[1][1];
    assert!(after_fast >= bar_slow + TimingConfig::v100().sm.barrier_cycles as u64, "{c:?}");
    assert!(s.counter("stall.barrier") > 0);
    assert_eq!(s.counter("barrier.deadlocks"), 0);
}

#[test]
fn exited_warps_do_not_hold_a_barrier() {
    let (s, _) = issue_cycles(
        &TimingConfig::v100(),
        cta(vec![warp("EXIT ;", all), warp_of(&assemble("BAR.SYNC 0x0 ;\nFADD R5, R4, R4 ;"), 1, all)]),
    );
    assert_eq!(s.counter("warp_instructions"), 3);
    assert_eq!(s.counter("barrier.deadlocks"), 0);
}

#[test]
fn gto_is_greedy_and_lrr_rotates() {
    // Warps 0 and 4 share sub-core 0; each issues NOPs (no dependencies, a unit that takes one
    // per cycle), so both are ready in every cycle.
    let body = repeat(8, |_| "NOP ;".into());
    let warps = || (0..5).map(|w| common::warp_of(&assemble(&body), w, all)).collect::<Vec<_>>();
    let order = |policy: &str| {
        let cfg = cfg_with(&[("scheduler.policy", policy)]);
        let (_, log) = issue_timeline(&cfg, cta(warps())).unwrap();
        log.iter().filter(|r| r.sub_core == 0).map(|r| r.warp).collect::<Vec<_>>()
    };
    assert_eq!(order("gto"), [vec![0; 8], vec![4; 8]].concat());
    assert_eq!(order("lrr"), (0..16).map(|i| if i % 2 == 0 { 0 } else { 4 }).collect::<Vec<_>>());
}

fn kernel_ctas(n: usize, shared: u32) -> Vec<CtaTrace> {
    // Each CTA: 4 warps load, compute, exchange through shared memory, store.
    let text = "LDG.E.SYS R4, [R2] ;\nFFMA R5, R4, R4, R4 ;\nSTS [R6], R5 ;\nBAR.SYNC 0x0 ;\nLDS R7, [R6] ;\nFADD R8, R7, R5 ;\nSTG.E.SYS [R2], R8 ;\nEXIT ;";
    let insts = assemble(text);
    (0..n)
        .map(|c| {
            let warps = (0..4u32)
                .map(|w| {
                    warp_of(&insts, w, |i, inst| {
                        let base = 0x1000_0000u64 + (c as u64 * 4 + w as u64) * 128;
                        match inst.def().mnemonic {
                            "LDG" | "STG" => Ev::Addrs((0..32u64).map(|l| base + l * 4).collect()),
                            "STS" | "LDS" => Ev::Addrs((0..32u64).map(|l| (w as u64 * 32 + l) * 8).collect()),
                            _ => {
                                let _ = i;
                                Ev::All
                            }
                        }
                    })
                })
                .collect();
            CtaTrace { cta: [c as u32, 0, 0], warps, shared_bytes: shared, regs_per_thread: 32, threads: 128 }
        })
        .collect()
}

#[test]
fn statistics_are_identical_for_any_host_thread_count() {
    let mut cfg = TimingConfig::v100();
    cfg.set("gpu.num_sms", 6).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| simulate(&cfg, kernel_ctas(100, 1024), 100).unwrap())
    };
    let one = run(1);
    assert!(one.counter("cycles") > 0);
    assert_eq!(one.counter("ctas"), 100);
    for t in [2, 3, 8] {
        assert_eq!(run(t), one, "{t} threads");
    }
    // A lazily produced grid gives the same result as a collected one.
    let mut k = kernel_ctas(100, 1024).into_iter();
    let lazy = simulate(&cfg, std::iter::from_fn(move || k.next()), 100).unwrap();
    assert_eq!(lazy, one);
    // So does handing the CTAs over one at a time (the SMs pause and resume after every CTA).
    let mut sim = otc_timing::Simulator::new(&cfg, 100).unwrap();
    sim.set_batch(1);
    for c in kernel_ctas(100, 1024) {
        sim.push(c).unwrap();
    }
    assert_eq!(sim.finish().unwrap(), one);
    assert_eq!(one.sm_cycles.iter().copied().max().unwrap(), one.counter("cycles"));
}

#[test]
fn occupancy_limits_resident_ctas() {
    let mut cfg = TimingConfig::v100();
    cfg.set("gpu.num_sms", 1).unwrap();
    let big = simulate(&cfg, kernel_ctas(4, 60 * 1024), 4).unwrap();
    assert_eq!(big.counter("occupancy.max_ctas_per_sm"), 1, "60 KB each: one at a time");
    let small = simulate(&cfg, kernel_ctas(4, 16 * 1024), 4).unwrap();
    assert_eq!(small.counter("occupancy.max_ctas_per_sm"), 4);
    assert!(big.counter("cycles") > small.counter("cycles"));
    let mut c = kernel_ctas(1, 0);
    c[0].threads = 2048;
    assert!(simulate(&cfg, c, 1).is_err(), "a CTA larger than sm.max_threads_per_cta is rejected");
}

#[test]
fn kernel_cycles_are_the_slowest_sm() {
    let mut cfg = TimingConfig::v100();
    cfg.set("gpu.num_sms", 2).unwrap();
    // CTA 0 (SM 0) is long, CTA 1 (SM 1) short.
    let long = cta(vec![warp(&repeat(50, |_| "FFMA R1, R1, R2, R3 ;".into()), all)]);
    let short = cta(vec![warp("FFMA R1, R1, R2, R3 ;", all)]);
    let s = simulate(&cfg, vec![long, short], 2).unwrap();
    assert_eq!(s.sm_cycles.len(), 2);
    assert!(s.sm_cycles[0] > s.sm_cycles[1]);
    assert_eq!(s.counter("cycles"), s.sm_cycles[0]);
    assert!((s.metric("time_us") - s.counter("cycles") as f64 / 1530.0).abs() < 1e-9);
}

#[test]
fn contract_counters_exist_and_json_is_well_formed() {
    let s = simulate(&TimingConfig::v100(), kernel_ctas(2, 0), 2).unwrap();
    for k in [
        "cycles",
        "warp_instructions",
        "thread_instructions",
        "ohmma.issued",
        "ohmma.executed",
        "ohmma.skipped",
        "hmma.executed",
        "bohmma.executed",
        "tensor.busy_cycles",
        "accbuf.accesses",
        "accbuf.bank_conflicts",
        "smem.bank_conflicts",
        "gmem.read_bytes",
        "gmem.write_bytes",
        "op.FFMA",
        "stall.dependency",
        "stall.unit_busy",
        "stall.register_bank",
        "stall.barrier",
        "stall.memory",
        "stall.accumulation_buffer",
    ] {
        assert!(s.counters.contains_key(k), "missing counter {k}");
    }
    for k in ["ipc", "time_us", "l1.hit_rate", "l2.hit_rate", "tensor.utilization", "tensor.useful_mac_fraction"] {
        assert!(s.metrics.contains_key(k), "missing metric {k}");
    }
    assert_eq!(s.counter("warp_instructions"), 2 * 4 * 8);
    assert_eq!(s.counter("thread_instructions"), 2 * 4 * 8 * 32);
    assert_eq!(s.counter("gmem.read_bytes"), 2 * 4 * 128);
    assert_eq!(s.counter("gmem.write_bytes"), 2 * 4 * 128);
    let j = s.to_json();
    assert!(j.starts_with("{\"counters\": {") && j.ends_with("]]}}"));
    assert!(j.contains("\"by_pc\": {\"columns\": [\"warp_instructions\""));
    // the per-pc rows add up to the counters of their columns
    for (i, name) in otc_timing::PC_COLUMNS.iter().enumerate() {
        let sum: u64 = s.by_pc.iter().map(|row| row[i]).sum();
        let want = match *name {
            "predicated_off_lanes" => s.counter("thread_instructions") - s.counter("predicated_thread_instructions"),
            _ => s.counter(name),
        };
        assert_eq!(sum, want, "{name}");
    }
    assert!(j.contains("\"cycles\": "));
    assert_eq!(j.matches('{').count(), j.matches('}').count());
    assert_eq!(s.to_dict()["cycles"], s.counter("cycles") as f64);
}

// ------------------------------------------------------------------ configuration

#[test]
fn config_errors_name_the_key() {
    let cases: Vec<(Result<TimingConfig, ConfigError>, &str)> = vec![
        (TimingConfig::from_toml_str("[sm]\nmax_ctass = 3\n"), "sm.max_ctass"),
        (TimingConfig::from_toml_str("[gpu]\nnum_sms = \"many\"\n"), "gpu.num_sms"),
        (TimingConfig::from_toml_str("[scheduler]\npolicy = \"fifo\"\n"), "scheduler.policy"),
        (TimingConfig::from_toml_str("[scheduler]\nuse_control_bits = 1\n"), "scheduler.use_control_bits"),
        (TimingConfig::from_toml_str("[memory.l1]\nways = 4\n"), "memory.l1.ways"),
        (TimingConfig::from_toml_str("[units.fp32]\nii = 0\n"), "units.fp32.ii"),
        (TimingConfig::from_toml_str("[ops.FOO]\nlatency = 3\n"), "ops.FOO.latency"),
        (TimingConfig::from_toml_str("[ops.FFMA]\nlatnecy = 3\n"), "ops.FFMA.latnecy"),
        (TimingConfig::from_toml_str("[tensor]\nskipped_cycles = -1\n"), "tensor.skipped_cycles"),
        (TimingConfig::from_toml_str("[sm]\nshared_carveouts_kb = [0, \"x\"]\n"), "sm.shared_carveouts_kb"),
        (TimingConfig::from_toml_str("gpu = 3\n"), "gpu"),
        (TimingConfig::from_toml_str("[tensor.bohmma]\nmacs = 1024\n"), "tensor.bohmma.macs"),
        (TimingConfig::from_toml_str("[tensor.accb_clear]\ncycles = 0\n"), "tensor.accb_clear.cycles"),
        (TimingConfig::from_toml_str("[tensor.ohmma_f32]\ncycles = 1.5\n"), "tensor.ohmma_f32.cycles"),
        (TimingConfig::from_toml_str("[tensor.ohmma_f64]\ncycles = 1\n"), "tensor.ohmma_f64.cycles"),
        (TimingConfig::from_toml_str("[tensor]\nohmma_cycles = 1\n"), "tensor.ohmma_cycles"),
    ];
    for (r, key) in cases {
        let e = r.expect_err(key);
        assert_eq!(e.key(), Some(key), "{e}");
        assert!(e.to_string().contains(key), "{e}");
    }
    let mut c = TimingConfig::v100();
    let e = c.set("sm.num_sms", 40).unwrap_err();
    assert_eq!(e.key(), Some("sm.num_sms"));
    assert!(e.to_string().contains("sub_cores"), "the message lists the section's keys: {e}");
    assert_eq!(c.set("gpu.num_sms", 0).unwrap_err().key(), Some("gpu.num_sms"));
    assert_eq!(c, TimingConfig::v100(), "a failed set leaves the configuration unchanged");
    assert!(TimingConfig::from_toml_str("[gpu\n").is_err());
}

#[test]
fn config_loads_overrides_and_round_trips() {
    let v = TimingConfig::v100();
    assert_eq!(TimingConfig::from_toml_str_complete(otc_timing::config::V100_TOML).unwrap(), v);
    let without_one = otc_timing::config::V100_TOML.replace("max_ctas = 32", "");
    assert_eq!(
        TimingConfig::from_toml_str_complete(&without_one).unwrap_err(),
        ConfigError::Missing { key: "sm.max_ctas".into() }
    );
    assert_eq!(TimingConfig::from_toml_str_complete(&v.to_toml()).unwrap(), v);
    let without_class_key = otc_timing::config::V100_TOML.replace("[tensor.bohmma]\ncycles = 1", "[tensor.bohmma]\n");
    assert_eq!(
        TimingConfig::from_toml_str_complete(&without_class_key).unwrap_err(),
        ConfigError::Missing { key: "tensor.bohmma.cycles".into() }
    );
    let slow = TimingConfig::from_toml_str("[tensor.ohmma_sparse]\ncycles = 3\n").unwrap();
    assert_eq!(slow.tensor.cost(otc_isa::TensorClass::OhmmaSparse).cycles, 3);
    assert_eq!(slow.get("tensor.ohmma_sparse.cycles").unwrap(), otc_timing::ConfigValue::Int(3));
    assert_eq!(slow.tensor.cost(otc_isa::TensorClass::OhmmaF32), v.tensor.cost(otc_isa::TensorClass::OhmmaF32));
    let c = TimingConfig::from_toml_str("[gpu]\nnum_sms = 40\n[ops.FFMA]\nlatency = 6\n").unwrap();
    assert_eq!(c.gpu.num_sms, 40);
    assert_eq!(c.get("ops.FFMA.latency").unwrap(), otc_timing::ConfigValue::Int(6));
    assert_eq!(c.get("ops.FADD.latency").unwrap(), otc_timing::ConfigValue::Int(4));
    assert_eq!(c.sm.max_ctas, 32, "keys not given keep the V100 value");
    let mut d = TimingConfig::v100();
    d.set_text("scheduler.policy", "lrr").unwrap();
    d.set("gpu.clock_mhz", 1380).unwrap();
    assert_eq!(d.get("scheduler.policy").unwrap(), otc_timing::ConfigValue::Str("lrr".into()));
    assert_eq!(d.gpu.clock_mhz, 1380.0);
    for k in otc_timing::all_keys() {
        assert!(v.get(&k).is_ok(), "{k}");
    }
}

// ------------------------------------------------------------------ trace helpers

#[test]
fn event_templates_read_registers_from_the_isa() {
    let insts = assemble(
        "LDG.E.128.SYS R4, [R2] ;\n@P1 ISETP.GE.AND P0, PT, R3, R4.reuse, PT ;\nHMMA.OHMMA.8161.F32.F32 {R9, R10, R11, R12}, {R1, R2}, {R3, R4}, {R5, R6, R7, R8} ;\nSTS.64 [R20+0x10], R6 ;\nFFMA R1, RZ, R2, R3 ;",
    );
    let t: Vec<_> = insts.iter().map(|i| *EventTemplate::new(i).proto()).collect();
    let g = |base, count| RegGroup { base, count };
    assert_eq!(t[0].srcs[0], g(2, 2), ".E address pair");
    assert_eq!(t[0].dsts[0], g(4, 4));
    assert!(matches!(t[0].kind, EventKind::Mem { space: MemSpace::Global, op: MemOp::Load, bytes: 16, .. }));
    assert_eq!((t[1].pred_reads, t[1].pred_writes), (0b10, 0b1));
    assert_eq!(t[1].reuse, 0b10);
    assert_eq!(&t[2].srcs[..3], &[g(1, 2), g(3, 2), g(5, 4)]);
    assert_eq!(t[2].dsts[0], g(9, 4));
    assert_eq!(t[2].kind, EventKind::Tensor(TensorOp::of(otc_isa::TensorClass::OhmmaF32)));
    assert_eq!(&t[3].srcs[..2], &[g(20, 1), g(6, 2)]);
    assert!(matches!(t[3].kind, EventKind::Mem { space: MemSpace::Shared, op: MemOp::Store, bytes: 8, .. }));
    assert_eq!(&t[4].srcs[..2], &[g(2, 1), g(3, 1)], "RZ is not a register read");
    assert_eq!(std::mem::size_of::<otc_timing::Event>(), 48);
    assert_eq!(sparse_landing(0b1011_0110, 0xffff_0000, 0, 1), (0b1011_0110, 0));
    assert_eq!(sparse_landing(u32::MAX, 0x0003_ffff, 1, 1), (0x0000_ff00, 0x0003_0000));
}

#[test]
fn every_form_fits_the_event_slots() {
    // No form reads more than 4 register operands or writes more than 2.
    for (i, f) in otc_isa::FORMS.iter().enumerate() {
        let regs = |w: bool| {
            f.operands
                .iter()
                .filter(|o| o.write == w)
                .filter(|o| {
                    matches!(
                        o.kind,
                        otc_isa::Kind::R
                            | otc_isa::Kind::G(_)
                            | otc_isa::Kind::L(_)
                            | otc_isa::Kind::M
                            | otc_isa::Kind::CX
                    )
                })
                .count()
        };
        assert!(regs(false) <= 4 && regs(true) <= 2, "form {i} {}", f.mnemonic);
    }
}
