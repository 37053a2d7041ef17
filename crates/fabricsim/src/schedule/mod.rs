//! `fabricsim schedule`: many tenants on one cluster. A job trace (the Acme and Helios formats,
//! [`trace`]) or synthetic jobs fitted to the published Acme summaries ([`synthetic`]) run
//! under a policy (FIFO, EASY backfill, shortest-first, priorities with preemption) and a
//! placement (packed into scale-up domains, leaves and pods, or scattered) on a [`fabric::Fabric`],
//! with job-stopping failures from goodput's failure catalogue over the components each job
//! occupies, checkpoint restarts and repairs ([`failures`]; or a plain per-GPU-hour rate); jobs
//! that share leaf or pod up-links slow each other by the calibrated contention model of [`contention`] (checked
//! against the flow engine in its tests). The report ([`report`]) carries utilisation over
//! time, queueing delay, job completion time, fragmentation and the slowdown caused by
//! neighbours.
//!
//! No I/O: traces arrive as text; same jobs, options and seed → byte-identical report
//! (ordered containers, index tie-breaks, one seeded SplitMix64 stream).

pub mod contention;
pub mod failures;
pub mod report;
mod sim;
pub mod synthetic;
pub mod trace;

pub use report::{render, Report};

use fabric::routing::splitmix64;

/// How a job ended in its trace (or was drawn to end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobState {
    Completed,
    Cancelled,
    /// FAILED, TIMEOUT or NODE_FAIL.
    Failed,
}

/// One GPU job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    /// Seconds after the first job's submission.
    pub submit_s: f64,
    pub gpus: u32,
    /// Run time on an uncontended placement (the trace's `duration`).
    pub run_s: f64,
    pub state: JobState,
    /// 0 = normal, higher = more important (preempts lower under `priority`).
    pub priority: u8,
    /// The trace's own queueing delay, where it has one.
    pub trace_queue_s: Option<f64>,
}

/// The scheduling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// First come, first served; the head blocks everything behind it.
    Fifo,
    /// EASY backfill: the head gets a reservation at the earliest time enough GPUs free up
    /// (from the running jobs' projected ends); later jobs start now if they fit and either end
    /// before the reservation or use only GPUs the head will not need.
    Backfill,
    /// Shortest (uncontended run time) first; every job that fits starts, in that order.
    Sjf,
    /// Highest priority first (then submission); a blocked head preempts running jobs of lower
    /// priority (lowest first, most recently started first) until it fits. Preempted jobs are
    /// requeued and keep their progress.
    Priority,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "fifo" => Some(Policy::Fifo),
            "backfill" | "easy" => Some(Policy::Backfill),
            "sjf" => Some(Policy::Sjf),
            "priority" => Some(Policy::Priority),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Policy::Fifo => "fifo",
            Policy::Backfill => "backfill",
            Policy::Sjf => "sjf",
            Policy::Priority => "priority",
        }
    }
}

/// Where a job's GPUs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A job of at most one domain goes into one domain (best fit: the fullest domain with
    /// room); larger jobs take whole free domains from the fewest leaves (best-fit leaf, else
    /// the best-fit pod's fullest leaves, else the leaves with most free domains) plus a
    /// best-fit domain for a remainder. A job waits until such a placement exists.
    Packed,
    /// Any free GPUs, drawn at random (seeded).
    Scattered,
}

impl Placement {
    pub fn parse(s: &str) -> Option<Placement> {
        match s {
            "packed" => Some(Placement::Packed),
            "scattered" => Some(Placement::Scattered),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Placement::Packed => "packed",
            Placement::Scattered => "scattered",
        }
    }
}

/// Jobs the backfill and shortest-first passes look at beyond the head per scheduling pass
/// (Slurm's `bf_max_job_test` default, 500 in slurm.conf(5) of Slurm 23.x).
pub const SCAN_DEPTH: usize = 500;

/// Points of the utilisation series (`utilisation_series`: equal bins over the makespan).
pub const SERIES_POINTS: usize = 100;

/// At most this many points in `utilisation_over_time`; its interval is the shortest of
/// [`OVER_TIME_INTERVALS_S`] that keeps the makespan within them.
pub const OVER_TIME_MAX_POINTS: usize = 1000;

/// Intervals of `utilisation_over_time`, seconds: 1, 5, 15, 30 min, 1, 2, 6, 12 h, then whole
/// days.
pub const OVER_TIME_INTERVALS_S: [f64; 8] = [60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21_600.0, 43_200.0];

/// Inputs of one run other than the jobs and the fabric.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub policy: Policy,
    pub placement: Placement,
    pub seed: u64,
    /// `None`: failures from the catalogue ([`failures::FailureModel::catalogue`]);
    /// `Some(r)`: `r` job-stopping failures per GPU-hour on every GPU (`--failures-per-gpu-hour`,
    /// 0 turns failures off). Either way a stopped job restarts from its last checkpoint and the
    /// failed hardware is repaired ([`failures`]).
    pub failures_per_gpu_hour: Option<f64>,
    /// Every job's checkpoint interval, seconds of its work (`None`: Young–Daly per job).
    pub checkpoint_interval_s: Option<f64>,
    /// Share of a multi-domain job's uncontended time spent in exposed scale-out communication
    /// ([`contention::DEFAULT_COMM_FRACTION`]).
    pub comm_fraction: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            policy: Policy::Fifo,
            placement: Placement::Packed,
            seed: 1,
            failures_per_gpu_hour: None,
            checkpoint_interval_s: None,
            comm_fraction: contention::DEFAULT_COMM_FRACTION,
        }
    }
}

/// Where the jobs came from (for the report).
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Trace {
        file: String,
        format: String,
        cpu_jobs_skipped: u64,
    },
    Synthetic {
        summary: synthetic::Summary,
        load: f64,
        size_mean: f64,
        scale: synthetic::Scale,
        size_scale: u32,
    },
}

/// Restarts a job may need, in expectation, to get through one restart: e^(restart / MTBI).
/// Above e^10 (≈ 22,000 attempts) a job cannot be expected to finish, and the event loop
/// would run without end; such a failure rate for such a job is refused.
const MAX_RESTART_OVER_MTBI: f64 = 10.0;

/// Refuse a failure rate under which the largest job's mean time between interruptions is
/// too short for it ever to get past its own restart (detection + restart, goodput's
/// constants): it would be interrupted again and again without progress.
fn check_progress(jobs: &[Job], fm: &failures::FailureModel, cluster_gpus: u32) -> Result<(), String> {
    use fabric::catalogue::failures as fc;
    let Some(big) = jobs.iter().map(|j| j.gpus).max() else {
        return Ok(());
    };
    let rate = fm.per_gpu_hour_of(cluster_gpus) * big as f64 / 3600.0;
    let restart = fc::DETECT_S + fc::RESTART_S;
    if rate > 0.0 && restart * rate > MAX_RESTART_OVER_MTBI {
        return Err(format!(
            "--failures-per-gpu-hour {:.3e}: the largest job ({big} GPUs) would be interrupted every {:.0} s on average, \
             against a restart of {restart:.0} s: it could not finish; give a lower rate",
            fm.per_gpu_hour_of(cluster_gpus),
            1.0 / rate
        ));
    }
    Ok(())
}

/// Bad options (the CLI turns them into exit 2).
pub fn check_options(opts: &Options) -> Result<(), String> {
    if let Some(r) = opts.failures_per_gpu_hour {
        if !(r.is_finite() && (0.0..1.0).contains(&r)) {
            return Err(format!(
                "--failures-per-gpu-hour {r}: give a rate in [0, 1) (default: the failure catalogue's rates)"
            ));
        }
    }
    if let Some(x) = opts.checkpoint_interval_s {
        if !(x.is_finite() && x >= 1.0) {
            return Err(format!(
                "--checkpoint-interval-s {x}: give at least 1 second (default: Young–Daly per job)"
            ));
        }
    }
    if !(opts.comm_fraction.is_finite() && (0.0..=1.0).contains(&opts.comm_fraction)) {
        return Err(format!(
            "--comm-fraction {}: give a share in [0, 1]",
            opts.comm_fraction
        ));
    }
    Ok(())
}

/// Errors of a run: bad options, no jobs, a job larger than the cluster.
pub fn check(jobs: &[Job], gpus: u32, opts: &Options) -> Result<(), String> {
    check_options(opts)?;
    if jobs.is_empty() {
        return Err("no jobs to schedule".into());
    }
    if let Some(j) = jobs.iter().find(|j| j.gpus > gpus) {
        return Err(format!(
            "job `{}` asks for {} GPUs but the cluster has {gpus}: give a larger --cluster",
            j.id, j.gpus
        ));
    }
    Ok(())
}

/// The seeded random stream (SplitMix64, the project's fixed hash).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(splitmix64(seed ^ 0x5C4E_D01E))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in (0, 1].
    pub fn unit_open(&mut self) -> f64 {
        1.0 - self.unit()
    }
    /// Standard normal (Box–Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit_open(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Run the jobs on the fabric.
pub fn run(f: &fabric::Fabric, cluster: &str, jobs: &[Job], source: &Source, opts: &Options) -> Result<Report, String> {
    check(jobs, f.accel_count() as u32, opts)?;
    let view = contention::View::new(f);
    let fm = match opts.failures_per_gpu_hour {
        None => failures::FailureModel::catalogue(f),
        Some(r) => failures::FailureModel::per_gpu_hour(f, r),
    };
    check_progress(jobs, &fm, f.accel_count() as u32)?;
    let out = sim::simulate(&view, jobs, opts, &fm);
    Ok(report::build(cluster, &view, jobs, source, opts, &fm, &out))
}

/// Synthetic jobs for `f` fitted to the published summary of `cluster` (see [`synthetic`]).
pub fn synthetic_jobs(
    f: &fabric::Fabric,
    cluster: &str,
    n: usize,
    load: f64,
    scale: synthetic::Scale,
    seed: u64,
) -> Result<(Vec<Job>, Source), String> {
    if n == 0 || n > 10_000_000 {
        return Err(format!("--jobs {n}: give 1 … 10,000,000 jobs"));
    }
    if !(load.is_finite() && load > 0.0 && load <= 10.0) {
        return Err(format!("--load {load}: give an offered load in (0, 10]"));
    }
    let s = synthetic::summary(cluster)?;
    let mut rng = Rng::new(seed);
    let gpus = f.accel_count() as u32;
    let k = synthetic::size_scale(cluster, gpus, scale);
    let (jobs, sizes) = synthetic::generate(&s, n, gpus, load, k, &mut rng);
    Ok((
        jobs,
        Source::Synthetic {
            summary: s,
            load,
            size_mean: sizes.mean(),
            scale,
            size_scale: k,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric::catalogue::failures as fc;

    fn small() -> fabric::Fabric {
        fabric::presets::build_preset("fat-tree:gpus=192,oversub=3").unwrap().1
    }

    fn opts(policy: Policy, placement: Placement) -> Options {
        Options {
            policy,
            placement,
            seed: 3,
            ..Options::default()
        }
    }

    #[test]
    fn same_seed_same_json_and_another_seed_differs() {
        let f = small();
        let (jobs, src) = synthetic_jobs(&f, "kalos", 400, 0.9, synthetic::Scale::Sizes, 5).unwrap();
        let o = opts(Policy::Backfill, Placement::Scattered);
        let a = serde_json::to_string(&run(&f, "small", &jobs, &src, &o).unwrap()).unwrap();
        let b = serde_json::to_string(&run(&f, "small", &jobs, &src, &o).unwrap()).unwrap();
        assert_eq!(a, b);
        let c = serde_json::to_string(&run(&f, "small", &jobs, &src, &Options { seed: 4, ..o }).unwrap()).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn backfill_never_delays_the_head_reservation() {
        let f = small();
        let (jobs, _) = synthetic_jobs(&f, "kalos", 400, 1.2, synthetic::Scale::Sizes, 9).unwrap();
        let o = Options {
            failures_per_gpu_hour: Some(0.0),
            comm_fraction: 0.0,
            ..opts(Policy::Backfill, Placement::Scattered)
        };
        let v = contention::View::new(&f);
        let out = sim::simulate(&v, &jobs, &o, &failures::FailureModel::none());
        let mut reserved = 0;
        for (j, o) in out.jobs.iter().enumerate() {
            if let Some(r) = o.reservation_s {
                reserved += 1;
                assert!(
                    o.first_start_s <= r + 1e-6 * r.max(1.0),
                    "job {j}: start {} > reservation {r}",
                    o.first_start_s
                );
            }
        }
        assert!(reserved > 10, "{reserved} reservations: the case must block heads");
        // Backfill starts jobs earlier on average than FIFO on the same jobs.
        let fifo = sim::simulate(
            &v,
            &jobs,
            &Options {
                policy: Policy::Fifo,
                ..o.clone()
            },
            &failures::FailureModel::none(),
        );
        let mean_q = |s: &sim::SimOut| -> f64 {
            s.jobs
                .iter()
                .zip(&jobs)
                .map(|(o, j)| o.first_start_s - j.submit_s)
                .sum::<f64>()
                / jobs.len() as f64
        };
        assert!(mean_q(&out) < mean_q(&fifo), "{} vs {}", mean_q(&out), mean_q(&fifo));
        // Shortest-first beats FIFO on mean queueing delay too.
        let sjf = sim::simulate(
            &v,
            &jobs,
            &Options {
                policy: Policy::Sjf,
                ..o.clone()
            },
            &failures::FailureModel::none(),
        );
        assert!(mean_q(&sjf) < mean_q(&fifo));
    }

    #[test]
    fn priority_preempts_lower_priority_jobs() {
        let f = small();
        let mk = |i: usize, t: f64, g: u32, run: f64, p: u8| Job {
            id: format!("j{i}"),
            submit_s: t,
            gpus: g,
            run_s: run,
            state: JobState::Completed,
            priority: p,
            trace_queue_s: None,
        };
        let jobs = vec![mk(0, 0.0, 192, 1000.0, 0), mk(1, 10.0, 64, 100.0, 1)];
        let o = Options {
            failures_per_gpu_hour: Some(0.0),
            comm_fraction: 0.0,
            ..opts(Policy::Priority, Placement::Packed)
        };
        let r = run(
            &f,
            "small",
            &jobs,
            &Source::Trace {
                file: "t".into(),
                format: "acme".into(),
                cpu_jobs_skipped: 0,
            },
            &o,
        )
        .unwrap();
        assert_eq!(r.preemptions, 1);
        assert_eq!(r.queue_delay_s.p10, 0.0);
        // The preempted job keeps its progress: it ends at 1000 + 100 (its 10 s done, 990 left
        // after the high-priority job's 100 s).
        assert!((r.makespan_s - 1100.0).abs() < 1e-6, "{}", r.makespan_s);
    }

    #[test]
    fn packed_placement_slows_jobs_less_than_scattered() {
        let f = small();
        let (jobs, src) = synthetic_jobs(&f, "kalos", 300, 0.9, synthetic::Scale::Sizes, 2).unwrap();
        let p = run(&f, "s", &jobs, &src, &opts(Policy::Fifo, Placement::Packed)).unwrap();
        let s = run(&f, "s", &jobs, &src, &opts(Policy::Fifo, Placement::Scattered)).unwrap();
        assert!(
            p.slowdown.mean < s.slowdown.mean,
            "{} vs {}",
            p.slowdown.mean,
            s.slowdown.mean
        );
        assert!(s.slowdown.p99 > 1.0);
        assert!(p.utilisation_fraction > 0.0 && p.utilisation_fraction <= 1.0);
        assert_eq!(p.unfinished_jobs, 0);
    }

    #[test]
    fn failures_interrupt_and_requeue_jobs() {
        let f = small();
        let (jobs, src) = synthetic_jobs(&f, "seren", 300, 0.9, synthetic::Scale::Sizes, 2).unwrap();
        let o = Options {
            failures_per_gpu_hour: Some(0.01),
            ..opts(Policy::Fifo, Placement::Packed)
        };
        let r = run(&f, "s", &jobs, &src, &o).unwrap();
        assert!(
            r.failures > 0 && r.interruptions > 0,
            "{} {}",
            r.failures,
            r.interruptions
        );
        assert_eq!(r.unfinished_jobs, 0);
        assert!(check(
            &jobs,
            192,
            &Options {
                failures_per_gpu_hour: Some(-1.0),
                ..o
            }
        )
        .is_err());
    }

    #[test]
    fn a_failure_costs_the_work_since_the_checkpoint_plus_restart_and_a_repair_wait() {
        // One job on the whole cluster: every failure stops it, and it cannot restart before
        // the failed host is back (no spare), so each failure costs the repair time.
        let f = small();
        let job = Job {
            id: "big".into(),
            submit_s: 0.0,
            gpus: 192,
            run_s: 100_000.0,
            state: JobState::Completed,
            priority: 0,
            trace_queue_s: None,
        };
        let o = Options {
            failures_per_gpu_hour: Some(1e-3),
            checkpoint_interval_s: Some(3600.0),
            comm_fraction: 0.0,
            ..opts(Policy::Fifo, Placement::Packed)
        };
        let src = Source::Trace {
            file: "t".into(),
            format: "acme".into(),
            cpu_jobs_skipped: 0,
        };
        let r = run(&f, "small", &[job], &src, &o).unwrap();
        let n = r.interruptions as f64;
        assert!(n >= 2.0, "{n} interruptions: the case must fail the job");
        assert_eq!(r.interruptions, r.failures_stopping_jobs);
        let restart = fc::DETECT_S + fc::RESTART_S;
        let (lo, hi) = (n * 192.0 * restart / 3600.0, n * 192.0 * (3600.0 + restart) / 3600.0);
        assert!(
            r.lost_gpu_hours >= lo && r.lost_gpu_hours <= hi,
            "{} not in [{lo}, {hi}]",
            r.lost_gpu_hours
        );
        // Each stop waits for the repair of the failed host before the job fits again.
        assert!(r.makespan_s >= 100_000.0 + n * fc::NODE_REPAIR_S, "{}", r.makespan_s);
        assert!(r.out_of_service_gpu_fraction > 0.0);
        assert_eq!(r.unfinished_jobs, 0);
    }
}
