//! `fabricsim schedule` from the command line: traces in both formats, synthetic jobs, the
//! JSON keys, determinism, and exit code 2 with the file, line and field for bad input.

use serde_json::Value;
mod common;

use std::process::Output;

const SMALL: &str = "fat-tree:gpus=192,oversub=3";

fn run(args: &[&str]) -> Output {
    common::run_sub("schedule", args)
}

fn json(args: &[&str]) -> Value {
    common::json_sub("schedule", args)
}

fn fails(args: &[&str], needle: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(2), "schedule {args:?} should exit 2");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(needle), "schedule {args:?}: `{err}` lacks `{needle}`");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn traces_in_both_formats_run() {
    let v = json(&[
        "--cluster",
        SMALL,
        "--trace",
        "testdata/traces/seren-sample.csv",
        "--format",
        "acme",
    ]);
    assert_eq!(v["jobs"], 7);
    assert_eq!(v["cpu_jobs_skipped"], 1);
    assert_eq!(v["unfinished_jobs"], 0);
    let v = json(&[
        "--cluster",
        "fat-tree:gpus=384,oversub=3",
        "--trace",
        "testdata/traces/kalos-sample.csv",
        "--format",
        "acme",
        "--policy",
        "priority",
    ]);
    assert_eq!(v["jobs"], 4);
    let v = json(&[
        "--cluster",
        SMALL,
        "--trace",
        "testdata/traces/helios-sample.csv",
        "--format",
        "helios",
        "--policy",
        "backfill",
    ]);
    assert_eq!(v["jobs"], 5);
}

#[test]
fn synthetic_json_carries_the_issue_keys_and_is_deterministic() {
    let args = [
        "--cluster",
        "fat-tree:gpus=2416,node=dgx-a100",
        "--synthetic",
        "kalos",
        "--jobs",
        "500",
        "--seed",
        "7",
    ];
    let a = run(&[&args[..], &["--json"]].concat());
    let b = run(&[&args[..], &["--json"]].concat());
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    let v: Value = serde_json::from_slice(&a.stdout).unwrap();
    let u = v["utilisation_fraction"].as_f64().unwrap();
    assert!(u > 0.0 && u <= 1.0, "{u}");
    for k in ["queue_delay_s", "jct_s", "slowdown", "neighbour_slowdown"] {
        for p in ["mean", "p10", "p50", "p90", "p99"] {
            assert!(v[k][p].is_number(), "{k}.{p}: {}", v[k]);
        }
    }
    assert_eq!(v["utilisation_series"].as_array().unwrap().len(), 100);
    let rows = v["published_comparison"].as_array().unwrap();
    assert!(rows
        .iter()
        .any(|r| r["metric"] == "queue_delay_median_s" && r["published"] == 17.0));
    // Text output runs too.
    let t = run(&args);
    assert!(String::from_utf8_lossy(&t.stdout).contains("utilisation"));
}

#[test]
fn bad_input_is_exit_2_naming_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("schedule-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/traces/seren-sample.csv"
    ))
    .unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    let broken = lines[4].replace(",128,", ",many,");
    lines[4] = &broken;
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let bad = bad.to_str().unwrap();
    fails(
        &["--cluster", SMALL, "--trace", bad, "--format", "acme"],
        "bad.csv:5: field `gpu_num`",
    );
    fails(&["--cluster", SMALL, "--trace", bad], "--format");
    fails(
        &[
            "--cluster",
            SMALL,
            "--trace",
            "testdata/traces/seren-sample.csv",
            "--format",
            "helios",
        ],
        "column `type`",
    );
    fails(
        &["--cluster", SMALL, "--trace", "no/such.csv", "--format", "acme"],
        "cannot read",
    );
    fails(&["--cluster", SMALL, "--policy", "lifo"], "--policy");
    fails(&["--cluster", SMALL, "--placement", "random"], "--placement");
    fails(&["--cluster", SMALL, "--synthetic", "atlantis"], "atlantis");
    fails(
        &["--cluster", SMALL, "--failures-per-gpu-hour", "-1"],
        "--failures-per-gpu-hour",
    );
    fails(&["--cluster", SMALL, "--jobs", "0"], "--jobs");
    fails(
        &[
            "--cluster",
            "fat-tree:gpus=64",
            "--trace",
            "testdata/traces/seren-sample.csv",
            "--format",
            "acme",
        ],
        "128 GPUs",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
