//! Operand text to a syntax tree, before the instruction's form decides what it means.

use crate::error::{AsmErrorKind as K, LineError};

/// A parsed operand, independent of the instruction it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ast {
    /// `R4`, `-|R4|.reuse`, `~R4`, `R4.H0_H0`, `RZ`.
    Reg { index: u8, prefix: Prefix, reuse: bool, suffix: Option<String> },
    /// `{R4, R5}` (consecutive registers).
    List { base: u8, count: u8, reuse: bool, suffix: Option<String> },
    /// `P0`, `!PT`.
    Pred { index: u8, not: bool },
    /// Integer literal (decimal or hex, signed). `minus`: written with a leading `-`, which keeps
    /// the sign of `-0` in a float operand (the value alone cannot).
    Int { value: i128, minus: bool },
    /// Float literal, kept as text for the form to round to fp32 or fp16.
    Float(String),
    /// `c[0x0][0x160]`, `-c[0x0][0x160]`, `c[0x0][0x160].H0_H0`.
    Const { bank: i128, offset: i128, prefix: Prefix, suffix: Option<String> },
    /// `c[0x3][R0+0x10]`.
    ConstX { bank: i128, reg: u8, offset: i128 },
    /// `[R2]`, `[R2+0x10]`, `[R2+-0x10]`, `[R2-0x10]`, `[0x10]`.
    Mem { base: u8, offset: i128 },
    /// `SR_TID.X`, `SRZ`.
    SReg(u8),
    /// `B3`.
    Barrier(i128),
    /// `SB0`.
    Scoreboard(i128),
    /// `PR`.
    PredFile,
    /// An identifier used as a branch target.
    Label(String),
}

/// Prefix operators of a register or constant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Prefix {
    pub neg: bool,
    pub abs: bool,
    pub not: bool,
}

impl Ast {
    /// A short description for "got ..." messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Ast::Reg { .. } => "a register",
            Ast::List { .. } => "a register list",
            Ast::Pred { .. } => "a predicate",
            Ast::Int { .. } => "an integer",
            Ast::Float(_) => "a float",
            Ast::Const { .. } => "a constant",
            Ast::ConstX { .. } => "an indexed constant",
            Ast::Mem { .. } => "a memory operand",
            Ast::SReg(_) => "a special register",
            Ast::Barrier(_) => "a convergence barrier",
            Ast::Scoreboard(_) => "a scoreboard",
            Ast::PredFile => "PR",
            Ast::Label(_) => "a label",
        }
    }
}

/// Parse an integer literal: `123`, `-5`, `0x1f`, `-0x1`, `+0x2`.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || body.len() > 40 {
        return None;
    }
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        i128::from_str_radix(h, 16).ok()?
    } else {
        if !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        body.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn is_float_text(s: &str) -> bool {
    // one sign at most: `--1.5` is not a number
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.starts_with(['+', '-']) {
        return false;
    }
    let upper = body.to_ascii_uppercase();
    if matches!(upper.as_str(), "INF" | "QNAN" | "NAN" | "SNAN") {
        return true;
    }
    if (body.starts_with("0f") || body.starts_with("0h"))
        && body.len() > 2
        && body[2..].bytes().all(|c| c.is_ascii_hexdigit())
    {
        return true;
    }
    body.parse::<f64>().is_ok()
        && body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
}

/// Register name to index: `R0`..`R254`, `RZ`. Err for a number past R254.
pub(crate) fn parse_reg(s: &str) -> Option<Result<u8, String>> {
    if s == "RZ" {
        return Some(Ok(255));
    }
    let digits = s.strip_prefix('R')?;
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(match digits.parse::<u32>() {
        Ok(n) if n <= 254 => Ok(n as u8),
        _ => Err(format!("register {s} does not exist (registers are R0..R254 and RZ)")),
    })
}

fn parse_pred_name(s: &str) -> Option<u8> {
    match s {
        "PT" => Some(7),
        _ => {
            let d = s.strip_prefix('P')?;
            if d.len() == 1 && (b'0'..=b'6').contains(&d.as_bytes()[0]) {
                Some(d.as_bytes()[0] - b'0')
            } else {
                None
            }
        }
    }
}

/// Split `R4.reuse.H0_H0` into the base and its dot suffixes.
fn split_suffixes(s: &str) -> (&str, bool, Option<String>, Option<String>) {
    // returns (base, reuse, suffix, error-suffix)
    let mut parts = s.split('.');
    let base = parts.next().unwrap_or("");
    let mut reuse = false;
    let mut suffix = None;
    for p in parts {
        if p == "reuse" {
            reuse = true;
        } else if suffix.is_none() {
            suffix = Some(p.to_string());
        } else {
            return (base, reuse, suffix, Some(p.to_string()));
        }
    }
    (base, reuse, suffix, None)
}

/// Parse one operand; `at` is the operand's byte offset in the line, for error columns.
pub(crate) fn parse_operand(text: &str, at: usize) -> Result<Ast, LineError> {
    let err = |kind, msg: String| Err(LineError::new(kind, at, msg));
    let t = text.trim();
    if t.is_empty() {
        return err(K::Syntax, "empty operand (two commas in a row, or a trailing comma?)".into());
    }
    // Register lists {R4, R5, ...}
    if let Some(rest) = t.strip_prefix('{') {
        let Some(close) = rest.find('}') else {
            return err(K::Syntax, format!("unbalanced brace in `{t}`: expected `}}`"));
        };
        let inner = &rest[..close];
        let after = &rest[close + 1..];
        let (_, reuse, suffix, extra) = split_suffixes(&format!("X{after}"));
        if extra.is_some() || (!after.is_empty() && !after.starts_with('.')) {
            return err(K::Syntax, format!("unexpected text `{after}` after a register list"));
        }
        let mut regs = Vec::new();
        for item in inner.split(',') {
            let item = item.trim();
            match parse_reg(item) {
                Some(Ok(r)) => regs.push(r),
                Some(Err(m)) => return err(K::OutOfRange, m),
                None => return err(K::Syntax, format!("expected a register in the list, got `{item}`")),
            }
        }
        if regs.is_empty() || regs.len() > 32 {
            return err(K::BadRegisterGroup, format!("a register list holds 1..32 registers, got {}", regs.len()));
        }
        for w in regs.windows(2) {
            if w[0] == 255 || w[1] != w[0].wrapping_add(1) {
                return err(K::BadRegisterGroup, format!("registers in `{t}` must be consecutive (R4, R5, R6, ...)"));
            }
        }
        return Ok(Ast::List { base: regs[0], count: regs.len() as u8, reuse, suffix });
    }
    if t.contains('}') {
        return err(K::Syntax, format!("unbalanced brace in `{t}`"));
    }
    // Memory operands [R2+0x10]
    if let Some(rest) = t.strip_prefix('[') {
        let Some(inner) = rest.strip_suffix(']') else {
            return err(K::Syntax, format!("unbalanced bracket in `{t}`: expected `]` at the end"));
        };
        let inner: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
        return parse_address(&inner)
            .map(|(base, offset)| Ast::Mem { base, offset })
            .map_err(|m| LineError::new(K::Syntax, at, m));
    }
    if t.contains('[') || t.contains(']') {
        // constants, possibly with prefixes
        return parse_const(t, at);
    }
    // Predicates
    if let Some(p) = t.strip_prefix('!') {
        return match parse_pred_name(p.trim()) {
            Some(i) => Ok(Ast::Pred { index: i, not: true }),
            None => err(K::Syntax, format!("`!` must be followed by a predicate (P0..P6, PT), got `{p}`")),
        };
    }
    if let Some(i) = parse_pred_name(t) {
        return Ok(Ast::Pred { index: i, not: false });
    }
    // Numbers
    if let Some(value) = parse_int(t) {
        return Ok(Ast::Int { value, minus: t.starts_with('-') });
    }
    if is_float_text(t) {
        return Ok(Ast::Float(t.to_string()));
    }
    // Registers with prefixes: -R2, |R2|, -|R2|, ~R2
    let mut prefix = Prefix::default();
    let mut s = t;
    if let Some(r) = s.strip_prefix('-') {
        prefix.neg = true;
        s = r.trim_start();
    } else if let Some(r) = s.strip_prefix('~') {
        prefix.not = true;
        s = r.trim_start();
    }
    let mut abs_tail = "";
    if let Some(r) = s.strip_prefix('|') {
        let Some(close) = r.find('|') else {
            return err(K::Syntax, format!("unbalanced `|` in `{t}`"));
        };
        prefix.abs = true;
        abs_tail = &r[close + 1..];
        s = &r[..close];
        if s.contains('[') {
            return parse_const(t, at);
        }
    }
    let joined;
    if !abs_tail.is_empty() {
        joined = format!("{s}{abs_tail}");
        s = &joined;
    }
    let (base, reuse, suffix, extra) = split_suffixes(s);
    if let Some(x) = extra {
        return err(K::Syntax, format!("unexpected suffix `.{x}` in `{t}`"));
    }
    if let Some(r) = parse_reg(base) {
        return match r {
            Ok(index) => Ok(Ast::Reg { index, prefix, reuse, suffix }),
            Err(m) => err(K::OutOfRange, m),
        };
    }
    if prefix != Prefix::default() {
        return err(K::Syntax, format!("`{t}`: only registers and constants take -, ~ or |...|"));
    }
    if t == "PR" {
        return Ok(Ast::PredFile);
    }
    if let Some(code) = otc_isa::special_register(t) {
        return Ok(Ast::SReg(code));
    }
    if let Some(n) = t.strip_prefix("SB").and_then(parse_int) {
        return Ok(Ast::Scoreboard(n));
    }
    if let Some(n) =
        t.strip_prefix('B').and_then(|d| if d.bytes().all(|c| c.is_ascii_digit()) { parse_int(d) } else { None })
    {
        return Ok(Ast::Barrier(n));
    }
    if t.starts_with("SR_") {
        return err(K::OperandKind, format!("unknown special register `{t}`"));
    }
    if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '.' || c == '$')
        && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'))
    {
        return Ok(Ast::Label(t.to_string()));
    }
    err(K::Syntax, format!("cannot read operand `{t}`"))
}

/// `R2+0x10`, `R2+-0x10`, `R2-0x10`, `0x10`, `R2` (whitespace already removed).
fn parse_address(inner: &str) -> Result<(u8, i128), String> {
    if inner.is_empty() {
        return Err("empty address `[]`".into());
    }
    let (reg_part, off_part) = match inner.find(['+', '-']) {
        Some(0) => ("", inner),
        Some(i) => (&inner[..i], &inner[i..]),
        None => (inner, ""),
    };
    let reg_part = reg_part.strip_suffix(".64").unwrap_or(reg_part);
    let base = if reg_part.is_empty() {
        255
    } else {
        match parse_reg(reg_part) {
            Some(Ok(r)) => r,
            Some(Err(m)) => return Err(m),
            None => {
                // `[0x10]`: an absolute address
                return match parse_int(inner) {
                    Some(v) => Ok((255, v)),
                    None => Err(format!("expected `[Rn+offset]`, got `[{inner}]`")),
                };
            }
        }
    };
    let off = if off_part.is_empty() {
        0
    } else {
        let o = off_part.strip_prefix('+').unwrap_or(off_part);
        match parse_int(o) {
            Some(v) => v,
            None => return Err(format!("expected an offset after the register in `[{inner}]`, got `{off_part}`")),
        }
    };
    Ok((base, off))
}

fn parse_const(t: &str, at: usize) -> Result<Ast, LineError> {
    let err = |m: String| Err(LineError::new(K::Syntax, at, m));
    let mut prefix = Prefix::default();
    let mut s = t;
    if let Some(r) = s.strip_prefix('-') {
        prefix.neg = true;
        s = r;
    }
    let mut inner = s;
    let mut tail = "";
    if let Some(r) = s.strip_prefix('|') {
        let Some(close) = r.rfind('|') else {
            return err(format!("unbalanced `|` in `{t}`"));
        };
        prefix.abs = true;
        inner = &r[..close];
        tail = &r[close + 1..];
    }
    let Some(rest) = inner.strip_prefix("c[") else {
        return err(format!("cannot read operand `{t}` (constants are written c[bank][offset])"));
    };
    let Some(close1) = rest.find(']') else {
        return err(format!("unbalanced bracket in `{t}`"));
    };
    let bank_text = &rest[..close1];
    let rest2 = rest[close1 + 1..].trim_start(); // cuobjdump prints `c[0x0] [0x164]` in HFMA2
    let Some(rest2) = rest2.strip_prefix('[') else {
        return err(format!("expected `[offset]` after the bank in `{t}`"));
    };
    let Some(close2) = rest2.find(']') else {
        return err(format!("unbalanced bracket in `{t}`"));
    };
    let off_text: String = rest2[..close2].chars().filter(|c| !c.is_whitespace()).collect();
    let after = format!("{}{}", &rest2[close2 + 1..], tail);
    let Some(bank) = parse_int(bank_text.trim()) else {
        return err(format!("expected a bank number in `{t}`, got `{bank_text}`"));
    };
    let suffix = match after.strip_prefix('.') {
        Some(sfx) if !sfx.is_empty() && !sfx.contains('.') => Some(sfx.to_string()),
        None if after.is_empty() => None,
        _ => return err(format!("unexpected text `{after}` after the constant `{t}`")),
    };
    if let Some(v) = parse_int(&off_text) {
        return Ok(Ast::Const { bank, offset: v, prefix, suffix });
    }
    if prefix != Prefix::default() || suffix.is_some() {
        return err(format!("an indexed constant takes no prefix or suffix: `{t}`"));
    }
    match parse_address(&off_text) {
        Ok((reg, offset)) if reg != 255 || off_text.starts_with("RZ") => Ok(Ast::ConstX { bank, reg, offset }),
        Ok(_) => err(format!("cannot read the offset of `{t}`")),
        Err(m) => err(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const OK: &[(&str, &str)] = &[
        ("R4", "Reg { index: 4, prefix: Prefix { neg: false, abs: false, not: false }, reuse: false, suffix: None }"),
        ("-|R5|", "Reg { index: 5, prefix: Prefix { neg: true, abs: true, not: false }, reuse: false, suffix: None }"),
        ("R7.reuse.H0_H0", "Reg { index: 7, prefix: Prefix { neg: false, abs: false, not: false }, reuse: true, suffix: Some(\"H0_H0\") }"),
        ("-RZ.H0_H0", "Reg { index: 255, prefix: Prefix { neg: true, abs: false, not: false }, reuse: false, suffix: Some(\"H0_H0\") }"),
        ("~R3", "Reg { index: 3, prefix: Prefix { neg: false, abs: false, not: true }, reuse: false, suffix: None }"),
        ("{R9, R10, R11, R12}", "List { base: 9, count: 4, reuse: false, suffix: None }"),
        ("!PT", "Pred { index: 7, not: true }"),
        ("P6", "Pred { index: 6, not: false }"),
        ("-0x1", "Int { value: -1, minus: true }"),
        ("0xfffffffe", "Int { value: 4294967294, minus: false }"),
        ("-0", "Int { value: 0, minus: true }"),
        ("-0.0", "Float(\"-0.0\")"),
        ("1.5", "Float(\"1.5\")"),
        ("+INF", "Float(\"+INF\")"),
        ("-QNAN", "Float(\"-QNAN\")"),
        ("0f3f800000", "Float(\"0f3f800000\")"),
        ("c[0x0][0x160]", "Const { bank: 0, offset: 352, prefix: Prefix { neg: false, abs: false, not: false }, suffix: None }"),
        ("-c[0x0][0x164]", "Const { bank: 0, offset: 356, prefix: Prefix { neg: true, abs: false, not: false }, suffix: None }"),
        ("|c[0x0][0x164]|", "Const { bank: 0, offset: 356, prefix: Prefix { neg: false, abs: true, not: false }, suffix: None }"),
        ("c[0x3][R0]", "ConstX { bank: 3, reg: 0, offset: 0 }"),
        ("c[0x3][R2+0x10]", "ConstX { bank: 3, reg: 2, offset: 16 }"),
        ("[R2]", "Mem { base: 2, offset: 0 }"),
        ("[R2+0x10]", "Mem { base: 2, offset: 16 }"),
        ("[R2+-0x10]", "Mem { base: 2, offset: -16 }"),
        ("[R2-0x10]", "Mem { base: 2, offset: -16 }"),
        ("[0x30]", "Mem { base: 255, offset: 48 }"),
        ("[RZ]", "Mem { base: 255, offset: 0 }"),
        ("SR_TID.X", "SReg(4)"),
        ("SRZ", "SReg(15)"),
        ("B15", "Barrier(15)"),
        ("SB3", "Scoreboard(3)"),
        ("PR", "PredFile"),
        ("loop_top", "Label(\"loop_top\")"),
    ];

    #[test]
    fn parses_operand_table() {
        for (text, want) in OK {
            let got = parse_operand(text, 0).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(format!("{got:?}"), *want, "operand {text}");
        }
    }

    #[rustfmt::skip]
    const BAD: &[(&str, K)] = &[
        ("R255", K::OutOfRange),
        ("R999", K::OutOfRange),
        ("{R4, R6}", K::BadRegisterGroup),
        ("{R4, R5", K::Syntax),
        ("R4}", K::Syntax),
        ("[R2", K::Syntax),
        ("c[0x0][0x160", K::Syntax),
        ("-P0", K::Syntax),
        ("|R2", K::Syntax),
        ("SR_BOGUS", K::OperandKind),
        ("R4.reuse.H0_H0.ROW", K::Syntax),
        ("--1.5", K::Syntax),
        ("+-1.5", K::Syntax),
        ("", K::Syntax),
        ("@#$", K::Syntax),
    ];

    #[test]
    fn rejects_bad_operands() {
        for (text, kind) in BAD {
            let e = parse_operand(text, 0).expect_err(text);
            assert_eq!(e.kind, *kind, "operand {text}: {}", e.message);
        }
    }
}
