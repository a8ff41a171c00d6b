//! Decoding of the tensor-core instructions, told apart by their ISA class.

use super::*;

impl Dec<'_, '_> {
    /// The tensor instructions are told apart by their class (`isa/*.toml`).
    pub(super) fn tensor(&self, class: TensorClass) -> DResult<OpKind> {
        use TensorClass::*;
        Ok(OpKind::Tensor(match class {
            OhmmaF32 | OhmmaF16 => TensorOp::Ohmma {
                d: self.dst("d")?,
                a: self.reg("a")?,
                b: self.reg("b")?,
                c: self.reg("c")?,
                f32: class == OhmmaF32,
            },
            Bohmma => TensorOp::Bohmma { d: self.dst("d")?, a: self.src("a")?, b: self.src("b")? },
            OhmmaSparse => {
                // Blocks M0..M3 and N0..N1: the option index is the block.
                TensorOp::OhmmaSp {
                    a: self.reg("a")?,
                    b: self.reg("b")?,
                    m: self.mod_index("m"),
                    n: self.mod_index("n"),
                    buf: self.mod_index("buf"),
                }
            }
            SpwmmaSeq => TensorOp::SpwmmaSeq { a: self.reg("a")?, b: self.reg("b")?, buf: self.mod_index("buf") },
            Hmma884F32 | Hmma884F16 => self.hmma884(class == Hmma884F32)?,
            Hmma884Vs => match self.hmma884(true)? {
                TensorOp::Hmma { d, a, b, c, step, a_col, b_col, .. } => {
                    TensorOp::HmmaVs { d, a, b, c, e: self.src("e")?, step, a_col, b_col }
                }
                _ => unreachable!("hmma884 decodes to TensorOp::Hmma"),
            },
            HmmaSp24 | HmmaHss4 | HmmaHss8 => TensorOp::HmmaSparse {
                d: self.dst("d")?,
                a: self.reg("a")?,
                b: self.reg("b")?,
                c: self.reg("c")?,
                e: self.reg("e")?,
                // STEP0..STEP3 and SEL0..SEL3: the option index is the step / the selector.
                step: self.mod_index("step"),
                sel: self.mod_index("sel"),
                blocks: match class {
                    HmmaHss4 => 4,
                    HmmaHss8 => 8,
                    _ => 2,
                },
                hss: class != HmmaSp24,
            },
            // BUF1..BUF3: the option index is the buffer.
            AccbClear => TensorOp::AccbClear { buf: self.mod_index("buf") },
            AccbBmap => TensorOp::AccbBmap { a: self.src("a")?, b: self.src("b")?, buf: self.mod_index("buf") },
            AccbMov => {
                let q = self.imm("q")?;
                if q > 3 {
                    return illegal(format!("ACCB.MOV block {q} (0..3)"));
                }
                TensorOp::AccbMov { d: self.dst("d")?, q: q as u8, buf: self.mod_index("buf") }
            }
            AccbSts | AccbLds => {
                let (base, off) = self.mem("a", false)?;
                TensorOp::AccbShared { base, off, load: class == AccbLds, buf: self.mod_index("buf") }
            }
        }))
    }

    /// Volta's HMMA.884 step (`f32`: fp32 accumulators).
    pub(super) fn hmma884(&self, f32: bool) -> DResult<TensorOp> {
        // STEP0..STEP3: the option index is the step.
        let step = self.mod_index("step");
        let (_, ao) = self.op("a")?;
        let (_, bo) = self.op("b")?;
        // suffix 1 = ROW, 2 = COL; A defaults to ROW, B to COL
        Ok(TensorOp::Hmma {
            d: self.dst("d")?,
            a: self.reg("a")?,
            b: self.reg("b")?,
            c: self.reg("c")?,
            f32,
            step,
            a_col: ao.suffix == 2,
            b_col: bo.suffix != 1,
        })
    }
}
