//! Decoding of the half2 instructions.

use super::*;

impl Dec<'_, '_> {
    /// half2 instructions (`exec/half.rs`); `None` if `mn` is not one of them.
    pub(super) fn half(&self, mn: &str) -> DResult<Option<OpKind>> {
        Ok(Some(match mn {
            "HADD2" | "HMUL2" | "HFMA2" => self.h2()?,
            "HSETP2" => OpKind::Hsetp2 {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.hsrc("a")?,
                b: self.hsrc("b")?,
                c: self.psrc("c")?,
                cmp: self.fcmp()?,
                hand: self.has("H_AND"),
                ftz: self.has("FTZ"),
                bop: self.bop()?,
            },
            "HSET2" => OpKind::Hset2 {
                d: self.dst("d")?,
                a: self.hsrc("a")?,
                b: self.hsrc("b")?,
                c: self.psrc("c")?,
                cmp: self.fcmp()?,
                bf: self.has("BF"),
                ftz: self.has("FTZ"),
                bop: self.bop()?,
            },
            "HMNMX2" => OpKind::Hmnmx2 {
                d: self.dst("d")?,
                a: self.hsrc("a")?,
                b: self.hsrc("b")?,
                c: self.psrc("c")?,
                ftz: self.has("FTZ"),
            },
            _ => return Ok(None),
        }))
    }

    pub(super) fn h2(&self) -> DResult<OpKind> {
        let mn = self.def().mnemonic;
        let op = match mn {
            "HADD2" => HOp::Add,
            "HMUL2" => HOp::Mul,
            _ => HOp::Fma,
        };
        let a = self.hsrc("a")?;
        let b = if self.has_op("b0") { self.hpair("b0", "b1")? } else { self.hsrc("b")? };
        let c = match op {
            HOp::Add | HOp::Mul => HSrc { s: Src::I(0), swz: 0, neg: false, abs: false },
            HOp::Fma => {
                if self.has_op("c0") {
                    self.hpair("c0", "c1")?
                } else {
                    self.hsrc("c")?
                }
            }
        };
        Ok(OpKind::H2 {
            op,
            d: self.dst("d")?,
            a,
            b,
            c,
            f32: self.has("F32"),
            ftz: self.has("FTZ"),
            sat: self.has("SAT"),
        })
    }
}
