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
    // One bad value per flag on the small cluster: (flag, value, what the message names).
    // "5e-324": a denormal interval once hung the run (work / τ overflowed).
    for (flag, value, needle) in [
        ("--policy", "lifo", "--policy"),
        ("--placement", "random", "--placement"),
        ("--synthetic", "atlantis", "atlantis"),
        ("--jobs", "0", "--jobs"),
        ("--failures-per-gpu-hour", "-1", "--failures-per-gpu-hour"),
        ("--failures-per-gpu-hour", "NaN", "--failures-per-gpu-hour"),
        ("--failures-per-gpu-hour", "2", "--failures-per-gpu-hour"),
        ("--checkpoint-interval-s", "-60", "--checkpoint-interval-s"),
        ("--checkpoint-interval-s", "0", "--checkpoint-interval-s"),
        ("--checkpoint-interval-s", "5e-324", "--checkpoint-interval-s"),
    ] {
        fails(&["--cluster", SMALL, flag, value], needle);
    }
    // A rate under which the largest job is interrupted far more often than it can restart
    // would never finish: refused, naming the flag.
    fails(
        &[
            "--cluster",
            "fat-tree:gpus=256",
            "--jobs",
            "5",
            "--failures-per-gpu-hour",
            "0.99",
        ],
        "--failures-per-gpu-hour",
    );
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

/// Sum of the `stop` rows of goodput's catalogue table in the report, per GPU-hour.
fn stop_rate_per_gpu_hour(v: &Value) -> f64 {
    let gpus = v["gpus"].as_f64().unwrap();
    v["failure_components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["effect"] == "stop")
        .map(|r| r["count"].as_f64().unwrap() * r["rate_per_hour"].as_f64().unwrap())
        .sum::<f64>()
        / gpus
}

#[test]
fn catalogue_failures_on_100k_gpus_come_at_the_catalogue_rate() {
    // 98,304 H100 (the default cluster), Kalos jobs × 32: ~3 M busy GPU-hours.
    let v = json(&["--synthetic", "kalos", "--jobs", "6000", "--seed", "3"]);
    assert_eq!(v["failure_rates"], "catalogue");
    let r = v["failures_per_gpu_hour"].as_f64().unwrap();
    // By hand from the catalogue (fabric::catalogue::failures, one NIC and one scale-out port
    // per GPU, 8 GPUs per host): GPU 8.86e-6 + HBM 1.127e-5 + NIC 2.48e-6 + cable 4.45e-6 +
    // (host 7.96e-6 + software 2.44e-5) / 8 ≈ 3.11e-5, plus a sliver of leaf switches.
    assert!((2.9e-5..3.4e-5).contains(&r), "{r}");
    assert!((stop_rate_per_gpu_hour(&v) - r).abs() < 1e-12 * r.max(1.0));
    // A 100k-GPU job's mean time between interruptions: 10–60 minutes (issue 12: 20–30).
    let mtbi_min = 60.0 / (r * 98_304.0);
    assert!((10.0..60.0).contains(&mtbi_min), "{mtbi_min}");
    // The drawn failures against the catalogue's mean for the time they were drawn over.
    let n = v["failures"].as_f64().unwrap();
    let e = v["expected_failures"].as_f64().unwrap();
    let hand = r * 98_304.0 * v["failure_active_s"].as_f64().unwrap() / 3600.0;
    assert!((e - hand).abs() < 1e-6 * hand);
    assert!(e > 100.0, "{e}");
    assert!((n - e).abs() < 5.0 * e.sqrt(), "{n} failures, catalogue mean {e}");
    let by: f64 = v["failures_by_class"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert_eq!(by, n);
    // Failures that hit jobs: the catalogue's rate over the busy GPU-hours (host-level classes
    // hit a host with any busy GPU, so a little more).
    let busy_h = v["utilisation_fraction"].as_f64().unwrap() * 98_304.0 * v["makespan_s"].as_f64().unwrap() / 3600.0;
    let hits = v["failures_stopping_jobs"].as_f64().unwrap();
    let want = r * busy_h;
    assert!(want > 30.0, "{want}");
    assert!(
        hits > 0.6 * want - 3.0 * want.sqrt() && hits < 1.6 * want + 3.0 * want.sqrt(),
        "{hits} failures stopped jobs; the catalogue gives {want} over {busy_h} busy GPU-hours"
    );
    assert!(v["interruptions"].as_f64().unwrap() >= hits);
    let lost = v["lost_gpu_hours"].as_f64().unwrap();
    assert!(lost > 0.0 && lost < 0.5 * busy_h, "{lost}");
    assert!(v["out_of_service_gpu_fraction"].as_f64().unwrap() > 0.0);
}

#[test]
fn failures_with_a_seed_are_deterministic_and_the_override_replaces_the_catalogue() {
    let base = [
        "--cluster",
        SMALL,
        "--synthetic",
        "kalos",
        "--jobs",
        "400",
        "--seed",
        "5",
    ];
    let hi = [&base[..], &["--failures-per-gpu-hour", "2e-3", "--json"]].concat();
    let a = run(&hi);
    let b = run(&hi);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let v: Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["failure_rates"], "override");
    assert_eq!(v["failures_per_gpu_hour"], 2e-3);
    assert!(v["failures"].as_u64().unwrap() > 0 && v["interruptions"].as_u64().unwrap() > 0);
    assert_eq!(v["unfinished_jobs"], 0);
    let other = run(&[
        &base[..6],
        &["--seed", "6", "--failures-per-gpu-hour", "2e-3", "--json"],
    ]
    .concat());
    assert_ne!(a.stdout, other.stdout);
    // 0 turns failures off.
    let off = json(&[&base[..], &["--failures-per-gpu-hour", "0"]].concat());
    assert_eq!(off["failures"], 0);
    assert_eq!(off["interruptions"], 0);
    assert_eq!(off["lost_gpu_hours"], 0.0);
    // Without the flag: the catalogue, at its (much lower) rate.
    let cat = json(&base);
    assert_eq!(cat["failure_rates"], "catalogue");
    assert!(cat["failures_per_gpu_hour"].as_f64().unwrap() < 1e-4);
    // A given checkpoint interval is reported as given.
    let g = json(&[&hi[..hi.len() - 1], &["--checkpoint-interval-s", "900"]].concat());
    assert_eq!(g["checkpoint_interval_rule"], "given");
    assert_eq!(g["checkpoint_interval_s"], 900.0);
}

#[test]
fn utilisation_over_time_has_a_stated_interval_and_matches_the_totals() {
    let v = json(&[
        "--cluster",
        SMALL,
        "--synthetic",
        "kalos",
        "--jobs",
        "400",
        "--seed",
        "2",
    ]);
    let w = v["utilisation_over_time_interval_s"].as_f64().unwrap();
    let pts = v["utilisation_over_time"].as_array().unwrap();
    let span = v["makespan_s"].as_f64().unwrap();
    assert!(!pts.is_empty() && pts.len() <= 1000);
    assert_eq!(pts.len(), (span / w).ceil() as usize);
    assert_eq!(pts[1]["t_s"].as_f64().unwrap(), w);
    // The time-weighted mean of the series is the makespan utilisation.
    let mut acc = 0.0;
    for p in pts {
        let t = p["t_s"].as_f64().unwrap();
        let len = (t + w).min(span) - t;
        acc += p["utilisation_fraction"].as_f64().unwrap() * len;
        assert!(p["busy_gpus"].as_f64().unwrap() <= 192.0 + 1e-9);
    }
    let u = v["utilisation_fraction"].as_f64().unwrap();
    assert!((acc / span - u).abs() < 1e-9, "{} vs {u}", acc / span);
    assert!(v["last_arrival_s"].as_f64().unwrap() <= span);
    // The text names each utilisation's window.
    let t = run(&[
        "--cluster",
        SMALL,
        "--synthetic",
        "kalos",
        "--jobs",
        "400",
        "--seed",
        "2",
    ]);
    let text = String::from_utf8_lossy(&t.stdout);
    assert!(text.contains("while jobs arrive (0 →"), "{text}");
    assert!(text.contains("over the whole makespan"), "{text}");
    assert!(text.contains("utilisation over time"), "{text}");
}
