//! `fabricsim validate --collectives CSV`: rebuild each measured row's cluster from its columns,
//! predict its bus bandwidth and report the error. Any CSV with the columns of the published
//! measurements file works; rows that cannot be simulated are listed with the reason.
//!
//! Rules (documented in docs/calibration.md):
//! - accelerator → its standard system: H100 → DGX H100, H200 / H800 / A100 / B200 / B300 → the
//!   HGX of that GPU, GB200 / GB300 → an NVL72 rack, MI300X → the MI300X platform, Gaudi 3 →
//!   HLS-3. Several nodes → a rail-optimized fat-tree of those nodes, with the per-GPU
//!   scale-out speed read from `inter_node_fabric` ("8x 400G ... per node", "32x100 Gb/s per
//!   instance").
//! - `algorithm` is honoured: NVLS, ring, tree, CollNet; "not NVLS"/"NVLS disabled" → ring;
//!   "default"/unstated → the automatic choice.
//! - `message_bytes`: a number; "large (not stated)" → 8 GiB, the top of nccl-tests' usual sweep;
//!   "peak over A-B sweep" / "A-B sweep" → the best busbw over that sweep.
//! - measured = `busbw_GBps`, else `busbw_GBps_derived`, else algbw × the nccl-tests factor.

use crate::collective::{parse_size, parse_sizes};
use collective::simulate::{run_sizes, Options};
use collective::{Algo, Op};
use fabric::presets::params::Value;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Serialize, Clone, Default)]
pub struct Compared {
    pub row_id: String,
    /// The row's `source_group` column, or the repository its `source` names first (the unit
    /// `--cross-validate` holds out).
    pub source_group: String,
    pub system: String,
    pub op: String,
    pub ranks: u32,
    /// A message size, always whole bytes (serialised as an integer).
    #[serde(serialize_with = "crate::whole_bytes")]
    pub size_bytes: f64,
    pub algorithm: String,
    /// The cluster the row became (a preset spec), for `--explain`.
    pub cluster: String,
    pub metric: String,
    pub measured: f64,
    pub predicted: f64,
    pub error_pct: f64,
    /// What the row omits that a stated rule supplied; a row with any is an *assumed* row,
    /// summarised on its own line and left out of the headline median.
    pub assumptions: Vec<String>,
    /// Details the row's system defines and the row does not repeat (standard NIC, flagship SKU
    /// of a named architecture), said so but not making the row an assumed one.
    pub defaults: Vec<String>,
}

/// What `replay` needs of a compared row, whatever its kind.
pub trait ValidatedRow: Serialize {
    fn set_id(&mut self, id: String);
    fn id(&self) -> &str;
    fn error_pct(&self) -> f64;
    fn assumptions(&self) -> &[String];
    fn source_group(&self) -> &str;
    fn set_source_group(&mut self, g: String);
}

/// `ValidatedRow` for a row struct with `row_id`, `source_group`, `error_pct` and `assumptions`.
#[macro_export]
macro_rules! impl_validated_row {
    ($t:ty) => {
        impl $crate::validate::ValidatedRow for $t {
            fn set_id(&mut self, id: String) {
                self.row_id = id;
            }
            fn id(&self) -> &str {
                &self.row_id
            }
            fn error_pct(&self) -> f64 {
                self.error_pct
            }
            fn assumptions(&self) -> &[String] {
                &self.assumptions
            }
            fn source_group(&self) -> &str {
                &self.source_group
            }
            fn set_source_group(&mut self, g: String) {
                self.source_group = g;
            }
        }
    };
}
impl_validated_row!(Compared);

/// A measurements CSV's header and its records, each also as column → value.
pub type Records = (csv::StringRecord, Vec<(HashMap<String, String>, csv::StringRecord)>);

/// Read a measurements CSV into [`Records`] (no column checks: `replay` does those).
pub fn records(text: &str) -> Result<Records, String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .clone();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let m = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        out.push((m, rec));
    }
    Ok((headers, out))
}

#[derive(Debug, Serialize, Clone)]
pub struct Skipped {
    pub row_id: String,
    pub reason: String,
}

/// Errors of one `source_group`.
#[derive(Debug, Serialize, Clone)]
pub struct GroupSummary {
    pub source_group: String,
    pub rows: usize,
    pub median_abs_error_pct: f64,
    pub max_abs_error_pct: f64,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub rows_compared: usize,
    pub rows_skipped: usize,
    /// Headline: over the rows that state their setup (`rows_stated`).
    pub median_abs_error_pct: Option<f64>,
    pub max_abs_error_pct: Option<f64>,
    pub rows_stated: usize,
    /// Rows whose layout, batch or model dimensions came from a stated rule.
    pub rows_assumed: usize,
    pub assumed_rows: Vec<String>,
    pub assumed_median_abs_error_pct: Option<f64>,
    pub assumed_max_abs_error_pct: Option<f64>,
    /// Over every compared row, stated and assumed.
    pub all_median_abs_error_pct: Option<f64>,
    pub all_max_abs_error_pct: Option<f64>,
    /// Per `source_group`, in first-seen order.
    pub by_source_group: Vec<GroupSummary>,
}

#[derive(Debug, Serialize)]
pub struct Report<R = Compared> {
    pub schema_version: u32,
    pub kind: String,
    /// Where the rows came from: `bundled testdata/collectives.csv` (built into the binary) or
    /// the path the user gave.
    pub data_set: String,
    pub rows: Vec<R>,
    pub skipped: Vec<Skipped>,
    pub summary: Summary,
}

/// Median of absolute values (`None` when empty).
pub fn median_abs(v: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut e: Vec<f64> = v.into_iter().map(f64::abs).collect();
    e.sort_by(f64::total_cmp);
    let n = e.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(e[n / 2]),
        _ => Some((e[n / 2 - 1] + e[n / 2]) / 2.0),
    }
}

fn max_abs(v: impl IntoIterator<Item = f64>) -> Option<f64> {
    v.into_iter().map(f64::abs).max_by(f64::total_cmp)
}

/// The summary of compared rows.
pub fn summarise<R: ValidatedRow>(rows: &[R], skipped: usize) -> Summary {
    let stated = || {
        rows.iter()
            .filter(|r| r.assumptions().is_empty())
            .map(|r| r.error_pct())
    };
    let assumed = || {
        rows.iter()
            .filter(|r| !r.assumptions().is_empty())
            .map(|r| r.error_pct())
    };
    let mut groups: Vec<(String, Vec<f64>)> = Vec::new();
    for r in rows {
        match groups.iter_mut().find(|(g, _)| g == r.source_group()) {
            Some((_, v)) => v.push(r.error_pct()),
            None => groups.push((r.source_group().to_string(), vec![r.error_pct()])),
        }
    }
    Summary {
        rows_compared: rows.len(),
        rows_skipped: skipped,
        median_abs_error_pct: median_abs(stated()),
        max_abs_error_pct: max_abs(stated()),
        rows_stated: stated().count(),
        rows_assumed: assumed().count(),
        assumed_rows: rows
            .iter()
            .filter(|r| !r.assumptions().is_empty())
            .map(|r| r.id().to_string())
            .collect(),
        assumed_median_abs_error_pct: median_abs(assumed()),
        assumed_max_abs_error_pct: max_abs(assumed()),
        all_median_abs_error_pct: median_abs(rows.iter().map(|r| r.error_pct())),
        all_max_abs_error_pct: max_abs(rows.iter().map(|r| r.error_pct())),
        by_source_group: groups
            .into_iter()
            .map(|(g, v)| GroupSummary {
                source_group: g,
                rows: v.len(),
                median_abs_error_pct: median_abs(v.iter().copied()).unwrap_or(0.0),
                max_abs_error_pct: max_abs(v.iter().copied()).unwrap_or(0.0),
            })
            .collect(),
    }
}

/// The group a row belongs to for per-group tables and `--cross-validate`: its
/// `source_group` column, else the first word of its `source` (the repository or paper), with
/// an issue number when the source is an issue thread.
pub fn source_group_of(m: &HashMap<String, String>) -> String {
    let g = m.get("source_group").map(|s| s.trim()).unwrap_or("");
    if !g.is_empty() {
        return g.to_string();
    }
    let src = m.get("source").map(|s| s.trim()).unwrap_or("");
    let mut words = src.split_whitespace();
    let first = words.next().unwrap_or("unknown").trim_end_matches([',', ';']);
    first.to_string()
}

/// Accelerator-column prefix → the node type standing for it (first match wins, so GB300
/// precedes B300-like prefixes).
const NODE_FOR: &[(&str, &str)] = &[
    ("gb300", "gb300-nvl72"),
    ("gb200", "gb200-nvl72"),
    ("h100", "dgx-h100"),
    ("h200", "hgx-h200"),
    ("h800", "hgx-h800"),
    ("a100", "dgx-a100"),
    ("b200", "hgx-b200"),
    ("b300", "hgx-b300"),
    ("mi300x", "mi300x"),
];

/// The node type standing for an accelerator column.
pub fn node_for(accel: &str) -> Option<&'static str> {
    node_for_noted(accel).map(|(n, _)| n)
}

/// Architecture names (no SKU) → the flagship SXM part of that architecture
/// (testdata/MEASUREMENTS.md, "Rows added on 2026-12-02").
const ARCH_FLAGSHIP: &[(&str, &str, &str)] = &[
    ("sm90", "dgx-h100", "H100 SXM5 80GB"),
    ("hopper", "dgx-h100", "H100 SXM5 80GB"),
    ("ampere", "dgx-a100", "A100 SXM4 80GB"),
    ("sm80", "dgx-a100", "A100 SXM4 80GB"),
    ("sm100", "hgx-b200", "B200"),
    ("blackwell", "hgx-b200", "B200"),
];

/// The node type standing for an accelerator column, with a note when the column names an
/// architecture rather than a part (mapped to the architecture's flagship SXM part).
pub fn node_for_noted(accel: &str) -> Option<(&'static str, Option<String>)> {
    let a = accel.to_lowercase();
    if a.contains("gaudi") {
        return Some(("gaudi3", None));
    }
    if let Some(n) = NODE_FOR.iter().find(|(p, _)| a.starts_with(p)).map(|(_, n)| *n) {
        return Some((n, None));
    }
    ARCH_FLAGSHIP
        .iter()
        .find(|(k, _, _)| a.contains(k))
        .map(|(_, n, part)| {
            (
                *n,
                Some(format!(
                    "accelerator `{}` names an architecture, not a part: its flagship {part} assumed",
                    accel.trim()
                )),
            )
        })
}

/// Read "8x 400G ... per node" / "EFA 32x100 Gb/s per instance" → total Gb/s per node.
pub fn parse_inter_node(s: &str) -> Option<f64> {
    let l = s.to_lowercase();
    for (i, _) in l.match_indices('x') {
        // digits before 'x' (allow a space), digits after (allow a space), then 'g'
        let before: String = l[..i]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if before.is_empty() {
            continue;
        }
        let rest = l[i + 1..].trim_start();
        let num: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        if num.is_empty() {
            continue;
        }
        let after = rest[num.len()..].trim_start();
        if !after.starts_with('g') {
            continue;
        }
        let count: f64 = before.parse().ok()?;
        let speed: f64 = num.parse().ok()?;
        return Some(count * speed);
    }
    None
}

fn algo_for(s: &str) -> Option<Algo> {
    let l = s.to_lowercase();
    if l.contains("not nvls") || l.contains("nvls disabled") {
        Some(Algo::Ring)
    } else if l.contains("nvls") && !l.contains("presumably") {
        Some(Algo::Nvls)
    } else if l.contains("collnet") || l.contains("sharp") {
        Some(Algo::CollNet)
    } else if l.contains("tree") {
        Some(Algo::Tree)
    } else if l.contains("ring") {
        Some(Algo::Ring)
    } else {
        None
    }
}

/// Sizes of a row: one, or a sweep whose best busbw is compared.
fn sizes_for(s: &str) -> Result<Vec<f64>, String> {
    let l = s.to_lowercase();
    if let Ok(v) = parse_size(&l) {
        return Ok(vec![v]);
    }
    if l.starts_with("large") {
        return Ok(vec![8.0 * 1024f64.powi(3)]);
    }
    // "... 64KB-4GB sweep ..." → the sweep.
    for tok in l.split_whitespace() {
        if let Some((a, b)) = tok.split_once('-') {
            if let Ok(v) = parse_sizes(&format!("{a}:{b}")) {
                return Ok(v);
            }
        }
    }
    Err(format!("cannot read message size `{s}`"))
}

fn num(s: Option<&String>) -> Option<f64> {
    s.and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// A measurements CSV and the name reports give it.
#[derive(Debug, Clone, Copy)]
pub struct DataSet<'a> {
    /// `bundled testdata/collectives.csv`, or the path the user gave.
    pub name: &'a str,
    pub text: &'a str,
}

impl DataSet<'static> {
    /// The collective measurements shipped with fabricsim (`testdata/collectives.csv`), built
    /// into the library so that `validate` needs neither the source tree nor a working directory.
    pub const BUNDLED_COLLECTIVES: DataSet<'static> = DataSet {
        name: "bundled testdata/collectives.csv",
        text: include_str!("../../../testdata/collectives.csv"),
    };
    /// The training measurements shipped with fabricsim (`testdata/training.csv`).
    pub const BUNDLED_TRAINING: DataSet<'static> = DataSet {
        name: "bundled testdata/training.csv",
        text: include_str!("../../../testdata/training.csv"),
    };
    /// The serving measurements shipped with fabricsim (`testdata/inference.csv`).
    pub const BUNDLED_INFERENCE: DataSet<'static> = DataSet {
        name: "bundled testdata/inference.csv",
        text: include_str!("../../../testdata/inference.csv"),
    };
}

/// Told before the first row and after every row: (rows done, rows in all).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

/// Validate the collectives CSV `text`.
pub fn collectives(text: &str, opts: Options) -> Result<Report, String> {
    collectives_from(DataSet { name: "CSV text", text }, opts, &mut |_, _| {})
}

/// Validate a collectives data set, telling `progress` after every row.
pub fn collectives_from(data: DataSet, opts: Options, progress: Progress) -> Result<Report, String> {
    let mut fabrics: HashMap<String, fabric::Fabric> = HashMap::new();
    replay(
        data,
        &[
            "row_id",
            "accelerator",
            "num_ranks",
            "num_nodes",
            "gpus_per_node",
            "collective",
            "message_bytes",
        ],
        COLLECTIVE_COLUMNS,
        "collectives",
        |m| one(m, opts, &mut fabrics),
        progress,
    )
}

/// What a numeric column must hold when it is not empty.
#[derive(Debug, Clone, Copy)]
pub enum ColumnKind {
    /// A whole number in `1..=max`.
    Count(u64),
    /// A finite number above zero.
    Positive,
}

/// The numeric columns of the training measurements and what they must hold: a value outside
/// its range is bad input (an error naming the line and the column), not a row to skip.
pub const TRAINING_COLUMNS: &[(&str, ColumnKind)] = &[
    ("num_accel", ColumnKind::Count(10_000_000)),
    ("layers", ColumnKind::Count(workload::model::MAX_LAYERS)),
    ("hidden", ColumnKind::Count(workload::model::MAX_WIDTH)),
    ("heads", ColumnKind::Count(workload::model::MAX_HEADS)),
    ("seq_len", ColumnKind::Count(10_000_000)),
    ("global_batch_seqs", ColumnKind::Count(1 << 31)),
    ("micro_batch", ColumnKind::Count(1 << 20)),
    ("TP", ColumnKind::Count(1 << 20)),
    ("PP", ColumnKind::Count(1 << 20)),
    ("DP", ColumnKind::Count(10_000_000)),
    ("CP", ColumnKind::Count(1 << 20)),
    ("EP", ColumnKind::Count(1 << 20)),
    ("VP", ColumnKind::Count(1 << 20)),
    ("params_B", ColumnKind::Positive),
    ("active_params_B", ColumnKind::Positive),
    ("tflops_per_accel", ColumnKind::Positive),
    ("mfu_pct", ColumnKind::Positive),
    ("hfu_pct", ColumnKind::Positive),
    ("tokens_per_s_per_accel", ColumnKind::Positive),
    ("step_time_s", ColumnKind::Positive),
];

/// The numeric columns of the collective measurements.
pub const COLLECTIVE_COLUMNS: &[(&str, ColumnKind)] = &[
    ("num_ranks", ColumnKind::Count(10_000_000)),
    ("num_nodes", ColumnKind::Count(10_000_000)),
    ("gpus_per_node", ColumnKind::Count(1 << 16)),
    ("algbw_GBps", ColumnKind::Positive),
    ("busbw_GBps", ColumnKind::Positive),
    ("time_us", ColumnKind::Positive),
    ("algbw_GBps_derived", ColumnKind::Positive),
    ("busbw_GBps_derived", ColumnKind::Positive),
];

/// Check one row's numeric columns; `line` is the CSV line for the message.
fn check_columns(m: &HashMap<String, String>, columns: &[(&str, ColumnKind)], line: usize) -> Result<(), String> {
    for (col, kind) in columns {
        let Some(v) = m.get(*col).map(|s| s.trim()) else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let bad = |why: String| format!("line {line}, column `{col}`: `{v}` {why}");
        match kind {
            ColumnKind::Count(max) => match v.parse::<u64>() {
                Ok(x) if (1..=*max).contains(&x) => {}
                Ok(x) => return Err(bad(format!("is outside 1..={max} (read as {x})"))),
                Err(_) => return Err(bad(format!("is not a whole number in 1..={max}"))),
            },
            ColumnKind::Positive => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x > 0.0 => {}
                _ => return Err(bad("is not a finite number above zero".into())),
            },
        }
    }
    Ok(())
}

/// The 1-based line of the first character at or after byte `at` that is not a line end (the
/// `csv` crate may place a record's start on the `\n` of a preceding CRLF).
fn line_of(text: &str, at: usize) -> usize {
    let b = text.as_bytes();
    let mut at = at.min(b.len());
    while at < b.len() && (b[at] == b'\r' || b[at] == b'\n') {
        at += 1;
    }
    b[..at].iter().filter(|&&c| c == b'\n').count() + 1
}

/// Read a measurements CSV, compare every row with `compare` (or list it as skipped with the
/// reason), tell `progress` after each, and summarise the absolute errors.
pub fn replay<R: ValidatedRow>(
    data: DataSet,
    required: &[&str],
    columns: &[(&str, ColumnKind)],
    kind: &str,
    mut compare: impl FnMut(&HashMap<String, String>) -> Result<R, String>,
    progress: Progress,
) -> Result<Report<R>, String> {
    let text = data.text;
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .clone();
    for need in required {
        if !headers.iter().any(|h| h == *need) {
            return Err(format!("column `{need}` is missing"));
        }
    }
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    // All records first, so that progress knows the total; errors still surface in row order.
    let records: Vec<_> = rdr.records().collect();
    let total = records.len();
    progress(0, total);
    for (i, rec) in records.into_iter().enumerate() {
        let rec = rec.map_err(|e| format!("line {}: unreadable CSV record: {e}", i + 2))?;
        // The line the record starts on, counted from its byte offset (CRLF or LF alike).
        let line = rec
            .position()
            .map(|p| line_of(text, p.byte() as usize))
            .unwrap_or(i + 2);
        if rec.len() != headers.len() {
            return Err(format!(
                "line {line}: {} fields where the header has {}",
                rec.len(),
                headers.len()
            ));
        }
        let m: HashMap<String, String> = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        check_columns(&m, columns, line)?;
        let id = m.get("row_id").cloned().unwrap_or_else(|| format!("line {line}"));
        match compare(&m) {
            Ok(mut c) => {
                c.set_id(id);
                c.set_source_group(source_group_of(&m));
                rows.push(c)
            }
            Err(reason) => skipped.push(Skipped { row_id: id, reason }),
        }
        progress(i + 1, total);
    }
    let summary = summarise(&rows, skipped.len());
    Ok(Report {
        schema_version: crate::SCHEMA_VERSION,
        kind: kind.into(),
        data_set: data.name.into(),
        rows,
        skipped,
        summary,
    })
}

fn one(
    m: &HashMap<String, String>,
    opts: Options,
    cache: &mut HashMap<String, fabric::Fabric>,
) -> Result<Compared, String> {
    let get = |k: &str| m.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let accel = get("accelerator");
    if let Some(gen) = tpu_generation(&accel) {
        return one_tpu(m, gen, opts, cache);
    }
    if let Some(r) = crate::validate_moe::compare_row(m, cache) {
        // MoE rows: DeepEP's kernels (validate_moe.rs); what the row leaves to DeepEP's benchmark.
        return r.map(|(c, assumed)| Compared { defaults: assumed, ..c });
    }
    let (node, arch_note) =
        node_for_noted(&accel).ok_or_else(|| format!("accelerator `{accel}` has no standard system in fabricsim"))?;
    let mut defaults: Vec<String> = arch_note.into_iter().collect();
    let op: Op = get("collective")
        .parse()
        .map_err(|e: collective::CollectiveError| e.to_string())?;
    let ranks: u32 = get("num_ranks")
        .parse()
        .map_err(|_| "num_ranks is not a number".to_string())?;
    let nodes: u32 = get("num_nodes").parse().unwrap_or(1).max(1);
    let gpn: u32 = get("gpus_per_node").parse().unwrap_or(ranks / nodes);
    if ranks == 0 || gpn == 0 || ranks > nodes * gpn.max(1) {
        return Err("num_ranks does not fit num_nodes × gpus_per_node".into());
    }
    let sizes = sizes_for(&get("message_bytes"))?;
    let mut algo = algo_for(&get("algorithm"));
    // Several NVL72 racks or NVL4/NVL8 partitions: crate::validate_nvl72's mapping.
    if let Some(sc) = crate::validate_nvl72::collective_scenario(node, m, algo)? {
        if !cache.contains_key(&sc.spec) {
            let f = fabric::presets::build_preset(&sc.spec).map_err(|e| e.to_string())?.1;
            cache.insert(sc.spec.clone(), f);
        }
        let opts = Options {
            ll128_over_network: sc.ll128_over_network,
            ..opts
        };
        let res = run_sizes(&cache[&sc.spec], &sc.ranks, op, &sizes, sc.algo, opts).map_err(|e| e.to_string())?;
        let mut c = compare(m, op, ranks, &res, get("system"))?;
        c.cluster = format!("{} ({ranks} ranks)", sc.spec);
        defaults.extend(sc.assumptions);
        c.defaults = defaults;
        return Ok(c);
    }
    let node_t = fabric::topology::nodes::node_type(node).map_err(|e| e.to_string())?;
    let domain = node_t.scale_up.size();
    // Trays of one NVLink rack (GB200 NVL72: "nodes" of 4 GPUs joined by NVLink, not by a NIC
    // fabric) are one scale-up domain.
    let inter_l = get("inter_node_fabric").to_lowercase();
    let one_domain =
        nodes <= 1 || (ranks <= domain && (inter_l.is_empty() || inter_l == "n/a" || inter_l.contains("nvlink")));
    let (nodes, gpn) = if one_domain { (1, ranks) } else { (nodes, gpn) };
    if !one_domain && algo == Some(Algo::Nvls) {
        // NCCL's NVLS across nodes is NVLS inside the node plus a tree or SHARP between nodes:
        // take the automatic choice among the modelled algorithms.
        algo = None;
    }
    // Cluster: one node (its standard system) or a rail-optimized fat-tree of nodes.
    let (key, overrides, preset) = if nodes <= 1 {
        (
            format!("{node}/1"),
            vec![("node".to_string(), Value::Str(node.into()))],
            "fat-tree",
        )
    } else {
        let inter = get("inter_node_fabric");
        let per_node =
            parse_inter_node(&inter).ok_or_else(|| format!("cannot read the inter-node fabric `{inter}`"))?;
        let per_gpu = per_node / gpn as f64;
        if gpn != domain && domain != 72 {
            return Err(format!("{gpn} GPUs per node but a `{node}` domain has {domain}"));
        }
        let gpus = nodes.div_ceil(1) * domain.max(gpn);
        (
            format!("{node}/{nodes}/{per_gpu}"),
            vec![
                ("node".to_string(), Value::Str(node.into())),
                ("gpus".to_string(), Value::Int(gpus as i64)),
                ("port_gbit".to_string(), Value::Float(per_gpu)),
            ],
            "rail-optimized",
        )
    };
    let routing = crate::routing::for_interconnect(&get("inter_node_fabric"));
    let key = format!("{key}/{}", routing.name());
    if !cache.contains_key(&key) {
        let text =
            fabric::presets::preset_text(if nodes <= 1 { "dgx-h100" } else { preset }).ok_or("preset missing")?;
        let mut f = if nodes <= 1 {
            fabric::presets::from_toml(text, node, &overrides)
                .map_err(|e| e.to_string())?
                .1
        } else {
            fabric::presets::from_toml(text, preset, &overrides)
                .map_err(|e| e.to_string())?
                .1
        };
        f.routing = routing;
        cache.insert(key.clone(), f);
    }
    let f = &cache[&key];
    // Ranks: the first `gpn` accelerators of each of `nodes` domains.
    let ranks_v: Vec<u32> = (0..nodes)
        .flat_map(|d| (0..gpn).map(move |k| d * domain + k))
        .take(ranks as usize)
        .collect();
    let mut opts = opts;
    opts.in_network.sharp &= crate::routing::has_sharp(&get("inter_node_fabric"));
    let res = run_sizes(f, &ranks_v, op, &sizes, algo, opts).map_err(|e| e.to_string())?;
    let cluster = if nodes <= 1 {
        format!("{node} (first {ranks} accelerators)")
    } else {
        let mut kv = overrides
            .iter()
            .map(|(k, v)| match v {
                Value::Int(i) => format!("{k}={i}"),
                Value::Float(x) => format!("{k}={x}"),
                Value::Bool(b) => format!("{k}={b}"),
                Value::Str(t) => format!("{k}={t}"),
            })
            .collect::<Vec<_>>();
        kv.sort();
        format!("{preset}:{} ({gpn} ranks on each of {nodes} nodes)", kv.join(","))
    };
    if get("message_bytes").to_lowercase().starts_with("large") {
        defaults.push("message size \"large (not stated)\": 8 GiB, the top of nccl-tests' usual sweep".into());
    }
    let mut c = compare(m, op, ranks, &res, get("system"))?;
    c.cluster = cluster;
    c.defaults = defaults;
    Ok(c)
}

/// The row's measured busbw against the best predicted busbw over its sizes.
fn compare(
    m: &HashMap<String, String>,
    op: Op,
    ranks: u32,
    res: &[collective::CollectiveResult],
    system: String,
) -> Result<Compared, String> {
    let best = res
        .iter()
        .max_by(|a, b| a.busbw_bytes_per_s.total_cmp(&b.busbw_bytes_per_s))
        .ok_or("no result")?;
    let factor = op.busbw_factor(ranks);
    let measured = num(m.get("busbw_GBps"))
        .or_else(|| num(m.get("busbw_GBps_derived")))
        .or_else(|| num(m.get("algbw_GBps")).map(|a| a * factor))
        .or_else(|| num(m.get("algbw_GBps_derived")).map(|a| a * factor))
        .ok_or("the row gives no bandwidth")?;
    let predicted = best.busbw_bytes_per_s / 1e9;
    Ok(Compared {
        system,
        op: op.name().into(),
        ranks,
        size_bytes: best.size_bytes,
        algorithm: best.algo.name().into(),
        metric: "busbw_GBps".into(),
        measured,
        predicted,
        error_pct: (predicted - measured) / measured * 100.0,
        ..Default::default()
    })
}

/// Human table.
pub fn render(r: &Report) -> String {
    render_with(r, false)
}

/// Human table; with `explain`, each row is followed by the scenario it became.
pub fn render_with(r: &Report, explain: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:<36} {:<15} {:>5} {:>12} {:<12} {:>10} {:>10} {:>8}",
        "row", "system", "op", "ranks", "size", "algorithm", "measured", "predicted", "error"
    );
    for c in &r.rows {
        let _ = writeln!(
            s,
            "{:<6} {:<36} {:<15} {:>5} {:>12} {:<12} {:>10.1} {:>10.1} {:>7.1}%{}",
            c.row_id,
            c.system.chars().take(36).collect::<String>(),
            c.op,
            c.ranks,
            units::si(c.size_bytes, "B"),
            c.algorithm,
            c.measured,
            c.predicted,
            c.error_pct,
            if c.assumptions.is_empty() { "" } else { "  (assumed)" }
        );
        if explain {
            s.push_str(&explain_lines(&c.cluster, &[], &c.assumptions, &c.defaults));
        }
    }
    s.push_str(&render_footer(r, "   (busbw, GB/s)"));
    s
}

/// The indented lines `--explain` prints under a row.
pub fn explain_lines(cluster: &str, scenario: &[String], assumptions: &[String], defaults: &[String]) -> String {
    let mut s = format!("       cluster: {cluster}\n");
    for l in scenario {
        s.push_str(&format!("       {l}\n"));
    }
    for a in assumptions {
        s.push_str(&format!("       assumed: {a}\n"));
    }
    for d in defaults {
        s.push_str(&format!("       default: {d}\n"));
    }
    s
}

/// Skipped rows, the per-group table and the summary lines of a report.
pub fn render_footer<R>(r: &Report<R>, unit: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for k in &r.skipped {
        let _ = writeln!(s, "{:<6} skipped: {}", k.row_id, k.reason);
    }
    let sm = &r.summary;
    let pct = |v: Option<f64>| v.map(|e| format!("{e:.1} %")).unwrap_or_else(|| "n/a".into());
    if sm.by_source_group.len() > 1 {
        let _ = writeln!(s, "\n{:<60} {:>5} {:>9} {:>9}", "source group", "rows", "median", "max");
        for g in &sm.by_source_group {
            let _ = writeln!(
                s,
                "{:<60} {:>5} {:>8.1}% {:>8.1}%",
                g.source_group.chars().take(60).collect::<String>(),
                g.rows,
                g.median_abs_error_pct,
                g.max_abs_error_pct
            );
        }
    }
    if sm.rows_assumed > 0 {
        let _ = writeln!(
            s,
            "\n{} assumed rows ({}), their setup taken by a stated rule: median |error| {} · max {} (not in the headline below)",
            sm.rows_assumed,
            sm.assumed_rows.join(", "),
            pct(sm.assumed_median_abs_error_pct),
            pct(sm.assumed_max_abs_error_pct)
        );
    }
    let stated = if sm.rows_assumed > 0 {
        format!(" ({} state their setup)", sm.rows_stated)
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "{}{} rows compared{stated}, {} skipped · median |error| {} · max |error| {}{}",
        if sm.rows_assumed > 0 { "" } else { "\n" },
        sm.rows_compared,
        sm.rows_skipped,
        pct(sm.median_abs_error_pct),
        pct(sm.max_abs_error_pct),
        unit
    );
    s
}

/// TPU generation of an accelerator column ("TPU v4", "tpu-v5p", "v6e", "Ironwood").
fn tpu_generation(accel: &str) -> Option<&'static str> {
    let a = accel.to_lowercase();
    if !(a.contains("tpu") || a.contains("ironwood") || a.contains("trillium")) {
        return None;
    }
    if a.contains("v5p") {
        Some("v5p")
    } else if a.contains("v5e") || a.contains("v5 lite") || a.contains("v5litepod") {
        Some("v5e")
    } else if a.contains("v6e") || a.contains("trillium") {
        Some("v6e")
    } else if a.contains("v7") || a.contains("ironwood") {
        Some("v7")
    } else if a.contains("v4") {
        Some("v4")
    } else {
        None
    }
}

/// The slice shape Google offers for `n` chips: 3D tori grown from 4×4×4 by doubling the
/// smallest dimension (v4, v5p, v7; 2×2×1 … below one cube), 2D from 1×1 (v5e, v6e).
fn tpu_slice(n: u32, gen: &str) -> Option<String> {
    if n == 0 || !n.is_power_of_two() {
        return None;
    }
    let two_d = matches!(gen, "v5e" | "v6e");
    let mut d = if two_d {
        [1u32, 1, 1]
    } else if n >= 64 {
        [4, 4, 4]
    } else {
        [1, 1, 1]
    };
    let dims = if two_d { 2 } else { 3 };
    while d.iter().product::<u32>() < n {
        let i = (0..dims).min_by_key(|&i| (d[i], i)).unwrap_or(0);
        d[i] *= 2;
    }
    (d.iter().product::<u32>() == n).then(|| {
        if two_d {
            format!("{}x{}", d[0], d[1])
        } else {
            format!("{}x{}x{}", d[0], d[1], d[2])
        }
    })
}

fn one_tpu(
    m: &HashMap<String, String>,
    gen: &str,
    opts: Options,
    cache: &mut HashMap<String, fabric::Fabric>,
) -> Result<Compared, String> {
    let get = |k: &str| m.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let op: Op = get("collective")
        .parse()
        .map_err(|e: collective::CollectiveError| e.to_string())?;
    let ranks: u32 = get("num_ranks")
        .parse()
        .map_err(|_| "num_ranks is not a number".to_string())?;
    let slice =
        tpu_slice(ranks, gen).ok_or_else(|| format!("{ranks} TPU chips is not a slice shape fabricsim builds"))?;
    let spec = format!("tpu-{gen}-pod:slice={slice}");
    if !cache.contains_key(&spec) {
        let (_, f) = fabric::presets::build_preset(&spec).map_err(|e| e.to_string())?;
        cache.insert(spec.clone(), f);
    }
    let f = &cache[&spec];
    let sizes = sizes_for(&get("message_bytes"))?;
    let ranks_v: Vec<u32> = (0..ranks).collect();
    let res = run_sizes(f, &ranks_v, op, &sizes, None, opts).map_err(|e| e.to_string())?;
    let mut c = compare(m, op, ranks, &res, format!("{} ({spec})", get("system")))?;
    c.cluster = spec;
    Ok(c)
}
