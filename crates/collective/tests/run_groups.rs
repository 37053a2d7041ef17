//! `run_groups`: several disjoint groups in one engine run, merged phase by phase.

use collective::simulate::{lower, run_groups};
use collective::{simulate, Algo, CollectiveError, Op, Options};
use fabric::presets::build_preset;
use fabric::Fabric;

fn fabric(spec: &str) -> Fabric {
    build_preset(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).1
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs())
}

const G: f64 = 1073741824.0;

/// One group: the same as `simulate`.
#[test]
fn one_group_equals_simulate() {
    let f = fabric("fat-tree:gpus=64");
    let ranks: Vec<u32> = (0..64).collect();
    for (op, algo) in [
        (Op::AllReduce, Some(Algo::Ring)),
        (Op::AllReduce, Some(Algo::Hierarchical)),
        (Op::AllReduce, Some(Algo::CollNet)),
        (Op::AllReduce, None),
        (Op::AllToAll, Some(Algo::Direct)),
        (Op::AllGather, Some(Algo::HalvingDoubling)),
    ] {
        for size in [8.0, 1048576.0, G] {
            let a = simulate(&f, &ranks, op, size, algo, Options::default()).unwrap();
            let b = run_groups(&f, std::slice::from_ref(&ranks), op, size, algo, Options::default()).unwrap();
            assert_eq!(
                (a.algo, a.protocol, a.ranks, a.flows),
                (b.algo, b.protocol, b.ranks, b.flows)
            );
            assert!(
                rel(a.time_s, b.time_s) < 1e-9,
                "{op} {algo:?} {size}: {} vs {}",
                a.time_s,
                b.time_s
            );
        }
    }
}

/// Groups that share no link run as fast together as alone: one group per NVLink domain
/// (ring, NVLS — whose virtual switch links must be renumbered per group — and direct).
#[test]
fn independent_groups_do_not_interfere() {
    let f = fabric("fat-tree:gpus=64");
    let groups: Vec<Vec<u32>> = (0..8).map(|d| (d * 8..d * 8 + 8).collect()).collect();
    for (op, algo) in [
        (Op::AllReduce, Algo::Ring),
        (Op::AllReduce, Algo::Nvls),
        (Op::AllToAll, Algo::Direct),
        (Op::ReduceScatter, Algo::HalvingDoubling),
    ] {
        let alone = simulate(&f, &groups[3], op, G, Some(algo), Options::default()).unwrap();
        let all = run_groups(&f, &groups, op, G, Some(algo), Options::default()).unwrap();
        assert!(
            rel(alone.time_s, all.time_s) < 1e-9,
            "{op} {algo}: {} alone vs {} together",
            alone.time_s,
            all.time_s
        );
        assert_eq!(all.flows, 8 * alone.flows);
        assert_eq!(all.ranks, 8);
    }
    // CollNet: two groups of four whole domains each; each rank has its own port into SHARP.
    let halves = vec![(0..32).collect::<Vec<u32>>(), (32..64).collect()];
    let alone = simulate(
        &f,
        &halves[0],
        Op::AllReduce,
        G,
        Some(Algo::CollNet),
        Options::default(),
    )
    .unwrap();
    let both = run_groups(&f, &halves, Op::AllReduce, G, Some(Algo::CollNet), Options::default()).unwrap();
    assert!(rel(alone.time_s, both.time_s) < 1e-9);
}

/// Groups that share the network are slowed, never sped up; the merged run carries every
/// group's flows, phase by phase.
#[test]
fn groups_sharing_the_network_contend() {
    let f = fabric("fat-tree:gpus=256,oversub=3");
    // EP-like groups: 8 groups of 32, each spread over 4 domains (one member in 8 per domain).
    let groups: Vec<Vec<u32>> = (0..8u32)
        .map(|g| (0..32u32).map(|k| (k / 8) * 64 + g * 8 + k % 8).collect::<Vec<u32>>())
        .map(|v| {
            let mut v = v;
            v.sort_unstable();
            v
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    assert!(groups.iter().flatten().all(|r| seen.insert(*r)), "disjoint");
    for (op, algo) in [
        (Op::AllToAll, Algo::Direct),
        (Op::AllReduce, Algo::Ring),
        (Op::AllToAll, Algo::Pairwise),
    ] {
        let alone: Vec<f64> = groups
            .iter()
            .map(|g| simulate(&f, g, op, G, Some(algo), Options::default()).unwrap().time_s)
            .collect();
        let all = run_groups(&f, &groups, op, G, Some(algo), Options::default()).unwrap();
        let worst = alone.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "{op} {algo}: worst group alone {:.1} µs, all 8 together {:.1} µs",
            worst * 1e6,
            all.time_s * 1e6
        );
        assert!(all.time_s >= worst * (1.0 - 1e-9));
        let plan_flows: usize = groups
            .iter()
            .map(|g| lower(&f, g, op, G, algo, 2).unwrap().flow_count())
            .sum();
        assert_eq!(all.flows, plan_flows);
    }
}

#[test]
fn bad_groups_are_rejected() {
    let f = fabric("dgx-h100");
    let e = run_groups(&f, &[], Op::AllReduce, G, None, Options::default()).unwrap_err();
    assert!(matches!(e, CollectiveError::BadGroup(_)), "{e}");
    let e = run_groups(
        &f,
        &[vec![0, 1, 2], vec![2, 3]],
        Op::AllReduce,
        G,
        None,
        Options::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("two groups"), "{e}");
    let e = run_groups(&f, &[vec![0, 1], vec![8]], Op::AllReduce, G, None, Options::default()).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    let e = run_groups(
        &f,
        &[vec![0, 1], vec![2, 3]],
        Op::AllToAll,
        G,
        Some(Algo::Ring),
        Options::default(),
    )
    .unwrap_err();
    assert!(matches!(e, CollectiveError::Unsupported { .. }), "{e}");
}
