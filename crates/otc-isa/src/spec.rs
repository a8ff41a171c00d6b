//! Types of the static instruction table that `isa/generate.py` writes into `generated.rs`.

use crate::class::Class;

/// A modifier group generated as an enum ([`crate::mods`]): option `i` of the group is `ALL[i]`.
pub trait ModifierEnum: Copy + 'static {
    /// The group's name (`cmp`).
    const GROUP: &'static str;
    /// Every option, in the order of `isa/*.toml`.
    const ALL: &'static [Self];
    /// The option's text (`LT`).
    fn text(self) -> &'static str;
}

/// A bit range inside the 128-bit instruction word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BitField {
    pub lo: u8,
    pub width: u8,
}

impl BitField {
    /// Mask of the field's value (not shifted).
    pub const fn mask(self) -> u128 {
        if self.width == 0 {
            0
        } else {
            (u128::MAX) >> (128 - self.width as u32)
        }
    }

    /// Read the field from a word.
    pub const fn get(self, word: u128) -> u64 {
        ((word >> self.lo) & self.mask()) as u64
    }

    /// Whether `value` fits in the field.
    pub const fn fits(self, value: u64) -> bool {
        (value as u128) & !self.mask() == 0
    }

    /// Write the field (the value must fit; callers check with [`BitField::fits`]).
    pub fn put(self, word: &mut u128, value: u64) {
        debug_assert!(self.fits(value));
        *word &= !(self.mask() << self.lo);
        *word |= ((value as u128) & self.mask()) << self.lo;
    }

    /// Offset a field given relative to another field (used for control sub-fields).
    pub const fn within(self, outer: BitField) -> BitField {
        BitField { lo: outer.lo + self.lo, width: self.width }
    }
}

/// Operand kinds (see `isa/encoding.toml` `[kinds]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// General register R0..R254, RZ.
    R,
    /// Group of N consecutive registers, printed as its base register (`R4`).
    G(u8),
    /// Group of N consecutive registers, printed as a list (`{R4, R5}`), the paper's OTC syntax.
    L(u8),
    /// Predicate P0..P6, PT.
    P,
    /// Unsigned immediate of the given width.
    U(u8),
    /// Signed immediate of the given width.
    S(u8),
    /// fp32 immediate.
    F32,
    /// fp16 immediate.
    F16,
    /// Constant bank operand `c[bank][offset]`.
    C,
    /// Constant bank operand with register index `c[bank][Rn+offset]`.
    CX,
    /// Memory operand `[Rn+offset]`.
    M,
    /// Special register.
    SR,
    /// Convergence barrier B0..B15.
    B,
    /// Scoreboard SB0..SB5.
    SB,
    /// Branch target (byte offset from the kernel start).
    T,
    /// The predicate file as a whole (`PR`).
    PR,
}

impl Kind {
    /// Number of registers of a group kind (1 for a plain register).
    pub fn group_size(self) -> u8 {
        match self {
            Kind::G(n) | Kind::L(n) => n,
            _ => 1,
        }
    }

    /// Short name as written in `isa/*.toml`.
    pub fn name(self) -> String {
        match self {
            Kind::R => "R".into(),
            Kind::G(n) => format!("G{n}"),
            Kind::L(n) => format!("L{n}"),
            Kind::P => "P".into(),
            Kind::U(n) => format!("U{n}"),
            Kind::S(n) => format!("S{n}"),
            Kind::F32 => "F32".into(),
            Kind::F16 => "F16".into(),
            Kind::C => "C".into(),
            Kind::CX => "CX".into(),
            Kind::M => "M".into(),
            Kind::SR => "SR".into(),
            Kind::B => "B".into(),
            Kind::SB => "SB".into(),
            Kind::T => "T".into(),
            Kind::PR => "PR".into(),
        }
    }

    /// What an operand of this kind looks like, for error messages.
    pub fn describe(self) -> String {
        match self {
            Kind::R => "a register (R0..R254, RZ)".into(),
            Kind::G(n) | Kind::L(n) => format!("a group of {n} registers (R4 or {{R4, ...}})"),
            Kind::P => "a predicate (P0..P6, PT)".into(),
            Kind::U(n) => format!("an unsigned {n}-bit immediate"),
            Kind::S(n) => format!("a signed {n}-bit immediate"),
            Kind::F32 => "an fp32 immediate".into(),
            Kind::F16 => "an fp16 immediate".into(),
            Kind::C => "a constant c[bank][offset]".into(),
            Kind::CX => "a constant c[bank][Rn+offset]".into(),
            Kind::M => "a memory operand [Rn+offset]".into(),
            Kind::SR => "a special register (SR_TID.X, ...)".into(),
            Kind::B => "a convergence barrier (B0..B15)".into(),
            Kind::SB => "a scoreboard (SB0..SB5)".into(),
            Kind::T => "a branch target (label or byte offset)".into(),
            Kind::PR => "PR".into(),
        }
    }
}

/// Operand flags (see `isa/encoding.toml` `[flags]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    Neg,
    Abs,
    Not,
    Reuse,
    Swz,
    Hsel,
    Bsel,
    Layout,
}

/// A flag's bits inside an operand's encoding.
#[derive(Clone, Copy, Debug)]
pub struct FlagField {
    pub flag: Flag,
    pub field: BitField,
}

/// One operand of a form.
#[derive(Clone, Copy, Debug)]
pub struct OperandDef {
    pub name: &'static str,
    pub kind: Kind,
    /// The operand is written by the instruction.
    pub write: bool,
    /// For `R*group` operands: index of the modifier group whose option gives the register count.
    pub regs_from: Option<usize>,
    pub field: BitField,
    pub flags: &'static [FlagField],
}

impl OperandDef {
    /// Whether the operand accepts `flag`.
    pub fn allows(&self, flag: Flag) -> bool {
        self.flags.iter().any(|f| f.flag == flag)
    }
}

/// A group of mutually exclusive modifiers (`.GE`, `.LT`, ...).
#[derive(Clone, Copy, Debug)]
pub struct ModGroupDef {
    pub name: &'static str,
    /// The options; an empty first option means the group may be omitted.
    pub options: &'static [&'static str],
    /// Register count per option, for operands of kind `R*group` (empty when not annotated).
    pub regs: &'static [u8],
    pub field: BitField,
}

impl ModGroupDef {
    /// The group must be written (it has no empty option).
    pub fn required(&self) -> bool {
        !self.options.contains(&"")
    }
}

/// Functional unit that executes an instruction (latency and throughput come from the SM config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    Int,
    Fp32,
    Fp16,
    Fp64,
    Sfu,
    Conv,
    Mem,
    Branch,
    Tensor,
    Misc,
}

/// One encoding form: an instruction family with one combination of operand kinds.
#[derive(Clone, Copy, Debug)]
pub struct FormDef {
    pub mnemonic: &'static str,
    pub opcode: u16,
    pub form: u8,
    pub unit: Unit,
    /// What kind of work the instruction is (`class` in `isa/*.toml`).
    pub class: Class,
    pub summary: &'static str,
    pub mods: &'static [ModGroupDef],
    pub operands: &'static [OperandDef],
}

impl FormDef {
    /// Index of the modifier group called `name`.
    pub fn group(&self, name: &str) -> Option<usize> {
        self.mods.iter().position(|g| g.name == name)
    }

    /// Number of registers operand `i` covers with the modifier options `mods`: the option's count
    /// for `R*group` operands, the group size of G and L kinds, 1 otherwise.
    pub fn operand_regs(&self, mods: &[u8], i: usize) -> u8 {
        let od = &self.operands[i];
        match od.regs_from {
            Some(g) => mods.get(g).and_then(|&o| self.mods[g].regs.get(o as usize)).copied().unwrap_or(1),
            None => od.kind.group_size(),
        }
    }
}
