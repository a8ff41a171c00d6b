//! Rough single-thread throughput of the functional core (warp-instructions per second) on a
//! few kernels (64 CTAs of 256 threads each, independent of each other), with the cycle model
//! off and on. Run with `cargo run --release -p otc-sim --example throughput`.

use std::time::Instant;

use otc_sim::{Device, DeviceConfig, KernelImage};

fn kernel(text: &str) -> KernelImage {
    let p = otc_asm::assemble(text, "bench").expect("assembles");
    KernelImage::from(&p.kernels[0])
}

const INT_LOOP: &str = "
.kernel int_loop
.param ptr out
    S2R R0, SR_TID.X ;
    MOV R2, RZ ;
    MOV R3, 0x400 ;
top:
    IMAD R2, R0, 0x3, R2 ;
    LOP3.LUT R4, R2, 0xff, RZ, 0xc0, !PT ;
    IADD3 R2, R2, R4, RZ ;
    SHF.R.U32.HI R5, RZ, 0x3, R2 ;
    IADD3 R3, R3, -0x1, RZ ;
    ISETP.NE.AND P0, PT, R3, RZ, PT ;
    @P0 BRA top ;
    MOV R6, c[0x0][0x160] ;
    MOV R7, c[0x0][0x164] ;
    IMAD.WIDE.U32 R6, R0, 0x4, R6 ;
    STG.E.SYS [R6], R2 ;
    EXIT ;
";

const FFMA_LOOP: &str = "
.kernel ffma_loop
.param ptr out
    S2R R0, SR_TID.X ;
    I2F R1, R0 ;
    MOV R2, RZ ;
    MOV R3, 0x400 ;
top:
    FFMA R2, R1, 0.5, R2 ;
    FMUL R4, R2, 0.25 ;
    FADD R2, R2, -R4 ;
    IADD3 R3, R3, -0x1, RZ ;
    ISETP.NE.AND P0, PT, R3, RZ, PT ;
    @P0 BRA top ;
    MOV R6, c[0x0][0x160] ;
    MOV R7, c[0x0][0x164] ;
    IMAD.WIDE.U32 R6, R0, 0x4, R6 ;
    STG.E.SYS [R6], R2 ;
    EXIT ;
";

const MEM_LOOP: &str = "
.kernel mem_loop
.param ptr buf
    S2R R0, SR_TID.X ;
    S2R R1, SR_CTAID.X ;
    IMAD R0, R1, c[0x0][0x0], R0 ;
    MOV R6, c[0x0][0x160] ;
    MOV R7, c[0x0][0x164] ;
    IMAD.WIDE.U32 R6, R0, 0x4, R6 ;
    MOV R3, 0x200 ;
top:
    LDG.E.SYS R2, [R6] ;
    IADD3 R2, R2, 0x1, RZ ;
    STG.E.SYS [R6], R2 ;
    IADD3 R3, R3, -0x1, RZ ;
    ISETP.NE.AND P0, PT, R3, RZ, PT ;
    @P0 BRA top ;
    EXIT ;
";

fn main() {
    for (name, text) in [("int_loop", INT_LOOP), ("ffma_loop", FFMA_LOOP), ("mem_loop", MEM_LOOP)] {
        let k = kernel(text);
        for (threads, timing) in [(1usize, false), (2, false), (1, true), (2, true)] {
            let timing = if timing { DeviceConfig::default().timing } else { None };
            let on = if timing.is_some() { "on " } else { "off" };
            let mut d = Device::new(DeviceConfig { threads: Some(threads), timing, ..DeviceConfig::default() });
            let buf = d.alloc(4 * 256 * 64, 256).unwrap();
            let params = buf.to_le_bytes();
            let t = Instant::now();
            let st = d.launch(&k, [64, 1, 1], [256, 1, 1], &params, 0).unwrap();
            let s = t.elapsed().as_secs_f64();
            println!(
                "{name:10} threads={threads} timing {on}: {:>10} warp-instructions in {:.3} s = {:.1} M warp-inst/s",
                st.warp_instructions,
                s,
                st.warp_instructions as f64 / s / 1e6
            );
        }
    }
}
