//! Presets: TOML files in `crates/fabric/presets/`, embedded in the binary. A preset names a
//! generator and its default parameters; `NAME:key=value,...` overrides them. A user's cluster
//! file has the same form, so presets and files share one code path.

pub mod generators;
pub mod params;

use crate::error::{FabricError, Result};
use crate::model::Fabric;
use crate::routing::RoutingMode;
use crate::topology::clos::{self, ClusterSpec};
use crate::topology::sites::{self, DciLeg, DciSpec, Site};
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
    /// The generator; absent in a cluster of `[[site]]` tables.
    generator: Option<String>,
    /// How the scale-out network spreads flows: `ecmp` (default), `adaptive` or `spray`
    /// (`routing::RoutingMode`); each preset states its source.
    routing: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    /// Sites of a multi-site cluster, each a preset spec (`[[site]]` tables).
    #[serde(default)]
    site: Vec<SiteEntry>,
    /// The data-centre interconnect between the sites (`[[dci]]` tables).
    #[serde(default)]
    dci: Vec<DciEntry>,
}

/// `[[site]]`: a named site built from a preset spec.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteEntry {
    name: String,
    cluster: String,
}

/// `[[dci]]`: a long-haul connection, between two sites (`between = ["a", "b"]`) or from one
/// site to the WAN meeting point (`site = "a"`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DciEntry {
    between: Option<Vec<String>>,
    site: Option<String>,
    distance_km: toml::Value,
    gbit: toml::Value,
    optics: Option<String>,
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
    let name = file.name.clone().unwrap_or_else(|| context.to_string());
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
    let description = file.description.clone().unwrap_or_default();
    if !file.site.is_empty() || !file.dci.is_empty() {
        return sites_file(&file, context, &name, overrides, file.routing.as_ref().map(|_| routing));
    }
    let generator = file.generator.as_deref().ok_or_else(|| FabricError::Toml {
        context: context.to_string(),
        problem: "missing field `generator` (name a generator, or give `[[site]]` and `[[dci]]` tables)".into(),
    })?;
    if generator == "multi-site" {
        let (spec, mut fabric) = multi_site(&p, &shown, &description)?;
        if file.routing.is_some() {
            fabric.routing = routing;
        }
        return Ok((spec, fabric));
    }
    let spec = generators::generate(generator, &shown, &description, &p)?;
    let mut fabric = clos::build(&spec)?;
    fabric.routing = routing;
    Ok((spec, fabric))
}

/// The generic-family presets (`generators::generic`), which take `gpus=` and `dci_gbit=`.
const GENERIC: &[&str] = &["fat-tree", "rail-optimized", "rail-only"];

/// A long-haul module by id or alias (`zr`, `zr+`, `zr+800`); only the catalogue's DCI modules.
fn dci_optics(id: &str) -> Option<&'static str> {
    crate::catalogue::transceiver(id)
        .map(|t| t.id)
        .filter(|t| crate::catalogue::dci_reach_km(t).is_some())
}

fn dci_optics_known() -> String {
    let ids: Vec<&str> = crate::catalogue::DCI_REACH_KM.iter().map(|(i, _)| *i).collect();
    format!("zr, zr+, zr+800 or {}", ids.join(", "))
}

/// One site of the same total size as `sites` (preset specs), where every site is the same
/// generic-family preset with the same parameters but `gpus=`: that preset with the sum of
/// their `gpus`. `None` otherwise (no rule scales other presets).
fn single_site_equivalent<'a>(sites: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut name0: Option<String> = None;
    let mut rest0: Option<Vec<String>> = None;
    let mut total = 0u64;
    for spec in sites {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let name = name.trim();
        if !GENERIC.contains(&name) {
            return None;
        }
        let mut gpus = None;
        let mut others: Vec<String> = Vec::new();
        for kv in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some((k, v)) if k.trim() == "gpus" => gpus = v.trim().parse::<u64>().ok(),
                _ => others.push(kv.to_string()),
            }
        }
        others.sort();
        total += gpus?;
        if name0.get_or_insert_with(|| name.to_string()) != name
            || rest0.get_or_insert_with(|| others.clone()) != &others
        {
            return None;
        }
    }
    let mut out = format!("{}:gpus={total}", name0?);
    for kv in rest0.unwrap_or_default() {
        out.push(',');
        out.push_str(&kv);
    }
    Some(out)
}

/// Build one site from a preset spec with extra overrides (later ones win over the spec's).
fn build_site(spec: &str, extra: &[(String, Value)]) -> Result<(ClusterSpec, Fabric)> {
    let (name, mut ov) = params::parse_spec(spec)?;
    let text = preset_text(&name).ok_or(FabricError::UnknownPreset { name: name.clone() })?;
    for (k, v) in extra {
        if !ov.iter().any(|(o, _)| o == k) {
            ov.push((k.clone(), v.clone()));
        }
    }
    from_toml(text, &name, &ov)
}

/// The cluster spec reported for a joined cluster: the first site's, named and sized for all.
fn joined_spec(first: &ClusterSpec, name: &str, description: &str, sites: &[Site], dci: &DciSpec) -> ClusterSpec {
    let mut spec = first.clone();
    spec.name = name.to_string();
    spec.description = description.to_string();
    spec.domains = sites.iter().map(|s| s.fabric.domain_count()).sum();
    spec.sites = Some(clos::SitesSpec {
        count: sites.len() as u32,
        distance_km: dci.legs[0].distance_km,
        bandwidth: dci.legs[0].capacity,
    });
    spec
}

/// `multi-site:` — `sites` equal sites of `site=` (a preset spec, default `rail-optimized`),
/// `gpus` in all, `distance_km` apart, `wan_gbit` of DCI capacity per site over `optics=`
/// modules, joined by [`sites::join`]. Other parameters go to every site's preset.
fn multi_site(p: &Params, shown: &str, description: &str) -> Result<(ClusterSpec, Fabric)> {
    let site = p.string("site", "rail-optimized")?;
    let (site_name, _) = params::parse_spec(&site)?;
    let generic = GENERIC.contains(&site_name.as_str());
    let gpus = if generic {
        Some(p.uint("gpus", 16_384, 1, 1 << 20)?)
    } else {
        p.opt_uint("gpus", 1, 1 << 20)?
    };
    let count = p.uint("sites", 2, 2, 64)?;
    let km = p.float("distance_km", 50.0, 0.0, 20_000.0)?;
    let wan = p.float("wan_gbit", 51_200.0, 1.0, 1e9)?;
    let optics_id = p.string("optics", "zr")?;
    let optics = dci_optics(&optics_id).ok_or_else(|| FabricError::BadParam {
        context: p.context.clone(),
        key: "optics".into(),
        problem: format!("unknown long-haul module `{optics_id}` (known: {})", dci_optics_known()),
    })?;
    let mut extra = p.take_unused();
    p.finish()?;
    let mut per_site = String::new();
    if let Some(g) = gpus {
        per_site = format!(
            " with {} accelerators per site (gpus={g} over sites={count})",
            g / count
        );
        if g % count != 0 {
            return Err(FabricError::BadParam {
                context: p.context.clone(),
                key: "gpus".into(),
                problem: format!("{g} accelerators do not split evenly over {count} sites"),
            });
        }
        extra.push(("gpus".into(), Value::Int((g / count) as i64)));
    }
    if generic {
        extra.push(("dci_gbit".into(), Value::Float(wan)));
        // Whole scale-up domains per site (a site preset would only say its share is not a
        // multiple of a domain).
        let node = extra.iter().find(|(k, _)| k == "node").map(|(_, v)| display(v));
        let ds = crate::topology::nodes::node_type(node.as_deref().unwrap_or("dgx-h100"))
            .map(|n| n.scale_up.size())
            .unwrap_or(1);
        if let Some(g) = gpus.filter(|g| g % ds == 0) {
            let domains = g / ds;
            if domains % count != 0 {
                return Err(FabricError::BadParam {
                    context: p.context.clone(),
                    key: "sites".into(),
                    problem: format!("{domains} domains do not split evenly over {count} sites"),
                });
            }
        }
    }
    let mut sites = Vec::new();
    let mut first = None;
    for i in 0..count {
        let (spec, fabric) = build_site(&site, &extra).map_err(|e| FabricError::BadParam {
            context: p.context.clone(),
            key: "site".into(),
            problem: format!("site `{site}`{per_site}: {e}"),
        })?;
        first.get_or_insert(spec);
        sites.push(Site {
            name: format!("site{i}"),
            fabric,
        });
    }
    let dci = DciSpec {
        optics,
        router: crate::catalogue::DCI_ROUTER,
        legs: vec![
            DciLeg {
                distance_km: km / 2.0,
                capacity: units::BytesPerSec::from_gbit(wan),
            };
            count as usize
        ],
        basis: format!(
            "{count} sites of `{site}`, {km} km apart in all (each {:.0} km from the WAN meeting point)",
            km / 2.0
        ),
    };
    let description = if description.is_empty() || description.starts_with("Two sites of rail-optimized") {
        format!(
            "{count} sites of `{site}` ({} accelerators in all) joined by {wan} Gb/s of DCI per site, {km} km apart",
            sites.iter().map(|s| s.fabric.accel_count()).sum::<usize>()
        )
    } else {
        description.to_string()
    };
    let mut fabric = sites::join(shown, &description, &p.context, &sites, &dci)?;
    fabric.extras.single_site_equivalent = None;
    let first = first.expect("at least 2 sites");
    Ok((joined_spec(&first, shown, &description, &sites, &dci), fabric))
}

fn num(context: &str, field: String, v: &toml::Value) -> Result<f64> {
    let x = match v {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        _ => {
            return Err(FabricError::BadField {
                context: context.to_string(),
                field,
                problem: "expected a number".into(),
            })
        }
    };
    if !(x.is_finite() && x > 0.0) {
        return Err(FabricError::BadField {
            context: context.to_string(),
            field,
            problem: format!("{x} must be positive"),
        });
    }
    Ok(x)
}

/// A cluster file of `[[site]]` and `[[dci]]` tables.
///
/// `[[dci]]` tables either join two sites (`between = ["a", "b"]`) or one site to the WAN
/// meeting point (`site = "a"`); one form per file. Pairs become a star's legs: each site's
/// leg is half the longest of its pairs' distances (exact for two sites, and for equal
/// distances) and carries the sum of its pairs' capacities.
fn sites_file(
    file: &ClusterFile,
    context: &str,
    name: &str,
    overrides: &[(String, Value)],
    routing: Option<RoutingMode>,
) -> Result<(ClusterSpec, Fabric)> {
    let field = |f: String, problem: String| FabricError::BadField {
        context: context.to_string(),
        field: f,
        problem,
    };
    if !overrides.is_empty() {
        return Err(field(
            overrides[0].0.clone(),
            "key=value overrides do not apply to a cluster of `[[site]]` tables (override each site's `cluster` spec)"
                .into(),
        ));
    }
    if file.generator.is_some() {
        return Err(field(
            "generator".into(),
            "a cluster of `[[site]]` tables has no generator (each site names its own cluster)".into(),
        ));
    }
    if !file.params.is_empty() {
        return Err(field(
            "params".into(),
            "a cluster of `[[site]]` tables takes no [params] (each site's `cluster` spec carries its own)".into(),
        ));
    }
    if file.site.len() < 2 {
        return Err(field(
            "site".into(),
            format!(
                "{} `[[site]]` table(s): a multi-site cluster needs at least 2",
                file.site.len()
            ),
        ));
    }
    if file.dci.is_empty() {
        return Err(field("dci".into(), "no `[[dci]]` table joins the sites".into()));
    }
    let index: BTreeMap<&str, usize> = file
        .site
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    for (i, s) in file.site.iter().enumerate() {
        if s.name.trim().is_empty() {
            return Err(field(format!("site[{i}].name"), "empty".into()));
        }
        if index[s.name.as_str()] != i {
            return Err(field(format!("site[{i}].name"), format!("`{}` is given twice", s.name)));
        }
    }
    let n = file.site.len();
    let known = || file.site.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    let lookup = |f: String, s: &str| -> Result<usize> {
        index
            .get(s)
            .copied()
            .ok_or_else(|| field(f, format!("unknown site `{s}` (sites: {})", known())))
    };
    let mut optics: Option<&'static str> = None;
    let mut pairs: Vec<(usize, usize, f64, f64)> = Vec::new();
    let mut legs: Vec<Option<DciLeg>> = vec![None; n];
    let pair_form = file.dci[0].between.is_some();
    for (i, d) in file.dci.iter().enumerate() {
        let km = num(context, format!("dci[{i}].distance_km"), &d.distance_km)?;
        let gbit = num(context, format!("dci[{i}].gbit"), &d.gbit)?;
        let id = d.optics.as_deref().unwrap_or("zr");
        let o = dci_optics(id).ok_or_else(|| {
            field(
                format!("dci[{i}].optics"),
                format!("unknown long-haul module `{id}` (known: {})", dci_optics_known()),
            )
        })?;
        match optics {
            Some(prev) if prev != o => {
                return Err(field(
                    format!("dci[{i}].optics"),
                    format!("`{o}` differs from `{prev}`: one long-haul module per cluster"),
                ))
            }
            _ => optics = Some(o),
        }
        match (&d.between, &d.site) {
            (Some(b), None) if pair_form => {
                if b.len() != 2 {
                    return Err(field(
                        format!("dci[{i}].between"),
                        format!("names {} site(s); it joins exactly 2", b.len()),
                    ));
                }
                let a = lookup(format!("dci[{i}].between"), &b[0])?;
                let c = lookup(format!("dci[{i}].between"), &b[1])?;
                if a == c {
                    return Err(field(
                        format!("dci[{i}].between"),
                        format!("joins `{}` to itself", b[0]),
                    ));
                }
                pairs.push((a, c, km, gbit));
            }
            (None, Some(s)) if !pair_form => {
                let a = lookup(format!("dci[{i}].site"), s)?;
                if legs[a].is_some() {
                    return Err(field(
                        format!("dci[{i}].site"),
                        format!("`{s}` has two legs to the meeting point"),
                    ));
                }
                legs[a] = Some(DciLeg {
                    distance_km: km,
                    capacity: units::BytesPerSec::from_gbit(gbit),
                });
            }
            (Some(_), Some(_)) | (None, None) => return Err(field(
                format!("dci[{i}]"),
                "give either `between = [\"a\", \"b\"]` (two sites) or `site = \"a\"` (a leg to the WAN meeting point)"
                    .into(),
            )),
            _ => {
                return Err(field(
                    format!("dci[{i}]"),
                    "mixes `between` and `site` tables: use one form per file".into(),
                ))
            }
        }
    }
    let basis = if pair_form {
        // Connectivity of the pairs graph.
        let mut comp: Vec<usize> = (0..n).collect();
        fn root(c: &mut [usize], mut x: usize) -> usize {
            while c[x] != x {
                c[x] = c[c[x]];
                x = c[x];
            }
            x
        }
        for &(a, c, _, _) in &pairs {
            let (ra, rc) = (root(&mut comp, a), root(&mut comp, c));
            comp[ra.max(rc)] = ra.min(rc);
        }
        for (i, s) in file.site.iter().enumerate() {
            if !pairs.iter().any(|&(a, c, _, _)| a == i || c == i) {
                return Err(field(
                    format!("site[{i}]"),
                    format!("site `{}` is not connected by any `[[dci]]` table", s.name),
                ));
            }
        }
        let r0 = root(&mut comp, 0);
        if let Some(i) = (0..n).find(|&i| root(&mut comp, i) != r0) {
            return Err(field(
                "dci".into(),
                format!(
                    "the sites do not form one connected graph: `{}` cannot reach `{}`",
                    file.site[0].name, file.site[i].name
                ),
            ));
        }
        for (i, leg) in legs.iter_mut().enumerate() {
            let mine: Vec<_> = pairs.iter().filter(|&&(a, c, _, _)| a == i || c == i).collect();
            let km = mine.iter().map(|p| p.2).fold(0.0, f64::max) / 2.0;
            let gbit: f64 = mine.iter().map(|p| p.3).sum();
            *leg = Some(DciLeg {
                distance_km: km,
                capacity: units::BytesPerSec::from_gbit(gbit),
            });
        }
        if n == 2 {
            format!(
                "one DCI between `{}` and `{}`, {} km: each site {} km from the meeting point",
                file.site[0].name,
                file.site[1].name,
                pairs[0].2,
                pairs[0].2 / 2.0
            )
        } else {
            "site pairs modelled as a star: each site's leg is half its longest pair distance and carries the sum of its pairs' capacities (a route between two sites takes the two legs, not the pair's own fibre)".into()
        }
    } else {
        if let Some(i) = legs.iter().position(|l| l.is_none()) {
            return Err(field(
                format!("site[{i}]"),
                format!("site `{}` is not connected by any `[[dci]]` table", file.site[i].name),
            ));
        }
        "each site's `[[dci]]` leg runs to the WAN meeting point".into()
    };
    let legs: Vec<DciLeg> = legs.into_iter().map(|l| l.expect("every leg set")).collect();
    let mut sites = Vec::new();
    let mut first = None;
    for (i, s) in file.site.iter().enumerate() {
        // A generic-family site keeps top-tier ports for its DCI share, as `multi-site:` does.
        let (preset, _) = params::parse_spec(&s.cluster)?;
        let extra = if GENERIC.contains(&preset.as_str()) {
            vec![("dci_gbit".to_string(), Value::Float(legs[i].capacity.as_gbit()))]
        } else {
            Vec::new()
        };
        let (spec, fabric) = build_site(&s.cluster, &extra)
            .map_err(|e| field(format!("site[{i}].cluster"), format!("`{}`: {e}", s.cluster)))?;
        first.get_or_insert(spec);
        sites.push(Site {
            name: s.name.clone(),
            fabric,
        });
    }
    let dci = DciSpec {
        optics: optics.unwrap_or("qsfp-dd-400zr"),
        router: crate::catalogue::DCI_ROUTER,
        legs,
        basis,
    };
    let description = file.description.clone().unwrap_or_else(|| {
        format!(
            "{} sites ({}) joined by a data-centre interconnect",
            n,
            file.site
                .iter()
                .map(|s| s.cluster.as_str())
                .collect::<Vec<_>>()
                .join(" + ")
        )
    });
    let mut fabric = sites::join(name, &description, context, &sites, &dci)?;
    if let Some(r) = routing {
        fabric.routing = r;
    }
    fabric.extras.single_site_equivalent = single_site_equivalent(file.site.iter().map(|s| s.cluster.as_str()));
    let first = first.expect("at least 2 sites");
    Ok((joined_spec(&first, name, &description, &sites, &dci), fabric))
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
