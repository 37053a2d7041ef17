//! `fabricsim collective` and `fabricsim validate --collectives` through the binary:
//! determinism of the JSON, its shape, and bad input (exit code 2 with a clear message).

use serde_json::Value;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fabricsim"))
        .args(args)
        .output()
        .expect("run fabricsim")
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn fails(args: &[&str], fragments: &[&str]) {
    let o = run(args);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: status {:?}, stderr {e}", o.status);
    assert!(o.stdout.is_empty(), "{args:?}: printed to stdout");
    for f in fragments {
        assert!(e.contains(f), "{args:?}: stderr {e:?} lacks {f:?}");
    }
    assert!(!e.contains("panicked"), "{args:?}: {e}");
}

fn coll(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["collective", "--json"].iter().map(|s| s.to_string()).collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn json_report_shape() {
    let out = ok(&[
        "collective",
        "--cluster",
        "fat-tree:gpus=64",
        "--op",
        "all_reduce",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["ranks"], 64);
    assert_eq!(v["op"], "all_reduce");
    assert_eq!(v["fidelity"], "flow");
    assert_eq!(v["placement"], "packed");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 31, "default sweep 8 B … 8 GiB");
    for r in rows {
        for k in [
            "size_bytes",
            "count",
            "time_s",
            "algbw_bytes_per_s",
            "busbw_bytes_per_s",
            "latency_s",
            "transfer_s",
        ] {
            assert!(r[k].is_number(), "{k}: {r}");
        }
        assert!(r["algorithm"].is_string() && r["protocol"].is_string());
        assert!(r["bottleneck_links"].is_array());
    }
    // Time never decreases with size; busbw grows towards its plateau.
    let t: Vec<f64> = rows.iter().map(|r| r["time_s"].as_f64().unwrap()).collect();
    assert!(t.windows(2).all(|w| w[1] >= w[0]), "{t:?}");
    // The text table has one line per size.
    let text = ok(&[
        "collective",
        "--cluster",
        "dgx-h100",
        "--op",
        "all_gather",
        "--sizes",
        "1K:1M",
    ]);
    assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 11, "{text}");
}

#[test]
fn placement_file_and_scattered() {
    let dir = std::env::temp_dir().join(format!("fabricsim-placement-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ranks.txt");
    std::fs::write(&file, "# two domains\n0 1 2 3 4 5 6 7\n8,9,10,11,12,13,14,15\n").unwrap();
    let p = file.to_str().unwrap();
    let out = ok(&[
        "collective",
        "--cluster",
        "fat-tree:gpus=64",
        "--op",
        "all_reduce",
        "--size",
        "1M",
        "--placement",
        p,
        "--ranks",
        "16",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ranks"], 16);
    assert_eq!(v["placement"], "file (16 ranks)");
    std::fs::write(&file, "0 1 zwei\n").unwrap();
    fails(
        &[
            "collective",
            "--cluster",
            "dgx-h100",
            "--op",
            "all_reduce",
            "--placement",
            p,
        ],
        &["--placement", "line 1", "`zwei`"],
    );
    fails(
        &[
            "collective",
            "--cluster",
            "dgx-h100",
            "--op",
            "all_reduce",
            "--placement",
            "/nonexistent/ranks.txt",
        ],
        &["--placement: cannot read `/nonexistent/ranks.txt`"],
    );
    fails(
        &[
            "collective",
            "--cluster",
            "dgx-h100",
            "--op",
            "all_reduce",
            "--placement",
            "scattered:x",
        ],
        &["bad seed"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let out = ok(&[
        "collective",
        "--cluster",
        "fat-tree:gpus=64",
        "--op",
        "all_reduce",
        "--size",
        "1G",
        "--placement",
        "scattered:3",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["placement"], "scattered (seed 3)");
}

/// Regression (issue "Reports a user can act on", point 8): `--placement scattered` did not say
/// what it shuffles. The text output and `--help` say: whole scale-up domains, in a seeded order.
#[test]
fn scattered_placement_says_what_it_shuffles() {
    let text = ok(&[
        "collective",
        "--cluster",
        "fat-tree:gpus=64",
        "--op",
        "all_reduce",
        "--size",
        "1M",
        "--ranks",
        "32",
        "--placement",
        "scattered:3",
    ]);
    let line = text
        .lines()
        .find(|l| l.starts_with("# assumed: placement:"))
        .unwrap_or_else(|| panic!("no placement line in:\n{text}"));
    for want in [
        "whole scale-up domains of 8 accelerators",
        "seed 3",
        "ranks stay in order inside each domain",
        "4 of the 8 domains used",
    ] {
        assert!(line.contains(want), "{line:?} lacks {want:?}");
    }
    let help = ok(&["collective", "--help"]);
    for want in [
        "scattered[:SEED]",
        "whole scale-up domains",
        "shuffled order",
        "default 1",
    ] {
        assert!(help.contains(want), "collective --help lacks {want:?}:\n{help}");
    }
}

/// Regression (issue "Reports a user can act on", point 8): `size_bytes` was written as a float
/// (`1048576.0`); message sizes are whole bytes and JSON gives them as integers.
#[test]
fn json_sizes_are_integers() {
    // A sweep, a zero-size row, an odd size and a one-rank local copy.
    for args in [
        &["--sizes", "1:8G"][..],
        &["--size", "0"][..],
        &["--size", "3"][..],
        &["--size", "1M", "--ranks", "1"][..],
    ] {
        let mut a = vec!["collective", "--cluster", "dgx-h100", "--op", "all_gather", "--json"];
        a.extend(args);
        let v: Value = serde_json::from_str(&ok(&a)).unwrap();
        for r in v["rows"].as_array().unwrap() {
            assert!(
                r["size_bytes"].is_u64(),
                "{a:?}: size_bytes {} is not an integer",
                r["size_bytes"]
            );
        }
    }
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/collectives.csv");
    let v: Value = serde_json::from_str(&ok(&["validate", "--collectives", csv, "--json"])).unwrap();
    for r in v["rows"].as_array().unwrap() {
        assert!(
            r["size_bytes"].is_u64(),
            "validate: size_bytes {} is not an integer",
            r["size_bytes"]
        );
    }
}

#[test]
fn bad_input_exits_2() {
    let base = ["collective", "--cluster", "dgx-h100"];
    let with =
        |extra: &[&'static str]| -> Vec<&'static str> { base.iter().copied().chain(extra.iter().copied()).collect() };
    fails(
        &with(&["--op", "all_scream"]),
        &["unknown operation `all_scream`", "all_reduce"],
    );
    fails(
        &with(&["--op", "all_reduce", "--algo", "bogo"]),
        &["--algo", "unknown algorithm `bogo`", "ring", "CollnetDirect"],
    );
    fails(
        &with(&["--op", "all_reduce", "--ranks", "0"]),
        &["--ranks 0", "at least one rank"],
    );
    fails(
        &with(&["--op", "all_reduce", "--ranks", "9"]),
        &["--ranks 9", "8 accelerators"],
    );
    fails(
        &with(&["--op", "all_reduce", "--size", "12Q"]),
        &["--size", "`12Q` is not a size"],
    );
    fails(&with(&["--op", "all_reduce", "--size=-5"]), &["--size", "out of range"]);
    fails(
        &with(&["--op", "all_reduce", "--sizes", "8G:8"]),
        &["--sizes", "MIN ≤ MAX"],
    );
    fails(
        &with(&["--op", "all_reduce", "--fidelity", "packet"]),
        &["--fidelity", "`packet`"],
    );
    fails(&with(&["--op", "all_reduce", "--channels", "0"]), &["--channels 0"]);
    fails(
        &with(&["--op", "all_reduce", "--proto", "LL64"]),
        &["--proto", "`LL64`", "LL128"],
    );
    fails(&with(&["--op", "all_reduce", "--nvls", "maybe"]), &["--nvls", "maybe"]);
    fails(
        &with(&["--op", "all_reduce", "--algo", "NVLS", "--nvls", "off"]),
        &["--algo NVLS", "--nvls off"],
    );
    fails(
        &with(&["--op", "all_reduce", "--algo", "nvls", "--proto", "LL"]),
        &["nvls", "LL protocol"],
    );
    fails(
        &with(&["--op", "all_to_all", "--algo", "ring"]),
        &["ring cannot run all_to_all"],
    );
    fails(
        &with(&["--op", "broadcast", "--algo", "tree"]),
        &["tree cannot run broadcast"],
    );
    fails(
        &[
            "collective",
            "--cluster",
            "hgx:gpu=a100",
            "--op",
            "all_reduce",
            "--algo",
            "nvls",
        ],
        &["nvls cannot run all_reduce", "NVLink SHARP"],
    );
    // Across NVLink domains NVLS is NCCL's NVLSTree (NVLS in each domain, a ring per rail
    // between them); it needs the same number of ranks in every domain.
    fails(
        &[
            "collective",
            "--cluster",
            "fat-tree:gpus=64",
            "--ranks",
            "12",
            "--op",
            "all_reduce",
            "--algo",
            "nvls",
        ],
        &["nvls cannot run all_reduce", "same number of members"],
    );
    fails(
        &[
            "collective",
            "--cluster",
            "dgx-h100",
            "--op",
            "all_reduce",
            "--algo",
            "halving_doubling",
            "--ranks",
            "6",
        ],
        &["6 ranks is not a power of two"],
    );
    fails(
        &["collective", "--cluster", "no-such-preset", "--op", "all_reduce"],
        &["no-such-preset"],
    );
    fails(&["collective", "--cluster", "dgx-h100"], &["--op"]);
    fails(
        &["validate", "--collectives", "/nonexistent.csv"],
        &["--collectives", "cannot read `/nonexistent.csv`"],
    );
    fails(
        &["validate", "--collectives", "--training", "/nonexistent.csv"],
        &["--training", "cannot read `/nonexistent.csv`"],
    );
}

#[test]
fn validate_json() {
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/collectives.csv");
    let out = ok(&["validate", "--collectives", csv, "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["summary"]["rows_compared"].as_u64().unwrap() >= 25);
    assert!(v["summary"]["median_abs_error_pct"].as_f64().unwrap() <= 10.0);
    assert_eq!(out, ok(&["validate", "--collectives", csv, "--json"]), "deterministic");
}

const CLUSTERS: &[&str] = &[
    "dgx-h100",
    "mi300x-node",
    "fat-tree:gpus=64",
    "fat-tree:gpus=128,oversub=3",
    "hpn7-pod:segments=1,hosts=4",
    "tpu-v4-pod:slice=4x4x4",
    "meta-roce-24k:pods=2,racks=2",
];
const OPS: &[&str] = &[
    "all_reduce",
    "reduce_scatter",
    "all_gather",
    "all_to_all",
    "broadcast",
    "reduce",
    "send_recv",
];

/// The same command line gives byte-identical JSON, run after run (separate processes).
/// Cases are drawn from a fixed SplitMix64 stream (the CLI crate has no proptest dependency).
#[test]
fn json_is_byte_identical() {
    let mut state = 0x5EED_u64;
    let mut next = |m: u64| {
        state = fabric::routing::splitmix64(state);
        state % m
    };
    for _ in 0..12 {
        let (ci, oi) = (next(CLUSTERS.len() as u64) as usize, next(OPS.len() as u64) as usize);
        let mut args = coll(&["--cluster", CLUSTERS[ci], "--op", OPS[oi]]);
        if next(2) == 1 {
            args.extend(["--placement".into(), "scattered:5".into()]);
        }
        if next(2) == 1 {
            args.extend(["--fidelity".into(), "analytical".into()]);
        }
        if next(2) == 1 {
            args.extend(["--size".into(), (1u64 << next(34)).to_string()]);
        }
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let a = run(&args);
        let b = run(&args);
        assert!(a.status.success(), "{:?}: {}", args, String::from_utf8_lossy(&a.stderr));
        assert!(!a.stdout.is_empty());
        assert_eq!(a.stdout, b.stdout, "{args:?}");
    }
}

fn rows(out: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(out).unwrap();
    v["rows"].as_array().unwrap().clone()
}

fn assumptions(out: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(out).unwrap();
    v["assumptions"]
        .as_array()
        .unwrap_or_else(|| panic!("no assumptions in {out}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Size 0 is a row of zeros (NCCL returns without launching), on every op.
#[test]
fn size_zero_is_a_row_of_zeros() {
    for op in OPS {
        let out = ok(&coll(&["--cluster", "dgx-h100", "--op", op, "--size", "0"])
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>());
        let r = &rows(&out)[0];
        for k in [
            "size_bytes",
            "time_s",
            "algbw_bytes_per_s",
            "busbw_bytes_per_s",
            "latency_s",
        ] {
            assert_eq!(r[k].as_f64(), Some(0.0), "{op} {k}: {r}");
        }
        assert_eq!(r["algorithm"], "none");
        assert!(r["bottleneck_links"].as_array().unwrap().is_empty());
        assert!(assumptions(&out).iter().any(|a| a.starts_with("size 0:")), "{out}");
    }
}

/// One rank uses no link: a local copy, busbw = algbw × nccl-tests' factor (0 for all_reduce,
/// reduce_scatter, all_gather, all_to_all; 1 for broadcast, reduce, send_recv), never more
/// than the HBM copy rate.
#[test]
fn one_rank_is_a_local_copy() {
    for op in OPS {
        let out = ok(
            &coll(&["--cluster", "dgx-h100", "--op", op, "--ranks", "1", "--sizes", "8:8G"])
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
        );
        let factor_one = matches!(*op, "broadcast" | "reduce" | "send_recv");
        for r in rows(&out) {
            assert_eq!(r["algorithm"], "local_copy", "{op}");
            let (alg, bus) = (
                r["algbw_bytes_per_s"].as_f64().unwrap(),
                r["busbw_bytes_per_s"].as_f64().unwrap(),
            );
            // H100 HBM: 3.35 TB/s, a copy reads and writes: at most 1.675 TB/s.
            assert!(alg > 0.0 && alg <= 3.35e12 / 2.0, "{op}: {r}");
            assert_eq!(bus, if factor_one { alg } else { 0.0 }, "{op}: {r}");
            assert!(r["time_s"].as_f64().unwrap() >= 3.6e-6, "{op}: latency floor");
        }
        assert!(assumptions(&out).iter().any(|a| a.starts_with("one rank:")), "{out}");
    }
}

/// NCCL's algorithm and protocol names work in any case beside fabricsim's; approximate
/// mappings are stated.
#[test]
fn nccl_algorithm_and_protocol_names() {
    let base = [
        "collective",
        "--cluster",
        "fat-tree:gpus=64",
        "--op",
        "all_reduce",
        "--size",
        "256M",
        "--json",
    ];
    let with =
        |extra: &[&str]| -> String { ok(&base.iter().copied().chain(extra.iter().copied()).collect::<Vec<_>>()) };
    let ring = with(&["--algo", "ring"]);
    assert_eq!(rows(&with(&["--algo", "Ring"])), rows(&ring));
    assert_eq!(rows(&with(&["--algo", "RING"])), rows(&ring));
    assert_eq!(rows(&with(&["--algo", "CollnetDirect"]))[0]["algorithm"], "collnet");
    let chain = with(&["--algo", "CollnetChain"]);
    assert_eq!(rows(&chain)[0]["algorithm"], "collnet");
    assert!(assumptions(&chain)
        .iter()
        .any(|a| a.contains("approximate") && a.contains("CollnetChain")));
    let nvlstree = with(&["--algo", "nvlstree"]);
    assert_eq!(rows(&nvlstree)[0]["algorithm"], "nvls");
    assert!(assumptions(&nvlstree)
        .iter()
        .any(|a| a.contains("approximate") && a.contains("NVLSTree")));
    assert!(assumptions(&ring).iter().all(|a| !a.contains("approximate")));
    for (name, proto) in [("ll", "LL"), ("LL128", "LL128"), ("simple", "Simple")] {
        let out = with(&["--algo", "Tree", "--proto", name]);
        assert_eq!(rows(&out)[0]["protocol"], proto);
        assert!(assumptions(&out)
            .iter()
            .any(|a| a.contains(&format!("protocol forced to {proto}"))));
    }
    let nvls = ok(&[
        "collective",
        "--cluster",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--size",
        "1G",
        "--algo",
        "NVLS",
        "--json",
    ]);
    assert_eq!(rows(&nvls)[0]["algorithm"], "nvls");
}

/// `--sharp off` / `--nvls off` remove CollNet / NVLS from the selection, and the assumptions
/// say which in-network reduction ran and where.
#[test]
fn sharp_and_nvls_switches() {
    let algos = |out: &str| -> Vec<String> {
        rows(out)
            .iter()
            .map(|r| r["algorithm"].as_str().unwrap().to_string())
            .collect()
    };
    let fat = [
        "collective",
        "--cluster",
        "fat-tree:gpus=64",
        "--op",
        "all_reduce",
        "--sizes",
        "1M:4G",
        "--json",
    ];
    let on = ok(&fat);
    assert!(algos(&on).contains(&"collnet".to_string()), "{on}");
    let a = assumptions(&on);
    assert!(
        a.iter()
            .any(|x| x.contains("IB SHARP (CollNet) chosen") && x.contains("quantum2")),
        "{a:?}"
    );
    // Across the 8 domains with SHARP on, NVLS runs with CollNet (collnet stands for it).
    assert!(
        a.iter()
            .any(|x| x.contains("NVLS (NVLink SHARP) across the 8 domains") && x.contains("CollNet")),
        "{a:?}"
    );
    assert!(a.iter().any(|x| x.starts_with("latency: NCCL's tuning model")), "{a:?}");
    assert!(a.iter().any(|x| x.starts_with("channels: 2 flow(s)")), "{a:?}");
    assert!(
        a.iter().any(|x| x == "placement: packed, rank r on accelerator r"),
        "{a:?}"
    );
    let off = ok(&fat.iter().copied().chain(["--sharp", "off"]).collect::<Vec<_>>());
    assert!(!algos(&off).contains(&"collnet".to_string()), "{off}");
    // Without SHARP, NVLS across domains is NCCL's NVLSTree and a candidate.
    assert!(algos(&off).contains(&"nvls".to_string()), "{off}");
    assert!(assumptions(&off)
        .iter()
        .any(|x| x.contains("NVLS (NVLink SHARP) chosen") && x.contains("NVLSTree")));
    assert!(assumptions(&off)
        .iter()
        .any(|x| x.contains("switched off (--sharp off)")));

    let node = [
        "collective",
        "--cluster",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--sizes",
        "1M:4G",
        "--json",
    ];
    let on = ok(&node);
    assert!(algos(&on).contains(&"nvls".to_string()), "{on}");
    assert!(assumptions(&on)
        .iter()
        .any(|x| x.starts_with("NVLS (NVLink SHARP) chosen") && x.contains("nvswitch")));
    let off = ok(&node.iter().copied().chain(["--nvls", "off"]).collect::<Vec<_>>());
    assert!(!algos(&off).contains(&"nvls".to_string()), "{off}");
    assert!(assumptions(&off)
        .iter()
        .any(|x| x.contains("switched off (--nvls off)")));
    // The text output carries the same assumptions.
    let text = ok(&[
        "collective",
        "--cluster",
        "dgx-h100",
        "--op",
        "all_reduce",
        "--size",
        "1G",
    ]);
    assert!(text.contains("# assumed: NVLS (NVLink SHARP) chosen"), "{text}");
}

/// `--op moe_dispatch|moe_combine` with DeepEP's flags: the JSON keys, the defaults (FP8 dispatch,
/// BF16 combine, normal kernels), the bandwidth domain DeepEP quotes, and the flags' errors.
#[test]
fn moe_dispatch_and_combine_flags() {
    let args = [
        "collective",
        "--json",
        "--cluster",
        "hgx:gpu=h800",
        "--op",
        "moe_dispatch",
        "--tokens",
        "4096",
        "--hidden",
        "7168",
        "--topk",
        "8",
        "--experts",
        "256",
    ];
    let a = ok(&args);
    assert_eq!(a, ok(&args), "same input, same bytes");
    let v: Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["op"], "moe_dispatch");
    assert_eq!(v["kernel"], "normal");
    assert_eq!(v["dtype"], "fp8");
    assert_eq!(v["bottleneck_domain"], "nvlink");
    assert_eq!(v["token_bytes"], 7392.0);
    for k in [
        "time_s",
        "bottleneck_bandwidth_bytes_per_s",
        "nvlink_bytes_per_rank",
        "rdma_bandwidth_bytes_per_s",
    ] {
        assert!(v[k].as_f64().unwrap() >= 0.0, "{k}");
    }
    let c: Value = serde_json::from_str(&ok(&[
        "collective",
        "--json",
        "--cluster",
        "fat-tree:gpus=32,node=hgx-h800",
        "--op",
        "moe_combine",
    ]))
    .unwrap();
    assert_eq!(c["dtype"], "bf16");
    assert_eq!(c["bottleneck_domain"], "rdma");
    assert_eq!(c["nodes"], 4);
    let ll: Value = serde_json::from_str(&ok(&[
        "collective",
        "--json",
        "--cluster",
        "hgx:gpu=h800",
        "--op",
        "moe_dispatch",
        "--kernel",
        "low-latency",
        "--dtype",
        "bf16",
    ]))
    .unwrap();
    assert_eq!(ll["kernel"], "low-latency");
    assert_eq!(ll["tokens_per_rank"], 128);
    assert_eq!(ll["dtype"], "bf16");
    assert!(ll["latency_s"].as_f64().unwrap() > 0.0);
    let base = ["collective", "--cluster", "hgx:gpu=h800", "--op", "moe_dispatch"];
    let with = |extra: &[&'static str]| [&base[..], extra].concat();
    fails(&with(&["--topk", "0"]), &["--topk"]);
    fails(
        &with(&["--topk", "300", "--experts", "256"]),
        &["--topk 300 exceeds --experts 256"],
    );
    fails(&with(&["--kernel", "fast"]), &["--kernel", "normal, low-latency"]);
    fails(&with(&["--dtype", "fp4"]), &["--dtype", "fp8, bf16"]);
    fails(&with(&["--experts", "100"]), &["--experts 100", "multiple"]);
    fails(&with(&["--size", "1M"]), &["--size"]);
    fails(
        &[
            "collective",
            "--cluster",
            "hgx:gpu=h800",
            "--op",
            "all_to_all",
            "--topk",
            "8",
        ],
        &["--topk", "moe_dispatch"],
    );
}
