//! `RollingCounters`: `callpulse.core.windows.RollingCounters`, the same through the same
//! methods (the unit tests of `tests/unit/test_windows.py` run on both). What it saves is
//! the cost of each addition: the Python class adds to `array.array` cells, and every one of
//! those goes through the generic item protocol with an int object on each side (several
//! hundred nanoseconds an `add`, compiled by mypyc or not); here a cell is a machine integer.
//!
//! Layout, as the Python class's: a ring of `max(spans) + 1` buckets, the first `narrow`
//! fields counts in 8 bits, the others in 32; a cell that outgrows its width keeps its whole
//! value in `spill` (its cell then stays 0), exact while it stays under 2**63 over the
//! number of slots; past that an addition is refused and nothing of its call kept. Each
//! window keeps the running sums of its closed buckets, in 64 bits.

use std::collections::HashMap;

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::bucket::Bucket;

const LIMIT: i128 = 1 << 63;

/// A fixed set of integer fields summed over several trailing windows of buckets.
#[pyclass(module = "callpulse.core._native")]
pub struct RollingCounters {
    fields: usize,
    narrow: usize,
    spans: Vec<i128>,
    size: i128,
    counts: Vec<u8>,
    ring: Vec<i32>,
    spill: HashMap<usize, i64>,
    sums: Vec<i64>,
    head: i128,
}

impl RollingCounters {
    fn slot(&self, bucket: i128) -> usize {
        bucket.rem_euclid(self.size) as usize
    }

    /// The whole value of `field` in the bucket at `slot`.
    fn value(&self, slot: usize, field: usize) -> i64 {
        if !self.spill.is_empty() {
            if let Some(held) = self.spill.get(&(slot * self.fields + field)) {
                return *held;
            }
        }
        if field < self.narrow {
            i64::from(self.counts[slot * self.narrow + field])
        } else {
            let wide = self.fields - self.narrow;
            i64::from(self.ring[slot * wide + field - self.narrow])
        }
    }

    /// Store `value` as the whole value of `field` in the bucket at `slot`: in its cell when
    /// it fits there and the cell was not outgrown before, else in `spill`.
    fn store(&mut self, slot: usize, field: usize, value: i64) {
        let key = slot * self.fields + field;
        let spilled = !self.spill.is_empty() && self.spill.contains_key(&key);
        if field < self.narrow {
            let index = slot * self.narrow + field;
            if let (false, Ok(v)) = (spilled, u8::try_from(value)) {
                self.counts[index] = v;
                return;
            }
            self.counts[index] = 0;
        } else {
            let index = slot * (self.fields - self.narrow) + field - self.narrow;
            if let (false, Ok(v)) = (spilled, i32::try_from(value)) {
                self.ring[index] = v;
                return;
            }
            self.ring[index] = 0;
        }
        self.spill.insert(key, value);
    }

    /// The `index`th `(field, amount)` pair of an `add`: a field that is not one of these
    /// counters' is an IndexError; an amount past 64 bits is refused as too large (the
    /// ValueError the Python class raises).
    fn pair(&self, values: &Bound<'_, PyTuple>, index: usize) -> PyResult<(usize, i64)> {
        let pair = values.get_borrowed_item(index)?;
        // A pair is a tuple from every caller; any other sequence of two is read as one.
        let pair = match pair.downcast::<PyTuple>() {
            Ok(pair) => pair.to_owned(),
            Err(_) => PyTuple::new(pair.py(), pair.try_iter()?.collect::<PyResult<Vec<_>>>()?)?,
        };
        let field: i64 = pair.get_borrowed_item(0)?.extract()?;
        if field < 0 || field as usize >= self.fields {
            return Err(PyIndexError::new_err(format!(
                "field {field} is not one of the {} fields",
                self.fields
            )));
        }
        let amount = pair.get_borrowed_item(1)?;
        match amount.extract::<i64>() {
            Ok(amount) => Ok((field as usize, amount)),
            Err(_) => {
                let amount = amount.to_owned();
                Err(PyValueError::new_err(format!("{amount} does not fit field {field}")))
            }
        }
    }

    fn bucket_values(&self, slot: usize) -> Vec<i64> {
        (0..self.fields).map(|field| self.value(slot, field)).collect()
    }

    fn clear(&mut self, slot: usize) {
        let (narrow, wide) = (self.narrow, self.fields - self.narrow);
        self.counts[slot * narrow..(slot + 1) * narrow].fill(0);
        self.ring[slot * wide..(slot + 1) * wide].fill(0);
        if !self.spill.is_empty() {
            let fields = self.fields;
            self.spill.retain(|key, _| key / fields != slot);
        }
    }

    fn window_values(&self, index: usize) -> Vec<i64> {
        let head = self.bucket_values(self.slot(self.head));
        let base = index * self.fields;
        head.iter()
            .enumerate()
            .map(|(field, now)| self.sums[base + field].wrapping_add(*now))
            .collect()
    }
}

#[pymethods]
impl RollingCounters {
    #[new]
    #[pyo3(signature = (fields, spans, start, narrow = 0))]
    fn new(fields: i64, spans: Vec<i64>, start: i128, narrow: i64) -> PyResult<Self> {
        if fields < 1 || spans.is_empty() || spans.iter().any(|&s| s < 1) {
            return Err(PyValueError::new_err(
                "need at least one field and windows of at least one bucket",
            ));
        }
        if !(0..=fields).contains(&narrow) {
            return Err(PyValueError::new_err(format!(
                "narrow must be 0..{fields}, not {narrow}"
            )));
        }
        let (fields, narrow) = (fields as usize, narrow as usize);
        // Buckets, heads and spans in 128 bits: the arithmetic on them cannot overflow for
        // any bucket Python's int gives in 64, as the Python class's cannot.
        let spans: Vec<i128> = spans.into_iter().map(i128::from).collect();
        let size = spans.iter().max().copied().unwrap_or(1) + 1;
        let slots = size as usize;
        Ok(RollingCounters {
            fields,
            narrow,
            counts: vec![0; slots * narrow],
            ring: vec![0; slots * (fields - narrow)],
            spill: HashMap::new(),
            sums: vec![0; spans.len() * fields],
            spans,
            size,
            head: start,
        })
    }

    /// The newest bucket the windows end at.
    #[getter]
    fn head(&self) -> i128 {
        self.head
    }

    /// Whether `bucket` is inside the longest window (so adding to it counts somewhere).
    fn covers(&self, bucket: Bucket) -> bool {
        let bucket = bucket.0;
        self.head.saturating_sub(self.size) < bucket && bucket <= self.head
    }

    /// Add `(field, amount)` pairs to `bucket`; return False if no window covers it.
    fn add(&mut self, bucket: Bucket, values: &Bound<'_, PyAny>) -> PyResult<bool> {
        let bucket = bucket.0;
        let head = self.head;
        if bucket > head {
            return Err(PyValueError::new_err(format!(
                "bucket {bucket} is ahead of head {head}"
            )));
        }
        if bucket <= head.saturating_sub(self.size) {
            return Ok(false);
        }
        let slot = self.slot(bucket);
        // The callers pass a tuple of pairs; any other sequence is read into one first.
        let tuple;
        let values = match values.downcast::<PyTuple>() {
            Ok(values) => values,
            Err(_) => {
                tuple = PyTuple::new(values.py(), values.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
                &tuple
            }
        };
        // Every pair read (once) and every new value checked before any is stored, so that
        // a value refused leaves nothing of this call behind; in order, so that the first
        // bad pair is the one refused, as in the Python class. A field may be named more
        // than once: its earlier amounts in the call count towards its value.
        let limit = LIMIT / i128::from(self.size);
        let mut pairs: Vec<(usize, i64)> = Vec::with_capacity(values.len());
        for i in 0..values.len() {
            let (field, amount) = self.pair(values, i)?;
            let mut total = i128::from(self.value(slot, field)) + i128::from(amount);
            for &(earlier, earlier_amount) in &pairs {
                if earlier == field {
                    total += i128::from(earlier_amount);
                }
            }
            if !(-limit < total && total < limit) {
                return Err(PyValueError::new_err(format!(
                    "{amount} does not fit field {field}"
                )));
            }
            pairs.push((field, amount));
        }
        for &(field, amount) in &pairs {
            let value = self.value(slot, field) + amount;
            self.store(slot, field, value);
        }
        if bucket != head {
            // A closed bucket: the windows covering it have it in their sums.
            for (window, span) in self.spans.iter().enumerate() {
                if bucket >= head.saturating_sub(*span) {
                    let base = window * self.fields;
                    for &(field, amount) in &pairs {
                        self.sums[base + field] = self.sums[base + field].wrapping_add(amount);
                    }
                }
            }
        }
        Ok(true)
    }

    /// Move the windows' end to `head`; buckets that fall out are subtracted.
    fn advance(&mut self, head: Bucket) {
        let head = head.0;
        let old = self.head;
        if head <= old {
            return;
        }
        let fields = self.fields;
        let closed = self.bucket_values(self.slot(old));
        for window in 0..self.spans.len() {
            let span = self.spans[window];
            let base = window * fields;
            if head.saturating_sub(old) > span {
                // Every bucket this window held has left it, the old head too.
                self.sums[base..base + fields].fill(0);
                continue;
            }
            for leaving in (old - span)..(head - span) {
                let values = self.bucket_values(self.slot(leaving));
                for (field, value) in values.iter().enumerate() {
                    self.sums[base + field] = self.sums[base + field].wrapping_sub(*value);
                }
            }
            for (field, value) in closed.iter().enumerate() {
                self.sums[base + field] = self.sums[base + field].wrapping_add(*value);
            }
        }
        // The slots of the new buckets held buckets that have now left every window.
        for bucket in (old + 1)..=head.min(old.saturating_add(self.size)) {
            let slot = self.slot(bucket);
            self.clear(slot);
        }
        self.head = head;
    }

    /// The sums of window `index` (in the order `spans` were given).
    fn window<'py>(&self, py: Python<'py>, index: i64) -> PyResult<Bound<'py, PyList>> {
        if index < 0 || index as usize >= self.spans.len() {
            return Err(PyIndexError::new_err(format!("no window {index}")));
        }
        PyList::new(py, self.window_values(index as usize))
    }

    /// The sums of every window (as `window` gives each), read in one pass.
    fn windows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let head = self.bucket_values(self.slot(self.head));
        let fields = self.fields;
        let out = PyList::empty(py);
        for window in 0..self.spans.len() {
            let base = window * fields;
            let sums = head
                .iter()
                .enumerate()
                .map(|(field, now)| self.sums[base + field].wrapping_add(*now));
            out.append(PyList::new(py, sums)?)?;
        }
        Ok(out)
    }

    /// Whether every window sums to zero on every field.
    fn is_empty(&self) -> bool {
        (0..self.spans.len()).all(|w| self.window_values(w).iter().all(|v| *v == 0))
    }
}

