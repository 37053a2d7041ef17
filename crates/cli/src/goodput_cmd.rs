//! `fabricsim goodput`: a training campaign under failures. The job is read as `train` reads it
//! (`train_cmd::JobArgs`), its step simulated once, then `fabricsim::goodput` runs the Monte
//! Carlo.

use crate::train_cmd::{self, JobArgs};
use crate::UserError;
use fabricsim::goodput::{self, GoodputInputs};
use fabricsim::train;

/// Flags of `fabricsim goodput`.
#[derive(clap::Args, Debug)]
pub struct GoodputArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Cluster: preset with parameters or a cluster TOML file.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Length of the campaign in days of wall clock (> 0).
    #[arg(long, default_value_t = 30.0)]
    pub days: f64,
    /// Seed of the Monte Carlo (same seed → identical report).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Monte Carlo trials (campaigns simulated).
    #[arg(long, default_value_t = 200)]
    pub trials: u32,
    /// Planned maintenance stops per day of wall clock, an input of its own (Llama 3: 47 in 54
    /// days, 0.87); one that falls while the job is already down is done then, not counted.
    #[arg(long, default_value_t = 0.0)]
    pub maintenance_per_day: f64,
    /// Seconds of training between checkpoints (default: Young–Daly, √(2·(MTBI+MTTR)·C), in
    /// whole steps).
    #[arg(long)]
    pub checkpoint_interval_s: Option<f64>,
    /// Checkpoint to host memory with a copy in a peer's (GEMINI-style) instead of persistent
    /// storage: a shorter stall and a faster restart.
    #[arg(long)]
    pub in_memory_checkpoint: bool,
    /// Hot-spare nodes kept for the job beyond the cluster's idle hosts: a hardware failure
    /// takes one instead of waiting for a repair.
    #[arg(long, default_value_t = 0)]
    pub hot_spares: u64,
    /// spread (default): each trial draws the node-derived failure rates between the RSC-2 and
    /// RSC-1 measurements; central: the central rates only (Poisson noise alone).
    #[arg(long, default_value = "spread")]
    pub rates: String,
    /// Seconds before an unexpected stop is noticed, on top of the restart (default 0:
    /// detection is inside the default restart; 600 models a stack that waits for PyTorch's
    /// NCCL watchdog timeout).
    #[arg(long)]
    pub detect_s: Option<f64>,
    /// Seconds to recover a stopped job: re-queue, start, initialise (default 600: the
    /// 10-minute synchronous recovery stall at O(100K) GPUs of Meta's FT-HSDP paper, arXiv
    /// 2602.00277, detection included).
    #[arg(long)]
    pub restart_s: Option<f64>,
    /// Print the report as JSON (schema_version, units in key names) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: GoodputArgs, load_cluster: impl Fn(&str) -> Result<fabric::Fabric, UserError>) -> Result<u8, UserError> {
    let rate_spread = match a.rates.as_str() {
        "spread" => true,
        "central" => false,
        o => return Err(UserError(format!("--rates `{o}`: expected spread or central"))),
    };
    if !(a.days.is_finite() && a.days > 0.0) {
        return Err(UserError(format!(
            "--days {}: must be a positive number of days",
            a.days
        )));
    }
    let job = train_cmd::job(&a.job, a.cluster.as_deref())?;
    let cluster = job.cluster();
    let mut f = load_cluster(&cluster)?;
    job.args.routing.apply(&mut f)?;
    let p = train_cmd::prepare_on(&job, &f)?;
    train_cmd::check_memory_on(&job, &p, &f)?;
    let progress = crate::Progress::new("simulating one training step", "stages");
    let observer = progress.engine_observer();
    let r = engine::progress::observe(observer, || {
        train::simulate_with_progress(
            &cluster,
            &f,
            &job.model,
            &p.plan,
            &p.cm,
            &p.options,
            p.order,
            &mut |_, _, _| {},
        )
    });
    progress.finish();
    let r = r.map_err(UserError)?;
    if !r.fits && !job.args.allow_oom {
        return Err(UserError(
            "the plan does not fit in accelerator memory (run `train` with the same flags to see the memory line); pass --allow-oom to accept".into(),
        ));
    }
    // The whole model's state as one device would hold it: weights + optimizer state.
    let mut one = p.plan.clone();
    one.tp = 1;
    one.pp = 1;
    one.dp = 1;
    one.cp = 1;
    one.ep = 1;
    one.vp = 1;
    one.zero = 0;
    one.layers_per_stage = None;
    one.hsdp_shard = None;
    let m = train::memory::memory_on(&f, &job.model, &one, &p.cm.framework);
    let checkpoint_bytes = m.weights + m.optimizer;
    let (counts, traits) = goodput::counts_from_fabric(&f, r.plan.accelerators_used);
    let scale_out = f.extras.scale_out_per_accel.0;
    let host_link = f.host_side().map(|h| h.host_dram_path_bw().0).unwrap_or(scale_out);
    let b = &r.breakdown;
    let inputs = GoodputInputs {
        cluster: cluster.clone(),
        model: r.model.clone(),
        accel_model: f.accel_model,
        step_time_s: r.step_time_s,
        counts,
        traits,
        checkpoint_bytes,
        storage_bytes_per_s: fabric::catalogue::failures::STORAGE_BYTES_PER_S_PER_ACCEL * f.accel_count() as f64,
        host_link_bytes_per_s: if host_link > 0.0 { host_link } else { scale_out.max(1e9) },
        scale_out_bytes_per_s_per_accel: if scale_out > 0.0 { scale_out } else { host_link.max(1e9) },
        exposed_scale_out_fraction: (b.pp_comm_s + b.dp_comm_s) / r.step_time_s,
        days: a.days,
        seed: a.seed,
        trials: a.trials,
        maintenance_per_day: a.maintenance_per_day,
        checkpoint_interval_s: a.checkpoint_interval_s,
        in_memory_checkpoint: a.in_memory_checkpoint,
        hot_spares: a.hot_spares,
        rate_spread,
        detect_s: a.detect_s.unwrap_or(fabric::catalogue::failures::DETECT_S),
        restart_s: a.restart_s.unwrap_or(fabric::catalogue::failures::RESTART_S),
    };
    let rep = goodput::run(&inputs).map_err(UserError)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        print!("{}", goodput::render(&rep));
    }
    Ok(0)
}
