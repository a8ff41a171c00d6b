//! The instruction interpreter: [`run_warp`] runs one warp until it blocks, ends, faults or uses
//! up its time slice; the semantics of each instruction family live in the submodules.

use otc_numerics::TensorArith;

use crate::decode::{Op, OpKind, GUARD_ALWAYS, GUARD_NEVER};
use crate::fault::{FaultKind, RawFault};
use crate::memory::GlobalMem;
use crate::state::Warp;
use crate::stats::InstCounts;

mod control;
mod float;
mod half;
mod integer;
mod memory;
mod structured;
mod tensor;
mod warp;

/// What a CTA knows that its warps read (special registers, sizes).
#[derive(Clone, Debug)]
pub(crate) struct Env {
    pub ctaid: [u32; 3],
    pub ntid: [u32; 3],
    pub num_regs: u32,
    pub shared_bytes: u32,
    pub local_bytes: u32,
    pub smid: u32,
    pub nsm: u32,
    pub grid_id: u32,
    pub arith: TensorArith,
}

/// Everything an executing warp touches besides itself. The tracer has a lifetime of its own
/// (the launch's) so that a suspended CTA (`cta::CtaRun`) keeps it between steps.
pub(crate) struct Exec<'a, 't, G: GlobalMem> {
    pub ops: &'a [Op],
    pub env: &'a Env,
    pub banks: &'a [Vec<u8>],
    pub global: &'a mut G,
    pub shared: &'a mut [u8],
    /// The issues of each instruction.
    pub counters: &'a mut [InstCounts],
    /// Warp-instructions the CTA has executed (the clock of `SR_CLOCKLO`).
    pub clock: u64,
    /// Records the issued instructions for the cycle model (`None`: timing is off).
    pub tracer: Option<crate::timing::Tracer<'t>>,
}

/// Why `run_warp` returned.
#[derive(Debug)]
pub(crate) enum Stop {
    /// No lane can run now (waiting at BAR.SYNC, or deadlocked: the CTA decides).
    Blocked,
    /// Every lane has exited.
    Done,
    /// Lanes arrived at BAR barrier `id` (`wait` = BAR.SYNC, else BAR.ARV with `lanes` arriving).
    Bar {
        id: usize,
        count: Option<u32>,
        wait: bool,
        lanes: u32,
    },
    /// The time slice is used up (the warp can still run).
    Slice,
    /// The watchdog budget is used up before the instruction at the warp's pc.
    Watchdog,
    Fault(RawFault),
}

/// What an instruction did to the control flow.
pub(crate) enum Flow {
    /// Continue at pc + 1 with the same group.
    Next,
    /// The instruction set the pc / group itself.
    Jumped,
    /// Return to the CTA after this instruction.
    Stop(Stop),
}

pub(crate) type ExResult = Result<Flow, RawFault>;

/// A fault of the instruction at the warp's pc.
#[inline(never)]
pub(crate) fn fault(w: &Warp, lanes: u32, kind: FaultKind, message: String, address: Option<u64>) -> RawFault {
    RawFault { pc: w.pc * 16, warp: w.id, lanes, kind, message, address }
}

/// The instruction-set level the interpreter loop is compiled for (`run_warp` picks it once per
/// call): the process-wide level of otc-numerics, so the loop and the tensor batches always run
/// at the same level (`OTC_SIM_ISA` lowers both).
pub(crate) use otc_numerics::VectorLevel as Level;

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline]
pub(crate) fn level() -> Level {
    otc_numerics::vector_level()
}

/// Run the warp for at most `slice` warp-instructions (and at most `*budget`).
pub(crate) fn run_warp<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, slice: u32, budget: &mut u64) -> Stop {
    #[cfg(target_arch = "x86_64")]
    match level() {
        // SAFETY: `level()` never exceeds what the host supports.
        Level::Avx512 => return unsafe { run_warp_avx512(w, x, slice, budget) },
        // SAFETY: as above.
        Level::Avx2 => return unsafe { run_warp_avx2(w, x, slice, budget) },
        Level::Base => {}
    }
    run_warp_body(w, x, slice, budget)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn run_warp_avx512<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, slice: u32, budget: &mut u64) -> Stop {
    run_warp_body(w, x, slice, budget)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn run_warp_avx2<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, slice: u32, budget: &mut u64) -> Stop {
    run_warp_body(w, x, slice, budget)
}

/// The interpreter loop; everything it calls on the common paths is inlined into it, so each
/// `Level` gets its own compiled copy.
#[inline(always)]
fn run_warp_body<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, slice: u32, budget: &mut u64) -> Stop {
    if w.active == 0 && !w.select_after_block() {
        return if w.done() { Stop::Done } else { Stop::Blocked };
    }
    let mut n = 0u32;
    loop {
        if *budget == 0 {
            return Stop::Watchdog;
        }
        if n >= slice {
            return Stop::Slice;
        }
        n += 1;
        *budget -= 1;
        let pc = w.pc as usize;
        let op = &x.ops[pc];
        let active = w.active;
        let exec = match op.guard {
            GUARD_ALWAYS => active,
            GUARD_NEVER => 0,
            g => w.pred(g & 7, g & 8 != 0) & active,
        };
        x.counters[pc].issue(active, exec);
        x.clock += 1;
        if let Some(t) = &mut x.tracer {
            t.record(w, op, pc, active, exec);
        }
        match step(w, x, op, exec) {
            Act::Next => w.pc += 1,
            Act::Jumped => {}
            Act::Stop(s) => return stop_after(w, *s),
        }
        if w.active == 0 {
            if !w.select_after_block() {
                return if w.done() { Stop::Done } else { Stop::Blocked };
            }
        } else if w.pc >= w.parked_min {
            w.reconcile();
        }
    }
}

/// A `Flow::Stop` or a fault: reconcile the group and return the reason.
#[inline(never)]
#[cold]
fn stop_after(w: &mut Warp, s: Stop) -> Stop {
    match s {
        Stop::Fault(f) => Stop::Fault(f),
        s => {
            if w.active != 0 && w.pc >= w.parked_min {
                w.reconcile();
            }
            s
        }
    }
}

/// What `step` did: a small value, so that the common cases do not go through memory (the
/// rare stop or fault is boxed).
enum Act {
    Next,
    Jumped,
    Stop(Box<Stop>),
}

/// An `ExResult` as an `Act`.
#[inline(always)]
fn act(r: ExResult) -> Act {
    match r {
        Ok(Flow::Next) => Act::Next,
        Ok(Flow::Jumped) => Act::Jumped,
        Ok(Flow::Stop(s)) => Act::Stop(Box::new(s)),
        Err(f) => Act::Stop(Box::new(Stop::Fault(f))),
    }
}

/// Execute one instruction for the lanes `exec` of the running group.
#[inline(always)]
fn step<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, op: &Op, exec: u32) -> Act {
    use OpKind::*;
    // Control flow is executed even with no guarded lane (the branch is then not taken).
    match &op.kind {
        Bra { .. }
        | Brx { .. }
        | Exit
        | Call { .. }
        | Ret { .. }
        | Bssy { .. }
        | Bsync { .. }
        | Break { .. }
        | BmovR { .. }
        | BmovB { .. }
        | Warpsync { .. }
        | Bar { .. }
        | Yield
        | Trap
        | End { .. }
        | Fault(..) => {
            return act(control::exec(w, x, op, exec));
        }
        _ => {}
    }
    if exec == 0 {
        return Act::Next;
    }
    match &op.kind {
        Nop => {}
        Mov { .. }
        | Imad { .. }
        | ImadWide { .. }
        | Iadd3 { .. }
        | Lea { .. }
        | Shf { .. }
        | Lop3 { .. }
        | Plop3 { .. }
        | Isetp { .. }
        | Sel { .. }
        | Prmt { .. }
        | Iabs { .. }
        | Imnmx { .. }
        | Vabsdiff { .. }
        | Popc { .. }
        | Flo { .. }
        | Brev { .. }
        | Sgxt { .. }
        | Bmsk { .. }
        | P2r { .. }
        | R2p { .. }
        | S2r { .. }
        | Cs2r { .. }
        | Idp { .. } => integer::exec(w, x, &op.kind, exec),
        Fadd { .. }
        | Fmul { .. }
        | Ffma { .. }
        | Fsetp { .. }
        | Fsel { .. }
        | Fmnmx { .. }
        | Fchk { .. }
        | Mufu { .. }
        | Frnd { .. }
        | F2i { .. }
        | I2f { .. }
        | F2f { .. }
        | I2i { .. }
        | Dop { .. }
        | Dsetp { .. } => float::exec(w, &op.kind, exec),
        H2 { .. } | Hsetp2 { .. } | Hset2 { .. } | Hmnmx2 { .. } => half::exec(w, &op.kind, exec),
        Ld { .. } | St { .. } | Ldc { .. } | Atom { .. } | Qspc { .. } => {
            return act(memory::exec(w, x, &op.kind, exec))
        }
        Shfl { .. } | Vote { .. } | Match { .. } => warp::exec(w, &op.kind, exec),
        Tensor(t) => return act(tensor::exec(w, x, t, exec)),
        _ => {}
    }
    Act::Next
}
