//! `schedule`'s result and its JSON schema, and the text rendering.

use super::contention::View;
use super::failures::{FailureModel, CHECKPOINT_WRITE_S};
use super::sim::SimOut;
use super::{Job, JobState, Options, Source, OVER_TIME_INTERVALS_S, OVER_TIME_MAX_POINTS, SERIES_POINTS};
use crate::goodput::ComponentRow;
use crate::serve::report::Dist;
use fabric::catalogue::failures::{self as fc, FailureClass};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One point of `utilisation_over_time`: means over `[t_s, t_s + interval)` (the last one
/// clipped at the makespan).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverTimePoint {
    pub t_s: f64,
    pub busy_gpus: f64,
    /// GPUs out of the pool for repair.
    pub out_of_service_gpus: f64,
    /// Busy GPUs over all GPUs.
    pub utilisation_fraction: f64,
}

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
    /// Where failures come from: `catalogue` (goodput's per-component rates, central, for the
    /// cluster's accelerator) or `override` (`--failures-per-gpu-hour`).
    pub failure_rates: String,
    /// Job-stopping failures per GPU-hour of the whole cluster (the override, or the catalogue's
    /// stopping classes summed over the cluster's components ÷ its GPUs).
    pub failures_per_gpu_hour: f64,
    pub comm_fraction: f64,
    /// First submission to last completion.
    pub makespan_s: f64,
    /// First to last submission (the window of `utilisation_while_arriving_fraction`).
    pub last_arrival_s: f64,
    /// Busy GPU-time over GPU-time available, over the whole makespan (0 → `makespan_s`),
    /// including the drain after the last arrival, when the longest jobs run on an otherwise
    /// idle cluster.
    pub utilisation_fraction: f64,
    /// The same from the first to the last submission (0 → `last_arrival_s`): the cluster's
    /// utilisation under its arriving load.
    pub utilisation_while_arriving_fraction: f64,
    /// GPU-time out of the pool for repair over GPU-time available, over the makespan.
    pub out_of_service_gpu_fraction: f64,
    /// `SERIES_POINTS` equal bins over the makespan.
    pub utilisation_series: Vec<SeriesPoint>,
    /// Interval of `utilisation_over_time`: the shortest of 1, 5, 15, 30 min, 1, 2, 6, 12 h or
    /// whole days that keeps it within `OVER_TIME_MAX_POINTS` (1,000) points.
    pub utilisation_over_time_interval_s: f64,
    /// Busy and out-of-service GPUs over time, from 0 to the makespan.
    pub utilisation_over_time: Vec<OverTimePoint>,
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
    /// Job-stopping failures (while jobs ran or were still to arrive).
    pub failures: u64,
    /// The same per class (gpu, hbm, nic, host, switch, cable_optic, software).
    pub failures_by_class: BTreeMap<String, u64>,
    /// The catalogue's mean for the same time: `failures_per_gpu_hour` × GPUs × `failure_active_s`.
    pub expected_failures: f64,
    /// Time during which failures were drawn (jobs running or still to arrive).
    pub failure_active_s: f64,
    /// Failures that stopped at least one job.
    pub failures_stopping_jobs: u64,
    /// Job stops by failures (a host or leaf failure can stop several jobs).
    pub interruptions: u64,
    /// GPU-hours lost to interruptions: each stopped job's GPUs × (work since its last
    /// checkpoint + detection + restart).
    pub lost_gpu_hours: f64,
    /// `lost_gpu_hours` over the busy GPU-hours of the run.
    pub lost_busy_gpu_time_fraction: f64,
    /// `young-daly` (per job, from its GPUs' failure rate) or `given`.
    pub checkpoint_interval_rule: String,
    pub checkpoint_interval_s: Option<f64>,
    /// Detection + restart each interrupted job pays at its next start.
    pub restart_s: f64,
    /// How long failed hardware is out of the pool.
    pub repair_s: f64,
    /// The failure catalogue over the whole cluster (goodput's table; `effect` `stop` rows are
    /// simulated).
    pub failure_components: Vec<ComponentRow>,
    pub failure_assumptions: Vec<String>,
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

/// The shortest interval of [`OVER_TIME_INTERVALS_S`] (then whole days) that covers `end` in
/// at most [`OVER_TIME_MAX_POINTS`] points.
pub fn over_time_interval_s(end: f64) -> f64 {
    let max = OVER_TIME_MAX_POINTS as f64;
    OVER_TIME_INTERVALS_S
        .iter()
        .copied()
        .find(|&w| end / w <= max)
        .unwrap_or_else(|| 86_400.0 * (end / (86_400.0 * max)).ceil().max(1.0))
}

fn over_time(out: &SimOut, gpus: u32) -> (f64, Vec<OverTimePoint>) {
    let end = out.makespan_s;
    let w = over_time_interval_s(end);
    if end <= 0.0 || gpus == 0 {
        return (w, Vec::new());
    }
    let n = ((end / w).ceil() as usize).clamp(1, OVER_TIME_MAX_POINTS);
    let mut busy = vec![0.0; n];
    let mut down = vec![0.0; n];
    let steps = &out.busy_steps;
    for (i, &(t, b, r)) in steps.iter().enumerate() {
        let t1 = steps.get(i + 1).map(|s| s.0).unwrap_or(end).min(end);
        let mut a = t;
        while a < t1 {
            let k = ((a / w) as usize).min(n - 1);
            let edge = ((k + 1) as f64 * w).min(t1);
            let edge = if edge <= a { t1 } else { edge };
            busy[k] += (edge - a) * b as f64;
            down[k] += (edge - a) * r as f64;
            a = edge;
        }
    }
    let pts = (0..n)
        .map(|k| {
            let t0 = k as f64 * w;
            let len = ((k + 1) as f64 * w).min(end) - t0;
            let len = if len > 0.0 { len } else { w };
            OverTimePoint {
                t_s: t0,
                busy_gpus: busy[k] / len,
                out_of_service_gpus: down[k] / len,
                utilisation_fraction: busy[k] / (len * gpus as f64),
            }
        })
        .collect();
    (w, pts)
}

fn series(out: &SimOut, gpus: u32) -> Vec<SeriesPoint> {
    let end = out.makespan_s;
    if end <= 0.0 || gpus == 0 {
        return Vec::new();
    }
    let w = end / SERIES_POINTS as f64;
    let mut acc = vec![0.0; SERIES_POINTS];
    let steps = &out.busy_steps;
    for (i, &(t, b, _)) in steps.iter().enumerate() {
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

pub(crate) fn build(
    cluster: &str,
    v: &View,
    jobs: &[Job],
    source: &Source,
    opts: &Options,
    fm: &FailureModel,
    out: &SimOut,
) -> Report {
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
    for (i, &(t, b, _)) in out.busy_steps.iter().enumerate() {
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
    let per_gpu_hour = fm.per_gpu_hour_of(v.gpus);
    let lost_gpu_s: f64 = out.jobs.iter().map(|o| o.lost_gpu_s).sum();
    let (ot_w, ot) = over_time(out, v.gpus);
    let failures_by_class = FailureClass::ALL
        .iter()
        .zip(out.failures_by_class)
        .map(|(c, n)| (c.name().to_string(), n))
        .collect();
    let mut failure_assumptions = vec![
        format!(
            "a job checkpoints every τ of its own work: {}; a failure on any of its GPUs loses the work since its last checkpoint and it is requeued",
            match opts.checkpoint_interval_s {
                Some(x) => format!("τ = {x} s (given)"),
                None => format!(
                    "τ = Young–Daly √(2·(MTBI + MTTR)·C) with its MTBI from its GPUs × the cluster's rate per GPU, MTTR {:.0} s, C {CHECKPOINT_WRITE_S:.0} s (assumption); checkpoint stalls are inside the trace's run time",
                    fc::DETECT_S + fc::RESTART_S
                ),
            }
        ),
        format!(
            "an interrupted job's next attempt first runs detection {:.0} s + restart {:.0} s (goodput's defaults: FT-HSDP's 10-min synchronous recovery, detection included) on its new GPUs; a preempted job checkpoints and pays nothing",
            fc::DETECT_S,
            fc::RESTART_S
        ),
        format!(
            "hardware failures take the failed host (the whole leaf for a leaf switch) out of the pool for {:.0} h (goodput's repair assumption); busy GPUs of it leave when their job stops; software failures stop jobs only",
            fc::NODE_REPAIR_S / 3600.0
        ),
        "failures are drawn only while jobs run or are still to arrive".into(),
    ];
    if fm.rates == "catalogue" {
        failure_assumptions.push(
            "rates: the failure catalogue's central rates (no spread) over the whole cluster's components, counted as goodput counts a job's; degrading and absorbed classes are not simulated".into(),
        );
    } else {
        failure_assumptions.push(
            "rates: --failures-per-gpu-hour on every GPU, each failure a GPU failure (its host goes to repair)".into(),
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
        failure_rates: fm.rates.clone(),
        failures_per_gpu_hour: per_gpu_hour,
        comm_fraction: opts.comm_fraction,
        makespan_s: span,
        last_arrival_s: arr,
        utilisation_fraction: util,
        utilisation_while_arriving_fraction: util_arr,
        out_of_service_gpu_fraction: if span > 0.0 {
            out.repair_gpu_s / (gpus * span)
        } else {
            0.0
        },
        utilisation_series: series(out, v.gpus),
        utilisation_over_time_interval_s: ot_w,
        utilisation_over_time: ot,
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
        failures_by_class,
        expected_failures: per_gpu_hour * gpus * out.failure_active_s / 3600.0,
        failure_active_s: out.failure_active_s,
        failures_stopping_jobs: out.failures_stopping_jobs,
        interruptions: out.jobs.iter().map(|o| o.interruptions as u64).sum(),
        lost_gpu_hours: lost_gpu_s / 3600.0,
        lost_busy_gpu_time_fraction: if out.busy_gpu_s > 0.0 {
            lost_gpu_s / out.busy_gpu_s
        } else {
            0.0
        },
        checkpoint_interval_rule: if opts.checkpoint_interval_s.is_some() {
            "given".into()
        } else {
            "young-daly".into()
        },
        checkpoint_interval_s: opts.checkpoint_interval_s,
        restart_s: fc::DETECT_S + fc::RESTART_S,
        repair_s: fc::NODE_REPAIR_S,
        failure_components: fm.components.clone(),
        failure_assumptions,
        preemptions: out.jobs.iter().map(|o| o.preemptions as u64).sum(),
        unfinished_jobs: (jobs.len() - done.len()) as u64,
        events: out.events,
        published_comparison: cmp,
    }
}

/// `1.2 h`, `3.4 d`, `56 s`.
fn human_s(x: f64) -> String {
    if x >= 2.0 * 86_400.0 {
        format!("{:.1} d", x / 86_400.0)
    } else if x >= 2.0 * 3600.0 {
        format!("{:.1} h", x / 3600.0)
    } else if x >= 120.0 {
        format!("{:.1} min", x / 60.0)
    } else {
        format!("{x:.0} s")
    }
}

/// Utilisation over time in a few lines: ten equal slices of the arrival window, then the
/// drain after it (from `utilisation_over_time`, to its interval).
fn over_time_lines(r: &Report) -> String {
    let pts = &r.utilisation_over_time;
    let w = r.utilisation_over_time_interval_s;
    if pts.is_empty() {
        return String::new();
    }
    let mean = |a: f64, b: f64| -> Option<f64> {
        let sel: Vec<f64> = pts
            .iter()
            .filter(|p| p.t_s >= a && p.t_s < b)
            .map(|p| p.utilisation_fraction)
            .collect();
        (!sel.is_empty()).then(|| sel.iter().sum::<f64>() / sel.len() as f64)
    };
    let mut cells = Vec::new();
    let arr = r.last_arrival_s;
    let slices = if arr > 10.0 * w { 10 } else { 1 };
    for k in 0..slices {
        let (a, b) = (arr * k as f64 / slices as f64, arr * (k + 1) as f64 / slices as f64);
        if let Some(u) = mean(a, b) {
            cells.push(format!("{:.0}", 100.0 * u));
        }
    }
    let tail = mean(arr, r.makespan_s + w);
    format!(
        "utilisation over time, % (JSON `utilisation_over_time`, every {}): arrivals in {} slices: {}; drain after the last submission ({}): {}\n",
        human_s(w),
        slices,
        cells.join(" "),
        human_s((r.makespan_s - arr).max(0.0)),
        tail.map(|u| format!("{:.1}", 100.0 * u)).unwrap_or_else(|| "-".into())
    )
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
        "policy {}, placement {}, seed {}, failures {:.2e}/GPU-hour ({}), comm share {}{}",
        r.policy,
        r.placement,
        r.seed,
        r.failures_per_gpu_hour,
        if r.failure_rates == "catalogue" {
            "failure catalogue"
        } else {
            "--failures-per-gpu-hour"
        },
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
        "makespan {} (first submission → last completion), last submission at {}",
        human_s(r.makespan_s),
        human_s(r.last_arrival_s)
    );
    let _ = writeln!(
        s,
        "utilisation {:.1} % while jobs arrive (0 → {}); {:.1} % over the whole makespan (0 → {}, drain included); out of service for repair {:.2} %",
        100.0 * r.utilisation_while_arriving_fraction,
        human_s(r.last_arrival_s),
        100.0 * r.utilisation_fraction,
        human_s(r.makespan_s),
        100.0 * r.out_of_service_gpu_fraction
    );
    s.push_str(&over_time_lines(r));
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
        "failures {} (catalogue mean for the {} they were drawn over: {:.1}), {} stopping jobs; jobs interrupted {}, lost {:.0} GPU-h ({:.2} % of busy GPU-time); preemptions {}, unfinished {}",
        r.failures,
        human_s(r.failure_active_s),
        r.expected_failures,
        r.failures_stopping_jobs,
        r.interruptions,
        r.lost_gpu_hours,
        100.0 * r.lost_busy_gpu_time_fraction,
        r.preemptions,
        r.unfinished_jobs
    );
    let by: Vec<String> = r
        .failures_by_class
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if !by.is_empty() {
        let _ = writeln!(s, "  by class: {}", by.join(", "));
    }
    let _ = writeln!(
        s,
        "  restart from the last checkpoint (interval {}), then {:.0} s detection + restart; failed hardware out {:.0} h",
        match r.checkpoint_interval_s {
            Some(x) => format!("{x:.0} s, given"),
            None => "Young–Daly per job".into(),
        },
        r.restart_s,
        r.repair_s / 3600.0
    );
    if !r.published_comparison.is_empty() {
        let _ = writeln!(s, "{:<30} {:>14} {:>14}", "statistic", "simulated", "published");
        for row in &r.published_comparison {
            let _ = writeln!(s, "{:<30} {:>14.3} {:>14.3}", row.metric, row.simulated, row.published);
        }
    }
    s
}
