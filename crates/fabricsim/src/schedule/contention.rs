//! Jobs sharing links slow each other: a per-job model calibrated against the flow engine.
//!
//! **The cluster as the scheduler sees it** ([`View`]): each accelerator's leaf (the switch its
//! first scale-out port reaches), each leaf's pod, and the up-link capacity of every leaf
//! (its links to the tier above) and every pod (its second-tier switches' links to the tier
//! above; none in a two-tier fabric).
//!
//! **The model.** A job of `N` GPUs spanning more than one scale-up domain exchanges data
//! uniformly among its GPUs during its communication phases (expert-parallel all-to-all,
//! uniform exchange; the traffic the flow-engine check runs): each GPU's NIC (bandwidth `d`)
//! is busy with the share of its peers outside its domain, `N − m` (`m` = the job's GPUs per
//! domain, on average), and the share `N − n_u` of them lies outside a leaf or pod `u` holding
//! `n_u` of the job's GPUs. So the job offers `D_u = β · d · n_u · (N − n_u) / (N − m)` to
//! `u`'s up-links. The load of `u` is `ρ_u = Σ_jobs D_u / U_u` (`U_u` = up-link capacity); a
//! fluid fair share stretches the communication of every job through `u` by `max(1, ρ_u)`,
//! and a job's communication runs at its worst unit: `κ = max(1, max_u ρ_u)`. Its run time
//! stretches by `s = 1 + c · (κ − 1)` with `c` its exposed-communication share of the step
//! (`--comm-fraction`). A job inside one leaf offers nothing upward and is never slowed; on a
//! non-blocking tree `ρ ≤ β`, so contention needs oversubscription. Not modelled: ECMP
//! collisions (the check routes adaptively), and rings over topology-ordered ranks, which
//! cross each leaf's up-links once per channel and load them far less than uniform exchange.
//!
//! **Calibration of β** ([`BETA`]): all-to-alls of two jobs at once on the flow engine
//! (`collective::simulate::run_groups`, 1 GiB, adaptive routing) on a 3:1-oversubscribed
//! fat-tree, in symmetric placements (both jobs see the same loads), divided by each job's
//! time alone; the model's `κ` over its `κ` alone is compared with that ratio. The test
//! `model_matches_the_flow_engine` re-runs those cases and holds the model within 15 %.

use fabric::{Fabric, LinkId, Net, NodeKind, NONE};

/// Calibrated traffic factor of the uniform-exchange demand (see the module doc): fitted on the
/// flow engine's two-job ring all-reduce case (`model_matches_the_flow_engine`).
pub const BETA: f64 = 1.0;

/// Exposed share of a multi-domain job's step spent in scale-out communication. Assumption
/// [A]: data-parallel training with communication partly overlapped; 0.3 sits inside the
/// 15–40 % exposed-communication range reported for large data-parallel jobs (e.g. MegaScale,
/// NSDI'24, §2: communication 15–35 % of step time before overlap).
pub const DEFAULT_COMM_FRACTION: f64 = 0.3;

/// The cluster as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct View {
    pub gpus: u32,
    pub domain_size: u32,
    pub domains: u32,
    /// Leaf index of each accelerator (dense, in accelerator order of first appearance).
    pub gpu_leaf: Vec<u32>,
    /// Pod index of each leaf (dense).
    pub leaf_pod: Vec<u32>,
    /// Up-link capacity of each leaf and pod, bytes/s (∞ where there is no tier above).
    pub leaf_up: Vec<f64>,
    pub pod_up: Vec<f64>,
    /// Scale-out bandwidth of one accelerator, bytes/s per direction.
    pub gpu_bw: f64,
    /// The leaf of each domain (its first accelerator's).
    pub dom_leaf: Vec<u32>,
    /// Domains of each leaf, and leaves of each pod (ascending).
    pub leaf_doms: Vec<Vec<u32>>,
    pub pod_leaves: Vec<Vec<u32>>,
}

impl View {
    pub fn new(f: &Fabric) -> View {
        let n = f.accel_count() as u32;
        let ds = f.domain_size.max(1);
        let mut leaf_index = std::collections::BTreeMap::new();
        let mut leaf_nodes: Vec<u32> = Vec::new();
        let mut gpu_leaf = Vec::with_capacity(n as usize);
        for r in 0..n {
            let node = f
                .scale_out_ports(r)
                .first()
                .map(|&l| f.link(LinkId(l)).dst.0)
                .unwrap_or(NONE);
            let next = leaf_nodes.len() as u32;
            let i = *leaf_index.entry(node).or_insert_with(|| {
                leaf_nodes.push(node);
                next
            });
            gpu_leaf.push(i);
        }
        let up_of = |node: u32| -> f64 {
            if node == NONE {
                return f64::INFINITY;
            }
            let me = f.node(fabric::NodeId(node));
            let s: f64 = f
                .out_links(fabric::NodeId(node))
                .map(|l| f.link(l))
                .filter(|l| l.net == Net::ScaleOut && f.node(l.dst).tier > me.tier)
                .map(|l| l.capacity.0)
                .sum();
            if s > 0.0 {
                s
            } else {
                f64::INFINITY
            }
        };
        let leaf_up: Vec<f64> = leaf_nodes.iter().map(|&l| up_of(l)).collect();
        // Pods: the leaves' pod ids, dense; the pod's up-links are those of the switches one
        // tier above the leaves in that pod.
        let mut pod_index = std::collections::BTreeMap::new();
        let mut pod_ids = Vec::new();
        let leaf_pod: Vec<u32> = leaf_nodes
            .iter()
            .map(|&l| {
                let pod = if l == NONE { NONE } else { f.node(fabric::NodeId(l)).pod };
                let next = pod_ids.len() as u32;
                *pod_index.entry(pod).or_insert_with(|| {
                    pod_ids.push(pod);
                    next
                })
            })
            .collect();
        let leaf_tier = leaf_nodes
            .iter()
            .find(|&&l| l != NONE)
            .map(|&l| f.node(fabric::NodeId(l)).tier)
            .unwrap_or(1);
        let mut pod_up = vec![0.0f64; pod_ids.len()];
        if pod_ids.len() > 1 || pod_ids.first().is_some_and(|&p| p != NONE) {
            for (id, node) in f.nodes.iter().enumerate() {
                if node.kind != NodeKind::Switch || node.net != Net::ScaleOut || node.tier != leaf_tier + 1 {
                    continue;
                }
                if let Some(&p) = pod_index.get(&node.pod) {
                    if node.pod != NONE {
                        pod_up[p as usize] += up_of(id as u32).min(f64::MAX);
                    }
                }
            }
        }
        let pod_up: Vec<f64> = pod_up
            .into_iter()
            .map(|x| if x > 0.0 && x < f64::MAX { x } else { f64::INFINITY })
            .collect();
        let domains = n / ds;
        let dom_leaf: Vec<u32> = (0..domains).map(|d| gpu_leaf[(d * ds) as usize]).collect();
        let mut leaf_doms = vec![Vec::new(); leaf_nodes.len()];
        for (d, &l) in dom_leaf.iter().enumerate() {
            leaf_doms[l as usize].push(d as u32);
        }
        let mut pod_leaves = vec![Vec::new(); pod_ids.len()];
        for (l, &p) in leaf_pod.iter().enumerate() {
            pod_leaves[p as usize].push(l as u32);
        }
        let gpu_bw = if n > 0 {
            f.accel_bandwidth(0, Net::ScaleOut).0
        } else {
            0.0
        };
        View {
            gpus: n,
            domain_size: ds,
            domains,
            gpu_leaf,
            leaf_pod,
            leaf_up,
            pod_up,
            gpu_bw,
            dom_leaf,
            leaf_doms,
            pod_leaves,
        }
    }

    pub fn leaves(&self) -> usize {
        self.leaf_up.len()
    }
    pub fn pods(&self) -> usize {
        self.pod_up.len()
    }
}

/// Where one job sits: its GPUs per leaf and per pod, and what it offers each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Footprint {
    /// `(leaf, demand bytes/s)` for leaves it offers traffic to (ascending leaf).
    pub leaves: Vec<(u32, f64)>,
    /// `(pod, demand bytes/s)` likewise.
    pub pods: Vec<(u32, f64)>,
}

impl Footprint {
    /// The footprint of a job on `gpus` (any order).
    pub fn of(v: &View, gpus: &[u32]) -> Footprint {
        let n = gpus.len() as f64;
        if gpus.is_empty() {
            return Footprint::default();
        }
        let d0 = gpus[0] / v.domain_size;
        if gpus.iter().all(|&g| g / v.domain_size == d0) {
            return Footprint::default();
        }
        let mut leaves = std::collections::BTreeMap::<u32, u32>::new();
        for &g in gpus {
            *leaves.entry(v.gpu_leaf[g as usize]).or_default() += 1;
        }
        let mut pods = std::collections::BTreeMap::<u32, u32>::new();
        for (&l, &c) in &leaves {
            *pods.entry(v.leaf_pod[l as usize]).or_default() += c;
        }
        let doms: std::collections::BTreeSet<u32> = gpus.iter().map(|&g| g / v.domain_size).collect();
        let m = n / doms.len() as f64;
        let dem = |c: u32| BETA * v.gpu_bw * c as f64 * (n - c as f64) / (n - m);
        let keep = |m: std::collections::BTreeMap<u32, u32>, up: &[f64]| -> Vec<(u32, f64)> {
            m.into_iter()
                .filter(|&(u, c)| (c as f64) < n && up[u as usize].is_finite())
                .map(|(u, c)| (u, dem(c)))
                .collect()
        };
        Footprint {
            leaves: keep(leaves, &v.leaf_up),
            pods: keep(pods, &v.pod_up),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty() && self.pods.is_empty()
    }

    /// `κ`: the communication stretch under the loads `leaf_load`, `pod_load` (bytes/s offered
    /// per unit, this job included).
    pub fn kappa(&self, v: &View, leaf_load: &[f64], pod_load: &[f64]) -> f64 {
        let mut k = 1.0f64;
        for &(l, _) in &self.leaves {
            k = k.max(leaf_load[l as usize] / v.leaf_up[l as usize]);
        }
        for &(p, _) in &self.pods {
            k = k.max(pod_load[p as usize] / v.pod_up[p as usize]);
        }
        k
    }

    /// `κ` of the job alone on the cluster.
    pub fn kappa_alone(&self, v: &View) -> f64 {
        let mut k = 1.0f64;
        for &(l, d) in &self.leaves {
            k = k.max(d / v.leaf_up[l as usize]);
        }
        for &(p, d) in &self.pods {
            k = k.max(d / v.pod_up[p as usize]);
        }
        k
    }
}

/// The job's run-time stretch for a communication stretch `kappa`.
pub fn slowdown(kappa: f64, comm_fraction: f64) -> f64 {
    1.0 + comm_fraction * (kappa - 1.0)
}

/// `κ` of each job of a static set running together (the model's side of the flow-engine
/// check).
pub fn kappas(v: &View, jobs: &[Vec<u32>]) -> Vec<f64> {
    let fps: Vec<Footprint> = jobs.iter().map(|g| Footprint::of(v, g)).collect();
    let mut ll = vec![0.0; v.leaves()];
    let mut pl = vec![0.0; v.pods()];
    for fp in &fps {
        for &(l, d) in &fp.leaves {
            ll[l as usize] += d;
        }
        for &(p, d) in &fp.pods {
            pl[p as usize] += d;
        }
    }
    fps.iter().map(|fp| fp.kappa(v, &ll, &pl)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use collective::simulate::{run_groups, Options};
    use collective::{Algo, Op};

    fn fabric(spec: &str) -> Fabric {
        fabric::presets::build_preset(spec).unwrap().1
    }

    /// The flow engine's stretch of a job's all-to-all (1 GiB) when `jobs` (symmetric
    /// placements) run together, over job 0's time alone.
    fn flow_stretch(f: &Fabric, jobs: &[Vec<u32>]) -> f64 {
        let opts = Options::default();
        let size = 1073741824.0;
        let alone = run_groups(f, &jobs[..1], Op::AllToAll, size, Some(Algo::Direct), opts).unwrap();
        let both = run_groups(f, jobs, Op::AllToAll, size, Some(Algo::Direct), opts).unwrap();
        both.transfer_s / alone.transfer_s
    }

    fn doms(v: &View, list: &[u32]) -> Vec<u32> {
        let ds = v.domain_size;
        list.iter().flat_map(|&d| (0..ds).map(move |k| d * ds + k)).collect()
    }

    #[test]
    fn the_view_finds_leaves_and_pods() {
        let f = fabric("fat-tree:gpus=192,oversub=3");
        let v = View::new(&f);
        assert_eq!(v.leaves(), 4);
        assert_eq!(v.leaf_doms[1], vec![6, 7, 8, 9, 10, 11]);
        assert_eq!(v.leaf_up[0], 16.0 * v.gpu_bw);
        assert_eq!(v.pods(), 1);
        assert!(v.pod_up[0].is_infinite());
        let big = View::new(&fabric("fat-tree:gpus=8192"));
        assert!(big.pods() > 1 && big.pod_up.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn model_matches_the_flow_engine() {
        let mut f = fabric("fat-tree:gpus=192,oversub=3");
        f.routing = fabric::routing::RoutingMode::Adaptive;
        let v = View::new(&f);
        // Two 48-GPU jobs (6 domains each), symmetric: sharing two leaves half and half;
        // spread over all four leaves; each in a leaf of its own.
        let cases: Vec<(&str, Vec<Vec<u32>>)> = vec![
            (
                "two leaves shared",
                vec![doms(&v, &[0, 2, 4, 6, 8, 10]), doms(&v, &[1, 3, 5, 7, 9, 11])],
            ),
            (
                "four leaves shared",
                vec![doms(&v, &[0, 6, 12, 18, 2, 8]), doms(&v, &[1, 7, 13, 19, 3, 9])],
            ),
            (
                "own leaves",
                vec![doms(&v, &[0, 1, 2, 3, 4, 5]), doms(&v, &[6, 7, 8, 9, 10, 11])],
            ),
        ];
        for (name, jobs) in cases {
            let flow = flow_stretch(&f, &jobs);
            let alone = kappas(&v, &jobs[..1])[0];
            let model = kappas(&v, &jobs)[0] / alone;
            eprintln!("{name}: flow {flow:.3} model {model:.3}");
            assert!(
                (model / flow - 1.0).abs() < 0.15,
                "{name}: flow {flow:.3} model {model:.3}"
            );
        }
    }

    #[test]
    fn packed_jobs_are_slowed_less_than_scattered_ones() {
        let v = View::new(&fabric("fat-tree:gpus=192,oversub=3"));
        let packed = vec![doms(&v, &[0, 1, 2, 3, 4, 5]), doms(&v, &[6, 7, 8, 9, 10, 11])];
        let scattered = vec![doms(&v, &[0, 6, 12, 18, 1, 7]), doms(&v, &[2, 8, 14, 20, 3, 9])];
        let kp = kappas(&v, &packed);
        let ks = kappas(&v, &scattered);
        assert_eq!(kp, vec![1.0, 1.0]);
        assert!(ks[0] > 1.0, "{ks:?}");
    }
}
