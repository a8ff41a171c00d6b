//! Real nvcc listings: 64-bit integers, memory widths, local memory, constant banks, bit
//! intrinsics, 3-D grids, special registers, C++ kernels.
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

fn launch3(
    d: &mut Device,
    file: &str,
    kernel: &str,
    grid: [u32; 3],
    block: [u32; 3],
    params: Params,
) -> otc_sim::LaunchStats {
    let p = fixture(file);
    let k = KernelImage::from(p.kernel(kernel).unwrap_or_else(|| panic!("no kernel {kernel}")));
    d.launch(&k, grid, block, params.bytes(), 0).unwrap_or_else(|e| panic!("{kernel}: {e}"))
}

fn launch(d: &mut Device, file: &str, kernel: &str, block: u32, params: Params) -> otc_sim::LaunchStats {
    launch3(d, file, kernel, [1, 1, 1], [block, 1, 1], params)
}

fn b64(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn r64(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn int64_kernels() {
    let mut d = device(1);
    let n = 64usize;
    let mut rng = Rng(64);
    let a: Vec<i64> =
        (0..n).map(|i| if i < 4 { [i64::MIN, i64::MAX, -1, 0][i] } else { rng.next() as i64 >> (i % 40) }).collect();
    let b: Vec<i64> = (0..n).map(|i| if i % 7 == 0 { a[i] } else { rng.next() as i64 >> (i % 33) }).collect();
    let s: Vec<i32> = (0..n).map(|i| (i as i32 * 13) ^ 0x55).collect();
    let (pa, pb) = (upload(&mut d, &b64(&a)), upload(&mut d, &b64(&b)));
    let ps = upload(&mut d, &to_bytes_i32(&s));
    let pout = upload(&mut d, &vec![0u8; 64 * n]);
    launch(&mut d, "int64", "i64_ops", 64, Params::new().ptr(pa).ptr(pb).ptr(ps).ptr(pout));
    let o = r64(&d.read(pout, 64 * n).unwrap());
    for t in 0..n {
        let (x, y, k) = (a[t], b[t], (s[t] & 63) as u32);
        let e = [
            x.wrapping_add(y),
            x.wrapping_sub(y),
            x.wrapping_shl(k),
            x >> k,
            ((x as u64) >> k) as i64,
            (x < y) as i64,
            ((x as u64) < (y as u64)) as i64,
            x.wrapping_mul(y),
        ];
        assert_eq!(&o[8 * t..8 * t + 8], &e, "i64_ops x={x} y={y} k={k}");
    }
    launch(&mut d, "int64", "u64_const_shifts", 64, Params::new().ptr(pa).ptr(pout));
    let o = r64(&d.read(pout, 32 * n).unwrap());
    for t in 0..n {
        let x = a[t] as u64;
        let e = [x << 13, x >> 7, x >> 40, x.rotate_left(35)];
        assert_eq!(o[4 * t..4 * t + 4].iter().map(|&v| v as u64).collect::<Vec<_>>(), e.to_vec());
    }
    launch(&mut d, "int64", "i64_minmax", 64, Params::new().ptr(pa).ptr(pb).ptr(pout));
    let o = r64(&d.read(pout, 24 * n).unwrap());
    for t in 0..n {
        let (x, y) = (a[t], b[t]);
        assert_eq!(&o[3 * t..3 * t + 3], &[x.min(y), x.max(y), if x == y { -1 } else { (x > y) as i64 }]);
    }
    let ins: Vec<i32> = (0..200).map(|i| i * 7 - 300).collect();
    let pin = upload(&mut d, &to_bytes_i32(&ins));
    launch(&mut d, "int64", "i64_index", 64, Params::new().ptr(pin).ptr(pout).u32(100).u32(0));
    let o = r64(&d.read(pout, 8 * n).unwrap());
    for t in 0..n {
        assert_eq!(o[t], ins[100 + t] as i64 * 3_000_000_000);
    }
    let m = 300usize;
    let c: Vec<i64> = (0..m).map(|_| rng.next() as i64).collect();
    let a3: Vec<i64> = (0..m).map(|_| rng.next() as i64).collect();
    let b3: Vec<i64> = (0..m).map(|_| rng.next() as i64).collect();
    let (pa3, pb3, pc3) = (upload(&mut d, &b64(&a3)), upload(&mut d, &b64(&b3)), upload(&mut d, &b64(&c)));
    launch(&mut d, "int64", "i64_sum3", 64, Params::new().ptr(pa3).ptr(pb3).ptr(pc3).ptr(pout).i32(m as i32));
    let o = r64(&d.read(pout, 8 * n).unwrap());
    for t in 0..n {
        let mut acc = 0i64;
        let mut i = t;
        while i < m {
            acc = acc.wrapping_add(a3[i].wrapping_add(b3[i]).wrapping_sub(c[i]));
            i += 64;
        }
        assert_eq!(o[t], acc);
    }
}

#[test]
fn memory_widths_local_and_constants() {
    let mut d = device(1);
    let n = 64usize;
    let c8: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(37)).collect();
    let s16: Vec<u16> = (0..n).map(|i| (i as u16).wrapping_mul(4099)).collect();
    let pc = upload(&mut d, &c8);
    let ps = upload(&mut d, &s16.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>());
    let pout = upload(&mut d, &vec![0u8; 64 * n]);
    launch(&mut d, "memwidth", "widths_copy", 64, Params::new().ptr(pc).ptr(pc).ptr(ps).ptr(ps).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 16 * n).unwrap());
    for t in 0..n {
        assert_eq!(&o[4 * t..4 * t + 4], &[c8[t] as i8 as i32, c8[t] as i32, s16[t] as i16 as i32, s16[t] as i32]);
    }
    let ins: Vec<i32> = (0..n as i32).map(|i| i * 1000 - 20000 + i * i * 77).collect();
    let pin = upload(&mut d, &to_bytes_i32(&ins));
    let pc8 = upload(&mut d, &vec![0u8; n]);
    let pus = upload(&mut d, &vec![0u8; 2 * n]);
    launch(&mut d, "memwidth", "narrow_store", 64, Params::new().ptr(pin).ptr(pc8).ptr(pus));
    let oc = d.read(pc8, n).unwrap();
    let ous: Vec<u16> = d.read(pus, 2 * n).unwrap().chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    for t in 0..n {
        assert_eq!(oc[t], (ins[t] + 1) as u8);
        assert_eq!(ous[t], (ins[t] * 3) as u16);
    }
    // wide copies
    let a: Vec<i64> = (0..n as i64).map(|i| i * 0x1_0000_0001 - 5).collect();
    let b2: Vec<i32> = (0..2 * n as i32).map(|i| i * 3 - 7).collect();
    let c4: Vec<i32> = (0..4 * n as i32).map(|i| i * 11 + 1).collect();
    let d4: Vec<f32> = (0..4 * n).map(|i| i as f32 * 0.75 - 3.0).collect();
    let (pa, pb) = (upload(&mut d, &b64(&a)), upload(&mut d, &to_bytes_i32(&b2)));
    let (pc4, pd4) = (upload(&mut d, &to_bytes_i32(&c4)), upload(&mut d, &to_bytes_f32(&d4)));
    let (poa, pob) = (upload(&mut d, &vec![0u8; 8 * n]), upload(&mut d, &vec![0u8; 8 * n]));
    let (poc, pod) = (upload(&mut d, &vec![0u8; 16 * n]), upload(&mut d, &vec![0u8; 16 * n]));
    launch(
        &mut d,
        "memwidth",
        "wide_copy",
        64,
        Params::new().ptr(pa).ptr(pb).ptr(pc4).ptr(pd4).ptr(poa).ptr(pob).ptr(poc).ptr(pod),
    );
    let oa = r64(&d.read(poa, 8 * n).unwrap());
    let ob = from_bytes_i32(&d.read(pob, 8 * n).unwrap());
    let oc = from_bytes_i32(&d.read(poc, 16 * n).unwrap());
    let od = from_bytes_f32(&d.read(pod, 16 * n).unwrap());
    for t in 0..n {
        assert_eq!(oa[t], a[t] + 1);
        assert_eq!(&ob[2 * t..2 * t + 2], &[b2[2 * t] + 1, b2[2 * t + 1] - 1]);
        assert_eq!(&oc[4 * t..4 * t + 4], &[c4[4 * t + 3], c4[4 * t + 2], c4[4 * t + 1], c4[4 * t]]);
        for i in 0..4 {
            assert_eq!(od[4 * t + i], d4[4 * t + i] * 2.0);
        }
    }
    let fa: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let pfa = upload(&mut d, &to_bytes_f32(&fa));
    launch(&mut d, "memwidth", "ldg_readonly", 64, Params::new().ptr(pfa).ptr(pc4).ptr(pout));
    let o = from_bytes_f32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        assert_eq!(o[t], fa[t] + c4[4 * t + 1] as f32);
    }
    launch(&mut d, "memwidth", "local_array", 64, Params::new().ptr(pin).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        let x = ins[t];
        let mut buf: Vec<i32> = (0..16).map(|k| x.wrapping_mul(k) + k * k).collect();
        let j = (x & 15) as usize;
        buf[j] += 100;
        assert_eq!(o[t], buf[(j * 5 + 3) & 15] + buf[15 - j], "local_array [{t}]");
    }
    // by-value parameter structs
    let idx: Vec<i32> = (0..n as i32).map(|i| i * 5 + 1).collect();
    let pidx = upload(&mut d, &to_bytes_i32(&idx));
    let vals: Vec<i32> = (0..8).map(|i| i * 3 - 4).collect();
    let mut params = Params::new();
    for v in &vals {
        params = params.i32(*v);
    }
    params = params.f32(1.5).ptr(pidx).ptr(pout);
    launch(&mut d, "memwidth", "param_index", 64, params);
    let o = from_bytes_f32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        assert_eq!(o[t], vals[(idx[t] & 7) as usize] as f32 * 1.5);
    }
    let vals64: Vec<i32> = (0..64).map(|i| i * i - 100).collect();
    let mut params = Params::new();
    for v in &vals64 {
        params = params.i32(*v);
    }
    launch(&mut d, "memwidth", "param_index64", 64, params.ptr(pidx).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        assert_eq!(o[t], vals64[(idx[t] & 63) as usize]);
    }
    let ctab: Vec<i32> = (0..32).map(|i| 1000 + i * i).collect();
    d.write_constant(3, 0, &to_bytes_i32(&ctab)).unwrap();
    launch(&mut d, "memwidth", "const_index", 64, Params::new().ptr(pidx).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        assert_eq!(o[t], ctab[(idx[t] & 31) as usize]);
    }
    launch(&mut d, "memwidth", "misaligned_offsets", 64, Params::new().ptr(pin).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        let e = if t == 0 || t == n - 1 { 0 } else { ins[t - 1] * 100 + ins[t] * 10 + ins[t + 1] };
        assert_eq!(o[t], e);
    }
}

#[test]
fn bit_intrinsics_and_minmax() {
    let mut d = device(1);
    let n = 64usize;
    let mut rng = Rng(8);
    let a: Vec<u32> =
        (0..n).map(|i| if i < 3 { [0, u32::MAX, 0x8000_0000][i] } else { rng.u32() >> (i % 31) }).collect();
    let b: Vec<u32> = (0..n).map(|i| if i < 3 { [0, 1, 31][i] } else { rng.u32() }).collect();
    let (pa, pb) = (upload(&mut d, &to_bytes_u32(&a)), upload(&mut d, &to_bytes_u32(&b)));
    let pout = upload(&mut d, &vec![0u8; 32 * n]);
    launch(&mut d, "bitops", "bit_intrinsics", 64, Params::new().ptr(pa).ptr(pb).ptr(pout));
    let o = from_bytes_u32(&d.read(pout, 32 * n).unwrap());
    let perm = |x: u32, y: u32, s: u32| -> u32 {
        let bytes = ((y as u64) << 32) | x as u64;
        (0..4).fold(0, |r, i| r | ((((bytes >> (8 * ((s >> (4 * i)) & 7))) & 0xff) as u32) << (8 * i)))
    };
    for t in 0..n {
        let (x, y) = (a[t], b[t]);
        let wide = ((y as u64) << 32) | x as u64;
        let e = [
            x.count_ones(),
            x.leading_zeros(),
            if x == 0 { 0 } else { x.trailing_zeros() + 1 },
            x.reverse_bits(),
            perm(x, y, 0x5140),
            ((wide << ((y & 63) & 31)) >> 32) as u32,
            (wide >> (((x ^ y) & 63) & 31)) as u32,
            ((wide << y.min(32)) >> 32) as u32,
        ];
        assert_eq!(&o[8 * t..8 * t + 8], &e, "bit_intrinsics x={x:#x} y={y:#x}");
    }
    let sel: Vec<u32> = (0..n).map(|_| rng.u32()).collect();
    let psel = upload(&mut d, &to_bytes_u32(&sel));
    launch(&mut d, "bitops", "byte_perm_var", 64, Params::new().ptr(pa).ptr(pb).ptr(psel).ptr(pout));
    let o = from_bytes_u32(&d.read(pout, 4 * n).unwrap());
    for t in 0..n {
        assert_eq!(o[t], perm(a[t], b[t], sel[t] & 0xffff), "byte_perm_var");
    }
    let ia: Vec<i32> = (0..n).map(|i| if i == 0 { i32::MIN } else { (rng.u32() as i32) >> 2 }).collect();
    let ib: Vec<i32> = (0..n).map(|_| (rng.u32() as i32) >> 2).collect();
    let (pia, pib) = (upload(&mut d, &to_bytes_i32(&ia)), upload(&mut d, &to_bytes_i32(&ib)));
    launch(&mut d, "bitops", "minmax_abs", 64, Params::new().ptr(pia).ptr(pib).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 24 * n).unwrap());
    for t in 1..n {
        let (x, y) = (ia[t], ib[t]);
        let e = [
            x.min(y),
            x.max(y),
            (x as u32).min(y as u32) as i32,
            (x as u32).max(y as u32) as i32,
            x.wrapping_abs(),
            ((x - y).unsigned_abs() + 7) as i32,
        ];
        assert_eq!(&o[6 * t..6 * t + 6], &e, "minmax_abs {x} {y}");
    }
    assert_eq!(o[4], i32::MIN);
    let fa: Vec<f32> = (0..n).map(|i| [1.5, -0.0, f32::NAN, -3.0, 0.0, f32::INFINITY][i % 6]).collect();
    let fb: Vec<f32> = (0..n).map(|i| [f32::NAN, 0.0, 2.0, -3.5, -0.0, 1.0, 7.0][i % 7]).collect();
    let (pfa, pfb) = (upload(&mut d, &to_bytes_f32(&fa)), upload(&mut d, &to_bytes_f32(&fb)));
    launch(&mut d, "bitops", "fminmax", 64, Params::new().ptr(pfa).ptr(pfb).ptr(pout));
    let o = from_bytes_f32(&d.read(pout, 16 * n).unwrap());
    for t in 0..n {
        let (x, y) = (fa[t], fb[t]);
        let same = |g: f32, w: f32| g == w || (g.is_nan() && w.is_nan());
        assert!(same(o[4 * t], x.min(y)), "fminf({x}, {y}) = {}", o[4 * t]);
        assert!(same(o[4 * t + 1], x.max(y)), "fmaxf({x}, {y}) = {}", o[4 * t + 1]);
        // fabsf compiles to FADD |x|, -RZ: a NaN comes out as the canonical NaN
        assert!(same(o[4 * t + 2], x.abs()) && (x.is_nan() || o[4 * t + 2].to_bits() == x.abs().to_bits()));
        assert_eq!(o[4 * t + 3].to_bits(), x.copysign(y).to_bits());
    }
    launch(&mut d, "bitops", "simd_bytes", 64, Params::new().ptr(pia).ptr(pib).ptr(pout));
    let o = from_bytes_i32(&d.read(pout, 32 * n).unwrap());
    let sb = |v: i32, i: u32| ((v >> (8 * i)) & 0xff) as u8 as i8 as i32;
    let ub = |v: i32, i: u32| ((v >> (8 * i)) & 0xff) as u32;
    for t in 0..n {
        let (x, y) = (ia[t], ib[t]);
        let dp4 = (0..4).fold(5i32, |a, i| a.wrapping_add(sb(x, i) * sb(y, i)));
        let vabs = (0..4).fold(0u32, |a, i| a | (((sb(x, i) - sb(y, i)).unsigned_abs() & 0xff) << (8 * i)));
        let vadd = (0..4).fold(0u32, |a, i| a | (((ub(x, i) + ub(y, i)) & 0xff) << (8 * i)));
        let dp2 = ((x as i16) as i32) * sb(y, 0) + ((x >> 16) as i16 as i32) * sb(y, 1) + 1;
        let e = [
            x.clamp(-128, 127),
            x as i16 as i32,
            dp4,
            vabs as i32,
            vadd as i32,
            dp2,
            x.min(y),
            if x < y { 7 } else { 9 },
        ];
        assert_eq!(&o[8 * t..8 * t + 8], &e, "simd_bytes x={x:#x} y={y:#x}");
    }
}

#[test]
fn grids_special_registers_templates() {
    let mut d = device(2);
    let (nx, ny, nz) = (7usize, 8usize, 5usize);
    let pout = upload(&mut d, &to_bytes_i32(&vec![-1; nx * ny * nz]));
    launch3(
        &mut d,
        "grid3d",
        "linear3d",
        [2, 2, 3],
        [4, 4, 2],
        Params::new().ptr(pout).i32(nx as i32).i32(ny as i32).i32(nz as i32),
    );
    let o = from_bytes_i32(&d.read(pout, 4 * nx * ny * nz).unwrap());
    for (i, v) in o.iter().enumerate() {
        assert_eq!(*v, i as i32 * 2 + 1);
    }
    let vol: Vec<f32> = (0..nx * ny * nz).map(|i| (i % 13) as f32 * 0.25 - 1.0).collect();
    let pvol = upload(&mut d, &to_bytes_f32(&vol));
    let pplane = upload(&mut d, &vec![0u8; 4 * nx * ny]);
    launch3(
        &mut d,
        "grid3d",
        "volume_sum_z",
        [nx.div_ceil(8) as u32, ny.div_ceil(4) as u32, 1],
        [8, 4, 1],
        Params::new().ptr(pvol).ptr(pplane).i32(nx as i32).i32(ny as i32).i32(nz as i32),
    );
    let o = from_bytes_f32(&d.read(pplane, 4 * nx * ny).unwrap());
    for y in 0..ny {
        for x in 0..nx {
            let mut s = 0f32;
            for z in 0..nz {
                s += vol[(z * ny + y) * nx + x];
            }
            assert_eq!(o[y * nx + x], s);
        }
    }
    let pb = upload(&mut d, &vec![0u8; 4 * 12]);
    launch3(&mut d, "grid3d", "block_coords", [3, 2, 2], [2, 2, 2], Params::new().ptr(pb));
    let o = from_bytes_i32(&d.read(pb, 48).unwrap());
    for z in 0..2 {
        for y in 0..2 {
            for x in 0..3 {
                assert_eq!(o[(z * 2 + y) * 3 + x], (x | (y << 8) | (z << 16)) as i32);
            }
        }
    }
    let pids = upload(&mut d, &vec![0u8; 4 * 1152]);
    launch3(&mut d, "sregs", "sreg_ids", [2, 3, 1], [4, 2, 2], Params::new().ptr(pids));
    let o = from_bytes_i32(&d.read(pids, 4 * 1152).unwrap());
    for bz in 0..1 {
        for by in 0..3 {
            for bx in 0..2 {
                for tz in 0..2 {
                    for ty in 0..2 {
                        for tx in 0..4 {
                            let b = bx + 2 * (by + 3 * bz);
                            let t = tx + 4 * (ty + 2 * tz);
                            let g = b * 16 + t;
                            let e: Vec<i32> =
                                [tx, ty, tz, bx, by, bz, 4, 2, 2, 2, 3, 1].iter().map(|&v| v as i32).collect();
                            assert_eq!(&o[12 * g..12 * g + 12], &e[..]);
                        }
                    }
                }
            }
        }
    }
    let pl = upload(&mut d, &vec![0u8; 4 * 4 * 128]);
    launch3(&mut d, "sregs", "sreg_lane", [2, 1, 1], [64, 1, 1], Params::new().ptr(pl));
    let o = from_bytes_u32(&d.read(pl, 4 * 4 * 128).unwrap());
    for g in 0..128 {
        let l = (g % 32) as u32;
        assert_eq!(&o[4 * g..4 * g + 4], &[l, (1u32 << l) - 1, !((1u32 << l) - 1), u32::MAX]);
    }
    let pin = upload(&mut d, &to_bytes_i32(&[100]));
    let pclk = upload(&mut d, &vec![0u8; 24 * 32]);
    let pflag = upload(&mut d, &vec![0u8; 4 * 32]);
    launch3(&mut d, "sregs", "sreg_clock", [1, 1, 1], [32, 1, 1], Params::new().ptr(pin).ptr(pclk).ptr(pflag));
    let o = r64(&d.read(pclk, 24 * 32).unwrap());
    let f = from_bytes_i32(&d.read(pflag, 128).unwrap());
    for g in 0..32 {
        assert!(o[3 * g] > 0 && o[3 * g + 1] > 0);
        assert_eq!(o[3 * g + 2], (0..100i64).map(|k| k * k).sum::<i64>());
        assert_eq!(f[g], 1);
    }
    let psm = upload(&mut d, &vec![0u8; 8 * 64]);
    launch3(&mut d, "sregs", "sreg_smid", [2, 1, 1], [32, 1, 1], Params::new().ptr(psm));
    let o = from_bytes_u32(&d.read(psm, 8 * 64).unwrap());
    for g in 0..64 {
        assert!(o[2 * g] < 80);
        assert_eq!(o[2 * g + 1], 80);
    }

    let p = fixture("templates");
    let n = 50usize;
    let fin: Vec<f32> = (0..64).map(|i| i as f32 * 1.25).collect();
    let pf = upload(&mut d, &to_bytes_f32(&fin));
    let po = upload(&mut d, &vec![0u8; 8 * 64]);
    let k = KernelImage::from(p.kernel("_Z9scale_addIfEvPKT_PS0_S0_i").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(pf).ptr(po).f32(3.0).i32(n as i32).bytes(), 0).unwrap();
    let o = from_bytes_f32(&d.read(po, 4 * n).unwrap());
    for t in 0..n {
        let (fused, unfused) = (fin[t].mul_add(3.0, t as f32), fin[t] * 3.0 + t as f32);
        assert!(o[t] == fused || o[t] == unfused, "scale_add<float>");
    }
    let din: Vec<i64> = (0..64).map(|i| (i as f64 * 0.5).to_bits() as i64).collect();
    let pd = upload(&mut d, &b64(&din));
    let k = KernelImage::from(p.kernel("_Z9scale_addIdEvPKT_PS0_S0_i").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(pd).ptr(po).ptr(3.0f64.to_bits()).i32(n as i32).bytes(), 0)
        .unwrap();
    let o = r64(&d.read(po, 8 * n).unwrap());
    for t in 0..n {
        assert_eq!(f64::from_bits(o[t] as u64), (t as f64 * 0.5) * 3.0 + t as f64, "scale_add<double>");
    }
    let k = KernelImage::from(p.kernel("_Z10overloadedPii").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(po).i32(-7).bytes(), 0).unwrap();
    let o = from_bytes_i32(&d.read(po, 256).unwrap());
    assert_eq!(o, (0..64).map(|t| t - 7).collect::<Vec<_>>());
    let k = KernelImage::from(p.kernel("_ZN2fx12in_namespaceEPi").unwrap());
    d.launch(&k, [1, 1, 1], [64, 1, 1], Params::new().ptr(po).bytes(), 0).unwrap();
    let o = from_bytes_i32(&d.read(po, 256).unwrap());
    assert_eq!(o, (0..64).map(|t| t * t).collect::<Vec<_>>());
}
