//! `fabricsim nccl-tests`: NVIDIA's nccl-tests (`all_reduce_perf` and friends) in silico. This
//! module holds nccl-tests' own semantics — which binary runs which collective, the size sweep,
//! how a size becomes an element count per rank, the datatypes and reduction operations, the
//! device list — and prices every row with the collective model (`crate::collective::run`, the
//! same code as `fabricsim collective`). Rendering the nccl-tests text is the CLI's.
//!
//! Semantics followed (nccl-tests `src/common.cu` and one file per binary):
//! - `count = size / sizeof(type)`; all_gather, reduce_scatter and alltoall round the count
//!   down to a multiple of the ranks; the printed size is the larger of the send and receive
//!   buffers and the printed count is the count each rank passes to NCCL;
//! - algbw = printed size / time (all_gather, reduce_scatter, alltoall: count × ranks × type
//!   size, the whole buffer), busbw = algbw × 2(n−1)/n (all_reduce), (n−1)/n (all_gather,
//!   reduce_scatter, alltoall), 1 (broadcast, reduce, sendrecv);
//! - the sweep multiplies by `-f` when it is above 1, else adds `-i` bytes;
//! - `maxBytes` is cut to (memory − 1 GiB) / 3 (/ 2 without `-c`) when the buffers would not fit.
//!
//! What is not modelled: the iteration flags (`-n`, `-w`, `-m`, `-a`, `-z`, `-G`, `-C`, `-p`)
//! change nothing (the model gives one iteration's steady-state time); in-place and
//! out-of-place are priced alike; the reduction operation and datatype do not restrict the
//! algorithms (NCCL runs NVLS and CollNet only for some operation/type pairs).

use crate::collective::{self as fc, Placement, Row};
use collective::{AlgoRequest, CollectiveError, Op, Options};
use fabric::Fabric;
use serde::Serialize;

/// Errors of an nccl-tests run; every message names the flag.
#[derive(Debug, thiserror::Error)]
pub enum NcclTestsError {
    #[error("{flag}: {why}")]
    Flag { flag: &'static str, why: String },
    #[error(transparent)]
    Collective(#[from] CollectiveError),
}

fn flag_err(flag: &'static str, why: impl Into<String>) -> NcclTestsError {
    NcclTestsError::Flag { flag, why: why.into() }
}

/// One of nccl-tests' binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    AllReduce,
    AllGather,
    ReduceScatter,
    AllToAll,
    Broadcast,
    Reduce,
    SendRecv,
}

impl Binary {
    pub const ALL: [Binary; 7] = [
        Binary::AllReduce,
        Binary::AllGather,
        Binary::ReduceScatter,
        Binary::AllToAll,
        Binary::Broadcast,
        Binary::Reduce,
        Binary::SendRecv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Binary::AllReduce => "all_reduce_perf",
            Binary::AllGather => "all_gather_perf",
            Binary::ReduceScatter => "reduce_scatter_perf",
            Binary::AllToAll => "alltoall_perf",
            Binary::Broadcast => "broadcast_perf",
            Binary::Reduce => "reduce_perf",
            Binary::SendRecv => "sendrecv_perf",
        }
    }

    /// The binary by name; a path (`./build/all_reduce_perf`) names its last component.
    pub fn parse(s: &str) -> Result<Binary, NcclTestsError> {
        let base = s.rsplit('/').next().unwrap_or(s);
        Binary::ALL.into_iter().find(|b| b.name() == base).ok_or_else(|| {
            let known: Vec<&str> = Binary::ALL.iter().map(|b| b.name()).collect();
            flag_err(
                "BINARY",
                format!("`{s}` is not an nccl-tests binary (known: {})", known.join(", ")),
            )
        })
    }

    pub fn op(self) -> Op {
        match self {
            Binary::AllReduce => Op::AllReduce,
            Binary::AllGather => Op::AllGather,
            Binary::ReduceScatter => Op::ReduceScatter,
            Binary::AllToAll => Op::AllToAll,
            Binary::Broadcast => Op::Broadcast,
            Binary::Reduce => Op::Reduce,
            Binary::SendRecv => Op::SendRecv,
        }
    }

    /// Does the binary reduce (and print its `redop`)? The others print `none`.
    pub fn reduces(self) -> bool {
        matches!(self, Binary::AllReduce | Binary::ReduceScatter | Binary::Reduce)
    }

    /// Does the binary have a root (and print it)? The others print `-1`.
    pub fn rooted(self) -> bool {
        matches!(self, Binary::Broadcast | Binary::Reduce)
    }

    /// Does nccl-tests check the in-place result? alltoall and sendrecv print `N/A`.
    pub fn checks_in_place(self) -> bool {
        !matches!(self, Binary::AllToAll | Binary::SendRecv)
    }

    /// nccl-tests' element counts for `count` elements over `n` ranks: (send, receive, the
    /// count each rank passes to NCCL).
    pub fn counts(self, count: u64, n: u64) -> (u64, u64, u64) {
        let per = count / n.max(1);
        match self {
            Binary::AllGather => (per, per * n, per),
            Binary::ReduceScatter => (per * n, per, per),
            Binary::AllToAll => (per * n, per * n, per),
            Binary::AllReduce | Binary::Broadcast | Binary::Reduce | Binary::SendRecv => (count, count, count),
        }
    }
}

/// A datatype: nccl-tests' name and its size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DataType {
    pub name: &'static str,
    pub size_bytes: u64,
}

/// nccl-tests' datatypes (`-d all` runs the first ten, as nccl-tests does) and accepted aliases.
const DATATYPES: [(&str, &[&str], u64); 12] = [
    ("int8", &["char"], 1),
    ("uint8", &[], 1),
    ("int32", &["int"], 4),
    ("uint32", &[], 4),
    ("int64", &[], 8),
    ("uint64", &[], 8),
    ("half", &["float16", "fp16"], 2),
    ("float", &["float32", "fp32"], 4),
    ("double", &["float64", "fp64"], 8),
    ("bfloat16", &["bf16"], 2),
    ("f8e4m3", &["fp8_e4m3", "float8e4m3", "e4m3"], 1),
    ("f8e5m2", &["fp8_e5m2", "float8e5m2", "e5m2"], 1),
];

/// `-d`: one datatype, or `all`.
pub fn parse_datatypes(s: &str) -> Result<Vec<DataType>, NcclTestsError> {
    let k = s.trim().to_lowercase();
    let dt = |&(name, _, size): &(&'static str, &[&str], u64)| DataType { name, size_bytes: size };
    if k == "all" {
        return Ok(DATATYPES[..10].iter().map(dt).collect());
    }
    DATATYPES
        .iter()
        .find(|(name, aliases, _)| *name == k || aliases.contains(&k.as_str()))
        .map(|d| vec![dt(d)])
        .ok_or_else(|| {
            let known: Vec<&str> = DATATYPES.iter().map(|d| d.0).collect();
            flag_err(
                "-d",
                format!("unknown datatype `{s}` (known: {}, all)", known.join(", ")),
            )
        })
}

/// nccl-tests' reduction operations (`-o all` runs every one, in this order).
const REDOPS: [&str; 6] = ["sum", "prod", "max", "min", "avg", "mulsum"];

/// `-o`: one reduction operation, or `all`.
pub fn parse_redops(s: &str) -> Result<Vec<&'static str>, NcclTestsError> {
    let k = s.trim().to_lowercase();
    if k == "all" {
        return Ok(REDOPS.to_vec());
    }
    REDOPS.iter().find(|o| **o == k).map(|o| vec![*o]).ok_or_else(|| {
        flag_err(
            "-o",
            format!("unknown reduction `{s}` (known: {}, all)", REDOPS.join(", ")),
        )
    })
}

/// A size as nccl-tests reads it: a number with an optional K, M or G (powers of 1024, any
/// case), an optional trailing `B`; fractions allowed (`0.5G`), the result truncated to bytes.
pub fn parse_size(flag: &'static str, s: &str) -> Result<u64, NcclTestsError> {
    let t = s.trim();
    let bad = || flag_err(flag, format!("`{s}` is not a size (bytes, or a number with K, M or G)"));
    let body = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let (num, mult) = match body.chars().last() {
        Some('K' | 'k') => (&body[..body.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&body[..body.len() - 1], 1 << 20),
        Some('G' | 'g') => (&body[..body.len() - 1], 1 << 30),
        Some('T' | 't') => (&body[..body.len() - 1], 1 << 40),
        _ => (body, 1),
    };
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    let bytes = v * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > (1u64 << 50) as f64 {
        return Err(flag_err(flag, format!("size `{s}` is out of range (0 B … 1 PiB)")));
    }
    Ok(bytes as u64)
}

/// How the sweep grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `-f F`, F > 1: multiply.
    Factor(u64),
    /// `-i BYTES` (when `-f` is 1 or absent): add.
    Bytes(u64),
}

/// Most rows a sweep may have.
pub const MAX_SIZES: usize = 10_000;

/// The sizes of the sweep `min ..= max`, as nccl-tests' loop produces them.
pub fn sweep(min: u64, max: u64, step: Step) -> Result<Vec<u64>, NcclTestsError> {
    if min > max {
        return Err(flag_err("-b", format!("minbytes {min} is above maxbytes (-e) {max}")));
    }
    match step {
        Step::Factor(_) if min == 0 => {
            return Err(flag_err(
                "-b",
                "0 with a step factor (-f) never grows: give -b 1 or more",
            ));
        }
        Step::Bytes(0) if max > min => return Err(flag_err("-i", "0 never grows: give a step of 1 byte or more")),
        _ => {}
    }
    let mut v = Vec::new();
    let mut size = min;
    while size <= max {
        if v.len() == MAX_SIZES {
            return Err(flag_err(
                match step {
                    Step::Factor(_) => "-f",
                    Step::Bytes(_) => "-i",
                },
                format!("the sweep {min} … {max} has more than {MAX_SIZES} sizes: use a larger step"),
            ));
        }
        v.push(size);
        let next = match step {
            Step::Factor(f) => size.checked_mul(f),
            Step::Bytes(b) => size.checked_add(b),
        };
        match next {
            Some(n) if n > size => size = n,
            _ => break,
        }
    }
    Ok(v)
}

/// nccl-tests' command line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub binary: Binary,
    pub min_bytes: u64,
    pub max_bytes: u64,
    pub step: Step,
    /// `--np` (mpirun -np), `-t`, `-g`.
    pub procs: u32,
    pub threads: u32,
    pub gpus: u32,
    pub datatypes: Vec<DataType>,
    pub redops: Vec<&'static str>,
    pub root: i64,
    pub iters: u32,
    pub warmup_iters: u32,
    pub agg_iters: u32,
    pub run_cycles: u32,
    /// `-c`: check iterations (0: no validation, `#wrong` prints N/A).
    pub check: u32,
    pub blocking: bool,
    pub parallel_init: bool,
    pub cudagraph: u32,
    pub report_cputime: bool,
}

/// One nccl-tests run.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub cluster: &'a str,
    pub settings: &'a Settings,
    pub algo: Option<AlgoRequest>,
    pub opts: Options,
}

/// One rank of the `# Using devices` block.
#[derive(Debug, Clone, Serialize)]
pub struct Device {
    pub rank: u32,
    /// The process (mpirun rank) that drives it.
    pub process: u32,
    pub host: String,
    /// Index of the accelerator on its host.
    pub device: u32,
    /// Index of the accelerator in the cluster.
    pub accelerator: u32,
    pub name: String,
}

/// Time and bandwidths of one placement (out-of-place or in-place).
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub time_s: f64,
    pub algbw_bytes_per_s: f64,
    pub busbw_bytes_per_s: f64,
    /// Wrong elements; `None` where nccl-tests does not check (prints N/A).
    pub wrong: Option<u64>,
}

/// One printed row.
#[derive(Debug, Clone, Serialize)]
pub struct NcclRow {
    pub size_bytes: u64,
    pub count: u64,
    #[serde(rename = "type")]
    pub datatype: &'static str,
    pub redop: &'static str,
    pub root: i64,
    pub out_of_place: Timing,
    pub in_place: Timing,
    pub algorithm: String,
    pub protocol: String,
    /// The error fabricsim showed on the nearest class of published collective rows, %
    /// (`crate::expected_error`, as `collective` reports it).
    pub expected_error_pct: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub binary: String,
    pub op: String,
    pub cluster: String,
    pub fidelity: String,
    pub processes: u32,
    pub threads: u32,
    pub gpus_per_thread: u32,
    pub ranks: u32,
    pub min_bytes: u64,
    /// As given (`-e`); the sweep stops at `max_bytes_reduced` when that is set.
    pub max_bytes: u64,
    /// `Some` when the buffers would not fit in accelerator memory (nccl-tests' "Reducing
    /// maxBytes"), the size the sweep stops at.
    pub max_bytes_reduced: Option<u64>,
    pub step_factor: Option<u64>,
    pub step_bytes: Option<u64>,
    pub warmup_iters: u32,
    pub iters: u32,
    pub agg_iters: u32,
    pub run_cycles: u32,
    pub validation: u32,
    pub graph: u32,
    pub blocking: bool,
    pub parallel_init: bool,
    pub report_cputime: bool,
    /// The listed ranks (all up to [`DEVICES_LISTED`] ranks, else the first and last
    /// `DEVICES_LISTED / 2`).
    pub devices: Vec<Device>,
    pub devices_omitted: u32,
    pub rows: Vec<NcclRow>,
    pub out_of_bounds_values: u64,
    /// Mean busbw over every row and both placements, as nccl-tests' "Avg bus bandwidth".
    pub avg_busbw_bytes_per_s: f64,
    pub assumptions: Vec<String>,
}

/// Ranks listed one per line; above this the list shows the first and last half of it.
pub const DEVICES_LISTED: u32 = 64;

/// Accelerators per host: hosts of the bill of materials when they divide the accelerators,
/// else the scale-up domain.
fn accels_per_host(f: &Fabric) -> u32 {
    let n = f.accel_count() as u32;
    let h = f.extras.hosts;
    if h > 0 && n % h == 0 {
        n / h
    } else {
        f.domain_size.max(1)
    }
}

fn device(f: &Fabric, s: &Settings, rank: u32, acc: u32, name: &str) -> Device {
    let per_host = accels_per_host(f);
    Device {
        rank,
        process: rank / (s.threads * s.gpus).max(1),
        host: format!("host{}", acc / per_host),
        device: acc % per_host,
        accelerator: acc,
        name: name.to_string(),
    }
}

/// The ranks: `--np × -t × -g`, checked against the cluster.
pub fn ranks(f: &Fabric, s: &Settings) -> Result<u32, NcclTestsError> {
    for (flag, v) in [("--np", s.procs), ("-t", s.threads), ("-g", s.gpus)] {
        if v == 0 {
            return Err(flag_err(flag, "0: needs at least 1"));
        }
    }
    let n = s.procs as u64 * s.threads as u64 * s.gpus as u64;
    let total = f.accel_count() as u64;
    if n > total {
        return Err(flag_err(
            "--np",
            format!(
                "{} process(es) × {} thread(s) (-t) × {} GPU(s) (-g) = {n} ranks, but the cluster has {total} accelerators (give a larger --cluster, e.g. fat-tree:gpus={n})",
                s.procs, s.threads, s.gpus
            ),
        ));
    }
    Ok(n as u32)
}

/// Run the sweep on the collective model and build the report.
/// Most rows one run prints (all cycles, sizes, datatypes and ops).
pub const MAX_ROWS: u64 = 100_000;

pub fn run(f: &Fabric, req: &Request) -> Result<Report, NcclTestsError> {
    let s = req.settings;
    let n = ranks(f, s)?;
    if s.binary.rooted() && (s.root < 0 || s.root >= n as i64) {
        return Err(flag_err(
            "-r",
            format!("root {} is not a rank (0 ..= {})", s.root, n - 1),
        ));
    }
    if s.run_cycles == 0 {
        return Err(flag_err("-N", "0 (run forever) cannot be simulated: give 1 or more"));
    }
    let acc = fabric::catalogue::accelerator(f.accel_model);
    let accel_name = acc.map(|a| a.name).unwrap_or(f.accel_model);
    // nccl-tests allocates send, receive and (with -c) expected buffers of maxBytes plus 1 GiB.
    let max_bytes_reduced = acc.and_then(|a| {
        let mem = a.hbm.0 as u64;
        let fit = mem.saturating_sub(1 << 30) / if s.check > 0 { 3 } else { 2 };
        (s.max_bytes > fit).then_some(fit)
    });
    let max = max_bytes_reduced.unwrap_or(s.max_bytes);
    let sizes: Vec<u64> = sweep(s.min_bytes, s.max_bytes, s.step)?
        .into_iter()
        .filter(|&b| b <= max)
        .collect();

    // Every printed size of every datatype, simulated once.
    let nn = n as u64;
    let setup = |size: u64, dt: &DataType| {
        let count = size / dt.size_bytes;
        let (send, recv, param) = s.binary.counts(count, nn);
        (send.max(recv) * dt.size_bytes, param)
    };
    let mut all: Vec<u64> = s
        .datatypes
        .iter()
        .flat_map(|dt| sizes.iter().map(move |&b| setup(b, dt).0))
        .collect();
    all.sort_unstable();
    all.dedup();
    // Every cycle prints every size of every datatype and op: bound the rows (≈ 400 B each) so the
    // report stays within memory and the run within seconds.
    let rows = sizes.len() as u64 * s.datatypes.len() as u64 * s.redops.len().max(1) as u64 * s.run_cycles as u64;
    if rows > MAX_ROWS {
        return Err(flag_err(
            "-N",
            format!(
                "{} cycles × {} sizes × {} datatypes × {} ops is {rows} rows, beyond the {MAX_ROWS} this tool prints: lower -N or the sweep",
                s.run_cycles,
                sizes.len(),
                s.datatypes.len(),
                s.redops.len().max(1)
            ),
        ));
    }
    let rank_list: Vec<u32> = (0..n).collect();
    let placement = Placement::Packed;
    let sizes_f: Vec<f64> = all.iter().map(|&b| b as f64).collect();
    let coll = fc::run(
        f,
        &fc::Request {
            cluster: req.cluster,
            op: s.binary.op(),
            ranks: &rank_list,
            sizes: &sizes_f,
            algo: req.algo,
            opts: req.opts,
            placement: &placement,
        },
    )?;
    let by_size = |b: u64| -> &Row { &coll.rows[all.binary_search(&b).expect("every printed size was simulated")] };

    let timing = |r: &Row, checked: bool| Timing {
        time_s: r.time_s,
        algbw_bytes_per_s: r.algbw_bytes_per_s,
        busbw_bytes_per_s: r.busbw_bytes_per_s,
        wrong: (checked && s.check > 0).then_some(0),
    };
    let redops: Vec<&'static str> = if s.binary.reduces() {
        s.redops.clone()
    } else {
        vec!["none"]
    };
    let root = if s.binary.rooted() { s.root } else { -1 };
    let mut rows = Vec::new();
    for dt in &s.datatypes {
        for &redop in &redops {
            for _ in 0..s.run_cycles {
                for &b in &sizes {
                    let (size, count) = setup(b, dt);
                    let r = by_size(size);
                    rows.push(NcclRow {
                        size_bytes: size,
                        count,
                        datatype: dt.name,
                        redop,
                        root,
                        out_of_place: timing(r, true),
                        in_place: timing(r, s.binary.checks_in_place()),
                        algorithm: r.algorithm.clone(),
                        protocol: r.protocol.clone(),
                        expected_error_pct: r.expected_error_pct,
                    });
                }
            }
        }
    }
    let avg = if rows.is_empty() {
        0.0
    } else {
        rows.iter()
            .map(|r| r.out_of_place.busbw_bytes_per_s + r.in_place.busbw_bytes_per_s)
            .sum::<f64>()
            / (2 * rows.len()) as f64
    };

    let listed: Vec<u32> = if n <= DEVICES_LISTED {
        (0..n).collect()
    } else {
        let h = DEVICES_LISTED / 2;
        (0..h).chain(n - h..n).collect()
    };
    let devices = listed
        .iter()
        .map(|&r| device(f, s, r, rank_list[r as usize], accel_name))
        .collect();

    let mut assumptions = vec![
        format!(
            "ranks: {} process(es) (--np, as mpirun -np) × {} thread(s) (-t) × {} GPU(s) (-g) = {n}, rank r on accelerator r (packed); Pid is the process index",
            s.procs, s.threads, s.gpus
        ),
        "sizes: count = size / sizeof(type); all_gather, reduce_scatter and alltoall round it down to a multiple of the ranks; the printed size is the larger buffer and the count is each rank's (nccl-tests' semantics)".into(),
        "iterations: -n, -w, -m, -a, -z, -G, -C and -p change nothing here; the time is one iteration's modelled steady state, in-place and out-of-place alike; #wrong is 0 as nothing is computed".into(),
        "the reduction operation (-o) and the datatype (-d) do not restrict the algorithms (NCCL runs NVLS and CollNet only for some operation/type pairs); the datatype sets the element size only".into(),
    ];
    if s.binary.rooted() {
        assumptions.push(format!(
            "root: rank {} is printed; the model's chain starts at rank 0 whatever the root",
            s.root
        ));
    }
    assumptions.extend(coll.assumptions.into_iter().filter(|a| !a.starts_with("placement:")));

    Ok(Report {
        schema_version: crate::SCHEMA_VERSION,
        binary: s.binary.name().into(),
        op: s.binary.op().name().into(),
        cluster: req.cluster.to_string(),
        fidelity: coll.fidelity,
        processes: s.procs,
        threads: s.threads,
        gpus_per_thread: s.gpus,
        ranks: n,
        min_bytes: s.min_bytes,
        max_bytes: s.max_bytes,
        max_bytes_reduced,
        step_factor: match s.step {
            Step::Factor(f) => Some(f),
            Step::Bytes(_) => None,
        },
        step_bytes: match s.step {
            Step::Bytes(b) => Some(b),
            Step::Factor(_) => None,
        },
        warmup_iters: s.warmup_iters,
        iters: s.iters,
        agg_iters: s.agg_iters,
        run_cycles: s.run_cycles,
        validation: s.check,
        graph: s.cudagraph,
        blocking: s.blocking,
        parallel_init: s.parallel_init,
        report_cputime: s.report_cputime,
        devices,
        devices_omitted: n - listed.len() as u32,
        rows,
        out_of_bounds_values: 0,
        avg_busbw_bytes_per_s: avg,
        assumptions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_nccl_tests() {
        for (s, b) in [
            ("8", 8),
            ("1K", 1024),
            ("1k", 1024),
            ("4M", 4 << 20),
            ("8G", 8 << 30),
            ("8GB", 8 << 30),
            ("0.5G", 1 << 29),
            ("0", 0),
        ] {
            assert_eq!(parse_size("-b", s).unwrap(), b, "{s}");
        }
        for bad in ["", "x", "8Q", "-1", "1e30"] {
            let e = parse_size("-e", bad).unwrap_err().to_string();
            assert!(e.starts_with("-e: "), "{bad}: {e}");
        }
    }

    #[test]
    fn sweep_multiplies_or_adds() {
        let v = sweep(8, 8 << 30, Step::Factor(2)).unwrap();
        assert_eq!(v.len(), 31);
        assert_eq!((v[0], *v.last().unwrap()), (8, 8 << 30));
        assert_eq!(sweep(1 << 20, 4 << 30, Step::Factor(4)).unwrap().len(), 7);
        assert_eq!(sweep(0, 3, Step::Bytes(1)).unwrap(), vec![0, 1, 2, 3]);
        // A maximum the factor does not hit is not passed.
        assert_eq!(sweep(3, 20, Step::Factor(2)).unwrap(), vec![3, 6, 12]);
        assert_eq!(sweep(5, 5, Step::Bytes(0)).unwrap(), vec![5]);
        for (min, max, step, flag) in [
            (0, 8, Step::Factor(2), "-b"),
            (1, 8, Step::Bytes(0), "-i"),
            (9, 8, Step::Factor(2), "-b"),
            (1, 1 << 30, Step::Bytes(1), "-i"),
        ] {
            let e = sweep(min, max, step).unwrap_err().to_string();
            assert!(e.starts_with(flag), "{min} {max} {step:?}: {e}");
        }
    }

    #[test]
    fn counts_follow_each_binary() {
        // 8 ranks, 1000 elements.
        assert_eq!(Binary::AllReduce.counts(1000, 8), (1000, 1000, 1000));
        assert_eq!(Binary::AllGather.counts(1000, 8), (125, 1000, 125));
        assert_eq!(Binary::ReduceScatter.counts(1001, 8), (1000, 125, 125));
        assert_eq!(Binary::AllToAll.counts(1007, 8), (1000, 1000, 125));
        assert_eq!(Binary::SendRecv.counts(7, 8), (7, 7, 7));
        // Fewer elements than ranks: nothing to send.
        assert_eq!(Binary::AllGather.counts(2, 8), (0, 0, 0));
    }

    #[test]
    fn binaries_datatypes_and_ops_parse() {
        for b in Binary::ALL {
            assert_eq!(Binary::parse(b.name()).unwrap(), b);
        }
        assert_eq!(Binary::parse("./build/alltoall_perf").unwrap(), Binary::AllToAll);
        let e = Binary::parse("all_reduce").unwrap_err().to_string();
        assert!(e.contains("all_reduce_perf"), "{e}");
        assert_eq!(parse_datatypes("bfloat16").unwrap()[0].size_bytes, 2);
        assert_eq!(parse_datatypes("float16").unwrap()[0].name, "half");
        assert_eq!(parse_datatypes("FLOAT32").unwrap()[0].name, "float");
        assert_eq!(parse_datatypes("f8e5m2").unwrap()[0].size_bytes, 1);
        assert_eq!(parse_datatypes("all").unwrap().len(), 10);
        assert!(parse_datatypes("float128").unwrap_err().to_string().starts_with("-d"));
        assert_eq!(parse_redops("all").unwrap().len(), 6);
        assert_eq!(parse_redops("MAX").unwrap(), vec!["max"]);
        assert!(parse_redops("xor").unwrap_err().to_string().starts_with("-o"));
    }
}
