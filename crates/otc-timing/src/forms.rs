//! Per-form static tables, built once from `otc_isa::FORMS` (no string work per event).

use std::sync::OnceLock;

use otc_isa::{FormDef, Unit, FORMS};

use crate::trace::{AccbOp, MemOp, MemSpace, TensorOp};

/// Tensor-core instruction classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TensorClass {
    Hmma884F32,
    Hmma884F16,
    OhmmaF32,
    OhmmaF16,
    OhmmaSparse,
    Bohmma,
    Accb(AccbOp),
    /// Sequenced SpWMMA (`HMMA.SPWMMA.32321`).
    SpwmmaSeq,
}

impl TensorClass {
    pub fn to_op(self, step: u8) -> TensorOp {
        match self {
            TensorClass::Hmma884F32 => TensorOp::Hmma884 { step, f16: false },
            TensorClass::Hmma884F16 => TensorOp::Hmma884 { step, f16: true },
            TensorClass::OhmmaF32 => TensorOp::Ohmma { f16: false },
            TensorClass::OhmmaF16 => TensorOp::Ohmma { f16: true },
            TensorClass::OhmmaSparse => TensorOp::OhmmaSparse { rows: 0, cols: 0 },
            TensorClass::Bohmma => TensorOp::Bohmma,
            TensorClass::Accb(op) => TensorOp::Accb(op),
            TensorClass::SpwmmaSeq => TensorOp::SpwmmaSeq { abm: 0, bbm: 0 },
        }
    }
}

/// What the cycle model does with an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Fixed-latency pipeline instruction.
    Alu,
    Mem {
        space: MemSpace,
        op: MemOp,
    },
    /// Warp shuffle (MIO, fixed latency).
    Shfl,
    MemBar,
    /// `BAR` (its flavour, id and count are in the event payload).
    Bar,
    DepBar,
    Exit,
    Tensor(TensorClass),
}

/// Static facts about one form.
#[derive(Clone, Copy, Debug)]
pub struct FormInfo {
    pub unit: Unit,
    pub class: Class,
    pub mnemonic: &'static str,
}

fn option0<'a>(def: &'a FormDef, group: &str) -> &'a str {
    def.group(group).map(|g| def.mods[g].options[0]).unwrap_or("")
}

fn classify(def: &FormDef) -> Class {
    use MemOp::*;
    use MemSpace::*;
    let mem = |space, op| Class::Mem { space, op };
    match def.mnemonic {
        "LDG" => mem(Global, Load),
        "STG" => mem(Global, Store),
        "LDS" => mem(Shared, Load),
        "STS" => mem(Shared, Store),
        "LDL" => mem(Local, Load),
        "STL" => mem(Local, Store),
        "LDC" => mem(Const, Load),
        "ATOMG" => mem(Global, Atomic),
        "RED" => mem(Global, Reduction),
        "ATOMS" => mem(Shared, Atomic),
        "SHFL" => Class::Shfl,
        "MEMBAR" => Class::MemBar,
        "EXIT" => Class::Exit,
        "DEPBAR" => Class::DepBar,
        "BAR" => Class::Bar,
        "HMMA" => {
            let shape = option0(def, "shape");
            let f16 = option0(def, "dtype") == "F16";
            Class::Tensor(match shape {
                "884" if f16 => TensorClass::Hmma884F16,
                "884" => TensorClass::Hmma884F32,
                "OHMMA" if def.group("sp").is_some() => TensorClass::OhmmaSparse,
                "OHMMA" if f16 => TensorClass::OhmmaF16,
                "OHMMA" => TensorClass::OhmmaF32,
                "BOHMMA" => TensorClass::Bohmma,
                "SPWMMA" => TensorClass::SpwmmaSeq,
                _ => TensorClass::Hmma884F32,
            })
        }
        "ACCB" => Class::Tensor(TensorClass::Accb(match option0(def, "op") {
            "CLEAR" => AccbOp::Clear,
            "BMAP" => AccbOp::Bmap,
            "MOV" => AccbOp::Mov,
            "STS" => AccbOp::Sts,
            _ => AccbOp::Lds,
        })),
        _ => Class::Alu,
    }
}

static TABLE: OnceLock<Vec<FormInfo>> = OnceLock::new();

/// The table of every form.
pub fn table() -> &'static [FormInfo] {
    TABLE.get_or_init(|| {
        FORMS.iter().map(|d| FormInfo { unit: d.unit, class: classify(d), mnemonic: d.mnemonic }).collect()
    })
}

/// Static facts about form `i`.
#[inline]
pub fn form_info(i: usize) -> &'static FormInfo {
    &table()[i]
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
