//! Resolving a cluster SPEC: a preset with parameters (`NAME:key=value,...`) or the text of a
//! TOML file (read by the caller, so this crate does no I/O).

use fabric::presets::{self, params};
use fabric::topology::clos::ClusterSpec;
use fabric::{Fabric, FabricError};

/// Where a cluster comes from.
pub enum Source<'a> {
    /// `NAME:key=value,...`
    Preset(&'a str),
    /// A TOML file's path (for messages), its text, and `key=value` overrides.
    File {
        path: &'a str,
        text: &'a str,
        overrides: &'a str,
    },
}

/// Does `spec` look like a file path rather than a preset name?
pub fn looks_like_path(spec: &str) -> bool {
    let head = spec.split(':').next().unwrap_or(spec);
    head.ends_with(".toml") || head.contains('/')
}

/// Build the cluster.
pub fn load(src: Source) -> Result<(ClusterSpec, Fabric), FabricError> {
    match src {
        Source::Preset(s) => presets::build_preset(s),
        Source::File { path, text, overrides } => {
            let ov = params::parse_overrides(path, overrides)?;
            presets::from_toml(text, path, &ov)
        }
    }
}
