//! `fabricsim._native`: the Rust side of the Python package. Each function is a thin wrapper
//! over one library function of `fabricsim` (`job::topo`, `job::collective`, `job::train`,
//! `sweep::run`, `sweep::merge`): inputs come as the JSON of the library's input struct, results
//! go back as the JSON the CLI prints with `--json` (the Python side parses both); `plan` wraps
//! `plan::search` and `plan::report::json`. A new command is one more such wrapper here and one
//! more function in `python/fabricsim/__init__.py`.
//!
//! This crate is an outer room: it reads files (cluster TOML files named by a spec), the
//! library does not.

use fabric::topology::clos::ClusterSpec;
use fabric::Fabric;
use fabricsim::cluster::{self, Source};
use fabricsim::job;
use fabricsim::sweep::{self, Grid, Shard};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A cluster from a preset spec or a cluster TOML file (`FILE.toml[:key=value,...]`), as the
/// CLI's `--cluster` takes it.
fn load(spec: &str) -> Result<(ClusterSpec, Fabric), String> {
    if cluster::looks_like_path(spec) {
        let (path, overrides) = match spec.split_once(".toml:") {
            Some((p, o)) => (format!("{p}.toml"), o.to_string()),
            None => (spec.to_string(), String::new()),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read cluster file `{path}`: {e}"))?;
        cluster::load(Source::File {
            path: &path,
            text: &text,
            overrides: &overrides,
        })
        .map_err(|e| e.to_string())
    } else {
        cluster::load(Source::Preset(spec)).map_err(|e| e.to_string())
    }
}

fn user_error(e: String) -> PyErr {
    PyValueError::new_err(e)
}

/// The library's input struct from its JSON; an unknown or ill-typed key is named.
fn inputs<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> PyResult<T> {
    serde_json::from_str(json).map_err(|e| user_error(format!("{what}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| user_error(e.to_string()))
}

/// `fabricsim serve --json` (inputs: `serve::inputs::ServeInputs` as JSON — the keys of a serve
/// scenario TOML; the trace CSV's text when `trace` names one).
#[pyfunction]
#[pyo3(signature = (inputs_json, trace_text=None))]
fn serve_json(py: Python<'_>, inputs_json: &str, trace_text: Option<&str>) -> PyResult<String> {
    let x: fabricsim::serve::inputs::ServeInputs = inputs(inputs_json, "serve")?;
    let r = py
        .allow_threads(|| -> Result<_, String> {
            let s = x.scenario_from_registry(trace_text)?;
            let (_, f) = load(&s.cluster)?;
            let mut r = fabricsim::serve::run(&s, &f)?;
            // As the CLI: the energy keys at the default power options (none without a TDP).
            r.energy = fabricsim::power::serve_energy(&r, &f, &fabricsim::power::PowerOptions::default()).ok();
            Ok(r)
        })
        .map_err(user_error)?;
    to_json(&r)
}

/// `fabricsim topo --json` (inputs: `job::TopoInputs` as JSON).
#[pyfunction]
fn topo_json(py: Python<'_>, inputs_json: &str) -> PyResult<String> {
    let x: job::TopoInputs = inputs(inputs_json, "topo")?;
    let r = py.allow_threads(|| job::topo(&x, &load)).map_err(user_error)?;
    to_json(&r)
}

/// `fabricsim collective --json` (inputs: `job::CollectiveInputs` as JSON).
#[pyfunction]
fn collective_json(py: Python<'_>, inputs_json: &str) -> PyResult<String> {
    let x: job::CollectiveInputs = inputs(inputs_json, "collective")?;
    let r = py.allow_threads(|| job::collective(&x, &load)).map_err(user_error)?;
    to_json(&r)
}

/// `fabricsim train [SCENARIO] --json` (inputs: `job::TrainInputs` as JSON; the scenario file's
/// text and name, if any).
#[pyfunction]
#[pyo3(signature = (inputs_json, scenario_text=None, scenario_name=None))]
fn train_json(
    py: Python<'_>,
    inputs_json: &str,
    scenario_text: Option<&str>,
    scenario_name: Option<&str>,
) -> PyResult<String> {
    let x: job::TrainInputs = inputs(inputs_json, "train")?;
    let sc = scenario_text.map(|text| job::ScenarioText {
        text,
        name: scenario_name.unwrap_or("scenario"),
    });
    let r = py.allow_threads(|| job::train(sc, &x, &load)).map_err(user_error)?;
    to_json(&r)
}

/// The cluster files a grid names (`sweep::read_cluster_files`): the texts in `given` (path →
/// text, e.g. read on a Ray driver and shipped to the workers), the others read from the
/// working directory as the CLI reads them.
fn grid_files(
    grid_text: &str,
    grid_name: &str,
    given: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<sweep::ClusterFiles> {
    let given = given.unwrap_or_default();
    sweep::read_cluster_files(grid_text, grid_name, &mut |path| match given.get(path) {
        Some(text) => Ok(text.clone()),
        None => std::fs::read_to_string(path).map_err(|e| e.to_string()),
    })
    .map_err(user_error)
}

/// The cluster files a grid names that can be read from the working directory, path → text
/// (what `ray_sweep` ships to its workers with the grid's text).
#[pyfunction]
fn grid_cluster_files(grid_text: &str, grid_name: &str) -> PyResult<std::collections::BTreeMap<String, String>> {
    Ok(grid_files(grid_text, grid_name, None)?
        .into_iter()
        .filter_map(|(path, text)| text.ok().map(|t| (path, t)))
        .collect())
}

/// The exact text `fabricsim sweep FILE [--shard i/n] [--json]` writes, from the grid file's
/// text and name, on `threads` threads (default: every core). `files`: texts of cluster files
/// the grid names (path → text); the others are read from the working directory.
#[pyfunction]
#[pyo3(signature = (grid_text, grid_name, shard=None, json=false, threads=None, files=None))]
fn sweep_text(
    py: Python<'_>,
    grid_text: &str,
    grid_name: &str,
    shard: Option<&str>,
    json: bool,
    threads: Option<usize>,
    files: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<String> {
    let grid = Grid::parse_with(grid_text, grid_name, &grid_files(grid_text, grid_name, files)?).map_err(user_error)?;
    let shard = match shard {
        Some(s) => Shard::parse(s).map_err(|e| user_error(format!("shard {e}")))?,
        None => Shard::ALL,
    };
    py.allow_threads(|| {
        let go = || {
            let r = sweep::run(&grid, shard, &load, &|_, _| {});
            if json {
                Ok(sweep::to_json(&r))
            } else {
                sweep::to_csv(&r)
            }
        };
        match threads {
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| e.to_string())?
                .install(go),
            None => go(),
        }
    })
    .map_err(user_error)
}

/// Points of a grid and its fingerprint (what `fabricsim sweep --count` prints); `files` as
/// for [`sweep_text`].
#[pyfunction]
#[pyo3(signature = (grid_text, grid_name, files=None))]
fn grid_points(
    grid_text: &str,
    grid_name: &str,
    files: Option<std::collections::BTreeMap<String, String>>,
) -> PyResult<(usize, String)> {
    let grid = Grid::parse_with(grid_text, grid_name, &grid_files(grid_text, grid_name, files)?).map_err(user_error)?;
    Ok((grid.points.len(), grid.fingerprint))
}

/// `fabricsim merge`: the shares' texts (with names for messages) joined into the unsharded
/// run's text.
#[pyfunction]
fn merge_texts(names: Vec<String>, texts: Vec<String>) -> PyResult<String> {
    if names.len() != texts.len() {
        return Err(user_error(format!("{} names for {} texts", names.len(), texts.len())));
    }
    let shares: Vec<sweep::Share> = names
        .iter()
        .zip(&texts)
        .map(|(name, text)| sweep::Share { name, text })
        .collect();
    sweep::merge(&shares).map_err(|e| user_error(format!("merge: {e}")))
}

/// A size in bytes from `8`, `64K`, `1M`, `2G` (powers of 1024), as `--size` takes it.
#[pyfunction]
fn parse_size(s: &str) -> PyResult<f64> {
    fabricsim::collective::parse_size(s).map_err(user_error)
}

/// `fabricsim plan --cluster PRESET --model M --seq S --gbs B [--framework F] [--gpus N]
/// [--fix k=v ...] [--max-tp T] [--top K] [--fidelity F] [--precision P] --json`: the same search and
/// the same JSON document (presets and registry models only).
#[pyfunction]
#[pyo3(signature = (cluster, model, seq, gbs, framework=None, gpus=None, fix=Vec::new(), max_tp=None, top=5, fidelity="flow", precision=None))]
#[allow(clippy::too_many_arguments)]
fn plan_json(
    py: Python<'_>,
    cluster: &str,
    model: &str,
    seq: u64,
    gbs: u32,
    framework: Option<&str>,
    gpus: Option<u64>,
    fix: Vec<String>,
    max_tp: Option<u32>,
    top: usize,
    fidelity: &str,
    precision: Option<&str>,
) -> PyResult<String> {
    use fabricsim::plan::{self, Constraints, Job, SearchOptions};
    let mut job = Job::for_preset(cluster, model, seq, gbs, framework).map_err(user_error)?;
    if let Some(n) = gpus {
        if n == 0 || n > job.fabric.accel_count() as u64 {
            return Err(user_error(format!(
                "gpus {n}: the cluster has {} accelerators",
                job.fabric.accel_count()
            )));
        }
        job.accelerators = n;
    }
    if let Some(p) = precision {
        job.precision = fabricsim::scenario::precision(p).map_err(user_error)?;
    }
    let mut cons = Constraints {
        max_tp,
        ..Default::default()
    };
    for item in &fix {
        cons.fix(item).map_err(user_error)?;
    }
    if top == 0 {
        return Err(user_error("top 0: must be at least 1".into()));
    }
    let mut opts = SearchOptions {
        top,
        rerank: top.max(8),
        ..Default::default()
    };
    opts.fidelity = match fidelity {
        "flow" => opts.fidelity,
        "analytical" => engine::Fidelity::Analytical,
        o => return Err(user_error(format!("fidelity `{o}`: expected flow or analytical"))),
    };
    let out = py
        .allow_threads(|| plan::search(&job, &cons, &opts, &|_, _, _| {}))
        .map_err(user_error)?;
    to_json(&plan::report::json(&job, &cons, &out))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(topo_json, m)?)?;
    m.add_function(wrap_pyfunction!(collective_json, m)?)?;
    m.add_function(wrap_pyfunction!(train_json, m)?)?;
    m.add_function(wrap_pyfunction!(serve_json, m)?)?;
    m.add_function(wrap_pyfunction!(plan_json, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_text, m)?)?;
    m.add_function(wrap_pyfunction!(grid_points, m)?)?;
    m.add_function(wrap_pyfunction!(grid_cluster_files, m)?)?;
    m.add_function(wrap_pyfunction!(merge_texts, m)?)?;
    m.add_function(wrap_pyfunction!(parse_size, m)?)?;
    m.add("SCHEMA_VERSION", fabricsim::SCHEMA_VERSION)?;
    Ok(())
}
