//! `fabricsim compare`: one job over several fabrics (or plans), side by side — speed (step time,
//! tokens/s, MFU, exposed communication per parallel dimension; or a collective's time and bus
//! bandwidth), the bill of materials, capital cost, power, tokens per dollar and per joule.
//!
//! This module holds the typed, serialisable result and the rules every row follows; the CLI
//! (`crates/cli/src/compare_cmd.rs`) reads the job and the fabrics, runs `train` or `collective`
//! on each, and hands the reports here. Cost and power come from the `topo` report
//! ([`crate::topo::report`]: the catalogue's prices and powers), never from here.
//!
//! Rules, stated in every report (`basis`):
//! - **Same job, same accelerators.** Every row runs the job on the same number N of
//!   accelerators. A fabric with more takes the job on its first N (rank r on accelerator r, the
//!   order `train` and `collective` place ranks in) and the row says so; a fabric with fewer is
//!   an error naming it ([`CompareError::TooFewAccelerators`]).
//! - **Cost and power are the job's share**: the whole fabric's capital cost and nameplate
//!   power × N ÷ the fabric's accelerators (the rest of a larger fabric is left to other jobs,
//!   and pays its own share of the network). The whole-fabric figures are kept under `whole_*`.
//! - **Tokens per dollar** = tokens/s × the amortisation period ÷ the job's share of capital
//!   cost: capital only (no energy, staff, space or financing), straight-line over
//!   `amortization_years`, running this job all the time. `tokens_per_s_per_musd` (tokens/s per
//!   million USD of capital) needs no period.
//! - **Tokens per joule** = tokens/s ÷ the job's share of facility power (IT × PUE) at
//!   nameplate: nameplate is the most a system draws, so this is a lower bound.
//!
//! Serving (`serve`) is not modelled yet: [`JobKind`] is the place it will join.

use crate::topo::TopoReport;
use serde::{Deserialize, Serialize};

/// Errors of a comparison that name the fabric at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    #[error("fabric `{label}` has {has} accelerators, fewer than the {needs} the job runs on (every fabric runs the same job on the same number of accelerators: take a larger fabric or a smaller job)")]
    TooFewAccelerators { label: String, has: u64, needs: u64 },
    #[error("fabric `{label}`: the plan uses {used} accelerators, not the {needs} every row runs on (give the same TP × PP × DP × CP on every row)")]
    PlanSizeDiffers { label: String, used: u64, needs: u64 },
    #[error(
        "no fabric to compare: give --clusters A,B (or --cluster A --cluster B, or a --file with [[fabric]] rows)"
    )]
    NoFabrics,
    #[error("--amortization-years {0}: must be a number of years above 0 and at most 30")]
    BadAmortization(f64),
}

/// The kind of job a comparison runs. Serving will be a third kind once `serve` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// One training step (`train`'s scenario, flags and fidelity).
    Training,
    /// One collective of one size (`collective --op --size`).
    Collective,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Training => "training",
            JobKind::Collective => "collective",
        }
    }
}

/// How many accelerators of a fabric a row uses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Share {
    pub accelerators_in_fabric: u64,
    pub accelerators_used: u64,
    /// `accelerators_used / accelerators_in_fabric`: what the job's cost and power are of the
    /// whole fabric's.
    pub share_fraction: f64,
}

/// The same-number-of-accelerators rule: a fabric of `in_fabric` accelerators takes a job of
/// `needs` on its first `needs`, or is refused when it has fewer.
pub fn share(label: &str, in_fabric: u64, needs: u64) -> Result<Share, CompareError> {
    if in_fabric < needs {
        return Err(CompareError::TooFewAccelerators {
            label: label.to_string(),
            has: in_fabric,
            needs,
        });
    }
    Ok(Share {
        accelerators_in_fabric: in_fabric,
        accelerators_used: needs,
        share_fraction: needs as f64 / in_fabric.max(1) as f64,
    })
}

/// Economic assumptions of a comparison (flags with stated defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Economics {
    /// Straight-line amortisation period of the capital, years (`--amortization-years`).
    pub amortization_years: f64,
}

impl Economics {
    /// Default amortisation: 4 years. An assumption of this tool, not a price: the period over
    /// which the capital is spread for `tokens_per_usd`; `tokens_per_s_per_musd` does not
    /// depend on it.
    pub const DEFAULT_YEARS: f64 = 4.0;

    pub fn new(amortization_years: Option<f64>) -> Result<Economics, CompareError> {
        let y = amortization_years.unwrap_or(Self::DEFAULT_YEARS);
        if !(y > 0.0 && y <= 30.0) {
            return Err(CompareError::BadAmortization(y));
        }
        Ok(Economics { amortization_years: y })
    }

    /// Seconds in the amortisation period (a year of 365.25 days).
    pub fn amortization_s(&self) -> f64 {
        self.amortization_years * 365.25 * 86_400.0
    }
}

/// Exposed communication of a training step per parallel dimension, on the slowest pipeline
/// stage (`train`'s `breakdown`: time on the critical path that compute does not hide).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposedComm {
    pub tp_s: f64,
    pub cp_s: f64,
    pub ep_s: f64,
    pub pp_s: f64,
    /// Data-parallel gradient synchronisation, ZeRO-3/FSDP traffic included.
    pub dp_s: f64,
    /// Pipeline bubble (idle time, not communication, listed beside it).
    pub pipeline_bubble_s: f64,
}

/// The speed columns of a training row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingColumns {
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub exposed_comm: ExposedComm,
    /// TP · PP · DP · CP · EP · VP, micro- and global batch, as run.
    pub plan: String,
    pub fits: bool,
    pub memory_bytes_per_accel: f64,
}

/// The speed columns of a collective row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectiveColumns {
    pub op: String,
    #[serde(serialize_with = "crate::whole_bytes")]
    pub size_bytes: f64,
    pub time_s: f64,
    pub algbw_bytes_per_s: f64,
    pub busbw_bytes_per_s: f64,
    pub algorithm: String,
}

/// A summary of the bill of materials of the whole fabric (counts from `topo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BomSummary {
    /// Switch chips of the scale-out (and long-haul) network.
    pub scale_out_switch_chips: u64,
    /// Switch chips inside the scale-up domains (NVSwitch and the like).
    pub scale_up_switch_chips: u64,
    pub optical_transceivers: u64,
    pub nics: u64,
    /// Lines of the BOM without a public price (left out of the cost; `topo` lists them).
    pub unpriced_items: u64,
}

/// Capital cost and nameplate power: the whole fabric's and the job's share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostPower {
    pub whole_capital_cost_usd: f64,
    pub whole_it_power_w: f64,
    pub whole_facility_power_w: f64,
    /// Whole-fabric figure × `share_fraction`.
    pub capital_cost_usd: f64,
    pub it_power_w: f64,
    pub facility_power_w: f64,
    pub pue: f64,
}

/// Throughput per dollar and per joule (training rows only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Efficiency {
    /// Tokens per second per million USD of the job's share of capital.
    pub tokens_per_s_per_musd: f64,
    /// Tokens per USD of the job's share of capital over the amortisation period.
    pub tokens_per_usd: f64,
    /// Tokens per joule of the job's share of facility power (nameplate).
    pub tokens_per_j: f64,
    /// Tokens per joule of IT power alone (nameplate).
    pub tokens_per_j_it: f64,
}

/// One fabric (or plan) of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    /// The row's name: its label, or the cluster spec.
    pub label: String,
    pub cluster: String,
    pub accelerator: String,
    pub share: Share,
    /// Set on training rows.
    pub training: Option<TrainingColumns>,
    /// Set on collective rows.
    pub collective: Option<CollectiveColumns>,
    pub bom: BomSummary,
    pub cost_power: CostPower,
    /// Set on training rows.
    pub efficiency: Option<Efficiency>,
    /// What the row's own run warned about, and that a larger fabric took the job on part of
    /// itself.
    pub notes: Vec<String>,
}

/// The `compare --json` schema (version [`crate::SCHEMA_VERSION`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareReport {
    pub schema_version: u32,
    pub job_kind: JobKind,
    /// The job in words (model, plan, batch; or operation and size).
    pub job: String,
    pub fidelity: String,
    /// Accelerators every row runs the job on.
    pub accelerators: u64,
    pub amortization_years: f64,
    /// The rules of the comparison, one line each (share, cost, tokens per dollar and joule).
    pub basis: Vec<String>,
    pub rows: Vec<CompareRow>,
}

/// The lines of `basis` for a comparison under `econ`.
pub fn basis(kind: JobKind, accelerators: u64, econ: &Economics) -> Vec<String> {
    let mut b = vec![
        format!("every row runs the same job on {accelerators} accelerators; a fabric with more takes it on its first {accelerators} (rank r on accelerator r)"),
        "cost and power are the job's share: the whole fabric's capital cost and nameplate power × accelerators used ÷ accelerators in the fabric (whole_* keys: the whole fabric)".into(),
        "capital cost = the priced lines of the topo bill of materials (catalogue prices with sources); unpriced lines are left out and counted".into(),
        "facility power = IT power × PUE (topo's default unless --pue)".into(),
    ];
    if kind == JobKind::Training {
        b.push(format!(
            "tokens per dollar = tokens/s × {} years ÷ the job's capital cost: capital only (no energy, staff, space or financing), straight-line, running this job all the time; tokens/s per M$ needs no period",
            econ.amortization_years
        ));
        b.push(
            "tokens per joule = tokens/s ÷ the job's facility power at nameplate (the most the systems draw: a lower bound)"
                .into(),
        );
    }
    b
}

/// The bill-of-materials summary of a `topo` report.
pub fn bom_summary(t: &TopoReport) -> BomSummary {
    let scale_up: u64 = t
        .tiers
        .iter()
        .filter(|x| x.network == "scale-up")
        .map(|x| x.switch_chips)
        .sum();
    BomSummary {
        scale_out_switch_chips: t.switch_count.saturating_sub(scale_up),
        scale_up_switch_chips: scale_up,
        optical_transceivers: t.optical_transceivers.total,
        nics: t.nics as u64,
        unpriced_items: t.unpriced_items.len() as u64,
    }
}

/// The whole fabric's cost and power from `topo`, and the job's share.
pub fn cost_power(t: &TopoReport, s: &Share) -> CostPower {
    let f = s.share_fraction;
    CostPower {
        whole_capital_cost_usd: t.cost_usd,
        whole_it_power_w: t.it_power_w,
        whole_facility_power_w: t.facility_power_w,
        capital_cost_usd: t.cost_usd * f,
        it_power_w: t.it_power_w * f,
        facility_power_w: t.facility_power_w * f,
        pue: t.pue,
    }
}

/// Tokens per dollar and per joule of a job running at `tokens_per_s` on `cp`.
pub fn efficiency(tokens_per_s: f64, cp: &CostPower, econ: &Economics) -> Efficiency {
    let per = |num: f64, den: f64| if den > 0.0 { num / den } else { 0.0 };
    Efficiency {
        tokens_per_s_per_musd: per(tokens_per_s, cp.capital_cost_usd / 1e6),
        tokens_per_usd: per(tokens_per_s * econ.amortization_s(), cp.capital_cost_usd),
        tokens_per_j: per(tokens_per_s, cp.facility_power_w),
        tokens_per_j_it: per(tokens_per_s, cp.it_power_w),
    }
}

/// A training row from `train`'s report on the fabric and its `topo` report.
pub fn training_row(
    label: &str,
    r: &crate::train::TrainReport,
    t: &TopoReport,
    needs: u64,
    econ: &Economics,
) -> Result<CompareRow, CompareError> {
    let s = share(label, r.accelerators_in_cluster, needs)?;
    if r.plan.accelerators_used != needs {
        return Err(CompareError::PlanSizeDiffers {
            label: label.to_string(),
            used: r.plan.accelerators_used,
            needs,
        });
    }
    let b = &r.breakdown;
    let p = &r.plan;
    let cp = cost_power(t, &s);
    let mut notes = part_note(&s);
    notes.extend(r.warnings.iter().filter(|w| !w.starts_with("the plan uses ")).cloned());
    Ok(CompareRow {
        label: label.to_string(),
        cluster: r.cluster.clone(),
        accelerator: r.accelerator.clone(),
        share: s,
        training: Some(TrainingColumns {
            step_time_s: r.step_time_s,
            tokens_per_s: r.tokens_per_s,
            mfu: r.mfu,
            exposed_comm: ExposedComm {
                tp_s: b.tp_comm_s,
                cp_s: b.cp_comm_s,
                ep_s: b.ep_comm_s,
                pp_s: b.pp_comm_s,
                dp_s: b.dp_comm_s,
                pipeline_bubble_s: b.pipeline_bubble_s,
            },
            plan: format!(
                "TP {} · PP {} · DP {} · CP {} · EP {} · VP {} · mbs {} · gbs {}",
                p.tp, p.pp, p.dp, p.cp, p.ep, p.vp, p.mbs, p.gbs
            ),
            fits: r.fits,
            memory_bytes_per_accel: r.memory_bytes_per_accel,
        }),
        collective: None,
        bom: bom_summary(t),
        efficiency: Some(efficiency(r.tokens_per_s, &cp, econ)),
        cost_power: cp,
        notes,
    })
}

/// A collective row from `collective`'s report (one size) on the fabric and its `topo` report.
pub fn collective_row(
    label: &str,
    r: &crate::collective::Report,
    t: &TopoReport,
    in_fabric: u64,
    needs: u64,
) -> Result<CompareRow, CompareError> {
    let s = share(label, in_fabric, needs)?;
    let cp = cost_power(t, &s);
    let row = r.rows.first();
    Ok(CompareRow {
        label: label.to_string(),
        cluster: r.cluster.clone(),
        accelerator: t.accelerators.name.clone(),
        share: s,
        training: None,
        collective: row.map(|x| CollectiveColumns {
            op: r.op.clone(),
            size_bytes: x.size_bytes,
            time_s: x.time_s,
            algbw_bytes_per_s: x.algbw_bytes_per_s,
            busbw_bytes_per_s: x.busbw_bytes_per_s,
            algorithm: format!("{} {}", x.algorithm, x.protocol),
        }),
        bom: bom_summary(t),
        cost_power: cp,
        efficiency: None,
        notes: part_note(&s),
    })
}

fn part_note(s: &Share) -> Vec<String> {
    if s.accelerators_used < s.accelerators_in_fabric {
        vec![format!(
            "the job runs on the first {} of the fabric's {} accelerators ({:.1} %); cost and power are that share",
            s.accelerators_used,
            s.accelerators_in_fabric,
            100.0 * s.share_fraction
        )]
    } else {
        Vec::new()
    }
}

/// A `--file` of `compare`: the job's scenario (optional) and the rows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareFile {
    /// A training scenario file, relative to the compare file.
    pub scenario: Option<String>,
    /// Fabrics without plan changes, one row each.
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Rows, each a fabric and optionally a label and plan changes.
    #[serde(default)]
    pub fabric: Vec<FileRow>,
}

/// One `[[fabric]]` row of a compare file: a cluster, a label and the plan values it changes
/// (the job is otherwise the same on every row).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRow {
    pub cluster: String,
    pub label: Option<String>,
    pub tp: Option<u32>,
    pub pp: Option<u32>,
    pub dp: Option<u32>,
    pub cp: Option<u32>,
    pub ep: Option<u32>,
    pub vp: Option<u32>,
    pub mbs: Option<u32>,
    pub recompute: Option<String>,
    pub zero: Option<u8>,
}

/// Parse a compare file; `context` names it in errors.
pub fn parse_file(text: &str, context: &str) -> Result<CompareFile, String> {
    toml::from_str(text).map_err(|e| format!("{context}: {e}"))
}

/// The text report: a speed table, a cost table, then the basis and each row's notes.
pub fn render(r: &CompareReport) -> String {
    use std::fmt::Write;
    use units::si;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "compare: {} job — {} — on {} accelerators, {} fidelity",
        r.job_kind.name(),
        r.job,
        r.accelerators,
        r.fidelity
    );
    let w = r.rows.iter().map(|x| x.label.len()).max().unwrap_or(6).max(6);
    let _ = writeln!(s);
    match r.job_kind {
        JobKind::Training => {
            let _ = writeln!(
                s,
                "{:<w$}  {:>13}  {:>9}  {:>10}  {:>6}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}",
                "fabric", "used", "step", "tokens/s", "MFU", "TP", "CP", "EP", "PP", "DP", "bubble"
            );
            for x in &r.rows {
                let used = format!("{}/{}", x.share.accelerators_used, x.share.accelerators_in_fabric);
                if let Some(t) = &x.training {
                    let e = &t.exposed_comm;
                    let _ = writeln!(
                        s,
                        "{:<w$}  {:>13}  {:>9}  {:>10}  {:>5.1}%  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}",
                        x.label,
                        used,
                        si(t.step_time_s, "s"),
                        si(t.tokens_per_s, ""),
                        100.0 * t.mfu,
                        si(e.tp_s, "s"),
                        si(e.cp_s, "s"),
                        si(e.ep_s, "s"),
                        si(e.pp_s, "s"),
                        si(e.dp_s, "s"),
                        si(e.pipeline_bubble_s, "s"),
                    );
                }
            }
            let _ = writeln!(s, "(TP..DP: exposed communication on the slowest pipeline stage)");
        }
        JobKind::Collective => {
            let _ = writeln!(
                s,
                "{:<w$}  {:>13}  {:>14}  {:>9}  {:>11}  {:>11}  algorithm",
                "fabric", "used", "op", "time", "algbw", "busbw"
            );
            for x in &r.rows {
                let used = format!("{}/{}", x.share.accelerators_used, x.share.accelerators_in_fabric);
                if let Some(c) = &x.collective {
                    let _ = writeln!(
                        s,
                        "{:<w$}  {:>13}  {:>14}  {:>9}  {:>11}  {:>11}  {}",
                        x.label,
                        used,
                        format!("{} {}", c.op, si(c.size_bytes, "B")),
                        si(c.time_s, "s"),
                        si(c.algbw_bytes_per_s, "B/s"),
                        si(c.busbw_bytes_per_s, "B/s"),
                        c.algorithm
                    );
                }
            }
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<w$}  {:>9}  {:>8}  {:>6}  {:>10}  {:>9}  {:>9}  {:>11}  {:>9}  {:>9}",
        "fabric", "switches", "optics", "NICs", "capital $", "IT power", "facility", "tok/s/M$", "tokens/$", "tokens/J"
    );
    for x in &r.rows {
        let c = &x.cost_power;
        let (a, b, d) = match &x.efficiency {
            Some(e) => (
                format!("{:.1}", e.tokens_per_s_per_musd),
                si(e.tokens_per_usd, ""),
                format!("{:.3}", e.tokens_per_j),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let _ = writeln!(
            s,
            "{:<w$}  {:>9}  {:>8}  {:>6}  {:>10}  {:>9}  {:>9}  {:>11}  {:>9}  {:>9}",
            x.label,
            x.bom.scale_out_switch_chips,
            x.bom.optical_transceivers,
            x.bom.nics,
            format!("{:.1} M", c.capital_cost_usd / 1e6),
            si(c.it_power_w, "W"),
            si(c.facility_power_w, "W"),
            a,
            b,
            d
        );
    }
    let _ = writeln!(
        s,
        "(switches, optics, NICs: the whole fabric; capital and power: the job's share; switches: scale-out chips)"
    );
    let _ = writeln!(s, "\nbasis");
    for b in &r.basis {
        let _ = writeln!(s, "  - {b}");
    }
    for x in &r.rows {
        if let Some(t) = &x.training {
            let _ = writeln!(
                s,
                "\n{}: {}{}",
                x.label,
                t.plan,
                if t.fits { "" } else { " (does NOT fit memory)" }
            );
        } else if !x.notes.is_empty() {
            let _ = writeln!(s, "\n{}:", x.label);
        }
        for n in &x.notes {
            let _ = writeln!(s, "  - {n}");
        }
    }
    s
}

/// The CSV header of [`csv`]: one column per number, units in the names as in JSON.
pub const CSV_COLUMNS: &[&str] = &[
    "label",
    "cluster",
    "accelerator",
    "accelerators_in_fabric",
    "accelerators_used",
    "share_fraction",
    "plan",
    "step_time_s",
    "tokens_per_s",
    "mfu",
    "exposed_tp_s",
    "exposed_cp_s",
    "exposed_ep_s",
    "exposed_pp_s",
    "exposed_dp_s",
    "pipeline_bubble_s",
    "op",
    "size_bytes",
    "time_s",
    "busbw_bytes_per_s",
    "algorithm",
    "scale_out_switch_chips",
    "scale_up_switch_chips",
    "optical_transceivers",
    "nics",
    "unpriced_items",
    "whole_capital_cost_usd",
    "whole_it_power_w",
    "whole_facility_power_w",
    "capital_cost_usd",
    "it_power_w",
    "facility_power_w",
    "pue",
    "tokens_per_s_per_musd",
    "tokens_per_usd",
    "tokens_per_j",
];

/// The report as CSV: [`CSV_COLUMNS`], one line per row; columns that do not apply are empty.
pub fn csv(r: &CompareReport) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS).map_err(|e| e.to_string())?;
    let num = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
    for x in &r.rows {
        let t = x.training.as_ref();
        let c = x.collective.as_ref();
        let e = x.efficiency.as_ref();
        let cp = &x.cost_power;
        let rec: Vec<String> = vec![
            x.label.clone(),
            x.cluster.clone(),
            x.accelerator.clone(),
            x.share.accelerators_in_fabric.to_string(),
            x.share.accelerators_used.to_string(),
            format!("{}", x.share.share_fraction),
            t.map(|t| t.plan.clone()).unwrap_or_default(),
            num(t.map(|t| t.step_time_s)),
            num(t.map(|t| t.tokens_per_s)),
            num(t.map(|t| t.mfu)),
            num(t.map(|t| t.exposed_comm.tp_s)),
            num(t.map(|t| t.exposed_comm.cp_s)),
            num(t.map(|t| t.exposed_comm.ep_s)),
            num(t.map(|t| t.exposed_comm.pp_s)),
            num(t.map(|t| t.exposed_comm.dp_s)),
            num(t.map(|t| t.exposed_comm.pipeline_bubble_s)),
            c.map(|c| c.op.clone()).unwrap_or_default(),
            num(c.map(|c| c.size_bytes)),
            num(c.map(|c| c.time_s)),
            num(c.map(|c| c.busbw_bytes_per_s)),
            c.map(|c| c.algorithm.clone()).unwrap_or_default(),
            x.bom.scale_out_switch_chips.to_string(),
            x.bom.scale_up_switch_chips.to_string(),
            x.bom.optical_transceivers.to_string(),
            x.bom.nics.to_string(),
            x.bom.unpriced_items.to_string(),
            format!("{}", cp.whole_capital_cost_usd),
            format!("{}", cp.whole_it_power_w),
            format!("{}", cp.whole_facility_power_w),
            format!("{}", cp.capital_cost_usd),
            format!("{}", cp.it_power_w),
            format!("{}", cp.facility_power_w),
            format!("{}", cp.pue),
            num(e.map(|e| e.tokens_per_s_per_musd)),
            num(e.map(|e| e.tokens_per_usd)),
            num(e.map(|e| e.tokens_per_j)),
        ];
        debug_assert_eq!(rec.len(), CSV_COLUMNS.len());
        w.write_record(&rec).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_takes_part_of_a_larger_fabric_and_refuses_a_smaller_one() {
        let s = share("big", 15864, 15360).unwrap();
        assert_eq!(s.accelerators_used, 15360);
        assert!((s.share_fraction - 15360.0 / 15864.0).abs() < 1e-12);
        assert_eq!(share("same", 64, 64).unwrap().share_fraction, 1.0);
        let e = share("small", 1024, 15360).unwrap_err();
        assert!(
            e.to_string().contains("`small`") && e.to_string().contains("1024"),
            "{e}"
        );
    }

    #[test]
    fn efficiency_follows_its_definition() {
        let cp = CostPower {
            whole_capital_cost_usd: 2e6,
            whole_it_power_w: 2e3,
            whole_facility_power_w: 2.6e3,
            capital_cost_usd: 1e6,
            it_power_w: 1e3,
            facility_power_w: 1.3e3,
            pue: 1.3,
        };
        let econ = Economics::new(Some(1.0)).unwrap();
        let e = efficiency(1000.0, &cp, &econ);
        assert_eq!(e.tokens_per_s_per_musd, 1000.0);
        assert!((e.tokens_per_usd - 1000.0 * 365.25 * 86400.0 / 1e6).abs() < 1e-6);
        assert!((e.tokens_per_j - 1000.0 / 1300.0).abs() < 1e-12);
        assert_eq!(e.tokens_per_j_it, 1.0);
        assert!(Economics::new(Some(0.0)).is_err());
        assert!(Economics::new(Some(f64::NAN)).is_err());
    }

    #[test]
    fn compare_file_rejects_unknown_keys() {
        let f = parse_file("clusters = [\"a\"]\n[[fabric]]\ncluster = \"b\"\ntp = 4\n", "x").unwrap();
        assert_eq!(f.clusters, vec!["a"]);
        assert_eq!(f.fabric[0].tp, Some(4));
        assert!(parse_file("[[fabric]]\ncluster = \"b\"\ntpp = 4\n", "x").is_err());
    }
}
