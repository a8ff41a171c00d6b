//! The otc-emu assembler and disassembler, one implementation for Python and the CLI.
//!
//! - [`assemble`] reads the own SASS-shaped dialect or a real `cuobjdump -sass` listing for sm_70
//!   (see [`parse`] for the dialect) and returns a [`Program`].
//! - [`disassemble`] prints canonical text that assembles back to the same code.
//! - [`Program::to_bytes`] / [`Program::from_bytes`] are the versioned binary format.
//!
//! Instruction matching is driven by the generated table in `otc-isa`: nothing here knows any
//! particular instruction.

pub mod disasm;
pub mod error;
mod macros;
mod matcher;
mod operand;
pub mod parse;
pub mod program;
mod stmt;
mod suggest;

pub use disasm::{disassemble, disassemble_kernel};
pub use error::{AsmError, AsmErrorKind};
pub use parse::assemble;
pub use program::{Kernel, Param, ParamType, Program, PARAM_BASE};

/// Load a program from bytes: the binary format if it starts with its magic, else source text.
pub fn load_bytes(data: &[u8], source: &str) -> Result<Program, AsmError> {
    if Program::is_binary(data) {
        return Program::from_bytes(data, source);
    }
    match std::str::from_utf8(data) {
        Ok(text) => assemble(text, source),
        Err(e) => {
            let upto = &data[..e.valid_up_to()];
            let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = upto.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            Err(AsmError::new(
                AsmErrorKind::Syntax,
                source,
                line,
                col,
                "not UTF-8 text and not an otc-emu binary program",
            ))
        }
    }
}
