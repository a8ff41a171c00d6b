//! Decoding of the warp-wide instructions (shuffle, vote, match).

use super::*;

impl Dec<'_, '_> {
    /// Warp-wide instructions: shuffle, vote, match (`exec/warp.rs`); `None` if `mn` is not one of them.
    pub(super) fn warp(&self, mn: &str) -> DResult<Option<OpKind>> {
        Ok(Some(match mn {
            "SHFL" => OpKind::Shfl {
                p: self.pdst("p")?,
                d: self.dst("d")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.src("c")?,
                mode: self.modifier::<ShflMode>()?,
            },
            "VOTE" => OpKind::Vote {
                d: self.dst("d")?,
                p: self.pdst("p")?,
                a: self.psrc("a")?,
                mode: match self.m("mode") {
                    "ALL" => 0,
                    "ANY" => 1,
                    _ => 2,
                },
            },
            "MATCH" => {
                let wide = self.has("U64");
                let (ai, ao) = self.op("a")?;
                let n = if wide { 2 } else { self.group_count(ai) };
                let a = match ao.value {
                    Value::Reg(r) => self.read_slot(r, n)?,
                    v => return illegal(format!("MATCH operand {v:?}")),
                };
                OpKind::Match { p: self.opt_pdst("p")?, d: self.dst1("d")?, a, wide, all: self.m("mode") == "ALL" }
            }
            _ => return Ok(None),
        }))
    }
}
