//! Every form of the instruction table, with every modifier option and the extreme values of
//! every field: encodes and decodes to itself, and its canonical text assembles to itself.

use otc_asm::assemble;
use otc_isa::spec::{Flag, Kind};
use otc_isa::{suffix_options, Control, Instruction, Operand, Pred, Value, FORMS};

/// Operand values for variant `v` of a kind (v = 0: typical, 1: extreme, 2: other extreme).
fn value(kind: Kind, regs: u8, v: usize) -> Value {
    match kind {
        Kind::R | Kind::G(_) | Kind::L(_) => {
            let n = regs.max(kind.group_size()) as u16;
            let aligned_top = ((254 - n + 1) / n) * n; // highest aligned base that fits
            let typical = 8u16.div_ceil(n) * n; // R8, or the next aligned base for groups above 8 (G16)
            Value::Reg([typical.min(aligned_top), aligned_top, 255][v] as u8)
        }
        Kind::P => Value::Pred([3, 7, 0][v]),
        Kind::U(n) => Value::Imm([1u64, (1u64 << n) - 1, 0][v] as u32),
        Kind::S(n) => Value::Imm([-2i64, (1i64 << (n - 1)) - 1, -(1i64 << (n - 1))][v] as i32 as u32),
        Kind::T => Value::Imm([0x10, 0x0, 0x10][v]),
        Kind::F32 => Value::F32([1.5f32.to_bits(), 0xff80_0000, 0x0000_0001][v]),
        Kind::F16 => Value::F16([0x3e00, 0x7c00, 0x8001][v]),
        Kind::C => [
            Value::Const { bank: 0, offset: 0x160 },
            Value::Const { bank: 31, offset: 0xfffc },
            Value::Const { bank: 3, offset: 0 },
        ][v],
        Kind::CX => [
            Value::ConstX { bank: 0, reg: 4, offset: 0x160 },
            Value::ConstX { bank: 31, reg: 254, offset: 0xffff },
            Value::ConstX { bank: 3, reg: 255, offset: 0 },
        ][v],
        Kind::M => [
            Value::Mem { base: 6, offset: -16 },
            Value::Mem { base: 254, offset: (1 << 23) - 1 },
            Value::Mem { base: 255, offset: 0x30 },
        ][v],
        Kind::SR => Value::SReg([4, 0, 15][v]),
        Kind::B => Value::Barrier([1, 15, 0][v]),
        Kind::SB => Value::Scoreboard([0, 5, 2][v]),
        Kind::PR => Value::PredFile,
    }
}

fn variants() -> Vec<Instruction> {
    let mut out = Vec::new();
    for (fi, def) in FORMS.iter().enumerate() {
        let max_opts = def.mods.iter().map(|g| g.options.len()).max().unwrap_or(1);
        for v in 0..max_opts.max(3) {
            let mods: Vec<u8> = def.mods.iter().map(|g| (v % g.options.len()) as u8).collect();
            let mut operands = Vec::new();
            for (i, od) in def.operands.iter().enumerate() {
                let regs = od.regs_from.map(|g| def.mods[g].regs[mods[g] as usize]).unwrap_or(1);
                let mut op = Operand::plain(value(od.kind, regs, v % 3));
                let on = (v + i) % 2 == 1;
                for f in od.flags {
                    match f.flag {
                        Flag::Neg => op.neg = on,
                        Flag::Abs => op.abs = on,
                        Flag::Not => op.not = on && (!matches!(op.value, Value::Reg(_)) || !od.allows(Flag::Neg)),
                        Flag::Reuse => op.reuse = !on && matches!(op.value, Value::Reg(r) if r != 255),
                        Flag::Swz | Flag::Hsel | Flag::Bsel | Flag::Layout => {
                            op.suffix = (v % suffix_options(f.flag).len()) as u8
                        }
                    }
                }
                if !matches!(op.value, Value::Reg(_) | Value::Const { .. } | Value::ConstX { .. }) {
                    op.neg = false;
                    op.abs = false;
                }
                if (matches!(op.value, Value::Const { .. } | Value::ConstX { .. })
                    || !matches!(od.kind, Kind::R | Kind::G(_) | Kind::L(_)))
                    && !matches!(op.value, Value::Pred(_))
                {
                    op.not = false;
                }
                if matches!(op.value, Value::ConstX { .. }) {
                    op.suffix = 0;
                }
                operands.push(op);
            }
            let control = (v % 2 == 1).then_some(Control {
                stall: (v % 16) as u8,
                yield_: v % 3 == 0,
                write_barrier: (v % 8) as u8,
                read_barrier: 7 - (v % 8) as u8,
                wait_mask: (v * 7 % 64) as u8,
            });
            let guard = Pred { index: (v % 8) as u8, not: v % 2 == 0 };
            out.push(Instruction { form: fi as u16, guard, mods, operands, control });
        }
    }
    out
}

#[test]
fn every_form_encodes_and_decodes_to_itself() {
    let all = variants();
    assert!(all.len() >= FORMS.len() * 3);
    for inst in &all {
        let w = inst.encode().unwrap_or_else(|e| panic!("{}: {e}", inst.text()));
        let back = Instruction::decode(w).unwrap_or_else(|e| panic!("{}: {e}", inst.text()));
        assert_eq!(&back, inst, "{}", inst.text());
    }
}

#[test]
fn every_form_text_assembles_to_itself() {
    let mut failures = Vec::new();
    for inst in variants() {
        // a second instruction makes target 0x10 valid
        let text = format!(".kernel k\n{}\nNOP ;\n", inst);
        match assemble(&text, "form") {
            Ok(p) => {
                let got = &p.kernels[0].instructions[0];
                if got != &inst {
                    failures.push(format!("{inst}\n   reassembled as {got}"));
                }
            }
            Err(e) => failures.push(format!("{inst}\n   {e}")),
        }
    }
    assert!(failures.is_empty(), "{} of the forms do not round-trip:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn distinct_words_for_distinct_instructions() {
    let all = variants();
    let mut seen = std::collections::HashMap::new();
    for inst in &all {
        let w = inst.encode().unwrap();
        if let Some(prev) = seen.insert(w, inst.clone()) {
            assert_eq!(&prev, inst, "two instructions share the word {w:#034x}");
        }
    }
}
