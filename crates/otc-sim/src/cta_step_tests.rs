//! `CtaRun` in steps of any size gives what one uninterrupted run gives: memory, per-instruction
//! counters, faults, the instruction count and the cycle model's statistics of its trace.

use super::*;
use crate::config::{CONST_BANKS, PARAM_BASE};
use crate::decode::{decode_all, DecodeCtx};
use crate::fault::MemorySpace;
use crate::memory::GlobalMemory;
use crate::stats::InstCounts;
use crate::watchdog::CancelToken;
use otc_timing::{EventTemplate, Simulator, TimingConfig};

/// Four warps exchanging values through shared memory between two BAR.SYNCs, 400 times (about
/// 4,000 warp-instructions per warp: the slices end inside the loop).
const BARRIERS: &str = "
.kernel bars
.param ptr out
    S2R R0, SR_TID.X ;
    MOV R1, RZ ;
    MOV R2, RZ ;
    SHF.L.U32 R3, R0, 0x2, RZ ;
top:
    IADD3 R1, R1, R2, R0 ;
    STS [R3], R1 ;
    STS [R3+0x200], R1 ;
    BAR.SYNC 0x0 ;
    LDS R5, [R3+0x80] ;
    BAR.SYNC 0x0 ;
    IMAD R1, R5, 0x3, R1 ;
    IADD3 R2, R2, 0x1, RZ ;
    ISETP.LT.AND P0, PT, R2, 0x190, PT ;
    @P0 BRA top ;
    MOV R6, c[0x0][0x160] ;
    MOV R7, c[0x0][0x164] ;
    IMAD.WIDE.U32 R6, R0, 0x4, R6 ;
    STG.E.SYS [R6], R1 ;
    EXIT ;
";

/// Warp 1 spins on a shared flag that warp 0 sets after 15,000 warp-instructions: how often it
/// spins (written out) depends on exactly where the warp slices end.
const SPIN: &str = "
.kernel spin
.param ptr out
    S2R R0, SR_TID.X ;
    MOV R2, RZ ;
    ISETP.GE.AND P0, PT, R0, 0x20, PT ;
    @P0 BRA waiter ;
work:
    IADD3 R2, R2, 0x1, RZ ;
    ISETP.LT.AND P1, PT, R2, 0x1388, PT ;
    @P1 BRA work ;
    MOV R3, 0x1 ;
    STS [0x0], R3 ;
    BRA done ;
waiter:
    LDS R3, [0x0] ;
    IADD3 R2, R2, 0x1, RZ ;
    ISETP.EQ.AND P1, PT, R3, RZ, PT ;
    @P1 BRA waiter ;
done:
    MOV R6, c[0x0][0x160] ;
    MOV R7, c[0x0][0x164] ;
    IMAD.WIDE.U32 R6, R0, 0x4, R6 ;
    STG.E.SYS [R6], R2 ;
    EXIT ;
";

/// Two warps loop 3,000 times, storing as they go, then load from an unmapped address.
const FAULT: &str = "
.kernel late_fault
.param ptr out
    S2R R0, SR_TID.X ;
    MOV R2, RZ ;
    MOV R6, c[0x0][0x160] ;
    MOV R7, c[0x0][0x164] ;
    IMAD.WIDE.U32 R6, R0, 0x4, R6 ;
again:
    IADD3 R2, R2, 0x1, RZ ;
    STG.E.SYS [R6], R2 ;
    ISETP.LT.AND P1, PT, R2, 0xbb8, PT ;
    @P1 BRA again ;
    MOV R8, 0x10 ;
    MOV R9, RZ ;
    LDG.E.SYS R10, [R8] ;
    EXIT ;
";

/// What a run of one CTA leaves: the output words, counters, fault, instructions executed and
/// the cycle model's statistics (JSON) when it ended without a fault.
#[derive(Debug, PartialEq)]
struct Ran {
    out: Vec<u8>,
    counters: Vec<InstCounts>,
    fault: Option<RawFault>,
    executed: u64,
    timing: Option<String>,
    steps: u64,
}

/// Run `text`'s kernel as one CTA of `threads` threads in steps of `chunk` warp-instructions.
fn run(text: &str, threads: u32, chunk: u64, budget: u64, max_cycles: Option<u64>) -> Ran {
    let program = otc_asm::assemble(text, "test").unwrap_or_else(|e| panic!("{e}"));
    let kernel = crate::KernelImage::from(&program.kernels[0]);
    let mut mem = GlobalMemory::new();
    let out = mem.alloc(4 * threads as u64, 256).unwrap();
    let mut bank0 = vec![0u8; PARAM_BASE as usize + 8];
    bank0[..4].copy_from_slice(&threads.to_le_bytes());
    bank0[PARAM_BASE as usize..].copy_from_slice(&out.to_le_bytes());
    let mut banks = vec![Vec::new(); CONST_BANKS];
    banks[0] = bank0;
    let num_regs = kernel.num_regs.max(16);
    let cx = DecodeCtx { num_regs, banks: &banks, len: kernel.instructions.len(), end_exits: false };
    let ops = decode_all(&kernel.instructions, &cx);
    let templates: Vec<EventTemplate> = kernel.instructions.iter().map(EventTemplate::new).collect();
    let mut sim = Simulator::new(&TimingConfig::v100(), 1).unwrap();
    let preparer = sim.preparer(&templates);
    let watch = Watch::new(CancelToken::new(), None);
    let l = Launch {
        ops: &ops,
        banks: &banks,
        block: [threads, 1, 1],
        grid: [1, 1, 1],
        num_regs,
        shared_bytes: 1024,
        local_bytes: 16,
        nsm: 80,
        grid_id: 1,
        arith: otc_numerics::TensorArith::V100,
        max_cycles,
        watch: &watch,
        templates: Some(&templates),
        preparer: Some(&preparer),
    };
    let mut counters = vec![InstCounts::default(); ops.len()];
    let mut cta = CtaRun::new(&l, 0, budget);
    let mut steps = 0u64;
    let outcome = loop {
        steps += 1;
        if let Some(o) = cta.step(&l, &mut mem, &mut counters, chunk) {
            break o;
        }
    };
    let timing = outcome.trace.map(|t| {
        sim.push_prepared(t).unwrap();
        sim.finish().unwrap().to_json()
    });
    Ran {
        out: mem.read(out, 4 * threads as usize).unwrap(),
        counters,
        fault: outcome.fault,
        executed: outcome.executed,
        timing,
        steps,
    }
}

const CHUNKS: &[u64] = &[1, 2, 7, 100, 4095, 4096, 4097, 10_000];

#[test]
fn any_step_size_gives_the_uninterrupted_run() {
    // (kernel, threads, budget, max_cycles, what the whole run must show)
    type Case = (&'static str, u32, u64, Option<u64>, Option<FaultKind>);
    let cases: &[Case] = &[
        (BARRIERS, 128, u64::MAX, None, None),
        (SPIN, 64, u64::MAX, None, None),
        (FAULT, 64, u64::MAX, None, Some(FaultKind::OutOfBounds(MemorySpace::Global))),
        (SPIN, 64, 9_000, None, Some(FaultKind::Watchdog)),
        (BARRIERS, 128, u64::MAX, Some(5_000), Some(FaultKind::Watchdog)),
    ];
    for &(text, threads, budget, max_cycles, kind) in cases {
        let whole = run(text, threads, u64::MAX, budget, max_cycles);
        assert_eq!(whole.steps, 1);
        assert_eq!(whole.fault.as_ref().map(|f| f.kind), kind, "{text}");
        assert_eq!(whole.timing.is_some(), kind.is_none());
        for &chunk in CHUNKS {
            let stepped = run(text, threads, chunk, budget, max_cycles);
            // a CTA of n instructions takes ceil(n / chunk) steps, or one more when the last
            // step ends exactly at the CTA's last instruction
            let min_steps = whole.executed.div_ceil(chunk);
            assert!((min_steps..=min_steps + 1).contains(&stepped.steps), "{chunk}: {} steps", stepped.steps);
            assert_eq!(Ran { steps: 1, ..stepped }, whole, "kernel {text} in steps of {chunk}");
        }
    }
}

#[test]
fn the_spin_count_shows_the_warp_slices() {
    // Warp 0 sets the flag with its 15,006th instruction (4 before the loop, 3 per trip, then
    // MOV, STS), in its 4th slice of WARP_SLICE; warp 1 runs a slice after each of warp 0's: 4
    // instructions before its loop, then 4 per spin, so it spins (3 x WARP_SLICE - 4) / 4 times
    // and once more to see the flag. A resumed step that moved a slice boundary changes this.
    let r = run(SPIN, 64, u64::MAX, u64::MAX, None);
    let words: Vec<u32> = r.out.chunks(4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).collect();
    assert!(words[..32].iter().all(|&w| w == 5000));
    let slices_before_flag = (4 + 3 * 5000 + 2u32).div_ceil(WARP_SLICE) - 1;
    assert_eq!(slices_before_flag, 3);
    let spins = (slices_before_flag * WARP_SLICE - 4) / 4 + 1;
    assert!(words[32..].iter().all(|&w| w == spins), "{:?}", &words[32..]);
}
