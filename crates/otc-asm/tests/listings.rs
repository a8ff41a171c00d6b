//! Real `cuobjdump -sass` listings (tests/fixtures/sass, made by nvcc 11.8 for sm_70) through the
//! assembler: every instruction is read, prints back as nvcc printed it, encodes and decodes to
//! itself, and the disassembly assembles to the same code.

use std::path::PathBuf;

use otc_asm::{assemble, disassemble, Program};
use otc_isa::Instruction;

fn fixtures() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sass");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("fixtures dir") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "sass") {
            let mut text = std::fs::read_to_string(&p).expect("read");
            let usage = p.with_extension("res-usage.txt");
            if let Ok(u) = std::fs::read_to_string(usage) {
                text.push_str(&u);
            }
            out.push((p.file_name().unwrap().to_string_lossy().into_owned(), text));
        }
    }
    out.sort();
    assert!(out.len() >= 10, "expected the nvcc fixtures, found {}", out.len());
    out
}

/// The instruction text of a listing line, with nvcc's spacing quirks normalised.
fn listing_text(line: &str) -> Option<String> {
    let t = line.trim();
    let rest = t.strip_prefix("/*")?;
    let close = rest.find("*/")?;
    if rest[..close].starts_with(" 0x") {
        return None;
    }
    let body = &rest[close + 2..];
    let body = &body[..body.find("/*").unwrap_or(body.len())];
    let body = body.trim().trim_end_matches(';').trim();
    let norm = body.split_whitespace().collect::<Vec<_>>().join(" ");
    // `+INF ,` -> `+INF,`; `c[0x0] [0x164]` -> `c[0x0][0x164]`; `R2 0x0` (RET) -> `R2, 0x0`
    let norm = norm.replace(" ,", ",").replace("] [", "][");
    Some(norm)
}

/// Equal, except that float immediates may be spelled differently (nvcc prints 20 significant
/// digits, otc-emu the shortest text that reads back to the same fp32 bits).
fn same_text(nvcc: &str, ours: &str) -> bool {
    let a: Vec<&str> = nvcc.split(", ").collect();
    let b: Vec<&str> = ours.split(", ").collect();
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            x == y || {
                let (px, py) = (x.rsplit(' ').next().unwrap_or(x), y.rsplit(' ').next().unwrap_or(y));
                x.len() - px.len() == y.len() - py.len()
                    && x[..x.len() - px.len()] == y[..y.len() - py.len()]
                    && matches!((px.parse::<f32>(), py.parse::<f32>()), (Ok(u), Ok(v)) if u.to_bits() == v.to_bits())
            }
        })
}

#[test]
fn every_listing_assembles() {
    let mut total = 0;
    let mut failures = Vec::new();
    for (name, text) in fixtures() {
        let p = match assemble(&text, &name) {
            Ok(p) => p,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        assert!(!p.kernels.is_empty(), "{name}");
        for k in &p.kernels {
            assert!(k.regs_declared, "{name}: {} has a res-usage REG count", k.name);
            total += k.instructions.len();
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total > 3000, "only {total} instructions");
}

#[test]
fn canonical_text_matches_nvcc() {
    let mut mismatches = Vec::new();
    for (name, text) in fixtures() {
        let p = assemble(&text, &name).unwrap();
        let expected: Vec<String> = text.lines().filter_map(listing_text).collect();
        let got: Vec<String> = p.kernels.iter().flat_map(|k| k.instructions.iter().map(|i| i.text())).collect();
        assert_eq!(expected.len(), got.len(), "{name}: instruction count");
        for (e, g) in expected.iter().zip(&got) {
            let e = if e.starts_with("RET") || e.contains(" RET") { e.replacen(" 0x", ", 0x", 1) } else { e.clone() };
            if !same_text(&e, g) {
                mismatches.push(format!("{name}:\n  nvcc: {e}\n  ours: {g}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

#[test]
fn words_round_trip_and_disassembly_reassembles() {
    for (name, text) in fixtures() {
        let p = assemble(&text, &name).unwrap();
        for k in &p.kernels {
            for inst in &k.instructions {
                let w = inst.encode().unwrap_or_else(|e| panic!("{name}: {}: {e}", inst.text()));
                assert_eq!(&Instruction::decode(w).unwrap(), inst, "{name}: {}", inst.text());
                assert!(inst.control.is_some(), "listing control bits kept");
            }
        }
        let dis = disassemble(&p);
        let q = assemble(&dis, "disassembly").unwrap_or_else(|e| panic!("{name} disassembly: {e}\n{dis}"));
        assert_eq!(p.kernels.len(), q.kernels.len());
        for (a, b) in p.kernels.iter().zip(&q.kernels) {
            assert_eq!(a.instructions, b.instructions, "{name}/{}", a.name);
            assert_eq!(
                (a.num_regs, a.shared_bytes, a.local_bytes, &a.params),
                (b.num_regs, b.shared_bytes, b.local_bytes, &b.params)
            );
        }
        let bytes = p.to_bytes();
        let back = Program::from_bytes(&bytes, "bin").unwrap();
        assert_eq!(back, p, "{name}: binary round trip");
    }
}

#[test]
fn every_program_assembles_and_its_disassembly_reassembles() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../programs");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("programs dir") {
        let p = e.expect("entry").path();
        if p.extension().is_none_or(|x| x != "sass") {
            continue;
        }
        let name = p.display().to_string();
        let text = std::fs::read_to_string(&p).expect("read");
        let prog = assemble(&text, &name).unwrap_or_else(|e| panic!("{e}"));
        let again = assemble(&disassemble(&prog), "dis").unwrap_or_else(|e| panic!("{name}: {e}"));
        for (a, b) in prog.kernels.iter().zip(&again.kernels) {
            assert_eq!(a.instructions, b.instructions, "{name}");
            assert_eq!(a.params, b.params, "{name}");
        }
        n += 1;
    }
    assert!(n >= 1, "no programs found");
}
