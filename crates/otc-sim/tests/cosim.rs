//! Co-simulation (`DeviceConfig::cosim`, src/cosim.rs): the CTAs run interleaved on speculative
//! views while the cycle model reads their events, and the launch has the result of running them
//! one after another; a CTA that reads what an earlier one wrote makes the launch fall back to the
//! linear path, and launches with global atomics never co-simulate.

mod common;
use common::*;
use otc_sim::{Device, DeviceConfig, KernelImage, LaunchStats};
use otc_timing::{Stats, TimingConfig};

/// Every thread loops `n` times, then writes its CTA index to out[64 s ctaid + tid]: with s = 1
/// each CTA writes words of its own, with s = 0 all CTAs write the same words (the last CTA's
/// value must win).
const STORES: &str = "
.kernel stores
.param ptr out
.param u32 n
.param u32 s
    S2R R0, SR_TID.X ;
    S2R R1, SR_CTAID.X ;
    MOV R7, RZ ;
loop:
    IADD3 R7, R7, 0x1, RZ ;
    ISETP.LT.U32.AND P0, PT, R7, c[0x0][0x168], PT ;
    @P0 BRA loop ;
    MOV R2, c[0x0][0x160] ;
    MOV R3, c[0x0][0x164] ;
    IMAD R8, R1, c[0x0][0x16c], RZ ;
    LEA R8, R8, R0, 0x6 ;
    IMAD.WIDE.U32 R4, R8, 0x4, R2 ;
    STG.E.SYS [R4], R1 ;
    EXIT ;
";

/// One global atomic per thread.
const TICKETS: &str = "
.kernel tickets
.param ptr counter
    MOV R2, c[0x0][0x160] ;
    MOV R3, c[0x0][0x164] ;
    MOV R4, 0x1 ;
    ATOMG.E.ADD.STRONG.GPU PT, R5, [R2], R4 ;
    EXIT ;
";

fn config(cosim: bool, threads: usize) -> DeviceConfig {
    let mut timing = TimingConfig::v100();
    timing.set("gpu.num_sms", 4i64).unwrap();
    DeviceConfig { cosim, threads: Some(threads), timing: Some(timing), ..Default::default() }
}

/// Launch `k` on a fresh device with `bytes` of zeroed memory: (memory after, functional
/// statistics, model statistics as JSON, how the launch used the co-simulation).
fn launch(
    cfg: DeviceConfig,
    k: &KernelImage,
    grid: u32,
    block: u32,
    bytes: usize,
    scalars: &[u32],
) -> (Vec<u8>, LaunchStats, String, Option<Result<(), &'static str>>) {
    let mut d = Device::new(cfg);
    let p = upload(&mut d, &vec![0u8; bytes]);
    d.write(p, &to_bytes_u32(&[7])).unwrap();
    let mut params = Params::new().ptr(p);
    for &s in scalars {
        params = params.u32(s);
    }
    let (st, timing) = d.launch_timed(k, [grid, 1, 1], [block, 1, 1], params.bytes(), 0).unwrap();
    let timing: Stats = timing.expect("timed");
    (d.read(p, bytes).unwrap(), st, timing.to_json(), d.last_cosim())
}

#[test]
fn a_cta_reading_an_earlier_ctas_write_falls_back_to_the_linear_result() {
    let k = kernel(CHAIN);
    let n = 40;
    let (mem, st, timing, how) = launch(config(true, 2), &k, n, 64, 4 * (n as usize + 1), &[]);
    assert_eq!(how, Some(Err("a CTA read what an earlier CTA wrote")));
    let (lmem, lst, ltiming, lhow) = launch(config(false, 2), &k, n, 64, 4 * (n as usize + 1), &[]);
    assert_eq!(lhow, None);
    assert_eq!((mem, st, timing), (lmem.clone(), lst, ltiming), "the fallback is the linear run");
    let mut acc = 7u32;
    for (b, v) in from_bytes_u32(&lmem).iter().enumerate() {
        assert_eq!(*v, acc, "data[{b}]");
        acc += b as u32;
    }
}

#[test]
fn long_ctas_interleave_and_give_the_linear_bits_for_any_thread_count() {
    let k = kernel(STORES);
    let (grid, block) = (11u32, 64u32);
    let bytes = 4 * 64 * grid as usize;
    // long enough that each CTA runs in several chunks, interleaved with the others
    let iters = 3000;
    let mut runs = Vec::new();
    for threads in [1, 2] {
        let (mem, st, timing, how) = launch(config(true, threads), &k, grid, block, bytes, &[iters, 1]);
        assert_eq!(how, Some(Ok(())), "{threads} threads");
        let words = from_bytes_u32(&mem);
        assert!((0..words.len()).all(|i| words[i] == (i / 64) as u32), "each CTA's words");
        runs.push((mem, st, timing));
    }
    assert!(runs[0] == runs[1], "memory and statistics identical for 1 and 2 threads");
    let (lmem, lst, ltiming, _) = launch(config(false, 1), &k, grid, block, bytes, &[iters, 1]);
    assert_eq!((&runs[0].0, &runs[0].1), (&lmem, &lst), "bits and functional counters of the linear run");
    for c in ["warp_instructions", "gmem.write_sectors", "thread_instructions"] {
        assert_eq!(counter(&runs[0].2, c), counter(&ltiming, c), "the model counts the same {c}");
    }
}

#[test]
fn ctas_writing_the_same_words_fall_back_to_the_linear_result() {
    let k = kernel(STORES);
    let (grid, block, iters) = (11u32, 64u32, 3000);
    let (mem, st, timing, how) = launch(config(true, 2), &k, grid, block, 4 * 64, &[iters, 0]);
    // a store counts as a read of its bytes (it may be a read-modify-write): conservative
    assert_eq!(how, Some(Err("a CTA read what an earlier CTA wrote")));
    let (lmem, lst, ltiming, _) = launch(config(false, 2), &k, grid, block, 4 * 64, &[iters, 0]);
    assert!(from_bytes_u32(&lmem).iter().all(|&w| w == grid - 1), "the last CTA's value wins");
    assert_eq!((mem, st, timing), (lmem, lst, ltiming), "the fallback is the linear run");
}

#[test]
fn launches_with_global_atomics_never_co_simulate() {
    let k = kernel(TICKETS);
    let (mem, _, _, how) = launch(config(true, 2), &k, 9, 32, 4, &[]);
    assert_eq!(how, None);
    assert_eq!(from_bytes_u32(&mem), vec![7 + 9 * 32]);
}

/// A counter of a statistics JSON text.
fn counter(json: &str, name: &str) -> u64 {
    let key = format!("\"{name}\":");
    let at = json.find(&key).unwrap_or_else(|| panic!("{name} in {json}")) + key.len();
    json[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// The walk of benchmarks/cosim_bound.py (its `SOURCE`): every thread sums `steps` words of a
/// table at positions from an LCG in its registers, so its sector streams never repeat and a
/// CTA's trace grows with `steps`.
fn lcg_walk() -> KernelImage {
    let file = include_str!("../../../benchmarks/cosim_bound.py");
    let start = file.find("SOURCE = \"\"\"").expect("cosim_bound.py has SOURCE") + 12;
    let len = file[start..].find("\"\"\"").expect("SOURCE ends");
    kernel(&file[start..start + len])
}

/// What a walk gives: the launch's result, the model's trace peak and how the launch used the
/// co-simulation (`Device::last_cosim`).
type Walked = (Result<(), otc_sim::SimError>, Option<u64>, Option<Result<(), &'static str>>);

/// An LCG walk of `steps` (8 CTAs of 64 threads) on a device of `cfg`.
fn walk(cfg: DeviceConfig, steps: u32) -> Walked {
    let k = lcg_walk();
    let (grid, block, words) = (8u32, 64u32, 1u32 << 16);
    let mut d = Device::new(cfg);
    let table = upload(&mut d, &vec![0u8; 4 * words as usize]);
    let out = upload(&mut d, &vec![0u8; 4 * (grid * block) as usize]);
    let params = Params::new().ptr(table).ptr(out).u32(steps).u32(words - 1);
    let r = d.launch_timed(&k, [grid, 1, 1], [block, 1, 1], params.bytes(), 0).map(|_| ());
    assert!(d.read(out, 4).is_ok(), "memory stays readable");
    (r, d.last_trace_peak_bytes(), d.last_cosim())
}

/// The cycle model's trace peak of an LCG walk of `steps` on 4 SMs.
fn walk_trace_peak(cosim: bool, steps: u32) -> u64 {
    let (r, peak, how) = walk(config(cosim, 1), steps);
    r.unwrap();
    assert_eq!(how, cosim.then_some(Ok(())));
    peak.expect("timed")
}

#[test]
fn co_simulation_bounds_the_trace_bytes_the_model_holds() {
    // both lengths need several chunks per warp (4,096 warp-instructions, ~455 steps)
    let (short, long) = (1024, 4096);
    let linear = [walk_trace_peak(false, short), walk_trace_peak(false, long)];
    let cosim = [walk_trace_peak(true, short), walk_trace_peak(true, long)];
    assert!(linear[1] > 3 * linear[0], "whole traces grow with the walk: {linear:?}");
    assert!(cosim[0] > 0 && cosim[1] * 4 < cosim[0] * 5, "chunks do not: {cosim:?}");
    assert!(cosim[1] * 3 < linear[1], "a chunk is far less than a whole trace: {cosim:?} {linear:?}");
    let mut d = Device::new(DeviceConfig { timing: None, ..config(false, 1) });
    assert_eq!(d.last_trace_peak_bytes(), None);
    let out = upload(&mut d, &[0u8; 4 * 64]);
    let k = kernel(STORES);
    d.launch_timed(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(out).u32(1).u32(1).bytes(), 0).unwrap();
    assert_eq!(d.last_trace_peak_bytes(), None, "not timed");
}

/// An LCG walk of `steps` on 4 SMs under `max_trace_bytes = budget`: the launch's result and the
/// model's trace peak.
fn walk_under_budget(
    cosim: bool,
    threads: usize,
    steps: u32,
    budget: u64,
) -> (Result<(), otc_sim::SimError>, Option<u64>) {
    let (r, peak, _) = walk(DeviceConfig { max_trace_bytes: Some(budget), ..config(cosim, threads) }, steps);
    (r, peak)
}

#[test]
fn max_trace_bytes_stops_a_ctas_trace_past_its_share_the_same_way_for_any_thread_count() {
    // 8 CTAs, all resident at once on 4 SMs: each may record budget / 8 bytes (the linear
    // walk records about 130 bytes per CTA per step: 1.06 MB at 1,024 steps for all 8)
    let budget = 2u64 << 20;
    let (ok, peak) = walk_under_budget(false, 1, 1024, budget);
    assert!(ok.is_ok(), "{ok:?}");
    assert!(peak.expect("timed") <= budget, "{peak:?}");
    let faults: Vec<_> = [1, 2]
        .iter()
        .map(|&threads| match walk_under_budget(false, threads, 4096, budget).0 {
            Err(otc_sim::SimError::Fault(f)) => f,
            other => panic!("a watchdog fault, not {other:?}"),
        })
        .collect();
    let f = &faults[0];
    assert_eq!(f.kind, otc_sim::FaultKind::Watchdog);
    assert_eq!(f.cta, [0, 0, 0], "the first CTA in linear order");
    let share = (budget / 8).to_string();
    assert!(
        f.message.contains(&share) && f.message.contains("max_trace_bytes") && f.message.contains("cosim"),
        "{}",
        f.message
    );
    assert_eq!(faults[0], faults[1], "the same fault for 1 and 2 threads");
    // co-simulated, each recording is one chunk per warp: the same walk fits
    let (ok, peak) = walk_under_budget(true, 2, 4096, budget);
    assert!(ok.is_ok(), "{ok:?}");
    assert!(peak.expect("timed") <= budget, "{peak:?}");
    // no limit: the walk runs
    assert!(walk_under_budget(false, 1, 4096, u64::MAX).0.is_ok());
}
