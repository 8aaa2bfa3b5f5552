//! `RecentIds`: `callpulse.core.dedup.RecentIds`, the same algorithm on the same hashes (the
//! unit tests of `tests/unit/test_dedup.py` run on both): open-addressing tables of 64-bit
//! hashes, one per shard, linear probing, a removal shifting back the entries after it, and
//! per bucket the low 32 bits of each hash it added, so that a bucket's ids can be taken out
//! again when it expires. The Python class probes `array.array` slots, each read an int
//! object; here a slot is a machine integer.

use std::collections::VecDeque;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::bucket::Bucket;

const MIN_SLOTS: usize = 64;
const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
const LOW: i64 = 0xFFFF_FFFF;
const LOOK_BACK: usize = 4;
const MAX_CAPACITY: i128 = 1 << 30;

/// The ids of events seen in the last `horizon` buckets, up to `capacity` ids.
#[pyclass(module = "callpulse.core._native")]
pub struct RecentIds {
    horizon: i128,
    capacity: usize,
    tables: Vec<Vec<i64>>,
    counts: Vec<usize>,
    count: usize,
    buckets: VecDeque<(i128, Vec<u32>)>,
    /// Ids forgotten early, over capacity.
    #[pyo3(get)]
    evicted: usize,
}

fn home(key: i64, mask: usize) -> usize {
    // An arithmetic shift, as Python's on a negative hash.
    ((key >> SHARD_BITS) as usize) & mask
}

impl RecentIds {
    fn remove(&mut self, low: u32) {
        let shard = (low as usize) & (SHARDS - 1);
        let table = &mut self.tables[shard];
        let mask = table.len() - 1;
        let mut slot = ((low >> SHARD_BITS) as usize) & mask;
        loop {
            let held = table[slot];
            if held == 0 {
                return; // not held (cannot happen: every id of a bucket's list is)
            }
            if held & LOW == i64::from(low) {
                break;
            }
            slot = (slot + 1) & mask;
        }
        // Shift back each entry after it in the run that would no longer be found from its
        // home slot once this one is free.
        let mut free = slot;
        loop {
            slot = (slot + 1) & mask;
            let held = table[slot];
            if held == 0 {
                break;
            }
            let start = home(held, mask);
            let passes = if start <= slot {
                start <= free && free < slot
            } else {
                free >= start || free < slot
            };
            if passes {
                table[free] = held;
                free = slot;
            }
        }
        table[free] = 0;
        self.count -= 1;
        self.counts[shard] -= 1;
    }

    fn forget(&mut self, lows: &[u32]) -> usize {
        for low in lows {
            self.remove(*low);
        }
        lows.len()
    }

    fn drop_oldest(&mut self) {
        while self.count > self.capacity {
            let Some((_, lows)) = self.buckets.pop_front() else {
                break;
            };
            self.evicted += self.forget(&lows);
        }
    }

    fn resize(&mut self, shard: usize, size: usize) {
        let old = std::mem::replace(&mut self.tables[shard], vec![0; size]);
        let table = &mut self.tables[shard];
        let mask = size - 1;
        for key in old.into_iter().filter(|key| *key != 0) {
            let mut slot = home(key, mask);
            while table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            table[slot] = key;
        }
    }
}

#[pymethods]
impl RecentIds {
    #[new]
    fn new(horizon: i128, capacity: i128) -> PyResult<Self> {
        if !(0 < capacity && capacity <= MAX_CAPACITY) {
            return Err(PyValueError::new_err(format!(
                "capacity must be 1..{MAX_CAPACITY}, not {capacity}"
            )));
        }
        Ok(RecentIds {
            horizon,
            capacity: capacity as usize,
            tables: vec![vec![0; MIN_SLOTS]; SHARDS],
            counts: vec![0; SHARDS],
            count: 0,
            buckets: VecDeque::new(),
            evicted: 0,
        })
    }

    fn __len__(&self) -> usize {
        self.count
    }

    /// The share of `capacity` in use, 0..1.
    #[getter]
    fn fill(&self) -> f64 {
        self.count as f64 / self.capacity as f64
    }

    /// The tables' size in ids (8 bytes each).
    #[getter]
    fn slots(&self) -> usize {
        self.tables.iter().map(Vec::len).sum()
    }

    /// Record `event_id` at `bucket`; return False if it was already recorded.
    fn add(&mut self, event_id: &Bound<'_, PyAny>, bucket: Bucket) -> PyResult<bool> {
        let key = event_id.hash()? as i64;
        Ok(self.add_hash(key, bucket))
    }

    /// `add` of an id already hashed to `key`.
    fn add_hash(&mut self, key: i64, bucket: Bucket) -> bool {
        let bucket = bucket.0;
        let key = if key == 0 { 1 } else { key }; // 0 marks a free slot
        let shard = (key as usize) & (SHARDS - 1);
        let table = &mut self.tables[shard];
        let mask = table.len() - 1;
        let mut slot = home(key, mask);
        loop {
            let held = table[slot];
            if held == 0 {
                break;
            }
            if held == key {
                return false;
            }
            slot = (slot + 1) & mask;
        }
        table[slot] = key;
        let size = table.len();
        self.count += 1;
        self.counts[shard] += 1;
        let held_here = self.counts[shard];
        let low = (key & LOW) as u32;
        // Events mostly arrive in time order: the newest lists are looked at, a few of them.
        let len = self.buckets.len();
        match (1..=len.min(LOOK_BACK)).find(|back| self.buckets[len - back].0 == bucket) {
            Some(back) => self.buckets[len - back].1.push(low),
            None => self.buckets.push_back((bucket, vec![low])),
        }
        if self.count > self.capacity {
            self.drop_oldest();
        }
        if 2 * held_here > size {
            self.resize(shard, 2 * size);
        }
        true
    }

    /// Forget ids of buckets older than `head - horizon`.
    fn expire(&mut self, head: Bucket) {
        let head = head.0;
        let oldest_kept = head.saturating_sub(self.horizon);
        while self.buckets.front().is_some_and(|(bucket, _)| *bucket < oldest_kept) {
            if let Some((_, lows)) = self.buckets.pop_front() {
                self.forget(&lows);
            }
        }
        for shard in 0..SHARDS {
            let size = self.tables[shard].len();
            if size > MIN_SLOTS && 8 * self.counts[shard] < size {
                self.resize(shard, MIN_SLOTS.max(size / 4));
            }
        }
    }

    /// The tables, as the Python class keeps them (for the tests).
    #[getter]
    fn _tables<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for table in &self.tables {
            out.append(PyList::new(py, table)?)?;
        }
        Ok(out)
    }

    /// Each bucket's list of the low halves of its hashes, oldest first (for the tests).
    #[getter]
    fn _buckets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for (bucket, lows) in &self.buckets {
            out.append((bucket, PyList::new(py, lows)?))?;
        }
        Ok(out)
    }
}
