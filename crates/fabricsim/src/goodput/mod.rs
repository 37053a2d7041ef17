//! Goodput of a training campaign under failures (`fabricsim goodput`): component failures per
//! class from the failure catalogue (`fabric::catalogue::failures`, every rate with its source),
//! which of them stop the job and which only slow it on this fabric, checkpoints sized from the
//! model state and written to storage over the fabric, restart and re-queue, the Young–Daly
//! checkpoint interval (or a given one), in-memory checkpoints and hot spares; a seeded Monte
//! Carlo over the campaign reported as distributions `{mean, p10, p50, p90, p99}`.
//!
//! No I/O. Same inputs and seed → byte-identical report (trials run in order, each from its own
//! SplitMix64 stream; percentiles by nearest rank on sorted values; classes in a fixed order).
//!
//! Model of one trial (continuous time, seconds of wall clock over `days`):
//! - the job alternates compute (τ of nominal work between checkpoints) and a blocking checkpoint
//!   stall C; a degraded job (one NIC at half bandwidth) computes at 1 / (1 + s) speed, s the
//!   step's exposed scale-out communication share, until its next stop (the part is swapped
//!   while the job is down);
//! - stopping failures arrive as a Poisson process at the sum of the stopping classes' rates
//!   (count × rate per component-hour); the work since the last completed checkpoint is lost,
//!   the job is down for detection + restart + checkpoint read (+ the wait for a spare node when
//!   the failure is hardware and none is left; + the OCS reconfiguration on OCS fabrics);
//! - planned maintenance arrives at `maintenance_per_day`: the job checkpoints, stops and restarts
//!   (no detection, nothing lost);
//! - with `rate_spread`, each trial draws one multiplier of the node-derived rates log-uniformly
//!   between the RSC-2 and RSC-1 node rates (the sources' disagreement), so the spread of the
//!   report covers both Poisson noise and the uncertainty of the rates.

use fabric::catalogue::failures::{self as fc, FailureClass, PerComponent};
use serde::Serialize;
use std::collections::BTreeMap;

/// Component counts of the job's share of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentCounts {
    pub accelerators: f64,
    pub hosts: f64,
    pub nics: f64,
    /// Scale-out links from accelerators / NICs to the first switch tier (one per port).
    pub nic_links: f64,
    /// First-tier (leaf / ToR) scale-out switch chips.
    pub leaf_switches: f64,
    /// Scale-out switch chips above the first tier.
    pub upper_switches: f64,
    /// Switch-to-switch scale-out links.
    pub upper_links: f64,
}

/// What the fabric says about how a job survives failures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FabricTraits {
    /// Each NIC has one port per plane (dual-plane / dual-ToR): losing a port, its link or its
    /// ToR halves the NIC's bandwidth and the job continues.
    pub dual_plane: bool,
    /// Optical circuit switches: a failed cube is routed around in ~10 s (no spare-node wait).
    pub ocs: bool,
    /// Hosts of the cluster the job does not use: cold spares a failed node is replaced from.
    pub idle_hosts: u64,
    /// InfiniBand or Ethernet scale-out: picks the network failure sources of the catalogue.
    pub scale_out: fc::ScaleOut,
}

/// Everything one goodput run needs, fabric- and model-derived values included.
#[derive(Debug, Clone)]
pub struct GoodputInputs {
    pub cluster: String,
    pub model: String,
    pub accel_model: &'static str,
    pub step_time_s: f64,
    pub counts: ComponentCounts,
    pub traits: FabricTraits,
    /// Bytes of one full checkpoint (weights + optimizer state of the whole model).
    pub checkpoint_bytes: f64,
    /// Aggregate bandwidth to persistent storage for the job (bytes/s).
    pub storage_bytes_per_s: f64,
    /// Accelerator → host DRAM bandwidth per accelerator (in-memory snapshots).
    pub host_link_bytes_per_s: f64,
    /// Scale-out bandwidth per accelerator (peer copies, reads of in-memory checkpoints).
    pub scale_out_bytes_per_s_per_accel: f64,
    /// Share of the step that is exposed scale-out communication (PP + DP): a step on a
    /// half-bandwidth NIC takes (1 + this) × the step.
    pub exposed_scale_out_fraction: f64,
    pub days: f64,
    pub seed: u64,
    pub trials: u32,
    pub maintenance_per_day: f64,
    pub checkpoint_interval_s: Option<f64>,
    pub in_memory_checkpoint: bool,
    pub hot_spares: u64,
    pub rate_spread: bool,
    /// Detection time of an unexpected stop (default `failures::DETECT_S`).
    pub detect_s: f64,
    /// Re-queue, start and initialisation of a restart (default `failures::RESTART_S`).
    pub restart_s: f64,
}

/// A distribution over the trials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Dist {
    pub mean: f64,
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Dist {
    /// Mean and nearest-rank percentiles of `v` (sorted here; NaN-free input).
    pub fn of(v: &[f64]) -> Dist {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        if n == 0 {
            return Dist {
                mean: 0.0,
                p10: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
            };
        }
        let p = |q: f64| s[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        Dist {
            mean: s.iter().sum::<f64>() / n as f64,
            p10: p(0.10),
            p50: p(0.50),
            p90: p(0.90),
            p99: p(0.99),
        }
    }
}

/// One class of components on this job: how many, how often, and what a failure does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentRow {
    pub class: String,
    /// The components counted ("accelerator", "host", "nic", "nic link", "leaf switch", …).
    pub per: String,
    pub count: f64,
    /// Failures per component-hour (central).
    pub rate_per_hour: f64,
    /// "stop" (the job restarts), "degrade" (a NIC at half bandwidth, slower until the next
    /// stop) or "absorbed" (routed around, no measurable slowdown).
    pub effect: String,
    /// Expected failures per day of the campaign at the central rate.
    pub expected_per_day: f64,
    pub source: String,
}

impl ComponentRow {
    /// The report row of one failure source.
    pub fn from_source(s: &FailureSource) -> ComponentRow {
        ComponentRow {
            class: s.class.name().into(),
            per: s.unit.name().into(),
            count: s.count,
            rate_per_hour: s.per_hour,
            effect: s.effect.name().into(),
            expected_per_day: s.count * s.per_hour * 24.0,
            source: s.source.into(),
        }
    }
}

/// `fabricsim goodput`'s result.
#[derive(Debug, Clone, Serialize)]
pub struct GoodputReport {
    pub schema_version: u32,
    pub cluster: String,
    pub model: String,
    pub accelerator: String,
    pub accelerators: u64,
    pub days: f64,
    pub trials: u32,
    pub seed: u64,
    pub step_time_s: f64,
    pub checkpoint_bytes: f64,
    pub checkpoint_write_s: f64,
    pub checkpoint_read_s: f64,
    pub checkpoint_interval_s: f64,
    pub checkpoint_interval_steps: u64,
    /// "young-daly" or "given".
    pub checkpoint_interval_rule: String,
    pub in_memory_checkpoint: bool,
    pub storage_bytes_per_s: f64,
    pub hot_spares: u64,
    pub idle_hosts: u64,
    pub detect_s: f64,
    /// Down time of an unexpected stop without a wait for a spare: detection + restart +
    /// checkpoint read (+ OCS reconfiguration).
    pub restart_s: f64,
    pub degraded_step_slowdown_fraction: f64,
    /// "infiniband" or "ethernet": which network failure sources of the catalogue apply.
    pub scale_out: String,
    pub maintenance_per_day: f64,
    /// Mean time between stopping failures at the central rates (analytic).
    pub mtbi_s: f64,
    /// Wall time over the mean number of interruptions (planned and unexpected), Monte Carlo.
    pub mean_interval_between_interruptions_s: f64,
    pub interruptions: Dist,
    pub interruptions_unexpected: Dist,
    pub interruptions_planned: Dist,
    pub interruptions_by_class: BTreeMap<String, Dist>,
    pub degradations: Dist,
    pub effective_training_time_fraction: Dist,
    pub lost_gpu_hours: Dist,
    pub rate_spread: String,
    pub components: Vec<ComponentRow>,
    pub assumptions: Vec<String>,
}

/// Young–Daly optimal checkpoint interval τ = √(2 · (MTBI + MTTR) · C), seconds.
pub fn young_daly_s(mtbi_s: f64, mttr_s: f64, checkpoint_s: f64) -> f64 {
    (2.0 * (mtbi_s + mttr_s) * checkpoint_s).sqrt()
}

/// The Young–Daly interval in whole steps (at least one).
pub fn young_daly_steps(mtbi_s: f64, mttr_s: f64, checkpoint_s: f64, step_s: f64) -> u64 {
    ((young_daly_s(mtbi_s, mttr_s, checkpoint_s) / step_s).round() as u64).max(1)
}

/// SplitMix64 stream.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, trial: u64) -> Rng {
        let mut r = Rng(seed ^ 0x0006_00D9_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.0 ^= fabric::routing::splitmix64(trial.wrapping_add(1));
        r
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
    /// Exponential waiting time at `rate` per second (infinite at rate 0).
    fn exp(&mut self, rate: f64) -> f64 {
        if rate <= 0.0 {
            f64::INFINITY
        } else {
            -self.unit().ln() / rate
        }
    }
}

/// What a failure of one group of components does to a job on this fabric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The job stops and restarts from its last checkpoint.
    Stop,
    /// A NIC at half bandwidth (dual-plane / dual-ToR): the job continues, slower.
    Degrade,
    /// Routed around (upper tiers by ECMP): no measurable slowdown.
    Absorbed,
}

impl Effect {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Effect::Stop => "stop",
            Effect::Degrade => "degrade",
            Effect::Absorbed => "absorbed",
        }
    }
}

/// The group of components a failure source is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Accelerator,
    Host,
    Nic,
    /// The NIC-side link of a scale-out port.
    NicLink,
    UpperLink,
    LeafSwitch,
    UpperSwitch,
}

impl Unit {
    /// Name in reports ("per" column).
    pub fn name(self) -> &'static str {
        match self {
            Unit::Accelerator => "accelerator",
            Unit::Host => "host",
            Unit::Nic => "nic",
            Unit::NicLink => "nic link",
            Unit::UpperLink => "switch-to-switch link",
            Unit::LeafSwitch => "leaf switch",
            Unit::UpperSwitch => "upper-tier switch",
        }
    }
}

/// One source of failures on a set of components: the catalogue's class and rate, the group
/// it is counted over, how many, and what a failure does on this fabric.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureSource {
    pub class: FailureClass,
    pub unit: Unit,
    pub count: f64,
    /// Failures per component-hour (central).
    pub per_hour: f64,
    pub effect: Effect,
    pub node_derived: bool,
    pub source: &'static str,
}

impl FailureSource {
    /// Failures per second of the whole group at the central rate.
    pub fn per_s(&self) -> f64 {
        self.count * self.per_hour / 3600.0
    }
}

/// The failure sources of a set of components (a job's share from [`counts_from_fabric`], or a
/// whole cluster's): every catalogue class for `accel_model` over the groups it is counted per,
/// with its effect on this fabric — shared by `goodput` and `schedule`. Groups with no
/// component are left out.
pub fn failure_sources(accel_model: &str, c: &ComponentCounts, traits: &FabricTraits) -> Vec<FailureSource> {
    let dual = traits.dual_plane;
    let mut out = Vec::new();
    for r in fc::failure_rates(accel_model, traits.scale_out) {
        let groups: Vec<(Unit, f64, Effect)> = match r.per {
            PerComponent::Accelerator => vec![(Unit::Accelerator, c.accelerators, Effect::Stop)],
            PerComponent::Host => vec![(Unit::Host, c.hosts, Effect::Stop)],
            PerComponent::Nic => vec![(Unit::Nic, c.nics, Effect::Stop)],
            PerComponent::Link => vec![
                (
                    Unit::NicLink,
                    c.nic_links,
                    if dual { Effect::Degrade } else { Effect::Stop },
                ),
                (Unit::UpperLink, c.upper_links, Effect::Absorbed),
            ],
            PerComponent::Switch => vec![
                (
                    Unit::LeafSwitch,
                    c.leaf_switches,
                    if dual { Effect::Degrade } else { Effect::Stop },
                ),
                (Unit::UpperSwitch, c.upper_switches, Effect::Absorbed),
            ],
        };
        for (unit, count, effect) in groups {
            if count <= 0.0 {
                continue;
            }
            out.push(FailureSource {
                class: r.class,
                unit,
                count,
                per_hour: r.per_hour,
                effect,
                node_derived: r.node_derived,
                source: r.source,
            });
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Source {
    class: FailureClass,
    effect: Effect,
    /// Failures per second at the central rate (count × rate / 3600).
    per_s: f64,
    node_derived: bool,
}

/// The job's failure sources with their effect on this fabric, and the table rows.
fn sources(inp: &GoodputInputs) -> (Vec<Source>, Vec<ComponentRow>) {
    let all = failure_sources(inp.accel_model, &inp.counts, &inp.traits);
    let out = all
        .iter()
        .map(|s| Source {
            class: s.class,
            effect: s.effect,
            per_s: s.per_s(),
            node_derived: s.node_derived,
        })
        .collect();
    let rows = all.iter().map(ComponentRow::from_source).collect();
    (out, rows)
}

/// Check the inputs, naming the field and the problem.
pub fn check(inp: &GoodputInputs) -> Result<(), String> {
    if !(inp.days.is_finite() && inp.days > 0.0) {
        return Err(format!("--days {}: must be a positive number of days", inp.days));
    }
    if inp.days > 3650.0 {
        return Err(format!("--days {}: at most 3650 (ten years)", inp.days));
    }
    if inp.trials == 0 || inp.trials > 100_000 {
        return Err(format!("--trials {}: must be 1–100000", inp.trials));
    }
    if !(inp.maintenance_per_day.is_finite() && inp.maintenance_per_day >= 0.0 && inp.maintenance_per_day <= 100.0) {
        return Err(format!(
            "--maintenance-per-day {}: must be 0–100 planned stops per day",
            inp.maintenance_per_day
        ));
    }
    if let Some(x) = inp.checkpoint_interval_s {
        if !(x.is_finite() && x > 0.0) {
            return Err(format!(
                "--checkpoint-interval-s {x}: must be a positive number of seconds"
            ));
        }
    }
    for (flag, v) in [("--detect-s", inp.detect_s), ("--restart-s", inp.restart_s)] {
        if !(v.is_finite() && (0.0..=86_400.0).contains(&v)) {
            return Err(format!("{flag} {v}: must be 0–86400 seconds"));
        }
    }
    if !(inp.step_time_s.is_finite() && inp.step_time_s > 0.0) {
        return Err(format!("step time {} s: not a positive number", inp.step_time_s));
    }
    if inp.counts.accelerators < 1.0 {
        return Err("the job has no accelerators".into());
    }
    Ok(())
}

/// Per-trial tallies.
#[derive(Debug, Clone, Default)]
struct Trial {
    unexpected: u64,
    planned: u64,
    by_class: [u64; 7],
    degradations: u64,
    work_s: f64,
}

struct Params {
    horizon: f64,
    tau: f64,
    c: f64,
    restart_unexpected: f64,
    restart_planned: f64,
    slow: f64,
    plan_per_s: f64,
    pool: u64,
    ocs: bool,
}

fn class_index(c: FailureClass) -> usize {
    FailureClass::ALL.iter().position(|&x| x == c).unwrap_or(0)
}

fn run_trial(src: &[Source], p: &Params, mult: f64, rng: &mut Rng) -> Trial {
    let rate = |s: &Source| s.per_s * if s.node_derived { mult } else { 1.0 };
    let stop: Vec<(usize, f64)> = src
        .iter()
        .filter(|s| s.effect == Effect::Stop)
        .map(|s| (class_index(s.class), rate(s)))
        .collect();
    let stop_total: f64 = stop.iter().map(|x| x.1).sum();
    let deg_slow: f64 = src.iter().filter(|s| s.effect == Effect::Degrade).map(rate).sum();
    let deg_abs: f64 = src.iter().filter(|s| s.effect == Effect::Absorbed).map(rate).sum();
    let mut tr = Trial::default();
    let mut t = 0.0;
    let mut work = 0.0;
    let mut saved = 0.0;
    // Phase: Some(remaining stall) while checkpointing, None while computing.
    let mut ckpt: Option<f64> = None;
    let mut degraded = false;
    let mut pool = p.pool;
    let mut returns: Vec<f64> = Vec::new();
    while t < p.horizon {
        let speed = if degraded { 1.0 / p.slow } else { 1.0 };
        let boundary = match ckpt {
            Some(rem) => rem,
            None => (p.tau - (work - saved)).max(0.0) / speed,
        };
        let d_fail = rng.exp(stop_total);
        let d_plan = rng.exp(p.plan_per_s);
        let d_deg = rng.exp(deg_slow + deg_abs);
        let d_end = p.horizon - t;
        let dt = boundary.min(d_fail).min(d_plan).min(d_deg).min(d_end);
        // Advance.
        match ckpt {
            Some(rem) => ckpt = Some(rem - dt),
            None => work += dt * speed,
        }
        t += dt;
        if dt == d_end {
            break;
        }
        if dt == boundary {
            match ckpt {
                Some(_) => {
                    ckpt = None;
                    saved = work;
                }
                None => {
                    // Guard against rounding: the work of this interval is done.
                    work = saved + p.tau;
                    ckpt = Some(p.c);
                }
            }
            continue;
        }
        if dt == d_deg {
            tr.degradations += 1;
            if rng.unit() * (deg_slow + deg_abs) <= deg_slow {
                degraded = true;
            }
            continue;
        }
        if dt == d_plan {
            // Checkpoint (or finish the one in progress), then stop and restart.
            let stall = ckpt.unwrap_or(p.c);
            saved = work;
            ckpt = None;
            degraded = false;
            tr.planned += 1;
            t += stall + p.restart_planned;
            continue;
        }
        // An unexpected stop: which class.
        let mut pick = rng.unit() * stop_total;
        let mut class = stop.last().map(|x| x.0).unwrap_or(0);
        for &(ci, r) in &stop {
            if pick <= r {
                class = ci;
                break;
            }
            pick -= r;
        }
        tr.unexpected += 1;
        tr.by_class[class] += 1;
        work = saved;
        ckpt = None;
        degraded = false;
        let mut down = p.restart_unexpected;
        if FailureClass::ALL[class].needs_replacement() && !p.ocs {
            // Repaired nodes return to the pool.
            returns.sort_by(f64::total_cmp);
            let back = returns.iter().take_while(|&&r| r <= t).count();
            returns.drain(..back);
            pool += back as u64;
            if pool > 0 {
                pool -= 1;
            } else if let Some(&first) = returns.first() {
                // Wait for the first node back; it replaces this one at once.
                down += first - t;
                returns.remove(0);
            } else {
                down += fc::NODE_REPAIR_S;
            }
            returns.push(t + fc::NODE_REPAIR_S);
        }
        t += down;
    }
    tr.work_s = work.min(p.horizon);
    tr
}

/// The job's share of `f` (its first `job_accels` accelerators, the packed placement `train`
/// uses): component counts, and how the fabric survives failures.
pub fn counts_from_fabric(f: &fabric::Fabric, job_accels: u64) -> (ComponentCounts, FabricTraits) {
    use fabric::model::{Net, NodeKind};
    let n = f.accel_count().max(1) as f64;
    let job = (job_accels as f64).min(n);
    let frac = job / n;
    let hosts_all = if f.extras.hosts > 0 {
        f.extras.hosts as f64
    } else {
        // No host counted by the generator (TPU slices): one per scale-up domain of up to 4.
        (n / f.domain_size.clamp(1, 4) as f64).ceil()
    };
    let hosts = (hosts_all * frac).ceil();
    let nics = (f.extras.nics as f64 * frac).ceil();
    let nic_links: f64 = (0..job as u32).map(|r| f.scale_out_ports(r).len() as f64).sum();
    let (mut leaf, mut upper) = (0.0, 0.0);
    // InfiniBand when any scale-out switch is a Quantum chip, Ethernet when there are
    // scale-out switches and none is; a fabric with no scale-out switch modelled (one node, one
    // NVL72 rack) keeps the InfiniBand (RSC / Crusoe) rates it always had: its NICs' technology
    // is not known.
    let mut scale_out: Option<fc::ScaleOut> = None;
    for node in &f.nodes {
        if node.kind == NodeKind::Switch && node.net != Net::ScaleUp {
            if let Some(m) = f.switch_models.get(node.model as usize) {
                let t = fc::ScaleOut::of_switch_chip(m.chip);
                if scale_out != Some(fc::ScaleOut::InfiniBand) {
                    scale_out = Some(t);
                }
            }
            if node.tier <= 1 {
                leaf += node.chips as f64;
            } else {
                upper += node.chips as f64;
            }
        }
    }
    let upper_links = f
        .links
        .iter()
        .step_by(2)
        .filter(|l| {
            l.net != Net::ScaleUp && f.node(l.src).kind == NodeKind::Switch && f.node(l.dst).kind == NodeKind::Switch
        })
        .map(|l| l.lanes.max(1) as f64)
        .sum::<f64>();
    let counts = ComponentCounts {
        accelerators: job,
        hosts,
        nics,
        nic_links,
        leaf_switches: (leaf * frac).ceil(),
        upper_switches: (upper * frac).ceil(),
        upper_links: (upper_links * frac).ceil(),
    };
    let traits = FabricTraits {
        dual_plane: f.planes >= 2,
        ocs: f.extras.ocs > 0,
        idle_hosts: (hosts_all - hosts).max(0.0) as u64,
        scale_out: scale_out.unwrap_or(fc::ScaleOut::InfiniBand),
    };
    (counts, traits)
}

/// Run the campaign Monte Carlo.
pub fn run(inp: &GoodputInputs) -> Result<GoodputReport, String> {
    check(inp)?;
    let (src, rows) = sources(inp);
    let horizon = inp.days * 86_400.0;
    let gpus = inp.counts.accelerators;
    let per_gpu_bytes = inp.checkpoint_bytes / gpus;
    let persistent_bw = inp
        .storage_bytes_per_s
        .min(inp.scale_out_bytes_per_s_per_accel.max(1.0) * gpus);
    let (write_s, read_s) = if inp.in_memory_checkpoint {
        // GEMINI-style: a snapshot to host DRAM blocks the step; the copy to a peer's memory
        // and the read on restart go over the scale-out network.
        (
            per_gpu_bytes / inp.host_link_bytes_per_s,
            per_gpu_bytes / inp.scale_out_bytes_per_s_per_accel.max(1.0),
        )
    } else {
        (
            inp.checkpoint_bytes / persistent_bw,
            inp.checkpoint_bytes / persistent_bw,
        )
    };
    let ocs_s = if inp.traits.ocs { fc::OCS_RECONFIG_S } else { 0.0 };
    let restart_unexpected = inp.detect_s + inp.restart_s + read_s + ocs_s;
    let restart_planned = inp.restart_s + read_s;
    let stop_per_s: f64 = src.iter().filter(|s| s.effect == Effect::Stop).map(|s| s.per_s).sum();
    let mtbi_s = if stop_per_s > 0.0 {
        1.0 / stop_per_s
    } else {
        f64::INFINITY
    };
    let (tau, rule) = match inp.checkpoint_interval_s {
        Some(x) => (x, "given"),
        None => {
            let mtbi = if mtbi_s.is_finite() { mtbi_s } else { horizon };
            let n = young_daly_steps(mtbi, restart_unexpected, write_s, inp.step_time_s);
            (n as f64 * inp.step_time_s, "young-daly")
        }
    };
    let slow = 1.0 + inp.exposed_scale_out_fraction.max(0.0);
    let params = Params {
        horizon,
        tau,
        c: write_s,
        restart_unexpected,
        restart_planned,
        slow,
        plan_per_s: inp.maintenance_per_day / 86_400.0,
        pool: inp.traits.idle_hosts + inp.hot_spares,
        ocs: inp.traits.ocs,
    };
    let (lo, hi) = fc::rate_range_node();
    let trials: Vec<Trial> = (0..inp.trials as u64)
        .map(|i| {
            let mut rng = Rng::new(inp.seed, i);
            let mult = if inp.rate_spread {
                (lo.ln() + rng.unit() * (hi.ln() - lo.ln())).exp()
            } else {
                1.0
            };
            run_trial(&src, &params, mult, &mut rng)
        })
        .collect();
    let col = |f: &dyn Fn(&Trial) -> f64| Dist::of(&trials.iter().map(f).collect::<Vec<_>>());
    let interruptions = col(&|t| (t.unexpected + t.planned) as f64);
    let mut by_class = BTreeMap::new();
    for (i, c) in FailureClass::ALL.iter().enumerate() {
        by_class.insert(c.name().to_string(), col(&|t| t.by_class[i] as f64));
    }
    let mut assumptions = vec![
        format!(
            "checkpoint = weights + optimizer state of the whole model (the workload memory model) = {:.3} TB",
            inp.checkpoint_bytes / 1e12
        ),
        format!(
            "persistent checkpoints at {:.0} GB/s: storage {:.0} GB/s (Meta Tectonic 2 TB/s over 24,576 GPUs, per accelerator) capped by the job's scale-out injection bandwidth",
            persistent_bw / 1e9,
            inp.storage_bytes_per_s / 1e9
        ),
        format!(
            "restart after an unexpected stop: detection {:.0} s (default 0: counted in the restart) + recovery {:.0} s (default 600 s: FT-HSDP's 10-min synchronous recovery stall at O(100K) GPUs, arXiv 2602.00277, detection included) + checkpoint read {:.1} s",
            inp.detect_s,
            inp.restart_s,
            read_s
        ),
        "planned maintenance arrives at --maintenance-per-day of wall clock; one that falls while the job is already down is done then and is not an interruption".into(),
        "a hardware stop takes a spare node from the cluster's idle hosts and the hot spares; a failed node returns after 24 h (assumption); with none left the job waits".into(),
        "software failure rate is an assumption (15 % of the node hardware rate per host): no source other than Llama 3 gives one".into(),
        "a degraded NIC (dual-plane / dual-ToR) slows every step by the exposed scale-out communication share until the job's next stop".into(),
    ];
    if inp.traits.ocs {
        assumptions
            .push("OCS fabric: a failed cube is routed around in ~10 s instead of waiting for a spare node".into());
    }
    if inp.in_memory_checkpoint {
        assumptions.push(
            "in-memory checkpoints (GEMINI): snapshot to host DRAM blocks the step, the peer copy and the restart read go over the scale-out NIC; persistent checkpoints not modelled"
                .into(),
        );
    }
    let mean_int = interruptions.mean;
    Ok(GoodputReport {
        schema_version: crate::SCHEMA_VERSION,
        cluster: inp.cluster.clone(),
        model: inp.model.clone(),
        accelerator: inp.accel_model.to_string(),
        accelerators: gpus as u64,
        days: inp.days,
        trials: inp.trials,
        seed: inp.seed,
        step_time_s: inp.step_time_s,
        checkpoint_bytes: inp.checkpoint_bytes,
        checkpoint_write_s: write_s,
        checkpoint_read_s: read_s,
        checkpoint_interval_s: tau,
        checkpoint_interval_steps: (tau / inp.step_time_s).round().max(1.0) as u64,
        checkpoint_interval_rule: rule.into(),
        in_memory_checkpoint: inp.in_memory_checkpoint,
        storage_bytes_per_s: inp.storage_bytes_per_s,
        hot_spares: inp.hot_spares,
        idle_hosts: inp.traits.idle_hosts,
        detect_s: inp.detect_s,
        restart_s: restart_unexpected,
        degraded_step_slowdown_fraction: slow - 1.0,
        scale_out: inp.traits.scale_out.name().into(),
        maintenance_per_day: inp.maintenance_per_day,
        mtbi_s: if mtbi_s.is_finite() { mtbi_s } else { 0.0 },
        mean_interval_between_interruptions_s: if mean_int > 0.0 { horizon / mean_int } else { 0.0 },
        interruptions,
        interruptions_unexpected: col(&|t| t.unexpected as f64),
        interruptions_planned: col(&|t| t.planned as f64),
        interruptions_by_class: by_class,
        degradations: col(&|t| t.degradations as f64),
        effective_training_time_fraction: col(&|t| t.work_s / horizon),
        lost_gpu_hours: col(&|t| (horizon - t.work_s) * gpus / 3600.0),
        rate_spread: if inp.rate_spread {
            format!(
                "node-derived rates × a per-trial multiplier drawn log-uniformly in [{lo:.2}, {hi:.2}] ({})",
                fc::RATE_RANGE_NODE
            )
        } else {
            "central rates (Poisson noise only)".into()
        },
        components: rows,
        assumptions,
    })
}

/// The text report.
pub fn render(r: &GoodputReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let d = |x: &Dist, scale: f64, prec: usize| {
        format!(
            "{:>10.prec$} {:>10.prec$} {:>10.prec$} {:>10.prec$} {:>10.prec$}",
            x.mean * scale,
            x.p10 * scale,
            x.p50 * scale,
            x.p90 * scale,
            x.p99 * scale
        )
    };
    let _ = writeln!(
        s,
        "goodput · {} · {} × {} · {} · {} days · {} trials · seed {}",
        r.cluster, r.accelerators, r.accelerator, r.model, r.days, r.trials, r.seed
    );
    let _ = writeln!(
        s,
        "step {:.2} s · checkpoint {:.2} TB, write {:.1} s, read {:.1} s{} · every {} steps ({:.0} s, {}) · restart {:.0} s",
        r.step_time_s,
        r.checkpoint_bytes / 1e12,
        r.checkpoint_write_s,
        r.checkpoint_read_s,
        if r.in_memory_checkpoint { " (in memory)" } else { "" },
        r.checkpoint_interval_steps,
        r.checkpoint_interval_s,
        r.checkpoint_interval_rule,
        r.restart_s
    );
    let _ = writeln!(
        s,
        "MTBI {:.1} min (running time between stopping failures, central rates) · mean wall-clock interval between interruptions {:.1} min · spares: {} idle hosts + {} hot",
        r.mtbi_s / 60.0,
        r.mean_interval_between_interruptions_s / 60.0,
        r.idle_hosts,
        r.hot_spares
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "", "mean", "p10", "p50", "p90", "p99"
    );
    let _ = writeln!(s, "{:<34} {}", "interruptions", d(&r.interruptions, 1.0, 1));
    let _ = writeln!(s, "{:<34} {}", "  unexpected", d(&r.interruptions_unexpected, 1.0, 1));
    let _ = writeln!(s, "{:<34} {}", "  planned", d(&r.interruptions_planned, 1.0, 1));
    for (k, v) in &r.interruptions_by_class {
        let _ = writeln!(s, "{:<34} {}", format!("    {k}"), d(v, 1.0, 1));
    }
    let _ = writeln!(
        s,
        "{:<34} {}",
        "degradations (job continues)",
        d(&r.degradations, 1.0, 1)
    );
    let _ = writeln!(
        s,
        "{:<34} {}",
        "effective training time %",
        d(&r.effective_training_time_fraction, 100.0, 2)
    );
    let _ = writeln!(s, "{:<34} {}", "lost GPU-hours", d(&r.lost_gpu_hours, 1.0, 0));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<12} {:<22} {:>10} {:>12} {:>9} {:>10}  source",
        "class", "per", "count", "rate/h", "effect", "per day"
    );
    for c in &r.components {
        let _ = writeln!(
            s,
            "{:<12} {:<22} {:>10.0} {:>12.3e} {:>9} {:>10.3}  {}",
            c.class, c.per, c.count, c.rate_per_hour, c.effect, c.expected_per_day, c.source
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "rate spread: {}", r.rate_spread);
    for a in &r.assumptions {
        let _ = writeln!(s, "assumption: {a}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn young_daly_worked_example() {
        // operations.md / O052: MTBI 6000 s, MTTR 600 s, C 10 s, 15 s steps → ~24 steps ≈ 6 min.
        let tau = young_daly_s(6000.0, 600.0, 10.0);
        assert!((tau - 363.3).abs() < 0.1, "{tau}");
        assert!((tau / 60.0 - 6.0).abs() < 0.1);
        assert_eq!(young_daly_steps(6000.0, 600.0, 10.0, 15.0), 24);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        let d = Dist::of(&v);
        assert_eq!((d.p10, d.p50, d.p90, d.p99), (10.0, 50.0, 90.0, 99.0));
        assert!((d.mean - 50.5).abs() < 1e-12);
    }

    fn inputs(dual: bool) -> GoodputInputs {
        GoodputInputs {
            cluster: "test".into(),
            model: "m".into(),
            accel_model: "h100",
            step_time_s: 10.0,
            counts: ComponentCounts {
                accelerators: 8192.0,
                hosts: 1024.0,
                nics: 8192.0,
                nic_links: 8192.0 * if dual { 2.0 } else { 1.0 },
                leaf_switches: 128.0,
                upper_switches: 64.0,
                upper_links: 8192.0,
            },
            traits: FabricTraits {
                dual_plane: dual,
                ocs: false,
                idle_hosts: 0,
                scale_out: fc::ScaleOut::InfiniBand,
            },
            checkpoint_bytes: 1e12,
            storage_bytes_per_s: 1e11,
            host_link_bytes_per_s: 5e10,
            scale_out_bytes_per_s_per_accel: 5e10,
            exposed_scale_out_fraction: 0.1,
            days: 10.0,
            seed: 7,
            trials: 40,
            maintenance_per_day: 0.0,
            checkpoint_interval_s: None,
            in_memory_checkpoint: false,
            hot_spares: 1000,
            rate_spread: false,
            detect_s: fc::DETECT_S,
            restart_s: fc::RESTART_S,
        }
    }

    #[test]
    fn dual_plane_turns_link_and_leaf_failures_into_degradations() {
        let single = run(&inputs(false)).unwrap();
        let dual = run(&inputs(true)).unwrap();
        let cls = |r: &GoodputReport, k: &str| r.interruptions_by_class[k].mean;
        assert!(cls(&single, "cable_optic") > 5.0, "{}", cls(&single, "cable_optic"));
        assert_eq!(cls(&dual, "cable_optic"), 0.0);
        assert_eq!(cls(&dual, "switch"), 0.0);
        assert!(dual.degradations.mean > single.degradations.mean);
        assert!(dual.interruptions.mean < single.interruptions.mean);
        // A degraded job runs slower: its ETTR is below the same run with no slowdown.
        let mut i = inputs(true);
        i.exposed_scale_out_fraction = 0.0;
        let free = run(&i).unwrap();
        assert!(free.effective_training_time_fraction.mean > dual.effective_training_time_fraction.mean);
    }

    #[test]
    fn scale_out_technology_picks_the_network_sources() {
        // Meta's RoCE cluster is Ethernet (Minipack2 / Arista 7800), a DGX SuperPOD InfiniBand.
        let tech = |spec: &str| {
            let (_, f) = fabric::presets::build_preset(spec).unwrap();
            counts_from_fabric(&f, f.accel_count() as u64).1.scale_out
        };
        assert_eq!(tech("meta-roce-24k:pods=1,racks=2"), fc::ScaleOut::Ethernet);
        assert_eq!(tech("dgx-h100-superpod:su=1"), fc::ScaleOut::InfiniBand);
        // No scale-out switch modelled (one node, one NVL72 rack): the InfiniBand rates, as
        // before the Ethernet sources were added.
        assert_eq!(tech("dgx-h100"), fc::ScaleOut::InfiniBand);
        assert_eq!(tech("gb200-nvl72"), fc::ScaleOut::InfiniBand);
        // Same counts, Ethernet: NIC links and switches at the HPN rates, the rest unchanged.
        let ib = inputs(false);
        let mut eth = inputs(false);
        eth.traits.scale_out = fc::ScaleOut::Ethernet;
        let rate = |i: &GoodputInputs, u: Unit| {
            failure_sources(i.accel_model, &i.counts, &i.traits)
                .into_iter()
                .find(|s| s.unit == u)
                .map(|s| s.per_hour)
                .unwrap()
        };
        assert_eq!(rate(&eth, Unit::NicLink), fc::HPN_NIC_TOR_LINK_PER_HOUR);
        assert_eq!(rate(&eth, Unit::LeafSwitch), fc::HPN_TOR_PER_HOUR);
        assert!(rate(&ib, Unit::NicLink) > 5.0 * rate(&eth, Unit::NicLink));
        assert_eq!(rate(&eth, Unit::Nic), rate(&ib, Unit::Nic));
        assert_eq!(rate(&eth, Unit::Accelerator), rate(&ib, Unit::Accelerator));
        // Fewer network stops on Ethernet, so a longer MTBI.
        let (a, b) = (run(&ib).unwrap(), run(&eth).unwrap());
        assert!(b.mtbi_s > a.mtbi_s);
    }

    #[test]
    fn no_spares_means_waiting_for_repairs() {
        let mut i = inputs(false);
        let with = run(&i).unwrap();
        i.hot_spares = 0;
        let without = run(&i).unwrap();
        assert!(
            without.effective_training_time_fraction.mean < with.effective_training_time_fraction.mean - 0.05,
            "{} vs {}",
            without.effective_training_time_fraction.mean,
            with.effective_training_time_fraction.mean
        );
    }

    #[test]
    fn same_seed_same_report_other_seed_differs() {
        let a = serde_json::to_string(&run(&inputs(false)).unwrap()).unwrap();
        let b = serde_json::to_string(&run(&inputs(false)).unwrap()).unwrap();
        assert_eq!(a, b);
        let mut i = inputs(false);
        i.seed = 8;
        assert_ne!(a, serde_json::to_string(&run(&i).unwrap()).unwrap());
    }

    #[test]
    fn bad_inputs_are_named() {
        let mut i = inputs(false);
        i.days = 0.0;
        assert!(run(&i).unwrap_err().contains("--days"));
        let mut i = inputs(false);
        i.checkpoint_interval_s = Some(-1.0);
        assert!(run(&i).unwrap_err().contains("--checkpoint-interval-s"));
    }
}
