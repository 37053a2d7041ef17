//! `fabricsim nccl-tests BINARY [flags]`: NVIDIA nccl-tests' command line and output, priced by
//! the collective model (`fabricsim::nccl_tests`). This file parses the flags and renders the
//! text nccl-tests prints; the semantics live in the library.

use crate::model_flags::ModelFlags;
use crate::UserError;
use fabricsim::collective::binary_bytes;
use fabricsim::nccl_tests::{self as nt, Report, Settings, Step, Timing};
use std::fmt::Write;

/// nccl-tests' flags keep their names, short (`-b 8`, `-b8`) and long (`--minbytes 8`).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// all_reduce_perf, all_gather_perf, reduce_scatter_perf, alltoall_perf, broadcast_perf,
    /// reduce_perf or sendrecv_perf (a path to one is fine).
    pub binary: String,
    /// Cluster: preset with parameters or a TOML file (default: dgx-h100, one 8-GPU node).
    #[arg(long, default_value = "dgx-h100")]
    pub cluster: String,
    /// Processes, as `mpirun -np N`; ranks = np × threads × GPUs.
    #[arg(long, default_value_t = 1)]
    pub np: u32,
    /// Threads per process.
    #[arg(short = 't', long = "nthreads", default_value_t = 1)]
    pub nthreads: u32,
    /// GPUs per thread.
    #[arg(short = 'g', long = "ngpus", default_value_t = 1)]
    pub ngpus: u32,
    /// Smallest size (bytes, or with K, M, G: powers of 1024).
    #[arg(short = 'b', long = "minbytes", default_value = "32M")]
    pub minbytes: String,
    /// Largest size.
    #[arg(short = 'e', long = "maxbytes", default_value = "32M")]
    pub maxbytes: String,
    /// Increment between sizes when the step factor is 1.
    #[arg(short = 'i', long = "stepbytes", default_value = "1M")]
    pub stepbytes: String,
    /// Multiply the size by this between rows (when above 1).
    #[arg(short = 'f', long = "stepfactor", default_value_t = 1)]
    pub stepfactor: u64,
    /// Timed iterations (accepted; the model gives one iteration's time).
    #[arg(short = 'n', long = "iters", default_value_t = 20)]
    pub iters: u32,
    /// Aggregated iterations (accepted, no effect).
    #[arg(short = 'm', long = "agg_iters", default_value_t = 1)]
    pub agg_iters: u32,
    /// Warm-up iterations (accepted, no effect).
    #[arg(short = 'w', long = "warmup_iters", default_value_t = 5)]
    pub warmup_iters: u32,
    /// Print the sweep this many times.
    #[arg(short = 'N', long = "run_cycles", default_value_t = 1)]
    pub run_cycles: u32,
    /// Refuse a run whose estimated memory exceeds this (bytes, or with K, M, G: powers of
    /// 1024; default 2G), as `collective` does.
    #[arg(long)]
    pub max_memory: Option<String>,
    /// Parallel init (accepted; prints nccl-tests' notice).
    #[arg(short = 'p', long = "parallel_init", default_value_t = 0)]
    pub parallel_init: u32,
    /// Check iterations (0: no validation, #wrong prints N/A).
    #[arg(short = 'c', long = "check", default_value_t = 1)]
    pub check: u32,
    /// Reduction: sum, prod, max, min, avg, mulsum or all.
    #[arg(short = 'o', long = "op", default_value = "sum")]
    pub op: String,
    /// Datatype: int8, uint8, int32, uint32, int64, uint64, half (float16), float (float32),
    /// double (float64), bfloat16, f8e4m3, f8e5m2, or all.
    #[arg(short = 'd', long = "datatype", default_value = "float")]
    pub datatype: String,
    /// Root rank of broadcast and reduce.
    #[arg(short = 'r', long = "root", default_value_t = 0)]
    pub root: i64,
    /// Blocking collectives (accepted; prints nccl-tests' notice).
    #[arg(short = 'z', long = "blocking", default_value_t = 0)]
    pub blocking: u32,
    /// Use the NULL stream (accepted, no effect).
    #[arg(short = 'y', long = "stream_null", default_value_t = 0)]
    pub stream_null: u32,
    /// Timeout in seconds (accepted, no effect).
    #[arg(short = 'T', long = "timeout", default_value_t = 0)]
    pub timeout: u32,
    /// CUDA graph launches (accepted; printed in the header).
    #[arg(short = 'G', long = "cudagraph", default_value_t = 0)]
    pub cudagraph: u32,
    /// Report CPU time (accepted; renames the time column).
    #[arg(short = 'C', long = "report_cputime", default_value_t = 0)]
    pub report_cputime: u32,
    /// Average the time over ranks 0/1/2/3 (accepted, no effect: every rank takes as long).
    #[arg(short = 'a', long = "average", default_value_t = 1)]
    pub average: u32,
    /// Register buffers (accepted, no effect).
    #[arg(short = 'R', long = "local_register", default_value_t = 0)]
    pub local_register: u32,
    #[command(flatten)]
    pub model: ModelFlags,
    /// Print the report as JSON (schema_version, units in key names) instead of nccl-tests' table.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    fn settings(&self) -> Result<Settings, UserError> {
        let min_bytes = nt::parse_size("-b", &self.minbytes)?;
        let max_bytes = nt::parse_size("-e", &self.maxbytes)?;
        let step = if self.stepfactor > 1 {
            Step::Factor(self.stepfactor)
        } else {
            Step::Bytes(nt::parse_size("-i", &self.stepbytes)?)
        };
        Ok(Settings {
            binary: nt::Binary::parse(&self.binary)?,
            min_bytes,
            max_bytes,
            step,
            procs: self.np,
            threads: self.nthreads,
            gpus: self.ngpus,
            datatypes: nt::parse_datatypes(&self.datatype)?,
            redops: nt::parse_redops(&self.op)?,
            root: self.root,
            iters: self.iters,
            warmup_iters: self.warmup_iters,
            agg_iters: self.agg_iters,
            run_cycles: self.run_cycles,
            check: self.check,
            blocking: self.blocking != 0,
            parallel_init: self.parallel_init != 0,
            cudagraph: self.cudagraph,
            report_cputime: self.report_cputime != 0,
        })
    }
}

pub fn run(args: Args) -> Result<(), UserError> {
    let settings = args.settings()?;
    let (algo, opts) = args.model.resolve()?;
    let (_, mut f) = crate::load_cluster(&args.cluster).map_err(|e| UserError(format!("--cluster: {}", e.0)))?;
    args.model.routing.apply(&mut f)?;
    // Memory is checked before the run, as for `collective`.
    if let Ok(n) = nt::ranks(&f, &settings).map(|n| n.min(f.accel_count() as u32)) {
        let ranks: Vec<u32> = (0..n).collect();
        let limit = crate::max_memory(args.max_memory.as_deref())?;
        let (est, largest) =
            fabricsim::collective::estimate_memory(&f, &ranks, settings.binary.op(), algo.map(|a| a.algo), opts)
                .map_err(UserError)?;
        if n > 1 {
            crate::check_memory(&est, &largest, limit)?;
        }
    }
    let pb = crate::spinner(&format!("simulating {}", settings.binary.name()));
    let r = nt::run(
        &f,
        &nt::Request {
            cluster: &args.cluster,
            settings: &settings,
            algo,
            opts,
        },
    );
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let r = r?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", render(&r));
    }
    Ok(())
}

/// C's `%g`: six significant digits, trailing zeros dropped, exponent form below 1e-4 and from
/// 1e6 on (nccl-tests prints the average bus bandwidth this way).
pub fn fmt_g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x == 0.0 { "0".into() } else { format!("{x}") };
    }
    // The exponent after rounding to six significant digits.
    let e = format!("{x:.5e}");
    let exp: i32 = e.rsplit('e').next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let trim = |s: String| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if (-4..6).contains(&exp) {
        trim(format!("{x:.*}", (5 - exp) as usize))
    } else {
        let (mant, _) = e.split_once('e').unwrap_or((&e, ""));
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant.to_string()), exp.abs())
    }
}

/// nccl-tests' time column: fewer decimals as the time grows.
fn fmt_time(us: f64) -> String {
    if us >= 10000.0 {
        format!("{us:7.0}")
    } else if us >= 100.0 {
        format!("{us:7.1}")
    } else {
        format!("{us:7.2}")
    }
}

fn placement(s: &mut String, t: &Timing) {
    let wrong = match t.wrong {
        Some(w) => format!("{w:5}"),
        None => format!("{:>5}", "N/A"),
    };
    let _ = write!(
        s,
        "  {}  {:6.2}  {:6.2}  {wrong}",
        fmt_time(t.time_s * 1e6),
        t.algbw_bytes_per_s / 1e9,
        t.busbw_bytes_per_s / 1e9
    );
}

/// The text nccl-tests prints, with fabricsim's own lines (all starting with `#`) around it.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# fabricsim nccl-tests: modelled, not measured · {} on {} · {} ranks · {} fidelity",
        r.binary, r.cluster, r.ranks, r.fidelity
    );
    let (step, kind) = match (r.step_factor, r.step_bytes) {
        (Some(f), _) => (f, "factor"),
        (None, b) => (b.unwrap_or(0), "bytes"),
    };
    let _ = writeln!(
        s,
        "# nThread {} nGpus {} minBytes {} maxBytes {} step: {step}({kind}) warmup iters: {} iters: {} agg iters: {} validation: {} graph: {}",
        r.threads, r.gpus_per_thread, r.min_bytes, r.max_bytes, r.warmup_iters, r.iters, r.agg_iters, r.validation, r.graph
    );
    if r.blocking {
        let _ = writeln!(
            s,
            "# Blocking Enabled: wait for completion and barrier after each collective "
        );
    }
    if r.parallel_init {
        let _ = writeln!(
            s,
            "# Parallel Init Enabled: threads call into NcclInitRank concurrently "
        );
    }
    let _ = writeln!(s, "#");
    let _ = writeln!(s, "# Using devices");
    let half = r.devices.len() / 2;
    for (i, d) in r.devices.iter().enumerate() {
        if r.devices_omitted > 0 && i == half {
            let _ = writeln!(
                s,
                "#  ... ranks {} to {} omitted: fabricsim lists the first and last {half} of {} ranks",
                d.rank - r.devices_omitted,
                d.rank - 1,
                r.ranks
            );
        }
        let _ = writeln!(
            s,
            "#  Rank {:2} Group {:2} Pid {:6} on {:>10} device {:2} [0x{:02x}] {}",
            d.rank, 0, d.process, d.host, d.device, d.device, d.name
        );
    }
    if let Some(m) = r.max_bytes_reduced {
        let _ = writeln!(s, "#");
        let _ = writeln!(s, "# Reducing maxBytes to {m} due to memory limitation");
    }
    let time = if r.report_cputime { "cputime" } else { "time" };
    let _ = writeln!(s, "#");
    let _ = writeln!(
        s,
        "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}           out-of-place                       in-place          ",
        "", "", "", "", ""
    );
    let _ = writeln!(
        s,
        "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6} {:>6}  {:>7}  {:>6}  {:>6} {:>6}",
        "size", "count", "type", "redop", "root", time, "algbw", "busbw", "#wrong", time, "algbw", "busbw", "#wrong"
    );
    let _ = writeln!(
        s,
        "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6}  {:>5}  {:>7}  {:>6}  {:>6}  {:>5}",
        "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", ""
    );
    for row in &r.rows {
        let _ = write!(
            s,
            "{:12}  {:12}  {:>8}  {:>6}  {:6}",
            row.size_bytes, row.count, row.datatype, row.redop, row.root
        );
        placement(&mut s, &row.out_of_place);
        placement(&mut s, &row.in_place);
        s.push('\n');
    }
    let _ = writeln!(s, "# Out of bounds values : {} OK", r.out_of_bounds_values);
    let _ = writeln!(s, "# Avg bus bandwidth    : {} ", fmt_g(r.avg_busbw_bytes_per_s / 1e9));
    let _ = writeln!(s, "#");
    // fabricsim's additions: which algorithm each size used, and what was assumed.
    if let Some(first) = r.rows.first() {
        let _ = writeln!(
            s,
            "# fabricsim: algorithm/protocol per size ({}, {}):",
            first.datatype, first.redop
        );
        let block = r
            .rows
            .iter()
            .take_while(|x| x.datatype == first.datatype && x.redop == first.redop)
            .count();
        // -N repeats the sweep within a block.
        let sweep = r.rows.iter().take(block / r.run_cycles.max(1) as usize);
        let mut runs: Vec<(u64, u64, String)> = Vec::new();
        for x in sweep {
            let how = if x.protocol == fabricsim::collective::NOTHING {
                x.algorithm.clone()
            } else {
                format!("{}/{}", x.algorithm, x.protocol)
            };
            match runs.last_mut() {
                Some(last) if last.2 == how => last.1 = x.size_bytes,
                _ => runs.push((x.size_bytes, x.size_bytes, how)),
            }
        }
        for (a, b, how) in runs {
            let range = if a == b {
                binary_bytes(a as f64)
            } else {
                format!("{} … {}", binary_bytes(a as f64), binary_bytes(b as f64))
            };
            let _ = writeln!(s, "#   {range:<24} {how}");
        }
    }
    for a in &r.assumptions {
        let _ = writeln!(s, "# assumed: {a}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_g_matches_c() {
        for (x, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (123.456, "123.456"),
            (123.4567, "123.457"),
            (358.2071, "358.207"),
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (999999.4, "999999"),
            (999999.6, "1e+06"),
            (1234567.0, "1.23457e+06"),
            (100.0, "100"),
        ] {
            assert_eq!(fmt_g(x), want, "{x}");
        }
    }

    #[test]
    fn time_column_widths() {
        assert_eq!(fmt_time(12.345), "  12.35");
        assert_eq!(fmt_time(123.45), "  123.5");
        assert_eq!(fmt_time(12345.6), "  12346");
    }
}
