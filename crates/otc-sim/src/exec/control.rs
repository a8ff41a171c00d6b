//! Control flow: BRA (with condition, .CONV, .DIV), BRX, CALL, RET, EXIT, BSSY, BSYNC, BREAK,
//! BMOV, WARPSYNC, BAR, YIELD/NANOSLEEP, BPT, and the fault / end-of-code pseudo ops. The
//! convergence model is described in `simt.rs`.

use crate::decode::{BraKind, OpKind};
use crate::fault::FaultKind;
use crate::memory::GlobalMem;
use crate::state::{lanes, Warp};

use super::{fault, ExResult, Exec, Flow, Stop};

/// Lane-wise branch targets from byte offsets; lanes with a bad target fault.
fn targets(w: &Warp, exec: u32, base: &[u32; 32], t: i64, len: usize) -> Result<[u32; 32], crate::fault::RawFault> {
    let mut out = [0u32; 32];
    let mut bad = 0u32;
    let mut first = 0i64;
    for l in lanes(exec) {
        let v = base[l] as i64 + t;
        if v < 0 || v % 16 != 0 || (v / 16) as usize >= len {
            if bad == 0 {
                first = v;
            }
            bad |= 1 << l;
        } else {
            out[l] = (v / 16) as u32;
        }
    }
    if bad != 0 {
        return Err(fault(
            w,
            bad,
            FaultKind::IllegalInstruction,
            format!("indirect branch to byte offset {first:#x}, which is not an instruction of the kernel"),
            None,
        ));
    }
    Ok(out)
}

#[inline(always)]
pub(super) fn exec<G: GlobalMem>(w: &mut Warp, x: &mut Exec<'_, '_, G>, op: &crate::decode::Op, exec: u32) -> ExResult {
    // instructions after the end of the code (`len` excludes the synthetic End op)
    let len = x.ops.len() - 1;
    match op.kind {
        OpKind::Bra { t, cond, kind } => {
            let mut taken = exec;
            if let Some(c) = cond {
                taken &= w.pred(c.i, c.not);
            }
            match kind {
                BraKind::Plain => {}
                BraKind::Conv => {
                    if !w.converged() {
                        taken = 0;
                    }
                }
                BraKind::Div => {
                    if w.converged() {
                        taken = 0;
                    }
                }
            }
            w.branch(taken, t);
            Ok(Flow::Jumped)
        }
        OpKind::Call { t } => {
            w.branch(exec, t);
            Ok(Flow::Jumped)
        }
        OpKind::Ret { a, t } => {
            if exec == 0 {
                return Ok(Flow::Next);
            }
            let tg = targets(w, exec, &w.regs[a as usize], t as i32 as i64, len)?;
            indirect(w, exec, tg);
            Ok(Flow::Jumped)
        }
        OpKind::Brx { a, t } => {
            if exec == 0 {
                return Ok(Flow::Next);
            }
            let base = w.read(a);
            let tg = targets(w, exec, &base, t as i64, len)?;
            indirect(w, exec, tg);
            Ok(Flow::Jumped)
        }
        OpKind::Exit => {
            if exec == 0 {
                return Ok(Flow::Next);
            }
            w.exit_lanes(exec);
            Ok(Flow::Jumped)
        }
        OpKind::End { exit } => {
            if exit {
                let a = w.active;
                w.exit_lanes(a);
                Ok(Flow::Jumped)
            } else {
                Err(fault(
                    w,
                    w.active,
                    FaultKind::PcOutOfRange,
                    format!("execution ran past the last instruction of the kernel ({} bytes)", len * 16),
                    None,
                ))
            }
        }
        OpKind::Bssy { b } => {
            // the barrier records the lanes of the running group, whatever the guard
            if op.guard == crate::decode::GUARD_NEVER {
                return Ok(Flow::Next);
            }
            w.barriers[b as usize] = w.active;
            Ok(Flow::Next)
        }
        OpKind::Bsync { b } => {
            if exec == 0 {
                return Ok(Flow::Next);
            }
            w.bsync(b as usize, exec);
            Ok(Flow::Jumped)
        }
        OpKind::Break { b } => {
            if exec != 0 {
                w.barriers[b as usize] &= !exec;
                w.resolve_waits();
            }
            Ok(Flow::Next)
        }
        OpKind::BmovR { d, b, clear } => {
            if exec != 0 {
                let v = [w.barriers[b as usize]; 32];
                w.write(d, &v, exec);
                if clear {
                    w.barriers[b as usize] = 0;
                }
            }
            Ok(Flow::Next)
        }
        OpKind::BmovB { b, a } => {
            if exec != 0 {
                let l = exec.trailing_zeros() as usize;
                w.barriers[b as usize] = w.lane(a, l);
                w.resolve_waits();
            }
            Ok(Flow::Next)
        }
        OpKind::Warpsync { a } => {
            if exec == 0 {
                return Ok(Flow::Next);
            }
            let m = w.read(a);
            w.warpsync(exec, &m);
            Ok(Flow::Jumped)
        }
        OpKind::Bar { sync, id, count } => {
            if exec == 0 {
                return Ok(Flow::Next);
            }
            let l = exec.trailing_zeros() as usize;
            let bid = w.lane(id, l);
            if bid >= 16 {
                return Err(fault(
                    w,
                    exec,
                    FaultKind::IllegalInstruction,
                    format!("barrier id {bid} is not 0..15"),
                    None,
                ));
            }
            let count = count.map(|c| w.lane(c, l));
            if sync {
                w.bar_arrive(bid as usize, exec);
            } else {
                w.pc += 1;
            }
            Ok(Flow::Stop(Stop::Bar { id: bid as usize, count, wait: sync, lanes: exec }))
        }
        OpKind::Yield => {
            w.pc += 1;
            if w.parked != 0 {
                w.yield_group();
            }
            Ok(Flow::Jumped)
        }
        OpKind::Trap => {
            if exec == 0 {
                return Ok(Flow::Next);
            }
            Err(fault(w, exec, FaultKind::Trap, "breakpoint / trap instruction".into(), None))
        }
        OpKind::Fault(kind, ref msg) => {
            if exec == 0 {
                return Ok(Flow::Next);
            }
            Err(fault(w, exec, kind, msg.to_string(), None))
        }
        _ => Ok(Flow::Next),
    }
}

/// Lanes of `exec` go to their targets; the other lanes of the group continue at pc + 1.
fn indirect(w: &mut Warp, exec: u32, tg: [u32; 32]) {
    let mut all = tg;
    let rest = w.active & !exec;
    for l in lanes(rest) {
        all[l] = w.pc + 1;
    }
    w.branch_indirect(&all);
}
