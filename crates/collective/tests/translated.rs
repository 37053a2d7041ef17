//! A group moved by whole scale-up domains lowers, under the algorithms
//! `simulate::translation` accepts, to the first group's plan with moved endpoints
//! (`Plan::translated`): `train` merges thousands of such groups (TP pairs, expert-DP rings)
//! from one lowering.

use collective::simulate::{self, translation};
use collective::{Algo, Op};
use fabric::presets::build_preset;
use proptest::prelude::*;

mod common;
use common::FABRICS;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn translated_group_lowers_to_moved_plan(fi in 0..FABRICS.len(), op in 0..Op::ALL.len(), start in 0u32..64,
                                             stride in 1u32..=9, size in 2u32..=16,
                                             shift in 0u32..64, whole_domains in any::<bool>(),
                                             channels in 1u32..=4) {
        let f = build_preset(FABRICS[fi]).unwrap().1;
        let n = f.accel_count() as u32;
        let op = Op::ALL[op];
        let from: Vec<u32> = (0..size).map(|i| start + i * stride).collect();
        let Some(room) = from.last().and_then(|&r| (n - 1).checked_sub(r)) else { return Ok(()) };
        // Whole domains (the shift `translation` accepts) or any shift (often refused), within
        // the fabric.
        let shift = if whole_domains {
            shift % (room / f.domain_size + 1) * f.domain_size
        } else {
            shift % (room + 1)
        };
        let to: Vec<u32> = from.iter().map(|&r| r + shift).collect();
        for algo in Algo::ALL {
            let Some(d) = translation(&f, algo, &from, &to) else { continue };
            prop_assert_eq!(d, i64::from(shift));
            let Ok(p) = simulate::lower(&f, &from, op, simulate::REF_SIZE, algo, channels) else {
                continue;
            };
            prop_assert!(p.routed_only(), "{algo:?} plans are translated only without explicit paths");
            let q = simulate::lower(&f, &to, op, simulate::REF_SIZE, algo, channels);
            prop_assert_eq!(q.ok(), p.translated(d));
        }
    }
}

/// `translation` as it was before its shortcut for moves by whole domains: every pair's move
/// and domain move compared, rank by rank.
fn reference(f: &fabric::Fabric, algo: Algo, from: &[u32], to: &[u32]) -> Option<i64> {
    if !matches!(algo, Algo::Ring | Algo::Hierarchical) || from.len() != to.len() || from.is_empty() {
        return None;
    }
    let n = f.accel_count() as u64;
    let d = i64::from(to[0]) - i64::from(from[0]);
    let e = i64::from(f.domain_of(to[0])) - i64::from(f.domain_of(from[0]));
    let same = from.iter().zip(to).all(|(&a, &b)| {
        u64::from(a) < n
            && u64::from(b) < n
            && i64::from(b) - i64::from(a) == d
            && i64::from(f.domain_of(b)) - i64::from(f.domain_of(a)) == e
    });
    same.then_some(d)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any two groups (moved by whole domains or not, back or forth, one rank off, past the
    /// fabric's end, of other lengths): `translation` gives the reference's answer.
    #[test]
    fn translation_is_the_reference(fi in 0..FABRICS.len(), from in prop::collection::vec(0u32..80, 0..10),
                                    domains in -6i64..6, extra in prop_oneof![Just(0i64), -9i64..9], odd in 0usize..12,
                                    algo in 0..Algo::ALL.len()) {
        let f = build_preset(FABRICS[fi]).unwrap().1;
        let d = domains * i64::from(f.domain_size) + extra;
        let mut to: Vec<u32> = from.iter().map(|&r| (i64::from(r) + d).clamp(0, i64::from(u32::MAX)) as u32).collect();
        if let Some(r) = to.get_mut(odd) {
            *r = r.wrapping_add(1);
        }
        if odd == 11 {
            to.pop();
        }
        let algo = Algo::ALL[algo];
        prop_assert_eq!(translation(&f, algo, &from, &to), reference(&f, algo, &from, &to));
    }
}

/// The cases `train` relies on are accepted: TP pairs and rings across domains moved by whole
/// domains; a shift that changes the domain pattern is refused.
#[test]
fn whole_domain_shifts_are_translations() {
    let f = build_preset("fat-tree:gpus=64").unwrap().1;
    let d = f.domain_size;
    assert_eq!(translation(&f, Algo::Ring, &[0, 1], &[d, d + 1]), Some(i64::from(d)));
    assert_eq!(translation(&f, Algo::Ring, &[0, 1], &[2, 3]), Some(2));
    let ring: Vec<u32> = (0..4).map(|i| i * d).collect();
    let moved: Vec<u32> = ring.iter().map(|r| r + 1).collect();
    assert_eq!(translation(&f, Algo::Hierarchical, &ring, &moved), Some(1));
    // Crossing a domain boundary inside the group changes the pattern.
    assert_eq!(translation(&f, Algo::Ring, &[0, 1], &[d - 1, d]), None);
    // Algorithms that read more than ranks and domains are not translated.
    assert_eq!(translation(&f, Algo::Tree, &[0, 1], &[d, d + 1]), None);
    assert_eq!(translation(&f, Algo::Ring, &[0, 1], &[d, d + 2]), None);
    let p = simulate::lower(&f, &[0, d], Op::AllReduce, simulate::REF_SIZE, Algo::Ring, 2).unwrap();
    let q = simulate::lower(&f, &[1, d + 1], Op::AllReduce, simulate::REF_SIZE, Algo::Ring, 2).unwrap();
    assert_eq!(p.translated(1), Some(q));
}
