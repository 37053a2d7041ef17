//! Presets: TOML files in `crates/fabric/presets/`, embedded in the binary. A preset names a
//! generator and its default parameters; `NAME:key=value,...` overrides them. A user's cluster
//! file has the same form, so presets and files share one code path.

pub mod generators;
pub mod params;

use crate::error::{FabricError, Result};
use crate::model::Fabric;
use crate::routing::RoutingMode;
use crate::topology::clos::{self, ClusterSpec};
use params::{Params, Value};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Every embedded preset: (name, TOML text).
pub const PRESETS: &[(&str, &str)] = &[
    ("dgx-h100", include_str!("../../presets/dgx-h100.toml")),
    (
        "dgx-h100-superpod",
        include_str!("../../presets/dgx-h100-superpod.toml"),
    ),
    ("hgx", include_str!("../../presets/hgx.toml")),
    ("gb200-nvl72", include_str!("../../presets/gb200-nvl72.toml")),
    ("gb300-nvl72", include_str!("../../presets/gb300-nvl72.toml")),
    ("gb200-superpod", include_str!("../../presets/gb200-superpod.toml")),
    ("tpu-v4-pod", include_str!("../../presets/tpu-v4-pod.toml")),
    ("tpu-v5p-pod", include_str!("../../presets/tpu-v5p-pod.toml")),
    ("tpu-v5e-pod", include_str!("../../presets/tpu-v5e-pod.toml")),
    ("tpu-v6e-pod", include_str!("../../presets/tpu-v6e-pod.toml")),
    ("tpu-v7-pod", include_str!("../../presets/tpu-v7-pod.toml")),
    ("cloudmatrix384", include_str!("../../presets/cloudmatrix384.toml")),
    ("hpn7-pod", include_str!("../../presets/hpn7-pod.toml")),
    ("meta-roce-24k", include_str!("../../presets/meta-roce-24k.toml")),
    ("mi300x-node", include_str!("../../presets/mi300x-node.toml")),
    ("gaudi3-node", include_str!("../../presets/gaudi3-node.toml")),
    ("fat-tree", include_str!("../../presets/fat-tree.toml")),
    ("rail-optimized", include_str!("../../presets/rail-optimized.toml")),
    ("rail-only", include_str!("../../presets/rail-only.toml")),
    ("multi-site", include_str!("../../presets/multi-site.toml")),
];

/// The form of a preset or cluster file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    name: Option<String>,
    description: Option<String>,
    generator: String,
    /// How the scale-out network spreads flows: `ecmp` (default), `adaptive` or `spray`
    /// (`routing::RoutingMode`); each preset states its source.
    routing: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
}

/// One line per preset: (name, description).
pub fn list() -> Vec<(&'static str, String)> {
    PRESETS
        .iter()
        .map(|(n, text)| {
            let d = toml::from_str::<ClusterFile>(text)
                .ok()
                .and_then(|f| f.description)
                .unwrap_or_default();
            (*n, d)
        })
        .collect()
}

fn to_value(context: &str, key: &str, v: &toml::Value) -> Result<Value> {
    Ok(match v {
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::String(s) => Value::Str(s.clone()),
        _ => {
            return Err(FabricError::BadField {
                context: context.to_string(),
                field: format!("params.{key}"),
                problem: "expected an integer, number, boolean or string".into(),
            })
        }
    })
}

/// Build the cluster described by TOML `text` (a preset or a user's file), with overrides.
/// `context` names the file or preset in errors.
pub fn from_toml(text: &str, context: &str, overrides: &[(String, Value)]) -> Result<(ClusterSpec, Fabric)> {
    let file: ClusterFile = toml::from_str(text).map_err(|e| FabricError::Toml {
        context: context.to_string(),
        problem: e.to_string().trim().to_string(),
    })?;
    let mut p = Params::new(context);
    for (k, v) in &file.params {
        p.set(k, to_value(context, k, v)?);
    }
    for (k, v) in overrides {
        p.set(k, v.clone());
    }
    let name = file.name.unwrap_or_else(|| context.to_string());
    let mut shown = name.clone();
    if !overrides.is_empty() {
        let o: Vec<String> = overrides.iter().map(|(k, v)| format!("{k}={}", display(v))).collect();
        shown = format!("{name}:{}", o.join(","));
    }
    let routing = match file.routing.as_deref() {
        None => RoutingMode::default(),
        Some(r) => RoutingMode::parse(r).ok_or_else(|| FabricError::BadField {
            context: context.to_string(),
            field: "routing".into(),
            problem: format!("unknown routing mode `{r}` (known: {})", RoutingMode::names()),
        })?,
    };
    let spec = generators::generate(&file.generator, &shown, file.description.as_deref().unwrap_or(""), &p)?;
    let mut fabric = clos::build(&spec)?;
    fabric.routing = routing;
    Ok((spec, fabric))
}

fn display(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) => s.clone(),
    }
}

/// Look up an embedded preset by name.
pub fn preset_text(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Build `NAME:key=value,...` from the embedded presets.
pub fn build_preset(spec: &str) -> Result<(ClusterSpec, Fabric)> {
    let (name, overrides) = params::parse_spec(spec)?;
    let text = preset_text(&name).ok_or(FabricError::UnknownPreset { name: name.clone() })?;
    from_toml(text, &name, &overrides)
}
