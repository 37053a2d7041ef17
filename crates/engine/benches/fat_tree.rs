//! Large synthetic workloads on a 3-tier fat-tree (radix-64 ToR and
//! aggregation switches, per-flow ECMP by a fixed hash, scattered rank
//! placement). Run with `cargo bench -p engine`.
//!
//! * ring over 131,072 ranks: one transfer of 131k flows × ~6 hops;
//! * all-to-all over 8,192 ranks in EP groups of 64: 516k flows, ~3.1M hops.

use std::hint::black_box;
use std::time::Instant;

use engine::{Engine, Fidelity, Flow, Task};

/// Link bandwidth: 400 Gb/s in bytes/s.
const CAP: f64 = 50e9;
const PORTS: u32 = 32;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// 3-tier fat-tree: 32 hosts per ToR, 32 ToRs and 32 aggregation switches
/// per pod, aggregation switch `a` of every pod wired to core plane `a`
/// (32 cores). Links are directed; ids are laid out by tier.
struct FatTree {
    hosts: u32,
    tors: u32,
    aggs: u32,
}

impl FatTree {
    fn new(hosts: u32) -> Self {
        let tors = hosts / PORTS;
        let pods = tors / PORTS;
        Self {
            hosts,
            tors,
            aggs: pods * PORTS,
        }
    }
    fn links(&self) -> u32 {
        2 * self.hosts + 2 * self.tors * PORTS + 2 * self.aggs * PORTS
    }
    fn path(&self, src: u32, dst: u32) -> Vec<u32> {
        let (h, t) = (self.hosts, self.tors);
        let (ts, td) = (src / PORTS, dst / PORTS);
        let (ps, pd) = (ts / PORTS, td / PORTS);
        let hash = splitmix((u64::from(src) << 32) | u64::from(dst));
        let a = (hash % u64::from(PORTS)) as u32;
        let c = ((hash >> 16) % u64::from(PORTS)) as u32;
        let tor_up = |tor: u32| 2 * h + tor * PORTS + a;
        let tor_down = |tor: u32| 2 * h + t * PORTS + tor * PORTS + a;
        let agg_base = 2 * h + 2 * t * PORTS;
        let agg_up = |pod: u32| agg_base + (pod * PORTS + a) * PORTS + c;
        let agg_down = |pod: u32| agg_base + self.aggs * PORTS + (pod * PORTS + a) * PORTS + c;
        if ts == td {
            vec![src, h + dst]
        } else if ps == pd {
            vec![src, tor_up(ts), tor_down(td), h + dst]
        } else {
            vec![src, tor_up(ts), agg_up(ps), agg_down(pd), tor_down(td), h + dst]
        }
    }
}

/// Deterministic scattered placement: rank -> host.
fn placement(n: u32) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n).collect();
    for i in (1..n as usize).rev() {
        let j = (splitmix(i as u64 ^ 0xABCD) % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

fn ring(n: u32, fid: Fidelity) -> Engine {
    let ft = FatTree::new(n);
    let place = placement(n);
    let flows = (0..n)
        .map(|r| Flow {
            path: ft.path(place[r as usize], place[((r + 1) % n) as usize]),
            bytes: 1e9,
            weight: 1,
        })
        .collect();
    let mut e = Engine::new(vec![CAP; ft.links() as usize], fid).expect("caps");
    e.add_task(Task::Transfer { latency: 5e-6, flows }, &[]).expect("task");
    e
}

fn all_to_all(n: u32, group: u32, fid: Fidelity) -> Engine {
    let ft = FatTree::new(n);
    let place = placement(n);
    let mut flows = Vec::with_capacity((n * (group - 1)) as usize);
    for g in 0..n / group {
        for i in 0..group {
            for j in 0..group {
                if i != j {
                    let (s, d) = (place[(g * group + i) as usize], place[(g * group + j) as usize]);
                    flows.push(Flow {
                        path: ft.path(s, d),
                        bytes: 16e6,
                        weight: 1,
                    });
                }
            }
        }
    }
    let mut e = Engine::new(vec![CAP; ft.links() as usize], fid).expect("caps");
    e.add_task(Task::Transfer { latency: 5e-6, flows }, &[]).expect("task");
    e
}

fn bench(name: &str, build: impl Fn() -> Engine) {
    let t0 = Instant::now();
    let mut e = build();
    let t_build = t0.elapsed();
    let t1 = Instant::now();
    let r = e.run().expect("run");
    let t_run = t1.elapsed();
    black_box(&r);
    println!(
        "{name:<40} flows {:>8} build {:>8.3} s  run {:>8.3} s  makespan {:.6} s  events {:>7}  solves {:>5}",
        e.num_flows(),
        t_build.as_secs_f64(),
        t_run.as_secs_f64(),
        r.makespan_s,
        r.events,
        r.solves,
    );
}

fn main() {
    // Under `cargo test --benches` the harness gets no `--bench`; keep it small.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = !args.iter().any(|a| a == "--bench");
    // `cargo bench -p engine -- ring` (or `all-to-all`) runs only the benchmarks whose name
    // contains one of the words given.
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let picked = |name: &str| words.is_empty() || words.iter().any(|w| name.contains(w));
    let (ring_n, a2a_n) = if quick { (2048, 1024) } else { (131_072, 8192) };
    for fid in [Fidelity::Flow, Fidelity::Analytical] {
        let name = format!("ring {ring_n} ranks ({fid:?})");
        if picked(&name) {
            bench(&name, || ring(ring_n, fid));
        }
        let name = format!("all-to-all {a2a_n} ranks, EP 64 ({fid:?})");
        if picked(&name) {
            bench(&name, || all_to_all(a2a_n, 64, fid));
        }
    }
}
