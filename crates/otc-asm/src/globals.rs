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

/// What a relocation writes, and where: the ELF types of nvcc's cubins. All but
/// [`RelocKind::Abs47`] write the 32-bit immediate of an instruction (bits 32..63 of the Volta
/// instruction word).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// `R_CUDA_ABS32_32`: the address (it must fit in 32 bits).
    Abs32,
    /// `R_CUDA_ABS32_LO_32`: the low 32 bits of the address.
    Lo32,
    /// `R_CUDA_ABS32_HI_32`: the high 32 bits.
    Hi32,
    /// `R_CUDA_ABS47_34`: the target of a `CALL.ABS` (-G code calling another function).
    Abs47,
}

impl RelocKind {
    pub const ALL: [RelocKind; 4] = [RelocKind::Abs32, RelocKind::Lo32, RelocKind::Hi32, RelocKind::Abs47];

    /// The ELF relocation type number (`r_type`).
    pub fn elf_type(self) -> u32 {
        match self {
            RelocKind::Abs32 => 55,
            RelocKind::Lo32 => 56,
            RelocKind::Hi32 => 57,
            RelocKind::Abs47 => 58,
        }
    }

    /// The name `cuobjdump -elf` prints.
    pub fn name(self) -> &'static str {
        match self {
            RelocKind::Abs32 => "R_CUDA_ABS32_32",
            RelocKind::Lo32 => "R_CUDA_ABS32_LO_32",
            RelocKind::Hi32 => "R_CUDA_ABS32_HI_32",
            RelocKind::Abs47 => "R_CUDA_ABS47_34",
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
            RelocKind::Abs32 | RelocKind::Abs47 => u32::try_from(address).ok(),
            RelocKind::Lo32 => Some(address as u32),
            RelocKind::Hi32 => Some((address >> 32) as u32),
        }
    }
}

/// One relocation of a kernel's code: the instruction at byte offset `pc` gets the address
/// `target` of `function` (another function of the program, -G code's calls and return
/// addresses: an offset in the linked code, see [`Program::linked_code`]) or, without a function,
/// `segment base + target` (a `__device__` variable's offset in the global segment plus the
/// addend), as `kind` says.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relocation {
    pub pc: u32,
    pub kind: RelocKind,
    pub target: u64,
    pub function: Option<String>,
}

/// The operand a relocation patches: the branch target of a `CALL` ([`RelocKind::Abs47`]) or
/// the only 32-bit integer immediate of the instruction (`MOV Rn, 0x0`, `IMAD.MOV.U32 Rn, RZ, RZ,
/// 0x0`, `IADD3 Rn, Rn, 0x0, RZ`, ...).
fn patched_operand(inst: &Instruction, kind: RelocKind) -> Option<usize> {
    let def = inst.def();
    if kind == RelocKind::Abs47 {
        return (def.mnemonic == "CALL").then(|| def.operands.iter().position(|o| o.kind == Kind::T)).flatten();
    }
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

/// Whether `inst` is a call by absolute address (`CALL.ABS`), which needs a relocation.
fn is_absolute_call(inst: &Instruction) -> bool {
    inst.def().mnemonic == "CALL" && inst.opcode_text().contains(".ABS")
}

impl Kernel {
    /// Each relocation patches an instruction of the kernel that has the operand its kind
    /// writes, with an address inside (or just past the end of) a global segment of
    /// `segment_bytes` or of the code of a function of the program (`code_bytes` of a name).
    pub fn check_relocations(
        &self,
        segment_bytes: u64,
        code_bytes: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<(), String> {
        for r in &self.relocations {
            let at = format!("kernel {}: relocation {} at pc {:#06x}", self.name, r.kind.name(), r.pc);
            let Some(inst) = (r.pc % 16 == 0).then(|| self.instructions.get(r.pc as usize / 16)).flatten() else {
                return Err(format!("{at} is not at an instruction of the kernel"));
            };
            if patched_operand(inst, r.kind).is_none() {
                let what = if r.kind == RelocKind::Abs47 { "a CALL target" } else { "a 32-bit immediate" };
                return Err(format!("{at} patches {what}, but `{}` has none (or several)", inst.text()));
            }
            match &r.function {
                Some(f) => match code_bytes(f) {
                    None => return Err(format!("{at} points into function {f}, which the program does not have")),
                    Some(n) if r.target > n as u64 => {
                        return Err(format!("{at} points at offset {:#x}, past the code of {f}", r.target))
                    }
                    _ => {}
                },
                None if segment_bytes == 0 || r.target > segment_bytes => {
                    return Err(format!(
                        "{at} points at offset {:#x}, outside the {segment_bytes}-byte global segment",
                        r.target
                    ))
                }
                None => {}
            }
        }
        Ok(())
    }

    /// The pcs of the kernel's `CALL.ABS` instructions that no relocation patches: a -G listing
    /// without its cubin, whose calls cannot be run.
    pub fn unlinked_calls(&self) -> Vec<u32> {
        let patched: std::collections::HashSet<u32> =
            self.relocations.iter().filter(|r| r.kind == RelocKind::Abs47).map(|r| r.pc).collect();
        (0..self.instructions.len() as u32)
            .map(|i| i * 16)
            .filter(|pc| is_absolute_call(&self.instructions[*pc as usize / 16]) && !patched.contains(pc))
            .collect()
    }
}

impl crate::Program {
    /// The code that a launch of `kernel` runs: the kernel followed by every function it calls
    /// through relocations (transitively, each once, in the order first called), the branch
    /// targets of each appended function moved to where it now lies, and every relocation
    /// applied: a `__device__` variable's address for a global segment at `globals_base`, a
    /// function's address as its offset in this code (the program counter is the offset from
    /// the kernel's start). Also returns the most registers any of the functions uses.
    pub fn linked_code(&self, kernel: &str, globals_base: u64) -> Result<(Vec<Instruction>, u32), String> {
        let index = |name: &str| self.kernels.iter().position(|k| k.name == name);
        let first = index(kernel).ok_or_else(|| format!("the program has no kernel `{kernel}`"))?;
        let mut order = vec![first];
        let mut i = 0;
        while i < order.len() {
            for r in &self.kernels[order[i]].relocations {
                if let Some(f) = &r.function {
                    let j = index(f)
                        .ok_or_else(|| format!("kernel {kernel} calls {f}, which the program does not have"))?;
                    if !order.contains(&j) {
                        order.push(j);
                    }
                }
            }
            i += 1;
        }
        let mut bases = Vec::with_capacity(order.len());
        let mut code = Vec::new();
        for &j in &order {
            let base = code.len() as u32 * 16;
            bases.push((self.kernels[j].name.as_str(), base));
            for inst in &self.kernels[j].instructions {
                let mut inst = inst.clone();
                if base > 0 && inst.def().mnemonic != "RET" {
                    // branch targets are offsets from the function's start (RET's is added to a
                    // return address, which is already one of this code)
                    for (od, op) in inst.def().operands.iter().zip(inst.operands.iter_mut()) {
                        if let (Kind::T, Value::Imm(t)) = (od.kind, &mut op.value) {
                            *t += base;
                        }
                    }
                }
                code.push(inst);
            }
        }
        let total = code.len() as u64 * 16;
        if total > crate::program::MAX_INSTRUCTIONS as u64 * 16 {
            return Err(format!(
                "kernel {kernel} and the functions it calls exceed {} instructions",
                crate::program::MAX_INSTRUCTIONS
            ));
        }
        let base_of = |name: &str| bases.iter().find(|(n, _)| *n == name).map(|(_, b)| *b as u64);
        for (&j, &(fname, base)) in order.iter().zip(&bases) {
            for r in &self.kernels[j].relocations {
                let at = || format!("{fname}: relocation {} at pc {:#06x}", r.kind.name(), r.pc);
                let address = match &r.function {
                    Some(f) => base_of(f).unwrap_or(0) + r.target,
                    None => globals_base.checked_add(r.target).ok_or_else(|| format!("{}: address overflow", at()))?,
                };
                let value = r
                    .kind
                    .field(address)
                    .ok_or_else(|| format!("{}: address {address:#x} does not fit in 32 bits", at()))?;
                let pc = base as usize + r.pc as usize;
                let inst = code.get_mut(pc / 16).ok_or_else(|| format!("{}: past the code", at()))?;
                let i = patched_operand(inst, r.kind).ok_or_else(|| format!("{}: nothing to patch", at()))?;
                if r.kind == RelocKind::Abs47 && (!(value as u64).is_multiple_of(16) || value as u64 >= total) {
                    return Err(format!("{}: call target {value:#x} is not an instruction", at()));
                }
                inst.operands[i].value = Value::Imm(value);
            }
        }
        let regs = order.iter().map(|&j| self.kernels[j].num_regs).max().unwrap_or(1);
        Ok((code, regs))
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
        Relocation { pc, kind, target, function: None }
    }

    #[test]
    fn relocations_patch_the_immediates() {
        let p = program_with_relocations(vec![reloc(0x0, RelocKind::Lo32, 0x20), reloc(0x10, RelocKind::Hi32, 0x20)]);
        p.check().unwrap();
        let (code, _) = p.linked_code("k", 0x7_0000_0100).unwrap();
        assert_eq!(code[0].text(), "MOV R4, 0x120");
        assert_eq!(code[1].text(), "MOV R5, 0x7");
        assert_eq!(code[2..], p.kernels[0].instructions[2..]);
        let abs = program_with_relocations(vec![reloc(0x20, RelocKind::Abs32, 0x0)]);
        assert_eq!(abs.linked_code("k", 0x1000).unwrap().0[2].text(), "IADD3 R6, R4, 0x1000, RZ");
        let e = abs.linked_code("k", 1 << 32).unwrap_err();
        assert!(e.contains("does not fit in 32 bits"), "{e}");
        // the binary format keeps the segment and the relocations
        assert_eq!(Program::from_bytes(&p.to_bytes(), "b").unwrap(), p);
    }

    #[test]
    fn linking_appends_the_called_functions_and_patches_calls_and_return_addresses() {
        let text = ".kernel k\nMOV R20, 0x0 ;\nMOV R21, 0x0 ;\nCALL.ABS.NOINC 0x0 ;\nEXIT ;\n\
                    .kernel f\nBRA 0x10 ;\nRET.ABS.NODEC R20 0x0 ;\n\
                    .kernel g\nEXIT ;\n";
        let mut p = crate::assemble(text, "t").unwrap();
        let to = |pc, kind, function: &str, target| Relocation { pc, kind, target, function: Some(function.into()) };
        p.kernels[0].relocations = vec![
            to(0x0, RelocKind::Lo32, "k", 0x30),
            to(0x10, RelocKind::Hi32, "k", 0x30),
            to(0x20, RelocKind::Abs47, "f", 0),
        ];
        p.check().unwrap();
        assert_eq!(p.kernels[0].unlinked_calls(), Vec::<u32>::new());
        let (code, _) = p.linked_code("k", 0).unwrap();
        let texts: Vec<String> = code.iter().map(|i| i.text()).collect();
        // f follows k at 0x40 (g is not called); its branch moves with it, RET's offset does not
        assert_eq!(
            texts,
            ["MOV R20, 0x30", "MOV R21, 0x0", "CALL.ABS.NOINC 0x40", "EXIT", "BRA 0x50", "RET.ABS.NODEC R20, 0x0"]
        );
        assert_eq!(Program::from_bytes(&p.to_bytes(), "b").unwrap(), p);
        p.kernels[0].relocations[2].function = Some("h".into());
        assert!(p.check().unwrap_err().contains("function h, which the program does not have"));
        p.kernels[0].relocations.truncate(2);
        assert_eq!(p.kernels[0].unlinked_calls(), [0x20]);
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
            let e = program_with_relocations(vec![r.clone()]).check().unwrap_err();
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
