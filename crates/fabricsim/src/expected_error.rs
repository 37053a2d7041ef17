//! Honest error bars: every `train` and `collective` prediction carries the error fabricsim
//! showed on the nearest class of published rows (issue 8, part 10).
//!
//! The evidence is [`TABLE`]: each bundled measurement row (testdata/) with its class and its
//! leave-one-group-out |error| (`validate --cross-validate`: the row predicted with every fitted
//! constant refitted without the row's own source group). It is generated, not written: the
//! test `expected_error_table_is_current` rebuilds it from the bundled data and fails when it is
//! stale (`FABRICSIM_BLESS=1 cargo test -p fabricsim --test accuracy expected_error_table`
//! rewrites it).
//!
//! The class of a prediction, nearest first — the first level with at least [`MIN_ROWS`] rows
//! gives the 90th percentile of its rows' |error| (the largest, and "uncalibrated here", when
//! no row of the class is on the prediction's accelerator generation):
//! - training: accelerator part + framework + scale band; part + framework; generation +
//!   framework; generation; framework; every training row;
//! - collectives: part + scope (one scale-up domain or several; NCCL collective or MoE
//!   dispatch/combine) + size band (≤ 16 MiB or above); part + scope; generation + scope +
//!   size band; scope + size band; scope; every collective row.

pub use crate::expected_error_table::TABLE;
use serde::Serialize;

/// The framework a run on `accel` is priced as until `--framework` names one: MaxText on
/// TPUs, Megatron-Core elsewhere.
pub fn default_framework(accel: &str) -> &'static str {
    if generation_of(part_of(accel)) == "tpu" {
        "maxtext"
    } else {
        "megatron"
    }
}

/// Fewest rows a class needs to stand for a prediction.
pub const MIN_ROWS: usize = 2;

/// One validated row of the evidence table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    pub row_id: &'static str,
    /// `true` for training rows, `false` for collective rows.
    pub training: bool,
    /// Accelerator part (`h100`, `gb200`, `tpu-v5p`, …).
    pub part: &'static str,
    /// Framework (training) or scope (collectives: `single-node` / `multi-node` / `moe`).
    pub class: &'static str,
    /// Scale band (training: accelerators) or size band (collectives).
    pub band: &'static str,
    /// Leave-one-group-out |error|, %.
    pub abs_error_pct: f64,
}

/// An expected error and the class of rows it comes from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Expected {
    pub expected_error_pct: f64,
    /// The class, in words, with its row count.
    pub expected_error_basis: String,
}

/// The accelerator part a name stands for: an accelerator column of the measurements, or a
/// catalogue name (`NVIDIA H100 SXM5 80GB`, `Google TPU v5p`).
pub fn part_of(name: &str) -> &'static str {
    let a = name.to_lowercase();
    const PARTS: &[(&str, &str)] = &[
        ("gb300", "gb300"),
        ("gb200", "gb200"),
        ("b300", "b300"),
        ("b200", "b200"),
        ("h800", "h800"),
        ("h200", "h200"),
        ("h20 ", "h20"),
        ("h100", "h100"),
        ("a100", "a100"),
        ("mi300", "mi300x"),
        ("gaudi", "gaudi3"),
        ("ascend", "ascend-910c"),
        ("v5p", "tpu-v5p"),
        ("v5e", "tpu-v5e"),
        ("v5 lite", "tpu-v5e"),
        ("v6e", "tpu-v6e"),
        ("trillium", "tpu-v6e"),
        ("ironwood", "tpu-v7"),
        ("tpu7", "tpu-v7"),
        ("tpu v7", "tpu-v7"),
        ("tpu v4", "tpu-v4"),
        ("tpu-v4", "tpu-v4"),
        ("sm90", "h100"),
        ("hopper", "h100"),
        ("ampere", "a100"),
        ("sm100", "b200"),
        ("blackwell", "b200"),
    ];
    let padded = format!("{a} ");
    PARTS
        .iter()
        .find(|(k, _)| padded.contains(k))
        .map_or("other", |(_, p)| *p)
}

/// The generation of a part.
pub fn generation_of(part: &str) -> &'static str {
    match part {
        "a100" => "ampere",
        "h100" | "h800" | "h200" | "h20" => "hopper",
        "b200" | "gb200" | "b300" | "gb300" => "blackwell",
        p if p.starts_with("tpu") => "tpu",
        _ => "other",
    }
}

/// Scale band of a training run on `n` accelerators.
pub fn scale_band(n: u64) -> &'static str {
    match n {
        0..=8 => "1-8",
        9..=64 => "9-64",
        65..=512 => "65-512",
        513..=4096 => "513-4096",
        _ => "4097+",
    }
}

/// Size band of a collective message.
pub fn size_band(bytes: f64) -> &'static str {
    if bytes <= 16.0 * 1024.0 * 1024.0 {
        "<=16MiB"
    } else {
        ">16MiB"
    }
}

/// The nearest class of `table` rows among `levels` (each a predicate and its description).
type Level<'a> = (String, Box<dyn Fn(&Evidence) -> bool + 'a>);

/// The 90th percentile (nearest rank) of `v`: the bar covers nine predictions in ten of the
/// class, not just the typical one.
fn p90(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let k = ((0.9 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[k - 1]
}

/// The nearest class of `table` rows among `levels` (each a predicate and its description).
/// `own` tells whether a row is of the prediction's own accelerator generation: a class
/// without any says so, and its bar is the class's largest error, not its 90th percentile.
fn nearest(table: &[Evidence], training: bool, levels: &[Level], own: &dyn Fn(&Evidence) -> bool) -> Expected {
    for (what, pred) in levels {
        let rows: Vec<&Evidence> = table.iter().filter(|e| e.training == training && pred(e)).collect();
        if rows.len() >= MIN_ROWS {
            let n = rows.len();
            let kind = if training { "training" } else { "collective" };
            let v: Vec<f64> = rows.iter().map(|e| e.abs_error_pct).collect();
            if rows.iter().any(|e| own(e)) {
                return Expected {
                    expected_error_pct: p90(v),
                    expected_error_basis: format!(
                        "the 90th percentile of the leave-one-group-out |error| of the {n} validated {kind} rows {what}"
                    ),
                };
            }
            return Expected {
                expected_error_pct: v.iter().copied().fold(0.0, f64::max),
                expected_error_basis: format!(
                    "uncalibrated here: no validated {kind} row on this accelerator generation; the largest leave-one-group-out |error| of the {n} rows {what}"
                ),
            };
        }
    }
    Expected {
        expected_error_pct: f64::NAN,
        expected_error_basis: "no validated rows".into(),
    }
}

/// Expected error of a training prediction on `accels` accelerators of `accel` (a catalogue
/// name) under `framework`.
pub fn training(accel: &str, framework: &str, accels: u64) -> Expected {
    training_in(TABLE, accel, framework, accels)
}

/// [`training`] against any evidence table.
pub fn training_in(table: &[Evidence], accel: &str, framework: &str, accels: u64) -> Expected {
    let part = part_of(accel);
    let gen = generation_of(part);
    let band = scale_band(accels);
    let levels: Vec<Level> = vec![
        (
            format!("on {part} under {framework} at {band} accelerators"),
            Box::new(move |e: &Evidence| e.part == part && e.class == framework && e.band == band),
        ),
        (
            format!("on {part} under {framework}"),
            Box::new(move |e: &Evidence| e.part == part && e.class == framework),
        ),
        (
            format!("on {gen} parts under {framework}"),
            Box::new(move |e: &Evidence| generation_of(e.part) == gen && e.class == framework),
        ),
        (
            format!("on {gen} parts"),
            Box::new(move |e: &Evidence| generation_of(e.part) == gen),
        ),
        (
            format!("under {framework}"),
            Box::new(move |e: &Evidence| e.class == framework),
        ),
        ("of every system".into(), Box::new(|_: &Evidence| true)),
    ];
    nearest(table, true, &levels, &|e: &Evidence| generation_of(e.part) == gen)
}

/// Expected error of a collective prediction: `scope` is `single-node`, `multi-node` or `moe`.
pub fn collective(accel: &str, scope: &str, bytes: f64) -> Expected {
    collective_in(TABLE, accel, scope, bytes)
}

/// [`collective`] against any evidence table.
pub fn collective_in(table: &[Evidence], accel: &str, scope: &str, bytes: f64) -> Expected {
    let part = part_of(accel);
    let gen = generation_of(part);
    let band = size_band(bytes);
    let levels: Vec<Level> = vec![
        (
            format!("on {part}, {scope}, messages {band}"),
            Box::new(move |e: &Evidence| e.part == part && e.class == scope && e.band == band),
        ),
        (
            format!("on {part}, {scope}"),
            Box::new(move |e: &Evidence| e.part == part && e.class == scope),
        ),
        (
            format!("on {gen} parts, {scope}, messages {band}"),
            Box::new(move |e: &Evidence| generation_of(e.part) == gen && e.class == scope && e.band == band),
        ),
        (
            format!("{scope}, messages {band}"),
            Box::new(move |e: &Evidence| e.class == scope && e.band == band),
        ),
        (scope.to_string(), Box::new(move |e: &Evidence| e.class == scope)),
        ("of every system".into(), Box::new(|_: &Evidence| true)),
    ];
    nearest(table, false, &levels, &|e: &Evidence| generation_of(e.part) == gen)
}

/// The scope of a collective row of the measurements: `moe` for dispatch/combine, else
/// `scale-up` when its ranks share one NVLink-class domain, `scale-out` when they cross the
/// network (the same reading as `validate`).
pub fn row_scope(m: &std::collections::HashMap<String, String>) -> &'static str {
    let get = |k: &str| m.get(k).map(|s| s.trim().to_lowercase()).unwrap_or_default();
    if get("collective").starts_with("moe") {
        return "moe";
    }
    let nodes: u32 = get("num_nodes").parse().unwrap_or(1);
    let inter = get("inter_node_fabric");
    if nodes <= 1 || inter.is_empty() || inter == "n/a" || inter.contains("nvlink") {
        "scale-up"
    } else {
        "scale-out"
    }
}

/// An evidence row with owned strings (what [`build`] produces).
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedEvidence {
    pub row_id: String,
    pub training: bool,
    pub part: String,
    pub class: String,
    pub band: String,
    pub abs_error_pct: f64,
}

/// Rebuild the evidence table from the bundled measurements (leave-one-group-out errors).
pub fn build() -> Result<Vec<OwnedEvidence>, String> {
    use crate::calibration::{cross_validate, DataKind};
    use crate::validate::DataSet;
    use std::collections::HashMap;
    let mut out = Vec::new();
    for (kind, data) in [
        (DataKind::Training, DataSet::BUNDLED_TRAINING),
        (DataKind::Collectives, DataSet::BUNDLED_COLLECTIVES),
    ] {
        let cv = cross_validate(kind, data)?;
        let err: HashMap<&str, f64> = cv.rows.iter().map(|r| (r.row_id.as_str(), r.error_pct.abs())).collect();
        // Sizes of the compared collective rows (the size the row was compared at).
        let sizes: HashMap<String, f64> = if kind == DataKind::Collectives {
            crate::validate::collectives(data.text, collective::Options::default())?
                .rows
                .into_iter()
                .map(|r| (r.row_id, r.size_bytes))
                .collect()
        } else {
            HashMap::new()
        };
        for (m, _) in crate::validate::records(data.text)?.1 {
            let id = m.get("row_id").cloned().unwrap_or_default();
            let Some(&e) = err.get(id.as_str()) else { continue };
            let get = |k: &str| m.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
            let part = part_of(&get("accelerator")).to_string();
            let (class, band) = match kind {
                DataKind::Training => (
                    crate::validate_training::framework_of(&get("source_group"), &get("other_parallelism")).to_string(),
                    scale_band(get("num_accel").parse().unwrap_or(1)).to_string(),
                ),
                DataKind::Collectives => (
                    row_scope(&m).to_string(),
                    size_band(sizes.get(&id).copied().unwrap_or(0.0)).to_string(),
                ),
                // Serving rows carry no error bar yet (only training and collectives are built).
                DataKind::Inference => continue,
            };
            out.push(OwnedEvidence {
                row_id: id,
                training: kind == DataKind::Training,
                part,
                class,
                band,
                abs_error_pct: (e * 10.0).round() / 10.0,
            });
        }
    }
    Ok(out)
}

/// The Rust source of `expected_error_table.rs` for `rows`.
pub fn table_source(rows: &[OwnedEvidence]) -> String {
    let mut s = String::from(
        "//! @generated by `FABRICSIM_BLESS=1 cargo test -p fabricsim --test accuracy expected_error_table`\n\
         //! from the leave-one-group-out validation of testdata/ (see `expected_error`). Do not edit.\n\n\
         use crate::expected_error::Evidence;\n\n\
         #[rustfmt::skip]\n\
         pub const TABLE: &[Evidence] = &[\n",
    );
    for r in rows {
        s.push_str(&format!(
            "    Evidence {{ row_id: {:?}, training: {}, part: {:?}, class: {:?}, band: {:?}, abs_error_pct: {:?} }},\n",
            r.row_id, r.training, r.part, r.class, r.band, r.abs_error_pct
        ));
    }
    s.push_str("];\n");
    s
}

/// The compiled table as owned rows (to compare with [`build`]).
pub fn table_owned() -> Vec<OwnedEvidence> {
    TABLE
        .iter()
        .map(|e| OwnedEvidence {
            row_id: e.row_id.into(),
            training: e.training,
            part: e.part.into(),
            class: e.class.into(),
            band: e.band.into(),
            abs_error_pct: e.abs_error_pct,
        })
        .collect()
}
