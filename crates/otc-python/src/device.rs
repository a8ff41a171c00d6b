//! `Device` and `Warp`: the emulated GPU (`otc_sim::Device`) and the one-warp instruction harness
//! (`otc_sim::WarpHarness`). Conversions only; the Python layer (`otc_emu.device`) adds NumPy
//! arrays, argument packing and statistics objects.

use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use std::sync::Mutex;

use otc_sim::{CancelToken, DeviceConfig, LaunchStats, SettingKind, SettingValue, TensorArith, WarpHarness, SETTINGS};
use otc_timing::{ConfigValue, TimingConfig};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::{guard, Error};
use crate::interrupt::interruptible;
use crate::program::PyProgram;

/// A Python value as a timing configuration value (bool, int, float, str, or a list of them).
fn config_value(key: &str, v: &Bound<'_, PyAny>) -> Result<ConfigValue, Error> {
    if v.is_instance_of::<PyBool>() {
        return Ok(ConfigValue::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        return v.extract::<i64>().map(ConfigValue::Int).map_err(|_| bad(key, "an integer that fits 64 bits", v));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(ConfigValue::Float(v.extract()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(ConfigValue::Str(v.extract()?));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let items: Vec<Bound<'_, PyAny>> = v.try_iter()?.collect::<PyResult<_>>()?;
        return items.iter().map(|x| config_value(key, x)).collect::<Result<_, _>>().map(ConfigValue::List);
    }
    // NumPy scalars and other numbers
    if let Ok(i) = v.extract::<i64>() {
        return Ok(ConfigValue::Int(i));
    }
    if let Ok(x) = v.extract::<f64>() {
        return Ok(ConfigValue::Float(x));
    }
    Err(bad(key, "a bool, int, float, str or list", v))
}

/// A timing configuration value as a Python object.
fn py_value<'py>(py: Python<'py>, v: &ConfigValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        ConfigValue::Int(i) => i.into_pyobject(py)?.into_any(),
        ConfigValue::Float(x) => x.into_pyobject(py)?.into_any(),
        ConfigValue::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        ConfigValue::Str(s) => PyString::new(py, s).into_any(),
        ConfigValue::List(l) => {
            let items = l.iter().map(|x| py_value(py, x)).collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
    })
}

fn timing_error(e: otc_timing::ConfigError) -> Error {
    Error::Config(e.to_string())
}

fn bad(key: &str, want: &str, got: &Bound<'_, PyAny>) -> Error {
    let ty = got.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    Error::Config(format!(
        "setting `{key}` must be {want}, got {ty} {}",
        got.repr().map(|r| r.to_string()).unwrap_or_default()
    ))
}

fn int_of(key: &str, v: &Bound<'_, PyAny>, min: u64, max: u64) -> Result<u64, Error> {
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(bad(key, "an integer", v));
    }
    let n: u64 = v.extract().map_err(|_| bad(key, &format!("an integer in {min}..={max}"), v))?;
    if n < min || n > max {
        return Err(bad(key, &format!("an integer in {min}..={max}"), v));
    }
    Ok(n)
}

fn opt_int_of(key: &str, v: &Bound<'_, PyAny>, min: u64, max: u64) -> Result<Option<u64>, Error> {
    if v.is_none() {
        Ok(None)
    } else {
        int_of(key, v, min, max).map(Some)
    }
}

/// A number of seconds, or None (otc-sim checks the range).
fn opt_seconds(key: &str, v: &Bound<'_, PyAny>) -> Result<Option<f64>, Error> {
    if v.is_none() {
        return Ok(None);
    }
    let want = SettingKind::OptSeconds.describe();
    if v.is_instance_of::<PyBool>() {
        return Err(bad(key, &want, v));
    }
    v.extract::<f64>().map(Some).map_err(|_| bad(key, &want, v))
}

/// Build a `DeviceConfig` from a flat settings dict, rejecting unknown or ill-typed keys by name.
///
/// Keys: the functional settings of [`otc_sim::SETTINGS`] (also as `device.<name>`, the `[device]` table
/// of a configuration file), `timing` (bool: the cycle model on or off), and dotted timing keys
/// (`tensor.skipped_cycles`, `ops.IMAD.latency`, ...) applied to the V100 description with
/// `TimingConfig::set_many`. `num_sms` also sets the model's `gpu.num_sms` unless that is given.
pub(crate) fn config_from(settings: Option<&Bound<'_, PyDict>>) -> Result<DeviceConfig, Error> {
    let mut c = DeviceConfig::default();
    let Some(d) = settings else { return Ok(c) };
    let mut timing_on = true;
    let mut timing_pairs: Vec<(String, ConfigValue)> = Vec::new();
    for (k, v) in d.iter() {
        let key: String = k.extract().map_err(|_| Error::Config("setting names must be strings".into()))?;
        let name = key.strip_prefix("device.").unwrap_or(&key).to_string();
        if name == "timing" {
            if !v.is_instance_of::<PyBool>() {
                return Err(bad(&key, "True or False", &v));
            }
            timing_on = v.extract()?;
            continue;
        }
        if name.contains('.') {
            timing_pairs.push((key.clone(), config_value(&key, &v)?));
            continue;
        }
        let Some(setting) = SETTINGS.iter().find(|s| s.name == name) else {
            let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
            return Err(Error::Config(format!(
                "unknown setting `{name}`; the settings are {}, and dotted cycle-model keys such as \
                 `tensor.skipped_cycles` (crates/otc-timing/configs/v100.toml)",
                names.join(", ")
            )));
        };
        // The Python value as the kind of value the setting takes; otc-sim checks the range.
        let value = match setting.kind {
            SettingKind::Arith => SettingValue::Str(v.extract().map_err(|_| bad(&name, &setting.kind.describe(), &v))?),
            SettingKind::Int { min, max } => SettingValue::Int(int_of(&name, &v, min, max)?),
            SettingKind::OptInt { min, max } => {
                opt_int_of(&name, &v, min, max)?.map(SettingValue::Int).unwrap_or(SettingValue::Unset)
            }
            SettingKind::OptSeconds => {
                opt_seconds(&name, &v)?.map(SettingValue::Seconds).unwrap_or(SettingValue::Unset)
            }
            SettingKind::Bool => SettingValue::Bool(v.extract().map_err(|_| bad(&name, &setting.kind.describe(), &v))?),
        };
        c.set_setting(&name, value).map_err(|want| bad(&name, &want, &v))?;
    }
    let mut tc = TimingConfig::v100();
    let sms_given = d.contains("num_sms")? || d.contains("device.num_sms")?;
    if sms_given && !timing_pairs.iter().any(|(k, _)| k == "gpu.num_sms") {
        timing_pairs.insert(0, ("gpu.num_sms".into(), ConfigValue::Int(c.num_sms as i64)));
    }
    // Checked even when timing is off, so that a typo is never silently ignored.
    tc.set_many(timing_pairs).map_err(timing_error)?;
    c.timing = if timing_on { Some(tc) } else { None };
    Ok(c)
}

/// The keys of a TOML configuration file as a flat dict (dotted names; the `[device]` table as
/// `device.<name>`), checked only for syntax; `Device` checks the keys.
#[pyfunction]
pub(crate) fn read_config<'py>(py: Python<'py>, text: &str, name: &str) -> Result<Bound<'py, PyDict>, Error> {
    let pairs = TimingConfig::toml_pairs(text).map_err(|e| Error::Config(format!("{name}: {e}")))?;
    let d = PyDict::new(py);
    for (k, v) in &pairs {
        d.set_item(k, py_value(py, v)?)?;
    }
    Ok(d)
}

/// Every key of a timing configuration with its value (the fixed keys, the per-class
/// `tensor.<class>.*` keys, then the `ops.*` overrides that are set).
fn timing_dict<'py>(py: Python<'py>, t: &TimingConfig) -> Result<Bound<'py, PyDict>, Error> {
    let d = PyDict::new(py);
    for k in otc_timing::all_keys() {
        d.set_item(&k, py_value(py, &t.get(&k).map_err(timing_error)?)?)?;
    }
    for (m, o) in &t.ops {
        for (field, set) in [("latency", o.latency), ("ii", o.ii)] {
            if set.is_some() {
                let key = format!("ops.{m}.{field}");
                d.set_item(&key, py_value(py, &t.get(&key).map_err(timing_error)?)?)?;
            }
        }
    }
    Ok(d)
}

fn config_dict<'py>(py: Python<'py>, c: &DeviceConfig) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("tensor_arith", if c.tensor_arith == TensorArith::V100 { "v100" } else { "ieee" })?;
    d.set_item("num_sms", c.num_sms)?;
    d.set_item("max_shared_per_cta", c.max_shared_per_cta)?;
    d.set_item("max_instructions", c.max_instructions)?;
    d.set_item("max_cycles", c.max_cycles)?;
    d.set_item("max_seconds", c.max_seconds)?;
    d.set_item("max_trace_bytes", c.max_trace_bytes)?;
    d.set_item("threads", c.threads)?;
    d.set_item("default_local_bytes", c.default_local_bytes)?;
    d.set_item("stack_bytes", c.stack_bytes)?;
    d.set_item("parallel_batch", c.parallel_batch)?;
    d.set_item("timing_segment", c.timing_segment)?;
    d.set_item("cosim", c.cosim)?;
    d.set_item("timing", c.timing.is_some())?;
    Ok(d)
}

/// Statistics as plain Python data: {"counters": {...}, "by_opcode": {...}, "by_pc": [...]},
/// plus "metrics": {...} and "sm_cycles": [...] when the cycle model ran. The counters are the
/// functional ones, then the model's (`cycles`, `tensor.busy_cycles`, `stall.*`, ...); a key
/// both have (`warp_instructions`, `ohmma.executed`, ...) counts the same thing and keeps the
/// functional value.
pub(crate) fn stats_dict<'py>(
    py: Python<'py>,
    s: &LaunchStats,
    timing: Option<&otc_timing::Stats>,
) -> PyResult<Bound<'py, PyDict>> {
    let counters = PyDict::new(py);
    counters.set_item("warp_instructions", s.warp_instructions)?;
    counters.set_item("thread_instructions", s.thread_instructions)?;
    counters.set_item("predicated_thread_instructions", s.predicated_thread_instructions)?;
    counters.set_item("ctas", s.ctas)?;
    counters.set_item("warps", s.warps)?;
    counters.set_item("threads", s.threads)?;
    counters.set_item("ohmma.executed", s.ohmma_executed)?;
    counters.set_item("ohmma.skipped", s.ohmma_skipped)?;
    counters.set_item("hmma.executed", s.hmma_executed)?;
    counters.set_item("bohmma.executed", s.bohmma_executed)?;
    if let Some(t) = timing {
        for (k, v) in &t.counters {
            if !counters.contains(k)? {
                counters.set_item(k, v)?;
            }
        }
    }
    let by_op = PyDict::new(py);
    for (op, (w, t)) in &s.by_opcode {
        let e = PyDict::new(py);
        e.set_item("warp", w)?;
        e.set_item("thread", t)?;
        by_op.set_item(op, e)?;
    }
    let d = PyDict::new(py);
    d.set_item("counters", counters)?;
    d.set_item("by_opcode", by_op)?;
    d.set_item("by_pc", PyList::new(py, &s.by_pc)?)?;
    if let Some(t) = timing {
        let metrics = PyDict::new(py);
        for (k, v) in &t.metrics {
            metrics.set_item(k, v)?;
        }
        d.set_item("metrics", metrics)?;
        d.set_item("sm_cycles", PyList::new(py, &t.sm_cycles)?)?;
        d.set_item("per_pc", crate::profile::per_pc_dict(py, t)?)?;
        if let Some(sample) = &t.sample {
            d.set_item("sample", sample_dict(py, sample)?)?;
        }
        if let Some(tl) = &t.timeline {
            d.set_item("timeline", crate::profile::timeline_dict(py, tl)?)?;
        }
    }
    Ok(d)
}

/// What sampled timing timed and how it extrapolated (`otc_timing::Sample`), as a dict.
fn sample_dict<'py>(py: Python<'py>, s: &otc_timing::Sample) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("method", "sms")?;
    d.set_item("timed_sms", PyList::new(py, &s.timed_sms)?)?;
    d.set_item("sms_used", s.sms_used)?;
    d.set_item("ctas_timed", s.ctas_timed)?;
    d.set_item("ctas", s.ctas)?;
    d.set_item("warp_instructions_timed", s.warp_instructions_timed)?;
    d.set_item("warp_instructions", s.warp_instructions)?;
    d.set_item("warp_instructions_sm0", s.warp_instructions_sm0)?;
    d.set_item("scale", s.scale)?;
    d.set_item("cycles_timed", s.cycles_timed)?;
    d.set_item("sm_prediction_error", s.sm_prediction_error)?;
    d.set_item("predictor", s.predictor)?;
    d.set_item("expected_error", s.expected_error)?;
    d.set_item("exact", s.exact)?;
    Ok(d)
}

/// The emulated GPU with its global memory.
///
/// One `Device` may be used from several Python threads: every call takes the device's lock
/// (without the GIL), so calls run one at a time and launches are serialised.
#[pyclass(module = "otc_emu._core", name = "Device", frozen)]
pub struct PyDevice {
    inner: Mutex<otc_sim::Device>,
    /// The device's cancel flag, reachable without the lock (`interrupt.rs`).
    cancel: CancelToken,
}

impl PyDevice {
    /// Run `f` on the device, without the GIL, once the lock is free.
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut otc_sim::Device) -> Result<T, Error> + Send,
    ) -> Result<T, Error> {
        py.detach(|| guard(|| f(&mut lock(&self.inner))))
    }
}

/// Lock a mutex; a panic while it was held (caught by [`guard`]) leaves the data usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (settings = None))]
    fn new(settings: Option<&Bound<'_, PyDict>>) -> Result<Self, Error> {
        let dev = otc_sim::Device::new(config_from(settings)?);
        let cancel = dev.cancel_token();
        Ok(PyDevice { inner: Mutex::new(dev), cancel })
    }

    /// The settings in force, as a dict.
    fn config<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyDict>, Error> {
        let c = self.with(py, |d| Ok(d.config().clone()))?;
        Ok(config_dict(py, &c)?)
    }

    /// The cycle model's configuration (dotted key -> value), or None when timing is off.
    fn timing_config<'py>(&self, py: Python<'py>) -> Result<Option<Bound<'py, PyDict>>, Error> {
        let t = self.with(py, |d| Ok(d.config().timing.clone()))?;
        t.as_ref().map(|t| timing_dict(py, t)).transpose()
    }

    /// How many CTAs of `threads` threads, `regs` registers per thread and `shared` bytes of
    /// shared memory the cycle model's GPU holds at once (its SMs times the CTAs one SM holds),
    /// or None when timing is off. A launch that cannot be resident is a LaunchError.
    fn resident_ctas(&self, py: Python<'_>, threads: u32, regs: u32, shared: u32) -> Result<Option<u64>, Error> {
        let Some(t) = self.with(py, |d| Ok(d.config().timing.clone()))? else { return Ok(None) };
        let launch_error =
            |e: otc_timing::TimingError| Error::Sim(otc_sim::SimError::Launch(format!("cycle model: {e}")));
        let sim = otc_timing::Simulator::new(&t, 1).map_err(launch_error)?;
        Ok(Some(sim.resident_ctas(threads, regs, shared).map_err(launch_error)?))
    }

    /// How the last launch used the co-simulation (`cosim=True`): "co-simulated", the reason it
    /// fell back to the linear path, or None when it did not try.
    fn last_cosim(&self, py: Python<'_>) -> Result<Option<String>, Error> {
        let how = self.with(py, |d| Ok(d.last_cosim()))?;
        Ok(how.map(|h| match h {
            Ok(()) => "co-simulated".to_string(),
            Err(why) => why.to_string(),
        }))
    }

    /// The most bytes of CTA traces the cycle model held at once in the last launch, or None
    /// when it was not timed.
    fn last_trace_peak_bytes(&self, py: Python<'_>) -> Result<Option<u64>, Error> {
        self.with(py, |d| Ok(d.last_trace_peak_bytes()))
    }

    /// Descriptions of the settings, as a dict name -> text.
    #[staticmethod]
    fn settings<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for s in SETTINGS {
            d.set_item(s.name, s.help)?;
        }
        Ok(d)
    }

    /// Allocate `nbytes` of global memory aligned to `align`; returns the address.
    fn alloc(&self, py: Python<'_>, nbytes: u64, align: u64) -> Result<u64, Error> {
        self.with(py, |d| Ok(d.alloc(nbytes, align)?))
    }

    fn free(&self, py: Python<'_>, address: u64) -> Result<(), Error> {
        self.with(py, |d| Ok(d.free(address)?))
    }

    fn write(&self, py: Python<'_>, address: u64, data: &[u8]) -> Result<(), Error> {
        self.with(py, |d| Ok(d.write(address, data)?))
    }

    /// Write the bytes of a contiguous uint8 array (a view of any array's bytes) at `address`,
    /// without a copy on the way.
    fn write_array(&self, py: Python<'_>, address: u64, data: PyReadonlyArray1<'_, u8>) -> Result<(), Error> {
        let bytes =
            data.as_slice().map_err(|_| Error::Value("the bytes to write must be a contiguous array".into()))?;
        self.with(py, |d| Ok(d.write(address, bytes)?))
    }

    /// Read `out.len()` bytes at `address` into the contiguous uint8 array `out` (a view of the
    /// host array that receives them), without a copy on the way.
    fn read_into(&self, py: Python<'_>, address: u64, mut out: PyReadwriteArray1<'_, u8>) -> Result<(), Error> {
        let buf = out.as_slice_mut().map_err(|_| Error::Value("the array to read into must be contiguous".into()))?;
        self.with(py, |d| Ok(d.read_into(address, buf)?))
    }

    fn read<'py>(&self, py: Python<'py>, address: u64, nbytes: usize) -> Result<Bound<'py, PyBytes>, Error> {
        let data = self.with(py, |d| Ok(d.read(address, nbytes)?))?;
        Ok(PyBytes::new(py, &data))
    }

    /// Write `data` into constant bank `bank` (1..17; `__constant__` data lives in bank 3).
    fn write_constant(&self, py: Python<'_>, bank: u8, offset: u32, data: &[u8]) -> Result<(), Error> {
        self.with(py, |d| Ok(d.write_constant(bank, offset, data)?))
    }

    /// (address, size) of the `__device__` variable `name` of `program` on this device (the
    /// program's global segment is allocated and initialised on first use, see
    /// `otc_sim::Device::module_globals`).
    fn global_symbol(&self, py: Python<'_>, program: &PyProgram, name: &str) -> Result<(u64, u64), Error> {
        let p = &program.inner;
        let Some(sym) = p.globals.symbol(name) else {
            let known: Vec<&str> = p.globals.symbols.iter().map(|s| s.name.as_str()).collect();
            let listed =
                if known.is_empty() { "none (no cubin, or no __device__ data)".into() } else { known.join(", ") };
            return Err(Error::Sim(otc_sim::SimError::Launch(format!(
                "the program has no __device__ variable `{name}`; it has {listed}"
            ))));
        };
        let base = self.with(py, |d| Ok(d.module_globals(p)?))?.unwrap_or(0);
        Ok((base + sym.offset, sym.size))
    }

    /// Launch kernel `name` of `program`; `params` is the packed parameter block; `timeline`:
    /// (first cycle, end cycle, SM indices) of a timeline for the cycle model to record;
    /// `sample_sms`: time only the CTAs of that many SMs and extrapolate (sampled timing). Ctrl-C
    /// stops the launch (`interrupt.rs`): KeyboardInterrupt, with the CTAs before the one running
    /// committed to memory.
    #[pyo3(signature = (program, name, grid, block, params, dynamic_shared = 0, timeline = None, sample_sms = None))]
    #[allow(clippy::too_many_arguments)] // mirrors the Python signature: self, py and eight launch arguments
    fn launch<'py>(
        &self,
        py: Python<'py>,
        program: &PyProgram,
        name: &str,
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
        params: &[u8],
        dynamic_shared: u32,
        timeline: Option<(u64, u64, Vec<u32>)>,
        sample_sms: Option<u32>,
    ) -> Result<Bound<'py, PyDict>, Error> {
        let (grid, block) = ([grid.0, grid.1, grid.2], [block.0, block.1, block.2]);
        let inner = &self.inner;
        let spec = crate::profile::timeline_spec(timeline);
        let (stats, timing) = interruptible(py, &self.cancel, || {
            let mut dev = lock(inner);
            let img = dev.kernel_image(&program.inner, name)?;
            dev.set_timeline(spec);
            dev.set_timing_sample(sample_sms);
            Ok(dev.launch_timed(&img, grid, block, params, dynamic_shared)?)
        })?;
        Ok(stats_dict(py, &stats, timing.as_ref())?)
    }
}

/// One warp on a fresh SM, for instruction-level tests. Usable from several threads, like
/// `Device` (calls take the warp's lock).
#[pyclass(module = "otc_emu._core", name = "Warp", frozen)]
pub struct PyWarp {
    inner: Mutex<WarpHarness>,
    cancel: CancelToken,
}

impl PyWarp {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut WarpHarness) -> Result<T, Error> + Send,
    ) -> Result<T, Error> {
        py.detach(|| guard(|| f(&mut lock(&self.inner))))
    }
}

#[pymethods]
impl PyWarp {
    #[new]
    #[pyo3(signature = (settings = None))]
    fn new(settings: Option<&Bound<'_, PyDict>>) -> Result<Self, Error> {
        let c = config_from(settings)?;
        let mut w = WarpHarness::new();
        w.set_tensor_arith(c.tensor_arith);
        if settings.is_some_and(|d| d.contains("max_instructions").unwrap_or(false)) {
            w.set_max_instructions(c.max_instructions);
        }
        // Untimed unless asked for (`timing=True`): instruction-level tests run many small programs.
        let timed = match settings.map(|d| d.get_item("timing")).transpose()?.flatten() {
            Some(v) => v.extract::<bool>()?,
            None => false,
        };
        if timed {
            w.set_timing(c.timing);
        }
        let cancel = w.cancel_token();
        Ok(PyWarp { inner: Mutex::new(w), cancel })
    }

    fn write_reg(&self, py: Python<'_>, index: u8, values: PyReadonlyArray1<'_, u32>) -> Result<(), Error> {
        if index == 255 {
            return Err(Error::Value("RZ cannot be written".into()));
        }
        let v = values.as_slice().map_err(|_| Error::Value("register values must be a contiguous array".into()))?;
        let lanes: [u32; 32] =
            v.try_into().map_err(|_| Error::Value(format!("a register holds 32 lane values, got {}", v.len())))?;
        self.with(py, |w| {
            w.write_reg(index, lanes);
            Ok(())
        })
    }

    fn read_reg<'py>(&self, py: Python<'py>, index: u8) -> Result<Bound<'py, PyArray1<u32>>, Error> {
        let v = self.with(py, |w| Ok(w.read_reg(index)))?;
        Ok(PyArray1::from_slice(py, &v))
    }

    fn write_pred(&self, py: Python<'_>, index: u8, mask: u32) -> Result<(), Error> {
        if index >= 7 {
            return Err(Error::Value(format!("predicates are P0..P6, got P{index}")));
        }
        self.with(py, |w| {
            w.write_pred(index, mask);
            Ok(())
        })
    }

    fn read_pred(&self, py: Python<'_>, index: u8) -> Result<u32, Error> {
        if index > 7 {
            return Err(Error::Value(format!("predicates are P0..P6 and PT, got P{index}")));
        }
        self.with(py, |w| Ok(w.read_pred(index)))
    }

    /// Lanes launched by the next runs (bit i = lane i; default all 32).
    fn set_lanes(&self, py: Python<'_>, mask: u32) -> Result<(), Error> {
        self.with(py, |w| {
            w.set_lanes(mask);
            Ok(())
        })
    }

    fn write_shared(&self, py: Python<'_>, offset: usize, data: &[u8]) -> Result<(), Error> {
        self.with(py, |w| Ok(w.write_shared(offset, data)?))
    }

    fn read_shared<'py>(&self, py: Python<'py>, offset: usize, nbytes: usize) -> Result<Bound<'py, PyBytes>, Error> {
        let d = self.with(py, |w| Ok(w.read_shared(offset, nbytes)?))?;
        Ok(PyBytes::new(py, &d))
    }

    fn write_constant(&self, py: Python<'_>, bank: u8, offset: usize, data: &[u8]) -> Result<(), Error> {
        self.with(py, |w| Ok(w.write_constant(bank, offset, data)?))
    }

    /// Run the single kernel of `program` on the warp; returns statistics. Ctrl-C stops it
    /// (KeyboardInterrupt).
    fn run<'py>(&self, py: Python<'py>, program: &PyProgram) -> Result<Bound<'py, PyDict>, Error> {
        if program.inner.kernels.len() != 1 {
            return Err(Error::Value(format!(
                "Warp.run takes a program with one kernel, got {}",
                program.inner.kernels.len()
            )));
        }
        let code = &program.inner.kernels[0].instructions;
        let inner = &self.inner;
        let (stats, timing) = interruptible(py, &self.cancel, || Ok(lock(inner).run_timed(code)?))?;
        let d = stats_dict(py, &stats, timing.as_ref().map(|t| &t.stats))?;
        if let Some(t) = &timing {
            // (pc, issue cycle, result cycle, sub-core) of every issue, in issue order.
            let issues: Vec<(u32, u64, u64, u32)> =
                t.issues.iter().map(|r| (r.pc, r.cycle, r.complete, r.sub_core)).collect();
            d.set_item("issues", PyList::new(py, issues)?)?;
        }
        Ok(d)
    }
}

/// One fragment slot as Python sees it: (lane, reg, half, matrix, row, col).
type SlotTuple = (u8, u8, u8, u8, u8, u8);

/// The fragment layout of a tensor instruction operand: ({matrices, rows, cols, bits, regs},
/// [(lane, reg, half, matrix, row, col), ...]). See `otc_isa::fragments`.
#[pyfunction]
pub(crate) fn fragment_layout<'py>(
    py: Python<'py>,
    instruction: &str,
    operand: &str,
    layout: &str,
) -> Result<(Bound<'py, PyDict>, Vec<SlotTuple>), Error> {
    use otc_isa::fragments::{shape, slots, FragInst, FragOperand, Layout};
    let inst = FragInst::from_name(instruction)
        .ok_or_else(|| Error::Value(format!("no fragment layout for `{instruction}`")))?;
    let op = FragOperand::from_name(operand).ok_or_else(|| Error::Value(format!("no operand `{operand}`")))?;
    let lay = match layout {
        "row" => Layout::Row,
        "col" => Layout::Col,
        _ => return Err(Error::Value(format!("layout must be 'row' or 'col', got `{layout}`"))),
    };
    let sh = shape(inst, op);
    let d = PyDict::new(py);
    d.set_item("matrices", sh.matrices)?;
    d.set_item("rows", sh.rows)?;
    d.set_item("cols", sh.cols)?;
    d.set_item("bits", sh.bits)?;
    d.set_item("regs", sh.regs)?;
    let s = slots(inst, op, lay).into_iter().map(|x| (x.lane, x.reg, x.half, x.matrix, x.row, x.col)).collect();
    Ok((d, s))
}
