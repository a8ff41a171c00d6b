//! Never a panic: random instructions of every form of the ISA table (random modifiers,
//! operands, flags, guards) run on the warp harness and on a device. Every outcome must be a
//! result or a `SimError`.
#![allow(
    clippy::needless_range_loop,
    clippy::manual_is_multiple_of,
    clippy::identity_op,
    clippy::useless_vec,
    clippy::nonminimal_bool,
    clippy::if_same_then_else,
    clippy::approx_constant,
    clippy::manual_clamp
)]

mod common;
use common::*;
use otc_isa::{Flag, Instruction, Kind, Operand, Pred, Value, FORMS};
use otc_sim::{Device, DeviceConfig, KernelImage, SimError, WarpHarness};

fn random_inst(rng: &mut Rng, form: usize, len: u32) -> Option<Instruction> {
    let def = &FORMS[form];
    let mods: Vec<u8> = def.mods.iter().map(|g| rng.below(g.options.len() as u32) as u8).collect();
    let mut operands = Vec::new();
    for od in def.operands {
        let reg = |rng: &mut Rng| -> u8 {
            match rng.below(6) {
                0 => 255,
                1 => rng.below(255) as u8,
                _ => (rng.below(16) * 2) as u8,
            }
        };
        let value = match od.kind {
            Kind::R | Kind::G(_) | Kind::L(_) => Value::Reg(reg(rng)),
            Kind::P => Value::Pred(rng.below(8) as u8),
            Kind::U(n) => Value::Imm(if n >= 32 { rng.u32() } else { rng.u32() & ((1u32 << n) - 1) }),
            Kind::S(n) => {
                let v = rng.u32() as i32 >> (32 - n.min(32) as u32);
                Value::Imm(v as u32)
            }
            Kind::F32 => Value::F32(rng.u32()),
            Kind::F16 => Value::F16(rng.u32() as u16),
            Kind::C => Value::Const { bank: rng.below(4) as u8, offset: (rng.below(0x200) & !3) as u16 },
            Kind::CX => Value::ConstX { bank: rng.below(4) as u8, reg: reg(rng), offset: rng.below(0x200) as u16 },
            Kind::M => Value::Mem { base: reg(rng), offset: rng.below(0x100) as i32 - 0x80 },
            Kind::SR => Value::SReg(rng.below(30) as u8),
            Kind::B => Value::Barrier(rng.below(16) as u8),
            Kind::SB => Value::Scoreboard(rng.below(6) as u8),
            Kind::T => Value::Imm(rng.below(len + 2) * 16),
            Kind::PR => Value::PredFile,
        };
        let mut op = Operand::plain(value);
        if od.allows(Flag::Neg) {
            op.neg = rng.below(4) == 0;
        }
        if od.allows(Flag::Abs) {
            op.abs = rng.below(4) == 0;
        }
        if od.allows(Flag::Not) {
            op.not = rng.below(4) == 0;
        }
        for ff in od.flags {
            if matches!(ff.flag, Flag::Swz | Flag::Hsel | Flag::Bsel | Flag::Layout) {
                op.suffix = rng.below(otc_isa::suffix_options(ff.flag).len() as u32) as u8;
            }
        }
        operands.push(op);
    }
    let guard = match rng.below(4) {
        0 => Pred { index: rng.below(7) as u8, not: rng.below(2) == 0 },
        _ => Pred::TRUE,
    };
    let inst = Instruction { form: form as u16, guard, mods, operands, control: None };
    // only encodable instructions: that is what the assembler or a binary can produce
    inst.encode().ok().map(|_| inst)
}

#[test]
fn random_programs_never_panic() {
    let mut rng = Rng(0xdead_beef);
    let mut outcomes = [0usize; 2];
    for round in 0..1500 {
        let len = 1 + rng.below(10);
        let mut code = Vec::new();
        while code.len() < len as usize {
            let form = rng.below(FORMS.len() as u32) as usize;
            if let Some(i) = random_inst(&mut rng, form, len) {
                code.push(i);
            }
        }
        let mut h = WarpHarness::new();
        h.set_max_instructions(Some(2_000));
        let buf = h.alloc(4096, 256).unwrap();
        for r in 0..32u8 {
            let v = match r % 4 {
                0 => buf as u32 + 4 * r as u32,
                1 => (buf >> 32) as u32,
                _ => rng.u32(),
            };
            h.write_reg(r, lanes(|l| v.wrapping_add(l as u32 * 4)));
        }
        for p in 0..7 {
            h.write_pred(p, rng.u32());
        }
        h.set_lanes(if round % 5 == 0 { rng.u32() | 1 } else { u32::MAX });
        match h.run(&code) {
            Ok(_) => outcomes[0] += 1,
            Err(SimError::Fault(f)) => {
                assert!(!f.message.is_empty());
                outcomes[1] += 1;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
        // the same code as a kernel on a multi-warp device
        if round % 4 == 0 {
            let mut d = Device::new(DeviceConfig {
                max_instructions: Some(20_000),
                threads: Some(2),
                ..DeviceConfig::default()
            });
            let mut k = KernelImage::new("fuzz", code.clone());
            k.num_regs = 1 + rng.below(64);
            k.shared_bytes = Some(256);
            let p = d.alloc(64, 256).unwrap();
            let _ = d.launch(&k, [2, 1, 1], [40, 1, 1], &p.to_le_bytes(), 0);
            assert_eq!(d.read(p, 64).unwrap().len(), 64);
        }
    }
    assert!(outcomes[0] > 10 && outcomes[1] > 10, "{outcomes:?}");
}
