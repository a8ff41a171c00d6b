//! One statement of assembly text: control code, guard, opcode and operands, before labels are
//! resolved. Shared by the source parser (`parse.rs`) and the macro expander (`macros.rs`).

use otc_isa::{Control, Pred, PT};

use crate::error::{AsmErrorKind as K, LineError};
use crate::matcher::SrcOperand;
use crate::operand::parse_operand;

/// One instruction statement before label resolution.
pub(crate) struct Stmt {
    pub line: usize,
    pub line_text: String,
    pub control: Option<Control>,
    pub guard: Pred,
    pub opcode: String,
    pub opcode_at: usize,
    pub operands: Vec<SrcOperand>,
    /// Byte offset just after the last operand (where a missing operand would go).
    pub operands_end: usize,
}

/// Parse `[B------:R-:W-:Y:S04]` (optionally with a leading reuse field `----:`).
pub(crate) fn parse_control(text: &str) -> Result<Control, String> {
    let inner = text.trim_start_matches('[').trim_end_matches(']');
    let mut fields: Vec<&str> = inner.split(':').collect();
    if fields.len() == 6 {
        fields.remove(0); // CuAssembler's reuse field; `.reuse` lives on the operands here
    }
    let bad = || format!("control code `{text}` is not of the form [B------:R-:W-:Y:S04]");
    if fields.len() != 5 {
        return Err(bad());
    }
    let b = fields[0].strip_prefix('B').ok_or_else(bad)?;
    if b.chars().count() != 6 {
        return Err(bad());
    }
    let mut wait_mask = 0u8;
    for (i, c) in b.chars().enumerate() {
        match c {
            '-' => {}
            d if d.to_digit(10) == Some(i as u32) => wait_mask |= 1 << i,
            _ => return Err(format!("{}: wait-mask position {i} must be `-` or `{i}`", bad())),
        }
    }
    let bar = |f: &str, p: char| -> Result<u8, String> {
        let v = f.strip_prefix(p).ok_or_else(bad)?;
        match v {
            "-" => Ok(7),
            d if d.len() == 1 && ('0'..='6').contains(&d.chars().next().unwrap_or('x')) => Ok(d.as_bytes()[0] - b'0'),
            _ => Err(format!("{}: scoreboard must be 0..6 or -", bad())),
        }
    };
    let read_barrier = bar(fields[1], 'R')?;
    let write_barrier = bar(fields[2], 'W')?;
    let yield_ = match fields[3] {
        "Y" => true,
        "-" => false,
        _ => return Err(bad()),
    };
    let stall: u8 = fields[4]
        .strip_prefix('S')
        .and_then(|s| s.parse().ok())
        .filter(|&s: &u8| s <= 15)
        .ok_or_else(|| format!("{}: stall must be S00..S15", bad()))?;
    Ok(Control { stall, yield_, write_barrier, read_barrier, wait_mask })
}

/// Split the operand text at top-level commas. Returns (text, byte offset in the line).
fn split_operands(text: &str, base: usize) -> Result<Vec<(String, usize)>, LineError> {
    let mut out = Vec::new();
    let mut depth_sq = 0i32;
    let mut depth_br = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth_sq += 1,
            ']' => depth_sq -= 1,
            '{' => depth_br += 1,
            '}' => depth_br -= 1,
            ',' if depth_sq == 0 && depth_br == 0 => {
                out.push((text[start..i].to_string(), base + start));
                start = i + 1;
            }
            _ => {}
        }
        if depth_sq < 0 || depth_br < 0 {
            return Err(LineError::new(K::Syntax, base + i, format!("unbalanced `{c}`")));
        }
    }
    if depth_sq != 0 {
        return Err(LineError::new(K::Syntax, base + text.len(), "unbalanced `[`: expected `]`"));
    }
    if depth_br != 0 {
        return Err(LineError::new(K::Syntax, base + text.len(), "unbalanced `{`: expected `}`"));
    }
    out.push((text[start..].to_string(), base + start));
    Ok(out)
}

/// Parse one operand piece; a piece holding two operands separated by blanks (nvcc's
/// `RET.REL.NODEC R2 0x0`) is split.
fn parse_piece(piece: &str, at: usize, out: &mut Vec<SrcOperand>) -> Result<(), LineError> {
    let lead = piece.len() - piece.trim_start().len();
    let t = piece.trim();
    let at = at + lead;
    match parse_operand(t, at) {
        Ok(ast) => {
            out.push(SrcOperand { ast, at });
            Ok(())
        }
        // nvcc writes `RET.REL.NODEC R2 0x0`: two operands separated by blanks
        Err(e) if e.kind == K::Syntax && !t.contains(['{', '[', '|']) && t.split_whitespace().count() > 1 => {
            for w in t.split_whitespace() {
                let off = w.as_ptr() as usize - t.as_ptr() as usize;
                out.push(SrcOperand { ast: parse_operand(w, at + off)?, at: at + off });
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Parse an instruction statement (comments already removed). `text` starts at `base` in the line.
pub(crate) fn parse_stmt(text: &str, base: usize, line: usize, line_text: &str) -> Result<Stmt, LineError> {
    let mut rest = text;
    let mut pos = base;
    let skip_ws = |r: &mut &str, p: &mut usize| {
        let n = r.len() - r.trim_start().len();
        *r = &r[n..];
        *p += n;
    };
    skip_ws(&mut rest, &mut pos);
    let mut control = None;
    if rest.starts_with('[') {
        let Some(end) = rest.find(']') else {
            return Err(LineError::new(K::Syntax, pos, "unbalanced `[` in the control code"));
        };
        control = Some(parse_control(&rest[..=end]).map_err(|m| LineError::new(K::Syntax, pos, m))?);
        rest = &rest[end + 1..];
        pos += end + 1;
        skip_ws(&mut rest, &mut pos);
    }
    let mut guard = Pred::TRUE;
    if let Some(g) = rest.strip_prefix('@') {
        let end = g.find(char::is_whitespace).unwrap_or(g.len());
        let gtext = &g[..end];
        let (not, name) = match gtext.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, gtext),
        };
        let index = match name {
            "PT" => PT,
            _ => match name.strip_prefix('P').map(|d| d.as_bytes()) {
                Some([d @ b'0'..=b'6']) => d - b'0',
                _ => {
                    return Err(LineError::new(
                        K::Syntax,
                        pos,
                        format!("guard `@{gtext}` must be a predicate: @P0..@P6, @PT, @!P0 ..."),
                    ))
                }
            },
        };
        guard = Pred { index, not };
        rest = &g[end..];
        pos += 1 + end;
        skip_ws(&mut rest, &mut pos);
        if rest.is_empty() {
            return Err(LineError::new(K::Syntax, pos, "a guard must be followed by an instruction"));
        }
    }
    let end = rest.find(|c: char| c.is_whitespace() || c == ';').unwrap_or(rest.len());
    let opcode = rest[..end].to_string();
    let opcode_at = pos;
    if opcode.is_empty() || !opcode.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
        return Err(LineError::new(
            K::Syntax,
            pos,
            format!("expected an instruction mnemonic, got `{}`", if opcode.is_empty() { rest } else { &opcode }),
        ));
    }
    rest = &rest[end..];
    pos += end;
    // operands end at `;`; nothing but blanks may follow it
    let (ops_text, tail) = match rest.find(';') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    if !tail.trim().is_empty() {
        let off = pos + ops_text.len() + 1 + (tail.len() - tail.trim_start().len());
        return Err(LineError::new(
            K::Syntax,
            off,
            format!("unexpected text after `;`: `{}` (one instruction per line)", tail.trim()),
        ));
    }
    let mut operands = Vec::new();
    if !ops_text.trim().is_empty() {
        for (piece, at) in split_operands(ops_text, pos)? {
            parse_piece(&piece, at, &mut operands)?;
        }
    }
    let operands_end = pos + ops_text.trim_end().len();
    Ok(Stmt { line, line_text: line_text.to_string(), control, guard, opcode, opcode_at, operands, operands_end })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (stall, yield, write barrier, read barrier, wait mask)
    type Fields = (u8, bool, u8, u8, u8);

    #[rustfmt::skip]
    const CONTROL: &[(&str, Option<Fields>)] = &[
        ("[B------:R-:W-:Y:S04]", Some((4, true, 7, 7, 0))),
        ("[B0-2---:R1:W5:-:S15]", Some((15, false, 5, 1, 0b101))),
        ("[----:B------:R-:W-:Y:S00]", Some((0, true, 7, 7, 0))),
        ("[B------:R-:W-:Y:S16]", None),
        ("[B1-----:R-:W-:Y:S01]", None),
        ("[B------:R7:W-:Y:S01]", None),
        ("[B------]", None),
    ];

    #[test]
    fn control_codes() {
        for (text, want) in CONTROL {
            let got =
                parse_control(text).ok().map(|c| (c.stall, c.yield_, c.write_barrier, c.read_barrier, c.wait_mask));
            assert_eq!(got, *want, "{text}");
        }
    }
}
