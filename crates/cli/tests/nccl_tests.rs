//! `fabricsim nccl-tests` through the binary: nccl-tests' command lines run as written, the
//! output parses like nccl-tests' (header, columns, bandwidth factors, size/count semantics),
//! and bad input exits with code 2 and a message naming the flag.

use serde_json::Value;
use std::ffi::OsStr;
use std::fmt::Debug;
use std::process::{Command, Output};

fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn ok<S: AsRef<OsStr> + Debug>(args: &[S]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn fails<S: AsRef<OsStr> + Debug>(args: &[S], fragments: &[&str]) {
    let o = run(args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: status {:?}, stderr {e}", o.status);
    assert!(o.stdout.is_empty(), "{args:?}: printed to stdout");
    for f in fragments {
        assert!(e.contains(f), "{args:?}: stderr {e:?} lacks {f:?}");
    }
    assert!(!e.contains("panicked"), "{args:?}: {e}");
}

/// `fabricsim nccl-tests ARGS...`
fn nt(args: &[&str]) -> Vec<String> {
    std::iter::once("nccl-tests")
        .chain(args.iter().copied())
        .map(String::from)
        .collect()
}

/// A data row of nccl-tests' table, split into its 13 columns.
#[derive(Debug)]
struct Row {
    size: u64,
    count: u64,
    dtype: String,
    redop: String,
    root: i64,
    time_us: f64,
    algbw: f64,
    busbw: f64,
    wrong: String,
    in_time_us: f64,
    in_wrong: String,
}

fn rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(c.len(), 13, "row `{l}` has {} columns", c.len());
            Row {
                size: c[0].parse().unwrap(),
                count: c[1].parse().unwrap(),
                dtype: c[2].into(),
                redop: c[3].into(),
                root: c[4].parse().unwrap(),
                time_us: c[5].parse().unwrap(),
                algbw: c[6].parse().unwrap(),
                busbw: c[7].parse().unwrap(),
                wrong: c[8].into(),
                in_time_us: c[9].parse().unwrap(),
                in_wrong: c[12].into(),
            }
        })
        .collect()
}

fn avg_busbw(text: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with("# Avg bus bandwidth    : "))
        .unwrap_or_else(|| panic!("no Avg bus bandwidth line in {text}"));
    line.trim_start_matches("# Avg bus bandwidth    : ")
        .trim()
        .parse()
        .unwrap()
}

/// The command lines of the issue run as written, with nccl-tests' header, device list, column
/// header, one row per size and the two summary lines.
#[test]
fn issue_command_lines_run_as_written() {
    let cases: [(&[&str], usize, &str); 4] = [
        (&["all_reduce_perf", "-b", "8", "-e", "8G", "-f", "2", "-g", "8", "--cluster", "dgx-h100"], 31,
         "# nThread 1 nGpus 8 minBytes 8 maxBytes 8589934592 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0"),
        (&["all_reduce_perf", "-b", "1G", "-e", "16G", "-f", "2", "-g", "1", "--np", "64", "--cluster", "fat-tree:gpus=64"], 5,
         "# nThread 1 nGpus 1 minBytes 1073741824 maxBytes 17179869184 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0"),
        (&["alltoall_perf", "-b", "1M", "-e", "1G", "-f", "2", "-g", "8", "-d", "bfloat16", "--cluster", "dgx-h100"], 11,
         "# nThread 1 nGpus 8 minBytes 1048576 maxBytes 1073741824 step: 2(factor)"),
        (&["reduce_scatter_perf", "-b", "1M", "-e", "4G", "-f", "4", "-g", "8", "-o", "sum", "--cluster", "dgx-h100"], 7,
         "# nThread 1 nGpus 8 minBytes 1048576 maxBytes 4294967296 step: 4(factor)"),
    ];
    for (args, n, header) in cases {
        let out = ok(&nt(args));
        assert!(
            out.lines().any(|l| l.starts_with(header)),
            "{args:?}: no `{header}` in\n{out}"
        );
        assert!(out.contains("\n# Using devices\n"), "{out}");
        assert!(out.contains(
            "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n"
        ), "{out}");
        assert!(out.contains(
            "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)"
        ), "{out}");
        assert!(out.contains("# Out of bounds values : 0 OK\n"), "{out}");
        let r = rows(&out);
        assert_eq!(r.len(), n, "{args:?}");
        let ranks = out.lines().filter(|l| l.starts_with("#  Rank ")).count();
        assert!(ranks == 8 || ranks == 64, "{args:?}: {ranks} device lines");
        for x in &r {
            assert_eq!(x.wrong, "0");
            assert!(x.time_us > 0.0 && x.busbw >= 0.0, "{x:?}");
            assert_eq!(x.time_us, x.in_time_us);
        }
        assert!(r.last().unwrap().busbw > 100.0, "{args:?}: {:?}", r.last());
        let mean = r.iter().map(|x| x.busbw).sum::<f64>() / r.len() as f64;
        assert!((avg_busbw(&out) - mean).abs() < 0.01 * mean + 0.01, "{args:?}");
    }
}

/// busbw = algbw × nccl-tests' factor for each binary, algbw = size / time, and the redop and
/// root columns print what nccl-tests prints.
#[test]
fn bandwidth_factors_and_columns_per_binary() {
    let n = 8.0;
    for (bin, factor, redop, root) in [
        ("all_reduce_perf", 2.0 * (n - 1.0) / n, "sum", -1),
        ("all_gather_perf", (n - 1.0) / n, "none", -1),
        ("reduce_scatter_perf", (n - 1.0) / n, "sum", -1),
        ("alltoall_perf", (n - 1.0) / n, "none", -1),
        ("broadcast_perf", 1.0, "none", 3),
        ("reduce_perf", 1.0, "sum", 3),
        ("sendrecv_perf", 1.0, "none", -1),
    ] {
        let out = ok(&nt(&[bin, "-b", "64M", "-e", "256M", "-f", "2", "-g", "8", "-r", "3"]));
        let r = rows(&out);
        assert_eq!(r.len(), 3, "{bin}");
        for x in &r {
            assert_eq!((x.redop.as_str(), x.root), (redop, root), "{bin}");
            let algbw = x.size as f64 / (x.time_us * 1e-6) / 1e9;
            assert!((x.algbw - algbw).abs() < 0.02 * algbw, "{bin}: {x:?} vs {algbw}");
            assert!((x.busbw - x.algbw * factor).abs() < 0.011, "{bin}: {x:?}");
        }
        // nccl-tests does not check alltoall and sendrecv in place.
        let in_place_checked = !matches!(bin, "alltoall_perf" | "sendrecv_perf");
        assert_eq!(r[0].in_wrong == "0", in_place_checked, "{bin}");
    }
}

/// nccl-tests' size/count semantics: count = size / sizeof(type); all_gather, reduce_scatter
/// and alltoall print each rank's count and round the buffer down to a multiple of the ranks.
#[test]
fn sizes_and_counts_follow_nccl_tests() {
    let ag = rows(&ok(&nt(&[
        "all_gather_perf",
        "-b",
        "8",
        "-e",
        "1K",
        "-f",
        "2",
        "-g",
        "8",
    ])));
    let got: Vec<(u64, u64)> = ag.iter().map(|r| (r.size, r.count)).collect();
    assert_eq!(
        got,
        vec![
            (0, 0),
            (0, 0),
            (32, 1),
            (64, 2),
            (128, 4),
            (256, 8),
            (512, 16),
            (1024, 32)
        ]
    );
    // Size 0: nothing launched, 0 time and 0 bandwidth.
    assert_eq!((ag[0].time_us, ag[0].algbw, ag[0].busbw), (0.0, 0.0, 0.0));
    let rs = rows(&ok(&nt(&[
        "reduce_scatter_perf",
        "-b",
        "1000",
        "-e",
        "1000",
        "-g",
        "8",
        "-d",
        "int8",
    ])));
    assert_eq!((rs[0].size, rs[0].count, rs[0].dtype.as_str()), (1000, 125, "int8"));
    let a2a = rows(&ok(&nt(&[
        "alltoall_perf",
        "-b",
        "1001",
        "-e",
        "1001",
        "-g",
        "8",
        "-d",
        "half",
    ])));
    // 1001 B / 2 = 500 halves, rounded down to 496 = 62 per rank.
    assert_eq!((a2a[0].size, a2a[0].count), (992, 62));
    let ar = rows(&ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "1001",
        "-e",
        "1001",
        "-g",
        "8",
        "-d",
        "double",
    ])));
    assert_eq!((ar[0].size, ar[0].count), (1000, 125));
    // -i adds bytes when the factor is 1.
    let inc = rows(&ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "1M",
        "-e",
        "4M",
        "-i",
        "1M",
        "-g",
        "8",
    ])));
    assert_eq!(inc.iter().map(|r| r.size >> 20).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
}

/// `-b 8`, `-b8` and `--minbytes 8` are the same flag; so are nccl-tests' other long names.
#[test]
fn short_attached_and_long_flags_agree() {
    let a = ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "8",
        "-e",
        "1M",
        "-f",
        "4",
        "-g",
        "8",
        "-d",
        "half",
        "-o",
        "max",
    ]));
    let b = ok(&nt(&[
        "all_reduce_perf",
        "-b8",
        "-e1M",
        "-f4",
        "-g8",
        "-dhalf",
        "-omax",
    ]));
    let c = ok(&nt(&[
        "all_reduce_perf",
        "--minbytes",
        "8",
        "--maxbytes",
        "1M",
        "--stepfactor",
        "4",
        "--ngpus",
        "8",
        "--datatype",
        "half",
        "--op",
        "max",
    ]));
    assert_eq!(a, b);
    assert_eq!(a, c);
    // Flags that do not change the model are accepted.
    let d = ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "8",
        "-e",
        "1M",
        "-f",
        "4",
        "-g",
        "8",
        "-d",
        "half",
        "-o",
        "max",
        "-n",
        "100",
        "-w",
        "10",
        "-m",
        "2",
        "-a",
        "3",
        "-y",
        "0",
        "-T",
        "60",
        "-R",
        "1",
    ]));
    assert_eq!(rows(&a).len(), rows(&d).len());
    for (x, y) in rows(&a).iter().zip(rows(&d).iter()) {
        assert_eq!((x.size, x.time_us), (y.size, y.time_us));
    }
    assert!(d.contains("warmup iters: 10 iters: 100 agg iters: 2"), "{d}");
    // Notices nccl-tests prints for -z, -p and the header fields for -c, -G, -C.
    let z = ok(&nt(&[
        "all_reduce_perf",
        "-g",
        "8",
        "-z",
        "1",
        "-p",
        "1",
        "-c",
        "0",
        "-G",
        "5",
        "-C",
        "1",
    ]));
    assert!(z.contains("# Blocking Enabled: wait for completion"), "{z}");
    assert!(z.contains("# Parallel Init Enabled"), "{z}");
    assert!(z.contains("validation: 0 graph: 5"), "{z}");
    assert!(z.contains(" cputime "), "{z}");
    assert!(rows(&z).iter().all(|r| r.wrong == "N/A" && r.in_wrong == "N/A"));
}

/// `-d all` and `-o all` run the sweep per datatype and reduction, as nccl-tests does; `-N`
/// repeats it.
#[test]
fn all_datatypes_all_ops_and_cycles() {
    let r = rows(&ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "1M",
        "-e",
        "2M",
        "-f",
        "2",
        "-g",
        "8",
        "-d",
        "all",
        "-o",
        "all",
    ])));
    assert_eq!(r.len(), 10 * 6 * 2);
    assert_eq!(r[0].dtype, "int8");
    assert_eq!(r[2].redop, "prod");
    let bf = rows(&ok(&nt(&[
        "all_gather_perf",
        "-b",
        "1M",
        "-e",
        "1M",
        "-g",
        "8",
        "-o",
        "all",
    ])));
    assert_eq!(bf.len(), 1, "all_gather has no reduction: -o all runs once");
    let cycles = rows(&ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "1M",
        "-e",
        "4M",
        "-f",
        "2",
        "-g",
        "8",
        "-N",
        "3",
    ])));
    assert_eq!(cycles.len(), 9);
}

/// One GPU: a local copy, no link; all_reduce's bus bandwidth is 0 as in nccl-tests.
#[test]
fn one_gpu_reports_zero_bus_bandwidth() {
    let out = ok(&nt(&["all_reduce_perf", "-b", "1M", "-e", "1G", "-f", "4", "-g", "1"]));
    let r = rows(&out);
    assert!(r.iter().all(|x| x.busbw == 0.0 && x.time_us > 0.0), "{out}");
    assert_eq!(avg_busbw(&out), 0.0);
    assert!(out.contains("local_copy"), "{out}");
    assert!(out.contains("# assumed: one rank: no link is used"), "{out}");
}

/// The times are the `collective` command's for the same sizes.
#[test]
fn times_match_the_collective_command() {
    let j: Value = serde_json::from_str(&ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "1M",
        "-e",
        "1G",
        "-f",
        "32",
        "-g",
        "8",
        "--json",
    ])))
    .unwrap();
    let c: Value = serde_json::from_str(&ok(&[
        "collective",
        "--cluster",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--sizes",
        "1M:1G",
        "--json",
    ]))
    .unwrap();
    let crow = |size: u64| {
        c["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["size_bytes"].as_f64() == Some(size as f64))
            .unwrap()
            .clone()
    };
    for r in j["rows"].as_array().unwrap() {
        let size = r["size_bytes"].as_u64().unwrap();
        let c = crow(size);
        assert_eq!(r["out_of_place"]["time_s"], c["time_s"], "{size}");
        assert_eq!(r["algorithm"], c["algorithm"], "{size}");
    }
}

#[test]
fn json_shape() {
    let out = ok(&nt(&[
        "broadcast_perf",
        "-b",
        "1M",
        "-e",
        "4M",
        "-f",
        "2",
        "-g",
        "8",
        "-r",
        "2",
        "--json",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["binary"], "broadcast_perf");
    assert_eq!(v["op"], "broadcast");
    assert_eq!(v["ranks"], 8);
    assert_eq!(v["devices"].as_array().unwrap().len(), 8);
    assert!(v["avg_busbw_bytes_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["assumptions"].as_array().unwrap().iter().all(|a| a.is_string()));
    for r in v["rows"].as_array().unwrap() {
        assert_eq!(r["root"], 2);
        assert_eq!(r["type"], "float");
        for p in ["out_of_place", "in_place"] {
            for k in ["time_s", "algbw_bytes_per_s", "busbw_bytes_per_s"] {
                assert!(r[p][k].is_number(), "{p}.{k}: {r}");
            }
        }
    }
    assert_eq!(
        out,
        ok(&nt(&[
            "broadcast_perf",
            "-b",
            "1M",
            "-e",
            "4M",
            "-f",
            "2",
            "-g",
            "8",
            "-r",
            "2",
            "--json"
        ]))
    );
}

/// Above 64 ranks the device list shows the first and last 32 and says so.
#[test]
fn device_list_is_abbreviated_for_many_ranks() {
    let out = ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "1G",
        "-e",
        "1G",
        "-g",
        "8",
        "--np",
        "16",
        "--cluster",
        "fat-tree:gpus=128",
    ]));
    assert_eq!(out.lines().filter(|l| l.starts_with("#  Rank ")).count(), 64);
    assert!(
        out.contains("#  ... ranks 32 to 95 omitted: fabricsim lists the first and last 32 of 128 ranks"),
        "{out}"
    );
    assert!(
        out.contains("#  Rank 127 Group  0 Pid     15 on     host15 device  7"),
        "{out}"
    );
}

/// Buffers that do not fit in accelerator memory shrink the sweep, as nccl-tests does.
#[test]
fn max_bytes_is_reduced_to_fit_memory() {
    let out = ok(&nt(&[
        "all_reduce_perf",
        "-b",
        "16G",
        "-e",
        "64G",
        "-f",
        "2",
        "-g",
        "8",
    ]));
    assert!(out.contains("# Reducing maxBytes to "), "{out}");
    assert_eq!(rows(&out).len(), 1, "only 16 GiB fits three buffers in 80 GB");
}

#[test]
fn bad_input_exits_2() {
    fails(
        &nt(&[
            "all_reduce_perf",
            "-b",
            "1G",
            "-e",
            "16G",
            "-f",
            "2",
            "-g",
            "1",
            "--np",
            "64",
            "--cluster",
            "dgx-h100",
        ]),
        &["--np", "64 ranks", "8 accelerators"],
    );
    fails(
        &nt(&["all_reduce_perf", "-g", "16"]),
        &["-g", "16 ranks", "8 accelerators"],
    );
    fails(&nt(&["all_reduce_perf", "-g", "0"]), &["-g: 0"]);
    fails(&nt(&["all_reduce_perf", "--np", "0"]), &["--np: 0"]);
    fails(
        &nt(&["all_reduce"]),
        &["`all_reduce` is not an nccl-tests binary", "all_reduce_perf"],
    );
    fails(
        &nt(&["all_reduce_perf", "-d", "float128"]),
        &["-d", "`float128`", "bfloat16"],
    );
    fails(&nt(&["all_reduce_perf", "-o", "xor"]), &["-o", "`xor`", "sum"]);
    fails(&nt(&["all_reduce_perf", "-b", "12Q"]), &["-b", "`12Q` is not a size"]);
    fails(&nt(&["all_reduce_perf", "-e", "-5"]), &["-e", "out of range"]);
    fails(
        &nt(&["all_reduce_perf", "-b", "1G", "-e", "1M"]),
        &["-b", "above maxbytes"],
    );
    fails(
        &nt(&["all_reduce_perf", "-b", "0", "-e", "1M", "-f", "2"]),
        &["-b", "never grows"],
    );
    fails(
        &nt(&["all_reduce_perf", "-b", "1", "-e", "1G", "-i", "1"]),
        &["-i", "more than 10000 sizes"],
    );
    fails(
        &nt(&["broadcast_perf", "-g", "8", "-r", "8"]),
        &["-r", "root 8", "0 ..= 7"],
    );
    fails(&nt(&["all_reduce_perf", "-N", "0"]), &["-N", "forever"]);
    fails(&nt(&["all_reduce_perf", "-n", "many"]), &["--iters"]);
    fails(&nt(&["all_reduce_perf", "-x", "1"]), &["-x"]);
    fails(
        &nt(&["all_reduce_perf", "--cluster", "no-such-preset"]),
        &["--cluster", "no-such-preset"],
    );
    fails(&nt(&["all_reduce_perf", "--algo", "bogo"]), &["--algo", "`bogo`"]);
    fails(&nt(&["all_reduce_perf", "--proto", "LL64"]), &["--proto", "`LL64`"]);
    fails(
        &nt(&["all_reduce_perf", "-g", "8", "--algo", "nvls", "--nvls", "off"]),
        &["--nvls off"],
    );
    fails(&["nccl-tests"], &["BINARY"]);
}
