//! The queue of projected flow completion times.
//!
//! A solve typically reschedules many flows at once (the first solve of an
//! all-to-all schedules a million), and flows then finish in time order. An
//! indexed binary heap pays `O(log n)` cache misses per insertion and per
//! pop; here every solve's reschedules are sorted once into a *run*, runs
//! are merged like a binomial counter (each run at least twice as long as the
//! next), and a pop takes the smallest head among the `O(log n)` runs.
//! Rescheduling a flow leaves its old entry behind; an entry is valid only
//! while it names the flow's current due time, and stale ones are dropped
//! when they reach a head or when their run is merged.
//!
//! Pops come out in `(time, flow id)` order, the order of the indexed heap
//! this replaces, so the event order of a run is unchanged.

/// One scheduled completion: `(due time, flow id)`.
type Entry = (f64, u32);

/// Sorted entries, consumed from `pos`.
#[derive(Debug, Clone, Default)]
struct Run {
    v: Vec<Entry>,
    pos: usize,
}

impl Run {
    fn remaining(&self) -> usize {
        self.v.len() - self.pos
    }
}

/// `(time, id)` order.
#[inline]
fn before(a: &Entry, b: &Entry) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// Completion times of flows `0..n`; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Completions {
    /// Current due time per flow; NaN when the flow is not queued.
    due: Vec<f64>,
    /// Entries set since the last flush, unsorted.
    pending: Vec<Entry>,
    runs: Vec<Run>,
    /// Index of the run holding the minimum valid entry, if known.
    best: Option<usize>,
}

impl Completions {
    /// A queue for flow ids `0..n`.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            due: vec![f64::NAN; n],
            pending: Vec::new(),
            runs: Vec::new(),
            best: None,
        }
    }

    /// Makes room for `n` more [`Completions::set`] calls before the next
    /// pop (exactly, so a solve of millions of flows does not double it).
    pub(crate) fn reserve(&mut self, n: usize) {
        if self.pending.is_empty() {
            self.pending.reserve_exact(n);
        } else {
            self.pending.reserve(n);
        }
    }

    /// Schedules (or reschedules) flow `f` to complete at `t` (not NaN).
    #[inline]
    pub(crate) fn set(&mut self, f: u32, t: f64) {
        debug_assert!(!t.is_nan());
        let d = &mut self.due[f as usize];
        if d.to_bits() == t.to_bits() {
            return;
        }
        *d = t;
        self.pending.push((t, f));
    }

    #[inline]
    fn valid(&self, e: &Entry) -> bool {
        self.due[e.1 as usize].to_bits() == e.0.to_bits()
    }

    /// Turns the pending entries into a run and merges runs until each is
    /// more than twice as long as the next.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.best = None;
        let mut v = std::mem::take(&mut self.pending);
        v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // A flow set twice before a flush: only its last time is valid, and
        // equal entries (the same flow and time) must not be popped twice.
        v.dedup();
        self.runs.push(Run { v, pos: 0 });
        while self.runs.len() >= 2 {
            let k = self.runs.len();
            if self.runs[k - 2].remaining() > 2 * self.runs[k - 1].remaining() {
                break;
            }
            let b = self.runs.pop().unwrap_or_default();
            let a = self.runs.pop().unwrap_or_default();
            let merged = self.merge(&a, &b);
            self.runs.push(Run { v: merged, pos: 0 });
        }
    }

    /// The valid entries of two runs, merged in order.
    fn merge(&self, a: &Run, b: &Run) -> Vec<Entry> {
        let (a, b) = (&a.v[a.pos..], &b.v[b.pos..]);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let e = if before(&b[j], &a[i]) {
                j += 1;
                b[j - 1]
            } else {
                i += 1;
                a[i - 1]
            };
            if self.valid(&e) {
                out.push(e);
            }
        }
        out.extend(a[i..].iter().chain(&b[j..]).filter(|e| self.valid(e)));
        out
    }

    /// The earliest valid `(flow, time)` without removing it.
    pub(crate) fn peek(&mut self) -> Option<(u32, f64)> {
        self.flush();
        if self.best.is_none() {
            let mut best: Option<(usize, Entry)> = None;
            let mut r = 0;
            while r < self.runs.len() {
                let run = &self.runs[r];
                let mut pos = run.pos;
                while pos < run.v.len() && !self.valid(&run.v[pos]) {
                    pos += 1;
                }
                if pos == run.v.len() {
                    self.runs.remove(r);
                    continue;
                }
                let head = run.v[pos];
                self.runs[r].pos = pos;
                if best.is_none_or(|(_, b)| before(&head, &b)) {
                    best = Some((r, head));
                }
                r += 1;
            }
            self.best = best.map(|(r, _)| r);
        }
        self.best.map(|r| {
            let run = &self.runs[r];
            let (t, f) = run.v[run.pos];
            (f, t)
        })
    }

    /// Removes and returns the earliest valid `(flow, time)`.
    pub(crate) fn pop(&mut self) -> Option<(u32, f64)> {
        let top = self.peek()?;
        let r = self.best.take().unwrap_or_default();
        self.runs[r].pos += 1;
        self.due[top.0 as usize] = f64::NAN;
        Some(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a map model: set reschedules, pop yields the minimum by (time, id).
        #[test]
        fn pops_in_time_then_id_order(ops in prop::collection::vec((0u32..30, 0u8..5, 0u32..6), 1..400)) {
            let mut q = Completions::new(30);
            let mut model: std::collections::BTreeMap<u32, f64> = Default::default();
            for (id, op, k) in ops {
                match op {
                    0..=2 => { q.set(id, f64::from(k)); model.insert(id, f64::from(k)); }
                    3 => {
                        let want = model.iter()
                            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)))
                            .map(|(&i, &k)| (i, k));
                        prop_assert_eq!(q.peek(), want);
                    }
                    _ => {
                        let got = q.pop();
                        let want = model.iter()
                            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)))
                            .map(|(&i, &k)| (i, k));
                        prop_assert_eq!(got, want);
                        if let Some((i, _)) = want { model.remove(&i); }
                    }
                }
            }
            while let Some(got) = q.pop() {
                let want = model.iter()
                    .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)))
                    .map(|(&i, &k)| (i, k));
                prop_assert_eq!(Some(got), want);
                model.remove(&got.0);
            }
            prop_assert!(model.is_empty());
        }
    }
}
