//! `fabricsim sweep` and `fabricsim merge`: files in and out around `fabricsim::sweep`.

use crate::UserError;
use fabricsim::sweep::{self, Grid, Shard};

/// Flags of `fabricsim sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The grid file (TOML: `[[train]]` and `[[collective]]` tables; see examples/sweep.toml).
    /// Cluster files it names are read from the working directory.
    pub file: String,
    /// Run only share INDEX of COUNT: the points whose number ≡ INDEX (mod COUNT), 0-based
    /// (`--shard $SLURM_ARRAY_TASK_ID/$N`, `--shard $JOB_COMPLETION_INDEX/$N`). Join the shares
    /// with `fabricsim merge`.
    #[arg(long, value_name = "INDEX/COUNT")]
    pub shard: Option<String>,
    /// Write JSON (one row per point under `rows`) instead of CSV.
    #[arg(long)]
    pub json: bool,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<String>,
    /// Only list the number of points (and of this share's) and the grid's fingerprint.
    #[arg(long)]
    pub count: bool,
    /// Write a self-contained HTML report (inline SVG, no network needed) to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<String>,
}

/// Flags of `fabricsim merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The outputs of every shard of one sweep (all CSV or all JSON, any order).
    #[arg(required = true)]
    pub files: Vec<String>,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<String>,
}

/// Build a cluster from a SPEC, reading cluster TOML files (the CLI's loader).
fn load(spec: &str) -> Result<(fabric::topology::clos::ClusterSpec, fabric::Fabric), String> {
    crate::load_cluster(spec).map_err(|UserError(m)| m)
}

/// Read the cluster files the grid names (relative paths from the working directory, as the
/// loader reads them): a file with `[[pool]]` tables is a mixed-accelerator cluster, which the
/// library expands into points (its content in the fingerprint). A file that cannot be read
/// goes in as its error: the library says which field named it, where that matters.
fn cluster_files(text: &str, name: &str) -> Result<sweep::ClusterFiles, UserError> {
    sweep::read_cluster_files(text, name, &mut |path| {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    })
    .map_err(UserError)
}

fn write(output: Option<&str>, text: &str) -> Result<(), UserError> {
    match output {
        // Written whole then renamed, so a merge waiting for the shares never reads half a file.
        Some(path) => {
            let tmp = format!("{path}.partial");
            std::fs::write(&tmp, text)
                .and_then(|_| std::fs::rename(&tmp, path))
                .map_err(|e| UserError(format!("cannot write `{path}`: {e}")))
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| UserError(format!("cannot write the output: {e}")))
        }
    }
}

pub fn run_sweep(a: SweepArgs) -> Result<u8, UserError> {
    let text =
        std::fs::read_to_string(&a.file).map_err(|e| UserError(format!("cannot read grid file `{}`: {e}", a.file)))?;
    let grid = Grid::parse_with(&text, &a.file, &cluster_files(&text, &a.file)?).map_err(UserError)?;
    let shard = match &a.shard {
        Some(s) => Shard::parse(s).map_err(|e| UserError(format!("--shard {e}")))?,
        None => Shard::ALL,
    };
    if a.count {
        let mine = grid.points.iter().filter(|p| shard.holds(p.index)).count();
        println!(
            "{} points (grid fingerprint {}); shard {}/{} holds {mine}",
            grid.points.len(),
            grid.fingerprint,
            shard.index,
            shard.count
        );
        return Ok(0);
    }
    let mut progress = crate::Progress::new(&format!("sweeping {}", a.file), "points");
    // The bar is drawn from whichever thread finishes a point.
    let bar = std::sync::Mutex::new(&mut progress);
    let report = sweep::run(&grid, shard, &load, &|done, total| {
        if let Ok(mut b) = bar.lock() {
            b.set(done, total);
        }
    });
    progress.finish();
    if let Some(path) = &a.html {
        crate::html_out::write(path, &fabricsim::html::sweep_page(&report))?;
    }
    let out = if a.json {
        sweep::to_json(&report)
    } else {
        sweep::to_csv(&report).map_err(UserError)?
    };
    write(a.output.as_deref(), &out)?;
    let failed = report.errors();
    if failed > 0 {
        eprintln!(
            "note: {failed} of {} points have an error (the `error` column says why)",
            report.rows.len()
        );
    }
    Ok(0)
}

pub fn run_merge(a: MergeArgs) -> Result<u8, UserError> {
    let texts = a
        .files
        .iter()
        .map(|f| std::fs::read_to_string(f).map_err(|e| UserError(format!("cannot read shard output `{f}`: {e}"))))
        .collect::<Result<Vec<String>, UserError>>()?;
    let shares: Vec<sweep::Share> = a
        .files
        .iter()
        .zip(&texts)
        .map(|(name, text)| sweep::Share { name, text })
        .collect();
    let merged = sweep::merge(&shares).map_err(|e| UserError(format!("merge: {e}")))?;
    write(a.output.as_deref(), &merged)?;
    Ok(0)
}
