//! Synthetic jobs drawn from distributions fitted to the published per-cluster summary of the
//! Acme traces (`testdata/traces/acme-cluster-summary.csv`, InternLM/AcmeTrace
//! `data/cluster_summary.csv`, CC BY 4.0; Hu et al., NSDI'24).
//!
//! **The fit** (only the summary's own statistics, nothing tuned to the simulated output):
//! - *GPUs per job*: powers of two `1, 2, 4, …, max_gpu`. `P(1) = ONE_GPU_FRACTION` (≥ 0.5 so
//!   the median is 1, as published); the larger sizes `2^k` get a truncated geometric weight
//!   `q^k`, with `q` found by bisection so the mean equals the published `avg_gpu_num`. The
//!   mean is exact for the cluster the jobs are drawn for unless `max_gpu` exceeds it: sizes
//!   are capped at the cluster (the mean reported is then the capped one).
//! - *Run time*: lognormal with `μ = ln(median)` and `σ = √(2 ln(mean / median))`, i.e. the
//!   published median and mean of GPU jobs' run time, truncated at the published maximum (by
//!   redrawing; the truncation lowers the mean by < 1 % on Seren and Kalos). Size and run time
//!   are drawn independently.
//! - *Final state*: completed / cancelled / failed with the published shares of GPU jobs
//!   (`complete_rate_gpu`, `cancel_rate_gpu`, `fail_rate_gpu`, normalised to sum 1). A
//!   cancelled or failed job still runs its drawn run time: the published run times include
//!   them.
//! - *Arrivals*: Poisson at the rate that offers `load` × the cluster's GPU-seconds per second:
//!   `λ = load × GPUs / (E[GPUs per job] × E[run time])`.
//! - *Priority*: a share `HIGH_PRIORITY_FRACTION` of jobs is high priority (the summary gives
//!   no priorities).
//!
//! **Scaling to 100k GPUs** (the stated rules, [`Scale`]): `sizes` (the default) multiplies
//! every drawn size by `2^⌊log2(GPUs / published GPUs)⌋` (the published clusters: Seren 2,288,
//! Kalos 2,416 A100; 1 for the other rows and for clusters no larger than the published one),
//! capped at the cluster, and the arrival rate follows from the load — the tenants of a 43×
//! larger cluster run 32× larger jobs; `arrivals` keeps the published sizes (max 1,024) and
//! lets the arrival rate grow with the cluster's GPUs at the same load — more jobs, not
//! bigger ones. Run times are those published under both rules.

use super::{Job, JobState, Rng};

/// The published summary text.
pub const SUMMARY_CSV: &str = include_str!("../../../../testdata/traces/acme-cluster-summary.csv");

/// Share of single-GPU jobs. Assumption [A]: the summary gives only the median (1 GPU), which
/// needs ≥ 0.5; 0.6 is taken.
pub const ONE_GPU_FRACTION: f64 = 0.6;

/// Share of high-priority jobs in a synthetic trace. Assumption [A] (no priorities published).
pub const HIGH_PRIORITY_FRACTION: f64 = 0.1;

/// How synthetic jobs are scaled to a cluster larger than the published one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Sizes,
    Arrivals,
}

impl Scale {
    pub fn parse(s: &str) -> Option<Scale> {
        match s {
            "sizes" => Some(Scale::Sizes),
            "arrivals" => Some(Scale::Arrivals),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Scale::Sizes => "sizes",
            Scale::Arrivals => "arrivals",
        }
    }
}

/// GPUs of the published cluster (traces README; Hu et al., NSDI'24, Table 1: Seren 2,288 and
/// Kalos 2,416 A100); `None` where the summary's cluster size is not given here.
pub fn published_gpus(cluster: &str) -> Option<u32> {
    match cluster.to_lowercase().as_str() {
        "seren" => Some(2288),
        "kalos" => Some(2416),
        _ => None,
    }
}

/// The size multiplier of [`Scale::Sizes`] for a cluster of `gpus`.
pub fn size_scale(cluster: &str, gpus: u32, scale: Scale) -> u32 {
    match (scale, published_gpus(cluster)) {
        (Scale::Sizes, Some(p)) if gpus >= 2 * p => 1 << (gpus / p).ilog2(),
        _ => 1,
    }
}

/// The published figures of one cluster's GPU jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub cluster: String,
    pub gpu_jobs: f64,
    pub avg_run_s: f64,
    pub med_run_s: f64,
    pub max_run_s: f64,
    pub avg_queue_s: f64,
    pub med_queue_s: f64,
    pub avg_gpus: f64,
    pub med_gpus: f64,
    pub max_gpus: f64,
    pub complete_fraction: f64,
    pub cancel_fraction: f64,
    pub fail_fraction: f64,
    pub complete_gpu_time_fraction: f64,
    pub cancel_gpu_time_fraction: f64,
    pub fail_gpu_time_fraction: f64,
}

/// The summary row of `name` (Seren, Kalos, …; case-insensitive).
pub fn summary(name: &str) -> Result<Summary, String> {
    let mut rdr = csv::Reader::from_reader(SUMMARY_CSV.as_bytes());
    let h = rdr.headers().map_err(|e| e.to_string())?.clone();
    let mut names = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let id = rec.get(0).unwrap_or("");
        names.push(id.to_lowercase());
        if !id.eq_ignore_ascii_case(name) {
            continue;
        }
        let f = |c: &str| -> Result<f64, String> {
            let i = h.iter().position(|x| x == c).ok_or(format!("summary has no `{c}`"))?;
            rec.get(i)
                .unwrap_or("")
                .parse::<f64>()
                .map_err(|_| format!("summary row {id} has no `{c}` figure"))
        };
        return Ok(Summary {
            cluster: id.to_string(),
            gpu_jobs: f("gpu_job_num")?,
            avg_run_s: f("avg_run_time_gpu")?,
            med_run_s: f("med_run_time_gpu")?,
            max_run_s: f("max_run_time_gpu")?,
            avg_queue_s: f("avg_que_time_gpu")?,
            med_queue_s: f("med_que_time_gpu")?,
            avg_gpus: f("avg_gpu_num")?,
            med_gpus: f("med_gpu_num")?,
            max_gpus: f("max_gpu")?,
            complete_fraction: f("complete_rate_gpu")?,
            cancel_fraction: f("cancel_rate_gpu")?,
            fail_fraction: f("fail_rate_gpu")?,
            complete_gpu_time_fraction: f("complete_rate_gpu_time")?,
            cancel_gpu_time_fraction: f("cancel_rate_gpu_time")?,
            fail_gpu_time_fraction: f("fail_rate_gpu_time")?,
        });
    }
    Err(format!(
        "--synthetic {name}: no such cluster in the Acme summary (clusters with GPU-job shares: seren, kalos, philly, helios)"
    ))
}

/// The fitted size distribution: `(size, probability)` for powers of two up to the cap.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeDist {
    pub pmf: Vec<(u32, f64)>,
    /// The geometric ratio fitted.
    pub q: f64,
}

impl SizeDist {
    pub fn mean(&self) -> f64 {
        self.pmf.iter().map(|&(s, p)| s as f64 * p).sum()
    }
    fn draw(&self, u: f64) -> u32 {
        let mut acc = 0.0;
        for &(s, p) in &self.pmf {
            acc += p;
            if u < acc {
                return s;
            }
        }
        self.pmf.last().map(|x| x.0).unwrap_or(1)
    }
}

/// Fit the size distribution to `mean` with sizes up to `max_gpus` (published), capped at
/// `cap` (the cluster's GPUs).
pub fn fit_sizes(mean: f64, max_gpus: f64, cap: u32) -> SizeDist {
    let kmax = (max_gpus.max(1.0).log2().floor() as u32).min(30);
    let build = |q: f64| -> Vec<(u32, f64)> {
        let w: Vec<f64> = (1..=kmax).map(|k| q.powi(k as i32)).collect();
        let tot: f64 = w.iter().sum();
        let mut pmf = vec![(1u32, if kmax == 0 { 1.0 } else { ONE_GPU_FRACTION })];
        for (i, wi) in w.iter().enumerate() {
            pmf.push((1u32 << (i + 1), (1.0 - ONE_GPU_FRACTION) * wi / tot));
        }
        pmf
    };
    let m = |q: f64| build(q).iter().map(|&(s, p)| s as f64 * p).sum::<f64>();
    let (mut lo, mut hi) = (1e-6, 4.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if m(mid) < mean {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let q = 0.5 * (lo + hi);
    let mut pmf = build(q);
    // Cap at the cluster: the mass of larger sizes moves to the cap.
    let cap = cap.max(1);
    let mut capped: Vec<(u32, f64)> = Vec::new();
    for (s, p) in pmf.drain(..) {
        let s = s.min(cap);
        match capped.last_mut() {
            Some(last) if last.0 == s => last.1 += p,
            _ => capped.push((s, p)),
        }
    }
    SizeDist { pmf: capped, q }
}

/// Generate `n` jobs for a cluster of `gpus` at offered `load`.
/// Sizes are multiplied by `scale` (then capped at the cluster).
pub fn generate(s: &Summary, n: usize, gpus: u32, load: f64, scale: u32, rng: &mut Rng) -> (Vec<Job>, SizeDist) {
    let mut sizes = fit_sizes(s.avg_gpus, s.max_gpus, u32::MAX);
    let mut capped: Vec<(u32, f64)> = Vec::new();
    for &(g, p) in &sizes.pmf {
        let g = g.saturating_mul(scale).min(gpus.max(1));
        match capped.last_mut() {
            Some(last) if last.0 == g => last.1 += p,
            _ => capped.push((g, p)),
        }
    }
    sizes.pmf = capped;
    let mu = s.med_run_s.max(1e-3).ln();
    let sigma = (2.0 * (s.avg_run_s / s.med_run_s).max(1.0).ln()).sqrt();
    let rate = load * gpus as f64 / (sizes.mean() * s.avg_run_s);
    let st = s.complete_fraction + s.cancel_fraction + s.fail_fraction;
    let mut t = 0.0;
    let mut jobs = Vec::with_capacity(n);
    for i in 0..n {
        if i > 0 {
            t += -rng.unit_open().ln() / rate;
        }
        let g = sizes.draw(rng.unit());
        let run = loop {
            let x = (mu + sigma * rng.normal()).exp();
            if x <= s.max_run_s {
                break x;
            }
        };
        let u = rng.unit() * st;
        let state = if u < s.complete_fraction {
            JobState::Completed
        } else if u < s.complete_fraction + s.cancel_fraction {
            JobState::Cancelled
        } else {
            JobState::Failed
        };
        let priority = u8::from(rng.unit() < HIGH_PRIORITY_FRACTION);
        jobs.push(Job {
            id: format!("syn-{i}"),
            submit_s: t,
            gpus: g,
            run_s: run,
            state,
            priority,
            trace_queue_s: None,
        });
    }
    (jobs, sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_fit_matches_the_published_mean_and_median() {
        for name in ["seren", "kalos"] {
            let s = summary(name).unwrap();
            let d = fit_sizes(s.avg_gpus, s.max_gpus, 1 << 20);
            assert!(
                (d.mean() - s.avg_gpus).abs() < 1e-6 * s.avg_gpus,
                "{name}: {}",
                d.mean()
            );
            assert_eq!(d.pmf.last().unwrap().0, 1024);
            assert!(d.pmf[0].1 >= 0.5);
        }
        assert_eq!(size_scale("Seren", 98304, Scale::Sizes), 32);
        assert_eq!(size_scale("seren", 2288, Scale::Sizes), 1);
        assert_eq!(size_scale("seren", 98304, Scale::Arrivals), 1);
        // Capped at a small cluster: the largest size is the cluster.
        let d = fit_sizes(26.77, 1024.0, 64);
        assert_eq!(d.pmf.last().unwrap().0, 64);
        assert!((d.pmf.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn drawn_run_times_follow_the_published_median() {
        let s = summary("Seren").unwrap();
        let mut rng = Rng::new(7);
        let (jobs, _) = generate(&s, 20_000, 2288, 0.7, 1, &mut rng);
        let mut r: Vec<f64> = jobs.iter().map(|j| j.run_s).collect();
        r.sort_by(f64::total_cmp);
        let med = r[r.len() / 2];
        assert!((med / s.med_run_s - 1.0).abs() < 0.1, "median {med}");
        assert!(jobs.windows(2).all(|w| w[0].submit_s <= w[1].submit_s));
        assert!(summary("atlantis").is_err());
    }
}
