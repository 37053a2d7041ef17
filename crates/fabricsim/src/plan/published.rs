//! `fabricsim validate --planner`: the planner against the plans people published. Every
//! training row that states its own layout (TP and PP in the row) becomes its scenario exactly
//! as `validate --training` builds it ([`crate::validate_training::row_scenarios`]: cluster,
//! model, framework, era, batch); the planner searches that job (same accelerators, sequence,
//! global batch, precision, sequence parallelism and TP overlap) and its best plan is compared
//! with the published plan, both simulated by the same model at the same fidelity. The planner
//! should never lose where the published plan fits in memory under fabricsim's memory model.

use super::{Constraints, Job, SearchOptions};
use crate::train::{self, TrainOptions};
use serde::Serialize;

/// One row of the comparison.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannerRow {
    pub row_id: String,
    /// "model on N × accelerator".
    pub run: String,
    pub cluster: String,
    /// The published plan in one line, and its simulated step.
    pub published_plan: String,
    pub published_step_time_s: f64,
    /// Whether the published plan fits in HBM under fabricsim's memory model (the planner only
    /// proposes plans that do).
    pub published_fits: bool,
    pub planner_plan: String,
    pub planner_step_time_s: f64,
    /// Planner ÷ published step time (≤ 1: the planner's plan is at least as fast).
    pub ratio: f64,
    pub fidelity: String,
    /// Candidates simulated (analytical + re-ranked).
    pub evaluated: usize,
}

impl PlannerRow {
    /// Whether the planner lost to a published plan that fits.
    pub fn planner_loses(&self) -> bool {
        self.published_fits && self.planner_step_time_s > self.published_step_time_s * (1.0 + 1e-9)
    }
}

/// The comparison over the rows of training CSV `text` whose id is in `only` (all when
/// `None`). Rows that do not state their layout, TPU rows and rows that cannot be built are
/// returned as `(row_id, reason)`.
pub fn compare(
    text: &str,
    only: Option<&[&str]>,
    opts: &SearchOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> (Vec<PlannerRow>, Vec<(String, String)>) {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let scenarios: Vec<_> = crate::validate_training::row_scenarios(text)
        .into_iter()
        .filter(|(id, _)| only.is_none_or(|o| o.contains(&id.as_str())))
        .collect();
    let total = scenarios.len();
    for (i, (id, sc)) in scenarios.into_iter().enumerate() {
        progress(i, total);
        let sc = match sc {
            Ok(sc) if sc.layout_stated => sc,
            Ok(_) => {
                skipped.push((id, "the row does not state its layout (TP and PP)".into()));
                continue;
            }
            Err(e) => {
                skipped.push((id, e));
                continue;
            }
        };
        match one(&id, sc, opts) {
            Ok(r) => rows.push(r),
            Err(e) => skipped.push((id, e)),
        }
    }
    progress(total, total);
    (rows, skipped)
}

fn one(id: &str, sc: crate::validate_training::RowScenario, opts: &SearchOptions) -> Result<PlannerRow, String> {
    let p = sc.plan.clone();
    let job = Job {
        cluster: sc.spec.clone(),
        fabric: sc.fabric,
        model: sc.model,
        model_name: None,
        framework: sc.cm.framework.framework,
        cm: sc.cm,
        accelerators: p.world(),
        seq: p.seq,
        gbs: p.gbs,
        precision: p.precision,
        // The row's era: sequence parallelism with TP unless the row ran without it.
        sequence_parallel: if p.tp > 1 { p.sequence_parallel } else { true },
        tp_comm_overlap: p.tp_comm_overlap,
        in_network: collective::InNetwork::default(),
    };
    let fidelity = opts.fidelity;
    let published = train::simulate(
        &job.cluster,
        &job.fabric,
        &job.model,
        &p,
        &job.cm,
        &TrainOptions {
            fidelity,
            allow_oom: true,
            full: false,
            in_network: job.in_network,
            moe_imbalance: 1.0,
            cross_site: Default::default(),
        },
    )?;
    let out = super::search(&job, &Constraints::default(), opts, &|_, _, _| {})?;
    let best = &out.ranked[0];
    let label = super::Candidate {
        plan: p.clone(),
        order: train::DEFAULT_ORDER,
        mesh: None,
    }
    .label();
    Ok(PlannerRow {
        row_id: id.into(),
        run: format!("{} on {} × {}", sc.model_name, sc.accelerators, sc.accelerator),
        cluster: job.cluster.clone(),
        published_plan: label,
        published_step_time_s: published.step_time_s,
        published_fits: published.fits,
        planner_plan: best.candidate.label(),
        planner_step_time_s: best.report.step_time_s,
        ratio: best.report.step_time_s / published.step_time_s,
        fidelity: published.fidelity.clone(),
        evaluated: out.stats.evaluated_analytical + out.stats.evaluated_rerank,
    })
}

/// The comparison as a text table, with a last line that counts the losses.
pub fn render(rows: &[PlannerRow], skipped: &[(String, String)]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:<34} {:<58} {:>9}  {:<58} {:>9} {:>7}",
        "row", "run", "published plan", "step", "planner's best", "step", "ratio"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<6} {:<34} {:<58} {:>9}  {:<58} {:>9} {:>7.3}{}",
            r.row_id,
            r.run.chars().take(34).collect::<String>(),
            r.published_plan,
            units::si(r.published_step_time_s, "s"),
            r.planner_plan,
            units::si(r.planner_step_time_s, "s"),
            r.ratio,
            if r.published_fits {
                ""
            } else {
                "  (published plan does not fit)"
            }
        );
    }
    for (id, why) in skipped {
        let _ = writeln!(s, "{id:<6} skipped: {why}");
    }
    let losses = rows.iter().filter(|r| r.planner_loses()).count();
    let ratios: Vec<f64> = rows.iter().filter(|r| r.published_fits).map(|r| r.ratio).collect();
    let geo = if ratios.is_empty() {
        1.0
    } else {
        (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp()
    };
    let _ = writeln!(
        s,
        "{} rows planned ({} skipped); the planner loses to a published plan that fits on {}; geometric mean ratio {:.3}",
        rows.len(),
        skipped.len(),
        losses,
        geo
    );
    s
}
