//! What a listing needs from an nvcc `.cubin` (an ELF file), read from the file or from the text
//! `cuobjdump -elf` prints of it.
//!
//! * Constant banks that `cuobjdump -sass` does not print: the literals of one kernel (a `double`
//!   such as 0.3, libm tables) in `.nv.constant2.KERNEL` (read as `c[0x2][...]`), and
//!   `__constant__` variables of the module in `.nv.constant3` (bank 3). A section
//!   `.nv.constantN` belongs to every kernel, `.nv.constantN.KERNEL` to one; `.nv.constant0.*`
//!   (parameters) is built by each launch and skipped. Sections without file data (`SHT_NOBITS`,
//!   uninitialised `__constant__` variables) are zeros of their size.
//! * The module's `__device__` variables (`.nv.global.init`, `.nv.global`) and the relocations
//!   of the kernels' code against them (`.rel.text.KERNEL`, `.rela.text.KERNEL`): see
//!   [`crate::globals`]. The relocations of other sections (debug information) are not needed.

use std::collections::BTreeMap;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, Rel, Rela, SectionHeader};
use object::read::{Object, ObjectSection, ObjectSymbol};
use object::Endianness;

use crate::error::{AsmError, AsmErrorKind};
use crate::globals::{GlobalSymbol, ModuleGlobals, RelocKind, Relocation, MAX_GLOBAL_BYTES};
use crate::program::{ConstImage, Program};

/// What a cubin gives a listing: constant-bank images `(kernel, image)` (kernel `None` for
/// module-wide ones), the module's global segment and the kernels' relocations against it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CubinData {
    pub images: Vec<(Option<String>, ConstImage)>,
    pub globals: ModuleGlobals,
    pub relocations: Vec<(String, Relocation)>,
}

const PREFIX: &str = ".nv.constant";

/// The sections of the global segment, in the order it holds them.
const GLOBAL_SECTIONS: [&str; 2] = [".nv.global.init", ".nv.global"];

/// Each section of the global segment starts at a multiple of this (or of its own alignment if
/// larger): the text of `cuobjdump -elf` that [`read_elf_text`] reads does not give the
/// alignment, and the layout must not depend on the form the cubin comes in.
const GLOBAL_SECTION_ALIGN: u64 = 256;

/// Bank and kernel of a section name `.nv.constantN[.KERNEL]`, or `None` for other sections.
fn parse_section_name(name: &str) -> Option<(u8, Option<&str>)> {
    let rest = name.strip_prefix(PREFIX)?;
    let (digits, kernel) = match rest.find('.') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let bank: u8 = digits.parse().ok()?;
    Some((bank, kernel.filter(|k| !k.is_empty())))
}

/// The kernel whose code a relocation section `.rel.text.K` / `.rela.text.K` patches.
fn relocated_kernel(section: &str) -> Option<&str> {
    section.strip_prefix(".rel.text.").or_else(|| section.strip_prefix(".rela.text.")).filter(|k| !k.is_empty())
}

/// A section of the global segment: its name, size, alignment and bytes (None: no file data).
struct GlobalSection {
    index: usize,
    name: String,
    size: u64,
    align: u64,
    data: Option<Vec<u8>>,
}

/// A symbol: its name, value (offset in its section), size and section index.
struct RawSymbol {
    name: String,
    value: u64,
    size: u64,
    section: usize,
    /// A variable (`STT_OBJECT`), not a section or function symbol.
    object: bool,
}

/// A relocation entry of `.rel(a).text.KERNEL`: the type as a number (ELF) or a name (text).
struct RawReloc {
    kernel: String,
    offset: u64,
    symbol: String,
    kind: Result<RelocKind, String>,
    addend: i64,
}

/// The global segment from its sections and symbols, and the kernels' relocations resolved
/// against it or against the code of a function (`code_sections`: the index of each section
/// `.text.FUNCTION` with the function's name).
fn build_globals(
    sections: &[GlobalSection],
    symbols: &[RawSymbol],
    relocs: &[RawReloc],
    code_sections: &BTreeMap<usize, String>,
    err: &dyn Fn(String) -> AsmError,
) -> Result<(ModuleGlobals, Vec<(String, Relocation)>), AsmError> {
    let mut globals = ModuleGlobals::default();
    let mut bases = BTreeMap::new();
    for want in GLOBAL_SECTIONS {
        for s in sections.iter().filter(|s| s.name == want) {
            let align = s.align.max(GLOBAL_SECTION_ALIGN);
            let base = globals.size.div_ceil(align) * align;
            let end = base.checked_add(s.size).filter(|&e| e <= MAX_GLOBAL_BYTES);
            let Some(end) = end else {
                return Err(err(format!("section {} of {} bytes: the global segment exceeds 1 GiB", s.name, s.size)));
            };
            if let Some(d) = &s.data {
                if d.len() as u64 > s.size {
                    return Err(err(format!("section {} holds {} bytes, its size is {}", s.name, d.len(), s.size)));
                }
                globals.init.resize(base as usize, 0);
                globals.init.extend_from_slice(d);
            }
            globals.size = end;
            bases.insert(s.index, base);
        }
    }
    for sym in symbols.iter().filter(|s| s.object && !s.name.is_empty()) {
        if let Some(base) = bases.get(&sym.section) {
            globals.symbols.push(GlobalSymbol { name: sym.name.clone(), offset: base + sym.value, size: sym.size });
        }
    }
    let mut out = Vec::new();
    for r in relocs {
        let at = format!("relocation at {:#x} of kernel {} against `{}`", r.offset, r.kernel, r.symbol);
        let kind = r.kind.clone().map_err(|t| err(format!("{at}: type {t} is not supported")))?;
        let sym = symbols.iter().find(|s| s.name == r.symbol).ok_or_else(|| err(format!("{at}: no such symbol")))?;
        let pc = u32::try_from(r.offset).map_err(|_| err(format!("{at}: offset past any kernel")))?;
        if let Some(function) = code_sections.get(&sym.section) {
            // -G code: a call (R_CUDA_ABS47_34) or a return address (LO/HI_32 + addend)
            let target = sym.value.checked_add_signed(r.addend).ok_or_else(|| err(format!("{at}: bad addend")))?;
            let function = Some(function.clone());
            out.push((r.kernel.clone(), Relocation { pc, kind, target, function }));
            continue;
        }
        if kind == RelocKind::Abs47 {
            return Err(err(format!("{at}: a call target that is not a function")));
        }
        let Some(base) = bases.get(&sym.section) else {
            return Err(err(format!(
                "{at}: neither a __device__ variable (.nv.global, .nv.global.init) nor a function"
            )));
        };
        let target = (base + sym.value).checked_add_signed(r.addend).filter(|&t| t <= globals.size);
        let Some(target) = target else {
            return Err(err(format!("{at}: the address lies outside the global segment")));
        };
        out.push((r.kernel.clone(), Relocation { pc, kind, target, function: None }));
    }
    Ok((globals, out))
}

/// Read the constant banks (1..17), the global segment and the code relocations of the cubin
/// `data`.
pub fn read_cubin(data: &[u8], source: &str) -> Result<CubinData, AsmError> {
    let err = |m: String| AsmError::new(AsmErrorKind::Cubin, source, 0, 0, m);
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| err(format!("not a 64-bit ELF cubin: {e}")))?;
    let endian = file.endian();
    if file.elf_header().e_machine(endian) != elf::EM_CUDA {
        return Err(err("an ELF file, but not for CUDA (e_machine is not EM_CUDA)".into()));
    }
    let mut out = CubinData::default();
    let mut global_sections = Vec::new();
    let mut relocs = Vec::new();
    let mut code_sections = BTreeMap::new();
    for section in file.sections() {
        let Ok(name) = section.name() else { continue };
        if let Some(function) = name.strip_prefix(".text.") {
            code_sections.insert(section.index().0, function.to_string());
        }
        let header = section.elf_section_header();
        let nobits = header.sh_type(endian) == elf::SHT_NOBITS;
        let bytes = || -> Result<Vec<u8>, AsmError> {
            Ok(if nobits {
                vec![0; section.size() as usize]
            } else {
                section.data().map_err(|e| err(format!("section {name}: {e}")))?.to_vec()
            })
        };
        if GLOBAL_SECTIONS.contains(&name) {
            let data = if nobits { None } else { Some(bytes()?) };
            let (index, size, align) = (section.index().0, section.size(), section.align());
            global_sections.push(GlobalSection { index, name: name.to_string(), size, align, data });
            continue;
        }
        if let Some(kernel) = relocated_kernel(name) {
            let bad = |e: object::read::Error| err(format!("section {name}: {e}"));
            let sym_name = |i: u32| {
                file.symbol_by_index(object::SymbolIndex(i as usize))
                    .ok()
                    .and_then(|s| s.name().ok().map(str::to_string))
                    .unwrap_or_else(|| format!("symbol {i}"))
            };
            let kind = |t: u32| RelocKind::from_elf_type(t).ok_or_else(|| t.to_string());
            if let Some((rels, _)) = header.rel(endian, data).map_err(bad)? {
                for r in rels {
                    let (offset, symbol) = (r.r_offset(endian), sym_name(r.r_sym(endian)));
                    let kind = kind(r.r_type(endian).0);
                    relocs.push(RawReloc { kernel: kernel.to_string(), offset, symbol, kind, addend: 0 });
                }
            }
            if let Some((relas, _)) = header.rela(endian, data).map_err(bad)? {
                for r in relas {
                    let (offset, symbol) = (r.r_offset(endian), sym_name(r.r_sym(endian, false)));
                    let (kind, addend) = (kind(r.r_type(endian, false).0), r.r_addend(endian));
                    relocs.push(RawReloc { kernel: kernel.to_string(), offset, symbol, kind, addend });
                }
            }
            continue;
        }
        let Some((bank, kernel)) = parse_section_name(name) else { continue };
        if bank == 0 {
            continue;
        }
        if bank as usize >= crate::program::CONST_BANKS {
            return Err(err(format!("section {name}: constant bank {bank} does not exist (banks are 0..17)")));
        }
        let size = section.size();
        if size > crate::program::CONST_BANK_BYTES as u64 {
            return Err(err(format!("section {name} has {size} bytes; a constant bank holds 64 KiB")));
        }
        out.images.push((kernel.map(str::to_string), ConstImage { bank, data: bytes()? }));
    }
    let symbols: Vec<RawSymbol> = file
        .symbols()
        .map(|s| RawSymbol {
            name: s.name().unwrap_or_default().to_string(),
            value: s.address(),
            size: s.size(),
            section: s.section_index().map_or(0, |i| i.0),
            object: s.kind() == object::SymbolKind::Data,
        })
        .collect();
    (out.globals, out.relocations) = build_globals(&global_sections, &symbols, &relocs, &code_sections, &err)?;
    Ok(out)
}

/// Parse a hex number as `cuobjdump -elf` prints them (`0x37`, `37`, `0`).
fn hex(word: &str) -> Option<u64> {
    u64::from_str_radix(word.strip_prefix("0x").unwrap_or(word), 16).ok()
}

/// Which block of `cuobjdump -elf` text a line belongs to.
enum Block {
    None,
    /// A constant bank's or `.nv.global.init`'s hex words: (first line, bytes, section name).
    Words(usize, Vec<u8>, String),
    /// The `.section .symtab` table.
    Symtab,
    /// `.section .rel(a).text.KERNEL`: the kernel.
    Relocs(String),
}

/// Read the same as [`read_cubin`] from the text of `cuobjdump -elf`: the sections printed as
/// hex words (`.nv.constantN[.KERNEL]`, N = 1..17, and `.nv.global.init`: a line naming the
/// section, then words `0x3fd33333`, each little-endian and as many bytes as it has hex digit
/// pairs, up to an empty line), the `.section .symtab` table (the variables, and the section
/// symbols that name the section indexes) and the `.section .rel.text.KERNEL` /
/// `.rela.text.KERNEL` tables. `.nv.global` has no data; its size is where its last variable
/// ends. Other lines (the `Sections:` table, whose offsets depend on the build directory through
/// the debug sections, other sections, a `-sass` listing printed with it) are skipped.
pub fn read_elf_text(text: &str, source: &str) -> Result<CubinData, AsmError> {
    let at = |line: usize, m: String| AsmError::new(AsmErrorKind::Cubin, source, line, 1, m);
    let mut out = CubinData::default();
    let mut init: Option<Vec<u8>> = None;
    let mut symbols = Vec::new();
    let mut section_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut relocs = Vec::new();
    let mut block = Block::None;
    let finish = |b: Block, out: &mut CubinData, init: &mut Option<Vec<u8>>| {
        if let Block::Words(_, data, name) = b {
            match parse_section_name(&name) {
                Some((bank, kernel)) => out.images.push((kernel.map(str::to_string), ConstImage { bank, data })),
                None => *init = Some(data),
            }
        }
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim();
        let fields: Vec<&str> = t.split_whitespace().collect();
        let starts = if t == GLOBAL_SECTIONS[0] {
            Some(Block::Words(n, Vec::new(), t.to_string()))
        } else if let Some((bank, _)) = parse_section_name(t) {
            if bank as usize >= crate::program::CONST_BANKS {
                return Err(at(n, format!("section {t}: constant bank {bank} does not exist (banks are 0..17)")));
            }
            Some(if bank == 0 { Block::None } else { Block::Words(n, Vec::new(), t.to_string()) })
        } else if fields.first() == Some(&".section") && fields.len() >= 2 {
            Some(match (fields[1], relocated_kernel(fields[1])) {
                (".symtab", _) => Block::Symtab,
                (_, Some(k)) => Block::Relocs(k.to_string()),
                _ => Block::None,
            })
        } else {
            None
        };
        if let Some(b) = starts {
            finish(std::mem::replace(&mut block, b), &mut out, &mut init);
            continue;
        }
        if t.is_empty() {
            finish(std::mem::replace(&mut block, Block::None), &mut out, &mut init);
            continue;
        }
        match &mut block {
            Block::None => {}
            Block::Words(start, data, _) => {
                for word in &fields {
                    let h = word.strip_prefix("0x").filter(|h| !h.is_empty() && h.len() % 2 == 0 && h.len() <= 16);
                    let value = h.and_then(|h| u64::from_str_radix(h, 16).ok().map(|v| (v, h.len() / 2)));
                    let Some((v, len)) = value else {
                        let m = format!("`{word}` in the section that starts on line {start} is not a hex word");
                        return Err(at(n, m));
                    };
                    data.extend_from_slice(&v.to_le_bytes()[..len]);
                    if data.len() > crate::program::CONST_BANK_BYTES.max(MAX_GLOBAL_BYTES as usize) {
                        return Err(at(n, format!("the section that starts on line {start} is too long")));
                    }
                }
            }
            // index value size info other shndx name
            Block::Symtab => {
                if fields.len() == 7 {
                    if let (Some(value), Some(size), Some(info), Some(shndx)) =
                        (hex(fields[1]), hex(fields[2]), hex(fields[3]), hex(fields[5]))
                    {
                        let object = info & 0xf == elf::STT_OBJECT.0 as u64;
                        let name = fields[6].to_string();
                        if info & 0xf == elf::STT_SECTION.0 as u64 {
                            section_index.insert(name.clone(), shndx as usize);
                        }
                        symbols.push(RawSymbol { name, value, size, section: shndx as usize, object });
                    }
                }
            }
            // offset symbol type [addend]
            Block::Relocs(kernel) => {
                let (Some(offset), 3..=4) = (hex(fields[0]), fields.len()) else {
                    return Err(at(n, format!("`{t}` is not a relocation (offset, symbol, type[, addend])")));
                };
                let addend = match fields.get(3) {
                    None => 0,
                    Some(a) => {
                        hex(a).and_then(|a| i64::try_from(a).ok()).ok_or_else(|| at(n, format!("addend `{a}`")))?
                    }
                };
                let kind = RelocKind::from_name(fields[2]).ok_or_else(|| fields[2].to_string());
                relocs.push(RawReloc { kernel: kernel.clone(), offset, symbol: fields[1].to_string(), kind, addend });
            }
        }
    }
    finish(block, &mut out, &mut init);
    let mut global_sections = Vec::new();
    for (name, data) in [(GLOBAL_SECTIONS[0], init), (GLOBAL_SECTIONS[1], None)] {
        let Some(&index) = section_index.get(name) else {
            if data.is_some() {
                return Err(at(0, format!("the text has {name} but no symbol table naming its section index")));
            }
            continue;
        };
        let ends = symbols.iter().filter(|s| s.section == index).map(|s| s.value.saturating_add(s.size));
        let size = ends.chain(data.as_ref().map(|d| d.len() as u64)).max().unwrap_or(0);
        global_sections.push(GlobalSection { index, name: name.to_string(), size, align: 1, data });
    }
    let err = |m: String| at(0, m);
    let code_sections: BTreeMap<usize, String> =
        section_index.iter().filter_map(|(name, &i)| Some((i, name.strip_prefix(".text.")?.to_string()))).collect();
    (out.globals, out.relocations) = build_globals(&global_sections, &symbols, &relocs, &code_sections, &err)?;
    Ok(out)
}

/// The data of a `.cubin` (ELF bytes) or of the text of `cuobjdump -elf`, by content.
pub fn read_cubin_data(data: &[u8], source: &str) -> Result<CubinData, AsmError> {
    if data.starts_with(b"\x7fELF") {
        return read_cubin(data, source);
    }
    match std::str::from_utf8(data) {
        Ok(text) => read_elf_text(text, source),
        Err(_) => {
            Err(AsmError::new(AsmErrorKind::Cubin, source, 0, 0, "neither an ELF cubin nor the text of cuobjdump -elf"))
        }
    }
}

impl Program {
    /// Give the program what `cubin` holds for it: each kernel the constant-bank images that
    /// belong to it (module-wide ones and its own) and its relocations, and the program the
    /// global segment; replacing what they had. A kernel with images or relocations of its own
    /// in the cubin must be in the program, so that a listing and a cubin of different sources
    /// are not mixed.
    pub fn attach_cubin(&mut self, cubin: &CubinData, source: &str) -> Result<(), AsmError> {
        let owners = cubin
            .images
            .iter()
            .filter_map(|(k, _)| k.as_deref())
            .chain(cubin.relocations.iter().map(|(k, _)| k.as_str()));
        for k in owners {
            if self.kernel(k).is_none() {
                return Err(AsmError::new(
                    AsmErrorKind::Cubin,
                    source,
                    0,
                    0,
                    format!("the cubin has constants or relocations of kernel {k}, which the program does not have"),
                ));
            }
        }
        for k in &mut self.kernels {
            k.constants = cubin
                .images
                .iter()
                .filter(|(owner, _)| owner.as_deref().is_none_or(|o| o == k.name))
                .map(|(_, img)| img.clone())
                .collect();
            k.relocations =
                cubin.relocations.iter().filter(|(owner, _)| *owner == k.name).map(|(_, r)| r.clone()).collect();
        }
        self.globals = cubin.globals.clone();
        self.check().map_err(|m| AsmError::new(AsmErrorKind::Cubin, source, 0, 0, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names() {
        assert_eq!(parse_section_name(".nv.constant2.f64_axpy"), Some((2, Some("f64_axpy"))));
        assert_eq!(parse_section_name(".nv.constant3"), Some((3, None)));
        assert_eq!(parse_section_name(".nv.constant0._Z3fooPf"), Some((0, Some("_Z3fooPf"))));
        assert_eq!(parse_section_name(".nv.shared.foo"), None);
        assert_eq!(parse_section_name(".nv.constantx"), None);
    }

    #[test]
    fn elf_text_sections() {
        let text = ".nv.constant3\n0x00000001 0x00000002\n\n.nv.constant0.k\n0x0\n\n\
                    .nv.constant2.k\n0x33333333 0x3fd33333 0x0102\n\n.text.k\n";
        let c = read_elf_text(text, "t").unwrap();
        assert_eq!(c.images.len(), 2);
        assert_eq!(c.images[0], (None, ConstImage { bank: 3, data: vec![1, 0, 0, 0, 2, 0, 0, 0] }));
        let k = &c.images[1];
        assert_eq!(k.0.as_deref(), Some("k"));
        assert_eq!(k.1.data, [0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0xd3, 0x3f, 0x02, 0x01]);
        let e = read_elf_text(".nv.constant2.k\n0x12 zz\n", "t").unwrap_err();
        assert_eq!((e.kind, e.line), (AsmErrorKind::Cubin, 2));
        assert!(read_cubin_data(b"\xff\xfe", "t").is_err());
    }

    /// `cuobjdump -elf` text of a module with `__device__ int t[4] = {...}` (section 0x10) and
    /// `__device__ unsigned n` (section 0x11, no data), loaded by kernel k.
    const GLOBALS_TEXT: &str = "\
.section .symtab
 index           value           size      info    other  shndx    name
   0               0               0        0        0      0     (null)
 0x2               0               0      0x3        0   0x10     .nv.global.init
 0x3             0x8            0x10      0x1        0   0x10     t
 0x5               0               0      0x3        0   0x11     .nv.global
 0x6               0             0x4      0x1        0   0x11     n
 0xd               0           0x180     0x12     0x10    0xe     k

.nv.global.init
0x3f000000 0x3fc00000 0x00000001 0x00000002
0x00000003 0x00000004

.section .rel.text.k	REL
0x30    n    R_CUDA_ABS32_HI_32
0x20    n    R_CUDA_ABS32_LO_32

.section .rela.text.k	RELA
0x10    t    R_CUDA_ABS32_LO_32    0x8
";

    #[test]
    fn elf_text_globals_and_relocations() {
        let c = read_elf_text(GLOBALS_TEXT, "t").unwrap();
        let g = &c.globals;
        // .nv.global.init (24 bytes) from 0, .nv.global at the next multiple of 256
        assert_eq!((g.size, g.init.len()), (0x104, 24));
        assert_eq!(&g.init[8..12], &[1, 0, 0, 0]);
        let syms: Vec<_> = g.symbols.iter().map(|s| (s.name.as_str(), s.offset, s.size)).collect();
        assert_eq!(syms, [("t", 8, 16), ("n", 0x100, 4)]);
        let k = |pc, kind, target| ("k".to_string(), Relocation { pc, kind, target, function: None });
        assert_eq!(
            c.relocations,
            [k(0x30, RelocKind::Hi32, 0x100), k(0x20, RelocKind::Lo32, 0x100), k(0x10, RelocKind::Lo32, 0x10)]
        );
    }

    #[test]
    fn elf_text_relocation_errors() {
        let cases = [
            ("0x30    n    R_CUDA_ABS32_HI_32", "0x30    n    R_CUDA_64", "type R_CUDA_64 is not supported"),
            ("0x30    n    R_CUDA_ABS32_HI_32", "0x30    m    R_CUDA_ABS32_HI_32", "`m`: no such symbol"),
            ("0x30    n    R_CUDA_ABS32_HI_32", "0x30    k    R_CUDA_ABS32_HI_32", "neither a __device__ variable"),
            ("0x30    n    R_CUDA_ABS32_HI_32", "0x30    n", "is not a relocation"),
            ("R_CUDA_ABS32_LO_32    0x8", "R_CUDA_ABS32_LO_32    0x800", "outside the global segment"),
            ("0x00000003 0x00000004", "0x00000003 0x0000004", "is not a hex word"),
        ];
        for (old, new, phrase) in cases {
            assert_eq!(GLOBALS_TEXT.matches(old).count(), 1, "{old}");
            let e = read_elf_text(&GLOBALS_TEXT.replace(old, new), "t").unwrap_err();
            assert_eq!(e.kind, AsmErrorKind::Cubin);
            assert!(e.to_string().contains(phrase), "{new}: {e}");
        }
    }

    #[test]
    fn rejects_non_elf_and_non_cuda() {
        let e = read_cubin(b"not an elf", "x.cubin").unwrap_err();
        assert_eq!(e.kind, AsmErrorKind::Cubin);
        assert!(e.to_string().contains("not a 64-bit ELF"), "{e}");
    }
}
