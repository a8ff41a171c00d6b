//! Real nvcc listings of math: integer division (MUFU.RCP + fix-ups), fp32 division and square
//! root (exact), intrinsics, conversions with every rounding mode, fp64 (DFMA with directed
//! rounding inside nvcc's sqrt), rounding functions.
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
use otc_sim::Device;

fn launch(d: &mut Device, kernel: &str, block: u32, params: Params) {
    let p = fixture("math");
    let k = KernelImage::from(p.kernel(kernel).unwrap());
    d.launch(&k, [1, 1, 1], [block, 1, 1], params.bytes(), 0).unwrap_or_else(|e| panic!("{kernel}: {e}"));
}

/// Round an exact f64 to f32 towards zero / down / up (test reference, independent of otc-sim).
fn f32_dir(x: f64, mode: char) -> f32 {
    let r = x as f32; // nearest
    if r as f64 == x || r.is_infinite() && x.abs() <= f32::MAX as f64 {
        return r;
    }
    let up = |f: f32| {
        if f == 0.0 {
            f32::from_bits(1)
        } else if f > 0.0 {
            f32::from_bits(f.to_bits() + 1)
        } else {
            f32::from_bits(f.to_bits() - 1)
        }
    };
    let down = |f: f32| {
        if f == 0.0 {
            -f32::from_bits(1)
        } else if f > 0.0 {
            f32::from_bits(f.to_bits() - 1)
        } else {
            f32::from_bits(f.to_bits() + 1)
        }
    };
    let (lo, hi) = if (r as f64) < x { (r, up(r)) } else { (down(r), r) };
    match mode {
        'z' => {
            if x > 0.0 {
                lo
            } else {
                hi
            }
        }
        'd' => lo,
        _ => hi,
    }
}

#[test]
fn integer_division() {
    let mut d = device(1);
    let mut rng = Rng(11);
    let n = 64usize;
    let mut a: Vec<i32> = (0..n).map(|_| rng.u32() as i32).collect();
    let mut b: Vec<i32> = (0..n)
        .map(|i| match i % 4 {
            0 => rng.below(100) as i32 + 1,
            1 => -(rng.below(1000) as i32) - 1,
            2 => rng.u32() as i32,
            _ => rng.below(7) as i32 + 1,
        })
        .collect();
    a[0] = i32::MIN;
    b[0] = 3;
    a[1] = i32::MAX;
    b[1] = -1;
    a[2] = 0;
    for x in b.iter_mut() {
        if *x == 0 {
            *x = 1;
        }
    }
    let pa = upload(&mut d, &to_bytes_i32(&a));
    let pb = upload(&mut d, &to_bytes_i32(&b));
    let pout = upload(&mut d, &vec![0u8; 32 * n]);
    launch(&mut d, "int_divmod", 64, Params::new().ptr(pa).ptr(pb).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 32 * n).unwrap());
    for t in 0..n {
        let (x, y) = (a[t], b[t]);
        let (ux, uy) = (x as u32, y as u32);
        let e = [
            x.wrapping_div(y),
            x.wrapping_rem(y),
            (ux / uy) as i32,
            (ux % uy) as i32,
            x / 7,
            x % 7,
            (ux / 10) as i32,
            (ux % 10) as i32,
        ];
        assert_eq!(&o[8 * t..8 * t + 8], &e, "int_divmod {x} {y}");
    }
    launch(&mut d, "int_div_pow2", 64, Params::new().ptr(pa).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 12 * n).unwrap());
    for t in 0..n {
        let x = a[t];
        assert_eq!(&o[3 * t..3 * t + 3], &[x / 16, x % 16, x / -3], "int_div_pow2 {x}");
    }
}

#[test]
fn float_math_and_rounding_modes() {
    let mut d = device(1);
    let mut rng = Rng(3);
    let n = 64usize;
    let x: Vec<f32> = (0..n)
        .map(|i| match i % 4 {
            0 => (rng.below(1 << 20) as f32 + 1.0) / 1024.0,
            1 => f32::from_bits(0x3f80_0000 + rng.below(1 << 23)),
            2 => (rng.below(10000) as f32 + 1.0) * 1e-3,
            _ => (rng.below(90) + 1) as f32,
        })
        .collect();
    let y: Vec<f32> = (0..n)
        .map(|i| match i % 3 {
            0 => (rng.below(1000) as f32 + 1.0) / 7.0,
            1 => -f32::from_bits(0x3f00_0000 + rng.below(1 << 23)),
            _ => (rng.below(50) + 1) as f32 * 1e-20,
        })
        .collect();
    let pa = upload(&mut d, &to_bytes_f32(&x));
    let pb = upload(&mut d, &to_bytes_f32(&y));
    let pout = upload(&mut d, &vec![0u8; 48 * n]);
    launch(&mut d, "float_math", 64, Params::new().ptr(pa).ptr(pb).ptr(pout));
    let o = from_bytes_f32(&d.read(pout, 48 * n).unwrap());
    let close = |got: f32, want: f64, rtol: f64, what: &str| {
        assert!(((got as f64) - want).abs() <= rtol * want.abs().max(1e-30), "{what}: got {got}, want {want}");
    };
    for t in 0..n {
        let (a, b) = (x[t], y[t]);
        let r = &o[12 * t..12 * t + 12];
        assert_eq!(r[0].to_bits(), (a / b).to_bits(), "x / y for {a} {b}");
        assert_eq!(r[1].to_bits(), a.sqrt().to_bits(), "sqrtf({a})");
        close(r[2], 1.0 / (a as f64).sqrt(), 1e-6, "rsqrtf");
        if a < 80.0 {
            close(r[3], (a as f64).exp(), 1e-5, "__expf");
        }
        close(r[4], (a as f64).ln(), 1e-5, "__logf");
        if a.abs() < 100.0 {
            assert!((r[5] as f64 - (a as f64).sin()).abs() < 1e-5, "__sinf({a})");
            assert!((r[6] as f64 - (a as f64).cos()).abs() < 1e-5, "__cosf({a})");
        }
        if a < 120.0 {
            close(r[7], (a as f64).exp2(), 1e-6, "exp2f");
        }
        close(r[8], a as f64 / b as f64, 1e-6, "__fdividef");
        assert_eq!(r[9].to_bits(), (1.0 / a).to_bits(), "1/x for {a}");
        assert_eq!(r[10].to_bits(), f32_dir(a as f64 * b as f64, 'z').to_bits(), "__fmul_rz({a}, {b})");
        assert_eq!(r[11].to_bits(), f32_dir(a as f64 + b as f64, 'd').to_bits(), "__fadd_rd({a}, {b})");
    }
}

#[test]
fn conversions() {
    let mut d = device(1);
    let n = 64usize;
    let vals = [
        0.0f32,
        -0.0,
        0.5,
        1.5,
        2.5,
        -2.5,
        -0.5,
        3.7,
        -3.7,
        1e10,
        -1e10,
        3e9,
        -1.5,
        4294967040.0,
        2147483520.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.49999997,
        16777217.0,
        -7.0,
        123.456,
        1e-30,
    ];
    let x: Vec<f32> = (0..n).map(|i| vals[i % vals.len()] * if i >= vals.len() * 2 { -1.0 } else { 1.0 }).collect();
    let pa = upload(&mut d, &to_bytes_f32(&x));
    let pout = upload(&mut d, &vec![0u8; 40 * n]);
    launch(&mut d, "f2i_conv", 64, Params::new().ptr(pa).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 40 * n).unwrap());
    let sat_i = |v: f64| v.clamp(i32::MIN as f64, i32::MAX as f64) as i32;
    let sat_u = |v: f64| v.clamp(0.0, u32::MAX as f64) as u32 as i32;
    for t in 0..n {
        let v = x[t] as f64;
        let e = [
            sat_i(v.round_ties_even()),
            sat_i(v.trunc()),
            sat_i(v.floor()),
            sat_i(v.ceil()),
            sat_u(v.round_ties_even()),
            sat_u(v.trunc()),
            sat_u(v.floor()),
            sat_u(v.ceil()),
            sat_i(v.trunc()),
            sat_u(v.abs().trunc()),
        ];
        assert_eq!(&o[10 * t..10 * t + 10], &e, "f2i_conv({v})");
    }

    let ints = [0i32, 1, -1, 16777217, -16777217, 16777219, i32::MAX, i32::MIN, 123456789, -987654321, 33554435, 7];
    let xi: Vec<i32> = (0..n).map(|i| ints[i % ints.len()].wrapping_add((i / ints.len()) as i32 * 3)).collect();
    let pa = upload(&mut d, &to_bytes_i32(&xi));
    launch(&mut d, "i2f_conv", 64, Params::new().ptr(pa).ptr(pout));
    let o = from_bytes_f32(&d.read(pout, 32 * n).unwrap());
    for t in 0..n {
        let v = xi[t] as f64;
        let u = xi[t] as u32 as f64;
        let e = [
            v as f32,
            f32_dir(v, 'z'),
            f32_dir(v, 'd'),
            f32_dir(v, 'u'),
            u as f32,
            f32_dir(u, 'z'),
            f32_dir(u, 'u'),
            (xi[t] as i64 as f32) * 0.5,
        ];
        let got: Vec<u32> = o[8 * t..8 * t + 8].iter().map(|f| f.to_bits()).collect();
        let want: Vec<u32> = e.iter().map(|f| f.to_bits()).collect();
        assert_eq!(got, want, "i2f_conv({})", xi[t]);
    }

    let hv = [1.0f32, 65504.0, 65520.0, 1e-8, 6e-8, 0.1, -3.25159, 1e5, -1e-5, 2049.0, 2051.0];
    let xh: Vec<f32> = (0..n).map(|i| hv[i % hv.len()] * (1.0 + (i / hv.len()) as f32 / 3.0)).collect();
    let pa = upload(&mut d, &to_bytes_f32(&xh));
    let ph = upload(&mut d, &vec![0u8; 4 * n]);
    let pback = upload(&mut d, &vec![0u8; 4 * n]);
    launch(&mut d, "half_conv", 64, Params::new().ptr(pa).ptr(ph).ptr(pback));
    let h: Vec<u16> = d.read(ph, 4 * n).unwrap().chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let back = from_bytes_f32(&d.read(pback, 4 * n).unwrap());
    for t in 0..n {
        let e = half::f16::from_f32(xh[t]);
        assert_eq!(h[t], e.to_bits(), "__float2half({})", xh[t]);
        assert_eq!(back[t].to_bits(), e.to_f32().to_bits());
        // round toward zero: the nearest value or the one below it in magnitude
        let rz = if (e.to_f32()).abs() > xh[t].abs() { half::f16::from_bits(e.to_bits() - 1) } else { e };
        let rz = if e.is_infinite() { half::f16::from_bits(e.to_bits() - 1) } else { rz };
        assert_eq!(h[n + t], rz.to_bits(), "__float2half_rz({})", xh[t]);
    }
}

#[test]
fn doubles_and_rounding_functions() {
    let mut d = device(1);
    let n = 64usize;
    let mut rng = Rng(17);
    let x: Vec<f64> = (0..n)
        .map(|i| match i % 4 {
            0 => rng.u32() as f64 / 7.0,
            1 => f64::from_bits(0x3ff0_0000_0000_0000 + (rng.next() >> 12)),
            2 => (rng.below(1000) as f64) * 1e-300,
            _ => (i * i) as f64,
        })
        .collect();
    let pa = upload(&mut d, &x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
    let pout = upload(&mut d, &vec![0u8; 16 * n]);
    let pf = upload(&mut d, &vec![0u8; 4 * n]);
    let pl = upload(&mut d, &vec![0u8; 8 * n]);
    launch(&mut d, "double_conv", 64, Params::new().ptr(pa).ptr(pout).ptr(pf).ptr(pl));
    let o: Vec<f64> =
        d.read(pout, 16 * n).unwrap().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    let f = from_bytes_f32(&d.read(pf, 4 * n).unwrap());
    let l: Vec<i64> =
        d.read(pl, 8 * n).unwrap().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
    for t in 0..n {
        assert_eq!(o[2 * t].to_bits(), x[t].mul_add(3.0, 1.0).to_bits(), "x*3+1 ({})", x[t]);
        assert_eq!(o[2 * t + 1].to_bits(), x[t].sqrt().to_bits(), "sqrt({})", x[t]);
        assert_eq!(f[t].to_bits(), (x[t] as f32).to_bits());
        assert_eq!(l[t], x[t] as i64);
    }

    let fv = [0.5f32, 1.5, 2.5, -0.5, -1.5, -2.5, 3.7, -3.7, 0.0, -0.0, 1e10, f32::NAN, 0.3, 1.7, -5.0, 2.0];
    let xf: Vec<f32> = (0..n).map(|i| fv[i % fv.len()]).collect();
    let dv: Vec<f64> = (0..n)
        .map(|i| match i % 5 {
            0 => f64::NAN,
            1 => -0.0,
            2 => 0.0,
            _ => i as f64 - 30.0,
        })
        .collect();
    let pa = upload(&mut d, &to_bytes_f32(&xf));
    let pd = upload(&mut d, &dv.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
    let po = upload(&mut d, &vec![0u8; 24 * n]);
    let pdo = upload(&mut d, &vec![0u8; 16 * n]);
    launch(&mut d, "float_round", 64, Params::new().ptr(pa).ptr(pd).ptr(po).ptr(pdo));
    let o = from_bytes_f32(&d.read(po, 24 * n).unwrap());
    let od: Vec<f64> =
        d.read(pdo, 16 * n).unwrap().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for t in 0..n {
        let v = xf[t];
        let sat = if v.is_nan() || v <= 0.0 { 0.0 } else { v.min(1.0) };
        let e = [v.floor(), v.ceil(), v.trunc(), v.round_ties_even(), sat, v.max(-2.0).min(2.0)];
        for k in 0..6 {
            assert!(same(o[6 * t + k], e[k]), "float_round {v} k={k}: got {} want {}", o[6 * t + k], e[k]);
        }
        let (y, z) = (dv[t], dv[n - 1 - t]);
        let fmin = if y.is_nan() {
            z
        } else if z.is_nan() {
            y
        } else {
            y.min(z)
        };
        let fmax = if y.is_nan() {
            z
        } else if z.is_nan() {
            y
        } else {
            y.max(z)
        };
        assert!(od[2 * t] == fmin || (od[2 * t].is_nan() && fmin.is_nan()), "fmin({y}, {z}) = {}", od[2 * t]);
        assert!(
            od[2 * t + 1] == fmax || (od[2 * t + 1].is_nan() && fmax.is_nan()),
            "fmax({y}, {z}) = {}",
            od[2 * t + 1]
        );
    }
}
