//! `fabricsim plan`: flags, the search (`fabricsim::plan`), and its rendering (text table,
//! JSON, scenario files and launch arguments).

use crate::UserError;
use engine::Fidelity;
use fabricsim::plan::{self, launch, Constraints, Job, Outcome, SearchOptions};
use std::fmt::Write;

/// Flags of `fabricsim plan`.
#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Cluster: preset with parameters or a cluster TOML file.
    #[arg(long)]
    pub cluster: String,
    /// Model: registry name or alias, or a Hugging Face config.json path.
    #[arg(long)]
    pub model: String,
    /// Accelerators the plan uses (default: the whole cluster).
    #[arg(long)]
    pub gpus: Option<u64>,
    /// Sequence length in tokens (default 4096).
    #[arg(long)]
    pub seq: Option<u64>,
    /// Global batch size in sequences.
    #[arg(long, conflicts_with = "gbs_tokens")]
    pub gbs: Option<u32>,
    /// Global batch size in tokens (a multiple of --seq).
    #[arg(long)]
    pub gbs_tokens: Option<u64>,
    /// bf16 or fp8.
    #[arg(long)]
    pub precision: Option<String>,
    /// megatron, torchtitan, torchtitan-compile or maxtext (default: maxtext on TPUs, megatron
    /// elsewhere): its kernels price the step, its plan space and launch arguments are used.
    #[arg(long)]
    pub framework: Option<String>,
    /// Largest tensor-parallel size searched (default: twice the scale-up domain).
    #[arg(long)]
    pub max_tp: Option<u32>,
    /// Keep a value fixed: tp, pp, dp, cp, ep, vp, mbs, zero, recompute or order, as KEY=VALUE;
    /// repeat the flag or separate with commas (`--fix tp=8,pp=16`).
    #[arg(long)]
    pub fix: Vec<String>,
    /// Plans to print.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Candidates re-ranked at the final fidelity (the best by analytical step time).
    #[arg(long, default_value_t = 8)]
    pub rerank: usize,
    /// Fidelity of the final ranking: flow (default) or analytical.
    #[arg(long, default_value = "flow")]
    pub fidelity: String,
    /// Simulate every candidate that fits at the final fidelity, without pruning (slow; for
    /// checking the pruned search on small clusters).
    #[arg(long)]
    pub exhaustive: bool,
    /// Megatron --tp-comm-overlap in every plan.
    #[arg(long)]
    pub tp_comm_overlap: bool,
    /// Print the result as JSON (schema_version, plans best first, rejected families).
    #[arg(long)]
    pub json: bool,
    /// Write plan-1.toml, plan-2.toml, … (scenario files `fabricsim train` runs) and
    /// plan-N.launch.txt (the framework's arguments) into this directory.
    #[arg(long)]
    pub out_dir: Option<String>,
    /// Write a self-contained HTML report (inline SVG, no network needed): the top plans' step
    /// breakdowns, stacked.
    #[arg(long, value_name = "FILE")]
    pub html: Option<String>,
}

/// Run `fabricsim plan`.
pub fn run(a: PlanArgs, load_cluster: impl Fn(&str) -> Result<fabric::Fabric, UserError>) -> Result<u8, UserError> {
    if crate::mixed_cmd::spec_of(&a.cluster)?.is_some() {
        return Err(UserError(format!(
            "--cluster `{c}`: `plan` does not search plans over a mixed-accelerator cluster (pools of different accelerators); fix a plan and compare pool ratios and balancing with `fabricsim train --cluster {c} --model {m} --tp T --pp P --gbs G --mixed-sweep 0.25,0.5,0.75`, or a `fabricsim sweep` grid with mixed clusters (examples/sweep-mixed.toml), or run `plan` on each pool's cluster alone",
            c = a.cluster,
            m = a.model
        )));
    }
    let f = load_cluster(&a.cluster)?;
    let model = crate::train_cmd::model_arg(&a.model)?;
    let (cm, framework) = crate::train_cmd::compute_model(&f, a.framework.as_deref())?;
    let seq = a.seq.unwrap_or(fabricsim::scenario::DEFAULT_SEQ);
    if seq == 0 {
        return Err(UserError("--seq 0: must be at least 1".into()));
    }
    let gbs = match (a.gbs, a.gbs_tokens) {
        (Some(0), _) => return Err(UserError("--gbs 0: must be at least 1".into())),
        (Some(g), _) => g,
        (None, Some(t)) => {
            if t == 0 || t % seq != 0 {
                return Err(UserError(format!(
                    "--gbs-tokens {t}: must be a positive multiple of the sequence length {seq}"
                )));
            }
            u32::try_from(t / seq).map_err(|_| UserError(format!("--gbs-tokens {t}: too many sequences")))?
        }
        (None, None) => {
            return Err(UserError(
                "give the global batch: --gbs SEQUENCES or --gbs-tokens TOKENS (the plan search keeps it fixed)".into(),
            ))
        }
    };
    let precision = fabricsim::scenario::precision(a.precision.as_deref().unwrap_or("bf16")).map_err(UserError)?;
    let fidelity = match a.fidelity.as_str() {
        "flow" => Fidelity::Flow,
        "analytical" => Fidelity::Analytical,
        o => return Err(UserError(format!("--fidelity `{o}`: expected flow or analytical"))),
    };
    let accelerators = a.gpus.unwrap_or(f.accel_count() as u64);
    if accelerators == 0 || accelerators > f.accel_count() as u64 {
        return Err(UserError(format!(
            "--gpus {accelerators}: the cluster has {} accelerators",
            f.accel_count()
        )));
    }
    let mut cons = Constraints {
        max_tp: a.max_tp,
        ..Default::default()
    };
    if a.max_tp == Some(0) {
        return Err(UserError("--max-tp 0: must be at least 1".into()));
    }
    for item in &a.fix {
        cons.fix(item).map_err(UserError)?;
    }
    if a.top == 0 {
        return Err(UserError("--top 0: must be at least 1".into()));
    }
    let registry_name = (!a.model.ends_with(".json")).then(|| a.model.clone());
    let job = Job {
        cluster: a.cluster.clone(),
        fabric: f,
        model,
        model_name: registry_name,
        cm,
        framework,
        accelerators,
        seq,
        gbs,
        precision,
        sequence_parallel: true,
        tp_comm_overlap: a.tp_comm_overlap,
        in_network: collective::InNetwork::default(),
    };
    let opts = SearchOptions {
        top: a.top,
        rerank: a.rerank.max(a.top),
        fidelity,
        exhaustive: a.exhaustive,
        ..Default::default()
    };
    let progress = std::sync::Mutex::new(crate::Progress::new("searching plans", "candidates"));
    let out = plan::search(&job, &cons, &opts, &|phase, done, total| {
        if let Ok(mut p) = progress.lock() {
            p.message(phase);
            p.set(done, total);
        }
    });
    if let Ok(p) = progress.into_inner() {
        p.finish();
    }
    let out = out.map_err(UserError)?;
    if let Some(dir) = &a.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| UserError(format!("--out-dir `{dir}`: {e}")))?;
        for (i, r) in out.ranked.iter().enumerate() {
            let n = i + 1;
            let toml = plan::report::scenario_of(&job, &out, i);
            let path = std::path::Path::new(dir).join(format!("plan-{n}.toml"));
            std::fs::write(&path, toml).map_err(|e| UserError(format!("cannot write `{}`: {e}", path.display())))?;
            let l = launch::launch(&job, &r.candidate);
            let mut text = l.args.clone();
            text.push('\n');
            for note in &l.notes {
                text.push_str(&format!("# note: {note}\n"));
            }
            let path = std::path::Path::new(dir).join(format!("plan-{n}.launch.txt"));
            std::fs::write(&path, text).map_err(|e| UserError(format!("cannot write `{}`: {e}", path.display())))?;
        }
    }
    if let Some(path) = &a.html {
        crate::html_out::write(path, &fabricsim::html::plan_page(&job, &out))?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan::report::json(&job, &cons, &out))?
        );
    } else {
        print!("{}", render(&job, &cons, &out));
    }
    Ok(0)
}

fn gib(b: f64) -> String {
    format!("{:.1} GiB", b / 1073741824.0)
}

/// The text report: the search's counts, the top plans, the best plan's step, its launch
/// arguments, and why each rejected family loses.
pub fn render(job: &Job, cons: &Constraints, out: &Outcome) -> String {
    let mut s = String::new();
    let best = &out.ranked[0];
    let st = &out.stats;
    let _ = writeln!(
        s,
        "plan     {} on {} · {} × {} · seq {} · GBS {} · {} · {}{}",
        job.model.name,
        job.cluster,
        job.accelerators,
        best.report.accelerator,
        job.seq,
        job.gbs,
        format!("{:?}", job.precision).to_uppercase(),
        job.framework.name(),
        cons.describe()
    );
    let _ = writeln!(
        s,
        "searched {} candidates: {} not valid, {} do not fit, {} recompute more than they need, {} too big to simulate, {} pruned by the lower bound; {} simulated analytically, {} at {} fidelity{}",
        st.candidates,
        st.invalid,
        st.over_memory,
        st.dominated,
        st.too_big_to_simulate,
        st.pruned_by_bound,
        st.evaluated_analytical,
        st.evaluated_rerank,
        best.report.fidelity,
        if st.failed > 0 { format!(", {} failed", st.failed) } else { String::new() }
    );
    s.push('\n');
    let w = out
        .ranked
        .iter()
        .map(|r| r.candidate.label().chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        s,
        "{:>3}  {:<w$}  {:>9}  {:>6}  {:>10}  fidelity",
        "#", "plan", "step", "MFU", "memory"
    );
    for (i, r) in out.ranked.iter().enumerate() {
        let _ = writeln!(
            s,
            "{:>3}  {:<w$}  {:>9}  {:>5.1}%  {:>10}  {}",
            i + 1,
            r.candidate.label(),
            units::si(r.report.step_time_s, "s"),
            r.report.mfu * 100.0,
            gib(r.report.memory_bytes_per_accel),
            r.report.fidelity
        );
    }
    let b = &best.report.breakdown;
    let mut parts = vec![format!("compute {}", units::si(b.compute_s, "s"))];
    for (name, v) in [
        ("recompute", b.recompute_s),
        ("bubble", b.pipeline_bubble_s),
        ("TP", b.tp_comm_s),
        ("CP", b.cp_comm_s),
        ("EP", b.ep_comm_s),
        ("PP", b.pp_comm_s),
        ("DP", b.dp_comm_s),
    ] {
        if v > 1e-9 {
            parts.push(format!("{name} {}", units::si(v, "s")));
        }
    }
    let _ = writeln!(
        s,
        "\nplan 1   {} (exposed communication by dimension; lower bound {})",
        parts.join(" · "),
        units::si(best.bound.step_s, "s")
    );
    let l = launch::launch(job, &best.candidate);
    let _ = writeln!(s, "launch   {} ({}):", l.framework, l.format.replace('_', " "));
    for line in l.args.lines() {
        let _ = writeln!(s, "  {line}");
    }
    for n in &l.notes {
        let _ = writeln!(s, "  note: {n}");
    }
    let _ = writeln!(
        s,
        "rerun    `fabricsim train plan-1.toml` (written by --out-dir; --json carries it as scenario_toml)"
    );
    if !out.rejected.is_empty() {
        let _ = writeln!(s, "\nrejected families (why each loses against plan 1)");
        let fw = out.rejected.iter().map(|r| r.family.chars().count()).max().unwrap_or(0);
        for r in &out.rejected {
            let _ = writeln!(s, "  {:<fw$}  {}", r.family, r.reason);
        }
    }
    s
}
