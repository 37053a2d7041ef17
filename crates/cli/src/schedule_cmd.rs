//! `fabricsim schedule`: many tenants on one cluster (job traces or synthetic jobs, policies,
//! placement, failures, slowdown from shared links). The modelling is `fabricsim::schedule`;
//! this reads the trace file and prints the report.

use fabricsim::schedule::{self, trace, Options, Placement, Policy, Source};

use crate::UserError;

/// The default cluster: a 98,304-GPU (12,288 DGX H100) non-blocking fat-tree.
pub const DEFAULT_CLUSTER: &str = "fat-tree:gpus=98304";

/// `fabricsim schedule` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct ScheduleArgs {
    /// Cluster: preset with parameters or a TOML file (default fat-tree:gpus=98304; e.g.
    /// fat-tree:gpus=2288,node=dgx-a100 for Seren's size, oversub=3 for an oversubscribed one).
    #[arg(long, default_value = DEFAULT_CLUSTER)]
    pub cluster: String,
    /// A job trace file (CSV); needs --format.
    #[arg(long, conflicts_with = "synthetic")]
    pub trace: Option<String>,
    /// The trace's format: acme (Seren / Kalos columns) or helios (cluster_log.csv).
    #[arg(long)]
    pub format: Option<String>,
    /// Synthetic jobs fitted to the published summary of this Acme cluster: seren or kalos
    /// (also philly, helios). The default when no --trace is given: seren.
    #[arg(long)]
    pub synthetic: Option<String>,
    /// Synthetic jobs to draw.
    #[arg(long, default_value_t = 10_000)]
    pub jobs: usize,
    /// Offered load of synthetic jobs: GPU-time asked per GPU-time the cluster has (sets the
    /// arrival rate).
    #[arg(long, default_value_t = 0.8)]
    pub load: f64,
    /// How synthetic jobs grow with a cluster larger than the published one: sizes (× the
    /// power of two nearest below the size ratio, capped at the cluster) or arrivals (published
    /// sizes, a higher arrival rate at the same load).
    #[arg(long, default_value = "sizes")]
    pub scale: String,
    /// fifo, backfill (EASY), sjf (shortest first) or priority (with preemption).
    #[arg(long, default_value = "fifo")]
    pub policy: String,
    /// packed (into scale-up domains, then the fewest leaves and pods) or scattered (any free
    /// GPUs, at random).
    #[arg(long, default_value = "packed")]
    pub placement: String,
    /// Seed of the synthetic jobs, scattered placement and failures.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Job-interrupting failures per GPU-hour on every GPU, overriding the default: the
    /// failure catalogue of `fabricsim goodput` over the components each job occupies (central
    /// rates for the cluster's accelerator). 0 turns failures off.
    #[arg(long)]
    pub failures_per_gpu_hour: Option<f64>,
    /// Every job's checkpoint interval in seconds of its work (default: Young–Daly per job
    /// from its GPUs' failure rate).
    #[arg(long)]
    pub checkpoint_interval_s: Option<f64>,
    /// Exposed share of a multi-domain job's run time spent in scale-out communication (the
    /// part that shared links stretch; default 0.3).
    #[arg(long)]
    pub comm_fraction: Option<f64>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ScheduleArgs, load: impl Fn(&str) -> Result<fabric::Fabric, UserError>) -> Result<u8, UserError> {
    let policy = Policy::parse(&args.policy).ok_or_else(|| {
        UserError(format!(
            "--policy `{}`: use fifo, backfill, sjf or priority",
            args.policy
        ))
    })?;
    let placement = Placement::parse(&args.placement)
        .ok_or_else(|| UserError(format!("--placement `{}`: use packed or scattered", args.placement)))?;
    let opts = Options {
        policy,
        placement,
        seed: args.seed,
        failures_per_gpu_hour: args.failures_per_gpu_hour,
        checkpoint_interval_s: args.checkpoint_interval_s,
        comm_fraction: args
            .comm_fraction
            .unwrap_or(schedule::contention::DEFAULT_COMM_FRACTION),
    };
    // Bad options before the (large) fabric is built.
    schedule::check_options(&opts).map_err(UserError)?;
    let (jobs, source, f) = match &args.trace {
        Some(path) => {
            let fmt = args
                .format
                .as_deref()
                .ok_or_else(|| UserError("--trace needs --format acme or --format helios".into()))?;
            let format =
                trace::Format::parse(fmt).ok_or_else(|| UserError(format!("--format `{fmt}`: use acme or helios")))?;
            let text =
                std::fs::read_to_string(path).map_err(|e| UserError(format!("--trace: cannot read `{path}`: {e}")))?;
            let t = trace::read(path, &text, format).map_err(UserError)?;
            let f = load(&args.cluster)?;
            let src = Source::Trace {
                file: path.clone(),
                format: format.name().into(),
                cpu_jobs_skipped: t.cpu_jobs_skipped,
            };
            (t.jobs, src, f)
        }
        None => {
            if args.format.is_some() {
                return Err(UserError("--format applies to --trace only".into()));
            }
            let name = args.synthetic.as_deref().unwrap_or("seren");
            // The summary row first, so an unknown name fails before the fabric is built.
            schedule::synthetic::summary(name).map_err(UserError)?;
            let f = load(&args.cluster)?;
            let scale = schedule::synthetic::Scale::parse(&args.scale)
                .ok_or_else(|| UserError(format!("--scale `{}`: use sizes or arrivals", args.scale)))?;
            let (jobs, src) =
                schedule::synthetic_jobs(&f, name, args.jobs, args.load, scale, args.seed).map_err(UserError)?;
            (jobs, src, f)
        }
    };
    let r = schedule::run(&f, &args.cluster, &jobs, &source, &opts).map_err(UserError)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", schedule::render(&r));
    }
    Ok(0)
}
