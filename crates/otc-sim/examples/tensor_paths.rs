//! CPU time of the tensor instructions' functional paths: loops of dense `OHMMA.8161` and
//! `HMMA.884` STEPs with fp16 and fp32 accumulators on finite data (64 CTAs of 128 threads,
//! 1 host thread, cycle model off), as CPU-ns per warp-instruction of the whole launch (the loop's
//! integer instructions included). `OTC_SIM_ISA` picks the vector level.
//! Run with `cargo run --release -p otc-sim --example tensor_paths`.

use std::time::Instant;

use otc_sim::{Device, DeviceConfig, KernelImage};

/// The loop body for each kernel: eight tensor instructions, D = C (chained accumulators).
const BODIES: [(&str, &str); 4] = [
    ("ohmma_f16", "HMMA.OHMMA.8161.F16.F16 {R8, R9}, {R4, R5}, {R6, R7}, {R8, R9} ;"),
    ("hmma_f16", "HMMA.884.F16.F16.STEP0 R8, R4.ROW, R6.COL, R8 ;\nHMMA.884.F16.F16.STEP1 R10, R4.ROW, R6.COL, R10 ;"),
    ("ohmma_f32", "HMMA.OHMMA.8161.F32.F32 {R8, R9, R10, R11}, {R4, R5}, {R6, R7}, {R8, R9, R10, R11} ;"),
    ("hmma_f32", "HMMA.884.F32.F32.STEP0 R8, R4.ROW, R6.COL, R8 ;\nHMMA.884.F32.F32.STEP1 R10, R4.ROW, R6.COL, R10 ;"),
];

fn kernel(name: &str, body: &str) -> KernelImage {
    let lines = body.lines().count();
    let body = std::iter::repeat_n(body, 8 / lines).collect::<Vec<_>>().join("\n");
    // fp16 factors about 1 (exponent fields 13..16) from the thread index, accumulators from 0
    let text = format!(
        ".kernel {name}
.param ptr out
    S2R R0, SR_TID.X ;
    LOP3.LUT R1, R0, 0x3ff, RZ, 0xc0, !PT ;
    IMAD R4, R1, 0x10003, RZ ;
    IADD3 R4, R4, 0x34013800, RZ ;
    IMAD R5, R1, 0x30005, RZ ;
    IADD3 R5, R5, 0xb8003c02, RZ ;
    IMAD R6, R1, 0x50001, RZ ;
    IADD3 R6, R6, 0x3c003402, RZ ;
    IMAD R7, R1, 0x20007, RZ ;
    IADD3 R7, R7, 0x3800b401, RZ ;
    MOV R8, RZ ;
    MOV R9, RZ ;
    MOV R10, RZ ;
    MOV R11, RZ ;
    MOV R3, 0x1000 ;
top:
{body}
    IADD3 R3, R3, -0x1, RZ ;
    ISETP.NE.AND P0, PT, R3, RZ, PT ;
    @P0 BRA top ;
    MOV R12, c[0x0][0x160] ;
    MOV R13, c[0x0][0x164] ;
    IMAD.WIDE.U32 R12, R0, 0x10, R12 ;
    STG.E.128.SYS [R12], R8 ;
    EXIT ;
"
    );
    let p = otc_asm::assemble(&text, "tensor_paths").expect("assembles");
    KernelImage::from(&p.kernels[0])
}

/// This process's CPU time in seconds (Linux `/proc/self/stat`, clock ticks of 10 ms), or the
/// wall clock elsewhere.
fn cpu_s(start: Instant) -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or_else(|| start.elapsed().as_secs_f64())
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).collect();
    for (name, body) in BODIES {
        if !filter.is_empty() && !filter.iter().any(|f| f == name) {
            continue;
        }
        let k = kernel(name, body);
        let mut d = Device::new(DeviceConfig { threads: Some(1), timing: None, ..DeviceConfig::default() });
        let buf = d.alloc(16 * 128 * 64, 256).unwrap();
        let params = buf.to_le_bytes();
        let start = Instant::now();
        let t0 = cpu_s(start);
        let st = d.launch(&k, [64, 1, 1], [128, 1, 1], &params, 0).unwrap();
        let cpu = cpu_s(start) - t0;
        let out = d.read(buf, 16 * 128 * 64).unwrap();
        let digest = out.iter().fold(0u64, |h, &b| h.rotate_left(5) ^ u64::from(b));
        println!(
            "{name:10} {:>9} warp-instructions, {cpu:.2} CPU-s = {:.1} CPU-ns each (output digest {digest:016x})",
            st.warp_instructions,
            cpu * 1e9 / st.warp_instructions as f64
        );
    }
}
