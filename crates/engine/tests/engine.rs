//! Engine semantics: closed forms, scheduling, invariants and agreement
//! with a from-scratch reference simulator.

mod common;

use common::{build, close, instance_strategy, medium_instance_strategy, reference_run, Spec};
use engine::{Engine, EngineError, Fidelity, Flow, FlowSet, Task, TaskId};
use proptest::prelude::*;

fn flow(path: &[u32], bytes: f64) -> Flow {
    Flow {
        path: path.to_vec(),
        bytes,
        weight: 1,
    }
}

fn transfer(latency: f64, flows: Vec<Flow>) -> Task {
    Task::Transfer { latency, flows }
}

#[test]
fn single_flow_closed_form() {
    let mut e = Engine::new(vec![4.0], Fidelity::Flow).unwrap();
    let t = e.add_task(transfer(0.5, vec![flow(&[0], 10.0)]), &[]).unwrap();
    let r = e.run().unwrap();
    assert_eq!(r.task_start_s[t.0 as usize], 0.0);
    assert_eq!(r.task_end_s[t.0 as usize], 0.5 + 10.0 / 4.0);
    assert_eq!(r.makespan_s, 3.0);
    assert_eq!(r.links[0].bytes, 10.0);
    assert_eq!(r.links[0].busy_s, 2.5);
    assert_eq!(r.links[0].peak_utilisation, 1.0);
}

#[test]
fn two_flows_share_one_link() {
    let mut e = Engine::new(vec![10.0, 100.0], Fidelity::Flow).unwrap();
    // Different paths so they are not merged; both bottlenecked on link 0.
    e.add_task(transfer(0.0, vec![flow(&[0], 10.0), flow(&[0, 1], 10.0)]), &[])
        .unwrap();
    let r = e.run().unwrap();
    assert!(close(r.makespan_s, 2.0, 1e-12), "{}", r.makespan_s);
    assert!(close(r.links[1].peak_utilisation, 0.05, 1e-12));
    // Two separate tasks also share.
    let mut e = Engine::new(vec![10.0], Fidelity::Flow).unwrap();
    let a = e.add_task(transfer(0.0, vec![flow(&[0], 10.0)]), &[]).unwrap();
    let b = e.add_task(transfer(0.0, vec![flow(&[0], 30.0)]), &[]).unwrap();
    let r = e.run().unwrap();
    // a: 10 B at 5 B/s = 2 s; b then has 20 B left at 10 B/s = 2 s more.
    assert!(close(r.task_end_s[a.0 as usize], 2.0, 1e-12));
    assert!(close(r.task_end_s[b.0 as usize], 4.0, 1e-12));
}

#[test]
fn analytical_shares_within_a_task_not_between_tasks() {
    let mut e = Engine::new(vec![10.0, 5.0], Fidelity::Analytical).unwrap();
    let a = e
        .add_task(transfer(1.0, vec![flow(&[0], 10.0), flow(&[0, 1], 10.0)]), &[])
        .unwrap();
    let b = e.add_task(transfer(0.0, vec![flow(&[0], 20.0)]), &[]).unwrap();
    let r = e.run().unwrap();
    assert_eq!(r.task_end_s[a.0 as usize], 1.0 + 10.0 / 5.0);
    assert_eq!(r.task_end_s[b.0 as usize], 2.0);
    assert_eq!(r.links[0].bytes, 40.0);
    // Link 0 busy from 0 to 3 (union of b's [0,2] and a's [1,3], each at its average rate
    // 10 B/s); the two tasks overlap on it in [1,2] (peak 2.0: no contention between tasks).
    assert!(close(r.links[0].busy_s, 3.0, 1e-12));
    assert!(close(r.links[0].peak_utilisation, 2.0, 1e-12));
    assert_eq!(r.solves, 0);
}

#[test]
fn weights_and_merging() {
    // weight 3 on one variable == three identical flows.
    let mut e = Engine::new(vec![12.0], Fidelity::Flow).unwrap();
    e.add_task(
        transfer(
            0.0,
            vec![
                Flow {
                    path: vec![0],
                    bytes: 4.0,
                    weight: 3,
                },
                flow(&[0], 8.0),
            ],
        ),
        &[],
    )
    .unwrap();
    let r1 = e.run().unwrap();
    let mut e = Engine::new(vec![12.0], Fidelity::Flow).unwrap();
    e.add_task(
        transfer(
            0.0,
            vec![flow(&[0], 4.0), flow(&[0], 4.0), flow(&[0], 4.0), flow(&[0], 8.0)],
        ),
        &[],
    )
    .unwrap();
    assert_eq!(e.num_flows(), 2, "identical flows merged");
    let r2 = e.run().unwrap();
    assert_eq!(r1.makespan_s, r2.makespan_s);
    // 4 flows at 3 B/s: 4 B done at 4/3 s; then 4 B left at 12 B/s.
    assert!(close(r1.makespan_s, 4.0 / 3.0 + 4.0 / 12.0, 1e-12));
    assert_eq!(r1.links[0].bytes, 20.0);
}

#[test]
fn repeated_link_counts_twice() {
    let mut e = Engine::new(vec![10.0], Fidelity::Flow).unwrap();
    e.add_task(transfer(0.0, vec![flow(&[0, 0], 10.0)]), &[]).unwrap();
    let r = e.run().unwrap();
    assert!(close(r.makespan_s, 2.0, 1e-12));
    assert_eq!(r.links[0].bytes, 20.0);
}

#[test]
fn empty_and_zero_flows_finish_after_latency() {
    for fid in [Fidelity::Flow, Fidelity::Analytical] {
        let mut e = Engine::new(vec![1.0], fid).unwrap();
        let t = e
            .add_task(transfer(0.25, vec![flow(&[], 5.0), flow(&[0], 0.0)]), &[])
            .unwrap();
        let u = e.add_task(transfer(0.0, vec![]), &[t]).unwrap();
        let r = e.run().unwrap();
        assert_eq!(r.task_end_s[t.0 as usize], 0.25);
        assert_eq!(r.task_end_s[u.0 as usize], 0.25);
        assert_eq!(r.links[0].bytes, 0.0);
    }
}

#[test]
fn compute_fifo_and_dependencies() {
    let mut e = Engine::new(vec![1.0], Fidelity::Flow).unwrap();
    let d = e.add_task(Task::Delay { seconds: 1.0 }, &[]).unwrap(); // 0
    let a = e
        .add_task(
            Task::Compute {
                resource: 7,
                seconds: 2.0,
            },
            &[d],
        )
        .unwrap(); // ready at 1
    let b = e
        .add_task(
            Task::Compute {
                resource: 7,
                seconds: 1.0,
            },
            &[],
        )
        .unwrap(); // ready at 0
    let c = e
        .add_task(
            Task::Compute {
                resource: 7,
                seconds: 1.0,
            },
            &[],
        )
        .unwrap(); // ready at 0
    let x = e
        .add_task(
            Task::Compute {
                resource: 8,
                seconds: 0.5,
            },
            &[],
        )
        .unwrap(); // other resource
    let j = e.add_task(Task::Delay { seconds: 0.0 }, &[a, b, c, x]).unwrap();
    let r = e.run().unwrap();
    let s = |t: TaskId| r.task_start_s[t.0 as usize];
    let en = |t: TaskId| r.task_end_s[t.0 as usize];
    // b runs first (ready at 0, smallest id among ready), then at t=1 both a
    // and c are ready: a has the smaller id.
    assert_eq!((s(b), en(b)), (0.0, 1.0));
    assert_eq!((s(a), en(a)), (1.0, 3.0));
    assert_eq!((s(c), en(c)), (3.0, 4.0));
    assert_eq!((s(x), en(x)), (0.0, 0.5));
    assert_eq!((s(j), en(j)), (4.0, 4.0));
    assert_eq!(r.makespan_s, 4.0);
}

#[test]
fn transfer_after_compute() {
    let mut e = Engine::new(vec![2.0], Fidelity::Flow).unwrap();
    let c = e
        .add_task(
            Task::Compute {
                resource: 0,
                seconds: 1.5,
            },
            &[],
        )
        .unwrap();
    let t = e.add_task(transfer(0.5, vec![flow(&[0], 4.0)]), &[c]).unwrap();
    let r = e.run().unwrap();
    assert_eq!(r.task_start_s[t.0 as usize], 1.5);
    assert_eq!(r.task_end_s[t.0 as usize], 4.0);
}

#[test]
fn input_validation() {
    assert!(matches!(
        Engine::new(vec![1.0, 0.0], Fidelity::Flow),
        Err(EngineError::InvalidCapacity { link: 1, .. })
    ));
    assert!(Engine::new(vec![-1.0], Fidelity::Flow).is_err());
    assert!(Engine::new(vec![f64::NAN], Fidelity::Flow).is_err());
    let mut e = Engine::new(vec![1.0], Fidelity::Flow).unwrap();
    assert!(matches!(
        e.add_task(Task::Delay { seconds: 1.0 }, &[TaskId(0)]),
        Err(EngineError::UnknownDependency { .. })
    ));
    assert!(matches!(
        e.add_task(transfer(0.0, vec![flow(&[1], 1.0)]), &[]),
        Err(EngineError::InvalidLink { link: 1, links: 1 })
    ));
    assert!(matches!(
        e.add_task(transfer(0.0, vec![flow(&[0], -1.0)]), &[]),
        Err(EngineError::InvalidBytes { .. })
    ));
    assert!(matches!(
        e.add_task(transfer(0.0, vec![flow(&[0], f64::INFINITY)]), &[]),
        Err(EngineError::InvalidBytes { .. })
    ));
    assert!(matches!(
        e.add_task(
            transfer(
                0.0,
                vec![Flow {
                    path: vec![0],
                    bytes: 1.0,
                    weight: 0
                }]
            ),
            &[]
        ),
        Err(EngineError::InvalidWeight { .. })
    ));
    assert!(matches!(
        e.add_task(Task::Delay { seconds: f64::NAN }, &[]),
        Err(EngineError::InvalidDuration { .. })
    ));
    assert_eq!(e.num_tasks(), 0, "failed adds leave no trace");
    assert!(EngineError::TooLarge.to_string().contains("u32"));
}

#[test]
fn bottlenecks_ranked() {
    let caps = vec![10.0, 10.0, 5.0];
    let mut e = Engine::new(caps.clone(), Fidelity::Flow).unwrap();
    e.add_task(transfer(0.0, vec![flow(&[0, 2], 10.0), flow(&[1], 10.0)]), &[])
        .unwrap();
    let r = e.run().unwrap();
    let b = r.bottlenecks(&caps, 2);
    assert_eq!(b[0].0, 2);
    assert!(close(b[0].1, 1.0, 1e-12));
    assert_eq!(b[1].0, 0, "tie between links 0 and 1 broken by id");
    assert_eq!(b.len(), 2);
}

#[test]
fn simultaneous_finishes_are_batched() {
    let n = 100u32;
    let mut e = Engine::new(vec![3.0; n as usize], Fidelity::Flow).unwrap();
    let flows = (0..n).map(|l| flow(&[l], 7.0)).collect();
    e.add_task(transfer(0.0, flows), &[]).unwrap();
    let r = e.run().unwrap();
    assert!(close(r.makespan_s, 7.0 / 3.0, 1e-12));
    assert_eq!(r.solves, 2, "one solve at start, one after the batched finish");
}

#[test]
fn empty_engine() {
    let mut e = Engine::new(vec![], Fidelity::Flow).unwrap();
    let r = e.run().unwrap();
    assert_eq!(r.makespan_s, 0.0);
}

/// Conservation: link bytes equal Σ flows bytes × weight × path length.
fn total_flow_bytes(tasks: &[common::Spec]) -> f64 {
    tasks
        .iter()
        .filter_map(|(t, _)| match t {
            Task::Transfer { flows, .. } => Some(
                flows
                    .iter()
                    .map(|f| f.bytes * f64::from(f.weight) * f.path.len() as f64)
                    .sum::<f64>(),
            ),
            _ => None,
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn incremental_equals_from_scratch((caps, tasks) in instance_strategy()) {
        let r = build(&caps, &tasks, Fidelity::Flow).run().unwrap();
        let (start, end) = reference_run(&caps, &tasks);
        for i in 0..tasks.len() {
            prop_assert!(close(r.task_end_s[i], end[i], 1e-9), "task {i}: end {} vs {}", r.task_end_s[i], end[i]);
            prop_assert!(close(r.task_start_s[i], start[i], 1e-9), "task {i}: start {} vs {}", r.task_start_s[i], start[i]);
        }
    }

    #[test]
    fn conservation((caps, tasks) in instance_strategy()) {
        let want = total_flow_bytes(&tasks);
        for fid in [Fidelity::Flow, Fidelity::Analytical] {
            let r = build(&caps, &tasks, fid).run().unwrap();
            let got: f64 = r.links.iter().map(|l| l.bytes).sum();
            prop_assert!(close(got, want, 1e-9), "{got} vs {want}");
            for (l, s) in r.links.iter().enumerate() {
                prop_assert!(s.busy_s <= r.makespan_s * (1.0 + 1e-9) + 1e-12);
                prop_assert!(s.busy_s >= 0.0);
                // Busy at full speed for at least bytes / capacity when peak <= 1.
                if fid == Fidelity::Flow {
                    prop_assert!(s.peak_utilisation <= 1.0 + 1e-9);
                    prop_assert!(s.bytes / caps[l] <= s.busy_s * (1.0 + 1e-9) + 1e-12);
                }
            }
        }
    }

    #[test]
    fn deterministic((caps, tasks) in instance_strategy()) {
        for fid in [Fidelity::Flow, Fidelity::Analytical] {
            let mut e = build(&caps, &tasks, fid);
            let a = e.run().unwrap();
            let b = e.run().unwrap();
            let c = build(&caps, &tasks, fid).run().unwrap();
            prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
            prop_assert_eq!(format!("{a:?}"), format!("{c:?}"));
        }
    }

    #[test]
    fn analytical_closed_form((caps, tasks) in instance_strategy()) {
        // Each transfer lasts latency + the larger of its slowest flow alone and its most
        // loaded link (its own flows only), whatever else runs.
        let r = build(&caps, &tasks, Fidelity::Analytical).run().unwrap();
        for (i, (t, _)) in tasks.iter().enumerate() {
            if let Task::Transfer { latency, flows } = t {
                let alone = flows.iter().filter(|f| !f.path.is_empty())
                    .map(|f| f.bytes / f.path.iter().map(|&l| caps[l as usize]).fold(f64::INFINITY, f64::min))
                    .fold(0.0, f64::max);
                let mut load = vec![0.0; caps.len()];
                for f in flows {
                    for &l in &f.path {
                        load[l as usize] += f.bytes * f64::from(f.weight);
                    }
                }
                let d = load.iter().zip(&caps).map(|(b, c)| b / c).fold(alone, f64::max);
                prop_assert!(close(r.task_end_s[i] - r.task_start_s[i], latency + d, 1e-9));
            }
        }
    }
}

/// The same instance with every transfer given as a [`FlowSet`].
fn build_with_flow_sets(caps: &[f64], tasks: &[common::Spec], fid: Fidelity) -> Engine {
    let mut e = Engine::new(caps.to_vec(), fid).unwrap();
    for (t, d) in tasks {
        match t {
            Task::Transfer { latency, flows } => {
                let mut set = FlowSet::new();
                for f in flows {
                    set.push(&f.path, f.bytes, f.weight);
                }
                e.add_transfer(*latency, &set, d).unwrap();
            }
            other => {
                e.add_task(other.clone(), d).unwrap();
            }
        }
    }
    e
}

/// `tasks`, then every transfer again (half its latency, after the original when `after`),
/// the repeats added with `add_task` (`like = false`) or `add_transfer_like`.
fn build_with_repeats(caps: &[f64], tasks: &[common::Spec], fid: Fidelity, like: bool, after: bool) -> Engine {
    let mut e = build(caps, tasks, fid);
    for (i, (t, _)) in tasks.iter().enumerate() {
        if let Task::Transfer { latency, flows } = t {
            let orig = TaskId(i as u32);
            let deps: Vec<TaskId> = if after { vec![orig] } else { Vec::new() };
            if like {
                e.add_transfer_like(latency * 0.5, orig, &deps).unwrap();
            } else {
                e.add_task(transfer(latency * 0.5, flows.clone()), &deps).unwrap();
            }
        }
    }
    e
}

#[test]
fn set_fidelity_refused_once_transfers_share_flows() {
    let mut e = Engine::new(vec![1.0], Fidelity::Analytical).unwrap();
    let t = e
        .add_task(
            transfer(
                0.0,
                vec![Flow {
                    path: vec![0],
                    bytes: 1.0,
                    weight: 1,
                }],
            ),
            &[],
        )
        .unwrap();
    assert!(e.set_fidelity(Fidelity::Flow));
    assert!(e.set_fidelity(Fidelity::Analytical));
    e.add_transfer_like(0.0, t, &[t]).unwrap();
    assert!(!e.set_fidelity(Fidelity::Flow));
    assert_eq!(e.fidelity(), Fidelity::Analytical);
    assert!(e.set_fidelity(Fidelity::Analytical));
}

/// `priced_transfers_equal_stored_transfers`: `tasks` on an analytical engine, transfers stored
/// and transfers priced beforehand, give the same timeline bit for bit.
fn priced_equals_stored(caps: &[f64], tasks: Vec<common::Spec>, twice: bool) -> Result<(), TestCaseError> {
    let tasks: Vec<common::Spec> = tasks
        .into_iter()
        .map(|(t, d)| match t {
            Task::Transfer { latency, mut flows } if twice => {
                let again = flows.clone();
                flows.extend(again);
                (Task::Transfer { latency, flows }, d)
            }
            t => (t, d),
        })
        .collect();
    let mut stored = build(caps, &tasks, Fidelity::Analytical);
    stored.set_link_stats(false);
    let mut priced = Engine::new(caps.to_vec(), Fidelity::Analytical).unwrap();
    priced.set_link_stats(false);
    let mut pricer = engine::AnalyticalPricer::new(caps);
    let mut any_priced = false;
    for (t, d) in &tasks {
        match t {
            Task::Transfer { latency, flows } => {
                let mut set = FlowSet::new();
                for f in flows {
                    set.push(&f.path, f.bytes, f.weight);
                }
                let seconds = pricer.price(&set).unwrap();
                priced.add_priced_transfer(*latency, seconds, d).unwrap();
                any_priced = true;
            }
            t => {
                priced.add_task(t.clone(), d).unwrap();
            }
        }
    }
    let (a, b) = (stored.run().unwrap(), priced.run().unwrap());
    prop_assert_eq!(a.makespan_s.to_bits(), b.makespan_s.to_bits());
    prop_assert_eq!(format!("{:?}", a.task_start_s), format!("{:?}", b.task_start_s));
    prop_assert_eq!(format!("{:?}", a.task_end_s), format!("{:?}", b.task_end_s));
    prop_assert_eq!(a.events, b.events);
    // A priced transfer keeps the engine analytical; a flow engine refuses one.
    prop_assert_eq!(priced.set_fidelity(Fidelity::Flow), !any_priced);
    let mut flow = Engine::new(caps.to_vec(), Fidelity::Flow).unwrap();
    prop_assert_eq!(flow.add_priced_transfer(0.0, 1.0, &[]), Err(EngineError::NotAnalytical));
    Ok(())
}

/// The pricer refuses what `add_transfer` refuses, with the same error.
#[test]
fn pricer_refuses_what_the_engine_refuses() {
    let caps = vec![1.0, 2.0];
    let cases: [(&[u32], f64, u32); 4] = [(&[2], 1.0, 1), (&[0], f64::NAN, 1), (&[1], -1.0, 1), (&[0, 1], 1.0, 0)];
    for (path, bytes, weight) in cases {
        let mut set = engine::FlowSet::new();
        set.push(&[0], 1.0, 1);
        set.push(path, bytes, weight);
        let mut e = Engine::new(caps.clone(), Fidelity::Analytical).unwrap();
        let want = e.add_transfer(0.0, &set, &[]).unwrap_err();
        let got = engine::AnalyticalPricer::new(&caps).price(&set).unwrap_err();
        assert_eq!(format!("{want:?}"), format!("{got:?}"), "{path:?} {bytes} {weight}");
    }
}

#[test]
fn transfer_like_needs_a_transfer() {
    let mut e = Engine::new(vec![1.0], Fidelity::Analytical).unwrap();
    let d = e.add_task(Task::Delay { seconds: 1.0 }, &[]).unwrap();
    assert_eq!(
        e.add_transfer_like(0.0, d, &[]),
        Err(EngineError::NotATransfer { task: d })
    );
    assert!(matches!(
        e.add_transfer_like(0.0, TaskId(9), &[]),
        Err(EngineError::NotATransfer { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `add_transfer_like` is `add_task` with the same flows again: the same report at both
    /// fidelities, whether the repeat overlaps the original or follows it.
    #[test]
    fn transfer_like_equals_same_flows((caps, tasks) in instance_strategy(), after in any::<bool>()) {
        for fid in [Fidelity::Flow, Fidelity::Analytical] {
            let a = build_with_repeats(&caps, &tasks, fid, false, after);
            let b = build_with_repeats(&caps, &tasks, fid, true, after);
            prop_assert_eq!(a.num_tasks(), b.num_tasks());
            if fid == Fidelity::Flow {
                prop_assert_eq!(a.num_flows(), b.num_flows());
            }
            let (ra, rb) = (a.clone().run().unwrap(), b.clone().run().unwrap());
            prop_assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
        }
    }

    /// Without link statistics an analytical run has the same timeline, and no links.
    #[test]
    fn analytical_without_link_stats_same_times((caps, tasks) in instance_strategy(), after in any::<bool>()) {
        let a = build_with_repeats(&caps, &tasks, Fidelity::Analytical, true, after);
        let mut b = a.clone();
        b.set_link_stats(false);
        let (ra, mut rb) = (a.clone().run().unwrap(), b.run().unwrap());
        prop_assert!(rb.links.is_empty());
        rb.links = ra.links.clone();
        prop_assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
    }

    /// An engine built at one fidelity and switched to the other (`set_fidelity`) reports
    /// what an engine built at that fidelity reports, and can be switched back.
    #[test]
    fn set_fidelity_equals_built_at_fidelity((caps, tasks) in instance_strategy()) {
        for (from, to) in [(Fidelity::Analytical, Fidelity::Flow), (Fidelity::Flow, Fidelity::Analytical)] {
            let mut e = build(&caps, &tasks, from);
            let before = e.run().unwrap();
            prop_assert!(e.set_fidelity(to));
            prop_assert_eq!(e.fidelity(), to);
            let switched = e.run().unwrap();
            let fresh = build(&caps, &tasks, to).run().unwrap();
            prop_assert_eq!(format!("{switched:?}"), format!("{fresh:?}"));
            prop_assert!(e.set_fidelity(from));
            let back = e.run().unwrap();
            prop_assert_eq!(format!("{back:?}"), format!("{before:?}"));
        }
    }

    /// Transfers priced beforehand (`AnalyticalPricer` + `add_priced_transfer`) give the
    /// timeline of the same transfers stored (`add_task`), bit for bit, with flows repeated (so
    /// merged) or not; a flow engine refuses them. Medium instances (many flows, ties).
    #[test]
    fn priced_transfers_equal_stored_transfers((caps, tasks) in medium_instance_strategy(), twice in any::<bool>()) {
        priced_equals_stored(&caps, tasks, twice)?;
    }

    /// The same on small instances: latencies, compute tasks, delays, zero-byte flows.
    #[test]
    fn priced_small_transfers_equal_stored_transfers((caps, tasks) in instance_strategy(), twice in any::<bool>()) {
        priced_equals_stored(&caps, tasks, twice)?;
    }

    /// Analytical runs with link bytes only: the same timeline and bytes per link (so the
    /// same busiest links), busy time and peak utilisation left 0.
    #[test]
    fn analytical_link_bytes_only_same_bytes((caps, tasks) in instance_strategy(), after in any::<bool>()) {
        let a = build_with_repeats(&caps, &tasks, Fidelity::Analytical, true, after);
        let mut b = a.clone();
        b.set_link_bytes_only(true);
        let (ra, mut rb) = (a.clone().run().unwrap(), b.run().unwrap());
        prop_assert_eq!(ra.links.len(), rb.links.len());
        for (x, y) in ra.links.iter().zip(&rb.links) {
            prop_assert_eq!(x.bytes.to_bits(), y.bytes.to_bits());
            prop_assert_eq!((y.busy_s, y.peak_utilisation), (0.0, 0.0));
        }
        prop_assert_eq!(ra.bottlenecks(&caps, 3), rb.bottlenecks(&caps, 3));
        rb.links = ra.links.clone();
        prop_assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
        // The flow fidelity records everything whatever the setting.
        let mut f = build(&caps, &tasks, Fidelity::Flow);
        let full = f.run().unwrap();
        f.set_link_bytes_only(true);
        prop_assert_eq!(format!("{:?}", f.run().unwrap()), format!("{full:?}"));
    }

    /// Bigger transfers than `incremental_equals_from_scratch`: many flows per
    /// link, ties, transfers starting while others run.
    #[test]
    fn medium_instances_equal_from_scratch((caps, tasks) in medium_instance_strategy()) {
        let r = build(&caps, &tasks, Fidelity::Flow).run().unwrap();
        let (start, end) = reference_run(&caps, &tasks);
        for i in 0..tasks.len() {
            prop_assert!(close(r.task_end_s[i], end[i], 1e-9), "task {i}: end {} vs {}", r.task_end_s[i], end[i]);
            prop_assert!(close(r.task_start_s[i], start[i], 1e-9), "task {i}: start {} vs {}", r.task_start_s[i], start[i]);
        }
        for (l, s) in r.links.iter().enumerate() {
            prop_assert!(s.peak_utilisation <= 1.0 + 1e-9);
            prop_assert!(s.bytes / caps[l] <= s.busy_s * (1.0 + 1e-9) + 1e-12);
        }
    }

    /// `add_transfer` with a `FlowSet` is `add_task` with the same flows.
    #[test]
    fn flow_set_equals_flow_vec((caps, tasks) in instance_strategy()) {
        for fid in [Fidelity::Flow, Fidelity::Analytical] {
            let a = build(&caps, &tasks, fid);
            let b = build_with_flow_sets(&caps, &tasks, fid);
            prop_assert_eq!(a.num_flows(), b.num_flows());
            let (ra, rb) = (a.clone().run().unwrap(), b.clone().run().unwrap());
            prop_assert_eq!(format!("{ra:?}"), format!("{rb:?}"));
        }
    }
}

#[test]
fn flow_set_errors_name_the_flow() {
    let mut e = Engine::new(vec![1.0, 1.0], Fidelity::Flow).unwrap();
    let mut set = FlowSet::with_capacity(3, 3);
    set.push(&[0], 1.0, 1);
    set.push(&[1], 1.0, 0);
    assert_eq!(set.len(), 2);
    assert_eq!(set.hops(), 2);
    assert_eq!(
        e.add_transfer(0.0, &set, &[]),
        Err(EngineError::InvalidWeight { flow: 1 })
    );
    set.clear();
    assert!(set.is_empty());
    set.push(&[0, 7], 1.0, 1);
    assert_eq!(
        e.add_transfer(0.0, &set, &[]),
        Err(EngineError::InvalidLink { link: 7, links: 2 })
    );
    set.clear();
    set.push(&[0], f64::NAN, 1);
    assert!(matches!(
        e.add_transfer(0.0, &set, &[]),
        Err(EngineError::InvalidBytes { flow: 0, .. })
    ));
    assert_eq!(
        e.add_transfer(0.0, &FlowSet::new(), &[TaskId(3)]),
        Err(EngineError::UnknownDependency {
            dep: TaskId(3),
            tasks: 0
        })
    );
    assert_eq!(e.num_tasks(), 0);
    assert_eq!(e.num_flows(), 0);
}

/// An all-to-all in miniature: equal flows that all start together. After
/// the first solve every completion leaves the others' rates unchanged
/// (the finished flows were the fastest on their links), so the engine
/// re-solves nothing but the first time: the makespan is exact and each
/// later solve is O(finished flows).
#[test]
fn equal_flows_started_together_match_reference() {
    let caps = vec![10.0, 7.0, 5.0, 3.0, 10.0, 4.0];
    let mut flows = Vec::new();
    for a in 0..6u32 {
        for b in 0..6u32 {
            if a != b {
                flows.push(flow(&[a, b, (a + b) % 6], 12.0));
            }
        }
    }
    let tasks = vec![(transfer(0.0, flows), vec![])];
    let r = build(&caps, &tasks, Fidelity::Flow).run().unwrap();
    let (_, end) = reference_run(&caps, &tasks);
    assert!(close(r.makespan_s, end[0], 1e-12), "{} vs {}", r.makespan_s, end[0]);
}

/// Single-transfer instances: capacities, flows, a link to speed up and a
/// factor.
fn single_transfer(max_hops: usize) -> impl Strategy<Value = (Vec<f64>, Vec<Flow>, prop::sample::Index, f64)> {
    common::caps_strategy(4).prop_flat_map(move |caps| {
        let l = caps.len() as u32;
        (
            Just(caps),
            prop::collection::vec(
                (prop::collection::vec(0..l, 1..=max_hops), 1.0f64..100.0, 1u32..3)
                    .prop_map(|(path, bytes, weight)| Flow { path, bytes, weight }),
                1..6,
            ),
            any::<prop::sample::Index>(),
            1.0f64..3.0,
        )
    })
}

fn makespan(caps: &[f64], flows: &[Flow], fid: Fidelity) -> f64 {
    let mut e = Engine::new(caps.to_vec(), fid).unwrap();
    e.add_task(
        Task::Transfer {
            latency: 0.1,
            flows: flows.to_vec(),
        },
        &[],
    )
    .unwrap();
    e.run().unwrap().makespan_s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Analytical mode: raising a link's capacity never increases the
    /// makespan, whatever the paths.
    #[test]
    fn monotone_in_capacity_analytical((caps, flows, which, factor) in single_transfer(3)) {
        let mut faster = caps.clone();
        faster[which.index(caps.len())] *= factor;
        let (a, b) = (makespan(&caps, &flows, Fidelity::Analytical), makespan(&faster, &flows, Fidelity::Analytical));
        prop_assert!(b <= a * (1.0 + 1e-9), "makespan rose from {a} to {b}");
    }

    /// One transfer: analytical is a lower bound of flow (both of its terms are), and equals
    /// it when every flow has the path to itself (no sharing to model).
    #[test]
    fn analytical_never_slower_than_flow((caps, flows, _which, _factor) in single_transfer(3)) {
        let (a, f) = (makespan(&caps, &flows, Fidelity::Analytical), makespan(&caps, &flows, Fidelity::Flow));
        prop_assert!(a <= f * (1.0 + 1e-9), "analytical {a} > flow {f}");
    }

    /// Flow mode with single-hop flows (sharing is work-conserving per
    /// link): raising a link's capacity never increases the makespan.
    #[test]
    fn monotone_in_capacity_flow((caps, flows, which, factor) in single_transfer(1)) {
        let mut faster = caps.clone();
        faster[which.index(caps.len())] *= factor;
        let (a, b) = (makespan(&caps, &flows, Fidelity::Flow), makespan(&faster, &flows, Fidelity::Flow));
        prop_assert!(b <= a * (1.0 + 1e-9), "makespan rose from {a} to {b}");
    }
}

/// Max-min fairness is not monotone in general (a known property, not an
/// engine bug): with multi-hop flows, speeding up one link can let a
/// competitor take more of a shared link and delay the longest flow. Found
/// by proptest; the from-scratch reference agrees.
#[test]
fn flow_mode_is_not_monotone_in_general() {
    let caps = vec![6.426983948668377, 9.864840648808897, 2.265433972006264];
    let f = |path: &[u32], bytes: f64, weight: u32| Flow {
        path: path.to_vec(),
        bytes,
        weight,
    };
    let flows = vec![
        f(&[1, 0, 0], 80.9130629492797, 2),
        f(&[2], 1.0, 1),
        f(&[1, 2, 1], 1.0, 1),
        f(&[1, 1, 1], 1.0, 1),
    ];
    let base = makespan(&caps, &flows, Fidelity::Flow);
    let task = |fl: &[Flow]| {
        vec![(
            Task::Transfer {
                latency: 0.1,
                flows: fl.to_vec(),
            },
            vec![],
        )]
    };
    let mut rose = false;
    for l in 0..caps.len() {
        let mut faster = caps.clone();
        faster[l] *= 2.541717583901515;
        let m = makespan(&faster, &flows, Fidelity::Flow);
        let (_, end) = reference_run(&faster, &task(&flows));
        assert!(close(m, end[0], 1e-9));
        rose |= m > base * (1.0 + 1e-6);
    }
    assert!(rose, "expected a counterexample to monotonicity");
}

/// Progress observers see monotone counts that end at or below the expected total, and do not
/// change the result.
#[test]
fn progress_observer_sees_the_run_without_changing_it() {
    use std::sync::{Arc, Mutex};
    let build = || {
        // 100,000 independent flows (one link each), so the run is long in events, short in time.
        let mut e = Engine::new(vec![1.0; 100_000], Fidelity::Flow).unwrap();
        let flows: Vec<Flow> = (0..100_000u32)
            .map(|i| Flow {
                path: vec![i],
                bytes: 1.0 + f64::from(i),
                weight: 1,
            })
            .collect();
        e.add_task(Task::Transfer { latency: 0.0, flows }, &[]).unwrap();
        e
    };
    let plain = build().run().unwrap();
    let seen: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let s2 = seen.clone();
    let observed = engine::progress::observe(move |d, t| s2.lock().unwrap().push((d, t)), || build().run().unwrap());
    assert_eq!(plain.makespan_s.to_bits(), observed.makespan_s.to_bits());
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty(), "a long run reports progress");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
    assert!(seen.iter().all(|&(d, t)| d <= t));
}

/// Chains of transfers whose links each carry flows of one size: a size per transfer, or a
/// second size on links of their own (two link ranges: `lo` below `split`, `hi` from it);
/// paths of up to four hops (repeats allowed) or none, transfers with no flows, and
/// zero-byte flows over any links (`chain_engine`).
fn uniform_chain() -> impl Strategy<Value = (Vec<f64>, Vec<Spec2>)> {
    common::caps_strategy(8).prop_flat_map(|caps| {
        let l = caps.len() as u32;
        let split = (l / 2).max(1);
        let flows = |lo: u32, hi: u32| {
            prop::collection::vec(
                (prop::collection::vec(lo..hi, 0..=4), 1u32..4).prop_map(|(path, weight)| (path, weight)),
                0..8,
            )
        };
        let transfer = (
            0.0f64..0.5,
            1.0f64..100.0,
            flows(0, split),
            1.0f64..100.0,
            if split < l {
                flows(split, l).boxed()
            } else {
                Just(Vec::new()).boxed()
            },
        );
        (Just(caps), prop::collection::vec(transfer, 1..7))
    })
}

/// One transfer of [`uniform_chain`]: latency, then (bytes, paths with weights) on each side.
type Spec2 = (f64, f64, Vec<(Vec<u32>, u32)>, f64, Vec<(Vec<u32>, u32)>);

fn chain_engine(caps: &[f64], tasks: &[Spec2], fid: Fidelity) -> Engine {
    let mut e = Engine::new(caps.to_vec(), fid).unwrap();
    let mut prev: Option<TaskId> = None;
    for (lat, b_lo, lo, b_hi, hi) in tasks {
        let mut flows = Vec::new();
        for (path, weight) in lo {
            flows.push(Flow {
                path: path.clone(),
                bytes: *b_lo,
                weight: *weight,
            });
        }
        for (path, weight) in hi {
            flows.push(Flow {
                path: path.clone(),
                bytes: *b_hi,
                weight: *weight,
            });
        }
        // A zero-byte flow over every link: it starts nothing at either fidelity.
        flows.push(Flow {
            path: (0..caps.len() as u32).collect(),
            bytes: 0.0,
            weight: 1,
        });
        // After the previous transfer, and after the first too (an earlier task: no overlap).
        let mut deps: Vec<TaskId> = prev.into_iter().collect();
        if prev.is_some_and(|p| p.0 > 0) {
            deps.push(TaskId(0));
        }
        prev = Some(e.add_task(transfer(*lat, flows), &deps).unwrap());
    }
    e
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `Engine::flow_matches_analytical`: transfers in sequence whose links each carry flows of
    /// one size end at the same times under both fidelities (and under the from-scratch
    /// reference), with the same bytes on every link (up to the order of sums).
    #[test]
    fn uniform_chains_flow_as_analytical((caps, tasks) in uniform_chain()) {
        let mut flow = chain_engine(&caps, &tasks, Fidelity::Flow);
        prop_assert!(flow.flow_matches_analytical());
        let a = chain_engine(&caps, &tasks, Fidelity::Analytical).run().unwrap();
        let f = flow.run().unwrap();
        for (t, (x, y)) in a.task_end_s.iter().zip(&f.task_end_s).enumerate() {
            prop_assert!(close(*x, *y, 1e-9), "task {t}: analytical {x} flow {y}");
        }
        prop_assert!(close(a.makespan_s, f.makespan_s, 1e-9));
        for (l, (x, y)) in a.links.iter().zip(&f.links).enumerate() {
            // Bit for bit within one transfer; over several, summed in another order.
            prop_assert!(close(x.bytes, y.bytes, 1e-12), "link {l}: {} vs {}", x.bytes, y.bytes);
            if tasks.len() == 1 {
                prop_assert!(x.bytes == y.bytes, "link {l}: {} vs {}", x.bytes, y.bytes);
            }
        }
        let specs: Vec<Spec> = (0..tasks.len())
            .map(|t| {
                let (lat, b_lo, lo, b_hi, hi) = &tasks[t];
                let mut flows: Vec<Flow> = lo.iter().map(|(p, w)| Flow { path: p.clone(), bytes: *b_lo, weight: *w }).collect();
                flows.extend(hi.iter().map(|(p, w)| Flow { path: p.clone(), bytes: *b_hi, weight: *w }));
                (transfer(*lat, flows), if t == 0 { vec![] } else { vec![TaskId(t as u32 - 1)] })
            })
            .collect();
        let (_, end) = reference_run(&caps, &specs);
        prop_assert!(close(*end.last().unwrap(), f.makespan_s, 1e-9));
    }
}

/// What `Engine::flow_matches_analytical` refuses: a link carrying two sizes in one transfer,
/// transfers that may overlap, other tasks, and shared flows.
#[test]
fn flow_matches_analytical_refusals() {
    // Two sizes on link 0: the small flow finishes first and the large one then speeds up on
    // link 0 but not past link 1, so the flow run is slower than the analytical bound.
    let caps = vec![10.0, 6.0];
    let mut e = Engine::new(caps.clone(), Fidelity::Flow).unwrap();
    e.add_task(transfer(0.0, vec![flow(&[0], 10.0), flow(&[0, 1], 30.0)]), &[])
        .unwrap();
    assert!(!e.flow_matches_analytical());
    let f = e.run().unwrap().makespan_s;
    let a = makespan(&caps, &[flow(&[0], 10.0), flow(&[0, 1], 30.0)], Fidelity::Analytical) - 0.1;
    assert!(f > a * 1.01, "flow {f} analytical {a}");
    // Two sizes on links of their own, and zero-byte flows anywhere: accepted.
    let mut e = Engine::new(caps.clone(), Fidelity::Flow).unwrap();
    e.add_task(
        transfer(0.0, vec![flow(&[0], 10.0), flow(&[1], 30.0), flow(&[0, 1], 0.0)]),
        &[],
    )
    .unwrap();
    assert!(e.flow_matches_analytical());
    // The same sizes in two transfers in sequence: accepted; not in sequence: refused.
    let mut e = Engine::new(caps.clone(), Fidelity::Flow).unwrap();
    let a = e.add_task(transfer(0.0, vec![flow(&[0], 10.0)]), &[]).unwrap();
    e.add_task(transfer(0.0, vec![flow(&[0, 1], 30.0)]), &[a]).unwrap();
    assert!(e.flow_matches_analytical());
    let mut e = Engine::new(caps.clone(), Fidelity::Flow).unwrap();
    e.add_task(transfer(0.0, vec![flow(&[0], 10.0)]), &[]).unwrap();
    e.add_task(transfer(0.0, vec![flow(&[0, 1], 10.0)]), &[]).unwrap();
    assert!(!e.flow_matches_analytical());
    // Other tasks.
    let mut e = Engine::new(caps.clone(), Fidelity::Flow).unwrap();
    let d = e.add_task(Task::Delay { seconds: 1.0 }, &[]).unwrap();
    e.add_task(transfer(0.0, vec![flow(&[0], 10.0)]), &[d]).unwrap();
    assert!(!e.flow_matches_analytical());
    // Transfers sharing flows (analytical only).
    let mut e = Engine::new(caps, Fidelity::Analytical).unwrap();
    let a = e.add_task(transfer(0.0, vec![flow(&[0], 10.0)]), &[]).unwrap();
    e.add_transfer_like(0.0, a, &[a]).unwrap();
    assert!(!e.flow_matches_analytical());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `AnalyticalPricer::price_busiest`: the duration and the busiest links an analytical
    /// engine holding the transfer alone reports (`RunReport::bottlenecks`), bit for bit — with
    /// repeated flows (merged), weights, repeated hops, zero bytes and empty paths — and the
    /// engine's error for bad flows.
    #[test]
    fn price_busiest_is_the_engines_run((caps, flows, _which, _factor) in single_transfer(4),
                                        zero in any::<bool>(), empty in any::<bool>(), repeat in any::<bool>(),
                                        bad in 0u8..4, k in prop_oneof![Just(0usize), Just(1), Just(3), Just(100)]) {
        let mut flows = flows;
        if zero {
            flows[0].bytes = 0.0;
        }
        if empty {
            flows.push(Flow { path: vec![], bytes: 5.0, weight: 1 });
        }
        if repeat {
            let again = flows[flows.len() - 1].clone();
            flows.push(again);
        }
        match bad {
            1 => flows.push(Flow { path: vec![caps.len() as u32], bytes: 1.0, weight: 1 }),
            2 => flows.push(Flow { path: vec![0], bytes: f64::NAN, weight: 1 }),
            _ => {}
        }
        let mut set = FlowSet::new();
        for fl in &flows {
            set.push(&fl.path, fl.bytes, fl.weight);
        }
        let mut pricer = engine::AnalyticalPricer::new(&caps);
        let priced = pricer.price_busiest(&set, k);
        let mut e = Engine::new(caps.clone(), Fidelity::Analytical).unwrap();
        match e.add_transfer(0.0, &set, &[]) {
            Err(err) => prop_assert_eq!(priced.unwrap_err().to_string(), err.to_string()),
            Ok(_) => {
                let r = e.run().unwrap();
                let (dur, busy) = priced.unwrap();
                prop_assert_eq!(dur.to_bits(), r.makespan_s.to_bits());
                let want = r.bottlenecks(&caps, k);
                prop_assert_eq!(busy.len(), want.len());
                for (a, b) in busy.iter().zip(&want) {
                    prop_assert_eq!((a.0, a.1.to_bits()), (b.0, b.1.to_bits()));
                }
                // The pricer is left clean for the next transfer.
                prop_assert_eq!(pricer.price(&set).unwrap().to_bits(), dur.to_bits());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `AnalyticalPricer::price_chain`: transfers in sequence as an analytical engine runs them
    /// (added in order, each after the one before, latency 0): the makespan and busiest links
    /// bit for bit, and the error its building gives for a bad flow in any transfer.
    #[test]
    fn price_chain_is_the_engines_run(caps in common::caps_strategy(6),
                                      chain in prop::collection::vec(prop::collection::vec(
                                          (prop::collection::vec(0u32..8, 0..=4),
                                           // Sizes over 16 orders of magnitude: phases shorter
                                           // than the engine's batching window of the time
                                           // before them end with it.
                                           prop_oneof![Just(0.0f64), 1.0f64..100.0, (-4i32..12).prop_map(|e| 10f64.powi(e))], 1u32..3), 0..6), 0..5),
                                      bad in 0u8..6, k in prop_oneof![Just(0usize), Just(1), Just(3), Just(100)]) {
        let nl = caps.len() as u32;
        let mut sets = Vec::new();
        for (t, flows) in chain.iter().enumerate() {
            let mut set = FlowSet::new();
            for (path, bytes, weight) in flows {
                let path: Vec<u32> = path.iter().map(|&l| l % nl).collect();
                set.push(&path, *bytes, *weight);
                // Repeat some flows (merged by the engine).
                if weight % 2 == 0 {
                    set.push(&path, *bytes, 1);
                }
            }
            if bad as usize == t + 1 {
                set.push(&[nl], 1.0, 1);
            }
            sets.push(set);
        }
        let mut pricer = engine::AnalyticalPricer::new(&caps);
        let priced = pricer.price_chain(&sets, k);
        let mut e = Engine::new(caps.clone(), Fidelity::Analytical).unwrap();
        let mut prev: Option<TaskId> = None;
        let mut built = Ok(());
        for set in &sets {
            let deps: Vec<TaskId> = prev.into_iter().collect();
            match e.add_transfer(0.0, set, &deps) {
                Ok(id) => prev = Some(id),
                Err(err) => {
                    built = Err(err);
                    break;
                }
            }
        }
        match built {
            Err(err) => prop_assert_eq!(priced.unwrap_err().to_string(), err.to_string()),
            Ok(()) => {
                let r = e.run().unwrap();
                let (end, busy) = priced.unwrap();
                prop_assert_eq!(end.to_bits(), r.makespan_s.to_bits());
                let want = r.bottlenecks(&caps, k);
                prop_assert_eq!(busy.len(), want.len());
                for (a, b) in busy.iter().zip(&want) {
                    prop_assert_eq!((a.0, a.1.to_bits()), (b.0, b.1.to_bits()));
                }
                // Left clean: the same chain again gives the same bits.
                let (end2, busy2) = pricer.price_chain(&sets, k).unwrap();
                prop_assert_eq!(end2.to_bits(), end.to_bits());
                prop_assert_eq!(format!("{busy2:?}"), format!("{busy:?}"));
            }
        }
    }
}

/// The reviewer's case for `AnalyticalPricer::price_chain`: a phase 10⁻¹³ of the time before it
/// ends with it, as the engine batches its end event; a later phase starts from there.
#[test]
fn price_chain_batches_like_the_engine() {
    let caps = vec![1e12, 1e12];
    let set = |l: u32, bytes: f64| {
        let mut s = FlowSet::new();
        s.push(&[l], bytes, 1);
        s
    };
    let sets = [set(0, 1e12), set(1, 0.1), set(0, 1e12)];
    for n in [2, 3] {
        let mut e = Engine::new(caps.clone(), Fidelity::Analytical).unwrap();
        let mut prev: Option<TaskId> = None;
        for s in &sets[..n] {
            let deps: Vec<TaskId> = prev.into_iter().collect();
            prev = Some(e.add_transfer(0.0, s, &deps).unwrap());
        }
        let r = e.run().unwrap();
        let (end, busy) = engine::AnalyticalPricer::new(&caps).price_chain(&sets[..n], 3).unwrap();
        assert_eq!(
            end.to_bits(),
            r.makespan_s.to_bits(),
            "{n} phases: {end} vs {}",
            r.makespan_s
        );
        assert_eq!(busy, r.bottlenecks(&caps, 3));
        assert_eq!(end, if n == 2 { 1.0 } else { 2.0 });
    }
}

/// An analytical transfer too short to move the clock (1e-5 bytes after a 1 s transfer on a
/// 1e12 B/s link) is busy for no time: its busy interval is left out rather than swept with
/// its end before its start (which underflowed the sweep's count of active intervals).
#[test]
fn analytical_interval_of_no_length_is_left_out() {
    let mut e = Engine::new(vec![1e12], Fidelity::Analytical).unwrap();
    let a = e.add_task(transfer(0.0, vec![flow(&[0], 1e12)]), &[]).unwrap();
    e.add_task(transfer(0.0, vec![flow(&[0], 1e-5)]), &[a]).unwrap();
    let r = e.run().unwrap();
    assert_eq!(r.makespan_s, 1.0);
    assert_eq!(r.links[0].busy_s, 1.0);
    assert_eq!(r.links[0].peak_utilisation, 1.0);
    assert_eq!(r.links[0].bytes, 1e12 + 1e-5);
}

proptest! {
    /// `FlowSet::extend_from` of a range of another set's flows is `push` of each in turn (paths,
    /// weights, the bytes given), onto a set that already holds flows or not, empty paths and
    /// empty ranges included.
    #[test]
    fn extend_from_is_push_of_each(
        other in prop::collection::vec((prop::collection::vec(0u32..50, 0..5), 1u32..4), 0..12),
        start in prop::collection::vec((prop::collection::vec(0u32..50, 0..5), 1u32..4), 0..3),
        range in (0usize..13, 0usize..13),
    ) {
        let mut src = FlowSet::new();
        for (i, (p, w)) in other.iter().enumerate() {
            src.push(p, i as f64, *w);
        }
        let (a, b) = (range.0.min(other.len()), range.1.min(other.len()));
        let r = a.min(b)..b.max(a);
        let (mut x, mut y) = (FlowSet::new(), FlowSet::new());
        for (p, w) in &start {
            x.push(p, 0.5, *w);
            y.push(p, 0.5, *w);
        }
        let bytes = |q: usize| 10.0 + q as f64;
        x.extend_from(&src, r.clone(), bytes);
        for q in r {
            let (p, _, w) = src.flow(q);
            y.push(p, bytes(q), w);
        }
        prop_assert_eq!(x, y);
    }
}
