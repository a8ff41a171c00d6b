//! A CTA recorded event by event with [`otc_timing::CtaRecorder`] (what otc-sim does) gives the
//! same statistics as the same events pushed as a [`otc_timing::CtaTrace`], prepared or not.

mod common;

use common::assemble;
use otc_timing::{CtaTrace, EventKind, EventTemplate, MemSpace, Simulator, TimingConfig, WarpTrace};

const KERNEL: &str = "
    LDG.E.128.SYS R100, [R2+0xc0] ;
    STG.E.SYS [R4], R7 ;
    LDL R8, [R1] ;
    STL [R1], R8 ;
    LDS R2, [RZ] ;
    STS [RZ], R3 ;
    LDC R9, c[0x0][R10] ;
    ATOMG.E.ADD.STRONG.GPU PT, R7, [R2.64], R6 ;
    BAR.SYNC 0x0 ;
    IADD3 R1, R1, R2, RZ ;
    FFMA R3, R4, R5, R6 ;
    ACCB.BMAP R40, R41 ;
    HMMA.OHMMA.8161.F32.F32.SP.M0.N0 {R108, R109}, {R116, R117} ;
    HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R16, R17}, {R20, R21}, {R8, R9, R10, R11} ;
    EXIT ;
";

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One issue as the functional run would report it.
enum Issue {
    Plain { idx: usize, active: u32, exec: u32 },
    Mem { idx: usize, active: u32, exec: u32, addrs: Vec<u64> },
    Sparse { idx: usize, active: u32, exec: u32, rows: u32, cols: u32 },
    Bar { idx: usize, active: u32, exec: u32, id: u8, threads: u16 },
}

/// The issues of one warp: the same instruction sequence for every warp of a CTA (loops over
/// the kernel body), masks, addresses and landing masks drawn per warp.
fn issues(tpls: &[EventTemplate], order: &[usize], rng: &mut Rng, warp: u64) -> Vec<Issue> {
    let mut out = Vec::new();
    for &idx in order {
        let active = if rng.below(8) == 0 { rng.next() as u32 | 1 } else { u32::MAX };
        let exec = match rng.below(6) {
            0 => 0,
            1 => active & rng.next() as u32,
            _ => active,
        };
        let lanes: Vec<u64> = (0..32u64).filter(|l| exec & (1 << l) != 0).collect();
        let proto = tpls[idx].proto();
        out.push(match proto.kind {
            EventKind::Mem { space, .. } => {
                let base = 0x1000_0000 + warp * 0x1_0000 + rng.below(64) * 0x200;
                let addrs = match (space, rng.below(3)) {
                    (MemSpace::Shared, 0) => lanes.iter().map(|l| l * 8).collect(),
                    (MemSpace::Shared, _) => lanes.iter().map(|l| (l * 4 * rng.below(4)) % 0x1000).collect(),
                    (MemSpace::Const, _) => lanes.iter().map(|l| 4 * (l % 3)).collect(),
                    (MemSpace::Local, _) => lanes.iter().map(|_| 4 * rng.below(8)).collect(),
                    (_, 0) => lanes.iter().map(|l| base + 16 * l).collect(),
                    (_, 1) => lanes.iter().map(|l| base + 4 * (l / 2)).collect(),
                    _ => lanes.iter().map(|_| base + 32 * rng.below(40)).collect(),
                };
                Issue::Mem { idx, active, exec, addrs }
            }
            EventKind::Tensor(otc_timing::TensorOp { class: otc_isa::TensorClass::OhmmaSparse, .. }) => {
                let (rows, cols) = if exec == 0 || rng.below(4) == 0 {
                    (0, 0)
                } else {
                    (rng.next() as u32 & 0x0101_0f0f, rng.next() as u32 & 0x00ff_00ff)
                };
                Issue::Sparse { idx, active, exec, rows, cols }
            }
            EventKind::Barrier { .. } if rng.below(2) == 0 => Issue::Bar { idx, active, exec, id: 0, threads: 0 },
            _ => Issue::Plain { idx, active, exec },
        });
    }
    out
}

#[test]
fn recorded_ctas_time_like_traces() {
    let insts = assemble(KERNEL);
    let tpls: Vec<EventTemplate> = insts.iter().map(EventTemplate::new).collect();
    let n = tpls.len();
    let mut cfg = TimingConfig::v100();
    cfg.set("gpu.num_sms", 2u64).unwrap();
    let (nctas, nwarps) = (6u64, 4u32);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // The same control flow for every warp of every CTA: the body, looped with early exits,
    // ending at EXIT; a few sets of whole passes jump back (taken branches).
    let mut order = Vec::new();
    for pass in 0..12 {
        let skip = pass % 3;
        order.extend((0..n - 1).filter(|i| (i + skip) % 5 != 0));
    }
    order.push(n - 1);
    let ctas: Vec<Vec<Vec<Issue>>> =
        (0..nctas).map(|c| (0..nwarps).map(|w| issues(&tpls, &order, &mut rng, c * 8 + w as u64)).collect()).collect();

    // As full traces.
    let trace = |c: usize| -> CtaTrace {
        let warps = ctas[c]
            .iter()
            .enumerate()
            .map(|(w, iss)| {
                let mut wt = WarpTrace::new(w as u32);
                for i in iss {
                    match i {
                        Issue::Plain { idx, active, exec } => {
                            wt.push(tpls[*idx].event(16 * *idx as u32, *active, *exec))
                        }
                        Issue::Mem { idx, active, exec, addrs } => {
                            wt.push_mem(&tpls[*idx], 16 * *idx as u32, *active, *exec, addrs.iter().copied())
                        }
                        Issue::Sparse { idx, active, exec, rows, cols } => {
                            wt.push(tpls[*idx].sparse_ohmma(16 * *idx as u32, *active, *exec, *rows, *cols))
                        }
                        Issue::Bar { idx, active, exec, id, threads } => {
                            wt.push(tpls[*idx].barrier(16 * *idx as u32, *active, *exec, *id, *threads))
                        }
                    }
                }
                wt
            })
            .collect();
        CtaTrace { cta: [c as u32, 0, 0], warps, shared_bytes: 4096, regs_per_thread: 128, threads: 32 * nwarps }
    };
    let mut pushed = Simulator::new(&cfg, nctas).unwrap();
    for c in 0..nctas as usize {
        pushed.push(trace(c)).unwrap();
    }
    let want = pushed.finish().unwrap().to_json();

    let mut prepared = Simulator::new(&cfg, nctas).unwrap();
    let prep = prepared.preparer(&tpls);
    for c in 0..nctas as usize {
        let p = prep.prepare(c as u64, trace(c));
        prepared.push_prepared(p).unwrap();
    }
    assert_eq!(prepared.finish().unwrap().to_json(), want);

    let mut recorded = Simulator::new(&cfg, nctas).unwrap();
    let prep = recorded.preparer(&tpls);
    for (c, warps) in ctas.iter().enumerate() {
        let mut rec = prep.recorder(c as u64, nwarps);
        for (w, iss) in warps.iter().enumerate() {
            let w = w as u32;
            for i in iss {
                match i {
                    Issue::Plain { idx, active, exec } => rec.event(w, *idx, *active, *exec),
                    Issue::Mem { idx, active, exec, addrs } => rec.mem(w, *idx, *active, *exec, addrs.iter().copied()),
                    Issue::Sparse { idx, active, exec, rows, cols } => {
                        rec.push(w, tpls[*idx].sparse_ohmma(16 * *idx as u32, *active, *exec, *rows, *cols), &[])
                    }
                    Issue::Bar { idx, active, exec, id, threads } => {
                        rec.push(w, tpls[*idx].barrier(16 * *idx as u32, *active, *exec, *id, *threads), &[])
                    }
                }
            }
        }
        recorded.push_prepared(rec.finish([c as u32, 0, 0], 4096, 128, 32 * nwarps)).unwrap();
    }
    let got = recorded.finish().unwrap().to_json();
    assert_eq!(got, want);
    // The case exercises what it should.
    for key in
        ["\"l2.misses\"", "\"smem.bank_conflicts\"", "\"lmem.read_bytes\"", "\"gmem.atomics\"", "\"barrier.arrivals\""]
    {
        let at = want.find(key).unwrap_or_else(|| panic!("{key} in {want}"));
        assert!(!want[at..].starts_with(&format!("{key}: 0,")), "{key} is 0: {want}");
    }
}
