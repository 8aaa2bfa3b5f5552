//! `Bucket`: a time bucket (or a head) as a method of the structures takes it from Python.

use pyo3::prelude::*;

/// A bucket or a head as Python's int gives it: read as 64 bits where it fits (always, for
/// a clock's: the fast conversion; PyO3's 128-bit one goes by bytes), else as 128. Held in
/// 128 bits, so that the arithmetic on any 64-bit bucket cannot overflow.
pub struct Bucket(pub i128);

impl<'py> FromPyObject<'py> for Bucket {
    fn extract_bound(value: &Bound<'py, PyAny>) -> PyResult<Self> {
        match value.extract::<i64>() {
            Ok(bucket) => Ok(Bucket(i128::from(bucket))),
            Err(_) => Ok(Bucket(value.extract::<i128>()?)),
        }
    }
}
