//! Canonical text of instructions and operands, in the style `cuobjdump -sass` prints them.

use std::fmt::{self, Write};

use crate::inst::{Control, Instruction, Operand, Value, PT, RZ};
use crate::spec::{Flag, Kind, OperandDef};
use crate::{special_register_name, suffix_options};

/// Register name: `R4` or `RZ`.
pub fn reg_name(r: u8) -> String {
    if r == RZ {
        "RZ".to_string()
    } else {
        format!("R{r}")
    }
}

/// Predicate name: `P3` or `PT`.
pub fn pred_name(p: u8) -> String {
    if p == PT {
        "PT".to_string()
    } else {
        format!("P{p}")
    }
}

/// Hex with a sign, as cuobjdump prints signed immediates (`0x10`, `-0x10`).
pub fn signed_hex(v: i64) -> String {
    if v < 0 {
        format!("-{:#x}", v.unsigned_abs())
    } else {
        format!("{v:#x}")
    }
}

/// fp32 immediate text: shortest decimal that reads back to the same bits; `+INF`, `-INF`,
/// `+QNAN`/`-QNAN` for the canonical NaNs and `0fXXXXXXXX` for other NaN payloads.
pub fn f32_text(bits: u32) -> String {
    let v = f32::from_bits(bits);
    if v.is_nan() {
        return match bits {
            0x7fff_ffff => "+QNAN".into(),
            0xffff_ffff => "-QNAN".into(),
            _ => format!("0f{bits:08x}"),
        };
    }
    if v.is_infinite() {
        return if v > 0.0 { "+INF".into() } else { "-INF".into() };
    }
    if bits == 0x8000_0000 {
        // `-0` would read back as the integer 0, i.e. +0.0
        return "-0.0".into();
    }
    let s = format!("{v:?}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// fp16 immediate text, like [`f32_text`] (`0hXXXX` for non-canonical NaNs).
pub fn f16_text(bits: u16) -> String {
    let v = half::f16::from_bits(bits);
    if v.is_nan() {
        return match bits {
            0x7fff => "+QNAN".into(),
            0xffff => "-QNAN".into(),
            _ => format!("0h{bits:04x}"),
        };
    }
    if v.is_infinite() {
        return if bits & 0x8000 == 0 { "+INF".into() } else { "-INF".into() };
    }
    // The f32 value of an fp16 is exact, and its shortest f32 text reads back to the same fp16.
    f32_text(v.to_f32().to_bits())
}

fn suffix_text(od: &OperandDef, op: &Operand) -> Option<&'static str> {
    if op.suffix == 0 {
        return None;
    }
    od.flags
        .iter()
        .find(|f| matches!(f.flag, Flag::Swz | Flag::Hsel | Flag::Bsel | Flag::Layout))
        .and_then(|f| suffix_options(f.flag).get(op.suffix as usize).copied())
}

/// Text of one operand of an instruction.
pub fn operand_text(od: &OperandDef, op: &Operand) -> String {
    let mut core = match (od.kind, op.value) {
        (Kind::L(n), Value::Reg(r)) if r != RZ => {
            let regs: Vec<String> = (0..n as u16).map(|i| reg_name((r as u16 + i).min(255) as u8)).collect();
            format!("{{{}}}", regs.join(", "))
        }
        (_, Value::Reg(r)) => reg_name(r),
        (_, Value::Pred(p)) => {
            return format!("{}{}", if op.not { "!" } else { "" }, pred_name(p));
        }
        (Kind::S(_), Value::Imm(v)) => signed_hex(v as i32 as i64),
        (_, Value::Imm(v)) => format!("{v:#x}"),
        (_, Value::F32(b)) => f32_text(b),
        (_, Value::F16(b)) => f16_text(b),
        (_, Value::Const { bank, offset }) => format!("c[{bank:#x}][{offset:#x}]"),
        (_, Value::ConstX { bank, reg, offset }) => {
            // as nvcc prints it: no index register is `c[0x0][0x174]`, but offset 0 is `c[0x0][RZ]`
            if reg == RZ && offset != 0 {
                format!("c[{bank:#x}][{offset:#x}]")
            } else if offset == 0 {
                format!("c[{bank:#x}][{}]", reg_name(reg))
            } else {
                format!("c[{bank:#x}][{}+{offset:#x}]", reg_name(reg))
            }
        }
        (_, Value::Mem { base, offset }) => {
            if base == RZ && offset != 0 {
                format!("[{}]", signed_hex(offset as i64))
            } else if offset == 0 {
                format!("[{}]", reg_name(base))
            } else {
                format!("[{}+{}]", reg_name(base), signed_hex(offset as i64))
            }
        }
        (_, Value::SReg(s)) => special_register_name(s).map(str::to_string).unwrap_or(format!("SR{s}")),
        (_, Value::Barrier(b)) => format!("B{b}"),
        (_, Value::Scoreboard(b)) => format!("SB{b}"),
        (_, Value::PredFile) => "PR".into(),
    };
    // cuobjdump puts the suffixes outside the bars and `.reuse` first: `|R2|.reuse`,
    // `R24.reuse.ROW`, `-R7.reuse.H0_H0`.
    if op.abs {
        core = format!("|{core}|");
    }
    if op.reuse {
        core.push_str(".reuse");
    }
    if let Some(s) = suffix_text(od, op) {
        core.push('.');
        core.push_str(s);
    }
    if op.neg {
        core = format!("-{core}");
    }
    if op.not {
        core = format!("~{core}");
    }
    core
}

/// `[B------:R-:W-:Y:S04]`, CuAssembler's form of the control bits.
pub fn control_text(c: &Control) -> String {
    let mut s = String::from("[B");
    for i in 0..6 {
        if c.wait_mask & (1 << i) != 0 {
            let _ = write!(s, "{i}");
        } else {
            s.push('-');
        }
    }
    let bar = |b: u8| {
        if b >= 7 {
            "-".to_string()
        } else {
            b.to_string()
        }
    };
    let _ = write!(
        s,
        ":R{}:W{}:{}:S{:02}]",
        bar(c.read_barrier),
        bar(c.write_barrier),
        if c.yield_ { "Y" } else { "-" },
        c.stall
    );
    s
}

impl Instruction {
    /// `IMAD.WIDE.U32` — the mnemonic with its non-empty modifiers.
    pub fn opcode_text(&self) -> String {
        let def = self.def();
        let mut s = def.mnemonic.to_string();
        for (g, &i) in def.mods.iter().zip(&self.mods) {
            let o = g.options[i as usize];
            if !o.is_empty() {
                s.push('.');
                s.push_str(o);
            }
        }
        s
    }

    /// Canonical text without control bits and without the trailing ` ;`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        if self.guard.index != PT || self.guard.not {
            let _ =
                write!(s, "@{}{} ", if self.guard.not { "!" } else { "" }, crate::text::pred_name(self.guard.index));
        }
        s.push_str(&self.opcode_text());
        let def = self.def();
        for (i, (od, op)) in def.operands.iter().zip(&self.operands).enumerate() {
            s.push_str(if i == 0 { " " } else { ", " });
            s.push_str(&operand_text(od, op));
        }
        s
    }
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = &self.control {
            write!(f, "{} ", control_text(c))?;
        }
        write!(f, "{} ;", self.text())
    }
}
