//! `fabricsim collective`: nccl-tests in silico. Sizes, placement, the per-size rows and their
//! JSON schema.

use collective::simulate::{run_sizes, CollectiveResult, Options};
use collective::{Algo, CollectiveError, Op};
use engine::Fidelity;
use fabric::routing::splitmix64;
use fabric::Fabric;
use serde::Serialize;

/// Parse a size: plain bytes or with `K`, `M`, `G`, `T` (powers of 1024), optional `B`/`iB`.
pub fn parse_size(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let upper = t.to_uppercase();
    let stripped = upper.trim_end_matches("IB").trim_end_matches('B');
    let (num, mult) = match stripped.chars().last() {
        Some('K') => (&stripped[..stripped.len() - 1], 1024f64),
        Some('M') => (&stripped[..stripped.len() - 1], 1024f64.powi(2)),
        Some('G') => (&stripped[..stripped.len() - 1], 1024f64.powi(3)),
        Some('T') => (&stripped[..stripped.len() - 1], 1024f64.powi(4)),
        _ => (stripped, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size (bytes, or a number with K, M, G, T)"))?;
    let bytes = v * mult;
    if !bytes.is_finite() || bytes < 0.0 || bytes > 1024f64.powi(5) {
        return Err(format!("size `{s}` is out of range (0 B … 1 PiB)"));
    }
    Ok(bytes.round())
}

/// Sizes from `MIN:MAX`, doubling (nccl-tests `-b MIN -e MAX -f 2`).
pub fn parse_sizes(s: &str) -> Result<Vec<f64>, String> {
    let (a, b) = s.split_once(':').ok_or_else(|| format!("`{s}` is not MIN:MAX"))?;
    let (lo, hi) = (parse_size(a)?, parse_size(b)?);
    if lo < 1.0 || hi < lo {
        return Err(format!("sizes `{s}`: need 1 ≤ MIN ≤ MAX"));
    }
    let mut v = Vec::new();
    let mut x = lo;
    while x <= hi * (1.0 + 1e-12) {
        v.push(x);
        x *= 2.0;
    }
    Ok(v)
}

/// The default sweep: 8 B … 8 GiB, doubling.
pub fn default_sizes() -> Vec<f64> {
    (3..=33).map(|k| (1u64 << k) as f64).collect()
}

/// How ranks map onto accelerators.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Rank r on accelerator r.
    Packed,
    /// Whole scale-up domains in a shuffled order (deterministic, seeded): rank order no longer
    /// follows the network's locality.
    Scattered { seed: u64 },
    /// An explicit list of accelerators, one per rank.
    List(Vec<u32>),
}

impl Placement {
    pub fn name(&self) -> String {
        match self {
            Placement::Packed => "packed".into(),
            Placement::Scattered { seed } => format!("scattered (seed {seed})"),
            Placement::List(v) => format!("file ({} ranks)", v.len()),
        }
    }
}

/// Parse a placement file: accelerator indices separated by whitespace or commas; `#` comments.
pub fn parse_placement(text: &str) -> Result<Vec<u32>, String> {
    let mut v = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for tok in line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
        {
            v.push(
                tok.parse::<u32>()
                    .map_err(|_| format!("line {}: `{tok}` is not an accelerator index", ln + 1))?,
            );
        }
    }
    if v.is_empty() {
        return Err("the placement file lists no accelerators".into());
    }
    Ok(v)
}

/// The accelerators of `n` ranks under a placement.
pub fn place(f: &Fabric, n: u32, p: &Placement) -> Result<Vec<u32>, String> {
    let total = f.accel_count() as u32;
    if n == 0 || n > total {
        return Err(format!("--ranks {n}: the cluster has {total} accelerators"));
    }
    let all: Vec<u32> = match p {
        Placement::Packed => (0..total).collect(),
        Placement::Scattered { seed } => {
            let nd = f.domain_count();
            let mut doms: Vec<u32> = (0..nd).collect();
            // Fisher–Yates with the fixed SplitMix64 hash: the same seed gives the same order.
            for i in (1..doms.len()).rev() {
                let j = (splitmix64(*seed ^ (i as u64).wrapping_mul(0x9E37_79B9)) % (i as u64 + 1)) as usize;
                doms.swap(i, j);
            }
            doms.iter()
                .flat_map(|&d| (0..f.domain_size).map(move |k| d * f.domain_size + k))
                .collect()
        }
        Placement::List(v) => {
            if v.len() as u32 != n {
                return Err(format!(
                    "the placement lists {} accelerators but --ranks is {n}: give --ranks {} or list {n}",
                    v.len(),
                    v.len()
                ));
            }
            v.clone()
        }
    };
    Ok(all.into_iter().take(n as usize).collect())
}

#[derive(Debug, Serialize)]
pub struct BottleneckRow {
    pub link: u32,
    pub name: String,
    pub utilisation: f64,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub size_bytes: f64,
    pub count: u64,
    pub time_s: f64,
    pub algbw_bytes_per_s: f64,
    pub busbw_bytes_per_s: f64,
    pub algorithm: String,
    pub protocol: String,
    pub latency_s: f64,
    pub transfer_s: f64,
    pub bottleneck_links: Vec<BottleneckRow>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub cluster: String,
    pub op: String,
    pub ranks: u32,
    pub fidelity: String,
    pub placement: String,
    pub flows: usize,
    pub rows: Vec<Row>,
}

pub fn fidelity_name(f: Fidelity) -> &'static str {
    match f {
        Fidelity::Flow => "flow",
        Fidelity::Analytical => "analytical",
    }
}

/// Run the sweep and build the report.
#[allow(clippy::too_many_arguments)]
pub fn run(
    cluster: &str,
    f: &Fabric,
    op: Op,
    ranks: &[u32],
    sizes: &[f64],
    algo: Option<Algo>,
    opts: Options,
    placement: &Placement,
) -> Result<Report, CollectiveError> {
    let res = run_sizes(f, ranks, op, sizes, algo, opts)?;
    let flows = res.iter().map(|r| r.flows).max().unwrap_or(0);
    Ok(Report {
        schema_version: crate::SCHEMA_VERSION,
        cluster: cluster.to_string(),
        op: op.name().into(),
        ranks: ranks.len() as u32,
        fidelity: fidelity_name(opts.fidelity).into(),
        placement: placement.name(),
        flows,
        rows: res.iter().map(row).collect(),
    })
}

fn row(r: &CollectiveResult) -> Row {
    Row {
        size_bytes: r.size_bytes,
        count: (r.size_bytes / 4.0) as u64,
        time_s: r.time_s,
        algbw_bytes_per_s: r.algbw_bytes_per_s,
        busbw_bytes_per_s: r.busbw_bytes_per_s,
        algorithm: r.algo.name().into(),
        protocol: r.protocol.name().into(),
        latency_s: r.latency_s,
        transfer_s: r.transfer_s,
        bottleneck_links: r
            .bottlenecks
            .iter()
            .map(|b| BottleneckRow {
                link: b.link,
                name: b.name.clone(),
                utilisation: b.utilisation,
            })
            .collect(),
    }
}

/// nccl-tests-like table.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# fabricsim collective · {} · {} · {} ranks · {} fidelity · placement {}",
        r.cluster, r.op, r.ranks, r.fidelity, r.placement
    );
    let _ = writeln!(s, "#");
    let _ = writeln!(
        s,
        "# {:>12} {:>12} {:>7} {:>12} {:>9} {:>9}  algorithm",
        "size", "count", "type", "time", "algbw", "busbw"
    );
    let _ = writeln!(
        s,
        "# {:>12} {:>12} {:>7} {:>12} {:>9} {:>9}",
        "(B)", "(elements)", "", "(us)", "(GB/s)", "(GB/s)"
    );
    for row in &r.rows {
        let _ = writeln!(
            s,
            "  {:>12} {:>12} {:>7} {:>12.2} {:>9.2} {:>9.2}  {}/{}",
            row.size_bytes as u64,
            row.count,
            "float",
            row.time_s * 1e6,
            row.algbw_bytes_per_s / 1e9,
            row.busbw_bytes_per_s / 1e9,
            row.algorithm,
            row.protocol
        );
    }
    if let Some(last) = r.rows.last() {
        if !last.bottleneck_links.is_empty() {
            let _ = writeln!(s, "# busiest links at {} B:", last.size_bytes as u64);
            for b in &last.bottleneck_links {
                let _ = writeln!(
                    s,
                    "#   {:<60} {:>5.1} % of the transfer time",
                    b.name,
                    b.utilisation * 100.0
                );
            }
        }
    }
    s
}
