//! Conversions of the cycle model's per-instruction statistics and timeline to Python data
//! (`otc_emu.device.Stats.per_pc`, `otc_emu.timeline`).

use otc_timing::{MemSpace, Reason, Stats, Timeline, TimelineKind, TimelineSpec, PC_COLUMNS};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// {column name: [value per instruction, pc / 16 order]} (the columns of `otc_timing::PC_COLUMNS`).
pub(crate) fn per_pc_dict<'py>(py: Python<'py>, t: &Stats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (i, name) in PC_COLUMNS.iter().enumerate() {
        let col: Vec<u64> = t.by_pc.iter().map(|row| row[i]).collect();
        d.set_item(*name, PyList::new(py, col)?)?;
    }
    Ok(d)
}

/// A timeline request from Python: (first cycle, end cycle, SM indices).
pub(crate) fn timeline_spec(spec: Option<(u64, u64, Vec<u32>)>) -> Option<TimelineSpec> {
    spec.map(|(from, to, sms)| TimelineSpec { from, to, sms })
}

fn space_name(s: MemSpace) -> &'static str {
    match s {
        MemSpace::Global => "global",
        MemSpace::Shared => "shared",
        MemSpace::Local => "local",
        MemSpace::Const => "constant",
    }
}

fn reason_name(r: Reason) -> &'static str {
    r.name()
}

/// {"from", "to", "sms", "events": [(kind, sm, unit, slot, warp, pc, start, end, detail)]}:
/// kind "issue" (detail: the result cycle), "stall" (the reason), "tensor" (None), "memory"
/// (the space), "cta" ((x, y, z, warps)).
pub(crate) fn timeline_dict<'py>(py: Python<'py>, t: &Timeline) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("from", t.from)?;
    d.set_item("to", t.to)?;
    d.set_item("sms", PyList::new(py, &t.sms)?)?;
    let events = PyList::empty(py);
    for e in &t.events {
        let (kind, detail): (&str, Bound<'py, PyAny>) = match e.kind {
            TimelineKind::Issue { result } => ("issue", result.into_pyobject(py)?.into_any()),
            TimelineKind::Stall(r) => ("stall", reason_name(r).into_pyobject(py)?.into_any()),
            TimelineKind::Tensor => ("tensor", py.None().into_bound(py)),
            TimelineKind::Memory(s) => ("memory", space_name(s).into_pyobject(py)?.into_any()),
            TimelineKind::Cta { cta, warps } => ("cta", PyTuple::new(py, [cta[0], cta[1], cta[2], warps])?.into_any()),
        };
        let item = (kind, e.sm, e.unit, e.slot, e.warp, e.pc, e.start, e.end, detail).into_pyobject(py)?;
        events.append(item)?;
    }
    d.set_item("events", events)?;
    Ok(d)
}
