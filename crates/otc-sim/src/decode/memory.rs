//! Decoding of loads, stores and atomics.

use super::*;

impl Dec<'_, '_> {
    /// Loads, stores and atomics (`exec/memory.rs`); `None` if `mn` is not one of them.
    pub(super) fn memory(&self, mn: &str) -> DResult<Option<OpKind>> {
        Ok(Some(match mn {
            "LDG" | "LDS" | "LDL" | "LD" => {
                let space = ldst_space(mn);
                let wide = matches!(space, Space::Global | Space::Generic);
                let (base, off) = self.mem("a", wide)?;
                OpKind::Ld { space, d: self.dst("d")?, base, wide, off, size: self.msize()? }
            }
            "STG" | "STS" | "STL" | "ST" => {
                let space = ldst_space(mn);
                let wide = matches!(space, Space::Global | Space::Generic);
                let (base, off) = self.mem("a", wide)?;
                OpKind::St { space, base, wide, off, src: self.reg("b")?, size: self.msize()? }
            }
            "LDC" => {
                let (_, o) = self.op("a")?;
                match o.value {
                    Value::ConstX { bank, reg, offset } => OpKind::Ldc {
                        d: self.dst("d")?,
                        bank,
                        reg: self.read_slot(reg, 1)?,
                        off: offset as u32,
                        size: self.msize()?,
                    },
                    v => return illegal(format!("LDC operand {v:?}")),
                }
            }
            "ATOMG" | "RED" | "ATOMS" | "ATOM" => self.atom()?,
            "QSPC" => {
                let (base, off) = self.mem("a", true)?;
                let space = match self.m("space") {
                    "S" => Space::Shared,
                    "L" => Space::Local,
                    _ => Space::Global,
                };
                OpKind::Qspc { p: self.pdst("p")?, d: self.dst("d")?, base, off, space }
            }
            _ => return Ok(None),
        }))
    }

    pub(super) fn msize(&self) -> DResult<MSize> {
        Ok(match self.m("size") {
            "U8" => MSize::U8,
            "S8" => MSize::S8,
            "U16" => MSize::U16,
            "S16" => MSize::S16,
            "" | "32" => MSize::B32,
            "64" => MSize::B64,
            "128" => MSize::B128,
            s => return unsupported(format!("access size `{s}`")),
        })
    }

    pub(super) fn atom(&self) -> DResult<OpKind> {
        let mn = self.def().mnemonic;
        let space = match mn {
            "ATOMS" => Space::Shared,
            "ATOM" => Space::Generic,
            _ => Space::Global,
        };
        let op = match self.m("op") {
            "ADD" => AtomOp::Add,
            "MIN" => AtomOp::Min,
            "MAX" => AtomOp::Max,
            "INC" => AtomOp::Inc,
            "DEC" => AtomOp::Dec,
            "AND" => AtomOp::And,
            "OR" => AtomOp::Or,
            "XOR" => AtomOp::Xor,
            "EXCH" => AtomOp::Exch,
            "CAS" => AtomOp::Cas,
            "CAST" => AtomOp::Cast,
            o => return unsupported(format!("atomic operation `{o}`")),
        };
        let ty = match self.m("type") {
            "" | "U32" => AtomTy::U32,
            "S32" => AtomTy::S32,
            "64" | "U64" => AtomTy::U64,
            "S64" => AtomTy::S64,
            "F32" => AtomTy::F32,
            "F16x2" => AtomTy::F16x2,
            "F64" => AtomTy::F64,
            t => return unsupported(format!("atomic type `{t}`")),
        };
        // which (op, type) pairs exist
        let ok = match op {
            AtomOp::Add => true,
            AtomOp::Min | AtomOp::Max => matches!(ty, AtomTy::U32 | AtomTy::S32 | AtomTy::U64 | AtomTy::S64),
            AtomOp::Inc | AtomOp::Dec => ty == AtomTy::U32,
            AtomOp::And | AtomOp::Or | AtomOp::Xor | AtomOp::Exch => {
                matches!(ty, AtomTy::U32 | AtomTy::S32 | AtomTy::U64 | AtomTy::S64) || (op == AtomOp::Exch)
            }
            AtomOp::Cas | AtomOp::Cast => matches!(ty, AtomTy::U32 | AtomTy::U64),
        };
        if !ok {
            return unsupported(format!("{} is not a valid atomic", self.inst.opcode_text()));
        }
        let (base, off) = self.mem("a", space != Space::Shared)?;
        let d = if self.has_op("d") { Some(self.dst("d")?) } else { None };
        let b = self.reg("b")?;
        let c = if self.has_op("c") { self.reg("c")? } else { self.cx.zero() };
        Ok(OpKind::Atom { space, op, ty, d, base, off, b, c, ftz: self.has("FTZ") })
    }
}

/// The space of LDG/LDS/LDL and STG/STS/STL.
pub(super) fn ldst_space(mnemonic: &str) -> Space {
    match mnemonic {
        "LDG" | "STG" => Space::Global,
        "LDS" | "STS" => Space::Shared,
        "LD" | "ST" => Space::Generic,
        _ => Space::Local,
    }
}
