//! The `fabricsim` command line: argument parsing, files, output formats. All modelling lives in
//! the library crates.

use clap::{Parser, Subcommand};
use fabricsim::cluster::{self, Source};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "fabricsim", version, about = "Simulator and planner for AI supercomputer fabrics")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the built-in cluster presets.
    Presets {
        #[arg(long)]
        json: bool,
    },
    /// Summarise a cluster: tiers, counts, bandwidths, bisection, bill of materials, power, cost.
    Topo {
        /// A preset with parameters (`NAME:key=value,...`) or a path to a cluster TOML file
        /// (`FILE.toml[:key=value,...]`).
        spec: String,
        #[arg(long)]
        json: bool,
    },
}

/// A user-facing failure: message and exit code 2.
struct UserError(String);

impl<E: std::fmt::Display> From<E> for UserError {
    fn from(e: E) -> Self {
        UserError(e.to_string())
    }
}

fn load_cluster(spec: &str) -> Result<(fabric::topology::clos::ClusterSpec, fabric::Fabric), UserError> {
    if cluster::looks_like_path(spec) {
        let (path, overrides) = match spec.split_once(".toml:") {
            Some((p, o)) => (format!("{p}.toml"), o.to_string()),
            None => (spec.to_string(), String::new()),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| UserError(format!("cannot read cluster file `{path}`: {e}")))?;
        Ok(cluster::load(Source::File { path: &path, text: &text, overrides: &overrides })?)
    } else {
        Ok(cluster::load(Source::Preset(spec))?)
    }
}

fn run(cli: Cli) -> Result<(), UserError> {
    match cli.cmd {
        Cmd::Presets { json } => {
            let list = fabric::presets::list();
            if json {
                let rows: Vec<serde_json::Value> =
                    list.iter().map(|(n, d)| serde_json::json!({ "name": n, "description": d })).collect();
                let out = serde_json::json!({ "schema_version": fabricsim::SCHEMA_VERSION, "presets": rows });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let w = list.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
                for (n, d) in list {
                    println!("{n:<w$}  {d}");
                }
            }
        }
        Cmd::Topo { spec, json } => {
            let (cs, f) = load_cluster(&spec)?;
            let r = fabricsim::topo::report(&cs, &f);
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", fabricsim::topo::render(&r));
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(UserError(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
    }
}
