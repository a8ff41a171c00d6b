//! Program to canonical text (the own dialect), which assembles back to the same code.

use std::fmt::Write;

use crate::program::{Kernel, Program};

fn size(v: Option<u32>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "unknown".into())
}

/// Canonical text of one kernel.
pub fn disassemble_kernel(k: &Kernel) -> String {
    let mut s = String::new();
    let _ = writeln!(s, ".kernel {}", k.name);
    match &k.params {
        None => s.push_str(".params unknown\n"),
        Some(ps) => {
            for p in ps {
                let _ = writeln!(s, ".param {} {}    // c[0x0][{:#x}]", p.ty.name(), p.name, p.offset);
            }
        }
    }
    if k.regs_declared {
        let _ = writeln!(s, ".regs {}", k.num_regs);
    }
    let _ = writeln!(s, ".shared {}", size(k.shared_bytes));
    let _ = writeln!(s, ".local {}", size(k.local_bytes));
    for (i, inst) in k.instructions.iter().enumerate() {
        let _ = writeln!(s, "    /*{:04x}*/ {}", i * 16, inst);
    }
    s.push_str(".end\n");
    s
}

/// Canonical text of a whole program.
pub fn disassemble(p: &Program) -> String {
    let mut s = String::from("// otc-emu disassembly\n");
    for k in &p.kernels {
        s.push('\n');
        s.push_str(&disassemble_kernel(k));
    }
    s
}
