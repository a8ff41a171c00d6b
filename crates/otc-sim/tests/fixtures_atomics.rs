//! Real nvcc listings with atomics: results follow the CTA-order rule (see `device.rs`), so even
//! the order-dependent values (old values of atomicAdd, the winner of atomicCAS) are checked
//! exactly, and for 1 and several host threads.
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

fn launch(d: &mut otc_sim::Device, kernel: &str, grid: u32, block: u32, params: Params) -> otc_sim::LaunchStats {
    let p = fixture("atomics");
    let k = KernelImage::from(p.kernel(kernel).unwrap());
    d.launch(&k, [grid, 1, 1], [block, 1, 1], params.bytes(), 0).unwrap_or_else(|e| panic!("{kernel}: {e}"))
}

#[test]
fn atomics_global_sequential_semantics() {
    let mut results = Vec::new();
    for threads in [1usize, 2, 4] {
        let mut d = device(threads);
        let n = 128usize;
        let v: Vec<i32> = (0..n).map(|i| (i as i32 * 7919) % 2001 - 1000).collect();
        let ci_init = [10i32, 500, -500, -1, 0x100, 0x55, 0, 0, 1000];
        let pci = upload(&mut d, &to_bytes_i32(&ci_init));
        let pcu = upload(&mut d, &to_bytes_u32(&[3, 7]));
        let pcf = upload(&mut d, &to_bytes_f32(&[0.25]));
        let pold = upload(&mut d, &vec![0u8; 4 * n]);
        let pin = upload(&mut d, &to_bytes_i32(&v));
        let st = launch(&mut d, "atomics_global", 2, 64, Params::new().ptr(pci).ptr(pcu).ptr(pcf).ptr(pold).ptr(pin));
        let ci = from_bytes_i32(&d.read(pci, 36).unwrap());
        let cu = from_bytes_u32(&d.read(pcu, 8).unwrap());
        let cf = from_bytes_f32(&d.read(pcf, 4).unwrap());
        let old = from_bytes_i32(&d.read(pold, 4 * n).unwrap());
        let sum = v.iter().fold(0i32, |a, &x| a.wrapping_add(x));
        assert_eq!(ci[0], 10i32.wrapping_add(sum));
        assert_eq!(ci[1], v.iter().copied().min().unwrap().min(500));
        assert_eq!(ci[2], v.iter().copied().max().unwrap().max(-500));
        assert_eq!(ci[3], 0);
        assert_eq!(ci[4], -1);
        assert_eq!(ci[5], v.iter().fold(0x55, |a, &x| a ^ x));
        assert_eq!(ci[6], 7);
        assert_eq!(ci[8], 1000 - n as i32);
        assert_eq!(cu[0], 3u32.wrapping_add(sum as u32));
        assert_eq!(cu[1], v.iter().map(|&x| x as u32).max().unwrap().max(7));
        assert_eq!(cf[0], 0.25 + 0.5 * n as f32);
        // CTA order, then warp order, then lane order: the old values are prefix sums, and the
        // first thread wins the CAS
        let mut acc = 10i32;
        for t in 0..n {
            assert_eq!(old[t], acc, "old[{t}]");
            acc = acc.wrapping_add(v[t]);
        }
        assert_eq!(ci[7], 1);
        results.push((ci, cu, old, st));
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "results differ between thread counts");
}

#[test]
fn atomic_inc_dec_and_histogram() {
    for threads in [1usize, 3] {
        let mut d = device(threads);
        let pc = upload(&mut d, &to_bytes_u32(&[0, 0]));
        let pold = upload(&mut d, &vec![0u8; 8 * 64]);
        launch(&mut d, "atomic_inc_dec", 1, 64, Params::new().ptr(pc).ptr(pold));
        let c = from_bytes_u32(&d.read(pc, 8).unwrap());
        assert_eq!(c, vec![64 % 10, (10 - 64 % 10) % 10]);
        let old = from_bytes_u32(&d.read(pold, 8 * 64).unwrap());
        let (mut x, mut y) = (0u32, 0u32);
        for t in 0..64 {
            assert_eq!(old[2 * t], x);
            assert_eq!(old[2 * t + 1], y);
            x = if x >= 9 { 0 } else { x + 1 };
            y = if y == 0 || y > 9 { 9 } else { y - 1 };
        }

        let n = 1000usize;
        let input: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2654435761)).collect();
        let pin = upload(&mut d, &to_bytes_u32(&input));
        let ph = upload(&mut d, &to_bytes_u32(&[1u32; 16]));
        launch(&mut d, "red_histogram", 2, 64, Params::new().ptr(pin).ptr(ph).i32(n as i32));
        let h = from_bytes_u32(&d.read(ph, 64).unwrap());
        let mut e = [1u32; 16];
        for x in &input {
            e[(x & 15) as usize] += 1;
        }
        assert_eq!(h, e.to_vec());

        let fin: Vec<f32> = (0..64).map(|i| (i as f32 - 20.0) * 0.125).collect();
        let pf = upload(&mut d, &to_bytes_f32(&fin));
        let ps = upload(&mut d, &to_bytes_f32(&[0.0]));
        let pds = upload(&mut d, &0f64.to_le_bytes());
        launch(&mut d, "red_float", 1, 64, Params::new().ptr(pf).ptr(ps).ptr(pds));
        let s = from_bytes_f32(&d.read(ps, 4).unwrap())[0];
        let ds = f64::from_le_bytes(d.read(pds, 8).unwrap().try_into().unwrap());
        let e: f32 = fin.iter().sum();
        assert_eq!(s, e);
        assert_eq!(ds, e as f64);
    }
}

#[test]
fn atomics_shared_and_fence() {
    let mut d = device(2);
    let b = 64usize;
    let v: Vec<i32> = (0..b).map(|i| (i as i32 * 37) % 101 - 50).collect();
    let pin = upload(&mut d, &to_bytes_i32(&v));
    let pout = upload(&mut d, &vec![0u8; 4 * (13 + b)]);
    launch(&mut d, "atomics_shared", 1, b as u32, Params::new().ptr(pin).ptr(pout));
    let out = from_bytes_i32(&d.read(pout, 4 * (13 + b)).unwrap());
    let sum: i32 = v.iter().sum();
    assert_eq!(out[0], sum);
    assert_eq!(out[1], *v.iter().min().unwrap());
    assert_eq!(out[2], *v.iter().max().unwrap());
    assert_eq!(out[3], 0);
    assert_eq!(out[4], v.iter().fold(0, |a, &x| a | (1 << (x & 31))));
    assert_eq!(out[5], v.iter().fold(0, |a, &x| a ^ x));
    assert_eq!(out[6], 5);
    assert_eq!(out[7], 1);
    assert_eq!(out[8], b as i32);
    assert_eq!(out[9], -sum);
    let mut rs: Vec<i32> = out[10..10 + b].to_vec();
    rs.sort();
    assert_eq!(rs, (0..b as i32).collect::<Vec<_>>());
    assert_eq!(out[10 + b] as u32, b as u32);
    assert_eq!(out[11 + b] as u32, 1001 - b as u32);
    assert_eq!(f32::from_bits(out[12 + b] as u32), b as f32);

    let pdata = upload(&mut d, &vec![0u8; 16]);
    let pflag = upload(&mut d, &vec![0u8; 16]);
    launch(&mut d, "fence_flag", 4, 32, Params::new().ptr(pdata).ptr(pflag));
    assert_eq!(from_bytes_i32(&d.read(pdata, 16).unwrap()), vec![1, 11, 21, 31]);
    assert_eq!(from_bytes_i32(&d.read(pflag, 16).unwrap()), vec![1, 1, 1, 1]);
}

#[test]
fn atomics_private_every_return_value() {
    let mut d = device(1);
    let n = 32usize;
    let v: Vec<i32> = (0..n).map(|i| (i as i32 - 10) * 3).collect();
    let s_init: Vec<i32> =
        (0..8 * n).map(|i| [100, 2, -2, 0x0ff0, 0x1001, 0x7777, 9, if i % 16 < 8 { 5 } else { 6 }][i % 8]).collect();
    let u_init: Vec<u32> = (0..2 * n).map(|i| if i % 2 == 0 { 20 } else { (i / 2 % 5) as u32 }).collect();
    let f_init: Vec<f32> = (0..2 * n).map(|i| i as f32 * 0.5).collect();
    let q_init: Vec<u64> = (0..2 * n)
        .map(|i| {
            if i % 2 == 0 {
                0xffff_fff0_0000_0010
            } else if i % 4 == 1 {
                0
            } else {
                3
            }
        })
        .collect();
    let ps = upload(&mut d, &to_bytes_i32(&s_init));
    let pu = upload(&mut d, &to_bytes_u32(&u_init));
    let pf = upload(&mut d, &to_bytes_f32(&f_init));
    let pq = upload(&mut d, &q_init.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>());
    let pin = upload(&mut d, &to_bytes_i32(&v));
    let pold = upload(&mut d, &vec![0u8; 4 * 14 * n]);
    launch(&mut d, "atomics_private", 1, 32, Params::new().ptr(ps).ptr(pu).ptr(pf).ptr(pq).ptr(pin).ptr(pold));
    let s = from_bytes_i32(&d.read(ps, 32 * n).unwrap());
    let u = from_bytes_u32(&d.read(pu, 8 * n).unwrap());
    let f = from_bytes_f32(&d.read(pf, 8 * n).unwrap());
    let q: Vec<u64> =
        d.read(pq, 16 * n).unwrap().chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
    let o = from_bytes_i32(&d.read(pold, 56 * n).unwrap());
    for t in 0..n {
        let x = v[t];
        let si = &s_init[8 * t..8 * t + 8];
        let oo = &o[14 * t..14 * t + 14];
        assert_eq!(&oo[..8], si, "old values of S [{t}]");
        assert_eq!(s[8 * t], si[0].wrapping_add(x));
        assert_eq!(s[8 * t + 1], si[1].min(x));
        assert_eq!(s[8 * t + 2], si[2].max(x));
        assert_eq!(s[8 * t + 3], si[3] & x);
        assert_eq!(s[8 * t + 4], si[4] | x);
        assert_eq!(s[8 * t + 5], si[5] ^ x);
        assert_eq!(s[8 * t + 6], x);
        assert_eq!(s[8 * t + 7], if si[7] == 5 { x } else { si[7] });
        assert_eq!(oo[8] as u32, u_init[2 * t]);
        assert_eq!(u[2 * t], u_init[2 * t].min(x as u32));
        let ui = u_init[2 * t + 1];
        assert_eq!(oo[9] as u32, ui);
        assert_eq!(u[2 * t + 1], if ui >= 3 { 0 } else { ui + 1 });
        assert_eq!(oo[10] as u32, f_init[2 * t].to_bits());
        assert_eq!(f[2 * t], f_init[2 * t] + 1.25);
        assert_eq!(oo[11] as u32, f_init[2 * t + 1].to_bits());
        assert_eq!(f[2 * t + 1], x as f32);
        assert_eq!(oo[12] as u32, q_init[2 * t] as u32);
        assert_eq!(q[2 * t], q_init[2 * t].wrapping_add((x as i64 as u64).wrapping_mul(0x1_0000_0001)));
        assert_eq!(oo[13] as u32, q_init[2 * t + 1] as u32);
        assert_eq!(q[2 * t + 1], if q_init[2 * t + 1] == 0 { 0xffff_ffff_0000_0001 } else { q_init[2 * t + 1] });
    }
}
