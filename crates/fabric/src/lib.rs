//! fabricsim's fabric layer: hardware catalogue, topology generators, presets, routing and the
//! bill of materials. No I/O: presets are embedded strings, parsing takes `&str`.

pub mod bom;
pub mod builder;
pub mod catalogue;
pub mod error;
pub mod model;
pub mod presets;
pub mod routing;
pub mod topology;

pub use builder::{FabricBuilder, SwitchSpec};
pub use error::{FabricError, Result};
pub use model::*;
pub use routing::{RouteOpts, Router, RoutingMode};
