//! Prints the model outputs quoted in docs/timing.md:
//! `cargo test -p otc-timing --test report -- --nocapture`.
//! (The assertions here only check that the runs happened; the model checks are in model.rs.)

mod common;

use common::*;
use otc_timing::{sparse_landing, TimingConfig};

fn spwmma(abmp: u32, bbmp: u32) -> otc_timing::WarpTrace {
    let text = "SPWMMA.M32N32K1.F32.F32 {R8, R9, R10, R11, R12, R13, R14, R15}, {R16, R17, R18, R19}, R2, R3, R4, {R20, R21} ;";
    let (na, nb) = (abmp.count_ones(), bbmp.count_ones());
    warp(text, |_, inst| {
        if inst.modifier("sp") == "SP" {
            let m = inst.modifier("m")[1..].parse::<u8>().unwrap();
            let n = inst.modifier("n")[1..].parse::<u8>().unwrap();
            let exec = if na > 8 * m as u32 && nb > 16 * n as u32 { u32::MAX } else { 0 };
            let (rows, cols) = sparse_landing(abmp, bbmp, m, n);
            Ev::Sparse { exec, rows, cols }
        } else {
            Ev::All
        }
    })
}

fn spread(n: u32, seed: u32) -> u32 {
    // n set bits at pseudo-random positions (deterministic).
    let mut v = 0u32;
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
    while v.count_ones() < n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v |= 1 << (x % 32);
    }
    v
}

#[test]
fn spwmma_sets() {
    println!("SpWMMA set (one SPWMMA expansion, 23 instructions), V100 defaults:");
    println!("nnzA nnzB bitmaps   executed  OHMMA-tensor-cycles  accbuf-conflicts  accbuf-stall  set-cycles");
    for (na, nb) in [(32, 32), (20, 11), (16, 16), (8, 8), (0, 0)] {
        for (kind, a, b) in [
            (
                "low",
                if na == 32 { u32::MAX } else { (1u32 << na) - 1 },
                if nb == 32 { u32::MAX } else { (1u32 << nb) - 1 },
            ),
            ("spread", spread(na, 1), spread(nb, 2)),
        ] {
            if kind == "spread" && (na == 32 || na == 0) {
                continue;
            }
            let (s, _) = issue_cycles(&TimingConfig::v100(), cta(vec![spwmma(a, b)]));
            println!(
                "{na:4} {nb:4} {kind:8} {:9} {:20} {:17} {:13} {:11}",
                s.counter("ohmma.executed"),
                s.counter("tensor.busy_cycles.ohmma"),
                s.counter("accbuf.bank_conflicts"),
                s.counter("accbuf.stall_cycles"),
                s.counter("cycles")
            );
            assert_eq!(s.counter("ohmma.issued"), 8);
        }
    }
}

#[test]
fn dense_tiles() {
    let owmma = repeat(32, |i| {
        let (k, half) = (i / 2, i % 2);
        let d = if half == 0 { 4 } else { 8 };
        let a = 40 + 2 * (k % 8);
        let b = 60 + 2 * (k % 8);
        format!(
            "HMMA.OHMMA.8161.F32.F32 {{R{d}, R{}, R{}, R{}}}, {{R{a}, R{}}}, {{R{b}, R{}}}, {{R{d}, R{}, R{}, R{}}} ;",
            d + 1,
            d + 2,
            d + 3,
            a + 1,
            b + 1,
            d + 1,
            d + 2,
            d + 3
        )
    });
    for (name, cfg) in [
        ("forwarding", TimingConfig::v100()),
        ("no forwarding", {
            let mut c = TimingConfig::v100();
            c.set("tensor.accumulator_forwarding", false).unwrap();
            c
        }),
    ] {
        let (s, c) = issue_cycles(&cfg, cta(vec![warp(&owmma, all)]));
        println!(
            "dense OWMMA 16x16x16 ({name}): tensor cycles {}, first to last OHMMA issue {} cycles, warp done at {}",
            s.counter("tensor.busy_cycles"),
            c[0][31] - c[0][0],
            s.counter("cycles")
        );
        assert_eq!(s.counter("ohmma.executed"), 32);
    }
}

#[test]
fn spwmma_throughput() {
    // 16 warps (4 per sub-core), each running 16 SpWMMA sets (a 32x32x16 SpWMMA tile).
    println!("16 warps x 16 SpWMMA sets, V100 defaults:");
    println!("nnzA nnzB  skipped-cost  executed  tensor-cycles  issue-cycles  cycles");
    for (na, nb) in [(32u32, 32u32), (20, 11), (8, 8)] {
        for skipped in [0u32, 1] {
            let mut cfg = TimingConfig::v100();
            cfg.set("tensor.skipped_cycles", skipped).unwrap();
            let a = if na == 32 { u32::MAX } else { (1u32 << na) - 1 };
            let b = if nb == 32 { u32::MAX } else { (1u32 << nb) - 1 };
            let one = spwmma(a, b);
            let warps: Vec<_> = (0..16u32)
                .map(|w| {
                    let mut t = otc_timing::WarpTrace::new(w);
                    for set in 0..16u32 {
                        for e in &one.events {
                            let mut e = *e;
                            e.pc += set * 23 * 16;
                            t.push(e);
                        }
                    }
                    t
                })
                .collect();
            let (s, _) = issue_cycles(&cfg, cta(warps));
            println!(
                "{na:4} {nb:4} {skipped:13} {:9} {:14} {:13} {:7}   stalls: dependency {} unit_busy {} register_bank {} control {}",
                s.counter("ohmma.executed"),
                s.counter("tensor.busy_cycles"),
                s.counter("issue.cycles"),
                s.counter("cycles"),
                s.counter("stall.dependency"),
                s.counter("stall.unit_busy"),
                s.counter("stall.register_bank"),
                s.counter("stall.control"),
            );
        }
    }
}
