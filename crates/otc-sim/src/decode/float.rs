//! Decoding of the fp32, fp64 and conversion instructions.

use super::*;

impl Dec<'_, '_> {
    /// fp32, fp64 and conversion instructions (`exec/float.rs`); `None` if `mn` is not one of them.
    pub(super) fn float(&self, mn: &str) -> DResult<Option<OpKind>> {
        Ok(Some(match mn {
            "FADD" => OpKind::Fadd {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                ftz: self.has("FTZ"),
                rnd: self.rnd(),
                sat: self.has("SAT"),
            },
            "FMUL" => OpKind::Fmul {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                ftz: self.has("FTZ"),
                rnd: self.rnd(),
                sat: self.has("SAT"),
                scale: match self.m("scale") {
                    "D2" => -1,
                    "D4" => -2,
                    "M2" => 1,
                    "M4" => 2,
                    "M8" => 3,
                    _ => 0,
                },
            },
            "FFMA" => OpKind::Ffma {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                c: self.fsrc("c")?,
                ftz: self.has("FTZ"),
                rnd: self.rnd(),
                sat: self.has("SAT"),
            },
            "FSETP" => OpKind::Fsetp {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                c: self.psrc("c")?,
                cmp: self.fcmp()?,
                ftz: self.has("FTZ"),
                bop: self.bop()?,
            },
            "FSEL" => OpKind::Fsel { d: self.dst("d")?, a: self.fsrc("a")?, b: self.fsrc("b")?, c: self.psrc("c")? },
            "FMNMX" => OpKind::Fmnmx {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                b: self.fsrc("b")?,
                c: self.psrc("c")?,
                ftz: self.has("FTZ"),
            },
            "FCHK" => OpKind::Fchk { p: self.pdst("p")?, a: self.src("a")?, b: self.src("b")? },
            "MUFU" => OpKind::Mufu { d: self.dst("d")?, a: self.fsrc("a")?, f: self.modifier::<MufuFn>()? },
            "FRND" => OpKind::Frnd {
                d: self.dst("d")?,
                a: self.fsrc("a")?,
                rnd: match self.m("rnd") {
                    "CEIL" => Rnd::Rp,
                    "FLOOR" => Rnd::Rm,
                    "TRUNC" => Rnd::Rz,
                    _ => Rnd::Rn,
                },
                ftz: self.has("FTZ"),
            },
            "F2I" => self.f2i()?,
            "I2F" => self.i2f()?,
            "F2F" => self.f2f()?,
            "I2I" => OpKind::I2i {
                d: self.dst("d")?,
                a: self.src("a")?,
                dty: int_ty(self.m("dtype"), IntTy::S32)?,
                sty: int_ty(self.m("stype"), IntTy::S32)?,
                sat: self.has("SAT"),
            },
            "DADD" | "DMUL" | "DFMA" => {
                let op = match mn {
                    "DADD" => DOp::Add,
                    "DMUL" => DOp::Mul,
                    _ => DOp::Fma,
                };
                let zero = DSrc { lo: Src::I(0), hi: Src::I(0), and: u32::MAX, xor: 0 };
                OpKind::Dop {
                    op,
                    d: self.dst("d")?,
                    a: self.dsrc("a")?,
                    b: self.dsrc("b")?,
                    c: if op == DOp::Fma { self.dsrc("c")? } else { zero },
                    rnd: self.rnd(),
                }
            }
            "DSETP" => OpKind::Dsetp {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.dsrc("a")?,
                b: self.dsrc("b")?,
                c: self.psrc("c")?,
                cmp: self.fcmp()?,
                bop: self.bop()?,
            },
            _ => return Ok(None),
        }))
    }

    pub(super) fn f2i(&self) -> DResult<OpKind> {
        let (_, ao) = self.op("a")?;
        let sty = float_ty(self.m("stype"));
        let (lo, hi) = self.wide_src(ao.value, if sty == FTy::F64 { 2 } else { 1 })?;
        Ok(OpKind::F2i {
            d: self.dst("d")?,
            lo,
            hi,
            hsel: ao.suffix,
            neg: ao.neg,
            abs: ao.abs,
            dty: int_ty(self.m("dtype"), IntTy::S32)?,
            sty,
            rnd: match self.m("rnd") {
                "" => Rnd::Rn,
                _ => self.rnd(),
            },
            ftz: self.has("FTZ"),
        })
    }

    pub(super) fn i2f(&self) -> DResult<OpKind> {
        let (_, ao) = self.op("a")?;
        let sty = int_ty(self.m("stype"), IntTy::S32)?;
        let (lo, hi) = self.wide_src(ao.value, if sty.bits() == 64 { 2 } else { 1 })?;
        Ok(OpKind::I2f {
            d: self.dst("d")?,
            lo,
            hi,
            bsel: ao.suffix,
            dty: float_ty(self.m("dtype")),
            sty,
            rnd: self.rnd(),
        })
    }

    pub(super) fn f2f(&self) -> DResult<OpKind> {
        let (_, ao) = self.op("a")?;
        let sty = float_ty(self.m("stype"));
        let dty = float_ty(self.m("dtype"));
        let (lo, hi) = self.wide_src(ao.value, if sty == FTy::F64 { 2 } else { 1 })?;
        Ok(OpKind::F2f {
            d: self.dst("d")?,
            lo,
            hi,
            hsel: ao.suffix,
            neg: ao.neg,
            abs: ao.abs,
            dty,
            sty,
            rnd: self.rnd(),
            integral: matches!(self.m("rnd"), "ROUND" | "FLOOR" | "CEIL" | "TRUNC"),
            ftz: self.has("FTZ"),
            sat: self.has("SAT"),
        })
    }
}

/// A float type modifier (`F64`, `F16`; anything else is F32).
pub(super) fn float_ty(s: &str) -> FTy {
    match s {
        "F64" => FTy::F64,
        "F16" => FTy::F16,
        _ => FTy::F32,
    }
}

pub(super) fn int_ty(s: &str, default: IntTy) -> DResult<IntTy> {
    Ok(match s {
        "" => default,
        "U8" => IntTy::U8,
        "S8" => IntTy::S8,
        "U16" => IntTy::U16,
        "S16" => IntTy::S16,
        "U32" => IntTy::U32,
        "S32" => IntTy::S32,
        "U64" => IntTy::U64,
        "S64" => IntTy::S64,
        t => return unsupported(format!("integer type `{t}`")),
    })
}
