//! Assembled programs and their versioned binary format.
//!
//! Binary layout (all integers little-endian):
//! ```text
//! magic      8 bytes  "OTCPROG\0"
//! version    u32      otc_isa::FORMAT_VERSION
//! kernels    u32      count
//! per kernel:
//!   name         str (u32 byte length + UTF-8)
//!   num_regs     u32
//!   regs_declared u8
//!   shared_bytes u32  (0xffffffff = unknown)
//!   local_bytes  u32  (0xffffffff = unknown)
//!   params       u32  count (0xffffffff = undeclared), then per param: str name, u8 type, u32 offset
//!   count        u32  instructions
//!   words        count x 16 bytes (the 128-bit instruction words)
//!   lines        count x u32 (source line of each instruction, 0 = none)
//! constants  optional, only when some kernel has constant-bank images:
//!   tag          8 bytes  "CONSTS\0\0"
//!   per kernel, in order: u32 count, then per image: u8 bank, u32 byte length, the bytes
//! globals    optional, only when the program has module globals (`crate::globals`):
//!   tag          8 bytes  "GLOBALS\0"
//!   segment      u64 size, u32 length + the initialised bytes, u32 count, then per symbol:
//!                str name, u64 offset, u64 size
//!   per kernel, in order: u32 count, then per relocation: u32 pc, u8 ELF type, u64 target,
//!                str function (empty: a global variable)
//! checksum   u64      FNV-1a of every byte before it
//! ```
//! Every word is decoded on load, so a corrupted word is rejected, not executed; and a loaded
//! program passes the same checks as an assembled one ([`Program::check`]), so its disassembly
//! assembles back to it.

use std::collections::HashSet;

use otc_isa::{Instruction, Kind, Value};

use crate::error::{AsmError, AsmErrorKind};
use crate::globals::{GlobalSymbol, ModuleGlobals, RelocKind, Relocation};

/// Parameter types of the own dialect's `.param` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamType {
    U8,
    S8,
    U16,
    S16,
    U32,
    S32,
    U64,
    S64,
    F16,
    F32,
    F64,
    /// A 64-bit device pointer.
    Ptr,
}

impl ParamType {
    pub const ALL: [ParamType; 12] = [
        ParamType::U8,
        ParamType::S8,
        ParamType::U16,
        ParamType::S16,
        ParamType::U32,
        ParamType::S32,
        ParamType::U64,
        ParamType::S64,
        ParamType::F16,
        ParamType::F32,
        ParamType::F64,
        ParamType::Ptr,
    ];

    /// Name as written in `.param` (`u32`, `ptr`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ParamType::U8 => "u8",
            ParamType::S8 => "s8",
            ParamType::U16 => "u16",
            ParamType::S16 => "s16",
            ParamType::U32 => "u32",
            ParamType::S32 => "s32",
            ParamType::U64 => "u64",
            ParamType::S64 => "s64",
            ParamType::F16 => "f16",
            ParamType::F32 => "f32",
            ParamType::F64 => "f64",
            ParamType::Ptr => "ptr",
        }
    }

    /// Size in bytes (also the alignment).
    pub fn size(self) -> u32 {
        match self {
            ParamType::U8 | ParamType::S8 => 1,
            ParamType::U16 | ParamType::S16 | ParamType::F16 => 2,
            ParamType::U32 | ParamType::S32 | ParamType::F32 => 4,
            ParamType::U64 | ParamType::S64 | ParamType::F64 | ParamType::Ptr => 8,
        }
    }

    pub fn from_name(s: &str) -> Option<ParamType> {
        ParamType::ALL.into_iter().find(|t| t.name() == s)
    }

    fn code(self) -> u8 {
        ParamType::ALL.iter().position(|&t| t == self).unwrap_or(0) as u8
    }
}

/// Number of constant banks (`c[0x0]` .. `c[0x11]`).
pub const CONST_BANKS: usize = 18;

/// Bytes of one constant bank.
pub const CONST_BANK_BYTES: usize = 64 * 1024;

/// Data a kernel finds in a constant bank (1..17) from offset 0 when it is launched: nvcc's
/// literals (bank 2) and `__constant__` variables (bank 3) read from a `.cubin`
/// ([`crate::read_cubin`]). `Device.write_constant` on a bank takes precedence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstImage {
    pub bank: u8,
    pub data: Vec<u8>,
}

/// A kernel parameter: name, type and offset in constant bank 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    /// Byte offset in constant bank 0 (parameters start at 0x160).
    pub offset: u32,
}

/// First parameter byte in constant bank 0 on sm_70.
pub const PARAM_BASE: u32 = 0x160;

/// Bytes of parameter space after [`PARAM_BASE`].
pub const PARAM_SPACE: u32 = 4096;

/// Whether `s` may name a kernel, a parameter or a label: `[A-Za-z_$][A-Za-z0-9_$.]*`, at most
/// 1024 bytes.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 1024
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))
}

/// Offset of a parameter of type `ty` declared after `params`: the end of the last one rounded up
/// to the type's size (natural alignment), the layout `.param` directives give. None when it does
/// not fit the 4 KB parameter space.
pub fn next_param_offset(params: &[Param], ty: ParamType) -> Option<u32> {
    let end = params.last().map_or(PARAM_BASE, |p| p.offset + p.ty.size());
    let offset = end.div_ceil(ty.size()) * ty.size();
    (offset + ty.size() <= PARAM_BASE + PARAM_SPACE).then_some(offset)
}

/// Largest kernel (instructions): branch targets are 24-bit byte offsets.
pub const MAX_INSTRUCTIONS: usize = 1 << 20;

/// Check a branch target (a byte offset from the kernel start): it must be the address of one of
/// the kernel's `code_bytes / 16` instructions.
pub fn check_target(target: i128, code_bytes: u32) -> Result<(), String> {
    if target < 0 || target % 16 != 0 || target >= code_bytes as i128 {
        let t = if target < 0 { format!("-{:#x}", -target) } else { format!("{target:#x}") };
        return Err(format!(
            "branch target {t} is not the address of an instruction (multiples of 0x10 below {code_bytes:#x})"
        ));
    }
    Ok(())
}

/// One kernel: its code and what a launch needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kernel {
    pub name: String,
    /// Declared parameters (None = undeclared, e.g. a `cuobjdump` listing).
    pub params: Option<Vec<Param>>,
    /// Registers per thread: declared (`.regs`, or REG of a `-res-usage` listing) or inferred
    /// from the highest register the code uses.
    pub num_regs: u32,
    pub regs_declared: bool,
    /// Static shared memory per CTA (None = unknown).
    pub shared_bytes: Option<u32>,
    /// Local memory per thread (None = unknown).
    pub local_bytes: Option<u32>,
    pub instructions: Vec<Instruction>,
    /// Source line of each instruction (0 = none).
    pub lines: Vec<u32>,
    /// Constant-bank images loaded at launch (empty for a kernel without a cubin).
    pub constants: Vec<ConstImage>,
    /// Addresses of module globals the code loads, patched in at launch (from a cubin).
    pub relocations: Vec<Relocation>,
}

impl Kernel {
    /// The demangled C++ name without the return type (`scale_add<float>(float const*, float*,
    /// float, int)`), or None for a name that is not an Itanium-ABI mangled one (`extern "C"`).
    pub fn demangled_name(&self) -> Option<String> {
        if !self.name.starts_with("_Z") {
            return None;
        }
        let sym = cpp_demangle::Symbol::new(self.name.as_bytes()).ok()?;
        sym.demangle_with_options(&cpp_demangle::DemangleOptions::new().no_return_type()).ok()
    }

    /// Bytes of parameters (end of the last declared parameter), if declared.
    pub fn param_bytes(&self) -> Option<u32> {
        self.params.as_ref().map(|ps| ps.iter().map(|p| p.offset + p.ty.size() - PARAM_BASE).max().unwrap_or(0))
    }

    /// Highest register the code touches, plus one (at least 1).
    pub fn inferred_regs(instructions: &[Instruction]) -> u32 {
        let mut top: u32 = 0;
        for inst in instructions {
            for (i, op) in inst.operands.iter().enumerate() {
                let reg = match op.value {
                    Value::Reg(r) => Some(r),
                    Value::ConstX { reg, .. } => Some(reg),
                    Value::Mem { base, .. } => Some(base),
                    _ => None,
                };
                if let Some(r) = reg {
                    if r == otc_isa::RZ {
                        continue;
                    }
                    let count = match (inst.def().operands[i].kind, op.value) {
                        (_, Value::Reg(_)) => inst.operand_regs(i) as u32,
                        (Kind::M, _) => 2, // 64-bit addresses use a pair; harmless for 32-bit ones
                        _ => 1,
                    };
                    top = top.max(r as u32 + count);
                }
            }
        }
        top.clamp(1, 255)
    }

    /// Code size in bytes.
    pub fn code_bytes(&self) -> u32 {
        self.instructions.len() as u32 * 16
    }

    /// What the assembler guarantees of a kernel it builds, checked again for a loaded one: the
    /// name and parameter names are identifiers, parameters are declared once and laid out as
    /// `.param` lays them out, the register count is declared or the inferred one, there are
    /// 1..=[`MAX_INSTRUCTIONS`] instructions, each passes
    /// [`Instruction::validate`] and branches to an instruction of the kernel. The message names
    /// the kernel (and the instruction index and pc).
    pub fn check(&self) -> Result<(), String> {
        let name = &self.name;
        if !is_identifier(name) {
            return Err(format!("kernel name {name:?} is not an identifier"));
        }
        if let Some(ps) = &self.params {
            for (i, p) in ps.iter().enumerate() {
                if !is_identifier(&p.name) {
                    return Err(format!("kernel {name}: parameter name {:?} is not an identifier", p.name));
                }
                if ps[..i].iter().any(|q| q.name == p.name) {
                    return Err(format!("kernel {name}: parameter `{}` is declared twice", p.name));
                }
                match next_param_offset(&ps[..i], p.ty) {
                    Some(want) if want == p.offset => {}
                    Some(want) => {
                        return Err(format!(
                            "kernel {name}: parameter `{}` is at c[0x0][{:#x}], but a {} declared after the \
                             parameters before it is at c[0x0][{want:#x}]",
                            p.name,
                            p.offset,
                            p.ty.name()
                        ))
                    }
                    None => return Err(format!("kernel {name}: parameters exceed the 4 KB parameter space")),
                }
            }
        }
        if !(1..=255).contains(&self.num_regs) {
            return Err(format!("kernel {name}: register count {} out of range 1..255", self.num_regs));
        }
        let n = self.instructions.len();
        if n == 0 {
            return Err(format!("kernel {name} has no instructions"));
        }
        if n > MAX_INSTRUCTIONS {
            return Err(format!("kernel {name} has more than {MAX_INSTRUCTIONS} instructions"));
        }
        if self.lines.len() != n {
            return Err(format!("kernel {name}: {} source lines for {n} instructions", self.lines.len()));
        }
        let code_bytes = self.code_bytes();
        for (i, inst) in self.instructions.iter().enumerate() {
            let at = |m: String| format!("kernel {name} instruction {i} (pc {:#06x}): {m}", i * 16);
            if inst.form as usize >= otc_isa::FORMS.len() {
                return Err(at(format!("no form {}", inst.form)));
            }
            inst.encode().map_err(|e| at(e.to_string()))?;
            for (od, op) in inst.def().operands.iter().zip(&inst.operands) {
                if let (Kind::T, Value::Imm(t)) = (od.kind, op.value) {
                    check_target(t as i128, code_bytes).map_err(|m| at(format!("{}: {m}", inst.def().mnemonic)))?;
                }
            }
        }
        for img in &self.constants {
            if img.bank == 0 || img.bank as usize >= CONST_BANKS {
                return Err(format!("kernel {name}: constant image for bank {} (banks 1..17)", img.bank));
            }
            if img.data.len() > CONST_BANK_BYTES {
                return Err(format!("kernel {name}: constant image of {} bytes (a bank holds 64 KiB)", img.data.len()));
            }
        }
        // (after the instructions: counting registers needs well-formed instructions)
        if !self.regs_declared {
            let inferred = Kernel::inferred_regs(&self.instructions);
            if self.num_regs != inferred {
                return Err(format!(
                    "kernel {name}: the register count {} is not declared and is not the {inferred} the code uses",
                    self.num_regs
                ));
            }
        }
        Ok(())
    }
}

/// An assembled program: one or more kernels, and the module's `__device__` variables.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Program {
    pub kernels: Vec<Kernel>,
    /// The global segment a device allocates once for the program (empty without a cubin).
    pub globals: ModuleGlobals,
}

const MAGIC: &[u8; 8] = b"OTCPROG\0";
const CONSTANTS_TAG: &[u8; 8] = b"CONSTS\0\0";
const GLOBALS_TAG: &[u8; 8] = b"GLOBALS\0";

const UNKNOWN: u32 = u32::MAX;

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    source: &'a str,
}

impl<'a> Reader<'a> {
    fn err(&self, msg: impl Into<String>) -> AsmError {
        AsmError::new(AsmErrorKind::BinaryFormat, self.source, 0, 0, format!("{} (at byte {})", msg.into(), self.pos))
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], AsmError> {
        if self.data.len() - self.pos < n {
            return Err(
                self.err(format!("truncated program: {what} needs {n} bytes, {} left", self.data.len() - self.pos))
            );
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, AsmError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, AsmError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, AsmError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }
    fn str(&mut self, what: &str) -> Result<String, AsmError> {
        let n = self.u32(what)? as usize;
        if n > 4096 {
            return Err(self.err(format!("{what} is {n} bytes long (corrupted?)")));
        }
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err(format!("{what} is not UTF-8")))
    }
    /// A count of items of `item_bytes` each that must fit in what is left.
    fn count(&mut self, item_bytes: usize, what: &str) -> Result<usize, AsmError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(item_bytes) > self.data.len() - self.pos {
            return Err(self.err(format!(
                "truncated program: {n} {what} do not fit in the {} bytes left",
                self.data.len() - self.pos
            )));
        }
        Ok(n)
    }
}

impl Program {
    /// Serialize to the binary format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u32(otc_isa::FORMAT_VERSION);
        w.u32(self.kernels.len() as u32);
        for k in &self.kernels {
            w.str(&k.name);
            w.u32(k.num_regs);
            w.u8(k.regs_declared as u8);
            w.u32(k.shared_bytes.unwrap_or(UNKNOWN));
            w.u32(k.local_bytes.unwrap_or(UNKNOWN));
            match &k.params {
                None => w.u32(UNKNOWN),
                Some(ps) => {
                    w.u32(ps.len() as u32);
                    for p in ps {
                        w.str(&p.name);
                        w.u8(p.ty.code());
                        w.u32(p.offset);
                    }
                }
            }
            w.u32(k.instructions.len() as u32);
            for inst in &k.instructions {
                // The assembler and the loader only make programs that pass `Program::check`, so
                // every instruction encodes; a hand-built one that does not is written as the zero
                // word, which no instruction has, so loading the bytes fails.
                let word = inst.encode().unwrap_or(0);
                w.0.extend_from_slice(&word.to_le_bytes());
            }
            for &l in &k.lines {
                w.u32(l);
            }
        }
        // optional, so that programs without constants keep their bytes
        if self.kernels.iter().any(|k| !k.constants.is_empty()) {
            w.0.extend_from_slice(CONSTANTS_TAG);
            for k in &self.kernels {
                w.u32(k.constants.len() as u32);
                for img in &k.constants {
                    w.u8(img.bank);
                    w.u32(img.data.len() as u32);
                    w.0.extend_from_slice(&img.data);
                }
            }
        }
        if !self.globals.is_empty() || self.kernels.iter().any(|k| !k.relocations.is_empty()) {
            let g = &self.globals;
            w.0.extend_from_slice(GLOBALS_TAG);
            w.u64(g.size);
            w.u32(g.init.len() as u32);
            w.0.extend_from_slice(&g.init);
            w.u32(g.symbols.len() as u32);
            for s in &g.symbols {
                w.str(&s.name);
                w.u64(s.offset);
                w.u64(s.size);
            }
            for k in &self.kernels {
                w.u32(k.relocations.len() as u32);
                for r in &k.relocations {
                    w.u32(r.pc);
                    w.u8(r.kind.elf_type() as u8);
                    w.u64(r.target);
                    w.str(r.function.as_deref().unwrap_or(""));
                }
            }
        }
        let sum = fnv1a(&w.0);
        w.0.extend_from_slice(&sum.to_le_bytes());
        w.0
    }

    /// Whether `data` starts like a binary program.
    pub fn is_binary(data: &[u8]) -> bool {
        data.starts_with(&MAGIC[..7])
    }

    /// Read the binary format; any truncation, corruption or version mismatch is an error.
    pub fn from_bytes(data: &[u8], source: &str) -> Result<Program, AsmError> {
        let mut r = Reader { data, pos: 0, source };
        if data.len() < 8 || &data[..8] != MAGIC {
            return Err(r.err("not an otc-emu binary program (bad magic; expected \"OTCPROG\")"));
        }
        if data.len() < 8 + 4 + 4 + 8 {
            return Err(r.err(format!("truncated program: {} bytes", data.len())));
        }
        let (body, sum) = data.split_at(data.len() - 8);
        let stored = u64::from_le_bytes(sum.try_into().unwrap_or([0; 8]));
        r.pos = 8;
        let version = r.u32("version")?;
        if version != otc_isa::FORMAT_VERSION {
            return Err(r.err(format!(
                "program format version {version}, this otc-emu reads version {}",
                otc_isa::FORMAT_VERSION
            )));
        }
        if fnv1a(body) != stored {
            return Err(AsmError::new(
                AsmErrorKind::BinaryFormat,
                source,
                0,
                0,
                "checksum mismatch: the program file is corrupted or truncated",
            ));
        }
        let mut r = Reader { data: body, pos: 12, source };
        let nk = r.count(4, "kernels")?;
        let mut kernels = Vec::with_capacity(nk);
        for _ in 0..nk {
            let name = r.str("kernel name")?;
            let num_regs = r.u32("register count")?;
            let regs_declared = r.u8("register flag")? != 0;
            let shared = r.u32("shared size")?;
            let local = r.u32("local size")?;
            let np = r.u32("parameter count")?;
            let params = if np == UNKNOWN {
                None
            } else {
                if (np as usize).saturating_mul(9) > body.len() - r.pos {
                    return Err(r.err(format!("truncated program: {np} parameters do not fit")));
                }
                let mut ps = Vec::with_capacity(np as usize);
                for _ in 0..np {
                    let pname = r.str("parameter name")?;
                    let code = r.u8("parameter type")?;
                    let ty = *ParamType::ALL
                        .get(code as usize)
                        .ok_or_else(|| r.err(format!("unknown parameter type code {code}")))?;
                    let offset = r.u32("parameter offset")?;
                    ps.push(Param { name: pname, ty, offset });
                }
                Some(ps)
            };
            let n = r.count(20, "instructions")?;
            let mut instructions = Vec::with_capacity(n);
            for i in 0..n {
                let b = r.take(16, "instruction")?;
                let word = u128::from_le_bytes(b.try_into().unwrap_or([0; 16]));
                let inst = Instruction::decode(word)
                    .map_err(|e| r.err(format!("kernel {name} instruction {i} (pc {:#06x}): {e}", i * 16)))?;
                instructions.push(inst);
            }
            let mut lines = Vec::with_capacity(n);
            for _ in 0..n {
                lines.push(r.u32("line")?);
            }
            kernels.push(Kernel {
                name,
                params,
                num_regs,
                regs_declared,
                shared_bytes: (shared != UNKNOWN).then_some(shared),
                local_bytes: (local != UNKNOWN).then_some(local),
                instructions,
                lines,
                constants: Vec::new(),
                relocations: Vec::new(),
            });
        }
        if body[r.pos..].starts_with(CONSTANTS_TAG) {
            r.pos += CONSTANTS_TAG.len();
            for k in &mut kernels {
                let n = r.count(5, "constant images")?;
                for _ in 0..n {
                    let bank = r.u8("constant bank")?;
                    let len = r.count(1, "constant bytes")?;
                    let data = r.take(len, "constant image")?.to_vec();
                    k.constants.push(ConstImage { bank, data });
                }
            }
        }
        let mut globals = ModuleGlobals::default();
        if body[r.pos..].starts_with(GLOBALS_TAG) {
            r.pos += GLOBALS_TAG.len();
            globals.size = r.u64("global segment size")?;
            let n = r.count(1, "initialised global bytes")?;
            globals.init = r.take(n, "initialised globals")?.to_vec();
            let n = r.count(20, "global symbols")?;
            for _ in 0..n {
                let name = r.str("global symbol name")?;
                let (offset, size) = (r.u64("global symbol offset")?, r.u64("global symbol size")?);
                globals.symbols.push(GlobalSymbol { name, offset, size });
            }
            for k in &mut kernels {
                let n = r.count(17, "relocations")?;
                for _ in 0..n {
                    let pc = r.u32("relocation pc")?;
                    let t = r.u8("relocation type")?;
                    let kind = RelocKind::from_elf_type(t as u32)
                        .ok_or_else(|| r.err(format!("unknown relocation type {t}")))?;
                    let target = r.u64("relocation target")?;
                    let function = Some(r.str("relocation function")?).filter(|f| !f.is_empty());
                    k.relocations.push(Relocation { pc, kind, target, function });
                }
            }
        }
        if r.pos != body.len() {
            return Err(r.err(format!("{} unexpected bytes after the last kernel", body.len() - r.pos)));
        }
        let program = Program { kernels, globals };
        // what decodes must also be a program the assembler could have made
        program.check().map_err(|m| AsmError::new(AsmErrorKind::BinaryFormat, source, 0, 0, m))?;
        Ok(program)
    }

    /// The checks of [`Kernel::check`] for every kernel, and: at least one kernel, no two with the
    /// same name. Every program the assembler builds passes; [`Program::from_bytes`] rejects one
    /// that does not.
    pub fn check(&self) -> Result<(), String> {
        if self.kernels.is_empty() {
            return Err("the program has no kernels".into());
        }
        let mut names = HashSet::new();
        self.globals.check()?;
        let code_bytes = |name: &str| self.kernel(name).map(Kernel::code_bytes);
        for k in &self.kernels {
            k.check()?;
            k.check_relocations(self.globals.size, &code_bytes)?;
            if !names.insert(k.name.as_str()) {
                return Err(format!("kernel {} is defined twice", k.name));
            }
        }
        Ok(())
    }

    /// Find a kernel by name.
    pub fn kernel(&self, name: &str) -> Option<&Kernel> {
        self.kernels.iter().find(|k| k.name == name)
    }
}
