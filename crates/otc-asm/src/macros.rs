//! Assembler macros (documented in `isa/otc.toml` `[[macro]]`): one source statement that
//! expands into several machine instructions, all carrying the source line.

use crate::error::{AsmErrorKind as K, LineError};
use crate::operand::Ast;
use crate::stmt::{parse_stmt, Stmt};

/// Register operand of a macro: a base register or a list of `count` registers.
fn group(stmt: &Stmt, index: usize, count: u8, what: &str) -> Result<u8, LineError> {
    let op = &stmt.operands[index];
    let bad = |m: String| Err(LineError::new(K::OperandKind, op.at, m));
    match &op.ast {
        Ast::Reg { index: r, prefix, suffix: None, .. } if *prefix == Default::default() => {
            if *r == 255 {
                return bad(format!("{what} cannot be RZ"));
            }
            if *r as u16 + count as u16 - 1 > 254 {
                return Err(LineError::new(
                    K::OutOfRange,
                    op.at,
                    format!("{what} R{r}..R{} runs past R254", *r as u16 + count as u16 - 1),
                ));
            }
            Ok(*r)
        }
        Ast::List { base, count: c, suffix: None, .. } if *c == count && *base != 255 => Ok(*base),
        Ast::List { count: c, .. } => {
            Err(LineError::new(K::BadRegisterGroup, op.at, format!("{what} is {count} registers, the list has {c}")))
        }
        other => bad(format!(
            "{what} must be {}, got {}",
            if count == 1 { "a register".to_string() } else { format!("a group of {count} registers") },
            other.describe()
        )),
    }
}

/// Expand `stmt` if it is a macro; `None` if it is an ordinary instruction.
pub(crate) fn expand(stmt: &Stmt) -> Option<Result<Vec<Stmt>, LineError>> {
    let mnemonic = stmt.opcode.split('.').next().unwrap_or("");
    match mnemonic {
        "SPWMMA" => Some(spwmma(stmt)),
        _ => None,
    }
}

fn spwmma(stmt: &Stmt) -> Result<Vec<Stmt>, LineError> {
    let at = stmt.opcode_at;
    if stmt.opcode != "SPWMMA.M32N32K1.F32.F32" {
        return Err(LineError::new(
            K::BadModifier,
            at,
            format!("expected `SPWMMA.M32N32K1.F32.F32`, got `{}`", stmt.opcode),
        ));
    }
    if stmt.guard != otc_isa::Pred::TRUE || stmt.control.is_some() {
        return Err(LineError::new(K::Syntax, at, "SPWMMA is a macro: it cannot be guarded or carry control bits (its OHMMAs are predicated by the expansion)"));
    }
    if stmt.operands.len() != 6 {
        let off = stmt.operands.get(6).map(|o| o.at).unwrap_or(at);
        return Err(LineError::new(
            K::OperandCount,
            off,
            format!(
                "SPWMMA takes 6 operands (A group of 8, B group of 4, abmp, bbmp, cbmp, scratch pair), got {}",
                stmt.operands.len()
            ),
        ));
    }
    let a = group(stmt, 0, 8, "the A operand")?;
    let b = group(stmt, 1, 4, "the B operand")?;
    let abmp = group(stmt, 2, 1, "abmp")?;
    let bbmp = group(stmt, 3, 1, "bbmp")?;
    let cbmp = group(stmt, 4, 1, "cbmp")?;
    let t = group(stmt, 5, 2, "the scratch pair")?;
    let (t0, t1) = (t, t + 1);
    let mut lines = vec![
        format!("HMMA.BOHMMA.32321.B32.B32 R{t0}, R{abmp}, R{bbmp}"),
        format!("LOP3.LUT R{cbmp}, R{cbmp}, R{t0}, RZ, 0xfc, !PT"),
        format!("ACCB.BMAP R{abmp}, R{bbmp}"),
        format!("POPC R{t0}, R{abmp}"),
        format!("POPC R{t1}, R{bbmp}"),
    ];
    for n in 0..2u8 {
        lines.push(if n == 0 {
            format!("ISETP.NE.U32.AND P4, PT, R{t1}, RZ, PT")
        } else {
            format!("ISETP.GT.U32.AND P4, PT, R{t1}, 0x10, PT")
        });
        for m in 0..4u8 {
            lines.push(format!("ISETP.GT.U32.AND P{m}, PT, R{t0}, {:#x}, P4", 8 * m));
        }
        for m in 0..4u8 {
            let ar = a + 2 * m;
            let br = b + 2 * n;
            lines.push(format!(
                "@P{m} HMMA.OHMMA.8161.F32.F32.SP.M{m}.N{n} {{R{ar}, R{}}}, {{R{br}, R{}}}",
                ar + 1,
                br + 1
            ));
        }
    }
    lines
        .iter()
        .map(|text| {
            let mut s = parse_stmt(text, 0, stmt.line, text)?;
            s.line_text = stmt.line_text.clone();
            s.opcode_at = at;
            s.operands_end = stmt.operands_end;
            for o in &mut s.operands {
                o.at = at;
            }
            Ok(s)
        })
        .collect()
}
