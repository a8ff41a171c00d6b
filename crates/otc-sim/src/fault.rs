//! Errors: [`SimError`] for everything that can go wrong, [`GuestFault`] for faults of the
//! emulated program (data, not a string: kernel, pc, CTA, warp, lanes, instruction text).

use std::fmt;

/// A memory space, for fault reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemorySpace {
    Global,
    Shared,
    Local,
    Constant,
}

impl fmt::Display for MemorySpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemorySpace::Global => "global",
            MemorySpace::Shared => "shared",
            MemorySpace::Local => "local",
            MemorySpace::Constant => "constant",
        })
    }
}

/// What kind of guest fault happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// An access to an address that is not mapped (global), or outside the CTA's shared memory,
    /// the thread's local memory or the constant bank.
    OutOfBounds(MemorySpace),
    /// An access whose address is not a multiple of its size.
    Misaligned(MemorySpace),
    /// An instruction that cannot be executed as written (misaligned register group, branch
    /// target outside the kernel or not on an instruction boundary, bad operand).
    IllegalInstruction,
    /// An instruction of the table that this emulator does not execute (yet).
    UnsupportedInstruction,
    /// A register at or beyond the kernel's register allocation.
    RegisterOutOfRange,
    /// A barrier (BAR.SYNC, BSYNC, WARPSYNC) that can never complete: every thread that has not
    /// exited waits and nothing can release them.
    BarrierDeadlock,
    /// A watchdog fired: `max_instructions` (per launch), `max_cycles` (per CTA) or
    /// `max_seconds` (wall clock per launch); the message names which.
    Watchdog,
    /// The launch was cancelled ([`crate::CancelToken`]); the device reports it as
    /// [`SimError::Cancelled`], never as a guest fault.
    Cancelled,
    /// A `BPT.TRAP` or `BPT.INT` instruction.
    Trap,
    /// Execution ran past the last instruction of the kernel.
    PcOutOfRange,
    /// A warp-collective instruction whose operand (ACCB.BMAP bitmaps, ACCB.STS/LDS address) or
    /// guard (sparse OHMMA, ACCB.*) is not the same in every active lane; the fault names the
    /// lanes that differ.
    NonUniformOperand,
    /// The accumulation buffer used in a state that does not allow it: read (ACCB.MOV / STS) or
    /// accumulated into (sparse OHMMA) before any ACCB.CLEAR / ACCB.LDS since the warp started,
    /// or a sparse OHMMA with no ACCB.BMAP since the last ACCB.CLEAR / ACCB.LDS.
    AccumulatorState,
}

impl FaultKind {
    /// A short stable name (used by the Python binding as an attribute).
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::OutOfBounds(_) => "out_of_bounds",
            FaultKind::Misaligned(_) => "misaligned",
            FaultKind::IllegalInstruction => "illegal_instruction",
            FaultKind::UnsupportedInstruction => "unsupported_instruction",
            FaultKind::RegisterOutOfRange => "register_out_of_range",
            FaultKind::BarrierDeadlock => "barrier_deadlock",
            FaultKind::Watchdog => "watchdog",
            FaultKind::Cancelled => "cancelled",
            FaultKind::Trap => "trap",
            FaultKind::PcOutOfRange => "pc_out_of_range",
            FaultKind::NonUniformOperand => "non_uniform_operand",
            FaultKind::AccumulatorState => "accumulator_state",
        }
    }

    /// The memory space of a memory fault.
    pub fn space(&self) -> Option<MemorySpace> {
        match self {
            FaultKind::OutOfBounds(s) | FaultKind::Misaligned(s) => Some(*s),
            _ => None,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::OutOfBounds(s) => write!(f, "out-of-bounds {s} access"),
            FaultKind::Misaligned(s) => write!(f, "misaligned {s} access"),
            FaultKind::IllegalInstruction => f.write_str("illegal instruction"),
            FaultKind::UnsupportedInstruction => f.write_str("unsupported instruction"),
            FaultKind::RegisterOutOfRange => f.write_str("register beyond the kernel's allocation"),
            FaultKind::BarrierDeadlock => f.write_str("barrier that can never complete"),
            FaultKind::Watchdog => f.write_str("watchdog"),
            FaultKind::Cancelled => f.write_str("cancelled"),
            FaultKind::Trap => f.write_str("trap"),
            FaultKind::PcOutOfRange => f.write_str("pc out of range"),
            FaultKind::NonUniformOperand => f.write_str("non-uniform operand of a warp-collective instruction"),
            FaultKind::AccumulatorState => f.write_str("accumulation buffer not ready"),
        }
    }
}

/// A fault of the emulated program, with everything needed to find its cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestFault {
    /// Kernel name.
    pub kernel: String,
    /// Byte offset of the faulting instruction (index * 16).
    pub pc: u32,
    /// CTA index (x, y, z).
    pub cta: [u32; 3],
    /// Warp index inside the CTA.
    pub warp: u32,
    /// Lanes that faulted (bit i = lane i).
    pub lanes: u32,
    /// Canonical text of the instruction (`inst.text()`), empty if there is none.
    pub instruction: String,
    pub kind: FaultKind,
    /// Human-readable details (the first faulting address, the missing barrier lanes, ...).
    pub message: String,
    /// The first faulting address of a memory fault.
    pub address: Option<u64>,
}

impl fmt::Display for GuestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in kernel `{}` at pc {:#06x} (`{}`), CTA ({}, {}, {}), warp {}, lanes {:#010x}: {}",
            self.kind,
            self.kernel,
            self.pc,
            self.instruction,
            self.cta[0],
            self.cta[1],
            self.cta[2],
            self.warp,
            self.lanes,
            self.message
        )
    }
}

impl std::error::Error for GuestFault {}

/// Every error of this crate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// Bad launch parameters, detected before anything runs.
    #[error("launch error: {0}")]
    Launch(String),
    /// The guest program faulted.
    #[error("guest fault: {0}")]
    Fault(GuestFault),
    /// A host-side memory operation failed (unmapped address, bad free, allocation too big).
    #[error("memory error: {0}")]
    Memory(String),
    /// The launch was stopped by its [`crate::CancelToken`]; the CTAs before `cta` (in linear
    /// order) are committed to memory.
    #[error("launch of kernel `{kernel}` cancelled at CTA {cta:?}")]
    Cancelled { kernel: String, cta: [u32; 3] },
}

impl SimError {
    /// The guest fault, if this is one.
    pub fn fault(&self) -> Option<&GuestFault> {
        match self {
            SimError::Fault(f) => Some(f),
            _ => None,
        }
    }
}

impl From<GuestFault> for SimError {
    fn from(f: GuestFault) -> Self {
        SimError::Fault(f)
    }
}

/// A fault detected while executing, before the kernel / CTA context is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawFault {
    pub pc: u32,
    pub warp: u32,
    pub lanes: u32,
    pub kind: FaultKind,
    pub message: String,
    pub address: Option<u64>,
}
