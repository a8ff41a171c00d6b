//! The other text forms the CUDA toolchain prints, rewritten into the `cuobjdump -sass` listing
//! of one cubin that [`crate::parse`] reads:
//!
//! - `cuobjdump -sass` of an object file, executable or fatbinary: `Fatbin elf code:` blocks, one
//!   `code for sm_XX` section per architecture. Only the `sm_70` sections are kept (code for
//!   another architecture cannot run here); a text with code for other architectures only is an
//!   error that names them.
//! - `nvdisasm` of a cubin, with or without `-c` and `-hex`: one `.section .text.NAME` per
//!   function, `.L_x_N:` labels with `` `(.L_x_N) `` targets, `.sectioninfo @"SHI_REGISTERS=n"`.
//!   The entry functions (`STO_CUDA_ENTRY`) become `Function :` sections with their register
//!   counts; labels become byte offsets. Without `-hex` there are no control bits.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use crate::error::{AsmError, AsmErrorKind};

/// `text` in the form the listing parser reads (borrowed when it already is one).
pub fn normalize<'a>(text: &'a str, source: &str) -> Result<Cow<'a, str>, AsmError> {
    if is_nvdisasm(text) {
        return nvdisasm_to_listing(text, source).map(Cow::Owned);
    }
    keep_sm70(text, source)
}

fn code_for(line: &str) -> Option<&str> {
    line.trim().strip_prefix("code for sm_").map(str::trim)
}

/// Drop the `code for sm_XX` sections of other architectures.
fn keep_sm70<'a>(text: &'a str, source: &str) -> Result<Cow<'a, str>, AsmError> {
    let archs: Vec<&str> = text.lines().filter_map(code_for).collect();
    if archs.iter().all(|a| *a == "70") {
        return Ok(Cow::Borrowed(text));
    }
    if !archs.contains(&"70") {
        let mut others: Vec<&str> = archs.clone();
        others.dedup();
        let list = others.iter().map(|a| format!("sm_{a}")).collect::<Vec<_>>().join(", ");
        return Err(AsmError::new(
            AsmErrorKind::Listing,
            source,
            0,
            0,
            format!("the listing has code for {list} only; otc-emu runs sm_70 code (compile with -arch=sm_70)"),
        ));
    }
    let mut out = String::with_capacity(text.len());
    let mut keep = true;
    for line in text.lines() {
        let t = line.trim();
        if let Some(arch) = code_for(line) {
            keep = arch == "70";
        } else if t.starts_with("Fatbin ") {
            keep = true;
        }
        // keep the line count, so that errors point at the original line
        out.push_str(if keep { line } else { "" });
        out.push('\n');
    }
    Ok(Cow::Owned(out))
}

fn is_nvdisasm(text: &str) -> bool {
    let mut section = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("Function : ") || t.starts_with("code for sm_") {
            return false;
        }
        section |= t.starts_with(".section") && t.contains(".text.") && !t.starts_with(".sectioninfo");
    }
    section
}

#[derive(Default)]
struct Func {
    name: String,
    entry: bool,
    regs: Option<u32>,
    /// (line number, address, instruction text with its first encoding comment, second word)
    insts: Vec<(usize, u32, String, Option<String>)>,
    labels: HashMap<String, u32>,
}

/// The targets `` `(NAME) `` of an instruction text.
fn targets(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("`(") {
        let start = from + i;
        let Some(j) = text[start..].find(')') else { break };
        out.push((start, start + j + 1, &text[start + 2..start + j]));
        from = start + j + 1;
    }
    out
}

fn nvdisasm_to_listing(text: &str, source: &str) -> Result<String, AsmError> {
    let err = |line: usize, m: String| AsmError::new(AsmErrorKind::Listing, source, line, 0, m);
    let mut funcs: Vec<Func> = Vec::new();
    let mut in_text = false;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let t = raw.trim();
        if let Some(rest) = t.strip_prefix(".section").filter(|r| r.starts_with([' ', '\t'])) {
            let name = rest.trim().split(',').next().unwrap_or("");
            in_text = name.starts_with(".text.");
            if let Some(f) = name.strip_prefix(".text.") {
                funcs.push(Func { name: f.to_string(), ..Func::default() });
            }
            continue;
        }
        if !in_text {
            continue;
        }
        let Some(f) = funcs.last_mut() else { continue };
        if let Some(info) = t.strip_prefix(".sectioninfo") {
            if let Some(n) = info.split("SHI_REGISTERS=").nth(1) {
                f.regs = n.trim_end_matches(['"', ' ']).parse().ok();
            }
        } else if t.starts_with(".other") && t.contains("STO_CUDA_ENTRY") {
            f.entry = true;
        } else if let Some(label) = t.strip_suffix(':').filter(|l| !l.contains(' ')) {
            f.labels.insert(label.to_string(), f.insts.len() as u32 * 16);
        } else if let Some(rest) = t.strip_prefix("/*") {
            let close = rest.find("*/").ok_or_else(|| err(line_no, "unterminated address comment".into()))?;
            let addr_text = rest[..close].trim();
            if let Some(word) = addr_text.strip_prefix("0x").filter(|_| rest[..close].starts_with(' ')) {
                // `/* 0x000fc40000000f00 */`: the second word of the instruction before
                let Some(last) = f.insts.last_mut() else {
                    return Err(err(line_no, "encoding word without an instruction before it".into()));
                };
                last.3 = Some(format!("0x{word}"));
                continue;
            }
            let addr = u32::from_str_radix(addr_text, 16)
                .map_err(|_| err(line_no, format!("cannot read the address `/*{addr_text}*/`")))?;
            f.insts.push((line_no, addr, rest[close + 2..].trim().to_string(), None));
        }
    }
    let index: HashMap<&str, usize> = funcs.iter().enumerate().map(|(i, f)| (f.name.as_str(), i)).collect();
    let mut out = String::from("\tcode for sm_70\n");
    let mut usage = String::new();
    let entries: Vec<&Func> = funcs.iter().filter(|f| f.entry || !funcs.iter().any(|g| g.entry)).collect();
    if entries.is_empty() {
        return Err(err(0, "the nvdisasm text has no .text sections".into()));
    }
    for f in entries {
        let _ = writeln!(out, "\t\tFunction : {}", f.name);
        for (line_no, addr, body, hi) in &f.insts {
            let mut text = body.clone();
            for (start, end, label) in targets(body).into_iter().rev() {
                let Some(&at) = f.labels.get(label) else {
                    let why = if index.contains_key(label) {
                        format!("`{label}` is another function's section; only targets inside the kernel's own section can be resolved")
                    } else {
                        format!("label `{label}` is not defined in section .text.{}", f.name)
                    };
                    return Err(err(*line_no, why));
                };
                text.replace_range(start..end, &format!("{at:#x}"));
            }
            let _ = writeln!(out, "        /*{addr:04x}*/ {text}");
            if let Some(hi) = hi {
                let _ = writeln!(out, "        /* {hi} */");
            }
        }
        if let Some(regs) = f.regs {
            let _ = writeln!(usage, "Function {}:\nREG:{regs} STACK:UNKNOWN SHARED:UNKNOWN LOCAL:UNKNOWN", f.name);
        }
    }
    out.push_str(&usage);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_architectures_are_dropped() {
        let text = "Fatbin elf code:\narch = sm_70\n\tcode for sm_70\n\t\tFunction : k\nA\nFatbin elf code:\n\
                    arch = sm_75\n\tcode for sm_75\n\t\tFunction : k\nB\n";
        let out = normalize(text, "t").unwrap();
        assert!(out.contains("A") && !out.contains("B"), "{out}");
        assert_eq!(out.lines().count(), text.lines().count());
        let e = normalize("\tcode for sm_75\n\t\tFunction : k\n", "t").unwrap_err();
        assert!(e.to_string().contains("sm_75 only"), "{e}");
    }

    #[test]
    fn nvdisasm_labels_become_offsets() {
        let text = "\t.section\t.text.k,\"ax\",@progbits\n\t.sectioninfo\t@\"SHI_REGISTERS=10\"\n\
                    .other k,@\"STO_CUDA_ENTRY STV_DEFAULT\"\nk:\n.text.k:\n\
                    /*0000*/ EXIT ; /* 0x000000000000794d */\n /* 0x000fea0003800000 */\n\
                    .L_x_0:\n/*0010*/ BRA `(.L_x_0); /* 0xfffffff000007947 */\n /* 0x000fc0000383ffff */\n";
        let out = normalize(text, "t").unwrap();
        assert!(out.contains("Function : k"), "{out}");
        assert!(out.contains("/*0010*/ BRA 0x10;"), "{out}");
        assert!(out.contains("/* 0x000fc0000383ffff */"), "{out}");
        assert!(out.contains("REG:10"), "{out}");
    }
}
