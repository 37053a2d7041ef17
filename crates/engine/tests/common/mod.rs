//! Shared test helpers: a naive from-scratch reference simulator and random
//! instance generators.
#![allow(dead_code)]

use engine::{Flow, Task, TaskId};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Naive progressive-filling max-min solver, independent of the engine's.
/// Returns one rate per flow (INFINITY for empty paths).
pub fn naive_maxmin(caps: &[f64], flows: &[(Vec<u32>, u32)]) -> Vec<f64> {
    let mut rate = vec![f64::INFINITY; flows.len()];
    let mut frozen: Vec<bool> = flows.iter().map(|(p, _)| p.is_empty()).collect();
    let mut rem = caps.to_vec();
    loop {
        // Fair share of every link with unfrozen flows.
        let mut best: Option<(f64, usize)> = None;
        for (l, &r) in rem.iter().enumerate() {
            let n: f64 = flows
                .iter()
                .enumerate()
                .filter(|(i, _)| !frozen[*i])
                .map(|(_, (p, w))| p.iter().filter(|&&x| x as usize == l).count() as f64 * f64::from(*w))
                .sum();
            if n > 0.0 {
                let s = r.max(0.0) / n;
                match best {
                    Some((b, _)) if b <= s => {}
                    _ => best = Some((s, l)),
                }
            }
        }
        let Some((s, l)) = best else { break };
        for i in 0..flows.len() {
            if !frozen[i] && flows[i].0.contains(&(l as u32)) {
                frozen[i] = true;
                rate[i] = s;
                for &m in &flows[i].0 {
                    rem[m as usize] -= f64::from(flows[i].1) * s;
                }
            }
        }
    }
    rate
}

/// A task with its dependencies, as given to the engine.
pub type Spec = (Task, Vec<TaskId>);

struct RFlow {
    task: usize,
    path: Vec<u32>,
    weight: u32,
    rem: f64,
    rate: f64,
}

/// From-scratch reference: re-solves every active flow at every event and
/// advances every flow at every step. Returns (start, end) per task.
pub fn reference_run(caps: &[f64], tasks: &[Spec]) -> (Vec<f64>, Vec<f64>) {
    let n = tasks.len();
    let mut deps_left: Vec<usize> = tasks.iter().map(|(_, d)| d.len()).collect();
    let mut start = vec![f64::NAN; n];
    let mut end = vec![f64::NAN; n];
    let mut pending = vec![0usize; n];
    // (time, seq, is_flow_start, task)
    let mut events: Vec<(f64, u64, bool, usize)> = Vec::new();
    let mut seq = 0u64;
    let mut res: BTreeMap<u32, (bool, Vec<usize>)> = BTreeMap::new();
    let mut flows: Vec<RFlow> = Vec::new();
    let mut changed = false;
    let mut now = 0.0f64;

    fn ready(
        t: usize,
        now: f64,
        tasks: &[Spec],
        start: &mut [f64],
        events: &mut Vec<(f64, u64, bool, usize)>,
        seq: &mut u64,
        res: &mut BTreeMap<u32, (bool, Vec<usize>)>,
    ) {
        match &tasks[t].0 {
            Task::Delay { seconds } => {
                start[t] = now;
                *seq += 1;
                events.push((now + seconds, *seq, false, t));
            }
            Task::Compute { resource, .. } => res.entry(*resource).or_default().1.push(t),
            Task::Transfer { latency, .. } => {
                start[t] = now;
                *seq += 1;
                events.push((now + latency, *seq, true, t));
            }
        }
    }

    for (t, _) in tasks.iter().enumerate().filter(|(_, (_, d))| d.is_empty()) {
        ready(t, now, tasks, &mut start, &mut events, &mut seq, &mut res);
    }
    loop {
        let be = now + now * 1e-12;
        loop {
            let mut progressed = false;
            // Due task events in (time, seq) order.
            loop {
                let idx = events
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.0 <= be)
                    .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(a.1 .1.cmp(&b.1 .1)))
                    .map(|(i, _)| i);
                let Some(i) = idx else { break };
                let (_, _, is_start, t) = events.remove(i);
                progressed = true;
                let mut ended = Vec::new();
                if is_start {
                    let Task::Transfer { flows: fs, .. } = &tasks[t].0 else {
                        unreachable!()
                    };
                    for f in fs {
                        if !f.path.is_empty() && f.bytes > 0.0 {
                            flows.push(RFlow {
                                task: t,
                                path: f.path.clone(),
                                weight: f.weight,
                                rem: f.bytes,
                                rate: 0.0,
                            });
                            pending[t] += 1;
                            changed = true;
                        }
                    }
                    if pending[t] == 0 {
                        ended.push(t);
                    }
                } else {
                    if let Task::Compute { resource, .. } = &tasks[t].0 {
                        res.get_mut(resource).unwrap().0 = false;
                    }
                    ended.push(t);
                }
                for t in ended {
                    end[t] = now;
                    for d in 0..n {
                        if tasks[d].1.iter().any(|x| x.0 as usize == t) {
                            deps_left[d] -= tasks[d].1.iter().filter(|x| x.0 as usize == t).count();
                            if deps_left[d] == 0 {
                                ready(d, now, tasks, &mut start, &mut events, &mut seq, &mut res);
                            }
                        }
                    }
                }
            }
            // Due flow completions.
            let mut i = 0;
            while i < flows.len() {
                if flows[i].rate > 0.0 && now + flows[i].rem / flows[i].rate <= be {
                    let f = flows.remove(i);
                    changed = true;
                    progressed = true;
                    pending[f.task] -= 1;
                    if pending[f.task] == 0 {
                        let t = f.task;
                        end[t] = now;
                        for d in 0..n {
                            let c = tasks[d].1.iter().filter(|x| x.0 as usize == t).count();
                            if c > 0 {
                                deps_left[d] -= c;
                                if deps_left[d] == 0 {
                                    ready(d, now, tasks, &mut start, &mut events, &mut seq, &mut res);
                                }
                            }
                        }
                    }
                } else {
                    i += 1;
                }
            }
            if progressed {
                continue;
            }
            let mut started = false;
            for (_, (busy, q)) in res.iter_mut() {
                if !*busy && !q.is_empty() {
                    let (k, _) = q.iter().enumerate().min_by_key(|(_, &t)| t).unwrap();
                    let t = q.remove(k);
                    *busy = true;
                    start[t] = now;
                    let Task::Compute { seconds, .. } = tasks[t].0 else {
                        unreachable!()
                    };
                    seq += 1;
                    events.push((now + seconds, seq, false, t));
                    started = true;
                }
            }
            if started {
                continue;
            }
            if changed {
                changed = false;
                let inst: Vec<(Vec<u32>, u32)> = flows.iter().map(|f| (f.path.clone(), f.weight)).collect();
                let r = naive_maxmin(caps, &inst);
                for (f, r) in flows.iter_mut().zip(r) {
                    f.rate = r;
                }
                continue;
            }
            break;
        }
        let mut t0 = f64::INFINITY;
        for e in &events {
            t0 = t0.min(e.0);
        }
        for f in &flows {
            t0 = t0.min(now + f.rem / f.rate);
        }
        if t0 == f64::INFINITY {
            break;
        }
        for f in &mut flows {
            f.rem = (f.rem - f.rate * (t0 - now)).max(0.0);
        }
        now = t0;
    }
    (start, end)
}

/// Random link capacities.
pub fn caps_strategy(max_links: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(1.0f64..10.0, 1..=max_links)
}

fn flow_strategy(links: usize) -> impl Strategy<Value = Flow> {
    (
        prop::collection::vec(0..links as u32, 0..4),
        prop_oneof![1 => Just(0.0), 6 => 0.5f64..100.0],
        1u32..4,
    )
        .prop_map(|(path, bytes, weight)| Flow { path, bytes, weight })
}

fn task_strategy(links: usize) -> impl Strategy<Value = Task> {
    prop_oneof![
        1 => (0.0f64..3.0).prop_map(|seconds| Task::Delay { seconds }),
        2 => (0u32..2, 0.0f64..3.0).prop_map(|(resource, seconds)| Task::Compute { resource, seconds }),
        4 => (prop_oneof![Just(0.0), 0.0f64..2.0], prop::collection::vec(flow_strategy(links), 0..5))
            .prop_map(|(latency, mut flows)| {
                // Sometimes duplicate a flow to exercise merging.
                if let Some(f) = flows.first().cloned() {
                    if flows.len() > 2 {
                        flows.push(f);
                    }
                }
                Task::Transfer { latency, flows }
            }),
    ]
}

/// Random small instance: capacities and a task DAG.
pub fn instance_strategy() -> impl Strategy<Value = (Vec<f64>, Vec<Spec>)> {
    caps_strategy(5).prop_flat_map(|caps| {
        let l = caps.len();
        let tasks = prop::collection::vec(
            (
                task_strategy(l),
                prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            ),
            1..10,
        )
        .prop_map(|ts| {
            ts.into_iter()
                .enumerate()
                .map(|(i, (t, deps))| {
                    let mut d: Vec<TaskId> = if i == 0 {
                        Vec::new()
                    } else {
                        deps.iter().map(|x| TaskId(x.index(i) as u32)).collect()
                    };
                    d.sort();
                    d.dedup();
                    (t, d)
                })
                .collect::<Vec<_>>()
        });
        (Just(caps), tasks)
    })
}

/// Random medium instance: up to 12 links and a few transfers of up to 40
/// flows each (some started later, behind a delay), with byte counts drawn
/// from a short list so that many flows tie. Exercises the flow lists the
/// engine keeps sorted by rate, their partial re-solves and their rebuilds.
pub fn medium_instance_strategy() -> impl Strategy<Value = (Vec<f64>, Vec<Spec>)> {
    (
        prop::collection::vec(prop_oneof![Just(4.0), 1.0f64..10.0], 3..=12),
        1usize..4,
    )
        .prop_flat_map(|(caps, transfers)| {
            let l = caps.len() as u32;
            let flow = (
                prop::collection::vec(0..l, 1..=4),
                prop_oneof![Just(8.0), Just(20.0), 1.0f64..40.0],
                prop_oneof![3 => Just(1u32), 1 => 2u32..4],
            )
                .prop_map(|(path, bytes, weight)| Flow { path, bytes, weight });
            let transfer = (
                prop::collection::vec(flow, 1..40),
                prop_oneof![Just(0.0), 0.0f64..3.0],
                any::<bool>(),
            );
            (Just(caps), prop::collection::vec(transfer, transfers))
        })
        .prop_map(|(caps, ts)| {
            let mut tasks: Vec<Spec> = Vec::new();
            for (flows, delay, after_previous) in ts {
                // Start behind a delay, or behind the previous transfer.
                let dep = if after_previous && !tasks.is_empty() {
                    TaskId(tasks.len() as u32 - 1)
                } else {
                    tasks.push((Task::Delay { seconds: delay }, Vec::new()));
                    TaskId(tasks.len() as u32 - 1)
                };
                tasks.push((Task::Transfer { latency: 0.0, flows }, vec![dep]));
            }
            (caps, tasks)
        })
}

/// Builds an engine from an instance.
pub fn build(caps: &[f64], tasks: &[Spec], fidelity: engine::Fidelity) -> engine::Engine {
    let mut e = engine::Engine::new(caps.to_vec(), fidelity).expect("valid caps");
    for (t, d) in tasks {
        e.add_task(t.clone(), d).expect("valid task");
    }
    e
}

/// `|a - b| <= tol · max(1, |a|, |b|)`.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * 1f64.max(a.abs()).max(b.abs())
}
