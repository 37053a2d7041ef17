//! The `fabricsim` command line: argument parsing, files, output formats. All modelling lives in
//! the library crates.

mod compare_cmd;
mod design_cmd;
mod goodput_cmd;
mod html_out;
mod mixed_cmd;
mod model_flags;
mod moe_flags;
mod nccl_tests;
mod plan_cmd;
mod power_flags;
mod schedule_cmd;
mod serve_cmd;
mod sweep_cmd;
mod train_cmd;
mod train_render;

use clap::{Parser, Subcommand};
use fabricsim::cluster::{self, Source};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "fabricsim",
    version,
    about = "Simulator and planner for AI supercomputer fabrics"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the built-in cluster presets.
    Presets {
        /// Print the list as JSON (name, description) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Simulate a collective like nccl-tests (size, count, time, algbw, busbw, algorithm).
    #[command(allow_negative_numbers = true)]
    Collective {
        /// Cluster: preset with parameters or a TOML file.
        #[arg(long)]
        cluster: String,
        /// all_reduce, reduce_scatter, all_gather, all_to_all, broadcast, reduce, send_recv; or
        /// moe_dispatch, moe_combine (DeepEP's expert-parallel kernels: --tokens, --hidden,
        /// --topk, --experts, --dtype, --kernel).
        #[arg(long)]
        op: String,
        #[command(flatten)]
        moe: moe_flags::MoeFlags,
        /// Ranks (default: every accelerator of the cluster; 1 = a local copy, no fabric).
        #[arg(long)]
        ranks: Option<u32>,
        /// One message size (bytes, or with K, M, G: powers of 1024; 0 gives a row of zeros, as
        /// NCCL returns without launching).
        #[arg(long, conflicts_with = "sizes")]
        size: Option<String>,
        /// A sweep MIN:MAX, doubling (default 8:8G, like nccl-tests -b 8 -e 8G -f 2).
        #[arg(long)]
        sizes: Option<String>,
        /// packed (rank r on accelerator r); scattered[:SEED] (whole scale-up domains taken in a
        /// shuffled order fixed by SEED, default 1: ranks stay packed inside each domain, only
        /// which domains are neighbours in rank order changes); or a file listing one accelerator
        /// index per rank.
        #[arg(long, default_value = "packed")]
        placement: String,
        #[command(flatten)]
        model: model_flags::ModelFlags,
        /// Refuse a run whose estimated memory exceeds this (bytes, or with K, M, G: powers of
        /// 1024; default 2G). Raise it on a machine with more memory.
        #[arg(long)]
        max_memory: Option<String>,
        /// Print the report as JSON (schema_version, units in key names) instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// nccl-tests in silico: `fabricsim nccl-tests all_reduce_perf -b 8 -e 8G -f 2 -g 8
    /// --cluster dgx-h100` prints what NVIDIA's binary would, from the collective model.
    #[command(name = "nccl-tests", allow_negative_numbers = true)]
    NcclTests(nccl_tests::Args),
    /// Compare predictions with published measurements (with no flag: both bundled data sets).
    Validate {
        /// A CSV in the format of testdata/collectives.csv; with no FILE, that file as shipped
        /// (built into fabricsim: works from any directory).
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        collectives: Option<Option<String>>,
        /// A CSV in the format of testdata/training.csv; with no FILE, that file as shipped
        /// (built into fabricsim: works from any directory).
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        training: Option<Option<String>>,
        /// A CSV in the format of testdata/inference.csv (published serving measurements); with
        /// no FILE, that file as shipped. Input rows (workload and fleet descriptions) are
        /// listed, predictions compared, the rest listed with the reason.
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        inference: Option<Option<String>>,
        /// Print the report(s) as JSON (schema_version, units in key names) instead of tables.
        #[arg(long)]
        json: bool,
        /// Under each row, print the scenario it became: cluster spec, model, plan, framework,
        /// memory, and every assumption or default that filled a gap in the row.
        #[arg(long)]
        explain: bool,
        /// Also refit every fitted constant without each source group in turn and predict that
        /// group with the refit (leave-one-group-out); prints the held-out error per group and
        /// overall (JSON: `cross_validation`).
        #[arg(long)]
        cross_validate: bool,
        /// Run the plan search on every training row that states its plan (the --training data
        /// set) and compare its best plan with the published one under the same model.
        #[arg(long)]
        planner: bool,
    },
    /// Simulate one training step of an LLM (default: Llama 3.1 70B on dgx-h100-superpod:su=4).
    #[command(allow_negative_numbers = true)]
    Train(train_cmd::TrainArgs),
    /// Run one job (a training step or a collective) over several fabrics or plans and show
    /// them side by side: speed, exposed communication, bill of materials, cost, power, tokens
    /// per dollar and per joule.
    #[command(allow_negative_numbers = true)]
    Compare(compare_cmd::CompareArgs),
    /// Search fabric designs for fixed accelerators, node type and workloads: the Pareto front
    /// of cost and power against step time, and the cheapest design within a slowdown of
    /// non-blocking, confirmed at flow fidelity.
    #[command(allow_negative_numbers = true)]
    Design(design_cmd::DesignArgs),
    /// Search the fastest parallel plan for a training job on a cluster: TP, PP, DP, CP, EP,
    /// virtual stages, micro-batch, recompute, ZeRO/FSDP and placement order (MaxText meshes on
    /// TPUs), pruned by memory and a lower bound, re-ranked at flow fidelity.
    #[command(allow_negative_numbers = true)]
    Plan(plan_cmd::PlanArgs),
    /// Simulate LLM serving on a cluster: continuous batching, chunked prefill, paged KV cache
    /// with prefix caching and tiers, expert parallelism, prefill/decode disaggregation, SLOs
    /// (default: DeepSeek-R1 on a GB200 NVL72 rack, disaggregated).
    #[command(allow_negative_numbers = true)]
    Serve(serve_cmd::ServeArgs),
    /// A training campaign under failures: component failures per class (rates with sources),
    /// checkpoints, restarts, Young–Daly interval, in-memory checkpoints and hot spares; a seeded
    /// Monte Carlo of interruptions, effective training time and lost GPU-hours.
    #[command(allow_negative_numbers = true)]
    Goodput(goodput_cmd::GoodputArgs),
    /// Many tenants on one cluster: a job trace (Acme, Helios) or synthetic jobs fitted to the
    /// published Acme summaries, under a policy (fifo, backfill, sjf, priority) and a placement
    /// (packed, scattered), with GPU failures and slowdown from shared links.
    #[command(allow_negative_numbers = true)]
    Schedule(schedule_cmd::ScheduleArgs),
    /// List the built-in models.
    Models {
        /// Print the registry as JSON (parameter counts, and in billions) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Summarise a cluster: tiers, counts, bandwidths, bisection, bill of materials, power, cost.
    #[command(allow_negative_numbers = true)]
    Topo {
        /// A preset with parameters (`NAME:key=value,...`) or a path to a cluster TOML file
        /// (`FILE.toml[:key=value,...]`).
        spec: String,
        /// Power usage effectiveness, facility power ÷ IT power, 1.0–3.0 (default 1.3: the upper
        /// end of the 1.1–1.3 quoted for AI sites).
        #[arg(long)]
        pue: Option<f64>,
        /// The fraction of TDP the accelerators average for the energy line, 0–1 (default 0.8);
        /// printed with the figure.
        #[arg(long)]
        load: Option<f64>,
        #[command(flatten)]
        routing: model_flags::RoutingFlag,
        /// Print the summary as JSON (schema_version, units in key names) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a grid of training and collective points (fabrics × models × plans × sizes) on every
    /// core, or one share of it (`--shard i/n`), as CSV or JSON, one row per point.
    Sweep(sweep_cmd::SweepArgs),
    /// Join the outputs of every shard of a sweep into the output of the unsharded run.
    Merge(sweep_cmd::MergeArgs),
}

/// Default `--max-memory`: what a workstation can give one run.
const DEFAULT_MAX_MEMORY: f64 = fabricsim::job::DEFAULT_MAX_MEMORY_BYTES;

/// `--max-memory` in bytes (K, M, G: powers of 1024).
fn max_memory(arg: Option<&str>) -> Result<f64, UserError> {
    match arg {
        None => Ok(DEFAULT_MAX_MEMORY),
        Some(s) => {
            let v = fabricsim::collective::parse_size(s).map_err(|e| UserError(format!("--max-memory: {e}")))?;
            if v < 1048576.0 {
                return Err(UserError(format!("--max-memory {s}: below 1 MiB, no run fits")));
            }
            Ok(v)
        }
    }
}

/// Bytes in GiB (or MiB below one GiB), as `--max-memory` takes them.
fn binary_bytes(b: f64) -> String {
    if b >= 1073741824.0 {
        format!("{:.1} GiB", b / 1073741824.0)
    } else {
        format!("{:.0} MiB", b / 1048576.0)
    }
}

/// Refuse up front a run whose estimated memory exceeds the limit, naming both.
fn check_memory(estimate: &f64, largest: &str, limit: f64) -> Result<(), UserError> {
    if *estimate > limit {
        return Err(UserError(format!(
            "the run would need about {} of memory (largest part: {largest}), above --max-memory {}: raise --max-memory on a machine that has it, or make the job smaller",
            binary_bytes(*estimate),
            binary_bytes(limit)
        )));
    }
    Ok(())
}

/// A user-facing failure: message and exit code 2.
pub struct UserError(pub String);

impl<E: std::fmt::Display> From<E> for UserError {
    fn from(e: E) -> Self {
        UserError(e.to_string())
    }
}

/// Why a command that needs one fabric refuses a mixed-accelerator cluster.
fn not_one_fabric(spec: &str) -> UserError {
    UserError(format!(
        "cluster `{spec}` is a mixed-accelerator cluster (pools of different accelerators): this command needs one fabric; mixed clusters are taken by `train`, `topo` and `sweep` grids ([[train]] tables), or give one pool's cluster"
    ))
}

fn load_cluster(spec: &str) -> Result<(fabric::topology::clos::ClusterSpec, fabric::Fabric), UserError> {
    if fabricsim::mixed::is_mixed_preset(spec) {
        return Err(not_one_fabric(spec));
    }
    if cluster::looks_like_path(spec) {
        let (path, overrides) = match spec.split_once(".toml:") {
            Some((p, o)) => (format!("{p}.toml"), o.to_string()),
            None => (spec.to_string(), String::new()),
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| UserError(format!("cannot read cluster file `{path}`: {e}")))?;
        if fabricsim::mixed::is_mixed_toml(&text) {
            return Err(not_one_fabric(spec));
        }
        Ok(cluster::load(Source::File {
            path: &path,
            text: &text,
            overrides: &overrides,
        })?)
    } else {
        Ok(cluster::load(Source::Preset(spec))?)
    }
}

/// `--placement`: packed, scattered[:SEED] or a file of accelerator indices.
fn parse_placement(p: &str) -> Result<fabricsim::collective::Placement, UserError> {
    use fabricsim::collective as fc;
    Ok(match p {
        "packed" => fc::Placement::Packed,
        p if p == "scattered" || p.starts_with("scattered:") => {
            let seed = p
                .strip_prefix("scattered:")
                .map(|s| s.parse::<u64>())
                .transpose()
                .map_err(|_| UserError(format!("--placement: bad seed in `{p}`")))?;
            fc::Placement::Scattered {
                seed: seed.unwrap_or(1),
            }
        }
        path => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UserError(format!("--placement: cannot read `{path}`: {e}")))?;
            fc::Placement::List(
                fc::parse_placement(&text).map_err(|e| UserError(format!("--placement `{path}`: {e}")))?,
            )
        }
    })
}

/// A spinner on stderr while a command runs, only when stderr is a terminal (never in pipes, CI
/// or JSON consumers' logs).
pub(crate) fn spinner(msg: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

/// The look of [`Progress`] once the total is known: done / total, percentage and ETA.
const BAR_TEMPLATE: &str = "{spinner} {msg} [{bar:30}] {pos}/{len} {prefix} · {percent}% · ETA {eta}";

/// Progress of a command whose work comes in countable pieces (rows of a CSV, candidate
/// algorithms): a spinner until the total is known, then a bar with the count, percentage and
/// ETA. Drawn on stderr only when it is a terminal; elsewhere every call does nothing.
pub(crate) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// What a piece is ("rows", "algorithms").
    unit: &'static str,
}

impl Progress {
    pub(crate) fn new(msg: &str, unit: &'static str) -> Self {
        Progress {
            bar: spinner(msg),
            unit,
        }
    }

    /// `done` of `total` pieces finished.
    pub(crate) fn set(&mut self, done: usize, total: usize) {
        let Some(pb) = &self.bar else { return };
        if pb.length() != Some(total as u64) {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
            pb.set_prefix(self.unit);
            if let Ok(style) = indicatif::ProgressStyle::with_template(BAR_TEMPLATE) {
                pb.set_style(style.progress_chars("=> "));
            }
        }
        pb.set_position(done as u64);
    }

    /// An observer for [`engine::progress::observe`]: the engine's events processed of those
    /// expected drive the bar (percentage and ETA) of the run in progress.
    pub(crate) fn engine_observer(&self) -> impl FnMut(u64, u64) + 'static {
        let bar = self.bar.clone();
        move |done, total| {
            let Some(pb) = &bar else { return };
            if pb.length() != Some(total) {
                pb.set_length(total);
                pb.set_prefix("events");
                if let Ok(style) = indicatif::ProgressStyle::with_template(BAR_TEMPLATE) {
                    pb.set_style(style.progress_chars("=> "));
                }
            }
            pb.set_position(done);
        }
    }

    /// A new message (the next part of the command), keeping the bar.
    pub(crate) fn message(&self, msg: &str) {
        if let Some(pb) = &self.bar {
            pb.set_message(msg.to_string());
        }
    }

    /// Clear the line (also done on drop, so an early error return leaves no bar behind).
    pub(crate) fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(pb) = &self.bar {
            pb.finish_and_clear();
        }
    }
}

/// A data set for `validate`: the file the user named, or `None` for the bundled one.
struct DataText(Option<(String, String)>);

impl DataText {
    /// The data set to replay: the file's, or `bundled` when no file was named.
    fn data_set<'a>(&'a self, bundled: fabricsim::validate::DataSet<'static>) -> fabricsim::validate::DataSet<'a> {
        match &self.0 {
            Some((path, text)) => fabricsim::validate::DataSet { name: path, text },
            None => bundled,
        }
    }
}

/// Read the CSV of `flag`, or nothing when no file was given (the bundled one applies).
fn read_data(flag: &str, path: Option<&str>) -> Result<DataText, UserError> {
    Ok(DataText(match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| UserError(format!("{flag}: cannot read `{p}`: {e}")))?;
            Some((p.to_string(), text))
        }
        None => None,
    }))
}

fn run(cli: Cli) -> Result<u8, UserError> {
    match cli.cmd {
        Cmd::Presets { json } => {
            let list = fabric::presets::list();
            if json {
                let rows: Vec<serde_json::Value> = list
                    .iter()
                    .map(|(n, d)| serde_json::json!({ "name": n, "description": d }))
                    .collect();
                let out = serde_json::json!({ "schema_version": fabricsim::SCHEMA_VERSION, "presets": rows });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let w = list.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
                for (n, d) in list {
                    println!("{n:<w$}  {d}");
                }
            }
        }
        Cmd::Collective {
            cluster,
            op,
            moe,
            ranks,
            size,
            sizes,
            placement,
            model,
            max_memory: max_mem,
            json,
        } => {
            use fabricsim::collective as fc;
            if let Some(mop) = collective::moe::MoeOp::parse(&op) {
                let (_, f) = load_cluster(&cluster)?;
                let placement = parse_placement(&placement)?;
                let n = ranks.unwrap_or(f.accel_count() as u32);
                let rank_list = fc::place(&f, n, &placement).map_err(UserError)?;
                let r = moe_flags::run(
                    &f,
                    &cluster,
                    &rank_list,
                    mop,
                    &moe,
                    &model,
                    size.is_some() || sizes.is_some(),
                )?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&r)?);
                } else {
                    print!("{}", fabricsim::moe::render(&r));
                }
                return Ok(0);
            }
            moe.reject_without_moe()?;
            let progress = Progress::new(&format!("building {cluster}"), "algorithms");
            let (_, mut f) = load_cluster(&cluster)?;
            model.routing.apply(&mut f)?;
            let op: collective::Op = op.parse().map_err(|e| UserError(format!("--op: {e}")))?;
            let (algo, opts) = model.resolve()?;
            let sizes = match (size, sizes) {
                (Some(s), _) => vec![fc::parse_size(&s).map_err(|e| UserError(format!("--size: {e}")))?],
                (None, Some(r)) => fc::parse_sizes(&r).map_err(|e| UserError(format!("--sizes: {e}")))?,
                (None, None) => fc::default_sizes(),
            };
            let placement_arg = placement.clone();
            let placement = parse_placement(&placement)?;
            let from_file = match &placement {
                fc::Placement::List(v) => Some(v.len() as u32),
                _ => None,
            };
            let n = ranks.or(from_file).unwrap_or(f.accel_count() as u32);
            let where_ = if from_file.is_some() {
                format!("--placement `{placement_arg}`: ")
            } else {
                String::new()
            };
            let rank_list = fc::place(&f, n, &placement).map_err(|e| UserError(format!("{where_}{e}")))?;
            collective::plan::check_group(&f, &rank_list).map_err(|e| UserError(format!("{where_}{e}")))?;
            let limit = max_memory(max_mem.as_deref())?;
            let (est, largest) =
                fc::estimate_memory(&f, &rank_list, op, algo.map(|a| a.algo), opts).map_err(UserError)?;
            check_memory(&est, &largest, limit)?;
            progress.message(&format!("simulating {} on {} ranks", op.name(), rank_list.len()));
            let req = fc::Request {
                cluster: &cluster,
                op,
                ranks: &rank_list,
                sizes: &sizes,
                algo,
                opts,
                placement: &placement,
            };
            // Candidates set the message; inside each, the engine's events drive the bar and ETA.
            let label = format!("simulating {} on {} ranks", op.name(), rank_list.len());
            let observer = progress.engine_observer();
            let r = engine::progress::observe(observer, || {
                fc::run_with_progress(&f, &req, &mut |done, total| {
                    if done < total {
                        progress.message(&format!("{label}: algorithm {} of {total}", done + 1));
                    }
                })
            });
            progress.finish();
            let r = r?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", fc::render(&r));
            }
        }
        Cmd::NcclTests(args) => nccl_tests::run(args)?,
        Cmd::Sweep(args) => return sweep_cmd::run_sweep(args),
        Cmd::Merge(args) => return sweep_cmd::run_merge(args),
        Cmd::Validate {
            collectives,
            training,
            inference,
            json,
            explain,
            cross_validate,
            planner,
        } => {
            if planner {
                let path = training.clone().flatten();
                let text = read_data("--training", path.as_deref())?;
                let data = text.data_set(DataSet::BUNDLED_TRAINING);
                let mut progress = Progress::new("planning training rows", "rows");
                let (rows, skipped) = fabricsim::plan::published::compare(
                    data.text,
                    None,
                    &fabricsim::plan::SearchOptions::default(),
                    &mut |d, t| progress.set(d, t),
                );
                progress.finish();
                if json {
                    let skipped: Vec<_> = skipped
                        .iter()
                        .map(|(id, why)| serde_json::json!({"row_id": id, "reason": why}))
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "schema_version": fabricsim::SCHEMA_VERSION,
                            "rows": rows,
                            "skipped": skipped,
                        }))?
                    );
                } else {
                    print!("{}", fabricsim::plan::published::render(&rows, &skipped));
                }
                return Ok(0);
            }
            use fabricsim::validate::DataSet;
            // No flag at all: both bundled data sets (collectives and training).
            let (collectives, training) = match (collectives, training, &inference) {
                (None, None, None) => (Some(None), Some(None)),
                (c, t, _) => (c, t),
            };
            // (JSON, text) of each report, in the order asked.
            let mut reports: Vec<(serde_json::Value, String)> = Vec::new();
            let header = |kind: &str, set: &str, n: usize| format!("== {kind} · {set} ({n} rows)\n");
            if let Some(path) = collectives {
                let text = read_data("--collectives", path.as_deref())?;
                let data = text.data_set(DataSet::BUNDLED_COLLECTIVES);
                let mut progress = Progress::new("validating collectives", "rows");
                let r = fabricsim::validate::collectives_from(data, collective::Options::default(), &mut |d, t| {
                    progress.set(d, t)
                });
                progress.finish();
                let r = r.map_err(|e| UserError(format!("{}: {e}", data.name)))?;
                let mut t = header(&r.kind, &r.data_set, r.summary.rows_compared + r.summary.rows_skipped)
                    + &fabricsim::validate::render_with(&r, explain);
                let mut j = serde_json::to_value(&r)?;
                if cross_validate {
                    let cv =
                        fabricsim::calibration::cross_validate(fabricsim::calibration::DataKind::Collectives, data)
                            .map_err(|e| UserError(format!("{}: {e}", data.name)))?;
                    t = t + "\n" + &fabricsim::calibration::render(&cv);
                    j["cross_validation"] = serde_json::to_value(&cv)?;
                }
                reports.push((j, t));
            }
            if let Some(path) = training {
                let text = read_data("--training", path.as_deref())?;
                let data = text.data_set(DataSet::BUNDLED_TRAINING);
                let mut progress = Progress::new("validating training runs", "rows");
                let r = fabricsim::validate_training::training_from(data, &mut |d, t| progress.set(d, t));
                progress.finish();
                let r = r.map_err(|e| UserError(format!("{}: {e}", data.name)))?;
                let mut t = header(&r.kind, &r.data_set, r.summary.rows_compared + r.summary.rows_skipped)
                    + &fabricsim::validate_training::render(&r, explain);
                let mut j = serde_json::to_value(&r)?;
                if cross_validate {
                    let cv = fabricsim::calibration::cross_validate(fabricsim::calibration::DataKind::Training, data)
                        .map_err(|e| UserError(format!("{}: {e}", data.name)))?;
                    t = t + "\n" + &fabricsim::calibration::render(&cv);
                    j["cross_validation"] = serde_json::to_value(&cv)?;
                }
                reports.push((j, t));
            }
            if let Some(path) = inference {
                let text = read_data("--inference", path.as_deref())?;
                let data = text.data_set(DataSet::BUNDLED_INFERENCE);
                let mut progress = Progress::new("validating serving rows", "rows");
                let r = fabricsim::validate_inference::inference_from(data, &mut |d, t| progress.set(d, t));
                progress.finish();
                let r = r.map_err(|e| UserError(format!("{}: {e}", data.name)))?;
                let n = r.rows.len() + r.inputs.len() + r.not_compared.len();
                let mut t = header(&r.kind, &r.data_set, n) + &fabricsim::validate_inference::render(&r, explain);
                let mut j = serde_json::to_value(&r)?;
                if cross_validate {
                    let cv = fabricsim::calibration::cross_validate(fabricsim::calibration::DataKind::Inference, data)
                        .map_err(|e| UserError(format!("{}: {e}", data.name)))?;
                    t = t + "\n" + &fabricsim::calibration::render(&cv);
                    j["cross_validation"] = serde_json::to_value(&cv)?;
                }
                reports.push((j, t));
            }
            if json {
                if reports.len() == 1 {
                    println!("{}", serde_json::to_string_pretty(&reports[0].0)?);
                } else {
                    let all: Vec<_> = reports.into_iter().map(|(j, _)| j).collect();
                    let out = serde_json::json!({ "schema_version": fabricsim::SCHEMA_VERSION, "reports": all });
                    println!("{}", serde_json::to_string_pretty(&out)?);
                }
            } else {
                for (i, (_, t)) in reports.iter().enumerate() {
                    if i > 0 {
                        println!();
                    }
                    print!("{t}");
                }
            }
        }
        Cmd::Plan(args) => {
            let code = plan_cmd::run(args, |spec| load_cluster(spec).map(|(_, f)| f))?;
            if code != 0 {
                return Ok(code);
            }
        }
        Cmd::Train(args) => {
            let code = train_cmd::run(args, |spec| load_cluster(spec).map(|(_, f)| f))?;
            if code != 0 {
                return Ok(code);
            }
        }
        Cmd::Compare(args) => return compare_cmd::run(args, load_cluster),
        Cmd::Design(args) => return design_cmd::run(args),
        Cmd::Serve(args) => return serve_cmd::run(args, |spec| load_cluster(spec).map(|(_, f)| f)),
        Cmd::Goodput(args) => return goodput_cmd::run(args, |spec| load_cluster(spec).map(|(_, f)| f)),
        Cmd::Schedule(args) => return schedule_cmd::run(args, |spec| load_cluster(spec).map(|(_, f)| f)),
        Cmd::Models { json } => {
            let mut all = workload::registry::all();
            all.sort_by(|a, b| a.name.cmp(&b.name));
            if json {
                let rows: Vec<serde_json::Value> = all
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "name": m.name,
                            "params": m.params().round() as u64,
                            "active_params": m.active_params().round() as u64,
                            "params_billions": m.params() / 1e9,
                            "active_params_billions": m.active_params() / 1e9,
                            "layers": m.layers,
                            "hidden": m.hidden,
                            "heads": m.heads,
                            "kv_heads": m.kv_heads,
                            "experts": m.moe.as_ref().map(|x| x.experts),
                            "experts_per_token": m.moe.as_ref().map(|x| x.top_k),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"schema_version": fabricsim::SCHEMA_VERSION, "models": rows})
                    )?
                );
            } else {
                let w = all.iter().map(|m| m.name.len()).max().unwrap_or(0);
                println!(
                    "{:<w$}  {:>10}  {:>10}  {:>6}  {:>6}  {:>7}  architecture",
                    "model", "params", "active", "layers", "hidden", "heads"
                );
                for m in &all {
                    let moe = m
                        .moe
                        .as_ref()
                        .map(|x| format!("MoE, {} experts, top-{}", x.experts, x.top_k))
                        .unwrap_or_else(|| "dense".into());
                    println!(
                        "{:<w$}  {:>8.1} B  {:>8.1} B  {:>6}  {:>6}  {:>7}  {}",
                        m.name,
                        m.params() / 1e9,
                        m.active_params() / 1e9,
                        m.layers,
                        m.hidden,
                        format!("{}/{}", m.heads, m.kv_heads),
                        moe
                    );
                }
            }
        }
        Cmd::Topo {
            spec,
            pue,
            load,
            routing,
            json,
        } => {
            let pue = pue
                .map(fabricsim::topo::Pue::new)
                .transpose()
                .map_err(|e| UserError(format!("--pue: {e}")))?;
            let load = load
                .map(fabricsim::power::Load::new)
                .transpose()
                .map_err(|e| UserError(format!("--load: {e}")))?;
            if let Some(mixed) = mixed_cmd::spec_of(&spec)? {
                mixed_cmd::topo(
                    &spec,
                    &mixed,
                    &routing,
                    &fabricsim::topo::TopoOptions { pue },
                    load,
                    &|cs: &str| load_cluster(cs).map_err(|e| e.0),
                    json,
                )?;
                return Ok(0);
            }
            let pb = spinner(&format!("building {spec}"));
            let built = load_cluster(&spec);
            if let Some(pb) = pb {
                pb.finish_and_clear();
            }
            let (cs, mut f) = built?;
            routing.apply(&mut f)?;
            let r = fabricsim::topo::report_at(&cs, &f, &fabricsim::topo::TopoOptions { pue }, load);
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", fabricsim::topo::render(&r));
            }
        }
    }
    Ok(0)
}

/// mimalloc instead of the system allocator: the simulations allocate and free many
/// short-lived vectors (routed flows, plans, per-run engine state), where glibc's `malloc`
/// spent ~10 % of a planner search and the kernel another ~6 % zeroing the pages of large
/// allocations it returned and took back (docs/performance.md, seventh pass). Results do not
/// depend on the allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A closed pipe (`fabricsim models | head`) ends the process quietly, as for any Unix tool,
    // instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code),
        Err(UserError(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every argument of every subcommand, as `path --flag`, that has no help text.
    fn without_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                let name = match (a.get_long(), a.get_short()) {
                    (Some(l), _) => format!("--{l}"),
                    (None, Some(s)) => format!("-{s}"),
                    (None, None) => id.to_uppercase(),
                };
                out.push(format!("{path} {name}"));
            }
        }
        for sub in cmd.get_subcommands() {
            without_help(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    /// The progress bar shows done / total, a percentage and an ETA, and its template parses.
    #[test]
    fn progress_bar_shows_percent_and_eta() {
        for part in ["{pos}/{len}", "{percent}%", "{eta}"] {
            assert!(super::BAR_TEMPLATE.contains(part), "{part}");
        }
        assert!(indicatif::ProgressStyle::with_template(super::BAR_TEMPLATE).is_ok());
    }

    /// `validate --training` with no value parses (the bundled file), and so does a value.
    #[test]
    fn validate_flags_take_an_optional_file() {
        use clap::Parser;
        let parse = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.cmd) {
            Ok(super::Cmd::Validate {
                collectives, training, ..
            }) => (collectives, training),
            _ => panic!("{args:?} did not parse as validate"),
        };
        assert_eq!(parse(&["fabricsim", "validate"]), (None, None));
        assert_eq!(
            parse(&["fabricsim", "validate", "--training", "--json"]),
            (None, Some(None))
        );
        assert_eq!(
            parse(&["fabricsim", "validate", "--collectives", "c.csv", "--training"]),
            (Some(Some("c.csv".into())), Some(None))
        );
    }

    /// Regression (issue "Reports a user can act on", point 8): `train --tp --pp --dp --cp --ep
    /// --json` and others printed no help.
    #[test]
    fn every_argument_has_help() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        without_help(&cmd, "fabricsim", &mut missing);
        assert!(
            missing.is_empty(),
            "arguments without help text:\n  {}",
            missing.join("\n  ")
        );
    }
}
