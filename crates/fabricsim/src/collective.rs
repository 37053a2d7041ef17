//! `fabricsim collective`: nccl-tests in silico. Sizes, placement, the per-size rows and their
//! JSON schema.

use collective::constants::{self, Protocol};
use collective::simulate::{run_sizes_with_progress, CollectiveResult, Options};
use collective::{Algo, AlgoRequest, CollectiveError, Op};
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

/// Memory a collective's simulation is expected to hold at its peak (the `collective` crate's
/// estimate over every algorithm it would simulate: `collective::memory`), and what dominates it.
pub fn estimate_memory(
    f: &Fabric,
    ranks: &[u32],
    op: Op,
    algo: Option<Algo>,
    opts: Options,
) -> Result<(f64, String), String> {
    let bytes = collective::memory::estimate_memory_bytes(f, ranks, op, algo, opts).map_err(|e| e.to_string())?;
    let n = ranks.len() as u64;
    let what = if op == Op::AllToAll {
        format!("an exchange among {n} ranks ({} flows)", n * n.saturating_sub(1))
    } else {
        format!("the candidate plans over {n} ranks")
    };
    Ok((bytes as f64, what))
}

/// The accelerators of `n` ranks under a placement.
pub fn place(f: &Fabric, n: u32, p: &Placement) -> Result<Vec<u32>, String> {
    let total = f.accel_count() as u32;
    if n == 0 {
        return Err("--ranks 0: a collective needs at least one rank".into());
    }
    if n > total {
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

impl From<&collective::simulate::Bottleneck> for BottleneckRow {
    fn from(b: &collective::simulate::Bottleneck) -> Self {
        BottleneckRow {
            link: b.link,
            name: b.name.clone(),
            utilisation: b.utilisation,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Row {
    /// The message size, always whole bytes (serialised as an integer).
    #[serde(serialize_with = "crate::whole_bytes")]
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
    /// The error fabricsim showed on the nearest class of published collective rows (same
    /// part, scale-up or scale-out, size band), % (`crate::expected_error`); null for rows
    /// where nothing ran.
    pub expected_error_pct: Option<f64>,
    pub expected_error_basis: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub cluster: String,
    pub op: String,
    pub ranks: u32,
    pub fidelity: String,
    pub placement: String,
    /// The fabric's routing mode (`ecmp`, `adaptive`, `spray`; `fabric::RoutingMode`).
    pub routing: String,
    pub flows: usize,
    pub rows: Vec<Row>,
    /// What the model assumed (in-network reduction, NVLS, latency constants, channels,
    /// placement, name mappings), one sentence each.
    pub assumptions: Vec<String>,
}

pub fn fidelity_name(f: Fidelity) -> &'static str {
    match f {
        Fidelity::Flow => "flow",
        Fidelity::Analytical => "analytical",
    }
}

/// One `collective` run: what to simulate and how.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The cluster as the user named it (for the report).
    pub cluster: &'a str,
    pub op: Op,
    /// The accelerators of the ranks, in rank order.
    pub ranks: &'a [u32],
    pub sizes: &'a [f64],
    /// A forced algorithm (`None`: chosen per size like NCCL).
    pub algo: Option<AlgoRequest>,
    pub opts: Options,
    pub placement: &'a Placement,
}

/// Algorithm name of rows that ran without the fabric: one rank (a local copy).
pub const LOCAL_COPY: &str = "local_copy";
/// Algorithm and protocol name of rows where nothing ran (size 0).
pub const NOTHING: &str = "none";

/// Run the sweep and build the report. Size 0 gives a row of zeros (NCCL returns without
/// launching; nccl-tests prints 0 bandwidth); one rank gives a local copy
/// ([`constants::one_rank_time`]) and the nccl-tests busbw factor (0 for all_reduce,
/// reduce_scatter, all_gather and all_to_all).
pub fn run(f: &Fabric, req: &Request) -> Result<Report, CollectiveError> {
    run_with_progress(f, req, &mut |_, _| {})
}

/// [`run`], telling `progress` (candidate algorithms simulated, candidates in all) as it goes.
pub fn run_with_progress(
    f: &Fabric,
    req: &Request,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report, CollectiveError> {
    let n = req.ranks.len() as u32;
    let algo = req.algo.map(|a| a.algo);
    let hbm = hbm_bytes_per_s(f);
    let nonzero: Vec<f64> = req.sizes.iter().copied().filter(|&s| s > 0.0).collect();
    let simulated = if n > 1 && !nonzero.is_empty() {
        run_sizes_with_progress(f, req.ranks, req.op, &nonzero, algo, req.opts, progress)?
    } else {
        if n > 1 {
            // Nothing to simulate, but a forced algorithm must still be able to run here.
            collective::plan::check_group(f, req.ranks)?;
            if let Some(a) = algo {
                collective::simulate::lower(f, req.ranks, req.op, 1.0, a, req.opts.channels)?;
            }
        }
        Vec::new()
    };
    let mut sim = simulated.iter();
    let mut rows = Vec::with_capacity(req.sizes.len());
    for &size in req.sizes {
        rows.push(if size <= 0.0 {
            zero_row(size)
        } else if n == 1 {
            one_rank_row(req.op, size, hbm.unwrap_or(f64::INFINITY))
        } else {
            row(sim.next().expect("one simulated result per non-zero size"))
        });
    }
    let acc_name = fabric::catalogue::accelerator(f.accel_model).map_or(f.accel_model, |a| a.name);
    let scope = if req.ranks.iter().any(|&r| f.domain_of(r) != f.domain_of(req.ranks[0])) {
        "scale-out"
    } else {
        "scale-up"
    };
    for row in rows
        .iter_mut()
        .filter(|r| r.algorithm != NOTHING && r.algorithm != LOCAL_COPY)
    {
        let e = crate::expected_error::collective(acc_name, scope, row.size_bytes);
        row.expected_error_pct = e.expected_error_pct.is_finite().then_some(e.expected_error_pct);
        row.expected_error_basis = e.expected_error_basis;
    }
    let flows = simulated.iter().map(|r| r.flows).max().unwrap_or(0);
    Ok(Report {
        schema_version: crate::SCHEMA_VERSION,
        cluster: req.cluster.to_string(),
        op: req.op.name().into(),
        ranks: n,
        fidelity: fidelity_name(req.opts.fidelity).into(),
        placement: req.placement.name(),
        routing: f.routing.name().into(),
        flows,
        assumptions: assumptions(f, req, &rows, hbm),
        rows,
    })
}

/// HBM bandwidth of the cluster's accelerator, from the catalogue.
fn hbm_bytes_per_s(f: &Fabric) -> Option<f64> {
    fabric::catalogue::accelerator(f.accel_model).map(|a| a.hbm_bw.0)
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
        bottleneck_links: r.bottlenecks.iter().map(BottleneckRow::from).collect(),
        expected_error_pct: None,
        expected_error_basis: String::new(),
    }
}

fn zero_row(size: f64) -> Row {
    Row {
        size_bytes: size.max(0.0),
        count: 0,
        time_s: 0.0,
        algbw_bytes_per_s: 0.0,
        busbw_bytes_per_s: 0.0,
        algorithm: NOTHING.into(),
        protocol: NOTHING.into(),
        latency_s: 0.0,
        transfer_s: 0.0,
        bottleneck_links: Vec::new(),
        expected_error_pct: None,
        expected_error_basis: String::new(),
    }
}

fn one_rank_row(op: Op, size: f64, hbm: f64) -> Row {
    let time = constants::one_rank_time(size, hbm);
    let latency = constants::one_rank_time(f64::MIN_POSITIVE, f64::INFINITY);
    let algbw = if time > 0.0 { size / time } else { 0.0 };
    Row {
        size_bytes: size,
        count: (size / 4.0) as u64,
        time_s: time,
        algbw_bytes_per_s: algbw,
        busbw_bytes_per_s: algbw * op.busbw_factor(1),
        algorithm: LOCAL_COPY.into(),
        protocol: NOTHING.into(),
        latency_s: latency,
        transfer_s: time - latency,
        bottleneck_links: Vec::new(),
        expected_error_pct: None,
        expected_error_basis: String::new(),
    }
}

/// Sizes as nccl-tests users read them: powers of 1024.
pub fn binary_bytes(b: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if v.fract() == 0.0 {
        format!("{v} {}", units[i])
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// Where an algorithm was chosen: "all 31 sizes" or "12 of 31 sizes (8 B … 16 KiB)".
fn where_chosen(rows: &[Row], algo: &str) -> Option<String> {
    let hits: Vec<&Row> = rows.iter().filter(|r| r.algorithm == algo).collect();
    let (first, last) = (hits.first()?, hits.last()?);
    let range = if hits.len() == 1 {
        binary_bytes(first.size_bytes)
    } else {
        format!("{} … {}", binary_bytes(first.size_bytes), binary_bytes(last.size_bytes))
    };
    Some(if hits.len() == rows.len() {
        format!("at every size ({range})")
    } else {
        format!("at {} of {} sizes ({range})", hits.len(), rows.len())
    })
}

/// The switch chips of the fabric whose names start with `prefix`, with their roles.
fn switches(f: &Fabric, prefix: &str) -> String {
    let v: Vec<String> = f
        .switch_models
        .iter()
        .filter(|m| m.chip.starts_with(prefix))
        .map(|m| format!("{} ({})", m.chip, m.role))
        .collect();
    v.join(", ")
}

/// One sentence per assumption the run made.
fn assumptions(f: &Fabric, req: &Request, rows: &[Row], hbm: Option<f64>) -> Vec<String> {
    let mut a = Vec::new();
    let n = req.ranks.len();
    let ran = rows.iter().any(|r| r.algorithm != NOTHING && r.algorithm != LOCAL_COPY);
    if rows.iter().any(|r| r.algorithm == NOTHING) {
        a.push(
            "size 0: NCCL returns without launching a kernel; time and bandwidth are 0, as nccl-tests prints them"
                .into(),
        );
    }
    if n == 1 {
        let copy = match hbm {
            Some(b) => format!(
                "a device copy that reads and writes every byte at HBM bandwidth ({:.2} TB/s)",
                b / 1e12
            ),
            None => "no copy time (the accelerator's HBM bandwidth is not in the catalogue)".into(),
        };
        a.push(format!(
            "one rank: no link is used; time = NCCL's smallest base latency ({:.1} µs) + {copy}; busbw = algbw × the nccl-tests factor for 1 rank ({}); no algorithm or protocol applies",
            constants::base_lat(false, Protocol::Ll) * 1e6,
            req.op.busbw_factor(1)
        ));
    }
    match req.algo {
        Some(r) if ran => {
            a.push(format!("algorithm forced: {} (--algo)", r.algo.name()));
            if let Some(why) = r.approximation {
                a.push(format!("--algo mapping is approximate: {why}"));
            }
        }
        None if ran => {
            let mut used: Vec<&str> = Vec::new();
            for r in rows {
                if !used.contains(&r.algorithm.as_str()) && r.algorithm != NOTHING {
                    used.push(&r.algorithm);
                }
            }
            a.push(format!(
                "algorithm: NCCL-like selection, the lowest modelled time per size among the candidates; chosen: {}",
                used.join(", ")
            ));
        }
        _ => {}
    }
    if ran {
        let doms = collective::plan::by_domain(f, req.ranks);
        let multi = doms.len() > 1;
        let uniform = doms.iter().all(|d| d.len() == doms[0].len());
        // In-network reduction: IB SHARP (CollNet) and NVLink SHARP (NVLS).
        let sharp_switches = switches(f, "quantum");
        if let Some(w) = where_chosen(rows, Algo::CollNet.name()) {
            a.push(format!(
                "in-network reduction: IB SHARP (CollNet) chosen {w}; the shards are reduced in the scale-out switches {sharp_switches} at {:.0} % of port bandwidth",
                constants::ETA_SHARP * 100.0
            ));
        } else if req.op == Op::AllReduce && multi {
            a.push(if sharp_switches.is_empty() {
                "in-network reduction: none (no scale-out switch with SHARP in this fabric)".into()
            } else if !req.opts.in_network.sharp {
                format!("in-network reduction: IB SHARP on {sharp_switches} switched off (--sharp off)")
            } else if !uniform {
                format!("in-network reduction: IB SHARP on {sharp_switches} not used: CollNet needs the same number of ranks in every domain")
            } else {
                format!("in-network reduction: IB SHARP on {sharp_switches} is available but never the fastest here")
            });
        }
        if multi {
            a.push(format!("routing: {} ({})", f.routing.name(), f.routing.describe()));
        }
        let nvswitches = switches(f, "nvswitch");
        if let Some(w) = where_chosen(rows, Algo::Nvls.name()) {
            a.push(format!(
                "NVLS (NVLink SHARP) chosen {w}: reduction and multicast in the NVSwitch {nvswitches} at {:.1} % of NVLink bandwidth per port, base latency {:.0} µs, pipeline fill of NCCL's NVLS chunks, Simple protocol only{}",
                constants::eta_nvls(f.accel_model) * 100.0,
                constants::nvls_base_lat_s() * 1e6,
                if multi {
                    format!("; across the {} domains NCCL's NVLSTree: each rank's 1/g shard all-reduced over the domains by a ring per rail", doms.len())
                } else {
                    String::new()
                }
            ));
        } else if req.op == Op::AllReduce && collective::nvls::supported(f) {
            a.push(if !req.opts.in_network.nvls {
                "NVLS (NVLink SHARP) switched off (--nvls off)".into()
            } else if multi && req.opts.in_network.sharp && collective::hierarchical::sharp_supported(f) {
                format!(
                    "NVLS (NVLink SHARP) across the {} domains: with IB SHARP on, NCCL runs NVLS together with CollNet, which collnet stands for (NVLSTree is the candidate with --sharp off)",
                    doms.len()
                )
            } else {
                "NVLS (NVLink SHARP) is available but never the fastest here".into()
            });
        }
        a.push(format!(
            "latency: NCCL's tuning model (tuning.cc, NCCL 2.2x): baseLat + steps × hwLat per link class (NVLink / network), {}; plus NCCL's pipeline fill (4 MiB buffer, 8 steps)",
            match req.opts.protocol {
                Some(p) => format!("protocol forced to {} (--proto)", p.name()),
                None => "the fastest of LL, LL128 and Simple per size".into(),
            }
        ));
        a.push(format!(
            "bandwidth: NCCL reaches {:.0} % of NVLink-class and {:.0} % of scale-out link bandwidth (constants.rs)",
            constants::ETA_SCALE_UP * 100.0,
            constants::ETA_NET * 100.0
        ));
        if multi {
            a.push(format!(
                "channels: {} flow(s) per ring edge that crosses the scale-out network, each with its own ECMP hash{}",
                req.opts.channels,
                if req.opts.channels == constants::NET_CHANNELS {
                    " (default)"
                } else {
                    " (--channels)"
                }
            ));
        }
    }
    a.push(format!(
        "placement: {}",
        match req.placement {
            Placement::Packed => "packed, rank r on accelerator r".to_string(),
            Placement::Scattered { seed } => format!(
                "scattered: whole scale-up domains of {} accelerators taken in a shuffled order fixed by seed {seed} (--placement scattered:SEED for another); ranks stay in order inside each domain, so what moves is which domains are neighbours in rank order and which leaves they share; {} of the {} domains used",
                f.domain_size,
                collective::plan::by_domain(f, req.ranks).len(),
                f.domain_count()
            ),
            Placement::List(_) => "from the file, rank r on the r-th accelerator listed".to_string(),
        }
    ));
    a
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
        let how = if row.protocol == NOTHING {
            row.algorithm.clone()
        } else {
            format!("{}/{}", row.algorithm, row.protocol)
        };
        let _ = writeln!(
            s,
            "  {:>12} {:>12} {:>7} {:>12.2} {:>9.2} {:>9.2}  {}",
            row.size_bytes as u64,
            row.count,
            "float",
            row.time_s * 1e6,
            row.algbw_bytes_per_s / 1e9,
            row.busbw_bytes_per_s / 1e9,
            how
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
    // One line per distinct expected error (it changes with the size band).
    let mut seen: Vec<(f64, &str, f64, f64)> = Vec::new();
    for row in &r.rows {
        let Some(e) = row.expected_error_pct else { continue };
        match seen
            .iter_mut()
            .find(|(p, b, _, _)| *p == e && *b == row.expected_error_basis)
        {
            Some(x) => x.3 = row.size_bytes,
            None => seen.push((e, &row.expected_error_basis, row.size_bytes, row.size_bytes)),
        }
    }
    for (e, basis, lo, hi) in seen {
        let sizes = if lo == hi {
            format!("{} B", lo as u64)
        } else {
            format!("{}–{} B", lo as u64, hi as u64)
        };
        let _ = writeln!(s, "# expected error ± {e:.1} % at {sizes}: {basis}");
    }
    for a in &r.assumptions {
        let _ = writeln!(s, "# assumed: {a}");
    }
    s
}
