//! Module globals on a device: the segment of a program's `__device__` variables is allocated
//! and initialised once per device and program, and each launch image has its addresses patched
//! in (`Device::kernel_image`).

mod common;
use std::sync::Arc;

use common::*;
use otc_asm::{GlobalSymbol, ModuleGlobals, RelocKind, Relocation};

/// `counter[0] += table[tid]` per thread, with the addresses of `table` (at 0x0) and `counter`
/// (at 0x100) loaded as nvcc does: `MOV` pairs patched by LO_32 / HI_32 relocations.
fn program() -> Arc<otc_asm::Program> {
    let text = "\
.kernel sum_table
S2R R0, SR_TID.X ;
MOV R2, 0x0 ;
MOV R3, 0x0 ;
IMAD.WIDE R2, R0, 0x4, R2 ;
LDG.E.SYS R5, [R2] ;
MOV R6, 0x0 ;
MOV R7, 0x0 ;
RED.E.ADD.STRONG.GPU [R6], R5 ;
EXIT ;
";
    let mut p = otc_asm::assemble(text, "t").expect("assembles");
    let table: Vec<u8> = (1..=32u32).flat_map(|v| v.to_le_bytes()).collect();
    p.globals = ModuleGlobals {
        size: 0x104,
        init: table,
        symbols: vec![
            GlobalSymbol { name: "table".into(), offset: 0, size: 128 },
            GlobalSymbol { name: "counter".into(), offset: 0x100, size: 4 },
        ],
    };
    let r = |pc, kind, target| Relocation { pc, kind, target, function: None };
    p.kernels[0].relocations = vec![
        r(0x10, RelocKind::Lo32, 0),
        r(0x20, RelocKind::Hi32, 0),
        r(0x50, RelocKind::Lo32, 0x100),
        r(0x60, RelocKind::Hi32, 0x100),
    ];
    p.check().expect("a valid program");
    Arc::new(p)
}

#[test]
fn globals_are_allocated_once_per_device_and_program_and_persist() {
    let p = program();
    let mut d = device(1);
    let base = d.module_globals(&p).unwrap().expect("a segment");
    assert_eq!(d.module_globals(&p).unwrap(), Some(base), "the same segment on every call");
    assert_eq!(from_bytes_u32(&d.read(base, 8).unwrap()), [1, 2]);
    for launch in 1..=3u32 {
        let img = d.kernel_image(&p, "sum_table").unwrap();
        d.launch(&img, [1, 1, 1], [32, 1, 1], &[], 0).unwrap();
        assert_eq!(from_bytes_u32(&d.read(base + 0x100, 4).unwrap()), [launch * 528], "launch {launch}");
    }
    // another program (even with the same content) is another module with its own segment
    let q = Arc::new((*p).clone());
    let other = d.module_globals(&q).unwrap().unwrap();
    assert_ne!(other, base);
    assert_eq!(from_bytes_u32(&d.read(other + 0x100, 4).unwrap()), [0]);
    // a fresh device starts from the initial data
    let mut e = device(1);
    let img = e.kernel_image(&p, "sum_table").unwrap();
    e.launch(&img, [1, 1, 1], [32, 1, 1], &[], 0).unwrap();
    let b = e.module_globals(&p).unwrap().unwrap();
    assert_eq!(from_bytes_u32(&e.read(b + 0x100, 4).unwrap()), [528]);
}

#[test]
fn unpatched_code_faults_and_unknown_kernels_are_launch_errors() {
    let p = program();
    let mut d = device(1);
    let bare = KernelImage::from(&p.kernels[0]); // the addresses left at 0x0
    assert!(matches!(d.launch(&bare, [1, 1, 1], [32, 1, 1], &[], 0), Err(SimError::Fault(_))));
    assert!(matches!(d.kernel_image(&p, "nope"), Err(SimError::Launch(m)) if m.contains("nope")));
    // a program without globals allocates nothing
    let plain = Arc::new(otc_asm::assemble(".kernel k\nEXIT ;\n", "t").unwrap());
    let before = d.allocations().len();
    assert_eq!(d.module_globals(&plain).unwrap(), None);
    d.kernel_image(&plain, "k").unwrap();
    assert_eq!(d.allocations().len(), before);
}

/// The fault of a launch and whether its message points at the missing cubin.
fn fault_message(d: &mut Device, img: &KernelImage) -> String {
    match d.launch(img, [1, 1, 1], [32, 1, 1], &[], 0) {
        Err(SimError::Fault(f)) => f.to_string(),
        other => panic!("expected a fault, got {other:?}"),
    }
}

#[test]
fn a_fault_near_address_0_says_when_the_globals_may_be_missing() {
    let p = program();
    // the same code with no globals and no relocations: what a listing alone gives
    let mut listing = (*p).clone();
    listing.globals = ModuleGlobals::default();
    listing.kernels[0].relocations.clear();
    let listing = Arc::new(listing);
    // relocations but no segment to resolve them
    let mut unresolved = (*p).clone();
    unresolved.globals = ModuleGlobals::default();
    let unresolved = Arc::new(unresolved);
    // linked globals, then a genuine null pointer (the load indexes from 0 instead of `table`)
    let mut null = (*p).clone();
    let from_null = otc_asm::assemble("IMAD.WIDE R2, R0, 0x4, RZ ;", "t").unwrap();
    null.kernels[0].instructions[3] = from_null.kernels[0].instructions[0].clone();
    let null = Arc::new(null);
    // (program, a word the message must hold, a word it must not)
    let cases: [(&Arc<otc_asm::Program>, &str, &str); 3] = [
        (&listing, "a cuobjdump listing alone leaves their addresses 0x0", "relocations against"),
        (
            &unresolved,
            "has 4 relocations against `__device__` variables but its program has no global segment",
            "listing alone",
        ),
        (&null, "is not inside an allocation", "cubin"),
    ];
    for (prog, must, must_not) in cases {
        let mut d = device(1);
        let img = d.kernel_image(prog, "sum_table").unwrap();
        let m = fault_message(&mut d, &img);
        assert!(m.contains(must), "{must}: {m}");
        assert!(!m.contains(must_not), "{must_not}: {m}");
        if must_not != "cubin" {
            assert!(m.contains("--cubin FILE") && m.contains("cubin="), "{m}");
        }
    }
    // a fault far from 0 gets no hint
    let far = kernel("MOV R2, 0x10000000 ;\nMOV R3, 0x0 ;\nLDG.E.SYS R5, [R2] ;\nEXIT ;");
    let m = fault_message(&mut device(1), &far);
    assert!(m.contains("is not inside an allocation") && !m.contains("cubin"), "{m}");
}
