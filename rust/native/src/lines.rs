//! `LineBuffers`: `callpulse.core.row_text.LineBuffers`, the same lines through the same
//! methods (`tests/unit/test_row_text.py` holds both to the same text). The Python class
//! appends a line's four or five parts to a list, a string object made for its value, and
//! joins them when packed; here a line is written into its family's byte buffer, which
//! `pack` turns into one string and then reuses.

use std::fmt::Write;

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt, PyList, PyString};

/// A buffer per family of a scrape's sample lines, handed on as one string each by `pack`.
#[pyclass(module = "callpulse.core._native")]
pub struct LineBuffers {
    heads: Vec<String>,
    pieces: Vec<Py<PyList>>,
    buffers: Vec<String>,
    key: String,
}

impl LineBuffers {
    /// A line of family `index` (a family's) under the key, `tail` after it; none for a
    /// value of `None`.
    fn key_value(&mut self, index: usize, tail: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if !value.is_none() {
            self.keyed(index, tail, number(value)?);
        }
        Ok(())
    }

    /// A line of family `index` (a family's) under the key, `tail` after it.
    fn keyed(&mut self, index: usize, tail: &str, value: f64) {
        let labels = [self.key.as_str(), tail];
        write(&mut self.buffers[index], &self.heads[index], labels, value);
    }

    /// `index`, if it is a family's; else the error a Python list would raise.
    fn family(&self, index: usize) -> PyResult<usize> {
        if index < self.heads.len() {
            Ok(index)
        } else {
            Err(PyIndexError::new_err(format!("no family {index}")))
        }
    }
}

/// Whether `given` values come for `count` families or tails: the error of the Python class
/// if not.
fn as_many(count: usize, given: usize, what: &str) -> PyResult<()> {
    if count == given {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "{given} values for {count} {what}"
        )))
    }
}

/// A line into `buffer`: `head`, the text of `labels` (up to the value), the value as Go
/// writes it.
fn write(buffer: &mut String, head: &str, labels: [&str; 2], value: f64) {
    buffer.push_str(head);
    buffer.push_str(labels[0]);
    buffer.push_str(labels[1]);
    go_float(value, buffer);
    buffer.push('\n');
}

#[pymethods]
impl LineBuffers {
    #[new]
    fn new(heads: Vec<String>, pieces: Vec<Bound<'_, PyList>>) -> PyResult<Self> {
        if heads.len() != pieces.len() {
            return Err(PyValueError::new_err(format!(
                "{} heads for {} families",
                heads.len(),
                pieces.len()
            )));
        }
        let buffers = vec![String::new(); heads.len()];
        let pieces = pieces.into_iter().map(Bound::unbind).collect();
        Ok(LineBuffers {
            heads,
            pieces,
            buffers,
            key: String::new(),
        })
    }

    fn key(&mut self, text: &str) {
        self.key.clear();
        self.key.push_str(text);
    }

    fn line(&mut self, index: usize, labels: &str, value: f64) -> PyResult<()> {
        let index = self.family(index)?;
        write(
            &mut self.buffers[index],
            &self.heads[index],
            [labels, ""],
            value,
        );
        Ok(())
    }

    fn key_line(&mut self, index: usize, tail: &str, value: f64) -> PyResult<()> {
        let index = self.family(index)?;
        self.keyed(index, tail, value);
        Ok(())
    }

    fn key_lines(
        &mut self,
        indices: &Bound<'_, PyAny>,
        tail: &str,
        values: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        // Read in place, not copied into vectors first: a call is a queue's window's rows.
        as_many(indices.len()?, values.len()?, "families")?;
        let mut places = Vec::with_capacity(values.len()?);
        for index in indices.try_iter()? {
            places.push(self.family(index?.extract()?)?);
        }
        for (index, value) in places.into_iter().zip(values.try_iter()?) {
            self.key_value(index, tail, &value?)?;
        }
        Ok(())
    }

    fn key_each(
        &mut self,
        index: usize,
        tails: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        as_many(tails.len()?, values.len()?, "tails")?;
        let index = self.family(index)?;
        for (tail, value) in tails.try_iter()?.zip(values.try_iter()?) {
            let tail = tail?;
            self.key_value(index, tail.downcast::<PyString>()?.to_str()?, &value?)?;
        }
        Ok(())
    }

    fn pack(&mut self, py: Python<'_>) -> PyResult<()> {
        for (buffer, pieces) in self.buffers.iter_mut().zip(&self.pieces) {
            if !buffer.is_empty() {
                pieces.bind(py).append(text(py, buffer)?)?;
                buffer.clear();
            }
        }
        Ok(())
    }
}

/// A value as `float(value)` makes it: an int read as one (exact to 2**53, then rounded
/// to the nearest as Python rounds), without the float object Python's own conversion makes.
fn number(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(float) = value.downcast::<PyFloat>() {
        return Ok(float.value());
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(whole) = value.extract::<i64>() {
            return Ok(whole as f64);
        }
    }
    value.extract()
}

/// `buffer` as a Python string. Most are ASCII: copied into a new string of one byte a
/// character, which is what Python's own join does, rather than decoded as UTF-8.
fn text<'py>(py: Python<'py>, buffer: &str) -> PyResult<Bound<'py, PyAny>> {
    if !buffer.is_ascii() {
        return Ok(PyString::new(py, buffer).into_any());
    }
    let length = ffi::Py_ssize_t::try_from(buffer.len())?;
    // SAFETY: a new compact ASCII string of `length` characters has `length` bytes of data
    // (and its terminating NUL, already written); they are all written before it is shared.
    unsafe {
        let made = ffi::PyUnicode_New(length, 127);
        if made.is_null() {
            return Err(PyErr::fetch(py));
        }
        std::ptr::copy_nonoverlapping(
            buffer.as_ptr(),
            ffi::PyUnicode_DATA(made).cast::<u8>(),
            buffer.len(),
        );
        Ok(Bound::from_owned_ptr(py, made))
    }
}

/// `value` as Go (and prometheus_client's `floatToGoString`) writes it: as
/// `callpulse.core.row_text.go_float`, from Python's `repr` of a float.
pub fn go_float(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value == f64::INFINITY {
        out.push_str("+Inf");
        return;
    }
    if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
        return;
    }
    if -1e15 < value && value < 1e6 {
        let whole = value.trunc();
        if whole == value && (whole != 0.0 || value.is_sign_positive()) {
            whole_number(whole as i64, out);
            return;
        }
    }
    let text = python_repr(value);
    match text.find('.') {
        // Go switches to exponents sooner than Python (only positive values matter).
        Some(dot) if value > 0.0 && dot > 6 => {
            let mut mantissa = String::with_capacity(text.len());
            mantissa.push_str(&text[..1]);
            mantissa.push('.');
            mantissa.push_str(&text[1..dot]);
            mantissa.push_str(&text[dot + 1..]);
            let kept = mantissa.trim_end_matches(['0', '.']);
            let _ = write!(out, "{kept}e+{:02}", dot - 1);
        }
        _ => out.push_str(&text),
    }
}

/// `whole` and `.0`, as Python's `repr` writes a whole float under 1e16.
fn whole_number(whole: i64, out: &mut String) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut left = whole.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (left % 10) as u8;
        left /= 10;
        if left == 0 {
            break;
        }
    }
    if whole < 0 {
        out.push('-');
    }
    out.extend(digits[at..].iter().map(|&digit| char::from(digit)));
    out.push_str(".0");
}

/// Python's `repr` of a finite float: the shortest digits that read back as it, written
/// in positional notation for exponents -4 to 15 (with at least one digit after the
/// point), else as `d.ddde+XX`.
fn python_repr(value: f64) -> String {
    // Rust's `{:e}` writes the shortest digits (`-1.2345e-5`, `1e16`), but of two as short
    // and as near, the greater; Python the even one. Two can both read back as the value
    // only from 16 digits on (15 are further apart than a double's step); where the last
    // is odd and one less reads back too, the correctly rounded digits of that length
    // (the nearer, or the even of two as near) are Python's.
    let mut scientific = format!("{value:e}");
    let length = scientific.find('e').unwrap_or(scientific.len());
    let significant = scientific[..length]
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    let last = scientific.as_bytes()[length - 1];
    if significant >= 16 && last % 2 == 1 {
        let mut lower = scientific.clone();
        lower.replace_range(length - 1..length, &char::from(last - 1).to_string());
        if lower.parse::<f64>() == Ok(value) {
            let rounded = format!("{value:.*e}", significant - 1);
            if rounded.parse::<f64>() == Ok(value) {
                scientific = rounded;
            }
        }
    }
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        if exponent >= 0 {
            let point = exponent as usize + 1;
            if digits.len() > point {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            } else {
                out.push_str(&digits);
                out.extend(std::iter::repeat('0').take(point - digits.len()));
                out.push_str(".0");
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat('0').take((-exponent - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    }
    out
}
