//! Real nvcc listings (tests/fixtures/sass) run on the emulator: vector add, divergence,
//! calls. Expected values are computed in Rust from the .cu semantics.
#![allow(
    clippy::needless_range_loop,
    clippy::manual_is_multiple_of,
    clippy::identity_op,
    clippy::useless_vec,
    clippy::nonminimal_bool,
    clippy::if_same_then_else,
    clippy::approx_constant,
    clippy::manual_clamp
)]

mod common;
use common::*;

#[test]
fn vecadd_all_kernels() {
    let p = fixture("vecadd");
    for threads in [1usize, 4] {
        let mut d = device(threads);
        let n = 1000usize;
        let mut rng = Rng(7);
        let a: Vec<f32> = (0..n).map(|_| (rng.below(20000) as f32 - 10000.0) / 64.0).collect();
        let b: Vec<f32> = (0..n).map(|_| (rng.below(20000) as f32 - 10000.0) / 128.0).collect();
        let ai: Vec<i32> = (0..n).map(|_| rng.u32() as i32).collect();
        let bi: Vec<i32> = (0..n).map(|_| rng.u32() as i32).collect();
        let (pa, pb) = (upload(&mut d, &to_bytes_f32(&a)), upload(&mut d, &to_bytes_f32(&b)));
        let (pai, pbi) = (upload(&mut d, &to_bytes_i32(&ai)), upload(&mut d, &to_bytes_i32(&bi)));
        let pc = upload(&mut d, &vec![0u8; 4 * n]);
        let grid = [(n as u32).div_ceil(128), 1, 1];

        let k = KernelImage::from(p.kernel("vadd_f32").unwrap());
        d.launch(&k, grid, [128, 1, 1], Params::new().ptr(pa).ptr(pb).ptr(pc).i32(n as i32).bytes(), 0).unwrap();
        let c = from_bytes_f32(&d.read(pc, 4 * n).unwrap());
        for i in 0..n {
            assert_eq!(c[i].to_bits(), (a[i] + b[i]).to_bits(), "vadd_f32[{i}]");
        }

        let k = KernelImage::from(p.kernel("vadd_i32").unwrap());
        d.launch(&k, grid, [128, 1, 1], Params::new().ptr(pai).ptr(pbi).ptr(pc).i32(n as i32 - 5).bytes(), 0).unwrap();
        let c = from_bytes_i32(&d.read(pc, 4 * n).unwrap());
        for i in 0..n - 5 {
            assert_eq!(c[i], ai[i].wrapping_add(bi[i]), "vadd_i32[{i}]");
        }
        // the last 5 elements keep the float results of the previous launch
        for i in n - 5..n {
            assert_eq!(c[i] as u32, (a[i] + b[i]).to_bits());
        }

        let k = KernelImage::from(p.kernel("vadd_gridstride").unwrap());
        d.write(pc, &vec![0u8; 4 * n]).unwrap();
        d.launch(&k, [2, 1, 1], [64, 1, 1], Params::new().ptr(pa).ptr(pb).ptr(pc).i32(n as i32).bytes(), 0).unwrap();
        let c = from_bytes_f32(&d.read(pc, 4 * n).unwrap());
        for i in 0..n {
            assert_eq!(c[i].to_bits(), (a[i] + b[i]).to_bits(), "gridstride[{i}]");
        }

        let k = KernelImage::from(p.kernel("saxpy").unwrap());
        let y0 = b.clone();
        let py = upload(&mut d, &to_bytes_f32(&y0));
        let alpha = 1.7f32;
        d.launch(&k, grid, [128, 1, 1], Params::new().i32(n as i32).f32(alpha).ptr(pa).ptr(py).bytes(), 0).unwrap();
        let y = from_bytes_f32(&d.read(py, 4 * n).unwrap());
        for i in 0..n {
            assert_eq!(y[i].to_bits(), alpha.mul_add(a[i], y0[i]).to_bits(), "saxpy[{i}]");
        }
    }
}

fn run_i32(
    name: &str,
    kernel: &str,
    input: &[i32],
    grid: u32,
    block: u32,
    extra: Option<u32>,
) -> (Vec<i32>, otc_sim::LaunchStats) {
    let p = fixture(name);
    let mut d = device(2);
    let pin = upload(&mut d, &to_bytes_i32(input));
    let pout = upload(&mut d, &vec![0u8; 4 * input.len()]);
    let mut params = Params::new().ptr(pin).ptr(pout);
    if let Some(e) = extra {
        params = params.u32(e);
    }
    let k = KernelImage::from(p.kernel(kernel).unwrap());
    let st = d.launch(&k, [grid, 1, 1], [block, 1, 1], params.bytes(), 0).unwrap_or_else(|e| panic!("{kernel}: {e}"));
    (from_bytes_i32(&d.read(pout, 4 * input.len()).unwrap()), st)
}

#[test]
fn divergence_if_else_nested_loops() {
    let mut rng = Rng(99);
    let input: Vec<i32> =
        (0..64).map(|i| if i % 5 == 0 { -(rng.below(300) as i32) } else { rng.below(300) as i32 - 150 }).collect();
    let (out, _) = run_i32("divergence", "if_else", &input, 1, 64, None);
    for t in 0..64 {
        let x = input[t];
        let r = if t & 1 == 1 { x.wrapping_mul(3) + 1 } else { x / 2 };
        assert_eq!(out[t], r + t as i32, "if_else[{t}]");
    }
    let (out, _) = run_i32("divergence", "nested_if", &input, 1, 64, None);
    for t in 0..64 {
        let x = input[t];
        let r = if x > 0 {
            if x > 100 {
                2
            } else {
                1
            }
        } else if x < -100 {
            -2
        } else if x == 0 {
            0
        } else {
            -1
        };
        assert_eq!(out[t], r * 1000 + t as i32, "nested_if[{t}]");
    }
    let counts: Vec<i32> = (0..64i32).map(|i| i * 7 % 41 - 3).collect();
    let (out, _) = run_i32("divergence", "data_loop", &counts, 1, 64, None);
    for t in 0..64 {
        let mut s = 0i32;
        for k in 0..counts[t].max(0) {
            s = s.wrapping_add(k * k + t as i32);
        }
        assert_eq!(out[t], s, "data_loop[{t}]");
    }
    let xs: Vec<i32> = (0..64).map(|i| [0, 1, 2, 3, 7, 27, 97, 871, 6171, 1 << 30][i % 10] + i as i32 * 3).collect();
    let (out, _) = run_i32("divergence", "collatz_break", &xs, 1, 64, None);
    for t in 0..64 {
        let mut x = xs[t] as u32;
        let mut steps = 0u32;
        loop {
            if x <= 1 || steps >= 200 {
                break;
            }
            x = if x & 1 == 1 { x.wrapping_mul(3).wrapping_add(1) } else { x >> 1 };
            steps += 1;
        }
        assert_eq!(out[t] as u32, steps, "collatz[{t}]");
    }
    let bits: Vec<i32> = (0..64).map(|_| rng.u32() as i32).collect();
    let (out, _) = run_i32("divergence", "divergent_sync_loop", &bits, 1, 64, None);
    for t in 0..64 {
        let x = bits[t];
        let mut acc = 0;
        for i in 0..32 {
            if (x >> i) & 1 == 0 {
                continue;
            }
            acc += i;
            if acc > 100 {
                break;
            }
        }
        assert_eq!(out[t], acc, "divergent_sync_loop[{t}]");
    }
    let ins: Vec<i32> = (0..64).map(|_| rng.u32() as i32).collect();
    let (out, _) = run_i32("divergence", "branch_loops", &ins, 1, 64, None);
    let s: Vec<i32> = (0..64)
        .map(|t| {
            let n = ins[t] & 15;
            let mut s = 0i32;
            if t < 16 {
                for k in 0..n {
                    s += k * t as i32;
                }
            } else {
                for k in 0..n {
                    s ^= (k << 3) + t as i32;
                }
            }
            s
        })
        .collect();
    for t in 0..64 {
        assert_eq!(out[t], s[t] + s[t ^ 1], "branch_loops[{t}]");
    }
    let (out, _) = run_i32("divergence", "partial_syncwarp", &ins[..32], 1, 32, Some(u32::MAX));
    for t in 0..32 {
        let e = if t < 16 { ins[t].wrapping_add(ins[t ^ 1]) } else { ins[t] };
        assert_eq!(out[t], e, "partial_syncwarp[{t}]");
    }
}

#[test]
fn divergence_early_return() {
    let p = fixture("divergence");
    let mut d = device(1);
    let input: Vec<f32> = (0..64).map(|i| if i % 3 == 0 { -1.5 * i as f32 } else { 0.25 * i as f32 }).collect();
    let pin = upload(&mut d, &to_bytes_f32(&input));
    let sentinel = vec![0xdeadbeefu32; 64];
    let pout = upload(&mut d, &to_bytes_u32(&sentinel));
    let k = KernelImage::from(p.kernel("early_return").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(pin).ptr(pout).i32(45).bytes(), 0).unwrap();
    let out = from_bytes_u32(&d.read(pout, 256).unwrap());
    for t in 0..64 {
        let v = input[t];
        let e = if t >= 45 || v < 0.0 { 0xdeadbeef } else { (v * 2.0 + 1.0).to_bits() };
        assert_eq!(out[t], e, "early_return[{t}]");
    }
}

#[test]
fn calls() {
    let p = fixture("calls");
    let mut d = device(1);
    let mut rng = Rng(5);
    let a: Vec<i32> = (0..64).map(|_| rng.u32() as i32).collect();
    let b: Vec<i32> = (0..64).map(|_| rng.u32() as i32).collect();
    let pa = upload(&mut d, &to_bytes_i32(&a));
    let pb = upload(&mut d, &to_bytes_i32(&b));
    let pout = upload(&mut d, &vec![0u8; 256]);
    let mix = |a: i32, b: i32| a.wrapping_mul(31) ^ b.wrapping_add(7);

    let k = KernelImage::from(p.kernel("call_simple").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(pa).ptr(pb).ptr(pout).bytes(), 0).unwrap();
    let out = from_bytes_i32(&d.read(pout, 256).unwrap());
    for t in 0..64 {
        assert_eq!(out[t], mix(a[t], b[t]).wrapping_add(mix(b[t], 1)), "call_simple[{t}]");
    }

    let k = KernelImage::from(p.kernel("call_divergent").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(pa).ptr(pout).bytes(), 0).unwrap();
    let out = from_bytes_i32(&d.read(pout, 256).unwrap());
    for t in 0..64 {
        let e = if t & 1 == 1 { mix(a[t], 2) } else { mix(3, a[t]).wrapping_mul(2) };
        assert_eq!(out[t], e, "call_divergent[{t}]");
    }

    let fl: Vec<f32> = (0..64).map(|i| (i as f32 - 30.0) / 7.0).collect();
    let pf = upload(&mut d, &to_bytes_f32(&fl));
    let k = KernelImage::from(p.kernel("call_float").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(pf).ptr(pout).bytes(), 0).unwrap();
    let out = from_bytes_f32(&d.read(pout, 256).unwrap());
    for t in 0..64 {
        let x = fl[t];
        let e = 2.0f32.mul_add(x, 3.0).mul_add(x, -1.0).mul_add(x, 0.5);
        assert_eq!(out[t].to_bits(), e.to_bits(), "call_float[{t}]");
    }

    fn fib(n: i32) -> i32 {
        if n < 2 {
            n
        } else {
            fib(n - 1) + fib(n - 2)
        }
    }
    let k = KernelImage::from(p.kernel("call_recursive").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(pa).ptr(pout).bytes(), 0).unwrap();
    let out = from_bytes_i32(&d.read(pout, 256).unwrap());
    for t in 0..64 {
        assert_eq!(out[t], fib(a[t] & 15), "call_recursive[{t}]");
    }

    fn gcd(a: u32, b: u32) -> u32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let ua: Vec<u32> = (0..64).map(|i| (rng.below(5000) + 1) * [1, 6, 12, 35][i % 4]).collect();
    let ub: Vec<u32> =
        (0..64).map(|i| if i == 5 { 0 } else { (rng.below(5000) + 1) * [1, 4, 18, 14][i % 4] }).collect();
    let pua = upload(&mut d, &to_bytes_u32(&ua));
    let pub_ = upload(&mut d, &to_bytes_u32(&ub));
    let k = KernelImage::from(p.kernel("call_gcd").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(pua).ptr(pub_).ptr(pout).bytes(), 0).unwrap();
    let out = from_bytes_u32(&d.read(pout, 256).unwrap());
    for t in 0..64 {
        assert_eq!(out[t], gcd(ua[t], ub[t]), "call_gcd[{t}] gcd({}, {})", ua[t], ub[t]);
    }
}
