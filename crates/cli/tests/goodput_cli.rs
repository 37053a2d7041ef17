//! `fabricsim goodput` from the command line: the JSON interface (distributions), determinism
//! with a seed, the Llama 3 405B campaign check, dual-plane degradation against single-plane
//! stops, and exit code 2 with a clear message for bad input.

use serde_json::Value;
mod common;

use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::run_sub("goodput", args)
}

fn json(args: &[&str]) -> Value {
    common::json_sub("goodput", args)
}

const SMALL: &[&str] = &[
    "--cluster",
    "dgx-h100-superpod:su=1",
    "--model",
    "llama-3.1-8b",
    "--days",
    "7",
    "--trials",
    "30",
];

fn dist(v: &Value, key: &str) -> [f64; 5] {
    let d = &v[key];
    let g = |k: &str| {
        d[k].as_f64()
            .unwrap_or_else(|| panic!("{key}.{k} missing or not a number: {d}"))
    };
    [g("mean"), g("p10"), g("p50"), g("p90"), g("p99")]
}

#[test]
fn json_carries_the_three_distributions() {
    let v = json(SMALL);
    for key in ["interruptions", "effective_training_time_fraction", "lost_gpu_hours"] {
        let [mean, p10, p50, p90, p99] = dist(&v, key);
        assert!(p10 <= p50 && p50 <= p90 && p90 <= p99, "{key}: {:?}", v[key]);
        assert!(mean >= 0.0);
    }
    let [mean, _, _, _, p99] = dist(&v, "effective_training_time_fraction");
    assert!(mean > 0.0 && p99 <= 1.0);
    for key in [
        "interruptions_unexpected",
        "interruptions_planned",
        "degradations",
        "mean_interval_between_interruptions_s",
        "checkpoint_interval_s",
        "checkpoint_bytes",
        "checkpoint_write_s",
        "restart_s",
    ] {
        assert!(!v[key].is_null(), "{key} missing");
    }
    let classes = v["interruptions_by_class"].as_object().unwrap();
    for c in ["gpu", "hbm", "nic", "host", "switch", "cable_optic", "software"] {
        assert!(classes.contains_key(c), "class {c} missing");
    }
    assert_eq!(v["checkpoint_interval_rule"], "young-daly");
    // Every component row names its source.
    for row in v["components"].as_array().unwrap() {
        assert!(!row["source"].as_str().unwrap().is_empty());
    }
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let mut a = SMALL.to_vec();
    a.extend(["--seed", "42", "--json"]);
    let x = run(&a);
    let y = run(&a);
    assert!(x.status.success());
    assert_eq!(x.stdout, y.stdout);
    let mut b = SMALL.to_vec();
    b.extend(["--seed", "43", "--json"]);
    assert_ne!(x.stdout, run(&b).stdout);
}

/// Llama 3 405B's 54-day campaign on 16,384 H100 (Llama 3 paper, Table 5): 466 interruptions
/// (419 unexpected, 47 planned), > 90 % effective training time. The catalogue's rates come from
/// other sources (RSC, Crusoe H200, NCSA Delta; on this RoCE fabric the link and ToR rates of
/// Alibaba HPN; the 10-min synchronous recovery of Meta's FT-HSDP paper); planned maintenance is
/// the campaign's own input (47 / 54 per day). Result with 200 trials (docs/goodput.md): ~590
/// interruptions (p10–p90 495–698) and ~90 % effective training time (88–91 %) — the count is
/// still over-predicted (mostly Delta's H100 HBM rate, 3× Llama's), the effective time now
/// brackets the campaign's. This pins that honest result to a band around the campaign (within
/// 1.5× of 466; 85–95 % effective time) rather than tuning the rates to it.
#[test]
fn llama3_campaign_check() {
    let v = json(&[
        "--cluster",
        "meta-roce-24k",
        "--model",
        "llama-3.1-405b",
        "--gpus",
        "16384",
        "--days",
        "54",
        "--maintenance-per-day",
        "0.8704",
        "--trials",
        "40",
    ]);
    // meta-roce-24k is RoCE: its links and ToRs take Alibaba HPN's Ethernet rates.
    assert_eq!(v["scale_out"], "ethernet");
    let [total, p10, _, p90, _] = dist(&v, "interruptions");
    assert!(
        (466.0 / 1.5..=466.0 * 1.5).contains(&total),
        "interruptions {total} (p10 {p10}, p90 {p90}) vs Llama 3's 466"
    );
    let [unexpected, ..] = dist(&v, "interruptions_unexpected");
    let [planned, ..] = dist(&v, "interruptions_planned");
    assert!((30.0..=50.0).contains(&planned), "planned {planned} vs 47");
    assert!(
        (419.0 / 1.5..=419.0 * 1.5).contains(&unexpected),
        "unexpected {unexpected} vs 419"
    );
    // GPU-side (GPU + HBM) failures dominate, as in the campaign (~60 %).
    let class = |c: &str| v["interruptions_by_class"][c]["mean"].as_f64().unwrap();
    let gpu_side = (class("gpu") + class("hbm")) / unexpected;
    assert!((0.45..=0.80).contains(&gpu_side), "GPU-side share {gpu_side}");
    let [ettr, e10, _, e90, _] = dist(&v, "effective_training_time_fraction");
    assert!(
        (0.85..=0.95).contains(&ettr),
        "effective training time {ettr} (p10 {e10}, p90 {e90}) vs Llama 3's > 0.90"
    );
    // A 16k-GPU job is interrupted every ~2–3 h of running (operations.md).
    let mtbi_h = v["mtbi_s"].as_f64().unwrap() / 3600.0;
    assert!((1.0..=3.5).contains(&mtbi_h), "MTBI {mtbi_h} h");
}

#[test]
fn dual_plane_links_degrade_single_plane_links_stop() {
    let common = [
        "--model",
        "llama-3.1-8b",
        "--gpus",
        "2048",
        "--days",
        "10",
        "--trials",
        "20",
    ];
    let mut a = vec!["--cluster", "hpn7-pod:segments=2"];
    a.extend(common);
    let dual = json(&a);
    let mut b = vec!["--cluster", "hpn7-pod:planes=1,segments=2"];
    b.extend(common);
    let single = json(&b);
    let effect = |v: &Value, per: &str| {
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["per"] == per)
            .map(|r| r["effect"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {per} row"))
    };
    assert_eq!(effect(&dual, "nic link"), "degrade");
    assert_eq!(effect(&dual, "leaf switch"), "degrade");
    assert_eq!(effect(&single, "nic link"), "stop");
    assert_eq!(effect(&single, "leaf switch"), "stop");
    assert_eq!(dual["interruptions_by_class"]["cable_optic"]["mean"], 0.0);
    assert!(
        single["interruptions_by_class"]["cable_optic"]["mean"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(dual["degradations"]["mean"].as_f64().unwrap() > 0.0);
    assert!(dual["degraded_step_slowdown_fraction"].as_f64().unwrap() >= 0.0);
}

#[test]
fn hot_spares_and_in_memory_checkpoints_help_a_whole_cluster_job() {
    // The job takes every GPU of the cluster: no idle host to swap in, so a hardware failure
    // waits for a repair unless hot spares are kept.
    let base = [
        "--cluster",
        "dgx-h100-superpod:su=1",
        "--model",
        "llama-3.1-8b",
        "--days",
        "30",
        "--trials",
        "30",
    ];
    let none = json(&base);
    let mut a = base.to_vec();
    a.extend(["--hot-spares", "4"]);
    let spares = json(&a);
    let e = |v: &Value| v["effective_training_time_fraction"]["mean"].as_f64().unwrap();
    assert_eq!(none["idle_hosts"], 0);
    assert!(e(&spares) > e(&none), "{} vs {}", e(&spares), e(&none));
    a.push("--in-memory-checkpoint");
    let mem = json(&a);
    assert!(mem["checkpoint_write_s"].as_f64().unwrap() < spares["checkpoint_write_s"].as_f64().unwrap());
    assert!(e(&mem) >= e(&spares) - 1e-3, "{} vs {}", e(&mem), e(&spares));
}

#[test]
fn a_given_checkpoint_interval_is_used() {
    let mut a = SMALL.to_vec();
    a.extend(["--checkpoint-interval-s", "1800"]);
    let v = json(&a);
    assert_eq!(v["checkpoint_interval_s"], 1800.0);
    assert_eq!(v["checkpoint_interval_rule"], "given");
}

#[test]
fn bad_input_is_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--days", "0"], "--days"),
        (&["--days", "-3"], "--days"),
        (&["--trials", "0"], "--trials"),
        (&["--maintenance-per-day", "-1"], "--maintenance-per-day"),
        (&["--checkpoint-interval-s", "0"], "--checkpoint-interval-s"),
        (&["--rates", "fitted"], "--rates"),
        (&["--detect-s", "-5"], "--detect-s"),
    ];
    for (extra, flag) in cases {
        let mut a = vec!["--cluster", "dgx-h100-superpod:su=1", "--model", "llama-3.1-8b"];
        a.extend_from_slice(extra);
        let o = run(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(flag), "{extra:?}: {err}");
    }
    let o = run(&["--cluster", "no-such-cluster", "--model", "llama-3.1-8b"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no-such-cluster"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
