//! Every instruction class of the ISA (`[[class]]` in `isa/*.toml`) has what the rest of the
//! project needs of it: semantics (its forms decode to an op of the family that runs the class),
//! a timing entry (a tensor class's `[tensor.<name>]` table with the keys its `costs` lists), a
//! statistics name the cycle model reports, and docs. A new instruction missing any of them
//! fails here with a message that names the class and what is missing
//! (docs/adding-an-instruction.md).

use otc_isa::{Class, ControlClass, Instruction, Kind, Operand, Pred, TensorClass, Value, WarpClass, FORMS, PT};
use otc_timing::TimingConfig;

use crate::decode::{decode, DecodeCtx, OpKind};
use crate::fault::FaultKind;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn doc(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A plain operand of each kind (registers 8.., aligned for every group size).
fn operand(kind: Kind) -> Operand {
    Operand::plain(match kind {
        Kind::R | Kind::G(_) | Kind::L(_) => Value::Reg(8),
        Kind::P => Value::Pred(1),
        Kind::U(_) | Kind::S(_) => Value::Imm(1),
        Kind::T => Value::Imm(0),
        Kind::F32 => Value::F32(1.0f32.to_bits()),
        Kind::F16 => Value::F16(0x3c00),
        Kind::C => Value::Const { bank: 0, offset: 0x160 },
        Kind::CX => Value::ConstX { bank: 0, reg: 4, offset: 0x160 },
        Kind::M => Value::Mem { base: 6, offset: 16 },
        Kind::SR => Value::SReg(0),
        Kind::B => Value::Barrier(1),
        Kind::SB => Value::Scoreboard(0),
        Kind::PR => Value::PredFile,
    })
}

/// The ops that the forms of `class` decode to, over every option of every modifier group
/// (option i of each group together), with the unsupported ones left out.
fn decoded(class: Class) -> Vec<OpKind> {
    let banks = vec![vec![0u8; 0x10000]];
    let cx = DecodeCtx { num_regs: 255, banks: &banks, len: 1, end_exits: true };
    let mut out = Vec::new();
    for (form, def) in FORMS.iter().enumerate().filter(|(_, d)| d.class == class) {
        let options = def.mods.iter().map(|g| g.options.len()).max().unwrap_or(1);
        for v in 0..options {
            let inst = Instruction {
                form: form as u16,
                guard: Pred { index: PT, not: false },
                mods: def.mods.iter().map(|g| (v % g.options.len()) as u8).collect(),
                operands: def.operands.iter().map(|o| operand(o.kind)).collect(),
                control: None,
            };
            match decode(&inst, &cx).kind {
                OpKind::Fault(FaultKind::UnsupportedInstruction, _) => {}
                k => out.push(k),
            }
        }
    }
    out
}

/// Whether `op` is run by the part of the executor that the class names.
fn runs_as(class: Class, op: &OpKind) -> bool {
    match class {
        Class::Tensor(_) => matches!(op, OpKind::Tensor(_)),
        Class::Memory(_) => {
            matches!(op, OpKind::Ld { .. } | OpKind::St { .. } | OpKind::Ldc { .. } | OpKind::Atom { .. })
        }
        Class::Warp(WarpClass::Shfl) => matches!(op, OpKind::Shfl { .. }),
        Class::Control(ControlClass::Bar) => matches!(op, OpKind::Bar { .. }),
        Class::Control(ControlClass::Exit) => matches!(op, OpKind::Exit),
        Class::Control(ControlClass::Membar | ControlClass::Depbar) => matches!(op, OpKind::Nop),
        Class::Alu => !matches!(op, OpKind::Fault(..) | OpKind::Tensor(_)),
    }
}

#[test]
fn every_class_has_semantics() {
    for class in Class::ALL {
        let ops = decoded(class);
        assert!(!ops.is_empty(), "class {}: no form of it decodes to an op (add its decode arm)", class.name());
        for op in &ops {
            assert!(
                runs_as(class, op),
                "class {}: a form decodes to {op:?}, which the executor does not run as that class",
                class.name()
            );
        }
    }
}

#[test]
fn every_tensor_class_has_a_timing_entry() {
    let v100 = TimingConfig::v100();
    let file = otc_timing::config::V100_TOML;
    for class in TensorClass::ALL {
        let name = class.name();
        assert!(
            file.contains(&format!("[tensor.{name}]")),
            "tensor class {name}: configs/v100.toml has no [tensor.{name}] table"
        );
        assert!(v100.tensor.cost(class).cycles >= 1, "tensor class {name}: [tensor.{name}] cycles must be at least 1");
        for key in class.costs() {
            assert!(v100.get(&format!("tensor.{name}.{key}")).is_ok(), "tensor class {name}: no {key}");
        }
    }
    // The other classes time as their forms' unit (`units.<unit>`), which is never the tensor unit.
    for def in FORMS {
        let tensor_unit = def.unit == otc_isa::Unit::Tensor;
        assert_eq!(
            tensor_unit,
            matches!(def.class, Class::Tensor(_)),
            "{} {:#05x}: class {} on unit {:?} (tensor classes, and only they, run on the tensor unit)",
            def.mnemonic,
            def.opcode,
            def.class.name(),
            def.unit
        );
    }
}

#[test]
fn every_class_has_a_statistics_name() {
    let stats = otc_timing::simulate(&TimingConfig::v100(), std::iter::empty(), 0).expect("an empty kernel simulates");
    for class in Class::ALL {
        let s = class.stats();
        let per_mnemonic = s == "op"
            || s.strip_prefix("op.").is_some_and(|m| FORMS.iter().any(|d| d.mnemonic == m && d.class == class));
        let reported = stats.counters.keys().any(|k| k == s || k.starts_with(&format!("{s}.")));
        assert!(
            per_mnemonic || reported,
            "class {}: the cycle model reports no counter `{s}` or `{s}.*` (isa/*.toml `stats`)",
            class.name()
        );
    }
}

#[test]
fn every_class_is_documented() {
    let isa = doc("docs/isa.md");
    let timing = doc("docs/timing.md");
    let walkthrough = doc("docs/adding-an-instruction.md");
    assert!(walkthrough.contains("class"), "docs/adding-an-instruction.md must describe classes");
    for class in Class::ALL {
        assert!(
            isa.contains(&format!("`{}`", class.name())),
            "class {}: not in docs/isa.md (regenerate)",
            class.name()
        );
        assert!(!class.summary().is_empty(), "class {}: empty summary", class.name());
    }
    for class in TensorClass::ALL {
        assert!(
            timing.contains(&format!("`{}`", class.name())),
            "tensor class {}: docs/timing.md's tensor table does not list it",
            class.name()
        );
    }
}
