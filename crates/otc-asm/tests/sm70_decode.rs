//! The sm_70 word decoder against the committed nvcc listings: for every instruction of every
//! listing in tests/fixtures/sass, the instruction decoded from its 128-bit word (printed beside
//! its text) is the instruction assembled from its text; and a program loaded from each
//! committed cubin has, kernel for kernel, the instructions of the listing printed from it.

use std::path::PathBuf;

use otc_asm::{assemble, program_from_cubin, sm70, Program};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The listing with each instruction's text replaced by the text decoded from its words.
/// Returns (the rewritten listing, words that did not decode).
fn redecode(listing: &str) -> (String, Vec<String>) {
    let lines: Vec<&str> = listing.lines().collect();
    let mut out = String::new();
    let mut failures = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        let lo = t.starts_with("/*").then(|| line.rfind("/* 0x")).flatten().filter(|_| !t.starts_with("/* 0x"));
        if let (Some(at), Some(next)) = (lo, lines.get(i + 1)) {
            let pc = u32::from_str_radix(&t[2..t.find("*/").unwrap()], 16).unwrap();
            let lo = u64::from_str_radix(&line[at + 5..at + 21], 16).unwrap();
            let hi_at = next.find("/* 0x").unwrap();
            let hi = u64::from_str_radix(&next[hi_at + 5..hi_at + 21], 16).unwrap();
            let word = lo as u128 | (hi as u128) << 64;
            match sm70::decode_word(word, pc) {
                Some(text) => out.push_str(&format!("/*{pc:04x}*/ {text} /* 0x{lo:016x} */\n{next}\n")),
                None => {
                    failures.push(format!("{} ({})", line.trim(), sm70::nearest_known(word)));
                    out.push_str(&format!("{line}\n{next}\n"));
                }
            }
            i += 2;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        i += 1;
    }
    (out, failures)
}

/// Instructions that differ, as (kernel, index, from text, from word). A NaN immediate is
/// allowed to differ in its payload only: the text (`-QNAN`) does not give it, the word does.
fn differences(from_text: &Program, from_words: &Program) -> Vec<String> {
    let mut out = Vec::new();
    for k in &from_text.kernels {
        let d = from_words.kernel(&k.name).expect("same kernels");
        assert_eq!(k.instructions.len(), d.instructions.len(), "{}", k.name);
        for (i, (a, b)) in k.instructions.iter().zip(&d.instructions).enumerate() {
            if a != b {
                let (ta, tb) = (otc_asm::disassemble_kernel(k), otc_asm::disassemble_kernel(d));
                let la = ta.lines().find(|l| l.contains(&format!("/*{:04x}*/", i * 16))).unwrap_or("?").to_string();
                let lb = tb.lines().find(|l| l.contains(&format!("/*{:04x}*/", i * 16))).unwrap_or("?").to_string();
                if la.contains("QNAN") && lb.contains("0f") {
                    continue;
                }
                out.push(format!("{} #{i}: text {la:?} word {lb:?}", k.name));
            }
        }
    }
    out
}

#[test]
fn every_word_of_every_listing_decodes_to_its_text() {
    let mut listings: Vec<PathBuf> = std::fs::read_dir(fixtures().join("sass"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sass"))
        .collect();
    listings.sort();
    assert!(listings.len() >= 38, "{listings:?}");
    let (mut words, mut problems) = (0, Vec::new());
    for path in &listings {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (decoded, failures) = redecode(&text);
        problems.extend(failures.iter().map(|f| format!("{name}: not decoded: {f}")));
        let a = assemble(&text, &name).unwrap();
        let b = assemble(&decoded, &name).unwrap_or_else(|e| panic!("{name}: the decoded listing: {e}"));
        problems.extend(differences(&a, &b).into_iter().map(|d| format!("{name}: {d}")));
        words += a.kernels.iter().map(|k| k.instructions.len()).sum::<usize>();
    }
    assert!(words > 20_000, "{words}");
    assert!(
        problems.is_empty(),
        "{} of {words} words:\n{}",
        problems.len(),
        problems[..problems.len().min(30)].join("\n")
    );
}

#[test]
fn a_cubin_loads_as_the_listing_printed_from_it() {
    let mut cubins: Vec<PathBuf> = std::fs::read_dir(fixtures().join("cubin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cubin"))
        .collect();
    cubins.sort();
    assert!(cubins.len() >= 5, "{cubins:?}");
    for path in &cubins {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let data = std::fs::read(path).unwrap();
        let listing = std::fs::read_to_string(fixtures().join("sass").join(format!("{stem}.sass"))).unwrap();
        let mut from_text = assemble(&listing, &stem).unwrap();
        from_text.attach_cubin(&otc_asm::read_cubin(&data, &stem).unwrap(), &stem).unwrap();
        let from_cubin = program_from_cubin(&data, &stem, None).unwrap_or_else(|e| panic!("{stem}: {e}"));
        let mut names: Vec<&str> = from_text.kernels.iter().map(|k| k.name.as_str()).collect();
        let mut got: Vec<&str> = from_cubin.kernels.iter().map(|k| k.name.as_str()).collect();
        names.sort();
        got.sort();
        assert_eq!(names, got, "{stem}");
        let diffs = differences(&from_text, &from_cubin);
        assert!(diffs.is_empty(), "{stem}: {diffs:?}");
        for k in &from_text.kernels {
            let d = from_cubin.kernel(&k.name).unwrap();
            assert_eq!((&k.constants, &k.relocations), (&d.constants, &d.relocations), "{stem} {}", k.name);
        }
        assert_eq!(from_text.globals, from_cubin.globals, "{stem}");
        // registers and static shared memory as cuobjdump -res-usage gives them
        let usage = std::fs::read_to_string(fixtures().join("sass").join(format!("{stem}.res-usage.txt"))).unwrap();
        let with_usage = assemble(&format!("{listing}{usage}"), &stem).unwrap();
        for k in &with_usage.kernels {
            let d = from_cubin.kernel(&k.name).unwrap();
            assert_eq!((k.num_regs, k.shared_bytes), (d.num_regs, d.shared_bytes), "{stem} {}", k.name);
        }
        // one kernel alone: only it (and no other kernel) is decoded
        let first = names[0];
        let one = program_from_cubin(&data, &stem, Some(first)).unwrap();
        assert_eq!(one.kernels.len(), 1, "{stem}");
        assert_eq!(one.kernels[0].instructions, from_text.kernel(first).unwrap().instructions);
    }
}

#[test]
fn bad_cubins_give_typed_errors() {
    let data = std::fs::read(fixtures().join("cubin/globals.cubin")).unwrap();
    let e = program_from_cubin(&data, "globals.cubin", Some("no_such_kernel")).unwrap_err();
    assert_eq!(e.kind, otc_asm::AsmErrorKind::Cubin);
    assert!(e.to_string().contains("no kernel no_such_kernel"), "{e}");
    // corrupt the first instruction word of a kernel's code: the error names kernel, offset, word
    let file = object::read::File::parse(&*data).unwrap();
    use object::{Object, ObjectSection};
    let text = file.sections().find(|s| s.name().is_ok_and(|n| n.starts_with(".text."))).unwrap();
    let kernel = text.name().unwrap().trim_start_matches(".text.").to_string();
    let (offset, _) = text.file_range().unwrap();
    let mut bad = data.clone();
    bad[offset as usize] = 0xff;
    bad[offset as usize + 1] |= 0x0f;
    let e = program_from_cubin(&bad, "bad.cubin", Some(&kernel)).unwrap_err();
    let m = e.to_string();
    assert_eq!(e.kind, otc_asm::AsmErrorKind::Cubin);
    assert!(m.contains(&format!("kernel {kernel}, offset 0x0000")) && m.contains("nearest known opcode"), "{m}");
    assert!(program_from_cubin(b"\x7fELF not really", "x.cubin", None).is_err());
}
