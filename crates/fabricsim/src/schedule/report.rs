//! `schedule`'s result and its JSON schema, and the text rendering.

use super::contention::View;
use super::sim::SimOut;
use super::{Job, JobState, Options, Source, SERIES_POINTS};
use crate::serve::report::Dist;
use serde::Serialize;
use std::fmt::Write;

/// One point of the utilisation series: the mean over the bin ending at `time_s`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    pub time_s: f64,
    pub utilisation_fraction: f64,
}

/// How jobs ended (by count and by GPU-time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shares {
    pub completed_fraction: f64,
    pub cancelled_fraction: f64,
    pub failed_fraction: f64,
    pub completed_gpu_time_fraction: f64,
    pub cancelled_gpu_time_fraction: f64,
    pub failed_gpu_time_fraction: f64,
}

/// Fragmentation, time-averaged over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fragmentation {
    /// Free GPUs that could not host the waiting head job although they were enough in number
    /// (placement-blocked), over all GPUs.
    pub stranded_free_gpu_fraction: f64,
    /// Partly used scale-up domains over domains in use.
    pub partial_domain_fraction: f64,
}

/// A simulated statistic next to the published one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    pub metric: String,
    pub simulated: f64,
    pub published: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub cluster: String,
    pub gpus: u32,
    pub domain_size: u32,
    pub leaves: u32,
    pub pods: u32,
    /// `trace FILE (FORMAT)` or `synthetic CLUSTER`.
    pub source: String,
    pub jobs: u64,
    pub cpu_jobs_skipped: Option<u64>,
    /// Synthetic jobs: the GPU-time offered per GPU-time available.
    pub offered_load_fraction: Option<f64>,
    /// Synthetic jobs: the scaling rule (`sizes`, `arrivals`) and the size multiplier applied.
    pub scale_rule: Option<String>,
    pub size_scale: Option<u32>,
    pub policy: String,
    pub placement: String,
    pub seed: u64,
    pub failures_per_gpu_hour: f64,
    pub comm_fraction: f64,
    /// First submission to last completion.
    pub makespan_s: f64,
    /// Busy GPU-time over GPU-time available, over the makespan.
    pub utilisation_fraction: f64,
    /// The same from the first to the last submission.
    pub utilisation_while_arriving_fraction: f64,
    pub utilisation_series: Vec<SeriesPoint>,
    /// First start − submission.
    pub queue_delay_s: Dist,
    /// Completion − submission.
    pub jct_s: Dist,
    /// Completion − first start (run time as the trace's `duration` counts it, requeues included).
    pub run_s: Dist,
    pub gpus_per_job: Dist,
    /// Wall time running ÷ uncontended run time, every finished job with run time > 0.
    pub slowdown: Dist,
    /// The same for jobs spanning more than one leaf.
    pub slowdown_spanning: Dist,
    pub spanning_jobs: u64,
    /// Wall time running ÷ what it would have been with each placement alone on the cluster:
    /// the slowdown caused by neighbours.
    pub neighbour_slowdown: Dist,
    pub fragmentation: Fragmentation,
    pub completion: Shares,
    pub failures: u64,
    pub interruptions: u64,
    pub preemptions: u64,
    pub unfinished_jobs: u64,
    pub events: u64,
    /// Synthetic jobs: the simulated run's summary next to the published one.
    pub published_comparison: Vec<CompareRow>,
}

fn shares(jobs: &[Job]) -> Shares {
    let mut n = [0.0; 3];
    let mut t = [0.0; 3];
    for j in jobs {
        let i = match j.state {
            JobState::Completed => 0,
            JobState::Cancelled => 1,
            JobState::Failed => 2,
        };
        n[i] += 1.0;
        t[i] += j.run_s * j.gpus as f64;
    }
    let (sn, st) = (n.iter().sum::<f64>().max(1.0), t.iter().sum::<f64>());
    let st = if st > 0.0 { st } else { 1.0 };
    Shares {
        completed_fraction: n[0] / sn,
        cancelled_fraction: n[1] / sn,
        failed_fraction: n[2] / sn,
        completed_gpu_time_fraction: t[0] / st,
        cancelled_gpu_time_fraction: t[1] / st,
        failed_gpu_time_fraction: t[2] / st,
    }
}

fn series(out: &SimOut, gpus: u32) -> Vec<SeriesPoint> {
    let end = out.makespan_s;
    if end <= 0.0 || gpus == 0 {
        return Vec::new();
    }
    let w = end / SERIES_POINTS as f64;
    let mut acc = vec![0.0; SERIES_POINTS];
    let steps = &out.busy_steps;
    for (i, &(t, b)) in steps.iter().enumerate() {
        let t1 = steps.get(i + 1).map(|s| s.0).unwrap_or(end).min(end);
        let mut a = t;
        while a < t1 {
            let k = ((a / w) as usize).min(SERIES_POINTS - 1);
            let edge = ((k + 1) as f64 * w).min(t1);
            let edge = if edge <= a { t1 } else { edge };
            acc[k] += (edge - a) * b as f64;
            a = edge;
        }
    }
    acc.iter()
        .enumerate()
        .map(|(k, &x)| SeriesPoint {
            time_s: (k + 1) as f64 * w,
            utilisation_fraction: x / (w * gpus as f64),
        })
        .collect()
}

pub(crate) fn build(cluster: &str, v: &View, jobs: &[Job], source: &Source, opts: &Options, out: &SimOut) -> Report {
    let done: Vec<(&Job, &super::sim::JobOut)> = jobs
        .iter()
        .zip(&out.jobs)
        .filter(|(_, o)| o.end_s.is_finite())
        .collect();
    let q = Dist::of(done.iter().map(|(j, o)| o.first_start_s - j.submit_s).collect());
    let jct = Dist::of(done.iter().map(|(j, o)| o.end_s - j.submit_s).collect());
    let run = Dist::of(done.iter().map(|(_, o)| o.end_s - o.first_start_s).collect());
    let sizes = Dist::of(jobs.iter().map(|j| j.gpus as f64).collect());
    let with_run: Vec<&(&Job, &super::sim::JobOut)> = done.iter().filter(|(j, _)| j.run_s > 0.0).collect();
    let slow = Dist::of(with_run.iter().map(|(j, o)| o.busy_wall_s / j.run_s).collect());
    let spanning: Vec<f64> = with_run
        .iter()
        .filter(|(_, o)| o.leaves > 1)
        .map(|(j, o)| o.busy_wall_s / j.run_s)
        .collect();
    let spanning_jobs = spanning.len() as u64;
    let neigh = Dist::of(
        with_run
            .iter()
            .map(|(_, o)| {
                if o.alone_wall_s > 0.0 {
                    o.busy_wall_s / o.alone_wall_s
                } else {
                    1.0
                }
            })
            .collect(),
    );
    let span = out.makespan_s;
    let gpus = v.gpus as f64;
    let util = if span > 0.0 {
        out.busy_gpu_s / (gpus * span)
    } else {
        0.0
    };
    // Busy GPU-seconds up to the last arrival, from the step function.
    let arr = out.last_arrival_s;
    let mut busy_arr = 0.0;
    for (i, &(t, b)) in out.busy_steps.iter().enumerate() {
        let t1 = out.busy_steps.get(i + 1).map(|s| s.0).unwrap_or(f64::INFINITY).min(arr);
        if t1 > t {
            busy_arr += (t1 - t) * b as f64;
        }
    }
    let util_arr = if arr > 0.0 { busy_arr / (gpus * arr) } else { util };
    let completion = shares(jobs);
    let (rule, k) = match source {
        Source::Synthetic { scale, size_scale, .. } => (Some(scale.name().to_string()), Some(*size_scale)),
        Source::Trace { .. } => (None, None),
    };
    let (src, cpu, load) = match source {
        Source::Trace {
            file,
            format,
            cpu_jobs_skipped,
        } => (format!("trace {file} ({format})"), Some(*cpu_jobs_skipped), None),
        Source::Synthetic { summary, load, .. } => (
            format!("synthetic {}", summary.cluster.to_lowercase()),
            None,
            Some(*load),
        ),
    };
    let mut cmp = Vec::new();
    if let Source::Synthetic { summary: s, .. } = source {
        let mut row = |m: &str, sim: f64, pubd: f64| {
            cmp.push(CompareRow {
                metric: m.to_string(),
                simulated: sim,
                published: pubd,
            })
        };
        row("queue_delay_median_s", q.p50, s.med_queue_s);
        row("queue_delay_mean_s", q.mean, s.avg_queue_s);
        row("gpus_median", sizes.p50, s.med_gpus);
        row("gpus_mean", sizes.mean, s.avg_gpus);
        row("run_median_s", run.p50, s.med_run_s);
        row("run_mean_s", run.mean, s.avg_run_s);
        row("completed_fraction", completion.completed_fraction, s.complete_fraction);
        row("cancelled_fraction", completion.cancelled_fraction, s.cancel_fraction);
        row("failed_fraction", completion.failed_fraction, s.fail_fraction);
        row(
            "completed_gpu_time_fraction",
            completion.completed_gpu_time_fraction,
            s.complete_gpu_time_fraction,
        );
        row(
            "cancelled_gpu_time_fraction",
            completion.cancelled_gpu_time_fraction,
            s.cancel_gpu_time_fraction,
        );
        row(
            "failed_gpu_time_fraction",
            completion.failed_gpu_time_fraction,
            s.fail_gpu_time_fraction,
        );
    }
    Report {
        schema_version: crate::SCHEMA_VERSION,
        cluster: cluster.to_string(),
        gpus: v.gpus,
        domain_size: v.domain_size,
        leaves: v.leaves() as u32,
        pods: v.pods() as u32,
        source: src,
        jobs: jobs.len() as u64,
        cpu_jobs_skipped: cpu,
        offered_load_fraction: load,
        scale_rule: rule,
        size_scale: k,
        policy: opts.policy.name().into(),
        placement: opts.placement.name().into(),
        seed: opts.seed,
        failures_per_gpu_hour: opts.failures_per_gpu_hour,
        comm_fraction: opts.comm_fraction,
        makespan_s: span,
        utilisation_fraction: util,
        utilisation_while_arriving_fraction: util_arr,
        utilisation_series: series(out, v.gpus),
        queue_delay_s: q,
        jct_s: jct,
        run_s: run,
        gpus_per_job: sizes,
        slowdown: slow,
        slowdown_spanning: Dist::of(spanning),
        spanning_jobs,
        neighbour_slowdown: neigh,
        fragmentation: Fragmentation {
            stranded_free_gpu_fraction: if span > 0.0 {
                out.stranded_gpu_s / (gpus * span)
            } else {
                0.0
            },
            partial_domain_fraction: if span > 0.0 { out.partial_domain_s / span } else { 0.0 },
        },
        completion,
        failures: out.failures,
        interruptions: out.jobs.iter().map(|o| o.interruptions as u64).sum(),
        preemptions: out.jobs.iter().map(|o| o.preemptions as u64).sum(),
        unfinished_jobs: (jobs.len() - done.len()) as u64,
        events: out.events,
        published_comparison: cmp,
    }
}

fn dist_line(name: &str, d: &Dist, unit: &str) -> String {
    format!(
        "  {name:<22} mean {:>10.4} {unit}  p10 {:>10.4}  p50 {:>10.4}  p90 {:>10.4}  p99 {:>10.4}\n",
        d.mean, d.p10, d.p50, d.p90, d.p99
    )
}

/// The text report.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "schedule: {} jobs ({}) on {} ({} GPUs, domains of {}, {} leaves, {} pods)",
        r.jobs, r.source, r.cluster, r.gpus, r.domain_size, r.leaves, r.pods
    );
    let _ = writeln!(
        s,
        "policy {}, placement {}, seed {}, failures {:.2e}/GPU-hour, comm share {}{}",
        r.policy,
        r.placement,
        r.seed,
        r.failures_per_gpu_hour,
        r.comm_fraction,
        r.offered_load_fraction
            .map(|l| format!(", offered load {l}"))
            .unwrap_or_default()
    );
    if let (Some(rule), Some(k)) = (&r.scale_rule, r.size_scale) {
        let _ = writeln!(s, "scaled by {rule}: job sizes × {k}");
    }
    let _ = writeln!(
        s,
        "makespan {:.0} s; utilisation {:.1} % (while jobs arrive {:.1} %)",
        r.makespan_s,
        100.0 * r.utilisation_fraction,
        100.0 * r.utilisation_while_arriving_fraction
    );
    s.push_str(&dist_line("queue delay", &r.queue_delay_s, "s"));
    s.push_str(&dist_line("job completion time", &r.jct_s, "s"));
    s.push_str(&dist_line("run time", &r.run_s, "s"));
    s.push_str(&dist_line("GPUs per job", &r.gpus_per_job, " "));
    s.push_str(&dist_line("slowdown", &r.slowdown, "×"));
    s.push_str(&dist_line("slowdown (>1 leaf)", &r.slowdown_spanning, "×"));
    s.push_str(&dist_line("from neighbours", &r.neighbour_slowdown, "×"));
    let _ = writeln!(
        s,
        "jobs over >1 leaf {}; fragmentation: stranded free GPUs {:.2} %, partly used domains {:.1} %",
        r.spanning_jobs,
        100.0 * r.fragmentation.stranded_free_gpu_fraction,
        100.0 * r.fragmentation.partial_domain_fraction
    );
    let c = &r.completion;
    let _ = writeln!(
        s,
        "ended: completed {:.1} % / cancelled {:.1} % / failed {:.1} % of jobs ({:.1} / {:.1} / {:.1} % of GPU-time)",
        100.0 * c.completed_fraction,
        100.0 * c.cancelled_fraction,
        100.0 * c.failed_fraction,
        100.0 * c.completed_gpu_time_fraction,
        100.0 * c.cancelled_gpu_time_fraction,
        100.0 * c.failed_gpu_time_fraction
    );
    let _ = writeln!(
        s,
        "failures {}, jobs interrupted {}, preemptions {}, unfinished {}",
        r.failures, r.interruptions, r.preemptions, r.unfinished_jobs
    );
    if !r.published_comparison.is_empty() {
        let _ = writeln!(s, "{:<30} {:>14} {:>14}", "statistic", "simulated", "published");
        for row in &r.published_comparison {
            let _ = writeln!(s, "{:<30} {:>14.3} {:>14.3}", row.metric, row.simulated, row.published);
        }
    }
    s
}
