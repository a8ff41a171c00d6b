//! Decoding of control flow, barriers and hints.

use super::*;

impl Dec<'_, '_> {
    /// Control flow, barriers and hints (`exec/control.rs`); `None` if `mn` is not one of them.
    pub(super) fn control(&self, mn: &str) -> DResult<Option<OpKind>> {
        Ok(Some(match mn {
            "NOP" | "DEPBAR" | "MEMBAR" | "ERRBAR" | "CCTL" => OpKind::Nop,
            "YIELD" | "NANOSLEEP" => OpKind::Yield,
            "BRA" => {
                let kind = match self.m("div") {
                    "DIV" => BraKind::Div,
                    "CONV" => BraKind::Conv,
                    _ => BraKind::Plain,
                };
                OpKind::Bra { t: self.target("t")?, cond: self.opt_psrc("p")?, kind }
            }
            "BRX" => OpKind::Brx { a: self.src("a")?, t: self.imm("t")? as i32 },
            "EXIT" => OpKind::Exit,
            "CALL" => OpKind::Call { t: self.target("t")? },
            "RET" => OpKind::Ret { a: self.reg("a")?, t: self.imm("t")? },
            "BSSY" => {
                self.target("t")?;
                OpKind::Bssy { b: self.barrier("b")? }
            }
            "BSYNC" => OpKind::Bsync { b: self.barrier("b")? },
            "BREAK" => OpKind::Break { b: self.barrier("b")? },
            "BMOV" => {
                if self.def().operands[0].kind == Kind::B {
                    OpKind::BmovB { b: self.barrier("b")?, a: self.src("a")? }
                } else {
                    OpKind::BmovR { d: self.dst("d")?, b: self.barrier("b")?, clear: self.has("CLEAR") }
                }
            }
            "WARPSYNC" => OpKind::Warpsync { a: self.src("a")? },
            "BAR" => {
                let sync = match self.m("op") {
                    "SYNC" => true,
                    "ARV" => false,
                    o => return unsupported(format!("BAR.{o}")),
                };
                OpKind::Bar {
                    sync,
                    id: self.src("a")?,
                    count: if self.has_op("b") { Some(self.src("b")?) } else { None },
                }
            }
            "BPT" => OpKind::Trap,
            _ => return Ok(None),
        }))
    }
}
