//! Machine configuration: [`TimingConfig`], loaded from TOML (`configs/v100.toml` is the
//! documented default) and changed key by key with dotted names.
//!
//! Every key has a fixed type. Loading or [`TimingConfig::set`] rejects an unknown key, a value
//! of the wrong type and an out-of-range value with an error that names the key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use otc_isa::{TensorClass, FORMS};

use crate::trace::{unit_index, NUM_UNITS, UNIT_NAMES};

/// The shipped V100 description (every key, documented).
pub const V100_TOML: &str = include_str!("../configs/v100.toml");

/// The machine descriptions shipped with otc-emu: (name, one-line description, TOML text). A
/// machine's text gives the keys that differ from `v100` (which gives every key).
pub const MACHINES: &[(&str, &str, &str)] = &[
    ("v100", "the V100 (sm_70) with outer-product tensor cores, Volta-faithful (the default)", V100_TOML),
    (
        "dstc-paper",
        "the DSTC paper's evaluation premises, as Accel-Sim's QV100 of 2020 had them: half-rate HMMA \
         (latency 8, interval 4), predicated-off tensor instructions removed before issue, one LD/ST unit \
         per SM, cores and L2 at 1132 MHz",
        include_str!("../configs/dstc-paper.toml"),
    ),
];

/// Errors of configuration loading and overrides. Each names the offending key.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key `{key}`{hint}")]
    UnknownKey { key: String, hint: String },
    #[error("configuration key `{key}`: expected {expected}, got {got}")]
    WrongType { key: String, expected: &'static str, got: String },
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("configuration key `{key}` is missing")]
    Missing { key: String },
    #[error("configuration is not valid TOML: {0}")]
    Syntax(String),
    #[error("unknown machine `{name}` (machines: {known})")]
    UnknownMachine { name: String, known: String },
}

impl ConfigError {
    /// The key the error is about (None for a TOML syntax error).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::Invalid { key, .. }
            | ConfigError::Missing { key } => Some(key),
            ConfigError::Syntax(_) | ConfigError::UnknownMachine { .. } => None,
        }
    }
}

/// A configuration value, as given to [`TimingConfig::set`] or read by [`TimingConfig::get`].
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    List(Vec<ConfigValue>),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Int(v) => write!(f, "{v}"),
            ConfigValue::Float(v) => write!(f, "{v:?}"),
            ConfigValue::Bool(v) => write!(f, "{v}"),
            ConfigValue::Str(s) => write!(f, "\"{s}\""),
            ConfigValue::List(l) => {
                write!(f, "[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
        }
    }
}

impl ConfigValue {
    fn describe(&self) -> String {
        match self {
            ConfigValue::Int(v) => format!("integer {v}"),
            ConfigValue::Float(v) => format!("float {v}"),
            ConfigValue::Bool(v) => format!("boolean {v}"),
            ConfigValue::Str(s) => format!("string \"{s}\""),
            ConfigValue::List(_) => "an array".into(),
        }
    }

    fn from_toml(v: &toml::Value) -> Option<ConfigValue> {
        Some(match v {
            toml::Value::Integer(i) => ConfigValue::Int(*i),
            toml::Value::Float(x) => ConfigValue::Float(*x),
            toml::Value::Boolean(b) => ConfigValue::Bool(*b),
            toml::Value::String(s) => ConfigValue::Str(s.clone()),
            toml::Value::Array(a) => ConfigValue::List(a.iter().map(ConfigValue::from_toml).collect::<Option<_>>()?),
            _ => return None,
        })
    }
}

macro_rules! from_impls {
    ($($t:ty => $variant:ident as $conv:ty),*) => {$(
        impl From<$t> for ConfigValue {
            fn from(v: $t) -> Self { ConfigValue::$variant(v as $conv) }
        }
    )*};
}
from_impls!(i32 => Int as i64, i64 => Int as i64, u32 => Int as i64, u64 => Int as i64, usize => Int as i64, f64 => Float as f64, f32 => Float as f64);
impl From<bool> for ConfigValue {
    fn from(v: bool) -> Self {
        ConfigValue::Bool(v)
    }
}
impl From<&str> for ConfigValue {
    fn from(v: &str) -> Self {
        ConfigValue::Str(v.to_string())
    }
}
impl From<String> for ConfigValue {
    fn from(v: String) -> Self {
        ConfigValue::Str(v)
    }
}
impl From<Vec<u32>> for ConfigValue {
    fn from(v: Vec<u32>) -> Self {
        ConfigValue::List(v.into_iter().map(|x| ConfigValue::Int(x as i64)).collect())
    }
}
impl From<CtaDispatch> for ConfigValue {
    fn from(v: CtaDispatch) -> Self {
        ConfigValue::Str(v.name().into())
    }
}
impl From<SchedulerPolicy> for ConfigValue {
    fn from(v: SchedulerPolicy) -> Self {
        ConfigValue::Str(v.name().into())
    }
}

trait FromConfig: Sized {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError>;
}

fn wrong(key: &str, expected: &'static str, v: &ConfigValue) -> ConfigError {
    ConfigError::WrongType { key: key.into(), expected, got: v.describe() }
}

impl FromConfig for u32 {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError> {
        match v {
            ConfigValue::Int(i) if (0..=u32::MAX as i64).contains(i) => Ok(*i as u32),
            _ => Err(wrong(key, "a non-negative integer (32-bit)", v)),
        }
    }
}
impl FromConfig for u64 {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError> {
        match v {
            ConfigValue::Int(i) if *i >= 0 => Ok(*i as u64),
            _ => Err(wrong(key, "a non-negative integer", v)),
        }
    }
}
impl FromConfig for f64 {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError> {
        match v {
            ConfigValue::Float(x) if x.is_finite() => Ok(*x),
            ConfigValue::Int(i) => Ok(*i as f64),
            _ => Err(wrong(key, "a number", v)),
        }
    }
}
impl FromConfig for bool {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError> {
        match v {
            ConfigValue::Bool(b) => Ok(*b),
            _ => Err(wrong(key, "a boolean", v)),
        }
    }
}
impl FromConfig for String {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError> {
        match v {
            ConfigValue::Str(s) => Ok(s.clone()),
            _ => Err(wrong(key, "a string", v)),
        }
    }
}
impl FromConfig for Vec<u32> {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError> {
        match v {
            ConfigValue::List(l) => l
                .iter()
                .map(|x| u32::from_config(key, x).map_err(|_| wrong(key, "an array of non-negative integers", v)))
                .collect(),
            _ => Err(wrong(key, "an array of non-negative integers", v)),
        }
    }
}
impl FromConfig for SchedulerPolicy {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError> {
        named(
            key,
            v,
            "policy",
            "a string (\"gto\" or \"lrr\")",
            &[("gto", SchedulerPolicy::Gto), ("lrr", SchedulerPolicy::Lrr)],
        )
    }
}

impl FromConfig for CtaDispatch {
    fn from_config(key: &str, v: &ConfigValue) -> Result<Self, ConfigError> {
        let choices = [("static", CtaDispatch::Static), ("dynamic", CtaDispatch::Dynamic)];
        named(key, v, "CTA dispatch", "a string (\"static\" or \"dynamic\")", &choices)
    }
}

/// A value given by one of the names in `choices` (any case); `what` names the kind of value in
/// the error, `expected` describes a value of the right type.
fn named<T: Copy>(
    key: &str,
    v: &ConfigValue,
    what: &str,
    expected: &'static str,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let ConfigValue::Str(s) = v else { return Err(wrong(key, expected, v)) };
    let lower = s.to_ascii_lowercase();
    choices.iter().find(|(name, _)| *name == lower).map(|&(_, value)| value).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|&(name, _)| name).collect();
        ConfigError::Invalid { key: key.into(), message: format!("`{s}` is not a {what}: {}", names.join(" or ")) }
    })
}

/// How CTAs are placed on SMs (`gpu.cta_dispatch`; docs/timing.md section 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CtaDispatch {
    /// The i-th CTA goes to SM `i % num_sms`.
    #[default]
    Static,
    /// The next CTA goes to the SM that has room for it first (ties: round-robin after the SM
    /// that got the previous CTA), as the hardware's and GPGPU-Sim's dispatcher does.
    Dynamic,
}

impl CtaDispatch {
    pub fn name(self) -> &'static str {
        match self {
            CtaDispatch::Static => "static",
            CtaDispatch::Dynamic => "dynamic",
        }
    }
}

/// Warp scheduling policy of each sub-core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchedulerPolicy {
    /// Greedy-then-oldest: keep issuing from the last warp while it can, else the oldest ready.
    Gto,
    /// Loose round-robin: the next ready warp after the last one issued.
    Lrr,
}

impl SchedulerPolicy {
    pub fn name(self) -> &'static str {
        match self {
            SchedulerPolicy::Gto => "gto",
            SchedulerPolicy::Lrr => "lrr",
        }
    }
}

/// Latency and initiation interval of a pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UnitTiming {
    pub latency: u32,
    pub ii: u32,
}

/// Per-mnemonic override (`ops.<MNEMONIC>.latency`, `.ii`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OpOverride {
    pub latency: Option<u32>,
    pub ii: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct GpuConfig {
    pub name: String,
    pub num_sms: u32,
    pub clock_mhz: f64,
    pub cta_dispatch: CtaDispatch,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct SmConfig {
    pub sub_cores: u32,
    pub max_warps: u32,
    pub max_threads: u32,
    pub max_ctas: u32,
    pub max_threads_per_cta: u32,
    pub registers: u32,
    pub reg_alloc_unit: u32,
    pub max_shared_bytes: u32,
    pub shared_alloc_unit: u32,
    pub l1_shared_bytes: u32,
    pub shared_carveouts_kb: Vec<u32>,
    pub cta_launch_cycles: u32,
    pub barrier_cycles: u32,
    pub branch_refill_cycles: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    pub policy: SchedulerPolicy,
    pub use_control_bits: bool,
    pub collector_units: u32,
    pub drop_predicated_off_tensor: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            policy: SchedulerPolicy::Gto,
            use_control_bits: false,
            collector_units: 0,
            drop_predicated_off_tensor: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct RegfileConfig {
    pub banks: u32,
    pub reads_per_bank: u32,
}

/// Pipelines by unit (the tensor unit is configured in [`TensorConfig`]).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct UnitsConfig {
    pub int: UnitTiming,
    pub fp32: UnitTiming,
    pub fp16: UnitTiming,
    pub fp64: UnitTiming,
    pub sfu: UnitTiming,
    pub conv: UnitTiming,
    pub mem: UnitTiming,
    pub branch: UnitTiming,
    pub misc: UnitTiming,
}

/// What one tensor class costs (`[tensor.<class>]`, the class name after `tensor.`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TensorCost {
    /// Tensor-unit cycles of an executed instruction.
    pub cycles: u32,
    /// Cycles from the start of execution to the result (for the classes whose `costs` list it).
    pub latency: u32,
    /// Multiply-accumulates one instruction issues (`tensor.macs_*` counters).
    pub macs: u32,
}

/// The most accumulation buffers a warp context can address (`.BUF1`..`.BUF3`, isa/otc.toml).
pub const MAX_ACCBUFS_PER_WARP: u32 = 4;

/// The fields of a `[tensor.<class>]` table.
pub const TENSOR_COST_FIELDS: [&str; 3] = ["cycles", "latency", "macs"];

impl TensorCost {
    fn field(&self, name: &str) -> u32 {
        match name {
            "cycles" => self.cycles,
            "latency" => self.latency,
            _ => self.macs,
        }
    }

    fn field_mut(&mut self, name: &str) -> &mut u32 {
        match name {
            "cycles" => &mut self.cycles,
            "latency" => &mut self.latency,
            _ => &mut self.macs,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct TensorConfig {
    /// Costs by class (`TensorClass as usize`).
    pub classes: [TensorCost; TensorClass::COUNT],
    pub skipped_cycles: u32,
    pub accumulator_forwarding: bool,
    pub spwmma_sequencer: bool,
    /// Accumulation buffers per warp context (1..=4): the `.BUFn` index of the ACCB instructions,
    /// the sparse OHMMA and the sequenced SpWMMA must stay below it.
    pub accbufs_per_warp: u32,
}

impl TensorConfig {
    /// The costs of a tensor class.
    #[inline]
    pub fn cost(&self, class: TensorClass) -> TensorCost {
        self.classes[class as usize]
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct AccbufConfig {
    pub bank_rows: u32,
    pub bank_cols: u32,
    pub ports_per_bank: u32,
    pub collector_window: u32,
    pub latency: u32,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct MemoryConfig {
    pub shared_banks: u32,
    pub shared_bank_bytes: u32,
    pub shared_latency: u32,
    pub line_bytes: u32,
    pub sector_bytes: u32,
    pub l1_latency: u32,
    pub l1_ways: u32,
    pub l1_sectors_per_cycle: u32,
    pub l2_bytes: u64,
    pub l2_ways: u32,
    pub l2_latency: u32,
    pub l2_bandwidth_gbs: f64,
    pub dram_latency: u32,
    pub dram_bandwidth_gbs: f64,
    pub sm_max_bytes_per_cycle: u32,
    pub const_latency: u32,
    pub atomic_latency: u32,
}

/// Most SMs the model simulates (each holds its own L1 and schedulers on the host).
pub const MAX_SMS: u64 = 4096;
/// Largest L2 the model holds (its tags take host memory in proportion).
pub const MAX_L2_BYTES: u64 = 1 << 30;
/// Largest unified L1 / shared memory per SM.
pub const MAX_L1_SHARED_BYTES: u64 = 16 << 20;
/// Most ways of a cache.
pub const MAX_WAYS: u64 = 1024;

/// The whole machine description. See `configs/v100.toml` for every key's meaning, unit and
/// source.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TimingConfig {
    pub gpu: GpuConfig,
    pub sm: SmConfig,
    pub scheduler: SchedulerConfig,
    pub regfile: RegfileConfig,
    pub units: UnitsConfig,
    /// Per-mnemonic overrides, by mnemonic.
    pub ops: BTreeMap<String, OpOverride>,
    pub tensor: TensorConfig,
    pub accbuf: AccbufConfig,
    pub memory: MemoryConfig,
}

macro_rules! keys {
    ($($key:literal => $($f:ident).+ : $t:ty,)*) => {
        /// Every fixed key (the per-class `tensor.<class>.<field>` keys of [`tensor_keys`] and the
        /// per-mnemonic `ops.<MNEMONIC>.latency|ii` keys come in addition).
        pub const KEYS: &[&str] = &[$($key),*];

        impl TimingConfig {
            fn set_fixed(&mut self, key: &str, v: &ConfigValue) -> Option<Result<(), ConfigError>> {
                match key {
                    $($key => Some(<$t as FromConfig>::from_config(key, v).map(|x| self.$($f).+ = x)),)*
                    _ => None,
                }
            }

            fn get_fixed(&self, key: &str) -> Option<ConfigValue> {
                match key {
                    $($key => Some(ConfigValue::from(self.$($f).+.clone())),)*
                    _ => None,
                }
            }
        }
    };
}

keys! {
    "gpu.name" => gpu.name: String,
    "gpu.num_sms" => gpu.num_sms: u32,
    "gpu.clock_mhz" => gpu.clock_mhz: f64,
    "gpu.cta_dispatch" => gpu.cta_dispatch: CtaDispatch,
    "sm.sub_cores" => sm.sub_cores: u32,
    "sm.max_warps" => sm.max_warps: u32,
    "sm.max_threads" => sm.max_threads: u32,
    "sm.max_ctas" => sm.max_ctas: u32,
    "sm.max_threads_per_cta" => sm.max_threads_per_cta: u32,
    "sm.registers" => sm.registers: u32,
    "sm.reg_alloc_unit" => sm.reg_alloc_unit: u32,
    "sm.max_shared_bytes" => sm.max_shared_bytes: u32,
    "sm.shared_alloc_unit" => sm.shared_alloc_unit: u32,
    "sm.l1_shared_bytes" => sm.l1_shared_bytes: u32,
    "sm.shared_carveouts_kb" => sm.shared_carveouts_kb: Vec<u32>,
    "sm.cta_launch_cycles" => sm.cta_launch_cycles: u32,
    "sm.barrier_cycles" => sm.barrier_cycles: u32,
    "sm.branch_refill_cycles" => sm.branch_refill_cycles: u32,
    "scheduler.policy" => scheduler.policy: SchedulerPolicy,
    "scheduler.use_control_bits" => scheduler.use_control_bits: bool,
    "scheduler.collector_units" => scheduler.collector_units: u32,
    "scheduler.drop_predicated_off_tensor" => scheduler.drop_predicated_off_tensor: bool,
    "regfile.banks" => regfile.banks: u32,
    "regfile.reads_per_bank" => regfile.reads_per_bank: u32,
    "units.int.latency" => units.int.latency: u32,
    "units.int.ii" => units.int.ii: u32,
    "units.fp32.latency" => units.fp32.latency: u32,
    "units.fp32.ii" => units.fp32.ii: u32,
    "units.fp16.latency" => units.fp16.latency: u32,
    "units.fp16.ii" => units.fp16.ii: u32,
    "units.fp64.latency" => units.fp64.latency: u32,
    "units.fp64.ii" => units.fp64.ii: u32,
    "units.sfu.latency" => units.sfu.latency: u32,
    "units.sfu.ii" => units.sfu.ii: u32,
    "units.conv.latency" => units.conv.latency: u32,
    "units.conv.ii" => units.conv.ii: u32,
    "units.mem.latency" => units.mem.latency: u32,
    "units.mem.ii" => units.mem.ii: u32,
    "units.branch.latency" => units.branch.latency: u32,
    "units.branch.ii" => units.branch.ii: u32,
    "units.misc.latency" => units.misc.latency: u32,
    "units.misc.ii" => units.misc.ii: u32,
    "tensor.skipped_cycles" => tensor.skipped_cycles: u32,
    "tensor.accumulator_forwarding" => tensor.accumulator_forwarding: bool,
    "tensor.spwmma_sequencer" => tensor.spwmma_sequencer: bool,
    "tensor.accbufs_per_warp" => tensor.accbufs_per_warp: u32,
    "accbuf.bank_rows" => accbuf.bank_rows: u32,
    "accbuf.bank_cols" => accbuf.bank_cols: u32,
    "accbuf.ports_per_bank" => accbuf.ports_per_bank: u32,
    "accbuf.collector_window" => accbuf.collector_window: u32,
    "accbuf.latency" => accbuf.latency: u32,
    "memory.shared_banks" => memory.shared_banks: u32,
    "memory.shared_bank_bytes" => memory.shared_bank_bytes: u32,
    "memory.shared_latency" => memory.shared_latency: u32,
    "memory.line_bytes" => memory.line_bytes: u32,
    "memory.sector_bytes" => memory.sector_bytes: u32,
    "memory.l1_latency" => memory.l1_latency: u32,
    "memory.l1_ways" => memory.l1_ways: u32,
    "memory.l1_sectors_per_cycle" => memory.l1_sectors_per_cycle: u32,
    "memory.l2_bytes" => memory.l2_bytes: u64,
    "memory.l2_ways" => memory.l2_ways: u32,
    "memory.l2_latency" => memory.l2_latency: u32,
    "memory.l2_bandwidth_gbs" => memory.l2_bandwidth_gbs: f64,
    "memory.dram_latency" => memory.dram_latency: u32,
    "memory.dram_bandwidth_gbs" => memory.dram_bandwidth_gbs: f64,
    "memory.sm_max_bytes_per_cycle" => memory.sm_max_bytes_per_cycle: u32,
    "memory.const_latency" => memory.const_latency: u32,
    "memory.atomic_latency" => memory.atomic_latency: u32,
}

/// `tensor.<class>.<field>`: the tensor class and its cost field.
fn tensor_key(key: &str) -> Option<(TensorClass, &str)> {
    let (class, field) = key.strip_prefix("tensor.")?.split_once('.')?;
    let class = TensorClass::ALL.into_iter().find(|c| c.name() == class)?;
    TENSOR_COST_FIELDS.contains(&field).then_some((class, field))
}

/// The per-class keys the model reads (`tensor.ohmma_f32.cycles`, ...), in class order: every
/// class has `cycles`; `latency` and `macs` where its timing reads them ([`TensorClass::costs`],
/// declared in `isa/*.toml`).
pub fn tensor_keys() -> Vec<String> {
    TensorClass::ALL
        .into_iter()
        .flat_map(|c| c.costs().iter().map(move |f| format!("tensor.{}.{f}", c.name())))
        .collect()
}

/// Every key a complete configuration gives: [`KEYS`] and [`tensor_keys`].
pub fn all_keys() -> Vec<String> {
    KEYS.iter().map(|k| k.to_string()).chain(tensor_keys()).collect()
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, ConfigValue)>) -> Result<(), ConfigError> {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out)?,
            other => match ConfigValue::from_toml(other) {
                Some(cv) => out.push((key, cv)),
                None => {
                    return Err(ConfigError::WrongType {
                        key,
                        expected: "a number, boolean, string or array",
                        got: other.type_str().into(),
                    })
                }
            },
        }
    }
    Ok(())
}

fn suggest(key: &str) -> String {
    // The closest known key by a shared prefix section, for the error message.
    let section = key.split('.').next().unwrap_or("");
    let same: Vec<&str> = KEYS.iter().copied().filter(|k| k.split('.').next() == Some(section)).collect();
    if same.is_empty() {
        let sections: BTreeSet<&str> = KEYS.iter().map(|k| k.split('.').next().unwrap_or("")).collect();
        format!(" (sections: {}, ops)", sections.into_iter().collect::<Vec<_>>().join(", "))
    } else {
        let tables = if section == "tensor" {
            let names: Vec<&str> = TensorClass::ALL.iter().map(|c| c.name()).collect();
            format!(
                "; tables [tensor.<class>] with {} for the classes {}",
                TENSOR_COST_FIELDS.join(", "),
                names.join(", ")
            )
        } else {
            String::new()
        };
        format!(
            " (keys of [{section}]: {}{tables})",
            same.iter().map(|k| &k[section.len() + 1..]).collect::<Vec<_>>().join(", ")
        )
    }
}

impl TimingConfig {
    /// The shipped V100 description (`configs/v100.toml`).
    pub fn v100() -> TimingConfig {
        static V100: OnceLock<TimingConfig> = OnceLock::new();
        V100.get_or_init(|| {
            let mut c = TimingConfig::default();
            c.load(V100_TOML, true).unwrap_or_else(|e| panic!("configs/v100.toml: {e}"));
            c
        })
        .clone()
    }

    /// The shipped machine `name` ([`MACHINES`]): the V100 description with the machine's keys.
    pub fn machine(name: &str) -> Result<TimingConfig, ConfigError> {
        match MACHINES.iter().find(|(n, _, _)| *n == name) {
            Some((_, _, text)) => TimingConfig::from_toml_str(text),
            None => Err(ConfigError::UnknownMachine {
                name: name.into(),
                known: MACHINES.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// A configuration from TOML text: the V100 description with the keys the text gives.
    pub fn from_toml_str(text: &str) -> Result<TimingConfig, ConfigError> {
        let mut c = TimingConfig::v100();
        c.load(text, false)?;
        Ok(c)
    }

    /// A complete configuration from TOML text: every key must be given.
    pub fn from_toml_str_complete(text: &str) -> Result<TimingConfig, ConfigError> {
        let mut c = TimingConfig::default();
        c.load(text, true)?;
        Ok(c)
    }

    fn load(&mut self, text: &str, complete: bool) -> Result<(), ConfigError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        let mut pairs = Vec::new();
        flatten("", &table, &mut pairs)?;
        let mut seen = BTreeSet::new();
        for (k, v) in &pairs {
            self.set_unchecked(k, v)?;
            seen.insert(k.as_str());
        }
        if complete {
            if let Some(missing) = all_keys().into_iter().find(|k| !seen.contains(k.as_str())) {
                return Err(ConfigError::Missing { key: missing });
            }
        }
        self.validate()
    }

    /// Change one key (`"sm.max_ctas"`, `"ops.IMAD.latency"`, ...). The value must have the
    /// key's type; the configuration is validated afterwards (and left unchanged on error).
    pub fn set(&mut self, key: &str, value: impl Into<ConfigValue>) -> Result<(), ConfigError> {
        let mut next = self.clone();
        next.set_unchecked(key, &value.into())?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Change several keys at once (in order), validating only the result, so that keys that
    /// constrain each other can be changed together. On error the configuration is unchanged.
    pub fn set_many<K: AsRef<str>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, ConfigValue)>,
    ) -> Result<(), ConfigError> {
        let mut next = self.clone();
        for (k, v) in pairs {
            next.set_unchecked(k.as_ref(), &v)?;
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The keys TOML text gives, flattened to dotted names (sorted), without
    /// checking them against [`KEYS`] (for callers that route some tables elsewhere, like the
    /// `[device]` table of otc-emu's configuration files; pass the rest to
    /// [`TimingConfig::set_many`]).
    pub fn toml_pairs(text: &str) -> Result<Vec<(String, ConfigValue)>, ConfigError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
        let mut pairs = Vec::new();
        flatten("", &table, &mut pairs)?;
        Ok(pairs)
    }

    /// Change one key from text as written in TOML (`"16"`, `"true"`, `"\"lrr\""`); a bare word
    /// that is not TOML is taken as a string (`lrr`).
    pub fn set_text(&mut self, key: &str, text: &str) -> Result<(), ConfigError> {
        let value = match format!("v = {text}").parse::<toml::Table>() {
            Ok(t) => t.get("v").and_then(ConfigValue::from_toml).unwrap_or(ConfigValue::Str(text.into())),
            Err(_) => ConfigValue::Str(text.into()),
        };
        self.set(key, value)
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Result<ConfigValue, ConfigError> {
        if let Some(v) = self.get_fixed(key) {
            return Ok(v);
        }
        if let Some((class, field)) = tensor_key(key) {
            return Ok(ConfigValue::Int(self.tensor.cost(class).field(field) as i64));
        }
        if let Some((m, field)) = op_key(key) {
            let o = self.ops.get(m).copied().unwrap_or_default();
            let v = match field {
                "latency" => o.latency,
                _ => o.ii,
            };
            let unit = self.unit_of_mnemonic(m);
            let base = match field {
                "latency" => unit.latency,
                _ => unit.ii,
            };
            return Ok(ConfigValue::Int(v.unwrap_or(base) as i64));
        }
        Err(ConfigError::UnknownKey { key: key.into(), hint: suggest(key) })
    }

    fn unit_of_mnemonic(&self, m: &str) -> UnitTiming {
        let f = otc_isa::forms_of(m).first().copied().unwrap_or(0);
        self.unit_timing(unit_index(FORMS[f].unit))
    }

    /// Latency and initiation interval of a (non-tensor) unit by [`crate::trace::unit_index`].
    pub(crate) fn unit_timing(&self, u: usize) -> UnitTiming {
        let t = &self.units;
        [t.int, t.fp32, t.fp16, t.fp64, t.sfu, t.conv, t.mem, t.branch, UnitTiming { latency: 0, ii: 1 }, t.misc][u]
    }

    fn set_unchecked(&mut self, key: &str, v: &ConfigValue) -> Result<(), ConfigError> {
        if let Some(r) = self.set_fixed(key, v) {
            return r;
        }
        if let Some((class, field)) = tensor_key(key) {
            if !class.costs().contains(&field) {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    message: format!(
                        "the model does not read `{field}` for tensor.{} (it reads {})",
                        class.name(),
                        class.costs().join(", ")
                    ),
                });
            }
            *self.tensor.classes[class as usize].field_mut(field) = u32::from_config(key, v)?;
            return Ok(());
        }
        if let Some((m, field)) = op_key(key) {
            let x = u32::from_config(key, v)?;
            let e = self.ops.entry(m.to_string()).or_default();
            match field {
                "latency" => e.latency = Some(x),
                _ => e.ii = Some(x),
            }
            return Ok(());
        }
        if let Some(rest) = key.strip_prefix("ops.") {
            let m = rest.split('.').next().unwrap_or("");
            let hint = if otc_isa::forms_of(m).is_empty() {
                format!(" (`{m}` is not a mnemonic of the instruction set)")
            } else {
                format!(" (ops.{m} has the keys latency and ii)")
            };
            return Err(ConfigError::UnknownKey { key: key.into(), hint });
        }
        Err(ConfigError::UnknownKey { key: key.into(), hint: suggest(key) })
    }

    /// Check ranges (including upper bounds that keep the model's host memory small: see
    /// [`MAX_SMS`] and the other limits); errors name the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| Err(ConfigError::Invalid { key: key.into(), message: message.into() });
        for class in TensorClass::ALL {
            if self.tensor.cost(class).cycles == 0 {
                return bad(&format!("tensor.{}.cycles", class.name()), "must be at least 1");
            }
        }
        let positive: [(&str, u64); 26] = [
            ("gpu.num_sms", self.gpu.num_sms as u64),
            ("sm.sub_cores", self.sm.sub_cores as u64),
            ("sm.max_warps", self.sm.max_warps as u64),
            ("sm.max_threads", self.sm.max_threads as u64),
            ("sm.max_ctas", self.sm.max_ctas as u64),
            ("sm.max_threads_per_cta", self.sm.max_threads_per_cta as u64),
            ("sm.registers", self.sm.registers as u64),
            ("sm.reg_alloc_unit", self.sm.reg_alloc_unit as u64),
            ("sm.shared_alloc_unit", self.sm.shared_alloc_unit as u64),
            ("scheduler.collector_units", self.scheduler.collector_units as u64),
            ("regfile.banks", self.regfile.banks as u64),
            ("regfile.reads_per_bank", self.regfile.reads_per_bank as u64),
            ("accbuf.bank_rows", self.accbuf.bank_rows as u64),
            ("accbuf.bank_cols", self.accbuf.bank_cols as u64),
            ("accbuf.ports_per_bank", self.accbuf.ports_per_bank as u64),
            ("accbuf.collector_window", self.accbuf.collector_window as u64),
            ("memory.shared_banks", self.memory.shared_banks as u64),
            ("memory.shared_bank_bytes", self.memory.shared_bank_bytes as u64),
            ("memory.line_bytes", self.memory.line_bytes as u64),
            ("memory.sector_bytes", self.memory.sector_bytes as u64),
            ("memory.l1_ways", self.memory.l1_ways as u64),
            ("memory.l1_sectors_per_cycle", self.memory.l1_sectors_per_cycle as u64),
            ("memory.l2_bytes", self.memory.l2_bytes),
            ("memory.l2_ways", self.memory.l2_ways as u64),
            ("sm.l1_shared_bytes", self.sm.l1_shared_bytes as u64),
            ("memory.sm_max_bytes_per_cycle", self.memory.sm_max_bytes_per_cycle as u64),
        ];
        for (k, v) in positive {
            if v == 0 {
                return bad(k, "must be at least 1");
            }
        }
        if !(1..=MAX_ACCBUFS_PER_WARP).contains(&self.tensor.accbufs_per_warp) {
            return bad(
                "tensor.accbufs_per_warp",
                &format!("must be 1..={MAX_ACCBUFS_PER_WARP} (the ISA's buffer indices .BUF1...BUF3)"),
            );
        }
        for (i, name) in UNIT_NAMES.iter().enumerate() {
            if *name != "tensor" && self.unit_timing(i).ii == 0 {
                return bad(&format!("units.{name}.ii"), "must be at least 1");
            }
        }
        for (m, o) in &self.ops {
            if o.ii == Some(0) {
                return bad(&format!("ops.{m}.ii"), "must be at least 1");
            }
        }
        if self.sm.max_warps > 1024 {
            return bad("sm.max_warps", "at most 1024");
        }
        if self.sm.sub_cores > 64 {
            return bad("sm.sub_cores", "at most 64");
        }
        if self.sm.sub_cores > self.sm.max_warps {
            return bad("sm.sub_cores", "cannot exceed sm.max_warps");
        }
        if self.regfile.banks > 64 {
            return bad("regfile.banks", "at most 64");
        }
        if self.scheduler.collector_units > 64 {
            return bad("scheduler.collector_units", "at most 64");
        }
        if self.gpu.clock_mhz.is_nan() || self.gpu.clock_mhz <= 0.0 {
            return bad("gpu.clock_mhz", "must be positive");
        }
        if self.memory.l2_bandwidth_gbs.is_nan() || self.memory.l2_bandwidth_gbs <= 0.0 {
            return bad("memory.l2_bandwidth_gbs", "must be positive");
        }
        if self.memory.dram_bandwidth_gbs.is_nan() || self.memory.dram_bandwidth_gbs <= 0.0 {
            return bad("memory.dram_bandwidth_gbs", "must be positive");
        }
        let (line, sector) = (self.memory.line_bytes, self.memory.sector_bytes);
        if !sector.is_power_of_two() {
            return bad("memory.sector_bytes", "must be a power of two");
        }
        if !line.is_power_of_two() || line < sector || line / sector > 4 {
            return bad("memory.line_bytes", "must be a power of two of 1 to 4 sectors");
        }
        if self.accbuf.bank_rows > 32 || self.accbuf.bank_cols > 32 {
            return bad("accbuf.bank_rows", "bank_rows and bank_cols are at most 32 (the buffer is 32x32)");
        }
        if self.accbuf.collector_window > 64 {
            return bad("accbuf.collector_window", "at most 64");
        }
        // What the host can hold: the model allocates per SM and per cache line.
        let host_limits: [(&str, u64, u64); 6] = [
            ("gpu.num_sms", self.gpu.num_sms as u64, MAX_SMS),
            ("memory.l2_bytes", self.memory.l2_bytes, MAX_L2_BYTES),
            ("memory.l2_ways", self.memory.l2_ways as u64, MAX_WAYS),
            ("memory.l1_ways", self.memory.l1_ways as u64, MAX_WAYS),
            ("sm.l1_shared_bytes", self.sm.l1_shared_bytes as u64, MAX_L1_SHARED_BYTES),
            ("sm.max_ctas", self.sm.max_ctas as u64, 1024),
        ];
        for (k, v, max) in host_limits {
            if v > max {
                return bad(k, &format!("at most {max}"));
            }
        }
        if self.sm.max_shared_bytes > self.sm.l1_shared_bytes {
            return bad("sm.max_shared_bytes", "cannot exceed sm.l1_shared_bytes");
        }
        if self.sm.shared_carveouts_kb.is_empty() {
            return bad("sm.shared_carveouts_kb", "needs at least one carve-out");
        }
        if self.sm.shared_carveouts_kb.iter().any(|&k| k as u64 * 1024 > self.sm.l1_shared_bytes as u64) {
            return bad("sm.shared_carveouts_kb", "a carve-out exceeds sm.l1_shared_bytes");
        }
        Ok(())
    }

    /// The configuration as TOML text (every key).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        for k in KEYS {
            let (sec, name) = k.rsplit_once('.').unwrap_or(("", k));
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            out.push_str(&format!("{name} = {}\n", self.get_fixed(k).unwrap()));
        }
        for class in TensorClass::ALL {
            out.push_str(&format!("\n[tensor.{}]\n", class.name()));
            for field in class.costs() {
                out.push_str(&format!("{field} = {}\n", self.tensor.cost(class).field(field)));
            }
        }
        for (m, o) in &self.ops {
            out.push_str(&format!("\n[ops.{m}]\n"));
            if let Some(l) = o.latency {
                out.push_str(&format!("latency = {l}\n"));
            }
            if let Some(i) = o.ii {
                out.push_str(&format!("ii = {i}\n"));
            }
        }
        out
    }

    /// Latency and initiation interval of every form (unit values with per-mnemonic overrides).
    pub(crate) fn form_timings(&self) -> Vec<UnitTiming> {
        FORMS
            .iter()
            .map(|f| {
                let mut t = self.unit_timing(unit_index(f.unit));
                if let Some(o) = self.ops.get(f.mnemonic) {
                    t.latency = o.latency.unwrap_or(t.latency);
                    t.ii = o.ii.unwrap_or(t.ii);
                }
                t
            })
            .collect()
    }
}

/// `ops.<MNEMONIC>.<latency|ii>` with a real mnemonic.
fn op_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("ops.")?;
    let (m, field) = rest.split_once('.')?;
    if (field == "latency" || field == "ii") && !otc_isa::forms_of(m).is_empty() {
        Some((m, field))
    } else {
        None
    }
}

const _: () = assert!(NUM_UNITS == 10);
