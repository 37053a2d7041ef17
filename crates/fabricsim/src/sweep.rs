//! Sweeps: a grid file (fabrics × models × plans × sizes) expanded into numbered points, run on
//! every core, written as one CSV or JSON row per point, in shares (`--shard i/n`) that
//! [`merge`] joins back into exactly the bytes of the unsharded run.
//!
//! Stages, each its own type: grid text → [`Grid`] (parsed and checked, every point listed in
//! a fixed order) → [`SweepReport`] (the rows of one share) → CSV or JSON text → [`merge`].
//!
//! Order of the points (the architecture invariant everything else rests on): the `[[train]]`
//! tables in file order, then the `[[collective]]` tables in file order; inside a train table
//! clusters × models × gpus × plans, inside a collective table clusters × ops × ranks × sizes,
//! the last dimension varying fastest. A train table of mixed-accelerator clusters (`mixed:`
//! specs) has two more: clusters × pool_shares × models × gpus × plans × mixed_balance; its
//! points run through [`job::train_mixed`], and its grid's rows carry [`MixedCols`]. Point numbers start at 0. Shard `i/n` holds the points
//! whose number is ≡ i (mod n): neighbouring points (one cluster, growing sizes) are spread
//! over the shards, so shares take similar times.
//!
//! The file's identity is a fingerprint of the listed points (not of its text: comments and
//! layout do not change it), carried by every output so that [`merge`] refuses shares of
//! different grids. A mixed cluster written as a cluster TOML (`[[pool]]` tables) travels
//! inside its points as TOML text ([`crate::mixed::MixedSpec::to_toml`]), so the fingerprint
//! covers the file's content: shares run against different contents do not merge.
//!
//! This module does no I/O: the caller reads the grid file, the cluster files it names
//! ([`cluster_files`] lists them; [`Grid::parse_with`] takes their text) and writes the
//! output.

use crate::job::{self, CollectiveInputs, LoadCluster, TrainInputs};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most points one grid may list (a typo like `gpus = [1, …, 10000]` × 100 models is
/// caught before anything runs).
pub const MAX_POINTS: usize = 1_000_000;

/// The cluster files a grid names ([`cluster_files`]) as the caller found them: path → the
/// file's text, or why it could not be read.
pub type ClusterFiles = BTreeMap<String, Result<String, String>>;

/// A cluster file a grid names: the field that names it (`train[0].clusters[1]`) and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub field: String,
    pub path: String,
}

/// Is this cluster entry a cluster file the grid needs to read (a path ending in `.toml`,
/// without `:overrides`)?
fn is_cluster_file(cluster: &str) -> bool {
    crate::cluster::looks_like_path(cluster) && cluster.ends_with(".toml")
}

/// The cluster files the `[[train]]` tables of a grid's `text` name (paths ending in `.toml`),
/// in file order, for the caller to read and hand to [`Grid::parse_with`]: a file with
/// `[[pool]]` tables is a mixed-accelerator cluster, which the grid expands itself. Other
/// cluster files are still read by the loader when their points run (their content is not
/// in the fingerprint). Errors as [`Grid::parse`]'s for text that is not a grid.
pub fn cluster_files(text: &str, name: &str) -> Result<Vec<FileRef>, String> {
    let file: GridFile = toml::from_str(text).map_err(|e| format!("{name}: {}", e.to_string().trim()))?;
    let mut refs = Vec::new();
    for (ti, t) in file.train.iter().enumerate() {
        for (ci, c) in t.clusters.iter().enumerate() {
            if is_cluster_file(c) {
                refs.push(FileRef {
                    field: format!("train[{ti}].clusters[{ci}]"),
                    path: c.clone(),
                });
            }
        }
    }
    Ok(refs)
}

/// The [`ClusterFiles`] a grid's `text` names, each read once with `read` (path → text, or why
/// not): the caller's file access (the CLI and the Python package read from the working
/// directory; this crate reads no files). A file that cannot be read goes in as its error: the
/// grid says which field named it, where that matters ([`Grid::parse_with`]).
pub fn read_cluster_files(
    text: &str,
    name: &str,
    read: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<ClusterFiles, String> {
    let mut files = ClusterFiles::new();
    for f in cluster_files(text, name)? {
        files.entry(f.path).or_insert_with_key(|path| read(path));
    }
    Ok(files)
}

/// The grid file format.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridFile {
    /// Memory limit of every point, as `--max-memory` (bytes, or with K, M, G; default 2G).
    max_memory: Option<String>,
    #[serde(default)]
    train: Vec<TrainTable>,
    #[serde(default)]
    collective: Vec<CollectiveTable>,
}

/// `[[train]]`: training points, run as `fabricsim train --json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainTable {
    clusters: Vec<String>,
    models: Vec<String>,
    /// Accelerators per point (default: the whole cluster, as `train`).
    #[serde(default)]
    gpus: Vec<u32>,
    /// Parallel plans (default: one, derived by `train`'s rules).
    #[serde(default)]
    plans: Vec<PlanEntry>,
    seq: Option<u64>,
    gbs: Option<u32>,
    mbs: Option<u32>,
    precision: Option<String>,
    recompute: Option<String>,
    zero: Option<u8>,
    framework: Option<String>,
    fidelity: Option<String>,
    routing: Option<String>,
    /// Multi-site clusters: what crosses the sites (`dp`, `pp`, `diloco`), as `--cross-site`.
    cross_site: Option<String>,
    /// With `cross_site = "diloco"`: inner steps between outer synchronisations.
    diloco_inner_steps: Option<u32>,
    /// Mixed-accelerator clusters (`mixed:...`) only: the balancing modes, an axis (pp, dp,
    /// best; default best), as `train --mixed-balance`.
    #[serde(default)]
    mixed_balance: Vec<String>,
    /// Mixed-accelerator clusters only: the first pool's share of the two pools' accelerators,
    /// an axis (each in (0, 1), whole 8-accelerator servers, as `train --mixed-sweep`).
    #[serde(default)]
    pool_shares: Vec<f64>,
}

/// One plan of `plans = [...]`: the values it fixes (the rest derived).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanEntry {
    tp: Option<u32>,
    pp: Option<u32>,
    dp: Option<u32>,
    cp: Option<u32>,
    ep: Option<u32>,
    vp: Option<u32>,
    mbs: Option<u32>,
    gbs: Option<u32>,
    zero: Option<u8>,
    recompute: Option<String>,
    order: Option<String>,
}

/// `[[collective]]`: collective points, run as `fabricsim collective --size S --json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectiveTable {
    clusters: Vec<String>,
    ops: Vec<String>,
    /// Ranks per point (default: every accelerator of the cluster).
    #[serde(default)]
    ranks: Vec<u32>,
    /// Message sizes: integers (bytes) or strings with K, M, G, T (powers of 1024).
    sizes: Vec<toml::Value>,
    fidelity: Option<String>,
    algo: Option<String>,
    proto: Option<String>,
    routing: Option<String>,
}

/// What one point runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    Train {
        /// Boxed: a grid holds up to [`MAX_POINTS`] jobs, most of them often collectives.
        inputs: Box<TrainInputs>,
        /// The plan as written in the grid (`tp=8,pp=4`; empty: derived).
        plan: String,
    },
    Collective {
        inputs: CollectiveInputs,
    },
}

/// One numbered point of a grid.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub index: u64,
    pub job: Job,
}

/// A parsed, checked grid: every point in order, and its fingerprint.
#[derive(Debug, Clone)]
pub struct Grid {
    pub points: Vec<Point>,
    /// 16 hex digits identifying the listed points (FNV-1a 64 of their canonical JSON).
    pub fingerprint: String,
}

/// Which share of the points to run: those whose number ≡ `index` (mod `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Every point.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// `i/n` with 0 ≤ i < n (0-based, as Slurm array ids from 0 and Kubernetes completion
    /// indices).
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not INDEX/COUNT (e.g. 0/4)"))?;
        let parse = |v: &str, what: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{s}`: {what} `{v}` is not a whole number"))
        };
        let (index, count) = (parse(i, "index")?, parse(n, "count")?);
        if count == 0 {
            return Err(format!("`{s}`: the count must be at least 1"));
        }
        if index >= count {
            return Err(format!(
                "`{s}`: the index must be below the count (0-based: 0/{count} … {}/{count})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Does this share hold point `p`?
    pub fn holds(self, p: u64) -> bool {
        p % self.count == self.index
    }
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and every build (unlike
/// `DefaultHasher`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A message size from the grid: an integer (bytes) or a string with K, M, G, T.
fn size_value(v: &toml::Value) -> Result<f64, String> {
    match v {
        toml::Value::Integer(i) if *i >= 0 => Ok(*i as f64),
        toml::Value::String(s) => crate::collective::parse_size(s),
        other => Err(format!(
            "`{other}` is not a size (an integer number of bytes, or a string like \"64M\")"
        )),
    }
}

fn check_fidelity(v: &Option<String>, at: &str) -> Result<(), String> {
    match v.as_deref() {
        None | Some("flow") | Some("analytical") => Ok(()),
        Some(o) => Err(format!("{at}.fidelity: `{o}` is not flow or analytical")),
    }
}

fn check_routing(v: &Option<String>, at: &str) -> Result<(), String> {
    match v.as_deref() {
        Some(r) if fabric::RoutingMode::parse(r).is_none() => Err(format!(
            "{at}.routing: unknown routing mode `{r}` (known: {})",
            fabric::RoutingMode::names()
        )),
        _ => Ok(()),
    }
}

fn nonempty<T>(v: &[T], at: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err(format!("{at}: empty list (give at least one value)"));
    }
    Ok(())
}

fn positive(v: Option<u32>, at: &str) -> Result<(), String> {
    if v == Some(0) {
        return Err(format!("{at}: must be at least 1"));
    }
    Ok(())
}

fn check_zero(v: Option<u8>, at: &str) -> Result<(), String> {
    match v {
        Some(z) if z > 3 => Err(format!("{at}: ZeRO stage {z}; expected 0–3")),
        _ => Ok(()),
    }
}

impl PlanEntry {
    /// `tp=8,pp=4` — the fields given, in a fixed order.
    fn label(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("tp", self.tp),
            ("pp", self.pp),
            ("dp", self.dp),
            ("cp", self.cp),
            ("ep", self.ep),
            ("vp", self.vp),
            ("mbs", self.mbs),
            ("gbs", self.gbs),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        if let Some(z) = self.zero {
            parts.push(format!("zero={z}"));
        }
        if let Some(r) = &self.recompute {
            parts.push(format!("recompute={r}"));
        }
        if let Some(o) = &self.order {
            parts.push(format!("order={o}"));
        }
        parts.join(",")
    }

    fn check(&self, at: &str) -> Result<(), String> {
        for (k, v) in [
            ("tp", self.tp),
            ("pp", self.pp),
            ("dp", self.dp),
            ("cp", self.cp),
            ("ep", self.ep),
            ("vp", self.vp),
            ("mbs", self.mbs),
            ("gbs", self.gbs),
        ] {
            positive(v, &format!("{at}.{k}"))?;
        }
        check_zero(self.zero, &format!("{at}.zero"))?;
        if let Some(r) = &self.recompute {
            crate::scenario::recompute(r).map_err(|e| format!("{at}.recompute: {e}"))?;
        }
        if let Some(o) = &self.order {
            crate::train::parse_order(o).map_err(|e| format!("{at}.order: {e}"))?;
        }
        Ok(())
    }
}

/// The mixed axes of a `[[train]]` table, checked.
struct MixedAxes {
    balances: Vec<String>,
    shares: Vec<f64>,
}

fn mixed_axes(t: &TrainTable, at: &str) -> Result<MixedAxes, String> {
    for (i, b) in t.mixed_balance.iter().enumerate() {
        crate::mixed::Balance::parse(b).map_err(|_| format!("{at}.mixed_balance[{i}]: `{b}` is not pp, dp or best"))?;
    }
    for (i, v) in t.pool_shares.iter().enumerate() {
        if !(*v > 0.0 && *v < 1.0) {
            return Err(format!(
                "{at}.pool_shares[{i}]: {v} is not a first-pool share in (0, 1)"
            ));
        }
    }
    Ok(MixedAxes {
        balances: t.mixed_balance.clone(),
        shares: t.pool_shares.clone(),
    })
}

/// One cluster of a `[[train]]` table, expanded ([`mixed_points`]).
struct Expanded {
    /// The points' clusters, each with its mixed cluster TOML text when it comes from a file.
    clusters: Vec<(String, Option<String>)>,
    /// The balancing modes (`None`: not a mixed cluster).
    balances: Vec<Option<String>>,
}

/// What one cluster of a `[[train]]` table expands to: the points' clusters, each with its
/// mixed cluster TOML text when it comes from a file, and the balancing modes. A mixed
/// cluster — a `mixed:` spec, or a cluster file (read by the caller, in `files`) with
/// `[[pool]]` tables — once per pool share (its pools resized: a `mixed:` spec's text, or the
/// file's cluster with the resized TOML) and balancing mode (`Some`, default best); any other
/// cluster once, with `None` (its points are as before the mixed axes existed, fingerprint
/// included).
fn mixed_points(
    t: &TrainTable,
    axes: &MixedAxes,
    ci: usize,
    cluster: &str,
    at: &str,
    files: &ClusterFiles,
) -> Result<Expanded, String> {
    let field = format!("{at}.clusters[{ci}]");
    let has_axes = !axes.balances.is_empty() || !axes.shares.is_empty();
    // A cluster file: a mixed cluster if it has [[pool]] tables. A file that cannot be read or
    // is not TOML is refused here only where the table's mixed axes say it must be a mixed
    // cluster; elsewhere its points carry the loader's error, as for any cluster file.
    let file_spec = match files.get(cluster) {
        Some(Ok(text)) if is_cluster_file(cluster) && crate::mixed::is_mixed_toml(text) => {
            let spec = crate::mixed::parse_toml(text, cluster).map_err(|e| format!("{field}: {e}"))?;
            if spec.pools.len() < 2 {
                return Err(format!(
                    "{field}: cluster file `{cluster}`: a mixed cluster needs at least two [[pool]] tables, got {}",
                    spec.pools.len()
                ));
            }
            Some(spec)
        }
        Some(Ok(text)) if is_cluster_file(cluster) && has_axes => {
            if let Err(e) = toml::from_str::<toml::Table>(text) {
                return Err(format!(
                    "{field}: cluster file `{cluster}` is not TOML: {}",
                    e.to_string().trim()
                ));
            }
            None
        }
        Some(Err(e)) if is_cluster_file(cluster) && has_axes => {
            return Err(format!("{field}: cannot read cluster file `{cluster}`: {e}"));
        }
        None if is_cluster_file(cluster) && has_axes => {
            return Err(format!(
                "{field}: cluster file `{cluster}` was not read (a caller that reads no files, `Grid::parse`): read the files `sweep::cluster_files` lists and use `Grid::parse_with`"
            ));
        }
        _ => None,
    };
    if file_spec.is_none() && !crate::mixed::is_mixed_preset(cluster) {
        if has_axes {
            return Err(format!(
                "{field}: `{cluster}` is not a mixed-accelerator cluster, but the table has mixed_balance / pool_shares: put mixed:... clusters (or cluster files with [[pool]] tables) in a [[train]] table of their own"
            ));
        }
        return Ok(Expanded {
            clusters: vec![(cluster.to_string(), None)],
            balances: vec![None],
        });
    }
    let from_file = file_spec.is_some();
    let spec = match file_spec {
        Some(s) => s,
        None => crate::mixed::parse_preset(cluster).map_err(|e| format!("{field}: {e}"))?,
    };
    if !t.gpus.is_empty() {
        return Err(format!(
            "{at}.gpus: not with a mixed-accelerator cluster (`{cluster}`): its pools set the accelerators; sweep their ratio with pool_shares"
        ));
    }
    if t.cross_site.is_some() || t.diloco_inner_steps.is_some() {
        return Err(format!(
            "{at}.cross_site: `{cluster}` is a mixed-accelerator cluster of pools, not sites"
        ));
    }
    let clusters = if axes.shares.is_empty() {
        vec![(cluster.to_string(), from_file.then(|| spec.to_toml()))]
    } else {
        axes.shares
            .iter()
            .enumerate()
            .map(|(i, share)| {
                let s = spec.with_first_share(*share, &format!("{at}.pool_shares[{i}] on {field}"))?;
                if from_file {
                    return Ok((cluster.to_string(), Some(s.to_toml())));
                }
                s.to_preset()
                    .map(|p| (p, None))
                    .ok_or_else(|| format!("{field}: cannot write the resized spec"))
            })
            .collect::<Result<Vec<_>, String>>()?
    };
    let balances = if axes.balances.is_empty() {
        vec![Some("best".to_string())]
    } else {
        axes.balances.iter().map(|b| Some(b.clone())).collect()
    };
    Ok(Expanded { clusters, balances })
}

impl Grid {
    /// Parse and check a grid file's `text`; `name` (the file's path) starts every error, which
    /// then names the table and field (`train[0].models[1]`) and the problem. Cluster files are
    /// not read: a mixed cluster file's points carry the loader's error (see [`Self::parse_with`]).
    pub fn parse(text: &str, name: &str) -> Result<Grid, String> {
        Grid::parse_with(text, name, &ClusterFiles::new())
    }

    /// [`Self::parse`] with the cluster files the grid names ([`cluster_files`]) as the caller
    /// read them: those with `[[pool]]` tables are mixed-accelerator clusters, expanded as
    /// `mixed:` specs are (`pool_shares`, `mixed_balance`).
    pub fn parse_with(text: &str, name: &str, files: &ClusterFiles) -> Result<Grid, String> {
        let file: GridFile = toml::from_str(text).map_err(|e| format!("{name}: {}", e.to_string().trim()))?;
        Grid::from_file(file, files).map_err(|e| format!("{name}: {e}"))
    }

    fn from_file(file: GridFile, files: &ClusterFiles) -> Result<Grid, String> {
        let max_memory_bytes = file
            .max_memory
            .as_deref()
            .map(|s| {
                let v = crate::collective::parse_size(s).map_err(|e| format!("max_memory: {e}"))?;
                if v < 1048576.0 {
                    return Err(format!("max_memory `{s}`: below 1 MiB, no run fits"));
                }
                Ok(v)
            })
            .transpose()?;
        if file.train.is_empty() && file.collective.is_empty() {
            return Err("no points: add a [[train]] or a [[collective]] table".into());
        }
        // Count first, so a huge grid is refused before it is listed.
        let mut total: usize = 0;
        let mut add = |n: usize| {
            total = total.saturating_add(n);
        };
        // Products saturate: a few long axes must not wrap past the limit.
        let product = |ns: &[usize]| ns.iter().fold(1usize, |acc, &n| acc.saturating_mul(n));
        for t in &file.train {
            add(product(&[
                t.clusters.len(),
                t.pool_shares.len().max(1),
                t.models.len(),
                t.gpus.len().max(1),
                t.plans.len().max(1),
                t.mixed_balance.len().max(1),
            ]));
        }
        for c in &file.collective {
            add(product(&[
                c.clusters.len(),
                c.ops.len(),
                c.ranks.len().max(1),
                c.sizes.len(),
            ]));
        }
        if total > MAX_POINTS {
            return Err(format!(
                "the grid lists {total} points, above the limit of {MAX_POINTS}: split it into several files"
            ));
        }
        let mut jobs = Vec::with_capacity(total);
        for (ti, t) in file.train.iter().enumerate() {
            let at = format!("train[{ti}]");
            nonempty(&t.clusters, &format!("{at}.clusters"))?;
            nonempty(&t.models, &format!("{at}.models"))?;
            for (i, m) in t.models.iter().enumerate() {
                workload::registry::lookup(m)
                    .ok_or_else(|| format!("{at}.models[{i}]: unknown model `{m}` (run `fabricsim models`)"))?;
            }
            for (i, g) in t.gpus.iter().enumerate() {
                positive(Some(*g), &format!("{at}.gpus[{i}]"))?;
            }
            for (i, p) in t.plans.iter().enumerate() {
                p.check(&format!("{at}.plans[{i}]"))?;
            }
            positive(t.gbs, &format!("{at}.gbs"))?;
            positive(t.mbs, &format!("{at}.mbs"))?;
            if t.seq == Some(0) {
                return Err(format!("{at}.seq: must be at least 1"));
            }
            check_zero(t.zero, &format!("{at}.zero"))?;
            if let Some(p) = &t.precision {
                crate::scenario::precision(p).map_err(|e| format!("{at}.precision: {e}"))?;
            }
            if let Some(r) = &t.recompute {
                crate::scenario::recompute(r).map_err(|e| format!("{at}.recompute: {e}"))?;
            }
            if let Some(fw) = &t.framework {
                workload::Framework::parse(fw).map_err(|e| format!("{at}.framework: {e}"))?;
            }
            check_fidelity(&t.fidelity, &at)?;
            check_routing(&t.routing, &at)?;
            let gpus: Vec<Option<u32>> = if t.gpus.is_empty() {
                vec![None]
            } else {
                t.gpus.iter().map(|g| Some(*g)).collect()
            };
            let plans: Vec<PlanEntry> = if t.plans.is_empty() {
                vec![PlanEntry::default()]
            } else {
                t.plans.clone()
            };
            let axes = mixed_axes(t, &at)?;
            for (ci, cluster) in t.clusters.iter().enumerate() {
                let Expanded { clusters, balances } = mixed_points(t, &axes, ci, cluster, &at, files)?;
                for (cluster, mixed_toml) in &clusters {
                    for model in &t.models {
                        for g in &gpus {
                            for p in &plans {
                                for balance in &balances {
                                    let inputs = Box::new(TrainInputs {
                                        cluster: Some(cluster.clone()),
                                        model: Some(model.clone()),
                                        gpus: *g,
                                        tp: p.tp,
                                        pp: p.pp,
                                        dp: p.dp,
                                        cp: p.cp,
                                        ep: p.ep,
                                        vp: p.vp,
                                        gbs: p.gbs.or(t.gbs),
                                        mbs: p.mbs.or(t.mbs),
                                        seq: t.seq,
                                        precision: t.precision.clone(),
                                        recompute: p.recompute.clone().or_else(|| t.recompute.clone()),
                                        zero: p.zero.or(t.zero),
                                        framework: t.framework.clone(),
                                        fidelity: t.fidelity.clone(),
                                        order: p.order.clone(),
                                        routing: t.routing.clone(),
                                        cross_site: t.cross_site.clone(),
                                        diloco_inner_steps: t.diloco_inner_steps,
                                        mixed_balance: balance.clone(),
                                        mixed_cluster_toml: mixed_toml.clone(),
                                        max_memory_bytes,
                                        ..TrainInputs::default()
                                    });
                                    jobs.push(Job::Train {
                                        inputs,
                                        plan: p.label(),
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        for (ci, c) in file.collective.iter().enumerate() {
            let at = format!("collective[{ci}]");
            nonempty(&c.clusters, &format!("{at}.clusters"))?;
            nonempty(&c.ops, &format!("{at}.ops"))?;
            nonempty(&c.sizes, &format!("{at}.sizes"))?;
            for (i, op) in c.ops.iter().enumerate() {
                op.parse::<collective::Op>()
                    .map_err(|e| format!("{at}.ops[{i}]: {e}"))?;
            }
            for (i, r) in c.ranks.iter().enumerate() {
                positive(Some(*r), &format!("{at}.ranks[{i}]"))?;
            }
            let sizes = c
                .sizes
                .iter()
                .enumerate()
                .map(|(i, v)| size_value(v).map_err(|e| format!("{at}.sizes[{i}]: {e}")))
                .collect::<Result<Vec<f64>, String>>()?;
            check_fidelity(&c.fidelity, &at)?;
            check_routing(&c.routing, &at)?;
            if let Some(a) = &c.algo {
                collective::parse_algo(a).map_err(|e| format!("{at}.algo: {e}"))?;
            }
            if let Some(p) = &c.proto {
                p.parse::<collective::constants::Protocol>()
                    .map_err(|e| format!("{at}.proto: {e}"))?;
            }
            let ranks: Vec<Option<u32>> = if c.ranks.is_empty() {
                vec![None]
            } else {
                c.ranks.iter().map(|r| Some(*r)).collect()
            };
            for cluster in &c.clusters {
                for op in &c.ops {
                    for r in &ranks {
                        for s in &sizes {
                            jobs.push(Job::Collective {
                                inputs: CollectiveInputs {
                                    cluster: cluster.clone(),
                                    op: op.clone(),
                                    ranks: *r,
                                    sizes_bytes: Some(vec![*s]),
                                    fidelity: c.fidelity.clone(),
                                    algo: c.algo.clone(),
                                    proto: c.proto.clone(),
                                    routing: c.routing.clone(),
                                    max_memory_bytes,
                                    ..CollectiveInputs::default()
                                },
                            });
                        }
                    }
                }
            }
        }
        // CORRECTNESS: serde_json writes struct fields in declaration order and floats with
        // ryu's shortest round-trip form, so the canonical text (and the fingerprint) is the
        // same on every machine.
        let canonical = serde_json::to_string(&jobs).map_err(|e| e.to_string())?;
        let fingerprint = format!("{:016x}", fnv1a64(canonical.as_bytes()));
        let points = jobs
            .into_iter()
            .enumerate()
            .map(|(i, job)| Point { index: i as u64, job })
            .collect();
        Ok(Grid { points, fingerprint })
    }
}

/// One row of a sweep's output: the point's number, its parameters, its results (units in
/// the names) or its error. Fields that do not apply to the point's kind are empty (CSV) or
/// `null` (JSON). The CSV columns are these fields in this order ([`COLUMNS`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub point: u64,
    pub points_total: u64,
    pub grid_fingerprint: String,
    /// `train` or `collective`.
    pub kind: String,
    pub cluster: String,
    pub model: Option<String>,
    /// Accelerators asked for (empty: the whole cluster).
    pub gpus: Option<u32>,
    /// The plan as written in the grid (`tp=8,pp=4`; empty: derived).
    pub plan: Option<String>,
    pub op: Option<String>,
    /// Ranks asked for (empty: every accelerator).
    pub ranks: Option<u32>,
    pub size_bytes: Option<u64>,
    pub fidelity: String,
    // Training results: the plan as resolved and run.
    pub tp: Option<u32>,
    pub pp: Option<u32>,
    pub dp: Option<u32>,
    pub cp: Option<u32>,
    pub ep: Option<u32>,
    pub vp: Option<u32>,
    pub mbs: Option<u32>,
    pub gbs: Option<u32>,
    pub seq: Option<u64>,
    pub zero: Option<u8>,
    pub recompute: Option<String>,
    pub precision: Option<String>,
    pub framework: Option<String>,
    pub accelerators_used: Option<u64>,
    pub step_time_s: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub tokens_per_s_per_accel: Option<f64>,
    pub mfu: Option<f64>,
    pub memory_bytes_per_accel: Option<u64>,
    pub fits: Option<bool>,
    pub compute_s: Option<f64>,
    pub tp_comm_s: Option<f64>,
    pub cp_comm_s: Option<f64>,
    pub ep_comm_s: Option<f64>,
    pub pp_comm_s: Option<f64>,
    pub dp_comm_s: Option<f64>,
    pub pipeline_bubble_s: Option<f64>,
    /// Multi-site clusters: the same job on one site of the same size, and the loss against it.
    pub single_site_step_time_s: Option<f64>,
    pub multi_site_loss_fraction: Option<f64>,
    // Collective results.
    pub ranks_used: Option<u32>,
    pub time_s: Option<f64>,
    pub algbw_bytes_per_s: Option<f64>,
    pub busbw_bytes_per_s: Option<f64>,
    pub algorithm: Option<String>,
    pub protocol: Option<String>,
    /// Why the point has no results (the message the CLI would print).
    pub error: Option<String>,
    /// Mixed-accelerator points: the columns after `error` ([`MIXED_COLUMNS`]), written only
    /// when the grid has a mixed point (so the output of every other grid is as before).
    #[serde(skip)]
    pub mixed: Option<MixedCols>,
}

/// The columns of a mixed-accelerator point, after [`COLUMNS`] in a grid with one: empty
/// (CSV) or `null` (JSON) on the grid's other rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MixedCols {
    /// The balancing asked for: pp, dp or best.
    pub mixed_balance: Option<String>,
    /// The mode that ran (pp or dp; best runs both and keeps the faster).
    pub mixed_balance_used: Option<String>,
    /// The two pools' accelerators as listed (after `pool_shares`).
    pub first_pool_gpus: Option<u32>,
    pub second_pool_gpus: Option<u32>,
    pub first_pool_share_fraction: Option<f64>,
    /// Σ over pools of each pool's tokens/s running the job alone.
    pub ideal_tokens_per_s: Option<f64>,
    /// `tokens_per_s` ÷ `ideal_tokens_per_s`.
    pub efficiency_vs_ideal_fraction: Option<f64>,
    /// The same with the naive even split (equal layers per stage / micro-batches per replica).
    pub naive_split_efficiency_fraction: Option<f64>,
}

/// The CSV columns of [`MixedCols`], in order (a test keeps the two in step).
pub const MIXED_COLUMNS: &[&str] = &[
    "mixed_balance",
    "mixed_balance_used",
    "first_pool_gpus",
    "second_pool_gpus",
    "first_pool_share_fraction",
    "ideal_tokens_per_s",
    "efficiency_vs_ideal_fraction",
    "naive_split_efficiency_fraction",
];

/// The CSV header: [`Row`]'s fields in order (a test keeps the two in step).
pub const COLUMNS: &[&str] = &[
    "point",
    "points_total",
    "grid_fingerprint",
    "kind",
    "cluster",
    "model",
    "gpus",
    "plan",
    "op",
    "ranks",
    "size_bytes",
    "fidelity",
    "tp",
    "pp",
    "dp",
    "cp",
    "ep",
    "vp",
    "mbs",
    "gbs",
    "seq",
    "zero",
    "recompute",
    "precision",
    "framework",
    "accelerators_used",
    "step_time_s",
    "tokens_per_s",
    "tokens_per_s_per_accel",
    "mfu",
    "memory_bytes_per_accel",
    "fits",
    "compute_s",
    "tp_comm_s",
    "cp_comm_s",
    "ep_comm_s",
    "pp_comm_s",
    "dp_comm_s",
    "pipeline_bubble_s",
    "single_site_step_time_s",
    "multi_site_loss_fraction",
    "ranks_used",
    "time_s",
    "algbw_bytes_per_s",
    "busbw_bytes_per_s",
    "algorithm",
    "protocol",
    "error",
];

/// The header written: [`COLUMNS`], then [`MIXED_COLUMNS`] in a grid with mixed points.
fn header(mixed: bool) -> Vec<&'static str> {
    let mut h = COLUMNS.to_vec();
    if mixed {
        h.extend_from_slice(MIXED_COLUMNS);
    }
    h
}

/// The rows of one share of a sweep, with what identifies the share. The unsharded run is the
/// share 0/1; [`merge`] of all shares gives it back.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub schema_version: u32,
    /// Always `sweep`.
    pub kind: String,
    pub grid_fingerprint: String,
    pub points_total: u64,
    pub shard_index: u64,
    pub shard_count: u64,
    pub rows: Vec<Row>,
    /// The grid has mixed-accelerator points: every row carries [`MIXED_COLUMNS`].
    #[serde(skip)]
    pub mixed_columns: bool,
}

impl SweepReport {
    /// Rows that carry an error.
    pub fn errors(&self) -> usize {
        self.rows.iter().filter(|r| r.error.is_some()).count()
    }
}

/// A row with the point's parameters filled and no results.
fn row_for(p: &Point, grid: &Grid) -> Row {
    let mut r = Row {
        point: p.index,
        points_total: grid.points.len() as u64,
        grid_fingerprint: grid.fingerprint.clone(),
        ..Row::default()
    };
    match &p.job {
        Job::Train { inputs, plan } => {
            r.kind = "train".into();
            r.cluster = inputs.cluster.clone().unwrap_or_default();
            r.model = inputs.model.clone();
            r.gpus = inputs.gpus;
            r.plan = Some(plan.clone());
            r.fidelity = inputs.fidelity.clone().unwrap_or_else(|| "flow".into());
            if inputs.mixed_balance.is_some() {
                let pools = job::mixed_spec(inputs)
                    .ok()
                    .and_then(|s| s.node_pools().map(|[a, b]| (a.1, b.1)));
                r.mixed = Some(MixedCols {
                    mixed_balance: inputs.mixed_balance.clone(),
                    first_pool_gpus: pools.map(|p| p.0),
                    second_pool_gpus: pools.map(|p| p.1),
                    first_pool_share_fraction: pools.filter(|p| p.0 + p.1 > 0).map(|p| p.0 as f64 / (p.0 + p.1) as f64),
                    ..MixedCols::default()
                });
            }
        }
        Job::Collective { inputs } => {
            r.kind = "collective".into();
            r.cluster = inputs.cluster.clone();
            r.op = Some(inputs.op.clone());
            r.ranks = inputs.ranks;
            r.size_bytes = inputs.sizes_bytes.as_ref().and_then(|s| s.first()).map(|s| *s as u64);
            r.fidelity = inputs.fidelity.clone().unwrap_or_else(|| "flow".into());
        }
    }
    r
}

/// Run one point: its row with results, or with the error.
pub fn run_point(p: &Point, grid: &Grid, load: &LoadCluster) -> Row {
    let mut r = row_for(p, grid);
    let outcome = match &p.job {
        Job::Train { inputs, .. } if inputs.mixed_balance.is_some() => {
            job::train_mixed(inputs, load).map(|m| fill_mixed(&mut r, &m))
        }
        Job::Train { inputs, .. } => job::train(None, inputs, load).map(|t| {
            let pl = &t.plan;
            r.tp = Some(pl.tp);
            r.pp = Some(pl.pp);
            r.dp = Some(pl.dp);
            r.cp = Some(pl.cp);
            r.ep = Some(pl.ep);
            r.vp = Some(pl.vp);
            r.mbs = Some(pl.mbs);
            r.gbs = Some(pl.gbs);
            r.seq = Some(pl.seq);
            r.zero = Some(pl.zero);
            r.recompute = Some(pl.recompute.clone());
            r.precision = Some(pl.precision.clone());
            r.framework = Some(t.framework.clone());
            r.accelerators_used = Some(pl.accelerators_used);
            r.step_time_s = Some(t.step_time_s);
            r.tokens_per_s = Some(t.tokens_per_s);
            r.tokens_per_s_per_accel = Some(t.tokens_per_s_per_accel);
            r.mfu = Some(t.mfu);
            r.memory_bytes_per_accel = Some(t.memory_bytes_per_accel.round().max(0.0) as u64);
            r.fits = Some(t.fits);
            let b = &t.breakdown;
            r.compute_s = Some(b.compute_s);
            r.tp_comm_s = Some(b.tp_comm_s);
            r.cp_comm_s = Some(b.cp_comm_s);
            r.ep_comm_s = Some(b.ep_comm_s);
            r.pp_comm_s = Some(b.pp_comm_s);
            r.dp_comm_s = Some(b.dp_comm_s);
            r.pipeline_bubble_s = Some(b.pipeline_bubble_s);
            r.single_site_step_time_s = t.single_site_step_time_s;
            r.multi_site_loss_fraction = t.multi_site_loss_fraction;
        }),
        Job::Collective { inputs } => job::collective(inputs, load).and_then(|c| {
            let row = c.rows.first().ok_or("the collective produced no row")?;
            r.ranks_used = Some(c.ranks);
            r.time_s = Some(row.time_s);
            r.algbw_bytes_per_s = Some(row.algbw_bytes_per_s);
            r.busbw_bytes_per_s = Some(row.busbw_bytes_per_s);
            r.algorithm = Some(row.algorithm.clone());
            r.protocol = Some(row.protocol.clone());
            Ok(())
        }),
    };
    if let Err(e) = outcome {
        r.error = Some(e);
    }
    r
}

/// A mixed point's results: the plan, step, tokens/s and MFU in the columns `train` points
/// use, the efficiencies in [`MixedCols`]; the breakdown and memory columns stay empty (each
/// pool has its own).
fn fill_mixed(r: &mut Row, m: &crate::mixed::MixedRun) {
    let (pl, rep) = (&m.plan, &m.report);
    r.tp = Some(pl.tp);
    r.pp = Some(pl.pp);
    r.dp = Some(pl.dp);
    r.cp = Some(pl.cp);
    r.ep = Some(pl.ep);
    r.vp = Some(pl.vp);
    r.mbs = Some(pl.mbs);
    r.gbs = Some(pl.gbs);
    r.seq = Some(pl.seq);
    r.zero = Some(pl.zero);
    r.recompute = rep
        .modes
        .iter()
        .find(|md| md.balance == rep.balance)
        .map(|md| md.recompute.clone());
    r.precision = Some(format!("{:?}", pl.precision).to_lowercase());
    r.framework = Some(m.framework.clone());
    r.accelerators_used = Some(rep.accelerators_in_cluster);
    r.step_time_s = Some(rep.step_time_s);
    r.tokens_per_s = Some(rep.tokens_per_s);
    r.tokens_per_s_per_accel = Some(rep.tokens_per_s / rep.accelerators_in_cluster.max(1) as f64);
    r.mfu = Some(m.mfu);
    let c = r.mixed.get_or_insert_with(MixedCols::default);
    // Pools given by a cluster spec (not node type and count) are counted once built.
    if let (None, [a, b]) = (c.first_pool_gpus, rep.pools.as_slice()) {
        c.first_pool_gpus = u32::try_from(a.gpus).ok();
        c.second_pool_gpus = u32::try_from(b.gpus).ok();
        c.first_pool_share_fraction = (a.gpus + b.gpus > 0).then(|| a.gpus as f64 / (a.gpus + b.gpus) as f64);
    }
    c.mixed_balance_used = Some(rep.balance.clone());
    c.ideal_tokens_per_s = Some(rep.ideal_tokens_per_s);
    c.efficiency_vs_ideal_fraction = Some(rep.efficiency_vs_ideal_fraction);
    c.naive_split_efficiency_fraction = Some(rep.naive_split_efficiency_fraction);
}

/// Does the grid have a mixed-accelerator point (and so the [`MIXED_COLUMNS`])?
pub fn has_mixed(grid: &Grid) -> bool {
    grid.points
        .iter()
        .any(|p| matches!(&p.job, Job::Train { inputs, .. } if inputs.mixed_balance.is_some()))
}

/// Run the points of `shard` on every core (rayon), calling `progress(done, total)` as points
/// finish (from any thread). Rows come back in point order whatever the threads did.
pub fn run(grid: &Grid, shard: Shard, load: &LoadCluster, progress: &(dyn Fn(usize, usize) + Sync)) -> SweepReport {
    use rayon::prelude::*;
    let mine: Vec<&Point> = grid.points.iter().filter(|p| shard.holds(p.index)).collect();
    let total = mine.len();
    let done = AtomicUsize::new(0);
    progress(0, total);
    let rows: Vec<Row> = mine
        .par_iter()
        .map(|p| {
            let r = run_point(p, grid, load);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            r
        })
        .collect();
    SweepReport {
        schema_version: crate::SCHEMA_VERSION,
        kind: "sweep".into(),
        grid_fingerprint: grid.fingerprint.clone(),
        points_total: grid.points.len() as u64,
        shard_index: shard.index,
        shard_count: shard.count,
        rows,
        mixed_columns: has_mixed(grid),
    }
}

/// What identifies a share (the JSON's header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ShareMeta {
    grid_fingerprint: String,
    points_total: u64,
    shard_index: u64,
    shard_count: u64,
}

/// The JSON layout, the same for a run and a merge: the header keys, then one row per line
/// (compact), so [`merge`] can copy rows verbatim and the bytes match.
fn json_text(m: &ShareMeta, rows: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{{");
    let _ = writeln!(s, "  \"schema_version\": {},", crate::SCHEMA_VERSION);
    let _ = writeln!(s, "  \"kind\": \"sweep\",");
    let _ = writeln!(s, "  \"grid_fingerprint\": \"{}\",", m.grid_fingerprint);
    let _ = writeln!(s, "  \"points_total\": {},", m.points_total);
    let _ = writeln!(s, "  \"shard_index\": {},", m.shard_index);
    let _ = writeln!(s, "  \"shard_count\": {},", m.shard_count);
    if rows.is_empty() {
        let _ = writeln!(s, "  \"rows\": []");
    } else {
        let _ = writeln!(s, "  \"rows\": [");
        for (i, r) in rows.iter().enumerate() {
            let comma = if i + 1 < rows.len() { "," } else { "" };
            let _ = writeln!(s, "    {r}{comma}");
        }
        let _ = writeln!(s, "  ]");
    }
    s.push_str("}\n");
    s
}

fn meta_of(r: &SweepReport) -> ShareMeta {
    ShareMeta {
        grid_fingerprint: r.grid_fingerprint.clone(),
        points_total: r.points_total,
        shard_index: r.shard_index,
        shard_count: r.shard_count,
    }
}

/// One row as compact JSON: [`Row`]'s keys, then [`MixedCols`]' when `mixed`.
fn row_json(row: &Row, mixed: bool) -> Result<String, serde_json::Error> {
    let base = serde_json::to_string(row)?;
    if !mixed {
        return Ok(base);
    }
    let cols = serde_json::to_string(&row.mixed.clone().unwrap_or_default())?;
    // CORRECTNESS: both are non-empty compact objects: `{…}` + `{…}` → `{…,…}`.
    Ok(format!("{},{}", &base[..base.len() - 1], &cols[1..]))
}

/// The report as JSON text (`sweep --json`).
pub fn to_json(r: &SweepReport) -> String {
    let rows: Vec<String> = r
        .rows
        .iter()
        .map(|row| row_json(row, r.mixed_columns).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
        .collect();
    json_text(&meta_of(r), &rows)
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new())
}

fn csv_finish(w: csv::Writer<Vec<u8>>) -> Result<String, String> {
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

/// The report as CSV text (`sweep`): the header, then one row per point. A share's rows carry
/// `points_total` and `grid_fingerprint`, so [`merge`] can check them.
pub fn to_csv(r: &SweepReport) -> Result<String, String> {
    let mut w = csv_writer();
    w.write_record(header(r.mixed_columns)).map_err(|e| e.to_string())?;
    if !r.mixed_columns {
        for row in &r.rows {
            w.serialize(row).map_err(|e| e.to_string())?;
        }
        return csv_finish(w);
    }
    let mut out = csv_finish(w)?;
    for row in &r.rows {
        let line = |v: &dyn erased::Ser| -> Result<String, String> {
            let mut w = csv_writer();
            v.write(&mut w).map_err(|e| e.to_string())?;
            csv_finish(w)
        };
        let base = line(row)?;
        let cols = line(&row.mixed.clone().unwrap_or_default())?;
        // CORRECTNESS: each field is quoted on its own, so two records joined by a comma are
        // one record of both (the first's terminator, one `\n`, dropped).
        out.push_str(base.strip_suffix('\n').unwrap_or(&base));
        out.push(',');
        out.push_str(&cols);
    }
    Ok(out)
}

/// Serialising a [`Row`] or [`MixedCols`] into a CSV writer through one closure type.
mod erased {
    pub trait Ser {
        fn write(&self, w: &mut csv::Writer<Vec<u8>>) -> csv::Result<()>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn write(&self, w: &mut csv::Writer<Vec<u8>>) -> csv::Result<()> {
            w.serialize(self)
        }
    }
}

/// One share's output given to [`merge`]: its name (for messages) and its text.
#[derive(Debug, Clone, Copy)]
pub struct Share<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// A share as JSON: the header and the rows as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonShare<'a> {
    schema_version: u32,
    kind: String,
    grid_fingerprint: String,
    points_total: u64,
    shard_index: u64,
    shard_count: u64,
    #[serde(borrow)]
    rows: Vec<&'a serde_json::value::RawValue>,
}

/// Only the fields of a row [`merge`] checks.
#[derive(Deserialize)]
struct RowKey {
    point: u64,
    points_total: u64,
    grid_fingerprint: String,
}

fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Join the outputs of every share of one sweep into the output of the unsharded run, byte for
/// byte (CSV or JSON, as the shares are). Refuses, naming the inputs: a mix of formats, shares
/// of different grids, a share given twice, a missing share or point, a point in two inputs.
pub fn merge(shares: &[Share]) -> Result<String, String> {
    if shares.is_empty() {
        return Err("nothing to merge: give the output of every shard".into());
    }
    let json = is_json(shares[0].text);
    if let Some(other) = shares.iter().find(|s| is_json(s.text) != json) {
        return Err(format!(
            "`{}` is {} but `{}` is {}: merge shares of one format",
            shares[0].name,
            if json { "JSON" } else { "CSV" },
            other.name,
            if json { "CSV" } else { "JSON" }
        ));
    }
    if json {
        merge_json(shares)
    } else {
        merge_csv(shares)
    }
}

/// Checks shared by both formats: every point exactly once, all of one grid.
struct Collector<'a> {
    /// (fingerprint, points_total) and the input that set it.
    grid: Option<(String, u64, &'a str)>,
    /// point → (input, row as written).
    rows: BTreeMap<u64, (&'a str, String)>,
}

impl<'a> Collector<'a> {
    fn new() -> Self {
        Collector {
            grid: None,
            rows: BTreeMap::new(),
        }
    }

    fn grid(&mut self, fingerprint: &str, total: u64, name: &'a str) -> Result<(), String> {
        match &self.grid {
            None => {
                self.grid = Some((fingerprint.to_string(), total, name));
                Ok(())
            }
            Some((f, t, first)) if f != fingerprint || *t != total => Err(format!(
                "`{name}` is a share of another grid (fingerprint {fingerprint}, {total} points) than `{first}` (fingerprint {f}, {t} points): merge the shares of one sweep"
            )),
            Some(_) => Ok(()),
        }
    }

    fn row(&mut self, point: u64, name: &'a str, text: String) -> Result<(), String> {
        if let Some((first, _)) = self.rows.get(&point) {
            return Err(format!(
                "point {point} appears twice (in `{first}`, then in `{name}`): a share was given twice or shards overlap"
            ));
        }
        self.rows.insert(point, (name, text));
        Ok(())
    }

    /// The rows in point order, or which points are missing.
    fn complete(self) -> Result<(String, u64, Vec<String>), String> {
        let Some((fingerprint, total, _)) = self.grid else {
            return Err("no rows in any input: cannot tell which grid these shares belong to".into());
        };
        if let Some((&p, (name, _))) = self.rows.iter().find(|(&p, _)| p >= total) {
            return Err(format!("`{name}` has point {p}, beyond the grid's {total} points"));
        }
        let missing: Vec<u64> = (0..total).filter(|p| !self.rows.contains_key(p)).collect();
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(10).map(|p| p.to_string()).collect();
            return Err(format!(
                "{} of {total} points are in none of the inputs ({}{}): a shard is missing",
                missing.len(),
                shown.join(", "),
                if missing.len() > 10 { ", …" } else { "" }
            ));
        }
        Ok((fingerprint, total, self.rows.into_values().map(|(_, t)| t).collect()))
    }
}

fn merge_json(shares: &[Share]) -> Result<String, String> {
    let mut c = Collector::new();
    // shard_count, and which input holds each shard index.
    let mut count: Option<(u64, &str)> = None;
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    for s in shares {
        let j: JsonShare =
            serde_json::from_str(s.text).map_err(|e| format!("`{}`: not the JSON of a sweep: {e}", s.name))?;
        if j.kind != "sweep" || j.schema_version != crate::SCHEMA_VERSION {
            return Err(format!(
                "`{}`: kind `{}`, schema {}; expected a sweep of schema {}",
                s.name,
                j.kind,
                j.schema_version,
                crate::SCHEMA_VERSION
            ));
        }
        c.grid(&j.grid_fingerprint, j.points_total, s.name)?;
        match count {
            None => count = Some((j.shard_count, s.name)),
            Some((n, first)) if n != j.shard_count => {
                return Err(format!(
                    "`{}` is shard {}/{} but `{first}` is one of {n} shards: merge the shares of one split",
                    s.name, j.shard_index, j.shard_count
                ))
            }
            Some(_) => {}
        }
        if j.shard_index >= j.shard_count {
            return Err(format!(
                "`{}`: shard {}/{} does not exist",
                s.name, j.shard_index, j.shard_count
            ));
        }
        if let Some(first) = seen.insert(j.shard_index, s.name) {
            return Err(format!(
                "shard {}/{} is given twice: `{first}` and `{}`",
                j.shard_index, j.shard_count, s.name
            ));
        }
        let shard = Shard {
            index: j.shard_index,
            count: j.shard_count,
        };
        for raw in j.rows {
            let k: RowKey =
                serde_json::from_str(raw.get()).map_err(|e| format!("`{}`: a row without its point: {e}", s.name))?;
            if k.grid_fingerprint != j.grid_fingerprint || k.points_total != j.points_total {
                return Err(format!("`{}`: point {} belongs to another grid", s.name, k.point));
            }
            if !shard.holds(k.point) {
                return Err(format!(
                    "`{}`: point {} is not in shard {}/{}",
                    s.name, k.point, shard.index, shard.count
                ));
            }
            c.row(k.point, s.name, raw.get().to_string())?;
        }
    }
    if let Some((n, _)) = count {
        let missing: Vec<String> = (0..n)
            .filter(|i| !seen.contains_key(i))
            .map(|i| format!("{i}/{n}"))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "shard {} missing: give the output of every shard",
                missing.join(", ")
            ));
        }
    }
    let (fingerprint, total, rows) = c.complete()?;
    Ok(json_text(
        &ShareMeta {
            grid_fingerprint: fingerprint,
            points_total: total,
            shard_index: 0,
            shard_count: 1,
        },
        &rows,
    ))
}

fn merge_csv(shares: &[Share]) -> Result<String, String> {
    let mut c = Collector::new();
    // The header of the first share: with or without the mixed columns (the grid decides, so
    // every share of one grid has the same).
    let mut want: Option<Vec<&'static str>> = None;
    for s in shares {
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(s.text.as_bytes());
        let mut records = rd.records();
        let head = records
            .next()
            .ok_or_else(|| format!("`{}`: empty file, not the CSV of a sweep", s.name))?
            .map_err(|e| format!("`{}`: {e}", s.name))?;
        let head: Vec<&str> = head.iter().collect();
        let this = [header(false), header(true)]
            .into_iter()
            .find(|h| *h == head)
            .ok_or_else(|| {
                format!(
                    "`{}`: not the CSV of a sweep of this version (its header differs from `{}`)",
                    s.name,
                    COLUMNS[..4].join(",")
                )
            })?;
        match &want {
            None => want = Some(this),
            Some(w) if *w != this => {
                return Err(format!(
                    "`{}`: its header {} the mixed-accelerator columns and the first share's does not: merge the shares of one grid",
                    s.name,
                    if this.len() > w.len() { "has" } else { "lacks" }
                ))
            }
            Some(_) => {}
        }
        for rec in records {
            let rec = rec.map_err(|e| format!("`{}`: {e}", s.name))?;
            let field = |i: usize| rec.get(i).unwrap_or("");
            let line = rec.position().map_or(0, |p| p.line());
            let point: u64 = field(0)
                .parse()
                .map_err(|_| format!("`{}` line {line}: point `{}` is not a number", s.name, field(0)))?;
            let total: u64 = field(1)
                .parse()
                .map_err(|_| format!("`{}` line {line}: points_total `{}` is not a number", s.name, field(1)))?;
            c.grid(field(2), total, s.name)?;
            let mut w = csv_writer();
            w.write_record(&rec).map_err(|e| e.to_string())?;
            c.row(point, s.name, csv_finish(w)?)?;
        }
    }
    let (_, _, rows) = c.complete()?;
    let mut w = csv_writer();
    w.write_record(want.unwrap_or_else(|| header(false)))
        .map_err(|e| e.to_string())?;
    let mut out = csv_finish(w)?;
    for r in rows {
        out.push_str(&r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`COLUMNS`] names [`Row`]'s fields in order.
    #[test]
    fn columns_follow_the_row() {
        let mut w = csv::WriterBuilder::new().has_headers(true).from_writer(Vec::new());
        w.serialize(Row::default()).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(first, header(false).join(","));
        let mut w = csv::WriterBuilder::new().has_headers(true).from_writer(Vec::new());
        w.serialize(MixedCols::default()).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next().unwrap(), MIXED_COLUMNS.join(","));
    }

    #[test]
    fn shard_parse() {
        assert_eq!(Shard::parse("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(Shard::parse("3/4"), Ok(Shard { index: 3, count: 4 }));
        for bad in ["4/4", "1/0", "x/2", "2", "-1/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert!(Shard::parse("4/4").unwrap_err().contains("0/4 … 3/4"));
    }

    /// The fingerprint of `[[train]] clusters = ["fat-tree:gpus=64"] models = ["llama-3.1-8b"]`
    /// as main computed it before the mixed axes (`fabricsim sweep --count`).
    const PLAIN_FINGERPRINT: &str = "855121b73056704c";

    fn check_err(text: &str, want: &[&str]) {
        let e = Grid::parse(text, "g.toml").unwrap_err();
        assert!(e.starts_with("g.toml: "), "{e}");
        for w in want {
            assert!(e.contains(w), "`{e}` lacks `{w}`");
        }
    }

    #[test]
    fn bad_grids_name_file_field_and_problem() {
        check_err("", &["no points"]);
        check_err(
            "[[train]]\nclusters = []\nmodels = [\"llama-3.1-8b\"]\n",
            &["train[0].clusters", "empty"],
        );
        check_err(
            "[[train]]\nclusters = [\"x\"]\nmodels = [\"llama-3.1-8b\", \"nope\"]\n",
            &["train[0].models[1]", "unknown model `nope`"],
        );
        check_err("[[train]]\nclusterz = [\"x\"]\n", &["unknown field `clusterz`"]);
        check_err(
            "[[train]]\nclusters = [\"x\"]\nmodels = [\"llama-3.1-8b\"]\nplans = [{tp = 0}]\n",
            &["train[0].plans[0].tp", "at least 1"],
        );
        check_err(
            "[[collective]]\nclusters = [\"x\"]\nops = [\"all_reduce\", \"all_mix\"]\nsizes = [8]\n",
            &["collective[0].ops[1]"],
        );
        check_err(
            "[[collective]]\nclusters = [\"x\"]\nops = [\"all_reduce\"]\nsizes = [\"8Q\"]\n",
            &["collective[0].sizes[0]", "not a size"],
        );
        check_err(
            "[[collective]]\nclusters = [\"x\"]\nops = [\"all_reduce\"]\nsizes = [-8]\n",
            &["collective[0].sizes[0]"],
        );
        check_err(
            "[[collective]]\nclusters = [\"x\"]\nops = [\"all_reduce\"]\nsizes = [8]\nfidelity = \"exact\"\n",
            &["collective[0].fidelity", "exact"],
        );
        // 50 clusters × 2 ops × 100 ranks × 101 sizes = 1,010,000 points.
        let n = |k: usize| (1..=k).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
        let clusters = (0..50).map(|i| format!("\"c{i}\"")).collect::<Vec<_>>().join(", ");
        let huge = format!(
            "[[collective]]\nclusters = [{clusters}]\nops = [\"all_reduce\", \"all_gather\"]\nranks = [{}]\nsizes = [{}]\n",
            n(100),
            n(101)
        );
        check_err(&huge, &["1010000 points", "above the limit"]);
        // 8192⁵ = 2⁶⁵ points over five train axes: the count saturates instead of wrapping
        // to 0 and passing the limit.
        let list = |f: &dyn Fn(usize) -> String| (1..=8192).map(f).collect::<Vec<_>>().join(", ");
        let wrap = format!(
            "[[train]]\nclusters = [{}]\npool_shares = [{}]\nmodels = [{}]\ngpus = [{}]\nmixed_balance = [{}]\n",
            list(&|i| format!("\"c{i}\"")),
            list(&|_| "0.5".to_string()),
            list(&|i| format!("\"m{i}\"")),
            list(&|i| i.to_string()),
            list(&|_| "\"pp\"".to_string()),
        );
        check_err(&wrap, &["above the limit"]);
    }

    /// Points come in the documented order, numbered from 0, and the fingerprint ignores
    /// comments and layout.
    #[test]
    fn expansion_order_and_fingerprint() {
        let a = "[[collective]]\nclusters = [\"c1\", \"c2\"]\nops = [\"all_reduce\"]\nranks = [8, 16]\nsizes = [\"1K\", 2048]\n";
        let g = Grid::parse(a, "a").unwrap();
        assert_eq!(g.points.len(), 8);
        let keys: Vec<(String, Option<u32>, f64)> = g
            .points
            .iter()
            .map(|p| match &p.job {
                Job::Collective { inputs } => (
                    inputs.cluster.clone(),
                    inputs.ranks,
                    inputs.sizes_bytes.as_ref().unwrap()[0],
                ),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(keys[0], ("c1".into(), Some(8), 1024.0));
        assert_eq!(keys[1], ("c1".into(), Some(8), 2048.0));
        assert_eq!(keys[2], ("c1".into(), Some(16), 1024.0));
        assert_eq!(keys[4], ("c2".into(), Some(8), 1024.0));
        let b = format!("# a comment\n\n{}", a.replace(" = ", "="));
        assert_eq!(Grid::parse(&b, "b").unwrap().fingerprint, g.fingerprint);
        let c = a.replace("2048", "4096");
        assert_ne!(Grid::parse(&c, "c").unwrap().fingerprint, g.fingerprint);
    }

    fn fake_report(n: u64, shard: Shard) -> SweepReport {
        fake_report_of(n, shard, false)
    }

    /// With `mixed`: every other row a mixed point (its columns partly filled, a quoted comma
    /// in one), the grid's rows all carrying the mixed columns.
    fn fake_report_of(n: u64, shard: Shard, mixed: bool) -> SweepReport {
        let rows = (0..n)
            .filter(|p| shard.holds(*p))
            .map(|p| Row {
                mixed: (mixed && p % 2 == 1).then(|| MixedCols {
                    mixed_balance: Some("pp,dp".into()),
                    first_pool_gpus: Some(8 * p as u32),
                    efficiency_vs_ideal_fraction: (p % 3 != 0).then(|| 1.0 / (p as f64 + 1.5)),
                    ..MixedCols::default()
                }),
                point: p,
                points_total: n,
                grid_fingerprint: "00ff".into(),
                kind: "collective".into(),
                cluster: "a,b \"quoted\"".into(),
                time_s: Some(1.0 / (p as f64 + 3.0)),
                error: (p % 3 == 0).then(|| "line one\nline two".to_string()),
                ..Row::default()
            })
            .collect();
        SweepReport {
            schema_version: crate::SCHEMA_VERSION,
            kind: "sweep".into(),
            grid_fingerprint: "00ff".into(),
            points_total: n,
            shard_index: shard.index,
            shard_count: shard.count,
            rows,
            mixed_columns: mixed,
        }
    }

    /// Merging the shares of a split gives the unsharded bytes, for any split, in both formats
    /// (quotes, commas and newlines in fields included).
    #[test]
    fn merge_of_shares_is_the_whole() {
        for n in [0u64, 1, 5, 13] {
            for k in 1..=6u64 {
                let whole = fake_report(n, Shard::ALL);
                let parts: Vec<SweepReport> = (0..k).map(|i| fake_report(n, Shard { index: i, count: k })).collect();
                let csvs: Vec<String> = parts.iter().map(|p| to_csv(p).unwrap()).collect();
                let jsons: Vec<String> = parts.iter().map(to_json).collect();
                let shares = |v: &[String]| -> Vec<(String, String)> {
                    v.iter()
                        .enumerate()
                        .rev()
                        .map(|(i, t)| (format!("s{i}"), t.clone()))
                        .collect()
                };
                let csv_shares = shares(&csvs);
                let json_shares = shares(&jsons);
                let as_shares = |v: &[(String, String)]| -> Vec<(String, String)> { v.to_vec() };
                let m = |v: Vec<(String, String)>| {
                    let s: Vec<Share> = v.iter().map(|(n, t)| Share { name: n, text: t }).collect();
                    merge(&s)
                };
                if n == 0 {
                    // No rows anywhere: nothing says which grid; refused.
                    assert!(m(as_shares(&csv_shares)).is_err());
                    assert_eq!(m(as_shares(&json_shares)).unwrap(), to_json(&whole));
                    continue;
                }
                assert_eq!(
                    m(as_shares(&csv_shares)).unwrap(),
                    to_csv(&whole).unwrap(),
                    "csv n={n} k={k}"
                );
                assert_eq!(m(as_shares(&json_shares)).unwrap(), to_json(&whole), "json n={n} k={k}");
            }
        }
    }

    /// A grid with mixed points: every row carries the mixed columns (empty or null on the
    /// others), and the merge of any split is the whole, in both formats.
    #[test]
    fn merge_of_mixed_shares_is_the_whole() {
        for n in [1u64, 7, 13] {
            let whole = fake_report_of(n, Shard::ALL, true);
            let csv = to_csv(&whole).unwrap();
            assert!(csv.lines().next().unwrap().ends_with(&MIXED_COLUMNS.join(",")));
            let width = header(true).len();
            let mut rd = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
            for rec in rd.records() {
                assert_eq!(rec.unwrap().len(), width);
            }
            let json = to_json(&whole);
            for line in json.lines().filter(|l| l.trim_start().starts_with("{\"point\"")) {
                let v: serde_json::Value = serde_json::from_str(line.trim().trim_end_matches(',')).unwrap();
                assert!(v.get("naive_split_efficiency_fraction").is_some(), "{line}");
            }
            for k in 1..=4u64 {
                let parts: Vec<SweepReport> = (0..k)
                    .map(|i| fake_report_of(n, Shard { index: i, count: k }, true))
                    .collect();
                for (fmt, texts, want) in [
                    (
                        "csv",
                        parts.iter().map(|p| to_csv(p).unwrap()).collect::<Vec<_>>(),
                        &csv,
                    ),
                    ("json", parts.iter().map(to_json).collect::<Vec<_>>(), &json),
                ] {
                    let shares: Vec<Share> = texts.iter().map(|t| Share { name: "s", text: t }).collect();
                    assert_eq!(&merge(&shares).unwrap(), want, "{fmt} n={n} k={k}");
                }
            }
        }
        // A CSV share with the mixed columns and one without are of different grids.
        let a = to_csv(&fake_report_of(4, Shard { index: 0, count: 2 }, true)).unwrap();
        let b = to_csv(&fake_report_of(4, Shard { index: 1, count: 2 }, false)).unwrap();
        let e = merge(&[Share { name: "a", text: &a }, Share { name: "b", text: &b }]).unwrap_err();
        assert!(
            e.contains("`b`") && e.contains("lacks the mixed-accelerator columns"),
            "{e}"
        );
    }

    /// Mixed tables: clusters × pool_shares × models × gpus × plans × mixed_balance; the
    /// resized spec is the point's cluster; a grid without mixed clusters keeps its
    /// fingerprint (pinned: the value before the mixed axes existed).
    #[test]
    fn mixed_axes_expand_in_order() {
        let t = "[[train]]\nclusters = [\"mixed:first_gpus=64,second_gpus=64\"]\npool_shares = [0.25, 0.75]\nmodels = [\"llama-3.1-8b\", \"llama-3.1-70b\"]\nmixed_balance = [\"pp\", \"dp\", \"best\"]\n";
        let g = Grid::parse(t, "m").unwrap();
        assert_eq!(g.points.len(), 12);
        assert!(has_mixed(&g));
        let key = |i: usize| match &g.points[i].job {
            Job::Train { inputs, .. } => (
                inputs.cluster.clone().unwrap(),
                inputs.model.clone().unwrap(),
                inputs.mixed_balance.clone().unwrap(),
            ),
            _ => unreachable!(),
        };
        let c1 = "mixed:first=dgx-h100,first_gpus=32,second=dgx-a100,second_gpus=96,link=rdma";
        assert_eq!(key(0), (c1.into(), "llama-3.1-8b".into(), "pp".into()));
        assert_eq!(key(2), (c1.into(), "llama-3.1-8b".into(), "best".into()));
        assert_eq!(key(3), (c1.into(), "llama-3.1-70b".into(), "pp".into()));
        assert_eq!(
            key(6).0,
            "mixed:first=dgx-h100,first_gpus=96,second=dgx-a100,second_gpus=32,link=rdma"
        );
        // No axes: one point, balance best, the cluster as written.
        let one = Grid::parse("[[train]]\nclusters = [\"mixed\"]\nmodels = [\"llama-3.1-8b\"]\n", "o").unwrap();
        assert_eq!(one.points.len(), 1);
        assert!(
            matches!(&one.points[0].job, Job::Train { inputs, .. } if inputs.mixed_balance.as_deref() == Some("best") && inputs.cluster.as_deref() == Some("mixed"))
        );
        let plain = Grid::parse(
            "[[train]]\nclusters = [\"fat-tree:gpus=64\"]\nmodels = [\"llama-3.1-8b\"]\n",
            "p",
        )
        .unwrap();
        assert!(!has_mixed(&plain));
        assert_eq!(plain.fingerprint, PLAIN_FINGERPRINT);
    }

    #[test]
    fn merge_refuses_missing_duplicate_and_foreign_shares() {
        let parts: Vec<SweepReport> = (0..4).map(|i| fake_report(10, Shard { index: i, count: 4 })).collect();
        let csv: Vec<String> = parts.iter().map(|p| to_csv(p).unwrap()).collect();
        let json: Vec<String> = parts.iter().map(to_json).collect();
        let m = |v: &[(&str, &str)]| merge(&v.iter().map(|(n, t)| Share { name: n, text: t }).collect::<Vec<_>>());
        // Missing.
        let e = m(&[("a", &csv[0]), ("b", &csv[1]), ("c", &csv[2])]).unwrap_err();
        assert!(e.contains("missing") && e.contains("3, 7"), "{e}");
        let e = m(&[("a", &json[0]), ("b", &json[1]), ("c", &json[2])]).unwrap_err();
        assert!(e.contains("shard 3/4 missing"), "{e}");
        // Duplicate.
        let e = m(&[
            ("a", &csv[0]),
            ("b", &csv[1]),
            ("c", &csv[2]),
            ("d", &csv[3]),
            ("e", &csv[1]),
        ])
        .unwrap_err();
        assert!(e.contains("in `b`, then in `e`"), "{e}");
        let e = m(&[("a", &json[0]), ("b", &json[1]), ("c", &json[1]), ("d", &json[3])]).unwrap_err();
        assert!(e.contains("given twice"), "{e}");
        // Another grid.
        let other = to_csv(&fake_report(12, Shard { index: 3, count: 4 })).unwrap();
        let e = m(&[("a", &csv[0]), ("b", &csv[1]), ("c", &csv[2]), ("x", &other)]).unwrap_err();
        assert!(e.contains("another grid"), "{e}");
        // Another split.
        let two = to_json(&fake_report(10, Shard { index: 1, count: 2 }));
        let e = m(&[("a", &json[0]), ("x", &two)]).unwrap_err();
        assert!(e.contains("one of 4 shards"), "{e}");
        // Mixed formats.
        let e = m(&[("a", &json[0]), ("b", &csv[1])]).unwrap_err();
        assert!(e.contains("one format"), "{e}");
        // Not a sweep.
        let e = m(&[("a", "x,y\n1,2\n")]).unwrap_err();
        assert!(e.contains("not the CSV of a sweep"), "{e}");
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        fn list(items: &[String]) -> String {
            format!(
                "[{}]",
                items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ")
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Any text: an answer, never a panic; an error always starts with the file name.
            #[test]
            fn any_text_parses_or_errs(text in "\\PC{0,200}") {
                if let Err(e) = Grid::parse(&text, "any.toml") {
                    prop_assert!(e.starts_with("any.toml: "));
                }
            }

            /// Grids made of valid pieces list the product of their dimensions, the same twice,
            /// and every split shares them out exactly once.
            #[test]
            fn points_are_the_product_and_shards_partition(
                clusters in 1usize..4, gpus in 0usize..4, plans in 0usize..4,
                ranks in 0usize..3, sizes in 1usize..5, shards in 1u64..7,
            ) {
                let cl: Vec<String> = (0..clusters).map(|i| format!("fat-tree:gpus={}", 64 << i)).collect();
                let mut t = format!("[[train]]\nclusters = {}\nmodels = [\"llama-3.1-8b\", \"llama-3.1-70b\"]\n", list(&cl));
                if gpus > 0 {
                    t += &format!("gpus = [{}]\n", (0..gpus).map(|i| (8u32 << i).to_string()).collect::<Vec<_>>().join(", "));
                }
                if plans > 0 {
                    t += &format!("plans = [{}]\n", (0..plans).map(|i| format!("{{ tp = {} }}", 1 << i)).collect::<Vec<_>>().join(", "));
                }
                t += &format!("[[collective]]\nclusters = {}\nops = [\"all_reduce\"]\nsizes = [{}]\n", list(&cl),
                    (0..sizes).map(|i| (1u64 << (10 + i)).to_string()).collect::<Vec<_>>().join(", "));
                if ranks > 0 {
                    t += &format!("ranks = [{}]\n", (0..ranks).map(|i| (2u32 << i).to_string()).collect::<Vec<_>>().join(", "));
                }
                let g = Grid::parse(&t, "p.toml").unwrap();
                let want = clusters * 2 * gpus.max(1) * plans.max(1) + clusters * ranks.max(1) * sizes;
                prop_assert_eq!(g.points.len(), want);
                let g2 = Grid::parse(&t, "p.toml").unwrap();
                prop_assert_eq!(&g.fingerprint, &g2.fingerprint);
                for (i, p) in g.points.iter().enumerate() {
                    prop_assert_eq!(p.index, i as u64);
                    let held = (0..shards).filter(|s| Shard { index: *s, count: shards }.holds(p.index)).count();
                    prop_assert_eq!(held, 1);
                }
            }

            /// One misspelt key in an otherwise valid grid: the error names the file and the key.
            #[test]
            fn misspelt_keys_are_named(key in "[a-z]{3,9}") {
                prop_assume!(!["clusters", "models", "gpus", "plans", "seq", "gbs", "mbs", "precision",
                    "recompute", "zero", "framework", "fidelity", "routing"].contains(&key.as_str()));
                let t = format!("[[train]]\nclusters = [\"x\"]\nmodels = [\"llama-3.1-8b\"]\n{key} = 1\n");
                let e = Grid::parse(&t, "m.toml").unwrap_err();
                prop_assert!(e.starts_with("m.toml: "));
                let needle = format!("unknown field `{}`", key);
                prop_assert!(e.contains(&needle), "{}", e);
            }
        }
    }
}
