//! Device configuration and kernel images: the inputs of a launch.

use otc_numerics::TensorArith;

/// Configuration of the emulated device. `Default` is a V100 (SXM2): 80 SMs, 48 KiB of shared
/// memory per CTA without opt-in (the carve-out allows up to 96 KiB: set `max_shared_per_cta`
/// to 98304 to allow that), bit-exact V100 tensor-core arithmetic, and the cycle model on with
/// the V100 description. (Not `Eq`: the timing description holds floating-point values.)
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceConfig {
    /// Arithmetic of the tensor cores (`HMMA`): the bit-exact V100 model or ideal IEEE.
    pub tensor_arith: TensorArith,
    /// Number of SMs. CTAs are assigned to SMs round-robin in CTA order (`SR_SMID` and
    /// `SR_VIRTUALSMID` read `linear CTA index % num_sms`); results never depend on it.
    pub num_sms: u32,
    /// Most shared memory (static + dynamic) one CTA may use, in bytes.
    pub max_shared_per_cta: u32,
    /// Watchdog: the most warp-instructions one launch may execute (`None` = no limit). The
    /// count runs over the CTAs in CTA order, so the fault is the same for any thread count.
    pub max_instructions: Option<u64>,
    /// Watchdog per CTA: the most issue cycles one CTA may take (`None` = no limit). The
    /// functional core issues one warp-instruction per cycle per CTA (the clock `SR_CLOCKLO`
    /// reads), so this bounds the warp-instructions of each CTA; a cycle model may apply its
    /// own, finer notion of cycles to the same field.
    pub max_cycles: Option<u64>,
    /// Host threads that run CTAs in parallel (`None` = rayon's default). Results and
    /// statistics are identical for every value.
    pub threads: Option<usize>,
    /// Local memory per thread (bytes) when the kernel does not say (`KernelImage::local_bytes`
    /// is `None`).
    pub default_local_bytes: u32,
    /// Stack per thread (bytes, like `cudaLimitStackSize`), added to the kernel's local
    /// memory: a thread's local window is `local_bytes + stack_bytes` and the stack pointer
    /// `c[0x0][0x28]` starts at its top (nvcc's frames and spills grow down from there).
    pub stack_bytes: u32,
    /// Number of CTAs run speculatively in parallel per round (0 = 8 per host thread). Only
    /// affects speed.
    pub parallel_batch: usize,
    /// The cycle model (`otc-timing`) run beside every launch: `None` = off. When on, each warp's
    /// issued instructions are recorded and the committed CTAs are fed, in linear CTA order, to
    /// an `otc_timing::Simulator` with this description; [`crate::Device::launch_timed`] returns
    /// its statistics. Timing never changes a result, only how long a launch takes to emulate.
    /// The model places CTAs on its own `gpu.num_sms` SMs (independent of `num_sms`, which is
    /// what the program sees in `SR_SMID` and `c[0x0][0x10c]`).
    pub timing: Option<otc_timing::TimingConfig>,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            tensor_arith: TensorArith::V100,
            num_sms: 80,
            max_shared_per_cta: 48 * 1024,
            max_instructions: None,
            max_cycles: None,
            threads: None,
            default_local_bytes: 1024,
            stack_bytes: 1024,
            parallel_batch: 0,
            timing: Some(otc_timing::TimingConfig::v100()),
        }
    }
}

/// Shared memory of one V100 SM that a CTA can be given at most (the 96 KiB carve-out).
pub const V100_MAX_SHARED_PER_CTA: u32 = 96 * 1024;
/// Largest CTA.
pub const MAX_THREADS_PER_CTA: u32 = 1024;
/// Registers per SM.
pub const REGISTERS_PER_SM: u32 = 65536;
/// Largest parameter block (bytes) of a kernel launch.
pub const MAX_PARAM_BYTES: u32 = 4096;
/// Offset of the first kernel parameter in constant bank 0.
pub const PARAM_BASE: u32 = 0x160;
/// Size of constant bank 0 as the emulator lays it out (64 KiB as on sm_70).
pub const CONST_BANK_BYTES: u32 = 64 * 1024;

/// A kernel ready to launch: its code and what a launch needs to know about it. The Python
/// binding builds it from the assembler's `Program` (`otc_asm::Kernel`).
///
/// The program counter is the byte offset of an instruction (`index * 16`); branch targets in
/// `Value::Imm` operands are byte offsets from the start of the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelImage {
    pub name: String,
    pub instructions: Vec<otc_isa::Instruction>,
    /// Registers per thread (R0..R{num_regs-1}); touching a register beyond is a guest fault.
    pub num_regs: u32,
    /// Static shared memory per CTA (`None` = unknown: the CTA gets the configured maximum).
    pub shared_bytes: Option<u32>,
    /// Local memory per thread (`None` = `DeviceConfig::default_local_bytes`).
    pub local_bytes: Option<u32>,
    /// Size of the parameter block (`None` = unknown: any size up to 4 KiB is accepted).
    pub param_bytes: Option<u32>,
}

impl KernelImage {
    /// A kernel with the given code and 255 registers, everything else unknown.
    pub fn new(name: impl Into<String>, instructions: Vec<otc_isa::Instruction>) -> Self {
        KernelImage {
            name: name.into(),
            instructions,
            num_regs: 255,
            shared_bytes: None,
            local_bytes: None,
            param_bytes: None,
        }
    }
}

impl From<&otc_asm::Kernel> for KernelImage {
    /// The launch image of an assembled kernel (its code and declared resources).
    fn from(k: &otc_asm::Kernel) -> Self {
        KernelImage {
            name: k.name.clone(),
            instructions: k.instructions.clone(),
            num_regs: k.num_regs,
            shared_bytes: k.shared_bytes,
            local_bytes: k.local_bytes,
            param_bytes: k.param_bytes(),
        }
    }
}
