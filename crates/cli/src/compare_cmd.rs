//! `fabricsim compare`: one job over several fabrics (or plans), side by side. The job is read
//! exactly as `train` reads it (`train_cmd::job`, the same flags and scenario file), or is one
//! collective (`--op`, `--size`); each fabric runs it on the same number of accelerators and
//! `fabricsim::compare` assembles the rows with the `topo` report's cost and power.

use crate::train_cmd::{self, JobArgs};
use crate::UserError;
use fabricsim::compare::{self as cmp, CompareError, CompareReport, JobKind};
use std::path::Path;

/// Flags of `fabricsim compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Fabrics to compare, comma separated (presets with parameters or cluster files):
    /// `hpn7-pod,fat-tree:gpus=1024,oversub=3` — a `key=value` piece continues the fabric
    /// before it. Repeatable.
    #[arg(long)]
    pub clusters: Vec<String>,
    /// One more fabric to compare (repeatable; after those of --clusters).
    #[arg(long = "cluster")]
    pub cluster: Vec<String>,
    /// A compare TOML file: `scenario = "job.toml"` (relative to the file), `clusters = [...]`,
    /// and `[[fabric]]` rows (`cluster`, `label`, and plan values tp, pp, dp, cp, ep, vp, mbs,
    /// recompute, zero that differ on that row). Its rows come after the command line's.
    #[arg(long)]
    pub file: Option<String>,
    /// Compare one collective instead of a training step: all_reduce, reduce_scatter,
    /// all_gather, all_to_all, broadcast, reduce, send_recv (ranks: --gpus).
    #[arg(long)]
    pub op: Option<String>,
    /// Message size of --op (bytes, or with K, M, G: powers of 1024; default 1G).
    #[arg(long, requires = "op")]
    pub size: Option<String>,
    /// Power usage effectiveness for facility power, 1.0–3.0 (default: topo's, 1.3).
    #[arg(long)]
    pub pue: Option<f64>,
    /// Years over which capital is spread for tokens per dollar (default 4; tokens/s per M$
    /// does not depend on it).
    #[arg(long)]
    pub amortization_years: Option<f64>,
    /// Print the comparison as JSON (schema_version, rows; units in key names).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the comparison as CSV (one line per fabric; units in column names).
    #[arg(long)]
    pub csv: bool,
    /// Write a self-contained HTML report (inline SVG, no network needed) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<String>,
}

/// One row to run: a fabric and the plan values it changes.
#[derive(Debug, Clone, Default)]
struct RowSpec {
    label: String,
    cluster: String,
    file: Option<cmp::FileRow>,
}

/// Split a `--clusters` list at its commas, except those between the parameters of one preset:
/// a piece with `=` and no `:` continues the fabric before it.
pub fn split_clusters(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for piece in list.split(',') {
        match out.last_mut() {
            Some(prev) if piece.contains('=') && !piece.contains(':') => {
                prev.push(',');
                prev.push_str(piece);
            }
            _ => out.push(piece.to_string()),
        }
    }
    out
}

/// The rows of the command line, then those of the file.
fn rows(a: &CompareArgs, file: Option<&cmp::CompareFile>) -> Vec<RowSpec> {
    let listed: Vec<String> = a.clusters.iter().flat_map(|l| split_clusters(l)).collect();
    let mut out: Vec<RowSpec> = listed
        .iter()
        .chain(a.cluster.iter())
        .chain(file.iter().flat_map(|f| f.clusters.iter()))
        .filter(|c| !c.trim().is_empty())
        .map(|c| RowSpec {
            label: c.trim().to_string(),
            cluster: c.trim().to_string(),
            file: None,
        })
        .collect();
    for r in file.iter().flat_map(|f| f.fabric.iter()) {
        out.push(RowSpec {
            label: r.label.clone().unwrap_or_else(|| r.cluster.clone()),
            cluster: r.cluster.clone(),
            file: Some(r.clone()),
        });
    }
    out
}

/// The job's accelerator count: `--gpus`, or TP × PP × DP × CP when TP, PP and DP are given.
fn job_accelerators(job: &train_cmd::Job) -> Result<u64, UserError> {
    let p = &job.scenario.parallel;
    if let Some(g) = p.gpus {
        return Ok(g as u64);
    }
    match (p.tp, p.pp, p.dp) {
        (Some(tp), Some(pp), Some(dp)) => Ok(tp as u64 * pp as u64 * dp as u64 * p.cp.unwrap_or(1) as u64),
        _ => Err(UserError(
            "compare runs the same job on every fabric, so it needs the job's size: give --gpus N, or --tp, --pp and --dp (or set them in the scenario)".into(),
        )),
    }
}

pub fn run(
    a: CompareArgs,
    load_cluster: impl Fn(&str) -> Result<(fabric::topology::clos::ClusterSpec, fabric::Fabric), UserError>,
) -> Result<u8, UserError> {
    let econ = cmp::Economics::new(a.amortization_years)?;
    let pue = a
        .pue
        .map(fabricsim::topo::Pue::new)
        .transpose()
        .map_err(|e| UserError(format!("--pue: {e}")))?;
    let topo_opts = fabricsim::topo::TopoOptions { pue };
    let file = match &a.file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| UserError(format!("cannot read `{path}`: {e}")))?;
            Some(cmp::parse_file(&text, path).map_err(UserError)?)
        }
        None => None,
    };
    let specs = rows(&a, file.as_ref());
    if specs.is_empty() {
        return Err(CompareError::NoFabrics.into());
    }
    let mut job_args = a.job.clone();
    if let (Some(f), None) = (&file, &job_args.scenario) {
        if let (Some(s), Some(path)) = (&f.scenario, &a.file) {
            let base = Path::new(path).parent().unwrap_or(Path::new(""));
            job_args.scenario = Some(base.join(s).to_string_lossy().into_owned());
        }
    }
    let mut progress = crate::Progress::new("comparing fabrics", "fabrics");
    let report = match &a.op {
        Some(op) => {
            if specs.iter().any(|s| s.file.as_ref().is_some_and(has_plan)) {
                return Err(UserError(
                    "--op: a collective has no plan; [[fabric]] rows of the file may not set tp, pp, … with --op"
                        .into(),
                ));
            }
            collective_report(&a, op, &job_args, &specs, &load_cluster, &topo_opts, &mut progress)?
        }
        None => training_report(&job_args, &specs, &load_cluster, &topo_opts, &econ, &mut progress)?,
    };
    progress.finish();
    if let Some(path) = &a.html {
        crate::html_out::write(path, &fabricsim::html::compare_page(&report))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if a.csv {
        print!("{}", cmp::csv(&report).map_err(UserError)?);
    } else {
        print!("{}", cmp::render(&report));
    }
    Ok(0)
}

fn has_plan(r: &cmp::FileRow) -> bool {
    r.tp.is_some()
        || r.pp.is_some()
        || r.dp.is_some()
        || r.cp.is_some()
        || r.ep.is_some()
        || r.vp.is_some()
        || r.mbs.is_some()
        || r.recompute.is_some()
        || r.zero.is_some()
}

type Loader<'a> = &'a dyn Fn(&str) -> Result<(fabric::topology::clos::ClusterSpec, fabric::Fabric), UserError>;

/// Load a row's fabric, with `--routing` applied, naming the row in errors.
fn load(
    spec: &RowSpec,
    job: &JobArgs,
    load_cluster: Loader,
) -> Result<(fabric::topology::clos::ClusterSpec, fabric::Fabric), UserError> {
    let (cs, mut f) =
        load_cluster(&spec.cluster).map_err(|e| UserError(format!("fabric `{}`: {}", spec.label, e.0)))?;
    job.routing.apply(&mut f)?;
    Ok((cs, f))
}

fn training_report(
    job_args: &JobArgs,
    specs: &[RowSpec],
    load_cluster: Loader,
    topo_opts: &fabricsim::topo::TopoOptions,
    econ: &cmp::Economics,
    progress: &mut crate::Progress,
) -> Result<CompareReport, UserError> {
    let base = train_cmd::job(job_args, None)?;
    let needs = job_accelerators(&base)?;
    // Every fabric is built and checked before any runs, so a bad one fails at once.
    let mut fabrics = Vec::new();
    for spec in specs {
        progress.message(&format!("{}: building", spec.label));
        let (cs, f) = load(spec, job_args, load_cluster)?;
        cmp::share(&spec.label, f.accel_count() as u64, needs)?;
        fabrics.push((cs, f));
    }
    let mut out = Vec::new();
    let mut description = String::new();
    for (i, (spec, (cs, f))) in specs.iter().zip(fabrics).enumerate() {
        progress.set(i, specs.len());
        let mut job = base.clone();
        if let Some(r) = &spec.file {
            let p = &mut job.scenario.parallel;
            for (field, v) in [
                (&mut p.tp, r.tp),
                (&mut p.pp, r.pp),
                (&mut p.dp, r.dp),
                (&mut p.cp, r.cp),
                (&mut p.ep, r.ep),
                (&mut p.vp, r.vp),
            ] {
                if v.is_some() {
                    *field = v;
                }
            }
            if r.mbs.is_some() {
                job.scenario.batch.mbs = r.mbs;
            }
            if r.recompute.is_some() {
                job.scenario.training.recompute = r.recompute.clone();
            }
            if r.zero.is_some() {
                job.scenario.training.zero = r.zero;
            }
        }
        job.scenario.parallel.gpus = Some(needs as u32);
        job.scenario.cluster = Some(spec.cluster.clone());
        let named = |e: UserError| UserError(format!("fabric `{}`: {}", spec.label, e.0));
        let p = train_cmd::prepare_on(&job, &f).map_err(named)?;
        train_cmd::check_memory_on(&job, &p, &f).map_err(named)?;
        progress.message(&format!("{}: simulating one training step", spec.label));
        let r = fabricsim::train::simulate_ordered(&spec.cluster, &f, &job.model, &p.plan, &p.cm, &p.options, p.order)
            .map_err(|e| UserError(format!("fabric `{}`: {e}", spec.label)))?;
        let topo = fabricsim::topo::report(&cs, &f, topo_opts);
        if description.is_empty() {
            description = format!(
                "{} · seq {} · gbs {} · {}",
                r.model, r.plan.seq, r.plan.gbs, r.plan.precision
            );
        }
        out.push(cmp::training_row(&spec.label, &r, &topo, needs, econ)?);
    }
    Ok(CompareReport {
        schema_version: fabricsim::SCHEMA_VERSION,
        job_kind: JobKind::Training,
        job: description,
        fidelity: fabricsim::collective::fidelity_name(base.fidelity).to_string(),
        accelerators: needs,
        amortization_years: econ.amortization_years,
        basis: cmp::basis(JobKind::Training, needs, econ),
        rows: out,
    })
}

fn collective_report(
    a: &CompareArgs,
    op: &str,
    job_args: &JobArgs,
    specs: &[RowSpec],
    load_cluster: Loader,
    topo_opts: &fabricsim::topo::TopoOptions,
    progress: &mut crate::Progress,
) -> Result<CompareReport, UserError> {
    use fabricsim::collective as fc;
    let op: collective::Op = op.parse().map_err(|e| UserError(format!("--op: {e}")))?;
    let size = fc::parse_size(a.size.as_deref().unwrap_or("1G")).map_err(|e| UserError(format!("--size: {e}")))?;
    let needs = job_args
        .gpus
        .ok_or_else(|| UserError("--op: give the collective's ranks with --gpus N (the same on every fabric)".into()))?
        as u64;
    let fidelity = match job_args.fidelity.as_deref().unwrap_or("flow") {
        "flow" => engine::Fidelity::Flow,
        "analytical" => engine::Fidelity::Analytical,
        o => return Err(UserError(format!("--fidelity `{o}`: expected flow or analytical"))),
    };
    let opts = collective::Options {
        fidelity,
        in_network: collective::InNetwork {
            sharp: job_args.sharp == crate::model_flags::Switch::On,
            nvls: job_args.nvls == crate::model_flags::Switch::On,
        },
        ..collective::Options::default()
    };
    let econ = cmp::Economics::new(a.amortization_years)?;
    let mut fabrics = Vec::new();
    for spec in specs {
        progress.message(&format!("{}: building", spec.label));
        let (cs, f) = load(spec, job_args, load_cluster)?;
        cmp::share(&spec.label, f.accel_count() as u64, needs)?;
        fabrics.push((cs, f));
    }
    let mut out = Vec::new();
    for (i, (spec, (cs, f))) in specs.iter().zip(fabrics).enumerate() {
        progress.set(i, specs.len());
        progress.message(&format!("{}: simulating {}", spec.label, op.name()));
        let in_fabric = f.accel_count() as u64;
        let named = |e: String| UserError(format!("fabric `{}`: {e}", spec.label));
        let placement = fc::Placement::Packed;
        let ranks = fc::place(&f, needs as u32, &placement).map_err(named)?;
        collective::plan::check_group(&f, &ranks).map_err(|e| named(e.to_string()))?;
        let limit = crate::max_memory(job_args.max_memory.as_deref())?;
        let (est, largest) = fc::estimate_memory(&f, &ranks, op, None, opts).map_err(named)?;
        crate::check_memory(&est, &largest, limit).map_err(|e| named(e.0))?;
        let sizes = [size];
        let req = fc::Request {
            cluster: &spec.cluster,
            op,
            ranks: &ranks,
            sizes: &sizes,
            algo: None,
            opts,
            placement: &placement,
        };
        let r = fc::run(&f, &req).map_err(|e| named(e.to_string()))?;
        let topo = fabricsim::topo::report(&cs, &f, topo_opts);
        out.push(cmp::collective_row(&spec.label, &r, &topo, in_fabric, needs)?);
    }
    Ok(CompareReport {
        schema_version: fabricsim::SCHEMA_VERSION,
        job_kind: JobKind::Collective,
        job: format!("{} of {} over {needs} ranks", op.name(), units::si(size, "B")),
        fidelity: fc::fidelity_name(fidelity).to_string(),
        accelerators: needs,
        amortization_years: econ.amortization_years,
        basis: cmp::basis(JobKind::Collective, needs, &econ),
        rows: out,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn clusters_split_between_fabrics_not_between_parameters() {
        let check = |list: &str, want: &[&str]| assert_eq!(super::split_clusters(list), want, "{list}");
        check("a,b", &["a", "b"]);
        check(
            "hpn7-pod,fat-tree:gpus=15360,oversub=3,rail-only:gpus=64",
            &["hpn7-pod", "fat-tree:gpus=15360,oversub=3", "rail-only:gpus=64"],
        );
        check(
            "x.toml:gpus=8,tiers=2,meta-roce-24k",
            &["x.toml:gpus=8,tiers=2", "meta-roce-24k"],
        );
    }
}
