//! `otc_emu._core`: the thin PyO3 binding over the Rust crates.
//!
//! Only conversions live here: assembling, program formats and disassembly are `otc-asm`'s.
//! Every call into the core releases the GIL and runs under [`errors::guard`], so a panic becomes
//! `OtcError("internal error: ...")`, never a `PanicException`.

mod device;
mod errors;
mod profile;
mod program;

use std::path::PathBuf;

use pyo3::prelude::*;

/// `crates/otc-timing/configs/v100.toml`, so that `Device(config="v100")` works wherever the
/// extension module is installed.
const V100_TOML: &str = include_str!("../../otc-timing/configs/v100.toml");

use errors::{guard, AssemblyError, ConfigError, Error, GuestFault, LaunchError, OtcError};
use program::{PyKernel, PyParam, PyProgram};

/// Assemble source text: the own dialect, or a `cuobjdump -sass` listing for sm_70.
/// `name` names the source in error messages.
#[pyfunction]
#[pyo3(signature = (text, name = "<input>"))]
fn assemble(py: Python<'_>, text: &str, name: &str) -> Result<PyProgram, Error> {
    let p = py.detach(|| guard(|| Ok(otc_asm::assemble(text, name)?)))?;
    Ok(PyProgram::new(p))
}

/// Load a program file: the binary format if it starts with its magic, else source text.
/// Errors name the path.
#[pyfunction]
fn load(py: Python<'_>, path: PathBuf) -> Result<PyProgram, Error> {
    let name = path.display().to_string();
    let p = py.detach(|| {
        let data = std::fs::read(&path).map_err(|err| Error::Io { path: name.clone(), err })?;
        guard(|| Ok(otc_asm::load_bytes(&data, &name)?))
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
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("OtcError", py.get_type::<OtcError>())?;
    m.add("AssemblyError", py.get_type::<AssemblyError>())?;
    m.add("GuestFault", py.get_type::<GuestFault>())?;
    m.add("LaunchError", py.get_type::<LaunchError>())?;
    Ok(())
}
