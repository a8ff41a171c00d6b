//! Choose the instruction form that a mnemonic, its modifiers and its operands select, and build
//! the decoded [`Instruction`]. Driven entirely by the generated table `otc_isa::FORMS`.

use otc_isa::spec::{FormDef, Kind, OperandDef};
use otc_isa::{
    forms_of, suffix_options, validate_operand, Control, Defect, Instruction, Invalid, Operand, Pred, Value, FORMS, RZ,
};

use crate::error::{AsmErrorKind as K, LineError};
use crate::operand::Ast;
use crate::program::check_target;

/// An operand as written, with its byte offset in the line.
#[derive(Clone, Debug)]
pub(crate) struct SrcOperand {
    pub ast: Ast,
    pub at: usize,
}

/// Resolves a label to a byte offset (None = unknown label).
pub(crate) type LabelLookup<'a> = &'a dyn Fn(&str) -> Option<u32>;

/// Match the modifier tokens against a form's groups, in order. Returns the option per group.
/// A token that only one group of the form takes may also come out of order (its group not yet
/// given): it means the same wherever it is written, so the text's order does not matter.
fn match_mods(def: &FormDef, tokens: &[&str]) -> Result<Vec<u8>, usize> {
    let mut chosen: Vec<Option<u8>> = vec![None; def.mods.len()];
    let mut next = 0;
    let takes = |g: usize, tok: &str| def.mods[g].options.iter().any(|o| !o.is_empty() && *o == tok);
    for (ti, tok) in tokens.iter().enumerate() {
        let in_order = (next..def.mods.len()).find(|&g| takes(g, tok));
        let out_of_order = || {
            let mut groups = (0..def.mods.len()).filter(|&g| takes(g, tok));
            match (groups.next(), groups.next()) {
                (Some(g), None) if chosen[g].is_none() => Some(g),
                _ => None,
            }
        };
        match in_order.or_else(out_of_order) {
            Some(g) => {
                chosen[g] = Some(def.mods[g].options.iter().position(|o| o == tok).unwrap_or(0) as u8);
                next = next.max(g + 1);
            }
            None => return Err(ti),
        }
    }
    let mut out = Vec::with_capacity(def.mods.len());
    for (g, c) in def.mods.iter().zip(chosen) {
        match c {
            Some(v) => out.push(v),
            None if !g.required() => out.push(0),
            None => return Err(tokens.len()),
        }
    }
    Ok(out)
}

/// Whether an AST could be an operand of this kind at all (ignoring ranges and flags).
fn kind_accepts(kind: Kind, ast: &Ast) -> bool {
    matches!(
        (kind, ast),
        (Kind::R, Ast::Reg { .. })
            | (Kind::G(_) | Kind::L(_), Ast::Reg { .. } | Ast::List { .. })
            | (Kind::P, Ast::Pred { .. })
            | (Kind::U(_) | Kind::S(_), Ast::Int { .. })
            | (Kind::F32 | Kind::F16, Ast::Int { .. } | Ast::Float(_))
            | (Kind::C, Ast::Const { .. })
            | (Kind::CX, Ast::ConstX { .. } | Ast::Const { .. })
            | (Kind::M, Ast::Mem { .. })
            | (Kind::SR, Ast::SReg(_))
            | (Kind::B, Ast::Barrier(_))
            | (Kind::SB, Ast::Scoreboard(_))
            | (Kind::T, Ast::Int { .. } | Ast::Label(_))
            | (Kind::PR, Ast::PredFile)
    )
}

/// A constant operand's bank and offset, checked against their fields.
fn const_address(bank: i128, offset: i128) -> Result<(u8, u16), String> {
    if !(0..32).contains(&bank) {
        return Err(format!("constant bank {} out of range 0..0x1f", fmt_int(bank)));
    }
    if !(0..0x10000).contains(&offset) {
        return Err(format!("constant offset {} out of range 0..0xffff", fmt_int(offset)));
    }
    Ok((bank as u8, offset as u16))
}

/// Whether float text names its value by bits or infinity (`+INF`, `0f7f800000`), so that an
/// infinite result is what the text says, not an overflow.
fn names_bits_or_infinity(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    body.eq_ignore_ascii_case("INF") || body.starts_with("0f") || body.starts_with("0h")
}

fn parse_f32(text: &str) -> Option<u32> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let sign = if neg { 0x8000_0000u32 } else { 0 };
    let up = body.to_ascii_uppercase();
    match up.as_str() {
        "INF" => return Some(sign | 0x7f80_0000),
        "QNAN" | "NAN" => return Some(sign | 0x7fff_ffff),
        "SNAN" => return Some(sign | 0x7fbf_ffff),
        _ => {}
    }
    if let Some(h) = body.strip_prefix("0f") {
        return u32::from_str_radix(h, 16).ok().filter(|_| h.len() <= 8).map(|b| b ^ sign);
    }
    body.parse::<f32>().ok().map(|v| v.to_bits() ^ sign)
}

fn parse_f16(text: &str) -> Option<u16> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let sign = if neg { 0x8000u16 } else { 0 };
    let up = body.to_ascii_uppercase();
    match up.as_str() {
        "INF" => return Some(sign | 0x7c00),
        "QNAN" | "NAN" => return Some(sign | 0x7fff),
        "SNAN" => return Some(sign | 0x7dff),
        _ => {}
    }
    if let Some(h) = body.strip_prefix("0h") {
        return u16::from_str_radix(h, 16).ok().filter(|_| h.len() <= 4).map(|b| b ^ sign);
    }
    // decimal -> f64 (correctly rounded) -> f16 (round to nearest even, once)
    body.parse::<f64>().ok().map(|v| f16_from_f64(v) ^ sign)
}

/// Round an f64 to the nearest fp16 (ties to even) in one step; `half::f16::from_f64` goes
/// through f32 and can round twice.
pub(crate) fn f16_from_f64(v: f64) -> u16 {
    let sign = if v.is_sign_negative() { 0x8000u16 } else { 0 };
    let a = v.abs();
    if a.is_nan() {
        return sign | 0x7fff;
    }
    if a >= 65520.0 {
        return sign | 0x7c00; // 65520 is the tie between 65504 and 2^16; even rounds up to Inf
    }
    if a == 0.0 {
        return sign;
    }
    let e = ((a.to_bits() >> 52) as i64 - 1023).max(-14);
    let ulp = 2f64.powi(e as i32 - 10);
    let rounded = (a / ulp).round_ties_even() * ulp; // exact: a power-of-two scaling
    sign | half::f16::from_f64(rounded).to_bits() // exactly representable, so no second rounding
}

fn suffix_index(od: &OperandDef, suffix: &Option<String>, at: usize) -> Result<u8, LineError> {
    let Some(s) = suffix else { return Ok(0) };
    for f in od.flags {
        let opts = suffix_options(f.flag);
        if let Some(i) = opts.iter().position(|o| !o.is_empty() && o == s) {
            return Ok(i as u8);
        }
    }
    let allowed: Vec<String> = od
        .flags
        .iter()
        .flat_map(|f| suffix_options(f.flag).iter().filter(|o| !o.is_empty()).map(|o| format!(".{o}")))
        .collect();
    Err(LineError::new(
        K::OperandKind,
        at,
        if allowed.is_empty() {
            format!("operand `{}` takes no suffix, got `.{s}`", od.name)
        } else {
            format!("operand `{}` takes the suffix {}, got `.{s}`", od.name, allowed.join(" or "))
        },
    ))
}

/// An operand that fails `otc_isa::validate_operand`, as an error at the operand.
fn invalid(e: Invalid, at: usize) -> LineError {
    let kind = match e.defect {
        Defect::Flag => K::OperandKind,
        Defect::GroupRange | Defect::Value => K::OutOfRange,
        Defect::GroupAlignment => K::BadRegisterGroup,
    };
    LineError::new(kind, at, e.message)
}

fn fits(kind: Kind, v: i128) -> bool {
    match kind {
        // Unsigned fields also take the negative spelling of the same bits (`-0x1` for 0xffffffff).
        Kind::U(n) => (0..(1i128 << n)).contains(&v) || (n == 32 && (-(1i128 << 31)..0).contains(&v)),
        // Signed 32-bit fields also take the unsigned spelling (`0xffffffff` for -1).
        Kind::S(n) => {
            (-(1i128 << (n - 1))..(1i128 << (n - 1))).contains(&v) || (n == 32 && (0..(1i128 << 32)).contains(&v))
        }
        _ => false,
    }
}

/// Build one operand; Err means this form does not accept it (with the reason). The structural
/// checks (flags, register groups) are `otc_isa::validate_operand`'s, run by the caller.
fn build_operand(
    def: &FormDef,
    index: usize,
    src: &SrcOperand,
    labels: LabelLookup<'_>,
    code_bytes: u32,
) -> Result<Operand, LineError> {
    let od = &def.operands[index];
    let at = src.at;
    let range = |m: String| Err(LineError::new(K::OutOfRange, at, m));
    let mut op = Operand::plain(Value::PredFile);
    match (&src.ast, od.kind) {
        (Ast::Reg { index: r, prefix, reuse, suffix }, Kind::R | Kind::G(_) | Kind::L(_)) => {
            op.neg = prefix.neg;
            op.abs = prefix.abs;
            op.not = prefix.not;
            op.reuse = *reuse;
            op.suffix = suffix_index(od, suffix, at)?;
            op.value = Value::Reg(*r);
        }
        (Ast::List { base, count, reuse, suffix }, kind @ (Kind::G(_) | Kind::L(_))) => {
            let want = kind.group_size();
            if *count != want {
                return Err(LineError::new(
                    K::BadRegisterGroup,
                    at,
                    format!("operand `{}` is a group of {want} registers, the list has {count}", od.name),
                ));
            }
            op.reuse = *reuse;
            op.suffix = suffix_index(od, suffix, at)?;
            op.value = Value::Reg(*base);
        }
        (Ast::Pred { index: p, not }, Kind::P) => {
            op.not = *not;
            op.value = Value::Pred(*p);
        }
        (Ast::Int { value: v, .. }, k @ (Kind::U(_) | Kind::S(_))) => {
            if !fits(k, *v) {
                return range(format!(
                    "immediate {} does not fit operand `{}` ({})",
                    fmt_int(*v),
                    od.name,
                    k.describe()
                ));
            }
            op.value = Value::Imm(*v as u32);
        }
        (Ast::Int { value: v, .. }, Kind::T) => {
            check_target(*v, code_bytes).map_err(|m| LineError::new(K::BadTarget, at, m))?;
            op.value = Value::Imm(*v as u32);
        }
        (Ast::Label(name), Kind::T) => match labels(name) {
            // a label after the last instruction is no instruction's address
            Some(addr) if addr >= code_bytes => {
                return Err(LineError::new(
                    K::BadTarget,
                    at,
                    format!("label `{name}` ({addr:#x}) follows the last instruction: a branch target must be the address of an instruction"),
                ))
            }
            Some(addr) => op.value = Value::Imm(addr),
            None => return Err(LineError::new(K::Label, at, format!("undefined label `{name}`"))),
        },
        // `-0` is the integer 0, but in a float operand it keeps its sign
        (Ast::Int { value: v, minus }, Kind::F32) => {
            op.value = Value::F32((*v as f32).to_bits() | if *minus { 0x8000_0000 } else { 0 })
        }
        (Ast::Int { value: v, minus }, Kind::F16) => {
            let b = f16_from_f64(*v as f64) | if *minus { 0x8000 } else { 0 };
            if b & 0x7fff == 0x7c00 {
                return range(format!(
                    "immediate {v} does not fit operand `{}` (an fp16 immediate: the largest finite fp16 is 65504)",
                    od.name
                ));
            }
            op.value = Value::F16(b)
        }
        (Ast::Float(t), Kind::F32) => match parse_f32(t) {
            Some(b) if b & 0x7fff_ffff == 0x7f80_0000 && !names_bits_or_infinity(t) => {
                return range(format!(
                    "`{t}` does not fit operand `{}` (an fp32 immediate: the largest finite fp32 is 3.4028235e38; write +INF or -INF for infinity)",
                    od.name
                ))
            }
            Some(b) => op.value = Value::F32(b),
            None => return range(format!("cannot read `{t}` as an fp32 value")),
        },
        (Ast::Float(t), Kind::F16) => match parse_f16(t) {
            Some(b) if b & 0x7fff == 0x7c00 && !names_bits_or_infinity(t) => {
                return range(format!(
                    "`{t}` does not fit operand `{}` (an fp16 immediate: the largest finite fp16 is 65504; write +INF or -INF for infinity)",
                    od.name
                ))
            }
            Some(b) => op.value = Value::F16(b),
            None => return range(format!("cannot read `{t}` as an fp16 value")),
        },
        (Ast::Const { bank, offset, prefix, suffix }, Kind::C) => {
            op.neg = prefix.neg;
            op.abs = prefix.abs;
            op.not = prefix.not;
            op.suffix = suffix_index(od, suffix, at)?;
            let (bank, offset) = const_address(*bank, *offset).map_err(|m| LineError::new(K::OutOfRange, at, m))?;
            op.value = Value::Const { bank, offset };
        }
        // nvcc prints an LDC without an index register as `c[0x0][0x174]`: the index is RZ
        (Ast::Const { bank, offset, prefix, suffix }, Kind::CX) => {
            if *prefix != Default::default() || suffix.is_some() {
                return Err(LineError::new(
                    K::OperandKind,
                    at,
                    format!("operand `{}` (a constant load's address) takes no prefix or suffix", od.name),
                ));
            }
            let (bank, offset) = const_address(*bank, *offset).map_err(|m| LineError::new(K::OutOfRange, at, m))?;
            op.value = Value::ConstX { bank, reg: RZ, offset };
        }
        (Ast::ConstX { bank, reg, offset }, Kind::CX) => {
            let (bank, offset) = const_address(*bank, *offset).map_err(|m| LineError::new(K::OutOfRange, at, m))?;
            op.value = Value::ConstX { bank, reg: *reg, offset };
        }
        (Ast::Mem { base, offset }, Kind::M) => {
            if !(-(1i128 << 23)..(1i128 << 23)).contains(offset) {
                return range(format!("memory offset {} does not fit 24 signed bits", fmt_int(*offset)));
            }
            op.value = Value::Mem { base: *base, offset: *offset as i32 };
        }
        (Ast::SReg(s), Kind::SR) => op.value = Value::SReg(*s),
        (Ast::Barrier(b), Kind::B) => {
            if !(0..16).contains(b) {
                return range(format!("convergence barrier B{b} does not exist (B0..B15)"));
            }
            op.value = Value::Barrier(*b as u8);
        }
        (Ast::Scoreboard(b), Kind::SB) => {
            if !(0..6).contains(b) {
                return range(format!("scoreboard SB{b} does not exist (SB0..SB5)"));
            }
            op.value = Value::Scoreboard(*b as u8);
        }
        (Ast::PredFile, Kind::PR) => op.value = Value::PredFile,
        (ast, kind) => {
            return Err(LineError::new(
                K::OperandKind,
                at,
                format!("operand `{}` must be {}, got {}", od.name, kind.describe(), ast.describe()),
            ))
        }
    }
    Ok(op)
}

fn fmt_int(v: i128) -> String {
    if v < 0 {
        format!("-{:#x}", -v)
    } else {
        format!("{v:#x}")
    }
}

/// Assemble one instruction. `opcode_text` is e.g. `IMAD.WIDE.U32`, `opcode_at` its offset.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    opcode_text: &str,
    opcode_at: usize,
    guard: Pred,
    operands: &[SrcOperand],
    control: Option<Control>,
    labels: LabelLookup<'_>,
    code_bytes: u32,
    operands_end: usize,
) -> Result<Instruction, LineError> {
    let mut parts = opcode_text.split('.');
    let mnemonic = parts.next().unwrap_or("");
    let tokens: Vec<&str> = parts.collect();
    let candidates = forms_of(mnemonic);
    if candidates.is_empty() {
        let hint = crate::suggest::nearest(mnemonic, &otc_isa::mnemonics())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        return Err(LineError::new(K::UnknownMnemonic, opcode_at, format!("unknown instruction `{mnemonic}`{hint}")));
    }
    // Best failure so far: (score, error). Higher score = the form got further.
    let mut best: Option<(usize, LineError)> = None;
    let mut consider = |score: usize, e: LineError| {
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, e));
        }
    };
    let mut mods_ok_any = false;
    for &fi in candidates {
        let def = &FORMS[fi];
        let mods = match match_mods(def, &tokens) {
            Ok(m) => m,
            Err(_) => continue,
        };
        mods_ok_any = true;
        if def.operands.len() != operands.len() {
            let at = operands.get(def.operands.len()).map(|o| o.at).unwrap_or(operands_end);
            consider(
                1,
                LineError::new(
                    K::OperandCount,
                    at,
                    format!(
                        "{opcode_text} takes {} operand{} ({}), got {}",
                        def.operands.len(),
                        if def.operands.len() == 1 { "" } else { "s" },
                        signature(def),
                        operands.len()
                    ),
                ),
            );
            continue;
        }
        let mut built = Vec::with_capacity(operands.len());
        let mut failed = None;
        for (i, src) in operands.iter().enumerate() {
            if !kind_accepts(def.operands[i].kind, &src.ast) {
                failed = Some((2 + 2 * i, build_operand(def, i, src, labels, code_bytes).err()));
                break;
            }
            let op = build_operand(def, i, src, labels, code_bytes)
                .and_then(|op| validate_operand(def, &mods, i, &op).map(|()| op).map_err(|e| invalid(e, src.at)));
            match op {
                Ok(op) => built.push(op),
                Err(e) => {
                    failed = Some((3 + 2 * i, Some(e)));
                    break;
                }
            }
        }
        match failed {
            None => {
                return Ok(Instruction { form: fi as u16, guard, mods, operands: built, control });
            }
            Some((score, Some(e))) => consider(score, e),
            Some((_, None)) => {}
        }
    }
    if !mods_ok_any {
        return Err(modifier_error(mnemonic, &tokens, candidates, opcode_at));
    }
    if let Some(e) = two_wide_slots(opcode_text, &tokens, candidates, operands) {
        return Err(e);
    }
    Err(best.map(|(_, e)| e).unwrap_or_else(|| {
        LineError::new(K::OperandKind, opcode_at, format!("no form of {opcode_text} takes these operands"))
    }))
}

fn is_wide(kind: Kind) -> bool {
    matches!(kind, Kind::F32 | Kind::C | Kind::CX) || matches!(kind, Kind::U(n) | Kind::S(n) if n > 16)
}

/// Volta has one 32-bit slot per instruction: two immediates/constants where the instruction
/// takes either in each place is a specific mistake with a specific message.
fn two_wide_slots(
    opcode_text: &str,
    tokens: &[&str],
    candidates: &[usize],
    operands: &[SrcOperand],
) -> Option<LineError> {
    let forms: Vec<&FormDef> = candidates
        .iter()
        .map(|&fi| &FORMS[fi])
        .filter(|d| d.operands.len() == operands.len() && match_mods(d, tokens).is_ok())
        .collect();
    let wide_at: Vec<&SrcOperand> = operands
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            matches!(o.ast, Ast::Const { .. } | Ast::ConstX { .. } | Ast::Int { .. } | Ast::Float(_))
                && forms.iter().any(|d| is_wide(d.operands[*i].kind))
        })
        .map(|(_, o)| o)
        .collect();
    (wide_at.len() >= 2).then(|| {
        LineError::new(
            K::OperandKind,
            wide_at[1].at,
            format!("{opcode_text} can hold only one 32-bit immediate or constant (Volta has one 32-bit slot per instruction); put one of them in a register"),
        )
    })
}

fn signature(def: &FormDef) -> String {
    def.operands.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
}

fn modifier_error(mnemonic: &str, tokens: &[&str], candidates: &[usize], at: usize) -> LineError {
    // Find the first token that no form accepts at that point, for the message.
    let mut all_opts: Vec<&str> = Vec::new();
    for &fi in candidates {
        for g in FORMS[fi].mods {
            for o in g.options {
                if !o.is_empty() && !all_opts.contains(o) {
                    all_opts.push(o);
                }
            }
        }
    }
    let bad = tokens.iter().find(|t| !all_opts.contains(t));
    let mut offset = at + mnemonic.len();
    if let Some(b) = bad {
        for t in tokens {
            offset += 1;
            if t == b {
                break;
            }
            offset += t.len();
        }
        let hint = crate::suggest::nearest(b, &all_opts).map(|s| format!("; did you mean `.{s}`?")).unwrap_or_default();
        LineError::new(K::BadModifier, offset, format!("{mnemonic} does not take the modifier `.{b}`{hint}"))
    } else {
        // Every token exists somewhere, but not in this order or combination, or one is missing.
        let forms: Vec<String> = candidates
            .iter()
            .map(|&fi| {
                let d = &FORMS[fi];
                let mut s = d.mnemonic.to_string();
                for g in d.mods {
                    if g.required() {
                        s.push_str(&format!(".{}", g.options.join("|")));
                    } else {
                        s.push_str(&format!("[.{}]", g.options[1..].join("|")));
                    }
                }
                s
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        LineError::new(
            K::BadModifier,
            at,
            format!(
                "modifiers `.{}` do not form a valid {mnemonic}; expected one of: {}",
                tokens.join("."),
                forms.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::f16_from_f64;

    #[rustfmt::skip]
    const F16: &[(f64, u16)] = &[
        (1.0, 0x3c00), (1.5, 0x3e00), (65504.0, 0x7bff), (65519.99, 0x7bff), (65520.0, 0x7c00),
        (5.960464477539063e-8, 0x0001), (2.9802322387695312e-8, 0x0000), (2.980233e-8, 0x0001),
        (-0.0, 0x8000), (0.1, 0x2e66), (1.0009765625, 0x3c01), (1.00048828125, 0x3c00), (1.00146484375, 0x3c02),
        // 1 + 2^-11 + 2^-40: above the tie in f64, but f64 -> f32 rounding lands on the tie and
        // then ties-to-even goes down; one rounding goes up
        (1.0004882812509095, 0x3c01),
    ];

    #[test]
    fn f16_rounds_once_to_nearest_even() {
        for &(v, bits) in F16 {
            assert_eq!(f16_from_f64(v), bits, "{v}");
        }
    }
}
