//! Helpers shared by the integration tests: assembling SASS text, running it on the warp
//! harness or a device, and reading the nvcc fixtures.
#![allow(dead_code)]

use std::path::PathBuf;

use otc_isa::Instruction;
pub use otc_sim::{Device, DeviceConfig, KernelImage, LaunchStats, SimError, WarpHarness};

/// Assemble own-dialect text (one kernel) into instructions.
pub fn asm(text: &str) -> Vec<Instruction> {
    match otc_asm::assemble(text, "test") {
        Ok(p) => p.kernels[0].instructions.clone(),
        Err(e) => panic!("assembly failed: {e}\n{text}"),
    }
}

/// A kernel image from own-dialect text.
pub fn kernel(text: &str) -> KernelImage {
    let p = otc_asm::assemble(text, "test").unwrap_or_else(|e| panic!("assembly failed: {e}\n{text}"));
    KernelImage::from(&p.kernels[0])
}

/// Run text on a harness.
pub fn run(h: &mut WarpHarness, text: &str) -> Result<LaunchStats, SimError> {
    h.run(&asm(text))
}

/// Per-lane values from a function.
pub fn lanes(mut f: impl FnMut(usize) -> u32) -> [u32; 32] {
    let mut v = [0u32; 32];
    for (l, x) in v.iter_mut().enumerate() {
        *x = f(l);
    }
    v
}

/// The nvcc fixture listing `name` (tests/fixtures/sass/NAME.sass plus its -res-usage output).
pub fn fixture(name: &str) -> otc_asm::Program {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sass");
    let mut text = std::fs::read_to_string(dir.join(format!("{name}.sass"))).expect("fixture listing");
    if let Ok(u) = std::fs::read_to_string(dir.join(format!("{name}.res-usage.txt"))) {
        text.push_str(&u);
    }
    otc_asm::assemble(&text, name).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A device with `threads` host threads.
pub fn device(threads: usize) -> Device {
    Device::new(DeviceConfig { threads: Some(threads), ..DeviceConfig::default() })
}

/// Little-endian parameter block builder (natural alignment, as nvcc lays parameters out).
#[derive(Default)]
pub struct Params(pub Vec<u8>);

impl Params {
    pub fn new() -> Self {
        Params(Vec::new())
    }
    fn align(&mut self, a: usize) {
        while !self.0.len().is_multiple_of(a) {
            self.0.push(0);
        }
    }
    pub fn ptr(mut self, p: u64) -> Self {
        self.align(8);
        self.0.extend_from_slice(&p.to_le_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.align(4);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn i32(self, v: i32) -> Self {
        self.u32(v as u32)
    }
    pub fn f32(self, v: f32) -> Self {
        self.u32(v.to_bits())
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

pub fn to_bytes_u32(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn to_bytes_i32(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn to_bytes_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect()
}

pub fn from_bytes_u32(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

pub fn from_bytes_i32(b: &[u8]) -> Vec<i32> {
    from_bytes_u32(b).into_iter().map(|x| x as i32).collect()
}

pub fn from_bytes_f32(b: &[u8]) -> Vec<f32> {
    from_bytes_u32(b).into_iter().map(f32::from_bits).collect()
}

/// Allocate and fill a buffer.
pub fn upload(d: &mut Device, data: &[u8]) -> u64 {
    let a = d.alloc(data.len().max(1) as u64, 256).expect("alloc");
    d.write(a, data).expect("write");
    a
}

/// Deterministic pseudo-random numbers.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn u32(&mut self) -> u32 {
        (self.next() >> 16) as u32
    }
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next() % n as u64) as u32
    }
}

/// fp16 bits of an f64 rounded to nearest even, correctly (the `half` crate's `from_f64` rounds
/// twice, through f32).
pub fn f16_rne(x: f64) -> u16 {
    if x.is_nan() {
        return 0x7e00;
    }
    let sign = if x.is_sign_negative() { 0x8000u16 } else { 0 };
    let a = x.abs();
    if a == 0.0 {
        return sign;
    }
    if a.is_infinite() {
        return sign | 0x7c00;
    }
    let e = ((a.to_bits() >> 52) as i32 - 1023).max(-14);
    let quantum = 2f64.powi(e - 10);
    let q = (a / quantum).round_ties_even();
    let v = q * quantum;
    if v >= 65520.0 {
        return sign | 0x7c00;
    }
    sign | half::f16::from_f64(v).to_bits()
}

/// Thread 0 of CTA b reads data[b] and writes data[b + 1] = data[b] + b: each CTA reads what the
/// one before it wrote (the CTA-order rule, `device.rs`).
pub const CHAIN: &str = "
.kernel chain
.param ptr data
    S2R R0, SR_TID.X ;
    ISETP.NE.AND P0, PT, R0, RZ, PT ;
    @P0 EXIT ;
    S2R R1, SR_CTAID.X ;
    MOV R2, c[0x0][0x160] ;
    MOV R3, c[0x0][0x164] ;
    IMAD.WIDE.U32 R4, R1, 0x4, R2 ;
    LDG.E.SYS R6, [R4] ;
    IADD3 R6, R6, R1, RZ ;
    STG.E.SYS [R4+0x4], R6 ;
    EXIT ;
";
