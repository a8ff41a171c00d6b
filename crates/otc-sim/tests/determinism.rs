//! The CTA-order rule: results, atomics and statistics are those of running the CTAs one after
//! another, for any number of host threads and any speculation batch size.
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
use otc_sim::{Device, DeviceConfig};

const TICKETS: &str = "
.kernel tickets
.param ptr counter
.param ptr out
    S2R R0, SR_TID.X ;
    S2R R1, SR_CTAID.X ;
    IMAD R0, R1, c[0x0][0x0], R0 ;
    MOV R2, c[0x0][0x160] ;
    MOV R3, c[0x0][0x164] ;
    MOV R4, 0x1 ;
    ATOMG.E.ADD.STRONG.GPU PT, R5, [R2], R4 ;
    MOV R6, c[0x0][0x168] ;
    MOV R7, c[0x0][0x16c] ;
    IMAD.WIDE.U32 R6, R5, 0x4, R6 ;
    STG.E.SYS [R6], R0 ;
    EXIT ;
";

fn configs() -> Vec<DeviceConfig> {
    let mut v = Vec::new();
    for threads in [1usize, 2, 4, 8] {
        for batch in [0usize, 1, 3, 64] {
            v.push(DeviceConfig { threads: Some(threads), parallel_batch: batch, ..DeviceConfig::default() });
        }
    }
    v
}

#[test]
fn reads_of_earlier_ctas_writes_see_them() {
    let k = kernel(CHAIN);
    let n = 100usize;
    let mut reference = None;
    for cfg in configs() {
        let mut d = Device::new(cfg.clone());
        let p = upload(&mut d, &to_bytes_u32(&vec![0; n + 1]));
        d.write(p, &to_bytes_u32(&[7])).unwrap();
        let st = d.launch(&k, [n as u32, 1, 1], [64, 1, 1], Params::new().ptr(p).bytes(), 0).unwrap();
        let out = from_bytes_u32(&d.read(p, 4 * (n + 1)).unwrap());
        let mut acc = 7u32;
        for (b, v) in out.iter().enumerate() {
            assert_eq!(*v, acc, "data[{b}] with {cfg:?}");
            acc += b as u32;
        }
        match &reference {
            None => reference = Some((out, st)),
            Some((o, s)) => {
                assert_eq!(o, &out);
                assert_eq!(s, &st, "statistics differ with {cfg:?}");
            }
        }
    }
}

#[test]
fn atomic_tickets_follow_cta_warp_lane_order() {
    let k = kernel(TICKETS);
    let (grid, block) = (37u32, 96u32);
    let n = (grid * block) as usize;
    let mut reference = None;
    for cfg in configs() {
        let mut d = Device::new(cfg.clone());
        let pc = upload(&mut d, &to_bytes_u32(&[0]));
        let po = upload(&mut d, &vec![0u8; 4 * n]);
        let st = d.launch(&k, [grid, 1, 1], [block, 1, 1], Params::new().ptr(pc).ptr(po).bytes(), 0).unwrap();
        let out = from_bytes_u32(&d.read(po, 4 * n).unwrap());
        assert_eq!(out, (0..n as u32).collect::<Vec<_>>(), "{cfg:?}");
        assert_eq!(from_bytes_u32(&d.read(pc, 4).unwrap()), vec![n as u32]);
        match &reference {
            None => reference = Some(st),
            Some(s) => assert_eq!(s, &st, "statistics differ with {cfg:?}"),
        }
    }
}

#[test]
fn fixture_kernels_give_identical_memory_and_stats_for_any_thread_count() {
    let p = fixture("reduction");
    let k = KernelImage::from(p.kernel("reduce_dynamic").unwrap());
    let q = fixture("atomics");
    let kh = KernelImage::from(q.kernel("red_histogram").unwrap());
    let n = 50_000usize;
    let input: Vec<i32> = (0..n as i32).map(|i| i.wrapping_mul(0x9e37_79b9u32 as i32)).collect();
    let mut reference = None;
    for cfg in configs() {
        let mut d = Device::new(cfg.clone());
        let pin = upload(&mut d, &to_bytes_i32(&input));
        let blocks = n.div_ceil(256);
        let pout = upload(&mut d, &vec![0u8; 4 * blocks]);
        let st1 = d
            .launch(
                &k,
                [blocks as u32, 1, 1],
                [256, 1, 1],
                Params::new().ptr(pin).ptr(pout).i32(n as i32).bytes(),
                1024,
            )
            .unwrap();
        let ph = upload(&mut d, &vec![0u8; 64]);
        let st2 =
            d.launch(&kh, [7, 1, 1], [128, 1, 1], Params::new().ptr(pin).ptr(ph).i32(n as i32).bytes(), 0).unwrap();
        let sums = d.read(pout, 4 * blocks).unwrap();
        let hist = d.read(ph, 64).unwrap();
        let got = (sums, hist, st1, st2);
        match &reference {
            None => reference = Some(got),
            Some(r) => assert!(r == &got, "results differ with {cfg:?}"),
        }
    }
}
