//! `callpulse.core._native`: the innermost structures of `callpulse.core`, in Rust.
//!
//! Each class here is a Python class of the core again, with the same methods and the same
//! behaviour; the Python one stays the definition, and is used wherever this extension is
//! not built (see `hatch_build.py`). What they save is what mypyc cannot: their state is
//! machine integers, not int objects in `array.array` cells, and a scrape's text is bytes
//! written into a buffer, not a string object per part of a line.

use pyo3::prelude::*;

mod dedup;
mod lines;
mod windows;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<windows::RollingCounters>()?;
    m.add_class::<dedup::RecentIds>()?;
    m.add_class::<lines::LineBuffers>()?;
    Ok(())
}
