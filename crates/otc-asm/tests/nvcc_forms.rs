//! Forms nvcc 11.8 prints that the assembler once rejected, as tables:
//! * constant loads (`LDC`, every width, with and without an index register): each assembles to
//!   the expected operand, prints back as nvcc prints it, encodes and decodes to itself, and its
//!   disassembly reassembles to the same instruction;
//! * `ATOMS.CAST.SPIN.64`, `ATOMG`/`ATOM` `.CAST.SPIN.64` (modifiers in nvcc's order): the same
//!   words as before `.SPIN` moved.

use otc_asm::{assemble, disassemble};
use otc_isa::{Instruction, Value, RZ};

/// (text as written, size modifier, bank, index register, offset, canonical text).
#[rustfmt::skip]
const LDC_FORMS: &[(&str, &str, u8, u8, u16, &str)] = &[
    // no index register: nvcc prints these for kernel parameters it loads through LDC
    ("LDC.U16 R0, c[0x0][0x174] ;", "U16", 0, RZ, 0x174, "LDC.U16 R0, c[0x0][0x174] ;"),
    ("LDC.S16 R0, c[0x0][0x176] ;", "S16", 0, RZ, 0x176, "LDC.S16 R0, c[0x0][0x176] ;"),
    ("LDC.U8 R3, c[0x0][0x171] ;", "U8", 0, RZ, 0x171, "LDC.U8 R3, c[0x0][0x171] ;"),
    ("LDC.S8 R3, c[0x3][0x7] ;", "S8", 3, RZ, 0x7, "LDC.S8 R3, c[0x3][0x7] ;"),
    ("LDC R1, c[0x0][0x20] ;", "", 0, RZ, 0x20, "LDC R1, c[0x0][0x20] ;"),
    ("LDC.64 R4, c[0x0][0x160] ;", "64", 0, RZ, 0x160, "LDC.64 R4, c[0x0][0x160] ;"),
    // RZ written out: offset 0 keeps it (as nvcc prints `c[0x0][RZ]`), otherwise nvcc's form
    ("LDC RZ, c[0x0][RZ] ;", "", 0, RZ, 0, "LDC RZ, c[0x0][RZ] ;"),
    ("LDC R2, c[0x0][RZ+0x10] ;", "", 0, RZ, 0x10, "LDC R2, c[0x0][0x10] ;"),
    // with an index register
    ("LDC R2, c[0x0][R2+0x10] ;", "", 0, 2, 0x10, "LDC R2, c[0x0][R2+0x10] ;"),
    ("LDC.U8 R2, c[0x3][R4] ;", "U8", 3, 4, 0, "LDC.U8 R2, c[0x3][R4] ;"),
    ("LDC.S8 R2, c[0x3][R4+0x1] ;", "S8", 3, 4, 1, "LDC.S8 R2, c[0x3][R4+0x1] ;"),
    ("LDC.U16 R2, c[0x2][R5+0x2] ;", "U16", 2, 5, 2, "LDC.U16 R2, c[0x2][R5+0x2] ;"),
    ("LDC.S16 R2, c[0x2][R5+0x2] ;", "S16", 2, 5, 2, "LDC.S16 R2, c[0x2][R5+0x2] ;"),
    ("LDC.64 R6, c[0x0][R0+0x160] ;", "64", 0, 0, 0x160, "LDC.64 R6, c[0x0][R0+0x160] ;"),
];

fn only_instruction(text: &str) -> Instruction {
    let p = assemble(text, "ldc").unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(p.kernels.len(), 1);
    assert_eq!(p.kernels[0].instructions.len(), 1, "{text}");
    p.kernels[0].instructions[0].clone()
}

#[test]
fn ldc_forms_assemble_print_encode_and_round_trip() {
    for &(text, size, bank, reg, offset, canonical) in LDC_FORMS {
        let inst = only_instruction(text);
        assert_eq!(inst.modifier("size"), size, "{text}");
        let a = inst.operands.iter().find(|o| matches!(o.value, Value::ConstX { .. })).expect("address");
        assert_eq!(a.value, Value::ConstX { bank, reg, offset }, "{text}");
        assert_eq!(format!("{} ;", inst.text()), canonical, "{text}");
        let w = inst.encode().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(Instruction::decode(w).unwrap(), inst, "{text}: words");
        let p = assemble(text, "ldc").unwrap();
        let again = assemble(&disassemble(&p), "disassembly").unwrap();
        assert_eq!(again.kernels[0].instructions, p.kernels[0].instructions, "{text}: disassembly");
    }
}

/// Constant-load addresses that are not accepted, with the words the error must contain.
#[rustfmt::skip]
const LDC_ERRORS: &[(&str, &str)] = &[
    ("LDC R0, -c[0x0][0x174] ;", "takes no prefix or suffix"),
    ("LDC R0, c[0x0][0x174].H1 ;", "takes no prefix or suffix"),
    ("LDC R0, c[0x20][0x174] ;", "bank 0x20 out of range"),
    ("LDC R0, c[0x0][0x10000] ;", "offset 0x10000 out of range"),
    ("LDC.128 R0, c[0x0][0x160] ;", "128"),
];

#[test]
fn bad_ldc_addresses_are_named() {
    for &(text, words) in LDC_ERRORS {
        let e = assemble(text, "ldc").expect_err(text).to_string();
        assert!(e.contains(words), "{text}: {e}");
    }
}

/// CAS as cuobjdump prints it (`.SPIN` before `.64`: `ATOMS.CAST.SPIN.64`) and in the other
/// order: the same instruction, printed as nvcc prints it, with the words the binary format held
/// for it before `.SPIN` moved in the text (recorded from those builds: binaries keep their
/// meaning). nvcc 11.8 emits `.CAST.SPIN` only for shared memory in the corpus; the global and
/// generic forms (ATOMG, ATOM) follow the same order.
#[rustfmt::skip]
const CAS_FORMS: &[(&str, &str, u128)] = &[
    ("ATOMS.CAST.SPIN.64 R2, [R4], R6, R8 ;", "ATOMS.CAST.SPIN.64 R2, [R4], R6, R8", 0x0000_0000_0000_1006_0000_0004_02ee_0214),
    ("ATOMS.CAST.64.SPIN R2, [R4], R6, R8 ;", "ATOMS.CAST.SPIN.64 R2, [R4], R6, R8", 0x0000_0000_0000_1006_0000_0004_02ee_0214),
    ("ATOMS.CAST.SPIN R2, [R4], R6, R8 ;", "ATOMS.CAST.SPIN R2, [R4], R6, R8", 0x0000_0000_0000_1006_0000_0004_02ae_0214),
    ("ATOMS.CAS.64 R2, [R4], R6, R8 ;", "ATOMS.CAS.64 R2, [R4], R6, R8", 0x0000_0000_0000_1006_0000_0004_024e_0214),
    ("ATOMG.E.CAST.SPIN.64.STRONG.GPU PT, R2, [R4], R6, R8 ;", "ATOMG.E.CAST.SPIN.64.STRONG.GPU PT, R2, [R4], R6, R8", 0x0000_0000_0008_0300_0000_0201_7bae_0211),
    ("ATOMG.E.CAST.64.SPIN.STRONG.GPU PT, R2, [R4], R6, R8 ;", "ATOMG.E.CAST.SPIN.64.STRONG.GPU PT, R2, [R4], R6, R8", 0x0000_0000_0008_0300_0000_0201_7bae_0211),
    ("ATOMG.E.CAST.SPIN.STRONG.GPU PT, R2, [R4], R6, R8 ;", "ATOMG.E.CAST.SPIN.STRONG.GPU PT, R2, [R4], R6, R8", 0x0000_0000_0008_0300_0000_0201_7b2e_0211),
    ("ATOMG.E.CAS.64.STRONG.GPU PT, R2, [R4], R6, R8 ;", "ATOMG.E.CAS.64.STRONG.GPU PT, R2, [R4], R6, R8", 0x0000_0000_0008_0300_0000_0201_7a8e_0211),
    ("ATOMG.E.CAS.STRONG.GPU PT, R2, [R4], R6, R8 ;", "ATOMG.E.CAS.STRONG.GPU PT, R2, [R4], R6, R8", 0x0000_0000_0008_0300_0000_0201_7a0e_0211),
    ("ATOM.E.CAST.SPIN.64.STRONG.GPU PT, R2, [R4], R6, R8 ;", "ATOM.E.CAST.SPIN.64.STRONG.GPU PT, R2, [R4], R6, R8", 0x0000_0000_0008_0300_0000_0201_7bae_0216),
    ("ATOM.E.CAST.64.SPIN.STRONG.GPU PT, R2, [R4], R6, R8 ;", "ATOM.E.CAST.SPIN.64.STRONG.GPU PT, R2, [R4], R6, R8", 0x0000_0000_0008_0300_0000_0201_7bae_0216),
    ("ATOM.E.CAS.64.STRONG.GPU PT, R2, [R4], R6, R8 ;", "ATOM.E.CAS.64.STRONG.GPU PT, R2, [R4], R6, R8", 0x0000_0000_0008_0300_0000_0201_7a8e_0216),
];

#[test]
fn cas_modifiers_in_either_order_mean_the_same_words() {
    for &(text, canonical, word) in CAS_FORMS {
        let inst = only_instruction(text);
        assert_eq!(inst.text(), canonical, "{text}");
        assert_eq!(inst.encode().unwrap(), word, "{text}: words");
        assert_eq!(Instruction::decode(word).unwrap(), inst, "{text}: decode");
        let d = if text.starts_with("ATOMS") { 0 } else { 1 }; // ATOMG/ATOM write the predicate first
        assert_eq!(inst.operand_regs(d), if text.contains(".64") { 2 } else { 1 }, "{text}: d is a pair for .64");
        // the disassembler's listing assembles back to the same instruction
        let again = assemble(&disassemble(&assemble(text, "cas").unwrap()), "cas").unwrap();
        assert_eq!(again.kernels[0].instructions[0], inst, "{text}: disassembly round trip");
    }
}

/// Modifier texts that stay wrong when order is free: repeated, unknown, or a token two groups
/// of the form take (its meaning would depend on where it is written).
#[rustfmt::skip]
const MODIFIER_ERRORS: &[&str] = &[
    "ATOMS.CAST.SPIN.SPIN R2, [R4], R6, R8 ;",
    "ATOMS.CAST.64.64 R2, [R4], R6, R8 ;",
    "ATOMS.SPIN.CAST.FOO R2, [R4], R6, R8 ;",
];

#[test]
fn repeated_or_unknown_modifiers_are_still_errors() {
    for &text in MODIFIER_ERRORS {
        assert!(assemble(text, "mods").is_err(), "{text}");
    }
}
