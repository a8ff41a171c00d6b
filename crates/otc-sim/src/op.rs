//! The pre-decoded instruction ([`Op`]) that the interpreter runs: operand types resolved to
//! register slots and immediates, modifiers to enums. Made by `decode/`, run by `exec/`; the
//! variants are grouped by the `exec/` module that runs them, and the tensor instructions are one
//! nested family ([`OpKind::Tensor`]).

use crate::fault::FaultKind;
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
    /// A generic address (`LD`/`ST`/`ATOM`): each lane's address picks its space by the windows
    /// of [`crate::config::SHARED_WINDOW`], [`crate::config::LOCAL_WINDOW`] and
    /// [`crate::config::CONST_WINDOW`].
    Generic,
    /// Constant bank 3 (`__constant__` data) reached through a generic address: read-only. Only
    /// [`Space::Generic`] accesses resolve to it.
    Const,
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
        /// Carry out of the 64-bit sum (`P_SINK` when the form has none).
        p: u8,
        a: ISrc,
        b: ISrc,
        clo: Src,
        chi: Src,
        signed: bool,
        /// Carry in (`.X`), added to the 64-bit sum.
        ci: Option<PSrc>,
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
    /// `SGXT`: sign-extend (`unsigned`: zero-extend) the low `b` bits of `a`.
    Sgxt {
        d: R,
        a: Src,
        b: Src,
        unsigned: bool,
    },
    /// `QSPC`: whether each lane's generic address lies in the window of `space` (`Global`: in
    /// neither the shared nor the local window; the `__constant__` window is global); `d` gets 0.
    Qspc {
        p: u8,
        d: R,
        base: R,
        off: i32,
        space: Space,
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
        /// Byte of `d` the predicates go to (`.B1`..`.B3`; 0 = the low byte).
        byte: u8,
    },
    R2p {
        a: Src,
        mask: u32,
        /// Byte of `a` the predicates come from (`a.B1`..`a.B3`; 0 = the low byte).
        byte: u8,
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
    /// The tensor-core instructions (`exec/tensor.rs`), one variant per kind of work.
    Tensor(TensorOp),
}

/// The tensor-core instructions (`isa/*.toml` classes `tensor.*`).
#[derive(Clone, Debug)]
pub(crate) enum TensorOp {
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
    /// Vector-wise sparse `HMMA.884.F32.F32.VS.STEPs` (isa/vstc.toml): `a` = four A pairs (a
    /// 16-k window), `b` = the compressed B pair, `e` = the indices of its values in the window.
    HmmaVs {
        d: R,
        a: R,
        b: R,
        c: R,
        e: Src,
        step: u8,
        a_col: bool,
        b_col: bool,
    },
    /// Structured-sparse HMMA.884 STEP with fp32 accumulators: `HMMA.SP884` (2:4, `blocks` = 2,
    /// `hss` = false) and `HMMA.HSS884.H4/H8` (two-rank HSS, `blocks` = H1). `b` is `blocks` B
    /// pairs (k window 4 * `blocks`), `e` the metadata register, `sel` its byte (SP884) or
    /// half-word (HSS884).
    HmmaSparse {
        d: R,
        a: R,
        b: R,
        c: R,
        e: R,
        step: u8,
        sel: u8,
        blocks: u8,
        hss: bool,
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
        buf: u8,
    },
    /// Sequenced SpWMMA `HMMA.SPWMMA.32321.F32.F32`: the sparse OHMMAs of a whole set from one
    /// instruction (`a`: 8 registers, four A pairs; `b`: 4 registers, two B pairs).
    SpwmmaSeq {
        a: R,
        b: R,
        buf: u8,
    },
    /// `buf` (here and below): the accumulation buffer of the warp context (`.BUF1`.. `.BUF3`;
    /// 0 without the modifier).
    AccbClear {
        buf: u8,
    },
    AccbBmap {
        a: Src,
        b: Src,
        buf: u8,
    },
    AccbMov {
        d: R,
        q: u8,
        buf: u8,
    },
    /// `ACCB.STS` (`load` = false) / `ACCB.LDS` (`load` = true).
    AccbShared {
        base: R,
        off: i32,
        load: bool,
        buf: u8,
    },
}
