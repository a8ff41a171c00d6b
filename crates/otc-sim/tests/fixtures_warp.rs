//! Real nvcc listings: reductions with BAR.SYNC, shuffles, votes and matches.
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

fn launch(
    name: &str,
    kernel: &str,
    d: &mut otc_sim::Device,
    grid: u32,
    block: u32,
    params: Params,
    dyn_shared: u32,
) -> otc_sim::LaunchStats {
    let p = fixture(name);
    let k = KernelImage::from(p.kernel(kernel).unwrap());
    d.launch(&k, [grid, 1, 1], [block, 1, 1], params.bytes(), dyn_shared).unwrap_or_else(|e| panic!("{kernel}: {e}"))
}

#[test]
fn reductions() {
    for threads in [1, 3] {
        let mut d = device(threads);
        let g = 5usize;
        let input: Vec<f32> = (0..g * 128).map(|i| ((i * 37) % 101) as f32 * 0.5 - 20.0).collect();
        let pin = upload(&mut d, &to_bytes_f32(&input));
        let pout = upload(&mut d, &vec![0u8; 4 * g]);
        launch("reduction", "reduce_static", &mut d, g as u32, 128, Params::new().ptr(pin).ptr(pout), 0);
        let out = from_bytes_f32(&d.read(pout, 4 * g).unwrap());
        for b in 0..g {
            // the same tree order as the kernel, in fp32
            let mut buf: Vec<f32> = input[b * 128..(b + 1) * 128].to_vec();
            let mut s = 64;
            while s > 0 {
                for t in 0..s {
                    buf[t] += buf[t + s];
                }
                s /= 2;
            }
            assert_eq!(out[b].to_bits(), buf[0].to_bits(), "reduce_static block {b}");
        }

        let n = 1000usize;
        let ints: Vec<i32> = (0..n).map(|i| (i as i32).wrapping_mul(2654435761u32 as i32)).collect();
        let pin = upload(&mut d, &to_bytes_i32(&ints));
        let blocks = n.div_ceil(256);
        let pout = upload(&mut d, &vec![0u8; 4 * blocks]);
        launch(
            "reduction",
            "reduce_dynamic",
            &mut d,
            blocks as u32,
            256,
            Params::new().ptr(pin).ptr(pout).i32(n as i32),
            1024,
        );
        let out = from_bytes_i32(&d.read(pout, 4 * blocks).unwrap());
        for b in 0..blocks {
            let e = ints[b * 256..((b + 1) * 256).min(n)].iter().fold(0i32, |a, &x| a.wrapping_add(x));
            assert_eq!(out[b], e, "reduce_dynamic block {b}");
        }

        let pin = upload(&mut d, &to_bytes_i32(&ints[..128]));
        let pout = upload(&mut d, &vec![0u8; 512]);
        launch("reduction", "block_reverse", &mut d, 2, 64, Params::new().ptr(pin).ptr(pout), 256);
        let out = from_bytes_i32(&d.read(pout, 512).unwrap());
        for b in 0..2 {
            for t in 0..64 {
                assert_eq!(out[b * 64 + t], ints[b * 64 + 63 - t]);
            }
        }
    }
}

#[test]
fn shuffles() {
    let mut d = device(2);
    let n = 64usize;
    let input: Vec<i32> = (0..n).map(|i| (i as i32 + 1) * 1009 - 7000).collect();
    let pin = upload(&mut d, &to_bytes_i32(&input));
    let pout = upload(&mut d, &vec![0u8; 16 * n]);
    let read = |d: &mut otc_sim::Device, k: usize| from_bytes_i32(&d.read(pout, 4 * k).unwrap());
    let warp = |t: usize| t & !31;

    launch("shuffle", "shfl_idx", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout).i32(37), 0);
    let out = read(&mut d, n);
    for t in 0..n {
        assert_eq!(out[t], input[warp(t) + 37 % 32], "shfl_idx[{t}]");
    }
    launch("shuffle", "shfl_idx_var", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout), 0);
    let out = read(&mut d, n);
    for t in 0..n {
        assert_eq!(out[t], input[warp(t) + ((t % 32) * 7 + 3) % 32], "shfl_idx_var[{t}]");
    }
    for delta in [1u32, 5, 31] {
        launch("shuffle", "shfl_up", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout).u32(delta), 0);
        let out = read(&mut d, n);
        for t in 0..n {
            let l = t % 32;
            let e = if l >= delta as usize { input[t - delta as usize] } else { input[t] };
            assert_eq!(out[t], e, "shfl_up {delta} [{t}]");
        }
    }
    let fin: Vec<f32> = (0..n).map(|i| i as f32 * 1.5).collect();
    let pf = upload(&mut d, &to_bytes_f32(&fin));
    launch("shuffle", "shfl_down", &mut d, 1, 64, Params::new().ptr(pf).ptr(pout), 0);
    let out = from_bytes_f32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        let e = if t % 32 + 3 < 32 { fin[t + 3] } else { fin[t] };
        assert_eq!(out[t], e, "shfl_down[{t}]");
    }
    launch("shuffle", "shfl_xor", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout), 0);
    let out = read(&mut d, n);
    for t in 0..n {
        assert_eq!(out[t], input[t ^ 5], "shfl_xor[{t}]");
    }
    launch("shuffle", "shfl_width", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout), 0);
    let out = read(&mut d, 4 * n);
    for t in 0..n {
        let seg = t & !7;
        let sl = t & 7;
        assert_eq!(out[4 * t], input[seg + 2], "width idx [{t}]");
        assert_eq!(out[4 * t + 1], if sl >= 1 { input[t - 1] } else { input[t] }, "width up [{t}]");
        assert_eq!(out[4 * t + 2], if sl + 2 < 8 { input[t + 2] } else { input[t] }, "width down [{t}]");
        assert_eq!(out[4 * t + 3], input[t ^ 3], "width xor [{t}]");
    }
    launch("shuffle", "warp_sum", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout), 0);
    let out = read(&mut d, n);
    for t in 0..n {
        let s: i32 = input[warp(t)..warp(t) + 32].iter().sum();
        assert_eq!(out[t], s, "warp_sum[{t}]");
    }
    launch("shuffle", "inclusive_scan", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout), 0);
    let out = read(&mut d, n);
    for t in 0..n {
        let s: i32 = input[warp(t)..=t].iter().sum();
        assert_eq!(out[t], s, "inclusive_scan[{t}]");
    }
    launch("shuffle", "scan_pred", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout).i32(n as i32), 0);
    let out = read(&mut d, 2 * n);
    for t in 0..n {
        let s: i32 = input[warp(t)..=t].iter().sum();
        assert_eq!(out[t], s, "scan_pred sum [{t}]");
        let steps = [1, 2, 4, 8, 16].iter().filter(|&&o| t % 32 >= o).count() as i32;
        assert_eq!(out[n + t], steps, "scan_pred steps [{t}]");
    }
}

#[test]
fn votes_and_matches() {
    let mut d = device(2);
    let n = 64usize;
    // warp 0 mixed, warp 1 all positive
    let input: Vec<i32> =
        (0..n).map(|i| if i < 32 { [3, -1, 0, 7][i % 4] * (i as i32 % 5) } else { i as i32 }).collect();
    let pin = upload(&mut d, &to_bytes_i32(&input));
    let pout = upload(&mut d, &vec![0u8; 16 * n]);
    launch("vote", "vote_all_any", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout), 0);
    let out = from_bytes_u32(&d.read(pout, 12 * n).unwrap());
    for t in 0..n {
        let w = t & !31;
        let ps: Vec<bool> = (w..w + 32).map(|j| input[j] > 0).collect();
        let ballot = ps.iter().enumerate().fold(0u32, |m, (j, &p)| m | ((p as u32) << j));
        assert_eq!(out[3 * t], ps.iter().all(|&p| p) as u32, "all [{t}]");
        assert_eq!(out[3 * t + 1], ps.iter().any(|&p| p) as u32, "any [{t}]");
        assert_eq!(out[3 * t + 2], ballot, "ballot [{t}]");
    }
    let sentinel = vec![0xabababab_u32; 2 * n];
    d.write(pout, &to_bytes_u32(&sentinel)).unwrap();
    launch("vote", "vote_partial", &mut d, 1, 64, Params::new().ptr(pin).ptr(pout), 0);
    let out = from_bytes_u32(&d.read(pout, 8 * n).unwrap());
    for t in 0..n {
        let l = t % 32;
        if l >= 20 {
            assert_eq!(out[2 * t], 0xabababab);
            continue;
        }
        let w = t & !31;
        let ballot = (0..20).fold(0u32, |m, j| m | (((input[w + j] & 1) as u32) << j));
        assert_eq!(out[2 * t], 0x000f_ffff, "activemask [{t}]");
        assert_eq!(out[2 * t + 1], ballot, "partial ballot [{t}]");
    }
    let keys: Vec<i32> = (0..n).map(|i| (i as i32 * 7) % 5).collect();
    let pk = upload(&mut d, &to_bytes_i32(&keys));
    launch("vote", "match_any", &mut d, 1, 64, Params::new().ptr(pk).ptr(pout), 0);
    let out = from_bytes_u32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        let w = t & !31;
        let m = (0..32).fold(0u32, |m, j| m | (((keys[w + j] == keys[t]) as u32) << j));
        assert_eq!(out[t], m, "match_any [{t}]");
    }
    let same: Vec<i32> = (0..n).map(|i| if i < 32 { 42 } else { 42 + (i == 40) as i32 }).collect();
    let ps = upload(&mut d, &to_bytes_i32(&same));
    launch("vote", "match_all", &mut d, 1, 64, Params::new().ptr(ps).ptr(pout), 0);
    let out = from_bytes_u32(&d.read(pout, 8 * n).unwrap());
    for t in 0..n {
        let all = t < 32;
        assert_eq!(out[2 * t], if all { u32::MAX } else { 0 }, "match_all mask [{t}]");
        assert_eq!(out[2 * t + 1], all as u32, "match_all pred [{t}]");
    }
    let k64: Vec<u64> = (0..n).map(|i| ((i as u64 % 3) << 32) | (i as u64 % 2)).collect();
    let pk64 = upload(&mut d, &k64.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>());
    launch("vote", "match_any_u64", &mut d, 1, 64, Params::new().ptr(pk64).ptr(pout), 0);
    let out = from_bytes_u32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        let w = t & !31;
        let m = (0..32).fold(0u32, |m, j| m | (((k64[w + j] == k64[t]) as u32) << j));
        assert_eq!(out[t], m, "match_any_u64 [{t}]");
    }
    let f: Vec<f32> = (0..n).map(|i| ((i * 13) % 10) as f32 / 10.0).collect();
    let pf = upload(&mut d, &to_bytes_f32(&f));
    launch("vote", "ballot_popc", &mut d, 1, 64, Params::new().ptr(pf).ptr(pout), 0);
    let out = from_bytes_i32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        let w = t & !31;
        let b = (0..32).fold(0u32, |m, j| m | (((f[w + j] < 0.5) as u32) << j));
        assert_eq!(out[t], (b & ((1u32 << (t % 32)) - 1)).count_ones() as i32, "ballot_popc [{t}]");
    }
}
