//! Operand and modifier resolution shared by every family: registers to slots (with the
//! allocation and alignment checks), constant operands to immediates, sources with their flags,
//! predicates, immediates, memory operands and modifiers.

use super::*;

impl Dec<'_, '_> {
    pub(super) fn def(&self) -> &'static otc_isa::FormDef {
        self.inst.def()
    }

    pub(super) fn m(&self, group: &str) -> &'static str {
        self.inst.modifier(group)
    }

    pub(super) fn has(&self, option: &str) -> bool {
        self.inst.has_modifier(option)
    }

    pub(super) fn idx(&self, name: &str) -> DResult<usize> {
        self.def()
            .operands
            .iter()
            .position(|o| o.name == name)
            .ok_or_else(|| (FaultKind::IllegalInstruction, format!("form has no operand `{name}`")))
    }

    pub(super) fn has_op(&self, name: &str) -> bool {
        self.def().operands.iter().any(|o| o.name == name)
    }

    pub(super) fn op(&self, name: &str) -> DResult<(usize, Operand)> {
        let i = self.idx(name)?;
        match self.inst.operands.get(i) {
            Some(o) => Ok((i, *o)),
            None => illegal(format!("operand `{name}` missing")),
        }
    }

    /// Check a register (group) and return its read slot.
    pub(super) fn read_slot(&self, r: u8, n: usize) -> DResult<R> {
        self.read_slot_in(r, n, true)
    }

    pub(super) fn write_slot(&self, r: u8, n: usize) -> DResult<R> {
        self.write_slot_in(r, n, true)
    }

    /// `aligned`: a group of 2 or 4 must start at a multiple of its size (not for the paper's
    /// list groups `{R9, R10, ...}`, kind `L`).
    pub(super) fn read_slot_in(&self, r: u8, n: usize, aligned: bool) -> DResult<R> {
        if r == RZ {
            return Ok(self.cx.zero());
        }
        self.check_group(r, n, aligned)?;
        Ok(r as R)
    }

    pub(super) fn write_slot_in(&self, r: u8, n: usize, aligned: bool) -> DResult<R> {
        if r == RZ {
            return Ok(self.cx.sink());
        }
        self.check_group(r, n, aligned)?;
        Ok(r as R)
    }

    /// Whether operand `i` is a list group (kind `L`), which needs no alignment.
    pub(super) fn is_list(&self, i: usize) -> bool {
        matches!(self.def().operands.get(i).map(|o| o.kind), Some(Kind::L(_)))
    }

    pub(super) fn check_group(&self, r: u8, n: usize, aligned: bool) -> DResult<()> {
        if aligned && n > 1 && !(r as usize).is_multiple_of(n) && n <= 4 {
            return illegal(format!("register group R{r} of {n} registers is not aligned to {n}"));
        }
        let last = r as u32 + n as u32 - 1;
        if last > 254 {
            return illegal(format!("register group R{r} of {n} registers runs past R254"));
        }
        if last >= self.cx.num_regs {
            return Err((
                FaultKind::RegisterOutOfRange,
                format!("R{last} is beyond the kernel's {} registers", self.cx.num_regs),
            ));
        }
        Ok(())
    }

    pub(super) fn group_count(&self, i: usize) -> usize {
        self.inst.operand_regs(i) as usize
    }

    /// Destination register (group) slot.
    pub(super) fn dst(&self, name: &str) -> DResult<R> {
        let (i, o) = self.op(name)?;
        match o.value {
            Value::Reg(r) => self.write_slot_in(r, self.group_count(i), !self.is_list(i)),
            v => illegal(format!("operand `{name}` is {v:?}, not a register")),
        }
    }

    /// Source register (group) slot, for operands that must be registers.
    pub(super) fn reg(&self, name: &str) -> DResult<R> {
        let (i, o) = self.op(name)?;
        match o.value {
            Value::Reg(r) => self.read_slot_in(r, self.group_count(i), !self.is_list(i)),
            v => illegal(format!("operand `{name}` is {v:?}, not a register")),
        }
    }

    pub(super) fn const_word(&self, bank: u8, offset: u32) -> DResult<u32> {
        let b = self.cx.banks.get(bank as usize).map(Vec::as_slice).unwrap_or(&[]);
        if !offset.is_multiple_of(4) {
            return Err((
                FaultKind::Misaligned(MemorySpace::Constant),
                format!("c[{bank:#x}][{offset:#x}] is not 4-byte aligned"),
            ));
        }
        let o = offset as usize;
        match b.get(o..o + 4) {
            Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
            None => Err((
                FaultKind::OutOfBounds(MemorySpace::Constant),
                format!("c[{bank:#x}][{offset:#x}] is outside constant bank {bank} ({} bytes)", b.len()),
            )),
        }
    }

    /// The 64-bit constant at `c[bank][offset]` as (low, high) words.
    pub(super) fn const_pair(&self, bank: u8, offset: u32) -> DResult<(Src, Src)> {
        Ok((Src::I(self.const_word(bank, offset)?), Src::I(self.const_word(bank, offset + 4)?)))
    }

    pub(super) fn value_src(&self, v: Value, n: usize) -> DResult<Src> {
        Ok(match v {
            Value::Reg(r) => Src::R(self.read_slot(r, n)?),
            Value::Imm(x) => Src::I(x),
            Value::F32(x) => Src::I(x),
            Value::F16(x) => Src::I(x as u32),
            Value::Const { bank, offset } => Src::I(self.const_word(bank, offset as u32)?),
            v => return illegal(format!("operand {v:?} is not a value")),
        })
    }

    pub(super) fn src(&self, name: &str) -> DResult<Src> {
        let (i, o) = self.op(name)?;
        self.value_src(o.value, self.group_count(i))
    }

    pub(super) fn isrc(&self, name: &str) -> DResult<ISrc> {
        let (i, o) = self.op(name)?;
        Ok(ISrc { s: self.value_src(o.value, self.group_count(i))?, neg: o.neg, not: o.not })
    }

    pub(super) fn fsrc(&self, name: &str) -> DResult<FSrc> {
        let (i, o) = self.op(name)?;
        let s = self.value_src(o.value, self.group_count(i))?;
        let (and, xor) = sign_masks(&o);
        Ok(FSrc { s, and, xor })
    }

    pub(super) fn hsrc(&self, name: &str) -> DResult<HSrc> {
        let (_, o) = self.op(name)?;
        let s = self.value_src(o.value, 1)?;
        Ok(HSrc { s, swz: o.suffix, neg: o.neg, abs: o.abs })
    }

    /// Half2 source from a pair of fp16 immediates.
    pub(super) fn hpair(&self, n0: &str, n1: &str) -> DResult<HSrc> {
        let half = |name: &str| match self.op(name)?.1.value {
            Value::F16(h) => Ok(h as u32),
            v => illegal(format!("{v:?} is not an fp16 immediate")),
        };
        let (lo, hi) = (half(n0)?, half(n1)?);
        Ok(HSrc { s: Src::I(lo | (hi << 16)), swz: 0, neg: false, abs: false })
    }

    pub(super) fn dsrc(&self, name: &str) -> DResult<DSrc> {
        let (_, o) = self.op(name)?;
        let (lo, hi) = match o.value {
            Value::Reg(r) => {
                let s = self.read_slot(r, 2)?;
                (Src::R(s), Src::R(s + 1))
            }
            Value::F32(bits) => {
                let d = (f32::from_bits(bits) as f64).to_bits();
                (Src::I(d as u32), Src::I((d >> 32) as u32))
            }
            Value::Imm(x) => {
                // an integer immediate in an fp64 slot: the high word of the double (as the
                // hardware's 20-bit fp64 immediates are)
                (Src::I(0), Src::I(x))
            }
            Value::Const { bank, offset } => self.const_pair(bank, offset as u32)?,
            v => return illegal(format!("operand {v:?} is not an fp64 value")),
        };
        let (and, xor) = sign_masks(&o);
        Ok(DSrc { lo, hi, and, xor })
    }

    pub(super) fn psrc(&self, name: &str) -> DResult<PSrc> {
        let (_, o) = self.op(name)?;
        match o.value {
            Value::Pred(p) => Ok(PSrc { i: p.min(7), not: o.not }),
            v => illegal(format!("operand `{name}` is {v:?}, not a predicate")),
        }
    }

    pub(super) fn opt_psrc(&self, name: &str) -> DResult<Option<PSrc>> {
        if self.has_op(name) {
            Ok(Some(self.psrc(name)?))
        } else {
            Ok(None)
        }
    }

    pub(super) fn pdst(&self, name: &str) -> DResult<PDst> {
        let (_, o) = self.op(name)?;
        match o.value {
            Value::Pred(p) if p == PT => Ok(P_SINK),
            Value::Pred(p) => Ok(p),
            v => illegal(format!("operand `{name}` is {v:?}, not a predicate")),
        }
    }

    pub(super) fn opt_pdst(&self, name: &str) -> DResult<PDst> {
        if self.has_op(name) {
            self.pdst(name)
        } else {
            Ok(P_SINK)
        }
    }

    pub(super) fn imm(&self, name: &str) -> DResult<u32> {
        match self.op(name)?.1.value {
            Value::Imm(x) => Ok(x),
            v => illegal(format!("operand `{name}` is {v:?}, not an immediate")),
        }
    }

    pub(super) fn target(&self, name: &str) -> DResult<u32> {
        let t = self.imm(name)?;
        if t % 16 != 0 {
            return illegal(format!("branch target {t:#x} is not on an instruction boundary"));
        }
        if (t / 16) as usize >= self.cx.len {
            return illegal(format!("branch target {t:#x} is outside the kernel ({} bytes)", self.cx.len * 16));
        }
        Ok(t / 16)
    }

    /// Memory operand; `wide`: a 64-bit address (register pair).
    pub(super) fn mem(&self, name: &str, wide: bool) -> DResult<(R, i32)> {
        match self.op(name)?.1.value {
            Value::Mem { base, offset } => Ok((self.read_slot(base, if wide { 2 } else { 1 })?, offset)),
            v => illegal(format!("operand `{name}` is {v:?}, not a memory operand")),
        }
    }

    pub(super) fn barrier(&self, name: &str) -> DResult<u8> {
        match self.op(name)?.1.value {
            Value::Barrier(b) if b < 16 => Ok(b),
            v => illegal(format!("operand `{name}` is {v:?}, not a convergence barrier")),
        }
    }

    /// The option of the modifier group `E::GROUP` as the ISA's enum; an instruction whose options
    /// are not (a prefix of) the enum's is refused rather than misread.
    pub(super) fn modifier<E: ModifierEnum>(&self) -> DResult<E> {
        let def = self.def();
        let Some(g) = def.group(E::GROUP) else {
            return illegal(format!("`{}` has no `{}` modifier", def.mnemonic, E::GROUP));
        };
        let text = def.mods[g].options[self.inst.mods[g] as usize];
        match E::ALL.get(self.inst.mods[g] as usize) {
            Some(&e) if e.text() == text => Ok(e),
            _ => unsupported(format!("`{}` modifier `{text}` of {}", E::GROUP, def.mnemonic)),
        }
    }

    /// Index of the option of modifier group `name` (0 if the form has no such group).
    pub(super) fn mod_index(&self, name: &str) -> u8 {
        self.def().group(name).map(|g| self.inst.mods[g]).unwrap_or(0)
    }

    pub(super) fn bop(&self) -> DResult<Bop> {
        self.modifier()
    }

    pub(super) fn rnd(&self) -> Rnd {
        match self.m("rnd") {
            "RM" | "FLOOR" => Rnd::Rm,
            "RP" | "CEIL" => Rnd::Rp,
            "RZ" | "TRUNC" => Rnd::Rz,
            _ => Rnd::Rn,
        }
    }

    pub(super) fn icmp(&self) -> DResult<ICmp> {
        self.modifier()
    }

    pub(super) fn fcmp(&self) -> DResult<FCmp> {
        self.modifier()
    }

    /// Single destination register even if the form declares a group count of one.
    pub(super) fn dst1(&self, name: &str) -> DResult<R> {
        let (_, o) = self.op(name)?;
        match o.value {
            Value::Reg(r) => self.write_slot(r, 1),
            v => illegal(format!("operand `{name}` is {v:?}, not a register")),
        }
    }

    /// A 32- or 64-bit source as (low, high) words.
    pub(super) fn wide_src(&self, v: Value, n: usize) -> DResult<(Src, Src)> {
        Ok(match v {
            Value::Reg(r) => {
                let s = self.read_slot(r, n)?;
                (Src::R(s), if n == 2 { Src::R(s + 1) } else { Src::I(0) })
            }
            Value::Const { bank, offset } => (
                Src::I(self.const_word(bank, offset as u32)?),
                if n == 2 { Src::I(self.const_word(bank, offset as u32 + 4)?) } else { Src::I(0) },
            ),
            Value::Imm(x) | Value::F32(x) => (Src::I(x), Src::I(0)),
            v => return illegal(format!("operand {v:?}")),
        })
    }
}

/// `.abs` and `.neg` of a float operand as the masks applied to its (high) word: `and` clears
/// the sign bit, `xor` flips it.
pub(super) fn sign_masks(o: &Operand) -> (u32, u32) {
    (if o.abs { 0x7fff_ffff } else { u32::MAX }, if o.neg { 0x8000_0000 } else { 0 })
}
