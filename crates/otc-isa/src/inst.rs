//! Decoded instructions and their 128-bit encoding.

use crate::generated::{
    CONTROL_FIELD, CONTROL_PRESENT_FIELD, CONTROL_READ_BARRIER, CONTROL_STALL, CONTROL_WAIT_MASK,
    CONTROL_WRITE_BARRIER, CONTROL_YIELD_FLAG, FORMS, FORM_FIELD, GUARD_FIELD, OPCODE_FIELD,
};
use crate::spec::{BitField, Flag, FormDef, Kind};
use crate::IsaError;

/// Register index of RZ (reads zero, writes dropped).
pub const RZ: u8 = 255;
/// Predicate index of PT (always true).
pub const PT: u8 = 7;

/// A predicate reference, possibly negated (`!P0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pred {
    pub index: u8,
    pub not: bool,
}

impl Pred {
    /// `PT`, the always-true predicate.
    pub const TRUE: Pred = Pred { index: PT, not: false };
}

/// The value part of an operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// Register (or base register of a group).
    Reg(u8),
    /// Predicate index (negation is in [`Operand::not`]).
    Pred(u8),
    /// Integer immediate or branch target, as raw 32 bits (signed kinds are sign-extended).
    Imm(u32),
    /// fp32 immediate bits.
    F32(u32),
    /// fp16 immediate bits.
    F16(u16),
    /// `c[bank][offset]`.
    Const { bank: u8, offset: u16 },
    /// `c[bank][Rn+offset]`.
    ConstX { bank: u8, reg: u8, offset: u16 },
    /// `[Rn+offset]`.
    Mem { base: u8, offset: i32 },
    /// Special register code (see `SPECIAL_REGISTERS`).
    SReg(u8),
    /// Convergence barrier.
    Barrier(u8),
    /// Scoreboard.
    Scoreboard(u8),
    /// The predicate file `PR`.
    PredFile,
}

/// One operand with its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operand {
    pub value: Value,
    pub neg: bool,
    pub abs: bool,
    /// Bitwise not (`~R`) or predicate not (`!P`).
    pub not: bool,
    pub reuse: bool,
    /// Index into the options of the operand's suffix flag (swz, hsel, bsel or layout); 0 = none.
    pub suffix: u8,
}

impl Operand {
    /// An operand with no flags.
    pub const fn plain(value: Value) -> Operand {
        Operand { value, neg: false, abs: false, not: false, reuse: false, suffix: 0 }
    }
}

/// Volta control bits (see `isa/encoding.toml` `[control]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Control {
    /// Cycles before this warp's next instruction may issue (0..15).
    pub stall: u8,
    /// The scheduler may switch to another warp (printed `Y`; encoded as bit value 0).
    pub yield_: bool,
    /// Scoreboard set when the result is written (7 = none).
    pub write_barrier: u8,
    /// Scoreboard released once the sources are read (7 = none).
    pub read_barrier: u8,
    /// Scoreboards SB0..SB5 to wait for before issuing.
    pub wait_mask: u8,
}

impl Default for Control {
    fn default() -> Self {
        Control { stall: 1, yield_: true, write_barrier: 7, read_barrier: 7, wait_mask: 0 }
    }
}

impl Control {
    /// The 21-bit control field value.
    pub fn to_bits(self) -> u32 {
        let mut w: u128 = 0;
        CONTROL_STALL.put(&mut w, (self.stall & 15) as u64);
        CONTROL_YIELD_FLAG.put(&mut w, (!self.yield_) as u64);
        CONTROL_WRITE_BARRIER.put(&mut w, (self.write_barrier & 7) as u64);
        CONTROL_READ_BARRIER.put(&mut w, (self.read_barrier & 7) as u64);
        CONTROL_WAIT_MASK.put(&mut w, (self.wait_mask & 63) as u64);
        w as u32
    }

    /// Decode the 21-bit control field (the reuse bits are ignored).
    pub fn from_bits(bits: u32) -> Control {
        let w = bits as u128;
        Control {
            stall: CONTROL_STALL.get(w) as u8,
            yield_: CONTROL_YIELD_FLAG.get(w) == 0,
            write_barrier: CONTROL_WRITE_BARRIER.get(w) as u8,
            read_barrier: CONTROL_READ_BARRIER.get(w) as u8,
            wait_mask: CONTROL_WAIT_MASK.get(w) as u8,
        }
    }

    /// Control bits from the second 64-bit word of an NVIDIA sm_70 instruction
    /// (as printed in a `cuobjdump` listing): bits 105..125 of the 128-bit word.
    pub fn from_nvidia_high_word(hi: u64) -> Control {
        Control::from_bits(((hi >> (105 - 64)) & 0x1f_ffff) as u32)
    }
}

/// A decoded instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Instruction {
    /// Index into [`FORMS`].
    pub form: u16,
    pub guard: Pred,
    /// Chosen option per modifier group of the form.
    pub mods: Vec<u8>,
    pub operands: Vec<Operand>,
    pub control: Option<Control>,
}

/// The kind of defect [`Instruction::validate`] finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Defect {
    /// A flag the operand does not take (`.reuse` on a destination), or `-` together with `~`.
    Flag,
    /// A register group that runs past R254.
    GroupRange,
    /// A register group that does not start at a multiple of its size (G kinds, `R*group`).
    GroupAlignment,
    /// A value the text has no name for (an unknown special register, SB6).
    Value,
}

/// An operand that fails [`Instruction::validate`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// Index of the operand.
    pub operand: usize,
    pub defect: Defect,
    pub message: String,
}

/// The checks of [`Instruction::validate`] for operand `i` of form `def` with modifier options
/// `mods` (the assembler runs them on each operand as it matches a form).
pub fn validate_operand(def: &FormDef, mods: &[u8], i: usize, op: &Operand) -> Result<(), Invalid> {
    let od = &def.operands[i];
    let fail = |defect, message: String| Err(Invalid { operand: i, defect, message });
    let name = od.name;
    if op.neg && !od.allows(Flag::Neg) {
        return fail(Defect::Flag, format!("operand `{name}` cannot be negated with `-`"));
    }
    if op.abs && !od.allows(Flag::Abs) {
        return fail(Defect::Flag, format!("operand `{name}` cannot be an absolute value `|...|`"));
    }
    if op.not && !od.allows(Flag::Not) {
        return match op.value {
            Value::Pred(_) => fail(Defect::Flag, format!("operand `{name}` cannot be negated with `!`")),
            _ => fail(Defect::Flag, format!("operand `{name}` cannot be inverted with `~`")),
        };
    }
    if op.reuse && !od.allows(Flag::Reuse) {
        let why = if od.write { ": it is written, and only source registers take `.reuse`" } else { "" };
        return fail(Defect::Flag, format!("operand `{name}` cannot take `.reuse`{why}"));
    }
    if op.neg && op.not {
        return fail(Defect::Flag, format!("operand `{name}` cannot be both negated (`-`) and inverted (`~`)"));
    }
    if op.suffix != 0 {
        let options = od
            .flags
            .iter()
            .find(|f| matches!(f.flag, Flag::Swz | Flag::Hsel | Flag::Bsel | Flag::Layout))
            .map(|f| crate::suffix_options(f.flag).len())
            .unwrap_or(0);
        if op.suffix as usize >= options {
            return fail(Defect::Flag, format!("operand `{name}` has no suffix number {}", op.suffix));
        }
    }
    match op.value {
        Value::Reg(base) if base != RZ => {
            let count = def.operand_regs(mods, i);
            if count > 1 {
                let last = base as u16 + count as u16 - 1;
                if last > 254 {
                    return fail(Defect::GroupRange, format!("register group R{base}..R{last} runs past R254"));
                }
                if !matches!(od.kind, Kind::L(_)) && base % count != 0 {
                    return fail(
                        Defect::GroupAlignment,
                        format!("a group of {count} registers must start at a multiple of {count}, got R{base}"),
                    );
                }
            }
        }
        Value::SReg(code) if crate::special_register_name(code).is_none() => {
            return fail(Defect::Value, format!("special register code {code} does not exist"));
        }
        Value::Scoreboard(b) if b > 5 => {
            return fail(Defect::Value, format!("scoreboard SB{b} does not exist (SB0..SB5)"));
        }
        _ => {}
    }
    Ok(())
}

fn sign_extend(v: u64, bits: u8) -> i64 {
    let shift = 64 - bits as u32;
    ((v << shift) as i64) >> shift
}

impl Instruction {
    /// The instruction's form definition.
    pub fn def(&self) -> &'static FormDef {
        &FORMS[self.form as usize]
    }

    /// The chosen option of modifier group `name` ("" when the group is absent or omitted).
    pub fn modifier(&self, name: &str) -> &'static str {
        let def = self.def();
        match def.group(name) {
            Some(g) => def.mods[g].options[self.mods[g] as usize],
            None => "",
        }
    }

    /// Whether any modifier group has the option `option` selected.
    pub fn has_modifier(&self, option: &str) -> bool {
        let def = self.def();
        def.mods.iter().zip(&self.mods).any(|(g, &i)| g.options[i as usize] == option)
    }

    /// Number of registers operand `i` covers (groups, `R*group` operands, 1 otherwise).
    pub fn operand_regs(&self, i: usize) -> u8 {
        self.def().operand_regs(&self.mods, i)
    }

    /// The structural checks that the bit fields alone do not make: register groups aligned and
    /// inside R0..R254, only the flags the operand takes and never `-` with `~`, values that have
    /// a name in the text. An instruction that passes prints as text that assembles back to it;
    /// [`Instruction::encode`] (and so [`Instruction::decode`]) rejects one that does not, and the
    /// assembler reports the same defects at the operand.
    pub fn validate(&self) -> Result<(), Invalid> {
        let def = self.def();
        for (i, op) in self.operands.iter().enumerate().take(def.operands.len()) {
            validate_operand(def, &self.mods, i, op)?;
        }
        Ok(())
    }

    /// Encode into the 128-bit word. Fails if a value does not fit its field or the instruction
    /// fails [`Instruction::validate`].
    pub fn encode(&self) -> Result<u128, IsaError> {
        let def = self.def();
        let mut w: u128 = 0;
        OPCODE_FIELD.put(&mut w, def.opcode as u64);
        FORM_FIELD.put(&mut w, def.form as u64);
        if self.guard.index > 7 {
            return Err(IsaError::Field(format!("guard predicate P{} out of range", self.guard.index)));
        }
        GUARD_FIELD.put(&mut w, (self.guard.index as u64) | ((self.guard.not as u64) << 3));
        if self.mods.len() != def.mods.len() || self.operands.len() != def.operands.len() {
            return Err(IsaError::Field(format!("{}: wrong number of modifiers or operands", def.mnemonic)));
        }
        for (g, &opt) in def.mods.iter().zip(&self.mods) {
            if opt as usize >= g.options.len() {
                return Err(IsaError::Field(format!(
                    "{}: modifier group {} has no option {opt}",
                    def.mnemonic, g.name
                )));
            }
            g.field.put(&mut w, opt as u64);
        }
        self.validate().map_err(|e| {
            let od = &def.operands[e.operand];
            IsaError::Field(match e.defect {
                Defect::Flag => format!("{}: {e}", def.mnemonic), // the message names the operand
                _ => format!("{} operand {}: {e}", def.mnemonic, od.name),
            })
        })?;
        for (od, op) in def.operands.iter().zip(&self.operands) {
            let bad = |what: &str| IsaError::Field(format!("{} operand {}: {what}", def.mnemonic, od.name));
            let f = od.field;
            let put = |w: &mut u128, sub: BitField, v: u64| -> Result<(), IsaError> {
                if !sub.fits(v) {
                    return Err(bad(&format!("value {v:#x} does not fit {} bits", sub.width)));
                }
                sub.put(w, v);
                Ok(())
            };
            match (od.kind, op.value) {
                (Kind::R | Kind::G(_) | Kind::L(_), Value::Reg(r)) => put(&mut w, f, r as u64)?,
                (Kind::P, Value::Pred(p)) => put(&mut w, f, p as u64)?,
                (Kind::U(n), Value::Imm(v)) => put(&mut w, BitField { lo: f.lo, width: n }, v as u64)?,
                (Kind::S(n), Value::Imm(v)) => {
                    let s = v as i32 as i64;
                    if n < 32 && (s < -(1i64 << (n - 1)) || s >= (1i64 << (n - 1))) {
                        return Err(bad(&format!("value {s} does not fit a signed {n}-bit field")));
                    }
                    let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                    put(&mut w, BitField { lo: f.lo, width: n }, (s as u64) & mask)?
                }
                (Kind::T, Value::Imm(v)) => put(&mut w, f, v as u64)?,
                (Kind::F32, Value::F32(v)) => put(&mut w, f, v as u64)?,
                (Kind::F16, Value::F16(v)) => put(&mut w, f, v as u64)?,
                (Kind::C, Value::Const { bank, offset }) => {
                    put(&mut w, BitField { lo: f.lo, width: 5 }, bank as u64)?;
                    put(&mut w, BitField { lo: f.lo + 5, width: 16 }, offset as u64)?;
                }
                (Kind::CX, Value::ConstX { bank, reg, offset }) => {
                    put(&mut w, BitField { lo: f.lo, width: 5 }, bank as u64)?;
                    put(&mut w, BitField { lo: f.lo + 5, width: 8 }, reg as u64)?;
                    put(&mut w, BitField { lo: f.lo + 13, width: 16 }, offset as u64)?;
                }
                (Kind::M, Value::Mem { base, offset }) => {
                    if !(-(1 << 23)..(1 << 23)).contains(&offset) {
                        return Err(bad(&format!("offset {offset} does not fit a signed 24-bit field")));
                    }
                    put(&mut w, BitField { lo: f.lo, width: 8 }, base as u64)?;
                    put(&mut w, BitField { lo: f.lo + 8, width: 24 }, (offset as u32 & 0xff_ffff) as u64)?;
                }
                (Kind::SR, Value::SReg(s)) => put(&mut w, f, s as u64)?,
                (Kind::B, Value::Barrier(b)) => put(&mut w, f, b as u64)?,
                (Kind::SB, Value::Scoreboard(b)) => put(&mut w, f, b as u64)?,
                (Kind::PR, Value::PredFile) => {}
                (k, v) => return Err(bad(&format!("value {v:?} is not of kind {}", k.name()))),
            }
            for ff in od.flags {
                let v = match ff.flag {
                    Flag::Neg => op.neg as u64,
                    Flag::Abs => op.abs as u64,
                    Flag::Not => op.not as u64,
                    Flag::Reuse => op.reuse as u64,
                    Flag::Swz | Flag::Hsel | Flag::Bsel | Flag::Layout => op.suffix as u64,
                };
                put(&mut w, ff.field, v)?;
            }
        }
        if let Some(c) = self.control {
            CONTROL_FIELD.put(&mut w, c.to_bits() as u64);
            CONTROL_PRESENT_FIELD.put(&mut w, 1);
        }
        Ok(w)
    }

    /// Decode a 128-bit word.
    pub fn decode(w: u128) -> Result<Instruction, IsaError> {
        let opcode = OPCODE_FIELD.get(w) as u16;
        let form = FORM_FIELD.get(w) as u8;
        let index = crate::form_index(opcode, form).ok_or(IsaError::UnknownEncoding { opcode, form })?;
        let def = &FORMS[index];
        if (w >> 127) != 0 {
            return Err(IsaError::Field("reserved bit 127 is set".into()));
        }
        let g = GUARD_FIELD.get(w) as u8;
        let guard = Pred { index: g & 7, not: g & 8 != 0 };
        let mut mods = Vec::with_capacity(def.mods.len());
        for grp in def.mods {
            let v = grp.field.get(w) as usize;
            if v >= grp.options.len() {
                return Err(IsaError::Field(format!(
                    "{}: modifier group {} has no option {v}",
                    def.mnemonic, grp.name
                )));
            }
            mods.push(v as u8);
        }
        let mut operands = Vec::with_capacity(def.operands.len());
        for od in def.operands {
            let f = od.field;
            let sub = |lo: u8, width: u8| BitField { lo: f.lo + lo, width }.get(w);
            let value = match od.kind {
                Kind::R | Kind::G(_) | Kind::L(_) => Value::Reg(f.get(w) as u8),
                Kind::P => Value::Pred(f.get(w) as u8),
                Kind::U(n) => Value::Imm(sub(0, n) as u32),
                Kind::S(n) => Value::Imm(sign_extend(sub(0, n), n) as u32),
                Kind::T => Value::Imm(f.get(w) as u32),
                Kind::F32 => Value::F32(f.get(w) as u32),
                Kind::F16 => Value::F16(f.get(w) as u16),
                Kind::C => Value::Const { bank: sub(0, 5) as u8, offset: sub(5, 16) as u16 },
                Kind::CX => Value::ConstX { bank: sub(0, 5) as u8, reg: sub(5, 8) as u8, offset: sub(13, 16) as u16 },
                Kind::M => Value::Mem { base: sub(0, 8) as u8, offset: sign_extend(sub(8, 24), 24) as i32 },
                Kind::SR => Value::SReg(f.get(w) as u8),
                Kind::B => Value::Barrier(f.get(w) as u8),
                Kind::SB => Value::Scoreboard(f.get(w) as u8),
                Kind::PR => Value::PredFile,
            };
            let mut op = Operand::plain(value);
            for ff in od.flags {
                let v = ff.field.get(w);
                match ff.flag {
                    Flag::Neg => op.neg = v != 0,
                    Flag::Abs => op.abs = v != 0,
                    Flag::Not => op.not = v != 0,
                    Flag::Reuse => op.reuse = v != 0,
                    Flag::Swz | Flag::Hsel | Flag::Bsel | Flag::Layout => {
                        let n = crate::suffix_options(ff.flag).len() as u64;
                        if v >= n {
                            return Err(IsaError::Field(format!(
                                "{} operand {}: suffix {v} out of range",
                                def.mnemonic, od.name
                            )));
                        }
                        op.suffix = v as u8
                    }
                }
            }
            operands.push(op);
        }
        let control = if CONTROL_PRESENT_FIELD.get(w) != 0 {
            Some(Control::from_bits(CONTROL_FIELD.get(w) as u32))
        } else {
            if CONTROL_FIELD.get(w) != 0 {
                return Err(IsaError::Field("control bits set but not marked present".into()));
            }
            None
        };
        let inst = Instruction { form: index as u16, guard, mods, operands, control };
        // Unused bits must be zero, so that every word has exactly one meaning.
        if inst.encode()? != w {
            return Err(IsaError::Field(format!("{}: unused bits are set", def.mnemonic)));
        }
        Ok(inst)
    }
}
