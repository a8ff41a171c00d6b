//! `Program`, `Kernel` and `Param`: read-only views of an assembled `otc_asm::Program`.

use std::path::PathBuf;
use std::sync::Arc;

use otc_asm::{Kernel, Program};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyMappingProxy, PyString};

use crate::errors::{guard, Error};

/// The text of a Python string as Rust text; a lone surrogate (which UTF-8 cannot hold) is an
/// AssemblyError at its line and column instead of a UnicodeEncodeError.
pub(crate) fn source_text(text: &Bound<'_, PyString>, name: &str) -> Result<String, Error> {
    if let Ok(s) = text.to_str() {
        return Ok(s.to_string());
    }
    let raw: Vec<u8> = text.call_method1("encode", ("utf-8", "surrogatepass"))?.extract()?;
    let valid = std::str::from_utf8(&raw).map_err(|e| e.valid_up_to()).err().unwrap_or(raw.len());
    let before = String::from_utf8_lossy(&raw[..valid]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Err(Error::Asm(otc_asm::AsmError::new(
        otc_asm::AsmErrorKind::Syntax,
        name,
        line,
        column,
        "a lone surrogate character (not valid Unicode text)",
    )))
}

/// An assembled program: one or more kernels. Immutable.
#[pyclass(module = "otc_emu._core", name = "Program", frozen)]
pub struct PyProgram {
    pub(crate) inner: Arc<Program>,
    /// `kernels`, built on first use so that each Kernel object is created once.
    kernels: PyOnceLock<Py<PyMappingProxy>>,
}

impl PyProgram {
    pub(crate) fn new(p: Program) -> Self {
        PyProgram { inner: Arc::new(p), kernels: PyOnceLock::new() }
    }
}

#[pymethods]
impl PyProgram {
    /// The binary format (versioned, checksummed).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyBytes>, Error> {
        let p = Arc::clone(&self.inner);
        let bytes = py.detach(|| guard(|| Ok(p.to_bytes())))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Read the binary format from bytes or any bytes-like object (bytearray, memoryview, a
    /// NumPy uint8 array); `name` is used in error messages.
    #[staticmethod]
    #[pyo3(signature = (data, name = "<bytes>"))]
    fn from_bytes(py: Python<'_>, data: &Bound<'_, PyAny>, name: &str) -> Result<Self, Error> {
        let p = if let Ok(b) = data.extract::<PyBackedBytes>() {
            py.detach(|| guard(|| Ok(Program::from_bytes(&b, name)?)))?
        } else {
            let buf = PyBuffer::<u8>::get(data).map_err(|_| {
                let ty = data.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                Error::Py(PyTypeError::new_err(format!("from_bytes takes bytes or a bytes-like object, got {ty}")))
            })?;
            let bytes = buf.to_vec(py)?;
            py.detach(|| guard(|| Ok(Program::from_bytes(&bytes, name)?)))?
        };
        Ok(PyProgram::new(p))
    }

    /// Load an nvcc `.cubin` (a path, or its bytes) with no cuobjdump step: the code of each
    /// function is decoded from its sm_70 instruction words, and the cubin's constant banks,
    /// `__device__` data and relocations are attached. `kernel`: decode only that kernel (and the
    /// functions -G code calls). A word the decoder does not know raises AssemblyError naming the
    /// kernel, the offset, the word and the nearest known opcode.
    #[staticmethod]
    #[pyo3(signature = (cubin, kernel = None))]
    fn from_cubin(py: Python<'_>, cubin: &Bound<'_, PyAny>, kernel: Option<String>) -> Result<Self, Error> {
        let (data, name) = if let Ok(b) = cubin.extract::<PyBackedBytes>() {
            (b.to_vec(), "<cubin>".to_string())
        } else {
            let path: PathBuf = cubin.extract().map_err(|_| {
                let ty = cubin.get_type().name().map(|n| n.to_string()).unwrap_or_default();
                Error::Py(PyTypeError::new_err(format!("from_cubin takes a path or bytes, got {ty}")))
            })?;
            let name = path.display().to_string();
            let data = std::fs::read(&path).map_err(|err| Error::Io { path: name.clone(), err })?;
            (data, name)
        };
        let p = py.detach(|| guard(|| Ok(otc_asm::program_from_cubin(&data, &name, kernel.as_deref())?)))?;
        Ok(PyProgram::new(p))
    }

    /// Canonical text (the own dialect) that assembles back to the same code.
    fn disassemble(&self, py: Python<'_>) -> Result<String, Error> {
        let p = Arc::clone(&self.inner);
        py.detach(|| guard(|| Ok(otc_asm::disassemble(&p))))
    }

    /// Write the binary format to `path`.
    fn save(&self, py: Python<'_>, path: PathBuf) -> Result<(), Error> {
        let p = Arc::clone(&self.inner);
        py.detach(|| {
            let bytes = guard(|| Ok(p.to_bytes()))?;
            std::fs::write(&path, bytes).map_err(|err| Error::Io { path: path.display().to_string(), err })
        })
    }

    /// Read-only mapping kernel name -> Kernel, in source order.
    #[getter]
    fn kernels<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyMappingProxy>> {
        let proxy = self.kernels.get_or_try_init(py, || -> PyResult<_> {
            let dict = PyDict::new(py);
            for (index, k) in self.inner.kernels.iter().enumerate() {
                let kernel = PyKernel { program: Arc::clone(&self.inner), index };
                dict.set_item(&k.name, Bound::new(py, kernel)?)?;
            }
            Ok(PyMappingProxy::new(py, dict.as_mapping()).unbind())
        })?;
        Ok(proxy.bind(py).clone())
    }

    /// The module's `__device__` variables (from a cubin), {name: (offset in the global
    /// segment, size in bytes)}; empty without a cubin.
    #[getter]
    fn globals(&self) -> std::collections::BTreeMap<String, (u64, u64)> {
        self.inner.globals.symbols.iter().map(|s| (s.name.clone(), (s.offset, s.size))).collect()
    }

    /// Equal when kernels, code, metadata and source line numbers are all equal.
    fn __eq__(&self, other: &Bound<'_, PyProgram>) -> bool {
        *self.inner == *other.get().inner
    }

    fn __repr__(&self) -> String {
        let names: Vec<String> = self.inner.kernels.iter().map(|k| format!("'{}'", k.name)).collect();
        let n: usize = self.inner.kernels.iter().map(|k| k.instructions.len()).sum();
        format!("<Program kernels=[{}] instructions={n}>", names.join(", "))
    }
}

/// One kernel of a Program. Immutable.
#[pyclass(module = "otc_emu._core", name = "Kernel", frozen)]
pub struct PyKernel {
    program: Arc<Program>,
    index: usize,
}

impl PyKernel {
    fn k(&self) -> &Kernel {
        &self.program.kernels[self.index]
    }
}

#[pymethods]
impl PyKernel {
    #[getter]
    fn name(&self) -> &str {
        &self.k().name
    }

    /// Declared parameters in order, or None when undeclared (a cuobjdump listing).
    #[getter]
    fn params(&self) -> Option<Vec<PyParam>> {
        self.k().params.as_ref().map(|ps| {
            ps.iter()
                .map(|p| PyParam { name: p.name.clone(), ty: p.ty.name(), offset: p.offset, size: p.ty.size() })
                .collect()
        })
    }

    /// Registers per thread: declared (`.regs`, listing REG count) or inferred from the code.
    #[getter]
    fn num_regs(&self) -> u32 {
        self.k().num_regs
    }

    /// Whether `num_regs` was declared rather than inferred.
    #[getter]
    fn regs_declared(&self) -> bool {
        self.k().regs_declared
    }

    /// Static shared memory per CTA in bytes, or None when unknown.
    #[getter]
    fn shared_bytes(&self) -> Option<u32> {
        self.k().shared_bytes
    }

    /// Local memory per thread in bytes, or None when unknown.
    #[getter]
    fn local_bytes(&self) -> Option<u32> {
        self.k().local_bytes
    }

    /// Constant-bank images the kernel sees at launch, {bank: bytes from offset 0} (from a
    /// cubin; empty otherwise). `Device.write_constant` on a bank takes precedence.
    #[getter]
    fn constants(&self) -> std::collections::BTreeMap<u8, std::borrow::Cow<'_, [u8]>> {
        self.k().constants.iter().map(|c| (c.bank, std::borrow::Cow::Borrowed(c.data.as_slice()))).collect()
    }

    /// The relocations of the code, as (pc, ELF type name, target): the offset of a
    /// `__device__` variable in the global segment, or `"FUNCTION+0x1e0"` for an address in
    /// another function (-G calls); the launch patches each address in.
    #[getter]
    fn relocations(&self, py: Python<'_>) -> PyResult<Vec<(u32, &'static str, Py<PyAny>)>> {
        self.k()
            .relocations
            .iter()
            .map(|r| {
                let target = match &r.function {
                    None => r.target.into_pyobject(py)?.into_any().unbind(),
                    Some(f) => format!("{f}+{:#x}", r.target).into_pyobject(py)?.into_any().unbind(),
                };
                Ok((r.pc, r.kind.name(), target))
            })
            .collect()
    }

    /// The instructions this emulator does not execute, as (pc, text, reason): empty for
    /// every kernel whose forms all have semantics (the coverage check of the nvcc corpus).
    fn unsupported(&self, py: Python<'_>) -> Result<Vec<(u32, String, String)>, Error> {
        let p = Arc::clone(&self.program);
        let i = self.index;
        py.detach(|| {
            guard(|| {
                let insts = &p.kernels[i].instructions;
                let mut out: Vec<(u32, String, String)> = otc_sim::unsupported_instructions(insts)
                    .into_iter()
                    .map(|(at, why)| (at as u32 * 16, insts[at].text(), why))
                    .collect();
                for pc in p.kernels[i].unlinked_calls() {
                    let why = "CALL.ABS to another function of the cubin (-G code) without the cubin's relocation \
                               for it: give the cubin";
                    out.push((pc, insts[pc as usize / 16].text(), why.to_string()));
                }
                out.sort();
                Ok(out)
            })
        })
    }

    /// The demangled C++ name (`scale_add<float>(float const*, float*, float, int)`), or None
    /// for a plain (`extern "C"`) name.
    #[getter]
    fn demangled(&self) -> Option<String> {
        self.k().demangled_name()
    }

    /// Number of instructions.
    fn __len__(&self) -> usize {
        self.k().instructions.len()
    }

    /// Canonical text of each instruction (guard, opcode with modifiers, operands; no control
    /// code, no `;`). Instruction i is at byte offset 16*i.
    fn instructions(&self, py: Python<'_>) -> Result<Vec<String>, Error> {
        let p = Arc::clone(&self.program);
        let i = self.index;
        py.detach(|| guard(|| Ok(p.kernels[i].instructions.iter().map(|x| x.text()).collect())))
    }

    /// Source line of each instruction (0 = none).
    fn source_lines(&self) -> Vec<u32> {
        self.k().lines.clone()
    }

    /// Canonical text of this kernel alone.
    fn disassemble(&self, py: Python<'_>) -> Result<String, Error> {
        let p = Arc::clone(&self.program);
        let i = self.index;
        py.detach(|| guard(|| Ok(otc_asm::disassemble_kernel(&p.kernels[i]))))
    }

    fn __repr__(&self) -> String {
        let k = self.k();
        let params = match &k.params {
            None => "None".to_string(),
            Some(ps) => {
                format!("[{}]", ps.iter().map(|p| format!("{} {}", p.ty.name(), p.name)).collect::<Vec<_>>().join(", "))
            }
        };
        format!("<Kernel '{}' instructions={} num_regs={} params={params}>", k.name, k.instructions.len(), k.num_regs)
    }
}

/// A declared kernel parameter: name, type and byte offset in constant bank 0.
#[pyclass(module = "otc_emu._core", name = "Param", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyParam {
    #[pyo3(get)]
    name: String,
    ty: &'static str,
    #[pyo3(get)]
    offset: u32,
    #[pyo3(get)]
    size: u32,
}

#[pymethods]
impl PyParam {
    /// Type name as written in `.param`: u8 s8 u16 s16 u32 s32 u64 s64 f16 f32 f64 ptr.
    #[getter]
    fn r#type(&self) -> &'static str {
        self.ty
    }

    fn __repr__(&self) -> String {
        format!("Param(name='{}', type='{}', offset={:#x})", self.name, self.ty, self.offset)
    }
}
