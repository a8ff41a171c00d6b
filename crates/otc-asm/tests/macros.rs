//! The SPWMMA macro expands into the documented machine instructions.

use otc_asm::{assemble, AsmErrorKind};

#[test]
fn spwmma_expands_into_bohmma_popc_predicates_and_eight_ohmmas() {
    let src = ".kernel k\n    SPWMMA.M32N32K1.F32.F32 {R8, R9, R10, R11, R12, R13, R14, R15}, {R16, R17, R18, R19}, R2, R3, R4, {R20, R21} ;\n    EXIT ;\n";
    let p = assemble(src, "spwmma.sass").unwrap();
    let texts: Vec<String> = p.kernels[0].instructions.iter().map(|i| i.text()).collect();
    let expected = [
        "HMMA.BOHMMA.32321.B32.B32 R20, R2, R3",
        "LOP3.LUT R4, R4, R20, RZ, 0xfc, !PT",
        "ACCB.BMAP R2, R3",
        "POPC R20, R2",
        "POPC R21, R3",
        "ISETP.NE.U32.AND P4, PT, R21, RZ, PT",
        "ISETP.GT.U32.AND P0, PT, R20, 0x0, P4",
        "ISETP.GT.U32.AND P1, PT, R20, 0x8, P4",
        "ISETP.GT.U32.AND P2, PT, R20, 0x10, P4",
        "ISETP.GT.U32.AND P3, PT, R20, 0x18, P4",
        "@P0 HMMA.OHMMA.8161.F32.F32.SP.M0.N0 {R8, R9}, {R16, R17}",
        "@P1 HMMA.OHMMA.8161.F32.F32.SP.M1.N0 {R10, R11}, {R16, R17}",
        "@P2 HMMA.OHMMA.8161.F32.F32.SP.M2.N0 {R12, R13}, {R16, R17}",
        "@P3 HMMA.OHMMA.8161.F32.F32.SP.M3.N0 {R14, R15}, {R16, R17}",
        "ISETP.GT.U32.AND P4, PT, R21, 0x10, PT",
        "ISETP.GT.U32.AND P0, PT, R20, 0x0, P4",
        "ISETP.GT.U32.AND P1, PT, R20, 0x8, P4",
        "ISETP.GT.U32.AND P2, PT, R20, 0x10, P4",
        "ISETP.GT.U32.AND P3, PT, R20, 0x18, P4",
        "@P0 HMMA.OHMMA.8161.F32.F32.SP.M0.N1 {R8, R9}, {R18, R19}",
        "@P1 HMMA.OHMMA.8161.F32.F32.SP.M1.N1 {R10, R11}, {R18, R19}",
        "@P2 HMMA.OHMMA.8161.F32.F32.SP.M2.N1 {R12, R13}, {R18, R19}",
        "@P3 HMMA.OHMMA.8161.F32.F32.SP.M3.N1 {R14, R15}, {R18, R19}",
        "EXIT",
    ];
    assert_eq!(texts, expected);
    assert!(p.kernels[0].lines[..23].iter().all(|&l| l == 2), "every expanded instruction carries the macro's line");
    // the disassembly shows the expansion and assembles back to the same code
    let again = assemble(&otc_asm::disassemble(&p), "dis").unwrap();
    assert_eq!(again.kernels[0].instructions, p.kernels[0].instructions);
}

#[rustfmt::skip]
const BAD: &[(&str, AsmErrorKind, usize)] = &[
    ("SPWMMA.M32N32K1.F32.F32 R8, R16, R2, R3, R4, R254", AsmErrorKind::OutOfRange, 50),
    ("SPWMMA.M16N16K1.F32.F32 R8, R16, R2, R3, R4, R20", AsmErrorKind::BadModifier, 5),
    ("@P0 SPWMMA.M32N32K1.F32.F32 R8, R16, R2, R3, R4, R20", AsmErrorKind::Syntax, 9),
    ("SPWMMA.M32N32K1.F32.F32 R8, R16, R2, R3, R4", AsmErrorKind::OperandCount, 5),
    ("SPWMMA.M32N32K1.F32.F32 {R8, R9}, R16, R2, R3, R4, R20", AsmErrorKind::BadRegisterGroup, 29),
    ("SPWMMA.M32N32K1.F32.F32 R8, R16, P2, R3, R4, R20", AsmErrorKind::OperandKind, 38),
    ("SPWMMA.M32N32K1.F32.F32 R250, R16, R2, R3, R4, R20", AsmErrorKind::OutOfRange, 29),
];

#[test]
fn spwmma_misuse_is_reported_at_the_right_place() {
    for (line, kind, col) in BAD {
        let src = format!(".kernel k\n    {line} ;\n");
        let e = assemble(&src, "bad.sass").expect_err(line);
        assert_eq!(e.kind, *kind, "{line}: {e}");
        assert_eq!(e.line, 2, "{line}");
        assert_eq!(e.column, *col, "{line}: {e}");
    }
}
