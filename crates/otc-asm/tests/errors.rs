//! Every error kind, with the line and column it must point at.

use otc_asm::{assemble, load_bytes, AsmErrorKind as K, Program};

#[rustfmt::skip]
const CASES: &[(&str, K, usize, usize, &str)] = &[
    // (source, kind, line, column, phrase in the message)
    ("IADD3 R0, R1, R2, RZ ;\nIMDA R0, R1, R2, R3 ;", K::UnknownMnemonic, 2, 1, "did you mean `IMAD`"),
    ("  FROB R0 ;", K::UnknownMnemonic, 1, 3, "unknown instruction `FROB`"),
    ("ISETP.GE.U23.AND P0, PT, R0, R1, PT ;", K::BadModifier, 1, 10, "`.U23`; did you mean `.U32`"),
    ("ISETP.GE P0, PT, R0, R1, PT ;", K::BadModifier, 1, 1, "expected one of"),
    ("IADD3 R0, R1, R2 ;", K::OperandCount, 1, 17, "takes 4 operands"),
    ("IADD3 R0, R1, R2, RZ, RZ, RZ, RZ, RZ ;", K::OperandCount, 1, 23, "operands"),
    ("IADD3 R0, [R1], R2, RZ ;", K::OperandKind, 1, 11, "operand `a` must be a register"),
    ("MOV R0, P1 ;", K::OperandKind, 1, 9, "operand `a`"),
    ("FADD R0, ~R1, R2 ;", K::OperandKind, 1, 10, "cannot be inverted"),
    ("IMAD.WIDE.U32 R6, R25, 0x4, c[0x0][0x170] ;", K::OperandKind, 1, 29, "only one 32-bit immediate or constant"),
    ("MOV R255, R1 ;", K::OutOfRange, 1, 5, "R255 does not exist"),
    ("IADD3 R0, R1, 0x100000000, RZ ;", K::OutOfRange, 1, 15, "does not fit"),
    ("LDG.E.SYS R0, [R2+0x1000000] ;", K::OutOfRange, 1, 15, "24 signed bits"),
    ("MOV R0, c[0x20][0x0] ;", K::OutOfRange, 1, 9, "bank"),
    ("BSYNC B16 ;", K::OutOfRange, 1, 7, "B16 does not exist"),
    ("IMAD.WIDE R3, R0, R1, RZ ;", K::BadRegisterGroup, 1, 11, "multiple of 2"),
    ("LDG.E.128.SYS R6, [R2] ;", K::BadRegisterGroup, 1, 15, "multiple of 4"),
    ("HMMA.OHMMA.8161.F32.F32 {R9, R10, R11, R12}, {R1, R2}, {R3, R5}, {R5, R6, R7, R8} ;", K::BadRegisterGroup, 1, 56, "consecutive"),
    ("HMMA.OHMMA.8161.F32.F32 {R9, R10, R11}, {R1, R2}, {R3, R4}, {R5, R6, R7, R8} ;", K::BadRegisterGroup, 1, 25, "group of 4 registers"),
    ("HMMA.OHMMA.8161.F32.F32 R252, R1, R3, R5 ;", K::OutOfRange, 1, 25, "runs past R254"),
    ("BRA nowhere ;\nEXIT ;", K::Label, 1, 5, "undefined label `nowhere`"),
    ("top:\nEXIT ;\ntop:\nEXIT ;", K::Label, 3, 1, "defined twice"),
    ("loop: BRA lop ;", K::Label, 1, 11, "did you mean `loop`"),
    ("BRA 0x18 ;\nEXIT ;", K::BadTarget, 1, 5, "not the address of an instruction"),
    ("BRA 0x20 ;\nEXIT ;", K::BadTarget, 1, 5, "below 0x20"),
    (".kernel k\n.param int32 n\nEXIT ;", K::Directive, 2, 1, "unknown parameter type `int32`"),
    (".kernel k\n.param u32 n\n.param u32 n\nEXIT ;", K::Directive, 3, 1, "declared twice"),
    (".param u32 n\nEXIT ;", K::Directive, 1, 1, "must follow a `.kernel NAME`"),
    (".kernel k\n.frobnicate\nEXIT ;", K::Directive, 2, 1, "unknown directive"),
    (".kernel k\n.regs 300\nEXIT ;", K::Directive, 2, 1, "1..255"),
    (".kernel 9k\nEXIT ;", K::Directive, 1, 1, "identifier"),
    ("IADD3 R0, R1, R2, RZ ; NOP ;", K::Syntax, 1, 24, "one instruction per line"),
    ("IADD3 R0, {R1, R2, RZ ;", K::Syntax, 1, 23, "unbalanced"),
    ("IADD3 R0, R1, R2,, RZ ;", K::Syntax, 1, 18, "empty operand"),
    ("@Q0 EXIT ;", K::Syntax, 1, 1, "guard"),
    ("[B------:R-:W-:Y:S99] EXIT ;", K::Syntax, 1, 1, "S00..S15"),
    ("/* never closed\nEXIT ;", K::Syntax, 1, 0, "unterminated"),
    ("", K::Syntax, 0, 0, "empty"),
    ("\tcode for sm_70\n\t\tFunction : k\n        /*0010*/                   EXIT ;  /* 0x000000000000794d */\n /* 0x000fea0003800000 */", K::Listing, 3, 9, "expected 0x0000"),
    ("\tcode for sm_70\n\t\tFunction : k\n        /*0000*/                   EXIT ;  /* 0x000000000000794d */\n        /*0010*/                   EXIT ;", K::Listing, 4, 9, "second encoding line"),
    ("\tcode for sm_70\n        /*0000*/                   EXIT ;  /* 0x000000000000794d */", K::Listing, 2, 9, "before any `Function :`"),
];

#[test]
fn errors_name_the_kind_line_and_column() {
    let mut failures = Vec::new();
    for &(src, kind, line, column, phrase) in CASES {
        match assemble(src, "t.sass") {
            Ok(_) => failures.push(format!("{src:?}: assembled without error")),
            Err(e) => {
                if e.kind != kind || e.line != line || e.column != column || !e.message.contains(phrase) {
                    failures.push(format!(
                        "{src:?}:\n   want {kind:?} at {line}:{column} with {phrase:?}\n   got  {:?} at {}:{}: {}",
                        e.kind, e.line, e.column, e.message
                    ));
                }
                assert!(e.to_string().starts_with("t.sass"), "{e}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn binary_errors_are_typed_and_never_panic() {
    let good = assemble(".kernel k\n.param ptr x\nS2R R0, SR_TID.X ;\nEXIT ;\n", "g").unwrap().to_bytes();
    assert!(Program::from_bytes(&good, "g").is_ok());
    // every truncation
    for n in 0..good.len() {
        let e = Program::from_bytes(&good[..n], "cut.bin").expect_err("truncated");
        assert_eq!(e.kind, K::BinaryFormat, "{n}: {e}");
    }
    // every single-bit flip is caught (checksum, magic or decoding)
    for i in 0..good.len() * 8 {
        let mut b = good.clone();
        b[i / 8] ^= 1 << (i % 8);
        let e = Program::from_bytes(&b, "flip.bin").expect_err("bit flip");
        assert_eq!(e.kind, K::BinaryFormat, "bit {i}: {e}");
    }
    let mut wrong_version = good.clone();
    wrong_version[8] = 99;
    assert!(Program::from_bytes(&wrong_version, "v").unwrap_err().message.contains("version 99"));
    let e = load_bytes(&[0xff, 0xfe, 0x00, 0x41], "garbage.bin").unwrap_err();
    assert_eq!((e.kind, e.line), (K::Syntax, 1), "{e}");
}
