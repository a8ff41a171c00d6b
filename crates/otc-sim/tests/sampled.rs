//! Sampled timing (`Device::set_timing_sample`, `otc_timing::sample`): the timed SMs get
//! exactly their full-timing cycles, the sample does not depend on the host threads, a sample
//! of every SM is full timing, and the counters are scaled as documented.

mod common;
use common::*;
use otc_sim::{Device, DeviceConfig, KernelImage};
use otc_timing::{Stats, TimingConfig};

/// 8 SMs, so that the small fixture kernels spread over more SMs than the sample has.
const SMS: u32 = 8;

struct Case {
    name: &'static str,
    kernel: KernelImage,
    grid: u32,
    block: u32,
    inputs: Vec<Vec<u8>>,
    output: usize,
    scalars: Vec<u32>,
    /// The SMs a sample of 3 times: one per equal part (jittered), both CTA counts when they
    /// differ.
    timed: Vec<u32>,
}

fn cases() -> Vec<Case> {
    let k = |file: &str, name: &str| KernelImage::from(fixture(file).kernel(name).unwrap());
    let mut rng = Rng(0x5a3b_1e00);
    let mut f32s = |n: usize| to_bytes_f32(&(0..n).map(|_| rng.below(4000) as f32 / 16.0 - 125.0).collect::<Vec<_>>());
    let n = 5000;
    vec![
        Case {
            name: "vadd_f32, 40 CTAs",
            kernel: k("vecadd", "vadd_f32"),
            grid: 40,
            block: 128,
            inputs: vec![f32s(n), f32s(n)],
            output: 4 * n,
            scalars: vec![n as u32],
            timed: vec![0, 4, 5],
        },
        Case {
            name: "vadd_gridstride, 12 CTAs",
            kernel: k("vecadd", "vadd_gridstride"),
            grid: 12,
            block: 64,
            inputs: vec![f32s(n), f32s(n)],
            output: 4 * n,
            scalars: vec![n as u32],
            timed: vec![0, 3, 4], // SMs 0..4 run 2 CTAs, 4..8 one
        },
        Case {
            name: "reduce_static, 21 CTAs",
            kernel: k("reduction", "reduce_static"),
            grid: 21,
            block: 128,
            inputs: vec![f32s(21 * 128)],
            output: 4 * 21,
            scalars: vec![],
            timed: vec![0, 4, 5], // SMs 0..5 run 3 CTAs, 5..8 two
        },
    ]
}

/// Run `c` with `threads` host threads, a parallel batch of `batch` and a sample of `sample`
/// SMs (None: full timing): (output bytes, timing statistics).
fn run(c: &Case, threads: usize, batch: usize, sample: Option<u32>) -> (Vec<u8>, Stats) {
    let mut timing = TimingConfig::v100();
    timing.set("gpu.num_sms", SMS as i64).unwrap();
    let cfg =
        DeviceConfig { threads: Some(threads), parallel_batch: batch, timing: Some(timing), ..Default::default() };
    let mut d = Device::new(cfg);
    d.set_timing_sample(sample);
    let mut p = Params::new();
    for i in &c.inputs {
        p = p.ptr(upload(&mut d, i));
    }
    let out = upload(&mut d, &vec![0u8; c.output]);
    p = p.ptr(out);
    for &s in &c.scalars {
        p = p.u32(s);
    }
    let (_, timing) = d.launch_timed(&c.kernel, [c.grid, 1, 1], [c.block, 1, 1], p.bytes(), 0).unwrap();
    (d.read(out, c.output).unwrap(), timing.unwrap())
}

#[test]
fn the_timed_sms_get_exactly_their_full_timing_cycles() {
    for c in cases() {
        let (out_full, full) = run(&c, 1, 0, None);
        let (out, s) = run(&c, 1, 0, Some(3));
        assert_eq!(out, out_full, "{}: results do not depend on the timing", c.name);
        let sample = s.sample.as_ref().unwrap_or_else(|| panic!("{}: no sample description", c.name));
        assert!(full.sample.is_none(), "{}", c.name);
        assert_eq!(sample.timed_sms, c.timed, "{}", c.name);
        assert!(!sample.exact, "{}", c.name);
        for &i in &sample.timed_sms {
            assert_eq!(s.sm_cycles[i as usize], full.sm_cycles[i as usize], "{}: SM {i}", c.name);
        }
        assert_eq!(sample.cycles_timed, sample.timed_sms.iter().map(|&i| full.sm_cycles[i as usize]).max().unwrap());
        assert!(s.counter("cycles") >= sample.cycles_timed, "{}", c.name);
        for key in ["ctas", "warps", "warp_instructions", "sms_used"] {
            assert_eq!(s.counter(key), full.counter(key), "{}: {key} is exact", c.name);
        }
        assert_eq!(sample.warp_instructions, full.counter("warp_instructions"), "{}", c.name);
        assert_eq!(sample.ctas, c.grid as u64, "{}", c.name);
        assert_eq!(
            sample.ctas_timed,
            (0..c.grid).filter(|i| sample.timed_sms.contains(&(i % SMS))).count() as u64,
            "{}",
            c.name
        );
        // SM 0 counts once; the other timed SMs stand for the other SMs
        let w0 = sample.warp_instructions_sm0;
        let scale = (sample.warp_instructions - w0) as f64 / (sample.warp_instructions_timed - w0) as f64;
        assert_eq!(sample.scale, scale, "{}", c.name);
    }
}

#[test]
fn scaled_counters_estimate_the_full_ones() {
    // These kernels' CTAs do nearly the same work: the ratio estimate lands close, and a missing
    // or wrong scale (8/3 off) would not.
    for c in cases() {
        let (_, full) = run(&c, 1, 0, None);
        let (_, s) = run(&c, 1, 0, Some(3));
        for key in ["thread_instructions", "issue.cycles", "gmem.read_bytes", "gmem.read_sectors", "l2.misses"] {
            let (e, f) = (s.counter(key) as f64, full.counter(key) as f64);
            assert!((e - f).abs() <= 0.15 * f, "{}: {key} estimated {e}, full {f}", c.name);
        }
        let (e, f) = (s.counter("cycles") as f64, full.counter("cycles") as f64);
        assert!((e - f).abs() <= 0.05 * f, "{}: cycles estimated {e}, full {f}", c.name);
        // per-pc rows are scaled by the same factor
        let col: u64 = s.by_pc.iter().map(|r| r[0]).sum();
        let want = s.counter("warp_instructions") as f64;
        assert!(
            (col as f64 - want).abs() <= s.by_pc.len() as f64,
            "{}: per-pc warp_instructions {col} vs {want}",
            c.name
        );
    }
}

#[test]
fn the_sample_does_not_depend_on_host_threads_or_batches() {
    for c in cases() {
        let (_, one) = run(&c, 1, 0, Some(3));
        for (threads, batch) in [(2, 0), (2, 1), (3, 2)] {
            let (_, other) = run(&c, threads, batch, Some(3));
            assert_eq!(other, one, "{}: {threads} threads, batch {batch}", c.name);
        }
    }
}

#[test]
fn a_sample_of_every_used_sm_is_full_timing() {
    for c in cases() {
        let (_, full) = run(&c, 2, 0, None);
        for sms in [SMS, 50] {
            let (_, mut s) = run(&c, 2, 0, Some(sms));
            let sample = s.sample.take().unwrap();
            assert!(sample.exact, "{}", c.name);
            assert_eq!(sample.expected_error, 0.0, "{}", c.name);
            assert_eq!(sample.scale, 1.0, "{}", c.name);
            assert_eq!(s, full, "{}: a sample of {sms} SMs", c.name);
        }
    }
}
