//! Failures on a shared cluster, from the same failure catalogue and the same component
//! counting as `fabricsim goodput` ([`crate::goodput::failure_sources`] over the whole
//! cluster's [`crate::goodput::counts_from_fabric`]); or, with `--failures-per-gpu-hour`, a
//! plain per-GPU rate (the override).
//!
//! **What a failure hits.** Every class that *stops* a job on this fabric (see
//! `goodput::Effect`: NIC links and leaf switches only degrade a dual-plane fabric's jobs, upper
//! tiers are routed around — neither is simulated here) is a Poisson stream over its group of
//! components at the catalogue's central rate for the cluster's accelerator. A failure picks one
//! component of its group uniformly; the component's GPUs are: the accelerator itself; the
//! host's, NIC's or NIC link's share of the accelerators in order (`count` components split the
//! GPUs into equal consecutive ranges); every accelerator under the leaf switch (leaf chips
//! mapped in order onto the scheduler's leaves). Every job running on one of them is stopped.
//!
//! **Repair.** A class that needs a replacement (all but software, as in goodput) takes the
//! failed hardware out of the pool for [`fc::NODE_REPAIR_S`] (goodput's assumption, 24 h): the
//! host holding the failed GPU / NIC / link, or the whole leaf for a leaf switch. GPUs already out
//! stay out until their own repair ends.
//!
//! **Restart** (the rule, in `sim.rs`): a job checkpoints every τ of its own work, τ from
//! Young–Daly ([`crate::goodput::young_daly_s`]) with its MTBI (its GPUs × the cluster's rate
//! per GPU), MTTR = detection + restart ([`fc::DETECT_S`] + [`fc::RESTART_S`], goodput's
//! defaults) and C = [`CHECKPOINT_WRITE_S`]; or `--checkpoint-interval-s`. A stopped job loses
//! the work since its last checkpoint, is requeued, and its next attempt first spends detection
//! and restart (charged as run time on its new GPUs). The checkpoint stall itself is not
//! added: a trace's run time already contains its checkpoints.
//!
//! **Pause.** The failure stream is thinned to the time when jobs run or are still to arrive
//! (a failure drawn while the cluster is empty and nothing more will arrive is dropped), so
//! the run ends once its jobs are done; [`FailureModel::per_s`] × that active time is the
//! expected number of failures (`expected_failures` in the report).

use super::contention::View;
use crate::goodput::{self, ComponentRow, Effect, Unit};
use fabric::catalogue::failures::{self as fc, FailureClass};

/// Checkpoint write stall of a job, seconds, for its Young–Daly interval. ASSUMPTION: a trace
/// job's model is not known; 60 s sits between goodput's Llama 3.1 405B write on 16k H100
/// (5.68 TB at 2 TB/s × 16/24 ≈ 4 s, Tectonic per accelerator) and the minutes reported for
/// synchronous checkpoints to shared file systems (CheckFreq, FAST'21, §2: "tens of seconds to
/// minutes"). Only sets τ; the stall is not simulated.
pub const CHECKPOINT_WRITE_S: f64 = 60.0;

/// How the GPUs of one failed component are found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hits {
    /// `count` components split the accelerators into equal consecutive ranges.
    Range,
    /// Leaf switch chips mapped in order onto the scheduler's leaves.
    Leaf,
}

/// One simulated failure stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stream {
    pub class: FailureClass,
    /// Failures per second of the whole group.
    pub per_s: f64,
    pub count: u64,
    hits: Hits,
    /// The failed hardware goes out for repair.
    pub repair: bool,
}

/// The cluster's failure streams.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureModel {
    /// `catalogue` or `override`.
    pub rates: String,
    pub(crate) streams: Vec<Stream>,
    /// Hosts of the cluster (the repair unit of host-level hardware).
    hosts: u64,
    /// The catalogue rows of the whole cluster (goodput's table), every effect.
    pub components: Vec<ComponentRow>,
}

impl FailureModel {
    /// The catalogue's central rates for `f`'s accelerator over all of `f`'s components.
    pub fn catalogue(f: &fabric::Fabric) -> FailureModel {
        let (counts, traits) = goodput::counts_from_fabric(f, f.accel_count() as u64);
        let all = goodput::failure_sources(f.accel_model, &counts, &traits);
        let components = all.iter().map(ComponentRow::from_source).collect();
        let streams = all
            .iter()
            .filter(|s| s.effect == Effect::Stop)
            .map(|s| Stream {
                class: s.class,
                per_s: s.per_s(),
                count: s.count.max(1.0) as u64,
                hits: if s.unit == Unit::LeafSwitch {
                    Hits::Leaf
                } else {
                    Hits::Range
                },
                repair: s.class.needs_replacement(),
            })
            .collect();
        FailureModel {
            rates: "catalogue".into(),
            streams,
            hosts: counts.hosts.max(1.0) as u64,
            components,
        }
    }

    /// `per_gpu_hour` job-stopping failures on every accelerator (`--failures-per-gpu-hour`),
    /// each taking its host out for repair like a catalogue GPU failure.
    pub fn per_gpu_hour(f: &fabric::Fabric, per_gpu_hour: f64) -> FailureModel {
        let (counts, _) = goodput::counts_from_fabric(f, f.accel_count() as u64);
        let gpus = f.accel_count() as f64;
        FailureModel {
            rates: "override".into(),
            streams: if per_gpu_hour > 0.0 {
                vec![Stream {
                    class: FailureClass::Gpu,
                    per_s: gpus * per_gpu_hour / 3600.0,
                    count: gpus as u64,
                    hits: Hits::Range,
                    repair: true,
                }]
            } else {
                Vec::new()
            },
            hosts: counts.hosts.max(1.0) as u64,
            components: vec![ComponentRow {
                class: "any".into(),
                per: Unit::Accelerator.name().into(),
                count: gpus,
                rate_per_hour: per_gpu_hour,
                effect: Effect::Stop.name().into(),
                expected_per_day: gpus * per_gpu_hour * 24.0,
                source: "--failures-per-gpu-hour".into(),
            }],
        }
    }

    /// No failures (tests of the scheduler alone).
    #[cfg(test)]
    pub(crate) fn none() -> FailureModel {
        FailureModel {
            rates: "override".into(),
            streams: Vec::new(),
            hosts: 1,
            components: Vec::new(),
        }
    }

    /// Job-stopping failures per second of the whole cluster.
    pub fn per_s(&self) -> f64 {
        self.streams.iter().map(|s| s.per_s).sum()
    }

    /// Job-stopping failures per GPU-hour (the cluster's rate over its GPUs).
    pub fn per_gpu_hour_of(&self, gpus: u32) -> f64 {
        self.per_s() * 3600.0 / gpus.max(1) as f64
    }

    /// The accelerators a failure of component `i` of stream `s` stops, and those that go out
    /// for repair (empty when the class needs none).
    pub(crate) fn hit(&self, v: &View, s: usize, i: u64, leaf_gpus: &[Vec<u32>]) -> (Vec<u32>, Vec<u32>) {
        let st = &self.streams[s];
        let g = v.gpus as u64;
        let range = |i: u64, n: u64| -> Vec<u32> {
            let lo = (i * g / n).min(g.saturating_sub(1));
            let hi = ((i + 1) * g / n).clamp(lo + 1, g);
            (lo as u32..hi as u32).collect()
        };
        match st.hits {
            Hits::Leaf => {
                let nl = leaf_gpus.len().max(1) as u64;
                let l = (i * nl / st.count.max(1)).min(nl - 1) as usize;
                let gpus = leaf_gpus.get(l).cloned().unwrap_or_default();
                let out = if st.repair { gpus.clone() } else { Vec::new() };
                (gpus, out)
            }
            Hits::Range => {
                let gpus = range(i, st.count.max(1));
                let out = if st.repair {
                    range(gpus[0] as u64 * self.hosts / g, self.hosts)
                } else {
                    Vec::new()
                };
                (gpus, out)
            }
        }
    }
}

/// The GPUs under each of the scheduler's leaves.
pub(crate) fn leaf_gpus(v: &View) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); v.leaves()];
    for (g, &l) in v.gpu_leaf.iter().enumerate() {
        out[l as usize].push(g as u32);
    }
    out
}

/// A job's checkpoint interval: `given`, or Young–Daly from its MTBI on `gpus` GPUs at
/// `per_gpu_s` failures per GPU-second (∞ without failures: it never loses work).
pub(crate) fn checkpoint_interval_s(given: Option<f64>, gpus: u32, per_gpu_s: f64) -> f64 {
    if let Some(x) = given {
        return x;
    }
    let rate = gpus as f64 * per_gpu_s;
    if rate <= 0.0 {
        return f64::INFINITY;
    }
    goodput::young_daly_s(1.0 / rate, fc::DETECT_S + fc::RESTART_S, CHECKPOINT_WRITE_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_streams_cover_the_stopping_classes_of_a_single_plane_tree() {
        let f = fabric::presets::build_preset("fat-tree:gpus=256").unwrap().1;
        let m = FailureModel::catalogue(&f);
        let classes: Vec<&str> = m.streams.iter().map(|s| s.class.name()).collect();
        for c in ["gpu", "hbm", "nic", "host", "switch", "cable_optic", "software"] {
            assert!(classes.contains(&c), "{c} missing from {classes:?}");
        }
        // Per GPU-hour: GPU 8.86e-6 + HBM 1.13e-5 + NIC, link, host, software and leaf shares.
        let r = m.per_gpu_hour_of(256);
        assert!(r > 2.5e-5 && r < 6e-5, "{r}");
        let v = View::new(&f);
        let lg = leaf_gpus(&v);
        let sw = m
            .streams
            .iter()
            .position(|s| s.class == FailureClass::Software)
            .unwrap();
        let (hit, out) = m.hit(&v, sw, 0, &lg);
        assert_eq!(hit.len() as u64, 256 / m.hosts);
        assert!(out.is_empty(), "software needs no repair");
        let gpu = m.streams.iter().position(|s| s.class == FailureClass::Gpu).unwrap();
        let (hit, out) = m.hit(&v, gpu, 13, &lg);
        assert_eq!(hit, vec![13]);
        assert!(out.contains(&13) && out.len() as u64 == 256 / m.hosts);
    }

    #[test]
    fn young_daly_interval_shrinks_with_job_size() {
        let small = checkpoint_interval_s(None, 8, 3e-5 / 3600.0);
        let big = checkpoint_interval_s(None, 65_536, 3e-5 / 3600.0);
        assert!(big < small && big > CHECKPOINT_WRITE_S, "{big} {small}");
        assert_eq!(checkpoint_interval_s(Some(900.0), 8, 1.0), 900.0);
        assert!(checkpoint_interval_s(None, 8, 0.0).is_infinite());
    }
}
