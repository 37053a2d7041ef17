//! An indexed binary min-heap over dense `u32` ids with `f64` keys.
//!
//! Unlike a lazy [`std::collections::BinaryHeap`], every id appears at most
//! once and its key can be decreased, increased or removed in `O(log n)`.
//! Ties between equal keys are broken by the smaller id, so the pop order is
//! a total, deterministic order.

/// Marker for "not in the heap".
const ABSENT: u32 = u32::MAX;

/// Indexed min-heap keyed by `(key, id)`. Each slot holds its key beside its id, so sifting
/// compares keys without a second load through the id.
#[derive(Debug, Clone, Default)]
pub(crate) struct IndexedMinHeap {
    heap: Vec<(f64, u32)>,
    pos: Vec<u32>,
}

/// Whether slot `a` orders before slot `b`: by key, then by id.
#[inline(always)]
fn less(a: (f64, u32), b: (f64, u32)) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

impl IndexedMinHeap {
    /// A heap able to hold ids `0..n`.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            heap: Vec::new(),
            pos: vec![ABSENT; n],
        }
    }

    /// Number of ids currently in the heap.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether `id` is in the heap.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.pos[id as usize] != ABSENT
    }

    /// Inserts `id` with `key`, or changes its key if it is already present.
    /// `key` must not be NaN.
    pub(crate) fn set(&mut self, id: u32, key: f64) {
        debug_assert!(!key.is_nan());
        let p = self.pos[id as usize];
        if p == ABSENT {
            let i = self.heap.len();
            self.heap.push((key, id));
            self.sift_up(i);
        } else {
            let i = p as usize;
            let old = self.heap[i].0;
            self.heap[i].0 = key;
            // A larger key can only move down, a smaller one only up.
            if key > old {
                self.sift_down(i);
            } else if key < old {
                self.sift_up(i);
            }
        }
    }

    /// Removes `id` if present.
    pub(crate) fn remove(&mut self, id: u32) {
        let p = self.pos[id as usize];
        if p == ABSENT {
            return;
        }
        self.remove_at(p as usize);
    }

    /// Removes the entry in slot `i`.
    fn remove_at(&mut self, i: usize) {
        let (_, id) = self.heap[i];
        self.pos[id as usize] = ABSENT;
        let last = self.heap.pop();
        if let Some(last) = last {
            if i < self.heap.len() {
                self.heap[i] = last;
                let i = self.sift_up(i);
                self.sift_down(i);
            }
        }
    }

    /// Gives `id` the key `key` (inserting it if absent) without restoring the heap order:
    /// call [`IndexedMinHeap::heapify`] before the next [`IndexedMinHeap::set`],
    /// [`IndexedMinHeap::remove`] or [`IndexedMinHeap::pop`]. Loading `n` ids this way and
    /// heapifying once costs `O(n)` instead of `O(n log n)`; what is popped afterwards is the
    /// same, since a pop returns the minimum by `(key, id)` whatever the heap's shape.
    /// `key` must not be NaN.
    #[inline]
    pub(crate) fn push_unordered(&mut self, id: u32, key: f64) {
        debug_assert!(!key.is_nan());
        let p = self.pos[id as usize];
        if p == ABSENT {
            self.pos[id as usize] = self.heap.len() as u32;
            self.heap.push((key, id));
        } else {
            self.heap[p as usize].0 = key;
        }
    }

    /// Restores the heap order after [`IndexedMinHeap::push_unordered`] (Floyd's bottom-up
    /// construction; a no-op on a heap already in order).
    pub(crate) fn heapify(&mut self) {
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    /// Removes and returns the minimum `(id, key)`.
    pub(crate) fn pop(&mut self) -> Option<(u32, f64)> {
        let (key, top) = *self.heap.first()?;
        self.pos[top as usize] = ABSENT;
        let last = self.heap.pop().expect("not empty");
        if !self.heap.is_empty() {
            // The last slot moves to the root and can only go down.
            self.heap[0] = last;
            self.sift_down(0);
        }
        Some((top, key))
    }

    /// Removes every id.
    pub(crate) fn clear(&mut self) {
        for &(_, id) in &self.heap {
            self.pos[id as usize] = ABSENT;
        }
        self.heap.clear();
    }

    fn sift_up(&mut self, mut i: usize) -> usize {
        let e = self.heap[i];
        while i > 0 {
            let parent = (i - 1) / 2;
            let p = self.heap[parent];
            if less(e, p) {
                self.heap[i] = p;
                self.pos[p.1 as usize] = i as u32;
                i = parent;
            } else {
                break;
            }
        }
        self.heap[i] = e;
        self.pos[e.1 as usize] = i as u32;
        i
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        let e = self.heap[i];
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let mut c = l;
            let mut ce = self.heap[l];
            if r < n {
                let re = self.heap[r];
                if less(re, ce) {
                    c = r;
                    ce = re;
                }
            }
            if less(ce, e) {
                self.heap[i] = ce;
                self.pos[ce.1 as usize] = i as u32;
                i = c;
            } else {
                break;
            }
        }
        self.heap[i] = e;
        self.pos[e.1 as usize] = i as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The model's minimum by (key, id): what the heap must pop.
    fn model_min(model: &std::collections::BTreeMap<u32, f64>) -> Option<(u32, f64)> {
        model
            .iter()
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)))
            .map(|(&i, &k)| (i, k))
    }

    /// One ordinary operation on the heap and on the model: 0–1 set, 2 remove, 3 pop (which
    /// must return the model's minimum).
    fn apply(
        h: &mut IndexedMinHeap,
        model: &mut std::collections::BTreeMap<u32, f64>,
        id: u32,
        op: u8,
        k: u32,
    ) -> Result<(), TestCaseError> {
        match op {
            0 | 1 => {
                h.set(id, f64::from(k));
                model.insert(id, f64::from(k));
            }
            2 => {
                h.remove(id);
                model.remove(&id);
            }
            _ => {
                let want = model_min(model);
                prop_assert_eq!(h.pop(), want);
                if let Some((i, _)) = want {
                    model.remove(&i);
                }
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn pops_in_key_then_id_order(ops in prop::collection::vec((0u32..20, 0u8..4, 0u32..8), 1..200)) {
            let mut h = IndexedMinHeap::new(20);
            let mut model: std::collections::BTreeMap<u32, f64> = Default::default();
            for (id, op, k) in ops {
                apply(&mut h, &mut model, id, op, k)?;
                prop_assert_eq!(h.len(), model.len());
                for i in 0..20 { prop_assert_eq!(h.contains(i), model.contains_key(&i)); }
            }
        }

        /// Batches loaded with `push_unordered` then `heapify`, between ordinary operations,
        /// pop exactly as `set` would have: the minimum by (key, id).
        #[test]
        fn push_unordered_then_heapify_pops_as_set(ops in prop::collection::vec((0u32..20, 0u8..5, 0u32..8), 1..200)) {
            let mut h = IndexedMinHeap::new(20);
            let mut model: std::collections::BTreeMap<u32, f64> = Default::default();
            let mut batch = false;
            for (id, op, k) in ops {
                if op == 4 {
                    h.push_unordered(id, f64::from(k));
                    model.insert(id, f64::from(k));
                    batch = true;
                    continue;
                }
                if batch {
                    h.heapify();
                    batch = false;
                }
                apply(&mut h, &mut model, id, op, k)?;
                prop_assert_eq!(h.len(), model.len());
            }
            if batch {
                h.heapify();
            }
            while let Some(got) = h.pop() {
                let want = model_min(&model);
                prop_assert_eq!(Some(got), want);
                model.remove(&got.0);
            }
            prop_assert!(model.is_empty());
        }
    }
}
