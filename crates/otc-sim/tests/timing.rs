//! The cycle model run beside the functional core (`DeviceConfig::timing`): timing never
//! changes a result, its statistics do not depend on the host thread count, and the counts
//! it reports for known kernels are the hand-computed ones.
#![allow(clippy::needless_range_loop)]

mod common;
use common::*;
use otc_sim::{Device, DeviceConfig, KernelImage, LaunchStats, SimError};
use otc_timing::{Stats, TimingConfig};

/// A launch: kernel, grid, block, dynamic shared bytes, input buffers, output sizes, scalars.
struct Case {
    name: &'static str,
    kernel: KernelImage,
    grid: [u32; 3],
    block: [u32; 3],
    dyn_shared: u32,
    inputs: Vec<Vec<u8>>,
    outputs: Vec<usize>,
    scalars: Vec<u32>,
}

struct Outcome {
    outputs: Vec<Vec<u8>>,
    stats: LaunchStats,
    timing: Option<Stats>,
}

fn config(threads: usize, timing: bool, batch: usize) -> DeviceConfig {
    DeviceConfig {
        threads: Some(threads),
        parallel_batch: batch,
        timing: if timing { Some(TimingConfig::v100()) } else { None },
        ..DeviceConfig::default()
    }
}

fn run_case(c: &Case, cfg: DeviceConfig) -> Outcome {
    let mut d = Device::new(cfg);
    let mut p = Params::new();
    for i in &c.inputs {
        p = p.ptr(upload(&mut d, i));
    }
    let outs: Vec<u64> = c.outputs.iter().map(|&n| upload(&mut d, &vec![0xa5u8; n])).collect();
    for &o in &outs {
        p = p.ptr(o);
    }
    for &s in &c.scalars {
        p = p.u32(s);
    }
    let (stats, timing) = d
        .launch_timed(&c.kernel, c.grid, c.block, p.bytes(), c.dyn_shared)
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    let outputs = outs.iter().zip(&c.outputs).map(|(&a, &n)| d.read(a, n).unwrap()).collect();
    Outcome { outputs, stats, timing }
}

fn fixture_kernel(file: &str, name: &str) -> KernelImage {
    KernelImage::from(fixture(file).kernel(name).unwrap_or_else(|| panic!("{file}: no kernel {name}")))
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.u32() as u8).collect()
}

fn f32_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    to_bytes_f32(&(0..n).map(|_| (rng.below(20000) as f32 - 10000.0) / 64.0).collect::<Vec<_>>())
}

/// fp16 values that are exact and moderate (no Inf/NaN), as bytes.
fn f16_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).flat_map(|_| f16_rne((rng.below(2001) as f64 - 1000.0) / 256.0).to_le_bytes()).collect()
}

fn cases() -> Vec<Case> {
    let mut rng = Rng(0x7131_6e67);
    let n = 1000usize;
    vec![
        Case {
            name: "vecadd/vadd_f32",
            kernel: fixture_kernel("vecadd", "vadd_f32"),
            grid: [(n as u32).div_ceil(128), 1, 1],
            block: [128, 1, 1],
            dyn_shared: 0,
            inputs: vec![f32_bytes(&mut rng, n), f32_bytes(&mut rng, n)],
            outputs: vec![4 * n],
            scalars: vec![n as u32],
        },
        Case {
            name: "vecadd/vadd_gridstride",
            kernel: fixture_kernel("vecadd", "vadd_gridstride"),
            grid: [3, 1, 1],
            block: [64, 1, 1],
            dyn_shared: 0,
            inputs: vec![f32_bytes(&mut rng, n), f32_bytes(&mut rng, n)],
            outputs: vec![4 * n],
            scalars: vec![n as u32],
        },
        Case {
            name: "reduction/reduce_static",
            kernel: fixture_kernel("reduction", "reduce_static"),
            grid: [7, 1, 1],
            block: [128, 1, 1],
            dyn_shared: 0,
            inputs: vec![f32_bytes(&mut rng, 7 * 128)],
            outputs: vec![4 * 7],
            scalars: vec![],
        },
        Case {
            name: "reduction/reduce_dynamic",
            kernel: fixture_kernel("reduction", "reduce_dynamic"),
            grid: [4, 1, 1],
            block: [256, 1, 1],
            dyn_shared: 1024,
            inputs: vec![random_bytes(&mut rng, 4 * n)],
            outputs: vec![4 * 4],
            scalars: vec![n as u32],
        },
        Case {
            name: "reduction/block_reverse",
            kernel: fixture_kernel("reduction", "block_reverse"),
            grid: [2, 1, 1],
            block: [64, 1, 1],
            dyn_shared: 256,
            inputs: vec![random_bytes(&mut rng, 512)],
            outputs: vec![512],
            scalars: vec![],
        },
        Case {
            name: "wmma/wmma_f16_f32_rowcol",
            kernel: fixture_kernel("wmma", "wmma_f16_f32_rowcol"),
            grid: [1, 1, 1],
            block: [32, 1, 1],
            dyn_shared: 0,
            inputs: vec![f16_bytes(&mut rng, 256), f16_bytes(&mut rng, 256), f32_bytes(&mut rng, 256)],
            outputs: vec![16 * 20 * 4],
            scalars: vec![],
        },
    ]
}

#[test]
fn timing_on_and_off_give_identical_results_and_functional_counters() {
    for c in cases() {
        let off = run_case(&c, config(1, false, 0));
        assert!(off.timing.is_none(), "{}: timing off reports no cycle statistics", c.name);
        for threads in [1, 2] {
            let on = run_case(&c, config(threads, true, 0));
            assert_eq!(on.outputs, off.outputs, "{}: output bits, timing on, {threads} threads", c.name);
            assert_eq!(on.stats, off.stats, "{}: functional counters, timing on, {threads} threads", c.name);
            let t = on.timing.as_ref().unwrap_or_else(|| panic!("{}: no cycle statistics", c.name));
            assert!(t.counter("cycles") > 0, "{}", c.name);
            // The model saw exactly the instructions the functional core issued.
            assert_eq!(t.counter("warp_instructions"), off.stats.warp_instructions, "{}", c.name);
            assert_eq!(t.counter("thread_instructions"), off.stats.thread_instructions, "{}", c.name);
            assert_eq!(
                t.counter("predicated_thread_instructions"),
                off.stats.predicated_thread_instructions,
                "{}",
                c.name
            );
            assert_eq!(t.counter("ctas"), off.stats.ctas, "{}", c.name);
            assert_eq!(t.counter("hmma.executed"), off.stats.hmma_executed, "{}", c.name);
        }
    }
}

#[test]
fn cycle_statistics_do_not_depend_on_host_threads_or_batches() {
    for c in cases() {
        let one = run_case(&c, config(1, true, 0)).timing.unwrap();
        for (threads, batch) in [(2, 0), (2, 1), (3, 2), (4, 0)] {
            let other = run_case(&c, config(threads, true, batch)).timing.unwrap();
            assert_eq!(other, one, "{}: {threads} threads, batch {batch}", c.name);
        }
    }
}

/// Every CTA increments one global counter and stores what it read: in a parallel round every
/// CTA after the first read a byte an earlier one wrote, so it is discarded and run again. The
/// model must see each CTA once, its final run (a speculative run reads a stale count and takes
/// a longer path, which the model would count).
#[test]
fn discarded_speculative_runs_are_not_timed() {
    let k = kernel(
        ".kernel count\n.param ptr counter\n.param ptr out\n\
         S2R R0, SR_CTAID.X ;\n\
         S2R R1, SR_TID.X ;\n\
         ISETP.NE.AND P0, PT, R1, RZ, PT ;\n\
         @P0 EXIT ;\n\
         MOV R2, c[0x0][0x160] ;\n\
         MOV R3, c[0x0][0x164] ;\n\
         MOV R6, 0x1 ;\n\
         ATOMG.E.ADD.STRONG.GPU PT, R7, [R2.64], R6 ;\n\
         ISETP.EQ.AND P1, PT, R7, R0, PT ;\n\
         @P1 BRA store ;\n\
         NOP ;\n\
         NOP ;\n\
         NOP ;\n\
         store:\n\
         MOV R8, 0x4 ;\n\
         IMAD.WIDE.U32 R4, R0, R8, c[0x0][0x168] ;\n\
         STG.E.SYS [R4.64], R7 ;\n\
         EXIT ;\n",
    );
    let c = Case {
        name: "counter",
        kernel: k,
        grid: [40, 1, 1],
        block: [64, 1, 1],
        dyn_shared: 0,
        inputs: vec![vec![0; 4]],
        outputs: vec![4 * 40],
        scalars: vec![],
    };
    let one = run_case(&c, config(1, true, 0));
    let old: Vec<u32> = from_bytes_u32(&one.outputs[0]);
    assert_eq!(old, (0..40).collect::<Vec<u32>>(), "CTA order");
    let t1 = one.timing.unwrap();
    assert_eq!(t1.counter("ctas"), 40);
    assert_eq!(t1.counter("warp_instructions"), one.stats.warp_instructions);
    assert_eq!(t1.counter("gmem.atomics"), 40);
    assert!(!one.stats.by_opcode.contains_key("NOP"), "the final runs skip the NOPs");
    for threads in [2, 4] {
        let o = run_case(&c, config(threads, true, 8));
        assert_eq!(o.outputs, one.outputs);
        assert_eq!(o.stats, one.stats);
        let t = o.timing.unwrap();
        assert_eq!(t.counter("op.NOP"), 0, "{threads} threads: a discarded run was timed");
        assert_eq!(t, t1, "{threads} threads");
    }
}

#[test]
fn wmma_listing_issues_16_hmma_steps_in_32_tensor_cycles() {
    let c = cases().into_iter().find(|c| c.name == "wmma/wmma_f16_f32_rowcol").unwrap();
    let t = run_case(&c, config(1, true, 0)).timing.unwrap();
    assert_eq!(t.counter("hmma.executed"), 16);
    assert_eq!(t.counter("hmma.issued"), 16);
    assert_eq!(t.counter("tensor.busy_cycles"), 32);
    assert_eq!(t.counter("warps"), 1);
    assert_eq!(t.sm_cycles.len(), 80);
    assert_eq!(t.sm_cycles.iter().filter(|&&c| c > 0).count(), 1);
    assert_eq!(t.counter("cycles"), t.sm_cycles[0]);
}

/// One warp stores with a stride of 1, 2 and 32 words and loads one word in every lane.
fn smem_kernel(shift: u32, load_broadcast: bool) -> KernelImage {
    let body = if load_broadcast {
        "LDS R4, [RZ] ;\n".to_string()
    } else {
        format!("SHF.L.U32 R1, R0, 0x{shift:x}, RZ ;\nSTS [R1], R0 ;\n")
    };
    kernel(&format!(".kernel smem\n.shared 16384\nS2R R0, SR_TID.X ;\n{body}EXIT ;\n"))
}

#[test]
fn shared_memory_bank_conflicts_by_hand() {
    // (words of stride as a shift of the byte offset, conflicts per warp-instruction):
    // stride 1 word: 32 banks, 0; stride 2: 2 lanes per bank, 1 replay; stride 32: one bank, 31.
    for (what, shift, broadcast, per_warp) in [
        ("stride 1", 2u32, false, 0u64),
        ("stride 2", 3, false, 1),
        ("stride 32", 7, false, 31),
        ("broadcast load", 0, true, 0),
    ] {
        for warps in [1u32, 2] {
            let c = Case {
                name: what,
                kernel: smem_kernel(shift, broadcast),
                grid: [1, 1, 1],
                block: [32 * warps, 1, 1],
                dyn_shared: 0,
                inputs: vec![],
                outputs: vec![],
                scalars: vec![],
            };
            let t = run_case(&c, config(1, true, 0)).timing.unwrap();
            assert_eq!(t.counter("smem.instructions"), warps as u64, "{what}");
            assert_eq!(t.counter("smem.bank_conflicts"), per_warp * warps as u64, "{what}, {warps} warps");
        }
    }
}

fn owmma_kernel() -> KernelImage {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../programs/owmma_16x16x16.sass");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let p = otc_asm::assemble(&text, "owmma_16x16x16.sass").unwrap_or_else(|e| panic!("{e}"));
    KernelImage::from(p.kernel("owmma_16x16x16").expect("kernel"))
}

#[test]
fn owmma_program_is_32_ohmmas_in_32_tensor_cycles() {
    let mut rng = Rng(5);
    let c = Case {
        name: "owmma",
        kernel: owmma_kernel(),
        grid: [1, 1, 1],
        block: [32, 1, 1],
        dyn_shared: 0,
        inputs: vec![f16_bytes(&mut rng, 256), f16_bytes(&mut rng, 256)],
        outputs: vec![1024],
        scalars: vec![],
    };
    let off = run_case(&c, config(1, false, 0));
    let on = run_case(&c, config(1, true, 0));
    assert_eq!(on.outputs, off.outputs);
    assert_eq!(on.stats, off.stats);
    let t = on.timing.unwrap();
    assert_eq!(t.counter("ohmma.executed"), 32);
    assert_eq!(t.counter("ohmma.skipped"), 0);
    assert_eq!(t.counter("tensor.busy_cycles"), 32);
    assert_eq!(on.stats.ohmma_executed, 32);
}

/// One SpWMMA set with the given bitmaps, its A/B registers zero.
fn spwmma_kernel(abm: u32, bbm: u32) -> KernelImage {
    kernel(&format!(
        ".kernel spwmma\n\
         MOV R12, 0x{abm:x} ;\n\
         MOV R13, 0x{bbm:x} ;\n\
         CS2R R4, SRZ ;\n\
         ACCB.CLEAR ;\n\
         SPWMMA.M32N32K1.F32.F32 {{R32, R33, R34, R35, R36, R37, R38, R39}}, {{R40, R41, R42, R43}}, R12, R13, R4, {{R20, R21}} ;\n\
         EXIT ;\n"
    ))
}

fn spwmma_timing(abm: u32, bbm: u32) -> (Stats, LaunchStats) {
    let c = Case {
        name: "spwmma",
        kernel: spwmma_kernel(abm, bbm),
        grid: [1, 1, 1],
        block: [32, 1, 1],
        dyn_shared: 0,
        inputs: vec![],
        outputs: vec![],
        scalars: vec![],
    };
    let o = run_case(&c, config(1, true, 0));
    (o.timing.unwrap(), o.stats)
}

#[test]
fn spwmma_20_by_11_runs_3_ohmmas_and_8_over_3_fewer_tensor_cycles() {
    let (dense, dense_f) = spwmma_timing(u32::MAX, u32::MAX);
    let (sparse, sparse_f) = spwmma_timing(0x000f_ffff, 0x0000_07ff);
    assert_eq!((dense.counter("ohmma.executed"), dense.counter("ohmma.skipped")), (8, 0));
    assert_eq!((sparse.counter("ohmma.executed"), sparse.counter("ohmma.skipped")), (3, 5));
    assert_eq!((sparse_f.ohmma_executed, sparse_f.ohmma_skipped), (3, 5));
    assert_eq!((dense_f.ohmma_executed, dense_f.ohmma_skipped), (8, 0));
    let (d, s) = (dense.counter("tensor.busy_cycles.ohmma"), sparse.counter("tensor.busy_cycles.ohmma"));
    assert_eq!((d, s), (8, 3));
    assert_eq!(d * 3, s * 8, "8/3 fewer OHMMA tensor cycles");
    // The rest of the set (BOHMMA, ACCB.CLEAR, ACCB.BMAP) costs the same.
    assert_eq!(dense.counter("tensor.busy_cycles") - d, sparse.counter("tensor.busy_cycles") - s);
    assert_eq!(sparse.counter("ohmma.sparse.executed"), 3);
}

#[test]
fn a_cta_the_model_cannot_place_is_a_launch_error_before_anything_runs() {
    let mut tc = TimingConfig::v100();
    tc.set("sm.max_threads_per_cta", 64u32).unwrap();
    let mut d = Device::new(DeviceConfig { timing: Some(tc), threads: Some(1), ..DeviceConfig::default() });
    let k = kernel(
        ".kernel w\n.param ptr p\nMOV R2, c[0x0][0x160] ;\nMOV R3, c[0x0][0x164] ;\nSTG.E.SYS [R2.64], RZ ;\nEXIT ;\n",
    );
    let p = upload(&mut d, &[7u8; 4]);
    let e = d.launch(&k, [1, 1, 1], [128, 1, 1], Params::new().ptr(p).bytes(), 0).unwrap_err();
    match e {
        SimError::Launch(m) => assert!(m.contains("sm.max_threads_per_cta"), "{m}"),
        e => panic!("expected a launch error, got {e}"),
    }
    assert_eq!(d.read(p, 4).unwrap(), vec![7u8; 4], "nothing ran");
    // The same launch within the model's limits runs and is timed.
    let (_, t) = d.launch_timed(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(p).bytes(), 0).unwrap();
    assert_eq!(t.unwrap().counter("gmem.write_bytes"), 4 * 64);
}

#[test]
fn timing_off_is_the_functional_core_alone() {
    let mut d = Device::new(DeviceConfig { timing: None, ..DeviceConfig::default() });
    let k = kernel(".kernel e\nEXIT ;\n");
    let (s, t) = d.launch_timed(&k, [3, 1, 1], [32, 1, 1], &[], 0).unwrap();
    assert!(t.is_none());
    assert_eq!(s.warp_instructions, 3);
    assert!(DeviceConfig::default().timing.is_some(), "timing is on by default");
}

/// The timed harness: the model's view of one warp's run, the same results as untimed, and the
/// harness's faults stay faults when timed.
#[test]
fn timed_warp_harness_gives_issue_cycles_and_the_same_results() {
    use otc_sim::WarpHarness;
    // (program, issue cycles of its instructions)
    let cases: &[(&str, &[u64])] = &[
        ("FFMA R0, R0, R1, R2 ;\nFFMA R0, R0, R1, R2 ;\nFFMA R0, R0, R1, R2 ;\nEXIT ;", &[0, 4, 8, 9]),
        ("FFMA R4, R1, R2, R3 ;\nFFMA R6, R1, R2, R3 ;\nIADD3 R8, R1, R2, RZ ;\nEXIT ;", &[0, 2, 3, 4]),
        ("MUFU.EX2 R4, R1 ;\nFADD R5, R4, R4 ;\nEXIT ;", &[0, 14, 15]),
    ];
    for &(text, want) in cases {
        let code = asm(text);
        let mut regs = Vec::new();
        for timed in [false, true] {
            let mut h = WarpHarness::new();
            h.write_reg(1, lanes(|l| (l as f32 * 0.5).to_bits()));
            h.write_reg(2, lanes(|_| 1.5f32.to_bits()));
            h.set_timing(timed.then(TimingConfig::v100));
            let (stats, timing) = h.run_timed(&code).unwrap();
            assert_eq!(stats.warp_instructions, want.len() as u64, "{text}");
            match timing {
                None => assert!(!timed),
                Some(t) => {
                    let cycles: Vec<u64> = t.issues.iter().map(|r| r.cycle).collect();
                    assert_eq!(cycles, want, "{text}");
                    assert_eq!(t.stats.counter("warp_instructions"), want.len() as u64);
                }
            }
            regs.push((0..10).map(|r| h.read_reg(r)).collect::<Vec<_>>());
        }
        assert_eq!(regs[0], regs[1], "{text}: results differ timed and untimed");
    }
    let mut h = WarpHarness::new();
    h.set_timing(Some(TimingConfig::v100()));
    h.set_max_instructions(Some(1000));
    assert!(matches!(h.run_timed(&asm("top:\nBRA top ;")), Err(SimError::Fault(_))));
}
