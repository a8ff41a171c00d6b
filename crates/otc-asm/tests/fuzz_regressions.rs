//! Bugs found by the hypothesis fuzzing in tests/python/test_fuzz.py, each pinned here: whatever
//! assembles encodes and loads back; float immediates round trip (also -0.0) and do not overflow
//! silently; the binary loader rejects what the assembler rejects, so a loaded program's
//! disassembly assembles back to it.

use std::path::PathBuf;

use otc_asm::{assemble, disassemble, AsmErrorKind as K, Param, ParamType, Program};
use otc_isa::spec::{Flag, Kind};
use otc_isa::text::{f16_text, f32_text};
use otc_isa::{suffix_options, Instruction, Operand, Pred, Value, FORMS};

fn corpus(dir: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz_corpus").join(dir);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).expect("read")))
        .collect();
    out.sort();
    out
}

/// The property the fuzzing checks: an error, or a program that round trips through its bytes
/// and whose disassembly is a fixed point of assemble + disassemble.
fn assert_round_trips(p: &Program, what: &str) {
    let back = Program::from_bytes(&p.to_bytes(), what).unwrap_or_else(|e| panic!("{what}: does not load back: {e}"));
    assert_eq!(&back, p, "{what}: binary round trip");
    let dis = disassemble(p);
    let again = assemble(&dis, "disassembly").unwrap_or_else(|e| panic!("{what}: disassembly: {e}\n{dis}"));
    assert_eq!(disassemble(&again), dis, "{what}: disassembly round trip");
    for (a, b) in p.kernels.iter().zip(&again.kernels) {
        assert_eq!(a.instructions, b.instructions, "{what}");
    }
}

// ------------------------------------------------------------------ 1. `.reuse` on a destination

#[rustfmt::skip]
const REUSE: &[(&str, usize, &str)] = &[
    // (source, column of the operand, phrase)
    ("MOV R1.reuse, R2 ;", 5, "operand `d` cannot take `.reuse`"),
    ("IADD3 R1.reuse, R2, R3, RZ ;", 7, "only source registers take `.reuse`"),
    ("  LDG.E.64.SYS R4.reuse, [R2] ;", 16, "operand `d` cannot take `.reuse`"),
    ("IMAD.WIDE R4.reuse, R0, R1, RZ ;", 11, "cannot take `.reuse`"),
    ("HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}.reuse, {R4, R5}, {R6, R7}, {R8, R9, R10, R11} ;", 25, "cannot take `.reuse`"),
    ("MOV RZ.reuse, R2 ;", 5, "cannot take `.reuse`"),
];

#[test]
fn reuse_on_a_destination_is_an_operand_kind_error_at_the_operand() {
    for &(src, column, phrase) in REUSE {
        let e = assemble(src, "t.sass").expect_err(src);
        assert_eq!((e.kind, e.line, e.column), (K::OperandKind, 1, column), "{src}: {e}");
        assert!(e.message.contains(phrase), "{src}: {e}");
    }
    // on sources it stays fine
    let p = assemble("IADD3 R1, R2.reuse, R3.reuse, RZ ;", "t").unwrap();
    assert_round_trips(&p, "reuse on sources");
}

#[test]
fn instructions_with_flags_their_operand_lacks_do_not_encode() {
    let p = assemble("MOV R1, R2 ;", "t").unwrap();
    let mut inst = p.kernels[0].instructions[0].clone();
    inst.operands[0].reuse = true;
    let e = inst.encode().expect_err("reuse on the destination");
    assert!(e.to_string().contains("MOV: operand `d` cannot take `.reuse`"), "{e}");
    assert!(inst.validate().is_err());
}

// ------------------------------------------------------------------------ 2. negative zero

#[test]
fn negative_zero_prints_as_a_float() {
    let f32s: &[(u32, &str)] = &[(0x8000_0000, "-0.0"), (0, "0"), (0xbf80_0000, "-1"), (0x3fc0_0000, "1.5")];
    for &(bits, text) in f32s {
        assert_eq!(f32_text(bits), text, "{bits:#x}");
    }
    let f16s: &[(u16, &str)] = &[(0x8000, "-0.0"), (0, "0"), (0xbc00, "-1"), (0x8001, "-5.9604645e-8")];
    for &(bits, text) in f16s {
        assert_eq!(f16_text(bits), text, "{bits:#x}");
    }
}

#[rustfmt::skip]
const NEG_ZERO: &[(&str, &str, Value)] = &[
    // (source, canonical text, the immediate operand's value)
    ("FADD R1, R2, -0.0 ;", "FADD R1, R2, -0.0", Value::F32(0x8000_0000)),
    ("FADD R1, R2, -0 ;", "FADD R1, R2, -0.0", Value::F32(0x8000_0000)),
    ("FADD R1, R2, -0x0 ;", "FADD R1, R2, -0.0", Value::F32(0x8000_0000)),
    ("FADD R1, R2, 0 ;", "FADD R1, R2, 0", Value::F32(0)),
    ("FADD R1, R2, +0.0 ;", "FADD R1, R2, 0", Value::F32(0)),
    ("FMUL R1, R2, -1e-46 ;", "FMUL R1, R2, -0.0", Value::F32(0x8000_0000)),
    ("FADD R1, R2, -3 ;", "FADD R1, R2, -3", Value::F32(0xc040_0000)),
    ("DADD R2, R2, -0.0 ;", "DADD R2, R2, -0.0", Value::F32(0x8000_0000)),
    ("DFMA R2, R2, -0, R4 ;", "DFMA R2, R2, -0.0, R4", Value::F32(0x8000_0000)),
    ("HADD2 R1, R2, -0.0, 1 ;", "HADD2 R1, R2, -0.0, 1", Value::F16(0x8000)),
    ("HADD2 R1, R2, -0, 1 ;", "HADD2 R1, R2, -0.0, 1", Value::F16(0x8000)),
    ("HADD2 R1, R2, -1e-46, 1 ;", "HADD2 R1, R2, -0.0, 1", Value::F16(0x8000)),
];

#[test]
fn negative_zero_immediates_round_trip() {
    for &(src, text, value) in NEG_ZERO {
        let p = assemble(src, "t").unwrap_or_else(|e| panic!("{src}: {e}"));
        let inst = &p.kernels[0].instructions[0];
        assert_eq!(inst.text(), text, "{src}");
        assert!(inst.operands.iter().any(|o| o.value == value), "{src}: {:?}", inst.operands);
        assert_round_trips(&p, src);
    }
    // the sign is kept in float operands only: in an integer operand `-0` is 0
    let p = assemble("IADD3 R1, R2, -0x0, RZ ;", "t").unwrap();
    assert_eq!(p.kernels[0].instructions[0].text(), "IADD3 R1, R2, 0x0, RZ");
}

// --------------------------------------------------------------------- 3. float overflow

#[rustfmt::skip]
const OVERFLOW: &[(&str, usize, &str)] = &[
    // (source, column, phrase)
    ("FADD R1, R2, 1e40 ;", 14, "`1e40` does not fit operand `b` (an fp32 immediate"),
    ("FADD R1, R2, -1e40 ;", 14, "`-1e40` does not fit operand `b`"),
    ("FMUL R1, R2, 3.4028236e38 ;", 14, "largest finite fp32 is 3.4028235e38"),
    ("FADD R1, R2, 1e999 ;", 14, "does not fit operand `b`"),
    ("DADD R2, R2, 1e300 ;", 14, "does not fit operand `b`"),
    ("HADD2 R1, R2, 1e5, 1 ;", 15, "`1e5` does not fit operand `b0` (an fp16 immediate"),
    ("HADD2 R1, R2, 1, -65520.0 ;", 18, "largest finite fp16 is 65504"),
    ("HADD2 R1, R2, 70000, 1 ;", 15, "immediate 70000 does not fit operand `b0`"),
];

#[test]
fn finite_float_literals_that_overflow_are_out_of_range() {
    for &(src, column, phrase) in OVERFLOW {
        let e = assemble(src, "t.sass").expect_err(src);
        assert_eq!((e.kind, e.line, e.column), (K::OutOfRange, 1, column), "{src}: {e}");
        assert!(e.message.contains(phrase), "{src}: {e}");
    }
}

#[rustfmt::skip]
const IN_RANGE: &[(&str, &str)] = &[
    // (source, canonical text): infinity written as such, and the largest finite values
    ("FADD R1, R2, +INF ;", "FADD R1, R2, +INF"),
    ("FADD R1, R2, -INF ;", "FADD R1, R2, -INF"),
    ("FADD R1, R2, 0f7f800000 ;", "FADD R1, R2, +INF"),
    ("FADD R1, R2, 3.4028235e38 ;", "FADD R1, R2, 3.4028235e38"),
    ("HADD2 R1, R2, +INF, -INF ;", "HADD2 R1, R2, +INF, -INF"),
    ("HADD2 R1, R2, 0h7c00, 65504 ;", "HADD2 R1, R2, +INF, 65504"),
    ("HADD2 R1, R2, 65519.99, 1 ;", "HADD2 R1, R2, 65504, 1"),
];

#[test]
fn infinity_and_the_largest_finite_values_assemble() {
    for &(src, text) in IN_RANGE {
        let p = assemble(src, "t").unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(p.kernels[0].instructions[0].text(), text, "{src}");
        assert_round_trips(&p, src);
    }
}

// ------------------------------------------- 4. the loader checks what the assembler checks

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

type Edit = fn(&mut Program);

#[rustfmt::skip]
const BAD_PROGRAMS: &[(&str, &str, Edit, &str)] = &[
    // (name, source, edit of the assembled program, phrase of the loader's error)
    ("name-not-identifier", ".kernel kern\nEXIT ;", |p| p.kernels[0].name = "k\x7frn".into(), "kernel name \"k\\u{7f}rn\" is not an identifier"),
    ("name-starts-with-digit", ".kernel k\nEXIT ;", |p| p.kernels[0].name = "9k".into(), "kernel name \"9k\" is not an identifier"),
    ("name-empty", ".kernel k\nEXIT ;", |p| p.kernels[0].name = String::new(), "kernel name \"\" is not an identifier"),
    ("kernel-twice", ".kernel a\nEXIT ;\n.kernel b\nEXIT ;", |p| p.kernels[1].name = "a".into(), "kernel a is defined twice"),
    ("no-kernels", "EXIT ;", |p| p.kernels.clear(), "the program has no kernels"),
    ("no-instructions", ".kernel k\nEXIT ;", |p| { p.kernels[0].instructions.clear(); p.kernels[0].lines.clear() }, "kernel k has no instructions"),
    ("param-name", ".kernel k\n.param u32 n\nEXIT ;", |p| p.kernels[0].params.as_mut().unwrap()[0].name = "n 1".into(), "kernel k: parameter name \"n 1\" is not an identifier"),
    ("param-twice", ".kernel k\n.param u32 pa\n.param u32 pb\nEXIT ;", |p| p.kernels[0].params.as_mut().unwrap()[1].name = "pa".into(), "kernel k: parameter `pa` is declared twice"),
    ("param-gap", ".kernel k\n.param u32 n\nEXIT ;", |p| p.kernels[0].params.as_mut().unwrap()[0].offset = 0x164, "parameter `n` is at c[0x0][0x164], but a u32 declared after the parameters before it is at c[0x0][0x160]"),
    ("param-misaligned", ".kernel k\n.param u32 n\n.param ptr x\nEXIT ;", |p| p.kernels[0].params.as_mut().unwrap()[1].offset = 0x164, "parameter `x` is at c[0x0][0x164]"),
    ("param-overlap", ".kernel k\n.param ptr x\n.param u32 n\nEXIT ;", |p| p.kernels[0].params.as_mut().unwrap()[1].offset = 0x164, "parameter `n` is at c[0x0][0x164]"),
    ("params-past-4k", ".kernel k\n.param ptr x\nEXIT ;", |p| {
        let ps = p.kernels[0].params.as_mut().unwrap();
        for i in 1..513 {
            ps.push(Param { name: format!("p{i}"), ty: ParamType::Ptr, offset: 0x160 + 8 * i });
        }
    }, "kernel k: parameters exceed the 4 KB parameter space"),
    ("regs-zero", ".kernel k\n.regs 4\nEXIT ;", |p| p.kernels[0].num_regs = 0, "kernel k: register count 0 out of range 1..255"),
    ("regs-not-inferred", ".kernel k\nMOV R7, R1 ;\nEXIT ;", |p| p.kernels[0].num_regs = 200, "kernel k: the register count 200 is not declared and is not the 8 the code uses"),
    ("target-misaligned", ".kernel k\nBRA 0x10 ;\nEXIT ;", |p| p.kernels[0].instructions[0].operands[0].value = Value::Imm(0x18), "kernel k instruction 0 (pc 0x0000): BRA: branch target 0x18 is not the address of an instruction"),
    ("target-past-code", ".kernel k\nNOP ;\n@P0 BRA 0x0 ;\nEXIT ;", |p| p.kernels[0].instructions[1].operands[0].value = Value::Imm(0x30), "kernel k instruction 1 (pc 0x0010): BRA: branch target 0x30 is not the address of an instruction (multiples of 0x10 below 0x30)"),
];

#[test]
fn the_loader_rejects_kernels_the_assembler_rejects() {
    for &(name, src, edit, phrase) in BAD_PROGRAMS {
        let mut p = assemble(src, "t").unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_round_trips(&p, name);
        edit(&mut p);
        let e = Program::from_bytes(&p.to_bytes(), "bad.bin").expect_err(name);
        assert_eq!((e.kind, e.line, e.column), (K::BinaryFormat, 0, 0), "{name}: {e}");
        assert!(e.message.contains(phrase), "{name}:\n   want {phrase:?}\n   got  {e}");
        assert!(p.check().unwrap_err().contains(phrase), "{name}: Program::check");
    }
}

/// A change to one field of an instruction word.
#[derive(Clone, Copy, Debug)]
enum Patch {
    /// Operand `i`'s main field holds this value.
    Field(usize, u64),
    /// Operand `i`'s flag is set.
    Set(usize, Flag),
}

#[rustfmt::skip]
const BAD_WORDS: &[(&str, &[Patch], Option<&str>)] = &[
    // (instruction, patches of its word, phrase of the loader's error, None = it loads)
    ("LDG.E.64.SYS R4, [R2] ;", &[Patch::Field(0, 5)], Some("LDG operand d: a group of 2 registers must start at a multiple of 2, got R5")),
    ("LDG.E.64.SYS R4, [R2] ;", &[Patch::Field(0, 254)], Some("LDG operand d: register group R254..R255 runs past R254")),
    ("LDG.E.128.SYS R8, [R2] ;", &[Patch::Field(0, 10)], Some("multiple of 4, got R10")),
    ("STG.E.128.SYS [R2], R8 ;", &[Patch::Field(1, 248)], None),
    ("STG.E.128.SYS [R2], R8 ;", &[Patch::Field(1, 252)], Some("STG operand b: register group R252..R255 runs past R254")),
    ("STG.E.128.SYS [R2], R8 ;", &[Patch::Field(1, 250)], Some("multiple of 4, got R250")),
    ("IMAD.WIDE R4, R0, R1, RZ ;", &[Patch::Field(0, 3)], Some("IMAD operand d: a group of 2 registers must start at a multiple of 2, got R3")),
    ("IMAD.WIDE R4, R0, R1, RZ ;", &[Patch::Field(0, 255)], None),
    ("HMMA.884.F32.F32.STEP0 R8, R4.ROW, R6.COL, R8 ;", &[Patch::Field(1, 5)], Some("multiple of 2, got R5")),
    // L kinds take any base, but not past R254
    ("HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R4, R5}, {R6, R7}, {R8, R9, R10, R11} ;", &[Patch::Field(0, 9)], None),
    ("HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R4, R5}, {R6, R7}, {R8, R9, R10, R11} ;", &[Patch::Field(0, 252)], Some("register group R252..R255 runs past R254")),
    // `~-R2` has no text
    ("IADD3 R1, R2, R3, RZ ;", &[Patch::Set(1, Flag::Neg), Patch::Set(1, Flag::Not)], Some("IADD3: operand `a` cannot be both negated (`-`) and inverted (`~`)")),
    ("IADD3 RZ, RZ, RZ, RZ ;", &[Patch::Set(1, Flag::Neg), Patch::Set(1, Flag::Not), Patch::Set(1, Flag::Reuse)], Some("cannot be both negated")),
    ("IADD3 R1, R2, R3, RZ ;", &[Patch::Set(1, Flag::Neg)], None),
    ("IADD3 R1, R2, R3, RZ ;", &[Patch::Set(3, Flag::Not)], None),
    // values the text has no name for
    ("S2R R0, SR_TID.X ;", &[Patch::Field(1, 200)], Some("S2R operand sr: special register code 200 does not exist")),
    ("DEPBAR.LE SB0, 0x0 ;", &[Patch::Field(0, 6)], Some("scoreboard SB6 does not exist (SB0..SB5)")),
];

#[test]
fn the_loader_rejects_instruction_words_the_assembler_cannot_make() {
    for &(src, patches, phrase) in BAD_WORDS {
        let what = format!("{src} {patches:?}");
        // `.regs` declared: a patched register must not also change the inferred count
        let p = assemble(&format!(".kernel k\n.regs 255\n{src}\nEXIT ;"), "t").unwrap_or_else(|e| panic!("{src}: {e}"));
        let inst = &p.kernels[0].instructions[0];
        let good = inst.encode().unwrap();
        let mut w = good;
        for &patch in patches {
            let (i, field) = match patch {
                Patch::Field(i, v) => (i, Some(v)),
                Patch::Set(i, _) => (i, None),
            };
            let od = &inst.def().operands[i];
            match (patch, field) {
                (_, Some(v)) if matches!(od.kind, Kind::SB | Kind::SR | Kind::R | Kind::G(_) | Kind::L(_)) => {
                    od.field.put(&mut w, v)
                }
                (Patch::Set(_, flag), None) => {
                    let ff = od.flags.iter().find(|f| f.flag == flag).unwrap_or_else(|| panic!("{what}: no {flag:?}"));
                    ff.field.put(&mut w, 1)
                }
                _ => panic!("{what}: unexpected patch"),
            }
        }
        let bytes = p.to_bytes();
        let at = bytes.windows(16).position(|x| x == good.to_le_bytes()).expect("the word");
        let mut body = bytes[..bytes.len() - 8].to_vec();
        body[at..at + 16].copy_from_slice(&w.to_le_bytes());
        let sum = fnv1a(&body);
        body.extend_from_slice(&sum.to_le_bytes());
        match (Program::from_bytes(&body, "bad.bin"), phrase) {
            (Ok(q), None) => assert_round_trips(&q, &what),
            (Ok(q), Some(phrase)) => {
                panic!("{what}: loaded as `{}`, want an error with {phrase:?}", q.kernels[0].instructions[0])
            }
            (Err(e), None) => panic!("{what}: {e}"),
            (Err(e), Some(phrase)) => {
                assert_eq!(e.kind, K::BinaryFormat, "{what}: {e}");
                assert!(e.message.contains("kernel k instruction 0 (pc 0x0000): "), "{what}: {e}");
                assert!(e.message.contains(phrase), "{what}:\n   want {phrase:?}\n   got  {e}");
            }
        }
    }
}

#[test]
fn neg_and_not_on_one_operand_do_not_encode() {
    let p = assemble("IADD3 R1, R2, R3, RZ ;", "t").unwrap();
    let mut inst = p.kernels[0].instructions[0].clone();
    inst.operands[1].neg = true;
    inst.operands[1].not = true;
    assert!(inst.encode().unwrap_err().to_string().contains("both negated"));
}

#[rustfmt::skip]
const BAD_TARGETS: &[(&str, usize, usize, &str)] = &[
    // (source, line, column, phrase): a label after the last instruction is no instruction's address
    ("BRA end ;\nEXIT ;\nend:", 1, 5, "label `end` (0x20) follows the last instruction"),
    (".kernel k\ntop: @P0 BRA done ;\nEXIT ;\ndone:\n.end", 2, 14, "label `done` (0x20) follows the last instruction"),
    ("BRA 0x20 ;\nEXIT ;", 1, 5, "branch target 0x20 is not the address of an instruction"),
];

#[test]
fn branch_targets_past_the_code_are_rejected_by_the_assembler_too() {
    for &(src, line, column, phrase) in BAD_TARGETS {
        let e = assemble(src, "t.sass").expect_err(src);
        assert_eq!((e.kind, e.line, e.column), (K::BadTarget, line, column), "{src}: {e}");
        assert!(e.message.contains(phrase), "{src}: {e}");
    }
}

#[test]
fn params_after_params_unknown_start_at_the_parameter_base() {
    let p = assemble(".kernel k\n.param u32 a\n.params unknown\n.param u32 b\nEXIT ;", "t").unwrap();
    let ps = p.kernels[0].params.as_ref().unwrap();
    assert_eq!((ps[0].name.as_str(), ps[0].offset), ("b", 0x160));
    assert_round_trips(&p, "params after .params unknown");
}

/// Every form, every operand, every flag combination and a spread of register values: what
/// `Instruction::validate` accepts prints as text that assembles back to the same instruction.
#[test]
fn what_validate_accepts_assembles_from_its_text() {
    fn typical(kind: Kind, regs: u8) -> Value {
        match kind {
            Kind::R | Kind::G(_) | Kind::L(_) => Value::Reg(8 / regs.max(1) * regs.max(1)),
            Kind::P => Value::Pred(3),
            Kind::U(_) => Value::Imm(1),
            Kind::S(_) => Value::Imm(-2i32 as u32),
            Kind::T => Value::Imm(0x10),
            Kind::F32 => Value::F32(0x8000_0000),
            Kind::F16 => Value::F16(0x8000),
            Kind::C => Value::Const { bank: 0, offset: 0x160 },
            Kind::CX => Value::ConstX { bank: 0, reg: 4, offset: 0x160 },
            Kind::M => Value::Mem { base: 6, offset: -16 },
            Kind::SR => Value::SReg(4),
            Kind::B => Value::Barrier(1),
            Kind::SB => Value::Scoreboard(0),
            Kind::PR => Value::PredFile,
        }
    }
    let mut texts = Vec::new();
    for (fi, def) in FORMS.iter().enumerate() {
        let mods = vec![0u8; def.mods.len()];
        let operands: Vec<Operand> = (0..def.operands.len())
            .map(|i| Operand::plain(typical(def.operands[i].kind, def.operand_regs(&mods, i))))
            .collect();
        let base = Instruction { form: fi as u16, guard: Pred::TRUE, mods, operands, control: None };
        for (i, od) in def.operands.iter().enumerate() {
            let mut values = vec![base.operands[i].value];
            match values[0] {
                Value::Reg(_) => values.extend([1, 2, 3, 252, 253, 254, 255].map(Value::Reg)),
                Value::SReg(_) => values.extend((0..=255).map(Value::SReg)),
                Value::Scoreboard(_) => values.extend((0..8).map(Value::Scoreboard)),
                Value::Pred(_) => values.push(Value::Pred(7)),
                _ => {}
            }
            let suffixes = od
                .flags
                .iter()
                .find(|f| matches!(f.flag, Flag::Swz | Flag::Hsel | Flag::Bsel | Flag::Layout))
                .map_or(1, |f| suffix_options(f.flag).len() as u8);
            for value in values {
                for bits in 0..16u8 {
                    for suffix in 0..suffixes {
                        let mut inst = base.clone();
                        let (neg, abs, not, reuse) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0, bits & 8 != 0);
                        inst.operands[i] = Operand { value, neg, abs, not, reuse, suffix };
                        if inst.validate().is_ok() {
                            texts.push(inst);
                        }
                    }
                }
            }
        }
    }
    assert!(texts.len() > 10_000, "{}", texts.len());
    // one kernel per 4096 instructions keeps the assembler's work linear
    let mut failures = Vec::new();
    for chunk in texts.chunks(4096) {
        let src: String = chunk.iter().map(|i| format!("{i}\n")).collect::<String>() + "NOP ;\n";
        let p = assemble(&src, "forms").unwrap_or_else(|e| panic!("{e}"));
        for (want, got) in chunk.iter().zip(&p.kernels[0].instructions) {
            if want != got {
                failures.push(format!("{want}\n   reassembled as {got}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} do not round trip:\n{}", failures.len(), failures.join("\n"));
}

// ------------------------------------------------------------------------------ the corpus

#[test]
fn the_binary_corpus_loads_and_round_trips_or_is_a_binary_format_error() {
    let must_fail = [
        ("name_not_identifier.bin", "is not an identifier"),
        ("duplicate_param.bin", "parameter `pa` is declared twice"),
        ("misaligned_pair.bin", "kernel main instruction 0 (pc 0x0000): LDG operand d: a group of 2 registers"),
        ("prefix_flags_on_rz.bin", "kernel ohmma_tile instruction 7 (pc 0x0070): IADD3: operand `a` cannot be both"),
    ];
    let files = corpus("bin");
    for (name, phrase) in must_fail {
        assert!(files.iter().any(|(n, _)| n == name), "tests/fuzz_corpus/bin/{name} is missing");
        let data = &files.iter().find(|(n, _)| n == name).unwrap().1;
        let e = Program::from_bytes(data, name).expect_err(name);
        assert!(e.message.contains(phrase), "{name}: {e}");
    }
    for (name, data) in &files {
        match Program::from_bytes(data, name) {
            Ok(p) => assert_round_trips(&p, name),
            Err(e) => assert_eq!((e.kind, e.line, e.column), (K::BinaryFormat, 0, 0), "{name}: {e}"),
        }
    }
}

#[test]
fn the_source_corpus_assembles_and_round_trips_or_is_an_error() {
    let files = corpus("asm");
    assert!(files.len() >= 5);
    for (name, data) in &files {
        let Ok(text) = std::str::from_utf8(data) else { continue };
        if let Ok(p) = assemble(text, name) {
            assert_round_trips(&p, name);
        }
    }
    for (name, want_ok) in
        [("destination_reuse.sass", false), ("negative_zero_immediate.sass", true), ("float_overflow.sass", false)]
    {
        let (_, data) = files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} is missing"));
        let r = assemble(std::str::from_utf8(data).unwrap(), name);
        assert_eq!(r.is_ok(), want_ok, "{name}: {r:?}");
    }
}
