//! Errors of the fabric layer. Messages are lowercase fragments that read after "failed to …".

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum FabricError {
    #[error("unknown preset `{name}` (run `fabricsim presets` for the list)")]
    UnknownPreset { name: String },
    #[error("`{preset}`: unknown parameter `{key}` (known: {known})")]
    UnknownParam { preset: String, key: String, known: String },
    #[error("{context}: parameter `{key}`: {problem}")]
    BadParam {
        context: String,
        key: String,
        problem: String,
    },
    #[error("{context}: field `{field}`: {problem}")]
    BadField {
        context: String,
        field: String,
        problem: String,
    },
    #[error("{context}: malformed TOML: {problem}")]
    Toml { context: String, problem: String },
    #[error(
        "{context}: link {link} ({src} → {dst}) has capacity {capacity} B/s; capacities must be positive and finite"
    )]
    BadCapacity {
        context: String,
        link: u32,
        src: u32,
        dst: u32,
        capacity: f64,
    },
    #[error("{context}: the fabric is disconnected: node {node} ({what}) cannot be reached from accelerator 0")]
    Disconnected { context: String, node: u32, what: String },
    #[error("{context}: switch `{role}` (node {node}) needs {needed} ports but chip `{chip}` has radix {radix} × {chips} chip(s)")]
    RadixExceeded {
        context: String,
        node: u32,
        role: String,
        chip: String,
        needed: u64,
        radix: u64,
        chips: u32,
    },
    #[error("{context}: {problem}")]
    Impossible { context: String, problem: String },
    #[error("no route from accelerator {src} to accelerator {dst}: {why}")]
    NoRoute { src: u32, dst: u32, why: String },
}

pub type Result<T, E = FabricError> = std::result::Result<T, E>;
