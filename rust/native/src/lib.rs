//! `callpulse.core._native`: the innermost structures of `callpulse.core`, in Rust.
//!
//! Each class here (and the one function) is a Python class (function) of the core again,
//! with the same methods and the same behaviour; the Python one stays the definition, and
//! is used wherever this extension is not built (see `hatch_build.py`). What they save is
//! what mypyc cannot: their state is machine integers, not int objects in `array.array`
//! cells, a scrape's text is bytes written into a buffer, not a string object per part of
//! a line, and an event's instant is read from the datetime's own fields.

use pyo3::prelude::*;

mod bucket;
mod dedup;
mod instants;
mod lines;
mod windows;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<windows::RollingCounters>()?;
    m.add_class::<dedup::RecentIds>()?;
    m.add_class::<lines::LineBuffers>()?;
    m.add_function(wrap_pyfunction!(instants::epoch_seconds, m)?)?;
    Ok(())
}
