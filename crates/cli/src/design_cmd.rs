//! `fabricsim design`: fabric design search for fixed accelerators, node type and workloads.
//! Workloads are training scenarios read exactly as `train` reads them (`train_cmd::job`):
//! `--workload FILE.toml` (repeatable), or the model and plan flags for one workload. The
//! search itself is `fabricsim::design`.

use crate::train_cmd::{self, JobArgs};
use crate::UserError;
use fabricsim::design::{self as dz, Family, Objective, Space};

/// Flags of `fabricsim design`.
/// The accelerators every design holds are `--gpus` (of the job flags; required).
#[derive(clap::Args, Debug)]
pub struct DesignArgs {
    /// Node (server or rack) type: dgx-h100, hgx-h200, … (default dgx-h100).
    #[arg(long, default_value = "dgx-h100")]
    pub node: String,
    /// A training scenario TOML (model, plan, batch) to time on every design; repeatable. Its
    /// `cluster` is ignored. With none, the model and plan flags give one workload.
    #[arg(long = "workload")]
    pub workloads: Vec<String>,
    #[command(flatten)]
    pub job: JobArgs,
    /// Families searched, comma separated: fat-tree, rail-optimized, rail-only (default all).
    #[arg(long, value_delimiter = ',')]
    pub families: Vec<String>,
    /// Switch chips searched, comma separated catalogue ids, or `default` for the builder's
    /// choice by port speed (default: default,quantum-x800-q3400).
    #[arg(long, value_delimiter = ',')]
    pub switches: Vec<String>,
    /// Oversubscription ratios searched (down : up; 1 is always included; default 1,2,3,4,7).
    #[arg(long, value_delimiter = ',')]
    pub oversub: Vec<f64>,
    /// Tiers an oversubscription may apply at, comma separated (1 = leaf; default 1,2).
    #[arg(long, value_delimiter = ',')]
    pub oversub_at: Vec<u32>,
    /// Optical modules searched, comma separated catalogue ids, or `default` (default:
    /// default,osfp-400g-sr4,lpo-400g).
    #[arg(long, value_delimiter = ',')]
    pub optics: Vec<String>,
    /// Largest slowdown against the non-blocking reference for the cheapest design (percent
    /// with %, or a fraction; default 5%).
    #[arg(long, default_value = "5%")]
    pub max_slowdown: String,
    /// How the workloads' slowdowns combine: worst (default) or mean.
    #[arg(long, default_value = "worst")]
    pub objective: String,
    /// Power usage effectiveness for facility power, 1.0–3.0 (default: topo's, 1.3).
    #[arg(long)]
    pub pue: Option<f64>,
    /// Print the search as JSON (schema_version, reference, front, cheapest_within,
    /// confirmation; units in key names).
    #[arg(long)]
    pub json: bool,
    /// Write a self-contained HTML report (inline SVG, no network needed) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<String>,
}

/// `5%` or `0.05` as a fraction.
fn parse_fraction(s: &str) -> Result<f64, UserError> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| {
        UserError(format!(
            "--max-slowdown `{s}`: expected a percentage such as 5% or a fraction such as 0.05"
        ))
    })?;
    if !(0.0..=10.0).contains(&v) {
        return Err(UserError(format!(
            "--max-slowdown `{s}`: must be between 0 % and 1000 %"
        )));
    }
    Ok(v)
}

fn or_default<T: Clone>(given: &[T], default: &[T]) -> Vec<T> {
    if given.is_empty() {
        default.to_vec()
    } else {
        given.to_vec()
    }
}

fn catalogue_ids(given: &[String], default: &[&str]) -> Vec<Option<String>> {
    let v: Vec<String> = if given.is_empty() {
        default.iter().map(|s| s.to_string()).collect()
    } else {
        given.to_vec()
    };
    let mut out: Vec<Option<String>> = Vec::new();
    for s in v {
        let id = match s.trim() {
            "default" => None,
            x => Some(x.to_string()),
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

pub fn run(a: DesignArgs) -> Result<u8, UserError> {
    let gpus = a
        .job
        .gpus
        .ok_or_else(|| UserError("design: give the accelerator count with --gpus N".into()))?;
    let max_slowdown = parse_fraction(&a.max_slowdown)?;
    let objective = Objective::parse(&a.objective).map_err(|e| UserError(format!("--objective {e}")))?;
    let pue = a
        .pue
        .map(fabricsim::topo::Pue::new)
        .transpose()
        .map_err(|e| UserError(format!("--pue: {e}")))?;
    let families = if a.families.is_empty() {
        Family::ALL.to_vec()
    } else {
        a.families
            .iter()
            .map(|f| Family::parse(f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| UserError(format!("--families: {e}")))?
    };
    for r in &a.oversub {
        if !(r.is_finite() && (1.0..=64.0).contains(r)) {
            return Err(UserError(format!("--oversub {r}: ratios run from 1 to 64")));
        }
    }
    for t in &a.oversub_at {
        if !(1..=3).contains(t) {
            return Err(UserError(format!("--oversub-at {t}: tiers 1 to 3 have up-links")));
        }
    }
    let space = Space {
        gpus,
        node: a.node.clone(),
        families,
        switches: catalogue_ids(&a.switches, &["default", "quantum-x800-q3400"]),
        oversub: or_default(&a.oversub, &[1.0, 2.0, 3.0, 4.0, 7.0]),
        oversub_at: or_default(&a.oversub_at, &[1, 2]),
        optics: catalogue_ids(&a.optics, &["default", "osfp-400g-sr4", "lpo-400g"]),
    };
    // The workloads: each scenario file, or the flags as one. The cluster and size are the
    // design's: every workload runs on all `gpus` accelerators.
    let mut jobs = Vec::new();
    let mut names = Vec::new();
    if a.workloads.is_empty() {
        let mut j = train_cmd::job(&a.job, None)?;
        j.scenario.parallel.gpus = Some(gpus);
        names.push(j.model.name.clone());
        jobs.push(j);
    } else {
        for w in &a.workloads {
            let mut args = a.job.clone();
            if args.scenario.is_some() {
                return Err(UserError(
                    "give the workloads with --workload FILE (repeatable), not as a positional scenario".into(),
                ));
            }
            args.scenario = Some(w.clone());
            let mut j = train_cmd::job(&args, None)?;
            j.scenario.parallel.gpus = Some(gpus);
            let stem = std::path::Path::new(w)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| w.clone());
            names.push(stem);
            jobs.push(j);
        }
    }
    // Check the workloads on the first design before the search, so a plan that cannot run is
    // one clear error and not a list of rejected designs.
    let first = dz::enumerate(&space)
        .into_iter()
        .next()
        .ok_or_else(|| UserError("the design space is empty".into()))?;
    let spec = first.spec(gpus, &a.node);
    let (_, f) = fabricsim::cluster::load(fabricsim::cluster::Source::Preset(&spec))
        .map_err(|e| UserError(format!("--gpus/--node: {e}")))?;
    for (j, n) in jobs.iter().zip(&names) {
        let p = train_cmd::prepare_on(j, &f).map_err(|e| UserError(format!("workload `{n}`: {}", e.0)))?;
        train_cmd::check_memory_on(j, &p, &f).map_err(|e| UserError(format!("workload `{n}`: {}", e.0)))?;
    }
    let eval = |f: &fabric::Fabric, spec: &str, fidelity: engine::Fidelity| -> Result<Vec<f64>, String> {
        let mut out = Vec::new();
        for (j, n) in jobs.iter().zip(&names) {
            let mut p = train_cmd::prepare_on(j, f).map_err(|e| format!("workload `{n}`: {}", e.0))?;
            p.options.fidelity = fidelity;
            let r = fabricsim::train::simulate_ordered(spec, f, &j.model, &p.plan, &p.cm, &p.options, p.order)
                .map_err(|e| format!("workload `{n}`: {e}"))?;
            if !r.fits && !j.args.allow_oom {
                return Err(format!("workload `{n}`: the plan does not fit in accelerator memory"));
            }
            out.push(r.step_time_s);
        }
        Ok(out)
    };
    let progress = std::sync::Mutex::new(crate::Progress::new("searching fabric designs", "networks"));
    let report_progress = |done: usize, total: usize| {
        if let Ok(mut p) = progress.lock() {
            p.set(done, total);
        }
    };
    let r = dz::search(
        &space,
        &eval,
        &dz::SearchOptions {
            objective,
            max_slowdown,
            topo: fabricsim::topo::TopoOptions { pue },
            workload_names: names.clone(),
            progress: &report_progress,
        },
    )
    .map_err(UserError)?;
    drop(progress);
    if let Some(path) = &a.html {
        crate::html_out::write(path, &fabricsim::html::design_page(&r))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", dz::render(&r));
    }
    Ok(0)
}
