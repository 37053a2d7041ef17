//! fabricsim's library boundary: scenarios in, versioned results out. The serialisable result
//! schemas live here (`schema_version`), not in the inner crates.

pub mod cluster;
pub mod collective;
pub mod nccl_tests;
pub mod scenario;
pub mod topo;
pub mod train;
pub mod validate;
pub mod validate_training;

/// Version of every JSON result this crate emits. Bump on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;
