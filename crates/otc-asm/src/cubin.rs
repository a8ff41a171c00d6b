//! Constant-bank images from an nvcc `.cubin` (an ELF file).
//!
//! nvcc places data that an instruction cannot hold inline in constant banks that
//! `cuobjdump -sass` does not print: the literals of one kernel (a `double` such as 0.3, libm
//! tables) in `.nv.constant2.KERNEL` (read as `c[0x2][...]`), and `__constant__` variables of
//! the module in `.nv.constant3` (bank 3). A section `.nv.constantN` belongs to every kernel,
//! `.nv.constantN.KERNEL` to one; `.nv.constant0.*` (parameters) is built by each launch and
//! skipped. Sections without file data (`SHT_NOBITS`, uninitialised `__constant__` variables)
//! are zeros of their size.

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::read::{Object, ObjectSection};
use object::Endianness;

use crate::error::{AsmError, AsmErrorKind};
use crate::program::{ConstImage, Program};

/// The constant-bank sections of a cubin: `(kernel, image)`, kernel `None` for module-wide ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CubinConstants {
    pub images: Vec<(Option<String>, ConstImage)>,
}

const PREFIX: &str = ".nv.constant";

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

/// Read the constant-bank sections (banks 1..17) of the cubin `data`.
pub fn read_cubin(data: &[u8], source: &str) -> Result<CubinConstants, AsmError> {
    let err = |m: String| AsmError::new(AsmErrorKind::Cubin, source, 0, 0, m);
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| err(format!("not a 64-bit ELF cubin: {e}")))?;
    if file.elf_header().e_machine(file.endian()) != elf::EM_CUDA {
        return Err(err("an ELF file, but not for CUDA (e_machine is not EM_CUDA)".into()));
    }
    let mut out = CubinConstants::default();
    for section in file.sections() {
        let Ok(name) = section.name() else { continue };
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
        let nobits = section.elf_section_header().sh_type(file.endian()) == elf::SHT_NOBITS;
        let bytes = if nobits {
            vec![0; size as usize]
        } else {
            section.data().map_err(|e| err(format!("section {name}: {e}")))?.to_vec()
        };
        out.images.push((kernel.map(str::to_string), ConstImage { bank, data: bytes }));
    }
    Ok(out)
}

/// Read the constant-bank sections from the text of `cuobjdump -elf`: a line that names a
/// section `.nv.constantN[.KERNEL]` (N = 1..17), then its contents as words `0x3fd33333` (each
/// little-endian, as many bytes as it has hex digit pairs) up to the next empty line. Other
/// lines (headers, other sections, a `-sass` listing printed with it) are skipped.
pub fn read_elf_text(text: &str, source: &str) -> Result<CubinConstants, AsmError> {
    let mut out = CubinConstants::default();
    let mut current: Option<(usize, Vec<u8>, Option<String>, u8)> = None;
    let mut flush = |cur: &mut Option<(usize, Vec<u8>, Option<String>, u8)>| {
        if let Some((_, data, kernel, bank)) = cur.take() {
            out.images.push((kernel, ConstImage { bank, data }));
        }
    };
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some((bank, kernel)) = parse_section_name(t) {
            flush(&mut current);
            if bank != 0 {
                if bank as usize >= crate::program::CONST_BANKS {
                    let m = format!("section {t}: constant bank {bank} does not exist (banks are 0..17)");
                    return Err(AsmError::new(AsmErrorKind::Cubin, source, i + 1, 1, m));
                }
                current = Some((i + 1, Vec::new(), kernel.map(str::to_string), bank));
            }
            continue;
        }
        let Some((start, data, _, _)) = current.as_mut() else { continue };
        if t.is_empty() {
            flush(&mut current);
            continue;
        }
        for word in t.split_whitespace() {
            let hex = word.strip_prefix("0x").filter(|h| !h.is_empty() && h.len() % 2 == 0 && h.len() <= 16);
            let value = hex.and_then(|h| u64::from_str_radix(h, 16).ok().map(|v| (v, h.len() / 2)));
            let Some((v, n)) = value else {
                let m = format!("`{word}` in the constant section that starts on line {start} is not a hex word");
                return Err(AsmError::new(AsmErrorKind::Cubin, source, i + 1, 1, m));
            };
            data.extend_from_slice(&v.to_le_bytes()[..n]);
            if data.len() > crate::program::CONST_BANK_BYTES {
                let m = format!("the constant section that starts on line {start} is longer than a bank (64 KiB)");
                return Err(AsmError::new(AsmErrorKind::Cubin, source, i + 1, 1, m));
            }
        }
    }
    flush(&mut current);
    Ok(out)
}

/// The constants of a `.cubin` (ELF bytes) or of the text of `cuobjdump -elf`, by content.
pub fn read_constants(data: &[u8], source: &str) -> Result<CubinConstants, AsmError> {
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
    /// Give each kernel the constant-bank images of `cubin` that belong to it (module-wide ones
    /// and its own), replacing those it had. A kernel with images of its own in the cubin must
    /// be in the program, so that a listing and a cubin of different sources are not mixed.
    pub fn attach_constants(&mut self, cubin: &CubinConstants, source: &str) -> Result<(), AsmError> {
        for (kernel, _) in &cubin.images {
            if let Some(k) = kernel {
                if self.kernel(k).is_none() {
                    return Err(AsmError::new(
                        AsmErrorKind::Cubin,
                        source,
                        0,
                        0,
                        format!("the cubin has constants of kernel {k}, which the program does not have"),
                    ));
                }
            }
        }
        for k in &mut self.kernels {
            k.constants = cubin
                .images
                .iter()
                .filter(|(owner, _)| owner.as_deref().is_none_or(|o| o == k.name))
                .map(|(_, img)| img.clone())
                .collect();
        }
        Ok(())
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
        assert!(read_constants(b"\xff\xfe", "t").is_err());
    }

    #[test]
    fn rejects_non_elf_and_non_cuda() {
        let e = read_cubin(b"not an elf", "x.cubin").unwrap_err();
        assert_eq!(e.kind, AsmErrorKind::Cubin);
        assert!(e.to_string().contains("not a 64-bit ELF"), "{e}");
    }
}
