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
    /// Watchdog: the most warp-instructions one launch may execute (`None` = no limit; default
    /// [`DEFAULT_MAX_INSTRUCTIONS`]). The count runs over the CTAs in CTA order, so the fault is
    /// the same for any thread count.
    pub max_instructions: Option<u64>,
    /// Watchdog per CTA: the most issue cycles one CTA may take (`None` = no limit; default
    /// [`DEFAULT_MAX_CYCLES`]). The functional core issues one warp-instruction per cycle per
    /// CTA (the clock `SR_CLOCKLO` reads), so this bounds the warp-instructions of each CTA; a
    /// cycle model may apply its own, finer notion of cycles to the same field. It also bounds
    /// the cycle model's trace of one CTA, which is held until the CTA completes.
    pub max_cycles: Option<u64>,
    /// Watchdog: the most wall-clock seconds one launch may run (`None` = no limit; default
    /// [`DEFAULT_MAX_SECONDS`]). Unlike the two counts, where it fires depends on the host.
    pub max_seconds: Option<f64>,
    /// Watchdog of the cycle model's memory: the most bytes of CTA traces it may hold (`None` =
    /// no limit; default [`DEFAULT_MAX_TRACE_BYTES`]). Each CTA's recording may take this over
    /// the number of CTAs the model's GPU holds at once (at most the grid); a CTA that records
    /// more stops with a watchdog fault at the first warp slice past it, so the fault is the same
    /// for any thread count. The co-simulation (`cosim`) records one chunk per warp at a time
    /// and so stays far below it (docs/timing.md "Bounding it").
    pub max_trace_bytes: Option<u64>,
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
    /// Feed the cycle model each CTA's events in parts of this many per warp, each when the
    /// model's SM asks for it (0 = whole CTAs, the default). Statistics never depend on it: it
    /// checks the model's suspend point for the co-simulation (`otc_timing::Simulator::set_segment_events`).
    pub timing_segment: usize,
    /// Co-simulation (docs/timing.md "Bounding it"): with timing on, the model reads each warp's
    /// events while the CTAs run, so that what it holds per CTA does not grow with the kernel's
    /// length (off by default: whole CTAs, the L2 seeing them in CTA order; see the docs for
    /// what it costs today). Results never depend on it.
    pub cosim: bool,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            tensor_arith: TensorArith::V100,
            num_sms: 80,
            max_shared_per_cta: 48 * 1024,
            max_instructions: Some(DEFAULT_MAX_INSTRUCTIONS),
            max_cycles: Some(DEFAULT_MAX_CYCLES),
            max_seconds: Some(DEFAULT_MAX_SECONDS),
            max_trace_bytes: Some(DEFAULT_MAX_TRACE_BYTES),
            threads: None,
            default_local_bytes: 1024,
            stack_bytes: 1024,
            parallel_batch: 0,
            timing: Some(otc_timing::TimingConfig::v100()),
            timing_segment: 0,
            cosim: false,
        }
    }
}

/// Default launch watchdog: 2^40 warp-instructions (hours of emulation; a bound, not a budget).
pub const DEFAULT_MAX_INSTRUCTIONS: u64 = 1 << 40;
/// Default CTA watchdog: 2^26 (67 million) issue cycles, more than ten times what one CTA of a
/// GEMM with K = 65536 issues, and about a second of emulation (a few with the cycle model).
pub const DEFAULT_MAX_CYCLES: u64 = 1 << 26;
/// Default wall-clock watchdog: one hour per launch.
pub const DEFAULT_MAX_SECONDS: f64 = 3600.0;
/// Default bound of the cycle model's trace memory: 2 GiB (the model adds about 56 MiB to a 4096^3
/// owmma GEMM;
/// a kernel whose trace does not compress about 80 bytes per warp per scattered load).
pub const DEFAULT_MAX_TRACE_BYTES: u64 = 2 << 30;

/// What a device setting takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingKind {
    /// `v100` or `ieee` (any case).
    Arith,
    /// An integer in `min..=max`.
    Int { min: u64, max: u64 },
    /// An integer in `min..=max`, or none (no limit, automatic).
    OptInt { min: u64, max: u64 },
    /// A number of seconds in (0, [`MAX_SETTING_SECONDS`]], or none (no limit).
    OptSeconds,
    /// On or off.
    Bool,
}

/// The longest wall-clock limit a setting takes (a leap year).
pub const MAX_SETTING_SECONDS: f64 = 366.0 * 86400.0;

impl SettingKind {
    /// What a value must be, for messages (`an integer in 1..=4096`).
    pub fn describe(self) -> String {
        match self {
            SettingKind::Arith => "'v100' or 'ieee'".into(),
            SettingKind::Int { min, max } => format!("an integer in {min}..={max}"),
            SettingKind::OptInt { min, max } => format!("an integer in {min}..={max} or None"),
            SettingKind::OptSeconds => format!("a number of seconds in (0, {MAX_SETTING_SECONDS}] or None"),
            SettingKind::Bool => "True or False".into(),
        }
    }
}

/// One setting of [`DeviceConfig`] by name (the binding's `Device(**settings)`, the `[device]`
/// table of a configuration file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub kind: SettingKind,
    pub help: &'static str,
}

/// A setting's value as given.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingValue {
    Int(u64),
    Seconds(f64),
    /// No value (`None`).
    Unset,
    Str(String),
    Bool(bool),
}

/// Every setting of [`DeviceConfig`], with its range and meaning.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "tensor_arith",
        kind: SettingKind::Arith,
        help: "tensor-core arithmetic: 'v100' (bit-exact V100 model) or 'ieee'",
    },
    Setting { name: "num_sms", kind: SettingKind::Int { min: 1, max: 4096 }, help: "number of SMs" },
    Setting {
        name: "max_shared_per_cta",
        // each running CTA holds its shared memory on the host: 16 MiB at most (a V100 has 96 KiB)
        kind: SettingKind::Int { min: 0, max: 16 << 20 },
        help: "most shared memory per CTA, bytes",
    },
    Setting {
        name: "max_instructions",
        kind: SettingKind::OptInt { min: 1, max: u64::MAX },
        help: "watchdog: most warp-instructions per launch (default 2**40; None = no limit)",
    },
    Setting {
        name: "max_cycles",
        kind: SettingKind::OptInt { min: 1, max: u64::MAX },
        help: "watchdog: most issue cycles (warp-instructions) per CTA (default 2**26; None = no limit)",
    },
    Setting {
        name: "max_seconds",
        kind: SettingKind::OptSeconds,
        help: "watchdog: most wall-clock seconds per launch (default 3600; None = no limit)",
    },
    Setting {
        name: "max_trace_bytes",
        kind: SettingKind::OptInt { min: 1, max: u64::MAX },
        help: "watchdog: most bytes of CTA traces the cycle model holds, shared among the CTAs it holds at once \
               (default 2**31; None = no limit)",
    },
    Setting {
        name: "threads",
        kind: SettingKind::OptInt { min: 1, max: 4096 },
        help: "host threads running CTAs (None = all cores); results never depend on it",
    },
    Setting {
        name: "default_local_bytes",
        kind: SettingKind::Int { min: 0, max: 1 << 24 },
        help: "local memory per thread when the kernel does not say, bytes",
    },
    Setting {
        name: "stack_bytes",
        kind: SettingKind::Int { min: 0, max: 1 << 24 },
        help: "stack per thread added to local memory, bytes",
    },
    Setting {
        name: "parallel_batch",
        kind: SettingKind::Int { min: 0, max: 1 << 20 },
        help: "CTAs run speculatively in parallel per round (0 = automatic); speed only",
    },
    Setting {
        name: "timing",
        kind: SettingKind::Bool,
        help: "run the cycle model beside every launch (True, default) or not (False); results never change",
    },
    Setting {
        name: "timing_segment",
        kind: SettingKind::Int { min: 0, max: 1 << 30 },
        help: "feed the cycle model each CTA's events in parts of this many per warp, as its SMs ask (0 = whole \
               CTAs); a check of the co-simulation, statistics never change",
    },
    Setting {
        name: "cosim",
        kind: SettingKind::Bool,
        help: "co-simulate: the cycle model reads each warp's events while the CTAs run (True) instead of whole \
               CTAs (False, default); results never change, statistics through the L2 order",
    },
];

impl DeviceConfig {
    /// Set one setting of [`SETTINGS`] by name. `Err` says what the setting takes (the value has
    /// the wrong kind or is out of range) or, for an unknown name, lists the settings.
    /// `timing = true` keeps the configured description (the V100's if there was none).
    pub fn set_setting(&mut self, name: &str, value: SettingValue) -> Result<(), String> {
        let Some(setting) = SETTINGS.iter().find(|s| s.name == name) else {
            let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
            return Err(format!("one of the settings {}", names.join(", ")));
        };
        let want = || Err(setting.kind.describe());
        let int = |v: &SettingValue| match (v, setting.kind) {
            (&SettingValue::Int(n), SettingKind::Int { min, max } | SettingKind::OptInt { min, max })
                if (min..=max).contains(&n) =>
            {
                Some(n)
            }
            _ => None,
        };
        let opt = |v: &SettingValue| match v {
            SettingValue::Unset if matches!(setting.kind, SettingKind::OptInt { .. }) => Some(None),
            v => int(v).map(Some),
        };
        match (name, &value) {
            ("tensor_arith", SettingValue::Str(s)) => match s.to_ascii_lowercase().as_str() {
                "v100" => self.tensor_arith = TensorArith::V100,
                "ieee" => self.tensor_arith = TensorArith::Ieee,
                _ => return want(),
            },
            ("timing", SettingValue::Bool(on)) => {
                self.timing =
                    if *on { self.timing.take().or_else(|| Some(otc_timing::TimingConfig::v100())) } else { None }
            }
            ("num_sms", v) => self.num_sms = int(v).ok_or_else(|| setting.kind.describe())? as u32,
            ("max_shared_per_cta", v) => {
                self.max_shared_per_cta = int(v).ok_or_else(|| setting.kind.describe())? as u32
            }
            ("max_instructions", v) => self.max_instructions = opt(v).ok_or_else(|| setting.kind.describe())?,
            ("max_cycles", v) => self.max_cycles = opt(v).ok_or_else(|| setting.kind.describe())?,
            ("max_trace_bytes", v) => self.max_trace_bytes = opt(v).ok_or_else(|| setting.kind.describe())?,
            ("max_seconds", SettingValue::Unset) => self.max_seconds = None,
            ("max_seconds", &SettingValue::Seconds(x)) if x > 0.0 && x <= MAX_SETTING_SECONDS => {
                self.max_seconds = Some(x)
            }
            ("threads", v) => self.threads = opt(v).ok_or_else(|| setting.kind.describe())?.map(|n| n as usize),
            ("default_local_bytes", v) => {
                self.default_local_bytes = int(v).ok_or_else(|| setting.kind.describe())? as u32
            }
            ("stack_bytes", v) => self.stack_bytes = int(v).ok_or_else(|| setting.kind.describe())? as u32,
            ("parallel_batch", v) => self.parallel_batch = int(v).ok_or_else(|| setting.kind.describe())? as usize,
            ("cosim", SettingValue::Bool(on)) => self.cosim = *on,
            ("timing_segment", v) => self.timing_segment = int(v).ok_or_else(|| setting.kind.describe())? as usize,
            _ => return want(),
        }
        Ok(())
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
/// Number of constant banks (`c[0x0]` .. `c[0x11]`).
pub const CONST_BANKS: usize = 18;

/// Generic addressing (the `LD`/`ST`/`ATOM` of `-G` code): the CTA's shared memory and the
/// thread's local memory appear as 16 MiB windows at these 64-bit bases, which a launch puts in
/// `c[0x0][0x18]` and `c[0x0][0x20]` as the CUDA driver does; every other address is global.
/// They lie far above any global allocation (`memory::GLOBAL_BASE` upwards).
pub const SHARED_WINDOW: u64 = 0x0000_7e00_0000_0000;
/// See [`SHARED_WINDOW`].
pub const LOCAL_WINDOW: u64 = 0x0000_7f00_0000_0000;
/// Size of each generic window.
pub const WINDOW_BYTES: u64 = 1 << 24;
/// The generic address of byte 0 of constant bank 3 (the module's `__constant__` data), which a
/// launch puts in `c[0x0][0x50]` as the CUDA driver does: nvcc 11.8 builds `&const_array` as
/// `c[0x0][0x50..0x58] + offset` when it cannot turn the access into an `LDC`
/// (tests/fixtures/cuda/const_generic.cu). Generic loads there read the bank; stores and atomics
/// fault (the emulator keeps the bank read-only). The window spans a whole bank (64 KiB).
pub const CONST_WINDOW: u64 = 0x0000_7d00_0000_0000;
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
    /// Constant-bank images `(bank, bytes from offset 0)` the kernel sees at launch (nvcc's
    /// literals in bank 2, `__constant__` data in bank 3, read from a cubin), except in banks
    /// that [`crate::Device::write_constant`] wrote.
    pub constants: Vec<(u8, Vec<u8>)>,
    /// How the code reaches the module's `__device__` variables, for the hint on a fault near
    /// address 0 (a listing without its cubin leaves their addresses 0x0).
    pub globals: GlobalsLink,
}

/// Whether a kernel's code had the addresses of `__device__` variables patched in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GlobalsLink {
    /// The code has no relocations against globals that the program knows of (a listing
    /// alone: its `MOV Rn, 0x0` may still be unpatched addresses).
    #[default]
    Unknown,
    /// The code has this many relocations against globals, patched with their addresses.
    Linked(usize),
    /// The code has this many relocations against globals but the program has no global
    /// segment to resolve them: they were patched with 0.
    Unresolved(usize),
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
            constants: Vec::new(),
            globals: GlobalsLink::Unknown,
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
            constants: k.constants.iter().map(|c| (c.bank, c.data.clone())).collect(),
            globals: GlobalsLink::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_check_kind_and_range() {
        let cases: &[(&str, SettingValue, Result<(), &str>)] = &[
            ("num_sms", SettingValue::Int(40), Ok(())),
            ("num_sms", SettingValue::Int(0), Err("an integer in 1..=4096")),
            ("num_sms", SettingValue::Unset, Err("an integer in 1..=4096")),
            ("threads", SettingValue::Unset, Ok(())),
            ("threads", SettingValue::Int(5000), Err("an integer in 1..=4096 or None")),
            ("tensor_arith", SettingValue::Str("IEEE".into()), Ok(())),
            ("tensor_arith", SettingValue::Str("fp8".into()), Err("'v100' or 'ieee'")),
            ("timing", SettingValue::Bool(false), Ok(())),
            ("timing", SettingValue::Int(1), Err("True or False")),
        ];
        for (name, value, want) in cases {
            let mut c = DeviceConfig::default();
            let got = c.set_setting(name, value.clone());
            assert_eq!(got.as_ref().map(|_| ()).map_err(String::as_str), *want, "{name} {value:?}");
        }
        let mut c = DeviceConfig::default();
        c.set_setting("threads", SettingValue::Int(2)).unwrap();
        c.set_setting("tensor_arith", SettingValue::Str("ieee".into())).unwrap();
        c.set_setting("timing", SettingValue::Bool(false)).unwrap();
        assert_eq!((c.threads, c.tensor_arith, c.timing.is_none()), (Some(2), TensorArith::Ieee, true));
        assert!(c.set_setting("num_smz", SettingValue::Int(1)).unwrap_err().contains("num_sms"));
        assert_eq!(SETTINGS.len(), SETTINGS.iter().map(|s| s.name).collect::<std::collections::BTreeSet<_>>().len());
    }
}
