//! Source text to [`Program`]: the own SASS-shaped dialect and `cuobjdump -sass` listings.
//!
//! Own dialect:
//! ```text
//! .kernel saxpy              // starts a kernel (without any .kernel the file is kernel `main`)
//! .param ptr x               // parameters in order: u8 s8 u16 s16 u32 s32 u64 s64 f16 f32 f64 ptr
//! .param f32 alpha
//! .shared 1024               // static shared bytes (default 0; `unknown` allowed)
//! .local 0                   // local bytes per thread (default 0; `unknown` allowed)
//! .regs 32                   // optional register count (default: inferred)
//! top:                       // label
//!     [B------:R-:W-:Y:S04] @!P0 BRA top ;   // optional control code, guard, `;`
//! .end
//! ```
//! Comments: `//` to the end of the line, `/* ... */` (also across lines).

use std::collections::HashMap;

use otc_isa::Control;

use crate::error::{AsmError, AsmErrorKind as K, LineError};
use crate::matcher::build;
use crate::operand::parse_int;
use crate::program::{is_identifier, next_param_offset, Kernel, Param, ParamType, Program, MAX_INSTRUCTIONS};
use crate::stmt::{parse_stmt, Stmt};

/// Largest source accepted (bytes).
pub const MAX_SOURCE_BYTES: usize = 256 << 20;

/// A kernel being built.
struct KernelSrc {
    name: String,
    line: usize,
    params: Option<Vec<Param>>,
    shared: Option<u32>,
    local: Option<u32>,
    regs: Option<u32>,
    labels: HashMap<String, u32>,
    stmts: Vec<Stmt>,
}

impl KernelSrc {
    fn new(name: String, line: usize, listing: bool) -> Self {
        KernelSrc {
            name,
            line,
            params: if listing { None } else { Some(Vec::new()) },
            shared: if listing { None } else { Some(0) },
            local: if listing { None } else { Some(0) },
            regs: None,
            labels: HashMap::new(),
            stmts: Vec::new(),
        }
    }
}

fn column(line: &str, offset: usize) -> usize {
    let o = offset.min(line.len());
    // offsets come from byte positions at char boundaries; count chars for the column
    line.char_indices().take_while(|&(i, _)| i < o).count() + 1
}

fn place(source: &str, line_no: usize, line: &str, e: LineError) -> AsmError {
    AsmError::new(e.kind, source, line_no, column(line, e.offset), e.message)
}

/// Remove comments, keeping byte offsets (comment text becomes blanks).
struct CommentStripper {
    in_block: bool,
}

impl CommentStripper {
    fn strip(&mut self, line: &str) -> Result<String, usize> {
        let mut out = String::with_capacity(line.len());
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if self.in_block {
                if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    self.in_block = false;
                    out.push_str("  ");
                    i += 2;
                } else {
                    let c = line[i..].chars().next().unwrap_or(' ');
                    for _ in 0..c.len_utf8() {
                        out.push(' ');
                    }
                    i += c.len_utf8();
                }
                continue;
            }
            if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
                break;
            }
            if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                self.in_block = true;
                out.push_str("  ");
                i += 2;
                continue;
            }
            let c = line[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
        Ok(out)
    }
}

fn parse_size(v: &str) -> Option<Option<u32>> {
    if v == "unknown" {
        return Some(None);
    }
    parse_int(v).filter(|&n| (0..=u32::MAX as i128 - 1).contains(&n)).map(|n| Some(n as u32))
}

/// Assemble source text: the own dialect, or a `cuobjdump -sass` listing (detected by its
/// `code for sm_` / `Function :` lines), which may also carry `cuobjdump -res-usage` lines.
pub fn assemble(text: &str, source: &str) -> Result<Program, AsmError> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(AsmError::new(
            K::Other,
            source,
            0,
            0,
            format!("source is {} bytes; the limit is {} bytes", text.len(), MAX_SOURCE_BYTES),
        ));
    }
    if text.contains('\0') {
        let line = text[..text.find('\0').unwrap_or(0)].matches('\n').count() + 1;
        return Err(AsmError::new(K::Syntax, source, line, 0, "source contains NUL bytes (is this a binary file?)"));
    }
    let text = &*crate::textforms::normalize(text, source)?;
    let listing = text.lines().any(|l| {
        let t = l.trim_start();
        t.starts_with("code for sm_") || t.starts_with("Function : ")
    });
    let kernels = if listing { read_listing(text, source)? } else { read_dialect(text, source)? };
    finish(kernels, source)
}

fn read_dialect(text: &str, source: &str) -> Result<Vec<KernelSrc>, AsmError> {
    let mut kernels: Vec<KernelSrc> = Vec::new();
    // kernel names seen so far (a list search per kernel made many kernels quadratic)
    let mut names: std::collections::HashSet<String> = Default::default();
    let mut stripper = CommentStripper { in_block: false };
    let mut implicit = false;
    let mut block_start = 0;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        if !stripper.in_block {
            block_start = line_no;
        }
        let err = |off: usize, kind: K, msg: String| AsmError::new(kind, source, line_no, column(raw, off), msg);
        let clean = stripper.strip(raw).map_err(|o| err(o, K::Syntax, "bad comment".into()))?;
        let mut body: &str = &clean;
        let mut off = 0usize;
        let lead = body.len() - body.trim_start().len();
        body = &body[lead..];
        off += lead;
        if body.trim().is_empty() {
            continue;
        }
        if let Some(d) = body.strip_prefix('.') {
            let words: Vec<&str> = d.split_whitespace().collect();
            let name = words.first().copied().unwrap_or("");
            let args = &words[1.min(words.len())..];
            let need_kernel = |ks: &mut Vec<KernelSrc>| -> Result<(), AsmError> {
                if ks.is_empty() || implicit {
                    return Err(err(off, K::Directive, format!("`.{name}` must follow a `.kernel NAME` directive")));
                }
                Ok(())
            };
            match name {
                "kernel" => {
                    if implicit {
                        return Err(err(off, K::Directive, "`.kernel` after instructions that belong to no kernel; put `.kernel NAME` first".into()));
                    }
                    if args.len() != 1 || !is_identifier(args[0]) {
                        return Err(err(off, K::Directive, "expected `.kernel NAME` with NAME an identifier".into()));
                    }
                    if !names.insert(args[0].to_string()) {
                        return Err(err(off, K::Directive, format!("kernel `{}` is defined twice", args[0])));
                    }
                    kernels.push(KernelSrc::new(args[0].to_string(), line_no, false));
                }
                "param" => {
                    need_kernel(&mut kernels)?;
                    let k = kernels.last_mut().expect("checked");
                    if args.len() != 2 {
                        return Err(err(off, K::Directive, "expected `.param TYPE NAME`, e.g. `.param ptr x`".into()));
                    }
                    let Some(ty) = ParamType::from_name(args[0]) else {
                        let names: Vec<&str> = ParamType::ALL.iter().map(|t| t.name()).collect();
                        return Err(err(off, K::Directive, format!("unknown parameter type `{}`; expected one of {}", args[0], names.join(", "))));
                    };
                    if !is_identifier(args[1]) {
                        return Err(err(off, K::Directive, format!("parameter name `{}` is not an identifier", args[1])));
                    }
                    let ps = k.params.get_or_insert_with(Vec::new);
                    if ps.iter().any(|p| p.name == args[1]) {
                        return Err(err(off, K::Directive, format!("parameter `{}` is declared twice", args[1])));
                    }
                    let Some(offset) = next_param_offset(ps, ty) else {
                        return Err(err(off, K::Directive, "parameters exceed the 4 KB parameter space".into()));
                    };
                    ps.push(Param { name: args[1].to_string(), ty, offset });
                }
                "params" => {
                    need_kernel(&mut kernels)?;
                    if args != ["unknown"] {
                        return Err(err(off, K::Directive, "expected `.params unknown`".into()));
                    }
                    kernels.last_mut().expect("checked").params = None;
                }
                "shared" | "local" => {
                    need_kernel(&mut kernels)?;
                    let v = (args.len() == 1).then(|| parse_size(args[0])).flatten();
                    let Some(v) = v else {
                        return Err(err(off, K::Directive, format!("expected `.{name} BYTES` or `.{name} unknown`")));
                    };
                    let k = kernels.last_mut().expect("checked");
                    if name == "shared" {
                        k.shared = v;
                    } else {
                        k.local = v;
                    }
                }
                "regs" => {
                    need_kernel(&mut kernels)?;
                    let v = (args.len() == 1).then(|| parse_int(args[0])).flatten();
                    match v {
                        Some(n) if (1..=255).contains(&n) => kernels.last_mut().expect("checked").regs = Some(n as u32),
                        _ => return Err(err(off, K::Directive, "expected `.regs N` with N in 1..255".into())),
                    }
                }
                "end" => {
                    need_kernel(&mut kernels)?;
                }
                _ => return Err(err(off, K::Directive, format!("unknown directive `.{name}`; expected .kernel, .param, .params, .shared, .local, .regs or .end"))),
            }
            continue;
        }
        // labels: `name:` (possibly followed by an instruction)
        loop {
            let t = body.trim_start();
            let word_end =
                t.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))).unwrap_or(t.len());
            if word_end > 0 && t[word_end..].starts_with(':') && is_identifier(&t[..word_end]) {
                let label = &t[..word_end];
                let lead = body.len() - t.len();
                if kernels.is_empty() {
                    kernels.push(KernelSrc::new("main".into(), line_no, false));
                    implicit = true;
                }
                let k = kernels.last_mut().expect("nonempty");
                let addr = k.stmts.len() as u32 * 16;
                if k.labels.insert(label.to_string(), addr).is_some() {
                    return Err(err(
                        off + lead,
                        K::Label,
                        format!("label `{label}` is defined twice in kernel `{}`", k.name),
                    ));
                }
                body = &t[word_end + 1..];
                off += lead + word_end + 1;
            } else {
                break;
            }
        }
        if body.trim().is_empty() {
            continue;
        }
        if kernels.is_empty() {
            kernels.push(KernelSrc::new("main".into(), line_no, false));
            implicit = true;
        }
        let stmt = parse_stmt(body, off, line_no, raw).map_err(|e| place(source, line_no, raw, e))?;
        let stmts = match crate::macros::expand(&stmt) {
            None => vec![stmt],
            Some(expanded) => expanded.map_err(|e| place(source, line_no, raw, e))?,
        };
        let k = kernels.last_mut().expect("nonempty");
        if k.stmts.len() + stmts.len() > MAX_INSTRUCTIONS {
            return Err(err(
                off,
                K::Other,
                format!("kernel `{}` has more than {MAX_INSTRUCTIONS} instructions", k.name),
            ));
        }
        k.stmts.extend(stmts);
    }
    if stripper.in_block {
        return Err(AsmError::new(K::Syntax, source, block_start, 0, "unterminated `/*` comment"));
    }
    if kernels.is_empty() {
        return Err(AsmError::new(K::Syntax, source, 0, 0, "no instructions: the source is empty"));
    }
    Ok(kernels)
}

/// Read a `cuobjdump -sass` listing (optionally with `-res-usage` lines).
fn read_listing(text: &str, source: &str) -> Result<Vec<KernelSrc>, AsmError> {
    let mut kernels: Vec<KernelSrc> = Vec::new();
    // kernel names seen so far (a list search per kernel made many kernels quadratic)
    let mut names: std::collections::HashSet<String> = Default::default();
    let mut usage: HashMap<String, (u32, Option<u32>, Option<u32>)> = HashMap::new();
    let mut usage_fn: Option<String> = None;
    // the instruction waiting for its second (control) word
    let mut pending: Option<(usize, usize)> = None; // (kernel index, stmt index)
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let err = |col: usize, msg: String| AsmError::new(K::Listing, source, line_no, col, msg);
        let t = raw.trim();
        if t.is_empty()
            || t.starts_with("code for sm_")
            || t.starts_with(".headerflags")
            || t.chars().all(|c| c == '.')
            || t == "Resource usage:"
            || t == "Common:"
            || t.starts_with("GLOBAL:")
            || t.starts_with("Fatbin ")
            || t.starts_with("arch = ")
            || t.starts_with("code version")
            || t.starts_with("host = ")
            || t.starts_with("compile_size")
            || t == "compressed"
            || t.starts_with("identifier")
            || t.starts_with("producer")
            || t.starts_with("=====")
        {
            continue;
        }
        if let Some(name) = t.strip_prefix("Function : ") {
            let name = name.trim();
            if !is_identifier(name) {
                return Err(err(0, format!("function name `{name}` is not an identifier")));
            }
            if !names.insert(name.to_string()) {
                return Err(err(0, format!("function `{name}` appears twice")));
            }
            kernels.push(KernelSrc::new(name.to_string(), line_no, true));
            pending = None;
            continue;
        }
        // -res-usage: "Function NAME:" then "REG:12 STACK:0 SHARED:0 LOCAL:0 ..."
        if let Some(name) = t.strip_prefix("Function ").and_then(|n| n.strip_suffix(':')) {
            usage_fn = Some(name.trim().to_string());
            continue;
        }
        if t.starts_with("REG:") {
            let Some(name) = usage_fn.take() else {
                return Err(err(0, "resource usage line without a `Function NAME:` line before it".into()));
            };
            let mut reg = None;
            let mut shared = None;
            let mut local = Some(0u32);
            for kv in t.split_whitespace() {
                let (k, v) = kv.split_once(':').unwrap_or((kv, ""));
                let num = v.parse::<u32>().ok();
                match k {
                    "REG" => reg = num,
                    "SHARED" => shared = num,
                    "STACK" | "LOCAL" => {
                        local = match (local, num) {
                            (Some(a), Some(b)) => Some(a + b),
                            _ => None,
                        }
                    }
                    _ => {}
                }
            }
            let Some(reg) = reg.filter(|r| (1..=255).contains(r)) else {
                return Err(err(0, format!("cannot read the register count in `{t}`")));
            };
            usage.insert(name, (reg, shared, local));
            continue;
        }
        let lead = raw.len() - raw.trim_start().len();
        // second word of an instruction: `/* 0x000fc40000000f00 */`
        if let Some(word) = t.strip_prefix("/* 0x").and_then(|r| r.strip_suffix(" */")) {
            let Some((ki, si)) = pending.take() else {
                return Err(err(lead + 1, "encoding word without an instruction before it".into()));
            };
            let hi = u64::from_str_radix(word, 16)
                .map_err(|_| err(lead + 1, format!("cannot read the encoding word `0x{word}`")))?;
            kernels[ki].stmts[si].control = Some(Control::from_nvidia_high_word(hi));
            continue;
        }
        // instruction: `/*0040*/   @P0 IADD3 R0, R1, R2, RZ ;   /* 0x... */`
        let Some(rest) = t.strip_prefix("/*") else {
            return Err(err(lead + 1, format!("unexpected line in a cuobjdump listing: `{t}`")));
        };
        let Some(close) = rest.find("*/") else {
            return Err(err(lead + 1, "unterminated address comment".into()));
        };
        let addr_text = &rest[..close];
        let Ok(addr) = u32::from_str_radix(addr_text.trim(), 16) else {
            return Err(err(lead + 1, format!("cannot read the address `/*{addr_text}*/`")));
        };
        if pending.is_some() {
            return Err(err(lead + 1, "instruction without its second encoding line before it".into()));
        }
        let Some(ki) = kernels.len().checked_sub(1) else {
            return Err(err(lead + 1, "instruction before any `Function :` line".into()));
        };
        let k = &mut kernels[ki];
        let expect = k.stmts.len() as u32 * 16;
        if addr != expect {
            return Err(err(
                lead + 1,
                format!("instruction address {addr:#06x}, expected {expect:#06x} (instructions are 16 bytes apart)"),
            ));
        }
        if k.stmts.len() >= MAX_INSTRUCTIONS {
            return Err(err(lead + 1, format!("function `{}` has more than {MAX_INSTRUCTIONS} instructions", k.name)));
        }
        let body_start = lead + 2 + close + 2;
        let body = &raw[body_start..];
        // cut the trailing encoding comment
        let body_len = body.find("/*").unwrap_or(body.len());
        let stmt = parse_stmt(&body[..body_len], body_start, line_no, raw).map_err(|e| {
            let mut a = place(source, line_no, raw, e);
            a.kind = if a.kind == K::Syntax { K::Listing } else { a.kind };
            a
        })?;
        k.stmts.push(stmt);
        // a listing printed without encodings (nvdisasm without -hex) has no second line
        pending = body[body_len..].starts_with("/* 0x").then(|| (ki, k.stmts.len() - 1));
    }
    if kernels.is_empty() {
        return Err(AsmError::new(K::Listing, source, 0, 0, "the listing has no `Function :` sections"));
    }
    for k in &mut kernels {
        if let Some(&(reg, shared, local)) = usage.get(&k.name) {
            k.regs = Some(reg);
            k.shared = shared;
            k.local = local;
        }
        if k.stmts.is_empty() {
            return Err(AsmError::new(
                K::Listing,
                source,
                k.line,
                0,
                format!("function `{}` has no instructions", k.name),
            ));
        }
    }
    Ok(kernels)
}

fn finish(kernels: Vec<KernelSrc>, source: &str) -> Result<Program, AsmError> {
    let mut out = Vec::with_capacity(kernels.len());
    for k in kernels {
        if k.stmts.is_empty() {
            return Err(AsmError::new(
                K::Syntax,
                source,
                k.line,
                0,
                format!("kernel `{}` has no instructions", k.name),
            ));
        }
        let code_bytes = k.stmts.len() as u32 * 16;
        let lookup = |name: &str| k.labels.get(name).copied();
        let mut instructions = Vec::with_capacity(k.stmts.len());
        let mut lines = Vec::with_capacity(k.stmts.len());
        for s in &k.stmts {
            let inst =
                build(&s.opcode, s.opcode_at, s.guard, &s.operands, s.control, &lookup, code_bytes, s.operands_end)
                    .map_err(|e| {
                        let mut a = place(source, s.line, &s.line_text, e);
                        if a.kind == K::Label {
                            let names: Vec<&str> = k.labels.keys().map(|x| x.as_str()).collect();
                            if let Some(n) =
                                a.message.strip_prefix("undefined label `").and_then(|m| m.strip_suffix('`'))
                            {
                                if let Some(sug) = crate::suggest::nearest(n, &names) {
                                    a.message.push_str(&format!("; did you mean `{sug}`?"));
                                }
                            }
                        }
                        a
                    })?;
            // Defence in depth: the matcher checked every operand, so this cannot fail; if it did,
            // the program could not be written (`Program::to_bytes`) and loaded back.
            if let Err(e) = inst.encode() {
                return Err(AsmError::new(
                    K::Other,
                    source,
                    s.line,
                    column(&s.line_text, s.opcode_at),
                    format!("`{}` cannot be encoded: {e}", s.opcode),
                ));
            }
            instructions.push(inst);
            lines.push(s.line as u32);
        }
        let inferred = Kernel::inferred_regs(&instructions);
        let (num_regs, regs_declared) = match k.regs {
            Some(r) => (r, true),
            None => (inferred, false),
        };
        let kernel = Kernel {
            name: k.name,
            params: k.params,
            num_regs,
            regs_declared,
            shared_bytes: k.shared,
            local_bytes: k.local,
            instructions,
            lines,
            constants: Vec::new(),
            relocations: Vec::new(),
        };
        // The checks the loader makes (the directives and the matcher made them already, with
        // the place of the mistake): what assembles, loads.
        kernel.check().map_err(|m| AsmError::new(K::Other, source, k.line, 0, m))?;
        out.push(kernel);
    }
    Ok(Program { kernels: out, globals: Default::default() })
}
