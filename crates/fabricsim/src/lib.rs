//! fabricsim's library boundary: scenarios in, versioned results out. The serialisable result
//! schemas live here (`schema_version`), not in the inner crates.

pub mod calibration;
pub mod cluster;
pub mod collective;
pub mod compare;
pub mod design;
pub mod expected_error;
mod expected_error_table;
pub mod goodput;
pub mod html;
pub mod job;
pub mod mixed;
pub mod moe;
pub mod nccl_tests;
pub mod plan;
pub mod power;
pub mod routing;
pub mod scenario;
pub mod schedule;
pub mod serve;
pub mod sweep;
pub mod topo;
pub mod train;
pub mod validate;
pub mod validate_era;
pub mod validate_framework;
pub mod validate_inference;
pub mod validate_moe;
pub mod validate_nvl72;
pub mod validate_recipes;
pub mod validate_tpu;
pub mod validate_training;

/// Version of every JSON result this crate emits. Bump on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Serialise a byte count held as `f64` as a JSON integer (`1048576`, not `1048576.0`).
/// PRECONDITION: the value is a whole, non-negative number below 2^53 (message sizes are
/// rounded to whole bytes when parsed); anything else is written as the float it is rather than
/// silently rounded.
/// Serialise a modelled byte count (an estimate, possibly fractional) as a whole number of bytes.
/// [`rounded_bytes`] of an optional value (`null` when absent).
pub(crate) fn rounded_bytes_opt<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => rounded_bytes(v, s),
        None => s.serialize_none(),
    }
}

pub(crate) fn rounded_bytes<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    let r = v.round();
    if (0.0..9_007_199_254_740_992.0).contains(&r) {
        s.serialize_u64(r as u64)
    } else {
        s.serialize_f64(*v)
    }
}

pub(crate) fn whole_bytes<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(v) {
        s.serialize_u64(*v as u64)
    } else {
        s.serialize_f64(*v)
    }
}
