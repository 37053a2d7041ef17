//! Properties of the standalone max-min solver.

mod common;

use common::{close, naive_maxmin};
use engine::maxmin;
use engine::EngineError;
use proptest::prelude::*;

fn instance() -> impl Strategy<Value = (Vec<f64>, Vec<(Vec<u32>, u32)>)> {
    (1usize..7).prop_flat_map(|l| {
        (
            prop::collection::vec(prop_oneof![1.0f64..10.0, Just(4.0)], l),
            prop::collection::vec((prop::collection::vec(0..l as u32, 1..5), 1u32..5), 1..12),
        )
    })
}

fn load(caps: &[f64], flows: &[(Vec<u32>, u32)], rate: &[f64]) -> Vec<f64> {
    let mut used = vec![0.0; caps.len()];
    for ((p, w), r) in flows.iter().zip(rate) {
        for &l in p {
            used[l as usize] += f64::from(*w) * r;
        }
    }
    used
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No link over capacity; every flow has a saturated link on which its
    /// rate is the largest.
    #[test]
    fn feasible_and_maxmin_optimal((caps, flows) in instance()) {
        let refs: Vec<(&[u32], u32)> = flows.iter().map(|(p, w)| (p.as_slice(), *w)).collect();
        let rate = maxmin::solve(&caps, &refs);
        let used = load(&caps, &flows, &rate);
        for (u, c) in used.iter().zip(&caps) {
            prop_assert!(*u <= c * (1.0 + 1e-9), "link over capacity: {u} > {c}");
        }
        for (i, (p, _)) in flows.iter().enumerate() {
            prop_assert!(rate[i] > 0.0 && rate[i].is_finite());
            let has_bottleneck = p.iter().any(|&l| {
                let l = l as usize;
                let saturated = used[l] >= caps[l] * (1.0 - 1e-9);
                let is_max = flows.iter().enumerate()
                    .filter(|(_, (q, _))| q.contains(&(l as u32)))
                    .all(|(j, _)| rate[j] <= rate[i] * (1.0 + 1e-9));
                saturated && is_max
            });
            prop_assert!(has_bottleneck, "flow {i} has no bottleneck");
        }
    }

    /// Agrees with an independent naive implementation.
    #[test]
    fn matches_naive((caps, flows) in instance()) {
        let refs: Vec<(&[u32], u32)> = flows.iter().map(|(p, w)| (p.as_slice(), *w)).collect();
        let rate = maxmin::solve(&caps, &refs);
        let naive = naive_maxmin(&caps, &flows);
        for (a, b) in rate.iter().zip(&naive) {
            prop_assert!(close(*a, *b, 1e-9), "{a} vs {b}");
        }
    }

    /// A weight-w flow gets the same rate as w identical unit flows.
    #[test]
    fn weight_equals_duplication((caps, flows) in instance()) {
        let refs: Vec<(&[u32], u32)> = flows.iter().map(|(p, w)| (p.as_slice(), *w)).collect();
        let rate = maxmin::solve(&caps, &refs);
        let mut dup: Vec<(&[u32], u32)> = Vec::new();
        let mut first = Vec::new();
        for (p, w) in &flows {
            first.push(dup.len());
            for _ in 0..*w {
                dup.push((p.as_slice(), 1));
            }
        }
        let r2 = maxmin::solve(&caps, &dup);
        for (i, &j) in first.iter().enumerate() {
            prop_assert!(close(rate[i], r2[j], 1e-9));
        }
    }
}

#[test]
fn closed_forms() {
    // Two flows on one link share it equally.
    let r = maxmin::solve(&[10.0], &[(&[0], 1), (&[0], 1)]);
    assert_eq!(r, vec![5.0, 5.0]);
    // Classic parking lot: long flow over two links, one short flow each.
    let r = maxmin::solve(&[10.0, 4.0], &[(&[0, 1], 1), (&[0], 1), (&[1], 1)]);
    assert_eq!(r, vec![2.0, 8.0, 2.0]);
    // A repeated link counts twice.
    let r = maxmin::solve(&[10.0], &[(&[0, 0], 1)]);
    assert_eq!(r, vec![5.0]);
    // Weights.
    let r = maxmin::solve(&[12.0], &[(&[0], 3), (&[0], 1)]);
    assert_eq!(r, vec![3.0, 3.0]);
    // Empty path is unconstrained.
    let r = maxmin::solve(&[1.0], &[(&[], 1)]);
    assert_eq!(r, vec![f64::INFINITY]);
}

#[test]
fn try_solve_rejects_bad_input() {
    assert!(matches!(
        maxmin::try_solve(&[0.0], &[]),
        Err(EngineError::InvalidCapacity { .. })
    ));
    assert!(matches!(
        maxmin::try_solve(&[1.0], &[(&[1], 1)]),
        Err(EngineError::InvalidLink { .. })
    ));
    assert!(matches!(
        maxmin::try_solve(&[1.0], &[(&[0], 0)]),
        Err(EngineError::InvalidWeight { .. })
    ));
}
