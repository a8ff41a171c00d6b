//! Pre-decoding: every [`Instruction`] of a kernel is turned once per launch into a compact
//! [`Op`] whose operands are resolved: registers to slots of the warp's register file, constant
//! bank operands to immediates (bank 0 is known at launch), modifiers to enums and flags. The
//! executor never looks at strings.
//!
//! Register file layout of a warp: slots `0..num_regs` are R0.., then 8 slots that always hold
//! zero (reads of `RZ`, also as a group base) and 8 write-only sink slots (writes to `RZ`).
//! Predicates: 0..6 = P0..P6, 7 = PT (all ones), 8 = a sink for writes to PT.
//!
//! An instruction that cannot execute (a register beyond the allocation, a misaligned register
//! group, a branch outside the kernel, an instruction this emulator does not implement) becomes
//! an [`OpKind::Fault`]: the guest faults only if it reaches it.
//!
//! `decode/` mirrors `exec/`: one module per family (integer, float, half, memory, control, warp,
//! tensor) and `operands.rs` for what they share. The tensor instructions are dispatched by their
//! ISA class, the others by mnemonic.

use otc_isa::{Class, Instruction, Kind, ModifierEnum, Operand, TensorClass, Value, PT, RZ};

use crate::fault::{FaultKind, MemorySpace};
use crate::fp::Rnd;
pub(crate) use crate::op::*;

mod control;
mod float;
mod half;
mod integer;
mod memory;
mod operands;
mod tensor;
mod warp;

/// What the decoder needs to know about the launch.
pub(crate) struct DecodeCtx<'a> {
    pub num_regs: u32,
    /// Constant banks (index = bank); bank 0 holds the launch's header and parameters.
    pub banks: &'a [Vec<u8>],
    /// Number of instructions.
    pub len: usize,
    /// What running past the end does: exit (harness) or fault (kernels).
    pub end_exits: bool,
}

impl DecodeCtx<'_> {
    #[inline]
    pub fn zero(&self) -> R {
        self.num_regs as R
    }
    #[inline]
    pub fn sink(&self) -> R {
        self.num_regs as R + 8
    }
}

pub(crate) type DResult<T> = Result<T, (FaultKind, String)>;

pub(crate) fn illegal<T>(msg: impl Into<String>) -> DResult<T> {
    Err((FaultKind::IllegalInstruction, msg.into()))
}

pub(crate) fn unsupported<T>(msg: impl Into<String>) -> DResult<T> {
    Err((FaultKind::UnsupportedInstruction, msg.into()))
}

/// Decode a whole kernel; the result has one extra [`OpKind::End`] op.
pub(crate) fn decode_all(insts: &[Instruction], cx: &DecodeCtx<'_>) -> Vec<Op> {
    let mut ops: Vec<Op> = insts.iter().map(|i| decode(i, cx)).collect();
    ops.push(Op { guard: GUARD_ALWAYS, kind: OpKind::End { exit: cx.end_exits } });
    ops
}

/// Decode one instruction (never fails: problems become fault ops).
pub(crate) fn decode(inst: &Instruction, cx: &DecodeCtx<'_>) -> Op {
    let guard = if inst.guard.index == PT {
        if inst.guard.not {
            GUARD_NEVER
        } else {
            GUARD_ALWAYS
        }
    } else {
        (inst.guard.index & 7) | ((inst.guard.not as u8) << 3)
    };
    let d = Dec { inst, cx };
    let kind = match d.decode() {
        Ok(k) => k,
        Err((kind, msg)) => OpKind::Fault(kind, msg.into_boxed_str()),
    };
    Op { guard, kind }
}

struct Dec<'a, 'b> {
    inst: &'a Instruction,
    cx: &'a DecodeCtx<'b>,
}

impl Dec<'_, '_> {
    /// The op of the instruction: by class for the tensor instructions, else by the family that
    /// knows its mnemonic.
    fn decode(&self) -> DResult<OpKind> {
        let def = self.def();
        if let Class::Tensor(class) = def.class {
            return self.tensor(class);
        }
        let mn = def.mnemonic;
        let families = [Self::control, Self::integer, Self::float, Self::half, Self::memory, Self::warp];
        for family in families {
            if let Some(k) = family(self, mn)? {
                return Ok(k);
            }
        }
        unsupported(format!("`{}` ({mn}) is not executed by this emulator", self.inst.opcode_text()))
    }
}
