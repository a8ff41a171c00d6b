//! Speed of the tensor-core dot step: nanoseconds per call of the one-product (`OHMMA.8161`) and
//! four-product (`HMMA.884`) forms, V100 model, on random finite fp16 data with fp32 chains, and
//! of the lane batch that runs a dense `OHMMA.8161`.
//! Run with `cargo run --release -p otc-numerics --example adder_speed`.

use std::hint::black_box;
use std::time::Instant;

use otc_numerics::{dot1_f32, dot4_f32, TensorArith};

/// Random finite fp16 values with exponent fields 8..22 (values around 1), by xorshift.
fn fp16_stream(mut s: u64) -> impl FnMut() -> u16 {
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let x = s as u16;
        (x & 0x83ff) | ((8 + (x >> 10) % 15) << 10)
    }
}

fn main() {
    let mut next = fp16_stream(0x1234_5678_9abc_def0);
    let n = 1 << 16;
    let a: Vec<u16> = (0..n).map(|_| next()).collect();
    let b: Vec<u16> = (0..n).map(|_| next()).collect();
    let reps = 200;
    let t = Instant::now();
    let mut acc = 0u32;
    for _ in 0..reps {
        for i in 0..n {
            acc = dot1_f32(TensorArith::V100, a[i], b[i], acc);
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!("dot1_f32 (chained): {:.2} ns/call  ({acc:#x})", dt * 1e9 / (reps * n) as f64);
    let t = Instant::now();
    let mut acc = [0u32; 8];
    for _ in 0..reps {
        for i in (0..n).step_by(8) {
            for j in 0..8 {
                acc[j] = dot1_f32(TensorArith::V100, a[i + j], b[i + j], acc[j]);
            }
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!("dot1_f32 (8 chains): {:.2} ns/call  ({:#x})", dt * 1e9 / (reps * n) as f64, black_box(acc)[0]);
    let t = Instant::now();
    let mut acc = 0u32;
    for _ in 0..reps / 4 {
        for i in (0..n).step_by(4) {
            acc = dot4_f32(
                TensorArith::V100,
                [a[i], a[i + 1], a[i + 2], a[i + 3]],
                [b[i], b[i + 1], b[i + 2], b[i + 3]],
                acc,
            );
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!("dot4_f32 (chained): {:.2} ns/call", dt * 1e9 / (reps / 4 * n / 4) as f64);
    black_box(acc);
    lane_batches();
}

/// One dense fp32 OHMMA's worth of the one-product lane batch (4 x 32 elements), in the host's
/// widest vectors, as otc-sim runs it.
fn ohmma_batch(a: &[u16; 32], b: &[[u16; 32]; 4], c: &mut [[u32; 32]; 4]) -> u64 {
    let mut special = 0;
    for r in 0..4 {
        let mut out = [0u32; 32];
        special |= otc_numerics::dot1_f32_v100_lanes_host(a, &b[r], &c[r], &mut out)[0];
        c[r] = out;
    }
    special
}

fn lane_batches() {
    let mut next = fp16_stream(0x9e37_79b9_7f4a_7c15);
    let sets = 64;
    let a: Vec<[u16; 32]> = (0..sets).map(|_| std::array::from_fn(|_| next())).collect();
    let b: Vec<[[u16; 32]; 4]> = (0..sets).map(|_| std::array::from_fn(|_| std::array::from_fn(|_| next()))).collect();
    let mut c = [[0u32; 32]; 4];
    let reps = 40_000;
    let t = Instant::now();
    let mut special = 0;
    for _ in 0..reps {
        for i in 0..sets {
            special |= ohmma_batch(&a[i], &b[i], &mut c);
        }
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "dot1_f32_v100_lanes_host, one dense OHMMA (4 x 32 elements): {:.1} ns  ({special:#x}, {:#x})",
        dt * 1e9 / (reps * sets) as f64,
        black_box(c)[0][0]
    );
    other_batches();
}

/// This thread's CPU time in nanoseconds (Linux: `/proc/thread-self/schedstat`), so that a loaded
/// host's waiting is not counted; the wall clock elsewhere.
fn cpu_ns(start: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or_else(|| start.elapsed().as_secs_f64() * 1e9)
}

/// CPU nanoseconds per call of `batch` over `sets` inputs, each output fed back (through
/// `feed`) as the next input.
fn time_batch<T: Copy>(
    sets: usize,
    reps: usize,
    mut c: T,
    feed: impl Fn(T) -> T,
    mut batch: impl FnMut(usize, &T) -> (T, u64),
) -> (f64, u64) {
    let t = Instant::now();
    let t0 = cpu_ns(t);
    let mut special = 0;
    for _ in 0..reps {
        for i in 0..sets {
            let (out, s) = batch(i, &c);
            c = feed(out);
            special |= s;
        }
    }
    black_box(c);
    ((cpu_ns(t) - t0) / (reps * sets) as f64, special)
}

/// The other batches as otc-sim runs them: an fp32 HMMA.884 STEP (64 four-product elements), an
/// fp16 HMMA.884 STEP (128), an fp16 OHMMA (128 one-product elements).
fn other_batches() {
    let mut next = fp16_stream(0x0123_4567_89ab_cdef);
    let sets = 64;
    let a4: Vec<[[u16; 128]; 4]> =
        (0..sets).map(|_| std::array::from_fn(|_| std::array::from_fn(|_| next()))).collect();
    let b4: Vec<[[u16; 128]; 4]> =
        (0..sets).map(|_| std::array::from_fn(|_| std::array::from_fn(|_| next()))).collect();
    let reps = 20_000;
    let half = |x: &[u16; 128]| -> [u16; 64] { x[..64].try_into().unwrap() };
    let (ns, special) = time_batch(
        sets,
        reps,
        [0u32; 64],
        |c| c,
        |i, c| {
            let (a, b) = (a4[i].map(|r| half(&r)), b4[i].map(|r| half(&r)));
            let mut out = [0u32; 64];
            let s = otc_numerics::dot4_f32_v100_lanes_host(&a, &b, c, &mut out)[0];
            (out, s)
        },
    );
    println!("dot4_f32_v100_lanes_host, one fp32 HMMA.884 STEP (64 elements): {ns:.1} CPU-ns  ({special:#x})");
    let (ns, special) = time_batch(
        sets,
        reps,
        [0u16; 128],
        |c| c.map(|h| h & 0xbfff),
        |i, c| {
            let mut out = [0u16; 128];
            let s = otc_numerics::dot4_f16_v100_lanes_host(&a4[i], &b4[i], c, &mut out)[0];
            (out, s)
        },
    );
    println!("dot4_f16_v100_lanes_host, one fp16 HMMA.884 STEP (128 elements): {ns:.1} CPU-ns  ({special:#x})");
    let (ns, special) = time_batch(
        sets,
        reps,
        [0u16; 128],
        |c| c.map(|h| h & 0xbfff),
        |i, c| {
            let mut out = [0u16; 128];
            let s = otc_numerics::dot1_f16_v100_lanes_host(&a4[i][0], &b4[i][0], c, &mut out)[0];
            (out, s)
        },
    );
    println!("dot1_f16_v100_lanes_host, one fp16 OHMMA (128 elements): {ns:.1} CPU-ns  ({special:#x})");
    // the scalar fast paths these batches replace, element by element
    let (ns, _) = time_batch(
        sets,
        reps / 4,
        [0u16; 128],
        |c| c.map(|h| h & 0xbfff),
        |i, c| {
            let out = std::array::from_fn(|j| {
                let (a, b) = (std::array::from_fn(|k| a4[i][k][j]), std::array::from_fn(|k| b4[i][k][j]));
                otc_numerics::dot4_f16(TensorArith::V100, a, b, c[j])
            });
            (out, 0)
        },
    );
    println!("dot4_f16 x 128 (scalar, the same STEP): {ns:.1} CPU-ns");
    let (ns, _) = time_batch(
        sets,
        reps / 4,
        [0u16; 128],
        |c| c.map(|h| h & 0xbfff),
        |i, c| (std::array::from_fn(|j| otc_numerics::dot1_f16(TensorArith::V100, a4[i][0][j], b4[i][0][j], c[j])), 0),
    );
    println!("dot1_f16 x 128 (scalar, the same OHMMA): {ns:.1} CPU-ns");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("f16c") {
        // SAFETY: the host has AVX2 and F16C (and the rest of x86-64-v3 with them).
        unsafe { avx2_formulations(&a4, &b4) };
    }
}

/// The batches compiled for AVX2 (x86-64-v3): each inlines the crate's generic batch, so the
/// compiler vectorises it for these features.
#[cfg(target_arch = "x86_64")]
mod v3 {
    macro_rules! wrap {
        ($($name:ident: $f:path, ($t:ty) -> $r:ty;)*) => {$(
            #[target_feature(enable = "avx2,fma,f16c,bmi1,bmi2,lzcnt,popcnt")]
            pub unsafe fn $name(a: &$t, b: &$t, c: &$r, o: &mut $r) -> [u64; 2] {
                $f(a, b, c, o)
            }
        )*};
    }
    wrap! {
        int1: otc_numerics::dot1_f32_v100_lanes, ([u16; 128]) -> [u32; 128];
        fp1: otc_numerics::dot1_f32_v100_lanes_fp, ([u16; 128]) -> [u32; 128];
        int4: otc_numerics::dot4_f32_v100_lanes, ([[u16; 64]; 4]) -> [u32; 64];
        fp4: otc_numerics::dot4_f32_v100_lanes_fp, ([[u16; 64]; 4]) -> [u32; 64];
        fp1_f16: otc_numerics::dot1_f16_v100_lanes_fp, ([u16; 128]) -> [u16; 128];
        fp4_f16: otc_numerics::dot4_f16_v100_lanes_fp, ([[u16; 128]; 4]) -> [u16; 128];
    }
}

/// Each formulation that an AVX2 host could run, side by side in one process (CPU-ns per batch
/// of the shape otc-sim runs): the integer batch and the portable float one compiled for AVX2,
/// and the AVX2 intrinsics of `float_avx2`.
///
/// # Safety
/// The host must have AVX2, FMA, F16C, BMI1/2, LZCNT and POPCNT.
#[cfg(target_arch = "x86_64")]
unsafe fn avx2_formulations(a4: &[[[u16; 128]; 4]], b4: &[[[u16; 128]; 4]]) {
    use otc_numerics::float_avx2 as v2;
    let sets = a4.len();
    let reps = 20_000;
    let half = |x: &[u16; 128]| -> [u16; 64] { x[..64].try_into().unwrap() };
    type F32x128 = unsafe fn(&[u16; 128], &[u16; 128], &[u32; 128], &mut [u32; 128]) -> [u64; 2];
    let one_f32: [(&str, F32x128); 3] =
        [("integer", v3::int1), ("portable float", v3::fp1), ("AVX2 intrinsics", v2::dot1_f32_v100_lanes::<128>)];
    for (name, f) in one_f32 {
        let (ns, special) = time_batch(
            sets,
            reps,
            [0u32; 128],
            |c| c,
            |i, c| {
                let mut out = [0u32; 128];
                // SAFETY: the caller's promise.
                let s = unsafe { f(&a4[i][0], &b4[i][0], c, &mut out) }[0];
                (out, s)
            },
        );
        println!("AVX2 build, fp32 one-product batch (128 elements), {name}: {ns:.1} CPU-ns  ({special:#x})");
    }
    type F32x64 = unsafe fn(&[[u16; 64]; 4], &[[u16; 64]; 4], &[u32; 64], &mut [u32; 64]) -> [u64; 2];
    let four_f32: [(&str, F32x64); 3] =
        [("integer", v3::int4), ("portable float", v3::fp4), ("AVX2 intrinsics", v2::dot4_f32_v100_lanes::<64>)];
    for (name, f) in four_f32 {
        let (ns, special) = time_batch(
            sets,
            reps,
            [0u32; 64],
            |c| c,
            |i, c| {
                let (a, b) = (a4[i].map(|r| half(&r)), b4[i].map(|r| half(&r)));
                let mut out = [0u32; 64];
                // SAFETY: the caller's promise.
                let s = unsafe { f(&a, &b, c, &mut out) }[0];
                (out, s)
            },
        );
        println!("AVX2 build, fp32 HMMA.884 STEP (64 elements), {name}: {ns:.1} CPU-ns  ({special:#x})");
    }
    type F16x1 = unsafe fn(&[u16; 128], &[u16; 128], &[u16; 128], &mut [u16; 128]) -> [u64; 2];
    type F16x4 = unsafe fn(&[[u16; 128]; 4], &[[u16; 128]; 4], &[u16; 128], &mut [u16; 128]) -> [u64; 2];
    let one_f16: [(&str, F16x1); 2] =
        [("portable float", v3::fp1_f16), ("AVX2 intrinsics", v2::dot1_f16_v100_lanes::<128>)];
    let four_f16: [(&str, F16x4); 2] =
        [("portable float", v3::fp4_f16), ("AVX2 intrinsics", v2::dot4_f16_v100_lanes::<128>)];
    for ((n1, f1), (n4, f4)) in one_f16.into_iter().zip(four_f16) {
        let feed = |c: [u16; 128]| c.map(|h| h & 0xbfff);
        let (ns1, s1) = time_batch(sets, reps, [0u16; 128], feed, |i, c| {
            let mut out = [0u16; 128];
            // SAFETY: the caller's promise.
            let s = unsafe { f1(&a4[i][0], &b4[i][0], c, &mut out) }[0];
            (out, s)
        });
        let (ns4, s4) = time_batch(sets, reps, [0u16; 128], feed, |i, c| {
            let mut out = [0u16; 128];
            // SAFETY: the caller's promise.
            let s = unsafe { f4(&a4[i], &b4[i], c, &mut out) }[0];
            (out, s)
        });
        println!("AVX2 build, fp16 OHMMA (128 elements), {n1}: {ns1:.1} CPU-ns  ({s1:#x})");
        println!("AVX2 build, fp16 HMMA.884 STEP (128 elements), {n4}: {ns4:.1} CPU-ns  ({s4:#x})");
    }
}
