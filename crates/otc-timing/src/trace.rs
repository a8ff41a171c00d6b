//! The trace interface between the functional executor and the cycle model.
//!
//! The functional run (crates/otc-sim) records, for every warp of every CTA, the sequence of
//! warp-instructions it issued, in program order, **including predicated-off ones**. The cycle
//! model never sees values: everything that timing depends on (active and executed lanes,
//! addresses, barrier ids, which sparse products land where) is in the trace.
//!
//! # How the functional engine fills a trace
//!
//! 1. Once per kernel instruction, build an [`EventTemplate`] with [`EventTemplate::new`]. It
//!    holds everything that is static: the form, register sources and destinations (groups with
//!    their widths, the 64-bit address pair of `.E` memory operands, `RZ` dropped), predicate
//!    reads (guard included) and writes, `.reuse` flags, control bits, the memory space / kind /
//!    bytes per lane, the tensor operation, and immediate barrier operands.
//! 2. Each time a warp issues the instruction, push one [`Event`] into that warp's
//!    [`WarpTrace`]:
//!    - plain instructions: `trace.push(tpl.event(pc, active, executed))`;
//!    - memory instructions (`LDG STG LDS STS LDL STL LDC ATOMG RED ATOMS`):
//!      `trace.push_mem(&tpl, pc, active, executed, addrs)` where `addrs` yields one byte address
//!      per **executed** lane, in ascending lane order (global: the 64-bit device address; shared:
//!      the shared-window offset; local: the thread's local offset; constant: the offset in the
//!      bank). Addresses are stored out of line in [`WarpTrace::addrs`]. A predicated-off memory
//!      instruction may be pushed with `push_mem(.., executed = 0, [])` or as `tpl.event(..)`.
//!      `ACCB.STS` / `ACCB.LDS` need no addresses (the model moves 4096 contiguous bytes);
//!    - sparse OHMMA (`HMMA.OHMMA.8161...SP.Mm.Nn`): `trace.push(tpl.sparse_ohmma(pc, active,
//!      executed, rows, cols))` with the landing masks from [`sparse_landing`] (the A and B
//!      bitmaps of the last `ACCB.BMAP`, and m, n of the instruction);
//!    - `BAR` with register operands: `trace.push(tpl.barrier(pc, active, executed, id, threads))`
//!      with the values read at run time (the template already holds immediate operands).
//!    - `pc` is the byte offset of the instruction in the kernel; `active` the lanes active at
//!      issue; `executed` the active lanes whose guard predicate held (0 for a predicated-off
//!      instruction, which is still pushed: it costs an issue slot).
//! 3. Collect the warps of a CTA into a [`CtaTrace`] with the CTA's resource usage
//!    (`shared_bytes` = static + dynamic shared memory, `regs_per_thread`, `threads`), and hand
//!    CTAs to [`crate::simulate`] or [`crate::Simulator::push`] in linear CTA order.
//!
//! A warp's trace ends after its last issued instruction (normally the `EXIT` of its last lanes).
//! Control flow needs no payload: a taken branch shows as the next event's `pc` differing from
//! `pc + 16`.

use otc_isa::{Class, Control, ControlClass, Instruction, Kind, MemoryClass, TensorClass, Unit, Value, FORMS, PT, RZ};

/// Bytes of one instruction (the distance between consecutive `pc`s).
pub const INSTRUCTION_BYTES: u32 = 16;

/// A group of consecutive registers read or written by one operand (`count == 0`: unused slot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegGroup {
    pub base: u8,
    pub count: u8,
}

impl RegGroup {
    pub const NONE: RegGroup = RegGroup { base: 0, count: 0 };

    /// The registers of the group (RZ never appears: groups are clipped below it).
    pub fn regs(self) -> impl Iterator<Item = u8> {
        (self.base as u16..self.base as u16 + self.count as u16).map(|r| r as u8)
    }
}

/// Memory space of a memory instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemSpace {
    Global,
    Shared,
    Local,
    Const,
}

/// What a memory instruction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemOp {
    Load,
    Store,
    /// Read-modify-write returning the old value (`ATOMG`, `ATOMS`).
    Atomic,
    /// Read-modify-write without a result (`RED`).
    Reduction,
}

/// The memory space and kind of access of a `memory.*` class.
pub const fn memory_access(class: MemoryClass) -> (MemSpace, MemOp) {
    use MemOp::*;
    use MemSpace::*;
    match class {
        MemoryClass::GlobalLoad => (Global, Load),
        MemoryClass::GlobalStore => (Global, Store),
        MemoryClass::GlobalAtomic => (Global, Atomic),
        MemoryClass::GlobalReduction => (Global, Reduction),
        MemoryClass::SharedLoad => (Shared, Load),
        MemoryClass::SharedStore => (Shared, Store),
        MemoryClass::SharedAtomic => (Shared, Atomic),
        MemoryClass::LocalLoad => (Local, Load),
        MemoryClass::LocalStore => (Local, Store),
        MemoryClass::ConstLoad => (Const, Load),
    }
}

/// A tensor-core operation: the instruction's class (`isa/*.toml`) and its run-time payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorOp {
    pub class: TensorClass,
    /// `tensor.ohmma_sparse`: the products land in the accumulation buffer at the cross product
    /// of `rows` x `cols` (bit r of `rows`: buffer row r, bit c of `cols`: buffer column c, both
    /// 0..32). At most 8 rows and 16 columns are set; see [`sparse_landing`].
    /// `tensor.spwmma_seq`: `rows` and `cols` are the A and B bitmaps of the buffer, from which
    /// the sequencer runs the OHMMAs [`spwmma_ohmmas`]. 0 for the other classes.
    pub rows: u32,
    pub cols: u32,
    /// The accumulation buffer of the warp context it uses (`.BUFn`, isa/otc.toml; 0 for the
    /// classes without a buffer).
    pub buf: u8,
}

impl TensorOp {
    /// The operation of a class without payload.
    pub const fn of(class: TensorClass) -> TensorOp {
        TensorOp { class, rows: 0, cols: 0, buf: 0 }
    }
}

/// `BAR` flavours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BarOp {
    Sync,
    Arrive,
    Red,
}

/// The per-event payload that timing needs beyond registers and masks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// Nothing more (ALU, branch, conversion, ... instructions).
    Plain,
    /// A memory access. `addrs` indexes [`WarpTrace::addrs`]: `executed.count_ones()` addresses
    /// follow, one per executed lane in ascending lane order. `bytes`: bytes per lane.
    Mem {
        space: MemSpace,
        op: MemOp,
        bytes: u8,
        addrs: u32,
    },
    /// `BAR`: barrier `id`, expected `threads` (0 = all threads of the CTA).
    Barrier {
        op: BarOp,
        id: u8,
        threads: u16,
    },
    /// `DEPBAR.LE SBsb, le` (only used with control bits).
    DepBar {
        sb: u8,
        le: u8,
    },
    /// `MEMBAR`: wait for this warp's outstanding memory operations.
    MemBar,
    /// `EXIT` (the executed lanes end).
    Exit,
    Tensor(TensorOp),
}

/// One warp-instruction issued by a warp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Byte offset of the instruction in the kernel.
    pub pc: u32,
    /// Lanes active at issue.
    pub active: u32,
    /// Active lanes whose guard predicate held (0: predicated off).
    pub executed: u32,
    /// Index into [`otc_isa::FORMS`].
    pub form: u16,
    /// Register groups read, in operand order (slot i is the i-th register-reading operand; the
    /// `.reuse` cache is per slot). Unused slots have `count == 0`.
    pub srcs: [RegGroup; 4],
    /// Register groups written.
    pub dsts: [RegGroup; 2],
    /// Predicates read (bit p = Pp; the guard included; PT never set).
    pub pred_reads: u8,
    /// Predicates written.
    pub pred_writes: u8,
    /// Bit i: source slot i carries `.reuse` (keep it in the operand reuse cache).
    pub reuse: u8,
    /// Volta control bits, when the program carried them (real listings).
    pub control: Option<Control>,
    pub kind: EventKind,
}

/// The static part of an [`Event`], computed once per kernel instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventTemplate {
    proto: Event,
}

impl EventTemplate {
    /// Static timing information of an instruction.
    pub fn new(inst: &Instruction) -> EventTemplate {
        let def = inst.def();
        let mut srcs = [RegGroup::NONE; 4];
        let mut dsts = [RegGroup::NONE; 2];
        let (mut ns, mut nd) = (0usize, 0usize);
        let mut pred_reads = 0u8;
        let mut pred_writes = 0u8;
        let mut reuse = 0u8;
        if inst.guard.index != PT {
            pred_reads |= 1 << inst.guard.index;
        }
        let mut push_src = |g: RegGroup, re: bool, srcs: &mut [RegGroup; 4], reuse: &mut u8| {
            if g.count == 0 {
                return;
            }
            if ns < srcs.len() {
                if re {
                    *reuse |= 1 << ns;
                }
                srcs[ns] = g;
                ns += 1;
            } else {
                // More register operands than slots (no current form): widen the last slot.
                debug_assert!(false, "more than 4 register sources");
            }
        };
        let global_pair = def.group("e").map(|g| def.mods[g].options[inst.mods[g] as usize] == "E").unwrap_or(false);
        for (i, (od, op)) in def.operands.iter().zip(&inst.operands).enumerate() {
            match (od.kind, op.value) {
                (Kind::R | Kind::G(_) | Kind::L(_), Value::Reg(r)) => {
                    let g = group(r, inst.operand_regs(i));
                    if od.write {
                        if g.count > 0 && nd < dsts.len() {
                            dsts[nd] = g;
                            nd += 1;
                        }
                    } else {
                        push_src(g, op.reuse, &mut srcs, &mut reuse);
                    }
                }
                (Kind::M, Value::Mem { base, .. }) => {
                    push_src(group(base, if global_pair { 2 } else { 1 }), op.reuse, &mut srcs, &mut reuse)
                }
                (Kind::CX, Value::ConstX { reg, .. }) => push_src(group(reg, 1), op.reuse, &mut srcs, &mut reuse),
                (Kind::P, Value::Pred(p)) if p != PT => {
                    if od.write {
                        pred_writes |= 1 << p;
                    } else {
                        pred_reads |= 1 << p;
                    }
                }
                (Kind::PR, _) => {
                    if od.write {
                        pred_writes |= 0x7f;
                    } else {
                        pred_reads |= 0x7f;
                    }
                }
                _ => {}
            }
        }
        let kind = match def.class {
            Class::Memory(m) => {
                let (space, op) = memory_access(m);
                let bytes = mem_bytes(inst);
                EventKind::Mem { space, op, bytes, addrs: 0 }
            }
            Class::Control(ControlClass::Bar) => {
                let op = match inst.modifier("op") {
                    "ARV" => BarOp::Arrive,
                    "RED" => BarOp::Red,
                    _ => BarOp::Sync,
                };
                let imm = |name: &str| {
                    def.operands.iter().position(|o| o.name == name).and_then(|i| match inst.operands[i].value {
                        Value::Imm(v) => Some(v),
                        _ => None,
                    })
                };
                EventKind::Barrier { op, id: imm("a").unwrap_or(0) as u8, threads: imm("b").unwrap_or(0) as u16 }
            }
            Class::Control(ControlClass::Depbar) => {
                let sb = inst.operands.iter().find_map(|o| match o.value {
                    Value::Scoreboard(s) => Some(s),
                    _ => None,
                });
                let le = inst.operands.iter().find_map(|o| match o.value {
                    Value::Imm(v) => Some(v),
                    _ => None,
                });
                EventKind::DepBar { sb: sb.unwrap_or(0), le: le.unwrap_or(0) as u8 }
            }
            Class::Control(ControlClass::Membar) => EventKind::MemBar,
            Class::Control(ControlClass::Exit) => EventKind::Exit,
            Class::Tensor(t) => EventKind::Tensor(TensorOp { buf: accb_index(inst), ..TensorOp::of(t) }),
            Class::Alu | Class::Warp(_) => EventKind::Plain,
        };
        EventTemplate {
            proto: Event {
                pc: 0,
                active: 0,
                executed: 0,
                form: inst.form,
                srcs,
                dsts,
                pred_reads,
                pred_writes,
                reuse,
                control: inst.control,
                kind,
            },
        }
    }

    /// The event of one issue of a non-memory instruction.
    #[inline]
    pub fn event(&self, pc: u32, active: u32, executed: u32) -> Event {
        Event { pc, active, executed, ..self.proto }
    }

    /// The accumulation buffer the instruction uses (0 for all but the OTC buffer classes).
    #[inline]
    fn accb_buffer(&self) -> u8 {
        match self.proto.kind {
            EventKind::Tensor(op) => op.buf,
            _ => 0,
        }
    }

    /// The event of a sparse OHMMA whose products land at `rows` x `cols` of the buffer.
    #[inline]
    pub fn sparse_ohmma(&self, pc: u32, active: u32, executed: u32, rows: u32, cols: u32) -> Event {
        let op = TensorOp { class: TensorClass::OhmmaSparse, rows, cols, buf: self.accb_buffer() };
        Event { pc, active, executed, kind: EventKind::Tensor(op), ..self.proto }
    }

    /// The event of a sequenced SpWMMA with the buffer's bitmaps `abm`, `bbm`.
    #[inline]
    pub fn spwmma_seq(&self, pc: u32, active: u32, executed: u32, abm: u32, bbm: u32) -> Event {
        let op = TensorOp { class: TensorClass::SpwmmaSeq, rows: abm, cols: bbm, buf: self.accb_buffer() };
        Event { pc, active, executed, kind: EventKind::Tensor(op), ..self.proto }
    }

    /// The event of a `BAR` whose operands were read at run time.
    #[inline]
    pub fn barrier(&self, pc: u32, active: u32, executed: u32, id: u8, threads: u16) -> Event {
        let op = match self.proto.kind {
            EventKind::Barrier { op, .. } => op,
            _ => BarOp::Sync,
        };
        Event { pc, active, executed, kind: EventKind::Barrier { op, id, threads }, ..self.proto }
    }

    /// The static event (pc, masks zero).
    pub fn proto(&self) -> &Event {
        &self.proto
    }
}

fn group(base: u8, count: u8) -> RegGroup {
    if base == RZ || count == 0 {
        return RegGroup::NONE;
    }
    let count = count.min(RZ - base);
    RegGroup { base, count }
}

/// Bytes per lane of a memory instruction (from its `size` or `type` modifier).
fn mem_bytes(inst: &Instruction) -> u8 {
    let def = inst.def();
    for name in ["size", "type"] {
        if let Some(g) = def.group(name) {
            let grp = &def.mods[g];
            let i = inst.mods[g] as usize;
            return match grp.options[i] {
                "U8" | "S8" => 1,
                "U16" | "S16" => 2,
                _ => grp.regs.get(i).copied().unwrap_or(1) * 4,
            };
        }
    }
    4
}

/// Rows and columns of the accumulation buffer where the products of sparse OHMMA (m, n) land:
/// the positions of the set bits of rank 8m..8m+7 of the A column bitmap and of rank
/// 16n..16n+15 of the B row bitmap (isa/otc.toml, opcode 0x513).
/// The OHMMAs (m, n) a sequenced SpWMMA runs for bitmaps `abm`, `bbm`, in its order (n, then
/// m), as a bit set: bit 4n + m when popc(abm) > 8m and popc(bbm) > 16n. Their count is
/// ceil(nnzA / 8) * ceil(nnzB / 16).
pub fn spwmma_ohmmas(abm: u32, bbm: u32) -> u8 {
    let (na, nb) = (abm.count_ones(), bbm.count_ones());
    let mut set = 0u8;
    for n in 0..2 {
        for m in 0..4 {
            if na > 8 * m && nb > 16 * n {
                set |= 1 << (4 * n + m);
            }
        }
    }
    set
}

pub fn sparse_landing(a_bitmap: u32, b_bitmap: u32, m: u8, n: u8) -> (u32, u32) {
    (ranks(a_bitmap, 8 * m as u32, 8), ranks(b_bitmap, 16 * n as u32, 16))
}

fn ranks(bitmap: u32, first: u32, count: u32) -> u32 {
    let mut out = 0u32;
    let mut rank = 0u32;
    let mut rest = bitmap;
    while rest != 0 {
        let bit = rest.trailing_zeros();
        rest &= rest - 1;
        if rank >= first && rank < first + count {
            out |= 1 << bit;
        }
        rank += 1;
    }
    out
}

/// The instructions issued by one warp.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WarpTrace {
    /// Warp index inside the CTA (threads 32w..32w+31).
    pub warp_in_cta: u32,
    pub events: Vec<Event>,
    /// Per-lane addresses of memory events (see [`EventKind::Mem`]).
    pub addrs: Vec<u64>,
}

impl WarpTrace {
    pub fn new(warp_in_cta: u32) -> WarpTrace {
        WarpTrace { warp_in_cta, events: Vec::new(), addrs: Vec::new() }
    }

    #[inline]
    pub fn push(&mut self, e: Event) {
        self.events.push(e);
    }

    /// Push a memory event; `addrs` yields one address per executed lane, ascending lanes.
    /// Panics (debug) when the count differs from the executed lanes.
    pub fn push_mem(
        &mut self,
        tpl: &EventTemplate,
        pc: u32,
        active: u32,
        executed: u32,
        addrs: impl IntoIterator<Item = u64>,
    ) {
        let start = self.addrs.len();
        self.addrs.extend(addrs);
        debug_assert_eq!(self.addrs.len() - start, executed.count_ones() as usize, "one address per executed lane");
        let mut e = tpl.event(pc, active, executed);
        if let EventKind::Mem { addrs, .. } = &mut e.kind {
            *addrs = start as u32;
        }
        self.events.push(e);
    }

    /// The addresses of a memory event (empty for other events).
    pub fn addresses(&self, e: &Event) -> &[u64] {
        match e.kind {
            EventKind::Mem { addrs, .. } => {
                let s = addrs as usize;
                // Empty for an event whose addresses the simulator dropped after the L2 pre-pass
                // (see `Simulator::push`).
                self.addrs.get(s..s + e.executed.count_ones() as usize).unwrap_or(&[])
            }
            _ => &[],
        }
    }
}

/// The warps of one CTA with its resource usage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CtaTrace {
    /// CTA index in the grid (x, y, z); informational (placement uses the push order).
    pub cta: [u32; 3],
    pub warps: Vec<WarpTrace>,
    /// Shared memory per CTA in bytes (static + dynamic).
    pub shared_bytes: u32,
    /// Registers per thread.
    pub regs_per_thread: u32,
    /// Threads per CTA.
    pub threads: u32,
}

/// Name of the form's mnemonic, for messages.
pub fn mnemonic(form: u16) -> &'static str {
    FORMS.get(form as usize).map(|f| f.mnemonic).unwrap_or("?")
}

/// The class of form `i` (an index into [`otc_isa::FORMS`]).
#[inline]
pub fn class_of(form: usize) -> Class {
    FORMS[form].class
}

/// Index of a unit in per-unit arrays.
#[inline]
pub fn unit_index(u: Unit) -> usize {
    match u {
        Unit::Int => 0,
        Unit::Fp32 => 1,
        Unit::Fp16 => 2,
        Unit::Fp64 => 3,
        Unit::Sfu => 4,
        Unit::Conv => 5,
        Unit::Mem => 6,
        Unit::Branch => 7,
        Unit::Tensor => 8,
        Unit::Misc => 9,
    }
}

/// Number of units.
pub const NUM_UNITS: usize = 10;

/// Unit names as used in the configuration (`units.<name>`), by [`unit_index`].
pub const UNIT_NAMES: [&str; NUM_UNITS] =
    ["int", "fp32", "fp16", "fp64", "sfu", "conv", "mem", "branch", "tensor", "misc"];

/// The accumulation-buffer index of an instruction: its `.BUFn` modifier (`buf` group, option
/// index = buffer), 0 without one.
fn accb_index(inst: &Instruction) -> u8 {
    match inst.modifier("buf") {
        "BUF1" => 1,
        "BUF2" => 2,
        "BUF3" => 3,
        _ => 0,
    }
}
