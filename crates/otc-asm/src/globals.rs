//! Module globals: the `__device__` variables of a cubin, and the relocations that put their
//! addresses into the code.
//!
//! nvcc keeps initialised `__device__` data (the user's, and its libm tables such as
//! `__cudart_i2opi_f`) in the section `.nv.global.init` and zero-initialised data in
//! `.nv.global` (no file data). The code loads an address with a pair of `MOV Rn, 0x0`
//! whose 32-bit immediates the CUDA loader patches: relocations `R_CUDA_ABS32_LO_32` and
//! `R_CUDA_ABS32_HI_32` (the low and high halves of symbol + addend) in `.rel.text.KERNEL`. A
//! `cuobjdump -sass` listing shows those immediates unpatched (`0x0`).
//!
//! [`ModuleGlobals`] is one segment of global memory holding both sections (`.nv.global.init`
//! from offset 0, then `.nv.global`); a device allocates it once per loaded program, as the CUDA
//! driver does once per module, and [`Kernel::relocated_instructions`] patches a kernel's code
//! with the segment's address.

use otc_isa::{Instruction, Kind, Value};

use crate::program::Kernel;

/// A `__device__` variable: its place in the module's global segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalSymbol {
    pub name: String,
    pub offset: u64,
    pub size: u64,
}

/// The global segment of a module: its size, the initialised bytes at its start (the rest is
/// zeros) and the variables in it. Empty for a program without `__device__` data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleGlobals {
    pub size: u64,
    pub init: Vec<u8>,
    pub symbols: Vec<GlobalSymbol>,
}

/// Largest global segment accepted from a cubin (the device's largest allocation is larger; this
/// keeps a corrupted size from asking for it).
pub const MAX_GLOBAL_BYTES: u64 = 1 << 30;

impl ModuleGlobals {
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    pub fn symbol(&self, name: &str) -> Option<&GlobalSymbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    /// The segment is at most [`MAX_GLOBAL_BYTES`], holds its initialised bytes and its symbols.
    pub fn check(&self) -> Result<(), String> {
        if self.size > MAX_GLOBAL_BYTES {
            return Err(format!("a global segment of {} bytes (at most {MAX_GLOBAL_BYTES})", self.size));
        }
        if self.init.len() as u64 > self.size {
            return Err(format!("{} initialised bytes in a global segment of {}", self.init.len(), self.size));
        }
        for s in &self.symbols {
            if s.offset.checked_add(s.size).is_none_or(|end| end > self.size) {
                return Err(format!(
                    "global `{}` at {:#x} ({} bytes) is outside the {}-byte global segment",
                    s.name, s.offset, s.size, self.size
                ));
            }
        }
        Ok(())
    }
}

/// What a relocation writes into the 32-bit immediate of an instruction (bits 32..63 of the
/// Volta instruction word): the ELF types of nvcc's cubins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// `R_CUDA_ABS32_32`: the address (it must fit in 32 bits).
    Abs32,
    /// `R_CUDA_ABS32_LO_32`: the low 32 bits of the address.
    Lo32,
    /// `R_CUDA_ABS32_HI_32`: the high 32 bits.
    Hi32,
}

impl RelocKind {
    pub const ALL: [RelocKind; 3] = [RelocKind::Abs32, RelocKind::Lo32, RelocKind::Hi32];

    /// The ELF relocation type number (`r_type`).
    pub fn elf_type(self) -> u32 {
        match self {
            RelocKind::Abs32 => 55,
            RelocKind::Lo32 => 56,
            RelocKind::Hi32 => 57,
        }
    }

    /// The name `cuobjdump -elf` prints.
    pub fn name(self) -> &'static str {
        match self {
            RelocKind::Abs32 => "R_CUDA_ABS32_32",
            RelocKind::Lo32 => "R_CUDA_ABS32_LO_32",
            RelocKind::Hi32 => "R_CUDA_ABS32_HI_32",
        }
    }

    pub fn from_elf_type(t: u32) -> Option<RelocKind> {
        RelocKind::ALL.into_iter().find(|k| k.elf_type() == t)
    }

    pub fn from_name(name: &str) -> Option<RelocKind> {
        RelocKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The value written for an absolute address, or None when it does not fit.
    pub fn field(self, address: u64) -> Option<u32> {
        match self {
            RelocKind::Abs32 => u32::try_from(address).ok(),
            RelocKind::Lo32 => Some(address as u32),
            RelocKind::Hi32 => Some((address >> 32) as u32),
        }
    }
}

/// One relocation of a kernel's code: the instruction at byte offset `pc` gets, in its 32-bit
/// immediate, the address `segment base + target` as `kind` says (`target` is the variable's
/// offset in the segment plus the addend).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Relocation {
    pub pc: u32,
    pub kind: RelocKind,
    pub target: u64,
}

/// The operand a relocation patches: the only 32-bit integer immediate of the instruction
/// (`MOV Rn, 0x0`, `IMAD.MOV.U32 Rn, RZ, RZ, 0x0`, `IADD3 Rn, Rn, 0x0, RZ`, ...).
fn immediate_operand(inst: &Instruction) -> Option<usize> {
    let def = inst.def();
    let mut found = None;
    for (i, (od, op)) in def.operands.iter().zip(&inst.operands).enumerate() {
        if matches!(od.kind, Kind::U(32) | Kind::S(32)) && matches!(op.value, Value::Imm(_)) {
            if found.is_some() {
                return None;
            }
            found = Some(i);
        }
    }
    found
}

impl Kernel {
    /// Each relocation patches an instruction of the kernel that has one 32-bit immediate, with
    /// an address inside (or just past the end of) a global segment of `segment_bytes`.
    pub fn check_relocations(&self, segment_bytes: u64) -> Result<(), String> {
        for r in &self.relocations {
            let at = format!("kernel {}: relocation {} at pc {:#06x}", self.name, r.kind.name(), r.pc);
            let Some(inst) = (r.pc % 16 == 0).then(|| self.instructions.get(r.pc as usize / 16)).flatten() else {
                return Err(format!("{at} is not at an instruction of the kernel"));
            };
            if immediate_operand(inst).is_none() {
                return Err(format!("{at} patches a 32-bit immediate, but `{}` has none (or several)", inst.text()));
            }
            if segment_bytes == 0 || r.target > segment_bytes {
                return Err(format!(
                    "{at} points at offset {:#x}, outside the {segment_bytes}-byte global segment",
                    r.target
                ));
            }
        }
        Ok(())
    }

    /// The kernel's code with its relocations applied for a global segment at address `base`.
    pub fn relocated_instructions(&self, base: u64) -> Result<Vec<Instruction>, String> {
        let mut code = self.instructions.clone();
        for r in &self.relocations {
            let address = base.checked_add(r.target).ok_or("address overflow")?;
            let value = r.kind.field(address).ok_or_else(|| {
                format!(
                    "kernel {}: relocation {} at pc {:#06x}: address {address:#x} does not fit in 32 bits",
                    self.name,
                    r.kind.name(),
                    r.pc
                )
            })?;
            let inst = code
                .get_mut(r.pc as usize / 16)
                .ok_or_else(|| format!("kernel {}: relocation at pc {:#06x} past the code", self.name, r.pc))?;
            let i = immediate_operand(inst).ok_or_else(|| {
                format!("kernel {}: relocation at pc {:#06x}: the instruction has no 32-bit immediate", self.name, r.pc)
            })?;
            inst.operands[i].value = Value::Imm(value);
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Program;

    fn program_with_relocations(relocations: Vec<Relocation>) -> Program {
        let mut p = crate::assemble(
            ".kernel k\nMOV R4, 0x0 ;\nMOV R5, 0x0 ;\nIADD3 R6, R4, 0x10, RZ ;\nLDG.E.SYS R0, [R4] ;\nEXIT ;\n",
            "t",
        )
        .unwrap();
        p.globals = ModuleGlobals {
            size: 0x40,
            init: vec![7; 8],
            symbols: vec![GlobalSymbol { name: "v".into(), offset: 0x20, size: 0x20 }],
        };
        p.kernels[0].relocations = relocations;
        p
    }

    fn reloc(pc: u32, kind: RelocKind, target: u64) -> Relocation {
        Relocation { pc, kind, target }
    }

    #[test]
    fn relocations_patch_the_immediates() {
        let p = program_with_relocations(vec![reloc(0x0, RelocKind::Lo32, 0x20), reloc(0x10, RelocKind::Hi32, 0x20)]);
        p.check().unwrap();
        let code = p.kernels[0].relocated_instructions(0x7_0000_0100).unwrap();
        assert_eq!(code[0].text(), "MOV R4, 0x120");
        assert_eq!(code[1].text(), "MOV R5, 0x7");
        assert_eq!(code[2..], p.kernels[0].instructions[2..]);
        let abs = program_with_relocations(vec![reloc(0x20, RelocKind::Abs32, 0x0)]);
        assert_eq!(abs.kernels[0].relocated_instructions(0x1000).unwrap()[2].text(), "IADD3 R6, R4, 0x1000, RZ");
        let e = abs.kernels[0].relocated_instructions(1 << 32).unwrap_err();
        assert!(e.contains("does not fit in 32 bits"), "{e}");
        // the binary format keeps the segment and the relocations
        assert_eq!(Program::from_bytes(&p.to_bytes(), "b").unwrap(), p);
    }

    #[test]
    fn bad_relocations_fail_the_check() {
        let cases = [
            (reloc(0x8, RelocKind::Lo32, 0), "not at an instruction"),
            (reloc(0x50, RelocKind::Lo32, 0), "not at an instruction"),
            (reloc(0x30, RelocKind::Lo32, 0), "`LDG.E.SYS R0, [R4]` has none"),
            (reloc(0x0, RelocKind::Lo32, 0x41), "outside the 64-byte global segment"),
        ];
        for (r, phrase) in cases {
            let e = program_with_relocations(vec![r]).check().unwrap_err();
            assert!(e.contains(phrase), "{r:?}: {e}");
        }
        let mut p = program_with_relocations(vec![]);
        p.globals.symbols[0].size = 0x21;
        assert!(p.check().unwrap_err().contains("outside the 64-byte global segment"));
        p.globals.symbols[0].size = 0x20;
        p.globals.init = vec![0; 0x41];
        assert!(p.check().unwrap_err().contains("65 initialised bytes"));
    }
}
