//! `fabricsim train` and `fabricsim models`: argument merging over a scenario file or the
//! built-in scenario.

use crate::model_flags::Switch;
use crate::UserError;
use fabricsim::scenario::{self, ModelField, ScenarioFile};
use fabricsim::train::{self, TrainOptions};

/// Flags of `fabricsim train`: the job ([`JobArgs`], shared with `compare` and `design`), the
/// cluster it runs on and the outputs.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Cluster: preset with parameters or a cluster TOML file.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Print the report as JSON (schema_version, units in key names) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write a Chrome trace-event JSON of the step (open in Perfetto).
    #[arg(long)]
    pub trace: Option<String>,
    /// Write a self-contained HTML report (inline SVG, no network needed): the step's
    /// breakdown, every pipeline stage's, memory per accelerator and the busiest links.
    #[arg(long)]
    pub html: Option<String>,
    #[command(flatten)]
    pub power: crate::power_flags::TrainPowerFlags,
    /// Mixed-accelerator cluster: balance the job with uneven pipeline stages (pp), uneven
    /// data-parallel micro-batches (dp), or run both and report the better (best; default).
    #[arg(long)]
    pub mixed_balance: Option<String>,
    /// Mixed-accelerator cluster: sweep the first pool's share of the accelerators (e.g.
    /// 0.25,0.5,0.75; the total kept) × balancing (pp, dp) and print efficiency per point.
    #[arg(long)]
    pub mixed_sweep: Option<String>,
    /// With --mixed-sweep: print CSV instead of the table.
    #[arg(long)]
    pub mixed_csv: bool,
    /// Multi-site clusters (`multi-site:`): sweep distance × DCI capacity → loss against one
    /// site of the same size, and bisect the capacity that keeps the loss under --target-loss
    /// at each distance (table; --json or --csv).
    #[arg(long)]
    pub dci_sweep: bool,
    /// With --dci-sweep: DCI capacities per site, Gb/s, comma-separated.
    #[arg(long, default_value = "800,1600,3200,6400,12800,25600,51200")]
    pub dci_gbit: String,
    /// With --dci-sweep: site-to-site distances, km, comma-separated.
    #[arg(long, default_value = "30,400,2000")]
    pub distance_km: String,
    /// With --dci-sweep: the loss the capacity must stay under (0–1).
    #[arg(long, default_value_t = 0.04)]
    pub target_loss: f64,
    /// With --dci-sweep: halvings (log scale) of the capacity bisection per distance.
    #[arg(long, default_value_t = 6)]
    pub bisect_steps: u32,
    /// With --dci-sweep: print CSV rows instead of the table.
    #[arg(long)]
    pub csv: bool,
}

fn float_list(flag: &str, s: &str) -> Result<Vec<f64>, UserError> {
    s.split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| UserError(format!("--{flag} `{s}`: `{x}` is not a positive number")))
        })
        .collect()
}

/// `train --dci-sweep`: distance × DCI capacity → loss, and the capacity for a target loss.
fn dci_sweep(t: &TrainArgs, load_cluster: &dyn Fn(&str) -> Result<fabric::Fabric, UserError>) -> Result<u8, UserError> {
    let job = job(&t.job, t.cluster.as_deref())?;
    let cluster = job.cluster();
    let gbits = float_list("dci-gbit", &t.dci_gbit)?;
    let distances = float_list("distance-km", &t.distance_km)?;
    if !(t.target_loss > 0.0 && t.target_loss < 1.0) {
        return Err(UserError(format!(
            "--target-loss {}: must be between 0 and 1",
            t.target_loss
        )));
    }
    let first = train::sites::with_dci(&cluster, distances[0], gbits[0]).map_err(UserError)?;
    let mut f = load_cluster(&first)?;
    job.args.routing.apply(&mut f)?;
    let p = prepare_on(&job, &f)?;
    check_memory_on(&job, &p, &f)?;
    let base_spec = train::sites::single_site_spec(&cluster)
        .ok_or_else(|| UserError(format!("--dci-sweep: `{cluster}` has no single-site equivalent")))?;
    let mut base = load_cluster(&base_spec)?;
    base.routing = f.routing;
    let o = TrainOptions {
        cross_site: train::sites::CrossSite::Dp,
        ..p.options.clone()
    };
    let progress = crate::Progress::new("DCI sweep", "runs");
    let observer = progress.engine_observer();
    let out = engine::progress::observe(observer, || -> Result<train::sites::DciSweep, String> {
        let base_step = train::step_time_ordered(&base, &job.model, &p.plan, &p.cm, &o, p.order)?;
        let mut n = 0usize;
        train::sites::dci_sweep(
            &cluster,
            &base_spec,
            base_step,
            &distances,
            &gbits,
            t.target_loss,
            t.bisect_steps,
            &mut |spec: &str| {
                n += 1;
                progress.message(&format!("{spec} (run {n})"));
                let mut fm = load_cluster(spec).map_err(|e| e.0)?;
                fm.routing = f.routing;
                train::simulate_ordered(spec, &fm, &job.model, &p.plan, &p.cm, &p.options, p.order)
            },
        )
    });
    progress.finish();
    let sw = out.map_err(UserError)?;
    if t.json {
        println!("{}", serde_json::to_string_pretty(&sw)?);
    } else if t.csv {
        println!("distance_km,dci_gbit_per_s,step_time_s,single_site_step_time_s,multi_site_loss_fraction,dci_serialisation_s,extra_bandwidth_s,extra_latency_s,extra_congestion_s");
        for q in &sw.points {
            println!(
                "{},{},{},{},{},{},{},{},{}",
                q.distance_km,
                q.dci_gbit_per_s,
                q.step_time_s,
                q.single_site_step_time_s,
                q.multi_site_loss_fraction,
                q.dci_serialisation_s,
                q.extra_bandwidth_s,
                q.extra_latency_s,
                q.extra_congestion_s
            );
        }
    } else {
        print!("{}", crate::train_render::render_dci_sweep(&sw));
    }
    Ok(0)
}

/// The flags that describe a training job (scenario file, model, plan, batch, framework,
/// fidelity, options), without the cluster it runs on or the output format: `train`,
/// `compare` and `design` read the same job the same way.
#[derive(clap::Args, Debug, Clone)]
pub struct JobArgs {
    /// A scenario TOML file (default: the built-in Llama 3.1 70B on dgx-h100-superpod:su=4).
    pub scenario: Option<String>,
    /// Model: registry name or alias, or a Hugging Face config.json path.
    #[arg(long)]
    pub model: Option<String>,
    /// Accelerators to use (DP = GPUs / (TP × PP × CP) when --dp is not given).
    #[arg(long)]
    pub gpus: Option<u32>,
    /// Tensor-parallel size: accelerators that split every layer's matrices (default: the largest
    /// power of two up to min(scale-up domain, 8) that divides the heads).
    #[arg(long)]
    pub tp: Option<u32>,
    /// Pipeline-parallel stages, each a group of consecutive layers (default: the fewest, a power
    /// of two, whose weights, gradients and optimizer states fit in a quarter of HBM, or the
    /// most the layers and accelerators allow).
    #[arg(long)]
    pub pp: Option<u32>,
    /// Data-parallel replicas (default: GPUs / (TP × PP × CP)).
    #[arg(long)]
    pub dp: Option<u32>,
    /// Context-parallel size: accelerators that split each sequence (default 1).
    #[arg(long)]
    pub cp: Option<u32>,
    /// Expert-parallel size: accelerators that split a mixture-of-experts layer's experts
    /// (default 1).
    #[arg(long)]
    pub ep: Option<u32>,
    /// Virtual pipeline stages per rank (interleaved 1F1B).
    #[arg(long)]
    pub vp: Option<u32>,
    /// Layers of each pipeline stage, e.g. 3,4,4,…,4,2 (PP entries summing to the model's
    /// layers; with --vp > 1, PP × VP chunk sizes in pipeline order, entry v on stage v mod PP).
    /// Default: an even split, the first stages one layer more.
    #[arg(long, allow_hyphen_values = true)]
    pub layers_per_stage: Option<String>,
    /// Global batch size in sequences.
    #[arg(long)]
    pub gbs: Option<u32>,
    /// Micro-batch size in sequences.
    #[arg(long)]
    pub mbs: Option<u32>,
    /// Sequence length in tokens.
    #[arg(long)]
    pub seq: Option<u64>,
    /// bf16 or fp8.
    #[arg(long)]
    pub precision: Option<String>,
    /// none, selective or full.
    #[arg(long)]
    pub recompute: Option<String>,
    /// ZeRO stage 0–3.
    #[arg(long)]
    pub zero: Option<u8>,
    /// FSDP: ZeRO-3 over the whole data-parallel group (same as --zero 3): per-layer parameter
    /// all-gathers prefetched one layer ahead, gradient reduce-scatters overlapped with the
    /// backward, parameters resharded after the forward.
    #[arg(long)]
    pub fsdp: bool,
    /// HSDP: shard parameters, gradients and optimizer states inside groups of N consecutive
    /// data-parallel ranks and replicate across the groups (gradients all-reduced across the
    /// DP / N replicas). Implies ZeRO-3; N must divide DP.
    #[arg(long)]
    pub hsdp_shard: Option<u32>,
    /// Training framework whose kernels, fusions, optimizer and overlap price the step:
    /// megatron, torchtitan, torchtitan-compile or maxtext (default: maxtext on TPUs, megatron
    /// elsewhere).
    #[arg(long)]
    pub framework: Option<String>,
    /// flow or analytical.
    #[arg(long)]
    pub fidelity: Option<String>,
    /// Simulate and report even if the plan does not fit in memory (exit 0).
    #[arg(long)]
    pub allow_oom: bool,
    /// Placement of the parallel dimensions over accelerators, innermost first
    /// (default tp,cp,ep,pp,dp: TP inside the scale-up domain).
    #[arg(long)]
    pub order: Option<String>,
    /// A kernel calibration directory (gemm.csv, optional attention.csv, memory.csv,
    /// device.json — the format of docs/compute-model.md) replacing the default efficiency table.
    #[arg(long)]
    pub calibration: Option<String>,
    /// Simulate every data-parallel replica with its sends and gradient synchronisation on the
    /// fabric as they happen (no symmetry shortcut; slower, for checking it).
    #[arg(long)]
    pub full: bool,
    /// Refuse a run whose estimated memory exceeds this (bytes, or with K, M, G: powers of
    /// 1024; default 2G). Raise it on a machine with more memory.
    #[arg(long)]
    pub max_memory: Option<String>,
    /// TPU (MaxText mesh): data-parallel axis inside a slice (-1: the rest of the slice).
    #[arg(long, allow_hyphen_values = true)]
    pub ici_data: Option<i64>,
    /// TPU (MaxText mesh): FSDP axis inside a slice, ZeRO-3 sharding (-1: the rest; MaxText's
    /// default).
    #[arg(long, allow_hyphen_values = true)]
    pub ici_fsdp: Option<i64>,
    /// TPU (MaxText mesh): tensor-parallel axis inside a slice (-1: the rest).
    #[arg(long, allow_hyphen_values = true)]
    pub ici_tensor: Option<i64>,
    /// TPU (MaxText mesh): sequence (context) parallel axis inside a slice (-1: the rest).
    #[arg(long, allow_hyphen_values = true)]
    pub ici_sequence: Option<i64>,
    /// TPU (MaxText mesh): data parallelism across slices over the DCN (-1: the rest; default).
    #[arg(long, allow_hyphen_values = true)]
    pub dcn_data: Option<i64>,
    /// TPU (MaxText mesh): FSDP across slices over the DCN (-1: the rest).
    #[arg(long, allow_hyphen_values = true)]
    pub dcn_fsdp: Option<i64>,
    /// IB SHARP (CollNet) as a candidate for the step's all-reduces where the fabric has it
    /// (on) or never (off).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub sharp: Switch,
    /// NVLink SHARP (NVLS) as a candidate for the step's all-reduces where the NVSwitch has it
    /// (on) or never (off).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub nvls: Switch,
    #[command(flatten)]
    pub routing: crate::model_flags::RoutingFlag,
    /// MoE routing imbalance: max/mean expert load (≥ 1; default 1 = balanced, as benchmarks
    /// force it). Scales the hottest rank's expert GEMMs and what its dispatch receives.
    #[arg(long)]
    pub moe_imbalance: Option<f64>,
    /// Multi-site clusters: what crosses the sites — dp (DP groups span the sites, hierarchical
    /// gradient all-reduce; default), pp (pipeline stages split over the sites) or diloco
    /// (each site its own replicas, an outer sync every --diloco-inner-steps steps).
    #[arg(long)]
    pub cross_site: Option<String>,
    /// With --cross-site diloco: inner steps between outer synchronisations (default 500).
    #[arg(long)]
    pub diloco_inner_steps: Option<u32>,
}

/// The model `--model` names: a registry name or alias, or a Hugging Face config.json path.
pub(crate) fn model_arg(m: &str) -> Result<workload::ModelSpec, UserError> {
    if m.ends_with(".json") {
        let text = std::fs::read_to_string(m).map_err(|e| UserError(format!("cannot read model config `{m}`: {e}")))?;
        workload::hf::from_hf_config(&text, m).map_err(|e| UserError(e.to_string()))
    } else {
        scenario::model(&ModelField::Name(m.to_string()), "--model").map_err(UserError)
    }
}

/// The compute model of `f`'s accelerator with `framework`'s profile (the accelerator's default
/// framework when `None`), as `train` prices kernels.
pub(crate) fn compute_model(
    f: &fabric::Fabric,
    framework: Option<&str>,
) -> Result<(workload::compute::ComputeModel, workload::Framework), UserError> {
    let mut cm = fabricsim::train::compute_model_for(f.accel_model)
        .ok_or_else(|| UserError(format!("no compute model for accelerator `{}`", f.accel_model)))?;
    let fw = match framework {
        Some(name) => workload::Framework::parse(name).map_err(UserError)?,
        None => workload::Framework::default_for(f.accel_model),
    };
    cm.framework = fw.profile();
    Ok((cm, fw))
}

/// A training job read from its flags and scenario file, before any cluster: what `train`,
/// `compare` and `design` share. [`prepare_on`] turns it into a plan on one fabric.
#[derive(Debug, Clone)]
pub struct Job {
    /// The flags as given (options the plan does not hold: order, calibration, MoE imbalance…).
    pub args: JobArgs,
    /// The scenario with the flags merged into it.
    pub scenario: ScenarioFile,
    pub model: workload::ModelSpec,
    pub fidelity: engine::Fidelity,
    pub moe_imbalance: f64,
    mesh: Option<train::tpu::MaxTextMesh>,
    torchtitan_fsdp: bool,
}

/// A job laid out on one fabric: everything `train::simulate_with_progress` takes.
pub struct Prepared {
    pub plan: workload::ParallelPlan,
    pub cm: workload::compute::ComputeModel,
    pub order: [usize; 5],
    pub options: TrainOptions,
    /// The values derived rather than given, one line each (the report's `derived`).
    pub derived: Vec<String>,
}

/// Read the scenario (or the built-in one) and merge the flags into it; `cluster` (the
/// `--cluster` flag of `train`) overrides the scenario's.
pub fn job(a: &JobArgs, cluster: Option<&str>) -> Result<Job, UserError> {
    let moe_imbalance = a.moe_imbalance.unwrap_or(1.0);
    if !(moe_imbalance.is_finite() && moe_imbalance >= 1.0) {
        return Err(UserError(format!(
            "--moe-imbalance {moe_imbalance}: must be ≥ 1 (max/mean expert load; 1 = balanced)"
        )));
    }
    let (mut sc, context): (ScenarioFile, String) = match &a.scenario {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| UserError(format!("cannot read scenario `{path}`: {e}")))?;
            (scenario::parse(&text, path).map_err(UserError)?, path.clone())
        }
        None => (
            scenario::parse(scenario::DEFAULT_SCENARIO, "built-in scenario").map_err(UserError)?,
            "built-in scenario".into(),
        ),
    };
    // Flags override the scenario's fields one by one (the built-in scenario is a scenario like
    // any other); values neither given nor in the scenario are derived by `scenario::plan`.
    macro_rules! set {
        ($field:expr, $v:expr) => {
            if let Some(v) = $v {
                $field = Some(v);
            }
        };
    }
    set!(sc.cluster, cluster.map(str::to_string));
    set!(sc.parallel.gpus, a.gpus);
    set!(sc.parallel.tp, a.tp);
    set!(sc.parallel.pp, a.pp);
    set!(sc.parallel.cp, a.cp);
    set!(sc.parallel.ep, a.ep);
    set!(sc.parallel.vp, a.vp);
    set!(sc.parallel.dp, a.dp);
    if let Some(l) = &a.layers_per_stage {
        sc.parallel.layers_per_stage = Some(scenario::parse_layers_per_stage(l).map_err(UserError)?);
    }
    set!(sc.batch.gbs, a.gbs);
    set!(sc.batch.mbs, a.mbs);
    set!(sc.batch.seq, a.seq);
    set!(sc.training.precision, a.precision.clone());
    set!(sc.training.recompute, a.recompute.clone());
    set!(sc.training.zero, a.zero);
    if a.fsdp || a.hsdp_shard.is_some() {
        match a.zero {
            Some(z) if z != 3 => {
                return Err(UserError(format!(
                    "--{} with --zero {z}: FSDP/HSDP is ZeRO-3; drop --zero or give --zero 3",
                    if a.fsdp { "fsdp" } else { "hsdp-shard" }
                )))
            }
            _ => sc.training.zero = Some(3),
        }
    }
    set!(sc.training.hsdp_shard, a.hsdp_shard);
    set!(sc.training.framework, a.framework.clone());
    set!(sc.fidelity, a.fidelity.clone());
    let file_model = scenario::model_field(&sc, &context).map_err(UserError)?;
    let model = match &a.model {
        Some(m) => model_arg(m)?,
        None => match &file_model {
            Some(field) => scenario::model(field, &context).map_err(UserError)?,
            None => {
                return Err(UserError(format!(
                    "{context}: no model (give --model NAME or a model in the scenario)"
                )))
            }
        },
    };
    let fidelity = match sc.fidelity.as_deref().unwrap_or("flow") {
        "flow" => engine::Fidelity::Flow,
        "analytical" => engine::Fidelity::Analytical,
        o => return Err(UserError(format!("fidelity `{o}`: expected flow or analytical"))),
    };
    let mesh = [
        a.ici_data,
        a.ici_fsdp,
        a.ici_tensor,
        a.ici_sequence,
        a.dcn_data,
        a.dcn_fsdp,
    ]
    .iter()
    .any(Option::is_some)
    .then(|| {
        let d = train::tpu::MaxTextMesh::default();
        train::tpu::MaxTextMesh {
            // Axes not given: 1, except fsdp and dcn data, which take the rest unless
            // another axis of their group does (MaxText's base.yml defaults).
            ici_data: a.ici_data.unwrap_or(1),
            ici_tensor: a.ici_tensor.unwrap_or(1),
            ici_sequence: a.ici_sequence.unwrap_or(1),
            ici_fsdp: a
                .ici_fsdp
                .unwrap_or(if [a.ici_data, a.ici_tensor, a.ici_sequence].contains(&Some(-1)) {
                    1
                } else {
                    d.ici_fsdp
                }),
            dcn_fsdp: a.dcn_fsdp.unwrap_or(1),
            dcn_data: a
                .dcn_data
                .unwrap_or(if a.dcn_fsdp == Some(-1) { 1 } else { d.dcn_data }),
        }
    });
    // torchtitan shards with FSDP2 always (its parallelism is FSDP with TP/PP/CP on top): with
    // no --zero, --fsdp or --hsdp-shard, a torchtitan run is ZeRO-3.
    let zero_unset =
        a.zero.is_none() && !a.fsdp && a.hsdp_shard.is_none() && (a.scenario.is_none() || sc.training.zero.is_none());
    let torchtitan_fsdp = zero_unset
        && sc
            .training
            .framework
            .as_deref()
            .is_some_and(|fw| fw.trim().to_lowercase().starts_with("torchtitan"));
    if torchtitan_fsdp {
        sc.training.zero = Some(3);
    }
    Ok(Job {
        args: a.clone(),
        scenario: sc,
        model,
        fidelity,
        moe_imbalance,
        mesh,
        torchtitan_fsdp,
    })
}

impl Job {
    /// The cluster the job names (its scenario's, or `train`'s default).
    pub fn cluster(&self) -> String {
        self.scenario
            .cluster
            .clone()
            .unwrap_or_else(|| scenario::DEFAULT_CLUSTER.into())
    }
}

/// Lay `job` out on fabric `f`: resolve the plan (defaults derived on this fabric), the least
/// recomputation that fits, the compute model and its calibration, and check the plan.
pub fn prepare_on(job: &Job, f: &fabric::Fabric) -> Result<Prepared, UserError> {
    let a = &job.args;
    let sc = &job.scenario;
    let model = &job.model;
    let moe_imbalance = job.moe_imbalance;
    let hbm = fabricsim::train::memory::physical_capacity(f);
    let resolved = scenario::plan_on(sc, f, hbm, model, job.mesh).map_err(UserError)?;
    let mut plan = resolved.plan;
    // No recompute policy given: the least recomputation that fits memory (Megatron users
    // choose it the same way), listed with the derived values.
    let mut derived = resolved.derived;
    if job.torchtitan_fsdp {
        derived.push(
            "ZeRO-3 (FSDP2): torchtitan shards parameters, gradients and optimizer states with FSDP2 in every run"
                .into(),
        );
    }
    if let Some(r) = train::least_recompute_that_fits(f, model, &plan) {
        if sc.training.recompute.is_none() {
            plan.recompute = r;
        }
        if plan.recompute == r {
            derived.push(format!(
                "recompute {}: the least activation recomputation with which the plan fits memory",
                format!("{r:?}").to_lowercase()
            ));
        }
    }
    let order = match a.order.as_ref().or(sc.parallel.order.as_ref()) {
        Some(o) => train::parse_order(o).map_err(UserError)?,
        None => train::DEFAULT_ORDER,
    };
    let (mut cm, _) = compute_model(f, sc.training.framework.as_deref())?;
    if let Some(dir) = &a.calibration {
        let read = |name: &str, required: bool| -> Result<Option<String>, UserError> {
            let path = std::path::Path::new(dir).join(name);
            match std::fs::read_to_string(&path) {
                Ok(t) => Ok(Some(t)),
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(UserError(format!(
                    "--calibration: cannot read `{}`: {e}",
                    path.display()
                ))),
            }
        };
        let gemm = read("gemm.csv", true)?.unwrap_or_default();
        let att = read("attention.csv", false)?;
        let mem = read("memory.csv", false)?;
        let mut table = workload::compute::EfficiencyTable::from_csv(&gemm, att.as_deref(), mem.as_deref(), dir)
            .map_err(|e| UserError(e.to_string()))?;
        if let Some(dev) = read("device.json", false)? {
            table.set_device_json(&dev, dir).map_err(|e| UserError(e.to_string()))?;
        }
        cm.table = table;
    }
    // Plan errors (a batch too large to schedule, a layout that does not fit the cluster) are
    // named as such before the memory estimate, which assumes a valid plan.
    train::check_plan(f, model, &plan).map_err(UserError)?;
    if a.moe_imbalance.is_some() && moe_imbalance != 1.0 {
        if model.moe.is_none() {
            return Err(UserError(format!(
                "--moe-imbalance {moe_imbalance}: model `{}` has no experts",
                model.name
            )));
        }
        // The hottest rank holds at most every token's experts: max/mean load ≤ EP.
        if moe_imbalance > plan.ep.max(1) as f64 {
            return Err(UserError(format!(
                "--moe-imbalance {moe_imbalance}: the max/mean expert load of a rank cannot exceed EP {} (every token on one rank)",
                plan.ep
            )));
        }
    }
    let options = TrainOptions {
        fidelity: job.fidelity,
        allow_oom: a.allow_oom,
        full: a.full,
        in_network: collective::InNetwork {
            sharp: a.sharp == Switch::On,
            nvls: a.nvls == Switch::On,
        },
        moe_imbalance,
        cross_site: train::sites::CrossSite::parse(a.cross_site.as_deref().unwrap_or("dp"), a.diloco_inner_steps)
            .map_err(UserError)?,
    };
    if options.cross_site != train::sites::CrossSite::Dp && train::sites::dci(f).is_none() {
        return Err(UserError(format!(
            "--cross-site {}: the cluster has one site (use a multi-site cluster, e.g. multi-site:gpus=16384,sites=2)",
            options.cross_site.name()
        )));
    }
    Ok(Prepared {
        plan,
        cm,
        order,
        options,
        derived,
    })
}

/// Refuse up front a job whose estimated memory exceeds `--max-memory` on fabric `f` (a run
/// with no single-site baseline beside it: `compare`, `design`, `goodput`, `--dci-sweep`).
pub fn check_memory_on(job: &Job, p: &Prepared, f: &fabric::Fabric) -> Result<(), UserError> {
    check_memory_with(job, p, f, false)
}

/// [`check_memory_on`], counting the single-site baseline of a multi-site run when it runs
/// beside the step (`train`).
fn check_memory_with(job: &Job, p: &Prepared, f: &fabric::Fabric, baseline_beside: bool) -> Result<(), UserError> {
    let limit = crate::max_memory(job.args.max_memory.as_deref())?;
    let est = train::estimate_train_memory(f, &job.model, &p.plan, job.args.full, baseline_beside);
    crate::check_memory(&est.bytes, &est.largest, limit)
}

pub fn run(
    t: TrainArgs,
    load_cluster: impl Fn(&str) -> Result<fabric::Fabric, UserError> + Sync,
) -> Result<u8, UserError> {
    let power = t.power.options()?;
    // A mixed-accelerator cluster (pools of different accelerators) runs its own path.
    if let Some(code) = crate::mixed_cmd::maybe_run(&t, &load_cluster)? {
        return Ok(code);
    }
    if t.dci_sweep {
        return dci_sweep(&t, &load_cluster);
    }
    let job = job(&t.job, t.cluster.as_deref())?;
    let cluster = job.cluster();
    let mut f = load_cluster(&cluster)?;
    job.args.routing.apply(&mut f)?;
    let p = prepare_on(&job, &f)?;
    check_memory_with(&job, &p, &f, true)?;
    let progress = crate::Progress::new("simulating one training step", "stages");
    let observer = progress.engine_observer();
    // On several sites the same job also runs on one site of the same size (the loss's
    // baseline); it needs nothing of the multi-site run, so it runs beside it — from the
    // moment the multi-site step has priced its communication: the pricing runs on all cores
    // and the schedule after it on one, so the baseline takes the core the schedule leaves
    // idle instead of slowing the pricing, which the schedule waits for.
    let multi_site = f.site_count() > 1;
    let routing = job.args.routing.clone();
    let base_routing = f.routing;
    let equivalent = f.extras.single_site_equivalent.clone();
    let (r, baseline, single_site_bom) = std::thread::scope(|sc| {
        // Inside the scope, so a panic of the step drops the sender while unwinding and the
        // waiting baseline returns instead of blocking the scope's join.
        let (start_tx, start_rx) = std::sync::mpsc::channel::<()>();
        let mut start_tx = Some(start_tx);
        // On one site, the energy model's bill of materials (the fabric alone) on a thread of
        // its own from the start, while the step places its ranks on one core.
        let bom = (!multi_site).then(|| sc.spawn(|| fabric::bom::bom(&f)));
        let baseline = multi_site.then(|| {
            sc.spawn(|| {
                let rx = start_rx;
                if rx.recv().is_err() {
                    // The channel closed unsent: the step failed before its pricing ended, and
                    // its error (reported first) makes the baseline moot.
                    return (
                        Err("the single-site baseline was not run: the step failed".to_string()),
                        None,
                    );
                }
                let b = train::sites::baseline_step(
                    &cluster,
                    equivalent.as_deref(),
                    base_routing,
                    &mut |spec: &str| {
                        let mut b = load_cluster(spec).map_err(|e| e.0)?;
                        routing.apply(&mut b).map_err(|e| e.0)?;
                        Ok(b)
                    },
                    &job.model,
                    &p.plan,
                    &p.cm,
                    &p.options,
                    p.order,
                );
                // The energy model's bill of materials of the multi-site fabric, off the
                // step's thread (this one ends well before it).
                (b, Some(fabric::bom::bom(&f)))
            })
        });
        let r = engine::progress::observe(observer, || {
            train::simulate_with_progress(
                &cluster,
                &f,
                &job.model,
                &p.plan,
                &p.cm,
                &p.options,
                p.order,
                &mut |done, total, next| {
                    if done >= 1 {
                        if let Some(tx) = start_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    progress.message(&format!("{next} (stage {} of {total})", done + 1))
                },
            )
        });
        drop(start_tx.take());
        let baseline = baseline.map(|h| {
            h.join()
                .map_err(|_| "the single-site baseline's thread failed".to_string())
        });
        // Not the step's business: a failed thread leaves the bill to be computed below.
        let bom = bom.and_then(|h| h.join().ok());
        (r, baseline, bom)
    });
    progress.finish();
    let (baseline, bom) = match baseline {
        Some(Ok((b, bom))) => (Some(b), bom),
        Some(Err(e)) => (Some(Err(e)), None),
        None => (None, single_site_bom),
    };
    let mut r = r.map_err(UserError)?;
    r.derived = p.derived;
    // The options were checked above; an accelerator without a catalogued TDP has no energy keys.
    let bom = bom.unwrap_or_else(|| fabric::bom::bom(&f));
    r.energy = fabricsim::power::train_energy_with(&r, &f, &bom, &power).ok();
    if let Some(b) = baseline {
        train::sites::attach_baseline_result(&mut r, b.map_err(UserError)?);
    }
    if let Some(path) = &t.trace {
        let tr = crate::train_render::trace_json(&r);
        std::fs::write(path, serde_json::to_string(&tr)?)
            .map_err(|e| UserError(format!("cannot write trace `{path}`: {e}")))?;
    }
    if let Some(path) = &t.html {
        crate::html_out::write(path, &crate::train_render::html_page(&r))?;
    }
    if t.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", crate::train_render::render(&r));
    }
    if !r.fits && !job.args.allow_oom {
        eprintln!(
            "error: the plan does not fit in accelerator memory (see the memory line); pass --allow-oom to accept"
        );
        return Ok(2);
    }
    Ok(0)
}
