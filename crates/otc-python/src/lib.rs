//! `otc_emu._core`: the thin PyO3 binding over the Rust crates.
//!
//! Only conversions live here: assembling, program formats and disassembly are `otc-asm`'s.
//! Every call into the core releases the GIL and runs under [`errors::guard`], so a panic becomes
//! `OtcError("internal error: ...")`, never a `PanicException`.

mod device;
mod errors;
mod interrupt;
mod profile;
mod program;

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyString;

/// `crates/otc-timing/configs/v100.toml`, so that `Device(config="v100")` works wherever the
/// extension module is installed.
const V100_TOML: &str = include_str!("../../otc-timing/configs/v100.toml");

use errors::{guard, AssemblyError, ConfigError, Error, GuestFault, LaunchError, OtcError};
use program::{PyKernel, PyParam, PyProgram};

/// Assemble source text: the own dialect, or a `cuobjdump -sass` listing for sm_70.
/// `name` names the source in error messages. Ctrl-C returns at once (KeyboardInterrupt).
/// `cubin`: the bytes of the `.cubin` the listing was printed from, or the text of `cuobjdump
/// -elf` of it; its constant banks (nvcc's literals in bank 2, `__constant__` data in bank 3) go
/// to the kernels.
#[pyfunction]
#[pyo3(signature = (text, name = "<input>", cubin = None))]
fn assemble(
    py: Python<'_>,
    text: &Bound<'_, PyString>,
    name: &str,
    cubin: Option<Vec<u8>>,
) -> Result<PyProgram, Error> {
    let text = program::source_text(text, name)?;
    let name = name.to_string();
    let p = interrupt::abandonable(py, move || {
        let mut p = otc_asm::assemble(&text, &name)?;
        if let Some(bytes) = &cubin {
            let cname = format!("{name} (cubin)");
            p.attach_cubin(&otc_asm::read_cubin_data(bytes, &cname)?, &cname)?;
        }
        Ok(p)
    })?;
    Ok(PyProgram::new(p))
}

/// Load a program file: the binary format if it starts with its magic, else source text.
/// `cubin`: the path of the `.cubin` (or `cuobjdump -elf` text) whose constant banks the
/// kernels get (see `assemble`).
/// Errors name the path.
#[pyfunction]
#[pyo3(signature = (path, cubin = None))]
fn load(py: Python<'_>, path: PathBuf, cubin: Option<PathBuf>) -> Result<PyProgram, Error> {
    let name = path.display().to_string();
    let p = py.detach(|| {
        let data = std::fs::read(&path).map_err(|err| Error::Io { path: name.clone(), err })?;
        let cubin_data = match &cubin {
            Some(c) => Some(std::fs::read(c).map_err(|err| Error::Io { path: c.display().to_string(), err })?),
            None => None,
        };
        guard(|| {
            let mut p = otc_asm::load_bytes(&data, &name)?;
            if let (Some(bytes), Some(c)) = (&cubin_data, &cubin) {
                let cname = c.display().to_string();
                p.attach_cubin(&otc_asm::read_cubin_data(bytes, &cname)?, &cname)?;
            }
            Ok(p)
        })
    })?;
    Ok(PyProgram::new(p))
}

/// Panic inside the binding on purpose (tests check that it arrives as OtcError).
#[pyfunction]
fn _panic_for_tests(message: &str) -> Result<(), Error> {
    guard(|| panic!("{message}"))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyProgram>()?;
    m.add_class::<PyKernel>()?;
    m.add_class::<PyParam>()?;
    m.add_function(wrap_pyfunction!(assemble, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_class::<device::PyDevice>()?;
    m.add_class::<device::PyWarp>()?;
    m.add_function(wrap_pyfunction!(device::fragment_layout, m)?)?;
    m.add_function(wrap_pyfunction!(device::read_config, m)?)?;
    // The shipped V100 machine description (crates/otc-timing/configs/v100.toml), compiled in.
    m.add("V100_TOML", V100_TOML)?;
    m.add("MACHINES", otc_timing::MACHINES.to_vec())?;
    m.add("PARAM_TYPES", param_types(py)?)?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("OtcError", py.get_type::<OtcError>())?;
    m.add("AssemblyError", py.get_type::<AssemblyError>())?;
    m.add("GuestFault", py.get_type::<GuestFault>())?;
    m.add("LaunchError", py.get_type::<LaunchError>())?;
    Ok(())
}

/// The `.param` types (`otc_asm::ParamType`) with the NumPy dtype of their values (`ptr`: the
/// 64-bit device address), for the Python package's argument checks and the CLI's `--arg`.
fn param_types(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let d = pyo3::types::PyDict::new(py);
    for t in otc_asm::ParamType::ALL {
        let name = t.name();
        let bits = t.size() * 8;
        let dtype = match &name[..1] {
            "s" => format!("int{bits}"),
            "f" => format!("float{bits}"),
            _ => format!("uint{bits}"),
        };
        d.set_item(name, dtype)?;
    }
    Ok(d)
}
