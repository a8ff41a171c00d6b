//! Real nvcc listings: packed half arithmetic and wmma (HMMA.884) GEMMs.
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
use half::f16;
use otc_sim::{Device, DeviceConfig, TensorArith};

fn launch(d: &mut Device, file: &str, kernel: &str, grid: u32, block: u32, params: Params) {
    let p = fixture(file);
    let k = KernelImage::from(p.kernel(kernel).unwrap());
    d.launch(&k, [grid, 1, 1], [block, 1, 1], params.bytes(), 0).unwrap_or_else(|e| panic!("{kernel}: {e}"));
}

fn h(x: f64) -> u16 {
    f16_rne(x)
}
fn hv(b: u16) -> f64 {
    f16::from_bits(b).to_f64()
}
fn pack(lo: u16, hi: u16) -> u32 {
    lo as u32 | ((hi as u32) << 16)
}
fn halves(x: u32) -> [u16; 2] {
    [x as u16, (x >> 16) as u16]
}
fn canon(b: u16) -> u16 {
    if f16::from_bits(b).is_nan() {
        0x7fff
    } else {
        b
    }
}

#[test]
fn half2_arith_compare_axpy_scalar_dot() {
    let mut d = device(2);
    let n = 64usize;
    let mut rng = Rng(21);
    let rh = |rng: &mut Rng| -> u16 {
        match rng.below(10) {
            0 => [0x7c00, 0xfc00, 0x7e00, 0x0001, 0x8000, 0x3c00, 0x7bff][rng.below(7) as usize],
            _ => h((rng.below(4000) as f64 - 2000.0) / 64.0),
        }
    };
    let a: Vec<u32> = (0..n).map(|_| pack(rh(&mut rng), rh(&mut rng))).collect();
    let b: Vec<u32> = (0..n).map(|_| pack(rh(&mut rng), rh(&mut rng))).collect();
    let c: Vec<u32> = (0..n).map(|_| pack(rh(&mut rng), rh(&mut rng))).collect();
    let (pa, pb, pc) =
        (upload(&mut d, &to_bytes_u32(&a)), upload(&mut d, &to_bytes_u32(&b)), upload(&mut d, &to_bytes_u32(&c)));
    let pout = upload(&mut d, &vec![0u8; 24 * n]);
    launch(&mut d, "half2", "h2_arith", 1, 64, Params::new().ptr(pa).ptr(pb).ptr(pc).ptr(pout));
    let o = from_bytes_u32(&d.read(pout, 24 * n).unwrap());
    for t in 0..n {
        let (x, y, z) = (halves(a[t]), halves(b[t]), halves(c[t]));
        for i in 0..2 {
            let (xv, yv, zv) = (hv(x[i]), hv(y[i]), hv(z[i]));
            let sat = |v: f64| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
            let e = [
                canon(h(xv + yv)),
                canon(h(xv - yv)),
                canon(h(xv * yv)),
                canon(h(xv.mul_add(yv, zv))),
                x[i] ^ 0x8000,
                h(sat(f16::from_bits(f16_rne(xv + yv)).to_f64())),
            ];
            for k in 0..6 {
                let got = halves(o[6 * t + k])[i];
                let want = e[k];
                let ok = got == want || (k == 4 && f16::from_bits(want).is_nan() && f16::from_bits(got).is_nan());
                assert!(
                    ok,
                    "h2_arith t={t} half={i} k={k}: x={:#x} y={:#x} z={:#x} got {got:#x} want {want:#x}",
                    x[i], y[i], z[i]
                );
            }
        }
    }

    let pflags = upload(&mut d, &vec![0u8; 4 * n]);
    launch(&mut d, "half2", "h2_compare", 1, 64, Params::new().ptr(pa).ptr(pb).ptr(pout).ptr(pflags));
    let o = from_bytes_u32(&d.read(pout, 16 * n).unwrap());
    let flags = from_bytes_u32(&d.read(pflags, 4 * n).unwrap());
    for t in 0..n {
        let (x, y) = (halves(a[t]), halves(b[t]));
        let mut gt_both = true;
        let mut eq_both = true;
        for i in 0..2 {
            let (xv, yv) = (hv(x[i]), hv(y[i]));
            let one = |b: bool| if b { 0x3c00u16 } else { 0 };
            assert_eq!(halves(o[4 * t])[i], one(xv > yv), "hgt2");
            assert_eq!(halves(o[4 * t + 1])[i], one(xv <= yv), "hle2");
            let mx = if xv.is_nan() {
                y[i]
            } else if yv.is_nan() {
                x[i]
            } else if xv >= yv {
                x[i]
            } else {
                y[i]
            };
            let mn = if xv.is_nan() {
                y[i]
            } else if yv.is_nan() {
                x[i]
            } else if xv <= yv {
                x[i]
            } else {
                y[i]
            };
            let (gmx, gmn) = (halves(o[4 * t + 2])[i], halves(o[4 * t + 3])[i]);
            assert!(hv(gmx) == hv(mx) || (hv(gmx).is_nan() && hv(mx).is_nan()), "hmax2 {xv} {yv}: {:#x}", gmx);
            assert!(hv(gmn) == hv(mn) || (hv(gmn).is_nan() && hv(mn).is_nan()), "hmin2 {xv} {yv}: {:#x}", gmn);
            gt_both &= xv > yv;
            eq_both &= xv == yv;
        }
        assert_eq!(flags[t], gt_both as u32 | ((eq_both as u32) << 1), "flags [{t}]");
    }

    let alpha = pack(h(1.5), h(-0.25));
    let y0 = c.clone();
    let py = upload(&mut d, &to_bytes_u32(&y0));
    launch(&mut d, "half2", "h2_axpy", 2, 64, Params::new().i32(n as i32).u32(alpha).ptr(pa).ptr(py));
    let yv = from_bytes_u32(&d.read(py, 4 * n).unwrap());
    for t in 0..n {
        let (x, y, al) = (halves(a[t]), halves(y0[t]), halves(alpha));
        for i in 0..2 {
            assert_eq!(halves(yv[t])[i], canon(h(hv(al[i]).mul_add(hv(x[i]), hv(y[i])))), "h2_axpy [{t}]");
        }
    }

    let sa: Vec<u16> = (0..n).map(|_| h((rng.below(2000) as f64 - 1000.0) / 16.0)).collect();
    let sb: Vec<u16> = (0..n).map(|_| h((rng.below(2000) as f64 - 1000.0) / 32.0)).collect();
    let to16 = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let psa = upload(&mut d, &to16(&sa));
    let psb = upload(&mut d, &to16(&sb));
    launch(&mut d, "half2", "h_scalar", 1, 64, Params::new().ptr(psa).ptr(psb).ptr(pout));
    let o: Vec<u16> = d.read(pout, 6 * n).unwrap().chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    for t in 0..n {
        let (x, y) = (hv(sa[t]), hv(sb[t]));
        assert_eq!(o[3 * t], canon(h(x + y)));
        assert_eq!(o[3 * t + 1], canon(h(x * y)));
        assert_eq!(o[3 * t + 2], canon(h(x.mul_add(y, 1.5))));
    }

    let m = 200usize;
    let da: Vec<u32> =
        (0..m).map(|_| pack(h((rng.below(64) as f64 - 32.0) / 8.0), h((rng.below(64) as f64) / 16.0))).collect();
    let db: Vec<u32> =
        (0..m).map(|_| pack(h((rng.below(64) as f64 - 32.0) / 4.0), h((rng.below(64) as f64) / 8.0))).collect();
    let (pda, pdb) = (upload(&mut d, &to_bytes_u32(&da)), upload(&mut d, &to_bytes_u32(&db)));
    launch(&mut d, "half2", "h2_dot_f32", 1, 64, Params::new().ptr(pda).ptr(pdb).ptr(pout).i32(m as i32));
    let o = from_bytes_f32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        let mut s = 0f32;
        let mut i = t;
        while i < m {
            let (x, y) = (halves(da[i]), halves(db[i]));
            let p0 = f16::from_bits(f16_rne(hv(x[0]) * hv(y[0]))).to_f32();
            let p1 = f16::from_bits(f16_rne(hv(x[1]) * hv(y[1]))).to_f32();
            s += p0 + p1;
            i += 64;
        }
        assert_eq!(o[t].to_bits(), s.to_bits(), "h2_dot_f32 [{t}]");
    }
}

/// Small exact values: every product and sum is exact, so any summation order gives the same.
fn exact_matrix(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| (rng.below(33) as f64 - 16.0) / 8.0).collect()
}

fn to_h16(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|&x| h(x).to_le_bytes()).collect()
}

#[test]
fn wmma_tiles_all_layouts() {
    for arith in [TensorArith::V100, TensorArith::Ieee] {
        let mut d = Device::new(DeviceConfig { tensor_arith: arith, threads: Some(1), ..DeviceConfig::default() });
        let mut rng = Rng(1234);
        let a = exact_matrix(&mut rng, 256);
        let b = exact_matrix(&mut rng, 256);
        let c: Vec<f64> = exact_matrix(&mut rng, 256);
        // logical matrices A[r][k], B[k][c] from storage in the given layout
        let at =
            |st: &[f64], r: usize, k: usize, row_major: bool| if row_major { st[r * 16 + k] } else { st[k * 16 + r] };
        let bt = |st: &[f64], k: usize, cc: usize, row_major: bool| {
            if row_major {
                st[k * 16 + cc]
            } else {
                st[cc * 16 + k]
            }
        };
        let prod = |ar: bool, br: bool, r: usize, cc: usize| {
            (0..16).map(|k| at(&a, r, k, ar) * bt(&b, k, cc, br)).sum::<f64>()
        };
        let (pa, pb) = (upload(&mut d, &to_h16(&a)), upload(&mut d, &to_h16(&b)));
        let pc32 = upload(&mut d, &to_bytes_f32(&c.iter().map(|&x| x as f32).collect::<Vec<_>>()));
        let pc16 = upload(&mut d, &to_h16(&c));
        let pd = upload(&mut d, &vec![0u8; 16 * 20 * 4]);

        launch(&mut d, "wmma", "wmma_f16_f32_rowcol", 1, 32, Params::new().ptr(pa).ptr(pb).ptr(pc32).ptr(pd));
        let o = from_bytes_f32(&d.read(pd, 1024).unwrap());
        for r in 0..16 {
            for cc in 0..16 {
                assert_eq!(o[r * 16 + cc] as f64, prod(true, false, r, cc) + c[r * 16 + cc], "rowcol ({r},{cc})");
            }
        }
        launch(&mut d, "wmma", "wmma_f16_f32_colrow", 1, 32, Params::new().ptr(pa).ptr(pb).ptr(pd));
        let o = from_bytes_f32(&d.read(pd, 1024).unwrap());
        for r in 0..16 {
            for cc in 0..16 {
                assert_eq!(o[cc * 16 + r] as f64, prod(false, true, r, cc), "colrow ({r},{cc})");
            }
        }
        launch(&mut d, "wmma", "wmma_f16_f32_rowrow", 1, 32, Params::new().ptr(pa).ptr(pb).ptr(pd).f32(0.5));
        let o = from_bytes_f32(&d.read(pd, 1024).unwrap());
        for r in 0..16 {
            for cc in 0..16 {
                assert_eq!(o[r * 16 + cc] as f64, 0.5 * prod(true, true, r, cc), "rowrow ({r},{cc})");
            }
        }
        launch(&mut d, "wmma", "wmma_f16_f16_colcol", 1, 32, Params::new().ptr(pa).ptr(pb).ptr(pc16).ptr(pd));
        let o: Vec<u16> = d.read(pd, 512).unwrap().chunks_exact(2).map(|x| u16::from_le_bytes([x[0], x[1]])).collect();
        for r in 0..16 {
            for cc in 0..16 {
                assert_eq!(hv(o[r * 16 + cc]), prod(false, false, r, cc) + c[r * 16 + cc], "colcol ({r},{cc})");
            }
        }
        launch(&mut d, "wmma", "wmma_f16_f16_rowcol_colstore", 1, 32, Params::new().ptr(pa).ptr(pb).ptr(pd));
        let o: Vec<u16> = d.read(pd, 512).unwrap().chunks_exact(2).map(|x| u16::from_le_bytes([x[0], x[1]])).collect();
        for r in 0..16 {
            for cc in 0..16 {
                assert_eq!(hv(o[cc * 16 + r]), prod(true, false, r, cc), "colstore ({r},{cc})");
            }
        }
        // leading dimensions 32 / 24 / 20
        let a32: Vec<f64> = (0..16 * 32).map(|i| if i % 32 < 16 { a[(i / 32) * 16 + i % 32] } else { 99.0 }).collect();
        let b24: Vec<f64> = (0..16 * 24).map(|i| if i % 24 < 16 { b[(i / 24) * 16 + i % 24] } else { -99.0 }).collect();
        let (pa32, pb24) = (upload(&mut d, &to_h16(&a32)), upload(&mut d, &to_h16(&b24)));
        d.write(pd, &vec![0u8; 16 * 20 * 4]).unwrap();
        launch(&mut d, "wmma", "wmma_ld32", 1, 32, Params::new().ptr(pa32).ptr(pb24).ptr(pd));
        let o = from_bytes_f32(&d.read(pd, 16 * 20 * 4).unwrap());
        for r in 0..16 {
            for cc in 0..20 {
                let e = if cc < 16 { prod(true, false, r, cc) } else { 0.0 };
                assert_eq!(o[r * 20 + cc] as f64, e, "ld32 ({r},{cc})");
            }
        }
    }
}

#[test]
fn wmma_gemm_multi_tile() {
    for threads in [1usize, 3] {
        let mut d = device(threads);
        let (m, n, k) = (32usize, 48usize, 64usize);
        let mut rng = Rng(77);
        let a = exact_matrix(&mut rng, m * k); // row-major M x K
        let b = exact_matrix(&mut rng, k * n); // col-major: B[kk][c] at c*K + kk
        let (pa, pb) = (upload(&mut d, &to_h16(&a)), upload(&mut d, &to_h16(&b)));
        let pc = upload(&mut d, &vec![0u8; 4 * m * n]);
        let tiles = (m / 16) * (n / 16);
        launch(
            &mut d,
            "wmma",
            "wmma_gemm",
            tiles.div_ceil(2) as u32,
            64,
            Params::new().ptr(pa).ptr(pb).ptr(pc).i32(m as i32).i32(n as i32).i32(k as i32),
        );
        let o = from_bytes_f32(&d.read(pc, 4 * m * n).unwrap());
        for r in 0..m {
            for c in 0..n {
                let e: f64 = (0..k).map(|kk| a[r * k + kk] * b[c * k + kk]).sum();
                assert_eq!(o[r * n + c] as f64, e, "gemm ({r},{c})");
            }
        }
    }
}
