//! fabricsim's workload layer: model registry and Hugging Face import, FLOP and memory
//! formulas, the compute model (roofline with a calibrated efficiency table), parallel plans
//! and pipeline schedules. No I/O: files are read by the caller and passed in as text.

pub mod compute;
pub mod flops;
pub mod framework;
pub mod hf;
pub mod memory;
pub mod model;
pub mod plan;
pub mod registry;
pub mod schedule;

pub use framework::{Framework, FrameworkProfile};
pub use model::{Mla, ModelSpec, Moe};
pub use plan::{ParallelPlan, Precision, Recompute};

/// Errors of the workload layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    #[error("unknown model `{0}` (run `fabricsim models` for the list)")]
    UnknownModel(String),
    #[error("{context}: field `{field}`: {problem}")]
    BadField {
        context: String,
        field: String,
        problem: String,
    },
    #[error("{context}: {problem}")]
    Invalid { context: String, problem: String },
}
