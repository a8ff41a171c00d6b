//! Decoding of the integer, logic, predicate and special-register instructions.

use super::*;

impl Dec<'_, '_> {
    /// Integer, logic, predicate and special-register instructions (`exec/integer.rs`); `None` if `mn` is not one of them.
    pub(super) fn integer(&self, mn: &str) -> DResult<Option<OpKind>> {
        Ok(Some(match mn {
            "MOV" => OpKind::Mov { d: self.dst("d")?, a: self.src("a")? },
            "IMAD" => self.imad()?,
            "IADD3" => OpKind::Iadd3 {
                d: self.dst("d")?,
                p: self.opt_pdst("p")?,
                q: self.opt_pdst("q")?,
                a: self.isrc("a")?,
                b: self.isrc("b")?,
                c: self.isrc("c")?,
                ci: self.opt_psrc("ci")?.unwrap_or(PSrc { i: P_TRUE, not: true }),
                cj: self.opt_psrc("cj")?.unwrap_or(PSrc { i: P_TRUE, not: true }),
            },
            "LEA" => {
                let hi = self.has("HI");
                let sx = self.has("SX32");
                OpKind::Lea {
                    d: self.dst("d")?,
                    p: self.opt_pdst("p")?,
                    a: self.isrc("a")?,
                    b: self.src("b")?,
                    c: if self.has_op("c") { Some(self.src("c")?) } else { None },
                    s: self.imm("s")? & 31,
                    hi,
                    sx,
                    ci: self.opt_psrc("ci")?,
                }
            }
            "SHF" => {
                let ty = self.m("type");
                OpKind::Shf {
                    d: self.dst("d")?,
                    lo: self.src("lo")?,
                    n: self.src("n")?,
                    hi: self.src("hi")?,
                    right: self.m("dir") == "R",
                    wrap: self.has("W"),
                    wide: ty.ends_with("64"),
                    signed: ty.starts_with('S'),
                    high: self.has("HI"),
                }
            }
            "LOP3" => OpKind::Lop3 {
                d: self.dst("d")?,
                p: self.opt_pdst("p")?,
                a: self.isrc("a")?,
                b: self.isrc("b")?,
                c: self.isrc("c")?,
                lut: self.imm("lut")? as u8,
            },
            "PLOP3" => OpKind::Plop3 {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.psrc("a")?,
                b: self.psrc("b")?,
                c: self.psrc("c")?,
                lut: self.imm("lut")? as u8,
                lut2: self.imm("lut2")? as u8,
            },
            "ISETP" => OpKind::Isetp {
                p: self.pdst("p")?,
                q: self.pdst("q")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.psrc("c")?,
                e: self.opt_psrc("e")?,
                cmp: self.icmp()?,
                signed: !self.has("U32"),
                bop: self.bop()?,
            },
            "SEL" => OpKind::Sel { d: self.dst("d")?, a: self.src("a")?, b: self.src("b")?, c: self.psrc("c")? },
            "PRMT" => OpKind::Prmt {
                d: self.dst("d")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.src("c")?,
                mode: match self.m("mode") {
                    "" => 0,
                    "F4E" => 1,
                    "B4E" => 2,
                    "RC8" => 3,
                    "ECL" => 4,
                    "ECR" => 5,
                    "RC16" => 6,
                    m => return unsupported(format!("PRMT mode `{m}`")),
                },
            },
            "IABS" => OpKind::Iabs { d: self.dst("d")?, a: self.src("a")? },
            "IMNMX" => OpKind::Imnmx {
                d: self.dst("d")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.psrc("c")?,
                signed: !self.has("U32"),
            },
            "VABSDIFF" => OpKind::Vabsdiff {
                d: self.dst("d")?,
                a: self.src("a")?,
                b: self.src("b")?,
                c: self.src("c")?,
                signed: !self.has("U32"),
            },
            "POPC" => OpKind::Popc { d: self.dst("d")?, a: self.isrc("a")? },
            "FLO" => {
                OpKind::Flo { d: self.dst("d")?, a: self.isrc("a")?, signed: !self.has("U32"), sh: self.has("SH") }
            }
            "BREV" => OpKind::Brev { d: self.dst("d")?, a: self.src("a")? },
            "SGXT" => {
                OpKind::Sgxt { d: self.dst("d")?, a: self.src("a")?, b: self.src("b")?, unsigned: self.has("U32") }
            }
            "BMSK" => OpKind::Bmsk { d: self.dst("d")?, a: self.src("a")?, b: self.src("b")?, wrap: self.has("W") },
            "P2R" => OpKind::P2r {
                d: self.dst("d")?,
                a: self.src("a")?,
                mask: self.imm("mask")?,
                byte: ["", "B1", "B2", "B3"].iter().position(|b| *b == self.m("byte")).unwrap_or(0) as u8,
            },
            "R2P" => OpKind::R2p { a: self.src("a")?, mask: self.imm("mask")?, byte: self.op("a")?.1.suffix },
            "S2R" => OpKind::S2r { d: self.dst("d")?, sr: self.sreg("sr")? },
            "CS2R" => {
                let pair = !self.has("32");
                let d = if pair { self.dst("d")? } else { self.dst1("d")? };
                OpKind::Cs2r { d, sr: self.sreg("sr")?, pair }
            }
            "IDP" => {
                let at = self.m("atype");
                OpKind::Idp {
                    d: self.dst("d")?,
                    a: self.src("a")?,
                    b: self.src("b")?,
                    c: self.src("c")?,
                    four: self.m("mode") == "4A",
                    hi: self.m("half") == "HI",
                    asig: at.starts_with('S'),
                    a16: at.ends_with("16"),
                    bsig: self.m("btype").starts_with('S'),
                }
            }
            _ => return Ok(None),
        }))
    }

    pub(super) fn imad(&self) -> DResult<OpKind> {
        let signed = !self.has("U32");
        if self.has("WIDE") {
            let (ci, co) = self.op("c")?;
            let (clo, chi) = match co.value {
                Value::Reg(r) => {
                    let s = self.read_slot(r, self.group_count(ci).max(2))?;
                    (Src::R(s), Src::R(s + 1))
                }
                Value::Const { bank, offset } => self.const_pair(bank, offset as u32)?,
                Value::Imm(x) => (Src::I(x), Src::I(0)),
                v => return illegal(format!("IMAD.WIDE operand {v:?}")),
            };
            return Ok(OpKind::ImadWide {
                d: self.dst("d")?,
                p: self.opt_pdst("p")?,
                a: self.isrc("a")?,
                b: self.isrc("b")?,
                clo,
                chi,
                signed,
                ci: self.opt_psrc("ci")?,
            });
        }
        Ok(OpKind::Imad {
            d: self.dst("d")?,
            a: self.isrc("a")?,
            b: self.isrc("b")?,
            c: self.isrc("c")?,
            hi: self.m("mode") == "HI",
            signed,
            ci: self.opt_psrc("ci")?,
        })
    }

    pub(super) fn sreg(&self, name: &str) -> DResult<Sr> {
        let code = match self.op(name)?.1.value {
            Value::SReg(s) => s,
            v => return illegal(format!("operand {v:?} is not a special register")),
        };
        let nm = otc_isa::special_register_name(code).unwrap_or("");
        Ok(match nm {
            "SR_LANEID" => Sr::LaneId,
            "SR_CLOCKLO" => Sr::ClockLo,
            "SR_CLOCKHI" => Sr::ClockHi,
            "SR_VIRTUALSMID" | "SR_SMID" => Sr::SmId,
            "SR_TID.X" => Sr::TidX,
            "SR_TID.Y" => Sr::TidY,
            "SR_TID.Z" => Sr::TidZ,
            "SR_CTAID.X" => Sr::CtaIdX,
            "SR_CTAID.Y" => Sr::CtaIdY,
            "SR_CTAID.Z" => Sr::CtaIdZ,
            "SR_EQMASK" => Sr::EqMask,
            "SR_LTMASK" => Sr::LtMask,
            "SR_LEMASK" => Sr::LeMask,
            "SR_GTMASK" => Sr::GtMask,
            "SR_GEMASK" => Sr::GeMask,
            "SRZ" => Sr::Zero,
            "SR_TID" => Sr::Tid,
            "SR_NTID" => Sr::NTid,
            "SR_WARPID" => Sr::WarpId,
            "SR_NWARPID" => Sr::NWarpId,
            "SR_NSMID" => Sr::NSmId,
            "SR_GRIDID" => Sr::GridId,
            "SR_VIRTID" => Sr::VirtId,
            "SR_GLOBALTIMERLO" => Sr::GTimerLo,
            "SR_GLOBALTIMERHI" => Sr::GTimerHi,
            "SR_REGALLOC" => Sr::RegAlloc,
            "SR_SHAREDMEMSIZE" => Sr::SharedSize,
            // The lowest offset the stack may reach; -G code traps (BPT.TRAP) when R1 goes below
            // it. The local window starts at 0 here, and an access beyond it faults anyway.
            "SR_LMEMHIOFF" => Sr::Zero,
            other => return unsupported(format!("special register `{other}` (code {code})")),
        })
    }
}
