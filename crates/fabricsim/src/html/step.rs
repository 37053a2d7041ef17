//! A training step's breakdown as the parts of a stacked bar: the one place the HTML module
//! reads a simulation result (the training report's `breakdown` and `stages`).

use super::charts::{StackedChart, StackedRow};
use super::scale::Unit;
use crate::train::report::{Breakdown, StageReport};
use serde::{Deserialize, Serialize};

/// Names of the parts of a step, in the order (and colours) a step-breakdown chart draws them.
pub const STEP_PART_NAMES: [&str; 10] = [
    "compute",
    "recompute",
    "exposed TP comm",
    "exposed CP comm",
    "exposed EP comm",
    "exposed ZeRO-3/FSDP comm",
    "exposed PP comm",
    "pipeline bubble",
    "exposed DP comm",
    "optimizer",
];

/// Where one step's time goes, in seconds; the parts add up to the step (for a stage, the
/// stage's lines; for a report's breakdown, its slowest stage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StepParts {
    pub compute_s: f64,
    pub recompute_s: f64,
    pub tp_comm_s: f64,
    pub cp_comm_s: f64,
    pub ep_comm_s: f64,
    /// Exposed ZeRO-3 / FSDP parameter gathers and gradient reduce-scatters.
    pub zero3_comm_s: f64,
    pub pp_comm_s: f64,
    pub bubble_s: f64,
    /// Exposed data-parallel gradient synchronisation (ZeRO-3/FSDP excluded).
    pub dp_comm_s: f64,
    pub optimizer_s: f64,
}

impl StepParts {
    /// The values in [`STEP_PART_NAMES`] order.
    pub fn values(&self) -> Vec<f64> {
        vec![
            self.compute_s,
            self.recompute_s,
            self.tp_comm_s,
            self.cp_comm_s,
            self.ep_comm_s,
            self.zero3_comm_s,
            self.pp_comm_s,
            self.bubble_s,
            self.dp_comm_s,
            self.optimizer_s,
        ]
    }

    /// A training report's step breakdown (its slowest stage). The report counts exposed
    /// ZeRO-3/FSDP time inside `dp_comm_s` (`fsdp_comm_s` is "of which"); here it is its own
    /// part, so the parts still add up to the step.
    pub fn from_breakdown(b: &Breakdown) -> Self {
        StepParts {
            compute_s: b.compute_s,
            recompute_s: b.recompute_s,
            tp_comm_s: b.tp_comm_s,
            cp_comm_s: b.cp_comm_s,
            ep_comm_s: b.ep_comm_s,
            zero3_comm_s: b.fsdp_comm_s,
            pp_comm_s: b.pp_comm_s,
            bubble_s: b.pipeline_bubble_s,
            dp_comm_s: (b.dp_comm_s - b.fsdp_comm_s).max(0.0),
            optimizer_s: b.optimizer_s,
        }
    }

    /// One pipeline stage's lines (busy + PP + bubble + DP + optimizer = step).
    pub fn from_stage(s: &StageReport) -> Self {
        StepParts {
            compute_s: s.compute_s,
            recompute_s: s.recompute_s,
            tp_comm_s: s.tp_comm_s,
            cp_comm_s: s.cp_comm_s,
            ep_comm_s: s.ep_comm_s,
            zero3_comm_s: s.zero3_comm_s,
            pp_comm_s: s.pp_comm_s,
            bubble_s: s.bubble_s,
            dp_comm_s: s.dp_comm_s,
            optimizer_s: s.optimizer_s,
        }
    }
}

impl StackedChart {
    /// A step-breakdown chart in seconds: one stacked bar per (label, parts) — per plan, or per
    /// pipeline stage.
    pub fn step_breakdown(title: impl Into<String>, rows: impl IntoIterator<Item = (String, StepParts)>) -> Self {
        StackedChart {
            title: title.into(),
            unit: Unit::Seconds,
            parts: STEP_PART_NAMES.iter().map(|s| s.to_string()).collect(),
            rows: rows
                .into_iter()
                .map(|(label, p)| StackedRow {
                    label,
                    values: p.values(),
                })
                .collect(),
            guides: Vec::new(),
        }
    }
}
