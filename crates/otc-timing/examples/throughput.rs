//! Speed of the cycle model on a synthetic GEMM-like grid:
//! `cargo run --release -p otc-timing --example throughput [ctas]`.

use std::time::Instant;

use otc_timing::{simulate, CtaTrace, EventKind, EventTemplate, TimingConfig, WarpTrace};

const BODY: &str = "
    LDG.E.128.SYS R4, [R2] ;
    LDG.E.128.SYS R8, [R2+0x200] ;
    STS.128 [R30], R4 ;
    STS.128 [R30+0x800], R8 ;
    BAR.SYNC 0x0 ;
    LDS.128 R12, [R31] ;
    LDS.128 R16, [R31+0x800] ;
    HMMA.884.F32.F32.STEP0 R20, R12.reuse.ROW, R16.reuse.COL, R20 ;
    HMMA.884.F32.F32.STEP1 R22, R12.reuse.ROW, R16.reuse.COL, R22 ;
    HMMA.884.F32.F32.STEP2 R24, R12.reuse.ROW, R16.reuse.COL, R24 ;
    HMMA.884.F32.F32.STEP3 R26, R12.ROW, R16.COL, R26 ;
    HMMA.884.F32.F32.STEP0 R20, R14.reuse.ROW, R18.reuse.COL, R20 ;
    HMMA.884.F32.F32.STEP1 R22, R14.reuse.ROW, R18.reuse.COL, R22 ;
    HMMA.884.F32.F32.STEP2 R24, R14.reuse.ROW, R18.reuse.COL, R24 ;
    HMMA.884.F32.F32.STEP3 R26, R14.ROW, R18.COL, R26 ;
    IADD3 R2, P0, R2, 0x20, RZ ;
    IMAD.X R3, RZ, RZ, R3, P0 ;
    FFMA R40, R41, R42, R40 ;
    BAR.SYNC 0x0 ;
";

fn main() {
    let ctas: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let iters = 16;
    let text = format!(".kernel k\n{}\n    STG.E.128.SYS [R2], R20 ;\n    EXIT ;\n", BODY.repeat(iters));
    let insts = otc_asm::assemble(&text, "bench").unwrap().kernels[0].instructions.clone();
    let tpls: Vec<EventTemplate> = insts.iter().map(EventTemplate::new).collect();
    let make = |c: u64| {
        let warps = (0..8u32)
            .map(|w| {
                let mut wt = WarpTrace::new(w);
                let mut k = 0u64;
                for (i, t) in tpls.iter().enumerate() {
                    let pc = 16 * i as u32;
                    match t.proto().kind {
                        EventKind::Mem { space: otc_timing::MemSpace::Global, .. } => {
                            k += 1;
                            let base = 0x1000_0000 + (c * 8 + w as u64) * 0x10000 + k * 0x400;
                            wt.push_mem(t, pc, u32::MAX, u32::MAX, (0..32u64).map(|l| base + 16 * l));
                        }
                        EventKind::Mem { .. } => wt.push_mem(
                            t,
                            pc,
                            u32::MAX,
                            u32::MAX,
                            (0..32u64).map(|l| (w as u64 * 512 + 16 * l) % 0x4000),
                        ),
                        _ => wt.push(t.event(pc, u32::MAX, u32::MAX)),
                    }
                }
                wt
            })
            .collect();
        CtaTrace { cta: [c as u32, 0, 0], warps, shared_bytes: 16384, regs_per_thread: 64, threads: 256 }
    };
    let cfg = TimingConfig::v100();
    let start = Instant::now();
    let mut c = 0;
    let stats = simulate(
        &cfg,
        std::iter::from_fn(|| {
            if c < ctas {
                c += 1;
                Some(make(c - 1))
            } else {
                None
            }
        }),
        ctas,
    )
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let wi = stats.counter("warp_instructions");
    println!(
        "{ctas} CTAs, {wi} warp-instructions, {} cycles, IPC {:.2}: {:.2} s, {:.1} M warp-instructions/s (trace generation included)",
        stats.counter("cycles"),
        stats.metric("ipc"),
        secs,
        wi as f64 / secs / 1e6
    );
}
