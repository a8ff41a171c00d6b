//! A program straight from an nvcc `.cubin`: the code of each `.text.FUNCTION` section decoded
//! word by word ([`crate::sm70`]) into the listing `cuobjdump -sass` would print, assembled like
//! any listing, then given the cubin's constant banks, `__device__` data and relocations
//! ([`Program::attach_cubin`]). No cuobjdump step is needed.

use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::read::{Object, ObjectSection, ObjectSymbol};
use object::Endianness;

use crate::cubin::{read_cubin, CubinData};
use crate::error::{AsmError, AsmErrorKind};
use crate::program::Program;
use crate::sm70;

/// `st_other` bit of a kernel entry point's symbol (`STO_CUDA_ENTRY`).
const STO_CUDA_ENTRY: u8 = 0x10;

/// One function's code: name, whether it is a kernel (an entry), registers (from the section's
/// `sh_info`, as `cuobjdump -res-usage` reads them), static shared bytes and the code. The local
/// memory size is left unknown (the device's default), as for a listing without -res-usage.
pub struct CubinFunction {
    pub name: String,
    pub entry: bool,
    pub regs: u32,
    pub shared: Option<u32>,
    pub code: Vec<u8>,
}

fn err(source: &str, m: String) -> AsmError {
    AsmError::new(AsmErrorKind::Cubin, source, 0, 0, m)
}

/// The functions of a cubin, in section order.
pub fn cubin_functions(data: &[u8], source: &str) -> Result<Vec<CubinFunction>, AsmError> {
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| err(source, format!("not a 64-bit ELF cubin: {e}")))?;
    let endian = file.endian();
    if file.elf_header().e_machine(endian) != object::elf::EM_CUDA {
        return Err(err(source, "an ELF file, but not for CUDA (e_machine is not EM_CUDA)".into()));
    }
    let mut out = Vec::new();
    for section in file.sections() {
        let Ok(name) = section.name() else { continue };
        let Some(function) = name.strip_prefix(".text.") else { continue };
        let code = section.data().map_err(|e| err(source, format!("section {name}: {e}")))?.to_vec();
        let regs = section.elf_section_header().sh_info(endian) >> 24;
        let entry = file.symbols().any(|s| s.name() == Ok(function) && s.elf_symbol().st_other.0 & STO_CUDA_ENTRY != 0);
        let shared = file
            .section_by_name(&format!(".nv.shared.{function}"))
            .map(|s| u32::try_from(s.size()).unwrap_or(u32::MAX));
        out.push(CubinFunction { name: function.to_string(), entry, regs, shared, code });
    }
    Ok(out)
}

/// The `cuobjdump -sass` listing of the functions: each word decoded, with its two halves in the
/// comments the listing reader takes the control bits from.
pub fn decode_listing(functions: &[&CubinFunction], source: &str) -> Result<String, AsmError> {
    let mut text = String::from("\n\tcode for sm_70\n");
    for f in functions {
        if f.code.len() % 16 != 0 {
            return Err(err(
                source,
                format!("function {}: {} code bytes, not whole 16-byte words", f.name, f.code.len()),
            ));
        }
        text.push_str(&format!("\t\tFunction : {}\n", f.name));
        for (i, chunk) in f.code.chunks_exact(16).enumerate() {
            let lo = u64::from_le_bytes(chunk[..8].try_into().expect("8 bytes"));
            let hi = u64::from_le_bytes(chunk[8..].try_into().expect("8 bytes"));
            let word = lo as u128 | (hi as u128) << 64;
            let pc = i as u32 * 16;
            let Some(inst) = sm70::decode_word(word, pc) else {
                return Err(err(
                    source,
                    format!(
                        "kernel {}, offset {pc:#06x}: cannot decode the sm_70 word 0x{hi:016x}_{lo:016x} ({})",
                        f.name,
                        sm70::nearest_known(word)
                    ),
                ));
            };
            text.push_str(&format!("        /*{pc:04x}*/ {inst} /* 0x{lo:016x} */\n        /* 0x{hi:016x} */\n"));
        }
        text.push_str("\t\t..........\n\n");
    }
    Ok(text)
}

/// The program of a cubin. `kernel`: only that kernel (by its symbol name) and the functions
/// that are not kernels (the ones -G code calls), so that a kernel the decoder cannot read does
/// not stop another from loading; None: every function.
pub fn program_from_cubin(data: &[u8], source: &str, kernel: Option<&str>) -> Result<Program, AsmError> {
    let functions = cubin_functions(data, source)?;
    if functions.is_empty() {
        return Err(err(source, "the cubin has no code (.text.* sections)".into()));
    }
    if let Some(k) = kernel {
        if !functions.iter().any(|f| f.name == k) {
            let names: Vec<&str> = functions.iter().filter(|f| f.entry).map(|f| f.name.as_str()).collect();
            return Err(err(source, format!("the cubin has no kernel {k} (kernels: {})", names.join(", "))));
        }
    }
    let chosen: Vec<&CubinFunction> =
        functions.iter().filter(|f| kernel.is_none_or(|k| f.name == k || !f.entry)).collect();
    let listing = decode_listing(&chosen, source)?;
    let mut program = crate::assemble(&listing, &format!("{source} (decoded)"))?;
    for k in &mut program.kernels {
        if let Some(f) = chosen.iter().find(|f| f.name == k.name) {
            if (1..=255).contains(&f.regs) {
                k.num_regs = f.regs;
                k.regs_declared = true;
            }
            // no .nv.shared.KERNEL section: no static shared memory (as -res-usage says SHARED:0)
            k.shared_bytes = Some(f.shared.unwrap_or(0));
        }
    }
    let mut cubin: CubinData = read_cubin(data, source)?;
    let keep = |owner: &str| program.kernel(owner).is_some();
    cubin.images.retain(|(owner, _)| owner.as_deref().is_none_or(keep));
    cubin.relocations.retain(|(owner, _)| keep(owner));
    program.attach_cubin(&cubin, source)?;
    Ok(program)
}
