//! The otc-emu instruction set: the static table generated from `isa/*.toml`, decoded
//! instructions, their 128-bit encoding, and their canonical text.
//!
//! This crate knows nothing about execution or assembly syntax beyond one instruction's text;
//! the assembler lives in `otc-asm`, the semantics in `otc-sim`.

#[rustfmt::skip]
pub mod class;
pub mod fragments;
#[rustfmt::skip]
pub mod generated;
pub mod inst;
pub mod spec;
pub mod text;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use class::{Class, ControlClass, MemoryClass, TensorClass, WarpClass};
pub use generated::{mods, opcode, FORMAT_VERSION, FORMS, SPECIAL_REGISTERS};
pub use inst::{validate_operand, Control, Defect, Instruction, Invalid, Operand, Pred, Value, PT, RZ};
pub use spec::{BitField, Flag, FormDef, Kind, ModGroupDef, ModifierEnum, OperandDef, Unit};

/// Errors of encoding and decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IsaError {
    #[error("no instruction has opcode {opcode:#05x} form {form}")]
    UnknownEncoding { opcode: u16, form: u8 },
    #[error("{0}")]
    Field(String),
}

/// Index into [`FORMS`] of the form with this opcode and form number.
pub fn form_index(opcode: u16, form: u8) -> Option<usize> {
    FORMS.binary_search_by(|f| (f.opcode, f.form).cmp(&(opcode, form))).ok()
}

/// Indices into [`FORMS`] of every form of a mnemonic (`"HMMA"`), in table order.
pub fn forms_of(mnemonic: &str) -> &'static [usize] {
    static MAP: OnceLock<HashMap<&'static str, Vec<usize>>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut m: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for (i, f) in FORMS.iter().enumerate() {
            m.entry(f.mnemonic).or_default().push(i);
        }
        m
    });
    map.get(mnemonic).map(|v| v.as_slice()).unwrap_or(&[])
}

/// All mnemonics, sorted (for "did you mean" suggestions).
pub fn mnemonics() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = FORMS.iter().map(|f| f.mnemonic).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Code of a special register by name (`SR_TID.X`).
pub fn special_register(name: &str) -> Option<u8> {
    SPECIAL_REGISTERS.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}

/// Name of a special register code.
pub fn special_register_name(code: u8) -> Option<&'static str> {
    SPECIAL_REGISTERS.iter().find(|&&(_, c)| c == code).map(|&(n, _)| n)
}

/// The text options of a suffix flag (index 0 = no suffix).
pub fn suffix_options(flag: Flag) -> &'static [&'static str] {
    match flag {
        Flag::Swz => generated::FLAG_SWZ_OPTIONS,
        Flag::Hsel => generated::FLAG_HSEL_OPTIONS,
        Flag::Bsel => generated::FLAG_BSEL_OPTIONS,
        Flag::Layout => generated::FLAG_LAYOUT_OPTIONS,
        _ => &[],
    }
}
