//! The otc-emu assembler and disassembler, one implementation for Python and the CLI.
//!
//! - [`assemble`] reads the own SASS-shaped dialect or a real `cuobjdump -sass` listing for sm_70
//!   (see [`parse`] for the dialect) and returns a [`Program`].
//! - [`disassemble`] prints canonical text that assembles back to the same code.
//! - [`Program::to_bytes`] / [`Program::from_bytes`] are the versioned binary format.
//! - [`textforms`] rewrites the other toolchain outputs (fatbinaries with several architectures,
//!   `nvdisasm`) into that listing.
//! - [`program_from_cubin`] decodes the code of an nvcc `.cubin` itself ([`sm70`]: NVIDIA's
//!   instruction words, by the table `isa/sm70_learn.py` learns from the corpus).
//! - [`read_cubin`] reads the constant banks, `__device__` variables and code relocations of an
//!   nvcc `.cubin`, [`Program::attach_cubin`] gives them to the kernels of a listing.
//!
//! Instruction matching is driven by the generated table in `otc-isa`: nothing here knows any
//! particular instruction.

pub mod cubin;
pub mod cubin_code;
pub mod disasm;
pub mod error;
pub mod globals;
mod macros;
mod matcher;
mod operand;
pub mod parse;
pub mod program;
pub mod sm70;
mod stmt;
mod suggest;
pub mod textforms;

pub use cubin::{read_cubin, read_cubin_data, read_elf_text, CubinData};
pub use cubin_code::program_from_cubin;
pub use disasm::{disassemble, disassemble_kernel};
pub use error::{AsmError, AsmErrorKind};
pub use globals::{GlobalSymbol, ModuleGlobals, RelocKind, Relocation};
pub use parse::assemble;
pub use program::{ConstImage, Kernel, Param, ParamType, Program, PARAM_BASE};

/// Load a program from bytes: the binary format if it starts with its magic, an nvcc `.cubin`
/// (ELF: its code decoded, [`program_from_cubin`]), else source text.
pub fn load_bytes(data: &[u8], source: &str) -> Result<Program, AsmError> {
    if Program::is_binary(data) {
        return Program::from_bytes(data, source);
    }
    if data.starts_with(b"\x7fELF") {
        return program_from_cubin(data, source, None);
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
