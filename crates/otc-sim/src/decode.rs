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

use otc_isa::{Class, Instruction, Kind, ModifierEnum, Operand, TensorClass, Value, PT, RZ};

use crate::fault::{FaultKind, MemorySpace};
use crate::fp::Rnd;

/// A register slot.
pub(crate) type R = u16;

/// A resolved 32-bit source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    R(R),
    I(u32),
}

/// Integer source with `-` (two's complement, applied by the instruction) and `~` flags.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ISrc {
    pub s: Src,
    pub neg: bool,
    pub not: bool,
}

/// fp32 source: value = (bits & and) ^ xor (`|x|` clears the sign, `-x` flips it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FSrc {
    pub s: Src,
    pub and: u32,
    pub xor: u32,
}

/// fp64 source: a register pair or an immediate; the masks apply to the high word.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DSrc {
    pub lo: Src,
    pub hi: Src,
    pub and: u32,
    pub xor: u32,
}

/// half2 source: swizzle 0 = H1H0, 1 = H0_H0, 2 = H1_H1, 3 = F32 (fp32 value in both halves).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HSrc {
    pub s: Src,
    pub swz: u8,
    pub neg: bool,
    pub abs: bool,
}

/// Predicate source.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PSrc {
    pub i: u8,
    pub not: bool,
}

/// Predicate destination (8 = sink).
pub(crate) type PDst = u8;

pub(crate) const P_SINK: u8 = 8;
pub(crate) const P_TRUE: u8 = 7;
/// Guard that always holds / never holds.
pub(crate) const GUARD_ALWAYS: u8 = 7;
pub(crate) const GUARD_NEVER: u8 = 15;

// Modifier groups the ISA generates as enums (isa/generate.py): ISETP's compare, the float compare
// of FSETP/HSETP2/HSET2/DSETP (DSETP's list extends the others' with MIN and MAX), the predicate
// combination, MUFU's function and SHFL's mode.
pub(crate) use otc_isa::mods::{Bop, DsetpCmp as FCmp, Func as MufuFn, IsetpCmp as ICmp, ShflMode};

/// The predicate combination of the compare instructions.
pub(crate) trait BopEval {
    fn eval(self, a: u32, b: u32) -> u32;
}

impl BopEval for Bop {
    #[inline(always)]
    fn eval(self, a: u32, b: u32) -> u32 {
        match self {
            Bop::And => a & b,
            Bop::Or => a | b,
            Bop::Xor => a ^ b,
        }
    }
}

/// Size of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MSize {
    U8,
    S8,
    U16,
    S16,
    B32,
    B64,
    B128,
}

impl MSize {
    pub fn bytes(self) -> usize {
        match self {
            MSize::U8 | MSize::S8 => 1,
            MSize::U16 | MSize::S16 => 2,
            MSize::B32 => 4,
            MSize::B64 => 8,
            MSize::B128 => 16,
        }
    }
    pub fn regs(self) -> usize {
        match self {
            MSize::B64 => 2,
            MSize::B128 => 4,
            _ => 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    Global,
    Shared,
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtomOp {
    Add,
    Min,
    Max,
    Inc,
    Dec,
    And,
    Or,
    Xor,
    Exch,
    Cas,
    /// CAS that returns 1 on success, 0 on failure (`.CAST.SPIN`).
    Cast,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AtomTy {
    U32,
    S32,
    U64,
    S64,
    F32,
    F16x2,
    F64,
}

impl AtomTy {
    pub fn bytes(self) -> usize {
        match self {
            AtomTy::U64 | AtomTy::S64 | AtomTy::F64 => 8,
            _ => 4,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sr {
    LaneId,
    ClockLo,
    ClockHi,
    SmId,
    TidX,
    TidY,
    TidZ,
    CtaIdX,
    CtaIdY,
    CtaIdZ,
    EqMask,
    LtMask,
    LeMask,
    GtMask,
    GeMask,
    Zero,
    Tid,
    NTid,
    WarpId,
    NWarpId,
    NSmId,
    GridId,
    VirtId,
    GTimerLo,
    GTimerHi,
    RegAlloc,
    SharedSize,
}

/// Integer/float conversion types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntTy {
    U8,
    S8,
    U16,
    S16,
    U32,
    S32,
    U64,
    S64,
}

impl IntTy {
    pub fn signed(self) -> bool {
        matches!(self, IntTy::S8 | IntTy::S16 | IntTy::S32 | IntTy::S64)
    }
    pub fn bits(self) -> u32 {
        match self {
            IntTy::U8 | IntTy::S8 => 8,
            IntTy::U16 | IntTy::S16 => 16,
            IntTy::U32 | IntTy::S32 => 32,
            IntTy::U64 | IntTy::S64 => 64,
        }
    }
    pub fn range(self) -> (i128, i128) {
        let b = self.bits();
        if self.signed() {
            (-(1i128 << (b - 1)), (1i128 << (b - 1)) - 1)
        } else {
            (0, (1i128 << b) - 1)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FTy {
    F16,
    F32,
    F64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HOp {
    Add,
    Mul,
    Fma,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DOp {
    Add,
    Mul,
    Fma,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BraKind {
    Plain,
    /// Taken only when the warp is not converged.
    Div,
    /// Taken only when the warp is converged (every non-exited lane active).
    Conv,
}

/// A pre-decoded instruction.
#[derive(Clone, Debug)]
pub(crate) struct Op {
    /// Guard predicate: index | negate << 3 ([`GUARD_ALWAYS`], [`GUARD_NEVER`]).
    pub guard: u8,
    pub kind: OpKind,
}

#[derive(Clone, Debug)]
pub(crate) enum OpKind {
    Nop,
    /// Yield hint (YIELD, NANOSLEEP): lets other diverged paths of the warp run.
    Yield,
    Fault(FaultKind, Box<str>),
    /// The synthetic instruction after the last one: an EXIT (warp harness) or a fault.
    End {
        exit: bool,
    },

    // ---------------------------------------------------------------- integer
    Mov {
        d: R,
        a: Src,
    },
    Imad {
        d: R,
        a: ISrc,
        b: ISrc,
        c: ISrc,
        hi: bool,
        signed: bool,
        ci: Option<PSrc>,
    },
    ImadWide {
        d: R,
        a: ISrc,
        b: ISrc,
        clo: Src,
        chi: Src,
        signed: bool,
    },
    Iadd3 {
        d: R,
        p: PDst,
        q: PDst,
        a: ISrc,
        b: ISrc,
        c: ISrc,
        ci: PSrc,
        cj: PSrc,
    },
    Lea {
        d: R,
        p: PDst,
        a: ISrc,
        b: Src,
        c: Option<Src>,
        s: u32,
        hi: bool,
        sx: bool,
        ci: Option<PSrc>,
    },
    Shf {
        d: R,
        lo: Src,
        n: Src,
        hi: Src,
        right: bool,
        wrap: bool,
        wide: bool,
        signed: bool,
        high: bool,
    },
    Lop3 {
        d: R,
        p: PDst,
        a: ISrc,
        b: ISrc,
        c: ISrc,
        lut: u8,
    },
    Plop3 {
        p: PDst,
        q: PDst,
        a: PSrc,
        b: PSrc,
        c: PSrc,
        lut: u8,
        lut2: u8,
    },
    Isetp {
        p: PDst,
        q: PDst,
        a: Src,
        b: Src,
        c: PSrc,
        e: Option<PSrc>,
        cmp: ICmp,
        signed: bool,
        bop: Bop,
    },
    Sel {
        d: R,
        a: Src,
        b: Src,
        c: PSrc,
    },
    Prmt {
        d: R,
        a: Src,
        b: Src,
        c: Src,
        mode: u8,
    },
    Iabs {
        d: R,
        a: Src,
    },
    Imnmx {
        d: R,
        a: Src,
        b: Src,
        c: PSrc,
        signed: bool,
    },
    Vabsdiff {
        d: R,
        a: Src,
        b: Src,
        c: Src,
        signed: bool,
    },
    Popc {
        d: R,
        a: ISrc,
    },
    Flo {
        d: R,
        a: ISrc,
        signed: bool,
        sh: bool,
    },
    Brev {
        d: R,
        a: Src,
    },
    Bmsk {
        d: R,
        a: Src,
        b: Src,
        wrap: bool,
    },
    P2r {
        d: R,
        a: Src,
        mask: u32,
    },
    R2p {
        a: Src,
        mask: u32,
    },
    S2r {
        d: R,
        sr: Sr,
    },
    Cs2r {
        d: R,
        sr: Sr,
        pair: bool,
    },
    Idp {
        d: R,
        a: Src,
        b: Src,
        c: Src,
        four: bool,
        hi: bool,
        asig: bool,
        a16: bool,
        bsig: bool,
    },

    // ---------------------------------------------------------------- fp32
    Fadd {
        d: R,
        a: FSrc,
        b: FSrc,
        ftz: bool,
        rnd: Rnd,
        sat: bool,
    },
    Fmul {
        d: R,
        a: FSrc,
        b: FSrc,
        ftz: bool,
        rnd: Rnd,
        sat: bool,
        scale: i32,
    },
    Ffma {
        d: R,
        a: FSrc,
        b: FSrc,
        c: FSrc,
        ftz: bool,
        rnd: Rnd,
        sat: bool,
    },
    Fsetp {
        p: PDst,
        q: PDst,
        a: FSrc,
        b: FSrc,
        c: PSrc,
        cmp: FCmp,
        ftz: bool,
        bop: Bop,
    },
    Fsel {
        d: R,
        a: FSrc,
        b: FSrc,
        c: PSrc,
    },
    Fmnmx {
        d: R,
        a: FSrc,
        b: FSrc,
        c: PSrc,
        ftz: bool,
    },
    Fchk {
        p: PDst,
        a: Src,
        b: Src,
    },
    Mufu {
        d: R,
        a: FSrc,
        f: MufuFn,
    },
    Frnd {
        d: R,
        a: FSrc,
        rnd: Rnd,
        ftz: bool,
    },
    F2i {
        d: R,
        lo: Src,
        hi: Src,
        hsel: u8,
        neg: bool,
        abs: bool,
        dty: IntTy,
        sty: FTy,
        rnd: Rnd,
        ftz: bool,
    },
    I2f {
        d: R,
        lo: Src,
        hi: Src,
        bsel: u8,
        dty: FTy,
        sty: IntTy,
        rnd: Rnd,
    },
    F2f {
        d: R,
        lo: Src,
        hi: Src,
        hsel: u8,
        neg: bool,
        abs: bool,
        dty: FTy,
        sty: FTy,
        rnd: Rnd,
        integral: bool,
        ftz: bool,
        sat: bool,
    },
    I2i {
        d: R,
        a: Src,
        dty: IntTy,
        sty: IntTy,
        sat: bool,
    },

    // ---------------------------------------------------------------- fp16x2
    H2 {
        op: HOp,
        d: R,
        a: HSrc,
        b: HSrc,
        c: HSrc,
        f32: bool,
        ftz: bool,
        sat: bool,
    },
    Hsetp2 {
        p: PDst,
        q: PDst,
        a: HSrc,
        b: HSrc,
        c: PSrc,
        cmp: FCmp,
        hand: bool,
        ftz: bool,
        bop: Bop,
    },
    Hset2 {
        d: R,
        a: HSrc,
        b: HSrc,
        c: PSrc,
        cmp: FCmp,
        bf: bool,
        ftz: bool,
        bop: Bop,
    },
    Hmnmx2 {
        d: R,
        a: HSrc,
        b: HSrc,
        c: PSrc,
        ftz: bool,
    },

    // ---------------------------------------------------------------- fp64
    Dop {
        op: DOp,
        d: R,
        a: DSrc,
        b: DSrc,
        c: DSrc,
        rnd: Rnd,
    },
    Dsetp {
        p: PDst,
        q: PDst,
        a: DSrc,
        b: DSrc,
        c: PSrc,
        cmp: FCmp,
        bop: Bop,
    },

    // ---------------------------------------------------------------- memory
    Ld {
        space: Space,
        d: R,
        base: R,
        wide: bool,
        off: i32,
        size: MSize,
    },
    St {
        space: Space,
        base: R,
        wide: bool,
        off: i32,
        src: R,
        size: MSize,
    },
    Ldc {
        d: R,
        bank: u8,
        reg: R,
        off: u32,
        size: MSize,
    },
    Atom {
        space: Space,
        op: AtomOp,
        ty: AtomTy,
        d: Option<R>,
        base: R,
        off: i32,
        b: R,
        c: R,
        ftz: bool,
    },

    // ---------------------------------------------------------------- control
    Bra {
        t: u32,
        cond: Option<PSrc>,
        kind: BraKind,
    },
    Brx {
        a: Src,
        t: i32,
    },
    Exit,
    Call {
        t: u32,
    },
    Ret {
        a: R,
        t: u32,
    },
    Bssy {
        b: u8,
    },
    Bsync {
        b: u8,
    },
    Break {
        b: u8,
    },
    BmovR {
        d: R,
        b: u8,
        clear: bool,
    },
    BmovB {
        b: u8,
        a: Src,
    },
    Warpsync {
        a: Src,
    },
    Bar {
        sync: bool,
        id: Src,
        count: Option<Src>,
    },
    Trap,

    // ---------------------------------------------------------------- warp
    Shfl {
        p: PDst,
        d: R,
        a: Src,
        b: Src,
        c: Src,
        mode: ShflMode,
    },
    Vote {
        d: R,
        p: PDst,
        a: PSrc,
        mode: u8,
    },
    Match {
        p: PDst,
        d: R,
        a: R,
        wide: bool,
        all: bool,
    },

    // ---------------------------------------------------------------- tensor
    Hmma {
        d: R,
        a: R,
        b: R,
        c: R,
        f32: bool,
        step: u8,
        a_col: bool,
        b_col: bool,
    },
    Bohmma {
        d: R,
        a: Src,
        b: Src,
    },
    /// Dense `HMMA.OHMMA.8161` (fp32 or fp16 accumulators).
    Ohmma {
        d: R,
        a: R,
        b: R,
        c: R,
        f32: bool,
    },
    /// Sparse-mode `HMMA.OHMMA.8161.F32.F32.SP.Mm.Nn`.
    OhmmaSp {
        a: R,
        b: R,
        m: u8,
        n: u8,
    },
    AccbClear,
    AccbBmap {
        a: Src,
        b: Src,
    },
    AccbMov {
        d: R,
        q: u8,
    },
    /// `ACCB.STS` (`load` = false) / `ACCB.LDS` (`load` = true).
    AccbShared {
        base: R,
        off: i32,
        load: bool,
    },
}

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

type DResult<T> = Result<T, (FaultKind, String)>;

fn illegal<T>(msg: impl Into<String>) -> DResult<T> {
    Err((FaultKind::IllegalInstruction, msg.into()))
}

fn unsupported<T>(msg: impl Into<String>) -> DResult<T> {
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
    fn def(&self) -> &'static otc_isa::FormDef {
        self.inst.def()
    }

    fn m(&self, group: &str) -> &'static str {
        self.inst.modifier(group)
    }

    fn has(&self, option: &str) -> bool {
        self.inst.has_modifier(option)
    }

    fn idx(&self, name: &str) -> DResult<usize> {
        self.def()
            .operands
            .iter()
            .position(|o| o.name == name)
            .ok_or_else(|| (FaultKind::IllegalInstruction, format!("form has no operand `{name}`")))
    }

    fn has_op(&self, name: &str) -> bool {
        self.def().operands.iter().any(|o| o.name == name)
    }

    fn op(&self, name: &str) -> DResult<(usize, Operand)> {
        let i = self.idx(name)?;
        match self.inst.operands.get(i) {
            Some(o) => Ok((i, *o)),
            None => illegal(format!("operand `{name}` missing")),
        }
    }

    /// Check a register (group) and return its read slot.
    fn read_slot(&self, r: u8, n: usize) -> DResult<R> {
        self.read_slot_in(r, n, true)
    }

    fn write_slot(&self, r: u8, n: usize) -> DResult<R> {
        self.write_slot_in(r, n, true)
    }

    /// `aligned`: a group of 2 or 4 must start at a multiple of its size (not for the paper's
    /// list groups `{R9, R10, ...}`, kind `L`).
    fn read_slot_in(&self, r: u8, n: usize, aligned: bool) -> DResult<R> {
        if r == RZ {
            return Ok(self.cx.zero());
        }
        self.check_group(r, n, aligned)?;
        Ok(r as R)
    }

    fn write_slot_in(&self, r: u8, n: usize, aligned: bool) -> DResult<R> {
        if r == RZ {
            return Ok(self.cx.sink());
        }
        self.check_group(r, n, aligned)?;
        Ok(r as R)
    }

    /// Whether operand `i` is a list group (kind `L`), which needs no alignment.
    fn is_list(&self, i: usize) -> bool {
        matches!(self.def().operands.get(i).map(|o| o.kind), Some(Kind::L(_)))
    }

    fn check_group(&self, r: u8, n: usize, aligned: bool) -> DResult<()> {
        if aligned && n > 1 && !(r as usize).is_multiple_of(n) && n <= 4 {
            return illegal(format!("register group R{r} of {n} registers is not aligned to {n}"));
        }
        let last = r as u32 + n as u32 - 1;
        if last > 254 {
            return illegal(format!("register group R{r} of {n} registers runs past R254"));
        }
        if last >= self.cx.num_regs {
            return Err((
                FaultKind::RegisterOutOfRange,
                format!("R{last} is beyond the kernel's {} registers", self.cx.num_regs),
            ));
        }
        Ok(())
    }

    fn group_count(&self, i: usize) -> usize {
        self.inst.operand_regs(i) as usize
    }

    /// Destination register (group) slot.
    fn dst(&self, name: &str) -> DResult<R> {
        let (i, o) = self.op(name)?;
        match o.value {
            Value::Reg(r) => self.write_slot_in(r, self.group_count(i), !self.is_list(i)),
            v => illegal(format!("operand `{name}` is {v:?}, not a register")),
        }
    }

    /// Source register (group) slot, for operands that must be registers.
    fn reg(&self, name: &str) -> DResult<R> {
        let (i, o) = self.op(name)?;
        match o.value {
            Value::Reg(r) => self.read_slot_in(r, self.group_count(i), !self.is_list(i)),
            v => illegal(format!("operand `{name}` is {v:?}, not a register")),
        }
    }

    fn const_word(&self, bank: u8, offset: u32) -> DResult<u32> {
        let b = self.cx.banks.get(bank as usize).map(Vec::as_slice).unwrap_or(&[]);
        if !offset.is_multiple_of(4) {
            return Err((
                FaultKind::Misaligned(MemorySpace::Constant),
                format!("c[{bank:#x}][{offset:#x}] is not 4-byte aligned"),
            ));
        }
        let o = offset as usize;
        match b.get(o..o + 4) {
            Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            None => Err((
                FaultKind::OutOfBounds(MemorySpace::Constant),
                format!("c[{bank:#x}][{offset:#x}] is outside constant bank {bank} ({} bytes)", b.len()),
            )),
        }
    }

    /// The 64-bit constant at `c[bank][offset]` as (low, high) words.
    fn const_pair(&self, bank: u8, offset: u32) -> DResult<(Src, Src)> {
        Ok((Src::I(self.const_word(bank, offset)?), Src::I(self.const_word(bank, offset + 4)?)))
    }

    fn value_src(&self, v: Value, n: usize) -> DResult<Src> {
        Ok(match v {
            Value::Reg(r) => Src::R(self.read_slot(r, n)?),
            Value::Imm(x) => Src::I(x),
            Value::F32(x) => Src::I(x),
            Value::F16(x) => Src::I(x as u32),
            Value::Const { bank, offset } => Src::I(self.const_word(bank, offset as u32)?),
            v => return illegal(format!("operand {v:?} is not a value")),
        })
    }

    fn src(&self, name: &str) -> DResult<Src> {
        let (i, o) = self.op(name)?;
        self.value_src(o.value, self.group_count(i))
    }

    fn isrc(&self, name: &str) -> DResult<ISrc> {
        let (i, o) = self.op(name)?;
        Ok(ISrc { s: self.value_src(o.value, self.group_count(i))?, neg: o.neg, not: o.not })
    }

    fn fsrc(&self, name: &str) -> DResult<FSrc> {
        let (i, o) = self.op(name)?;
        let s = self.value_src(o.value, self.group_count(i))?;
        let (and, xor) = sign_masks(&o);
        Ok(FSrc { s, and, xor })
    }

    fn hsrc(&self, name: &str) -> DResult<HSrc> {
        let (_, o) = self.op(name)?;
        let s = self.value_src(o.value, 1)?;
        Ok(HSrc { s, swz: o.suffix, neg: o.neg, abs: o.abs })
    }

    /// Half2 source from a pair of fp16 immediates.
    fn hpair(&self, n0: &str, n1: &str) -> DResult<HSrc> {
        let half = |name: &str| match self.op(name)?.1.value {
            Value::F16(h) => Ok(h as u32),
            v => illegal(format!("{v:?} is not an fp16 immediate")),
        };
        let (lo, hi) = (half(n0)?, half(n1)?);
        Ok(HSrc { s: Src::I(lo | (hi << 16)), swz: 0, neg: false, abs: false })
    }

    fn dsrc(&self, name: &str) -> DResult<DSrc> {
        let (_, o) = self.op(name)?;
        let (lo, hi) = match o.value {
            Value::Reg(r) => {
                let s = self.read_slot(r, 2)?;
                (Src::R(s), Src::R(s + 1))
            }
            Value::F32(bits) => {
                let d = (f32::from_bits(bits) as f64).to_bits();
                (Src::I(d as u32), Src::I((d >> 32) as u32))
            }
            Value::Imm(x) => {
                // an integer immediate in an fp64 slot: the high word of the double (as the
                // hardware's 20-bit fp64 immediates are)
                (Src::I(0), Src::I(x))
            }
            Value::Const { bank, offset } => self.const_pair(bank, offset as u32)?,
            v => return illegal(format!("operand {v:?} is not an fp64 value")),
        };
        let (and, xor) = sign_masks(&o);
        Ok(DSrc { lo, hi, and, xor })
    }

    fn psrc(&self, name: &str) -> DResult<PSrc> {
        let (_, o) = self.op(name)?;
        match o.value {
            Value::Pred(p) => Ok(PSrc { i: p.min(7), not: o.not }),
            v => illegal(format!("operand `{name}` is {v:?}, not a predicate")),
        }
    }

    fn opt_psrc(&self, name: &str) -> DResult<Option<PSrc>> {
        if self.has_op(name) {
            Ok(Some(self.psrc(name)?))
        } else {
            Ok(None)
        }
    }

    fn pdst(&self, name: &str) -> DResult<PDst> {
        let (_, o) = self.op(name)?;
        match o.value {
            Value::Pred(p) if p == PT => Ok(P_SINK),
            Value::Pred(p) => Ok(p),
            v => illegal(format!("operand `{name}` is {v:?}, not a predicate")),
        }
    }

    fn opt_pdst(&self, name: &str) -> DResult<PDst> {
        if self.has_op(name) {
            self.pdst(name)
        } else {
            Ok(P_SINK)
        }
    }

    fn imm(&self, name: &str) -> DResult<u32> {
        match self.op(name)?.1.value {
            Value::Imm(x) => Ok(x),
            v => illegal(format!("operand `{name}` is {v:?}, not an immediate")),
        }
    }

    fn target(&self, name: &str) -> DResult<u32> {
        let t = self.imm(name)?;
        if t % 16 != 0 {
            return illegal(format!("branch target {t:#x} is not on an instruction boundary"));
        }
        if (t / 16) as usize >= self.cx.len {
            return illegal(format!("branch target {t:#x} is outside the kernel ({} bytes)", self.cx.len * 16));
        }
        Ok(t / 16)
    }

    /// Memory operand; `wide`: a 64-bit address (register pair).
    fn mem(&self, name: &str, wide: bool) -> DResult<(R, i32)> {
        match self.op(name)?.1.value {
            Value::Mem { base, offset } => Ok((self.read_slot(base, if wide { 2 } else { 1 })?, offset)),
            v => illegal(format!("operand `{name}` is {v:?}, not a memory operand")),
        }
    }

    fn barrier(&self, name: &str) -> DResult<u8> {
        match self.op(name)?.1.value {
            Value::Barrier(b) if b < 16 => Ok(b),
            v => illegal(format!("operand `{name}` is {v:?}, not a convergence barrier")),
        }
    }

    /// The option of the modifier group `E::GROUP` as the ISA's enum; an instruction whose options
    /// are not (a prefix of) the enum's is refused rather than misread.
    fn modifier<E: ModifierEnum>(&self) -> DResult<E> {
        let def = self.def();
        let Some(g) = def.group(E::GROUP) else {
            return illegal(format!("`{}` has no `{}` modifier", def.mnemonic, E::GROUP));
        };
        let text = def.mods[g].options[self.inst.mods[g] as usize];
        match E::ALL.get(self.inst.mods[g] as usize) {
            Some(&e) if e.text() == text => Ok(e),
            _ => unsupported(format!("`{}` modifier `{text}` of {}", E::GROUP, def.mnemonic)),
        }
    }

    /// Index of the option of modifier group `name` (0 if the form has no such group).
    fn mod_index(&self, name: &str) -> u8 {
        self.def().group(name).map(|g| self.inst.mods[g]).unwrap_or(0)
    }

    fn bop(&self) -> DResult<Bop> {
        self.modifier()
    }

    fn rnd(&self) -> Rnd {
        match self.m("rnd") {
            "RM" | "FLOOR" => Rnd::Rm,
            "RP" | "CEIL" => Rnd::Rp,
            "RZ" | "TRUNC" => Rnd::Rz,
            _ => Rnd::Rn,
        }
    }

    fn icmp(&self) -> DResult<ICmp> {
        self.modifier()
    }

    fn fcmp(&self) -> DResult<FCmp> {
        self.modifier()
    }

    fn msize(&self) -> DResult<MSize> {
        Ok(match self.m("size") {
            "U8" => MSize::U8,
            "S8" => MSize::S8,
            "U16" => MSize::U16,
            "S16" => MSize::S16,
            "" | "32" => MSize::B32,
            "64" => MSize::B64,
            "128" => MSize::B128,
            s => return unsupported(format!("access size `{s}`")),
        })
    }

    fn decode(&self) -> DResult<OpKind> {
        let def = self.def();
        if let Class::Tensor(class) = def.class {
            return self.tensor(class);
        }
        let mn = def.mnemonic;
        let k = match mn {
            "NOP" | "DEPBAR" | "MEMBAR" | "ERRBAR" | "CCTL" => OpKind::Nop,
            "YIELD" | "NANOSLEEP" => OpKind::Yield,
            "MOV" => OpKind::Mov { d: self.dst("d")?, a: self.src("a")? },
            "IMAD" => self.imad()?,
            "IADD3" => OpKind::Iadd3 {
                d: self.dst("d")?,
                p: self.opt_pdst("p")?,
                q: self.opt_pdst("q")?,
                a: self.isrc("a")?,
                b: self.isrc("b")?,
                c: self.isrc("c")?,
                ci: self.opt_psrc("ci")?.unwrap_or(PSrc { i: P_TRUE, not: true }),
                cj: self.opt_psrc("cj")?.unwrap_or(PSrc { i: P_TRUE, not: true }),
            },
            "LEA" => {
                let hi = self.has("HI");
                let sx = self.has("SX32");
                OpKind::Lea {
                    d: self.dst("d")?,
                    p: self.opt_pdst("p")?,
                    a: self.isrc("a")?,
                    b: self.src("b")?,
                    c: if self.has_op("c") { Some(self.src("c")?) } else { None },
                    s: self.imm("s")? & 31,
                    hi,
                    sx,
                    ci: self.opt_psrc("ci")?,
                }
            }
            "SHF" => {
                let ty = self.m("type");
                OpKind::Shf {
                    d: self.dst("d")?,
                    lo: self.src("lo")?,
                    n: self.src("n")?,
                    hi: self.src("hi")?,
                    right: self.m("dir") == "R",
                    wrap: self.has("W"),
                    wide: ty.ends_with("64"),
                    signed: ty.starts_with('S'),
                    high: self.has("HI"),
                }
            }
            "LOP3" => OpKind::Lop3 {
                d: self.dst("d")?,
                p: self.opt_pdst("p")?,
                a: self.isrc("a")?,
                b: self.isrc("b")?,
                c: self.isrc("c")?,
                lut: self.imm("lut")? as u8,
            },
            "PLOP3" => OpKind::Plop3 {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.psrc("a")?,
                b: self.psrc("b")?,
                c: self.psrc("c")?,
                lut: self.imm("lut")? as u8,
                lut2: self.imm("lut2")? as u8,
            },
            "ISETP" => OpKind::Isetp {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.psrc("c")?,
                e: self.opt_psrc("e")?,
                cmp: self.icmp()?,
                signed: !self.has("U32"),
                bop: self.bop()?,
            },
            "SEL" => OpKind::Sel { d: self.dst("d")?, a: self.src("a")?, b: self.src("b")?, c: self.psrc("c")? },
            "PRMT" => OpKind::Prmt {
                d: self.dst("d")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.src("c")?,
                mode: match self.m("mode") {
                    "" => 0,
                    "F4E" => 1,
                    "B4E" => 2,
                    "RC8" => 3,
                    "ECL" => 4,
                    "ECR" => 5,
                    "RC16" => 6,
                    m => return unsupported(format!("PRMT mode `{m}`")),
                },
            },
            "IABS" => OpKind::Iabs { d: self.dst("d")?, a: self.src("a")? },
            "IMNMX" => OpKind::Imnmx {
                d: self.dst("d")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.psrc("c")?,
                signed: !self.has("U32"),
            },
            "VABSDIFF" => OpKind::Vabsdiff {
                d: self.dst("d")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.src("c")?,
                signed: !self.has("U32"),
            },
            "POPC" => OpKind::Popc { d: self.dst("d")?, a: self.isrc("a")? },
            "FLO" => {
                OpKind::Flo { d: self.dst("d")?, a: self.isrc("a")?, signed: !self.has("U32"), sh: self.has("SH") }
            }
            "BREV" => OpKind::Brev { d: self.dst("d")?, a: self.src("a")? },
            "BMSK" => OpKind::Bmsk { d: self.dst("d")?, a: self.src("a")?, b: self.src("b")?, wrap: self.has("W") },
            "P2R" => OpKind::P2r { d: self.dst("d")?, a: self.src("a")?, mask: self.imm("mask")? },
            "R2P" => OpKind::R2p { a: self.src("a")?, mask: self.imm("mask")? },
            "S2R" => OpKind::S2r { d: self.dst("d")?, sr: self.sreg("sr")? },
            "CS2R" => {
                let pair = !self.has("32");
                let d = if pair { self.dst("d")? } else { self.dst1("d")? };
                OpKind::Cs2r { d, sr: self.sreg("sr")?, pair }
            }
            "IDP" => {
                let at = self.m("atype");
                OpKind::Idp {
                    d: self.dst("d")?,
                    a: self.src("a")?,
                    b: self.src("b")?,
                    c: self.src("c")?,
                    four: self.m("mode") == "4A",
                    hi: self.m("half") == "HI",
                    asig: at.starts_with('S'),
                    a16: at.ends_with("16"),
                    bsig: self.m("btype").starts_with('S'),
                }
            }
            "FADD" => OpKind::Fadd {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                ftz: self.has("FTZ"),
                rnd: self.rnd(),
                sat: self.has("SAT"),
            },
            "FMUL" => OpKind::Fmul {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                ftz: self.has("FTZ"),
                rnd: self.rnd(),
                sat: self.has("SAT"),
                scale: match self.m("scale") {
                    "D2" => -1,
                    "D4" => -2,
                    "M2" => 1,
                    "M4" => 2,
                    "M8" => 3,
                    _ => 0,
                },
            },
            "FFMA" => OpKind::Ffma {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                c: self.fsrc("c")?,
                ftz: self.has("FTZ"),
                rnd: self.rnd(),
                sat: self.has("SAT"),
            },
            "FSETP" => OpKind::Fsetp {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                c: self.psrc("c")?,
                cmp: self.fcmp()?,
                ftz: self.has("FTZ"),
                bop: self.bop()?,
            },
            "FSEL" => OpKind::Fsel { d: self.dst("d")?, a: self.fsrc("a")?, b: self.fsrc("b")?, c: self.psrc("c")? },
            "FMNMX" => OpKind::Fmnmx {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                c: self.psrc("c")?,
                ftz: self.has("FTZ"),
            },
            "FCHK" => OpKind::Fchk { p: self.pdst("p")?, a: self.src("a")?, b: self.src("b")? },
            "MUFU" => OpKind::Mufu { d: self.dst("d")?, a: self.fsrc("a")?, f: self.modifier::<MufuFn>()? },
            "FRND" => OpKind::Frnd {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                rnd: match self.m("rnd") {
                    "CEIL" => Rnd::Rp,
                    "FLOOR" => Rnd::Rm,
                    "TRUNC" => Rnd::Rz,
                    _ => Rnd::Rn,
                },
                ftz: self.has("FTZ"),
            },
            "F2I" => self.f2i()?,
            "I2F" => self.i2f()?,
            "F2F" => self.f2f()?,
            "I2I" => OpKind::I2i {
                d: self.dst("d")?,
                a: self.src("a")?,
                dty: int_ty(self.m("dtype"), IntTy::S32)?,
                sty: int_ty(self.m("stype"), IntTy::S32)?,
                sat: self.has("SAT"),
            },
            "HADD2" | "HMUL2" | "HFMA2" => self.h2()?,
            "HSETP2" => OpKind::Hsetp2 {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.hsrc("a")?,
                b: self.hsrc("b")?,
                c: self.psrc("c")?,
                cmp: self.fcmp()?,
                hand: self.has("H_AND"),
                ftz: self.has("FTZ"),
                bop: self.bop()?,
            },
            "HSET2" => OpKind::Hset2 {
                d: self.dst("d")?,
                a: self.hsrc("a")?,
                b: self.hsrc("b")?,
                c: self.psrc("c")?,
                cmp: self.fcmp()?,
                bf: self.has("BF"),
                ftz: self.has("FTZ"),
                bop: self.bop()?,
            },
            "HMNMX2" => OpKind::Hmnmx2 {
                d: self.dst("d")?,
                a: self.hsrc("a")?,
                b: self.hsrc("b")?,
                c: self.psrc("c")?,
                ftz: self.has("FTZ"),
            },
            "DADD" | "DMUL" | "DFMA" => {
                let op = match mn {
                    "DADD" => DOp::Add,
                    "DMUL" => DOp::Mul,
                    _ => DOp::Fma,
                };
                let zero = DSrc { lo: Src::I(0), hi: Src::I(0), and: u32::MAX, xor: 0 };
                OpKind::Dop {
                    op,
                    d: self.dst("d")?,
                    a: self.dsrc("a")?,
                    b: self.dsrc("b")?,
                    c: if op == DOp::Fma { self.dsrc("c")? } else { zero },
                    rnd: self.rnd(),
                }
            }
            "DSETP" => OpKind::Dsetp {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.dsrc("a")?,
                b: self.dsrc("b")?,
                c: self.psrc("c")?,
                cmp: self.fcmp()?,
                bop: self.bop()?,
            },
            "LDG" | "LDS" | "LDL" => {
                let space = ldst_space(mn);
                let wide = space == Space::Global;
                let (base, off) = self.mem("a", wide)?;
                OpKind::Ld { space, d: self.dst("d")?, base, wide, off, size: self.msize()? }
            }
            "STG" | "STS" | "STL" => {
                let space = ldst_space(mn);
                let wide = space == Space::Global;
                let (base, off) = self.mem("a", wide)?;
                OpKind::St { space, base, wide, off, src: self.reg("b")?, size: self.msize()? }
            }
            "LDC" => {
                let (_, o) = self.op("a")?;
                match o.value {
                    Value::ConstX { bank, reg, offset } => OpKind::Ldc {
                        d: self.dst("d")?,
                        bank,
                        reg: self.read_slot(reg, 1)?,
                        off: offset as u32,
                        size: self.msize()?,
                    },
                    v => return illegal(format!("LDC operand {v:?}")),
                }
            }
            "ATOMG" | "RED" | "ATOMS" => self.atom()?,
            "BRA" => {
                let kind = match self.m("div") {
                    "DIV" => BraKind::Div,
                    "CONV" => BraKind::Conv,
                    _ => BraKind::Plain,
                };
                OpKind::Bra { t: self.target("t")?, cond: self.opt_psrc("p")?, kind }
            }
            "BRX" => OpKind::Brx { a: self.src("a")?, t: self.imm("t")? as i32 },
            "EXIT" => OpKind::Exit,
            "CALL" => OpKind::Call { t: self.target("t")? },
            "RET" => OpKind::Ret { a: self.reg("a")?, t: self.imm("t")? },
            "BSSY" => {
                self.target("t")?;
                OpKind::Bssy { b: self.barrier("b")? }
            }
            "BSYNC" => OpKind::Bsync { b: self.barrier("b")? },
            "BREAK" => OpKind::Break { b: self.barrier("b")? },
            "BMOV" => {
                if self.def().operands[0].kind == Kind::B {
                    OpKind::BmovB { b: self.barrier("b")?, a: self.src("a")? }
                } else {
                    OpKind::BmovR { d: self.dst("d")?, b: self.barrier("b")?, clear: self.has("CLEAR") }
                }
            }
            "WARPSYNC" => OpKind::Warpsync { a: self.src("a")? },
            "BAR" => {
                let sync = match self.m("op") {
                    "SYNC" => true,
                    "ARV" => false,
                    o => return unsupported(format!("BAR.{o}")),
                };
                OpKind::Bar {
                    sync,
                    id: self.src("a")?,
                    count: if self.has_op("b") { Some(self.src("b")?) } else { None },
                }
            }
            "BPT" => OpKind::Trap,
            "SHFL" => OpKind::Shfl {
                p: self.pdst("p")?,
                d: self.dst("d")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.src("c")?,
                mode: self.modifier::<ShflMode>()?,
            },
            "VOTE" => OpKind::Vote {
                d: self.dst("d")?,
                p: self.pdst("p")?,
                a: self.psrc("a")?,
                mode: match self.m("mode") {
                    "ALL" => 0,
                    "ANY" => 1,
                    _ => 2,
                },
            },
            "MATCH" => {
                let wide = self.has("U64");
                let (ai, ao) = self.op("a")?;
                let n = if wide { 2 } else { self.group_count(ai) };
                let a = match ao.value {
                    Value::Reg(r) => self.read_slot(r, n)?,
                    v => return illegal(format!("MATCH operand {v:?}")),
                };
                OpKind::Match { p: self.opt_pdst("p")?, d: self.dst1("d")?, a, wide, all: self.m("mode") == "ALL" }
            }
            other => {
                return unsupported(format!("`{}` ({other}) is not executed by this emulator", self.inst.opcode_text()))
            }
        };
        Ok(k)
    }

    /// Single destination register even if the form declares a group count of one.
    fn dst1(&self, name: &str) -> DResult<R> {
        let (_, o) = self.op(name)?;
        match o.value {
            Value::Reg(r) => self.write_slot(r, 1),
            v => illegal(format!("operand `{name}` is {v:?}, not a register")),
        }
    }

    fn sreg(&self, name: &str) -> DResult<Sr> {
        let code = match self.op(name)?.1.value {
            Value::SReg(s) => s,
            v => return illegal(format!("operand {v:?} is not a special register")),
        };
        let nm = otc_isa::special_register_name(code).unwrap_or("");
        Ok(match nm {
            "SR_LANEID" => Sr::LaneId,
            "SR_CLOCKLO" => Sr::ClockLo,
            "SR_CLOCKHI" => Sr::ClockHi,
            "SR_VIRTUALSMID" | "SR_SMID" => Sr::SmId,
            "SR_TID.X" => Sr::TidX,
            "SR_TID.Y" => Sr::TidY,
            "SR_TID.Z" => Sr::TidZ,
            "SR_CTAID.X" => Sr::CtaIdX,
            "SR_CTAID.Y" => Sr::CtaIdY,
            "SR_CTAID.Z" => Sr::CtaIdZ,
            "SR_EQMASK" => Sr::EqMask,
            "SR_LTMASK" => Sr::LtMask,
            "SR_LEMASK" => Sr::LeMask,
            "SR_GTMASK" => Sr::GtMask,
            "SR_GEMASK" => Sr::GeMask,
            "SRZ" => Sr::Zero,
            "SR_TID" => Sr::Tid,
            "SR_NTID" => Sr::NTid,
            "SR_WARPID" => Sr::WarpId,
            "SR_NWARPID" => Sr::NWarpId,
            "SR_NSMID" => Sr::NSmId,
            "SR_GRIDID" => Sr::GridId,
            "SR_VIRTID" => Sr::VirtId,
            "SR_GLOBALTIMERLO" => Sr::GTimerLo,
            "SR_GLOBALTIMERHI" => Sr::GTimerHi,
            "SR_REGALLOC" => Sr::RegAlloc,
            "SR_SHAREDMEMSIZE" => Sr::SharedSize,
            other => return unsupported(format!("special register `{other}` (code {code})")),
        })
    }

    fn imad(&self) -> DResult<OpKind> {
        let signed = !self.has("U32");
        if self.has("WIDE") {
            let (ci, co) = self.op("c")?;
            let (clo, chi) = match co.value {
                Value::Reg(r) => {
                    let s = self.read_slot(r, self.group_count(ci).max(2))?;
                    (Src::R(s), Src::R(s + 1))
                }
                Value::Const { bank, offset } => self.const_pair(bank, offset as u32)?,
                Value::Imm(x) => (Src::I(x), Src::I(0)),
                v => return illegal(format!("IMAD.WIDE operand {v:?}")),
            };
            return Ok(OpKind::ImadWide {
                d: self.dst("d")?,
                a: self.isrc("a")?,
                b: self.isrc("b")?,
                clo,
                chi,
                signed,
            });
        }
        Ok(OpKind::Imad {
            d: self.dst("d")?,
            a: self.isrc("a")?,
            b: self.isrc("b")?,
            c: self.isrc("c")?,
            hi: self.m("mode") == "HI",
            signed,
            ci: self.opt_psrc("ci")?,
        })
    }

    fn f2i(&self) -> DResult<OpKind> {
        let (_, ao) = self.op("a")?;
        let sty = float_ty(self.m("stype"));
        let (lo, hi) = self.wide_src(ao.value, if sty == FTy::F64 { 2 } else { 1 })?;
        Ok(OpKind::F2i {
            d: self.dst("d")?,
            lo,
            hi,
            hsel: ao.suffix,
            neg: ao.neg,
            abs: ao.abs,
            dty: int_ty(self.m("dtype"), IntTy::S32)?,
            sty,
            rnd: match self.m("rnd") {
                "" => Rnd::Rn,
                _ => self.rnd(),
            },
            ftz: self.has("FTZ"),
        })
    }

    fn i2f(&self) -> DResult<OpKind> {
        let (_, ao) = self.op("a")?;
        let sty = int_ty(self.m("stype"), IntTy::S32)?;
        let (lo, hi) = self.wide_src(ao.value, if sty.bits() == 64 { 2 } else { 1 })?;
        Ok(OpKind::I2f {
            d: self.dst("d")?,
            lo,
            hi,
            bsel: ao.suffix,
            dty: float_ty(self.m("dtype")),
            sty,
            rnd: self.rnd(),
        })
    }

    fn f2f(&self) -> DResult<OpKind> {
        let (_, ao) = self.op("a")?;
        let sty = float_ty(self.m("stype"));
        let dty = float_ty(self.m("dtype"));
        let (lo, hi) = self.wide_src(ao.value, if sty == FTy::F64 { 2 } else { 1 })?;
        Ok(OpKind::F2f {
            d: self.dst("d")?,
            lo,
            hi,
            hsel: ao.suffix,
            neg: ao.neg,
            abs: ao.abs,
            dty,
            sty,
            rnd: self.rnd(),
            integral: matches!(self.m("rnd"), "ROUND" | "FLOOR" | "CEIL" | "TRUNC"),
            ftz: self.has("FTZ"),
            sat: self.has("SAT"),
        })
    }

    /// A 32- or 64-bit source as (low, high) words.
    fn wide_src(&self, v: Value, n: usize) -> DResult<(Src, Src)> {
        Ok(match v {
            Value::Reg(r) => {
                let s = self.read_slot(r, n)?;
                (Src::R(s), if n == 2 { Src::R(s + 1) } else { Src::I(0) })
            }
            Value::Const { bank, offset } => (
                Src::I(self.const_word(bank, offset as u32)?),
                if n == 2 { Src::I(self.const_word(bank, offset as u32 + 4)?) } else { Src::I(0) },
            ),
            Value::Imm(x) | Value::F32(x) => (Src::I(x), Src::I(0)),
            v => return illegal(format!("operand {v:?}")),
        })
    }

    fn h2(&self) -> DResult<OpKind> {
        let mn = self.def().mnemonic;
        let op = match mn {
            "HADD2" => HOp::Add,
            "HMUL2" => HOp::Mul,
            _ => HOp::Fma,
        };
        let a = self.hsrc("a")?;
        let b = if self.has_op("b0") { self.hpair("b0", "b1")? } else { self.hsrc("b")? };
        let c = match op {
            HOp::Add | HOp::Mul => HSrc { s: Src::I(0), swz: 0, neg: false, abs: false },
            HOp::Fma => {
                if self.has_op("c0") {
                    self.hpair("c0", "c1")?
                } else {
                    self.hsrc("c")?
                }
            }
        };
        Ok(OpKind::H2 {
            op,
            d: self.dst("d")?,
            a,
            b,
            c,
            f32: self.has("F32"),
            ftz: self.has("FTZ"),
            sat: self.has("SAT"),
        })
    }

    fn atom(&self) -> DResult<OpKind> {
        let mn = self.def().mnemonic;
        let space = if mn == "ATOMS" { Space::Shared } else { Space::Global };
        let op = match self.m("op") {
            "ADD" => AtomOp::Add,
            "MIN" => AtomOp::Min,
            "MAX" => AtomOp::Max,
            "INC" => AtomOp::Inc,
            "DEC" => AtomOp::Dec,
            "AND" => AtomOp::And,
            "OR" => AtomOp::Or,
            "XOR" => AtomOp::Xor,
            "EXCH" => AtomOp::Exch,
            "CAS" => AtomOp::Cas,
            "CAST" => AtomOp::Cast,
            o => return unsupported(format!("atomic operation `{o}`")),
        };
        let ty = match self.m("type") {
            "" | "U32" => AtomTy::U32,
            "S32" => AtomTy::S32,
            "64" | "U64" => AtomTy::U64,
            "S64" => AtomTy::S64,
            "F32" => AtomTy::F32,
            "F16x2" => AtomTy::F16x2,
            "F64" => AtomTy::F64,
            t => return unsupported(format!("atomic type `{t}`")),
        };
        // which (op, type) pairs exist
        let ok = match op {
            AtomOp::Add => true,
            AtomOp::Min | AtomOp::Max => matches!(ty, AtomTy::U32 | AtomTy::S32 | AtomTy::U64 | AtomTy::S64),
            AtomOp::Inc | AtomOp::Dec => ty == AtomTy::U32,
            AtomOp::And | AtomOp::Or | AtomOp::Xor | AtomOp::Exch => {
                matches!(ty, AtomTy::U32 | AtomTy::S32 | AtomTy::U64 | AtomTy::S64) || (op == AtomOp::Exch)
            }
            AtomOp::Cas | AtomOp::Cast => matches!(ty, AtomTy::U32 | AtomTy::U64),
        };
        if !ok {
            return unsupported(format!("{} is not a valid atomic", self.inst.opcode_text()));
        }
        let (base, off) = self.mem("a", space == Space::Global)?;
        let d = if self.has_op("d") { Some(self.dst("d")?) } else { None };
        let b = self.reg("b")?;
        let c = if self.has_op("c") { self.reg("c")? } else { self.cx.zero() };
        Ok(OpKind::Atom { space, op, ty, d, base, off, b, c, ftz: self.has("FTZ") })
    }

    /// The tensor instructions are told apart by their class (`isa/*.toml`).
    fn tensor(&self, class: TensorClass) -> DResult<OpKind> {
        use TensorClass::*;
        Ok(match class {
            OhmmaF32 | OhmmaF16 => OpKind::Ohmma {
                d: self.dst("d")?,
                a: self.reg("a")?,
                b: self.reg("b")?,
                c: self.reg("c")?,
                f32: class == OhmmaF32,
            },
            Bohmma => OpKind::Bohmma { d: self.dst("d")?, a: self.src("a")?, b: self.src("b")? },
            OhmmaSparse => {
                // Blocks M0..M3 and N0..N1: the option index is the block.
                OpKind::OhmmaSp { a: self.reg("a")?, b: self.reg("b")?, m: self.mod_index("m"), n: self.mod_index("n") }
            }
            Hmma884F32 | Hmma884F16 => self.hmma884(class == Hmma884F32)?,
            AccbClear => OpKind::AccbClear,
            AccbBmap => OpKind::AccbBmap { a: self.src("a")?, b: self.src("b")? },
            AccbMov => {
                let q = self.imm("q")?;
                if q > 3 {
                    return illegal(format!("ACCB.MOV block {q} (0..3)"));
                }
                OpKind::AccbMov { d: self.dst("d")?, q: q as u8 }
            }
            AccbSts | AccbLds => {
                let (base, off) = self.mem("a", false)?;
                OpKind::AccbShared { base, off, load: class == AccbLds }
            }
        })
    }

    /// Volta's HMMA.884 step (`f32`: fp32 accumulators).
    fn hmma884(&self, f32: bool) -> DResult<OpKind> {
        // STEP0..STEP3: the option index is the step.
        let step = self.mod_index("step");
        let (_, ao) = self.op("a")?;
        let (_, bo) = self.op("b")?;
        // suffix 1 = ROW, 2 = COL; A defaults to ROW, B to COL
        Ok(OpKind::Hmma {
            d: self.dst("d")?,
            a: self.reg("a")?,
            b: self.reg("b")?,
            c: self.reg("c")?,
            f32,
            step,
            a_col: ao.suffix == 2,
            b_col: bo.suffix != 1,
        })
    }
}

/// `.abs` and `.neg` of a float operand as the masks applied to its (high) word: `and` clears
/// the sign bit, `xor` flips it.
fn sign_masks(o: &Operand) -> (u32, u32) {
    (if o.abs { 0x7fff_ffff } else { u32::MAX }, if o.neg { 0x8000_0000 } else { 0 })
}

/// The space of LDG/LDS/LDL and STG/STS/STL.
fn ldst_space(mnemonic: &str) -> Space {
    match mnemonic {
        "LDG" | "STG" => Space::Global,
        "LDS" | "STS" => Space::Shared,
        _ => Space::Local,
    }
}

/// A float type modifier (`F64`, `F16`; anything else is F32).
fn float_ty(s: &str) -> FTy {
    match s {
        "F64" => FTy::F64,
        "F16" => FTy::F16,
        _ => FTy::F32,
    }
}

fn int_ty(s: &str, default: IntTy) -> DResult<IntTy> {
    Ok(match s {
        "" => default,
        "U8" => IntTy::U8,
        "S8" => IntTy::S8,
        "U16" => IntTy::U16,
        "S16" => IntTy::S16,
        "U32" => IntTy::U32,
        "S32" => IntTy::S32,
        "U64" => IntTy::U64,
        "S64" => IntTy::S64,
        t => return unsupported(format!("integer type `{t}`")),
    })
}
