//! The Python exception tree and the one mapping from core errors to it.
//!
//! ```text
//! OtcError(Exception)          base of everything otc-emu raises on purpose
//! ├── AssemblyError            bad source text or binary program (.kind .line .column .source_name)
//! ├── GuestFault               the emulated program did something illegal (.kind .kernel .pc
//! │                            .cta .warp .lanes .instruction .address); device memory stays readable
//! ├── LaunchError              a launch that cannot start (bad grid, block, arguments, resources)
//! └── ConfigError              an unknown or ill-typed setting (names the setting)
//! ```
//!
//! A Rust panic never reaches Python as `PanicException`: every entry point that calls into the
//! core runs inside [`guard`], which turns a panic into `OtcError("internal error: ...")`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use otc_asm::AsmError;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError};
use pyo3::prelude::*;

create_exception!(otc_emu, OtcError, PyException, "Base class of every error otc-emu raises.");
create_exception!(
    otc_emu,
    AssemblyError,
    OtcError,
    "Source text or a binary program that cannot be read. Attributes: kind (str, e.g. \
     'unknown-mnemonic'), source_name (str), line and column (int, 1-based; 0 when unknown), \
     message (str, without the location)."
);
create_exception!(
    otc_emu,
    GuestFault,
    OtcError,
    "The emulated program did something illegal (bad address, misaligned access, ...)."
);
create_exception!(
    otc_emu,
    LaunchError,
    OtcError,
    "A launch that cannot start: bad grid, block, arguments or resources."
);

create_exception!(otc_emu, ConfigError, OtcError, "An unknown or ill-typed setting; the message names it.");

/// Everything the binding can fail with; converted to a Python exception in one place.
#[derive(Debug)]
pub enum Error {
    /// Assembler or binary-format error, with its place.
    Asm(AsmError),
    /// An operating-system error on a file.
    Io { path: String, err: std::io::Error },
    /// An error of the emulated device: a guest fault, a launch error or a memory error.
    Sim(otc_sim::SimError),
    /// An unknown or ill-typed setting.
    Config(String),
    /// A bad argument value (ValueError).
    Value(String),
    /// A Python error raised while converting values.
    Py(PyErr),
    /// A panic in the core (a bug).
    Internal(String),
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Py(e)
    }
}

impl From<otc_sim::SimError> for Error {
    fn from(e: otc_sim::SimError) -> Self {
        Error::Sim(e)
    }
}

impl From<AsmError> for Error {
    fn from(e: AsmError) -> Self {
        Error::Asm(e)
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Asm(e) => Python::attach(|py| assembly_error(py, &e)),
            Error::Io { path, err } => match err.raw_os_error() {
                // OSError(errno, strerror, filename) picks the subclass (FileNotFoundError, ...)
                Some(code) => PyOSError::new_err((code, os_message(&err), path)),
                None => PyOSError::new_err(format!("{path}: {err}")),
            },
            Error::Sim(otc_sim::SimError::Fault(f)) => Python::attach(|py| guest_fault(py, &f)),
            Error::Sim(otc_sim::SimError::Launch(m)) => LaunchError::new_err(clip_tokens(&m)),
            Error::Sim(otc_sim::SimError::Memory(m)) => {
                OtcError::new_err(format!("device memory: {}", clip_tokens(&m)))
            }
            // Only reached when the cancel flag was set without a signal (`interrupt.rs`
            // raises the signal handler's own exception).
            Error::Sim(e @ otc_sim::SimError::Cancelled { .. }) => {
                pyo3::exceptions::PyKeyboardInterrupt::new_err(e.to_string())
            }
            Error::Config(m) => ConfigError::new_err(clip_tokens(&m)),
            Error::Value(m) => pyo3::exceptions::PyValueError::new_err(clip_tokens(&m)),
            Error::Py(e) => e,
            Error::Internal(msg) => {
                OtcError::new_err(format!("internal error: {msg} (this is a bug in otc-emu; please report it)"))
            }
        }
    }
}

/// Longest run of non-blank characters an error message shows whole.
const MAX_TOKEN_CHARS: usize = 80;

/// `message` with every run of more than [`MAX_TOKEN_CHARS`] non-blank characters (a 5 MB
/// "mnemonic", a huge number) cut to its start, an ellipsis and its length, so that an error
/// stays one readable line.
pub(crate) fn clip_tokens(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    let mut token = String::new();
    let mut token_chars = 0usize;
    let flush = |out: &mut String, token: &mut String, n: usize| {
        if n > MAX_TOKEN_CHARS {
            out.extend(token.chars().take(MAX_TOKEN_CHARS - 20));
            out.push_str(&format!("… ({n} characters)"));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in message.chars() {
        if c.is_whitespace() {
            flush(&mut out, &mut token, token_chars);
            token_chars = 0;
            out.push(c);
        } else {
            token_chars += 1;
            if token_chars <= MAX_TOKEN_CHARS + 1 {
                token.push(c);
            }
        }
    }
    flush(&mut out, &mut token, token_chars);
    out
}

/// The strerror text of an io::Error without Rust's ` (os error N)` suffix.
fn os_message(err: &std::io::Error) -> String {
    let s = err.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `AssemblyError(str(e))` with the structured fields as attributes.
fn assembly_error(py: Python<'_>, e: &AsmError) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let value = py.get_type::<AssemblyError>().call1((clip_tokens(&e.to_string()),))?;
        value.setattr("kind", e.kind.name())?;
        value.setattr("source_name", &e.source_name)?;
        value.setattr("line", e.line)?;
        value.setattr("column", e.column)?;
        value.setattr("message", clip_tokens(&e.message))?;
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|err| err)
}

/// `GuestFault(str(f))` with the fault's fields as attributes.
fn guest_fault(py: Python<'_>, f: &otc_sim::GuestFault) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let value = py.get_type::<GuestFault>().call1((clip_tokens(&f.to_string()),))?;
        value.setattr("kind", f.kind.name())?;
        value.setattr("kernel", &f.kernel)?;
        value.setattr("pc", f.pc)?;
        value.setattr("cta", (f.cta[0], f.cta[1], f.cta[2]))?;
        value.setattr("warp", f.warp)?;
        value.setattr("lane_mask", f.lanes)?;
        value.setattr("lanes", (0..32).filter(|i| f.lanes >> i & 1 == 1).collect::<Vec<u32>>())?;
        value.setattr("instruction", &f.instruction)?;
        value.setattr("message", &f.message)?;
        value.setattr("address", f.address)?;
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|err| err)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a Rust panic with no message".to_string()
    }
}

/// Run `f`, turning a panic into [`Error::Internal`].
pub fn guard<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(Error::Internal(panic_message(&*p))))
}
